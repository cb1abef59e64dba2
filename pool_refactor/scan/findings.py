"""What the scanner says about one construction site, and the run as a whole.

These records are the only thing that flows from the scanner to the reports and the fixer, so
they hold plain data (no syntax trees): a finding can be cached, sent between processes and
serialised as the documented JSON without knowing how it was found.

They are plain classes rather than dataclasses (issue 16): a dataclass builds its `__init__`,
`__repr__`, `__eq__`, `__hash__` by `exec`-ing generated source when its module is imported, and
these seven cost about 10% of the instructions of a warm scan, which imports this module and
nothing of the scanner. `_Record` does once, from each record's `__slots__` (its fields, in its
`__init__`'s order, which is also the cache's layout in `run.cache`), what the dataclasses did.
The records that were frozen are read-only for mypy (`Final`) but not at run time (nothing
assigned to them, and a `__setattr__` that raises would cost every construction a call per
field); `tests/test_findings.py` holds them to the dataclasses' behaviour.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Final, Self, final


class Verdict(StrEnum):
    PER_REQUEST = "per-request"
    PERSISTENT = "persistent"
    LEAK = "leak"
    UNCLEAR = "unclear"


class Applicability(StrEnum):
    """Whether `--fix` may rewrite a site, as in ruff: safe fixes by default, unsafe on request."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    NONE = "none"


class _Record:
    """What a dataclass would generate for these records, written once: `==` compares the fields
    in `__slots__` order between instances of the same class (but those in `_uncompared`), `hash`
    is the hash of those values, `repr` is the dataclass's, `replace` is `dataclasses.replace`,
    `values` is `dataclasses.astuple` without the deep copy, and pickling calls `__init__` with
    the values. Each record lists its fields in `__slots__`, in its `__init__`'s order."""

    __slots__ = ()
    _uncompared: ClassVar[tuple[str, ...]] = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _compared_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = tuple(cls.__dict__["__slots__"])
        cls._compared_names = tuple(name for name in cls._fields if name not in cls._uncompared)

    def values(self) -> tuple[Any, ...]:
        """The fields in order: the cache's layout (`run.cache`) and the project's fingerprint."""
        return tuple([getattr(self, name) for name in self._fields])

    def _compared(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._compared_names])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Record)
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        return type(self), self.values()

    def replace(self, **changes: Any) -> Self:
        """A copy with the given fields changed (`dataclasses.replace`)."""
        unknown = changes.keys() - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        return type(self)(
            *[changes[name] if name in changes else getattr(self, name) for name in self._fields]
        )


@final
class FixPlan(_Record):
    """What the codemod must do at a site; positions locate the libcst nodes again.

    The scanner decides *whether* and *what*; the codemod only carries it out on the concrete
    syntax tree, so the two can never disagree about which sites are safe.
    """

    __slots__ = (
        "kind",
        "library",
        "accessor",
        "section",
        "is_async",
        "variable",
        "keyed_options",
        "moved_options",
        "method",
        "await_result",
        "merged_options",
        "pool_options",
    )

    def __init__(
        self,
        kind: str,
        library: str,
        accessor: str,
        section: str,
        is_async: bool,
        variable: str | None,
        keyed_options: tuple[str, ...],
        moved_options: tuple[str, ...],
        method: str | None = None,
        await_result: bool = False,
        merged_options: tuple[str, ...] = (),
        pool_options: tuple[str, ...] = (),
    ) -> None:
        self.kind: Final = kind
        """`with` (a with-item), `local` (assignment, closed in the same function or never), `chained`
        (`X().get(...)`, a client built for one request), `one-shot`; or `borrow`: the constructor
        stays, with its arguments and its block, and gets the constructor's `borrow_arguments` (the
        keywords in `keyed_options`), so that only the pool is shared (aiohttp's connector)."""
        self.library: Final = library
        self.accessor: Final = accessor
        self.section: Final = section
        self.is_async: Final = is_async
        self.variable: Final = variable
        """Name the client is bound to (`with ... as c`, `c = ...`); None for one-shots."""
        self.keyed_options: Final = keyed_options
        """Keyword arguments that stay on the accessor call (literal client-level options)."""
        self.moved_options: Final = moved_options
        """Keyword arguments that move onto every request call on the client."""
        self.method: Final = method
        """For one-shots: the client method that replaces the module function (`get`, `stream`, ...)."""
        self.await_result: Final = await_result
        """One-shot in async code rewritten to the async client (`await get_http_client().get(...)`)."""
        self.merged_options: Final = merged_options
        """Moved mapping options (`headers`, `params`) that some request passes too, both as literal
        mappings with no key in common: where a request passes one, its literal becomes the client's
        entries followed by its own, which is exactly the library's merge."""
        self.pool_options: Final = pool_options
        """For `borrow`: the constructor's pool options (`verify=False`), which it keeps and which key
        the pool accessor too (`transport=get_http_transport(verify=False)`)."""


@final
class Finding(_Record):
    """One construction site and the verdict on it: what the reports print, the cache keeps and the
    fixer acts on."""

    __slots__ = (
        "path",
        "line",
        "column",
        "end_line",
        "code",
        "library",
        "verdict",
        "in_loop",
        "context",
        "snippet",
        "fixable",
        "reason",
        "message",
        "applicability",
        "suppressed",
        "plan",
        "end_column",
        "via",
        "closes_via",
    )
    _uncompared = ("plan",)  # two findings of the same site are equal whatever their plans

    def __init__(
        self,
        path: str,
        line: int,
        column: int,
        end_line: int,
        code: str,
        library: str,
        verdict: Verdict,
        in_loop: bool,
        context: str,
        snippet: str,
        fixable: bool,
        reason: str,
        message: str,
        applicability: Applicability = Applicability.NONE,
        suppressed: bool = False,
        plan: FixPlan | None = None,
        end_column: int = 0,
        via: str = "",
        closes_via: bool = False,
    ) -> None:
        self.path: Final = path
        """Relative to the current directory, with `/` separators."""
        self.line: Final = line
        self.column: Final = column
        """1-based, in characters, where the constructor or one-shot call starts."""
        self.end_line: Final = end_line
        self.code: Final = code
        self.library: Final = library
        self.verdict: Final = verdict
        self.in_loop: Final = in_loop
        self.context: Final = context
        """Qualified name of the enclosing function (`Class.method`), or `<module>`."""
        self.snippet: Final = snippet
        self.fixable: Final = fixable
        self.reason: Final = reason
        """Why the site is not fixed (or, for unsafe fixes, what changes); empty when fixable."""
        self.message: Final = message
        """One sentence for humans: what was found and why it matters."""
        self.applicability: Final = applicability
        self.suppressed: Final = suppressed
        self.plan: Final = plan
        """Not compared: two findings of the same site are equal whatever their plans."""
        self.end_column: Final = end_column
        """1-based column just after the call's last character (as ruff's end location)."""
        self.via: Final = via
        """For a call of a factory or wrapper class defined in another module (`run.project`): the
        `path:line` of the client construction it reaches, the hook's `where`."""
        self.closes_via: Final = closes_via
        """With `via`: whether the call closes what it gets in the kind of code the client needs, so
        that the client may borrow the shared pool (`scan.scanner.uses_close_it`)."""

    @property
    def span(self) -> tuple[int, int, int, int]:
        """Start and end of the call as libcst positions: (line, column0, end_line, end_column0)."""
        return self.line, self.column - 1, self.end_line, self.end_column - 1


@final
class FileError(_Record):
    """A file the run could not read, parse or write: reported, skipped, and the run exits 2."""

    __slots__ = ("path", "message", "stage")

    def __init__(self, path: str, message: str, stage: str = "scan") -> None:
        self.path: Final = path
        self.message: Final = message
        self.stage: Final = stage
        """`scan` (could not be read or parsed) or `fix` (scanned, but the fix could not be written)."""


@final
class Note(_Record):
    """Something `--fix`/`--diff` did or could not do besides rewriting sites, for the user to act on:
    a lifecycle edit (`lifecycle`), wiring left to do by hand (`wiring`), a test that patches the old
    construction (`mock`), the shared module written (`module`), the application's settings class
    completed or left alone (`settings`)."""

    __slots__ = ("kind", "message", "path", "line")

    def __init__(self, kind: str, message: str, path: str | None = None, line: int | None = None) -> None:
        self.kind: Final = kind
        self.message: Final = message
        self.path: Final = path
        self.line: Final = line


@final
class ScanResult(_Record):
    """Everything one run found, in path order. Mutable (the pipeline fills it in), so unhashable."""

    __slots__ = (
        "findings",
        "errors",
        "files_scanned",
        "files_parsed",
        "notes",
        "fixed",
        "rewritten",
        "closed_elsewhere",
    )
    __hash__ = None  # type: ignore[assignment]  # as a dataclass with `eq` and not `frozen`

    def __init__(
        self,
        findings: list[Finding] | None = None,
        errors: list[FileError] | None = None,
        files_scanned: int = 0,
        files_parsed: int = 0,
        notes: list[Note] | None = None,
        fixed: int = 0,
        rewritten: set[str] | None = None,
        closed_elsewhere: dict[str, dict[str, bool]] | None = None,
    ) -> None:
        """The lists, set and dict default to new empty ones (a dataclass's `default_factory`)."""
        self.findings: list[Finding] = [] if findings is None else findings
        self.errors: list[FileError] = [] if errors is None else errors
        self.files_scanned = files_scanned
        self.files_parsed = files_parsed
        self.notes: list[Note] = [] if notes is None else notes
        self.fixed = fixed
        """Sites `--fix` rewrote in this run (the findings are what is left)."""
        self.rewritten: set[str] = set() if rewritten is None else rewritten
        """The display paths `--fix` wrote in this run."""
        self.closed_elsewhere: dict[str, dict[str, bool]] = (
            {} if closed_elsewhere is None else closed_elsewhere
        )
        """How other modules call each module's factories and wrapper classes, for `--fix` to plan them
        as the scan did (`run.project.ProjectPass.settle_hooks`)."""

    def visible(self, show_suppressed: bool = False) -> list[Finding]:
        return [f for f in self.findings if show_suppressed or not f.suppressed]

    def failing(self) -> list[Finding]:
        """Findings that make `--check` exit 1."""
        return [
            f for f in self.findings if not f.suppressed and f.verdict in (Verdict.PER_REQUEST, Verdict.LEAK)
        ]

    def summary(self) -> dict[str, int]:
        counts = {v.value: 0 for v in Verdict}
        for finding in self.findings:
            if not finding.suppressed:
                counts[finding.verdict.value] += 1
        return {
            "files_scanned": self.files_scanned,
            "files_parsed": self.files_parsed,
            "findings": sum(1 for f in self.findings if not f.suppressed),
            **counts,
            "in_loop": sum(1 for f in self.findings if f.in_loop and not f.suppressed),
            "fixable": sum(1 for f in self.findings if f.fixable and not f.suppressed),
            "suppressed": sum(1 for f in self.findings if f.suppressed),
            "errors": len(self.errors),
        }


@final
class Export(_Record):
    """A module-level name of one file that builds a client when called: a subclass of a client class,
    a wrapper class whose `__init__` builds one, or a factory. Plain data, so it can be cached with the
    file and looked up when another module of the project imports the name (`run.project`)."""

    __slots__ = (
        "kind",
        "name",
        "line",
        "qualname",
        "module",
        "constructor",
        "owner",
        "through",
        "plain",
        "given",
        "given_index",
    )

    def __init__(
        self,
        kind: str,
        name: str,
        line: int,
        qualname: str,
        module: str,
        constructor: str,
        owner: str = "",
        through: str = "",
        plain: bool = False,
        given: str = "",
        given_index: int = -1,
    ) -> None:
        self.kind: Final = kind
        """`subclass`, `wrapper` or `factory`."""
        self.name: Final = name
        """The module-level name other modules import (the class, or the factory's function or class)."""
        self.line: Final = line
        """Where the client is built (wrapper, factory) or where the class is defined (subclass)."""
        self.qualname: Final = qualname
        """`RetryingHttpClient.__init__`, `make_client`, `Api.make_client`; a subclass's own name."""
        self.module: Final = module
        """The client library's module as imported there (`httpx`), which names the library."""
        self.constructor: Final = constructor
        """The client class (`AsyncClient`)."""
        self.owner: Final = owner
        """For a factory method (`self.make_client()`): its class; only subclasses of it call it so."""
        self.through: Final = through
        """For a subclass: the class of its module it derives from, when not directly from the client."""
        self.plain: Final = plain
        """For a subclass: it adds nothing to the client class (its body is a docstring or `pass`)."""
        self.given: Final = given
        """For a wrapper that builds its client only when none is given (`client or httpx.AsyncClient()`):
        the `__init__` parameter that, when passed, means no client is built."""
        self.given_index: Final = given_index
        """That parameter's position among the call's positional arguments (`self` excluded); -1 if
        it can only be passed by keyword."""


@final
class FileScan(_Record):
    """The outcome for one file; plain data so it can cross process boundaries."""

    __slots__ = ("display", "findings", "error", "parsed", "exports")

    def __init__(
        self,
        display: str,
        findings: tuple[Finding, ...] = (),
        error: str | None = None,
        parsed: bool = False,
        exports: tuple[Export, ...] = (),
    ) -> None:
        self.display: Final = display
        self.findings: Final = findings
        self.error: Final = error
        self.parsed: Final = parsed
        self.exports: Final = exports
        """What other modules of the project may import from this one and call per request."""

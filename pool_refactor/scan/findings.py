"""What the scanner says about one construction site, and the run as a whole.

These records are the only thing that flows from the scanner to the reports and the fixer, so
they hold plain data (no syntax trees): a finding can be cached, sent between processes and
serialised as the documented JSON without knowing how it was found.

They are plain classes with hand-written methods rather than dataclasses (issue 16): a dataclass
builds its `__init__`, `__repr__`, `__eq__`, `__hash__` by `exec`-ing generated source when its
module is imported, and these seven cost about 10% of the instructions of a warm scan, which imports
this module and nothing of the scanner. Their methods do what the dataclasses' did: `==` compares
the fields in order between instances of the same class (a finding's `plan` excepted), `hash` is
the hash of that tuple, `repr` is the dataclass's, and `replace` is `dataclasses.replace`. The
records that were frozen are read-only for mypy (`Final`) but not at run time (nothing assigned to
them, and a `__setattr__` that raises would cost every construction a call per field). `__slots__`
lists each record's fields in `__init__`'s order, which is the order of the cache's layout
(`run.cache`); `tests/test_findings.py` checks that they cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, final


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


_SAME: Any = object()
"""`replace`'s default for a field it keeps (any value, `None` included, may be given)."""


@final
class FixPlan:
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

    def _values(self) -> tuple[Any, ...]:
        return (
            self.kind,
            self.library,
            self.accessor,
            self.section,
            self.is_async,
            self.variable,
            self.keyed_options,
            self.moved_options,
            self.method,
            self.await_result,
            self.merged_options,
            self.pool_options,
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not FixPlan:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (
            f"FixPlan(kind={self.kind!r}, library={self.library!r}, accessor={self.accessor!r}, "
            f"section={self.section!r}, is_async={self.is_async!r}, variable={self.variable!r}, "
            f"keyed_options={self.keyed_options!r}, moved_options={self.moved_options!r}, "
            f"method={self.method!r}, await_result={self.await_result!r}, "
            f"merged_options={self.merged_options!r}, pool_options={self.pool_options!r})"
        )

    def __reduce__(self) -> tuple[type[FixPlan], tuple[Any, ...]]:
        return FixPlan, self._values()

    def replace(
        self,
        *,
        kind: str = _SAME,
        library: str = _SAME,
        accessor: str = _SAME,
        section: str = _SAME,
        is_async: bool = _SAME,
        variable: str | None = _SAME,
        keyed_options: tuple[str, ...] = _SAME,
        moved_options: tuple[str, ...] = _SAME,
        method: str | None = _SAME,
        await_result: bool = _SAME,
        merged_options: tuple[str, ...] = _SAME,
        pool_options: tuple[str, ...] = _SAME,
    ) -> FixPlan:
        """A copy with the given fields changed (`dataclasses.replace`)."""
        return FixPlan(
            self.kind if kind is _SAME else kind,
            self.library if library is _SAME else library,
            self.accessor if accessor is _SAME else accessor,
            self.section if section is _SAME else section,
            self.is_async if is_async is _SAME else is_async,
            self.variable if variable is _SAME else variable,
            self.keyed_options if keyed_options is _SAME else keyed_options,
            self.moved_options if moved_options is _SAME else moved_options,
            self.method if method is _SAME else method,
            self.await_result if await_result is _SAME else await_result,
            self.merged_options if merged_options is _SAME else merged_options,
            self.pool_options if pool_options is _SAME else pool_options,
        )


@final
class Finding:
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

    def _compared(self) -> tuple[Any, ...]:
        """Every field but `plan`, in order: what `==` and `hash` look at."""
        return (
            self.path,
            self.line,
            self.column,
            self.end_line,
            self.code,
            self.library,
            self.verdict,
            self.in_loop,
            self.context,
            self.snippet,
            self.fixable,
            self.reason,
            self.message,
            self.applicability,
            self.suppressed,
            self.end_column,
            self.via,
            self.closes_via,
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not Finding:
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        return (
            f"Finding(path={self.path!r}, line={self.line!r}, column={self.column!r}, "
            f"end_line={self.end_line!r}, code={self.code!r}, library={self.library!r}, "
            f"verdict={self.verdict!r}, in_loop={self.in_loop!r}, context={self.context!r}, "
            f"snippet={self.snippet!r}, fixable={self.fixable!r}, reason={self.reason!r}, "
            f"message={self.message!r}, applicability={self.applicability!r}, "
            f"suppressed={self.suppressed!r}, plan={self.plan!r}, end_column={self.end_column!r}, "
            f"via={self.via!r}, closes_via={self.closes_via!r})"
        )

    def __reduce__(self) -> tuple[type[Finding], tuple[Any, ...]]:
        return Finding, (
            self.path,
            self.line,
            self.column,
            self.end_line,
            self.code,
            self.library,
            self.verdict,
            self.in_loop,
            self.context,
            self.snippet,
            self.fixable,
            self.reason,
            self.message,
            self.applicability,
            self.suppressed,
            self.plan,
            self.end_column,
            self.via,
            self.closes_via,
        )

    def replace(
        self,
        *,
        path: str = _SAME,
        line: int = _SAME,
        column: int = _SAME,
        end_line: int = _SAME,
        code: str = _SAME,
        library: str = _SAME,
        verdict: Verdict = _SAME,
        in_loop: bool = _SAME,
        context: str = _SAME,
        snippet: str = _SAME,
        fixable: bool = _SAME,
        reason: str = _SAME,
        message: str = _SAME,
        applicability: Applicability = _SAME,
        suppressed: bool = _SAME,
        plan: FixPlan | None = _SAME,
        end_column: int = _SAME,
        via: str = _SAME,
        closes_via: bool = _SAME,
    ) -> Finding:
        """A copy with the given fields changed (`dataclasses.replace`)."""
        return Finding(
            self.path if path is _SAME else path,
            self.line if line is _SAME else line,
            self.column if column is _SAME else column,
            self.end_line if end_line is _SAME else end_line,
            self.code if code is _SAME else code,
            self.library if library is _SAME else library,
            self.verdict if verdict is _SAME else verdict,
            self.in_loop if in_loop is _SAME else in_loop,
            self.context if context is _SAME else context,
            self.snippet if snippet is _SAME else snippet,
            self.fixable if fixable is _SAME else fixable,
            self.reason if reason is _SAME else reason,
            self.message if message is _SAME else message,
            self.applicability if applicability is _SAME else applicability,
            self.suppressed if suppressed is _SAME else suppressed,
            self.plan if plan is _SAME else plan,
            self.end_column if end_column is _SAME else end_column,
            self.via if via is _SAME else via,
            self.closes_via if closes_via is _SAME else closes_via,
        )


@final
class FileError:
    """A file the run could not read, parse or write: reported, skipped, and the run exits 2."""

    __slots__ = ("path", "message", "stage")

    def __init__(self, path: str, message: str, stage: str = "scan") -> None:
        self.path: Final = path
        self.message: Final = message
        self.stage: Final = stage
        """`scan` (could not be read or parsed) or `fix` (scanned, but the fix could not be written)."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not FileError:
            return NotImplemented
        return (self.path, self.message, self.stage) == (other.path, other.message, other.stage)

    def __hash__(self) -> int:
        return hash((self.path, self.message, self.stage))

    def __repr__(self) -> str:
        return f"FileError(path={self.path!r}, message={self.message!r}, stage={self.stage!r})"

    def __reduce__(self) -> tuple[type[FileError], tuple[str, str, str]]:
        return FileError, (self.path, self.message, self.stage)

    def replace(self, *, path: str = _SAME, message: str = _SAME, stage: str = _SAME) -> FileError:
        """A copy with the given fields changed (`dataclasses.replace`)."""
        return FileError(
            self.path if path is _SAME else path,
            self.message if message is _SAME else message,
            self.stage if stage is _SAME else stage,
        )


@final
class Note:
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

    def __eq__(self, other: object) -> bool:
        if type(other) is not Note:
            return NotImplemented
        return (self.kind, self.message, self.path, self.line) == (
            other.kind,
            other.message,
            other.path,
            other.line,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.message, self.path, self.line))

    def __repr__(self) -> str:
        return f"Note(kind={self.kind!r}, message={self.message!r}, path={self.path!r}, line={self.line!r})"

    def __reduce__(self) -> tuple[type[Note], tuple[str, str, str | None, int | None]]:
        return Note, (self.kind, self.message, self.path, self.line)

    def replace(
        self, *, kind: str = _SAME, message: str = _SAME, path: str | None = _SAME, line: int | None = _SAME
    ) -> Note:
        """A copy with the given fields changed (`dataclasses.replace`)."""
        return Note(
            self.kind if kind is _SAME else kind,
            self.message if message is _SAME else message,
            self.path if path is _SAME else path,
            self.line if line is _SAME else line,
        )


@final
class ScanResult:
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

    def _values(self) -> tuple[Any, ...]:
        return (
            self.findings,
            self.errors,
            self.files_scanned,
            self.files_parsed,
            self.notes,
            self.fixed,
            self.rewritten,
            self.closed_elsewhere,
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not ScanResult:
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        return (
            f"ScanResult(findings={self.findings!r}, errors={self.errors!r}, "
            f"files_scanned={self.files_scanned!r}, files_parsed={self.files_parsed!r}, "
            f"notes={self.notes!r}, fixed={self.fixed!r}, rewritten={self.rewritten!r}, "
            f"closed_elsewhere={self.closed_elsewhere!r})"
        )

    def __reduce__(self) -> tuple[type[ScanResult], tuple[Any, ...]]:
        return ScanResult, self._values()

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
class Export:
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

    def values(self) -> tuple[Any, ...]:
        """The fields in order (`dataclasses.astuple`): the cache's layout and the project's fingerprint."""
        return (
            self.kind,
            self.name,
            self.line,
            self.qualname,
            self.module,
            self.constructor,
            self.owner,
            self.through,
            self.plain,
            self.given,
            self.given_index,
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not Export:
            return NotImplemented
        return self.values() == other.values()

    def __hash__(self) -> int:
        return hash(self.values())

    def __repr__(self) -> str:
        return (
            f"Export(kind={self.kind!r}, name={self.name!r}, line={self.line!r}, "
            f"qualname={self.qualname!r}, module={self.module!r}, constructor={self.constructor!r}, "
            f"owner={self.owner!r}, through={self.through!r}, plain={self.plain!r}, "
            f"given={self.given!r}, given_index={self.given_index!r})"
        )

    def __reduce__(self) -> tuple[type[Export], tuple[Any, ...]]:
        return Export, self.values()


@final
class FileScan:
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

    def _values(self) -> tuple[str, tuple[Finding, ...], str | None, bool, tuple[Export, ...]]:
        return self.display, self.findings, self.error, self.parsed, self.exports

    def __eq__(self, other: object) -> bool:
        if type(other) is not FileScan:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (
            f"FileScan(display={self.display!r}, findings={self.findings!r}, error={self.error!r}, "
            f"parsed={self.parsed!r}, exports={self.exports!r})"
        )

    def __reduce__(
        self,
    ) -> tuple[type[FileScan], tuple[str, tuple[Finding, ...], str | None, bool, tuple[Export, ...]]]:
        return FileScan, self._values()

    def replace(
        self,
        *,
        display: str = _SAME,
        findings: tuple[Finding, ...] = _SAME,
        error: str | None = _SAME,
        parsed: bool = _SAME,
        exports: tuple[Export, ...] = _SAME,
    ) -> FileScan:
        """A copy with the given fields changed (`dataclasses.replace`)."""
        return FileScan(
            self.display if display is _SAME else display,
            self.findings if findings is _SAME else findings,
            self.error if error is _SAME else error,
            self.parsed if parsed is _SAME else parsed,
            self.exports if exports is _SAME else exports,
        )

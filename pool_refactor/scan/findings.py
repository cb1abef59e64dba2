"""What the scanner says about one construction site, and the run as a whole.

These records are the only thing that flows from the scanner to the reports and the fixer, so
they hold plain data (no syntax trees): a finding can be cached, sent between processes and
serialised as the documented JSON without knowing how it was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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


@dataclass(frozen=True)
class FixPlan:
    """What the codemod must do at a site; positions locate the libcst nodes again.

    The scanner decides *whether* and *what*; the codemod only carries it out on the concrete
    syntax tree, so the two can never disagree about which sites are safe.
    """

    kind: str
    """`with` (a with-item), `local` (assignment, closed in the same function or never), `chained`
    (`X().get(...)`, a client built for one request), `one-shot`; or `borrow`: the constructor
    stays, with its arguments and its block, and gets the constructor's `borrow_arguments` (the
    keywords in `keyed_options`), so that only the pool is shared (aiohttp's connector)."""
    library: str
    accessor: str
    section: str
    is_async: bool
    variable: str | None
    """Name the client is bound to (`with ... as c`, `c = ...`); None for one-shots."""
    keyed_options: tuple[str, ...]
    """Keyword arguments that stay on the accessor call (literal client-level options)."""
    moved_options: tuple[str, ...]
    """Keyword arguments that move onto every request call on the client."""
    method: str | None = None
    """For one-shots: the client method that replaces the module function (`get`, `stream`, ...)."""
    await_result: bool = False
    """One-shot in async code rewritten to the async client (`await get_http_client().get(...)`)."""
    merged_options: tuple[str, ...] = ()
    """Moved mapping options (`headers`, `params`) that some request passes too, both as literal
    mappings with no key in common: where a request passes one, its literal becomes the client's
    entries followed by its own, which is exactly the library's merge."""
    pool_options: tuple[str, ...] = ()
    """For `borrow`: the constructor's pool options (`verify=False`), which it keeps and which key
    the pool accessor too (`transport=get_http_transport(verify=False)`)."""


@dataclass(frozen=True)
class Finding:
    """One construction site and the verdict on it: what the reports print, the cache keeps and the
    fixer acts on. (With a docstring of its own, `dataclass` need not build one from the signature,
    which was a millisecond of every run's start.)"""

    path: str
    """Relative to the current directory, with `/` separators."""
    line: int
    column: int
    """1-based, in characters, where the constructor or one-shot call starts."""
    end_line: int
    code: str
    library: str
    verdict: Verdict
    in_loop: bool
    context: str
    """Qualified name of the enclosing function (`Class.method`), or `<module>`."""
    snippet: str
    fixable: bool
    reason: str
    """Why the site is not fixed (or, for unsafe fixes, what changes); empty when fixable."""
    message: str
    """One sentence for humans: what was found and why it matters."""
    applicability: Applicability = Applicability.NONE
    suppressed: bool = False
    plan: FixPlan | None = field(default=None, compare=False)
    end_column: int = 0
    """1-based column just after the call's last character (as ruff's end location)."""
    via: str = ""
    """For a call of a factory or wrapper class defined in another module (`run.project`): the
    `path:line` of the client construction it reaches, the hook's `where`."""
    closes_via: bool = False
    """With `via`: whether the call closes what it gets in the kind of code the client needs, so
    that the client may borrow the shared pool (`scan.scanner.uses_close_it`)."""

    @property
    def span(self) -> tuple[int, int, int, int]:
        """Start and end of the call as libcst positions: (line, column0, end_line, end_column0)."""
        return self.line, self.column - 1, self.end_line, self.end_column - 1


@dataclass(frozen=True)
class FileError:
    """A file the run could not read, parse or write: reported, skipped, and the run exits 2."""

    path: str
    message: str
    stage: str = "scan"
    """`scan` (could not be read or parsed) or `fix` (scanned, but the fix could not be written)."""


@dataclass(frozen=True)
class Note:
    """Something `--fix`/`--diff` did or could not do besides rewriting sites, for the user to act on:
    a lifecycle edit (`lifecycle`), wiring left to do by hand (`wiring`), a test that patches the old
    construction (`mock`), the shared module written (`module`), the application's settings class
    completed or left alone (`settings`)."""

    kind: str
    message: str
    path: str | None = None
    line: int | None = None


@dataclass
class ScanResult:
    """Everything one run found, in path order."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_scanned: int = 0
    files_parsed: int = 0
    notes: list[Note] = field(default_factory=list)
    fixed: int = 0
    """Sites `--fix` rewrote in this run (the findings are what is left)."""
    rewritten: set[str] = field(default_factory=set)
    """The display paths `--fix` wrote in this run."""
    closed_elsewhere: dict[str, dict[str, bool]] = field(default_factory=dict)
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


@dataclass(frozen=True)
class Export:
    """A module-level name of one file that builds a client when called: a subclass of a client class,
    a wrapper class whose `__init__` builds one, or a factory. Plain data, so it can be cached with the
    file and looked up when another module of the project imports the name (`run.project`)."""

    kind: str
    """`subclass`, `wrapper` or `factory`."""
    name: str
    """The module-level name other modules import (the class, or the factory's function or class)."""
    line: int
    """Where the client is built (wrapper, factory) or where the class is defined (subclass)."""
    qualname: str
    """`RetryingHttpClient.__init__`, `make_client`, `Api.make_client`; a subclass's own name."""
    module: str
    """The client library's module as imported there (`httpx`), which names the library."""
    constructor: str
    """The client class (`AsyncClient`)."""
    owner: str = ""
    """For a factory method (`self.make_client()`): its class; only subclasses of it call it so."""
    through: str = ""
    """For a subclass: the class of its module it derives from, when not directly from the client."""
    plain: bool = False
    """For a subclass: it adds nothing to the client class (its body is a docstring or `pass`)."""
    given: str = ""
    """For a wrapper that builds its client only when none is given (`client or httpx.AsyncClient()`):
    the `__init__` parameter that, when passed, means no client is built."""
    given_index: int = -1
    """That parameter's position among the call's positional arguments (`self` excluded); -1 if
    it can only be passed by keyword."""


@dataclass(frozen=True)
class FileScan:
    """The outcome for one file; plain data so it can cross process boundaries."""

    display: str
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    parsed: bool = False
    exports: tuple[Export, ...] = ()
    """What other modules of the project may import from this one and call per request."""

"""Pieces shared by the report formats: grouping, counting, shortening and the summary sentence.

Every format works from the same few views of a `ScanResult`, so the terminal table, the Markdown
tables and the one-line summaries can never disagree about what was found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pool_refactor.scan.findings import Applicability, FileError, Finding, ScanResult, Verdict

FIX_FLAG = "--fix"
UNSAFE_FIX_FLAG = "--unsafe-fixes"
"""Flag that lets `--fix` apply unsafe fixes too (ruff's model: safe by default, unsafe on request)."""

SNIPPET_LIMIT = 60
"""Characters of a shortened snippet in the table and Markdown reports (JSON/SARIF keep it whole)."""

IN_LOOP = "(in loop)"
FIXABLE_MARK = "[*]"
"""After a site (or line) that a plain `--fix` fixes, as ruff marks its fixable diagnostics."""
SUPPRESSED = "(suppressed)"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 file`, `2 files`; `plural_form` for irregular words."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def is_problem(finding: Finding) -> bool:
    """Persistent clients are already right: every other verdict is something to look at."""
    return finding.verdict is not Verdict.PERSISTENT


def is_fixable(finding: Finding) -> bool:
    """`--fix` can rewrite the site, with `--unsafe-fixes` when the fix is unsafe: the documented
    meaning of `fixable` (docs/json-format.md). Read from the applicability, which the planner
    always sets, so that an unsafe fix is fixable whatever the finding's own flag says."""
    return finding.applicability is not Applicability.NONE


def is_safe_fix(finding: Finding) -> bool:
    """Fixed by a plain `--fix` (ruff's `[*]`)."""
    return finding.applicability is Applicability.SAFE


def is_unsafe_fix(finding: Finding) -> bool:
    """Fixable only when unsafe fixes are asked for."""
    return finding.applicability is Applicability.UNSAFE


def refusal_text(finding: Finding) -> str:
    """Why a plain `--fix` leaves the site alone, for the human formats; empty when it fixes it.

    `not fixed: <reason>`, or for an unsafe fix `fixed only with --unsafe-fixes: <what changes>`,
    so that every refusal can be acted on without reading the JSON."""
    if is_safe_fix(finding) or not is_problem(finding):
        return ""
    reason = one_line(finding.reason)
    if is_unsafe_fix(finding):
        head = f"fixed only with {UNSAFE_FIX_FLAG}"
        return f"{head}: {reason}" if reason else head
    return f"not fixed: {reason}" if reason else ""  # the scanner gives every refusal a reason


def one_line(text: str) -> str:
    """Collapse every run of whitespace (newlines included) into one space."""
    return " ".join(text.split())


def shorten_snippet(snippet: str, limit: int = SNIPPET_LIMIT) -> str:
    """One line of code for a table cell: call arguments become `...`, then cut at `limit`.

    `self._client = httpx.AsyncClient(timeout=30, limits=LIMITS)` becomes
    `self._client = httpx.AsyncClient(...)`; an empty call stays `()`, and a snippet that stops
    inside a call (the first line of a longer statement) gets `...)`. Brackets inside string
    literals are skipped; text with a stray `)` or an open quote is only cut, never rewritten.
    """
    text = one_line(snippet)
    elided = _elide_call_arguments(text)
    if elided is not None:
        text = elided
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _elide_call_arguments(text: str) -> str | None:
    out: list[str] = []
    depth = 0
    quote: str | None = None
    has_arguments = False
    i = 0
    while i < len(text):
        char = text[i]
        if quote is not None:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = None
            if depth == 0:
                out.append(char)
            i += 1
            continue
        if char in "'\"":
            quote = char
            if depth == 0:
                out.append(char)
            else:
                has_arguments = True
        elif char == "(":
            if depth == 0:
                out.append("(")
                has_arguments = False
            depth += 1
        elif char == ")":
            if depth == 0:
                return None
            depth -= 1
            if depth == 0:
                out.append("...)" if has_arguments else ")")
        elif depth == 0:
            out.append(char)
        elif not char.isspace():
            has_arguments = True
        i += 1
    if depth == 0 and quote is not None:
        return None
    if depth:
        # The snippet stops inside a call: the first line of a statement that goes on below.
        out.append("...)")
    return "".join(out)


class FileRow:
    """All per-request sites of one file: one row of the "problem areas" table.

    A plain class, as the other records on a warm run's path are named tuples: a dataclass costs
    about a millisecond to create at import, and a warm scan is a few dozen of them."""

    __slots__ = ("contexts", "lines", "path", "unfixed")

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: list[tuple[int, bool]] = []
        """(line, suppressed) in the order the findings came."""
        self.unfixed: set[int] = set()
        """Lines with a site that a plain `--fix` leaves alone (the others get ruff's `[*]`)."""
        self.contexts: list[tuple[str, bool]] = []
        """Distinct enclosing names in order of first appearance, with whether any site there is in
        a loop."""

    def add(self, finding: Finding) -> None:
        self.lines.append((finding.line, finding.suppressed))
        if finding.suppressed or not is_safe_fix(finding):  # --fix leaves suppressed sites alone
            self.unfixed.add(finding.line)
        for index, (name, in_loop) in enumerate(self.contexts):
            if name == finding.context:
                self.contexts[index] = (name, in_loop or finding.in_loop)
                return
        self.contexts.append((finding.context, finding.in_loop))


def per_request_rows(findings: Iterable[Finding]) -> list[FileRow]:
    """Per-request findings grouped by file, files in the order they first appear (path order)."""
    rows: dict[str, FileRow] = {}
    for finding in findings:
        if finding.verdict is Verdict.PER_REQUEST:
            rows.setdefault(finding.path, FileRow(finding.path)).add(finding)
    return list(rows.values())


def with_verdicts(findings: Iterable[Finding], *verdicts: Verdict) -> list[Finding]:
    return [finding for finding in findings if finding.verdict in verdicts]


class Counts(NamedTuple):
    """What the summaries say; suppressed findings count only as `suppressed`."""

    per_request: int
    per_request_files: int
    per_request_in_loop: int
    leak: int
    unclear: int
    persistent: int
    safe_fixes: int
    unsafe_fixes: int
    per_request_safe: int
    """Per-request sites a plain `--fix` rewrites."""
    per_request_unsafe: int
    """Per-request sites rewritten only with `--unsafe-fixes`."""
    suppressed: int
    errors: int
    files_scanned: int

    @property
    def problems(self) -> int:
        return self.per_request + self.leak + self.unclear

    @classmethod
    def of(cls, result: ScanResult) -> Counts:
        active = [f for f in result.findings if not f.suppressed]
        per_request = with_verdicts(active, Verdict.PER_REQUEST)
        problems = [f for f in active if is_problem(f)]
        return cls(
            per_request=len(per_request),
            per_request_files=len({f.path for f in per_request}),
            per_request_in_loop=sum(1 for f in per_request if f.in_loop),
            leak=sum(1 for f in active if f.verdict is Verdict.LEAK),
            unclear=sum(1 for f in active if f.verdict is Verdict.UNCLEAR),
            persistent=sum(1 for f in active if f.verdict is Verdict.PERSISTENT),
            safe_fixes=sum(1 for f in problems if is_safe_fix(f)),
            unsafe_fixes=sum(1 for f in problems if is_unsafe_fix(f)),
            per_request_safe=sum(1 for f in per_request if is_safe_fix(f)),
            per_request_unsafe=sum(1 for f in per_request if is_unsafe_fix(f)),
            suppressed=len(result.findings) - len(active),
            errors=len(result.errors),
            files_scanned=result.files_scanned,
        )


def fix_phrase(counts: Counts) -> str:
    """What `--fix` would gain (issue 12, item 8), or empty when there is nothing to fix.

    `3 of 5 per-request sites fixable with --fix (1 more with --unsafe-fixes)`: the coverage of
    the per-request sites is always said when there are any, even `0 of 5`, since the sites left
    are the ones to look at; fixable leaks and unclear sites follow
    (`; 2 other problems fixable with --fix`)."""
    parts: list[str] = []
    if counts.per_request:
        of = "site" if counts.per_request == 1 else "sites"
        text = f"{counts.per_request_safe} of {counts.per_request} per-request {of} fixable with {FIX_FLAG}"
        if counts.per_request_unsafe:
            text += f" ({counts.per_request_unsafe} more with {UNSAFE_FIX_FLAG})"
        parts.append(text)
    other_safe = counts.safe_fixes - counts.per_request_safe
    other_unsafe = counts.unsafe_fixes - counts.per_request_unsafe
    if other_safe or other_unsafe:
        text = f"{plural(other_safe, 'other problem')} fixable with {FIX_FLAG}"
        if other_unsafe:
            text += f" ({other_unsafe} more with {UNSAFE_FIX_FLAG})"
        parts.append(text)
    return "; ".join(parts)


def errors_phrase(errors: Sequence[FileError]) -> str:
    """Say what failed: reading a file is not the same as writing its fix."""
    scanned = len({e.path for e in errors if e.stage == "scan"})
    fixed = len({e.path for e in errors if e.stage != "scan"} - {e.path for e in errors if e.stage == "scan"})
    parts = []
    if scanned:
        parts.append(f"{plural(scanned, 'file')} could not be scanned")
    if fixed:
        parts.append(f"{plural(fixed, 'file')} could not be fixed")
    return "; ".join(parts)


def summary_line(result: ScanResult) -> str:
    """The one-line summary of the table and Markdown reports.

    `7 per-request sites in 4 files (2 in loops), 1 leak, 3 persistent; 5 fixable with --fix;
    1 file could not be scanned`. Numbers never include suppressed findings, which get their own
    clause, so the line reads the same with and without `--show-suppressed`.
    """
    counts = Counts.of(result)
    if not result.findings and not result.errors:
        if counts.files_scanned:
            return f"No HTTP clients found in {plural(counts.files_scanned, 'file')}."
        return "No HTTP clients found."
    if counts.per_request:
        head = (
            f"{plural(counts.per_request, 'per-request site')} in {plural(counts.per_request_files, 'file')}"
        )
        if counts.per_request_in_loop:
            loops = "in a loop" if counts.per_request_in_loop == 1 else "in loops"
            head += f" ({counts.per_request_in_loop} {loops})"
    else:
        head = "No per-request sites"
    parts = [head]
    if counts.leak:
        parts.append(plural(counts.leak, "leak"))
    if counts.unclear:
        parts.append(f"{counts.unclear} unclear")
    if counts.persistent:
        parts.append(f"{counts.persistent} persistent")
    clauses = [", ".join(parts)]
    fixes = fix_phrase(counts)
    if fixes:
        clauses.append(fixes)
    if counts.suppressed:
        clauses.append(f"{counts.suppressed} suppressed")
    if counts.errors:
        clauses.append(errors_phrase(result.errors))
    return "; ".join(clauses)


def lines_text(row: FileRow) -> str:
    """`45 [*], 103 [*], 161`: ruff's `[*]` after each line whose sites a plain `--fix` fixes; a
    suppressed site (shown only on request) is marked."""
    return ", ".join(
        str(line)
        + ("" if line in row.unfixed else f" {FIXABLE_MARK}")
        + (f" {SUPPRESSED}" if suppressed else "")
        for line, suppressed in row.lines
    )


def refused(findings: Iterable[Finding]) -> list[Finding]:
    """The per-request sites a plain `--fix` leaves alone, each with its reason (`refusal_text`)."""
    return [f for f in findings if f.verdict is Verdict.PER_REQUEST and refusal_text(f)]


def why_text(finding: Finding) -> str:
    """The "Why" cell of the leaks-and-unclear table: the message, the rule code, then why a plain
    `--fix` leaves it alone."""
    text = f"{one_line(finding.message)} ({finding.code})"
    refusal = refusal_text(finding)
    if refusal:
        text += f"; {refusal}"
    if finding.suppressed:
        text += f" {SUPPRESSED}"
    return text


def status_text(finding: Finding) -> str:
    text = one_line(finding.message)
    if finding.suppressed:
        text += f" {SUPPRESSED}"
    return text


def error_text(message: str) -> str:
    return f"could not scan: {one_line(message)}"

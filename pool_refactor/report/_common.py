"""Pieces shared by the report formats: grouping, counting, shortening and the summary sentence.

Every format works from the same few views of a `ScanResult`, so the terminal table, the Markdown
tables and the one-line summaries can never disagree about what was found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pool_refactor.scan.findings import Applicability, FileError, Finding, ScanResult, Verdict

FIX_FLAG = "--fix"
UNSAFE_FIX_FLAG = "--unsafe-fixes"
"""Flag that lets `--fix` apply unsafe fixes too (ruff's model: safe by default, unsafe on request)."""

SNIPPET_LIMIT = 60
"""Characters of a shortened snippet in the table and Markdown reports (JSON/SARIF keep it whole)."""

IN_LOOP = "(in loop)"
SUPPRESSED = "(suppressed)"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 file`, `2 files`; `plural_form` for irregular words."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def is_problem(finding: Finding) -> bool:
    """Persistent clients are already right: every other verdict is something to look at."""
    return finding.verdict is not Verdict.PERSISTENT


def is_safe_fix(finding: Finding) -> bool:
    """Fixed by a plain `--fix` (ruff's `[*]`): fixable and not marked unsafe."""
    return finding.fixable and finding.applicability is not Applicability.UNSAFE


def is_unsafe_fix(finding: Finding) -> bool:
    """Fixable only when unsafe fixes are asked for."""
    return finding.fixable and finding.applicability is Applicability.UNSAFE


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


@dataclass
class FileRow:
    """All per-request sites of one file: one row of the "problem areas" table."""

    path: str
    lines: list[tuple[int, bool]] = field(default_factory=list)
    """(line, suppressed) in the order the findings came."""
    contexts: list[tuple[str, bool]] = field(default_factory=list)
    """Distinct enclosing names in order of first appearance, with whether any site there is in a loop."""

    def add(self, finding: Finding) -> None:
        self.lines.append((finding.line, finding.suppressed))
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


@dataclass(frozen=True)
class Counts:
    """What the summaries say; suppressed findings count only as `suppressed`."""

    per_request: int
    per_request_files: int
    per_request_in_loop: int
    leak: int
    unclear: int
    persistent: int
    safe_fixes: int
    unsafe_fixes: int
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
            suppressed=len(result.findings) - len(active),
            errors=len(result.errors),
            files_scanned=result.files_scanned,
        )


def fix_phrase(counts: Counts) -> str:
    """`5 fixable with --fix (2 more with --unsafe-fixes)`, or empty when nothing can be fixed."""
    if counts.safe_fixes == 0 and counts.unsafe_fixes == 0:
        return ""
    text = f"{counts.safe_fixes} fixable with {FIX_FLAG}"
    if counts.unsafe_fixes:
        text += f" ({counts.unsafe_fixes} more with {UNSAFE_FIX_FLAG})"
    return text


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
    """`45, 103, 161`; a suppressed site (shown only on request) is marked."""
    return ", ".join(f"{line} {SUPPRESSED}" if suppressed else str(line) for line, suppressed in row.lines)


def why_text(finding: Finding) -> str:
    """The "Why" cell of the leaks-and-unclear table: the message, then the rule code."""
    text = f"{one_line(finding.message)} ({finding.code})"
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

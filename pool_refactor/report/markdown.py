"""The report as GitHub-flavoured Markdown, ready to paste into an issue.

The tables are the ones people write by hand in performance issues:

```
## Problem Areas (New Client Per Request)

| Location | Line | Context |
| --- | --- | --- |
| `src/api.py` | 45, 103, 161 | `get_user`, `Api.fetch` (in loop) |
```

with ruff's `[*]` after each line that a plain `--fix` fixes, followed, when they have rows, by
`## Not Fixed by --fix` (`Location | Line | Reason`: each per-request site left alone and why),
`## Leaks and Unclear Sites`, `## Already Optimized (Persistent
Clients)` and `## Files Not Scanned`, and a bold summary line. An empty table is left out; a run
that found nothing at all prints one line.

Cells are made safe for a table: `|` is escaped (GFM honours `\\|` inside code spans too),
newlines become spaces, code goes into a code span long enough for any backticks it holds, and
`<`, `>` and `&` outside code spans are written as entities so that `<module>` is not taken for
HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pool_refactor.report._common import (
    IN_LOOP,
    error_text,
    lines_text,
    one_line,
    per_request_rows,
    refusal_text,
    refused,
    shorten_snippet,
    status_text,
    summary_line,
    why_text,
    with_verdicts,
)
from pool_refactor.scan.findings import ScanResult, Verdict

PROBLEMS_HEADING = "## Problem Areas (New Client Per Request)"
NOT_FIXED_HEADING = "## Not Fixed by --fix"
LEAKS_HEADING = "## Leaks and Unclear Sites"
PERSISTENT_HEADING = "## Already Optimized (Persistent Clients)"
ERRORS_HEADING = "## Files Not Scanned"

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)


def code(text: str) -> str:
    """`text` as an inline code span that survives backticks inside it."""
    text = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if longest or text.startswith(" ") or text.endswith(" "):
        return f"{fence} {text} {fence}"
    return f"{fence}{text}{fence}"


def prose(text: str) -> str:
    """Plain text for a cell: entities for `&`, `<`, `>` outside the code spans it already has."""
    text = one_line(text)
    out: list[str] = []
    position = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_entities(text[position : match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(_entities(text[position:]))
    return "".join(out)


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cell(text: str) -> str:
    """Escape what would end a table cell."""
    return one_line(text).replace("|", "\\|")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines.extend("| " + " | ".join(cell(value) for value in row) + " |" for row in rows)
    return lines


def render(result: ScanResult, *, show_suppressed: bool = False) -> str:
    findings = result.visible(show_suppressed)
    sections: list[list[str]] = []

    per_request = per_request_rows(findings)
    if per_request:
        rows = [
            [
                code(row.path),
                lines_text(row),
                ", ".join(code(name) + (f" {IN_LOOP}" if in_loop else "") for name, in_loop in row.contexts),
            ]
            for row in per_request
        ]
        sections.append([PROBLEMS_HEADING, "", *table(["Location", "Line", "Context"], rows)])

    not_fixed = refused(findings)
    if not_fixed:
        rows = [[code(f.path), str(f.line), prose(refusal_text(f))] for f in not_fixed]
        sections.append([NOT_FIXED_HEADING, "", *table(["Location", "Line", "Reason"], rows)])

    others = with_verdicts(findings, Verdict.LEAK, Verdict.UNCLEAR)
    if others:
        rows = [
            [code(f.path), str(f.line), code(shorten_snippet(f.snippet)), prose(why_text(f))] for f in others
        ]
        sections.append([LEAKS_HEADING, "", *table(["Location", "Line", "Code", "Why"], rows)])

    persistent = with_verdicts(findings, Verdict.PERSISTENT)
    if persistent:
        rows = [
            [code(f"{f.path}:{f.line}"), code(shorten_snippet(f.snippet)), prose(status_text(f))]
            for f in persistent
        ]
        sections.append([PERSISTENT_HEADING, "", *table(["Location", "Code", "Status"], rows)])

    if result.errors:
        rows = [[code(e.path), prose(error_text(e.message))] for e in result.errors]
        sections.append([ERRORS_HEADING, "", *table(["Location", "Error"], rows)])

    summary = summary_line(result)
    if not sections:
        return summary + "\n"
    sections.append([f"**Summary:** {prose(summary)}"])
    return "\n\n".join("\n".join(section) for section in sections) + "\n"

"""The terminal report: `rich` tables, rendered into a string.

1. "Problem areas (new client per request)", `Location | Line | Context`: one row per file with
   all its per-request lines (ruff's `[*]` after those a plain `--fix` fixes), and the distinct
   enclosing names, `(in loop)` after those where a site runs once per iteration.
2. "Not fixed by --fix", `Location | Line | Reason`: each per-request site a plain `--fix` leaves
   alone and why (`not fixed: ...`, or `fixed only with --unsafe-fixes: <what changes>`).
3. "Leaks and unclear sites", `Location | Line | Code | Why` (the why ends with the refusal).
4. "Already optimized (persistent clients)", `Location | Code | Status`.
5. "Files not scanned", `Location | Error`.
6. The one-line summary.

A table without rows is not printed; a run that found nothing at all prints one line. All cell
text goes in as `rich.text.Text`, never as markup, so `[` in code is shown as it is. Without
`color` the output has no escape codes at all, which is what the golden test compares.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from io import StringIO

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from pool_refactor.report._common import (
    IN_LOOP,
    error_text,
    lines_text,
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

DEFAULT_WIDTH = 100
"""Width used when none is given and the terminal's cannot be told."""

LOCATION_STYLE = "cyan"
LOOP_STYLE = "bold red"
CODE_STYLE = "magenta"
OK_STYLE = "green"
ERROR_STYLE = "red"
HEADER_STYLE = "bold"
TITLE_STYLE = "bold"


def _longest_word(text: Text) -> int:
    return max((len(word) for word in text.plain.split()), default=0)


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Text]], width: int) -> Table:
    """A table whose cells fold rather than lose text.

    rich narrows the widest columns first but would still fold a path that could have stayed
    whole; the Location column (always the first) keeps its longest path on one line whenever the
    other columns' longest words still fit beside it.
    """
    table = Table(
        title=Text(title, style=TITLE_STYLE),
        title_justify="left",
        box=box.SQUARE,
        header_style=HEADER_STYLE,
        expand=False,
    )
    longest = [max([len(name), *(_longest_word(row[i]) for row in rows)]) for i, name in enumerate(columns)]
    borders = len(columns) * 3 + 1
    keep_location = sum(longest) + borders <= width
    for index, name in enumerate(columns):
        if index == 0:
            table.add_column(
                name,
                overflow="fold",
                style=LOCATION_STYLE,
                min_width=longest[0] if keep_location else None,
            )
        else:
            table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _context_cell(contexts: Sequence[tuple[str, bool]]) -> Text:
    cell = Text()
    for index, (name, in_loop) in enumerate(contexts):
        if index:
            cell.append(", ")
        cell.append(name)
        if in_loop:
            cell.append(f" {IN_LOOP}", style=LOOP_STYLE)
    return cell


def _renderables(result: ScanResult, show_suppressed: bool, width: int) -> list[RenderableType]:
    findings = result.visible(show_suppressed)
    out: list[RenderableType] = []

    per_request = per_request_rows(findings)
    if per_request:
        rows = [[Text(r.path), Text(lines_text(r)), _context_cell(r.contexts)] for r in per_request]
        out.append(
            _table("Problem areas (new client per request)", ["Location", "Line", "Context"], rows, width)
        )

    not_fixed = refused(findings)
    if not_fixed:
        rows = [[Text(f.path), Text(str(f.line)), Text(refusal_text(f))] for f in not_fixed]
        out.append(_table("Not fixed by --fix", ["Location", "Line", "Reason"], rows, width))

    others = with_verdicts(findings, Verdict.LEAK, Verdict.UNCLEAR)
    if others:
        rows = [
            [
                Text(f.path),
                Text(str(f.line)),
                Text(shorten_snippet(f.snippet), style=CODE_STYLE),
                Text(why_text(f)),
            ]
            for f in others
        ]
        out.append(_table("Leaks and unclear sites", ["Location", "Line", "Code", "Why"], rows, width))

    persistent = with_verdicts(findings, Verdict.PERSISTENT)
    if persistent:
        rows = [
            [
                Text(f"{f.path}:{f.line}"),
                Text(shorten_snippet(f.snippet), style=CODE_STYLE),
                Text(status_text(f), style=OK_STYLE),
            ]
            for f in persistent
        ]
        out.append(
            _table("Already optimized (persistent clients)", ["Location", "Code", "Status"], rows, width)
        )

    if result.errors:
        rows = [[Text(e.path), Text(error_text(e.message), style=ERROR_STYLE)] for e in result.errors]
        out.append(_table("Files not scanned", ["Location", "Error"], rows, width))
    return out


def render(
    result: ScanResult,
    *,
    show_suppressed: bool = False,
    width: int | None = None,
    color: bool = False,
) -> str:
    if width is None:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    buffer = StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
        soft_wrap=False,
    )
    renderables = _renderables(result, show_suppressed, width)
    for index, renderable in enumerate(renderables):
        if index:
            console.print()
        console.print(renderable)
    if renderables:
        console.print()
    console.print(
        Text(summary_line(result), style="bold" if result.findings or result.errors else ""), soft_wrap=True
    )
    # rich pads titles and cells to the table's width; trailing blanks are noise in a pasted report.
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())

"""Reports: one `ScanResult`, six ways to show it.

```python
from pool_refactor.report import FORMATS, render

text = render(result, "markdown")
```

| format     | for                                            | module          |
|------------|------------------------------------------------|-----------------|
| `table`    | a person at a terminal (the default there)     | `table`         |
| `concise`  | pipes, editors, grep (the default when piped)  | `concise`       |
| `markdown` | pasting into an issue or a pull request        | `markdown`      |
| `json`     | scripts; stable, documented in docs/json-format.md | `json_format` |
| `sarif`    | code scanning (SARIF 2.1.0)                    | `sarif`         |
| `github`   | GitHub Actions annotations                     | `github`        |

Every format shows the findings in the order they come (the scanner sorts them by path, line and
column), leaves suppressed findings out unless `show_suppressed` is true (they are always counted
in the summary), and returns text that ends with a newline: write it as it is, without adding one.
`width` and `color` are used by `table` only. A format's module is imported when it is first
rendered, so a run that prints JSON never imports `rich` (start-up time is most of a warm scan).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pool_refactor.scan.findings import ScanResult

FORMATS: tuple[str, ...] = ("table", "concise", "markdown", "json", "sarif", "github")

__all__ = ["FORMATS", "render"]


def render(
    result: ScanResult,
    fmt: str,
    *,
    show_suppressed: bool = False,
    width: int | None = None,
    color: bool = False,
) -> str:
    """`result` as text in format `fmt` (one of `FORMATS`); raises `ValueError` for another name."""
    if fmt == "table":
        from pool_refactor.report import table

        return table.render(result, show_suppressed=show_suppressed, width=width, color=color)
    if fmt == "concise":
        from pool_refactor.report import concise

        return concise.render(result, show_suppressed=show_suppressed)
    if fmt == "markdown":
        from pool_refactor.report import markdown

        return markdown.render(result, show_suppressed=show_suppressed)
    if fmt == "json":
        from pool_refactor.report import json_format

        return json_format.render(result, show_suppressed=show_suppressed)
    if fmt == "sarif":
        from pool_refactor.report import sarif

        return sarif.render(result, show_suppressed=show_suppressed)
    if fmt == "github":
        from pool_refactor.report import github

        return github.render(result, show_suppressed=show_suppressed)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")

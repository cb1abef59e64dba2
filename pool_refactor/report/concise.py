"""One line per problem, like ruff's `concise` output: the default when output is piped.

```
src/api.py:45:18: POOL101 [*] New httpx.AsyncClient per call to get_user.
src/api.py:61:9: POOL103 httpx.post per call of `ping` (not fixed: `verify` is not a literal)
src/api.py: error: invalid syntax (line 3)
Found 3 problems; 1 of 2 per-request sites fixable with --fix; 1 file could not be scanned.
```

- `path:line:col: CODE message`, with ruff's `[*]` after the code when a plain `--fix` fixes the
  site (unsafe fixes are not marked, as in ruff), and otherwise the reason in parentheses
  (`(not fixed: ...)`, `(fixed only with --unsafe-fixes: <what changes>)`). Editors and CI problem
  matchers read the `path:line:col:` prefix.
- Persistent clients are not problems: they are not listed, only counted in the last line.
- With `--show-suppressed`, suppressed findings are listed with `(suppressed)` at the end.
- Each file that could not be scanned: `path: error: message`, after the findings.
- The last line is always a summary: `Found N problems; M of K per-request sites fixable with
  --fix (L more with --unsafe-fixes).` or `All clear: no per-request HTTP clients found.`
"""

from __future__ import annotations

from pool_refactor.report._common import (
    SUPPRESSED,
    Counts,
    errors_phrase,
    fix_phrase,
    is_problem,
    is_safe_fix,
    one_line,
    plural,
    refusal_text,
)
from pool_refactor.scan.findings import ScanResult


def render(result: ScanResult, *, show_suppressed: bool = False) -> str:
    lines: list[str] = []
    for finding in result.visible(show_suppressed):
        if not is_problem(finding):
            continue
        marker = " [*]" if is_safe_fix(finding) else ""
        location = f"{finding.path}:{finding.line}:{finding.column}"
        text = f"{location}: {finding.code}{marker} {one_line(finding.message)}"
        refusal = refusal_text(finding)
        if refusal:
            text += f" ({refusal})"
        if finding.suppressed:
            text += f" {SUPPRESSED}"
        lines.append(text)
    for error in result.errors:
        lines.append(f"{error.path}: error: {one_line(error.message)}")
    lines.append(summary(result))
    return "\n".join(lines) + "\n"


def summary(result: ScanResult) -> str:
    """The closing line of the concise report."""
    counts = Counts.of(result)
    extras: list[str] = []
    if counts.persistent:
        extras.append(f"{plural(counts.persistent, 'persistent client')} not listed")
    if counts.suppressed:
        extras.append(f"{counts.suppressed} suppressed")
    if counts.errors:
        extras.append(errors_phrase(result.errors))

    if counts.problems:
        head = f"Found {plural(counts.problems, 'problem')}"
        fixes = fix_phrase(counts)
        if fixes:
            head += f"; {fixes}"
    elif counts.errors:
        head = "No problems found in the files that could be read"
    elif result.fixed:
        head = f"Fixed {plural(result.fixed, 'site')}; no per-request HTTP clients are left"
    else:
        head = "All clear: no per-request HTTP clients found"
    return "; ".join([head, *extras]) + "."

"""GitHub Actions workflow commands: annotations on the pull request's changed lines.

```
::warning file=src/api.py,line=45,col=18,endLine=47,title=POOL101 client-per-request-with::New ...
::notice file=src/sdk.py,line=9,col=12,endLine=9,title=POOL301 client-factory::Function returns ...
::error file=src/broken.py,title=pool-refactor could not scan this file::invalid syntax (line 3)
```

Per-request sites and leaks are `::warning`, unclear sites `::notice`; the message ends with why a
plain `--fix` leaves the site alone (`(not fixed: ...)`, `(fixed only with --unsafe-fixes: ...)`);
persistent clients print nothing. With `--show-suppressed`, suppressed findings are `::notice` with
`(suppressed)` in the title. The last line is the plain summary, which the log shows as it is.

Escaping follows the runner's rules (actions/toolkit `command.ts`): in the message `%`, `\\r` and
`\\n` become `%25`, `%0D` and `%0A`; in property values `:` and `,` become `%3A` and `%2C` as well.
"""

from __future__ import annotations

from pool_refactor.report._common import SUPPRESSED, is_problem, refusal_text, summary_line
from pool_refactor.scan.findings import Finding, ScanResult, Verdict
from pool_refactor.scan.rules import RULES_BY_CODE

ERROR_TITLE = "pool-refactor could not scan this file"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: dict[str, str], message: str) -> str:
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name} {props}::{escape_data(message)}"


def annotation(finding: Finding) -> str:
    rule = RULES_BY_CODE.get(finding.code)
    title = f"{finding.code} {rule.name}" if rule else finding.code
    if finding.suppressed:
        title += f" {SUPPRESSED}"
    name = "warning" if finding.verdict in (Verdict.PER_REQUEST, Verdict.LEAK) else "notice"
    if finding.suppressed:
        name = "notice"
    properties = {
        "file": finding.path,
        "line": str(finding.line),
        "col": str(finding.column),
        "endLine": str(max(finding.line, finding.end_line)),
        "title": title,
    }
    message = finding.message
    refusal = refusal_text(finding)
    if refusal:
        message = f"{message.rstrip()} ({refusal})"
    return command(name, properties, message)


def render(result: ScanResult, *, show_suppressed: bool = False) -> str:
    lines = [annotation(f) for f in result.visible(show_suppressed) if is_problem(f)]
    lines.extend(
        command("error", {"file": error.path, "title": ERROR_TITLE}, error.message) for error in result.errors
    )
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"

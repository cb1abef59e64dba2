"""`--baseline FILE`: accept the findings a large codebase has today and gate only new ones.

A baseline is a JSON report (`pool-refactor scan --format json -o baseline.json`). A finding
matches an entry by path, rule code, enclosing function and the code on its line, not by line
number, so unrelated edits that move code up or down do not break the gate. Each entry accepts
one finding, so a second identical site added later is still reported.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pool_refactor.scan.findings import Finding, ScanResult

Key = tuple[str, str, str, str]


class BaselineError(Exception):
    """The baseline file cannot be used; the message says why."""


def _key(path: str, code: str, context: str, snippet: str) -> Key:
    return path, code, context, " ".join(snippet.split())


def load_baseline(path: Path) -> Counter[Key]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BaselineError(
            f"baseline {path} does not exist; create it with --format json -o {path}"
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {path} is not a pool-refactor JSON report: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("findings"), list):
        raise BaselineError(f"baseline {path} is not a pool-refactor JSON report (version 1)")
    keys: Counter[Key] = Counter()
    for entry in data["findings"]:
        try:
            keys[_key(entry["path"], entry["code"], entry["context"], entry["snippet"])] += 1
        except (KeyError, TypeError) as exc:
            raise BaselineError(f"baseline {path} has an entry without {exc}") from exc
    return keys


def apply_baseline(result: ScanResult, accepted: Counter[Key]) -> int:
    """Mark findings the baseline accepts as suppressed; returns how many were accepted."""
    remaining = Counter(accepted)
    matched = 0
    findings: list[Finding] = []
    for finding in result.findings:
        key = _key(finding.path, finding.code, finding.context, finding.snippet)
        if not finding.suppressed and remaining[key] > 0:
            remaining[key] -= 1
            matched += 1
            finding = finding.replace(suppressed=True)
        findings.append(finding)
    result.findings = findings
    return matched

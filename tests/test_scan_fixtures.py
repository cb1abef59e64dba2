"""Exact findings for every scanner fixture.

Each `tests/fixtures/scan/<name>.py` states what it expects twice:

- inline, by hand, on the line of each site: `# expect: POOL101 per-request loop fixable`
  (code, verdict, then optional words `loop`, `fixable`, `unsafe`, `suppressed`); a line without
  a marker must produce no finding;
- exactly, in `<name>.expected.json` beside it (every field of the JSON report, reasons included).

Regenerate the JSON with `POOL_REFACTOR_UPDATE_GOLDEN=1 pytest tests/test_scan_fixtures.py` and
review the diff: the inline markers keep a regenerated file honest.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from pool_refactor.plan.analyze import analyze_source
from pool_refactor.scan.findings import Applicability, Finding

FIXTURES = Path(__file__).parent / "fixtures" / "scan"
CASES = sorted(p for p in FIXTURES.glob("*.py"))
_MARK = re.compile(r"#\s*expect:\s*(?P<body>[^#\n]+)")


def _as_json(finding: Finding) -> dict[str, object]:
    return {
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line,
        "code": finding.code,
        "verdict": finding.verdict.value,
        "in_loop": finding.in_loop,
        "context": finding.context,
        "snippet": finding.snippet,
        "fixable": finding.fixable,
        "applicability": finding.applicability.value,
        "reason": finding.reason,
        "message": finding.message,
        "suppressed": finding.suppressed,
    }


def _inline_expectations(text: str) -> dict[int, list[str]]:
    expected: dict[int, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _MARK.search(line)
        if match:
            expected[number] = match.group("body").split()
    return expected


def _words(finding: Finding) -> list[str]:
    words = [finding.code, finding.verdict.value]
    if finding.in_loop:
        words.append("loop")
    if finding.fixable:
        words.append("fixable")
    if finding.applicability is Applicability.UNSAFE:
        words.append("unsafe")
    if finding.suppressed:
        words.append("suppressed")
    return words


def test_there_are_fixtures() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fixture(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    findings = analyze_source(text, path.name)
    inline = _inline_expectations(text)
    got = {f.line: _words(f) for f in findings}
    assert len(got) == len(findings), "two findings on one line: split the fixture line"
    assert got == inline, f"inline markers disagree with the scanner in {path.name}"

    golden = path.with_suffix(".expected.json")
    actual = [_as_json(f) for f in findings]
    if os.environ.get("POOL_REFACTOR_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(actual, indent=2) + "\n", encoding="utf-8")
    assert golden.exists(), f"missing {golden.name}; regenerate with POOL_REFACTOR_UPDATE_GOLDEN=1"
    assert actual == json.loads(golden.read_text(encoding="utf-8"))

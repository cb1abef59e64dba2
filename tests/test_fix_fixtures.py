"""Codemod fixture pairs: `tests/fixtures/fix/<case>/input.py` -> `expected.py`.

A refusal is a pair whose `expected.py` equals `input.py`; its `reason.txt` holds a part of the
reason the scanner must give. Every case is also run a second time on its expected output, which
must not change (a fix converges in one run), and the output must compile.

Files are compared as bytes, so CRLF, BOMs and coding cookies are checked too; unsafe fixes are
applied only in cases that contain a file named `unsafe`.
"""

from __future__ import annotations

import os
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from codemods.imports import apply_import_changes
from codemods.shared_client import rewrite_module
from pool_refactor.plan.analyze import analyze_source
from pool_refactor.scan.findings import Applicability
from pool_refactor.scan.source import decode_source, encode_source

FIXTURES = Path(__file__).parent / "fixtures" / "fix"
CASES = sorted(p for p in FIXTURES.iterdir() if (p / "input.py").exists()) if FIXTURES.exists() else []
ACCESSOR_MODULE = "myapp.http_client"


def fix_bytes(data: bytes, unsafe: bool) -> tuple[bytes, list[str]]:
    """The bytes `--fix` would write, and the reasons of the sites it left alone."""
    source = decode_source(data)
    findings = analyze_source(source.text, "input.py")
    allowed = {Applicability.SAFE, Applicability.UNSAFE} if unsafe else {Applicability.SAFE}
    plans = {f.span: f.plan for f in findings if f.plan and not f.suppressed and f.applicability in allowed}
    reasons = [f.reason for f in findings if f.reason]
    if not plans:
        return data, reasons
    context = CodemodContext()
    module, applied = rewrite_module(cst.parse_module(source.text), plans, ACCESSOR_MODULE, context)
    assert applied == set(plans), "every planned site must be found in the concrete tree"
    module = apply_import_changes(module, context)
    return encode_source(module.code, source), reasons


def test_there_are_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fix_case(case: Path) -> None:
    unsafe = (case / "unsafe").exists()
    original = (case / "input.py").read_bytes()
    expected_path = case / "expected.py"
    output, reasons = fix_bytes(original, unsafe)
    if os.environ.get("POOL_REFACTOR_UPDATE_GOLDEN") and not expected_path.exists():
        expected_path.write_bytes(output)
    assert output == expected_path.read_bytes()
    compile(decode_source(output).text, "expected.py", "exec")
    again, _ = fix_bytes(output, unsafe)
    assert again == output, "a second --fix must change nothing"
    reason_file = case / "reason.txt"
    if reason_file.exists():
        wanted = reason_file.read_text(encoding="utf-8").strip()
        assert any(wanted in r for r in reasons), f"no reason contains {wanted!r}: {reasons}"
    if output == original:
        assert reason_file.exists(), "a refusal case must say which reason it expects (reason.txt)"

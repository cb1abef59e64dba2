"""Codemod fixture pairs: `tests/fixtures/fix/<case>/input.py` -> `expected.py`.

A refusal is a pair whose `expected.py` equals `input.py`; its `reason.txt` holds a part of the
reason the scanner must give. Every case is also run a second time on its expected output, which
must not change (a fix converges in one run), and the output must compile.

Files are compared as bytes, so CRLF, BOMs and coding cookies are checked too; unsafe fixes are
applied only in cases that contain a file named `unsafe`.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from codemods.imports import apply_import_changes
from codemods.shared_client import rewrite_module
from codemods.toplevel import NeedsWholeModule, Verbatim, parse_partly
from pool_refactor.fix.rewrite import Span
from pool_refactor.plan.analyze import analyze_source
from pool_refactor.scan.findings import Applicability, Finding, FixPlan
from pool_refactor.scan.source import Source, decode_source, encode_source

FIXTURES = Path(__file__).parent / "fixtures" / "fix"
CASES = sorted(p for p in FIXTURES.iterdir() if (p / "input.py").exists()) if FIXTURES.exists() else []
ACCESSOR_MODULE = "myapp.http_client"


def _planned(data: bytes, unsafe: bool) -> tuple[Source, list[Finding], dict[Span, FixPlan]]:
    """The decoded source, its findings, and the plans `--fix` (with `--unsafe-fixes` if `unsafe`)
    carries out."""
    source = decode_source(data)
    findings = analyze_source(source.text, "input.py")
    allowed = {Applicability.SAFE, Applicability.UNSAFE} if unsafe else {Applicability.SAFE}
    plans = {f.span: f.plan for f in findings if f.plan and not f.suppressed and f.applicability in allowed}
    return source, findings, plans


def fix_bytes(data: bytes, unsafe: bool) -> tuple[bytes, list[str]]:
    """The bytes `--fix` would write, and the reasons of the sites it left alone."""
    source, findings, plans = _planned(data, unsafe)
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


def fix_partly(data: bytes, unsafe: bool) -> bytes | None:
    """`fix_bytes` on the module parsed only where the edit reads it (`toplevel.parse_partly`), as
    the fixer first tries it; None when that path declines (the fixer then parses the whole)."""
    source, _, plans = _planned(data, unsafe)
    if not plans:
        return None
    parts = parse_partly(source.text, ast.parse(source.text), [span[0] for span in plans])
    if parts is None:
        return None
    module, top = parts
    context = CodemodContext()
    try:
        module, applied = rewrite_module(module, plans, ACCESSOR_MODULE, context, top, partial=True)
        module = apply_import_changes(module, context, top, partial=True)
    except NeedsWholeModule:
        return None
    assert applied == set(plans)
    return encode_source(module.code, source)


def test_partly_parsed_fixes_are_the_whole_modules() -> None:
    """Every case the partial parse takes gives the expected bytes, and it takes most of them (a
    change that made it decline everywhere would leave this test nothing to check)."""
    taken = 0
    for case in CASES:
        output = fix_partly((case / "input.py").read_bytes(), (case / "unsafe").exists())
        if output is not None:
            taken += 1
            assert output == (case / "expected.py").read_bytes(), case.name
    assert taken >= len(CASES) // 2, f"the partial parse took {taken} of {len(CASES)} cases"


_FILLERS = (
    "\n\n# a helper that no edit reads\ndef _helper(value):\n    return value  # kept\n",
    "\n\n@decorated\nclass _Kept:\n    '''Text.'''\n\n    size = 1\n\n\n_TABLE = {\n    'a': 1,\n}\n",
    "\n\ndef _block_footer():\n    pass\n    # a comment the block owns\n",
    "\nwhile False: pass\nx = 1; y = 2\n",
)


def _padded(text: str, filler: str) -> str | None:
    """`text` with `filler` (top-level statements no edit reads) before every top-level statement
    after the first two and at the end; None for text the ast cannot read."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    lines = text.splitlines(keepends=True)
    cuts = sorted(
        {
            min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            for node in tree.body[2:]
        }
    )
    newline = "\r\n" if "\r\n" in text else "\n"
    piece = filler.replace("\n", newline)
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        if number in cuts:
            out.append(piece.lstrip("\r\n") + newline)
        out.append(line)
    if out and not out[-1].endswith(("\n", "\r")):
        out[-1] += newline
    out.append(piece)
    return "".join(out)


@pytest.mark.parametrize("filler", range(len(_FILLERS)))
def test_partly_parsed_fixes_of_padded_modules(filler: int) -> None:
    """The same cases with statements no edit reads between theirs (kept as text by the partial
    parse, or a reason for it to decline): the partial parse gives what the whole module gives."""
    taken = sum(
        _partly_as_whole(case, lambda text: _padded(text, _FILLERS[filler])) is not None for case in CASES
    )
    assert taken >= len(CASES) // 3 or filler == 2, f"the partial parse took {taken} of {len(CASES)} cases"


def _partly_as_whole(case: Path, change: Callable[[str], str | None]) -> str | None:
    """The case's input changed by `change`: fixed through the partial parse, which must give the
    whole module's bytes; that text, or None when `change` or the partial parse declines."""
    source = decode_source((case / "input.py").read_bytes())
    text = change(source.text)
    if text is None:
        return None
    data = encode_source(text, source)
    unsafe = (case / "unsafe").exists()
    output = fix_partly(data, unsafe)
    if output is None:
        return None
    assert output == fix_bytes(data, unsafe)[0], case.name
    return text


_MEMBER = "    def _kept_{n}(self, value):\n        # a method no edit reads\n        return value\n\n"


def _in_a_class(text: str) -> str | None:
    """`text` with its top-level functions moved into one class, each after a method no edit
    reads (so that a class holds the sites, among members kept as text); None when it has none
    or the ast cannot read it (or would not, indented)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not functions or "\t" in text or "\r" in text:
        return None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    taken: set[int] = set()
    members: list[str] = []
    for number, node in enumerate(functions):
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        members.append(_MEMBER.format(n=number))
        for index in range(first - 1, node.end_lineno or node.lineno):
            taken.add(index)
            members.append("    " + lines[index] if lines[index].strip() else lines[index])
        members.append("\n")
    start = min(taken)
    kept = [line for index, line in enumerate(lines) if index not in taken]
    members.append(_MEMBER.format(n="last"))
    out = [*kept[:start], "class _Holder:\n", *members, "\n", *kept[start:], "_LAST = 1\n"]
    result = "".join(out)
    try:
        ast.parse(result)
    except SyntaxError:
        return None
    return result


def test_partly_parsed_fixes_of_classes_with_members_kept_as_text() -> None:
    """The cases' functions as methods of one class, between methods no edit reads: the partial
    parse keeps those as text inside the class and gives what the whole module gives."""
    taken = inside = 0
    for case in CASES:
        text = _partly_as_whole(case, _in_a_class)
        if text is None:
            continue
        taken += 1
        findings = analyze_source(text, "input.py")
        parts = parse_partly(text, ast.parse(text), [f.span[0] for f in findings if f.plan])
        assert parts is not None
        holder = next(s for s in parts[0].body if isinstance(s, cst.ClassDef))
        inside += any(isinstance(m, Verbatim) for m in holder.body.body)
    assert taken >= len(CASES) // 3, f"the partial parse took {taken} of {len(CASES)} cases"
    assert inside >= taken // 2, f"members kept as text in {inside} of {taken}"

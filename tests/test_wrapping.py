"""`wrap_long_lines` walks only the members of a class that hold a line the rewrite produced, and
gives what walking the whole statement gives, byte for byte (issue 16)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from codemods import wrapping
from codemods.wrapping import original_lines, wrap_long_lines
from pool_refactor.scan.source import decode_source

FIXTURES = Path(__file__).parent / "fixtures" / "fix"
CASES = sorted(p for p in FIXTURES.iterdir() if (p / "expected.py").exists()) if FIXTURES.exists() else []
LIMITS = (30, 50, 70, 88, 120)


def whole_walk(statement: cst.BaseStatement, module: cst.Module, limit: int, original: str) -> str:
    """What `wrap_long_lines` gave before: the whole statement walked."""
    wrapper = wrapping._Wrapper(module.default_indent, limit, original_lines(original))
    result = statement.visit(wrapper)
    assert isinstance(result, cst.BaseStatement)
    return module.code_for_node(result)


def in_a_class(source: str) -> str:
    """The module's lines as the body of a class (libcst parses it; nothing runs it)."""
    body = "".join(f"    {line}" if line.strip() else line for line in source.splitlines(keepends=True))
    return "class Wrapped:\n" + (body or "    pass\n")


def check(new: str, original: str) -> int:
    """Compare both ways on every top-level statement of `new` for every limit; returns how many
    statements were classes."""
    module = cst.parse_module(new)
    classes = 0
    for statement in module.body:
        classes += isinstance(statement, cst.ClassDef)
        for limit in LIMITS:
            got = module.code_for_node(wrap_long_lines(statement, module, limit, original))
            assert got == whole_walk(statement, module, limit, original), limit
    return classes


def test_there_are_fixture_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_as_the_whole_walk_on_every_fix_fixture(case: Path) -> None:
    original = decode_source((case / "input.py").read_bytes()).text
    new = decode_source((case / "expected.py").read_bytes()).text
    check(new, original)
    assert check(in_a_class(new), in_a_class(original)) == 1


ORIGINAL = '''class Client:
    def keep(self):
        message = ("a long line that the project wrote itself and that is far too long to fit", 1)
        text = """a string
whose continuation line starts at column zero and is long enough to matter here"""
        return message, text

    def fetch(self, url):
        with httpx.Client(timeout=10.0, headers={"Authorization": "Bearer secret"}) as client:
            return client.get(url)

    limit = 3
'''

REWRITTEN = ORIGINAL.replace(
    """        with httpx.Client(timeout=10.0, headers={"Authorization": "Bearer secret"}) as client:
            return client.get(url)""",
    """        client = get_sync_http_client()
        return client.get(url, timeout=10.0, headers={"Authorization": "Bearer secret"})""",
).replace(
    "    limit = 3\n", "    limit = some_function_with_a_long_name(argument_one, argument_two, argument_3)\n"
)


@pytest.mark.parametrize("limit", [20, 40, 60, 79, 88, 100, 200])
def test_only_changed_members_are_wrapped_and_the_rest_is_kept(limit: int) -> None:
    module = cst.parse_module(REWRITTEN)
    statement = module.body[0]
    result = wrap_long_lines(statement, module, limit, ORIGINAL)
    assert module.code_for_node(result) == whole_walk(statement, module, limit, ORIGINAL)
    assert isinstance(result, cst.ClassDef) and isinstance(statement, cst.ClassDef)
    assert result.body.body[0] is statement.body.body[0]  # the project's own method: not walked


def test_a_long_rewritten_line_is_wrapped_in_a_method() -> None:
    module = cst.parse_module(REWRITTEN)
    result = module.code_for_node(wrap_long_lines(module.body[0], module, 79, ORIGINAL))
    lines = result.splitlines()
    start = lines.index("        return client.get(")
    assert lines[start + 1 : start + 3] == [
        '            url, timeout=10.0, headers={"Authorization": "Bearer secret"}',
        "        )",
    ]
    start = lines.index("    limit = some_function_with_a_long_name(")
    assert lines[start + 1 : start + 3] == ["        argument_one, argument_two, argument_3", "    )"]

"""The codemod's excerpts (issue 16): libcst is handed only the top-level statements an edit reads or
changes, and the result must be byte for byte what the whole-module path gives.

Every comparison runs both paths on the same input: `rewrite_module`/`apply_import_changes` with
the module's `TopLevel` (the excerpt path) and without it (the whole module, as before).
"""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import given, settings
from libcst.codemod import CodemodContext
from libcst.metadata import MetadataWrapper, PositionProvider

import codemods.imports as imports_module
import codemods.shared_client as shared_client_module
from codemods.imports import apply_import_changes
from codemods.shared_client import rewrite_module
from codemods.toplevel import (
    Excerpt,
    NeedsWholeModule,
    Verbatim,
    parse_partly,
    read_top_level,
    statement_positions,
)
from pool_refactor.fix.rewrite import RewriteOptions, rewrite_file
from pool_refactor.fix.rewrite import _scan as rewrite_module_scan
from pool_refactor.paths import DiscoveredFile
from pool_refactor.plan.analyze import analyze_source, scan_loaded
from pool_refactor.scan.findings import Applicability, FileError
from pool_refactor.scan.source import decode_source
from tests.test_fix_fixtures import ACCESSOR_MODULE, CASES
from tests.test_properties import FAST, client_modules


def both_paths(text: str, unsafe: bool = True) -> tuple[str, str] | None:
    """(whole-module output, excerpt output), or None when nothing is planned."""
    findings = analyze_source(text, "input.py")
    allowed = {Applicability.SAFE, Applicability.UNSAFE} if unsafe else {Applicability.SAFE}
    plans = {f.span: f.plan for f in findings if f.plan and not f.suppressed and f.applicability in allowed}
    if not plans:
        return None
    outputs = []
    for use_top in (False, True):
        module = cst.parse_module(text)
        top = read_top_level(module, text) if use_top else None
        context = CodemodContext()
        new, applied = rewrite_module(module, plans, ACCESSOR_MODULE, context, top)
        assert applied == set(plans)
        outputs.append(apply_import_changes(new, context, top).code)
    return outputs[0], outputs[1]


def partly_parsed(text: str) -> str | None:
    """The output through `parse_partly` (libcst parses only what the edit reads), or None when
    that path declines, as the fixer first tries it."""
    findings = analyze_source(text, "input.py")
    allowed = {Applicability.SAFE, Applicability.UNSAFE}  # as `both_paths`
    plans = {f.span: f.plan for f in findings if f.plan and not f.suppressed and f.applicability in allowed}
    parts = parse_partly(text, ast.parse(text), [span[0] for span in plans])
    if parts is None:
        return None
    context = CodemodContext()
    try:
        new, _ = rewrite_module(parts[0], plans, ACCESSOR_MODULE, context, parts[1], partial=True)
        return apply_import_changes(new, context, parts[1], partial=True).code
    except NeedsWholeModule:
        return None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_fix_fixture_gives_the_same_bytes_through_the_excerpt(case: object) -> None:
    text = decode_source((case / "input.py").read_bytes()).text  # type: ignore[operator]
    result = both_paths(text)
    if result is not None:
        assert result[1] == result[0]
        assert partly_parsed(text) in (None, result[0])


@settings(FAST, max_examples=40)
@given(client_modules())
def test_generated_client_modules_give_the_same_bytes_through_the_excerpt(data: bytes) -> None:
    text = decode_source(data).text
    result = both_paths(text)
    if result is not None:
        assert result[1] == result[0]
        assert partly_parsed(text) in (None, result[0])


EDGE_CASES = {
    "import_after_code_is_removed": (
        "import logging\nlog = logging.getLogger()\nimport httpx\n\n\n"
        "async def f(url):\n    async with httpx.AsyncClient() as c:\n        return await c.get(url)\n"
    ),
    "comment_above_a_removed_import_moves_on": (
        '"""Doc."""\n\n# the client library\nimport httpx\n# the next one\nimport os\n\n\n'
        "def f(url):\n    with httpx.Client() as c:\n        return c.get(url, headers={'a': os.sep})\n"
    ),
    "decorated_method_in_a_class": (
        "import functools\n\nimport httpx\n\n\nclass A:\n    # comment\n\n    @functools.wraps(print)\n"
        "    @staticmethod\n    def f(url):\n        with httpx.Client(timeout=3) as c:\n"
        "            return c.get(url)\n\n\nx = 1; y = 2\n"
    ),
    "several_statements_on_a_line": (
        "import httpx; import os\nA = 1; B = 2\n\n\ndef f(url):\n    r = httpx.get(url); return r\n"
    ),
    "header_comments_and_carriage_returns": (
        "#!/usr/bin/env python\r\n# header\r\n\r\nimport httpx\r\n\r\n\r\n"
        "def f(url):\r\n    with httpx.Client() as c:\r\n        return c.get(url)\r\n"
    ),
    "function_local_import_and_blank_line": (
        "def f(url):\n    import httpx\n\n    with httpx.Client() as c:\n        return c.get(url)\n\n\n"
        "def g():\n    import httpx\n    return httpx\n"
    ),
    "import_in_try_at_module_level": (
        "try:\n    import httpx\nexcept ImportError:\n    httpx = None\n\n\n"
        "def f(url):\n    with httpx.Client() as c:\n        return c.get(url)\n"
    ),
    "trailing_comment_indented_after_the_last_function": (
        "import httpx\n\n\ndef f(url):\n    c = httpx.Client()\n    try:\n        return c.get(url)\n"
        "    finally:\n        c.close()\n        # closed\n# end\n"
    ),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_give_the_same_bytes_through_the_excerpt(name: str) -> None:
    result = both_paths(EDGE_CASES[name])
    assert result is not None, "each edge case has a site to fix"
    assert result[1] == result[0]
    assert result[1] != EDGE_CASES[name]
    assert partly_parsed(EDGE_CASES[name]) in (None, result[0])


def test_the_excerpt_path_is_the_one_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparisons above would pass trivially if the excerpt path always fell back."""
    calls = {"statements": 0, "imports": 0}
    rewrite, imports = shared_client_module._rewrite_statements, imports_module._apply_in_excerpt

    def counting_rewrite(*args: object) -> object:
        result = rewrite(*args)  # type: ignore[arg-type]
        calls["statements"] += result[0] is not None
        return result

    def counting_imports(*args: object) -> object:
        result = imports(*args)  # type: ignore[arg-type]
        calls["imports"] += 1
        return result

    monkeypatch.setattr(shared_client_module, "_rewrite_statements", counting_rewrite)
    monkeypatch.setattr(imports_module, "_apply_in_excerpt", counting_imports)
    both_paths(EDGE_CASES["comment_above_a_removed_import_moves_on"])
    assert calls == {"statements": 1, "imports": 1}


def test_a_removed_import_after_the_head_falls_back_to_the_whole_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fallbacks = []
    real = imports_module._apply_in_excerpt

    def spy(*args: object) -> object:
        try:
            return real(*args)  # type: ignore[arg-type]
        except imports_module._WholeModule:
            fallbacks.append(True)
            raise

    monkeypatch.setattr(imports_module, "_apply_in_excerpt", spy)
    result = both_paths(EDGE_CASES["import_after_code_is_removed"])
    assert result is not None and result[0] == result[1]
    assert "import httpx" not in result[1]
    assert fallbacks == [True]
    text = EDGE_CASES["import_after_code_is_removed"]
    assert partly_parsed(text) is None  # the partial parse declines (`NeedsWholeModule`), never guesses


@pytest.mark.parametrize("case", CASES[:40], ids=[c.name for c in CASES[:40]])
def test_statement_positions_are_the_whole_module_positions(case: object) -> None:
    text = decode_source((case / "input.py").read_bytes()).text  # type: ignore[operator]
    module = cst.parse_module(text)
    top = read_top_level(module, text)
    assert top is not None
    whole = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    for index, statement in enumerate(module.body):
        local = statement_positions(module, statement, top.first_lines[index])
        assert local is not None
        for node, span in local.items():
            if node is statement or isinstance(node, cst.Module):
                continue  # the statement's own span starts after its leading lines either way
            assert whole[node] == span


def test_read_top_level_pairs_statements() -> None:
    text = "import a; import b\n\n@dec\nclass C:\n    x = 1\n\nif x:\n    y = 2\n"
    module = cst.parse_module(text)
    top = read_top_level(module, text)
    assert top is not None
    assert top.first_lines == (1, 3, 7)
    assert top.last_lines == (1, 5, 8)
    assert top.has_import == (True, False, False)
    assert top.holding([4, 8]) == [1, 2]
    assert top.holding([2]) is None  # a blank line belongs to no statement
    assert read_top_level(module, "x = (") is None


def test_excerpt_reassembles_around_a_grown_head() -> None:
    module = cst.parse_module("import a\nx = 1\ny = 2\nz = 3\n")
    excerpt = Excerpt(module, (0, 1, 3), 2)
    part = excerpt.module()
    assert part.code == "import a\nx = 1\nz = 3\n"
    grown = part.with_changes(
        body=[cst.parse_statement("import b\n"), *part.body[:-1], cst.parse_statement("z = 4\n")]
    )
    assert excerpt.reassemble(grown).code == "import b\nimport a\nx = 1\ny = 2\nz = 4\n"


def test_method_positions_are_the_whole_module_positions() -> None:
    """A method rewritten alone (its class holds other methods): lines and columns as in the file."""
    text = (
        "import httpx\n\n\nclass Notify:\n    '''Doc.'''\n\n    x = 1; y = 2\n\n    @staticmethod\n"
        "    def send(url, body):\n        with httpx.Client(timeout=3) as c:\n"
        "            return c.post(url, json={'a': [1, 2],\n                                    'b': 3})\n\n"
        "    async def other(self):\n        return 1\n"
    )
    module = cst.parse_module(text)
    top = read_top_level(module, text)
    assert top is not None and top.members[1] is not None
    whole = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    klass = module.body[1]
    assert isinstance(klass, cst.ClassDef) and isinstance(klass.body, cst.IndentedBlock)
    total = 0
    for member, (first, _) in zip(klass.body.body, top.members[1], strict=True):
        local = statement_positions(module, member, first, "    ")
        assert local is not None
        # What the rewrite locates by position: calls, and names inside them. (A node that ends
        # with its line's newline ends at column 0 of the next line in both readings; the column
        # shift is only exact for nodes inside the indented lines.)
        checked = [n for n in local if isinstance(n, cst.Call | cst.Name | cst.Attribute | cst.Decorator)]
        total += len(checked)
        for node in checked:
            assert whole[node] == local[node], node
    assert total > 10


def test_a_class_is_rewritten_one_method_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = shared_client_module._rewrite_one

    def spy(module: cst.Module, statement: cst.BaseStatement, *args: object) -> object:
        seen.append(type(statement).__name__)
        return real(module, statement, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(shared_client_module, "_rewrite_one", spy)
    result = both_paths(EDGE_CASES["decorated_method_in_a_class"])
    assert result is not None and result[0] == result[1]
    assert seen == ["FunctionDef"]


def test_read_top_level_with_the_tree_already_parsed() -> None:
    """The fixer hands over its re-scan's tree; the facts are those of parsing the text again."""
    text = "import a; import b\n\n@dec\nclass C:\n    x = 1\n    import c\n\nif x:\n    y = 2\n"
    module = cst.parse_module(text)
    assert read_top_level(module, text, ast.parse(text)) == read_top_level(module, text)


@pytest.mark.parametrize(
    "text",
    [
        "import httpx\n\n\nasync def f(url):\n    async with httpx.AsyncClient() as c:\n"
        "        return await c.get(url)\n",
        "import httpx\n\ndef f(:\n",  # a syntax error: scan_loaded's own message
        "import os\n",  # no client library: not parsed
        "import httpx\n" + "x = (" * 400 + "1" + ")" * 400 + "\n",  # too deep for the scan, or not
    ],
)
def test_the_fixers_rescan_is_scan_loaded(text: str) -> None:
    source = decode_source(text.encode())
    scan, tree = rewrite_module_scan(source, "input.py")
    assert scan == scan_loaded(source, "input.py")
    assert (tree is not None) == (scan.parsed and scan.error is None)


def _partly(text: str, lines: tuple[int, ...] = ()) -> tuple[cst.Module, object] | None:
    return parse_partly(text, ast.parse(text), lines)


PADDED = (
    "import os\n\n\ndef first():\n    return 1\n\n\n# about g\ndef g():\n    return os.sep\n\n\n"
    "@decorator\nclass Late:\n    x = 1\n\n\nA = 1; B = 2\n"
)


def test_partial_parse_keeps_unread_statements_as_their_text() -> None:
    parts = _partly(PADDED, (14,))  # a line of `Late`
    assert parts is not None
    module, top = parts
    kinds = [type(s).__name__ for s in module.body]
    # the head (import + next), the first indented block, `Late`; `g` (no import) and the last line kept
    assert kinds == ["SimpleStatementLine", "FunctionDef", "Verbatim", "ClassDef", "Verbatim"]
    assert module.code == PADDED
    verbatim = module.body[2]
    assert isinstance(verbatim, Verbatim) and verbatim.text == "\n\n# about g\ndef g():\n    return os.sep\n"
    assert top.first_lines == (1, 4, 9, 13, 18)  # type: ignore[attr-defined]
    assert module.body[4].visit(cst.CSTTransformer()) is module.body[4]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("import os\nx = 1", "no newline at the end"),
        ("import os\rx = 1\n", "a lone carriage return"),
        ("def f():\n    pass\n    # the block's\nx = 1\n", "an indented comment between statements"),
        ("if a: b\nelif c:\n\td\n", "the first indented line is not in a block of the first statement"),
        ("import os\n\n\n@(\n    wraps\n)\ndef f():\n    pass\n", "a decorator the ast dates after its `@`"),
        ("x = 1 \\\n\ny = 2\n", "a line continued into the lines between statements"),
        ("import os\n\n\ndef f():\n    pass\n        \n\nx = 1\n", "whitespace the block above may hold"),
        ("import os\nx = 1; \\\n# c\nimport json\n", "a comment the backslash carries the line on over"),
        ("import os\nx = 1\n\n    # end\n", "an indented comment after the last statement"),
    ],
)
def test_partial_parse_declines(text: str, why: str) -> None:
    assert _partly(text) is None, why


def test_partial_parse_infers_the_whole_modules_indentation() -> None:
    text = "import os\n\n\ndef f():\n  return os\n\n\ndef g():\n    return 2\n"
    parts = _partly(text)
    assert parts is not None
    assert parts[0].default_indent == cst.parse_module(text).default_indent == "  "
    assert isinstance(parts[0].body[2], Verbatim)


def test_an_edit_needing_the_whole_module_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the excerpt declined, the partly parsed module is never walked whole."""
    text = EDGE_CASES["decorated_method_in_a_class"]
    findings = analyze_source(text, "input.py")
    plans = {f.span: f.plan for f in findings if f.plan}
    parts = _partly(text, tuple(span[0] for span in plans))
    assert parts is not None
    monkeypatch.setattr(shared_client_module, "_rewrite_statements", lambda *a: (None, set()))
    with pytest.raises(NeedsWholeModule):
        rewrite_module(parts[0], plans, ACCESSOR_MODULE, CodemodContext(), parts[1], partial=True)  # type: ignore[arg-type]


CLASS_WITH_METHODS = (
    'import httpx\n\n\nclass Api:\n    """Doc."""\n\n    def a(self):\n        return 1\n\n'
    "    def get(self, url):\n        with httpx.Client() as c:\n            return c.get(url)\n\n"
    "    @property\n    def b(self):\n        return 2\n\n    def c(self):\n        return 3\n"
)


def test_members_no_edit_reads_are_kept_as_text() -> None:
    parts = _partly(CLASS_WITH_METHODS, (11,))
    assert parts is not None
    block = parts[0].body[1].body  # type: ignore[attr-defined]
    kinds = [type(member).__name__ for member in block.body]
    assert kinds == ["SimpleStatementLine", "Verbatim", "FunctionDef", "Verbatim", "Verbatim"]
    assert parts[0].code == CLASS_WITH_METHODS
    result = both_paths(CLASS_WITH_METHODS)
    assert result is not None and partly_parsed(CLASS_WITH_METHODS) == result[0]


@pytest.mark.parametrize(
    ("between", "why"),
    [
        ("        # its own\n\n", "a comment the method above may hold"),
        ("\n        \n", "whitespace the method above may hold"),
    ],
)
def test_members_are_parsed_whole_where_a_method_may_hold_the_lines_below(between: str, why: str) -> None:
    text = CLASS_WITH_METHODS.replace("        return 1\n\n", "        return 1\n" + between, 1)
    parts = _partly(text, (11,))
    assert parts is not None, why
    block = parts[0].body[1].body  # type: ignore[attr-defined]
    assert not any(isinstance(member, Verbatim) for member in block.body), why


def test_a_file_libcst_does_not_write_back_is_not_fixed(tmp_path: Path) -> None:
    """libcst loses a blank line above an indented comment that ends a file: the whole-module
    path refuses such a file (the partial parse declines it first) rather than lose the line."""
    text = (
        "import httpx\n\n\ndef f(url):\n    with httpx.Client() as c:\n        return c.get(url)\n\n\n"
        "x = 1\n\n    # the end\n"
    )
    assert cst.parse_module(text).code != text  # libcst's own bug, which this guards against
    (tmp_path / "app.py").write_text(text)
    options = RewriteOptions(project_root=tmp_path)
    result = rewrite_file(DiscoveredFile(str(tmp_path / "app.py"), "app.py"), options)
    assert isinstance(result, FileError)
    assert "libcst does not write this file back exactly as it reads it" in result.message

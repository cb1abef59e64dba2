"""Wiring through an excerpt of a file (`pool_refactor.fix.wiring.excerpt`): libcst parses only the
statements the wiring reads or edits, and the output is byte for byte what parsing the whole file
gives. Each case runs `plan_wiring` twice, with excerpts and with them turned off, and compares."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest

from pool_refactor.fix import wiring
from pool_refactor.fix.wiring import WiringEdit, WiringNote, plan_wiring
from pool_refactor.fix.wiring.excerpt import cut
from tests.wiring_support import every_module_declared

ACCESSOR = "shop.http_client"
FILLER = "".join(f"\n\ndef helper_{i}(x):\n    # step {i}\n    return x + {i}\n" for i in range(30))


def _plan(tree: dict[str, str]) -> tuple[list[WiringEdit], list[WiringNote]]:
    """Every module of the tree is a declared entry point (`tests/wiring_support.py`)."""
    return plan_wiring(
        [(Path(rel), text) for rel, text in tree.items()],
        ACCESSOR,
        {"httpx-async"},
        True,
        False,
        project_root=every_module_declared(tree),
    )


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The number of lines of each text libcst parses as a module."""
    sizes: list[int] = []
    original = cst.parse_module

    def spy(source: str | bytes, config: cst.PartialParserConfig | None = None) -> cst.Module:
        assert isinstance(source, str)
        sizes.append(source.count("\n"))
        return original(source) if config is None else original(source, config)

    monkeypatch.setattr(cst, "parse_module", spy)
    yield sizes


def _whole(
    tree: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[WiringEdit], list[WiringNote]]:
    with monkeypatch.context() as patch:
        patch.setattr(wiring._Planner, "_excerpt", lambda self, text, syntax: None)
        return _plan(tree)


def _indented(text: str) -> str:
    return "".join("    " + line if line.strip() else line for line in text.splitlines(keepends=True))


CASES: dict[str, dict[str, str]] = {
    "module_level_app_with_handlers_far_below": {
        "shop/__init__.py": "",
        "shop/main.py": (
            '"""Service."""\n'
            "import os\n"
            "from fastapi import FastAPI\n"
            "from shop.http_client import get_http_client\n"
            "\n"
            "DEBUG = os.environ.get('DEBUG')\n"
            + FILLER
            + "\n\napp = FastAPI(title='shop')\n"
            + FILLER.replace("helper_", "more_")
            + "\n\n@app.on_event('startup')\nasync def start():\n    pass\n"
            + FILLER.replace("helper_", "late_")
            + "\n\napp.include_router(object())  # routes\n"
            + FILLER.replace("helper_", "last_")
            + "\n# trailing comment\n"
        ),
    },
    "lifespan_imported_under_an_alias_crlf": {
        "shop/__init__.py": "",
        "shop/life.py": (
            "from contextlib import asynccontextmanager\r\n"
            + FILLER.replace("\n", "\r\n")
            + "\r\n\r\n@asynccontextmanager\r\nasync def lifespan(app):\r\n    try:\r\n        yield\r\n"
            "    finally:\r\n        pass  # done\r\n"
            + FILLER.replace("helper_", "other_").replace("\n", "\r\n")
        ),
        "shop/main.py": (
            "from fastapi import FastAPI\n"
            "from shop.life import lifespan as app_lifespan\n"
            + FILLER
            + "\n\ndef build():\n    if True:\n        app = FastAPI(lifespan=app_lifespan)\n    return app\n"
            + FILLER.replace("helper_", "more_")
        ),
    },
    "app_in_a_long_if_block_with_handlers_and_an_else": {
        "shop/__init__.py": "",
        "shop/main.py": (
            "import os\nfrom fastapi import FastAPI\n\nAVAILABLE = os.environ.get('AVAILABLE')\n"
            + FILLER.replace("helper_", "top_")
            + "\n\nif AVAILABLE:\n"
            + _indented(FILLER)
            + "\n    app = FastAPI(title='shop')\n"
            + _indented(FILLER.replace("helper_", "more_"))
            + "\n    @app.on_event('shutdown')\n    async def stop():\n        await close_db()\n"
            + _indented(FILLER.replace("helper_", "late_"))
            + "\n    if os.environ.get('ROUTES'):\n        app.include_router(object())  # routes\n"
            + _indented(FILLER.replace("helper_", "last_"))
            + "    # the block's trailing comment\n"
            "else:\n"
            + _indented(FILLER.replace("helper_", "other_"))
            + "\n    other = FastAPI()\n    other.include_router(object())\n"
            + _indented(FILLER.replace("helper_", "final_"))
        ),
    },
    "app_in_a_try_and_an_elif_with_a_lifespan": {
        "shop/__init__.py": "",
        "shop/main.py": (
            "import os\nfrom contextlib import asynccontextmanager\nfrom fastapi import FastAPI\n\n\n"
            "@asynccontextmanager\nasync def lifespan(app):\n    yield\n\n\n"
            "try:\n"
            + _indented(FILLER)
            + "\n    for _ in range(1):\n"
            + _indented(_indented(FILLER.replace("helper_", "loop_")))
            + "\n        app = FastAPI(lifespan=lifespan)\n"
            + _indented(_indented(FILLER.replace("helper_", "loop_more_")))
            + "\nexcept ImportError:\n    app = None\n"
            + "\nif os.environ.get('A'):\n"
            + _indented(FILLER.replace("helper_", "a_"))
            + "elif os.environ.get('B'):\n"
            + _indented(FILLER.replace("helper_", "b_"))
            + "\n    b = FastAPI(lifespan=lifespan)\n"
            + _indented(FILLER.replace("helper_", "b_more_"))
        ),
    },
    # A shutdown handler one block deeper than the application (found in review): the block that
    # holds it is kept whole, so the close still goes at the end of the handler.
    "shutdown_handler_in_an_if_inside_the_apps_block": {
        "shop/__init__.py": "",
        "shop/main.py": (
            "from fastapi import FastAPI\n\nTESTING = False\n"
            + FILLER
            + "\n\nif True:\n"
            + _indented(FILLER.replace("helper_", "in_"))
            + "\n    app = FastAPI()\n    x = 1\n    if not TESTING:\n"
            + "        @app.on_event('shutdown')\n        async def close_things():\n"
            + "            print('bye')\n"
            + "    y = 2\n"
            + _indented(FILLER.replace("helper_", "after_"))
        ),
    },
    "shutdown_handler_in_a_try_inside_the_apps_block": {
        "shop/__init__.py": "",
        "shop/main.py": (
            "from fastapi import FastAPI\n"
            + FILLER
            + "\n\nif True:\n"
            + _indented(FILLER.replace("helper_", "in_"))
            + "\n    app = FastAPI()\n    try:\n"
            + "        @app.on_event('shutdown')\n        async def close_things():\n"
            + "            print('bye')\n"
            + "    except ImportError:\n        pass\n"
            + _indented(FILLER.replace("helper_", "after_"))
        ),
    },
    "shutdown_handler_and_semicolons_no_final_newline": {
        "shop/__init__.py": "",
        "shop/main.py": (
            "from fastapi import FastAPI\n"
            "x = 1; y = 2\n"
            + FILLER
            + "\n\napp = FastAPI()\n"
            + FILLER.replace("helper_", "more_")
            + "\n\n@app.on_event('shutdown')\nasync def stop():\n    await close_db()\n"
            "    # indented trailing comment\n" + FILLER.replace("helper_", "late_") + "\na = 1; b = 2"
        ),
    },
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_excerpt_gives_what_the_whole_file_gives(
    name: str, parsed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = CASES[name]
    edits, notes = _plan(tree)
    excerpt_sizes = list(parsed)
    assert edits, "the case wires something"
    assert (edits, notes) == _whole(tree, monkeypatch)
    longest = max(text.count("\n") for text in tree.values())
    assert max(excerpt_sizes) < longest / 2, "libcst was handed an excerpt, not the whole file"


def test_the_close_goes_after_the_last_statement_of_a_handler_before_its_trailing_comment() -> None:
    tree = CASES["shutdown_handler_and_semicolons_no_final_newline"]
    edits, _ = _plan(tree)
    (edit,) = edits
    assert (
        "    await close_db()\n    await aclose_http_clients()\n    # indented trailing comment\n"
        in edit.new_text
    )
    assert edit.new_text.endswith("\na = 1; b = 2")


@pytest.mark.parametrize(
    "text",
    [
        "import a\n\n\ndef f():\n    pass\n    # inner\n\n# outer\nx = 1; y = 2\n\n"
        "@d\nclass C:\n    pass\n# end\n",
        "import a\r\n\r\ndef f():\r\n    pass\r\n\r\nx = 1\r\ny = 2",
        '"""doc"""\nimport a\nimport b\nz = 0\nw = (\n    1,\n)\nv = 3\n',
    ],
)
def test_cut_and_splice_give_the_text_back(text: str) -> None:
    tree = ast.parse(text)
    for wanted in ([], [len(tree.body) - 1], list(range(len(tree.body)))):
        part = cut(text, tree, wanted)
        if part is None:
            continue
        assert part.splice(part.text, text) == text
        assert cst.parse_module(part.text).code == part.text


def test_no_excerpt_where_a_lone_carriage_return_would_make_lines_ambiguous() -> None:
    text = "import a\rx = 1\n" + "y = 2\n" * 10
    assert cut(text, ast.parse(text), []) is None


NESTED = (
    "import a\n\nif a:\n    x = 1\n    # a comment\n    y = 2\n    try:\n        z = 3\n        w = 4\n"
    "        v = 5\n    except E: pass\n    else:\n        u = 6\n        t = 7\n    s = 8\n"
    "elif b:\n    r = 1\n"
    "else: q = 2\n\n@d\nclass C:\n    pass\n"
)


@pytest.mark.parametrize("deepest", ["w", "u", "x", "r"])
def test_an_excerpt_cuts_into_the_blocks_that_hold_what_it_keeps(deepest: str) -> None:
    tree = ast.parse(NESTED)
    chain = next(
        [top, *(n for n in ast.walk(top) if isinstance(n, ast.stmt) and n is not top and _holds(n, deepest))]
        for top in tree.body
        if _holds(top, deepest)
    )
    part = cut(NESTED, tree, [], chain)
    assert part is not None
    assert part.splice(part.text, NESTED) == NESTED
    assert cst.parse_module(part.text).code == part.text
    kept = ast.parse(part.text)
    assert any(isinstance(n, ast.Name) and n.id == deepest for n in ast.walk(kept))
    if deepest == "w":  # the statements before it and two after it in its block are left out
        assert "z = 3" not in part.text and "v = 5" in part.text and "s = 8" in part.text
        assert "u = 6" not in part.text and "    # a comment\n" not in part.text
    if deepest == "r":  # an `elif` is not cut into, nor a block on its header's line
        assert "    r = 1\nelse: q = 2\n" in part.text


def _holds(node: ast.stmt, name: str) -> bool:
    return any(
        isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name) and n.targets[0].id == name
        for n in ast.walk(node)
    )

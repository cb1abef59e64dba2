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

"""What keeps the wiring small on a large package (issue 16), and that it plans exactly what it
planned before: a long module's tree is read part by part and pruned as it is read
(`wiring._SyntaxReader`), let go once the planner is done with it (`_Planner._release`), the package's
texts are held compactly (`wiring.texts.PackageTexts`), and glibc maps large blocks
(`toplevel.map_large_allocations`)."""

from __future__ import annotations

import ast
import gc
import sys
from pathlib import Path
from typing import Any

import pytest

from codemods import toplevel
from pool_refactor.fix import wiring
from pool_refactor.fix.wiring import WiringEdit, WiringNote
from pool_refactor.fix.wiring.excerpt import cut, parse_in_parts
from pool_refactor.fix.wiring.texts import COMPACT_FROM_BYTES, PackageTexts, paths_of
from tests.test_wiring_excerpt import CASES, FILLER, _plan

ROUTES = "".join(
    f"\n\n@router.get('/r{i}')\nasync def route_{i}(x: int) -> dict:\n    return {{'x': x + {i}}}\n"
    for i in range(40)
)
LONG_CASES: dict[str, dict[str, str]] = {
    **CASES,
    "app_built_in_a_factory_among_routes": {
        "shop/__init__.py": "",
        "shop/main.py": (
            "from fastapi import APIRouter, FastAPI\n\nrouter = APIRouter()\n"
            + ROUTES
            + "\n\ndef create_app():\n    app = FastAPI()\n    app.include_router(router)\n    return app\n"
            + ROUTES.replace("route_", "late_")
        ),
    },
    "app_in_a_module_level_block_with_a_shutdown_handler_in_a_class": {
        "shop/__init__.py": "",
        "shop/main.py": (
            "import os\nfrom fastapi import FastAPI\n"
            + FILLER
            + "\n\nif os.environ.get('SERVE'):\n    app = FastAPI()\n\n"
            "    @app.on_event('shutdown')\n    async def stop():\n        pass\n"
            + "\n\nclass Holder:\n    def build(self):\n        return FastAPI()\n"
            + FILLER.replace("helper_", "more_")
        ),
    },
}


def _plans(tree: dict[str, str], monkeypatch: pytest.MonkeyPatch, threshold: int) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(wiring, "RELEASE_FROM_CHARS", threshold)
        return _plan(tree)


@pytest.mark.parametrize("name", sorted(LONG_CASES))
def test_pruned_reading_plans_what_the_whole_reading_plans(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = LONG_CASES[name]
    pruned: list[bool] = []
    original = wiring._SyntaxReader.finish

    def spy(self: wiring._SyntaxReader, *args: Any, **kwargs: Any) -> wiring._Syntax:
        pruned.append(self.pruned)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(wiring._SyntaxReader, "finish", spy)
    expected = _plans(tree, monkeypatch, 10**9)  # nothing pruned, nothing released
    assert not any(pruned)
    got = _plans(tree, monkeypatch, 1)  # every file read pruned, and released after its turn
    assert any(pruned), "the case prunes something"
    assert got == expected
    assert got[0], "the case wires something"


@pytest.mark.parametrize("name", sorted(LONG_CASES))
def test_a_pruned_file_edited_whole_is_read_again_whole(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = LONG_CASES[name]
    monkeypatch.setattr(wiring._Planner, "_excerpt", lambda self, text, syntax: None)
    assert _plans(tree, monkeypatch, 1) == _plans(tree, monkeypatch, 10**9)


def _read(text: str) -> tuple[ast.Module, wiring._Syntax]:
    reader = wiring._SyntaxReader(text, prune=True)
    tree = parse_in_parts(text, 200, on_part=reader.read)
    return tree, reader.finish(tree)


def test_only_the_definitions_that_spell_an_application_class_keep_their_body() -> None:
    text = LONG_CASES["app_built_in_a_factory_among_routes"]["shop/main.py"]
    tree, syntax = _read(text)
    whole = wiring._read_syntax(ast.parse(text), text)
    kept = [
        node.name
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.body
    ]
    assert kept == ["create_app"]
    assert syntax.pruned
    assert syntax.names == whole.names  # read before the bodies went
    assert syntax.bindings == whole.bindings
    assert [ast.dump(call) for call, _chain in syntax.apps] == [ast.dump(call) for call, _chain in whole.apps]
    lines = [(n.lineno, n.end_lineno) for n in tree.body]
    assert lines == [(n.lineno, n.end_lineno) for n in ast.parse(text).body]  # what the excerpt cuts by


@pytest.mark.parametrize(
    "head",
    [
        "from fastapi import FastAPI as Api\n",
        "from fastapi import (FastAPI  # the class\n    as Api)\n",
        "from fastapi import FastAPI \\\n    as Api\n",
        "from django.core.asgi import get_asgi_application\n",
    ],
)
def test_no_pruning_where_an_application_may_be_built_under_another_name(head: str) -> None:
    text = head + ROUTES * 30
    assert len(text) >= wiring.RELEASE_FROM_CHARS
    assert not wiring._may_prune(text)
    assert wiring._may_prune("from fastapi import FastAPI\n# FastAPI\n# as a framework\n" + ROUTES * 30)


def test_reading_a_tree_leaves_no_reference_to_its_statements() -> None:
    """The walk used to call itself through its closure, a cycle that kept every statement alive
    until the cyclic collector ran."""
    text = LONG_CASES["app_built_in_a_factory_among_routes"]["shop/main.py"]
    tree = ast.parse(text)
    before = [sys.getrefcount(node) for node in tree.body]
    gc.disable()
    try:
        syntax = wiring._read_syntax(tree, text)
        del syntax
        after = [sys.getrefcount(node) for node in tree.body]
    finally:
        gc.enable()
    assert after == before


def test_parts_are_handed_over_in_order_and_a_whole_parse_starts_again() -> None:
    text = LONG_CASES["app_built_in_a_factory_among_routes"]["shop/main.py"]
    seen: list[tuple[int, bool]] = []
    tree = parse_in_parts(text, 200, on_part=lambda body, first: seen.append((len(body), first)))
    assert len(seen) > 10
    assert [first for _n, first in seen] == [True] + [False] * (len(seen) - 1)
    assert sum(n for n, _first in seen) == len(tree.body)
    seen.clear()
    broken = text + "def broken(:\n"
    with pytest.raises(SyntaxError):
        parse_in_parts(broken, 200, on_part=lambda body, first: seen.append((len(body), first)))
    seen.clear()
    future = text + "from __future__ import annotations\n"  # a part cannot tell: the whole is parsed
    parse_in_parts(future, 200, on_part=lambda body, first: seen.append((len(body), first)))
    assert len(seen) > 10, "parts were handed over before the whole text was parsed"
    assert seen[-1] == (len(ast.parse(future).body), True)
    crlf = text.replace("\n", "\r\n", 1)  # parsed whole: one part, the first
    parse_in_parts(crlf, 200, on_part=lambda body, first: seen.append((len(body), first)))
    assert seen[-1] == (len(ast.parse(crlf).body), True)


def test_decorator_lines_end_parts() -> None:
    seen: list[int] = []
    parse_in_parts(ROUTES * 20, 500, on_part=lambda body, first: seen.append(len(body)))
    assert len(seen) > 20  # a module of decorated routes is no longer one part


WIDE = "# \U0001f600\n" + "x = 'abc'\n" * (COMPACT_FROM_BYTES // 6)


@pytest.mark.parametrize(
    "text",
    ["x = 1\n" * 5000, "s = 'caf\u00e9'\n" * 5000, WIDE, "lone = '\ud800'\n" + WIDE, ""],
)
def test_package_texts_give_back_the_texts(text: str) -> None:
    files = [(Path("a.py"), text), (Path("b.py"), "y = 2\n")]
    texts = PackageTexts(files)
    assert list(texts) == files
    assert texts[0] == files[0]
    assert list(texts[1:]) == files[1:]
    assert list(texts.only([False, True])) == files[1:]
    assert paths_of(texts) == [Path("a.py"), Path("b.py")]
    assert paths_of(files) == [Path("a.py"), Path("b.py")]


def test_only_wide_texts_are_kept_encoded() -> None:
    texts = PackageTexts([(Path("wide.py"), WIDE), (Path("ascii.py"), "x = 1\n" * 50_000)])
    stored = texts._stored
    assert isinstance(stored[0], bytes) and len(stored[0]) < sys.getsizeof(WIDE) / 3
    assert isinstance(stored[1], str)


def test_the_wiring_takes_compact_texts_and_lists_alike() -> None:
    tree = LONG_CASES["app_built_in_a_factory_among_routes"]
    files = [(Path(rel), text) for rel, text in tree.items()]
    root = Path("/nonexistent")
    args = ("shop.http_client", {"httpx-async"}, True, False)
    from_list: tuple[list[WiringEdit], list[WiringNote]] = wiring.plan_wiring(files, *args, project_root=root)
    assert wiring.plan_wiring(PackageTexts(files), *args, project_root=root) == from_list


def test_large_blocks_are_mapped_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    calls: list[tuple[int, int]] = []

    class Libc:
        def mallopt(self, option: int, value: int) -> int:
            calls.append((option, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    monkeypatch.setattr(sys, "platform", "linux")
    toplevel.map_large_allocations()
    assert calls == [(-3, toplevel.MAP_FROM_BYTES)]
    monkeypatch.setattr(sys, "platform", "darwin")
    toplevel.map_large_allocations()
    assert len(calls) == 1


def test_only_the_texts_that_spell_a_word_are_decoded() -> None:
    files = [
        (Path("a.py"), "import fastapi\n"),
        (Path("wide.py"), WIDE + "import fastapi  # \u00e9\n"),
        (Path("b.py"), "x = 1\n"),
        (Path("wide_without.py"), WIDE),
    ]
    texts = PackageTexts(files)
    assert isinstance(texts._stored[1], bytes) and isinstance(texts._stored[3], bytes)
    found = list(texts.mentioning("fastapi", "starlette"))
    assert found == [(0, files[0][0], files[0][1]), (1, files[1][0], files[1][1])]
    assert list(texts.mentioning("nothing")) == []


def test_an_excerpt_holds_no_copy_of_what_it_leaves_out() -> None:
    text = LONG_CASES["app_built_in_a_factory_among_routes"]["shop/main.py"]
    tree = ast.parse(text)
    wanted = [i for i, node in enumerate(tree.body) if getattr(node, "name", "") == "create_app"]
    part = cut(text, tree, wanted)
    assert part is not None and len(part.text) < len(text) / 5
    assert all(isinstance(start, int) and isinstance(end, int) for _marker, start, end in part.gaps)
    edited = part.text.replace("    return app\n", "    app.state.ready = True\n    return app\n")
    assert part.splice(edited, text) == text.replace(
        "    return app\n", "    app.state.ready = True\n    return app\n"
    )
    marker = part.gaps[0][0]
    assert part.splice(part.text.replace(marker, ""), text) is None  # an edit removed a marker
    assert part.splice(part.text + marker, text) is None  # or repeated one

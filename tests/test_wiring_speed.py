"""The cheap paths of `plan_wiring` (see "Cost" in `pool_refactor.fix.wiring`), pinned by behaviour.

The stdlib ast decides which files build an application and where; libcst parses only those files
(and the files holding a lifespan to edit) and walks only the statements the ast pointed at. Each
test gives the exact output; the `fast_paths_only` fixture also makes the whole-module libcst walks
fail, so a test that uses it shows that the cheap path gave that output. No timings here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest

from codemods.imports import ImportBindings
from pool_refactor.fix import wiring
from pool_refactor.fix.wiring import WiringEdit, WiringNote, plan_wiring
from tests.wiring_support import every_module_declared

ACCESSOR = "shop.http_client"
ROOT = Path(__file__).parents[1]

NO_APP_NOTE = WiringNote(
    "shop",
    "No application (FastAPI, Starlette, aiohttp, Litestar, Quart, Sanic) was found, so nothing was "
    "wired. Async clients are closed "
    "when their event loop shuts down through `asyncio.run()` or `asyncio.Runner`; code that keeps "
    "a loop running for the whole process (a worker, `loop.run_forever()`) should call "
    "`await aclose_http_clients()` from `shop.http_client` on that loop at shutdown.",
)


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


def _outputs(edits: list[WiringEdit]) -> dict[str, str]:
    return {edit.path.as_posix(): edit.new_text for edit in edits}


@pytest.fixture
def fast_paths_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail on any whole-module libcst walk: the application search, the import bindings and the
    edits must all go the cheap way."""

    def no_module_walk(self: object, node: cst.Module) -> None:
        raise AssertionError("the whole module was searched for applications")

    def no_bindings(self: object) -> None:
        raise AssertionError("the imports were read with libcst")

    original_apply = wiring._Apply.__init__

    def pruned_apply(self: wiring._Apply, work: wiring._FileWork, pruned: bool) -> None:
        assert pruned, "the edits were applied over the whole module"
        original_apply(self, work, pruned)

    original_functions = wiring._functions

    def functions(node: cst.CSTNode) -> Iterator[cst.FunctionDef]:
        assert not isinstance(node, cst.Module), "the whole module was searched for handlers"
        return original_functions(node)

    monkeypatch.setattr(wiring._AppFinder, "visit_Module", no_module_walk)
    monkeypatch.setattr(ImportBindings, "__init__", no_bindings)
    monkeypatch.setattr(wiring._Apply, "__init__", pruned_apply)
    monkeypatch.setattr(wiring, "_functions", functions)


@pytest.fixture
def libcst_parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The texts libcst is asked to parse as modules, by first line."""
    parsed: list[str] = []
    original = cst.parse_module

    def spy(source: str | bytes, config: cst.PartialParserConfig | None = None) -> cst.Module:
        assert isinstance(source, str)
        parsed.append(source.split("\n", 1)[0])
        return original(source) if config is None else original(source, config)

    monkeypatch.setattr(cst, "parse_module", spy)
    yield parsed


def test_a_file_that_only_mentions_an_application_is_neither_edited_nor_parsed_with_libcst(
    libcst_parses: list[str],
) -> None:
    tree = {
        "shop/__init__.py": "",
        "shop/routes.py": (
            "from fastapi import APIRouter\n"
            "\n"
            "# Never call FastAPI() here: the app is built elsewhere.\n"
            'DOC = "app = FastAPI(title=...)"\n'
            "router = APIRouter()\n"
        ),
    }
    assert _plan(tree) == ([], [NO_APP_NOTE])
    assert libcst_parses == []


@pytest.mark.usefixtures("fast_paths_only")
def test_an_application_built_under_an_import_alias_in_a_function() -> None:
    tree = {
        "shop/__init__.py": "",
        "shop/factory.py": (
            "from fastapi import FastAPI as Api\n"
            "\n"
            "\n"
            "def create_app() -> Api:\n"
            '    app = Api(title="shop")\n'
            "    return app\n"
        ),
    }
    edits, notes = _plan(tree)
    assert notes == []
    assert _outputs(edits) == {
        "shop/factory.py": (
            "from fastapi import FastAPI as Api\n"
            "from shop.http_client import lifespan\n"
            "\n"
            "\n"
            "def create_app() -> Api:\n"
            '    app = Api(title="shop", lifespan=lifespan)\n'
            "    return app\n"
        )
    }
    assert edits[0].description == (
        "passes the generated `lifespan` to `app = FastAPI(...)` in shop/factory.py, which closes the "
        "shared HTTP clients at shutdown"
    )


@pytest.mark.usefixtures("fast_paths_only")
def test_a_lifespan_imported_from_a_file_that_does_not_mention_fastapi_is_wired(
    libcst_parses: list[str],
) -> None:
    tree = {
        "shop/__init__.py": "",
        "shop/main.py": (
            "from fastapi import FastAPI\n"
            "\n"
            "from .startup import lifespan as life\n"
            "\n"
            "app = FastAPI(lifespan=life)\n"
        ),
        "shop/startup.py": (
            "from contextlib import asynccontextmanager\n"
            "\n"
            "\n"
            "@asynccontextmanager\n"
            "async def lifespan(app):\n"
            "    await connect()\n"
            "    yield\n"
            "    await disconnect()\n"
        ),
    }
    edits, notes = _plan(tree)
    assert notes == []
    assert _outputs(edits) == {
        "shop/startup.py": (
            "from contextlib import asynccontextmanager\n"
            "from shop.http_client import aclose_http_clients\n"
            "\n"
            "\n"
            "@asynccontextmanager\n"
            "async def lifespan(app):\n"
            "    await connect()\n"
            "    yield\n"
            "    await disconnect()\n"
            "    await aclose_http_clients()\n"
        )
    }
    assert libcst_parses == ["from fastapi import FastAPI", "from contextlib import asynccontextmanager"]


def test_a_lifespan_missing_from_the_other_file_is_noted_without_parsing_that_file(
    libcst_parses: list[str],
) -> None:
    tree = {
        "shop/__init__.py": "",
        "shop/main.py": (
            "from fastapi import FastAPI\n\nfrom .startup import lifespan\n\n"
            "app = FastAPI(lifespan=lifespan)\n"
        ),
        "shop/startup.py": "lifespan = make_lifespan()\n",
    }
    assert _plan(tree) == (
        [],
        [
            WiringNote(
                "shop/main.py",
                "The lifespan `lifespan` of FastAPI(...) is not defined in the scanned files. Close the "
                "shared HTTP clients at shutdown by hand: `await aclose_http_clients()` from "
                "`shop.http_client` after your lifespan's `yield`, or enter the generated one there "
                "(`async with lifespan(app): yield`).",
            )
        ],
    )
    assert libcst_parses == ["from fastapi import FastAPI"]


@pytest.mark.usefixtures("fast_paths_only")
def test_applications_built_through_fastapi_applications() -> None:
    tree = {
        "shop/__init__.py": "",
        "shop/a.py": "import fastapi.applications\n\napp = fastapi.applications.FastAPI()\n",
        "shop/b.py": 'from fastapi import applications\n\napi = applications.FastAPI(\n    title="b",\n)\n',
    }
    edits, notes = _plan(tree)
    assert notes == []
    assert _outputs(edits) == {
        "shop/a.py": (
            "import fastapi.applications\n"
            "from shop.http_client import lifespan\n"
            "\n"
            "app = fastapi.applications.FastAPI(lifespan=lifespan)\n"
        ),
        "shop/b.py": (
            "from fastapi import applications\n"
            "from shop.http_client import lifespan\n"
            "\n"
            'api = applications.FastAPI(\n    title="b",\n    lifespan=lifespan,\n)\n'
        ),
    }


SHAPES = {
    "class body": "class Holder:\n    app = FastAPI()\n",
    "elif": "if DEBUG:\n    pass\nelif PROD:\n    app = FastAPI()\nelse:\n    app = None\n",
    "else": "if DEBUG:\n    pass\nelse:\n    app = FastAPI()\n",
    "except": "try:\n    import extra\nexcept ImportError:\n    app = FastAPI()\n",
    "try else": "try:\n    import extra\nexcept ImportError:\n    pass\nelse:\n    app = FastAPI()\n",
    "finally": "try:\n    pass\nfinally:\n    app = FastAPI()\n",
    "with": "with settings():\n    app = FastAPI()\n",
    "for else": "for _ in range(1):\n    pass\nelse:\n    app = FastAPI()\n",
    "while else": "while False:\n    pass\nelse:\n    app = FastAPI()\n",
    "match": "match MODE:\n    case 'a':\n        pass\n    case _:\n        app = FastAPI()\n",
    "deep": (
        "async def outer():\n"
        "    if a:\n"
        "        try:\n"
        "            with b:\n"
        "                for c in d:\n"
        "                    app = FastAPI()\n"
        "        finally:\n"
        "            pass\n"
    ),
    "one-line block": "if ENABLED: app = FastAPI()\n",
    "semicolons": "x = 1; app = FastAPI(); y = 2\n",
    "decorator": "@register(FastAPI())\ndef handler():\n    pass\n",
    "lambda and f-string": 'make = lambda: FastAPI()\nlabel = f"{FastAPI()}"\n',
    "nested constructions": "app = wrap(FastAPI(), admin=FastAPI())\n",
    "header": "if FastAPI():\n    pass\nelif FastAPI():\n    pass\n",
}
"""Where a construction can be: each `FastAPI()` gets the generated lifespan."""

FILLER = "".join(
    f"\n\ndef route_{index}(request):\n    return respond(request, {index})\n" for index in range(40)
)
"""Statements around the application that no walk should enter."""


@pytest.mark.usefixtures("fast_paths_only")
@pytest.mark.parametrize("body", SHAPES.values(), ids=SHAPES.keys())
def test_an_application_anywhere_is_found_by_walking_only_the_statements_that_hold_it(body: str) -> None:
    text = "from fastapi import FastAPI\n" + FILLER + "\n\n" + body + FILLER
    edits, notes = _plan({"shop/__init__.py": "", "shop/main.py": text})
    assert notes == []
    expected = (
        "from fastapi import FastAPI\nfrom shop.http_client import lifespan\n"
        + FILLER
        + "\n\n"
        + body.replace("FastAPI()", "FastAPI(lifespan=lifespan)")
        + FILLER
    )
    assert _outputs(edits) == {"shop/main.py": expected}


@pytest.mark.usefixtures("fast_paths_only")
def test_a_shutdown_registration_goes_after_the_routers_in_a_nested_block() -> None:
    tree = {
        "shop/__init__.py": "",
        "shop/app.py": (
            "from fastapi import FastAPI\n"
            "\n"
            "from .routes import router\n"
            "\n"
            "if DEBUG:\n"
            "    pass\n"
            "elif PROD:\n"
            "    try:\n"
            "        app = FastAPI()\n"
            "        app.include_router(router)\n"
            "        log('ready')\n"
            "    finally:\n"
            "        pass\n"
        ),
        "shop/routes.py": (
            "from fastapi import APIRouter\n"
            "\n"
            "router = APIRouter()\n"
            "\n"
            "\n"
            '@router.on_event("startup")\n'
            "async def warm_up():\n"
            "    pass\n"
        ),
    }
    edits, notes = _plan(tree)
    assert notes == []
    assert _outputs(edits) == {
        "shop/app.py": (
            "from fastapi import FastAPI\n"
            "\n"
            "from .routes import router\n"
            "from shop.http_client import aclose_http_clients\n"
            "\n"
            "if DEBUG:\n"
            "    pass\n"
            "elif PROD:\n"
            "    try:\n"
            "        app = FastAPI()\n"
            "        app.include_router(router)\n"
            '        app.add_event_handler("shutdown", aclose_http_clients)\n'
            "        log('ready')\n"
            "    finally:\n"
            "        pass\n"
        )
    }


@pytest.mark.usefixtures("fast_paths_only")
def test_a_shutdown_handler_inside_an_application_factory() -> None:
    source = (
        "from fastapi import FastAPI\n"
        "\n"
        "\n"
        "def create():\n"
        "    app = FastAPI()\n"
        "\n"
        '    @app.on_event("startup")\n'
        "    async def start():\n"
        "        pass\n"
        "\n"
        '    @app.on_event(event_type="shutdown")\n'
        "    async def stop():\n"
        "        await db.close()\n"
        "\n"
        "    return app\n"
    )
    edits, notes = _plan({"shop/__init__.py": "", "shop/app.py": source})
    assert notes == []
    assert _outputs(edits) == {
        "shop/app.py": source.replace(
            "from fastapi import FastAPI\n",
            "from fastapi import FastAPI\nfrom shop.http_client import aclose_http_clients\n",
        ).replace(
            "        await db.close()\n", "        await db.close()\n        await aclose_http_clients()\n"
        )
    }
    assert (
        edits[0].description
        == "closes the shared HTTP clients at the end of the shutdown handler `stop` in shop/app.py"
    )


def test_non_ascii_import_names_are_read_as_libcst_reads_them() -> None:
    """The ast normalises identifiers (`Ｆ` is `F` to it), libcst does not; wiring has always gone by
    libcst's reading, and a file whose imports are not plain ASCII still does."""
    same = {"shop/__init__.py": "", "shop/app.py": "from fastapi import FastAPI as Ｆ\n\napp = Ｆ()\n"}
    edits, notes = _plan(same)
    assert notes == []
    assert _outputs(edits) == {
        "shop/app.py": (
            "from fastapi import FastAPI as Ｆ\nfrom shop.http_client import lifespan\n\n"
            "app = Ｆ(lifespan=lifespan)\n"
        )
    }
    mixed = {"shop/__init__.py": "", "shop/app.py": "from fastapi import FastAPI as Ｆ\n\napp = F()\n"}
    assert _plan(mixed) == ([], [NO_APP_NOTE])


HEAD = "from fastapi import FastAPI\n\nfrom shop.http_client import get_http_client\n\n"
MERGED = (
    "from fastapi import FastAPI\n\nfrom shop.http_client import aclose_http_clients, get_http_client\n\n"
)
LATER = "\n\ndef later():\n    from shop.http_client import {}\n\n    return HttpClients\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            HEAD + "app = FastAPI(on_shutdown=[])\n",
            MERGED + "app = FastAPI(on_shutdown=[aclose_http_clients])\n",
            id="merged import already sorted",
        ),
        pytest.param(
            HEAD + "app = FastAPI()\n",
            "from fastapi import FastAPI\n\nfrom shop.http_client import get_http_client, lifespan\n\n"
            "app = FastAPI(lifespan=lifespan)\n",
            id="merged import sorted again",
        ),
        pytest.param(
            HEAD + "app = FastAPI(on_shutdown=[])\n" + LATER.format("get_http_client, HttpClients"),
            MERGED
            + "app = FastAPI(on_shutdown=[aclose_http_clients])\n"
            + LATER.format("HttpClients, get_http_client"),
            id="an unsorted import in a function is sorted too",
        ),
    ],
)
def test_imports_of_the_generated_module_stay_sorted(source: str, expected: str) -> None:
    edits, notes = _plan({"shop/__init__.py": "", "shop/app.py": source})
    assert notes == []
    assert _outputs(edits) == {"shop/app.py": expected}


LIFECYCLE = "async def lifespan(app):\n    yield\n    await bye()\n"
OTHER = "from fastapi import FastAPI\n\nadmin = FastAPI()\n"
MAIN = (
    "from fastapi import FastAPI\n\nfrom shop.lifecycle import lifespan\n\napp = FastAPI(lifespan=lifespan)\n"
)


@pytest.mark.parametrize(
    ("lifecycle", "order"),
    [
        pytest.param(
            '"""The lifespan of the FastAPI(...) application of shop.main (no fastapi import here)."""\n\n\n'
            + LIFECYCLE,
            ["shop/lifecycle.py", "shop/other.py"],
            id="mentions an application: its own turn",
        ),
        pytest.param(LIFECYCLE, ["shop/other.py", "shop/lifecycle.py"], id="does not: when main.py wants it"),
    ],
)
def test_edits_come_in_the_order_the_files_are_first_wanted(lifecycle: str, order: list[str]) -> None:
    """A file that builds nothing is not parsed in its turn, but its edit keeps the place it
    always had."""
    tree = {
        "shop/__init__.py": "",
        "shop/lifecycle.py": lifecycle,
        "shop/other.py": OTHER,
        "shop/main.py": MAIN,
    }
    edits, notes = _plan(tree)
    assert notes == []
    assert [edit.path.as_posix() for edit in edits] == order
    assert _outputs(edits)["shop/lifecycle.py"].endswith(
        "from shop.http_client import aclose_http_clients\n\n\n"
        "async def lifespan(app):\n    yield\n    await bye()\n    await aclose_http_clients()\n"
    )


def _project_sources() -> list[Path]:
    paths = sorted((ROOT / "pool_refactor").glob("*.py")) + sorted((ROOT / "codemods").glob("*.py"))
    paths += sorted((ROOT / "tests" / "fixtures" / "wiring").rglob("*.py"))
    return paths


def test_the_ast_reading_agrees_with_libcst_on_real_files() -> None:
    """`_read_syntax` finds `_bound_names` and, for plain-ASCII imports, the bindings `ImportBindings`
    finds with libcst."""
    checked = 0
    for path in _project_sources():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        syntax = wiring._read_syntax(tree, text)
        assert syntax.names == wiring._bound_names(tree), path
        bindings = ImportBindings()
        cst.parse_module(text).visit(bindings)
        if syntax.bindings is not None:
            assert syntax.bindings == bindings.names, path
            checked += 1
    assert checked > 30

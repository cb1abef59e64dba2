"""Which applications are wired (`pool_refactor.fix.wiring.reach`): the import graph, the declared
entry points, and an aiohttp application's cleanup running the close at run time."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from pool_refactor.fix.wiring.reach import EntryPoint, ImportGraph, entry_points

FIXTURES = Path(__file__).parent / "fixtures" / "wiring"


def _graph(tree: dict[str, str]) -> ImportGraph:
    return ImportGraph([(Path(rel), text) for rel, text in tree.items()], "shop.http_client")


def test_a_module_reaches_the_shared_clients_through_any_chain_of_imports() -> None:
    graph = _graph(
        {
            "shop/__init__.py": "",
            "shop/main.py": "from shop.api import routes\n",
            "shop/api/__init__.py": "",
            "shop/api/routes.py": "def f():\n    from ..services import users\n",
            "shop/services/__init__.py": "",
            "shop/services/users.py": "from shop.http_client import get_http_client\n",
            "shop/bridges.py": "import os\nfrom fastapi import FastAPI\n",
            "shop/plugin.py": "from shop import bridges\n",
        }
    )
    reached = {
        name for name in ("main", "api/routes", "services/users") if graph.reaches(Path(f"shop/{name}.py"))
    }
    assert reached == {"main", "api/routes", "services/users"}
    assert not graph.reaches(Path("shop/bridges.py"))
    assert not graph.reaches(Path("shop/plugin.py"))


def test_a_package_init_that_reaches_makes_its_importers_reach() -> None:
    graph = _graph(
        {
            "shop/__init__.py": "from .clients import fetch\n",
            "shop/clients.py": "from .http_client import get_http_client\n",
            "shop/web/app.py": "import shop.web.views\n",
            "shop/web/__init__.py": "",
            "shop/web/views.py": "",
        }
    )
    assert graph.reaches(Path("shop/web/app.py"))  # importing shop.web.views runs shop/__init__.py


def test_a_relative_import_of_another_http_client_module_is_not_the_generated_one() -> None:
    graph = _graph(
        {
            "shop/api/views.py": "from .http_client import get\n",
            "shop/api/http_client.py": "",
            "shop/main.py": "from . import http_client\n",
        }
    )
    assert not graph.reaches(Path("shop/api/views.py"))
    assert graph.reaches(Path("shop/main.py"))


def test_entry_points_from_every_place_a_project_declares_them(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project.scripts]\nshop = "shop.cli:main"\n\n[tool.poetry.scripts]\nserve = "shop.serve:run"\n'
        '\n[tool.taskipy.tasks]\nweb = "uvicorn shop.web:app --reload"\n'
    )
    (tmp_path / "setup.cfg").write_text(
        "[options.entry_points]\nconsole_scripts =\n    tool = shop.tool:main\n"
    )
    (tmp_path / "Procfile").write_text("web: gunicorn -k uvicorn.workers.UvicornWorker shop.main:app\n")
    (tmp_path / "Dockerfile").write_text('FROM python:3.12\nCMD ["hypercorn", "shop.asgi:application"]\n')
    (tmp_path / "docker-compose.yml").write_text("services:\n  api:\n    command: fastapi run shop/app.py\n")
    (tmp_path / "compose.worker.yaml").write_text(
        "services:\n  worker:\n    command: python -m shop.worker\n"
    )
    (tmp_path / "gunicorn.conf.py").write_text('wsgi_app = "shop.factory:create_app()"\n')
    code = [(Path("shop/run.py"), 'import uvicorn\n\nuvicorn.run("shop.other:api", port=8000)\n')]
    found = {(e.module, e.path, e.attribute, e.where) for e in entry_points(tmp_path, code)}
    assert found == {
        ("shop.cli", None, None, "pyproject.toml [project.scripts]"),
        ("shop.serve", None, None, "pyproject.toml [tool.poetry.scripts]"),
        ("shop.web", None, "app", "pyproject.toml"),
        ("shop.tool", None, None, "setup.cfg console_scripts"),
        ("shop.main", None, "app", "Procfile"),
        ("shop.asgi", None, "application", "Dockerfile"),
        (None, "shop/app.py", None, "docker-compose.yml"),
        ("shop.worker", None, None, "compose.worker.yaml"),
        ("shop.factory", None, "create_app", "gunicorn.conf.py"),
        ("shop.other", None, "api", "shop/run.py:3"),
    }


def test_a_served_local_name_is_an_entry_point_of_its_own_file() -> None:
    code = [(Path("shop/main.py"), "from aiohttp import web\n\napp = web.Application()\nweb.run_app(app)\n")]
    assert entry_points(None, code) == [EntryPoint(None, "shop/main.py", "app", "shop/main.py:4")]


# ---------------------------------------------------------------------------
# The aiohttp fixture's wired application closes the clients in its cleanup, after its own handler.
# ---------------------------------------------------------------------------


@pytest.fixture
def wired_aiohttp_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[types.ModuleType, list[str]]]:
    events: list[str] = []
    package = types.ModuleType("shop")
    package.__path__ = []
    http_client = types.ModuleType("shop.http_client")

    async def aclose_http_clients() -> None:
        events.append(f"aclose after {sys.modules['shop.server'].CLOSED}")

    http_client.aclose_http_clients = aclose_http_clients  # type: ignore[attr-defined]
    clients = types.ModuleType("shop.clients")

    async def fetch(url: str) -> str:
        return url

    clients.fetch = fetch  # type: ignore[attr-defined]
    for name, module in (("shop", package), ("shop.http_client", http_client), ("shop.clients", clients)):
        monkeypatch.setitem(sys.modules, name, module)
    server = types.ModuleType("shop.server")
    monkeypatch.setitem(sys.modules, "shop.server", server)
    source = (FIXTURES / "aiohttp_factory" / "expected" / "shop" / "server.py").read_text(encoding="utf-8")
    exec(compile(source, "shop/server.py", "exec"), server.__dict__)
    yield server, events


def test_the_wired_aiohttp_application_closes_the_clients_at_cleanup(
    wired_aiohttp_app: tuple[types.ModuleType, list[str]],
) -> None:
    server, events = wired_aiohttp_app

    async def run() -> None:
        app = server.create_app()
        assert list(app.on_cleanup)[-2] is server.close_db  # the application's own cleanup runs first
        app.freeze()  # as aiohttp's runner does
        await app.startup()
        await app.shutdown()
        assert events == []
        await app.cleanup()

    asyncio.run(run())
    assert events == ["aclose after ['db']"]

"""Lifecycle wiring fixtures: `tests/fixtures/wiring/<case>/input/` -> `expected/` (+ `notes.txt`).

Each case is a small project tree. `plan_wiring` runs on every `.py` file of `input/`; applying its
edits must give exactly the files of `expected/` (compared as bytes, so CRLF is checked), its notes
must be exactly `notes.txt` (one `path: message` per line; no file means no notes), and planning
again on the expected tree must plan nothing (never wire twice). A case without edits has no
`expected/` folder. `options.json` may override `has_async`/`has_sync` (default: async only).

Set POOL_REFACTOR_UPDATE_GOLDEN=1 to write a missing `expected/` or `notes.txt` from the current
output (review it before committing).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import sys
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import libcst as cst
import pytest

from pool_refactor.fix.wiring import WiringEdit, WiringNote, _append_element, plan_wiring
from tests.wiring_support import every_module_declared

FIXTURES = Path(__file__).parent / "fixtures" / "wiring"
CASES = sorted(p for p in FIXTURES.iterdir() if (p / "input").is_dir()) if FIXTURES.exists() else []
ACCESSOR = "shop.http_client"


def _read_tree(root: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        with path.open(encoding="utf-8", newline="") as handle:
            files[path.relative_to(root).as_posix()] = handle.read()
    return files


def _plan(case: Path, tree: dict[str, str]) -> tuple[list[WiringEdit], list[WiringNote]]:
    options = {"has_async": True, "has_sync": False}
    if (case / "options.json").exists():
        options.update(json.loads((case / "options.json").read_text()))
    accessor = options.get("accessor", ACCESSOR)
    assert isinstance(accessor, str)
    files = [(Path(rel), text) for rel, text in tree.items()]
    sections = {"httpx-async"} if options["has_async"] else {"httpx-sync"}
    return plan_wiring(
        files,
        accessor,
        sections,
        bool(options["has_async"]),
        bool(options["has_sync"]),
        project_root=case / "input",
    )


def _apply(tree: dict[str, str], edits: list[WiringEdit]) -> dict[str, str]:
    result = dict(tree)
    for edit in edits:
        key = edit.path.as_posix()
        assert result[key] == edit.old_text, "an edit must start from the text it was given"
        result[key] = edit.new_text
    return result


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def test_there_are_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_wiring_case(case: Path) -> None:
    update = bool(os.environ.get("POOL_REFACTOR_UPDATE_GOLDEN"))
    tree = _read_tree(case / "input")
    edits, notes = _plan(case, tree)
    output = _apply(tree, edits)
    note_lines = "".join(f"{note.path}: {note.message}\n" for note in notes)

    expected_dir = case / "expected"
    notes_file = case / "notes.txt"
    if update and edits and not expected_dir.exists():
        _write_tree(expected_dir, output)
    if update and notes and not notes_file.exists():
        notes_file.write_text(note_lines, encoding="utf-8")

    if expected_dir.exists():
        assert edits, "the case expects edits"
        assert output == _read_tree(expected_dir)
    else:
        assert edits == [], "the case expects no edit"
    assert note_lines == (notes_file.read_text(encoding="utf-8") if notes_file.exists() else "")

    for edit in edits:
        compile(edit.new_text, str(edit.path), "exec")
        assert edit.description
    again, _ = _plan(case, output)
    assert again == [], "wiring twice"


def test_edits_are_one_per_file_and_in_order() -> None:
    tree = {
        "shop/__init__.py": "",
        "shop/a.py": "from fastapi import FastAPI\n\napp = FastAPI()\nadmin = FastAPI()\n",
    }
    edits, notes = plan_wiring(
        [(Path(k), v) for k, v in tree.items()],
        ACCESSOR,
        set(),
        True,
        False,
        project_root=every_module_declared(tree),
    )
    assert notes == []
    assert len(edits) == 1
    assert edits[0].new_text == (
        "from fastapi import FastAPI\n"
        "from shop.http_client import lifespan\n\n"
        "app = FastAPI(lifespan=lifespan)\n"
        "admin = FastAPI(lifespan=lifespan)\n"
    )


def test_the_generated_module_is_not_wired_into_itself() -> None:
    template = (Path(__file__).parents[1] / "pool_refactor/fix/templates/http_client.py").read_text()
    files = [(Path("shop/http_client.py"), template), (Path("shop/__init__.py"), "")]
    assert plan_wiring(files, ACCESSOR, {"httpx-async"}, False, True) == ([], [])


def test_unparsable_files_are_skipped() -> None:
    files = [(Path("shop/broken.py"), "from fastapi import FastAPI\napp = FastAPI(\n")]
    assert plan_wiring(files, ACCESSOR, set(), False, True) == ([], [])


def test_sync_only_without_an_application_needs_no_note() -> None:
    """The generated module closes sync clients at exit by itself (atexit)."""
    files = [(Path("tool/cli.py"), "import requests\n")]
    assert plan_wiring(files, "tool.http_client", {"requests"}, False, True) == ([], [])


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = []", "x = [aclose]"),
        ("x = [a]", "x = [a, aclose]"),
        ("x = [a,]", "x = [a, aclose]"),
        ("x = (a,)", "x = (a, aclose)"),
        ("x = ()", "x = (aclose,)"),
        ("x = [\n    a,\n]", "x = [\n    a,\n    aclose,\n]"),
        ("x = (\n    a,\n    b,\n)", "x = (\n    a,\n    b,\n    aclose,\n)"),
        ("x = [a, b]", "x = [a, b, aclose]"),
    ],
)
def test_append_element_keeps_the_comma_style(source: str, expected: str) -> None:
    statement = cst.parse_statement(source + "\n")
    assert isinstance(statement, cst.SimpleStatementLine)
    assign = statement.body[0]
    assert isinstance(assign, cst.Assign)
    assert isinstance(assign.value, cst.List | cst.Tuple)
    new = _append_element(assign.value, "aclose")
    assert cst.Module([]).code_for_node(assign.with_changes(value=new)) == expected


# ---------------------------------------------------------------------------
# The wired code closes the clients at shutdown, after the application's own cleanup. FastAPI and
# Starlette are replaced by a stub that runs a lifespan or event handlers the way Starlette does
# (a lifespan replaces the handlers), so this needs neither installed.
# ---------------------------------------------------------------------------


class _Recorder(types.ModuleType):
    """A module whose every attribute is an async function that records its own name."""

    def __init__(self, name: str, events: list[str]) -> None:
        super().__init__(name)
        self.__path__: list[str] = []  # a package, so `from shop import db` works
        self._events = events

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        events = self._events

        async def record(*args: object, **kwargs: object) -> None:
            events.append(attr)

        return record


class _App:
    """Starlette's lifecycle: a lifespan if given, else startup then shutdown handlers."""

    def __init__(
        self, *, lifespan: Any = None, on_startup: Any = (), on_shutdown: Any = (), **_: Any
    ) -> None:
        self.lifespan = lifespan
        self.handlers: dict[str, list[Any]] = {"startup": list(on_startup), "shutdown": list(on_shutdown)}

    def on_event(self, event: str) -> Any:
        def register(function: Any) -> Any:
            self.handlers[event].append(function)
            return function

        return register

    def add_event_handler(self, event: str, function: Any) -> None:
        self.handlers[event].append(function)

    def get(self, path: str) -> Any:
        return lambda function: function

    async def run(self, events: list[str]) -> None:
        if self.lifespan is not None:
            async with self.lifespan(self):
                events.append("serving")
            return
        for event in ("startup", "shutdown"):
            if event == "shutdown":
                events.append("serving")
            for handler in self.handlers[event]:
                result = handler()
                if inspect.isawaitable(result):
                    await result


def _stub_modules(events: list[str]) -> dict[str, types.ModuleType]:
    fastapi = types.ModuleType("fastapi")
    fastapi.FastAPI = _App  # type: ignore[attr-defined]
    starlette = types.ModuleType("starlette")
    applications = types.ModuleType("starlette.applications")
    applications.Starlette = _App  # type: ignore[attr-defined]
    generated = types.ModuleType("shop.http_client")

    async def aclose_http_clients() -> None:
        events.append("clients closed")

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await aclose_http_clients()

    generated.aclose_http_clients = aclose_http_clients  # type: ignore[attr-defined]
    generated.lifespan = lifespan  # type: ignore[attr-defined]
    generated.get_http_client = lambda: None  # type: ignore[attr-defined]
    shop = _Recorder("shop", events)
    modules: dict[str, types.ModuleType] = {
        "uvicorn": types.ModuleType("uvicorn"),
        "fastapi": fastapi,
        "starlette": starlette,
        "starlette.applications": applications,
        "shop": shop,
        "shop.http_client": generated,
    }
    for name in ("db", "registry", "cache", "routes"):
        modules[f"shop.{name}"] = _Recorder(f"shop.{name}", events)
        setattr(shop, name, modules[f"shop.{name}"])
    modules["shop.routes"].routes = []  # type: ignore[attr-defined]
    return modules


@pytest.mark.parametrize(
    ("case", "file", "expected"),
    [
        ("lifespan_try_finally", "main.py", ["connect", "serving", "disconnect", "clients closed"]),
        ("lifespan_plain_yield", "main.py", ["register", "serving", "deregister", "clients closed"]),
        ("on_event_shutdown", "app.py", ["connect", "serving", "disconnect", "clients closed"]),
        ("on_event_startup_only", "app.py", ["warm_up", "serving", "clients closed"]),
        ("on_shutdown_list", "app.py", ["connect", "serving", "disconnect", "clients closed"]),
        ("no_lifespan", "main.py", ["serving", "clients closed"]),
        ("handler_with_return_and_main_guard", "main.py", ["serving", "disconnect", "clients closed"]),
    ],
)
def test_wired_application_closes_the_clients_last(
    case: str, file: str, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    for name, module in _stub_modules(events).items():
        monkeypatch.setitem(sys.modules, name, module)
    source = (FIXTURES / case / "expected" / "shop" / file).read_text(encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": f"shop.{file[:-3]}"}
    exec(compile(source, file, "exec"), namespace)
    asyncio.run(namespace["app"].run(events))
    assert events == expected

"""Which applications to wire: those that reach the shared clients, and the declared entry points.

Closing the shared clients at an application's shutdown is right for the application whose
requests use them, and wrong for the others: a bridge or health-check application served on the
same loop would close clients that the main application still uses, and a test that builds such an
application through a fake class breaks on a `lifespan=` it does not accept. So an application is
wired only when

* the module that builds it reaches the generated module through the project's imports (directly,
  or through modules that import it, transitively: every rewritten module imports its accessor from
  the generated module, so this is "reaches a rewritten module"), or
* it is the project's declared entry point: a `[project.scripts]`/`[tool.poetry.scripts]` or
  `console_scripts` target's module, a server target `module:app` (uvicorn, gunicorn, hypercorn,
  granian, daphne, sanic, litestar) in `pyproject.toml`, `setup.cfg`, a `Procfile`, a `Dockerfile`,
  a compose file, a `gunicorn*.py` configuration, `fastapi run path.py`, `python -m module`, or a
  `uvicorn.run("module:app")`/`uvicorn.run(app)`/`web.run_app(app)` call in the scanned code. An
  entry point is wired even when the imports do not show it reaching the rewritten code, since
  routers and plugins are often loaded by name at run time.

The import graph is read from the import statements alone (found by a regular expression on each
line, parsed with the stdlib `ast`), a few milliseconds for a thousand files. Imports inside
functions count, and a module reaches whatever its packages' `__init__` modules reach (importing
`a.b` runs `a/__init__.py`). An absolute import that several scanned files could satisfy links to
all of them: a wrong link can only wire one application too many, as every application was before.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pool_refactor.fix.wiring.texts import paths_of

_IMPORT_LINE = re.compile(
    r"[ \t]*(?:from[ \t]+[.\w]+[ \t]+import[ \t]*(?:\([^)]*\)|[^\n;#]*)|import[ \t]+[^\n;#]*)"
)
_COMMENT = re.compile(r"#[^\n]*")
_TARGET = re.compile(r"(?<![\w.:/-])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)(?![\w.:])")
_SERVERS = re.compile(r"\b(?:uvicorn|gunicorn|hypercorn|granian|daphne|sanic|litestar|wsgi_app|bind)\b")
_FASTAPI_RUN = re.compile(r"\bfastapi\s+(?:run|dev)\s+[\"']?([\w./-]+\.py)")
_PYTHON_RUN = re.compile(r"\bpython[\d.]*\"?,?\s+(?:\"?-m\"?,?\s+\"?([A-Za-z_][\w.]*)|\"?([\w./-]+\.py))")
_SERVE_WORDS = ("uvicorn.run", "uvicorn.Config", "serve", "run_app", "Granian")
"""Calls that serve an application: `uvicorn.run(...)`, hypercorn's `serve(...)`, aiohttp's
`web.run_app(...)`, `Granian(...)`."""
_SERVED = re.compile(r"\s*\(\s*(?:[\"']([A-Za-z_][\w.]*):([A-Za-z_]\w*)[\"']|([A-Za-z_]\w*)\s*[,)])")
_CONFIG_NAMES = ("pyproject.toml", "setup.cfg", "Procfile", "Makefile")


@dataclass(frozen=True)
class EntryPoint:
    """A declared way the project is started: a module (dotted, or a path ending) and, for a server
    target, the application's attribute (or factory) in it."""

    module: str | None
    path: str | None
    attribute: str | None
    where: str
    """Where it was declared, for messages (`pyproject.toml [project.scripts]`, `Dockerfile`)."""


def _module_key(path: Path) -> tuple[str, ...]:
    parts = Path(os.path.normpath(str(path))).parts
    if not parts or not parts[-1].endswith(".py"):
        return tuple(parts)
    stem = parts[-1][:-3]
    return tuple(parts[:-1]) if stem == "__init__" else (*parts[:-1], stem)


class ImportGraph:
    """The scanned files and which of them each imports (see the module docstring)."""

    def __init__(self, files: Sequence[tuple[Path, str]], accessor_module: str) -> None:
        self._paths = paths_of(files)
        self._keys = [_module_key(path) for path in self._paths]
        self._by_suffix: dict[tuple[str, ...], list[int]] = {}
        for index, key in enumerate(self._keys):
            for length in range(1, len(key) + 1):
                self._by_suffix.setdefault(key[len(key) - length :], []).append(index)
        self._accessor = tuple(accessor_module.split("."))
        self.users: set[int] = set()
        """The files that import the generated module."""
        self._edges: list[set[int]] = [set() for _ in files]
        for index, (path, text) in enumerate(files):
            if "import" in text:
                self._read(index, path, text)
        self._reaching = self._reverse_closure()

    def index_of(self, path: Path) -> int | None:
        wanted = os.path.normpath(str(path))
        return next((i for i, p in enumerate(self._paths) if os.path.normpath(str(p)) == wanted), None)

    def reaches(self, path: Path) -> bool:
        """Does this file reach the generated module through the project's imports?"""
        index = self.index_of(path)
        return index is not None and index in self._reaching

    def files_for(self, dotted: str) -> list[int]:
        """The scanned files an absolute module name may be (every one whose path ends so)."""
        return list(self._by_suffix.get(tuple(dotted.split(".")), ()))

    def _read(self, index: int, path: Path, text: str) -> None:
        package = self._keys[index] if path.name == "__init__.py" else self._keys[index][:-1]
        for match in _import_statements(text):
            statement = _COMMENT.sub("", match.group(0)).replace("\\\n", " ").strip()
            if statement.startswith("from"):
                head, _, names = statement[4:].partition(" import")
                module = head.strip()
                level = len(module) - len(module.lstrip("."))
                base = [part for part in module[level:].split(".") if part]
                if level:
                    if level - 1 > len(package):
                        continue
                    base = [*package[: len(package) - (level - 1)], *base]
                self._link(index, base, absolute=not level)
                for name in names.strip().strip("()").split(","):
                    word = name.split()[0] if name.split() else ""
                    if word and word != "*" and word.isidentifier():
                        self._link(index, [*base, word], absolute=not level)
            else:
                for name in statement[6:].split(","):
                    dotted = name.split()[0] if name.split() else ""
                    if dotted and all(part.isidentifier() for part in dotted.split(".")):
                        self._link(index, dotted.split("."), absolute=True)

    def _link(self, index: int, parts: Sequence[str], absolute: bool) -> None:
        """Link file `index` to the module `parts` and the packages above it (whose `__init__`
        runs first); mark it a user when that module is the generated one."""
        parts = [p for p in parts if p]
        if not parts:
            return
        target = tuple(parts)
        if (
            absolute
            and target == self._accessor
            or (
                not absolute
                and len(target) >= len(self._accessor)
                and target[-len(self._accessor) :] == self._accessor
            )
        ):
            self.users.add(index)
            return
        for length in range(1, len(target) + 1):
            prefix = target[:length]
            if absolute:
                found = self._by_suffix.get(prefix, [])
            else:
                found = [i for i in self._by_suffix.get(prefix[-1:], []) if self._keys[i] == prefix]
            self._edges[index].update(i for i in found if i != index)

    def _reverse_closure(self) -> set[int]:
        """The users and every file from which an import path leads to one."""
        importers: list[set[int]] = [set() for _ in self._paths]
        for source, targets in enumerate(self._edges):
            for target in targets:
                importers[target].add(source)
        reached = set(self.users)
        pending = list(self.users)
        while pending:
            for source in importers[pending.pop()]:
                if source not in reached:
                    reached.add(source)
                    pending.append(source)
        return reached


def _import_statements(text: str) -> Iterator[re.Match[str]]:
    """The import statements of a text that start a line, found from each line holding the word
    `import` (the regular expression is tried at those line starts only)."""
    seen = -1
    index = text.find("import")
    while index != -1:
        start = max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) + 1
        if start != seen:
            seen = start
            match = _IMPORT_LINE.match(text, start)
            if match is not None:
                yield match
        index = text.find("import", index + 6)


def entry_points(project_root: Path | None, files: Sequence[tuple[Path, str]]) -> list[EntryPoint]:
    """The project's declared entry points (see the module docstring)."""
    found: list[EntryPoint] = []
    if project_root is not None and project_root.is_dir():
        for name, text in _config_texts(project_root):
            found.extend(_from_config(name, text))
    for path, text in files:
        if any(word in text for word in _SERVE_WORDS):
            found.extend(_from_code(path, text))
    return found


def _config_texts(root: Path) -> Iterable[tuple[str, str]]:
    names: list[Path] = [root / name for name in _CONFIG_NAMES]
    try:
        listed = sorted(root.iterdir())
    except OSError:
        listed = []
    names.extend(
        p
        for p in listed
        if p.is_file()
        and (
            p.name.startswith("Dockerfile")
            or p.name.endswith(".dockerfile")
            or (("compose" in p.name) and p.suffix in (".yml", ".yaml"))
            or (p.name.startswith("gunicorn") and p.suffix == ".py")
        )
    )
    for path in names:
        try:
            yield path.name, path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue


def _from_config(name: str, text: str) -> list[EntryPoint]:
    found: list[EntryPoint] = []
    if name == "pyproject.toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            data = {}
        project = data.get("project", {})
        poetry = data.get("tool", {}).get("poetry", {})
        for table, where in (
            (project.get("scripts", {}), "[project.scripts]"),
            (project.get("gui-scripts", {}), "[project.gui-scripts]"),
            (poetry.get("scripts", {}), "[tool.poetry.scripts]"),
        ):
            if isinstance(table, dict):
                for value in table.values():
                    if isinstance(value, str) and ":" in value:
                        module = value.split(":", 1)[0].strip()
                        found.append(EntryPoint(module, None, None, f"{name} {where}"))
    if name == "setup.cfg" and "console_scripts" in text:
        for match in re.finditer(r"=\s*([A-Za-z_][\w.]*)\s*:\s*\w+", text):
            found.append(EntryPoint(match.group(1), None, None, f"{name} console_scripts"))
    for line in text.splitlines():
        if _SERVERS.search(line):
            for match in _TARGET.finditer(line):
                found.append(EntryPoint(match.group(1), None, match.group(2), name))
        for match in _FASTAPI_RUN.finditer(line):
            found.append(EntryPoint(None, match.group(1), None, name))
        for match in _PYTHON_RUN.finditer(line):
            module, script = match.group(1), match.group(2)
            found.append(EntryPoint(module, script, None, name))
    return found


def _from_code(path: Path, text: str) -> list[EntryPoint]:
    """The applications a file serves: `uvicorn.run("module:app")`, or `uvicorn.run(app)` (a name of
    this file, or imported into it: the planner resolves it). Found with `str.find`, then read."""
    found: list[tuple[int, EntryPoint]] = []
    for word in _SERVE_WORDS:
        index = text.find(word)
        while index != -1:
            end = index + len(word)
            before = text[index - 1] if index else " "
            match = _SERVED.match(text, end) if not (before.isalnum() or before == "_") else None
            if match is not None:
                module, attribute, local = match.group(1), match.group(2), match.group(3)
                line = text.count("\n", 0, index) + 1
                where = f"{path.as_posix()}:{line}"
                if module is not None:
                    found.append((index, EntryPoint(module, None, attribute, where)))
                elif local is not None:
                    found.append((index, EntryPoint(None, os.path.normpath(str(path)), local, where)))
            index = text.find(word, end)
    return [entry for _index, entry in sorted(found, key=lambda item: item[0])]

"""Where the generated shared client module goes, and the name each rewritten file imports it by.

The import `--fix` writes must resolve the way the project is really imported, so each file's
module name is worked out from the project's layout, never guessed from the folder alone.

**Project root.** The nearest folder at or above the file holding ``pyproject.toml``,
``setup.cfg`` or ``setup.py``, searched no higher than the configured project root
(``Config.project_root``, when the caller passes it) or a ``.git`` folder.

**Import roots** (the folders the project's own runner has on ``sys.path``): the folders the build
configuration names (``[tool.setuptools.packages.find] where``, ``[tool.setuptools] package-dir``
``""``, ``[tool.poetry] packages`` ``from``, ``[tool.hatch.build.targets.wheel] packages``,
``[tool.pdm.build] package-dir``, setup.cfg ``[options] package_dir`` / ``[options.packages.find]
where``), else ``src/`` when it holds a regular package, else the project root; then the project root
itself (scripts and tests run from there) and pytest's ``pythonpath`` folders. A ``package-dir``
entry that maps a package name to a folder (``{"shop" = "lib"}``) names the files under it.

**A file's module name.**

* In a regular package (a folder with ``__init__.py``; folders in between may lack one, since a
  namespace subpackage of a regular package always imports): the outermost regular package above
  it and the path below, as pytest and the interpreter name it (``shop.api.users``). When that
  package sits in a folder that is not an import root, the folder counts only if it is a namespace
  package the project uses (below); otherwise the package is self-contained (its parent is put on
  ``sys.path`` by whoever runs it, as pytest does).
* Directly in an import root: a top-level module (``manage``).
* In a folder without ``__init__.py`` under an import root (a PEP 420 namespace package, the way
  plugins ship): importable as ``plugins.weather`` only when the project really imports it that
  way, which is decided conservatively from evidence: the build configuration declares the folder
  as a package, or a Python file of the project imports it by that name (``import plugins.x``,
  ``from plugins import x``, ``import_module("plugins.x")``, ``import_module(f"plugins.{name}")``,
  ``patch("plugins.x.requests")``), or an entry point names it (``"plugins.x:Plugin"``), or a
  file that starts the project runs it (``uvicorn app.main:app``, ``python -m app.main`` in a
  Procfile, Dockerfile, Makefile or compose file), or a file inside it imports relatively
  (``from . import base``: only a package import makes that work). A mention in prose or in a
  log message is not evidence.
* Otherwise it is a script when it says so: ``if __name__ == "__main__":``, a ``#!`` line, an
  import of a sibling module by its bare name, or a pytest test module (pytest puts its folder on
  ``sys.path`` unless ``--import-mode=importlib``). A script imports a sibling by its bare name,
  which works wherever it is run from (``sys.path[0]`` is the script's folder).
* Anything else is not fixed (``PlacementError``): writing an import that may not resolve breaks
  collection or makes a plugin loader drop the plugin silently.

**Default place of the module.** A file in a regular package: that top-level package
(``<package>/http_client.py``, or ``<package>/utils/http_client.py`` when a ``utils`` package
exists), as before. A file of a namespace package, or a regular package inside one, or a
top-level module next to the main package: the project's main regular package, never the
namespace folder (a plugin loader would offer the module as a plugin). The main package is the
distribution's top-level package: the declared one, else the regular package under the import
roots named like the project (``[project] name``), else the only one (``tests``, ``docs``,
``examples``, ``scripts`` and the like do not count). A script, or a top-level module with no
main package in its folder: a sibling ``http_client.py``.

**``--module PATH`` / ``shared-module``.** Any ``.py`` path the rewritten file can import: inside a
regular or used namespace package under an import root, a top-level module of an import root,
or, for a script, next to it (or in a package the script imports already). Anywhere else the file
is not fixed, with the reason.

**Relative imports.** A file that already imports its own package relatively (``from . import x``)
gets a relative import of a module in the same top-level package (``from ..http_client import
get_http_client``). ``ModuleTarget.import_name`` is what the file writes; ``module_name`` is the
module's absolute name, for every other use (wiring an application, naming mock targets).
"""

from __future__ import annotations

import configparser
import fnmatch
import os
import re
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

MODULE_FILENAME = "http_client.py"

_PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py")
_NOT_MAIN = frozenset(
    {
        "tests",
        "test",
        "testing",
        "docs",
        "doc",
        "examples",
        "example",
        "scripts",
        "bin",
        "tools",
        "benchmarks",
        "bench",
        "build",
        "dist",
        "conftest",
    }
)
"""Top-level packages that are not the distribution's code, even when they have `__init__.py`."""

_PRUNE = frozenset(
    {"node_modules", "__pycache__", "site-packages", "dist-packages", "build", "dist", "__pypackages__"}
)
"""Folders the evidence search never enters (besides hidden ones, `*.egg-info` and virtual envs)."""

_MAX_EVIDENCE_FILES = 20_000
_MAX_FILE_BYTES = 2_000_000
_CACHE_SECONDS = 3.0
"""How long the evidence search is reused: one run asks once per rewritten file, and a later run
(in the same process, as in tests) must see the files as they are then."""


@dataclass(frozen=True)
class ModuleTarget:
    path: Path
    import_name: str
    """What the rewritten file writes after `from`: absolute (`shop.http_client`), relative
    (`..http_client`) or, in a script, the bare sibling name (`http_client`)."""
    module_name: str = ""
    """The module's absolute name (`shop.http_client`; a script's sibling: `http_client`), the same
    for every file that imports it; empty means `import_name`."""

    def __post_init__(self) -> None:
        if not self.module_name:
            object.__setattr__(self, "module_name", self.import_name)


class PlacementError(Exception):
    """The module cannot go there, or the file's import of it could not resolve; the message says why."""


# --- the project's layout ----------------------------------------------------------------------------


@dataclass
class _Project:
    root: Path
    package_roots: tuple[Path, ...]
    """Where the distribution's packages live (declared, else `src/` or the root)."""
    import_roots: tuple[Path, ...]
    """Every folder the runner has on `sys.path`: the package roots, the root, pytest's pythonpath."""
    mapped: tuple[tuple[str, Path], ...]
    """`package-dir` entries naming a package's folder (`("shop", root / "lib")`)."""
    declared: tuple[str, ...]
    """Package names or patterns the build configuration declares (`shop`, `shop.*`, `shop*`)."""
    project_name: str | None
    pytest_importlib: bool
    _used: frozenset[str] | None = field(default=None, repr=False)

    def is_declared(self, name: str) -> bool:
        return any(
            pattern.split(".")[0] == name or fnmatch.fnmatchcase(name, pattern) for pattern in self.declared
        )

    def used_namespaces(self) -> frozenset[str]:
        """The folders without `__init__.py` in an import root that the project imports by name."""
        if self._used is None:
            candidates: dict[str, list[Path]] = {}
            for root in self.import_roots:
                for child in _children(root):
                    name = child.name
                    if name.isidentifier() and name not in _PRUNE and not _is_package(child):
                        candidates.setdefault(name, []).append(child)
            self._used = _used_names(self.root, candidates) if candidates else frozenset()
        return self._used


_CONFIG_FILES = ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini")
_cache: dict[Path, tuple[tuple[object, ...], float, _Project]] = {}


def _project(root: Path) -> _Project:
    """The layout of the project at `root`, read again whenever one of its config files changed;
    the evidence search (a walk of the project) is reused for a few seconds only."""
    stamp: list[object] = []
    for name in _CONFIG_FILES:
        try:
            info = (root / name).stat()
            stamp.append((info.st_mtime_ns, info.st_size))
        except OSError:
            stamp.append(None)
    key = tuple(stamp)
    now = time.monotonic()
    cached = _cache.get(root)
    if cached is not None and cached[0] == key:
        project = cached[2]
        if now - cached[1] >= _CACHE_SECONDS:
            project._used = None
            _cache[root] = (key, now, project)
        return project
    project = _load_project(root)
    _cache[root] = (key, now, project)
    return project


def _project_root(folder: Path, limit: Path | None) -> Path:
    """The nearest folder holding a build/config file or `.git`, searched up to `limit`; without
    either, `limit`, else the folder above the outermost regular package holding `folder`."""
    current = folder
    while True:
        if any((current / marker).is_file() for marker in _PROJECT_MARKERS) or (current / ".git").exists():
            return current
        if current == limit or current.parent == current:
            break
        current = current.parent
    if limit is not None and folder.is_relative_to(limit):
        return limit
    top = _outermost_package(folder, None)
    return top.parent if top is not None else folder


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _table(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _load_project(root: Path) -> _Project:
    data = _read_toml(root / "pyproject.toml")
    tool = _table(data, "tool")
    roots: list[Path] = []
    mapped: list[tuple[str, Path]] = []
    declared: list[str] = []

    setuptools = _table(tool, "setuptools")
    for name, folder in _table(setuptools, "package-dir").items():
        if isinstance(folder, str):
            if name == "":
                roots.append(root / folder)
            else:
                mapped.append((name, root / folder))
    packages = setuptools.get("packages")
    find = _table(setuptools, "packages", "find") if isinstance(packages, dict) else {}
    declared += _strings(packages)
    if find:
        roots += [root / where for where in _strings(find.get("where"))]
        declared += _strings(find.get("include"))
    for entry in _table(tool, "poetry").get("packages", []) or []:
        if isinstance(entry, dict) and isinstance(entry.get("include"), str):
            include = entry["include"].removesuffix(".py")
            roots.append(root / str(entry.get("from", ".")))
            declared.append(include.replace("/", "."))
    for hatch in (_table(tool, "hatch", "build", "targets", "wheel"), _table(tool, "hatch", "build")):
        for package in _strings(hatch.get("packages")):
            path = root / package
            roots.append(path.parent)
            declared.append(path.name)
    flit = _table(tool, "flit", "module").get("name")
    if isinstance(flit, str):
        declared.append(flit)
    pdm_dir = _table(tool, "pdm", "build").get("package-dir")
    if isinstance(pdm_dir, str):
        roots.append(root / pdm_dir)

    cfg = configparser.ConfigParser(interpolation=None)
    try:
        cfg.read(root / "setup.cfg", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        cfg = configparser.ConfigParser(interpolation=None)
    if cfg.has_section("options"):
        for line in cfg.get("options", "package_dir", fallback="").splitlines():
            name, _, folder = line.partition("=")
            if folder.strip():
                if name.strip():
                    mapped.append((name.strip(), root / folder.strip()))
                else:
                    roots.append(root / folder.strip())
        listed = cfg.get("options", "packages", fallback="").strip()
        if listed and not listed.startswith("find"):
            declared += [p.strip() for p in re.split(r"[\s,]+", listed) if p.strip()]
    if cfg.has_section("options.packages.find"):
        for where in cfg.get("options.packages.find", "where", fallback="").split():
            roots.append(root / where)
        declared += cfg.get("options.packages.find", "include", fallback="").split()

    if not roots:
        src = root / "src"
        holds_packages = any((child / "__init__.py").is_file() for child in _children(src))
        roots.append(src if holds_packages else root)
    package_roots = _unique([r.resolve() for r in roots])

    pytest_paths: list[Path] = []
    pytest_options = _table(tool, "pytest", "ini_options")
    pytest_paths += [root / p for p in _strings(pytest_options.get("pythonpath"))]
    addopts = " ".join(_strings(pytest_options.get("addopts")))
    for ini, section in (("pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        parser = cfg if ini == "setup.cfg" else configparser.ConfigParser(interpolation=None)
        if ini != "setup.cfg":
            try:
                parser.read(root / ini, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue
        if parser.has_section(section):
            pytest_paths += [root / p for p in parser.get(section, "pythonpath", fallback="").split()]
            addopts += " " + parser.get(section, "addopts", fallback="")
    importlib_mode = re.search(r"--import-mode[= ]importlib", addopts) is not None

    project_name = _table(data, "project").get("name") or _table(tool, "poetry").get("name")
    if not isinstance(project_name, str):
        project_name = cfg.get("metadata", "name", fallback=None) if cfg.has_section("metadata") else None
    return _Project(
        root=root,
        package_roots=package_roots,
        import_roots=_unique([*package_roots, root, *(p.resolve() for p in pytest_paths)]),
        mapped=tuple(sorted(((n, f.resolve()) for n, f in mapped), key=lambda m: -len(m[1].parts))),
        declared=tuple(declared),
        project_name=project_name,
        pytest_importlib=importlib_mode,
    )


def _unique(paths: list[Path]) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(paths))


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(child for child in folder.iterdir() if child.is_dir())
    except OSError:
        return []


# --- evidence of how folders are imported --------------------------------------------------------

_ENTRY_POINT = re.compile(rb"[\"'=][ \t]*([A-Za-z_]\w*)(?:\.[A-Za-z_]\w*)+[ \t]*:[ \t]*[A-Za-z_]")
"""An entry point's object reference (`"plugins.weather:Plugin"`) in pyproject.toml or setup.cfg."""
_LAUNCH = re.compile(
    rb"(?:(?<![\w-])-m[\s\"',]+([A-Za-z_]\w*)\b)|(?:(?:^|[\s\"'=])([A-Za-z_]\w*)(?:\.[A-Za-z_]\w*)+:[A-Za-z_])"
)
"""`python -m plugins.x`, `uvicorn app.main:app` in a file that starts the project."""
_LAUNCH_FILES = (
    "Procfile",
    "Dockerfile",
    "Makefile",
    "docker-compose.yml",
    "docker-compose.yaml",
    "compose.yml",
    "compose.yaml",
    "tox.ini",
    "justfile",
)
_MAIN_GUARD = re.compile(rb"^if[ \t(]+__name__[ \t]*==[ \t]*[\"']__main__[\"']", re.MULTILINE)
_RELATIVE = re.compile(rb"^[ \t]*from[ \t]+\.", re.MULTILINE)
_IMPORT_LINE = re.compile(rb"^[ \t]*import[ \t]+([^\n#;]+)", re.MULTILINE)
_FROM_LINE = re.compile(rb"^[ \t]*from[ \t]+([A-Za-z_]\w*)[\w.]*[ \t]+import\b", re.MULTILINE)


def _uses_name(name: bytes) -> re.Pattern[bytes]:
    """An import of `name` (`import name.x`, `from name import x`), or a dynamic one
    (`import_module("name.x")`, `import_module(f"name.{x}")`, `patch("name.x.httpx")`)."""
    word = re.escape(name)
    return re.compile(
        rb"^[ \t]*(?:import[ \t]+(?:[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*,[ \t]*)*" + word + rb"\b"
        rb"|from[ \t]+" + word + rb"[ \t.])"
        rb"|(?:import_module|__import__|find_spec|patch|setattr|resolve_name)\(\s*[rRfFbBuU]{0,2}[\"']"
        + word
        + rb"\.[A-Za-z_{]",
        re.MULTILINE,
    )


def _used_names(root: Path, candidates: dict[str, list[Path]]) -> frozenset[str]:
    """Which of `candidates` (folder names) the project imports by name: its Python files, its entry
    points and launch commands, or a relative import in a file inside the folder."""
    used: set[str] = set()
    for name in ("pyproject.toml", "setup.cfg"):
        used.update(m.group(1).decode() for m in _ENTRY_POINT.finditer(_read(root / name)))
    for name in _LAUNCH_FILES:
        used.update((m.group(1) or m.group(2)).decode() for m in _LAUNCH.finditer(_read(root / name)))
    used &= set(candidates)
    patterns = {name.encode(): _uses_name(name.encode()) for name in candidates if name not in used}
    inside = {str(folder): name for name, folders in candidates.items() for folder in folders}
    seen = 0
    for folder, dirs, files in os.walk(root):
        if not patterns:
            break
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _PRUNE
            and not d.endswith(".egg-info")
            and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))
        ]
        owner = next((n for f, n in inside.items() if folder == f or folder.startswith(f + os.sep)), None)
        for file in files:
            if not file.endswith(".py"):
                continue
            seen += 1
            if seen > _MAX_EVIDENCE_FILES:
                return frozenset(used)
            data = _read(Path(folder, file))
            found = [n for n, pattern in patterns.items() if n in data and pattern.search(data)]
            if owner is not None and owner.encode() in patterns and _RELATIVE.search(data):
                found.append(owner.encode())
            if file == "setup.py":
                found += [m.group(1) for m in _ENTRY_POINT.finditer(data) if m.group(1) in patterns]
            for hit in found:
                used.add(hit.decode())
                patterns.pop(hit, None)
    return frozenset(used)


def _namespace_used(project: _Project, folder: Path) -> bool:
    """Is `folder` (a folder without `__init__.py` directly in an import root) imported by its name?"""
    return project.is_declared(folder.name) or folder.name in project.used_namespaces()


def _imported_tops(data: bytes) -> set[str]:
    """The first parts of the names `data` imports (`os`, `shop` of `from shop.x import y`)."""
    names: set[str] = set()
    for match in _IMPORT_LINE.finditer(data):
        for item in match.group(1).split(b","):
            words = item.split()
            if words and re.fullmatch(rb"[A-Za-z_][\w.]*", words[0]):
                names.add(words[0].partition(b".")[0].decode())
    names.update(m.group(1).decode() for m in _FROM_LINE.finditer(data))
    return names


# --- a file's module name -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
    kind: str
    """"package" (in a regular package), "namespace" (in a used namespace package), "top" (a module
    directly in an import root) or "script"."""
    name: str
    """Dotted module name; a script's is its stem."""
    root: Path
    """The folder the name starts from (on `sys.path` when it is imported)."""
    top: Path | None = None
    """For "package": the outermost regular package (the default home of the shared module)."""
    in_namespace: bool = False
    """For "package": the regular package sits inside a namespace package."""
    is_init: bool = False
    script: bool = False
    """The file runs as a script (`if __name__ == "__main__":`, a #! line...)."""

    @property
    def package_parts(self) -> list[str]:
        """The parts of the package a relative import in this file starts from."""
        parts = self.name.split(".")
        return parts if self.is_init else parts[:-1]


def _is_package(folder: Path) -> bool:
    return (folder / "__init__.py").is_file()


def _identifiers(parts: tuple[str, ...] | list[str]) -> bool:
    return all(part.isidentifier() for part in parts)


def _outermost_package(folder: Path, stop: Path | None) -> Path | None:
    """The outermost regular package at or above `folder` and below `stop` (an import root: what is
    in it is a top-level name, whether or not it has `__init__.py` itself). Folders in between may
    lack `__init__.py` (namespace subpackages of a regular package import all the same); a folder
    whose name is not an identifier ends the chain."""
    top: Path | None = None
    current = folder
    while current != stop and current.parent != current and current.name.isidentifier():
        if _is_package(current):
            top = current
        current = current.parent
    return top


def _deepest_root(project: _Project, folder: Path) -> Path | None:
    found = [r for r in project.import_roots if folder.is_relative_to(r)]
    return max(found, key=lambda r: len(r.parts)) if found else None


def _module_name(path: Path, project: _Project) -> _Name | str:
    """How `path` (a .py file, existing or not) is imported, or why that cannot be told."""
    folder = path.parent
    is_init = path.stem == "__init__"
    leaf = [] if is_init else [path.stem]
    for package, mapped in project.mapped:
        if folder.is_relative_to(mapped):
            below = folder.relative_to(mapped).parts
            if _identifiers([*below, *leaf]):
                parts = [*package.split("."), *below, *leaf]
                # an installed package: importable by that name from anywhere in the project
                return _Name("package", ".".join(parts), project.root, top=mapped, is_init=is_init)
    top = _outermost_package(folder, _deepest_root(project, folder))
    if top is not None:
        base = top.parent
        parts = [*folder.relative_to(base).parts, *leaf]
        root = _deepest_root(project, base)
        if root is None or root == base:
            return _Name("package", ".".join(parts), base, top=top, is_init=is_init)
        between = base.relative_to(root).parts
        if _identifiers(between) and _namespace_used(project, root / between[0]):
            name = ".".join([*between, *parts])
            return _Name("package", name, root, top=top, in_namespace=True, is_init=is_init)
        return _Name("package", ".".join(parts), base, top=top, is_init=is_init)
    root = _deepest_root(project, folder)
    if root is None:
        return "it is outside the project's import roots"
    if root == folder:
        return _Name("top", path.stem, folder)
    between = folder.relative_to(root).parts
    shown = "/".join(between) + "/"
    if not _identifiers(between):
        return f"{shown} is not an importable package name"
    if _namespace_used(project, root / between[0]):
        return _Name("namespace", ".".join([*between, *leaf]), root, is_init=is_init)
    return f"{shown} has no __init__.py and nothing in the project imports `{between[0]}` by name"


def _looks_like_script(path: Path, data: bytes, project: _Project) -> bool:
    """A script run as `python path` (its folder is `sys.path[0]`), or a pytest module whose folder
    pytest puts on `sys.path`."""
    if data.startswith(b"#!") or _MAIN_GUARD.search(data):
        return True
    name = path.name
    is_test = name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
    if is_test and not project.pytest_importlib:
        return True
    return any((path.parent / f"{module}.py").is_file() for module in _imported_tops(data))


# --- choosing the place -------------------------------------------------------------------------


_SEVERAL = "the project has several top-level packages"


def _main_package(project: _Project) -> Path | str:
    """The distribution's top-level regular package, or why there is none to choose."""
    candidates: dict[str, Path] = {}
    for name, folder in project.mapped:
        if "." not in name and _is_package(folder):
            candidates.setdefault(name, folder)
    for root in project.package_roots:
        for child in _children(root):
            if child.name.isidentifier() and _is_package(child):
                candidates.setdefault(child.name, child)
    if project.declared:
        declared = {n: f for n, f in candidates.items() if project.is_declared(n)}
        candidates = declared or candidates
    if project.project_name:
        wanted = re.sub(r"[-_.]+", "_", project.project_name).lower()
        for name, folder in candidates.items():
            if name.lower() == wanted:
                return folder
    mains = {n: f for n, f in candidates.items() if n not in _NOT_MAIN and not n.startswith("_")}
    if len(mains) == 1:
        return next(iter(mains.values()))
    if not mains:
        return "the project has no regular package (a folder with __init__.py) to hold it"
    return f"{_SEVERAL} ({', '.join(sorted(mains))})"


def _home(top: Path) -> Path:
    utils = top / "utils"
    return utils / MODULE_FILENAME if _is_package(utils) else top / MODULE_FILENAME


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_FILE_BYTES)
    except OSError:
        return b""


def _resolved_project(path: Path, project_root: Path | None) -> _Project:
    limit = project_root.resolve() if project_root is not None else None
    return _project(_project_root(path.parent, limit))


def _file_name(file: Path, project: _Project, data: bytes) -> _Name:
    named = _module_name(file, project)
    if isinstance(named, _Name):
        if named.kind == "top" and _looks_like_script(file, data, project):
            return replace(named, script=True)
        return named
    if _looks_like_script(file, data, project):
        return _Name("script", file.stem, file.parent)
    raise PlacementError(
        f"cannot tell how this file is imported: {named}, and it is not a script (no "
        '`if __name__ == "__main__":`, no #! line); add an __init__.py to make its folder a package, '
        "or import it by its dotted name where the project loads it"
    )


def locate_module(
    file: Path, override: Path | None, *, project_root: Path | None = None, text: str | None = None
) -> ModuleTarget:
    """The shared module `file` will import, and the name it imports it by.

    `project_root` bounds the search for the project's build files (`Config.project_root`);
    `text` is the file's source, read from disk when not given. Raises `PlacementError` when the
    import could not resolve.
    """
    file = file.resolve()
    project = _resolved_project(file, project_root)
    data = text.encode("utf-8", "surrogatepass") if text is not None else _read(file)
    named = _file_name(file, project, data)
    if override is not None:
        module_path = override.resolve()
        _check_module_path(module_path)
    else:
        module_path = _default_place(named, project)
    return _target(file, named, data, module_path, project)


def _default_place(named: _Name, project: _Project) -> Path:
    if named.kind == "package" and named.top is not None and not named.in_namespace:
        return _home(named.top)
    if named.kind == "script":
        return named.root / MODULE_FILENAME
    main = _main_package(project)
    if named.kind == "top":
        # next to the main package, or in a folder only the runner puts on sys.path (pytest's
        # `pythonpath`): the main package; a script elsewhere (run with only its folder on the path):
        # a sibling
        if isinstance(main, Path) and (
            main.parent == named.root or (named.root != project.root and not named.script)
        ):
            return _home(main)
        return named.root / MODULE_FILENAME
    if isinstance(main, str):
        where = f"the namespace package `{named.name.split('.')[0]}`"
        several = main.startswith(_SEVERAL)
        packages = re.findall(r"[\w.]+", main.partition("(")[2]) if several else []
        example = (
            f"{packages[0]}/{MODULE_FILENAME}" if packages else f"path/to/a/regular/package/{MODULE_FILENAME}"
        )
        raise PlacementError(
            f"{main}, and the shared module must not go into {where} (a plugin loader would take it "
            f"for a plugin); choose its place with --module, for example --module {example}"
        )
    return _home(main)


def _check_module_path(path: Path) -> None:
    if path.suffix != ".py":
        raise PlacementError(f"--module must name a .py file, got {path}")
    if not path.stem.isidentifier():
        raise PlacementError(f"{path.name} is not an importable module name")


def _target(file: Path, named: _Name, data: bytes, module_path: Path, project: _Project) -> ModuleTarget:
    module = _module_name(module_path, project)
    if named.kind == "script":
        if module_path.parent == file.parent:
            return ModuleTarget(module_path, module_path.stem)
        if isinstance(module, _Name) and (
            module.root == file.parent or module.name.split(".")[0] in _imported_tops(data)
        ):
            return ModuleTarget(module_path, module.name)
        raise PlacementError(
            f"{file.name} is a script (only its own folder is on sys.path when it runs), and the shared "
            f"module {_shown(module_path, project)} is neither next to it nor in a package it imports"
        )
    if not isinstance(module, _Name):
        raise PlacementError(
            f"the shared module {_shown(module_path, project)} could not be imported from {file.name}: "
            f"{module}; choose a path inside a package"
        )
    if module.root not in project.import_roots and module.root != named.root:
        raise PlacementError(
            f"the shared module {_shown(module_path, project)} would be imported as `{module.name}`, "
            f"but its folder {_shown(module.root, project)} is not on the import path of {file.name}"
        )
    relative = _relative_name(named, module) if _RELATIVE.search(data) else None
    return ModuleTarget(module_path, relative or module.name, module.name)


def _relative_name(named: _Name, module: _Name) -> str | None:
    """`module`'s name relative to the package of `named`, when both are in the same top package."""
    if named.kind not in ("package", "namespace") or module.root != named.root:
        return None
    here = named.package_parts
    there = module.name.split(".")
    common = 0
    while common < min(len(here), len(there) - 1) and here[common] == there[common]:
        common += 1
    if common == 0:
        return None
    return "." * (len(here) - common + 1) + ".".join(there[common:])


def _shown(path: Path, project: _Project) -> str:
    try:
        return path.relative_to(project.root).as_posix() or "."
    except ValueError:
        return str(path)


def target_for_path(path: Path, *, project_root: Path | None = None) -> ModuleTarget:
    """The module a .py file is imported as (its absolute name; a script's is its stem)."""
    _check_module_path(path)
    resolved = path.resolve()
    project = _resolved_project(resolved, project_root)
    named = _module_name(resolved, project)
    name = named.name if isinstance(named, _Name) else resolved.stem
    return ModuleTarget(resolved, name)

"""Where a project's tests are, whatever paths were scanned: the files `--fix` reads (and never
rewrites, unless `--fix-tests` is given) to find the patches it breaks.

A project's tests usually live outside the package that is fixed (`pool-refactor scan --fix shop`
with the tests in `tests/`), so they are looked for from the project root, the way pytest finds them:

- the folders of pytest's `testpaths` (`[tool.pytest.ini_options]` in pyproject.toml, `[pytest]` in
  pytest.ini or tox.ini, `[tool:pytest]` in setup.cfg), else `tests/` and `test/` (and `src/tests`):
  every Python file in them, since helpers and fixtures patch too;
- anywhere in the project, files named like pytest's defaults: `test_*.py`, `*_test.py`,
  `conftest.py`;
- among the scanned files, modules that import a mocking library and patch something: test helpers
  shipped in the package (zulip-bots' `request_test_lib.py` patches `requests.get` for every bot's
  tests).

The project's excludes apply (`.gitignore`, virtual environments, `extend-exclude`), so vendored or
generated code is not read; `--exclude` does not (the fixer passes none): on the command line it is
how the tests are kept out of the rewrite (`--exclude tests/`), and they must still be checked.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from pool_refactor.paths import DiscoveredFile
from pool_refactor.run.config import Config
from pool_refactor.run.files import DiscoveryError, discover

__all__ = ["find_test_files", "is_test_name", "testpaths"]

_DEFAULT_FOLDERS = ("tests", "test", "src/tests")


def is_test_name(name: str) -> bool:
    """pytest's default `python_files`, and its `conftest.py`."""
    return (
        (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def testpaths(root: Path) -> list[str]:
    """pytest's `testpaths` for the project at `root`, from the first file that configures pytest
    (pytest's own order: pytest.ini, pyproject.toml, tox.ini, setup.cfg); [] when none says."""
    ini = root / "pytest.ini"
    if ini.is_file():
        return _ini_paths(ini, "pytest")
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}
        options = data.get("tool", {}).get("pytest", {}).get("ini_options")
        if isinstance(options, dict):
            value = options.get("testpaths", [])
            if isinstance(value, str):
                return value.split()
            return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        path = root / name
        if path.is_file():
            found = _ini_paths(path, section)
            if found:
                return found
    return []


def _ini_paths(path: Path, section: str) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return []
    if not parser.has_option(section, "testpaths"):
        return []
    return parser.get(section, "testpaths").split()


_PATCHES = re.compile(rb"\b(?:patch(?:\.object|\.multiple)?|setattr)\(")
_MOCKING = re.compile(rb"\b(?:unittest\.mock|import mock|from mock import|mocker|monkeypatch)\b")
_PATCHING_WORDS = (b"patch", b"setattr(")
"""Every match of `_PATCHES` contains one of these."""
_MOCKING_WORDS = (b"mock", b"monkeypatch")
"""Every match of `_MOCKING` contains one of these."""


def mocks_patch(data: bytes) -> bool:
    """Whether a module not named like a test patches things: a test helper shipped with the code
    (`request_test_lib.py`, `testing.py`) that the project's tests call to mock HTTP.

    Every scanned file is checked, and the expressions, which start at a word boundary and so have
    no literal prefix for `re` to search for, try every byte (50 ms on a 356-file tree, 0.5 s on
    litellm); the words they need are found by a substring search first, which rejects nearly every
    file (all but 9 of the 356, 49 of litellm's 3,019) in a tenth of that."""
    if not any(word in data for word in _MOCKING_WORDS):
        return False
    if not any(word in data for word in _PATCHING_WORDS):
        return False
    return bool(_MOCKING.search(data)) and bool(_PATCHES.search(data))


def find_test_files(
    config: Config, exclude: Sequence[str] = (), scanned: Iterable[DiscoveredFile] = ()
) -> list[Path]:
    """The project's test files, in a stable order, each once; with the scanned modules that
    patch things (test helpers in the package)."""
    root = config.project_root
    folders = [root / p for p in testpaths(root)] or [root / p for p in _DEFAULT_FOLDERS]
    found: dict[Path, Path] = {}
    resolved = _Resolver()
    for folder in folders:
        if folder.exists():
            for item in discover([folder], config, exclude):
                if not isinstance(item, DiscoveryError):
                    found.setdefault(resolved(item.path), item.path)
    for item in discover([root], config, exclude):
        if not isinstance(item, DiscoveryError) and is_test_name(item.path.name):
            found.setdefault(resolved(item.path), item.path)
    for file in scanned:  # scanned files named like tests (a project root outside the scan, say)
        # Resolved only when listed: nearly every scanned file is neither (all but 9 of 356).
        if is_test_name(file.path.name) or mocks_patch(_head(file.path)):
            found.setdefault(resolved(file.path), file.path)
    return [found[key] for key in sorted(found)]


class _Resolver:
    """`path.resolve()`, with each folder resolved once.

    Resolving walks every part of a path with an `lstat`; every scanned file is resolved here, and
    a tree has far fewer folders than files (356 files in 46 folders: 9 ms down to 2 ms). A file
    that is itself a symbolic link, or a name `resolve` would interpret, is resolved in full."""

    def __init__(self) -> None:
        self._folders: dict[Path, Path] = {}

    def __call__(self, path: Path) -> Path:
        if path.name in ("", ".", "..") or path.is_symlink():
            return path.resolve()
        folder = self._folders.get(path.parent)
        if folder is None:
            folder = self._folders[path.parent] = path.parent.resolve()
        return folder / path.name


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(1 << 20)
    except OSError:
        return b""

"""Settings: where the project starts, what to leave out, and the switches a team pins in its repo.

Configuration is found the way ruff finds it, so people who use ruff need to learn nothing new:

* From the start folder upwards, each folder is asked in turn for ``.pool-refactor.toml``, then
  ``pool-refactor.toml`` (settings as top-level keys), then ``pyproject.toml`` (settings in a
  ``[tool.pool-refactor]`` table). The first file that holds settings wins; a ``pyproject.toml``
  without our table is passed over, because a sub-package's pyproject usually only describes its build.
  A dedicated file counts even when empty: its presence says "this is the project root".
* The search goes on up to the filesystem root. Settings are never merged across files.
* When no file holds settings, the project root is the nearest folder with a ``pyproject.toml``
  (that is still where the project starts, and where the shared module and cache belong), else the
  start folder.

Keys are kebab-case as in ruff. A key we do not know, a value of the wrong type or a file that is not
valid TOML is an error (exit 2) rather than a warning: a misspelt ``exlude`` that is silently ignored
makes CI scan, and fail on, code the team meant to leave out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pool_refactor.paths import display_path

__all__ = [
    "CONFIG_FILENAMES",
    "DEFAULT_EXCLUDES",
    "Config",
    "ConfigError",
    "load_config",
]

CONFIG_FILENAMES: tuple[str, ...] = (".pool-refactor.toml", "pool-refactor.toml", "pyproject.toml")
"""Looked for in this order in each folder (as ruff does with ``.ruff.toml``, ``ruff.toml``)."""

DEFAULT_EXCLUDES: tuple[str, ...] = (
    # Version control and tool metadata: never the project's own code.
    ".bzr",
    ".git",
    ".git-rewrite",
    ".hg",
    ".jj",
    ".svn",
    ".direnv",
    ".idea",
    ".vscode",
    ".ipynb_checkpoints",
    # Virtual environments and installed packages: third-party code the team cannot fix. A folder
    # holding ``pyvenv.cfg`` (or conda's ``conda-meta``) is a virtual environment whatever its name;
    # files.py spots those, so an unusual venv name needs no pattern here.
    ".venv",
    "venv",
    ".env/",
    "env.bak/",
    "venv.bak/",
    ".conda",
    "__pypackages__",
    "site-packages",
    "dist-packages",
    "node_modules",
    # Build output: copies of the sources, scanning them would report every site twice.
    "build",
    "dist",
    "_build",
    "buck-out",
    ".eggs",
    "*.egg-info",
    ".pants.d",
    # Caches.
    "__pycache__",
    ".mypy_cache",
    ".pytype",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    ".tox",
    ".nox",
    ".cache",
    ".pool_refactor_cache",
)
"""Gitignore-style patterns left out of every walk unless ``exclude`` is set in the configuration.

Each has no slash in the middle, so it matches a folder of that name at any depth, like the same
line in a ``.gitignore``. ``env`` itself is not listed: it is also a common package name
(``myapp/env/``), and a real virtual environment called ``env`` is recognised by its ``pyvenv.cfg``.
"""


class ConfigError(Exception):
    """A configuration problem; the message is shown to the user as is and the CLI exits with 2."""


class Config(NamedTuple):
    """The settings of one run, with every default filled in.

    Relative paths and patterns in here are relative to ``project_root``; turning them into real
    paths is left to the code that uses them, so a ``Config`` stays a plain, comparable value.
    """

    project_root: Path
    """Folder of the configuration file in use; see the module docstring when there is none."""
    config_file: Path | None
    """The file the settings came from, or None when every value is a default."""
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    """Gitignore-style patterns; setting ``exclude`` replaces ``DEFAULT_EXCLUDES`` entirely."""
    extend_exclude: tuple[str, ...] = ()
    """Added after ``exclude``; the usual way to leave out a project's own folders."""
    respect_gitignore: bool = True
    shared_module: str | None = None
    """Path of the generated module relative to ``project_root`` (posix separators), or None."""
    env_prefix: str = "HTTP_CLIENT_"
    select: tuple[str, ...] = ()
    """Rule codes or code prefixes (upper-cased); empty means every rule."""
    ignore: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    output_format: str | None = None
    """One of ``pool_refactor.report.FORMATS`` (lower-cased), or None for the CLI's default."""
    baseline: str | None = None
    cache_dir: str = ".pool_refactor_cache"
    jobs: int | None = None
    """Worker processes; None lets the CLI choose."""
    show_suppressed: bool = False
    wire: bool = True
    """With --fix, close the shared clients at application shutdown (`--no-wire` turns it off)."""
    test_file: bool = True
    """With --fix, write the shared module's tests into the test folder (`--no-test-file`)."""


# --- validation -------------------------------------------------------------------------------------

_CODE_RE = re.compile(r"[A-Za-z]+[0-9]*\Z")
_ENV_PREFIX_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _describe(value: object) -> str:
    """Show a bad value the way it was written in TOML, short enough for one line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "a table"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    """Checks one settings table and builds messages that name the file and the key."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, expected: str, value: object) -> ConfigError:
        return ConfigError(f"{self.where} {key} must be {expected}, got {_describe(value)}")

    def string(self, key: str, value: object) -> str:
        if not isinstance(value, str):
            raise self.fail(key, "a string", value)
        return value

    def boolean(self, key: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def strings(self, key: str, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(key, "a list of strings", value)
        return tuple(value)

    def patterns(self, key: str, value: object) -> tuple[str, ...]:
        """A list of gitignore-style patterns; each compiled now so a typo fails at start-up."""
        from pathspec import GitIgnoreSpec  # imported when a project configures patterns

        patterns = self.strings(key, value)
        for pattern in patterns:
            try:
                GitIgnoreSpec.from_lines([pattern])
            except Exception as error:  # pathspec raises several types for a malformed pattern
                raise ConfigError(
                    f"{self.where} {key} has an invalid gitignore-style pattern {pattern!r}: {error}"
                ) from None
        return patterns

    def codes(self, key: str, value: object) -> tuple[str, ...]:
        codes = self.strings(key, value)
        for code in codes:
            if not _CODE_RE.match(code):
                raise self.fail(key, "a list of rule codes or code prefixes (like 'PR1')", value)
        return tuple(code.upper() for code in codes)

    def shared_module(self, key: str, value: object) -> str:
        text = self.string(key, value)
        posix = text.replace("\\", "/")
        parts = posix.split("/")
        if (
            not posix.endswith(".py")
            or posix.startswith("/")
            or re.match(r"[A-Za-z]:", posix)
            or any(part in ("", "..") for part in parts)
        ):
            raise self.fail(
                key, "a relative path to a .py file inside the project (like 'src/app/http_client.py')", value
            )
        return "/".join(part for part in parts if part != ".")

    def env_prefix(self, key: str, value: object) -> str:
        text = self.string(key, value)
        if not _ENV_PREFIX_RE.match(text):
            raise self.fail(key, "an environment variable prefix of letters, digits and '_'", value)
        return text

    def output_format(self, key: str, value: object) -> str:
        # The report package owns the list of formats (the same names as ``--format``); imported
        # here so reading a configuration does not load the renderers unless this key is set.
        from pool_refactor.report import FORMATS

        text = self.string(key, value).lower()
        if text not in FORMATS:
            raise self.fail(key, "one of " + ", ".join(repr(name) for name in FORMATS), value)
        return text

    def jobs(self, key: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, "a whole number of at least 1", value)
        return value

    def non_empty_string(self, key: str, value: object) -> str:
        text = self.string(key, value)
        if not text.strip():
            raise self.fail(key, "a non-empty string", value)
        return text


_KEYS: dict[str, tuple[str, Callable[[_Checker, str, object], object]]] = {
    "exclude": ("exclude", _Checker.patterns),
    "extend-exclude": ("extend_exclude", _Checker.patterns),
    "respect-gitignore": ("respect_gitignore", _Checker.boolean),
    "shared-module": ("shared_module", _Checker.shared_module),
    "env-prefix": ("env_prefix", _Checker.env_prefix),
    "select": ("select", _Checker.codes),
    "ignore": ("ignore", _Checker.codes),
    "unsafe-fixes": ("unsafe_fixes", _Checker.boolean),
    "output-format": ("output_format", _Checker.output_format),
    "baseline": ("baseline", _Checker.non_empty_string),
    "cache-dir": ("cache_dir", _Checker.non_empty_string),
    "jobs": ("jobs", _Checker.jobs),
    "show-suppressed": ("show_suppressed", _Checker.boolean),
    "wire": ("wire", _Checker.boolean),
    "test-file": ("test_file", _Checker.boolean),
}
"""Setting name in the file -> (``Config`` field, checker). The single list of supported keys."""


def _unknown_key_message(where: str, key: str) -> str:
    known = sorted(_KEYS)
    hint = ""
    kebab = key.replace("_", "-")
    if kebab in _KEYS:
        hint = f" (did you mean '{kebab}'? keys use dashes)"
    else:
        import difflib

        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close:
            hint = f" (did you mean '{close[0]}'?)"
    return f"{where} unknown key '{key}'{hint}; known keys: {', '.join(known)}"


def _parse_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Turn one settings table into ``Config`` keyword arguments, or explain what is wrong."""
    checker = _Checker(where)
    values: dict[str, Any] = {}
    for key, value in table.items():
        entry = _KEYS.get(key)
        if entry is None:
            raise ConfigError(_unknown_key_message(where, key))
        field_name, check = entry
        values[field_name] = check(checker, key, value)
    return values


# --- finding the file -------------------------------------------------------------------------------


def _display(path: Path) -> str:
    return display_path(path)


def _read_toml(path: Path) -> dict[str, Any]:
    shown = _display(path)
    try:
        data = path.read_bytes()
    except PermissionError:
        raise ConfigError(f"{shown}: cannot read the configuration: permission denied") from None
    except OSError as error:
        raise ConfigError(f"{shown}: cannot read the configuration: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{shown}: invalid TOML: not valid UTF-8 at byte {error.start}") from None
    import tomllib  # a project without a configuration file (a warm scan's common case) never needs it

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{shown}: invalid TOML: {error}") from None


_PLAIN_PYPROJECT = "plain pyproject"


def _settings_in(folder: Path) -> tuple[Path, Mapping[str, Any], str] | str | None:
    """What ``folder`` says: (file, settings table, message prefix) when it holds settings,
    ``_PLAIN_PYPROJECT`` when it only has a pyproject.toml without our table, else None."""
    for name in CONFIG_FILENAMES[:2]:
        candidate = folder / name
        if candidate.is_file():
            return candidate, _read_toml(candidate), f"{_display(candidate)}:"
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return None
    tool = _read_toml(pyproject).get("tool")
    if not isinstance(tool, dict) or "pool-refactor" not in tool:
        return _PLAIN_PYPROJECT
    table = tool["pool-refactor"]
    where = f"{_display(pyproject)}: [tool.pool-refactor]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {_describe(table)}")
    return pyproject, table, where


def load_config(start: Path) -> Config:
    """Find and read the configuration that applies to ``start`` (a folder, or a file's folder).

    Raises ConfigError, naming the file and the key, for invalid TOML, an unknown key or a bad value.
    """
    folder = Path(os.path.abspath(start))
    if folder.is_file():
        folder = folder.parent
    first_pyproject: Path | None = None
    for candidate in (folder, *folder.parents):
        found = _settings_in(candidate)
        if found is None:
            continue
        if isinstance(found, str):
            first_pyproject = first_pyproject or candidate
            continue
        config_file, table, where = found
        values = _parse_table(table, where)
        return Config(project_root=candidate, config_file=config_file)._replace(**values)
    return Config(project_root=first_pyproject or folder, config_file=None)

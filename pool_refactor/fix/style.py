"""The project's own code style, as far as the edits of `--fix` need it: where a new import goes
(isort / ruff's `lint.isort` settings) and how long a line may be.

A rewrite that the project's linter or formatter then rejects does not land (issue 11), so the
settings are read from where those tools read them, in their order of precedence: ruff's
(`ruff.toml`, `.ruff.toml`, `[tool.ruff]`), then black's and isort's `pyproject.toml` tables,
then `setup.cfg`, `tox.ini` and `.flake8` for `max-line-length`. Anything unreadable falls back
to the tools' defaults (88 columns, isort's sections); this never fails a run.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemods.imports import ImportStyle

DEFAULT_LINE_LENGTH = 88
"""black's and ruff's default."""

_ISORT_PROFILES_SINGLE_LINE = {"google", "open_stack", "plone"}
"""isort profiles that set force_single_line (and, except plone, force_sort_within_sections)."""


_QUOTES = {"single": "single", "'": "single", "double": "double", '"': "double"}


@dataclass(frozen=True)
class ProjectStyle:
    line_length: int = DEFAULT_LINE_LENGTH
    imports: ImportStyle = ImportStyle()
    quotes: str = "double"
    """The quote of inline strings: ruff format's `quote-style`, else flake8-quotes' `inline-quotes`
    (ruff's `lint.flake8-quotes` or flake8's); "double" (black's, ruff's) when none says."""
    order_by_type: bool = True
    """isort's `order_by_type` / ruff's `order-by-type`: CONSTANTS, Classes, functions (else by name)."""
    lines_after_imports: int = -1
    """Blank lines after the top-level import block (-1: the tools' automatic choice)."""
    single_line_exclusions: frozenset[str] = frozenset()
    """Modules whose imports stay on one line under force_single_line."""
    lexicographical: bool = False
    """isort's `lexicographical` (google profile): force-sorted lines by `module.name`."""
    parametrize_names: str = "tuple"
    """flake8-pytest-style's `parametrize-names-type` (ruff's `lint.flake8-pytest-style`, the
    plugin's `pytest-parametrize-names-type`): how the generated tests write several names in
    `@pytest.mark.parametrize` (`("a", "b")`, `"a,b"` or `["a", "b"]`; PT006)."""
    magic_trailing_comma: bool = True
    """False when the formatter ignores magic trailing commas (ruff's `format.skip-magic-trailing-
    comma`, black's `skip-magic-trailing-comma`): it then joins every bracket whose content fits,
    so the generated files are laid out that way (`shared_module.join_magic_commas`)."""
    override: str = ""
    """Where the generated files import `@override` from when the project's mypy enables
    `explicit-override` (its error on an overriding method without it): "typing" (the project's
    minimum Python is 3.12 or later), "typing_extensions" (a declared dependency), "fallback" (only
    type checkers import it, from typing_extensions; at run time a no-op); "" when not enabled."""


def read_style(project_root: Path) -> ProjectStyle:
    """The style of the project whose configuration lives in `project_root`."""
    ruff = _ruff_settings(project_root)
    pyproject = _toml(project_root / "pyproject.toml")
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    line_length = _first_int(
        ruff.get("line-length"),
        _get(tool, "black", "line-length"),
        _ini_int(project_root, "max-line-length", ("flake8", "pycodestyle")),
        _get(tool, "flake8", "max-line-length"),  # flake8-pyproject
    )
    lint = _dict(ruff.get("lint"))
    ruff_isort = _dict(lint.get("isort")) or _dict(ruff.get("isort"))
    isort = _dict(tool.get("isort")) or _ini_section(project_root, "isort")
    profile = str(isort.get("profile", ""))
    first_party = _names(ruff_isort.get("known-first-party")) | _names(isort.get("known_first_party"))
    single = _flag(ruff_isort.get("force-single-line"), isort.get("force_single_line"))
    within = _flag(ruff_isort.get("force-sort-within-sections"), isort.get("force_sort_within_sections"))
    if single is None and profile in _ISORT_PROFILES_SINGLE_LINE:
        single = True
    if within is None and profile in _ISORT_PROFILES_SINGLE_LINE - {"plone"}:
        within = True
    by_type = _flag(ruff_isort.get("order-by-type"), isort.get("order_by_type"))
    if by_type is None and profile == "google":
        by_type = False
    exclusions = _names(ruff_isort.get("single-line-exclusions"))
    exclusions |= _names(isort.get("single_line_exclusions"))
    if profile == "google" and "single_line_exclusions" not in isort:
        exclusions |= _GOOGLE_SINGLE_LINE_EXCLUSIONS
    lexicographical = _flag(isort.get("lexicographical"))
    if lexicographical is None:
        lexicographical = profile in {"google", "open_stack"}
    after = (_int(ruff_isort.get("lines-after-imports")), _int(isort.get("lines_after_imports")))
    return ProjectStyle(
        line_length=line_length or DEFAULT_LINE_LENGTH,
        imports=ImportStyle(frozenset(first_party), bool(single), bool(within)),
        quotes=_quotes(project_root, ruff, lint, tool),
        order_by_type=by_type is not False,
        lines_after_imports=next((lines for lines in after if lines is not None), -1),
        single_line_exclusions=frozenset(exclusions),
        lexicographical=lexicographical,
        parametrize_names=_parametrize_names(project_root, ruff, lint, tool),
        magic_trailing_comma=not _flag(
            _dict(ruff.get("format")).get("skip-magic-trailing-comma"),
            _get(tool, "black", "skip-magic-trailing-comma"),
            _get(tool, "black", "skip_magic_trailing_comma"),
        ),
        override=_override(project_root, pyproject, ruff),
    )


def _override(root: Path, pyproject: dict[str, Any], ruff: dict[str, Any]) -> str:
    """How the generated files get `@override`, when mypy's `explicit-override` is enabled (its
    configuration files in mypy's order: mypy.ini, .mypy.ini, pyproject.toml, setup.cfg)."""
    if "explicit-override" not in _mypy_error_codes(root, pyproject):
        return ""
    if (_minimum_python(root, pyproject, ruff) or (3, 0)) >= (3, 12):
        return "typing"
    return "typing_extensions" if _declares(root, pyproject, "typing_extensions") else "fallback"


def _mypy_error_codes(root: Path, pyproject: dict[str, Any]) -> set[str]:
    """mypy's `enable_error_code` less its `disable_error_code`, from the first file that
    configures mypy."""
    for name in ("mypy.ini", ".mypy.ini"):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(root / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if parser.has_section("mypy"):
            return _codes(parser.get("mypy", "enable_error_code", fallback="")) - _codes(
                parser.get("mypy", "disable_error_code", fallback="")
            )
    mypy = _dict(_dict(pyproject.get("tool")).get("mypy"))
    if mypy:
        return _codes(mypy.get("enable_error_code")) - _codes(mypy.get("disable_error_code"))
    setup = _setup_cfg(root)
    return _codes(setup.get("mypy", "enable_error_code", fallback="")) - _codes(
        setup.get("mypy", "disable_error_code", fallback="")
    )


def _codes(value: object) -> set[str]:
    return {code.strip() for code in _names(value)}


_LOWER_BOUND = re.compile(r"\s*(?:>=|~=|==|\^|~)\s*3\.(\d+)")


def _minimum_python(root: Path, pyproject: dict[str, Any], ruff: dict[str, Any]) -> tuple[int, int] | None:
    """The oldest Python the project supports: `requires-python`, setup.cfg's `python_requires`,
    poetry's `python`, else ruff's `target-version`; None when none says."""
    poetry = _dict(_get(pyproject, "tool", "poetry", "dependencies"))
    setup = _setup_cfg(root).get("options", "python_requires", fallback=None)
    for spec in (_get(pyproject, "project", "requires-python"), setup, poetry.get("python")):
        for part in spec.replace("||", ",").split(",") if isinstance(spec, str) else ():
            if match := _LOWER_BOUND.match(part):
                return 3, int(match.group(1))
    target = ruff.get("target-version")
    if isinstance(target, str) and re.fullmatch(r"py3\d+", target):
        return 3, int(target[3:])
    return None


def _declares(root: Path, pyproject: dict[str, Any], package: str) -> bool:
    """Whether the project declares `package` a run-time dependency (pyproject's project or poetry
    dependencies, setup.cfg's install_requires, a string in setup.py)."""
    listed = _get(pyproject, "project", "dependencies")
    texts = [item for item in listed if isinstance(item, str)] if isinstance(listed, list) else []
    texts += list(_dict(_get(pyproject, "tool", "poetry", "dependencies")))
    setup = _setup_cfg(root)
    texts += setup.get("options", "install_requires", fallback="").splitlines()
    try:
        texts += re.findall(r"[\"']([\w.-]+)", (root / "setup.py").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        pass
    names = {
        match.group().replace("_", "-").lower()
        for text in texts
        if (match := re.match(r"[\w.-]+", text.strip()))
    }
    return package.replace("_", "-").lower() in names


def _setup_cfg(root: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(root / "setup.cfg", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return configparser.ConfigParser(interpolation=None)
    return parser


_NAMES_TYPES = frozenset({"tuple", "csv", "list"})


def _parametrize_names(root: Path, ruff: dict[str, Any], lint: dict[str, Any], tool: dict[str, Any]) -> str:
    """ruff's `flake8-pytest-style.parametrize-names-type`, then the flake8 plugin's option (ini
    files, flake8-pyproject's `[tool.flake8]`); "tuple" (both tools' default) when none says."""
    style = _dict(lint.get("flake8-pytest-style")) or _dict(ruff.get("flake8-pytest-style"))
    candidates = [
        style.get("parametrize-names-type"),
        *_flake8_option(root, tool, "pytest-parametrize-names-type"),
    ]
    return _first_of(candidates, set(_NAMES_TYPES)) or "tuple"


_GOOGLE_SINGLE_LINE_EXCLUSIONS = frozenset({"collections.abc", "six.moves", "typing", "typing_extensions"})


def _quotes(root: Path, ruff: dict[str, Any], lint: dict[str, Any], tool: dict[str, Any]) -> str:
    """ruff format's quote-style, then flake8-quotes' inline-quotes (ruff's, flake8's ini files,
    flake8-pyproject's `[tool.flake8]`)."""
    ruff_quotes = _dict(lint.get("flake8-quotes")) or _dict(ruff.get("flake8-quotes"))
    ours = [_dict(ruff.get("format")).get("quote-style"), ruff_quotes.get("inline-quotes")]
    value = _first_of([*ours, *_flake8_option(root, tool, "inline-quotes")], set(_QUOTES))
    return _QUOTES[value] if value else "double"


def _flake8_option(root: Path, tool: dict[str, Any], name: str) -> list[object]:
    """A flake8 plugin's option, from flake8-pyproject's `[tool.flake8]` then the ini files."""
    found: list[object] = [_get(tool, "flake8", name)]
    found += [parser.get("flake8", name) for parser in _ini(root) if parser.has_option("flake8", name)]
    return found


def _first_of(candidates: list[object], allowed: set[str]) -> str:
    """The first candidate that is one of `allowed` (stripped); '' when none is."""
    for value in candidates:
        if isinstance(value, str) and value.strip() in allowed:
            return value.strip()
    return ""


def _int(value: object) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ruff_settings(root: Path) -> dict[str, Any]:
    for name in ("ruff.toml", ".ruff.toml"):
        settings = _toml(root / name)
        if settings:
            return settings
    tool = _toml(root / "pyproject.toml").get("tool", {})
    return _dict(tool.get("ruff")) if isinstance(tool, dict) else {}


def _toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _ini(root: Path) -> list[configparser.ConfigParser]:
    parsers = []
    for name in ("setup.cfg", "tox.ini", ".flake8", ".isort.cfg"):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(root / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        parsers.append(parser)
    return parsers


def _ini_int(root: Path, key: str, sections: tuple[str, ...]) -> int | None:
    for parser in _ini(root):
        for section in sections:
            if parser.has_option(section, key):
                try:
                    return int(parser.get(section, key))
                except ValueError:
                    return None
    return None


def _ini_section(root: Path, section: str) -> dict[str, Any]:
    for parser in _ini(root):
        if parser.has_section(section):
            return dict(parser.items(section))
        if parser.has_section("settings") and section == "isort":  # .isort.cfg
            return dict(parser.items("settings"))
    return {}


def _get(table: dict[str, Any], *keys: str) -> object:
    value: object = table
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_int(*values: object) -> int | None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _names(value: object) -> set[str]:
    if isinstance(value, str):  # an ini file: comma- or newline-separated
        return {part.strip() for part in value.replace("\n", ",").split(",") if part.strip()}
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str)}
    return set()


def _flag(*values: object) -> bool | None:
    for value in values:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.strip().lower() in {"true", "1", "yes"}
    return None

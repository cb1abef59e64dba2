"""Where the generated shared client module goes, and the name code imports it by.

Default: `<top-level package>/http_client.py`, or `<top-level package>/utils/http_client.py` when
the package already has a `utils` subpackage, so the accessor import reads like the project's own
code (`from myapp.http_client import get_http_client`). A file outside any package (a script)
gets a sibling `http_client.py`, importable because Python puts a script's folder on `sys.path`.
`--module PATH` or `shared-module` in `[tool.pool-refactor]` choose another place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODULE_FILENAME = "http_client.py"


@dataclass(frozen=True)
class ModuleTarget:
    path: Path
    import_name: str


class PlacementError(Exception):
    """The configured module path cannot work; the message says why."""


def locate_module(file: Path, override: Path | None) -> ModuleTarget:
    if override is not None:
        return _target_for_path(override)
    folder = file.resolve().parent
    top = _top_package(folder)
    if top is None:
        return ModuleTarget(folder / MODULE_FILENAME, MODULE_FILENAME.removesuffix(".py"))
    base = top / "utils" if (top / "utils" / "__init__.py").is_file() else top
    return _target_for_path(base / MODULE_FILENAME)


def target_for_path(path: Path) -> ModuleTarget:
    """The module a .py file is imported as (walking up through packages)."""
    return _target_for_path(path)


def _target_for_path(path: Path) -> ModuleTarget:
    if path.suffix != ".py":
        raise PlacementError(f"--module must name a .py file, got {path}")
    if not path.stem.isidentifier():
        raise PlacementError(f"{path.name} is not an importable module name")
    resolved = path.resolve()
    parts = [resolved.stem]
    folder = resolved.parent
    while (folder / "__init__.py").is_file():
        if not folder.name.isidentifier():
            raise PlacementError(f"folder {folder.name!r} is not an importable package name")
        parts.append(folder.name)
        folder = folder.parent
    return ModuleTarget(resolved, ".".join(reversed(parts)))


def _top_package(folder: Path) -> Path | None:
    """The outermost regular package above `folder`. Folders in between may lack `__init__.py`
    (namespace subpackages of a regular package are importable all the same)."""
    top: Path | None = None
    current = folder
    chain_ok = True
    while True:
        if not current.name.isidentifier():
            chain_ok = False
        if chain_ok and (current / "__init__.py").is_file():
            top = current
        if current.parent == current or (current / "pyproject.toml").is_file() or (current / ".git").exists():
            break
        current = current.parent
    return top

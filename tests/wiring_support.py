"""Help for the wiring tests: a project root that declares every module of a tree an entry point.

Since issue 14, only the applications that reach the shared clients or are declared entry points are
wired. The tests of how an application is wired (lifespan, handlers, layout, speed) are about the
edit, not that choice: they declare every module of their tree a `[project.scripts]` target, which
makes every application an entry point, as every application was wired before.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path


def every_module_declared(paths: Iterable[str]) -> Path:
    """A fresh folder whose `pyproject.toml` names each module of `paths` (`shop/main.py`) as the
    module of a script."""
    modules = []
    for rel in paths:
        parts = Path(rel).with_suffix("").parts
        if parts and parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            modules.append(".".join(parts))
    root = Path(tempfile.mkdtemp(prefix="wiring-entry-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    scripts = "".join(f's{index} = "{module}:main"\n' for index, module in enumerate(modules))
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "x"\nversion = "0"\n\n[project.scripts]\n{scripts}', encoding="utf-8"
    )
    return root

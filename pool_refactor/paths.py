"""How the files a run works on are named: where they are, and how every report shows them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class DiscoveredFile(NamedTuple):
    given: str
    """As it is on disk, joined from what the user gave (``src/app/x.py`` for ``src``). A string:
    a warm scan needs no `Path` of its files, and making one per file was 3 ms of its 120."""
    display: str
    """Relative to the current working directory with ``/`` separators; absolute posix if outside it."""

    @property
    def path(self) -> Path:
        """`given` as a `Path`, for the code that reads, rewrites or relates files."""
        return Path(self.given)


def display_path(path: Path | str) -> str:
    """How a path is shown in every report: relative to the working directory when it is inside it
    (stable across machines and CI checkouts), else absolute; always with ``/`` separators."""
    return display_relative(os.path.abspath(path), os.getcwd())


def display_relative(absolute: str, cwd: str) -> str:
    """`display_path` for a walk that already knows both absolute paths (no syscall per file)."""
    if absolute == cwd:
        return "."
    prefix = cwd if cwd.endswith(os.sep) else cwd + os.sep
    shown = absolute[len(prefix) :] if absolute.startswith(prefix) else absolute
    return shown if os.sep == "/" else shown.replace(os.sep, "/")

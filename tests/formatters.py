"""`ruff format` itself, as the tests compare the layouts the fixes write against it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

RUFF = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))


def ruff_format(source: str, limit: int, *options: str) -> str:
    """`source` as `ruff format` lays it out at `limit` columns, with no configuration file of the
    tree it runs in (`--isolated`) and no cache."""
    done = subprocess.run(
        [RUFF, "format", "--isolated", "--no-cache", "--line-length", str(limit), *options, "-"],
        input=source,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout

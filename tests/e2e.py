"""Helpers shared by the end-to-end tests: run a fixture application and the CLI as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run_app(folder: Path, base: str, calls: int) -> list[str]:
    """Run `run.py BASE CALLS` in `folder` with warnings that matter turned into errors, and return
    the JSON list of answers it prints. An unclosed session or a deprecation fails the test."""
    env = {**os.environ, "PYTHONPATH": str(folder), "PYTHONWARNINGS": "error::DeprecationWarning"}
    env = {k: v for k, v in env.items() if not k.startswith("HTTP_CLIENT_")}
    done = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "run.py", base, str(calls)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for warning in ("Unclosed", "ResourceWarning", "Exception ignored"):
        assert warning not in done.stderr, done.stderr
    answers: list[str] = json.loads(done.stdout)
    return answers


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m pool_refactor scan ARGS .` in `folder`."""
    return subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", *args, "."],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

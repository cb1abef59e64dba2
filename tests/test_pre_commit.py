"""The pre-commit hooks of `.pre-commit-hooks.yaml`, run by pre-commit itself (`try-repo`).

pre-commit builds the hook's own virtual environment from this repository, as a user's
`.pre-commit-config.yaml` would, so the test proves the hooks install and run, not just parse.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "shop"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(EXAMPLE, target)
    _git(target, "init", "-q")
    _git(target, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", ".")
    return target


def _try_repo(project: Path, hook: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), hook, "--all-files", "--verbose"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_check_hook_fails_then_fix_hook_rewrites(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "pre-commit-home"
    checked = _try_repo(project, "pool-refactor-check", home)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "shop/users.py:9:16: POOL101" in checked.stdout

    fixed = _try_repo(project, "pool-refactor-fix", home)
    assert fixed.returncode == 1  # pre-commit fails a hook that modified files, so the user reviews them
    assert "files were modified by this hook" in fixed.stdout
    assert "client = get_http_client()" in (project / "shop" / "users.py").read_text()
    assert (project / "shop" / "http_client.py").exists()

    _git(project, "add", ".")
    again = _try_repo(project, "pool-refactor-check", home)
    # Only the leak (not fixable) remains.
    assert again.returncode == 1
    assert "POOL201" in again.stdout and "POOL101" not in again.stdout

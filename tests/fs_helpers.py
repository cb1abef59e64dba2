"""Helpers for tests that work on real files: build trees, and run code without root's powers.

The test suite usually runs as root, and root ignores permission bits: ``chmod 000`` does not stop it
from reading. So a test of "permission denied" that simply chmods and reads would pass for the wrong
reason or not test anything. ``run_unprivileged`` forks, drops to the ``nobody`` user in the child and
runs the code there, where the permission bits really apply; when the suite is not run as root the
code simply runs in-process, where they apply too.
"""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

NOBODY = 65534


def make_tree(root: Path, files: Mapping[str, str | bytes | None]) -> Path:
    """Create files (``"a/b.py": "text"``) and empty folders (``"a/c/": None``) under ``root``."""
    for name, content in files.items():
        path = root / name
        if name.endswith("/") or content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def run_unprivileged(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` as a user that permission bits apply to; returns its result.

    As root: in a forked child that switched to uid/gid 65534 (nobody). The result (or exception)
    comes back pickled through a pipe. Paths used must be reachable for that user (see
    ``public_tmp``).
    """
    if not is_root():
        return function(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        status = 0
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                payload = pickle.dumps(("ok", function(*args)))
            except BaseException as error:  # noqa: B036 - everything must reach the parent
                described = f"{type(error).__name__}: {error}\n{traceback.format_exc()}"
                payload = pickle.dumps(("error", described))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"unprivileged child failed (status {status})")
    kind, value = pickle.loads(data)
    if kind == "error":
        raise AssertionError(f"unprivileged child raised: {value}")
    return value  # type: ignore[no-any-return]


@contextmanager
def public_tmp() -> Iterator[Path]:
    """A temporary folder every user can enter (pytest's ``tmp_path`` is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="pool-refactor-test-"))
    try:
        folder.chmod(0o755)
        yield folder
    finally:
        for dirpath, dirnames, _ in os.walk(folder):
            for name in dirnames:  # give back permissions a test took away, so removal works
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):
                    os.chmod(path, stat.S_IRWXU)
        shutil.rmtree(folder, ignore_errors=True)


def leftovers(folder: Path) -> list[str]:
    """Temporary files the writer may have left behind in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".pool-refactor" in p.name)

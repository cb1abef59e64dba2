"""Atomic writes: the target is either the old file or the complete new one, never anything else."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pool_refactor.fix import writer
from pool_refactor.fix.writer import WriteError, create_new, write_atomic

try:
    from fs_helpers import NOBODY, is_root, leftovers, public_tmp, run_unprivileged
except ModuleNotFoundError:  # tests/ imported as a package
    from tests.fs_helpers import NOBODY, is_root, leftovers, public_tmp, run_unprivileged

OLD = b"import httpx\r\n\r\nasync def f():\r\n    pass\r\n"
NEW = b"from app.http_client import get_http_client\r\n"


@pytest.fixture()
def target(tmp_path: Path) -> Path:
    path = tmp_path / "mod.py"
    path.write_bytes(OLD)
    path.chmod(0o640)
    return path


def test_replaces_content_and_keeps_the_mode(target: Path) -> None:
    inode = target.stat().st_ino
    write_atomic(target, NEW)
    assert target.read_bytes() == NEW
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # a new file was renamed into place
    assert leftovers(target.parent) == []


def test_large_content(target: Path) -> None:
    data = os.urandom(3 * 1024 * 1024)
    write_atomic(target, data)
    assert target.read_bytes() == data


def test_partial_os_writes_are_completed(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def short_write(fd: int, data: Any) -> int:
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(os, "write", short_write)
    write_atomic(target, NEW)
    assert target.read_bytes() == NEW


def test_expected_content_matches(target: Path) -> None:
    write_atomic(target, NEW, expected=OLD)
    assert target.read_bytes() == NEW


def test_changed_since_read_is_left_alone(target: Path) -> None:
    target.write_bytes(OLD + b"# edited by the user meanwhile\r\n")
    with pytest.raises(WriteError, match=r"^changed on disk since it was read; left alone$"):
        write_atomic(target, NEW, expected=OLD)
    assert target.read_bytes() == OLD + b"# edited by the user meanwhile\r\n"
    assert leftovers(target.parent) == []


def test_truncated_since_read_is_left_alone(target: Path) -> None:
    target.write_bytes(OLD[:5])
    with pytest.raises(WriteError, match="changed on disk since it was read"):
        write_atomic(target, NEW, expected=OLD)
    assert target.read_bytes() == OLD[:5]


def test_removed_since_read(target: Path) -> None:
    target.unlink()
    with pytest.raises(WriteError, match=r"^removed since it was read; left alone$"):
        write_atomic(target, NEW, expected=OLD)
    assert not target.exists()
    assert leftovers(target.parent) == []


def test_change_during_the_write_is_caught(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user saves in their editor after our temporary file is written but before the rename."""
    real_fsync = os.fsync

    def fsync_then_user_edits(fd: int) -> None:
        real_fsync(fd)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            target.write_bytes(b"# the user's new version\n")

    monkeypatch.setattr(os, "fsync", fsync_then_user_edits)
    with pytest.raises(WriteError, match="changed on disk since it was read"):
        write_atomic(target, NEW, expected=OLD)
    assert target.read_bytes() == b"# the user's new version\n"
    assert leftovers(target.parent) == []


def test_read_only_file_is_refused_even_for_root(target: Path) -> None:
    target.chmod(0o444)
    with pytest.raises(WriteError, match=r"^is read-only$"):
        write_atomic(target, NEW)
    assert target.read_bytes() == OLD
    assert leftovers(target.parent) == []


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match=r"^folder '.*/nowhere' does not exist$"):
        write_atomic(tmp_path / "nowhere" / "mod.py", NEW)


def test_directory_and_special_file(tmp_path: Path) -> None:
    (tmp_path / "pkg.py").mkdir()
    with pytest.raises(WriteError, match="^is a directory$"):
        write_atomic(tmp_path / "pkg.py", NEW)
    os.mkfifo(tmp_path / "pipe.py")
    with pytest.raises(WriteError, match="^is not a regular file$"):
        write_atomic(tmp_path / "pipe.py", NEW)


def test_writing_through_a_symlink_replaces_the_target(target: Path) -> None:
    link = target.parent / "link.py"
    link.symlink_to(target.name)
    chain = target.parent / "chain.py"
    chain.symlink_to(link)
    write_atomic(chain, NEW, expected=OLD)
    assert link.is_symlink() and chain.is_symlink()
    assert os.readlink(link) == target.name
    assert target.read_bytes() == NEW
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "fresh.py", NEW)
        create_new(tmp_path / "created.py", NEW)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "fresh.py").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "created.py").stat().st_mode) == 0o640


def _fail_os_call(
    monkeypatch: pytest.MonkeyPatch, name: str, exception: BaseException, after: int = 0
) -> None:
    """Make ``os.<name>`` raise ``exception`` from its ``after``+1-th call on."""
    real: Callable[..., Any] = getattr(os, name)
    calls = {"n": 0}

    def failing(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > after:
            raise exception
        return real(*args)

    monkeypatch.setattr(os, name, failing)


def test_full_disk_while_writing(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_os_call(monkeypatch, "write", OSError(errno.ENOSPC, "No space left on device"), after=1)
    monkeypatch.setattr(writer, "_write_all", _small_chunks(writer._write_all))
    with pytest.raises(WriteError, match=r"^no space left on device while writing the new content; file"):
        write_atomic(target, NEW * 100)
    monkeypatch.undo()
    assert target.read_bytes() == OLD
    assert leftovers(target.parent) == []


def _small_chunks(write_all: Callable[[int, bytes], None]) -> Callable[[int, bytes], None]:
    """Split the data so a failure can hit the middle of the write."""

    def chunked(fd: int, data: bytes) -> None:
        for start in range(0, len(data), 64):
            write_all(fd, data[start : start + 64])

    return chunked


def test_full_disk_reported_at_fsync(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_os_call(monkeypatch, "fsync", OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(WriteError, match="^no space left on device"):
        write_atomic(target, NEW)
    monkeypatch.undo()
    assert target.read_bytes() == OLD
    assert leftovers(target.parent) == []


def test_quota_and_io_errors(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_os_call(monkeypatch, "fsync", OSError(errno.EDQUOT, "Disk quota exceeded"))
    with pytest.raises(WriteError, match="^disk quota exceeded"):
        write_atomic(target, NEW)
    monkeypatch.undo()
    _fail_os_call(monkeypatch, "replace", OSError(errno.EIO, "Input/output error"))
    with pytest.raises(WriteError, match="^Input/output error while replacing the file;"):
        write_atomic(target, NEW)
    monkeypatch.undo()
    assert target.read_bytes() == OLD
    assert leftovers(target.parent) == []


def test_ctrl_c_in_the_middle_of_the_write(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_os_call(monkeypatch, "write", KeyboardInterrupt(), after=2)
    monkeypatch.setattr(writer, "_write_all", _small_chunks(writer._write_all))
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, NEW * 100)
    monkeypatch.undo()
    assert target.read_bytes() == OLD
    assert leftovers(target.parent) == []


def test_ctrl_c_just_before_the_rename(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_os_call(monkeypatch, "replace", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, NEW, expected=OLD)
    monkeypatch.undo()
    assert target.read_bytes() == OLD
    assert leftovers(target.parent) == []


def test_ctrl_c_in_create_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_os_call(monkeypatch, "link", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        create_new(tmp_path / "http_client.py", NEW)
    monkeypatch.undo()
    assert not (tmp_path / "http_client.py").exists()
    assert leftovers(tmp_path) == []


def test_create_new(tmp_path: Path) -> None:
    create_new(tmp_path / "http_client.py", NEW)
    assert (tmp_path / "http_client.py").read_bytes() == NEW
    assert leftovers(tmp_path) == []


def test_create_new_never_overwrites(tmp_path: Path) -> None:
    existing = tmp_path / "http_client.py"
    existing.write_bytes(b"# someone else's module\n")
    with pytest.raises(WriteError, match="^already exists; left alone$"):
        create_new(existing, NEW)
    assert existing.read_bytes() == b"# someone else's module\n"
    (tmp_path / "dangling.py").symlink_to("nowhere.py")
    with pytest.raises(WriteError, match="^already exists; left alone$"):
        create_new(tmp_path / "dangling.py", NEW)
    assert not (tmp_path / "nowhere.py").exists()
    assert leftovers(tmp_path) == []


def test_create_new_loses_a_race_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process creates the file between our check and our link: theirs is kept."""
    target = tmp_path / "http_client.py"
    real_link = os.link

    def competitor_first(source: Any, destination: Any) -> None:
        Path(destination).write_bytes(b"# theirs\n")
        real_link(source, destination)

    monkeypatch.setattr(os, "link", competitor_first)
    with pytest.raises(WriteError, match="^already exists; left alone$"):
        create_new(target, NEW)
    assert target.read_bytes() == b"# theirs\n"
    assert leftovers(tmp_path) == []


def test_create_new_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_os_call(monkeypatch, "link", OSError(errno.EPERM, "Operation not permitted"))
    create_new(tmp_path / "http_client.py", NEW)
    assert (tmp_path / "http_client.py").read_bytes() == NEW
    assert leftovers(tmp_path) == []


def test_create_new_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="does not exist"):
        create_new(tmp_path / "missing" / "http_client.py", NEW)


def test_ownership_is_kept_when_root_rewrites_someone_elses_file(target: Path) -> None:
    if not is_root():
        pytest.skip("only root can hand a file to another user; nothing to check otherwise")
    os.chown(target, NOBODY, NOBODY)
    write_atomic(target, NEW)
    info = target.stat()
    assert (info.st_uid, info.st_gid) == (NOBODY, NOBODY)
    assert stat.S_IMODE(info.st_mode) == 0o640


def _write_message(path: str) -> str:
    try:
        write_atomic(Path(path), NEW)
    except WriteError as error:
        return str(error)
    return "written"


def test_folder_without_write_permission() -> None:
    with public_tmp() as folder:
        locked = folder / "locked"
        locked.mkdir()
        (locked / "mod.py").write_bytes(OLD)
        (locked / "mod.py").chmod(0o666)
        locked.chmod(0o755)  # others may read and enter, not create files
        message = run_unprivileged(_write_message, str(locked / "mod.py"))
        assert message.startswith("permission denied while creating a temporary file next to it")
        assert (locked / "mod.py").read_bytes() == OLD
        assert leftovers(locked) == []


def test_file_of_another_user_without_write_access() -> None:
    with public_tmp() as folder:
        (folder / "mod.py").write_bytes(OLD)
        (folder / "mod.py").chmod(0o644)  # owner (root) may write; nobody may not
        folder.chmod(0o777)
        assert run_unprivileged(_write_message, str(folder / "mod.py")) == (
            "permission denied: no write access to the file; file left unchanged"
        )
        assert (folder / "mod.py").read_bytes() == OLD

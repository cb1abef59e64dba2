"""Writing files so that a crash, a Ctrl-C or a full disk never leaves a half-written one.

``--fix`` runs in working trees full of uncommitted work, so every write goes through a temporary
file in the same folder (same filesystem, so the final rename is atomic), is flushed to disk with
``fsync``, takes over the original's permission bits (and owner and group where the system allows),
and only then replaces the original with ``os.replace``. Until that instant the original is untouched;
after it, the new content is complete. On any failure, ``KeyboardInterrupt`` included, the temporary
file is removed and the original is left as it was.

What is deliberately refused, each with its own message (``WriteError``):

* a file changed or removed since it was read (``expected``): the user edited it meanwhile, and a
  rewrite computed from the old text would silently throw that edit away;
* a file without its owner's write bit, even when running as root (root ignores permission bits, but
  a read-only file is a clear statement that it should not be changed by tools);
* a missing folder, a directory or special file in place of the file, a full disk, a read-only
  filesystem.

Writing through a symbolic link rewrites the file the link points to and keeps the link. Known
limits: a file with several hard links loses the link (the other names keep the old content, as with
black and ruff); extended attributes and ACLs are not copied.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from pool_refactor.paths import display_path

__all__ = ["WriteError", "create_new", "write_atomic"]

_TEMP_SUFFIX = ".pool-refactor.tmp"


class WriteError(Exception):
    """Why a file was not written; the file is unchanged. The message is meant for the user."""


def _umask() -> int:
    """The process umask, for the mode of new files (read without changing it where possible)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def _os_message(error: OSError, doing: str, outcome: str = "file left unchanged") -> str:
    """Plain words for an OS error met while ``doing`` something; always says nothing was changed."""
    code = error.errno
    if code == errno.ENOSPC:
        reason = "no space left on device"
    elif code == getattr(errno, "EDQUOT", -1):
        reason = "disk quota exceeded"
    elif code == errno.EROFS:
        reason = "read-only file system"
    elif code in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    elif code == errno.ELOOP:
        reason = "symbolic link loop"
    else:
        reason = error.strerror or str(error)
    return f"{reason} while {doing}; {outcome}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable; best effort, some filesystems cannot open folders."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _folder_of(target: str) -> str:
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise WriteError(f"folder {display_path(folder)!r} does not exist")
    return folder


def _temporary(
    folder: str, name: str, data: bytes, mode: int, owner: os.stat_result | None, outcome: str
) -> str:
    """A complete, fsynced copy of ``data`` next to the target; returns its path."""
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=_TEMP_SUFFIX, dir=folder)
    except OSError as error:
        raise WriteError(_os_message(error, "creating a temporary file next to it", outcome)) from None
    try:
        try:
            _write_all(fd, data)
            os.fchmod(fd, mode)
            if owner is not None and (owner.st_uid, owner.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):  # only root may give a file away; keep the bits then
                    os.fchown(fd, owner.st_uid, owner.st_gid)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise WriteError(_os_message(error, "writing the new content", outcome)) from None
        raise
    return temporary


def _unchanged(target: str, expected: bytes) -> None:
    try:
        with open(target, "rb") as handle:
            current = handle.read(len(expected) + 1)
    except FileNotFoundError:
        raise WriteError("removed since it was read; left alone") from None
    except OSError as error:
        raise WriteError(_os_message(error, "checking it is unchanged")) from None
    if current != expected:
        raise WriteError("changed on disk since it was read; left alone")


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the write is complete: a KeyboardInterrupt between creating the temporary
    file and renaming it would otherwise leave the temporary file behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def write_atomic(path: Path, data: bytes, *, expected: bytes | None = None) -> None:
    with _interrupts_deferred():
        _write_atomic(path, data, expected=expected)


def _write_atomic(path: Path, data: bytes, *, expected: bytes | None = None) -> None:
    """Replace the file at ``path`` (through symbolic links) with ``data``, all or nothing.

    With ``expected``, write only if the file still holds exactly those bytes; the check is made
    after the new content is safely on disk and right before the rename, to keep the window small.
    """
    target = os.path.realpath(path)
    folder = _folder_of(target)
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise WriteError(_os_message(error, "looking at it")) from None
    if info is None:
        if expected is not None:
            raise WriteError("removed since it was read; left alone")
        mode = 0o666 & ~_umask()
    else:
        if stat.S_ISDIR(info.st_mode):
            raise WriteError("is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise WriteError("is not a regular file")
        if not info.st_mode & stat.S_IWUSR:
            raise WriteError("is read-only")
        if not os.access(target, os.W_OK):
            raise WriteError("permission denied: no write access to the file; file left unchanged")
        mode = stat.S_IMODE(info.st_mode)
    temporary = _temporary(folder, os.path.basename(target), data, mode, info, "file left unchanged")
    try:
        if expected is not None:
            _unchanged(target, expected)
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise WriteError(_os_message(error, "replacing the file")) from None
        raise
    _fsync_folder(folder)


def create_new(path: Path, data: bytes) -> None:
    with _interrupts_deferred():
        _create_new(path, data)


def _create_new(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``; fails, writing nothing, if anything already has that name.

    The content is written to a temporary file first and then hard-linked into place, which is
    atomic and refuses an existing name (a file someone else created meanwhile is never overwritten);
    on filesystems without hard links it falls back to an exclusive create.
    """
    target = os.path.abspath(path)
    if os.path.lexists(target):
        raise WriteError("already exists; left alone")
    folder = _folder_of(target)
    mode = 0o666 & ~_umask()
    temporary = _temporary(folder, os.path.basename(target), data, mode, None, "nothing created")
    try:
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise WriteError("already exists; left alone") from None
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            _create_exclusive(target, data, mode)
    except OSError as error:
        raise WriteError(_os_message(error, "creating it", "nothing created")) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    _fsync_folder(folder)


def _create_exclusive(target: str, data: bytes, mode: int) -> None:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    except FileExistsError:
        raise WriteError("already exists; left alone") from None
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise

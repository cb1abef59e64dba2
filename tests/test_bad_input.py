"""The bad-input matrix (issue 6), each case through the real command line.

Every case checks three things: the message (exact where it is stable), the exit code (2 whenever
the run could not do what was asked) and that nothing was lost (files the run could not handle are
byte for byte as before, no temporary files are left behind, every file is either its old or its
complete new content).

Most cases run in-process through ``typer.testing.CliRunner`` on ``pool_refactor.cli.app``, which
lets a test put a hook at the exact moment it needs (a file edited between read and write, a full
disk, Ctrl-C inside a write); the real Ctrl-C is a subprocess and SIGINT. Tests run as root here, so
"read-only" means without the owner's write bit, which the writer honours even for root.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pool_refactor.cli import app
from pool_refactor.fix import writer
from pool_refactor.run import fixing

runner = CliRunner()

REPO = Path(__file__).resolve().parent.parent
TEMP_SUFFIX = ".pool-refactor.tmp"

STANDARD = (
    "import httpx\n"
    "\n"
    "\n"
    "async def get_user(url):\n"
    "    async with httpx.AsyncClient(timeout=10.0) as client:\n"
    "        return (await client.get(url)).json()\n"
)
FIXED = (
    "from app.http_client import get_http_client\n"
    "\n"
    "\n"
    "async def get_user(url):\n"
    "    client = get_http_client()\n"
    "    return (await client.get(url, timeout=10.0)).json()\n"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``proj/`` with a pyproject (the project root), a package ``app`` holding one fixable file."""
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "0"\n')
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "users.py").write_text(STANDARD)
    monkeypatch.chdir(root)
    return root


def scan(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["scan", "--no-cache", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is never an acceptable answer
    return result.exit_code, result.output


def snapshot(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink() and path.is_file():
                files[str(path.relative_to(root))] = path.read_bytes()
    return files


def temp_files(root: Path) -> list[str]:
    return [str(p) for p in root.rglob(f"*{TEMP_SUFFIX}")]


def only_changed(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {name for name in set(before) | set(after) if before.get(name) != after.get(name)}


# --------------------------------------------------------------------------------------------------
# Files that cannot be read or parsed: an error line each, exit 2, the rest of the run goes on


UNREADABLE = [
    ("syntax.py", b"import httpx\ndef f(:\n", "syntax error (line 2): invalid syntax"),
    (
        "py2.py",
        b'import httpx\nprint "hello"\n',
        "syntax error (line 2): Missing parentheses in call to 'print'. Did you mean print(...)?",
    ),
    ("nul.py", b"import httpx\nx = 1\x00\n", "contains null bytes (first at byte 18, line 2, column 6)"),
    (
        "undecodable.py",
        b'import httpx\nx = "\xff"\n',
        "not valid utf-8 at byte 18 (line 2, column 6, byte 0xff): invalid start byte; declare the "
        "file's encoding with a '# -*- coding: <name> -*-' line or save it as UTF-8",
    ),
    (
        "wrong_cookie.py",
        b'# -*- coding: ascii -*-\nimport httpx\nx = "\xc3\xa9"\n',
        "not valid ascii at byte 42 (line 3, column 6, byte 0xc3): ordinal not in range(128); "
        "the coding declaration on line 1 says 'ascii'",
    ),
    (
        "unknown_cookie.py",
        b"# -*- coding: nosuch -*-\nimport httpx\n",
        "unknown encoding 'nosuch' in the coding declaration on line 1",
    ),
    (
        "utf16.py",
        "import httpx\n".encode("utf-16"),
        "is encoded as UTF-16, which Python source files cannot be; save it as UTF-8",
    ),
]


@pytest.mark.parametrize("mode", ["scan", "fix"])
@pytest.mark.parametrize(("name", "data", "message"), UNREADABLE, ids=[case[0] for case in UNREADABLE])
def test_unreadable_file_is_an_error_and_the_rest_goes_on(
    project: Path, mode: str, name: str, data: bytes, message: str
) -> None:
    (project / "app" / name).write_bytes(data)
    code, out = scan(*(["--fix"] if mode == "fix" else []), ".")
    assert code == 2, out
    assert f"app/{name}: error: {message}\n" in out
    assert (project / "app" / name).read_bytes() == data
    users = (project / "app" / "users.py").read_text()
    assert users == (FIXED if mode == "fix" else STANDARD), "the other files are still handled"
    assert temp_files(project) == []


def test_a_20_mb_file_is_skipped_with_its_size(project: Path) -> None:
    huge = project / "app" / "huge.py"
    head = b"import httpx\n# "
    data = head + b"x" * (20 * 1024 * 1024 - len(head) - 1) + b"\n"
    huge.write_bytes(data)
    started = time.perf_counter()
    code, out = scan("--fix", ".")
    assert time.perf_counter() - started < 20
    assert code == 2
    assert "app/huge.py: error: larger than 10 MiB (20 MiB), skipped\n" in out
    assert huge.read_bytes() == data
    assert (project / "app" / "users.py").read_text() == FIXED


def test_broken_link_and_link_loop(project: Path) -> None:
    app_dir = project / "app"
    (app_dir / "broken.py").symlink_to("nowhere.py")
    (app_dir / "loop1.py").symlink_to("loop2.py")
    (app_dir / "loop2.py").symlink_to("loop1.py")
    for args in (["."], ["--fix", "."], ["app/broken.py", "app/loop1.py"]):
        code, out = scan(*args)
        assert code == 2, (args, out)
        assert "app/broken.py: error: broken symbolic link\n" in out
        assert "app/loop1.py: error: symbolic link loop\n" in out
    assert os.readlink(app_dir / "broken.py") == "nowhere.py"
    assert os.readlink(app_dir / "loop1.py") == "loop2.py"
    assert (app_dir / "users.py").read_text() == FIXED


def test_a_folder_named_like_a_python_file_is_walked_as_a_folder(project: Path) -> None:
    folder = project / "app" / "tricky.py"
    folder.mkdir()
    (folder / "inner.py").write_text(STANDARD)
    code, out = scan(".")
    assert code == 0, out
    assert "app/tricky.py/inner.py:5:16: POOL101" in out
    code, out = scan("app/tricky.py")  # named explicitly: still a folder
    assert code == 0, out
    assert "app/tricky.py/inner.py:5:16: POOL101" in out


def test_a_folder_where_the_shared_module_goes(project: Path) -> None:
    (project / "app" / "http_client.py").mkdir()
    code, out = scan("--fix", ".")
    assert code == 2
    assert (project / "app" / "users.py").read_text() == STANDARD
    assert (project / "app" / "http_client.py").is_dir()
    line = next(x for x in out.splitlines() if x.startswith("app/http_client.py: error:"))
    assert "directory" in line, f"the message should say it is a directory: {line!r}"


# --------------------------------------------------------------------------------------------------
# Encodings, BOM, line endings and tabs survive --fix


def test_bom_is_kept(project: Path) -> None:
    path = project / "app" / "users.py"
    path.write_bytes(b"\xef\xbb\xbf" + STANDARD.encode())
    assert scan("--fix", ".")[0] == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + FIXED.encode()


def test_crlf_stays_crlf(project: Path) -> None:
    path = project / "app" / "users.py"
    path.write_bytes(STANDARD.replace("\n", "\r\n").encode())
    assert scan("--fix", ".")[0] == 0
    assert path.read_bytes() == FIXED.replace("\n", "\r\n").encode()


def test_mixed_line_endings_keep_each_untouched_line_ending(project: Path) -> None:
    path = project / "app" / "users.py"
    path.write_bytes(
        b"import httpx\r\nX = 1\n\r\n\nasync def get_user(url):\r\n"
        b"    async with httpx.AsyncClient(timeout=10.0) as client:\n"
        b"        return (await client.get(url)).json()\r\n\r\nY = 2\n"
    )
    code, out = scan("--fix", ".")
    assert code == 0, out
    data = path.read_bytes()
    assert b"X = 1\n\r\n\nasync def get_user(url):\r\n" in data
    assert data.endswith(b".json()\r\n\r\nY = 2\n")
    compile(data, "users.py", "exec")
    assert scan("--fix", ".")[0] == 0
    assert path.read_bytes() == data, "a second --fix changes nothing"


def test_a_final_lone_cr_line_ending_is_kept(project: Path) -> None:
    """A lone CR ends a line for Python; libcst drops one at the very end of a file (LibCST#901)."""
    path = project / "app" / "users.py"
    path.write_bytes(STANDARD.replace("\n", "\r").encode())
    assert scan("--fix", ".")[0] == 0
    assert path.read_bytes() == FIXED.replace("\n", "\r").encode()


def test_tabs_are_kept(project: Path) -> None:
    path = project / "app" / "users.py"
    path.write_text(
        "import httpx\n\n\nasync def get_user(url):\n"
        "\tasync with httpx.AsyncClient(timeout=10.0) as client:\n"
        "\t\tif url:\n\t\t\treturn (await client.get(url)).json()\n"
    )
    assert scan("--fix", ".")[0] == 0
    assert path.read_text() == (
        "from app.http_client import get_http_client\n\n\nasync def get_user(url):\n"
        "\tclient = get_http_client()\n"
        "\tif url:\n\t\treturn (await client.get(url, timeout=10.0)).json()\n"
    )


def test_latin1_cookie_file_stays_latin1(project: Path) -> None:
    path = project / "app" / "users.py"
    original = b"# -*- coding: latin-1 -*-\n" + STANDARD.encode() + b'NAME = "caf\xe9"\n'
    path.write_bytes(original)
    assert scan("--fix", ".")[0] == 0
    data = path.read_bytes()
    assert data.startswith(b"# -*- coding: latin-1 -*-\n")
    assert data.endswith(b'NAME = "caf\xe9"\n')
    assert b"get_http_client()" in data


# --------------------------------------------------------------------------------------------------
# Files --fix must not or cannot write


def test_read_only_file_is_not_fixed(project: Path) -> None:
    path = project / "app" / "users.py"
    path.chmod(0o444)
    code, out = scan("--fix", ".")
    assert code == 2
    assert "app/users.py: error: not fixed: is read-only\n" in out
    assert path.read_text() == STANDARD
    assert path.stat().st_mode & 0o777 == 0o444
    assert temp_files(project) == []


def test_a_fix_failure_is_not_called_a_scan_failure(project: Path) -> None:
    (project / "app" / "users.py").chmod(0o444)
    code, out = scan("--fix", ".")
    assert code == 2
    summary = out.strip().splitlines()[-1]
    assert "could not be scanned" not in summary, f"the file was scanned, it could not be fixed: {summary!r}"


@pytest.fixture
def hook_before_write(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[Path], None]], None]:
    """Run ``action(path)`` right before --fix writes ``app/users.py`` (after it was read)."""

    def install(action: Callable[[Path], None]) -> None:
        real = writer.write_atomic

        def write_atomic(path: Path, data: bytes, *, expected: bytes | None = None) -> None:
            if Path(path).name == "users.py":
                action(Path(path))
            real(path, data, expected=expected)

        monkeypatch.setattr("pool_refactor.run.fixing.write_atomic", write_atomic)

    return install


def test_file_changed_between_read_and_write_is_left_alone(
    project: Path, hook_before_write: Callable[[Callable[[Path], None]], None]
) -> None:
    edited = STANDARD + "\n\ndef new_work():  # typed while --fix ran\n    pass\n"

    def user_edits(path: Path) -> None:
        path.write_text(edited)

    hook_before_write(user_edits)
    code, out = scan("--fix", ".")
    assert code == 2
    assert "app/users.py: error: not fixed: changed on disk since it was read; left alone\n" in out
    assert (project / "app" / "users.py").read_text() == edited
    assert temp_files(project) == []


def test_file_removed_between_read_and_write_stays_removed(
    project: Path, hook_before_write: Callable[[Callable[[Path], None]], None]
) -> None:
    hook_before_write(lambda path: path.unlink())
    code, out = scan("--fix", ".")
    assert code == 2
    assert "app/users.py: error: not fixed: removed since it was read; left alone\n" in out
    assert not (project / "app" / "users.py").exists()
    assert temp_files(project) == []


def test_file_changed_between_scan_and_fix_is_fixed_from_what_is_on_disk(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixer re-reads each file: an edit made after the scan is kept, not overwritten."""
    real = fixing.apply_fixes
    path = project / "app" / "users.py"

    def edit_then_fix(*args: Any, **kwargs: Any) -> None:
        path.write_text("# edited after the scan\n" + STANDARD)
        real(*args, **kwargs)

    monkeypatch.setattr(fixing, "apply_fixes", edit_then_fix)
    code, out = scan("--fix", ".")
    assert code == 0, out
    assert path.read_text() == "# edited after the scan\n" + FIXED


def test_existing_http_client_module_is_never_overwritten(project: Path) -> None:
    mine = project / "app" / "http_client.py"
    mine.write_text("# my own module\nTIMEOUT = 3\n")
    before = snapshot(project)
    code, out = scan("--fix", ".")
    assert code == 2
    assert (
        "app/http_client.py: error: exists and was not written by pool-refactor (its first line is not "
        "'# Generated by pool-refactor ...'), so it is left alone; pass --module to choose another path "
        "for the shared client module\n"
    ) in out
    assert "app/users.py: error: not fixed: the shared module app/http_client.py is unusable\n" in out
    assert snapshot(project) == before
    # --module, as the message says, gets the job done
    code, out = scan("--fix", "--module", "app/shared_http.py", ".")
    assert code == 0, out
    assert mine.read_text() == "# my own module\nTIMEOUT = 3\n"
    assert (project / "app" / "users.py").read_text() == FIXED.replace("app.http_client", "app.shared_http")


def test_path_outside_the_project_is_scanned_with_an_absolute_path(project: Path) -> None:
    other = project.parent / "other"
    (other / "lib").mkdir(parents=True)
    (other / "lib" / "__init__.py").write_text("")
    (other / "lib" / "calls.py").write_text(STANDARD)
    code, out = scan("--check", "../other")
    assert code == 1
    assert f"{other.resolve().as_posix()}/lib/calls.py:5:16: POOL101" in out


def test_module_outside_the_project_is_refused(project: Path) -> None:
    """`--module` outside the project root: the rewritten file would import `http_client`, which
    nothing puts on its import path; the run must refuse and write nothing."""
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    before = snapshot(project)
    code, out = scan("--fix", "--module", "../elsewhere/http_client.py", ".")
    assert code == 2, out
    assert snapshot(project) == before
    assert not (elsewhere / "http_client.py").exists()
    assert "outside" in out


# --------------------------------------------------------------------------------------------------
# Full disk and Ctrl-C: never a half-written file, never a stray temporary file


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write into one of pool-refactor's temporary files fails with ENOSPC."""
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        try:
            name = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            name = ""
        if name.endswith(TEMP_SUFFIX):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


def test_full_disk_when_the_shared_module_is_created(project: Path, full_disk: None) -> None:
    before = snapshot(project)
    code, out = scan("--fix", ".")
    assert code == 2
    assert (
        "app/http_client.py: error: cannot write the shared module: no space left on device while "
        "writing the new content; nothing created\n"
    ) in out
    assert snapshot(project) == before
    assert temp_files(project) == []


def test_full_disk_when_a_file_is_rewritten(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert scan("--fix", ".")[0] == 0  # the shared module exists from now on
    second = project / "app" / "orders.py"
    second.write_text(STANDARD)
    before = snapshot(project)
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(TEMP_SUFFIX):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    code, out = scan("--fix", ".")
    assert code == 2
    assert (
        "app/orders.py: error: not fixed: no space left on device while writing the new content; "
        "file left unchanged\n"
    ) in out
    assert snapshot(project) == before
    assert temp_files(project) == []


def _many_files(project: Path, count: int) -> dict[Path, tuple[bytes, bytes]]:
    """``count`` fixable files: path -> (old content, content after --fix)."""
    files = {}
    for index in range(count):
        path = project / "app" / f"m{index:03d}.py"
        old = STANDARD.replace("get_user", f"get_user_{index}").encode()
        new = FIXED.replace("get_user", f"get_user_{index}").encode()
        path.write_bytes(old)
        files[path] = (old, new)
    return files


def _each_file_old_or_new(files: dict[Path, tuple[bytes, bytes]]) -> int:
    """Asserts every file holds its whole old or whole new content; returns how many are new."""
    changed = 0
    for path, (old, new) in files.items():
        data = path.read_bytes()
        assert data in (old, new), f"{path} is neither its old nor its new content: {data!r}"
        changed += data == new
    return changed


def test_keyboard_interrupt_inside_a_write(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the third file's new content is on disk but before its rename (the shared module is
    created by a hard link, so the first two renames are the first two files)."""
    files = _many_files(project, 6)
    real_replace = os.replace
    calls = {"n": 0}

    def replace(src: Any, dst: Any) -> None:
        if str(src).endswith(TEMP_SUFFIX):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    result = runner.invoke(app, ["scan", "--no-cache", "--fix", "."])
    assert result.exit_code in (2, 130), result.output
    assert temp_files(project) == []
    changed = _each_file_old_or_new(files)
    assert changed == 2, "two files, then Ctrl-C before the third one's rename"
    assert (project / "app" / "http_client.py").exists(), "written before any file that imports it"


def test_ctrl_c_during_fix_leaves_only_whole_files(project: Path) -> None:
    """A real SIGINT to a real process, sent as soon as the first file has been rewritten."""
    files = _many_files(project, 60)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "pool_refactor", "scan", "--no-cache", "--fix", "--jobs", "1", "."],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if any(path.read_bytes() != old for path, (old, _new) in files.items()):
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    changed = _each_file_old_or_new(files)
    assert 0 < changed < len(files), "the signal should land in the middle of --fix"
    assert temp_files(project) == []
    assert process.returncode in (2, 130), process.returncode
    assert b"Traceback" not in err
    assert b"interrupt" in err.lower(), f"Ctrl-C must say what happened, got stderr={err!r}"

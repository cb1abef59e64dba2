"""`--fix` / `--diff` on several cores: the rewrites are computed in worker processes, never anything
else; the diff, the files written, the messages and the errors are the same whatever ``--jobs`` is.

Each test runs the real command line in-process on a project built from the codemod fixture cases
(CRLF, latin-1 cookie, BOM, tabs, httpx2, every library), in two packages and with a FastAPI
application that gets wired; the pool is forced on for such small trees by lowering its threshold.
"""

from __future__ import annotations

import concurrent.futures
import gc
import multiprocessing
import os
import shutil
import signal
from pathlib import Path

import libcst
import pytest
from typer.testing import CliRunner

from pool_refactor.cli import app
from pool_refactor.paths import DiscoveredFile
from pool_refactor.run import fix_parallel, fixing
from pool_refactor.scan.findings import FileError

runner = CliRunner()

FIXTURES = Path(__file__).parent / "fixtures" / "fix"
CASES = {
    "app": [
        "headline_async_with",
        "crlf_line_endings",
        "latin1_coding_cookie",
        "utf8_bom",
        "tab_indented",
        "comments_everywhere",
        "aiohttp_async_with_moved_options",
        "requests_one_shot_get",
        "urllib3_keyed_options",
        "one_shot_async_unsafe",  # unsafe only: a candidate that --fix leaves alone
    ],
    "worker": ["httpx2_plain_one_shot", "multi_item_client_first", "function_local_import_removed"],
}
API = (
    "import httpx\n"
    "from fastapi import FastAPI\n"
    "\n"
    "app = FastAPI()\n"
    "\n"
    "\n"
    "@app.get('/ping')\n"
    "def ping() -> int:\n"
    "    return httpx.get('https://example.com/ping', timeout=3).status_code\n"
)
CRASHED = "not fixed: the fixer crashed on this file (worker process died)"

needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="a function patched in the test reaches the workers only when they are forked",
)


def build_project(root: Path) -> Path:
    """Two packages (so two shared modules) of fixture inputs, and a FastAPI app to wire."""
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "0"\n')
    for package, cases in CASES.items():
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
        for case in cases:
            shutil.copyfile(FIXTURES / case / "input.py", root / package / f"{case}.py")
    (root / "app" / "api.py").write_text(API)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def scan(root: Path, jobs: int, *args: str) -> tuple[int, str]:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = runner.invoke(app, ["scan", "--no-cache", "--jobs", str(jobs), *args, "."])
    finally:
        os.chdir(cwd)
    # Lifecycle messages name the application file by its absolute path.
    return result.exit_code, result.output.replace(str(root), "<root>")


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Forces the pool on for small trees; records the number of files of each pool started."""
    monkeypatch.setattr(fix_parallel, "FIX_POOL_MIN_FILES", 2)
    started: list[int] = []
    real = fix_parallel._pooled

    def pooled(*args: object, **kwargs: object) -> object:
        started.append(len(args[1]))  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fix_parallel, "_pooled", pooled)
    return started


@pytest.fixture
def twins(tmp_path: Path) -> tuple[Path, Path]:
    """The same project twice: one for ``--jobs 1``, one for ``--jobs 2``."""
    return build_project(tmp_path / "serial"), build_project(tmp_path / "pooled")


def test_diff_is_the_same_whatever_jobs(twins: tuple[Path, Path], pools: list[int]) -> None:
    serial, pooled = twins
    one = scan(serial, 1, "--diff")
    assert pools == []
    two = scan(pooled, 2, "--diff")
    assert pools == [14]  # every candidate went through the pool
    assert gc.get_freeze_count() == 0  # the parent's objects are collectable again
    assert two == one
    code, out = one
    assert code == 0, out
    assert "+++ b/app/http_client.py" in out and "+++ b/worker/http_client.py" in out
    assert "+++ b/app/crlf_line_endings.py" in out and "Lifecycle: " in out
    assert "+++ b/app/one_shot_async_unsafe.py" not in out
    assert "Would fix 13 site(s) in 13 file(s)." in out
    assert snapshot(pooled) == snapshot(serial) == snapshot(build_project(pooled.parent / "fresh"))


def test_fix_writes_the_same_bytes_whatever_jobs(twins: tuple[Path, Path], pools: list[int]) -> None:
    serial, pooled = twins
    before = snapshot(serial)
    one = scan(serial, 1, "--fix")
    two = scan(pooled, 2, "--fix")
    assert pools == [14]
    assert two == one
    assert one[0] == 0, one[1]
    after = snapshot(serial)
    assert snapshot(pooled) == after
    changed = {name for name in after if before.get(name) != after[name]}
    assert len(changed) == 15  # 13 rewritten files and 2 shared modules
    assert after["app/crlf_line_endings.py"] == (
        FIXTURES / "crlf_line_endings" / "expected.py"
    ).read_bytes().replace(b"myapp.http_client", b"app.http_client")


def test_unsafe_fixes_are_the_same_whatever_jobs(twins: tuple[Path, Path], pools: list[int]) -> None:
    serial, pooled = twins
    one = scan(serial, 1, "--fix", "--unsafe-fixes")
    two = scan(pooled, 2, "--fix", "--unsafe-fixes")
    assert two == one and one[0] == 0, one[1]
    assert snapshot(pooled) == snapshot(serial)
    assert b"get_http_client" in (serial / "app" / "one_shot_async_unsafe.py").read_bytes()


def break_files_after_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the scan and the fix: a candidate removed, one no longer UTF-8, one with a syntax
    error, one replaced by a folder; and libcst fails on one it could parse before."""
    real = fixing.apply_fixes

    def break_then_fix(*args: object, **kwargs: object) -> None:
        app_dir = Path("app")
        (app_dir / "headline_async_with.py").unlink()
        (app_dir / "latin1_coding_cookie.py").write_bytes(b"import httpx\nx = '\xff'\n")
        (app_dir / "tab_indented.py").write_text("import httpx\ndef f(:\n")
        (app_dir / "utf8_bom.py").unlink()
        (app_dir / "utf8_bom.py").mkdir()
        real(*args, **kwargs)  # type: ignore[arg-type]

    real_parse = libcst.parse_module

    def parse_module(source: str, *args: object, **kwargs: object) -> libcst.Module:
        if "def search(" in source:  # requests_one_shot_get
            raise ValueError("simulated parser failure")
        return real_parse(source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fixing, "apply_fixes", break_then_fix)
    monkeypatch.setattr(libcst, "parse_module", parse_module)


@needs_fork
@pytest.mark.parametrize("mode", ["--diff", "--fix"])
def test_errors_are_reported_the_same_whatever_jobs(
    twins: tuple[Path, Path], pools: list[int], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    serial, pooled = twins
    break_files_after_the_scan(monkeypatch)
    one = scan(serial, 1, mode)
    two = scan(pooled, 2, mode)
    assert pools == [14]
    assert two == one
    code, out = one
    assert code == 2
    errors = [line for line in out.splitlines() if ": error: not fixed: " in line]
    assert [line.split(":")[0] for line in errors] == [
        "app/headline_async_with.py",
        "app/latin1_coding_cookie.py",
        "app/requests_one_shot_get.py",
        "app/tab_indented.py",
        "app/utf8_bom.py",
    ]
    assert (
        "app/requests_one_shot_get.py: error: not fixed: libcst could not rewrite it "
        "(ValueError: simulated parser failure)"
    ) in out
    assert "app/tab_indented.py: error: not fixed: syntax error (line 2)" in out
    assert snapshot(pooled) == snapshot(serial)
    if mode == "--fix":
        assert (serial / "app" / "crlf_line_endings.py").read_bytes() != (
            FIXTURES / "crlf_line_endings" / "input.py"
        ).read_bytes()  # the others were fixed


@needs_fork
def test_a_worker_that_dies_costs_one_file_not_the_run(
    twins: tuple[Path, Path], pools: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    serial, pooled = twins
    reference = scan(serial, 1, "--fix")
    real = fixing.rewrite_file
    victim = "app/comments_everywhere.py"

    def crashing(file: DiscoveredFile, options: object) -> object:
        if file.display == victim:
            os._exit(70)  # what a segfault in libcst would look like to the pool
        return real(file, options)  # type: ignore[arg-type]

    monkeypatch.setattr(fixing, "rewrite_file", crashing)
    code, out = scan(pooled, 2, "--fix")
    assert code == 2
    assert f"{victim}: error: {CRASHED}" in out
    assert [line for line in out.splitlines() if "error" in line] == [f"{victim}: error: {CRASHED}"]
    assert "Fixed 12 site(s) in 12 file(s)." in out and "Fixed 13 site(s) in 13 file(s)." in reference[1]
    assert (pooled / victim).read_bytes() == (FIXTURES / "comments_everywhere" / "input.py").read_bytes()
    got, want = snapshot(pooled), snapshot(serial)
    for name in set(got) | set(want):
        if name not in (victim, "app/http_client.py"):  # the module might need one section less
            assert got.get(name) == want.get(name), name


def crash_on_odd(file: DiscoveredFile) -> str:
    if int(file.display) % 2:
        os._exit(70)
    return f"ok {file.display}"


@needs_fork
def test_results_come_back_in_file_order_also_after_crashes() -> None:
    files = [DiscoveredFile(Path(f"missing/{n}.py"), str(n)) for n in range(7)]
    got = fix_parallel._pooled(
        crash_on_odd, files, [n % 3 for n in range(7)], 2, lambda f: f"crashed {f.display}"
    )
    assert got == [f"crashed {n}" if n % 2 else f"ok {n}" for n in range(7)]


def interrupt_the_parent(file: DiscoveredFile, options: object) -> FileError | None:
    if file.display == "app/headline_async_with.py":
        os.kill(os.getppid(), signal.SIGINT)  # Ctrl-C reaches the parent while workers compute
    return None


@needs_fork
def test_ctrl_c_while_computing_writes_nothing(
    twins: tuple[Path, Path], pools: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, pooled = twins
    before = snapshot(pooled)
    monkeypatch.setattr(fixing, "rewrite_file", interrupt_the_parent)
    code, out = scan(pooled, 2, "--fix")
    assert pools == [14]
    assert code == 130, out
    assert "interrupted" in out
    assert snapshot(pooled) == before
    assert multiprocessing.active_children() == []  # the workers were waited for


def sigint_handler(file: DiscoveredFile) -> str:
    return str(signal.getsignal(signal.SIGINT))


def test_workers_leave_ctrl_c_to_the_parent() -> None:
    files = [DiscoveredFile(Path(f"{n}.py"), str(n)) for n in range(3)]
    got = fix_parallel._pooled(sigint_handler, files, [0, 0, 0], 2, lambda f: "crashed")
    assert got == [str(signal.SIG_IGN)] * 3


def test_small_runs_do_not_start_a_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "0"\n')
    for case in CASES["app"][:2]:
        shutil.copyfile(FIXTURES / case / "input.py", root / "app" / f"{case}.py")

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for a small run")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)  # imported by workers.start
    code, out = scan(root, 8, "--diff")
    assert code == 0, out
    assert "Would fix 2 site(s) in 2 file(s)." in out


@pytest.mark.parametrize(
    ("sizes", "jobs", "pool"),
    [
        ([100] * 2, 2, False),
        ([100] * 7, 2, False),
        ([100] * 8, 2, True),
        ([10_500, 5_700, 5_300], 2, False),  # /tmp/svc's three: a pool costs more than it saves
        ([100] * 40, 1, False),
        ([200_000], 8, False),  # one file: nothing to share
        ([32 * 1024, 32 * 1024], 2, True),
        ([30_000, 30_000], 2, False),
    ],
)
def test_pool_threshold(sizes: list[int], jobs: int, pool: bool) -> None:
    assert fix_parallel._use_pool(sizes, jobs) is pool


def test_a_crash_is_a_fix_error(tmp_path: Path) -> None:
    file = DiscoveredFile(tmp_path / "gone.py", "gone.py")
    assert fixing._crashed(file) == FileError("gone.py", CRASHED, stage="fix")

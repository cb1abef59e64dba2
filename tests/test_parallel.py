"""The process pool changes how fast a scan is, never what it finds or in which order."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from pathlib import Path

import pytest

from pool_refactor.plan.analyze import scan_one
from pool_refactor.run import parallel, workers
from pool_refactor.run.config import load_config
from pool_refactor.run.options import Options
from pool_refactor.run.parallel import Scanned, scan_file
from pool_refactor.run.pipeline import run
from pool_refactor.scan.findings import FileScan, ScanResult

SITES = (
    "async def fetch_{n}(url: str) -> dict:\n"
    "    async with httpx.AsyncClient(timeout={n}.0) as client:\n"
    "        return (await client.get(url)).json()\n",
    "def many_{n}(urls: list[str]) -> list[int]:\n"
    "    out = []\n"
    "    for url in urls:\n"
    "        with httpx.Client() as client:\n"
    "            out.append(client.get(url).status_code)\n"
    "    return out\n",
    "def ping_{n}(url: str) -> int:\n    return httpx.get(url, timeout={n}).status_code\n",
    "class Api{n}:\n    def __init__(self) -> None:\n        self.client = httpx.AsyncClient()\n",
    "def leak_{n}(url: str) -> int:\n    client = httpx.Client()\n    return client.get(url).status_code\n",
    "def make_{n}() -> httpx.AsyncClient:\n    return httpx.AsyncClient(verify=False)\n",
)


def build_tree(root: Path, count: int = 48) -> Path:
    """A project of ``count`` files: most plain, some with every kind of site, a few broken."""
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    for n in range(count):
        folder = root / "app" / f"part{n % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        if n % 3 == 0:
            body = "import httpx\n\n\n" + "\n\n".join(
                site.format(n=n + k) for k, site in enumerate(SITES[n % 4 :])
            )
        elif n % 11 == 5:
            body = "import httpx\n\ndef broken(:\n    pass\n"  # syntax error in a candidate
        elif n % 13 == 7:
            (folder / f"m{n:03}.py").write_bytes(b"import httpx\nx = '\xff'\n")  # not UTF-8
            continue
        else:
            body = (
                f"import json\n\n\ndef plain_{n}(x: int) -> str:\n    return json.dumps({{'x': x * {n}}})\n"
            )
        (folder / f"m{n:03}.py").write_text(body)
    return root


def scan(root: Path, jobs: int, monkeypatch: pytest.MonkeyPatch) -> ScanResult:
    monkeypatch.chdir(root)
    options = Options(paths=[Path("app")], config=load_config(root), jobs=jobs, use_cache=False)
    return run(options).result


def plans(result: ScanResult) -> list[object]:
    return [finding.plan for finding in result.findings]  # `plan` is excluded from Finding's ==


def test_jobs_1_and_jobs_2_give_identical_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_tree(tmp_path)
    monkeypatch.setattr(parallel, "POOL_MIN_FILES", 0)  # force the pool on a small tree
    serial = scan(tmp_path, 1, monkeypatch)
    pooled = scan(tmp_path, 2, monkeypatch)
    assert serial.findings and serial.errors  # the tree really has sites and broken files
    assert {f.verdict for f in serial.findings} >= {"per-request", "persistent", "leak", "unclear"}
    assert pooled == serial
    assert plans(pooled) == plans(serial)


def test_parsing_in_workers_for_a_small_run_gives_identical_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_tree(tmp_path)
    monkeypatch.setattr(parallel, "PARSE_POOL_MIN_BYTES", 0)  # a few kB: force the parse pool
    submitted: list[str] = []
    real_submit = concurrent.futures.ProcessPoolExecutor.submit

    def counting_submit(self: object, fn: object, item: object) -> object:
        submitted.append(getattr(item, "display", "?"))
        return real_submit(self, fn, item)  # type: ignore[arg-type]

    monkeypatch.setattr(concurrent.futures.ProcessPoolExecutor, "submit", counting_submit)
    pooled = scan(tmp_path, 2, monkeypatch)
    serial = scan(tmp_path, 1, monkeypatch)
    # 16 files with sites and 3 with a syntax error are sent; plain and undecodable ones are answered here.
    assert len(submitted) == 19
    assert pooled == serial and plans(pooled) == plans(serial)


def test_a_worker_that_dies_while_parsing_costs_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_tree(tmp_path, 30)
    tasks = [(str(p), p.name) for p in sorted(tmp_path.rglob("*.py"))]
    victim = [display for path, display in tasks if b"httpx.AsyncClient" in Path(path).read_bytes()][2]
    real = parallel._Loaded.finish

    def crashing(self: parallel._Loaded) -> Scanned:
        if self.display == victim:
            os._exit(70)
        return real(self)

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("the patched worker function reaches the workers only when they are forked")
    monkeypatch.setattr(parallel, "PARSE_POOL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel._Loaded, "finish", crashing)
    got = list(parallel.scan_files(tasks, 2))
    assert [s.scan.display for s in got] == [display for _, display in tasks]
    assert [s.scan.display for s in got if s.scan.error and "crashed" in s.scan.error] == [victim]
    monkeypatch.setattr(parallel._Loaded, "finish", real)
    expected = [scan_file(path, display).scan for path, display in tasks if display != victim]
    assert [s.scan for s in got if s.scan.display != victim] == expected


def test_results_stream_in_task_order_from_the_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_tree(tmp_path, 30)
    monkeypatch.setattr(parallel, "CHUNK_MAX", 1)  # many small chunks: the most chances to reorder
    tasks = [(str(p), p.name) for p in sorted(tmp_path.rglob("*.py"))]
    got = list(parallel._scan_pool(tasks, 2, None, False))
    assert [s.scan.display for s in got] == [display for _, display in tasks]


def test_scan_file_matches_scan_one(tmp_path: Path) -> None:
    """The worker's read-then-decode path reports exactly what the runner's scan_one does."""
    build_tree(tmp_path, 30)
    (tmp_path / "app" / "empty.py").write_bytes(b"")
    (tmp_path / "app" / "nul.py").write_bytes(b"import httpx\0\n")
    (tmp_path / "app" / "nul_plain.py").write_bytes(b"x = 1\0\n")
    # Files that mention no client library but still fail to decode: the prefilter must not hide them.
    (tmp_path / "app" / "rot13.py").write_bytes(b"# coding: rot13\nx = 1\n")
    (tmp_path / "app" / "bogus.py").write_bytes(b"#!/usr/bin/env python\r# -*- coding: bogus -*-\rx = 1\r")
    (tmp_path / "app" / "long.py").write_bytes(b"#" + b"x" * 5000 + b"\n# coding: bogus\nx = 1\n")
    (tmp_path / "app" / "cookie3.py").write_bytes(b"\n\n# coding: bogus\nx = 1\n")  # line 3: ignored
    (tmp_path / "app" / "utf8.py").write_bytes("x = 'é'\n".encode())
    (tmp_path / "app" / "bom.py").write_bytes(b"\xef\xbb\xbf# coding: latin-1\nx = 1\n")
    os.symlink(tmp_path / "missing.py", tmp_path / "app" / "dangling.py")
    for path in sorted(tmp_path.rglob("*.py")):
        expected = scan_one(path, path.name)
        assert scan_file(str(path), path.name).scan == expected
        hashed = scan_file(str(path), path.name, {}, hash_files=True)
        assert hashed.scan == expected
        assert (hashed.digest is None) == (path.name == "dangling.py")


def test_a_worker_that_dies_costs_one_file_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_tree(tmp_path, 24)
    tasks = [(str(p), p.name) for p in sorted(tmp_path.rglob("*.py"))]
    victim = tasks[5][1]
    real = parallel.scan_file

    def crashing(path: str, display: str, content: object = None, hash_files: bool = False) -> Scanned:
        if display == victim:
            os._exit(70)  # what a segfault in a parser would look like to the pool
        return real(path, display, None, hash_files)

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("the patched worker function reaches the workers only when they are forked")
    monkeypatch.setattr(parallel, "scan_file", crashing)
    got = list(parallel._scan_pool(tasks, 2, None, False))
    assert [s.scan.display for s in got] == [display for _, display in tasks]
    crashed = [s.scan for s in got if s.scan.error and "crashed" in s.scan.error]
    assert [s.display for s in crashed] == [victim]
    others = [s.scan for s in got if s.scan.display != victim]
    assert others == [real(path, display).scan for path, display in tasks if display != victim]


def test_small_runs_do_not_start_a_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_tree(tmp_path, 10)

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for a small run")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)  # imported by workers.start
    result = scan(tmp_path, 8, monkeypatch)
    assert result.files_scanned == 10


def test_effective_jobs_defaults_to_the_usable_cpus() -> None:
    assert workers.effective_jobs(3) == 3
    assert workers.effective_jobs(0) == 1
    assert workers.effective_jobs(None) >= 1


def test_filescan_crosses_process_boundaries() -> None:
    import pickle

    scan = FileScan("a.py", (), "boom", True)
    assert pickle.loads(pickle.dumps(Scanned(scan, "ab", (1, 2, 3)))) == Scanned(scan, "ab", (1, 2, 3))

"""Issue 12's acceptance: a service with the shapes real code has, fixed by default.

`tests/fixtures/acceptance/issue12` is a small billing service: httpx clients that follow a
redirect which sets a cookie, two requests on one client sharing a cookie (httpx and requests),
`verify=` from the settings, a client hook used by three methods and overridden by a subclass, a
plain `httpx.Client` subclass per command with a run-time `base_url`, a retrying wrapper built per
request, and aiohttp handlers. `entries.json` lists the functions to call and their arguments.

The test copies the service, records what a local server sees while every entry runs 20 times at
once, runs `pool-refactor scan --fix` on it as a user would, runs the entries again, and requires:
at least 90% of the per-request sites fixed by default; the same multiset of requests (method,
target, header lines in order with `Cookie`, body) and the same return values before and after.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.concurrent_calls import DRIVER
from tests.recorder import RecordingServer

SERVICE = Path(__file__).parent / "fixtures" / "acceptance" / "issue12"
CALLS = 20


def _entries() -> list[tuple[str, str, list[object]]]:
    return [(m, f, a) for m, f, a in json.loads((SERVICE / "entries.json").read_text(encoding="utf-8"))]


def _run_entries(
    folder: Path, base: str, server: RecordingServer
) -> dict[str, tuple[Counter[object], list[str]]]:
    seen: dict[str, tuple[Counter[object], list[str]]] = {}
    for module, function, args in _entries():
        server.clear()
        given = json.loads(json.dumps(args).replace("{base}", base))
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                DRIVER,
                module,
                function,
                json.dumps(given),
                str(CALLS),
                "billing.http_client",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, f"{module}.{function}: {done.stderr}"
        seen[f"{module}.{function}"] = (Counter(server.records()), sorted(json.loads(done.stdout)))
    return seen


def _pool_refactor(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", "--no-cache", *arguments, "billing"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _sites(folder: Path) -> tuple[int, int]:
    """Per-request sites and leaks that `--check` fails on (a factory's calls count here), and how
    many of them the report says `--fix` fixes (a factory's calls are fixed in the factory)."""
    report = json.loads(_pool_refactor(folder, "--format", "json").stdout)
    summary = report["summary"]
    failing = {"per-request", "leak"}
    fixable = sum(1 for f in report["findings"] if f["verdict"] in failing and f["fixable"])
    return int(summary["per-request"] + summary["leak"]), fixable


def test_the_service_is_fixed_by_default_and_the_server_sees_the_same_requests(tmp_path: Path) -> None:
    folder = tmp_path / "service"
    shutil.copytree(SERVICE, folder)
    before_fix, fixable = _sites(folder)
    assert (before_fix, fixable) == (14, 14)

    with RecordingServer() as server:
        base = server.url.replace("127.0.0.1", "localhost")  # aiohttp keeps no cookie of an IP address
        before = _run_entries(folder, base, server)
        fixed = _pool_refactor(folder, "--fix")
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        after = _run_entries(folder, base, server)

    left, _ = _sites(folder)
    assert left == before_fix - fixable, "the report said what --fix would fix"
    assert (before_fix - left) / before_fix >= 0.9, f"{left} of {before_fix} sites left"
    for entry, (records, answers) in before.items():
        assert sum(records.values()) >= CALLS, entry
        assert after[entry] == (records, answers), entry
    assert any("Cookie" in dict(headers) for records, _ in before.values() for _, _, headers, _ in records)
    check = _pool_refactor(folder, "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    # The wrapper in another module is fixed in its `__init__`: its client borrows the pool.
    retry = (folder / "billing" / "retry.py").read_text(encoding="utf-8")
    assert "self._client = httpx.AsyncClient(timeout=5.0, transport=get_http_transport())" in retry

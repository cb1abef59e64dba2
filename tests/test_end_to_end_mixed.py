"""httpx, aiohttp and requests in one application, run against a real local server before and after
`pool-refactor scan --fix`.

The answers must be identical; the connections the server accepted drop from one per call (two
for the aiohttp retry loop, whose first attempt fails) to about one per event loop and library for
the async clients and one per thread for requests. No "Unclosed client session" warning may appear.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import cli, run_app
from tests.servers import LocalServer

APP = Path(__file__).parent / "fixtures" / "e2e_mixed"
CALLS = 5
LOOPS = 2
THREADS = 2
# Per call: httpx 1, aiohttp 1, aiohttp retry loop 2 (per event loop); requests one-shot 1 and
# requests Session 1 (per thread).
CONNECTIONS_BEFORE = LOOPS * CALLS * (1 + 1 + 2) + THREADS * CALLS * (1 + 1)
# One httpx client and one aiohttp session per loop; one requests session per thread.
CONNECTIONS_AFTER_MAX = LOOPS * 2 + THREADS


@pytest.fixture
def app(tmp_path: Path) -> Path:
    target = tmp_path / "app"
    shutil.copytree(APP, target)
    return target


def test_fix_keeps_answers_and_reuses_connections(app: Path) -> None:
    calls_py = app / "mixapp" / "calls.py"
    with LocalServer() as server:
        before = run_app(app, server.url, CALLS)
        connections_before = server.connections

        assert cli(app, "--check").returncode == 1
        fixed = cli(app, "--fix")
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert cli(app, "--check").returncode == 0, "every site of the app is safely fixable"

        source = calls_py.read_text()
        assert "ClientSession(" not in source
        assert "requests.Session(" not in source
        assert "requests.get(" not in source
        assert "httpx.AsyncClient(" not in source
        assert "import httpx" not in source
        assert "import requests" not in source
        assert "import aiohttp" in source  # ClientTimeout and ClientResponseError still use it
        assert "allow_redirects=False" in source

        server.reset_counts()
        after = run_app(app, server.url, CALLS)
        connections_after = server.connections

    print(f"\nconnections: {connections_before} before, {connections_after} after --fix")
    assert after == before
    assert len(before) == LOOPS * CALLS * 3 + THREADS * CALLS * 2
    assert connections_before == CONNECTIONS_BEFORE
    assert connections_after <= CONNECTIONS_AFTER_MAX, (connections_before, connections_after)


def test_generated_module_has_the_sections_the_app_needs(app: Path) -> None:
    assert cli(app, "--fix").returncode == 0
    module = (app / "mixapp" / "http_client.py").read_text()
    for accessor in ("get_http_client", "get_aiohttp_session", "get_requests_session"):
        assert f"def {accessor}(" in module
    assert "def get_sync_http_client(" not in module
    assert "def get_urllib3_pool_manager(" not in module
    calls = (app / "mixapp" / "calls.py").read_text()
    assert "from mixapp.http_client import" in calls
    compile(module, "http_client.py", "exec")


def test_second_fix_changes_nothing(app: Path) -> None:
    assert cli(app, "--fix").returncode == 0
    snapshot = {p: p.read_bytes() for p in app.rglob("*.py")}
    second = cli(app, "--fix")
    assert second.returncode == 0, second.stdout + second.stderr
    assert {p: p.read_bytes() for p in app.rglob("*.py")} == snapshot
    assert "Fixed 0 site(s)" in second.stderr

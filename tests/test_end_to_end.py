"""A small application run against a real local server before and after `pool-refactor scan --fix`.

The answers must be identical; the connections the server accepted drop from one per call to
about one per event loop (plus one for the sync client).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import cli, run_app
from tests.servers import LocalServer

APP = Path(__file__).parent / "fixtures" / "e2e"
CALLS = 10


@pytest.fixture
def app(tmp_path: Path) -> Path:
    target = tmp_path / "app"
    shutil.copytree(APP, target)
    return target


def test_fix_keeps_answers_and_reuses_connections(app: Path) -> None:
    with LocalServer() as server:
        before = run_app(app, server.url, CALLS)
        connections_before = server.connections

        assert cli(app, "--check").returncode == 1
        fixed = cli(app, "--fix")
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert (app / "loadapp" / "http_client.py").exists()
        assert "import httpx" not in (app / "loadapp" / "calls.py").read_text()
        assert cli(app, "--check").returncode == 0

        server.reset_counts()
        after = run_app(app, server.url, CALLS)
        connections_after = server.connections

    assert after == before
    total_calls = 6 * CALLS
    assert connections_before == total_calls
    # Two event loops (one async client each) and one sync client, one-shots included.
    assert connections_after <= 3, (connections_before, connections_after)
    print(f"connections: {connections_before} before, {connections_after} after --fix")


def test_second_fix_changes_nothing(app: Path) -> None:
    assert cli(app, "--fix").returncode == 0
    snapshot = {p: p.read_bytes() for p in app.rglob("*.py")}
    second = cli(app, "--fix")
    assert second.returncode == 0
    assert {p: p.read_bytes() for p in app.rglob("*.py")} == snapshot
    assert "Fixed 0 site(s)" in second.stderr


def test_diff_writes_nothing(app: Path) -> None:
    snapshot = {p: p.read_bytes() for p in app.rglob("*") if p.is_file()}
    done = cli(app, "--diff")
    assert done.returncode == 0
    assert "+++ b/loadapp/http_client.py" in done.stdout
    assert "+    client = get_http_client()" in done.stdout
    assert {p: p.read_bytes() for p in app.rglob("*") if p.is_file()} == snapshot

# ruff: noqa: E501 - the sources below are long on purpose: the project's line length is 200
"""httpx clients and requests sessions that borrow the shared pool (issue 12, item 1).

A client whose cookies the one shared client would lose (a redirect followed, several requests in
its block) or whose options it cannot take (`cookies=`, a computed `base_url=`) keeps its block and
its arguments and gets the pool only: `transport=get_http_transport(<its literal pool options>)`
for httpx, `borrow_requests_session()` for requests. Such a client is persistent for the scanner
(POOL001), so `--check` is green after `--fix` and a second `--fix` changes nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from codemods.imports import apply_import_changes
from codemods.shared_client import rewrite_module
from codemods.wrapping import set_line_length
from pool_refactor.plan.analyze import analyze_source
from tests.e2e import cli

RUFF = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))

CALLS = """import httpx
import requests


async def login(url: str, user: str) -> str:
    async with httpx.AsyncClient(verify=False, follow_redirects=True) as client:
        await client.post(f"{url}/login", data={"user": user})
        return (await client.get(f"{url}/me")).text


def download(url: str) -> bytes:
    with httpx.Client(http1=True, trust_env=False, headers={"X-Team": "core"}) as client:
        client.get(f"{url}/token")
        return client.get(f"{url}/file").content


def report(url: str) -> str:
    with requests.Session() as session:
        session.post(f"{url}/login", data={"user": "u"})
        return session.get(f"{url}/report").text
"""

FIXED = """import httpx

from svc.http_client import borrow_requests_session, get_http_transport, get_sync_http_transport


async def login(url: str, user: str) -> str:
    async with httpx.AsyncClient(verify=False, follow_redirects=True, transport=get_http_transport(verify=False)) as client:
        await client.post(f"{url}/login", data={"user": user})
        return (await client.get(f"{url}/me")).text


def download(url: str) -> bytes:
    with httpx.Client(http1=True, trust_env=False, headers={"X-Team": "core"}, transport=get_sync_http_transport(http1=True, trust_env=False)) as client:
        client.get(f"{url}/token")
        return client.get(f"{url}/file").content


def report(url: str) -> str:
    with borrow_requests_session() as session:
        session.post(f"{url}/login", data={"user": "u"})
        return session.get(f"{url}/report").text
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    package = tmp_path / "svc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "calls.py").write_text(CALLS)
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 200\n")
    return tmp_path


def _findings(project: Path) -> list[dict[str, object]]:
    done = cli(project, "--format", "json", "--no-cache")
    report: dict[str, list[dict[str, object]]] = json.loads(done.stdout)
    return report["findings"]


def test_fix_borrows_then_check_is_green_and_a_second_fix_changes_nothing(project: Path) -> None:
    before = _findings(project)
    assert [(f["line"], f["verdict"], f["applicability"]) for f in before] == [
        (6, "per-request", "safe"),
        (12, "per-request", "safe"),
        (18, "per-request", "safe"),
    ]
    assert cli(project, "--check", "--no-cache").returncode == 1
    fixed = cli(project, "--fix", "--no-cache")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert (project / "svc" / "calls.py").read_text() == FIXED
    assert cli(project, "--check", "--no-cache").returncode == 0
    after = [f for f in _findings(project) if str(f["path"]).endswith("calls.py")]
    assert [(f["line"], f["code"], f["verdict"]) for f in after] == [
        (7, "POOL001", "persistent"),
        (13, "POOL001", "persistent"),
    ]
    assert all("borrows the shared connection pool" in str(f["message"]) for f in after)
    snapshot = {p: p.read_bytes() for p in project.rglob("*.py")}
    second = cli(project, "--fix", "--no-cache")
    assert second.returncode == 0
    assert {p: p.read_bytes() for p in project.rglob("*.py")} == snapshot


SOURCE = """import httpx


class Api:
    async def one_per_line(self, url, token):
        if token:
            async with httpx.AsyncClient(headers={"Authorization": token}, verify=False, follow_redirects=True) as client:
                return (await client.get(url)).text
"""


def fix(source: str, limit: int | None) -> str:
    findings = analyze_source(source, "api.py")
    plans = {f.span: f.plan for f in findings if f.plan and f.fixable}
    context = CodemodContext()
    if limit is not None:
        set_line_length(context, limit)
    module, applied = rewrite_module(cst.parse_module(source), plans, "api.http_client", context)
    assert applied == set(plans)
    return apply_import_changes(module, context).code


@pytest.mark.parametrize("limit", [88, 120])
def test_a_long_header_is_wrapped_as_black_wraps_it(tmp_path: Path, limit: int) -> None:
    fixed = fix(SOURCE, limit)
    assert "transport=get_http_transport(verify=False)" in fixed
    path = tmp_path / "api.py"
    path.write_text(fixed)
    done = subprocess.run(
        [RUFF, "format", "--no-cache", "--diff", f"--line-length={limit}", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout
    assert fix(fixed, limit) == fixed, "a second --fix changes nothing"

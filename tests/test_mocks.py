"""Tests that patch the client construction a fix removed (`pool_refactor.fix.mocks`).

The fixture project `tests/fixtures/mocks/project` is a package (`shop`) and its tests written
against per-call clients. The first test runs the real scanner and codemod on the package (before ->
after), derives the rewritten modules from what changed, and checks that exactly the patch lines
marked `# BROKEN` in `tests/test_users.py` are reported.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from codemods.imports import apply_import_changes
from codemods.shared_client import rewrite_module
from pool_refactor.fix.mocks import MockWarning, find_broken_mocks
from pool_refactor.plan.analyze import analyze_source
from pool_refactor.scan.findings import Applicability

PROJECT = Path(__file__).parent / "fixtures" / "mocks" / "project"
TEST_FILE = PROJECT / "tests" / "test_users.py"
ACCESSOR = "shop.http_client"


def _fixed(text: str) -> str:
    """What `--fix` makes of a module (safe fixes only)."""
    findings = analyze_source(text, "module.py")
    plans = {f.span: f.plan for f in findings if f.plan and f.applicability is Applicability.SAFE}
    if not plans:
        return text
    context = CodemodContext()
    module, _ = rewrite_module(cst.parse_module(text), plans, ACCESSOR, context)
    return apply_import_changes(module, context).code


def _rewritten_modules() -> dict[str, str]:
    rewritten: dict[str, str] = {}
    for path in sorted((PROJECT / "shop").glob("*.py")):
        before = path.read_text(encoding="utf-8")
        if _fixed(before) != before:
            rewritten[f"shop.{path.stem}"] = ACCESSOR
    return rewritten


def _scan(libraries: set[str] | None = None) -> list[MockWarning]:
    text = TEST_FILE.read_text(encoding="utf-8")
    return find_broken_mocks([(Path("tests/test_users.py"), text)], _rewritten_modules(), libraries)


def test_the_fix_rewrites_users_and_drops_its_imports() -> None:
    assert _rewritten_modules() == {"shop.users": ACCESSOR}
    after = _fixed((PROJECT / "shop" / "users.py").read_text(encoding="utf-8"))
    assert "import httpx" not in after and "import requests" not in after
    assert "get_http_client()" in after


def test_fixture_project_reports_exactly_the_broken_patches() -> None:
    warnings = _scan()
    lines = TEST_FILE.read_text(encoding="utf-8").splitlines()
    broken = {number for number, line in enumerate(lines, start=1) if "# BROKEN" in line}
    assert {w.line for w in warnings} == broken
    assert [(w.line, w.target) for w in warnings] == [
        (21, "shop.users.httpx.AsyncClient"),
        (27, "shop.users.httpx.AsyncClient"),
        (33, "shop.users.httpx.AsyncClient"),
        (35, "httpx.AsyncClient"),
        (40, "httpx.AsyncClient"),
        (41, "shop.users.httpx.Client"),
        (42, "shop.users.httpx"),
        (48, "requests.get"),
        (49, "shop.users.requests.get"),
        (56, "shop.users.httpx.AsyncClient"),
        (61, "shop.users.httpx.AsyncClient"),
    ]
    assert all(w.path == "tests/test_users.py" for w in warnings)


def test_suggestions_name_the_accessor_and_the_transport_mock() -> None:
    by_target = {(w.line, w.target): w.suggestion for w in _scan()}
    in_module = by_target[(21, "shop.users.httpx.AsyncClient")]
    assert "`shop.http_client.get_http_client`" in in_module
    assert "respx" in in_module and "pytest-httpx" in in_module
    assert "shop.http_client.reset_http_clients()" in in_module
    assert "silently stops mocking" in in_module
    global_patch = by_target[(35, "httpx.AsyncClient")]
    assert "escapes it" in global_patch and "leaks into later tests" in global_patch
    assert "AttributeError" in by_target[(42, "shop.users.httpx")]
    one_shot = by_target[(48, "requests.get")]
    assert "shop.http_client.get_requests_session" in one_shot and "`responses`" in one_shot
    assert "shop.http_client.get_sync_http_client" in by_target[(41, "shop.users.httpx.Client")]


def test_only_the_rewritten_libraries_are_reported() -> None:
    targets = {w.target for w in _scan({"httpx"})}
    assert "requests.get" not in targets and "shop.users.requests.get" not in targets
    assert "httpx.AsyncClient" in targets
    assert _scan(set()) == []


def test_nothing_rewritten_nothing_reported() -> None:
    text = TEST_FILE.read_text(encoding="utf-8")
    assert find_broken_mocks([(TEST_FILE, text)], set()) == []


def _targets(source: str, modules: object = frozenset({"shop.users"})) -> list[str]:
    assert isinstance(modules, frozenset | set | dict)
    return [w.target for w in find_broken_mocks([(Path("test_x.py"), source)], modules)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            'from unittest.mock import patch\npatch("shop.users.httpx.AsyncClient")',
            ["shop.users.httpx.AsyncClient"],
        ),
        ('from unittest.mock import patch as p\np("shop.users.AsyncClient")', ["shop.users.AsyncClient"]),
        (
            'import unittest.mock\nunittest.mock.patch("shop.users.hx.AsyncClient")',
            ["shop.users.hx.AsyncClient"],
        ),
        ('import mock\nmock.patch(target="httpx.Client")', ["httpx.Client"]),
        ('from unittest import mock\nmock.patch("aiohttp.ClientSession")', ["aiohttp.ClientSession"]),
        (
            'from unittest import mock\nmock.patch("shop.users.aiohttp.request")',
            ["shop.users.aiohttp.request"],
        ),
        ('from unittest import mock\nmock.patch("requests.sessions.Session")', ["requests.sessions.Session"]),
        ('from unittest import mock\nmock.patch("requests.api.request")', ["requests.api.request"]),
        ('from unittest import mock\nmock.patch("httpx.get")', ["httpx.get"]),
        ('from unittest import mock\nmock.patch("urllib3.PoolManager")', ["urllib3.PoolManager"]),
        (
            'import httpx\nfrom unittest import mock\nmock.patch.object(httpx, "AsyncClient")',
            ["httpx.AsyncClient"],
        ),
        (
            'import httpx\nfrom unittest.mock import patch\npatch.object(httpx, attribute="Client")',
            ["httpx.Client"],
        ),
        ('mocker.patch("shop.users.httpx.AsyncClient")', ["shop.users.httpx.AsyncClient"]),
        ('import httpx\nmocker.patch.object(httpx, "AsyncClient")', ["httpx.AsyncClient"]),
        ('import httpx\nmonkeypatch.setattr(httpx, "AsyncClient", object)', ["httpx.AsyncClient"]),
        ('mp.setattr("shop.users.httpx.Client", object)', ["shop.users.httpx.Client"]),
        ('import shop.users as u\nmonkeypatch.setattr(u, "httpx", None)', ["shop.users.httpx"]),
        ('import requests\nsetattr(requests, "get", None)', ["requests.get"]),
        (
            "from unittest.mock import patch\n@patch('shop.users.requests.Session')\ndef t(m): pass",
            ["shop.users.requests.Session"],
        ),
        # not reported
        ('from unittest.mock import patch\npatch("httpx.AsyncClient.send")', []),
        ('from unittest.mock import patch\npatch("shop.users.httpx.AsyncClient.get")', []),
        ('from unittest.mock import patch\npatch("shop.users.get")', []),
        ('from unittest.mock import patch\npatch("shop.users_admin.httpx.AsyncClient")', []),
        ('from unittest.mock import patch\npatch("shop.users.API")', []),
        ('from unittest.mock import patch\npatch("shop.http_client.get_http_client")', []),
        ('import respx\nrespx.patch("https://example.com/httpx.AsyncClient")', []),
        ('import responses\nresponses.patch("https://example.com")', []),
        ('m.patch("shop.users.httpx.AsyncClient")', []),
        ('fake = object()\nmonkeypatch.setattr(fake, "AsyncClient", None)', []),
        ('monkeypatch.setenv("HTTP_CLIENT_TIMEOUT", "1")', []),
        ("from unittest.mock import patch\npatch(some_variable)", []),
        ('from unittest.mock import patch\npatch("httpx.Timeout")', []),
        ("this is not python", []),
    ],
)
def test_patch_forms(source: str, expected: list[str]) -> None:
    assert _targets(source) == expected


def test_longest_rewritten_module_wins_and_names_its_accessor() -> None:
    source = 'from unittest.mock import patch\npatch("shop.api.users.httpx.AsyncClient")'
    modules = {"shop.api": "shop.http_client", "shop.api.users": "shop.api.http_client"}
    [warning] = find_broken_mocks([(Path("t.py"), source)], modules)
    assert "`shop.api.http_client.get_http_client`" in warning.suggestion


def test_warnings_are_sorted_by_path_and_line() -> None:
    source = 'import httpx\nmonkeypatch.setattr(httpx, "Client", None)\nmocker.patch("httpx.AsyncClient")\n'
    files = [(Path("b.py"), source), (Path("a.py"), source)]
    warnings = find_broken_mocks(files, {"shop.users"})
    assert [(w.path, w.line) for w in warnings] == [("a.py", 2), ("a.py", 3), ("b.py", 2), ("b.py", 3)]

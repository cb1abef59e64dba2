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
from pool_refactor.fix.mocks import MockWarning, PatchEdit, ProjectModules, Replaced, find_broken_mocks
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


def _replaced() -> list[Replaced]:
    """What the fix of the fixture project replaced, from the plans it applies."""
    text = (PROJECT / "shop" / "users.py").read_text(encoding="utf-8")
    replaced = []
    for finding in analyze_source(text, "shop/users.py"):
        if finding.plan is not None and finding.applicability is Applicability.SAFE:
            plan = finding.plan
            name = plan.method or {"get_http_client": "AsyncClient"}[plan.accessor]
            replaced.append(Replaced("shop.users", plan.library, name, plan.accessor, ACCESSOR, plan.kind))
    return replaced


def _modules() -> ProjectModules:
    before = (PROJECT / "shop" / "users.py").read_text(encoding="utf-8")
    return ProjectModules([PROJECT], {"shop.users": before}, {"shop.users": _fixed(before)})


def _scan(libraries: set[str] | None = None) -> list[MockWarning]:
    text = TEST_FILE.read_text(encoding="utf-8")
    replaced = [r for r in _replaced() if libraries is None or r.library in libraries]
    return find_broken_mocks([(Path("tests/test_users.py"), text)], replaced, _modules())


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
    by_target = {(w.line, w.target): w for w in _scan()}
    in_module = by_target[(21, "shop.users.httpx.AsyncClient")].suggestion
    assert in_module == (
        "After the fix `shop.users` no longer calls `AsyncClient`: it builds its client with "
        "`shop.users.get_http_client`, so patching `shop.users.httpx.AsyncClient` no longer mocks it "
        "(it fails with AttributeError: the fix removed `shop.users.httpx`). Instead, patch "
        "`shop.users.get_http_client` (the accessor, where the code under test imports it). "
        "Or mock the transport with `respx` or `pytest-httpx`, which keeps working with the shared "
        "client, and call `shop.http_client.reset_http_clients()` in a fixture."
    )
    assert by_target[(42, "shop.users.httpx")].suggestion.startswith(
        "`shop.users` gets its client from `shop.users.get_http_client` after the fix, so patching "
        "`shop.users.httpx` fails with AttributeError (the fix removed the import)."
    )
    assert by_target[(41, "shop.users.httpx.Client")].suggestion == (
        "`shop.users` no longer imports `httpx` after the fix, so patching `shop.users.httpx.Client` fails "
        "with AttributeError; patch the name where the code under test looks it up now."
    )
    one_shot = by_target[(48, "requests.get")].suggestion
    assert one_shot.startswith(
        "After the fix the rewritten code no longer calls `get`: it sends the request on the shared client "
        "from `shop.users.get_requests_session`, so patching `requests.get` no longer mocks it. Instead, "
        "patch `requests.Session.get` (the shared client's method: it gets the same arguments)."
    )
    assert "`responses` or `requests-mock`" in one_shot
    assert "<package>" not in " ".join(w.suggestion for w in by_target.values())


def test_fix_tests_edits_of_the_fixture() -> None:
    by_line = {w.line: w for w in _scan()}
    assert by_line[21].edit == PatchEdit("shop.users.get_http_client", entered="__aenter__")
    assert by_line[48].edit == PatchEdit("requests.Session.get")
    assert by_line[49].edit == PatchEdit("requests.Session.get")
    assert by_line[56].edit is None and by_line[56].manual == "`patch.multiple` is rewritten by hand"
    assert by_line[40].manual == "a fake class must be returned by a fake accessor; write it by hand"


def test_only_the_rewritten_libraries_are_reported() -> None:
    warnings = {w.target: w for w in _scan({"httpx"})}
    assert "requests.get" not in warnings
    # still reported: the fix removed `import requests` from shop.users, so the path is gone
    assert "AttributeError" in warnings["shop.users.requests.get"].suggestion
    targets = set(warnings)
    assert "httpx.AsyncClient" in targets
    assert _scan(set()) == []


def test_nothing_rewritten_nothing_reported() -> None:
    text = TEST_FILE.read_text(encoding="utf-8")
    assert find_broken_mocks([(TEST_FILE, text)], [], _modules()) == []


# --- the target's real identity, through the project's modules --------------------------------


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


AIOHTTP = Replaced("app.bridge", "aiohttp", "ClientSession", "get_aiohttp_session", "app.http_client", "with")


def test_a_lookalike_is_never_taken_for_the_library(tmp_path: Path) -> None:
    """`from mcp import ClientSession` is not aiohttp's, whatever its name (issue 14)."""
    root = _project(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/bridge.py": "import aiohttp\nfrom mcp import ClientSession\n",
            "app/tools.py": "from mcp import ClientSession\n",
        },
    )
    modules = ProjectModules([root], {"app.bridge": (root / "app/bridge.py").read_text()})
    source = (
        "from unittest.mock import patch\n"
        'patch("app.bridge.ClientSession")\n'
        'patch("app.tools.ClientSession")\n'
        'patch("mcp.ClientSession")\n'
        'patch("app.bridge.mcp.ClientSession")\n'
        'patch("app.bridge.aiohttp.ClientSession")\n'
    )
    warnings = find_broken_mocks([(Path("t.py"), source)], [AIOHTTP], modules)
    assert [(w.line, w.target) for w in warnings] == [(6, "app.bridge.aiohttp.ClientSession")]


def test_from_imports_and_re_exports_are_followed(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {
            "app/__init__.py": "from .bridge import Session as S\n",
            "app/bridge.py": "from aiohttp import ClientSession as Session\n",
        },
    )
    modules = ProjectModules([root], {"app.bridge": (root / "app/bridge.py").read_text()})
    source = (
        "from unittest.mock import patch\n"
        'patch("app.bridge.Session")\n'
        'patch("app.S.close")\n'
        'patch("app.S.get")\n'
    )
    warnings = find_broken_mocks([(Path("t.py"), source)], [AIOHTTP], modules)
    assert [(w.line, w.target) for w in warnings] == [(2, "app.bridge.Session"), (3, "app.S.close")]
    assert warnings[1].suggestion.startswith(
        "The rewritten code no longer calls `ClientSession.close` on each request"
    )


def test_a_module_name_that_only_looks_like_the_library_is_not_it(tmp_path: Path) -> None:
    root = _project(tmp_path, {"app/__init__.py": "", "app/bridge.py": "import myhttp as aiohttp\n"})
    modules = ProjectModules([root], {"app.bridge": (root / "app/bridge.py").read_text()})
    source = 'from unittest.mock import patch\npatch("app.bridge.aiohttp.ClientSession")\n'
    assert find_broken_mocks([(Path("t.py"), source)], [AIOHTTP], modules) == []


def test_a_global_patch_is_broken_only_for_what_was_replaced(tmp_path: Path) -> None:
    root = _project(tmp_path, {"app/__init__.py": "", "app/send.py": "import requests\n"})
    modules = ProjectModules([root], {"app.send": "import requests\n"})
    post = Replaced("app.send", "requests", "post", "get_requests_session", "app.http_client", "one-shot")
    source = (
        "from unittest import mock\nimport requests\n"
        'mock.patch("requests.post")\nmock.patch("requests.get")\n'
        'mock.patch.object(requests, "post", new=fake)\nmock.patch("requests.post", autospec=True)\n'
    )
    warnings = find_broken_mocks([(Path("t.py"), source)], [post], modules)
    assert [(w.line, w.edit, w.manual) for w in warnings] == [
        (3, PatchEdit("requests.Session.post"), ""),
        (5, PatchEdit("requests.Session.post", owner_suffix=".Session", static=True), ""),
        (6, None, "the patch has options (`autospec`, `spec`, ...) that differ on a method"),
    ]


def _targets(source: str) -> list[str]:
    return [w.target for w in find_broken_mocks([(Path("test_x.py"), source)], _replaced(), _modules())]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            'from unittest.mock import patch\npatch("shop.users.httpx.AsyncClient")',
            ["shop.users.httpx.AsyncClient"],
        ),
        (
            'import unittest.mock\nunittest.mock.patch("shop.users.httpx.AsyncClient")',
            ["shop.users.httpx.AsyncClient"],
        ),
        ('import mock\nmock.patch(target="httpx.AsyncClient")', ["httpx.AsyncClient"]),
        ('from unittest import mock\nmock.patch("requests.api.get")', ["requests.api.get"]),
        (
            'import httpx\nfrom unittest import mock\nmock.patch.object(httpx, "AsyncClient")',
            ["httpx.AsyncClient"],
        ),
        ('mocker.patch("shop.users.httpx.AsyncClient")', ["shop.users.httpx.AsyncClient"]),
        ('import httpx\nmocker.patch.object(httpx, "AsyncClient")', ["httpx.AsyncClient"]),
        ('import httpx\nmonkeypatch.setattr(httpx, "AsyncClient", object)', ["httpx.AsyncClient"]),
        ('mp.setattr("shop.users.requests.get", object)', ["shop.users.requests.get"]),
        ('import shop.users as u\nmonkeypatch.setattr(u, "httpx", None)', ["shop.users.httpx"]),
        ('import requests\nsetattr(requests, "get", None)', ["requests.get"]),
        (
            'from unittest.mock import patch\npatch("httpx.AsyncClient.__aenter__")',
            ["httpx.AsyncClient.__aenter__"],
        ),
        # not reported
        ('from unittest import mock\nmock.patch("requests.post")', []),  # not what shop.users called
        ('from unittest import mock\nmock.patch("httpx.Client")', []),
        ('from unittest.mock import patch\npatch("httpx.AsyncClient.send")', []),
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
        ('from unittest.mock import patch\npatch("mcp.ClientSession")', []),
        ("this is not python", []),
    ],
)
def test_patch_forms(source: str, expected: list[str]) -> None:
    assert _targets(source) == expected


def test_a_global_constructor_patch_names_every_accessor_and_no_placeholder(tmp_path: Path) -> None:
    """Two packages, two generated modules: each user is named, never a literal `<package>`."""
    root = _project(
        tmp_path,
        {"a/__init__.py": "", "a/x.py": "import httpx\n", "b/__init__.py": "", "b/y.py": "import httpx\n"},
    )
    modules = ProjectModules([root], {"a.x": "import httpx\n", "b.y": "import httpx\n"})
    replaced = [
        Replaced("a.x", "httpx", "AsyncClient", "get_http_client", "a.http_client", "with"),
        Replaced("b.y", "httpx", "AsyncClient", "get_http_client", "b.http_client", "with"),
    ]
    source = 'from unittest.mock import patch\nimport a.x\npatch("httpx.AsyncClient")\n'
    [warning] = find_broken_mocks([(Path("t.py"), source)], replaced, modules)
    assert "`a.x.get_http_client` or `b.y.get_http_client`" in warning.suggestion
    assert (
        "`a.http_client.reset_http_clients()` or `b.http_client.reset_http_clients()`" in warning.suggestion
    )
    assert "<package>" not in warning.suggestion
    assert warning.edit == PatchEdit("a.x.get_http_client", entered="__aenter__")  # the module it imports


def test_warnings_are_sorted_by_path_and_line() -> None:
    source = (
        'import httpx\nmonkeypatch.setattr(httpx, "AsyncClient", None)\nmocker.patch("httpx.AsyncClient")\n'
    )
    files = [(Path("b.py"), source), (Path("a.py"), source)]
    warnings = find_broken_mocks(files, _replaced(), _modules())
    assert [(w.path, w.line) for w in warnings] == [("a.py", 2), ("a.py", 3), ("b.py", 2), ("b.py", 3)]


BORROW = Replaced(
    "app.bridge", "aiohttp", "ClientSession", "get_aiohttp_connector", "app.http_client", "borrow"
)


def test_a_borrowing_constructor_breaks_only_checks_of_its_exact_arguments(tmp_path: Path) -> None:
    """A session that borrows the shared connector is still built by `aiohttp.ClientSession`, so
    patching it keeps working; only a check of the exact arguments it got sees the two new ones."""
    root = _project(tmp_path, {"app/__init__.py": "", "app/bridge.py": "import aiohttp\n"})
    modules = ProjectModules([root], {"app.bridge": "import aiohttp\n"})
    source = """\
from unittest import mock
from unittest.mock import call, patch


def test_with_form():
    with patch("app.bridge.aiohttp.ClientSession") as session_class:
        run()
    session_class.assert_called_once_with(timeout=5)


@patch("app.other.thing")
@patch("aiohttp.ClientSession")
def test_decorated(session_class, thing):
    run()
    assert session_class.call_args == call(timeout=5)
    thing.assert_called_once_with(1)


def test_started():
    session_class = patch("app.bridge.aiohttp.ClientSession").start()
    run()
    assert session_class.call_args.kwargs["timeout"] == 5


def test_mocker(mocker):
    fake = mocker.patch("app.bridge.aiohttp.ClientSession")
    run()
    assert fake.call_args.kwargs == {"timeout": 5}


def test_monkeypatch(monkeypatch):
    fake = mock.MagicMock()
    monkeypatch.setattr("app.bridge.aiohttp.ClientSession", fake)
    run()
    fake.assert_called()


def test_only_set_up():
    with patch("app.bridge.aiohttp.ClientSession") as session_class:
        session_class.return_value.__aenter__.return_value.get.return_value = 1
        run()
"""
    warnings = find_broken_mocks([(Path("t.py"), source)], [BORROW], modules)
    assert [(w.line, w.target, w.edit) for w in warnings] == [
        (6, "app.bridge.aiohttp.ClientSession", None),
        (12, "aiohttp.ClientSession", None),
        (26, "app.bridge.aiohttp.ClientSession", None),
    ]
    assert warnings[0].suggestion == (
        "After the fix `app.bridge` still calls `aiohttp.ClientSession`, so this patch keeps working, "
        "but it passes `connector=get_aiohttp_connector(), connector_owner=False` too (the client borrows "
        "the shared connection pool): the check of its exact arguments at line 8 "
        "(`session_class.assert_called_once_with`) fails. Expect them as well: "
        "`connector=mock.ANY, connector_owner=False`."
    )
    assert "line 15 (`session_class.call_args ==`)" in warnings[1].suggestion
    assert "thing" not in warnings[1].suggestion
    assert "line 28 (`fake.call_args ==`)" in warnings[2].suggestion
    assert all(w.manual for w in warnings)
    # the same patches, with the session replaced by the shared one instead: every patch breaks
    replaced = Replaced(
        "app.bridge", "aiohttp", "ClientSession", "get_aiohttp_session", "app.http_client", "with"
    )
    assert len(find_broken_mocks([(Path("t.py"), source)], [replaced], modules)) == 6


def test_a_borrowing_one_shot_lists_checks_of_its_exact_arguments(tmp_path: Path) -> None:
    root = _project(tmp_path, {"app/__init__.py": "", "app/bridge.py": "import aiohttp\n"})
    modules = ProjectModules([root], {"app.bridge": "import aiohttp\n"})
    one_shot = Replaced(
        "app.bridge", "aiohttp", "request", "get_aiohttp_connector", "app.http_client", "borrow"
    )
    source = (
        "from unittest.mock import patch\n\n\n"
        "def test_it():\n"
        '    with patch("aiohttp.request") as request:\n'
        "        run()\n"
        '    request.assert_called_once_with("GET", "https://h.test")\n'
    )
    [warning] = find_broken_mocks([(Path("t.py"), source)], [one_shot], modules)
    assert (warning.line, warning.target) == (5, "aiohttp.request")
    assert warning.suggestion.startswith(
        "After the fix `app.bridge` still calls `aiohttp.request`, so this patch keeps working, "
        "but it passes `connector=get_aiohttp_connector()` too"
    )
    assert warning.suggestion.endswith("Expect them as well: `connector=mock.ANY`.")


def test_borrowing_httpx_clients_are_checked_and_requests_sessions_are_not(tmp_path: Path) -> None:
    """An httpx client gains `transport=`; `borrow_requests_session()` builds a session as before."""
    root = _project(tmp_path, {"app/__init__.py": "", "app/bridge.py": "import httpx\nimport requests\n"})
    modules = ProjectModules([root], {"app.bridge": "import httpx\nimport requests\n"})
    borrowed = [
        Replaced("app.bridge", "httpx", "Client", "get_sync_http_transport", "app.http_client", "borrow"),
        Replaced("app.bridge", "requests", "Session", "borrow_requests_session", "app.http_client", "borrow"),
    ]
    source = (
        "from unittest.mock import patch\n\n\n"
        "def test_it():\n"
        '    with patch("app.bridge.httpx.Client") as client, patch("requests.Session") as session:\n'
        "        run()\n"
        "    client.assert_called_once_with(timeout=5)\n"
        "    session.assert_called_once_with()\n"
    )
    [warning] = find_broken_mocks([(Path("t.py"), source)], borrowed, modules)
    assert warning.target == "app.bridge.httpx.Client"
    assert "passes `transport=get_sync_http_transport()` too" in warning.suggestion

"""A rewrite keeps behaviour: the server sees the same requests before and after the fix.

For a codemod fixture (`tests/fixtures/fix/<case>/`), `input.py` and `expected.py` are run as they
are, in a subprocess each, against `tests/recorder.py`'s server: the function named by the scenario
is called `CALLS` times at once (tasks on one loop for a coroutine function, threads otherwise),
with the generated shared module (`myapp/http_client.py`, the sections the rewrite imports) beside
them. The server's records (method, target, header lines in order, body) must be the same multiset
before and after, and so must the values the calls return. Concurrency is part of the check: a
shared client that let one call's state reach another would show up here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from pool_refactor.fix.shared_module import render
from pool_refactor.scan.catalog import LIBRARIES
from tests.concurrent_calls import DRIVER
from tests.recorder import Record, RecordingServer

FIXTURES = Path(__file__).parent / "fixtures" / "fix"
CALLS = 20


@dataclass(frozen=True)
class Scenario:
    case: str
    function: str
    args: tuple[object, ...]
    """JSON arguments; in their strings, `{base}` stands for the server's URL."""
    files: tuple[tuple[str, str], ...] = ()
    """Other modules the fixture imports: (path under the folder, text)."""
    closed_connections: bool = False
    """The code before the fix closed its connection after each request (`aiohttp.request` uses a
    `force_close` connector), so it sent `Connection: close`: the one header pooling is meant to
    change. It is left out of the records before the fix; everything else must be equal."""
    cookies: bool = False
    """The scenario is about cookie scope: the server must see `Cookie` headers, and a caller that
    says who it is (`X-Caller: n`) must send only cookies whose value is its own `n`."""


SCENARIOS = (
    Scenario("headers_on_both_merged", "fetch", ("{base}/a", "tok")),
    Scenario("aiohttp_headers_on_both_merged", "me", ("{base}/me", "tok")),
    Scenario("params_merged_multiline", "search", ("{base}/search", "café & co", 3)),
    Scenario("headers_merged_into_empty", "fetch", ("{base}/x",)),
    Scenario("leak_local", "ping", ("{base}/ping",)),
    Scenario("leak_chained_keyed_and_merged", "version", ("{base}/v", "tok")),
    Scenario("leak_chained_awaited", "version", ("{base}/v",)),
    Scenario("leak_local_in_loop", "crawl", (["{base}/a", "{base}/b?x=1", "{base}/c"],)),
    Scenario("requests_leak_chained", "status", ("{base}/s",)),
    Scenario("urllib3_leak_chained", "fetch", ("{base}/u",)),
    Scenario("aiohttp_leak_unsafe_applied", "fetch", ("{base}/f",)),
    # Sessions that borrow the shared pool keep their own cookies: set by a redirect and by a
    # first request, sent to the next hop and the next request of that caller, never another's.
    # `{named}` is the server by host name: aiohttp's cookie jar ignores cookies of an IP address.
    Scenario("aiohttp_cookie_scope_borrow_connector", "visit", ("{named}",), cookies=True),
    Scenario(
        "aiohttp_redirects_borrow_connector", "page", ("{named}/redirect?to=/me&sid=abc",), cookies=True
    ),
    Scenario(
        "aiohttp_several_requests_borrow_connector",
        "login_then_fetch",
        ("{named}/set-cookie?sid=1&next=",),
        cookies=True,
    ),
    Scenario(
        "aiohttp_local_borrow_connector",
        "login_and_download",
        ("{named}/set-cookie?sid=2&next=", "tok"),
        cookies=True,
    ),
    Scenario(
        "aiohttp_one_shot_redirects_borrow_connector",
        "page",
        ("{named}/redirect?to=/me&sid=abc",),
        closed_connections=True,
        cookies=True,
    ),
    Scenario(
        "aiohttp_one_shot_redirects_borrow_connector",
        "with_cookie",
        ("{named}/me", "s1"),
        closed_connections=True,
        cookies=True,
    ),
    # Session options the shared session cannot take: the session keeps them and borrows the pool.
    Scenario("aiohttp_cookies_borrow_connector", "me", ("{named}/me", "s2"), cookies=True),
    Scenario("aiohttp_auth_borrow_connector", "me", ("{base}/me", "user", "secret")),
    Scenario("aiohttp_plain_subclass_borrow_connector", "me", ("{named}/me", "s3"), cookies=True),
    Scenario(
        "aiohttp_reads_cookie_jar_borrow_connector",
        "cookies_after_login",
        ("{named}/redirect?to=/me&sid=4&theme=dark",),
        cookies=True,
    ),
    Scenario("aiohttp_raise_for_status_may_be_none_borrow_connector", "fetch", ("{base}/f", None)),
    # httpx clients and requests sessions that borrow the shared pool (a transport whose close
    # leaves the pool open; a session of its own on the thread's adapters), the same way.
    Scenario("httpx_cookie_scope_borrow_transport", "visit", ("{base}",), cookies=True),
    Scenario("httpx_sync_cookie_scope_borrow_transport", "visit", ("{base}",), cookies=True),
    Scenario("requests_cookie_scope_borrow_session", "visit", ("{base}",), cookies=True),
    Scenario(
        "several_requests_borrow_transport", "login_then_fetch", ("{base}/set-cookie?sid=3&next=", "u", "p")
    ),
    Scenario("requests_local_borrow_session", "login", ("{base}/set-cookie?sid=4&next=", "u")),
    Scenario("follow_redirects_borrow_transport", "fetch", ("{base}/redirect?to=/me&sid=5",)),
    # A client whose own state the code changes keeps it: only the pool is borrowed.
    Scenario("headers_changed_borrow_transport", "fetch", ("{base}/h", "tok")),
    Scenario("requests_headers_update_borrow_session", "fetch", ("{base}/h", "tok")),
    Scenario("requests_auth_assigned_borrow_session", "fetch", ("{base}/h", "u", "p")),
    # Options the shared client cannot take exactly (a header on both sides, a moved option whose
    # input changes, a prepared request), and requests that may both run: the client keeps them.
    Scenario("headers_collide_borrow_transport", "fetch", ("{base}/c", "tok")),
    Scenario("moved_input_changes_borrow_transport", "fetch", ("{base}/m", "tok")),
    Scenario("send_prepared_borrow_transport", "fetch", ("{base}/s",)),
    Scenario(
        "requests_branches_not_exclusive_borrow_session",
        "login_if_needed",
        ("{base}/set-cookie?sid=6&next=", "u", False),
        cookies=True,
    ),
    Scenario("requests_own_methods_borrow_session", "fetch_image", ("{base}/image.png",)),
    # A factory hook whose every call closes the client: the client it returns borrows the pool.
    Scenario("factory_borrow_transport", "visit", ("{base}",), cookies=True),
    Scenario("factory_aiohttp_requests_borrow", "fetch", ("{base}/f",)),
    Scenario("requests_annotated_local_leak", "create", ("{base}/items", {"name": "a", "n": 1}, 5.0)),
    Scenario("annotated_local_closed", "fetch", ("{base}/t",)),
    # Requests in exclusive branches: one per call, so the shared session is exact.
    Scenario("requests_exclusive_branches_one_request", "send", ("{base}/p", "post", {"a": "b"})),
    Scenario("requests_exclusive_branches_one_request", "send", ("{base}/g", "get", {})),
    Scenario("requests_exclusive_branches_one_request", "fetch", ("{base}/f", False)),
    Scenario("requests_exclusive_branches_one_request", "by_kind", ("{base}/d", "delete")),
    # A wrapper class whose every call closes it: the client its `__init__` builds borrows the pool.
    Scenario("wrapper_every_call_closes_borrows", "fetch", ("{base}/w",)),
    Scenario("wrapper_every_call_closes_borrows", "fetch_twice", ("{base}/t",)),
    # Client options known only at run time key the shared client, or the borrowed pool, by value.
    Scenario("base_url_parameter_keys_shared_client", "profile", ("{base}", "u1")),
    Scenario("borrow_verify_parameter_two_requests", "login", ("{base}", "ann", True)),
    Scenario(
        "keyed_verify_from_settings",
        "fetch",
        ("{base}/k",),
        (("myapp/config.py", "class settings:\n    skip_ssl_verify = False\n"),),
    ),
)


def _sections(source: str) -> list[str]:
    return sorted(
        {
            ctor.section
            for library in LIBRARIES
            for ctor in library.constructors
            if ctor.accessor in source or (ctor.borrow_accessor and ctor.borrow_accessor in source)
        }
    )


def _run(folder: Path, module: str, scenario: Scenario, base: str) -> list[str]:
    named = base.replace("127.0.0.1", "localhost")
    args = json.loads(json.dumps(scenario.args).replace("{base}", base).replace("{named}", named))
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "always::ResourceWarning",
            "driver.py",
            module,
            scenario.function,
            json.dumps(args),
            str(CALLS),
            *(["myapp.http_client"] if module == "after" else []),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    if module == "after":  # the code before the fix may leak (POOL201): that is what is fixed
        assert "Unclosed" not in done.stderr and "ResourceWarning" not in done.stderr, done.stderr
    results: list[str] = json.loads(done.stdout)
    return results


def _multiset(records: list[Record]) -> Counter[Record]:
    return Counter(records)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.case for s in SCENARIOS])
def test_server_sees_the_same_requests(scenario: Scenario, tmp_path: Path) -> None:
    case = FIXTURES / scenario.case
    before = (case / "input.py").read_text(encoding="utf-8")
    after = (case / "expected.py").read_text(encoding="utf-8")
    assert before != after, "a behaviour scenario needs a case that is rewritten"
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "http_client.py").write_text(render(_sections(after)))
    (tmp_path / "before.py").write_text(before)
    (tmp_path / "after.py").write_text(after)
    (tmp_path / "driver.py").write_text(DRIVER)
    for name, content in scenario.files:
        (tmp_path / name).write_text(content)
    with RecordingServer() as server:
        answers_before = _run(tmp_path, "before", scenario, server.url)
        records_before = server.records()
        if scenario.closed_connections:
            records_before = [_without_connection_close(record) for record in records_before]
        server.clear()
        answers_after = _run(tmp_path, "after", scenario, server.url)
        records_after = server.records()
    assert len(records_before) >= CALLS
    assert _multiset(records_after) == _multiset(records_before)
    assert sorted(answers_after) == sorted(answers_before)
    if scenario.cookies:
        _check_cookie_scope(records_before)


def _without_connection_close(record: Record) -> Record:
    method, target, headers, body = record
    assert ("Connection", "close") in headers, "the scenario's code kept its connections alive"
    return method, target, tuple(h for h in headers if h != ("Connection", "close")), body


def _check_cookie_scope(records: list[Record]) -> None:
    sent = [dict(headers) for _, _, headers, _ in records]
    assert any("Cookie" in headers for headers in sent), "the scenario sent no cookie"
    for headers in sent:
        caller = headers.get("X-Caller")
        if caller is not None and "Cookie" in headers:
            values = {pair.partition("=")[2] for pair in headers["Cookie"].split("; ")}
            assert values == {caller}, headers

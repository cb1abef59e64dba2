"""Fixtures for the tests of the shared HTTP client module (the template, run as is)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

from pool_refactor.fix.templates import http_client
from tests.servers import LocalServer


@pytest.fixture(scope="session")
def _http_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture(scope="session")
def _https_server() -> Iterator[LocalServer]:
    with LocalServer(tls=True) as server:
        yield server


def _fresh(server: LocalServer) -> LocalServer:
    """`server` running, with its counters at zero and no connection open.

    An earlier test may leave connections open for a while: a client closed while its
    requests were in flight leaves theirs to the garbage collector (httpx does so), and a
    handler may still be sleeping on a request its client gave up. Tests that wait for the
    server to see a close (`open_connections == n`) would wait for those too, and fail
    after their patience, depending on which tests ran before on the same worker; so the
    server is restarted, which closes them."""
    server.start()
    if server.open_connections:
        server.restart()
    server.reset_counts()
    return server


@pytest.fixture
def server(_http_server: LocalServer) -> LocalServer:
    """A plain HTTP server shared by the session, fresh (`_fresh`)."""
    return _fresh(_http_server)


@pytest.fixture
def tls_server(_https_server: LocalServer) -> LocalServer:
    """An HTTPS server (trustme CA) shared by the session, fresh (`_fresh`)."""
    return _fresh(_https_server)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HTTP_CLIENT_* variable from the outside reaches a test."""
    for name in list(os.environ):
        if name.startswith("HTTP_CLIENT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def hc() -> Iterator[ModuleType]:
    """The template module with empty registries; sync clients are closed afterwards
    (async ones are closed when their test's event loop shuts down)."""
    http_client.reset_http_clients()
    yield http_client
    http_client.close_http_clients()
    http_client.reset_http_clients()


def run_in_fork(child: Callable[[], None]) -> int:
    """Run `child` in a forked process; its exit status (0: no exception)."""
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            child()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)

"""get_sync_http_client(), get_requests_session() and get_urllib3_pool_manager()."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
import pytest
import requests
import urllib3

from tests.runtime.conftest import run_in_fork
from tests.servers import LocalServer


def _in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = work(index)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


# -- httpx.Client ---------------------------------------------------------------


def test_sync_client_reuses_one_connection(hc: ModuleType, server: LocalServer) -> None:
    for _ in range(20):
        assert hc.get_sync_http_client().get(server.url + "/").text == "ok"
    assert server.connections == 1


def test_sync_client_is_shared_by_threads(hc: ModuleType, server: LocalServer) -> None:
    def work(index: int) -> httpx.Client:
        client = hc.get_sync_http_client()
        for _ in range(10):
            assert client.get(server.url + "/").status_code == 200
        return client

    clients = _in_threads(8, work)
    assert len({id(client) for client in clients}) == 1
    assert 1 <= server.connections <= 8
    assert server.requests == 80


def test_sync_client_is_rebuilt_in_a_forked_child(hc: ModuleType, server: LocalServer) -> None:
    parent_client = hc.get_sync_http_client()
    assert parent_client.get(server.url + "/").status_code == 200

    def child() -> None:
        client = hc.get_sync_http_client()
        assert client is not parent_client
        assert client.get(server.url + "/").status_code == 200

    assert run_in_fork(child) == 0
    assert hc.get_sync_http_client() is parent_client
    assert parent_client.get(server.url + "/").status_code == 200
    assert server.connections == 2  # the parent's, reused, and the child's own
    assert server.requests == 3


def test_sync_client_https_and_verify(hc: ModuleType, tls_server: LocalServer) -> None:
    trusted = hc.get_sync_http_client(verify=tls_server.client_ssl_context())
    assert trusted.get(tls_server.url + "/").status_code == 200
    assert hc.get_sync_http_client(verify=False).get(tls_server.url + "/").status_code == 200
    with pytest.raises(httpx.ConnectError):
        hc.get_sync_http_client().get(tls_server.url + "/")


def test_sync_client_no_cookies(hc: ModuleType, server: LocalServer) -> None:
    client = hc.get_sync_http_client()
    client.get(server.url + "/set-cookie?session=secret")
    client.get(server.url + "/")
    assert server.cookies_received == [None, None]


def test_sync_client_retry_transport_keeps_options(
    hc: ModuleType, tls_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_CLIENT_RETRIES", "3")
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS", "7")
    client = hc.get_sync_http_client(verify=False)
    pool = client._transport._pool
    assert (pool._retries, pool._max_connections) == (3, 7)
    assert client.get(tls_server.url + "/").status_code == 200


def test_close_and_stats(hc: ModuleType, server: LocalServer) -> None:
    client = hc.get_sync_http_client()
    client.get(server.url + "/")
    assert hc.http_client_stats() == {
        "httpx-sync[]": {"open": 1, "idle": 1, "in_use": 0, "unreadable": 0},
        "pools": {"kept": 1, "evicted": 0, "closed": 0, "max": 16},
    }
    hc.close_http_clients()
    assert client.is_closed
    assert hc.get_sync_http_client() is not client


# -- requests ---------------------------------------------------------------------


def test_requests_session_reuses_one_connection(hc: ModuleType, server: LocalServer) -> None:
    for _ in range(20):
        assert hc.get_requests_session().get(server.url + "/").text == "ok"
    assert server.connections == 1


def test_requests_session_per_thread(hc: ModuleType, server: LocalServer) -> None:
    def work(index: int) -> requests.Session:
        session = hc.get_requests_session()
        assert hc.get_requests_session() is session
        for _ in range(5):
            assert session.get(server.url + "/").status_code == 200
        return session

    sessions = _in_threads(4, work)
    assert len({id(session) for session in sessions}) == 4
    assert server.connections == 4
    stats = hc.http_client_stats()
    assert len([name for name in stats if name.startswith("requests[thread=")]) >= 1


def test_requests_no_cookies_between_calls(hc: ModuleType, server: LocalServer) -> None:
    session = hc.get_requests_session()
    response = session.get(server.url + "/set-cookie?session=secret")
    assert response.cookies.get("session") == "secret"
    session.get(server.url + "/")
    session.get(server.url + "/", cookies={"mine": "1"})  # per-call cookies still go
    assert server.cookies_received == [None, None, "mine=1"]
    assert len(session.cookies) == 0


def test_requests_session_in_a_forked_child(hc: ModuleType, server: LocalServer) -> None:
    parent = hc.get_requests_session()
    parent.get(server.url + "/")

    def child() -> None:
        session = hc.get_requests_session()
        assert session is not parent
        assert session.get(server.url + "/").status_code == 200

    assert run_in_fork(child) == 0
    assert hc.get_requests_session() is parent
    parent.get(server.url + "/")
    assert server.connections == 2


def test_requests_environment(hc: ModuleType, server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    default_adapter = hc.get_requests_session().get_adapter(server.url)
    assert default_adapter.default_timeout is None  # requests has no default timeout
    assert default_adapter.max_retries.total == 0
    hc.close_http_clients()
    monkeypatch.setenv("HTTP_CLIENT_TIMEOUT", "0.2")
    monkeypatch.setenv("HTTP_CLIENT_RETRIES", "2")
    monkeypatch.setenv("HTTP_CLIENT_MAX_KEEPALIVE", "4")
    session = hc.get_requests_session()
    adapter = session.get_adapter(server.url)
    assert adapter.default_timeout == (0.2, 0.2)
    assert adapter.max_retries.connect == 2
    assert adapter._pool_maxsize == 4
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(server.url + "/delay?seconds=1")
    # A timeout given on the call wins.
    assert session.get(server.url + "/delay?seconds=0.3", timeout=5).status_code == 200


# -- urllib3 ----------------------------------------------------------------------


def test_urllib3_pool_manager(hc: ModuleType, server: LocalServer) -> None:
    def work(index: int) -> urllib3.PoolManager:
        manager = hc.get_urllib3_pool_manager()
        for _ in range(5):
            assert manager.request("GET", server.url + "/").status == 200
        return manager

    managers = _in_threads(4, work)
    assert len({id(manager) for manager in managers}) == 1
    assert server.connections <= 4
    manager = managers[0]
    manager.request("GET", server.url + "/set-cookie?session=secret")
    manager.request("GET", server.url + "/")
    assert server.cookies_received[-1] is None
    assert hc.get_urllib3_pool_manager(num_pools=3) is not manager
    (stats,) = [v for k, v in hc.http_client_stats().items() if k == "urllib3[]"]
    assert stats["idle"] >= 1 and stats["created"] == server.connections


def test_urllib3_environment_and_fork(
    hc: ModuleType, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = hc.get_urllib3_pool_manager()
    assert default.connection_pool_kw["maxsize"] == 64
    assert "retries" not in default.connection_pool_kw  # urllib3's own policy
    hc.close_http_clients()
    monkeypatch.setenv("HTTP_CLIENT_RETRIES", "5")
    monkeypatch.setenv("HTTP_CLIENT_TIMEOUT", "2.5")
    monkeypatch.setenv("HTTP_CLIENT_NUM_POOLS", "3")
    manager = hc.get_urllib3_pool_manager()
    kw = manager.connection_pool_kw
    assert (kw["retries"].connect, kw["retries"].total) == (5, 5)
    assert kw["timeout"].read_timeout == 2.5
    assert manager.pools._maxsize == 3
    manager.request("GET", server.url + "/")

    def child() -> None:
        assert hc.get_urllib3_pool_manager() is not manager
        assert hc.get_urllib3_pool_manager().request("GET", server.url + "/").status == 200

    assert run_in_fork(child) == 0
    assert hc.get_urllib3_pool_manager() is manager

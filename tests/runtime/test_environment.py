"""Limits and timeouts from HTTP_CLIENT_* variables, read when a client is built."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import httpx
import pytest


def _pool(client: httpx.Client) -> Any:
    return client._transport._pool


def test_defaults_are_httpx_defaults_but_the_limits(hc: ModuleType) -> None:
    """With no variable set, the shared client behaves like `httpx.Client()`, except
    for the limits (no cap on connections, 100 idle kept) and the pool timeout (60 s,
    which applies only under a cap): see the module docstring."""
    shared = hc.get_sync_http_client()
    plain = httpx.Client()
    try:
        assert _pool(shared)._keepalive_expiry == _pool(plain)._keepalive_expiry
        assert _pool(plain)._max_connections == 100
        assert _pool(shared)._max_connections > 10**9  # httpcore's "no limit"
        assert _pool(shared)._max_keepalive_connections == 100
        assert _pool(shared)._http2 is False
        assert _pool(shared)._retries == 0
        assert shared.timeout == httpx.Timeout(5.0, pool=60.0)
        assert plain.timeout == httpx.Timeout(5.0)
        assert shared.follow_redirects is plain.follow_redirects
        assert shared.trust_env is plain.trust_env
    finally:
        plain.close()


@pytest.mark.parametrize("value", ["0", "none", " None "])
def test_no_cap_spelled_out(hc: ModuleType, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS", value)
    assert _pool(hc.get_sync_http_client())._max_connections > 10**9


def test_every_variable_is_applied(hc: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "MAX_CONNECTIONS": "11",
        "MAX_KEEPALIVE": "0",
        "KEEPALIVE_EXPIRY": "2.5",
        "TIMEOUT": "8",
        "CONNECT_TIMEOUT": "1.5",
        "POOL_TIMEOUT": "none",
        "HTTP2": "yes",
        "RETRIES": "4",
    }
    for name, value in values.items():
        monkeypatch.setenv("HTTP_CLIENT_" + name, value)
    client = hc.get_sync_http_client()
    pool = _pool(client)
    assert pool._max_connections == 11
    assert pool._max_keepalive_connections == 0
    assert pool._keepalive_expiry == 2.5
    assert pool._http2 is True
    assert pool._retries == 4
    assert client.timeout == httpx.Timeout(8.0, connect=1.5, pool=None)


def test_read_when_a_client_is_built(hc: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    first = hc.get_sync_http_client()
    monkeypatch.setenv("HTTP_CLIENT_TIMEOUT", "3")
    assert hc.get_sync_http_client() is first  # built clients keep their settings
    hc.reset_http_clients()
    assert hc.get_sync_http_client().timeout.read == 3.0
    first.close()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAX_CONNECTIONS", "abc", "HTTP_CLIENT_MAX_CONNECTIONS='abc' is not a non-negative integer"),
        ("MAX_CONNECTIONS", "-1", "HTTP_CLIENT_MAX_CONNECTIONS='-1' is not a non-negative integer"),
        ("MAX_KEEPALIVE", "-1", "HTTP_CLIENT_MAX_KEEPALIVE='-1' is not a non-negative integer"),
        ("RETRIES", "two", "HTTP_CLIENT_RETRIES='two' is not a non-negative integer"),
        ("TIMEOUT", "fast", "HTTP_CLIENT_TIMEOUT='fast' is not a positive number of seconds"),
        ("TIMEOUT", "0", "HTTP_CLIENT_TIMEOUT='0' is not a positive number of seconds"),
        ("CONNECT_TIMEOUT", "nan", "HTTP_CLIENT_CONNECT_TIMEOUT='nan' is not a positive"),
        ("POOL_TIMEOUT", "-3", "HTTP_CLIENT_POOL_TIMEOUT='-3' is not a positive"),
        ("KEEPALIVE_EXPIRY", "5s", "HTTP_CLIENT_KEEPALIVE_EXPIRY='5s' is not a positive"),
        ("HTTP2", "maybe", "HTTP_CLIENT_HTTP2='maybe' is not a boolean"),
    ],
)
def test_bad_values_name_variable_and_value(
    hc: ModuleType, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("HTTP_CLIENT_" + name, value)
    with pytest.raises(ValueError) as error:
        hc.get_sync_http_client()
    assert str(error.value).startswith(message)
    # Validated even when an explicit option overrides the variable.
    with pytest.raises(ValueError, match=f"HTTP_CLIENT_{name}="):
        hc.get_sync_http_client(timeout=1.0, limits=httpx.Limits(), http2=False)


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_http2_on(hc: ModuleType, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HTTP_CLIENT_HTTP2", value)
    assert _pool(hc.get_sync_http_client())._http2 is True


def test_http2_falls_back_without_h2(hc: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_CLIENT_HTTP2", "1")
    monkeypatch.setattr(hc, "_h2_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="HTTP_CLIENT_HTTP2 is on but the h2 package"):
        client = hc.get_sync_http_client()
    assert _pool(client)._http2 is False


def test_blank_values_mean_unset(hc: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_CLIENT_TIMEOUT", "  ")
    assert hc.get_sync_http_client().timeout.read == 5.0


def test_library_specific_defaults(hc: ModuleType) -> None:
    manager = hc.get_urllib3_pool_manager()
    assert manager.pools._maxsize == 10  # num_pools
    assert manager.connection_pool_kw["maxsize"] == 64
    adapter = hc.get_requests_session().get_adapter("http://x")
    assert (adapter._pool_connections, adapter._pool_maxsize) == (10, 10)

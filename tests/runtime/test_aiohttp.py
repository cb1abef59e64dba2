"""get_aiohttp_session(): one ClientSession per running loop, closed without warnings."""

from __future__ import annotations

import asyncio
import gc
import warnings
from types import ModuleType

import aiohttp
import pytest

from tests.servers import LocalServer


async def _get(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        return await response.text()


def _unclosed(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "Unclosed" in str(w.message)]


def test_reuse_and_two_loops_without_warnings(hc: ModuleType, server: LocalServer) -> None:
    sessions: list[aiohttp.ClientSession] = []

    async def main() -> None:
        session = hc.get_aiohttp_session()
        sessions.append(session)
        assert hc.get_aiohttp_session() is session
        for _ in range(10):
            assert await _get(session, server.url + "/") == "ok"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
        asyncio.run(main())
        gc.collect()
    assert sessions[0] is not sessions[1]
    assert sessions[0].closed and sessions[1].closed  # closed at loop shutdown
    assert server.connections == 2
    assert _unclosed(caught) == []


def test_session_of_a_loop_closed_without_shutdown(hc: ModuleType, server: LocalServer) -> None:
    """A bare loop.close() skips shutdown_asyncgens, so the session cannot be closed
    with I/O; it is abandoned quietly when the next loop registers."""

    async def use() -> aiohttp.ClientSession:
        session = hc.get_aiohttp_session()
        assert await _get(session, server.url + "/") == "ok"
        return session

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop = asyncio.new_event_loop()
        old = loop.run_until_complete(use())
        loop.close()
        new = asyncio.run(use())
        del loop
        gc.collect()
    assert old is not new and old.closed
    assert _unclosed(caught) == []


@pytest.mark.asyncio
async def test_no_cookies_between_calls(hc: ModuleType, server: LocalServer) -> None:
    session = hc.get_aiohttp_session()
    async with session.get(server.url + "/set-cookie?session=secret") as response:
        assert response.cookies["session"].value == "secret"
    await _get(session, server.url + "/")
    async with session.get(server.url + "/", cookies={"mine": "1"}):
        pass
    assert server.cookies_received == [None, None, "mine=1"]


@pytest.mark.asyncio
async def test_options_environment_and_stats(
    hc: ModuleType, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = hc.get_aiohttp_session()
    connector = default.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    # No cap on connections (aiohttp's own is 100 per session), so that no request
    # waits for one that a session of its own would have opened.
    assert (connector.limit, connector.limit_per_host) == (0, 0)
    assert connector._keepalive_timeout == 15.0
    assert default.timeout == aiohttp.ClientTimeout(total=300, sock_connect=30)
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS", "5")
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS_PER_HOST", "2")
    monkeypatch.setenv("HTTP_CLIENT_TIMEOUT", "9")
    keyed = hc.get_aiohttp_session(raise_for_status=True)
    assert keyed is not default
    assert keyed.connector is not None
    assert (keyed.connector.limit, keyed.connector.limit_per_host) == (5, 2)
    assert keyed.timeout.total == 9
    with pytest.raises(aiohttp.ClientResponseError):
        await _get(keyed, server.url + "/status/500")
    stats = hc.http_client_stats()
    (name,) = [n for n in stats if n.startswith("aiohttp[") and "raise_for_status" in n]
    assert stats[name]["open"] <= 1 and stats[name]["unreadable"] == 0
    with pytest.raises(TypeError, match="keeps no cookies"):
        hc.get_aiohttp_session(cookie_jar=aiohttp.CookieJar())


@pytest.mark.asyncio
async def test_aclose_closes_sessions(hc: ModuleType, server: LocalServer) -> None:
    session = hc.get_aiohttp_session()
    await _get(session, server.url + "/")
    await hc.aclose_http_clients()
    assert session.closed
    fresh = hc.get_aiohttp_session()
    assert fresh is not session
    assert await _get(fresh, server.url + "/") == "ok"


def test_no_running_loop(hc: ModuleType) -> None:
    with pytest.raises(RuntimeError, match=r"get_aiohttp_session\(\) needs a running asyncio event loop"):
        hc.get_aiohttp_session()

"""HTTP_CLIENT_MAX_POOLS: each accessor keeps a bounded number of option sets (issue 12, item 2).

Options given by an expression key the shared client by value at run time, so a value that is
new on every call (an `ssl.SSLContext` built per call) would build a pool per call. Past the cap
the least recently used pool is evicted: forgotten, and its connections closed once nothing
uses it (no request in flight, no borrowing client open). A caller that still holds an evicted
client keeps working. Every test runs against a real local server, which sees the closes.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import aiohttp
import httpx
import pytest
import trio

from tests.servers import LocalServer

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

BODY = 200_000
"""A body larger than the socket buffers, so a streamed response stays in flight."""


@pytest.fixture(autouse=True)
def cap_of_two(hc: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HTTP_CLIENT_MAX_POOLS", "2")
    monkeypatch.setattr(hc, "_warned", set())
    yield


def contexts(n: int) -> list[ssl.SSLContext]:
    """Distinct SSL contexts: the per-call value that keys a new pool every time."""
    return [ssl.create_default_context() for _ in range(n)]


_PATIENCE = 30.0
"""Seconds to wait for the server to see a close: returned as soon as it does, and generous for a
machine loaded by other test workers (type checkers of the gates run beside these tests)."""


def closed_to(server: LocalServer, n: int) -> bool:
    """Wait until the server has exactly `n` connections open (it sees the others closed)."""
    return server.wait_for(lambda s: s.open_connections == n, timeout=_PATIENCE)


async def aclosed_to(server: LocalServer, n: int) -> bool:
    """`closed_to` in a running loop, which must run for its sockets to close."""
    deadline = time.monotonic() + _PATIENCE
    while time.monotonic() < deadline:
        if server.open_connections == n:
            return True
        await asyncio.sleep(0.01)
    return server.open_connections == n


def pools(hc: ModuleType) -> dict[str, int]:
    return dict(hc.http_client_stats()["pools"])


# -- httpx.Client ---------------------------------------------------------------------------


def test_sync_evicts_the_least_recently_used_and_closes_it(hc: ModuleType, server: LocalServer) -> None:
    a, b, c = contexts(3)
    first = hc.get_sync_http_client(verify=a)
    second = hc.get_sync_http_client(verify=b)
    assert first.get(server.url + "/").text == "ok"
    assert second.get(server.url + "/").text == "ok"
    assert hc.get_sync_http_client(verify=a) is first  # used last: `second` is the oldest now
    assert pools(hc) == {"kept": 2, "evicted": 0, "closed": 0, "max": 2}
    with pytest.warns(RuntimeWarning, match=r"get_sync_http_client\(\) keeps 2 option sets .*MAX_POOLS"):
        third = hc.get_sync_http_client(verify=c)
    assert closed_to(server, 1)  # second's connection; first's stays open
    assert pools(hc) == {"kept": 2, "evicted": 1, "closed": 1, "max": 2}
    assert hc.get_sync_http_client(verify=a) is first
    assert hc.get_sync_http_client(verify=c) is third
    # A holder of the evicted client goes on: a new connection, closed after the request.
    assert second.get(server.url + "/").text == "ok"
    assert not second.is_closed
    assert closed_to(server, 1)
    assert server.connections == 3
    assert pools(hc)["closed"] == 1  # counted once per evicted pool
    assert first.get(server.url + "/").text == "ok"
    assert server.connections == 3  # the kept pool still reuses its connection


def test_sync_warns_once(hc: ModuleType, server: LocalServer) -> None:
    values = contexts(4)
    with pytest.warns(RuntimeWarning) as caught:
        for value in values:
            hc.get_sync_http_client(verify=value)
    assert len(caught) == 1
    assert "ssl.SSLContext built per call" in str(caught[0].message)
    assert pools(hc) == {"kept": 2, "evicted": 2, "closed": 2, "max": 2}


def test_sync_request_in_flight_keeps_its_evicted_pool(hc: ModuleType, server: LocalServer) -> None:
    a, b, c = contexts(3)
    busy = hc.get_sync_http_client(verify=a)
    with busy.stream("GET", server.url + f"/bytes?n={BODY}") as response:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            hc.get_sync_http_client(verify=b)
            hc.get_sync_http_client(verify=c)
        assert pools(hc) == {"kept": 2, "evicted": 1, "closed": 0, "max": 2}
        assert server.open_connections == 1
        assert len(response.read()) == BODY
    assert closed_to(server, 0)
    assert pools(hc)["closed"] == 1


def test_sync_borrower_keeps_its_evicted_pool_until_it_exits(
    hc: ModuleType, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "")
    a, b, c = contexts(3)
    with httpx.Client(transport=hc.get_sync_http_transport(verify=a)) as own:
        assert own.get(server.url + "/").text == "ok"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            hc.get_sync_http_client(verify=b)
            hc.get_sync_http_client(verify=c)
        assert own.get(server.url + "/").text == "ok"
        assert server.connections == 1  # the block still reuses its pooled connection
        assert pools(hc) == {"kept": 2, "evicted": 1, "closed": 0, "max": 2}
    assert closed_to(server, 0)
    assert pools(hc)["closed"] == 1


def test_sync_threads_with_a_new_value_per_call_never_see_a_closed_client(
    hc: ModuleType, server: LocalServer
) -> None:
    """6 threads × 8 calls, each keyed by a value of its own: every request succeeds, every
    evicted pool is closed once its requests end, and the server is left with the kept pools'
    connections only."""

    def call(n: int) -> str:
        client = hc.get_sync_http_client(timeout=1000.0 + n)  # a new option set per call
        first = client.get(server.url + "/").text
        return first + client.get(server.url + "/echo").json()["method"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(call, range(48)))
    assert answers == ["okGET"] * 48
    assert pools(hc) == {"kept": 2, "evicted": 46, "closed": 46, "max": 2}
    kept_open = sum(
        counts.get("open", 0) for name, counts in hc.http_client_stats().items() if name != "pools"
    )
    assert closed_to(server, kept_open)


def test_a_bad_cap_names_the_variable(hc: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_CLIENT_MAX_POOLS", "0")
    with pytest.raises(ValueError, match="HTTP_CLIENT_MAX_POOLS='0' is not a positive integer"):
        hc.get_sync_http_client()
    assert pools(hc) == {"kept": 0, "evicted": 0, "closed": 0, "max": -1}
    monkeypatch.delenv("HTTP_CLIENT_MAX_POOLS")
    assert pools(hc)["max"] == 16


# -- httpx.AsyncClient ----------------------------------------------------------------------


def test_async_evicts_per_loop_and_closes_when_idle(hc: ModuleType, server: LocalServer) -> None:
    a, b, c = contexts(3)

    async def main() -> None:
        first = hc.get_http_client(verify=a)
        second = hc.get_http_client(verify=b)
        await first.get(server.url + "/")
        await second.get(server.url + "/")
        hc.get_http_client(verify=a)
        with pytest.warns(RuntimeWarning, match=r"get_http_client\(\) keeps 2 option sets"):
            hc.get_http_client(verify=c)
        assert await aclosed_to(server, 1)  # the close runs in a task of the loop
        assert pools(hc) == {"kept": 2, "evicted": 1, "closed": 1, "max": 2}
        assert (await second.get(server.url + "/")).text == "ok"  # its holder goes on
        assert await aclosed_to(server, 1)
        assert server.connections == 3

    asyncio.run(main())
    assert closed_to(server, 0)  # the loop's clients close at its shutdown


def test_async_in_flight_and_borrower_keep_their_evicted_pools(hc: ModuleType, server: LocalServer) -> None:
    a, b, c, d = contexts(4)

    async def main() -> None:
        busy = hc.get_http_client(verify=a)
        async with (
            httpx.AsyncClient(transport=hc.get_http_transport(verify=b, trust_env=False)) as own,
            busy.stream("GET", server.url + f"/bytes?n={BODY}") as response,
        ):
            await own.get(server.url + "/")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                hc.get_http_client(verify=c)
                hc.get_http_client(verify=d)  # evicts both
            await asyncio.sleep(0)
            assert pools(hc) == {"kept": 2, "evicted": 2, "closed": 0, "max": 2}
            assert server.open_connections == 2
            await own.get(server.url + "/")
            assert server.connections == 2  # the borrower reused its connection
            assert len(await response.aread()) == BODY
        assert await aclosed_to(server, 0)
        assert pools(hc)["closed"] == 2

    asyncio.run(main())


def test_trio_run_closes_its_evicted_pool_in_a_system_task(hc: ModuleType, server: LocalServer) -> None:
    a, b, c = contexts(3)

    async def main() -> httpx.AsyncClient:
        first = hc.get_http_client(verify=a)
        assert (await first.get(server.url + "/")).text == "ok"
        with pytest.warns(RuntimeWarning, match=r"get_http_client\(\) keeps 2 option sets"):
            hc.get_http_client(verify=b)
            hc.get_http_client(verify=c)
        for _ in range(500):  # the close runs in a trio system task
            if server.open_connections == 0:
                break
            await trio.sleep(0.01)
        assert server.open_connections == 0
        assert pools(hc) == {"kept": 2, "evicted": 1, "closed": 1, "max": 2}
        assert (await first.get(server.url + "/")).text == "ok"  # its holder goes on
        return first

    held = trio.run(main)
    assert held.is_closed  # an evicted client still alive is closed when its run ends
    assert closed_to(server, 0)


# -- aiohttp.ClientSession --------------------------------------------------------------------


def test_aiohttp_evicted_session_closes_its_connections_and_keeps_working(
    hc: ModuleType, server: LocalServer
) -> None:
    timeouts = [aiohttp.ClientTimeout(total=30 + n) for n in range(3)]

    async def get(session: aiohttp.ClientSession, path: str = "/") -> bytes:
        async with session.get(server.url + path) as response:
            return await response.read()

    async def main() -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        first = hc.get_aiohttp_session(timeout=timeouts[0])
        second = hc.get_aiohttp_session(timeout=timeouts[1])
        assert await get(first) == b"ok"
        assert await get(second) == b"ok"
        hc.get_aiohttp_session(timeout=timeouts[0])
        with pytest.warns(RuntimeWarning, match=r"get_aiohttp_session\(\) keeps 2 option sets"):
            hc.get_aiohttp_session(timeout=timeouts[2])
        assert await aclosed_to(server, 1)
        assert pools(hc) == {"kept": 2, "evicted": 1, "closed": 1, "max": 2}
        assert await get(second) == b"ok"  # its holder goes on; the connection closes after
        assert not second.closed
        assert await aclosed_to(server, 1)
        # A request in flight on an evicted session keeps its connection until released.
        response = await first.get(server.url + f"/bytes?n={BODY}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            hc.get_aiohttp_session(timeout=timeouts[1])  # evicts `first`
        # Counted closed at once: aiohttp closes each busy connection when it is released.
        assert pools(hc) == {"kept": 2, "evicted": 2, "closed": 2, "max": 2}
        assert server.open_connections == 1
        assert len(await response.read()) == BODY
        response.release()
        assert await aclosed_to(server, 0)
        return first, second  # alive until the loop closes them: aiohttp warns on a session collected open

    assert all(session.closed for session in asyncio.run(main()))


# -- urllib3.PoolManager --------------------------------------------------------------------


def test_urllib3_evicted_manager_is_cleared_and_keeps_working(hc: ModuleType, server: LocalServer) -> None:
    first = hc.get_urllib3_pool_manager(num_pools=3)
    second = hc.get_urllib3_pool_manager(num_pools=4)
    assert first.request("GET", server.url + "/").data == b"ok"
    assert second.request("GET", server.url + "/").data == b"ok"
    hc.get_urllib3_pool_manager(num_pools=3)
    busy = first.request("GET", server.url + f"/bytes?n={BODY}", preload_content=False)
    with pytest.warns(RuntimeWarning, match=r"get_urllib3_pool_manager\(\) keeps 2 option sets"):
        hc.get_urllib3_pool_manager(num_pools=5)  # evicts `second`: its idle connection closes
    assert closed_to(server, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hc.get_urllib3_pool_manager(num_pools=6)  # evicts `first`, whose connection is busy
    assert server.open_connections == 1
    assert len(busy.read()) == BODY
    busy.release_conn()
    del busy  # urllib3 closes a forgotten pool's connections when the pool is collected
    gc.collect()
    assert closed_to(server, 0)
    assert pools(hc) == {"kept": 2, "evicted": 2, "closed": 2, "max": 2}
    assert second.request("GET", server.url + "/").data == b"ok"  # its holder goes on

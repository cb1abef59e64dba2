"""The shared pool adds no wait: a stalled host never delays another, nothing churns.

Before the rewrite every call had a client of its own, so nothing queued behind
anything. A stalled host holds STALLED requests (more than httpx's and aiohttp's
default cap of 100 connections) until the test releases them; meanwhile another host
must serve every request, and the stalled ones must still be held when it is done.
Nothing here depends on timing: the held requests are answered only on `release()`.
A regression (a cap coming back) fails fast, through a 5 s pool timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import aiohttp
import httpx
import pytest

from tests.runtime.fault_server import FaultServer
from tests.servers import LocalServer

STALLED = 120
CALLERS = 10
PER_CALLER = 10


@pytest.fixture(autouse=True)
def _short_pool_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_CLIENT_POOL_TIMEOUT", "5")


def _wait(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


async def _await(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _threads(count: int, work: Callable[[], Any]) -> tuple[list[threading.Thread], list[Any]]:
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as error:  # checked by the caller
            results.append(error)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def _check(stalled: FaultServer, healthy: FaultServer, held_done: int, results: list[Any]) -> None:
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert healthy.requests == CALLERS * PER_CALLER
    # Every stalled request was still held when the healthy host had served all.
    assert stalled.held == STALLED and held_done == 0


@pytest.mark.parametrize("library", ["httpx-async", "aiohttp"])
def test_stalled_host_never_delays_another_async(hc: ModuleType, library: str) -> None:
    with FaultServer() as stalled, FaultServer() as healthy:

        async def get(url: str, seconds: float) -> int:
            if library == "aiohttp":
                timeout = aiohttp.ClientTimeout(total=seconds)
                async with hc.get_aiohttp_session().get(url, timeout=timeout) as response:
                    await response.read()
                    return response.status
            return (await hc.get_http_client().get(url, timeout=seconds)).status_code

        async def caller() -> list[int]:
            return [await get(healthy.url + "/", 10) for _ in range(PER_CALLER)]

        async def main() -> None:
            held = [asyncio.ensure_future(get(stalled.url + "/hold", 40)) for _ in range(STALLED)]
            await _await(lambda: stalled.held == STALLED)
            statuses = await asyncio.wait_for(asyncio.gather(*(caller() for _ in range(CALLERS))), 30)
            _check(stalled, healthy, sum(task.done() for task in held), [])
            assert statuses == [[200] * PER_CALLER] * CALLERS
            stalled.release()
            assert await asyncio.wait_for(asyncio.gather(*held), 30) == [200] * STALLED

        asyncio.run(main())
    assert stalled.connections == STALLED


@pytest.mark.parametrize("library", ["httpx-sync", "requests"])
def test_stalled_host_never_delays_another_sync(hc: ModuleType, library: str) -> None:
    def get(url: str, seconds: float) -> int:
        if library == "requests":
            return int(hc.get_requests_session().get(url, timeout=seconds).status_code)
        return int(hc.get_sync_http_client().get(url, timeout=seconds).status_code)

    with FaultServer() as stalled, FaultServer() as healthy:
        held, held_results = _threads(STALLED, lambda: get(stalled.url + "/hold", 40))
        try:
            _wait(lambda: stalled.held == STALLED)
            callers, results = _threads(
                CALLERS, lambda: [get(healthy.url + "/", 10) for _ in range(PER_CALLER)]
            )
            for thread in callers:
                thread.join(30)
            assert not any(thread.is_alive() for thread in callers)
            _check(stalled, healthy, len(held_results), results)
            assert results == [[200] * PER_CALLER] * CALLERS
        finally:
            stalled.release()
            for thread in held:
                thread.join(30)
        assert held_results == [200] * STALLED


def test_a_cap_is_available_and_global(hc: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_CLIENT_MAX_CONNECTIONS brings back httpx's global cap, and with it the
    queue: a request to another host waits for the pool and times out."""
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS", "2")
    monkeypatch.setenv("HTTP_CLIENT_POOL_TIMEOUT", "0.3")
    with FaultServer() as stalled, FaultServer() as healthy:

        async def main() -> None:
            client = hc.get_http_client()
            held = [asyncio.ensure_future(client.get(stalled.url + "/hold", timeout=40)) for _ in range(2)]
            await _await(lambda: stalled.held == 2)
            with pytest.raises(httpx.PoolTimeout):
                await client.get(healthy.url + "/")
            stalled.release()
            await asyncio.gather(*held)
            assert (await client.get(healthy.url + "/")).status_code == 200

        asyncio.run(main())


# -- keep-alive: no churn at 50 concurrent callers --------------------------------

MOST_CONNECTIONS = 60
"""At most one connection per caller, and a few more where a machine so loaded that a round takes
longer than the keep-alive expiry (5 s) lets an idle connection lapse. Churn is what this catches:
with httpx's default of 20 kept-alive connections, most of the 200 requests open a new one
(benchmarks/keepalive.py)."""


def test_no_churn_at_50_callers_async(hc: ModuleType, server: LocalServer) -> None:
    url = server.url + "/delay?seconds=0.02"

    async def main() -> None:
        client = hc.get_http_client()
        session = hc.get_aiohttp_session()

        async def httpx_caller() -> None:
            for _ in range(4):
                (await client.get(url)).raise_for_status()

        async def aiohttp_caller() -> None:
            for _ in range(4):
                async with session.get(url) as response:
                    await response.read()

        for caller in (httpx_caller, aiohttp_caller):
            server.reset_counts()
            await asyncio.gather(*(caller() for _ in range(50)))
            assert server.requests == 200
            assert server.connections <= MOST_CONNECTIONS, caller.__name__

    asyncio.run(main())


@pytest.mark.parametrize("library", ["httpx-sync", "requests"])
def test_no_churn_at_50_callers_sync(hc: ModuleType, server: LocalServer, library: str) -> None:
    url = server.url + "/delay?seconds=0.02"
    barrier = threading.Barrier(50)

    def caller() -> None:
        barrier.wait(10)
        for _ in range(4):
            if library == "requests":
                hc.get_requests_session().get(url).raise_for_status()
            else:
                hc.get_sync_http_client().get(url).raise_for_status()

    threads, results = _threads(50, caller)
    for thread in threads:
        thread.join(60)
    assert results == [None] * 50
    assert server.requests == 200
    assert server.connections <= MOST_CONNECTIONS

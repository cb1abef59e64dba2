"""Faults a shared pool meets that a client per call never did, against real servers.

* A kept-alive connection the server closed just as a request was sent on it (the
  server's idle timeout racing the request): an idempotent request is sent again.
* A server that closes kept-alive connections at random (after a quarter of its
  responses, without saying so in the response, at once or 2 ms later), or once idle
  a random 0-20 ms.
* Two kept-alive connections in a row closed as the request arrives: aiohttp's single
  resend must get a new connection.
* A server restart between requests.
* The DNS failure of one host, while another host is served.

Every scenario runs for httpx (async and sync), aiohttp and requests and asserts on
outcomes and server-side counts, never on timings. benchmarks/faults.py measures the
same faults at full size against the per-request code.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import aiohttp
import httpx
import pytest
import requests

from tests.runtime.fault_server import FaultServer

LIBRARIES = ["httpx-async", "httpx-sync", "aiohttp", "requests"]


def _client(hc: ModuleType, library: str) -> Callable[..., Coroutine[Any, Any, int]]:
    """`send(method, url)` through the shared client of `library`: its status code.
    Sync calls run in the loop's executor, so that every test is one coroutine."""

    async def send(method: str, url: str, body: bytes | None = None) -> int:
        kwargs: dict[str, Any] = {} if body is None else {"data": body}
        if library.startswith("httpx") and body is not None:
            kwargs = {"content": body}
        if library == "httpx-async":
            return (await hc.get_http_client().request(method, url, **kwargs)).status_code
        if library == "aiohttp":
            async with hc.get_aiohttp_session().request(method, url, **kwargs) as response:
                await response.read()
                return response.status
        if library == "httpx-sync":
            client: Any = hc.get_sync_http_client
        else:
            client = hc.get_requests_session
        response = await asyncio.to_thread(lambda: client().request(method, url, **kwargs))
        return int(response.status_code)

    return send


def _run(hc: ModuleType, main: Coroutine[Any, Any, None], threads: int = 1) -> None:
    """Run `main` on a fresh loop whose default executor (where the sync calls run)
    has `threads` threads: each keeps its requests session from call to call."""

    async def wrapped() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads))
        try:
            await asyncio.wait_for(main, 60)
        finally:
            await hc.aclose_http_clients()

    asyncio.run(wrapped())


STALE_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, requests.ConnectionError, aiohttp.ClientError)
"""What a request fails with when the server closed its connection unanswered."""


@pytest.mark.parametrize("library", LIBRARIES)
def test_resend_after_the_server_closed_a_reused_connection(hc: ModuleType, library: str) -> None:
    send = _client(hc, library)
    with FaultServer() as server:

        async def main() -> None:
            assert await send("GET", server.url + "/") == 200
            server.drop_on_reuse = 1
            assert await send("GET", server.url + "/") == 200
            assert server.dropped == 1
            server.drop_on_reuse = 1
            assert await send("PUT", server.url + "/", b"idempotent") == 200
            # Not idempotent: the failure is the caller's to handle, as before.
            server.drop_on_reuse = 1
            with pytest.raises(STALE_ERRORS):
                await send("POST", server.url + "/", b"x")

        _run(hc, main())
        assert server.dropped == 3
        assert server.requests == 6  # two resent


async def _three_kept_alive(send: Callable[..., Coroutine[Any, Any, int]], server: FaultServer) -> None:
    """Leave three kept-alive connections in the pool: three requests, each held by the
    server until all three have arrived, so that each needs a connection of its own."""
    held = [asyncio.ensure_future(send("GET", server.url + "/hold")) for _ in range(3)]
    while server.held < 3:
        await asyncio.sleep(0.01)
    server.release()
    assert await asyncio.gather(*held) == [200, 200, 200]


@pytest.mark.parametrize("library", ["httpx-async", "httpx-sync"])
def test_httpx_resends_only_after_a_failure_on_a_reused_connection(hc: ModuleType, library: str) -> None:
    """Several kept-alive connections, every one closed by the server: the request
    goes on until it gets a new connection. A failure on a new connection is not
    retried: a client per call would have had it too."""
    send = _client(hc, library)
    with FaultServer() as server:

        async def main() -> None:
            await _three_kept_alive(send, server)
            server.drop_on_reuse = 3
            assert await send("GET", server.url + "/") == 200
            assert (server.dropped, server.connections) == (3, 4)
            await hc.aclose_http_clients()  # the next request opens a new connection
            server.drop_fresh = 1
            with pytest.raises(STALE_ERRORS):
                await send("GET", server.url + "/")
            assert (server.dropped, server.requests) == (4, 8)  # not sent again

        _run(hc, main(), threads=3)


def test_aiohttp_resend_never_takes_another_kept_alive_connection(hc: ModuleType) -> None:
    """aiohttp sends an idempotent request again once, after it failed on a reused
    connection. Three kept-alive connections, the first two closed by the server as
    the request arrives: the resend must not take the second one (it would fail the
    request, as it did under load in the suite), but a connection opened for it. The
    third, kept-alive and healthy, is dropped too: the server that closed two may be
    closing it as well."""
    send = _client(hc, "aiohttp")
    with FaultServer() as server:

        async def main() -> None:
            await _three_kept_alive(send, server)
            server.drop_on_reuse = 2
            assert await send("GET", server.url + "/") == 200
            assert (server.dropped, server.connections, server.requests) == (1, 4, 5)
            server.drop_on_reuse = 0
            assert await send("GET", server.url + "/") == 200  # reuses the new connection
            assert (server.dropped, server.connections, server.requests) == (1, 4, 6)

        _run(hc, main())


@pytest.mark.parametrize("close_delay", [0.0, 0.002], ids=["at-once", "2ms-after"])
@pytest.mark.parametrize("library", LIBRARIES)
def test_server_closing_connections_at_random(hc: ModuleType, library: str, close_delay: float) -> None:
    """The server closes a quarter of its connections after a response, at once or 2 ms
    later: callers often send a request on a connection about to close, and the resend
    may take another one in the same state (aiohttp resends once: on a new connection)."""
    send = _client(hc, library)
    rng = random.Random(15)
    with FaultServer(close_rate=0.25, close_delay=close_delay) as server:

        async def caller() -> None:
            for _ in range(15):
                assert await send("GET", server.url + "/") == 200
                await asyncio.sleep(rng.uniform(0, 0.01))

        async def main() -> None:
            await asyncio.gather(*(caller() for _ in range(8)))

        _run(hc, main(), threads=8)
        assert server.requests >= 120  # including resent ones
        assert server.connections < server.requests  # still reused


@pytest.mark.parametrize("library", LIBRARIES)
def test_server_idle_timeout_racing_requests(hc: ModuleType, library: str) -> None:
    """The server closes connections idle for 0-20 ms while callers pause 0-30 ms:
    many requests find their connection closed, some just as they are sent. No
    request fails (aiohttp's own single resend was not enough: its connector now
    looks at a reused socket first)."""
    send = _client(hc, library)
    rng = random.Random(11)
    with FaultServer(idle_close=(0.0, 0.02)) as server:

        async def caller() -> None:
            for _ in range(15):
                assert await send("GET", server.url + "/") == 200
                await asyncio.sleep(rng.uniform(0, 0.03))

        async def main() -> None:
            await asyncio.gather(*(caller() for _ in range(8)))

        _run(hc, main(), threads=8)
        assert server.requests >= 120


@pytest.mark.parametrize("library", LIBRARIES)
def test_server_restart_between_requests(hc: ModuleType, library: str) -> None:
    send = _client(hc, library)
    with FaultServer() as server:

        async def burst() -> list[int]:
            return list(await asyncio.gather(*(send("GET", server.url + "/") for _ in range(10))))

        async def main() -> None:
            for round_ in range(3):
                assert await burst() == [200] * 10
                if round_ == 1:
                    server.restart()

        _run(hc, main(), threads=10)
        assert server.requests >= 30


@pytest.mark.parametrize("library", LIBRARIES)
def test_dns_failure_of_one_host(hc: ModuleType, library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """broken.test does not resolve while healthy.test is served: only the requests
    to broken.test fail, and once its name resolves again it is served too (no
    failure is remembered)."""
    real = socket.getaddrinfo
    broken = threading.Event()
    broken.set()

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host  # anyio passes bytes
        if name == "broken.test" and broken.is_set():
            raise socket.gaierror(socket.EAI_NONAME, "broken.test does not resolve")
        if name not in ("healthy.test", "broken.test", "127.0.0.1"):
            raise socket.gaierror(socket.EAI_NONAME, f"no lookups in tests: {name}")
        return real("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    send = _client(hc, library)
    with FaultServer() as server:
        healthy = f"http://healthy.test:{server.port}/"
        failing = f"http://broken.test:{server.port}/"

        async def caller() -> list[int]:
            return [await send("GET", healthy) for _ in range(10)]

        async def main() -> None:
            failed = asyncio.gather(*(send("GET", failing) for _ in range(20)), return_exceptions=True)
            served, errors = await asyncio.gather(asyncio.gather(*(caller() for _ in range(5))), failed)
            assert served == [[200] * 10] * 5
            assert len(errors) == 20
            assert all("broken.test does not resolve" in repr(error) for error in errors), errors
            assert server.connections <= 25  # requests: a session per thread
            broken.clear()
            assert await send("GET", failing) == 200

        _run(hc, main(), threads=25)

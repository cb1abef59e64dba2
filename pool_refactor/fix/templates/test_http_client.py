# Template of the tests that pool-refactor writes beside the shared module.
# pool-refactor: template
#
# Rendered with the same sections and markers as http_client.py: plain pytest,
# no plugin and no network (a server on 127.0.0.1 that the tests start, and
# stubs of the libraries' own send methods), covering every line and branch
# of the rendered module and of itself. The generator replaces the import of
# the module below with the project's own.

"""Tests of the shared HTTP client module that pool-refactor generated.

They need no network and no pytest plugin, and cover every line and branch
of the module, so that a coverage gate stays green.
"""

from __future__ import annotations

import asyncio
import importlib.util  # section: httpx-async, httpx-sync
import os
import socket  # section: aiohttp
import socketserver
import sys
import threading
import types
import urllib.request  # section: httpx-async, httpx-sync
import warnings
from typing import (
    TYPE_CHECKING,
    Any,  # section: httpx-sync, aiohttp
)

import aiohttp  # section: aiohttp
import httpx  # section: httpx-async, httpx-sync
import prometheus_client  # section: metrics-prometheus
import pytest
import requests.adapters  # section: requests
import urllib3  # section: requests

from pool_refactor.fix.templates import http_client

if TYPE_CHECKING:
    from collections.abc import (
        Callable,
        Coroutine,  # section: httpx-async
        Iterator,
    )

_UNHASHABLE = ("by repr", ["unhashable"])
"""An option value without a hash: keyed by its repr."""
_USERINFO_URL = "https://user:secret@example.test/api"
_NO_SETTINGS = "types:SimpleNamespace()"  # section: settings-pydantic, settings-django
_METRIC_PREFIX = "http_client"  # section: metrics-prometheus
_TWICE = 2
_VARIABLES = (
    "MAX_CONNECTIONS",
    "MAX_CONNECTIONS_PER_HOST",
    "MAX_KEEPALIVE",
    "NUM_POOLS",
    "KEEPALIVE_EXPIRY",
    "TIMEOUT",
    "CONNECT_TIMEOUT",
    "POOL_TIMEOUT",
    "HTTP2",
    "RETRIES",
    "MAX_POOLS",
)


class _Handler(socketserver.StreamRequestHandler):
    """Answer every request of a kept-alive connection with `ok`."""

    def handle(self) -> None:
        """Read each request line and its headers, then answer."""
        while self.rfile.readline():
            while self.rfile.readline().strip():
                pass
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def url() -> Iterator[str]:
    """Serve `ok` on 127.0.0.1 while the test runs; return its URL."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    port: int = server.socket.getsockname()[1]
    yield f"http://127.0.0.1:{port}/"
    http_client.reset_http_clients()  # closes the connections
    server.shutdown()
    server.server_close()  # waits for every connection's thread
    thread.join()


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give every test fresh clients, no HTTP_CLIENT_ variable, warnings."""
    for name in _VARIABLES:
        monkeypatch.delenv(f"HTTP_CLIENT_{name}", raising=False)
    monkeypatch.setattr(http_client, "_warned", set[str]())  # warn again
    http_client.reset_http_clients()
    yield
    http_client.reset_http_clients()


def _client_stats() -> dict[str, dict[str, int]]:
    """Return the statistics of every client, without the pools' counts."""
    stats = http_client.http_client_stats()
    stats.pop("pools", None)
    return stats


def _quietly(build: Callable[[], object]) -> object:
    """Call `build` with warnings ignored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build()


# section: httpx-async, aiohttp
def _in_loop(build: Callable[[], object]) -> object:
    """Call `build` in an event loop of its own, closed afterwards."""

    async def main() -> object:
        """Build the client in the running loop."""
        return build()

    return asyncio.run(main())


# end section
# section: httpx-async
def _async_client() -> object:
    """Build the shared async httpx client in a loop of its own."""
    return _in_loop(http_client.get_http_client)


# end section
# section: aiohttp
def _aiohttp_session() -> object:
    """Build the shared aiohttp session in a loop of its own."""
    return _in_loop(http_client.get_aiohttp_session)


# end section
# section: httpx-async, httpx-sync
_HTTPX_BAD = [
    ("TIMEOUT", "soon"),
    ("CONNECT_TIMEOUT", "-1"),
    ("MAX_KEEPALIVE", "-1"),
    ("MAX_CONNECTIONS", "many"),
    ("HTTP2", "maybe"),
    ("MAX_POOLS", "0"),
]
# end section
# section: aiohttp
_AIOHTTP_BAD = [
    ("TIMEOUT", "soon"),
    ("KEEPALIVE_EXPIRY", "nan"),
    ("MAX_CONNECTIONS", "x"),
    ("MAX_POOLS", "none"),
]
# end section
_POOL_BAD = [("NUM_POOLS", "0"), ("RETRIES", "-1"), ("TIMEOUT", "x")]  # section: requests, urllib3
_URLLIB3 = [*_POOL_BAD, ("MAX_POOLS", "-2")]  # section: urllib3
_BUILDERS: list[tuple[str, Callable[[], object], list[tuple[str, str]]]] = [
    (f"{httpx.__name__}.AsyncClient", _async_client, _HTTPX_BAD),  # section: httpx-async
    (f"{httpx.__name__}.Client", http_client.get_sync_http_client, _HTTPX_BAD),  # section: httpx-sync
    ("aiohttp.ClientSession", _aiohttp_session, _AIOHTTP_BAD),  # section: aiohttp
    ("requests.Session", http_client.get_requests_session, _POOL_BAD),  # section: requests
    ("urllib3.PoolManager", http_client.get_urllib3_pool_manager, _URLLIB3),  # section: urllib3
]


@pytest.mark.parametrize(
    ("build", "name", "value"),
    [(build, *bad) for _, build, bads in _BUILDERS for bad in bads],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    build: Callable[[], object],
    name: str,
    value: str,
) -> None:
    """A bad value fails with the name of the variable and the value."""
    monkeypatch.setenv(f"HTTP_CLIENT_{name}", value)
    with pytest.raises(ValueError, match=f"HTTP_CLIENT_{name}="):
        build()


@pytest.mark.parametrize(("target", "build"), [b[:2] for b in _BUILDERS])
def test_good_values_and_a_patched_class(
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    build: Callable[[], object],
) -> None:
    """Good values build a client; what a patched class returns is not kept."""
    settings = {
        "TIMEOUT": "2.5",
        "CONNECT_TIMEOUT": "none",
        "MAX_CONNECTIONS": "none",
        "MAX_CONNECTIONS_PER_HOST": "3",
        "MAX_KEEPALIVE": "4",
        "KEEPALIVE_EXPIRY": "1",
        "RETRIES": "2",
        "HTTP2": "no",
        "MAX_POOLS": "3",
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"HTTP_CLIENT_{name}", value)
    assert build() is not None
    http_client.reset_http_clients()
    monkeypatch.setattr(target, types.SimpleNamespace)
    first = _quietly(build)
    assert isinstance(first, types.SimpleNamespace)
    assert _quietly(build) is not first


def test_close_and_lifespan() -> None:
    """Closing never raises and forgets every client; so does `lifespan`."""
    for _, build, _ in _BUILDERS:
        build()
    http_client.close_http_clients()
    closing = http_client.aclose_http_clients()  # outside any loop
    with pytest.raises(StopIteration):
        closing.send(None)

    async def main() -> None:
        """Enter and leave the lifespan."""
        async with http_client.lifespan(object()):
            pass

    asyncio.run(main())
    assert _client_stats() == {}


# section: httpx-async, httpx-sync, aiohttp, urllib3
def _pools() -> dict[str, int]:
    """Return the pools' counts."""
    return http_client.http_client_stats()["pools"]


def test_a_bad_cap_leaves_the_statistics_readable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The statistics never raise: a bad cap shows as -1."""
    monkeypatch.setenv("HTTP_CLIENT_MAX_POOLS", "x")
    assert _pools() == {"kept": 0, "evicted": 0, "closed": 0, "max": -1}


# end section
@pytest.mark.skipif(sys.platform == "win32", reason="needs os.fork")
def test_a_forked_child_forgets_the_clients() -> None:
    """A child process starts without the parent's clients."""
    for _, build, _ in _BUILDERS:
        build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # threads
        pid = os.fork()
    if not pid:  # pragma: no cover - the child
        os._exit(0 if set(http_client.http_client_stats()) <= {"pools"} else 1)
    assert os.waitpid(pid, 0)[1] == 0


# section: httpx-async, httpx-sync
def _ok(request: httpx.Request) -> httpx.Response:
    """Answer a request sent through a mock transport."""
    return httpx.Response(200, request=request)


class _Stale:
    """Stub of httpx's transport: it fails as on a connection that was closed.

    A request to `/new` reports a new connection (so it is not sent again);
    one to `/once` fails once only.
    """

    def __init__(self) -> None:
        """Count no call yet."""
        self.calls = 0

    def answer(self, request: httpx.Request) -> httpx.Response:
        """Count the call; answer `/once` the second time, else fail."""
        self.calls += 1
        if request.url.path == "/once" and self.calls > 1:
            return httpx.Response(200, request=request)
        message = "Server disconnected without sending a response."
        raise httpx.RemoteProtocolError(message)

    # section: httpx-sync
    def send(self, request: httpx.Request) -> httpx.Response:
        """Trace the connection as httpcore does, then answer."""
        opened = request.url.path == "/new"
        name = "connection.connect_tcp.started" if opened else "http11.send"
        request.extensions["trace"](name, {})
        return self.answer(request)

    # end section
    # section: httpx-async
    async def asend(self, request: httpx.Request) -> httpx.Response:
        """Trace the connection as httpcore does, then answer."""
        opened = request.url.path == "/new"
        name = "connection.connect_tcp.started" if opened else "http11.send"
        await request.extensions["trace"](name, {})
        return self.answer(request)

    # end section


def _senders(
    monkeypatch: pytest.MonkeyPatch,
    stub: _Stale,
) -> list[Callable[[str, str], int]]:
    """Stub the transports; return a sender per shared httpx client."""
    # section: httpx-sync
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", stub.send)

    def send(method: str, url: str) -> int:
        """Send with the shared sync client, traced."""

        def trace(name: str, _info: object) -> None:
            """Receive httpcore's trace."""
            assert name

        client = http_client.get_sync_http_client()
        extensions = {"trace": trace}
        return client.request(method, url, extensions=extensions).status_code

    # end section
    # section: httpx-async
    transport = httpx.AsyncHTTPTransport
    monkeypatch.setattr(transport, "handle_async_request", stub.asend)

    async def atrace(name: str, _info: object) -> None:
        """Receive httpcore's trace."""
        assert name

    async def arequest(method: str, url: str) -> int:
        """Send with the shared async client, traced."""
        client = http_client.get_http_client()
        trace = {"trace": atrace}
        response = await client.request(method, url, extensions=trace)
        return response.status_code

    # end section
    return [
        lambda method, url: asyncio.run(arequest(method, url)),  # section: httpx-async
        send,  # section: httpx-sync
    ]


def test_httpx_resends_a_request_that_met_a_closed_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An idempotent request that failed on a reused connection is resent."""
    stub = _Stale()
    for send in _senders(monkeypatch, stub):
        stub.calls = 0
        assert send("GET", "http://127.0.0.1:9/once") == httpx.codes.OK
        assert stub.calls == _TWICE


@pytest.mark.parametrize(
    ("method", "path", "calls"),
    [("GET", "/new", 1), ("POST", "/gone", 1), ("GET", "/gone", 4)],
)
def test_httpx_gives_up_as_httpx_would(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    calls: int,
) -> None:
    """A new connection, a POST and a fourth failure are the caller's."""
    stub = _Stale()
    for send in _senders(monkeypatch, stub):
        stub.calls = 0
        with pytest.raises(httpx.RemoteProtocolError):
            send(method, f"http://127.0.0.1:9{path}")
        assert stub.calls == calls


def test_httpx_options_key_the_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Options key the clients; cookies are refused; HTTP2 needs h2."""
    mock = httpx.MockTransport(_ok)
    for build in _HTTPX_BUILDERS:
        with pytest.raises(TypeError, match="keeps no cookies"):
            build(cookies=())
        with pytest.raises(TypeError, match="hashable"):
            build(headers={})
        monkeypatch.setenv("HTTP_CLIENT_HTTP2", "1")
        no_spec: dict[str, None] = {}
        monkeypatch.setattr(importlib.util, "find_spec", no_spec.get)
        with pytest.warns(RuntimeWarning, match="h2 package is missing"):
            build(verify=False)
        monkeypatch.undo()
        build(transport=mock, limits=httpx.Limits(), base_url=_USERINFO_URL)


# section: httpx-async
def _async_with(**options: object) -> object:
    """Build the shared async httpx client for `options` in a loop."""
    return _in_loop(lambda: http_client.get_http_client(**options))


# end section
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take every proxy setting of the machine away, system ones too.

    An empty lower-case variable cancels its upper-case namesake.
    """
    for scheme in ("http", "https", "all"):
        monkeypatch.setenv(f"{scheme}_proxy", "")
    # Looked up by name: older typesheds (mypy 1.8) do not declare it.
    only_environment = vars(urllib.request)["getproxies_environment"]
    monkeypatch.setattr(urllib.request, "getproxies", only_environment)


_HTTPX_BUILDERS: list[Callable[..., object]] = [
    _async_with,  # section: httpx-async
    http_client.get_sync_http_client,  # section: httpx-sync
]


# end section
# section: httpx-sync
def test_sync_client_pools_connections(url: str) -> None:
    """One client per option set; its connections show in the statistics."""
    client = http_client.get_sync_http_client()
    assert client.get(url).text == "ok"
    assert client is http_client.get_sync_http_client()
    mock = httpx.MockTransport(_ok)
    other = http_client.get_sync_http_client(
        transport=mock,
        limits=httpx.Limits(),
        verify=False,
        base_url=_USERINFO_URL,
    )
    stats = http_client.http_client_stats()
    assert stats["httpx-sync[]"] == {
        "open": 1,
        "idle": 1,
        "in_use": 0,
        "unreadable": 0,
    }
    name = "base_url='https://***@example.test/api',limits=<Limits>"
    name = f"httpx-sync[{name},transport=<MockTransport>,verify=False]"
    assert stats[name]["unreadable"] == 1
    assert other.get("/").status_code == httpx.codes.OK
    other.close()
    assert http_client.get_sync_http_client(transport=mock) is not other


def test_a_sync_client_built_meanwhile_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When another thread built the client meanwhile, that one is kept."""
    built: list[httpx.Client] = []
    real: Any = httpx.Client.__init__

    def init(client: httpx.Client, **options: object) -> None:
        """Build the client; build the shared one meanwhile, once."""
        real(client, **options)
        built.append(client)
        if len(built) == 1:
            built.append(http_client.get_sync_http_client())

    monkeypatch.setattr(httpx.Client, "__init__", init)
    kept = http_client.get_sync_http_client()
    assert kept is built[-1]
    assert built[0].is_closed


def test_a_sync_client_of_its_own_borrows_the_pool(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It sends through the shared pool, which its close leaves open."""
    _no_proxies(monkeypatch)
    with httpx.Client(
        transport=http_client.get_sync_http_transport(),
    ) as client:
        assert client.get(url).text == "ok"
    assert http_client.get_sync_http_client().get(url).text == "ok"
    stats = http_client.http_client_stats()
    assert stats["httpx-sync[]"]["open"] == 1
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    assert http_client.get_sync_http_transport() is None
    own = http_client.get_sync_http_transport(trust_env=False)
    assert own is not None
    http_client.reset_http_clients()
    monkeypatch.setattr(f"{httpx.__name__}.Client", types.SimpleNamespace)
    borrow = http_client.get_sync_http_transport
    assert _quietly(lambda: borrow(trust_env=False)) is None


def test_sync_pools_past_the_cap_are_evicted(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The oldest pool is closed once no request or borrower uses it."""
    _no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_CLIENT_MAX_POOLS", "1")
    held = http_client.get_sync_http_client(verify=False)
    with held.stream("GET", url) as response:
        with pytest.warns(RuntimeWarning, match="MAX_POOLS"):
            http_client.get_sync_http_client()
        assert _pools()["closed"] == 0  # a request is in flight
        assert response.read() == b"ok"
    assert _pools()["closed"] == 1
    assert held.get(url).text == "ok"  # its holder goes on
    borrow = http_client.get_sync_http_transport
    mock = httpx.MockTransport(_ok)
    with httpx.Client(transport=borrow(trust_env=False)) as own:
        http_client.get_sync_http_client(transport=mock)
        assert own.get(url).text == "ok"
        assert _pools()["closed"] == _TWICE  # a borrower is open
    with httpx.Client(transport=borrow(transport=mock)) as other:
        assert other.get(url).status_code == httpx.codes.OK
    http_client.get_sync_http_client()  # evicts a transport of the caller's
    assert _pools() == {"kept": 1, "evicted": 4, "closed": 3, "max": 1}


# end section
# section: httpx-async
def test_async_client_per_loop(url: str) -> None:
    """One client per event loop, closed when the loop ends."""

    async def main(previous: object) -> httpx.AsyncClient:
        """Use the loop's client; check it is not `previous`."""
        client = http_client.get_http_client()
        assert client is not previous
        assert (await client.get(url)).text == "ok"
        assert client is http_client.get_http_client()
        mock = http_client.get_http_client(
            transport=httpx.MockTransport(_ok),
            limits=httpx.Limits(),
            verify=False,
            base_url=_USERINFO_URL,
        )
        assert (await mock.get("/")).status_code == httpx.codes.OK
        stats = _client_stats()
        assert sorted(counts["unreadable"] for counts in stats.values()) == [
            0,
            1,
        ]
        await client.aclose()
        assert http_client.get_http_client() is not client
        return client

    # One statement: coverage.py stops tracing this frame after a loop that
    # made a real request (the lines still run).
    assert asyncio.run(main(asyncio.run(main(None)))).is_closed


def test_async_client_needs_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a loop the accessor fails; in a trio run it keys on the run."""
    with pytest.raises(RuntimeError, match="needs a running"):
        http_client.get_http_client()
    token = object()
    lowlevel = types.SimpleNamespace(current_trio_token=lambda: token)
    trio = types.SimpleNamespace(lowlevel=lowlevel)
    monkeypatch.setitem(sys.modules, "trio", trio)
    mock = httpx.MockTransport(_ok)
    client = http_client.get_http_client(transport=mock)
    assert http_client.get_http_client(transport=mock) is client
    closing = http_client.aclose_http_clients()
    with pytest.raises(StopIteration):
        closing.send(None)
    assert client.is_closed


def test_an_async_client_of_its_own_borrows_the_pool(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It sends through the loop's pool, which its close leaves open."""
    _no_proxies(monkeypatch)

    async def main() -> list[int]:
        """Send with a borrowing client, then with the shared one."""
        transport = http_client.get_http_transport()
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(url)).text == "ok"
        shared = http_client.get_http_client()
        assert (await shared.get(url)).text == "ok"
        return [counts["open"] for counts in _client_stats().values()]

    assert asyncio.run(main()) == [1]


def test_no_async_pool_is_lent_to_a_proxy_or_a_patched_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy from the environment, no loop, or a patched class: None."""
    assert http_client.get_http_transport() is None
    _no_proxies(monkeypatch)
    monkeypatch.setenv("all_proxy", "http://127.0.0.1:9")
    assert _in_loop(http_client.get_http_transport) is None
    borrow = http_client.get_http_transport
    assert _in_loop(lambda: borrow(trust_env=False)) is not None
    target = f"{httpx.__name__}.AsyncClient"
    monkeypatch.setattr(target, types.SimpleNamespace)
    assert _quietly(lambda: _in_loop(lambda: borrow(trust_env=False))) is None


def test_async_pools_past_the_cap_are_evicted(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The oldest pool is closed once no request or borrower uses it."""
    _no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_CLIENT_MAX_POOLS", "1")

    async def main() -> bool:
        """Evict pools in use, borrowed, idle and of the caller's own."""
        held = http_client.get_http_client(verify=False)
        async with held.stream("GET", url) as response:
            with pytest.warns(RuntimeWarning, match="MAX_POOLS"):
                http_client.get_http_client()
            await asyncio.sleep(0)  # its close finds a request in flight
            assert await response.aread() == b"ok"
        assert (await held.get(url)).text == "ok"  # its holder goes on
        borrow = http_client.get_http_transport
        mock = httpx.MockTransport(_ok)
        async with httpx.AsyncClient(transport=borrow(trust_env=False)) as own:
            http_client.get_http_client(transport=mock)
            assert (await own.get(url)).text == "ok"
        foreign = borrow(transport=mock)
        async with httpx.AsyncClient(transport=foreign) as other:
            assert (await other.get(url)).status_code == httpx.codes.OK
        http_client.get_http_client()  # evicts a transport of the caller's
        await asyncio.sleep(0)  # the last close runs
        expected = {"kept": 1, "evicted": 4, "closed": 3, "max": 1}
        return _pools() == expected

    # One statement: coverage.py stops tracing this frame after a loop that
    # made a real request (the lines still run).
    assert asyncio.run(main())


def test_an_evicted_pool_closes_in_a_trio_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under trio, an evicted pool is closed by a system task."""
    monkeypatch.setenv("HTTP_CLIENT_MAX_POOLS", "1")
    spawned: list[Callable[[], Coroutine[object, object, None]]] = []
    token = object()
    lowlevel = types.SimpleNamespace(
        current_trio_token=lambda: token,
        spawn_system_task=spawned.append,
    )
    trio = types.SimpleNamespace(lowlevel=lowlevel)
    monkeypatch.setitem(sys.modules, "trio", trio)
    client = http_client.get_http_client()
    with pytest.warns(RuntimeWarning, match="MAX_POOLS"):
        http_client.get_http_client(verify=False)
    (close,) = spawned
    asyncio.run(close())
    assert _pools()["closed"] == 1
    closing = http_client.aclose_http_clients()
    with pytest.raises(StopIteration):
        closing.send(None)
    assert client.is_closed


# end section
# section: httpx-async, aiohttp
def test_a_loop_closed_without_shutdown_is_forgotten() -> None:
    """Clients of a loop closed by hand are forgotten by the next loop."""
    loop = asyncio.new_event_loop()
    old = loop.run_until_complete(_build_async())
    asyncio.run(_build_async())  # the first loop is still open: kept
    loop.close()
    assert asyncio.run(_build_async()) is not old


async def _build_async() -> object:
    """Build the shared clients of the running loop; return the first."""
    clients = [
        http_client.get_http_client(),  # section: httpx-async
        http_client.get_aiohttp_session(),  # section: aiohttp
        http_client.get_aiohttp_session(connector=aiohttp.TCPConnector()),  # section: aiohttp
        http_client.get_aiohttp_connector(),  # section: aiohttp
    ]
    return clients[0]


# end section
# section: aiohttp
class _Protocol:
    """Stands for the protocol of a connection, open until closed."""

    def __init__(self) -> None:
        """Open the connection."""
        self.connected = True

    def is_connected(self) -> bool:
        """Tell whether the connection is open."""
        return self.connected


class _Connection:
    """Stands for a connection handed out by aiohttp's connector."""

    def __init__(self, protocol: _Protocol, transport: object = None) -> None:
        """Wrap `protocol`; `transport` gives its socket, if any."""
        self.protocol = protocol
        self.transport = transport

    def close(self) -> None:
        """Close the connection, as aiohttp does."""
        self.protocol.connected = False


def test_aiohttp_session_per_loop(url: str) -> None:
    """One session per loop and options; cookies refused; closed replaced."""

    async def main() -> aiohttp.ClientSession:
        """Use the loop's session, then close it."""
        session = http_client.get_aiohttp_session()
        for _ in range(_TWICE):  # the second reuses a connection, closed
            async with session.get(url) as response:
                assert await response.text() == "ok"
        assert session is http_client.get_aiohttp_session()
        for name in ("cookies", "cookie_jar"):
            with pytest.raises(TypeError, match="keeps no cookies"):
                http_client.get_aiohttp_session(**{name: None})
        with pytest.raises(TypeError, match="hashable"):
            http_client.get_aiohttp_session(headers={})
        connector = aiohttp.TCPConnector()
        http_client.get_aiohttp_session(
            connector=connector,
            base_url=_USERINFO_URL + "/",
            json_serialize=_UNHASHABLE,
            read_bufsize=2**16,
        )
        stats = _client_stats()
        assert len(stats) == _TWICE
        async with session:
            pass
        assert _client_stats() != stats
        assert http_client.get_aiohttp_session() is not session
        return session

    first = asyncio.run(main())
    assert first.closed
    with pytest.raises(RuntimeError, match="needs a running"):
        http_client.get_aiohttp_session()


def test_aiohttp_sessions_past_the_cap_are_evicted(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An evicted session closes its idle connections; its holder goes on."""
    monkeypatch.setenv("HTTP_CLIENT_MAX_POOLS", "1")

    async def get(session: aiohttp.ClientSession) -> bytes:
        """Read the answer to one request."""
        async with session.get(url) as response:
            return await response.read()

    async def main() -> tuple[dict[str, int], list[aiohttp.ClientSession]]:
        """Evict a session with idle connections, an idle one, a foreign one.

        The evicted sessions are returned: alive, they are closed with the
        loop (aiohttp warns about a session collected open).
        """
        held = http_client.get_aiohttp_session()
        both = await asyncio.gather(get(held), get(held))
        assert list(both) == [b"ok", b"ok"]
        with pytest.warns(RuntimeWarning, match="MAX_POOLS"):
            idle = http_client.get_aiohttp_session(read_bufsize=2**17)
        assert await get(held) == b"ok"  # its holder goes on
        connector = aiohttp.TCPConnector()
        foreign = http_client.get_aiohttp_session(connector=connector)
        http_client.get_aiohttp_session()
        return _pools(), [held, idle, foreign]

    counts, evicted = asyncio.run(main())
    assert counts == {"kept": 1, "evicted": 3, "closed": 2, "max": 1}
    assert all(session.closed for session in evicted)


def test_aiohttp_connector_per_loop(url: str) -> None:
    """Sessions that borrow the loop's connector share it, never close it."""

    async def main() -> aiohttp.BaseConnector:
        """Send through two borrowing sessions, then close the connector."""
        connector = http_client.get_aiohttp_connector()
        for _ in range(_TWICE):  # the second reuses the first's connection
            session = aiohttp.ClientSession(
                connector=connector,
                connector_owner=False,
            )
            async with session, session.get(url) as response:
                assert await response.text() == "ok"
        assert not connector.closed
        assert http_client.get_aiohttp_connector() is connector
        stats = _client_stats()
        assert [counts["open"] for counts in stats.values()] == [1]
        await connector.close()
        assert http_client.get_aiohttp_connector() is not connector
        return connector

    assert asyncio.run(main()).closed
    with pytest.raises(RuntimeError, match="needs a running"):
        http_client.get_aiohttp_connector()


def test_aiohttp_drops_a_connection_the_peer_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kept-alive connection whose peer closed it is not handed out."""
    left, right = socket.socketpair()
    left.send(b"EOF")
    extra = {"socket": right}
    closed_by_peer = types.SimpleNamespace(get_extra_info=extra.get)
    kept, other = _Protocol(), _Protocol()
    connections = [
        _Connection(kept),  # new
        _Connection(kept),  # reused, its socket unknown: kept
        _Connection(kept, closed_by_peer),  # reused, closed by the peer
        _Connection(kept, closed_by_peer),
        _Connection(other),  # new
    ]
    connect = _handing_out(connections)
    monkeypatch.setattr(aiohttp.TCPConnector, "connect", connect)

    async def main() -> list[_Connection]:
        """Ask the shared session's connector for three connections."""
        session = http_client.get_aiohttp_session()
        connector: Any = session.connector
        request = types.SimpleNamespace(method="GET", url="http://a/")
        return [await connector.connect(request, [], None) for _ in range(3)]

    handed_out = asyncio.run(main())
    assert [c.protocol for c in handed_out] == [kept, kept, other]
    assert connections == []
    left.close()
    right.close()


def test_aiohttp_resends_on_a_new_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Give a resend (same call and URL, its connection closed) a new one.

    aiohttp sends an idempotent request again after a failure on a reused
    connection; the resend never gets a kept-alive one. A redirect (another
    URL, even after a response that closed its connection) and another call
    reuse them.
    """
    kept, failed, new = _Protocol(), _Protocol(), _Protocol()
    other, closing = _Protocol(), _Protocol()
    connections = [
        _Connection(kept),  # new
        _Connection(kept),  # the redirect of that call: reused
        _Connection(failed),  # another call: new, then fails
        _Connection(kept),  # its resend: kept-alive, refused
        _Connection(new),  # new
        _Connection(_Protocol()),  # a third call: new, then collected
        _Connection(kept),  # its resend: refused
        _Connection(_Protocol()),
        _Connection(other),  # a fourth call: new
        _Connection(closing),  # a fifth call: new, closed by its response
        _Connection(other),  # its redirect: kept-alive, reused
    ]
    connect = _handing_out(connections)
    monkeypatch.setattr(aiohttp.TCPConnector, "connect", connect)
    first = types.SimpleNamespace(method="GET", url="http://a/")
    moved = types.SimpleNamespace(method="GET", url="http://a/moved")

    async def main() -> list[_Connection]:
        """Send requests, their redirects and their resends."""
        session = http_client.get_aiohttp_session()
        connector: Any = session.connector

        async def ask(traces: list[object], request: object) -> _Connection:
            """Ask for a connection as aiohttp does."""
            asked = connector.connect(request, traces=traces, timeout=None)
            connection: _Connection = await asked
            return connection

        call: list[object] = []
        handed_out = [await ask(call, first), await ask(call, moved)]
        call = []
        handed_out.append(await ask(call, first))
        failed.connected = False
        handed_out.append(await ask(call, first))
        call = []
        await ask(call, first)  # dropped, collected
        await ask(call, first)
        await ask([], first)
        call = []
        await ask(call, first)
        closing.connected = False
        handed_out.append(await ask(call, moved))
        return handed_out

    handed_out = asyncio.run(main())
    protocols = [c.protocol for c in handed_out]
    assert protocols == [kept, kept, failed, new, other]
    assert connections == []
    assert not kept.connected  # closed, not left in the pool
    assert other.connected


def _handing_out(connections: list[_Connection]) -> Callable[..., object]:
    """Return a `connect` that hands out the next prepared connection."""

    async def connect(*_args: object, **_kwargs: object) -> _Connection:
        """Hand out the next prepared connection."""
        return connections.pop(0)

    return connect


# end section
# section: requests
def test_requests_session_per_thread(url: str) -> None:
    """One session per thread; a call without timeout gets the default."""
    session = http_client.get_requests_session()
    assert session.get(url).text == "ok"
    assert session.get(url, timeout=5).text == "ok"
    assert session is http_client.get_requests_session()
    session.mount("stub://", requests.adapters.BaseAdapter())
    stats = _client_stats()
    assert [counts["created"] for counts in stats.values()] == [1]
    http_client.reset_http_clients()
    assert http_client.get_requests_session() is not session


def test_a_borrowed_requests_session_leaves_the_pool_open(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session of its own sends through the thread's adapters."""
    with http_client.borrow_requests_session() as session:
        assert session.get(url).text == "ok"
        assert session is not http_client.get_requests_session()
    assert http_client.get_requests_session().get(url).text == "ok"
    stats = _client_stats()
    assert [counts["created"] for counts in stats.values()] == [1]
    monkeypatch.setattr("requests.Session", types.SimpleNamespace)
    borrowed = _quietly(http_client.borrow_requests_session)
    assert isinstance(borrowed, types.SimpleNamespace)


def test_requests_resends_a_request_that_met_a_closed_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An idempotent request whose connection was closed is sent again."""
    failures: list[str] = []

    def send(
        _adapter: object,
        request: requests.PreparedRequest,
        **_kwargs: object,
    ) -> requests.Response:
        """Fail the first request of each method as on a closed connection."""
        if request.method not in failures:
            failures.append(str(request.method))
            reason = urllib3.exceptions.ProtocolError("Connection aborted.")
            raise requests.ConnectionError(reason)
        response = requests.Response()
        response.status_code = requests.codes.ok
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    session = http_client.get_requests_session()
    assert session.get("http://127.0.0.1:9/").ok
    with pytest.raises(requests.ConnectionError):
        session.post("http://127.0.0.1:9/", data=b"once")


# end section
# section: urllib3
def test_urllib3_pool_manager_per_process(url: str) -> None:
    """One manager per option set; its pools show in the statistics."""
    manager = http_client.get_urllib3_pool_manager()
    assert manager.request("GET", url).data == b"ok"
    assert manager is http_client.get_urllib3_pool_manager()
    http_client.get_urllib3_pool_manager(
        num_pools=3,
        ca_cert_dir=_USERINFO_URL,
        ca_cert_data=_UNHASHABLE,
        ssl_context=_Secret(),
    )
    name = "ca_cert_data=<tuple>,ca_cert_dir='https://***@example.test/api'"
    name = f"urllib3[{name},num_pools=3,ssl_context=<_Secret>]"
    assert http_client.http_client_stats()[name] == {"idle": 0, "created": 0}
    with pytest.raises(TypeError, match="hashable"):
        http_client.get_urllib3_pool_manager(headers={})


def test_urllib3_managers_past_the_cap_are_evicted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The oldest manager is cleared and forgotten, past the cap."""
    monkeypatch.setenv("HTTP_CLIENT_MAX_POOLS", "1")
    http_client.get_urllib3_pool_manager()
    with pytest.warns(RuntimeWarning, match="MAX_POOLS"):
        http_client.get_urllib3_pool_manager(num_pools=2)
    http_client.get_urllib3_pool_manager(num_pools=3)
    assert _pools() == {"kept": 1, "evicted": 2, "closed": 2, "max": 1}


class _Secret:
    """An option value that could hold a secret: shown by its type only."""


# end section


# section: settings-pydantic, settings-django
@pytest.fixture(autouse=True)
def _no_app_settings() -> Iterator[None]:
    """Read no application settings, unless a test says where they are.

    The application's own settings would make the outcome depend on its
    environment. A patch of its own outlives a test's `monkeypatch.undo()`.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(http_client, "_APP_SETTINGS", _NO_SETTINGS)
        yield


@pytest.fixture
def app_settings(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """Stand in for the application's settings, as an object and accessor."""
    module = types.ModuleType("_http_client_app_settings")
    values = types.SimpleNamespace()
    vars(module).update(settings=values, get_settings=lambda: values)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return values


@pytest.mark.parametrize("where", ["settings", "get_settings()"])
@pytest.mark.parametrize(("build", "bads"), [(b[1], b[2]) for b in _BUILDERS])
def test_the_application_settings_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    app_settings: types.SimpleNamespace,
    where: str,
    build: Callable[[], object],
    bads: list[tuple[str, str]],
) -> None:
    """Read a setting of the application first, else the environment."""
    location = f"_http_client_app_settings:{where}"
    monkeypatch.setattr(http_client, "_APP_SETTINGS", location)
    name, value = bads[0]
    monkeypatch.setenv(f"HTTP_CLIENT_{name}", value)
    vars(app_settings).update({f"HTTP_CLIENT_{name}".lower(): 1})
    vars(app_settings).update({f"HTTP_CLIENT_{name}": 1})
    assert build() is not None
    http_client.reset_http_clients()
    monkeypatch.delenv(f"HTTP_CLIENT_{name}")
    vars(app_settings).update({f"HTTP_CLIENT_{name}".lower(): value})
    vars(app_settings).update({f"HTTP_CLIENT_{name}": value})
    with pytest.raises(ValueError, match=f"HTTP_CLIENT_{name}="):
        build()


@pytest.mark.parametrize("build", [b[1] for b in _BUILDERS])
def test_settings_that_cannot_be_loaded_leave_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    app_settings: types.SimpleNamespace,
    build: Callable[[], object],
) -> None:
    """A run without the application's environment reads the variables."""
    location = "_http_client_app_settings:missing()"
    monkeypatch.setattr(http_client, "_APP_SETTINGS", location)
    vars(app_settings).update({"HTTP_CLIENT_TIMEOUT".lower(): 1})
    vars(app_settings).update({"HTTP_CLIENT_TIMEOUT": 1})
    monkeypatch.setenv("HTTP_CLIENT_TIMEOUT", "x")
    with pytest.raises(ValueError, match="HTTP_CLIENT_TIMEOUT="):
        build()


# end section
# section: settings-django
def test_unconfigured_django_settings_leave_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    app_settings: types.SimpleNamespace,
) -> None:
    """Outside a configured Django project, the environment applies."""
    location = "_http_client_app_settings:settings"
    monkeypatch.setattr(http_client, "_APP_SETTINGS", location)
    vars(app_settings).update(configured=False, HTTP_CLIENT_TIMEOUT="x")
    for _, build, _ in _BUILDERS:
        assert build() is not None


# end section
# section: metrics-prometheus
_Stats = dict[str, dict[str, int]]
_Samples = dict[tuple[str, str], float]


def _samples() -> _Samples:
    """Scrape the default registry: this module's gauges by name and label."""
    found: _Samples = {}
    for metric in prometheus_client.REGISTRY.collect():
        for sample in metric.samples:
            if sample.name.startswith(_METRIC_PREFIX):
                label = ",".join(sample.labels.values())
                key = sample.name.removeprefix(_METRIC_PREFIX)
                found[key, label] = sample.value
    return found


def test_the_pools_are_prometheus_gauges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every client's pool is exported, read at each scrape of the registry."""
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS", "3")

    async def main() -> tuple[_Stats, _Samples]:
        """Build every client in this loop; scrape while they are kept."""
        # section: httpx-async
        http_client.get_http_client()
        http_client.get_http_client(transport=httpx.MockTransport(_ok))
        # end section
        # section: aiohttp
        http_client.get_aiohttp_session()
        connector = http_client.get_aiohttp_connector()
        with monkeypatch.context() as patched:
            patched.setattr(connector, "_waiters", None)  # unreadable
            unreadable = _samples()
        capped = [name for name, label in unreadable if "connector" in label]
        assert "_connections_max" not in capped
        # end section
        # section: httpx-sync
        http_client.get_sync_http_client()
        http_client.get_sync_http_client(transport=httpx.MockTransport(_ok))
        # end section
        http_client.get_requests_session()  # section: requests
        http_client.get_urllib3_pool_manager()  # section: urllib3
        return _client_stats(), _samples()

    stats, samples = asyncio.run(main())

    def gauge(suffix: str) -> dict[str, float]:
        """Return one gauge's samples by label."""
        return {c: v for (n, c), v in samples.items() if n == suffix}

    idle = {client: counts["idle"] for client, counts in stats.items()}
    assert gauge("_connections_idle") == idle
    pools = ("httpx", "aiohttp")
    readable = [c for c in stats if c.startswith(pools) and "<" not in c]
    assert gauge("_connections_max") == dict.fromkeys(readable, 3)
    assert gauge("_connections_waiting") == dict.fromkeys(readable, 0)
    per_loop = [c for c in stats if c.startswith(("httpx-async[", "aiohttp["))]
    assert sum(gauge("_clients").values()) == len(per_loop)


# end section

# Template of the shared HTTP client module that pool-refactor generates.
# pool-refactor: template
#
# This file is the real, tested source of the generated module. Lines between
# `# section: NAME[, NAME...]` and `# end section`, and lines that end with
# `# section: NAME[, NAME...]`, are kept only when one of the named sections is
# rendered. The generator replaces these header comments (up to the first blank
# line) with its own header, substitutes the environment prefix and the httpx
# module name, and strips the markers. Keep every line under 88 characters: the
# generated module must pass `ruff check` with any configuration.

"""Shared, pooled HTTP clients for this package.

Opening a client for every call costs an SSL context (tens of milliseconds of CPU),
a TCP and a TLS handshake, and a DNS lookup, and no connection is ever reused. The
accessors below hand out one long-lived client instead:

# section: httpx-async, aiohttp
* one per running event loop for async clients, because an async client is bound
  to the loop it first ran on (reusing it under another loop fails with "Event
  loop is closed");
# end section
# section: httpx-async
* for httpx under trio (through anyio), one per `trio.run()`;
# end section
# section: httpx-sync, urllib3
* one per process for thread-safe sync clients, rebuilt in a forked child because
  sockets inherited across a fork are shared with the parent;
# end section
# section: requests
* one per thread for `requests.Session`, which is not documented as thread-safe.
# end section

Clients are keyed by the keyword arguments given to the accessor (which must be
hashable literals such as `verify=False` or `base_url="https://api.example.com"`).
None of them keeps cookies between requests: a cookie that one caller receives
must never be sent on behalf of another caller. Per-request headers and auth are
passed on each request and never become client state.

Sharing adds no wait and no failure that a client per call did not have:

* There is no cap on connections. A request that finds no idle connection to its
  host opens one, as its own client would have, so a host that stalls and holds
  hundreds of connections never delays a request to another host, and nothing
  queues for the pool. A cap (`MAX_CONNECTIONS` below) brings the queue back.
* Up to 100 callers at once keep their connections: httpx keeps 20, and with
  more callers it closes a connection as soon as it is free and opens another
  for the next request. Not more than 100: httpx's pool costs CPU per request
  for every connection it holds (benchmarks/README.md of pool-refactor).
* A request sent on a kept-alive connection that the server has just closed
  fails before any response. An idempotent one (GET, HEAD, OPTIONS, PUT, DELETE,
  TRACE) whose body is in memory is sent again: by httpx as long as it failed on
  a reused connection (as Go's net/http does), by requests and aiohttp once.

Sizes and timeouts come from environment variables, read when a client is built
(not at import time). When a variable is unset, the default below applies (the
client library's own, except for the three points above):

HTTP_CLIENT_MAX_CONNECTIONS
    connections per client (none: no cap; `0` also means none)
HTTP_CLIENT_MAX_CONNECTIONS_PER_HOST
    aiohttp's `limit_per_host` (none)
HTTP_CLIENT_MAX_KEEPALIVE
    idle connections kept (httpx: 100; urllib3: 64 per host; requests: 10 per
    host and thread; aiohttp keeps all until they expire)
HTTP_CLIENT_NUM_POOLS
    hosts with a pool of their own (requests, urllib3: 10)
HTTP_CLIENT_KEEPALIVE_EXPIRY
    seconds an idle connection is kept (httpx: 5; aiohttp: 15)
HTTP_CLIENT_TIMEOUT
    seconds (httpx: 5 for each of connect, read and write; aiohttp: 300 in
    total; requests, urllib3: no timeout)
HTTP_CLIENT_CONNECT_TIMEOUT
    seconds to connect (default: TIMEOUT's value; aiohttp: 30)
HTTP_CLIENT_POOL_TIMEOUT
    with a cap, seconds to wait for a free connection (httpx: 60, not 5: a wait
    for a shared pool is a queue, not a dead server; aiohttp: none)
HTTP_CLIENT_HTTP2
    1/0, true/false, yes/no or on/off (httpx: off; without the h2 package a
    warning is issued and HTTP/1.1 is used)
HTTP_CLIENT_RETRIES
    retries of a failed connection attempt (0; urllib3 keeps its own retry
    policy and only its connect count changes)

Seconds accept `none` (no limit). A bad value raises `ValueError` naming the
variable and the value.

Call `aclose_http_clients()` (async) or `close_http_clients()` at shutdown, or pass
`lifespan` to FastAPI/Starlette; neither ever raises. `http_client_stats()`
reports the connections of every client for logs and metrics.
# section: httpx-async, aiohttp
Async clients are also closed when their event loop shuts down through
`asyncio.run()` or `asyncio.Runner`.
# end section

In tests, a client class patched with a mock (`mock.patch("httpx.AsyncClient")`)
is honoured, but what it returns is never kept: a warning says so once. To mock
the shared client, patch the accessor where the code under test imports it. This
fixture gives every test fresh clients and closes those it leaves behind:

    # conftest.py
    import pytest

    from yourpackage import http_client  # this module


    @pytest.fixture(autouse=True)
    def _fresh_http_clients():
        http_client.reset_http_clients()
        yield
        http_client.reset_http_clients()

This file was generated by pool-refactor and may be edited; pool-refactor never
overwrites a copy that was edited.
"""

from __future__ import annotations

import asyncio  # section: httpx-async, aiohttp
import atexit  # section: httpx-sync, requests, urllib3
import contextlib
import http.cookiejar  # section: httpx-async, httpx-sync, requests
import importlib.util  # section: httpx-async, httpx-sync
import os
import select  # section: aiohttp
import sys
import threading
import warnings
import weakref  # section: aiohttp, requests
from collections.abc import (
    AsyncGenerator,  # section: httpx-async, aiohttp
    AsyncIterator,
    Callable,
)
from typing import Any

import aiohttp  # section: aiohttp
import httpx  # section: httpx-async, httpx-sync
import requests  # type: ignore[import-untyped, unused-ignore]  # section: requests
import urllib3  # section: requests, urllib3
from requests.adapters import HTTPAdapter  # type: ignore[import-untyped, unused-ignore]  # section: requests

__all__ = [
    "aclose_http_clients",
    "close_http_clients",
    "get_aiohttp_session",  # section: aiohttp
    "get_http_client",  # section: httpx-async
    "get_requests_session",  # section: requests
    "get_sync_http_client",  # section: httpx-sync
    "get_urllib3_pool_manager",  # section: urllib3
    "http_client_stats",
    "lifespan",
    "reset_http_clients",
]

_ENV_PREFIX = "HTTP_CLIENT_"
"""Prefix of the environment variables, fixed when the module was generated."""

_Key = tuple[tuple[str, Any], ...]
"""Registry key: the accessor's keyword arguments, sorted by name."""

_lock = threading.Lock()
"""Guards every registry change. It is held to read or change the registry only,
never while a client is built or closed, so no thread waits for another's I/O.
Lookups on the hot path take no lock: a dict read is atomic, and a miss falls
through to the slow path."""


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_UNLIMITED = frozenset({"none", "off", "inf"})


def _env(name: str) -> str | None:
    """The raw value of `<prefix><name>`; None when unset or blank."""
    raw = os.environ.get(_ENV_PREFIX + name)
    if raw is None or not raw.strip():
        return None
    return raw


def _invalid(name: str, raw: str, expected: str) -> ValueError:
    return ValueError(f"{_ENV_PREFIX}{name}={raw!r} is not {expected}")


def _env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """An integer variable; `minimum` is 1 (positive) or 0 (non-negative)."""
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        expected = "a positive integer" if minimum > 0 else "a non-negative integer"
        raise _invalid(name, raw, expected)
    return value


def _env_cap(name: str) -> int | None:
    """A cap on connections; unset, `0` and `none` mean no cap (None)."""
    raw = _env(name)
    if raw is not None and raw.strip().lower() in _UNLIMITED:
        return None
    return _env_int(name, 0, minimum=0) or None


def _env_seconds(name: str, default: float | None) -> float | None:
    """A duration in seconds; `none` (or `off`, `inf`) means no limit (None)."""
    raw = _env(name)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in _UNLIMITED:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):  # also rejects NaN
        raise _invalid(name, raw, "a positive number of seconds or 'none'")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _invalid(name, raw, "a boolean (1/0, true/false, yes/no, on/off)")


_BY_REPR = "<by repr>"


def _options_key(accessor: str, options: dict[str, Any]) -> _Key:
    """The registry key of an option set (sorting never compares values: the
    names are distinct).

    Options should be hashable literals. Values that define equality but no hash,
    such as `httpx.Limits(...)` and `httpx.Timeout(...)`, are keyed by their repr,
    which shows every field. Mutable containers are refused: pass headers, params
    and the like on each request instead.
    """
    key = tuple(sorted(options.items()))
    try:
        hash(key)
    except TypeError:
        key = tuple((name, _freeze(accessor, value)) for name, value in key)
    return key


def _freeze(accessor: str, value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        if isinstance(value, (dict, list, set, bytearray)):
            raise TypeError(
                f"{accessor}() options must be hashable literals (such as "
                "verify=False or base_url='https://...'); pass mappings such as "
                "headers on each request"
            ) from None
        kind = type(value)
        return (_BY_REPR, f"{kind.__module__}.{kind.__qualname__}", repr(value))
    return value


def _describe(kind: str, key: _Key, *extra: str) -> str:
    """A stable, log-safe name for one client: option values that could hold a
    secret (strings with credentials, objects) are not shown in full."""
    parts = list(extra)
    for name, value in key:
        if isinstance(value, (bool, int, float)) or value is None:
            shown = repr(value)
        elif isinstance(value, str):
            scheme, sep, rest = value.partition("://")
            if sep and "@" in rest.split("/", 1)[0]:
                rest = "***@" + rest.split("@", 1)[1]
            shown = repr(scheme + sep + rest)
        elif isinstance(value, tuple) and value[:1] == (_BY_REPR,):
            shown = f"<{value[1].rsplit('.', 1)[-1]}>"
        else:
            shown = f"<{type(value).__name__}>"
        parts.append(f"{name}={shown}")
    return f"{kind}[{','.join(parts)}]"


_warned: set[str] = set()
"""Accessors that have warned about a patched client class (once each)."""


def _genuine(client: object, library: str, accessor: str) -> bool:
    """Whether `client` is an instance of the library's own class, so that it may
    be kept. A test that patched the class (`mock.patch("httpx.AsyncClient")`)
    gets what the patch returns, never kept: a kept mock would outlive the patch
    and reach the next test."""
    if type(client).__module__.partition(".")[0] == library:
        return True
    if accessor not in _warned:
        _warned.add(accessor)
        warnings.warn(
            f"{accessor}() got a {type(client).__name__} from a patched client "
            "class and returns it without keeping it; to mock the shared client, "
            f"patch {accessor} where the code under test imports it",
            RuntimeWarning,
            stacklevel=3,
        )
    return False


def _close_each(closing: list[Callable[[], object]]) -> None:
    """Call every close function; a client that fails to close is forgotten all
    the same (closing is for shutdown and tests, where an error helps no one)."""
    for close in closing:
        with contextlib.suppress(Exception):
            close()


_READ_ERRORS = (AttributeError, LookupError, TypeError, ValueError, RuntimeError)
"""What reading another library's internals for statistics may raise."""


# section: httpx-async, httpx-sync, requests
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods sent again when a kept-alive connection turns out to be closed."""


def _no_cookie_policy() -> http.cookiejar.DefaultCookiePolicy:
    """A cookie policy that accepts no cookie from any domain.

    A shared client serves every caller of the process, so a cookie that one
    response sets must never be sent with another caller's request. httpx has no
    switch to turn its cookie jar off (encode/httpx#2992), and a requests session
    keeps cookies too; a jar with this policy stores nothing. Cookies a caller
    passes on a request are still sent with that request.
    """
    return http.cookiejar.DefaultCookiePolicy(allowed_domains=())


# end section
# section: httpx-async, aiohttp
# ---------------------------------------------------------------------------
# Event loops
# ---------------------------------------------------------------------------

_NO_LOOP = (
    "{}() needs a running {} event loop: call it from a coroutine (an async "
    "client is bound to the loop it first runs on)"
)

_watchers: dict[object, AsyncGenerator[None, None]] = {}
"""One suspended async generator per loop that has clients (see `_keep`)."""

_owned: dict[object, list[Any]] = {}
"""Every async client built on a loop, those `reset_http_clients()` forgot too:
each is closed when its loop shuts down."""


def _keep(loop: object, client: Any) -> None:
    """Close `client` when `loop` shuts down. The caller holds `_lock`.

    `asyncio.run()`, `asyncio.Runner` (used by pytest-asyncio), uvloop and
    `trio.run()` finalize the async generators still alive when they end. One
    first iterated while the loop runs is registered with that loop, so the
    `finally` block of `_close_at_shutdown` runs inside the still-running loop,
    where clients can be closed cleanly: no "Unclosed client session" warning, no
    socket left to the garbage collector. Advancing the generator by hand needs
    neither an `await` nor a task.
    """
    if loop not in _watchers:
        _forget_closed_loops()
        watcher = _close_at_shutdown(loop, os.getpid())
        with contextlib.suppress(StopIteration):
            watcher.asend(None).send(None)
        _watchers[loop] = watcher
    owned = _owned.setdefault(loop, [])
    # Drop the clients someone closed (`async with get_http_client()`), which
    # were replaced: a long-running loop must not collect them.
    owned[:] = [kept for kept in owned if not _closed(kept)]
    owned.append(client)


def _closed(client: Any) -> bool:
    """Whether an httpx client (`is_closed`) or aiohttp session (`closed`) is."""
    return bool(getattr(client, "is_closed", None) or getattr(client, "closed", None))


async def _close_at_shutdown(loop: object, pid: int) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if os.getpid() == pid:  # a forked child must not close the parent's clients
            with _lock:
                _watchers.pop(loop, None)
            await _aclose_loop(loop)


def _forget_closed_loops() -> None:
    """Drop the clients of loops that were closed without `shutdown_asyncgens()`
    (a bare `loop.close()`). Their connections cannot be closed any more, since
    that needs the loop. The caller holds `_lock`."""
    for loop in list(_watchers):
        if isinstance(loop, asyncio.AbstractEventLoop) and loop.is_closed():
            del _watchers[loop]
            _async_clients.pop(loop, None)  # section: httpx-async
            # section: aiohttp
            _aiohttp_sessions.pop(loop, None)
            for session in _owned.get(loop, []):
                if isinstance(session, aiohttp.ClientSession):
                    _abandon_aiohttp_session(session)
            # end section
            _owned.pop(loop, None)


async def _aclose_loop(loop: object) -> None:
    """Close every client of `loop`, which must be the running loop; never raises
    (a client that fails to close is forgotten all the same)."""
    with _lock:
        owned = _owned.pop(loop, [])
        _async_clients.pop(loop, None)  # section: httpx-async
        _aiohttp_sessions.pop(loop, None)  # section: aiohttp
    for client in owned:
        with contextlib.suppress(Exception):
            await (client.aclose() if hasattr(client, "aclose") else client.close())


def _running_loop() -> object | None:
    """What an async client is bound to: the running asyncio loop, or the token of
    the running `trio.run()` (httpx runs on trio through anyio); None outside."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    # section: httpx-async
    trio = sys.modules.get("trio")
    if trio is not None:
        with contextlib.suppress(RuntimeError):
            token: object = trio.lowlevel.current_trio_token()
            return token
    # end section
    return None


# end section
# section: httpx-async, httpx-sync
# ---------------------------------------------------------------------------
# httpx
# ---------------------------------------------------------------------------

_TRANSPORT_OPTIONS = ("verify", "cert", "trust_env", "http1", "http2", "limits")
"""Client options that configure the pool, so the transport must receive them."""

_STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
"""What httpx raises for a request sent on a connection the server had closed."""

_RESENDS = 3
"""Sends of a request beyond the first, each after a failure on a reused
connection (the pool may hold several that the server closed)."""


def _h2_available() -> bool:
    """Whether the `h2` package (HTTP/2 support of httpx) can be imported."""
    return importlib.util.find_spec("h2") is not None


class _Attempt:
    """One send of a request through a pool. httpcore's trace extension tells
    whether it opened a connection; if not, it used a kept-alive one, which the
    server may have closed while the request was on its way."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.opened = False
        self.chained = request.extensions.get("trace")

    def trace(self, name: str, info: dict[str, Any]) -> None:
        self.opened = self.opened or name.startswith("connection.connect_")
        if self.chained is not None:
            self.chained(name, info)

    async def atrace(self, name: str, info: dict[str, Any]) -> None:
        self.opened = self.opened or name.startswith("connection.connect_")
        if self.chained is not None:
            await self.chained(name, info)

    def may_resend(self) -> bool:
        """Whether the request failed on a reused connection and may be sent again:
        an idempotent method and a body held in memory."""
        body = self.request.stream
        idempotent = self.request.method in _IDEMPOTENT
        return not self.opened and idempotent and isinstance(body, httpx.ByteStream)

    def done(self) -> None:
        self.request.extensions.pop("trace", None)
        if self.chained is not None:
            self.request.extensions["trace"] = self.chained


def _httpx_options(
    accessor: str, options: dict[str, Any], transport: Callable[..., Any]
) -> dict[str, Any]:
    """Keyword arguments for a new httpx client, whose pool is a `transport`.

    The environment gives the defaults (httpx's own when a variable is unset,
    except for the limits, see the module docstring) and the caller's options
    win over them. Every variable is validated even when an option overrides it,
    so a bad value fails the same way everywhere.
    """
    if "cookies" in options:
        raise TypeError(
            f"{accessor}() keeps no cookies, so that no caller's cookie reaches "
            "another caller; send a Cookie header on the request instead"
        )
    timeout = _env_seconds("TIMEOUT", 5.0)
    connect = _env_seconds("CONNECT_TIMEOUT", timeout)
    pool = _env_seconds("POOL_TIMEOUT", 60.0)
    limits = httpx.Limits(
        max_connections=_env_cap("MAX_CONNECTIONS"),
        max_keepalive_connections=_env_int("MAX_KEEPALIVE", 100, minimum=0),
        keepalive_expiry=_env_seconds("KEEPALIVE_EXPIRY", 5.0),
    )
    http2 = _env_bool("HTTP2", False)
    retries = _env_int("RETRIES", 0, minimum=0)
    kwargs: dict[str, Any] = {
        "timeout": httpx.Timeout(timeout, connect=connect, pool=pool),
        "limits": limits,
    }
    if http2 and "http2" not in options:
        if _h2_available():
            kwargs["http2"] = True
        else:
            warnings.warn(
                f"{_ENV_PREFIX}HTTP2 is on but the h2 package is not installed; "
                "using HTTP/1.1 (install httpx[http2] to enable HTTP/2)",
                RuntimeWarning,
                stacklevel=3,  # the code that called the accessor
            )
    kwargs.update(options)
    # httpx keeps a CookieJar given as is (a Cookies object would be copied into a
    # jar with the default policy).
    kwargs["cookies"] = http.cookiejar.CookieJar(policy=_no_cookie_policy())
    if "transport" not in kwargs:
        # The client still uses the pool options for proxy transports.
        pool_options = {k: kwargs[k] for k in _TRANSPORT_OPTIONS if k in kwargs}
        kwargs["transport"] = transport(retries=retries, **pool_options)
    return kwargs


def _httpx_pool_stats(client: object) -> dict[str, int]:
    """Connections of an httpx client, read from its transports' pools.

    httpcore has no public statistics (encode/httpcore#861), so this reads
    `client._transport._pool.connections` defensively: a custom transport or a
    mount without a readable pool is counted as `unreadable`, never an error.
    """
    stats = {"open": 0, "idle": 0, "in_use": 0, "unreadable": 0}
    transports = [getattr(client, "_transport", None)]
    mounts = getattr(client, "_mounts", None)
    if isinstance(mounts, dict):
        transports.extend(mounts.values())
    for transport in transports:
        if transport is None:
            continue
        connections = getattr(getattr(transport, "_pool", None), "connections", None)
        if not isinstance(connections, list):
            stats["unreadable"] += 1
            continue
        try:
            for connection in list(connections):
                if connection.is_closed():
                    continue
                stats["open"] += 1
                stats["idle" if connection.is_idle() else "in_use"] += 1
        except _READ_ERRORS:
            stats["unreadable"] += 1
    return stats


# end section
# section: httpx-async
class _AsyncTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, which sends an idempotent request again when it failed
    on a reused connection before any response (the server had closed it)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(_RESENDS):
            attempt = _Attempt(request)
            request.extensions["trace"] = attempt.atrace
            try:
                return await super().handle_async_request(request)
            except _STALE:
                if not attempt.may_resend():
                    raise
            finally:
                attempt.done()
        return await super().handle_async_request(request)


_async_clients: dict[object, dict[_Key, httpx.AsyncClient]] = {}


def get_http_client(**client_options: Any) -> httpx.AsyncClient:
    """The shared `httpx.AsyncClient` of the running event loop for these options.

    One client per event loop (or trio run) and option set: an async client is
    bound to the loop it first ran on, so reusing one across `asyncio.run()` calls
    or pytest's per-test loops fails with "Event loop is closed"
    (encode/httpx#2473). The client is created on first use without `await`, and
    a warm call is a dict lookup without a lock. A client found closed (someone
    used it in `async with`) is replaced.

    Options are client-level keyword arguments of `httpx.AsyncClient` with
    hashable values (`verify=False`, `http2=True`, `base_url=...`); pass headers,
    params, auth and timeouts on each request. Raises RuntimeError outside a
    running event loop.
    """
    try:
        loop: object = asyncio.get_running_loop()
    except RuntimeError:
        loop = _running_loop()
        if loop is None:
            raise RuntimeError(
                _NO_LOOP.format("get_http_client", "asyncio or trio")
            ) from None
    key: _Key = tuple(sorted(client_options.items())) if client_options else ()
    clients = _async_clients.get(loop)
    if clients is not None:
        try:
            client = clients.get(key)
        except TypeError:  # an option without a hash, see _options_key
            client = clients.get(_options_key("get_http_client", client_options))
        if client is not None and not client.is_closed:
            return client
    key = _options_key("get_http_client", client_options)
    client = httpx.AsyncClient(
        **_httpx_options("get_http_client", client_options, _AsyncTransport)
    )
    if _genuine(client, httpx.__name__, "get_http_client"):
        with _lock:
            _keep(loop, client)
            _async_clients.setdefault(loop, {})[key] = client
    return client


# end section
# section: httpx-sync
class _SyncTransport(httpx.HTTPTransport):
    """httpx's transport, which sends an idempotent request again when it failed
    on a reused connection before any response (the server had closed it)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(_RESENDS):
            attempt = _Attempt(request)
            request.extensions["trace"] = attempt.trace
            try:
                return super().handle_request(request)
            except _STALE:
                if not attempt.may_resend():
                    raise
            finally:
                attempt.done()
        return super().handle_request(request)


_sync_clients: dict[_Key, httpx.Client] = {}


def get_sync_http_client(**client_options: Any) -> httpx.Client:
    """The shared `httpx.Client` of this process for these options.

    `httpx.Client` is thread-safe, so one per process and option set serves every
    thread. It is never built at import time, and a forked child builds its own
    (sockets inherited across a fork are shared with the parent). A client found
    closed is replaced.

    Options are client-level keyword arguments of `httpx.Client` with hashable
    values (`verify=False`, `http2=True`, `base_url=...`); pass headers, params,
    auth and timeouts on each request.
    """
    key = _options_key("get_sync_http_client", client_options)
    client = _sync_clients.get(key)
    if client is not None and not client.is_closed:
        return client
    client = httpx.Client(
        **_httpx_options("get_sync_http_client", client_options, _SyncTransport)
    )
    if not _genuine(client, httpx.__name__, "get_sync_http_client"):
        return client
    with _lock:
        kept = _sync_clients.get(key)
        if kept is None or kept.is_closed:
            _sync_clients[key] = kept = client
    if kept is not client:  # another thread built one meanwhile
        client.close()
    return kept


# end section
# section: aiohttp
# ---------------------------------------------------------------------------
# aiohttp
# ---------------------------------------------------------------------------

_aiohttp_sessions: dict[object, dict[_Key, aiohttp.ClientSession]] = {}


def get_aiohttp_session(**session_options: Any) -> aiohttp.ClientSession:
    """The shared `aiohttp.ClientSession` of the running loop for these options.

    Sessions are bound to their loop and must be created inside it, so there is
    one per running loop and option set, created on first use. It uses a
    `DummyCookieJar` (no cookie crosses callers) and a `TCPConnector` sized from
    the environment (no cap on connections when unset). Options are
    `ClientSession` keyword arguments with hashable values (`base_url=...`,
    `trust_env=True`); pass headers, auth and timeouts on each request. Raises
    RuntimeError outside a running asyncio event loop.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(_NO_LOOP.format("get_aiohttp_session", "asyncio")) from None
    key: _Key = tuple(sorted(session_options.items())) if session_options else ()
    sessions = _aiohttp_sessions.get(loop)
    if sessions is not None:
        try:
            session = sessions.get(key)
        except TypeError:  # an option without a hash, see _options_key
            key = _options_key("get_aiohttp_session", session_options)
            session = sessions.get(key)
        if session is not None and not session.closed:
            return session
    key = _options_key("get_aiohttp_session", session_options)
    session = aiohttp.ClientSession(**_aiohttp_options(session_options))
    if _genuine(session, aiohttp.__name__, "get_aiohttp_session"):
        with _lock:
            _keep(loop, session)
            _aiohttp_sessions.setdefault(loop, {})[key] = session
    return session


def _aiohttp_options(options: dict[str, Any]) -> dict[str, Any]:
    for name in ("cookies", "cookie_jar"):
        if name in options:
            raise TypeError(
                f"get_aiohttp_session() keeps no cookies ({name}=), so that no "
                "caller's cookie reaches another caller; pass cookies per request"
            )
    limit = _env_cap("MAX_CONNECTIONS") or 0
    limit_per_host = _env_cap("MAX_CONNECTIONS_PER_HOST") or 0
    keepalive = _env_seconds("KEEPALIVE_EXPIRY", 15.0)
    timeout = aiohttp.ClientTimeout(
        total=_env_seconds("TIMEOUT", 300.0),
        connect=_env_seconds("POOL_TIMEOUT", None),
        sock_connect=_env_seconds("CONNECT_TIMEOUT", 30.0),
    )
    kwargs: dict[str, Any] = {"timeout": timeout}
    if "connector" not in options:
        kwargs["connector"] = _Connector(
            limit=limit, limit_per_host=limit_per_host, keepalive_timeout=keepalive
        )
    kwargs.update(options)
    kwargs["cookie_jar"] = aiohttp.DummyCookieJar()
    return kwargs


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, which looks at a kept-alive connection's socket before
    handing it out again, as httpcore and urllib3 do: one the server has closed
    (its end of file not yet read by the loop) is dropped instead of failing the
    request sent on it. New connections are not looked at: TLS session tickets
    may wait there, unread, on a healthy one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handed_out: weakref.WeakSet[Any] = weakref.WeakSet()

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        for _ in range(3):
            connection = await super().connect(req, traces, timeout)
            protocol = connection.protocol
            if protocol not in self._handed_out or not _peer_closed(connection):
                self._handed_out.add(protocol)
                return connection
            connection.close()
        return await super().connect(req, traces, timeout)


def _peer_closed(connection: Any) -> bool:
    """Whether a connection's socket has bytes or an end of file waiting."""
    transport = connection.transport
    sock = None if transport is None else transport.get_extra_info("socket")
    if sock is None:
        return False
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])  # pragma: no cover - Windows


def _abandon_aiohttp_session(session: aiohttp.ClientSession) -> None:
    """Mark a session of a closed loop as closed, without I/O (which would need
    the loop), so that neither it nor its connector warns when collected."""
    connector = session.connector
    if connector is not None:
        with contextlib.suppress(Exception):
            connector._close()
    session.detach()


def _aiohttp_stats(session: aiohttp.ClientSession) -> dict[str, int]:
    """Connections of a session's connector, read defensively (no public API)."""
    stats = {"open": 0, "idle": 0, "in_use": 0, "unreadable": 0}
    try:
        idle = getattr(session.connector, "_conns", None)
        acquired = getattr(session.connector, "_acquired", None)
        if isinstance(idle, dict) and acquired is not None:
            stats["idle"] = sum(len(conns) for conns in idle.values())
            stats["in_use"] = len(acquired)
            stats["open"] = stats["idle"] + stats["in_use"]
        else:
            stats["unreadable"] = 1
    except _READ_ERRORS:
        stats["unreadable"] = 1
    return stats


# end section
# section: requests
# ---------------------------------------------------------------------------
# requests
# ---------------------------------------------------------------------------

_requests_local = threading.local()
_requests_sessions: weakref.WeakKeyDictionary[requests.Session, str] = (
    weakref.WeakKeyDictionary()
)
"""Every thread's session and its thread, for `close_http_clients()` and the
statistics; a session leaves with its thread."""


class _RequestsAdapter(HTTPAdapter):  # type: ignore[misc, unused-ignore]
    """An `HTTPAdapter` that applies the environment's timeout to calls that give
    none (requests itself has no default timeout, and keeps none when unset), and
    sends an idempotent request once more when its connection was closed before
    any response (a kept-alive connection the server closed: the session of a
    thread keeps one per host, so the second send opens a new one)."""

    def __init__(self, default_timeout: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_timeout = default_timeout

    def send(
        self,
        request: Any,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> Any:
        if timeout is None:
            timeout = self.default_timeout
        options = {"timeout": timeout, "verify": verify, "cert": cert}
        try:
            return super().send(request, stream=stream, proxies=proxies, **options)
        except requests.ConnectionError as error:
            aborted = error.args[:1] and isinstance(
                error.args[0], urllib3.exceptions.ProtocolError
            )
            body = isinstance(request.body, (bytes, str, type(None)))
            if not (aborted and body and request.method in _IDEMPOTENT):
                raise
        return super().send(request, stream=stream, proxies=proxies, **options)


def get_requests_session() -> requests.Session:
    """The shared `requests.Session` of the calling thread.

    `requests.Session` is not documented as thread-safe (psf/requests#2766), so
    each thread has its own; a forked child builds new ones. Its cookie jar
    accepts no cookie, so nothing one call receives is sent by another (cookies
    set during one call's redirects are still followed, as requests does for a
    one-shot `requests.get`). Arguments stay on each call, as with
    `requests.get(...)`.
    """
    session: requests.Session | None = getattr(_requests_local, "session", None)
    if session is None:
        session = requests.Session()
        if not _genuine(session, requests.__name__, "get_requests_session"):
            return session
        _configure_requests_session(session)
        _requests_local.session = session
    return session


def _configure_requests_session(session: requests.Session) -> None:
    num_pools = _env_int("NUM_POOLS", 10)
    maxsize = _env_int("MAX_KEEPALIVE", 10)
    retries = _env_int("RETRIES", 0, minimum=0)
    read = _env_seconds("TIMEOUT", None)
    connect = _env_seconds("CONNECT_TIMEOUT", read)
    default_timeout = None if read is None and connect is None else (connect, read)
    # requests' own default is Retry(0, read=False); RETRIES only adds retries of
    # failed connections, as httpx's transport retries do.
    max_retries = (
        urllib3.Retry(total=retries, connect=retries, read=False, status=0, other=0)
        if retries
        else 0
    )
    session.cookies.set_policy(_no_cookie_policy())
    adapter = _RequestsAdapter(
        default_timeout,
        pool_connections=num_pools,
        pool_maxsize=maxsize,
        max_retries=max_retries,
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    with _lock:
        thread = threading.current_thread()
        _requests_sessions[session] = f"{thread.name}:{thread.ident}"


# end section
# section: requests, urllib3
def _urllib3_pool_stats(manager: object) -> dict[str, int]:
    """Idle connections kept and connections created by a PoolManager's pools.

    urllib3 does not track connections in use, so only these are reported.
    """
    stats = {"idle": 0, "created": 0, "unreadable": 0}
    try:
        pools: Any = getattr(manager, "pools", None)
        for pool_key in list(pools.keys()) if pools is not None else []:
            with contextlib.suppress(KeyError):
                pool = pools[pool_key]
                queue = getattr(getattr(pool, "pool", None), "queue", ())
                stats["idle"] += sum(1 for conn in list(queue) if conn is not None)
                stats["created"] += int(getattr(pool, "num_connections", 0))
    except _READ_ERRORS:
        stats["unreadable"] = 1
    return stats


# end section
# section: urllib3
# ---------------------------------------------------------------------------
# urllib3
# ---------------------------------------------------------------------------

_urllib3_managers: dict[_Key, urllib3.PoolManager] = {}


def get_urllib3_pool_manager(**options: Any) -> urllib3.PoolManager:
    """The shared `urllib3.PoolManager` of this process for these options.

    A PoolManager is thread-safe, so one per process and option set serves every
    thread; a forked child builds its own. Options are `PoolManager` keyword
    arguments with hashable values and win over the environment.
    """
    key = _options_key("get_urllib3_pool_manager", options)
    manager = _urllib3_managers.get(key)
    if manager is not None:
        return manager
    manager = urllib3.PoolManager(**_urllib3_options(options))
    if not _genuine(manager, urllib3.__name__, "get_urllib3_pool_manager"):
        return manager
    with _lock:
        kept = _urllib3_managers.setdefault(key, manager)
    return kept


def _urllib3_options(options: dict[str, Any]) -> dict[str, Any]:
    """PoolManager arguments: urllib3's defaults, except that 64 idle connections
    are kept per host instead of 1. With `block=False` (the default) that bound
    only decides how many connections are kept for reuse, never how many are
    opened, so it changes nothing but reuse, and it avoids urllib3's "Connection
    pool is full" warning when threads share the manager. urllib3 never expires
    an idle connection, so the bound stays near common thread counts."""
    kwargs: dict[str, Any] = {
        "num_pools": _env_int("NUM_POOLS", 10),
        "maxsize": _env_int("MAX_KEEPALIVE", 64),
    }
    retries = _env_int("RETRIES", -1, minimum=0)
    if retries >= 0:
        default = urllib3.Retry.DEFAULT
        total = default.total if isinstance(default.total, int) else 0
        kwargs["retries"] = default.new(connect=retries, total=max(total, retries))
    read = _env_seconds("TIMEOUT", None)
    connect = _env_seconds("CONNECT_TIMEOUT", read)
    if read is not None or connect is not None:
        kwargs["timeout"] = urllib3.Timeout(connect=connect, read=read)
    kwargs.update(options)
    return kwargs


# end section
# ---------------------------------------------------------------------------
# Shutdown, tests and metrics
# ---------------------------------------------------------------------------


async def aclose_http_clients() -> None:
    """Close the clients that can be closed from here, and forget them; never
    raises (a client that fails to close is forgotten all the same).

    That is every async client and aiohttp session of the running event loop
    (clients of another running loop are bound to it: they are closed when that
    loop shuts down, or by calling this function there), and every sync client,
    requests session and urllib3 pool manager. The next accessor call builds new
    ones. Call it at shutdown, or use `lifespan`.
    """
    # section: httpx-async, aiohttp
    loop = _running_loop()
    if loop is not None:
        await _aclose_loop(loop)
    with _lock:
        _forget_closed_loops()
    # end section
    close_http_clients()


def close_http_clients() -> None:
    """Close every sync client, requests session and urllib3 pool manager, and
    forget them; the next accessor call builds new ones. Never raises. Async
    clients need their loop: use `aclose_http_clients()` for them."""
    with _lock:
        closing = _take_sync_clients()
    _close_each(closing)


def _take_sync_clients() -> list[Callable[[], object]]:
    """Forget every sync client; their close functions. The caller holds `_lock`."""
    closing: list[Callable[[], object]] = []
    # section: httpx-sync
    closing.extend(client.close for client in _sync_clients.values())
    _sync_clients.clear()
    # end section
    # section: requests
    global _requests_local
    closing.extend(session.close for session in list(_requests_sessions))
    _requests_sessions.clear()
    _requests_local = threading.local()
    # end section
    # section: urllib3
    closing.extend(manager.clear for manager in _urllib3_managers.values())
    _urllib3_managers.clear()
    # end section
    return closing


# section: httpx-sync, requests, urllib3
def _close_at_exit() -> None:
    """Close the sync clients when the interpreter exits, so their sockets are
    released cleanly even in scripts that never call `close_http_clients()`.

    It never waits: when another thread holds the lock (a daemon thread still
    busy at exit), the clients are left to the operating system, which closes
    their sockets as the process ends."""
    if not _lock.acquire(blocking=False):
        return
    try:
        closing = _take_sync_clients()
    finally:
        _lock.release()
    _close_each(closing)


atexit.register(_close_at_exit)
# end section


def reset_http_clients() -> None:
    """Forget every client, so that the next accessor call builds a new one: the
    test fixture of the module docstring. Sync clients are closed; async clients
    are closed when their event loop shuts down. Never raises."""
    with _lock:
        closing = _take_sync_clients()
        _async_clients.clear()  # section: httpx-async
        _aiohttp_sessions.clear()  # section: aiohttp
    _close_each(closing)


@contextlib.asynccontextmanager
async def lifespan(app: object) -> AsyncIterator[None]:
    """A FastAPI/Starlette `lifespan` that closes every client at shutdown.

    Use `FastAPI(lifespan=lifespan)`, or enter it from your own lifespan with
    `async with lifespan(app): yield`.
    """
    try:
        yield
    finally:
        await aclose_http_clients()


def http_client_stats() -> dict[str, dict[str, int]]:
    """Connections per client, for logs and metrics.

    Keys name the client and its options (values that could hold a secret are
    masked), for example `httpx-async[loop=0x7f...,verify=False]`. Values count
    connections `open`, `idle` and `in_use` where the library lets them be read,
    and `unreadable` transports or pools (custom transports, future versions).
    Reading never raises.
    """
    stats: dict[str, dict[str, int]] = {}
    with _lock:
        # section: httpx-async
        for loop, clients in _async_clients.items():
            for key, client in clients.items():
                if not client.is_closed:
                    name = _describe("httpx-async", key, f"loop={id(loop):#x}")
                    stats[name] = _httpx_pool_stats(client)
        # end section
        # section: httpx-sync
        for key, sync_client in _sync_clients.items():
            if not sync_client.is_closed:
                stats[_describe("httpx-sync", key)] = _httpx_pool_stats(sync_client)
        # end section
        # section: aiohttp
        for loop, sessions in _aiohttp_sessions.items():
            for key, session in sessions.items():
                if not session.closed:
                    name = _describe("aiohttp", key, f"loop={id(loop):#x}")
                    stats[name] = _aiohttp_stats(session)
        # end section
        # section: requests
        for requests_session, thread in list(_requests_sessions.items()):
            session_stats: dict[str, int] = {}
            adapters = {id(a): a for a in requests_session.adapters.values()}
            for adapter in adapters.values():
                manager = getattr(adapter, "poolmanager", None)
                for field, value in _urllib3_pool_stats(manager).items():
                    session_stats[field] = session_stats.get(field, 0) + value
            stats[f"requests[thread={thread}]"] = session_stats
        # end section
        # section: urllib3
        for key, manager in _urllib3_managers.items():
            stats[_describe("urllib3", key)] = _urllib3_pool_stats(manager)
        # end section
    return stats


def _after_fork_in_child() -> None:
    """Forget every client in a forked child (gunicorn --preload, multiprocessing).

    Sockets inherited across a fork are shared with the parent, so the child must
    open its own connections. The parent's clients are not closed here: that could
    tear down connections the parent still uses. The lock is replaced because
    another thread of the parent may have held it at the time of the fork.
    """
    global _lock
    _lock = threading.Lock()
    # section: httpx-async, aiohttp
    _owned.clear()
    _async_clients.clear()  # section: httpx-async
    _aiohttp_sessions.clear()  # section: aiohttp
    # end section
    _sync_clients.clear()  # section: httpx-sync
    # section: requests
    global _requests_local
    _requests_sessions.clear()
    _requests_local = threading.local()
    # end section
    _urllib3_managers.clear()  # section: urllib3


if sys.platform != "win32":
    os.register_at_fork(after_in_child=_after_fork_in_child)

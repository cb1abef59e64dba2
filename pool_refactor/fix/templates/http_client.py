# Template of the shared HTTP client module that pool-refactor generates.
# pool-refactor: template
#
# This file is the real, tested source of the generated module. Lines between
# `# section: NAME[, NAME...]` and `# end section`, and lines that end with
# `# section: NAME[, NAME...]`, are kept only when one of the named sections
# is rendered. The generator replaces these header comments (up to the first
# blank line) with its own header, substitutes the environment prefix and the
# httpx module name, and strips the markers. The generated module must pass
# a project's own gates whatever they are, so: lines of at most 79 columns,
# formatted so that black and ruff format leave it alone at any line length
# (a statement fits on one line, or its brackets end with a magic trailing
# comma), a docstring on every function, class and method (imperative summary
# line), no bare `Any` parameter, messages assigned before they are raised, and
# every branch reachable in every rendering (tests/test_generated_gates.py).

"""Shared, pooled HTTP clients for this package.

Opening a client for every call costs an SSL context (tens of milliseconds of
CPU), a TCP and a TLS handshake, and a DNS lookup, and no connection is ever
reused. The accessors below hand out one long-lived client instead:

# section: httpx-async, aiohttp
* one per running event loop for async clients, because an async client is
  bound to the loop it first ran on (reusing it under another loop fails with
  "Event loop is closed");
# end section
# section: httpx-async
* for httpx under trio (through anyio), one per `trio.run()`;
# end section
# section: httpx-sync, urllib3
* one per process for thread-safe sync clients, rebuilt in a forked child
  because sockets inherited across a fork are shared with the parent;
# end section
# section: requests
* one per thread for `requests.Session`, which is not documented as
  thread-safe.
# end section

Clients are keyed by the keyword arguments given to the accessor (hashable
literals such as `verify=False`). None of them keeps cookies between
requests: a cookie that one caller receives must never be sent on behalf of
another caller. Per-request headers and auth stay on each request.
# section: httpx-async, httpx-sync, aiohttp, urllib3

Each accessor keeps at most HTTP_CLIENT_MAX_POOLS option sets (per event
loop for async clients). Past that, the least recently used pool is evicted:
forgotten, and its connections closed once no request uses them. A caller
that still holds an evicted client can go on using it; each request then
opens a connection that is closed after it. The first eviction warns: an
option whose value is new on every call (an `ssl.SSLContext` built per call)
keys a new pool each time, so build such a value once.
# end section
# section: httpx-async, httpx-sync
An evicted httpx pool closes when no request is in flight on it and no
client of your own that borrows it (`transport=`) is still open.
# end section
# section: aiohttp
An evicted aiohttp session closes its idle connections at once and each
busy one when its request ends; it is closed with its loop if still held.
# end section

Sharing adds no wait and no failure that a client per call did not have:

* There is no cap on connections, so a host that stalls never delays a
  request to another host and nothing queues for the pool.
* Up to 100 callers at once keep their connections alive.
* An idempotent request (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) with its
  body in memory that fails on a kept-alive connection the server has just
  closed, before any response, is sent again.
# section: aiohttp
  aiohttp sends it again once, and on a new connection: a server that
  closed one kept-alive connection may be closing the others too.
# end section

Sizes and timeouts come from environment variables, read when a client is
built. Unset, the client library's own default applies, except for the
points above:

HTTP_CLIENT_MAX_CONNECTIONS
    connections per client (unset, `0` or `none`: no cap)
HTTP_CLIENT_MAX_CONNECTIONS_PER_HOST
    aiohttp's `limit_per_host` (none)
HTTP_CLIENT_MAX_KEEPALIVE
    idle connections kept (httpx: 100; urllib3: 64 per host; requests: 10
    per host and thread; aiohttp keeps all until they expire)
HTTP_CLIENT_NUM_POOLS
    hosts with a pool of their own (requests, urllib3: 10)
HTTP_CLIENT_KEEPALIVE_EXPIRY
    seconds an idle connection is kept (httpx: 5; aiohttp: 15)
HTTP_CLIENT_TIMEOUT
    seconds (httpx: 5 each for connect, read and write; aiohttp: 300 in
    total; requests, urllib3: none)
HTTP_CLIENT_CONNECT_TIMEOUT
    seconds to connect (TIMEOUT's value; aiohttp: 30)
HTTP_CLIENT_POOL_TIMEOUT
    with a cap, seconds to wait for a free connection (httpx: 60)
HTTP_CLIENT_HTTP2
    1/0, true/false, yes/no or on/off (off; without the h2 package, a
    warning and HTTP/1.1)
HTTP_CLIENT_RETRIES
    retries of a failed connection attempt (0)
# section: httpx-async, httpx-sync, aiohttp, urllib3
HTTP_CLIENT_MAX_POOLS
    option sets (pools) kept per accessor, and per event loop for async
    clients, before the least recently used is evicted (16)
# end section

Seconds accept `none` (no limit). A bad value raises `ValueError` naming the
variable and the value.
# section: settings-pydantic
The application's pydantic-settings class declares each variable as a field
(its name in lower case), so `.env` and the environment reach the module
through it, validated with the application's other settings. A variable
its settings leave unset (or settings that cannot be loaded, as in a script
run without the application's environment) is read from the environment.
# end section
# section: settings-django
Django's `settings` (HTTP_CLIENT_MAX_CONNECTIONS = 20 in settings.py) win
over the environment, which applies to what they leave unset and when
Django is not configured.
# end section

Call `aclose_http_clients()` (async) or `close_http_clients()` at shutdown,
or pass `lifespan` to FastAPI/Starlette; neither ever raises.
`http_client_stats()` counts the connections of every client.
# section: httpx-async, httpx-sync, aiohttp, urllib3
Its entry `pools` counts the pools `kept`, `evicted` and `closed` after
eviction, and the cap (`max`).
# end section
# section: metrics-prometheus
Prometheus reads the pools from the default registry at each scrape: the
gauges `<_METRIC_PREFIX>_connections_in_use`, `_idle`, `_open`, `_max` and
`_waiting` per client, and `<_METRIC_PREFIX>_clients` per event loop.
# end section
# section: httpx-async, aiohttp
Async clients are also closed when their event loop shuts down through
`asyncio.run()` or `asyncio.Runner`.
# end section
# section: aiohttp
A session of your own shares the pool and keeps everything else (cookies,
headers, auth, timeout) with `connector=get_aiohttp_connector()` and
`connector_owner=False`.
# end section
# section: httpx-async
A client of your own shares the pool and keeps everything else with
`httpx.AsyncClient(..., transport=get_http_transport())`.
# end section
# section: httpx-sync
A client of your own shares the pool and keeps everything else with
`httpx.Client(..., transport=get_sync_http_transport())`.
# end section
# section: requests
`borrow_requests_session()` is a new session of your own (its cookies,
headers, auth) that sends through the thread's shared pool.
# end section

A client class patched in a test (`mock.patch("httpx.AsyncClient")`) is
honoured, but what it returns is never kept. To mock the shared client,
patch the accessor where the code under test imports it. This fixture gives
every test fresh clients:

    @pytest.fixture(autouse=True)
    def _fresh_http_clients():
        http_client.reset_http_clients()
        yield  # the test runs here
        http_client.reset_http_clients()

Generated by pool-refactor; pool-refactor never overwrites an edited copy.
"""

from __future__ import annotations

import asyncio  # section: httpx-async, aiohttp
import atexit  # section: httpx-sync, requests, urllib3
import collections  # section: httpx-async, httpx-sync
import contextlib
import contextvars  # section: aiohttp
import http.cookiejar  # section: httpx-async, httpx-sync, requests
import importlib  # section: settings-pydantic, settings-django
import importlib.util  # section: httpx-async, httpx-sync
import itertools  # section: httpx-async, httpx-sync, aiohttp, urllib3
import os
import select  # section: aiohttp
import sys
import threading
import urllib.request  # section: httpx-async, httpx-sync
import warnings
import weakref  # section: httpx-async, httpx-sync, aiohttp, requests
from typing import (
    TYPE_CHECKING,
    Any,
    NamedTuple,  # section: httpx-async, httpx-sync, aiohttp, urllib3
    TypeVar,  # section: httpx-async, httpx-sync, aiohttp, urllib3
    cast,  # section: httpx-async, httpx-sync, requests, aiohttp
)

import aiohttp  # section: aiohttp
import aiohttp.client_proto  # section: aiohttp
import httpx  # section: httpx-async, httpx-sync
import prometheus_client.core  # section: metrics-prometheus
import requests.adapters  # type: ignore[import-untyped, unused-ignore]  # section: requests
import urllib3  # section: requests, urllib3

if TYPE_CHECKING:
    from collections.abc import (
        AsyncGenerator,
        Awaitable,  # section: aiohttp
        Callable,
        Iterator,  # section: httpx-sync
    )

__all__ = [
    "aclose_http_clients",
    "borrow_requests_session",  # section: requests
    "close_http_clients",
    "get_aiohttp_connector",  # section: aiohttp
    "get_aiohttp_session",  # section: aiohttp
    "get_http_client",  # section: httpx-async
    "get_http_transport",  # section: httpx-async
    "get_requests_session",  # section: requests
    "get_sync_http_client",  # section: httpx-sync
    "get_sync_http_transport",  # section: httpx-sync
    "get_urllib3_pool_manager",  # section: urllib3
    "http_client_stats",
    "lifespan",
    "reset_http_clients",
]

_ENV_PREFIX = "HTTP_CLIENT_"
"""Prefix of the environment variables, fixed when the module was made."""

_Key = tuple[tuple[str, Any], ...]
"""Registry key: the accessor's keyword arguments, sorted by name."""

_lock = threading.Lock()
"""Guard every registry change.

It is held to read or change a registry only, never while a client is built
or closed, so no thread waits for another's I/O. Lookups on the hot path take
no lock: a dict read is atomic, and a miss falls through to the slow path.
"""

_TRUE = frozenset({"1", "true", "yes", "on"})  # section: httpx-async, httpx-sync
_FALSE = frozenset({"0", "false", "no", "off"})  # section: httpx-async, httpx-sync
_UNLIMITED = frozenset({"none", "off", "inf"})
_PLAIN = (bool, int, float, type(None))  # section: httpx-async, httpx-sync, aiohttp, urllib3
_MAPPINGS = (dict,)  # section: httpx-async, httpx-sync, aiohttp, urllib3


def _env(name: str) -> str | None:
    """Return the raw value of `<prefix><name>`; None when unset or blank."""
    raw = os.environ.get(_ENV_PREFIX + name, "")
    # section: settings-pydantic, settings-django
    setting = _app_setting(_ENV_PREFIX + name)
    if setting is not None:
        raw = str(setting)
    # end section
    return raw.strip().lower() or None


# section: settings-pydantic, settings-django
_APP_SETTINGS = "types:SimpleNamespace()"
"""The application's settings: `module:object` or `module:accessor()`."""


def _app_setting(variable: str) -> object:
    """Return the application's value of `variable`; None when unset.

    The settings are looked up when a client is built, never when this
    module is imported, so a settings module that imports this one makes no
    import cycle, and the values are the ones the application runs with.
    Settings that cannot be loaded here (a script or a test run without the
    application's environment) leave the environment in charge: the client
    per call that this module replaced never needed them, and the
    application reports its own settings' errors when it loads them.
    """
    module, _, name = _APP_SETTINGS.partition(":")
    settings: Any = None
    with contextlib.suppress(Exception):
        found = getattr(importlib.import_module(module), name.strip("()"))
        settings = found() if name.endswith("()") else found
    # section: settings-django
    if not getattr(settings, "configured", True):
        return None  # Django is not set up here: the environment applies
    # end section
    # section: settings-pydantic
    variable = variable.lower()  # the settings class's field
    # end section
    return getattr(settings, variable, None)


# end section


def _invalid(name: str, raw: str, expected: str) -> ValueError:
    """Return the error for a variable whose value is not `expected`."""
    return ValueError(f"{_ENV_PREFIX}{name}={raw!r} is not {expected}")


def _env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """Read an integer variable of at least `minimum` (1 or 0)."""
    raw = _env(name)
    if raw is None:
        return default
    value = int(raw) if raw.isdecimal() else -1
    if value < minimum:
        expected = "a positive" if minimum else "a non-negative"
        raise _invalid(name, raw, f"{expected} integer")
    return value


# section: httpx-async, httpx-sync, aiohttp
def _env_cap(name: str) -> int | None:
    """Read a cap on connections; unset, `0` and `none` mean no cap."""
    if _env(name) in _UNLIMITED:
        return None
    return _env_int(name, 0, minimum=0) or None


# end section
def _env_seconds(name: str, default: float | None) -> float | None:
    """Read a duration in seconds; `none` (`off`, `inf`) means no limit."""
    raw = _env(name)
    if raw is None:
        return default
    if raw in _UNLIMITED:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):  # also rejects NaN
        expected = "a positive number of seconds or 'none'"
        raise _invalid(name, raw, expected)
    return value


# section: httpx-async, httpx-sync
def _env_bool(name: str, *, default: bool) -> bool:
    """Read a boolean variable (1/0, true/false, yes/no, on/off)."""
    raw = _env(name)
    if raw is None or raw in _TRUE | _FALSE:
        return default if raw is None else raw in _TRUE
    raise _invalid(name, raw, "a boolean (1/0, true/false, yes/no, on/off)")


# end section
# section: httpx-async, httpx-sync, aiohttp, urllib3
class _ByRepr(NamedTuple):
    """The key of an option value that has no hash: its type and repr."""

    type_name: str
    text: str


def _options_key(accessor: str, options: dict[str, object]) -> _Key:
    """Return the registry key of an option set.

    Values that define equality but no hash, such as `httpx.Limits(...)`
    or a `cert=` list read from a configuration file, are keyed by their
    repr, which shows every field. Mappings are refused: pass headers,
    params and the like on each request instead. Sorting never compares
    values: the names are distinct.
    """
    key = tuple(sorted(options.items()))
    try:
        hash(key)
    except TypeError:
        key = tuple((name, _freeze(accessor, value)) for name, value in key)
    return key


def _freeze(accessor: str, value: object) -> object:
    """Return `value`, or a hashable stand-in that names it by its repr."""
    if isinstance(value, _MAPPINGS):
        message = (
            f"{accessor}() options must be hashable literals (such as "
            "verify=False); pass mappings such as headers on each request"
        )
        raise TypeError(message)
    try:
        hash(value)
    except TypeError:
        kind = type(value)
        return _ByRepr(f"{kind.__module__}.{kind.__qualname__}", repr(value))
    return value


def _describe(kind: str, key: _Key, *extra: str) -> str:
    """Name one client for logs: values that may hold a secret are masked."""
    parts = list(extra)
    for name, value in key:
        shown = f"<{type(value).__name__}>"
        if isinstance(value, _PLAIN):
            shown = repr(value)
        elif isinstance(value, str):
            scheme, sep, rest = value.partition("://")
            host, slash, path = rest.partition("/")
            host = "***@" + host.rpartition("@")[2] if "@" in host else host
            shown = repr(scheme + sep + host + slash + path)
        elif isinstance(value, _ByRepr):
            shown = f"<{value.type_name.rpartition('.')[2]}>"
        parts.append(f"{name}={shown}")
    return f"{kind}[{','.join(parts)}]"


_T = TypeVar("_T")

_MAX_POOLS = 16
"""Option sets kept per accessor and loop when HTTP_CLIENT_MAX_POOLS is unset.

Options come from literals and settings, so a package has a few per
accessor (verify on or off, a CA bundle, HTTP/2): 16 leaves room for all of
them, while a value that is new on every call (an SSL context built per
call) keeps at most 16 pools of idle connections open instead of one more
per call.
"""

_ticks = itertools.count()
"""The clock that orders the kept pools by their last use."""

_pool_counts = {"evicted": 0, "closed": 0}
"""Pools evicted past the cap, and evicted pools closed since then."""


class _Pools(dict[_Key, _T]):
    """One accessor's clients by option set, at most HTTP_CLIENT_MAX_POOLS.

    A hit stamps its key in `used` with the next tick of `_ticks` (inline
    in the accessors, the cheapest form) and takes no lock:
    `next()` on a count and a dict store are atomic. Recency is therefore
    approximate only where a hit races with another thread's miss: the hit
    may be lost, or its client evicted just after it was handed out. Neither
    is noticed by the holder, since an evicted client keeps working.
    """

    __slots__ = ("used",)

    def __init__(self) -> None:
        """Start empty."""
        super().__init__()
        self.used: dict[_Key, int] = {}

    def trim(self, cap: int) -> list[_T]:
        """Forget the least recently used clients past `cap`; return them.

        The caller holds `_lock`, so only hits change `used` meanwhile. Keys
        forgotten otherwise (`reset_http_clients()`) leave `used` here.
        """
        used = {key: self.used.get(key, -1) for key in self}
        oldest = sorted(used, key=used.__getitem__)[: max(len(used) - cap, 0)]
        evicted = [self.pop(key) for key in oldest]
        self.used = {key: used[key] for key in self}
        _pool_counts["evicted"] += len(evicted)
        return evicted


def _max_pools() -> int:
    """Read HTTP_CLIENT_MAX_POOLS, the option sets kept per accessor."""
    return _env_int("MAX_POOLS", _MAX_POOLS)


def _warn_evicted(accessor: str, cap: int, evicted: int) -> None:
    """Warn, once per accessor, that it evicted a pool, and why it may."""
    once = f"{accessor}() evicted"
    if evicted and once not in _warned:
        _warned.add(once)
        message = (
            f"{accessor}() keeps {cap} option sets ({_ENV_PREFIX}MAX_POOLS) "
            "and evicted the least recently used pool; an option whose value "
            "is new on every call (such as an ssl.SSLContext built per call) "
            "keys a new pool each time: build it once and pass the same "
            f"object, or raise {_ENV_PREFIX}MAX_POOLS"
        )
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _note_closed() -> None:
    """Count an evicted pool whose connections were closed."""
    with _lock:
        _pool_counts["closed"] += 1


# end section
_warned: set[str] = set()
"""Accessors that have warned, about a patched client class or an eviction.

Each warns once.
"""


def _genuine(client: object, library: str, accessor: str) -> bool:
    """Tell whether `client` is the library's own, so that it may be kept.

    A test that patched the class (`mock.patch("httpx.AsyncClient")`) gets
    what the patch returns, never kept: a kept mock would outlive the patch
    and reach the next test.
    """
    if type(client).__module__.partition(".")[0] == library:
        return True
    if accessor not in _warned:
        _warned.add(accessor)
        warnings.warn(
            f"{accessor}() got a {type(client).__name__} from a patched "
            "client class and returns it without keeping it; to mock the "
            f"shared client, patch {accessor} where the code under test "
            "imports it",
            RuntimeWarning,
            stacklevel=3,
        )
    return False


# section: httpx-sync, requests, urllib3
def _close_each(closing: list[Callable[[], object]]) -> None:
    """Call every close function; one that fails is forgotten all the same.

    Closing is for shutdown and tests, where an error helps no one.
    """
    for close in closing:
        with contextlib.suppress(Exception):
            close()


# end section
_READ_ERRORS = (AttributeError, LookupError, TypeError, ValueError)
"""What reading another library's internals for statistics may raise."""


# section: httpx-async, httpx-sync, requests
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods sent again when a kept-alive connection turns out closed."""


def _no_cookie_policy() -> http.cookiejar.DefaultCookiePolicy:
    """Return a cookie policy that accepts no cookie from any domain.

    A shared client serves every caller of the process, so a cookie that one
    response sets must never be sent with another caller's request. httpx
    has no switch to turn its cookie jar off (encode/httpx#2992); a jar with
    this policy stores nothing. Cookies passed on a request are still sent.
    """
    return http.cookiejar.DefaultCookiePolicy(allowed_domains=())


# end section
# section: httpx-async, aiohttp
_NO_LOOP = "{}() needs a running {} event loop: call it from a coroutine"

# Two type arguments, for mypy before PEP 696's defaults; the second is not
# None, which ruff's UP043 would drop for Python 3.13.
_watchers: dict[object, AsyncGenerator[None, object]] = {}
"""One suspended async generator per loop that has clients (see `_keep`)."""

_owned: dict[object, list[Any]] = {}
"""Every async client built on a loop, forgotten ones too.

Each is closed when its loop shuts down.
"""

_retired: dict[object, weakref.WeakSet[Any]] = {}
"""The evicted async clients of each loop that someone may still hold.

They are closed when their loop shuts down, unless collected before.
"""


def _retire_owned(loop: object, evicted: list[Any]) -> None:
    """Hold clients evicted on `loop` weakly. The caller holds `_lock`.

    An evicted client keeps no idle connection, so nothing is lost when its
    last holder drops it.
    """
    owned = _owned[loop]
    owned[:] = [kept for kept in owned if all(kept is not e for e in evicted)]
    _retired.setdefault(loop, weakref.WeakSet()).update(evicted)


def _keep(loop: object, client: object) -> None:
    """Close `client` when `loop` shuts down. The caller holds `_lock`.

    `asyncio.run()`, `asyncio.Runner`, uvloop and `trio.run()` finalize the
    async generators still alive when they end. One first iterated while the
    loop runs is registered with it, so the `finally` block of
    `_close_at_shutdown` runs in the still-running loop, where clients close
    cleanly. Advancing the generator by hand needs no `await` and no task.
    """
    if loop not in _watchers:
        _forget_closed_loops()
        watcher = _close_at_shutdown(loop, os.getpid())
        # A coroutine, which older typesheds (mypy 1.8) call an Awaitable.
        step: Any = watcher.asend(None)
        with contextlib.suppress(StopIteration):
            step.send(None)
        _watchers[loop] = watcher
    owned = _owned.setdefault(loop, [])
    # Drop the clients someone closed (`async with get_http_client()`),
    # which were replaced: a long-running loop must not collect them.
    owned[:] = [kept for kept in owned if not _closed(kept)]
    owned.append(client)


def _is_httpx(client: object) -> bool:
    """Tell an httpx client (closed by `aclose()`) from an aiohttp session."""
    return type(client).__module__.startswith("httpx")


def _closed(client: object) -> bool:
    """Tell whether an httpx client or an aiohttp session is closed."""
    closed = getattr(client, "is_closed", None)
    return bool(getattr(client, "closed", closed))


async def _close_at_shutdown(
    loop: object,
    pid: int,
) -> AsyncGenerator[None, object]:
    """Wait, suspended, for `loop` to shut down; then close its clients.

    A forked child must not close the parent's clients.
    """
    try:
        yield
    finally:
        with _lock:
            _watchers.pop(loop, None)
        await _aclose_loop(loop if os.getpid() == pid else None)


def _forget_closed_loops() -> None:
    """Drop the clients of loops closed without `shutdown_asyncgens()`.

    Their connections cannot be closed any more, since that needs the loop.
    The caller holds `_lock`.
    """
    for loop in list(_watchers):
        if isinstance(loop, asyncio.AbstractEventLoop) and loop.is_closed():
            del _watchers[loop]
            _async_clients.pop(loop, None)  # section: httpx-async
            _aiohttp_sessions.pop(loop, None)  # section: aiohttp
            _aiohttp_connectors.pop(loop, None)  # section: aiohttp
            _abandon([*_owned.pop(loop, []), *_retired.get(loop, ())])  # section: aiohttp
            _owned.pop(loop, None)
            _retired.pop(loop, None)


async def _aclose_loop(loop: object) -> None:
    """Close every client of `loop`, the running loop; never raise."""
    with _lock:
        owned = [*_owned.pop(loop, []), *_retired.pop(loop, ())]
        _async_clients.pop(loop, None)  # section: httpx-async
        _aiohttp_sessions.pop(loop, None)  # section: aiohttp
        _aiohttp_connectors.pop(loop, None)  # section: aiohttp
    for client in owned:
        with contextlib.suppress(Exception):
            await (client.aclose() if _is_httpx(client) else client.close())


def _running_loop() -> object | None:
    """Return what an async client is bound to, or None outside a loop.

    That is the running asyncio loop, or the token of the running
    `trio.run()` (httpx runs on trio through anyio).
    """
    with contextlib.suppress(RuntimeError):
        return asyncio.get_running_loop()
    # section: httpx-async
    trio: Any = sys.modules.get("trio")
    with contextlib.suppress(AttributeError, RuntimeError):
        token: object = trio.lowlevel.current_trio_token()
        return token
    # end section
    return None


# end section
# section: httpx-async, httpx-sync
_POOL_OPTIONS = ("verify", "cert", "trust_env", "http1", "http2", "limits")
"""Client options that configure the pool: the transport receives them."""

_STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
"""What httpx raises for a request sent on a connection the server closed."""

_RESENDS = 3
"""Sends beyond the first, each after a failure on a reused connection."""


def _h2_available() -> bool:
    """Tell whether the `h2` package (HTTP/2 for httpx) can be imported."""
    return importlib.util.find_spec("h2") is not None


class _Attempt:
    """One send of a request through a pool.

    httpcore's trace extension tells whether it opened a connection; if not,
    it used a kept-alive one, which the server may have closed meanwhile.
    """

    def __init__(self, request: httpx.Request) -> None:
        """Watch the next send of `request`, chaining any trace it has."""
        self.request = request
        self.opened = False
        self.chained = request.extensions.get("trace")

    # section: httpx-sync
    def trace(self, name: str, info: dict[str, Any]) -> None:
        """Note a new connection; call the request's own trace."""
        self.opened = self.opened or name.startswith("connection.connect_")
        if self.chained is not None:
            self.chained(name, info)

    # end section
    # section: httpx-async
    async def atrace(self, name: str, info: dict[str, Any]) -> None:
        """Note a new connection; await the request's own trace."""
        self.opened = self.opened or name.startswith("connection.connect_")
        if self.chained is not None:
            await self.chained(name, info)

    # end section
    def may_resend(self) -> bool:
        """Tell whether a request that failed may be sent again.

        It may when it failed on a reused connection, its method is
        idempotent and its body is held in memory.
        """
        body = self.request.stream
        idempotent = self.request.method in _IDEMPOTENT
        in_memory = isinstance(body, httpx.ByteStream)
        return not self.opened and idempotent and in_memory

    def done(self) -> None:
        """Give the request its own trace back."""
        self.request.extensions.pop("trace", None)
        if self.chained is not None:
            self.request.extensions["trace"] = self.chained


def _httpx_options(
    accessor: str,
    options: dict[str, object],
    transport: Callable[..., object],
) -> dict[str, Any]:
    """Return keyword arguments for a new httpx client.

    The environment gives the defaults (httpx's own when a variable is
    unset, except for the limits) and the caller's options win. Every
    variable is validated even when an option overrides it. The pool is a
    `transport` unless the options give one.
    """
    if "cookies" in options:
        message = f"{accessor}() keeps no cookies, so that no caller's cookie"
        message += " reaches another caller; send a Cookie header instead"
        raise TypeError(message)
    timeout = _env_seconds("TIMEOUT", 5.0)
    connect = _env_seconds("CONNECT_TIMEOUT", timeout)
    pool = _env_seconds("POOL_TIMEOUT", 60.0)
    keepalive = _env_int("MAX_KEEPALIVE", 100, minimum=0)
    kwargs: dict[str, Any] = {
        "timeout": httpx.Timeout(timeout, connect=connect, pool=pool),
        "limits": httpx.Limits(
            max_connections=_env_cap("MAX_CONNECTIONS"),
            max_keepalive_connections=keepalive,
            keepalive_expiry=_env_seconds("KEEPALIVE_EXPIRY", 5.0),
        ),
        "http2": _env_bool("HTTP2", default=False),
    }
    retries = _env_int("RETRIES", 0, minimum=0)
    if kwargs["http2"] and not _h2_available():
        kwargs["http2"] = False
        message = f"{_ENV_PREFIX}HTTP2 is on but the h2 package is missing;"
        message += " using HTTP/1.1 (install httpx[http2] for HTTP/2)"
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    kwargs.update(options)
    # httpx keeps a CookieJar as is (Cookies would be copied into a jar with
    # the default policy).
    kwargs["cookies"] = http.cookiejar.CookieJar(policy=_no_cookie_policy())
    if "transport" not in kwargs:
        # The client still uses the pool options for proxy transports.
        pooled = {n: kwargs[n] for n in _POOL_OPTIONS if n in kwargs}
        kwargs["transport"] = transport(retries=retries, **pooled)
    return kwargs


def _httpx_pool_stats(client: object) -> dict[str, int]:
    """Count the connections of an httpx client's transports.

    httpcore has no public statistics (encode/httpcore#861), so this reads
    `client._transport._pool.connections` defensively: a custom transport or
    a mount without a readable pool counts as `unreadable`, never an error.
    """
    stats = {"open": 0, "idle": 0, "in_use": 0, "unreadable": 0}
    mounts: Any = getattr(client, "_mounts", None)
    found = [getattr(client, "_transport", None), *dict(mounts or {}).values()]
    for transport in [found for found in found if found is not None]:
        pool = getattr(transport, "_pool", None)
        connections: Any = getattr(pool, "connections", None)
        try:
            states = [(c.is_closed(), c.is_idle()) for c in connections]
        except _READ_ERRORS:
            stats["unreadable"] += 1
            continue
        for closed, idle in states:
            stats["open"] += not closed
            stats["idle"] += not closed and idle
            stats["in_use"] += not closed and not idle
    return stats


def _env_proxies(options: dict[str, object]) -> bool:
    """Tell whether a client would take a proxy from the environment.

    httpx reads HTTP_PROXY, HTTPS_PROXY and ALL_PROXY (through
    `urllib.request.getproxies()`) only for a client with `trust_env=True`
    and no `transport=`. A client given a borrowed transport would ignore
    them, so where one is set the borrowing accessors return None and the
    client builds its own transport and proxies, as it did before.
    """
    if not options.get("trust_env", True):
        return False
    # Elsewhere the system's settings count too; here only the environment
    # does, and reading its names is 20 times faster than getproxies().
    if sys.platform in {"darwin", "win32"}:  # pragma: no cover - not here
        named = True
    else:
        named = any(name[-6:].lower() == "_proxy" for name in os.environ)
    proxies = urllib.request.getproxies() if named else {}
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


class _Usage:
    """What uses one shared httpx pool, so that an evicted one can close.

    Requests count from their send to the close of their response, and
    borrowers (`_Borrowed*Transport`) until they are closed or collected.
    A deque's append and pop are atomic, so a request takes no lock.
    """

    def __init__(self) -> None:
        """Count no use yet."""
        self.requests: collections.deque[None] = collections.deque()
        self.borrowers: weakref.WeakSet[object] = weakref.WeakSet()
        self.evicted = False
        self.closed = False
        self.lock = threading.Lock()

    def unused(self) -> bool:
        """Tell whether the pool was evicted and nothing uses it now."""
        busy = bool(self.requests) or len(self.borrowers) > 0
        return self.evicted and not busy

    def count_close(self) -> None:
        """Count the first close of the evicted pool."""
        if not self.closed:
            self.closed = True
            _note_closed()


# end section
# section: httpx-async
class _AsyncTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, which resends a request that met a stale socket.

    An idempotent request that failed on a reused connection before any
    response (the server had closed it) is sent again.
    """

    def __init__(self, **options: object) -> None:
        """Build the pool; count its use from now on."""
        init = cast("Callable[..., None]", super().__init__)
        init(**options)
        self.usage = _Usage()

    async def handle_async_request(
        self,
        request: httpx.Request,
    ) -> httpx.Response:
        """Send `request`; count it in flight until its response closes."""
        self.usage.requests.append(None)
        try:
            response = await self._resend(request)
        except BaseException:
            self._done()
            raise
        stream = cast("httpx.AsyncByteStream", response.stream)
        response.stream = _AsyncBody(stream, self._done)
        return response

    async def _resend(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, again if it failed on a reused connection."""
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

    def _done(self) -> None:
        """Count a request out; an evicted pool then closes if unused."""
        self.usage.requests.pop()
        if self.usage.evicted:
            _soon(self.close_if_unused)

    def retire(self) -> None:
        """Close the pool once nothing uses it: it was evicted."""
        self.usage.evicted = True
        _soon(self.close_if_unused)

    async def close_if_unused(self) -> None:
        """Close the pool's connections if it was evicted and is unused.

        httpcore takes the connections to close before its first `await`,
        and nothing else runs in between, so none is closed under a request.
        A request sent later opens a connection.
        """
        if self.usage.unused():
            self.usage.count_close()
            await super().aclose()


class _AsyncBody(httpx.AsyncByteStream):
    """A response body that tells its pool when it is closed."""

    def __init__(
        self,
        stream: httpx.AsyncByteStream,
        done: Callable[[], None],
    ) -> None:
        """Read `stream`; call `done` once, when it is closed."""
        self.stream = stream
        self.pending = [done]

    async def __aiter__(self) -> AsyncGenerator[bytes, object]:
        """Yield the body's chunks."""
        async for chunk in self.stream:
            yield chunk

    async def aclose(self) -> None:
        """Close the body, then tell its pool."""
        try:
            await self.stream.aclose()
        finally:
            while self.pending:
                self.pending.pop()()


_closing: set[object] = set()
"""The tasks that close evicted async pools, kept until they end."""


def _soon(close: Callable[[], Any]) -> None:
    """Run `close()` in the running loop (or trio run) without waiting."""
    loop = _running_loop()
    if isinstance(loop, asyncio.AbstractEventLoop):
        task = loop.create_task(close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
        return
    trio: Any = sys.modules.get("trio")
    trio.lowlevel.spawn_system_task(close)


_async_clients: dict[object, _Pools[httpx.AsyncClient]] = {}


def get_http_client(**client_options: object) -> httpx.AsyncClient:
    """Return the shared `httpx.AsyncClient` of the running event loop.

    One client per event loop (or trio run) and option set: an async client
    is bound to the loop it first ran on, so reusing one across
    `asyncio.run()` calls or pytest's per-test loops fails with "Event loop
    is closed" (encode/httpx#2473). It is created on first use without
    `await`; a warm call is a dict lookup without a lock. A client found
    closed (used in `async with`) is replaced.

    Options are client-level keyword arguments of `httpx.AsyncClient` with
    hashable values (`verify=False`, `base_url=...`); pass headers, params,
    auth and timeouts on each request. Raises RuntimeError outside a
    running event loop.
    """
    loop = _running_loop()
    if loop is None:
        message = _NO_LOOP.format("get_http_client", "asyncio or trio")
        raise RuntimeError(message)
    key = _options_key("get_http_client", client_options)
    kept = _async_clients.get(loop)
    client = None if kept is None else kept.get(key)
    if kept is not None and client is not None and not client.is_closed:
        kept.used[key] = next(_ticks)
        return client
    accessor = "get_http_client"
    cap = _max_pools()
    options = _httpx_options(accessor, client_options, _AsyncTransport)
    client = httpx.AsyncClient(**options)
    if not _genuine(client, httpx.__name__, accessor):
        return client
    with _lock:
        _keep(loop, client)
        _async_clients.setdefault(loop, _Pools())[key] = client
        kept = _async_clients[loop]
        kept.used[key] = next(_ticks)
        evicted = kept.trim(cap)
        _async_pools[client] = options["transport"]
        _retire_owned(loop, evicted)
    _warn_evicted(accessor, cap, len(evicted))
    for old in evicted:
        pool = _async_pools.get(old)
        if isinstance(pool, _AsyncTransport):
            pool.retire()
    return client


_async_pools = weakref.WeakKeyDictionary[
    httpx.AsyncClient,
    httpx.AsyncBaseTransport,
]()
"""The transport (the pool) of each shared async client."""


class _BorrowedAsyncTransport(httpx.AsyncBaseTransport):
    """A client's way into a shared pool: closing it leaves the pool open.

    `httpx.AsyncClient.aclose()` and `__aexit__` close the client's
    transport. This one sends through the shared transport and ignores the
    close, so that a client built for one block keeps its own cookies,
    headers, auth and redirects for exactly that block, while connections
    stay pooled for every other caller.
    """

    def __init__(self, pool: httpx.AsyncBaseTransport) -> None:
        """Send through `pool`, the shared transport, counted as its user."""
        self.pool = pool
        if isinstance(pool, _AsyncTransport):
            pool.usage.borrowers.add(self)

    async def handle_async_request(
        self,
        request: httpx.Request,
    ) -> httpx.Response:
        """Send `request` through the shared pool."""
        return await self.pool.handle_async_request(request)

    async def aclose(self) -> None:
        """Leave the pool open for the others, unless it was evicted."""
        if isinstance(self.pool, _AsyncTransport):
            self.pool.usage.borrowers.discard(self)
            await self.pool.close_if_unused()


def get_http_transport(
    **transport_options: object,
) -> httpx.AsyncBaseTransport | None:
    """Return the running loop's shared pool, for a client of your own.

    `httpx.AsyncClient(..., transport=get_http_transport())` keeps the
    client's own cookies, headers, auth, timeout and redirects for its
    life and shares connections only; closing the client leaves the pool
    open. The pool is that of `get_http_client(**transport_options)`: one
    per event loop (or trio run) and option set, closed with its loop.

    httpx ignores a client's pool options when it is given a transport, so
    give the same `verify=`, `cert=`, `http1=`, `http2=`, `limits=` or
    `trust_env=` here. Returns None where a proxy comes from the
    environment, and outside a running loop (a client built there may run
    on any loop later): the client then builds its own transport, as
    without it.
    """
    if _env_proxies(transport_options) or _running_loop() is None:
        return None
    client = get_http_client(**transport_options)
    if not type(client).__module__.startswith(httpx.__name__):
        return None  # a patched client class: nothing to share
    return _BorrowedAsyncTransport(_async_pools[client])


# end section
# section: httpx-sync
class _SyncTransport(httpx.HTTPTransport):
    """httpx's transport, which resends a request that met a stale socket.

    An idempotent request that failed on a reused connection before any
    response (the server had closed it) is sent again.
    """

    def __init__(self, **options: object) -> None:
        """Build the pool; count its use from now on."""
        init = cast("Callable[..., None]", super().__init__)
        init(**options)
        self.usage = _Usage()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`; count it in flight until its response closes."""
        usage = self.usage
        usage.requests.append(None)
        if usage.evicted:
            with usage.lock:  # a close under way ends first
                pass
        try:
            response = self._resend(request)
        except BaseException:
            self._done()
            raise
        stream = cast("httpx.SyncByteStream", response.stream)
        response.stream = _SyncBody(stream, self._done)
        return response

    def _resend(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, again if it failed on a reused connection."""
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

    def _done(self) -> None:
        """Count a request out; an evicted pool then closes if unused."""
        self.usage.requests.pop()
        if self.usage.evicted:
            self.close_if_unused()

    def retire(self) -> None:
        """Close the pool once nothing uses it: it was evicted."""
        self.usage.evicted = True
        self.close_if_unused()

    def close_if_unused(self) -> None:
        """Close the pool's connections if it was evicted and is unused.

        A request that starts meanwhile counts itself in flight first, then
        waits for the close under way, so no connection is closed under it;
        it opens a new one.
        """
        with self.usage.lock:
            if self.usage.unused():
                self.usage.count_close()
                super().close()


class _SyncBody(httpx.SyncByteStream):
    """A response body that tells its pool when it is closed."""

    def __init__(
        self,
        stream: httpx.SyncByteStream,
        done: Callable[[], None],
    ) -> None:
        """Read `stream`; call `done` once, when it is closed."""
        self.stream = stream
        self.pending = [done]

    def __iter__(self) -> Iterator[bytes]:
        """Yield the body's chunks."""
        return iter(self.stream)

    def close(self) -> None:
        """Close the body, then tell its pool."""
        try:
            self.stream.close()
        finally:
            while self.pending:
                self.pending.pop()()


_sync_clients: _Pools[httpx.Client] = _Pools()


def get_sync_http_client(**client_options: object) -> httpx.Client:
    """Return the shared `httpx.Client` of this process for these options.

    `httpx.Client` is thread-safe, so one per process and option set serves
    every thread. It is never built at import time, and a forked child
    builds its own. A client found closed is replaced.

    Options are client-level keyword arguments of `httpx.Client` with
    hashable values (`verify=False`, `base_url=...`); pass headers, params,
    auth and timeouts on each request.
    """
    key = _options_key("get_sync_http_client", client_options)
    client = _sync_clients.get(key)
    if client is not None and not client.is_closed:
        _sync_clients.used[key] = next(_ticks)
        return client
    accessor = "get_sync_http_client"
    cap = _max_pools()
    options = _httpx_options(accessor, client_options, _SyncTransport)
    client = httpx.Client(**options)
    if not _genuine(client, httpx.__name__, accessor):
        return client
    with _lock:
        kept = _sync_clients.get(key)
        if kept is None or kept.is_closed:
            _sync_clients[key] = kept = client
            _sync_pools[client] = options["transport"]
        _sync_clients.used[key] = next(_ticks)
        evicted = _sync_clients.trim(cap)
    if kept is not client:  # another thread built one meanwhile
        client.close()
    _warn_evicted(accessor, cap, len(evicted))
    for old in evicted:
        pool = _sync_pools.get(old)
        if isinstance(pool, _SyncTransport):
            pool.retire()
    return kept


_sync_pools = weakref.WeakKeyDictionary[httpx.Client, httpx.BaseTransport]()
"""The transport (the pool) of each shared sync client."""


class _BorrowedTransport(httpx.BaseTransport):
    """A client's way into a shared pool: closing it leaves the pool open.

    `httpx.Client.close()` and `__exit__` close the client's transport.
    This one sends through the shared transport and ignores the close, so
    that a client built for one block keeps its own cookies, headers, auth
    and redirects for exactly that block, while connections stay pooled
    for every other caller.
    """

    def __init__(self, pool: httpx.BaseTransport) -> None:
        """Send through `pool`, the shared transport, counted as its user."""
        self.pool = pool
        if isinstance(pool, _SyncTransport):
            pool.usage.borrowers.add(self)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through the shared pool."""
        return self.pool.handle_request(request)

    def close(self) -> None:
        """Leave the pool open for the others, unless it was evicted."""
        if isinstance(self.pool, _SyncTransport):
            self.pool.usage.borrowers.discard(self)
            self.pool.close_if_unused()


def get_sync_http_transport(
    **transport_options: object,
) -> httpx.BaseTransport | None:
    """Return the process's shared pool, for a client of your own.

    `httpx.Client(..., transport=get_sync_http_transport())` keeps the
    client's own cookies, headers, auth, timeout and redirects for its
    life and shares connections only; closing the client leaves the pool
    open. The pool is that of `get_sync_http_client(**transport_options)`:
    one per process and option set, thread-safe, rebuilt after a fork.

    httpx ignores a client's pool options when it is given a transport, so
    give the same `verify=`, `cert=`, `http1=`, `http2=`, `limits=` or
    `trust_env=` here. Returns None where a proxy comes from the
    environment: the client then builds its own transport, as without it.
    """
    if _env_proxies(transport_options):
        return None
    client = get_sync_http_client(**transport_options)
    if not type(client).__module__.startswith(httpx.__name__):
        return None  # a patched client class: nothing to share
    return _BorrowedTransport(_sync_pools[client])


# end section
# section: aiohttp
_aiohttp_sessions: dict[object, _Pools[aiohttp.ClientSession]] = {}


def get_aiohttp_session(**session_options: object) -> aiohttp.ClientSession:
    """Return the shared `aiohttp.ClientSession` of the running loop.

    Sessions are bound to their loop and must be created inside it, so there
    is one per running loop and option set, created on first use. It has a
    `DummyCookieJar` (no cookie crosses callers) and a `TCPConnector` sized
    from the environment. Options are `ClientSession` keyword arguments with
    hashable values (`base_url=...`); pass headers, auth and timeouts on
    each request. Raises RuntimeError outside a running asyncio loop.
    """
    accessor = "get_aiohttp_session"
    loop = _asyncio_loop(accessor)
    key = _options_key(accessor, session_options)
    kept = _aiohttp_sessions.get(loop)
    session = None if kept is None else kept.get(key)
    if kept is not None and session is not None and not session.closed:
        kept.used[key] = next(_ticks)
        return session
    cap = _max_pools()
    session = aiohttp.ClientSession(**_aiohttp_options(session_options))
    if not _genuine(session, aiohttp.__name__, accessor):
        return session
    with _lock:
        _keep(loop, session)
        _aiohttp_sessions.setdefault(loop, _Pools())[key] = session
        kept = _aiohttp_sessions[loop]
        kept.used[key] = next(_ticks)
        evicted = kept.trim(cap)
        _retire_owned(loop, evicted)
    _warn_evicted(accessor, cap, len(evicted))
    for old in evicted:
        if isinstance(old.connector, _Connector):
            old.connector.retire()
    return session


def _asyncio_loop(accessor: str) -> asyncio.AbstractEventLoop:
    """Return the running asyncio loop; raise RuntimeError outside one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        message = _NO_LOOP.format(accessor, "asyncio")
        raise RuntimeError(message) from None


_aiohttp_connectors: dict[object, _Connector] = {}


def get_aiohttp_connector() -> aiohttp.BaseConnector:
    """Return the shared aiohttp connector (the pool) of the running loop.

    Give it to a session of your own, which then shares only connections
    and keeps its own cookie jar, headers, auth and timeout:
    `aiohttp.ClientSession(connector=get_aiohttp_connector(),
    connector_owner=False)`. With `connector_owner=False`, closing that
    session leaves the connector open for the others; it is closed when its
    loop shuts down, and a connector found closed is replaced. Raises
    RuntimeError outside a running asyncio loop.
    """
    loop = _asyncio_loop("get_aiohttp_connector")
    connector = _aiohttp_connectors.get(loop)
    if connector is not None and not connector.closed:
        return connector
    connector = _new_connector()
    with _lock:
        _keep(loop, connector)
        _aiohttp_connectors[loop] = connector
    return connector


def _aiohttp_options(options: dict[str, object]) -> dict[str, Any]:
    """Return `ClientSession` arguments: the environment's, then `options`."""
    for name in ("cookies", "cookie_jar"):
        if name in options:
            message = f"get_aiohttp_session() keeps no cookies ({name}=), so"
            message += " that no caller's cookie reaches another caller"
            raise TypeError(message)
    timeout = aiohttp.ClientTimeout(
        total=_env_seconds("TIMEOUT", 300.0),
        connect=_env_seconds("POOL_TIMEOUT", None),
        sock_connect=_env_seconds("CONNECT_TIMEOUT", 30.0),
    )
    kwargs: dict[str, Any] = {"timeout": timeout, **options}
    if "connector" not in options:
        kwargs["connector"] = _new_connector()
    kwargs["cookie_jar"] = aiohttp.DummyCookieJar()
    return kwargs


def _new_connector() -> _Connector:
    """Return a new connector sized from the environment."""
    return _Connector(
        limit=_env_cap("MAX_CONNECTIONS") or 0,
        limit_per_host=_env_cap("MAX_CONNECTIONS_PER_HOST") or 0,
        keepalive_timeout=_env_seconds("KEEPALIVE_EXPIRY", 15.0),
    )


_handed_out: weakref.WeakSet[object] = weakref.WeakSet()
"""The protocols of the connections that `_Connector` handed out."""

_Conn = aiohttp.connector.Connection
_Protocol = aiohttp.client_proto.ResponseHandler

_Handout = tuple[object, str, object, weakref.ref[_Protocol]]
"""A send: its request call (`traces` list), method and URL, and the
protocol it was handed."""

_handouts: contextvars.ContextVar[_Handout | None] = contextvars.ContextVar(
    "_handouts",
    default=None,
)
"""The task's last connection, whose protocol it does not keep alive."""


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, which drops a kept-alive socket the peer closed.

    It looks at a kept-alive connection's socket before handing it out
    again, as httpcore and urllib3 do: one the server has closed (its end
    of file not yet read by the loop) is dropped instead of failing the
    request sent on it. New connections are not looked at: TLS session
    tickets may wait there, unread, on a healthy one.

    A close that has not arrived yet cannot be seen. aiohttp then sends an
    idempotent request again, once; that resend gets a new connection,
    never another kept-alive one: the server that closed one may be closing
    the others too (an idle timeout, a restart), and a second failure would
    reach the caller, which a client per call never exposed to this.
    """

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        *args: object,
        **kwargs: object,
    ) -> _Conn:
        """Return a connection whose peer has not closed it.

        Each kept-alive connection refused is closed, so this ends at the
        latest when the host has no idle connection left.
        """
        connect = cast("Callable[..., Awaitable[_Conn]]", super().connect)
        traces = args[0] if args else kwargs.get("traces")
        send = (traces, req.method, req.url)
        resend = _resending(send)
        while True:
            connection = await connect(req, *args, **kwargs)
            protocol = cast("_Protocol", connection.protocol)
            if protocol not in _handed_out:
                break  # opened for this request
            if not resend and not _peer_closed(connection):
                break
            connection.close()
        _handed_out.add(protocol)
        _handouts.set((*send, weakref.ref(protocol)))
        return connection

    def abandon(self) -> None:
        """Mark the connector closed without I/O (its loop is closed)."""
        self._close()

    def retire(self) -> None:
        """Close the idle connections now, and each busy one once released.

        The evicted session may still be held by a caller, so the connector
        stays open, but from now on it keeps no connection for reuse.
        """
        self._force_close = True
        for idle in list(self._conns.values()):
            for protocol, _ in idle:
                protocol.close()
        self._conns.clear()
        _note_closed()


def _resending(send: tuple[object, str, object]) -> bool:
    """Tell whether the calling task is sending a request again.

    aiohttp hands the connector the same `traces` list on each send of one
    request call, and a resend has the method and URL of the send before.
    When the connection that send got is closed, it failed and this is
    aiohttp's resend. A redirect changes the URL, so it reuses connections
    even after a response that closed its own.
    """
    last = _handouts.get()
    if last is None or last[0] is not send[0] or last[1:3] != send[1:]:
        return False
    protocol = last[3]()
    return protocol is None or not protocol.is_connected()


def _peer_closed(connection: _Conn) -> bool:
    """Tell whether a connection's socket has bytes or an end of file."""
    transport = connection.transport
    sock = None if transport is None else transport.get_extra_info("socket")
    if sock is None:
        return False
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _abandon(clients: list[object]) -> None:
    """Mark the aiohttp clients of a closed loop closed, without I/O.

    Closing needs the loop, which is gone; marked closed, neither a session
    nor a connector warns when it is collected.
    """
    sessions = [c for c in clients if isinstance(c, aiohttp.ClientSession)]
    for session in sessions:
        if isinstance(session.connector, _Connector):
            session.connector.abandon()
        session.detach()
    for connector in clients:
        if isinstance(connector, _Connector):
            connector.abandon()


def _aiohttp_stats(connector: object) -> dict[str, int]:
    """Count the connections of a connector (no public API)."""
    idle: Any = getattr(connector, "_conns", None)
    acquired: Any = getattr(connector, "_acquired", None)
    try:
        stats = {"idle": sum(len(conns) for conns in idle.values())}
        stats["in_use"] = len(acquired)
    except _READ_ERRORS:
        return {"open": 0, "idle": 0, "in_use": 0, "unreadable": 1}
    stats["open"] = stats["idle"] + stats["in_use"]
    stats["unreadable"] = 0
    return stats


# end section
# section: requests
class _Local(threading.local):
    """The calling thread's session."""

    session: requests.Session | None = None


_requests_local = _Local()
_requests_sessions = weakref.WeakKeyDictionary[requests.Session, str]()
"""Every thread's session and its thread; a session leaves with its thread.

A session missing here was forgotten (`reset_http_clients()`, a fork).
"""
_IN_MEMORY = frozenset({bytes, str, type(None)})


class _RequestsAdapter(  # type: ignore[misc, unused-ignore]
    requests.adapters.HTTPAdapter,
):
    """An `HTTPAdapter` with a default timeout, which resends a stale request.

    The environment's timeout applies to calls that give none (requests
    itself has no default timeout). An idempotent request whose connection
    was closed before any response (a kept-alive connection the server
    closed) is sent once more, on a new connection.
    """

    default_timeout: tuple[float | None, float | None] | None = None

    def send(
        self,
        request: requests.PreparedRequest,
        *args: object,
        **kwargs: object,
    ) -> requests.Response:
        """Send `request` with the default timeout, again if it was stale."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        send = cast("Callable[..., requests.Response]", super().send)
        try:
            return send(request, *args, **kwargs)
        except requests.ConnectionError as error:
            reason = error.args[0] if error.args else None
            aborted = isinstance(reason, urllib3.exceptions.ProtocolError)
            in_memory = type(request.body) in _IN_MEMORY
            if not (aborted and in_memory and request.method in _IDEMPOTENT):
                raise
        return send(request, *args, **kwargs)


def get_requests_session() -> requests.Session:
    """Return the shared `requests.Session` of the calling thread.

    `requests.Session` is not documented as thread-safe (psf/requests#2766),
    so each thread has its own; a forked child builds new ones. Its cookie
    jar accepts no cookie, so nothing one call receives is sent by another.
    Arguments stay on each call, as with `requests.get(...)`.
    """
    session = _requests_local.session
    if session is not None and session in _requests_sessions:
        return session
    session = requests.Session()
    if _genuine(session, requests.__name__, "get_requests_session"):
        _configure_requests_session(session)
        _requests_local.session = session
    return session


class _BorrowedAdapter(  # type: ignore[misc, unused-ignore]
    requests.adapters.BaseAdapter,
):
    """A session's way into a shared adapter: closing it leaves it open.

    `requests.Session.close()` (also at the end of `with`) closes every
    mounted adapter. This one sends through the thread's shared adapter and
    ignores the close, so the pool outlives the borrowing session.
    """

    def __init__(self, adapter: requests.adapters.BaseAdapter) -> None:
        """Send through `adapter`, one of the shared session's."""
        super().__init__()
        self.adapter = adapter

    def send(
        self,
        request: requests.PreparedRequest,
        *args: object,
        **kwargs: object,
    ) -> requests.Response:
        """Send `request` through the shared adapter."""
        send = cast("Callable[..., requests.Response]", self.adapter.send)
        return send(request, *args, **kwargs)

    def close(self) -> None:
        """Leave the shared pool open for the other sessions."""


def borrow_requests_session() -> requests.Session:
    """Return a new `requests.Session` that sends through a shared pool.

    The session is the caller's own, as `requests.Session()` is: its
    cookies (kept across redirects and across its requests), headers, auth
    and hooks live as long as it does and reach no other session. Only its
    adapters are borrowed from `get_requests_session()`, the thread's pool,
    so `close()` and the end of `with` leave the connections open for the
    next session. Use it in the thread that made it.
    """
    session = requests.Session()
    if not _genuine(session, requests.__name__, "borrow_requests_session"):
        return session
    for prefix, adapter in get_requests_session().adapters.items():
        session.mount(prefix, _BorrowedAdapter(adapter))
    return session


def _configure_requests_session(session: requests.Session) -> None:
    """Mount the environment's adapter on `session`, and register it."""
    retries = _env_int("RETRIES", 0, minimum=0)
    read = _env_seconds("TIMEOUT", None)
    connect = _env_seconds("CONNECT_TIMEOUT", read)
    timeout = None if read is None and connect is None else (connect, read)
    # requests' own default is Retry(0, read=False); RETRIES only adds
    # retries of failed connections, as httpx's transport retries do.
    adapter = _RequestsAdapter(
        pool_connections=_env_int("NUM_POOLS", 10),
        pool_maxsize=_env_int("MAX_KEEPALIVE", 10),
        max_retries=urllib3.Retry(
            total=retries,
            connect=retries,
            read=False,
            status=0,
            other=0,
        ),
    )
    adapter.default_timeout = timeout
    session.cookies.set_policy(_no_cookie_policy())
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    thread = threading.current_thread()
    with _lock:
        _requests_sessions[session] = f"{thread.name}:{thread.ident}"


def _requests_stats(session: requests.Session) -> dict[str, int]:
    """Count the connections of a session's adapters' pools."""
    stats: dict[str, int] = {}
    adapters = {id(a): a for a in session.adapters.values()}
    for adapter in adapters.values():
        manager = getattr(adapter, "poolmanager", None)
        for field, value in _urllib3_pool_stats(manager).items():
            stats[field] = stats.get(field, 0) + value
    return stats


# end section
# section: requests, urllib3
def _urllib3_pool_stats(manager: object) -> dict[str, int]:
    """Count the idle connections kept and created by a PoolManager's pools.

    urllib3 does not track connections in use, so only these are reported.
    """
    stats = {"idle": 0, "created": 0}
    pools: Any = getattr(manager, "pools", None) or {}
    for key in list(pools.keys()):
        pool: Any = pools.get(key)
        queue = getattr(getattr(pool, "pool", None), "queue", ())
        stats["idle"] += sum(1 for conn in list(queue) if conn is not None)
        stats["created"] += int(getattr(pool, "num_connections", 0))
    return stats


# end section
# section: urllib3
_urllib3_managers: _Pools[urllib3.PoolManager] = _Pools()


def get_urllib3_pool_manager(**options: object) -> urllib3.PoolManager:
    """Return the shared `urllib3.PoolManager` of this process.

    A PoolManager is thread-safe, so one per process and option set serves
    every thread; a forked child builds its own. Options are `PoolManager`
    keyword arguments with hashable values and win over the environment.
    """
    accessor = "get_urllib3_pool_manager"
    key = _options_key(accessor, options)
    manager = _urllib3_managers.get(key)
    if manager is not None:
        _urllib3_managers.used[key] = next(_ticks)
        return manager
    cap = _max_pools()
    manager = urllib3.PoolManager(**_urllib3_options(options))
    if not _genuine(manager, urllib3.__name__, accessor):
        return manager
    with _lock:
        manager = _urllib3_managers.setdefault(key, manager)
        _urllib3_managers.used[key] = next(_ticks)
        evicted = _urllib3_managers.trim(cap)
    _warn_evicted(accessor, cap, len(evicted))
    for old in evicted:
        # urllib3 closes a pool's connections when it is collected: now for
        # idle ones, once its last response is dropped for busy ones. A
        # caller that still holds the manager gets new pools.
        old.clear()
        _note_closed()
    return manager


def _urllib3_options(options: dict[str, object]) -> dict[str, Any]:
    """Return PoolManager arguments: the environment's, then `options`.

    urllib3's defaults, except that 64 idle connections are kept per host
    instead of 1. With `block=False` (the default) that bound only decides
    how many connections are kept for reuse, never how many are opened, and
    it avoids urllib3's "Connection pool is full" warning when threads share
    the manager. urllib3 never expires an idle connection, so the bound stays
    near common thread counts.
    """
    kwargs: dict[str, Any] = {
        "num_pools": _env_int("NUM_POOLS", 10),
        "maxsize": _env_int("MAX_KEEPALIVE", 64),
    }
    retries = _env_int("RETRIES", -1, minimum=0)
    if retries >= 0:
        default = urllib3.Retry.DEFAULT
        total = default.total if isinstance(default.total, int) else 0
        total = max(total, retries)
        kwargs["retries"] = default.new(connect=retries, total=total)
    read = _env_seconds("TIMEOUT", None)
    connect = _env_seconds("CONNECT_TIMEOUT", read)
    if read is not None or connect is not None:
        kwargs["timeout"] = urllib3.Timeout(connect=connect, read=read)
    kwargs.update(options)
    return kwargs


# end section
async def aclose_http_clients() -> None:
    """Close the clients that can be closed from here, and forget them.

    That is every async client of the running event loop (clients of
    another running loop are bound to it: they are closed when that loop
    shuts down, or by calling this function there), and every sync client.
    The next accessor call builds new ones. Never raises.
    """
    # section: httpx-async, aiohttp
    loop = _running_loop()
    await _aclose_loop(loop)
    with _lock:
        _forget_closed_loops()
    # end section
    close_http_clients()


def close_http_clients() -> None:
    """Close every sync client and forget them; never raise.

    The next accessor call builds new ones. Async clients need their loop:
    use `aclose_http_clients()` for them.
    """
    # section: httpx-sync, requests, urllib3
    with _lock:
        closing = _take_sync_clients()
    _close_each(closing)
    # end section


# section: httpx-sync, requests, urllib3
def _take_sync_clients() -> list[Callable[[], object]]:
    """Forget every sync client; return their close functions.

    The caller holds `_lock`.
    """
    closing: list[Callable[[], object]] = []
    # section: httpx-sync
    closing.extend(client.close for client in _sync_clients.values())
    _sync_clients.clear()
    # end section
    # section: requests
    closing.extend(session.close for session in list(_requests_sessions))
    _requests_sessions.clear()
    # end section
    # section: urllib3
    closing.extend(manager.clear for manager in _urllib3_managers.values())
    _urllib3_managers.clear()
    # end section
    return closing


def _close_at_exit() -> None:  # pragma: no cover - runs after coverage stops
    """Close the sync clients when the interpreter exits.

    Their sockets are released cleanly even in scripts that never call
    `close_http_clients()`. It never waits: when another thread holds the
    lock (a daemon thread still busy at exit), the clients are left to the
    operating system, which closes their sockets as the process ends.
    """
    if _lock.acquire(blocking=False):
        try:
            closing = _take_sync_clients()
        finally:
            _lock.release()
        _close_each(closing)


atexit.register(_close_at_exit)
# end section


def reset_http_clients() -> None:
    """Forget every client, so that the next accessor call builds a new one.

    This is the test fixture of the module docstring. Sync clients are
    closed; async clients are closed when their event loop shuts down.
    Never raises.
    """
    with _lock:
        closing = _take_sync_clients()  # section: httpx-sync, requests, urllib3
        _async_clients.clear()  # section: httpx-async
        _aiohttp_sessions.clear()  # section: aiohttp
        _aiohttp_connectors.clear()  # section: aiohttp
        _pool_counts.update(evicted=0, closed=0)  # section: httpx-async, httpx-sync, aiohttp, urllib3
    _close_each(closing)  # section: httpx-sync, requests, urllib3


@contextlib.asynccontextmanager
async def lifespan(_app: object) -> AsyncGenerator[None, object]:
    """Close every client at shutdown: a FastAPI/Starlette `lifespan`.

    Use `FastAPI(lifespan=lifespan)`, or enter it from your own lifespan
    with `async with lifespan(app): yield`.
    """
    try:
        yield
    finally:
        await aclose_http_clients()


def http_client_stats() -> dict[str, dict[str, int]]:
    """Count the connections of every client, for logs and metrics.

    Keys name the client and its options (values that could hold a secret
    are masked), for example `httpx-sync[verify=False]`. Values count
    connections `open`, `idle` and `in_use` where the library lets them be
    read, and `unreadable` transports or pools. Never raises.
    # section: httpx-async, httpx-sync, aiohttp, urllib3

    The entry `pools` counts the pools `kept` by every accessor, those
    `evicted` past the cap (`max`, per accessor and loop), and the evicted
    ones `closed` since.
    # end section
    """
    stats: dict[str, dict[str, int]] = {}
    # section: httpx-async, httpx-sync, aiohttp, urllib3
    try:
        cap = _max_pools()
    except ValueError:
        cap = -1  # a bad value: the next client built raises the error
    # end section
    with _lock:
        # section: httpx-async
        for loop, clients in _async_clients.items():
            for key, client in clients.items():
                name = _describe("httpx-async", key, f"loop={id(loop):#x}")
                stats[name] = _httpx_pool_stats(client)
        # end section
        # section: httpx-sync
        for key, sync_client in _sync_clients.items():
            name = _describe("httpx-sync", key)
            stats[name] = _httpx_pool_stats(sync_client)
        # end section
        # section: aiohttp
        for loop, sessions in _aiohttp_sessions.items():
            for key, session in sessions.items():
                name = _describe("aiohttp", key, f"loop={id(loop):#x}")
                stats[name] = _aiohttp_stats(session.connector)
        for loop, connector in _aiohttp_connectors.items():
            name = f"aiohttp-connector[loop={id(loop):#x}]"
            stats[name] = _aiohttp_stats(connector)
        # end section
        # section: requests
        for requests_session, thread in list(_requests_sessions.items()):
            name = f"requests[thread={thread}]"
            stats[name] = _requests_stats(requests_session)
        # end section
        # section: urllib3
        for key, manager in _urllib3_managers.items():
            name = _describe("urllib3", key)
            stats[name] = _urllib3_pool_stats(manager)
        # end section
        # section: httpx-async, httpx-sync, aiohttp, urllib3
        kept = 0
        kept += sum(map(len, _async_clients.values()))  # section: httpx-async
        kept += len(_sync_clients)  # section: httpx-sync
        kept += sum(map(len, _aiohttp_sessions.values()))  # section: aiohttp
        kept += len(_urllib3_managers)  # section: urllib3
        stats["pools"] = {"kept": kept, **_pool_counts, "max": cap}
        # end section
    return stats


# section: metrics-prometheus
_METRIC_PREFIX = "http_client"
"""Prefix of the metric names, after the application's own metrics."""


class _PoolCollector:
    """Export the pools to Prometheus; they are read at each scrape."""

    def describe(self) -> list[prometheus_client.core.Metric]:
        """Return the metric families without samples: their names."""
        return _pool_metrics({}, {}, {})

    def collect(self) -> list[prometheus_client.core.Metric]:
        """Return the gauges of every pool, read now."""
        limits, clients = _pool_limits()
        return _pool_metrics(http_client_stats(), limits, clients)


def _pool_metrics(
    stats: dict[str, dict[str, int]],
    limits: dict[str, tuple[float, int]],
    clients: dict[str, int],
) -> list[prometheus_client.core.Metric]:
    """Return the gauge families of the statistics of every client."""
    texts = {
        "connections_in_use": ("Connections serving a request.", "client"),
        "connections_idle": ("Connections kept alive for reuse.", "client"),
        "connections_open": ("Open connections.", "client"),
        "connections_max": ("Cap on open connections (+Inf: none).", "client"),
        "connections_waiting": ("Requests queued for a connection.", "client"),
        "clients": ("Shared async clients per event loop.", "loop"),
    }
    gauges = {
        name: prometheus_client.core.GaugeMetricFamily(
            f"{_METRIC_PREFIX}_{name}",
            text,
            labels=[label],
        )
        for name, (text, label) in texts.items()
    }
    samples = [
        (f"connections_{field}", client, float(counts[field]))
        for client, counts in stats.items()
        for field in ("in_use", "idle", "open")
        if field in counts
    ]
    samples += [
        (name, client, value)
        for client, (cap, waiting) in limits.items()
        for name, value in (
            ("connections_max", cap),
            ("connections_waiting", float(waiting)),
        )
    ]
    samples += [("clients", loop, float(n)) for loop, n in clients.items()]
    for name, label, value in samples:
        gauges[name].add_metric([label], value)
    return list(gauges.values())


def _pool_limits() -> tuple[dict[str, tuple[float, int]], dict[str, int]]:
    """Return each pool's cap and waiting requests, and clients per loop.

    Keys are the names `http_client_stats()` gives; a pool that cannot be
    read is left out.
    """
    limits: dict[str, tuple[float, int]] = {}
    with _lock:
        clients: dict[str, int] = {}
        # section: httpx-async
        for loop, async_clients in _async_clients.items():
            for key, client in async_clients.items():
                name = _describe("httpx-async", key, f"loop={id(loop):#x}")
                limits[name] = _httpx_limits(client)
            loop_name = f"{id(loop):#x}"
            clients[loop_name] = clients.get(loop_name, 0) + len(async_clients)
        # end section
        # section: httpx-sync
        for key, sync_client in _sync_clients.items():
            limits[_describe("httpx-sync", key)] = _httpx_limits(sync_client)
        # end section
        # section: aiohttp
        for loop, sessions in _aiohttp_sessions.items():
            for key, session in sessions.items():
                name = _describe("aiohttp", key, f"loop={id(loop):#x}")
                limits[name] = _aiohttp_limits(session.connector)
            loop_name = f"{id(loop):#x}"
            clients[loop_name] = clients.get(loop_name, 0) + len(sessions)
        for loop, connector in _aiohttp_connectors.items():
            name = f"aiohttp-connector[loop={id(loop):#x}]"
            limits[name] = _aiohttp_limits(connector)
        # end section
    return {k: v for k, v in limits.items() if v[1] >= 0}, clients


# section: httpx-async, httpx-sync
def _httpx_limits(client: object) -> tuple[float, int]:
    """Read an httpx pool's cap and queued requests (-1: unreadable)."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    cap: Any = getattr(pool, "_max_connections", None)
    queue: Any = getattr(pool, "_requests", None)
    try:
        waiting = sum(1 for request in queue if request.is_queued())
        cap = float("inf") if cap >= sys.maxsize else float(cap)
    except _READ_ERRORS:
        return 0.0, -1
    return cap, waiting


# end section
# section: aiohttp
def _aiohttp_limits(connector: object) -> tuple[float, int]:
    """Read a connector's cap and waiting requests (-1: unreadable)."""
    waiters: Any = getattr(connector, "_waiters", None)
    try:
        waiting = sum(len(queue) for queue in waiters.values())
    except _READ_ERRORS:
        return 0.0, -1
    return float(getattr(connector, "limit", 0) or "inf"), waiting


# end section
with contextlib.suppress(ValueError):  # registered once, even if reloaded
    prometheus_client.core.REGISTRY.register(_PoolCollector())
# end section


def _before_fork() -> None:
    """Hold the registry lock across a fork, so the child's copy is free."""
    _lock.acquire()


def _after_fork_in_parent() -> None:
    """Release the registry lock held across the fork."""
    _lock.release()


def _after_fork_in_child() -> None:  # pragma: no cover - in the child
    """Forget every client in a forked child (gunicorn --preload).

    Sockets inherited across a fork are shared with the parent, so the child
    opens its own connections. The parent's clients are not closed here:
    that could tear down connections the parent still uses.
    """
    # section: httpx-async, aiohttp
    # A watcher no loop finalizes runs its `finally` when it is dropped, and
    # that takes the lock: the watchers are dropped once the lock is free.
    watchers = list(_watchers.values())
    _watchers.clear()
    _owned.clear()
    _retired.clear()
    # end section
    _async_clients.clear()  # section: httpx-async
    _aiohttp_sessions.clear()  # section: aiohttp
    _aiohttp_connectors.clear()  # section: aiohttp
    _sync_clients.clear()  # section: httpx-sync
    _requests_sessions.clear()  # section: requests
    _urllib3_managers.clear()  # section: urllib3
    _lock.release()
    watchers.clear()  # section: httpx-async, aiohttp


if sys.platform != "win32":  # pragma: no branch - not on Windows
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )

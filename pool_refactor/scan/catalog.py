"""The client libraries pool-refactor knows, as data.

The scanner and the codemod are generic over this table: supporting another library is a new
`Library` row, a section of the shared-module template and fixtures, never new control flow.
Every name here is the library's public API as documented; where a fork keeps the API (httpx2),
it is the same row with another module name.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Constructor:
    """A class whose instances own a connection pool."""

    name: str
    is_async: bool
    accessor: str
    """Function of the generated module that returns the shared instance."""
    section: str
    """Section of the shared-module template that defines `accessor`."""
    close_methods: frozenset[str]
    """Methods that close the client (awaited for async clients)."""
    positional: tuple[str, ...] = ()
    """Names of the constructor's positional parameters, in order (aiohttp's `base_url`)."""
    borrow_accessor: str | None = None
    """Function of the generated module that returns the shared pool alone (aiohttp's connector),
    for a client that keeps everything else of its own (`borrow_arguments`)."""
    borrow_arguments: tuple[tuple[str, str], ...] = ()
    """Keyword arguments, with their source text, that make the constructor borrow the shared pool
    and leave it open when the client closes (`connector=get_aiohttp_connector()`,
    `connector_owner=False`); a constructor that already gives one of them is not rewritten so.
    Empty: the constructor call is replaced by the accessor's (`requests.Session()` ->
    `borrow_requests_session()`, a new session of its own on the shared adapters)."""
    borrow_keys: frozenset[str] = frozenset()
    """Options that configure the pool, which a client ignores once it is given one (httpx's
    `verify=`, `http2=`, `limits=` with `transport=`): a borrowing constructor keeps them and
    the pool accessor is keyed on the same values (`transport=get_http_transport(verify=False)`),
    so they must be literals."""
    borrow_blocked: frozenset[str] = frozenset()
    """Options with which a client cannot borrow the shared pool: they bring a pool of their own
    or route around it (httpx `mounts=`, `proxy=`), or bind the client elsewhere (aiohttp `loop=`)."""


@dataclass(frozen=True)
class Library:
    """One client library (or a family of API-compatible forks)."""

    family: str
    """Stable name used in reports and configuration (`httpx`, `aiohttp`, ...)."""
    modules: tuple[str, ...]
    """Importable top-level names that provide this API."""
    constructors: tuple[Constructor, ...]
    one_shots: frozenset[str]
    """Module-level functions that build a client, send one request and close it."""
    request_methods: frozenset[str]
    """Methods of a client that send (or build) a request and accept per-request options."""
    per_request_options: frozenset[str]
    """Constructor options that every request method also accepts with the same meaning."""
    mapping_options: frozenset[str]
    """Per-request options that the library merges with the client's (headers, params, ...)."""
    client_options: frozenset[str]
    """Constructor options that only a client accepts; literal values key a shared client."""
    one_shot_client_options: frozenset[str]
    """Options of the one-shot functions that belong to the client, not to the request."""
    value_options: frozenset[str] = frozenset()
    """The client options that may also key a shared client by a value known only at run time
    (`verify=settings.ca_bundle`, `http2=self.http2`; issue 12, item 2): plain values, equal when
    they mean the same pool. Not objects with a life of their own (`transport=`, `mounts=`) nor
    mutable ones (`event_hooks=`): a shared client would keep or close someone else's."""
    case_insensitive_options: frozenset[str] = frozenset()
    """Mapping options whose keys the library compares without case (headers): two keys that
    differ only in case are one entry, so a merge must treat them as colliding."""
    build_only_methods: frozenset[str] = frozenset()
    """Request methods that accept only part of the per-request options (httpx `build_request`)."""
    build_only_options: frozenset[str] = frozenset()
    """The per-request options that `build_only_methods` accept."""
    send_methods: frozenset[str] = frozenset()
    """Methods that send an already built request and ignore most per-request options."""
    client_state_attributes: frozenset[str] = frozenset()
    """Attributes whose use means the code depends on state of that particular client."""
    pure_factories: frozenset[str] = frozenset()
    """Library functions without side effects whose results may be moved (httpx.Timeout(...))."""
    refused_options: dict[str, str] = field(default_factory=dict)
    """Options that can never be moved or keyed, with the reason shown to the user."""
    pooled_one_shots: frozenset[str] = frozenset()
    """One-shot functions that already use a module-level pool (urllib3.request)."""
    one_shot_form: str = "call"
    """`call`: `lib.get(...)` returns a response; `async-context`: used as `async with lib.request(...)`."""
    one_shot_borrow: tuple[str, ...] = ()
    """The async constructor's `borrow_arguments` that the one-shot function takes too, so that the
    client it builds for the call borrows the shared pool and keeps its own cookies
    (`aiohttp.request(..., connector=get_aiohttp_connector())`: a given connector is not owned)."""
    one_shot_borrow_keeps: frozenset[str] = frozenset()
    """Refused options that the one-shot's own client keeps exactly when it borrows the pool."""
    has_cookie_jar: bool = True
    """Whether a client keeps cookies between its requests (so sharing one changes what is sent)."""
    redirect_option: str | None = None
    """The request option that turns redirect following on or off."""
    follows_redirects_by_default: bool = False
    redirect_cookies_kept_per_request: bool = False
    """Whether cookies set during a redirect reach the next hop even when the client keeps none."""
    none_falls_back: frozenset[str] = frozenset()
    """Request options whose value None means "use the client's value" (so None must not win)."""
    none_is_default: frozenset[str] = frozenset()
    """Constructor options whose value None means the library default, but something else per request."""
    no_redirect_methods: frozenset[str] = frozenset()
    """Request methods that do not follow redirects unless asked to (aiohttp's `head`)."""
    one_shot_request_options: frozenset[str] = frozenset()
    """Options refused on a constructor that a one-shot function passes per request (aiohttp `auth`)."""
    one_shot_max_positional: tuple[tuple[str, int], ...] = ()
    """One-shots whose client method takes fewer positional arguments (requests' `get(url, params)`)."""
    tls_off: tuple[tuple[str, object], ...] = ()
    """Option values that turn TLS certificate verification off; such sites are flagged."""
    websocket_methods: frozenset[str] = frozenset()
    """Client methods that open a websocket (aiohttp `ws_connect`): a client holding one is
    connection-scoped, not per request."""
    websocket_functions: frozenset[str] = frozenset()
    """Functions of companion packages that open a websocket on a client given as an argument
    (httpx-ws: `aconnect_ws(url, client)`)."""
    event_stream_functions: frozenset[str] = frozenset()
    """Functions of companion packages that open a server-sent-events stream on a client given as
    an argument (httpx-sse: `aconnect_sse(client, "GET", url)`)."""

    def constructor(self, name: str) -> Constructor | None:
        for ctor in self.constructors:
            if ctor.name == name:
                return ctor
        return None


_HTTPX_REQUEST_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream"}
)

_HTTPX_POOL_OPTIONS = frozenset({"verify", "cert", "http1", "http2", "limits", "trust_env"})
"""httpx client options that only configure the transport it builds (httpx/_client.py
`_init_transport`); `trust_env` also turns environment proxies on, which the accessor honours."""
_HTTPX_BORROW_BLOCKED = frozenset({"mounts", "proxy", "app"})
"""With a transport given, httpx still builds `proxy=` and `mounts=` transports of the client's
own, outside the shared pool; `app=` is test wiring."""

HTTPX = Library(
    family="httpx",
    modules=("httpx", "httpx2"),
    constructors=(
        Constructor(
            name="AsyncClient",
            is_async=True,
            accessor="get_http_client",
            section="httpx-async",
            close_methods=frozenset({"aclose"}),
            borrow_accessor="get_http_transport",
            borrow_arguments=(("transport", "get_http_transport()"),),
            borrow_keys=_HTTPX_POOL_OPTIONS,
            borrow_blocked=_HTTPX_BORROW_BLOCKED,
        ),
        Constructor(
            name="Client",
            is_async=False,
            accessor="get_sync_http_client",
            section="httpx-sync",
            close_methods=frozenset({"close"}),
            borrow_accessor="get_sync_http_transport",
            borrow_arguments=(("transport", "get_sync_http_transport()"),),
            borrow_keys=_HTTPX_POOL_OPTIONS,
            borrow_blocked=_HTTPX_BORROW_BLOCKED,
        ),
    ),
    one_shots=_HTTPX_REQUEST_METHODS,
    request_methods=_HTTPX_REQUEST_METHODS | {"build_request"},
    per_request_options=frozenset({"timeout", "headers", "params", "auth", "follow_redirects"}),
    mapping_options=frozenset({"headers", "params"}),
    case_insensitive_options=frozenset({"headers"}),
    client_options=frozenset(
        {
            "verify",
            "cert",
            "http1",
            "http2",
            "proxy",
            "mounts",
            "transport",
            "limits",
            "base_url",
            "event_hooks",
            "trust_env",
            "max_redirects",
            "default_encoding",
        }
    ),
    value_options=frozenset(
        {
            "verify",
            "cert",
            "http1",
            "http2",
            "proxy",
            "limits",
            "base_url",
            "trust_env",
            "max_redirects",
            "default_encoding",
        }
    ),
    one_shot_client_options=frozenset({"verify", "cert", "proxy", "trust_env"}),
    redirect_option="follow_redirects",
    tls_off=(("verify", False),),
    build_only_methods=frozenset({"build_request"}),
    build_only_options=frozenset({"timeout", "headers", "params"}),
    send_methods=frozenset({"send"}),
    client_state_attributes=frozenset(
        {"headers", "cookies", "auth", "base_url", "params", "timeout", "event_hooks", "follow_redirects"}
    ),
    pure_factories=frozenset({"Timeout", "Limits", "BasicAuth", "DigestAuth", "Headers", "QueryParams"}),
    refused_options={
        "cookies": (
            "the client is given cookies: httpx deprecates per-request cookies and the shared client "
            "keeps no cookie jar"
        ),
        "app": "the client is built around an in-process app (`app=`), which is test wiring",
    },
    websocket_functions=frozenset({"aconnect_ws", "connect_ws"}),
    event_stream_functions=frozenset({"aconnect_sse", "connect_sse"}),
)

_AIOHTTP_VALUE_OPTIONS = frozenset(
    {
        "base_url",
        "trust_env",
        "auto_decompress",
        "requote_redirect_url",
        "read_bufsize",
        "max_line_size",
        "max_field_size",
        "version",
        "proxy",
    }
)
"""ClientSession options that are plain values; `connector_owner=` (a literal only) is the other."""

AIOHTTP = Library(
    family="aiohttp",
    modules=("aiohttp",),
    constructors=(
        Constructor(
            name="ClientSession",
            is_async=True,
            accessor="get_aiohttp_session",
            section="aiohttp",
            close_methods=frozenset({"close"}),
            positional=("base_url",),
            borrow_accessor="get_aiohttp_connector",
            borrow_arguments=(("connector", "get_aiohttp_connector()"), ("connector_owner", "False")),
            borrow_blocked=frozenset({"loop"}),
        ),
    ),
    one_shots=frozenset({"request"}),
    request_methods=frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"}),
    per_request_options=frozenset({"headers", "timeout", "raise_for_status"}),
    mapping_options=frozenset({"headers"}),
    case_insensitive_options=frozenset({"headers"}),
    client_options=_AIOHTTP_VALUE_OPTIONS | {"connector_owner"},
    value_options=_AIOHTTP_VALUE_OPTIONS,
    one_shot_client_options=frozenset({"version"}),
    none_falls_back=frozenset({"raise_for_status"}),
    none_is_default=frozenset({"timeout"}),
    no_redirect_methods=frozenset({"head"}),
    one_shot_request_options=frozenset({"auth"}),
    client_state_attributes=frozenset({"headers", "cookie_jar", "auth", "connector", "timeout", "closed"}),
    pure_factories=frozenset({"ClientTimeout", "BasicAuth"}),
    refused_options={
        "cookies": "the session is given cookies, which the shared session (a DummyCookieJar) would drop",
        "cookie_jar": "the session brings its own cookie jar",
        "connector": "the session brings its own connector (pool); it cannot be shared safely",
        "auth": (
            "aiohttp combines a session's `auth` with credentials in the URL differently from a "
            "request's `auth`; move it by hand"
        ),
        "loop": "the session is bound to an explicit loop",
    },
    one_shot_form="async-context",
    one_shot_borrow=("connector",),
    one_shot_borrow_keeps=frozenset({"cookies"}),
    tls_off=(("ssl", False), ("verify_ssl", False)),
    redirect_option="allow_redirects",
    follows_redirects_by_default=True,
    websocket_methods=frozenset({"ws_connect"}),
)

_REQUESTS_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})

REQUESTS = Library(
    family="requests",
    modules=("requests",),
    constructors=(
        Constructor(
            name="Session",
            is_async=False,
            accessor="get_requests_session",
            section="requests",
            close_methods=frozenset({"close"}),
            borrow_accessor="borrow_requests_session",
        ),
    ),
    one_shots=_REQUESTS_METHODS,
    request_methods=_REQUESTS_METHODS,
    per_request_options=frozenset(),
    mapping_options=frozenset(),
    client_options=frozenset(),
    one_shot_client_options=frozenset(),
    send_methods=frozenset({"send"}),
    client_state_attributes=frozenset(
        {
            "headers",
            "cookies",
            "auth",
            "proxies",
            "verify",
            "cert",
            "params",
            "hooks",
            "mount",
            "adapters",
            "trust_env",
            "max_redirects",
            "stream",
        }
    ),
    redirect_option="allow_redirects",
    follows_redirects_by_default=True,
    redirect_cookies_kept_per_request=True,
    one_shot_max_positional=(("get", 1),),
    tls_off=(("verify", False),),
)

_URLLIB3_POOL_OPTIONS = frozenset(
    {
        "num_pools",
        "maxsize",
        "block",
        "cert_reqs",
        "ca_certs",
        "ca_cert_dir",
        "cert_file",
        "key_file",
        "assert_hostname",
        "assert_fingerprint",
        "ssl_version",
        "ssl_minimum_version",
        "ssl_maximum_version",
        "server_hostname",
    }
)
"""PoolManager options, all plain values that may key a shared pool manager, even at run time."""

URLLIB3 = Library(
    family="urllib3",
    modules=("urllib3",),
    constructors=(
        Constructor(
            name="PoolManager",
            is_async=False,
            accessor="get_urllib3_pool_manager",
            section="urllib3",
            close_methods=frozenset({"clear"}),
            positional=("num_pools", "headers"),
        ),
    ),
    one_shots=frozenset({"request"}),
    pooled_one_shots=frozenset({"request"}),
    request_methods=frozenset({"request", "urlopen", "request_encode_url", "request_encode_body"}),
    # A request's `headers` replace the pool's entirely (no merge), so the request's value simply wins.
    per_request_options=frozenset({"headers", "timeout", "retries"}),
    mapping_options=frozenset(),
    none_falls_back=frozenset({"headers", "retries"}),
    client_options=_URLLIB3_POOL_OPTIONS,
    value_options=_URLLIB3_POOL_OPTIONS,
    one_shot_client_options=frozenset(),
    client_state_attributes=frozenset({"headers", "connection_pool_kw", "pools", "key_fn_by_scheme"}),
    pure_factories=frozenset({"Timeout", "Retry"}),
    refused_options={
        "ssl_context": "the pool manager is given an SSL context object, which cannot key a shared one"
    },
    has_cookie_jar=False,
    tls_off=(("cert_reqs", "CERT_NONE"), ("cert_reqs", "NONE")),
)

LIBRARIES: tuple[Library, ...] = (HTTPX, AIOHTTP, REQUESTS, URLLIB3)
"""Every library the scanner looks for, in report order."""


def library_for_module(module: str) -> Library | None:
    """The library whose API a top-level module name provides, if any."""
    top = module.split(".", 1)[0]
    for library in LIBRARIES:
        if top in library.modules:
            return library
    return None


def all_module_names() -> tuple[str, ...]:
    """Every top-level module name worth a parse: used by the prefilter."""
    return tuple(name for library in LIBRARIES for name in library.modules)

"""Local HTTP and HTTPS test servers that count connections on the server side.

The tests prove connection reuse by counting accepted TCP connections where they
happen, in the server, rather than by inspecting a client's internals. The server
runs in-process in background threads on 127.0.0.1 (never another address).

    with LocalServer(tls=False) as server:
        httpx.get(server.url + "/echo")
        server.connections          # TCP connections accepted so far
        server.requests             # requests answered so far
        server.cookies_received     # Cookie header of every request (None: absent)
        server.headers_received     # headers of every request (lower-case names)
        server.max_open_connections # most connections open at the same time
        server.ca, server.ca_file   # trustme CA and its PEM file (None without TLS)
        server.client_ssl_context() # an ssl.SSLContext that trusts server.ca
        server.restart()            # stop and start again on the same port

Endpoints (any method; a request body is read and ignored):

    /                       200 "ok"
    /echo                   200 JSON {"method", "path", "headers"}
    /set-cookie?name=value  200, with `Set-Cookie: name=value; Path=/` per pair
    /delay?seconds=0.1      200 "ok" after sleeping
    /bytes?n=1024           200 with n bytes
    /status/NNN             that status, empty body

Options: `tls=True` serves HTTPS with a certificate for 127.0.0.1 and localhost
from a throwaway trustme CA; `idle_timeout=S` closes a keep-alive connection that
stays idle for S seconds (like uvicorn's 5 s or gunicorn's 2 s), so tests can
check what a client does with a connection the server has closed.
"""

from __future__ import annotations

import json
import socket
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trustme

__all__ = ["LocalServer"]


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request's body, whether sent with a length or chunked."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY, the separate writes of headers and body meet the
    # client's delayed ACK and every response on a kept-alive connection waits
    # about 40 ms, which would hide what pooling gains.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        # Applies to every read, so an idle keep-alive connection is closed by the
        # server after `idle_timeout` seconds (BaseHTTPRequestHandler's timeout).
        self.timeout = self.server.owner.idle_timeout
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, ssl.SSLError, OSError):
            self.close_connection = True

    def _serve(self) -> None:
        owner = self.server.owner
        read_body(self)
        owner._record(self)
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        status, body, extra = 200, b"ok", []
        content_type = "text/plain"
        if parts.path == "/echo":
            body = json.dumps(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }
            ).encode()
            content_type = "application/json"
        elif parts.path == "/set-cookie":
            extra = [("Set-Cookie", f"{name}={value}; Path=/") for name, value in query]
        elif parts.path == "/delay":
            time.sleep(float(dict(query).get("seconds", "0.1")))
        elif parts.path == "/bytes":
            body = b"x" * int(dict(query).get("n", "1024"))
        elif parts.path.startswith("/status/"):
            status, body = int(parts.path.rsplit("/", 1)[1]), b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, owner: LocalServer, address: tuple[str, int]) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.owner._server_ssl is not None:
            # The handshake happens on the handler thread's first read, so a slow
            # or failing handshake never blocks the accept loop.
            sock = self.owner._server_ssl.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        self.owner._accepted(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        self.owner._released(request)
        super().shutdown_request(request)


class LocalServer:
    """A threaded HTTP/1.1 server with keep-alive on 127.0.0.1; see the module doc."""

    def __init__(
        self,
        *,
        tls: bool = False,
        idle_timeout: float | None = None,
        port: int = 0,
    ) -> None:
        self.tls = tls
        self.idle_timeout = idle_timeout
        self.host = "127.0.0.1"
        self.port = port
        self.ca: trustme.CA | None = None
        self.ca_file: str | None = None
        self._server_ssl: ssl.SSLContext | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if tls:
            self.ca = trustme.CA()
            cert = self.ca.issue_cert("127.0.0.1", "localhost")
            self._server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(self._server_ssl)
            self._tmp = tempfile.TemporaryDirectory(prefix="localserver-")
            self.ca_file = str(Path(self._tmp.name) / "ca.pem")
            self.ca.cert_pem.write_to_path(self.ca_file)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.reset_counts()

    # -- counters ---------------------------------------------------------

    def reset_counts(self) -> None:
        """Set every counter and record back to zero (open connections stay open)."""
        with self._lock:
            self.connections = 0
            self.requests = 0
            self.max_open_connections = len(getattr(self, "_open", ()))
            self.cookies_received: list[str | None] = []
            self.headers_received: list[dict[str, str]] = []
            self.paths: list[str] = []

    @property
    def open_connections(self) -> int:
        """Connections open right now on the server side."""
        with self._lock:
            return len(self._open)

    def _accepted(self, sock: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._open.add(sock)
            self.max_open_connections = max(self.max_open_connections, len(self._open))

    def _released(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def _record(self, handler: _Handler) -> None:
        with self._lock:
            self.requests += 1
            self.cookies_received.append(handler.headers.get("Cookie"))
            self.headers_received.append({k.lower(): v for k, v in handler.headers.items()})
            self.paths.append(handler.path)

    # -- addresses and TLS --------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's CA (TLS servers only)."""
        if self.ca is None:
            raise RuntimeError("this server does not use TLS")
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    # -- life cycle -------------------------------------------------------

    def start(self) -> LocalServer:
        if self._server is not None:
            return self
        self._server = _Server(self, (self.host, self.port))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LocalServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every open connection, as a real restart would."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            open_sockets, self._open = list(self._open), set()
        for sock in open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def restart(self) -> None:
        """Stop, then start again on the same port; counters are kept."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> bool:
        """Poll `predicate(self)` until it is true or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.01)
        return bool(predicate(self))

"""A local HTTP server that records every request exactly as it arrived, for before/after tests.

A rewrite keeps behaviour when the server cannot tell the two programs apart: the same requests,
with the same method, target, header lines (names as sent, in order, `Cookie` included) and body.
`tests/servers.py` counts connections and keeps headers as a dict; this one keeps the raw request
and adds the endpoints that show cookie scope:

    /set-cookie?name=value          200, `Set-Cookie: name=value; Path=/` per pair
    /redirect?to=/path&name=value   302 to `to`, with `Set-Cookie` per other pair
    /status/NNN                     that status, empty body
    anything else                   200, JSON body `{"method": ..., "target": ...}`

    with RecordingServer() as server:
        run_the_code(server.url)
        server.records()            # [(method, target, ((name, value), ...), body), ...]
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.servers import read_body

Record = tuple[str, str, tuple[tuple[str, str], ...], bytes]
"""(method, request target, header lines in order, body)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ConnectionError:  # a client that closed its connection: nothing to answer
            self.close_connection = True

    def _serve(self) -> None:
        body = read_body(self)
        self.server.owner._record((self.command, self.path, tuple(self.headers.items()), body))
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        status, extra = 200, []
        answer = json.dumps({"method": self.command, "target": self.path}).encode()
        if parts.path == "/set-cookie":
            extra = [("Set-Cookie", f"{name}={value}; Path=/") for name, value in query]
        elif parts.path == "/redirect":
            status, answer = 302, b""
            extra = [("Location", dict(query).get("to", "/"))]
            extra += [("Set-Cookie", f"{n}={v}; Path=/") for n, v in query if n != "to"]
        elif parts.path.startswith("/status/"):
            status, answer = int(parts.path.rsplit("/", 1)[1]), b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, owner: RecordingServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class RecordingServer:
    """See the module docstring. Loopback only; records are kept in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _record(self, record: Record) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

"""Local HTTP and HTTPS servers for benchmarks/pool_gain.py, each in processes of its own.

Two kinds, with the same interface (`url`, `ca_file`, `reset_counts()`,
`counts()`, `snapshot()`, `cpu_seconds()`), used as context managers:

* `FastServer`: a minimal HTTP/1.1 server with keep-alive on asyncio (uvloop when
  installed), one or more processes sharing the port (SO_REUSEPORT). It answers
  every request with `200 ok` and costs tens of microseconds of CPU per request
  and per connection, so a benchmark measures the clients rather than the server.
* `ThreadedServer`: tests/servers.py's `LocalServer` (a `ThreadingHTTPServer`,
  a thread per connection), as the benchmark used before; much slower per
  connection and per request, kept for comparison (`--server threaded`).

Both bind 127.0.0.1 only and count, on the server side, the TCP connections
accepted (for TLS, the ones that completed a handshake) and the requests
answered. TLS uses a throwaway trustme CA, whose PEM file is `ca_file`.
`snapshot()` adds the CPU time (user + system, every thread) the server
processes have used so far, so the benchmark can show the server's share.

For benchmarks/keepalive.py and benchmarks/faults.py, `FastServer` also has:

* `GET /delay/<seconds>`: the answer comes after that many seconds (a slow or
  stalled host); `GET /hold/<seconds>` likewise, and not before `release()`;
  `pending()` counts the requests held so at this moment;
* `idle_close=(low, high)`: after each response the server closes the
  connection once it has stayed idle for a random time between `low` and `high`
  seconds (load balancers and servers closing kept-alive connections at random).
  A request that is already on its way when the server closes meets a closed
  connection, as it would on a real network;
* `close_rate=p`: after each response the server closes the connection with
  probability p, without a `Connection: close` header (a recycled worker, a proxy
  dropping connections);
* `restart()`: every connection is dropped and the listener closed, then the
  server listens again on the same port (a restart).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import socket
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
_BODY = b"ok"
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % len(_BODY)
_KEEP = _HEAD + b"\r\n" + _BODY
_CLOSE = _HEAD + b"Connection: close\r\n\r\n" + _BODY
_BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_MAX_HEAD = 65536


class _Counts:
    __slots__ = ("connections", "requests", "pending", "idle_closes")

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.pending = 0
        self.idle_closes = 0


_DELAY = b"/delay/"
_HOLD = b"/hold/"
_released = [False]
"""Whether `release()` was called: /hold/ requests then answer once due."""
_waiting: list[Any] = []
"""Replies to /hold/ requests that are due but wait for `release()`."""
_live: set[Any] = set()
"""Every open connection's protocol, for `restart()`."""


class _HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining; request bodies (Content-Length or
    chunked) are read and ignored. `/delay/<seconds>` answers late, `/hold/<seconds>`
    too and not before `release()`; with `idle_close`, an idle connection is closed
    after a random time, with `close_rate` after some responses."""

    def __init__(
        self, counts: _Counts, idle_close: tuple[float, float] | None = None, close_rate: float = 0.0
    ) -> None:
        self.counts = counts
        self.close_rate = close_rate
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.idle_close = idle_close
        self.timer: asyncio.TimerHandle | None = None
        self.delayed: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self.counts.connections += 1
        _live.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        _live.discard(self)
        for handle in (self.timer, self.delayed):
            if handle is not None:
                handle.cancel()
        if self.delayed is not None:
            self.delayed = None
            self.counts.pending -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.buffer += data
        self._process()

    def _process(self) -> None:
        buffer = self.buffer
        while self.delayed is None and self.transport is not None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    self._reply(_BAD, close=True)
                return
            lines = bytes(buffer[:end]).split(b"\r\n")
            length, chunked = 0, False
            close = lines[0].endswith(b"HTTP/1.0")
            try:
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"transfer-encoding":
                        chunked = b"chunked" in value.lower()
                    elif name == b"connection":
                        value = value.strip().lower()
                        close = value == b"close" or (close and value != b"keep-alive")
            except ValueError:
                self._reply(_BAD, close=True)
                return
            start = end + 4
            if chunked:
                consumed = _chunked_length(buffer, start)
                if consumed is None:
                    return
                start += consumed
            elif len(buffer) < start + length:
                return
            else:
                start += length
            del buffer[:start]
            self.counts.requests += 1
            target = lines[0].split(b" ")[1] if lines[0].count(b" ") >= 2 else b"/"
            hold = target.startswith(_HOLD)
            if hold or target.startswith(_DELAY):
                try:
                    seconds = float(target[len(_HOLD if hold else _DELAY) :])
                except ValueError:
                    seconds = 0.0
                if seconds > 0 or hold:
                    self.counts.pending += 1
                    due = self._hold_due if hold else self._delayed_reply
                    self.delayed = asyncio.get_running_loop().call_later(seconds, due, close)
                    return
            self._reply(_CLOSE if close else _KEEP, close=close)
            if close:
                return

    def _hold_due(self, close: bool) -> None:
        if _released[0]:
            self._delayed_reply(close)
        else:
            _waiting.append(lambda: self._delayed_reply(close))

    def _delayed_reply(self, close: bool) -> None:
        if self.delayed is None:  # the connection was lost meanwhile
            return
        self.delayed = None
        self.counts.pending -= 1
        if self.transport is None:
            return
        self._reply(_CLOSE if close else _KEEP, close=close)
        if not close:
            self._process()

    def _reply(self, response: bytes, *, close: bool) -> None:
        assert self.transport is not None
        self.transport.write(response)
        if self.close_rate and not close and random.random() < self.close_rate:
            self.counts.idle_closes += 1
            close = True
        if close:
            self.buffer.clear()
            self.transport.close()
        elif self.idle_close is not None and not self.buffer:
            if self.timer is not None:
                self.timer.cancel()
            delay = random.uniform(*self.idle_close)
            self.timer = asyncio.get_running_loop().call_later(delay, self._close_idle)

    def _close_idle(self) -> None:
        self.timer = None
        if self.transport is not None and self.delayed is None:
            self.counts.idle_closes += 1
            self.transport.close()


def _chunked_length(buffer: bytearray, start: int) -> int | None:
    """Bytes of a complete chunked body (with trailers) at `start`, or None."""
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0].strip() or b"0", 16)
        position = line_end + 2
        if size == 0:
            trailers_end = buffer.find(b"\r\n\r\n", position - 2)
            return None if trailers_end < 0 else trailers_end + 4 - start
        position += size + 2
        if len(buffer) < position:
            return None


def _fast_main(
    channel: Any,
    port: int,
    certfile: str | None,
    keyfile: str | None,
    idle_close: tuple[float, float] | None = None,
    close_rate: float = 0.0,
) -> None:
    """One server process: serve until told to stop on `channel`."""
    loop: asyncio.AbstractEventLoop
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    context = None
    if certfile is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certfile, keyfile)
    counts = _Counts()

    async def listen(port: int) -> asyncio.AbstractServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((HOST, port))
        sock.listen(1024)
        protocol = lambda: _HttpProtocol(counts, idle_close, close_rate)  # noqa: E731
        return await loop.create_server(protocol, sock=sock, ssl=context, backlog=1024)

    servers = [loop.run_until_complete(listen(port))]
    port = servers[0].sockets[0].getsockname()[1]

    async def restart() -> None:
        servers[0].close()
        for live in list(_live):
            if live.transport is not None:
                live.transport.abort()
        servers[0] = await listen(port)
        channel.send(None)

    def on_command() -> None:
        try:
            command = channel.recv()
        except EOFError:
            command = "stop"
        if command == "reset":
            counts.connections = counts.requests = counts.idle_closes = 0
            channel.send(None)
        elif command == "counts":
            channel.send((counts.connections, counts.requests, time.process_time()))
        elif command == "stats":
            stats = {name: getattr(counts, name) for name in _Counts.__slots__}
            channel.send({**stats, "open": len(_live)})
        elif command == "restart":
            asyncio.ensure_future(restart())
        elif command == "release":
            _released[0] = True
            for reply in _waiting:
                reply()
            _waiting.clear()
            channel.send(None)
        else:
            loop.stop()

    loop.add_reader(channel.fileno(), on_command)
    channel.send((port, os.getpid(), type(loop).__module__.split(".")[0]))
    try:
        loop.run_forever()
    finally:
        servers[0].close()
        loop.close()


def _threaded_main(channel: Any) -> None:
    """The server process of a ThreadedServer: a LocalServer driven by commands."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.servers import LocalServer

    tls = channel.recv()
    with LocalServer(tls=tls) as server:
        channel.send((server.port, os.getpid(), server.ca_file))
        while True:
            command = channel.recv()
            if command == "reset":
                server.reset_counts()
                channel.send(None)
            elif command == "counts":
                channel.send((server.connections, server.requests, time.process_time()))
            else:
                return


class _ServerProcesses:
    kind = ""
    detail = ""

    def __init__(self, tls: bool) -> None:
        self.tls = tls
        self.port = 0
        self.ca_file: str | None = None
        self._context = multiprocessing.get_context("spawn")
        self._children: list[tuple[Any, Any]] = []  # (channel, process)
        self._pids: list[int] = []

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def _start(self, target: Any, *args: Any) -> tuple[Any, Any]:
        channel, child = self._context.Pipe()
        process = self._context.Process(target=target, args=(child, *args), daemon=True)
        process.start()
        child.close()
        self._children.append((channel, process))
        return channel, process

    def reset_counts(self) -> None:
        for channel, _ in self._children:
            channel.send("reset")
        for channel, _ in self._children:
            channel.recv()

    def snapshot(self) -> tuple[int, int, float]:
        """(connections accepted and requests answered since the last reset, CPU
        seconds the server processes have used since they started: user + system,
        every thread)."""
        connections = requests = 0
        cpu = 0.0
        for channel, _ in self._children:
            channel.send("counts")
        for channel, _ in self._children:
            c, r, seconds = channel.recv()
            connections += c
            requests += r
            cpu += seconds
        return connections, requests, cpu

    def counts(self) -> tuple[int, int]:
        """(connections accepted, requests answered) since the last reset."""
        connections, requests, _ = self.snapshot()
        return connections, requests

    @property
    def connections(self) -> int:
        return self.snapshot()[0]

    def cpu_seconds(self) -> float:
        """CPU seconds the server processes have used so far (see snapshot)."""
        return self.snapshot()[2]

    def __exit__(self, *exc: object) -> None:
        for channel, _ in self._children:
            try:
                channel.send("stop")
            except OSError:
                pass
        for channel, process in self._children:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
            channel.close()
        self._children.clear()


class FastServer(_ServerProcesses):
    """The asyncio server in `processes` processes sharing one port."""

    kind = "fast"

    def __init__(
        self,
        tls: bool,
        processes: int = 1,
        *,
        idle_close: tuple[float, float] | None = None,
        close_rate: float = 0.0,
    ) -> None:
        super().__init__(tls)
        self.processes = max(1, processes)
        self.idle_close = idle_close
        self.close_rate = close_rate
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._certs: tuple[str | None, str | None] = (None, None)

    def __enter__(self) -> FastServer:
        if self.tls:
            import trustme

            self._tmp = tempfile.TemporaryDirectory(prefix="bench-server-")
            directory = Path(self._tmp.name)
            ca = trustme.CA()
            cert = ca.issue_cert(HOST, "localhost")
            self.ca_file = str(directory / "ca.pem")
            ca.cert_pem.write_to_path(self.ca_file)
            certfile, keyfile = str(directory / "cert.pem"), str(directory / "key.pem")
            cert.cert_chain_pems[0].write_to_path(certfile)
            for pem in cert.cert_chain_pems[1:]:
                pem.write_to_path(certfile, append=True)
            cert.private_key_pem.write_to_path(keyfile)
            self._certs = (certfile, keyfile)
        try:
            self._start_processes()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start_processes(self) -> None:
        for index in range(self.processes):
            channel, _ = self._start(_fast_main, self.port, *self._certs, self.idle_close, self.close_rate)
            port, pid, loop_name = channel.recv()
            self.port = self.port or port
            self._pids.append(pid)
            if index == 0:
                self.detail = f"{loop_name}, {self.processes} process{'es' if self.processes > 1 else ''}"

    def stats(self) -> dict[str, int]:
        """Connections accepted, requests read and connections closed by
        `idle_close` or `close_rate` (`idle_closes`) since the last reset;
        requests held by `/delay/` or `/hold/` (`pending`) and connections open
        (`open`) right now."""
        total: dict[str, int] = {}
        for channel, _ in self._children:
            channel.send("stats")
        for channel, _ in self._children:
            for name, value in channel.recv().items():
                total[name] = total.get(name, 0) + value
        return total

    def pending(self) -> int:
        return self.stats().get("pending", 0)

    def release(self) -> None:
        """Answer the /hold/ requests that are due, and later ones once due."""
        for channel, _ in self._children:
            channel.send("release")
        for channel, _ in self._children:
            channel.recv()

    def restart(self) -> None:
        """A server restart: each process closes its listener and drops every
        connection it holds (unanswered requests included), then listens again on
        the same port; counters are kept."""
        for channel, _ in self._children:
            channel.send("restart")
        for channel, _ in self._children:
            channel.recv()

    def __exit__(self, *exc: object) -> None:
        super().__exit__()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class ThreadedServer(_ServerProcesses):
    """tests/servers.py's LocalServer in a process of its own."""

    kind = "threaded"
    detail = "ThreadingHTTPServer, a thread per connection"

    def __enter__(self) -> ThreadedServer:
        channel, _ = self._start(_threaded_main)
        channel.send(self.tls)
        self.port, pid, self.ca_file = channel.recv()
        self._pids.append(pid)
        return self

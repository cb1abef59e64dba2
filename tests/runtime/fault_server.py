"""An HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose, for the fault tests.

It runs an asyncio loop in a background thread of the test process and counts, on
the server side, what the fault tests assert on:

    with FaultServer() as server:
        server.url                  # http://127.0.0.1:<port>
        server.connections          # TCP connections accepted so far
        server.requests             # requests read so far (answered or not)
        server.held                 # requests to /hold waiting right now
        server.release()            # answer every held request (and later ones)
        server.drop_on_reuse = 2    # close the next 2 reused connections unanswered
        server.drop_fresh = 1       # the same for the next request on a new connection
        server.dropped              # requests dropped so far
        server.restart()            # close everything, listen again on the same port

Endpoints: `/hold` answers only after `release()` (or after `hold_limit` seconds,
so that a failed test never hangs); anything else answers `200 ok` at once.

`drop_on_reuse` emulates a server that closed a kept-alive connection just as the
client sent a request on it: the request is read and the connection closed with no
answer. `idle_close=(low, high)` closes each connection once it has been idle for a
random time in that range, as servers and load balancers do; `close_rate=p` closes
a connection right after a response with probability p, without saying so in the
response (a worker recycled, a proxy dropping connections); with `close_delay=s`, s
seconds after it (a worker that exits once its answer is out): a request the client
sends meanwhile on that connection is never answered.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from types import TracebackType

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class FaultServer:
    def __init__(
        self,
        *,
        idle_close: tuple[float, float] | None = None,
        close_rate: float = 0.0,
        close_delay: float = 0.0,
        hold_limit: float = 30.0,
    ) -> None:
        self.idle_close = idle_close
        self.close_rate = close_rate
        self.close_delay = close_delay
        self.hold_limit = hold_limit
        self.port = 0
        self.connections = 0
        self.requests = 0
        self.held = 0
        self.drop_on_reuse = 0
        self.drop_fresh = 0
        self.dropped = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._released: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, coroutine: object, timeout: float = 10.0) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._released = self._released or asyncio.Event()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self._server = await asyncio.start_server(self._serve, sock=sock, backlog=1024)
        self.port = sock.getsockname()[1]

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _shutdown(self) -> None:
        """Close everything, then end every task (their errors retrieved)."""
        await self._close_all()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        served = 0
        try:
            while True:
                idle = None
                if served and self.idle_close is not None:
                    idle = random.uniform(*self.idle_close)
                read = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
                # Whatever way the read ends, its error is retrieved (none is logged
                # as never retrieved); a request already read when the idle time
                # runs out is still answered.
                read.add_done_callback(lambda task: task.cancelled() or task.exception())
                await asyncio.wait({read}, timeout=idle)
                if not read.done():
                    read.cancel()
                    return
                try:
                    head = read.result()
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                    return
                self.requests += 1
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                if served and self.drop_on_reuse > 0:
                    self.drop_on_reuse -= 1
                    self.dropped += 1
                    return
                if not served and self.drop_fresh > 0:
                    self.drop_fresh -= 1
                    self.dropped += 1
                    return
                if head.split(b" ", 2)[1] == b"/hold":
                    self.held += 1
                    try:
                        assert self._released is not None
                        async with asyncio.timeout(self.hold_limit):
                            await self._released.wait()
                    except TimeoutError:
                        pass
                    finally:
                        self.held -= 1
                writer.write(_OK)
                await writer.drain()
                served += 1
                if self.close_rate and random.random() < self.close_rate:
                    if self.close_delay:
                        await asyncio.sleep(self.close_delay)
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    def release(self) -> None:
        """Answer every held request now, and every later /hold at once."""
        assert self._released is not None
        self._loop.call_soon_threadsafe(self._released.set)

    def restart(self) -> None:
        """Close the listener and every connection, then listen on the same port."""
        self._call(self._close_all())
        self._call(self._listen())

    def __enter__(self) -> FaultServer:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._released is not None:
            self.release()
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

"""What the refactor buys at run time: a client per request against the shared module.

For httpx (async and sync), aiohttp and requests, over plain HTTP and HTTPS, with one
caller in sequence and with 50 concurrent callers, this sends the same requests to a
local server (127.0.0.1, benchmarks/bench_server.py, in a process of its own) twice:

* per request: the code pool-refactor finds (`async with httpx.AsyncClient() as c`,
  `with httpx.Client() as c`, `async with aiohttp.ClientSession() as s`,
  `requests.get(...)`);
* shared: the code it writes instead (`get_http_client()`, `get_sync_http_client()`,
  `get_aiohttp_session()`, `get_requests_session()`), from the shared-module template
  (the generated module with every section).

It reports requests per second, p50 and p99 latency, the TCP connections the server
accepted, the CPU time per request of the client process and of the server, and the
gain (shared throughput / per-request throughput) against issue 5's targets (10x over
HTTPS, 3x over HTTP), as a rich table or as JSON; then the cost of a warm
`get_http_client()` call and of constructing and closing each client with no request.

    python benchmarks/pool_gain.py                     # full run (about 3 minutes)
    python benchmarks/pool_gain.py --quick             # under a minute
    python benchmarks/pool_gain.py --json              # JSON on stdout instead of the table
    python benchmarks/pool_gain.py --server threaded   # tests/servers.py's server instead

The server (benchmarks/bench_server.py) is a minimal asyncio (uvloop) HTTP/1.1 server
that costs ~10-30 µs of CPU per request and ~50-100 µs per new connection (plus the TLS
handshake), so what is measured is the clients (the Server µs column shows it).
`--server threaded` runs the thread-per-connection test server the benchmark used
before, which costs ~100 µs per request and ~350 µs per connection and so lowers the
gains of the fastest clients (aiohttp over plain HTTP: ~3x instead of ~4-5x).

To be realistic, no client is handed a prebuilt SSL context: the server's throwaway
CA is appended to certifi's bundle and exposed through SSL_CERT_FILE and
REQUESTS_CA_BUNDLE, so every client loads its trust store the way it does in
production (httpx builds a context per client; aiohttp keeps one per process; requests
loads the bundle for every new connection). requests keeps `trust_env` (proxies,
netrc and CA bundle looked up in the environment on every request), as it does by
default. Concurrent sync callers are threads (one process, one GIL), concurrent async
callers are tasks on one asyncio event loop; the same threads, or the same loop, serve
every round of a measurement, so a shared client kept per thread or per loop stays
warm, as on a server's workers. Each shared caller's first request (which opens its
connection) is made untimed; its time is in the JSON (`warmup_seconds`) and its
connection in the Conns column.

Each measurement is split into rounds that alternate the variants, so that a change in
the machine's load hits both alike; every request loop is bounded by a count and a
time limit. The CPU columns (time.process_time() of the client process and of the
server processes) are less sensitive to other load than req/s, hence the CPU gain.
Loopback has no network latency: a new connection costs only CPU here, so these gains
are the smallest a real network would show.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_server import FastServer, ThreadedServer  # noqa: E402

LIBRARIES = ("httpx-async", "httpx-sync", "aiohttp", "requests")
TARGETS = {"https": 10.0, "http": 3.0}
"""Issue 5: the shared client at least 10x the per-request client's throughput over
HTTPS and at least 3x over plain HTTP on loopback."""

Server = FastServer | ThreadedServer


@dataclass
class Sample:
    """One round of one variant."""

    latencies: list[float]
    seconds: float
    client_cpu: float
    server_cpu: float
    connections: int
    warmup_seconds: float
    warmup_connections: int


@dataclass
class Row:
    library: str
    scheme: str
    callers: int
    variant: str
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    connections: int
    client_cpu_us: float
    server_cpu_us: float
    client_core_share: float
    server_core_share: float
    gain: float | None = None
    cpu_gain: float | None = None
    target: float | None = None
    meets_target: bool | None = None
    warmup_seconds: float = 0.0
    warmup_connections: int = 0
    rounds: list[float] = field(default_factory=list)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _shares(total: int, callers: int) -> list[int]:
    return [total // callers + (1 if i < total % callers else 0) for i in range(callers)]


@dataclass
class _Timing:
    """What a runner measured: the timed calls' latencies, their wall time, the
    client's CPU time, and the time the untimed warm-up calls took."""

    latencies: list[float]
    seconds: float
    client_cpu: float
    warmup_seconds: float


class _Threads:
    """`callers` threads kept for a whole cell (every variant and round), so that a
    shared client kept per thread (requests' session) stays warm from one round to
    the next, as it does on a server's worker threads. `run()` has them make
    `total` calls between them, all starting together."""

    def __init__(self, callers: int) -> None:
        self.callers = callers
        self._job: tuple[Callable[[], None], list[int], bool] | None = None
        self._latencies: list[float] = []
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._deadline = float("inf")
        self._start, self._warmed, self._go, self._done = (threading.Barrier(callers + 1) for _ in range(4))
        self._threads = [
            threading.Thread(target=self._loop, args=(index,), daemon=True) for index in range(callers)
        ]
        for thread in self._threads:
            thread.start()

    def _loop(self, index: int) -> None:
        while True:
            try:
                self._start.wait()
            except threading.BrokenBarrierError:
                return
            if self._job is None:
                return
            call, shares, warm = self._job
            mine = []
            try:
                if warm:
                    call()
                self._warmed.wait()
                self._go.wait()
                for _ in range(shares[index]):
                    if time.perf_counter() > self._deadline:
                        break
                    start = time.perf_counter()
                    call()
                    mine.append(time.perf_counter() - start)
            except threading.BrokenBarrierError:
                return
            except BaseException as error:
                self._error = error
                self._abort()
                return
            with self._lock:
                self._latencies.extend(mine)
            self._done.wait()

    def run(
        self, call: Callable[[], None], total: int, limit: float, warm: bool, mark: Callable[[], None]
    ) -> _Timing:
        """With `warm`, each thread first makes one untimed call; `mark()` runs just
        before timing starts."""
        self._job = (call, _shares(total, self.callers), warm)
        self._latencies = []
        self._deadline = float("inf")
        try:
            self._start.wait()
            warmup = time.perf_counter()
            self._warmed.wait()
            warmup = time.perf_counter() - warmup
            mark()
            cpu = time.process_time()
            started = time.perf_counter()
            self._deadline = started + limit
            self._go.wait()
            self._done.wait()
        except threading.BrokenBarrierError:
            raise RuntimeError("a caller failed") from self._error
        except BaseException:  # Ctrl-C: release the threads, which then end
            self._abort()
            raise
        return _Timing(self._latencies, time.perf_counter() - started, time.process_time() - cpu, warmup)

    def _abort(self) -> None:
        for barrier in (self._start, self._warmed, self._go, self._done):
            barrier.abort()

    def close(self) -> None:
        self._job = None
        if not self._start.broken:
            self._start.wait()
        for thread in self._threads:
            thread.join(timeout=10)


async def _run_async(
    call: Callable[[], Awaitable[None]],
    total: int,
    callers: int,
    limit: float,
    warm: bool,
    mark: Callable[[], None],
) -> _Timing:
    """`callers` tasks on this event loop that make `total` calls between them;
    with `warm`, `callers` untimed calls first, all at once."""
    latencies: list[float] = []
    warmup = time.perf_counter()
    if warm:
        await asyncio.gather(*(call() for _ in range(callers)))
    warmup = time.perf_counter() - warmup
    mark()
    cpu = time.process_time()
    started = time.perf_counter()
    deadline = started + limit

    async def worker(count: int) -> None:
        for _ in range(count):
            if time.perf_counter() > deadline:
                break
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(worker(share) for share in _shares(total, callers)))
    return _Timing(latencies, time.perf_counter() - started, time.process_time() - cpu, warmup)


def _scenario(library: str, variant: str, url: str, hc: Any) -> tuple[str, Any]:
    """('sync' | 'async', the call to time) for one library and variant."""
    import aiohttp
    import httpx
    import requests

    if library == "httpx-async":
        if variant == "per-request":

            async def call() -> None:
                async with httpx.AsyncClient() as client:
                    (await client.get(url)).raise_for_status()

        else:

            async def call() -> None:
                (await hc.get_http_client().get(url)).raise_for_status()

        return "async", call
    if library == "aiohttp":
        if variant == "per-request":

            async def call() -> None:
                async with aiohttp.ClientSession() as session, session.get(url) as response:
                    await response.read()

        else:

            async def call() -> None:
                async with hc.get_aiohttp_session().get(url) as response:
                    await response.read()

        return "async", call
    if library == "httpx-sync":
        if variant == "per-request":

            def sync_call() -> None:
                with httpx.Client() as client:
                    client.get(url).raise_for_status()

        else:

            def sync_call() -> None:
                hc.get_sync_http_client().get(url).raise_for_status()

        return "sync", sync_call
    if variant == "per-request":

        def sync_call() -> None:
            requests.get(url).raise_for_status()

    else:

        def sync_call() -> None:
            hc.get_requests_session().get(url).raise_for_status()

    return "sync", sync_call


def _sample(
    library: str,
    variant: str,
    server: Server,
    callers: int,
    total: int,
    limit: float,
    hc: Any,
    runner: asyncio.Runner | _Threads,
) -> Sample:
    kind, call = _scenario(library, variant.split(" ", 1)[0], server.url + "/", hc)
    server.reset_counts()
    at_mark = [(0, 0, 0.0)]

    def mark() -> None:
        at_mark[0] = server.snapshot()

    # A shared client's first call on each caller opens the connection it then
    # keeps: a one-off in a long-running process, so it is made untimed (its
    # connection is still counted). Once warm, the call costs what any other does.
    # A per-request client has nothing to warm.
    warm = variant != "per-request"
    if isinstance(runner, asyncio.Runner):
        timing = runner.run(_run_async(call, total, callers, limit, warm, mark))
    else:
        timing = runner.run(call, total, limit, warm, mark)
    connections, _, server_cpu = server.snapshot()
    return Sample(
        timing.latencies,
        timing.seconds,
        timing.client_cpu,
        server_cpu - at_mark[0][2],
        connections,
        timing.warmup_seconds,
        at_mark[0][0],
    )


def _row(library: str, scheme: str, callers: int, variant: str, samples: list[Sample]) -> Row:
    latencies = [latency for sample in samples for latency in sample.latencies]
    seconds = sum(sample.seconds for sample in samples)
    count = max(len(latencies), 1)
    return Row(
        library=library,
        scheme=scheme,
        callers=callers,
        variant=variant,
        requests=len(latencies),
        seconds=round(seconds, 3),
        requests_per_second=round(len(latencies) / seconds, 1),
        p50_ms=round(_percentile(latencies, 0.50) * 1000, 2),
        p99_ms=round(_percentile(latencies, 0.99) * 1000, 2),
        connections=sum(sample.connections for sample in samples),
        client_cpu_us=round(sum(sample.client_cpu for sample in samples) / count * 1e6, 1),
        server_cpu_us=round(sum(sample.server_cpu for sample in samples) / count * 1e6, 1),
        client_core_share=round(sum(sample.client_cpu for sample in samples) / seconds, 3),
        server_core_share=round(sum(sample.server_cpu for sample in samples) / seconds, 3),
        warmup_seconds=round(sum(sample.warmup_seconds for sample in samples), 3),
        warmup_connections=sum(sample.warmup_connections for sample in samples),
        rounds=[round(len(sample.latencies) / sample.seconds, 1) for sample in samples],
    )


def _cell(
    library: str, server: Server, callers: int, total: int, limit: float, rounds: int, hc: Any
) -> list[Row]:
    """Every variant of one library, scheme and caller count, in interleaved rounds."""
    variants = ["per-request", "shared"]
    samples: dict[str, list[Sample]] = {variant: [] for variant in variants}
    per_round = max(total // rounds, callers)
    hc.close_http_clients()
    hc.reset_http_clients()
    if library in ("httpx-async", "aiohttp"):
        run_in: asyncio.Runner | _Threads = asyncio.Runner()
    else:
        run_in = _Threads(callers)
    try:
        # Per request and shared alternate, so that a change in the machine's load
        # hits both alike. The shared client is kept from one round to the next.
        for index in range(rounds):
            for name in variants if index % 2 == 0 else variants[::-1]:
                samples[name].append(
                    _sample(library, name, server, callers, per_round, limit / rounds, hc, run_in)
                )
    finally:
        _close_shared(hc, run_in)
        run_in.close()
    scheme = "https" if server.tls else "http"
    rows = [_row(library, scheme, callers, variant, samples[variant]) for variant in variants]
    base = rows[0]
    base_cpu = base.client_cpu_us + base.server_cpu_us
    for row in rows[1:]:
        row.gain = round(row.requests_per_second / max(base.requests_per_second, 1e-9), 2)
        row.cpu_gain = round(base_cpu / max(row.client_cpu_us + row.server_cpu_us, 1e-9), 2)
        row.target = TARGETS[scheme]
        row.meets_target = row.gain >= row.target
    return rows


def _close_shared(hc: Any, runner: asyncio.Runner | _Threads) -> None:
    if isinstance(runner, asyncio.Runner):
        runner.run(hc.aclose_http_clients())
    hc.close_http_clients()
    hc.reset_http_clients()


def _accessor_ns(hc: Any) -> dict[str, float]:
    async def measure() -> dict[str, float]:
        hc.get_http_client()
        hc.get_http_client(verify=False)
        number = 200_000
        plain = min(timeit.repeat(hc.get_http_client, number=number, repeat=5)) / number
        keyed = min(timeit.repeat(lambda: hc.get_http_client(verify=False), number=number, repeat=5)) / number
        return {
            "get_http_client()": round(plain * 1e9, 1),
            "get_http_client(verify=False)": round(keyed * 1e9, 1),
        }

    return asyncio.run(measure())


def _construction_us(quick: bool) -> dict[str, float]:
    """Client CPU of constructing and closing each client with no request (the
    part of a per-request client that is not a connection), best of 3 rounds."""
    import aiohttp
    import httpx
    import requests

    def best(run: Callable[[int], None], number: int) -> float:
        run(1)
        times = []
        for _ in range(3):
            cpu = time.process_time()
            run(number)
            times.append((time.process_time() - cpu) / number)
        return round(min(times) * 1e6, 1)

    def requests_session(number: int) -> None:
        for _ in range(number):
            requests.Session().close()

    def httpx_client(number: int) -> None:
        for _ in range(number):
            httpx.Client().close()

    async def aiohttp_sessions(number: int) -> None:
        for _ in range(number):
            await aiohttp.ClientSession().close()

    async def httpx_async_clients(number: int) -> None:
        for _ in range(number):
            await httpx.AsyncClient().aclose()

    small, large = (200, 5) if quick else (1000, 20)
    return {
        "requests.Session()": best(requests_session, small),
        "aiohttp.ClientSession()": best(lambda n: asyncio.run(aiohttp_sessions(n)), small),
        "httpx.Client()": best(httpx_client, large),
        "httpx.AsyncClient()": best(lambda n: asyncio.run(httpx_async_clients(n)), large),
    }


def _trust_bundle(server: Server, directory: Path) -> Path:
    """certifi's bundle plus the server's CA, for SSL_CERT_FILE / REQUESTS_CA_BUNDLE."""
    import certifi

    assert server.ca_file is not None
    bundle = directory / "bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + Path(server.ca_file).read_bytes())
    return bundle


def _notes(rows: list[Row], construction: dict[str, float], load: float | None) -> list[str]:
    """One line per shared row under its target, explained from the measured CPU."""
    notes = []
    by_cell = {(r.library, r.scheme, r.callers, r.variant): r for r in rows}
    for row in rows:
        if row.gain is None or row.meets_target or row.variant != "shared":
            continue
        assert row.cpu_gain is not None and row.target is not None
        base = by_cell[(row.library, row.scheme, row.callers, "per-request")]
        head = f"{row.library} {row.scheme} x{row.callers}: {row.gain:.1f}x, "
        head += f"under the {row.target:.0f}x target."
        if row.cpu_gain < row.target:
            notes.append(
                f"{head} A kept-alive request costs this client {row.client_cpu_us:.0f} µs of CPU "
                f"(the server {row.server_cpu_us:.0f} µs); a new connection per request adds "
                f"{base.client_cpu_us - row.client_cpu_us:.0f} µs to the client and "
                f"{base.server_cpu_us - row.server_cpu_us:.0f} µs to the server. So the CPU per "
                f"request falls only {row.cpu_gain:.1f}x, and on loopback, with no network round "
                "trip to save, that is about all a pool can gain."
            )
        else:
            busy = [base.client_core_share, row.client_core_share]
            notes.append(
                f"{head} The CPU per request falls {row.cpu_gain:.1f}x, which meets it; the throughput "
                f"ratio is lower because the client process used {busy[0]:.0%} of a core with a client "
                f"per request and {busy[1]:.0%} with the shared one: one GIL or event loop, on 2 cores "
                "shared with the server"
                + ("" if load is None else f" and, in this run, a load average of {load:.1f}")
                + "."
            )
    for row in rows:
        if row.variant == "shared" and row.connections > 2 * row.callers:
            notes.append(
                f"{row.library} {row.scheme} x{row.callers}: the shared client opened {row.connections} "
                f"connections for {row.requests} requests: its pool keeps fewer idle connections than "
                "there are callers, so a connection released beyond that limit is closed and another "
                "opened (HTTP_CLIENT_MAX_KEEPALIVE; benchmarks/keepalive.py)."
            )
    for row in rows:
        if row.variant == "shared" and row.warmup_seconds > 0.25:
            notes.append(
                f"{row.library} {row.scheme} x{row.callers}: the shared callers' untimed first requests "
                f"took {row.warmup_seconds:.2f} s in all and opened {row.warmup_connections} connections."
            )
    if notes:
        notes.append(
            "Constructing and closing a client with no request costs "
            + ", ".join(f"{name} {value:.0f} µs" for name, value in construction.items())
            + " of CPU; the rest of a per-request client's extra cost is its new connection."
        )
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and shorter limits")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--requests", type=int, help="requests per measurement")
    parser.add_argument("--seconds", type=float, help="time limit per measurement")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per measurement (2; full run 3)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent callers (50)")
    parser.add_argument("--library", action="append", choices=LIBRARIES, help="only these")
    parser.add_argument(
        "--server",
        choices=("fast", "threaded"),
        default="fast",
        help="fast: asyncio/uvloop server (default); threaded: tests/servers.py's LocalServer",
    )
    parser.add_argument("--server-processes", type=int, default=1, help="processes of the fast server (1)")
    args = parser.parse_args(argv)
    sequential_total = args.requests or (300 if args.quick else 1500)
    concurrent_total = args.requests or (1000 if args.quick else 4000)
    limit = args.seconds or (1.5 if args.quick else 6.0)
    rounds = max(1, args.rounds or (2 if args.quick else 3))
    libraries = args.library or list(LIBRARIES)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    def make_server(tls: bool) -> Server:
        if args.server == "threaded":
            return ThreadedServer(tls)
        return FastServer(tls, processes=args.server_processes)

    with tempfile.TemporaryDirectory() as tmp, make_server(False) as http, make_server(True) as https:
        bundle = _trust_bundle(https, Path(tmp))
        # Before the client libraries are imported: aiohttp builds its default SSL
        # context at import time.
        os.environ["SSL_CERT_FILE"] = str(bundle)
        os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
        for name in list(os.environ):
            if name.startswith("HTTP_CLIENT_"):
                del os.environ[name]
        from pool_refactor.fix.templates import http_client as hc

        rows: list[Row] = []
        for library in libraries:
            for server in (http, https):
                for callers in (1, args.concurrency):
                    total = sequential_total if callers == 1 else concurrent_total
                    cell = _cell(library, server, callers, total, limit, rounds, hc)
                    rows.extend(cell)
                    if not args.json:
                        print(
                            f"  {library:11s} {cell[0].scheme:5s} x{callers:<3d} "
                            + " -> ".join(f"{row.requests_per_second:8.1f}" for row in cell)
                            + " req/s",
                            file=sys.stderr,
                        )
        accessor = _accessor_ns(hc)
        construction = _construction_us(args.quick)
        server_detail = f"{http.kind} server ({http.detail})"

    notes = _notes(rows, construction, load_before)
    if args.json:
        report = {
            "server": server_detail,
            "load_average_at_start": None if load_before is None else round(load_before, 2),
            "targets": TARGETS,
            "rows": [asdict(row) for row in rows],
            "accessor_ns": accessor,
            "construction_us": construction,
            "notes": notes,
        }
        print(json.dumps(report, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    load = "" if load_before is None else f", load average {load_before:.2f} at start"
    table = Table(
        title=f"Per-request client vs shared client (127.0.0.1, {server_detail}{load})",
        caption="Client µs, Server µs: CPU time per request of the client process and of the server. "
        "Gain: shared req/s ÷ per-request req/s; target 10x over HTTPS, 3x over HTTP (✗: under it, "
        "see the notes). CPU gain: the same ratio of client + server CPU per request. Conns: TCP "
        "connections the server accepted, including each shared caller's untimed first request.",
    )
    for column in (
        "Library",
        "Scheme",
        "Callers",
        "Variant",
        "Requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "Conns",
        "Client µs",
        "Server µs",
        "Gain",
        "CPU gain",
    ):
        table.add_column(column, justify="left" if column in ("Library", "Scheme", "Variant") else "right")
    for row in rows:
        gain = ""
        if row.gain is not None:
            gain = f"{row.gain:.1f}x" + ("" if row.meets_target else " ✗")
        table.add_row(
            row.library,
            row.scheme,
            str(row.callers),
            row.variant,
            str(row.requests),
            f"{row.requests_per_second:.0f}",
            f"{row.p50_ms:.2f}",
            f"{row.p99_ms:.2f}",
            str(row.connections),
            f"{row.client_cpu_us:.0f}",
            f"{row.server_cpu_us:.0f}",
            gain,
            "" if row.cpu_gain is None else f"{row.cpu_gain:.1f}x",
        )
    console = Console(width=max(Console().width, 150))
    console.print(table)
    for name, value in accessor.items():
        console.print(f"{name} once warm: {value:.0f} ns per call")
    console.print(
        "Construct and close, no request (client CPU): "
        + ", ".join(f"{name} {value:.0f} µs" for name, value in construction.items())
    )
    for note in notes:
        console.print(f"Note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What the refactor buys at run time: a client per request against the shared module.

For httpx (async and sync), aiohttp and requests, over plain HTTP and HTTPS, with one
caller in sequence and with 50 concurrent callers, this sends the same requests to a
local server (127.0.0.1, tests/servers.py, in a process of its own) twice:

* per request: the code pool-refactor finds (`async with httpx.AsyncClient() as c`,
  `with httpx.Client() as c`, `async with aiohttp.ClientSession() as s`,
  `requests.get(...)`);
* shared: the code it writes instead (`get_http_client()`, `get_sync_http_client()`,
  `get_aiohttp_session()`, `get_requests_session()`), from the shared-module template
  (the generated module with every section).

It reports requests per second, p50 and p99 latency, the TCP connections the server
accepted, and the gain (shared throughput / per-request throughput), as a rich table
or as JSON, plus the cost of a warm `get_http_client()` call.

To be realistic, no client is handed a prebuilt SSL context: the server's throwaway
CA is appended to certifi's bundle and exposed through SSL_CERT_FILE and
REQUESTS_CA_BUNDLE, so every client loads its trust store the way it does in
production (httpx builds a context per client; aiohttp keeps one per process).

    python benchmarks/pool_gain.py            # full run (about 2 to 4 minutes)
    python benchmarks/pool_gain.py --quick    # about 30 to 60 seconds
    python benchmarks/pool_gain.py --json     # JSON on stdout instead of the table

The server is a Python threaded server: it caps the absolute numbers, not the ratios'
direction. Every request loop is bounded by a count and a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import LocalServer  # noqa: E402

LIBRARIES = ("httpx-async", "httpx-sync", "aiohttp", "requests")


def _serve(tls: bool, channel: Any) -> None:
    """The server process: a LocalServer driven by commands on a pipe."""
    with LocalServer(tls=tls) as server:
        channel.send((server.url, server.ca_file))
        while True:
            command = channel.recv()
            if command == "reset":
                server.reset_counts()
                channel.send(None)
            elif command == "counts":
                channel.send((server.connections, server.requests))
            else:
                return


class RemoteServer:
    """A LocalServer in a process of its own, so that its threads do not compete
    with the clients being measured for this process's GIL."""

    def __init__(self, tls: bool) -> None:
        self.tls = tls
        context = multiprocessing.get_context("spawn")
        self._channel, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(tls, child), daemon=True)

    def __enter__(self) -> RemoteServer:
        self._process.start()
        self.url, self.ca_file = self._channel.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._channel.send("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()

    def reset_counts(self) -> None:
        self._channel.send("reset")
        self._channel.recv()

    @property
    def connections(self) -> int:
        self._channel.send("counts")
        connections, _ = self._channel.recv()
        return int(connections)


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
    gain: float | None = None


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _run_sync(call: Callable[[], None], total: int, callers: int, limit: float) -> list[float]:
    deadline = time.perf_counter() + limit
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(count: int) -> None:
        mine = []
        for _ in range(count):
            if time.perf_counter() > deadline:
                break
            start = time.perf_counter()
            call()
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    shares = [total // callers + (1 if i < total % callers else 0) for i in range(callers)]
    if callers == 1:
        worker(total)
    else:
        with ThreadPoolExecutor(callers) as pool:
            list(pool.map(worker, shares))
    return latencies


async def _run_async(
    call: Callable[[], Awaitable[None]], total: int, callers: int, limit: float
) -> list[float]:
    deadline = time.perf_counter() + limit
    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            if time.perf_counter() > deadline:
                break
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    shares = [total // callers + (1 if i < total % callers else 0) for i in range(callers)]
    await asyncio.gather(*(worker(share) for share in shares))
    return latencies


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


def _measure(
    library: str, variant: str, server: RemoteServer, callers: int, total: int, limit: float, hc: Any
) -> Row:
    kind, call = _scenario(library, variant.split(" ", 1)[0], server.url + "/", hc)
    if variant.endswith("keepalive"):
        # httpx keeps at most 20 idle connections by default; with more concurrent
        # callers than that, most connections are closed as soon as they are idle.
        os.environ["HTTP_CLIENT_MAX_KEEPALIVE"] = str(callers)
    hc.close_http_clients()
    hc.reset_http_clients()
    server.reset_counts()
    started = time.perf_counter()
    try:
        if kind == "async":
            latencies = asyncio.run(_run_async(call, total, callers, limit))
        else:
            latencies = _run_sync(call, total, callers, limit)
    finally:
        os.environ.pop("HTTP_CLIENT_MAX_KEEPALIVE", None)
    elapsed = time.perf_counter() - started
    hc.close_http_clients()
    return Row(
        library=library,
        scheme="https" if server.tls else "http",
        callers=callers,
        variant=variant,
        requests=len(latencies),
        seconds=round(elapsed, 3),
        requests_per_second=round(len(latencies) / elapsed, 1),
        p50_ms=round(_percentile(latencies, 0.50) * 1000, 2),
        p99_ms=round(_percentile(latencies, 0.99) * 1000, 2),
        connections=server.connections,
    )


def _accessor_ns(hc: Any) -> dict[str, float]:
    async def measure() -> dict[str, float]:
        hc.get_http_client()
        hc.get_http_client(verify=False)
        number = 200_000
        plain = min(timeit.repeat(hc.get_http_client, number=number, repeat=5)) / number
        keyed = min(timeit.repeat(lambda: hc.get_http_client(verify=False), number=number, repeat=5)) / number
        return {"get_http_client()": plain * 1e9, "get_http_client(verify=False)": keyed * 1e9}

    return asyncio.run(measure())


def _trust_bundle(server: RemoteServer, directory: Path) -> Path:
    """certifi's bundle plus the server's CA, for SSL_CERT_FILE / REQUESTS_CA_BUNDLE."""
    import certifi

    assert server.ca_file is not None
    bundle = directory / "bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + Path(server.ca_file).read_bytes())
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and shorter limits")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--requests", type=int, help="requests per measurement")
    parser.add_argument("--seconds", type=float, help="time limit per measurement")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent callers (50)")
    parser.add_argument("--library", action="append", choices=LIBRARIES, help="only these")
    args = parser.parse_args(argv)
    sequential_total = args.requests or (150 if args.quick else 1000)
    concurrent_total = args.requests or (500 if args.quick else 2000)
    limit = args.seconds or (2.5 if args.quick else 15.0)
    libraries = args.library or list(LIBRARIES)

    with tempfile.TemporaryDirectory() as tmp, RemoteServer(False) as http, RemoteServer(True) as https:
        bundle = _trust_bundle(https, Path(tmp))
        # Before the client libraries are imported: aiohttp builds its default SSL
        # context at import time.
        os.environ["SSL_CERT_FILE"] = str(bundle)
        os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
        for name in list(os.environ):
            if name.startswith("HTTP_CLIENT_"):
                del os.environ[name]
        from pool_refactor.templates import http_client as hc

        rows: list[Row] = []
        for library in libraries:
            for server in (http, https):
                for callers in (1, args.concurrency):
                    total = sequential_total if callers == 1 else concurrent_total
                    variants = ["per-request", "shared"]
                    if callers > 20 and library.startswith("httpx"):
                        variants.append("shared +keepalive")
                    cell = [_measure(library, v, server, callers, total, limit, hc) for v in variants]
                    for row in cell[1:]:
                        row.gain = round(row.requests_per_second / max(cell[0].requests_per_second, 1e-9), 1)
                    rows.extend(cell)
                    if not args.json:
                        print(
                            f"  {library:11s} {cell[0].scheme:5s} x{callers:<3d} "
                            + " -> ".join(f"{row.requests_per_second:8.1f}" for row in cell)
                            + " req/s",
                            file=sys.stderr,
                        )
        accessor = _accessor_ns(hc)

    if args.json:
        print(json.dumps({"rows": [asdict(row) for row in rows], "accessor_ns": accessor}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="Per-request client vs shared client (local server, 127.0.0.1)",
        caption="+keepalive: HTTP_CLIENT_MAX_KEEPALIVE set to the number of callers "
        "(httpx keeps 20 idle connections by default)",
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
        "Connections",
        "Gain",
    ):
        table.add_column(column, justify="left" if column in ("Library", "Scheme", "Variant") else "right")
    for row in rows:
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
            f"{row.gain:.1f}x" if row.gain is not None else "",
        )
    console = Console(width=max(Console().width, 130))
    console.print(table)
    for name, value in accessor.items():
        console.print(f"{name} once warm: {value:.0f} ns per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

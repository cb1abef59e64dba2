"""Keep-alive sizes against concurrency: how many connections each shared client opens.

A shared pool that keeps fewer idle connections than it has concurrent callers closes
a connection as soon as a response frees it, and opens another for the next request
(churn). This sends requests from 1, 20, 50 and 200 concurrent callers (tasks on one
event loop for httpx async and aiohttp, threads for httpx sync, requests and urllib3)
through the shared-module template's accessors, over HTTP and HTTPS, to a local server
(benchmarks/bench_server.py, its own process) that answers after `--latency` seconds
(50 ms, a remote service: without it loopback answers so fast that callers seldom
overlap and no pool needs many connections), with each
keep-alive size, and counts on the server side the connections accepted (in all, and
after every caller's first, untimed, request) and those closed before the run ended:
the churn. With no churn, a run opens at most one connection per caller (✗ marks
more) and closes none. Idle connections do not expire during a run
(HTTP_CLIENT_KEEPALIVE_EXPIRY=60), so that every close is the keep-alive size's.

    python benchmarks/keepalive.py                   # full run (about 4 minutes)
    python benchmarks/keepalive.py --quick           # under a minute
    python benchmarks/keepalive.py --json
    python benchmarks/keepalive.py --library httpx-async --keepalive 20 --keepalive 100

Sizes are `HTTP_CLIENT_MAX_KEEPALIVE` (httpx: idle connections kept; urllib3: per host);
`default` is the template's own default. aiohttp keeps every idle connection until
its keep-alive timeout and requests has a session per thread, so each has one row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_server import FastServer  # noqa: E402
from faults import _drive_async, _drive_threads  # noqa: E402
from pool_gain import _percentile, _trust_bundle  # noqa: E402

LIBRARIES = ("httpx-async", "httpx-sync", "aiohttp", "requests", "urllib3")
SIZES = {"httpx-async": ("20", "64", "default", "256"), "httpx-sync": ("20", "64", "default", "256")}
SIZES["urllib3"] = ("10", "default")


@dataclass
class Row:
    library: str
    scheme: str
    callers: int
    keepalive: str
    requests: int
    errors: int
    connections: int
    after_warmup: int
    closed: int
    p50_ms: float
    p99_ms: float
    client_cpu_us: float
    requests_per_second: float


def _call(library: str, hc: Any, url: str) -> Any:
    if library == "httpx-async":

        async def httpx_async() -> None:
            (await hc.get_http_client().get(url)).raise_for_status()

        return httpx_async
    if library == "aiohttp":

        async def aiohttp_call() -> None:
            async with hc.get_aiohttp_session().get(url) as response:
                response.raise_for_status()
                await response.read()

        return aiohttp_call
    if library == "httpx-sync":
        return lambda: hc.get_sync_http_client().get(url).raise_for_status()
    if library == "requests":
        return lambda: hc.get_requests_session().get(url).raise_for_status()
    return lambda: hc.get_urllib3_pool_manager().request("GET", url)


def _measure(library: str, hc: Any, server: FastServer, url: str, callers: int, total: int) -> Row:
    call = _call(library, hc, url)
    server.reset_counts()
    marked = [0]
    end: dict[str, int] = {}

    def mark() -> None:
        marked[0] = server.stats()["connections"]

    if library in ("httpx-async", "aiohttp"):

        async def amark() -> None:
            await asyncio.to_thread(mark)

        async def main() -> Any:
            try:
                outcome = await _drive_async(call, callers, total, True, None, amark)
                end.update(await asyncio.to_thread(server.stats))
                return outcome
            finally:
                await hc.aclose_http_clients()

        outcome = asyncio.run(main())
    else:
        try:
            outcome = _drive_threads(
                call, callers, total, True, None, mark, lambda: end.update(server.stats())
            )
        finally:
            hc.close_http_clients()
    accepted = end["connections"]
    count = max(len(outcome.latencies), 1)
    return Row(
        library=library,
        scheme=url.split(":", 1)[0],
        callers=callers,
        keepalive=os.environ.get("HTTP_CLIENT_MAX_KEEPALIVE", "default"),
        requests=len(outcome.latencies),
        errors=sum(outcome.errors.values()),
        connections=accepted,
        after_warmup=accepted - marked[0],
        closed=accepted - end["open"],
        p50_ms=round(_percentile(outcome.latencies, 0.5) * 1000, 2),
        p99_ms=round(_percentile(outcome.latencies, 0.99) * 1000, 2),
        client_cpu_us=round(outcome.cpu / count * 1e6, 1),
        requests_per_second=round(len(outcome.latencies) / outcome.seconds, 1),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, callers 1, 20, 50")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--library", action="append", choices=LIBRARIES, help="only these")
    parser.add_argument("--callers", type=int, action="append", help="concurrent callers (1, 20, 50, 200)")
    parser.add_argument("--keepalive", action="append", help="httpx/urllib3 keep-alive sizes to try")
    parser.add_argument("--latency", type=float, default=0.05, help="server answer delay in seconds (0.05)")
    parser.add_argument("--scheme", action="append", choices=("http", "https"), help="only these")
    args = parser.parse_args(argv)
    callers_list = args.callers or ([1, 20, 50] if args.quick else [1, 20, 50, 200])
    libraries = args.library or list(LIBRARIES)
    schemes = args.scheme or ["http", "https"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, FastServer(False) as http, FastServer(True) as https:
        bundle = _trust_bundle(https, Path(tmp))
        os.environ["SSL_CERT_FILE"] = str(bundle)
        os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
        for name in list(os.environ):
            if name.startswith("HTTP_CLIENT_"):
                del os.environ[name]
        # 200 callers opening TLS connections at once on a busy machine can take
        # more than httpx's 5 s, and a connection left idle 5 s expires: this
        # measures what the keep-alive size does, not timeouts.
        os.environ["HTTP_CLIENT_TIMEOUT"] = "30"
        os.environ["HTTP_CLIENT_KEEPALIVE_EXPIRY"] = "60"
        from pool_refactor.fix.templates import http_client as hc

        for library in libraries:
            sizes = args.keepalive or SIZES.get(library, ("default",))
            if library not in SIZES:
                sizes = ("default",)
            for server in (http, https):
                scheme = "https" if server.tls else "http"
                if scheme not in schemes:
                    continue
                url = f"{server.url}/delay/{args.latency}"
                for callers in callers_list:
                    total = max(callers * (5 if args.quick else 10), 50 if args.quick else 100)
                    for size in sizes:
                        if size == "default":
                            os.environ.pop("HTTP_CLIENT_MAX_KEEPALIVE", None)
                        else:
                            os.environ["HTTP_CLIENT_MAX_KEEPALIVE"] = size
                        hc.reset_http_clients()
                        started = time.perf_counter()
                        row = _measure(library, hc, server, url, callers, total)
                        rows.append(row)
                        print(
                            f"  {library:11s} {scheme:5s} x{callers:<3d} keepalive={row.keepalive:7s} "
                            f"conns {row.connections:5d} ({row.after_warmup} after warm-up, "
                            f"{row.closed} closed) / "
                            f"{row.requests} requests, {row.errors} errors, "
                            f"p99 {row.p99_ms:.1f} ms ({time.perf_counter() - started:.1f} s)",
                            file=sys.stderr,
                        )
        os.environ.pop("HTTP_CLIENT_MAX_KEEPALIVE", None)
    if args.json:
        print(
            json.dumps(
                {"load_average_at_start": load, "latency": args.latency, "rows": [asdict(r) for r in rows]},
                indent=2,
            )
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Keep-alive sizes against concurrency (server latency {args.latency * 1000:.0f} ms"
        + ("" if load is None else f", load average {load:.2f} at start")
        + ")",
        caption="Conns: connections the server accepted in the run (✗: more than callers). After warm-up: "
        "those accepted after every caller's first, untimed, request. Closed: those closed before the run "
        "ended (accepted minus open at the end): the churn.",
    )
    for column in (
        "Library",
        "Scheme",
        "Callers",
        "Keep-alive",
        "Requests",
        "Errors",
        "Conns",
        "After warm-up",
        "Closed",
        "p50 ms",
        "p99 ms",
        "Client µs/req",
        "req/s",
    ):
        table.add_column(column, justify="left" if column in ("Library", "Scheme", "Keep-alive") else "right")
    for row in rows:
        table.add_row(
            row.library,
            row.scheme,
            str(row.callers),
            row.keepalive,
            str(row.requests),
            str(row.errors),
            str(row.connections) + (" ✗" if row.connections > row.callers else ""),
            str(row.after_warmup),
            str(row.closed),
            f"{row.p50_ms:.1f}",
            f"{row.p99_ms:.1f}",
            f"{row.client_cpu_us:.0f}",
            f"{row.requests_per_second:.0f}",
        )
    Console(width=max(Console().width, 130)).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

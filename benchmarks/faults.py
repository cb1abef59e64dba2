"""Faults, measured: the per-request code against the shared module, line by line.

For httpx async, httpx sync, aiohttp and requests, `--callers` concurrent callers
(tasks on one event loop, or threads) send `--requests` GETs to a healthy host
(benchmarks/bench_server.py, its own process, on 127.0.0.1) in each scenario:

* baseline: nothing else happens;
* stalled: the callers run once, then `--stalled` requests (200) go to another host
  that answers only after `--stall` seconds (30) and not before the healthy run has
  ended, each with a 40 s timeout (a webhook receiver that hangs), and the callers
  run again. "p99 without" is the first run; "held" counts the stalled requests
  still held when the second run ended (all of them, or the stall did not cover
  it); the stalled requests must then all succeed;
* random closes: the healthy server closes the connection after 10 % of its
  responses, without saying so in the response;
* idle races: the healthy server closes a connection once it has been idle 20 to
  50 ms, while callers pause 0 to 50 ms between requests, so that requests meet
  connections closing under them (a server idle timeout shorter than the client's
  keep-alive expiry);
* restart: once half of the requests are served, the healthy server drops every
  connection and its listener and listens again on the same port;
* DNS failure: the healthy host is reached by name (healthy.test) while `--failing`
  requests (50) go to broken.test, whose lookup fails after `--dns-delay` seconds
  (1 s, a resolver timing out). Names are resolved by a patched
  `socket.getaddrinfo`: no lookup leaves the process.

Each scenario runs the code pool-refactor finds (`async with httpx.AsyncClient() as
c`, `requests.get(...)`, ...) and the code it writes (`get_http_client()`, ...,
from the template). Shared callers make one untimed request first (as in
pool_gain.py), then the fault begins, then the timed requests. Every healthy
request has a 10 s timeout in both variants. The table gives errors, p50 and p99
of the healthy requests that succeeded (the median over `--rounds`, whose variants
alternate), and the connections the healthy server accepted after the warm-up; the
checks below it say, per library and scenario, whether the shared code is at least
as good as the per-request code (no more errors, p99 no higher; `--tolerance`
allows for noise), and whether its p99 with the stalled host stays within 2x of
the run without it.

    python benchmarks/faults.py                  # full size: 10-20 minutes
    python benchmarks/faults.py --quick          # 5 s stall, 100 stalled, 300 requests
    python benchmarks/faults.py --library httpx-async --scenario stalled --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_server import FastServer  # noqa: E402
from pool_gain import _percentile  # noqa: E402

LIBRARIES = ("httpx-async", "httpx-sync", "aiohttp", "requests")
SCENARIOS = ("baseline", "stalled", "random closes", "idle races", "restart", "dns failure")
VARIANTS = ("per-request", "shared")
TIMEOUT = 10.0
STALL_TIMEOUT = 40.0


@dataclass
class Row:
    library: str
    scenario: str
    variant: str
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    connections: int
    seconds: float
    error_kinds: dict[str, int] = field(default_factory=dict)
    held: str = ""
    background: str = ""
    p99_without_ms: float | None = None
    errors_without: int | None = None
    rounds: int = 1


# -- the calls: the code pool-refactor finds, and the code it writes -------------------


def _call(library: str, variant: str, hc: Any, url: str, timeout: float) -> Callable[[], Any]:
    import aiohttp
    import httpx
    import requests

    if library == "httpx-async":
        if variant == "per-request":

            async def per_request_httpx() -> None:
                async with httpx.AsyncClient(timeout=timeout) as client:
                    (await client.get(url)).raise_for_status()

            return per_request_httpx

        async def shared_httpx() -> None:
            (await hc.get_http_client().get(url, timeout=timeout)).raise_for_status()

        return shared_httpx
    if library == "aiohttp":
        limit = aiohttp.ClientTimeout(total=timeout)
        if variant == "per-request":

            async def per_request_aiohttp() -> None:
                async with aiohttp.ClientSession() as session:
                    async with session.get(url, timeout=limit) as response:
                        response.raise_for_status()
                        await response.read()

            return per_request_aiohttp

        async def shared_aiohttp() -> None:
            async with hc.get_aiohttp_session().get(url, timeout=limit) as response:
                response.raise_for_status()
                await response.read()

        return shared_aiohttp
    if library == "httpx-sync":
        if variant == "per-request":

            def per_request_httpx_sync() -> None:
                with httpx.Client(timeout=timeout) as client:
                    client.get(url).raise_for_status()

            return per_request_httpx_sync
        return lambda: hc.get_sync_http_client().get(url, timeout=timeout).raise_for_status()
    if variant == "per-request":
        return lambda: requests.get(url, timeout=timeout).raise_for_status()
    return lambda: hc.get_requests_session().get(url, timeout=timeout).raise_for_status()


# -- drivers: callers that record latencies and errors --------------------------------


@dataclass
class _Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cpu: float = 0.0


def _shares(total: int, callers: int) -> list[int]:
    return [total // callers + (1 if i < total % callers else 0) for i in range(callers)]


async def _drive_async(
    call: Callable[[], Any],
    callers: int,
    total: int,
    warm: bool,
    pause: tuple[float, float] | None,
    between: Callable[[], Awaitable[None]],
) -> _Outcome:
    """With `warm`, each caller's first request, untimed; then `between()`; then
    `total` timed requests from `callers` tasks."""
    outcome = _Outcome()
    if warm:
        await asyncio.gather(*(call() for _ in range(callers)), return_exceptions=True)
    await between()
    rng = random.Random(15)

    async def worker(count: int) -> None:
        for _ in range(count):
            start = time.perf_counter()
            try:
                await call()
            except Exception as error:
                outcome.errors[type(error).__name__] += 1
            else:
                outcome.latencies.append(time.perf_counter() - start)
            if pause is not None:
                await asyncio.sleep(rng.uniform(*pause))

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(share) for share in _shares(total, callers)))
    outcome.seconds, outcome.cpu = time.perf_counter() - started, time.process_time() - cpu
    return outcome


def _drive_threads(
    call: Callable[[], Any],
    callers: int,
    total: int,
    warm: bool,
    pause: tuple[float, float] | None,
    between: Callable[[], None],
    after: Callable[[], None] = lambda: None,
) -> _Outcome:
    """The same with `callers` threads (each keeps its requests session); `after()`
    runs once every thread is done, before they end (and their sessions with them)."""
    outcome = _Outcome()
    lock = threading.Lock()
    warmed, go = threading.Barrier(callers + 1), threading.Barrier(callers + 1)
    finished, leave = threading.Barrier(callers + 1), threading.Barrier(callers + 1)
    rng = random.Random(15)

    def worker(count: int) -> None:
        if warm:
            with contextlib.suppress(Exception):
                call()
        warmed.wait()
        go.wait()
        latencies, errors = [], Counter[str]()
        for _ in range(count):
            start = time.perf_counter()
            try:
                call()
            except Exception as error:
                errors[type(error).__name__] += 1
            else:
                latencies.append(time.perf_counter() - start)
            if pause is not None:
                time.sleep(rng.uniform(*pause))
        with lock:
            outcome.latencies.extend(latencies)
            outcome.errors.update(errors)
        finished.wait()
        leave.wait()

    threads = [
        threading.Thread(target=worker, args=(share,), daemon=True) for share in _shares(total, callers)
    ]
    for thread in threads:
        thread.start()
    warmed.wait()
    try:
        between()
    finally:
        started, cpu = time.perf_counter(), time.process_time()
        go.wait()
    finished.wait()
    outcome.seconds, outcome.cpu = time.perf_counter() - started, time.process_time() - cpu
    try:
        after()
    finally:
        leave.wait()
    for thread in threads:
        thread.join()
    return outcome


# -- background load: the stalled host, the failing name ---------------------------------


class _Background:
    """`count` requests made by `call` in the background (tasks or threads), whose
    outcomes are counted once they end."""

    def __init__(self, call: Callable[[], Any], count: int, is_async: bool) -> None:
        self.call, self.count, self.is_async = call, count, is_async
        self.outcomes: Counter[str] = Counter()
        self._tasks: list[asyncio.Future[Any]] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _record(self, name: str) -> None:
        with self._lock:
            self.outcomes[name] += 1

    async def _one(self) -> None:
        try:
            await self.call()
        except Exception as error:
            self._record(type(error).__name__)
        else:
            self._record("ok")

    def _one_sync(self) -> None:
        try:
            self.call()
        except Exception as error:
            self._record(type(error).__name__)
        else:
            self._record("ok")

    def start_tasks(self) -> None:
        """Async calls: start them as tasks of the running loop."""
        if self.is_async:
            self._tasks = [asyncio.ensure_future(self._one()) for _ in range(self.count)]

    def start_threads(self) -> None:
        """Sync calls: start a thread for each."""
        if not self.is_async:
            self._threads = [threading.Thread(target=self._one_sync, daemon=True) for _ in range(self.count)]
            for thread in self._threads:
                thread.start()

    def done(self) -> int:
        with self._lock:
            return sum(self.outcomes.values())

    async def wait_async(self) -> None:
        await asyncio.gather(*self._tasks)

    def wait(self) -> None:
        for thread in self._threads:
            thread.join()

    def summary(self) -> str:
        return ", ".join(f"{count} {name}" for name, count in sorted(self.outcomes.items()))


@contextlib.contextmanager
def _names(dns_delay: float) -> Iterator[None]:
    """healthy.test resolves to 127.0.0.1; broken.test fails after `dns_delay`
    seconds; nothing else but loopback addresses is looked up."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name == "broken.test":
            time.sleep(dns_delay)
            raise socket.gaierror(socket.EAI_NONAME, "broken.test does not resolve")
        if name not in ("healthy.test", "127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: no lookups in this benchmark")
        return real("127.0.0.1", *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


# -- one scenario ---------------------------------------------------------------------------


@dataclass
class _Setup:
    callers: int
    requests: int
    stalled: int
    stall: float
    failing: int
    dns_delay: float


def _scenario(library: str, scenario: str, variant: str, hc: Any, setup: _Setup) -> Row:
    is_async = library in ("httpx-async", "aiohttp")
    server_options: dict[str, Any] = {}
    pause = None
    if scenario == "random closes":
        server_options["close_rate"] = 0.1
    elif scenario == "idle races":
        server_options["idle_close"] = (0.02, 0.05)
        pause = (0.0, 0.05)
    with contextlib.ExitStack() as stack:
        healthy = stack.enter_context(FastServer(False, **server_options))
        url = healthy.url + "/"
        background: _Background | None = None
        stall_server: FastServer | None = None
        if scenario == "stalled":
            stall_server = stack.enter_context(FastServer(False))
            stall_url = f"{stall_server.url}/hold/{setup.stall}"
            background = _Background(
                _call(library, variant, hc, stall_url, STALL_TIMEOUT), setup.stalled, is_async
            )
        elif scenario == "dns failure":
            stack.enter_context(_names(setup.dns_delay))
            url = f"http://healthy.test:{healthy.port}/"
            broken = f"http://broken.test:{healthy.port}/"
            background = _Background(_call(library, variant, hc, broken, TIMEOUT), setup.failing, is_async)
        call = _call(library, variant, hc, url, TIMEOUT)
        warm = variant == "shared"  # the shared callers' first requests, untimed
        held: list[int] = []
        restarted = threading.Event()

        def restart_when_half_served() -> None:
            deadline = time.monotonic() + 120
            while healthy.stats()["requests"] < setup.requests // 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            healthy.restart()
            restarted.set()

        def before_stall() -> None:
            """The run without the stalled host (stalled scenario only)."""

        def between() -> None:
            """After the warm-up, before the timed requests: the fault begins."""
            if background is not None:
                background.start_threads()
            if stall_server is not None:
                deadline = time.monotonic() + 120
                while stall_server.pending() < setup.stalled and time.monotonic() < deadline:
                    time.sleep(0.05)
            healthy.reset_counts()
            if scenario == "restart":
                threading.Thread(target=restart_when_half_served, daemon=True).start()

        without: _Outcome | None = None
        if is_async:

            async def nothing() -> None:
                pass

            async def between_async() -> None:
                if background is not None:
                    background.start_tasks()
                await asyncio.to_thread(between)

            async def main() -> tuple[_Outcome | None, _Outcome]:
                first = None
                try:
                    if stall_server is not None:
                        first = await _drive_async(call, setup.callers, setup.requests, warm, pause, nothing)
                    outcome = await _drive_async(
                        call, setup.callers, setup.requests, warm, pause, between_async
                    )
                    if stall_server is not None:
                        held.append(await asyncio.to_thread(stall_server.pending))
                        await asyncio.to_thread(stall_server.release)
                    if background is not None:
                        await background.wait_async()
                    return first, outcome
                finally:
                    await hc.aclose_http_clients()

            without, outcome = asyncio.run(main())
        else:
            try:
                if stall_server is not None:
                    without = _drive_threads(call, setup.callers, setup.requests, warm, pause, before_stall)
                outcome = _drive_threads(call, setup.callers, setup.requests, warm, pause, between)
                if stall_server is not None:
                    held.append(stall_server.pending())
                    stall_server.release()
                if background is not None:
                    background.wait()
            finally:
                hc.close_http_clients()
        if scenario == "restart":
            restarted.wait(30)
        connections = healthy.stats()["connections"]
    row = Row(
        library=library,
        scenario=scenario,
        variant=variant,
        requests=len(outcome.latencies) + sum(outcome.errors.values()),
        errors=sum(outcome.errors.values()),
        p50_ms=_ms(outcome.latencies, 0.5),
        p99_ms=_ms(outcome.latencies, 0.99),
        connections=connections,
        seconds=round(outcome.seconds, 2),
        error_kinds=dict(outcome.errors),
    )
    if without is not None:
        row.p99_without_ms = _ms(without.latencies, 0.99)
        row.errors_without = sum(without.errors.values())
    if held:
        row.held = f"{held[0]}/{setup.stalled}"
    if background is not None:
        row.background = background.summary()
    return row


def _ms(latencies: list[float], fraction: float) -> float:
    return round(_percentile(latencies, fraction) * 1000, 1)


def _merge(rows: list[Row]) -> Row:
    """Rounds of one library, scenario and variant: counts added, latencies the
    median of the rounds."""
    first = rows[0]
    if len(rows) == 1:
        return first
    merged = Row(
        library=first.library,
        scenario=first.scenario,
        variant=first.variant,
        requests=sum(r.requests for r in rows),
        errors=sum(r.errors for r in rows),
        p50_ms=statistics.median(r.p50_ms for r in rows),
        p99_ms=statistics.median(r.p99_ms for r in rows),
        connections=sum(r.connections for r in rows),
        seconds=round(sum(r.seconds for r in rows), 2),
        held=min((r.held for r in rows), key=lambda held: int(held.split("/")[0] or 0)),
        background="; ".join(r.background for r in rows if r.background),
        rounds=len(rows),
    )
    for row in rows:
        for name, count in row.error_kinds.items():
            merged.error_kinds[name] = merged.error_kinds.get(name, 0) + count
    if first.p99_without_ms is not None:
        merged.p99_without_ms = statistics.median(r.p99_without_ms or 0.0 for r in rows)
        merged.errors_without = sum(r.errors_without or 0 for r in rows)
    return merged


# -- checks and output ----------------------------------------------------------------------


def _checks(rows: list[Row], tolerance: float) -> list[tuple[str, bool, str]]:
    """(what, passed, detail) for every library and scenario."""
    by = {(r.library, r.scenario, r.variant): r for r in rows}
    checks = []
    for library in dict.fromkeys(r.library for r in rows):
        for scenario in SCENARIOS:
            per_request = by.get((library, scenario, "per-request"))
            shared = by.get((library, scenario, "shared"))
            if shared is not None and per_request is not None:
                ok = shared.errors <= per_request.errors and shared.p99_ms <= per_request.p99_ms * tolerance
                checks.append(
                    (
                        f"{library} {scenario}: shared at least as good as per-request",
                        ok,
                        f"errors {shared.errors} vs {per_request.errors}, "
                        f"p99 {shared.p99_ms:.1f} vs {per_request.p99_ms:.1f} ms",
                    )
                )
            if scenario == "stalled" and shared is not None and shared.p99_without_ms is not None:
                ratio = shared.p99_ms / max(shared.p99_without_ms, 1e-9)
                held, stalled = shared.held.split("/")
                checks.append(
                    (
                        f"{library} stalled: shared p99 within 2x of the run without the stalled host, "
                        "every stalled request still held, no error",
                        ratio <= 2.0 and held == stalled and shared.errors == 0,
                        f"p99 {shared.p99_ms:.1f} vs {shared.p99_without_ms:.1f} ms ({ratio:.2f}x), "
                        f"held {shared.held}, errors {shared.errors}",
                    )
                )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5 s stall, 100 stalled, 300 requests")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--library", action="append", choices=LIBRARIES, help="only these")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="only these")
    parser.add_argument("--callers", type=int, default=50, help="concurrent callers to the healthy host (50)")
    parser.add_argument("--requests", type=int, help="healthy requests per run (1000; quick 300)")
    parser.add_argument("--stalled", type=int, help="requests to the stalled host (200; quick 100)")
    parser.add_argument(
        "--stall", type=float, help="seconds the stalled host holds a request at least (30; quick 5)"
    )
    parser.add_argument("--failing", type=int, default=50, help="requests to the host whose name fails (50)")
    parser.add_argument("--dns-delay", type=float, default=1.0, help="seconds a failing lookup takes (1)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each line, variants alternating (1)")
    parser.add_argument("--tolerance", type=float, default=1.1, help="p99 noise allowed in comparisons (1.1)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="an HTTP_CLIENT_* setting to try"
    )
    args = parser.parse_args(argv)
    setup = _Setup(
        callers=args.callers,
        requests=args.requests or (300 if args.quick else 1000),
        stalled=args.stalled or (100 if args.quick else 200),
        stall=args.stall or (5.0 if args.quick else 30.0),
        failing=args.failing,
        dns_delay=args.dns_delay,
    )
    libraries = args.library or list(LIBRARIES)
    scenarios = [s for s in SCENARIOS if not args.scenario or s in args.scenario]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    for name in list(os.environ):
        if name.startswith("HTTP_CLIENT_"):
            del os.environ[name]
    for setting in args.env:
        name, _, value = setting.partition("=")
        os.environ[name] = value
    from pool_refactor.fix.templates import http_client as hc

    rows: list[Row] = []
    for library in libraries:
        for scenario in scenarios:
            runs: dict[str, list[Row]] = {}
            for index in range(max(1, args.rounds)):
                for variant in VARIANTS if index % 2 == 0 else VARIANTS[::-1]:
                    hc.reset_http_clients()
                    started = time.perf_counter()
                    row = _scenario(library, scenario, variant, hc, setup)
                    runs.setdefault(variant, []).append(row)
                    without = "" if row.p99_without_ms is None else f" (without: {row.p99_without_ms:.1f})"
                    print(
                        f"  {library:11s} {scenario:13s} {variant:11s} errors {row.errors:4d} "
                        f"p50 {row.p50_ms:8.1f} p99 {row.p99_ms:8.1f}{without} ms conns {row.connections:5d} "
                        f"{row.held} {row.background} ({time.perf_counter() - started:.0f} s)",
                        file=sys.stderr,
                    )
            rows.extend(_merge(runs[variant]) for variant in VARIANTS)
    checks = _checks(rows, args.tolerance)
    passed = all(ok for _, ok, _ in checks)
    if args.json:
        report = {
            "load_average_at_start": load,
            "setup": asdict(setup),
            "rows": [asdict(row) for row in rows],
            "checks": [{"check": c, "passed": ok, "detail": d} for c, ok, d in checks],
        }
        print(json.dumps(report, indent=2))
        return 0 if passed else 1
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Faults: per-request vs shared ({setup.callers} callers, {setup.requests} healthy requests, "
        f"{setup.stalled} stalled for {setup.stall:.0f} s or more"
        + ("" if load is None else f", load average {load:.2f} at start")
        + ")",
        caption="p50/p99: healthy requests that succeeded (median of the rounds). Conns: connections the "
        "healthy server accepted after the warm-up. Held: stalled requests still held when the healthy run "
        "ended. p99 without: the same callers just before the stalled requests were sent.",
    )
    columns = (
        "Library",
        "Scenario",
        "Variant",
        "Requests",
        "Errors",
        "p50 ms",
        "p99 ms",
        "p99 without",
        "Conns",
        "Held",
        "Stalled / failing requests",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("Library", "Scenario", "Variant") else "right")
    for row in rows:
        errors = str(row.errors) + (f" ({', '.join(row.error_kinds)})" if row.error_kinds else "")
        table.add_row(
            row.library,
            row.scenario,
            row.variant,
            str(row.requests),
            errors,
            f"{row.p50_ms:.1f}",
            f"{row.p99_ms:.1f}",
            "" if row.p99_without_ms is None else f"{row.p99_without_ms:.1f}",
            str(row.connections),
            row.held,
            row.background,
        )
    console = Console(width=max(Console().width, 160))
    console.print(table)
    for check, ok, detail in checks:
        console.print(f"{'✓' if ok else '✗'} {check}: {detail}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())

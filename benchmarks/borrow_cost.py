"""What a block that borrows the shared pool costs, next to a client built per block.

A per-request client that keeps its own cookies is fixed by giving it the shared pool
(`httpx.AsyncClient(..., transport=get_http_transport())`, `borrow_requests_session()`,
`aiohttp.ClientSession(connector=get_aiohttp_connector(), connector_owner=False)`): the client
object is still built for every block, the SSL context, the pool and the connections are not.
This measures that per-block cost without any request (a request's cost is the same on both
sides once connections are reused; `pool_gain.py` measures that), in one process:

    python benchmarks/borrow_cost.py                # 2,000 blocks per row, median of 5 runs
    python benchmarks/borrow_cost.py --blocks 200 --repeat 3

Each row enters and leaves the block as the rewritten code does (`async with` / `with`), so the
client's close (which leaves a borrowed pool open) is included.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
import requests

from pool_refactor.fix.shared_module import SECTIONS, render


def _shared_module() -> object:
    """The generated module with every section, imported from a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="borrow_cost_"))
    (folder / "borrow_cost_http_client.py").write_text(render(SECTIONS))
    sys.path.insert(0, str(folder))
    return importlib.import_module("borrow_cost_http_client")


def _sync_rows(shared: object) -> dict[str, Callable[[], None]]:
    get_sync_http_transport = shared.get_sync_http_transport  # type: ignore[attr-defined]
    borrow_requests_session = shared.borrow_requests_session  # type: ignore[attr-defined]

    def httpx_client() -> None:
        with httpx.Client():
            pass

    def httpx_borrowed() -> None:
        with httpx.Client(transport=get_sync_http_transport()):
            pass

    def requests_session() -> None:
        with requests.Session():
            pass

    def requests_borrowed() -> None:
        with borrow_requests_session():
            pass

    return {
        "httpx.Client()": httpx_client,
        "httpx.Client(transport=get_sync_http_transport())": httpx_borrowed,
        "requests.Session()": requests_session,
        "borrow_requests_session()": requests_borrowed,
    }


def _async_rows(shared: object) -> dict[str, Callable[[], Awaitable[None]]]:
    get_http_transport = shared.get_http_transport  # type: ignore[attr-defined]
    get_aiohttp_connector = shared.get_aiohttp_connector  # type: ignore[attr-defined]

    async def httpx_client() -> None:
        async with httpx.AsyncClient():
            pass

    async def httpx_borrowed() -> None:
        async with httpx.AsyncClient(transport=get_http_transport()):
            pass

    async def aiohttp_session() -> None:
        async with aiohttp.ClientSession():
            pass

    async def aiohttp_borrowed() -> None:
        async with aiohttp.ClientSession(connector=get_aiohttp_connector(), connector_owner=False):
            pass

    return {
        "httpx.AsyncClient()": httpx_client,
        "httpx.AsyncClient(transport=get_http_transport())": httpx_borrowed,
        "aiohttp.ClientSession()": aiohttp_session,
        "aiohttp.ClientSession(connector=get_aiohttp_connector(), connector_owner=False)": aiohttp_borrowed,
    }


def measure(blocks: int, repeat: int) -> dict[str, float]:
    """Median seconds per block, by row."""
    shared = _shared_module()
    timings: dict[str, list[float]] = {}
    for name, block in _sync_rows(shared).items():
        block()  # warm-up: builds the shared pool
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(blocks):
                block()
            timings.setdefault(name, []).append((time.perf_counter() - start) / blocks)

    async def run_async() -> None:
        for name, ablock in _async_rows(shared).items():
            await ablock()
            for _ in range(repeat):
                start = time.perf_counter()
                for _ in range(blocks):
                    await ablock()
                timings.setdefault(name, []).append((time.perf_counter() - start) / blocks)
        await shared.aclose_http_clients()  # type: ignore[attr-defined]

    asyncio.run(run_async())
    shared.close_http_clients()  # type: ignore[attr-defined]
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blocks", type=int, default=2000, help="blocks per run (default 2000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per row; the median is shown")
    options = parser.parse_args()
    results = measure(options.blocks, options.repeat)
    width = max(len(name) for name in results)
    print(f"{'block':<{width}}  per block")
    for name, seconds in results.items():
        shown = f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} µs"
        print(f"{name:<{width}}  {shown}")


if __name__ == "__main__":
    main()

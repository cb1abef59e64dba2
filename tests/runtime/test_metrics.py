"""The Prometheus gauges of the template (the `metrics-prometheus` section, issue 14 item 4) against
real pools: a request queued for the only connection is counted as waiting while it waits, for httpx
and for aiohttp, and the gauges follow the pools at each scrape."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType

import aiohttp
import prometheus_client
import pytest

_POLLS = 2000
"""Scrapes (10 ms apart) before a test gives up waiting for the queued request."""


def _gauge(name: str) -> dict[str, float]:
    """One gauge of the template's collector, scraped from the default registry, by label."""
    found: dict[str, float] = {}
    for metric in prometheus_client.REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == f"http_client_{name}":
                found[next(iter(sample.labels.values()))] = sample.value
    return found


@contextmanager
def _held_server(release: threading.Event) -> Iterator[str]:
    """An HTTP/1.1 server on 127.0.0.1 that answers each request once `release` is set."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            release.wait()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


async def _until_one_waits() -> dict[str, float]:
    """Scrape until one request is queued; the in-use gauge at that moment."""
    for _ in range(_POLLS):
        if sum(_gauge("connections_waiting").values()) == 1:
            return _gauge("connections_in_use")
        await asyncio.sleep(0.01)
    raise AssertionError(f"no request was counted as waiting: {_gauge('connections_waiting')}")


def test_a_request_queued_for_the_only_httpx_connection_is_waiting(
    hc: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS", "1")
    release = threading.Event()
    with _held_server(release) as url:

        async def main() -> tuple[dict[str, float], dict[str, float], dict[str, float], list[str]]:
            client = hc.get_http_client()
            tasks = [asyncio.create_task(client.get(url)) for _ in range(2)]
            in_use = await _until_one_waits()
            release.set()
            answers = [response.text for response in await asyncio.gather(*tasks)]
            return in_use, _gauge("connections_waiting"), _gauge("connections_max"), answers

        in_use, waiting_after, cap, answers = asyncio.run(main())
    assert list(in_use.values()) == [1.0]
    [name] = in_use
    assert name.startswith("httpx-async[loop=0x")
    assert waiting_after == {name: 0.0} and cap == {name: 1.0}
    assert answers == ["ok", "ok"]


def test_a_request_queued_for_the_only_aiohttp_connection_is_waiting(
    hc: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS", "1")
    release = threading.Event()
    with _held_server(release) as url:

        async def fetch(session: aiohttp.ClientSession) -> str:
            async with session.get(url) as response:
                return await response.text()

        async def main() -> tuple[dict[str, float], dict[str, float], list[str]]:
            session = hc.get_aiohttp_session()
            tasks = [asyncio.create_task(fetch(session)) for _ in range(2)]
            await _until_one_waits()
            release.set()
            answers = list(await asyncio.gather(*tasks))
            return _gauge("connections_waiting"), _gauge("clients"), answers

        waiting_after, clients, answers = asyncio.run(main())
    [name] = waiting_after
    assert name.startswith("aiohttp[loop=0x") and waiting_after[name] == 0.0
    assert list(clients.values()) == [1.0] and name == f"aiohttp[loop={next(iter(clients))}]"
    assert answers == ["ok", "ok"]
    assert _gauge("connections_open") == {}  # the loop is gone, and its clients with it

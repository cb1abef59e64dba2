"""get_http_client() under trio: httpx runs there through anyio, so the shared client
must too, one per `trio.run()`, closed when the run ends. aiohttp is asyncio only."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest
import trio

from tests.servers import LocalServer


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


@pytest.mark.anyio
async def test_shared_client_on_both_backends(
    hc: ModuleType, server: LocalServer, anyio_backend: str
) -> None:
    client = hc.get_http_client()
    for _ in range(5):
        assert (await hc.get_http_client().get(server.url + "/")).text == "ok"
    assert hc.get_http_client() is client
    assert hc.get_http_client(verify=False) is not client
    assert server.connections == 1
    (name,) = [
        name for name in hc.http_client_stats() if name.startswith("httpx-async[loop=") and "," not in name
    ]
    assert hc.http_client_stats()[name]["idle"] == 1
    await hc.aclose_http_clients()
    assert client.is_closed
    assert hc.get_http_client() is not client


def test_one_client_per_trio_run_closed_when_it_ends(hc: ModuleType, server: LocalServer) -> None:
    clients: list[httpx.AsyncClient] = []

    async def main() -> None:
        client = hc.get_http_client()
        clients.append(client)
        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(client.get, server.url + "/delay?seconds=0.01")
        assert hc.get_http_client() is client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trio.run(main)
        trio.run(main)
        gc.collect()
    assert clients[0] is not clients[1]
    assert clients[0].is_closed and clients[1].is_closed
    assert server.requests == 10 and server.connections <= 10
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert hc._async_clients == {} and hc._owned == {}


def test_aiohttp_needs_asyncio(hc: ModuleType) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"get_aiohttp_session\(\) needs a running asyncio event loop"):
            hc.get_aiohttp_session()

    trio.run(main)

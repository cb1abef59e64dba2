"""get_http_client(): one pooled httpx.AsyncClient per event loop and option set."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from types import ModuleType

import httpx
import pytest

from tests.servers import LocalServer

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


def test_reuses_one_connection(hc: ModuleType, server: LocalServer) -> None:
    async def main() -> None:
        for _ in range(20):
            response = await hc.get_http_client().get(server.url + "/")
            assert response.text == "ok"
        assert hc.get_http_client() is hc.get_http_client()

    asyncio.run(main())
    assert server.requests == 20
    assert server.connections == 1


def test_concurrent_callers_share_the_pool(hc: ModuleType, server: LocalServer) -> None:
    async def main() -> None:
        client = hc.get_http_client()
        responses = await asyncio.gather(*(client.get(server.url + "/delay?seconds=0.01") for _ in range(50)))
        assert all(r.status_code == 200 for r in responses)
        opened = server.connections
        await asyncio.gather(*(client.get(server.url + "/") for _ in range(50)))
        # The second wave finds the first wave's connections idle in the pool.
        assert server.connections <= opened + 5

    asyncio.run(main())
    assert server.connections <= 50


def test_each_asyncio_run_gets_a_working_client(hc: ModuleType, server: LocalServer) -> None:
    clients: list[httpx.AsyncClient] = []

    async def main() -> None:
        client = hc.get_http_client()
        clients.append(client)
        for _ in range(3):
            assert (await client.get(server.url + "/")).status_code == 200

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
        asyncio.run(main())  # would fail with "Event loop is closed" on a shared client
        gc.collect()
    assert clients[0] is not clients[1]
    # Each loop's client was closed cleanly when its loop shut down.
    assert clients[0].is_closed and clients[1].is_closed
    assert server.connections == 2
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_uvloop(hc: ModuleType, server: LocalServer) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> httpx.AsyncClient:
        client = hc.get_http_client()
        for _ in range(5):
            assert (await client.get(server.url + "/")).status_code == 200
        return client

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        first = runner.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        second = runner.run(main())
    assert first is not second
    assert first.is_closed and second.is_closed
    assert server.connections == 2


def test_threads_with_their_own_loops(hc: ModuleType, server: LocalServer) -> None:
    clients: dict[int, httpx.AsyncClient] = {}
    errors: list[BaseException] = []

    async def work(index: int) -> None:
        clients[index] = hc.get_http_client()
        for _ in range(5):
            response = await hc.get_http_client().get(server.url + "/delay?seconds=0.01")
            assert response.status_code == 200

    def thread_main(index: int) -> None:
        try:
            asyncio.run(work(index))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({id(client) for client in clients.values()}) == 6
    assert server.connections == 6


def test_no_running_loop_is_a_clear_error(hc: ModuleType) -> None:
    with pytest.raises(RuntimeError, match=r"get_http_client\(\) needs a running asyncio or trio event loop"):
        hc.get_http_client()


@pytest.mark.asyncio
async def test_closed_client_is_rebuilt(hc: ModuleType, server: LocalServer) -> None:
    async with hc.get_http_client() as client:  # someone closes the shared client
        await client.get(server.url + "/")
    assert client.is_closed
    fresh = hc.get_http_client()
    assert fresh is not client
    assert (await fresh.get(server.url + "/")).status_code == 200


_per_test_loop_clients: list[httpx.AsyncClient] = []


@pytest.mark.asyncio
@pytest.mark.parametrize("run", [1, 2])
async def test_pytest_per_test_loops(hc: ModuleType, server: LocalServer, run: int) -> None:
    client = hc.get_http_client()
    assert client not in _per_test_loop_clients
    _per_test_loop_clients.append(client)
    assert (await client.get(server.url + "/")).status_code == 200


@pytest.mark.asyncio
async def test_options_key_distinct_clients(hc: ModuleType, tls_server: LocalServer) -> None:
    default = hc.get_http_client()
    insecure = hc.get_http_client(verify=False)
    assert insecure is not default
    assert hc.get_http_client(verify=False) is insecure
    assert hc.get_http_client(verify=False, http2=False) is hc.get_http_client(http2=False, verify=False)
    # verify=False is really in effect; the default client checks the certificate.
    assert (await insecure.get(tls_server.url + "/")).status_code == 200
    with pytest.raises(httpx.ConnectError):
        await default.get(tls_server.url + "/")


@pytest.mark.asyncio
async def test_https_with_the_test_ca(hc: ModuleType, tls_server: LocalServer) -> None:
    client = hc.get_http_client(verify=tls_server.client_ssl_context())
    for _ in range(5):
        assert (await client.get(tls_server.url + "/")).text == "ok"
    assert tls_server.connections == 1


@pytest.mark.asyncio
async def test_verify_false_survives_the_retry_transport(
    hc: ModuleType, tls_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_CLIENT_RETRIES", "2")
    client = hc.get_http_client(verify=False)
    assert isinstance(client._transport, httpx.AsyncHTTPTransport)
    assert client._transport._pool._retries == 2
    assert (await client.get(tls_server.url + "/")).status_code == 200
    strict = hc.get_http_client()
    with pytest.raises(httpx.ConnectError):
        await strict.get(tls_server.url + "/")


@pytest.mark.asyncio
async def test_unusable_options(hc: ModuleType) -> None:
    with pytest.raises(TypeError, match="hashable"):
        hc.get_http_client(headers={"a": "b"})
    with pytest.raises(TypeError, match="keeps no cookies"):
        hc.get_http_client(cookies=(("a", "b"),))


@pytest.mark.asyncio
async def test_no_cookie_and_no_header_crosses_requests(hc: ModuleType, server: LocalServer) -> None:
    client = hc.get_http_client()
    response = await client.get(server.url + "/set-cookie?session=secret")
    assert response.cookies.get("session") == "secret"  # the caller still sees it
    await client.get(server.url + "/echo", headers={"Authorization": "Bearer one"})
    echoed = (await client.get(server.url + "/echo")).json()
    assert "cookie" not in echoed["headers"]
    assert "authorization" not in echoed["headers"]
    assert server.cookies_received == [None, None, None]
    assert len(client.cookies) == 0
    # A cookie given on a request is still sent with that request.
    await client.get(server.url + "/echo", headers={"Cookie": "mine=1"})
    assert server.cookies_received[-1] == "mine=1"


@pytest.mark.asyncio
async def test_explicit_options_win_over_the_environment(
    hc: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_CLIENT_TIMEOUT", "7")
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS", "3")
    from_env = hc.get_http_client()
    assert from_env.timeout.read == 7.0
    assert from_env._transport._pool._max_connections == 3
    explicit = hc.get_http_client(timeout=2.0, limits=httpx.Limits(max_connections=9))
    assert explicit.timeout.read == 2.0
    assert explicit._transport._pool._max_connections == 9


@pytest.mark.asyncio
async def test_stats(hc: ModuleType, server: LocalServer) -> None:
    client = hc.get_http_client()
    await client.get(server.url + "/")
    in_flight = asyncio.ensure_future(client.get(server.url + "/delay?seconds=0.3"))
    other = asyncio.ensure_future(client.get(server.url + "/delay?seconds=0.3"))
    await asyncio.sleep(0.1)
    stats = hc.http_client_stats()
    (name,) = [name for name in stats if name.startswith("httpx-async[loop=")]
    assert stats[name] == {"open": 2, "idle": 0, "in_use": 2, "unreadable": 0}
    await asyncio.gather(in_flight, other)
    assert hc.http_client_stats()[name] == {"open": 2, "idle": 2, "in_use": 0, "unreadable": 0}


@pytest.mark.asyncio
async def test_stats_tolerate_custom_transports_and_mask_secrets(hc: ModuleType, server: LocalServer) -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    client = hc.get_http_client(transport=mock, base_url="https://user:pw@example.com/x")
    assert (await client.get("/")).status_code == 200
    stats = hc.http_client_stats()
    (name,) = [name for name in stats if "transport=" in name]
    assert "pw" not in name and "***@example.com" in name
    assert stats[name]["unreadable"] == 1 and stats[name]["open"] == 0


@pytest.mark.asyncio
async def test_aclose_and_lifespan(hc: ModuleType, server: LocalServer) -> None:
    client = hc.get_http_client()
    sync_client = hc.get_sync_http_client()
    await client.get(server.url + "/")
    await hc.aclose_http_clients()
    assert client.is_closed and sync_client.is_closed
    assert hc.http_client_stats() == {"pools": {"kept": 0, "evicted": 0, "closed": 0, "max": 16}}
    async with hc.lifespan(object()):
        inside = hc.get_http_client()
        assert inside is not client
        await inside.get(server.url + "/")
    assert inside.is_closed


@pytest.mark.asyncio
async def test_reset_forgets_without_closing(hc: ModuleType) -> None:
    client = hc.get_http_client()
    hc.reset_http_clients()
    assert not client.is_closed
    assert hc.get_http_client() is not client
    await client.aclose()


def test_server_closing_idle_connections(hc: ModuleType) -> None:
    """A server that closes idle keep-alive connections before httpx's keep-alive
    expiry (uvicorn's 5 s, gunicorn's 2 s): httpcore sees the closed socket as
    readable and drops the connection before reuse, so no request fails."""
    with LocalServer(idle_timeout=0.2) as server:

        async def main() -> None:
            client = hc.get_http_client()
            for _ in range(3):
                assert (await client.get(server.url + "/")).status_code == 200
                await asyncio.sleep(0.4)  # the server closes the idle connection
            assert (await client.post(server.url + "/", content=b"x")).status_code == 200

        asyncio.run(main())
        assert server.connections == 4


def test_server_restart_mid_run(hc: ModuleType) -> None:
    with LocalServer() as server:

        async def main() -> None:
            client = hc.get_http_client()
            for round_ in range(3):
                responses = await asyncio.gather(*(client.get(server.url + "/") for _ in range(10)))
                assert all(r.status_code == 200 for r in responses)
                if round_ == 1:
                    server.restart()
                    assert server.wait_for(lambda s: s.open_connections == 0)

        asyncio.run(main())


def test_thousand_requests_through_twenty_connections(
    hc: ModuleType, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No PoolTimeout under the default pool timeout, and never more connections
    than the limit."""
    monkeypatch.setenv("HTTP_CLIENT_MAX_CONNECTIONS", "20")

    async def main() -> None:
        client = hc.get_http_client()
        responses = await asyncio.gather(*(client.get(server.url + "/") for _ in range(1000)))
        assert all(r.status_code == 200 for r in responses)

    asyncio.run(main())  # a PoolTimeout (5 s by default) would fail a request
    assert server.requests == 1000
    assert server.max_open_connections <= 20


def test_aclose_during_traffic(hc: ModuleType, server: LocalServer) -> None:
    async def main() -> None:
        client = hc.get_http_client()
        tasks = [asyncio.ensure_future(client.get(server.url + "/delay?seconds=0.05")) for _ in range(30)]
        await asyncio.sleep(0.01)
        await hc.aclose_http_clients()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            assert isinstance(result, httpx.Response | Exception)
        assert client.is_closed
        fresh = hc.get_http_client()
        assert (await fresh.get(server.url + "/")).status_code == 200

    asyncio.run(asyncio.wait_for(main(), timeout=30))

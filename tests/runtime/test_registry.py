"""Only real clients are kept; closing never raises; the exit hook never waits.

A test that patches a client class (`mock.patch("httpx.AsyncClient",
return_value=MagicMock())`) gets its mock from the accessor, but the registry never
keeps it: a kept mock would be handed to the next test after the patch ended, and
awaiting its `aclose()` at shutdown raised TypeError inside the loop's async
generator shutdown ("error during closing of asynchronous generator").
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import aiohttp
import httpx
import pytest
import requests
import urllib3

from tests.servers import LocalServer

ROOT = Path(__file__).resolve().parents[2]

PATCHES = {
    "get_http_client": "httpx.AsyncClient",
    "get_aiohttp_session": "aiohttp.ClientSession",
    "get_sync_http_client": "httpx.Client",
    "get_requests_session": "requests.Session",
    "get_urllib3_pool_manager": "urllib3.PoolManager",
}
REAL = {
    "get_http_client": httpx.AsyncClient,
    "get_aiohttp_session": aiohttp.ClientSession,
    "get_sync_http_client": httpx.Client,
    "get_requests_session": requests.Session,
    "get_urllib3_pool_manager": urllib3.PoolManager,
}


@pytest.fixture(autouse=True)
def _warn_again(hc: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hc, "_warned", set(), raising=False)


def _in_loop(accessor: str, work: Any) -> Any:
    """Run `work()` where the accessor can be called (in a loop for async ones)."""
    if accessor in ("get_http_client", "get_aiohttp_session"):

        async def main() -> Any:
            return work()

        return asyncio.run(main())
    return work()


@pytest.mark.parametrize("accessor", list(PATCHES))
@pytest.mark.parametrize("double", ["MagicMock", "is_closed=False", "autospec"])
def test_a_patched_class_is_honoured_but_never_kept(hc: ModuleType, accessor: str, double: str) -> None:
    get = getattr(hc, accessor)
    if double == "autospec":
        patch = mock.patch(PATCHES[accessor], autospec=True)
    else:
        fake = mock.MagicMock(is_closed=False, closed=False) if double != "MagicMock" else mock.MagicMock()
        patch = mock.patch(PATCHES[accessor], return_value=fake)
    with patch as patched, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = _in_loop(accessor, lambda: (get(), get()))
        assert first is patched.return_value and second is patched.return_value
    # Warned once, saying how to mock the shared client.
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and f"patch {accessor} where the code under test imports it" in messages[0]
    # After the patch, a real client; no mock anywhere in the registry.
    real = _in_loop(accessor, get)
    assert type(real) is REAL[accessor]
    assert not any(isinstance(obj, mock.NonCallableMock) for obj in _registry(hc))
    hc.close_http_clients()


def _registry(hc: ModuleType) -> list[Any]:
    found: list[Any] = list(hc._sync_clients.values()) + list(hc._urllib3_managers.values())
    found += list(hc._requests_sessions) + [getattr(hc._requests_local, "session", None)]
    for registry in (hc._async_clients, hc._aiohttp_sessions):
        for clients in registry.values():
            found += list(clients.values())
    for owned in hc._owned.values():
        found += owned
    return found


def test_a_patched_subclass_is_not_kept_either(hc: ModuleType) -> None:
    class Recording(httpx.Client):
        pass

    with mock.patch("httpx.Client", Recording), pytest.warns(RuntimeWarning, match="got a Recording"):
        recording = hc.get_sync_http_client()
    assert type(recording) is Recording
    assert type(hc.get_sync_http_client()) is httpx.Client
    recording.close()


def test_the_issue_scenario_shutdown_never_raises(hc: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    """A mock patched in one test, a shared client in the next, shutdown in both."""

    async def patched_test() -> None:
        with mock.patch("httpx.AsyncClient", return_value=mock.MagicMock(is_closed=False)):
            with pytest.warns(RuntimeWarning):
                hc.get_http_client()
        await hc.aclose_http_clients()

    async def next_test() -> httpx.AsyncClient:
        client = hc.get_http_client()
        assert type(client) is httpx.AsyncClient
        return client

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(patched_test())
        client = asyncio.run(next_test())
    assert client.is_closed  # closed cleanly when its loop shut down
    assert not [r for r in caplog.records if "asynchronous generator" in r.getMessage()]


@pytest.mark.parametrize("where", ["aclose", "loop shutdown", "close", "reset"])
def test_closing_never_raises(
    hc: ModuleType, where: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A client whose close fails is forgotten all the same, and nothing raises."""

    async def broken_aclose(*args: Any) -> None:
        raise RuntimeError("close failed")

    def broken_close(*args: Any) -> None:
        raise OSError("close failed")

    monkeypatch.setattr(httpx.AsyncClient, "aclose", broken_aclose)
    monkeypatch.setattr(httpx.Client, "close", broken_close)
    monkeypatch.setattr(requests.Session, "close", broken_close)

    async def main() -> None:
        hc.get_http_client()
        hc.get_http_client(verify=False)
        hc.get_sync_http_client()
        hc.get_requests_session()
        if where == "aclose":
            await hc.aclose_http_clients()
        elif where == "close":
            hc.close_http_clients()
        elif where == "reset":
            hc.reset_http_clients()

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(main())
        hc.close_http_clients()
    assert hc.http_client_stats() == {"pools": {"kept": 0, "evicted": 0, "closed": 0, "max": 16}}
    assert not [r for r in caplog.records if "asynchronous generator" in r.getMessage()]


def test_reset_is_the_test_fixture(hc: ModuleType, server: LocalServer) -> None:
    """reset_http_clients(): fresh clients for the next test; the sync ones are
    closed, the async ones still close with their loop."""
    clients: list[Any] = []

    async def main() -> None:
        first = hc.get_http_client()
        await first.get(server.url + "/")
        hc.reset_http_clients()
        second = hc.get_http_client()
        assert second is not first and not first.is_closed
        clients.extend([first, second])

    sync_client = hc.get_sync_http_client()
    session = hc.get_requests_session()
    asyncio.run(main())
    assert all(client.is_closed for client in clients)
    hc.reset_http_clients()
    assert sync_client.is_closed and hc.get_sync_http_client() is not sync_client
    assert hc.get_requests_session() is not session


def test_closed_clients_are_not_collected(hc: ModuleType) -> None:
    """Code that closes the shared client each time (`async with get_http_client()`)
    gets a new one each time; the loop keeps only the clients still open to close."""

    async def main() -> None:
        for _ in range(5):
            async with hc.get_http_client():
                pass
        assert len(hc._owned[asyncio.get_running_loop()]) == 1

    asyncio.run(main())


def test_the_docstring_fixture_is_there(hc: ModuleType) -> None:
    doc = hc.__doc__ or ""
    assert "@pytest.fixture(autouse=True)" in doc and "http_client.reset_http_clients()" in doc


_EXIT_SCRIPT = """
import sys, threading, time
sys.path.insert(0, {root!r})
from pool_refactor.fix.templates import http_client as hc

client = hc.get_sync_http_client()
busy = threading.Event()

def hold_the_lock():
    with hc._lock:
        busy.set()
        time.sleep(30)

def build_slowly():
    real = hc._httpx_options
    def slow(*args, **kwargs):
        busy.set()
        time.sleep(30)
        return real(*args, **kwargs)
    hc._httpx_options = slow
    hc.get_sync_http_client(verify=False)

threading.Thread(target={target}, daemon=True).start()
busy.wait(10)
print("exiting", flush=True)
"""


@pytest.mark.parametrize("target", ["hold_the_lock", "build_slowly"])
def test_exit_never_waits_for_another_thread(target: str) -> None:
    """A daemon thread that holds the registry lock, or builds a client, at exit:
    the exit hook does not wait for it (the thread sleeps 30 s)."""
    script = textwrap.dedent(_EXIT_SCRIPT).format(root=str(ROOT), target=target)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "exiting\n"
    assert time.monotonic() - started < 20


def test_exit_closes_sync_clients(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import atexit, sys
        sys.path.insert(0, {str(ROOT)!r})
        clients = []
        atexit.register(lambda: print(all(c.is_closed for c in clients)))  # runs last
        from pool_refactor.fix.templates import http_client as hc
        clients += [hc.get_sync_http_client(), hc.get_sync_http_client(verify=False)]
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True\n"


def test_a_forked_child_never_waits_on_a_watcher_no_loop_finalizes(
    hc: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watcher advanced where no loop hooks async generators (a trio token faked by a test, a
    coroutine driven by hand) runs its `finally` synchronously when dropped, and that takes the
    registry lock: the child's fork hook must drop it after releasing the lock, or the child
    hangs (found with two generated modules in one pytest process)."""
    token = object()
    trio = types.SimpleNamespace(lowlevel=types.SimpleNamespace(current_trio_token=lambda: token))
    monkeypatch.setitem(sys.modules, "trio", trio)
    client = hc.get_http_client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
        pid = os.fork()
    if not pid:  # the child
        os._exit(0 if hc.http_client_stats()["pools"]["kept"] == 0 else 1)
    closing = hc.aclose_http_clients()  # the faked run never ends: close its client by hand
    with pytest.raises(StopIteration):
        closing.send(None)
    assert client.is_closed and hc._owned == {}
    hc._watchers.pop(token)  # its `finally` runs now, not at interpreter exit
    assert hc._watchers == {}
    deadline = time.monotonic() + 20
    while (status := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if status == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung in the fork hook")
    assert os.waitstatus_to_exitcode(status[1]) == 0

"""Transport-level mocks keep working with the generated shared clients (why `fix.mocks` does not
list them), checked for real with a client built *before* the mock starts and reused under it.

respx patches httpcore's connection pools, pytest-httpx httpx's transports, responses
`HTTPAdapter.send`, requests-mock `Session.get_adapter`: all on the class, so a shared client built
earlier is caught too (aioresponses patches `ClientSession._request` the same way; its release for
aiohttp 3.14 is broken on its own, so it is not installed here). A patch of a client method on the
class (`requests.Session.post`, what `--fix-tests` writes) reaches the shared client as well.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from unittest import mock

import httpx
import pytest
import requests
import requests_mock
import responses
import respx
from pytest_httpx import HTTPXMock

from pool_refactor.fix import shared_module


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated module with the httpx and requests sections, imported once."""
    path = tmp_path_factory.mktemp("generated") / "transport_http_client.py"
    text = shared_module.plan_update(
        None, {"httpx-async", "httpx-sync", "requests"}, env_prefix="HTTP_CLIENT_", httpx_module="httpx"
    )
    assert isinstance(text, str)
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("transport_http_client", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    module.close_http_clients()
    del sys.modules[spec.name]


def test_respx_catches_a_sync_client_built_before_it(shared: ModuleType) -> None:
    client = shared.get_sync_http_client()
    with respx.mock:
        respx.get("https://api.example.test/a").respond(200, text="from respx")
        assert shared.get_sync_http_client() is client
        assert client.get("https://api.example.test/a").text == "from respx"


def test_respx_catches_an_async_client_built_before_it(shared: ModuleType) -> None:
    async def main() -> str:
        client = shared.get_http_client()
        with respx.mock:
            respx.get("https://api.example.test/b").respond(200, text="async respx")
            assert shared.get_http_client() is client
            return (await client.get("https://api.example.test/b")).text

    assert asyncio.run(main()) == "async respx"


def test_pytest_httpx_catches_the_shared_clients(shared: ModuleType, httpx_mock: HTTPXMock) -> None:
    client = shared.get_sync_http_client()  # built by the first test of this module already
    httpx_mock.add_response(url="https://api.example.test/c", text="sync")
    httpx_mock.add_response(url="https://api.example.test/d", text="async")
    assert client.get("https://api.example.test/c").text == "sync"

    async def main() -> str:
        return (await shared.get_http_client().get("https://api.example.test/d")).text

    assert asyncio.run(main()) == "async"


def test_responses_catches_a_session_built_before_it(shared: ModuleType) -> None:
    session = shared.get_requests_session()
    with responses.RequestsMock() as mocked:
        mocked.add(responses.POST, "https://api.example.test/e", body="from responses")
        assert shared.get_requests_session() is session
        assert session.post("https://api.example.test/e").text == "from responses"


def test_requests_mock_catches_a_session_built_before_it(shared: ModuleType) -> None:
    session = shared.get_requests_session()
    with requests_mock.Mocker() as mocked:
        mocked.get("https://api.example.test/f", text="from requests-mock")
        assert session.get("https://api.example.test/f").text == "from requests-mock"


def test_a_patch_of_the_session_method_gets_the_one_shot_arguments(shared: ModuleType) -> None:
    """`patch("requests.post")` -> `patch("requests.Session.post")`: the same call, without the session."""
    with mock.patch("requests.Session.post") as post:
        post.return_value.status_code = 201
        response = shared.get_requests_session().post("https://api.example.test/g", json={"a": 1}, timeout=5)
    assert response.status_code == 201
    post.assert_called_once_with("https://api.example.test/g", json={"a": 1}, timeout=5)
    assert isinstance(shared.get_requests_session(), requests.Session)
    assert not isinstance(shared.get_sync_http_client(), mock.Mock) and isinstance(
        shared.get_sync_http_client(), httpx.Client
    )


def test_the_generated_module_has_what_the_fixture_needs(shared: ModuleType) -> None:
    assert Path(shared.__file__).name == "transport_http_client.py"
    assert callable(shared.reset_http_clients)

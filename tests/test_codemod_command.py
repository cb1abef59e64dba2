"""The rewrite as a libcst codemod command, in-process and through `python -m libcst.tool codemod`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext, SkipFile

from codemods.command import ShareClientsCommand
from codemods.httpx_shared import ShareHttpxClientsCommand

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop" / "shop"

BEFORE = '''"""Doc."""

import httpx


def fetch(url: str) -> str:
    with httpx.Client(timeout=3.0) as client:  # per call
        return client.get(url).text


async def blocking(url: str) -> int:
    return httpx.get(url).status_code
'''

AFTER_SAFE = '''"""Doc."""

import httpx
from app.http_client import get_sync_http_client


def fetch(url: str) -> str:
    client = get_sync_http_client()  # per call
    return client.get(url, timeout=3.0).text


async def blocking(url: str) -> int:
    return httpx.get(url).status_code
'''

AFTER_UNSAFE = '''"""Doc."""

from app.http_client import get_http_client, get_sync_http_client


def fetch(url: str) -> str:
    client = get_sync_http_client()  # per call
    return client.get(url, timeout=3.0).text


async def blocking(url: str) -> int:
    return (await get_http_client().get(url)).status_code
'''


def _run(command: ShareClientsCommand, source: str) -> str:
    return command.transform_module(cst.parse_module(source)).code


def test_safe_fixes_only_by_default() -> None:
    command = ShareHttpxClientsCommand(CodemodContext(), accessor_module="app.http_client")
    assert _run(command, BEFORE) == AFTER_SAFE


def test_unsafe_fixes_on_request() -> None:
    command = ShareHttpxClientsCommand(CodemodContext(), accessor_module="app.http_client", unsafe_fixes=True)
    assert _run(command, BEFORE) == AFTER_UNSAFE


def test_nothing_to_do_skips_the_file() -> None:
    command = ShareHttpxClientsCommand(CodemodContext(), accessor_module="app.http_client")
    with pytest.raises(SkipFile):
        command.transform_module_impl(cst.parse_module("import httpx\n\nCLIENT = httpx.Client()\n"))


def test_libcst_tool(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "shop")
    (tmp_path / ".libcst.codemod.yaml").write_text(
        "generated_code_marker: '@generated'\nformatter: ['black', '-']\nblacklist_patterns: []\n"
        "modules:\n- 'codemods'\nrepo_root: '.'\n"
    )
    done = subprocess.run(
        [
            sys.executable, "-m", "libcst.tool", "codemod", "--no-format",
            "httpx_shared.ShareHttpxClientsCommand", "--accessor-module", "shop.http_client", "shop",
        ],  # fmt: skip
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    users = (tmp_path / "shop" / "users.py").read_text()
    assert "from shop.http_client import get_http_client, get_sync_http_client" in users
    assert "async with httpx.AsyncClient" not in users

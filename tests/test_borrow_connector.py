"""aiohttp sessions that borrow the shared connector (issue 12, item 1).

A session whose cookies the one shared session would lose (redirects, several requests) keeps its
block and its arguments and gets `connector=get_aiohttp_connector(), connector_owner=False`. The
header the added arguments make too long is wrapped as black wraps it, so the project's formatter
finds nothing new.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from codemods.imports import apply_import_changes
from codemods.shared_client import rewrite_module
from codemods.wrapping import set_line_length
from pool_refactor.plan.analyze import analyze_source

RUFF = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))

SOURCE = """import aiohttp


async def short(url):
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            return await response.text()


async def fits_on_one_line(url):
    async with aiohttp.ClientSession(trust_env=True) as session:
        async with session.get(url) as response:
            return await response.text()


async def hugged(url, token):
    async with aiohttp.ClientSession(
        trust_env=True, headers={"Authorization": f"Bearer {token}"}
    ) as session:
        async with session.get(url) as response:
            return await response.text()


class Bot:
    async def one_per_line(self, url, token):
        if token:
            async with aiohttp.ClientSession(headers={"Authorization": token}, trust_env=True) as session:
                async with session.get(url) as response:
                    return await response.text()
"""


def fix(source: str, limit: int | None) -> str:
    findings = analyze_source(source, "bot.py")
    plans = {f.span: f.plan for f in findings if f.plan and f.fixable}
    context = CodemodContext()
    if limit is not None:
        set_line_length(context, limit)
    module, applied = rewrite_module(cst.parse_module(source), plans, "bot.http_client", context)
    assert applied == set(plans)
    return apply_import_changes(module, context).code


@pytest.mark.parametrize("limit", [88, 100, 120])
def test_a_long_header_is_wrapped_as_black_wraps_it(tmp_path: Path, limit: int) -> None:
    fixed = fix(SOURCE, limit)
    assert fixed.count("connector=get_aiohttp_connector(), connector_owner=False") >= 1
    path = tmp_path / "bot.py"
    path.write_text(fixed)
    done = subprocess.run(
        [RUFF, "format", "--no-cache", "--diff", f"--line-length={limit}", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout
    assert fix(fixed, limit) == fixed, "a second --fix changes nothing"


def test_without_a_line_length_nothing_is_wrapped() -> None:
    fixed = fix(SOURCE, None)
    borrowing = "aiohttp.ClientSession(connector=get_aiohttp_connector(), connector_owner=False) as session:"
    assert f"    async with {borrowing}\n" in fixed

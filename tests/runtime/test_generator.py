"""The shared-module generator: rendering, lint and type checks, updates."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pool_refactor.fix import shared_module
from pool_refactor.fix.shared_module import (
    INTEGRATIONS,
    SECTIONS,
    SharedModuleError,
    plan_update,
    render,
    sections_of,
    template_text,
)
from tests.servers import LocalServer

ALL_SUBSETS = [
    frozenset(combo)
    for size in range(1, len(SECTIONS) + 1)
    for combo in itertools.combinations(SECTIONS, size)
]
HAS_HTTPX2 = importlib.util.find_spec("httpx2") is not None
LIBRARIES = {"httpx": "httpx", "aiohttp": "aiohttp", "requests": "requests", "urllib3": "urllib3"}
SECTION_LIBRARIES = {
    "httpx-async": {"httpx"},
    "httpx-sync": {"httpx"},
    "aiohttp": {"aiohttp"},
    "requests": {"requests", "urllib3"},
    "urllib3": {"urllib3"},
}


def _write_packages(root: Path) -> list[Path]:
    """Every subset of sections, plus the httpx2 variant, as packages under `root`."""
    packages = []
    variants: list[tuple[frozenset[str], dict[str, str]]] = [(subset, {}) for subset in ALL_SUBSETS]
    variants.append((frozenset(SECTIONS), {"env_prefix": "MYAPP_HTTP_", "httpx_module": "httpx2"}))
    for index, (subset, options) in enumerate(variants):
        package = root / f"pkg{index:02d}"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "http_client.py").write_text(render(subset, **options))
        packages.append(package)
    return packages


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_every_rendering_passes_ruff_and_mypy(tmp_path: Path) -> None:
    packages = _write_packages(tmp_path)
    names = [package.name for package in packages]
    default_rules = _run(
        sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", *names, cwd=tmp_path
    )
    assert default_rules.returncode == 0, default_rules.stdout + default_rules.stderr
    project_rules = _run(
        sys.executable,
        "-m",
        "ruff",
        "check",
        "--isolated",
        "--no-cache",
        "--select",
        "E,F,W,I,UP,B",
        "--line-length",
        "88",
        *names,
        cwd=tmp_path,
    )
    assert project_rules.returncode == 0, project_rules.stdout + project_rules.stderr
    formatted = _run(sys.executable, "-m", "ruff", "format", "--isolated", "--check", *names, cwd=tmp_path)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    checked = names if HAS_HTTPX2 else names[:-1]  # mypy needs httpx2 installed for the last
    mypy = _run(
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--no-incremental",
        "--cache-dir",
        str(tmp_path / ".mypy_cache"),
        *checked,
        cwd=tmp_path,
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


_IMPORT_CHECK = r"""
import asyncio, importlib.util, sys
blocked, path, url = sys.argv[1].split(",") if sys.argv[1] else [], sys.argv[2], sys.argv[3]
for name in blocked:
    sys.modules[name] = None  # importing it now raises ImportError
spec = importlib.util.spec_from_file_location("rendered_http_client", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
if hasattr(module, "get_sync_http_client"):
    assert module.get_sync_http_client().get(url).text == "ok"
if hasattr(module, "get_requests_session"):
    assert module.get_requests_session().get(url).text == "ok"
if hasattr(module, "get_urllib3_pool_manager"):
    assert module.get_urllib3_pool_manager().request("GET", url).data == b"ok"
async def main():
    if hasattr(module, "get_http_client"):
        assert (await module.get_http_client().get(url)).text == "ok"
    if hasattr(module, "get_aiohttp_session"):
        async with module.get_aiohttp_session().get(url) as response:
            assert await response.text() == "ok"
    await module.aclose_http_clients()
asyncio.run(main())
module.close_http_clients()
print(sorted(module.http_client_stats()))
"""


@pytest.mark.parametrize("section", SECTIONS)
def test_single_section_imports_only_its_library(tmp_path: Path, server: LocalServer, section: str) -> None:
    path = tmp_path / "http_client.py"
    path.write_text(render([section]))
    blocked = sorted(set(LIBRARIES) - SECTION_LIBRARIES[section])
    result = _run(
        sys.executable, "-c", _IMPORT_CHECK, ",".join(blocked), str(path), server.url + "/", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert server.requests >= 1


def test_template_markers_name_known_sections() -> None:
    names = set()
    for match in re.finditer(r"# section: ([\w\-, ]+)$", template_text(), re.MULTILINE):
        names.update(match.group(1).split(", "))
    assert names == set(SECTIONS) | set(INTEGRATIONS)
    assert template_text().count("# section:") > template_text().count("# end section")


def test_header_and_determinism() -> None:
    text = render(["httpx-sync", "httpx-async"])
    assert text == render(["httpx-async", "httpx-sync"])
    first, second = text.splitlines()[:2]
    assert first.startswith("# Generated by pool-refactor")
    assert second == "# pool-refactor: sections=httpx-async,httpx-sync"
    assert "regenerate" in text.split('"""', 1)[0]
    assert "# section:" not in text and "# end section" not in text
    assert "aiohttp" not in text.split("import httpx", 1)[0].split('"""')[-1]
    assert max(len(line) for line in text.splitlines()) <= 79
    assert sections_of(text) == {"httpx-async", "httpx-sync"}
    assert sections_of(template_text()) is None
    assert sections_of("import httpx\n") is None


def test_settings_are_substituted() -> None:
    text = render(SECTIONS, env_prefix="SVC_HTTP_", httpx_module="httpx2")
    assert "import httpx2 as httpx\n" in text
    assert "\nimport httpx\n" not in text
    assert '_ENV_PREFIX = "SVC_HTTP_"' in text
    assert "HTTP_CLIENT_" not in text
    plain = render(["requests"], httpx_module="httpx2")
    assert "httpx2" not in plain.split("\n", 4)[-1]  # only recorded in the header


@pytest.mark.parametrize(
    ("sections", "options", "message"),
    [
        (["httpx"], {}, "unknown shared-module section"),
        ([], {}, "at least one section"),
        (["requests"], {"env_prefix": "BAD-PREFIX"}, "invalid environment variable prefix"),
        (["requests"], {"env_prefix": 'X"; import os'}, "invalid environment variable prefix"),
        (["requests"], {"httpx_module": "httpx; import os"}, "invalid httpx module name"),
    ],
)
def test_render_errors(sections: list[str], options: dict[str, str], message: str) -> None:
    with pytest.raises(SharedModuleError, match=message):
        render(sections, **options)  # type: ignore[arg-type]


def test_plan_update() -> None:
    created = plan_update(None, ["httpx-async"])
    assert created == render(["httpx-async"])
    assert plan_update(None, []) is None
    # Written by us with every needed section: left as it is, edited or not.
    assert plan_update(created, ["httpx-async"]) is None
    edited = created.replace("one long-lived client", "one shared client")
    assert plan_update(edited, ["httpx-async"]) is None
    # Missing sections, unchanged file: regenerated with the union.
    grown = plan_update(created, ["requests", "httpx-async"])
    assert grown is not None and sections_of(grown) == {"httpx-async", "requests"}
    assert plan_update(grown, ["requests"]) is None  # idempotent
    # A CRLF checkout of an unchanged file is not an edit.
    assert plan_update(created.replace("\n", "\r\n"), ["aiohttp"]) == render(["httpx-async", "aiohttp"])
    # Missing sections, edited file: refused with what is missing and how to fix it.
    with pytest.raises(SharedModuleError) as error:
        plan_update(edited, ["aiohttp", "urllib3"])
    assert "edited" in str(error.value) and "aiohttp, urllib3" in str(error.value)
    assert "pool-refactor scan --fix" in str(error.value)
    # A header without its hash counts as edited.
    stripped = "\n".join(line for line in created.splitlines() if "sha=" not in line)
    with pytest.raises(SharedModuleError, match="edited"):
        plan_update(stripped, ["aiohttp"])


def _as_older_version_wrote_it(text: str, drop: str) -> str:
    """`text` without the function `drop`, with a header whose hash matches: a module an older
    version generated, which nobody edited."""
    body_start = text.index("\n\n") + 2
    header, body = text[:body_start], text[body_start:]
    start = body.index(f"\ndef {drop}(") + 1
    end = body.index("\ndef ", start) + 1
    body = body[:start] + body[end:]
    settings = "".join(
        line for line in header.splitlines(keepends=True) if "sections=" in line or "env-prefix=" in line
    )
    digest = shared_module._digest(settings, body)[: shared_module._HASH_CHARS]
    header = re.sub(r"sha=\w+", f"sha={digest}", header)
    return header + body


def test_plan_update_brings_an_unedited_older_module_up_to_date() -> None:
    """A rewrite of this version may import an accessor an older module lacks (borrowing the
    aiohttp connector): an unedited module is re-rendered, an edited one is refused by name."""
    current = render(["aiohttp"])
    older = _as_older_version_wrote_it(current, "get_aiohttp_connector")
    assert shared_module.is_unchanged(older)
    assert plan_update(older, ["aiohttp"]) == current
    edited = older.replace("Close every", "Close all", 1)
    assert edited != older
    with pytest.raises(SharedModuleError, match="edited.*lacks get_aiohttp_connector"):
        plan_update(edited, ["aiohttp"])
    # The same module from another version (only the version in its first line differs), or
    # with other line endings: left as it is.
    renamed = current.replace(
        current.split("\n", 1)[0], "# Generated by pool-refactor 9.9.9 from its template; edit freely."
    )
    assert plan_update(renamed, ["aiohttp"]) is None
    assert plan_update(current.replace("\n", "\r\n"), ["aiohttp"]) is None


def test_plan_update_refuses_foreign_files() -> None:
    for text in ["", "import httpx\n", "# my own client module\n", template_text()]:
        with pytest.raises(SharedModuleError, match="not written by pool-refactor.*--module"):
            plan_update(text, ["httpx-sync"])


def test_plan_update_keeps_recorded_settings() -> None:
    existing = render(["httpx-sync"], env_prefix="APP_HTTP_", httpx_module="httpx2")
    updated = plan_update(existing, ["httpx-async"])
    assert updated == render(["httpx-sync", "httpx-async"], env_prefix="APP_HTTP_", httpx_module="httpx2")


def test_shared_module_public_names() -> None:
    assert SECTIONS == ("httpx-async", "httpx-sync", "aiohttp", "requests", "urllib3")
    assert issubclass(shared_module.SharedModuleError, Exception)


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not HAS_HTTPX2, reason="httpx2 is not installed")
def test_httpx2_rendering_runs(tmp_path: Path, server: LocalServer) -> None:
    path = tmp_path / "http_client_httpx2.py"
    path.write_text(render(["httpx-async", "httpx-sync"], httpx_module="httpx2"))
    module = _load(path, "rendered_http_client_httpx2")
    client = module.get_sync_http_client()
    assert type(client).__module__.startswith("httpx2")
    for _ in range(5):
        assert client.get(server.url + "/set-cookie?a=1").status_code == 200

    async def main() -> None:
        async_client = module.get_http_client()
        assert type(async_client).__module__.startswith("httpx2")
        for _ in range(5):
            assert (await async_client.get(server.url + "/")).status_code == 200

    asyncio.run(main())
    module.close_http_clients()
    assert server.connections == 2
    assert set(server.cookies_received) == {None}

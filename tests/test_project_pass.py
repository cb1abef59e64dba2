"""Factories, wrapper classes and client subclasses defined in one module of the project and called
in another (`run.project`): reported exactly as in the one-module case, with the chain naming the
other file and line, through every report, `--check`, the cache and `--fix`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import cli
from tests.test_startup import imported, loaded

FIXTURE = Path(__file__).parent / "fixtures" / "scan_project"
_MARK = re.compile(r"#\s*expect:\s*(?P<body>[^#\n]+)")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(FIXTURE, target)
    hour_ago = time.time() - 3600  # old enough for the cache to trust each file's stat
    for path in target.rglob("*.py"):
        os.utime(path, (hour_ago, hour_ago))
    return target


def scan_json(folder: Path, *args: str) -> list[dict[str, Any]]:
    done = cli(folder, "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    findings: list[dict[str, Any]] = json.loads(done.stdout)["findings"]
    return findings


def _words(finding: dict[str, Any]) -> list[str]:
    words = [finding["code"], finding["verdict"]]
    if finding["in_loop"]:
        words.append("loop")
    return words


def test_every_shape_is_reported_exactly(project: Path) -> None:
    findings = scan_json(project, "--no-cache")
    expected_file = FIXTURE / "expected.json"
    if os.environ.get("POOL_REFACTOR_UPDATE_GOLDEN"):
        expected_file.write_text(json.dumps(findings, indent=2) + "\n", encoding="utf-8")
    assert findings == json.loads(expected_file.read_text(encoding="utf-8"))
    # ...and the golden file agrees with the markers written by hand on each line.
    marked: dict[tuple[str, int], list[str]] = {}
    for path in sorted(project.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = _MARK.search(line)
            if match:
                marked[(path.relative_to(project).as_posix(), number)] = match.group("body").split()
    got = {(f["path"], f["line"]): _words(f) for f in findings}
    assert got == marked


def test_the_chain_names_the_other_file_and_line(project: Path) -> None:
    by_place = {(f["path"], f["line"]): f for f in scan_json(project, "--no-cache")}
    wrapper = by_place[("shop/api/handlers.py", 9)]
    assert wrapper["message"] == (
        "`Retrying()` (it builds `httpx.AsyncClient` at shop/clients.py:20, in "
        "`RetryingHttpClient.__init__`) created and closed within `profile` (a new client per call)"
    )
    subclass = by_place[("shop/commands.py", 8)]
    assert subclass["message"].startswith("`APIClient` (an `httpx.Client`, defined at shop/clients.py:8)")
    assert subclass["reason"] == (
        "`APIClient` (shop/clients.py:8) subclasses `httpx.Client`; "
        "its overrides would be lost on the shared client"
    )
    plain = by_place[("shop/commands.py", 21)]
    assert "defined in another module" in plain["reason"] and not plain["fixable"]
    factory = by_place[("shop/api/hooks.py", 15)]
    assert "from the factory `Api.make_client` at shop/clients.py:44" in factory["message"]


@pytest.mark.parametrize("fmt", ["sarif", "concise", "github", "markdown"])
def test_other_reports_show_the_chain(project: Path, fmt: str) -> None:
    done = cli(project, "--format", fmt, "--no-cache")
    assert done.returncode == 0, done.stderr
    assert "shop/clients.py:20" in done.stdout
    if fmt != "markdown":  # the markdown report gives the reasons of the sites left, not messages
        assert "shop/clients.py:44" in done.stdout


def test_check_counts_calls_of_another_module_as_per_request(tmp_path: Path) -> None:
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "retry.py").write_text(
        "import httpx\n\n\nclass Retrying:\n    def __init__(self):\n        self.c = httpx.Client()\n"
    )
    handler = package / "handler.py"
    handler.write_text(
        "from app.retry import Retrying\n\n\ndef get(url):\n    return Retrying().c.get(url)\n"
    )
    assert cli(tmp_path, "--check", "--no-cache", "-q").returncode == 1
    handler.write_text(
        "from app.retry import Retrying\n\n\n"
        "def get(url):\n    return Retrying().c.get(url)  # noqa: POOL201\n"
    )
    assert cli(tmp_path, "--check", "--no-cache", "-q").returncode == 0


def test_the_cache_follows_both_files(project: Path) -> None:
    cold = scan_json(project)
    assert scan_json(project) == cold  # warm: every answer from the cache
    clients = project / "shop" / "clients.py"
    text = clients.read_text(encoding="utf-8")
    # The wrapper stops building a client: its callers elsewhere are no longer constructions.
    clients.write_text(text.replace("self._client = httpx.AsyncClient()", "self._client = None"))
    after = scan_json(project)
    assert not [f for f in after if f["path"] == "shop/api/handlers.py" and "Retrying" in f["message"]]
    assert [f for f in after if f["path"] == "shop/commands.py"] == [
        f for f in cold if f["path"] == "shop/commands.py"
    ]
    clients.write_text(text)
    assert scan_json(project) == cold
    # The importing file changes alone: its findings follow, the others are reused.
    handlers = project / "shop" / "api" / "handlers.py"
    handlers.write_text(
        handlers.read_text(encoding="utf-8").replace("    client = Retrying()", "    client = 1")
    )
    changed = scan_json(project)
    assert ("shop/api/handlers.py", 9) not in {(f["path"], f["line"]) for f in changed}
    assert len(changed) == len(cold) - 1


def test_an_importer_that_did_not_change_sees_a_new_export(tmp_path: Path) -> None:
    """`use.py` is unchanged and answered by its stat; the factory it imports appears in another
    file, which changes the project pass's fingerprint, so its findings are computed again."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "use.py").write_text(
        "from lib.make import build\n\n\ndef get(url):\n    with build() as c:\n        return c.get(url)\n"
    )
    hour_ago = time.time() - 3600
    os.utime(tmp_path / "use.py", (hour_ago, hour_ago))
    assert scan_json(tmp_path) == []
    (tmp_path / "lib" / "make.py").write_text("import httpx\n\n\ndef build():\n    return httpx.Client()\n")
    expected = [("lib/make.py", 5, "POOL301"), ("use.py", 5, "POOL101")]
    assert [(f["path"], f["line"], f["code"]) for f in scan_json(tmp_path)] == expected
    assert [(f["path"], f["line"], f["code"]) for f in scan_json(tmp_path)] == expected  # warm


def test_a_warm_run_with_exports_loads_no_scanner(project: Path) -> None:
    """Once `--fix` has given the hooks whose calls all close their client the shared pool, the
    other exports plan nothing new: a warm run reads the cache only. (Before, a hook of one
    module whose calls in another all close it is planned again on every run: `settle_hooks`.)"""
    assert cli(project, "--fix").returncode == 0
    hour_ago = time.time() - 3600  # the files --fix wrote, old enough for the cache to trust
    for path in project.rglob("*.py"):
        os.utime(path, (hour_ago, hour_ago))
    imported(["scan", ".", "--format", "concise"], project)  # fills the cache
    modules = imported(["scan", ".", "--format", "concise"], project)
    assert loaded(modules, "pool_refactor.run.project")
    assert not loaded(modules, "pool_refactor.scan.scanner")
    assert not loaded(modules, "pool_refactor.plan")


def test_fix_keeps_the_calls_of_other_modules_where_they_now_stand(tmp_path: Path) -> None:
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "retry.py").write_text(
        "import httpx\n\n\nclass Retrying:\n    def __init__(self):\n        self.c = httpx.Client()\n"
    )
    (package / "handler.py").write_text(
        "import httpx\n\nfrom app.retry import Retrying\n\n\n"
        "def fetch(url):\n    with httpx.Client() as client:\n        return client.get(url).text\n\n\n"
        "def get(url):\n    return Retrying().c.get(url)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", "--fix", "--no-cache", "--format", "json", "app"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "get_sync_http_client" in (package / "handler.py").read_text()
    left = [(f["path"], f["line"], f["code"]) for f in json.loads(done.stdout)["findings"]]
    text = (package / "handler.py").read_text().splitlines()
    line = next(n for n, t in enumerate(text, start=1) if "Retrying()" in t)
    assert ("app/handler.py", line, "POOL201") in left


def test_a_package_scanned_from_inside_with_a_folder_without_init(tmp_path: Path) -> None:
    """`app/sub/` has no `__init__.py` (a namespace subpackage of the regular package `app`), and
    the scan runs inside `app/`: `from app.clients import ...` still resolves from the folder above
    the outermost regular package, as the interpreter resolves it."""
    package = tmp_path / "app"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "clients.py").write_text(
        "import httpx\n\n\nclass Retrying:\n    def __init__(self):\n        self.c = httpx.Client()\n"
    )
    (package / "sub" / "handler.py").write_text(
        "from app.clients import Retrying\n\n\ndef get(url):\n    return Retrying().c.get(url)\n"
    )
    found = [(f["path"], f["line"], f["code"]) for f in scan_json(package, "--no-cache")]
    assert found == [("clients.py", 6, "POOL001"), ("sub/handler.py", 5, "POOL201")]


def test_a_package_below_folders_without_init_inside_an_outer_package(tmp_path: Path) -> None:
    """`tests/fixtures/svc/billing/` where `tests` and `billing` are regular packages and the
    folders between are not (a service kept as a test fixture of a larger repository), scanned
    from inside `billing/`: `from billing.retry import ...` resolves from `tests/fixtures/svc/`,
    the folder above `billing`, before the folder above `tests` is tried."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    package = tmp_path / "tests" / "fixtures" / "svc" / "billing"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "retry.py").write_text(
        "import httpx\n\n\nclass Retrying:\n    def __init__(self):\n        self.c = httpx.Client()\n"
    )
    (package / "handler.py").write_text(
        "from billing.retry import Retrying\n\n\ndef get(url):\n    return Retrying().c.get(url)\n"
    )
    found = [(f["path"], f["line"], f["code"]) for f in scan_json(package, "--no-cache")]
    assert found == [("handler.py", 5, "POOL201"), ("retry.py", 6, "POOL001")]


def test_a_bug_in_the_project_pass_is_an_error_of_that_file_not_the_end_of_the_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pool_refactor.run.config import load_config
    from pool_refactor.run.options import Options
    from pool_refactor.run.pipeline import run
    from pool_refactor.scan import scanner

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(scanner, "scan_imported", broken)
    monkeypatch.chdir(project)
    result = run(Options(paths=[Path(".")], config=load_config(project), use_cache=False, jobs=1)).result
    assert {(e.path, e.message) for e in result.errors} >= {
        ("shop/commands.py", "internal error in the project pass: RuntimeError: boom")
    }
    assert ("shop/clients.py", 39, "POOL301") in {(f.path, f.line, f.code) for f in result.findings}


def test_the_same_findings_whatever_the_jobs(project: Path) -> None:
    assert scan_json(project, "--no-cache", "--jobs", "2") == scan_json(project, "--no-cache", "--jobs", "1")


_WRAPPER = (
    "import httpx\n\n\nclass Retrying:\n    def __init__(self) -> None:\n"
    "        self.c = httpx.AsyncClient(timeout=5.0)\n\n"
    "    async def aclose(self) -> None:\n        await self.c.aclose()\n"
)
_FACTORY = "import httpx\n\n\ndef make_client() -> httpx.AsyncClient:\n    return httpx.AsyncClient()\n"
_CLOSES = (
    "from app.retry import Retrying\n\n\nasync def get(url: str) -> int:\n    r = Retrying()\n"
    "    try:\n        return (await r.c.get(url)).status_code\n    finally:\n        await r.aclose()\n"
)
_ENTERS = (
    "from app.clients import make_client\n\n\nasync def get(url: str) -> int:\n"
    "    async with make_client() as client:\n        return (await client.get(url)).status_code\n"
)


def _package(root: Path, files: dict[str, str]) -> Path:
    package = root / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, text in files.items():
        (package / name).write_text(text)
    return package


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", "--no-cache", *args, "app"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("files", "defined", "construction"),
    [
        (
            {"retry.py": _WRAPPER, "handler.py": _CLOSES},
            "retry.py",
            "self.c = httpx.AsyncClient(timeout=5.0, transport=get_http_transport())",
        ),
        (
            {"clients.py": _FACTORY, "handler.py": _ENTERS},
            "clients.py",
            "return httpx.AsyncClient(transport=get_http_transport())",
        ),
        (
            # Its own module's call already allowed the fix: the call elsewhere is settled all the same.
            {
                "retry.py": _WRAPPER
                + "\n\nasync def ping(url: str) -> int:\n    r = Retrying()\n    try:\n"
                "        return (await r.c.get(url)).status_code\n    finally:\n        await r.aclose()\n",
                "handler.py": _CLOSES,
            },
            "retry.py",
            "self.c = httpx.AsyncClient(timeout=5.0, transport=get_http_transport())",
        ),
    ],
    ids=["wrapper", "factory", "wrapper-called-here-too"],
)
def test_a_hook_whose_every_call_elsewhere_closes_it_is_fixed_where_it_is_defined(
    tmp_path: Path, files: dict[str, str], defined: str, construction: str
) -> None:
    """Issue 12, item 4: the calls in another module close what they get, so the client the hook
    builds borrows the shared pool; the report counts those calls as fixable, `--fix` rewrites the
    hook's module only, and `--check` is then green."""
    package = _package(tmp_path, files)
    report = json.loads(_run(tmp_path, "--format", "json").stdout)
    call = next(f for f in report["findings"] if f["path"] == "app/handler.py")
    assert (call["verdict"], call["fixable"], call["reason"]) == ("per-request", True, "")
    handler = (package / "handler.py").read_text()
    fixed = _run(tmp_path, "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "app/handler.py" not in fixed.stdout  # the report after the fix has nothing left there
    assert construction in (package / defined).read_text()
    assert (package / "handler.py").read_text() == handler
    assert _run(tmp_path, "--check").returncode == 0
    assert _run(tmp_path, "--diff").stdout.count("+++") == 0  # a second fix changes nothing


@pytest.mark.parametrize(
    ("other", "why"),
    [
        # Kept for the life of a service: borrowing the pool of the loop it was built on would
        # outlive that loop.
        (
            "from app.retry import Retrying\n\n\nclass Service:\n"
            "    def __init__(self) -> None:\n        self.r = Retrying()\n",
            "persistent",
        ),
        # A subclass built anywhere runs the wrapper's `__init__` where no call of it shows.
        ("from app.retry import Retrying\n\n\nclass Quiet(Retrying):\n    pass\n", "subclass"),
    ],
    ids=["kept-elsewhere", "subclassed-elsewhere"],
)
def test_a_wrapper_kept_or_subclassed_in_another_module_is_not_fixed(
    tmp_path: Path, other: str, why: str
) -> None:
    package = _package(tmp_path, {"retry.py": _WRAPPER, "handler.py": _CLOSES, "service.py": other})
    report = json.loads(_run(tmp_path, "--format", "json").stdout)
    call = next(f for f in report["findings"] if f["path"] == "app/handler.py")
    assert not call["fixable"], why
    assert "`Retrying` builds its own client in `__init__`" in call["reason"]
    assert _run(tmp_path, "--fix").returncode == 0
    assert (package / "retry.py").read_text() == _WRAPPER


def test_a_factory_closed_in_its_module_but_kept_in_another_is_not_fixed(tmp_path: Path) -> None:
    """Its calls in its own module close the client, which once sufficed; a call in another
    module keeps it, so the factory stays as it is."""
    local = _FACTORY + (
        "\n\nasync def ping(url: str) -> int:\n    async with make_client() as client:\n"
        "        return (await client.get(url)).status_code\n"
    )
    keeps = (
        "from app.clients import make_client\n\n\nclass Api:\n"
        "    def __init__(self) -> None:\n        self.c = make_client()\n"
    )
    package = _package(tmp_path, {"clients.py": local, "api.py": keeps})
    report = json.loads(_run(tmp_path, "--format", "json").stdout)
    factory = next(f for f in report["findings"] if f["code"] == "POOL301")
    assert not factory["fixable"]
    assert _run(tmp_path, "--fix").returncode == 0
    assert (package / "clients.py").read_text() == local

"""What each command imports (issue 16): start-up is most of a warm scan, so a command loads only
what it uses. Checked in a fresh interpreter, through the same entry point as the console script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROBE = """
import json, sys
sys.argv = ["pool-refactor", *json.loads(sys.argv[1])]
from pool_refactor.__main__ import main
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
from pool_refactor.__main__ import Deferred
really = sorted(name for name, module in sys.modules.items() if not isinstance(module, Deferred))
print("\\nMODULES=" + json.dumps(really), file=sys.stderr)
"""


def imported(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def loaded(modules: set[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in modules)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "calls.py").write_text(
        "import httpx\n\n\ndef f(url):\n    with httpx.Client() as c:\n        return c.get(url)\n"
    )
    (tmp_path / "app" / "plain.py").write_text("x = 1\n")
    hour_ago = time.time() - 3600  # old enough for the cache to trust the stat of each file
    for path in (tmp_path / "app").iterdir():
        os.utime(path, (hour_ago, hour_ago))
    return tmp_path


def test_version_loads_no_cli_framework(project: Path) -> None:
    modules = imported(["--version"], project)
    assert not loaded(modules, "typer")
    assert not loaded(modules, "click")
    assert not loaded(modules, "rich")


def test_a_json_scan_loads_neither_rich_nor_libcst(project: Path) -> None:
    modules = imported(["scan", "app", "--format", "json", "--no-cache"], project)
    assert loaded(modules, "pool_refactor.scan.scanner")  # it did scan
    assert not loaded(modules, "rich")
    assert not loaded(modules, "libcst")


def test_a_warm_scan_loads_no_scanner(project: Path) -> None:
    imported(["scan", "app", "--format", "concise"], project)  # fills the cache
    modules = imported(["scan", "app", "--format", "concise"], project)
    assert loaded(modules, "pool_refactor.run.cache")
    assert not loaded(modules, "pool_refactor.scan.scanner")
    assert not loaded(modules, "pool_refactor.plan")
    assert not loaded(modules, "pathspec")  # the default excludes are plain names
    assert not loaded(modules, "rich")
    assert not loaded(modules, "multiprocessing")  # no pool is started: none is imported
    assert not loaded(modules, "concurrent.futures")
    # Each of these was a few milliseconds of a warm run that needed none of them: the catalog (read
    # by the prefilter, which a warm run never runs), tempfile (the cache is not written back),
    # logging (nothing configured it, so nothing can be logged), tomllib (no configuration file).
    assert not loaded(modules, "pool_refactor.scan.catalog")
    assert not loaded(modules, "pool_refactor.run.parallel")  # nothing to read: no scanning code
    # The records of `scan.findings` are plain classes: a dataclass execs its methods at import
    # (about 10% of a warm scan's instructions with the module itself).
    assert not loaded(modules, "dataclasses")
    assert not loaded(modules, "tempfile")
    assert not loaded(modules, "logging")
    assert not loaded(modules, "tomllib")
    # hashlib loads OpenSSL (3 ms) for algorithms the content digests never use (`run.digest`); the
    # source reader is only for files that are read.
    assert not loaded(modules, "hashlib")
    assert not loaded(modules, "_hashlib")
    assert not loaded(modules, "pool_refactor.scan.source")
    # typer imports subprocess for shell completion, which a scan never uses: the entry point defers
    # it (`pool_refactor.__main__.DEFERRED`).
    assert not loaded(modules, "subprocess")


def test_files_answered_by_content_load_no_scanner(project: Path) -> None:
    """Files whose stat the cache cannot trust (written a moment before it) are read and hashed, and
    their content found in the cache: nothing to parse, so no scanner either."""
    for path in (project / "app").iterdir():
        os.utime(path)  # now: within the racy window of the cache written next
    imported(["scan", "app", "--format", "concise", "--jobs", "2"], project)
    modules = imported(["scan", "app", "--format", "concise", "--jobs", "2"], project)
    assert loaded(modules, "pool_refactor.run.parallel")  # they were read
    assert not loaded(modules, "pool_refactor.scan.scanner")
    assert not loaded(modules, "pool_refactor.plan")


def test_the_table_and_the_diff_load_what_they_need(project: Path) -> None:
    assert loaded(imported(["scan", "app", "--format", "table", "--no-cache"], project), "rich")
    assert loaded(imported(["scan", "app", "--diff", "--no-cache"], project), "libcst")


def test_the_commands_signatures_are_not_strings() -> None:
    """typer builds the click command from each command's signature on every run; with postponed
    annotations (strings) it evaluates every one of them with `eval`, about 10 ms of a warm scan."""
    import inspect

    from pool_refactor import cli

    for command in (cli.scan, cli.rules, cli._root):
        annotations = inspect.get_annotations(command)
        assert annotations
        assert not [name for name, value in annotations.items() if isinstance(value, str)]


def test_a_deferred_module_loads_when_first_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `DEFERRED` relies on: a module imported early gets a stand-in, which becomes the real
    module on first use, for the module that imported it early and for everyone after."""
    from pool_refactor.__main__ import Deferred, defer

    (tmp_path / "deferred_probe.py").write_text("VALUE = 42\nLOADS = []\nLOADS.append(1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "deferred_probe", raising=False)
    json_module = sys.modules["json"]

    defer(("deferred_probe", "json"))
    assert sys.modules["json"] is json_module  # already imported: left alone
    import deferred_probe as early  # type: ignore[import-not-found]

    assert isinstance(early, Deferred)
    assert "VALUE" not in vars(early)  # not run yet
    from deferred_probe import VALUE  # type: ignore[import-not-found]

    assert VALUE == 42
    real = sys.modules["deferred_probe"]
    assert not isinstance(real, Deferred)
    assert real.__file__ == str(tmp_path / "deferred_probe.py")
    assert early.VALUE == 42 and early.LOADS is real.LOADS == [1]  # run once, shared
    assert not hasattr(early, "missing")  # a missing name is missing, as on the real module
    monkeypatch.delitem(sys.modules, "deferred_probe")

"""What the fixer reads besides the rewrites, read ahead in a child process while the rewrites are
computed (`fixing._Ahead`, `workers.in_child`; issue 16): the same output as read in one process,
what is read after a write read again, and a child that fails or is no longer wanted costs nothing
but its time."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pool_refactor.cli import app
from pool_refactor.fix import shared_module
from pool_refactor.fix.shared_module import NO_APP, AppIntegration
from pool_refactor.fix.style import ProjectStyle
from pool_refactor.run import fixing, workers

# --------------------------------------------------------------------------------------------------
# workers.in_child


def _big() -> dict[str, object]:
    return {"numbers": list(range(1000)), "text": "x" * (3 << 20)}  # far more than a pipe holds


def test_a_child_hands_back_what_it_computed() -> None:
    child = workers.in_child(_big)
    assert child is not None
    assert child.result() == _big()
    assert child.result() is None  # once
    child.close()  # nothing left to end


def _raises() -> None:
    raise ValueError("in the child")


def _exits_quietly() -> None:
    os._exit(0)


def _killed() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("compute", [_raises, _exits_quietly, _killed])
def test_a_child_that_fails_gives_none(compute: Callable[[], None]) -> None:
    child = workers.in_child(compute)
    assert child is not None
    assert child.result() is None


def _waits_for_a_signal() -> None:
    signal.pause()


def test_a_child_no_longer_wanted_is_ended_and_reaped() -> None:
    child = workers.in_child(_waits_for_a_signal)
    assert child is not None
    pid = child._pid
    child.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie is left
    assert child.result() is None
    child.close()


def test_a_child_ignores_ctrl_c_which_is_the_parents() -> None:
    child = workers.in_child(lambda: (time.sleep(0.3), "done")[1])
    assert child is not None
    os.kill(child._pid, signal.SIGINT)
    assert child.result() == "done"


def test_no_fork_while_a_prefetch_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a pool: the import thread ends before the fork (the child would inherit its lock)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "prefetched_ahead.py").write_text("import time\ntime.sleep(0.3)\nDONE = True\n")
    workers.prefetch("prefetched_ahead")
    workers._launch_deferred()
    child = workers.in_child(lambda: 1)
    try:
        assert not [t for t in threading.enumerate() if t.name.startswith("prefetch ")]
        assert child is not None and child.result() == 1
    finally:
        import sys

        sys.modules.pop("prefetched_ahead", None)


def test_what_parent_and_child_share_is_out_of_the_collection_while_the_child_runs() -> None:
    """A full collection in the parent would write to every shared object, and the kernel would
    copy each page for it: the parent's objects are frozen until the child is reaped."""
    import gc

    assert gc.get_freeze_count() == 0
    child = workers.in_child(lambda: gc.get_freeze_count() > 0)
    assert child is not None
    assert gc.get_freeze_count() > 0
    assert child.result() is True  # frozen in the child too: it inherited them frozen
    assert gc.get_freeze_count() == 0
    child = workers.in_child(_waits_for_a_signal)
    assert child is not None
    child.close()
    assert gc.get_freeze_count() == 0


def test_frozen_blocks_nest_and_a_child_thaws_only_what_it_froze() -> None:
    import gc

    with workers.frozen():
        with workers.frozen():
            pass
        assert gc.get_freeze_count() > 0  # the inner block leaves the outer one's objects frozen
        child = workers.in_child(lambda: 1)
        assert child is not None and child.result() == 1
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_without_fork_there_is_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "fork")
    assert workers.in_child(lambda: 1) is None


# --------------------------------------------------------------------------------------------------
# The fixer with a child reading ahead


PROJECT = {
    "pyproject.toml": '[project]\nname = "shop"\nrequires-python = ">=3.11"\n',
    "shop/__init__.py": "",
    "shop/config.py": (
        "from functools import lru_cache\n\n"
        "from pydantic_settings import BaseSettings, SettingsConfigDict\n\n\n"
        "class Settings(BaseSettings):\n"
        '    model_config = SettingsConfigDict(env_prefix="SHOP_")\n\n'
        '    catalog_url: str = "http://127.0.0.1:1/"\n\n\n'
        "@lru_cache\ndef get_settings() -> Settings:\n    return Settings()\n"
    ),
    "shop/metrics.py": (
        "from prometheus_client import Counter\n\n"
        'REQUESTS = Counter("shop_requests_total", "Requests served.")\n'
    ),
    "shop/catalog.py": (
        "import httpx\n\nfrom shop.config import get_settings\n\n\n"
        "async def product(name: str) -> str:\n"
        "    async with httpx.AsyncClient() as client:\n"
        "        response = await client.get(get_settings().catalog_url + name)\n"
        "        return response.text\n"
    ),
    "tools/__init__.py": "",
    "tools/fetch.py": (
        "import requests\n\n\ndef fetch(url):\n"
        "    with requests.Session() as session:\n        return session.get(url).text\n"
    ),
    "tests/__init__.py": "",
    "tests/test_catalog.py": (
        "from unittest import mock\n\nfrom shop import catalog\n\n\n"
        "def test_product():\n"
        '    with mock.patch("shop.catalog.httpx.AsyncClient"):\n'
        "        assert catalog\n"
    ),
}


def _project(root: Path) -> Path:
    for name, text in PROJECT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def parent_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What this process (not a child) read or rendered itself: `_detect_app` of a package,
    `find_test_files`, a shared module's text (not its tests')."""
    read: list[str] = []
    detect, tests, body = fixing._detect_app, fixing.find_test_files, shared_module._body
    pid = os.getpid()

    def body_spy(*args: Any, **kwargs: Any) -> Any:
        if os.getpid() == pid and len(args) == 3:  # the module's template, not its tests'
            read.append("render")
        return body(*args, **kwargs)

    def detect_spy(item: fixing._TargetWork, package: Any) -> Any:
        if os.getpid() == pid:
            read.append(f"detect {item.target.module_name}")
        return detect(item, package)

    def tests_spy(*args: Any) -> Any:
        if os.getpid() == pid:
            read.append("tests")
        return tests(*args)

    monkeypatch.setattr(fixing, "_detect_app", detect_spy)
    monkeypatch.setattr(fixing, "find_test_files", tests_spy)
    monkeypatch.setattr(shared_module, "_body", body_spy)
    monkeypatch.setattr(fixing, "AHEAD_MIN_FILES", 1)
    monkeypatch.setattr(fixing, "idle_cpu", lambda jobs: True)  # whatever else runs on the machine
    yield read


def _scan(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["scan", "--no-cache", *args, "."])
    assert result.exit_code in (0, 1), result.output
    return result.output


DIFF_MARKS = (
    "+++ b/shop/http_client.py",
    "+++ b/tools/http_client.py",
    "settings=pydantic shop.config:get_settings()",  # the settings class was found
    "metrics=prometheus",  # and the metrics
    "tests/test_catalog.py:7",  # the test's patch of the old client: the tests were read
)


def test_diff_read_ahead_is_the_diff_read_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parent_reads: list[str]
) -> None:
    root = _project(tmp_path)
    ahead = _scan(root, monkeypatch, "--diff", "--jobs", "2")
    assert parent_reads == []  # both packages and the tests were read, both modules rendered by the child
    alone = _scan(root, monkeypatch, "--diff", "--jobs", "1")
    expected = ["detect shop.http_client", "render", "detect tools.http_client", "render", "tests"]
    assert parent_reads == expected
    assert ahead == alone
    for mark in DIFF_MARKS:
        assert mark in ahead


def test_a_child_that_fails_leaves_the_reading_to_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parent_reads: list[str]
) -> None:
    root = _project(tmp_path)
    alone = _scan(root, monkeypatch, "--diff", "--jobs", "1")
    parent_reads.clear()
    monkeypatch.setattr(fixing, "_prepare", lambda *args, **kwargs: _killed())
    assert _scan(root, monkeypatch, "--diff", "--jobs", "2") == alone
    expected = ["detect shop.http_client", "render", "detect tools.http_client", "render", "tests"]
    assert parent_reads == expected


def test_fix_reads_again_what_it_may_have_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parent_reads: list[str]
) -> None:
    """The first package comes from the child; once its files are written, the second package
    and the tests are read as they are then (a module rendered ahead still counts: its text
    depends on nothing that was written). The files written are those of a one-process run."""
    alone, ahead = _project(tmp_path / "alone"), _project(tmp_path / "ahead")
    output_alone = _scan(alone, monkeypatch, "--fix", "--jobs", "1")
    parent_reads.clear()
    output_ahead = _scan(ahead, monkeypatch, "--fix", "--jobs", "2")
    assert parent_reads == ["detect tools.http_client", "tests"]
    assert output_ahead == output_alone
    written = sorted(p.relative_to(alone).as_posix() for p in alone.rglob("*.py"))
    assert written == sorted(p.relative_to(ahead).as_posix() for p in ahead.rglob("*.py"))
    assert "shop/http_client.py" in written and "tools/http_client.py" in written
    for name in written:
        assert (ahead / name).read_bytes() == (alone / name).read_bytes(), name
    shutil.rmtree(tmp_path / "alone")


def test_small_projects_and_one_job_read_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parent_reads: list[str]
) -> None:
    started: list[object] = []
    real = workers.in_child

    def spy(compute: Callable[[], object]) -> object:
        started.append(compute)
        return real(compute)

    monkeypatch.setattr(fixing, "in_child", spy)
    root = _project(tmp_path)
    _scan(root, monkeypatch, "--diff", "--jobs", "1")
    assert started == []
    scanned = len([name for name in PROJECT if name.endswith(".py")])
    monkeypatch.setattr(fixing, "AHEAD_MIN_FILES", scanned + 1)  # more files than it has
    _scan(root, monkeypatch, "--diff", "--jobs", "2")
    assert started == []
    monkeypatch.setattr(fixing, "AHEAD_MIN_FILES", scanned)
    _scan(root, monkeypatch, "--diff", "--jobs", "2")
    assert len(started) == 1
    monkeypatch.setattr(fixing, "idle_cpu", lambda jobs: False)  # every CPU busy: nothing to gain
    _scan(root, monkeypatch, "--diff", "--jobs", "2")
    assert len(started) == 1


@pytest.mark.parametrize(
    ("loadavg", "jobs", "idle"),
    [
        ("0.52 0.61 0.70 1/141 10033\n", 2, True),  # this process alone: the other CPU is idle
        ("3.42 4.61 4.69 2/141 10033\n", 2, False),
        ("3.42 4.61 4.69 2/141 10033\n", 4, True),
        ("7.00 7.00 7.00 9/141 10033\n", 8, False),
        ("", 2, True),  # unreadable: as if idle
        ("1.0 1.0 1.0 x/141 1\n", 2, True),
        (None, 2, True),  # no such file (not Linux)
    ],
)
def test_an_idle_cpu_is_one_fewer_runnable_task_than_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loadavg: str | None, jobs: int, idle: bool
) -> None:
    path = tmp_path / "loadavg"
    if loadavg is not None:
        path.write_text(loadavg)
    monkeypatch.setattr(workers, "_LOADAVG", str(path))
    assert workers.idle_cpu(jobs) is idle


def test_render_remembers_by_everything_a_module_is_rendered_from() -> None:
    style = ProjectStyle(line_length=100)
    rendered: shared_module.Rendered = {}
    with shared_module.remembering(rendered):
        text = shared_module.render(["requests"], style=style)
    assert text == shared_module.render(["requests"], style=style)
    assert list(rendered.values()) == [text]
    key = (frozenset({"requests"}), "HTTP_CLIENT_", "httpx", style, NO_APP)
    assert list(rendered) == [key]
    # What is there is what it returns: a text rendered in another process is used as it is.
    with shared_module.remembering({key: "rendered ahead"}):
        assert shared_module.render(["requests"], style=style) == "rendered ahead"
        other = shared_module.render(["requests"], style=style, app=AppIntegration("django"))
        assert other != "rendered ahead" and "django" in other
    assert shared_module.render(["requests"], style=style) == text  # not outside the block

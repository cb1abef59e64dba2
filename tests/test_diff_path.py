"""What `--diff` and `--fix` compute after the scan, made cheaper for issue 16, gives what it gave:
the test-helper check, test-file paths through symbolic links, Django detection and the generated
module's import sorting."""

from __future__ import annotations

import importlib
import multiprocessing
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pool_refactor.cli import app
from pool_refactor.fix import shared_module
from pool_refactor.fix.app_integration import detect
from pool_refactor.fix.shared_module import NO_APP, AppIntegration, restyle, template_text
from pool_refactor.fix.style import ProjectStyle
from pool_refactor.paths import DiscoveredFile
from pool_refactor.run import parallel, workers
from pool_refactor.run.config import load_config
from pool_refactor.run.suites import find_test_files, mocks_patch


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"from unittest import mock\n\nmock.patch('requests.get')\n", True),
        (b"import mock\n\npatch('requests.get')\n", True),
        (b"from mock import patch\n\npatch.multiple(a, b=1)\n", True),
        (b"def helper(mocker):\n    mocker.patch.object(a, 'b')\n", True),
        (b"def helper(monkeypatch):\n    monkeypatch.setattr(a, 'b', 1)\n", True),
        (b"import unittest.mock\nsetattr(a, 'b', 1)\n", True),
        (b"from unittest import mock\n", False),  # mocks, patches nothing
        (b"patch('requests.get')\nsetattr(a, 'b', 1)\n", False),  # patches with no mocking library
        (b"mock_response = 1\ndispatch(x)\n", False),  # the words, not at a word's start
        (b"mockery = 1\npatch(x)\n", False),  # `mocker` inside a longer word
        (b"monkeypatching = True\npatch.object(a)\n", False),
        (b"import mocked\npatch(x)\n", False),
        (b"x.unittest.mock\nrepatch(x)\n", False),
        (b"", False),
    ],
)
def test_a_module_that_mocks_and_patches_is_a_test_helper(text: bytes, expected: bool) -> None:
    assert mocks_patch(text) is expected


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


HELPER = "from unittest import mock\n\n\ndef mocked():\n    return mock.patch('requests.get')\n"


def test_test_files_reached_through_links_are_listed_once_by_their_first_name(tmp_path: Path) -> None:
    """A scanned file in a linked folder, or a link itself, is the file it points to: listed once,
    under the name it was first found by, and a link to a helper is checked like the helper."""
    _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "bots"\n',
            "tests/test_weather.py": "def test_it(): ...\n",
            "bots/__init__.py": "",
            "bots/weather.py": "import requests\n",
            "shared/request_test_lib.py": HELPER,
            "shared/plain.py": "X = 1\n",
        },
    )
    (tmp_path / "linked").symlink_to(tmp_path / "tests", target_is_directory=True)
    (tmp_path / "bots" / "helper.py").symlink_to(tmp_path / "shared" / "request_test_lib.py")
    (tmp_path / "bots" / "plain.py").symlink_to(tmp_path / "shared" / "plain.py")
    scanned = [
        DiscoveredFile(tmp_path / name, name)
        for name in ("linked/test_weather.py", "bots/weather.py", "bots/helper.py", "bots/plain.py")
    ]
    found = find_test_files(load_config(tmp_path), (), scanned)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "bots/helper.py",
        "tests/test_weather.py",
    ]


def test_django_is_read_from_an_import_only(tmp_path: Path) -> None:
    def app(text: str) -> AppIntegration:
        return detect([(tmp_path / "app/views.py", "app.views", text.encode())]).app

    assert app("from django.conf import settings\n") == AppIntegration("django")
    assert app("x = 1\n\n  import django.conf\n") == AppIntegration("django")
    assert app("# Unlike django, this is plain.\nDJANGO = 1\n") == NO_APP
    assert app("x = 'import django'\n") == NO_APP


def _swapped(text: str) -> str:
    return re.sub(r"import sys\n( *)import os\n", r"import os\n\1import sys\n", text)


NESTED = """\
import sys
import os


def f():
    import sys
    import os


class C:
    import sys
    import os

    def m(self):
        try:
            import sys
            import os
        except ImportError:
            import sys
            import os
        else:
            import sys
            import os
        finally:
            import sys
            import os
        x = lambda: (yield)


match X:
    case 1:
        import sys
        import os
    case _:
        if Y:
            import sys
            import os
        elif Z:
            import sys
            import os
        else:
            with W:
                import sys
                import os
        for _ in ():
            import sys
            import os
        else:
            while V:
                import sys
                import os
            else:
                import sys
                import os
try:
    pass
except* ValueError:
    import sys
    import os
"""


def test_every_import_run_of_the_generated_module_is_sorted_wherever_it_is() -> None:
    """Function-local imports, and those under every statement that holds statements, are sorted."""
    sorted_text = restyle(NESTED, ProjectStyle())
    assert NESTED.count("import sys\n") == 15
    assert sorted_text == _swapped(NESTED)


def test_the_templates_are_read_through_the_import_system_when_not_in_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package imported from a zip file has no folder to read its templates from."""
    on_disk = template_text(), template_text("test_http_client.py")
    assert on_disk[0].startswith("# Template of the shared HTTP client module") and "def test_" in on_disk[1]
    monkeypatch.setattr(shared_module, "__file__", str(tmp_path / "gone" / "shared_module.py"))
    assert (template_text(), template_text("test_http_client.py")) == on_disk


# --------------------------------------------------------------------------------------------------
# The fixer imported while the scan's workers run (`workers.prefetch`)


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on `sys.path` for modules made by the test, forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    workers.prefetched()
    for name in set(sys.modules) - before:
        if name.startswith("prefetched_"):
            del sys.modules[name]


def test_a_prefetched_module_is_imported_once_waited_for(modules: Path) -> None:
    (modules / "prefetched_ok.py").write_text("import time\ntime.sleep(0.2)\nDONE = True\n")
    workers.prefetch("prefetched_ok")
    workers._launch_deferred()  # as a pool does once its workers are forked
    workers.prefetched()
    assert sys.modules["prefetched_ok"].DONE is True
    assert not [t for t in threading.enumerate() if t.name.startswith("prefetch ")]


def test_a_prefetch_that_fails_fails_again_where_the_module_is_used(modules: Path) -> None:
    (modules / "prefetched_broken.py").write_text("X = 1 / 0\n")
    workers.prefetch("prefetched_broken")
    workers._launch_deferred()
    workers.prefetched()  # nothing raised in the thread reaches here
    with pytest.raises(ZeroDivisionError):
        importlib.import_module("prefetched_broken")


def test_a_prefetch_waits_for_a_pool_and_no_pool_forks_while_it_runs(modules: Path) -> None:
    """Put off while no worker runs; started once a pool's workers are forked; and a pool that
    starts while it runs waits for it to end before it forks."""
    (modules / "prefetched_late.py").write_text("DONE = True\n")
    (modules / "prefetched_slow.py").write_text("import time\ntime.sleep(0.3)\nDONE = True\n")
    workers.prefetch("prefetched_late")
    assert "prefetched_late" not in sys.modules  # no worker runs: put off
    results = list(workers.map_in_order(abs, [-1, -2, -3], [1, 2, 3], 2, lambda item: 0))
    assert results == [1, 2, 3]
    workers.prefetched()
    assert sys.modules["prefetched_late"].DONE is True
    workers.prefetch("prefetched_slow")
    workers._launch_deferred()
    executor = workers.start(1)
    try:
        # The import ended before the pool could fork: nothing imports in another thread now.
        assert sys.modules["prefetched_slow"].DONE is True
        assert not [t for t in threading.enumerate() if t.name.startswith("prefetch ")]
        assert executor.submit(abs, -4).result() == 4
    finally:
        executor.shutdown()


def test_a_prefetch_never_started_is_forgotten(modules: Path) -> None:
    (modules / "prefetched_never.py").write_text("DONE = True\n")
    workers.prefetch("prefetched_never")
    workers.prefetched()
    workers._launch_deferred()
    assert "prefetched_never" not in sys.modules


def _many_files(root: Path, count: int) -> None:
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    package = root / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    client = "import httpx\n\n\ndef get(url):\n    with httpx.Client() as c:\n        return c.get(url)\n"
    for index in range(count):
        (package / f"m{index:03}.py").write_text(client if index % 10 == 9 else f"X = {index}\n")


@pytest.mark.parametrize(
    ("args", "jobs", "files", "expected"),
    [
        (["--diff"], 2, 410, True),  # the file pool: started at the scan's first result
        # The parse pool (its threshold lowered): the first file, not a candidate, is answered
        # before the pool forks, so the import waits for the fork.
        (["--diff"], 2, 40, True),
        (["--diff"], 1, 410, False),
        ([], 2, 410, False),
    ],
)
def test_the_fixer_is_imported_while_the_workers_scan(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    jobs: int,
    files: int,
    expected: bool,
) -> None:
    """Only for `--fix`/`--diff` with workers, and once they are forked; the diff is unchanged."""
    _many_files(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(parallel, "PARSE_POOL_MIN_BYTES", 1)  # any two candidates: the parse pool
    launched: list[tuple[str, int]] = []
    real = workers._launch

    def spy(module: str) -> None:
        launched.append((module, len(multiprocessing.active_children())))
        real(module)

    monkeypatch.setattr(workers, "_launch", spy)
    result = CliRunner().invoke(app, ["scan", "--no-cache", "--jobs", str(jobs), *args, "app"])
    assert result.exit_code == 0, result.output
    assert not [t for t in threading.enumerate() if t.name.startswith("prefetch ")]
    if expected:
        assert launched == [("pool_refactor.run.fixing", 2)]  # both workers were running
        serial = CliRunner().invoke(app, ["scan", "--no-cache", "--jobs", "1", *args, "app"])
        assert result.output == serial.output
        assert f"Would fix {files // 10} site(s) in {files // 10} file(s)." in result.output
    else:
        assert launched == []

"""What `--diff` and `--fix` compute after the scan, made cheaper for issue 16, gives what it gave:
the test-helper check, test-file paths through symbolic links, Django detection and the generated
module's import sorting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pool_refactor.fix.app_integration import NO_APP, AppIntegration, detect
from pool_refactor.fix.shared_module import restyle
from pool_refactor.fix.style import ProjectStyle
from pool_refactor.paths import DiscoveredFile
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

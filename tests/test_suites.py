"""Where a project's tests are (`pool_refactor.run.suites`), whatever paths are scanned."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pool_refactor.cli import app
from pool_refactor.paths import DiscoveredFile
from pool_refactor.run.config import load_config
from pool_refactor.run.suites import find_test_files, is_test_name
from pool_refactor.run.suites import testpaths as read_testpaths


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["checks", "more"]\n', ["checks", "more"]),
        ("pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = "checks more"\n', ["checks", "more"]),
        ("pytest.ini", "[pytest]\ntestpaths = checks\n    more\n", ["checks", "more"]),
        ("setup.cfg", "[tool:pytest]\ntestpaths = checks\n", ["checks"]),
        ("tox.ini", "[pytest]\ntestpaths = checks\n", ["checks"]),
        ("tox.ini", "[tox]\nenvlist = py311\n", []),
        ("pyproject.toml", "[project]\nname = 'x'\n", []),
        ("pyproject.toml", "not toml [", []),
    ],
)
def test_testpaths(tmp_path: Path, name: str, text: str, expected: list[str]) -> None:
    _write(tmp_path, {name: text})
    assert read_testpaths(tmp_path) == expected


def test_pytest_ini_wins_over_pyproject(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pytest.ini": "[pytest]\ntestpaths = a\n",
            "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["b"]\n',
        },
    )
    assert read_testpaths(tmp_path) == ["a"]


def test_is_test_name() -> None:
    assert [
        n for n in ("test_x.py", "x_test.py", "conftest.py", "testing.py", "x.py") if is_test_name(n)
    ] == [
        "test_x.py",
        "x_test.py",
        "conftest.py",
    ]


def test_test_files_are_found_outside_the_scanned_package(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "svc"\n',
            "svc/__init__.py": "",
            "svc/users.py": "",
            "svc/test_inline.py": "",
            "tests/helpers.py": "",
            "tests/test_users.py": "",
            "test/conftest.py": "",
            "tools/check_test.py": "",
            ".venv/lib/test_vendored.py": "",
            ".gitignore": "generated/\n",
            "generated/test_gen.py": "",
        },
    )
    found = [p.relative_to(root).as_posix() for p in find_test_files(load_config(root))]
    assert found == [
        "svc/test_inline.py",
        "test/conftest.py",
        "tests/helpers.py",
        "tests/test_users.py",
        "tools/check_test.py",
    ]


def test_testpaths_replace_the_default_folders(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["checks"]\n',
            "checks/helpers.py": "",
            "tests/helpers.py": "",
        },
    )
    assert [p.relative_to(root).as_posix() for p in find_test_files(load_config(root))] == [
        "checks/helpers.py"
    ]


def test_excluded_tests_are_still_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--exclude tests/` keeps the tests out of the rewrite, not out of the mock check."""
    root = _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "svc"\n',
            "svc/__init__.py": "",
            "svc/notify.py": "import requests\n\n\ndef notify():\n"
            "    return requests.post('https://h.test', timeout=5)\n",
            "tests/test_notify.py": "from unittest import mock\n\n\n"
            "@mock.patch('requests.post')\ndef test_it(post):\n    pass\n",
        },
    )
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["scan", "--fix", "--no-cache", "--exclude", "tests/", "."])
    assert result.exit_code == 0, result.output
    assert "tests/test_notify.py:4: After the fix the rewritten code no longer calls `post`" in result.output


def test_exact_argument_checks_of_a_borrowing_session_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI: the session keeps being built (it borrows the pool), so its patch is not
    reported, but the test's check of the exact arguments it was built with is."""
    root = _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "svc"\n',
            "svc/__init__.py": "",
            "svc/pages.py": "import aiohttp\n\n\nasync def page(url):\n"
            "    async with aiohttp.ClientSession(raise_for_status=True) as session:\n"
            "        async with session.get(url) as response:\n"
            "            return await response.text()\n",
            "tests/test_pages.py": "from unittest import mock\n\n\n"
            "@mock.patch('svc.pages.aiohttp.ClientSession')\ndef test_it(session_class):\n"
            "    session_class.assert_called_once_with(raise_for_status=True)\n",
        },
    )
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["scan", "--fix", "--no-cache", "svc"])
    assert result.exit_code == 0, result.output
    assert "connector=get_aiohttp_connector(), connector_owner=False" in (root / "svc/pages.py").read_text()
    assert (
        "tests/test_pages.py:4: After the fix `svc.pages` still calls `aiohttp.ClientSession`, so this "
        "patch keeps working, but it passes" in " ".join(result.output.split())
    )


def test_a_test_helper_in_the_package_is_checked(tmp_path: Path) -> None:
    """A module of the package that patches (not named like a test) is read like a test."""
    root = _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "bots"\n',
            "bots/__init__.py": "",
            "bots/weather.py": "import requests\n",
            "bots/request_test_lib.py": "from unittest import mock\n\n\ndef mocked():\n"
            "    return mock.patch('requests.get')\n",
            "bots/setattr_user.py": "setattr(object(), 'name', 1)\n",
        },
    )
    config = load_config(root)
    scanned = [
        DiscoveredFile(root / name, name)
        for name in ("bots/weather.py", "bots/request_test_lib.py", "bots/setattr_user.py")
    ]
    found = [p.relative_to(root).as_posix() for p in find_test_files(config, (), scanned)]
    assert found == ["bots/request_test_lib.py"]

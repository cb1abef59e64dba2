"""Test suites that mock the old clients, before and after the fix (issue 14, item 2).

Each folder of `tests/fixtures/mock_suites/` is a small project: a package `svc` with per-call clients
(`async with httpx.AsyncClient()`, `requests.post(...)`) and, outside the scanned package, a `tests/`
folder that mocks them in one common shape: `patch`, `mocker.patch` (pytest-mock),
`monkeypatch.setattr`, `respx`, `pytest-httpx` (with `responses` and `requests-mock` beside them).
For each one, run in a copy, with pytest in a subprocess:

1. the suite passes before the fix;
2. `pool-refactor scan --fix svc` (only the package is scanned) lists exactly the patches it breaks,
   with their line, and none of the transport-level mocks; the suite then fails exactly there;
3. on a fresh copy, `scan --fix --fix-tests svc` rewrites those patches (as `EDITED` shows) and the
   suite passes again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SUITES = Path(__file__).parent / "fixtures" / "mock_suites"

BROKEN = {
    "patch": [
        "tests/test_svc.py:9: After the fix `svc.users` no longer calls `AsyncClient`",
        "tests/test_svc.py:19: After the fix the rewritten code no longer calls `AsyncClient`",
        "tests/test_svc.py:25: After the fix the rewritten code no longer calls `post`",
        "tests/test_svc.py:33: After the fix `svc.notify` no longer calls `get`",
    ],
    "mocker": [
        "tests/test_svc.py:11: After the fix `svc.users` no longer calls `AsyncClient`",
        "tests/test_svc.py:18: After the fix the rewritten code no longer calls `post`",
        "tests/test_svc.py:27: After the fix the rewritten code no longer calls `get`",
    ],
    "monkeypatch": [
        "tests/test_svc.py:22: After the fix the rewritten code no longer calls `post`",
        "tests/test_svc.py:28: After the fix the rewritten code no longer calls `get`",
    ],
    "respx": [],
    "pytest_httpx": [],
}
FAILING_AFTER_FIX = {
    "patch": ["test_fetch_user", "test_fetch_user_global_patch", "test_notify", "test_status"],
    "mocker": ["test_fetch_user", "test_notify", "test_status"],
    "monkeypatch": ["test_notify", "test_status"],
    "respx": [],
    "pytest_httpx": [],
}
EDITED = {
    "patch": [
        '\n@patch("svc.users.get_http_client", new_callable=_shared_async_client_mock)\n',
        '    with patch(\n        "svc.users.get_http_client", new_callable=_shared_async_client_mock\n'
        "    ) as client_cls:\n",
        '\n@mock.patch("requests.Session.post")\n',
        '    with mock.patch("requests.Session.get", return_value=MagicMock(text="ok")) as get:\n',
        "\n\n\n# Added by pool-refactor --fix-tests.\n"
        "def _shared_async_client_mock(**kwargs: object) -> object:\n",
    ],
    "mocker": [
        '    client_cls = mocker.patch(\n        "svc.users.get_http_client", '
        "new_callable=_shared_async_client_mock\n    )\n",
        '    post = mocker.patch("requests.Session.post")\n',
        "    get = mocker.patch.object(\n"
        '        requests.Session, "get", return_value=MagicMock(text="up")\n    )\n',
    ],
    "monkeypatch": [
        '    monkeypatch.setattr("requests.Session.post", staticmethod(fake_post))\n',
        '    monkeypatch.setattr(\n        requests.Session,\n        "get",\n'
        '        staticmethod(lambda url, **kwargs: FakeResponse(200, "fine")),\n    )\n',
    ],
    "respx": [],
    "pytest_httpx": [],
}


_PLUGINS = [
    *("-p", "pytest_asyncio.plugin", "-p", "pytest_mock", "-p", "respx.plugin", "-p", "pytest_httpx"),
    *("-p", "requests_mock.contrib._pytest_plugin", "-W", "ignore::DeprecationWarning"),
]
"""The plugins the suites use, loaded by name: autoloading every installed plugin (hypothesis,
anyio, ...) triples the start-up of each of the fifteen pytest runs."""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_CLIENT_", "PYTEST_"))}
    env.pop("PYTHONPATH", None)
    return env


def _pytest(folder: Path) -> tuple[int, list[str], str]:
    """Run the suite; the exit code and the names of the failed tests."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rf",
            *_PLUGINS,
        ],
        cwd=folder,
        env={**_env(), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    failed = sorted(re.findall(r"^FAILED tests/test_svc\.py::(\w+)", done.stdout, re.MULTILINE))
    return done.returncode, failed, done.stdout + done.stderr


def _fix(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pool_refactor",
            "scan",
            "--fix",
            "--no-cache",
            "--format",
            "concise",
            *args,
            "svc",
        ],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _copy(name: str, where: Path) -> Path:
    folder = where / name
    shutil.copytree(SUITES / name, folder)
    return folder


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_suite_passes_before_is_listed_after_fix_and_passes_after_fix_tests(
    name: str, tmp_path: Path
) -> None:
    folder = _copy(name, tmp_path / "fix")
    code, failed, output = _pytest(folder)
    assert (code, failed) == (0, []), output

    fixed = _fix(folder)
    assert fixed.returncode == 0, fixed.stderr
    listed = [line for line in fixed.stderr.splitlines() if line.startswith("tests/")]
    assert [line.split(":", 2)[0] + ":" + line.split(":", 2)[1] for line in listed] == [
        entry.split(":", 2)[0] + ":" + entry.split(":", 2)[1] for entry in BROKEN[name]
    ]
    for line, expected in zip(listed, BROKEN[name], strict=True):
        assert line.startswith(expected), line
        assert line.endswith("(--fix-tests rewrites it)"), line
    assert (tmp_path / "fix" / name / "tests" / "test_svc.py").read_text() == (
        SUITES / name / "tests" / "test_svc.py"
    ).read_text(), "tests are read, never rewritten without --fix-tests"
    code, failed, output = _pytest(folder)
    assert failed == FAILING_AFTER_FIX[name], output

    folder = _copy(name, tmp_path / "fix-tests")
    fixed = _fix(folder, "--fix-tests")
    assert fixed.returncode == 0, fixed.stderr
    assert not [line for line in fixed.stderr.splitlines() if line.startswith("tests/")], fixed.stderr
    if BROKEN[name]:
        assert (
            f"Rewrote {len(BROKEN[name])} patch(es) of the old clients in 1 test file(s) (--fix-tests)."
            in (fixed.stderr)
        )
    code, failed, output = _pytest(folder)
    assert (code, failed) == (0, []), output
    text = (folder / "tests" / "test_svc.py").read_text(encoding="utf-8")
    for line in EDITED[name]:
        assert line in text, text
    # Edited lines that outgrew 88 columns (ruff's default: the suites configure none) are split
    # as `ruff format` splits them; the suites' own long lines stay as they are.
    own = (SUITES / name / "tests" / "test_svc.py").read_text(encoding="utf-8").splitlines()
    assert [line for line in text.splitlines() if len(line) > 88 and line not in own] == []


def test_diff_shows_the_test_edits_and_writes_nothing(tmp_path: Path) -> None:
    folder = _copy("mocker", tmp_path)
    before = (folder / "tests" / "test_svc.py").read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", "--diff", "--fix-tests", "--no-cache", "svc"],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert "+++ b/tests/test_svc.py" in done.stdout
    assert '+    post = mocker.patch("requests.Session.post")' in done.stdout
    assert "Would rewrite 3 patch(es) of the old clients in 1 test file(s) (--fix-tests)." in done.stderr
    assert (folder / "tests" / "test_svc.py").read_text(encoding="utf-8") == before

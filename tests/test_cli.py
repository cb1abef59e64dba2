"""The command line as CI sees it: exit codes, formats, files written or not."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pool_refactor.cli import app

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"
runner = CliRunner()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example project, with the current folder inside it."""
    target = tmp_path / "shop"
    shutil.copytree(EXAMPLE, target)
    monkeypatch.chdir(target)
    return target


def scan(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["scan", *args])
    return result.exit_code, result.output


def test_report_exits_0_and_lists_sites(shop: Path) -> None:
    code, out = scan(".")
    assert code == 0
    assert "shop/users.py:9:16: POOL101 [*]" in out
    assert "shop/users.py:18:20: POOL101 [*]" in out
    assert "shop/billing.py:31:14: POOL201" in out
    summary = "Found 5 problems; 4 of 4 per-request sites fixable with --fix; 1 persistent client not listed."
    assert summary in out


def test_check_exits_1_while_sites_remain(shop: Path) -> None:
    assert scan("--check", ".")[0] == 1


def test_check_exits_0_on_clean_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.py").write_text("import httpx\n\nCLIENT = httpx.Client()\n")
    code, out = scan("--check", ".")
    assert code == 0, out


def test_unreadable_file_exits_2_and_the_rest_is_scanned(shop: Path) -> None:
    (shop / "shop" / "broken.py").write_text("import httpx\ndef f(:\n")
    (shop / "shop" / "latin.py").write_bytes(b"import httpx\nx = '\xff'\n")
    code, out = scan(".")
    assert code == 2
    assert "shop/broken.py: error: syntax error (line 2)" in out
    assert "shop/latin.py: error:" in out
    assert "shop/users.py:9:16: POOL101" in out
    assert scan("--check", ".")[0] == 2


@pytest.mark.parametrize(
    "args",
    [
        ["--fix", "--diff", "."],
        ["--format", "xml", "."],
        ["does-not-exist"],
        ["--no-such-option"],
        ["--jobs", "0", "."],
    ],
)
def test_usage_errors_exit_2(shop: Path, args: list[str]) -> None:
    assert scan(*args)[0] == 2


def test_bad_configuration_exits_2(shop: Path) -> None:
    (shop / "pyproject.toml").write_text('[tool.pool-refactor]\nextend-exclude = "tests"\n')
    code, out = scan(".")
    assert code == 2
    assert "extend-exclude" in out


def test_json_report_shape(shop: Path) -> None:
    code, out = scan("--format", "json", ".")
    assert code == 0
    report = json.loads(out)
    assert report["version"] == 1
    first = report["findings"][0]
    assert list(first)[:13] == [
        "path", "line", "column", "end_line", "code", "library", "verdict",
        "in_loop", "context", "snippet", "fixable", "reason", "suppressed",
    ]  # fmt: skip
    assert (first["path"], first["context"], first["verdict"]) == (
        "shop/billing.py",
        "BillingClient.__init__",
        "persistent",
    )
    refund = report["findings"][1]
    assert (refund["line"], refund["code"], refund["context"], refund["fixable"]) == (
        19,
        "POOL102",
        "BillingClient.refund",
        True,
    )
    assert report["summary"]["per-request"] == 4
    assert report["errors"] == []


def test_output_file(shop: Path) -> None:
    code, out = scan("--format", "markdown", "--output", "report.md", ".")
    assert code == 0
    text = (shop / "report.md").read_text()
    assert "## Problem Areas (New Client Per Request)" in text
    assert "| `shop/users.py` | 9 [*], 18 [*], 25 [*] |" in text


def test_suppression_and_show_suppressed(shop: Path) -> None:
    users = shop / "shop" / "users.py"
    users.write_text(users.read_text().replace("timeout=2.0)", "timeout=2.0)  # noqa: POOL103"))
    code, out = scan("--format", "json", ".")
    report = json.loads(out)
    assert [f["line"] for f in report["findings"] if f["code"] == "POOL103"] == []
    assert report["summary"]["suppressed"] == 1
    code, out = scan("--format", "json", "--show-suppressed", ".")
    suppressed = [f for f in json.loads(out)["findings"] if f["suppressed"]]
    assert [(f["line"], f["code"]) for f in suppressed] == [(25, "POOL103")]


def test_select_and_ignore(shop: Path) -> None:
    code, out = scan("--select", "POOL2", "--check", ".")
    assert code == 1
    assert "POOL201" in out and "POOL101" not in out
    code, out = scan("--ignore", "POOL1,POOL2", "--check", ".")
    assert code == 0


def test_rules_command() -> None:
    result = runner.invoke(app, ["rules"])
    assert result.exit_code == 0
    assert "POOL101" in result.output and "POOL201" in result.output
    page = runner.invoke(app, ["rules", "pool101"])
    assert page.exit_code == 0
    assert "POOL101" in page.output
    assert runner.invoke(app, ["rules", "NOPE1"]).exit_code == 2


def test_console_script_and_module_entry_point(shop: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", "--check", "."],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "POOL101" in done.stdout
    version = subprocess.run(
        [sys.executable, "-m", "pool_refactor", "--version"], capture_output=True, text=True, check=False
    )
    assert version.returncode == 0 and version.stdout.startswith("pool-refactor ")


def test_baseline_gates_only_new_findings(shop: Path) -> None:
    assert scan("--format", "json", "--output", "baseline.json", ".")[0] == 0
    assert scan("--check", "--baseline", "baseline.json", ".")[0] == 0
    users = shop / "shop" / "users.py"
    users.write_text(
        "\n\n" + users.read_text() + "\n\ndef again():\n    return httpx.get('https://x').text\n"
    )
    code, out = scan("--check", "--baseline", "baseline.json", ".")
    assert code == 1
    assert "POOL103" in out and out.count(": POOL1") == 1, out  # only the new site; moved ones still match
    assert scan("--check", "--baseline", "missing.json", ".")[0] == 2


def test_add_noqa_suppresses_what_exists_today(shop: Path) -> None:
    code, out = scan("--add-noqa", ".")
    assert code == 0, out
    users = (shop / "shop" / "users.py").read_text()
    assert "async with httpx.AsyncClient(timeout=10.0) as client:  # noqa: POOL101" in users
    assert 'return httpx.get(f"{API}/health", timeout=2.0).status_code == 200  # noqa: POOL103' in users
    assert scan("--check", ".")[0] == 0
    assert scan("--add-noqa", ".")[0] == 0
    assert (shop / "shop" / "users.py").read_text() == users  # nothing left to add


def test_fix_wires_the_application_lifespan_and_flags_mocks(shop: Path) -> None:
    (shop / "shop" / "app.py").write_text(
        "from fastapi import FastAPI\n\nfrom shop.users import get_user\n\napp = FastAPI(title='shop')\n"
    )
    (shop / "tests").mkdir()
    (shop / "tests" / "test_users.py").write_text(
        "from unittest import mock\n\n\n"
        "def test_get_user():\n"
        "    with mock.patch('shop.users.httpx.AsyncClient'):\n"
        "        pass\n"
    )
    result = runner.invoke(app, ["scan", "--fix", "."])
    assert result.exit_code == 0, result.output
    wired = (shop / "shop" / "app.py").read_text()
    assert "app = FastAPI(title='shop', lifespan=lifespan)" in wired
    assert "from shop.http_client import lifespan" in wired
    assert "tests/test_users.py:5: After the fix `shop.users` no longer calls `AsyncClient`" in result.output
    assert (
        "Lifecycle: passes the generated `lifespan` to `app = FastAPI(...)` in shop/app.py," in result.output
    )
    assert str(shop) not in result.output, "paths are shown relative to the working directory"
    assert runner.invoke(app, ["scan", "--fix", "."]).exit_code == 0
    assert (shop / "shop" / "app.py").read_text() == wired  # never wired twice


def test_quiet_prints_the_findings_and_what_is_left_only(shop: Path) -> None:
    code, out = scan("-q", "--format", "concise", ".")
    assert code == 0
    assert out.splitlines()[0].startswith("shop/billing.py:") and not any(
        line.startswith("Found") for line in out.splitlines()
    )
    (shop / "tests").mkdir()
    (shop / "tests" / "test_users.py").write_text(
        "from unittest import mock\n\n\n"
        "def test_get_user():\n    with mock.patch('httpx.AsyncClient'):\n        pass\n"
    )
    result = runner.invoke(app, ["scan", "--fix", "-q", "--format", "concise", "."])
    assert result.exit_code == 0, result.output
    assert "Wrote" not in result.output and "Fixed" not in result.output
    assert (
        "tests/test_users.py:5: After the fix the rewritten code no longer calls `AsyncClient`"
        in result.output
    )
    assert re.match(r"shop/billing\.py:\d+:14: POOL201 ", result.output.splitlines()[-1])


def test_quiet_without_findings_prints_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.py").write_text("import httpx\n\nCLIENT = httpx.Client()\n")
    for fmt in ("concise", "github"):
        assert scan("-q", "--format", fmt, ".") == (0, "")


def test_fix_with_a_machine_report_logs_each_refusal(shop: Path) -> None:
    result = runner.invoke(app, ["scan", "--fix", "--format", "json", "."])
    assert result.exit_code == 0, result.output
    refusals = [line for line in result.output.splitlines() if " not fixed: " in line]
    assert len(refusals) == 1 and re.match(r"shop/billing\.py:\d+:14: POOL201 not fixed: ", refusals[0])


def test_fix_tests_needs_fix_or_diff(shop: Path) -> None:
    code, out = scan("--fix-tests", ".")
    assert code == 2 and "--fix-tests rewrites tests along with --fix" in out


def test_no_wire(shop: Path) -> None:
    (shop / "shop" / "app.py").write_text("from fastapi import FastAPI\n\napp = FastAPI()\n")
    assert runner.invoke(app, ["scan", "--fix", "--no-wire", "."]).exit_code == 0
    assert (shop / "shop" / "app.py").read_text() == "from fastapi import FastAPI\n\napp = FastAPI()\n"


def test_options_from_configuration_and_the_command_line_wins(shop: Path) -> None:
    (shop / "pyproject.toml").write_text(
        '[tool.pool-refactor]\nselect = ["POOL2"]\noutput-format = "json"\nshow-suppressed = true\n'
    )
    code, out = scan("--check", ".")
    report = json.loads(out)
    assert code == 1
    assert {f["code"] for f in report["findings"]} == {"POOL201"}
    code, out = scan("--check", "--select", "POOL103", "--format", "concise", ".")
    assert code == 1
    assert "POOL103" in out and "POOL201" not in out


def _small_project(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\n')
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "calls.py").write_text(
        "import httpx\n\n\ndef f(url):\n    with httpx.Client() as c:\n        return c.get(url)\n"
    )
    return root


def test_fix_says_what_it_fixed_before_what_is_left(tmp_path: Path) -> None:
    """A combined log (`2>&1`) reads "Fixed ..." first, and never "All clear" after a fix; the same
    notes are in the JSON report."""
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "pool_refactor", "scan", "--fix", "app"]
    done = subprocess.run(
        [*command, "--format", "concise"],
        cwd=_small_project(tmp_path / "a"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout
    assert lines.index("Fixed 1 site(s) in 1 file(s).") < len(lines) - 1
    assert lines[-1] == "Fixed 1 site; no per-request HTTP clients are left."
    assert not any("All clear" in line for line in lines)
    report = subprocess.run(
        [*command, "--format", "json"],
        cwd=_small_project(tmp_path / "b"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    notes = json.loads(report.stdout)["notes"]
    assert [note["kind"] for note in notes] == ["module"], notes
    assert notes[0]["path"] == "app/http_client.py"

"""benchmarks/real_projects.py's parsers and list checks: the loop's numbers are only as good as its reading
of pytest's, ruff's, black's and mypy's output, and a bad list entry must fail before minutes of installs.
No network and no project is needed here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "real_projects.py"
LIST = BENCHMARK.with_suffix(".toml")


def _load() -> ModuleType:
    # benchmarks/ is not a package: load the script by path, registered so its dataclasses resolve.
    spec = importlib.util.spec_from_file_location("real_projects", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_projects"] = module
    spec.loader.exec_module(module)
    return module


rp = _load()


# --------------------------------------------------------------------------------------------------
# pytest's summary


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("5 passed, 1 failed, 2 errors in 3.2s", (5, 1, 2, 0)),
        ("=========== 5 passed, 1 failed, 2 errors in 3.21s ===========", (5, 1, 2, 0)),
        ("===== 1 failed, 10 passed, 3 skipped, 2 warnings in 0.50s =====", (10, 1, 0, 3)),
        ("132 passed, 1 warning in 6.57s", (132, 0, 0, 0)),
        ("==== 3 passed, 1 error in 1.00s (0:00:01) ====", (3, 0, 1, 0)),
        ("1 error in 0.98s", (0, 0, 1, 0)),
    ],
)
def test_pytest_summary_counts(output: str, expected: tuple[int, int, int, int]) -> None:
    run = rp.parse_pytest_summary("collected 8 items\n\n" + output + "\n")
    assert run.summary_found
    assert (run.passed, run.failed, run.errors, run.skipped) == expected
    assert not run.no_tests


def test_pytest_summary_no_tests_ran() -> None:
    run = rp.parse_pytest_summary("============ no tests ran in 0.01s ============\n")
    assert run.summary_found and run.no_tests
    assert rp.format_tests(run) == "no tests ran"
    only_skipped = rp.parse_pytest_summary("4 skipped, 2 deselected in 0.10s\n")
    assert only_skipped.no_tests and only_skipped.skipped == 4 and only_skipped.deselected == 2


def test_pytest_summary_xfail_xpass_and_colours() -> None:
    run = rp.parse_pytest_summary("\x1b[32m7 passed\x1b[0m, \x1b[33m2 xfailed, 1 xpassed\x1b[0m in 2.00s\n")
    assert (run.passed, run.xfailed, run.xpassed, run.failed) == (7, 2, 1, 0)


def test_pytest_summary_takes_the_last_line_and_failed_ids() -> None:
    output = "\n".join(
        [
            "tests/test_a.py::test_x passed in 0.1s",  # not a summary: no count word before "in"
            "=========================== short test summary info ============================",
            "FAILED tests/test_a.py::test_y - AssertionError: assert 1 == 2",
            "ERROR tests/test_b.py::test_z - ModuleNotFoundError: No module named 'foo.http_client'",
            "FAILED tests/test_c.py::test_w[param-1]",
            "=================== 2 failed, 4 passed, 1 error in 1.50s ===================",
        ]
    )
    run = rp.parse_pytest_summary(output)
    assert (run.passed, run.failed, run.errors) == (4, 2, 1)
    assert run.failures == {
        "tests/test_a.py::test_y": "AssertionError: assert 1 == 2",
        "tests/test_b.py::test_z": "ModuleNotFoundError: No module named 'foo.http_client'",
        "tests/test_c.py::test_w[param-1]": "FAILED",
    }


def test_pytest_without_summary_keeps_the_first_error_line() -> None:
    output = (
        "ImportError while loading conftest '/x/conftest.py'.\n"
        "opsdroid/loader.py:18: in <module>\n"
        "    from pkg_resources import iter_entry_points\n"
        "E   ModuleNotFoundError: No module named 'pkg_resources'\n"
    )
    run = rp.parse_pytest_summary(output)
    assert not run.summary_found
    assert run.problem == "ModuleNotFoundError: No module named 'pkg_resources'"
    run.exit_code = 4
    assert rp.format_tests(run) == "no summary (exit 4)"


def test_coverage_gate_explains_exit_1() -> None:
    output = (
        "FAIL Required test coverage of 100% not reached. Total coverage: 86.48%\n"
        "132 passed, 1 warning in 6.57s\n"
    )
    run = rp.parse_pytest_summary(output)
    run.exit_code = 1
    assert rp.format_tests(run) == "132 passed (exit 1: coverage 86.48% < 100%)"


def test_format_tests_counts_and_timeouts() -> None:
    run = rp.parse_pytest_summary("3 passed, 1 failed, 1 error in 1s\n")
    run.exit_code = 1
    assert rp.format_tests(run) == "3 passed, 1 failed, 1 error"
    assert rp.format_tests(None) == "-"
    timed = rp.TestRun(timed_out=True, seconds=900.4)
    assert rp.format_tests(timed) == "timed out after 900s"


# --------------------------------------------------------------------------------------------------
# "Fixed N site(s)"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("Fixed 3 site(s) in 2 file(s).\n", (3, 2)),
        ("wrote pkg/http_client.py\nFixed 27 site(s) in 11 file(s).", (27, 11)),
        ("Fixed 0 site(s) in 0 file(s).", (0, 0)),
        ("Fixed 1 site in 1 file.", (1, 1)),
        ("\x1b[1mFixed 5 site(s) in 3 file(s).\x1b[0m", (5, 3)),
        ("Found 4 problems.", None),
    ],
)
def test_parse_fixed(output: str, expected: tuple[int, int] | None) -> None:
    assert rp.parse_fixed(output) == expected


# --------------------------------------------------------------------------------------------------
# Linter output


def test_ruff_concise_lines() -> None:
    output = (
        "httpx_oauth/clients/github.py:1:1: I001 [*] Import block is un-sorted or un-formatted\n"
        "httpx_oauth/http_client.py:201:19: TRY003 Avoid specifying long messages outside the exception\n"
        "Found 2 errors.\n[*] 1 fixable with the `--fix` option.\n"
    )
    count, items = rp.parse_lint_output("ruff check", output)
    assert count == 2
    assert [(i.path, i.line, i.code) for i in items] == [
        ("httpx_oauth/clients/github.py", 1, "I001"),
        ("httpx_oauth/http_client.py", 201, "TRY003"),
    ]
    assert items[0].message == "Import block is un-sorted or un-formatted"


def test_ruff_clean_and_summary_only() -> None:
    assert rp.parse_lint_output("ruff check", "All checks passed!\n") == (0, [])
    count, items = rp.parse_lint_output("ruff check", "Found 7 errors.\n")
    assert count == 7 and items == []


def test_formatters() -> None:
    black = "would reformat /p/opsdroid/connector/gitlab/connector.py\n\nOh no!\n1 file would be reformatted."
    count, items = rp.parse_lint_output("black", black)
    assert count == 1 and items[0].path == "/p/opsdroid/connector/gitlab/connector.py"
    assert items[0].code == "reformat"
    ruff_format = "Would reformat: demo_project/http_client.py\n1 file would be reformatted, 40 unchanged\n"
    count, items = rp.parse_lint_output("ruff format", ruff_format)
    assert count == 1 and items[0].path == "demo_project/http_client.py"
    assert rp.parse_lint_output("black", "All done! 12 files would be left unchanged.\n") == (0, [])
    # ruff 0.16 names the file on a `-->` line under each "unformatted" one, and shows the diff
    ruff_016 = (
        "unformatted: File would be reformatted\n --> beetsplug/deezer.py:1:1\n  |\n"
        "100 |     x = get_requests_session().get(url).json()\n  |\n\n"
        "unformatted: File would be reformatted\n --> beets/http_client.py:1:1\n"
        " --> not/after/unformatted.py:3:1\n2 files would be reformatted, 40 files already formatted\n"
    )
    count, items = rp.parse_lint_output("ruff format", ruff_016)
    assert count == 2 and [i.path for i in items] == ["beetsplug/deezer.py", "beets/http_client.py"]


def test_mypy_errors_not_notes() -> None:
    output = (
        'pkg/http_client.py:120: error: Returning Any from function returning "int"  [no-any-return]\n'
        "pkg/http_client.py:120: note: See https://mypy.rtfd.io/\n"
        'pkg/a.py:3:5: error: Module "pkg.http_client" has no attribute "get_client"  [attr-defined]\n'
        "Found 2 errors in 2 files (checked 10 source files)\n"
    )
    count, items = rp.parse_lint_output("mypy", output)
    assert count == 2
    assert [i.code for i in items] == ["no-any-return", "attr-defined"]
    assert items[1].line == 3 and items[1].message.startswith('Module "pkg.http_client"')
    assert rp.parse_lint_output("mypy", "Success: no issues found in 10 source files\n") == (0, [])


def test_flake8_lines() -> None:
    output = "./opsdroid/parsers/witai.py:4:1: F401 'aiohttp' imported but unused\n"
    count, items = rp.parse_lint_output("flake8", output)
    assert count == 1 and items[0].code == "F401" and items[0].path == "./opsdroid/parsers/witai.py"


def test_new_lint_items_ignore_moved_lines_and_count_duplicates() -> None:
    item = rp.LintItem
    before = [item("a.py", 10, "E501", "Line too long (90 > 79)"), item("b.py", 3, "F401", "x unused")]
    after = [
        item("a.py", 12, "E501", "Line too long (90 > 79)"),  # moved by the rewrite: not new
        item("a.py", 30, "E501", "Line too long (90 > 79)"),  # a second identical one: new
        item("c.py", 1, "I001", "Import block is un-sorted or un-formatted"),
    ]
    fresh = rp.new_lint_items(before, after)
    assert [(i.path, i.line) for i in fresh] == [("a.py", 30), ("c.py", 1)]


def test_lint_tool_and_normalized_ruff() -> None:
    assert rp.lint_tool(["ruff", "check", "."]) == "ruff check"
    assert rp.lint_tool(["/v/bin/ruff", "format", "--check", "."]) == "ruff format"
    assert rp.lint_tool(["python", "-m", "mypy", "pkg"]) == "mypy"
    assert rp.lint_tool(["black", "--check", "src"]) == "black"
    argv = rp.normalize_lint_argv(["ruff", "check", "."])
    assert argv == ["ruff", "check", ".", "--output-format=concise", "--no-fix"]
    kept = ["ruff", "check", "--output-format", "concise", "--no-fix", "."]
    assert rp.normalize_lint_argv(kept) == kept
    assert rp.normalize_lint_argv(["mypy", "pkg"]) == ["mypy", "pkg"]


def test_module_name() -> None:
    assert rp.module_name("src/pkg/http_client.py") == "pkg.http_client"
    assert rp.module_name("pkg/__init__.py") == "pkg"
    assert rp.module_name("pkg/sub/mod.py") == "pkg.sub.mod"
    assert rp.module_name("README.md") is None
    assert rp.module_name("scripts/my-tool.py") is None


# --------------------------------------------------------------------------------------------------
# The table


def _result(**kwargs: object) -> object:
    base: dict[str, object] = {"name": "proj", "shape": "FastAPI | service", "source": "pypi: proj==1"}
    base.update(kwargs)
    return rp.ProjectResult(**base)


def test_table_renders_one_row_per_project() -> None:
    before = rp.parse_pytest_summary("10 passed in 1s\n")
    before.exit_code = 0
    after = rp.parse_pytest_summary("8 passed, 2 failed in 1s\n")
    after.exit_code = 1
    fine = _result(
        scan_before=rp.ScanSummary(per_request=4, fixable=3),
        fixed_sites=3,
        tests_before=before,
        tests_after=after,
        lint_after=[rp.LintRun(tool="ruff check", command="ruff check .")],
        new_lint={
            "ruff check": [rp.LintItem("a.py", 1, "I001", "x"), rp.LintItem("b.py", 2, "E501", "y")],
            "mypy": [rp.LintItem("c.py", 3, "attr-defined", "z")],
        },
    )
    broken = _result(name="other", error="RuntimeError: `pip install -e .` failed (exit 1): boom")
    # Three calls of a factory and two direct sites: two rewrites, five sites gone.
    factory = _result(
        name="hooks",
        scan_before=rp.ScanSummary(exit_code=1, per_request=6, fixable=6),
        scan_after=rp.ScanSummary(exit_code=1, per_request=1),
        fixed_sites=2,
    )
    table = rp.render_table([fine, broken, factory])
    lines = table.splitlines()
    assert lines[0] == (
        "| project | shape | sites found | fixed | tests before | tests after | new lint errors |"
    )
    assert lines[2] == (
        "| proj | FastAPI \\| service | 4 | 3 | 10 passed | 8 passed, 2 failed | 3 (ruff check 2, mypy 1) |"
    )
    assert lines[3].startswith("| other | FastAPI \\| service | - | - | - | RuntimeError: `pip install -e .`")
    assert lines[4].startswith("| hooks | FastAPI \\| service | 6 | 5 | - |")
    assert len(lines) == 5


def test_details_name_new_failures_and_lint_codes() -> None:
    before = rp.parse_pytest_summary("2 passed in 1s\n")
    after = rp.parse_pytest_summary("FAILED t.py::test_a - AttributeError: boom\n1 passed, 1 failed in 1s\n")
    lint_before = rp.LintRun(tool="ruff check", command="ruff check .", count=0)
    fresh = [rp.LintItem("pkg/http_client.py", 5, "TRY003", "Avoid long messages")]
    lint_after = rp.LintRun(tool="ruff check", command="ruff check .", count=1, items=fresh)
    result = _result(
        tests_before=before,
        tests_after=after,
        newly_failing={"t.py::test_a": "AttributeError: boom"},
        lint_before=[lint_before],
        lint_after=[lint_after],
        new_lint={"ruff check": fresh},
        new_files=["pkg/http_client.py"],
        broken_imports={"pkg.a": "ImportError: cannot import name 'get_http_client'"},
    )
    text = rp.render_details(result)
    assert "`t.py::test_a`: AttributeError: boom" in text
    assert "by code: TRY003 x1" in text
    assert "pkg/http_client.py:5: TRY003 Avoid long messages [touched by the fix]" in text
    assert "`pkg.a`: ImportError" in text


# --------------------------------------------------------------------------------------------------
# The list


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "list.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[[project]]
name = "demo"
shape = "library"
pypi = "demo==1.0"
install = ["-e ."]
test = "python -m pytest -q"
lint = ["ruff check .", "black --check ."]
"""


def test_the_shipped_list_loads() -> None:
    projects = rp.load_projects(LIST)
    assert len(projects) >= 4
    assert len({p.name for p in projects}) == len(projects)


def test_good_entry(tmp_path: Path) -> None:
    (project,) = rp.load_projects(_write(tmp_path, GOOD))
    assert project.source_kind == "pypi" and project.source == "demo==1.0"
    assert project.scan_paths == (".",) and project.lint == ("ruff check .", "black --check .")


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ('pypi = "demo==1.0"', 'pypi = "demo"', "must pin one version"),
        ('pypi = "demo==1.0"', 'pypi = "demo==1.0"\ngit_mirror = "o/demo"', "exactly one of"),
        ('pypi = "demo==1.0"', "", "exactly one of"),
        ('shape = "library"', "", "`shape`"),
        ('install = ["-e ."]', 'install = "-e ."', "`install` must be a list"),
        ('test = "python -m pytest -q"', "", "`test`"),
        ('"black --check ."', '"black ."', "would reformat files"),
        ('name = "demo"', 'name = "demo"\ntests = "pytest"', "unknown key(s) tests"),
        ('name = "demo"', 'name = "../x"', "`name`"),
        ('lint = ["ruff check .", "black --check ."]', 'scan_paths = ["/etc"]', "must be relative"),
        ('pypi = "demo==1.0"', 'git_mirror = "demo"', "owner/name"),
    ],
)
def test_bad_entries_name_the_entry_and_the_key(tmp_path: Path, replace: str, by: str, message: str) -> None:
    assert replace in GOOD
    with pytest.raises(rp.ConfigError) as info:
        rp.load_projects(_write(tmp_path, GOOD.replace(replace, by)))
    assert message in str(info.value)
    assert "list.toml" in str(info.value)
    if replace != 'name = "demo"' or "tests" in by:
        assert "project #1 (demo)" in str(info.value)


def test_duplicate_names_and_empty_lists(tmp_path: Path) -> None:
    with pytest.raises(rp.ConfigError, match="duplicate project name"):
        rp.load_projects(_write(tmp_path, GOOD + GOOD))
    with pytest.raises(rp.ConfigError, match="no \\[\\[project\\]\\] tables"):
        rp.load_projects(_write(tmp_path, "# nothing\n"))
    with pytest.raises(rp.ConfigError, match="list.toml"):
        rp.load_projects(_write(tmp_path, "[[project]\n"))


def test_main_refuses_a_bad_list_and_an_unknown_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path, GOOD.replace('shape = "library"', ""))
    assert rp.main(["--list", str(bad)]) == 2
    assert "`shape`" in capsys.readouterr().err
    good = _write(tmp_path, GOOD)
    assert rp.main(["--list", str(good), "--only", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_patched_client_names_and_mock_warnings() -> None:
    text = (
        '@mock.patch("requests.post")\n@mock.patch("requests.get")\n'
        'monkeypatch.setattr("httpx.AsyncClient", Fake)\n'
        'with patch("aiohttp.ClientSession.post", new=AsyncMock()):\n'
        '@mock.patch("apprise.plugins.discord.requests")\n'  # not a client-library name: left out
    )
    assert rp.patched_client_names(text) == [
        "aiohttp.ClientSession.post",
        "httpx.AsyncClient",
        "requests.get",
        "requests.post",
    ]
    output = (
        "tests/test_a.py:12: patching `requests.post` no longer mocks the rewritten code; Patch ...\n"
        "Fixed 2 site(s) in 1 file(s).\n"
    )
    assert rp.mock_warnings(output) == [
        "tests/test_a.py:12: patching `requests.post` no longer mocks the rewritten code; Patch ..."
    ]


def test_never_awaited_async_tests_are_listed() -> None:
    output = (
        "tests/test_parser_luisai.py::TestParserLuisai::test_call_luisai\n"
        "  /usr/lib/python3.11/unittest/case.py:579: RuntimeWarning: coroutine "
        "'TestParserLuisai.test_call_luisai' was never awaited\n"
        "  RuntimeWarning: coroutine 'TestParserLuisai.test_call_luisai' was never awaited\n"
        "  RuntimeWarning: coroutine 'AsyncMockMixin._execute_mock_call' was never awaited\n"
        "3 passed in 0.1s\n"
    )
    run = rp.parse_pytest_summary(output)
    assert run.never_awaited == ["TestParserLuisai.test_call_luisai"]

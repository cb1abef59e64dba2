"""Tests of the report formats, on scan results built by hand (the scanner is not needed).

Golden files: `tests/report/golden/report.*` hold each format's output for the result in
`fixture.py`; the tests compare them byte for byte. After an intended change to a report, rewrite
them with

    POOL_REFACTOR_UPDATE_GOLDEN=1 python -m pytest tests/report

and review the diff before committing it. Without that variable the golden files are never
written.

SARIF is validated against `sarif-2.1.0-subset.schema.json`, a schema written for these tests from
the OASIS SARIF 2.1.0 specification: it applies the official constraints to every object the
report writes and allows nothing else, so it is stricter than the official schema. When the
official schema file is at hand, set `POOL_REFACTOR_SARIF_SCHEMA=/path/to/sarif-schema-2.1.0.json`
(or put it beside this file under that name) and the log is validated against it as well.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema  # type: ignore[import-untyped]
import pytest

from pool_refactor import __version__
from pool_refactor.report import FORMATS, render
from pool_refactor.report._common import shorten_snippet, summary_line
from pool_refactor.report.github import escape_data, escape_property
from pool_refactor.report.markdown import code as md_code
from pool_refactor.scan.findings import Applicability, FileError, Note, ScanResult, Verdict
from pool_refactor.scan.rules import RULES, Rule

from .fixture import finding, realistic_result

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
REPO = HERE.parent.parent
UPDATE = os.environ.get("POOL_REFACTOR_UPDATE_GOLDEN") == "1"
TABLE_WIDTH = 120

GOLDEN_FILES = {
    "markdown": "report.md",
    "json": "report.json",
    "sarif": "report.sarif",
    "github": "report.github.txt",
    "concise": "report.concise.txt",
    "table": "report.table.txt",
}

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _render(fmt: str, result: ScanResult | None = None, **kwargs: Any) -> str:
    if fmt == "table":
        kwargs.setdefault("width", TABLE_WIDTH)
    return render(realistic_result() if result is None else result, fmt, **kwargs)


def _one(**overrides: Any) -> ScanResult:
    """A result with a single per-request finding, fields overridden as given."""
    base = finding(
        "src/app.py",
        10,
        5,
        "POOL101",
        Verdict.PER_REQUEST,
        "fetch",
        "async with httpx.AsyncClient() as client:",
        "New httpx.AsyncClient per call of `fetch`.",
    )
    return ScanResult(findings=[base.replace(**overrides)], files_scanned=1, files_parsed=1)


# --- golden files -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(GOLDEN_FILES))
def test_golden(fmt: str) -> None:
    path = GOLDEN / GOLDEN_FILES[fmt]
    text = _render(fmt)
    if UPDATE:
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"missing {path}; create it with POOL_REFACTOR_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"{fmt} report differs from {path.name}; if intended, rerun with POOL_REFACTOR_UPDATE_GOLDEN=1"
    )


def test_golden_files_cover_every_format() -> None:
    assert set(GOLDEN_FILES) == set(FORMATS)


# --- dispatcher -------------------------------------------------------------------------------


def test_formats_tuple() -> None:
    assert FORMATS == ("table", "concise", "markdown", "json", "sarif", "github")


def test_unknown_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        render(realistic_result(), "xml")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("show_suppressed", [False, True])
def test_every_format_ends_with_one_newline_and_is_stable(fmt: str, show_suppressed: bool) -> None:
    first = _render(fmt, show_suppressed=show_suppressed)
    assert first.endswith("\n") and not first.endswith("\n\n")
    assert first == _render(fmt, show_suppressed=show_suppressed)


@pytest.mark.parametrize("fmt", FORMATS)
def test_suppressed_finding_only_with_show_suppressed(fmt: str) -> None:
    hidden = _render(fmt)
    shown = _render(fmt, show_suppressed=True)
    assert "notify_ops" not in hidden
    assert "notify_ops" in shown


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_result(fmt: str) -> None:
    text = _render(fmt, ScanResult(files_scanned=3))
    if fmt == "json":
        data = json.loads(text)
        assert data["findings"] == [] and data["errors"] == []
    elif fmt == "sarif":
        data = json.loads(text)
        assert data["runs"][0]["results"] == []
        assert data["runs"][0]["invocations"] == [{"executionSuccessful": True}]
    elif fmt == "concise":
        assert text == "All clear: no per-request HTTP clients found.\n"
    else:
        assert text == "No HTTP clients found in 3 files.\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_errors_only(fmt: str) -> None:
    result = ScanResult(
        errors=[FileError("pkg/bad.py", "invalid syntax (line 1)"), FileError("pkg/x.py", "is a directory")],
        files_scanned=2,
    )
    text = _render(fmt, result)
    assert "pkg/bad.py" in text and "pkg/x.py" in text
    if fmt in ("table", "markdown", "github"):
        assert "No per-request sites; 2 files could not be scanned" in text
    if fmt == "concise":
        assert text.splitlines()[-1] == (
            "No problems found in the files that could be read; 2 files could not be scanned."
        )
    if fmt == "sarif":
        invocation = json.loads(text)["runs"][0]["invocations"][0]
        assert invocation["executionSuccessful"] is False
        assert [n["level"] for n in invocation["toolExecutionNotifications"]] == ["error", "error"]


# --- summary line -----------------------------------------------------------------------------


def test_summary_line_of_the_fixture() -> None:
    assert summary_line(realistic_result()) == (
        "5 per-request sites in 3 files (2 in loops), 1 leak, 1 unclear, 2 persistent; "
        "3 of 5 per-request sites fixable with --fix (1 more with --unsafe-fixes); 1 suppressed; "
        "1 file could not be scanned"
    )


def test_summary_line_singulars() -> None:
    result = _one(in_loop=True, fixable=True, applicability=Applicability.SAFE)
    assert summary_line(result) == (
        "1 per-request site in 1 file (1 in a loop); 1 of 1 per-request site fixable with --fix"
    )


def test_summary_line_says_the_coverage_even_when_nothing_is_fixable() -> None:
    result = _one(reason="the client is returned")
    assert summary_line(result) == "1 per-request site in 1 file; 0 of 1 per-request site fixable with --fix"


def test_summary_line_counts_unsafe_fixes_whatever_the_fixable_flag() -> None:
    """The scanner marks unsafe fixes `fixable=False`; the applicability decides (json-format.md)."""
    result = _one(applicability=Applicability.UNSAFE, fixable=False, reason="cookies are not kept")
    assert summary_line(result) == (
        "1 per-request site in 1 file; "
        "0 of 1 per-request site fixable with --fix (1 more with --unsafe-fixes)"
    )
    data = json.loads(_render("json", result))
    assert data["findings"][0]["fixable"] is True
    assert (data["summary"]["fixable"], data["summary"]["unsafe_fixable"]) == (1, 1)


def test_summary_line_fixable_leaks_are_their_own_clause() -> None:
    result = _one(verdict=Verdict.LEAK, code="POOL201", applicability=Applicability.SAFE)
    assert summary_line(result) == "No per-request sites, 1 leak; 1 other problem fixable with --fix"


@pytest.mark.parametrize("fmt", ["table", "concise", "markdown", "github"])
def test_every_human_format_says_why_a_site_is_not_fixed(fmt: str) -> None:
    text = _render(fmt)
    assert "not fixed: the client option `verify` has a value that is not a literal" in text
    assert "fixed only with --unsafe-fixes: the shared client keeps no cookies" in text


def test_summary_line_only_persistent() -> None:
    result = _one(verdict=Verdict.PERSISTENT, code="POOL001")
    assert summary_line(result) == "No per-request sites, 1 persistent"


# --- concise ----------------------------------------------------------------------------------


def test_concise_lines() -> None:
    lines = _render("concise").splitlines()
    assert lines[0] == (
        "app/api/users.py:45:16: POOL101 [*] New httpx.AsyncClient for every call of `get_user`: "
        "a new pool, TLS context and handshake per call."
    )
    assert not any("POOL001" in line for line in lines), "persistent clients are not problems"
    assert "app/legacy/broken.py: error: invalid syntax (line 3, column 9)" in lines
    unsafe = next(line for line in lines if "POOL102" in line)
    assert "[*]" not in unsafe, "unsafe fixes are not marked, as in ruff"
    assert unsafe.endswith(
        "(fixed only with --unsafe-fixes: the shared client keeps no cookies: a cookie set by one response "
        "is not sent back)"
    )
    assert lines[-1].startswith(
        "Found 7 problems; 3 of 5 per-request sites fixable with --fix (1 more with --unsafe-fixes); "
    )


def test_concise_all_clear_counts_persistent() -> None:
    text = _render("concise", _one(verdict=Verdict.PERSISTENT, code="POOL001"))
    assert text == "All clear: no per-request HTTP clients found; 1 persistent client not listed.\n"


def test_concise_show_suppressed_marks_it() -> None:
    line = next(line for line in _render("concise", show_suppressed=True).splitlines() if ":30:" in line)
    assert line.endswith("(suppressed)")


def test_concise_message_newlines_are_flattened() -> None:
    text = _render("concise", _one(message="two\nlines"))
    assert text.splitlines()[0] == "src/app.py:10:5: POOL101 two lines"


# --- markdown ---------------------------------------------------------------------------------


def test_markdown_sections_and_rows() -> None:
    text = _render("markdown")
    assert text.startswith("## Problem Areas (New Client Per Request)\n\n| Location | Line | Context |\n")
    assert (
        "| `app/api/users.py` | 45 [*], 103 [*], 161 | `get_user`, `UserApi.fetch_all` (in loop), "
        "`UserApi.refresh_token` |"
    ) in text
    assert (
        "| `app/api/users.py` | 161 | not fixed: the client option `verify` has a value that is not a "
        "literal (self.ssl_context) |"
    ) in text
    for heading in (
        "## Not Fixed by --fix",
        "## Leaks and Unclear Sites",
        "## Already Optimized (Persistent Clients)",
        "## Files Not Scanned",
    ):
        assert f"\n{heading}\n" in text
    assert "| `app/billing/client.py:12` | `self._client = httpx.AsyncClient(...)` |" in text


def test_markdown_empty_tables_are_left_out() -> None:
    text = _render("markdown", _one())
    assert "## Problem Areas" in text
    assert "Persistent" not in text and "Leaks" not in text and "Not Scanned" not in text


def test_markdown_escapes_pipes_everywhere() -> None:
    result = _one(
        path="src/a|b.py",
        verdict=Verdict.LEAK,
        code="POOL201",
        context="A|B.run",
        snippet='client = httpx.Client(headers=base | {"x": "1"})',
        message="Never closed | leaks.",
    )
    text = _render("markdown", result)
    row = next(line for line in text.splitlines() if line.startswith("| `src/a"))
    assert row == (
        r"| `src/a\|b.py` | 10 | `client = httpx.Client(...)` | Never closed \| leaks. (POOL201) |"
    )
    cells = re.split(r"(?<!\\)\|", row)
    assert len(cells) == 6, "exactly four cells"


def test_markdown_pipe_in_context() -> None:
    text = _render("markdown", _one(context="Weird|Name"))
    assert r"`Weird\|Name`" in text


def test_markdown_code_spans_survive_backticks() -> None:
    assert md_code("plain") == "`plain`"
    assert md_code("a `b` c") == "`` a `b` c ``"
    assert md_code("x\n  y") == "`x y`"


def test_markdown_html_like_text_is_escaped_outside_code() -> None:
    text = _render(
        "markdown", _one(verdict=Verdict.UNCLEAR, code="POOL302", message="handed to <lambda> & co")
    )
    assert "handed to &lt;lambda&gt; &amp; co (POOL302)" in text


def test_markdown_module_context_stays_in_code_span() -> None:
    text = _render("markdown", _one(context="<module>"))
    assert "`<module>`" in text


def test_markdown_suppressed_lines_marked() -> None:
    text = _render("markdown", show_suppressed=True)
    assert "| `app/webhooks.py` | 22 [*], 30 (suppressed) | `send_webhooks` (in loop), `notify_ops` |" in text


# --- json -------------------------------------------------------------------------------------

FINDING_KEYS = [
    "path",
    "line",
    "column",
    "end_line",
    "code",
    "library",
    "verdict",
    "in_loop",
    "context",
    "snippet",
    "fixable",
    "reason",
    "suppressed",
    "message",
    "applicability",
]


def test_json_shape_and_key_order() -> None:
    result = realistic_result()
    data = json.loads(_render("json", result))
    assert list(data) == ["version", "tool", "findings", "errors", "notes", "summary"]
    assert data["notes"] == []
    assert data["version"] == 1
    assert data["tool"] == {"name": "pool-refactor", "version": __version__}
    assert all(list(item) == FINDING_KEYS for item in data["findings"])
    assert data["errors"] == [
        {"path": "app/legacy/broken.py", "message": "invalid syntax (line 3, column 9)"}
    ]
    assert data["summary"] == {**result.summary(), "fixable": 4, "unsafe_fixable": 1}
    assert list(data["summary"]).index("unsafe_fixable") == list(data["summary"]).index("fixable") + 1
    assert len(data["findings"]) == 9 and not any(item["suppressed"] for item in data["findings"])
    assert {item["verdict"] for item in data["findings"]} == {v.value for v in Verdict}


def test_json_show_suppressed() -> None:
    data = json.loads(_render("json", show_suppressed=True))
    suppressed = [item for item in data["findings"] if item["suppressed"]]
    assert [(item["path"], item["line"]) for item in suppressed] == [("app/webhooks.py", 30)]
    assert data["summary"]["suppressed"] == 1


def test_json_is_indented_ascii() -> None:
    text = _render("json", _one(message="naïve → café"))
    assert text.startswith('{\n  "version": 1,')
    assert text.isascii()
    assert json.loads(text)["findings"][0]["message"] == "naïve → café"


# --- sarif ------------------------------------------------------------------------------------


def _official_schema() -> dict[str, Any] | None:
    candidates = [os.environ.get("POOL_REFACTOR_SARIF_SCHEMA", ""), str(HERE / "sarif-schema-2.1.0.json")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            schema: dict[str, Any] = json.loads(Path(candidate).read_text(encoding="utf-8"))
            return schema
    return None


def _validate_sarif(log: dict[str, Any]) -> None:
    subset = json.loads((HERE / "sarif-2.1.0-subset.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(subset)
    jsonschema.Draft4Validator(subset, format_checker=jsonschema.FormatChecker()).validate(log)
    official = _official_schema()
    if official is not None:
        jsonschema.Draft4Validator(official, format_checker=jsonschema.FormatChecker()).validate(log)
    # The `uri` formats are not checked by jsonschema without optional packages: check them here.
    driver = log["runs"][0]["tool"]["driver"]
    for uri in [driver["informationUri"], *(rule["helpUri"] for rule in driver["rules"])]:
        parts = urlsplit(uri)
        assert parts.scheme == "https" and parts.netloc, uri
    for result in log["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert re.fullmatch(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]+", uri), uri
        assert not urlsplit(uri).scheme and not uri.startswith("/"), "relative to %SRCROOT%"


@pytest.mark.parametrize("show_suppressed", [False, True])
def test_sarif_is_valid(show_suppressed: bool) -> None:
    _validate_sarif(json.loads(_render("sarif", show_suppressed=show_suppressed)))


def test_sarif_subset_schema_rejects_what_the_official_one_rejects() -> None:
    """The subset schema is live: broken logs fail it."""
    log = json.loads(_render("sarif"))
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        _validate_sarif(broken)
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startColumn"] = 0
    with pytest.raises(jsonschema.ValidationError):
        _validate_sarif(broken)
    broken = json.loads(json.dumps(log))
    del broken["runs"][0]["invocations"][0]["executionSuccessful"]
    with pytest.raises(jsonschema.ValidationError):
        _validate_sarif(broken)


def test_sarif_content() -> None:
    log = json.loads(_render("sarif"))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pool-refactor" and driver["version"] == __version__
    assert [rule["id"] for rule in driver["rules"]] == [rule.code for rule in RULES]
    levels = {rule["id"]: rule["defaultConfiguration"]["level"] for rule in driver["rules"]}
    assert levels == {
        "POOL001": "none",
        "POOL002": "none",
        "POOL101": "warning",
        "POOL102": "warning",
        "POOL103": "warning",
        "POOL201": "warning",
        "POOL301": "note",
        "POOL302": "note",
    }
    results = run["results"]
    assert "POOL001" not in {r["ruleId"] for r in results}, "persistent clients are not alerts"
    assert len(results) == 7
    for r in results:
        assert driver["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
        assert set(r["properties"]) >= {"verdict", "in_loop", "fixable"}
    first = results[0]
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "app/api/users.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 45, "startColumn": 16, "endLine": 47},
    }
    assert run["invocations"][0]["executionSuccessful"] is False
    notification = run["invocations"][0]["toolExecutionNotifications"][0]
    assert notification["level"] == "error"
    assert "invalid syntax" in notification["message"]["text"]


def test_sarif_help_uris_point_at_rule_pages() -> None:
    driver = json.loads(_render("sarif"))["runs"][0]["tool"]["driver"]
    for rule in driver["rules"]:
        assert rule["helpUri"].endswith(f"/pool_refactor/docs/rules/{rule['id']}.md")
        assert (REPO / "pool_refactor" / "docs" / "rules" / f"{rule['id']}.md").is_file()


def test_sarif_suppressed_result_is_marked_in_source() -> None:
    results = json.loads(_render("sarif", show_suppressed=True))["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == 1 and suppressed[0]["suppressions"] == [{"kind": "inSource"}]


def test_sarif_uri_is_percent_encoded() -> None:
    log = json.loads(_render("sarif", _one(path="src/my app/ü#1.py")))
    _validate_sarif(log)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "src/my%20app/%C3%BC%231.py"
    assert unquote(uri) == "src/my app/ü#1.py"


def test_sarif_message_is_never_empty() -> None:
    log = json.loads(_render("sarif", _one(message="")))
    _validate_sarif(log)
    summary = next(rule.summary for rule in RULES if rule.code == "POOL101")
    assert log["runs"][0]["results"][0]["message"]["text"] == summary


def test_sarif_fingerprints_ignore_line_moves() -> None:
    before = json.loads(_render("sarif", _one()))["runs"][0]["results"][0]["partialFingerprints"]
    after = json.loads(_render("sarif", _one(line=40, end_line=40)))["runs"][0]["results"][0]
    assert after["partialFingerprints"] == before


def test_sarif_fingerprints_distinguish_identical_sites() -> None:
    one = _one().findings[0]
    result = ScanResult(findings=[one, one.replace(line=20, end_line=20)])
    results = json.loads(_render("sarif", result))["runs"][0]["results"]
    prints = {next(iter(r["partialFingerprints"].values())) for r in results}
    assert len(prints) == 2


# --- github -----------------------------------------------------------------------------------


def test_github_escaping() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%d\n") == "a%3Ab%2Cc%25d%0A"


def test_github_annotations() -> None:
    lines = _render("github").splitlines()
    assert lines[0] == (
        "::warning file=app/api/users.py,line=45,col=16,endLine=47,title=POOL101 client-per-request-with::"
        "New httpx.AsyncClient for every call of `get_user`: a new pool, TLS context and handshake per call."
    )
    assert sum(line.startswith("::notice ") for line in lines) == 1
    assert sum(line.startswith("::warning ") for line in lines) == 6
    assert not any("POOL001" in line for line in lines), "nothing for persistent clients"
    assert lines[-2] == (
        "::error file=app/legacy/broken.py,title=pool-refactor could not scan this file::"
        "invalid syntax (line 3, column 9)"
    )


def test_github_escapes_message_and_properties() -> None:
    text = _render("github", _one(path="src/a,b:c.py", message="50% slower\nper call"))
    assert text.splitlines()[0] == (
        "::warning file=src/a%2Cb%3Ac.py,line=10,col=5,endLine=10,title=POOL101 client-per-request-with::"
        "50%25 slower%0Aper call"
    )


def test_github_error_message_escaped() -> None:
    text = _render("github", ScanResult(errors=[FileError("x.py", "bad\nbytes 100%")]))
    assert (
        text.splitlines()[0]
        == "::error file=x.py,title=pool-refactor could not scan this file::bad%0Abytes 100%25"
    )


def test_github_suppressed_is_a_notice() -> None:
    line = next(line for line in _render("github", show_suppressed=True).splitlines() if "line=30," in line)
    assert line.startswith("::notice ") and "title=POOL103 one-shot-request (suppressed)::" in line


# --- table ------------------------------------------------------------------------------------


def test_table_has_no_escape_codes_without_color() -> None:
    assert not ANSI.search(_render("table"))


def test_table_color() -> None:
    text = _render("table", color=True)
    assert ANSI.search(text)
    assert ANSI.sub("", text).splitlines()[0].startswith("Problem areas (new client per request)")


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_table_fits_the_width(width: int) -> None:
    lines = _render("table", width=width).splitlines()
    assert all(len(line) <= width for line in lines[:-1]), "only the summary line may be longer"


def test_table_rows() -> None:
    text = _render("table")
    row = (
        "│ app/api/users.py      │ 45 [*], 103 [*], 161 │ "
        "get_user, UserApi.fetch_all (in loop), UserApi.refresh_token │"
    )
    assert row in text
    assert "\nNot fixed by --fix\n" in text
    assert "could not scan: invalid syntax (line 3, column 9)" in text
    assert text.splitlines()[-1] == summary_line(realistic_result())


def test_table_brackets_are_not_markup() -> None:
    text = _render("table", _one(verdict=Verdict.PERSISTENT, code="POOL001", snippet="self._c[key] = X()"))
    assert "self._c[key] = X()" in text


# --- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "self._client = httpx.AsyncClient(timeout=30, limits=LIMITS)",
            "self._client = httpx.AsyncClient(...)",
        ),
        ("async with httpx.AsyncClient() as client:", "async with httpx.AsyncClient() as client:"),
        ("async with httpx.AsyncClient(\n    timeout=1,\n) as c:", "async with httpx.AsyncClient(...) as c:"),
        ('httpx.get(")(")', "httpx.get(...)"),
        ("self._client = httpx.AsyncClient(", "self._client = httpx.AsyncClient(...)"),
        ("a = f(x, 'unclosed", "a = f(...)"),
        ("stray) = f()", "stray) = f()"),
        ("s = 'open", "s = 'open"),
        ("x" * 80, "x" * 59 + "…"),
    ],
)
def test_shorten_snippet(snippet: str, expected: str) -> None:
    assert shorten_snippet(snippet) == expected


# --- rule pages -------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_every_rule_has_a_page(rule: Rule) -> None:
    page = (REPO / "pool_refactor" / "docs" / "rules" / f"{rule.code}.md").read_text(encoding="utf-8")
    assert page.startswith(f"# {rule.code} {rule.name}\n")
    assert "## How to suppress" in page
    assert "```python" in page


@pytest.mark.parametrize("code", ["POOL101", "POOL103"])
def test_async212_advice_is_answered(code: str) -> None:
    page = (REPO / "pool_refactor" / "docs" / "rules" / f"{code}.md").read_text(encoding="utf-8")
    assert "ASYNC212" in page and "get_http_client()" in page


# --- notes of --fix / --diff ------------------------------------------------------------------


def _with_notes() -> ScanResult:
    result = realistic_result()
    result.notes = [
        Note("module", "shared client module written", "app/http_client.py"),
        Note(
            "mock",
            "patching `httpx.AsyncClient` no longer mocks the rewritten code; patch ...",
            "tests/t.py",
            7,
        ),
        Note("wiring", "No FastAPI or Starlette application was found, so nothing was wired."),
    ]
    return result


def test_notes_are_in_the_json_report_in_order() -> None:
    data = json.loads(_render("json", _with_notes()))
    assert data["notes"] == [
        {
            "kind": "module",
            "path": "app/http_client.py",
            "line": None,
            "message": "shared client module written",
        },
        {
            "kind": "mock",
            "path": "tests/t.py",
            "line": 7,
            "message": "patching `httpx.AsyncClient` no longer mocks the rewritten code; patch ...",
        },
        {
            "kind": "wiring",
            "path": None,
            "line": None,
            "message": "No FastAPI or Starlette application was found, so nothing was wired.",
        },
    ]


def test_notes_are_sarif_notifications_after_the_errors() -> None:
    log = json.loads(_render("sarif", _with_notes()))
    _validate_sarif(log)
    notifications = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["level"] for n in notifications] == ["error", "note", "note", "note"]
    assert notifications[2]["descriptor"] == {"id": "pool-refactor/mock"}
    assert notifications[2]["locations"][0]["physicalLocation"]["region"]["startLine"] == 7
    assert "locations" not in notifications[3]


def test_concise_summary_after_a_fix_says_what_was_fixed() -> None:
    result = ScanResult(files_scanned=3, fixed=2)
    assert (
        _render("concise", result).splitlines()[-1] == "Fixed 2 sites; no per-request HTTP clients are left."
    )

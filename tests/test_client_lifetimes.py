"""What the CLI does with the lifetimes of issues 11.4 and 12: guarded caches, subclasses of a
client class, connection-scoped clients. The exact findings are pinned by the scan fixtures
(`persistent_guarded_caches`, `unclear_uncached_factories`, `subclass_clients`,
`connection_scoped`, `connection_scoped_lookalikes`); these tests check the run around them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pool_refactor.cli import app
from pool_refactor.plan.analyze import analyze_source
from pool_refactor.scan.findings import Verdict
from pool_refactor.scan.rules import RULES_BY_CODE

FIXTURES = Path(__file__).parent / "fixtures" / "scan"
runner = CliRunner()


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *fixtures: str) -> Path:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in fixtures:
        shutil.copy(FIXTURES / f"{name}.py", package / f"{name}.py")
    monkeypatch.chdir(tmp_path)
    return package


def _scan(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["scan", "--no-cache", *args])
    return result.exit_code, result.output


def test_connection_scoped_clients_do_not_fail_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path, monkeypatch, "connection_scoped")
    code, out = _scan("--check", ".")
    assert code == 0, out
    code, out = _scan("--format", "json", ".")
    findings = json.loads(out)["findings"]
    assert len(findings) == 8 and {f["code"] for f in findings} == {"POOL002"}
    assert all(f["verdict"] == "persistent" and not f["fixable"] for f in findings)


def test_fix_leaves_connection_scoped_clients_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _project(tmp_path, monkeypatch, "connection_scoped")
    before = (package / "connection_scoped.py").read_bytes()
    code, out = _scan("--fix", ".")
    assert code == 0, out
    assert (package / "connection_scoped.py").read_bytes() == before
    assert not (package / "http_client.py").exists()


def test_subclass_sites_are_reported_but_never_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _project(tmp_path, monkeypatch, "subclass_clients")
    before = (package / "subclass_clients.py").read_bytes()
    code, out = _scan("--fix", ".")
    assert (package / "subclass_clients.py").read_bytes() == before, out
    assert not (package / "http_client.py").exists()
    code, out = _scan("--check", "--format", "concise", ".")
    assert code == 1, "they are per request all the same"
    assert "pkg/subclass_clients.py:21:10: POOL101 `APIClient` (an `httpx.Client`) opened and closed" in out
    assert "[*]" not in out


def test_the_planner_is_never_asked_about_a_subclass() -> None:
    text = (FIXTURES / "subclass_clients.py").read_text(encoding="utf-8")
    per_request = [f for f in analyze_source(text) if f.verdict is Verdict.PER_REQUEST]
    assert len(per_request) == 5
    for finding in per_request:
        assert finding.plan is None and not finding.fixable
        assert "subclasses" in finding.reason and "overrides would be lost" in finding.reason


def test_rule_codes_keep_their_verdict_by_hundreds() -> None:
    verdicts = {"0": Verdict.PERSISTENT, "1": Verdict.PER_REQUEST, "2": Verdict.LEAK, "3": Verdict.UNCLEAR}
    for code, rule in RULES_BY_CODE.items():
        assert rule.verdict is verdicts[code[4]], code


def test_select_by_family_leaves_connection_scoped_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, monkeypatch, "connection_scoped", "connection_scoped_lookalikes")
    code, out = _scan("--select", "POOL1", "--format", "json", ".")
    codes = {f["code"] for f in json.loads(out)["findings"]}
    assert codes == {"POOL101"}

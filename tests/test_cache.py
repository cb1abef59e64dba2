"""The result cache may make a scan faster, never different."""

from __future__ import annotations

import json
import os
import shutil
import time
import types
from pathlib import Path

import pytest

import pool_refactor
from pool_refactor.plan import analyze
from pool_refactor.plan.analyze import scan_one
from pool_refactor.run import cache as cache_module
from pool_refactor.run import parallel
from pool_refactor.run.cache import CACHE_FILENAME, ScanCache, decode_scan, encode_scan
from pool_refactor.run.config import load_config
from pool_refactor.run.options import Options
from pool_refactor.run.pipeline import run
from pool_refactor.scan.findings import ScanResult

SITE = (
    "import httpx\n\n\n"
    "async def fetch(url: str) -> dict:\n"
    "    async with httpx.AsyncClient(timeout=5.0) as client:\n"
    "        return (await client.get(url)).json()\n"
)
PERSISTENT = "import httpx\n\nCLIENT = httpx.Client()\n"
ONE_SHOT = "import httpx\n\n\ndef ping(url: str) -> int:\n    return httpx.get(url).status_code\n"
HOUR_AGO = time.time() - 3600


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "users.py").write_text(SITE)
    (app / "client.py").write_text(PERSISTENT)
    (app / "plain.py").write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    (app / "broken.py").write_text("import httpx\ndef f(:\n")
    for path in app.iterdir():  # old enough for the stat fast path to trust them
        os.utime(path, (HOUR_AGO, HOUR_AGO))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def scan(root: Path, *, use_cache: bool = True, diff: bool = False) -> ScanResult:
    options = Options(paths=[Path("app")], config=load_config(root), jobs=1, use_cache=use_cache, diff=diff)
    return run(options).result


def forbid(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{name} was called on a warm run")

    # The scanner is imported where it is first needed (a warm run never loads it).
    monkeypatch.setattr(analyze if name == "scan_loaded" else parallel, name, refuse)


def cache_file(root: Path) -> Path:
    return root / ".pool_refactor_cache" / CACHE_FILENAME


def test_warm_run_reads_nothing_and_gives_the_same_result(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = scan(project)
    assert cold.findings and cold.errors
    assert cold == scan(project, use_cache=False)
    forbid(monkeypatch, "read_bytes")  # unchanged stat: not even opened
    forbid(monkeypatch, "scan_loaded")
    warm = scan(project)
    assert warm == cold
    assert [f.plan for f in warm.findings] == [f.plan for f in cold.findings]


def test_just_written_files_are_hashed_not_trusted(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stat recorded within the racy window is verified by content, which still avoids a parse."""
    for path in (project / "app").iterdir():
        os.utime(path)  # now: too close to when the cache is written to trust the stat
    cold = scan(project)
    forbid(monkeypatch, "scan_loaded")
    assert scan(project) == cold


def test_a_checkout_scanned_at_once_is_trusted_by_stat_after_the_next_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files written just before the first scan (a fresh clone in CI) are hashed on the next run, and
    that run writes the cache again so that the one after trusts their stat: the cache is not left
    as it was, which would make every later warm run read and hash the whole checkout."""
    for path in (project / "app").iterdir():
        os.utime(path)  # now: within the racy window of the first run's cache
    cold = scan(project)
    first_write = json.loads(cache_file(project).read_bytes())["written_ns"]
    later = time.time_ns() + 10 * cache_module.RACY_NS  # the next run comes well after the checkout
    monkeypatch.setattr(cache_module, "time", types.SimpleNamespace(time_ns=lambda: later))
    assert scan(project) == cold  # hashed, not trusted: the stat was recorded within the window
    assert json.loads(cache_file(project).read_bytes())["written_ns"] == later != first_write
    forbid(monkeypatch, "read_bytes")
    assert scan(project) == cold  # the stat is trusted now: nothing opened
    monkeypatch.undo()


def test_a_file_still_within_the_window_does_not_rewrite_the_cache(project: Path) -> None:
    """The rewrite is for stats old enough to be trusted once written again; a file edited a moment
    ago would be as untrusted after a rewrite, so a warm run leaves the cache file alone."""
    for path in (project / "app").iterdir():
        os.utime(path)
    scan(project)
    before = cache_file(project).stat().st_mtime_ns, cache_file(project).read_bytes()
    scan(project)
    assert (cache_file(project).stat().st_mtime_ns, cache_file(project).read_bytes()) == before


def test_an_edit_changes_the_findings(project: Path) -> None:
    first = scan(project)
    (project / "app" / "client.py").write_text(PERSISTENT + "\n\n" + ONE_SHOT.replace("import httpx\n", ""))
    second = scan(project)
    assert second != first
    assert second == scan(project, use_cache=False)
    assert len([f for f in second.findings if f.path == "app/client.py"]) == 2


def test_an_edit_that_keeps_size_and_mtime_is_caught_by_the_inode_or_hash(project: Path) -> None:
    """Same size, same mtime (restored), but a new file (editors write and rename): new inode."""
    first = scan(project)
    target = project / "app" / "users.py"
    replacement = project / "app" / "users.py.new"
    replacement.write_text(SITE.replace("timeout=5.0", "timeout=6.0"))
    os.utime(replacement, (HOUR_AGO, HOUR_AGO))
    os.replace(replacement, target)
    second = scan(project)
    assert second == scan(project, use_cache=False)
    assert [f.snippet for f in second.findings] != [f.snippet for f in first.findings]


def test_a_renamed_file_keeps_its_findings_under_its_new_path(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan(project)
    (project / "app" / "users.py").rename(project / "app" / "accounts.py")
    forbid(monkeypatch, "scan_loaded")  # same bytes: found by content, not parsed again
    result = scan(project)
    monkeypatch.undo()
    os.chdir(project)
    assert result == scan(project, use_cache=False)
    paths = {f.path for f in result.findings}
    assert "app/accounts.py" in paths and "app/users.py" not in paths


def test_a_corrupt_cache_is_ignored_and_rebuilt(project: Path) -> None:
    expected = scan(project, use_cache=False)
    scan(project)
    cache_file(project).write_bytes(b"\x00not json at all{")
    assert scan(project) == expected
    assert json.loads(cache_file(project).read_bytes())["stats"]  # rewritten, valid again


def test_damaged_entries_are_rescanned(project: Path) -> None:
    expected = scan(project, use_cache=False)
    scan(project)
    data = json.loads(cache_file(project).read_bytes())
    for digest in data["scans"]:
        data["scans"][digest] = [None, True, [["only", "three", "fields"]]]
    cache_file(project).write_text(json.dumps(data))
    assert scan(project) == expected


def test_a_cache_from_another_version_is_ignored(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = scan(project, use_cache=False)
    scan(project)
    data = json.loads(cache_file(project).read_bytes())
    for digest in data["scans"]:  # lies that a cache with the right key would serve
        data["scans"][digest] = None
    cache_file(project).write_text(json.dumps(data))
    monkeypatch.setattr(cache_module, "cache_key", lambda: "another-version")
    assert scan(project) == expected


def test_no_cache_neither_reads_nor_writes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scan(project, use_cache=False)
    assert not (project / ".pool_refactor_cache").exists()
    scan(project)
    monkeypatch.setattr(ScanCache, "load", None)  # reading would fail loudly
    scan(project, use_cache=False)


def test_diff_reads_but_does_not_write_the_cache(project: Path) -> None:
    scan(project, diff=True)
    assert not (project / ".pool_refactor_cache").exists()


def test_cache_folder_explains_itself(project: Path) -> None:
    scan(project)
    folder = project / ".pool_refactor_cache"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (folder / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", "CACHEDIR.TAG", CACHE_FILENAME]


def test_cache_dir_setting_is_honoured(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.pool-refactor]\ncache-dir = 'build/prc'\n")
    scan(project)
    assert (project / "build" / "prc" / CACHE_FILENAME).is_file()


def test_entries_of_deleted_files_are_dropped(project: Path) -> None:
    scan(project)
    (project / "app" / "users.py").unlink()
    scan(project)
    stats = json.loads(cache_file(project).read_bytes())["stats"]
    assert not any(path.endswith("users.py") for path in stats)
    assert any(path.endswith("client.py") for path in stats)


def test_encoding_round_trips_every_field(project: Path) -> None:
    for path in (project / "app").iterdir():
        original = scan_one(path, "before.py")
        decoded = decode_scan(json.loads(json.dumps(encode_scan(original))), "after.py")
        assert decoded.display == "after.py"
        assert decoded.error == original.error and decoded.parsed == original.parsed
        for got, want in zip(decoded.findings, original.findings, strict=True):
            assert got.path == "after.py"
            assert got.plan == want.plan
            assert got == want.replace(path="after.py")


WRAPPER = (
    "import httpx\n\n\nclass Retrying:\n"
    "    def __init__(self, client=None):\n        self.c = client or httpx.Client()\n"
)
USES_WRAPPER = "from app.retry import Retrying\n\n\ndef get(url):\n    return Retrying().c.get(url)\n"


def test_exports_round_trip(project: Path) -> None:
    (project / "app" / "retry.py").write_text(WRAPPER)
    original = scan_one(project / "app" / "retry.py", "before.py")
    assert [(e.kind, e.name, e.given, e.given_index) for e in original.exports] == [
        ("wrapper", "Retrying", "client", 0)
    ]
    decoded = decode_scan(json.loads(json.dumps(encode_scan(original))), "after.py")
    assert decoded.exports == original.exports


def test_a_warm_run_answers_calls_of_other_modules_without_reading(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "app" / "retry.py").write_text(WRAPPER)
    (project / "app" / "__init__.py").write_text("")
    handler = project / "app" / "handler.py"
    handler.write_text(USES_WRAPPER)
    for path in (project / "app").iterdir():
        os.utime(path, (HOUR_AGO, HOUR_AGO))
    cold = scan(project)
    assert [(f.path, f.line, f.code) for f in cold.findings if f.path.endswith("handler.py")] == [
        ("app/handler.py", 5, "POOL201")
    ]
    assert cold == scan(project, use_cache=False)
    with monkeypatch.context() as patched:
        forbid(patched, "read_bytes")
        patched.setattr("pool_refactor.scan.source.read_bytes", forbid_call)  # imported where used
        assert scan(project) == cold
    # The importing file gains a call: its cross-module findings are computed again, from its bytes.
    handler.write_text(USES_WRAPPER + "\n\ndef again(url):\n    return Retrying().c.get(url)\n")
    os.utime(handler, (HOUR_AGO + 5, HOUR_AGO + 5))
    lines = [f.line for f in scan(project).findings if f.path.endswith("handler.py")]
    assert lines == [5, 9]


def forbid_call(*args: object, **kwargs: object) -> None:
    raise AssertionError("a file was read on a warm run")


@pytest.mark.parametrize("module", ["scan/scanner.py", "scan/catalog.py", "plan/planner.py", "paths.py"])
def test_the_key_changes_with_the_code_that_decides_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    """An upgrade that changes the scanner or the planner must not be served old findings."""

    copy = tmp_path / "pool_refactor"
    shutil.copytree(Path(pool_refactor.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(pool_refactor, "__file__", str(copy / "__init__.py"))
    before = cache_module.cache_key()
    assert cache_module.cache_key() == before
    with (copy / module).open("a", encoding="utf-8") as handle:
        handle.write("\n# changed\n")
    assert cache_module.cache_key() != before


def test_content_digests_are_hashlibs_blake2b() -> None:
    """`run.digest` skips hashlib's import, not its algorithm: the digests stored by any earlier run,
    or by an interpreter without `_blake2`, name the same bytes."""
    import hashlib

    from pool_refactor.run.digest import content_digest

    for data in (b"", b"import httpx\n", bytes(range(256)) * 64):
        assert content_digest(data) == hashlib.blake2b(data, digest_size=16).hexdigest()

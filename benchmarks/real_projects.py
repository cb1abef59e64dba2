"""The real projects loop: run ``pool-refactor scan --fix`` on real open-source projects and check that the
fix *lands*: their own tests and their own linters, before and after.

    python benchmarks/real_projects.py                        # every project of benchmarks/real_projects.toml
    python benchmarks/real_projects.py --only httpx-oauth     # one project (repeatable)
    python benchmarks/real_projects.py --workdir /tmp/rp --keep --json /tmp/rp/results.json
    python benchmarks/real_projects.py --sources /srv/snapshots   # trees for `git_mirror` projects

Fixtures show that a rewrite compiles; only a real repository shows whether it lands (DESIGN.md, "Landing
in someone else's repository"): whether the imports it adds resolve in that layout, whether the project's
linters and type checker accept the rewritten lines and the generated module, and which of its tests
mocked the old construction. For every project of the list, one at a time (the machine is small and
shared), the loop:

1. gets the source: ``pypi = "name==version"`` is downloaded as an sdist with
   ``pip download --no-deps --no-binary NAME`` (only that package from source: asking ``:all:`` would
   also build its build requirements from source), ``git_mirror = "owner/name"`` is exported from the
   search tool's snapshot under ``/work/.mirror/owner+name/`` (or found under ``--sources DIR``), and
   ``path = "..."`` is a local folder; the tree is copied twice into the work dir, ``orig/`` (kept
   pristine, to tell a broken import from one that never worked) and ``src/`` (the one that is fixed);
2. makes a virtual environment for it and runs the entry's ``install`` lines (``pip install`` arguments,
   from inside ``src/``); the only network use of the whole loop is pip and the download in step 1;
3. runs the entry's ``test`` command (pytest gets ``-rfE`` so failed test ids are listed) and parses
   pytest's final summary line;
4. runs the entry's ``lint`` commands (ruff check, ruff format --check, black --check, mypy, flake8)
   and parses their findings one by one;
5. runs ``python -m pool_refactor scan --format json`` on ``scan_paths`` (per-request sites found),
   then ``scan --fix`` (the pool-refactor of the interpreter running this script), reads "Fixed N
   site(s) in M file(s)." and scans again (per-request sites left, and any finding on the generated
   module: the tool must be silent on its own module);
6. runs the tests and linters again, and imports every module the fix touched, in the project's
   environment (a module that imports in ``orig/`` but not in ``src/`` is an import the fix broke);
7. prints one markdown table (project | shape | sites found | fixed | tests before | tests after | new
   lint errors) and per project what broke: newly failing tests with their error, new lint findings by
   rule code (marked when on a file the fix touched), broken imports, time per phase. ``--json OUT``
   writes everything as JSON.

Every subprocess runs under a timeout (``--timeout``) in a session of its own, whose whole process group
is killed when the timeout passes. Tests, linters, pool-refactor and the import check run in a network
namespace of their own with only loopback up (``unshare -n``, as root), so a project's test suite cannot
reach anything else even by mistake; ``--no-isolate`` turns that off, and it is off with a warning where
``unshare`` does not work.

Lint findings are compared as multisets of (tool, path, code, message) without line numbers, since a
rewrite moves lines: a finding after the fix that was not there before is new.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_LIST = HERE / "real_projects.toml"
MIRROR_ROOT = Path("/work/.mirror")
DEFAULT_TIMEOUT = 900.0
# Folders that never hold the project's code: left out of copies and of the before/after file hashes.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".pool_refactor_cache",
        "node_modules",
        ".hypothesis",
    }
)
SOURCE_KEYS = ("pypi", "git_mirror", "path")
ENTRY_KEYS = frozenset(
    {
        "name",
        "shape",
        *SOURCE_KEYS,
        "commit",
        "install",
        "test",
        "lint",
        "scan_paths",
        "scan_args",
        "fix_args",
        "env",
        "timeout",
        "notes",
    }
)


class ConfigError(ValueError):
    """A project list that cannot be run: raised before anything is downloaded or installed."""


# --------------------------------------------------------------------------------------------------
# The project list


@dataclass(frozen=True)
class Project:
    """One entry of ``real_projects.toml``, checked: every command is known to be runnable as written."""

    name: str
    shape: str
    source_kind: str  # "pypi", "git_mirror" or "path"
    source: str
    install: tuple[str, ...]
    test: str
    lint: tuple[str, ...] = ()
    scan_paths: tuple[str, ...] = (".",)
    scan_args: tuple[str, ...] = ()
    fix_args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    commit: str | None = None
    timeout: float | None = None
    notes: str = ""


def _str_list(value: object, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ConfigError(f"{where}: `{key}` must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _check_lint_command(command: str, where: str) -> None:
    """Refuse a linter command that would rewrite the tree: the before/after comparison needs a tree
    that only pool-refactor changes (``ruff check`` gets ``--no-fix`` added, so it is never refused)."""
    argv = shlex.split(command)
    tool = lint_tool(argv)
    if tool in ("ruff format", "black") and not {"--check", "--diff"} & set(argv):
        raise ConfigError(f"{where}: lint command {command!r} would reformat files; add --check")


def parse_project(raw: Mapping[str, Any], where: str) -> Project:
    """Check one ``[[project]]`` table and turn it into a :class:`Project`; every mistake names the
    entry and the key, so a bad list fails before a download that takes minutes."""
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigError(f"{where}: `name` must be a project name ([A-Za-z0-9._-]), got {name!r}")
    where = f"{where} ({name})"
    unknown = sorted(set(raw) - ENTRY_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(ENTRY_KEYS))}"
        )
    shape = raw.get("shape")
    if not isinstance(shape, str) or not shape.strip():
        raise ConfigError(f"{where}: `shape` (what kind of project this is) is required")
    sources = [key for key in SOURCE_KEYS if key in raw]
    if len(sources) != 1:
        raise ConfigError(f"{where}: give exactly one of {', '.join(SOURCE_KEYS)} (got {sources or 'none'})")
    kind = sources[0]
    source = raw[kind]
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{where}: `{kind}` must be a non-empty string")
    if kind == "pypi" and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+", source):
        raise ConfigError(f'{where}: `pypi` must pin one version, as "name==1.2.3", got {source!r}')
    if kind == "git_mirror" and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", source):
        raise ConfigError(f'{where}: `git_mirror` must be "owner/name", got {source!r}')
    commit = raw.get("commit")
    if commit is not None and (kind != "git_mirror" or not isinstance(commit, str)):
        raise ConfigError(f"{where}: `commit` is a string, and only for a `git_mirror` source")
    install = _str_list(raw.get("install"), where, "install")
    test = raw.get("test")
    if not isinstance(test, str) or not test.strip():
        raise ConfigError(f"{where}: `test` (the test command) is required")
    lint = _str_list(raw.get("lint", []), where, "lint") if raw.get("lint", []) else ()
    for command in lint:
        _check_lint_command(command, where)
    scan_paths = _str_list(raw.get("scan_paths", ["."]), where, "scan_paths")
    for path in scan_paths:
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise ConfigError(f"{where}: scan path {path!r} must be relative and inside the project")
    scan_args = _str_list(raw.get("scan_args", []), where, "scan_args") if raw.get("scan_args", []) else ()
    fix_args = _str_list(raw.get("fix_args", []), where, "fix_args") if raw.get("fix_args", []) else ()
    env_raw = raw.get("env", {})
    if not isinstance(env_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env_raw.items()
    ):
        raise ConfigError(f"{where}: `env` must be a table of strings")
    timeout = raw.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0
    ):
        raise ConfigError(f"{where}: `timeout` must be a positive number of seconds")
    notes = raw.get("notes", "")
    if not isinstance(notes, str):
        raise ConfigError(f"{where}: `notes` must be a string")
    return Project(
        name=name,
        shape=shape.strip(),
        source_kind=kind,
        source=source.strip(),
        install=install,
        test=test.strip(),
        lint=lint,
        scan_paths=scan_paths,
        scan_args=scan_args,
        fix_args=fix_args,
        env=tuple(sorted(env_raw.items())),
        commit=commit,
        timeout=float(timeout) if timeout is not None else None,
        notes=notes.strip(),
    )


def load_projects(path: Path) -> list[Project]:
    """Read and check the whole list (``[[project]]`` tables); names must be unique."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    raw_projects = data.get("project")
    if not isinstance(raw_projects, list) or not raw_projects:
        raise ConfigError(f"{path}: no [[project]] tables")
    unknown = sorted(set(data) - {"project"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(unknown)}")
    projects: list[Project] = []
    for index, raw in enumerate(raw_projects, 1):
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: project #{index} is not a table")
        projects.append(parse_project(raw, f"{path.name}: project #{index}"))
    names = collections.Counter(p.name for p in projects)
    dupes = sorted(n for n, c in names.items() if c > 1)
    if dupes:
        raise ConfigError(f"{path}: duplicate project name(s) {', '.join(dupes)}")
    return projects


# --------------------------------------------------------------------------------------------------
# Parsing tool output (pure functions, unit-tested in tests/test_real_projects.py)


@dataclass
class TestRun:
    """One run of a project's test command, from pytest's final summary line and short summary."""

    __test__ = False  # not a pytest test class, whatever its name says

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    xfailed: int = 0
    xpassed: int = 0
    deselected: int = 0
    no_tests: bool = False
    summary_found: bool = False
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    summary_line: str = ""
    # "FAILED id - message" / "ERROR id - message" lines of pytest's short test summary (-rfE)
    failures: dict[str, str] = field(default_factory=dict)
    # pytest-cov's "FAIL Required test coverage of 100% not reached. Total coverage: 86.48%": the
    # reason a run whose tests all passed exits 1
    coverage_gate: str = ""
    # without a summary line: the first "E   ..." line (a conftest that does not import, a crash)
    problem: str = ""
    # async test methods of a plain unittest.TestCase "pass" without running: pytest only warns
    # "coroutine 'TestX.test_y' was never awaited". Their code is not tested before or after the fix.
    never_awaited: list[str] = field(default_factory=list)


_SUMMARY_WORDS = r"passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun"
_SUMMARY_LINE = re.compile(
    rf"^=*\s*(?P<body>(?:\d+ (?:{_SUMMARY_WORDS})(?:, )?)+|no tests ran)\s+in\s+[\d.]+\s*s\b.*?=*\s*$"
)
_SUMMARY_COUNT = re.compile(rf"(\d+) ({_SUMMARY_WORDS})")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_pytest_summary(output: str) -> TestRun:
    """Counts from the last summary line ("5 passed, 1 failed, 2 errors in 3.2s", "no tests ran in
    0.01s", with or without the ``===`` rule), and the ids and messages of pytest's short test summary.
    A run with no summary line (a crash, a timeout, not pytest) keeps ``summary_found`` false."""
    run = TestRun()
    lines = _ANSI.sub("", output).splitlines()
    for line in reversed(lines):
        match = _SUMMARY_LINE.match(line.strip())
        if not match:
            continue
        run.summary_found = True
        run.summary_line = line.strip().strip("= ")
        body = match.group("body")
        if body == "no tests ran":
            run.no_tests = True
        for number, word in _SUMMARY_COUNT.findall(body):
            count = int(number)
            if word.startswith("error"):
                run.errors = count
            elif word in ("passed", "failed", "skipped", "xfailed", "xpassed", "deselected"):
                setattr(run, word, count)
        if not (run.passed or run.failed or run.errors or run.xfailed or run.xpassed):
            run.no_tests = True
        break
    for line in lines:
        match = re.match(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", line)
        if match:
            run.failures.setdefault(match.group(2), (match.group(3) or match.group(1)).strip())
        gate = re.search(r"Required test coverage of ([\d.]+%) not reached\. Total coverage: ([\d.]+%)", line)
        if gate:
            run.coverage_gate = f"coverage {gate.group(2)} < {gate.group(1)}"
        awaited = re.search(r"coroutine '([\w.]*\btest\w*)' was never awaited", line)
        if awaited and awaited.group(1) not in run.never_awaited:
            run.never_awaited.append(awaited.group(1))
        if not run.summary_found and not run.problem and re.match(r"^E\s{2,}\S", line):
            run.problem = line[1:].strip()
    return run


def format_tests(run: TestRun | None) -> str:
    """The table cell: "120 passed, 3 failed, 1 error", and the exit code when it says more than the
    counts (a coverage gate failing a run whose tests all passed)."""
    if run is None:
        return "-"
    if run.timed_out:
        return f"timed out after {run.seconds:.0f}s"
    if not run.summary_found:
        return f"no summary (exit {run.exit_code})"
    if run.no_tests and not run.failed and not run.errors:
        return "no tests ran"
    parts = [f"{run.passed} passed"]
    if run.failed:
        parts.append(f"{run.failed} failed")
    if run.errors:
        parts.append(f"{run.errors} error{'s' if run.errors != 1 else ''}")
    text = ", ".join(parts)
    if run.exit_code not in (0, None) and not run.failed and not run.errors:
        text += (
            f" (exit {run.exit_code}: {run.coverage_gate})"
            if run.coverage_gate
            else f" (exit {run.exit_code})"
        )
    return text


@dataclass(frozen=True)
class LintItem:
    """One linter finding; ``code`` is the rule code (ruff, flake8), the error code (mypy), or a fixed
    word for formatters ("reformat")."""

    path: str
    line: int
    code: str
    message: str

    def key(self) -> tuple[str, str, str]:
        """Identity across a rewrite, which moves lines: path, code and message, without the line."""
        return (self.path, self.code, self.message)


@dataclass
class LintRun:
    """One run of one lint command."""

    tool: str
    command: str
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    count: int = 0
    items: list[LintItem] = field(default_factory=list)
    unparsed_tail: str = ""


def lint_tool(argv: Sequence[str]) -> str:
    """Which parser reads a lint command's output: "ruff check", "ruff format", "black", "mypy",
    "flake8", or the command's first word (a generic ``path:line[:col]: message`` parser)."""
    words = [Path(a).name for a in argv if not a.startswith("-")]
    if words[:3] == ["python", "-m"] or (words and words[0].startswith("python")):
        words = words[1:]
    if not words:
        return "?"
    if words[0] == "ruff":
        return "ruff format" if "format" in words[1:2] else "ruff check"
    return words[0]


def normalize_lint_argv(argv: list[str]) -> list[str]:
    """``ruff check`` prints one concise line per finding and never fixes (a project may set
    ``fix = true``, which would let the linter rewrite the tree between "before" and "after")."""
    if lint_tool(argv) != "ruff check":
        return argv
    extra: list[str] = []
    if not any(a.startswith("--output-format") for a in argv):
        extra.append("--output-format=concise")
    if "--no-fix" not in argv:
        extra.append("--no-fix")
    return [*argv, *extra]


_LOCATED = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?P<rest>.*)$")
_RUFF_REST = re.compile(
    r"^(?P<code>[A-Z]+[0-9]+|[a-z][a-z-]+|SyntaxError|invalid-syntax)\b:?\s*(?:\[\*\]\s*)?(?P<msg>.*)$"
)
_MYPY_REST = re.compile(r"^(?P<sev>error|note|warning):\s*(?P<msg>.*?)(?:\s+\[(?P<code>[a-z0-9-]+)\])?$")


def parse_lint_output(tool: str, output: str) -> tuple[int, list[LintItem]]:
    """The number of findings in a linter's output, and the findings it names.

    * ruff check / flake8 / generic: ``path:line:col: CODE message`` lines (``Found N errors.`` is
      the count when no line could be read);
    * mypy: ``path:line[:col]: error: message  [code]`` lines (notes are not errors);
    * black / ruff format: ``would reformat PATH`` / ``Would reformat: PATH`` lines, or ruff 0.16's
      ``unformatted: File would be reformatted`` followed by `` --> PATH:1:1`` (code ``reformat``),
      the count from "N files would be reformatted" when no line could be read.
    """
    text = _ANSI.sub("", output)
    items: list[LintItem] = []
    if tool in ("black", "ruff format"):
        unformatted = False
        for line in text.splitlines():
            match = re.match(r"^\s*(?:would reformat|Would reformat:)\s+(.+?)\s*$", line)
            if match:
                items.append(LintItem(match.group(1), 0, "reformat", "would reformat"))
            pointer = re.match(r"^\s*-->\s+(.+?):\d+:\d+\s*$", line) if unformatted else None
            if pointer:
                items.append(LintItem(pointer.group(1), 0, "reformat", "would reformat"))
            unformatted = line.startswith("unformatted:")  # its `-->` line comes next
        summary = re.search(r"(\d+) files? would be reformatted", text)
        count = len(items) or (int(summary.group(1)) if summary else 0)
        return count, items
    for line in text.splitlines():
        match = _LOCATED.match(line.strip())
        if not match:
            continue
        path, line_no, rest = match.group("path"), int(match.group("line")), match.group("rest")
        if tool == "mypy":
            mypy = _MYPY_REST.match(rest)
            if mypy and mypy.group("sev") == "error":
                items.append(LintItem(path, line_no, mypy.group("code") or "error", mypy.group("msg")))
            continue
        ruff = _RUFF_REST.match(rest)
        if ruff:
            items.append(LintItem(path, line_no, ruff.group("code"), ruff.group("msg").strip()))
        else:
            items.append(LintItem(path, line_no, "?", rest.strip()))
    count = len(items)
    if not count:
        if tool == "mypy":
            summary = re.search(r"Found (\d+) errors? in \d+ files?", text)
        else:
            summary = re.search(r"Found (\d+) errors?", text)
        count = int(summary.group(1)) if summary else 0
    return count, items


def new_lint_items(before: Iterable[LintItem], after: Iterable[LintItem]) -> list[LintItem]:
    """Findings after the fix that were not there before, as multisets without line numbers (two
    identical findings before and three after: one is new)."""
    seen = collections.Counter(item.key() for item in before)
    fresh: list[LintItem] = []
    for item in after:
        if seen[item.key()] > 0:
            seen[item.key()] -= 1
        else:
            fresh.append(item)
    return fresh


_PATCH_TARGET = re.compile(
    r"""(?:patch|setattr)\(\s*["']((?:requests|httpx2?|aiohttp|urllib3)(?:\.[A-Za-z_]\w*)+)["']"""
)


def patched_client_names(text: str) -> list[str]:
    """Client-library names a test file patches by string (``mock.patch("requests.post")``,
    ``monkeypatch.setattr("httpx.AsyncClient", ...)``): the usual reason a test fails once the code
    no longer calls them."""
    return sorted(set(_PATCH_TARGET.findall(text)))


def mock_warnings(output: str) -> list[str]:
    """The lines in which ``scan --fix`` names a test whose patch no longer reaches the rewritten code."""
    return [line.strip() for line in output.splitlines() if "no longer mocks" in line]


_FIXED_LINE = re.compile(r"Fixed (\d+) sites?(?:\(s\))? in (\d+) files?(?:\(s\))?\.?")


def parse_fixed(output: str) -> tuple[int, int] | None:
    """Sites and files from ``scan --fix``'s "Fixed N site(s) in M file(s)." line; None without one."""
    matches = _FIXED_LINE.findall(_ANSI.sub("", output))
    if not matches:
        return None
    sites, files = matches[-1]
    return int(sites), int(files)


# --------------------------------------------------------------------------------------------------
# Results


@dataclass
class ScanSummary:
    """What one ``scan --format json`` run saw on the scan paths."""

    exit_code: int | None = None
    per_request: int = 0
    fixable: int = 0  # safe or unsafe fix available (JSON ``fixable`` is false for unsafe ones)
    unsafe: int = 0
    leak: int = 0
    unclear: int = 0
    persistent: int = 0
    errors: list[str] = field(default_factory=list)
    per_request_sites: list[str] = field(default_factory=list)  # "path:line CODE reason"


@dataclass
class ProjectResult:
    """Everything the loop learned about one project; ``--json`` writes a list of these."""

    name: str
    shape: str
    source: str
    commit: str | None = None
    error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    tests_before: TestRun | None = None
    tests_after: TestRun | None = None
    lint_before: list[LintRun] = field(default_factory=list)
    lint_after: list[LintRun] = field(default_factory=list)
    scan_before: ScanSummary | None = None
    scan_after: ScanSummary | None = None
    fix_exit_code: int | None = None
    fixed_sites: int | None = None
    fixed_files: int | None = None
    fix_output: str = ""
    touched_files: list[str] = field(default_factory=list)
    new_files: list[str] = field(default_factory=list)
    own_module_findings: list[str] = field(default_factory=list)
    new_lint: dict[str, list[LintItem]] = field(default_factory=dict)
    newly_failing: dict[str, str] = field(default_factory=dict)
    newly_passing: list[str] = field(default_factory=list)
    broken_imports: dict[str, str] = field(default_factory=dict)
    # "path:line: patching `requests.post` no longer mocks the rewritten code" lines of --fix
    mock_warnings: list[str] = field(default_factory=list)
    # test files of newly failing tests -> the client-library names they patch (`requests.post`)
    failing_test_patches: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def new_lint_cell(result: ProjectResult) -> str:
    """ "5 (ruff check 3, mypy 2)": new findings per tool, 0 when the linters ran and found nothing new."""
    if result.tests_after is None and not result.lint_after:
        return "-"
    per_tool = {tool: len(items) for tool, items in result.new_lint.items() if items}
    total = sum(per_tool.values())
    if not per_tool:
        return "0"
    return f"{total} ({', '.join(f'{tool} {n}' for tool, n in per_tool.items())})"


def render_table(results: Sequence[ProjectResult]) -> str:
    """The one table the loop exists for (markdown, ready for an issue)."""
    lines = [
        "| project | shape | sites found | fixed | tests before | tests after | new lint errors |",
        "| --- | --- | ---: | ---: | --- | --- | --- |",
    ]
    for r in results:
        if r.error and r.scan_before is None:
            found = fixed = "-"
        else:
            found = str(r.scan_before.per_request) if r.scan_before else "-"
            fixed = str(r.fixed_sites) if r.fixed_sites is not None else "-"
            if r.scan_before and r.scan_after and not r.scan_after.errors:
                # Sites gone after the fix: a factory's calls are fixed in the factory, one rewrite.
                fixed = str(r.scan_before.per_request - r.scan_after.per_request)
        after = format_tests(r.tests_after)
        if r.error:
            after = f"{after}; {r.error}" if r.tests_after else r.error
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    r.name,
                    r.shape,
                    found,
                    fixed,
                    format_tests(r.tests_before),
                    after,
                    new_lint_cell(r),
                )
            )
            + " |"
        )
    return "\n".join(lines)


def render_details(result: ProjectResult) -> str:
    """What broke and why, for one project: the part of the report a fix is made from."""
    r = result
    out = [f"### {r.name}", ""]
    source = r.source + (f" @ {r.commit}" if r.commit else "")
    out.append(f"- source: {source}; shape: {r.shape}")
    if r.seconds:
        phases = ", ".join(f"{k} {v:.0f}s" for k, v in r.seconds.items() if k != "total")
        out.append(f"- time: {r.seconds.get('total', 0):.0f}s ({phases})")
    if r.error:
        out.append(f"- **error**: {r.error}")
    if r.scan_before:
        s = r.scan_before
        out.append(
            f"- scan before: {s.per_request} per-request ({s.fixable} fixable, {s.unsafe} of them unsafe), "
            f"{s.leak} leak, "
            f"{s.unclear} unclear, {s.persistent} persistent" + (f"; errors: {s.errors}" if s.errors else "")
        )
    if r.fix_exit_code is not None:
        fixed = (
            'no "Fixed" line'
            if r.fixed_sites is None
            else f"{r.fixed_sites} site(s) in {r.fixed_files} file(s)"
        )
        out.append(
            f"- fix: exit {r.fix_exit_code}, {fixed}; files changed: {len(r.touched_files)}, "
            f"new files: {', '.join(r.new_files) or 'none'}"
        )
    if r.scan_after:
        s = r.scan_after
        out.append(
            f"- scan after: {s.per_request} per-request left ({s.fixable} fixable)"
            + (f"; errors: {s.errors}" if s.errors else "")
        )
    if r.own_module_findings:
        out.append(f"- **findings on the generated module**: {'; '.join(r.own_module_findings)}")
    out.append(f"- tests: before {format_tests(r.tests_before)}; after {format_tests(r.tests_after)}")
    for when, run in (("before", r.tests_before), ("after", r.tests_after)):
        if run is not None and run.problem:
            out.append(f"  - {when}: {run.problem}")
    if r.tests_after is not None and r.tests_after.never_awaited:
        names = r.tests_after.never_awaited
        out.append(
            f"  - {len(names)} async tests were never awaited (they pass without running; what they "
            f"test is not checked): {', '.join(names[:8])}" + (" ..." if len(names) > 8 else "")
        )
    if r.newly_failing:
        out.append(f"- **newly failing tests** ({len(r.newly_failing)}):")
        for test_id, message in sorted(r.newly_failing.items())[:40]:
            out.append(f"  - `{test_id}`: {message[:300]}")
        if len(r.newly_failing) > 40:
            out.append(f"  - ... and {len(r.newly_failing) - 40} more (see --json)")
    if r.failing_test_patches:
        files = len({test_id.split("::", 1)[0] for test_id in r.newly_failing})
        out.append(
            f"- {len(r.failing_test_patches)} of the {files} test files with newly failing tests patch "
            "the old construction by name:"
        )
        for test_file, names in list(r.failing_test_patches.items())[:20]:
            out.append(f"  - {test_file}: {', '.join(names)}")
    if r.fix_exit_code is not None:
        out.append(
            f"- --fix named {len(r.mock_warnings)} test patch(es) that no longer mock the rewritten code"
            + (f", e.g. {r.mock_warnings[0][:200]}" if r.mock_warnings else "")
        )
    if r.newly_passing:
        out.append(f"- tests failing before and passing after: {', '.join(sorted(r.newly_passing)[:10])}")
    for before, after in zip(r.lint_before, r.lint_after, strict=False):
        fresh = r.new_lint.get(after.tool, [])
        status = f"{before.count} -> {after.count}"
        if after.timed_out or before.timed_out:
            status += " (timed out)"
        out.append(f"- lint `{after.command}`: {status}, {len(fresh)} new")
        by_code = collections.Counter(item.code for item in fresh)
        if by_code:
            out.append("  - by code: " + ", ".join(f"{code} x{n}" for code, n in by_code.most_common()))
        touched = set(r.touched_files) | set(r.new_files)
        for item in fresh[:30]:
            mark = " [touched by the fix]" if _norm(item.path) in touched else ""
            out.append(f"  - {item.path}:{item.line}: {item.code} {item.message[:200]}{mark}")
        if len(fresh) > 30:
            out.append(f"  - ... and {len(fresh) - 30} more (see --json)")
    if r.broken_imports:
        out.append("- **imports broken by the fix**:")
        for module, message in sorted(r.broken_imports.items()):
            out.append(f"  - `{module}`: {message[:300]}")
    for note in r.notes:
        out.append(f"- note: {note}")
    return "\n".join(out)


def _norm(path: str) -> str:
    return path[2:] if path.startswith("./") else path


# --------------------------------------------------------------------------------------------------
# Running things


@dataclass
class Completed:
    argv: list[str]
    exit_code: int | None
    output: str
    seconds: float
    timed_out: bool


class Runner:
    """Runs every subprocess of the loop: a timeout for each, its whole process group killed when it
    passes (test suites start servers and workers), output logged to ``logs/`` of the project."""

    def __init__(self, log_dir: Path, timeout: float, isolate: bool) -> None:
        self.log_dir = log_dir
        self.timeout = timeout
        self.isolate = isolate
        self.counter = 0

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        label: str,
        offline: bool = True,
        timeout: float | None = None,
    ) -> Completed:
        argv = list(argv)
        full = (
            ["unshare", "-n", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$0" "$@"', *argv]
            if offline and self.isolate
            else argv
        )
        limit = timeout or self.timeout
        start = time.monotonic()
        timed_out = False
        proc = subprocess.Popen(
            full,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            raw, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            raw, _ = proc.communicate()
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): the command runs in a session of its own, so it would
            # outlive the loop and go on changing the tree.
            _kill_group(proc.pid)
            proc.wait()
            raise
        seconds = time.monotonic() - start
        output = raw.decode("utf-8", "replace")
        self.counter += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{self.counter:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}.log"
        log.write_text(
            f"$ (cd {cwd} && {shlex.join(argv)})\n# exit {proc.returncode}, {seconds:.1f}s"
            f"{', timed out' if timed_out else ''}\n{output}",
            encoding="utf-8",
        )
        return Completed(argv, None if timed_out else proc.returncode, output, seconds, timed_out)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group may be gone already
        os.killpg(pid, signal.SIGKILL)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM ends the loop as Ctrl-C does, so the running command's process group is killed too."""
    raise SystemExit(128 + signum)


def isolation_works() -> bool:
    """Whether ``unshare -n`` (a network namespace with only loopback) can be used here."""
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(
            ["unshare", "-n", "sh", "-c", "ip link set lo up 2>/dev/null; true"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def venv_env(venv: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of the project's commands: its virtual environment first on PATH, nothing of
    ours (PYTHONPATH, our VIRTUAL_ENV) leaking in, no colours in the output that is parsed."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    env["PY_COLORS"] = "0"
    env["COLUMNS"] = "400"  # pytest cuts "FAILED id - message" lines to the terminal's width
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def resolve_argv(command: str, env: Mapping[str, str]) -> list[str]:
    """Split a command of the list and find its program on the project's PATH (``python`` is the
    venv's, ``ruff`` the one its install lines put there)."""
    argv = shlex.split(command)
    found = shutil.which(argv[0], path=env.get("PATH"))
    if found:
        argv[0] = found
    return argv


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (caches and VCS folders left out), to see what the fix
    changed without trusting its own report."""
    hashes: dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in names:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            hashes[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def module_name(relpath: str) -> str | None:
    """The dotted name a file is imported as from the project root (``src/`` layouts stripped)."""
    if not relpath.endswith(".py"):
        return None
    parts = list(Path(relpath).with_suffix("").parts)
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


IMPORT_CHECK = r"""
import importlib, json, sys, traceback
results = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        results[name] = None
    except BaseException as exc:  # a module may call sys.exit or raise anything at import
        results[name] = f"{type(exc).__name__}: {exc}"
print("IMPORT-CHECK " + json.dumps(results))
"""


# --------------------------------------------------------------------------------------------------
# The loop


class Loop:
    """Runs the list, one project at a time, and keeps the results."""

    def __init__(
        self, workdir: Path, timeout: float, isolate: bool, sources: Path | None, python: str
    ) -> None:
        self.workdir = workdir
        self.timeout = timeout
        self.isolate = isolate
        self.sources = sources
        self.python = python  # the interpreter whose pool_refactor is measured

    # -- source

    def fetch_source(self, project: Project, runner: Runner, dest: Path, result: ProjectResult) -> None:
        """Put a pristine copy of the project's tree at ``dest``."""
        if project.source_kind == "path":
            src = Path(project.source).expanduser()
            if not src.is_dir():
                raise RuntimeError(f"source folder {src} does not exist")
            shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(*SKIP_DIRS))
            return
        if project.source_kind == "git_mirror":
            self._from_mirror(project, runner, dest, result)
            return
        name, _, version = project.source.partition("==")
        downloads = self.workdir / "_downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        sdist = _find_sdist(downloads, name, version)
        if sdist is None:
            done = runner.run(
                [
                    self.python,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--no-binary",
                    name,
                    "--disable-pip-version-check",
                    "-d",
                    str(downloads),
                    project.source,
                ],
                cwd=downloads,
                label="pip-download",
                offline=False,
            )
            sdist = _find_sdist(downloads, name, version)
            if sdist is None:
                raise RuntimeError(
                    f"pip download {project.source} gave no sdist (exit {done.exit_code}): "
                    f"{_tail(done.output)}"
                )
        _unpack(sdist, dest)

    def _from_mirror(self, project: Project, runner: Runner, dest: Path, result: ProjectResult) -> None:
        owner, repo = project.source.split("/")
        candidates = []
        if self.sources is not None:
            candidates += [self.sources / project.name, self.sources / f"{owner}+{repo}", self.sources / repo]
        candidates += [MIRROR_ROOT / f"{owner}+{repo}" / "repo", MIRROR_ROOT / f"{owner}+{repo}"]
        for candidate in candidates:
            if not candidate.is_dir():
                continue
            git_dir = _git_dir(candidate)
            if git_dir is None:  # a plain checked-out tree
                shutil.copytree(candidate, dest, symlinks=True, ignore=shutil.ignore_patterns(*SKIP_DIRS))
                return
            rev = project.commit or "HEAD"
            dest.mkdir(parents=True)
            archive = self.workdir / f"_{project.name}.tar"
            done = runner.run(
                ["git", f"--git-dir={git_dir}", "archive", "--format=tar", "-o", str(archive), rev],
                cwd=self.workdir,
                label="git-archive",
                offline=False,
            )
            if done.exit_code != 0:
                raise RuntimeError(f"git archive {rev} of {git_dir} failed: {_tail(done.output)}")
            with tarfile.open(archive) as tar:
                tar.extractall(dest, filter="data")
            archive.unlink()
            head = subprocess.run(
                ["git", f"--git-dir={git_dir}", "rev-parse", rev],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            result.commit = head.stdout.strip() or None
            return
        raise RuntimeError(
            f"no snapshot of {project.source}: looked in {', '.join(str(c) for c in candidates)} "
            "(get one with the search tool's fetch, or pass --sources DIR holding a checkout)"
        )

    # -- one project

    def run_project(self, project: Project) -> ProjectResult:
        result = ProjectResult(
            name=project.name, shape=project.shape, source=f"{project.source_kind}: {project.source}"
        )
        base = self.workdir / project.name
        if base.exists():
            shutil.rmtree(base)
        base.mkdir(parents=True)
        timeout = project.timeout or self.timeout
        runner = Runner(base / "logs", timeout, self.isolate)
        started = time.monotonic()
        try:
            self._run_project(project, runner, base, result)
        except Exception as exc:  # one broken project must not end the loop
            result.error = f"{type(exc).__name__}: {exc}"
        result.seconds["total"] = time.monotonic() - started
        return result

    def _phase(self, result: ProjectResult, name: str, start: float) -> None:
        result.seconds[name] = result.seconds.get(name, 0.0) + time.monotonic() - start

    def _run_project(self, project: Project, runner: Runner, base: Path, result: ProjectResult) -> None:
        t = time.monotonic()
        orig, src, venv = base / "orig", base / "src", base / "venv"
        self.fetch_source(project, runner, orig, result)
        shutil.copytree(orig, src, symlinks=True)
        self._phase(result, "source", t)

        t = time.monotonic()
        done = runner.run([sys.executable, "-m", "venv", str(venv)], cwd=base, label="venv", offline=False)
        if done.exit_code != 0:
            raise RuntimeError(f"venv failed: {_tail(done.output)}")
        env = venv_env(venv, dict(project.env))
        # The pip that ships with the interpreter can be old: 23.x does not match `.[name_with_underscores]`
        # with the normalized extras that current setuptools writes, and silently installs no extra.
        runner.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
            cwd=src,
            env=env,
            label="install-pip",
            offline=False,
        )
        for index, line in enumerate(project.install):
            done = runner.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *shlex.split(line)],
                cwd=src,
                env=env,
                label=f"install-{index}",
                offline=False,
            )
            if done.exit_code != 0:
                self._phase(result, "install", t)
                raise RuntimeError(
                    f"`pip install {line}` failed (exit {done.exit_code}): {_tail(done.output)}"
                )
        self._phase(result, "install", t)

        t = time.monotonic()
        result.tests_before = self.run_tests(project, runner, src, env, "tests-before")
        self._phase(result, "tests", t)
        t = time.monotonic()
        result.lint_before = self.run_linters(project, runner, src, env, "before")
        self._phase(result, "lint", t)

        t = time.monotonic()
        result.scan_before = self.scan(project, runner, src, "scan-before")
        before = tree_hashes(src)
        fix = self.pool_refactor(project, runner, src, "fix", "--fix", *project.fix_args)
        after = tree_hashes(src)
        result.fix_exit_code = fix.exit_code
        result.fix_output = fix.output[-4000:]
        result.mock_warnings = mock_warnings(fix.output)
        parsed = parse_fixed(fix.output)
        if parsed:
            result.fixed_sites, result.fixed_files = parsed
        result.touched_files = sorted(p for p in before if p in after and before[p] != after[p])
        result.new_files = sorted(p for p in after if p not in before)
        gone = sorted(p for p in before if p not in after)
        if gone:
            result.notes.append(f"files removed by the fix: {', '.join(gone)}")
        result.scan_after = self.scan(project, runner, src, "scan-after")
        # The generated module must not be reported by the tool that generated it.
        result.own_module_findings = [
            site for site in result.scan_after.per_request_sites if site.split(":", 1)[0] in result.new_files
        ]
        again = self.pool_refactor(project, runner, src, "diff-after-fix", "--diff", *project.fix_args)
        if again.output.strip() and ("+++" in again.output or "---" in again.output):
            result.notes.append(f"a second --fix would change more: {_tail(again.output, 600)}")
        self._phase(result, "pool-refactor", t)

        t = time.monotonic()
        result.tests_after = self.run_tests(project, runner, src, env, "tests-after")
        self._phase(result, "tests", t)
        t = time.monotonic()
        result.lint_after = self.run_linters(project, runner, src, env, "after")
        for lint_after, lint_before in zip(result.lint_after, result.lint_before, strict=True):
            result.new_lint[lint_after.tool] = new_lint_items(lint_before.items, lint_after.items)
            if not lint_after.items and lint_after.count > lint_before.count:
                result.notes.append(
                    f"{lint_after.tool}: {lint_after.count - lint_before.count} more findings "
                    f"that could not be read one by one: {lint_after.unparsed_tail}"
                )
        self._phase(result, "lint", t)

        if result.tests_before and result.tests_after:
            before_f, after_f = result.tests_before.failures, result.tests_after.failures
            result.newly_failing = {k: v for k, v in after_f.items() if k not in before_f}
            result.newly_passing = sorted(k for k in before_f if k not in after_f)
            for test_file in sorted({test_id.split("::", 1)[0] for test_id in result.newly_failing}):
                path = src / test_file
                if path.is_file():
                    names = patched_client_names(path.read_text(encoding="utf-8", errors="replace"))
                    if names:
                        result.failing_test_patches[test_file] = names

        t = time.monotonic()
        result.broken_imports = self.check_imports(
            runner, orig, src, env, [*result.touched_files, *result.new_files]
        )
        self._phase(result, "imports", t)

    def run_tests(
        self, project: Project, runner: Runner, src: Path, env: Mapping[str, str], label: str
    ) -> TestRun:
        argv = resolve_argv(project.test, env)
        if any(Path(a).name in ("pytest", "py.test") for a in argv[:3]):
            argv += ["-rfE", "-p", "no:cacheprovider"]
        done = runner.run(argv, cwd=src, env=env, label=label)
        run = parse_pytest_summary(done.output)
        run.exit_code, run.timed_out, run.seconds = done.exit_code, done.timed_out, done.seconds
        return run

    def run_linters(
        self, project: Project, runner: Runner, src: Path, env: Mapping[str, str], when: str
    ) -> list[LintRun]:
        runs: list[LintRun] = []
        for command in project.lint:
            argv = normalize_lint_argv(resolve_argv(command, env))
            tool = lint_tool(shlex.split(command))
            done = runner.run(argv, cwd=src, env=env, label=f"lint-{when}-{tool}")
            count, items = parse_lint_output(tool, done.output)
            runs.append(
                LintRun(
                    tool=tool,
                    command=command,
                    exit_code=done.exit_code,
                    timed_out=done.timed_out,
                    seconds=done.seconds,
                    count=count,
                    items=items,
                    unparsed_tail="" if items else _tail(done.output, 400),
                )
            )
        return runs

    def pool_refactor(self, project: Project, runner: Runner, src: Path, label: str, *args: str) -> Completed:
        """``python -m pool_refactor scan`` of the interpreter running the loop (the code under test),
        without its result cache, which would otherwise be written into the project's tree."""
        argv = [self.python, "-m", "pool_refactor", "scan", "--no-cache", *project.scan_args, *args]
        return runner.run([*argv, *project.scan_paths], cwd=src, env=_our_env(), label=label)

    def scan(self, project: Project, runner: Runner, src: Path, label: str) -> ScanSummary:
        # The report counts what --fix would do with these arguments; --fix-tests acts only with --fix.
        scan_args = [arg for arg in project.fix_args if arg != "--fix-tests"]
        done = self.pool_refactor(project, runner, src, label, "--format", "json", *scan_args)
        summary = ScanSummary(exit_code=done.exit_code)
        try:
            start = done.output.index("{")
            report = json.loads(done.output[start:])
        except ValueError:
            summary.errors.append(f"no JSON report (exit {done.exit_code}): {_tail(done.output)}")
            return summary
        for finding in report.get("findings", []):
            if finding.get("suppressed"):
                continue
            verdict = finding.get("verdict")
            if verdict == "per-request":
                summary.per_request += 1
                unsafe = finding.get("applicability") == "unsafe"
                summary.fixable += bool(finding.get("fixable")) or unsafe
                summary.unsafe += unsafe
                reason = finding.get("reason") or ""
                summary.per_request_sites.append(
                    f"{finding.get('path')}:{finding.get('line')} {finding.get('code')}"
                    + (f" ({reason})" if reason else "")
                )
            elif verdict in ("leak", "unclear", "persistent"):
                setattr(summary, verdict, getattr(summary, verdict) + 1)
        summary.errors += [f"{e.get('path')}: {e.get('message')}" for e in report.get("errors", [])]
        return summary

    def check_imports(
        self, runner: Runner, orig: Path, src: Path, env: Mapping[str, str], files: Sequence[str]
    ) -> dict[str, str]:
        """Import every module the fix touched or created, in the fixed tree and in the pristine one:
        a module that imports before and not after is an import the fix broke (or a module whose new
        imports do not resolve in this layout)."""
        names = sorted({n for n in (module_name(f) for f in files) if n})
        if not names:
            return {}
        python = shutil.which("python", path=env.get("PATH")) or "python"

        def attempt(tree: Path, label: str) -> dict[str, str | None]:
            roots = [str(tree / "src"), str(tree)] if (tree / "src").is_dir() else [str(tree)]
            tree_env = dict(env)
            tree_env["PYTHONPATH"] = os.pathsep.join(roots)
            done = runner.run([python, "-c", IMPORT_CHECK, *names], cwd=tree, env=tree_env, label=label)
            for line in done.output.splitlines():
                if line.startswith("IMPORT-CHECK "):
                    loaded: dict[str, str | None] = json.loads(line[len("IMPORT-CHECK ") :])
                    return loaded
            return {
                name: f"import check did not finish (exit {done.exit_code}): {_tail(done.output, 300)}"
                for name in names
            }

        after = attempt(src, "imports-after")
        failing = [n for n, err in after.items() if err]
        if not failing:
            return {}
        before = attempt(orig, "imports-before")
        broken: dict[str, str] = {}
        for name in failing:
            error = after[name] or ""
            if name not in before or before.get(name) is None:
                broken[name] = error
            elif before.get(name) != error:
                broken[name] = f"{error} (before the fix: {before[name]})"
        return broken


def _our_env() -> dict[str, str]:
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    return env


def _tail(text: str, limit: int = 800) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _git_dir(path: Path) -> Path | None:
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        return path
    if (path / ".git").exists():
        return path / ".git"
    return None


def _find_sdist(folder: Path, name: str, version: str) -> Path | None:
    """The sdist of ``name==version`` in ``folder`` (names compared as PEP 503 normalizes them)."""
    wanted = (re.sub(r"[-_.]+", "-", name).lower(), version)
    for path in sorted(folder.iterdir()):
        match = re.match(r"^(.+)-([^-]+)\.(?:tar\.gz|zip|tar\.bz2)$", path.name)
        if match and (re.sub(r"[-_.]+", "-", match.group(1)).lower(), match.group(2)) == wanted:
            return path
    return None


def _unpack(archive: Path, dest: Path) -> None:
    """Unpack an sdist and move its single top folder's content to ``dest``."""
    staging = dest.with_name(dest.name + ".unpack")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
    entries = list(staging.iterdir())
    top = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
    shutil.move(str(top), str(dest))
    if staging.exists():
        shutil.rmtree(staging)


# --------------------------------------------------------------------------------------------------
# Command line


def pool_refactor_version(python: str) -> str:
    """Which pool-refactor was measured: its version, and the checkout's commit and uncommitted files
    when it runs from one (results change with the code; a table without this cannot be compared)."""
    try:
        done = subprocess.run(
            [python, "-c", "import pool_refactor, sys; print(pool_refactor.__file__)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    package = Path(done.stdout.strip() or ".").parent
    root = package.parent
    stamp = f"pool-refactor from {package}"
    if (root / ".git").exists():
        try:
            head = subprocess.run(
                ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--", "pool_refactor", "codemods"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            ).stdout.splitlines()
        except (OSError, subprocess.TimeoutExpired):
            return stamp
        stamp += f" at {head}" + (f" (+{len(dirty)} uncommitted files)" if dirty else "")
    return stamp


def render_report(results: Sequence[ProjectResult], title: str, version: str = "") -> str:
    parts = [f"## {title}", ""]
    if version:
        parts += [version, ""]
    parts += [render_table(results), "", "## Details", ""]
    for result in results:
        parts += [render_details(result), ""]
    return "\n".join(parts)


def _jsonable(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--list", type=Path, default=DEFAULT_LIST, help="project list (default: %(default)s)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this project")
    parser.add_argument("--workdir", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds for each command (default: %(default)s)",
    )
    parser.add_argument(
        "--sources",
        type=Path,
        default=None,
        help="folder with snapshots/checkouts for git_mirror projects (NAME/ or owner+name/)",
    )
    parser.add_argument(
        "--no-isolate",
        action="store_true",
        help="do not run tests, linters and pool-refactor in a loopback-only network namespace",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="OUT", help="write the raw results as JSON"
    )
    args = parser.parse_args(argv)

    try:
        projects = load_projects(args.list)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.only:
        unknown = sorted(set(args.only) - {p.name for p in projects})
        if unknown:
            print(f"error: not in {args.list.name}: {', '.join(unknown)}", file=sys.stderr)
            return 2
        projects = [p for p in projects if p.name in args.only]

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    isolate = not args.no_isolate
    if isolate and not isolation_works():
        print(
            "warning: `unshare -n` does not work here; tests run with the machine's network", file=sys.stderr
        )
        isolate = False

    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="real-projects-")) if temporary else args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    version = pool_refactor_version(sys.executable)
    loop = Loop(workdir, args.timeout, isolate, args.sources, sys.executable)
    results: list[ProjectResult] = []
    try:
        for project in projects:
            print(f"[{project.name}] ...", file=sys.stderr, flush=True)
            result = loop.run_project(project)
            results.append(result)
            print(
                f"[{project.name}] done in {result.seconds.get('total', 0):.0f}s"
                + (f": {result.error}" if result.error else ""),
                file=sys.stderr,
                flush=True,
            )
            if args.json:  # written after every project, so a long run that is stopped keeps what it did
                args.json.write_text(
                    json.dumps(
                        {"pool_refactor": version, "projects": [_jsonable(r) for r in results]},
                        indent=2,
                        default=_jsonable,
                    )
                    + "\n",
                    encoding="utf-8",
                )
    finally:
        if temporary and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif temporary or args.keep:
            print(f"work folder kept: {workdir}", file=sys.stderr)
    print(
        render_report(
            results,
            "Real projects: pool-refactor scan --fix, their tests and linters",
            version,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

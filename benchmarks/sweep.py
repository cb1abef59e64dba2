"""Sweep of real code: run `scan` and `scan --fix` on a copy of every Python file of an installed-packages
folder (code nobody here wrote) and check that the tool can be trusted on it.

    python benchmarks/sweep.py                                  # the running interpreter's site-packages
    python benchmarks/sweep.py --path /tmp/corpus/lib/python3.11/site-packages
    python benchmarks/sweep.py --limit 500                      # a quick run
    python benchmarks/sweep.py --unsafe-fixes --json
    python benchmarks/sweep.py --generated 300                  # hypothesmith + client-pattern modules

Every ``*.py`` file under ``--path`` is copied (bytes as they are, links followed) into a temporary
tree with the same relative layout, so packages stay packages and the shared module lands where it
would in the real package. The run is in-process through ``pool_refactor.run.pipeline.run`` with every
file named explicitly (a file named explicitly is always scanned, so the default excludes such as
``build/`` or ``tests/`` do not hide any), with the result cache off and the default worker pool. The
exit code is computed exactly as ``pool_refactor.cli.scan`` does. Then it checks:

* no crash: no exception escapes the pipeline, no error message says "internal error" or holds a
  traceback, and the exit code is 0/1/2, 2 only when every error is about a file that did not compile
  before (or, for ``--fix``, a shared module the tool refuses to overwrite, listed separately);
* every file that compiled before still parses *and* compiles after ``--fix``;
* every rewritten file and every generated shared module round-trips through libcst
  (``parse_module(text).code == text``);
* files that had no fixable finding are byte-for-byte unchanged, and no temporary files are left;
* a second ``--fix`` changes nothing (no file's bytes change; "Fixed 0 site(s)");
* comments of rewritten files that are gone afterwards are listed as notes for review (only the
  trailing comments of lines a fix removes may go; ``tests/test_properties.py`` checks this exactly).

It prints the counts (files, compiled, with findings, rewritten, sites fixed, crashes, broken outputs,
non-idempotent files, ...) and every failure with its path; ``--json`` prints them as JSON. The exit
status is 0 when no check failed, 1 otherwise.

``--generated N`` writes N generated modules instead: about half are arbitrary valid modules from
``hypothesmith.from_grammar()`` with ``import httpx`` prepended, the other half are small modules
built from templates of real client patterns (``tests/test_properties.py``'s ``client_modules``
strategy: async with / with / local / one-shot, loops, nested functions, option sets, comments, CRLF,
tabs), and runs the same checks on them.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import time
import tokenize
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import libcst as cst  # noqa: E402

from pool_refactor.run.config import load_config  # noqa: E402
from pool_refactor.run.options import Options, Outcome  # noqa: E402
from pool_refactor.run.pipeline import run  # noqa: E402
from pool_refactor.scan.source import SourceError, decode_source  # noqa: E402

TEMP_SUFFIX = ".pool-refactor.tmp"
MODULE_NAME = "http_client.py"


@dataclass
class Failure:
    kind: str
    path: str
    detail: str


@dataclass
class Stats:
    source: str = ""
    files: int = 0
    copy_skipped: int = 0
    compiled_before: int = 0
    not_compiling_before: int = 0
    scan_errors: int = 0
    scan_errors_on_good_files: int = 0
    files_with_findings: int = 0
    findings: int = 0
    fixable_findings: int = 0
    unsafe_fixable_findings: int = 0
    files_rewritten: int = 0
    sites_fixed: int = 0
    shared_modules_written: int = 0
    fix_errors: int = 0
    module_refusals: int = 0
    crashes: int = 0
    broken_outputs: int = 0
    libcst_roundtrip_failures: int = 0
    files_with_comments_lost: int = 0
    unexpected_changes: int = 0
    stray_temp_files: int = 0
    non_idempotent_files: int = 0
    exit_codes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    notes: list[Failure] = field(default_factory=list)

    def fail(self, kind: str, path: str, detail: str) -> None:
        self.failures.append(Failure(kind, path, detail))

    def note(self, kind: str, path: str, detail: str) -> None:
        self.notes.append(Failure(kind, path, detail))


# --------------------------------------------------------------------------------------------------
# Building the tree


def default_site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def iter_python_files(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            if name.endswith(".py"):
                yield Path(folder) / name


def copy_tree(source_root: Path, tree: Path, limit: int | None, stats: Stats) -> list[Path]:
    copied: list[Path] = []
    for path in iter_python_files(source_root):
        if limit is not None and len(copied) >= limit:
            break
        rel = path.relative_to(source_root)
        try:
            data = path.read_bytes()
        except OSError:
            stats.copy_skipped += 1  # broken links, unreadable files: not our subject here
            continue
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        copied.append(target)
    return copied


def write_generated(tree: Path, count: int, seed: int) -> list[Path]:
    """``count`` modules: half from hypothesmith, half from the client-pattern templates."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.test_properties import client_modules, hypothesmith_modules

    sources: list[bytes] = []
    half = count // 2

    def collector(strategy: st.SearchStrategy[bytes], wanted: int) -> None:
        @settings(
            max_examples=wanted,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=False,
        )
        @given(strategy)
        def collect(data: bytes) -> None:
            sources.append(data)

        collect()

    import random

    random.seed(seed)
    collector(hypothesmith_modules(), count - half)
    collector(client_modules(), half)
    files: list[Path] = []
    # Several packages, so the shared module is generated more than once.
    for index, data in enumerate(sources):
        package = tree / f"pkg{index % 7}"
        if not package.exists():
            package.mkdir(parents=True)
            (package / "__init__.py").write_bytes(b"")
            files.append(package / "__init__.py")
        target = package / f"gen_{index:05d}.py"
        target.write_bytes(data)
        files.append(target)
    return files


# --------------------------------------------------------------------------------------------------
# Checks


def compiles(data: bytes, name: str) -> str | None:
    """None when CPython compiles the bytes (as it would import them), else why not."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(data, name, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError) as exc:
            return f"{type(exc).__name__}: {exc}"
    return None


def parses(data: bytes, name: str) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(data, name)
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
            return f"{type(exc).__name__}: {exc}"
    return None


def libcst_roundtrip(data: bytes) -> str | None:
    try:
        text = decode_source(data).text
    except SourceError as exc:
        return f"cannot decode: {exc}"
    try:
        module = cst.parse_module(text)
    except Exception as exc:  # noqa: BLE001 - any libcst failure is the finding
        return f"libcst cannot parse it: {type(exc).__name__}: {str(exc)[:200]}"
    if module.code != text:
        return "libcst round trip changes the text"
    return None


def comment_changes(old: bytes, new: bytes) -> str:
    """The comments of ``old`` that ``new`` no longer has (a multiset difference), as text."""

    def comments(data: bytes) -> Counter[str]:
        try:
            tokens = tokenize.generate_tokens(io.StringIO(decode_source(data).text).readline)
            return Counter(t.string.strip() for t in tokens if t.type == tokenize.COMMENT)
        except (SourceError, tokenize.TokenError, SyntaxError):
            return Counter()

    lost = comments(old) - comments(new)
    return "; ".join(f"{c!r}" + (f" x{n}" if n > 1 else "") for c, n in lost.items())


def snapshot(tree: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for folder, _dirs, names in os.walk(tree):
        for name in names:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            out[str(path.relative_to(tree))] = path.read_bytes()
    return out


def exit_code(outcome: Outcome, check: bool) -> int:
    """What ``pool_refactor.cli.scan`` would exit with for this outcome."""
    code = 0
    if check and outcome.result.failing():
        code = 1
    if outcome.result.errors or outcome.failed:
        code = 2
    return code


def run_pipeline(tree: Path, files: list[Path], *, fix: bool, unsafe: bool, jobs: int | None) -> Outcome:
    options = Options(
        paths=[f.relative_to(tree) for f in files],
        config=load_config(tree),
        fix=fix,
        unsafe_fixes=unsafe,
        jobs=jobs,
        use_cache=False,
    )
    return run(options)


def guarded(
    stats: Stats, label: str, tree: Path, files: list[Path], *, fix: bool, unsafe: bool, jobs: int | None
) -> Outcome | None:
    started = time.perf_counter()
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            outcome = run_pipeline(tree, files, fix=fix, unsafe=unsafe, jobs=jobs)
    except BaseException as exc:  # noqa: BLE001 - a crash is what we are looking for
        if isinstance(exc, KeyboardInterrupt):
            raise
        stats.crashes += 1
        stats.fail("crash", f"<{label}>", "".join(traceback.format_exception(exc))[-4000:])
        return None
    finally:
        stats.seconds[label] = round(time.perf_counter() - started, 2)
    for error in outcome.result.errors:
        message = error.message
        if "internal error" in message or "Traceback" in message:
            stats.crashes += 1
            stats.fail(f"crash ({label})", error.path, message)
    return outcome


def sweep(tree: Path, files: list[Path], stats: Stats, *, unsafe: bool, jobs: int | None) -> None:
    os.chdir(tree)
    stats.files = len(files)
    before = snapshot(tree)
    good: set[str] = set()
    for path in files:
        rel = str(path.relative_to(tree))
        if compiles(before[rel], rel) is None:
            good.add(rel)
    stats.compiled_before = len(good)
    stats.not_compiling_before = stats.files - len(good)

    # 1. scan
    scanned = guarded(stats, "scan", tree, files, fix=False, unsafe=unsafe, jobs=jobs)
    if scanned is None:
        return
    code = exit_code(scanned, check=True)
    stats.exit_codes["scan --check"] = code
    fixable_files: set[str] = set()
    with_findings: set[str] = set()
    allowed = {"safe", "unsafe"} if unsafe else {"safe"}
    for finding in scanned.result.findings:
        with_findings.add(finding.path)
        stats.findings += 1
        if finding.suppressed or finding.plan is None:
            continue
        if finding.applicability == "safe":
            stats.fixable_findings += 1
        elif finding.applicability == "unsafe":
            stats.unsafe_fixable_findings += 1
        if finding.applicability in allowed:
            fixable_files.add(finding.path)
    stats.files_with_findings = len(with_findings)
    stats.scan_errors = len(scanned.result.errors)
    for error in scanned.result.errors:
        if error.path in good:
            stats.scan_errors_on_good_files += 1
            stats.note("scan error on a file that compiles", error.path, error.message)
    if code == 2 and not all(e.path not in good for e in scanned.result.errors):
        stats.note("exit 2 on scan", "<scan>", "some error is about a file that compiles (see notes)")

    # 2. fix
    fixed = guarded(stats, "fix", tree, files, fix=True, unsafe=unsafe, jobs=jobs)
    if fixed is None:
        return
    code = exit_code(fixed, check=False)
    stats.exit_codes["scan --fix"] = code
    scan_error_paths = {e.path for e in scanned.result.errors}
    for error in fixed.result.errors:
        if error.path in scan_error_paths:
            continue
        stats.fix_errors += 1
        if (
            "already exists" in error.message
            or "was not written by pool-refactor" in error.message
            or ("shared module" in error.message)
        ):
            stats.module_refusals += 1
            stats.note("fix refused (shared module)", error.path, error.message)
        else:
            stats.fail("fix error", error.path, error.message)
    for message in fixed.messages:
        if message.startswith("Fixed "):
            stats.sites_fixed = int(message.split()[1])
    after = snapshot(tree)
    for rel in sorted(set(before) | set(after)):
        if rel.endswith(TEMP_SUFFIX) or TEMP_SUFFIX in rel:
            stats.stray_temp_files += 1
            stats.fail("stray temporary file", rel, "left after --fix")
            continue
        old, new = before.get(rel), after.get(rel)
        if old == new:
            continue
        if old is None:
            assert new is not None
            if Path(rel).name == MODULE_NAME:
                stats.shared_modules_written += 1
                problem = compiles(new, rel) or libcst_roundtrip(new)
                if problem:
                    stats.broken_outputs += 1
                    stats.fail("broken shared module", rel, problem)
            else:
                stats.unexpected_changes += 1
                stats.fail("unexpected new file", rel, f"{len(new)} bytes")
            continue
        if new is None:
            stats.unexpected_changes += 1
            stats.fail("file removed", rel, "existed before --fix")
            continue
        if Path(rel).name == MODULE_NAME and rel not in fixable_files:
            stats.shared_modules_written += 1  # an existing generated module, completed
            continue
        stats.files_rewritten += 1
        if rel not in fixable_files:
            stats.unexpected_changes += 1
            stats.fail("changed without a fixable finding", rel, "bytes differ")
        if rel in good:
            problem = parses(new, rel) or compiles(new, rel)
            if problem:
                stats.broken_outputs += 1
                stats.fail("broken output", rel, problem)
        problem = libcst_roundtrip(new)
        if problem:
            stats.libcst_roundtrip_failures += 1
            stats.fail("libcst round trip", rel, problem)
        lost = comment_changes(old, new)
        if lost:
            stats.files_with_comments_lost += 1
            stats.note("comments lost (review: only comments of removed lines may go)", rel, lost)

    # 3. fix again: must change nothing
    again = guarded(stats, "fix again", tree, files, fix=True, unsafe=unsafe, jobs=jobs)
    if again is None:
        return
    stats.exit_codes["scan --fix (second)"] = exit_code(again, check=False)
    second = snapshot(tree)
    for rel in sorted(set(after) | set(second)):
        if after.get(rel) != second.get(rel):
            stats.non_idempotent_files += 1
            stats.fail("second --fix changed it", rel, "not idempotent")
    for message in again.messages:
        if message.startswith("Fixed ") and not message.startswith("Fixed 0 "):
            stats.note("second --fix reports fixes", "<fix again>", message)

    for label, value in stats.exit_codes.items():
        if value not in (0, 1, 2):
            stats.fail("exit code", f"<{label}>", str(value))


# --------------------------------------------------------------------------------------------------
# Output


COUNTS = (
    ("files", "files"),
    ("copy_skipped", "not copied (unreadable)"),
    ("compiled_before", "compiled before"),
    ("not_compiling_before", "did not compile before"),
    ("scan_errors", "scan errors"),
    ("scan_errors_on_good_files", "scan errors on files that compile"),
    ("files_with_findings", "files with findings"),
    ("findings", "findings"),
    ("fixable_findings", "safe-fixable findings"),
    ("unsafe_fixable_findings", "unsafe-fixable findings"),
    ("files_rewritten", "files rewritten"),
    ("sites_fixed", "sites fixed"),
    ("shared_modules_written", "shared modules written"),
    ("fix_errors", "fix errors"),
    ("module_refusals", "  of which shared-module refusals"),
    ("crashes", "crashes"),
    ("broken_outputs", "broken outputs"),
    ("libcst_roundtrip_failures", "libcst round-trip failures"),
    ("files_with_comments_lost", "rewritten files with comments lost (see notes)"),
    ("unexpected_changes", "unexpected changes"),
    ("stray_temp_files", "stray temporary files"),
    ("non_idempotent_files", "non-idempotent files"),
)


def print_text(stats: Stats) -> None:
    print(f"sweep of {stats.source}")
    width = max(len(label) for _, label in COUNTS)
    for key, label in COUNTS:
        print(f"  {label:<{width}}  {getattr(stats, key)}")
    print(f"  {'exit codes':<{width}}  {stats.exit_codes}")
    print(f"  {'seconds':<{width}}  {stats.seconds}")
    if stats.notes:
        print(f"\nnotes ({len(stats.notes)}):")
        for item in stats.notes[:200]:
            print(f"  [{item.kind}] {item.path}: {item.detail}")
    if stats.failures:
        print(f"\nFAILURES ({len(stats.failures)}):")
        for item in stats.failures:
            detail = (
                item.detail if "\n" not in item.detail else "\n      " + item.detail.replace("\n", "\n      ")
            )
            print(f"  [{item.kind}] {item.path}: {detail}")
    else:
        print("\nno failures")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=None, help="installed-packages folder (default: ours)")
    parser.add_argument("--limit", type=int, default=None, help="copy at most this many files")
    parser.add_argument("--generated", type=int, default=None, metavar="N", help="sweep N generated modules")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unsafe-fixes", action="store_true", help="also apply unsafe fixes")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: CPUs)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary tree and print where it is")
    parser.add_argument("--json", action="store_true", help="print the counts and failures as JSON")
    args = parser.parse_args(argv)

    stats = Stats()
    workdir = Path(tempfile.mkdtemp(prefix="pool-refactor-sweep-"))
    tree = workdir / "tree"
    tree.mkdir()
    cwd = os.getcwd()
    try:
        if args.generated is not None:
            stats.source = f"{args.generated} generated modules (seed {args.seed})"
            files = write_generated(tree, args.generated, args.seed)
        else:
            source = (args.path or default_site_packages()).resolve()
            stats.source = str(source) + (f" (first {args.limit} files)" if args.limit else "")
            files = copy_tree(source, tree, args.limit, stats)
        sweep(tree, files, stats, unsafe=args.unsafe_fixes, jobs=args.jobs)
    finally:
        os.chdir(cwd)
        if args.keep:
            print(f"tree kept at {tree}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        data = {key: getattr(stats, key) for key, _ in COUNTS}
        data.update(
            source=stats.source,
            exit_codes=stats.exit_codes,
            seconds=stats.seconds,
            failures=[vars(f) for f in stats.failures],
            notes=[vars(f) for f in stats.notes],
        )
        print(json.dumps(data, indent=2))
    else:
        print_text(stats)
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())

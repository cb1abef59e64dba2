"""One run, in one direction: discover -> scan -> (fix or diff) -> result for the reports."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pool_refactor.paths import DiscoveredFile
from pool_refactor.run.cache import ScanCache
from pool_refactor.run.files import DiscoveryError, discover
from pool_refactor.run.options import Options, Outcome
from pool_refactor.run.project import ProjectFile, ProjectPass
from pool_refactor.run.workers import effective_jobs, prefetch, prefetched
from pool_refactor.scan.findings import FileError, FileScan, Finding, ScanResult
from pool_refactor.scan.rules import is_enabled

if TYPE_CHECKING:
    from pool_refactor.run.parallel import Scanned

PROGRESS_THRESHOLD = 300
"""Below this many files a progress bar only flickers."""


def run(options: Options) -> Outcome:
    files: list[DiscoveredFile] = []
    discovery_errors: list[FileError] = []
    for item in discover(options.paths, options.config, options.exclude):
        if isinstance(item, DiscoveryError):
            discovery_errors.append(FileError(item.path, item.message))
        else:
            files.append(item)

    scans, project, imported = _scan_files(files, options)
    result = collect(scans, select=options.select, ignore=options.ignore)
    result.closed_elsewhere = project.closed_elsewhere
    result.errors = sorted(discovery_errors + result.errors, key=lambda e: e.path)
    outcome = Outcome(result)
    if options.baseline is not None:
        from pool_refactor.run.baseline import apply_baseline, load_baseline

        accepted = apply_baseline(result, load_baseline(options.baseline))
        outcome.messages.append(f"{accepted} finding(s) accepted by the baseline {options.baseline}.")
    if options.add_noqa:
        from pool_refactor.fix.noqa import add_noqa

        noqa = add_noqa(result.failing(), {f.display: f.path for f in files})
        outcome.messages.append(f"Added {noqa.added} noqa comment(s) in {noqa.files} file(s).")
        if noqa.errors:
            outcome.failed = True
            result.errors = sorted([*result.errors, *noqa.errors], key=lambda e: e.path)
        annotated = {id(f) for f in result.failing() if f.path not in noqa.failed}
        result.findings = [f.replace(suppressed=True) if id(f) in annotated else f for f in result.findings]
        return outcome
    if options.fix or options.diff:
        prefetched()
        from pool_refactor.run.fixing import apply_fixes

        apply_fixes(files, result, options, outcome)
        if options.fix and imported:
            _restore_imported(result, imported, project, files, options)
            # A call of another module's hook fixed where the hook is: gone once that is written.
            gone = {w for w in project.fixed_hooks if w.rpartition(":")[0] in result.rewritten}
            result.findings = [f for f in result.findings if not f.via or f.via not in gone]
    return outcome


def _restore_imported(
    result: ScanResult,
    imported: dict[str, tuple[Finding, ...]],
    project: ProjectPass,
    files: list[DiscoveredFile],
    options: Options,
) -> None:
    """A rewritten file's findings are those of its scan after the fix (`run.fixing`), which sees
    one file: give it back its calls of other modules' exports, where they stand now."""
    present = {id(f) for f in result.findings}
    paths = {file.display: file.given for file in files}
    for display, found in imported.items():
        old = {id(f) for f in found}
        if old <= present:
            continue  # not rewritten: its findings, these included, are as they were
        result.findings = [f for f in result.findings if id(f) not in old]
        again = project.findings_for(os.path.abspath(paths[display]), display)
        result.findings += [f for f in again if is_enabled(f.code, options.select, options.ignore)]
    result.findings.sort(key=lambda f: (f.path, f.line, f.column))


def collect(
    scans: Iterable[FileScan],
    *,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    on_file: Callable[[], None] | None = None,
) -> ScanResult:
    """Gather per-file outcomes into one result, keeping only the selected rule codes."""
    result = ScanResult()
    for scan in scans:
        result.files_scanned += 1
        if scan.parsed:
            result.files_parsed += 1
        if scan.error is not None:
            result.errors.append(FileError(scan.display, scan.error))
        for finding in scan.findings:
            if is_enabled(finding.code, select, ignore):
                result.findings.append(finding)
        if on_file is not None:
            on_file()
    result.findings.sort(key=lambda f: (f.path, f.line, f.column))
    result.errors.sort(key=lambda e: e.path)
    return result


def _scan_files(
    files: list[DiscoveredFile], options: Options
) -> tuple[list[FileScan], ProjectPass, dict[str, tuple[Finding, ...]]]:
    """Per-file results in the order of ``files``, the same whatever ``jobs`` and the cache hold,
    with the project pass's findings (``run.project``) added; the pass, and those findings by file.

    Files whose stat matches the cache are answered without being opened; the rest are read,
    hashed, looked up by content and scanned only when new (``pool_refactor.run.parallel``), in worker
    processes when there are enough of them. The cache is written once, at the end.
    """
    cache: ScanCache | None = None
    if options.use_cache:
        cache = ScanCache.load(options.config.project_root / options.config.cache_dir)
    cwd = os.getcwd()
    absolute = [os.path.join(cwd, file.given) for file in files]  # the cache's key for each file
    scans: list[FileScan | None] = [None] * len(files)
    digests: list[str | None] = [None] * len(files)
    pending: list[int] = []
    for index, file in enumerate(files):
        hit = cache.fresh(absolute[index], file.display) if cache is not None else None
        if hit is None:
            pending.append(index)
        else:
            assert cache is not None
            scans[index] = hit
            digests[index] = cache.stats[absolute[index]][3]
    tasks = [(files[i].given, files[i].display) for i in pending]
    results: Iterable[Scanned] = ()
    if tasks:  # a warm run with every file answered by the cache imports none of the scanning
        from pool_refactor.run.parallel import scan_files

        results = scan_files(
            tasks,
            effective_jobs(options.jobs),
            cache.content if cache is not None else None,
            hash_files=cache is not None,
        )
    show_progress = options.progress and len(files) >= PROGRESS_THRESHOLD
    fixing = (options.fix or options.diff) and not options.add_noqa and effective_jobs(options.jobs) > 1
    with contextlib.ExitStack() as stack:
        advance: Callable[[], None] | None = None
        for done, (index, scanned) in enumerate(zip(pending, results, strict=True)):
            if done == 0 and fixing:
                # The fixer's imports, while the workers scan (`workers.prefetch`); after the first
                # result, so the scan's workers are forked already. In one process it would only
                # take turns with the scan.
                prefetch("pool_refactor.run.fixing")
            if done == 0 and show_progress:
                # Started after the first result, so the worker processes are forked before
                # the progress bar's refresh thread exists.
                advance = _start_progress(stack, len(files), len(files) - len(pending))
            scans[index] = scanned.scan
            digests[index] = scanned.digest
            if cache is not None:
                cache.record(absolute[index], scanned.digest, scanned.stat, scanned.scan)
            if advance is not None:
                advance()
    complete = [scan for scan in scans if scan is not None]
    assert len(complete) == len(files)
    project = ProjectPass(
        [ProjectFile(absolute[i], files[i].display, digests[i], complete[i]) for i in range(len(files))],
        _import_roots(options),
    )
    imported: dict[str, tuple[Finding, ...]] = {}
    for index, found in project.run(cache).items():
        complete[index] = complete[index].replace(findings=complete[index].findings + found)
        imported[files[index].display] = found
    if project.active:
        project.settle_hooks(complete, imported)
    if project.errors:
        for index, scan in enumerate(complete):
            if scan.display in project.errors and scan.error is None:
                complete[index] = scan.replace(error=project.errors[scan.display])
    if cache is not None and not options.diff:  # --diff promises to write nothing, the cache included
        cache.save(os.path.join(cwd, path) for path in options.paths)
    return complete, project, imported


def _import_roots(options: Options) -> list[Path]:
    """Folders an absolute import of the project may start from, besides each file's own package
    root and folder: the folders scanned, the project root and its `src/`."""
    # Absolute but not resolved, as the files' own paths are (a symlinked folder stays as named).
    roots = [Path(os.path.abspath(path)) for path in options.paths if os.path.isdir(path)]
    root = Path(os.path.abspath(options.config.project_root))
    return [*roots, root, root / "src"]


def _start_progress(stack: contextlib.ExitStack, total: int, completed: int) -> Callable[[], None]:
    from rich.progress import Progress

    progress = stack.enter_context(Progress(transient=True))
    task = progress.add_task("Scanning", total=total, completed=completed)
    return lambda: progress.advance(task)

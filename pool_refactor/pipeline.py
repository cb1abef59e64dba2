"""One run, in one direction: discover -> scan -> (fix or diff) -> result for the reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pool_refactor.config import Config
from pool_refactor.files import DiscoveredFile, DiscoveryError, discover
from pool_refactor.findings import FileError, ScanResult
from pool_refactor.runner import FileScan, collect, scan_one


@dataclass(frozen=True)
class Options:
    paths: list[Path]
    config: Config
    exclude: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fix: bool = False
    diff: bool = False
    unsafe_fixes: bool = False
    module: Path | None = None
    jobs: int | None = None
    use_cache: bool = True
    progress: bool = False


@dataclass
class Outcome:
    result: ScanResult
    diff_text: str = ""
    messages: list[str] = field(default_factory=list)
    failed: bool = False
    """Something the user asked for could not be done (a write failed, a module clashed)."""


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

    scans = _scan_files(files, options)
    result = collect(scans, select=options.select, ignore=options.ignore)
    result.errors = sorted(discovery_errors + result.errors, key=lambda e: e.path)
    outcome = Outcome(result)
    if options.fix or options.diff:
        from pool_refactor.fixer import apply_fixes

        apply_fixes(files, result, options, outcome)
    return outcome


def _scan_files(files: list[DiscoveredFile], options: Options) -> list[FileScan]:
    if options.progress and len(files) >= PROGRESS_THRESHOLD:
        from rich.progress import Progress

        scans = []
        with Progress(transient=True) as progress:
            task = progress.add_task("Scanning", total=len(files))
            for file in files:
                scans.append(scan_one(file.path, file.display))
                progress.advance(task)
        return scans
    return [scan_one(file.path, file.display) for file in files]

"""Runs the scan over many files: read once, prefilter, parse only what can hold a finding.

A file that fails in any way (undecodable, syntax error, even a bug of ours) becomes an entry in
`errors` and the run goes on; the CLI turns any error into exit code 2, so CI never passes on
code the tool could not read.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from pool_refactor import catalog
from pool_refactor.findings import FileError, Finding, ScanResult
from pool_refactor.rules import is_enabled
from pool_refactor.scanner import scan_tree
from pool_refactor.source import Source, SourceError, mentions_any, read_source


@dataclass(frozen=True)
class FileScan:
    """The outcome for one file; plain data so it can cross process boundaries."""

    display: str
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    parsed: bool = False


def scan_one(path: Path, display: str) -> FileScan:
    """Scan one file; never raises for anything the file contains."""
    try:
        source = read_source(path)
    except SourceError as exc:
        return FileScan(display, error=str(exc))
    except OSError as exc:
        return FileScan(display, error=exc.strerror or str(exc))
    return scan_loaded(source, display)


def scan_loaded(source: Source, display: str) -> FileScan:
    if not mentions_any(source.raw, catalog.all_module_names()):
        return FileScan(display)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our business
            tree = ast.parse(source.text, filename=display)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return FileScan(display, error=f"syntax error{where}: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:
        return FileScan(display, error=f"cannot parse: {exc}")
    try:
        findings = scan_tree(tree, source.text, display)
    except RecursionError:
        return FileScan(display, error="cannot scan: nesting too deep", parsed=True)
    except Exception as exc:  # a bug of ours must not end the run, but it must be seen
        return FileScan(
            display, error=f"internal error while scanning: {type(exc).__name__}: {exc}", parsed=True
        )
    return FileScan(display, tuple(findings), parsed=True)


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


def with_path(finding: Finding, path: str) -> Finding:
    return replace(finding, path=path)

"""One file through detection and planning: read once, prefilter, parse only what can hold a
finding, scan, then plan every per-request site.

A file that fails in any way (undecodable, syntax error, even a bug of ours) becomes a `FileScan`
with an `error` and the run goes on; the CLI turns any error into exit code 2, so CI never passes
on code the tool could not read.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

from pool_refactor.plan.planner import plan_site
from pool_refactor.scan import catalog
from pool_refactor.scan.findings import Applicability, FileScan, Finding, FixPlan
from pool_refactor.scan.scanner import scan_module
from pool_refactor.scan.source import Source, SourceError, mentions_any, read_source


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
        findings = analyze_tree(tree, source.text, display)
    except RecursionError:
        return FileScan(display, error="cannot scan: nesting too deep", parsed=True)
    except Exception as exc:  # a bug of ours must not end the run, but it must be seen
        return FileScan(
            display, error=f"internal error while scanning: {type(exc).__name__}: {exc}", parsed=True
        )
    return FileScan(display, tuple(findings), parsed=True)


def analyze_tree(tree: ast.Module, text: str, path: str) -> list[Finding]:
    """Every catalogued construction site of one parsed module, planned, in source order."""
    module = scan_module(tree, text, path)
    if module is None:
        return []
    findings = []
    for item in module.sites:
        if item.request is None:
            findings.append(module.finding(item))
            continue
        result = plan_site(item.site, item.request)
        if isinstance(result, FixPlan):
            findings.append(module.finding(item, result, applicability=Applicability.SAFE))
        elif isinstance(result, tuple):
            plan, why = result
            findings.append(module.finding(item, plan, why, Applicability.UNSAFE))
        else:
            findings.append(module.finding(item, reason=result))
    findings.sort(key=lambda f: (f.line, f.column))
    return findings


def analyze_source(text: str, path: str = "<string>") -> list[Finding]:
    """Parse, scan and plan; raises SyntaxError/ValueError for source that does not parse."""
    tree = ast.parse(text, filename=path)
    return analyze_tree(tree, text, path)

"""The stable JSON report, documented in `docs/json-format.md`.

The shape is a public interface: fields may be added, none renamed or removed without raising
`version`. Keys keep the documented order, the text is indented by two spaces, ASCII-only (any
other character is escaped) and ends with a newline, so two runs over the same code give the same
bytes.
"""

from __future__ import annotations

import json
from typing import Any

from pool_refactor import __version__
from pool_refactor.report._common import is_fixable, is_unsafe_fix
from pool_refactor.scan.findings import FileError, Finding, Note, ScanResult

SCHEMA_VERSION = 1
TOOL_NAME = "pool-refactor"


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line,
        "code": finding.code,
        "library": finding.library,
        "verdict": finding.verdict.value,
        "in_loop": finding.in_loop,
        "context": finding.context,
        "snippet": finding.snippet,
        "fixable": is_fixable(finding),
        "reason": finding.reason,
        "suppressed": finding.suppressed,
        "message": finding.message,
        "applicability": finding.applicability.value,
    }


def error_dict(error: FileError) -> dict[str, Any]:
    return {"path": error.path, "message": error.message}


def note_dict(note: Note) -> dict[str, Any]:
    return {"kind": note.kind, "path": note.path, "line": note.line, "message": note.message}


def report_dict(result: ScanResult, *, show_suppressed: bool = False) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "findings": [finding_dict(f) for f in result.visible(show_suppressed)],
        "errors": [error_dict(e) for e in result.errors],
        "notes": [note_dict(n) for n in result.notes],
        "summary": summary_dict(result),
    }


def summary_dict(result: ScanResult) -> dict[str, int]:
    """The run's counts; `fixable` counts what `fixable` marks (safe and unsafe fixes alike, as
    documented), `unsafe_fixable` those of them applied only with `--unsafe-fixes`."""
    summary = result.summary()
    active = [f for f in result.findings if not f.suppressed]
    summary["fixable"] = sum(1 for f in active if is_fixable(f))
    ordered: dict[str, int] = {}
    for key, value in summary.items():
        ordered[key] = value
        if key == "fixable":
            ordered["unsafe_fixable"] = sum(1 for f in active if is_unsafe_fix(f))
    return ordered


def render(result: ScanResult, *, show_suppressed: bool = False) -> str:
    return json.dumps(report_dict(result, show_suppressed=show_suppressed), indent=2) + "\n"

"""SARIF 2.1.0 for code scanning (GitHub, Azure DevOps, IDE viewers).

One run; `tool.driver` lists every rule of `pool_refactor.scan.rules.RULES` with a link to its page
under `pool_refactor/docs/rules/`. Decisions, documented in `docs/json-format.md`:

- **Persistent clients are left out of `results`.** They are not problems, and code scanning turns
  every result into an alert whatever its level; their rule (POOL001) is still listed, with
  `defaultConfiguration.level` `none`. Per-request sites and leaks are `warning`, unclear sites
  `note`.
- Suppressed findings are left out, as in every format; with `--show-suppressed` they are included
  with `suppressions: [{"kind": "inSource"}]`, which code scanning shows as dismissed.
- Locations are relative to `%SRCROOT%` (the directory the scan ran in), with the path
  percent-encoded as a URI reference; columns count Unicode code points (`columnKind`).
- `partialFingerprints["poolRefactorSite/v1"]` identifies a site by file, rule, enclosing function
  and code, not by line, so an alert survives lines being added above it.
- Files that could not be scanned are `invocations[0].toolExecutionNotifications` with level
  `error`, and `executionSuccessful` is then false.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any
from urllib.parse import quote

from pool_refactor import __version__
from pool_refactor.report._common import is_fixable, is_problem, one_line
from pool_refactor.scan.findings import Finding, Note, ScanResult, Verdict
from pool_refactor.scan.rules import RULES, Rule

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "pool-refactor"
INFORMATION_URI = "https://github.com/pool-refactor/pool-refactor"
RULE_DOCS_URI = INFORMATION_URI + "/blob/main/pool_refactor/docs/rules/{code}.md"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "poolRefactorSite/v1"

LEVELS: dict[Verdict, str] = {
    Verdict.PER_REQUEST: "warning",
    Verdict.LEAK: "warning",
    Verdict.UNCLEAR: "note",
    Verdict.PERSISTENT: "none",
}


def artifact_uri(path: str) -> str:
    """A relative path as a URI reference: `/` kept, all else outside RFC 3986's unreserved set escaped."""
    return quote(path, safe="/")


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "helpUri": RULE_DOCS_URI.format(code=rule.code),
        "defaultConfiguration": {"level": LEVELS[rule.verdict]},
        "properties": {"verdict": rule.verdict.value, "tags": ["performance", "http"]},
    }


def _fingerprint(finding: Finding, occurrence: int) -> str:
    key = "\x00".join(
        [finding.path, finding.code, finding.context, one_line(finding.snippet), str(occurrence)]
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _location(finding: Finding) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(finding.path), "uriBaseId": SRCROOT},
            "region": {
                "startLine": max(1, finding.line),
                "startColumn": max(1, finding.column),
                "endLine": max(1, finding.line, finding.end_line),
            },
        }
    }
    if finding.context and finding.context != "<module>":
        location["logicalLocations"] = [{"fullyQualifiedName": finding.context, "kind": "function"}]
    return location


def result_dict(finding: Finding, occurrence: int = 0) -> dict[str, Any]:
    rule_index = next((i for i, rule in enumerate(RULES) if rule.code == finding.code), None)
    result: dict[str, Any] = {"ruleId": finding.code}
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    result["level"] = LEVELS[finding.verdict]
    # Code scanning needs a non-empty message: fall back to the rule's summary, then to the code.
    summary = RULES[rule_index].summary if rule_index is not None else finding.code
    result["message"] = {"text": one_line(finding.message) or summary}
    result["locations"] = [_location(finding)]
    result["partialFingerprints"] = {FINGERPRINT_KEY: _fingerprint(finding, occurrence)}
    if finding.suppressed:
        result["suppressions"] = [{"kind": "inSource"}]
    properties: dict[str, Any] = {
        "verdict": finding.verdict.value,
        "in_loop": finding.in_loop,
        "fixable": is_fixable(finding),
        "applicability": finding.applicability.value,
        "library": finding.library,
    }
    if finding.reason:
        properties["reason"] = finding.reason
    result["properties"] = properties
    return result


def _note_notification(note: Note) -> dict[str, Any]:
    notification: dict[str, Any] = {
        "level": "note",
        "message": {"text": one_line(note.message)},
        "descriptor": {"id": f"pool-refactor/{note.kind}"},
    }
    if note.path is not None:
        location: dict[str, Any] = {
            "artifactLocation": {"uri": artifact_uri(note.path), "uriBaseId": SRCROOT}
        }
        if note.line is not None:
            location["region"] = {"startLine": note.line, "startColumn": 1, "endLine": note.line}
        notification["locations"] = [{"physicalLocation": location}]
    return notification


def sarif_dict(result: ScanResult, *, show_suppressed: bool = False) -> dict[str, Any]:
    seen: Counter[tuple[str, str, str, str]] = Counter()
    results: list[dict[str, Any]] = []
    for finding in result.visible(show_suppressed):
        if not is_problem(finding):
            continue
        key = (finding.path, finding.code, finding.context, one_line(finding.snippet))
        results.append(result_dict(finding, seen[key]))
        seen[key] += 1

    invocation: dict[str, Any] = {"executionSuccessful": not result.errors}
    if result.errors:
        invocation["toolExecutionNotifications"] = [
            {
                "level": "error",
                "message": {"text": f"could not scan: {one_line(error.message)}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": artifact_uri(error.path), "uriBaseId": SRCROOT}
                        }
                    }
                ],
            }
            for error in result.errors
        ]
    if result.notes:
        invocation.setdefault("toolExecutionNotifications", []).extend(
            _note_notification(note) for note in result.notes
        )

    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [rule_descriptor(rule) for rule in RULES],
                    }
                },
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render(result: ScanResult, *, show_suppressed: bool = False) -> str:
    return json.dumps(sarif_dict(result, show_suppressed=show_suppressed), indent=2) + "\n"

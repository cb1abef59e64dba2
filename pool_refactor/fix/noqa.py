"""`--add-noqa`: suppress every finding that exists today with a comment on its line (as ruff).

Existing `# noqa: X` comments are extended rather than doubled; lines that end in a backslash
continuation cannot take a comment and are reported instead. Files are rewritten atomically and
keep their encoding and line endings.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pool_refactor.fix.writer import WriteError, write_atomic
from pool_refactor.scan.findings import FileError, Finding
from pool_refactor.scan.source import SourceError, encode_source, read_source

_NOQA = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)", re.IGNORECASE)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


@dataclass
class NoqaOutcome:
    added: int = 0
    files: int = 0
    errors: list[FileError] = field(default_factory=list)

    @property
    def failed(self) -> set[str]:
        """Display paths of files where some comment could not be added."""
        return {error.path for error in self.errors}


def add_noqa(findings: list[Finding], paths: dict[str, Path]) -> NoqaOutcome:
    """Add `# noqa: CODE` for each unsuppressed finding; `paths` maps display paths to files."""
    outcome = NoqaOutcome()
    by_file: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for finding in findings:
        if not finding.suppressed:
            by_file[finding.path][finding.line].add(finding.code)
    for display, lines in sorted(by_file.items()):
        path = paths.get(display)
        if path is None:
            continue
        try:
            source = read_source(path)
        except (SourceError, OSError) as exc:
            outcome.errors.append(FileError(display, f"noqa not added: {exc}", stage="fix"))
            continue
        text, added, skipped = _annotate(source.text, lines)
        for line in skipped:
            outcome.errors.append(
                FileError(display, f"line {line} ends in a backslash; add the noqa by hand", stage="fix")
            )
        if not added:
            continue
        try:
            write_atomic(path, encode_source(text, source), expected=source.raw)
        except (WriteError, SourceError, OSError) as exc:
            outcome.errors.append(FileError(display, f"noqa not added: {exc}", stage="fix"))
            continue
        outcome.added += added
        outcome.files += 1
    return outcome


def _annotate(text: str, wanted: dict[int, set[str]]) -> tuple[str, int, list[int]]:
    lines = _LINE.findall(text)
    if lines and lines[-1] == "":
        lines.pop()
    added = 0
    skipped: list[int] = []
    for number, codes in sorted(wanted.items()):
        if number - 1 >= len(lines):
            continue
        raw = lines[number - 1]
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        if body.rstrip().endswith("\\"):
            skipped.append(number)
            continue
        match = _NOQA.search(body)
        if match:
            present = [c.strip().upper() for c in match.group("codes").split(",")]
            missing = sorted(codes - set(present))
            if not missing:
                continue
            new = f"# noqa: {', '.join([*present, *missing])}"
            body = body[: match.start()] + new + body[match.end() :]
        else:
            body = f"{body.rstrip()}  # noqa: {', '.join(sorted(codes))}"
        lines[number - 1] = body + ending
        added += len(codes)
    return "".join(lines), added, skipped

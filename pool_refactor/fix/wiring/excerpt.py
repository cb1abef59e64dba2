"""A file's text cut down to the top-level statements the wiring reads or edits.

Wiring edits a handful of statements (the one that builds the application, a lifespan, a shutdown
handler, the import block) of files that can be very long: litellm's `proxy_server.py` has 22,000
lines, and parsing it with libcst cost most of the wiring's time and 390 MB. libcst is instead
handed an excerpt of the text: the file's first statements (where imports are added), the wanted
statements, and the statement after each of those (so that the lines between two statements, and
whatever an edit appends after a statement, are read exactly as in the whole file). Each run of
left-out statements is replaced by one marker line, a statement of its own; the edited excerpt's
code gets the left-out text back in place of each marker (`TextExcerpt.splice`).

Why the result is byte for byte what editing the whole module gives: the excerpt starts where the
file starts (same header, same line ending detected first), every statement is cut at whole lines
after its last line, so each kept statement keeps its own text, and libcst reproduces any text it
parses exactly. Only where the text is ambiguous to the line counting (a lone carriage return) is
no excerpt made, and the caller parses the whole file.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pool_refactor.scan.parts import PART_CHARS, PartReader, parse_in_parts

__all__ = [
    "PART_CHARS",
    "PartReader",
    "TextExcerpt",
    "cut",
    "head_statements",
    "parse_in_parts",
    "statements_matching",
    "top_level_index",
]

_MARKER = "__pool_refactor_wiring_gap_5d3a__"
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class TextExcerpt:
    """The excerpt's source, and where in the whole text the left-out run each of its marker lines
    stands for is (by position, not a copy: the whole text is in memory anyway, and the left-out
    runs are most of it; litellm's `proxy_server.py` is 3.8 MB of text)."""

    text: str
    gaps: tuple[tuple[str, int, int], ...]
    """(marker line, start, end in the whole text) per run of left-out statements, in order."""

    def splice(self, code: str, whole: str) -> str | None:
        """`code` (the excerpt, edited) with each marker line replaced by the text of `whole` (the
        text the excerpt was cut from) it stands for, in one join; None if a marker is not there
        exactly once (an edit touched it: a bug of ours)."""
        found: list[tuple[int, str, int, int]] = []
        for marker, start, end in self.gaps:
            if code.count(marker) != 1:
                return None
            found.append((code.index(marker), marker, start, end))
        found.sort()
        pieces: list[str] = []
        at = 0
        for index, marker, start, end in found:
            pieces.append(code[at:index])
            pieces.append(whole[start:end])
            at = index + len(marker)
        pieces.append(code[at:])
        return "".join(pieces)


def _statement_groups(tree: ast.Module) -> list[tuple[int, int, list[int]]]:
    """Per group of top-level statements that share lines (`a = 1; b = 2`): first line (with
    decorators), last line and the statements' indices."""
    groups: list[tuple[int, int, list[int]]] = []
    for index, node in enumerate(tree.body):
        decorators = getattr(node, "decorator_list", None) or []
        first = min([node.lineno, *(d.lineno for d in decorators)])
        last = node.end_lineno or node.lineno
        if groups and first <= groups[-1][1]:
            start, end, members = groups[-1]
            groups[-1] = (start, max(end, last), [*members, index])
        else:
            groups.append((first, last, [index]))
    return groups


def head_statements(tree: ast.Module) -> int:
    """How many top-level statements make the import block that imports are added to: the first
    statement (a docstring, or an import), every import statement right after it, and the statement
    after those. A superset of what libcst's `AddImportsVisitor` reads (`codemods.imports`)."""
    body = tree.body
    index = 1
    while index < len(body) and isinstance(body[index], ast.Import | ast.ImportFrom):
        index += 1
    return min(index + 1, len(body))


def cut(text: str, tree: ast.Module, wanted: Iterable[int]) -> TextExcerpt | None:
    """The excerpt of `text` (which `tree` was parsed from) that keeps the top-level statements
    `wanted` (indices in `tree.body`), the head (`head_statements`) and the statement after each
    kept one. None when nothing would be left out, or the lines cannot be counted as the ast does."""
    if text.count("\r") != text.count("\r\n"):
        return None  # a lone carriage return: libcst and the ast may not count lines alike
    groups = _statement_groups(tree)
    if not groups:
        return None
    group_of: dict[int, int] = {}
    for position, (_first, _last, members) in enumerate(groups):
        for index in members:
            group_of[index] = position
    keep: set[int] = set()
    for index in [*range(head_statements(tree)), *wanted]:
        found = group_of.get(index)
        if found is not None:
            keep.update(p for p in (found, found + 1) if p < len(groups))
    if len(keep) == len(groups):
        return None
    starts = [0] + [match.end() for match in _LINE_END.finditer(text)]
    ends = [groups[p][1] for p in range(len(groups))]
    ends[-1] = len(starts)  # the last group takes the file's footer
    pieces: list[str] = []
    gaps: list[tuple[str, int, int]] = []
    gap_start: int | None = None
    previous_end = 0  # lines before the group (0 = none)

    def offset(line: int) -> int:
        """Where the line after `line` starts (the text's end after the last line)."""
        return starts[line] if line < len(starts) else len(text)

    for position in range(len(groups)):
        start, end = offset(previous_end), offset(ends[position])
        if position in keep:
            if gap_start is not None:
                marker = f"{_MARKER}{len(gaps)}\n"
                gaps.append((marker, gap_start, start))
                pieces.append(marker)
                gap_start = None
            pieces.append(text[start:end])
        elif gap_start is None:
            gap_start = start
        previous_end = ends[position]
    if gap_start is not None:
        marker = f"{_MARKER}{len(gaps)}\n"
        gaps.append((marker, gap_start, len(text)))
        pieces.append(marker)
    if any(marker.rstrip("\n") in text for marker, _start, _end in gaps):
        return None
    excerpt = TextExcerpt("".join(pieces), tuple(gaps))
    return excerpt if excerpt.splice(excerpt.text, text) == text else None


def statements_matching(text: str, tree: ast.Module, pattern: re.Pattern[str], after: int = 0) -> list[int]:
    """Indices of the top-level statements from `after` on whose lines match `pattern`."""
    starts = [0] + [match.end() for match in _LINE_END.finditer(text)]
    found: list[int] = []
    for index in range(after, len(tree.body)):
        node = tree.body[index]
        decorators = getattr(node, "decorator_list", None) or []
        first = min([node.lineno, *(d.lineno for d in decorators)])
        last = node.end_lineno or node.lineno
        begin = starts[first - 1] if first - 1 < len(starts) else len(text)
        end = starts[last] if last < len(starts) else len(text)
        if pattern.search(text, begin, end):
            found.append(index)
    return found


def top_level_index(tree: ast.Module, statement: ast.stmt) -> int | None:
    """The index of a top-level statement in `tree.body`."""
    lines = [node.lineno for node in tree.body]
    position = bisect.bisect_left(lines, statement.lineno)
    for index in range(max(position - 1, 0), min(position + 2, len(tree.body))):
        if tree.body[index] is statement:
            return index
    return next((i for i, node in enumerate(tree.body) if node is statement), None)

"""A file's text cut down to the statements the wiring reads or edits.

Wiring edits a handful of statements (the one that builds the application, a lifespan, a shutdown
handler, the import block) of files that can be very long: litellm's `proxy_server.py` has 22,000
lines, and parsing it with libcst cost most of the wiring's time and 390 MB. libcst is instead
handed an excerpt of the text: the file's first statements (where imports are added), the wanted
statements, and the statement after each of those (so that the lines between two statements, and
whatever an edit appends after a statement, are read exactly as in the whole file). Each run of
left-out statements is replaced by one marker line, a statement of its own; the edited excerpt's
code gets the left-out text back in place of each marker (`TextExcerpt.splice`). A statement that
holds an application inside a block (litellm's `mcp_server/server.py` builds it in a 2,870-line
`if`) is cut the same way inside its blocks, with marker lines at the block's indentation.

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
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from codemods.toplevel import line_starts
from pool_refactor.scan.parts import PART_CHARS, PartReader, parse_in_parts

__all__ = [
    "PART_CHARS",
    "PartReader",
    "TextExcerpt",
    "cut",
    "head_statements",
    "inner_blocks",
    "parse_in_parts",
    "statements_matching",
    "top_level_index",
]

_MARKER = "__pool_refactor_wiring_gap_5d3a__"


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


def _statement_groups(body: Sequence[ast.stmt]) -> list[tuple[int, int, list[int]]]:
    """Per group of statements of a block that share lines (`a = 1; b = 2`): first line (with
    decorators), last line and the statements' indices."""
    groups: list[tuple[int, int, list[int]]] = []
    for index, node in enumerate(body):
        decorators = getattr(node, "decorator_list", None) or []
        first = min([node.lineno, *(d.lineno for d in decorators)])
        last = node.end_lineno or node.lineno
        if groups and first <= groups[-1][1]:
            start, end, members = groups[-1]
            groups[-1] = (start, max(end, last), [*members, index])
        else:
            groups.append((first, last, [index]))
    return groups


def inner_blocks(node: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists of a compound statement that `cut` may cut into (`cut`'s `inner`): those
    of an `if`, `try`, `with`, `for` or `while`; none of a function or a class, whose body the wiring
    reads (a lifespan's `yield`, a shutdown handler's last line)."""
    if isinstance(node, ast.If):
        blocks = [node.body, node.orelse]
    elif isinstance(node, ast.Try | ast.TryStar):
        blocks = [node.body, *(handler.body for handler in node.handlers), node.orelse, node.finalbody]
    elif isinstance(node, ast.With | ast.AsyncWith):
        blocks = [node.body]
    elif isinstance(node, ast.For | ast.AsyncFor | ast.While):
        blocks = [node.body, node.orelse]
    else:
        blocks = []
    return [block for block in blocks if block]


def _block_indent(
    text: str, starts: list[int], block: Sequence[ast.stmt], groups: list[tuple[int, int, list[int]]]
) -> str | None:
    """The indentation every group of `block` starts its first line with, or None when a group
    does not start its line (`else: x = 1`, an `elif`'s `if`) or they differ."""
    indent: str | None = None
    for first, _last, members in groups:
        node = block[members[0]]
        begin = starts[first - 1] if first - 1 < len(starts) else len(text)
        line_end = starts[first] if first < len(starts) else len(text)
        line = text[begin:line_end]
        here = line[: len(line) - len(line.lstrip(" \t\f"))]
        decorators = getattr(node, "decorator_list", None) or []
        column = (
            decorators[0].col_offset - 1 if decorators and decorators[0].lineno == first else node.col_offset
        )
        if len(here) != column or (indent is not None and here != indent):
            return None
        indent = here
    return indent


def _cut_into(node: ast.stmt, inner: set[int]) -> bool:
    """Whether to cut into `node`, a statement of `inner`: only when it holds another (it is on an
    application's chain). A statement kept for what its lines say (an `on_event` handler, a
    registration), such as an `if not TESTING:` around a shutdown handler, is kept whole: its own
    statements are what the wiring reads."""
    return id(node) in inner and any(
        id(child) in inner for child in ast.walk(node) if child is not node and isinstance(child, ast.stmt)
    )


def _inner_gaps(text: str, starts: list[int], node: ast.stmt, inner: set[int]) -> list[tuple[int, int, str]]:
    """The runs of lines to leave out inside `node` (a statement that holds one of `inner`): in each
    of its blocks, what is not in `inner` nor right after a statement that is; as (first line, last
    line, indentation of the block). Statements of `inner` are cut into in turn."""
    gaps: list[tuple[int, int, str]] = []
    for block in inner_blocks(node):
        groups = _statement_groups(block)
        indent = _block_indent(text, starts, block, groups)
        if indent is None or not indent:
            continue
        keep: set[int] = set()
        for position, (_first, _last, members) in enumerate(groups):
            if any(id(block[index]) in inner for index in members):
                keep.update(p for p in (position, position + 1) if p < len(groups))
        run: int | None = None
        previous_last = 0
        for position, (first, last, members) in enumerate(groups):
            if position in keep:
                if run is not None:
                    gaps.append((run, previous_last, indent))
                    run = None
                if len(members) == 1 and _cut_into(block[members[0]], inner):
                    gaps.extend(_inner_gaps(text, starts, block[members[0]], inner))
            elif run is None:
                run = first
            previous_last = last
        if run is not None:
            gaps.append((run, previous_last, indent))
    return gaps


def head_statements(tree: ast.Module) -> int:
    """How many top-level statements make the import block that imports are added to: the first
    statement (a docstring, or an import), every import statement right after it, and the statement
    after those. A superset of what libcst's `AddImportsVisitor` reads (`codemods.imports`)."""
    body = tree.body
    index = 1
    while index < len(body) and isinstance(body[index], ast.Import | ast.ImportFrom):
        index += 1
    return min(index + 1, len(body))


def cut(
    text: str, tree: ast.Module, wanted: Iterable[int], inner: Collection[ast.stmt] = ()
) -> TextExcerpt | None:
    """The excerpt of `text` (which `tree` was parsed from) that keeps the top-level statements
    `wanted` (indices in `tree.body`), the head (`head_statements`) and the statement after each
    kept one. None when nothing would be left out, or the lines cannot be counted as the ast does.

    `inner`: statements at any depth to keep, with the compound statements that hold them (an
    application built in a 2,870-line `if` of litellm's `mcp_server/server.py`): the blocks of a
    kept statement of `inner` are cut in turn (`inner_blocks`), the left-out runs replaced by a marker
    line at the block's indentation."""
    if text.count("\r") != text.count("\r\n"):
        return None  # a lone carriage return: libcst and the ast may not count lines alike
    if _MARKER in text:
        return None
    groups = _statement_groups(tree.body)
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
    held = {id(statement) for statement in inner}
    starts = line_starts(text)
    ends = [groups[p][1] for p in range(len(groups))]
    ends[-1] = len(starts)  # the last group takes the file's footer
    pieces: list[str] = []
    gaps: list[tuple[str, int, int]] = []
    gap_start: int | None = None
    previous_end = 0  # lines before the group (0 = none)

    def offset(line: int) -> int:
        """Where the line after `line` starts (the text's end after the last line)."""
        return starts[line] if line < len(starts) else len(text)

    def leave_out(start: int, end: int, indent: str = "") -> None:
        marker = f"{indent}{_MARKER}{len(gaps)}\n"
        gaps.append((marker, start, end))
        pieces.append(marker)

    for position in range(len(groups)):
        start, end = offset(previous_end), offset(ends[position])
        if position in keep:
            if gap_start is not None:
                leave_out(gap_start, start)
                gap_start = None
            members = groups[position][2]
            node = tree.body[members[0]]
            whole = len(members) != 1 or not _cut_into(node, held)
            inside = [] if whole else _inner_gaps(text, starts, node, held)
            for first, last, indent in inside:
                pieces.append(text[start : offset(first - 1)])
                leave_out(offset(first - 1), offset(last), indent)
                start = offset(last)
            pieces.append(text[start:end])
        elif gap_start is None:
            gap_start = start
        previous_end = ends[position]
    if gap_start is not None:
        leave_out(gap_start, len(text))
    if not gaps:
        return None
    excerpt = TextExcerpt("".join(pieces), tuple(gaps))
    return excerpt if excerpt.splice(excerpt.text, text) == text else None


def statements_matching(
    text: str,
    tree: ast.Module | Sequence[ast.stmt],
    pattern: re.Pattern[str],
    after: int = 0,
    starts: list[int] | None = None,
) -> list[int]:
    """Indices of the top-level statements (or those of a block) from `after` on whose lines match
    `pattern`; `starts`: `line_starts(text)`, when it is already known."""
    body = tree.body if isinstance(tree, ast.Module) else tree
    if starts is None:
        starts = line_starts(text)
    found: list[int] = []
    for index in range(after, len(body)):
        node = body[index]
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

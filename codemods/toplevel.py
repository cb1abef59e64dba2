"""The top-level statements of a module, as libcst and the stdlib `ast` both see them.

A rewrite touches a few functions and the import block of a file that may be thousands of lines
long; libcst's passes over a whole module (positions, visitors that rebuild every node) cost far
more than the edit. Knowing, for each top-level libcst statement, its lines in the file and whether
it holds an import lets the codemod hand libcst only the statements it must read or change, and
put the result back in place (`Excerpt`). The stdlib `ast` gives those facts for a tenth of a
libcst parse; `read_top_level` returns None whenever the two readings do not line up, and the
caller then works on the whole module as before.
"""

from __future__ import annotations

import ast
import bisect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider


@dataclass(frozen=True)
class TopLevel:
    """Per top-level libcst statement, in order: its first and last line, and whether it imports."""

    first_lines: tuple[int, ...]
    """The line of the statement's first token (its first decorator for a decorated definition)."""
    last_lines: tuple[int, ...]
    has_import: tuple[bool, ...]
    """Whether an `import` or `from ... import` stands anywhere inside (nested ones included)."""
    source: str = ""
    """The module's source, which these facts were read from."""
    members: tuple[tuple[tuple[int, int], ...] | None, ...] = ()
    """For a class, the first and last line of each statement of its body (else None)."""

    def __len__(self) -> int:
        return len(self.first_lines)

    def holding(self, lines: Sequence[int]) -> list[int] | None:
        """The statements that hold these lines, in order; None if a line is outside every one."""
        found: set[int] = set()
        for line in lines:
            index = bisect.bisect_right(self.first_lines, line) - 1
            if index < 0 or self.last_lines[index] < line:
                return None
            found.add(index)
        return sorted(found)


def read_top_level(module: cst.Module, source: str, tree: ast.Module | None = None) -> TopLevel | None:
    """The top-level facts of `module`, parsed by libcst from `source`; None if the stdlib `ast`
    cannot read `source` or its statements do not pair up with libcst's (a line of `a; b` is one
    libcst statement and two ast ones). `tree`: `ast.parse(source)` when the caller has it already
    (the fixer's re-scan parsed the same text), so that it is not parsed again."""
    if tree is None:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    pairs = _pair(module.body, tree.body)
    if pairs is None:
        return None
    members: list[tuple[tuple[int, int], ...] | None] = []
    for statement, (_, _, group) in zip(module.body, pairs, strict=True):
        inner = None
        node = group[0]
        if isinstance(statement, cst.ClassDef) and isinstance(node, ast.ClassDef):
            if isinstance(statement.body, cst.IndentedBlock):
                paired = _pair(statement.body.body, node.body)
                inner = None if paired is None else tuple((a, b) for a, b, _ in paired)
        members.append(inner)
    return TopLevel(
        tuple(a for a, _, _ in pairs),
        tuple(b for _, b, _ in pairs),
        tuple(
            any(isinstance(n, ast.Import | ast.ImportFrom) for s in group for n in ast.walk(s))
            for _, _, group in pairs
        ),
        source,
        tuple(members),
    )


def _pair(
    statements: Sequence[cst.BaseStatement], nodes: Sequence[ast.stmt]
) -> list[tuple[int, int, list[ast.stmt]]] | None:
    """For each libcst statement: its first line (first decorator included), last line and ast
    statements; None when the two do not pair up."""
    pairs = []
    index = 0
    for statement in statements:
        count = len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
        group = list(nodes[index : index + count])
        if len(group) != count:
            return None
        index += count
        head = group[0]
        decorators = getattr(head, "decorator_list", None) or []
        first = min([head.lineno, *(d.lineno for d in decorators)])
        pairs.append((first, max(node.end_lineno or node.lineno for node in group), group))
    return pairs if index == len(nodes) else None


def statement_positions(
    module: cst.Module, statement: cst.BaseStatement, first_line: int, indent: str = ""
) -> dict[cst.CSTNode, CodeRange] | None:
    """libcst's positions of every node of one statement, as in the whole module, without
    computing them for the rest of it: the statement alone in a module, its lines shifted to where
    its first token stands in the file and, for a statement in a class body, its columns by the
    class body's `indent`. None if that anchor does not check out."""
    alone = module.with_changes(body=[statement], header=(), footer=())
    positions = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
    above: Sequence[cst.EmptyLine] = getattr(statement, "leading_lines", ())  # every statement has them
    offset = first_line - (1 + len(above))
    anchor = _first_token(statement)
    if anchor is None or positions[anchor].start.line + offset != first_line:
        return None
    shift = len(indent)
    if offset == 0 and shift == 0:
        return dict(positions)
    shifted: dict[cst.CSTNode, CodeRange] = {}
    for node, span in positions.items():
        start, end = span.start, span.end
        shifted[node] = CodeRange(
            (start.line + offset, start.column + shift), (end.line + offset, end.column + shift)
        )
    return shifted


def _first_token(statement: cst.BaseStatement) -> cst.CSTNode | None:
    """A node that starts on the statement's first line, as the ast dates it."""
    if isinstance(statement, cst.SimpleStatementLine):
        return statement.body[0] if statement.body else None
    if isinstance(statement, cst.FunctionDef | cst.ClassDef):
        return statement.decorators[0].decorator if statement.decorators else statement.name
    return statement


@dataclass(frozen=True)
class Excerpt:
    """Some top-level statements of a module, always including its first `head` ones, handed to
    libcst as a module of their own; `reassemble` puts what became of them back in place.

    Only the head may change its number of statements (imports added or removed there); every
    other statement must come back as exactly one statement, which the caller ensures.
    """

    full: cst.Module
    indices: tuple[int, ...]
    head: int

    def module(self) -> cst.Module:
        return self.full.with_changes(body=[self.full.body[i] for i in self.indices])

    @property
    def tail(self) -> int:
        """How many statements follow the head."""
        return len(self.indices) - self.head

    def reassemble(self, excerpt: cst.Module) -> cst.Module:
        cut = len(excerpt.body) - self.tail
        assert cut >= 0, "the statements after the head come back one for one"
        body = list(self.full.body)
        for index, statement in zip(self.indices[self.head :], excerpt.body[cut:], strict=True):
            body[index] = statement
        return self.full.with_changes(body=[*excerpt.body[:cut], *body[self.head :]])


TRIM_FROM_CHARS = 64 * 1024
"""From this long a text on, `release_parser_memory` gives the parser's freed memory back."""

_trim: list[Callable[[int], int] | None] = []


def release_parser_memory(text_length: int) -> None:
    """Give the memory libcst's parser freed back to the system (glibc's `malloc_trim`), after a
    parse of a text at least `TRIM_FROM_CHARS` long.

    Why: the native parser of a 140 KB file allocates about 40 MB and frees it when it returns, but
    glibc keeps the freed pages, and Python's own objects (in arenas of their own) never reuse them;
    on litellm's proxy the wiring's next tree came on top of them (a 155 MB peak). Nowhere else than
    on glibc, and only for long texts (the call walks the heap: about a millisecond)."""
    if text_length < TRIM_FROM_CHARS:
        return
    if not _trim:
        _trim.append(_load_trim())
    trim = _trim[0]
    if trim is not None:
        trim(0)


def _load_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return function


MAP_FROM_BYTES = 128 * 1024
"""`map_large_allocations`: glibc's own initial threshold, kept from then on."""


def map_large_allocations() -> None:
    """Have glibc give every allocation of `MAP_FROM_BYTES` or more its own mapping, returned to the
    system when it is freed (`mallopt(M_MMAP_THRESHOLD)`), for the rest of the process.

    Why: by default glibc raises that threshold to the size of each large block freed, so that
    later blocks up to that size come from the heap, whose freed pages it keeps. The wiring reads a
    large package's texts again and again (`fix.wiring.texts` keeps the long ones encoded and
    decodes them on each read), and libcst's parser frees tens of megabytes at a time: with the
    moving threshold each of those grew the heap for good (litellm's proxy: 7 MB more at the peak).
    Nowhere else than on glibc; called by the wiring, before it reads the texts."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_MMAP_THRESHOLD, MAP_FROM_BYTES)


_M_MMAP_THRESHOLD = -3
"""glibc's `M_MMAP_THRESHOLD` (malloc.h)."""

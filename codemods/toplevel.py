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
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import libcst as cst
from libcst._nodes.internal import CodegenState  # not exported; what `_codegen_impl` is given
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
    return _top_level(module.body, pairs, _holding_imports(pairs), source)


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


_LINE_END = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """Where each line of `text` starts (its offset), as the ast counts lines: after each CRLF,
    lone CR or LF."""
    return [0] + [match.end() for match in _LINE_END.finditer(text)]


class NeedsWholeModule(Exception):
    """An edit of a partly parsed module (`parse_partly`) has to read more than was parsed: the
    caller parses the whole module and edits it again."""


@dataclass(frozen=True)
class Verbatim(cst.BaseStatement):
    """A statement kept as its source text (`parse_partly`), at the top level or in a class's
    block: its leading lines, its code and, for the module's last one, the module's footer. It
    generates that text back and has no children; to every check of a statement's kind it is
    neither an import nor a definition."""

    text: str

    def _visit_and_replace_children(self, visitor: cst.CSTVisitorT) -> Verbatim:
        return self

    def _codegen_impl(self, state: CodegenState) -> None:
        state.add_token(self.text)


_COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.Match,
    *((ast.TryStar,) if sys.version_info >= (3, 11) else ()),
)


def parse_partly(source: str, tree: ast.Module, lines: Sequence[int]) -> tuple[cst.Module, TopLevel] | None:
    """`source` parsed by libcst only where an edit of the sites on `lines` reads it, the other
    top-level statements kept as text (`Verbatim`), and the module's `TopLevel`; None when that
    cannot be done exactly (the caller then parses the whole module). `tree`: `ast.parse(source)`.

    Why: parsing builds a Python object for every token (16 ms for a 250-line file, most of a
    second for 20,000 lines) and generating the code back visits them all again, twice per
    rewrite, while an edit reads the statements holding its sites, the module's head (where
    imports are added), each statement holding an import and the one after it (`apply_import_
    changes`). Parsed are exactly those, and every statement from the first up to the first
    indented block, so that libcst infers the module's indentation (its first indented line)
    and newline (its first line) as from the whole text.

    Exact by construction and checked: the statements are cut at the line after each statement's
    last token (the ast dates a statement by its tokens, parentheses included), and only where
    every line up to the next statement (or the end) is empty or a comment at the first column,
    and the statement's last line does not go on with a backslash (`_plain_lines`: libcst would
    give such lines to the statement above). Each parsed statement must then start where its
    slice does: its first token on the ast's first line (a decorator's `@` checked, since the ast
    dates the expression), with exactly the lines between above it, as libcst keeps them (the
    first statement with the module's header). The excerpt must generate back exactly what was
    parsed (libcst has round-trip bugs of its own: a blank line before an indented comment at the
    end of a file is lost). Each statement kept as text is its slice. A class holding sites in
    its methods is parsed the same way inside (`_class_in_part`). An edit that would need a
    statement kept as text raises `NeedsWholeModule`.
    """
    if not source.endswith("\n") or source.count("\r") != source.count("\r\n"):
        return None  # a last line without newline, or lone CRs: rare, parsed whole
    groups = _statement_groups(tree.body)
    if not groups:
        return None
    starts = line_starts(source)
    bounds = [0]
    for (_, before, _), (first, _, _) in pairwise(groups):
        if first <= before or before >= len(starts) or not _plain_lines(source, starts, before, first, ""):
            return None
        bounds.append(starts[before])
    bounds.append(len(source))
    if not _plain_lines(source, starts, groups[-1][1], len(starts), ""):
        return None  # what follows the last statement, as what stands between two
    if any(_indentation(group[0], source, starts) is None for _, _, group in groups):
        return None  # a first token not where the ast dates it (a decorator's `@`)
    has_import = _holding_imports(groups)
    blocks = (i for i, (a, b, group) in enumerate(groups) if isinstance(group[0], _COMPOUND) and b > a)
    block = next(blocks, None)
    wanted = set(range(max(_ast_head_length(groups), 0 if block is None else block + 1)))
    first_lines = [first for first, _, _ in groups]
    for line in lines:
        found = bisect.bisect_right(first_lines, line) - 1
        if found < 0 or groups[found][1] < line:
            return None
        wanted.add(found)
    for number, flag in enumerate(has_import):
        if flag:
            wanted.update(i for i in (number, number + 1) if i < len(groups))
    chosen = sorted(wanted)
    classes: dict[int, _Members] = {}  # the classes parsed without some of their members
    pieces: list[str] = []
    for number in chosen:
        members = _class_in_part(number, groups, lines, source, starts, bounds)
        if members is not None:
            classes[number] = members
        pieces.append(source[bounds[number] : bounds[number + 1]] if members is None else members.text)
    excerpt = "".join(pieces)
    del pieces
    try:
        module = cst.parse_module(excerpt)
    except cst.ParserSyntaxError:
        return None
    release_parser_memory(len(excerpt))
    if module.code != excerpt:
        return None  # libcst would not write it back as it is (a bug of its own): not ours to hide
    del excerpt
    if len(module.body) != len(chosen) or (chosen[-1] != len(groups) - 1 and module.footer):
        return None
    suite = None if block is None else getattr(module.body[chosen.index(block)], "body", None)
    if block is not None and not isinstance(suite, cst.IndentedBlock):
        return None  # the first indented line is not where the whole text has it
    if groups[0][0] - len(module.header) - len(getattr(module.body[0], "leading_lines", ())) != 1:
        return None  # the first statement (always parsed) with the header above it: from the first line
    body = _with_text(module.body, chosen, groups, bounds, source)
    if body is None:
        return None
    for number, members in classes.items():
        kept = members.assemble(body[number], source)
        if kept is None:
            return None
        body[number] = kept
    whole = module.with_changes(body=body)
    return whole, _top_level(body, groups, has_import, source)


@dataclass(frozen=True)
class _Members:
    """A class parsed with only some of its members (`_class_in_part`): the members' groups (as
    `_statement_groups`), the offset where each one's slice starts (and where the class's ends),
    those parsed, and the class's text as parsed (its head and first member, then those)."""

    groups: list[tuple[int, int, list[ast.stmt]]]
    starts: list[int]
    wanted: list[int]
    text: str

    def assemble(self, statement: cst.BaseStatement, source: str) -> cst.BaseStatement | None:
        """The parsed class with its other members as text; None when the parse is not the one
        expected (the members in another number, or not starting where their slices do)."""
        if not isinstance(statement, cst.ClassDef) or not isinstance(statement.body, cst.IndentedBlock):
            return None
        block = statement.body
        if len(block.body) != len(self.wanted) or (self.wanted[-1] != len(self.groups) - 1 and block.footer):
            return None
        members = _with_text(block.body, self.wanted, self.groups, self.starts, source)
        return None if members is None else statement.with_changes(body=block.with_changes(body=members))


def _with_text(
    parsed: Sequence[cst.BaseStatement],
    chosen: Sequence[int],
    groups: Sequence[tuple[int, int, list[ast.stmt]]],
    slices: Sequence[int],
    source: str,
) -> list[cst.BaseStatement] | None:
    """All the statements of `groups`: the `parsed` ones (those numbered `chosen`), the others as
    their slices of `source` (`Verbatim`); None when a parsed statement is not the one expected.

    Each parsed statement after the first must hold as many small statements as its group, and
    start where its slice does: its first token is where the ast dates it (checked when the slices
    are cut), so the lines libcst holds above it must be exactly those between it and the
    statement before."""
    kept: dict[int, cst.BaseStatement] = {}
    for number, statement in zip(chosen, parsed, strict=True):
        count = len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
        if count != len(groups[number][2]):
            return None
        above = len(getattr(statement, "leading_lines", ()))
        if number and groups[number][0] - above != groups[number - 1][1] + 1:
            return None
        kept[number] = statement
    return [kept[i] if i in kept else Verbatim(source[slices[i] : slices[i + 1]]) for i in range(len(groups))]


def _class_in_part(
    number: int,
    groups: Sequence[tuple[int, int, list[ast.stmt]]],
    lines: Sequence[int],
    source: str,
    starts: Sequence[int],
    bounds: Sequence[int],
) -> _Members | None:
    """How to parse the class that is top-level statement `number` without the members no edit
    reads, or None to parse it whole: what `parse_partly` does for the module, in its body.

    Parsed: the first member (so the block's indentation is read where the whole text has it),
    those holding a site, those holding an import and the one after each, and the last one when
    anything follows the class in the file (it could be the block's). Only when every site in the
    class stands in a method, so that the rewrite walks the methods alone
    (`shared_client._planned_methods`) and never the class around members kept as text; when
    every member is a statement of its own line; and when the lines between members are blank or
    comments at the members' indentation (a comment indented more may belong to the member
    above), with each member's first token where the ast dates it (a decorator's `@`).
    """
    first, last, group = groups[number]
    node = group[0]
    if len(group) != 1 or not isinstance(node, ast.ClassDef):
        return None
    members = _statement_groups(node.body)
    if len(members) < 3 or any(len(member) != 1 for _, _, member in members):
        return None
    wanted = {0}
    firsts = [a for a, _, _ in members]
    for line in lines:
        if not first <= line <= last:
            continue
        found = bisect.bisect_right(firsts, line) - 1
        if found < 0 or members[found][1] < line:
            return None
        if not isinstance(members[found][2][0], ast.FunctionDef | ast.AsyncFunctionDef):
            return None
        wanted.add(found)
    for index, flag in enumerate(_holding_imports(members)):
        if flag:
            wanted.update(i for i in (index, index + 1) if i < len(members))
    if source[starts[last] : bounds[number + 1]]:
        wanted.add(len(members) - 1)
    if len(wanted) == len(members):
        return None
    indent = _indentation(members[0][2][0], source, starts)
    if indent is None:
        return None
    for (_, before, _), (after, _, member) in pairwise(members):
        if _indentation(member[0], source, starts) != indent:
            return None
        if not _plain_lines(source, starts, before, after, indent):
            return None
    slices = [bounds[number], *(starts[before] for _, before, _ in members[:-1]), bounds[number + 1]]
    chosen = sorted(wanted)
    text = "".join(source[slices[i] : slices[i + 1]] for i in chosen)
    return _Members(members, slices, chosen, text)


def _plain_lines(source: str, starts: Sequence[int], before: int, after: int, margin: str) -> bool:
    """Whether the lines after line `before` and before line `after` are empty or comments
    indented by exactly `margin`, and line `before` does not go on with a backslash: then they
    belong to the statement after them, as libcst reads it. A block above may hold a comment
    indented more, or a line of whitespace starting with its indentation, as its footer; and a
    backslash carries a statement's last line on over the lines below."""
    if source[starts[before - 1] : starts[before]].rstrip("\r\n").endswith("\\"):
        return False
    for number in range(before + 1, after):
        line = source[starts[number - 1] : starts[number]].rstrip("\r\n")
        if not line:
            continue
        comment = line.lstrip(" \t")
        if not (comment.startswith("#") and line[: len(line) - len(comment)] == margin):
            return False
    return True


def _indentation(node: ast.stmt, source: str, starts: Sequence[int]) -> str | None:
    """The whitespace before a member's first token (its first decorator's `@`), or None when
    that token is not where the ast dates the member."""
    decorators = getattr(node, "decorator_list", None)
    if decorators:
        head = min(decorators, key=lambda d: (d.lineno, d.col_offset))
        line, column, mark = head.lineno, head.col_offset, b"@"
    else:
        line, column, mark = node.lineno, node.col_offset, b""
    text = source[starts[line - 1] : starts[line]].encode("utf-8", "surrogatepass")[:column]
    stripped = text.lstrip(b" \t")
    if stripped.rstrip() != mark:
        return None
    return text[: len(text) - len(stripped)].decode("ascii")


def _statement_groups(nodes: Sequence[ast.stmt]) -> list[tuple[int, int, list[ast.stmt]]]:
    """The ast's top-level statements grouped as libcst's (those sharing a line: `a = 1; b = 2`),
    each with its first line (first decorator included) and last line, as `_pair` gives them."""
    groups: list[tuple[int, int, list[ast.stmt]]] = []
    for node in nodes:
        last = node.end_lineno or node.lineno
        if groups and node.lineno <= groups[-1][1]:
            first, _, group = groups[-1]
            groups[-1] = (first, max(last, groups[-1][1]), [*group, node])
            continue
        decorators = getattr(node, "decorator_list", None) or []
        groups.append((min([node.lineno, *(d.lineno for d in decorators)]), last, [node]))
    return groups


def _ast_head_length(groups: Sequence[tuple[int, int, list[ast.stmt]]]) -> int:
    """`codemods.imports._head_length` read from the ast: a group of one import is a line of one."""

    def single_import(group: list[ast.stmt]) -> bool:
        return len(group) == 1 and isinstance(group[0], ast.Import | ast.ImportFrom)

    index = 0 if single_import(groups[0][2]) else 1
    while index < len(groups) and single_import(groups[index][2]):
        index += 1
    return min(index + 1, len(groups))


def _holding_imports(groups: Sequence[tuple[int, int, list[ast.stmt]]]) -> list[bool]:
    """Whether an `import` or `from ... import` stands anywhere in each statement (nested too)."""
    return [
        any(isinstance(node, ast.Import | ast.ImportFrom) for s in group for node in ast.walk(s))
        for _, _, group in groups
    ]


def _top_level(
    body: Sequence[cst.BaseStatement],
    groups: Sequence[tuple[int, int, list[ast.stmt]]],
    has_import: Sequence[bool],
    source: str,
) -> TopLevel:
    members: list[tuple[tuple[int, int], ...] | None] = []
    for statement, (_, _, group) in zip(body, groups, strict=True):
        inner = None
        node = group[0]
        if isinstance(statement, cst.ClassDef) and isinstance(node, ast.ClassDef):
            if isinstance(statement.body, cst.IndentedBlock):
                paired = _pair(statement.body.body, node.body)
                inner = None if paired is None else tuple((a, b) for a, b, _ in paired)
        members.append(inner)
    return TopLevel(
        tuple(first for first, _, _ in groups),
        tuple(last for _, last, _ in groups),
        tuple(has_import),
        source,
        tuple(members),
    )


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

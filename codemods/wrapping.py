"""Rewritten lines that outgrow the project's line length are wrapped the way black wraps them.

Moving `timeout=10.0, headers={...}` from a constructor onto a request call makes a line the
project's formatter (`black --check`, `ruff format --check`) and its E501 check then reject. Only
lines that the rewrite produced are touched (a line already in the file stays as the project has
it), and only the shape black gives a call that ends its statement:

    response = await client.get(                    response = await client.get(
        url, timeout=10.0, headers=headers              url,
    )                                                   timeout=10.0,
                                                        headers={"Authorization": f"Bearer {token}"},
                                                    )

the arguments on one line when that line fits, else one per line with a trailing comma. A line
whose call cannot be split that way (several statements on one line, a call that does not end
the statement) is left as it is.

A rewritten call chain (`get_requests_session().get(url).json()`: two calls after a call, where
`requests.get(url).json()` had one after a name) is laid out as the formatters lay such a chain out
once it does not fit (`_chain_layout`): a value fluently, in parentheses; an expression statement
(`...post(url).raise_for_status()`) split at its last call with arguments.

A statement the rewrite only moved (the body of a removed `with` block, now 4 columns to the
left) may fit on fewer lines than black gave it: it is laid out again when black's layout is
certain (`_relaid`), so the formatter's check stays green on the lines the fix touched.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Sequence

import libcst as cst

from codemods.imports import ImportContext

_LINE_LENGTH_KEY = "pool_refactor.line_length"


def set_line_length(context: ImportContext, length: int) -> None:
    """Wrap the lines this context's rewrite produces beyond `length` columns."""
    context.scratch[_LINE_LENGTH_KEY] = length


def line_length(context: ImportContext) -> int | None:
    value = context.scratch.get(_LINE_LENGTH_KEY)
    return value if isinstance(value, int) else None


def wrap_long_lines(
    statement: cst.BaseStatement, module: cst.Module, limit: int, original: str | frozenset[str]
) -> cst.BaseStatement:
    """`statement` (top level, in `module`) with each line the rewrite made longer than `limit`
    wrapped; `original` is the file's source before the rewrite (or `original_lines` of it)."""
    lines = original_lines(original) if isinstance(original, str) else original
    block = statement.body if isinstance(statement, cst.ClassDef) else None
    if isinstance(block, cst.IndentedBlock):
        # A class holding a site usually changed in one method of many: each member is rendered
        # once to see whether it has a line that is not the project's own, and only those are
        # walked (walking a class costs twice rendering it). Exact: a statement whose lines are
        # all in the source is left as it is by `_Wrapper`, and the lines of every statement in a
        # member are lines of the member (stripped, as `_Wrapper` compares them).
        indent = block.indent if block.indent is not None else module.default_indent
        members = list(block.body)
        changed = False
        for index, member in enumerate(members):
            if _all_original(member, lines):
                continue
            wrapper = _Wrapper(module.default_indent, limit, lines, [indent])
            new = member.visit(wrapper)
            assert isinstance(new, cst.BaseStatement)
            changed = changed or new is not member
            members[index] = new
        return statement.with_changes(body=block.with_changes(body=members)) if changed else statement
    result = statement.visit(_Wrapper(module.default_indent, limit, lines))
    assert isinstance(result, cst.BaseStatement)
    return result


def _all_original(statement: cst.BaseStatement, original: frozenset[str]) -> bool:
    """Are all the lines of `statement` (rendered alone) lines of the source, once stripped?"""
    code = cst.Module(body=[]).code_for_node(statement)
    return all(line.strip() in original for line in code.splitlines())


def original_lines(source: str) -> frozenset[str]:
    """The stripped lines of the source: a line found there is the project's own."""
    return frozenset(line.strip() for line in source.splitlines())


class _Wrapper(cst.CSTTransformer):
    def __init__(
        self, default_indent: str, limit: int, original_lines: frozenset[str], indents: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self._default_indent = default_indent
        self._limit = limit
        self._original = original_lines
        self._indents: list[str] = list(indents)
        """The indentation of the enclosing blocks (given for a statement walked inside a class)."""

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not isinstance(node, cst.BaseExpression) and super().on_visit(node)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._indents.append(node.indent if node.indent is not None else self._default_indent)

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        self._indents.pop()
        return updated_node

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        if len(updated_node.body) != 1:
            return updated_node
        code = cst.Module(body=[]).code_for_node(updated_node.with_changes(leading_lines=()))
        lines = code.splitlines()
        indent = "".join(self._indents)
        if not all(line.strip() in self._original for line in lines):
            chained = _chain_layout(updated_node, code, len(indent), self._default_indent, self._limit)
            if chained is not None:
                return chained
        if len(lines) > 1 and all(line.strip() in self._original for line in lines):
            # The project's own lines, moved at most (a `with` block's body dedented): not ours to
            # reformat, unless the formatter would now lay the statement out another way.
            return _relaid(updated_node, code, len(indent), self._default_indent, self._limit)
        # Rendered alone, a continuation line lacks the block's indentation: add it to every line.
        if not lines or max(len(indent) + len(line) for line in lines) <= self._limit:
            return updated_node
        if all(line.strip() in self._original for line in lines):
            return updated_node  # the project's own line: not ours to reformat
        small = updated_node.body[0]
        call = _final_call(small)
        if call is None or not call.args or any(arg.star for arg in call.args) or _has_comment(call):
            return updated_node
        wrapped = _wrap(call, indent, self._default_indent, self._limit)
        return updated_node.with_changes(body=[_replace_call(small, call, wrapped)])


def _relaid(
    node: cst.SimpleStatementLine, code: str, indent: int, step: str, limit: int
) -> cst.SimpleStatementLine:
    """`node` as black lays it out at `indent` columns, when the rewrite moved it.

    A statement that black split over several lines inside a `with` block may fit on fewer once
    the block's body is dedented, and `black --check`/`ruff format --check` then fail on lines the
    fix only moved. The statement is laid out again only when that is certain: its tokens and
    brackets allow no other reading (no comment, no backslash, no multi-line string, no magic
    trailing comma), black's layout as `_layout` computes it reproduces the statement exactly at
    a deeper indentation (where it stood before the dedent), and differs at its new one.
    """
    lines = code.splitlines()
    if len(lines) < 2 or step != "    ":
        return node
    flat = _flat(code)
    if flat is None or _layout(flat, indent, limit) == lines:
        return node
    if not any(_layout(flat, indent + 4 * depth, limit) == lines for depth in (1, 2, 3)):
        return node
    relaid = _layout(flat, indent, limit)
    if relaid is None:
        return node
    return _statement(relaid, node) or node


def _chain_layout(
    node: cst.SimpleStatementLine, code: str, indent: int, step: str, limit: int
) -> cst.SimpleStatementLine | None:
    """A rewritten `x = get_requests_session().get(...).json()` (or `return ...`) as black and ruff
    lay it out, when that differs from how it stands; None when it is not such a chain or the
    layout is not certain.

    `requests.get(...).json()` was a chain of one call after a name; the accessor's call makes it
    two, and the formatters then lay a chain that does not fit out fluently: the value on one
    line inside parentheses when that fits, else each `.method(...)` on a line of its own. A
    segment that does not fit is split as `_layout` splits a line (no magic trailing comma, no
    split at an operator: those are left as they are).
    """
    small = node.body[0]
    render = cst.Module(body=[]).code_for_node
    value: cst.BaseExpression | None
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        head, value = render(small.targets[0].target) + " = ", small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        head = f"{render(small.target)}: {render(small.annotation.annotation)} = "
        value = small.value
    elif isinstance(small, cst.AugAssign):
        head, value = f"{render(small.target)} {render(small.operator).strip()} ", small.value
    elif isinstance(small, cst.Return) and small.value is not None:
        head, value = "return ", small.value
    elif isinstance(small, cst.Expr):
        head, value = "", small.value
    else:
        return None
    if step != "    " or value is None or value.lpar:
        return None
    segments = _chain_segments(value)
    if segments is None or _has_comment(node):
        return None
    flat = _flat(cst.Module(body=[]).code_for_node(value))
    pad = "    "
    if flat is not None and indent + len(head) + len(flat) <= limit:
        lines = [head + flat]
    elif not head:  # an expression statement is not put in parentheses: its call is split
        if flat is None:
            return None
        split = _expression_lines(flat, indent, limit)
        if split is None:
            return None
        lines = split
    elif flat is not None and indent + len(pad) + len(flat) <= limit:
        lines = [head + "(", pad + flat, ")"]
    else:
        lines = [head + "("]
        for segment in segments:
            laid = _segment_lines(segment, indent + len(pad), limit)
            if laid is None:
                return None
            lines += [pad + line for line in laid]
        lines.append(")")
    if lines == code.splitlines():
        return None
    return _statement(lines, node)


def _statement(lines: list[str], node: cst.SimpleStatementLine) -> cst.SimpleStatementLine | None:
    """`lines` (a layout of `node`, without the block's indentation) as a statement in its place,
    with its comments and blank lines above; None if they do not read as one simple statement."""
    try:
        statement = cst.parse_statement("\n".join(lines) + "\n")
    except cst.ParserSyntaxError:
        return None
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    return statement.with_changes(leading_lines=node.leading_lines)


_EMPTY_TRAILERS = re.compile(r"(?:\.\w+\(\))+$")


def _expression_lines(flat: str, indent: int, limit: int) -> list[str] | None:
    """An expression statement that is a call chain (`f().post(...).raise_for_status()`), as the
    formatters split it: at the last call that has arguments, the empty calls after it staying on
    the closing line; the arguments on one line, else one per line with a trailing comma."""
    empty = _EMPTY_TRAILERS.search(flat)
    end = empty.start() if empty else len(flat)
    call, rest = flat[:end], flat[end:]
    split = _last_bracket(call)
    if split is None:
        return None
    head, body, tail = call[: split + 1], call[split + 1 : -1], call[-1] + rest
    pad = "    "
    if not body or indent + len(head) > limit or indent + len(tail) > limit:
        return None
    if indent + len(pad) + len(body) <= limit:
        return [head, pad + body, tail]
    parts = _top_level_commas(body)
    if len(parts) < 2 or any(indent + len(pad) + len(part) + 1 > limit for part in parts):
        return None
    return [head, *(f"{pad}{part}," for part in parts), tail]


def _segment_lines(segment: str, indent: int, limit: int) -> list[str] | None:
    """One segment of a fluent chain at `indent` columns: split as `_layout` splits a line, or,
    when a magic trailing comma keeps it exploded, as it stands (its lines were laid out one
    level in from the statement, and so is the segment now, below `.method(`); None when a line
    would not fit."""
    flat = _flat(segment)
    if flat is not None:
        return _layout(flat, indent, limit)
    lines = segment.splitlines()
    if len(lines) < 2 or not _has_magic_comma(segment):
        return None
    return lines if all(indent + len(line) <= limit for line in lines) else None


def _has_magic_comma(code: str) -> bool:
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.OP]
    except (tokenize.TokenError, SyntaxError):
        return False
    return any(a.string == "," and b.string in _CLOSING for a, b in zip(tokens, tokens[1:], strict=False))


def _chain_segments(value: cst.BaseExpression) -> list[str] | None:
    """`f(...).a(...).b(...)[k]` as its flat segments (`f(...)`, `.a(...)`, `.b(...)[k]`) when it
    is a call chain of at least two method calls on the result of a call of a plain name (what
    makes black and ruff lay it out fluently); else None."""
    parts: list[cst.BaseExpression] = []
    node = value
    while True:
        if node.lpar:
            return None
        if isinstance(node, cst.Call | cst.Subscript):
            parts.append(node)
            node = node.func if isinstance(node, cst.Call) else node.value
        elif isinstance(node, cst.Attribute):
            parts.append(node)
            node = node.value
        else:
            break
    if not isinstance(node, cst.Name) or not parts or not isinstance(parts[-1], cst.Call):
        return None
    parts.reverse()  # root call first
    render = cst.Module(body=[]).code_for_node
    root = parts[0]
    segments = [render(root)]
    calls = 0
    previous: cst.BaseExpression = root
    for part in parts[1:]:
        if isinstance(part, cst.Attribute):
            segments.append("." + part.attr.value)
        else:
            text = render(part)[len(render(previous)) :]
            segments[-1] += text
            calls += isinstance(part, cst.Call)
        previous = part
    return segments if calls >= 2 else None


_OPENING = "([{"
_CLOSING = ")]}"


def _flat(code: str) -> str | None:
    """The statement on one line, spaced as black spaces a line it joins; None when joining is
    not a matter of whitespace between brackets."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    lines = code.splitlines()
    if any(line.rstrip().endswith("\\") for line in lines):
        return None  # a backslash continuation: the join is not between brackets
    pieces: list[str] = []
    previous: tokenize.TokenInfo | None = None
    for token in tokens:
        if token.type in (tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            return None
        if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER):
            continue
        if token.start[0] != token.end[0]:
            return None  # a string over several lines
        if previous is not None:
            if token.string in _CLOSING and previous.string == ",":
                return None  # a magic trailing comma: black keeps one element per line
            pieces.append(joined_gap(lines, previous, token))
        pieces.append(token.string)
        previous = token
    return "".join(pieces)


def joined_gap(lines: list[str], previous: tokenize.TokenInfo, token: tokenize.TokenInfo) -> str:
    """What stands between two tokens once their lines are joined, as the formatters space it: the
    source's own spacing when they share a line, nothing after an opening bracket or before a
    closing one, else one space."""
    if token.start[0] == previous.end[0]:
        return lines[token.start[0] - 1][previous.end[1] : token.start[1]]
    return "" if previous.string in _OPENING or token.string in _CLOSING else " "


def _layout(flat: str, indent: int, limit: int, depth: int = 0) -> list[str] | None:
    """Black's right-hand split of a line with no magic trailing comma: the line itself when it
    fits; else what precedes its last bracket, the bracket's content one level deeper (on one
    line, split the same way when it is one element, or one element per line with a trailing
    comma added), and the closing bracket; an element with no bracket to split at stays as it is,
    too long. None for lines black would split another way."""
    pad = "    " * depth
    if indent + len(pad) + len(flat) <= limit:
        return [pad + flat]
    split = _last_bracket(flat)
    if split is None:
        return [pad + flat] if depth else None  # an atom black cannot split stays long
    head, body, tail = flat[: split + 1], flat[split + 1 : -1], flat[-1]
    if not body or indent + len(pad) + len(head) > limit:
        return None
    parts = _top_level_commas(body)
    inner = _layout(body, indent, limit, depth + 1)
    long_line = inner is not None and len(inner) == 1 and indent + len(inner[0]) > limit
    if inner is None or (len(parts) > 1 and (len(inner) > 1 or long_line)):
        inner_pad = "    " * (depth + 1)
        if len(parts) < 2 or any(indent + len(inner_pad) + len(part) + 1 > limit for part in parts):
            return None
        inner = [f"{inner_pad}{part}," for part in parts]
    return [pad + head, *inner, pad + tail]


def _scan_brackets(text: str) -> list[tuple[int, str]] | None:
    """Positions of the brackets and top-level-relevant commas of `text`, outside strings."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    return [
        (token.start[1], token.string)
        for token in tokens
        if token.type == tokenize.OP and token.string in _OPENING + _CLOSING + ","
    ]


def _last_bracket(flat: str) -> int | None:
    """Index of the bracket that the line's final closing bracket closes."""
    marks = _scan_brackets(flat)
    if not marks or marks[-1][1] not in _CLOSING or marks[-1][0] != len(flat) - 1:
        return None
    depth = 0
    for position, mark in reversed(marks):
        if mark in _CLOSING:
            depth += 1
        elif mark in _OPENING:
            depth -= 1
            if depth == 0:
                return position
    return None


def _top_level_commas(body: str) -> list[str]:
    """`body` split at its commas outside brackets, each element stripped."""
    marks = _scan_brackets(body)
    if marks is None:
        return []
    parts: list[str] = []
    depth = 0
    start = 0
    for position, mark in marks:
        if mark in _OPENING:
            depth += 1
        elif mark in _CLOSING:
            depth -= 1
        elif depth == 0:
            parts.append(body[start:position].strip())
            start = position + 1
    parts.append(body[start:].strip())
    return [part for part in parts if part]


def _has_comment(node: cst.CSTNode) -> bool:
    return "#" in cst.Module(body=[]).code_for_node(node) and bool(
        [n for n in _walk(node) if isinstance(n, cst.Comment)]
    )


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []
    stack = [node]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.children)
    return found


def _final_call(small: cst.BaseSmallStatement) -> cst.Call | None:
    """The call that ends the statement (`x = await f(...)`, `return f(...)`, `f(...)`)."""
    value: cst.BaseExpression | None
    if isinstance(small, cst.Assign | cst.AnnAssign | cst.AugAssign | cst.Return | cst.Expr):
        value = small.value
    else:
        return None
    if isinstance(value, cst.Await):
        value = value.expression
    if isinstance(value, cst.Call) and not value.lpar and not value.rpar:
        return value
    return None


def _replace_call(small: cst.BaseSmallStatement, old: cst.Call, new: cst.Call) -> cst.BaseSmallStatement:
    assert isinstance(small, cst.Assign | cst.AnnAssign | cst.AugAssign | cst.Return | cst.Expr)
    value = small.value
    if isinstance(value, cst.Await) and value.expression is old:
        return small.with_changes(value=value.with_changes(expression=new))
    return small.with_changes(value=new)


def _newline(indent: str) -> cst.ParenthesizedWhitespace:
    """A line break, then the enclosing block's indentation and `indent` more."""
    return cst.ParenthesizedWhitespace(
        first_line=cst.TrailingWhitespace(),
        empty_lines=(),
        indent=True,
        last_line=cst.SimpleWhitespace(indent),
    )


def _wrap(call: cst.Call, indent: str, step: str, limit: int) -> cst.Call:
    args = [
        arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=cst.SimpleWhitespace(""))
        for arg in call.args
    ]  # the call's own layout goes: its lines are what is being redone
    codes = [cst.Module(body=[]).code_for_node(arg) for arg in args]
    one_line = ", ".join(codes)
    if "\n" not in one_line and "\r" not in one_line and len(indent) + len(step) + len(one_line) <= limit:
        spaced = [
            arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))) for arg in args[:-1]
        ]
        last = args[-1].with_changes(whitespace_after_arg=_newline(""))
        return call.with_changes(whitespace_before_args=_newline(step), args=[*spaced, last])
    each: list[cst.Arg] = []
    for index, arg in enumerate(args):
        final = index == len(args) - 1
        each.append(arg.with_changes(comma=cst.Comma(whitespace_after=_newline("" if final else step))))
    return call.with_changes(whitespace_before_args=_newline(step), args=each)


__all__: Sequence[str] = ("line_length", "set_line_length", "wrap_long_lines")

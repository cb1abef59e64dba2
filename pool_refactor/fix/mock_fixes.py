"""`--fix-tests`: rewrite the patches that `fix.mocks` found broken, in the shapes it knows, so that
each test mocks the rewritten code again.

The edits (`mocks.PatchEdit`), made with libcst so that everything else in the test file is kept:

- a one-shot function becomes the same method of the shared client's class, which is called with
  the same arguments (a `MagicMock` on a class is not bound to the instance):
  `patch("requests.post")` -> `patch("requests.Session.post")`,
  `patch.object(requests, "post")` -> `patch.object(requests.Session, "post")`; a replacement given
  as a value (`new=fake`, `monkeypatch.setattr(..., fake)`) is wrapped in `staticmethod(...)` so it
  is not passed the session either;
- a constructor becomes the accessor where the module under test imports it:
  `patch("shop.users.httpx.AsyncClient")` -> `patch("shop.users.get_http_client", new_callable=...)`.
  For `async with X() as c` / `with X() as c`, `new_callable` is a small helper added once to the
  test file, after its imports: a mock accessor that returns what the old mock's
  `return_value.__aenter__.return_value` is, so the test's own set-up of the client keeps working.

Anything else is left as it is and listed with the fix to make by hand.

A patch line the edit made longer than the project's line length (`patch("requests.post")` gains
`.Session`) is split as ruff and black split it, when that layout is certain (`_rewrapped`): the
call's arguments on a line of their own, else one a line, in a statement or a `with` item of its own.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from codemods.wrapping import _scan_brackets, _top_level_commas, original_lines
from pool_refactor.fix.mocks import MockWarning, PatchEdit

__all__ = ["HELPERS", "PatchRewrite", "rewrite_test"]

HELPERS = {
    "__aenter__": "_shared_async_client_mock",
    "__enter__": "_shared_client_mock",
}
"""The helper added for each way the old client was entered."""

_MARKER = "# Added by pool-refactor --fix-tests."
"""The comment above the helper (on a line of its own: the `def` line stays short)."""

_HELPER = '''

def {name}(**kwargs: object) -> object:
    """A mock shared-client accessor that returns what `{verb} mock()
    as client` bound: the test's set-up of the old mock stays right."""
    from unittest.mock import MagicMock

    accessor = MagicMock(**kwargs)
    entered = accessor.return_value.{dunder}
    accessor.side_effect = lambda *args, **kw: entered.return_value
    return accessor
'''


@dataclass(frozen=True)
class PatchRewrite:
    """A test file's new text and the warnings its edits settled."""

    new_text: str
    fixed: tuple[MockWarning, ...]


def rewrite_test(
    text: str, warnings: Sequence[MockWarning], line_length: int | None = None
) -> PatchRewrite | None:
    """Apply the edits of `warnings` (all of one test file) to `text`; None when none applies.
    An edited line longer than `line_length` (the project's) is split as the formatters split it.

    The calls are found by what they are (`MockWarning.site`: function and target), not by
    position: every call of one file with the same site patches the same thing, so it gets the
    same edit. A site whose warnings disagree (one edit, another none) is left alone."""
    edits: dict[str, PatchEdit | None] = {}
    sites: dict[str, list[MockWarning]] = {}
    for warning in warnings:
        if warning.site in edits and edits[warning.site] != warning.edit:
            edits[warning.site] = None
        else:
            edits.setdefault(warning.site, warning.edit)
        sites.setdefault(warning.site, []).append(warning)
    wanted = {site: edit for site, edit in edits.items() if edit is not None and site}
    if not wanted:
        return None
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return None
    editor = _Editor(wanted, module)
    new_module = module.visit(editor)
    if not editor.applied:
        return None
    for dunder in sorted(editor.helpers):
        new_module = _add_helper(new_module, dunder)
    fixed = tuple(w for site in sorted(editor.applied) for w in sites[site])
    new_text = new_module.code
    if line_length is not None:
        new_text = _rewrapped(new_text, text, line_length)
    return PatchRewrite(new_text, fixed)


def _normalised(code: str) -> str | None:
    try:
        return ast.unparse(ast.parse(code.strip(), mode="eval"))
    except (SyntaxError, ValueError):
        return None


class _Editor(cst.CSTTransformer):
    def __init__(self, edits: dict[str, PatchEdit], module: cst.Module) -> None:
        super().__init__()
        self._edits = edits
        self._module = module
        self._prefixes = {site.split("|", 1)[0] for site in edits}
        self.applied: set[str] = set()
        self.helpers: set[str] = set()

    def _site(self, call: cst.Call) -> str | None:
        func = _normalised(self._module.code_for_node(call.func))
        if func is None or func not in self._prefixes:
            return None
        parts = [func]
        for arg in [a for a in call.args if a.keyword is None and not a.star][:2]:
            value = _string_value(arg.value)
            if value is None:
                value = _normalised(self._module.code_for_node(arg.value))
                if value is None:
                    return None
            parts.append(value)
        return "|".join(parts)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        site = self._site(original)
        edit = self._edits.get(site) if site is not None else None
        if site is None or edit is None:
            return updated
        edited = _apply(updated, edit)
        if edited is None:
            return updated
        self.applied.add(site)
        if edit.entered:
            self.helpers.add(edit.entered)
        return edited


def _string_value(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _with_string(node: cst.SimpleString, value: str) -> cst.SimpleString:
    quote = node.quote
    prefix = node.value[: node.value.index(quote[0])]
    return node.with_changes(value=f"{prefix}{quote}{value}{quote}")


def _positional(call: cst.Call) -> list[int]:
    return [i for i, arg in enumerate(call.args) if arg.keyword is None and not arg.star]


def _apply(call: cst.Call, edit: PatchEdit) -> cst.Call | None:
    args = list(call.args)
    positional = _positional(call)
    if not positional:
        return None
    first = args[positional[0]]
    value = _string_value(first.value)
    if value is not None and "." in value:  # patch("a.b.c"), setattr("a.b.c", v)
        assert isinstance(first.value, cst.SimpleString)
        args[positional[0]] = first.with_changes(value=_with_string(first.value, edit.target))
        value_index = positional[1] if len(positional) > 1 else None
    elif len(positional) > 1 and _string_value(args[positional[1]].value):  # (owner, "name")
        second = args[positional[1]]
        owner = first.value
        if edit.owner_suffix:
            for name in edit.owner_suffix.strip(".").split("."):
                owner = cst.Attribute(value=owner, attr=cst.Name(name))
        args[positional[0]] = first.with_changes(value=owner)
        if edit.attribute:
            assert isinstance(second.value, cst.SimpleString)
            args[positional[1]] = second.with_changes(value=_with_string(second.value, edit.attribute))
        value_index = positional[2] if len(positional) > 2 else None
    else:
        return None
    if edit.static:
        index = value_index
        if index is None:
            index = next(
                (i for i, arg in enumerate(args) if arg.keyword and arg.keyword.value in ("new", "value")),
                None,
            )
        if index is not None:
            inner = args[index].value
            wrapped = cst.Call(func=cst.Name("staticmethod"), args=[cst.Arg(value=inner)])
            args[index] = args[index].with_changes(value=wrapped)
    if edit.entered:
        last = args[-1]
        if last.comma is cst.MaybeSentinel.DEFAULT or isinstance(last.comma, cst.MaybeSentinel):
            args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        args.append(
            cst.Arg(
                keyword=cst.Name("new_callable"),
                value=cst.Name(HELPERS[edit.entered]),
                equal=cst.AssignEqual(
                    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
                ),
            )
        )
    return call.with_changes(args=args)


def _is_import(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    return all(isinstance(item, cst.Import | cst.ImportFrom) for item in statement.body)


def _add_helper(module: cst.Module, dunder: str) -> cst.Module:
    name = HELPERS[dunder]
    if any(isinstance(s, cst.FunctionDef) and s.name.value == name for s in module.body):
        return module
    verb = "async with" if dunder == "__aenter__" else "with"
    helper = cst.parse_module(_HELPER.format(name=name, verb=verb, dunder=dunder)).body
    body = list(module.body)
    index = 0
    for position, statement in enumerate(body):
        if _is_import(statement):
            index = position + 1
        elif isinstance(statement, cst.SimpleStatementLine) and position == 0:
            index = 1  # the docstring
        elif isinstance(statement, cst.If | cst.Try) and index == position:
            continue  # `try: import x except ImportError:` among the imports
        else:
            break
    first, *rest = helper
    marker = cst.EmptyLine(comment=cst.Comment(_MARKER))
    first = first.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine(), marker])
    placed = [first, *rest]
    if index < len(body):
        following = body[index]
        body[index] = following.with_changes(
            leading_lines=[
                cst.EmptyLine(),
                cst.EmptyLine(),
                *[line for line in following.leading_lines if line.comment],
            ]
        )
    body[index:index] = placed
    return module.with_changes(body=body)


_STEP = "    "
_WITH_TAIL = re.compile(r"(?: as \w+)?:")
_ITEM_HEAD = re.compile(r"(?:\w+=)?[\w.]+\(")
_STATEMENT_HEAD = re.compile(r"(?:@|return |(?:async )?with |[\w.]+(?:: [\w.]+)? = )?[\w.]+\(")
"""A call alone, assigned to a name, returned, a decorator or a `with` item: the formatters split
such a line at the call's parentheses (an operator or a second call before it: not certain)."""
_ITEM_TAIL = re.compile(r"(?: as \w+)?,")


def _rewrapped(text: str, original: str, limit: int) -> str:
    """`text` with each line the edit made longer than `limit` split at its call, as ruff and black
    split it: `head(`, the arguments one level in (on one line, else one a line with a trailing
    comma), `)` and the rest. Only two shapes are certain and touched: a statement on one line
    (`with patch(...) as m:`, `m = mocker.patch(...)`, `@patch(...)`) whose only bracket at its
    top level is the call's, and an element on a line of its own inside brackets (`patch(...) as
    m,` in a parenthesised `with`, an item of a list); anything else is left long."""
    own = original_lines(original)
    lines = text.splitlines(keepends=True)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    whole, elements, noisy = _line_shapes(tokens)
    out: list[str] = []
    for number, line in enumerate(lines, 1):
        content = line.rstrip("\r\n")
        ending = line[len(content) :]
        relaid = None
        if len(content) > limit and content.strip() not in own and number not in noisy:
            if number in whole:
                relaid = _split_call(content, limit, element=False)
            elif number in elements:
                relaid = _split_call(content, limit, element=True)
        out.extend([f"{new}{ending or chr(10)}" for new in relaid] if relaid else [line])
    return "".join(out)


def _line_shapes(tokens: list[tokenize.TokenInfo]) -> tuple[set[int], set[int], set[int]]:
    """Rows that hold a whole statement, rows that hold one element of an exploded bracket (the row
    before ends with `(`, `[`, `{` or `,`, and this one with `,`), and rows with a comment or part of
    a string over several rows."""
    whole: set[int] = set()
    elements: set[int] = set()
    noisy: set[int] = set()
    depth = 0
    starts: dict[int, tuple[int, bool]] = {}
    last: dict[int, str] = {}
    statement_start = True
    for token in tokens:
        row = token.start[0]
        if token.type == tokenize.COMMENT or token.start[0] != token.end[0]:
            noisy.update(range(token.start[0], token.end[0] + 1))
        if token.type in (
            tokenize.NL,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
            tokenize.COMMENT,
        ):
            continue
        if token.type == tokenize.NEWLINE:
            first_row, starts_statement = starts.get(row, (0, False))
            if starts_statement and first_row == 0:
                whole.add(row)
            statement_start = True
            continue
        if row not in starts:
            starts[row] = (depth, statement_start)
        statement_start = False
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        last[row] = token.string
    for row, (row_depth, _) in starts.items():
        if row_depth > 0 and last.get(row) == "," and last.get(row - 1, "") in ("(", "[", "{", ","):
            elements.add(row)
    return whole, elements, noisy


def _split_call(content: str, limit: int, *, element: bool) -> list[str] | None:
    """The line split at its call's parentheses; None when the line is not one of the certain
    shapes or a part would not fit."""
    indent = content[: len(content) - len(content.lstrip(" "))]
    code = content[len(indent) :]
    marks = _scan_brackets(code)
    if not marks or marks[0][1] != "(":
        return None
    depth = 0
    close = None
    for position, mark in marks:
        depth += 1 if mark in "([{" else -1 if mark in ")]}" else 0
        if depth == 0 and mark == ")":
            close = position
            break
    if close is None or any(position > close and mark != "," for position, mark in marks):
        return None
    head, body, tail = code[: marks[0][0] + 1], code[marks[0][0] + 1 : close].strip(), code[close + 1 :]
    if element:
        certain = bool(_ITEM_HEAD.fullmatch(head)) and bool(_ITEM_TAIL.fullmatch(tail))
    else:
        with_item = head.startswith(("with ", "async with ")) and bool(_WITH_TAIL.fullmatch(tail))
        certain = bool(_STATEMENT_HEAD.fullmatch(head)) and (with_item or not tail)
    if not certain or not body or body.endswith(","):
        return None
    inner = indent + _STEP
    lines = [indent + head]
    if len(inner) + len(body) <= limit:
        lines.append(inner + body)
    else:
        parts = _top_level_commas(body)
        if len(parts) < 2 or any(len(inner) + len(part) + 1 > limit for part in parts):
            return None
        lines += [f"{inner}{part}," for part in parts]
    lines.append(f"{indent}){tail}")
    return lines if max(len(line) for line in lines) <= limit else None

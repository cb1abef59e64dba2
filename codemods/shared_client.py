"""Carry out the scanner's fix plans on the concrete syntax tree (libcst).

The scanner (stdlib `ast`) decides which sites are safe to rewrite and how; this transformer only
finds those sites again by position and edits them, keeping every comment, blank line and quote
that it does not have to touch. It runs from `pool-refactor scan --fix` and, through the command
classes in this package, from `python -m libcst.tool codemod`.

Edits, by plan kind:

- `with`:    `async with X(opts) as c: body` -> `c = accessor(keyed)` + `body` (dedented);
             other items of a multi-item `with` stay in a `with`.
- `local`:   `c = X(opts)` -> `c = accessor(keyed)`; standalone `c.close()`/`await c.aclose()`
             statements go away, and a `try:` whose `finally:` is left empty is unwrapped.
- `one-shot`: `httpx.get(url, verify=False)` -> `accessor(verify=False).get(url)` (awaited for the
             async accessor).
- `chained`: `httpx.Client(opts).get(url)` -> `accessor(keyed).get(url, moved)` (a leak: the
             client was built for this one request and never closed).
- `borrow`:  `aiohttp.ClientSession(opts)` -> `aiohttp.ClientSession(opts,
             connector=get_aiohttp_connector(), connector_owner=False)`: the constructor's
             `borrow_arguments` are added and nothing else changes (its block, its closes, its
             requests), so the session keeps its own cookies and options and shares the pool only.

For `with` and `local`, the options in `moved_options` are added to every request call on the
client unless the call passes its own value (the library's precedence: the request wins). For the
mappings in `merged_options`, a request's own literal gets the client's entries in front of its
own (`merge_dicts`): the library's merge, written out.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import libcst as cst
from libcst.metadata import PositionProvider

from codemods.imports import (
    ImportContext,
    add_import,
    comment_lines,
    leading_lines,
    remove_unused_library_imports,
    restore_additions,
    scheduled_additions,
)
from codemods.toplevel import NeedsWholeModule, TopLevel, statement_positions
from codemods.wrapping import line_length, original_lines, wrap_long_lines
from pool_refactor.scan.catalog import LIBRARIES, Library
from pool_refactor.scan.findings import FixPlan

Position = tuple[int, int, int, int]
"""A call's span as libcst reports it: 1-based lines, 0-based character columns, end exclusive."""


@dataclass
class _Client:
    """A planned client variable inside one function."""

    plan: FixPlan
    library: Library
    values: dict[str, cst.Arg] = field(default_factory=dict)
    """The constructor's arguments by keyword, as written."""


class _CommentCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.Comment] = []

    def visit_Comment(self, node: cst.Comment) -> None:
        self.found.append(node)


def _comment_nodes(node: cst.CSTNode) -> list[cst.Comment]:
    collector = _CommentCollector()
    node.visit(collector)
    return collector.found


def _call_comments(call: cst.Call, values_kept: Sequence[cst.Arg]) -> list[cst.EmptyLine]:
    """Comments written inside a call that is rewritten away (between its arguments, on the lines
    of options, commented-out options), except those inside argument values that live on."""
    inside_values = {id(c) for arg in values_kept for c in _comment_nodes(arg.value)}
    return [cst.EmptyLine(comment=c) for c in _comment_nodes(call) if id(c) not in inside_values]


def _arg_comments(args: Sequence[cst.Arg]) -> list[cst.EmptyLine]:
    """Comments around (not inside) arguments that move to another call."""
    lines: list[cst.EmptyLine] = []
    for arg in args:
        inside = {id(c) for c in _comment_nodes(arg.value)}
        lines.extend(cst.EmptyLine(comment=c) for c in _comment_nodes(arg) if id(c) not in inside)
    return lines


def _library(family: str) -> Library:
    for library in LIBRARIES:
        if library.family == family:
            return library
    raise KeyError(family)


class SharedClientTransformer(cst.CSTTransformer):
    """Rewrites the sites in `plans` (see the module docstring).

    Only PositionProvider is resolved; the parent of a node (whether an awaited one-shot needs
    parentheses) comes from the transformer's own walk, which saves ParentNodeProvider's separate
    pass over the module. With `skip_unplanned`, the body of a function (`def`, with its
    decorators) whose lines hold no planned site is not walked: nothing in it can change, since a
    function's request calls and closes only ever refer to clients planned in that same function
    (`_functions`). `rewrite_module` checks that every site was still found and walks everything
    otherwise. Together: `rewrite_module` on proxy_cli.py (1,848 lines, one site) takes 0.27 s
    instead of 0.86 s, of which PositionProvider, still resolved over the whole module, is 0.19 s.
    """

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(
        self,
        context: ImportContext,
        plans: Mapping[Position, FixPlan],
        accessor_module: str,
        *,
        skip_unplanned: bool = False,
    ) -> None:
        super().__init__()
        self.context = context
        self.plans = dict(plans)
        self._plan_lines = sorted({position[0] for position in self.plans})
        self._skip_unplanned = skip_unplanned
        self._parents: list[cst.CSTNode] = []
        """The original nodes being walked, innermost last."""
        self.accessor_module = accessor_module
        self.applied: set[Position] = set()
        self._functions: list[dict[str, _Client]] = [{}]
        self._with_rewrites: dict[int, cst.SimpleStatementLine] = {}
        """Updated `with` nodes to splice into their parent block, with the assignment to put first."""
        self._splices: dict[int, tuple[list[cst.BaseStatement], Sequence[cst.EmptyLine]]] = {}
        """Updated statements to replace by several, with comment lines to keep after them."""
        self._ctor_calls: dict[int, tuple[Position, FixPlan]] = {}
        self._chained: dict[int, _Client] = {}
        """Planned `X(...).get()` constructor calls (original nodes), for the request made on them."""
        self._used_accessors: set[str] = set()
        self._pending_comments: list[cst.EmptyLine] = []
        """Comments of rewritten calls, put above the statement that contains them."""

    def on_visit(self, node: cst.CSTNode) -> bool:
        descend = super().on_visit(node)
        self._parents.append(node)
        if descend and self._skip_unplanned and isinstance(node, cst.FunctionDef):
            return self._has_planned_line(node)
        return descend

    def _has_planned_line(self, node: cst.FunctionDef) -> bool:
        first = node.decorators[0] if node.decorators else node
        start = self.get_metadata(PositionProvider, first).start.line
        end = self.get_metadata(PositionProvider, node).end.line
        index = bisect.bisect_left(self._plan_lines, start)
        return index < len(self._plan_lines) and self._plan_lines[index] <= end

    def _parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The parent of `node`, an original node being left."""
        assert self._parents and self._parents[-1] is node
        return self._parents[-2] if len(self._parents) > 1 else None

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]:
        result = super().on_leave(original_node, updated_node)
        self._parents.pop()
        if self._pending_comments and isinstance(result, cst.SimpleStatementLine | cst.BaseCompoundStatement):
            lines, self._pending_comments = self._pending_comments, []
            result = result.with_changes(leading_lines=[*result.leading_lines, *lines])
        return result

    # -- locating --------------------------------------------------------------------------
    def _position(self, node: cst.CSTNode) -> Position:
        span = self.get_metadata(PositionProvider, node)
        return span.start.line, span.start.column, span.end.line, span.end.column

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append({})

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        body = updated_node.body
        if isinstance(body, cst.IndentedBlock) and any(self._is_close(s) for s in body.body):
            kept, carry = self._drop_closes(body.body)
            if not kept:
                kept = [cst.SimpleStatementLine(body=[cst.Pass()])]
            updated_node = updated_node.with_changes(
                body=body.with_changes(body=kept, footer=[*carry, *body.footer])
            )
        self._functions.pop()
        return updated_node

    def visit_Call(self, node: cst.Call) -> None:
        position = self._position(node)
        plan = self.plans.get(position)
        if plan is None:
            return
        self._ctor_calls[id(node)] = (position, plan)
        if plan.variable is not None or plan.kind == "chained":
            client = _Client(plan, _library(plan.library))
            for arg in _named_args(node, plan):
                assert arg.keyword is not None
                client.values[arg.keyword.value] = arg
            if plan.variable is not None:
                self._functions[-1][plan.variable] = client
            else:
                self._chained[id(node)] = client

    # -- request calls and the constructor/one-shot itself -----------------------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        target = self._ctor_calls.get(id(original_node))
        if target is not None:
            position, plan = target
            if plan.kind == "one-shot":
                self.applied.add(position)
                return self._one_shot(original_node, updated_node, plan)
            if plan.kind == "borrow":
                self.applied.add(position)
                return self._borrowing(updated_node, plan)
            if plan.kind in ("local", "chained"):
                self.applied.add(position)
                self._pending_comments.extend(
                    _call_comments(updated_node, self._kept_values(updated_node, plan))
                )
                return self._accessor_call(updated_node, plan)
            return updated_node  # `with` items are rewritten in leave_With
        func = original_node.func
        if isinstance(func, cst.Attribute) and id(func.value) in self._chained:
            return self._request_call(updated_node, self._chained[id(func.value)])
        return self._request_call(updated_node)

    def _request_call(self, call: cst.Call, client: _Client | None = None) -> cst.Call:
        """A request call on a planned client (`client`, or the one its receiver names), with the
        moved options added and the merged ones written out."""
        func = call.func
        if not isinstance(func, cst.Attribute):
            return call
        if client is None and isinstance(func.value, cst.Name):
            client = self._functions[-1].get(func.value.value)
        if client is None or not client.plan.moved_options:
            return call
        method = func.attr.value
        if method not in client.library.request_methods:
            return call
        given = {arg.keyword.value for arg in call.args if arg.keyword is not None}
        if given & set(client.plan.merged_options):
            call = call.with_changes(args=[self._merged(arg, client) for arg in call.args])
        extra = [client.values[name] for name in client.plan.moved_options if name not in given]
        if method in client.library.build_only_methods:
            extra = [
                arg for arg in extra if arg.keyword and arg.keyword.value in client.library.build_only_options
            ]
        return call.with_changes(args=append_args(call, extra)) if extra else call

    def _merged(self, arg: cst.Arg, client: _Client) -> cst.Arg:
        """A request's mapping argument with the client's entries written in front of its own (the
        planner checked that both are literals with no key in common)."""
        if arg.keyword is None or arg.keyword.value not in client.plan.merged_options:
            return arg
        own = client.values[arg.keyword.value].value
        assert isinstance(own, cst.Dict) and isinstance(arg.value, cst.Dict)
        merged, comments = merge_dicts(own, arg.value)
        self._pending_comments.extend(comments)
        return arg.with_changes(value=merged)

    def _kept_values(self, call: cst.Call, plan: FixPlan) -> list[cst.Arg]:
        """The constructor arguments whose values appear again (keyed or moved)."""
        wanted = set(plan.keyed_options) | set(plan.moved_options)
        return [arg for arg in _named_args(call, plan) if arg.keyword and arg.keyword.value in wanted]

    def _accessor_call(self, call: cst.Call, plan: FixPlan) -> cst.Call:
        keyed = [
            arg for arg in _named_args(call, plan) if arg.keyword and arg.keyword.value in plan.keyed_options
        ]
        self._need_accessor(plan.accessor)
        return cst.Call(func=cst.Name(plan.accessor), args=_clean_args(keyed))

    def _borrowing(self, call: cst.Call, plan: FixPlan) -> cst.Call:
        """The constructor with the arguments that make it borrow the shared pool, at its end; the
        pool accessor gets a copy of the constructor's pool options (`verify=False`), which the
        client keeps too. A constructor without such arguments becomes the accessor's call."""
        library = _library(plan.library)
        ctor = next(c for c in library.constructors if c.borrow_accessor == plan.accessor)
        self._need_accessor(plan.accessor)
        if not ctor.borrow_arguments:
            return cst.Call(func=cst.Name(plan.accessor))
        texts = dict(ctor.borrow_arguments)
        equal = cst.AssignEqual(whitespace_before=_NO_SPACE, whitespace_after=_NO_SPACE)
        pool = [
            arg.deep_clone() for arg in call.args if arg.keyword and arg.keyword.value in plan.pool_options
        ]
        extra = []
        for name in plan.keyed_options:
            value = cst.parse_expression(texts[name])
            if isinstance(value, cst.Call) and pool:
                value = value.with_changes(args=_clean_args(pool))
            extra.append(cst.Arg(keyword=cst.Name(name), equal=equal, value=value))
        last = call.args[-1] if call.args else None
        opening = call.whitespace_before_args
        if (
            last is not None
            and isinstance(last.comma, cst.Comma)
            and isinstance(last.comma.whitespace_after, cst.ParenthesizedWhitespace)
            and isinstance(opening, cst.ParenthesizedWhitespace)
        ):
            # One argument per line: the last one keeps its comma and the comment on its line;
            # the new ones follow on lines of their own, the final one before `)` as it was.
            closing = last.comma
            after = closing.whitespace_after
            assert isinstance(after, cst.ParenthesizedWhitespace)
            own = closing.with_changes(whitespace_after=after.with_changes(last_line=opening.last_line))
            inner = cst.Comma(whitespace_after=_bare(opening))
            end = closing.with_changes(whitespace_after=_bare(after))
            new = [arg.with_changes(comma=inner) for arg in extra[:-1]]
            new.append(extra[-1].with_changes(comma=end))
            return call.with_changes(args=[*call.args[:-1], last.with_changes(comma=own), *new])
        return call.with_changes(args=append_args(call, extra))

    def _wrap_borrowing(self, original: cst.With, updated: cst.With) -> cst.With:
        """A `with` header that the added arguments made longer than the project's line length,
        wrapped as black wraps it: the constructor's arguments on a line of their own when they
        fit, else one per line with a trailing comma, and `) as name:` on the last line. The
        expression wrapper (`codemods.wrapping`) handles simple statements only."""
        limit = line_length(self.context)
        call = updated.items[0].item
        if limit is None or not isinstance(call, cst.Call) or not call.args:
            return updated
        column = self.get_metadata(PositionProvider, original).start.column
        probe = updated.with_changes(leading_lines=(), body=cst.SimpleStatementSuite(body=[cst.Pass()]))
        header = cst.Module(body=[]).code_for_node(probe).rstrip("\n")
        if "\n" in header:
            return self._explode_hugged(updated, call, column, limit)
        if not header.endswith(": pass") or column + len(header) - len(" pass") <= limit:
            return updated
        step = " " * 4
        inner = " " * column + step
        bare = [
            arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=_NO_SPACE)
            for arg in call.args
        ]
        flat = ", ".join(cst.Module(body=[]).code_for_node(arg) for arg in bare)

        def newline(indent: str) -> cst.ParenthesizedWhitespace:
            return cst.ParenthesizedWhitespace(
                first_line=cst.TrailingWhitespace(), indent=False, last_line=cst.SimpleWhitespace(indent)
            )

        closing = newline(" " * column)
        if len(inner) + len(flat) <= limit:
            spaced = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            args = [arg.with_changes(comma=spaced) for arg in bare[:-1]]
            args.append(bare[-1].with_changes(whitespace_after_arg=closing))
        else:
            args = [arg.with_changes(comma=cst.Comma(whitespace_after=newline(inner))) for arg in bare[:-1]]
            args.append(bare[-1].with_changes(comma=cst.Comma(whitespace_after=closing)))
        wrapped = call.with_changes(whitespace_before_args=newline(inner), args=args)
        return updated.with_changes(items=[updated.items[0].with_changes(item=wrapped)])

    def _explode_hugged(self, updated: cst.With, call: cst.Call, column: int, limit: int) -> cst.With:
        """A constructor already laid out as black lays out arguments that fit on one line
        (`X(` / the arguments / `) as name:`) whose arguments line the added ones made too long:
        one argument per line with a trailing comma, as black then lays it out. Any other layout
        is the project's own and stays."""
        opening = call.whitespace_before_args
        last = call.args[-1]
        closing = last.whitespace_after_arg
        if not (
            isinstance(opening, cst.ParenthesizedWhitespace)
            and isinstance(closing, cst.ParenthesizedWhitespace)
            and last.comma == cst.MaybeSentinel.DEFAULT
            and all(
                isinstance(arg.comma, cst.Comma)
                and not isinstance(arg.comma.whitespace_after, cst.ParenthesizedWhitespace)
                for arg in call.args[:-1]
            )
        ):
            return updated
        bare = [
            arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=_NO_SPACE)
            for arg in call.args
        ]
        flat = ", ".join(cst.Module(body=[]).code_for_node(arg) for arg in bare)
        if "\n" in flat:
            return updated
        indent = len(opening.last_line.value) + (column if opening.indent else 0)
        if indent + len(flat) <= limit:
            return updated
        args = [arg.with_changes(comma=cst.Comma(whitespace_after=_bare(opening))) for arg in bare[:-1]]
        args.append(bare[-1].with_changes(comma=cst.Comma(whitespace_after=closing)))
        wrapped = call.with_changes(args=args)
        return updated.with_changes(items=[updated.items[0].with_changes(item=wrapped)])

    def _one_shot(self, original: cst.Call, call: cst.Call, plan: FixPlan) -> cst.BaseExpression:
        assert plan.method is not None
        keyed = [a for a in call.args if a.keyword is not None and a.keyword.value in plan.keyed_options]
        rest = [a for a in call.args if not (a.keyword is not None and a.keyword.value in plan.keyed_options)]
        self._need_accessor(plan.accessor)
        self._pending_comments.extend(_arg_comments(keyed))
        accessor = cst.Call(func=cst.Name(plan.accessor), args=_clean_args(keyed))
        if rest and rest[-1] is not call.args[-1]:
            # The old last argument went to the accessor: the new last one takes over its comma, so a
            # trailing-comma layout (one argument per line, `)` on its own line) stays as it was, and
            # keeps the comment its own comma carried.
            closing = call.args[-1].comma
            own = rest[-1].comma
            if (
                isinstance(closing, cst.Comma)
                and isinstance(own, cst.Comma)
                and isinstance(closing.whitespace_after, cst.ParenthesizedWhitespace)
                and isinstance(own.whitespace_after, cst.ParenthesizedWhitespace)
            ):
                closing = closing.with_changes(
                    whitespace_after=closing.whitespace_after.with_changes(
                        first_line=own.whitespace_after.first_line,
                        empty_lines=own.whitespace_after.empty_lines,
                    )
                )
            elif isinstance(own, cst.Comma):
                self._pending_comments.extend(cst.EmptyLine(comment=c) for c in _comment_nodes(own))
            rest = [*rest[:-1], rest[-1].with_changes(comma=closing)]
        new_call = call.with_changes(
            func=cst.Attribute(value=accessor, attr=cst.Name(plan.method)), args=rest
        )
        if not plan.await_result:
            return new_call
        parent = self._parent(original)
        awaited = cst.Await(expression=new_call)
        if isinstance(
            parent, cst.Attribute | cst.Subscript | cst.Call | cst.BinaryOperation | cst.UnaryOperation
        ):
            return awaited.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return awaited

    def _need_accessor(self, accessor: str) -> None:
        if accessor not in self._used_accessors:
            self._used_accessors.add(accessor)
            add_import(self.context, self.accessor_module, accessor)

    # -- `with` ------------------------------------------------------------------------------
    def leave_With(
        self, original_node: cst.With, updated_node: cst.With
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        borrowing = self._ctor_calls.get(id(original_node.items[0].item))
        if len(original_node.items) == 1 and borrowing is not None and borrowing[1].kind == "borrow":
            return self._wrap_borrowing(original_node, updated_node)
        for index, item in enumerate(original_node.items):
            target = self._ctor_calls.get(id(item.item))
            if target is None or target[1].kind != "with":
                continue
            position, plan = target
            assert plan.variable is not None
            mapping = self._functions[-1]
            if plan.variable in mapping and mapping[plan.variable].plan is plan:
                del mapping[plan.variable]  # the block ends: later uses of the name are another client
            new_item = updated_node.items[index]
            assert isinstance(new_item.item, cst.Call)
            accessor = self._accessor_call(new_item.item, plan)
            comments = _call_comments(new_item.item, self._kept_values(new_item.item, plan))
            assign = cst.SimpleStatementLine(
                body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(plan.variable))], value=accessor)],
                leading_lines=[*updated_node.leading_lines, *comments],
            )
            self.applied.add(position)
            remaining = [it for i, it in enumerate(updated_node.items) if i != index]
            if remaining:
                remaining[-1] = remaining[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                kept = updated_node.with_changes(items=remaining, leading_lines=())
                self._splices[id(kept)] = ([assign, kept], ())
                return kept
            body = updated_node.body
            if not isinstance(body, cst.IndentedBlock):
                # `with X() as c: stmt` on one line: its small statements become one line.
                line = cst.SimpleStatementLine(body=cast(Sequence[cst.BaseSmallStatement], body.body))
                statements: list[cst.BaseStatement] = [
                    assign.with_changes(trailing_whitespace=cst.TrailingWhitespace()),
                    line,
                ]
                self._splices[id(updated_node)] = (statements, ())
                return updated_node
            header = body.header
            if header.comment is not None:
                assign = assign.with_changes(trailing_whitespace=header)
            self._splices[id(updated_node)] = ([assign, *body.body], body.footer)
            return updated_node
        return updated_node

    # -- local clients: closes and try/finally -------------------------------------------------
    def _is_close(self, statement: cst.BaseStatement) -> bool:
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            return False
        expr = statement.body[0]
        if not isinstance(expr, cst.Expr):
            return False
        value = expr.value
        if isinstance(value, cst.Await):
            value = value.expression
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)):
            return False
        receiver = value.func.value
        if not isinstance(receiver, cst.Name) or value.args:
            return False
        client = self._functions[-1].get(receiver.value)
        if client is None or client.plan.kind != "local":
            return False
        ctor = next(c for c in client.library.constructors if c.accessor == client.plan.accessor)
        return value.func.attr.value in ctor.close_methods

    def leave_Try(
        self, original_node: cst.Try, updated_node: cst.Try
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        final = updated_node.finalbody
        if final is None or not isinstance(final.body, cst.IndentedBlock):
            return updated_node
        if not any(self._is_close(s) for s in final.body.body):
            return updated_node
        kept, orphans = self._drop_closes(final.body.body)
        if kept:
            block = final.body.with_changes(body=kept, footer=[*orphans, *final.body.footer])
            return updated_node.with_changes(finalbody=final.with_changes(body=block))
        # The `finally:` goes; its comments stay, after what now ends the statement.
        leftover = comment_lines([*final.leading_lines, *orphans, *final.body.footer])
        if updated_node.handlers:
            kept_try = updated_node.with_changes(finalbody=None)
            self._splices[id(kept_try)] = ([kept_try], leftover)
            return kept_try
        body = updated_node.body
        if not isinstance(body, cst.IndentedBlock) or not body.body:
            return updated_node.with_changes(finalbody=None)
        first = body.body[0].with_changes(
            leading_lines=[*updated_node.leading_lines, *leading_lines(body.body[0])]
        )
        self._splices[id(updated_node)] = ([first, *body.body[1:]], [*body.footer, *leftover])
        return updated_node

    def _drop_closes(
        self, statements: Sequence[cst.BaseStatement]
    ) -> tuple[list[cst.BaseStatement], list[cst.EmptyLine]]:
        """Statements without the removed closes; comments above a close move to the next statement
        (or come back as trailing lines when the close was last)."""
        kept: list[cst.BaseStatement] = []
        carry: list[cst.EmptyLine] = []
        for statement in statements:
            if self._is_close(statement):
                carry.extend(comment_lines(leading_lines(statement)))
                continue
            if carry:
                statement = statement.with_changes(leading_lines=[*carry, *leading_lines(statement)])
                carry = []
            kept.append(statement)
        return kept, carry

    # -- splicing into the parent block ---------------------------------------------------------
    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.BaseSuite:
        body, footer = self._splice_body(updated_node.body, updated_node.footer)
        if not body:
            body = [cst.SimpleStatementLine(body=[cst.Pass()])]
        return updated_node.with_changes(body=body, footer=footer)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body, footer = self._splice_body(updated_node.body, updated_node.footer)
        return updated_node.with_changes(body=body, footer=footer)

    def _splice_body(
        self, statements: Sequence[cst.BaseStatement], footer: Sequence[cst.EmptyLine]
    ) -> tuple[list[cst.BaseStatement], list[cst.EmptyLine]]:
        out: list[cst.BaseStatement] = []
        carry: list[cst.EmptyLine] = []
        for statement in statements:
            replacement = self._splices.pop(id(statement), None)
            new_statements, lines = replacement if replacement else ([statement], ())
            for index, new in enumerate(new_statements):
                if carry and index == 0:
                    new = new.with_changes(leading_lines=[*carry, *leading_lines(new)])
                    carry = []
                out.append(new)
            carry.extend(lines)
        return out, [*carry, *footer]


def _bare(whitespace: cst.BaseParenthesizableWhitespace) -> cst.BaseParenthesizableWhitespace:
    """The same line break and indentation, without the comment or blank lines it carried."""
    if isinstance(whitespace, cst.ParenthesizedWhitespace):
        return whitespace.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=())
    return whitespace


def _named_args(call: cst.Call, plan: FixPlan) -> list[cst.Arg]:
    """The constructor's arguments, positional ones given the keyword they stand for."""
    ctor = next(c for c in _library(plan.library).constructors if c.accessor == plan.accessor)
    named: list[cst.Arg] = []
    position = 0
    for arg in call.args:
        if arg.keyword is not None:
            named.append(arg)
        elif not arg.star and position < len(ctor.positional):
            named.append(
                arg.with_changes(
                    keyword=cst.Name(ctor.positional[position]),
                    equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
                    ),
                )
            )
            position += 1
    return named


_NO_SPACE = cst.SimpleWhitespace("")


def _clean_args(args: Sequence[cst.Arg]) -> list[cst.Arg]:
    """Arguments reused in a new call: commas between them, none after the last."""
    cleaned = []
    for index, arg in enumerate(args):
        last = index == len(args) - 1
        # Fresh commas and no trailing whitespace: the layout (and comments, which the caller keeps
        # elsewhere) belonged to the call the arguments came from.
        comma = cst.MaybeSentinel.DEFAULT if last else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        cleaned.append(arg.with_changes(comma=comma, whitespace_after_arg=_NO_SPACE))
    return cleaned


def merge_dicts(first: cst.Dict, second: cst.Dict) -> tuple[cst.Dict, list[cst.EmptyLine]]:
    """`second` with the elements of `first` in front of its own, in `second`'s layout (one per
    line when `second` is written so); comments between `first`'s elements (not those inside a key
    or value, which travel with it) come back as lines to put above the statement."""
    inner = {id(c) for el in first.elements for c in _element_comments(el)}
    comments = [cst.EmptyLine(comment=c) for c in _comment_nodes(first) if id(c) not in inner]
    if not second.elements:
        elements = [
            el.with_changes(comma=cst.MaybeSentinel.DEFAULT if index == len(first.elements) - 1 else _SPACED)
            for index, el in enumerate(first.elements)
        ]
        return second.with_changes(elements=elements), comments
    opening = second.lbrace.whitespace_after
    multiline = isinstance(opening, cst.ParenthesizedWhitespace)
    separator = cst.Comma(whitespace_after=_bare(opening)) if multiline else _SPACED
    elements = [el.with_changes(comma=separator) for el in first.elements]
    return second.with_changes(elements=[*elements, *second.elements]), comments


_SPACED = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _element_comments(element: cst.BaseDictElement) -> list[cst.Comment]:
    if isinstance(element, cst.DictElement):
        return [*_comment_nodes(element.key), *_comment_nodes(element.value)]
    if isinstance(element, cst.StarredDictElement):
        return _comment_nodes(element.value)
    return []


def append_args(call: cst.Call, extra: Sequence[cst.Arg]) -> list[cst.Arg]:
    """Add keyword arguments at the end of a call, in the call's own comma style."""
    args = list(call.args)
    # A moved argument that was last in the constructor carries the line break before its `)`.
    extra = [arg.with_changes(whitespace_after_arg=_NO_SPACE) for arg in extra]
    if not args:
        return _clean_args(extra)
    last = args[-1]
    if isinstance(last.comma, cst.Comma):
        # Trailing-comma style (one argument per line): new arguments go on lines of their own,
        # indented like the first argument; the last comma keeps the line break before `)`.
        closing = last.comma
        inner = cst.Comma(
            whitespace_before=closing.whitespace_before, whitespace_after=_bare(call.whitespace_before_args)
        )
        new = [*args[:-1], last.with_changes(comma=inner)]
        for index, arg in enumerate(extra):
            new.append(arg.with_changes(comma=closing if index == len(extra) - 1 else inner))
        return new
    separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    closing_space = last.whitespace_after_arg  # e.g. the line break before `)`: stays before `)`
    new = [*args[:-1], last.with_changes(comma=separator, whitespace_after_arg=_NO_SPACE)]
    for index, arg in enumerate(extra):
        final = index == len(extra) - 1
        if final:
            new.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=closing_space))
        else:
            new.append(arg.with_changes(comma=separator))
    return new


def rewrite_module(
    module: cst.Module,
    plans: Mapping[Position, FixPlan],
    accessor_module: str,
    context: ImportContext,
    top: TopLevel | None = None,
    *,
    partial: bool = False,
) -> tuple[cst.Module, set[Position]]:
    """Apply `plans` to `module`; returns the new module and the positions actually rewritten.

    Import additions and removals are scheduled on `context`; `apply_import_changes` (or a
    CodemodCommand around this) carries them out.

    With `top` (`read_top_level` of the module's source), only the top-level statements that hold
    a planned site are walked, each with positions computed for it alone (`statement_positions`):
    libcst's PositionProvider over a whole 2,000-line module costs more than the rewrite. Without
    it, or when that does not find every site, the whole module gets positions, and functions
    without a planned site are still not walked (`SharedClientTransformer`'s `skip_unplanned`);
    if a site is then missing, the whole module is walked again, as before. `partial`: the module
    is partly parsed (`toplevel.parse_partly`), and what needs more than the statements holding
    sites raises `NeedsWholeModule` instead.
    """
    saved = scheduled_additions(context)
    new_module: cst.Module | None = None
    if top is not None:
        new_module, applied = _rewrite_statements(module, plans, accessor_module, context, top)
        if new_module is None:
            restore_additions(context, saved)
    if new_module is None:
        if partial:
            raise NeedsWholeModule
        wrapper = cst.MetadataWrapper(module, unsafe_skip_copy=True)
        transformer = SharedClientTransformer(context, plans, accessor_module, skip_unplanned=True)
        new_module = wrapper.visit(transformer)
        if transformer.applied != set(plans):
            restore_additions(context, saved)
            transformer = SharedClientTransformer(context, plans, accessor_module)
            new_module = wrapper.visit(transformer)
        applied = transformer.applied
        top = None
    limit = line_length(context)
    if limit is not None and applied:
        new_module = _wrap_rewritten(module, new_module, plans, applied, limit, top)
    if applied:
        families = {plans[p].library for p in applied}
        importing = (
            module.with_changes(body=[s for s, i in zip(new_module.body, top.has_import, strict=True) if i])
            if top is not None
            else new_module
        )
        remove_unused_library_imports(context, importing, families)
    return new_module, applied


def _wrap_rewritten(
    module: cst.Module,
    new_module: cst.Module,
    plans: Mapping[Position, FixPlan],
    applied: set[Position],
    limit: int,
    top: TopLevel | None,
) -> cst.Module:
    """`new_module` with the lines the rewrite made too long wrapped (`codemods.wrapping`), in the
    top-level statements that hold a rewritten site (all of them when `top` is not known)."""
    if top is not None:
        indices = top.holding([position[0] for position in applied]) or []
        original = top.source
    else:
        indices = list(range(len(new_module.body)))
        original = module.code
    body: list[cst.BaseStatement] = list(new_module.body)
    lines = original_lines(original)
    for index in indices:
        body[index] = wrap_long_lines(body[index], new_module, limit, lines)
    return new_module.with_changes(body=body)


def _rewrite_statements(
    module: cst.Module,
    plans: Mapping[Position, FixPlan],
    accessor_module: str,
    context: ImportContext,
    top: TopLevel,
) -> tuple[cst.Module | None, set[Position]]:
    """The rewrite walking only the top-level statements that hold a planned site; (None, ...) when
    that cannot be done exactly (the caller then walks the whole module)."""
    if len(top) != len(module.body):
        return None, set()
    holding = top.holding([position[0] for position in plans])
    if holding is None:
        return None, set()
    transformer = SharedClientTransformer(context, plans, accessor_module, skip_unplanned=True)
    lines = [position[0] for position in plans]
    body: list[cst.BaseStatement] = list(module.body)
    for index in holding:
        statement = body[index]
        methods = _planned_methods(statement, top.members[index] if top.members else None, lines)
        if methods is not None:  # a class: only the methods that hold a site, each on its own
            assert isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock)
            block = statement.body
            indent = block.indent if block.indent is not None else module.default_indent
            inner: list[cst.BaseStatement] = list(block.body)
            for member, first in methods:
                new = _rewrite_one(module, inner[member], first, indent, transformer)
                if new is None:
                    return None, set()
                inner[member] = new
            body[index] = statement.with_changes(body=block.with_changes(body=inner))
            continue
        new = _rewrite_one(module, statement, top.first_lines[index], "", transformer)
        if new is None:
            return None, set()
        body[index] = new
    if transformer.applied != set(plans):
        return None, set()
    return module.with_changes(body=body), transformer.applied


def _planned_methods(
    statement: cst.BaseStatement, members: Sequence[tuple[int, int]] | None, lines: Sequence[int]
) -> list[tuple[int, int]] | None:
    """For a class whose planned sites all stand in its methods: (index, first line) of each such
    method; None otherwise (the statement is then walked whole)."""
    if members is None or not isinstance(statement, cst.ClassDef):
        return None
    block = statement.body
    if not isinstance(block, cst.IndentedBlock) or len(block.body) != len(members):
        return None
    start, end = members[0][0], members[-1][1]
    inside = [line for line in lines if start <= line <= end]
    chosen: dict[int, int] = {}
    for line in inside:
        found = next((i for i, (a, b) in enumerate(members) if a <= line <= b), None)
        if found is None or not isinstance(block.body[found], cst.FunctionDef):
            return None
        chosen[found] = members[found][0]
    if not chosen:
        return None
    return sorted(chosen.items())


def _rewrite_one(
    module: cst.Module,
    statement: cst.BaseStatement,
    first_line: int,
    indent: str,
    transformer: SharedClientTransformer,
) -> cst.BaseStatement | None:
    """`statement` rewritten alone (with positions for it alone); None when that is not exact."""
    positions = statement_positions(module, statement, first_line, indent)
    if positions is None:
        return None
    alone = module.with_changes(body=[statement], header=(), footer=())
    transformer.metadata = {PositionProvider: positions}
    try:
        result = alone.visit(transformer)
    finally:
        transformer.metadata = {}
    if len(result.body) != 1 or result.footer:
        return None  # the statement was split or left lines behind: not one for one
    return result.body[0]

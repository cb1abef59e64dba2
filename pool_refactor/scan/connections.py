"""Whether a client opened in a function is held for the life of one long-lived connection.

Such a client is connection-scoped (POOL002), not per request: sharing it would save one client
per connection, not a handshake per request, and `--fix` cannot rewrite it anyway. Two shapes,
both read from the code that uses the client (the `with` block, or the function of a local client
that is closed there):

- **a websocket** opened on the client: a method of the catalog's `websocket_methods` called on it
  (aiohttp `session.ws_connect(url)`), or a `websocket_functions` function given it (httpx-ws
  `aconnect_ws(url, client)`). A websocket takes its connection out of the pool for good, so
  there is nothing to reuse whatever the websocket is used for.
- **a stream read in an endless loop** inside the client's block: a `while True:` that no `break`
  or `return` of its own ends, holding `with client.stream(...) as r:` (any request method used
  as a context manager, or an `event_stream_functions` function such as httpx-sse's
  `aconnect_sse(client, ...)`) whose body iterates over `r` (`async for line in r.aiter_lines()`).
  The client then lives as long as that subscription and its reconnections.

Deliberately conservative: a stream read once (a download, an LLM completion streamed back) is a
request like any other, and so is a stream opened by a client that an endless loop *around* the
block builds anew for every pass (a worker taking jobs from a queue looks the same as a
reconnecting subscriber); both stay per request.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from pool_refactor.scan.catalog import Library
from pool_refactor.scan.names import dotted_name


def connection_scope(region: Iterable[ast.AST], variable: str, library: Library) -> str | None:
    """What holds the client named `variable` for a connection's life, as a message fragment,
    or None. `region` is the code that runs while the client is open."""
    stream = ""
    for node in _walk(region):
        if isinstance(node, ast.Call):
            opened = _opens_websocket(node, variable, library)
            if opened:
                return f"held for the life of a websocket ({opened})"
        elif not stream and isinstance(node, ast.While) and _runs_until_stopped(node):
            stream = _reads_stream(node.body, variable, library)
    return f"held for a stream read in an endless loop ({stream})" if stream else None


def _opens_websocket(call: ast.Call, variable: str, library: Library) -> str:
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in library.websocket_methods
        and isinstance(func.value, ast.Name)
        and func.value.id == variable
    ):
        return f"`{variable}.{func.attr}`"
    callee = dotted_name(func) or ""
    if callee.rpartition(".")[2] in library.websocket_functions and _given(call, variable):
        return f"`{callee}`"
    return ""


def _reads_stream(body: list[ast.stmt], variable: str, library: Library) -> str:
    for node in _walk(body):
        if not isinstance(node, ast.With | ast.AsyncWith):
            continue
        for item in node.items:
            if not (isinstance(item.optional_vars, ast.Name) and isinstance(item.context_expr, ast.Call)):
                continue
            opened = _opens_stream(item.context_expr, variable, library)
            if opened and _iterates(node.body, item.optional_vars.id):
                return opened
    return ""


def _opens_stream(call: ast.Call, variable: str, library: Library) -> str:
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in library.request_methods
        and isinstance(func.value, ast.Name)
        and func.value.id == variable
    ):
        return f"`{variable}.{func.attr}`"
    callee = dotted_name(func) or ""
    if callee.rpartition(".")[2] in library.event_stream_functions and _given(call, variable):
        return f"`{callee}`"
    return ""


def _given(call: ast.Call, variable: str) -> bool:
    values = [*call.args, *(keyword.value for keyword in call.keywords)]
    return any(isinstance(value, ast.Name) and value.id == variable for value in values)


def _iterates(body: list[ast.stmt], name: str) -> bool:
    """Whether `body` loops over `name` or something read from it (`r.aiter_lines()`, `r.content`)."""
    for node in _walk(body):
        if isinstance(node, ast.For | ast.AsyncFor) and _root(node.iter) == name:
            return True
    return False


def _root(expr: ast.expr) -> str | None:
    while True:
        if isinstance(expr, ast.Call):
            expr = expr.func
        elif isinstance(expr, ast.Attribute | ast.Subscript):
            expr = expr.value
        elif isinstance(expr, ast.Await):
            expr = expr.value
        else:
            return expr.id if isinstance(expr, ast.Name) else None


def _runs_until_stopped(loop: ast.While) -> bool:
    """`while True:` (or another true constant) that no `break` or `return` of its own ends."""
    if not (isinstance(loop.test, ast.Constant) and loop.test.value):
        return False
    stack: list[tuple[ast.AST, bool]] = [(stmt, False) for stmt in loop.body]
    while stack:
        node, nested = stack.pop()
        if isinstance(node, ast.Return) or isinstance(node, ast.Break) and not nested:
            return False
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            # A `break` in an inner loop's body ends that loop; one in its `else:` ends ours.
            stack.extend((child, True) for child in node.body)
            stack.extend((child, nested) for child in node.orelse)
            continue
        stack.extend((child, nested) for child in ast.iter_child_nodes(node))
    return True


def _walk(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node under `nodes`, without entering nested functions and classes (other code)."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))

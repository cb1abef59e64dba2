"""Whether a client built in a function is a cache's one client, read from the function's own code.

A function that builds a client only when a persistent place holds none, and stores it there,
builds it once (per key): that is a persistent client, however often the function runs. The
shapes recognised, for a store `S` (a module global, `self.x`, a module-level dict `S[key]`, an
attribute of a module-level object such as a `threading.local()`):

- the construction sits under a test that is true when `S` holds nothing: `if S is None:`,
  `if not S:`, `if key not in S:`, `if not hasattr(obj, "x"):`, or the same on a local read from
  `S` (`client = S.get(key)`, `getattr(obj, "x", None)`, `self.__dict__.get("x")`, then
  `if client is None:`), also in `or`/`and` tests
  (`if client is None or client.is_closed:`) and in expressions (`S.get(k) or S.setdefault(k, X())`);
- or an earlier statement of an enclosing block returns what `S` holds when it holds a client
  (`if client is not None: return client`, also with the `return` under further tests), or a
  `try:` returns `S[key]` and catches `KeyError`.

The store must outlive the call: a dict made in the same function (`cache = {}`) is not one.
Nothing here follows other functions; a guard the function does not spell is not seen.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from pool_refactor.scan.names import dotted_name

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda

CACHE_WRAPPERS = frozenset({"cache", "lru_cache", "alru_cache", "cached"})
"""Decorator factories that memoise a function when called on it (`functools.cache(make)`)."""

_LOOKUP_ERRORS = frozenset({"KeyError", "LookupError", "AttributeError", "IndexError"})


def store_key(target: ast.expr) -> str | None:
    """The persistent place an assignment target writes into: `S` for `S[k]` and for
    `S.setdefault(a, {})[k]`, `self._client` for `self._client`, `_client` for a global."""
    node: ast.expr = target
    while True:
        if isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        else:
            break
    return dotted_name(node)


def is_persistent(key: str, function: FunctionNode) -> bool:
    """Whether the store `key` outlives a call of `function`: an attribute of `self`/`cls`, a
    global, a module-level or enclosing name, or a parameter's object; not a local made here."""
    root = key.split(".", 1)[0]
    if root in ("self", "cls") or isinstance(function, ast.Lambda):
        return True
    for node in _own_nodes(function):
        if isinstance(node, ast.Global | ast.Nonlocal) and root in node.names:
            return True
    for node in _own_nodes(function):
        if isinstance(node, ast.Name) and node.id == root and isinstance(node.ctx, ast.Store):
            return False
    return True


def is_cache_guarded(start: ast.AST, key: str, function: FunctionNode, parents: dict[int, ast.AST]) -> bool:
    """Whether `start` (a construction call or its statement) runs only when the store `key`
    holds no client, by a test or an early return of `function`'s own code."""
    reads = _Reads(key, function)
    node: ast.AST = start
    while node is not function:
        parent = parents.get(id(node))
        if parent is None:
            return False
        if isinstance(parent, ast.If):
            if _holds(parent.body, node) and reads.on_miss(parent.test):
                return True
            if _holds(parent.orelse, node) and reads.on_hit(parent.test):
                return True
        elif isinstance(parent, ast.IfExp):
            if node is parent.body and reads.on_miss(parent.test):
                return True
            if node is parent.orelse and reads.on_hit(parent.test):
                return True
        elif isinstance(parent, ast.BoolOp):
            earlier = parent.values[: _index(parent.values, node)]
            if isinstance(parent.op, ast.Or) and any(reads.on_hit(value) for value in earlier):
                return True
            if isinstance(parent.op, ast.And) and any(reads.on_miss(value) for value in earlier):
                return True
        if isinstance(node, ast.stmt):
            for sibling in _preceding(parent, node):
                if _returns_on_hit(sibling, reads):
                    return True
        node = parent
    return False


def is_cache_wrapper(call: ast.Call) -> bool:
    """`functools.cache(f)`, `lru_cache(maxsize=None)(f)`, `cached(cache)(f)`..."""
    func = call.func.func if isinstance(call.func, ast.Call) else call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in CACHE_WRAPPERS and bool(call.args)


def cache_wrapped_functions(tree: ast.Module) -> frozenset[str]:
    """Module-level functions memoised by a module-level call: `get = functools.cache(_make)`."""
    names = set()
    for statement in tree.body:
        value = statement.value if isinstance(statement, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Call) and is_cache_wrapper(value) and isinstance(value.args[0], ast.Name):
            names.add(value.args[0].id)
    return frozenset(names)


class _Reads:
    """Which expressions read the store: the store itself, a lookup in it, or a local read from it."""

    def __init__(self, key: str, function: FunctionNode) -> None:
        self.key = key
        self.derived: set[str] = set()
        bindings = [
            (target.id, value)
            for node in _own_nodes(function)
            for target, value in _simple_bindings(node)
            if isinstance(target, ast.Name)
        ]
        changed = True
        while changed:
            changed = False
            for name, value in bindings:
                if name not in self.derived and self(value):
                    self.derived.add(name)
                    changed = True

    def __call__(self, expr: ast.AST) -> bool:
        for node in ast.walk(expr):
            if isinstance(node, ast.Name) and (node.id == self.key or node.id in self.derived):
                return True
            if isinstance(node, ast.Attribute) and dotted_name(node) == self.key:
                return True
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2
                and _attribute_of(node.args[0], node.args[1]) == self.key
            ):
                return True
            if (  # `self.__dict__.get("_client")`, as `functools.cached_property` reads it
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "__dict__"
                and node.args
                and _attribute_of(node.func.value.value, node.args[0]) == self.key
            ):
                return True
        return False

    def on_miss(self, test: ast.expr) -> bool:
        """Whether `test` is true when the store holds no client."""
        if isinstance(test, ast.BoolOp):
            return any(self.on_miss(value) for value in test.values)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return self.on_hit(test.operand)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, left, right = test.ops[0], test.left, test.comparators[0]
            if isinstance(op, ast.Is | ast.Eq):
                return _is_none(right) and self(left) or _is_none(left) and self(right)
            return isinstance(op, ast.NotIn) and self(right)
        return False

    def on_hit(self, test: ast.expr) -> bool:
        """Whether `test` is true when the store holds a client."""
        if isinstance(test, ast.BoolOp):
            return any(self.on_hit(value) for value in test.values)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return self.on_miss(test.operand)
        if isinstance(test, ast.Compare):
            if len(test.ops) != 1:
                return False
            op, left, right = test.ops[0], test.left, test.comparators[0]
            if isinstance(op, ast.IsNot | ast.NotEq):
                return _is_none(right) and self(left) or _is_none(left) and self(right)
            return isinstance(op, ast.In) and self(right)
        return self(test)  # truthiness of a read: `if client:`, `if hasattr(self, "_c"):`


def _returns_on_hit(statement: ast.stmt, reads: _Reads) -> bool:
    """`if <hit>: ... return client` (the return may sit deeper, under more tests of the same
    store) or `try: return S[k]` / `except KeyError:`, before the construction."""
    if isinstance(statement, ast.If):
        return reads.on_hit(statement.test) and _returns_read(statement.body, reads)
    if isinstance(statement, ast.Try):
        return _returns_read(statement.body, reads) and any(_catches_lookup(h) for h in statement.handlers)
    return False


def _returns_read(body: list[ast.stmt], reads: _Reads) -> bool:
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return) and node.value is not None and reads(node.value):
            return True
        if not isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef | ast.expr
        ):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _catches_lookup(handler: ast.ExceptHandler) -> bool:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        (node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")) in _LOOKUP_ERRORS
        for node in types
        if node is not None
    )


def _simple_bindings(node: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield target, node.value
    elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
        yield node.target, node.value


def _own_nodes(function: FunctionNode) -> Iterator[ast.AST]:
    """The nodes of `function`'s body, without nested functions and classes (other scopes)."""
    stack: list[ast.AST] = [function.body] if isinstance(function, ast.Lambda) else list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _attribute_of(obj: ast.expr, name: ast.expr) -> str | None:
    """`obj.name` for `getattr(obj, "name")` and the like; None when the name is not a literal."""
    base = dotted_name(obj)
    if base is None or not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return None
    return f"{base}.{name.value}"


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _holds(nodes: list[ast.stmt], node: ast.AST) -> bool:
    return any(item is node for item in nodes)


def _index(nodes: list[ast.expr], node: ast.AST) -> int:
    for index, item in enumerate(nodes):
        if item is node:
            return index
    return 0


def _preceding(parent: ast.AST, node: ast.stmt) -> list[ast.stmt]:
    """The statements before `node` in the block of `parent` that holds it."""
    for _, value in ast.iter_fields(parent):
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is node:
                    return [s for s in value[:index] if isinstance(s, ast.stmt)]
    return []

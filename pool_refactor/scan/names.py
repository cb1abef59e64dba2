"""Import-alias resolution, done by hand on the stdlib `ast`.

libcst's QualifiedNameProvider costs about 600 ms on a 2,000-line module (DESIGN.md); the
scanner only needs to know which local names stand for catalogued modules and their members,
which a single pass over the import statements answers.

Each function has its own scope (a function-local `import httpx` does not leak out), and a name
that is also bound by anything other than an import in the same scope (`class Client:`,
`Client = make()`) is dropped, so a look-alike is never taken for the library. Assignments
inside `except ImportError:` handlers (`httpx = None`) are the optional-import idiom and do not
count as rebinding.

The table also remembers every class statement with bases that it walked (`classes`), so the
scanner can tell which classes of the module derive from a catalogued client; `widen` then keeps
the statements that spell those classes' names too, since a call `APIClient()` spells no import.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable

from pool_refactor.scan.relevance import Everything, Relevance

ScopeNode = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef

_SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
"""Comprehensions have a scope of their own: `[requests.get(u) for requests in xs]` is not the module."""


class ImportTable:
    """Maps local names to dotted targets (`hx` -> `httpx`, `AC` -> `httpx.AsyncClient`)."""

    def __init__(
        self,
        tree: ast.Module,
        modules: Iterable[str],
        text: str | None = None,
        bind: Callable[[str], bool] | None = None,
    ) -> None:
        self._modules = frozenset(modules)
        self._bind_only = bind
        """When given, an import of one of `modules` binds its name only if this accepts the dotted
        target (any other import shadows it): the project pass follows only what leads to an export."""
        self._tree = tree
        self._scopes: dict[int, dict[str, str]] = {}
        self._shadowed: dict[int, set[str]] = {}
        self._outer: dict[int, ast.AST] = {}
        self._words: frozenset[str] = frozenset()
        self.classes: list[tuple[ast.ClassDef, list[ast.AST]]] = []
        """Every class statement with bases that was walked, with its scope chain (innermost first)."""
        self.relevance: Relevance = Everything()
        """The statements that mention a name bound here; only they can hold a site."""
        if text is None:
            self._collect(tree, tree, in_import_guard=False)
            return
        # Every import of a catalogued module spells the module's name; every other binding or
        # use of a name those imports bind spells that name (pool_refactor.scan.relevance).
        self.relevance = Relevance(text, self._modules)
        if self.relevance.empty:
            return
        self._collect(tree, tree, in_import_guard=False)
        self._words = frozenset(name for scope in self._scopes.values() for name in scope)
        self._recollect(text, self._words)

    def _recollect(self, text: str, words: frozenset[str]) -> None:
        self._scopes.clear()
        self._shadowed.clear()
        self._outer.clear()
        self.classes.clear()
        self.relevance = Relevance(text, words)
        if not self.relevance.empty:
            self._collect(self._tree, self._tree, in_import_guard=False)

    def widen(self, text: str, words: Iterable[str]) -> None:
        """Also walk the statements that spell `words` (classes derived from a client), and
        collect again: those statements may shadow the new words, or define more such classes."""
        if isinstance(self.relevance, Everything):
            return  # every statement is walked already
        self._words = self._words | frozenset(words)
        self._recollect(text, self._words)

    def binds(self, name: str, scope: ast.AST) -> bool:
        """Whether `scope` binds `name` in any way (import, assignment, def, parameter...)."""
        return name in self._scopes.get(id(scope), {}) or name in self._shadowed.get(id(scope), set())

    def chain(self, scope: ast.AST) -> list[ast.AST]:
        """`scope` and the scopes around it, innermost first, ending with the module."""
        chain = [scope]
        while (outer := self._outer.get(id(chain[-1]))) is not None:
            chain.append(outer)
        return chain

    def _collect(self, node: ast.AST, scope: ast.AST, in_import_guard: bool) -> None:
        for child in ast.iter_child_nodes(node):
            self._collect_node(child, scope, in_import_guard)

    def _collect_node(self, child: ast.AST, scope: ast.AST, in_import_guard: bool) -> None:
        if isinstance(child, ast.stmt) and not self.relevance.covers(child):
            return
        if isinstance(child, COMPREHENSIONS):
            self._outer[id(child)] = scope
            for generator in child.generators:
                for sub in ast.walk(generator.target):
                    if isinstance(sub, ast.Name):
                        self._shadow(child, sub.id)
            self._collect(child, child, in_import_guard=False)
            return
        if isinstance(child, _SCOPE_TYPES):
            self._outer[id(child)] = scope
            name = getattr(child, "name", None)
            if name is not None:
                self._shadow(scope, name)
            if isinstance(child, ast.ClassDef) and child.bases:
                self.classes.append((child, self.chain(scope)))
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                arguments = child.args
                for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                    self._shadow(child, arg.arg)
                for extra in (arguments.vararg, arguments.kwarg):
                    if extra is not None:
                        self._shadow(child, extra.arg)
            # Decorators, defaults and bases belong to the enclosing scope.
            for outer in _outer_parts(child):
                self._collect_node(outer, scope, in_import_guard)
            for inner in _inner_parts(child):
                self._collect_node(inner, child, in_import_guard=False)
            return
        if isinstance(child, ast.Import):
            for alias in child.names:
                top = alias.name.split(".", 1)[0]
                local = alias.asname or top
                target = alias.name if alias.asname else top
                if top in self._modules and (self._bind_only is None or self._bind_only(target)):
                    self._bind(scope, local, target)
                else:
                    self._shadow(scope, local)
            return
        if isinstance(child, ast.ImportFrom):
            module = child.module or ""
            top = module.split(".", 1)[0]
            for alias in child.names:
                local = alias.asname or alias.name
                if alias.name == "*":
                    continue
                if child.level == 0 and top in self._modules:
                    target = f"{module}.{alias.name}"
                    if self._bind_only is None or self._bind_only(target):
                        self._bind(scope, local, target)
                        continue
                self._shadow(scope, local)
            return
        if isinstance(child, ast.Try | ast.TryStar):
            guard = any(_catches_import_error(h) for h in child.handlers)
            for stmt in child.body + child.orelse + child.finalbody:
                self._collect_node(stmt, scope, in_import_guard)
            for handler in child.handlers:
                if handler.name and not (guard and _catches_import_error(handler)):
                    self._shadow(scope, handler.name)
                self._collect(handler, scope, in_import_guard or guard)
            return
        if not in_import_guard:
            for name in _bound_names(child):
                self._shadow(scope, name)
        self._collect(child, scope, in_import_guard)

    def _bind(self, scope: ast.AST, local: str, target: str) -> None:
        self._scopes.setdefault(id(scope), {})[local] = target

    def _shadow(self, scope: ast.AST, local: str) -> None:
        self._shadowed.setdefault(id(scope), set()).add(local)

    def resolve_name(self, name: str, scopes: Iterable[ast.AST]) -> str | None:
        """The dotted target of `name` seen from the innermost of `scopes` (innermost first)."""
        for scope in scopes:
            if isinstance(scope, ast.ClassDef):
                continue  # class bodies are not visible from methods
            shadowed = self._shadowed.get(id(scope), set())
            bound = self._scopes.get(id(scope), {})
            if name in bound:
                return None if name in shadowed else bound[name]
            if name in shadowed:
                return None
        return None

    def resolve(self, expr: ast.expr, scopes: list[ast.AST]) -> str | None:
        """The dotted target of `hx.AsyncClient` / `AC` / `httpx.get`, if it is a catalogued one."""
        dotted = dotted_name(expr)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        base = self.resolve_name(head, scopes)
        if base is None:
            return None
        return f"{base}.{rest}" if rest else base

    @property
    def empty(self) -> bool:
        return not any(self._scopes.values())


def dotted_name(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of attributes on a name, None for anything else (`f().x`, `a[0].b`)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _outer_parts(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        parts: list[ast.AST] = [*node.decorator_list, node.args]
        if node.returns is not None:
            parts.append(node.returns)
        return parts
    if isinstance(node, ast.Lambda):
        return [node.args]
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases, *node.keywords]
    return []


def _inner_parts(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Lambda):
        return [node.body]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return list(node.body)
    return []


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names: list[ast.expr] = []
    if handler.type is None:
        return True
    if isinstance(handler.type, ast.Tuple):
        names = list(handler.type.elts)
    else:
        names = [handler.type]
    for name in names:
        ident = name.id if isinstance(name, ast.Name) else getattr(name, "attr", "")
        if ident in {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}:
            return True
    return False


def _bound_names(node: ast.AST) -> list[str]:
    """Names that a statement-level node binds in its own scope (other than by import)."""
    names: list[str] = []
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    elif isinstance(node, ast.For | ast.AsyncFor):
        targets = [node.target]
    elif isinstance(node, ast.withitem) and node.optional_vars is not None:
        targets = [node.optional_vars]
    elif isinstance(node, ast.NamedExpr):
        targets = [node.target]
    elif isinstance(node, ast.ExceptHandler) and node.name:
        names.append(node.name)
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.append(sub.id)
    return names

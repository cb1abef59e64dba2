"""Finds client construction sites in one module and says how long each client lives.

The scanner works on the stdlib `ast` (a tenth of libcst's parse time, positions included);
libcst is only used by the codemod, where formatting must survive. The scanner decides the
verdict of each site; for a per-request site it also says which shape of rewrite would apply
(`PlanRequest`), and the planner (`pool_refactor.plan`) decides whether that rewrite keeps
behaviour. `scan_module` gives both halves what they need while the tree is alive; findings come
out of `ScannedModule.finding`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from pool_refactor.scan import catalog
from pool_refactor.scan.caches import (
    cache_wrapped_functions,
    is_cache_guarded,
    is_cache_wrapper,
    is_persistent,
    store_key,
)
from pool_refactor.scan.catalog import Constructor, Library
from pool_refactor.scan.connections import connection_scope
from pool_refactor.scan.findings import Applicability, Export, Finding, FixPlan, Verdict
from pool_refactor.scan.names import COMPREHENSIONS, ImportTable
from pool_refactor.scan.rules import RULES_BY_CODE
from pool_refactor.scan.source import is_generated

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda

_INIT_NAMES = frozenset(
    {
        "__init__",
        "__post_init__",
        "__new__",
        "__aenter__",
        "__enter__",
        "__set_name__",
        "setUp",
        "asyncSetUp",
        "setUpClass",
        "setup",
        "startup",
        "on_startup",
        "start",
        "lifespan",
        "initialize",
        "initialise",
        "init",
        "connect",
        "open",
    }
)
_INIT_PREFIXES = ("setup_", "set_up", "_setup", "init_", "_init_", "initialize", "_initialize", "start_")
_CACHE_DECORATORS = frozenset({"cache", "lru_cache", "cached_property", "alru_cache", "cached", "fixture"})
_SUPPRESS = re.compile(
    r"#\s*(?:pool-refactor:\s*ignore(?:\[(?P<codes1>[A-Z0-9,\s]+)\])?|noqa:\s*(?P<codes2>[A-Z0-9]+(?:[,\s]+[A-Z0-9]+)*))",
    re.IGNORECASE,
)
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


@dataclass
class Site:
    """A call to a catalogued constructor or one-shot function, with where it stands."""

    call: ast.Call
    library: Library
    constructor: Constructor | None
    one_shot: str | None
    scopes: list[ast.AST]
    """Innermost first, ending with the module."""
    function: FunctionNode | None
    in_loop: bool
    qualname: str
    imports: ImportTable
    module: str
    """The module name as imported (`httpx2` for the fork), for messages."""
    subclass: Subclass | None = None
    """The module's own class derived from the catalogued constructor, when that is what is called."""
    hook: Hook | None = None
    """The module's own factory or wrapper class that builds the client, when that is what is called."""


@dataclass(frozen=True)
class Hook:
    """Code of the module that builds a new client on every call, one hop from where it is called:
    a factory (`def make_client(self): return httpx.AsyncClient()`, POOL301) or a wrapper class
    whose `__init__` stores one on `self` (`class RetryingHttpClient`). A call of it is classified
    as a construction of that client (per request, leak, ...), with the chain in the message."""

    kind: str
    """`factory` or `wrapper`."""
    name: str
    """The function, method or class name that is called."""
    qualname: str
    """Where the client is built: `Api.make_client`, `RetryingHttpClient.__init__`."""
    where: str
    """`path:line` of the client construction."""
    owner: str
    """For a factory method, the class that defines it (called as `self.name()`); else empty."""
    constructor: Constructor
    library: Library
    module: str
    with_uses: tuple[int, ...] = ()
    """Lines where the factory's result is entered with `with`/`async with` (filled after the walk)."""
    given: str = ""
    """For a wrapper built as `self._c = client or httpx.AsyncClient()`: the `__init__` parameter
    that, when a call passes it, means no client is built (the call is not a construction)."""
    given_index: int = -1
    """That parameter's position among a call's positional arguments; -1 for keyword-only."""

    @property
    def client(self) -> str:
        return f"`{self.module}.{self.constructor.name}`"


@dataclass(frozen=True)
class Subclass:
    """A class of the module that derives from a catalogued client class (`class Api(httpx.Client)`)."""

    name: str
    library: Library
    constructor: Constructor
    module: str
    through: str = ""
    """The module's own class it derives from when not directly (`class B(A)`, `A(httpx.Client)`)."""
    plain: bool = False
    """The class (and any class of the module it goes through) adds nothing: its body is only a
    docstring or `pass`, with no decorator or metaclass. Such a class is its base under another
    name, so its sites are rewritten like the base's."""
    line: int = 0
    """The line of its `class` statement."""
    where: str = ""
    """`path:line` of the class when it is defined in another module of the project (imported);
    such sites are reported, never rewritten (the fix edits one file at a time)."""
    imported_base: str = ""
    """For a class of this module derived, directly or not, from such an imported class (then
    `through` names the imported class): that class's `path:line`. Its sites are reported, never
    rewritten, for the same reason."""

    @property
    def base(self) -> str:
        return f"{self.module}.{self.constructor.name}"


Subclasses = dict[tuple[int, str], Subclass]
"""Keyed by (id of the scope that defines the class, class name)."""


def find_subclasses(imports: ImportTable, libraries: tuple[Library, ...]) -> Subclasses:
    """The classes among `imports.classes` that derive from a catalogued constructor, directly or
    through another such class of the module (in any order of definition)."""
    return _subclasses_until_settled(
        imports, lambda base, node, chain, found: _derived(base, node, chain, imports, libraries, found)
    )


Derive = Callable[[ast.expr, ast.ClassDef, list[ast.AST], Subclasses], "Subclass | None"]
"""What a class is given one of its bases (its node, its chain of scopes, the subclasses found so far)."""


def _subclasses_until_settled(imports: ImportTable, derive: Derive) -> Subclasses:
    """The classes of the module that `derive` makes subclasses from one of their bases, repeated
    until nothing new is found: a class may derive from one defined after it."""
    found: Subclasses = {}
    pending = list(imports.classes)
    progress = True
    while pending and progress:
        progress = False
        for entry in list(pending):
            node, chain = entry
            for base in node.bases:
                subclass = derive(base, node, chain, found)
                if subclass is not None:
                    found[(id(chain[0]), node.name)] = subclass
                    pending.remove(entry)
                    progress = True
                    break
    return found


def self_method_owner(func: ast.expr, scopes: list[ast.AST]) -> ast.ClassDef | None:
    """The class whose method `func` calls as `self.name()`: the call stands in a method of that
    class (`scopes` innermost first) and its receiver is the method's first parameter."""
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)) or len(scopes) < 2:
        return None
    method, owner = scopes[0], scopes[1]
    if not (isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef) and isinstance(owner, ast.ClassDef)):
        return None
    arguments = method.args.posonlyargs + method.args.args
    return owner if arguments and arguments[0].arg == func.value.id else None


def _derived(
    base: ast.expr,
    node: ast.ClassDef,
    chain: list[ast.AST],
    imports: ImportTable,
    libraries: tuple[Library, ...],
    found: Subclasses,
) -> Subclass | None:
    name = node.name
    plain = _adds_nothing(node)
    target = imports.resolve(base, chain)
    if target is not None:
        library, ctor, module = _constructor_of(target, libraries)
        if library is not None and ctor is not None:
            return Subclass(name, library, ctor, module, plain=plain, line=node.lineno)
        return None
    if isinstance(base, ast.Name):
        parent = resolve_subclass(base.id, chain, imports, found)
        if parent is not None:
            return Subclass(
                name,
                parent.library,
                parent.constructor,
                parent.module,
                parent.name,
                plain and parent.plain,
                node.lineno,
            )
    return None


def _adds_nothing(node: ast.ClassDef) -> bool:
    """A class with one base, no decorator, no keyword (metaclass) and a body of only a docstring
    and `pass`/`...`: instances behave exactly as the base's."""
    if node.decorator_list or node.keywords or len(node.bases) != 1:
        return False
    for statement in node.body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring or `...`
        return False
    return True


def resolve_subclass(
    name: str, scopes: list[ast.AST], imports: ImportTable, found: Subclasses
) -> Subclass | None:
    """The subclass that `name` stands for seen from `scopes` (innermost first), if any."""
    for scope in scopes:
        if isinstance(scope, ast.ClassDef):
            continue  # class bodies are not visible from methods (as in ImportTable.resolve_name)
        subclass = found.get((id(scope), name))
        if subclass is not None:
            return subclass
        if imports.binds(name, scope):
            return None
    return None


def _constructor_of(
    target: str, libraries: tuple[Library, ...]
) -> tuple[Library | None, Constructor | None, str]:
    module, _, member = target.rpartition(".")
    library = catalog.library_for_module(module) if module and "." not in module else None
    if library is None or library not in libraries:
        return None, None, module
    return library, library.constructor(member), module


class _Collector:
    """Walks the module once, keeping the scope chain and whether we are inside a loop."""

    def __init__(
        self,
        tree: ast.Module,
        imports: ImportTable,
        libraries: tuple[Library, ...],
        subclasses: Subclasses | None = None,
        hooks: dict[str, list[Hook]] | None = None,
        external: ExternalResolver | None = None,
    ) -> None:
        self.tree = tree
        self.external = external
        """For the project pass: what a call resolves to in another module of the project (a
        factory, a wrapper class or a client subclass); when given, only such calls are collected."""
        self.imports = imports
        self.libraries = libraries
        self.subclasses = subclasses or {}
        self.hooks = hooks or {}
        """Factories and wrapper classes by the name they are called by; when given, only their
        calls are collected (the constructor sites are known from the first walk)."""
        self.sites: list[Site] = []
        self.parents: dict[int, ast.AST] = {}

    def run(self) -> None:
        self._visit(self.tree, [self.tree], None, False, [])

    def _visit(
        self,
        node: ast.AST,
        scopes: list[ast.AST],
        function: FunctionNode | None,
        in_loop: bool,
        names: list[str],
    ) -> None:
        for field, value in ast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    loop = in_loop or _is_loop_part(node, field, child)
                    self._visit_child(child, node, scopes, function, loop, names)

    def _visit_child(
        self,
        child: ast.AST,
        parent: ast.AST,
        scopes: list[ast.AST],
        function: FunctionNode | None,
        in_loop: bool,
        names: list[str],
    ) -> None:
        if isinstance(child, ast.stmt) and not self.imports.relevance.covers(child):
            return  # spells no name bound to a catalogued import: no site, nothing to resolve
        self.parents[id(child)] = parent
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            for outer in [*child.decorator_list, child.args]:
                self._visit_child(outer, child, scopes, function, in_loop, names)
            inner = [child, *scopes]
            for stmt in child.body:
                self._visit_child(stmt, child, inner, child, False, [*names, child.name])
        elif isinstance(child, ast.Lambda):
            self._visit_child(child.args, child, scopes, function, in_loop, names)
            self._visit_child(child.body, child, [child, *scopes], child, False, [*names, "<lambda>"])
        elif isinstance(child, COMPREHENSIONS):
            self._visit(child, [child, *scopes], function, in_loop, names)
        elif isinstance(child, ast.ClassDef):
            for outer in [*child.decorator_list, *child.bases, *child.keywords]:
                self._visit_child(outer, child, scopes, function, in_loop, names)
            # A class body runs once where it stands: it is not a function of its own.
            for stmt in child.body:
                self._visit_child(stmt, child, [child, *scopes], function, in_loop, [*names, child.name])
        else:
            if isinstance(child, ast.Call):
                self._check_call(child, scopes, function, in_loop, names)
            self._visit(child, scopes, function, in_loop, names)

    def complete_parents(self) -> None:
        """Record the parent of every node in the functions that hold a site.

        The walk skipped statements that do not mention a client library's names, but the
        classifier follows a local client's variable (`client.aclose()`, `return client`)
        through the whole function, and needs the parents of what it finds there.
        """
        done: set[int] = set()
        for site in self.sites:
            if site.function is None or id(site.function) in done:
                continue
            done.add(id(site.function))
            stack: list[ast.AST] = [site.function]
            while stack:
                node = stack.pop()
                for child in ast.iter_child_nodes(node):
                    self.parents[id(child)] = node
                    stack.append(child)

    def _check_call(
        self,
        call: ast.Call,
        scopes: list[ast.AST],
        function: FunctionNode | None,
        in_loop: bool,
        names: list[str],
    ) -> None:
        if self.external is not None:
            found = self.external(call, scopes, self.imports)
            if found is None and self.subclasses and isinstance(call.func, ast.Name):
                found = resolve_subclass(call.func.id, scopes, self.imports, self.subclasses)
            if found is not None:
                qualname = ".".join(names) if names else "<module>"
                hook_found = found if isinstance(found, Hook) else None
                sub_found = found if isinstance(found, Subclass) else None
                self.sites.append(
                    Site(
                        call,
                        found.library,
                        found.constructor,
                        None,
                        scopes,
                        function,
                        in_loop,
                        qualname,
                        self.imports,
                        found.module,
                        sub_found,
                        hook_found,
                    )
                )
            return
        if self.hooks:
            hook = self._hook_called(call, scopes)
            if hook is not None:
                qualname = ".".join(names) if names else "<module>"
                self.sites.append(
                    Site(
                        call,
                        hook.library,
                        hook.constructor,
                        None,
                        scopes,
                        function,
                        in_loop,
                        qualname,
                        self.imports,
                        hook.module,
                        hook=hook,
                    )
                )
            return
        target = self.imports.resolve(call.func, scopes)
        if target is None:
            if self.subclasses and isinstance(call.func, ast.Name):
                sub = resolve_subclass(call.func.id, scopes, self.imports, self.subclasses)
                if sub is not None:
                    qualname = ".".join(names) if names else "<module>"
                    self.sites.append(
                        Site(
                            call,
                            sub.library,
                            sub.constructor,
                            None,
                            scopes,
                            function,
                            in_loop,
                            qualname,
                            self.imports,
                            sub.module,
                            sub,
                        )
                    )
            return
        library, ctor, module = _constructor_of(target, self.libraries)
        if library is None:
            return
        member = target.rpartition(".")[2]
        one_shot = member if member in library.one_shots else None
        if ctor is None and one_shot is None:
            return
        qualname = ".".join(names) if names else "<module>"
        self.sites.append(
            Site(call, library, ctor, one_shot, scopes, function, in_loop, qualname, self.imports, module)
        )

    def _hook_called(self, call: ast.Call, scopes: list[ast.AST]) -> Hook | None:
        """The hook `call` calls: `name()` for a module-level factory or wrapper class (not bound
        anywhere in between), `self.name()` for a factory method, in a method of its class or of a
        class of the module derived from it by name."""
        func = call.func
        if isinstance(func, ast.Name):
            hook = next((h for h in self.hooks.get(func.id, ()) if not h.owner), None)
            if hook is None or client_given(call, hook):
                return None
            for scope in scopes[:-1]:
                if not isinstance(scope, ast.ClassDef) and self.imports.binds(func.id, scope):
                    return None
            return hook
        owner = self_method_owner(func, scopes)
        if owner is None:
            return None
        assert isinstance(func, ast.Attribute)
        bases = {base.id for base in owner.bases if isinstance(base, ast.Name)}
        found = [
            h
            for h in self.hooks.get(func.attr, ())
            if h.owner and (h.owner == owner.name or h.owner in bases)
        ]
        # The class's own override first: it is what `self.name()` calls there.
        return next((h for h in found if h.owner == owner.name), found[0] if found else None)


ExternalResolver = Callable[[ast.Call, list[ast.AST], ImportTable], "Hook | Subclass | None"]
"""Given a call, its scopes (innermost first) and the module's import table: the hook or subclass of
another module of the project that it calls, or None."""


def client_given(call: ast.Call, hook: Hook) -> bool:
    """Whether a call of a wrapper that builds its client only when none is given may pass one
    (by keyword, by position, or through `*args`/`**kwargs`, which the scanner cannot see into):
    then it is not a construction, and is not reported."""
    if not hook.given:
        return False
    if any(keyword.arg is None or keyword.arg == hook.given for keyword in call.keywords):
        return True
    if any(isinstance(argument, ast.Starred) for argument in call.args):
        return True
    return 0 <= hook.given_index < len(call.args)


def _is_loop_part(parent: ast.AST, field: str, child: ast.AST) -> bool:
    """Whether `child`, reached through `parent.field`, runs once per iteration of a loop."""
    if isinstance(parent, ast.For | ast.AsyncFor):
        return field == "body"
    if isinstance(parent, ast.While):
        return field in ("body", "test")
    if isinstance(parent, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        return field in ("elt", "key", "value")
    if isinstance(parent, ast.comprehension):
        return field == "ifs"
    return False


# --------------------------------------------------------------------------------------------
# Classification


@dataclass(frozen=True)
class PlanRequest:
    """The rewrite shape a per-request site would take, with the nodes the planner checks."""

    kind: str
    """`with` (`with X() as c:`), `local` (`c = X()`, closed later or never), `chained` (`X().get()`,
    never closed; `parent` is the request call), `one_shot` (`httpx.get()`) or `factory` (the
    client a POOL301 factory returns, where every call of it seen closes what it gets)."""
    statement: ast.stmt | None = None
    item: ast.withitem | None = None
    variable: str = ""
    parent: ast.AST | None = None
    advice: str = ""
    """For `factory`: the reason shown when the factory cannot be rewritten."""


@dataclass(frozen=True)
class _Verdict:
    code: str
    verdict: Verdict
    message: str
    reason: str = ""
    request: PlanRequest | None = None


class _Classifier:
    def __init__(self, collector: _Collector) -> None:
        self.parents = collector.parents
        self.imports = collector.imports
        self.tree = collector.tree
        self._wrapped: frozenset[str] | None = None

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The node that holds `node` in the module (`parents` is keyed by id)."""
        return self.parents.get(id(node))

    def classify(self, site: Site) -> _Verdict:
        if site.one_shot is not None:
            return self._one_shot(site)
        return self._constructor(site)

    # one-shot functions -------------------------------------------------------------------
    def _one_shot(self, site: Site) -> _Verdict:
        name = f"{site.module}.{site.one_shot}"
        if site.one_shot in site.library.pooled_one_shots:
            return _Verdict("POOL001", Verdict.PERSISTENT, f"`{name}()` uses the library's module-level pool")
        if site.function is None and not site.in_loop:
            return _Verdict(
                "POOL001",
                Verdict.PERSISTENT,
                f"`{name}()` at module level runs once, at import",
            )
        ctor = next((c for c in site.library.constructors if c.is_async and c.borrow_accessor), None)
        if (
            site.library.one_shot_borrow
            and ctor is not None
            and _borrows_pool(ctor, site.call, site.library.one_shot_borrow)
        ):
            message = f"`{name}()` borrows the shared connection pool (`{ctor.borrow_accessor}()`)"
            return _Verdict("POOL001", Verdict.PERSISTENT, message)
        where = "in a loop: a new client for every iteration" if site.in_loop else "a new client per call"
        message = f"`{name}()` builds and closes a client for this one request ({where})"
        if isinstance(site.function, ast.AsyncFunctionDef) and site.library.one_shot_form == "call":
            message += "; it also blocks the event loop"
        request = PlanRequest("one_shot", parent=self.parent(site.call))
        return _Verdict("POOL103", Verdict.PER_REQUEST, message, request=request)

    # constructors -------------------------------------------------------------------------
    def _constructor(self, site: Site) -> _Verdict:
        assert site.constructor is not None
        call = site.call
        parent = self.parent(call)
        kind = _kind(site)
        function = site.function

        if _borrows_pool(site.constructor, call):
            accessor = site.constructor.borrow_accessor
            message = f"borrows the shared connection pool (`{accessor}()`)"
            return _Verdict("POOL001", Verdict.PERSISTENT, message)

        if isinstance(parent, ast.withitem) and parent.context_expr is call:
            statement = self.parent(parent)
            assert isinstance(statement, ast.With | ast.AsyncWith)
            if _contains_yield(statement.body) and function is not None and _is_scoped_generator(function):
                return _Verdict(
                    "POOL001", Verdict.PERSISTENT, "held open across `yield` (lifespan or fixture)"
                )
            if function is None and not site.in_loop:
                return _Verdict("POOL001", Verdict.PERSISTENT, "opened once at module level")
            if function is not None and isinstance(parent.optional_vars, ast.Name):
                index = next(i for i, item in enumerate(statement.items) if item is parent)
                region: list[ast.AST] = [it.context_expr for it in statement.items[index + 1 :]]
                connection = self._connection(site, region + list(statement.body), parent.optional_vars.id)
                if connection is not None:
                    return connection
            if function is not None and _is_entry_point(function, self.parents):
                return _Verdict(
                    "POOL302",
                    Verdict.UNCLEAR,
                    f"{kind} opened in `{site.qualname}`, an entry point that usually runs once",
                )
            where = "in a loop: a new client for every iteration" if site.in_loop else "a new client per call"
            message = f"{kind} opened and closed around one call ({where})"
            request = PlanRequest("with", statement=statement, item=parent)
            return self._per_request("POOL101", site, message, request)

        if isinstance(parent, ast.Assign | ast.AnnAssign) and parent.value is call:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if len(targets) == 1:
                return self._assigned(site, parent, targets[0])
            return _Verdict("POOL302", Verdict.UNCLEAR, f"{kind} assigned to several targets")

        if function is None:
            return _Verdict("POOL001", Verdict.PERSISTENT, _module_level_status(site))

        if isinstance(parent, ast.Return) or isinstance(function, ast.Lambda) and function.body is call:
            return self._factory(site, kind)

        if isinstance(parent, ast.keyword | ast.Call) and parent is not call:
            outer = parent if isinstance(parent, ast.Call) else self.parent(parent)
            callee = _callee_name(outer) if isinstance(outer, ast.Call) else "a call"
            if _is_init_like(function, self.imports):
                return _Verdict(
                    "POOL001", Verdict.PERSISTENT, f"handed to `{callee}` in `{site.qualname}` at set-up"
                )
            if isinstance(outer, ast.Call):
                registry = self._setdefault(site, outer, kind)
                if registry is not None:
                    return registry
            return _Verdict(
                "POOL302",
                Verdict.UNCLEAR,
                f"{kind} handed to `{callee}`, which decides how long it lives",
                reason=f"the client is handed to `{callee}`",
            )

        if isinstance(parent, ast.BoolOp):
            lazy = self._lazy_or(site, parent)
            if lazy is not None:
                return lazy
        fallback = fallback_of(call, self.parents)
        if fallback is not None and function is not None:
            statement, target, given = fallback
            if isinstance(target, ast.Attribute | ast.Subscript) and _is_parameter(function, given):
                if _is_init_like(function, self.imports):
                    name = getattr(function, "name", "<lambda>")
                    return _Verdict(
                        "POOL001",
                        Verdict.PERSISTENT,
                        f"stored on `{ast.unparse(target)}` in `{name}` when no `{given}` is given",
                    )
                return self._stored(site, target, statement)
        if isinstance(parent, ast.Expr):
            return _Verdict(
                "POOL201",
                Verdict.LEAK,
                f"{kind} created and dropped without being closed",
                reason="nothing is sent with the client, so there is nothing to move onto a shared one; "
                "delete the line",
            )
        if isinstance(parent, ast.Attribute) and parent.value is call:
            message = f"{kind} created for one use (`.{parent.attr}`) and never closed"
            outer = self.parent(parent)
            if isinstance(outer, ast.Call) and outer.func is parent:
                return self._leak(site, message, PlanRequest("chained", parent=outer))
            reason = _hook_reason(site.hook) if site.hook is not None else ""
            return _Verdict("POOL201", Verdict.LEAK, message, reason=reason)
        return _Verdict("POOL302", Verdict.UNCLEAR, f"{kind} used in an expression the scanner cannot follow")

    def _per_request(self, code: str, site: Site, message: str, request: PlanRequest) -> _Verdict:
        """A per-request verdict; a subclass of the module's own gets no plan, with the reason,
        unless it adds nothing to its base."""
        if site.hook is not None:
            return _Verdict(code, Verdict.PER_REQUEST, message, reason=_hook_reason(site.hook))
        if site.subclass is not None and (_imported(site.subclass) or not site.subclass.plain):
            return _Verdict(code, Verdict.PER_REQUEST, message, reason=_subclass_reason(site.subclass))
        return _Verdict(code, Verdict.PER_REQUEST, message, request=request)

    def _leak(self, site: Site, message: str, request: PlanRequest) -> _Verdict:
        """A leak that the shared client can replace: the same rewrite as a per-request site (the
        client was never closed, so there is no close to remove), planned the same way."""
        if site.hook is not None:
            return _Verdict("POOL201", Verdict.LEAK, message, reason=_hook_reason(site.hook))
        if site.subclass is not None and (_imported(site.subclass) or not site.subclass.plain):
            return _Verdict("POOL201", Verdict.LEAK, message, reason=_subclass_reason(site.subclass))
        return _Verdict("POOL201", Verdict.LEAK, message, request=request)

    def _connection(self, site: Site, region: list[ast.AST], variable: str) -> _Verdict | None:
        scope = connection_scope(region, variable, site.library)
        if scope is None:
            return None
        return _Verdict(
            "POOL002", Verdict.PERSISTENT, f"{_kind(site)} {scope}: connection-scoped, not per request"
        )

    def _assigned(self, site: Site, statement: ast.Assign | ast.AnnAssign, target: ast.expr) -> _Verdict:
        assert site.constructor is not None
        kind = _kind(site)
        function = site.function
        if function is None:
            return _Verdict("POOL001", Verdict.PERSISTENT, _module_level_status(site, target))
        if isinstance(target, ast.Name):
            if _declared_global(function, target.id):
                return self._stored(site, target, statement)
            if isinstance(function, ast.Lambda):
                return _Verdict("POOL302", Verdict.UNCLEAR, f"{kind} bound inside a lambda")
            return self._local(site, statement, target.id, kind)
        if isinstance(target, ast.Attribute | ast.Subscript):
            return self._stored(site, target, statement)
        return _Verdict("POOL302", Verdict.UNCLEAR, f"{kind} unpacked into `{ast.unparse(target)}`")

    def _stored(self, site: Site, target: ast.expr, statement: ast.stmt) -> _Verdict:
        function = site.function
        assert function is not None and site.constructor is not None
        target_text = ast.unparse(target)
        name = getattr(function, "name", "<lambda>")
        if _is_init_like(function, self.imports):
            return _Verdict("POOL001", Verdict.PERSISTENT, f"stored on `{target_text}` in `{name}`")
        if self._cached_into(target, statement, function):
            return _Verdict("POOL001", Verdict.PERSISTENT, f"created once, lazily, into `{target_text}`")
        return _Verdict(
            "POOL302",
            Verdict.UNCLEAR,
            f"{_kind(site)} stored on `{target_text}` in `{site.qualname}`, which may run more than once",
            reason=f"stored on `{target_text}`",
        )

    def _cached_into(self, target: ast.expr, start: ast.AST, function: FunctionNode) -> bool:
        """Whether `start` runs only when the persistent store that `target` writes into is empty."""
        key = store_key(target)
        return (
            key is not None
            and is_persistent(key, function)
            and is_cache_guarded(start, key, function, self.parents)
        )

    def _local(self, site: Site, statement: ast.stmt, variable: str, kind: str) -> _Verdict:
        function = site.function
        assert function is not None and site.constructor is not None
        uses = _classify_uses(function, variable, site.constructor, self.parents)
        if uses.stored is not None and self._cached_into(uses.stored, statement, function):
            # `client = S.get(k)`, `if client is None: client = X(); S[k] = client`, `return client`
            return _Verdict(
                "POOL001", Verdict.PERSISTENT, f"created once, lazily, into `{ast.unparse(uses.stored)}`"
            )
        if uses.returned:
            return self._factory(site, kind)
        if uses.stored is not None:
            return self._stored(site, uses.stored, statement)
        if uses.closed:
            connection = self._connection(site, list(_function_body(function)), variable)
            if connection is not None:
                return connection
            where = "in a loop: a new client for every iteration" if site.in_loop else "a new client per call"
            message = f"{kind} created and closed within `{site.qualname}` ({where})"
            request = PlanRequest("local", statement=statement, variable=variable)
            return self._per_request("POOL102", site, message, request)
        if uses.handed_to:
            return _Verdict(
                "POOL302",
                Verdict.UNCLEAR,
                f"{kind} handed to `{uses.handed_to}`, which decides how long it lives",
                reason=f"the client is handed to `{uses.handed_to}`",
            )
        where = " in a loop" if site.in_loop else ""
        message = f"{kind} created{where} in `{site.qualname}` and never closed on any path"
        return self._leak(site, message, PlanRequest("local", statement=statement, variable=variable))

    def _setdefault(self, site: Site, outer: ast.Call, kind: str) -> _Verdict | None:
        """`S.setdefault(key, X())` on a persistent store: the default is built on every call."""
        func = outer.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr == "setdefault"
            and len(outer.args) == 2
            and outer.args[1] is site.call
        ):
            return None
        function = site.function
        key = store_key(func.value)
        if function is None or key is None or not is_persistent(key, function):
            return None
        if is_cache_guarded(site.call, key, function, self.parents):
            entry = f"{ast.unparse(func.value)}[{ast.unparse(outer.args[0])}]"
            return _Verdict("POOL001", Verdict.PERSISTENT, f"created once, lazily, into `{entry}`")
        return _Verdict(
            "POOL201",
            Verdict.LEAK,
            f"{kind} built on every call of `{site.qualname}` and dropped unclosed whenever `{key}` already "
            "holds the key (`setdefault` evaluates its default first)",
            reason=f"build the client only when the key is missing (`if key not in {key}:`)",
        )

    def _lazy_or(self, site: Site, operation: ast.BoolOp) -> _Verdict | None:
        """`self._c = self._c or X()`: built only while the store is empty."""
        statement = self.parent(operation)
        function = site.function
        if not (
            function is not None
            and isinstance(statement, ast.Assign | ast.AnnAssign)
            and statement.value is operation
        ):
            return None
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        if len(targets) != 1:
            return None
        target = targets[0]
        if isinstance(target, ast.Name) and not _declared_global(function, target.id):
            return None
        if not isinstance(target, ast.Name | ast.Attribute | ast.Subscript):
            return None
        if self._cached_into(target, site.call, function):
            return _Verdict(
                "POOL001", Verdict.PERSISTENT, f"created once, lazily, into `{ast.unparse(target)}`"
            )
        return None

    def _factory(self, site: Site, kind: str) -> _Verdict:
        assert site.constructor is not None
        function = site.function
        if function is not None and self._is_cached(function):
            return _Verdict("POOL001", Verdict.PERSISTENT, f"returned by cached factory `{site.qualname}`")
        return _Verdict(
            "POOL301",
            Verdict.UNCLEAR,
            f"`{site.qualname}` returns a new {kind} on every call; each caller pays for a new pool",
            reason=_factory_reason(site.constructor.accessor, ()),
        )

    def _is_cached(self, function: FunctionNode) -> bool:
        """Decorated with a cache, or memoised where it stands: `functools.cache(lambda: X())`, or
        `get = functools.cache(_make)` at module level for a module-level `def _make`."""
        if _is_cached(function, self.imports):
            return True
        parent = self.parent(function)
        if isinstance(function, ast.Lambda):
            return isinstance(parent, ast.Call) and function in parent.args and is_cache_wrapper(parent)
        if not isinstance(parent, ast.Module):
            return False
        if self._wrapped is None:
            self._wrapped = cache_wrapped_functions(self.tree)
        return function.name in self._wrapped


def fallback_of(call: ast.Call, parents: dict[int, ast.AST]) -> tuple[ast.stmt, ast.expr, str] | None:
    """`target = given or X()`, `target = given if given is not None else X()` (or the reverse
    conditional): a client built only when the parameter `given` holds none. The statement, its
    single target and the name of `given`."""
    parent = parents.get(id(call))
    given: str | None = None
    if isinstance(parent, ast.BoolOp) and isinstance(parent.op, ast.Or) and len(parent.values) == 2:
        first = parent.values[0]
        if parent.values[1] is call and isinstance(first, ast.Name):
            given = first.id
    elif isinstance(parent, ast.IfExp):
        given = _conditional_given(parent, call)
    if given is None or parent is None:
        return None
    statement = parents.get(id(parent))
    if isinstance(statement, ast.Assign) and statement.value is parent and len(statement.targets) == 1:
        return statement, statement.targets[0], given
    if isinstance(statement, ast.AnnAssign) and statement.value is parent:
        return statement, statement.target, given
    return None


def _conditional_given(expression: ast.IfExp, call: ast.Call) -> str | None:
    """`p if p is not None else X()`, `p if p else X()`, `X() if p is None else p`, `X() if not p
    else p`: the name `p`, when the client is built exactly when `p` holds none."""
    test = expression.test
    if expression.orelse is call and isinstance(expression.body, ast.Name):
        name = expression.body.id
        if isinstance(test, ast.Name) and test.id == name:
            return name
        if _compares_none(test, name, ast.IsNot):
            return name
    if expression.body is call and isinstance(expression.orelse, ast.Name):
        name = expression.orelse.id
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            operand = test.operand
            return name if isinstance(operand, ast.Name) and operand.id == name else None
        if _compares_none(test, name, ast.Is):
            return name
    return None


def _compares_none(test: ast.expr, name: str, operator: type[ast.cmpop]) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == name
        and len(test.ops) == 1
        and isinstance(test.ops[0], operator)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    )


def _is_parameter(function: FunctionNode, name: str) -> bool:
    arguments = function.args
    return any(arg.arg == name for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs])


def _borrows_pool(ctor: Constructor, call: ast.Call, names: tuple[str, ...] | None = None) -> bool:
    """Whether the constructor (or, with `names`, a one-shot given those of its borrowing
    arguments) is given the shared pool as `--fix` writes it (`connector=get_aiohttp_connector(),
    connector_owner=False`): only its connections are shared, and they are pooled."""
    if ctor.borrow_accessor is None or not ctor.borrow_arguments:
        return False  # (a borrowed requests session is the accessor's call: no site at all)
    given = {kw.arg: kw.value for kw in call.keywords if kw.arg is not None}
    for name, text in ctor.borrow_arguments:
        if names is not None and name not in names:
            continue
        value = given.get(name)
        if value is None:
            return False
        if isinstance(value, ast.Call):
            func = value.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            # Keywords key the pool (`get_http_transport(verify=False)`).
            if called != ctor.borrow_accessor or value.args:
                return False
        elif ast.unparse(value) != text:
            return False
    return True


def _kind(site: Site) -> str:
    """How messages name the client: `` `httpx.Client` ``, or for a class of the module derived from
    it, `` `APIClient` (an `httpx.Client`) ``."""
    assert site.constructor is not None
    name = f"`{site.module}.{site.constructor.name}`"
    hook = site.hook
    if hook is not None:
        called = _short_call(site.call)
        if hook.kind == "wrapper":
            return f"`{called}` (it builds {hook.client} at {hook.where}, in `{hook.qualname}`)"
        return f"`{called}` (a new {hook.client} from the factory `{hook.qualname}` at {hook.where})"
    if site.subclass is None:
        return name
    article = "an" if site.module[:1] in "aeioh" else "a"  # an httpx..., an aiohttp..., a requests...
    sub = site.subclass
    where = f", defined at {sub.where}" if sub.where else ""
    if sub.imported_base:
        where = f", through `{sub.through}` defined at {sub.imported_base}"
    return f"`{sub.name}` ({article} {name}{where})"


def _short_call(call: ast.Call) -> str:
    text = ast.unparse(call.func)
    return f"{text}()" if not (call.args or call.keywords) else f"{text}(...)"


def _hook_reason(hook: Hook) -> str:
    if hook.kind == "wrapper":
        name = hook.qualname.rpartition(".")[0]
        if hook.given:
            return (
                f"`{name}` builds its own client in `__init__` ({hook.where}) when no `{hook.given}` is "
                f"given; pass it the shared client (`{hook.given}={hook.constructor.accessor}()`) if it "
                f"does not close a client it is given, or make one `{name}` and keep it (at start-up, "
                "or in a cached factory)"
            )
        return (
            f"`{name}` builds its own client in `__init__` ({hook.where}); make one `{name}` and keep it "
            f"(at start-up, or in a cached factory), or let `{name}` take the shared client "
            f"(`{hook.constructor.accessor}()`) and stop closing it"
        )
    advice = _factory_advice(hook.constructor.accessor, hook.with_uses)
    return f"the client comes from the factory `{hook.qualname}` ({hook.where}); {advice}"


def _factory_reason(accessor: str, with_uses: tuple[int, ...]) -> str:
    advice = _factory_advice(accessor, with_uses)
    return f"the function returns the client, so its callers decide how long it lives; {advice}"


def _factory_advice(accessor: str, with_uses: tuple[int, ...]) -> str:
    """What to do with a factory whose callers may close what it returns: advice that keeps working
    for `async with factory() as client` (a cached or shared client there is closed by the first
    caller, and the next one fails with "Cannot reopen a client instance")."""
    shared = f"`contextlib.nullcontext({accessor}())`"
    if with_uses:
        lines = ", ".join(str(line) for line in with_uses[:5]) + (", ..." if len(with_uses) > 5 else "")
        word = "line" if len(with_uses) == 1 else "lines"
        return (
            f"its callers close what it returns (`with` at {word} {lines}), so a cached or shared client "
            "would be closed by the first of them; return the shared client in a context that does not "
            f"close it, {shared}, which `with`/`async with` enter and leave as is (a subclass that "
            "overrides the factory still gets its own client)"
        )
    return (
        f"callers that close it (`with`/`async with`) can be given {shared}, which they enter without "
        "closing the shared client; callers that keep it want a cached factory"
    )


def _imported(subclass: Subclass) -> bool:
    return bool(subclass.where or subclass.imported_base)


def _subclass_reason(subclass: Subclass) -> str:
    through = f" (through `{subclass.through}`)" if subclass.through else ""
    if subclass.imported_base:
        via = f"through `{subclass.through}` ({subclass.imported_base})"
        if subclass.plain:
            return (
                f"`{subclass.name}` adds nothing to `{subclass.base}` {via}, but that class is defined in "
                "another module, and --fix rewrites only clients whose class it can see in the file it "
                f"edits; construct `{subclass.base}` here and --fix can move it onto the shared client"
            )
        return (
            f"`{subclass.name}` subclasses `{subclass.base}` {via}; its overrides would be lost on the "
            "shared client"
        )
    if subclass.where and subclass.plain:
        return (
            f"`{subclass.name}` ({subclass.where}) adds nothing to `{subclass.base}`{through}, but it is "
            "defined in another module, and --fix rewrites only clients whose class it can see in the "
            f"file it edits; construct `{subclass.base}` here and --fix can move it onto the shared client"
        )
    if subclass.where:
        return (
            f"`{subclass.name}` ({subclass.where}) subclasses `{subclass.base}`{through}; its overrides "
            "would be lost on the shared client"
        )
    return (
        f"`{subclass.name}` subclasses `{subclass.base}`{through}; its overrides would be lost on the "
        "shared client"
    )


def _function_body(function: FunctionNode) -> list[ast.AST]:
    return [function.body] if isinstance(function, ast.Lambda) else list(function.body)


def _module_level_status(site: Site, target: ast.expr | None = None) -> str:
    if target is not None:
        text = ast.unparse(target)
        if site.scopes and isinstance(site.scopes[0], ast.ClassDef):
            return f"class attribute `{text}`"
        return f"module global `{text}`"
    return "created once at module level"


@dataclass
class _Uses:
    closed: bool = False
    returned: bool = False
    stored: ast.expr | None = None
    """The first place outside the function it is stored (`self._c`, `S[k]`, a declared global)."""
    handed_to: str = ""


def _classify_uses(
    function: FunctionNode, variable: str, ctor: Constructor, parents: dict[int, ast.AST]
) -> _Uses:
    """How a local client is used: closed, returned, stored or handed to other code."""
    uses = _Uses()
    for node in _walk_function(function):
        if not (isinstance(node, ast.Name) and node.id == variable and isinstance(node.ctx, ast.Load)):
            continue
        parent = parents.get(id(node))
        if isinstance(parent, ast.Attribute) and parent.attr in ctor.close_methods:
            uses.closed = True
        elif isinstance(parent, ast.withitem) and parent.context_expr is node:
            uses.closed = True
        elif isinstance(parent, ast.Return | ast.Yield | ast.YieldFrom):
            uses.returned = True
        elif isinstance(parent, ast.Assign) and node is parent.value:
            for target in parent.targets:
                if uses.stored is not None:
                    break
                if isinstance(target, ast.Attribute | ast.Subscript) or (
                    isinstance(target, ast.Name) and _declared_global(function, target.id)
                ):
                    uses.stored = target
        elif (
            isinstance(parent, ast.Call)
            and isinstance(parent.func, ast.Attribute)
            and parent.func.attr == "setdefault"
            and len(parent.args) == 2
            and parent.args[1] is node
        ):
            if uses.stored is None:  # `S.setdefault(key, client)` stores it in `S[key]`
                uses.stored = ast.Subscript(value=parent.func.value, slice=parent.args[0], ctx=ast.Load())
        elif isinstance(parent, ast.Call) and node in parent.args or isinstance(parent, ast.keyword):
            call = parent if isinstance(parent, ast.Call) else parents.get(id(parent))
            if isinstance(call, ast.Call) and not uses.handed_to:
                uses.handed_to = _callee_name(call)
        elif isinstance(parent, ast.Tuple | ast.List | ast.Dict | ast.Set) and not uses.handed_to:
            uses.handed_to = "a container"
    return uses


def _walk_function(function: FunctionNode) -> Iterator[ast.AST]:
    """Nodes of a function's own body, nested functions included (they can close it too)."""
    if isinstance(function, ast.Lambda):
        yield from ast.walk(function.body)
        return
    for stmt in function.body:
        yield from ast.walk(stmt)


def _callee_name(call: ast.Call) -> str:
    try:
        text = ast.unparse(call.func)
    except Exception:  # pragma: no cover - unparse handles every expression node
        return "a call"
    return text if len(text) <= 60 else text[:57] + "..."


def _contains_yield(body: list[ast.stmt]) -> bool:
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _decorator_names(function: FunctionNode) -> list[str]:
    if isinstance(function, ast.Lambda):
        return []
    names = []
    for decorator in function.decorator_list:
        node = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, ast.Name):
            names.append(node.id)
        if isinstance(decorator, ast.Call):
            for arg in decorator.args:
                if isinstance(arg, ast.Constant) and arg.value == "startup":
                    names.append("startup")
    return names


def _is_cached(function: FunctionNode, imports: ImportTable) -> bool:
    return any(name in _CACHE_DECORATORS for name in _decorator_names(function))


def _is_init_like(function: FunctionNode, imports: ImportTable) -> bool:
    if isinstance(function, ast.Lambda):
        return False
    if function.name in _INIT_NAMES or function.name.lstrip("_").startswith(_INIT_PREFIXES):
        return True
    decorators = _decorator_names(function)
    return any(
        name in _CACHE_DECORATORS or "startup" in name or name in {"on_event", "asynccontextmanager"}
        for name in decorators
    )


def _is_scoped_generator(function: FunctionNode) -> bool:
    """A generator whose `yield` holds a resource for a scope: lifespan, context manager, fixture."""
    if isinstance(function, ast.Lambda):
        return False
    scoped = {"contextmanager", "asynccontextmanager", "fixture", "yield_fixture"}
    return "lifespan" in function.name or any(name in scoped for name in _decorator_names(function))


def _is_entry_point(function: FunctionNode, parents: dict[int, ast.AST]) -> bool:
    return (
        isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        and function.name in {"main", "_main", "amain", "async_main", "cli"}
        and isinstance(parents.get(id(function)), ast.Module)
    )


def _declared_global(function: FunctionNode, name: str) -> bool:
    if isinstance(function, ast.Lambda):
        return False
    for node in _walk_function(function):
        if isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Entry point


@dataclass(frozen=True)
class Classified:
    """One site with its verdict: what the planner needs, before it becomes a `Finding`."""

    site: Site
    verdict: _Verdict

    @property
    def request(self) -> PlanRequest | None:
        return self.verdict.request


@dataclass
class ScannedModule:
    """The classified sites of one module, and what turning them into findings needs."""

    path: str
    sites: list[Classified]
    lines: list[str]
    parents: dict[int, ast.AST]
    exports: tuple[Export, ...] = ()
    """What other modules may import from this one and call per request (`FileScan.exports`)."""

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The node that holds `node` in the module (`parents` is keyed by id)."""
        return self.parents.get(id(node))

    def finding(
        self,
        item: Classified,
        plan: FixPlan | None = None,
        reason: str = "",
        applicability: Applicability = Applicability.NONE,
    ) -> Finding:
        """The finding for `item`, given what the planner decided (nothing, for no plan)."""
        site, verdict = item.site, item.verdict
        return _finding(site, verdict, self.lines, self.path, self.parents, plan, reason, applicability)


def scan_module(
    tree: ast.Module,
    text: str,
    path: str,
    libraries: tuple[Library, ...] = catalog.LIBRARIES,
    elsewhere: Mapping[str, bool] | None = None,
) -> ScannedModule | None:
    """Every catalogued construction site of one parsed module, classified, in walk order; None
    when the module holds none.

    `elsewhere` says, for the module's factories and wrapper classes (by `Hook.where`) that other
    modules of the project call, whether every one of those calls closes the client it gets
    (`run.project.ProjectPass.settle_hooks`); a hook not in it is called nowhere else."""
    if is_generated(text):
        return None
    imports = ImportTable(tree, (m for lib in libraries for m in lib.modules), text)
    if imports.empty:
        return None
    subclasses = find_subclasses(imports, libraries)
    while subclasses:
        # `APIClient()` spells no import: walk the statements that spell the classes' names too,
        # which may define more such classes (`class Admin(APIClient)`) or shadow a name.
        imports.widen(text, {name for _, name in subclasses})
        wider = find_subclasses(imports, libraries)
        if wider.keys() <= subclasses.keys():
            break  # the names walked are all known: nothing new can turn up
        subclasses = wider
    collector = _Collector(tree, imports, libraries, subclasses)
    collector.run()
    exports = _subclass_exports(subclasses, tree)
    if not collector.sites:
        return ScannedModule(path, [], [], {}, exports) if exports else None
    collector.complete_parents()
    classifier = _Classifier(collector)
    classified = [Classified(site, classifier.classify(site)) for site in collector.sites]
    hooks = _find_hooks(classified, collector.parents, path)
    if hooks:
        exports += tuple(_hook_export(hook) for found in hooks.values() for hook in found)
        classified += _hook_sites(
            tree, text, imports, libraries, subclasses, hooks, classifier, classified, elsewhere or {}
        )
    return ScannedModule(path, classified, _LINE_SPLIT.split(text), classifier.parents, exports)


def scan_imported(
    tree: ast.Module,
    text: str,
    path: str,
    modules: Iterable[str],
    words: Iterable[str],
    external: ExternalResolver,
    bind: Callable[[str], bool],
    external_class: Callable[[str], Subclass | None],
    libraries: tuple[Library, ...] = catalog.LIBRARIES,
) -> ScannedModule | None:
    """The calls, in one module, of factories, wrapper classes and client subclasses defined in
    other modules of the project (`external` says which call is one), classified as constructions
    of the client they build, exactly as such calls are when the definition is in the same module.

    `modules` are the top-level names of the imports that may lead to the project's modules, and
    `words` the other names a relevant statement may spell (an exported method called as
    `self.make_client()`, the names a relative import binds); `bind` says which imports (by dotted
    target) may lead to an export, and `external_class` which dotted name is an imported client
    subclass (a class of this module derived from one is a client subclass too). As in
    `scan_module`, only the statements that spell one of the words, or a name those imports bind,
    are walked."""
    if is_generated(text):
        return None
    imports = ImportTable(tree, [*modules, *words], text, bind)
    if imports.empty:
        return None
    imports.widen(text, words)
    derived = _derived_from_imported(imports, external_class)
    while derived:
        # `Admin()` spells no import: walk the statements that spell the classes' names too, which
        # may define more such classes (`class Quiet(Admin)`) or shadow a name.
        imports.widen(text, {name for _, name in derived})
        wider = _derived_from_imported(imports, external_class)
        if wider.keys() <= derived.keys():
            break
        derived = wider
    collector = _Collector(tree, imports, libraries, derived, external=external)
    collector.run()
    if not collector.sites:
        return None
    collector.complete_parents()
    classifier = _Classifier(collector)
    _mark_with_uses(collector.sites, classifier)
    classified = [Classified(site, classifier.classify(site)) for site in collector.sites]
    return ScannedModule(path, classified, _LINE_SPLIT.split(text), classifier.parents)


def _derived_from_imported(imports: ImportTable, imported: Callable[[str], Subclass | None]) -> Subclasses:
    """The classes of the module derived from a client subclass imported from another module of the
    project, directly or through another such class of the module (in any order of definition)."""

    def derive(
        base: ast.expr, node: ast.ClassDef, chain: list[ast.AST], found: Subclasses
    ) -> Subclass | None:
        target = imports.resolve(base, chain)
        parent = imported(target) if target is not None else None
        if parent is None and isinstance(base, ast.Name):
            parent = resolve_subclass(base.id, chain, imports, found)
        if parent is None:
            return None
        return Subclass(
            node.name,
            parent.library,
            parent.constructor,
            parent.module,
            # the imported class, whichever class of this module is in between
            through=parent.through if parent.imported_base else parent.name,
            plain=_adds_nothing(node) and parent.plain,
            line=node.lineno,
            imported_base=parent.imported_base or parent.where,
        )

    return _subclasses_until_settled(imports, derive)


def imported_hook(export: Export, where: str) -> Hook | Subclass | None:
    """What `export` (found in another module, `where` is `path:line`) is to the scanner of a module
    that imports it; None when its library is no longer catalogued (a stale cached export)."""
    library = catalog.library_for_module(export.module)
    constructor = library.constructor(export.constructor) if library is not None else None
    if library is None or constructor is None:
        return None
    if export.kind == "subclass":
        return Subclass(
            export.name, library, constructor, export.module, export.through, export.plain, export.line, where
        )
    if export.kind == "wrapper":
        constructor = replace(constructor, close_methods=constructor.close_methods | {"close", "aclose"})
    return Hook(
        export.kind,
        export.name,
        export.qualname,
        where,
        export.owner,
        constructor,
        library,
        export.module,
        given=export.given,
        given_index=export.given_index,
    )


def _subclass_exports(subclasses: Subclasses, tree: ast.Module) -> tuple[Export, ...]:
    """The module-level classes derived from a client class, as other modules may import them."""
    return tuple(
        Export(
            "subclass",
            sub.name,
            sub.line,
            sub.name,
            sub.module,
            sub.constructor.name,
            through=sub.through,
            plain=sub.plain,
        )
        for (scope, _), sub in subclasses.items()
        if scope == id(tree)
    )


def _hook_export(hook: Hook) -> Export:
    return Export(
        hook.kind,
        hook.name,
        int(hook.where.rpartition(":")[2]),
        hook.qualname,
        hook.module,
        hook.constructor.name,
        owner=hook.owner,
        given=hook.given,
        given_index=hook.given_index,
    )


def _mark_with_uses(sites: list[Site], classifier: _Classifier) -> list[Hook]:
    """Give each factory the lines where its result is entered with `with`/`async with` (the advice
    depends on it); the hooks of `sites`, updated."""
    entered: dict[int, list[int]] = {}
    for site in sites:
        parent = classifier.parent(site.call)
        if isinstance(parent, ast.withitem) and parent.context_expr is site.call and site.hook is not None:
            entered.setdefault(id(site.hook), []).append(site.call.lineno)
    updated: dict[int, Hook] = {}
    for site in sites:
        hook = site.hook
        if hook is None:
            continue
        if id(hook) not in updated:
            updated[id(hook)] = replace(hook, with_uses=tuple(sorted(set(entered.get(id(hook), [])))))
        site.hook = updated[id(hook)]
    return list(updated.values())


def _find_hooks(
    classified: list[Classified], parents: dict[int, ast.AST], path: str
) -> dict[str, list[Hook]]:
    """The module's factories (POOL301, a plain `def`, at module level or a method of a module-level
    class) and wrapper classes (a module-level class whose `__init__` stores a client on `self` in
    a statement of its own body, so every instance builds one), by the name they are called by."""
    hooks: dict[str, list[Hook]] = {}
    for item in classified:
        site, verdict = item.site, item.verdict
        function = site.function
        if site.hook is not None or site.constructor is None or not isinstance(function, ast.FunctionDef):
            continue
        scopes = site.scopes
        outer = scopes[1] if len(scopes) > 1 else None
        in_class = isinstance(outer, ast.ClassDef) and len(scopes) > 2 and isinstance(scopes[2], ast.Module)
        where = f"{path}:{site.call.lineno}"
        hook: Hook | None = None
        if verdict.code == "POOL301" and (isinstance(outer, ast.Module) or in_class):
            names = _decorator_names(function)
            if "staticmethod" in names or "classmethod" in names or "property" in names:
                continue
            owner = outer.name if isinstance(outer, ast.ClassDef) else ""
            if owner and not (function.args.posonlyargs or function.args.args):
                continue
            qualname = f"{owner}.{function.name}" if owner else function.name
            hook = Hook(
                "factory", function.name, qualname, where, owner, site.constructor, site.library, site.module
            )
        elif (
            verdict.code == "POOL001"
            and in_class
            and function.name == "__init__"
            and not _borrows_pool(site.constructor, site.call)  # a client of its own on the shared pool
        ):
            assert isinstance(outer, ast.ClassDef)
            statement = parents.get(id(site.call))
            arguments = function.args.posonlyargs + function.args.args
            given, given_index = "", -1
            fallback = fallback_of(site.call, parents)
            if fallback is not None and _is_parameter(function, fallback[2]):
                statement, given = fallback[0], fallback[2]
                names = [arg.arg for arg in arguments]
                given_index = names.index(given) - 1 if given in names[1:] else -1
            target = _single_target(statement)
            if not (
                statement in function.body
                and isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and arguments
                and target.value.id == arguments[0].arg
            ):
                continue
            # The wrapper is closed by its own close methods, or by the client's names.
            closes = site.constructor.close_methods | {"close", "aclose"}
            ctor = replace(site.constructor, close_methods=closes)
            hook = Hook(
                "wrapper",
                outer.name,
                f"{outer.name}.__init__",
                where,
                "",
                ctor,
                site.library,
                site.module,
                given=given,
                given_index=given_index,
            )
        if hook is not None:
            hooks.setdefault(hook.name, []).append(hook)
    return hooks


def _single_target(statement: ast.AST | None) -> ast.expr | None:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        return statement.targets[0]
    if isinstance(statement, ast.AnnAssign) and statement.value is not None:
        return statement.target
    return None


def _hook_sites(
    tree: ast.Module,
    text: str,
    imports: ImportTable,
    libraries: tuple[Library, ...],
    subclasses: Subclasses,
    hooks: dict[str, list[Hook]],
    classifier: _Classifier,
    classified: list[Classified],
    elsewhere: Mapping[str, bool],
) -> list[Classified]:
    """The calls of the module's factories and wrapper classes, classified as constructions of the
    client they build. A second walk, over the statements that spell their names, only for the
    modules that have such hooks.

    A hook whose every call, here and in the other modules that call it (`elsewhere`), closes the
    client it gets has its construction planned: the client it builds borrows the shared pool
    (`PlanRequest("factory")`), and its calls are fixed there (`plan.analyze`)."""
    imports.widen(text, hooks.keys())
    walker = _Collector(tree, imports, libraries, subclasses, hooks)
    walker.run()
    uses: list[Classified] = []
    if walker.sites:
        walker.complete_parents()
        classifier.parents = {**classifier.parents, **walker.parents}
        _mark_with_uses(walker.sites, classifier)
        uses = [Classified(site, classifier.classify(site)) for site in walker.sites]
    defined = {int(hook.where.rpartition(":")[2]): hook for found in hooks.values() for hook in found}
    for index, item in enumerate(classified):
        hook = defined.get(item.site.call.lineno)
        wanted = {"factory": "POOL301", "wrapper": "POOL001"}
        if hook is None or item.site.hook is not None or item.verdict.code != wanted[hook.kind]:
            continue
        mine = [use for use in uses if use.site.hook is not None and use.site.hook.where == hook.where]
        seen = mine[0].site.hook if mine else hook  # with the lines where it is entered
        assert seen is not None
        outside = elsewhere.get(hook.where)  # None: called in no other module
        closes = (
            (bool(mine) or outside is not None)
            and outside is not False
            and (not mine or uses_close_it(seen, mine, classifier.parent))
            and not (hook.kind == "wrapper" and subclassed(tree, hook.name))
        )
        verdict = item.verdict
        advice = verdict.reason
        if hook.kind == "factory" and mine:
            advice = _factory_reason(seen.constructor.accessor, seen.with_uses)
            verdict = replace(verdict, reason=advice)
        if closes:
            # The planner gives the client the shared pool, or says why not.
            verdict = replace(item.verdict, reason="", request=PlanRequest("factory", advice=advice))
        classified[index] = Classified(item.site, verdict)
    return uses


def subclassed(tree: ast.Module, name: str) -> bool:
    """Whether a class of the module derives from `name`: its instances, built anywhere, run the
    wrapper's `__init__` where no call of `name` shows it."""
    return any(
        isinstance(node, ast.ClassDef)
        and any(
            (isinstance(base, ast.Name) and base.id == name)
            or (isinstance(base, ast.Attribute) and base.attr == name)
            for base in node.bases
        )
        for node in ast.walk(tree)
    )


def uses_close_it(hook: Hook, uses: list[Classified], parent: Callable[[ast.AST], ast.AST | None]) -> bool:
    """Whether every call of a factory that can be seen closes the client it gets, in the kind of
    code the client needs: entered with `with` (`async with` for an async client, POOL101) or
    assigned and closed in the same function (POOL102). A client of its own that borrows the
    shared pool is then exact: each call still returns a new client (its own cookies and options,
    a subclass's override untouched), and closing it leaves the pool open. An async client must
    also be built and used in the running loop whose pool it borrows, which a coroutine that
    closes it ensures. The same holds for a wrapper class whose `__init__` builds the client: each
    instance keeps a client of its own, on the shared pool. `parent` finds a node's parent in the
    module of the calls."""
    if not uses:
        return False
    for use in uses:
        code = use.verdict.code
        if code not in ("POOL101", "POOL102"):
            return False
        if hook.constructor.is_async and not isinstance(use.site.function, ast.AsyncFunctionDef):
            return False
        if code == "POOL101":
            item = parent(use.site.call)
            statement = parent(item) if item is not None else None
            if isinstance(statement, ast.AsyncWith) != hook.constructor.is_async:
                return False
    return True


def _finding(
    site: Site,
    verdict: _Verdict,
    lines: list[str],
    path: str,
    parents: dict[int, ast.AST],
    plan: FixPlan | None,
    plan_reason: str,
    applicability: Applicability,
) -> Finding:
    call = site.call
    line_text = lines[call.lineno - 1] if call.lineno - 1 < len(lines) else ""
    column = _char_column(line_text, call.col_offset)
    end_index = (call.end_lineno or call.lineno) - 1
    end_text = lines[end_index] if end_index < len(lines) else ""
    statement = _statement_of(call, parents)
    suppressed = _is_suppressed(verdict.code, lines, {call.lineno, getattr(statement, "lineno", call.lineno)})
    snippet = _snippet(lines, statement or call)
    fixable = applicability is Applicability.SAFE
    reason = plan_reason or verdict.reason
    if verdict.verdict in (Verdict.PER_REQUEST, Verdict.LEAK, Verdict.UNCLEAR) and not fixable and not reason:
        reason = "no automatic fix for this kind of site"
    if verdict.verdict is Verdict.PERSISTENT:
        reason = ""
    message = verdict.message
    if _turns_tls_off(site):
        message += "; TLS certificate verification is OFF here (kept as is by --fix: review it)"
    rule = RULES_BY_CODE[verdict.code]
    assert rule.verdict is verdict.verdict, (rule.code, verdict.verdict)
    return Finding(
        path=path,
        line=call.lineno,
        column=column + 1,
        end_line=call.end_lineno or call.lineno,
        code=verdict.code,
        library=site.library.family,
        verdict=verdict.verdict,
        in_loop=site.in_loop and verdict.verdict is not Verdict.PERSISTENT,
        context=site.qualname,
        snippet=snippet,
        fixable=fixable,
        reason=reason,
        message=message,
        applicability=applicability,
        suppressed=suppressed,
        plan=plan,
        end_column=_char_column(end_text, call.end_col_offset or 0) + 1,
    )


def _turns_tls_off(site: Site) -> bool:
    off = dict(site.library.tls_off)
    for keyword in site.call.keywords:
        if keyword.arg in off and isinstance(keyword.value, ast.Constant):
            if (
                keyword.value.value == off[keyword.arg]
                or (keyword.arg, keyword.value.value) in site.library.tls_off
            ):
                return True
    return False


def _char_column(line: str, byte_offset: int) -> int:
    """ast columns count UTF-8 bytes; reports and libcst count characters."""
    if line.isascii():
        return byte_offset
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="replace"))


def _statement_of(node: ast.AST, parents: dict[int, ast.AST]) -> ast.stmt | None:
    current: ast.AST | None = node
    while current is not None and not isinstance(current, ast.stmt):
        current = parents.get(id(current))
    return current


def _snippet(lines: list[str], node: ast.AST) -> str:
    lineno = getattr(node, "lineno", 1)
    text = lines[lineno - 1].strip() if lineno - 1 < len(lines) else ""
    return text if len(text) <= 120 else text[:117] + "..."


def _is_suppressed(code: str, lines: list[str], linenos: set[int]) -> bool:
    for lineno in linenos:
        if lineno - 1 >= len(lines):
            continue
        line = lines[lineno - 1]
        if "#" not in line:
            continue
        for match in _SUPPRESS.finditer(line):
            codes = match.group("codes1") or match.group("codes2")
            if codes is None:
                return True  # bare `# pool-refactor: ignore`
            if code in {c.strip().upper() for c in re.split(r"[,\s]+", codes) if c.strip()}:
                return True
    return False

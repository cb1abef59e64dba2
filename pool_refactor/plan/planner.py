"""Decides whether a per-request site can be rewritten onto the shared client, and how.

The rules are DESIGN.md's "What a rewrite must preserve". Each check either lets the site
through or returns the sentence that the report shows as the reason it was left alone; an
unsafe plan (one that changes behaviour in a way the user must accept) comes back together with
the sentence that says what changes.

Everything here looks at the stdlib `ast` only; the codemod carries the plan out on libcst.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from pool_refactor.scan.catalog import Library
from pool_refactor.scan.findings import FixPlan
from pool_refactor.scan.names import ImportTable
from pool_refactor.scan.scanner import PlanRequest, Site

PlanResult = FixPlan | str | tuple[FixPlan, str]
"""A safe plan, the reason there is none, or an unsafe plan with what it changes."""

_COOKIE_CHANGE = (
    "cookies that one response sets would no longer be sent with the next request on this client "
    "(the shared client keeps no cookies)"
)
_REDIRECT_CHANGE = (
    "redirects may be followed, and cookies set by a redirect response would no longer be sent to the next "
    "hop (the shared client keeps no cookies)"
)


class _Refused(Exception):
    """Raised inside the checks; its message is the reason shown to the user."""


class _StateUse(_Refused):
    """The code reads or changes state of its client (`client.headers[...] = ...`, `session.auth =
    ...`): the shared client cannot take it, a client of its own that borrows the pool can."""


_POOL_ATTRIBUTES = frozenset({"mount", "adapters", "get_adapter", "connector", "detach"})
"""Client state that is the pool itself: code that uses it wants its own pool, not the shared one."""


# --------------------------------------------------------------------------------------------
# Public entry points


def plan_site(site: Site, request: PlanRequest) -> PlanResult:
    """The plan for a per-request site, in the rewrite shape the scanner found it in."""
    if request.kind == "with":
        assert isinstance(request.statement, ast.With | ast.AsyncWith) and request.item is not None
        return plan_with(site, request.statement, request.item)
    if request.kind == "local":
        assert request.statement is not None
        return plan_local(site, request.statement, request.variable)
    if request.kind == "chained":
        assert isinstance(request.parent, ast.Call)
        return plan_chained(site, request.parent)
    if request.kind == "factory":
        borrowed = _borrow_plan(site)
        return borrowed if isinstance(borrowed, FixPlan) else request.advice + borrowed
    return plan_one_shot(site, site.imports, request.parent)


def plan_with(site: Site, statement: ast.With | ast.AsyncWith, item: ast.withitem) -> PlanResult:
    """`with X(...) as c:` / `async with X(...) as c:` in a function."""
    try:
        ctor = site.constructor
        assert ctor is not None
        if isinstance(statement, ast.AsyncWith) != ctor.is_async:
            raise _Refused("the `with` statement does not match the client kind (async vs sync)")
        if not isinstance(item.optional_vars, ast.Name):
            raise _Refused("the client is not bound to a plain name (`as client`)")
        variable = item.optional_vars.id
        keyed, moved, refusal = _options_or_refusal(site)
        borrowed = _borrow_plan(site) if refusal is not None else None
        if refusal is not None and not isinstance(borrowed, FixPlan):
            return _unborrowed(refusal, borrowed or "")
        function = site.function
        index = statement.items.index(item)
        later_items: list[ast.AST] = [it.context_expr for it in statement.items[index + 1 :]]
        region: list[ast.AST] = [*later_items, *statement.body]
        if function is None:
            scope_nodes: list[ast.AST] = list(region)
        else:
            scope_nodes = list(_function_body(function))
        try:
            requests = _check_uses(
                site, variable, scope_nodes, region, binding=item.optional_vars, local=False
            )
        except _StateUse as state:
            borrowed = _borrow_plan(site)
            if not isinstance(borrowed, FixPlan):
                return _unborrowed(str(state), borrowed)
            _check_uses(
                site, variable, scope_nodes, region, binding=item.optional_vars, local=False, own=True
            )
            return borrowed
        if isinstance(borrowed, FixPlan):
            return borrowed
        unsafe = _cookie_changes(site, requests, moved)
        if unsafe:
            borrowed = _borrow_plan(site)
            if isinstance(borrowed, FixPlan):
                return borrowed
            unsafe += borrowed
        try:
            merged = _check_requests(site, requests, moved)
            _check_stable(site, moved, _walk_all(region))
        except _Refused as refused:  # a merge that cannot be written, an option that changes
            return _borrow_or(site, refused)
        return _client_plan(site, "with", variable, keyed, moved, unsafe, merged)
    except _Refused as refused:
        return str(refused)


def plan_local(site: Site, statement: ast.stmt, variable: str) -> PlanResult:
    """`c = X(...)` closed later in the same function (typically in `finally:`)."""
    try:
        ctor = site.constructor
        function = site.function
        assert ctor is not None and function is not None
        if isinstance(function, ast.Lambda):
            raise _Refused("the client is created in a lambda")
        if ctor.is_async and not isinstance(function, ast.AsyncFunctionDef):
            raise _Refused("an async client in a sync function")
        if isinstance(statement, ast.AnnAssign):
            # `session: Final = requests.Session()`: a local's annotation is never evaluated, and
            # the accessor returns the constructor's own class, so only a subclass would not fit it.
            if site.subclass is not None:
                raise _Refused(
                    f"the local is annotated (`{_short(statement.annotation)}`) and holds a "
                    f"`{site.subclass.name}`; the shared client is a `{site.subclass.base}`"
                )
            binding: ast.expr = statement.target
        elif isinstance(statement, ast.Assign):
            binding = statement.targets[0]
        else:
            raise _Refused("the client is not assigned by a plain assignment")
        keyed, moved, refusal = _options_or_refusal(site)
        borrowed = _borrow_plan(site) if refusal is not None else None
        if refusal is not None and not isinstance(borrowed, FixPlan):
            return _unborrowed(refusal, borrowed or "")
        body = list(_function_body(function))
        try:
            requests = _check_uses(site, variable, body, None, binding=binding, local=True)
        except _StateUse as state:
            borrowed = _borrow_plan(site) if _closes(body, variable, ctor.close_methods) else ""
            if not isinstance(borrowed, FixPlan):
                return _unborrowed(str(state), borrowed)
            _check_uses(site, variable, body, None, binding=binding, local=True, own=True)
            return borrowed
        # A client never closed (a leak) is not given the pool: it would stay unclosed.
        closed = _closes(body, variable, ctor.close_methods)
        if isinstance(borrowed, FixPlan):
            # A client never closed keeps the refusal: borrowing would hide the leak.
            return borrowed if closed else str(refusal)
        unsafe = _cookie_changes(site, requests, moved)
        if unsafe and closed:
            borrowed = _borrow_plan(site)
            if isinstance(borrowed, FixPlan):
                return borrowed
            unsafe += borrowed
        try:
            merged = _check_requests(site, requests, moved)
            end = statement.end_lineno or statement.lineno
            later = (n for n in _walk_all(function.body) if getattr(n, "lineno", 0) > end)
            _check_stable(site, moved, later)
        except _Refused as refused:
            if not closed:
                raise
            return _borrow_or(site, refused)
        return _client_plan(site, "local", variable, keyed, moved, unsafe, merged)
    except _Refused as refused:
        return str(refused)


def plan_chained(site: Site, request: ast.Call) -> PlanResult:
    """`X(...).get(url)`: a client built for one request and dropped unclosed (a leak). The client
    is replaced by the shared one in place (`accessor(keyed).get(url, moved)`); nothing else can
    see it, so the request is its only use."""
    try:
        ctor = site.constructor
        assert ctor is not None and isinstance(request.func, ast.Attribute)
        method = request.func.attr
        if ctor.is_async and not isinstance(site.function, ast.AsyncFunctionDef):
            raise _Refused("an async client in a sync function")
        allowed = site.library.request_methods | site.library.send_methods
        if method not in allowed:
            raise _Refused(f"the client is built for `.{method}()`, which is not a request")
        keyed, moved = _constructor_options(site)
        requests = [(request, method, False)]
        merged = _check_requests(site, requests, moved)
        _check_stable(site, moved, _walk_all([*request.args, *request.keywords]))
        unsafe = _cookie_changes(site, requests, moved)
        return _client_plan(site, "chained", "", keyed, moved, unsafe, merged)
    except _Refused as refused:
        return str(refused)


def _options_or_refusal(site: Site) -> tuple[tuple[str, ...], list[str], str | None]:
    """The constructor's keyed and moved options for the shared client; or, where the shared
    client cannot take them (`cookies=`, a computed `base_url=`, `headers=` built by a call), the
    reason. A client of its own that borrows the pool (`_borrow_plan`) then keeps them as written,
    evaluated once where they were, which is exact whatever they are, provided its uses pass the
    same checks as for the shared client."""
    try:
        keyed, moved = _constructor_options(site)
    except _Refused as refused:
        return (), [], str(refused)
    return keyed, moved, None


def _unborrowed(refusal: str, words: str) -> str:
    """The refusal, with what keeps the client from borrowing the pool where it says something
    new: not a second mention of the `**kwargs` or positional arguments it already names, and a
    pool option whose value it already explains is named, not explained again."""
    repeated = any(
        words.endswith(f"given {it}") and it in refusal for it in ("`**kwargs`", "positional arguments")
    )
    option, which, why = words.partition(", which ")
    if which and refusal.endswith(why):
        return f"{refusal}{option}, for the same reason"
    return refusal if repeated else refusal + words


def _borrow_plan(site: Site) -> FixPlan | str:
    """The exact fix for a client whose cookies or options the shared client would lose, where
    the library lets a client borrow a pool: the constructor stays as written, in its block, and
    gets the shared pool (aiohttp `connector=get_aiohttp_connector(), connector_owner=False`,
    httpx `transport=get_http_transport()`), or becomes a new session of its own on the shared
    adapters (requests `borrow_requests_session()`). Its cookie jar, headers, auth, timeout and
    every other option stay its own and live exactly as long as before, across redirects and
    across the requests of the block; only connections are shared, and closing the client leaves
    the pool open. Otherwise the words to add to the reason: nothing when the library has no such
    form, else the construct that blocks it: an argument that decides about the pool itself
    (`connector_owner=`, `transport=`, `mounts=`, `proxy=`), `**kwargs` that may hold one, a pool
    option that is not a literal (the pool accessor is keyed on it), a positional argument.

    Where the one shared client is exact (no cookie can be lost) it stays the fix: it also saves
    building a client, its cookie jar and its default headers per call.
    """
    ctor = site.constructor
    assert ctor is not None
    if ctor.borrow_accessor is None:
        return ""
    noun = "session" if ctor.name.endswith("Session") else "client"
    cannot = f"; the {noun} cannot borrow the shared pool instead, since"
    if (site.subclass is not None and not site.subclass.plain) or site.hook is not None:
        # Their own signature may not take the pool's arguments, nor pass them on (a class that
        # adds nothing has its base's).
        built = f"`{site.subclass.name}`" if site.subclass is not None else "a project function or class"
        return f"{cannot} it is built by {built}"
    call = site.call
    if len(call.args) > len(ctor.positional) or any(isinstance(a, ast.Starred) for a in call.args):
        return f"{cannot} it is given positional arguments"
    added = tuple(name for name, _ in ctor.borrow_arguments)
    blocked = set(added) | ctor.borrow_blocked
    library = site.library
    known = library.per_request_options | library.client_options | set(library.refused_options)
    pool_options: list[str] = []
    for keyword in call.keywords:
        name = keyword.arg
        if name is None or name in blocked:
            given = f"`{name}=`" if name else "`**kwargs`"
            return f"{cannot} it is given {given}"
        if name not in known:
            return f"{cannot} it is given `{name}=`, which pool-refactor does not know"
        if name in ctor.borrow_keys:
            unkeyed = _key_refusal(site, name, keyword.value)
            if unkeyed:
                return f"{cannot} the pool is keyed on its pool option `{name}=`, which {unkeyed}"
            pool_options.append(name)
    return FixPlan(
        kind="borrow",
        library=site.library.family,
        accessor=ctor.borrow_accessor,
        section=ctor.section,
        is_async=ctor.is_async,
        variable=None,
        keyed_options=added,
        moved_options=(),
        pool_options=tuple(pool_options),
    )


def _borrow_or(site: Site, refused: _Refused) -> FixPlan | str:
    """Where the shared client cannot take a client's options exactly (a merge it cannot write, a
    moved option whose inputs change), the client's own options stay as written when it only
    borrows the pool; otherwise the refusal, with what blocks the borrow."""
    borrowed = _borrow_plan(site)
    return borrowed if isinstance(borrowed, FixPlan) else _unborrowed(str(refused), borrowed)


def _closes(nodes: list[ast.AST], variable: str, methods: frozenset[str]) -> bool:
    """Whether `variable.close()` (one of `methods`) is called somewhere in `nodes`."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in methods
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == variable
        for node in _walk_all(nodes)
    )


def _client_plan(
    site: Site,
    kind: str,
    variable: str,
    keyed: tuple[str, ...],
    moved: list[str],
    unsafe: str,
    merged: tuple[str, ...] = (),
) -> PlanResult:
    ctor = site.constructor
    assert ctor is not None
    plan = FixPlan(
        kind=kind,
        library=site.library.family,
        accessor=ctor.accessor,
        section=ctor.section,
        is_async=ctor.is_async,
        variable=variable or None,
        keyed_options=keyed,
        moved_options=tuple(moved),
        merged_options=merged,
    )
    return (plan, unsafe) if unsafe else plan


def plan_one_shot(site: Site, imports: ImportTable, parent: ast.AST | None) -> PlanResult:
    """`httpx.get(...)` and friends: the call stays, only the client behind it changes."""
    library = site.library
    call = site.call
    try:
        starred = any(isinstance(a, ast.Starred) for a in call.args)
        double_starred = any(kw.arg is None for kw in call.keywords)
        if (starred or double_starred) and library.one_shot_client_options:
            raise _Refused("the call passes `*args`/`**kwargs`; cannot tell which options are client-level")
        limit = dict(library.one_shot_max_positional).get(site.one_shot or "")
        if limit is not None and len(call.args) > limit:
            raise _Refused(
                f"`{site.one_shot}()` is given {len(call.args)} positional arguments; the session method "
                f"takes {limit} (pass the rest by keyword)"
            )
        keyed = []
        kept: list[str] = []  # options only the one-shot's own client can keep (it then borrows the pool)
        for keyword in call.keywords:
            if keyword.arg is None or keyword.arg in library.one_shot_request_options:
                continue
            if keyword.arg in library.one_shot_borrow_keeps:
                kept.append(keyword.arg)
                continue
            if keyword.arg in library.refused_options:
                raise _Refused(library.refused_options[keyword.arg])
            if keyword.arg in library.one_shot_client_options:
                unkeyed = _key_refusal(site, keyword.arg, keyword.value)
                if unkeyed:
                    raise _Refused(f"client-level `{keyword.arg}=` {unkeyed}")
                keyed.append(keyword.arg)
        sync_ctor = next((c for c in library.constructors if not c.is_async), None)
        async_ctor = next((c for c in library.constructors if c.is_async), None)
        unsafe = ""
        if _redirect_cookies_lost(library, call.keywords):
            unsafe = _REDIRECT_CHANGE
        in_async = isinstance(site.function, ast.AsyncFunctionDef)
        if library.one_shot_form == "async-context":
            assert async_ctor is not None
            if not (isinstance(parent, ast.withitem) and isinstance(site.function, ast.AsyncFunctionDef)):
                raise _Refused(
                    f"`{library.family}.{site.one_shot}()` is not used as `async with ... as response`"
                )
            if (unsafe or kept) and library.one_shot_borrow and async_ctor.borrow_accessor:
                # The call keeps the client it builds (its cookies, across redirects), which
                # borrows the shared pool instead of opening a connection of its own.
                return FixPlan(
                    kind="borrow",
                    library=library.family,
                    accessor=async_ctor.borrow_accessor,
                    section=async_ctor.section,
                    is_async=True,
                    variable=None,
                    keyed_options=library.one_shot_borrow,
                    moved_options=(),
                    method=site.one_shot,  # what is still called (for the mock check)
                )
            if kept:
                raise _Refused(library.refused_options[kept[0]])
            plan = _one_shot_plan(
                site, async_ctor.accessor, async_ctor.section, True, keyed, await_result=False
            )
        elif in_async and async_ctor is not None:
            if site.one_shot == "stream":
                raise _Refused("streaming in async code needs `async with` and `async for`; rewrite by hand")
            if _inside_generator_expression(site, imports):
                raise _Refused("the call sits in a generator expression, where `await` changes its type")
            plan = _one_shot_plan(
                site, async_ctor.accessor, async_ctor.section, True, keyed, await_result=True
            )
            blocking = (
                "the call blocks the event loop; the fix awaits it on the async client, so other tasks run "
                "while it waits"
            )
            return plan, f"{blocking}; {unsafe}" if unsafe else blocking
        else:
            assert sync_ctor is not None
            plan = _one_shot_plan(
                site, sync_ctor.accessor, sync_ctor.section, False, keyed, await_result=False
            )
    except _Refused as refused:
        return str(refused)
    return (plan, unsafe) if unsafe else plan


def _one_shot_plan(
    site: Site, accessor: str, section: str, is_async: bool, keyed: list[str], *, await_result: bool
) -> FixPlan:
    return FixPlan(
        kind="one-shot",
        library=site.library.family,
        accessor=accessor,
        section=section,
        is_async=is_async,
        variable=None,
        keyed_options=tuple(keyed),
        moved_options=(),
        method=site.one_shot,
        await_result=await_result,
    )


# --------------------------------------------------------------------------------------------
# Checks


def _constructor_options(site: Site) -> tuple[tuple[str, ...], list[str]]:
    library = site.library
    call = site.call
    ctor = site.constructor
    assert ctor is not None
    if len(call.args) > len(ctor.positional) or any(isinstance(a, ast.Starred) for a in call.args):
        raise _Refused("the constructor is given positional arguments")
    named = [
        ast.keyword(arg=name, value=value) for name, value in zip(ctor.positional, call.args, strict=False)
    ]
    keyed: list[str] = []
    moved: list[str] = []
    for keyword in [*named, *call.keywords]:
        name = keyword.arg
        if name is None:
            raise _Refused("the constructor is given `**kwargs`; cannot tell which options it sets")
        if name in library.refused_options:
            raise _Refused(library.refused_options[name])
        if name in library.none_is_default and _is_none(keyword.value):
            continue  # the library's default, which the shared client has too: nothing to move
        if name in library.per_request_options:
            if name in library.none_is_default and not _visibly_not_none(keyword.value):
                raise _Refused(
                    f"`{name}=` may be None, which means the default on the client but something else on a "
                    "request"
                )
            if not _is_movable(keyword.value, library, site):
                raise _Refused(
                    f"`{name}=` is computed by code that may have side effects (`{_short(keyword.value)}`); "
                    "moving it onto each request would run it again"
                )
            moved.append(name)
        elif name in library.client_options:
            unkeyed = _key_refusal(site, name, keyword.value)
            if unkeyed:
                raise _Refused(f"client-level `{name}=` {unkeyed}")
            keyed.append(name)
        else:
            raise _Refused(f"unknown client option `{name}=`")
    return tuple(keyed), moved


def _check_uses(
    site: Site,
    variable: str,
    scope_nodes: list[ast.AST],
    region: list[ast.AST] | None,
    *,
    binding: ast.expr,
    local: bool,
    own: bool = False,
) -> list[tuple[ast.Call, str, bool]]:
    """Every use of the client must be a request call (or, for locals, a standalone close).

    Returns the request calls with their method name and whether they sit in a loop of the region.
    With `own`, the client stays the code's own and borrows the pool only: its state may be read
    and changed (`client.headers[...] = ...`), except the pool itself (`mount`, `adapters`).
    """
    library = site.library
    ctor = site.constructor
    assert ctor is not None
    in_region = _node_ids(region) if region is not None else None
    requests: list[tuple[ast.Call, str, bool]] = []
    # A loop around the binding builds a new client per pass: requests in it are not repeated on
    # one client (only loops inside the client's life are).
    loops = _loop_node_ids(region if region is not None else scope_nodes, outside=binding)
    region_end = max((getattr(n, "end_lineno", 0) or 0 for n in region), default=0) if region else 0
    rebound_after = sorted(
        getattr(n, "lineno", 0)
        for n in _walk_all(scope_nodes)
        if isinstance(n, ast.Name) and n.id == variable and isinstance(n.ctx, ast.Store) and n is not binding
    )
    allowed = library.request_methods | library.send_methods
    for node, parents, nested in _walk_with_parents(scope_nodes):
        if not (isinstance(node, ast.Name) and node.id == variable):
            continue
        line = getattr(node, "lineno", "?")
        if nested:
            raise _Refused(f"the client `{variable}` is used by a nested function or class (line {line})")
        if isinstance(node.ctx, ast.Store):
            if node is binding:
                continue
            if in_region is None or id(node) in in_region:
                raise _Refused(f"the name `{variable}` is bound again at line {line}")
            continue  # another binding of the same name elsewhere in the function: not this client
        if isinstance(node.ctx, ast.Del):
            raise _Refused(f"`del {variable}` at line {line}")
        if in_region is not None and id(node) not in in_region:
            lineno = getattr(node, "lineno", 0)
            if lineno < binding.lineno or any(region_end < r <= lineno for r in rebound_after):
                continue  # refers to another binding of the name, before this block or after a rebinding
            raise _Refused(f"the client is used after its block (line {line}), where it was closed")
        parent = parents[-1] if parents else None
        grand = parents[-2] if len(parents) >= 2 else None
        if isinstance(parent, ast.Attribute):
            attr = parent.attr
            is_call = isinstance(grand, ast.Call) and grand.func is parent
            if is_call and attr in allowed:
                assert isinstance(grand, ast.Call)
                requests.append((grand, attr, any(id(p) in loops for p in parents)))
                continue
            if local and is_call and attr in ctor.close_methods:
                _check_close(parents, variable, line)
                continue
            if attr in library.client_state_attributes:
                if own and attr not in _POOL_ATTRIBUTES:
                    continue
                error = _Refused if attr in _POOL_ATTRIBUTES else _StateUse
                raise error(f"the code reads or changes the client's `{attr}` (line {line})")
            if attr in ctor.close_methods:
                raise _Refused(f"the client is closed explicitly at line {line}")
            if attr.startswith("_") or attr in _POOL_ATTRIBUTES:
                raise _Refused(f"the code uses `{variable}.{attr}` (line {line})")
            if own:
                continue  # its own method (`s.prepare_request(req)`) on its own client
            raise _StateUse(f"the code uses `{variable}.{attr}` (line {line})")
        if isinstance(parent, ast.Return | ast.Yield | ast.YieldFrom):
            raise _Refused(f"the client is returned or yielded (line {line})")
        if isinstance(parent, ast.Call) or isinstance(parent, ast.keyword):
            call = parent if isinstance(parent, ast.Call) else grand
            callee = ast.unparse(call.func) if isinstance(call, ast.Call) else "a call"
            raise _Refused(f"the client is passed to `{callee}` (line {line}), which may keep or close it")
        if isinstance(parent, ast.withitem):
            raise _Refused(f"the client is entered again with `with` (line {line})")
        if isinstance(parent, ast.Assign | ast.AnnAssign | ast.NamedExpr):
            raise _Refused(f"the client is stored elsewhere (line {line})")
        raise _Refused(f"the client is used as a value at line {line}")
    if not requests:
        raise _Refused("the client sends no request in the code that can be seen")
    return requests


def _check_close(parents: list[ast.AST], variable: str, line: object) -> None:
    """A close is removable only as a statement of its own in `finally:` or the function body."""
    index = len(parents) - 2  # parents[-1] is the Attribute, parents[-2] the Call
    holder = parents[index - 1] if index >= 1 else None
    if isinstance(holder, ast.Await):
        holder = parents[index - 2] if index >= 2 else None
    if not isinstance(holder, ast.Expr):
        raise _Refused(f"the close at line {line} is part of an expression")
    position = next(i for i, p in enumerate(parents) if p is holder)
    if position == 0:
        return  # a statement of the function body itself
    block_owner = parents[position - 1]
    if isinstance(block_owner, ast.Try | ast.TryStar) and holder in block_owner.finalbody:
        return
    if isinstance(block_owner, ast.FunctionDef | ast.AsyncFunctionDef) and holder in block_owner.body:
        return
    raise _Refused(
        f"the client is closed conditionally at line {line}; only a close in `finally:` is removed"
    )


def _check_requests(
    site: Site, requests: list[tuple[ast.Call, str, bool]], moved: list[str]
) -> tuple[str, ...]:
    """Refuses requests that the moved options cannot reach exactly; returns the mapping options
    that some request passes too and that are merged into its literal (`_check_merge`)."""
    if not moved:
        return ()
    library = site.library
    client_values = {kw.arg: kw.value for kw in _named_keywords(site)}
    merged: set[str] = set()
    for call, method, _ in requests:
        line = call.lineno
        if method in library.send_methods:
            raise _Refused(
                f"`{method}()` at line {line} sends a prepared request, which the moved options "
                f"({', '.join(f'`{m}`' for m in moved)}) cannot reach"
            )
        if method in library.build_only_methods:
            missing = [m for m in moved if m not in library.build_only_options]
            if missing:
                raise _Refused(f"`{method}()` at line {line} does not accept `{missing[0]}=`")
        if any(kw.arg is None for kw in call.keywords):
            raise _Refused(f"the request at line {line} passes `**kwargs`; cannot tell which options it sets")
        for keyword in call.keywords:
            if keyword.arg in moved and keyword.arg in library.none_falls_back:
                if not _visibly_not_none(keyword.value):
                    raise _Refused(
                        f"the request at line {line} passes `{keyword.arg}=` that may be None, in which case "
                        "the library uses the client's value"
                    )
        for keyword in call.keywords:
            option = keyword.arg
            if option in moved and option in library.mapping_options:
                assert option is not None
                _check_merge(library, option, client_values[option], keyword.value, line)
                merged.add(option)
    return tuple(sorted(merged))


def _named_keywords(site: Site) -> list[ast.keyword]:
    """The constructor's keywords, positional arguments given the name they stand for."""
    assert site.constructor is not None
    call = site.call
    positional = site.constructor.positional
    named = [ast.keyword(arg=name, value=value) for name, value in zip(positional, call.args, strict=False)]
    return [*named, *call.keywords]


def _check_merge(library: Library, option: str, client: ast.expr, request: ast.expr, line: int) -> None:
    """Both the client and a request pass the mapping `option`: the library merges the two. The
    merge is written out exactly (the client's entries, then the request's, in one literal) when
    both are dict displays whose keys are string literals and no key occurs twice, compared
    without case for headers.

    Why no collision may be resolved: where a key occurs on both sides the libraries keep it at the
    client's position with the request's value (aiohttp's `CIMultiDict.__setitem__`, httpx's
    `QueryParams.merge`), which a literal could only write by moving the request's expression
    before other expressions of the request, changing the order they run in. And a key given
    twice in different case on one side is two headers for httpx but one for aiohttp's merge.
    """
    both = f"both the client and the request at line {line} pass `{option}=`"
    for side, value in (("client's", client), ("request's", request)):
        if not isinstance(value, ast.Dict):
            raise _Refused(
                f"{both}, and the {side} value (`{_short(value)}`) is not a literal mapping, so the "
                "library's merge of the two cannot be written exactly"
            )
    assert isinstance(client, ast.Dict) and isinstance(request, ast.Dict)
    fold = option in library.case_insensitive_options
    seen: dict[str, tuple[str, str]] = {}
    keys = [("client's", key) for key in client.keys] + [("request's", key) for key in request.keys]
    for side, key in keys:
        if key is None:
            raise _Refused(f"{both}, and the {side} mapping unpacks `**`; the keys it adds are unknown")
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            raise _Refused(
                f"{both}, and the key `{_short(key)}` is not a string literal, so it cannot be told "
                "whether the two collide"
            )
        name = key.value.casefold() if fold else key.value
        if name in seen:
            spelling, first_side = seen[name]
            how = " (compared without case)" if spelling != key.value else ""
            where = "both give" if first_side != side else f"the {side} mapping gives"
            twice = "" if first_side != side else " twice"
            raise _Refused(
                f"{both}, and {where} the key `{key.value}`{twice}{how}; the library's merge of a key "
                "given twice cannot be written as one literal"
            )
        seen[name] = (key.value, side)


def _check_stable(site: Site, moved: list[str], nodes: Iterable[ast.AST]) -> None:
    """Moved expressions are evaluated later, at each request: their inputs must not change."""
    if not moved:
        return
    roots: set[str] = set()
    for keyword in site.call.keywords:
        if keyword.arg in moved:
            roots |= {n.id for n in ast.walk(keyword.value) if isinstance(n, ast.Name)}
    roots = {r for r in roots if site.imports.resolve_name(r, site.scopes) is None}
    if not roots:
        return
    for node in nodes:
        changed = _changed_name(node)
        if changed in roots:
            line = getattr(node, "lineno", "?")
            if isinstance(node, ast.Call):
                how = f"may be changed by `{_short(node.func)}()` (line {line})"
            else:
                how = f"is changed at line {line}"
            raise _Refused(f"the moved options read `{changed}`, which {how} before the request")


def _changed_name(node: ast.AST) -> str | None:
    """The root name a node rebinds or may mutate (`x = ...`, `x[k] = ...`, `x.update()`)."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        return node.id
    if isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
        return _root_name(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _root_name(node.func.value)
    if isinstance(node, ast.Global | ast.Nonlocal):
        return node.names[0] if node.names else None
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    if isinstance(node, ast.alias):
        return (node.asname or node.name).split(".", 1)[0]
    if isinstance(node, ast.ExceptHandler):
        return node.name
    return None


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _cookie_changes(site: Site, requests: list[tuple[ast.Call, str, bool]], moved: list[str]) -> str:
    library = site.library
    if not library.has_cookie_jar:
        return ""
    sending = [(c, m, loop) for c, m, loop in requests if m not in library.build_only_methods]
    if any(loop for _, _, loop in sending) or not _exclusive(site, [c for c, _, _ in sending]):
        return _COOKIE_CHANGE
    moved_keywords = [kw for kw in site.call.keywords if kw.arg in moved]
    for call, method, _ in sending:
        default = library.follows_redirects_by_default and method not in library.no_redirect_methods
        if _redirect_cookies_lost(library, [*call.keywords, *moved_keywords], default=default):
            return _REDIRECT_CHANGE
    return ""


def _exclusive(site: Site, calls: list[ast.Call]) -> bool:
    """Whether at most one of `calls` can run in one pass through the client's scope: every two
    of them sit in different branches of one `if`/`elif`/`else`, conditional expression or
    `match`. Only then can no response's cookie reach a later request on the same client.

    `try`/`except` branches are not exclusive (the body may have sent a request before it
    raised), nor is an `if` test and its branches."""
    if len(calls) < 2:
        return True
    wanted = {id(call) for call in calls}
    paths: list[dict[int, tuple[str, int]]] = []
    for node, parents, _ in _walk_with_parents([site.scopes[0]]):
        if id(node) not in wanted:
            continue
        path: dict[int, tuple[str, int]] = {}
        chain = [*parents, node]
        for depth, holder in enumerate(parents):
            child = chain[depth + 1]
            branch = _branch_of(holder, child)
            if branch is not None:
                path[id(holder)] = branch
            elif isinstance(holder, ast.match_case) and depth and not any(s is child for s in holder.body):
                path.pop(id(parents[depth - 1]), None)  # a guard runs before the next case's body
        paths.append(path)
    if len(paths) != len(calls):
        return False  # a call outside the scope that was read: assume they may all run
    for index, first in enumerate(paths):
        for second in paths[index + 1 :]:
            if not any(first[key] != second[key] for key in first.keys() & second.keys()):
                return False
    return True


def _branch_of(holder: ast.AST, child: ast.AST) -> tuple[str, int] | None:
    """Which exclusive branch of `holder` the direct child `child` belongs to, if any."""
    if isinstance(holder, ast.If | ast.IfExp):
        for name in ("body", "orelse"):
            value = getattr(holder, name)
            if value is child or (isinstance(value, list) and any(item is child for item in value)):
                return (name, 0)
        return None  # the test runs whatever the branch
    if isinstance(holder, ast.Match):
        for index, case in enumerate(holder.cases):
            if case is child:
                return ("case", index)
    return None


def _redirect_cookies_lost(
    library: Library, keywords: list[ast.keyword], *, default: bool | None = None
) -> bool:
    """Whether redirects may be followed and the cookies they set would then be dropped."""
    if (
        not library.has_cookie_jar
        or library.redirect_cookies_kept_per_request
        or library.redirect_option is None
    ):
        return False
    for keyword in keywords:
        if keyword.arg is None:
            return True  # **kwargs may turn redirects on
        if keyword.arg == library.redirect_option:
            value = keyword.value
            return not (isinstance(value, ast.Constant) and value.value is False)
    return library.follows_redirects_by_default if default is None else default


def _inside_generator_expression(site: Site, imports: ImportTable) -> bool:
    function = site.function
    if function is None:
        return False
    for node in ast.walk(function):
        if isinstance(node, ast.GeneratorExp):
            if any(sub is site.call for sub in ast.walk(node)):
                return True
    return False


# --------------------------------------------------------------------------------------------
# Expression checks


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _visibly_not_none(node: ast.expr) -> bool:
    """Whether an expression can be seen not to evaluate to None (a literal, a display, a call of a
    value class); a bare name or attribute might be None at run time."""
    if isinstance(node, ast.Constant):
        return node.value is not None
    return isinstance(
        node,
        ast.Dict | ast.List | ast.Tuple | ast.Set | ast.JoinedStr | ast.Call | ast.DictComp | ast.ListComp,
    )


def _is_literal(node: ast.expr) -> bool:
    """A value that can key a shared client: hashable, and the same on every evaluation."""
    if isinstance(node, ast.Constant):
        return not isinstance(node.value, type(...))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, int | float)
    if isinstance(node, ast.Tuple):
        return all(_is_literal(elt) for elt in node.elts)
    return False


def _is_true_or_false(node: ast.expr) -> bool:
    """An expression that is always `True` or `False` and reads without side effects (`not
    settings.skip_ssl_verify`, `env == "prod"`): it can key a shared client at run time, where the
    constructor stood, and the registry holds at most two clients for it. Other computed values
    (an SSL context built per call, a parameter) could key a new client on every call."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _reads_only(node.operand)
    if isinstance(node, ast.Compare):
        return all(_reads_only(part) for part in [node.left, *node.comparators])
    if isinstance(node, ast.BoolOp):
        return all(_is_true_or_false(value) for value in node.values)
    return False


_BUILD_ONCE = (
    "and the shared client is keyed by value: it would get a new pool per call (build the value "
    "once, at module level or at start-up, and pass that)"
)


def _key_refusal(site: Site, name: str, value: ast.expr) -> str:
    """Empty when `value` can key the shared client, else why not, worded to follow "`name=`".

    A literal keys it statically. A value known only at run time (`settings.ca_bundle`, a module
    constant, `self.http2`, a parameter, `httpx.Limits(max_connections=settings.n)`) keys it by
    value, where the constructor stood, evaluated as often as before (issue 12, item 2); the
    generated module caps how many pools it keeps and closes the ones it evicts. What is refused
    is what is visibly new on every call: a call that builds the value (`ssl.create_default_context()`)
    or a local variable bound to one, which would key a new pool per call; and options that are
    objects with a life of their own (`transport=`), which only literals may key.
    """
    if _is_literal(value) or _is_true_or_false(value):
        return ""
    if name not in site.library.value_options:
        return f"is not a literal (`{_short(value)}`), and only a literal can key the shared client on it"
    for sub in ast.walk(value):
        if isinstance(sub, ast.Call) and not _pure_call(sub, site.library, site):
            return f"is built by a call (`{_short(sub)}`) that may give a new value each time, {_BUILD_ONCE}"
        if not isinstance(sub, _KEY_NODES):
            return (
                f"is computed by `{_short(value)}`, which pool-refactor cannot read as one hashable "
                "value for many calls"
            )
        if isinstance(sub, ast.Name):
            built = _built_in_function(site, sub.id)
            if built is not None:
                line = getattr(built, "lineno", 0)
                return f"is `{sub.id}`, bound on every call to `{_short(built)}` (line {line}), {_BUILD_ONCE}"
    return ""


def _built_in_function(site: Site, name: str) -> ast.expr | None:
    """The expression that binds `name` inside the site's function, on every call, to what a call
    builds (an assignment, a loop or `with` target whose expression calls anything but a pure
    factory); None for parameters, module names and names bound from values read elsewhere."""
    function = site.function
    if function is None:
        return None
    for node, _, nested in _walk_with_parents(_function_body(function)):
        if nested:
            continue
        bound: ast.expr | None = None
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets, bound = node.targets, node.value
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value is not None:
            targets, bound = [node.target], node.value
        elif isinstance(node, ast.For | ast.AsyncFor):
            targets, bound = [node.target], node.iter
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets, bound = [node.optional_vars], node.context_expr
        if bound is None or not any(
            isinstance(t, ast.Name) and t.id == name for target in targets for t in ast.walk(target)
        ):
            continue
        calls = [sub for sub in ast.walk(bound) if isinstance(sub, ast.Call)]
        if any(not _pure_call(call, site.library, site) for call in calls):
            return bound
    return None


def _reads_only(node: ast.expr) -> bool:
    """Names, attributes, subscripts and constants: evaluating them runs no code of the program's
    beyond descriptors (properties), which a per-call constructor ran just the same."""
    return all(
        isinstance(sub, ast.Name | ast.Attribute | ast.Subscript | ast.Constant | ast.Load | ast.Slice)
        for sub in ast.walk(node)
    )


_PURE_NODES = (
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.Dict,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
    ast.keyword,
)


_KEY_NODES = (*(n for n in _PURE_NODES if n not in (ast.Dict, ast.List, ast.Set)), ast.Call)
"""What a value that keys a shared client at run time may be made of: hashable values (a mapping
or list is refused by the accessors), and calls that `_pure_call` accepts."""


_PURE_BUILTINS = frozenset({"str", "int", "float", "bool", "repr", "len", "abs", "round", "format"})
"""Builtins that only convert or measure their argument (as an f-string already does)."""


def _is_movable(node: ast.expr, library: Library, site: Site) -> bool:
    """Whether evaluating `node` again, later, gives the same value and has no side effects.

    Calls are allowed only to the library's own value classes (`httpx.Timeout(10.0)`) and to
    converting builtins (`str(i)`), with positional arguments.
    """
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if not _pure_call(sub, library, site):
                return False
            continue
        if isinstance(sub, ast.Starred):
            return False
        if not isinstance(sub, _PURE_NODES):
            return False
    return True


def _pure_call(call: ast.Call, library: Library, site: Site) -> bool:
    """A call of the library's own value classes (`httpx.Limits(...)`) or of a converting builtin
    with positional arguments (`str(i)`): the same arguments give an equal value, with no side
    effects."""
    if isinstance(call.func, ast.Name) and call.func.id in _PURE_BUILTINS and not call.keywords:
        return True
    target = site.imports.resolve(call.func, site.scopes)
    module, _, member = (target or "").rpartition(".")
    return module in library.modules and member in library.pure_factories


def _short(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 50 else text[:47] + "..."


# --------------------------------------------------------------------------------------------
# Tree walking helpers


def _function_body(function: ast.AST) -> Iterator[ast.AST]:
    if isinstance(function, ast.Lambda):
        yield function.body
    elif isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        yield from function.body


def _walk_all(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    for node in nodes:
        yield from ast.walk(node)


def _node_ids(nodes: Iterable[ast.AST]) -> set[int]:
    return {id(n) for n in _walk_all(nodes)}


def _loop_node_ids(nodes: Iterable[ast.AST], outside: ast.AST | None = None) -> set[int]:
    """Loop bodies (and comprehension elements) inside `nodes`, as ids of their statements/nodes;
    loops that hold `outside` are left out."""
    ids: set[int] = set()
    for node in _walk_all(nodes):
        if outside is not None and isinstance(node, ast.For | ast.AsyncFor | ast.While):
            if any(sub is outside for sub in ast.walk(node)):
                continue
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            ids.update(id(s) for s in node.body)
            if isinstance(node, ast.While):
                ids.add(id(node.test))
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            ids.add(id(node.elt))
        elif isinstance(node, ast.DictComp):
            ids.update({id(node.key), id(node.value)})
    return ids


def _walk_with_parents(nodes: Iterable[ast.AST]) -> Iterator[tuple[ast.AST, list[ast.AST], bool]]:
    """Depth-first walk yielding each node with its chain of parents and whether it is in a nested
    function, lambda or class (where the client could outlive its block)."""
    stack: list[tuple[ast.AST, list[ast.AST], bool]] = [(n, [], False) for n in reversed(list(nodes))]
    while stack:
        node, parents, nested = stack.pop()
        yield node, parents, nested
        child_nested = nested or isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
        )
        chain = [*parents, node]
        children = list(ast.iter_child_nodes(node))
        for child in reversed(children):
            stack.append((child, chain, child_nested))

"""Find the tests that a fix breaks silently: patches of the client construction it removed.

A test that did `mock.patch("shop.users.httpx.AsyncClient")` replaced the client that `shop.users`
built on every call. After `--fix`, `shop.users` asks the generated module for a shared client
instead, so the patch replaces a name nothing calls any more: the test no longer mocks anything and
either hits the network or fails (or, when the fix removed the now unused `import httpx`, the patch
itself fails with `AttributeError`). This module lists those patches, with the fix to make, and
describes the edit that `--fix-tests` makes (`fix.mock_fixes`).

**What a target really is.** A patch names an owner and an attribute (`"shop.users.httpx.AsyncClient"`,
`patch.object(users, "AsyncClient")`, `monkeypatch.setattr(requests, "post", fake)`). The owner is
resolved through the project's own modules and their imports (`ProjectModules`): `shop.users.httpx`
is the module `httpx` because `shop/users.py` says `import httpx`; `shop.users.ClientSession` is
`aiohttp.ClientSession` only when `shop/users.py` imports it from aiohttp, never because of its name
(`from mcp import ClientSession` is not aiohttp's). A name that cannot be resolved is not reported.

**Which patches the fix breaks** (`Replaced` says what each rewritten module stopped calling):

- the attribute, in a rewritten module, that held a replaced constructor or one-shot function
  (`from httpx import AsyncClient` in `shop.users`: `patch("shop.users.AsyncClient")`) or the
  library module itself (`patch("shop.users.httpx")`);
- the library's own constructor or one-shot function (`httpx.AsyncClient`, `requests.post`,
  `requests.sessions.Session`, reached through any module), when a rewritten module called it: the
  shared client is built once and reused, so a client built before the patch escapes it and a mock
  built under it never reaches the code; a one-shot is no longer called at all;
- a lifecycle method of the client class (`__init__`, `__aenter__`, `close`, ...), which the
  rewritten code no longer calls per request;
- any target whose path goes through a name the fix removed (`shop.users.httpx.Client` once
  `import httpx` is gone from `shop.users`): the patch fails with `AttributeError`.

**Constructors that borrow the pool** (`Replaced.borrows`: an aiohttp session given the shared
connector) are still called, so their patches keep working; what breaks is a check of the exact
arguments the mock was built with (`m.assert_called_once_with(...)`, `m.call_args == call(...)`),
which now sees the borrowing arguments too. Those checks are listed, found by following the mock's
name through the test function.

**Not reported** (checked against the generated module, each with a client built *before* the mock
starts, in `tests/test_transport_mocks.py`): a patch of any other method of the client class
(`httpx.AsyncClient.send`, `requests.Session.request`: the shared client is an instance of it), and
transport-level mocking, which patches classes below the client: respx (httpcore's pool),
pytest-httpx (httpx's transports), responses (`HTTPAdapter.send`), requests-mock
(`Session.get_adapter`), aioresponses (`ClientSession._request`). Their `respx.patch(url)` /
`responses.patch(url)` register HTTP PATCH routes and are not `mock.patch`.

Patch forms: `mock.patch`/`unittest.mock.patch` (call, decorator, context manager, `.start()`),
`patch.object`, `patch.multiple`, pytest-mock's `mocker.patch[.object|.multiple]`, pytest's
`monkeypatch.setattr` in both forms (`"dotted.path"` and `(object, "name")`, any receiver name) and
the builtin `setattr(module, "name", fake)`. Parsing uses the stdlib `ast` after a text prefilter,
since a test suite can be as large as the code it tests.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codemods.imports import import_bindings
from pool_refactor.scan.catalog import LIBRARIES, Library
from pool_refactor.scan.names import dotted_name

__all__ = [
    "MockWarning",
    "ProjectModules",
    "Replaced",
    "PatchEdit",
    "call_key",
    "find_broken_mocks",
    "module_bindings",
]

_MOCK_MODULES = ("unittest.mock", "mock")
_MOCKER_NAMES = frozenset({"mocker", "class_mocker", "module_mocker", "package_mocker", "session_mocker"})
_MULTIPLE_OPTIONS = frozenset({"spec", "create", "spec_set", "autospec", "new_callable"})
_PATCH_NAMES = frozenset({"patch", "object", "multiple", "setattr"})
"""The attribute that ends every patching call of the form `x.name(...)` (`mock.patch`,
`patch.object`, `monkeypatch.setattr`); other method calls are not looked at."""
_LIFECYCLE = frozenset(
    {"__init__", "__new__", "__enter__", "__exit__", "__aenter__", "__aexit__", "close", "aclose"}
)
"""Methods of a client class that per-request code called on every request and shared code does not."""
_PATCH_OPTIONS_KEPT = frozenset({"return_value", "side_effect"})
"""Keyword arguments of a one-shot's patch that stay right on the client method's patch."""

_TRANSPORT_MOCKS = {
    "httpx": "`respx` or `pytest-httpx`",
    "aiohttp": "`aioresponses`",
    "requests": "`responses` or `requests-mock`",
    "urllib3": "a patch of `urllib3.PoolManager.urlopen` on the class",
}


@dataclass(frozen=True)
class Replaced:
    """One kind of call a rewritten module no longer makes, and what it makes instead."""

    module: str
    """The rewritten module's absolute name (`shop.users`)."""
    library: str
    """Catalog family (`httpx`)."""
    name: str
    """The constructor or one-shot function it called (`AsyncClient`, `post`)."""
    accessor: str
    """What it calls now (`get_http_client`), imported under that name into `module`."""
    accessor_module: str
    """The generated module's absolute name (`shop.http_client`)."""
    kind: str
    """The plan's kind: `with` (`async with X() as c`), `local` (`c = X()`), `one-shot`, or
    `borrow` (the constructor is still called, with the arguments that borrow the shared pool)."""
    await_result: bool = False
    """A one-shot in async code, now awaited on the async client."""

    @property
    def is_constructor(self) -> bool:
        return self.kind != "one-shot"

    @property
    def borrows(self) -> bool:
        return self.kind == "borrow"


@dataclass(frozen=True)
class PatchEdit:
    """What `--fix-tests` does to one patch so that it mocks the rewritten code again."""

    target: str
    """The new dotted target (`shop.users.get_http_client`, `requests.Session.post`)."""
    owner_suffix: str = ""
    """For `patch.object(owner, name)` forms: appended to the owner expression (`.Session`)."""
    attribute: str = ""
    """For `patch.object(owner, name)` forms: the new attribute name ('' keeps it)."""
    entered: str = ""
    """`__aenter__`/`__enter__`: the patch gets a mock accessor that returns what
    `async with <mock>() as c` bound (`new_callable=`), so the test's set-up keeps working."""
    static: bool = False
    """The replacement value goes onto a class: wrap it in `staticmethod(...)` so that it is called
    without the session, as the module function was."""


@dataclass(frozen=True)
class MockWarning:
    """One patch that stops mocking after the fix."""

    path: str
    line: int
    target: str
    """What is patched, as written (`shop.users.httpx.AsyncClient`)."""
    suggestion: str
    edit: PatchEdit | None = None
    """The edit `--fix-tests` makes, when this shape is one it knows."""
    site: str = ""
    """The patch call's function and target, normalised (`call_key`): `--fix-tests` finds the calls
    to edit by it, without asking libcst for positions (three times the parse)."""
    manual: str = ""
    """Why `--fix-tests` leaves it to you, when `edit` is None."""


# ---------------------------------------------------------------------------
# The project's modules and what their names are bound to
# ---------------------------------------------------------------------------


def module_bindings(tree: ast.Module, module: str, is_package: bool = False) -> dict[str, str]:
    """Name -> absolute dotted name, for the imports at a module's top level (in `try`/`if` blocks
    too, not in functions: a patch sees the module's attributes)."""
    names: dict[str, str] = {}
    package = module if is_package else module.rpartition(".")[0]
    for node in _top_level(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".", 1)[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    continue
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([base] if base else [])])
            for alias in node.names:
                if alias.name != "*" and base:
                    names[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.pop(node.name, None)  # defined here after an import of the same name
    return names


def _top_level(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        yield node
        if isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _top_level(block)
        elif isinstance(node, ast.If):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)


@dataclass
class ProjectModules:
    """The project's own modules, found by name under its import roots, and read on demand.

    `before` holds the source of the rewritten modules as it was (they are already rewritten on
    disk when the tests are read), `after` the source `--fix` wrote, to tell a name the fix removed.
    """

    roots: Sequence[Path]
    before: Mapping[str, str] = field(default_factory=dict)
    after: Mapping[str, str] = field(default_factory=dict)
    _cache: dict[tuple[str, bool], dict[str, str] | None] = field(default_factory=dict)

    def _read(self, name: str) -> tuple[str, bool] | None:
        if name in self.before:
            return self.before[name], False
        relative = Path(*name.split("."))
        for root in self.roots:
            for path, is_package in (
                (root / relative.with_suffix(".py"), False),
                (root / relative / "__init__.py", True),
            ):
                if path.is_file():
                    try:
                        return path.read_text(encoding="utf-8"), is_package
                    except (OSError, UnicodeDecodeError):
                        return None
        return None

    def bindings(self, name: str, *, after: bool = False) -> dict[str, str] | None:
        """The imports of module `name` (as it is after the fix, with `after`), or None when it is
        not a module of the project."""
        key = (name, after)
        if key not in self._cache:
            found = (self.after[name], False) if after and name in self.after else self._read(name)
            bound: dict[str, str] | None = None
            if found is not None:
                text, is_package = found
                try:
                    tree = ast.parse(text)
                except (SyntaxError, ValueError):
                    tree = ast.Module(body=[], type_ignores=[])
                bound = module_bindings(tree, name, is_package)
            self._cache[key] = bound
        return self._cache[key]

    def first_module(self, dotted: str) -> str | None:
        """The longest project module that `dotted` starts with (`shop.orders` of
        `shop.orders.httpx.AsyncClient`), None when it names nothing of the project."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            if self.bindings(module) is not None:
                return module
        return None

    def resolve(self, dotted: str) -> tuple[str, str]:
        """What `dotted` really is, through the project's imports, and the first name on the way
        that the fix removed ('' when none): `shop.users.httpx.AsyncClient` -> `httpx.AsyncClient`."""
        gone = ""
        for _ in range(16):  # re-export chains are short; a cycle must end
            parts = dotted.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                module = ".".join(parts[:cut])
                bound = self.bindings(module)
                if bound is None:
                    continue
                head = parts[cut]
                if head not in bound:
                    return dotted, gone
                if not gone and module in self.after:
                    now = self.bindings(module, after=True) or {}
                    if head not in now:
                        gone = f"{module}.{head}"
                dotted = ".".join([bound[head], *parts[cut + 1 :]])
                break
            else:
                return dotted, gone
        return dotted, gone


# ---------------------------------------------------------------------------
# Which calls patch what
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Patch:
    call: ast.Call
    kind: str
    """`patch`, `object`, `multiple`, `setattr` (monkeypatch's or the builtin)."""
    target: str
    """The dotted target as written, through the test file's imports for object forms."""
    owner: str
    attribute: str
    string_form: bool
    """The target is one string (`patch("a.b")`, `monkeypatch.setattr("a.b", v)`)."""


def call_key(call: ast.Call) -> str:
    """`func|first|second` of a patch call, each normalised by `ast.unparse` (a string by its value),
    so that the same call read by libcst gives the same key."""
    parts = [ast.unparse(call.func)]
    for argument in [a for a in call.args if not isinstance(a, ast.Starred)][:2]:
        value = _string(argument)
        parts.append(value if value is not None else ast.unparse(argument))
    return "|".join(parts)


def _bindings(imports: Iterable[ast.Import | ast.ImportFrom]) -> dict[str, str]:
    """Local name -> imported dotted name, for every import in a test file (function-local too);
    relative imports name the test's own helpers, never a library, and are left out."""
    absolute = [node for node in imports if not (isinstance(node, ast.ImportFrom) and node.level)]
    return import_bindings(absolute)


def _imported(imports: Iterable[ast.Import | ast.ImportFrom]) -> set[str]:
    """Every module and name a test file imports, in full (`import a.b` gives `a.b`)."""
    names: set[str] = set()
    for node in imports:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _resolve_local(node: ast.expr, bindings: Mapping[str, str], *, imported_only: bool) -> str | None:
    """The dotted name an expression stands for through the file's imports. With
    `imported_only`, a chain that does not start with an imported name is unknown (a local fake)."""
    dotted = dotted_name(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    bound = bindings.get(head)
    if bound is None:
        return None if imported_only else dotted
    return f"{bound}.{rest}" if rest else bound


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    if len(call.args) > index and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    return None


def _patch_kind(call: ast.Call, bindings: Mapping[str, str]) -> str | None:
    """`patch`, `object`, `multiple` or `setattr` when the call patches something, else None."""
    func = call.func
    if isinstance(func, ast.Name) and func.id == "setattr" and "setattr" not in bindings:
        return "setattr"
    if isinstance(func, ast.Attribute) and func.attr == "setattr":
        return "setattr"
    name = _resolve_local(func, bindings, imported_only=False)
    if name is None:
        return None
    for suffix, kind in ((".patch", "patch"), (".patch.object", "object"), (".patch.multiple", "multiple")):
        if name.endswith(suffix):
            receiver = name[: -len(suffix)]
            if receiver in _MOCK_MODULES or receiver.rsplit(".", 1)[-1] in _MOCKER_NAMES:
                return kind
    return None


def _split(target: str) -> tuple[str, str]:
    owner, _, attribute = target.rpartition(".")
    return owner, attribute


def _patches(call: ast.Call, bindings: Mapping[str, str]) -> list[_Patch]:
    kind = _patch_kind(call, bindings)
    if kind is None:
        return []
    if kind == "patch":
        target = _string(_argument(call, 0, "target"))
        return [_Patch(call, kind, target, *_split(target), True)] if target and "." in target else []
    if kind == "multiple":
        owner_node = _argument(call, 0, "target")
        base = _string(owner_node) or (
            _resolve_local(owner_node, bindings, imported_only=True) if owner_node else None
        )
        if not base:
            return []
        return [
            _Patch(call, kind, f"{base}.{k.arg}", base, k.arg, False)
            for k in call.keywords
            if k.arg and k.arg not in _MULTIPLE_OPTIONS
        ]
    first = _argument(call, 0, "target")
    if kind == "setattr":
        dotted = _string(first)
        if dotted is not None:  # monkeypatch.setattr("pkg.mod.name", value)
            return [_Patch(call, kind, dotted, *_split(dotted), True)] if "." in dotted else []
        attribute = _string(_argument(call, 1, "name"))
    else:
        attribute = _string(_argument(call, 1, "attribute"))
    base = _resolve_local(first, bindings, imported_only=True) if first is not None else None
    if not base or not attribute:
        return []
    return [_Patch(call, kind, f"{base}.{attribute}", base, attribute, False)]


# ---------------------------------------------------------------------------
# Which targets the fix made useless
# ---------------------------------------------------------------------------


def find_broken_mocks(
    test_files: Sequence[tuple[Path, str]],
    replaced: Iterable[Replaced],
    modules: ProjectModules,
) -> list[MockWarning]:
    """The patches in `test_files` that the fix made useless, sorted by path and line.

    `replaced` says what each rewritten module stopped calling; `modules` resolves the names.
    With nothing replaced nothing is reported.
    """
    replaced = list(replaced)
    if not replaced:
        return []
    classifier = _Classifier(replaced, modules)
    warnings: list[MockWarning] = []
    for path, text in test_files:
        if "patch" not in text and "setattr" not in text:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        imports: list[ast.Import | ast.ImportFrom] = []
        calls: list[ast.Call] = []
        for node in ast.walk(tree):  # once: a test suite can be as large as the code it tests
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) or (
                    isinstance(func, ast.Attribute) and func.attr in _PATCH_NAMES
                ):
                    calls.append(node)  # a bare name may be an alias: `from unittest.mock import patch as p`
            elif isinstance(node, ast.Import | ast.ImportFrom):
                imports.append(node)
        bindings = _bindings(imports)
        imported = _imported(imports)
        parents: dict[int, ast.AST] | None = None
        for call in calls:
            for patch in _patches(call, bindings):
                warning = classifier.warning(patch, path.as_posix(), imported)
                if warning is not None:
                    warnings.append(warning)
                    continue
                borrowing = classifier.borrowing(patch)
                if not borrowing:
                    continue
                parents = parents if parents is not None else _parent_map(tree)
                checks = _exact_argument_checks(patch, parents)
                if checks:
                    warnings.append(classifier.borrow_warning(patch, path.as_posix(), borrowing, checks))
    warnings.sort(key=lambda w: (w.path, w.line, w.target))
    return warnings


def _library_module(name: str) -> Library | None:
    """The library a module name belongs to (`requests`, `requests.sessions`, `httpx._api`)."""
    top = name.split(".", 1)[0]
    return next((lib for lib in LIBRARIES if top in lib.modules), None)


_CLIENT_CLASSES = {"get_http_client": "AsyncClient", "get_sync_http_client": "Client"}


class _Classifier:
    def __init__(self, replaced: Sequence[Replaced], modules: ProjectModules) -> None:
        # A borrowing constructor is still called, so its patches keep working: only checks of
        # its exact arguments break (`borrowing`); it is kept apart from what the fix replaced.
        self._replaced = [item for item in replaced if not item.borrows]
        self._borrowed = [item for item in replaced if item.borrows]
        self._modules = modules
        self._by_module: dict[str, list[Replaced]] = {}
        for item in self._replaced:
            self._by_module.setdefault(item.module, []).append(item)
        self._borrowed_by_module: dict[str, list[Replaced]] = {}
        for item in self._borrowed:
            self._borrowed_by_module.setdefault(item.module, []).append(item)

    def borrowing(self, patch: _Patch) -> list[Replaced]:
        """The borrowing constructions that `patch` replaces with its mock: a patch of the class
        where a module that borrows imports it, or of the library's class itself. A requests
        session borrows without new arguments (`borrow_requests_session()` builds it as before),
        so checks of its arguments still hold: it is not among them."""
        return [r for r in self._borrowing(patch) if _borrow_arguments(r)]

    def _borrowing(self, patch: _Patch) -> list[Replaced]:
        if not self._borrowed:
            return []
        owner, _ = self._modules.resolve(patch.owner)
        own = self._borrowed_by_module.get(owner)
        if own is not None:
            bound = (self._modules.bindings(owner) or {}).get(patch.attribute)
            if bound is None:
                return []
            real, _ = self._modules.resolve(bound)
            library = _library_module(real)
            name = real.rsplit(".", 1)[-1]
            return [r for r in own if library is not None and r.library == library.family and r.name == name]
        library = _library_module(owner)
        if library is None or (
            library.constructor(patch.attribute) is None and patch.attribute not in library.one_shots
        ):
            return []
        aimed = self._modules.first_module(patch.owner)
        if aimed is not None and aimed not in self._borrowed_by_module:
            return []
        return [r for r in self._borrowed if r.library == library.family and r.name == patch.attribute]

    def borrow_warning(
        self, patch: _Patch, path: str, users: Sequence[Replaced], checks: Sequence[tuple[int, str]]
    ) -> MockWarning:
        """The exact-argument checks of a mocked constructor that now also gets the pool's arguments."""
        library = next(lib for lib in LIBRARIES if lib.family == users[0].library)
        arguments = _borrow_arguments(users[0])
        added = ", ".join(f"{name}={value}" for name, value in arguments)
        expected = ", ".join(
            f"{name}=mock.ANY" if "(" in value else f"{name}={value}" for name, value in arguments
        )
        called = f"{library.modules[0]}.{users[0].name}"
        modules = ", ".join(sorted({f"`{r.module}`" for r in users}))
        where = ", ".join(f"line {line} (`{what}`)" for line, what in checks)
        text = (
            f"After the fix {modules} still calls `{called}`, so this patch keeps "
            f"working, but it passes `{added}` too (the client borrows the shared connection pool): the "
            f"check of its exact arguments at {where} fails. Expect them as well: `{expected}`."
        )
        return MockWarning(
            path,
            patch.call.lineno,
            patch.target,
            text,
            manual="an assertion of the constructor's exact arguments is edited by hand",
            site=call_key(patch.call),
        )

    def _users(self, library: Library, name: str) -> list[Replaced]:
        return [r for r in self._replaced if r.library == library.family and r.name == name]

    def warning(self, patch: _Patch, path: str, imported: set[str]) -> MockWarning | None:
        owner, gone = self._modules.resolve(patch.owner)
        attribute = patch.attribute
        line = patch.call.lineno
        own = self._by_module.get(owner)
        if own is not None:  # an attribute of a rewritten module
            bound = (self._modules.bindings(owner) or {}).get(attribute)
            if bound is None:
                return None
            real, _ = self._modules.resolve(bound)
            library = _library_module(real)
            if library is None:
                return None
            if real in library.modules:  # `shop.users.httpx`: the module itself
                users = [r for r in own if r.library == library.family]
                return (
                    MockWarning(path, line, patch.target, self._module_gone(owner, attribute, users))
                    if users
                    else None
                )
            name = real.rsplit(".", 1)[-1]
            users = [r for r in own if r.library == library.family and r.name == name]
            if not users:
                return None
            return self._replaced_warning(patch, path, users, imported, gone)
        library = _library_module(owner)
        if library is None:
            return None
        owner_parts = owner.split(".")
        if library.constructor(owner_parts[-1]) is not None and attribute in _LIFECYCLE:
            users = self._users(library, owner_parts[-1])
            if not users:
                return None
            accessor = self._accessors(users)
            text = (
                f"The rewritten code no longer calls `{owner_parts[-1]}.{attribute}` on each request: the "
                f"shared client from {accessor} is built once and never entered or closed by it, so this "
                f"patch no longer runs. {self._advice(library, users)}"
            )
            return MockWarning(
                path, line, patch.target, text, manual="a lifecycle method has no shared-client equivalent"
            )
        name = attribute
        if library.constructor(name) is None and name not in library.one_shots:
            return None
        aimed = self._modules.first_module(patch.owner)
        if aimed is not None and aimed not in self._by_module and not gone:
            # `shop.orders.httpx.AsyncClient`: aimed at a module the fix left alone, which still
            # calls it (the same object as `httpx.AsyncClient`, but the test is about shop.orders)
            return None
        users = self._users(library, name)
        if not users:
            if gone:
                return MockWarning(path, line, patch.target, self._gone_text(patch.target, gone))
            return None
        return self._replaced_warning(patch, path, users, imported, gone)

    # -- suggestions ----------------------------------------------------------

    def _accessors(self, users: Sequence[Replaced]) -> str:
        names = sorted({f"`{r.module}.{r.accessor}`" for r in users})
        if len(names) > 3:
            return ", ".join(names[:3]) + f" and {len(names) - 3} more modules"
        return " or ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " or " + names[-1]

    def _advice(self, library: Library, users: Sequence[Replaced]) -> str:
        resets = sorted({f"`{r.accessor_module}.reset_http_clients()`" for r in users})
        return (
            f"Or mock the transport with {_TRANSPORT_MOCKS.get(library.family, 'a transport-level mock')}, "
            f"which keeps working with the shared client, and call {' or '.join(resets)} in a fixture."
        )

    def _gone_text(self, target: str, gone: str) -> str:
        module, _, name = gone.rpartition(".")
        return (
            f"`{module}` no longer imports `{name}` after the fix, so patching `{target}` fails with "
            f"AttributeError; patch the name where the code under test looks it up now."
        )

    def _module_gone(self, module: str, name: str, users: Sequence[Replaced]) -> str:
        library = next(lib for lib in LIBRARIES if lib.family == users[0].library)
        still = name in (self._modules.bindings(module, after=True) or {name: ""})
        effect = (
            "no longer replaces the client it uses"
            if still
            else "fails with AttributeError (the fix removed the import)"
        )
        return (
            f"`{module}` gets its client from {self._accessors(users)} after the fix, so patching "
            f"`{module}.{name}` {effect}. Patch {self._accessors(users)} instead. "
            + self._advice(library, users)
        )

    def _replaced_warning(
        self, patch: _Patch, path: str, users: Sequence[Replaced], imported: set[str], gone: str = ""
    ) -> MockWarning:
        library = next(lib for lib in LIBRARIES if lib.family == users[0].library)
        first = users[0]
        if first.is_constructor:
            what = f"builds its client with {self._accessors(users)}"
            fix = f"patch {self._accessors(users)} (the accessor, where the code under test imports it)"
        else:
            method = self._client_method(first)
            what = f"sends the request on the shared client from {self._accessors(users)}"
            fix = f"patch `{method}` (the shared client's method: it gets the same arguments)"
        aimed = self._modules.first_module(patch.owner)
        where = f"`{aimed}`" if aimed in self._by_module else "the rewritten code"
        text = (
            f"After the fix {where} no longer calls `{patch.attribute}`: it {what}, so patching "
            f"`{patch.target}` no longer mocks it"
            + (f" (it fails with AttributeError: the fix removed `{gone}`)" if gone else "")
            + f". Instead, {fix}. {self._advice(library, users)}"
        )
        edit, manual = self._edit(patch, users, imported)
        return MockWarning(
            path, patch.call.lineno, patch.target, text, edit=edit, manual=manual, site=call_key(patch.call)
        )

    def _client_method(self, replaced: Replaced) -> str:
        library = next(lib for lib in LIBRARIES if lib.family == replaced.library)
        ctor = next(
            (c for c in library.constructors if c.accessor == replaced.accessor), library.constructors[0]
        )
        return f"{library.modules[0]}.{ctor.name}.{replaced.name}"

    # -- what --fix-tests does ------------------------------------------------

    def _edit(
        self, patch: _Patch, users: Sequence[Replaced], imported: set[str]
    ) -> tuple[PatchEdit | None, str]:
        keywords = {k.arg for k in patch.call.keywords if k.arg}
        if patch.kind == "multiple":
            return None, "`patch.multiple` is rewritten by hand"
        first = users[0]
        if not first.is_constructor:
            if any(r.is_constructor or r.name != first.name or r.accessor != first.accessor for r in users):
                return None, "the rewritten modules replaced it in more than one way"
            if patch.kind in ("patch", "object") and keywords - _PATCH_OPTIONS_KEPT - {
                "new",
                "target",
                "attribute",
            }:
                return None, "the patch has options (`autospec`, `spec`, ...) that differ on a method"
            method = self._client_method(first)
            owner_class = method.split(".")[1]
            static = (
                patch.kind == "setattr"
                or "new" in keywords
                or (patch.kind == "patch" and len(patch.call.args) > 1)
                or (patch.kind == "object" and len(patch.call.args) > 2)
            )
            if patch.string_form:
                return PatchEdit(method, static=static), ""
            return PatchEdit(method, owner_suffix=f".{owner_class}", static=static), ""
        # A constructor: patch the accessor where one module under test imports it.
        kinds = {r.kind for r in users}
        if len(kinds) != 1 or kinds == {"local"} and any(r.library == "aiohttp" for r in users):
            return None, "the code under test used the client in more than one way"
        modules = sorted({r.module for r in users})
        aimed = self._modules.first_module(patch.owner)
        if aimed in modules:
            modules = [aimed]
        else:  # a global patch: the module under test is the one the test file imports
            tested = [m for m in modules if m in imported or any(i.startswith(m + ".") for i in imported)]
            if len(tested) != 1:
                return (
                    None,
                    "more than one rewritten module uses it; patch the accessor of the one under test",
                )
            modules = tested
        module = modules[0]
        accessor = next(r.accessor for r in users if r.module == module)
        if keywords & {"new", "new_callable", "autospec", "spec", "spec_set", "return_value", "side_effect"}:
            return None, "the patch gives its own replacement; make it return the client the code uses"
        if patch.kind == "setattr":
            return None, "a fake class must be returned by a fake accessor; write it by hand"
        kind = next(iter(kinds))
        entered = ""
        if kind == "with":
            entered = "__aenter__" if any(_is_async(r) for r in users) else "__enter__"
        if patch.string_form:
            return PatchEdit(f"{module}.{accessor}", entered=entered), ""
        return None, "`patch.object` of a constructor is rewritten by hand"


def _is_async(replaced: Replaced) -> bool:
    library = next(lib for lib in LIBRARIES if lib.family == replaced.library)
    ctor = library.constructor(replaced.name)
    return bool(ctor and ctor.is_async)


def _borrow_arguments(replaced: Replaced) -> list[tuple[str, str]]:
    """The arguments a borrowing construction gains (for a one-shot such as `aiohttp.request`, those
    of its session that it takes)."""
    library = next(lib for lib in LIBRARIES if lib.family == replaced.library)
    ctor = library.constructor(replaced.name)
    if ctor is not None:
        return list(ctor.borrow_arguments)
    borrowing = next((c for c in library.constructors if c.borrow_accessor), None)
    if borrowing is None:
        return []
    return [(name, value) for name, value in borrowing.borrow_arguments if name in library.one_shot_borrow]


# ---------------------------------------------------------------------------
# Checks of a mock's exact arguments (a borrowing constructor gets more of them)
# ---------------------------------------------------------------------------

_EXACT_CHECKS = frozenset(
    {"assert_called_with", "assert_called_once_with", "assert_any_call", "assert_has_calls"}
)
_RECORDED_CALLS = frozenset({"call_args", "call_args_list", "mock_calls"})


def _parent_map(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _exact_argument_checks(patch: _Patch, parents: Mapping[int, ast.AST]) -> list[tuple[int, str]]:
    """Where the test checks every argument the mock that `patch` installs was called with
    (`m.assert_called_once_with(...)`, `m.call_args == call(...)`): line and the check's text.
    The mock is followed by name through the test function: `with patch(...) as m`, `m =
    mocker.patch(...)`, `m = patch(...).start()`, a `@patch` decorator's parameter, or the fake
    given to `monkeypatch.setattr`/`new=`."""
    names, scope = _mock_names(patch, parents)
    if not names or scope is None:
        return []
    found: list[tuple[int, str]] = []
    for node in ast.walk(scope):
        if not (
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names
        ):
            continue
        if node.attr in _EXACT_CHECKS and isinstance(parents.get(id(node)), ast.Call):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
        elif node.attr in _RECORDED_CALLS:
            holder = parents.get(id(node))
            if isinstance(holder, ast.Attribute) and holder.attr in ("kwargs", "args"):
                holder = parents.get(id(holder))
            if isinstance(holder, ast.Compare) and all(
                isinstance(op, ast.Eq | ast.NotEq) for op in holder.ops
            ):
                found.append((node.lineno, f"{node.value.id}.{node.attr} =="))
    return sorted(set(found))


def _mock_names(patch: _Patch, parents: Mapping[int, ast.AST]) -> tuple[set[str], ast.AST | None]:
    """The names the mock of a patch call is known by, and the function they live in."""
    call = patch.call
    names: set[str] = set()
    given = _given_value(patch)
    if isinstance(given, ast.Name):
        names.add(given.id)
    holder = parents.get(id(call))
    if isinstance(holder, ast.Attribute) and holder.attr == "start":
        started = parents.get(id(holder))
        holder = parents.get(id(started)) if isinstance(started, ast.Call) else None
    if isinstance(holder, ast.withitem) and isinstance(holder.optional_vars, ast.Name):
        names.add(holder.optional_vars.id)
    elif isinstance(holder, ast.Assign | ast.AnnAssign):
        targets = holder.targets if isinstance(holder, ast.Assign) else [holder.target]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    elif isinstance(holder, ast.FunctionDef | ast.AsyncFunctionDef) and call in holder.decorator_list:
        parameter = _decorator_parameter(holder, call, parents)
        if parameter:
            names.add(parameter)
        return names, holder
    scope: ast.AST | None = holder
    while scope is not None and not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
        scope = parents.get(id(scope))
    return names, scope


def _given_value(patch: _Patch) -> ast.expr | None:
    """The replacement a patch call is given (`new=`, or the positional after the target), if any."""
    for keyword in patch.call.keywords:
        if keyword.arg in ("new", "value"):
            return keyword.value
    position = {"patch": 1, "object": 2, "setattr": 1 if patch.string_form else 2}.get(patch.kind)
    if position is None or len(patch.call.args) <= position:
        return None
    return patch.call.args[position]


def _decorator_parameter(
    function: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call, parents: Mapping[int, ast.AST]
) -> str:
    """The parameter a `@patch(...)` decorator passes its mock in: the decorator nearest the
    function gives the first mock argument (after `self`/`cls`); one given a replacement gives none."""
    giving: list[ast.expr] = []
    for decorator in reversed(function.decorator_list):
        if not isinstance(decorator, ast.Call):
            continue
        name = dotted_name(decorator.func) or ""
        if name.rsplit(".", 1)[-1] not in ("patch", "object"):
            continue
        kind = "object" if name.endswith(".object") else "patch"
        if _given_value(_Patch(decorator, kind, "", "", "", kind == "patch")) is None:
            giving.append(decorator)
    if call not in giving:
        return ""
    parameters = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if parameters and parameters[0] in ("self", "cls"):
        parameters = parameters[1:]
    index = giving.index(call)
    return parameters[index] if index < len(parameters) else ""

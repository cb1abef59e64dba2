"""Find the tests that a fix will break silently: patches of the client construction it removed.

A test that did `mock.patch("shop.users.httpx.AsyncClient")` replaced the client that
`shop.users` built on every call. After `--fix`, `shop.users` asks the generated module for a shared
client instead, so the patch replaces a name nothing calls any more: the test no longer mocks
anything and either hits the network or passes for the wrong reason (or, when the fix removed the
now unused `import httpx`, fails with an `AttributeError`). This module lists those patches, with
what to do instead.

Reported, for the libraries whose sites were rewritten (`libraries`, catalog family names):

- a patch whose string target, or `object.attribute` pair, names a client constructor or one-shot
  function inside a rewritten module: `shop.users.httpx.AsyncClient`, `shop.users.AsyncClient`
  (from-imported), `shop.users.requests.get`, or the library module itself, `shop.users.httpx`;
- a patch of the library's own name, `httpx.AsyncClient`, `requests.get`,
  `requests.sessions.Session`, in any test file, as soon as any module was rewritten: the shared
  client is built once (per event loop for async clients) and then reused, so a client built before
  the patch escapes it, and a mock built under it is cached and leaks into later tests.

Patch forms: `mock.patch`/`unittest.mock.patch` (call, decorator, context manager, `.start()`),
`patch.object`, `patch.multiple`, pytest-mock's `mocker.patch[.object|.multiple]`, pytest's
`monkeypatch.setattr` in both forms (`"dotted.path"` and `(object, "name")`, any receiver name)
and the builtin `setattr(module, "name", fake)`.

Not reported: patches of a method on the class (`httpx.AsyncClient.send`,
`requests.Session.request`), which still apply to the shared client because it is an instance of
that class; and transport mocking (`respx`, `pytest-httpx`, `aioresponses`, `responses`), which
intercepts requests below the client and keeps working. Their `respx.patch(url)` /
`responses.patch(url)` register HTTP PATCH routes and are not `mock.patch`.

Parsing uses the stdlib `ast` (about ten times faster than libcst here) after a text prefilter, since
a test suite can be as large as the code it tests.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pool_refactor.scan.catalog import LIBRARIES, Library
from pool_refactor.scan.names import dotted_name

__all__ = ["MockWarning", "find_broken_mocks"]

_MOCK_MODULES = ("unittest.mock", "mock")
_MOCKER_NAMES = frozenset({"mocker", "class_mocker", "module_mocker", "package_mocker", "session_mocker"})
_MULTIPLE_OPTIONS = frozenset({"spec", "create", "spec_set", "autospec", "new_callable"})
_LIBRARY_SUBMODULES = frozenset({"api", "_api"})
"""Where libraries define their one-shot functions (`requests.api.get`, `httpx._api.get`)."""

_TRANSPORT_MOCKS = {
    "httpx": "`respx` or `pytest-httpx`",
    "aiohttp": "`aioresponses`",
    "requests": "`responses`",
    "urllib3": "a patch of `urllib3.PoolManager.urlopen` on the class",
}


@dataclass(frozen=True)
class MockWarning:
    """One patch that stops mocking after the fix."""

    path: str
    line: int
    target: str
    """What is patched, as a dotted name (`shop.users.httpx.AsyncClient`)."""
    suggestion: str


def find_broken_mocks(
    test_files: Sequence[tuple[Path, str]],
    rewritten_modules: Collection[str] | Mapping[str, str],
    libraries: Collection[str] | None = None,
) -> list[MockWarning]:
    """The patches in `test_files` that the fix made useless, sorted by path and line.

    `rewritten_modules` are the dotted names of the modules the fix changed (`shop.users`); a
    mapping from those to the generated module's import name (`shop.http_client`) makes the
    suggestions name the exact accessor. `libraries` are the catalog families whose sites were
    rewritten (`{"httpx"}`); None means every library. With no rewritten module nothing is reported.
    """
    if not rewritten_modules:
        return []
    accessors = dict(rewritten_modules) if isinstance(rewritten_modules, Mapping) else {}
    selected = [lib for lib in LIBRARIES if libraries is None or lib.family in libraries]
    if not selected:
        return []
    classifier = _Classifier(sorted(rewritten_modules, key=len, reverse=True), accessors, selected)
    warnings: list[MockWarning] = []
    for path, text in test_files:
        if "patch" not in text and "setattr" not in text:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        bindings = _bindings(tree)
        for call in _calls(tree):
            for target in _patch_targets(call, bindings):
                suggestion = classifier.suggestion(target)
                if suggestion is not None:
                    warnings.append(MockWarning(path.as_posix(), call.lineno, target, suggestion))
    warnings.sort(key=lambda w: (w.path, w.line, w.target))
    return warnings


# ---------------------------------------------------------------------------
# Which calls patch what
# ---------------------------------------------------------------------------


def _bindings(tree: ast.Module) -> dict[str, str]:
    """Local name -> imported dotted name, for every import in the file (function-local too)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".", 1)[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _calls(tree: ast.Module) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _resolve(node: ast.expr, bindings: Mapping[str, str], *, imported_only: bool) -> str | None:
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
    name = _resolve(func, bindings, imported_only=False)
    if name is None:
        return None
    for suffix, kind in ((".patch", "patch"), (".patch.object", "object"), (".patch.multiple", "multiple")):
        if name.endswith(suffix):
            receiver = name[: -len(suffix)]
            if receiver in _MOCK_MODULES or receiver.rsplit(".", 1)[-1] in _MOCKER_NAMES:
                return kind
    return None


def _patch_targets(call: ast.Call, bindings: Mapping[str, str]) -> list[str]:
    kind = _patch_kind(call, bindings)
    if kind == "patch":
        target = _string(_argument(call, 0, "target"))
        return [target] if target else []
    if kind == "object":
        owner = _argument(call, 0, "target")
        attribute = _string(_argument(call, 1, "attribute"))
        base = _resolve(owner, bindings, imported_only=True) if owner is not None else None
        return [f"{base}.{attribute}"] if base and attribute else []
    if kind == "multiple":
        owner = _argument(call, 0, "target")
        base = _string(owner) or (_resolve(owner, bindings, imported_only=True) if owner else None)
        if not base:
            return []
        return [f"{base}.{k.arg}" for k in call.keywords if k.arg and k.arg not in _MULTIPLE_OPTIONS]
    if kind == "setattr":
        first = _argument(call, 0, "target")
        dotted = _string(first)
        if dotted is not None:  # monkeypatch.setattr("pkg.mod.name", value)
            return [dotted] if "." in dotted else []
        name = _string(_argument(call, 1, "name"))
        base = _resolve(first, bindings, imported_only=True) if first is not None else None
        return [f"{base}.{name}"] if base and name else []
    return []


# ---------------------------------------------------------------------------
# Which targets the fix made useless
# ---------------------------------------------------------------------------


class _Classifier:
    def __init__(
        self, modules: Sequence[str], accessors: Mapping[str, str], libraries: Sequence[Library]
    ) -> None:
        self._modules = modules
        self._accessors = accessors
        self._libraries = libraries
        chosen = sorted(set(accessors.values()))
        self._any_accessor = chosen[0] if len(chosen) == 1 else None

    def _library_of_module(self, name: str) -> Library | None:
        return next((lib for lib in self._libraries if name in lib.modules), None)

    def _library_of_constructor(self, name: str) -> Library | None:
        return next((lib for lib in self._libraries if lib.constructor(name) is not None), None)

    def suggestion(self, target: str) -> str | None:
        for module in self._modules:
            if target.startswith(module + "."):
                rest = target[len(module) + 1 :].split(".")
                return self._in_module(target, module, rest)
        return self._global(target)

    def _in_module(self, target: str, module: str, rest: list[str]) -> str | None:
        """A patch of a name inside a rewritten module."""
        accessor_module = self._accessors.get(module)
        if len(rest) == 1:
            library = self._library_of_module(rest[0])
            if library is not None:
                return self._module_gone(target, module, library, accessor_module)
            library = self._library_of_constructor(rest[0])
            if library is not None:
                return self._replaced(target, module, library, rest[0], accessor_module)
            return None
        if len(rest) == 2:
            owner, name = rest
            library = self._library_of_constructor(name)
            if library is not None:  # `module.<any alias>.AsyncClient`
                return self._replaced(target, module, library, name, accessor_module)
            library = self._library_of_module(owner)
            if library is not None and name in library.one_shots:
                return self._replaced(target, module, library, name, accessor_module)
        return None  # deeper: a method on the class, which still applies to the shared client

    def _global(self, target: str) -> str | None:
        """A patch of the library's own name, seen by every module including the generated one."""
        parts = target.split(".")
        library = self._library_of_module(parts[0])
        if library is None or len(parts) < 2:
            return None
        name = parts[-1]
        middle = parts[1:-1]
        if library.constructor(name) is not None and all(p.isidentifier() and p.islower() for p in middle):
            return self._escaped(target, library, name)
        if name in library.one_shots and (
            not middle or (len(middle) == 1 and middle[0] in _LIBRARY_SUBMODULES)
        ):
            return self._escaped(target, library, name)
        return None

    # -- suggestions ----------------------------------------------------------

    def _accessor_call(self, library: Library, name: str, accessor_module: str | None) -> str:
        """`shop.http_client.get_http_client`: the accessor that replaced constructor or one-shot
        `name` (one-shot functions are sync, except aiohttp's, so they map to the sync client)."""
        ctor = library.constructor(name) or next(
            (c for c in library.constructors if not c.is_async), library.constructors[0]
        )
        return f"{self._where(accessor_module)}.{ctor.accessor}"

    def _where(self, accessor_module: str | None) -> str:
        return accessor_module or self._any_accessor or "<package>.http_client"

    def _advice(self, library: Library, accessor: str) -> str:
        where = accessor.rsplit(".", 1)[0]
        return (
            f"Patch `{accessor}` to return your fake, or better, mock the transport with "
            f"{_TRANSPORT_MOCKS.get(library.family, 'a transport-level mock')} and call "
            f"`{where}.reset_http_clients()` in a fixture so each test builds its client under its own "
            "mocks."
        )

    def _replaced(
        self, target: str, module: str, library: Library, name: str, accessor_module: str | None
    ) -> str:
        accessor = self._accessor_call(library, name, accessor_module)
        what = "builds no client of its own" if library.constructor(name) else f"no longer calls `{name}`"
        return (
            f"`{module}` {what} after the fix: it uses the shared client from `{accessor}()`, so "
            f"patching `{target}` replaces a name nothing calls and the test silently stops mocking. "
            + self._advice(library, accessor)
        )

    def _module_gone(self, target: str, module: str, library: Library, accessor_module: str | None) -> str:
        accessor = self._accessor_call(library, "", accessor_module)
        return (
            f"`{module}` gets its client from `{self._where(accessor_module)}` after the fix and may no "
            "longer import "
            f"`{target.rsplit('.', 1)[-1]}`: this patch then fails with AttributeError, and where the "
            f"import stays it no longer replaces the client. {self._advice(library, accessor)}"
        )

    def _escaped(self, target: str, library: Library, name: str) -> str:
        accessor = self._accessor_call(library, name, None)
        if library.constructor(name) is not None:
            why = (
                f"the shared client is built once by `{accessor}()` (per event loop for async clients) "
                "and reused: a client built before this patch escapes it, and a mock built under it is "
                "cached and leaks into later tests"
            )
        else:
            why = (
                f"the rewritten code calls `{accessor}()` and sends the request on the shared client, "
                f"so `{target}` is no longer called"
            )
        return f"Patching `{target}` globally stops working reliably after the fix: {why}. " + self._advice(
            library, accessor
        )

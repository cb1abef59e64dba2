"""Wire the generated shared clients into the application's lifecycle, so pools close at shutdown.

After `--fix`, every client lives as long as the process. A web application should still close
them when it shuts down (open connections are released cleanly, and a test client that starts and
stops the app many times does not pile them up). This module plans the smallest edit that does it,
as pure functions over `(path, text)` pairs; the fixer writes the result.

Which applications: only those whose module reaches the shared clients through the project's
imports, or that are the project's declared entry points (`reach.py`); every other one is named in a
note with the reason. A call through a name that is not really the framework's class (a parameter,
a module-level reassignment, a conditional import of a test double: `_rebound`, `_Syntax.lookalikes`)
is named in a note and never given a hook it may not accept.

Which frameworks: FastAPI and Starlette as below; aiohttp, Quart, Sanic and Litestar as data
(`frameworks.py`); Django's ASGI application and code that closes its own event loop get a note
saying exactly what to add where.

For each FastAPI or Starlette application constructed in the tree (`FastAPI(...)`,
`fastapi.FastAPI(...)`, `Starlette(...)`, under any name or import alias), in this order:

1. **It has a lifespan defined in the tree** (`lifespan=name`, the function in the same file or
   imported from another scanned file, an `async def` with a `yield`): `await aclose_http_clients()`
   goes at the end of the `finally:` of the `try` around the `yield`, or else at the end of the
   function. Last, because the application's own shutdown code after the `yield` may still send
   requests (deregistering from a service registry, flushing metrics), and a client closed before
   that would be rebuilt and then leak. A function with a `return` gets the call right after its
   `yield` instead, the one place every path still passes.
2. **It uses startup/shutdown event handlers** (`on_startup=`/`on_shutdown=`, `@app.on_event`,
   `add_event_handler` anywhere in the tree): the close is added to the `on_shutdown=[...]` list, or
   at the end of the `@app.on_event("shutdown")` handler of the same file, or registered with
   `app.add_event_handler("shutdown", aclose_http_clients)` right after the application is built.
   The generated `lifespan` is *not* passed here: Starlette ignores event handlers (also those of
   included routers, in any file) once an application has a lifespan, so passing one would
   silently stop the application's own startup and shutdown code.
3. **Neither**: the generated lifespan is passed, `FastAPI(..., lifespan=lifespan)`, imported as
   `http_clients_lifespan` when the file already uses the name `lifespan`.

Anything else (a lifespan built by a factory call, defined outside the tree, a `**kwargs` call, an
application that is not bound to a name) is left alone and reported as a `WiringNote` saying what
to add by hand. With no application object at all, async clients are closed when their event loop
shuts down through `asyncio.run()`/`asyncio.Runner` (the generated module watches its loops); a
note says what to call for loops that never shut down that way (Streamlit, `run_forever`, worker
frameworks). Sync clients need nothing here: the generated module closes them at interpreter exit.

Never twice: if any non-test file already imports `aclose_http_clients`, `close_http_clients` or
`lifespan` from the generated module (or uses them through it as an attribute), the tree counts as
wired and nothing is planned, so `plan_wiring` on its own output plans no edit. That is deliberately
tree-wide rather than per application: a hand-made wiring can take forms this module does not
recognise, and a missing close costs far less than a duplicated or misplaced one.

Files that look like tests (`test_*.py`, `*_test.py`, `conftest.py`, anything under a `tests` or
`test` folder) are skipped: an application built in a test fixture is not the one that ships.

Cost: a large service has a few files that build an application among thousands, and one of them
may be a module of 20,000 lines. The stdlib `ast` (about ten times cheaper than libcst) reads the
files that mention an application class, resolves their imports and finds the constructions, with
the statements that hold them. libcst then parses only the files that build an application or hold
a lifespan to edit, and walks only the statements the ast pointed at (down to the innermost one
that holds the construction, the lifespan or the handler). Wherever the two readings might differ
(a non-ASCII identifier in an import, which the ast normalises; trees that do not line up; libcst
not finding exactly the calls the ast found), the whole libcst module is walked instead, as it
always was, so the result is the same either way. libcst does not even parse the whole file: it is
handed an excerpt of the text (the head, the statements that build an application, the possible
lifespans and shutdown handlers, the statements that register handlers, each with the statement
after it; `excerpt.py`), and the left-out text is put back around the edited excerpt. On litellm's
`proxy_server.py` (22,264 lines) that is 820 lines.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

import libcst as cst

from codemods.imports import (
    EditContext,
    ImportBindings,
    ImportStyle,
    add_import,
    apply_import_changes,
    ascii_imports,
    ast_qualify,
    code_keeping_order,
    cst_dotted,
    import_bindings,
    nfkc,
    qualify,
    set_import_style,
)
from codemods.shared_client import append_args
from codemods.toplevel import (
    TRIM_FROM_CHARS,
    line_starts,
    map_large_allocations,
    read_top_level,
    release_parser_memory,
)
from pool_refactor.fix.wiring.excerpt import (
    TextExcerpt,
    cut,
    inner_blocks,
    parse_in_parts,
    statements_matching,
    top_level_index,
)
from pool_refactor.fix.wiring.frameworks import (
    BY_CLASS,
    CLASS_NAMES,
    DJANGO_ASGI,
    FRAMEWORKS,
    MODULES,
    REGISTRATIONS,
    Framework,
)
from pool_refactor.fix.wiring.reach import EntryPoint, ImportGraph, entry_points
from pool_refactor.fix.wiring.texts import PackageTexts
from pool_refactor.scan.names import dotted_name

__all__ = ["WiringEdit", "WiringNote", "plan_wiring"]

ACLOSE = "aclose_http_clients"
CLOSE = "close_http_clients"
LIFESPAN = "lifespan"

_APP_CLASSES = frozenset(BY_CLASS)
_MENTIONS_FRAMEWORK = re.compile(rf"\b(?:{'|'.join(MODULES)})\b")
_BUILDS_APP = re.compile(rf"\b(?:{'|'.join(CLASS_NAMES)})\s*\(|\b(?:{'|'.join(CLASS_NAMES)})\s+as\s+\w")
"""Files that may construct an application: only these are parsed (a large FastAPI service has
hundreds of route modules that mention fastapi and build nothing)."""
_MENTIONS_EVENTS = re.compile(r"\b(?:on_event|add_event_handler|on_startup|on_shutdown)\b")
_MENTIONS_STREAMLIT = re.compile(r"^\s*(?:import|from)\s+streamlit\b", re.MULTILINE)
_WORDS: dict[re.Pattern[str], tuple[str, ...]] = {
    _MENTIONS_FRAMEWORK: MODULES,
    _BUILDS_APP: CLASS_NAMES,
    _MENTIONS_EVENTS: ("on_event", "add_event_handler", "on_startup", "on_shutdown"),
    _MENTIONS_STREAMLIT: ("streamlit",),
}
"""Every match of each pattern contains one of its words: `in` rules most texts out far sooner than
the regular expression engine (which tries every position of a pattern that starts with `\b`)."""
_STARTS_WITH_A_WORD = frozenset({_MENTIONS_FRAMEWORK, _BUILDS_APP, _MENTIONS_EVENTS})
_WIRED_NAMES = frozenset({ACLOSE, CLOSE, LIFESPAN})
_LOOP_RUN = re.compile(r"(?<![\w.])(\w+)\.(?:run_until_complete|run_forever)\(")
_LIFESPAN_KWARG = re.compile(r"lifespan\s*=\s*(\w+)")
_REGISTRATIONS = REGISTRATIONS
"""What `_registration_anchor` looks for after an application's name (any framework's)."""
_ON_EVENT = re.compile(r"\.\s*on_event\b")
_NodeT = TypeVar("_NodeT", bound=cst.CSTNode)

RELEASE_FROM_CHARS = 64 * 1024
"""From this long a text on, its ast is let go once `_Planner.plan` has looked at it (`_release`)."""


@dataclass(frozen=True)
class WiringEdit:
    """One file to rewrite: the text as read and the text to write (which compiles)."""

    path: Path
    old_text: str
    new_text: str
    description: str
    """What the edit does, for the run's messages (several edits of one file joined by "; ")."""


@dataclass(frozen=True)
class WiringNote:
    """Something the user must wire by hand, and how."""

    path: str
    message: str
    line: int | None = None


def plan_wiring(
    files: Iterable[tuple[Path, str]],
    accessor_module: str,
    sections: set[str],
    has_async: bool,
    has_sync: bool,
    project_root: Path | None = None,
    import_style: ImportStyle | None = None,
) -> tuple[list[WiringEdit], list[WiringNote]]:
    """Plan the edits that close the shared clients at shutdown (see the module docstring).

    `files` are the package's Python files as `(path, text)`, texts as decoded by
    `pool_refactor.scan.source` (line endings kept); given as an iterator, they are held by the
    wiring alone, which lets them go before it returns (17.6 MB on litellm's proxy, which the caller
    would otherwise hold while it reads the edited files again). `accessor_module` is the generated
    module's import name. `sections` is accepted for the record (every section's module has the
    close functions and `lifespan`); `has_async`/`has_sync` say which kinds of client the package
    uses.
    `project_root` is where the project's entry points are declared (`reach.entry_points`).
    `import_style` places the added imports where the project's isort settings put them (else
    where libcst does, after the last import).
    """
    del sections, has_sync  # the close functions exist in every generated module
    map_large_allocations()  # the texts decoded on each read go back to the system when freed
    texts = files if isinstance(files, PackageTexts) else PackageTexts(files)
    del files
    candidates = texts.only([not _is_test_file(path) for path in texts.paths])
    del texts
    trees = _Trees()
    if _already_wired(candidates, accessor_module, trees):
        return [], []
    if project_root is None:
        project_root = _project_root(candidates.paths)
    planner = _Planner(candidates, accessor_module, has_async, trees, project_root, import_style)
    del candidates, trees
    planner.plan()
    edits, notes = planner.edits(), planner.notes
    del planner
    # The package's texts, the trees and the libcst modules, freed when given as an iterable (the
    # caller holds no reference): given back before the caller reads the edited files again.
    release_parser_memory(TRIM_FROM_CHARS)
    return edits, notes


# ---------------------------------------------------------------------------
# Reading the tree
# ---------------------------------------------------------------------------


def _search(pattern: re.Pattern[str], text: str) -> bool:
    """Does `pattern` match somewhere in `text`? (Asked of every file of the tree.)

    For a pattern whose every match starts with one of its words (`_STARTS_WITH_A_WORD`), the
    pattern is tried only where a word starts: `str.find` is far faster than the regular expression
    engine trying every position of a pattern that starts with an alternation."""
    words = _WORDS[pattern]
    if not any(word in text for word in words):
        return False
    if pattern not in _STARTS_WITH_A_WORD:
        return pattern.search(text) is not None
    for word in words:
        index = text.find(word)
        while index != -1:
            before = text[index - 1] if index else " "
            if not (before.isalnum() or before == "_") and pattern.match(text, index):
                return True
            index = text.find(word, index + 1)
    return False


def _is_test_file(path: Path) -> bool:
    name = path.name
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(part in ("tests", "test") for part in path.parts[:-1])


class _Trees:
    """`ast.parse` of each file at most once (the wired check and the planner read the same files),
    by the file's key (`_key`), so that a tree can be let go (`forget`) without its text."""

    def __init__(self) -> None:
        self._parsed: dict[str, ast.Module | None] = {}

    def parse(self, key: str, text: str) -> ast.Module | None:
        """The text's tree, or None when it does not parse."""
        if key in self._parsed:
            return self._parsed[key]
        try:
            tree: ast.Module | None = parse_in_parts(text)  # a long file's peak: see there
        except (SyntaxError, ValueError):
            tree = None
        release_parser_memory(len(text))  # the parser's own copy of the tree, freed
        self._parsed[key] = tree
        return tree

    def forget(self, key: str) -> None:
        """Let the file's tree go (a later `parse` parses it again)."""
        self._parsed.pop(key, None)

    def has(self, key: str) -> bool:
        return key in self._parsed


def _key(path: Path) -> str:
    return os.path.normpath(str(path))


def _already_wired(files: PackageTexts, accessor_module: str, trees: _Trees) -> bool:
    """Does any file import (or reach through an attribute) the close functions or the lifespan of
    the generated module? Relative imports count when their last component names the module."""
    stem = accessor_module.rsplit(".", 1)[-1]
    for _index, path, text in files.mentioning(*_WIRED_NAMES):
        if stem not in text:
            continue
        tree = trees.parse(_key(path), text)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                if node.module.rsplit(".", 1)[-1] == stem and any(
                    alias.name in _WIRED_NAMES for alias in node.names
                ):
                    return True
            elif isinstance(node, ast.Attribute) and node.attr in _WIRED_NAMES:
                base = node.value
                if (isinstance(base, ast.Name) and base.id == stem) or (
                    isinstance(base, ast.Attribute) and base.attr == stem
                ):
                    return True
    return False


def _bound_names(tree: ast.Module) -> set[str]:
    """Every identifier a file binds or reads, so a new import cannot shadow or be shadowed.

    The definition; `_read_syntax` finds the same names in the walk it makes anyway."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".", 1)[0])
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
    return names


def _string_value(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


@dataclass
class _Syntax:
    """What the stdlib ast says about a file."""

    tree: ast.Module
    names: set[str]
    """`_bound_names` of the tree."""
    bindings: dict[str, str] | None
    """As `ImportBindings` finds them, or None when an import statement is not plain ASCII (then libcst
    is asked, and the file's applications are searched for in the whole libcst module)."""
    apps: list[tuple[ast.Call, tuple[ast.stmt, ...]]]
    """Each application construction, in source order, with the statements that hold it (from the
    module-level one to the innermost)."""
    lookalikes: list[tuple[ast.Call, str, str]] = field(default_factory=list)
    """Calls of a name that some import of the file binds to an application class while the name
    finally stands for something else: (call, name, what it stands for)."""
    pruned: bool = False
    """Some module-level functions and classes of `tree` have lost their body (`_SyntaxReader`):
    enough to plan, and to cut an excerpt; a file edited whole is read again, whole (`_load`)."""

    def builds_app(self) -> bool:
        return self.bindings is None or bool(self.apps) or bool(self.lookalikes)


def _read_syntax(tree: ast.Module, text: str, bindings: dict[str, str] | None = None) -> _Syntax:
    """`_SyntaxReader` over the whole tree.

    `bindings`: the imports of the whole file, when the tree is an excerpt of it (`excerpt.cut`)."""
    reader = _SyntaxReader(text)
    reader.read(tree.body, True)
    return reader.finish(tree, bindings)


_ALIASED_APP_CLASS = re.compile(rf"\b(?:{'|'.join(CLASS_NAMES)})(?:\s|\\|#[^\n]*\n)*as\b")
"""An application class imported under another name (`from fastapi import FastAPI as Api`), or
text that might be one: then every call may build an application, whatever it spells."""


def _may_prune(text: str) -> bool:
    """Whether `_SyntaxReader` may prune the text's tree: a long text, whose lines the ast counts
    as the reader does (no lone carriage return), that cannot call an application class under
    another name, and has no Django ASGI application (`_Planner._django_notes` walks the tree)."""
    return (
        len(text) >= RELEASE_FROM_CHARS
        and text.count("\r") == text.count("\r\n")
        and "get_asgi_application" not in text
        and _ALIASED_APP_CLASS.search(text) is None
    )


class _SyntaxReader:
    """One walk over a tree's statements, fed whole or part by part (`excerpt.parse_in_parts`): the
    imports, the calls with the statements that hold them, and `_bound_names` (a large module has
    hundreds of thousands of nodes, so the walk is lean).

    With `prune`, the body of a module-level function or class whose text spells no application
    class is dropped once it is read (`_Syntax.pruned`): no call in it can build an application, and
    nothing reads the inside of such a statement (`_rebound` skips them, the excerpt needs their
    lines only, which stay). litellm's `proxy_server.py` so keeps about 7 MB of its 25 MB tree, read
    part after part, instead of holding it whole at the wiring's peak."""

    def __init__(self, text: str, prune: bool = False) -> None:
        self.text = text
        self.prune = prune
        self.imports: list[ast.Import | ast.ImportFrom] = []
        self.calls: list[tuple[ast.Call, tuple[ast.stmt, ...]]] = []
        self.names: set[str] = set()
        self.pruned = False
        self._line_starts: list[int] | None = None

    def read(self, statements: list[ast.stmt], first: bool) -> None:
        if first:
            self.imports, self.calls, self.names, self.pruned = [], [], set(), False
        for statement in statements:
            calls = len(self.calls)
            self._scan(statement, ())
            if (
                self.prune
                and isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and not self._spells_an_app_class(statement)
            ):
                del self.calls[calls:]
                statement.body = []
                self.pruned = True

    def _spells_an_app_class(self, statement: ast.stmt) -> bool:
        if self._line_starts is None:
            self._line_starts = [0, *(match.end() for match in re.finditer("\n", self.text))]
        starts = self._line_starts
        first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
        last = statement.end_lineno or statement.lineno
        begin = starts[first - 1] if first - 1 < len(starts) else len(self.text)
        end = starts[last] if last < len(starts) else len(self.text)
        span = self.text[begin:end]
        return any(name in span for name in CLASS_NAMES)

    def _scan(self, statement: ast.stmt, chain: tuple[ast.stmt, ...]) -> None:
        chain = (*chain, statement)
        names = self.names
        if isinstance(statement, ast.Import | ast.ImportFrom):
            self.imports.append(statement)
            names.update(alias.asname or alias.name.split(".", 1)[0] for alias in statement.names)
            return
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Global | ast.Nonlocal):
            names.update(statement.names)
        name_type, call_type, arg_type, attribute_type = ast.Name, ast.Call, ast.arg, ast.Attribute
        pending: list[ast.AST] = [statement]
        while pending:
            for child in ast.iter_child_nodes(pending.pop()):
                kind = type(child)
                if kind is name_type:
                    names.add(cast(ast.Name, child).id)
                    continue  # nothing inside but its context
                if isinstance(child, ast.stmt):
                    self._scan(child, chain)
                    continue
                if kind is call_type:
                    func = type(cast(ast.Call, child).func)
                    if func is name_type or func is attribute_type:
                        self.calls.append((cast(ast.Call, child), chain))
                elif kind is arg_type:
                    names.add(cast(ast.arg, child).arg)
                pending.append(child)

    def finish(self, tree: ast.Module, bindings: dict[str, str] | None = None) -> _Syntax:
        imports, calls, names = self.imports, self.calls, self.names
        if bindings is None:
            if not ascii_imports(self.text, imports):
                return _Syntax(tree, names, None, [], pruned=self.pruned)
            imports.sort(key=lambda node: (node.lineno, node.col_offset))
            bindings = import_bindings(imports)
        apps = [(call, chain) for call, chain in calls if ast_qualify(call.func, bindings) in _APP_CLASSES]
        apps.sort(key=lambda item: (item[0].lineno, item[0].col_offset))
        lookalikes: list[tuple[ast.Call, str, str]] = []
        app_names = {
            alias.asname or alias.name
            for node in imports
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if f"{node.module}.{alias.name}" in _APP_CLASSES
        }
        if app_names:
            for call, _chain in calls:
                func = call.func
                if isinstance(func, ast.Name) and func.id in app_names:
                    target = bindings.get(func.id, "")
                    if target not in _APP_CLASSES:
                        lookalikes.append((call, func.id, target))
            lookalikes.sort(key=lambda item: (item[0].lineno, item[0].col_offset))
        return _Syntax(tree, names, bindings, apps, lookalikes, pruned=self.pruned)


_CST_KINDS: dict[type[ast.stmt], type[cst.BaseStatement]] = {
    ast.FunctionDef: cst.FunctionDef,
    ast.AsyncFunctionDef: cst.FunctionDef,
    ast.ClassDef: cst.ClassDef,
    ast.If: cst.If,
    ast.For: cst.For,
    ast.AsyncFor: cst.For,
    ast.While: cst.While,
    ast.With: cst.With,
    ast.AsyncWith: cst.With,
    ast.Try: cst.Try,
    ast.TryStar: cst.TryStar,
    ast.Match: cst.Match,
}


def _aligned(
    statements: Sequence[cst.BaseStatement], nodes: Sequence[ast.stmt]
) -> list[cst.BaseStatement] | None:
    """The libcst statement of each ast statement of a block (`a; b` is one line to libcst and two
    statements to the ast), or None if the two do not line up."""
    aligned: list[cst.BaseStatement] = []
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            aligned.extend([statement] * len(statement.body))
        else:
            aligned.append(statement)
    if len(aligned) != len(nodes):
        return None
    for node, line_or_compound in zip(nodes, aligned, strict=True):
        if not isinstance(line_or_compound, _CST_KINDS.get(type(node), cst.SimpleStatementLine)):
            return None
    return aligned


_Suite = cst.BaseSuite | cst.If | None
"""What holds a compound statement's inner statements to libcst (an `elif` is an `If`)."""


def _blocks(node: ast.stmt, statement: cst.BaseStatement) -> list[tuple[list[ast.stmt], _Suite]] | None:
    """The inner statement lists of a compound statement, as the ast and libcst hold them."""

    def body(part: cst.Else | cst.Finally | None) -> cst.BaseSuite | None:
        return None if part is None else part.body

    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.With | ast.AsyncWith):
        if isinstance(statement, cst.FunctionDef | cst.ClassDef | cst.With):
            return [(node.body, statement.body)]
    elif isinstance(node, ast.For | ast.AsyncFor | ast.While):
        if isinstance(statement, cst.For | cst.While):
            return [(node.body, statement.body), (node.orelse, body(statement.orelse))]
    elif isinstance(node, ast.If):
        if isinstance(statement, cst.If):
            orelse = statement.orelse
            return [
                (node.body, statement.body),
                (node.orelse, orelse if isinstance(orelse, cst.If) else body(orelse)),
            ]
    elif isinstance(node, ast.Try | ast.TryStar):
        if isinstance(statement, cst.Try | cst.TryStar) and len(node.handlers) == len(statement.handlers):
            suites: list[cst.BaseSuite] = [handler.body for handler in statement.handlers]
            return [
                (node.body, statement.body),
                *((handler.body, suite) for handler, suite in zip(node.handlers, suites, strict=True)),
                (node.orelse, body(statement.orelse)),
                (node.finalbody, body(statement.finalbody)),
            ]
    elif isinstance(node, ast.Match):
        if isinstance(statement, cst.Match) and len(node.cases) == len(statement.cases):
            return [
                (case.body, cst_case.body) for case, cst_case in zip(node.cases, statement.cases, strict=True)
            ]
    return None


def _index(nodes: Sequence[ast.stmt], node: ast.stmt) -> int | None:
    return next((index for index, item in enumerate(nodes) if item is node), None)


_Link = tuple[cst.BaseStatement, Sequence[cst.BaseStatement]]
"""A libcst statement and the statements of the block it is in."""


def _cst_chain(module: cst.Module, tree: ast.Module, chain: Sequence[ast.stmt]) -> list[_Link] | None:
    """The libcst statements of an ast chain of statements (module-level first), with their blocks;
    shorter when a statement keeps its inner statements on its own line (`if x: a = f()`). None if
    the two trees do not line up."""
    nodes: Sequence[ast.stmt] = tree.body
    statements: Sequence[cst.BaseStatement] = module.body
    links: list[_Link] = []
    for depth, node in enumerate(chain):
        index = _index(nodes, node)
        aligned = _aligned(statements, nodes) if index is not None else None
        if index is None or aligned is None:
            return None
        statement = aligned[index]
        links.append((statement, statements))
        if depth + 1 == len(chain):
            break
        blocks = _blocks(node, statement)
        inner = next(
            ((part, suite) for part, suite in blocks or () if _index(part, chain[depth + 1]) is not None),
            None,
        )
        if inner is None:
            return None
        nodes, suite = inner
        if isinstance(suite, cst.IndentedBlock):
            statements = suite.body
        elif isinstance(suite, cst.If):  # `elif`
            statements = (suite,)
        elif isinstance(suite, cst.SimpleStatementSuite):
            break
        else:
            return None
    return links


@dataclass
class _App:
    call: cst.Call
    statement: cst.SimpleStatementLine | None
    """The statement that builds the application, when it is `name = FastAPI(...)`."""
    name: str | None
    kind: str
    """`FastAPI` or `Starlette`, for messages."""
    block: Sequence[cst.BaseStatement] | None = None
    """The statements around `statement` (module or function body)."""
    chain: tuple[cst.BaseStatement, ...] | None = None
    """The statements that hold the construction, module-level first, when known."""
    framework: Framework = FRAMEWORKS[0]


class _AppFinder(cst.CSTVisitor):
    """Every application construction, with the assignment statement that names it."""

    def __init__(self, bindings: dict[str, str], block: Sequence[cst.BaseStatement] | None = None) -> None:
        """`block`: the statements around the statement the visit starts at, when it does not
        start at the module."""
        super().__init__()
        self._bindings = bindings
        self._statement: cst.SimpleStatementLine | None = None
        self._blocks: list[Sequence[cst.BaseStatement]] = [] if block is None else [block]
        self.apps: list[_App] = []

    def visit_Module(self, node: cst.Module) -> None:
        self._blocks.append(node.body)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._blocks.append(node.body)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self._blocks.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._statement = node

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self._statement = None

    def visit_Call(self, node: cst.Call) -> None:
        qualified = qualify(node.func, self._bindings)
        if qualified not in _APP_CLASSES:
            return
        statement, name, block = None, None, None
        line = self._statement
        if line is not None and len(line.body) == 1:
            small = line.body[0]
            target: cst.BaseExpression | None = None
            if isinstance(small, cst.Assign) and small.value is node and len(small.targets) == 1:
                target = small.targets[0].target
            elif isinstance(small, cst.AnnAssign) and small.value is node:
                target = small.target
            if isinstance(target, cst.Name) and self._blocks and line in self._blocks[-1]:
                statement, name, block = line, target.value, self._blocks[-1]
        framework = BY_CLASS[qualified]
        self.apps.append(
            _App(node, statement, name, qualified.rsplit(".", 1)[-1], block, framework=framework)
        )


@dataclass
class _Yield:
    statement: cst.SimpleStatementLine
    tries: tuple[cst.Try | cst.TryStar, ...]
    """Enclosing `try` statements that have a `finally:` covering the yield, outermost first."""


def _yields(function: cst.FunctionDef) -> list[_Yield] | None:
    """The statement-level yields of a generator function, or None when one cannot be placed
    (a yield inside an expression or on a one-line block)."""
    found: list[_Yield] = []
    placeable = True

    def walk(block: cst.BaseSuite, tries: tuple[cst.Try | cst.TryStar, ...]) -> None:
        nonlocal placeable
        if isinstance(block, cst.SimpleStatementSuite):
            if _contains_yield(block):
                placeable = False
            return
        assert isinstance(block, cst.IndentedBlock)
        for statement in block.body:
            if isinstance(statement, cst.SimpleStatementLine):
                if any(_is_yield_statement(small) for small in statement.body):
                    found.append(_Yield(statement, tries))
                elif _contains_yield(statement):
                    placeable = False
            elif isinstance(statement, cst.Try | cst.TryStar):
                inner = (*tries, statement) if statement.finalbody is not None else tries
                walk(statement.body, inner)
                for handler in statement.handlers:
                    walk(handler.body, inner)
                if statement.orelse is not None:
                    walk(statement.orelse.body, inner)
                if statement.finalbody is not None:
                    walk(statement.finalbody.body, tries)
            elif isinstance(statement, cst.FunctionDef | cst.ClassDef):
                continue
            elif isinstance(statement, cst.If):
                walk(statement.body, tries)
                orelse: cst.If | cst.Else | None = statement.orelse
                while orelse is not None:
                    walk(orelse.body, tries)
                    orelse = orelse.orelse if isinstance(orelse, cst.If) else None
            elif isinstance(statement, cst.For | cst.While):
                walk(statement.body, tries)
                if statement.orelse is not None:
                    walk(statement.orelse.body, tries)
            elif isinstance(statement, cst.With):
                walk(statement.body, tries)
            elif isinstance(statement, cst.Match):
                for case in statement.cases:
                    walk(case.body, tries)

    walk(function.body, ())
    return found if placeable else None


def _is_yield_statement(small: cst.BaseSmallStatement) -> bool:
    return isinstance(small, cst.Expr) and isinstance(small.value, cst.Yield)


class _YieldCounter(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_Yield(self, node: cst.Yield) -> None:
        self.found = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _contains_yield(node: cst.CSTNode) -> bool:
    counter = _YieldCounter()
    node.visit(counter)
    return counter.found


def _has_return(function: cst.FunctionDef) -> bool:
    class Finder(cst.CSTVisitor):
        found = False

        def visit_Return(self, node: cst.Return) -> None:
            self.found = True

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

    finder = Finder()
    function.visit(finder)
    return finder.found


def _last_statement(block: cst.BaseSuite) -> cst.BaseStatement | None:
    if isinstance(block, cst.IndentedBlock) and block.body:
        return block.body[-1]
    return None


# ---------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------


@dataclass
class _FileWork:
    path: Path
    text: str
    module: cst.Module
    syntax: _Syntax
    bindings: dict[str, str]
    insert_after: dict[int, list[str]] = field(default_factory=dict)
    """id(original statement) -> source lines of statements to add after it."""
    add_kwarg: dict[int, tuple[str, str]] = field(default_factory=dict)
    """id(original call) -> (keyword, expression) to append to its arguments."""
    append_element: dict[int, str] = field(default_factory=dict)
    """id(original list or tuple) -> name to append to it."""
    imports: dict[str, str] = field(default_factory=dict)
    """Name exported by the generated module -> local name it is imported as."""
    descriptions: list[str] = field(default_factory=list)
    spine: set[int] = field(default_factory=set)
    """ids of the statements that hold an edited statement: applying walks down through these...."""
    edited: set[int] = field(default_factory=set)
    """... to these statements, which hold edits and are walked whole..."""
    whole_module: bool = False
    """... unless the statements that hold an edit are not known: then the whole module is walked."""
    excerpt: TextExcerpt | None = None
    """When `module` and `syntax.tree` are of an excerpt of `text` (`excerpt.cut`), not the whole."""
    _names: set[str] | None = None

    @property
    def names(self) -> set[str]:
        """Every identifier the file uses (`_bound_names`), plus the ones chosen for imports."""
        if self._names is None:
            self._names = set(self.syntax.names)
        return self._names

    def touch(self, chain: Sequence[cst.BaseStatement] | None) -> None:
        """Record where an edit is: in the last of these statements, each in the one before, the
        first at module level (None: not known)."""
        if not chain:
            self.whole_module = True
            return
        self.spine.update(id(statement) for statement in chain[:-1])
        self.edited.add(id(chain[-1]))

    def planned(self) -> set[int]:
        return {*self.insert_after, *self.add_kwarg, *self.append_element}

    def local_name(self, exported: str, fallbacks: Sequence[str]) -> str:
        """The name `exported` will be imported under here, avoiding every name the file uses."""
        if exported in self.imports:
            return self.imports[exported]
        for candidate in (exported, *fallbacks):
            if candidate not in self.names:
                self.imports[exported] = candidate
                self.names.add(candidate)
                return candidate
        index = 2
        while f"{fallbacks[-1]}_{index}" in self.names:
            index += 1
        chosen = f"{fallbacks[-1]}_{index}"
        self.imports[exported] = chosen
        self.names.add(chosen)
        return chosen

    def display(self) -> str:
        return self.path.as_posix()


class _Planner:
    """Files are read with the stdlib ast first; libcst parses only the files that construct an
    application and the files whose lifespan is to be edited, and walks only the statements that
    hold an application or the code to edit (see "Cost" in the module docstring)."""

    def __init__(
        self,
        files: PackageTexts,
        accessor_module: str,
        has_async: bool,
        trees: _Trees,
        project_root: Path | None = None,
        import_style: ImportStyle | None = None,
    ) -> None:
        self._files = files
        self._import_style = import_style
        self._accessor = accessor_module
        self._has_async = has_async
        self._trees = trees
        self._syntax: dict[str, _Syntax | None] = {}
        self._released: dict[str, dict[str, str] | None] = {}
        """Files whose `_Syntax` was let go (`_release`), with their import bindings, which
        `_lifespan_names` still reads; `_read` reads such a file again, whole."""
        self._work: dict[str, _FileWork] = {}
        self._rank: dict[str, tuple[int, int, int]] = {}
        """When each file was first wanted; the edits come in that order."""
        self._step = 0
        self._wanted = 0
        self.notes: list[WiringNote] = []
        self._events_in_tree = any(
            _search(_MENTIONS_EVENTS, text) for _i, _p, text in files.mentioning(*_WORDS[_MENTIONS_EVENTS])
        )
        self._lifespans: set[str] | None = None
        self._project_root = project_root
        self._import_graph: ImportGraph | None = None
        self._entry_points: list[EntryPoint] | None = None

    # -- loading ------------------------------------------------------------

    def _want(self, key: str, in_loop: bool) -> None:
        """Rank a file by the first time it is wanted: in the loop over the files (its own turn),
        or else while wiring an earlier file's application (after that file)."""
        if key not in self._rank:
            self._wanted += 1
            self._rank[key] = (self._step, 0, 0) if in_loop else (self._step, 1, self._wanted)

    def _read(self, key: str, text: str, whole: bool = False) -> _Syntax | None:
        """The file's `_Syntax`; for a long file, pruned (`_SyntaxReader`) unless `whole`."""
        if key not in self._syntax:
            if not whole and _may_prune(text) and not self._trees.has(key):
                reader = _SyntaxReader(text, prune=True)
                try:
                    tree: ast.Module | None = parse_in_parts(text, on_part=reader.read)
                except (SyntaxError, ValueError):
                    tree = None
                release_parser_memory(len(text))
                self._syntax[key] = None if tree is None else reader.finish(tree)
            else:
                tree = self._trees.parse(key, text)
                self._syntax[key] = None if tree is None else _read_syntax(tree, text)
            self._released.pop(key, None)
        return self._syntax[key]

    def _release(self, key: str, text: str) -> None:
        """Let a long file's ast go once the loop in `plan` is done with it.

        The tree of a 22,000-line module is about 25 MB, and it would otherwise stay until the end
        of the wiring, under the libcst trees of the files edited after it (litellm's proxy: the
        run's peak). Nothing else is lost: a later `_read` of the file parses it again, and
        everything that reads a `_Syntax` (its tree, the statements and calls found in it, which
        are compared by identity) then gets the new one whole. Not for a file edited whole
        (without an excerpt): its `_FileWork` holds that `_Syntax` anyway."""
        if len(text) < RELEASE_FROM_CHARS or key not in self._syntax:
            return
        work = self._work.get(key)
        if work is not None and work.excerpt is None:
            return
        syntax = self._syntax.pop(key)
        self._released[key] = None if syntax is None else syntax.bindings
        self._trees.forget(key)

    def _load(self, path: Path, text: str) -> _FileWork | None:
        key = os.path.normpath(str(path))
        self._want(key, in_loop=False)
        if key in self._work:
            return self._work[key]
        syntax = self._read(key, text)
        if syntax is None:
            return None
        excerpted = self._excerpt(text, syntax)
        if excerpted is not None:
            part, part_syntax, module = excerpted
            work = _FileWork(path, text, module, part_syntax, part_syntax.bindings or {}, excerpt=part)
            self._work[key] = work
            return work
        if syntax.pruned:  # edited whole: its work reads every statement of the tree
            del self._syntax[key]
            syntax = self._read(key, text, whole=True)
            if syntax is None:
                return None
        try:
            module = cst.parse_module(text)
        except (cst.ParserSyntaxError, SyntaxError, ValueError):
            return None
        release_parser_memory(len(text))
        if syntax.bindings is None:
            visitor = ImportBindings()
            module.visit(visitor)
            bindings = visitor.names
        else:
            bindings = syntax.bindings
        work = _FileWork(path, text, module, syntax, bindings)
        self._work[key] = work
        return work

    def _excerpt(self, text: str, syntax: _Syntax) -> tuple[TextExcerpt, _Syntax, cst.Module] | None:
        """The excerpt of a file that libcst parses instead of the whole (see `excerpt`), with its
        ast reading and its libcst module; None when the whole file must be parsed.

        Kept: the statements that build an application, the module-level functions that may be a
        lifespan (named by some `lifespan=` of the tree) or a shutdown handler (`@x.on_event`),
        and the module-level statements that add handlers to or include routers in an application
        of the file (`_registration_anchor` reads them)."""
        if syntax.bindings is None:
            return None
        tree = syntax.tree
        wanted: set[int] = set()
        for _call, chain in syntax.apps:
            index = top_level_index(tree, chain[0])
            if index is None:
                return None
            wanted.add(index)
        lifespans = self._lifespan_names()
        for index, node in enumerate(tree.body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in lifespans:
                wanted.add(index)
        patterns = [_ON_EVENT] if "on_event" in text else []
        names = sorted(
            {name for name in (_assigned_name(chain[-1], call) for call, chain in syntax.apps) if name}
        )
        if names:
            alternatives = "|".join(map(re.escape, names))
            patterns.append(re.compile(rf"\b(?:{alternatives})\.(?:{_REGISTRATIONS})\b"))
        for pattern in patterns:
            wanted.update(statements_matching(text, tree, pattern))
        part = cut(text, tree, wanted, _inner_statements(text, syntax, patterns))
        if part is None:
            return None
        try:
            part_tree = ast.parse(part.text)
            module = cst.parse_module(part.text)
        except (SyntaxError, ValueError, cst.ParserSyntaxError):
            return None
        release_parser_memory(len(part.text))
        if _aligned(module.body, part_tree.body) is None:
            return None
        part_syntax = _read_syntax(part_tree, part.text, syntax.bindings)
        if len(part_syntax.apps) != len(syntax.apps):
            return None
        part_syntax.names = syntax.names
        return part, part_syntax, module

    def _lifespan_names(self) -> set[str]:
        """Every name given as `lifespan=` in the tree, and the names those are imported from in
        the files read so far (a lifespan's file is loaded after the file that imports it)."""
        if self._lifespans is None:
            given: set[str] = set()
            for _index, _path, text in self._files.mentioning("lifespan"):
                if "lifespan" in text:
                    given.update(
                        match.group(1)
                        for match in _LIFESPAN_KWARG.finditer(text)
                        if match.start() == 0
                        or not (text[match.start() - 1].isalnum() or text[match.start() - 1] in "_.")
                    )
            self._lifespans = given
        names = set(self._lifespans)
        readings = [syntax.bindings for syntax in self._syntax.values() if syntax is not None]
        for bindings in [*readings, *self._released.values()]:
            if bindings:
                names.update(
                    bound.rsplit(".", 1)[-1] for name in self._lifespans if (bound := bindings.get(name))
                )
        return names

    def _module_file(self, origin: Path, qualified: str) -> tuple[Path, str] | None:
        """The scanned file a module name (absolute, or relative to `origin`) refers to."""
        level = len(qualified) - len(qualified.lstrip("."))
        parts = [p for p in qualified.lstrip(".").split(".") if p]
        if level:
            base = Path(os.path.normpath(origin.parent.joinpath(*[".."] * (level - 1))))
            wanted = [os.path.normpath(base.joinpath(*parts).as_posix() + ".py")] if parts else []
            wanted.append(os.path.normpath(base.joinpath(*parts, "__init__.py")))
            for index, path in enumerate(self._files.paths):
                if os.path.normpath(str(path)) in wanted:
                    return self._files[index]
            return None
        if not parts:
            return None
        matches = [
            index
            for index, path in enumerate(self._files.paths)
            if _path_ends_with(path, [*parts[:-1], parts[-1] + ".py"])
            or _path_ends_with(path, [*parts, "__init__.py"])
        ]
        return self._files[matches[0]] if len(matches) == 1 else None

    # -- per application ------------------------------------------------------

    def plan(self) -> None:
        found_app = False
        for step, path, text in self._files.mentioning(*_WORDS[_MENTIONS_FRAMEWORK]):
            if not _search(_MENTIONS_FRAMEWORK, text) or not _search(_BUILDS_APP, text):
                continue
            if _path_ends_with(path, _module_parts(self._accessor)):
                continue
            self._step = step
            key = os.path.normpath(str(path))
            self._want(key, in_loop=True)
            found_app = self._plan_file(path, text, key) or found_app
            self._release(key, text)
        django = self._django_notes()
        self.notes.extend(django)
        if not found_app and not django and self._has_async:
            self.notes.append(self._no_app_note())
        if self._has_async:
            self.notes.extend(self._own_loop_notes())

    def _plan_file(self, path: Path, text: str, key: str) -> bool:
        """Wire (or note) each application the file builds; whether it builds any."""
        found_app = False
        syntax = self._read(key, text)
        if syntax is None or not syntax.builds_app():
            return False
        for call, name, target in syntax.lookalikes:
            found_app = True
            self.notes.append(
                WiringNote(
                    path.as_posix(),
                    f"`{name}(...)` (line {call.lineno}) was not wired: this file imports `{name}` "
                    f"from an application framework, but here it is `{target or 'something else'}`"
                    " (a test double or a factory of the project's), which may not accept a "
                    f"shutdown hook. If it is the real class, close the shared HTTP clients at its "
                    f"shutdown by hand with `await {ACLOSE}()` from `{self._accessor}`.",
                    call.lineno,
                )
            )
        verdicts: list[str | None] | None = None
        if syntax.bindings is not None:
            verdicts = [self._verdict(path, syntax, call, chain) for call, chain in syntax.apps]
            if all(verdict is not None for verdict in verdicts):  # libcst need not read the file
                for verdict in verdicts:
                    found_app = True
                    self.notes.append(WiringNote(path.as_posix(), cast(str, verdict)))
                return found_app
        work = self._load(path, text)
        if work is None:
            return found_app
        apps = self._apps(work)
        if verdicts is None or len(verdicts) != len(apps):
            verdicts = [self._cst_verdict(work, app) for app in apps]
        for app, verdict in zip(apps, verdicts, strict=True):
            found_app = True
            if verdict is None:
                self._wire(work, app)
            else:
                self._note(work, verdict)
        return found_app

    # -- which applications ---------------------------------------------------

    def _verdict(
        self, path: Path, syntax: _Syntax, call: ast.Call, chain: tuple[ast.stmt, ...]
    ) -> str | None:
        """Why this application is left alone (None: wire it). See `reach`."""
        assert syntax.bindings is not None
        qualified = ast_qualify(call.func, syntax.bindings) or ""
        kind = qualified.rsplit(".", 1)[-1]
        name = _assigned_name(chain[-1], call)
        top = chain[0]
        factory = top.name if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef) else None
        where = f"`{name} = {kind}(...)`" if name else f"`{kind}(...)`"
        where += f" (line {call.lineno})"
        rebound = _rebound(syntax.tree, chain, call.func, syntax.bindings)
        if rebound is not None:
            return (
                f"{where} was not wired: {rebound}, so what is called there may not be `{qualified}` "
                "(a test double or a factory of the project's) and a shutdown hook could break it. If it "
                "is the real class, close the shared HTTP clients at "
                f"its shutdown by hand with `await {ACLOSE}()` from `{self._accessor}`."
            )
        return self._reach_verdict(path, where, name, factory)

    def _cst_verdict(self, work: _FileWork, app: _App) -> str | None:
        chain = app.chain
        factory = chain[0].name.value if chain and isinstance(chain[0], cst.FunctionDef) else None
        where = f"`{app.name} = {app.kind}(...)`" if app.name else f"`{app.kind}(...)`"
        return self._reach_verdict(work.path, where, app.name, factory)

    def _reach_verdict(self, path: Path, where: str, name: str | None, factory: str | None) -> str | None:
        if self._is_entry(path, name, factory) or self._graph().reaches(path):
            return None
        return (
            f"{where} was left alone: nothing `{path.name}` imports, directly or through other modules "
            f"of the project, reaches the code that uses the shared HTTP clients (`{self._accessor}`), "
            "and it is not a declared entry point (`[project.scripts]`, a uvicorn/gunicorn target in the "
            "project's configuration, Dockerfile or Procfile), so closing the clients at its shutdown "
            "could close them under another application of the same process. If its requests do use "
            f"them, close them at its shutdown by hand with `await {ACLOSE}()` from `{self._accessor}`."
        )

    def _graph(self) -> ImportGraph:
        if self._import_graph is None:
            self._import_graph = ImportGraph(self._files, self._accessor)
        return self._import_graph

    def _entries(self) -> list[EntryPoint]:
        """The declared entry points; a served name imported from another module stands for that
        module's attribute (`from shop.main import app; uvicorn.run(app)`)."""
        if self._entry_points is None:
            found: list[EntryPoint] = []
            for entry in entry_points(self._project_root, self._files):
                if entry.module is None and entry.path is not None and entry.attribute is not None:
                    found.append(self._resolve_served(entry))
                else:
                    found.append(entry)
            self._entry_points = found
        return self._entry_points

    def _resolve_served(self, entry: EntryPoint) -> EntryPoint:
        assert entry.path is not None and entry.attribute is not None
        found = next(
            (i for i, p in enumerate(self._files.paths) if os.path.normpath(str(p)) == entry.path), None
        )
        if found is None:
            return entry
        located = self._files[found]
        syntax = self._read(os.path.normpath(str(located[0])), located[1])
        bound = syntax.bindings.get(entry.attribute) if syntax is not None and syntax.bindings else None
        if bound is None:
            return entry
        dots = len(bound) - len(bound.lstrip("."))
        module, _, attribute = bound[dots:].rpartition(".")
        if not dots:
            return EntryPoint(module, None, attribute, entry.where)
        target = self._module_file(located[0], "." * dots + module)
        if target is None:
            return entry
        return EntryPoint(None, os.path.normpath(str(target[0])), attribute, entry.where)

    def _is_entry(self, path: Path, name: str | None, factory: str | None) -> bool:
        for entry in self._entries():
            matches = (entry.module is not None and _is_module(path, entry.module)) or (
                entry.path is not None and _path_ends_with(path, Path(os.path.normpath(entry.path)).parts)
            )
            if matches and (entry.attribute is None or entry.attribute in (name, factory)):
                return True
        return False

    # -- what cannot be wired -------------------------------------------------

    def _django_notes(self) -> list[WiringNote]:
        """Django's ASGI application: what to add, since it has no shutdown hook to wire."""
        notes: list[WiringNote] = []
        for _index, path, text in self._files.mentioning("get_asgi_application"):
            if "get_asgi_application" not in text:
                continue
            syntax = self._read(os.path.normpath(str(path)), text)
            if syntax is None or syntax.bindings is None:
                continue
            for node in ast.walk(syntax.tree):
                if isinstance(node, ast.Call) and ast_qualify(node.func, syntax.bindings) in DJANGO_ASGI:
                    notes.append(
                        WiringNote(
                            path.as_posix(),
                            f"Django's ASGI application (line {node.lineno}) has no shutdown hook, so "
                            "nothing was wired. To close the shared HTTP clients when the server stops, "
                            "serve an ASGI callable that passes every scope but `lifespan` to Django's "
                            "application and, for `lifespan`, answers `lifespan.startup` with "
                            "`lifespan.startup.complete` and `lifespan.shutdown` with "
                            f"`await {ACLOSE}()` (from `{self._accessor}`) then "
                            "`lifespan.shutdown.complete`.",
                            node.lineno,
                        )
                    )
        return notes

    def _own_loop_notes(self) -> list[WiringNote]:
        """Code that runs and closes its own event loop without `shutdown_asyncgens()` never lets
        the generated module see the loop shut down: say what to call, and where."""
        notes: list[WiringNote] = []
        for _index, path, text in self._files.mentioning("run_until_complete", "run_forever"):
            if "shutdown_asyncgens" in text or ".close()" not in text:
                continue
            if "run_until_complete" not in text and "run_forever" not in text:
                continue
            loops = sorted(set(_LOOP_RUN.findall(text)))
            for loop in loops:
                for match in re.finditer(rf"(?<![\w.]){re.escape(loop)}\.close\(\)", text):
                    line = text.count("\n", 0, match.start()) + 1
                    notes.append(
                        WiringNote(
                            path.as_posix(),
                            f"Line {line} closes the event loop `{loop}` that this code runs itself, "
                            f"without `{loop}.shutdown_asyncgens()`, so the shared async HTTP clients "
                            'opened on it are never closed ("Unclosed client session"). Just before '
                            f"`{loop}.close()` ({path.as_posix()}:{line}), call "
                            f"`{loop}.run_until_complete({ACLOSE}())` with `from {self._accessor} import "
                            f"{ACLOSE}`.",
                            line,
                        )
                    )
        return notes

    @staticmethod
    def _apps(work: _FileWork) -> list[_App]:
        """`_AppFinder` over the innermost statements the ast found applications in, or over the
        whole module if the two readings do not agree."""
        found = _apps_where_the_ast_says(work) if work.syntax.bindings is not None else None
        if found is not None:
            return found
        finder = _AppFinder(work.bindings)
        work.module.visit(finder)
        return finder.apps

    def _wire(self, work: _FileWork, app: _App) -> None:
        where = f"`{app.name} = {app.kind}(...)`" if app.name else f"`{app.kind}(...)`"
        if app.framework.way == "register":
            self._wire_register(work, app, where)
            return
        if any(arg.star == "**" for arg in app.call.args):
            if app.framework.way == "keyword":
                self._note(
                    work,
                    f"{where} is given `**` arguments that may hold `{app.framework.keyword}`. "
                    + self._by_hand_hook(app),
                )
                return
            self._note(work, f"{where} is given `**` arguments that may hold a lifespan. " + self._by_hand())
            return
        if app.framework.way == "keyword":
            self._wire_keyword(work, app, where)
            return
        keywords = {arg.keyword.value: arg for arg in app.call.args if arg.keyword is not None}
        lifespan_arg = keywords.get(LIFESPAN)
        if lifespan_arg is not None:
            self._wire_lifespan(work, app, lifespan_arg.value)
        elif "on_startup" in keywords or "on_shutdown" in keywords or self._events_in_tree:
            self._wire_events(work, app, keywords.get("on_shutdown"))
        else:
            local = work.local_name(LIFESPAN, ["http_clients_lifespan"])
            work.add_kwarg[id(app.call)] = (LIFESPAN, local)
            work.touch(app.chain)
            work.descriptions.append(
                f"passes the generated `lifespan` to {where} in {work.display()}, which closes the "
                "shared HTTP clients at shutdown"
            )

    def _wire_register(self, work: _FileWork, app: _App, where: str) -> None:
        """aiohttp, Quart, Sanic: one statement that registers the close (see `frameworks`)."""
        framework = app.framework
        if app.statement is None or app.name is None:
            self._note(work, f"{app.kind}(...) is not assigned to a name. " + self._by_hand_hook(app))
            return
        local = work.local_name(ACLOSE, ["aclose_shared_http_clients"])
        anchor = _registration_anchor(work, app, framework.registrations)
        chain = app.chain
        if chain is not None and chain[-1] is app.statement:  # the anchor is next to it
            chain = (*chain[:-1], anchor)
        self._insert_after(work, anchor, framework.register.format(app=app.name, aclose=local), chain)
        work.descriptions.append(
            f"registers `{local}` as an {framework.hook} of {where} ({framework.name}) in {work.display()}"
        )

    def _wire_keyword(self, work: _FileWork, app: _App, where: str) -> None:
        """Litestar: the close goes last in the constructor's list of shutdown hooks."""
        framework = app.framework
        keywords = {arg.keyword.value: arg for arg in app.call.args if arg.keyword is not None}
        given = keywords.get(framework.keyword)
        if given is not None and not isinstance(given.value, cst.List | cst.Tuple):
            self._note(
                work, f"`{framework.keyword}` of {where} is not a list display. " + self._by_hand_hook(app)
            )
            return
        local = work.local_name(ACLOSE, ["aclose_shared_http_clients"])
        if given is None:
            work.add_kwarg[id(app.call)] = (framework.keyword, f"[{local}]")
            work.touch(app.chain)
            work.descriptions.append(
                f"passes `{framework.keyword}=[{local}]` to {where} ({framework.name}) in {work.display()}"
            )
        else:
            assert isinstance(given.value, cst.List | cst.Tuple)
            work.append_element[id(given.value)] = local
            work.touch(app.chain)
            work.descriptions.append(
                f"adds `{local}` to the `{framework.keyword}` hooks of {where} ({framework.name}) in "
                f"{work.display()}"
            )

    def _by_hand_hook(self, app: _App) -> str:
        framework = app.framework
        example = (
            f"`{framework.keyword}=[..., {ACLOSE}]`"
            if framework.way == "keyword"
            else "`" + framework.register.format(app=app.name or "app", aclose=ACLOSE) + "`"
        )
        return (
            f"Close the shared HTTP clients at its shutdown by hand with an {framework.hook}: {example}, "
            f"with `{ACLOSE}` from `{self._accessor}`."
        )

    def _wire_lifespan(self, work: _FileWork, app: _App, value: cst.BaseExpression) -> None:
        if not isinstance(value, cst.Name):
            self._note(
                work, f"The lifespan of {app.kind}(...) is not a plain function name. " + self._by_hand()
            )
            return
        name = value.value
        located = self._find_function(work, name)
        if located is None:
            self._note(
                work,
                f"The lifespan `{name}` of {app.kind}(...) is not defined in the scanned files. "
                + self._by_hand(),
            )
            return
        target, function = located
        if function.asynchronous is None:
            self._note(target, f"The lifespan `{name}` is not an `async def`. " + self._by_hand())
            return
        yields = _yields(function)
        if not yields:
            self._note(
                target,
                f"The lifespan `{name}` has no `yield` this tool can place code after. " + self._by_hand(),
            )
            return
        local = target.local_name(ACLOSE, ["aclose_shared_http_clients"])
        call = f"await {local}()"
        common = _common_finally(yields)
        if common is not None and common.finalbody is not None:
            last = _last_statement(common.finalbody.body)
            if last is None:
                self._note(target, f"The `finally:` of lifespan `{name}` is on one line. " + self._by_hand())
                return
            self._insert_after(target, last, call, (function,))
            place = "at the end of the `finally:` around the `yield`"
        elif not _has_return(function) and (last := _last_statement(function.body)) is not None:
            self._insert_after(target, last, call, (function,))
            place = "at the end, after the shutdown code that follows the `yield`,"
        else:
            for item in yields:
                self._insert_after(target, item.statement, call, (function,))
            place = "right after the `yield`"
        target.descriptions.append(
            f"closes the shared HTTP clients {place} of lifespan `{function.name.value}` in "
            f"{target.display()}"
        )

    def _wire_events(self, work: _FileWork, app: _App, on_shutdown: cst.Arg | None) -> None:
        if on_shutdown is not None and isinstance(on_shutdown.value, cst.List | cst.Tuple):
            local = work.local_name(ACLOSE, ["aclose_shared_http_clients"])
            work.append_element[id(on_shutdown.value)] = local
            work.touch(app.chain)
            work.descriptions.append(
                f"adds `{local}` to the `on_shutdown` handlers of {app.kind}(...) in {work.display()}"
            )
            return
        found = self._shutdown_handler(work, app) if on_shutdown is None else None
        handler, handler_top = found if found is not None else (None, None)
        if handler is not None and not _has_return(handler):
            last = _last_statement(handler.body)
            if last is not None and (handler.asynchronous is not None or not self._has_async):
                if handler.asynchronous is not None:
                    code = f"await {work.local_name(ACLOSE, ['aclose_shared_http_clients'])}()"
                else:
                    code = f"{work.local_name(CLOSE, ['close_shared_http_clients'])}()"
                self._insert_after(work, last, code, None if handler_top is None else (handler_top,))
                work.descriptions.append(
                    f"closes the shared HTTP clients at the end of the shutdown handler "
                    f"`{handler.name.value}` in {work.display()}"
                )
                return
        if app.statement is None or app.name is None:
            self._note(
                work,
                f"{app.kind}(...) uses startup/shutdown event handlers and is not assigned to a name. "
                + self._by_hand(),
            )
            return
        local = work.local_name(ACLOSE, ["aclose_shared_http_clients"])
        anchor = _registration_anchor(work, app, app.framework.registrations)
        chain = app.chain
        if chain is not None and chain[-1] is app.statement:  # the anchor is next to it
            chain = (*chain[:-1], anchor)
        self._insert_after(work, anchor, f'{app.name}.add_event_handler("shutdown", {local})', chain)
        work.descriptions.append(
            f"registers `{local}` as a shutdown handler of `{app.name}` in {work.display()}"
        )

    def _shutdown_handler(
        self, work: _FileWork, app: _App
    ) -> tuple[cst.FunctionDef, cst.BaseStatement | None] | None:
        """The first `@<app>.on_event("shutdown")` function of the application's own file, with the
        module-level statement that holds it (None: not known)."""
        if app.name is None:
            return None
        for function, top in _decorated_functions(work, f"{app.name}.on_event"):
            for decorator in function.decorators:
                call = decorator.decorator
                if (
                    isinstance(call, cst.Call)
                    and cst_dotted(call.func) == f"{app.name}.on_event"
                    and call.args
                    and _string_value(call.args[0].value) == "shutdown"
                ):
                    return function, top
        return None

    def _find_function(self, work: _FileWork, name: str) -> tuple[_FileWork, cst.FunctionDef] | None:
        bound = work.bindings.get(name)
        if bound is None:
            for statement in work.module.body:
                if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
                    return work, statement
            return None
        dots = len(bound) - len(bound.lstrip("."))
        module_name, _, function_name = bound[dots:].rpartition(".")
        module_name = "." * dots + module_name  # `from .. import x` -> module `..`
        located = self._module_file(work.path, module_name) if module_name else None
        if located is None:
            return None
        key = os.path.normpath(str(located[0]))
        self._want(key, in_loop=False)
        syntax = self._read(key, located[1])
        if key not in self._work and (syntax is None or not _defines_function(syntax.tree, function_name)):
            return None  # not there: no need for libcst to say so
        other = self._load(*located)
        if other is None:
            return None
        for statement in other.module.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == function_name:
                return other, statement
        return None

    # -- notes and edits -----------------------------------------------------

    def _by_hand(self) -> str:
        return (
            f"Close the shared HTTP clients at shutdown by hand: `await {ACLOSE}()` from "
            f"`{self._accessor}` after your lifespan's `yield`, or enter the generated one there "
            f"(`async with {LIFESPAN}(app): yield`)."
        )

    def _no_app_note(self) -> WiringNote:
        streamlit = any(
            _search(_MENTIONS_STREAMLIT, text) for _i, _p, text in self._files.mentioning("streamlit")
        )
        where = _common_folder(self._files.paths)
        message = (
            "No application (FastAPI, Starlette, aiohttp, Litestar, Quart, Sanic) was found, so nothing "
            "was wired. Async clients are "
            "closed when their event loop shuts down through `asyncio.run()` or `asyncio.Runner`; "
            "code that keeps a loop running for the whole process (a worker, `loop.run_forever()`) "
            f"should call `await {ACLOSE}()` from `{self._accessor}` on that loop at shutdown."
        )
        if streamlit:
            message += (
                " Streamlit: a script that runs each rerun with `asyncio.run()` needs nothing more; if "
                "it keeps one loop alive across reruns (for example in `st.cache_resource`), close "
                f"the clients on that loop when it is stopped (`loop.run_until_complete({ACLOSE}())`)."
            )
        return WiringNote(where, message)

    def _note(self, work: _FileWork, message: str) -> None:
        self.notes.append(WiringNote(work.display(), message))

    @staticmethod
    def _insert_after(
        work: _FileWork, statement: cst.BaseStatement, code: str, chain: Sequence[cst.BaseStatement] | None
    ) -> None:
        """Add `code` after `statement`, which is in the last statement of `chain` (`_FileWork.touch`)."""
        lines = work.insert_after.setdefault(id(statement), [])
        if code not in lines:
            lines.append(code)
        work.touch(chain)

    def edits(self) -> list[WiringEdit]:
        edits: list[WiringEdit] = []
        for key in sorted(self._work, key=self._rank.__getitem__):
            work = self._work[key]
            if not (work.insert_after or work.add_kwarg or work.append_element):
                continue
            try:
                new_text, checked = _apply(work, self._accessor, self._import_style)
                compile(checked, str(work.path), "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
            except Exception as exc:  # a bug of ours: never hand back code that does not compile
                self.notes.append(
                    WiringNote(
                        work.display(),
                        f"Wiring was not applied ({type(exc).__name__}: {exc}); please report. "
                        + self._by_hand(),
                    )
                )
                continue
            if new_text != work.text:
                edits.append(WiringEdit(work.path, work.text, new_text, "; ".join(work.descriptions)))
        return edits


def _inner_statements(text: str, syntax: _Syntax, patterns: Sequence[re.Pattern[str]]) -> list[ast.stmt]:
    """What an excerpt keeps inside the compound statements that hold an application
    (`excerpt.cut`'s `inner`): the statements that hold it, and in their blocks the statements
    whose lines match one of `patterns` (what `_registration_anchor` and `_shutdown_handler` read),
    or with no pattern, only the former."""
    kept: list[ast.stmt] = []
    starts: list[int] | None = None
    for _call, chain in syntax.apps:
        kept.extend(chain)
        for holder in chain if patterns else ():
            for block in inner_blocks(holder):
                starts = line_starts(text) if starts is None else starts
                for pattern in patterns:
                    kept.extend(
                        block[index] for index in statements_matching(text, block, pattern, 0, starts)
                    )
    return kept


def _apps_where_the_ast_says(work: _FileWork) -> list[_App] | None:
    """The applications `_AppFinder` finds in the whole module, found by visiting only the
    innermost statements that hold the constructions the ast found (the outermost of them when one
    holds another). None when libcst does not find there exactly the calls the ast found."""
    units: dict[int, tuple[list[_Link], list[ast.Call]]] = {}
    chains: list[tuple[ast.Call, list[_Link]]] = []
    for call, ast_chain in work.syntax.apps:
        links = _cst_chain(work.module, work.syntax.tree, ast_chain)
        if links is None:
            return None
        chains.append((call, links))
    innermost = {id(links[-1][0]) for _call, links in chains}
    for call, links in chains:
        depth = next(depth for depth, (statement, _b) in enumerate(links) if id(statement) in innermost)
        units.setdefault(id(links[depth][0]), (links[: depth + 1], []))[1].append(call)
    apps: list[_App] = []
    for links, calls in units.values():
        statement, block = links[-1]
        finder = _AppFinder(work.bindings, block)
        statement.visit(finder)
        if len(finder.apps) != len(calls) or not all(
            _same_call(app.call, call) for app, call in zip(finder.apps, calls, strict=True)
        ):
            return None
        for app in finder.apps:
            app.chain = tuple(link[0] for link in links)
        apps.extend(finder.apps)
    return apps


def _same_call(call: cst.Call, node: ast.Call) -> bool:
    """Are these the same call, as libcst and the ast see it?"""
    dotted = cst_dotted(call.func)
    return (
        dotted is not None
        and nfkc(dotted) == dotted_name(node.func)
        and len(call.args) == len(node.args) + len(node.keywords)
    )


def _registration_anchor(work: _FileWork, app: _App, registrations: str) -> cst.BaseStatement:
    """The statement after which to register the close as a shutdown handler.

    Starlette runs shutdown handlers in the order they were added, and the application's own
    handlers may still send requests, so the close goes after the last statement of the block that
    adds handlers or includes routers (`@app.on_event`, `app.add_event_handler`,
    `app.include_router`, `app.router...`). Not simply at the end of the block: a trailing
    `if __name__ == "__main__": uvicorn.run(app)` would register it after the server stopped.
    """
    assert app.statement is not None and app.block is not None and app.name is not None
    anchor: cst.BaseStatement = app.statement
    pattern = re.compile(rf"\b{re.escape(app.name)}\.(?:{registrations})\b")
    if pattern.search(work.text) is None:  # the statements are pieces of the text
        return anchor
    module = work.module
    start = next(i for i, statement in enumerate(app.block) if statement is app.statement)
    for statement in app.block[start + 1 :]:
        if isinstance(statement, cst.FunctionDef):
            text = "".join(module.code_for_node(d) for d in statement.decorators)
        elif isinstance(statement, cst.SimpleStatementLine):
            text = module.code_for_node(statement)
        else:
            continue
        if pattern.search(text):
            anchor = statement
    return anchor


def _common_finally(yields: Sequence[_Yield]) -> cst.Try | cst.TryStar | None:
    """The innermost `try` with a `finally:` that covers every yield, if there is one."""
    common: cst.Try | cst.TryStar | None = None
    for candidates in zip(*(item.tries for item in yields), strict=False):
        first = candidates[0]
        if all(candidate is first for candidate in candidates):
            common = first
        else:
            break
    return common


def _decorated_functions(
    work: _FileWork, dotted: str
) -> Iterator[tuple[cst.FunctionDef, cst.BaseStatement | None]]:
    """Every function of the file, in source order, with its module-level statement (None: not
    known); or only those in module-level statements where the ast sees a function decorated with
    a call of `dotted` (the others cannot be such a function)."""
    aligned = _aligned(work.module.body, work.syntax.tree.body)
    if aligned is None:
        for function in _functions(work.module):
            yield function, None
        return
    wanted = nfkc(dotted)
    done: set[int] = set()
    for index, node in enumerate(work.syntax.tree.body):
        statement = aligned[index]
        if id(statement) in done or not any(
            isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef)
            and any(
                isinstance(decorator, ast.Call) and dotted_name(decorator.func) == wanted
                for decorator in inner.decorator_list
            )
            for inner in ast.walk(node)
        ):
            continue
        done.add(id(statement))
        for function in _functions(statement):
            yield function, statement


def _defines_function(tree: ast.Module, name: str) -> bool:
    """Could libcst find a module-level function `name` here?"""
    wanted = nfkc(name)
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == wanted for node in tree.body
    )


def _functions(module: cst.CSTNode) -> Iterator[cst.FunctionDef]:
    class Collector(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[cst.FunctionDef] = []

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            self.found.append(node)

    collector = Collector()
    module.visit(collector)
    return iter(collector.found)


def _module_parts(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [*parts[:-1], parts[-1] + ".py"]


def _path_ends_with(path: Path, parts: Sequence[str]) -> bool:
    own = Path(os.path.normpath(str(path))).parts
    return len(own) >= len(parts) and list(own[len(own) - len(parts) :]) == list(parts)


def _common_folder(paths: Sequence[Path]) -> str:
    if not paths:
        return "."
    try:
        common = os.path.commonpath([str(p.parent) for p in paths])
    except ValueError:  # mixed absolute and relative paths, or drives
        return paths[0].parent.as_posix()
    return Path(common).as_posix() if common else "."


# ---------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------


class _Apply(cst.CSTTransformer):
    """Carry out a file's planned edits, found by identity of the original nodes."""

    def __init__(self, work: _FileWork, pruned: bool) -> None:
        """`pruned`: walk only down the statements that hold edits (`_FileWork.touch`); the
        others are kept as they are."""
        super().__init__()
        self._work = work
        self._config = work.module.config_for_parsing
        self._pruned = pruned
        self._inside_edited = 0
        self.applied: set[int] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if not self._pruned or self._inside_edited:
            return True
        key = id(node)
        if key in self._work.edited:
            self._inside_edited += 1
            return True
        if isinstance(node, cst.BaseStatement):
            return key in self._work.spine
        return not isinstance(node, cst.BaseExpression)  # no statement in there

    def on_leave(
        self, original_node: _NodeT, updated_node: _NodeT
    ) -> _NodeT | cst.RemovalSentinel | cst.FlattenSentinel[_NodeT]:
        key = id(original_node)
        if self._pruned and key in self._work.edited:
            self._inside_edited -= 1
        if key in self._work.add_kwarg and isinstance(updated_node, cst.Call):
            keyword, value = self._work.add_kwarg[key]
            arg = cst.Arg(
                keyword=cst.Name(keyword),
                value=cst.parse_expression(value),
                equal=cst.AssignEqual(
                    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
                ),
            )
            self.applied.add(key)
            return cast(_NodeT, updated_node.with_changes(args=append_args(updated_node, [arg])))
        if key in self._work.append_element and isinstance(updated_node, cst.List | cst.Tuple):
            self.applied.add(key)
            return cast(_NodeT, _append_element(updated_node, self._work.append_element[key]))
        if key in self._work.insert_after and isinstance(updated_node, cst.BaseStatement):
            self.applied.add(key)
            added = [cst.parse_statement(code + "\n", self._config) for code in self._work.insert_after[key]]
            if isinstance(updated_node, cst.FunctionDef | cst.ClassDef) and added:
                # after a definition, as many blank lines as before it (two at module level)
                blank = sum(1 for line in updated_node.leading_lines if line.comment is None) or 1
                lines = [cst.EmptyLine(indent=False)] * blank
                first = added[0]
                assert isinstance(first, cst.SimpleStatementLine | cst.BaseCompoundStatement)
                added[0] = first.with_changes(leading_lines=lines)
            return cast(cst.FlattenSentinel[_NodeT], cst.FlattenSentinel([updated_node, *added]))
        return updated_node


def _append_element(node: cst.List | cst.Tuple, name: str) -> cst.List | cst.Tuple:
    """Add a name at the end of a list or tuple display, in its own layout: one element per line
    stays one per line (with its trailing comma), a one-line display stays on one line."""
    elements = list(node.elements)
    new = cst.Element(cst.Name(name))
    if not elements:
        return node.with_changes(
            elements=[new.with_changes(comma=cst.Comma())] if isinstance(node, cst.Tuple) else [new]
        )
    if isinstance(node, cst.List):
        opening: cst.BaseParenthesizableWhitespace | None = node.lbracket.whitespace_after
    else:
        opening = node.lpar[0].whitespace_after if node.lpar else None
    last = elements[-1]
    if isinstance(last.comma, cst.Comma) and isinstance(opening, cst.ParenthesizedWhitespace):
        elements[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=opening))
        elements.append(new.with_changes(comma=last.comma))
    else:
        elements[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        elements.append(new)
    return node.with_changes(elements=elements)


def _apply(work: _FileWork, accessor_module: str, style: ImportStyle | None = None) -> tuple[str, str]:
    """The new text of the file, and the code to compile to check it: the edited excerpt when
    there is one (the left-out statements are whole top-level statements that compiled before and
    come back unchanged in place of single statements, so the whole compiles when that does)."""
    module = _apply_edits(work)
    context = EditContext(filename=str(work.path))
    if style is not None:
        set_import_style(context, style)
    for exported, local in sorted(work.imports.items()):
        add_import(context, accessor_module, exported, None if local == exported else local)
    top = read_top_level(module, module.code) if work.imports else None  # libcst reads the head only
    code = code_keeping_order(module, apply_import_changes(module, context, top), accessor_module)
    if work.excerpt is None:
        return code, code
    whole = work.excerpt.splice(code, work.text)
    if whole is None:
        raise AssertionError("an edit reached text outside the excerpt")
    return whole, code


_ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


def _project_root(paths: Sequence[Path]) -> Path | None:
    """The nearest folder at or above the files' common folder that holds a project marker
    (`pyproject.toml`, `setup.cfg`, `setup.py`, `.git`), when the paths are absolute; else None."""
    if not paths or not all(path.is_absolute() for path in paths):
        return None
    folder = Path(_common_folder(paths))
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in _ROOT_MARKERS):
            return candidate
    return None


def _is_module(path: Path, dotted: str) -> bool:
    """Is this file the module `dotted` (its path ends so)?"""
    parts = dotted.split(".")
    return _path_ends_with(path, _module_parts(dotted)) or _path_ends_with(path, [*parts, "__init__.py"])


def _rebound(
    tree: ast.Module, chain: Sequence[ast.stmt], func: ast.expr, bindings: dict[str, str]
) -> str | None:
    """How the name an application class is called through is also bound to something else in
    this file (a module-level assignment, definition or other import, a parameter or assignment
    of an enclosing function), or None. Such a name may hold a test double or a factory."""
    base = func
    while isinstance(base, ast.Attribute):
        base = base.value
    if not isinstance(base, ast.Name):
        return None
    name = base.id
    expected = bindings.get(name)
    scopes: list[tuple[Sequence[ast.stmt], str]] = [(tree.body, "")]
    for statement in chain:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = statement.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            if any(argument.arg == name for argument in every):
                return f"`{name}` is a parameter of `{statement.name}`"
            scopes.append((statement.body, f" in `{statement.name}`"))
    for body, scope in scopes:
        pending: list[ast.AST] = list(body)
        while pending:
            node = pending.pop()
            found: str | None = None
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if node.name == name:
                    found = "defined"
                pending.extend(node.decorator_list)
                continue  # another scope
            if isinstance(node, ast.Lambda):
                continue
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
                found = "assigned"
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".", 1)[0]
                    if local != name:
                        continue
                    if isinstance(node, ast.ImportFrom):
                        module = "." * node.level + (node.module or "")
                        target = (
                            f"{module}.{alias.name}"
                            if module and not module.endswith(".")
                            else module + alias.name
                        )
                    else:
                        target = alias.name if alias.asname else local
                    if target != expected:
                        found = f"imported from `{target}`"
            elif isinstance(node, ast.ExceptHandler) and node.name == name:
                found = "bound by an `except`"
            if found is not None:
                return f"`{name}` is also {found} at line {getattr(node, 'lineno', '?')}{scope}"
            pending.extend(ast.iter_child_nodes(node))
    return None


def _assigned_name(statement: ast.stmt, call: ast.Call) -> str | None:
    """The name a statement `name = <call>` (or `name: T = <call>`) binds."""
    if isinstance(statement, ast.Assign) and statement.value is call and len(statement.targets) == 1:
        target = statement.targets[0]
        return target.id if isinstance(target, ast.Name) else None
    if (
        isinstance(statement, ast.AnnAssign)
        and statement.value is call
        and isinstance(statement.target, ast.Name)
    ):
        return statement.target.id
    return None


def _apply_edits(work: _FileWork) -> cst.Module:
    """`_Apply` down the statements that hold the planned edits, or over the whole module when
    they are not all known (or, which would be a bug, do not hold them all)."""
    if not work.whole_module:
        transformer = _Apply(work, pruned=True)
        module = work.module.visit(transformer)
        if transformer.applied == work.planned():
            return module
    return work.module.visit(_Apply(work, pruned=False))

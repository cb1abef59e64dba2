"""Import editing, in one place, for every rewrite: the codemod's and the lifecycle wiring's.

What it does, and the promises it keeps:

- **Read**: which name an import binds (`ImportBindings` on libcst, `import_bindings` on the stdlib
  ast, which is about ten times cheaper) and what a dotted expression names (`qualify`).
- **Add**: `add_import` schedules a `from module import name` on the codemod context (libcst's
  `AddImportsVisitor`); `apply_import_changes` carries it out on the module's head only, and
  `keep_sorted` keeps a `from module import a, b` that was sorted before the merge sorted after it
  (isort's and ruff's member order), so the project's import linter stays quiet.
- **Remove**: `remove_unused_library_imports` schedules the rewritten libraries' imports that
  nothing uses any more (libcst's `RemoveImportsVisitor`, whose scope analysis is skipped where the
  stdlib ast proves what it would decide: see `_removal_decisions`).
- **Keep**: comments above a removed import move to the next statement, and the blank lines around
  the import block and at the top of function bodies are restored (`_tidy_import_block`).

The output is byte for byte what running libcst's two visitors over the whole module gives; only
work that cannot change it is skipped (on a 22k-line file: 42 s down to 0.17 s).
"""

from __future__ import annotations

import ast
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

import libcst as cst
from libcst.helpers import get_absolute_module_from_package, get_absolute_module_from_package_for_import

from codemods.toplevel import Excerpt, NeedsWholeModule, TopLevel
from pool_refactor.scan.catalog import LIBRARIES
from pool_refactor.scan.names import dotted_name

if TYPE_CHECKING:
    from libcst.codemod import CodemodContext

# --------------------------------------------------------------------------------------------------
# The context that edits are scheduled on
#
# Nothing here imports `libcst.codemod`: that package imports `libcst.matchers`, about 0.3 s of
# start-up (a generated module of some 400 dataclasses), and its matcher-based visitors cost
# 20-30 ms each to construct (`dir()` and `getattr` over the whole class), per file. The
# additions and removals are scheduled under the keys libcst's own `AddImportsVisitor` and
# `RemoveImportsVisitor` read, in the shapes they read, so a `CodemodContext` and libcst's
# `CodemodCommand` (`python -m libcst.tool codemod`, `codemods.command`) work with them unchanged.

ADD_KEY = "AddImportsVisitor"
"""`AddImportsVisitor.CONTEXT_KEY`: the scratch entry holding the imports to add."""

REMOVE_KEY = "RemoveImportsVisitor"
"""`RemoveImportsVisitor.CONTEXT_KEY`: the scratch entry holding the imports to remove if unused."""


class ImportContext(Protocol):
    """What the import edits need of a context: libcst's `CodemodContext` has it, and so has the
    lighter `EditContext`."""

    @property
    def scratch(self) -> dict[str, Any]: ...

    @property
    def full_package_name(self) -> str | None: ...


@dataclass(frozen=True)
class EditContext:
    """A `CodemodContext` without `libcst.codemod`: a scratch space for scheduled edits, and the
    package a relative import is resolved against (None: relative imports are left as written)."""

    scratch: dict[str, Any] = field(default_factory=dict)
    filename: str | None = None
    full_package_name: str | None = None


@dataclass(frozen=True)
class ScheduledImport:
    """An import to add, as libcst's `ImportItem` holds it (same fields, same normalisation of
    leading dots), so that libcst's `AddImportsVisitor` can read a schedule made here."""

    module_name: str
    obj_name: str | None = None
    alias: str | None = None
    relative: int = 0

    def __post_init__(self) -> None:
        if self.module_name.startswith("."):
            bare = self.module_name.lstrip(".")
            object.__setattr__(self, "relative", self.relative + len(self.module_name) - len(bare))
            object.__setattr__(self, "module_name", bare)

    @property
    def module(self) -> str:
        return "." * self.relative + self.module_name

    def resolve_relative(self, package_name: str | None) -> ScheduledImport:
        """The same import with an absolute module when `package_name` allows (`ImportItem`'s)."""
        item = self
        if item.relative and item.obj_name is None:  # `import ..a` -> `from .. import a`
            item = replace(item, module_name="", obj_name=item.module_name)
        if package_name is None:
            return item
        absolute = get_absolute_module_from_package(package_name, item.module_name or None, self.relative)
        return item if absolute is None else replace(item, module_name=absolute, relative=0)


def _codemod_context(context: ImportContext) -> CodemodContext:
    """`context` as the `CodemodContext` libcst's own visitors need (same scratch), for the rare
    case where one of them must run (`_run_import_visitors`); imports `libcst.codemod` then."""
    from libcst.codemod import CodemodContext

    if isinstance(context, CodemodContext):
        return context
    return CodemodContext(scratch=context.scratch, full_package_name=context.full_package_name)


# --------------------------------------------------------------------------------------------------
# Reading imports


def cst_dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a chain of names (as libcst spells it), None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = cst_dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


class ImportBindings(cst.CSTVisitor):
    """Local name -> what it was imported as (`F` -> `fastapi.FastAPI`; relative ones keep their
    dots, `.events.lifespan`). Function-local imports count too: names are rarely reused."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, str] = {}

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = cst_dotted(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.names[alias.asname.name.value] = full
            else:
                top = full.split(".", 1)[0]
                self.names[top] = top

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        base = "." * len(node.relative) + (cst_dotted(node.module) or "" if node.module else "")
        for alias in node.names:
            name = cst_dotted(alias.name) or ""
            local = (
                alias.asname.name.value
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name)
                else name
            )
            joiner = "" if base.endswith(".") else "."
            self.names[local] = f"{base}{joiner}{name}"


def qualify(node: cst.BaseExpression, bindings: dict[str, str]) -> str | None:
    """What an expression names once its first name is resolved through the imports."""
    return qualify_dotted(cst_dotted(node), bindings)


def qualify_dotted(dotted: str | None, bindings: dict[str, str]) -> str | None:
    """`F.x` -> `fastapi.FastAPI.x` when `F` is bound by an import, else None."""
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    bound = bindings.get(head)
    if bound is None:
        return None
    return f"{bound}.{rest}" if rest else bound


# The same reading on the stdlib ast, which is about ten times cheaper than libcst: the wiring uses it
# to decide which files build an application (only those, and the files holding a lifespan to edit,
# are parsed with libcst) and which statements hold what is to be edited (only those are walked).


def ast_qualify(node: ast.expr, bindings: dict[str, str]) -> str | None:
    """`qualify` on the stdlib ast."""
    return qualify_dotted(dotted_name(node), bindings)


def import_bindings(imports: Sequence[ast.Import | ast.ImportFrom]) -> dict[str, str]:
    """What `ImportBindings` finds, from the ast import statements in source order."""
    names: dict[str, str] = {}
    for node in imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".", 1)[0]
                    names[top] = top
            continue
        if any(alias.name == "*" for alias in node.names):
            continue
        base = "." * node.level + (node.module or "")
        joiner = "" if base.endswith(".") else "."
        for alias in node.names:
            names[alias.asname or alias.name] = f"{base}{joiner}{alias.name}"
    return names


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def ascii_imports(text: str, imports: Sequence[ast.Import | ast.ImportFrom]) -> bool:
    """Are the lines of these import statements plain ASCII? The ast normalises identifiers (NFKC),
    libcst keeps them as written: the two readings of an imported name agree for certain only then."""
    if text.isascii():
        return True
    lines = _LINE_BREAK.split(text)  # the ast's lines: a lone `\r` ends one too
    for node in imports:
        end = node.end_lineno or node.lineno
        if end > len(lines) or not all(line.isascii() for line in lines[node.lineno - 1 : end]):
            return False
        if not lines[node.lineno - 1][node.col_offset :].startswith(("import", "from")):
            return False  # not the lines we think they are: say no
    return True


def nfkc(name: str) -> str:
    """A name as the ast spells it."""
    return name if name.isascii() else unicodedata.normalize("NFKC", name)


def leading_lines(statement: cst.BaseStatement) -> Sequence[cst.EmptyLine]:
    """Comment and blank lines above a statement (every concrete statement type has them)."""
    lines: Sequence[cst.EmptyLine] = getattr(statement, "leading_lines", ())
    return lines


def comment_lines(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """Only the comment lines: blank lines around removed code are not worth keeping."""
    return [line for line in lines if line.comment is not None]


# --------------------------------------------------------------------------------------------------
# Scheduling additions


def add_import(context: ImportContext, module: str, name: str, asname: str | None = None) -> None:
    """Schedule `from module import name [as asname]`; `apply_import_changes` writes it.
    (`AddImportsVisitor.add_needed_import`, without importing it.)"""
    scheduled = context.scratch.get(ADD_KEY, [])
    if not isinstance(scheduled, list):
        raise TypeError(f"the context's {ADD_KEY!r} entry is not a list")
    scheduled.append(ScheduledImport(module, name, asname))
    context.scratch[ADD_KEY] = scheduled


def scheduled_additions(context: ImportContext) -> list[object] | None:
    """A copy of the additions scheduled so far (None when none were), to roll back to."""
    scheduled = context.scratch.get(ADD_KEY)
    return list(scheduled) if isinstance(scheduled, list) else None


def restore_additions(context: ImportContext, saved: list[object] | None) -> None:
    """Forget the additions scheduled after `scheduled_additions` returned `saved`."""
    if saved is None:
        context.scratch.pop(ADD_KEY, None)
    else:
        context.scratch[ADD_KEY] = saved


def clear_scheduled(context: ImportContext) -> None:
    """Forget every scheduled addition and removal (they have been carried out)."""
    context.scratch.pop(ADD_KEY, None)
    context.scratch.pop(REMOVE_KEY, None)


def _schedule_removal(context: ImportContext, module: str, obj: str | None, asname: str | None) -> None:
    """`RemoveImportsVisitor.remove_unused_import`, without importing it."""
    scheduled = context.scratch.get(REMOVE_KEY, [])
    if not isinstance(scheduled, list):
        raise TypeError(f"the context's {REMOVE_KEY!r} entry is not a list")
    scheduled.append((module, obj, asname))
    context.scratch[REMOVE_KEY] = scheduled


# --------------------------------------------------------------------------------------------------
# Removing, and carrying out what was scheduled


def remove_unused_library_imports(context: ImportContext, module: cst.Module, families: set[str]) -> None:
    """Ask libcst to drop imports of the rewritten libraries that nothing uses any more."""
    modules = {m for lib in LIBRARIES if lib.family in families for m in lib.modules}
    collector = _ImportCollector()
    module.visit(collector)
    for statement in collector.statements:
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    name = cst_dotted(alias.name) or ""
                    if name.split(".", 1)[0] in modules:
                        asname = (
                            alias.asname.name.value
                            if alias.asname and isinstance(alias.asname.name, cst.Name)
                            else None
                        )
                        _schedule_removal(context, name, None, asname)
            elif isinstance(small, cst.ImportFrom) and small.module is not None and not small.relative:
                name = cst_dotted(small.module) or ""
                if name.split(".", 1)[0] not in modules or isinstance(small.names, cst.ImportStar):
                    continue
                for alias in small.names:
                    asname = (
                        alias.asname.name.value
                        if alias.asname and isinstance(alias.asname.name, cst.Name)
                        else None
                    )
                    _schedule_removal(context, name, cst_dotted(alias.name) or "", asname)


class _ImportCollector(cst.CSTVisitor):
    """Every import statement, function-local ones included."""

    def __init__(self) -> None:
        super().__init__()
        self.statements: list[cst.SimpleStatementLine] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not isinstance(node, cst.BaseExpression) and super().on_visit(node)  # no statements inside

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        if any(isinstance(small, cst.Import | cst.ImportFrom) for small in node.body):
            self.statements.append(node)
        return False


def apply_import_changes(
    module: cst.Module, context: ImportContext, top: TopLevel | None = None, *, partial: bool = False
) -> cst.Module:
    """Run libcst's import visitors for what `rewrite_module` scheduled, then restore the spacing
    around the import block that removing a statement (and its leading blank lines) disturbs.

    The result is byte for byte what running `AddImportsVisitor` and then `RemoveImportsVisitor`
    over the whole module gives; only work that cannot change it is skipped (see
    `_run_import_visitors`). When no import is removed, the function-body tidying has nothing to
    do and is skipped too.

    With `top` (`read_top_level` of the module), libcst is handed only the statements an import
    edit can read or change (`_import_excerpt`): the head, every statement that holds an import,
    and the statement after each of those (where the comments of a removed import go). The
    whole module is still generated once for the stdlib `ast` reading that decides removals.
    `partial`: the module is partly parsed (`toplevel.parse_partly`, which parses every statement
    of that excerpt), and what needs the whole module raises `NeedsWholeModule` instead.
    """
    if top is not None and len(top) == len(module.body):
        try:
            return _apply_in_excerpt(module, context, _import_excerpt(module, top))
        except _WholeModule:
            pass
    if partial:
        raise NeedsWholeModule
    before = module
    module, removed = _imports_keeping_comments(module, context)
    if removed:
        starts = _FunctionStarts()
        before.visit(starts)
        module = module.visit(_FunctionTopTidier(starts.flags))
    return _tidy_import_block(before, module)


class _WholeModule(Exception):
    """The import step needs the whole module after all (see `_apply_in_excerpt`)."""


def _import_excerpt(module: cst.Module, top: TopLevel) -> Excerpt:
    head = _head_length(module.body)
    keep = set(range(head))
    for index, has_import in enumerate(top.has_import):
        if has_import:
            keep.update(i for i in (index, index + 1) if i < len(module.body))
    return Excerpt(module, tuple(sorted(keep)), head)


def _apply_in_excerpt(module: cst.Module, context: ImportContext, excerpt: Excerpt) -> cst.Module:
    """`apply_import_changes` on the excerpt; raises `_WholeModule` when the removal needs libcst's
    own scope analysis (which must see the whole module) or would drop a statement after the head
    (which `Excerpt.reassemble` cannot place)."""
    part = excerpt.module()
    after, removed = _imports_keeping_comments(part, context, excerpt)
    if removed:
        starts = _FunctionStarts()
        part.visit(starts)
        after = after.visit(_FunctionTopTidier(starts.flags))
    return _tidy_import_block(module, excerpt.reassemble(after))


class _FunctionStarts(cst.CSTVisitor):
    """For each function, in source order: does its body start with an import?"""

    def __init__(self) -> None:
        super().__init__()
        self.flags: list[bool] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not isinstance(node, cst.BaseExpression) and super().on_visit(node)  # no statements inside

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        body = node.body
        first = body.body[0] if isinstance(body, cst.IndentedBlock) and body.body else None
        self.flags.append(first is not None and _is_import(first))


class _FunctionTopTidier(cst.CSTTransformer):
    """A removed function-local import leaves the blank line that followed it at the top of the body."""

    def __init__(self, flags: list[bool]) -> None:
        super().__init__()
        self._flags = iter(flags)
        self._stack: list[bool] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not isinstance(node, cst.BaseExpression) and super().on_visit(node)  # no statements inside

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._stack.append(next(self._flags, False))

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        started_with_import = self._stack.pop()
        body = updated_node.body
        if not (started_with_import and isinstance(body, cst.IndentedBlock) and body.body):
            return updated_node
        first = body.body[0]
        if _is_import(first) or _blank_lines(first) == 0:
            return updated_node
        kept = list(leading_lines(first))[_blank_lines(first) :]
        return updated_node.with_changes(
            body=body.with_changes(body=[first.with_changes(leading_lines=kept), *body.body[1:]])
        )


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def _is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, cst.Import | cst.ImportFrom) for small in statement.body
    )


def _blank_lines(statement: cst.BaseStatement) -> int:
    count = 0
    for line in leading_lines(statement):
        if line.comment is not None:
            break
        count += 1
    return count


def _with_blank_lines(statement: cst.BaseStatement, wanted: int) -> cst.BaseStatement:
    missing = wanted - _blank_lines(statement)
    if missing <= 0:
        return statement
    return statement.with_changes(leading_lines=[*([cst.EmptyLine()] * missing), *leading_lines(statement)])


def _statement_code(statement: cst.BaseStatement) -> str:
    return cst.Module(body=[]).code_for_node(statement.with_changes(leading_lines=()))


_ImportKey = tuple[tuple[str, ...], str]
"""An import statement's enclosing functions and classes, by name, and its code: the same
`import httpx` at module level and inside `fetch` are different statements, and only one of them
may be removed."""


class _ImportStatements(cst.CSTVisitor):
    """Import statements anywhere in a module (they are small, so their code is cheap to print)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.SimpleStatementLine] = []
        self.keys: dict[int, _ImportKey] = {}
        self._scope: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not isinstance(node, cst.BaseExpression) and super().on_visit(node)  # no statements inside

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._scope.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scope.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._scope.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._scope.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        if _is_import(node):
            self.found.append(node)
            self.keys[id(node)] = (tuple(self._scope), _statement_code(node))
        return False


def _import_codes(module: cst.Module) -> Counter[_ImportKey]:
    finder = _ImportStatements()
    module.visit(finder)
    return Counter(finder.keys.values())


class _MoveComments(cst.CSTTransformer):
    """Move the comment lines above the given import statements to the next statement that stays."""

    def __init__(self, doomed: set[int]) -> None:
        super().__init__()
        self.doomed = doomed

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not isinstance(node, cst.BaseExpression) and super().on_visit(node)  # no statements inside

    def _block(
        self, statements: Sequence[cst.BaseStatement], originals: Sequence[cst.BaseStatement]
    ) -> list[cst.BaseStatement]:
        out: list[cst.BaseStatement] = []
        carry: list[cst.EmptyLine] = []
        for original, statement in zip(originals, statements, strict=True):
            if id(original) in self.doomed:
                carry.extend(comment_lines(leading_lines(statement)))
                kept = [line for line in leading_lines(statement) if line.comment is None]
                out.append(statement.with_changes(leading_lines=kept))
                continue
            if carry:
                statement = statement.with_changes(leading_lines=[*carry, *leading_lines(statement)])
                carry = []
            out.append(statement)
        return out

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._block(updated_node.body, original_node.body))

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.BaseSuite:
        return updated_node.with_changes(body=self._block(updated_node.body, original_node.body))


def _imports_keeping_comments(
    module: cst.Module, context: ImportContext, excerpt: Excerpt | None = None
) -> tuple[cst.Module, bool]:
    """Run libcst's import visitors; when they remove an import with comment lines above it, run
    them again on a tree where those comments already sit on the next statement. Also says whether
    `RemoveImportsVisitor` ran (only then can an import have gone away)."""
    after, removing = _run_import_visitors(module, context, excerpt)
    doomed = _doomed_imports(module, after, removing)
    if not doomed:
        return after, removing
    if removing:
        moved = module.visit(_MoveComments(doomed))
    else:
        # Only a top-level import that AddImportsVisitor extended can be missing from `after`.
        mover = _MoveComments(doomed)
        moved = module.with_changes(body=mover._block(module.body, module.body))
    again, removing_again = _run_import_visitors(moved, context, excerpt)
    return again, removing or removing_again


def _doomed_imports(module: cst.Module, after: cst.Module, removing: bool) -> set[int]:
    """Import statements of `module` (by id) whose code is found nowhere among the imports of
    `after` (they were removed or rewritten), when one of them has comment lines above it to keep;
    otherwise the empty set. Every such statement counts, commented or not: a comment is carried
    past all of them to the next statement that stays.

    Without `RemoveImportsVisitor`, `after` is `module` with its first statements (the head that
    `_add_imports` hands to `AddImportsVisitor`) replaced, so only an import of that head can be
    missing, and the rest of the tree is searched only when a commented one is.
    """
    if removing:
        finder = _ImportStatements()
        module.visit(finder)
        candidates = finder.found
        keys = finder.keys
    else:
        head = _head_length(module.body)
        candidates = [
            s for s in module.body[:head] if isinstance(s, cst.SimpleStatementLine) and _is_import(s)
        ]
        keys = {id(s): ((), _statement_code(s)) for s in candidates}
    commented = [s for s in candidates if any(line.comment for line in s.leading_lines)]
    if not removing:
        kept_head = after.body[: len(after.body) - (len(module.body) - _head_length(module.body))]
        head_codes = {_statement_code(s) for s in kept_head if _is_import(s)}
        commented = [s for s in commented if keys[id(s)][1] not in head_codes]
    if not commented:
        return set()
    remaining = _import_codes(after)
    if all(remaining[keys[id(s)]] for s in commented):
        return set()
    return {id(s) for s in candidates if remaining[keys[id(s)]] == 0}


def _run_import_visitors(
    module: cst.Module, context: ImportContext, excerpt: Excerpt | None = None
) -> tuple[cst.Module, bool]:
    """What libcst's `AddImportsVisitor` then `RemoveImportsVisitor` give, as libcst's codemod
    runner applies them, without the work that cannot change the result; also says whether an
    import may have been removed.

    Measured on litellm/proxy (`pool-refactor scan --diff --jobs 1`, 2 cores: 75 s before this
    change, 14 s after, same output): on proxy_server.py (22,264 lines)
    `AddImportsVisitor.transform_module` took 12.2 s and `RemoveImportsVisitor.transform_module`
    36-40 s even with nothing to remove (its `GatherUnusedImportsVisitor` resolves ScopeProvider and
    QualifiedNameProvider, 12.6 s, and walks the module three more times through
    matcher-dispatching visitors); on proxy_cli.py (1,848 lines) 0.8 s and 3.0 s. With the
    shortcuts below, `apply_import_changes` takes 0.17 s instead of 42 s on proxy_server.py (one
    import added, as the lifecycle wiring does) and 0.23 s instead of 3.1 s on proxy_cli.py (one
    added, `import httpx` removed). What is skipped:

    - `AddImportsVisitor` only reads and edits the module's first statements (the import block at
      the top, after a docstring or `__strict__` flag, and the statement after it, which may get a
      blank line); `_add_imports` does the same edit on the list of top-level statements, without
      a visitor (issue 16: constructing the matcher-based visitor alone cost 25 ms a file).
    - `RemoveImportsVisitor` removes a scheduled import only when its scope analysis finds the name
      unreferenced. Nothing is run when nothing is scheduled (the lifecycle wiring only adds
      imports). When `_removal_decisions` can tell from the stdlib `ast` what that analysis will
      say for every scheduled import, the visitor's edit runs with that answer (`_RemoveKnown`) on
      the statements holding imports to remove, or not at all when every one stays. When it
      cannot, libcst's visitor runs over the whole module exactly as before.
    """
    module = _add_imports(module, context)
    scheduled: list[tuple[str, str | None, str | None]] = context.scratch.get(REMOVE_KEY, [])
    if not scheduled:
        return module, False
    aliases = _module_aliases(module)
    # An excerpt holds every import of the module, so its aliases are the module's; names are
    # read in the whole module.
    code = module.code if excerpt is None else excerpt.reassemble(module).code
    decisions = _removal_decisions(code, scheduled, context.full_package_name, aliases)
    if decisions is None:
        if excerpt is not None:
            raise _WholeModule  # libcst's scope analysis must see every statement
        from libcst.codemod.visitors import RemoveImportsVisitor

        return RemoveImportsVisitor(_codemod_context(context)).transform_module(module), True
    if not any(decisions):
        return module, False
    tail_from = None if excerpt is None else len(module.body) - excerpt.tail
    return _remove_known(module, context, aliases, decisions, tail_from), True


@dataclass(frozen=True)
class _AliasSite:
    """An import alias of the module, in source order, with its statement at the top level."""

    top_index: int
    alias: cst.ImportAlias
    parent: cst.Import | cst.ImportFrom


class _AliasCollector(cst.CSTVisitor):
    """Import aliases in source order (star imports have none); expressions hold no statements."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[cst.ImportAlias, cst.Import | cst.ImportFrom]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.BaseExpression):
            return False
        return super().on_visit(node)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return any(isinstance(small, cst.Import | cst.ImportFrom) for small in node.body)

    def visit_Import(self, node: cst.Import) -> bool:
        self.found.extend((alias, node) for alias in node.names)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if not isinstance(node.names, cst.ImportStar):
            self.found.extend((alias, node) for alias in node.names)
        return False


def _module_aliases(module: cst.Module) -> list[_AliasSite]:
    sites: list[_AliasSite] = []
    for index, statement in enumerate(module.body):
        collector = _AliasCollector()
        statement.visit(collector)
        sites.extend(_AliasSite(index, alias, parent) for alias, parent in collector.found)
    return sites


class _RemoveKnown(cst.CSTTransformer):
    """The edit of libcst's `RemoveImportsVisitor` (1.x: `leave_Import`, `leave_ImportFrom`), told
    which import aliases its scope analysis would find unused (`_removal_decisions` works that out)
    instead of computing it: of a scheduled alias found unused, the name goes, and the statement
    when it was the last; a trailing comma is dropped, and comments after a removed name move to
    the name before it (or the opening parenthesis). Copied rather than subclassed because the
    visitor is matcher-based (see `ADD_KEY`); `tests/test_codemod_speed.py` checks it against
    libcst's own visitor."""

    def __init__(
        self,
        scheduled: Sequence[tuple[str, str | None, str | None]],
        package: str | None,
        unused: Sequence[_AliasSite],
    ) -> None:
        super().__init__()
        self._package = package
        self._module_imports: dict[str, str | None] = {
            module: alias for module, obj, alias in scheduled if obj is None
        }
        self._obj_imports: dict[str, set[tuple[str, str | None]]] = {}
        for module, obj, alias in scheduled:
            if obj is not None:
                self._obj_imports.setdefault(module, set()).add((obj, alias))
        self._unused = {site.alias for site in unused}

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not isinstance(node, cst.BaseExpression) and super().on_visit(node)  # no imports inside

    def leave_Import(
        self, original_node: cst.Import, updated_node: cst.Import
    ) -> cst.Import | cst.RemovalSentinel:
        names_to_keep = []
        for alias in original_node.names:
            if alias.evaluated_name not in self._module_imports:
                names_to_keep.append(alias)
                continue
            if alias.evaluated_alias != self._module_imports[alias.evaluated_name]:
                names_to_keep.append(alias)
                continue
            if alias not in self._unused:
                names_to_keep.append(alias)
                continue
        if names_to_keep == original_node.names:
            return updated_node
        if not names_to_keep:
            return cst.RemoveFromParent()
        if names_to_keep[-1] != original_node.names[-1]:
            names_to_keep[-1] = names_to_keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(names=names_to_keep)

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom | cst.RemovalSentinel:
        names = original_node.names
        if isinstance(names, cst.ImportStar):
            return updated_node
        module = get_absolute_module_from_package_for_import(self._package, updated_node)
        if module is None or module not in self._obj_imports:
            return updated_node
        removing = self._obj_imports[module]
        lpar = updated_node.lpar
        names_to_keep: list[cst.ImportAlias] = []
        for alias in names:
            if (alias.evaluated_name, alias.evaluated_alias) not in removing or alias not in self._unused:
                names_to_keep.append(alias)
                continue
            comma = alias.comma
            if not isinstance(comma, cst.Comma):
                continue
            # Comments after the removed name go to the name before it (or the parenthesis).
            if names_to_keep:
                previous = names_to_keep[-1]
                if isinstance(previous.comma, cst.Comma):
                    previous = previous.with_deep_changes(
                        previous.comma,
                        whitespace_after=_merge_whitespace_after(
                            previous.comma.whitespace_after, comma.whitespace_after
                        ),
                    )
                else:
                    previous = previous.with_changes(comma=comma)
                names_to_keep[-1] = previous
            elif isinstance(lpar, cst.LeftParen):
                lpar = lpar.with_changes(
                    whitespace_after=_merge_whitespace_after(lpar.whitespace_after, comma.whitespace_after)
                )
        if names_to_keep == names:
            return updated_node
        if not names_to_keep:
            return cst.RemoveFromParent()
        if names_to_keep[-1] != names[-1]:
            names_to_keep[-1] = names_to_keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(names=names_to_keep, lpar=lpar)


def _merge_whitespace_after(
    left: cst.BaseParenthesizableWhitespace, right: cst.BaseParenthesizableWhitespace
) -> cst.BaseParenthesizableWhitespace:
    """libcst's `_merge_whitespace_after`: the comment lines of `right` kept after `left`."""
    if not isinstance(right, cst.ParenthesizedWhitespace):
        return left
    if not isinstance(left, cst.ParenthesizedWhitespace):
        return right
    kept = tuple(line for line in right.empty_lines if line.comment is not None)
    return left.with_changes(empty_lines=kept)


def _remove_known(
    module: cst.Module,
    context: ImportContext,
    aliases: Sequence[_AliasSite],
    decisions: Sequence[bool],
    tail_from: int | None = None,
) -> cst.Module:
    """Run `_RemoveKnown` on each top-level statement that holds an import to remove, each in a
    module of its own, so libcst drops what it empties exactly as in the whole module.

    In an excerpt, a statement from `tail_from` on that would be dropped raises `_WholeModule`.

    A dropped statement's blank lines go to the statement that follows it (when it has fewer): the
    first import of a group carries the blank line that separates it from the group before, and
    isort and ruff (I001) want the two groups kept apart when it goes."""
    unused = [site for site, remove in zip(aliases, decisions, strict=True) if remove]
    remover = _RemoveKnown(context.scratch.get(REMOVE_KEY, []), context.full_package_name, unused)
    touched = {site.top_index for site in unused}
    body: list[cst.BaseStatement] = []
    blank = 0
    for index, statement in enumerate(module.body):
        kept: list[cst.BaseStatement] = [statement]
        if index in touched:
            kept = list(module.with_changes(body=[statement]).visit(remover).body)
            if tail_from is not None and index >= tail_from and len(kept) != 1:
                raise _WholeModule
            if not kept:
                blank = max(blank, _blank_lines(statement))
                continue
        if blank and _blank_lines(kept[0]) < blank:
            kept[0] = _with_blank_lines(kept[0], blank)
        blank = 0
        body.extend(kept)
    return module.with_changes(body=body)


def _single_import(statement: cst.BaseStatement) -> bool:
    """What AddImportsVisitor counts as part of the top import block: a line with one import."""
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Import | cst.ImportFrom)
    )


def _head_length(body: Sequence[cst.BaseStatement]) -> int:
    """How many statements at the top of a module AddImportsVisitor can read or change.

    It skips a first docstring or `__strict__` line, extends the run of one-import lines that
    follows (or starts the module) and may add a blank line above the statement after that run.
    Counting the first statement as skippable whenever it is not an import can only make the head
    longer, which is harmless: the visitor sees exactly the statements it would see in the module.
    """
    index = 0 if body and _single_import(body[0]) else 1
    while index < len(body) and _single_import(body[index]):
        index += 1
    return min(index + 1, len(body))


def _add_imports(module: cst.Module, context: ImportContext) -> cst.Module:
    """What libcst's `AddImportsVisitor` (1.x) makes of `module` for the imports scheduled on
    `context`, without the visitor: it only reads and edits the first statements (`_head_length`),
    so this works on the list of top-level statements and leaves every other node as it is.

    The visitor's rules, kept exactly (`tests/test_codemod_speed.py` compares the two):

    - the top import block is the run of one-import lines at the start of the module, after a
      first docstring (a plain string) or `__strict__ = ...` line;
    - a scheduled import already made by a line of that block is dropped (`from m import *` makes
      every `from m import x`); relative modules count only with a package to resolve them;
    - names still to import from a module that a `from m import ...` line of the block imports
      from are merged into the first such line, sorted and before its own names;
    - the rest become new lines at the end of the block: `from __future__` ones above it, then
      `import m` (sorted), `import m as a`, and `from m import ...` (sorted names, modules in the
      visitor's order: those with aliased names first), each parsed with the module's own
      newline and indentation;
    - with a line added, the statement after the block gets a blank line above it unless it has
      one (above its comments, if it starts with one).

    Then `_place_added` moves each new `from` line to its place in the project's import order.
    """
    scheduled = context.scratch.get(ADD_KEY)
    if not scheduled:
        return module
    head = _head_length(module.body)
    body = _added_by_visitor(list(module.body[:head]), module, scheduled, context.full_package_name)
    if body is None:
        return module
    style = context.scratch.get(_STYLE_KEY)
    if isinstance(style, ImportStyle):
        body = _place_added(module.body[:head], body, style)
    return module.with_changes(body=[*body, *module.body[head:]])


def _skip_first(body: Sequence[cst.BaseStatement]) -> bool:
    """Is the first statement a docstring (a plain string) or a `__strict__ = ...` line, which
    `AddImportsVisitor` never puts an import above?"""
    if not body or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return False
    small = body[0].body[0]
    if isinstance(small, cst.Expr):
        return isinstance(small.value, cst.SimpleString)
    return (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name)
        and small.targets[0].target.value == "__strict__"
    )


def _added_by_visitor(
    statements: list[cst.BaseStatement], module: cst.Module, scheduled: Sequence[Any], package: str | None
) -> list[cst.BaseStatement] | None:
    """`statements` (the head of `module`) as `AddImportsVisitor` leaves them; None when it would
    leave them unchanged. See `_add_imports` for the rules."""
    items: list[ScheduledImport] = []
    for item in scheduled:  # `ScheduledImport`s, or libcst's `ImportItem`s from its own API
        if item.module == "__future__" and item.obj_name is None:
            raise ValueError("Cannot import __future__ directly!")
        if item.module == "__future__" and item.alias is not None:
            raise ValueError("Cannot import __future__ objects with aliases!")
        plain = ScheduledImport(item.module_name, item.obj_name, item.alias, item.relative)
        items.append(plain.resolve_relative(package))
    module_imports = {i.module for i in items if i.obj_name is None and i.alias is None}
    from_modules = {i.module for i in items if i.obj_name is not None and i.alias is None}
    module_mapping: dict[str, set[str]] = {
        name: {i.obj_name for i in items if i.module == name and i.obj_name is not None and i.alias is None}
        for name in sorted(from_modules)
    }
    module_aliases = {i.module: i.alias for i in items if i.obj_name is None and i.alias is not None}
    aliased_modules = {i.module for i in items if i.obj_name is not None and i.alias is not None}
    alias_mapping: dict[str, list[tuple[str, str]]] = {
        name: [
            (i.obj_name, i.alias)
            for i in items
            if i.module == name and i.obj_name is not None and i.alias is not None
        ]
        for name in sorted(aliased_modules)
    }

    start = 1 if _skip_first(statements) else 0
    end = start
    while end < len(statements) and _single_import(statements[end]):
        end += 1
    block = [s.body[0] for s in statements[start:end] if isinstance(s, cst.SimpleStatementLine)]

    # What the block imports already (libcst's `_GatherImportsMixin`).
    have_modules: set[str] = set()
    have_aliases: dict[str, str] = {}
    have_objects: dict[str, set[str]] = {}
    have_aliased: dict[str, list[tuple[str, str]]] = {}
    for small in block:
        if isinstance(small, cst.Import):
            for entry in small.names:
                if entry.evaluated_alias is not None:
                    have_aliases[entry.evaluated_name] = entry.evaluated_alias
                else:
                    have_modules.add(entry.evaluated_name)
            continue
        assert isinstance(small, cst.ImportFrom)
        source = get_absolute_module_from_package_for_import(package, small)
        if source is None:
            continue
        if isinstance(small.names, cst.ImportStar):
            have_objects[source] = {"*"}
            continue
        aliased = [(a.evaluated_name, a.evaluated_alias) for a in small.names if a.asname is not None]
        if aliased:
            have_aliased.setdefault(source, []).extend((n, a) for n, a in aliased if a is not None)
        objects = {a.evaluated_name for a in small.names if a.asname is None}
        if objects:
            have = have_objects.setdefault(source, set())
            if "*" in have:
                have_objects[source] = {"*"}
                continue
            have.update(objects)

    module_imports -= have_modules
    for name, alias in have_aliases.items():
        if name in module_aliases and module_aliases[name] == alias:
            del module_aliases[name]
    for name, pairs in have_aliased.items():
        for pair in pairs:
            if name in alias_mapping and pair in alias_mapping[name]:
                alias_mapping[name].remove(pair)
                if not alias_mapping[name]:
                    del alias_mapping[name]
    for name, objects in have_objects.items():
        if name not in module_mapping:
            continue
        if "*" in objects:
            del module_mapping[name]
        else:
            module_mapping[name] = module_mapping[name] - objects
            if not module_mapping[name]:
                del module_mapping[name]

    if not module_imports and not module_mapping and not module_aliases and not alias_mapping:
        return None

    # Names merged into the block's first `from` line of their module (`leave_ImportFrom`).
    for index in range(start, end):
        statement = statements[index]
        assert isinstance(statement, cst.SimpleStatementLine)
        small = statement.body[0]
        if not isinstance(small, cst.ImportFrom) or isinstance(small.names, cst.ImportStar):
            continue
        source = get_absolute_module_from_package_for_import(package, small)
        if source is None or (source not in module_mapping and source not in alias_mapping):
            continue
        objects_to_add = module_mapping.pop(source, set())
        aliases_to_add = alias_mapping.pop(source, [])
        merged = small.with_changes(
            names=[
                *(cst.ImportAlias(name=cst.Name(name)) for name in sorted(objects_to_add)),
                *(
                    cst.ImportAlias(name=cst.Name(name), asname=cst.AsName(name=cst.Name(alias)))
                    for name, alias in sorted(aliases_to_add)
                ),
                *small.names,
            ]
        )
        statements[index] = statement.with_changes(body=[merged])

    if not module_imports and not module_mapping and not module_aliases and not alias_mapping:
        return statements  # everything merged; the visitor adds no line and no blank line

    after = statements[end:]
    if after:
        first = after[0]
        above = leading_lines(first)
        if not above:
            after[0] = first.with_changes(leading_lines=(cst.EmptyLine(),))
        elif above[0].comment is not None:
            after[0] = first.with_changes(leading_lines=(cst.EmptyLine(), *above))

    names: defaultdict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for name, pairs in alias_mapping.items():
        names[name].extend(pairs)
    for name, objects in module_mapping.items():
        names[name].extend((obj, None) for obj in objects)
    ordered = {name: sorted(pairs) for name, pairs in names.items()}
    config = module.config_for_parsing

    def from_line(name: str, pairs: list[tuple[str, str | None]]) -> cst.BaseStatement:
        listed = ", ".join(obj if alias is None else f"{obj} as {alias}" for obj, alias in pairs)
        return cst.parse_statement(f"from {name} import {listed}", config=config)

    return [
        *statements[:start],
        *(from_line(name, pairs) for name, pairs in ordered.items() if name == "__future__"),
        *statements[start:end],
        *(cst.parse_statement(f"import {name}", config=config) for name in sorted(module_imports)),
        *(cst.parse_statement(f"import {m} as {a}", config=config) for m, a in module_aliases.items()),
        *(from_line(name, pairs) for name, pairs in ordered.items() if name != "__future__"),
        *after,
    ]


_SCOPE_SKIPPED_CALLS = frozenset({"TypeVar", "NewType"})
"""libcst's ScopeProvider does not visit the first argument of `typing.TypeVar`/`typing.NewType`."""


def _removal_decisions(
    code: str,
    scheduled: Sequence[tuple[str, str | None, str | None]],
    package: str | None,
    aliases: Sequence[_AliasSite],
) -> list[bool] | None:
    """For each of `aliases` (the module's import aliases in source order): will
    `RemoveImportsVisitor` remove it? None when the stdlib `ast` cannot tell for every scheduled
    import, and the visitor's own scope analysis must run.

    The visitor removes an import that its schedule names and that is unused: libcst's scope
    analysis records no read of the name, the name is not in `__all__` and no string type
    annotation mentions it. A scheduled import is decided here (about 20 ms for 2,000 lines) only
    by rules strict enough to imply that analysis' answer:

    - *kept*: it binds a plain name at module level (not in a function or class, not `import a.b`
      without `as`); nothing else anywhere binds that name (assignment, parameter, `def`, `class`,
      `for`/`with`/`except` target, walrus, `del`, `global`/`nonlocal`, an import in a function, a
      `match` capture), so every read of it resolves to the module-level import(s); and the name
      is read inside a function, lambda or class body, or at module level in a statement after
      the first one importing it (libcst counts a read at module level only for assignments
      before it, a read elsewhere for every module-level assignment of the name). Reads inside
      `TypeVar(...)`/`NewType(...)` calls, whose arguments the scope analysis may skip, are not
      counted.
    - *removed*: outside import statements the name is not an identifier anywhere, and no string
      that libcst could read as an annotation or an `__all__` entry (any string except a bare
      string statement such as a docstring) contains it, even as a part of a word. Then libcst
      records no read, no export and no string annotation of it.
    - *kept*, in a function: it binds a plain name in a function's own scope (not in a nested
      function, lambda, class or comprehension); nothing else in that function, nested scopes
      included, binds the name, nor is it a parameter or the function's name; and the function's
      own scope reads the name after the import statement (`_read_in_its_function`). That read
      resolves to the import in libcst's scope analysis too. (litellm's databricks
      `common_utils.py`: a function-local `import requests` still used for
      `requests.RequestException` sent the whole module into that analysis, 1.3 s.)
    - `from . import x` and `from __future__ import x` are never removed (the visitor skips them).

    Anything else is undecided. Names are compared as written: `ast` normalizes non-ASCII
    identifiers (NFKC) and libcst does not, so a read is counted only where the source spells it
    exactly, an import whose names `ast` and libcst spell differently is left to libcst, and so is
    a schedule with a non-ASCII name.
    """
    if not all(part is None or part.isascii() for entry in scheduled for part in entry):
        return None
    try:
        tree = ast.parse(code)
        facts = _NameFacts(_scope_skipped_names(tree), None if code.isascii() else _byte_lines(code))
        facts.visit(tree)
    except (SyntaxError, ValueError, RecursionError):
        return None
    if facts.module_nonlocal:
        return None  # libcst's ScopeProvider raises on this; keep its behaviour
    found = sorted(facts.imports, key=lambda item: (item[1].lineno, item[1].col_offset))
    if len(found) != len(aliases):
        return None
    strings = facts.strings()
    decisions: list[bool | None] = []
    for (node, alias, at_module_level), site in zip(found, aliases, strict=True):
        if (alias.name, alias.asname) != (site.alias.evaluated_name, site.alias.evaluated_alias):
            return None
        if _is_scheduled(node, alias, scheduled, package):
            decision = _decide(node, alias, at_module_level, facts, strings)
            if decision is None and not at_module_level and _read_in_its_function(tree, node, alias, facts):
                decision = False
            decisions.append(decision)
        else:
            decisions.append(False)
    return None if None in decisions else [bool(d) for d in decisions]


def _decide(
    node: ast.Import | ast.ImportFrom,
    alias: ast.alias,
    at_module_level: bool,
    facts: _NameFacts,
    strings: str,
) -> bool | None:
    """Would libcst find this import unused (True), used (False), or cannot this tell (None)?"""
    if isinstance(node, ast.ImportFrom) and (node.module is None or node.module == "__future__"):
        return False  # GatherUnusedImportsVisitor never lists these
    local = alias.asname or alias.name
    first = local.split(".", 1)[0]
    if at_module_level and "." not in local and local not in facts.bound and facts.is_read(local):
        return False
    if first not in facts.identifiers and first not in strings:
        return True
    return None


_NESTED_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _read_in_its_function(
    tree: ast.Module, node: ast.Import | ast.ImportFrom, alias: ast.alias, facts: _NameFacts
) -> bool:
    """The *kept, in a function* rule of `_removal_decisions`."""
    local = alias.asname or alias.name
    if "." in local:
        return False
    function = _own_function(tree, node)
    if function is None or function.name == local:
        return False
    arguments = function.args
    every = [
        *arguments.posonlyargs,
        *arguments.args,
        *arguments.kwonlyargs,
        arguments.vararg,
        arguments.kwarg,
    ]
    if any(argument is not None and argument.arg == local for argument in every):
        return False
    after = (node.end_lineno or node.lineno, node.end_col_offset or 0)
    read = False
    pending: list[tuple[ast.AST, bool]] = [(statement, True) for statement in function.body]
    while pending:
        current, own = pending.pop()
        if _binds(current, local, alias):
            return False
        if (
            own
            and isinstance(current, ast.Name)
            and current.id == local
            and isinstance(current.ctx, ast.Load)
            and (current.lineno, current.col_offset) > after
            and (facts.lines is None or facts._spelled(current))
        ):
            read = True
        if isinstance(current, ast.Call) and _call_name(current) in facts.skipped_calls:
            own = False  # its arguments may be skipped by the scope analysis: not a read to count
        inner = own and not isinstance(current, _NESTED_SCOPES)
        pending.extend((child, inner) for child in ast.iter_child_nodes(current))
    return read


def _own_function(tree: ast.Module, node: ast.stmt) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function whose own scope holds the statement `node`; None at module level or in a class."""
    pending: list[tuple[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef | None]] = [(tree, None)]
    while pending:
        current, scope = pending.pop()
        if current is node:
            return scope
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
            inner: ast.FunctionDef | ast.AsyncFunctionDef | None = current
        elif isinstance(current, ast.ClassDef | ast.Lambda):
            inner = None
        else:
            inner = scope
        # Statements sit in bodies, `except` handlers and `match` cases; never inside an expression.
        pending.extend(
            (child, inner) for child in ast.iter_child_nodes(current) if not isinstance(child, ast.expr)
        )
    return None


def _binds(node: ast.AST, name: str, alias: ast.alias) -> bool:
    """Does `node` bind `name` (other than as the import `alias`)?"""
    if isinstance(node, ast.Name):
        return node.id == name and not isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.alias):
        return node is not alias and (node.asname or node.name.split(".", 1)[0]) == name
    if isinstance(node, ast.arg):
        return node.arg == name
    if isinstance(node, ast.Global | ast.Nonlocal):
        return name in node.names
    # Definitions, `except ... as`, `match` captures and type parameters: the same fields that
    # `_NameFacts.generic_visit` counts as bindings.
    for field_name, value in ast.iter_fields(node):
        if field_name in ("attr", "arg", "id", "asname", "module"):
            continue
        if value == name or (isinstance(value, list) and name in value):
            return True
    return False


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _byte_lines(code: str) -> list[bytes]:
    """The source lines as `ast` numbers them, in UTF-8 (its column offsets count bytes)."""
    return [line.encode("utf-8") for line in re.split("\r\n|\r|\n", code)]


def _is_scheduled(
    node: ast.Import | ast.ImportFrom,
    alias: ast.alias,
    scheduled: Sequence[tuple[str, str | None, str | None]],
    package: str | None,
) -> bool:
    """Could RemoveImportsVisitor act on this alias? (A superset of what it matches: it keeps only
    one alias per scheduled plain module.)"""
    if isinstance(node, ast.Import):
        return any(
            obj is None and module == alias.name and asname == alias.asname
            for module, obj, asname in scheduled
        )
    absolute = get_absolute_module_from_package(package, node.module, node.level)
    return absolute is not None and any(
        obj is not None and module == absolute and obj == alias.name and asname == alias.asname
        for module, obj, asname in scheduled
    )


def _scope_skipped_names(tree: ast.AST) -> set[str]:
    """Local names that may stand for `typing.TypeVar`/`typing.NewType` (any alias of them)."""
    names = set(_SCOPE_SKIPPED_CALLS)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name.rsplit(".", 1)[-1] in _SCOPE_SKIPPED_CALLS:
                    names.add(alias.asname or alias.name)
    return names


class _NameFacts(ast.NodeVisitor):
    """What `_removal_decisions` needs to know about the names of a module, in one walk."""

    def __init__(self, skipped_calls: set[str], lines: list[bytes] | None) -> None:
        self.skipped_calls = skipped_calls
        self.lines = lines
        """The source in UTF-8 lines when it is not all ASCII, to check how a name is spelled."""
        self.depth = 0
        """How many function, lambda and class bodies enclose the current node."""
        self.ignoring = 0
        """Inside the arguments of a call whose arguments libcst's scope analysis may skip."""
        self.bound: set[str] = set()
        """Names bound other than by a module-level import."""
        self.read: set[str] = set()
        """Names read inside a function, lambda or class body."""
        self.top = 0
        """The index of the module-level statement being walked."""
        self.last_module_read: dict[str, int] = {}
        """For names read at module level: the last module-level statement that reads them."""
        self.first_module_import: dict[str, int] = {}
        """For names bound by a module-level import: the first module-level statement doing so."""
        self.identifiers: set[str] = set()
        """Every identifier outside import statements."""
        self._strings: list[str] = []
        """Every string constant that is not a bare string statement (bytes read as Latin-1)."""
        self.imports: list[tuple[ast.Import | ast.ImportFrom, ast.alias, bool]] = []
        """Every import alias (star imports excepted), with whether it is at module level."""
        self.module_nonlocal = False

    def _body(self, statements: Sequence[ast.AST]) -> None:
        self.depth += 1
        for statement in statements:
            self.visit(statement)
        self.depth -= 1

    def _arguments(self, args: ast.arguments) -> None:
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
            if arg is not None:
                self.bound.add(arg.arg)
                self.identifiers.add(arg.arg)
                if arg.annotation is not None:
                    self.visit(arg.annotation)
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                self.visit(default)

    def _type_params(self, node: ast.AST) -> None:
        for param in getattr(node, "type_params", ()):
            self.visit(param)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.bound.add(node.name)
        self.identifiers.add(node.name)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._type_params(node)
        self._arguments(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self._body(node.body)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._arguments(node.args)
        self._body([node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bound.add(node.name)
        self.identifiers.add(node.name)
        for child in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(child)
        self._type_params(node)
        self._body(node.body)

    def visit_Name(self, node: ast.Name) -> None:
        self.identifiers.add(node.id)
        if not isinstance(node.ctx, ast.Load):
            self.bound.add(node.id)
        elif self.lines is not None and not self._spelled(node):
            self.bound.add(node.id)  # written differently (NFKC): not a read libcst would see
        elif self.ignoring:
            pass
        elif self.depth:
            self.read.add(node.id)
        else:
            self.last_module_read[node.id] = self.top

    def visit_Module(self, node: ast.Module) -> None:
        for index, statement in enumerate(node.body):
            self.top = index
            self.visit(statement)

    def is_read(self, name: str) -> bool:
        """Does libcst count a read of this module-level imported name? A read in a function,
        lambda or class body counts for every module-level assignment of the name; a read at
        module level only for assignments before it, so it must be in a later statement than the
        first import of the name."""
        if name in self.read:
            return True
        return self.last_module_read.get(name, -1) > self.first_module_import.get(name, self.top + 1)

    def _spelled(self, node: ast.Name) -> bool:
        assert self.lines is not None
        if node.lineno > len(self.lines) or node.end_lineno != node.lineno or node.end_col_offset is None:
            return False
        return self.lines[node.lineno - 1][node.col_offset : node.end_col_offset] == node.id.encode("utf-8")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = (
            func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        )
        if name is None or name not in self.skipped_calls:
            self.generic_visit(node)
            return
        self.visit(func)
        self.ignoring += 1
        for child in (*node.args, *node.keywords):
            self.visit(child)
        self.ignoring -= 1

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str):
            self._strings.append(value)

    def strings(self) -> str:
        """The strings joined by NUL, which no name contains: search it for a name as a substring
        (stricter than finding the name as a word, which `ast` merging `f"..." "..."` parts into
        one constant could hide)."""
        return "\0".join(self._strings)

    def visit_Expr(self, node: ast.Expr) -> None:
        if not isinstance(node.value, ast.Constant):  # a bare string: never an annotation or export
            self.visit(node.value)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                continue
            self.imports.append((node, alias, self.depth == 0))
            if not self.depth:
                self.first_module_import.setdefault(alias.asname or alias.name, self.top)
            if alias.asname is None and "." in alias.name:
                self.bound.add(alias.name.split(".", 1)[0])  # `import a.b` binds `a` (and `a.b`)
            elif self.depth:
                self.bound.add(alias.asname or alias.name)

    def visit_Import(self, node: ast.Import) -> None:
        self._import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._import(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.bound.update(node.names)
        self.identifiers.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.bound.update(node.names)
        self.identifiers.update(node.names)
        if not self.depth:
            self.module_nonlocal = True

    def generic_visit(self, node: ast.AST) -> None:
        # Every other identifier: attributes, keywords, `except ... as`, `match` captures and
        # keys, type parameters (3.12+). Those that bind a name make it unsafe to decide "kept".
        for field_name, value in ast.iter_fields(node):
            if field_name == "attr" or field_name == "arg":
                if isinstance(value, str):
                    self.identifiers.add(value)  # a read of `x.attr` or a keyword: not a binding
                continue
            names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
            for name in names:
                if isinstance(name, str):
                    self.identifiers.add(name)
                    self.bound.add(name)
        super().generic_visit(node)


def _tidy_import_block(before: cst.Module, after: cst.Module) -> cst.Module:
    """Keep comments above removed imports, the blank line after a module docstring and two blank
    lines before the first definition."""
    body: list[cst.BaseStatement] = list(after.body)
    if not body:
        return after
    if before.body and _is_import(body[0]) and _blank_lines(body[0]) > _blank_lines(before.body[0]):
        # A new import that opened a group of its own, now first once the imports above it went
        # away: the blank line that separated it from them goes too.
        head = {_statement_code(s) for s in before.body[: _head_length(before.body)]}
        if _statement_code(body[0]) not in head:
            above = list(leading_lines(body[0]))
            body[0] = body[0].with_changes(
                leading_lines=above[_blank_lines(body[0]) - _blank_lines(before.body[0]) :]
            )
    if len(body) > 1 and _is_docstring(body[0]) and _is_import(body[1]):
        had_gap = len(before.body) > 1 and _is_docstring(before.body[0]) and _blank_lines(before.body[1]) > 0
        if had_gap:
            body[1] = _with_blank_lines(body[1], 1)
    last_import = max((i for i, s in enumerate(body) if _is_import(s)), default=-1)
    if 0 <= last_import < len(body) - 1:
        following = body[last_import + 1]
        # Two blank lines before a definition right after the imports; a comment between them
        # makes isort and ruff count one (the comment is code of its own to them).
        commented = any(line.comment is not None for line in leading_lines(following))
        if isinstance(following, cst.FunctionDef | cst.ClassDef) and not commented:
            body[last_import + 1] = _with_blank_lines(following, 2)
    return after.with_changes(body=body)


# --------------------------------------------------------------------------------------------------
# Where a new import goes: isort's and ruff's place for it


@dataclass(frozen=True)
class ImportStyle:
    """How the project sorts its imports (isort, ruff's `lint.isort`), as far as a new import needs.

    The defaults are isort's and ruff's: sections future, standard library, third party, first
    party, local folder, one blank line between them; in a section, `import x` lines before
    `from x import y` lines, each sorted by module name ignoring case."""

    first_party: frozenset[str] = frozenset()
    """Top-level names of the project's own packages (`known-first-party` and its packages)."""
    force_single_line: bool = False
    force_sort_within_sections: bool = False


_STYLE_KEY = "pool_refactor.import_style"

_FUTURE, _STDLIB, _THIRD_PARTY, _FIRST_PARTY, _LOCAL = range(5)


def set_import_style(context: ImportContext, style: ImportStyle) -> None:
    """Place the imports this context adds where `style` puts them (else where libcst does: after
    the last import of the block)."""
    context.scratch[_STYLE_KEY] = style


def _place_added(
    before: Sequence[cst.BaseStatement], after: list[cst.BaseStatement], style: ImportStyle
) -> list[cst.BaseStatement]:
    """`after` (the head of a module once `AddImportsVisitor` added imports to `before`) with each
    new `from x import ...` line moved to its place in the project's import order.

    A line counts as new when no line of `before` imports from the same module (a name merged into
    an existing line stays where that line is). Groups are runs of import lines that start after a
    blank line; a new line joins the group of its section, in sorted position, or starts a group of
    its own before the first group of a later section (after the last group when there is none).
    Sorting is only as good as the block it joins: an unsorted group gets a line in the place the
    sorted order would give."""
    old_modules = {_from_module(s) for s in before if _single_import(s)} - {None}
    added = [
        s
        for s in after
        if _single_import(s) and not leading_lines(s) and (m := _from_module(s)) and m not in old_modules
    ]
    if not added:
        return after
    body = [s for s in after if not any(s is a for a in added)]
    if not any(_single_import(s) for s in body):
        return after  # no block to join: where libcst put it
    for statement in added:
        lines = _single_lines(statement) if style.force_single_line else [statement]
        for line in lines:
            body = _insert_sorted(body, line, style)
    return body


def _from_module(statement: cst.BaseStatement) -> str | None:
    small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) and statement.body else None
    if not isinstance(small, cst.ImportFrom):
        return None
    return "." * len(small.relative) + (cst_dotted(small.module) or "" if small.module else "")


def _single_lines(statement: cst.BaseStatement) -> list[cst.BaseStatement]:
    """`from x import a, b` as `from x import a` and `from x import b` (isort's force_single_line)."""
    assert isinstance(statement, cst.SimpleStatementLine)
    small = statement.body[0]
    assert isinstance(small, cst.ImportFrom)
    if isinstance(small.names, cst.ImportStar) or len(small.names) < 2:
        return [statement]
    names = sorted(small.names, key=lambda alias: _member_key(_alias_name(alias)))
    return [
        statement.with_changes(
            body=[small.with_changes(names=[alias.with_changes(comma=cst.MaybeSentinel.DEFAULT)])]
        )
        for alias in names
    ]


def _section(statement: cst.BaseStatement, style: ImportStyle) -> int:
    assert isinstance(statement, cst.SimpleStatementLine)
    small = statement.body[0]
    if isinstance(small, cst.ImportFrom):
        if small.relative:
            return _LOCAL
        name = cst_dotted(small.module) or "" if small.module else ""
    else:
        assert isinstance(small, cst.Import)
        name = cst_dotted(small.names[0].name) or ""
    top = name.split(".", 1)[0]
    if name == "__future__":
        return _FUTURE
    if top in style.first_party:
        return _FIRST_PARTY
    if top in sys.stdlib_module_names:
        return _STDLIB
    return _THIRD_PARTY


def _order_key(statement: cst.BaseStatement, style: ImportStyle) -> tuple[int, str]:
    module = _from_module(statement)
    if module is None:  # `import x`
        assert isinstance(statement, cst.SimpleStatementLine)
        small = statement.body[0]
        assert isinstance(small, cst.Import)
        return 0, (cst_dotted(small.names[0].name) or "").lower()
    return (0 if style.force_sort_within_sections else 1), module.lower()


def _insert_sorted(
    body: list[cst.BaseStatement], new: cst.BaseStatement, style: ImportStyle
) -> list[cst.BaseStatement]:
    groups: list[list[int]] = []
    for index, statement in enumerate(body):
        if not _single_import(statement):
            continue
        if groups and groups[-1][-1] == index - 1 and _blank_lines(statement) == 0:
            groups[-1].append(index)
        else:
            groups.append([index])
    section = _section(new, style)
    same = [g for g in groups if _section(body[g[0]], style) == section]
    if same:
        group = same[-1]
        key = _order_key(new, style)
        position = next((i for i in group if _order_key(body[i], style) > key), group[-1] + 1)
        if position == group[0]:  # the new line opens the group: it takes the blank lines above
            first = body[position]
            above = list(leading_lines(first))
            blank = _blank_lines(first)
            new = new.with_changes(leading_lines=above[:blank])
            body[position] = first.with_changes(leading_lines=above[blank:])
        return [*body[:position], new, *body[position:]]
    later = [g for g in groups if _section(body[g[0]], style) > section]
    if later:
        # A group of its own before the later section's: it takes the blank lines above that
        # group (none at the top of the file), and one blank line then separates the two.
        position = later[0][0]
        first = body[position]
        above = list(leading_lines(first))
        blank = _blank_lines(first)
        new = new.with_changes(leading_lines=above[:blank])
        body[position] = first.with_changes(leading_lines=[cst.EmptyLine(), *above[blank:]])
        return [*body[:position], new, *body[position:]]
    new = new.with_changes(leading_lines=[cst.EmptyLine()])
    position = groups[-1][-1] + 1
    return [*body[:position], new, *body[position:]]


# --------------------------------------------------------------------------------------------------
# Sorting the names of a merged `from ... import`


def code_keeping_order(before: cst.Module, after: cst.Module, module: str) -> str:
    """The code of `after` (`before` with imports added), its `from <module> import ...` put back in
    isort's member order when it was in that order in `before`: libcst's `AddImportsVisitor` puts
    merged names first."""
    code = after.code
    names = _import_from(before, module)
    if names is not None and _is_sorted([_alias_name(a) for a in names]) and _may_need_sorting(code, module):
        return after.visit(_SortMembers(module)).code
    return code


def _may_need_sorting(code: str, dotted: str) -> bool:
    """Could `_SortMembers` change this code? Only if a `from <dotted> import` in it is unsorted
    (or is not plain ASCII: the ast normalises the names that `_SortMembers` compares as written)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return True
    wanted = nfkc(dotted)
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.level == 0
        and node.module == wanted
        and not any(alias.name == "*" for alias in node.names)
    ]
    return not ascii_imports(code, found) or any(
        not _is_sorted([alias.name for alias in node.names]) for node in found
    )


def _import_from(module: cst.Module, dotted: str) -> Sequence[cst.ImportAlias] | None:
    """The names of the file's first module-level `from <dotted> import ...`, if any."""
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if (
                    isinstance(small, cst.ImportFrom)
                    and not small.relative
                    and small.module is not None
                    and cst_dotted(small.module) == dotted
                    and not isinstance(small.names, cst.ImportStar)
                ):
                    return small.names
    return None


def _alias_name(alias: cst.ImportAlias) -> str:
    return cst_dotted(alias.name) or ""


def _member_key(name: str) -> tuple[int, str]:
    """isort's and ruff's default member order: CONSTANTS, then Classes, then functions."""
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def _is_sorted(names: Sequence[str]) -> bool:
    return list(names) == sorted(names, key=_member_key)


class _SortMembers(cst.CSTTransformer):
    """Keep an import that was sorted before a name was merged into it sorted (libcst's
    AddImportsVisitor puts new names first), so the project's import linter stays quiet."""

    def __init__(self, dotted: str) -> None:
        super().__init__()
        self._dotted = dotted

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.ImportFrom:
        names = updated_node.names
        if (
            updated_node.relative
            or updated_node.module is None
            or cst_dotted(updated_node.module) != self._dotted
            or isinstance(names, cst.ImportStar)
            or _is_sorted([_alias_name(a) for a in names])
        ):
            return updated_node
        ordered = sorted(names, key=lambda alias: _member_key(_alias_name(alias)))
        commas = [alias.comma for alias in names]  # positions keep their commas (and line breaks)
        return updated_node.with_changes(
            names=[alias.with_changes(comma=comma) for alias, comma in zip(ordered, commas, strict=True)]
        )

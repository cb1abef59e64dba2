"""The project pass: calls, in one module, of client factories, wrapper classes and client subclasses
defined in another module of the project (`from app.retry import RetryingHttpClient`, then
`RetryingHttpClient()` in a request handler), reported as the same-module calls are, with the chain
naming the other file and line.

Decisions, and why:

* **One hop, by path.** Each file's scan records its module-level exports (`FileScan.exports`, plain
  data, cached with the file). An import is resolved to a file the way the interpreter would find
  it from the importing file: absolute names from the folder above each regular package that holds
  it (nearest first), from the scanned folders, the project root and its `src/`, and the file's own
  folder (a script's siblings); relative imports from the file's own package. A name that resolves to any
  other file (a same-named class of another package, a module outside the project) never matches,
  and a name re-bound in the importing module shadows the import (`scan.names.ImportTable`). A
  re-export (`from .retry import X` in `app/__init__.py`, imported as `from app import X`) is a
  second hop and is not followed.
* **Only files that spell an exported name are parsed.** When no file exports anything (the usual
  case) the pass costs nothing. Otherwise each file's bytes are searched for the exported names as
  words; only those that match are parsed, and each of their statements walked.
* **Cached with both sides.** A file's cross-module findings depend on its bytes, on the exports of
  every file it may import and on which files exist (an added `__init__.py` changes what a name
  resolves to). They are stored per file with its digest, under one fingerprint of every file's
  exports plus the list of files and roots. A warm run with nothing changed opens no file and does
  not load the scanner; a changed file is looked at again (its digest differs); a change to any
  export or to the set of files recomputes the pass (a read and a word search per file, a parse for
  the few that spell a name), which is cheap and keeps the key simple.
* **Never rewritten.** `--fix` edits one file at a time from what that file says; these sites get
  the reason they are not fixed (`scan.scanner._hook_reason`, `_subclass_reason`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pool_refactor.run.cache import ScanCache
from pool_refactor.scan.findings import Export, FileScan, Finding
from pool_refactor.scan.source import MAX_SOURCE_BYTES, SourceError, decode_source, read_bytes

if TYPE_CHECKING:
    from pool_refactor.scan.names import ImportTable
    from pool_refactor.scan.scanner import Hook, Subclass

__all__ = ["ProjectFile", "ProjectPass"]


@dataclass(frozen=True)
class ProjectFile:
    absolute: str
    display: str
    digest: str | None
    """BLAKE2b of the bytes scanned, when the run caches; None otherwise."""
    scan: FileScan


class ProjectPass:
    """The exports of one run's files, and the cross-module findings they lead to."""

    def __init__(self, files: Sequence[ProjectFile], roots: Sequence[Path]) -> None:
        self.files = files
        self.exporters: dict[str, tuple[str, dict[str, Export]]] = {}
        """Absolute path -> (display, exports by the dotted name they are called by)."""
        for file in files:
            if file.scan.exports:
                table = {_key(export): export for export in file.scan.exports}
                self.exporters[os.path.normpath(file.absolute)] = (file.display, table)
        self.roots = tuple(dict.fromkeys(os.path.normpath(str(root)) for root in roots))
        self._spellings: list[tuple[str, tuple[bytes, ...]]] = []
        """For each export, the words any module that calls it must spell, with its file: the name
        (a factory method's class and its own name) and the last part of the module's name, which
        every import of the module spells (`from ..clients import X`, `import app.clients as c`);
        a package's `__init__.py` can be imported as `from . import X`, so only the names there."""
        for path, (_, table) in self.exporters.items():
            stem = os.path.basename(path).removesuffix(".py")
            for export in table.values():
                words = [export.owner, export.name] if export.owner else [export.name]
                if stem != "__init__":
                    words.append(stem)
                self._spellings.append((path, tuple(word.encode() for word in words)))
        self._modules: dict[tuple[tuple[str, ...], tuple[str, ...]], str | None] = {}
        """(roots, module parts) -> the first file that the module name reaches from those roots."""
        self._fingerprint: str | None = None
        self.errors: dict[str, str] = {}
        """Display path -> what went wrong while looking at that file (never cached)."""

    @property
    def active(self) -> bool:
        return bool(self.exporters)

    @property
    def fingerprint(self) -> str:
        """Everything besides a file's own bytes that its cross-module findings depend on."""
        if self._fingerprint is None:
            data = [
                sorted(
                    (path, display, sorted((k, list(vars(e).values())) for k, e in table.items()))
                    for path, (display, table) in self.exporters.items()
                ),
                sorted(os.path.normpath(file.absolute) for file in self.files),
                list(self.roots),
            ]
            encoded = json.dumps(data, separators=(",", ":")).encode()
            self._fingerprint = hashlib.blake2b(encoded, digest_size=16).hexdigest()
        return self._fingerprint

    def run(self, cache: ScanCache | None) -> dict[int, tuple[Finding, ...]]:
        """The cross-module findings of each file (by index in `files`) that has any."""
        if cache is not None:
            cache.cross_fingerprint(self.fingerprint if self.active else "")
        if not self.active:
            return {}
        found: dict[int, tuple[Finding, ...]] = {}
        for index, file in enumerate(self.files):
            hit = None
            if cache is not None and file.digest is not None:
                hit = cache.cross_hit(file.absolute, file.digest, self.fingerprint, file.display)
            if hit is None:
                hit = self.findings_for(file.absolute, file.display)
                if cache is not None and file.digest is not None and file.display not in self.errors:
                    cache.cross_record(file.absolute, file.digest, self.fingerprint, hit)
            if hit:
                found[index] = hit
        return found

    def findings_for(self, absolute: str, display: str) -> tuple[Finding, ...]:
        """Read the file as it is now; its calls of other modules' exports, as findings."""
        if not self.active:
            return ()
        try:
            raw = read_bytes(Path(absolute), MAX_SOURCE_BYTES)
        except (SourceError, OSError):
            return ()  # the file's own scan reports why it cannot be read
        me = os.path.normpath(absolute)
        if not _spells_any(raw, [words for path, words in self._spellings if path != me]):
            return ()
        try:
            text = decode_source(raw).text
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text, filename=display)
        except (SourceError, SyntaxError, ValueError, RecursionError, MemoryError):
            return ()  # as above
        try:
            return _Importer(self, me).findings(tree, text, display)
        except Exception as exc:  # a bug of ours must not end the run, but it must be seen
            self.errors[display] = f"internal error in the project pass: {type(exc).__name__}: {exc}"
            return ()

    def module_file(self, roots: tuple[str, ...], module: tuple[str, ...]) -> str | None:
        """The file the module name reaches first from `roots` (as `sys.path` would), if any."""
        key = (roots, module)
        if key not in self._modules:
            found: str | None = None
            for root in roots:
                base = os.path.join(root, *module)
                found = next(
                    (c for c in (base + ".py", os.path.join(base, "__init__.py")) if os.path.isfile(c)), None
                )
                if found is not None:
                    break
            self._modules[key] = found
        return self._modules[key]


def _spells_any(raw: bytes, spellings: list[tuple[bytes, ...]]) -> bool:
    """Whether `raw` holds every word of one of `spellings`: substring searches, much quicker than
    a regex (a false hit only costs a parse), each word searched for at most once."""
    present: dict[bytes, bool] = {}
    for words in spellings:
        for word in words:
            found = present.get(word)
            if found is None:
                found = present[word] = word in raw
            if not found:
                break
        else:
            return True
    return False


def _key(export: Export) -> str:
    return f"{export.owner}.{export.name}" if export.owner else export.name


class _Importer:
    """One module that may import exports: how its imports resolve to the project's files."""

    def __init__(self, project: ProjectPass, absolute: str) -> None:
        self.project = project
        self.absolute = absolute
        folder = os.path.dirname(absolute)
        self.roots = tuple(dict.fromkeys([*_package_root(folder), *project.roots, folder]))
        self._hooks: dict[tuple[str, str], Hook | Subclass | None] = {}

    def findings(self, tree: ast.Module, text: str, display: str) -> tuple[Finding, ...]:
        from pool_refactor.scan.scanner import scan_imported  # only a file that spells an export

        tops, spelled = self._absolutize(tree)
        tops &= self._firsts()
        if not tops:
            return ()
        words = spelled | {
            w
            for _, table in self.project.exporters.values()
            for e in table.values()
            for w in (e.name, e.owner)
            if w
        }
        module = scan_imported(
            tree, text, display, tops, words, self._resolve, self._leads_to_export, self._imported_class
        )
        if module is None:
            return ()
        # These sites never carry a plan: the verdicts of imported hooks and subclasses give reasons.
        return tuple(
            sorted((module.finding(item) for item in module.sites), key=lambda f: (f.line, f.column))
        )

    def _firsts(self) -> set[str]:
        """The first part of every name an exporting file has from this file's roots: an import
        whose top-level name is not one of them cannot lead to an export."""
        firsts: set[str] = set()
        for path in self.project.exporters:
            for root in self.roots:
                if path.startswith(root + os.sep):
                    first = path[len(root) + 1 :].split(os.sep, 1)[0]
                    firsts.add(first.removesuffix(".py"))
        return firsts

    def _absolutize(self, tree: ast.Module) -> tuple[set[str], set[str]]:
        """Turn relative imports into the absolute names they stand for here (so the import table
        resolves them like any other); the top-level names of every import, and the names that the
        relative imports bind (what their statements spell, for the walk to keep them)."""
        tops: set[str] = set()
        spelled: set[str] = set()
        for node in _statements(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                name = self._relative(node.level, node.module)
                if name is None:
                    continue
                node.level, node.module = 0, name
                spelled.update(alias.asname or alias.name for alias in node.names)
            if isinstance(node, ast.ImportFrom) and node.module:
                tops.add(node.module.split(".", 1)[0])
            elif isinstance(node, ast.Import):
                tops.update(alias.name.split(".", 1)[0] for alias in node.names)
        return tops, spelled

    def _relative(self, level: int, module: str | None) -> str | None:
        base = os.path.dirname(self.absolute)
        for _ in range(level - 1):
            base = os.path.dirname(base)
        for root in self.roots:
            if base == root or base.startswith(root + os.sep):
                parts = [p for p in base[len(root) :].split(os.sep) if p]
                if module:
                    parts += module.split(".")
                if parts and all(part.isidentifier() for part in parts):
                    return ".".join(parts)
        return None

    def _file_of(self, module: list[str]) -> str | None:
        """The exporting file that the module name reaches from here (not this file itself)."""
        found = self.project.module_file(self.roots, tuple(module))
        return (
            found
            if found is not None and found != self.absolute and found in self.project.exporters
            else None
        )

    def _leads_to_export(self, target: str) -> bool:
        """Whether an import of the dotted `target` binds an exporting module (`import app.retry as
        r`), an export, or a class whose factory method is one; other imports shadow their name."""
        parts = target.split(".")
        if self._file_of(parts) is not None:
            return True
        for split in range(len(parts) - 1, 0, -1):
            path = self._file_of(parts[:split])
            if path is not None:
                key = ".".join(parts[split:])
                table = self.project.exporters[path][1]
                return key in table or any(name.startswith(key + ".") for name in table)
        return False

    def _lookup(self, target: str) -> Hook | Subclass | None:
        """The export that the dotted `target` names (`app.retry.RetryingHttpClient`), if any."""
        parts = target.split(".")
        for split in range(len(parts) - 1, 0, -1):
            path = self._file_of(parts[:split])
            if path is None:
                continue
            key = ".".join(parts[split:])
            if (path, key) not in self._hooks:
                from pool_refactor.scan.scanner import imported_hook

                display, table = self.project.exporters[path]
                export = table.get(key)
                hook = imported_hook(export, f"{display}:{export.line}") if export is not None else None
                self._hooks[(path, key)] = hook
            return self._hooks[(path, key)]
        return None

    def _imported_class(self, target: str) -> Subclass | None:
        from pool_refactor.scan.scanner import Subclass

        found = self._lookup(target)
        return found if isinstance(found, Subclass) else None

    def _resolve(self, call: ast.Call, scopes: list[ast.AST], imports: ImportTable) -> Hook | Subclass | None:
        from pool_refactor.scan.scanner import Hook, client_given, self_method_owner

        target = imports.resolve(call.func, scopes)
        if target is not None:
            found = self._lookup(target)
            if found is None or isinstance(found, Hook) and (found.owner or client_given(call, found)):
                return None
            return found
        # `self.make_client()` in a method of a class derived from an imported class that defines it
        func = call.func
        owner = self_method_owner(func, scopes) if len(scopes) >= 3 else None
        if owner is None:
            return None
        assert isinstance(func, ast.Attribute)
        if any(
            isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == func.attr
            for stmt in owner.body
        ):
            return None  # overridden here: the call runs this class's own method
        for base in owner.bases:
            base_target = imports.resolve(base, scopes[2:])
            if base_target is None:
                continue
            found = self._lookup(f"{base_target}.{func.attr}")
            if isinstance(found, Hook) and found.owner:
                return found
        return None


def _package_root(folder: str) -> list[str]:
    """The folders above the regular packages holding `folder`, nearest first: where the
    interpreter starts those packages' absolute names. For `tests/fixtures/app/billing/` where
    `billing` and `tests` have an `__init__.py`, that is `tests/fixtures/app/` (whence `billing.retry`)
    and then the folder above `tests` (whence `tests.fixtures...`, a namespace subpackage of a
    regular package, which imports all the same, as in `fix.placement`). A folder whose name is
    not an identifier ends the chain."""
    tops: list[str] = []
    current = folder
    while os.path.basename(current).isidentifier():
        parent = os.path.dirname(current)
        if os.path.isfile(os.path.join(current, "__init__.py")) and not os.path.isfile(
            os.path.join(parent, "__init__.py")
        ):
            tops.append(parent)
        if parent == current:
            break
        current = parent
    return tops


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _statements(tree: ast.Module) -> list[ast.AST]:
    """Every statement, nested ones included, without visiting expressions: imports are statements."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        found.append(node)
        for name in _BLOCKS:
            block = getattr(node, name, None)
            if isinstance(block, list):
                stack.extend(block)
    return found

"""The project pass: calls, in one module, of client factories, wrapper classes and client subclasses
defined in another module of the project (`from app.retry import RetryingHttpClient`, then
`RetryingHttpClient()` in a request handler), reported as the same-module calls are, with the chain
naming the other file and line.

Decisions, and why:

* **One hop, by path.** Each file's scan records its module-level exports (`FileScan.exports`, plain
  data, cached with the file). An import is resolved to a file the way the interpreter would find
  it from the importing file: absolute names from the folder above each regular package that holds
  it (nearest first), from the scanned folders, the project root and its `src/`, and the file's own
  folder (a script's siblings); relative imports from the file's own package. A name that resolves
  to any other file (a same-named class of another package, a module outside the project) never
  matches, and a name re-bound in the importing module shadows the import (`scan.names.ImportTable`). A
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
* **Fixed where the hook is.** A call in another module is never rewritten itself. A factory or
  wrapper class whose every call, in its module and in the others, closes what it gets has its
  client borrow the shared pool where it is built (`ProjectPass.settle_hooks`): its module is
  planned again with what the others do, and `--fix` rewrites it alone. Other calls get the reason
  they are not fixed (`scan.scanner._hook_reason`, `_subclass_reason`).
"""

from __future__ import annotations

import ast
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pool_refactor.run.cache import ScanCache
from pool_refactor.run.digest import content_digest
from pool_refactor.scan.findings import Applicability, Export, FileScan, Finding

if TYPE_CHECKING:
    from pool_refactor.scan.names import ImportTable
    from pool_refactor.scan.scanner import Hook, ScannedModule, Subclass

__all__ = ["ProjectFile", "ProjectPass"]


class ProjectFile(NamedTuple):
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
        self.fixed_hooks: set[str] = set()
        """The constructions (by `Hook.where`) that a plain `--fix` gives the shared pool, which
        settles their calls in other modules (`settle_hooks`)."""
        self.closed_elsewhere: dict[str, dict[str, bool]] = {}
        """Display path of a module -> its hooks that other modules call (by `Hook.where`) ->
        whether every one of those calls closes the client it gets (`settle_hooks`)."""

    @property
    def active(self) -> bool:
        return bool(self.exporters)

    @property
    def fingerprint(self) -> str:
        """Everything besides a file's own bytes that its cross-module findings depend on."""
        if self._fingerprint is None:
            data = [
                sorted(
                    (path, display, sorted((k, list(e.values())) for k, e in table.items()))
                    for path, (display, table) in self.exporters.items()
                ),
                sorted(os.path.normpath(file.absolute) for file in self.files),
                list(self.roots),
            ]
            encoded = json.dumps(data, separators=(",", ":")).encode()
            self._fingerprint = content_digest(encoded)
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
        me = os.path.normpath(absolute)
        parsed = _parse(absolute, display, [words for path, words in self._spellings if path != me])
        if parsed is None:
            return ()
        try:
            return _Importer(self, me).findings(*parsed, display)
        except Exception as exc:  # a bug of ours must not end the run, but it must be seen
            self.errors[display] = f"internal error in the project pass: {type(exc).__name__}: {exc}"
            return ()

    def settle_hooks(self, scans: list[FileScan], imported: dict[str, tuple[Finding, ...]]) -> None:
        """Plan the factories and wrapper classes that other modules call (`imported`: the calls of
        exports found in each file), in place in `scans` and `imported`.

        A hook whose every call, in its own module and in every other (one hop, as the pass sees
        them), closes the client it gets, in the kind of code the client needs
        (`Finding.closes_via`), has its construction planned in its module: the client borrows the
        shared pool, and each call elsewhere is fixed there (`plan.analyze.through_construction`).
        A call elsewhere that keeps the client blocks the plan the module's own calls allowed.
        What the other modules do is in `closed_elsewhere`, which `--fix` passes on to the rewrite
        of the hook's module. A wrapper class that any class of the project derives from is left
        alone: its subclasses' instances run its `__init__` where no call of it shows. The hook's
        module is analyzed again only when its plan changes, so that a warm run where nothing
        changes loads no scanner. Not cached: it depends on several files, and it is rare."""
        for found in imported.values():
            for finding in found:
                if finding.via:
                    table = self.closed_elsewhere.setdefault(finding.via.rpartition(":")[0], {})
                    table[finding.via] = table.get(finding.via, True) and finding.closes_via
        index_of = {file.display: index for index, file in enumerate(self.files)}
        planned: dict[str, set[str]] = {}
        wrappers: dict[str, tuple[str, str]] = {}  # where -> (exporter, class name) that may be planned
        for exporter, exports in self.exporters.values():
            index = index_of.get(exporter)
            if index is None or scans[index].error is not None:
                continue
            planned[exporter] = {f"{exporter}:{f.line}" for f in scans[index].findings if f.plan is not None}
            table = self.closed_elsewhere.get(exporter, {})
            for export in exports.values():
                where = f"{exporter}:{export.line}"
                if export.kind == "wrapper" and table.get(where, where in planned[exporter]):
                    wrappers[where] = (exporter, export.name)
        derived = self._subclassed_anywhere({name for _, name in wrappers.values()})
        for where, (exporter, name) in wrappers.items():
            if name in derived:
                self.closed_elsewhere.setdefault(exporter, {})[where] = False
        changing = [
            (exporter, index_of[exporter], table)
            for exporter, table in self.closed_elsewhere.items()
            if exporter in planned
            and any(closes != (where in planned[exporter]) for where, closes in table.items())
        ]
        if changing:
            from pool_refactor.plan.analyze import analyze_module

            for exporter, index, table in changing:
                parsed = _parse(self.files[index].absolute, exporter, None)
                if parsed is not None:
                    own, _ = analyze_module(*parsed, exporter, table)
                    scans[index] = scans[index].replace(findings=(*own, *imported.get(exporter, ())))
        # The constructions that --fix plans (re-planned above or not), and their calls elsewhere.
        constructions: dict[str, Finding] = {}
        for exporter, table in self.closed_elsewhere.items():
            index = index_of.get(exporter)
            for finding in scans[index].findings if index is not None else ():
                where = f"{exporter}:{finding.line}"
                if where in table and not finding.via and finding.plan is not None:
                    constructions[where] = finding
        if not constructions:
            return
        from pool_refactor.plan.analyze import through_construction

        self.fixed_hooks = {w for w, f in constructions.items() if f.applicability is Applicability.SAFE}
        for display, found in list(imported.items()):
            settled = tuple(
                through_construction(f, constructions[f.via], f.via) if f.via in constructions else f
                for f in found
            )
            if settled != found:
                index = index_of[display]
                old = {id(f) for f in found}
                kept = [f for f in scans[index].findings if id(f) not in old]
                scans[index] = scans[index].replace(findings=(*kept, *settled))
                imported[display] = settled

    def _subclassed_anywhere(self, names: set[str]) -> set[str]:
        """Which of the wrapper classes `names` a class of any file of the project may derive from:
        one read and word search per file, a parse of those that spell `class` and a name."""
        if not names:
            return set()
        from pool_refactor.scan.scanner import subclassed

        spellings: list[tuple[bytes, ...]] = [(b"class", name.encode()) for name in names]
        derived: set[str] = set()
        for file in self.files:
            parsed = _parse(file.absolute, file.display, spellings)
            if parsed is not None:
                derived.update(name for name in names - derived if subclassed(parsed[0], name))
        return derived

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


def _parse(
    absolute: str, display: str, spellings: list[tuple[bytes, ...]] | None
) -> tuple[ast.Module, str] | None:
    """The file's tree and text as it is now; None when it cannot be read or parsed (its own scan
    reports why), or, given `spellings`, when it spells none of them."""
    # Imported here: a warm run, whose project pass the cache answers, reads no file.
    from pool_refactor.scan.source import MAX_SOURCE_BYTES, SourceError, decode_source, read_bytes

    try:
        raw = read_bytes(Path(absolute), MAX_SOURCE_BYTES)
        if spellings is not None and not _spells_any(raw, spellings):
            return None
        text = decode_source(raw).text
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=display), text
    except (SourceError, OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None


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
        from pool_refactor.scan.scanner import Hook, uses_close_it

        module = self.scanned(tree, text, display)
        if module is None:
            return ()
        # These sites never carry a plan: the verdicts of imported hooks and subclasses give reasons,
        # and a hook's calls say whether they close what they get, for `ProjectPass.settle_hooks`.
        found = []
        for item in module.sites:
            finding = module.finding(item)
            hook = item.site.hook
            if isinstance(hook, Hook) and hook.kind in ("factory", "wrapper"):
                # (A class deriving from a wrapper, here or anywhere, is `settle_hooks`' to see.)
                closes = uses_close_it(hook, [item], module.parent)
                finding = finding.replace(via=hook.where, closes_via=closes)
            found.append(finding)
        return tuple(sorted(found, key=lambda f: (f.line, f.column)))

    def scanned(self, tree: ast.Module, text: str, display: str) -> ScannedModule | None:
        """The module's calls of other modules' exports, classified."""
        from pool_refactor.scan.scanner import scan_imported  # only a file that spells an export

        tops, spelled = self._absolutize(tree)
        tops &= self._firsts()
        if not tops:
            return None
        words = spelled | {
            w
            for _, table in self.project.exporters.values()
            for e in table.values()
            for w in (e.name, e.owner)
            if w
        }
        return scan_imported(
            tree, text, display, tops, words, self._resolve, self._leads_to_export, self._imported_class
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

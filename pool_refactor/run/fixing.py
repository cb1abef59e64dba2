"""`--fix` and `--diff`: rewrite files and generate the shared module, or show what would change.

Every rewritten file is read again, re-planned from what is on disk now, rewritten with libcst and
checked to compile (in worker processes when there are enough files: ``fix_parallel``), then
written atomically, by this process, only if it is still byte for byte what was read. The
shared module is created (or completed) before any file that imports it is written, so a run that
stops half-way never leaves imports of a module that does not exist.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from pool_refactor.fix import shared_module
from pool_refactor.fix.app_integration import (
    Detected,
    SettingsEditError,
    detect,
    module_name_of,
    settings_fields_edit,
    takes_pep604,
)
from pool_refactor.fix.mock_fixes import rewrite_test
from pool_refactor.fix.mocks import MockWarning, ProjectModules, Replaced, find_broken_mocks
from pool_refactor.fix.placement import ModuleTarget, PlacementError, locate_module, target_for_path
from pool_refactor.fix.rewrite import Rewrite, RewriteOptions, not_fixed, rewrite_file
from pool_refactor.fix.style import ProjectStyle, read_style
from pool_refactor.fix.wiring import plan_wiring
from pool_refactor.fix.writer import WriteError, create_new, write_atomic
from pool_refactor.paths import DiscoveredFile, display_path
from pool_refactor.plan.analyze import scan_loaded
from pool_refactor.run.fix_parallel import map_files
from pool_refactor.run.options import Options, Outcome
from pool_refactor.run.suites import find_test_files, testpaths
from pool_refactor.run.workers import InChild, effective_jobs, frozen, idle_cpu, in_child
from pool_refactor.scan.catalog import LIBRARIES
from pool_refactor.scan.findings import FileError, Finding, Note, ScanResult
from pool_refactor.scan.rules import is_enabled
from pool_refactor.scan.source import Source, SourceError, encode_source, read_source


@dataclass
class _TargetWork:
    target: ModuleTarget
    rewrites: list[Rewrite] = field(default_factory=list)


def apply_fixes(files: list[DiscoveredFile], result: ScanResult, options: Options, outcome: Outcome) -> None:
    style = read_style(options.config.project_root)  # once per run: every step follows the same style
    with frozen():  # the scan's heap, out of the rewrites' collections (and shared with `_Ahead`'s child)
        ahead = _Ahead(files, result, options, style)
        try:
            _apply(files, result, options, outcome, style, ahead)
        finally:
            ahead.close()


def _apply(
    files: list[DiscoveredFile],
    result: ScanResult,
    options: Options,
    outcome: Outcome,
    style: ProjectStyle,
    ahead: _Ahead,
) -> None:
    work, errors = _compute_rewrites(files, result, options, style)

    diffs: list[str] = []
    fixed_sites = 0
    fixed_files: list[DiscoveredFile] = []
    wired_roots: set[Path] = set()
    tested: set[Path] = set()
    for target_path, item in sorted(work.items()):
        module_display = display_path(target_path)
        package, detected = ahead.package(item)  # the files read twice below: resolved once
        with shared_module.remembering(ahead.rendered()):
            module_text = _module_update(item, options, errors, module_display, style, detected)
        if module_text is _FAILED:
            continue
        others: list[tuple[DiscoveredFile, Source, str]] = []
        root = _package_root(item)
        if options.wire and root not in wired_roots:  # one application per package: wire it once
            wired_roots.add(root)
            others = _wire(item, package, options, outcome, style)
        others = _settings_edit(item, files, options, outcome, detected, module_text, others, style)
        tests = _tests_update(item, options, module_text, tested, style)
        if options.diff:
            if isinstance(module_text, str):
                old = _read_text(target_path)
                diffs.append(_unified(module_display, old, module_text))
            if tests is not None:
                diffs.append(_unified(display_path(tests[0]), _read_text(tests[0]), tests[1]))
            for rewrite in item.rewrites:
                diffs.append(_unified(rewrite.file.display, rewrite.source.text, rewrite.new_text))
                fixed_sites += rewrite.applied
            for file, source, new_text in others:
                diffs.append(_unified(file.display, source.text, new_text))
            continue
        ahead.stale()  # files are written from here on: what was read ahead may be out of date
        if isinstance(module_text, str):
            try:
                data = module_text.encode("utf-8")
                if target_path.exists():
                    write_atomic(target_path, data, expected=target_path.read_bytes())
                else:
                    create_new(target_path, data)
                outcome.messages.append(f"Wrote {module_display}")
                result.notes.append(Note("module", "shared client module written", module_display))
            except (WriteError, OSError) as exc:
                errors.append(
                    FileError(module_display, f"cannot write the shared module: {exc}", stage="fix")
                )
                continue
        if tests is not None:
            _write_tests(*tests, outcome, errors)
        for rewrite in item.rewrites:
            try:
                data = encode_source(rewrite.new_text, rewrite.source)
                write_atomic(rewrite.file.path, data, expected=rewrite.source.raw)
            except (WriteError, UnicodeEncodeError, OSError) as exc:
                errors.append(FileError(rewrite.file.display, f"not fixed: {exc}", stage="fix"))
                continue
            fixed_sites += rewrite.applied
            fixed_files.append(rewrite.file)
            result.rewritten.add(rewrite.file.display)
        for file, source, new_text in others:
            try:
                write_atomic(file.path, encode_source(new_text, source), expected=source.raw)
            except (WriteError, SourceError, OSError) as exc:
                errors.append(FileError(file.display, f"lifecycle wiring not written: {exc}", stage="fix"))

    replaced = _replaced(work, result, options, style)  # from the plans, before the rescan replaces them
    if options.diff:
        files_changed = sum(len(w.rewrites) for w in work.values())
        outcome.messages.append(f"Would fix {fixed_sites} site(s) in {files_changed} file(s).")
    else:
        _rescan(fixed_files, result, options)
        outcome.messages.append(f"Fixed {fixed_sites} site(s) in {len(fixed_files)} file(s).")
        result.fixed = fixed_sites
    _report_mocks(replaced, ahead, options, outcome, diffs, style)
    if options.diff:
        outcome.diff_text = "".join(diffs)
    if errors:
        outcome.failed = True
        result.errors = sorted([*result.errors, *errors], key=lambda e: e.path)


def _compute_rewrites(
    files: list[DiscoveredFile], result: ScanResult, options: Options, style: ProjectStyle
) -> tuple[dict[Path, _TargetWork], list[FileError]]:
    """The rewrites of the files with fixable sites, grouped by shared module, and the files that
    cannot be fixed; computed in worker processes when there are enough (``fix_parallel``), in the
    order of the files' display paths either way."""
    computed = map_files(
        partial(rewrite_file, options=rewrite_options(options, result, style)),
        _candidates(files, result),
        effective_jobs(options.jobs),
        _crashed,
    )
    work: dict[Path, _TargetWork] = {}
    errors: list[FileError] = []
    for item in computed:
        if isinstance(item, FileError):
            errors.append(item)
        elif item is not None:
            # The group's target by its absolute name: the first file's import may be relative.
            target = ModuleTarget(item.target.path, item.target.module_name)
            work.setdefault(item.target.path, _TargetWork(target)).rewrites.append(item)
    return work, errors


def _candidates(files: list[DiscoveredFile], result: ScanResult) -> list[DiscoveredFile]:
    """The files with sites to rewrite, in the order of their display paths."""
    by_display = {f.display: f for f in files}
    displays = sorted({f.path for f in result.findings if f.plan is not None and not f.suppressed})
    return [by_display[display] for display in displays if display in by_display]


def rewrite_options(
    options: Options, result: ScanResult | None = None, style: ProjectStyle | None = None
) -> RewriteOptions:
    """What a file's rewrite depends on; small, since it is sent to every worker process. `style`:
    the project's, read again when not given."""
    configured = options.config.shared_module
    module = options.module or (options.config.project_root / configured if configured else None)
    return RewriteOptions(
        project_root=options.config.project_root,
        unsafe_fixes=options.unsafe_fixes,
        select=options.select,
        ignore=options.ignore,
        module=module,
        style=style if style is not None else read_style(options.config.project_root),
        closed_elsewhere=result.closed_elsewhere if result is not None else {},
    )


def _crashed(file: DiscoveredFile) -> FileError:
    return not_fixed(file, "the fixer crashed on this file (worker process died)")


def _package_root(item: _TargetWork) -> Path:
    """The top-level package (or script folder) the shared module belongs to: the folder of the first
    part of its absolute name (`shop` of `shop.utils.http_client`, `plugins` of a namespace package's
    `plugins._utils.http_client`; a top-level module's or a script's own folder)."""
    top = item.target.path.parent
    for _ in range(item.target.module_name.count(".") - 1):
        top = top.parent
    return top


def _package_files(item: _TargetWork, files: list[DiscoveredFile]) -> list[tuple[DiscoveredFile, Path]]:
    """The scanned files of the package the shared module belongs to, with their resolved paths.

    Each folder is resolved and placed once: resolving walks every part of a path with an `lstat`,
    and a tree of a few hundred files has a few dozen folders (on /tmp/svc, 356 files, this took
    30 ms a package). A file that is itself a symbolic link is resolved in full."""
    top = _package_root(item)
    folders: dict[Path, tuple[Path, bool]] = {}
    found = []
    for file in files:
        path = file.path
        folder = folders.get(path.parent)
        if folder is None:
            resolved_folder = path.parent.resolve()
            folder = folders[path.parent] = (resolved_folder, resolved_folder.is_relative_to(top))
        if path.name in ("", ".", "..") or path.is_symlink():
            resolved = path.resolve()
            if resolved.is_relative_to(top):
                found.append((file, resolved))
        elif folder[1]:  # a file is inside the package if its folder is (the package is a folder)
            found.append((file, folder[0] / path.name))
    return found


def _wire(
    item: _TargetWork,
    package_files: list[tuple[DiscoveredFile, Path]],
    options: Options,
    outcome: Outcome,
    style: ProjectStyle,
) -> list[tuple[DiscoveredFile, Source, str]]:
    """Close the shared clients at the application's shutdown (FastAPI/Starlette lifespan or
    shutdown handler). Edits of files being rewritten anyway are merged into their rewrite; the
    other edited files come back to be written (or diffed) with the rest."""
    rewrites = {r.file.path.resolve(): r for r in item.rewrites}
    package: dict[Path, DiscoveredFile] = {}

    def package_texts() -> Iterator[tuple[Path, str]]:
        # Only the texts are kept, compactly (`PackageTexts`): the bytes of every file of a large
        # package would double what this holds (17 MB on litellm's proxy), and the few files wired
        # are read again below.
        for file, resolved in package_files:
            if resolved in rewrites:
                yield resolved, rewrites[resolved].new_text
                continue
            try:
                text = read_source(file.path).text
            except (SourceError, OSError):
                continue
            package[resolved] = file
            yield resolved, text

    sections: set[str] = set().union(*(r.sections for r in item.rewrites))
    imports = style.imports
    own = item.target.import_name.lstrip(".").split(".", 1)[0]  # as the rewrite sorts it: first party
    edits, notes = plan_wiring(
        package_texts(),  # the wiring alone holds them: let go before it returns and the edits are read
        item.target.import_name,
        sections,
        has_async=bool(sections & {"httpx-async", "aiohttp"}),
        has_sync=bool(sections & {"httpx-sync", "requests", "urllib3"}),
        # Entry points are declared beside the configuration; without one (a setup.py project
        # scanned by its package folder) the wiring finds the project's root itself.
        project_root=options.config.project_root.resolve() if options.config.config_file else None,
        import_style=replace(imports, first_party=imports.first_party | {own}),
    )
    others: list[tuple[DiscoveredFile, Source, str]] = []
    edits.reverse()
    while edits:
        # Taken off the list, and let go once its file is compared: a wired file's text as the
        # wiring read it (3.8 MB for litellm's `proxy_server.py`) is not kept beside the text read
        # again and the new one.
        edit = edits.pop()
        path, new_text, description = edit.path, edit.new_text, relative_paths(edit.description)
        rewrite = rewrites.get(path)
        if rewrite is not None:
            rewrite.new_text = new_text
        elif path in package:
            file = package[path]
            try:
                source = read_source(file.path)
            except (SourceError, OSError) as exc:
                outcome.failed = True
                outcome.result.errors.append(
                    FileError(file.display, f"lifecycle wiring not written: {exc}", stage="fix")
                )
                continue
            changed = source.text != edit.old_text  # the text the wiring read (and planned on)
            del edit
            if changed:
                outcome.failed = True
                message = "lifecycle wiring not written: the file changed while it was being fixed"
                outcome.result.errors.append(FileError(file.display, message, stage="fix"))
                continue
            others.append((file, source, new_text))
        else:
            continue
        outcome.messages.append(f"Lifecycle: {description}")
        outcome.result.notes.append(Note("lifecycle", description, display_path(path)))
    for note in notes:
        shown = display_path(Path(note.path))
        message = relative_paths(note.message)
        outcome.warnings.append(f"{shown}: {message}")
        outcome.result.notes.append(Note("wiring", message, shown, line=note.line))
    return others


def relative_paths(text: str) -> str:
    """`text` with the paths under the working directory shown relative to it, as every report
    shows paths (`display_path`); wiring describes its edits with the absolute paths it works on."""
    cwd = os.getcwd()
    if cwd == os.sep:
        return text
    return text.replace(cwd.rstrip(os.sep) + os.sep, "")


def _replaced(
    work: dict[Path, _TargetWork], result: ScanResult, options: Options, style: ProjectStyle
) -> tuple[list[Replaced], ProjectModules]:
    """What each rewritten module no longer calls (from the plans of its sites that this run applies),
    and the project's modules as they were before the fix, to resolve the tests' patch targets."""
    from pool_refactor.fix.rewrite import selected_plans

    by_path: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_path.setdefault(finding.path, []).append(finding)
    replaced: list[Replaced] = []
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    roots: list[Path] = [options.config.project_root, options.config.project_root / "src"]
    rewrite_settings = rewrite_options(options, result, style)
    for item in work.values():
        for rewrite in item.rewrites:
            try:
                module = target_for_path(rewrite.file.path).module_name
            except PlacementError:
                continue
            before[module] = rewrite.source.text
            after[module] = rewrite.new_text
            resolved = rewrite.file.path.resolve()
            depth = module.count(".") + (1 if resolved.stem == "__init__" else 0)
            root = resolved.parents[depth] if depth < len(resolved.parents) else resolved.parent
            if root not in roots:
                roots.append(root)
            for plan in selected_plans(by_path.get(rewrite.file.display, []), rewrite_settings).values():
                name = plan.method or _constructor_name(plan.library, plan.accessor)
                if name:
                    replaced.append(
                        Replaced(
                            module,
                            plan.library,
                            name,
                            plan.accessor,
                            item.target.module_name,
                            plan.kind,
                            plan.await_result,
                        )
                    )
    return sorted(set(replaced), key=lambda r: (r.module, r.name)), ProjectModules(roots, before, after)


def _constructor_name(family: str, accessor: str) -> str:
    library = next((lib for lib in LIBRARIES if lib.family == family), None)
    if library is None:
        return ""
    # a borrowing plan names the pool's accessor: the constructor it keeps calling is the one
    return next((c.name for c in library.constructors if accessor in (c.accessor, c.borrow_accessor)), "")


def _report_mocks(
    replaced_modules: tuple[list[Replaced], ProjectModules],
    ahead: _Ahead,
    options: Options,
    outcome: Outcome,
    diffs: list[str],
    style: ProjectStyle,
) -> None:
    """Tests that patch the old construction stop mocking anything once it is rewritten: say so,
    with the fix to make, wherever the tests live (`run.suites`); with `--fix-tests`, make the fixes
    `fix.mock_fixes` knows and say what is left."""
    replaced, modules = replaced_modules
    if not replaced:
        return
    tests: list[tuple[Path, str]] = []
    sources: dict[str, tuple[Path, Source]] = {}
    # Not `--exclude`: it keeps the tests out of the rewrite (`--exclude tests/`), not out of this check.
    for path in ahead.test_files():
        try:
            source = read_source(path)
        except (SourceError, OSError):
            continue
        shown = display_path(path)
        sources[shown] = (path, source)
        tests.append((Path(shown), source.text))
    warnings = find_broken_mocks(tests, replaced, modules)
    fixed: set[MockWarning] = set()
    if options.fix_tests:
        fixed = _fix_tests(warnings, sources, options, outcome, diffs, style.line_length)
    for warning in warnings:
        if warning in fixed:
            continue
        text = warning.suggestion
        if options.fix_tests and warning.manual:
            text += f" (--fix-tests left it: {warning.manual})"
        elif not options.fix_tests and warning.edit is not None:
            text += " (--fix-tests rewrites it)"
        outcome.warnings.append(f"{warning.path}:{warning.line}: {text}")
        outcome.result.notes.append(Note("mock", text, warning.path, warning.line))


def _fix_tests(
    warnings: list[MockWarning],
    sources: dict[str, tuple[Path, Source]],
    options: Options,
    outcome: Outcome,
    diffs: list[str],
    line_length: int,
) -> set[MockWarning]:
    """Rewrite the patches `--fix-tests` knows; the warnings it settled."""
    by_file: dict[str, list[MockWarning]] = {}
    for warning in warnings:
        by_file.setdefault(warning.path, []).append(warning)
    settled: set[MockWarning] = set()
    files_changed = 0
    for shown, found in sorted(by_file.items()):
        path, source = sources[shown]
        rewritten = rewrite_test(source.text, found, line_length)
        if rewritten is None:
            continue
        if options.diff:
            diffs.append(_unified(shown, source.text, rewritten.new_text))
        else:
            try:
                write_atomic(path, encode_source(rewritten.new_text, source), expected=source.raw)
            except (WriteError, UnicodeEncodeError, OSError) as exc:
                outcome.failed = True
                outcome.result.errors.append(FileError(shown, f"test not fixed: {exc}", stage="fix"))
                continue
        files_changed += 1
        settled.update(rewritten.fixed)
        for warning in rewritten.fixed:
            assert warning.edit is not None
            note = f"patch of `{warning.target}` now patches `{warning.edit.target}`"
            outcome.result.notes.append(Note("mock-fixed", note, shown, warning.line))
    if settled:
        verb = "Would rewrite" if options.diff else "Rewrote"
        outcome.messages.append(
            f"{verb} {len(settled)} patch(es) of the old clients in {files_changed} test file(s) "
            "(--fix-tests)."
        )
    return settled


_FAILED = object()


def _detect_app(item: _TargetWork, package_files: list[tuple[DiscoveredFile, Path]]) -> Detected:
    """The application's settings and metrics, read from the package the module belongs to
    (`package_files`: `_package_files` of `item`)."""
    top = _package_root(item).resolve()
    top_name = _top_name(item.target)
    read: list[tuple[Path, str, bytes]] = []
    for file, resolved in package_files:
        try:
            data = file.path.read_bytes()
            read.append((file.path, module_name_of(resolved, top, top_name), data))
        except (OSError, ValueError):
            continue
    return detect(read)


AHEAD_MIN_FILES = 100
"""From this many scanned files on (and with more than one job, one of them idle at the time:
`workers.idle_cpu`), what the fixer reads besides the rewrites is read in a child process while
the rewrites are computed (`_Ahead`).

On /tmp/svc (356 files, 3 to rewrite in 0.2-0.3 s) that is 150-170 ms taken off the serial end
of `--diff` (the application's settings and metrics, 80-90 ms, mostly `ast.parse` of the 9 files
that mention pydantic_settings or prometheus_client; the project's tests, 35-50 ms; the two
shared modules rendered, 20-40 ms; the package's files resolved, 10-20 ms). The child costs
30-70 ms of CPU (its fork, the pages either process writes copied, caches cold on its CPU), which
a project of a few dozen files would not win back."""


@dataclass
class _Prepared:
    """What `_prepare` read: for each package a rewrite may put the shared module in, its files (as
    indices into the run's files, with their resolved paths) and what its application uses; the
    project's test files (None when not read); and the shared modules rendered for what the scan's
    plans need (`shared_module.remembering`: used where the rewrites need the same)."""

    packages: dict[tuple[Path, str], tuple[list[tuple[int, Path]], Detected]]
    tests: list[Path] | None
    rendered: shared_module.Rendered


def _package_key(target: ModuleTarget) -> tuple[Path, str]:
    """What `_package_files` and `_detect_app` depend on: the package's folder and its name."""
    return _package_root(_TargetWork(target)), _top_name(target)


def _top_name(target: ModuleTarget) -> str:
    """The name of the package the shared module belongs to; empty for a top-level module's folder."""
    return target.module_name.split(".", 1)[0] if "." in target.module_name else ""


def _prepare(
    files: list[DiscoveredFile], result: ScanResult, options: Options, style: ProjectStyle, tests: bool
) -> _Prepared:
    """In a child process, while the parent computes the rewrites: the packages of the shared
    modules the rewrites will most likely import (`locate_module` of each file with sites, as
    `rewrite_file` places it), those modules rendered with the sections the scan's plans need,
    and the project's test files if `tests`."""
    from pool_refactor.fix.rewrite import selected_plans, uses_httpx2_only

    settings = rewrite_options(options, result, style)
    index = {id(file): number for number, file in enumerate(files)}
    findings: dict[str, list[Finding]] = {}
    for finding in result.findings:
        findings.setdefault(finding.path, []).append(finding)
    packages: dict[tuple[Path, str], tuple[list[tuple[int, Path]], Detected]] = {}
    modules: dict[Path, tuple[ModuleTarget, set[str], list[bool]]] = {}
    for file in _candidates(files, result):
        try:
            located = locate_module(file.path, settings.module)
        except PlacementError:
            continue  # the rewrite says why; no package to read
        target = ModuleTarget(located.path, located.module_name)
        key = _package_key(target)
        if key not in packages:
            item = _TargetWork(target)
            package = _package_files(item, files)
            packages[key] = ([(index[id(f)], path) for f, path in package], _detect_app(item, package))
        _, sections, httpx2 = modules.setdefault(target.path, (target, set(), []))
        plans = selected_plans(findings.get(file.display, []), settings)
        sections.update(plan.section for plan in plans.values())
        httpx2.append(uses_httpx2_only(_read_bytes(file.path)))  # as the rewrite will decide
    rendered: shared_module.Rendered = {}
    with shared_module.remembering(rendered):
        for target, sections, httpx2 in modules.values():
            if not sections or target.path.is_dir():
                continue
            try:
                shared_module.plan_update(
                    _read_text(target.path) if target.path.exists() else None,
                    sections,
                    env_prefix=options.config.env_prefix,
                    httpx_module="httpx2" if all(httpx2) else "httpx",
                    style=style,
                    app=packages[_package_key(target)][1].app,
                )
            except shared_module.SharedModuleError:
                continue  # the parent says so
    found = find_test_files(options.config, (), files) if tests else None
    return _Prepared(packages, found, rendered)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


class _Ahead:
    """The package files, application settings, shared modules' texts and test files the fixer
    needs after the rewrites: read ahead by a child process (`_prepare`, `workers.in_child`) while
    the rewrites are computed, where that is worth it (`AHEAD_MIN_FILES`), else here, when asked.

    What the child read is used only while nothing has been written (`stale`): `--fix` writes the
    first package's files, and a later package, or the tests, must be read as they are then. A
    package the child did not foresee, or a child that failed, is read here: the same values either
    way, only sooner."""

    def __init__(
        self, files: list[DiscoveredFile], result: ScanResult, options: Options, style: ProjectStyle
    ) -> None:
        self._files = files
        self._config = options.config
        self._prepared: _Prepared | None = None
        self._child: InChild[_Prepared] | None = None
        self._rendered: shared_module.Rendered = {}
        jobs = effective_jobs(options.jobs)
        if jobs > 1 and len(files) >= AHEAD_MIN_FILES and idle_cpu(jobs):
            self._child = in_child(partial(_prepare, files, result, options, style, tests=options.diff))

    def _read_ahead(self) -> _Prepared | None:
        if self._child is not None:
            self._prepared = self._child.result()
            self._child = None
            if self._prepared is not None:
                self._rendered = self._prepared.rendered
        return self._prepared

    def rendered(self) -> shared_module.Rendered:
        """The shared modules rendered ahead (`shared_module.remembering`): never out of date, a
        text is looked up by everything it is rendered from."""
        self._read_ahead()
        return self._rendered

    def stale(self) -> None:
        """Files are about to be written: what was read ahead no longer counts."""
        self.close()
        self._prepared = None

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None

    def package(self, item: _TargetWork) -> tuple[list[tuple[DiscoveredFile, Path]], Detected]:
        """`item`'s package files (`_package_files`) and what its application uses (`_detect_app`)."""
        prepared = self._read_ahead()
        ahead = prepared.packages.get(_package_key(item.target)) if prepared is not None else None
        if ahead is not None:
            return [(self._files[number], path) for number, path in ahead[0]], ahead[1]
        package = _package_files(item, self._files)
        return package, _detect_app(item, package)

    def test_files(self) -> list[Path]:
        """The project's test files (`run.suites.find_test_files`)."""
        prepared = self._read_ahead()
        if prepared is not None and prepared.tests is not None:
            return prepared.tests
        return find_test_files(self._config, (), self._files)


def _settings_edit(
    item: _TargetWork,
    files: list[DiscoveredFile],
    options: Options,
    outcome: Outcome,
    detected: Detected,
    module_text: str | None | object,
    others: list[tuple[DiscoveredFile, Source, str]],
    style: ProjectStyle,
) -> list[tuple[DiscoveredFile, Source, str]]:
    """`others` with the pool fields added to the application's pydantic-settings class, when the
    shared module (as it will be on disk) reads that class's object; the edit goes into the file's
    rewrite or wiring edit when it has one. A class that cannot be edited safely is named in a
    warning: the module then reads the environment and whatever fields the class has."""
    module_display = display_path(item.target.path)
    for note in detected.notes:
        outcome.result.notes.append(Note("settings", note, module_display))
    module = module_text if isinstance(module_text, str) else _read_text(item.target.path)
    if module_text is None:
        lacking = shared_module.app_note(module, detected.app)
        if lacking is not None:
            outcome.warnings.append(f"{module_display}: {lacking}")
            outcome.result.notes.append(Note("settings", lacking, module_display))
    settings = detected.settings_class
    if settings is None:
        return others
    expected = f"# pool-refactor: settings=pydantic {detected.app.settings_object}\n"
    if expected not in module.replace("\r\n", "\n"):
        return others
    resolved = settings.path.resolve()
    rewrites = {r.file.path.resolve(): r for r in item.rewrites}
    pending = {file.path.resolve(): index for index, (file, _, _) in enumerate(others)}
    shown = display_path(settings.path)
    unread: tuple[DiscoveredFile, Source] | None = None
    if resolved in rewrites:
        text = rewrites[resolved].new_text
    elif resolved in pending:
        text = others[pending[resolved]][2]
    else:
        file = next((f for f in files if f.path.resolve() == resolved), None)
        try:
            unread = None if file is None else (file, read_source(file.path))
        except (SourceError, OSError):
            unread = None
        if unread is None:
            return others
        text = unread[1].text
    try:
        new_text = settings_fields_edit(
            text,
            settings,
            options.config.env_prefix,
            pep604=takes_pep604(_requires_python(options.config.project_root)),
            module_file=display_path(item.target.path),
            style=style,
        )
    except SettingsEditError as exc:
        message = f"the shared module reads {settings.class_name}, but its fields were not added: {exc}"
        outcome.warnings.append(f"{shown}: {message}")
        outcome.result.notes.append(Note("settings", message, shown))
        return others
    if new_text is None:
        return others
    if resolved in rewrites:
        rewrites[resolved].new_text = new_text
    elif resolved in pending:
        file, source, _ = others[pending[resolved]]
        others[pending[resolved]] = (file, source, new_text)
    elif unread is not None:
        others = [*others, (*unread, new_text)]
    description = (
        f"{settings.class_name} in {shown} declares the shared HTTP clients' settings "
        f"({options.config.env_prefix}MAX_CONNECTIONS, ...), so .env and its validation apply to them"
    )
    outcome.messages.append(f"Settings: {description}")
    outcome.result.notes.append(Note("settings", description, shown))
    return others


def _requires_python(root: Path) -> str | None:
    """The project's `requires-python`, if its pyproject.toml says."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    project = data.get("project")
    value = project.get("requires-python") if isinstance(project, dict) else None
    return value if isinstance(value, str) else None


def _module_update(
    item: _TargetWork,
    options: Options,
    errors: list[FileError],
    module_display: str,
    style: ProjectStyle,
    detected: Detected | None = None,
) -> str | None | object:
    """New text for the shared module, None if it already has what is needed, or _FAILED."""
    needed: set[str] = set().union(*(r.sections for r in item.rewrites))
    httpx_module = "httpx2" if all(r.uses_httpx2_only for r in item.rewrites) else "httpx"
    if item.target.path.is_dir():
        errors.append(
            FileError(
                module_display,
                "is a directory, so the shared module cannot be written there; pass --module to choose "
                "another file",
                stage="fix",
            )
        )
        for rewrite in item.rewrites:
            errors.append(
                FileError(rewrite.file.display, "not fixed: no place for the shared module", stage="fix")
            )
        return _FAILED
    existing = _read_text(item.target.path) if item.target.path.exists() else None
    app = detected.app if detected is not None else shared_module.NO_APP
    try:
        text = shared_module.plan_update(
            existing,
            needed,
            env_prefix=options.config.env_prefix,
            httpx_module=httpx_module,
            style=style,
            app=app,
        )
        return text
    except shared_module.SharedModuleError as exc:
        errors.append(FileError(module_display, str(exc), stage="fix"))
        for rewrite in item.rewrites:
            errors.append(
                FileError(
                    rewrite.file.display,
                    f"not fixed: the shared module {module_display} is unusable",
                    stage="fix",
                )
            )
        return _FAILED


def _tests_update(
    item: _TargetWork,
    options: Options,
    module_text: str | None | object,
    tested: set[Path],
    style: ProjectStyle,
) -> tuple[Path, str] | None:
    """The shared module's tests: where they go and their new text, or None (`--no-test-file`, no
    test folder, a file the user wrote or edited, nothing new). They go into the first folder of
    pytest's `testpaths`, else `tests/` or `test/`; one module per project gets them (`tested`)."""
    if not options.test_file:
        return None
    root = options.config.project_root
    folders = [root / name for name in [*testpaths(root), "tests", "test"]]
    folder = next((folder for folder in folders if folder.is_dir()), None)
    if folder is None or folder in tested:
        return None
    tested.add(folder)
    path = folder / shared_module.TEST_FILE_NAME
    module = module_text if isinstance(module_text, str) else _read_text(item.target.path)
    existing = _read_text(path) if path.exists() else None
    text = shared_module.plan_tests_update(existing, module, item.target.module_name, style)
    return None if text is None else (path, text)


def _write_tests(path: Path, text: str, outcome: Outcome, errors: list[FileError]) -> None:
    shown = display_path(path)
    try:
        if path.exists():
            write_atomic(path, text.encode("utf-8"), expected=path.read_bytes())
        else:
            create_new(path, text.encode("utf-8"))
    except (WriteError, OSError) as exc:
        errors.append(FileError(shown, f"cannot write the shared module's tests: {exc}", stage="fix"))
        return
    outcome.messages.append(f"Wrote {shown}")
    outcome.result.notes.append(Note("module", "tests of the shared client module written", shown))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _unified(display: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{display}" if old else "/dev/null",
        tofile=f"b/{display}",
    )
    text = "".join(
        line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n" for line in lines
    )
    return text


def _rescan(files: list[DiscoveredFile], result: ScanResult, options: Options) -> None:
    """Replace the findings of rewritten files by what is left in them now."""
    if not files:
        return
    displays = {f.display for f in files}
    result.findings = [f for f in result.findings if f.path not in displays]
    for file in files:
        try:
            scan = scan_loaded(read_source(file.path), file.display)
        except (SourceError, OSError) as exc:
            result.errors.append(FileError(file.display, str(exc), stage="fix"))
            continue
        result.findings.extend(f for f in scan.findings if is_enabled(f.code, options.select, options.ignore))
    result.findings.sort(key=lambda f: (f.path, f.line, f.column))

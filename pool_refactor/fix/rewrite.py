"""What fixing one file would write: re-planned from what is on disk now, rewritten with libcst
(``codemods/``), checked to compile. Writes nothing, so that it can run in a worker process and
give the same result as in-process; ``pool_refactor.run.fixing`` writes what comes back.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import libcst as cst

from codemods.imports import EditContext, apply_import_changes, set_import_style
from codemods.shared_client import rewrite_module
from codemods.toplevel import NeedsWholeModule, TopLevel, parse_partly, read_top_level, release_parser_memory
from codemods.wrapping import set_line_length
from pool_refactor.fix.placement import ModuleTarget, PlacementError, locate_module
from pool_refactor.fix.style import ProjectStyle
from pool_refactor.paths import DiscoveredFile, display_path
from pool_refactor.plan.analyze import analyze_tree, scan_loaded
from pool_refactor.scan import catalog
from pool_refactor.scan.findings import Applicability, FileError, FileScan, Finding, FixPlan
from pool_refactor.scan.rules import is_enabled
from pool_refactor.scan.source import Source, SourceError, is_generated, mentions_any, read_source

_HTTPX2_ONLY = re.compile(rb"^\s*(?:import\s+httpx2\b|from\s+httpx2\b)", re.MULTILINE)
_HTTPX_PLAIN = re.compile(rb"^\s*(?:import\s+httpx\b(?!2)|from\s+httpx\b(?!2))", re.MULTILINE)


Span = tuple[int, int, int, int]
"""A site's position, as in ``Finding.span``."""


@dataclass(frozen=True)
class RewriteOptions:
    """The part of a run's options that decides what a file's rewrite looks like."""

    project_root: Path
    unsafe_fixes: bool = False
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    module: Path | None = None
    """Where the shared module goes (``--module``, else the ``shared-module`` setting), if chosen."""
    style: ProjectStyle = ProjectStyle()
    """The project's line length and import order (``fix.style``), which the edits follow."""
    closed_elsewhere: dict[str, dict[str, bool]] = field(default_factory=dict)
    """How other modules call each module's factories and wrapper classes (``ScanResult``), so that
    a module is planned again as the scan planned it."""


@dataclass
class Rewrite:
    """What fixing one file would write; computed in a worker process when the fix runs on several
    cores, so everything in here crosses a process boundary (pickled)."""

    file: DiscoveredFile
    source: Source
    new_text: str
    applied: int
    sections: set[str]
    uses_httpx2_only: bool
    target: ModuleTarget
    """Where the shared module it imports goes."""
    families: set[str] = field(default_factory=set)


def selected_plans(findings: list[Finding], options: RewriteOptions) -> dict[Span, FixPlan]:
    """The sites this run may rewrite: fixable, enabled, unsuppressed; unsafe ones only on request."""
    allowed = {Applicability.SAFE}
    if options.unsafe_fixes:
        allowed.add(Applicability.UNSAFE)
    return {
        f.span: f.plan
        for f in findings
        if f.plan is not None
        and not f.suppressed
        and f.applicability in allowed
        and is_enabled(f.code, options.select, options.ignore)
    }


def not_fixed(file: DiscoveredFile, why: str) -> FileError:
    return FileError(file.display, f"not fixed: {why}", stage="fix")


def _override(options: RewriteOptions) -> Path | None:
    """`--module` or `shared-module`, refused when it lies outside the project: code there could
    not import it by the name the rewrite would write."""
    override = options.module
    if override is None:
        return None
    root = options.project_root.resolve()
    if not override.resolve().is_relative_to(root):
        raise PlacementError(
            f"the shared module {override} is outside the project ({display_path(root)}); "
            "choose a path inside it"
        )
    return override


def rewrite_file(file: DiscoveredFile, options: RewriteOptions) -> Rewrite | FileError | None:
    """What fixing ``file`` would write, computed from what is on disk now; writes nothing.

    None when there is nothing to rewrite, a ``not fixed: ...`` error when it cannot be. Pure, so
    that it can run in a worker process (``fix_parallel``) with the same result as in-process.
    """
    try:
        return _rewrite_file(file, options)
    except Exception as exc:  # a bug of ours must not end the run, but it must be seen
        return not_fixed(file, f"internal error while fixing: {type(exc).__name__}: {exc}")


def _rewrite_file(file: DiscoveredFile, options: RewriteOptions) -> Rewrite | FileError | None:
    try:
        source = read_source(file.path)
    except (SourceError, OSError) as exc:
        return not_fixed(file, str(exc))
    # Re-plan from what is on disk now.
    scan, tree = _scan(source, file.display, options.closed_elsewhere.get(file.display))
    if scan.error is not None:
        return not_fixed(file, scan.error)
    plans = selected_plans(list(scan.findings), options)
    if not plans:
        return None
    try:
        # Not bounded by the configuration's root: without a pyproject.toml that is the scanned
        # folder, which may be the package itself (a setup.py project scanned as `pkg/`).
        target = locate_module(file.path, _override(options), text=source.text)
    except PlacementError as exc:
        return not_fixed(file, str(exc))
    if target.path == file.path.resolve():
        return None
    rewritten = _libcst_rewrite(file, source, plans, target, options.style, tree)
    if not isinstance(rewritten, tuple):
        return rewritten
    new_text, applied = rewritten
    sections = {plans[p].section for p in applied}
    families = {plans[p].library for p in applied}
    return Rewrite(
        file, source, new_text, len(applied), sections, uses_httpx2_only(source.raw), target, families
    )


def _edit(
    file: DiscoveredFile,
    module: cst.Module,
    top: TopLevel | None,
    plans: dict[Span, FixPlan],
    target: ModuleTarget,
    style: ProjectStyle,
    *,
    partial: bool = False,
) -> tuple[str, set[Span]]:
    """The rewrite's new text and the sites it rewrote; `partial`: `module` is partly parsed
    (`parse_partly`), and an edit that needs more raises `NeedsWholeModule`."""
    context = EditContext(filename=str(file.path))  # no `libcst.codemod`: see codemods.imports
    own = target.import_name.lstrip(".").split(".", 1)[0]  # the project's package is first party
    imports = style.imports
    set_import_style(context, replace(imports, first_party=imports.first_party | {own}))
    set_line_length(context, style.line_length)
    new_module, applied = rewrite_module(module, plans, target.import_name, context, top, partial=partial)
    new_module = apply_import_changes(new_module, context, top, partial=partial)
    return new_module.code, applied


def _patched_crlf(source: str, code: str) -> str:
    """`code` that libcst generated from `source`, with the final lone CR it drops put back
    (Instagram/LibCST#901)."""
    if source.endswith("\r") and not code.endswith(("\r", "\n")):
        return code + "\r"
    return code


def uses_httpx2_only(raw: bytes) -> bool:
    """Whether a file imports the httpx2 fork and not httpx: the shared module then imports httpx2."""
    return bool(_HTTPX2_ONLY.search(raw)) and not _HTTPX_PLAIN.search(raw)


def _scan(
    source: Source, display: str, elsewhere: dict[str, bool] | None = None
) -> tuple[FileScan, ast.Module | None]:
    """`scan_loaded(source, display)`, and the tree it parsed, which `read_top_level` reads too.

    Anything but a file that parses and scans without error goes to `scan_loaded` itself (no tree),
    so that every verdict and message is its own."""
    if not mentions_any(source.raw, catalog.all_module_names()) or is_generated(source.text):
        return scan_loaded(source, display), None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as scan_loaded
            tree = ast.parse(source.text, filename=display)
        findings = analyze_tree(tree, source.text, display, elsewhere)
    except Exception:
        return scan_loaded(source, display), None
    return FileScan(display, tuple(findings), parsed=True), tree


def _libcst_rewrite(
    file: DiscoveredFile,
    source: Source,
    plans: dict[Span, FixPlan],
    target: ModuleTarget,
    style: ProjectStyle,
    tree: ast.Module | None = None,
) -> tuple[str, set[Span]] | FileError | None:
    """The new text and the sites rewritten; None if nothing changes, an error if it cannot be
    rewritten or the result would not compile. `tree`: the re-scan's `ast` tree of `source`."""
    try:
        edited = None
        lines = [position[0] for position in plans]
        parts = parse_partly(source.text, tree, lines) if tree is not None else None
        if parts is not None:
            try:  # the statements the edit reads, parsed alone: the same text, sooner
                edited = _edit(file, *parts, plans, target, style, partial=True)
            except NeedsWholeModule:
                pass  # parsed whole below
        if edited is None:
            module = cst.parse_module(source.text)
            release_parser_memory(len(source.text))
            if _patched_crlf(source.text, module.code) != source.text:
                reason = (
                    "libcst does not write this file back exactly as it reads it (a bug of libcst's: "
                    "a blank line above an indented comment at the end of a file is lost, for one)"
                )
                return not_fixed(file, reason)
            top = read_top_level(module, source.text, tree)  # libcst then reads only what the edit touches
            edited = _edit(file, module, top, plans, target, style)
        new_text, applied = edited
        new_text = _patched_crlf(source.text, new_text)
    except Exception as exc:  # libcst could not parse or a bug of ours: never write
        return not_fixed(file, f"libcst could not rewrite it ({type(exc).__name__}: {exc})")
    if not applied or new_text == source.text:
        return None
    try:
        compile(new_text, str(file.path), "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError) as exc:
        return not_fixed(file, f"the rewrite would not compile ({exc}); please report")
    return new_text, applied

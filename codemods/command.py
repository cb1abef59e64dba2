"""libcst codemod commands, so the rewrite also runs as `python -m libcst.tool codemod ...`.

`pool-refactor scan --fix` does the same work and also generates the shared client module; the
command here only rewrites call sites, so the module named by `--accessor-module` must exist
(generate it once with `pool-refactor scan --fix`, or write it from the template).
"""

from __future__ import annotations

import argparse
from typing import ClassVar

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile

from codemods.imports import apply_import_changes, clear_scheduled, remove_unused_library_imports
from codemods.shared_client import rewrite_module
from codemods.toplevel import read_top_level
from pool_refactor.plan.analyze import analyze_source
from pool_refactor.scan.findings import Applicability


class ShareClientsCommand(CodemodCommand):
    DESCRIPTION: str = "Rewrite per-request HTTP clients onto the shared clients of a generated module."
    FAMILIES: ClassVar[tuple[str, ...]] = ("httpx",)

    def __init__(self, context: CodemodContext, accessor_module: str, unsafe_fixes: bool = False) -> None:
        super().__init__(context)
        self.accessor_module = accessor_module
        self.unsafe_fixes = unsafe_fixes

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument(
            "--accessor-module",
            dest="accessor_module",
            required=True,
            help="Dotted name of the generated shared client module, e.g. myapp.http_client.",
        )
        arg_parser.add_argument(
            "--unsafe-fixes",
            dest="unsafe_fixes",
            action="store_true",
            help="Also apply fixes whose behaviour change pool-refactor describes as unsafe.",
        )

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        source = tree.code
        try:
            findings = analyze_source(source, self.context.filename or "<module>")
        except (SyntaxError, ValueError) as exc:
            raise SkipFile(f"not parsed by ast: {exc}") from exc
        allowed = {Applicability.SAFE, Applicability.UNSAFE} if self.unsafe_fixes else {Applicability.SAFE}
        plans = {
            f.span: f.plan
            for f in findings
            if f.plan is not None
            and f.library in self.FAMILIES
            and not f.suppressed
            and f.applicability in allowed
        }
        if not plans:
            raise SkipFile("no fixable per-request clients")
        top = read_top_level(tree, source)
        new_tree, applied = rewrite_module(tree, plans, self.accessor_module, self.context, top)
        if not applied:
            raise SkipFile("no site could be located")
        # Apply the import changes here, with the same spacing repairs as `--fix`, and leave nothing
        # for CodemodCommand's own pass to redo.
        new_tree = apply_import_changes(new_tree, self.context, top)
        clear_scheduled(self.context)
        return new_tree


class ShareHttpxClientsCommand(ShareClientsCommand):
    DESCRIPTION = "Rewrite per-request httpx clients onto get_http_client()/get_sync_http_client()."
    FAMILIES = ("httpx",)


__all__ = ["ShareClientsCommand", "ShareHttpxClientsCommand", "remove_unused_library_imports"]

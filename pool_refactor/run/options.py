"""What one run is asked to do, and what it hands back to the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from pool_refactor.run.config import Config
from pool_refactor.scan.findings import ScanResult


class Options(NamedTuple):
    paths: list[Path]
    config: Config
    exclude: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fix: bool = False
    diff: bool = False
    unsafe_fixes: bool = False
    module: Path | None = None
    jobs: int | None = None
    use_cache: bool = True
    progress: bool = False
    baseline: Path | None = None
    add_noqa: bool = False
    wire: bool = True
    """Close the shared clients at application shutdown (FastAPI/Starlette) when fixing."""
    fix_tests: bool = False
    """With `--fix`/`--diff`, also rewrite the tests' patches of the old clients (`fix.mock_fixes`)."""
    test_file: bool = True
    """With `--fix`/`--diff`, also write the shared module's tests into the project's test folder."""


class Outcome:
    """Filled in by the pipeline as it goes. Plain classes and named tuples rather than dataclasses
    on a warm run's path: creating a dataclass costs about a millisecond at import, and a warm scan
    takes a little over a hundred."""

    __slots__ = ("diff_text", "failed", "messages", "result", "warnings")

    def __init__(self, result: ScanResult) -> None:
        self.result = result
        self.diff_text = ""
        self.messages: list[str] = []
        """What was done (`Wrote ...`, `Fixed ...`, `Lifecycle: ...`): left out by `-q`."""
        self.warnings: list[str] = []
        """What is left for the user to do (a test that no longer mocks, wiring to add by hand):
        printed with `-q` too, since `-q` drops what was done, not what must still be done."""
        self.failed = False
        """Something the user asked for could not be done (a write failed, a module clashed)."""

"""Command line: `pool-refactor scan [--fix|--diff|--check] [PATH ...]` and `pool-refactor rules`.

Conventions follow ruff: exit 0 when nothing is wrong (or without `--check`), 1 when `--check`
finds unsuppressed per-request or leaking clients, 2 for a usage or configuration error or when
any file could not be read, parsed or written (CI must never pass on code the tool could not see).
"""

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

from pool_refactor import __version__
from pool_refactor.report import FORMATS, render
from pool_refactor.run.baseline import BaselineError
from pool_refactor.run.config import Config, ConfigError, load_config
from pool_refactor.scan.findings import ScanResult
from pool_refactor.scan.rules import RULES, RULES_BY_CODE

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

app = typer.Typer(
    name="pool-refactor",
    help=(
        "Find HTTP clients created per request (httpx, aiohttp, requests, urllib3), report them, "
        "rewrite them onto one shared, "
        "pooled client, and gate CI so they do not come back."
    ),
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@functools.cache
def _stderr() -> "Console":
    """The console for messages and errors; made on first use, so a quiet run never imports rich."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pool-refactor {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """pool-refactor: one pooled HTTP client per process instead of one per request."""


def _split_codes(values: list[str] | None) -> tuple[str, ...]:
    codes: list[str] = []
    for value in values or []:
        codes.extend(part.strip().upper() for part in value.split(",") if part.strip())
    return tuple(codes)


@app.command()
def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to scan (default: the current folder).", show_default=False),
    ] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Rewrite fixable sites and generate the shared client module.")
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Print the unified diff that --fix would apply; write nothing.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 1 while unsuppressed per-request or leaking clients remain (CI gate)."
        ),
    ] = False,
    unsafe_fixes: Annotated[
        bool,
        typer.Option(
            "--unsafe-fixes",
            help="Also apply fixes that change behaviour in a way the report describes (see each reason).",
        ),
    ] = False,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "--output-format",
            help=f"Report format: {', '.join(FORMATS)}. Default: table on a terminal, concise otherwise.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file instead of stdout.")
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="Gitignore-style pattern of paths to skip, relative to the project root (repeatable).",
        ),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option("--select", help="Only these rule codes or prefixes (comma-separated, repeatable)."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Skip these rule codes or prefixes (comma-separated, repeatable)."),
    ] = None,
    show_suppressed: Annotated[
        bool, typer.Option("--show-suppressed", help="Include findings suppressed by `# noqa` comments.")
    ] = False,
    module: Annotated[
        Path | None,
        typer.Option(
            "--module",
            help="Where the shared client module goes (default: <top-level package>/http_client.py).",
        ),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes (default: the CPU count).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the result cache.")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Print only the findings, what is left to do and errors: no summary, no progress, "
            "no 'Wrote/Fixed/Lifecycle' lines.",
        ),
    ] = False,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="JSON report of accepted findings (from --format json): only new findings count.",
        ),
    ] = None,
    add_noqa: Annotated[
        bool,
        typer.Option("--add-noqa", help="Add `# noqa: CODE` to every problem found today, then exit."),
    ] = False,
    fix_tests: Annotated[
        bool,
        typer.Option(
            "--fix-tests",
            help="With --fix or --diff: also rewrite the tests' patches of the old clients "
            '(`patch("requests.post")`, `patch("x.httpx.AsyncClient")`) to patch what the fixed code calls.',
        ),
    ] = False,
    no_wire: Annotated[
        bool,
        typer.Option(
            "--no-wire",
            help="With --fix: do not add the shared clients' close to the FastAPI/Starlette lifespan.",
        ),
    ] = False,
    no_test_file: Annotated[
        bool,
        typer.Option(
            "--no-test-file",
            help="With --fix: do not write the shared module's tests (tests/test_http_client.py).",
        ),
    ] = False,
) -> None:
    """Scan for per-request HTTP clients; report, show a diff, fix, or gate CI.

    Exit codes: 0 nothing wrong (or no --check), 1 --check found per-request or leaking clients,
    2 usage/configuration error or a file that could not be read, parsed or written.
    """
    from pool_refactor.run.options import Options
    from pool_refactor.run.pipeline import run

    if fix and diff:
        _fail("--fix and --diff cannot be used together: --diff shows what --fix would write")
    if fix_tests and not (fix or diff):
        _fail("--fix-tests rewrites tests along with --fix (or shows it with --diff); add one of them")
    if add_noqa and (fix or diff):
        _fail("--add-noqa cannot be combined with --fix or --diff")
    targets = list(paths) if paths else [Path(".")]
    missing = [p for p in targets if not p.exists() and not p.is_symlink()]
    if missing:
        _fail(f"{missing[0]}: no such file or folder")
    try:
        config = load_config(_common_folder(targets))
    except ConfigError as exc:
        _fail(str(exc))
    fmt = (output_format or config.output_format or "").lower() or None
    if fmt is not None and fmt not in FORMATS:
        _fail(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if fmt is None:
        fmt = "table" if output is None and sys.stdout.isatty() else "concise"
    options = Options(
        paths=targets,
        config=config,
        exclude=tuple(exclude or ()),
        select=_split_codes(select) or config.select,
        ignore=_split_codes(ignore) or config.ignore,
        fix=fix,
        diff=diff,
        unsafe_fixes=unsafe_fixes or config.unsafe_fixes,
        module=module,
        jobs=jobs or config.jobs,
        use_cache=not no_cache,
        progress=not quiet and sys.stderr.isatty(),
        baseline=baseline or (config.project_root / config.baseline if config.baseline else None),
        add_noqa=add_noqa,
        wire=config.wire and not no_wire,
        test_file=config.test_file and not no_test_file,
        fix_tests=fix_tests,
    )
    try:
        outcome = run(options)
    except (ConfigError, BaselineError) as exc:  # e.g. an invalid --exclude pattern, a bad baseline
        _fail(str(exc))
    except KeyboardInterrupt:
        _stderr().print(
            "pool-refactor: interrupted. Every file is either fully rewritten or untouched (writes are "
            "atomic); run the same command again to finish.",
            soft_wrap=True,
            markup=False,
        )
        raise typer.Exit(130) from None
    if outcome.diff_text:
        sys.stdout.write(outcome.diff_text)
    told = [] if quiet else list(outcome.messages)
    told += outcome.warnings
    if fix:  # what was fixed first, then what is left: a combined log reads in that order
        _print_messages(told)
        if output is not None or fmt in ("json", "sarif"):
            # The report a person reads is elsewhere: the log still says why each site was left.
            _print_messages(_refusals(outcome.result))
    _emit_report(outcome.result, fmt, output, show_suppressed or config.show_suppressed, quiet)
    if not fix:
        _print_messages(told)
    code = EXIT_OK
    if check and outcome.result.failing():
        code = EXIT_FINDINGS
    if outcome.result.errors or outcome.failed:
        code = EXIT_ERROR
    raise typer.Exit(code)


def _print_messages(messages: list[str]) -> None:
    for line in messages:
        _stderr().print(line, soft_wrap=True, markup=False)
    if messages:
        sys.stderr.flush()


def _refusals(result: ScanResult) -> list[str]:
    """`path:line:col: CODE not fixed: <reason>` for each problem a plain `--fix` left alone."""
    from pool_refactor.report._common import refusal_text

    lines = []
    for finding in result.visible():
        refusal = refusal_text(finding)
        if refusal:
            lines.append(f"{finding.path}:{finding.line}:{finding.column}: {finding.code} {refusal}")
    return lines


_QUIET_FORMATS = ("table", "concise", "github")
"""Formats whose last line is the summary, which `-q` leaves out (ruff's `-q`: diagnostics only)."""


def _quiet_text(text: str, fmt: str) -> str:
    if fmt not in _QUIET_FORMATS:
        return text
    lines = text.splitlines()[:-1]
    while lines and not lines[-1].strip():
        lines.pop()
    return "".join(line + "\n" for line in lines)


def _emit_report(
    result: ScanResult, fmt: str, output: Path | None, show_suppressed: bool, quiet: bool
) -> None:
    if output is not None:
        text = render(result, fmt, show_suppressed=show_suppressed, width=120, color=False)
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write the report to {output}: {exc.strerror or exc}")
        return
    color = fmt == "table" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    width = None if sys.stdout.isatty() else 120
    text = render(result, fmt, show_suppressed=show_suppressed, width=width, color=color)
    if quiet:
        text = _quiet_text(text, fmt)
        if not text:
            return
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


def _common_folder(paths: list[Path]) -> Path:
    folders = [(p if p.is_dir() else p.parent).resolve() for p in paths]
    common = Path(os.path.commonpath([str(f) for f in folders])) if folders else Path.cwd()
    return common


def _fail(message: str) -> typer.Exit:
    _stderr().print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(EXIT_ERROR)


@app.command()
def rules(
    code: Annotated[str | None, typer.Argument(help="Show the page of one rule code.")] = None,
) -> None:
    """List the rule codes with a one-line summary, or show one rule's page."""
    if code is None:
        for rule in RULES:
            typer.echo(f"{rule.code}  {rule.name:<26} {rule.verdict.value:<12} {rule.summary}")
        return
    found = RULES_BY_CODE.get(code.upper())
    if found is None:
        _fail(f"unknown rule code {code!r}; `pool-refactor rules` lists them")
        return
    page = _rule_page(found.code)
    typer.echo(page if page else f"{found.code} ({found.name}): {found.summary}")


def _rule_page(code: str) -> str | None:
    from importlib import resources

    try:
        return resources.files("pool_refactor").joinpath("docs", "rules", f"{code}.md").read_text("utf-8")
    except (FileNotFoundError, OSError):
        pass
    repo_docs = Path(__file__).resolve().parent.parent / "docs" / "rules" / f"{code}.md"
    return repo_docs.read_text("utf-8") if repo_docs.is_file() else None


def main() -> None:
    app()


__all__ = ["app", "main", "Config"]

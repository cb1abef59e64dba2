"""The generated module and its tests pass a project's own gates, whatever they are (issue 11, item 3).

Every rendering (all sections, and each section alone) is checked by the strictest settings
projects use: ruff `select = ["ALL"]` at 79 columns for the oldest and the newest target,
`ruff format --check` and `black --check` at 79 and at 120 columns (the module is formatted so
that no formatter changes it at any line length), flake8, isort (default and black profiles),
pydocstyle, interrogate at 100%, `mypy --strict`, basedpyright in strict mode and ty. Each tool
runs once over every rendering, so the whole matrix takes a few tool start-ups. The tests that
`--fix` writes beside the module pass the same gates (with `assert` allowed, as in any pytest
suite) and cover every line and branch of each rendering and of themselves, without network or
pytest plugins.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from pool_refactor.fix.shared_module import (
    NO_APP,
    SECTIONS,
    AppIntegration,
    is_unchanged,
    render,
    render_tests,
)
from pool_refactor.fix.style import ProjectStyle, read_style

BIN = Path(sys.executable).parent

RUFF_ALL = """\
line-length = 79
target-version = "{target}"
[lint]
select = ["ALL"]
# The pairs ruff itself calls incompatible, and the copyright notice (a project's own text).
ignore = ["D203", "D213", "COM812", "ISC001", "CPY001"]
[lint.isort]
required-imports = ["from __future__ import annotations"]
[lint.per-file-ignores]
"tests*/*" = ["S101"]
"""

PYRIGHT_STRICT = '{"typeCheckingMode": "strict"}'


PYDANTIC_METRICS = AppIntegration(
    "pydantic", "shop.settings:get_settings()", "prometheus", "shop_http_client"
)
DJANGO_METRICS = AppIntegration("django", metrics="prometheus")
RENDERINGS: list[tuple[tuple[str, ...], AppIntegration]] = [
    (SECTIONS, NO_APP),
    *[((section,), NO_APP) for section in SECTIONS],
    # The application's settings and metrics (issue 14): with every library, with one whose
    # statistics have no pool cap (requests), with the async ones alone, and settings alone.
    (SECTIONS, PYDANTIC_METRICS),
    (("requests",), DJANGO_METRICS),
    (("httpx-async", "aiohttp"), DJANGO_METRICS),
    (("httpx-sync",), AppIntegration(metrics="prometheus")),
    (("urllib3",), AppIntegration("pydantic", "shop.settings:settings")),
]
"""Every section, each section alone, then renderings that fit the application."""


def _write_pair(
    package: Path,
    tests: Path,
    module: str,
    sections: tuple[str, ...],
    app: AppIntegration,
    style: ProjectStyle | None = None,
) -> None:
    """One rendering of the module in `package` and its test file in `tests`, each a package."""
    package.mkdir()
    (package / "__init__.py").write_text('"""A package."""\n')
    (package / "http_client.py").write_text(render(sections, style=style, app=app))
    tests.mkdir()
    (tests / "__init__.py").write_text('"""Tests."""\n')
    (tests / "test_http_client.py").write_text(render_tests(sections, module, style=style, app=app))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with one package per rendering (`RENDERINGS`)."""
    root = tmp_path_factory.mktemp("gates")
    for index, (sections, app) in enumerate(RENDERINGS):
        _write_pair(root / f"pkg{index}", root / f"tests{index}", f"pkg{index}.http_client", sections, app)
    return root


def _modules(root: Path) -> list[str]:
    files = [*root.glob("pkg*/http_client.py"), *root.glob("tests*/test_http_client.py")]
    return sorted(str(path.relative_to(root)) for path in files)


def _run(root: Path, *args: str) -> str:
    """Run a tool in `root`; its output when it fails, else ''."""
    result = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=600)
    return "" if result.returncode == 0 else f"{args[:3]}: {result.stdout}{result.stderr}"


def _fully_covered(root: Path, tests: str, module: str, data: tuple[str, ...] = ()) -> str:
    """Plain pytest of `tests` (no plugin, warnings are errors) under coverage with branches, then
    the report at 100% of `module` and `tests`: '' when both pass, else the first one's output."""
    pytest_run = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error")
    run = (sys.executable, "-m", "coverage", "run", *data, "--branch", "--source", ".", *pytest_run)
    report = (sys.executable, "-m", "coverage", "report", *data, "--show-missing", "--fail-under", "100")
    return _run(root, *run, tests) or _run(root, *report, "--include", f"{module},{tests}")


@pytest.mark.parametrize("target", ["py39", "py313"])
def test_ruff_all_rules_at_79(project: Path, target: str) -> None:
    config = project / f"ruff-{target}.toml"
    config.write_text(RUFF_ALL.format(target=target))
    ruff = (str(BIN / "ruff"), "check", "--no-cache", "--config", str(config))
    assert _run(project, *ruff, *_modules(project)) == ""


@pytest.mark.parametrize("length", ["79", "88", "120"])
def test_formatters_change_nothing(project: Path, length: str) -> None:
    modules = _modules(project)
    ruff = (str(BIN / "ruff"), "format", "--isolated", "--check", "--line-length", length)
    assert _run(project, *ruff, *modules) == ""
    assert _run(project, str(BIN / "black"), "--check", "-q", "-l", length, *modules) == ""


def test_flake8_isort_and_docstrings(project: Path) -> None:
    modules = _modules(project)
    assert _run(project, str(BIN / "flake8"), "--max-line-length", "79", *modules) == ""
    assert _run(project, str(BIN / "isort"), "--check-only", "-l", "79", *modules) == ""
    assert _run(project, str(BIN / "isort"), "--check-only", "--profile", "black", "-l", "79", *modules) == ""
    assert _run(project, str(BIN / "pydocstyle"), *modules) == ""
    assert _run(project, str(BIN / "interrogate"), "--fail-under", "100", *modules) == ""


def test_type_checkers(project: Path) -> None:
    modules = _modules(project)
    mypy = (str(BIN / "mypy"), "--strict", "--no-incremental", "--cache-dir", str(project / ".mypy"))
    assert _run(project, *mypy, *modules) == ""
    (project / "pyrightconfig.json").write_text(PYRIGHT_STRICT)
    python = ("--pythonpath", sys.executable)
    assert _run(project, str(BIN / "basedpyright"), *python, *modules) == ""
    assert _run(project, str(BIN / "ty"), "check", "--python", sys.prefix, *modules) == ""


@pytest.mark.parametrize("index", range(len(RENDERINGS)))
def test_the_tests_cover_every_line_and_branch(project: Path, index: int) -> None:
    """Plain pytest (no plugin, warnings are errors) under coverage with branches: 100% of the
    rendering and of its tests."""
    tests, module = f"tests{index}/test_http_client.py", f"pkg{index}/http_client.py"
    assert _fully_covered(project, tests, module, (f"--data-file=.coverage.{index}",)) == ""


SHOP = """\
import httpx
import requests


def fetch(url: str) -> str:
    with httpx.Client() as client:
        return client.get(url).text


def post(url: str) -> int:
    with requests.Session() as session:
        return session.post(url, data=b"x").status_code
"""


def _fix(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = (sys.executable, "-m", "pool_refactor", "scan", "--fix", "--no-cache", *extra, ".")
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)


def test_fix_writes_the_tests_into_the_test_folder(tmp_path: Path) -> None:
    """`--fix` writes `<testpaths>/test_http_client.py`; a second run changes nothing; the
    project's own file of that name is never overwritten; `--no-test-file` writes none."""
    for name, options, own in [("plain", (), None), ("own", (), "def test_mine() -> None: ...\n")]:
        root = tmp_path / name
        (root / "shop").mkdir(parents=True)
        (root / "shop" / "__init__.py").write_text("")
        (root / "shop" / "api.py").write_text(SHOP)
        (root / "checks").mkdir()
        (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["checks"]\n')
        if own is not None:
            (root / "checks" / "test_http_client.py").write_text(own)
        result = _fix(root, *options)
        assert result.returncode == 0, result.stdout + result.stderr
        written = (root / "checks" / "test_http_client.py").read_text()
        if own is not None:
            assert written == own
            continue
        assert "Wrote checks/test_http_client.py" in result.stdout + result.stderr
        assert written.startswith("# Generated by pool-refactor") and is_unchanged(written)
        assert "from shop import http_client\n" in written
        assert "get_requests_session" in written and "get_http_client()" not in written
        assert _fix(root).returncode == 0
        assert (root / "checks" / "test_http_client.py").read_text() == written
    root = tmp_path / "opted-out"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "api.py").write_text(SHOP)
    (root / "tests").mkdir()
    assert _fix(root, "--no-test-file").returncode == 0
    assert (root / "shop" / "http_client.py").exists()
    assert not (root / "tests" / "test_http_client.py").exists()


# --------------------------------------------------------------------------------------------------
# The project's own style: its quotes and its import order (isort profiles, ruff's lint.isort).
# Each configuration gets every rendering, read through `read_style` as `--fix` reads it, and the
# tools that configuration is about run with the project's own settings (found in its directory).

SINGLE_QUOTES = (
    RUFF_ALL.format(target="py39")
    + """\
[lint.flake8-quotes]
inline-quotes = "single"
[format]
quote-style = "single"
"""
)

SOPEL = """\
[tool.isort]
combine_as_imports = true
ensure_newline_before_comments = true
force_sort_within_sections = true
include_trailing_comma = true
line_length = 79
lines_after_imports = 2
multi_line_output = 3
order_by_type = false
split_on_trailing_comma = true
use_parentheses = true
"""

APPRISE = """\
[tool.ruff]
line-length = 79
target-version = "py39"
[tool.ruff.lint]
select = ["E", "F", "W", "Q", "I", "UP", "B", "C4", "SIM", "T20", "RUF"]
[tool.ruff.lint.flake8-quotes]
inline-quotes = "double"
[tool.ruff.lint.isort]
known-first-party = ["pkg"]
force-sort-within-sections = true
combine-as-imports = true
order-by-type = true
section-order = ["future", "standard-library", "third-party", "first-party", "local-folder"]
"""

STYLES = {
    "single-quotes": ("ruff.toml", SINGLE_QUOTES),
    "isort-google": ("pyproject.toml", '[tool.isort]\nprofile = "google"\nline_length = 79\n'),
    "force-single-line": (
        "pyproject.toml",
        '[tool.isort]\nforce_single_line = true\n[tool.ruff.lint]\nselect = ["I"]\n'
        "[tool.ruff.lint.isort]\nforce-single-line = true\n",
    ),
    "sopel": ("pyproject.toml", SOPEL),
    "apprise": ("pyproject.toml", APPRISE),
}


def _styled(root: Path, config: tuple[str, str]) -> Path:
    """A project with `config` and every rendering in the style read from it (as `--fix` does)."""
    name, text = config
    (root / name).write_text(text)
    style = read_style(root)
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text('"""A package."""\n')
    renderings = [(SECTIONS, NO_APP), *[((section,), NO_APP) for section in SECTIONS]]
    for index, (sections, app) in enumerate([*renderings, (SECTIONS, PYDANTIC_METRICS)]):
        module = f"pkg.m{index}.http_client"
        _write_pair(root / "pkg" / f"m{index}", root / f"tests{index}", module, sections, app, style)
    return root


@pytest.mark.parametrize("name", sorted(STYLES))
def test_the_project_style_passes_its_tools(tmp_path: Path, name: str) -> None:
    """ruff (check and format) with the project's settings on every configuration; isort with the
    project's settings where it configures isort; black where the quotes are black's."""
    root = _styled(tmp_path, STYLES[name])
    modules = _modules_styled(root)
    ruff = str(BIN / "ruff")
    if "ruff" in STYLES[name][0] or "tool.ruff" in STYLES[name][1]:
        assert _run(root, ruff, "check", "--no-cache", *modules) == ""
    for length in ("79", "120"):
        assert _run(root, ruff, "format", "--no-cache", "--check", "--line-length", length, *modules) == ""
    if "[tool.isort]" in STYLES[name][1]:
        assert _run(root, str(BIN / "isort"), "--check-only", "--diff", *modules) == ""
    if name not in {"single-quotes", "sopel"}:  # black: double quotes, one blank line after imports
        assert _run(root, str(BIN / "black"), "--check", "-q", "-l", "79", *modules) == ""
    elif name == "single-quotes":
        assert "'" in (root / "pkg" / "m0" / "http_client.py").read_text().split('"""', 2)[2]
        flake8 = (str(BIN / "flake8"), "--max-line-length", "79")
        if importlib.util.find_spec("flake8_quotes") is not None:
            flake8 = (*flake8, "--inline-quotes", "single")
        assert _run(root, *flake8, *modules) == ""


def _modules_styled(root: Path) -> list[str]:
    files = [*root.glob("pkg/m*/http_client.py"), *root.glob("tests*/test_http_client.py")]
    return sorted(str(path.relative_to(root)) for path in files)


def test_the_styled_tests_still_cover_everything(tmp_path: Path) -> None:
    """Single quotes and google's one import per line change no behaviour: the tests of the
    all-sections rendering still pass and cover every line and branch."""
    root = tmp_path
    (root / "ruff.toml").write_text(SINGLE_QUOTES)
    (root / "pyproject.toml").write_text('[tool.isort]\nprofile = "google"\n')
    style = read_style(root)
    assert style.quotes == "single" and style.imports.force_single_line
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text('"""A package."""\n')
    (root / "pkg" / "http_client.py").write_text(render(SECTIONS, style=style))
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text('"""Tests."""\n')
    tests = render_tests(SECTIONS, "pkg.http_client", style=style)
    (root / "tests" / "test_http_client.py").write_text(tests)
    assert _fully_covered(root, "tests/test_http_client.py", "pkg/http_client.py") == ""


def test_fix_renders_both_files_in_the_project_style(tmp_path: Path) -> None:
    """`--fix` reads the style where the project keeps it: both generated files pass the project's
    ruff (single quotes, force-sort-within-sections) and isort (sopel's settings)."""
    root = tmp_path
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "api.py").write_text(SHOP.replace('b"x"', "b'x'"))
    (root / "tests").mkdir()
    (root / "ruff.toml").write_text(
        'line-length = 79\n[format]\nquote-style = "single"\n[lint]\nselect = ["Q", "I"]\n'
        '[lint.flake8-quotes]\ninline-quotes = "single"\n[lint.isort]\nforce-sort-within-sections = true\n'
        "order-by-type = false\nlines-after-imports = 2\n"
    )
    (root / "pyproject.toml").write_text(SOPEL)
    assert _fix(root).returncode == 0
    written = ["shop/http_client.py", "tests/test_http_client.py"]
    assert _run(root, str(BIN / "ruff"), "check", "--no-cache", *written) == ""
    assert _run(root, str(BIN / "ruff"), "format", "--no-cache", "--check", *written) == ""
    assert _run(root, str(BIN / "isort"), "--check-only", "--diff", *written) == ""
    assert "_ENV_PREFIX = 'HTTP_CLIENT_'" in (root / "shop" / "http_client.py").read_text()


# --------------------------------------------------------------------------------------------------
# skip-magic-trailing-comma (beets): the formatter joins every bracket whose content fits, so the
# generated files come joined at the project's line length, as ruff and black lay them out.

SKIP_MAGIC = """\
[tool.ruff]
line-length = {length}
[tool.ruff.format]
skip-magic-trailing-comma = true
[tool.black]
line-length = {length}
skip-magic-trailing-comma = true
"""

SKIP_MAGIC_RENDERINGS = [
    (SECTIONS, NO_APP),
    *[((s,), NO_APP) for s in SECTIONS],
    (SECTIONS, PYDANTIC_METRICS),
]


@pytest.fixture(scope="module", params=[79, 88, 120])
def skip_magic(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A project whose formatters skip magic trailing commas at a line length, with every rendering
    in the style `--fix` reads from it."""
    length: int = request.param
    root = tmp_path_factory.mktemp(f"skip-magic-{length}")
    (root / "pyproject.toml").write_text(SKIP_MAGIC.format(length=length))
    style = read_style(root)
    assert not style.magic_trailing_comma
    assert style.line_length == length
    for index, (sections, app) in enumerate(SKIP_MAGIC_RENDERINGS):
        module = f"pkg{index}.http_client"
        _write_pair(root / f"pkg{index}", root / f"tests{index}", module, sections, app, style)
    return root, length


def test_skip_magic_trailing_comma_formatters_change_nothing(skip_magic: tuple[Path, int]) -> None:
    """ruff format and black, with the project's own settings, leave both files as they are; the
    joined files differ from the template's layout (the formatters would have joined it)."""
    root, length = skip_magic
    modules = _modules(root)
    assert _run(root, str(BIN / "ruff"), "format", "--no-cache", "--check", *modules) == ""
    assert _run(root, str(BIN / "black"), "--check", "-q", *modules) == ""
    plain = render(SECTIONS)
    joined = (root / "pkg0" / "http_client.py").read_text()
    assert joined.count("\n") < plain.count("\n")
    assert max(len(line) for line in joined.splitlines()) <= length


def test_skip_magic_trailing_comma_changes_layout_only(skip_magic: tuple[Path, int]) -> None:
    """The same syntax tree as the template's layout, file by file."""
    root, _ = skip_magic
    for index, (sections, app) in enumerate(SKIP_MAGIC_RENDERINGS):
        module = f"pkg{index}.http_client"
        for path, plain in [
            (root / f"pkg{index}" / "http_client.py", render(sections, app=app)),
            (root / f"tests{index}" / "test_http_client.py", render_tests(sections, module, app=app)),
        ]:
            assert ast.dump(ast.parse(path.read_text())) == ast.dump(ast.parse(plain)), path


@pytest.mark.parametrize("target", ["py39", "py313"])
def test_skip_magic_trailing_comma_ruff_all_and_flake8(skip_magic: tuple[Path, int], target: str) -> None:
    root, length = skip_magic
    config = root / f"ruff-{target}.toml"
    config.write_text(RUFF_ALL.format(target=target).replace("line-length = 79", f"line-length = {length}"))
    modules = _modules(root)
    assert _run(root, str(BIN / "ruff"), "check", "--no-cache", "--config", str(config), *modules) == ""
    if target == "py39":
        assert _run(root, str(BIN / "flake8"), "--max-line-length", str(length), *modules) == ""


# --------------------------------------------------------------------------------------------------
# mypy's explicit-override (zulip-bots): every overriding method carries `@override`, from typing
# (Python 3.12 and later), from typing_extensions (a declared dependency), else imported for type
# checkers only with a no-op at run time. Each variant is a project of its own, configured where
# such projects configure it, and its renderings go through that project's type checkers.

OVERRIDE_PROJECTS = {
    "typing": (
        "pyproject.toml",
        '[project]\nname = "p"\nrequires-python = ">=3.12"\n'
        '[tool.mypy]\nstrict = true\nwarn_unreachable = true\nenable_error_code = ["explicit-override"]\n',
        "3.12",
        "py313",
    ),
    "typing_extensions": (
        "pyproject.toml",
        '[project]\nname = "p"\nrequires-python = ">=3.9"\ndependencies = ["typing_extensions>=4.5"]\n'
        '[tool.mypy]\nstrict = true\nwarn_unreachable = true\nenable_error_code = "explicit-override"\n',
        "3.10",
        "py39",
    ),
    "fallback": (
        "mypy.ini",
        "[mypy]\nstrict = true\nwarn_unreachable = true\n"
        "enable_error_code = truthy-bool, explicit-override\n",
        "3.10",
        "py39",
    ),
}
"""Variant: the configuration file and its text, the Python the checkers assume (mypy checks 3.10
and later), ruff's target."""


OVERRIDE_RENDERINGS = [(SECTIONS, PYDANTIC_METRICS), (("requests",), NO_APP), (("urllib3",), NO_APP)]
"""Every overriding class, requests' adapters alone, and a module that overrides nothing (its tests
do)."""


@pytest.fixture(scope="module")
def overrides(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per variant: the renderings of `OVERRIDE_RENDERINGS` without a run-time dependency
    (fallback), the all-sections one with the others."""
    root = tmp_path_factory.mktemp("overrides")
    for variant, (name, text, _, _) in OVERRIDE_PROJECTS.items():
        project = root / variant
        project.mkdir()
        (project / name).write_text(text)
        style = read_style(project)
        assert style.override == variant
        renderings = OVERRIDE_RENDERINGS if variant == "fallback" else OVERRIDE_RENDERINGS[:1]
        for index, (sections, app) in enumerate(renderings):
            module = f"pkg{index}.http_client"
            _write_pair(project / f"pkg{index}", project / f"tests{index}", module, sections, app, style)
    return root


@pytest.mark.parametrize("variant", sorted(OVERRIDE_PROJECTS))
def test_overrides_pass_the_type_checkers(overrides: Path, variant: str) -> None:
    """mypy with the project's configuration (strict, explicit-override, warn_unreachable) and ty,
    at the project's Python; basedpyright strict on the type-checking-only import too."""
    project = overrides / variant
    _, _, python, _ = OVERRIDE_PROJECTS[variant]
    modules = _modules(project)
    assert all("@override" in (project / module).read_text() for module in modules if "pkg0" in module)
    mypy = (str(BIN / "mypy"), "--python-version", python, "--no-incremental", "--cache-dir", ".mypy")
    assert _run(project, *mypy, *modules) == ""
    if variant == "fallback":  # the one whose checkers must skip the run-time branch
        pyright = f'{{"typeCheckingMode": "strict", "pythonVersion": "{python}"}}'
        (project / "pyrightconfig.json").write_text(pyright)
        assert _run(project, str(BIN / "basedpyright"), "--pythonpath", sys.executable, *modules) == ""
    ty = (str(BIN / "ty"), "check", "--python", sys.prefix, "--python-version", python)
    assert _run(project, *ty, *modules) == ""


@pytest.mark.parametrize("variant", sorted(OVERRIDE_PROJECTS))
def test_overrides_pass_ruff_all_and_the_formatters(overrides: Path, variant: str) -> None:
    project = overrides / variant
    _, _, _, target = OVERRIDE_PROJECTS[variant]
    modules = _modules(project)
    config = project / "ruff-all.toml"
    config.write_text(RUFF_ALL.format(target=target))
    assert _run(project, str(BIN / "ruff"), "check", "--no-cache", "--config", str(config), *modules) == ""
    assert _run(project, str(BIN / "flake8"), "--max-line-length", "79", *modules) == ""
    for length in ("79", "88", "120"):
        ruff = (str(BIN / "ruff"), "format", "--isolated", "--check", "--line-length", length)
        assert _run(project, *ruff, *modules) == ""
        assert _run(project, str(BIN / "black"), "--check", "-q", "-l", length, *modules) == ""


@pytest.mark.parametrize("variant", ["fallback", "typing_extensions"])
def test_overrides_keep_the_tests_covering_everything(overrides: Path, variant: str) -> None:
    """The decorated module still passes its tests at 100% of lines and branches (typing's
    `override` needs Python 3.12, which the suite may not run on: checked by the type checkers)."""
    project = overrides / variant
    assert _fully_covered(project, "tests0/test_http_client.py", "pkg0/http_client.py") == ""


def test_fix_writes_both_files_as_beets_and_zulip_configure_their_tools(tmp_path: Path) -> None:
    """`--fix` reads both settings where the projects keep them (ruff's skip-magic-trailing-comma at
    80 columns as beets, mypy's explicit-override in pyproject as zulip-bots, with Python 3.9 and
    no typing_extensions): the project's own `ruff format --check` and mypy find nothing."""
    root = tmp_path
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "api.py").write_text(SHOP)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "1"\nrequires-python = ">=3.9"\n'
        "[tool.ruff]\nline-length = 80\n[tool.ruff.format]\nskip-magic-trailing-comma = true\n"
        '[tool.mypy]\nstrict = true\nenable_error_code = ["explicit-override"]\n'
    )
    assert _fix(root).returncode == 0
    written = ["shop/http_client.py", "tests/test_http_client.py"]
    module = (root / written[0]).read_text()
    assert (
        "    @override\n    def send(" in module and "    from typing_extensions import override\n" in module
    )
    assert "\n    accessor: str, options: dict[str, object], transport: Callable[..., object]\n" in module
    assert _run(root, str(BIN / "ruff"), "format", "--no-cache", "--check", *written) == ""
    mypy = (str(BIN / "mypy"), "--no-incremental", "--cache-dir", str(root / ".mypy"))
    assert _run(root, *mypy, "--python-version", "3.10", *written) == ""

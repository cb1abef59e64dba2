"""The generated module passes a project's own gates, whatever they are (issue 11, item 3).

Every rendering (all sections, and each section alone) is checked by the strictest settings
projects use: ruff `select = ["ALL"]` at 79 columns for the oldest and the newest target,
`ruff format --check` and `black --check` at 79 and at 120 columns (the module is formatted so
that no formatter changes it at any line length), flake8, isort (default and black profiles),
pydocstyle, interrogate at 100%, `mypy --strict`, basedpyright in strict mode and ty. Each tool
runs once over every rendering, so the whole matrix takes a few tool start-ups.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pool_refactor.fix.shared_module import SECTIONS, render

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
"""

PYRIGHT_STRICT = '{"typeCheckingMode": "strict"}'


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with one package per rendering: every section, then each section alone."""
    root = tmp_path_factory.mktemp("gates")
    renderings = [SECTIONS, *[(section,) for section in SECTIONS]]
    for index, sections in enumerate(renderings):
        package = root / f"pkg{index}"
        package.mkdir()
        (package / "__init__.py").write_text('"""A package."""\n')
        (package / "http_client.py").write_text(render(sections))
    return root


def _modules(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.glob("pkg*/http_client.py"))


def _run(root: Path, *args: str) -> str:
    """Run a tool in `root`; its output when it fails, else ''."""
    result = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=600)
    return "" if result.returncode == 0 else f"{args[:3]}: {result.stdout}{result.stderr}"


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

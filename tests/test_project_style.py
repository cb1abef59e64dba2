"""Edits in the project's own style (issue 11, item 2): the new import where isort and ruff put it,
the blank line between import groups kept, rewritten lines wrapped to the project's line length.

The acceptance test runs the real CLI on small projects with different configurations and then
the project's own checks (`ruff check --select I,E501`, `ruff format --check`) on every file the fix
touched: nothing may be new.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from codemods.imports import ImportStyle, add_import, apply_import_changes, set_import_style
from codemods.wrapping import wrap_long_lines
from pool_refactor.fix.style import ProjectStyle, read_style

RUFF = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))


def add(source: str, name: str = "get_http_client", module: str = "shop.http_client", **style: object) -> str:
    tree = cst.parse_module(source)
    context = CodemodContext()
    set_import_style(context, ImportStyle(frozenset({"shop"}), **style))  # type: ignore[arg-type]
    add_import(context, module, name)
    return apply_import_changes(tree, context).code


def test_the_new_import_joins_the_first_party_group_in_order() -> None:
    source = "import os\n\nimport httpx\n\nfrom shop.a import b\nfrom shop.models import User\n\nX = 1\n"
    assert add(source) == (
        "import os\n\nimport httpx\n\nfrom shop.a import b\nfrom shop.http_client import get_http_client\n"
        "from shop.models import User\n\nX = 1\n"
    )


def test_the_new_import_opens_a_group_of_its_own_before_local_imports() -> None:
    source = "import os\n\nimport httpx\n\nfrom . import views\n\nX = 1\n"
    assert add(source) == (
        "import os\n\nimport httpx\n\nfrom shop.http_client import get_http_client\n\n"
        "from . import views\n\nX = 1\n"
    )


def test_the_new_import_opens_the_last_group_when_no_later_section_exists() -> None:
    source = '"""Doc."""\n\nfrom __future__ import annotations\n\nimport os\n\nX = 1\n'
    assert add(source) == (
        '"""Doc."""\n\nfrom __future__ import annotations\n\nimport os\n\n'
        "from shop.http_client import get_http_client\n\nX = 1\n"
    )


def test_the_new_import_opening_a_group_takes_its_blank_line() -> None:
    source = "import os\n\nfrom shop.models import User\n\nX = 1\n"
    assert add(source) == (
        "import os\n\nfrom shop.http_client import get_http_client\nfrom shop.models import User\n\nX = 1\n"
    )


def test_force_single_line_gives_one_name_a_line() -> None:
    tree = cst.parse_module("import os\n\nfrom shop.models import User\n")
    context = CodemodContext()
    set_import_style(context, ImportStyle(frozenset({"shop"}), force_single_line=True))
    add_import(context, "shop.http_client", "get_sync_http_client")
    add_import(context, "shop.http_client", "get_http_client")
    assert apply_import_changes(tree, context).code == (
        "import os\n\nfrom shop.http_client import get_http_client\n"
        "from shop.http_client import get_sync_http_client\nfrom shop.models import User\n"
    )


def test_a_name_merged_into_an_existing_line_stays_where_the_line_is() -> None:
    source = "import os\n\nfrom shop.http_client import get_sync_http_client\n\nX = 1\n"
    assert "from shop.http_client import get_http_client, get_sync_http_client\n" in add(source)


WRAP_CASES = {
    "arguments_fit_on_one_line": (
        "def f(url, token):\n"
        "    response = client.get(url, timeout=10.0, headers={'Authorization': token})\n",
        "def f(url, token):\n    response = client.get(\n"
        "        url, timeout=10.0, headers={'Authorization': token}\n    )\n",
    ),
    "one_argument_a_line": (
        "class A:\n    async def f(self, url, token):\n"
        "        return await client.get(url, timeout=10.0, "
        "headers={'Authorization': f'Bearer {token}'}, cookies=None)\n",
        "class A:\n    async def f(self, url, token):\n        return await client.get(\n"
        "            url,\n            timeout=10.0,\n"
        "            headers={'Authorization': f'Bearer {token}'},\n"
        "            cookies=None,\n        )\n",
    ),
}


@pytest.mark.parametrize("name", sorted(WRAP_CASES))
def test_rewritten_lines_are_wrapped_as_black_wraps_them(name: str) -> None:
    source, expected = WRAP_CASES[name]
    module = cst.parse_module(source)
    statement = wrap_long_lines(module.body[0], module, 60, original="")
    assert module.with_changes(body=[statement]).code == expected


def test_a_long_line_of_the_project_is_left_as_it_is() -> None:
    source = (
        "def f(url, token):\n    response = client.get(url, timeout=10.0, headers={'Authorization': token})\n"
    )
    module = cst.parse_module(source)
    assert wrap_long_lines(module.body[0], module, 60, original=source) is not None
    assert module.with_changes(body=[wrap_long_lines(module.body[0], module, 60, source)]).code == source


def test_read_style_follows_the_tools_precedence(tmp_path: Path) -> None:
    assert read_style(tmp_path) == ProjectStyle()
    (tmp_path / "setup.cfg").write_text("[flake8]\nmax-line-length = 120\n[isort]\nprofile = google\n")
    style = read_style(tmp_path)
    assert style.line_length == 120 and style.imports.force_single_line
    (tmp_path / "pyproject.toml").write_text(
        "[tool.black]\nline-length = 100\n[tool.ruff]\nline-length = 79\n"
        "[tool.ruff.lint.isort]\nknown-first-party = ['shop', 'lib']\nforce-single-line = false\n"
    )
    style = read_style(tmp_path)
    assert style.line_length == 79
    assert style.imports.first_party == {"shop", "lib"}
    assert not style.imports.force_single_line


# --------------------------------------------------------------------------------------------------
# The acceptance matrix: the project's own checks on every file the fix touched

USERS = '''\
"""Users of the shop."""

from __future__ import annotations

import logging
import os

import httpx

from shop.models import User

log = logging.getLogger(__name__)
API = os.environ.get("API", "https://api.example.com")


async def fetch_user(user_id: str, token: str) -> User:
    async with httpx.AsyncClient(timeout=10.0, headers={"Authorization": f"Bearer {token}"}) as client:
        response = await client.get(f"{API}/users/{user_id}")
        return User(response.json())


def fetch_orders(user_id: str) -> list[dict[str, str]]:
    with httpx.Client(timeout=5.0, headers={"Accept": "application/json"}) as client:
        response = client.get(f"{API}/users/{user_id}/orders", params={"expand": "items"})
        return response.json()
'''

CONFIGS = {
    "ruff_88": "[tool.ruff]\nline-length = 88\n[tool.ruff.lint]\nselect = ['E', 'F', 'I']\n",
    "ruff_80_isort_first_party": (
        "[tool.ruff]\nline-length = 80\n[tool.ruff.lint]\nselect = ['E', 'F', 'I']\n"
        "[tool.ruff.lint.isort]\nknown-first-party = ['shop']\n"
    ),
    "black_100": (
        "[tool.black]\nline-length = 100\n[tool.ruff]\nline-length = 100\n"
        "[tool.ruff.lint]\nselect = ['E', 'F', 'I']\n"
    ),
    "force_single_line": (
        "[tool.ruff]\nline-length = 88\n[tool.ruff.lint]\nselect = ['E', 'F', 'I']\n"
        "[tool.ruff.lint.isort]\nforce-single-line = true\n"
    ),
}


def _checks(project: Path, files: list[str]) -> list[str]:
    found = []
    for command in (
        [RUFF, "check", "--no-cache", "--output-format", "concise", *files],
        [RUFF, "format", "--no-cache", "--check", *files],
    ):
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=60)
        found += [line for line in done.stdout.splitlines() if line.startswith("shop/") or "reformat" in line]
    return found


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_the_projects_own_checks_find_nothing_new_after_the_fix(tmp_path: Path, config: str) -> None:
    project = tmp_path / "proj"
    (project / "shop").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "shop"\nversion = "1"\n' + CONFIGS[config])
    (project / "shop" / "__init__.py").write_text("")
    (project / "shop" / "models.py").write_text(
        textwrap.dedent('''\
            """Models."""


            class User(dict[str, str]):
                """A user."""
        ''')
    )
    subprocess.run([RUFF, "format", "--no-cache", "-q", "shop"], cwd=project, check=True, timeout=60)
    (project / "shop" / "users.py").write_text(USERS)
    subprocess.run([RUFF, "format", "--no-cache", "-q", "shop/users.py"], cwd=project, check=True, timeout=60)
    subprocess.run(
        [RUFF, "check", "--no-cache", "--fix", "-q", "--select", "I", "shop/users.py"],
        cwd=project,
        timeout=60,
    )
    before = _checks(project, ["shop/users.py"])
    fixed = subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", "--fix", "shop"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Fixed 2 site(s) in 1 file(s)" in fixed.stderr, fixed.stdout + fixed.stderr
    after = _checks(project, ["shop/users.py"])
    assert after == before, (project / "shop" / "users.py").read_text()


def test_a_comment_between_the_imports_and_a_class_keeps_one_blank_line() -> None:
    """isort and ruff count a comment after the imports as code: one blank line, not two."""
    source = "import os\n\nfrom shop.a import b\n\n# Syntax:\n#  x://\n\nclass A:\n    pass\n"
    assert add(source) == (
        "import os\n\nfrom shop.a import b\nfrom shop.http_client import get_http_client\n\n"
        "# Syntax:\n#  x://\n\nclass A:\n    pass\n"
    )

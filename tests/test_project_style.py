"""Edits in the project's own style (issue 11, item 2): the new import where isort and ruff put it,
the blank line between import groups kept, rewritten lines wrapped to the project's line length.

The acceptance test runs the real CLI on small projects with different configurations and then
the project's own checks (`ruff check --select I,E501`, `ruff format --check`) on every file the fix
touched: nothing may be new.
"""

from __future__ import annotations

import ast
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
from pool_refactor.fix.shared_module import SECTIONS, add_overrides, join_magic_commas, render_tests, restyle
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


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # at the top of the file: no blank line above the new group, one below it
        (
            "from . import views\n\nX = 1\n",
            "from shop.http_client import get_http_client\n\nfrom . import views\n\nX = 1\n",
        ),
        # the blank lines above the later group go above the new one; its comment stays with it
        (
            '"""Doc."""\n\n# Views.\nfrom . import views\n',
            '"""Doc."""\n\nfrom shop.http_client import get_http_client\n\n# Views.\nfrom . import views\n',
        ),
    ],
)
def test_a_new_group_before_the_first_one_is_separated_by_a_blank_line(source: str, expected: str) -> None:
    assert add(source) == expected


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


@pytest.mark.parametrize(
    ("name", "text", "quotes"),
    [
        ("pyproject.toml", '[tool.ruff.format]\nquote-style = "single"\n', "single"),
        (
            "ruff.toml",
            '[format]\nquote-style = "preserve"\n[lint.flake8-quotes]\ninline-quotes = "single"\n',
            "single",
        ),
        ("pyproject.toml", '[tool.ruff.lint.flake8-quotes]\ninline-quotes = "double"\n', "double"),
        ("setup.cfg", "[flake8]\ninline-quotes = '\n", "single"),
        (".flake8", "[flake8]\ninline-quotes = single\n", "single"),
        ("pyproject.toml", '[tool.flake8]\ninline-quotes = "single"\nmax-line-length = 99\n', "single"),
        ("pyproject.toml", "[tool.black]\nskip-string-normalization = true\n", "double"),
    ],
)
def test_read_style_reads_the_quote(tmp_path: Path, name: str, text: str, quotes: str) -> None:
    (tmp_path / name).write_text(text)
    assert read_style(tmp_path).quotes == quotes


def test_read_style_reads_the_isort_order(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.isort]\nforce_sort_within_sections = true\norder_by_type = false\nlines_after_imports = 2\n"
    )
    style = read_style(tmp_path)
    assert style.imports.force_sort_within_sections and not style.order_by_type
    assert style.lines_after_imports == 2 and not style.lexicographical
    (tmp_path / "pyproject.toml").write_text('[tool.isort]\nprofile = "google"\n')
    style = read_style(tmp_path)
    assert style.imports.force_single_line and style.imports.force_sort_within_sections
    assert not style.order_by_type and style.lexicographical and "typing" in style.single_line_exclusions
    (tmp_path / "pyproject.toml").write_text(
        "[tool.ruff.lint.isort]\norder-by-type = false\nlines-after-imports = 0\n"
        "single-line-exclusions = ['os']\n"
    )
    style = read_style(tmp_path)
    assert (
        not style.order_by_type and style.lines_after_imports == 0 and style.single_line_exclusions == {"os"}
    )


SOURCE = """\
\"\"\"Doc "quoted".\"\"\"

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, cast
import os  # why
from shop import x
import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator, Callable

A = "a"
B = "it's"
C = "say \\"hi\\""
D = f"{A['k']}-{B!r}"
E = f"{A['k']}'s"
F = r"\\d\\""
G = b"x" + rb"\\d"
H = \"\"\"text\"\"\"
"""


def test_restyle_single_quotes_the_way_ruff_format_does() -> None:
    text = restyle(SOURCE, ProjectStyle(quotes="single"))
    lines = text.splitlines()
    assert lines[0] == '"""Doc "quoted"."""'
    assert "A = 'a'" in lines and 'B = "it\'s"' in lines and "C = 'say \"hi\"'" in lines
    assert "D = f'{A[\"k\"]}-{B!r}'" in lines and "E = f\"{A['k']}'s\"" in lines
    assert "F = r'\\d\\\"'" in lines and "G = b'x' + rb'\\d'" in lines and 'H = """text"""' in lines
    assert ast.dump(ast.parse(text)) == ast.dump(ast.parse(restyle(SOURCE, ProjectStyle())))


def test_restyle_sorts_every_import_block_in_the_project_order() -> None:
    style = ProjectStyle(
        imports=ImportStyle(frozenset({"shop"}), force_single_line=True, force_sort_within_sections=True),
        order_by_type=False,
        lines_after_imports=2,
        single_line_exclusions=frozenset({"collections.abc"}),
    )
    text = restyle(SOURCE, style)
    head = text.split("A = ")[0]
    assert head.split("\n", 2)[2] == (
        "from __future__ import annotations\n\n"
        "import os  # why\nimport sys\nfrom typing import Any\nfrom typing import cast\n"
        "from typing import TYPE_CHECKING\n\nimport httpx\n\nfrom shop import x\n\n\n"
        "if TYPE_CHECKING:\n    from collections.abc import Callable, Iterator\n\n"
    )
    assert restyle(SOURCE, ProjectStyle()).split("A = ")[0].count("import") == 7
    assert restyle(SOURCE, None) == SOURCE


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

MAIN = '''\
"""The service: its app is wired to close the shared clients, with an import in the project's order."""

from fastapi import FastAPI

from shop.users import fetch_user

app = FastAPI(title="shop")


@app.get("/users/{user_id}")
async def user(user_id: str) -> object:
    return await fetch_user(user_id, "token")
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
    (project / "shop" / "main.py").write_text(MAIN)
    edited = ["shop/users.py", "shop/main.py"]
    subprocess.run([RUFF, "format", "--no-cache", "-q", *edited], cwd=project, check=True, timeout=60)
    subprocess.run(
        [RUFF, "check", "--no-cache", "--fix", "-q", "--select", "I", *edited],
        cwd=project,
        timeout=60,
    )
    before = _checks(project, edited)
    fixed = subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", "--fix", "shop"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Fixed 2 site(s) in 1 file(s)" in fixed.stderr, fixed.stdout + fixed.stderr
    assert "lifespan=lifespan" in (project / "shop" / "main.py").read_text()
    after = _checks(project, edited)
    assert after == before, "\n".join((project / name).read_text() for name in edited)


def test_a_comment_between_the_imports_and_a_class_keeps_one_blank_line() -> None:
    """isort and ruff count a comment after the imports as code: one blank line, not two."""
    source = "import os\n\nfrom shop.a import b\n\n# Syntax:\n#  x://\n\nclass A:\n    pass\n"
    assert add(source) == (
        "import os\n\nfrom shop.a import b\nfrom shop.http_client import get_http_client\n\n"
        "# Syntax:\n#  x://\n\nclass A:\n    pass\n"
    )


def test_restyle_leaves_an_import_run_it_cannot_rewrite_whole() -> None:
    """A comment inside parentheses or two imports on one line: the run stays as written."""
    for source in [
        "import b; import a\n\nX = 1\n",
        "import z\nfrom x import (  # why\n    b,\n    a,\n)\n\nX = 1\n",
    ]:
        assert restyle(source, ProjectStyle(quotes="single")) == source
    wrapped = "from q import (\n" + "".join(f"    {name * 30},\n" for name in "bac") + ")\nimport z\n"
    assert restyle(wrapped, ProjectStyle()) == (
        "import z\nfrom q import (\n" + "".join(f"    {name * 30},\n" for name in "abc") + ")\n"
    )


@pytest.mark.parametrize("kind", ["csv", "list"])
def test_the_generated_tests_write_parametrize_names_as_the_project_does(tmp_path: Path, kind: str) -> None:
    """flake8-pytest-style's PT006 with the project's `parametrize-names-type` finds nothing in the
    generated tests (beets sets csv)."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff.lint]\nselect = ["PT006"]\n'
        f'[tool.ruff.lint.flake8-pytest-style]\nparametrize-names-type = "{kind}"\n'
    )
    style = read_style(tmp_path)
    assert style.parametrize_names == kind
    text = render_tests(SECTIONS, "shop.http_client", style=style)
    (tmp_path / "test_http_client.py").write_text(text)
    tuple_style = render_tests(SECTIONS, "shop.http_client")
    assert '("target", "build")' in tuple_style and '("target", "build")' not in text
    done = subprocess.run(
        [RUFF, "check", "--no-cache", "--output-format", "concise", "test_http_client.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout


def test_read_style_reads_the_flake8_plugins_parametrize_names_type(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[flake8]\npytest-parametrize-names-type = csv\n")
    assert read_style(tmp_path).parametrize_names == "csv"
    assert read_style(tmp_path / "nowhere").parametrize_names == "tuple"


@pytest.mark.parametrize(
    ("name", "text", "magic"),
    [
        ("pyproject.toml", "[tool.ruff.format]\nskip-magic-trailing-comma = true\n", False),
        ("ruff.toml", "[format]\nskip-magic-trailing-comma = true\n", False),
        ("pyproject.toml", "[tool.black]\nskip-magic-trailing-comma = true\n", False),
        ("pyproject.toml", "[tool.black]\nskip_magic_trailing_comma = true\n", False),
        ("pyproject.toml", "[tool.ruff.format]\nskip-magic-trailing-comma = false\n", True),
        ("pyproject.toml", "[tool.ruff]\nline-length = 80\n", True),
    ],
)
def test_read_style_reads_skip_magic_trailing_comma(
    tmp_path: Path, name: str, text: str, magic: bool
) -> None:
    (tmp_path / name).write_text(text)
    assert read_style(tmp_path).magic_trailing_comma is magic


MAGIC = """\
from collections.abc import (
    Awaitable,
    Callable,
)

ONE = (
    1,
)
NAMES = [
    "a",
    "b",
]


class Adapter(  # type: ignore[misc]
    Base,
):
    def send(
        self,
        request: object,
        **kwargs: object,
    ) -> object:
        samples = [
            (name, value)
            for name, value in kwargs.items()
        ]
        return build(
            request,
            retries=Retry(
                total=retries,
                connect=retries,
                read=False,
            ),
        )


def one(
    parameter_with_a_long_name_that_does_not_fit_with_the_definition: object,
) -> None:
    call(  # why
        x,
        y,
    )
"""


def test_join_magic_commas_lays_out_as_the_formatters_do() -> None:
    """At 40 columns: joined where it fits (trailing commas dropped, `(1,)` kept, a comment after a
    bracket moved to the end), an import and a comprehension that do not fit one part a line, a
    split definition whose parameters do not fit together one a line, and a lone parameter keeps
    its comma; `ruff format` and `black` with the setting leave the result as it is."""
    expected = """\
from collections.abc import (
    Awaitable,
    Callable,
)

ONE = (1,)
NAMES = ["a", "b"]


class Adapter(  # type: ignore[misc]
    Base
):
    def send(
        self,
        request: object,
        **kwargs: object,
    ) -> object:
        samples = [
            (name, value)
            for name, value in kwargs.items()
        ]
        return build(
            request,
            retries=Retry(
                total=retries,
                connect=retries,
                read=False,
            ),
        )


def one(
    parameter_with_a_long_name_that_does_not_fit_with_the_definition: object,
) -> None:
    call(x, y)  # why
"""
    assert join_magic_commas(MAGIC, 40) == expected
    for command in (
        [
            RUFF,
            "format",
            "--isolated",
            "--config",
            "format.skip-magic-trailing-comma=true",
            "--line-length",
            "40",
        ],
        [str(Path(RUFF).with_name("black")), "-C", "-q", "-l", "40"],
    ):
        done = subprocess.run([*command, "-"], input=expected, capture_output=True, text=True, timeout=60)
        assert done.stdout == expected, command
    assert join_magic_commas(expected, 40) == expected


@pytest.mark.parametrize(
    ("files", "override"),
    [
        ({"pyproject.toml": "[tool.mypy]\nstrict = true\n"}, ""),
        (
            {
                "pyproject.toml": '[project]\nrequires-python = "<3.15,>=3.12"\n[tool.mypy]\n'
                'enable_error_code = ["explicit-override"]\n'
            },
            "typing",
        ),
        (
            {
                "pyproject.toml": '[project]\nrequires-python = ">=3.9"\n'
                'dependencies = ["Typing-Extensions>=4"]\n'
                '[tool.mypy]\nenable_error_code = "ignore-without-code, explicit-override"\n'
            },
            "typing_extensions",
        ),
        (
            {
                "mypy.ini": "[mypy]\nenable_error_code = explicit-override\n",
                "setup.py": 'install_requires=["typing_extensions>=4.5.0"]\n',
            },
            "typing_extensions",
        ),
        (
            {
                "setup.cfg": "[options]\npython_requires = >=3.13\n"
                "[mypy]\nenable_error_code = explicit-override\n"
            },
            "typing",
        ),
        (
            {
                "ruff.toml": 'target-version = "py38"\n',
                ".mypy.ini": "[mypy]\nenable_error_code = explicit-override\n",
            },
            "fallback",
        ),
        (
            {
                "mypy.ini": "[mypy]\nenable_error_code = explicit-override\n"
                "disable_error_code = explicit-override\n"
            },
            "",
        ),
        # mypy reads the first file that configures it: mypy.ini wins over pyproject.toml
        (
            {
                "mypy.ini": "[mypy]\nstrict = true\n",
                "pyproject.toml": '[tool.mypy]\nenable_error_code = ["explicit-override"]\n',
            },
            "",
        ),
    ],
)
def test_read_style_reads_explicit_override_and_where_override_comes_from(
    tmp_path: Path, files: dict[str, str], override: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert read_style(tmp_path).override == override


OVERRIDING = '''\
"""Doc."""

from __future__ import annotations

from typing import Any

import requests.adapters

if TYPE_CHECKING:
    from collections.abc import Callable


class _Adapter(requests.adapters.HTTPAdapter):
    def send(self, request: Any) -> Any:
        return request

    def helper(self) -> None:
        pass


class _Mine(_Adapter):
    @staticmethod
    def helper() -> None:
        pass

    def __init__(self) -> None:
        pass
'''


def test_add_overrides_marks_the_overriding_methods_only() -> None:
    """A library base's method and a local base's method are marked (outside other decorators);
    a new method and `__init__` are not; the import is where each variant puts it."""
    text = add_overrides(OVERRIDING, "typing")
    assert text.count("@override") == 2
    assert (
        "    @override\n    def send(" in text and "    @override\n    @staticmethod\n    def helper(" in text
    )
    assert "from typing import Any, override\n" in text
    assert "from typing_extensions import override\n\nif TYPE" in add_overrides(
        OVERRIDING, "typing_extensions"
    )
    fallback = add_overrides(OVERRIDING, "fallback")
    assert (
        "if TYPE_CHECKING:\n    from collections.abc import Callable\n"
        "    from typing_extensions import override\n"
        "else:\n\n    def override(method: object) -> object:\n" in fallback
    )
    assert (
        add_overrides(OVERRIDING.split("class _Adapter")[0], "fallback")
        == OVERRIDING.split("class _Adapter")[0]
    )

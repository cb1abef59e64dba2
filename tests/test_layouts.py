"""`--fix` on each project layout: every rewritten module must import afterwards (issue 11, item 1).

Each end-to-end case builds a small project, runs the real CLI in a subprocess (cwd = the project),
then imports every rewritten module in a fresh interpreter that has only the project's import roots
on `sys.path`, as the project's own test runner would (`-I`: no cwd, no PYTHONPATH). Scripts are run
as scripts, from another folder. The unit tests below pin the name resolution of
`pool_refactor.fix.placement` on layouts built in `tmp_path`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pool_refactor.fix.placement import ModuleTarget, PlacementError, locate_module, target_for_path
from pool_refactor.run import fixing
from tests.fs_helpers import make_tree

SITE = (
    "import httpx\n"
    "\n"
    "\n"
    "async def get_user(url):\n"
    "    async with httpx.AsyncClient(timeout=10.0) as client:\n"
    "        return (await client.get(url)).json()\n"
)
SCRIPT = SITE + '\n\nif __name__ == "__main__":\n    print("ran")\n'
LOADER = (
    "import importlib\n"
    "import pkgutil\n"
    "from pathlib import Path\n"
    "\n"
    'FOLDER = Path(__file__).resolve().parent.parent / "plugins"\n'
    "\n"
    "\n"
    "def plugin_names():\n"
    "    return sorted(m.name for m in pkgutil.iter_modules([str(FOLDER)]))\n"
    "\n"
    "\n"
    "def load(name):\n"
    '    return importlib.import_module(f"plugins.{name}")\n'
)


def pyproject(name: str, extra: str = "") -> str:
    return f'[project]\nname = "{name}"\nversion = "0"\n{extra}'


def fix(project: Path, *args: str, wire: bool = False) -> subprocess.CompletedProcess[str]:
    """`python -m pool_refactor scan --no-cache -j 1 [--no-wire] --fix [ARGS] .` in `project`."""
    options = ["--no-cache", "-j", "1", *([] if wire else ["--no-wire"]), "--fix", *args]
    return subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", *options, "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def import_all(roots: list[Path], modules: list[str], cwd: Path, code: str = "") -> str:
    """Import `modules` in a fresh isolated interpreter with `roots` first on sys.path, then run
    `code`; what it prints."""
    program = (
        "import importlib, sys\n"
        f"sys.path[:0] = {[str(r) for r in roots]!r}\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n" + code
    )
    command = [sys.executable, "-I", "-c", program]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def first_import(path: Path) -> str:
    """The accessor import the fix wrote into `path`."""
    return next(line for line in path.read_text().splitlines() if "import get_http_client" in line)


def generated(project: Path) -> list[str]:
    return sorted(p.relative_to(project).as_posix() for p in project.rglob("http_client.py"))


# --- end to end: one project per layout -------------------------------------------------------------


def test_regular_packages_nested_and_relative(tmp_path: Path) -> None:
    """Two regular packages, each its own module: `shopkit/http_client.py`, and `toolkit/utils/`
    since toolkit has a `utils` package. Files that import their own package relatively get a
    relative import; a namespace subpackage of a regular package (`toolkit/jobs/`) imports too.
    The application's wiring imports the module by its absolute name, whatever file came first (the
    application reaches the rewritten code through `from . import api`: issue 14 wires only those)."""
    project = make_tree(
        tmp_path / "proj",
        {
            "pyproject.toml": pyproject("shopkit"),
            "shopkit/__init__.py": "from . import api\n" + SITE,
            "shopkit/api/__init__.py": "",
            "shopkit/api/users.py": SITE,
            "shopkit/api/orders.py": "from . import users\n" + SITE,
            "shopkit/api/v1/__init__.py": "",
            "shopkit/api/v1/items.py": "from .. import users\n" + SITE,
            "shopkit/main.py": "from fastapi import FastAPI\n\nfrom . import api\n\napp = FastAPI()\n",
            "toolkit/__init__.py": "",
            "toolkit/utils/__init__.py": "",
            "toolkit/api/__init__.py": "",
            "toolkit/api/v1/__init__.py": "",
            "toolkit/api/v1/items.py": "from . import __name__ as _here\n" + SITE,
            "toolkit/jobs/nightly.py": SITE,  # `jobs` has no __init__.py
        },
    )
    done = fix(project, wire=True)
    assert done.returncode == 0, done.stderr
    assert "Fixed 6 site(s) in 6 file(s)." in done.stderr
    assert "from shopkit.http_client import lifespan\n" in (project / "shopkit/main.py").read_text()
    assert generated(project) == ["shopkit/http_client.py", "toolkit/utils/http_client.py"]
    expected = {
        "shopkit/api/users.py": "from shopkit.http_client import get_http_client",
        "shopkit/api/orders.py": "from ..http_client import get_http_client",
        "shopkit/api/v1/items.py": "from ...http_client import get_http_client",
        "shopkit/__init__.py": "from .http_client import get_http_client",
        "toolkit/api/v1/items.py": "from ...utils.http_client import get_http_client",
        "toolkit/jobs/nightly.py": "from toolkit.utils.http_client import get_http_client",
    }
    assert {path: first_import(project / path) for path in expected} == expected
    modules = [p.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for p in expected]
    # fastapi is not installed here: the wired import must resolve all the same
    import_all([project], modules, tmp_path, "from shopkit.http_client import lifespan\n")


def test_src_layout_declared_in_pyproject(tmp_path: Path) -> None:
    extra = '\n[tool.setuptools.packages.find]\nwhere = ["src"]\n'
    project = make_tree(
        tmp_path / "proj",
        {
            "pyproject.toml": pyproject("shop-kit", extra),
            "src/shopkit/__init__.py": "",
            "src/shopkit/users.py": SITE,
            "src/shopkit/api/__init__.py": "",
            "src/shopkit/api/orders.py": SITE,
            "tests/test_users.py": "from shopkit import users\n",
        },
    )
    done = fix(project)
    assert done.returncode == 0, done.stderr
    assert generated(project) == ["src/shopkit/http_client.py"]
    assert first_import(project / "src/shopkit/api/orders.py") == (
        "from shopkit.http_client import get_http_client"
    )
    import_all([project / "src"], ["shopkit.users", "shopkit.api.orders"], tmp_path)


def test_namespace_plugin_folder(tmp_path: Path) -> None:
    """The issue's layout: plugins in a PEP 420 folder the app loads by name. The module goes into the
    main package, not among the plugins; every plugin still imports and is still found by the loader."""
    project = make_tree(
        tmp_path / "proj",
        {
            "pyproject.toml": pyproject("plugapp"),
            "plugapp/__init__.py": "",
            "plugapp/loader.py": LOADER,
            "plugins/weather.py": SITE,
            "plugins/news.py": "from . import weather\n" + SITE,
            "plugins/maps/__init__.py": "",
            "plugins/maps/tiles.py": "from . import __name__ as _here\n" + SITE,
            "tests/test_plugins.py": "import plugins.weather\n",
        },
    )
    done = fix(project)
    assert done.returncode == 0, done.stderr
    assert "Fixed 3 site(s) in 3 file(s)." in done.stderr
    assert generated(project) == ["plugapp/http_client.py"]
    for plugin in ("plugins/weather.py", "plugins/news.py", "plugins/maps/tiles.py"):
        assert first_import(project / plugin) == "from plugapp.http_client import get_http_client"
    out = import_all(
        [project],
        ["plugins.weather", "plugins.news", "plugins.maps.tiles"],
        tmp_path,
        "from plugapp import loader\n"
        "names = loader.plugin_names()\n"
        "print(names)\n"
        "for name in names:\n"
        "    loader.load(name)\n",
    )
    assert out.strip() == "['maps', 'news', 'weather']"


def test_scripts(tmp_path: Path) -> None:
    """A script gets a sibling module (its folder is sys.path[0]); a top-level script next to the main
    package imports it from there; a file nobody imports and that is not a script is left alone."""
    project = make_tree(
        tmp_path / "proj",
        {
            "pyproject.toml": pyproject("shopkit"),
            "shopkit/__init__.py": "",
            "manage.py": SCRIPT,
            "scripts/fetch.py": SCRIPT,
            "scripts/report.py": "#!/usr/bin/env python\n" + SITE,
            "scripts/loose.py": SITE,
        },
    )
    done = fix(project)
    assert done.returncode == 2, done.stderr
    assert "Fixed 3 site(s) in 3 file(s)." in done.stderr
    assert (
        "scripts/loose.py: error: not fixed: cannot tell how this file is imported: scripts/ has no "
        "__init__.py and nothing in the project imports `scripts` by name"
    ) in done.stdout
    assert (project / "scripts/loose.py").read_text() == SITE
    assert generated(project) == ["scripts/http_client.py", "shopkit/http_client.py"]
    assert first_import(project / "scripts/fetch.py") == "from http_client import get_http_client"
    assert first_import(project / "scripts/report.py") == "from http_client import get_http_client"
    assert first_import(project / "manage.py") == "from shopkit.http_client import get_http_client"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    for script in ("manage.py", "scripts/fetch.py"):  # run as scripts, from elsewhere
        command = [sys.executable, "-s", str(project / script)]
        ran = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert (ran.returncode, ran.stdout) == (0, "ran\n"), ran.stderr
    import_all([project / "scripts"], ["report"], tmp_path)


def test_module_option_inside_importable_packages(tmp_path: Path) -> None:
    """`--module` in a regular subpackage, and in a used namespace package (the issue's `_utils`)."""
    project = make_tree(
        tmp_path / "proj",
        {
            "pyproject.toml": pyproject("plugapp"),
            "plugapp/__init__.py": "",
            "plugapp/net/__init__.py": "",
            "plugapp/api/__init__.py": "",
            "plugapp/api/orders.py": "from . import __name__ as _here\n" + SITE,
            "plugapp/loader.py": LOADER,
            "plugins/weather.py": SITE,
            "plugins/_utils/": None,
        },
    )
    done = fix(project, "--module", "plugapp/net/http_client.py")
    assert done.returncode == 0, done.stderr
    assert generated(project) == ["plugapp/net/http_client.py"]
    assert first_import(project / "plugapp/api/orders.py") == "from ..net.http_client import get_http_client"
    wanted = "from plugapp.net.http_client import get_http_client"
    assert first_import(project / "plugins/weather.py") == wanted
    import_all([project], ["plugapp.api.orders", "plugins.weather"], tmp_path)

    (project / "plugins/news.py").write_text(SITE)
    done = fix(project, "--module", "plugins/_utils/http_client.py")
    assert done.returncode == 0, done.stderr
    wanted = "from plugins._utils.http_client import get_http_client"
    assert first_import(project / "plugins/news.py") == wanted
    import_all([project], ["plugins.news"], tmp_path)


def test_module_option_where_no_import_reaches_is_refused(tmp_path: Path) -> None:
    project = make_tree(
        tmp_path / "proj",
        {
            "pyproject.toml": pyproject("shopkit"),
            "shopkit/__init__.py": "",
            "shopkit/users.py": SITE,
            "misc/notes.txt": "",
        },
    )
    done = fix(project, "--module", "misc/http_client.py")
    assert done.returncode == 2
    assert (
        "shopkit/users.py: error: not fixed: the shared module misc/http_client.py could not be imported "
        "from users.py: misc/ has no __init__.py and nothing in the project imports `misc` by name"
    ) in done.stdout
    assert generated(project) == []
    assert (project / "shopkit/users.py").read_text() == SITE


# --- unit: how a file is named and where its module goes -----------------------------------------


def locate(project: Path, file: str, module: str | None = None) -> tuple[str, str]:
    target = locate_module(project / file, project / module if module else None, project_root=project)
    return target.path.relative_to(project.resolve()).as_posix(), target.import_name


def build(tmp_path: Path, files: dict[str, str]) -> Path:
    return make_tree(tmp_path / "proj", files).resolve()


@pytest.mark.parametrize(
    ("config", "files"),
    [
        ('[tool.setuptools.packages.find]\nwhere = ["lib"]\n', {}),
        ('[tool.setuptools]\npackage-dir = {"" = "lib"}\n', {}),
        ('[tool.poetry]\npackages = [{ include = "shopkit", from = "lib" }]\n', {}),
        ('[tool.hatch.build.targets.wheel]\npackages = ["lib/shopkit"]\n', {}),
        ("", {"setup.cfg": "[options]\npackage_dir =\n    =lib\npackages = find:\n"}),
        ("", {"setup.cfg": "[options]\npackages = find:\n[options.packages.find]\nwhere = lib\n"}),
    ],
    ids=["setuptools-find", "setuptools-package-dir", "poetry", "hatch", "setup.cfg-dir", "setup.cfg-find"],
)
def test_declared_package_roots(tmp_path: Path, config: str, files: dict[str, str]) -> None:
    """Packages under a folder the build configuration names: `lib/shopkit/users.py` is `shopkit.users`,
    and a top-level script next to `lib/` does not reach the package (a sibling module instead)."""
    project = build(
        tmp_path,
        {
            "pyproject.toml": pyproject("shopkit", config),
            "lib/shopkit/__init__.py": "",
            "lib/shopkit/users.py": SITE,
            "plugins/weather.py": SITE,
            "tests/test_weather.py": "from plugins import weather\n",
            "run.py": SCRIPT,
            **files,
        },
    )
    assert locate(project, "lib/shopkit/users.py") == ("lib/shopkit/http_client.py", "shopkit.http_client")
    assert locate(project, "plugins/weather.py") == ("lib/shopkit/http_client.py", "shopkit.http_client")
    assert locate(project, "run.py") == ("http_client.py", "http_client")


def test_src_without_declaration_and_package_dir_mapping(tmp_path: Path) -> None:
    project = build(
        tmp_path / "a",
        {"pyproject.toml": pyproject("shopkit"), "src/shopkit/__init__.py": "", "src/shopkit/users.py": SITE},
    )
    assert locate(project, "src/shopkit/users.py") == ("src/shopkit/http_client.py", "shopkit.http_client")
    assert target_for_path(project / "src/shopkit/users.py").import_name == "shopkit.users"

    mapped = '[tool.setuptools]\npackage-dir = {"shopkit" = "code"}\npackages = ["shopkit"]\n'
    project = build(
        tmp_path / "b",
        {"pyproject.toml": pyproject("shopkit", mapped), "code/__init__.py": "", "code/users.py": SITE},
    )
    assert locate(project, "code/users.py") == ("code/http_client.py", "shopkit.http_client")
    assert target_for_path(project / "code/users.py").import_name == "shopkit.users"

    # a stray src/__init__.py: what is in the declared root is still a top-level name
    where = '[tool.setuptools.packages.find]\nwhere = ["src"]\n'
    files = {"src/__init__.py": "", "src/shopkit/__init__.py": "", "src/shopkit/users.py": SITE}
    project = build(tmp_path / "c", {"pyproject.toml": pyproject("shopkit", where), **files})
    assert locate(project, "src/shopkit/users.py") == ("src/shopkit/http_client.py", "shopkit.http_client")


@pytest.mark.parametrize(
    "evidence",
    [
        {"plugapp/loader.py": 'import importlib\nimportlib.import_module(f"plugins.{name}")\n'},
        {"tests/test_w.py": 'from unittest import mock\nmock.patch("plugins.weather.httpx")\n'},
        {"tests/test_w.py": "from plugins.weather import get_user\n"},
        {"plugins/news.py": "from .weather import get_user\n"},
        {"pyproject.toml": pyproject("plugapp", '[project.entry-points.x]\nw = "plugins.weather:run"\n')},
        {"pyproject.toml": pyproject("plugapp", '[tool.setuptools]\npackages = ["plugapp", "plugins"]\n')},
        {"Procfile": "web: uvicorn plugins.weather:app --port 80\n"},
        {"Dockerfile": 'FROM python\nCMD ["python", "-m", "plugins.weather"]\n'},
    ],
    ids=["import_module", "patch", "from-import", "relative", "entry-point", "declared", "uvicorn", "-m"],
)
def test_namespace_evidence(tmp_path: Path, evidence: dict[str, str]) -> None:
    files = {"pyproject.toml": pyproject("plugapp"), "plugapp/__init__.py": "", "plugins/weather.py": SITE}
    project = build(tmp_path, {**files, **evidence})
    assert locate(project, "plugins/weather.py") == ("plugapp/http_client.py", "plugapp.http_client")
    assert target_for_path(project / "plugins/weather.py").import_name == "plugins.weather"


@pytest.mark.parametrize(
    "mention",
    [
        {"plugapp/log.py": 'import logging\nlogging.info("plugins.weather loaded")\n'},
        {"plugapp/doc.py": "# import plugins.weather\nX = 1\n"},
        {},
    ],
    ids=["log-message", "comment", "nothing"],
)
def test_namespace_without_evidence_is_refused(tmp_path: Path, mention: dict[str, str]) -> None:
    files = {"pyproject.toml": pyproject("plugapp"), "plugapp/__init__.py": "", "plugins/weather.py": SITE}
    project = build(tmp_path, {**files, **mention})
    with pytest.raises(PlacementError, match="plugins/ has no __init__.py and nothing in the project"):
        locate(project, "plugins/weather.py")


def test_namespace_needs_one_main_package(tmp_path: Path) -> None:
    plugins = {"plugins/weather.py": SITE, "tests/test_w.py": "import plugins.weather\n"}
    project = build(tmp_path / "none", {"pyproject.toml": pyproject("x"), **plugins})
    with pytest.raises(
        PlacementError, match="no regular package .* must not go into the namespace package"
    ) as none:
        locate(project, "plugins/weather.py")
    assert str(none.value).endswith("--module, for example --module path/to/a/regular/package/http_client.py")
    two = {"pyproject.toml": pyproject("x"), "app/__init__.py": "", "worker/__init__.py": "", **plugins}
    project = build(tmp_path / "two", two)
    with pytest.raises(PlacementError, match=r"several top-level packages \(app, worker\)") as two_found:
        locate(project, "plugins/weather.py")
    assert "<" not in str(two_found.value)
    assert str(two_found.value).endswith(
        "choose its place with --module, for example --module app/http_client.py"
    )
    assert locate(project, "plugins/weather.py", "worker/http_client.py") == (
        "worker/http_client.py",
        "worker.http_client",
    )
    # named like the project: that one is the main package
    project = build(tmp_path / "named", {**two, "pyproject.toml": pyproject("worker")})
    assert locate(project, "plugins/weather.py") == ("worker/http_client.py", "worker.http_client")


def test_regular_package_inside_folders(tmp_path: Path) -> None:
    """A regular package in a folder nobody imports by name is self-contained (as pytest names it);
    inside a used namespace package it is named through it, and its module goes to the main package."""
    project = build(
        tmp_path,
        {
            "pyproject.toml": pyproject("plugapp"),
            "plugapp/__init__.py": "",
            "examples/demo/__init__.py": "",
            "examples/demo/app.py": SITE,
            "plugins/maps/__init__.py": "",
            "plugins/maps/tiles.py": SITE,
            "plugapp/loader.py": 'import importlib\nimportlib.import_module("plugins.maps")\n',
        },
    )
    assert locate(project, "examples/demo/app.py") == ("examples/demo/http_client.py", "demo.http_client")
    assert locate(project, "plugins/maps/tiles.py") == ("plugapp/http_client.py", "plugapp.http_client")
    assert target_for_path(project / "plugins/maps/tiles.py").import_name == "plugins.maps.tiles"


def test_pytest_modules_and_import_mode(tmp_path: Path) -> None:
    files = {"pyproject.toml": pyproject("shopkit"), "shopkit/__init__.py": "", "tests/test_api.py": SITE}
    project = build(tmp_path / "prepend", files)
    assert locate(project, "tests/test_api.py") == ("tests/http_client.py", "http_client")
    importlib_mode = pyproject("shopkit", '[tool.pytest.ini_options]\naddopts = "--import-mode=importlib"\n')
    project = build(tmp_path / "importlib", {**files, "pyproject.toml": importlib_mode})
    with pytest.raises(PlacementError, match="cannot tell how this file is imported"):
        locate(project, "tests/test_api.py")
    # pytest's `pythonpath` makes the folder an import root: a top-level module, main package module
    on_path = pyproject("shopkit", '[tool.pytest.ini_options]\npythonpath = ["tools"]\n')
    project = build(tmp_path / "pythonpath", {**files, "pyproject.toml": on_path, "tools/probe.py": SITE})
    assert locate(project, "tools/probe.py") == ("shopkit/http_client.py", "shopkit.http_client")


def test_relative_names(tmp_path: Path) -> None:
    project = build(
        tmp_path,
        {
            "pyproject.toml": pyproject("shopkit"),
            "shopkit/__init__.py": "from . import a\n",
            "shopkit/a/__init__.py": "",
            "shopkit/a/b/__init__.py": "",
            "shopkit/a/b/deep.py": "from ..x import y\n",
            "shopkit/a/b/plain.py": "import os\n",
            "shopkit/net/__init__.py": "",
        },
    )
    assert locate(project, "shopkit/a/b/deep.py")[1] == "...http_client"
    assert locate(project, "shopkit/a/b/plain.py")[1] == "shopkit.http_client"
    assert locate(project, "shopkit/__init__.py")[1] == ".http_client"
    assert locate(project, "shopkit/a/b/deep.py", "shopkit/a/net.py")[1] == "..net"
    assert locate(project, "shopkit/a/b/deep.py", "shopkit/net/http_client.py")[1] == "...net.http_client"
    target = locate_module(project / "shopkit/a/b/deep.py", None, project_root=project)
    assert target.module_name == "shopkit.http_client"


def test_script_module_option(tmp_path: Path) -> None:
    """A script reaches `--module` next to it, or in a package it already imports; nothing else."""
    project = build(
        tmp_path,
        {
            "pyproject.toml": pyproject("shopkit"),
            "shopkit/__init__.py": "",
            "scripts/uses.py": "import shopkit\n" + SCRIPT,
            "scripts/alone.py": SCRIPT,
        },
    )
    assert locate(project, "scripts/uses.py", "shopkit/http_client.py")[1] == "shopkit.http_client"
    assert locate(project, "scripts/alone.py", "scripts/shared.py")[1] == "shared"
    with pytest.raises(PlacementError, match="is a script .* neither next to it nor in a package it imports"):
        locate(project, "scripts/alone.py", "shopkit/http_client.py")
    with pytest.raises(PlacementError, match="must name a .py file"):
        locate(project, "scripts/alone.py", "shopkit/http_client")


def test_module_target_and_package_root(tmp_path: Path) -> None:
    """`module_name` defaults to `import_name`; the package the module belongs to (wired once, its
    files searched for the application) is the folder of the first part of its absolute name."""
    assert ModuleTarget(Path("x.py"), "a.b").module_name == "a.b"
    cases = [
        ("shopkit/utils/http_client.py", "shopkit.utils.http_client", "shopkit"),
        ("plugins/_utils/http_client.py", "plugins._utils.http_client", "plugins"),
        ("scripts/http_client.py", "http_client", "scripts"),
    ]
    for path, name, top in cases:
        work = fixing._TargetWork(ModuleTarget(tmp_path / path, ".http_client", name))
        assert fixing._package_root(work) == tmp_path / top


def test_setup_py_project_scanned_by_its_package_folder(tmp_path: Path) -> None:
    """No pyproject.toml, and the package folder named on the command line (the configuration root
    is then that folder): the imports still name the package (a regression found on opsdroid)."""
    project = tmp_path / "bot"
    for folder in ("bot", "bot/parsers", "bot/connector", "bot/connector/tg"):
        (project / folder).mkdir(parents=True)
        (project / folder / "__init__.py").write_text("")
    (project / "setup.py").write_text('from setuptools import setup\nsetup(name="bot", packages=["bot"])\n')
    (project / "setup.cfg").write_text("[metadata]\nname = bot\n")
    site = (
        "import httpx\n\n\ndef fetch(url):\n    with httpx.Client() as c:\n        return c.get(url).text\n"
    )
    (project / "bot" / "parsers" / "witai.py").write_text(site)
    (project / "bot" / "connector" / "tg" / "conn.py").write_text(site)
    done = subprocess.run(
        [sys.executable, "-m", "pool_refactor", "scan", "--no-cache", "--no-wire", "--fix", "bot"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for module in ("parsers/witai.py", "connector/tg/conn.py"):
        text = (project / "bot" / module).read_text()
        assert "from bot.http_client import get_sync_http_client\n" in text, text
    modules = ["bot.parsers.witai", "bot.connector.tg.conn"]
    import_all([project], modules, tmp_path)
    assert generated(project) == ["bot/http_client.py"]

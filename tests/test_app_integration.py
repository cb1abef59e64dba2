"""Issue 14, items 3 and 4: the generated module reads the application's settings (pydantic-settings,
Django) and exports its pools next to the application's Prometheus metrics.

The fixture applications (tests/fixtures/app_settings) are copied, fixed with `pool-refactor scan
--fix`, then run in a subprocess against a local server: the pool limits come from `.env` through
the application's settings class (or from Django's settings), and a scrape of the running
application's `/metrics` shows the pool gauges.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pool_refactor.fix import shared_module
from pool_refactor.fix.app_integration import (
    SettingsClass,
    SettingsEditError,
    detect,
    metric_prefix,
    settings_fields_edit,
    takes_pep604,
)
from pool_refactor.fix.shared_module import NO_APP, SECTIONS, AppIntegration
from tests.e2e import cli
from tests.servers import LocalServer

FIXTURES = Path(__file__).parent / "fixtures" / "app_settings"


def _copy(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def _env(**extra: str) -> dict[str, str]:
    """The environment of the fixture applications: no HTTP_CLIENT_/SHOP_ variable from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_CLIENT_", "SHOP_", "DJANGO_"))}
    return {**env, "PYTHONPATH": "", **extra}


def _run(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=folder,
        env=_env(**env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _fixed(folder: Path) -> str:
    done = cli(folder, "--fix", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


# --------------------------------------------------------------------------------------------------
# pydantic-settings


def test_pydantic_settings_app_reads_its_pool_limits_from_dotenv(tmp_path: Path) -> None:
    folder = _copy("pydantic_app", tmp_path)
    output = _fixed(folder)
    assert (
        "Settings: Settings in shop/config.py declares the shared HTTP clients' settings "
        "(HTTP_CLIENT_MAX_CONNECTIONS, ...), so .env and its validation apply to them"
    ) in output
    assert (folder / "shop" / "config.py").read_text() == (
        FIXTURES / "pydantic_config.expected.py"
    ).read_text()
    module = (folder / "shop" / "http_client.py").read_text()
    assert "# pool-refactor: settings=pydantic shop.config:get_settings()\n" in module
    assert '_APP_SETTINGS = "shop.config:get_settings()"\n' in module
    assert shared_module.is_unchanged(module)

    with LocalServer() as server:
        # `.env` only: the documented name and the class's own prefix both reach the pool.
        (folder / ".env").write_text(
            f"SHOP_CATALOG_URL={server.url}/\n"
            "HTTP_CLIENT_MAX_CONNECTIONS=7\n"
            "SHOP_HTTP_CLIENT_KEEPALIVE_EXPIRY=2.5\n"
            "HTTP_CLIENT_TIMEOUT=none\n"
            "SHOP_HTTP_CLIENT_MAX_POOLS=4\n"
        )
        done = _run(folder)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {
            "answer": "ok",
            "max_connections": 7,
            "keepalive_expiry": 2.5,
            "read_timeout": None,
            "stats": [
                {"open": 1, "idle": 1, "in_use": 0, "unreadable": 0},
                {"kept": 1, "evicted": 0, "closed": 0, "max": 4},  # the pools: MAX_POOLS from `.env`
            ],
        }
        # The environment still wins over `.env`, as pydantic-settings orders its sources.
        done = _run(folder, HTTP_CLIENT_MAX_CONNECTIONS="3")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["max_connections"] == 3
        # The application's validation applies: a bad value stops it at startup, naming the field.
        (folder / ".env").write_text(f"SHOP_CATALOG_URL={server.url}/\nHTTP_CLIENT_MAX_CONNECTIONS=many\n")
        done = _run(folder)
        assert done.returncode == 1
        assert "validation error" in done.stderr and "HTTP_CLIENT_MAX_CONNECTIONS" in done.stderr

    # A second run changes nothing: the fields are there and the module is what this version renders.
    before = {path: path.read_bytes() for path in folder.rglob("*.py")}
    _fixed(folder)
    assert {path: path.read_bytes() for path in folder.rglob("*.py")} == before


def test_without_the_fields_a_dotenv_line_stops_the_application(tmp_path: Path) -> None:
    """Why the fields are added (see `fix.app_integration`): pydantic-settings forbids unknown
    keys, so the same `.env` line breaks the unfixed application."""
    folder = _copy("pydantic_app", tmp_path)
    (folder / ".env").write_text("HTTP_CLIENT_MAX_CONNECTIONS=7\n")
    code = "from shop.config import get_settings; get_settings()"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=_env(), capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "Extra inputs are not permitted" in done.stderr


# --------------------------------------------------------------------------------------------------
# Django


def test_django_settings_give_the_limits_and_the_environment_the_rest(tmp_path: Path) -> None:
    folder = _copy("django_app", tmp_path)
    _fixed(folder)
    module = (folder / "portal" / "http_client.py").read_text()
    assert "# pool-refactor: settings=django\n" in module
    assert '_APP_SETTINGS = "django.conf:settings"\n' in module
    with LocalServer() as server:
        done = _run(folder, f"{server.url}/", "configured", HTTP_CLIENT_MAX_CONNECTIONS="4")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"answer": "ok", "max_connections": 5, "keepalive_expiry": 2.5}
        assert server.headers_received[-1]["user-agent"] == "portal/1.0"
    # Django not set up (a script, a test without settings): the environment applies.
    done = _run(folder, "", "unconfigured", HTTP_CLIENT_MAX_CONNECTIONS="4")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"answer": "", "max_connections": 4, "keepalive_expiry": 5.0}


# --------------------------------------------------------------------------------------------------
# Prometheus


def test_prometheus_app_exports_the_pool_gauges_at_metrics(tmp_path: Path) -> None:
    folder = _copy("prometheus_app", tmp_path)
    _fixed(folder)
    module = (folder / "shop" / "http_client.py").read_text()
    assert "# pool-refactor: metrics=prometheus prefix=shop_http_client\n" in module
    with LocalServer() as server:
        app = subprocess.Popen(
            [sys.executable, "run.py", f"{server.url}/"],
            cwd=folder,
            env=_env(HTTP_CLIENT_MAX_CONNECTIONS="3"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert app.stdout is not None and app.stdin is not None
            port = int(app.stdout.readline())
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
                text = response.read().decode()
            app.stdin.write("\n")
            app.stdin.close()
            assert app.wait(timeout=60) == 0, app.stderr.read() if app.stderr else ""
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()
        assert server.connections == 1  # three requests, one connection
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    ours = {key: value for key, value in samples.items() if key[0].startswith("shop_http_client_")}
    loop = next(dict(labels)["loop"] for name, labels in ours if name == "shop_http_client_clients")
    client = f"httpx-async[loop={loop}]"
    assert ours == {
        ("shop_http_client_connections_in_use", (("client", client),)): 0.0,
        ("shop_http_client_connections_idle", (("client", client),)): 1.0,
        ("shop_http_client_connections_open", (("client", client),)): 1.0,
        ("shop_http_client_connections_max", (("client", client),)): 3.0,
        ("shop_http_client_connections_waiting", (("client", client),)): 0.0,
        ("shop_http_client_clients", (("loop", loop),)): 1.0,
    }
    assert re.fullmatch(r"0x[0-9a-f]+", loop)
    assert samples["shop_requests_total", ()] == 3.0  # the application's own metrics, beside ours


# --------------------------------------------------------------------------------------------------
# Detection, the header and re-rendering


def _detected(files: dict[str, str]) -> AppIntegration:
    return detect(
        [
            (Path(name), name.removesuffix(".py").replace("/", "."), text.encode())
            for name, text in files.items()
        ]
    ).app


def test_detection_reads_only_what_the_package_uses() -> None:
    settings = (
        "from pydantic_settings import BaseSettings as Base\n"
        "class Settings(Base):\n    pass\n"
        "class Local(Settings):\n    pass\n"
        "settings = Local()\n"
    )
    assert _detected({"app/config.py": settings}) == AppIntegration("pydantic", "app.config:settings")
    accessor = (
        "import pydantic_settings\nclass S(pydantic_settings.BaseSettings): ...\ndef get() -> S:\n    ...\n"
    )
    assert _detected({"app/config.py": accessor}) == AppIntegration("pydantic", "app.config:get()")
    # A class with no object to read it through is not used; a BaseSettings of another library neither.
    assert (
        _detected(
            {"app/config.py": "from pydantic_settings import BaseSettings\nclass S(BaseSettings): ...\n"}
        )
        == NO_APP
    )
    assert (
        _detected({"app/c.py": "from mylib import BaseSettings\nclass S(BaseSettings): ...\ns = S()\n"})
        == NO_APP
    )
    assert _detected({"app/views.py": "from django.conf import settings\n"}) == AppIntegration("django")
    metrics = "from prometheus_client import Counter\nC = Counter('calls', 'x', namespace='billing')\n"
    assert _detected({"app/m.py": metrics}) == AppIntegration(
        metrics="prometheus", metric_prefix="billing_http_client"
    )


@pytest.mark.parametrize(
    ("metrics", "prefix"),
    [
        ([(None, "shop_requests_total"), (None, "shop_latency_seconds")], "shop_http_client"),
        ([("api", "requests_total"), (None, "shop_x")], "api_http_client"),
        ([(None, "shop_requests_total")], "http_client"),  # one name says nothing of a prefix
        ([(None, "http_requests_total"), (None, "http_errors_total")], "http_client"),
        ([(None, "a_x"), (None, "b_x")], "http_client"),
        ([], "http_client"),
    ],
)
def test_metric_prefix(metrics: list[tuple[str | None, str | None]], prefix: str) -> None:
    assert metric_prefix(metrics) == prefix


def test_a_name_the_fields_need_bound_elsewhere_is_refused() -> None:
    text = (
        "from sqlmodel import Field\nfrom pydantic_settings import BaseSettings\n"
        "class Settings(BaseSettings):\n    x: int = Field(default=1)\nsettings = Settings()\n"
    )
    found = SettingsClass(Path("config.py"), "config", "Settings", "settings")
    with pytest.raises(SettingsEditError, match=r"`Field` in config.py is not pydantic.Field"):
        settings_fields_edit(text, found, "HTTP_CLIENT_", pep604=True, module_file="http_client.py")


def test_fields_use_union_where_the_project_runs_on_python_3_9() -> None:
    text = (
        "from pydantic_settings import BaseSettings\n\n\nclass Settings(BaseSettings):\n    name: str = 'x'\n"
    )
    found = SettingsClass(Path("config.py"), "config", "Settings", "settings")
    new = settings_fields_edit(text, found, "APP_HTTP_", pep604=False, module_file="pkg/http_client.py")
    assert new is not None
    assert 'app_http_max_connections: Union[int, Literal["none"], None] = Field(' in new
    assert 'validation_alias="APP_HTTP_MAX_CONNECTIONS",' in new  # no env_prefix: the documented name
    assert "from typing import Literal, Union\n" in new
    fields = [node.target.id for node in ast.walk(ast.parse(new)) if isinstance(node, ast.AnnAssign)]
    assert len(fields) == 12
    assert settings_fields_edit(new, found, "APP_HTTP_", pep604=False, module_file="x") is None
    assert takes_pep604(">=3.10") and not takes_pep604(">=3.9") and not takes_pep604(None)


def test_an_unedited_older_module_gets_the_sections_and_an_edited_one_a_note() -> None:
    app = AppIntegration("pydantic", "shop.config:settings", "prometheus", "shop_http_client")
    old = shared_module.render(["httpx-async"])  # as a version without these sections wrote it
    new = shared_module.plan_update(old, ["httpx-async"], app=app)
    assert new is not None and new == shared_module.render(["httpx-async"], app=app)
    assert shared_module.plan_update(new, ["httpx-async"], app=app) is None
    # A later run that does not find them (a narrower scan) keeps what the header records.
    assert shared_module.plan_update(new, ["httpx-async"]) is None
    assert shared_module.plan_update(new, ["httpx-async", "httpx-sync"]) == shared_module.render(
        ["httpx-async", "httpx-sync"], app=app
    )
    edited = old.replace('"""Shared, pooled', '"""Edited. Shared, pooled', 1)
    assert shared_module.plan_update(edited, ["httpx-async"], app=app) is None
    assert shared_module.app_note(edited, app) == (
        "was edited since pool-refactor generated it, so it is not regenerated and does not read its "
        "limits from the application's settings (shop.config:settings) and does not export its pools "
        "as prometheus metrics (shop_http_client_*); delete it and run `pool-refactor scan --fix` again "
        "to get them, or add them by hand"
    )
    assert shared_module.app_note(new, app) is None and shared_module.app_note(old, NO_APP) is None


def test_without_integrations_the_module_is_what_it_was() -> None:
    """No settings, no metrics: the rendering has neither section and imports neither library."""
    text = shared_module.render(SECTIONS)
    assert "_APP_SETTINGS" not in text and "prometheus" not in text and "settings=" not in text


def test_fix_brings_an_unedited_older_module_up_and_leaves_an_edited_one(tmp_path: Path) -> None:
    """The module an older version wrote (no settings section) is re-rendered with it and the class
    gets its fields; an edited one is left as it is, with a warning saying what it lacks, and then
    the settings class is not edited either (nothing would read the fields)."""
    older = shared_module.render(["httpx-async"])
    folder = _copy("pydantic_app", tmp_path / "unedited")
    (folder / "shop" / "http_client.py").write_text(older)
    _fixed(folder)
    module = (folder / "shop" / "http_client.py").read_text()
    assert "# pool-refactor: settings=pydantic shop.config:get_settings()\n" in module
    assert (folder / "shop" / "config.py").read_text() == (
        FIXTURES / "pydantic_config.expected.py"
    ).read_text()

    folder = _copy("pydantic_app", tmp_path / "edited")
    edited = older.replace('"""Shared, pooled', '"""Ours now. Shared, pooled', 1)
    (folder / "shop" / "http_client.py").write_text(edited)
    output = _fixed(folder)
    assert (folder / "shop" / "http_client.py").read_text() == edited
    assert (folder / "shop" / "config.py").read_text() == (
        FIXTURES / "pydantic_app" / "shop" / "config.py"
    ).read_text()
    assert (
        "shop/http_client.py: was edited since pool-refactor generated it, so it is not regenerated and "
        "does not read its limits from the application's settings (shop.config:get_settings()); delete "
        "it and run `pool-refactor scan --fix` again to get them, or add them by hand"
    ) in output


def test_a_name_too_long_for_the_header_is_left_out_with_a_note() -> None:
    package = "a" * 60
    settings = "from pydantic_settings import BaseSettings\nclass S(BaseSettings): ...\nsettings = S()\n"
    metrics = "from prometheus_client import Counter\nC = Counter('x_total', 'x', namespace='shop')\n"
    found = detect(
        [
            (Path("config.py"), f"{package}.config", settings.encode()),
            (Path("metrics.py"), f"{package}.metrics", metrics.encode()),
        ]
    )
    assert found.app == AppIntegration(metrics="prometheus", metric_prefix="shop_http_client")
    assert found.settings_class is None
    assert found.notes == [
        f"the application's settings are not read: cannot record '# pool-refactor: settings=pydantic "
        f"{package}.config:settings' in the shared module's header"
    ]


def test_the_generated_tests_pass_with_another_environment_prefix(tmp_path: Path) -> None:
    """The fields and the variables follow `env-prefix`: the tests written beside the module set
    the settings by those names."""
    app = AppIntegration("pydantic", "pkg.config:settings", "prometheus", "pkg_http_client")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    module = shared_module.render(SECTIONS, env_prefix="PKG_HTTP_", app=app)
    assert "PKG_HTTP_MAX_CONNECTIONS" in module and "HTTP_CLIENT_" not in module
    (tmp_path / "pkg" / "http_client.py").write_text(module)
    tests = shared_module.render_tests(SECTIONS, "pkg.http_client", env_prefix="PKG_HTTP_", app=app)
    (tmp_path / "test_http_client.py").write_text(tests)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:asyncio",
        "-W",
        "error",
    ]
    done = subprocess.run(
        [*command, "test_http_client.py"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_with_several_settings_classes_an_instance_wins_and_a_note_names_it() -> None:
    head = "from pydantic_settings import BaseSettings\n"
    first = head + "class Other(BaseSettings): ...\ndef get_other() -> Other:\n    return Other()\n"
    second = head + "class Settings(BaseSettings): ...\nsettings = Settings()\n"
    found = detect(
        [
            (Path("app/a.py"), "app.a", first.encode()),
            (Path("app/b.py"), "app.b", second.encode()),
        ]
    )
    assert found.app == AppIntegration("pydantic", "app.b:settings")
    assert found.notes == [
        "the shared module reads its limits from app.b:settings (Settings); the other settings classes "
        "(app.a.Other) are left alone"
    ]

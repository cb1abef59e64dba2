"""Issue 14's case, end to end: a service with a main application, two bridge applications that never
import the rewritten code, and tests that build the bridges through fakes taking no `lifespan`.

`pool-refactor scan --fix` wires the main application only, names each bridge in a note with the
reason, and the service's own test suite (run with pytest in a subprocess) passes before and after.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e import cli

SERVICE = Path(__file__).parent / "fixtures" / "wiring_service"
OWN_TESTS = ("tests/test_bridges.py", "tests/test_main.py")

MAIN_WIRED = '''"""The service: the only application whose requests use the HTTP clients."""

from fastapi import FastAPI

from svc.http_client import lifespan
from svc.users import fetch_user

app = FastAPI(title="svc", lifespan=lifespan)


@app.get("/users/{user_id}")
async def user(user_id: str) -> dict[str, object]:
    return await fetch_user(user_id)
'''

LEFT_ALONE = (
    "svc/bridges.py: `{name} = {kind}(...)` (line {line}) was left alone: nothing `bridges.py` imports, "
    "directly or through other modules of the project, reaches the code that uses the shared HTTP "
    "clients (`svc.http_client`), and it is not a declared entry point (`[project.scripts]`, a "
    "uvicorn/gunicorn target in the project's configuration, Dockerfile or Procfile), so closing the "
    "clients at its shutdown could close them under another application of the same process. If its "
    "requests do use them, close them at its shutdown by hand with `await aclose_http_clients()` from "
    "`svc.http_client`."
)


def _service_tests(folder: Path, *paths: str) -> str:
    """Run the service's tests (these files, or its whole suite) with pytest; they must pass."""
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::ResourceWarning",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *paths,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_only_the_main_application_is_wired_and_the_service_tests_pass_before_and_after(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "service"
    shutil.copytree(SERVICE, folder)
    bridges = (folder / "svc" / "bridges.py").read_bytes()
    assert "3 passed" in _service_tests(folder, *OWN_TESTS)

    done = cli(folder, "--fix")

    assert done.returncode == 0, done.stdout + done.stderr
    assert (folder / "svc" / "main.py").read_text(encoding="utf-8") == MAIN_WIRED
    assert (folder / "svc" / "bridges.py").read_bytes() == bridges
    lines = (done.stdout + done.stderr).splitlines()
    assert LEFT_ALONE.format(name="bridge", kind="FastAPI", line=8) in lines
    assert LEFT_ALONE.format(name="metrics", kind="Starlette", line=18) in lines
    assert "3 passed" in _service_tests(folder, *OWN_TESTS)
    _service_tests(folder)  # with the test that the generated module ships with, if any

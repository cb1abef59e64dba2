"""What keeps `--diff` on a large package small in memory (issue 16): the scan and the wiring parse
a long file in parts (`scan.parts.parse_in_parts`, the same tree as `ast.parse`); the wiring gives
the parsers' freed memory back (`toplevel.release_parser_memory`) and resolves the package's files
folder by folder (`fixing._package_files`)."""

from __future__ import annotations

import ast
import gc
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from codemods import toplevel
from codemods.toplevel import TRIM_FROM_CHARS
from pool_refactor.fix import wiring
from pool_refactor.fix.placement import ModuleTarget
from pool_refactor.fix.wiring import WiringEdit, plan_wiring
from pool_refactor.fix.wiring.excerpt import parse_in_parts
from pool_refactor.fix.wiring.texts import PackageTexts
from pool_refactor.paths import DiscoveredFile
from pool_refactor.plan import analyze
from pool_refactor.run import fixing
from pool_refactor.scan.findings import FileScan
from pool_refactor.scan.parts import PART_CHARS
from pool_refactor.scan.source import Source, decode_source, read_source
from tests.wiring_support import every_module_declared

SQL = 'QUERY = """\nSELECT a\nFROM t\nWHERE b = 1\n"""\n'
DECORATED = "@app.get(\n    '/x',\n)\nasync def x():\n    return 1\n\n\n@d\nclass C:\n    pass\n"
BLOCKS = "if a:\n    b = 1\nelse:\n    b = 2\ntry:\n    c()\nexcept E:\n    pass\nfinally:\n    d()\n"
BODY = (
    "def f{i}(x):\n    '''doc\nat column 0\n'''\n    return (x +\n        {i})\n"
    "\n\nv{i} = f{i}(1); w{i} = 2\n"
)


def _module(parts: int) -> str:
    chunks = ['"""A module."""\nfrom __future__ import annotations\n\nimport os\n']
    for i in range(parts):
        chunks.append(BODY.format(i=i))
        chunks.append((SQL, DECORATED, BLOCKS, "x = 1 + \\\n2\n")[i % 4])
    return "".join(chunks)


def _dump(tree: ast.Module) -> str:
    return ast.dump(tree, include_attributes=True)


@pytest.mark.parametrize("part_chars", [1, 7, 40, 200, 10_000])
def test_parts_give_the_tree_of_the_whole_text(part_chars: int) -> None:
    text = _module(40)
    assert _dump(parse_in_parts(text, part_chars)) == _dump(ast.parse(text))


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, the length of each text `ast.parse` is given (leading blank lines aside)."""
    parsed: list[int] = []
    original = ast.parse

    def counting(source: str, filename: str = "<unknown>") -> ast.Module:
        parsed.append(len(source.lstrip("\n")))
        return original(source, filename=filename)

    monkeypatch.setattr(ast, "parse", counting)
    return parsed


def test_a_long_text_is_parsed_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _count_parses(monkeypatch)
    text = _module(40)
    parse_in_parts(text, 200)
    assert len(parsed) > 10
    assert max(parsed) < len(text) / 4, "no part was the whole text"


@pytest.mark.parametrize(
    "text",
    [
        _module(40).replace("import os\n", "import os\r\n"),  # a carriage return: lines counted otherwise
        _module(40) + "from __future__ import division\n",  # an error in the whole text, not in a part
        "from __future__ import barry_as_FLUFL\n" + _module(40),  # changes what later parts mean
        _module(40) + "def broken(:\n",
    ],
)
def test_texts_whose_parts_could_mislead_are_parsed_whole(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        expected: str | None = _dump(ast.parse(text))
    except SyntaxError as error:
        expected = f"SyntaxError: {error.msg}"
    try:
        got: str | None = _dump(parse_in_parts(text, 200))
    except SyntaxError as error:
        got = f"SyntaxError: {error.msg}"
    assert got == expected


def test_release_parser_memory_only_for_long_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(toplevel, "_trim", [calls.append])
    toplevel.release_parser_memory(toplevel.TRIM_FROM_CHARS - 1)
    assert calls == []
    toplevel.release_parser_memory(toplevel.TRIM_FROM_CHARS)
    assert calls == [0]


def test_release_parser_memory_runs_where_there_is_no_malloc_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toplevel, "_trim", [])
    monkeypatch.setattr(sys, "platform", "darwin")
    toplevel.release_parser_memory(toplevel.TRIM_FROM_CHARS)
    assert toplevel._trim == [None]


def test_package_files_resolve_as_path_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folders resolved once, a symlinked folder and a symlinked file included: the same paths as
    `Path.resolve()` of each file, and only the files inside the package."""
    (tmp_path / "shop" / "api").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "other").mkdir()
    for rel in ("shop/__init__.py", "shop/api/app.py", "elsewhere/real.py", "other/x.py"):
        (tmp_path / rel).write_text("")
    os.symlink(tmp_path / "shop" / "api", tmp_path / "linked")
    os.symlink(tmp_path / "elsewhere" / "real.py", tmp_path / "shop" / "link.py")
    os.symlink(tmp_path / "other" / "x.py", tmp_path / "shop" / "api" / "out.py")
    monkeypatch.chdir(tmp_path)
    rels = ["shop/__init__.py", "shop/api/app.py", "linked/app.py", "shop/link.py", "shop/api/out.py"]
    rels.append("other/x.py")
    files = [DiscoveredFile(Path(rel), rel) for rel in rels]
    work = fixing._TargetWork(ModuleTarget(tmp_path / "shop" / "http_client.py", "shop.http_client"))
    found = fixing._package_files(work, files)
    expected = [(f, f.path.resolve()) for f in files if f.path.resolve().is_relative_to(tmp_path / "shop")]
    assert found == expected
    assert [f.display for f, _ in found] == ["shop/__init__.py", "shop/api/app.py", "linked/app.py"]


MAIN = "from fastapi import FastAPI\n\nfrom svc import views\n\napp = FastAPI()\n"
WIRED = (
    "from fastapi import FastAPI\n\nfrom svc import views\nfrom svc.http_client import lifespan\n\n"
    "app = FastAPI(lifespan=lifespan)\n"
)
VIEWS = (
    "import httpx\n\n\n"
    "async def ping() -> int:\n"
    "    async with httpx.AsyncClient() as c:\n"
    "        return (await c.get('https://example.com/ping')).status_code\n"
)


def _service(root: Path) -> Path:
    """A package whose application file has no client site: the wiring edits a file of its own."""
    (root / "svc").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "svc"\nversion = "0"\n')
    (root / "svc" / "__init__.py").write_text("")
    (root / "svc" / "main.py").write_text(MAIN)
    (root / "svc" / "views.py").write_text(VIEWS)
    return root


def _fix(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    from typer.testing import CliRunner

    from pool_refactor.cli import app

    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["scan", "--no-cache", "--jobs", "1", "--fix", "."])
    return result.exit_code, result.output


def test_the_wired_file_is_written_from_what_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _service(tmp_path)
    code, output = _fix(root, monkeypatch)
    assert code == 0, output
    assert (root / "svc" / "main.py").read_text() == WIRED


def test_a_wired_file_that_changed_meanwhile_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the texts are kept while wiring; the file edited is read again, and must still be what
    the wiring planned on."""
    root = _service(tmp_path)
    real = plan_wiring

    def edit_while_planning(*args: object, **kwargs: object) -> object:
        planned = real(*args, **kwargs)  # type: ignore[arg-type]
        (root / "svc" / "main.py").write_text(MAIN + "# edited meanwhile\n")
        return planned

    monkeypatch.setattr(fixing, "plan_wiring", edit_while_planning)
    code, output = _fix(root, monkeypatch)
    assert code != 0
    assert "lifecycle wiring not written: the file changed while it was being fixed" in output
    assert (root / "svc" / "main.py").read_text() == MAIN + "# edited meanwhile\n"


CLIENT = (
    "import httpx\n\n\ndef fetch(url):\n"
    "    with httpx.Client() as client:\n        return client.get(url)\n\n\n"
)
FILLING = "".join(BODY.format(i=i) for i in range(2 * PART_CHARS // len(BODY) + 1))


def _scan_whole(text: str, monkeypatch: pytest.MonkeyPatch) -> FileScan:
    with monkeypatch.context() as patch:
        patch.setattr(analyze, "parse_in_parts", lambda text, filename: ast.parse(text, filename=filename))
        return analyze.scan_loaded(decode_source(text.encode()), "long.py")


def test_the_scan_reads_a_long_module_in_parts_and_finds_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    long = CLIENT + FILLING + CLIENT.replace("fetch", "fetch_again")
    assert len(long) >= 2 * PART_CHARS
    expected = _scan_whole(long, monkeypatch)
    parsed = _count_parses(monkeypatch)
    got = analyze.scan_loaded(decode_source(long.encode()), "long.py")
    assert len(parsed) > 1 and max(parsed) < len(long), "parsed in parts"
    assert got == expected
    assert [f.line for f in got.findings] == [5, long.count("\n") - 3]


def test_a_syntax_error_in_a_long_module_is_reported_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    long = CLIENT + FILLING + "def broken(:\n"
    got = analyze.scan_loaded(decode_source(long.encode()), "long.py")
    assert got == _scan_whole(long, monkeypatch)
    assert got.error == f"syntax error (line {long.count(chr(10))}): invalid syntax"


def _alive(kind: type) -> int:
    return sum(1 for item in gc.get_objects() if type(item) is kind)


def test_the_wiring_lets_the_texts_go_before_it_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given an iterable, the wiring alone holds the package's texts (`PackageTexts`): they, the
    planner and its trees are freed, by their count of references, before the memory is given back
    and the caller reads the edited files again."""
    seen: list[tuple[int, int, int]] = []

    def spy(length: int) -> None:
        seen.append((length, _alive(PackageTexts), _alive(wiring._Planner)))

    monkeypatch.setattr(wiring, "release_parser_memory", spy)
    files = {"svc/__init__.py": "", "svc/main.py": MAIN, "svc/views.py": VIEWS}
    gc.collect()
    gc.disable()
    try:
        edits, _notes = plan_wiring(
            ((Path(rel), text) for rel, text in files.items()),
            "svc.http_client",
            {"httpx-async"},
            True,
            False,
            project_root=every_module_declared(files),
        )
    finally:
        gc.enable()
    assert [edit.new_text for edit in edits] == [WIRED]
    assert seen[-1] == (TRIM_FROM_CHARS, 0, 0)
    assert any(texts or planners for _length, texts, planners in seen), "alive while the wiring runs"


def test_each_wired_files_text_as_read_goes_once_it_is_compared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _service(tmp_path)
    (root / "svc" / "admin.py").write_text(MAIN)
    alive: dict[str, int] = {}
    real = read_source

    def spy(path: Path, *args: Any) -> Source:
        if path.name in ("main.py", "admin.py"):
            alive[path.name] = _alive(WiringEdit)  # the last read is the one after the wiring
        return real(path, *args)

    monkeypatch.setattr(fixing, "read_source", spy)
    gc.collect()
    gc.disable()
    try:
        code, output = _fix(root, monkeypatch)
    finally:
        gc.enable()
    assert code == 0, output
    assert (root / "svc" / "main.py").read_text() == WIRED
    assert (root / "svc" / "admin.py").read_text() == WIRED
    assert alive == {"admin.py": 2, "main.py": 1}  # the first edit's texts are gone when the second is read

"""Configuration discovery and validation, on real folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from pool_refactor.run.config import DEFAULT_EXCLUDES, Config, ConfigError, load_config

try:
    from fs_helpers import make_tree
except ModuleNotFoundError:  # tests/ imported as a package
    from tests.fs_helpers import make_tree


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages name files relative to the working directory; make that the test's folder."""
    monkeypatch.chdir(tmp_path)


def test_defaults_without_any_configuration(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    config = load_config(tmp_path / "src")
    assert config == Config(project_root=tmp_path / "src", config_file=None)
    assert config.exclude == DEFAULT_EXCLUDES
    assert config.extend_exclude == ()
    assert config.respect_gitignore is True
    assert config.env_prefix == "HTTP_CLIENT_"
    assert config.cache_dir == ".pool_refactor_cache"
    assert config.jobs is None and config.shared_module is None and config.unsafe_fixes is False


def test_default_excludes_cover_the_usual_folders() -> None:
    for name in (".git", ".venv", "venv", "node_modules", "build", "dist", "__pycache__", "site-packages",
                 ".mypy_cache", ".ruff_cache", ".pytest_cache", ".tox", ".nox", ".eggs", "*.egg-info",
                 ".pool_refactor_cache", ".hg", ".svn"):
        assert name in DEFAULT_EXCLUDES


def test_nearest_pyproject_with_our_table_from_a_subfolder(tmp_path: Path) -> None:
    make_tree(tmp_path, {
        "pyproject.toml": '[tool.pool-refactor]\nextend-exclude = ["tests/fixtures"]\n',
        "src/app/": None,
    })
    config = load_config(tmp_path / "src" / "app")
    assert config.project_root == tmp_path
    assert config.config_file == tmp_path / "pyproject.toml"
    assert config.extend_exclude == ("tests/fixtures",)
    assert config.exclude == DEFAULT_EXCLUDES


def test_pyproject_without_our_table_is_passed_over(tmp_path: Path) -> None:
    make_tree(tmp_path, {
        "pyproject.toml": '[tool.pool-refactor]\nenv-prefix = "OUTER_"\n',
        "packages/a/pyproject.toml": '[project]\nname = "a"\n[tool.ruff]\nline-length = 100\n',
    })
    config = load_config(tmp_path / "packages" / "a")
    assert config.project_root == tmp_path
    assert config.env_prefix == "OUTER_"


def test_plain_pyproject_still_marks_the_project_root(tmp_path: Path) -> None:
    make_tree(tmp_path, {"proj/pyproject.toml": '[project]\nname = "p"\n', "proj/src/pkg/": None})
    config = load_config(tmp_path / "proj" / "src" / "pkg")
    assert config.project_root == tmp_path / "proj"
    assert config.config_file is None
    assert config.exclude == DEFAULT_EXCLUDES


def test_dedicated_files_take_precedence_in_the_same_folder(tmp_path: Path) -> None:
    make_tree(tmp_path, {
        "pyproject.toml": '[tool.pool-refactor]\nenv-prefix = "FROM_PYPROJECT_"\n',
        "pool-refactor.toml": 'env-prefix = "FROM_DEDICATED_"\n',
    })
    config = load_config(tmp_path)
    assert config.config_file == tmp_path / "pool-refactor.toml"
    assert config.env_prefix == "FROM_DEDICATED_"
    (tmp_path / ".pool-refactor.toml").write_text('env-prefix = "HIDDEN_"\n')
    assert load_config(tmp_path).env_prefix == "HIDDEN_"


def test_an_empty_dedicated_file_marks_the_root(tmp_path: Path) -> None:
    make_tree(tmp_path, {"pyproject.toml": '[tool.pool-refactor]\njobs = 3\n', "sub/pool-refactor.toml": ""})
    config = load_config(tmp_path / "sub")
    assert config.project_root == tmp_path / "sub"
    assert config.jobs is None


def test_start_may_be_a_file(tmp_path: Path) -> None:
    make_tree(tmp_path, {"pool-refactor.toml": "jobs = 2\n", "a/b.py": "x = 1\n"})
    assert load_config(tmp_path / "a" / "b.py").jobs == 2


def test_every_key_in_kebab_case(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pool-refactor]\n"
        'exclude = ["vendored", "*.gen.py"]\n'
        'extend-exclude = ["tests/fixtures"]\n'
        "respect-gitignore = false\n"
        'shared-module = "src/app/./http_client.py"\n'
        'env-prefix = "MYAPP_HTTP_"\n'
        'select = ["pool1", "POOL002"]\n'
        'ignore = ["POOL9"]\n'
        "unsafe-fixes = true\n"
        'output-format = "JSON"\n'
        'baseline = "pooling-baseline.json"\n'
        'cache-dir = ".cache/pool"\n'
        "jobs = 4\n"
    )
    config = load_config(tmp_path)
    assert config == Config(
        project_root=tmp_path,
        config_file=tmp_path / "pyproject.toml",
        exclude=("vendored", "*.gen.py"),
        extend_exclude=("tests/fixtures",),
        respect_gitignore=False,
        shared_module="src/app/http_client.py",
        env_prefix="MYAPP_HTTP_",
        select=("POOL1", "POOL002"),
        ignore=("POOL9",),
        unsafe_fixes=True,
        output_format="json",
        baseline="pooling-baseline.json",
        cache_dir=".cache/pool",
        jobs=4,
    )


def test_exclude_set_to_empty_list_replaces_defaults(tmp_path: Path) -> None:
    (tmp_path / "pool-refactor.toml").write_text("exclude = []\n")
    assert load_config(tmp_path).exclude == ()


def _error(tmp_path: Path, text: str, name: str = "pyproject.toml") -> str:
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    return str(caught.value)


def test_wrong_type_names_file_key_and_value(tmp_path: Path) -> None:
    message = _error(tmp_path, '[tool.pool-refactor]\nextend-exclude = "tests"\n')
    assert message == (
        "pyproject.toml: [tool.pool-refactor] extend-exclude must be a list of strings, got 'tests'"
    )


def test_wrong_type_in_a_dedicated_file(tmp_path: Path) -> None:
    message = _error(tmp_path, "respect-gitignore = 1\n", "pool-refactor.toml")
    assert message == "pool-refactor.toml: respect-gitignore must be true or false, got 1"


def test_messages_name_the_file_relative_to_the_working_directory(tmp_path: Path) -> None:
    make_tree(tmp_path, {"proj/pyproject.toml": "[tool.pool-refactor]\njobs = 0\n", "proj/src/": None})
    with pytest.raises(ConfigError, match=r"^proj/pyproject.toml: \[tool.pool-refactor\] jobs must be"):
        load_config(tmp_path / "proj" / "src")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("jobs = true", "jobs must be a whole number of at least 1, got true"),
        ("jobs = 0", "jobs must be a whole number of at least 1, got 0"),
        ('jobs = "4"', "jobs must be a whole number of at least 1, got '4'"),
        ('select = "POOL1"', "select must be a list of strings, got 'POOL1'"),
        ('select = ["POOL 1"]', "select must be a list of rule codes or code prefixes"),
        ("unsafe-fixes = 'yes'", "unsafe-fixes must be true or false, got 'yes'"),
        ('output-format = "xml"', "output-format must be one of 'table', 'concise', 'markdown', 'json'"),
        ('shared-module = "/abs/http_client.py"', "shared-module must be a relative path to a .py file"),
        ('shared-module = "../out/http_client.py"', "shared-module must be a relative path to a .py file"),
        ('shared-module = "app/http_client"', "shared-module must be a relative path to a .py file"),
        ('env-prefix = "MY-APP"', "env-prefix must be an environment variable prefix"),
        ('env-prefix = ""', "env-prefix must be an environment variable prefix"),
        ('cache-dir = ""', "cache-dir must be a non-empty string, got ''"),
        ("baseline = 3", "baseline must be a string, got 3"),
        ("exclude = [1, 2]", "exclude must be a list of strings, got [1, 2]"),
        ("exclude = {a = 1}", "exclude must be a list of strings, got a table"),
    ],
)
def test_bad_values(tmp_path: Path, line: str, expected: str) -> None:
    message = _error(tmp_path, f"[tool.pool-refactor]\n{line}\n")
    assert message.startswith("pyproject.toml: [tool.pool-refactor] " + expected), message


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = _error(tmp_path, '[tool.pool-refactor]\nexlude = ["x"]\n')
    assert message.startswith(
        "pyproject.toml: [tool.pool-refactor] unknown key 'exlude' (did you mean 'exclude'?)"
    )
    assert "known keys: baseline, cache-dir" in message


def test_snake_case_key_is_explained(tmp_path: Path) -> None:
    message = _error(tmp_path, '[tool.pool-refactor]\nextend_exclude = ["x"]\n')
    assert "unknown key 'extend_exclude' (did you mean 'extend-exclude'? keys use dashes)" in message


def test_invalid_toml_names_the_file_and_position(tmp_path: Path) -> None:
    message = _error(tmp_path, "[tool.pool-refactor]\nexclude = [1,,]\n")
    assert message.startswith("pyproject.toml: invalid TOML: ")
    assert "(at line 2, column" in message


def test_invalid_toml_in_a_dedicated_file(tmp_path: Path) -> None:
    message = _error(tmp_path, "jobs = = 2\n", ".pool-refactor.toml")
    assert message.startswith(".pool-refactor.toml: invalid TOML")


def test_table_that_is_not_a_table(tmp_path: Path) -> None:
    message = _error(tmp_path, '[tool]\n"pool-refactor" = 3\n')
    assert message == "pyproject.toml: [tool.pool-refactor] must be a table, got 3"


def test_invalid_pattern_is_reported_at_load_time(tmp_path: Path) -> None:
    message = _error(tmp_path, '[tool.pool-refactor]\nextend-exclude = ["ok", "!"]\n')
    assert message.startswith(
        "pyproject.toml: [tool.pool-refactor] extend-exclude has an invalid gitignore-style pattern '!'"
    )


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.pool-refactor]\nenv-prefix = '\xff'\n")
    with pytest.raises(ConfigError, match=r"^pyproject.toml: invalid TOML: not valid UTF-8 at byte 35"):
        load_config(tmp_path)


def test_config_error_is_a_plain_exception() -> None:
    assert issubclass(ConfigError, Exception)

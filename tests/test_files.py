"""File discovery on real folders: excludes, .gitignore, symbolic links, bad paths, speed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from pool_refactor.paths import DiscoveredFile, display_path
from pool_refactor.run.config import Config, ConfigError, load_config
from pool_refactor.run.files import DiscoveryError, discover

try:
    from fs_helpers import make_tree, public_tmp, run_unprivileged
except ModuleNotFoundError:  # tests/ imported as a package
    from tests.fs_helpers import make_tree, public_tmp, run_unprivileged


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder that is also the working directory, as when a user runs the tool in it."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return project


def scan(
    paths: Sequence[str | Path] = (".",),
    config: Config | None = None,
    exclude: Sequence[str] = (),
    skipped: list[tuple[str, str]] | None = None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Displays of the files found, and (path, message) of the errors, in discovery order."""
    if config is None:
        config = load_config(Path.cwd())
    on_skip = None if skipped is None else (lambda path, reason: skipped.append((path, reason)))
    found: list[str] = []
    errors: list[tuple[str, str]] = []
    for item in discover([Path(p) for p in paths], config, exclude, on_skip=on_skip):
        if isinstance(item, DiscoveredFile):
            found.append(item.display)
        else:
            assert isinstance(item, DiscoveryError)
            errors.append((item.path, item.message))
    return found, errors


def files(*args: object, **kwargs: object) -> list[str]:
    found, errors = scan(*args, **kwargs)  # type: ignore[arg-type]
    assert errors == []
    return found


# --- basics -----------------------------------------------------------------------------------------


def test_walks_python_files_in_sorted_order(root: Path) -> None:
    make_tree(root, {
        "b.py": "", "a.py": "", "pkg/z.py": "", "pkg/__init__.py": "", "pkg/sub/m.py": "",
        "stub.pyi": "", "notes.txt": "", "script": "", "pkg/data.json": "",
    })
    assert files() == ["a.py", "b.py", "pkg/__init__.py", "pkg/sub/m.py", "pkg/z.py"]
    assert files() == files()  # deterministic


def test_paths_are_joined_from_what_the_user_gave(root: Path) -> None:
    make_tree(root, {"src/app/x.py": ""})
    (item,) = discover([Path("src")], load_config(root))
    assert item == DiscoveredFile("src/app/x.py", "src/app/x.py")
    assert item.path == Path("src/app/x.py")
    (item,) = discover([root / "src"], load_config(root))
    assert item == DiscoveredFile(str(root / "src/app/x.py"), "src/app/x.py")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (".", ["a.py", "pkg/b.py"]),
        ("./", ["a.py", "pkg/b.py"]),
        ("./pkg/", ["pkg/b.py"]),
        ("pkg//", ["pkg/b.py"]),
        ("./pkg/./", ["pkg/b.py"]),
        ("pkg/b.py", ["pkg/b.py"]),
        ("./pkg/b.py", ["pkg/b.py"]),
    ],
)
def test_paths_given_are_spelt_as_a_path_would_spell_them(
    root: Path, given: str, expected: list[str]
) -> None:
    """Names are joined as strings (no `Path` per file), yet come out as `Path` would normalise them:
    the cache is keyed by them and the fix writes to them."""
    make_tree(root, {"a.py": "", "pkg/b.py": ""})
    for spelt in (given, Path(given)):  # the CLI gives `Path`s; a caller of the API may give strings
        found = list(discover([spelt], load_config(root)))  # type: ignore[list-item]
        assert [item.given for item in found] == expected
        assert [str(item.path) for item in found] == expected


def test_display_is_relative_to_the_working_directory(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(root, {"src/app/x.py": "", "other/y.py": ""})
    monkeypatch.chdir(root / "src")
    found = files([".", "../other"], load_config(root))
    assert found == ["app/x.py", (root / "other/y.py").as_posix()]
    assert display_path(Path("app/../app/x.py")) == "app/x.py"
    assert display_path(root / "src") == "."


def test_paths_given_twice_are_scanned_once(root: Path) -> None:
    make_tree(root, {"pkg/a.py": "", "pkg/sub/b.py": ""})
    assert files(["pkg", "./pkg", "pkg/sub", "pkg/a.py", str(root / "pkg")]) == ["pkg/a.py", "pkg/sub/b.py"]
    assert files(["pkg/sub", "pkg"]) == ["pkg/sub/b.py", "pkg/a.py"]


# --- default excludes and virtual environments ------------------------------------------------------


def test_default_excludes_at_any_depth(root: Path) -> None:
    make_tree(root, {
        "app.py": "",
        ".venv/lib/site.py": "", "venv/x.py": "", "node_modules/pkg/x.py": "", "build/lib/app.py": "",
        "dist/x.py": "", "pkg/__pycache__/x.py": "", "pkg/thing.egg-info/x.py": "", ".git/hooks/x.py": "",
        "deep/er/.tox/py311/x.py": "", "lib/site-packages/httpx/_client.py": "", ".mypy_cache/x.py": "",
        ".pool_refactor_cache/x.py": "", "pkg/builder.py": "", "pkg/build_tools/x.py": "",
    })
    assert files() == ["app.py", "pkg/build_tools/x.py", "pkg/builder.py"]


def test_a_folder_with_pyvenv_cfg_is_a_virtual_environment(root: Path) -> None:
    make_tree(root, {
        "app.py": "", "my-odd-env/pyvenv.cfg": "home = /usr/bin\n", "my-odd-env/lib/x.py": "",
        "conda/conda-meta/": None, "conda/lib/y.py": "", "env/real_package.py": "",
    })
    skipped: list[tuple[str, str]] = []
    assert files(skipped=skipped) == ["app.py", "env/real_package.py"]
    assert ("my-odd-env", "virtual environment (pyvenv.cfg)") in skipped
    assert ("conda", "virtual environment (conda-meta)") in skipped


def test_a_virtual_environment_named_explicitly_is_walked(root: Path) -> None:
    make_tree(root, {"my-env/pyvenv.cfg": "", "my-env/lib/x.py": "", ".venv/y.py": ""})
    assert files(["my-env", ".venv"]) == ["my-env/lib/x.py", ".venv/y.py"]


def test_config_exclude_replaces_defaults(root: Path) -> None:
    make_tree(root, {
        "pyproject.toml": '[tool.pool-refactor]\nexclude = ["legacy"]\n',
        "build/x.py": "", "legacy/y.py": "", "src/legacy/z.py": "", "src/ok.py": "",
    })
    assert files() == ["build/x.py", "src/ok.py"]


def test_extend_exclude_is_anchored_at_the_project_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(root, {
        "pyproject.toml": '[tool.pool-refactor]\nextend-exclude = ["tests/fixtures", "*_pb2.py"]\n',
        "tests/fixtures/bad.py": "", "tests/test_x.py": "", "src/tests/fixtures/kept.py": "",
        "src/api_pb2.py": "", "node_modules/x.py": "",
    })
    assert files() == ["src/tests/fixtures/kept.py", "tests/test_x.py"]
    monkeypatch.chdir(root / "tests")  # the anchor is the config's folder, not the working directory
    assert files(["."], load_config(Path.cwd())) == ["test_x.py"]


# --- --exclude --------------------------------------------------------------------------------------


def test_exclude_argument_without_slash_matches_at_any_depth(root: Path) -> None:
    make_tree(root, {"a/generated/x.py": "", "generated/y.py": "", "a/z_gen.py": "", "keep.py": ""})
    assert files(exclude=["generated", "*_gen.py"]) == ["keep.py"]


def test_exclude_argument_with_slash_is_anchored_at_the_working_directory(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(root, {"pyproject.toml": "", "src/legacy/x.py": "", "src/app/legacy/y.py": "", "src/ok.py": ""})
    config = load_config(root)
    assert files(["."], config, exclude=["src/legacy"]) == ["src/app/legacy/y.py", "src/ok.py"]
    monkeypatch.chdir(root / "src")
    assert files(["."], config, exclude=["legacy/"]) == ["ok.py"]  # trailing slash only: still floating
    assert files(["."], config, exclude=["/legacy"]) == ["app/legacy/y.py", "ok.py"]


def test_exclude_argument_outside_the_working_directory_uses_floating_patterns(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(root, {"elsewhere/gen/x.py": "", "elsewhere/a/b.py": "", "cwd/": None})
    monkeypatch.chdir(root / "cwd")
    found = files([root / "elsewhere"], load_config(root), exclude=["gen", "elsewhere/a"])
    assert found == [(root / "elsewhere/a/b.py").as_posix()]


def test_exclude_argument_can_bring_back_a_default_exclude(root: Path) -> None:
    make_tree(root, {"build/gen.py": "", "build/sub/x.py": "", "a.py": ""})
    assert files(exclude=["!build"]) == ["a.py", "build/gen.py", "build/sub/x.py"]


def test_invalid_exclude_argument_is_a_config_error(root: Path) -> None:
    with pytest.raises(ConfigError, match=r"--exclude '!' is not a valid gitignore-style pattern"):
        discover([Path(".")], load_config(root), ["!"])


# --- .gitignore -------------------------------------------------------------------------------------


def test_gitignore_nested_and_negated(root: Path) -> None:
    make_tree(root, {
        ".git/": None,
        ".gitignore": "*_gen.py\nsecret/\n/local.py\n",
        "a_gen.py": "", "local.py": "", "app.py": "",
        "secret/x.py": "",
        "pkg/local.py": "",  # /local.py is anchored at the root
        "pkg/b_gen.py": "",
        "pkg/.gitignore": "!keep_gen.py\ntmp*.py\n",
        "pkg/keep_gen.py": "", "pkg/tmp1.py": "",
        "other/tmp2.py": "",  # the nested .gitignore only applies to its own folder
    })
    assert files() == ["app.py", "other/tmp2.py", "pkg/keep_gen.py", "pkg/local.py"]


def test_negation_cannot_reach_into_an_ignored_folder(root: Path) -> None:
    make_tree(root, {".gitignore": "out/\n!out/keep.py\n", "out/keep.py": "", "x.py": ""})
    assert files() == ["x.py"]  # as in git


def test_negation_within_one_gitignore(root: Path) -> None:
    make_tree(root, {".gitignore": "*.py\n!keep.py\n", "keep.py": "", "drop.py": "", "sub/keep.py": ""})
    assert files() == ["keep.py", "sub/keep.py"]


def test_git_info_exclude(root: Path) -> None:
    make_tree(root, {".git/info/exclude": "# local\nscratch.py\n", "scratch.py": "", "sub/scratch.py": "",
                     "a.py": ""})
    assert files() == ["a.py"]


def test_gitignore_of_parent_folders_applies_when_scanning_a_subfolder(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(root, {
        ".git/": None, ".gitignore": "generated/\n", "src/.gitignore": "*_tmp.py\n",
        "src/pkg/generated/x.py": "", "src/pkg/a_tmp.py": "", "src/pkg/ok.py": "",
    })
    assert files(["src/pkg"]) == ["src/pkg/ok.py"]
    monkeypatch.chdir(root / "src" / "pkg")
    assert files(["."]) == ["ok.py"]


def test_gitignore_is_read_without_a_repository_from_the_project_root(root: Path) -> None:
    make_tree(root, {"pyproject.toml": "", ".gitignore": "ignored/\n", "ignored/x.py": "", "sub/y.py": ""})
    assert files(["sub", "."]) == ["sub/y.py"]


def test_a_nested_repository_starts_afresh(root: Path) -> None:
    make_tree(root, {
        ".git/": None, ".gitignore": "*_gen.py\n", "a_gen.py": "",
        "vendor/lib/.git/": None, "vendor/lib/b_gen.py": "", "vendor/lib/.gitignore": "c.py\n",
        "vendor/lib/c.py": "",
    })
    assert files() == ["vendor/lib/b_gen.py"]


def test_respect_gitignore_off(root: Path) -> None:
    make_tree(root, {".gitignore": "*_gen.py\n", "a_gen.py": "", "node_modules/x.py": ""})
    config = load_config(root)._replace(respect_gitignore=False)
    assert files(["."], config) == ["a_gen.py"]


def test_gitignore_with_invalid_lines_and_crlf(root: Path) -> None:
    make_tree(root, {".gitignore": b"!\r\n\\\r\n# comment\r\n\r\nbad.py\r\n", "bad.py": "", "good.py": ""})
    assert files() == ["good.py"]


# --- explicit paths ---------------------------------------------------------------------------------


def test_a_file_named_explicitly_is_always_scanned(root: Path) -> None:
    make_tree(root, {
        "pyproject.toml": '[tool.pool-refactor]\nextend-exclude = ["skip.py"]\n',
        ".gitignore": "ignored.py\n", "skip.py": "", "ignored.py": "", "script": "#!/usr/bin/env python\n",
        ".venv/lib/x.py": "", "stub.pyi": "",
    })
    explicit = ["skip.py", "ignored.py", "script", ".venv/lib/x.py", "stub.pyi"]
    assert files(explicit, exclude=["script"]) == explicit
    assert files() == []


def test_a_folder_named_explicitly_inside_an_excluded_one_is_walked(root: Path) -> None:
    make_tree(root, {
        ".gitignore": "out/\n", "build/lib/app.py": "", "build/lib/__pycache__/x.py": "",
        "out/gen/y.py": "", "out/gen/z_tmp.py": "",
    })
    assert files(["build/lib", "out/gen"], exclude=["*_tmp.py"]) == ["build/lib/app.py", "out/gen/y.py"]


def test_a_missing_path_is_an_error(root: Path) -> None:
    make_tree(root, {"a.py": "", "file.py": ""})
    found, errors = scan(["missing.py", "a.py", "missing_dir", "file.py/x.py"])
    assert found == ["a.py"]
    assert errors == [
        ("missing.py", "does not exist"),
        ("missing_dir", "does not exist"),
        ("file.py/x.py", "does not exist"),
    ]


def test_folder_named_like_a_python_file(root: Path) -> None:
    make_tree(root, {"weird.py/inner.py": "", "pkg/also.py/deep.py": ""})
    assert files() == ["pkg/also.py/deep.py", "weird.py/inner.py"]
    assert files(["weird.py"]) == ["weird.py/inner.py"]


def test_special_files(root: Path) -> None:
    os.mkfifo(root / "pipe.py")
    make_tree(root, {"a.py": ""})
    assert scan() == (["a.py"], [])
    assert scan(["pipe.py"]) == ([], [("pipe.py", "is not a regular file")])


# --- symbolic links ---------------------------------------------------------------------------------


def test_link_to_a_file_inside_is_scanned_once_under_its_real_name(root: Path) -> None:
    make_tree(root, {"a/link_first.py": "", "z/real.py": ""})
    (root / "a/link_first.py").unlink()
    (root / "a/link_first.py").symlink_to("../z/real.py")
    (root / "a/other_name.py").symlink_to(root / "z/real.py")
    skipped: list[tuple[str, str]] = []
    assert files(skipped=skipped) == ["z/real.py"]
    assert ("a/link_first.py", "link to a file already scanned") in skipped


def test_link_to_a_file_found_only_through_the_link(root: Path) -> None:
    make_tree(root, {"data/real.py": "", ".gitignore": "data/\n"})
    (root / "alias.py").symlink_to("data/real.py")
    assert files() == ["alias.py"]


def test_link_to_a_folder_inside_is_followed_once(root: Path) -> None:
    make_tree(root, {"real/x.py": "", "a/": None, "vendor/y.py": ""})
    (root / "a/alias").symlink_to("../real")
    (root / "a/vendored").symlink_to("../vendor", target_is_directory=True)
    (root / "a/alias2").symlink_to(root / "real")
    assert files(exclude=["/vendor"]) == ["real/x.py", "a/vendored/y.py"]


def test_link_loops_are_not_followed(root: Path) -> None:
    make_tree(root, {"pkg/sub/x.py": ""})
    (root / "pkg/sub/up").symlink_to("..")
    (root / "pkg/sub/self").symlink_to(".")
    (root / "pkg/root").symlink_to(root)
    skipped: list[tuple[str, str]] = []
    assert files(skipped=skipped) == ["pkg/sub/x.py"]
    reasons = dict(skipped)
    assert reasons["pkg/sub/up"].startswith("link to a folder already walked")


def test_a_link_that_loops_on_itself(root: Path) -> None:
    (root / "loop.py").symlink_to("loop.py")
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    assert scan() == ([], [("loop.py", "symbolic link loop")])
    assert scan(["loop.py", "a"]) == ([], [("loop.py", "symbolic link loop"), ("a", "symbolic link loop")])


def test_links_pointing_outside_the_scanned_folder_are_skipped(root: Path, tmp_path: Path) -> None:
    make_tree(tmp_path, {"outside/secret.py": "", "outside/dir/z.py": ""})
    make_tree(root, {"inside.py": ""})
    (root / "out.py").symlink_to(tmp_path / "outside/secret.py")
    (root / "outdir").symlink_to(tmp_path / "outside/dir")
    skipped: list[tuple[str, str]] = []
    assert files(skipped=skipped) == ["inside.py"]
    assert ("out.py", "link points outside the scanned folder") in skipped
    assert ("outdir", "link points outside the scanned folder") in skipped
    assert files(["out.py"]) == ["out.py"]  # named explicitly: always read


def test_outside_means_outside_the_folder_given(root: Path) -> None:
    make_tree(root, {"src/app.py": "", "lib/helper.py": ""})
    (root / "src/helper.py").symlink_to("../lib/helper.py")
    assert files(["src"]) == ["src/app.py"]
    assert files(["."]) == ["lib/helper.py", "src/app.py"]


def test_broken_links(root: Path) -> None:
    make_tree(root, {"a.py": ""})
    (root / "gone.py").symlink_to("nowhere.py")
    (root / "gone_dir").symlink_to("nowhere")
    (root / "excluded_gone.py").symlink_to("nowhere.py")
    found, errors = scan(exclude=["excluded_*"])
    assert found == ["a.py"]
    assert errors == [("gone.py", "broken symbolic link")]
    assert scan(["gone.py"]) == ([], [("gone.py", "broken symbolic link")])


def test_scanned_folder_given_through_a_link(root: Path) -> None:
    make_tree(root, {"real/pkg/x.py": ""})
    (root / "alias").symlink_to("real")
    (root / "real/pkg/back").symlink_to("../pkg")
    assert files(["alias"]) == ["alias/pkg/x.py"]


# --- permissions ------------------------------------------------------------------------------------


def _discover_in(folder: str) -> tuple[list[str], list[tuple[str, str]]]:
    os.chdir(folder)
    return scan(["."], Config(project_root=Path(folder), config_file=None))


def test_unprivileged_helper_really_drops_root() -> None:
    assert run_unprivileged(os.geteuid) != 0


def test_unreadable_folder_is_an_error_and_the_walk_goes_on() -> None:
    with public_tmp() as folder:
        make_tree(folder, {"a.py": "", "locked/secret.py": "", "z/ok.py": ""})
        (folder / "locked").chmod(0)
        found, errors = run_unprivileged(_discover_in, str(folder))
    assert found == ["a.py", "z/ok.py"]
    assert errors == [("locked", "permission denied")]


def test_unreadable_folder_named_explicitly() -> None:
    with public_tmp() as folder:
        make_tree(folder, {"locked/secret.py": ""})
        (folder / "locked").chmod(0)

        def run(where: str) -> tuple[list[str], list[tuple[str, str]]]:
            os.chdir(where)
            return scan(["locked", "locked/secret.py"], Config(project_root=Path(where), config_file=None))

        found, errors = run_unprivileged(run, str(folder))
    assert found == []
    assert errors == [("locked", "permission denied"), ("locked/secret.py", "permission denied")]


# --- a large tree ------------------------------------------------------------------------------------
# Timing lives in benchmarks/scan_speed.py: timed assertions are flaky on shared machines.


def test_five_thousand_files(root: Path) -> None:
    (root / ".gitignore").write_text("*.log\n/local\nbuild/\n")
    for a in range(50):
        folder = root / f"pkg{a}"
        folder.mkdir()
        (folder / "node_modules").mkdir()
        (folder / "node_modules" / "x.py").touch()
        for b in range(100):
            (folder / f"m{b}.py").touch()
        (folder / "README.md").touch()
    config = load_config(root)
    found = [item for item in discover([Path(".")], config)]
    assert len(found) == 5000
    assert all(isinstance(item, DiscoveredFile) for item in found)
    assert found == sorted(found, key=lambda f: [part for part in f.display.split("/")])

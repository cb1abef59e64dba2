"""Instructions a pool-refactor command executes, this code against another revision: an A/B that the
machine's load does not move.

    python benchmarks/instructions.py --path /tmp/svc                    # warm scan and --version
    python benchmarks/instructions.py --path /tmp/svc --base 93102ab     # against that revision
    python benchmarks/instructions.py --path /tmp/svc --command cold --command diff   # --jobs 1, no cache
    python benchmarks/instructions.py --path /tmp/svc --json

Wall times on a shared machine move with its load, by up to 1.5x within minutes on the 2-core VM of
issue 16, more than most start-up changes are worth; a ratio such as "warm scan ÷ ruff" needs many
interleaved rounds to mean anything (`scan_speed.py`). The number of instructions a process executes
barely moves: valgrind's cachegrind (`--cache-sim=no`: only the count) gives it to a fraction of a
percent, about 50 times slower than the run itself. It tells whether a change makes a command do less
work, not how long the command takes, and cannot be compared with a native, threaded tool such as
ruff: use `scan_speed.py` for those ratios.

Each side scans its own copy of the tree (the cache is per project folder) with bytecode compiled
beforehand, as an installed package has it. The base revision runs from a `git archive` of its
`pool_refactor` and `codemods` on `PYTHONPATH`, with the interpreter running this script (the same
installed dependencies for both sides). The warm row primes the cache with two runs first. The
interpreter's own start (`python -c pass`) is measured too, since it is the same for both.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

COMMANDS = {
    "warm": ["scan", ".", "--format", "json", "-o", os.devnull],
    "version": ["--version"],
    "cold": ["scan", ".", "--format", "json", "-o", os.devnull, "--no-cache", "--jobs", "1"],
    "diff": ["scan", ".", "--diff", "--no-cache", "--jobs", "1", "-q"],
}
"""The commands by name; `cold` and `diff` run on one process, so that cachegrind counts every
instruction (with workers it would have to follow the forks, whose number and share of the work
depend on the machine)."""

_I_REFS = re.compile(rb"I\s+refs:\s+([\d,]+)")


def instructions(command: list[str], cwd: Path, env: dict[str, str]) -> int:
    """The instructions `command` executes (cachegrind's "I refs"), in `cwd`."""
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *command],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    found = _I_REFS.search(done.stderr)
    if found is None:
        shown = " ".join(command)
        raise RuntimeError(f"no instruction count from valgrind for {shown}:\n{done.stderr[-2000:]!r}")
    return int(found.group(1).replace(b",", b""))


def _environment(pythonpath: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    if pythonpath is None:
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def _archive(revision: str, into: Path) -> None:
    """`pool_refactor` and `codemods` of `revision`, unpacked in `into`."""
    archive = into / "source.tar"
    subprocess.run(
        ["git", "-C", str(REPO), "archive", "-o", str(archive), revision, "pool_refactor", "codemods"],
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()


def measure(path: Path, base: str | None, commands: list[str]) -> dict[str, dict[str, int]]:
    """For each side (`now`, and `base` if given): instructions of `python -c pass` and of each command."""
    python = sys.executable
    rows: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="pool-refactor-instructions-") as scratch:
        sides: list[tuple[str, Path | None]] = [("now", None)]
        if base is not None:
            code = Path(scratch) / "base"
            code.mkdir()
            _archive(base, code)
            sides.append((base, code))
        for name, pythonpath in sides:
            env = _environment(pythonpath)
            tree = Path(scratch) / f"tree-{len(rows)}"
            # Modification times are kept (`copy2`): old enough for the cache to trust their stats.
            shutil.copytree(path, tree, symlinks=True, ignore=shutil.ignore_patterns(".pool_refactor_cache"))
            package = (pythonpath or REPO) / "pool_refactor"
            subprocess.run([python, "-m", "compileall", "-q", str(package)], env=env, check=True)
            tool = [python, "-m", "pool_refactor"]
            counts = {"python -c pass": instructions([python, "-c", "pass"], tree, env)}
            for command in commands:
                argv = [*tool, *COMMANDS[command]]
                if command == "warm":
                    for _ in range(2):  # the first writes the cache; the second one's stats are trusted
                        subprocess.run(argv, cwd=tree, env=env, stdout=subprocess.DEVNULL, check=False)
                counts[command] = instructions(argv, tree, env)
            rows[name] = counts
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--path", type=Path, required=True, help="the tree to scan (copied, never written)")
    parser.add_argument("--base", help="a git revision to compare with (default: none)")
    parser.add_argument(
        "--command",
        action="append",
        choices=sorted(COMMANDS),
        help="what to count (repeatable; default: warm and version)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("instructions.py: valgrind is not installed (it counts the instructions)", file=sys.stderr)
        return 2
    if not args.path.is_dir():
        print(f"instructions.py: {args.path} is not a folder", file=sys.stderr)
        return 2
    rows = measure(args.path.resolve(), args.base, args.command or ["warm", "version"])
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    names = list(rows)
    print(f"{'instructions (millions)':<26}" + "".join(f"{name:>14}" for name in names))
    for command in rows["now"]:
        line = f"{command:<26}" + "".join(f"{rows[name][command] / 1e6:>14.1f}" for name in names)
        if len(names) == 2:
            before, after = rows[names[1]][command], rows["now"][command]
            line += f"   {100 * (after - before) / before:+.1f}%"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

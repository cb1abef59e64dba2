"""`pool-refactor` and `python -m pool_refactor`.

`--version` is answered before the CLI (typer, click) is imported: it is what scripts and CI
images call to check the tool is there, and it should cost no more than the interpreter's start.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from pool_refactor import __version__

        sys.stdout.write(f"pool-refactor {__version__}\n")
        return
    from pool_refactor.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()

"""`pool-refactor` and `python -m pool_refactor`.

`--version` is answered before the CLI (typer, click) is imported: it is what scripts and CI
images call to check the tool is there, and it should cost no more than the interpreter's start.
"""

from __future__ import annotations

import _thread
import sys
from types import ModuleType

DEFERRED = ("subprocess", "ipaddress")
"""Standard modules imported at start-up only for code that a run seldom reaches: typer imports
`subprocess` for shell completion and for launching a browser, and `urllib.parse` (imported by
`pathlib`) imports `ipaddress` to check bracketed hosts. Loading them is 5-6 ms of a warm scan of
about 120, which is mostly start-up; a run that does use one loads it then."""


_LOADING = _thread.RLock()
"""Makes the first read of a stand-in import the real module once, whichever threads read it."""


class Deferred(ModuleType):
    """Stands in `sys.modules` for a module until one of its attributes is first read.

    The same idea as `importlib.util.LazyLoader`, without importing `importlib.util` (4 ms, as much
    as it saves). The first read imports the real module, which takes the stand-in's place in
    `sys.modules`; a module that imported the stand-in early reads every attribute through it from
    the real module, so it sees what everyone else sees (an attribute set through it stays on it).
    While it stands in, the module has no `__spec__` (`importlib.util.find_spec` of its name raises
    `ValueError`): nothing a run imports asks for one.
    """

    def __getattr__(self, name: str) -> object:
        with _LOADING:
            real = self.__dict__.get("_deferred_real")
            if real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                real = __import__(self.__name__)
                self.__dict__["_deferred_real"] = real
        return getattr(real, name)


def defer(names: tuple[str, ...]) -> None:
    """Put a stand-in in `sys.modules` for each module of `names` that is not imported yet."""
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = Deferred(name)


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from pool_refactor import __version__

        sys.stdout.write(f"pool-refactor {__version__}\n")
        return
    defer(DEFERRED)
    from pool_refactor.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()

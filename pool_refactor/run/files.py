"""Which files a run looks at: walk the given paths, leave out what the project says to leave out.

Decisions, and why:

* **Only ``*.py``.** Stub files (``.pyi``) declare types and never run, so they cannot create a client;
  notebooks are out of scope. A file named explicitly is read whatever its name.
* **Explicit beats excluded.** A file or folder given on the command line is scanned even if a pattern
  or ``.gitignore`` would leave it out (as with ruff without ``--force-exclude``): the user asked for it.
  Below an explicit folder, patterns that match that folder itself (or one of its parents) are set
  aside, so ``pool-refactor scan build/lib`` scans ``build/lib``; every other pattern still applies.
* **Three groups of rules**, each gitignore-style (last matching line wins, ``!`` re-includes, a
  trailing ``/`` matches folders only, a pattern without a slash except at the end matches at any depth):

  1. ``exclude`` (``DEFAULT_EXCLUDES`` unless configured) then ``extend-exclude``, anchored at the
     project root (the folder of the configuration file);
  2. ``--exclude`` (the ``exclude`` argument), anchored at the current working directory, because that
     is where the user typed it: ``--exclude src/legacy`` means ``./src/legacy``. Later groups win, so
     ``--exclude '!build'`` brings back a default exclude;
  3. ``.gitignore`` files (each anchored at its own folder, deeper files winning) and
     ``.git/info/exclude``, when ``respect-gitignore`` is on. Files are read from the repository root
     down even when only a sub-folder is scanned; without a repository, from the project root. A
     nested repository (a folder with its own ``.git``) starts afresh, as in git. The global
     ``core.excludesFile`` is not read.

  A path is left out when group 1+2 or group 3 leaves it out. A pattern that is anchored (has a
  slash) cannot match a path outside its anchor folder; a floating pattern (no slash) still does, then
  matched from the scanned folder down.
* **Folders that are left out are not entered**, so, as in git, a file below an ignored folder cannot
  be brought back by a ``!`` pattern. A folder holding ``pyvenv.cfg`` or ``conda-meta`` is a virtual
  environment whatever its name and is never entered (unless named explicitly).
* **Symbolic links** are followed only when they point inside the scanned folder; each real file and
  folder is visited once, which also makes link loops harmless. Links are followed after the real
  entries of the folder given, so a file reachable both directly and through a link is reported
  under its real name. A link found while walking that points outside, or loops, is skipped
  (``on_skip`` and the ``pool_refactor.run.files`` debug log say so); a broken link whose name ends in
  ``.py`` is an error, since it is most likely a source file that went missing.
* **Speed**: ``os.scandir`` once per folder, names sorted so the output order never changes, no
  ``stat`` for ordinary entries, and plain names such as ``node_modules`` matched with a set lookup
  instead of a regular expression.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pool_refactor.paths import DiscoveredFile, display_relative
from pool_refactor.run.config import DEFAULT_EXCLUDES, Config, ConfigError

if TYPE_CHECKING:
    import logging

    from pathspec import GitIgnoreSpec

__all__ = ["DiscoveryError", "SkipHandler", "discover"]


def _debug_log() -> logging.Logger | None:
    """This module's logger when it logs at debug level, else None.

    ``logging`` costs a warm scan a few milliseconds to import, and a run whose logging nobody
    configured (none imported it) cannot have debug output on, so it is looked up, never imported.
    """
    logging_module = sys.modules.get("logging")
    if logging_module is None:
        return None
    log: logging.Logger = logging_module.getLogger(__name__)
    return log if log.isEnabledFor(logging_module.DEBUG) else None


SkipHandler = Callable[[str, str], None]
"""Called with (display path, reason) for everything the walk passes over on purpose."""

VENV_MARKERS: frozenset[str] = frozenset({"pyvenv.cfg", "conda-meta"})
"""An entry with one of these names makes its folder a virtual environment."""


class DiscoveryError(NamedTuple):
    """A path that was meant to be scanned but cannot be; the run goes on and exits with 2."""

    path: str
    """Display form, as in ``DiscoveredFile.display``."""
    message: str


def _prefix(folder: str) -> str:
    return folder if folder.endswith(os.sep) else folder + os.sep


def _join(folder: str, name: str) -> str:
    """`os.path.join` of a folder and a name, for strings only; `name` alone for the folder ""."""
    if not folder:
        return name
    return folder + name if folder.endswith(os.sep) else folder + os.sep + name


# --- gitignore-style rules --------------------------------------------------------------------------

_LITERAL_RE = re.compile(r"[^*?\[\]\\/!#\s][^*?\[\]\\/\s]*/?\Z")
_SUFFIX_RE = re.compile(r"\*[^*?\[\]\\/\s]+/?\Z")
_ANCHORED_LITERAL_RE = re.compile(r"/?[^*?\[\]\\/!#\s]+(?:/[^*?\[\]\\/\s]+)*/?\Z")


def _is_floating(line: str) -> bool:
    """True for a pattern that matches at any depth (no slash except a trailing one)."""
    body = line.strip()
    if body.startswith("!"):
        body = body[1:]
    if body.startswith("**/"):
        body = body[3:]
    return "/" not in body.rstrip("/")


def _compile(lines: Iterable[str], source: str) -> tuple[tuple[str, ...], GitIgnoreSpec]:
    """Compile pattern lines, dropping (like git) any line that is not a valid pattern."""
    from pathspec import GitIgnoreSpec

    kept = tuple(line for line in lines if line.strip() and not line.lstrip().startswith("#"))
    try:
        return kept, GitIgnoreSpec.from_lines(kept)
    except Exception:  # pathspec raises several types for a malformed pattern
        valid = []
        for line in kept:
            try:
                GitIgnoreSpec.from_lines([line])
            except Exception:
                log = _debug_log()
                if log is not None:
                    log.debug("%s: ignoring invalid pattern %r", source, line)
            else:
                valid.append(line)
        return tuple(valid), GitIgnoreSpec.from_lines(valid)


def _is_simple(line: str) -> bool:
    """A pattern that `_Matcher` answers with a set lookup (always a valid pattern)."""
    return bool(_LITERAL_RE.match(line) or _SUFFIX_RE.match(line) or _ANCHORED_LITERAL_RE.match(line))


class _Matcher:
    """One ordered list of gitignore-style lines, answering: ignored, re-included, or no opinion.

    Without ``!`` lines the order does not matter, so plain names (``node_modules``, ``build/``),
    suffixes (``*.egg-info``) and plain anchored paths (``tests/fixtures``, ``/local``) are answered
    with a set lookup instead of a regular expression; that is exact because the walk never enters an
    ignored folder, so only the last component of a path can be the first one to match.
    """

    __slots__ = (
        "lines",
        "_spec",
        "names",
        "dir_names",
        "suffixes",
        "dir_suffixes",
        "paths",
        "dir_paths",
        "residual",
    )

    def __init__(self, lines: Iterable[str], source: str) -> None:
        kept = tuple(line for line in lines if line.strip() and not line.lstrip().startswith("#"))
        self._spec: GitIgnoreSpec | None = None
        if all(_is_simple(line) for line in kept):
            # Compiled only if `without_matches_of` needs it: pathspec's import is a good part of a
            # warm scan's start-up, and plain names are answered without it.
            self.lines = kept
        else:
            self.lines, self._spec = _compile(kept, source)
        self.names: frozenset[str] = frozenset()
        self.dir_names: frozenset[str] = frozenset()
        self.suffixes: tuple[str, ...] = ()
        self.dir_suffixes: tuple[str, ...] = ()
        self.paths: frozenset[str] = frozenset()
        self.dir_paths: frozenset[str] = frozenset()
        self.residual: GitIgnoreSpec | None = self._spec
        if any(line.lstrip().startswith("!") for line in self.lines):
            return
        names: set[str] = set()
        dir_names: set[str] = set()
        suffixes: list[str] = []
        dir_suffixes: list[str] = []
        paths: set[str] = set()
        dir_paths: set[str] = set()
        residual: list[str] = []
        for line in self.lines:
            if _LITERAL_RE.match(line):
                (dir_names if line.endswith("/") else names).add(line.rstrip("/"))
            elif _SUFFIX_RE.match(line):
                (dir_suffixes if line.endswith("/") else suffixes).append(line[1:].rstrip("/"))
            elif _ANCHORED_LITERAL_RE.match(line):
                (dir_paths if line.endswith("/") else paths).add(line.strip("/"))
            else:
                residual.append(line)
        self.names, self.dir_names = frozenset(names), frozenset(dir_names)
        self.suffixes, self.dir_suffixes = tuple(suffixes), tuple(dir_suffixes)
        self.paths, self.dir_paths = frozenset(paths), frozenset(dir_paths)
        self.residual = _compile(residual, source)[1] if residual else None

    @property
    def spec(self) -> GitIgnoreSpec:
        if self._spec is None:
            self._spec = _compile(self.lines, "")[1]
        return self._spec

    def check(self, rel: str, name: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by a ``!`` line; None: no line matches ``rel``."""
        if name in self.names or name.endswith(self.suffixes):
            return True
        if rel in self.paths:
            return True
        if is_dir and (name in self.dir_names or name.endswith(self.dir_suffixes) or rel in self.dir_paths):
            return True
        if self.residual is None:
            return None
        result: bool | None = self.residual.check_file(rel + "/" if is_dir else rel).include
        return result

    def without_matches_of(self, rel_folder: str, source: str) -> _Matcher:
        """This matcher minus the lines that ignore ``rel_folder`` (a folder named explicitly)."""
        target = rel_folder + "/"
        if self.spec.check_file(target).include is not True:
            return self
        kept = [
            line
            for line, pattern in zip(self.lines, self.spec.patterns, strict=True)
            if not (pattern.include and pattern.match_file(target) is not None)
        ]
        return _Matcher(kept, source)


class _Layer:
    """A matcher anchored at a folder: patterns are relative to ``base``."""

    __slots__ = ("base", "prefix", "matcher", "floating", "label")

    def __init__(self, base: str, matcher: _Matcher, label: str, *, float_outside: bool) -> None:
        self.base = base
        self.prefix = _prefix(base)
        self.matcher = matcher
        self.label = label
        self.floating: _Matcher | None = None
        if float_outside:
            floating = [line for line in matcher.lines if _is_floating(line)]
            if floating:
                self.floating = _Matcher(floating, label)

    def check(self, absolute: str, name: str, is_dir: bool, root_prefix: str) -> bool | None:
        if absolute.startswith(self.prefix):
            rel = absolute[len(self.prefix) :]
            matcher = self.matcher
        elif self.floating is not None and absolute.startswith(root_prefix):
            rel = absolute[len(root_prefix) :]
            matcher = self.floating
        else:
            return None
        if os.sep != "/":
            rel = rel.replace(os.sep, "/")
        return matcher.check(rel, name, is_dir)

    def for_root(self, root: str) -> _Layer:
        """The layer to use below an explicitly named folder ``root`` (see the module docstring)."""
        if not root.startswith(self.prefix):
            return self
        rel = root[len(self.prefix) :]
        if os.sep != "/":
            rel = rel.replace(os.sep, "/")
        matcher = self.matcher.without_matches_of(rel, self.label)
        if matcher is self.matcher:
            return self
        layer = _Layer(self.base, matcher, self.label, float_outside=False)
        layer.floating = self.floating
        return layer


def _first_opinion(
    layers: Sequence[_Layer], absolute: str, name: str, is_dir: bool, root: str
) -> _Layer | None:
    """The layer that ignores the path, if any: the last layer with an opinion decides."""
    for layer in reversed(layers):
        result = layer.check(absolute, name, is_dir, root)
        if result is not None:
            return layer if result else None
    return None


# --- the walk ---------------------------------------------------------------------------------------


class _Folder(NamedTuple):
    absolute: str
    given: str  # as the user's path names it, normalised as `Path` does; "" for the current folder
    real: str
    rel: str
    gitignores: tuple[_Layer, ...]

    def child(self, name: str, absolute: str, real: str) -> _Folder:
        rel = _join(self.rel, name)
        return _Folder(absolute, _join(self.given, name), real, rel, self.gitignores)


class _Walker:
    """State of one ``discover`` call: the rules, and what was already visited (by real path)."""

    def __init__(self, config: Config, exclude: Sequence[str], on_skip: SkipHandler | None) -> None:
        self.cwd = os.getcwd()
        self.on_skip = on_skip
        self.respect_gitignore = config.respect_gitignore
        root = os.path.abspath(config.project_root)
        label = "default excludes" if config.exclude == DEFAULT_EXCLUDES else "exclude setting"
        if config.extend_exclude:
            label += " and extend-exclude setting"
        configured = _Matcher((*config.exclude, *config.extend_exclude), label)
        self.settings: list[_Layer] = [_Layer(root, configured, label, float_outside=True)]
        if exclude:
            for pattern in exclude:
                try:
                    from pathspec import GitIgnoreSpec

                    GitIgnoreSpec.from_lines([pattern])
                except Exception as error:
                    raise ConfigError(
                        f"--exclude {pattern!r} is not a valid gitignore-style pattern: {error}"
                    ) from None
            command_line = _Matcher(exclude, "--exclude")
            self.settings.append(_Layer(self.cwd, command_line, "--exclude", float_outside=True))
        self.project_root = root
        self.visited: set[str] = set()
        self.seen_files: set[str] = set()
        self.gitignore_cache: dict[str, _Layer | None] = {}

    # -- reporting --

    def skip(self, absolute: str, reason: str) -> None:
        log = _debug_log()
        if self.on_skip is not None or log is not None:
            shown = display_relative(absolute, self.cwd)
            if log is not None:
                log.debug("skipped %s: %s", shown, reason)
            if self.on_skip is not None:
                self.on_skip(shown, reason)

    def error(self, absolute: str, message: str) -> DiscoveryError:
        return DiscoveryError(display_relative(absolute, self.cwd), message)

    # -- entry points --

    def run(self, paths: Sequence[Path]) -> Iterator[DiscoveredFile | DiscoveryError]:
        given_before: set[str] = set()
        for path in paths:
            given = os.fspath(path)
            absolute = os.path.abspath(given)
            if absolute in given_before:
                continue
            given_before.add(absolute)
            try:
                info = os.stat(absolute)
            except OSError as error:
                yield self.error(absolute, _stat_error_message(absolute, error))
                continue
            if stat.S_ISDIR(info.st_mode):
                yield from self.walk(given, absolute)
            elif stat.S_ISREG(info.st_mode):
                real = os.path.realpath(absolute)
                if real not in self.seen_files:
                    self.seen_files.add(real)
                    yield DiscoveredFile(str(Path(given)), display_relative(absolute, self.cwd))
            else:
                yield self.error(absolute, "is not a regular file")

    def walk(self, given: str, absolute: str) -> Iterator[DiscoveredFile | DiscoveryError]:
        real_root = os.path.realpath(absolute)
        if real_root in self.visited:
            return
        self.visited.add(real_root)
        root_prefix = _prefix(absolute)
        real_prefix = _prefix(real_root)
        settings = [layer.for_root(absolute) for layer in self.settings]
        gitignores = self.ancestor_gitignores(absolute) if self.respect_gitignore else ()
        gitignores = tuple(layer.for_root(absolute) for layer in gitignores)
        shown_root = display_relative(absolute, self.cwd)
        display_prefix = "" if shown_root == "." else shown_root.rstrip("/") + "/"

        def file_found(folder: _Folder, name: str, real: str) -> DiscoveredFile | None:
            if real in self.seen_files:
                return None
            self.seen_files.add(real)
            rel = _join(folder.rel, name)
            shown = display_prefix + (rel if os.sep == "/" else rel.replace(os.sep, "/"))
            return DiscoveredFile(_join(folder.given, name), shown)

        def ignored_by(folder: _Folder, absolute: str, name: str, is_dir: bool) -> str | None:
            layer = _first_opinion(settings, absolute, name, is_dir, root_prefix)
            if layer is None and folder.gitignores:
                layer = _first_opinion(folder.gitignores, absolute, name, is_dir, root_prefix)
            return None if layer is None else f"excluded by {layer.label}"

        # Real entries first, depth first in name order; links are queued and followed afterwards so
        # that everything reachable without a link gets its real name.
        links: list[tuple[_Folder, str]] = []
        # The files' names as a `Path` would spell them (`./src/` gives `src/x.py`), built by joining
        # strings: one `Path` per file was 3 ms of a warm scan.
        root_given = str(Path(given))
        start = _Folder(absolute, "" if root_given == "." else root_given, real_root, "", gitignores)
        opened = self.open_folder(start, is_root=True)
        if isinstance(opened, DiscoveryError):
            yield opened
            return
        if opened is None:
            return
        stack: list[tuple[Iterator[os.DirEntry[str]], _Folder]] = [opened]
        while stack or links:
            if not stack:
                folder, name = links.pop(0)
                yield from self.follow_link(folder, name, real_prefix, ignored_by, file_found, stack)
                continue
            entries, folder = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            name = entry.name
            try:
                if entry.is_symlink():
                    links.append((folder, name))
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and not (name.endswith(".py") and entry.is_file(follow_symlinks=False)):
                    continue
            except OSError:  # the entry vanished while we looked at it
                continue
            path = _join(folder.absolute, name)
            reason = ignored_by(folder, path, name, is_dir)
            if reason is not None:
                self.skip(path, reason)
                continue
            real = _join(folder.real, name)
            if not is_dir:
                found = file_found(folder, name, real)
                if found is not None:
                    yield found
                continue
            if real in self.visited:
                continue
            self.visited.add(real)
            opened = self.open_folder(folder.child(name, path, real), is_root=False)
            if isinstance(opened, DiscoveryError):
                yield opened
            elif opened is not None:
                stack.append(opened)

    def follow_link(
        self,
        folder: _Folder,
        name: str,
        real_prefix: str,
        ignored_by: Callable[[_Folder, str, str, bool], str | None],
        file_found: Callable[[_Folder, str, str], DiscoveredFile | None],
        stack: list[tuple[Iterator[os.DirEntry[str]], _Folder]],
    ) -> Iterator[DiscoveredFile | DiscoveryError]:
        """Handle one symbolic link met while walking; a linked folder is pushed onto ``stack``."""
        path = _join(folder.absolute, name)
        is_source = name.endswith(".py")
        try:
            info = os.stat(path)
        except OSError as error:
            if ignored_by(folder, path, name, False) is not None:
                self.skip(path, "excluded")
                return
            message = _stat_error_message(path, error)
            if is_source:
                yield self.error(path, message)
            else:
                self.skip(path, message)
            return
        is_dir = stat.S_ISDIR(info.st_mode)
        if not is_dir and not (is_source and stat.S_ISREG(info.st_mode)):
            return
        reason = ignored_by(folder, path, name, is_dir)
        if reason is not None:
            self.skip(path, reason)
            return
        real = os.path.realpath(path)
        if not (real + os.sep).startswith(real_prefix):
            self.skip(path, "link points outside the scanned folder")
            return
        if not is_dir:
            found = file_found(folder, name, real)
            if found is None:
                self.skip(path, "link to a file already scanned")
            else:
                yield found
            return
        if real in self.visited:
            self.skip(path, "link to a folder already walked (symbolic link loop or second name)")
            return
        self.visited.add(real)
        opened = self.open_folder(folder.child(name, path, real), is_root=False)
        if isinstance(opened, DiscoveryError):
            yield opened
        elif opened is not None:
            stack.append(opened)

    def open_folder(
        self, folder: _Folder, *, is_root: bool
    ) -> tuple[Iterator[os.DirEntry[str]], _Folder] | DiscoveryError | None:
        """List a folder (sorted); None when it turns out to be a virtual environment."""
        try:
            with os.scandir(folder.absolute) as listing:
                entries = sorted(listing, key=_entry_name)
        except PermissionError:
            return self.error(folder.absolute, "permission denied")
        except OSError as error:
            return self.error(folder.absolute, _stat_error_message(folder.absolute, error))
        names = {entry.name for entry in entries}
        if not is_root and not names.isdisjoint(VENV_MARKERS):
            markers = ", ".join(sorted(names & VENV_MARKERS))
            self.skip(folder.absolute, f"virtual environment ({markers})")
            return None
        if self.respect_gitignore:
            layers = folder.gitignores
            if ".git" in names and not is_root:
                layers = self.repository_layers(folder.absolute)  # a nested repository starts afresh
            if ".gitignore" in names:
                layer = self.gitignore_layer(folder.absolute)
                if layer is not None:
                    layers = (*layers, layer)
            if layers is not folder.gitignores:
                folder = _Folder(folder.absolute, folder.given, folder.real, folder.rel, layers)
        return iter(entries), folder

    # -- .gitignore files --

    def gitignore_layer(self, folder: str, filename: str = ".gitignore") -> _Layer | None:
        path = _join(folder, filename)
        if path in self.gitignore_cache:
            return self.gitignore_cache[path]
        layer = None
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        except OSError as error:
            self.skip(path, f"cannot read: {error.strerror or error}")
        else:
            label = display_relative(path, self.cwd)
            matcher = _Matcher(text.splitlines(), label)
            if matcher.lines:
                layer = _Layer(folder, matcher, label, float_outside=False)
        self.gitignore_cache[path] = layer
        return layer

    def repository_layers(self, repository: str) -> tuple[_Layer, ...]:
        """``.git/info/exclude`` of a repository whose root is ``repository``, if there is one."""
        info = _join(_join(repository, ".git"), "info")
        if not os.path.isdir(info):
            return ()
        layer = self.gitignore_layer(info, "exclude")
        if layer is None:
            return ()
        return (_Layer(repository, layer.matcher, layer.label, float_outside=False),)

    def ancestor_gitignores(self, folder: str) -> tuple[_Layer, ...]:
        """Rules from the folders above ``folder``, from the repository (or project) root down."""
        ancestors: list[str] = []
        current = folder
        repository: str | None = None
        while True:
            if os.path.lexists(_join(current, ".git")):
                repository = current
                break
            parent = os.path.dirname(current)
            if parent == current:
                break
            ancestors.append(parent)
            current = parent
        if repository is None:
            top = self.project_root if _prefix(folder).startswith(_prefix(self.project_root)) else folder
            ancestors = [a for a in ancestors if _prefix(a).startswith(_prefix(top))]
            layers: tuple[_Layer, ...] = ()
        else:
            layers = self.repository_layers(repository)
        for ancestor in reversed(ancestors):
            layer = self.gitignore_layer(ancestor) if os.path.isfile(_join(ancestor, ".gitignore")) else None
            if layer is not None:
                layers = (*layers, layer)
        return layers


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _stat_error_message(path: str, error: OSError) -> str:
    """Words for why ``path`` cannot be looked at, as shown in the report."""
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError | NotADirectoryError):
        return "broken symbolic link" if os.path.islink(path) else "does not exist"
    return error.strerror or str(error)


def discover(
    paths: Sequence[Path],
    config: Config,
    exclude: Sequence[str] = (),
    *,
    on_skip: SkipHandler | None = None,
) -> Iterator[DiscoveredFile | DiscoveryError]:
    """Yield the Python files to scan under ``paths``, and the paths that cannot be scanned.

    Order is deterministic: paths in the order given, each folder depth first in name order, links
    last. Each real file comes out once. ``exclude`` holds ``--exclude`` patterns; an invalid one raises
    ConfigError at once (before anything is yielded). ``on_skip`` hears about everything passed over.
    """
    walker = _Walker(config, exclude, on_skip)
    return walker.run(paths)

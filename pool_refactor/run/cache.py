"""Per-file scan results kept between runs, so an unchanged tree is scanned without parsing anything.

Decisions, and why:

* **Keyed by content, not by name.** A result is stored under the BLAKE2b digest of the file's bytes:
  a scan depends on nothing else (configuration such as ``select`` filters results *after* the scan),
  so a renamed or copied file is a hit too. Findings carry their file's display path, so a hit is
  re-labelled with the path of the file that asked. A read error (no bytes, no digest) is never stored.
* **Unchanged files are not even read.** Next to the results, a table maps each file's absolute path
  to the ``(size, mtime_ns, inode)`` it had when it was hashed. On a warm run one ``stat`` per file
  decides; only files whose stat differs are read and hashed, and only new content is parsed. As in
  git's "racy" rule, a stat is trusted only when the file's mtime is older than the moment the cache
  was written by more than ``RACY_NS`` (2 s, the coarsest common timestamp resolution): a file edited
  within the same clock tick as the scan that recorded it is hashed again rather than believed.
* **What invalidates everything.** The cache key is a digest of the cache format, the tool version,
  the Python version (``ast`` changes between versions) and the source of every module of the
  ``pool_refactor`` package (so editing the scanner or the catalog during development never serves a
  stale result; hashing ~150 KB once per run costs well under a millisecond). A different key, a file
  that does not parse, or any entry that does not decode into today's ``Finding`` is ignored and the
  cache rebuilt: the cache may make a run faster, never different.
* **One file, written atomically at the end.** ``<project root>/<cache-dir>/scan-cache.json``, written
  to a temporary file in the same folder and renamed over the old one, so readers never see half a
  file; two concurrent runs cannot corrupt it, the last one to finish wins. JSON rather than pickle:
  the cache sits in the user's checkout, and loading it must never be able to run code (a pickle can).
  A warm run that changed nothing does not write at all.
* **The folder explains itself.** It holds a ``.gitignore`` containing ``*`` (as ruff's cache does,
  so nobody has to add it to their own ``.gitignore``) and a ``CACHEDIR.TAG`` so backup tools skip it.
* **Stale entries.** Entries for files under the folders scanned this run that were not seen are
  dropped (the file is gone or now excluded); entries for other folders are kept, so scanning ``src``
  and ``tests`` alternately keeps both warm. Content entries no path refers to any more are dropped.
  Above ``MAX_ENTRIES`` paths only this run's entries are kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import pool_refactor
from pool_refactor.run.digest import blake2b
from pool_refactor.scan.findings import Applicability, Export, FileScan, Finding, FixPlan, Verdict

__all__ = [
    "CACHE_FILENAME",
    "MAX_ENTRIES",
    "RACY_NS",
    "ContentTable",
    "ScanCache",
    "StatKey",
    "cache_key",
    "decode_scan",
    "encode_scan",
]

CACHE_FORMAT = 2
"""Bumped whenever the layout of the JSON file changes."""

CACHE_FILENAME = "scan-cache.json"

RACY_NS = 2_000_000_000
"""A stat is trusted only for files last modified this long before the cache was written."""

MAX_ENTRIES = 200_000
"""Above this many remembered paths, entries not seen in the current run are forgotten."""

GITIGNORE = "# Automatically created by pool-refactor.\n*\n"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by pool-refactor.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n"
)

StatKey = tuple[int, int, int]
"""(size, mtime_ns, inode) of a file when its bytes were hashed."""

ContentTable = Mapping[str, Any]
"""Digest (hex) -> encoded FileScan, as stored in the JSON file; shared read-only with workers."""


# --------------------------------------------------------------------------------------------------
# Key


def _result_code_folders(package: Path) -> tuple[Path, ...]:
    """The folders whose code decides a cached result: the scanner and the planner (a file's entry
    holds its findings and their fix plans) and the top-level modules they import. An upgrade that
    changes any of them must not be served the old findings from a warm cache."""
    return (package, package / "scan", package / "plan")


def cache_key() -> str:
    """Digest of everything besides a file's bytes that a scan result depends on."""
    digest = blake2b(digest_size=16)
    digest.update(
        f"{CACHE_FORMAT}|{pool_refactor.__version__}|{sys.version_info[0]}.{sys.version_info[1]}|".encode()
    )
    package = Path(pool_refactor.__file__).parent
    for folder in _result_code_folders(package):
        try:
            names = sorted(name for name in os.listdir(folder) if name.endswith(".py"))
        except OSError:
            continue
        for name in names:
            digest.update(name.encode() + b"\0")
            try:
                digest.update((folder / name).read_bytes())
            except OSError:
                digest.update(b"<unreadable>")
    return digest.hexdigest()


def stat_key(info: os.stat_result) -> StatKey:
    return info.st_size, info.st_mtime_ns, info.st_ino


# --------------------------------------------------------------------------------------------------
# Encoding: plain JSON values, decoded back into exactly the records the scanner builds
#
# A record is stored as the list of its fields in `__init__`'s order (each class's `__slots__`), each
# with the converter that turns its JSON value back (None: used as it is). Written out here rather
# than derived from the classes' annotations at import (`typing.get_type_hints`, `dataclasses.fields`:
# a few million instructions of every warm scan); `tests/test_findings.py` derives them the old way
# and checks that they are the same.


def _optional_plan(value: Any) -> FixPlan | None:
    return None if value is None else _decode_plan(value)


_Converter = Callable[[Any], Any]


def _converters(names: tuple[str, ...], **by_name: _Converter) -> tuple[_Converter | None, ...]:
    """One converter per field of a record (`names`, its layout), in that order: those given by
    name, else None."""
    assert by_name.keys() <= set(names), f"no fields {sorted(by_name.keys() - set(names))}"
    return tuple(by_name.get(name) for name in names)


_PLAN_NAMES = FixPlan.__slots__
_PLAN_CONVERTERS = _converters(
    _PLAN_NAMES, keyed_options=tuple, moved_options=tuple, merged_options=tuple, pool_options=tuple
)
_FINDING_NAMES = Finding.__slots__
_FINDING_CONVERTERS = _converters(
    _FINDING_NAMES, verdict=Verdict, applicability=Applicability, plan=_optional_plan
)
_PATH_INDEX = _FINDING_NAMES.index("path")
_EXPORT_FIELDS = Export.__slots__
"""Exports hold plain JSON values: no converters."""


def _converted(values: list[Any], converters: tuple[_Converter | None, ...]) -> list[Any]:
    """A record's stored values turned back into its fields' values."""
    return [v if c is None else c(v) for v, c in zip(values, converters, strict=True)]


def _decode_plan(values: list[Any]) -> FixPlan:
    if len(values) != len(_PLAN_CONVERTERS):
        raise ValueError("fix plan layout changed")
    return FixPlan(*_converted(values, _PLAN_CONVERTERS))


def _encode_value(value: Any) -> Any:
    if isinstance(value, FixPlan):
        return [_encode_value(field) for field in value.values()]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def encode_findings(findings: Iterable[Finding]) -> list[Any]:
    return [[_encode_value(field) for field in f.values()] for f in findings]


def decode_findings(raw_findings: Any, display: str) -> tuple[Finding, ...]:
    """Findings stored for a file now shown as ``display``; raises on anything malformed."""
    converters = _FINDING_CONVERTERS
    findings = []
    for values in raw_findings:
        if len(values) != len(converters):
            raise ValueError("finding layout changed")
        values = list(values)
        values[_PATH_INDEX] = display  # a content hit for a renamed or copied file: its own path
        findings.append(Finding(*_converted(values, converters)))
    return tuple(findings)


def encode_scan(scan: FileScan) -> Any:
    """A FileScan as JSON values; ``None`` for the common case (nothing found, nothing parsed)."""
    if not scan.findings and scan.error is None and not scan.parsed:
        return None
    return [
        scan.error,
        scan.parsed,
        encode_findings(scan.findings),
        [list(e.values()) for e in scan.exports],
    ]


def decode_scan(entry: Any, display: str) -> FileScan:
    """The stored result for a file now shown as ``display``; raises on anything malformed."""
    if entry is None:
        return FileScan(display)
    error, parsed, raw_findings, raw_exports = entry
    if not (error is None or isinstance(error, str)) or not isinstance(parsed, bool):
        raise ValueError("malformed cache entry")
    exports = []
    for values in raw_exports:
        if len(values) != len(_EXPORT_FIELDS):
            raise ValueError("export layout changed")
        exports.append(Export(*values))
    return FileScan(display, decode_findings(raw_findings, display), error, parsed, tuple(exports))


# --------------------------------------------------------------------------------------------------
# The table


class ScanCache:
    """The cache of one run: looked up while scanning, saved once at the end."""

    def __init__(self, directory: Path, key: str | None = None) -> None:
        self.directory = directory
        self.path = directory / CACHE_FILENAME
        self.key = key if key is not None else cache_key()
        self.written_ns = 0
        self._now_ns: int | None = None
        self.stats: dict[str, list[Any]] = {}
        """Absolute path -> [size, mtime_ns, inode, digest] from the file on disk."""
        self.scans: dict[str, Any] = {}
        """Digest -> encoded FileScan, from the file on disk."""
        self.new_stats: dict[str, list[Any]] = {}
        self.new_scans: dict[str, Any] = {}
        self.cross: dict[str, Any] = {}
        """The project pass (``run.project``) as of the last run: ``fingerprint`` (of every file's
        exports and the tree's layout) and ``files``, absolute path -> [digest, encoded findings]."""
        self.new_cross: dict[str, Any] = {}
        self.new_cross_fingerprint = ""
        self.dirty = False
        self.hits = 0

    @classmethod
    def load(cls, directory: Path, key: str | None = None) -> ScanCache:
        """The cache in ``directory``; empty when missing, unreadable, corrupt or from another key."""
        cache = cls(directory, key)
        try:
            data = json.loads(cache.path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return cache
        try:
            if not isinstance(data, dict) or data.get("key") != cache.key:
                return cache
            stats, scans, written = data["stats"], data["scans"], data["written_ns"]
            if not (isinstance(stats, dict) and isinstance(scans, dict) and isinstance(written, int)):
                return cache
        except (KeyError, TypeError):
            return cache
        cache.stats, cache.scans, cache.written_ns = stats, scans, written
        cross = data.get("cross")
        if isinstance(cross, dict) and isinstance(cross.get("files"), dict):
            cache.cross = cross
        return cache

    @property
    def content(self) -> ContentTable:
        """The stored results by digest, for content lookups (also handed to worker processes)."""
        return self.scans

    def fresh(self, absolute: str, display: str) -> FileScan | None:
        """The stored result if ``absolute`` is provably unchanged by its stat alone, else None."""
        entry = self.stats.get(absolute)
        if entry is None:
            return None
        try:
            info = os.stat(absolute)
        except OSError:
            return None
        try:
            size, mtime_ns, inode, digest = entry
            if (info.st_size, info.st_mtime_ns, info.st_ino) != (size, mtime_ns, inode):
                return None
            if mtime_ns + RACY_NS >= self.written_ns:
                return None  # modified too close to when it was recorded: hash it to be sure
            scan = decode_scan(self.scans[digest], display)
        except (KeyError, TypeError, ValueError):
            return None
        self.new_stats[absolute] = entry
        self.new_scans[digest] = self.scans[digest]
        self.hits += 1
        return scan

    def record(self, absolute: str, digest: str | None, stat: StatKey | None, scan: FileScan) -> None:
        """Remember the result of a file that was read (and hashed) this run."""
        if digest is None:
            return
        entry = self.scans.get(digest, _MISSING)
        encoded = encode_scan(scan) if entry is _MISSING else entry
        self.new_scans[digest] = encoded
        if stat is not None:
            new = [stat[0], stat[1], stat[2], digest]
            if self.stats.get(absolute) != new or self._racy_until_rewritten(stat[1]):
                self.dirty = True
            self.new_stats[absolute] = new
        if entry is _MISSING:
            self.dirty = True

    def _racy_until_rewritten(self, mtime_ns: int) -> bool:
        """A stat stored too close to the cache's writing is never trusted (``fresh``); unless the
        cache is written again once the file is old enough, every later warm run would read and
        hash the file again (a checkout scanned within ``RACY_NS`` of its writing: every file of it).
        As git does with racily clean index entries, such a run rewrites the cache."""
        if mtime_ns + RACY_NS < self.written_ns:
            return False  # trusted already
        if self._now_ns is None:
            self._now_ns = time.time_ns()
        return mtime_ns + RACY_NS < self._now_ns

    def cross_hit(
        self, absolute: str, digest: str, fingerprint: str, display: str
    ) -> tuple[Finding, ...] | None:
        """The project pass's findings for a file, if its bytes and everything else the pass read
        (``fingerprint``) are as when they were stored."""
        if self.cross.get("fingerprint") != fingerprint:
            return None
        entry = self.cross["files"].get(absolute)
        try:
            stored_digest, raw = entry
            if stored_digest != digest:
                return None
            found = decode_findings(raw, display)
        except (TypeError, ValueError, KeyError):
            return None
        self.new_cross[absolute] = entry
        return found

    def cross_record(self, absolute: str, digest: str, fingerprint: str, found: Iterable[Finding]) -> None:
        if self.cross.get("fingerprint") != fingerprint:
            self.dirty = True
        entry = [digest, encode_findings(found)]
        if self.cross.get("files", {}).get(absolute) != entry:
            self.dirty = True
        self.new_cross[absolute] = entry

    def cross_fingerprint(self, fingerprint: str) -> None:
        """The project pass ran with this fingerprint (or, empty, did not run: no file exports)."""
        if self.cross.get("fingerprint", "") != fingerprint:
            self.dirty = True
        self.new_cross_fingerprint = fingerprint

    def save(self, roots: Iterable[str]) -> None:
        """Write this run's table (plus entries for folders not scanned this run); never raises."""
        prefixes = tuple(r if r.endswith(os.sep) else r + os.sep for r in roots)
        exact = set(roots)
        stats = dict(self.new_stats)
        if len(stats) < MAX_ENTRIES:
            for path, entry in self.stats.items():
                if path in stats or path in exact or path.startswith(prefixes):
                    continue  # gone or excluded from a folder we just walked: forget it
                stats[path] = entry
                if len(stats) >= MAX_ENTRIES:
                    break
        if not self.dirty and len(stats) == len(self.stats):
            return  # a warm run that learned nothing: leave the file as it is
        scans: dict[str, Any] = {}
        for entry in stats.values():
            digest = entry[3]
            if digest in self.new_scans:
                scans[digest] = self.new_scans[digest]
            elif digest in self.scans:
                scans[digest] = self.scans[digest]
        # Content seen this run but without a trusted stat (just edited) still earns its entry.
        for digest, value in self.new_scans.items():
            scans.setdefault(digest, value)
        payload = {
            "format": CACHE_FORMAT,
            "key": self.key,
            "tool": f"pool-refactor {pool_refactor.__version__}",
            "written_ns": time.time_ns(),
            "stats": stats,
            "scans": scans,
            "cross": {"fingerprint": self.new_cross_fingerprint, "files": self.new_cross},
        }
        import tempfile  # only a run that learned something writes: a warm run never imports it

        try:
            _prepare_directory(self.directory)
            text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".scan-cache.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.chmod(temporary, 0o644)  # mkstemp makes it 0600; a shared checkout may share it
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as error:  # a read-only checkout must not fail the scan
            import logging

            logging.getLogger(__name__).debug("cannot write the scan cache in %s: %s", self.directory, error)


class _Missing:
    pass


_MISSING: Any = _Missing()


def _prepare_directory(directory: Path) -> None:
    """Create the cache folder with its .gitignore and CACHEDIR.TAG (never overwriting them)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in ((".gitignore", GITIGNORE), ("CACHEDIR.TAG", CACHEDIR_TAG)):
        target = directory / name
        if not target.exists():
            try:
                with open(target, "x", encoding="utf-8") as handle:
                    handle.write(text)
            except FileExistsError:
                pass

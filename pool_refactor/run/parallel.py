"""Scanning many files on several cores, with results in the same order as the files were given.

Decisions, and why (numbers measured on the 1M-line synthetic tree of ``benchmarks/scan_speed.py``):

* **Workers read, hash, prefilter and parse.** A worker gets a chunk of paths and returns one small
  ``Scanned`` record per file (findings only, never a syntax tree, so memory stays flat however big
  the tree). Reading and decoding is a sizeable share of a cold run, so doing it in the parent and
  shipping only prefiltered files to the pool left one core idle for that share.
* **Processes, not threads**: ``ast`` and the scanner hold the GIL. Start method, Ctrl-C and what
  happens when a worker dies (the file that kills it is reported, the run goes on) are shared with
  the fix, in ``pool_refactor.run.workers``. The pool is started before anything else in the run starts
  a thread (the progress bar starts after it); forked workers inherit the cache's content table.
* **Small runs read in one process**: below ``POOL_MIN_FILES`` files the parent reads and prefilters
  every file itself, and forks workers only to parse the candidates, when they add up to
  ``PARSE_POOL_MIN_BYTES``: a 128k-line service has few files but can hold a lot of client code.
* **Order**: results come back through ``Executor.map``, which yields in submission order, so the
  report is identical whatever ``--jobs`` is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pool_refactor.run import workers
from pool_refactor.run.cache import ContentTable, StatKey, decode_scan
from pool_refactor.run.digest import content_digest
from pool_refactor.scan.findings import FileScan
from pool_refactor.scan.source import (
    MAX_SOURCE_BYTES,
    Source,
    SourceError,
    decode_source,
    mentions_any,
    read_bytes,
)

__all__ = ["POOL_MIN_FILES", "Scanned", "scan_file", "scan_files"]

PARSE_POOL_MIN_BYTES = 512 * 1024
"""Below ``POOL_MIN_FILES`` files, the candidates are parsed in workers when they add up to this.

A service of a few hundred files can still hold a few hundred thousand lines of client code to
parse. The parent reads and prefilters every file (about 0.15 ms each), then forks workers for the
parse only when there is enough of it: ``ast.parse`` plus the scan costs about 0.35 s per MB here,
forking two workers, sending them the sources and joining them about 25 ms.
"""

POOL_MIN_FILES = 400
"""Fewer files than this are scanned in the parent process.

Measured with ``--no-cache`` on synthetic trees (2 cores): forking two workers and collecting their
results costs about 15-25 ms; a file costs about 0.15 ms to read and prefilter and about 8 ms to parse
and scan when it mentions a client library (~4% of files in a typical service). Below a few hundred
files the pool saves less than it costs; the threshold is on files still to be read this run (cache
misses), so a warm run never starts the pool.
"""

CRASHED = "the scanner crashed on this file (worker process died)"

CHUNK_MAX = 64
"""Largest number of files sent to a worker at once; small enough to balance uneven files."""


@dataclass(frozen=True, slots=True)
class Scanned:
    """What scanning one file produced, with what the cache needs to remember it."""

    scan: FileScan
    digest: str | None = None
    """Hex BLAKE2b of the bytes scanned; None when not hashed or the file could not be read."""
    stat: StatKey | None = None
    """(size, mtime_ns, inode) taken just before reading."""
    from_cache: bool = False
    """The bytes were hashed and found in the cache's content table: nothing was parsed."""


def scan_file(
    path: str, display: str, content: ContentTable | None = None, hash_files: bool = False
) -> Scanned:
    """Read, hash (when caching), look the content up, else decode, prefilter and scan.

    Gives exactly what ``analyze.scan_one`` gives for the file (same errors, same wording); the
    bytes are read first so that a digest can be taken before anything is decoded.
    """
    loaded = _load(path, display, content, hash_files)
    return loaded.finish() if isinstance(loaded, _Loaded) else loaded


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A file read, decoded and past the prefilter: what is left is the parse and the scan."""

    source: Source
    display: str
    digest: str | None
    stat: StatKey | None

    def finish(self) -> Scanned:
        from pool_refactor.plan.analyze import scan_loaded  # only a file to scan needs the scanner

        return Scanned(scan_loaded(self.source, self.display), self.digest, self.stat)


def _load(path: str, display: str, content: ContentTable | None, hash_files: bool) -> Scanned | _Loaded:
    """Everything of ``scan_file`` before the parse: a final answer, or a file left to parse."""
    stat: StatKey | None = None
    if hash_files:
        try:
            info = os.stat(path)
            stat = (info.st_size, info.st_mtime_ns, info.st_ino)
        except OSError:
            stat = None
    try:
        raw = read_bytes(Path(path), MAX_SOURCE_BYTES)
    except SourceError as exc:
        return Scanned(FileScan(display, error=str(exc)))
    except OSError as exc:
        return Scanned(FileScan(display, error=exc.strerror or str(exc)))
    digest: str | None = None
    if hash_files:
        digest = content_digest(raw)
        if content is not None and digest in content:
            try:
                return Scanned(decode_scan(content[digest], display), digest, stat, from_cache=True)
            except (KeyError, TypeError, ValueError):
                pass  # an entry from a damaged cache: scan the file as if it were new
    if _undeclared_ascii(raw) and not mentions_any(raw, _client_modules()):
        # What scan_loaded would return after decoding, which cannot fail for such bytes.
        return Scanned(FileScan(display), digest, stat)
    try:
        source = decode_source(raw)
    except SourceError as exc:
        return Scanned(FileScan(display, error=str(exc)), digest, stat)
    if not mentions_any(source.raw, _client_modules()):
        return Scanned(FileScan(display), digest, stat)  # what scan_loaded returns, without the call
    return _Loaded(source, display, digest, stat)


def _client_modules() -> tuple[str, ...]:
    """The prefilter's words, from the catalog, imported on the first file read: a warm run reads
    none, and the catalog's tables are a few milliseconds of its start-up."""
    from pool_refactor.scan import catalog

    return catalog.all_module_names()


_FIRST_TWO_LINES = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)?[^\r\n]*")


def _undeclared_ascii(raw: bytes) -> bool:
    """Bytes whose decoding provably succeeds as plain UTF-8: ASCII, no NUL, no coding cookie.

    For these, decoding (``decode_source``: ``tokenize.detect_encoding``, a full decode, three
    newline counts) cannot fail and cannot matter to a file the prefilter rejects, so a
    non-candidate is dismissed without it: a quarter of the per-file cost of a cold run on
    typical trees (125 ms of 5,000 files' 1M lines, measured). Anything else takes the full path.
    """
    if not raw.isascii() or b"\0" in raw:
        return False
    head = raw[:2048]
    end = _FIRST_TWO_LINES.match(head)
    if end is None or (end.end() == len(head) and len(raw) > len(head)):
        return False  # line 1 or 2 is longer than we care to look at
    return b"coding" not in head[: end.end()]


# --------------------------------------------------------------------------------------------------
# Worker side

_worker_content: ContentTable | None = None
_worker_hash = False


def _init_worker(content: ContentTable | None, hash_files: bool) -> None:
    global _worker_content, _worker_hash
    _worker_content = content
    _worker_hash = hash_files


def _scan_task(task: tuple[str, str]) -> Scanned:
    path, display = task
    try:
        return scan_file(path, display, _worker_content, _worker_hash)
    except Exception as exc:  # a bug of ours must not end the run, but it must be seen
        return Scanned(_internal_error(display, exc))


def _parse_task(loaded: _Loaded) -> Scanned:
    try:
        return loaded.finish()
    except Exception as exc:
        return Scanned(_internal_error(loaded.display, exc), loaded.digest, loaded.stat)


# --------------------------------------------------------------------------------------------------
# Parent side


def scan_files(
    tasks: Sequence[tuple[str, str]],
    jobs: int,
    content: ContentTable | None = None,
    hash_files: bool = False,
) -> Iterator[Scanned]:
    """Scan ``(path, display)`` pairs; yields one ``Scanned`` per task, in the order given.

    The pool (if any) is started when the generator is first advanced, so a caller that wants
    to start a thread (a progress bar) should take the first result before starting it.
    """
    if jobs <= 1:
        for path, display in tasks:
            yield _scan_serial(path, display, content, hash_files)
    elif len(tasks) < POOL_MIN_FILES:
        yield from _scan_small(tasks, jobs, content, hash_files)
    else:
        yield from _scan_pool(tasks, jobs, content, hash_files)


def _import_scanner_before_fork() -> None:
    """The scanner is imported on first use, so that a run whose files are all answered by the cache
    (by stat, or by content when their stat cannot be trusted) never loads it; workers that will
    parse get it before they fork, so that each does not import it again."""
    import pool_refactor.plan.analyze  # noqa: F401


def _scan_serial(path: str, display: str, content: ContentTable | None, hash_files: bool) -> Scanned:
    try:
        return scan_file(path, display, content, hash_files)
    except Exception as exc:
        return Scanned(_internal_error(display, exc))


def _scan_small(
    tasks: Sequence[tuple[str, str]], jobs: int, content: ContentTable | None, hash_files: bool
) -> Iterator[Scanned]:
    """Read and prefilter here; parse the candidates in workers only when they are big enough."""
    loaded: list[Scanned | _Loaded] = []
    for path, display in tasks:
        try:
            loaded.append(_load(path, display, content, hash_files))
        except Exception as exc:
            loaded.append(Scanned(_internal_error(display, exc)))
    pending = [item for item in loaded if isinstance(item, _Loaded)]
    size = sum(len(item.source.raw) for item in pending)
    if len(pending) > 1 and size >= PARSE_POOL_MIN_BYTES:
        _import_scanner_before_fork()
        parsed: Generator[Scanned, None, None] = _parse_pool(pending, jobs)
    else:
        parsed = (_parse_task(item) for item in pending)
    try:
        for item in loaded:
            yield next(parsed) if isinstance(item, _Loaded) else item
    finally:
        parsed.close()


def _parse_pool(pending: Sequence[_Loaded], jobs: int) -> Generator[Scanned, None, None]:
    sizes = [len(item.source.raw) for item in pending]
    yield from workers.map_in_order(_parse_task, pending, sizes, min(jobs, len(pending)), _parse_crashed)


def _parse_crashed(item: _Loaded) -> Scanned:
    return Scanned(FileScan(item.display, error=CRASHED), item.digest, item.stat)


def _scan_pool(
    tasks: Sequence[tuple[str, str]], jobs: int, content: ContentTable | None, hash_files: bool
) -> Iterator[Scanned]:
    from concurrent.futures.process import BrokenProcessPool  # only with a pool

    _import_scanner_before_fork()
    count = min(jobs, max(1, len(tasks) // 8))
    chunk = max(1, min(CHUNK_MAX, len(tasks) // (count * 8)))
    done = 0
    executor = workers.start(count, _init_worker, (content, hash_files))
    try:
        for scanned in executor.map(_scan_task, tasks, chunksize=chunk):
            yield scanned
            done += 1
    except BrokenProcessPool:
        executor.shutdown(wait=True, cancel_futures=True)
        rest = tasks[done:]
        yield from workers.isolate(_scan_task, rest, _scan_crashed, _init_worker, (content, hash_files))
    finally:
        # Also on Ctrl-C or a consumer that stops early: drop what is queued, do not finish it.
        executor.shutdown(wait=True, cancel_futures=True)


def _scan_crashed(task: tuple[str, str]) -> Scanned:
    return Scanned(FileScan(task[1], error=CRASHED))


def _internal_error(display: str, exc: Exception) -> FileScan:
    return FileScan(display, error=f"internal error while scanning: {type(exc).__name__}: {exc}")

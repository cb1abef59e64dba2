"""Scanning many files on several cores, with results in the same order as the files were given.

Decisions, and why (numbers measured on the 1M-line synthetic tree of ``benchmarks/scan_speed.py``):

* **Workers read, hash, prefilter and parse.** A worker gets a chunk of paths and returns one small
  ``Scanned`` record per file (findings only, never a syntax tree, so memory stays flat however big
  the tree). Reading and decoding is a sizeable share of a cold run, so doing it in the parent and
  shipping only prefiltered files to the pool left one core idle for that share.
* **Processes, not threads**: ``ast`` and the scanner hold the GIL. ``concurrent.futures`` rather than
  ``multiprocessing.Pool`` because a worker that dies (a parser crash on a pathological file) makes
  ``Pool.imap`` wait forever, while the executor raises ``BrokenProcessPool``; the files of the broken
  chunks are then retried one at a time in a fresh single worker, and the file that kills it again is
  reported as an error instead of taking the run down.
* **Start method**: ``fork`` where the platform has it (start-up in milliseconds, and the content
  table of the cache is inherited for free); ``spawn`` elsewhere. The pool is started before anything
  else in the run starts a thread (the progress bar starts after it).
* **Small runs stay in one process**: below ``POOL_MIN_FILES`` files the pool's start-up and the
  round trips cost more than a second core saves (see ``POOL_MIN_FILES``).
* **Order**: results come back through ``Executor.map``, which yields in submission order, so the
  report is identical whatever ``--jobs`` is.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pool_refactor import catalog
from pool_refactor.cache import ContentTable, StatKey, decode_scan
from pool_refactor.runner import FileScan, scan_loaded
from pool_refactor.source import MAX_SOURCE_BYTES, SourceError, decode_source, mentions_any, read_bytes

__all__ = ["POOL_MIN_FILES", "Scanned", "effective_jobs", "scan_file", "scan_files"]

POOL_MIN_FILES = 400
"""Fewer files than this are scanned in the parent process.

Measured with ``--no-cache`` on synthetic trees (2 cores): forking two workers and collecting their
results costs about 15-25 ms; a file costs about 0.15 ms to read and prefilter and about 8 ms to parse
and scan when it mentions a client library (~4% of files in a typical service). Below a few hundred
files the pool saves less than it costs; the threshold is on files still to be read this run (cache
misses), so a warm run never starts the pool.
"""

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


def effective_jobs(jobs: int | None) -> int:
    """``--jobs``, defaulting to the CPUs this process may run on."""
    if jobs is not None:
        return max(1, jobs)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def scan_file(
    path: str, display: str, content: ContentTable | None = None, hash_files: bool = False
) -> Scanned:
    """Read, hash (when caching), look the content up, else decode, prefilter and scan.

    Gives exactly what ``runner.scan_one`` gives for the file (same errors, same wording); the
    bytes are read first so that a digest can be taken before anything is decoded.
    """
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
        digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
        if content is not None and digest in content:
            try:
                return Scanned(decode_scan(content[digest], display), digest, stat, from_cache=True)
            except (KeyError, TypeError, ValueError):
                pass  # an entry from a damaged cache: scan the file as if it were new
    if _undeclared_ascii(raw) and not mentions_any(raw, catalog.all_module_names()):
        # What scan_loaded would return after decoding, which cannot fail for such bytes.
        return Scanned(FileScan(display), digest, stat)
    try:
        source = decode_source(raw)
    except SourceError as exc:
        return Scanned(FileScan(display, error=str(exc)), digest, stat)
    return Scanned(scan_loaded(source, display), digest, stat)


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
    # Ctrl-C is the parent's to handle: it cancels what is queued and waits for the chunks in
    # flight, instead of every worker printing its own KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_content = content
    _worker_hash = hash_files


def _scan_task(task: tuple[str, str]) -> Scanned:
    path, display = task
    try:
        return scan_file(path, display, _worker_content, _worker_hash)
    except Exception as exc:  # a bug of ours must not end the run, but it must be seen
        return Scanned(FileScan(display, error=f"internal error while scanning: {type(exc).__name__}: {exc}"))


# --------------------------------------------------------------------------------------------------
# Parent side


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


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
    if jobs <= 1 or len(tasks) < POOL_MIN_FILES:
        for path, display in tasks:
            yield _scan_serial(path, display, content, hash_files)
        return
    yield from _scan_pool(tasks, jobs, content, hash_files)


def _scan_serial(path: str, display: str, content: ContentTable | None, hash_files: bool) -> Scanned:
    try:
        return scan_file(path, display, content, hash_files)
    except Exception as exc:
        return Scanned(FileScan(display, error=f"internal error while scanning: {type(exc).__name__}: {exc}"))


def _scan_pool(
    tasks: Sequence[tuple[str, str]], jobs: int, content: ContentTable | None, hash_files: bool
) -> Iterator[Scanned]:
    workers = min(jobs, max(1, len(tasks) // 8))
    chunk = max(1, min(CHUNK_MAX, len(tasks) // (workers * 8)))
    done = 0
    executor = _executor(workers, content, hash_files)
    try:
        for scanned in executor.map(_scan_task, tasks, chunksize=chunk):
            yield scanned
            done += 1
    except BrokenProcessPool:
        executor.shutdown(wait=True, cancel_futures=True)
        yield from _isolate(tasks[done:], content, hash_files)
    finally:
        # Also on Ctrl-C or a consumer that stops early: drop what is queued, do not finish it.
        executor.shutdown(wait=True, cancel_futures=True)


def _executor(workers: int, content: ContentTable | None, hash_files: bool) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        workers, mp_context=_context(), initializer=_init_worker, initargs=(content, hash_files)
    )


def _isolate(
    tasks: Sequence[tuple[str, str]], content: ContentTable | None, hash_files: bool
) -> Iterator[Scanned]:
    """After a worker died: one file at a time in a single fresh worker, to find the one that kills it."""
    index = 0
    while index < len(tasks):
        executor = _executor(1, content, hash_files)
        try:
            for scanned in executor.map(_scan_task, tasks[index:], chunksize=1):
                yield scanned
                index += 1
        except BrokenProcessPool:
            _, display = tasks[index]
            yield Scanned(FileScan(display, error="the scanner crashed on this file (worker process died)"))
            index += 1
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

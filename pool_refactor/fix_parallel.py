"""Computing the rewrites of ``--fix`` / ``--diff`` on several cores, with results in file order.

Decisions, and why (the scan's own pool, ``pool_refactor.parallel``, made the same ones first):

* **Workers only compute.** A worker gets one file and returns what the fixer would have computed
  in-process (the new text with the bytes it was computed from, or an error, or nothing to do);
  the shared module, the rewritten files and the lifecycle wiring are all written afterwards by the
  parent, serially, with the same atomic writes and expected-bytes checks as a ``--jobs 1`` run.
* **One file per task, largest first.** A file costs tens of milliseconds to seconds (libcst and the
  import visitors: 40 ms plus about 23 us a byte on real code), so a round trip per file is noise, and
  starting the largest first keeps one huge file from running alone at the end. Results are put
  back in the order of the files given, so the output never depends on ``--jobs``.
* **A worker that dies costs one file.** After ``BrokenProcessPool`` the files without a result are
  retried one at a time in a fresh single worker; the file that kills it again comes back as
  whatever ``crashed`` says (the fixer makes it a ``not fixed: ...`` error), the others are fixed.
* **Start method and Ctrl-C as in the scan**: ``fork`` where available (the parent has libcst
  imported already), SIGINT ignored in workers, the parent cancels what is queued and waits for
  what is running. Nothing has been written when the rewrites are being computed, so an
  interrupted run leaves every file as it was.
* **The parent's objects are frozen out of the workers' garbage collection** (``gc.freeze`` while
  the pool runs): libcst allocates enough to trigger full collections, which would otherwise walk,
  and copy on write, the whole heap inherited from the scan. It saves about 7% of the workers' CPU
  on litellm (6.2-6.7 s down to 5.7-6.3 s, three runs each).
* **Small runs stay in one process**: see ``FIX_POOL_MIN_FILES`` and ``FIX_POOL_MIN_BYTES``.
"""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from pool_refactor.files import DiscoveredFile
from pool_refactor.parallel import _context

__all__ = ["FIX_POOL_MIN_BYTES", "FIX_POOL_MIN_FILES", "map_files"]

T = TypeVar("T")

FIX_POOL_MIN_FILES = 3
"""From this many files to rewrite on, they are rewritten in worker processes (also from two files
of ``FIX_POOL_MIN_BYTES``); one file always stays in the parent, there is nothing to share.

Measured on 2 cores, in CPU time because the machine was shared: starting two forked workers,
sending them the files and collecting the rewrites costs 15-35 ms in all (7-10 ms of wall time
for the start-up alone). Rewriting a file costs about 40 ms however small it is (libcst builds
its matcher-based import visitors again for every file), plus about 23 us a byte (16 litellm
files, 256 KB: 5.9 s). Two small files would gain nothing worth a fork (80 ms against 40 ms plus
the start-up); three gain about 40 ms, and the margin grows with every file.
"""

FIX_POOL_MIN_BYTES = 8 * 1024
"""Two files totalling this many bytes are also worth a pool (see ``FIX_POOL_MIN_FILES``).

Two files of 8 KiB take about 0.27 s to rewrite (2 x 40 ms + 8 KiB x 23 us): a second worker
saves about 0.1 s for its 15-35 ms. Even the part of a rewrite no codemod can speed up (libcst
parse, the re-scan and the compile check: about 2 us a byte and 1 ms a file) is about 20 ms
there, so the pool would not lose much should the codemod get ten times faster.
"""


def map_files(
    compute: Callable[[DiscoveredFile], T],
    files: Sequence[DiscoveredFile],
    jobs: int,
    crashed: Callable[[DiscoveredFile], T],
) -> list[T]:
    """``[compute(f) for f in files]``, in worker processes when it is worth it.

    ``compute`` must be pure (it may read files, never write them) and picklable for ``spawn``
    platforms (a module-level function, or a ``functools.partial`` of one). ``crashed(file)`` is
    the result for a file whose worker died computing it.
    """
    sizes = [_size(file) for file in files]
    if not _use_pool(sizes, jobs):
        return [compute(file) for file in files]
    gc.freeze()  # see the module's docstring
    try:
        return _pooled(compute, files, sizes, jobs, crashed)
    finally:
        gc.unfreeze()


def _size(file: DiscoveredFile) -> int:
    try:
        return os.stat(file.path).st_size
    except OSError:
        return 0  # the worker will say what is wrong with it


def _use_pool(sizes: Sequence[int], jobs: int) -> bool:
    if jobs <= 1 or len(sizes) < 2:
        return False
    return len(sizes) >= FIX_POOL_MIN_FILES or sum(sizes) >= FIX_POOL_MIN_BYTES


# --------------------------------------------------------------------------------------------------
# Worker side

_worker_compute: Callable[[DiscoveredFile], Any] | None = None


def _init_worker(compute: Callable[[DiscoveredFile], Any]) -> None:
    global _worker_compute
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _worker_compute = compute


def _task(file: DiscoveredFile) -> Any:
    assert _worker_compute is not None, "the pool's initializer sets it"
    return _worker_compute(file)


# --------------------------------------------------------------------------------------------------
# Parent side


def _executor(workers: int, compute: Callable[[DiscoveredFile], T]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker, initargs=(compute,))


def _pooled(
    compute: Callable[[DiscoveredFile], T],
    files: Sequence[DiscoveredFile],
    sizes: Sequence[int],
    jobs: int,
    crashed: Callable[[DiscoveredFile], T],
) -> list[T]:
    results: dict[int, T] = {}
    executor = _executor(min(jobs, len(files)), compute)
    try:
        largest_first = sorted(range(len(files)), key=lambda index: (-sizes[index], index))
        futures: dict[int, Future[T]] = {
            index: executor.submit(_task, files[index]) for index in largest_first
        }
        for index, future in futures.items():
            try:
                results[index] = future.result()
            except BrokenProcessPool:
                continue  # retried below, one file at a time
    finally:
        # Also on Ctrl-C: drop what is queued, wait for what is running, then let it propagate.
        executor.shutdown(wait=True, cancel_futures=True)
    missing = [index for index in range(len(files)) if index not in results]
    isolated = _isolate(compute, [files[index] for index in missing], crashed)
    results.update(zip(missing, isolated, strict=True))
    return [results[index] for index in range(len(files))]


def _isolate(
    compute: Callable[[DiscoveredFile], T],
    files: Sequence[DiscoveredFile],
    crashed: Callable[[DiscoveredFile], T],
) -> Iterator[T]:
    """After a worker died: one file at a time in a single fresh worker, to find the one that kills it."""
    index = 0
    while index < len(files):
        executor = _executor(1, compute)
        try:
            for result in executor.map(_task, files[index:], chunksize=1):
                yield result
                index += 1
        except BrokenProcessPool:
            yield crashed(files[index])
            index += 1
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

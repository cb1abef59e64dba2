"""Computing the rewrites of ``--fix`` / ``--diff`` on several cores, with results in file order.

Decisions, and why (the scan's own pool, ``pool_refactor.run.parallel``, made the same ones first):

* **Workers only compute.** A worker gets one file and returns what the fixer would have computed
  in-process (the new text with the bytes it was computed from, or an error, or nothing to do);
  the shared module, the rewritten files and the lifecycle wiring are all written afterwards by the
  parent, serially, with the same atomic writes and expected-bytes checks as a ``--jobs 1`` run.
* **One file per task, largest first, results in file order; a worker that dies costs one file;
  start method and Ctrl-C as in the scan** (``pool_refactor.run.workers``). A file costs tens of
  milliseconds to seconds (libcst and the import visitors: 40 ms plus about 23 us a byte on real
  code). The file that kills a worker comes back as whatever ``crashed`` says (the fixer makes it a
  ``not fixed: ...`` error). Nothing has been written while the rewrites are being computed, so an
  interrupted run leaves every file as it was.
* **The parent's objects are frozen out of the workers' garbage collection** (``workers.frozen``
  while the pool runs): libcst allocates enough to trigger full collections, which would otherwise walk,
  and copy on write, the whole heap inherited from the scan. It saves about 7% of the workers' CPU
  on litellm (6.2-6.7 s down to 5.7-6.3 s, three runs each).
* **Small runs stay in one process**: see ``FIX_POOL_MIN_FILES`` and ``FIX_POOL_MIN_BYTES``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pool_refactor.paths import DiscoveredFile
from pool_refactor.run import workers

__all__ = ["FIX_POOL_MIN_BYTES", "FIX_POOL_MIN_FILES", "map_files"]

T = TypeVar("T")

FIX_POOL_MIN_FILES = 8
"""From this many files to rewrite on, they are rewritten in worker processes (also from two files
of ``FIX_POOL_MIN_BYTES``); one file always stays in the parent, there is nothing to share.

What a pool costs is not its start-up. Starting two forked workers, sending them the files and
collecting the rewrites costs 15-35 ms of CPU with a trivial task; with the real one, each worker's
first file costs 20-25 ms more than in the parent (3,300-4,000 copy-on-write page faults on the
pages of the parent's heap it touches, and caches the parent had warm), and the parent faults
again on the pages it writes after the fork.

Measured for issue 16 on /tmp/svc (3 files of 10.5, 5.7 and 5.3 KB, which take 85, 50-60 and
36-41 ms to rewrite in one process): a pool of two costs 50-65 ms more CPU in that phase and
0.05-0.12 s more over the whole `--diff` (paired runs at a load of 1-3), and is no faster: 1.26 s
against 1.24 s at a load of 1.4 (medians of 12 runs), slower above, where its workers wait for a
core. Three files split no better than 85 ms against 50 + 40 ms, each worker's first-file cost
on top.

Rewriting a file costs tens of milliseconds however small it is (libcst builds its matcher-based
import visitors again for every file), plus a few microseconds a byte: the 22 files of litellm
1.109.1 that `--diff` rewrites (256 KB) took 5.9 s in one process, a least-squares fit of 56 ms
plus 8.4 us a byte at a load of 10. From eight files, or ``FIX_POOL_MIN_BYTES``, the work is
several times the pool's cost, and a second worker saves more wall time than the CPU it adds.
"""

FIX_POOL_MIN_BYTES = 64 * 1024
"""Two files totalling this many bytes are also worth a pool (see ``FIX_POOL_MIN_FILES``).

Two files of 32 KiB take about 0.4 s to rewrite in one process: a second worker saves about 0.15 s
of wall time for the 50-100 ms of CPU it costs. Below that the two are about even on two cores
(three files of 21.5 KB in all: see ``FIX_POOL_MIN_FILES``), and the pool loses both on a loaded
machine, where the workers wait for a core.
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
    with workers.frozen():  # see the module's docstring
        return _pooled(compute, files, sizes, jobs, crashed)


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
# Worker side: ``compute`` is sent once per worker, not once per file.

_worker_compute: Callable[[DiscoveredFile], Any] | None = None


def _init_worker(compute: Callable[[DiscoveredFile], Any]) -> None:
    global _worker_compute
    _worker_compute = compute


def _task(file: DiscoveredFile) -> Any:
    assert _worker_compute is not None, "the pool's initializer sets it"
    return _worker_compute(file)


def _pooled(
    compute: Callable[[DiscoveredFile], T],
    files: Sequence[DiscoveredFile],
    sizes: Sequence[int],
    jobs: int,
    crashed: Callable[[DiscoveredFile], T],
) -> list[T]:
    count = min(jobs, len(files))
    return list(workers.map_in_order(_task, files, sizes, count, crashed, _init_worker, (compute,)))

"""The worker processes shared by the scan (``parallel``) and the fix (``fix_parallel``).

Both need the same four things, so they live here once:

* **How many**: ``--jobs``, else the CPUs this process may run on (``effective_jobs``).
* **Start method**: ``fork`` where the platform has it (start-up in milliseconds, and what the
  parent has imported or loaded is inherited for free); ``spawn`` elsewhere.
* **Ctrl-C is the parent's**: workers ignore SIGINT; the parent cancels what is queued and waits for
  what is running, instead of every worker printing its own KeyboardInterrupt traceback.
* **A worker that dies costs one item, not the run.** ``concurrent.futures`` rather than
  ``multiprocessing.Pool`` because a dead worker makes ``Pool.imap`` wait forever, while the
  executor raises ``BrokenProcessPool``. What has no result yet is then retried one item at a time
  in a fresh single worker, and the item that kills it again gets the caller's ``crashed`` result.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # imported where a pool starts: a warm run that needs none never loads them
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing.context import BaseContext

__all__ = ["isolate", "map_in_order", "mp_context", "start"]

Item = TypeVar("Item")
Result = TypeVar("Result")

Initializer = Callable[..., None]


def mp_context() -> BaseContext:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def start(
    workers: int, initializer: Initializer | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes that leave Ctrl-C to the parent, then run ``initializer``."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        workers, mp_context=mp_context(), initializer=_init_worker, initargs=(initializer, initargs)
    )


def _init_worker(initializer: Initializer | None, initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)


def map_in_order(
    task: Callable[[Item], Result],
    items: Sequence[Item],
    sizes: Sequence[int],
    workers: int,
    crashed: Callable[[Item], Result],
    initializer: Initializer | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Result]:
    """``task(item)`` for every item, in worker processes, yielded in the order of ``items``.

    One item per task, the largest (by ``sizes``) first, so that one big item does not start last
    and run alone at the end; items cost milliseconds to seconds, so a round trip each is noise.
    """
    from concurrent.futures.process import BrokenProcessPool

    executor = start(workers, initializer, initargs)
    futures: dict[int, Future[Result]] = {}
    broken_at = len(items)
    try:
        for index in sorted(range(len(items)), key=lambda i: (-sizes[i], i)):
            futures[index] = executor.submit(task, items[index])
        for index in range(len(items)):
            try:
                result = futures[index].result()
            except BrokenProcessPool:
                broken_at = index
                break
            yield result
    finally:
        # Also on Ctrl-C or a consumer that stops early: drop what is queued, do not finish it.
        executor.shutdown(wait=True, cancel_futures=True)
    if broken_at == len(items):
        return
    finished = {
        index: future.result()
        for index, future in futures.items()
        if index > broken_at and _succeeded(future)
    }
    missing = [index for index in range(broken_at, len(items)) if index not in finished]
    retried = isolate(task, [items[index] for index in missing], crashed, initializer, initargs)
    for index in range(broken_at, len(items)):
        yield finished[index] if index in finished else next(retried)


def _succeeded(future: Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def isolate(
    task: Callable[[Item], Result],
    items: Sequence[Item],
    crashed: Callable[[Item], Result],
    initializer: Initializer | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Result]:
    """After a worker died: one item at a time in a single fresh worker, to find the one that kills it."""
    from concurrent.futures.process import BrokenProcessPool

    index = 0
    while index < len(items):
        executor = start(1, initializer, initargs)
        try:
            for result in executor.map(task, items[index:], chunksize=1):
                yield result
                index += 1
        except BrokenProcessPool:
            yield crashed(items[index])
            index += 1
        finally:
            executor.shutdown(wait=True, cancel_futures=True)


def effective_jobs(jobs: int | None) -> int:
    """``--jobs``, defaulting to the CPUs this process may run on."""
    if jobs is not None:
        return max(1, jobs)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)

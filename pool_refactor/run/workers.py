"""The worker processes shared by the scan (``parallel``) and the fix (``fix_parallel``).

Both need the same four things, so they live here once:

* **How many**: ``--jobs``, else the CPUs this process may run on (``effective_jobs``).
* **Start method**: ``fork`` where the platform has it (start-up in milliseconds, and what the
  parent has imported or loaded is inherited for free); ``spawn`` elsewhere.
* **Ctrl-C is the parent's**: workers ignore SIGINT; the parent cancels what is queued and waits for
  what is running, instead of every worker printing its own KeyboardInterrupt traceback.
* **No fork while a module is being imported in a thread** (``prefetch``): every pool starts here,
  and waits for that import first.
* **One computation beside the parent** (``in_child``): a forked process computes what the parent
  needs later while the parent works on something else; if it fails, the parent computes it itself.
* **A worker that dies costs one item, not the run.** ``concurrent.futures`` rather than
  ``multiprocessing.Pool`` because a dead worker makes ``Pool.imap`` wait forever, while the
  executor raises ``BrokenProcessPool``. What has no result yet is then retried one item at a time
  in a fresh single worker, and the item that kills it again gets the caller's ``crashed`` result.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # imported where a pool starts: a warm run that needs none never loads them
    import threading
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing.context import BaseContext

__all__ = [
    "InChild",
    "frozen",
    "in_child",
    "idle_cpu",
    "isolate",
    "map_in_order",
    "mp_context",
    "prefetch",
    "prefetched",
    "start",
]

T = TypeVar("T")
Item = TypeVar("Item")
Result = TypeVar("Result")

Initializer = Callable[..., None]


def mp_context() -> BaseContext:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


_prefetching: list[threading.Thread] = []
_deferred: list[str] = []


def prefetch(module: str) -> None:
    """Import ``module`` in a thread of this process while it waits for its workers.

    ``--fix`` and ``--diff`` need libcst and the fixer after the scan (0.2-0.25 s of imports, most
    of it libcst building its node classes); the scan's workers keep the cores busy, but the parent
    mostly waits for their results, so the import is done by the time the scan is (the scan takes
    longer by about half of it on two cores, the run shorter by the other half).

    No process is forked while the thread may hold an import lock (the child would inherit it held):
    the thread starts at once only when workers are running (forked already), else right after the
    next pool's workers are forked (``map_in_order``), or never, if no pool starts (the module is
    then imported where it is used, with nothing to overlap); and ``start`` waits for it before
    it forks again. An import that fails here fails again, with its traceback, where the module is
    imported for use, after ``prefetched``."""
    if _workers_running():
        _launch(module)
    else:
        _deferred.append(module)


def _workers_running() -> bool:
    """Whether worker processes of this process are alive: its pool has forked them already (a
    ``ProcessPoolExecutor`` forks all its workers at its first task). Never imports anything."""
    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is not None and bool(multiprocessing.active_children())


def _launch(module: str) -> None:
    import importlib
    import threading

    def load() -> None:
        try:
            importlib.import_module(module)
        except Exception:  # reported where the module is imported for use
            return

    thread = threading.Thread(target=load, name=f"prefetch {module}", daemon=True)
    _prefetching.append(thread)
    thread.start()


def _launch_deferred() -> None:
    """The imports ``prefetch`` put off until workers run: called once a pool's are forked."""
    while _deferred:
        _launch(_deferred.pop(0))


def prefetched() -> None:
    """Wait for the imports ``prefetch`` started, and forget those it put off: before using what
    they import, and before a fork."""
    _deferred.clear()
    _wait_prefetching()


def _wait_prefetching() -> None:
    while _prefetching:
        _prefetching.pop().join()


def start(
    workers: int, initializer: Initializer | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes that leave Ctrl-C to the parent, then run ``initializer``."""
    from concurrent.futures import ProcessPoolExecutor

    _wait_prefetching()  # no fork while a thread imports (see `prefetch`)

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
        _launch_deferred()  # the workers are forked (at the first task)
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


_LOADAVG = "/proc/loadavg"


def idle_cpu(jobs: int) -> bool:
    """Whether, of the `jobs` CPUs this process may use, one is idle now besides the one it runs
    on: fewer runnable tasks on the machine than `jobs` (Linux's `/proc/loadavg`, the count at this
    instant, this process included); True where that cannot be read.

    Work moved to another process (``in_child``) saves wall time only when a CPU is free to take
    it, and costs its fork, its copied pages and cold caches either way: on /tmp/svc's `--diff`,
    reading ahead in a child saved 0.17 s at a load of 2-5 and cost 0.07 s of wall and CPU time at
    a load of 6 (medians of 12 paired runs)."""
    try:
        with open(_LOADAVG, "rb") as handle:
            runnable = int(handle.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return runnable < jobs


def effective_jobs(jobs: int | None) -> int:
    """``--jobs``, defaulting to the CPUs this process may run on."""
    if jobs is not None:
        return max(1, jobs)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class InChild(Generic[T]):
    """A computation running in a forked child process (``in_child``): its result once, or None.

    None means the child did not deliver (it raised, died or was killed, or its result did not
    arrive whole): the caller then computes the value itself, so the child can only save time,
    never change what a run does. ``close`` ends a child whose result is no longer wanted; it must
    be called (``in_child``'s callers do so in a ``finally``) so that no child is left behind."""

    def __init__(self, pid: int, reader: int, thaw: bool) -> None:
        self._pid = pid
        self._reader: int | None = reader
        self._thaw = thaw

    def result(self) -> T | None:
        """Wait for the child and return what it computed; None if it failed (see the class)."""
        reader = self._reader
        if reader is None:
            return None
        chunks: list[bytes] = []
        try:
            while chunk := os.read(reader, 1 << 20):
                chunks.append(chunk)
        except BaseException:
            self.close()  # Ctrl-C while waiting: the child ignores SIGINT, so it is ended here
            raise
        self._reader = None
        os.close(reader)
        _, status = os.waitpid(self._pid, 0)  # it has written all, and only exits after that
        self._reaped()
        if os.waitstatus_to_exitcode(status) != 0:
            return None
        import pickle

        try:
            value: T = pickle.loads(b"".join(chunks))
        except Exception:  # a result that did not arrive whole: the caller computes it again
            return None
        return value

    def close(self) -> None:
        """End the child if its result was not taken, and reap it; nothing once it was."""
        reader = self._reader
        if reader is None:
            return
        self._reader = None
        os.close(reader)
        try:
            os.kill(self._pid, signal.SIGKILL)
        except ProcessLookupError:  # exited already: a zombie until reaped below
            pass
        os.waitpid(self._pid, 0)
        self._reaped()

    def _reaped(self) -> None:
        if self._thaw:
            import gc

            gc.unfreeze()


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """This process's objects out of its garbage collection for the block (``gc.freeze``), and back
    in at its end unless they were frozen before it (blocks nest; an outer one thaws them).

    While a forked process shares the heap, a full collection here writes to every object's header
    and the kernel copies every page for it; and the fixer's rewrites (libcst) allocate enough to
    run full collections over the whole scan's heap in one process too (on /tmp/svc's `--diff`,
    the parent's collections took 90-110 ms, 50-70 with the heap frozen). Freezing moves no
    object and frees nothing: garbage cycles older than the block wait for its end."""
    import gc

    outermost = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if outermost:
            gc.unfreeze()


def in_child(compute: Callable[[], T]) -> InChild[T] | None:
    """``compute()`` in a forked child process, while this one goes on; None where there is no
    ``fork`` (the caller computes it itself, when it needs it).

    For work of tens to hundreds of milliseconds that the parent needs only later and that reads,
    never writes: forking costs a few milliseconds (the parent's pages are shared, not copied), and
    the result comes back pickled through a pipe. The objects both share are frozen out of the
    garbage collection of both (``gc.freeze``) until the child is reaped. A raw fork rather than a
    one-worker pool: no executor thread, no queues, no import of ``multiprocessing``. The same
    rules as the pools: no fork while a prefetch thread may hold an import lock, and Ctrl-C is the
    parent's."""
    if not hasattr(os, "fork"):
        return None
    import gc

    _wait_prefetching()  # no fork while a thread imports (see `prefetch`)
    reader, writer = os.pipe()
    # While the child runs, this process's collector leaves the objects it shares with it alone: a
    # full collection writes to every object's header, and the kernel would copy every page of the
    # heap for the writer (130-160 ms more CPU on /tmp/svc's `--diff`, whose rewrites collect).
    thaw = gc.get_freeze_count() == 0  # as `frozen`: thawed when reaped unless frozen already
    gc.freeze()
    # Ctrl-C held back across the fork: the child ignores it before it may arrive there.
    _mask_interrupt(signal.SIG_BLOCK)
    try:
        pid = os.fork()
    except OSError:
        _mask_interrupt(signal.SIG_UNBLOCK)
        if thaw:
            gc.unfreeze()
        os.close(reader)
        os.close(writer)
        return None
    if pid == 0:  # the child: never returns
        _run_child(compute, reader, writer)
    _mask_interrupt(signal.SIG_UNBLOCK)  # one that came meanwhile is raised here, in the parent
    os.close(writer)  # so that the parent reads an end of file once the child has written
    return InChild(pid, reader, thaw)


def _mask_interrupt(how: int) -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(how, {signal.SIGINT})


def _run_child(compute: Callable[[], Any], reader: int, writer: int) -> None:
    status = 1
    try:
        import pickle

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _mask_interrupt(signal.SIG_UNBLOCK)
        os.close(reader)
        data = memoryview(pickle.dumps(compute(), protocol=pickle.HIGHEST_PROTOCOL))
        while data:
            data = data[os.write(writer, data) :]
        status = 0
    finally:
        # Whatever happened: no exception handler, buffered output or exit hook of the parent's
        # runs here (they would print or flush a second time).
        os._exit(status)

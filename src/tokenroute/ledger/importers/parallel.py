"""Work on many files in worker processes, with the results handed back in the files' order.

A first import of a year of agent logs is mostly JSON parsing and pricing, which one Python
process does on one core. Workers do that part; the caller stores the results as they come,
in order, so what ends up in the ledger does not depend on how the work was split. Each
worker runs a bounded number of files ahead, so memory stays flat when storing is the slower
side.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

MAX_WORKERS = 4  # processes in all: past this, the one process that stores is the bottleneck
# Files a worker may run ahead: it keeps parsing while the caller stores a group (20,000 calls
# is ~100 files of a big tree); results wait in the caller's memory, a few MB a file at most.
AHEAD_PER_WORKER = 256

_task: tuple[Callable[..., Any], Any, Any] | None = None  # a worker's function, input, stop


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's limit included)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def in_order(
    work: Callable[..., Any], shared: Any, items: Iterable[tuple[Any, ...]], *, workers: int
) -> Iterator[Any]:
    """`work(shared, *item)` for each item, in order. `workers` counts the processes in all:
    this one, which takes the results (and stores them: a core's work of its own), and
    `workers - 1` that do the work; 1 does it all here. `work` must be a module-level
    function and `shared` picklable; `shared` is sent to each worker once."""
    if workers <= 1:
        for item in items:
            yield work(shared, *item)
        return
    # spawn, not fork: the same on every OS, and safe when the caller has threads running
    # (the progress bar's)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    stop = context.Event()  # set: the caller stopped; the workers skip what is left
    pool = ProcessPoolExecutor(
        workers - 1,
        mp_context=context,
        initializer=_start_worker,
        initargs=(work, shared, os.getpid(), stop),
    )
    finished = False
    try:
        todo = iter(items)
        with _no_interrupts():  # the workers start now: born deaf to Ctrl-C, they stay quiet
            running = deque(
                pool.submit(_work_on, item)
                for _, item in zip(range((workers - 1) * AHEAD_PER_WORKER), todo, strict=False)
            )
        while running:
            result = running.popleft().result()
            following = next(todo, None)
            if following is not None:
                running.append(pool.submit(_work_on, following))
            yield result
        finished = True
    finally:
        # on Ctrl-C or an error downstream: nothing new starts and the items the workers
        # hold already are skipped (their results were not going to be stored), so waiting
        # for the workers costs only the file each is reading; and none outlives the import,
        # nor a half-started one finds its parent's queues gone
        if not finished:
            stop.set()
        pool.shutdown(wait=True, cancel_futures=not finished)


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """SIGINT held back while worker processes start. They inherit the signal mask, so a
    Ctrl-C then never reaches them (no traceback from each half-started worker), and one
    that came meanwhile reaches this process as soon as they are started: it is not lost.
    Where signals cannot be blocked (Windows), SIGINT is ignored for that moment instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if hasattr(signal, "pthread_sigmask"):
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _start_worker(work: Callable[..., Any], shared: Any, parent: int, stop: Any) -> None:
    global _task
    _task = (work, shared, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()


def _end_with(parent: int) -> None:
    """Exit when the importer is gone (`kill -9` leaves no one to shut the pool down):
    an orphaned worker would live on, and keep multiprocessing's resource tracker alive."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


ORPHAN_CHECK_S = 0.25


def _work_on(item: tuple[Any, ...]) -> Any:
    assert _task is not None
    work, shared, stop = _task
    if stop.is_set():
        return None  # the caller has stopped: nobody will read this result
    return work(shared, *item)

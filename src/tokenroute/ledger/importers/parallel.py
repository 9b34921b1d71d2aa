"""Work on many files in worker processes, with the results handed back in the files' order.

A first import of a year of agent logs is mostly JSON parsing and pricing, which one Python
process does on one core. Workers do that part; the caller stores the results as they come,
in order, so what ends up in the ledger does not depend on how the work was split. Each
worker runs a bounded number of files ahead, so memory stays flat when storing is the slower
side.

Not concurrent.futures: its pool moves every item and result through a thread of the
caller's, which must win the GIL from the caller's own storing for each one, and the worker
waits meanwhile: 10% of a first import's time. Here the caller sends the items itself, ahead,
and reads each result when it wants it; a worker hands its results to a thread of its own
that writes them out, so it never waits for the caller.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tokenroute.errors import TokenrouteError

MAX_WORKERS = 4  # processes in all: past this, the one process that stores is the bottleneck
# Files a worker may run ahead: it keeps parsing while the caller stores a group (20,000 calls
# is ~100 files of a big tree); results wait in memory, a few MB a file at most.
AHEAD_PER_WORKER = 256
LIVENESS_CHECK_S = 0.2  # how often a caller waiting for a result checks the workers are alive
# A worker's writer thread must take the GIL back from the parsing after each result it
# writes: by default that takes up to 5 ms, and at 250 files a second the results queue up.
WORKER_SWITCH_INTERVAL_S = 0.0002
PROTOCOL = pickle.HIGHEST_PROTOCOL
WORKERS_VARIABLE = "TOKENROUTE_IMPORT_WORKERS"  # 1 keeps an import in one process


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's limit included)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class WorkerGone(TokenrouteError):
    """A worker process ended while it had work (killed, out of memory): the import stops
    where its last stored group ended."""


def in_order(
    work: Callable[..., Any], shared: Any, items: Iterable[tuple[Any, ...]], *, workers: int
) -> Iterator[Any]:
    """`work(shared, *item)` for each item, in order. `workers` counts the processes in all:
    this one, which takes the results (and stores them: a core's work of its own), and
    `workers - 1` that do the work; 1 does it all here. `work` must be a module-level
    function and `shared` picklable; `shared` is sent to each worker once. An exception
    that `work` raises is raised here, at its item's turn."""
    if workers <= 1:
        for item in items:
            yield work(shared, *item)
        return
    # spawn, not fork: the same on every OS, and safe when the caller has threads running
    # (the progress bar's)
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    stop = context.Event()  # set: the caller stopped; the workers skip what is left
    tasks = context.SimpleQueue()  # (number, item), then None: no more
    results = context.Queue()  # (number, failed, pickled result or exception)
    with _no_interrupts():  # the workers start now: born deaf to Ctrl-C, they stay quiet
        processes = [
            context.Process(target=_serve, args=(work, shared, os.getpid(), stop, tasks, results))
            for _ in range(workers - 1)
        ]
        for process in processes:
            process.start()
    todo = list(items)
    sent = 0  # todo[:sent] went to the workers
    finished = False
    try:
        while sent < min(len(todo), (workers - 1) * AHEAD_PER_WORKER):
            tasks.put((sent, todo[sent]))
            sent += 1
        arrived: dict[int, tuple[bool, bytes]] = {}  # results that came before their turn
        for wanted in range(len(todo)):
            while wanted not in arrived:
                number, failed, payload = _next_result(results, processes)
                arrived[number] = (failed, payload)
            failed, payload = arrived.pop(wanted)
            if sent < len(todo):
                tasks.put((sent, todo[sent]))
                sent += 1
            if failed:
                exc, remote = pickle.loads(payload)
                raise exc from _RemoteTraceback(remote)
            yield pickle.loads(payload)
        finished = True
    finally:
        # on Ctrl-C or an error downstream: nothing new starts and the items the workers
        # hold already are skipped (their results were not going to be stored), so waiting
        # for the workers costs only the file each is reading; and none outlives the import
        if not finished:
            stop.set()
        for process in processes:
            if process.is_alive():
                tasks.put(None)  # each live worker reads one and ends
        for process in processes:
            process.join()
        results.close()
        tasks.close()


def _next_result(results: Any, processes: list[Any]) -> tuple[int, bool, bytes]:
    """The next result any worker sends; WorkerGone once one has ended without finishing."""
    while True:
        try:
            return results.get(timeout=LIVENESS_CHECK_S)
        except queue.Empty:
            for process in processes:
                if not process.is_alive():
                    raise WorkerGone(_gone(process.exitcode)) from None


def _gone(exitcode: int | None) -> str:
    how = f"was killed (signal {-exitcode})" if exitcode and exitcode < 0 else "ended"
    return (
        f"an import worker process {how} before its files were read (out of memory?); "
        "what was stored so far is kept: run the import again to go on, or with "
        f"{WORKERS_VARIABLE}=1 to read in this process alone"
    )


class _RemoteTraceback(Exception):
    """Where in the worker an exception was raised (shown by --debug's traceback)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _serve(
    work: Callable[..., Any], shared: Any, parent: int, stop: Any, tasks: Any, results: Any
) -> None:
    """A worker's life: each item it is sent, worked on and sent back (pickled here, so a
    result that cannot be pickled fails here, at its item)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    sys.setswitchinterval(WORKER_SWITCH_INTERVAL_S)
    # every result is read before the caller says there is no more, but one that stopped
    # reads no more: a worker then ends without waiting to write what nobody will read
    results.cancel_join_thread()
    while (task := tasks.get()) is not None:
        number, item = task
        if stop.is_set():
            results.put((number, False, _NOTHING))
            continue
        try:
            results.put((number, False, pickle.dumps(work(shared, *item), PROTOCOL)))
        except Exception as exc:
            results.put((number, True, _pickled_failure(exc)))


_NOTHING = pickle.dumps(None, PROTOCOL)


def _pickled_failure(exc: Exception) -> bytes:
    """The exception and its traceback, to raise in the caller; one that cannot be pickled
    is described instead."""
    remote = "".join(traceback.format_exception(exc))
    try:
        return pickle.dumps((exc, remote), PROTOCOL)
    except Exception:
        described = RuntimeError(f"{type(exc).__name__}: {exc}")
        return pickle.dumps((described, remote), PROTOCOL)


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


def _end_with(parent: int) -> None:
    """Exit when the importer is gone (`kill -9` leaves no one to shut the pool down):
    an orphaned worker would live on, and keep multiprocessing's resource tracker alive."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


ORPHAN_CHECK_S = 0.25

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
LIVENESS_WAIT_S = 1.0  # for a worker whose pipe closed to be gone, and its exit code known
GOODBYE_S = 1.0  # for a worker told there is no more to end, before it is ended
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
    work: Callable[..., Any],
    shared: Any,
    items: Iterable[tuple[Any, ...]],
    *,
    workers: int,
    here: int = 0,
) -> Iterator[Any]:
    """`work(shared, *item)` for each item, in order. `workers` counts the processes in all:
    this one, which takes the results (and stores them: a core's work of its own), and
    `workers - 1` that do the work; 1 does it all here. `here`: the first items are worked
    on in this process, while the workers start on the ones after (otherwise it would wait
    for their first results); and whenever the workers are behind, the next item not yet
    sent is worked on here rather than waited for. `work` must be a module-level function
    and `shared` picklable; `shared` is sent to each worker once. An exception that `work`
    raises is raised here, at its item's turn."""
    if workers <= 1:
        for item in items:
            yield work(shared, *item)
        return
    # spawn, not fork: the same on every OS, and safe when the caller has threads running
    # (the progress bar's)
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    # (number, item), then None: no more; written by a thread of its own, so sending never
    # waits for a worker (not even one that died with the pipe full)
    tasks = context.Queue()
    processes: list[Any] = []
    readers: list[Any] = []  # each worker's results come down a pipe of its own
    todo = list(items)
    here = min(here, len(todo))
    sent = here  # todo[here:sent] went to the workers
    finished = False
    try:
        # the workers start now: born deaf to Ctrl-C, they stay quiet; one that comes
        # meanwhile is raised as they are started, and the finally ends them
        with _no_interrupts():
            for _ in range(workers - 1):
                reader, writer = context.Pipe(duplex=False)
                readers.append(reader)
                try:
                    process = context.Process(
                        target=_serve, args=(work, shared, os.getpid(), tasks, writer)
                    )
                    process.daemon = True  # ended with this process, whatever happens to it
                    process.start()
                    processes.append(process)
                finally:
                    writer.close()  # the worker holds the only writing end: its end is an EOF
        while sent < min(len(todo), here + (workers - 1) * AHEAD_PER_WORKER):
            tasks.put((sent, todo[sent]))
            sent += 1
        for item in todo[:here]:
            yield work(shared, *item)
        ahead = sent - here  # items sent or taken beyond the one wanted, at most
        arrived: dict[int, tuple[bool, Any]] = {}  # results that came before their turn
        for wanted in range(here, len(todo)):
            while wanted not in arrived:
                if (
                    sent < len(todo)
                    and sent - wanted < 2 * ahead
                    and not _anything_came(readers, processes)
                ):
                    # the workers are behind: rather than wait, the next item is worked
                    # on here (a first import of 1M lines waited 1.2 s of its 6.5 s); the
                    # items sent stay the workers', and the results kept for their turn
                    # stay within twice the window (a worker's may be a window ahead too)
                    arrived[sent] = _worked_here(work, shared, todo[sent])
                    sent += 1
                    continue
                number, failed, value = _next_result(readers, processes)
                arrived[number] = (failed, value)
            failed, value = arrived.pop(wanted)
            if sent < len(todo) and sent - wanted <= ahead:  # items taken here count too
                tasks.put((sent, todo[sent]))
                sent += 1
            if failed:
                exc, remote = value
                if remote is None:  # raised here
                    raise exc
                raise exc from _RemoteTraceback(remote)
            yield value
        finished = True
    finally:
        # done: each worker reads its None and ends. Stopped (Ctrl-C, an error downstream,
        # a worker gone): what the workers hold was not going to be stored, so they are
        # ended at once; so is one still waiting for an item after a moment (a worker that
        # died waiting for one held the items' lock). None outlives the import.
        if finished:
            for _ in processes:
                tasks.put(None)
        for process in processes:
            if finished:
                process.join(GOODBYE_S)
            if process.is_alive():
                process.terminate()
        tasks.cancel_join_thread()  # what is left unread is not waited for at exit
        for process in processes:
            process.join()
        for reader in readers:
            reader.close()
        tasks.close()


def _next_result(readers: list[Any], processes: list[Any]) -> tuple[int, bool, Any]:
    """The next result any worker sends (number, failed, value); WorkerGone once a worker
    has ended, found by its pipe's end, or by its process (on Windows a pipe can outlive a
    worker that died as it started)."""
    from multiprocessing.connection import wait

    ended = {process.sentinel: process for process in processes}
    while True:
        for ready in wait([*readers, *ended]):
            if ready in ended:
                process = ended[ready]
                try:
                    unread = readers[processes.index(process)].poll()
                except OSError:
                    unread = False
                if unread:
                    continue  # what it sent before it ended is read first
                raise WorkerGone(_gone(process))
            try:
                return pickle.loads(ready.recv_bytes())
            except (EOFError, OSError):  # its pipe closed between results, or in one
                raise WorkerGone(_gone(processes[readers.index(ready)])) from None


def _anything_came(readers: list[Any], processes: list[Any]) -> bool:
    """Whether a result (or a worker's end) is there to be read at once."""
    from multiprocessing.connection import wait

    return bool(wait([*readers, *(process.sentinel for process in processes)], timeout=0))


def _worked_here(work: Callable[..., Any], shared: Any, item: tuple[Any, ...]) -> tuple[bool, Any]:
    """(failed, value) of one item worked on in this process, as a worker's result is
    kept until its turn; an exception is kept with no remote traceback."""
    try:
        return False, work(shared, *item)
    except Exception as exc:
        return True, (exc, None)


def _gone(process: Any) -> str:
    process.join(LIVENESS_WAIT_S)  # its pipe closes as it dies: its exit code follows
    code = process.exitcode
    how = f"was killed (signal {-code})" if code is not None and code < 0 else f"ended ({code})"
    return (
        f"an import worker process {how} before it had read its files (out of memory?); "
        "what was stored so far is kept: run the import again to go on, or with "
        f"{WORKERS_VARIABLE}=1 to read in this process alone"
    )


class _RemoteTraceback(Exception):
    """Where in the worker an exception was raised (shown by --debug's traceback)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _serve(work: Callable[..., Any], shared: Any, parent: int, tasks: Any, results: Any) -> None:
    """A worker's life: each item it is sent, worked on and pickled here (a result that
    cannot be pickled fails at its item), then written out by a thread of its own, so the
    work goes on while the caller is busy storing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    sys.setswitchinterval(WORKER_SWITCH_INTERVAL_S)
    outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    writer = threading.Thread(target=_write_out, args=(outbox, results), daemon=True)
    writer.start()
    while (task := tasks.get()) is not None:
        number, item = task
        try:
            outbox.put(pickle.dumps((number, False, work(shared, *item)), PROTOCOL))
        except Exception as exc:
            outbox.put(_pickled_failure(number, exc))
    outbox.put(None)
    writer.join()  # the caller reads every result before it says there is no more


def _write_out(outbox: queue.SimpleQueue[bytes | None], results: Any) -> None:
    while (payload := outbox.get()) is not None:
        results.send_bytes(payload)


def _pickled_failure(number: int, exc: Exception) -> bytes:
    """The exception and its traceback, to raise in the caller; one that cannot be pickled
    is described instead."""
    remote = "".join(traceback.format_exception(exc))
    try:
        return pickle.dumps((number, True, (exc, remote)), PROTOCOL)
    except Exception:
        described = RuntimeError(f"{type(exc).__name__}: {exc}")
        return pickle.dumps((number, True, (described, remote)), PROTOCOL)


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

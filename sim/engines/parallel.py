"""Run independent tasks on a process pool and hand back their results in task order.

The pool's workers never outlive this process, and stop with it: a worker dies when its parent
dies (even by SIGKILL), ignores Ctrl-C (the parent decides), and anything that ends the caller's
loop early (Ctrl-C, SIGTERM turned into an exception by the command line, a failed task, an
abandoned iterator) kills the workers at once instead of waiting for the tasks they are running.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager

import tqdm

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_CHECK_INTERVAL = 0.5  # seconds between a watchdog's looks at its worker's parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_live_pools: set[ProcessPoolExecutor] = set()  # pools whose workers may be running; see end_pools
_cluster = None  # a Dask client while on_cluster is in force: tasks go there instead of to a pool
CONNECT_TIMEOUT = "5s"  # how long --scheduler waits for a scheduler to answer


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def fork_context():
    """Fork where the platform has it: rules a user registered in this process reach the workers."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    return multiprocessing.get_context(method)


def map_in_order(func: Callable, tasks: list[tuple], workers: int | None = None, **options) -> Iterator:
    """Yield ``func(*task, **options)`` for each task, in task order, on up to ``workers`` processes.

    One worker (or one task) runs in this process, with no pool. Results come back in order so
    that callers fold them deterministically whatever the number of workers.
    """
    for _, result in _map(func, list(enumerate(tasks)), workers, options, in_order=True):
        yield result


def map_as_completed(func: Callable, tasks: list[tuple[Hashable, tuple]], workers: int | None = None,
                     **options) -> Iterator[tuple[Hashable, object]]:
    """Yield ``(key, func(*args, **options))`` for each ``(key, args)`` task as it finishes.

    For callers that save each result as soon as it exists (a sweep's points), so that an
    interruption loses only the tasks in flight. One worker runs the tasks here, in order.
    """
    yield from _map(func, tasks, workers, options, in_order=False)


def end_pools() -> None:
    """Kill the workers of every pool still open in this process, without waiting for their tasks.

    For the command line's way out: an exception raised in a caller's loop body (between two
    results) leaves the iterator, and its pool, alive until the iterator is collected; at exit the
    standard library would then wait for every queued task.
    """
    for pool in list(_live_pools):
        _end(pool)


@contextmanager
def on_cluster(client):
    """Within the block, :func:`map_in_order` and :func:`map_as_completed` submit their tasks to the
    Dask ``client`` (a ``dask.distributed.Client``) instead of a local pool, so that a calibration's
    or an evaluation's batches run on a cluster. The tasks and their order are the same, so the
    numbers are too; ``client`` None leaves the local pool in force."""
    global _cluster
    before, _cluster = _cluster, client
    try:
        yield
    finally:
        _cluster = before


def connect(address: str):
    """A Dask client of the scheduler at ``address``; one clear line (InputError) when Dask is missing
    or nothing answers there."""
    from sim.core.errors import InputError

    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--scheduler needs Dask: pip install 'escalation-sim[dask]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--scheduler {address}: cannot reach a Dask scheduler there ({exc})") from None


@contextmanager
def on_scheduler(address: str | None):
    """:func:`on_cluster` with a client of the scheduler at ``address`` (None: the local pool), closed
    at the end of the block: what a command's ``--scheduler`` does."""
    if address is None:
        yield
        return
    client = connect(address)
    try:
        with on_cluster(client):
            yield
    finally:
        client.close()


def _on_cluster(func, tasks, options, in_order: bool):
    from dask.distributed import as_completed

    futures = {_cluster.submit(func, *args, pure=False, **options): key for key, args in tasks}
    try:
        if in_order:
            for future, key in list(futures.items()):
                yield key, future.result()
            return
        for future in as_completed(list(futures)):
            yield futures[future], future.result()
    except BaseException:  # the caller stopped early, or a task failed: drop what is still queued
        _cluster.cancel(list(futures))
        raise


def _map(func, tasks, workers, options, in_order: bool):
    if _cluster is not None and tasks:
        yield from _on_cluster(func, tasks, options, in_order)
        return
    workers = min(workers or default_workers(), len(tasks))
    if workers <= 1:
        for key, args in tasks:
            yield key, func(*args, **options)
        return
    pool = _start_pool(workers)
    try:
        with _signals_held(STOP_SIGNALS):  # the first submit forks the workers
            pending = {pool.submit(func, *args, **options): key for key, args in tasks}
        if in_order:
            for future, key in list(pending.items()):
                yield key, future.result()
            return
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=pending.get):
                yield pending.pop(future), future.result()
    except BaseException:  # KeyboardInterrupt, a task's error, GeneratorExit when the caller stops early
        _end(pool)
        raise
    finally:
        _live_pools.discard(pool)
        pool.shutdown()  # after _end, a no-op; else the idle workers exit on their own


def _start_pool(workers: int) -> ProcessPoolExecutor:
    _stop_tqdm_monitor()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=fork_context(), initializer=_init_worker,
                               initargs=(os.getpid(), threading.main_thread().ident))
    _live_pools.add(pool)
    return pool


def _stop_tqdm_monitor() -> None:
    # tqdm's monitor thread (started with the first progress bar, to refresh stalled bars) would make
    # this pool a fork of a multi-threaded process, which can deadlock a worker (Python 3.12 warns
    # of it). Our bars are updated as results arrive and need no monitor. A bar opened before the
    # first pool (callers open theirs before asking for results) has already started one: stop it.
    # Each bar class keeps its own (tqdm.auto's is a subclass), so look at every subclass.
    tqdm.tqdm.monitor_interval = 0  # inherited by the subclasses
    classes = [tqdm.tqdm]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        monitor = cls.__dict__.get("monitor")
        if monitor is not None:
            cls.monitor = None
            monitor.exit()  # wakes it and joins it


def _end(pool: ProcessPoolExecutor) -> None:
    """Drop ``pool``'s queued tasks and kill its workers now: shutdown alone waits for running tasks."""
    processes = list((pool._processes or {}).values())  # the workers; Python 3.14 adds pool.kill_workers()
    for process in processes:
        process.kill()  # workers hold nothing to clean up: results travel only through the pool's pipe
    pool.shutdown(wait=True, cancel_futures=True)  # the manager thread sees the dead workers and ends
    for process in processes:
        process.join()
    _live_pools.discard(pool)


@contextmanager
def _signals_held(signals):
    """Block ``signals`` in this thread for the block; any that arrive are delivered after it.

    Forked workers inherit the mask, so a Ctrl-C that reaches the process group between the fork
    and the worker's initializer waits for the initializer, which ignores it, instead of raising
    KeyboardInterrupt in a half-started worker (which would print a traceback).
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _init_worker(parent: int, parent_main_thread: int) -> None:
    """Runs first in each worker: leave Ctrl-C to the parent, and die when the parent dies."""
    # Ctrl-C at a terminal signals the whole process group; the parent catches it and kills us.
    # SIGTERM must simply end a worker: the handler the command line installs in the parent (which
    # the fork copied) would turn it into an exception inside a task, caught and sent back.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by _signals_held around the fork
    # Two ways to follow the parent into death. prctl(PR_SET_PDEATHSIG) has the kernel send SIGKILL
    # the moment the parent dies, however it dies, whatever this worker is doing (no polling, no
    # GIL). But it fires when the *thread* that forked us exits, not the process. With the fork
    # start method ProcessPoolExecutor (3.11 to 3.13) forks all its workers in the first submit(),
    # in the caller's thread, and never later from its manager thread (replacing workers needs
    # max_tasks_per_child, which it refuses with fork). We need not rely on that: after a fork the
    # child's one thread is a copy of the forking thread, with its id, so we know which thread
    # forked us. If it was the parent's main thread, which lives as long as the process, prctl is
    # exact. If it was another (a program using the library may run an ensemble in a request
    # thread), prctl would kill us when that thread ends, perhaps while the pool is still in use;
    # then, and off Linux, a daemon thread watches getppid() instead, which changes only when the
    # whole parent process is gone (we are handed to init or a subreaper). It needs the GIL and
    # polls, hence second choice.
    if not (threading.get_ident() == parent_main_thread and _die_with_parent_linux()):
        threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()
    if os.getppid() != parent:  # the parent died before either was in place
        os._exit(1)


def _die_with_parent_linux() -> bool:
    """Ask Linux to SIGKILL this process when the thread that forked it exits; False if it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL)
    os._exit(1)  # from any thread, ends the whole worker at once


def chunks(total: int, size: int) -> Iterable[tuple[int, int]]:
    """(start, stop) pairs covering range(total) in pieces of ``size``."""
    return [(start, min(start + size, total)) for start in range(0, total, size)]

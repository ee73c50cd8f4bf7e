"""Run independent tasks on a process pool and hand back their results in task order."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

import tqdm

# tqdm's monitor thread (started with the first progress bar, to refresh stalled bars) would make
# every later pool a fork of a multi-threaded process, which can deadlock a worker (Python 3.12
# warns of it). Our bars are updated as results arrive and need no monitor.
tqdm.tqdm.monitor_interval = 0


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
    workers = min(workers or default_workers(), len(tasks))
    if workers <= 1:
        for task in tasks:
            yield func(*task, **options)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=fork_context()) as pool:
        futures = [pool.submit(func, *task, **options) for task in tasks]
        for future in futures:
            yield future.result()


def chunks(total: int, size: int) -> Iterable[tuple[int, int]]:
    """(start, stop) pairs covering range(total) in pieces of ``size``."""
    return [(start, min(start + size, total)) for start in range(0, total, size)]

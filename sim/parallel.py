"""Run independent tasks on a process pool and hand back their results in task order."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

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
    for _, result in _map(func, list(enumerate(tasks)), workers, options, in_order=True):
        yield result


def map_as_completed(func: Callable, tasks: list[tuple[Hashable, tuple]], workers: int | None = None,
                     **options) -> Iterator[tuple[Hashable, object]]:
    """Yield ``(key, func(*args, **options))`` for each ``(key, args)`` task as it finishes.

    For callers that save each result as soon as it exists (a sweep's points), so that an
    interruption loses only the tasks in flight. One worker runs the tasks here, in order.
    """
    yield from _map(func, tasks, workers, options, in_order=False)


def _map(func, tasks, workers, options, in_order: bool):
    workers = min(workers or default_workers(), len(tasks))
    if workers <= 1:
        for key, args in tasks:
            yield key, func(*args, **options)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=fork_context()) as pool:
        pending = {pool.submit(func, *args, **options): key for key, args in tasks}
        if in_order:
            for future, key in list(pending.items()):
                yield key, future.result()
            return
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=pending.get):
                yield pending.pop(future), future.result()


def chunks(total: int, size: int) -> Iterable[tuple[int, int]]:
    """(start, stop) pairs covering range(total) in pieces of ``size``."""
    return [(start, min(start + size, total)) for start in range(0, total, size)]

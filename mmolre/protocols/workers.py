"""Independent runs in worker processes: :func:`run_jobs` maps a function over jobs either in this process
(``workers=1``) or in ``workers`` spawned processes, each with its own share of the CPU threads.

Every job must be picklable (a module-level function or a ``functools.partial`` of one, with picklable arguments).
The results come back in the order of the jobs, whatever order they finished in. An exception in a job or Ctrl-C
(or SIGTERM where it is raised as an exception, as the command line does) stops every worker; their per-epoch
checkpoints let the runs resume. A worker whose parent has gone (a notebook kernel shut down, a process killed
outright) ends itself within a few seconds instead of training on. A run's results match one process's when its
train_config fixes ``num_threads`` (float sums depend on the thread count).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

import torch

J = TypeVar("J")
R = TypeVar("R")
PARENT_POLL_SECONDS = 2.0
"""How often a worker checks that the process which started it is still there."""


def _watch_parent(parent: int) -> None:
    """End this process as soon as its parent is no longer ``parent`` (the parent died and it was adopted)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _start_worker(parent: int, threads: int) -> None:
    """A worker's initialiser: its torch threads (a run whose train_config sets ``num_threads`` sets its own), and a
    daemon thread that ends it when its parent goes."""
    torch.set_num_threads(threads)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="watch-parent").start()


def check_workers(workers: object) -> int:
    """``workers`` when it is an integer >= 1 (not a bool), otherwise a ValueError naming it."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    return workers


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it, else the machine's)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def run_jobs(function: Callable[[J], R], jobs: Sequence[J], workers: int = 1) -> list[R]:
    """``[function(job) for job in jobs]``, in this process when ``workers`` is 1 (or there is one job), otherwise in
    ``min(workers, len(jobs))`` spawned processes that share this machine's cores between them."""
    if check_workers(workers) == 1 or len(jobs) <= 1:
        return [function(job) for job in jobs]
    processes = min(workers, len(jobs))
    threads = max(1, usable_cores() // processes)
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads or a kernel
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(processes, context, initializer=_start_worker, initargs=(os.getpid(), threads))
    try:
        futures = [pool.submit(function, job) for job in jobs]  # started in this order, one job per free worker
        for future in as_completed(futures):
            future.result()  # raises at the first failure, not after the jobs before it in the list
        return [future.result() for future in futures]
    except BaseException:  # a failed job, Ctrl-C, SIGTERM: stop the runs still training instead of waiting for them
        for worker in set(multiprocessing.active_children()) - before:
            worker.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

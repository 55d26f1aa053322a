"""Running one function over many images on all cores, in order, with a progress bar (:func:`map_parallel`)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np
from tqdm.auto import tqdm

__all__ = ["map_parallel"]


def _init_worker():
    cv2.setNumThreads(1)


def _pool_context():
    """A 'forkserver' context on POSIX: workers fork from a clean server process, never from a parent whose
    OpenCV / BLAS threads a plain fork would copy in a locked state (a hang). The server preloads cxrlib."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["cxrlib.preprocess.cache"])
    return context


def map_parallel(func, tasks, *, workers=None, progress=True, desc=None):
    """``[func(t) for t in tasks]`` over a process pool, in order, with a progress bar.

    Workers start from a fork server (see :func:`_pool_context`): a script that calls this needs the
    usual ``if __name__ == "__main__":`` guard; notebooks and ``python -m cxrlib`` do not.

    Parameters
    ----------
    func : callable
        A module-level (picklable) function of one argument.
    tasks : sequence
    workers : int, optional
        Processes (default: all cores); 1 runs in this process.
    progress : bool, optional
    desc : str, optional
        Progress bar label.

    Returns
    -------
    results : list
    """
    tasks = list(tasks)
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None (all cores), got {workers!r}")
    workers = min(int(workers), max(1, len(tasks)))
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress, unit="img")
    results = []
    if workers == 1:
        for task in tasks:
            results.append(func(task))
            bar.update()
    else:
        chunksize = max(1, min(16, len(tasks) // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_init_worker) as pool:
            for result in pool.map(func, tasks, chunksize=chunksize):
                results.append(result)
                bar.update()
    bar.close()
    return results

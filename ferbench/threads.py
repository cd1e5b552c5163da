"""Independent numpy / LIBLINEAR work side by side in threads (a feature family's folds).

LIBLINEAR's training and LAPACK's eigh release the GIL, so on a machine with c cores c fold fits
run at once. Each thread gets one BLAS thread (the matrices are ~200 x 200, where several BLAS
threads per call cost more than they gain). A map inside a map runs in its caller's thread, so
nested loops never start more threads than there are cores.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

from ferbench.errors import FerbenchError

T = TypeVar("T")
R = TypeVar("R")
ENV = "FERBENCH_THREADS"
_INSIDE = threading.local()


def available_threads() -> int:
    """Worker threads to use: FERBENCH_THREADS if set, else the cores this process may run on."""
    text = os.environ.get(ENV, "").strip()
    if text:
        try:
            count = int(text)
        except ValueError:
            count = 0
        if count < 1:
            raise FerbenchError(f"{ENV}={text!r}: expected an integer >= 1")
        return count
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=1)
def _blas_controller():
    """The BLAS libraries of numpy and scipy, found once: `threadpool_limits` scans every loaded
    library on each call, about 6 ms with TensorFlow loaded, and a grid maps threads ~100 times."""
    import scipy.linalg  # noqa: F401 - loads scipy's own OpenBLAS before the scan
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def thread_map(
    fn: Callable[[T], R], items: Iterable[T], threads: int | None = None, ignore: tuple[type[Warning], ...] = ()
) -> Iterator[R]:
    """fn over items, results in order. The first exception is raised when its item is reached,
    and work not yet started is cancelled.

    `ignore`: warning categories silenced while the map runs. Python 3.11's warning filters are
    one process-wide list, and two threads that save and restore it at once can leave either
    one's filter behind for good. So the thread that starts the pool changes them, around the
    whole pool (the consumer's code between results runs under the same filters), and workers
    never do (`quiet` is a no-op in them)."""
    items = list(items)
    threads = min(threads or available_threads(), len(items))
    if in_worker():
        yield from map(fn, items)  # the outer map's threads, and its warning filters
        return

    def run(item):
        _INSIDE.active = True
        return fn(item)

    with quiet(*ignore):
        yield from (map(fn, items) if threads < 2 else _pooled(run, items, threads))


@contextmanager
def one_blas_thread():
    """BLAS and OpenMP on one thread here (already so in a worker). For small LAPACK calls such
    as a fold's eigendecomposition: on an idle machine one thread costs the same at 212 x 212,
    and on a loaded one several OpenBLAS threads wait on each other (measured with a load of 3.7
    on 2 cores: 93 ms against 11 at 212 x 212, 1.8 s against 0.27 s at 980 x 980)."""
    if in_worker():
        yield
        return
    with _blas_controller().limit(limits=1):
        yield


def in_worker() -> bool:
    """True in a thread that thread_map started."""
    return getattr(_INSIDE, "active", False)


@contextmanager
def quiet(*categories: type[Warning]):
    """Ignore these warning categories here, unless this is a worker thread: there the thread
    that started the pool has already done so (see thread_map)."""
    if in_worker() or not categories:
        yield
        return
    with warnings.catch_warnings():
        for category in categories:
            warnings.simplefilter("ignore", category)
        yield


def _pooled(run: Callable[[T], R], items: list[T], threads: int) -> Iterator[R]:
    with one_blas_thread(), ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(run, item) for item in items]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

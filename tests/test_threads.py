"""ferbench.threads: ordered results, the first error raised, nested maps kept in their thread."""

from __future__ import annotations

import threading

import pytest

from ferbench.errors import FerbenchError
from ferbench.threads import available_threads, thread_map


def test_results_come_back_in_input_order_from_several_threads(monkeypatch):
    monkeypatch.setenv("FERBENCH_THREADS", "3")
    seen = set()

    def square(x):
        seen.add(threading.get_ident())
        return x * x

    assert list(thread_map(square, range(40))) == [x * x for x in range(40)]
    assert threading.get_ident() not in seen  # the work ran in worker threads


def test_a_failing_item_raises_its_own_error(monkeypatch):
    monkeypatch.setenv("FERBENCH_THREADS", "2")

    def check(x):
        if x == 5:
            raise ValueError("item 5")
        return x

    with pytest.raises(ValueError, match="item 5"):
        list(thread_map(check, range(20)))


def test_a_map_inside_a_map_runs_in_its_callers_thread(monkeypatch):
    monkeypatch.setenv("FERBENCH_THREADS", "2")

    def inner_threads(_):
        outer = threading.get_ident()
        return {outer} == {ident for ident in thread_map(lambda _: threading.get_ident(), range(4))}

    assert all(thread_map(inner_threads, range(4)))


@pytest.mark.parametrize("text", ["0", "two", "-1"])
def test_a_bad_thread_count_is_named(monkeypatch, text):
    monkeypatch.setenv("FERBENCH_THREADS", text)
    with pytest.raises(FerbenchError, match="FERBENCH_THREADS"):
        available_threads()


def test_workers_run_one_blas_thread_and_the_limit_is_lifted_after(monkeypatch):
    import scipy.linalg  # noqa: F401 - its own OpenBLAS is limited too
    from threadpoolctl import threadpool_info, threadpool_limits

    monkeypatch.setenv("FERBENCH_THREADS", "2")

    def blas_threads(_):
        return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})

    with threadpool_limits(limits=2, user_api="blas"):
        assert list(thread_map(blas_threads, range(4))) == [[1]] * 4
        assert blas_threads(None) == [2]


def test_workers_never_touch_the_warning_filters_and_the_caller_restores_them(monkeypatch):
    import warnings

    from ferbench.threads import quiet

    monkeypatch.setenv("FERBENCH_THREADS", "2")
    before = list(warnings.filters)

    def warn_inside_quiet(x):
        filters = warnings.filters
        with quiet(UserWarning):  # a worker's own request: a no-op, the pool's starter did it
            assert warnings.filters is filters
            warnings.warn(f"item {x}", UserWarning, stacklevel=1)
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping the map's filter would raise here
        assert list(thread_map(warn_inside_quiet, range(8), ignore=(UserWarning,))) == list(range(8))
        with pytest.raises(UserWarning):
            list(thread_map(warn_inside_quiet, range(2)))  # nothing ignored: it escapes
    assert warnings.filters == before


def test_quiet_outside_a_pool_ignores_and_restores():
    import warnings

    from ferbench.threads import quiet

    before = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with quiet(RuntimeWarning):
            warnings.warn("ignored", RuntimeWarning, stacklevel=1)
        with pytest.raises(RuntimeWarning):
            warnings.warn("raised", RuntimeWarning, stacklevel=1)
    assert warnings.filters == before


def test_a_folds_eigendecomposition_runs_on_one_blas_thread_outside_a_pool(monkeypatch):
    import numpy as np
    import scipy.linalg  # noqa: F401 - its own OpenBLAS is limited too
    from threadpoolctl import threadpool_info, threadpool_limits

    from ferbench.features.gram_pca import FoldPCA

    seen = []
    eigh = np.linalg.eigh

    def recording_eigh(a):
        seen.append(sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}))
        return eigh(a)

    monkeypatch.setattr(np.linalg, "eigh", recording_eigh)
    x = np.random.default_rng(0).normal(size=(30, 50))
    with threadpool_limits(limits=2, user_api="blas"):
        FoldPCA(x @ x.T, np.arange(25), 5)
        after = sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})
    assert seen == [[1]] and after == [2]

"""blas_threads_for: one BLAS thread for small work, hands off otherwise."""

from contextlib import nullcontext

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import skmlp._threads as threads
from skmlp._threads import SMALL_WORK, blas_threads_for, largest_layer_work

SMALL = ([64, 100, 10], 200)  # load_digits' default network: 1.28M
BREAST_CANCER_LBFGS = ([30, 100, 1], 569)  # full batch: 1.7M
MNIST = ([784, 512, 256, 10], 200)  # 80M


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def two_threads_on_two_cores(monkeypatch):
    """BLAS at its default of one thread per core, on a 2-core machine."""
    monkeypatch.setattr(threads, "_n_cores", lambda: 2)
    with threadpool_limits(2, user_api="blas"):
        if not blas_threads() or min(blas_threads()) != 2:
            pytest.skip("this BLAS cannot be set to 2 threads")
        yield


def test_work_sizes():
    assert largest_layer_work(*SMALL) == 200 * 64 * 100
    assert largest_layer_work(*MNIST) == 200 * 784 * 512
    assert largest_layer_work(*SMALL) < SMALL_WORK
    assert largest_layer_work(*BREAST_CANCER_LBFGS) < SMALL_WORK
    assert largest_layer_work([784, 128, 10], 128) > SMALL_WORK


@pytest.mark.parametrize("units, batch_size", [SMALL, BREAST_CANCER_LBFGS])
def test_small_work_runs_on_one_thread(two_threads_on_two_cores, units, batch_size):
    with blas_threads_for(units, batch_size):
        assert blas_threads() and set(blas_threads()) == {1}
        a = np.ones((batch_size, units[0]))
        assert (a @ np.ones((units[0], units[1]))).shape == (batch_size, units[1])
    assert set(blas_threads()) == {2}


def test_large_work_keeps_the_threads(two_threads_on_two_cores):
    context = blas_threads_for(*MNIST)
    assert isinstance(context, nullcontext)
    with context:
        assert set(blas_threads()) == {2}
    assert set(blas_threads()) == {2}


@pytest.mark.parametrize("n_cores, user_limit", [(2, 1), (4, 2), (16, 3)])
def test_a_limit_already_set_is_kept(monkeypatch, n_cores, user_limit):
    monkeypatch.setattr(threads, "_n_cores", lambda: n_cores)
    with threadpool_limits(user_limit, user_api="blas"):
        before = blas_threads()
        context = blas_threads_for(*SMALL)
        assert isinstance(context, nullcontext)
        with context:
            assert blas_threads() == before


def test_single_core_machine_does_nothing(monkeypatch):
    monkeypatch.setattr(threads, "_n_cores", lambda: 1)
    with threadpool_limits(1, user_api="blas"):
        assert isinstance(blas_threads_for(*SMALL), nullcontext)


def test_more_threads_than_cores_are_limited(monkeypatch, two_threads_on_two_cores):
    # BLAS counted the host's cores, the process may use fewer (containers)
    monkeypatch.setattr(threads, "_n_cores", lambda: 1)
    with blas_threads_for(*SMALL):
        assert set(blas_threads()) == {1}
    assert set(blas_threads()) == {2}


def test_nested_calls():
    outer_before = blas_threads()
    with blas_threads_for(*SMALL):
        inside = blas_threads()
        with blas_threads_for(*SMALL):
            assert blas_threads() == inside
        assert blas_threads() == inside
    assert blas_threads() == outer_before

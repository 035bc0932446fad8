"""small_blas: one BLAS thread for loops of small products, and what it changes."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_info, threadpool_limits

from skpoison.attacks import GradientPoison, InfluencePoison
from skpoison.subpopulations import ClusterMatch
from skpoison.utils._threads import small_blas


def blas_threads():
    return {m["filepath"]: m["num_threads"] for m in threadpool_info()
            if m["user_api"] == "blas"}


def test_small_work_runs_on_one_thread_and_large_work_keeps_the_callers():
    with threadpool_limits(limits=2, user_api="blas"):
        outside = blas_threads()
        with small_blas(1e3):
            assert set(blas_threads().values()) == {1}
        assert blas_threads() == outside  # restored on exit
        with small_blas(1e9):
            assert blas_threads() == outside


@pytest.mark.parametrize("Attack", [GradientPoison, InfluencePoison])
def test_optimisation_on_small_data_uses_one_thread_and_the_same_result(
        Attack, monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 8))
    y = (X @ rng.normal(size=8) > 0).astype(int)
    seen = []
    optimise = Attack._optimise

    def spy(self, problem):
        seen.append(set(blas_threads().values()))
        return optimise(self, problem)

    monkeypatch.setattr(Attack, "_optimise", spy)
    results = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            attack = Attack(ClusterMatch(4, random_state=0), n_iter=20,
                            random_state=0)
            results.append(attack.fit_resample(X, y))
    assert seen == [{1}, {1}]
    # one thread inside whatever the caller set: bitwise the same poisons
    assert_array_equal(results[0][0], results[1][0])
    assert_array_equal(results[0][1], results[1][1])

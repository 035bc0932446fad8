"""Suite-wide fixtures, for the tests and for the doctests in ``skpoison/``."""

import pytest
from threadpoolctl import threadpool_limits


def pytest_configure(config):
    # torch's own intra-op pool is not managed by threadpoolctl: one thread
    # per pytest-xdist worker, so seeded nets are bitwise reproducible and
    # the 2 cores are not oversubscribed.
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_thread_per_worker():
    # pytest-xdist already runs one worker per core; nested OpenMP/BLAS threads
    # (k-means, BLAS) oversubscribe the 2 cores and slow small fits ~100x.
    with threadpool_limits(limits=1):
        yield

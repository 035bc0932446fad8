"""Suite-wide fixtures."""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_thread_per_worker():
    # pytest-xdist already runs one worker per core; nested OpenMP/BLAS threads
    # (k-means, torch) oversubscribe the 2 cores and slow small fits ~100x.
    with threadpool_limits(limits=1):
        yield

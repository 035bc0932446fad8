"""BLAS threads for loops of small products."""

import contextlib

_CONTROLLER = None


def _controller():
    # one controller, made at first use (after numpy and scipy have loaded
    # their BLAS), as scikit-learn keeps one for KMeans: making one scans
    # the loaded libraries, entering its limit then costs microseconds
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def small_blas(work, threshold=5e7):
    """A context with one BLAS thread when ``work`` (flops) is below ``threshold``.

    A loop of many small matrix products (the optimised attacks' steps and
    refits) runs faster on one thread: every product split over threads pays
    their synchronisation, which costs more than such products (on 2 cores,
    InfluencePoison on 2,000 x 32 rows took 64 ms with two BLAS threads and
    37 ms with one). scikit-learn's KMeans limits its BLAS calls the same
    way. Larger work keeps the caller's thread settings. One thread also
    makes those products bitwise independent of the thread count.

    BLAS limits are process-wide: as with KMeans, attacks run concurrently in
    threads of one process (joblib's ``threading`` backend) may restore each
    other's limits out of order; processes (the default ``loky`` backend,
    which the audit uses) are unaffected.
    """
    if work >= threshold:
        return contextlib.nullcontext()
    return _controller().limit(limits=1, user_api="blas")

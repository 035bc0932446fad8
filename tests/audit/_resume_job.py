"""A small, slow-enough audit for the resume tests, runnable as a script.

``python _resume_job.py STORE RESULT.pkl`` runs the audit with ``store=STORE``
(one job, so units finish one after another), then pickles
``(results_, n_reused_, n_computed_)`` to ``RESULT.pkl``.
"""

import os
import pickle
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from skpoison.audit import SubpopulationAudit
from skpoison.subpopulations import ClusterMatch

SLEEP = float(os.environ.get("SKPOISON_TEST_SLEEP", "0.1"))


class SlowLogisticRegression(LogisticRegression):
    """LogisticRegression whose fit takes at least ``SLEEP`` seconds."""

    def fit(self, X, y, sample_weight=None):
        time.sleep(SLEEP)
        return super().fit(X, y, sample_weight=sample_weight)


def data(seed=0, n_per=40, n_centers=8):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-30, 30, size=(n_centers, 2))
    X = np.vstack([c + rng.normal(0, 1.0, (n_per, 2)) for c in centers])
    y = np.tile([0, 1], n_centers // 2).repeat(n_per)
    idx = rng.permutation(len(y))
    X, y = X[idx], y[idx]
    third = len(y) // 3
    return (X[:third], y[:third], X[third:2 * third], y[third:2 * third],
            X[2 * third:], y[2 * third:])


def make_audit(estimator, store=None, n_jobs=1, backend=None):
    return SubpopulationAudit(
        estimator, finders={"cm": ClusterMatch(n_clusters=8, random_state=0)},
        alphas=[2], seeds=[0, 1], n_jobs=n_jobs, backend=backend,
        progress=False, store=store)


N_UNITS = 8 * 1 * 2  # clusters x alphas x seeds, one defense


if __name__ == "__main__":
    store, out = sys.argv[1], sys.argv[2]
    audit = make_audit(SlowLogisticRegression(), store=store)
    results = audit.run(*data())
    with open(out, "wb") as fh:
        pickle.dump((results, audit.n_reused_, audit.n_computed_), fh)

"""Runtime of activation clustering and spectral signatures on 50,000 x 512 activations.

Usage::

    python benchmarks/bench_representation_defenses.py [--n-rows 50000]
        [--n-dims 512] [--repeat 3] [--threads 1]

The representation is given directly: synthetic float32 "penultimate-layer
activations" (ReLU of a 2-class Gaussian mixture, 512-d) with 2 % backdoor
rows (class-0 activations plus a trigger pattern on 20 dimensions, labelled
1), fed to the defenses with ``layer=None`` (the representation is the input,
as for a linear head on fixed features).

Timed (best of ``--repeat``; wall clock, ``--threads`` BLAS/OpenMP threads,
1 by default: on a loaded 2-core machine two spinning threads per library made
every number 5-10x slower and erratic):

* ``detection``: ``Defense(DummyClassifier(), layer=None).fit(X, y)``, i.e.
  everything the defense does itself: input validation, per-class row
  selection, the reduction (FastICA 15 / PCA 10), 2-means with 10 inits and
  the silhouette score (on a 5,000-row sample per class) for activation
  clustering; the centring, top singular vector and scoring for spectral
  signatures; plus a refit of a dummy model that costs nothing.
* ``with refit``: the same defense around ``LogisticRegression`` (lbfgs):
  detection plus the one refit on the kept rows. With ``layer=None`` there
  is no first fit (the representation does not depend on the model).
* ``plain fit``: ``LogisticRegression().fit(X, y)`` on all rows; the ratio
  ``with refit / plain fit`` is the overhead a user pays for the defense.

The target is "within a few seconds" for the detection work.
"""

import argparse
import time

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info, threadpool_limits

from skpoison.defenses import ActivationClustering, SpectralSignatures


def activations(n_rows, n_dims, poison_fraction=0.02, seed=0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n_rows) % 2).astype(np.int64)
    centres = rng.normal(0, 1, (2, n_dims)).astype(np.float32)
    X = rng.standard_normal((n_rows, n_dims), dtype=np.float32)
    n_poison = int(poison_fraction * n_rows)
    poison = np.zeros(n_rows, dtype=bool)
    poison[rng.choice(np.flatnonzero(y == 0), n_poison, replace=False)] = True
    X += centres[y]
    X[poison, :20] += 4.0  # trigger pattern
    y[poison] = 1
    np.maximum(X, 0, out=X)
    return X, y, poison


def timed(f, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return out, best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-rows", type=int, default=50_000)
    parser.add_argument("--n-dims", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3,
                        help="best of this many timings (the machine is shared)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads (default 1: stable numbers on a "
                             "shared machine; -1 for the libraries' default)")
    args = parser.parse_args()
    with threadpool_limits(None if args.threads < 0 else args.threads):
        run(args)


def run(args):

    X, y, poison = activations(args.n_rows, args.n_dims)
    threads = {(i["internal_api"], i["num_threads"]) for i in threadpool_info()}
    print(f"X: {X.shape} {X.dtype}, {poison.sum()} backdoor rows; threads {threads}")

    _, plain = timed(lambda: LogisticRegression().fit(X, y), args.repeat)
    print(f"plain LogisticRegression fit: {plain:.2f} s")

    defenses = {
        "ActivationClustering(ica, 15)": lambda est: ActivationClustering(
            est, reduction="ica", silhouette_threshold=None,
            size_threshold=None, random_state=0),
        "ActivationClustering(pca, 10)": lambda est: ActivationClustering(
            est, reduction="pca", silhouette_threshold=None,
            size_threshold=None, random_state=0),
        "SpectralSignatures(q=0.85)": lambda est: SpectralSignatures(est),
    }
    print(f"{'defense':32s} {'detection':>10s} {'with refit':>11s} {'ratio':>7s} "
          f"{'poison found':>13s} {'rows removed':>13s}")
    for name, make in defenses.items():
        defense, detection = timed(
            lambda make=make: make(DummyClassifier()).fit(X, y), args.repeat)
        _, full = timed(lambda make=make: make(LogisticRegression()).fit(X, y), 1)
        removed = ~defense.support_mask_
        print(f"{name:32s} {detection:9.2f}s {full:10.2f}s {full / plain:6.2f}x "
              f"{removed[poison].mean():12.1%} {removed.mean():12.1%}")


if __name__ == "__main__":
    main()

"""Audit throughput, harness overhead, and ClusterMatch at a million rows.

Usage::

    python benchmarks/bench_audit.py [--n-subpops 8] [--alphas 1,2] [--no-dask]
        [--no-clustermatch] [--cm-rows 1000000] [--cm-features 64]

All figures are ratios measured in this one run (the machine may be shared):

1. Throughput: the same UCI Adult audit (ClusterMatch subpopulations,
   label flipping, logistic-regression victim without and with TRIM) with
   ``n_jobs=1`` and with ``n_jobs=2`` (loky), and on a 2-worker
   ``dask.distributed.LocalCluster`` (one thread per worker process). Each
   backend is warmed up first by a 4-attack audit, so worker start-up and
   imports are not counted; the first, cold ``n_jobs=2`` run (workers
   started and importing during it) is printed too. Every process computes with one BLAS/OpenMP
   thread (``threadpool_limits(1)`` here, as joblib's loky workers and Dask's
   nannies set for theirs), so the ratios compare processes, not thread pools
   (a 2-thread BLAS in the serial run is slowed many times over on a busy
   machine). Target: n_jobs=2 at least 1.7x n_jobs=1.
2. Harness overhead: the ``n_jobs=1`` audit's wall time against the sum of
   the fits it needs (finders, clean models, each attack's ``fit_resample``,
   each victim/defense ``fit``; the audit records them in ``timings_`` and in
   the ``attack_seconds`` and ``fit_seconds`` columns). Target: at most 1.2x.
3. ClusterMatch(n_clusters=100) on ``--cm-rows`` x ``--cm-features`` rows
   (100 Gaussian blobs, float64, ``--cm-spread``), full k-means against mini-batch k-means, each in
   a fresh subprocess: fit time and peak resident memory (``ru_maxrss``), also
   net of the data itself.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from threadpoolctl import threadpool_limits


def adult_audit(n_subpops, alphas, **kw):
    from skpoison.audit import SubpopulationAudit, make_victim
    from skpoison.datasets import load_adult
    from skpoison.defenses import TRIM
    from skpoison.subpopulations import ClusterMatch

    data = load_adult(form="paper", random_state=0)
    audit = SubpopulationAudit(
        make_victim("lr"),
        finders={"ClusterMatch": ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                                              random_state=0)},
        alphas=alphas, defenses={"none": None, "trim": TRIM(None, max_iter=5)},
        max_subpopulations=n_subpops, progress=False, **kw)
    args = (data.X_train, data.y_train, data.X_aux, data.y_aux, data.X_test, data.y_test)
    return audit, args


def timed_audit(n_subpops, alphas, cold=False, **kw):
    """The audit and its wall time; first warmed up unless ``cold``.

    The warm-up runs 4 attacks, so that both workers of a 2-job pool have
    started and imported what the tasks need; ``cold=True`` times the first
    run, worker start-up included.
    """
    if not cold:
        warm, args = adult_audit(4, alphas[:1], **kw)
        warm.run(*args)  # start workers, import everything
    audit, args = adult_audit(n_subpops, alphas, **kw)
    t = time.perf_counter()
    audit.run(*args)
    return audit, time.perf_counter() - t


def fit_seconds(audit):
    res = audit.results_
    attacks = res.drop_duplicates(["filter", "subpopulation", "alpha", "seed"])
    return (audit.timings_["finders"] + audit.timings_["clean"]
            + attacks.attack_seconds.sum() + res.fit_seconds.sum())


_CM_CHILD = r"""
import json, resource, sys, time
import numpy as np
from skpoison.subpopulations import ClusterMatch
n, d, algorithm, spread = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
rng = np.random.RandomState(0)
centers = rng.normal(0, spread, (100, d))
labels = rng.randint(0, 100, n)
X = rng.normal(0, 1, (n, d))
for s in range(0, n, 65536):  # no full-size temporaries: the baseline is the data
    X[s:s + 65536] += centers[labels[s:s + 65536]]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
finder = ClusterMatch(n_clusters=100, algorithm=algorithm, random_state=0).fit(X)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "data_mb": X.nbytes / 2**20,
                  "base_mb": base / 1024, "inertia": float(finder.kmeans_.inertia_),
                  "n_iter": int(finder.kmeans_.n_iter_)}))
"""


def clustermatch(n, d, algorithm, spread):
    out = subprocess.run([sys.executable, "-c", _CM_CHILD, str(n), str(d), algorithm,
                          str(spread)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-subpops", type=int, default=8)
    parser.add_argument("--alphas", default="1,2")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-clustermatch", action="store_true")
    parser.add_argument("--cm-rows", type=int, default=1_000_000)
    parser.add_argument("--cm-features", type=int, default=64)
    parser.add_argument("--cm-spread", type=float, default=1.0,
                        help="std of the 100 blob centres, in units of the blobs' own "
                             "std (1: overlapping blobs, as real data; 5: easy ones)")
    parser.add_argument("--no-audit", action="store_true",
                        help="only the ClusterMatch part")
    args = parser.parse_args()
    alphas = [float(a) for a in args.alphas.split(",")]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")

    if not args.no_audit:
        # the thread pools must be loaded before they can be limited
        import scipy.linalg  # noqa: F401
        import sklearn.cluster  # noqa: F401
        import sklearn.linear_model  # noqa: F401

        limits = threadpool_limits(limits=1)
        _, t2_cold = timed_audit(args.n_subpops, alphas, cold=True, n_jobs=2)
        serial, t1 = timed_audit(args.n_subpops, alphas, n_jobs=1)
        n_fits = len(serial.results_)
        print(f"\n1. Adult audit: {args.n_subpops} ClusterMatch subpopulations x alphas "
              f"{alphas} x (none, TRIM) = {n_fits} result rows")
        print(f"   n_jobs=1: {t1:.2f} s")
        _, t2 = timed_audit(args.n_subpops, alphas, n_jobs=2)
        print(f"   n_jobs=2: {t2:.2f} s   speed-up {t1 / t2:.2f}x (target >= 1.7x)")
        print(f"   n_jobs=2, first run (starting the workers): {t2_cold:.2f} s   "
              f"speed-up {t1 / t2_cold:.2f}x")
        if not args.no_dask:
            from distributed import Client, LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster):
                _, td = timed_audit(args.n_subpops, alphas, backend="dask")
            print(f"   dask LocalCluster (2 workers x 1 thread): {td:.2f} s   "
                  f"speed-up {t1 / td:.2f}x over n_jobs=1, {t2 / td:.2f}x of n_jobs=2")

        limits.restore_original_limits()
        fits = fit_seconds(serial)
        print(f"\n2. Harness overhead (n_jobs=1): wall {serial.timings_['total']:.2f} s, "
              f"sum of fits {fits:.2f} s -> {serial.timings_['total'] / fits:.3f}x "
              "(target <= 1.2x)")

    if not args.no_clustermatch:
        n, d = args.cm_rows, args.cm_features
        print(f"\n3. ClusterMatch(n_clusters=100) on {n:,} x {d} (float64, "
              f"{n * d * 8 / 2**20:.0f} MB of data; 100 Gaussian blobs, centre spread "
              f"{args.cm_spread:g}), fresh subprocess each:")
        res = {}
        for algorithm in ("kmeans", "minibatch"):
            r = res[algorithm] = clustermatch(n, d, algorithm, args.cm_spread)
            unit = "epochs" if algorithm == "minibatch" else "iterations"
            print(f"   {algorithm:9s}: fit {r['seconds']:7.1f} s, peak RSS "
                  f"{r['peak_mb']:7.0f} MB ({r['peak_mb'] - r['base_mb']:6.0f} MB above "
                  f"the data), {r['n_iter']} {unit}, inertia {r['inertia']:.4g}")
        full, mini = res["kmeans"], res["minibatch"]
        print(f"   mini-batch: {full['seconds'] / mini['seconds']:.1f}x faster, "
              f"peak memory {mini['peak_mb'] / full['peak_mb']:.2f}x of full, "
              f"inertia {mini['inertia'] / full['inertia']:.3f}x of full")
    print(f"\nload average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()

"""Table 8 of the paper, in shape, on frozen pretrained embeddings ("LL").

Usage::

    python benchmarks/table8_embeddings.py [--dataset rotten-tomatoes]
        [--n-subpops 10] [--eps 0.1 1.0] [--pca 64] [--n-clusters 100]

The companion of ``table8_optimised.py`` (UCI Adult) for the paper's own
kind of Table 8 model: a linear head on frozen pretrained features (the
paper's VGG-LL). Mean target damage (clean minus poisoned accuracy on the
test rows of the subpopulation) over ``--n-subpops`` ClusterMatch
subpopulations (drawn with seed 0 among those with at least 5 test rows), for
LabelFlip (LF), GradientPoison (GO, 50 steps) and InfluencePoison (INF, 250
steps) at alpha 0.5, 1 and 2. One table per ``--eps`` (the box radius,
standardised units); ``step_size`` is 0.2 (GO) and 0.1 (INF) for
eps <= 0.1, else ``eps * 20`` (GO) and ``eps`` (INF), as for Adult.

Settings (:func:`skpoison.audit.load_setting` with ``model="ll"``, CPU-sized
splits; the ``annotation:*`` columns are dropped):

* ``rotten-tomatoes`` (default): binary sentiment, 384-d all-MiniLM-L6-v2
  sentence embeddings, 1,500 rows per split. ``X`` is the embedding itself.
  Label rule ``"flip"``.
* ``fashion-mnist``: 10 classes, 1,280-d EfficientNet-Lite0 embeddings,
  2,000 rows per split. The attacks' surrogate is a linear softmax model
  whose exact Hessian (InfluencePoison) has ``K (d + 1)`` rows: 12,810 on the
  raw embedding, far too large to build and factorise 25 times per attack on
  a CPU. So the frozen features are the embedding followed by a PCA to
  ``--pca`` components (64 by default, about 76% of the variance) fitted once
  on the attacker's ``X_aux``; attacks, finder and victim all see these
  features (Hessian of size 650). Label rule ``setting.label``
  (``"least_frequent"``: every poison gets the class least frequent among
  the attacker's rows of the subpopulation, as the authors' image attacks).

Victim: ``StandardScaler + LogisticRegression(max_iter=1000)``; surrogate:
the attacks' default logistic regression. ClusterMatch is fitted afresh on
the attacker's features ``X_aux`` (100 clusters, 10 to 100 auxiliary rows per
subpopulation; for Rotten Tomatoes with a PCA to 10 components first, as the
paper's text setting and :func:`~skpoison.audit.load_setting`; Fashion-MNIST's
features are already a 64-component projection and are clustered as they
are), so that ``finder.retarget(t)`` selects the target.
"""

import argparse
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.attacks import GradientPoison, InfluencePoison, LabelFlip
from skpoison.audit import drop_annotations, load_setting
from skpoison.metrics import subpopulation_damage
from skpoison.subpopulations import ClusterMatch


def lr_victim():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def load_features(dataset, n_pca):
    """(X, y, X_aux, y_aux, X_test, y_test, label rule, ClusterMatch PCA)."""
    setting = load_setting(dataset, "ll")
    X, y, X_aux, y_aux, X_test, y_test = setting.data
    drop = drop_annotations().fit(X_aux)
    X, X_aux, X_test = (np.asarray(drop.transform(Z), dtype=np.float64)
                        for Z in (X, X_aux, X_test))
    n_components = 10
    if dataset == "fashion-mnist":
        pca = PCA(n_components=n_pca, random_state=0).fit(X_aux)
        print(f"PCA {X.shape[1]} -> {n_pca} components fitted on X_aux "
              f"({pca.explained_variance_ratio_.sum():.0%} of the variance)")
        X, X_aux, X_test = pca.transform(X), pca.transform(X_aux), pca.transform(X_test)
        n_components = None
    return (X, np.asarray(y), X_aux, np.asarray(y_aux), X_test, np.asarray(y_test),
            setting.label, n_components)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="rotten-tomatoes",
                        choices=["rotten-tomatoes", "fashion-mnist"])
    parser.add_argument("--n-subpops", type=int, default=10)
    parser.add_argument("--eps", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--pca", type=int, default=64)
    parser.add_argument("--n-clusters", type=int, default=100,
                        help="ClusterMatch's k; fewer clusters give larger "
                             "subpopulations (max_size grows with them)")
    args = parser.parse_args()

    X, y, X_aux, y_aux, X_test, y_test, label, n_components = load_features(
        args.dataset, args.pca)
    finder = ClusterMatch(n_clusters=args.n_clusters, n_components=n_components,
                          min_size=10, max_size=max(100, 10000 // args.n_clusters),
                          random_state=0).fit(X_aux)
    test_ids = finder.predict(X_test)
    ok = [int(s) for s in finder.subpopulations_ if np.sum(test_ids == s) >= 5]
    targets = sorted(np.random.RandomState(0).choice(
        ok, size=min(args.n_subpops, len(ok)), replace=False).tolist())
    alphas = (0.5, 1.0, 2.0)
    clean_acc = lr_victim().fit(X, y).score(X_test, y_test)
    print(f"{args.dataset} LL, X {X.shape}, {len(np.unique(y))} classes, "
          f"label={label!r}, clean test accuracy {clean_acc:.3f}")
    print(f"{len(targets)} ClusterMatch subpopulations {targets} "
          f"(of {len(ok)} with >= 5 test rows)")

    def table(victim, attacks, title):
        clean = victim().fit(X, y)
        names = list(attacks(targets[0], 1.0))
        damage = {(a, n): [] for a in alphas for n in names}
        t0 = time.perf_counter()
        for target in targets:
            mask = test_ids == target
            for alpha in alphas:
                for name, attack in attacks(target, alpha).items():
                    X_res, y_res = attack.fit_resample(X, y)
                    poisoned = victim().fit(X_res, y_res)
                    res = subpopulation_damage(clean, poisoned, X_test, y_test, mask)
                    damage[alpha, name].append(res.target_damage)
        print(f"\n{title} ({time.perf_counter() - t0:.0f} s)")
        print(f"{'alpha':>6} " + " ".join(f"{n:>8}" for n in names))
        for alpha in alphas:
            print(f"{alpha:>6} " + " ".join(
                f"{np.mean(damage[alpha, n]):8.3f}" for n in names))

    def common(target, alpha):
        return {"subpopulation": FrozenEstimator(finder.retarget(target)),
                "alpha": alpha, "label": label, "aux": (X_aux, y_aux),
                "random_state": 0}

    for eps in args.eps:
        go_step, inf_step = (0.2, 0.1) if eps <= 0.1 else (20 * eps, eps)

        def attacks(target, alpha, eps=eps, go_step=go_step, inf_step=inf_step):
            c = common(target, alpha)
            return {
                "LF": LabelFlip(**c),
                "GO": GradientPoison(n_iter=50, eps=eps, step_size=go_step, **c),
                "INF": InfluencePoison(n_iter=250, eps=eps, step_size=inf_step, **c),
            }

        table(lr_victim, attacks,
              f"LR victim, eps={eps}, steps GO={go_step} INF={inf_step}: "
              "mean target damage")


if __name__ == "__main__":
    main()

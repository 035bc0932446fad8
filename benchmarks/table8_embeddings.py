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
splits; the annotation columns, :func:`skpoison.audit.annotation_column`, are
dropped by :func:`skpoison.audit.drop_annotations`):

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

import numpy as np
from _table8 import (
    draw_targets,
    lr_victim,
    optimised_attacks,
    print_damage_table,
    step_sizes,
)
from sklearn.decomposition import PCA

from skpoison.audit import drop_annotations, load_setting
from skpoison.subpopulations import ClusterMatch


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
    targets, test_ids, n_ok = draw_targets(finder, X_test, args.n_subpops)
    clean_acc = lr_victim().fit(X, y).score(X_test, y_test)
    print(f"{args.dataset} LL, X {X.shape}, {len(np.unique(y))} classes, "
          f"label={label!r}, clean test accuracy {clean_acc:.3f}")
    print(f"{len(targets)} ClusterMatch subpopulations {targets} "
          f"(of {n_ok} with >= 5 test rows)")

    for eps in args.eps:
        go_step, inf_step = step_sizes(eps)
        print_damage_table(
            f"LR victim, eps={eps}, steps GO={go_step} INF={inf_step}: "
            "mean target damage", lr_victim,
            optimised_attacks(finder, (X_aux, y_aux), eps, go_step, inf_step,
                              label=label),
            (X, y, X_test, y_test), test_ids, targets)


if __name__ == "__main__":
    main()

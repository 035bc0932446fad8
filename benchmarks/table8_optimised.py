"""Table 8 of the paper, in shape, on UCI Adult's continuous representation.

Usage::

    python benchmarks/table8_optimised.py [--n-subpops 10] [--eps 0.1 1.0]
        [--mlp]

Mean target damage (clean minus poisoned accuracy on the test rows of the
subpopulation) over ``--n-subpops`` ClusterMatch subpopulations (drawn with
seed 0 among those with at least 5 test rows), for LabelFlip (LF),
GradientPoison (GO, 50 steps) and InfluencePoison (INF, 250 steps) at alpha
0.5, 1 and 2. Victim: ``StandardScaler + LogisticRegression`` (the "LL"
setting: a linear model on fixed features); surrogate: the attacks' default
logistic regression. One table per ``--eps`` (the box radius, standardised
units); ``step_size`` is 0.2 (GO) and 0.1 (INF) for eps <= 0.1, else
``eps * 20`` (GO) and ``eps`` (INF) so that the box can be reached.

``--mlp`` adds the "FT" contrast: a skorch MLP (10 hidden units) as victim,
LF against GO with an MLP surrogate in ``mode="ft"`` and ``mode="ll"``
(slow: about 2 s per victim fit).
"""

import argparse
import time

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.attacks import GradientPoison, InfluencePoison, LabelFlip
from skpoison.datasets import load_adult
from skpoison.metrics import subpopulation_damage
from skpoison.subpopulations import ClusterMatch


def lr_victim():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def mlp_victim():
    from skpoison.nets import make_mlp_classifier

    return make_pipeline(StandardScaler(),
                         make_mlp_classifier((10,), max_epochs=20, random_state=0))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-subpops", type=int, default=10)
    parser.add_argument("--eps", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--mlp", action="store_true")
    args = parser.parse_args()

    data = load_adult(form="paper", as_frame=False)
    X, y = data.X_train, data.y_train
    X_aux, y_aux = data.X_aux, data.y_aux
    X_test, y_test = data.X_test, data.y_test
    finder = ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                          random_state=0).fit(X_aux)
    test_ids = finder.predict(X_test)
    ok = [int(s) for s in finder.subpopulations_ if np.sum(test_ids == s) >= 5]
    targets = sorted(np.random.RandomState(0).choice(
        ok, size=min(args.n_subpops, len(ok)), replace=False).tolist())
    alphas = (0.5, 1.0, 2.0)
    print(f"Adult paper form, {len(targets)} ClusterMatch subpopulations {targets}")

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
                "alpha": alpha, "aux": (X_aux, y_aux), "random_state": 0}

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

    if args.mlp:
        from skpoison.nets import make_mlp_classifier

        def mlp_attacks(target, alpha):
            c = common(target, alpha)
            net = make_mlp_classifier((10,), max_epochs=20)
            return {
                "LF": LabelFlip(**c),
                "GO-LL": GradientPoison(estimator=net, mode="ll", eps=1.0,
                                        step_size=20.0, **c),
                "GO-FT": GradientPoison(estimator=net, mode="ft", eps=1.0,
                                        step_size=20.0, **c),
            }

        table(mlp_victim, mlp_attacks, "MLP victim, eps=1.0: mean target damage")


if __name__ == "__main__":
    main()

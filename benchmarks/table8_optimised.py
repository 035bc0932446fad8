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

from _table8 import (
    attack_params,
    draw_targets,
    lr_victim,
    optimised_attacks,
    print_damage_table,
    step_sizes,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.attacks import GradientPoison, LabelFlip
from skpoison.datasets import load_adult
from skpoison.subpopulations import ClusterMatch


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

    adult = load_adult(form="paper", as_frame=False)
    X, y = adult.X_train, adult.y_train
    X_aux, y_aux = adult.X_aux, adult.y_aux
    X_test, y_test = adult.X_test, adult.y_test
    finder = ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                          random_state=0).fit(X_aux)
    targets, test_ids, _ = draw_targets(finder, X_test, args.n_subpops)
    print(f"Adult paper form, {len(targets)} ClusterMatch subpopulations {targets}")
    data = (X, y, X_test, y_test)

    for eps in args.eps:
        go_step, inf_step = step_sizes(eps)
        print_damage_table(
            f"LR victim, eps={eps}, steps GO={go_step} INF={inf_step}: "
            "mean target damage", lr_victim,
            optimised_attacks(finder, (X_aux, y_aux), eps, go_step, inf_step),
            data, test_ids, targets)

    if args.mlp:
        from skpoison.nets import make_mlp_classifier

        def mlp_attacks(target, alpha):
            c = attack_params(finder, target, alpha, (X_aux, y_aux))
            net = make_mlp_classifier((10,), max_epochs=20)
            return {
                "LF": LabelFlip(**c),
                "GO-LL": GradientPoison(estimator=net, mode="ll", eps=1.0,
                                        step_size=20.0, **c),
                "GO-FT": GradientPoison(estimator=net, mode="ft", eps=1.0,
                                        step_size=20.0, **c),
            }

        print_damage_table("MLP victim, eps=1.0: mean target damage", mlp_victim,
                           mlp_attacks, data, test_ids, targets)


if __name__ == "__main__":
    main()

"""Shared by the Table 8 scripts: targets, the three attacks, the damage table.

``table8_optimised.py`` (UCI Adult), ``table8_embeddings.py`` (frozen
embeddings) and ``bench_optimised_attacks.py`` import it; run them from the
repository root (``python benchmarks/<script>.py``), which puts this folder on
``sys.path``.
"""

import time

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.attacks import GradientPoison, InfluencePoison, LabelFlip
from skpoison.metrics import subpopulation_damage

ALPHAS = (0.5, 1.0, 2.0)


def lr_victim():
    """The "LL" victim: a logistic regression on the (frozen) features."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def draw_targets(finder, X_test, n_subpops, min_test=5):
    """``n_subpops`` of the finder's subpopulations with ``min_test`` test rows.

    Drawn with seed 0. Returns ``(targets, test_ids, n_eligible)``.
    """
    test_ids = finder.predict(X_test)
    ok = [int(s) for s in finder.subpopulations_ if np.sum(test_ids == s) >= min_test]
    targets = sorted(np.random.RandomState(0).choice(
        ok, size=min(n_subpops, len(ok)), replace=False).tolist())
    return targets, test_ids, len(ok)


def step_sizes(eps):
    """GO and INF step sizes: the defaults for small boxes, else large enough
    to reach the box (``20 eps`` and ``eps``)."""
    return (0.2, 0.1) if eps <= 0.1 else (20 * eps, eps)


def attack_params(finder, target, alpha, aux, **extra):
    """The parameters every attack of one table cell shares."""
    return {"subpopulation": FrozenEstimator(finder.retarget(target)),
            "alpha": alpha, "aux": aux, "random_state": 0, **extra}


def optimised_attacks(finder, aux, eps, go_step, inf_step, **extra):
    """``attacks(target, alpha)``: LabelFlip, GradientPoison(50), InfluencePoison(250)."""
    def attacks(target, alpha):
        c = attack_params(finder, target, alpha, aux, **extra)
        return {
            "LF": LabelFlip(**c),
            "GO": GradientPoison(n_iter=50, eps=eps, step_size=go_step, **c),
            "INF": InfluencePoison(n_iter=250, eps=eps, step_size=inf_step, **c),
        }
    return attacks


def print_damage_table(title, victim, attacks, data, test_ids, targets,
                       alphas=ALPHAS):
    """Mean target damage per alpha and attack over ``targets``, printed.

    ``data`` is ``(X, y, X_test, y_test)``; ``attacks(target, alpha)`` returns
    the attacks by name; each poisoned ``victim()`` is compared with a clean one.
    """
    X, y, X_test, y_test = data
    clean = victim().fit(X, y)
    names = list(attacks(targets[0], alphas[0]))
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

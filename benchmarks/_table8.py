"""Shared by the Table 8 scripts: targets, the three attacks, the damage table.

``table8_optimised.py`` (UCI Adult; Fashion-MNIST with EfficientNet-Lite0
fine-tuned or frozen), ``table8_embeddings.py`` (frozen embeddings) and
``bench_optimised_attacks.py`` import it; run them from the repository root
(``python benchmarks/<script>.py``), which puts this folder on ``sys.path``.
"""

import time

import numpy as np
from joblib import Parallel, delayed
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


def adult_problem():
    """UCI Adult in the paper's form and ClusterMatch fitted on its ``D_aux``.

    Returns ``((X, y, X_aux, y_aux, X_test, y_test), finder)``: 100 clusters
    of 10 to 100 auxiliary rows, seed 0.
    """
    from skpoison.datasets import load_adult
    from skpoison.subpopulations import ClusterMatch

    adult = load_adult(form="paper", as_frame=False)
    data = (adult.X_train, adult.y_train, adult.X_aux, adult.y_aux,
            adult.X_test, adult.y_test)
    finder = ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                          random_state=0).fit(adult.X_aux)
    return data, finder


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


def optimised_attacks(finder, aux, eps, go_step, inf_step, *, go_iter=50,
                      inf_iter=250, **extra):
    """``attacks(target, alpha)``: LabelFlip, GradientPoison(50), InfluencePoison(250)."""
    def attacks(target, alpha):
        c = attack_params(finder, target, alpha, aux, **extra)
        return {
            "LF": LabelFlip(**c),
            "GO": GradientPoison(n_iter=go_iter, eps=eps, step_size=go_step, **c),
            "INF": InfluencePoison(n_iter=inf_iter, eps=eps, step_size=inf_step,
                                   **c),
        }
    return attacks


def _one_target(victim, attacks, data, clean_pred, mask, target, alphas):
    """Target damage of every attack at every alpha on one subpopulation,
    with the seconds spent in the attacks and in the poisoned victims."""
    X, y, X_test, y_test = data
    damage, t_attack, t_victim = {}, 0.0, 0.0
    for alpha in alphas:
        for name, attack in attacks(target, alpha).items():
            t0 = time.perf_counter()
            X_res, y_res = attack.fit_resample(X, y)
            t1 = time.perf_counter()
            poisoned = victim().fit(X_res, y_res).predict(X_test)
            t_attack += t1 - t0
            t_victim += time.perf_counter() - t1
            res = subpopulation_damage(clean_pred, poisoned, None, y_test, mask)
            damage[alpha, name] = res.target_damage
    return damage, t_attack, t_victim


def print_damage_table(title, victim, attacks, data, test_ids, targets,
                       alphas=ALPHAS, n_jobs=None):
    """Mean target damage per alpha and attack over ``targets``, printed.

    ``data`` is ``(X, y, X_test, y_test)``; ``attacks(target, alpha)`` returns
    the attacks by name; each poisoned ``victim()`` is compared with a clean
    one (fitted, and its test predictions made, once). ``n_jobs`` runs the
    targets in parallel processes (joblib; for CPU-bound attacks, not for a
    shared GPU). The title line gives the wall time and the time spent in
    the attacks and in the victims' fits (summed over the targets). Returns
    the mean damage as ``{(alpha, name): value}``.
    """
    X, y, X_test, _ = data
    t_start = time.perf_counter()
    clean_pred = victim().fit(X, y).predict(X_test)
    t_clean = time.perf_counter() - t_start
    names = list(attacks(targets[0], alphas[0]))
    jobs = (delayed(_one_target)(victim, attacks, data, clean_pred,
                                 test_ids == target, target, alphas)
            for target in targets)
    results = Parallel(n_jobs=n_jobs)(jobs)
    means = {(a, n): float(np.mean([r[0][a, n] for r in results]))
             for a in alphas for n in names}
    t_attack = sum(r[1] for r in results)
    t_victim = sum(r[2] for r in results)
    print(f"\n{title} ({time.perf_counter() - t_start:.0f} s: clean victim "
          f"{t_clean:.0f} s, attacks {t_attack:.0f} s, poisoned victims "
          f"{t_victim:.0f} s)")
    print(f"{'alpha':>6} " + " ".join(f"{n:>8}" for n in names))
    for alpha in alphas:
        print(f"{alpha:>6} " + " ".join(f"{means[alpha, n]:8.3f}" for n in names))
    return means

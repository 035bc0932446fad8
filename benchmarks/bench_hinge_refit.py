"""The hinge victim's exact refit in ModelTargetedPoison: the fast schedule against
the previous one, on the refits an attack on UCI Adult makes.

Usage::

    python benchmarks/bench_hinge_refit.py [--max-poisons 50] [--groups 0,20]
        [--finder FeatureMatch|ClusterMatch] [--repeat 1]

Data, groups and victim as in ``bench_model_targeted.py``: Adult in the paper's
form, the audit's finders and size filter on ``D_aux``, the ``svm`` victim
``StandardScaler`` then ``LinearSVC(loss="hinge")`` (C=1), whose objective
the attack refits exactly (Suya et al., ICML 2021, Section 4). For each
group (``--groups``: indices into the finder's list of groups), the attack
runs with ``max_poisons`` poisons at most and every call of the refit is
recorded: its rows (the clean rows plus the target model's flipped rows or
the poisons so far), weights, penalty and warm start. Each recorded refit is
then replayed twice from the same warm start, with the previous schedule
(``_hinge_fit(..., fast=False)``: 3 Newton steps between tries of the margin
rows, a linear program for any multipliers outside their box) and with the
fast one (the default: up to 40 steps, a program only for a singular margin
system), and the CPU time of each (``time.process_time``, one BLAS thread,
best of ``--repeat``) and the largest coefficient difference are printed per
phase: the target model's refits (label-flipped copies of the group at rising
weights) and the poisons' refits (one poison added or its weight raised by
one each time). "certified" says whether every refit of both schedules met
the hinge's KKT conditions within 1e-9.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from skpoison.attacks import ModelTargetedPoison
from skpoison.attacks import _hinge, _model_targeted
from skpoison.datasets import load_adult
from skpoison.subpopulations import ClusterMatch, FeatureMatch


def finder_for(name, adult):
    if name == "FeatureMatch":
        finder = FeatureMatch(adult.annotation_columns, min_size=10, max_size=100)
        return finder.fit(adult.X_aux), adult.X_train, adult.X_aux
    finder = ClusterMatch(n_clusters=100, min_size=10, max_size=100, random_state=0)
    return (finder.fit(adult.X_aux.to_numpy()), adult.X_train.to_numpy(),
            adult.X_aux.to_numpy())


def record(finder, g, X, y, X_aux, y_aux, max_poisons):
    """The attack's refits, (phase, rows after the clean ones, their labels,
    weights, penalty, warm start) per call; the clean rows and labels; the
    fitted attack and its CPU seconds."""
    calls, phase, n_clean = [], ["clean"], []
    original_fit = _model_targeted._hinge_fit
    original_target = _model_targeted._Setup.target_model

    def recording_fit(Z, Y, s, pen, theta, **kw):
        if not n_clean:  # the first call fits the clean model on the clean rows
            n_clean.append((Z.copy(), Y.copy()))
        n0 = n_clean[0][0].shape[0]
        calls.append((phase[0], Z[n0:].copy(), Y[n0:].copy(), s.copy(), pen.copy(),
                      theta.copy()))
        out = original_fit(Z, Y, s, pen, theta, **kw)
        phase[0] = "poisons" if phase[0] == "after target" else phase[0]
        return out

    def target_model(self, *args, **kw):
        phase[0] = "target"
        try:
            return original_target(self, *args, **kw)
        finally:
            phase[0] = "after target"

    victim = make_pipeline(StandardScaler(), LinearSVC(loss="hinge"))
    attack = ModelTargetedPoison(FrozenEstimator(finder.retarget(g)), estimator=victim,
                                 aux=(X_aux, y_aux), max_poisons=max_poisons,
                                 random_state=0)
    _model_targeted._hinge_fit = recording_fit
    _model_targeted._Setup.target_model = target_model
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            t = time.process_time()
            attack.fit_resample(X, y)
            seconds = time.process_time() - t
    finally:
        _model_targeted._hinge_fit = original_fit
        _model_targeted._Setup.target_model = original_target
    return calls, n_clean[0], attack, seconds


def replay(calls, Z_clean, Y_clean, repeat):
    """Per call: (phase, previous s, fast s, max |coef difference|, previous
    certified, fast certified)."""
    out = []
    for phase, Z_x, Y_x, s, pen, theta0 in calls:
        Z = np.vstack([Z_clean, Z_x])
        Y = np.r_[Y_clean, Y_x]
        times, sols = [], []
        for fast in (False, True):
            best = np.inf
            for _ in range(repeat):
                t = time.process_time()
                sol, ok = _hinge._hinge_fit(Z, Y, s, pen, theta0.copy(), fast=fast)
                best = min(best, time.process_time() - t)
            times.append(best)
            sols.append((sol, ok))
        diff = float(np.max(np.abs(sols[0][0] - sols[1][0])))
        out.append((phase, times[0], times[1], diff, sols[0][1], sols[1][1]))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-poisons", type=int, default=50)
    parser.add_argument("--groups", default="0,20",
                        help="indices into the finder's groups (comma-separated)")
    parser.add_argument("--finder", choices=["FeatureMatch", "ClusterMatch"],
                        default="FeatureMatch")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    adult = load_adult(form="paper")
    finder, X, X_aux = finder_for(args.finder, adult)
    y, y_aux = adult.y_train.to_numpy(), adult.y_aux.to_numpy()
    ids = list(finder.subpopulations_)
    print(f"Adult paper form, {args.finder}: {len(ids)} groups; victim "
          f"StandardScaler + LinearSVC(loss='hinge'), max_poisons={args.max_poisons}; "
          "CPU s (time.process_time, one BLAS thread)")
    print("| group | phase | refits | previous s/refit | fast s/refit | ratio | "
          "max coef diff | certified (previous / fast) |")
    print("|---|---|---|---|---|---|---|---|")
    totals = {}
    with threadpool_limits(1):
        for k in (int(i) for i in args.groups.split(",")):
            g = int(ids[k])
            calls, (Z_clean, Y_clean), attack, seconds = record(
                finder, g, X, y, X_aux, y_aux, args.max_poisons)
            rows = replay(calls[1:], Z_clean, Y_clean, args.repeat)
            for phase in ("target", "poisons"):
                sel = [r for r in rows if r[0] == phase]
                if not sel:
                    continue
                full = sum(r[1] for r in sel)
                fast = sum(r[2] for r in sel)
                diff = max(r[3] for r in sel)
                ok = (sum(r[4] for r in sel), sum(r[5] for r in sel))
                t = totals.setdefault(phase, [0, 0.0, 0.0, 0.0, 0, 0])
                t[0] += len(sel)
                t[1] += full
                t[2] += fast
                t[3] = max(t[3], diff)
                t[4] += ok[0]
                t[5] += ok[1]
                print(f"| {g} | {phase} | {len(sel)} | {full / len(sel):.4f} | "
                      f"{fast / len(sel):.4f} | {full / fast:.1f} | {diff:.1e} | "
                      f"{ok[0]} / {ok[1]} |", flush=True)
            print(f"|   | (attack: {attack.n_poison_} poisons, {seconds:.1f} CPU s) "
                  "| | | | | | |")
    for phase, (n, full, fast, diff, ok_full, ok_fast) in totals.items():
        print(f"| all | {phase} | {n} | {full / n:.4f} | {fast / n:.4f} | "
              f"{full / fast:.1f} | {diff:.1e} | {ok_full} / {ok_fast} |")


if __name__ == "__main__":
    main()

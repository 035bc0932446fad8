"""ModelTargetedPoison and susceptibility on UCI Adult (Suya et al. 2021; Rose et al. 2023).

Usage::

    python benchmarks/bench_model_targeted.py [--max-groups N] [--max-poisons 1500]
        [--victims lr,svm] [--no-semantic | --semantic-only] [--no-brute-force]
        [--finder FeatureMatch|ClusterMatch] [--small] [--scores-only]
        [--target-model-error E] [--skip N] [--take N] [--summarize OUTPUT ...]

Data and groups: UCI Adult in the paper's form (``load_adult(form="paper")``: 57
numeric columns, the continuous ``age``, ``capital_gain``, ``capital_loss`` and
``hours_per_week``, 53 one-hot indicators), the audit's finders and size filter:
FeatureMatch over the 20 annotation columns and ClusterMatch (100 clusters, seed
0), both fitted on ``D_aux`` and keeping groups of 10 < n < 100 attacker rows.
Victims, each ``StandardScaler`` then the model: ``lr`` =
``LogisticRegression(max_iter=1000)`` (C=1), ``svm`` =
``LinearSVC(loss="hinge")`` (the hinge loss, as Rose et al.; C=1; refitted
exactly by the attack, each refit certified by the hinge's KKT conditions). The attacker's rows are ``D_aux``: the scaler, the
target model and the attacker's simulated victim are fitted on them; poisons
are rows of the same 57 columns (continuous columns in their observed range,
each indicator 0 or 1 independently). The goal: error >= 0.5 on the group's
attacker rows.

Per victim and group it prints the susceptibility score (``loss_difference``,
``lower_bound`` (searched on the segment from the clean model to the target
model), ``clean_bound`` (from the clean model) and its time), the poisons the attack
needed (``n_poison_``), its ``lower_bound_`` (for the model it induced),
``efficiency_``, time and ``target_bound_`` (for the target model), and the
target damage (clean minus poisoned accuracy on the group's test rows, the
victim retrained on ``D`` plus the poisons) of the attack and of LabelFlip with
the same number of poisons (rows of the group drawn from ``D_aux``, flipped).
Times are CPU seconds of this process (``time.process_time``; the steps run
on one BLAS thread), so that a busy machine does not inflate them.
Then the summary: Spearman correlation between each score and the poisons
needed (groups that reached the goal), efficiency median and worst, time per
group, the share of groups where the model-targeted attack does at least as
much target damage as LabelFlip.

``--semantic`` (on by default): Rose et al.'s two groups, "never married"
(``marital_status_Never-married`` = 1) and "divorced craft-repair" (no marital
indicator set, Divorced being the dropped base level, and
``occupation_Craft-repair`` = 1), attacked with the linear SVM (hinge loss).

Last, the bound against brute force on tiny problems (two indicator columns and
one continuous column, 40 clean rows): every multiset of 1 or 2 feasible
poisons (the continuous value at 3 points) and 200 random ones of 3 induce a
model; the bound for that model never exceeds the poisons used.

``--scores-only``: only the susceptibility rows and their time (``score`` rows,
which ``--summarize`` uses in place of the attack runs' scores).

``--small``: 3 ClusterMatch groups, the lr victim, 40 poisons at most, no
semantic groups: the shape of the output, for the tests.
"""

import argparse
import itertools
import time
import warnings

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skpoison.attacks import LabelFlip, ModelTargetedPoison, susceptibility
from skpoison.attacks._model_targeted import _Setup
from skpoison.datasets import load_adult
from skpoison.subpopulations import ClusterMatch, FeatureMatch

VICTIMS = {
    "lr": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    "svm": lambda: make_pipeline(StandardScaler(), LinearSVC(loss="hinge")),
}


class MaskFinder(BaseEstimator):
    """A fixed group given by a rule on the rows (for the semantic groups)."""

    def __init__(self, rule=None, name="group"):
        self.rule = rule
        self.name = name

    def fit(self, X, y=None):
        self.target_ = self.name
        return self

    def membership(self, X, target=None):
        return np.asarray(self.rule(np.asarray(X)), dtype=bool)


def groups(adult):
    """(finder name, fitted finder, group id) for every group of the size filter."""
    out = []
    for name, finder in (
            ("FeatureMatch", FeatureMatch(adult.annotation_columns, min_size=10,
                                          max_size=100)),
            ("ClusterMatch", ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                                          random_state=0))):
        X_aux = adult.X_aux if name == "FeatureMatch" else adult.X_aux.to_numpy()
        finder.fit(X_aux)
        out += [(name, finder, int(g)) for g in finder.subpopulations_]
    return out


def rows_for(finder_name, X):
    return X if finder_name == "FeatureMatch" else X.to_numpy()


def accuracy_on(model, X, y, mask):
    return float(np.mean(model.predict(X[mask]) == y[mask])) if mask.any() else np.nan


def finder_rows(fname, adult):
    """(X, X_aux, X_test) as the finder reads them: FeatureMatch reads the
    annotation columns by name (DataFrames), ClusterMatch arrays."""
    if fname == "FeatureMatch":
        return adult.X_train, adult.X_aux, adult.X_test
    return adult.X_train.to_numpy(), adult.X_aux.to_numpy(), adult.X_test.to_numpy()


def scores(victim, all_groups, adult, model_error):
    """susceptibility of every group, one call per finder; CPU s per group."""
    y, y_aux = adult.y_train.to_numpy(), adult.y_aux.to_numpy()
    out = {}
    for fname in dict.fromkeys(f for f, _, _ in all_groups):
        finder = next(fi for f, fi, _ in all_groups if f == fname)
        ids = [g for f, _, g in all_groups if f == fname]
        X_f, X_aux_f, _ = finder_rows(fname, adult)
        t = time.process_time()
        table = susceptibility(FrozenEstimator(finder), victim, X_f, y, X_aux_f, y_aux,
                               groups=ids, target_model_error=model_error)
        per_group = (time.process_time() - t) / len(ids)
        for _, row in table.iterrows():
            out[fname, int(row["subpopulation"])] = (row, per_group)
    return out


def run_group(victim, fname, finder, g, adult, clean, max_poisons, scored,
              model_error):
    X, y = adult.X_train.to_numpy(), adult.y_train.to_numpy()
    y_aux = adult.y_aux.to_numpy()
    X_test, y_test = adult.X_test.to_numpy(), adult.y_test.to_numpy()
    frozen = FrozenEstimator(finder.retarget(g))
    X_f, X_aux_f, X_test_f = finder_rows(fname, adult)
    score, t_score = scored[fname, g]
    test_mask = np.asarray(frozen.membership(X_test_f), dtype=bool)
    rec = {"finder": fname, "group": g, "n_aux": int(score["n_aux"]),
           "n_test": int(test_mask.sum()), "loss_difference": score["loss_difference"],
           "score_bound": score["lower_bound"], "clean_bound": score["clean_bound"],
           "t_score": t_score}
    if not np.isfinite(score["loss_difference"]):
        rec["status"] = "no target model"
        return rec
    attack = ModelTargetedPoison(frozen, estimator=victim, aux=(X_aux_f, y_aux),
                                 max_poisons=max_poisons, target_model_error=model_error,
                                 random_state=0)
    t = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        X_res, y_res = attack.fit_resample(X_f, y)
    rec.update(t_attack=time.process_time() - t, n_poison=attack.n_poison_,
               reached=attack.goal_reached_, lower_bound=attack.lower_bound_,
               efficiency=attack.efficiency_, target_bound=attack.target_bound_,
               max_gap=float(attack.gap_trace_.max()))
    rec["status"] = "reached" if attack.goal_reached_ else "not reached"
    clean_acc = accuracy_on(clean, X_test, y_test, test_mask)
    poisoned = clone(victim).fit(np.asarray(X_res, dtype=np.float64), np.asarray(y_res))
    rec["damage_mtp"] = clean_acc - accuracy_on(poisoned, X_test, y_test, test_mask)
    n_sub = int(score["n_aux"])
    if attack.n_poison_ > 0:
        lf = LabelFlip(frozen, alpha=(attack.n_poison_ + 0.5) / n_sub, aux=(X_aux_f, y_aux),
                       count_on="aux", random_state=0)
        X_lf, y_lf = lf.fit_resample(X_f, y)
        assert lf.n_poison_ == attack.n_poison_
        poisoned = clone(victim).fit(np.asarray(X_lf, dtype=np.float64), np.asarray(y_lf))
        rec["damage_lf"] = clean_acc - accuracy_on(poisoned, X_test, y_test, test_mask)
    else:
        rec["damage_lf"] = 0.0
    return rec


def summary(name, recs):
    done = [r for r in recs if r.get("status") == "reached"]
    print(f"\n### {name}: {len(recs)} groups, {len(done)} reached the goal, "
          f"{sum(r.get('status') == 'not reached' for r in recs)} not within the poison cap, "
          f"{sum(r.get('status') == 'no target model' for r in recs)} without a target model")
    print("| measure | value |")
    print("|---|---|")
    if len(done) >= 3:
        n = np.array([r["n_poison"] for r in done], dtype=float)
        for key in ("loss_difference", "score_bound", "clean_bound", "n_aux"):
            if all(np.isnan(r.get(key, np.nan)) for r in done):
                continue  # not printed by an earlier run
            rho = spearmanr([r.get(key, np.nan) for r in done], n,
                            nan_policy="omit").statistic
            print(f"| Spearman({key}, poisons needed) | {rho:.3f} |")
        eff = np.array([r["efficiency"] for r in done])
        print(f"| efficiency median | {np.nanmedian(eff):.2f} |")
        print(f"| efficiency worst | {np.nanmax(eff):.2f} |")
        target = np.array([r.get("target_bound", np.nan) for r in done])
        if not np.all(np.isnan(target)):
            print(f"| poisons needed / target model's bound: median, worst | "
                  f"{np.nanmedian(n / target):.2f}, {np.nanmax(n / target):.2f} |")
        print(f"| poisons needed median | {np.median(n):.0f} |")
        gaps = [r["max_gap"] for r in done]
        if not np.all(np.isnan(gaps)):
            print(f"| max certified gap of the max-loss step | {np.nanmax(gaps):.2e} |")
    attacked = [r for r in recs if "damage_mtp" in r and r["n_test"] > 0]
    if attacked:
        share = np.mean([r["damage_mtp"] >= r["damage_lf"] - 1e-12 for r in attacked])
        print(f"| share MTP damage >= LabelFlip damage (same poisons, {len(attacked)} "
              f"groups with test rows) | {share:.2f} |")
        print(f"| mean target damage MTP / LabelFlip | "
              f"{np.mean([r['damage_mtp'] for r in attacked]):.3f} / "
              f"{np.mean([r['damage_lf'] for r in attacked]):.3f} |")
    t_s = [r["t_score"] for r in recs]
    t_a = [r["t_attack"] for r in recs if "t_attack" in r]
    print(f"| time per group: score (CPU s; one susceptibility call per finder) | "
          f"{np.median(t_s):.2f} |")
    if t_a:
        print(f"| time per group: attack median / max (CPU s) | {np.median(t_a):.1f} / "
              f"{np.max(t_a):.1f} |")


def read_rows(paths):
    """The per-group rows printed by earlier runs (``--summarize``), one
    record per finder and group (the last printed wins)."""
    recs, score_rows = {}, {}
    for path in paths:
        for line in open(path):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if (len(cells) == 8 and cells[0] == "score"
                    and cells[1] in ("FeatureMatch", "ClusterMatch")):  # --scores-only
                score_rows[cells[1], int(cells[2])] = dict(
                    zip(("loss_difference", "score_bound", "clean_bound", "t_score"),
                        map(float, cells[4:])))
                continue
            if len(cells) not in (13, 14, 15) or cells[0] not in ("FeatureMatch",
                                                                     "ClusterMatch"):
                continue
            target_bound = np.nan
            if len(cells) == 15:  # the target model's bound, printed last since
                target_bound = float(cells.pop())  # lower_bound_ is the induced model's
            clean_bound = np.nan
            if len(cells) == 14:  # the clean-model bound, printed since the search
                clean_bound = float(cells.pop(6))
            num = [float(c) if c not in ("-", "nan") else np.nan for c in
                   cells[2:7] + cells[8:]]
            poisons, _, status = cells[7].partition(" (")
            rec = {"finder": cells[0], "group": int(cells[1]), "n_aux": num[0],
                   "n_test": num[1], "loss_difference": num[2], "score_bound": num[3],
                   "t_score": num[4], "status": status.rstrip(")") or "reached",
                   "clean_bound": clean_bound, "target_bound": target_bound}
            if poisons != "-":
                rec.update(n_poison=int(poisons), lower_bound=num[5], efficiency=num[6],
                           t_attack=num[7], damage_mtp=num[8], damage_lf=num[9],
                           max_gap=np.nan)  # not printed per group
            recs[rec["finder"], rec["group"]] = rec
    # the scores of a --scores-only run replace those of the attack runs
    for key, score in score_rows.items():
        if key in recs:
            recs[key].update(score)
    return list(recs.values())


def semantic(adult, max_poisons, model_error):
    cols = list(adult.X_aux.columns)
    marital = [cols.index(c) for c in cols if c.startswith("marital_status_")]
    never = cols.index("marital_status_Never-married")
    craft = cols.index("occupation_Craft-repair")
    rules = {
        "never married": lambda X: X[:, never] == 1,
        "divorced craft-repair": lambda X: (X[:, marital].sum(axis=1) == 0)
        & (X[:, craft] == 1),
    }
    X, y = adult.X_train.to_numpy(), adult.y_train.to_numpy()
    X_aux, y_aux = adult.X_aux.to_numpy(), adult.y_aux.to_numpy()
    print("\n### Rose et al.'s semantic groups (linear SVM, StandardScaler + "
          "LinearSVC(loss='hinge'))")
    print("| group | attacker rows | loss difference | score bound | poisons needed "
          "| lower_bound_ | reached | time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    needed = {}
    for name, rule in rules.items():
        finder = FrozenEstimator(MaskFinder(rule, name).fit(X_aux))
        victim = VICTIMS["svm"]()
        s = susceptibility(finder, victim, X, y, X_aux, y_aux, groups=[name],
                           target_model_error=model_error).iloc[0]
        attack = ModelTargetedPoison(finder, estimator=victim, aux=(X_aux, y_aux),
                                     max_poisons=max_poisons,
                                     target_model_error=model_error, random_state=0)
        t = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            attack.fit_resample(X, y)
        needed[name] = attack.n_poison_
        print(f"| {name} | {s['n_aux']} | {s['loss_difference']:.1f} | "
              f"{s['lower_bound']:.1f} | {attack.n_poison_} | {attack.lower_bound_:.1f} | "
              f"{attack.goal_reached_} | {time.process_time() - t:.0f} |")
    a, b = needed["never married"], needed["divorced craft-repair"]
    print(f"\nnever married / divorced craft-repair: {a / max(b, 1):.2f}x poisons "
          "(Rose et al.: about 1,490 / 281 = 5.3x)")


def brute_force_bound(n_random=200):
    rng = np.random.RandomState(3)
    X = np.column_stack([rng.randint(2, size=40), rng.randint(2, size=40),
                         rng.uniform(0, 3, size=40)])
    y = (X[:, 0] + X[:, 2] + rng.normal(scale=0.7, size=40) > 1.5).astype(int)
    print("\n### The bound against brute force (tiny problems)")
    print("| victim | models reached | violations | least slack (poisons - bound) |")
    print("|---|---|---|---|")
    for name, est in (("LogisticRegression", LogisticRegression()),
                      ("LinearSVC (squared hinge)", LinearSVC(C=0.5)),
                      ("LinearSVC (hinge)", LinearSVC(loss="hinge", C=0.5))):
        setup = _Setup(est, X, y, np.array([0, 1]), None, rng, capacity=8)
        space, tr = setup.space, setup.trainer
        pts = [(np.array([v]), np.array(c), lab)
               for v in np.linspace(space.lo[0], space.hi[0], 3)
               for c in itertools.product(*[range(len(vals)) for vals in space.values])
               for lab in (1.0, -1.0)]
        theta_c = tr.fit(np.zeros(tr.Z.shape[1]))
        combos = [c for n in (1, 2)
                  for c in itertools.combinations_with_replacement(range(len(pts)), n)]
        combos += [tuple(rng.randint(len(pts), size=3)) for _ in range(n_random)]
        n0, bad, slack = tr.n_rows, 0, np.inf
        for combo in combos:
            tr.n_rows = n0
            for i in combo:
                x, c, lab = pts[i]
                tr.add(space.affine(x[None], c[None])[0], lab)
            theta_p = tr.fit(theta_c)
            tr.n_rows = n0
            loss_p = tr.clean_objective(theta_p)
            bound = max(setup.bound(theta_c, theta_p, loss_p, setup.solve(theta_c, theta_p)),
                        setup.searched_bound(theta_p, loss_p, [theta_c])[0])
            bad += bound > len(combo) * (1 + 1e-6) + 1e-6
            slack = min(slack, len(combo) - bound)
        print(f"| {name} | {len(combos)} | {bad} | {slack:.3f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-groups", type=int, default=None)
    parser.add_argument("--max-poisons", type=int, default=1500)
    parser.add_argument("--victims", default="lr,svm")
    parser.add_argument("--no-semantic", action="store_true")
    parser.add_argument("--semantic-max-poisons", type=int, default=4000)
    parser.add_argument("--semantic-only", action="store_true")
    parser.add_argument("--no-brute-force", action="store_true")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--summarize", nargs="+", metavar="OUTPUT",
                        help="the summary of the group rows printed by earlier runs")
    parser.add_argument("--scores-only", action="store_true",
                        help="only the susceptibility scores and their time")
    parser.add_argument("--finder", choices=["FeatureMatch", "ClusterMatch"], default=None)
    parser.add_argument("--skip", type=int, default=0,
                        help="skip the first N groups (to resume a stopped run)")
    parser.add_argument("--take", type=int, default=None,
                        help="run at most N groups (after --skip)")
    parser.add_argument("--target-model-error", default=1.0,
                        type=lambda v: None if v == "none" else float(v),
                        help="target_model_error of the attack and the score "
                             "(default 1.0, the library's; 'none': target_error)")
    args = parser.parse_args()
    if args.summarize:
        recs = read_rows(args.summarize)
        summary(f"{len(recs)} groups read from {', '.join(args.summarize)}", recs)
        return
    t0, wall0 = time.process_time(), time.perf_counter()
    adult = load_adult(form="paper")
    all_groups = groups(adult)
    victims = [] if args.semantic_only else args.victims.split(",")
    if args.small:
        all_groups = [g for g in all_groups if g[0] == "ClusterMatch"][:3]
        victims, args.max_poisons, args.no_semantic = ["lr"], 40, True
    if args.finder:
        all_groups = [g for g in all_groups if g[0] == args.finder]
    if args.max_groups and not args.small:
        # an even spread over the list (FeatureMatch, then ClusterMatch)
        idx = np.linspace(0, len(all_groups) - 1, args.max_groups).round().astype(int)
        all_groups = [all_groups[i] for i in sorted(set(idx))]
    all_groups = all_groups[args.skip:][:args.take]
    print(f"Adult paper form: {len(all_groups)} groups "
          f"({sum(g[0] == 'FeatureMatch' for g in all_groups)} FeatureMatch, "
          f"{sum(g[0] == 'ClusterMatch' for g in all_groups)} ClusterMatch), "
          f"max_poisons={args.max_poisons}")
    if args.scores_only:
        for v in victims:
            scored = scores(VICTIMS[v](), all_groups, adult, args.target_model_error)
            print(f"\n## victim {v}: susceptibility only\n")
            print("| score | finder | group | n_aux | loss diff | score bound | clean bound "
                  "| score s |")
            print("|---|---|---|---|---|---|---|---|")
            for fname, _, g in all_groups:
                row, t_score = scored[fname, g]
                print(f"| score | {fname} | {g} | {row['n_aux']} | "
                      f"{row['loss_difference']:.2f} | {row['lower_bound']:.1f} | "
                      f"{row['clean_bound']:.1f} | {t_score:.2f} |")
        return
    for v in victims:
        victim = VICTIMS[v]()
        clean = clone(victim).fit(adult.X_train.to_numpy(), adult.y_train.to_numpy())
        recs = []
        scored = scores(victim, all_groups, adult, args.target_model_error)
        print(f"\n## victim {v}\n")
        print("| finder | group | n_aux | n_test | loss diff | score bound | clean bound "
              "| score s "
              "| poisons | lower_bound_ | efficiency | attack s | damage MTP | damage LF "
              "| target_bound_ |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for fname, finder, g in all_groups:
            r = run_group(victim, fname, finder, g, adult, clean, args.max_poisons,
                          scored, args.target_model_error)
            recs.append(r)
            print(f"| {fname} | {g} | {r['n_aux']} | {r['n_test']} | "
                  f"{r['loss_difference']:.2f} | {r['score_bound']:.1f} | "
                  f"{r['clean_bound']:.1f} | {r['t_score']:.2f} | {r.get('n_poison', '-')}"
                  f"{'' if r['status'] == 'reached' else ' (' + r['status'] + ')'} | "
                  f"{r.get('lower_bound', np.nan):.1f} | {r.get('efficiency', np.nan):.2f} | "
                  f"{r.get('t_attack', np.nan):.1f} | {r.get('damage_mtp', np.nan):.3f} | "
                  f"{r.get('damage_lf', np.nan):.3f} | "
                  f"{r.get('target_bound', np.nan):.1f} |", flush=True)
        summary(v, recs)
    if not args.no_semantic:
        semantic(adult, args.semantic_max_poisons, args.target_model_error)
    if not args.no_brute_force:
        brute_force_bound(20 if args.small else 200)
    print(f"\ntotal {time.process_time() - t0:.1f} CPU s, "
          f"{time.perf_counter() - wall0:.1f} s wall")


if __name__ == "__main__":
    main()

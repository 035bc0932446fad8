"""Partition aggregation (DPA / Finite Aggregation): certificates, cost, damage.

Usage::

    python benchmarks/bench_partition_aggregation.py [--out bench_pa_out]
        [--seeds 0] [--repeats 5] [--n-top 10] [--fmnist-n N] [--no-fmnist]
        [--fa-fmnist] [--time-limit 5] [--small]

In one run:

1. **Certified accuracy against r added rows**, r = 0, 1, 2, 5, 10, 20, 50
   (the share of test rows predicted correctly whose certified radius is at
   least r) and the median certified radius as the papers define it (the
   largest r at which certified accuracy is still at least one half;
   misclassified rows count as not certified), for the plurality vote and,
   on the same base models, the run-off election (Rezaei et al., ICML 2023):

   * UCI Adult (``load_adult(form="paper")``: the paper's ``D``, 7,841 rows,
     and its test set), base model the audit's LR victim (standardised
     logistic regression, the scaler inside each partition's model),
     ``k = 50``: DPA (``n_shares=1``) and Finite Aggregation (``n_shares=16``,
     800 base models);
   * Fashion-MNIST (Debian ``dataset-fashion-mnist``; skipped with a note
     when missing): logistic regression on the pixels / 255, ``k = 50``,
     10 classes (``--fa-fmnist`` adds FA with ``n_shares=16``);
   * beside them, ``LabelFlipCertifier`` (Rosenfeld et al., ridge lambda 1,
     ``q = 0`` exact and ``q = 0.1`` smoothed) on the same features, whose
     radius counts label *flips* only; it is binary, so on Fashion-MNIST both
     certificates also run on one binary pair (Pullover vs Coat).

2. **Cost**: fitting the 50 partitions with ``n_jobs=1`` over one fit of the
   same model on all rows (best of ``--repeats``, one BLAS thread), on the
   paper's Adult ``D`` and on all 48,842 preprocessed Adult rows; hashing
   time and ``n_jobs=2`` alongside.

   The vote against the run-off table gives the gain in points at each r.

3. **Per subpopulation** on Adult: ``ClusterMatch(n_clusters=100,
   min_size=10, max_size=100)`` fitted on ``D_aux`` (as
   ``table10_11_defenses.py``); every kept subpopulation attacked by label
   flipping at alpha 2 without defense, the ``--n-top`` most damaged kept.
   For each at alpha 0.5, 1, 2 (``n = int(alpha * n_sub)`` poisons drawn
   from ``D_aux``): the fraction of its test rows certified against ``n``
   added rows by DPA fitted on the clean ``D`` (and certified and correct:
   a lower bound on its accuracy under *any* attack of that size), the
   measured target damage of the real LabelFlip attack on the undefended
   victim and on ``PartitionAggregation`` (each against its own clean
   model), and the check that DPA's accuracy under the attack is at least
   the certified lower bound. DPA's radius never exceeds ``k / 2``, so the
   same columns are also given for ``k = 400`` (certificate and measured
   damage), and the certificate alone for ``k`` = 100, 200, 400 with the
   accuracy each ``k`` costs. Beside them, the **collective certificate**
   (``certified_damage``: the largest target damage any ``n`` added rows can
   do to the group as a whole, a mixed-integer program, ``--time-limit``
   seconds each) against the pointwise count (correct rows whose own radius
   is below ``n``), with the time per group; and the collective certificate
   of every kept group at alpha 1 (total time).

``--quick`` runs DPA with k = 50 (curves, vote against run-off, per-group
certificates and damage) and the certificates of DPA with k = 400 fitted on
the clean rows (no FA, LabelFlipCertifier, cost, poisoned k = 400 fits or k
sweep); ``--small`` is ``--quick`` at toy sizes (2 groups, 2,000
Fashion-MNIST images, no k = 400) for the tests.

Everything runs with one BLAS thread (``threadpoolctl``): on a small, busy
machine the many small fits otherwise spend their time in spinning BLAS
threads (the 50 Adult partitions: 0.7 s with one thread, 7 to 12 s with two
on a loaded 2-core machine).

Tables are printed as markdown and written to ``--out`` (``tables.md`` and
one CSV per table).
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skpoison.attacks import LabelFlip
from skpoison.datasets import load_adult, load_fashion_mnist
from skpoison.defenses import LabelFlipCertifier, PartitionAggregation
from skpoison.defenses._partition_aggregation import _hash_rows
from skpoison.metrics import certified_damage, certified_fraction, subpopulation_damage
from skpoison.subpopulations import ClusterMatch

RADII = (0, 1, 2, 5, 10, 20, 50)
RUNOFF_RADII = (0, 1, 2, 5, 10, 20)
ALPHAS = (0.5, 1.0, 2.0)
K = 50
K_LARGE = 400


def lr_victim():
    """The audit's LR victim: standardised logistic regression."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def markdown(frame, floatfmt="{:.3f}"):
    cols = [str(c) for c in frame.columns]

    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "nan" if np.isnan(v) else (
                f"{v:g}" if float(v).is_integer() else floatfmt.format(v))
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def median_radius(correct, radius):
    """The papers' median certified radius: the largest r whose certified
    accuracy (correct and radius >= r) is at least 1/2; -1 if accuracy < 1/2."""
    signed = np.where(correct, radius, -1)
    return int(np.sort(signed)[::-1][(len(signed) - 1) // 2])


def curve_row(data, method, threat, y_test, y_pred, radius, seconds):
    correct = y_pred == y_test
    row = {"data": data, "method": method, "threat": threat,
           "accuracy": float(correct.mean()),
           "median radius": median_radius(correct, radius)}
    for r in RADII:
        row[f"r={r}"] = float(np.mean(correct & (radius >= r)))
    row["fit+certify s"] = round(seconds, 1)
    return row


def certify_pa(name, X, y, X_test, y_test, model, n_shares=1, n_jobs=1):
    t0 = time.perf_counter()
    pa = PartitionAggregation(model, n_partitions=K, n_shares=n_shares,
                              n_jobs=n_jobs, random_state=0).fit(X, y)
    y_pred, radius = pa.certify(X_test)
    label = "DPA k=50" if n_shares == 1 else f"FA k=50 d={n_shares}"
    return curve_row(name, label, "added/removed/relabelled rows", y_test, y_pred,
                     radius, time.perf_counter() - t0), pa


def vote_vs_runoff(name, pa, X_test, y_test):
    """Certified accuracy of the vote and of the run-off election on the same
    base models (``aggregation`` is read at prediction time), and the gain."""
    rows = []
    for aggregation in ("vote", "runoff"):
        t0 = time.perf_counter()
        y_pred, radius = pa.set_params(aggregation=aggregation).certify(X_test)
        correct = y_pred == y_test
        row = {"data": name, "aggregation": aggregation,
               "accuracy": float(correct.mean()),
               "median radius": median_radius(correct, radius)}
        for r in RUNOFF_RADII:
            row[f"r={r}"] = float(np.mean(correct & (radius >= r)))
        row["certify s"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
    pa.set_params(aggregation="vote")
    gain = {"data": name, "aggregation": "gain (points)",
            "accuracy": 100 * (rows[1]["accuracy"] - rows[0]["accuracy"]),
            "median radius": rows[1]["median radius"] - rows[0]["median radius"]}
    for r in RUNOFF_RADII:
        gain[f"r={r}"] = 100 * (rows[1][f"r={r}"] - rows[0][f"r={r}"])
    gain["certify s"] = float("nan")
    return [*rows, gain]


def certify_lfc(name, X, y, X_test, y_test, q):
    t0 = time.perf_counter()
    cert = LabelFlipCertifier(alpha=1.0, q=q).fit(X, y)
    y_pred, radius = cert.certify(X_test)
    return curve_row(name, f"LabelFlipCertifier q={q:g}", "label flips only", y_test,
                     y_pred, radius, time.perf_counter() - t0)


# ------------------------------------------------------------------- cost --
def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def cost_rows(name, X, y, repeats):
    one = best_of(lambda: lr_victim().fit(X, y), repeats)
    pa = best_of(lambda: PartitionAggregation(lr_victim(), n_partitions=K,
                                              n_jobs=1).fit(X, y), repeats)
    hashing = best_of(lambda: _hash_rows(X, "sha256"), repeats)
    pa2 = best_of(lambda: PartitionAggregation(lr_victim(), n_partitions=K,
                                               n_jobs=2).fit(X, y), repeats)
    return {"data": name, "rows": len(y), "one fit s": one,
            f"{K} partitions n_jobs=1 s": pa, "ratio": pa / one,
            "ms per partition": 1000 * pa / K,
            "of which hashing s": hashing, f"{K} partitions n_jobs=2 s": pa2,
            "ratio n_jobs=2": pa2 / one}


# --------------------------------------------------------- subpopulations --
def attack(finder, sid, alpha, aux, seed, X, y):
    lf = LabelFlip(FrozenEstimator(finder.retarget(sid)), alpha=alpha, aux=aux,
                   random_state=seed)
    X_res, y_res = lf.fit_resample(X, y)
    return lf, X_res, y_res


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench_pa_out")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-top", type=int, default=10)
    parser.add_argument("--fmnist-n", type=int, default=None,
                        help="subsample Fashion-MNIST's training images")
    parser.add_argument("--no-fmnist", action="store_true")
    parser.add_argument("--fa-fmnist", action="store_true",
                        help="also Finite Aggregation (d=16, 800 models) on Fashion-MNIST")
    parser.add_argument("--time-limit", type=float, default=5.0,
                        help="seconds per collective certificate (MILP)")
    parser.add_argument("--small", action="store_true",
                        help="toy sizes (2 groups, 2,000 images, 1 repeat)")
    parser.add_argument("--quick", action="store_true",
                        help="only DPA k=50: curves (vote and run-off), per-group "
                             "certificates and damage (no FA, LabelFlipCertifier, "
                             "cost, k=400 or k sweep)")
    args = parser.parse_args()
    full = not (args.quick or args.small)
    large = not args.small  # DPA k=400 on the clean rows (its poisoned fits: full)
    if args.small:
        args.n_top, args.repeats = min(args.n_top, 2), 1
        args.fmnist_n = args.fmnist_n or 2000
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    md = []

    def emit(title, frame, note=None, csv=None):
        text = f"### {title}\n\n" + (f"{note}\n\n" if note else "") + markdown(frame)
        print(text + "\n", flush=True)
        md.append(text)
        if csv:
            frame.to_csv(out / csv, index=False)

    adult = load_adult(form="paper")
    X, y = adult.X_train, np.asarray(adult.y_train)
    X_aux, y_aux = adult.X_aux, np.asarray(adult.y_aux)
    X_test, y_test = adult.X_test, np.asarray(adult.y_test)

    # 1. certified accuracy curves --------------------------------------
    rows, runoff_rows = [], []
    row, dpa = certify_pa("Adult", X, y, X_test, y_test, lr_victim())
    rows.append(row)
    runoff_rows += vote_vs_runoff("Adult (k=50)", dpa, X_test, y_test)
    if full:
        rows.append(certify_pa("Adult", X, y, X_test, y_test, lr_victim(),
                               n_shares=16)[0])
        scaler = StandardScaler().fit(X)
        for q in (0.0, 0.1):
            rows.append(certify_lfc("Adult", scaler.transform(X), y,
                                    scaler.transform(X_test), y_test, q))
    undefended = lr_victim().fit(X, y)
    fmnist_note = None
    if not args.no_fmnist:
        try:
            train = load_fashion_mnist(subset="train", n_samples=args.fmnist_n,
                                       random_state=0)
            test = load_fashion_mnist(subset="test")
        except FileNotFoundError as exc:
            fmnist_note = f"Fashion-MNIST skipped: {exc}"
            print(fmnist_note, flush=True)
        else:
            Xf, yf = train.data / 255.0, train.target
            Xf_test, yf_test = test.data / 255.0, test.target
            if args.small:
                Xf_test, yf_test = Xf_test[:1000], yf_test[:1000]
            lr = LogisticRegression(max_iter=200)
            row, fpa = certify_pa("Fashion-MNIST (10 classes)", Xf, yf, Xf_test,
                                  yf_test, lr, n_jobs=1)
            rows.append(row)
            runoff_rows += vote_vs_runoff("Fashion-MNIST (k=50)", fpa, Xf_test, yf_test)
            if args.fa_fmnist:
                rows.append(certify_pa("Fashion-MNIST (10 classes)", Xf, yf, Xf_test,
                                       yf_test, lr, n_shares=16)[0])
            pair = (2, 4)  # Pullover vs Coat: binary, for LabelFlipCertifier
            tr, te = np.isin(yf, pair), np.isin(yf_test, pair)
            name = "Fashion-MNIST (Pullover vs Coat)"
            if full:
                rows.append(certify_pa(name, Xf[tr], yf[tr], Xf_test[te], yf_test[te],
                                       lr)[0])
                for q in (0.0, 0.1):
                    rows.append(certify_lfc(name, Xf[tr], yf[tr], Xf_test[te],
                                            yf_test[te], q))
    curves = pd.DataFrame(rows)
    emit("Certified accuracy against r changed training rows",
         curves,
         "r=...: share of test rows predicted correctly and certified at radius >= r "
         "(r=0: the accuracy, for LabelFlipCertifier of the rows it certifies at all). "
         "DPA/FA radii count rows added, removed or relabelled (any mix); "
         "LabelFlipCertifier's count label flips only, on the standardised "
         f"features (Adult) or pixels / 255. Undefended Adult LR accuracy: "
         f"{undefended.score(X_test, y_test):.3f}."
         + (f" {fmnist_note}" if fmnist_note else ""),
         "certified_accuracy.csv")
    emit("Vote against run-off election (same base models, k=50)",
         pd.DataFrame(runoff_rows),
         "r=...: certified accuracy against r added/removed/relabelled rows; "
         "median radius: the largest r at which certified accuracy is at least "
         "1/2 (misclassified rows count as not certified); gain: run-off minus "
         "vote, in points of certified accuracy (radii for the median). "
         "Labels never seen in training are certified against (classes=None)."
         + (f" {fmnist_note}" if fmnist_note else ""),
         "vote_vs_runoff.csv")

    # 2. cost -------------------------------------------------------------
    if full:
        every = load_adult(form="paper", split=False)
        cost = pd.DataFrame([
            cost_rows("Adult D (paper split)", X, y, args.repeats),
            cost_rows("Adult, all preprocessed rows", every.data,
                      np.asarray(every.target), args.repeats)])
        emit(f"Cost: {K} partitions against one fit (standardised LR, 1 BLAS "
             f"thread, best of {args.repeats})", cost, None, "cost.csv")

    # 3. per subpopulation ------------------------------------------------
    t0 = time.perf_counter()
    finder = ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                          random_state=0).fit(X_aux)
    test_ids = np.asarray(finder.predict(X_test))
    kept = [int(s) for s in finder.subpopulations_ if np.sum(test_ids == s) > 0]
    clean_pred = {s: lr_victim().fit(X, y).predict(X_test) for s in seeds}
    ranking = []
    for sid in kept:
        mask = test_ids == sid
        dmg = []
        for seed in seeds:
            _, X_res, y_res = attack(finder, sid, 2.0, (X_aux, y_aux), seed, X, y)
            poisoned = lr_victim().fit(X_res, y_res).predict(X_test)
            dmg.append(subpopulation_damage(clean_pred[seed], poisoned, None, y_test,
                                            mask).target_damage)
        ranking.append((float(np.mean(dmg)), sid))
    ranking.sort(reverse=True)
    top = [sid for _, sid in ranking[:args.n_top]]
    t_rank = time.perf_counter() - t0
    # the certificate's promise: DPA fitted on the clean D, certified once;
    # and with K_LARGE partitions, whose radius can reach the attacks' sizes
    clean_pa_pred, clean_radius = dpa.certify(X_test)
    if large:
        dpa_large = PartitionAggregation(lr_victim(), n_partitions=K_LARGE,
                                         random_state=0).fit(X, y)
        large_pred, large_radius = dpa_large.certify(X_test)
    records = []
    for rank, sid in enumerate(top, 1):
        mask = test_ids == sid
        for alpha in ALPHAS:
            for seed in seeds:
                lf, X_res, y_res = attack(finder, sid, alpha, (X_aux, y_aux), seed, X, y)
                n = int(lf.n_poison_)
                promise = certified_fraction((clean_pa_pred, clean_radius), None,
                                             y_test, mask, n)
                victim = lr_victim().fit(X_res, y_res)
                und = subpopulation_damage(clean_pred[seed], victim, X_test, y_test,
                                           mask)
                pa_poisoned = PartitionAggregation(lr_victim(), n_partitions=K,
                                                   random_state=0).fit(X_res, y_res)
                dfd = subpopulation_damage(clean_pa_pred, pa_poisoned, X_test, y_test,
                                           mask)
                seen = certified_fraction(pa_poisoned, X_test, y_test, mask, n)
                coll = certified_damage(dpa, X_test[mask], y_test[mask], n,
                                        time_limit=args.time_limit)
                record = {
                    "rank": rank, "subpopulation": sid, "alpha": alpha, "seed": seed,
                    "n_sub": int(lf.n_subpopulation_), "n_poison": n,
                    "n_test": int(mask.sum()),
                    "certified": promise.certified_fraction,
                    "certified & correct": promise.certified_accuracy,
                    "median radius": promise.median_radius,
                    "damage undefended": und.target_damage,
                    "damage DPA": dfd.target_damage,
                    "DPA acc. clean": dfd.clean_target_accuracy,
                    "DPA acc. attacked": dfd.poisoned_target_accuracy,
                    "bound holds": bool(dfd.poisoned_target_accuracy
                                        >= promise.certified_accuracy - 1e-12),
                    "certified (poisoned DPA)": seen.certified_fraction,
                    "collateral undefended": und.collateral_damage,
                    "collateral DPA": dfd.collateral_damage,
                    "certified damage (collective)": coll.damage,
                    "pointwise": coll.pointwise_damage,
                    "solved": coll.optimal, "collective s": coll.seconds,
                    "collective holds": bool(dfd.target_damage
                                             <= coll.damage + 1e-12),
                }
                if large:
                    promise_large = certified_fraction((large_pred, large_radius),
                                                       None, y_test, mask, n)
                    coll_large = certified_damage(dpa_large, X_test[mask],
                                                  y_test[mask], n,
                                                  time_limit=args.time_limit)
                    record.update({
                        f"certified k={K_LARGE}": promise_large.certified_fraction,
                        f"certified & correct k={K_LARGE}":
                            promise_large.certified_accuracy,
                        f"certified damage k={K_LARGE} (collective)": coll_large.damage,
                        f"pointwise k={K_LARGE}": coll_large.pointwise_damage,
                        f"solved k={K_LARGE}": coll_large.optimal,
                        f"collective s k={K_LARGE}": coll_large.seconds,
                    })
                if full:
                    dfd_large = subpopulation_damage(
                        large_pred, clone(dpa_large).fit(X_res, y_res), X_test,
                        y_test, mask)
                    record.update({
                        f"damage DPA k={K_LARGE}": dfd_large.target_damage,
                        f"bound holds k={K_LARGE}": bool(
                            dfd_large.poisoned_target_accuracy
                            >= promise_large.certified_accuracy - 1e-12),
                        f"collective holds k={K_LARGE}": bool(
                            dfd_large.target_damage <= coll_large.damage + 1e-12),
                    })
                records.append(record)
    runs = pd.DataFrame(records)
    runs.to_csv(out / "subpopulations_runs.csv", index=False)

    def present(agg):
        return {c: how for c, how in agg.items() if c in runs.columns}

    table = (runs.groupby(["rank", "subpopulation", "alpha"], sort=True)
             .agg(present({"n_sub": "first", "n_poison": "mean", "n_test": "first",
                   "certified": "mean", "certified & correct": "mean",
                   "median radius": "mean", "damage undefended": "mean",
                   "damage DPA": "mean", "DPA acc. attacked": "mean",
                   "bound holds": "all", "certified (poisoned DPA)": "mean",
                   f"certified k={K_LARGE}": "mean",
                   f"certified & correct k={K_LARGE}": "mean",
                   f"damage DPA k={K_LARGE}": "mean",
                   f"bound holds k={K_LARGE}": "all"}))
             .reset_index())
    emit(f"Per subpopulation (Adult, ClusterMatch, the {len(top)} most damaged at "
         "alpha 2): certified fraction against the attack's added rows vs. measured "
         "target damage",
         table,
         f"Seeds {seeds}. certified / certified & correct: DPA (k=50) fitted on the "
         "clean D, test rows of the subpopulation whose radius reaches n_poison "
         "(and correct: a lower bound on DPA's accuracy there under any attack of "
         "that size); damage: real LabelFlip, undefended LR and DPA each against "
         "its own clean model; bound holds: DPA's attacked accuracy >= the bound; "
         "certified (poisoned DPA): the same certificate on the model trained on "
         "the poisoned rows (what a defender can compute); k=400: the same with "
         "400 partitions (about 20 rows each), whose radius can reach the "
         "attacks' sizes. Ranking took "
         f"{t_rank:.0f} s.", "subpopulations.csv")
    summary = (runs.groupby("alpha")
               .agg(present({"certified": "mean", "certified & correct": "mean",
                     "damage undefended": "mean", "damage DPA": "mean",
                     "collateral undefended": "mean", "collateral DPA": "mean",
                     "bound holds": "all", f"certified k={K_LARGE}": "mean",
                     f"certified & correct k={K_LARGE}": "mean",
                     f"damage DPA k={K_LARGE}": "mean",
                     f"bound holds k={K_LARGE}": "all"})).reset_index())
    emit(f"Per subpopulation, mean over the {len(top)}", summary, None,
         "subpopulations_summary.csv")

    # the collective certificate against the pointwise count and the damage
    coll_cols = ["damage DPA", "certified damage (collective)", "pointwise",
                 "solved", "collective s", "collective holds",
                 f"damage DPA k={K_LARGE}",
                 f"certified damage k={K_LARGE} (collective)", f"pointwise k={K_LARGE}",
                 f"solved k={K_LARGE}", f"collective s k={K_LARGE}",
                 f"collective holds k={K_LARGE}"]
    agg = {c: ("all" if c.startswith(("solved", "collective holds")) else
               "max" if c.startswith("collective s") else "mean") for c in coll_cols}
    agg = {"n_poison": "mean", "n_test": "first", **agg}
    collective = (runs.groupby(["rank", "subpopulation", "alpha"], sort=True)
                  .agg(present(agg)).reset_index())
    emit(f"Collective certificate per group (Adult, the {len(top)} groups above): "
         "certified largest target damage against n_poison added rows vs the "
         "pointwise count and the measured damage",
         collective,
         "certified damage (collective): certified_damage on DPA fitted on the clean "
         "D, the largest share of the group's test rows any n_poison added, removed "
         "or relabelled rows can turn from right to wrong at once (a mixed-integer "
         f"program, HiGHS, {args.time_limit:g} s limit; solved: optimal, else the "
         "relaxation's bound); pointwise: correct rows whose own radius is below "
         "n_poison (the bound without the collective argument); damage DPA: the "
         "real LabelFlip attack; collective holds: measured <= certified; "
         "collective s: seconds per group (max over seeds).",
         "collective.csv")

    # every kept group at alpha 1, DPA k=50: total time of the collective bound
    train_ids = np.asarray(finder.predict(X))
    t_all, n_solved, gaps = 0.0, 0, []
    for sid in kept:
        mask = test_ids == sid
        n = int(1.0 * np.sum(train_ids == sid))
        res = certified_damage(dpa, X_test[mask], y_test[mask], n,
                               time_limit=args.time_limit)
        t_all += res.seconds
        n_solved += res.optimal
        gaps.append(res.pointwise_damage - res.damage)
    all_groups = (f"Collective certificate of all {len(kept)} kept groups at alpha 1 "
                  f"(DPA k={K}, one core): {t_all:.1f} s in all, {n_solved} solved "
                  f"to optimality; pointwise minus collective damage: mean "
                  f"{np.mean(gaps):.3f}, max {np.max(gaps):.3f}.")
    print(all_groups, flush=True)
    md.append(all_groups)

    # DPA's radius is at most k / 2: the certificate for more partitions
    sweep = []
    n_poison = runs.groupby(["subpopulation", "alpha"])["n_poison"].first()
    for k in (50, 100, 200, 400) if full else ():
        model = dpa if k == K else dpa_large if k == K_LARGE else PartitionAggregation(
            lr_victim(), n_partitions=k, random_state=0).fit(X, y)
        k_pred, k_radius = model.certify(X_test)
        in_top = np.isin(test_ids, top)
        for alpha in ALPHAS:
            fr = [certified_fraction((k_pred, k_radius), None, y_test, test_ids == sid,
                                     int(n_poison[sid, alpha])) for sid in top]
            sweep.append({
                "k": k, "rows per partition": round(len(y) / k, 1), "alpha": alpha,
                "test accuracy": float(np.mean(k_pred == y_test)),
                "accuracy on the top subpops": float(np.mean(
                    k_pred[in_top] == y_test[in_top])),
                "max radius": int(k_radius.max()),
                "certified": float(np.mean([f.certified_fraction for f in fr])),
                "certified & correct": float(np.mean([f.certified_accuracy
                                                      for f in fr]))})
    if full:
        emit(f"DPA with more partitions: the {len(top)} subpopulations' certified "
             "fraction against int(alpha * n_sub) added rows (clean fits)",
             pd.DataFrame(sweep), None, "partitions_sweep.csv")

    total = time.perf_counter() - start
    timing = f"Wall time: {total:.0f} s."
    print(timing)
    md.append(timing)
    (out / "tables.md").write_text("\n\n".join(md) + "\n")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()

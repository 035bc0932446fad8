"""Every table of the audit, and its report model: one list of sections.

The tables (:func:`summarize`, :func:`vulnerable_groups`,
:func:`defense_effect`, :func:`certified_groups`, :func:`cost_to_damage`,
:func:`parameters_table`) read
an audit's results; :func:`report_sections` builds the report once from a
finished audit (title, text, tables and figures), and ``_render`` prints it on
the console or writes it as an HTML page. Nothing here imports the audit
itself: the audit calls this module, never the other way.
"""

import math
import time
from functools import partial

import numpy as np
import pandas as pd

from ..metrics import paired_counts_interval, seed_mean_interval
from ..utils._readable import readable
from ..utils._torch import estimator_device
from ._describe import describe_subpopulation
from ._render import (Section, draw_by_alpha, fig_by_alpha, fig_map, fig_per_group,
                      fig_removal)

CERTIFIED_NOTE = (
    "A certifying defense (partition aggregation) is also fitted on the clean "
    "training rows. certified: the share of the group's test rows whose prediction "
    "no attack adding as many rows as this one (poisons), whatever the rows, can "
    "change; certified & correct: those also predicted correctly, a lower bound on "
    "the defended model's accuracy on the group under any such attack, beside "
    "accuracy with, what this attack left (and damage without / with, the target "
    "damage it did without and with the defense). A certificate covers a limited "
    "number of rows (for partition aggregation, at most half its partitions): "
    "larger attacks certify nothing. Means over seeds.")
CERTIFIED_DAMAGE_NOTE = (
    " certified damage: the largest target damage any attack adding alpha x the "
    "group's training rows can do to the defense fitted on the clean rows (the "
    "collective certificate of Chen et al., ICML 2022: the same corrupted partitions "
    "must flip every row), beside measured damage, what this attack did to it (its "
    "accuracy on the group fitted on the clean rows minus after the attack), and, "
    "with the model-targeted attack, the poisons it needed. The audit stops with an "
    "error if a measured damage exceeds its certificate.")


def csv_safe(table):
    """``table`` with its text cells that start with ``=``, ``+``, ``-`` or
    ``@`` prefixed with ``'``, so that a spreadsheet shows them as text
    instead of running them as formulas; numbers are left alone."""
    out = table.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].map(_formula_safe)
    return out


def _formula_safe(value):
    starts_formula = isinstance(value, str) and value[:1] in ("=", "+", "-", "@")
    return "'" + value if starts_formula else value


def _pct(value):
    return "" if pd.isna(value) else f"{100 * value:.1f}%"


# ---------------------------------------------------------------------------
# tables


def with_intervals(results, n_test_rows):
    """``results`` with the 95% interval of each row's target and collateral
    damage (``*_damage_low``, ``*_damage_high``), from the counts of test rows
    each model got right (see :func:`~skpoison.metrics.paired_counts_interval`);
    NaN for rows stored without the counts."""
    out = results.copy()
    n_target = out["n_test"]
    for part, n in (("target", n_target), ("collateral", n_test_rows - n_target)):
        if f"{part}_lost" not in out:
            out[f"{part}_damage_low"] = out[f"{part}_damage_high"] = np.nan
            continue
        lost, gained = out[f"{part}_lost"], out[f"{part}_gained"]
        both = (out[f"clean_{part}_accuracy"] * n).round() - lost
        _, low, high = paired_counts_interval(both, lost, gained,
                                              n - both - lost - gained)
        out[f"{part}_damage_low"], out[f"{part}_damage_high"] = low, high
    return out


def collected_warnings(results):
    """The warnings kept in ``results``' ``warnings`` column, once each:
    ``warning``, ``count`` and ``where`` (the first five rows raising it)."""
    if "warnings" not in results:
        return pd.DataFrame(columns=["warning", "count", "where"])
    found = {}  # warning -> where it was raised, once per row
    for row in results.itertuples(index=False):
        for text in row.warnings if isinstance(row.warnings, list) else ():
            found.setdefault(" ".join(str(text).split())[:300], []).append(
                f"{row.filter} {row.description} (alpha {row.alpha:g}, {row.defense})")
    table = []
    for warning, where in found.items():
        places = list(dict.fromkeys(where))
        table.append((warning, len(where), "; ".join(places[:5])
                      + ("..." if len(places) > 5 else "")))
    return pd.DataFrame(table, columns=["warning", "count", "where"])


def summarize(results, top=(1, 5, 10)):
    """Top-k table from an audit's results; see ``SubpopulationAudit.summary``.

    Read more in the :ref:`User Guide <audit>`.
    """
    per = per_subpopulation(results).sort_values("target_damage", ascending=False,
                                                 kind="stable")
    out = []
    for (fname, defense, alpha), g in per.groupby(["filter", "defense", "alpha"]):
        damage, clear = g["target_damage"], g["low"] > 0
        out.append({"filter": fname, "defense": defense, "alpha": alpha,
                    **{f"top{k}": damage.head(k).mean() for k in top},
                    "mean_target": damage.mean(),
                    "mean_collateral": g["collateral_damage"].mean(),
                    "max_collateral": g["collateral_damage"].max(),
                    "n_subpopulations": len(g), "worst": g["description"].iloc[0],
                    **{f"top{k}_clearly_damaged": int(clear.head(k).sum())
                       for k in top},
                    "n_clearly_damaged": int(clear.sum())})
    return pd.DataFrame(out).set_index(["filter", "defense", "alpha"])


def baseline_defense(results):
    """The undefended rows' defense name: ``"none"`` when run, else the first."""
    names = list(dict.fromkeys(results["defense"]))
    return "none" if "none" in names else names[0]


def _seed_intervals(groups, column):
    """Per group of rows (one per seed): the mean of ``column`` and its
    interval over rows and seeds."""
    index = groups.size().index
    if f"{column}_low" not in groups.obj:
        return pd.DataFrame({"low": np.nan, "high": np.nan}, index=index)
    bounds = [seed_mean_interval(g[column], g[f"{column}_low"], g[f"{column}_high"])[1:]
              for _, g in groups]
    return pd.DataFrame(bounds, columns=["low", "high"], index=index)


def per_subpopulation(results):
    """Damage averaged over seeds, per (filter, defense, alpha, subpopulation),
    with the group's ``n_aux`` and ``n_test``, and the 95% interval of the
    target damage over rows and seeds (``low``, ``high``)."""
    columns = {c: (c, "mean") for c in ("target_damage", "collateral_damage")}
    columns.update({c: (c, "first") for c in ("n_test", "n_aux") if c in results})
    groups = results.groupby(["filter", "defense", "alpha", "subpopulation",
                              "description"], sort=False)
    return groups.agg(**columns).join(_seed_intervals(groups, "target_damage")
                                      ).reset_index()


def vulnerable_groups(results, top=10, min_test_rows=10):
    """The groups an attacker damages most, by name, undefended.

    Parameters
    ----------
    results : DataFrame
        ``SubpopulationAudit.results_``.
    top : int or None, default=10
        How many groups (over all filters); ``None`` keeps all.
    min_test_rows : int, default=10
        Groups with fewer test rows are ranked after all the others (their
        damage cannot be measured: one row is more than 10 points).

    Returns
    -------
    table : DataFrame
        One row per group, ranked by the lower end of the 95% interval of
        its target damage at the largest alpha (then by the damage), groups
        with fewer than ``min_test_rows`` test rows last: ``id`` (``#1``,
        ``#2``... as the report's charts label them), ``filter``, ``group``
        (its name), ``rows`` (its rows in the victim's training data), ``aux
        rows``, ``test rows``, ``clean accuracy`` (the clean model's accuracy
        on the group's test rows), ``majority rate`` (the share of its test
        rows in their most common class), for each alpha ``damage at
        alpha=<a>`` (target damage without defense, mean over seeds) with
        ``low at alpha=<a>`` and ``high at alpha=<a>`` (its 95% interval),
        ``collateral at alpha=<max>``, ``clearly damaged`` (the interval at
        the largest alpha is above 0) and ``measured`` (enough test rows).
    """
    table = _ranked_groups(results, min_test_rows)
    return (table if top is None else table.head(top)).reset_index(drop=True)


def _ranked_groups(results, min_test_rows=10):
    """The table of :func:`vulnerable_groups`, indexed by (filter,
    subpopulation)."""
    base = results[results["defense"] == baseline_defense(results)]
    keys = ["filter", "subpopulation"]
    table = base.assign(majority_rate=base.get("majority_rate", np.nan)).groupby(
        keys, sort=False).agg(**{
            "group": ("description", "first"), "rows": ("n_train", "first"),
            "aux rows": ("n_aux", "first"), "test rows": ("n_test", "first"),
            "clean accuracy": ("clean_target_accuracy", "mean"),
            "majority rate": ("majority_rate", "first")})
    table = table.astype({c: int for c in ("rows", "aux rows", "test rows")})
    table.insert(0, "filter", table.index.get_level_values("filter"))
    per = per_subpopulation(base).rename(columns={"target_damage": "damage"})
    per = per.set_index(keys)
    alphas = sorted(per["alpha"].unique())
    for alpha in alphas:
        at = per[per["alpha"] == alpha]
        for what in ("damage", "low", "high"):
            table[f"{what} at alpha={alpha:g}"] = at[what]
    last = f"at alpha={alphas[-1]:g}"
    table[f"collateral {last}"] = at["collateral_damage"]
    table["clearly damaged"] = table[f"low {last}"] > 0
    table["measured"] = table["test rows"] >= min_test_rows
    rank = table[f"low {last}"].fillna(table[f"damage {last}"])
    table = table.assign(_low=rank).sort_values(
        ["measured", "_low", f"damage {last}"], ascending=False, kind="stable")
    table = table.drop(columns="_low")
    table.insert(0, "id", [f"#{k}" for k in range(1, len(table) + 1)])
    return table


def _verdict(low, high):
    return np.where(low > 0, "helped",
                    np.where(high < 0, "hurt", "no clear difference"))


def defense_groups(results):
    """Per defense (other than the baseline), alpha and group: did it help?

    The change of the group's test accuracy with the defense, against the
    baseline (undefended) model trained on the same poisoned rows, scored on
    the same test rows, as a 95% interval over rows and seeds
    (:func:`~skpoison.metrics.paired_counts_interval`,
    :func:`~skpoison.metrics.seed_mean_interval`): ``helped`` when it is
    above 0, ``hurt`` when below, else ``no clear difference``; the same
    against a random filter removing as many rows (``vs random``).
    """
    base_name = baseline_defense(results)
    keys = ["filter", "subpopulation", "alpha", "seed"]
    rows = results[results.defense != base_name].reset_index(drop=True)
    if "target_correct" not in results or rows.empty:
        return pd.DataFrame()
    base = results[results.defense == base_name].set_index(keys)["target_correct"]
    for c in ("random_target_correct", "random_target_damage"):
        rows[c] = rows.get(c, np.nan)
    pairs = {"gain": base.reindex(pd.MultiIndex.from_frame(rows[keys])),
             "random": rows["random_target_correct"]}
    for name, other in pairs.items():
        counts = np.array([_pair_counts(mine, theirs) for mine, theirs
                           in zip(rows["target_correct"], other)], dtype=float)
        est, low, high = paired_counts_interval(*counts.reshape(-1, 4).T)
        rows[name], rows[f"{name}_low"], rows[f"{name}_high"] = est, low, high
    groups = rows.groupby(["defense", "filter", "alpha", "subpopulation"], sort=False)
    out = groups.agg(group=("description", "first"), damage=("target_damage", "mean"),
                     random=("random_target_damage", "mean"))
    for name, label in (("gain", "verdict"), ("random", "vs random")):
        iv = _seed_intervals(groups, name)
        out[label] = np.where(iv.low.isna(), "", _verdict(iv.low, iv.high))
    return out.reset_index()


def _pair_counts(mine, theirs):
    """(both right, only mine, only theirs, neither) over two 0/1 strings."""
    if not (isinstance(mine, str) and isinstance(theirs, str)
            and len(mine) == len(theirs)):
        return [np.nan] * 4
    a, b = (np.frombuffer(bits.encode(), "u1") == ord("1") for bits in (mine, theirs))
    return [np.sum(a & b), np.sum(a & ~b), np.sum(~a & b), np.sum(~a & ~b)]


# the bounds' columns of a certifying defense's rows, when they were measured
_BOUND_COLUMNS = {"certified_damage": "certified damage",
                  "defended_damage": "measured damage",
                  "n_poison_needed": "poisons needed"}


def certified_groups(results, top=10):
    """What each certifying defense promises the most vulnerable groups.

    Beside the damage the attack achieved, the certificate of a defense such
    as :class:`~skpoison.defenses.PartitionAggregation`, fitted on the clean
    training rows: the share of the group's test rows whose prediction no
    attack adding as many rows as this one can change.

    Parameters
    ----------
    results : DataFrame
        ``SubpopulationAudit.results_``.
    top : int or None, default=10
        The groups of :func:`vulnerable_groups` (most damaged undefended
        first); ``None`` keeps all.

    Returns
    -------
    table : DataFrame
        One row per certifying defense, group and alpha (means over seeds):
        ``defense``, ``filter``, ``group``, ``alpha``, ``poisons`` (rows the
        attack added), ``damage without`` (target damage undefended; empty
        without an undefended run), ``damage with`` (with the defense),
        ``accuracy with`` (the defended model's accuracy on the group after
        the attack), ``certified`` and
        ``certified & correct`` (a lower bound on ``accuracy with`` under
        any attack adding ``poisons`` rows). Empty when no certifying defense
        ran.
    """
    means = {"n_poison": "poisons", "target_damage": "damage with",
             "poisoned_target_accuracy": "accuracy with", "certified": "certified",
             "certified_correct": "certified & correct",
             **{c: label for c, label in _BOUND_COLUMNS.items() if c in results}}
    columns = ["defense", "filter", "group", "alpha", "n_poison", "without",
               *list(means)[1:]]
    labels = {**means, "without": "damage without"}
    certified = results.get("certified", pd.Series(np.nan, index=results.index))
    certifying = list(dict.fromkeys(results.loc[certified.notna(), "defense"]))
    if not certifying:
        return pd.DataFrame(columns=[labels.get(c, c) for c in columns])
    keys = ["filter", "subpopulation", "alpha"]
    mean = results.groupby(["defense", *keys])[list(means)].mean().reset_index()
    base_name = baseline_defense(results)
    undefended = mean.loc[mean["defense"] == base_name, [*keys, "target_damage"]]
    ranked = _ranked_groups(results)["group"]
    ranked = (ranked if top is None else ranked.head(top)).reset_index()
    table = (ranked.assign(rank=range(len(ranked)))
             .merge(mean[mean["defense"].isin(certifying)])
             .merge(undefended.rename(columns={"target_damage": "without"}),
                    on=keys, how="left"))
    table.loc[table["defense"] == base_name, "without"] = np.nan  # no undefended run
    table["n_poison"] = table["n_poison"].round().astype(int)
    table["order"] = table["defense"].map(certifying.index)
    table = table.sort_values(["order", "rank", "alpha"], kind="stable")
    return table[columns].rename(columns=labels).reset_index(drop=True)


def defense_effect(results, n_clean=None):
    """Per defense and alpha: the groups it clearly helped or hurt, beside two
    baselines on the same poisoned rows, and what it cost.

    Parameters
    ----------
    results : DataFrame
        ``SubpopulationAudit.results_``.
    n_clean : int, default=None
        Clean training rows (``n_rows_["train"]``), to count the clean rows
        removed as well as their share.

    Returns
    -------
    table : DataFrame
        One row per (defense, alpha) for every defense other than the
        undefended baseline (see :func:`defense_groups`): the number of
        groups it ``helped``, ``hurt`` and left with ``no clear difference``,
        the groups it ``made worse``, the worst target damage of any group
        ``without`` and ``with`` it, with a ``random filter`` removing as
        many training rows at random and with a ``perfect filter`` (removing
        exactly the poisons leaves the clean model: 0), the groups on which
        it ``beats random`` and ``loses to random``, when a certifying
        defense ran the mean ``certified`` and ``certified & correct``
        shares of the groups' test rows, the mean shares of ``poison
        removed`` and ``clean removed`` rows, the ``clean rows removed`` and
        the mean collateral damage without and with it. Empty when only the
        baseline ran or the results carry no per-row outcomes.
    """
    groups = defense_groups(results)
    if groups.empty:
        return pd.DataFrame()
    per = per_subpopulation(results)
    base = per[per.defense == baseline_defense(results)]
    means = {"certified": "certified", "certified_correct": "certified & correct",
             "poison_removed": "poison removed", "clean_removed": "clean removed"}
    rows = []
    for (defense, alpha), g in groups.groupby(["defense", "alpha"], sort=False):
        at = results[(results.defense == defense) & (results.alpha == alpha)]
        without, verdict = base[base.alpha == alpha], g["verdict"].value_counts()
        chance = g["vs random"].value_counts()
        mean = {means[c]: at[c].mean() if c in at else np.nan for c in means}
        rows.append({
            "defense": defense, "alpha": alpha,
            **{k: verdict.get(k, 0) for k in ("helped", "hurt", "no clear difference")},
            "made worse": "; ".join(g.loc[g["verdict"] == "hurt", "group"]),
            "worst without": without.target_damage.max(), "worst with": g.damage.max(),
            "worst random filter": g["random"].max(), "worst perfect filter": 0.0,
            "beats random": chance.get("helped", 0),
            "loses to random": chance.get("hurt", 0), **mean,
            "clean rows removed": (mean["clean removed"] * n_clean
                                   if n_clean is not None else np.nan),
            "collateral without": without.collateral_damage.mean(),
            "collateral with": at.collateral_damage.mean()})
    return pd.DataFrame(rows)


def defense_verdicts(effect):
    """One sentence per defense, from the counts of :func:`defense_effect`.

    Returns
    -------
    verdicts : list of (defense, kind, sentence)
        ``kind`` is ``"helped"`` (some group clearly helped, none clearly
        hurt, at every alpha taken together), ``"worse"`` (the reverse),
        ``"mixed"`` (both) or ``"none"`` (no group clearly changed).
    """
    out = []
    for defense, grp in ([] if effect.empty else effect.groupby("defense", sort=False)):
        helped, hurt = grp["helped"].sum() > 0, grp["hurt"].sum() > 0
        kind = {(True, False): "helped", (False, True): "worse", (True, True): "mixed",
                (False, False): "none"}[helped, hurt]
        parts = [
            f"alpha {r.alpha:g}: clearly helped {_n_groups(r.helped)}, clearly hurt "
            f"{r.hurt}{f' ({r.made_worse})' if r.hurt else ''}, no clear difference "
            f"for {r.no_clear_difference}; worst-case damage {r.worst_without:.3f} "
            f"without, {r.worst_with:.3f} with it"
            + (f", {r.worst_random_filter:.3f} with a random filter removing as many "
               "rows" if pd.notna(r.worst_random_filter) else "")
            + f", 0 with a perfect filter; better than the random filter for "
            f"{_n_groups(r.beats_random)}, worse for {r.loses_to_random}"
            for r in grp.rename(columns=lambda c: c.replace(" ", "_")).itertuples()]
        cost = (f"removed {_pct(grp['clean removed'].mean())} of the clean training "
                f"rows (about {grp['clean rows removed'].mean():.0f})"
                f" and {_pct(grp['poison removed'].mean())} of the poisons"
                if grp["clean removed"].notna().any() else "removes no row")
        certified = ("; certified (and correct) shares of a group's test rows: "
                     + ", ".join(f"alpha {r.alpha:g}: {_pct(r['certified'])} "
                                 f"({_pct(r['certified & correct'])})"
                                 for _, r in grp.iterrows())
                     if grp["certified"].notna().any() else "")
        collateral = (f"collateral damage {grp['collateral with'].mean():+.3f} "
                      f"(without it {grp['collateral without'].mean():+.3f})")
        out.append((defense, kind, f"{defense}: " + "; ".join(parts)
                    + f". Cost: {cost}, {collateral}{certified}."))
    return out


def _n_groups(n):
    return f"{n} group" if n == 1 else f"{n} groups"


def subpopulation_map(fname, finder, X_aux, descriptions=None):
    """2-D coordinates of the kept subpopulations: PCA of their centroids.

    The centroids are taken over the standardised numeric columns of
    ``X_aux`` (missing values filled with the column mean) and the indicator
    columns of its categories (columns with at most 30 values).

    Returns
    -------
    map : DataFrame
        ``filter``, ``subpopulation``, ``description``, ``n_aux``, ``x``, ``y``.
    """
    from sklearn.decomposition import PCA

    ids = np.asarray(finder.predict(X_aux))
    sub = np.asarray(finder.subpopulations_)
    if descriptions is None:
        descriptions = {s: describe_subpopulation(finder, s) for s in sub}
    out = pd.DataFrame({"filter": fname, "subpopulation": sub.astype(int),
                        "description": [descriptions[s] for s in sub],
                        "n_aux": np.asarray(finder.sizes_, dtype=int),
                        "x": 0.0, "y": 0.0})
    X = _map_features(X_aux)
    if X.shape[1] == 0 or len(sub) < 2:
        return out
    scale = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    centroids = np.vstack([X[ids == s].mean(axis=0) for s in sub])
    coords = PCA(n_components=min(2, centroids.shape[1], len(sub)),
                 random_state=0).fit_transform(centroids)
    out[["x", "y"][:coords.shape[1]]] = coords
    return out


def _map_features(X):
    """The rows as numbers for the map: the numeric columns (a missing or
    infinite value read as its column's mean) and the indicators of the
    values of every other column with at most 30 of them; for images and
    texts (arrays), their numbers."""
    if not isinstance(X, pd.DataFrame):
        X = np.asarray(X.toarray() if hasattr(X, "toarray") else X)
        X = pd.DataFrame(X.reshape(len(X), -1) if np.issubdtype(X.dtype, np.number)
                         else np.zeros((len(X), 0)))
    numeric = X.select_dtypes(include=["number", "bool"])
    values = numeric.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(values)
    mean = np.where(finite, values, 0.0).sum(axis=0) / np.maximum(finite.sum(axis=0), 1)
    parts = ([np.where(finite, values, np.where(np.isfinite(mean), mean, 0.0))]
             if numeric.shape[1] else [])
    parts += [pd.get_dummies(X[c].astype(object), dummy_na=True).to_numpy(float)
              for c in X.columns.difference(numeric.columns, sort=False)
              if X[c].nunique(dropna=False) <= 30]
    return np.hstack(parts) if parts else np.zeros((len(X), 0))


def _removal(results):
    """The mean shares of the poison and clean rows each defense removed, by
    filter and alpha; None when no defense removes rows."""
    if "poison_removed" not in results or results["clean_removed"].isna().all():
        return None
    return results.dropna(subset=["clean_removed"]).groupby(
        ["filter", "defense", "alpha"])[["poison_removed", "clean_removed"]].mean()


def cost_to_damage(results):
    """Per group attacked by the model-targeted attack (undefended rows): the
    fewest poisons it needed (over alphas and seeds), the lower bound for the
    model that run induced and the efficiency, fewest first; groups whose
    budget did not suffice last, without a bound."""
    names = {"filter": "filter", "group": "group", "rows": "rows",
             "needed": "poisons needed", "bound": "at least (its model)",
             "efficiency": "efficiency", "budget": "largest budget"}
    if "lower_bound" not in results or results["lower_bound"].isna().all():
        return pd.DataFrame(columns=list(names.values()))
    rows = results[results["defense"] == baseline_defense(results)]
    # each group's run with the fewest poisons: its bound is for its model
    rows = rows.assign(lower_bound=rows["lower_bound"].where(
        rows["n_poison_needed"].notna())).sort_values(
        "n_poison_needed", kind="stable", na_position="last")
    g = rows.groupby(["filter", "subpopulation"], sort=False).agg(
        group=("description", "first"), rows=("n_train", "first"),
        needed=("n_poison_needed", "first"), bound=("lower_bound", "first"),
        budget=("alpha", "max"))
    g = g.sort_values(["needed", "bound"], kind="stable", na_position="last")
    g["efficiency"] = g["needed"] / g["bound"]
    g["bound"] = [math.ceil(b) if pd.notna(b) else np.nan for b in g["bound"]]
    g["budget"] = [int(a * n) for a, n in zip(g["budget"], g["rows"])]
    table = g.reset_index(level="filter").reset_index(drop=True)
    return table[list(names)].rename(columns=names)


def plot_summary(results, path=None):
    """Figure: Top-1, Top-5 mean and mean target damage and collateral damage by alpha.

    Read more in the :ref:`User Guide <audit>`.

    Parameters
    ----------
    results : DataFrame
        ``SubpopulationAudit.results_``.
    path : str or Path, default=None
        Write a PNG there when given.

    Returns
    -------
    fig : matplotlib Figure
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summarize(results, top=(1, 5)).reset_index()
    fig = plt.figure(figsize=(5.5 * max(1, table["filter"].nunique()), 4))
    draw_by_alpha(fig, table)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


# ---------------------------------------------------------------------------
# the report model


def _rows_text(n_rows):
    return (f"{n_rows['train']} training rows (D), {n_rows['aux']} attacker's rows "
            f"(D_aux), {n_rows['test']} test rows")


def _finder_text(audit, fname):
    finder = audit.fitted_finders_[fname]
    results = audit.results_
    attacked = results.loc[results["filter"] == fname, "subpopulation"].nunique()
    params = finder.get_params()
    columns = params.get("columns")
    on = (" on " + readable(list(columns) if isinstance(columns, tuple) else columns)
          .strip("[]") if columns is not None else "")
    bounds = " < ".join(str(v) for v in (params.get("min_size"), "aux rows",
                                         params.get("max_size")) if v is not None)
    size = f" ({bounds})" if bounds != "aux rows" else ""
    return (f"{fname}{on}: {len(finder.subpopulations_)} groups pass the size "
            f"filter{size}, {len(audit.skipped_[fname])} skipped (no test rows), "
            f"{attacked} attacked")


def _run_params(audit):
    """The alphas, the seeds and the victim's torch device (when it has one)."""
    device = estimator_device(audit.estimator)
    return (", ".join(f"{a:g}" for a in audit.alphas),
            ", ".join(str(s) for s in audit.seeds),
            f"device {device}" if device is not None else None)


def parameters_table(audit):
    """The audit's parameters, readable (a DataFrame ``parameter, value``)."""
    alphas, seeds, device = _run_params(audit)
    rows = {"data": audit.title or "", "rows": _rows_text(audit.n_rows_),
            "victim": readable(audit.estimator),
            "attack": (readable(audit.attack) if audit.attack is not None
                       else "LabelFlip (default)")}
    rows.update({f"finder {name}": readable(f) for name, f in audit.finders.items()})
    rows.update({f"defense {name}": readable(d)
                 for name, d in (audit.defenses or {"none": None}).items()})
    rows.update({
        "alphas": alphas, "seeds": seeds,
        "oracle n_remove": str(audit.oracle_n_remove),
        "max subpopulations": ("all" if audit.max_subpopulations is None
                               else str(audit.max_subpopulations)),
        "backend / n_jobs": (f"{audit.backend or 'default (loky)'} / {audit.workers_}"
                             + (f", {device}" if device else "")),
        "result store": str(audit.store) if audit.store is not None else "none",
        "configuration hash": audit.config_hash_,
        "units": (f"{len(audit.results_)} result rows: {audit.n_computed_} computed "
                  f"in this run, {audit.n_reused_} loaded from the store"),
        "time": ", ".join(f"{k} {v:.1f} s" for k, v in audit.timings_.items())})
    rows.update({f"{f} subpopulations": _finder_text(audit, f).split(": ", 1)[1]
                 for f in audit.fitted_finders_})
    values = [" ".join(str(v).split()) for v in rows.values()]
    return pd.DataFrame({"parameter": list(rows), "value": values})


def _damage_view(groups):
    """The groups table as the report shows it: damage and its 95% interval
    in one cell per alpha."""
    view = groups[["id", "filter", "group", "rows", "test rows", "clean accuracy",
                   "majority rate"]].copy()
    for c in [c for c in groups.columns if c.startswith("damage at ")]:
        a = c.removeprefix("damage at ")
        low, high = groups[f"low at {a}"], groups[f"high at {a}"]
        view[a] = [f"{d:.3f}" + (f" [{lo:.2f}, {hi:.2f}]" if pd.notna(lo) else "")
                   for d, lo, hi in zip(groups[c], low, high)]
    return view


_GROUPS_WRAP = {"group": 36, "filter": 12}


def _groups_sections(audit):
    results, base = audit.results_, baseline_defense(audit.results_)
    groups = vulnerable_groups(results, top=None, min_test_rows=audit.min_test_rows)
    measured, apart = groups[groups["measured"]], groups[~groups["measured"]]
    out = [Section("heading", "The most vulnerable groups"),
           Section("text", f"The groups an attacker damages most ("
                   f"{'undefended' if base == 'none' else 'defense ' + base}), ranked "
                   "by the lower end of the 95% interval of their damage at the "
                   "largest alpha: rows is the group's size in the training data, "
                   "clean accuracy the clean model's accuracy on its test rows "
                   "(beside the share of its most common class), then the target "
                   "damage (accuracy lost on the group, 0.25 = 25 points) at each "
                   "alpha, [95% interval]. "
                   f"{int(measured['clearly damaged'].sum())} of {len(measured)} "
                   "measured groups are clearly damaged (interval "
                   "above 0)."),
           Section("table", _damage_view(measured.head(10)), wrap=_GROUPS_WRAP)]
    if len(apart):
        out += [Section("text", f"Too few test rows to measure (fewer than "
                        f"{audit.min_test_rows}), listed apart:"),
                Section("table", _damage_view(apart.head(10)), wrap=_GROUPS_WRAP)]
    lost = audit.not_attacked_
    if len(lost):
        counts = lost.groupby(["filter", "reason"], sort=False).size()
        out += [Section("text", "Groups not attacked: " + "; ".join(
                    f"{f}: {n} ({r})" for (f, r), n in counts.items()) + "."),
                Section("table", lost, wrap={"group": 46, "reason": 30}, where="html")]
    return out


def _defense_sections(results, n_train):
    effect = defense_effect(results, n_clean=n_train)
    verdicts = defense_verdicts(effect)
    out = [Section("heading", "Did the defenses help?")]
    if not verdicts:
        return out + [Section("note", "Only one defense was run, so there is nothing "
                              "to compare; run the audit with several defenses (e.g. "
                              "none,trim).")]
    out += [Section("list", [(kind, text) for _, kind, text in verdicts]),
            Section("table", effect.drop(columns=["made worse"]), where="html")]
    certified = certified_groups(results, top=5)
    if not certified.empty:
        repeated = certified.duplicated(["defense", "filter", "group"])
        certified.loc[repeated, ["defense", "filter", "group"]] = ""
        out += [Section("heading", "What the certificate promises, on the 5 most "
                        "vulnerable groups"), Section("text", CERTIFIED_NOTE + (
                            CERTIFIED_DAMAGE_NOTE if "certified_damage" in results
                            else "")),
                Section("table", certified, wrap=_GROUPS_WRAP)]
    return out


def _cost_sections(audit):
    """The "Cost to damage" section (none without the model-targeted attack)."""
    table = cost_to_damage(audit.results_)
    if table.empty:
        return []
    order = getattr(audit.subpopulation_order, "scores_", None)
    ranked = (f" Groups were chosen by susceptibility: {sum(map(len, order.values()))}"
              " candidate groups scored, the lowest bound attacked first." if order
              else "")
    text = (f"Groups ordered by the fewest poisons the model-targeted attack (Suya "
            f"et al., ICML 2021) needed to bring its model's error on the group's "
            f"attacker rows to {audit.attack.get_params()['target_error']:g}, within "
            "a budget of alpha x the group's training rows. At least: the lower bound "
            "for this victim (Suya et al.'s, for the model that attack induced): no "
            "attack whatever, with poisons in the same feasible set, induces that "
            "model with fewer; efficiency = needed / bound, at least 1 (1 is optimal)."
            f" {int(table['poisons needed'].notna().sum())} of "
            f"{len(table)} groups reached the goal within the largest budget.{ranked}")
    return [Section("heading", "Cost to damage"), Section("text", text),
            Section("table", table.head(20), wrap=_GROUPS_WRAP)]


def _figure_sections(audit):
    results = audit.results_
    ranked = _ranked_groups(results, audit.min_test_rows)
    alpha, base = max(results["alpha"]), baseline_defense(results)
    ids = ranked[["id"]].assign(rank=range(len(ranked)))
    per_group = (per_subpopulation(results).query("alpha == @alpha")
                 .join(ids, on=["filter", "subpopulation"])
                 .sort_values("rank", kind="stable")
                 .rename(columns={"target_damage": "damage"}))
    labelled = ranked.groupby(level="filter", sort=False).head(3)
    named = "; ".join(f"{i}: {g}" for i, g in zip(labelled["id"], labelled["group"]))
    top_k = summarize(results, top=(1, 5)).reset_index()
    removal = _removal(results)
    return [
        Section("heading", "Damage by alpha", where="html"),
        Section("figure", partial(fig_by_alpha, top_k),
                caption="Top-1, Top-5 mean and mean target damage by poisoning rate, "
                "per filter and defense."),
        Section("heading", "Damage per group", where="html"),
        Section("figure", partial(fig_per_group, per_group, alpha),
                caption="Target damage of each attacked group at the largest alpha, "
                "per defense; groups by their id in the table of the most vulnerable "
                "groups (groups.csv), most damaged first."),
        Section("heading", "Map of the groups", where="html"),
        Section("figure", partial(fig_map, audit.subpopulation_map_,
                                  ranked[f"damage at alpha={alpha:g}"], labelled["id"],
                                  alpha, base),
                caption="Each circle is a group that passes the size filter, placed "
                "by PCA of the (standardised) centroid of its auxiliary rows, sized by "
                "its number of auxiliary rows; attacked ones are filled by their "
                "target damage. The three most damaged of each filter are labelled "
                f"by their id: {named}."),
        Section("heading", "What each defense removed", where="html"),
        (Section("note", "No defense with a support_mask_ was run, so there is "
                 "nothing to show.", where="html") if removal is None else
         Section("figure", partial(fig_removal, removal.reset_index()),
                 caption="Mean fraction of the poison rows and of the clean "
                 "training rows each defense removed, by alpha."))]


def report_sections(audit):
    """The report of a finished audit, as a list of sections (see ``_render``).

    Built once, printed by :func:`~skpoison.audit._render.render_text` and
    written by :func:`~skpoison.audit._render.render_html`.
    """
    results = audit.results_
    accuracy = ", ".join(f"{v:.3f} (seed {s})"
                         for s, v in audit.clean_accuracy_.items())
    top_k = summarize(results).reset_index().drop(columns=["max_collateral", "worst"])
    for c in [c for c in top_k.columns if c.startswith("top") and "_clear" in c]:
        k = c.removesuffix("_clearly_damaged")
        top_k[k] = [f"{v:.3f} ({n} clear)" for v, n in zip(top_k[k], top_k.pop(c))]
    top_k = top_k.rename(columns={"n_clearly_damaged": "clearly damaged"})
    alphas, seeds, device = _run_params(audit)
    attack = readable(audit.attack) if audit.attack is not None else "LabelFlip"
    return [
        Section("title", audit.title or "skpoison audit"),
        Section("text", f"attack {attack}; alphas {alphas}; seeds {seeds}"
                + (f"; {device}" if device else "")),
        Section("note", f"Written {time.strftime('%Y-%m-%d %H:%M:%S')}. Damage is "
                "accuracy lost on test rows, as a fraction (0.25 = 25 points), "
                "positive = damage: target damage on the attacked group, collateral "
                "damage on the rest of the test rows. alpha is the number of poison "
                "rows per training row of the group.", where="html"),
        Section("heading", "The clean model"),
        Section("text", f"Trained on the clean data, the victim has test accuracy "
                f"{accuracy}; {_rows_text(audit.n_rows_)}."),
        *[Section("note", note) for note in audit.notes or ()],
        *[Section("text", _finder_text(audit, f)) for f in audit.fitted_finders_],
        *_groups_sections(audit),
        *_defense_sections(results, audit.n_rows_["train"]),
        *_cost_sections(audit),
        *_figure_sections(audit),
        Section("heading", "Top-k target damage"),
        Section("note", "The paper's summary: the mean target damage of the k most "
                "damaged groups, per filter, defense and alpha, with how many of them "
                "are clearly damaged (95% interval above 0); summary.csv also names "
                "the most damaged group of each row."),
        Section("table", top_k, wrap={"filter": 12}),
        *([Section("heading", "Warnings raised during the work"),
           Section("table", audit.warnings_, wrap={"warning": 50, "where": 40})]
          if len(audit.warnings_) else []),
        Section("heading", "Parameters", where="html"),
        Section("table", parameters_table(audit), where="html"),
        Section("text", f"{audit.n_computed_} poisoned fits in "
                f"{audit.timings_['total']:.1f} s ({audit.workers_}); "
                f"{audit.n_reused_} loaded from the store.")]

"""Every table of the audit, and its report model: one list of sections.

The tables (:func:`summarize`, :func:`vulnerable_groups`,
:func:`defense_effect`, :func:`certified_groups`, :func:`parameters_table`) read
an audit's results; :func:`report_sections` builds the report once from a
finished audit (title, text, tables and figures), and ``_render`` prints it on
the console or writes it as an HTML page. Nothing here imports the audit
itself: the audit calls this module, never the other way.
"""

import time
from functools import partial

import numpy as np
import pandas as pd

from ._describe import describe_subpopulation, readable
from ._render import (  # noqa: F401 - text_table: the console's tables
    Section,
    draw_by_alpha,
    fig_by_alpha,
    fig_map,
    fig_per_group,
    fig_removal,
    text_table,
)

# a change of target damage smaller than this (accuracy points, as a
# fraction) is "no clear effect" of a defense
EFFECT_THRESHOLD = 0.02

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


def csv_safe(table):
    """``table`` with its text cells that start with ``=``, ``+``, ``-`` or
    ``@`` prefixed with ``'``, so that a spreadsheet shows them as text
    instead of running them as formulas; numbers are left alone."""
    out = table.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].map(lambda v: "'" + v if isinstance(v, str)
                                and v[:1] in ("=", "+", "-", "@") else v)
    return out


def _pct(value):
    return "" if pd.isna(value) else f"{100 * value:.1f}%"


# ---------------------------------------------------------------------------
# tables


def summarize(results, top=(1, 5, 10)):
    """Top-k table from an audit's results DataFrame; see ``SubpopulationAudit.summary``.

    Read more in the :ref:`User Guide <audit>`.
    """
    per_sub = per_subpopulation(results)
    out = []
    for (fname, defense, alpha), grp in per_sub.groupby(["filter", "defense", "alpha"],
                                                         sort=False):
        grp = grp.sort_values("target_damage", ascending=False, kind="stable")
        row = {"filter": fname, "defense": defense, "alpha": alpha}
        for k in top:
            row[f"top{k}"] = grp.target_damage.head(k).mean()
        row["mean_target"] = grp.target_damage.mean()
        row["mean_collateral"] = grp.collateral_damage.mean()
        row["max_collateral"] = grp.collateral_damage.max()
        row["n_subpopulations"] = len(grp)
        row["worst"] = grp.description.iloc[0]
        out.append(row)
    return pd.DataFrame(out).set_index(["filter", "defense", "alpha"]).sort_index()


def baseline_defense(results):
    """The undefended rows' defense name: ``"none"`` when run, else the first."""
    names = list(dict.fromkeys(results["defense"]))
    return "none" if "none" in names else names[0]


def per_subpopulation(results):
    """Damage averaged over seeds, per (filter, defense, alpha, subpopulation),
    with the group's ``n_aux`` where the results have it."""
    columns = {"target_damage": ("target_damage", "mean"),
               "collateral_damage": ("collateral_damage", "mean")}
    if "n_aux" in results:
        columns["n_aux"] = ("n_aux", "first")
    return (results.groupby(["filter", "defense", "alpha", "subpopulation", "description"],
                            sort=False)
            .agg(**columns).reset_index())


def vulnerable_groups(results, top=10):
    """The groups an attacker damages most, by name, undefended.

    Parameters
    ----------
    results : DataFrame
        ``SubpopulationAudit.results_``.
    top : int or None, default=10
        How many groups (over all filters); ``None`` keeps all.

    Returns
    -------
    table : DataFrame
        One row per group, most damaged first (by its target damage at the
        largest alpha, then on average): ``filter``, ``group`` (its name),
        ``rows`` (its rows in the victim's training data), ``aux rows``,
        ``test rows``, ``clean accuracy`` (the clean model's accuracy on the
        group's test rows), ``damage at alpha=<a>`` for each alpha (target
        damage without defense, mean over seeds) and ``collateral at
        alpha=<max>``.
    """
    table, alphas = _ranked_groups(results)
    if top is not None:
        table = table.head(top)
    table = table.reset_index()
    top_alpha = alphas[-1]
    out = pd.DataFrame({"id": table["id"], "filter": table["filter"],
                        "group": table["group"],
                        "rows": table["rows"].astype(int),
                        "aux rows": table["aux_rows"].astype(int),
                        "test rows": table["test_rows"].astype(int),
                        "clean accuracy": table["clean"]})
    for a in alphas:
        out[f"damage at alpha={a:g}"] = table[a].to_numpy()
    out[f"collateral at alpha={top_alpha:g}"] = table["collateral"].to_numpy()
    return out


def _ranked_groups(results):
    """The undefended groups, most damaged first (see :func:`vulnerable_groups`),
    indexed by (filter, subpopulation); and the alphas."""
    base = results[results["defense"] == baseline_defense(results)]
    keys = ["filter", "subpopulation"]
    groups = base.groupby(keys, sort=False).agg(
        group=("description", "first"), rows=("n_train", "first"),
        aux_rows=("n_aux", "first"), test_rows=("n_test", "first"),
        clean=("clean_target_accuracy", "mean"))
    damage = base.pivot_table(index=keys, columns="alpha", values="target_damage",
                              aggfunc="mean")
    alphas = sorted(damage.columns)
    top_alpha = alphas[-1]
    collateral = (base[base.alpha == top_alpha].groupby(keys).collateral_damage.mean())
    table = groups.join(damage)
    table["collateral"] = collateral
    table["_mean"] = damage.mean(axis=1)
    table = table.sort_values([top_alpha, "_mean"], ascending=False, kind="stable")
    table.insert(0, "id", [f"#{k}" for k in range(1, len(table) + 1)])
    return table, alphas


def certifying_defenses(results):
    """The defenses whose rows carry a certificate (a ``certified`` value)."""
    if "certified" not in results:
        return []
    return list(dict.fromkeys(results.loc[results["certified"].notna(), "defense"]))


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
        without an undefended run), ``damage with`` (with the defense), ``accuracy with`` (the defended
        model's accuracy on the group after the attack), ``certified`` and
        ``certified & correct`` (a lower bound on ``accuracy with`` under
        any attack adding ``poisons`` rows). Empty when no certifying defense
        ran.
    """
    columns = ["defense", "filter", "group", "alpha", "poisons", "damage without",
               "damage with", "accuracy with", "certified", "certified & correct"]
    names = certifying_defenses(results)
    if not names:
        return pd.DataFrame(columns=columns)
    ranked, _ = _ranked_groups(results)
    if top is not None:
        ranked = ranked.head(top)
    keys = ["filter", "subpopulation", "alpha"]
    mean = results.groupby(["defense", *keys], sort=False)[
        ["n_poison", "target_damage", "poisoned_target_accuracy", "certified",
         "certified_correct"]].mean().sort_index()
    base_name = baseline_defense(results)
    base = mean.xs(base_name, level="defense")
    out = []
    for defense in names:
        mine = mean.xs(defense, level="defense")
        for fname, sid in ranked.index:
            rows = mine.loc[(fname, sid)]
            for alpha, row in rows.iterrows():
                without = (np.nan if defense == base_name  # no undefended run
                           else base.loc[(fname, sid, alpha), "target_damage"])
                out.append([defense, fname, ranked.loc[(fname, sid), "group"], alpha,
                            round(row["n_poison"]), without, row["target_damage"],
                            row["poisoned_target_accuracy"], row["certified"],
                            row["certified_correct"]])
    return pd.DataFrame(out, columns=columns)


def defense_effect(results, n_clean=None, top=5):
    """Per defense and alpha: target damage without and with it, and its cost.

    Parameters
    ----------
    results : DataFrame
        ``SubpopulationAudit.results_``.
    n_clean : int, default=None
        Clean training rows (``n_rows_["train"]``), to count the clean rows
        removed as well as their share.
    top : int, default=5
        The ``top`` most vulnerable groups (undefended, at each alpha) whose
        damage is compared too.

    Returns
    -------
    table : DataFrame
        One row per (defense, alpha) for every defense other than the
        undefended baseline: mean target damage ``without`` and ``with`` the
        defense, when a certifying defense ran the mean ``certified`` and
        ``certified & correct`` shares of the groups' test rows (empty for
        the other defenses), the same damage on the ``top`` most vulnerable
        groups, the mean share of poison and of clean rows it removed (empty
        for a defense that removes nothing), the clean rows removed, and the
        mean collateral damage without and with it. Empty when only the
        baseline ran.
    """
    base_name = baseline_defense(results)
    per = per_subpopulation(results)
    base = per[per.defense == base_name].set_index(["filter", "subpopulation", "alpha"])
    rows = []
    for defense in dict.fromkeys(results["defense"]):
        if defense == base_name:
            continue
        mine = per[per.defense == defense].set_index(["filter", "subpopulation", "alpha"])
        raw = results[results.defense == defense]
        for alpha in sorted(mine.index.get_level_values("alpha").unique()):
            b = base.xs(alpha, level="alpha")
            m = mine.xs(alpha, level="alpha").reindex(b.index)
            worst = b.target_damage.sort_values(ascending=False, kind="stable").head(top)
            at = raw[raw.alpha == alpha]
            clean_removed = (at["clean_removed"].mean() if "clean_removed" in at
                             else np.nan)
            row = {"defense": defense, "alpha": alpha,
                   "damage without": b.target_damage.mean(),
                   "damage with": m.target_damage.mean(),
                   **({"certified": at["certified"].mean(),
                       "certified & correct": at["certified_correct"].mean()}
                      if "certified" in at else {}),
                   f"top-{top} without": worst.mean(),
                   f"top-{top} with": m.target_damage.reindex(worst.index).mean(),
                   "poison removed": (at["poison_removed"].mean()
                                      if "poison_removed" in at else np.nan),
                   "clean removed": clean_removed,
                   "clean rows removed": (clean_removed * n_clean
                                          if n_clean is not None else np.nan),
                   "collateral without": b.collateral_damage.mean(),
                   "collateral with": m.collateral_damage.mean()}
            rows.append(row)
    return pd.DataFrame(rows)


def defense_verdicts(effect):
    """One sentence per defense: did it help, and what did it cost?

    Returns
    -------
    verdicts : list of (defense, kind, sentence)
        ``kind`` is ``"helped"``, ``"worse"`` or ``"none"`` (no clear effect:
        the mean target damage changed by less than 2 accuracy points) when
        the same at every alpha, else ``"mixed"``.
    """
    out = []
    if effect is None or effect.empty:
        return out
    for defense, grp in effect.groupby("defense", sort=False):
        top_col = next(c for c in grp.columns if c.endswith(" without") and
                       c.startswith("top-"))
        top_with = top_col.replace(" without", " with")
        change = grp["damage with"] - grp["damage without"]
        kinds = ["helped" if c <= -EFFECT_THRESHOLD else
                 "worse" if c >= EFFECT_THRESHOLD else "none" for c in change]
        words = {"helped": "helped", "worse": "made it worse",
                 "none": "no clear effect"}
        if len(set(kinds)) == 1:
            kind = kinds[0]
            head = words[kind]
        else:
            kind = "mixed"
            head = "mixed: " + ", ".join(
                f"{words[k]} at alpha {a:g}" for k, a in zip(kinds, grp.alpha))
        by_alpha = "; ".join(
            f"alpha {r.alpha:g}: mean {r['damage without']:.3f} → "
            f"{r['damage with']:.3f}, {top_col.split()[0]} "
            f"{r[top_col]:.3f} → {r[top_with]:.3f}"
            for _, r in grp.iterrows())
        cost = []
        if grp["clean removed"].notna().any():
            removed = grp["clean removed"].mean()
            count = grp["clean rows removed"].mean()
            cost.append(f"removed {_pct(removed)} of the clean training rows"
                        + (f" (about {count:.0f} rows)" if pd.notna(count) else ""))
            if grp["poison removed"].notna().any():
                cost[-1] += f" and {_pct(grp['poison removed'].mean())} of the poisons"
        elif "certified" in grp and grp["certified"].notna().any():
            cost.append("removes no row")
        cost.append(f"collateral damage {grp['collateral with'].mean():+.3f} "
                    f"(without it: {grp['collateral without'].mean():+.3f})")
        sentence = (f"{defense}: {head} (target damage without → with it, "
                    f"{by_alpha}); cost: {'; '.join(cost)}.")
        if "certified" in grp and grp["certified"].notna().any():
            sentence += (" Certified against the attack's added rows (mean share of a "
                         "group's test rows, certified and correct in brackets): "
                         + "; ".join(f"alpha {r.alpha:g}: {_pct(r['certified'])} "
                                     f"({_pct(r['certified & correct'])})"
                                     for _, r in grp.iterrows()) + ".")
        out.append((defense, kind, sentence))
    return out


def parameters_table(audit):
    """The audit's parameters, readable (a DataFrame ``parameter, value``)."""
    rows = {}
    data = getattr(audit, "setting_name_", None)
    if data:
        rows["data"] = data
    n_rows = getattr(audit, "n_rows_", None)
    if n_rows:
        rows["rows"] = (f"{n_rows['train']} training (D), {n_rows['aux']} attacker's "
                        f"(D_aux), {n_rows['test']} test")
    rows["victim"] = readable(audit.estimator)
    rows["attack"] = (readable(audit.attack) if audit.attack is not None
                      else "LabelFlip (default)")
    for name, finder in audit.finders.items():
        rows[f"finder {name}"] = readable(finder)
    for name, defense in (audit.defenses or {"none": None}).items():
        rows[f"defense {name}"] = readable(defense)
    rows["alphas"] = ", ".join(f"{a:g}" for a in audit.alphas)
    rows["seeds"] = ", ".join(str(s) for s in audit.seeds)
    rows["oracle n_remove"] = str(audit.oracle_n_remove)
    rows["max subpopulations"] = ("all" if audit.max_subpopulations is None
                                  else str(audit.max_subpopulations))
    device = getattr(audit, "device_", None)
    rows["backend / n_jobs"] = (f"{audit.backend or 'default (loky)'} / "
                                f"{audit.n_jobs if audit.n_jobs is not None else 1}"
                                + (f", device {device}" if device else ""))
    rows["result store"] = str(audit.store) if audit.store is not None else "none"
    rows["configuration hash"] = getattr(audit, "config_hash_", "")
    rows["units"] = (f"{len(audit.results_)} result rows: {audit.n_computed_} computed "
                     f"in this run, {audit.n_reused_} loaded from the store")
    rows["time"] = ", ".join(f"{k} {v:.1f} s" for k, v in audit.timings_.items())
    results = audit.results_
    for fname, finder in audit.fitted_finders_.items():
        attacked = results.loc[results["filter"] == fname, "subpopulation"].nunique()
        rows[f"{fname} subpopulations"] = (
            f"{len(finder.subpopulations_)} pass the size filter, "
            f"{len(audit.skipped_[fname])} skipped (no test rows), {attacked} attacked")
    values = [" ".join(str(v).split()) for v in rows.values()]
    return pd.DataFrame({"parameter": list(rows), "value": values})


def _fill_numeric(frame):
    num = frame.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(num)
    count = finite.sum(axis=0)
    mean = np.where(finite, num, 0.0).sum(axis=0) / np.maximum(count, 1)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    return np.where(np.isfinite(num), num, mean)


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
    if isinstance(X_aux, pd.DataFrame):
        numeric = X_aux.select_dtypes(include=["number", "bool"])
        parts = [_fill_numeric(numeric)] if numeric.shape[1] else []
        for c in X_aux.columns.difference(numeric.columns, sort=False):
            if X_aux[c].nunique(dropna=False) <= 30:
                parts.append(pd.get_dummies(X_aux[c].astype(object), dummy_na=True)
                             .to_numpy(dtype=float))
        num = np.hstack(parts) if parts else np.zeros((len(X_aux), 0))
    else:
        num = np.asarray(X_aux.toarray() if hasattr(X_aux, "toarray") else X_aux)
        num = (_fill_numeric(pd.DataFrame(num.reshape(len(num), -1)))
               if np.issubdtype(num.dtype, np.number) else np.zeros((len(num), 0)))
    sub = np.asarray(finder.subpopulations_)
    if descriptions is None:
        descriptions = {s: describe_subpopulation(finder, s) for s in sub}
    out = pd.DataFrame({"filter": fname, "subpopulation": sub.astype(int),
                        "description": [descriptions[s] for s in sub],
                        "n_aux": np.asarray(finder.sizes_, dtype=int),
                        "x": 0.0, "y": 0.0})
    if num.ndim != 2 or num.shape[1] == 0 or len(sub) < 2:
        return out
    scale = num.std(axis=0)
    num = (num - num.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    centroids = np.vstack([num[ids == s].mean(axis=0) for s in sub])
    n_comp = min(2, centroids.shape[1], len(sub))
    coords = PCA(n_components=n_comp, random_state=0).fit_transform(centroids)
    out["x"] = coords[:, 0]
    if n_comp > 1:
        out["y"] = coords[:, 1]
    return out


def _removal(results):
    if "poison_removed" not in results:
        return None
    rem = results.dropna(subset=["clean_removed"])
    if rem.empty:
        return None
    return (rem.groupby(["filter", "defense", "alpha"], sort=True)
            .agg(poison_removed=("poison_removed", "mean"),
                 clean_removed=("clean_removed", "mean"),
                 n_poison=("n_poison", "mean"), units=("poison_removed", "size")))


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


def _device(estimator):
    try:
        from ..utils._torch import estimator_device
    except ImportError:  # pragma: no cover - until the torch layer has it
        params = getattr(estimator, "get_params", dict)()
        return next((v for k, v in params.items()
                     if k == "device" or k.endswith("__device")), None)
    return estimator_device(estimator)


def _run_text(audit):
    device = _device(audit.estimator)
    return (f"attack {readable(audit.attack) if audit.attack is not None else 'LabelFlip'}"
            f"; alphas {', '.join(f'{a:g}' for a in audit.alphas)}; seeds "
            f"{', '.join(str(s) for s in audit.seeds)}"
            + (f"; device {device}" if device is not None else ""))


def parameters_table(audit):
    """The audit's parameters, readable (a DataFrame ``parameter, value``)."""
    rows = {"data": audit.title or "", "rows": _rows_text(audit.n_rows_),
            "victim": readable(audit.estimator),
            "attack": (readable(audit.attack) if audit.attack is not None
                       else "LabelFlip (default)")}
    for name, finder in audit.finders.items():
        rows[f"finder {name}"] = readable(finder)
    for name, defense in (audit.defenses or {"none": None}).items():
        rows[f"defense {name}"] = readable(defense)
    device = _device(audit.estimator)
    rows.update({
        "alphas": ", ".join(f"{a:g}" for a in audit.alphas),
        "seeds": ", ".join(str(s) for s in audit.seeds),
        "oracle n_remove": str(audit.oracle_n_remove),
        "max subpopulations": ("all" if audit.max_subpopulations is None
                               else str(audit.max_subpopulations)),
        "backend / n_jobs": (f"{audit.backend or 'default (loky)'} / {audit.workers_}"
                             + (f", device {device}" if device is not None else "")),
        "result store": str(audit.store) if audit.store is not None else "none",
        "configuration hash": audit.config_hash_,
        "units": (f"{len(audit.results_)} result rows: {audit.n_computed_} computed "
                  f"in this run, {audit.n_reused_} loaded from the store"),
        "time": ", ".join(f"{k} {v:.1f} s" for k, v in audit.timings_.items())})
    for fname in audit.fitted_finders_:
        rows[f"{fname} subpopulations"] = _finder_text(audit, fname).split(": ", 1)[1]
    values = [" ".join(str(v).split()) for v in rows.values()]
    return pd.DataFrame({"parameter": list(rows), "value": values})


def _groups_sections(results):
    base = baseline_defense(results)
    groups = vulnerable_groups(results, top=10).drop(columns=["aux rows"])
    return [Section("heading", "The most vulnerable groups"),
            Section("text", f"The groups an attacker damages most ("
                    f"{'undefended' if base == 'none' else 'defense ' + base}), most "
                    "damaged first: rows is the group's size in the training data, "
                    "clean accuracy the clean model's accuracy on its test rows, then "
                    "the target damage (accuracy lost on the group, 0.25 = 25 points) "
                    "at each alpha."),
            Section("table", groups, wrap={"group": 46, "filter": 12})]


def _defense_sections(results, n_train):
    effect = defense_effect(results, n_clean=n_train)
    verdicts = defense_verdicts(effect)
    out = [Section("heading", "Did the defenses help?")]
    if not verdicts:
        return out + [Section("note", "Only one defense was run, so there is nothing "
                              "to compare; run the audit with several defenses (e.g. "
                              "none,trim).")]
    out += [Section("list", [(kind, text) for _, kind, text in verdicts]),
            Section("table", effect, where="html")]
    certified = certified_groups(results, top=5)
    if not certified.empty:
        repeated = certified.duplicated(["defense", "filter", "group"])
        certified.loc[repeated, ["defense", "filter", "group"]] = ""
        out += [Section("heading", "What the certificate promises, on the 5 most "
                        "vulnerable groups"), Section("text", CERTIFIED_NOTE),
                Section("table", certified, wrap={"group": 36, "filter": 12})]
    return out


def _figure_sections(audit):
    results = audit.results_
    ranked, alphas = _ranked_groups(results)
    alpha, base = alphas[-1], baseline_defense(results)
    ids = dict(zip(ranked.index, ranked["id"]))
    per = per_subpopulation(results)
    per = per[per.alpha == alpha].assign(
        id=lambda d: [ids.get(k) for k in zip(d["filter"], d["subpopulation"])],
        damage=lambda d: d["target_damage"], low=np.nan, high=np.nan)
    per = per.assign(rank=per["id"].map({v: k for k, v in enumerate(ids.values())}))
    damage = ranked[alpha].copy()
    damage.attrs = {"ids": ids, "top": set(ranked.groupby(level="filter", sort=False)
                                           .head(3).index)}
    removal = _removal(results)
    return [
        Section("heading", "Damage by alpha", where="html"),
        Section("figure", partial(fig_by_alpha, summarize(results, top=(1, 5))
                                  .reset_index()),
                caption="Top-1, Top-5 mean and mean target damage by poisoning rate, "
                "per filter and defense."),
        Section("heading", "Damage per group", where="html"),
        Section("figure", partial(fig_per_group, per.sort_values("rank", kind="stable"),
                                  alpha),
                caption="Target damage of each attacked group at the largest alpha, "
                "per defense; groups by their id in the table of the most vulnerable "
                "groups (groups.csv), most damaged first."),
        Section("heading", "Map of the groups", where="html"),
        Section("figure", partial(fig_map, audit.subpopulation_map_, damage, alpha, base),
                caption="Each circle is a group that passes the size filter, placed "
                "by PCA of the (standardised) centroid of its auxiliary rows, sized by "
                "its number of auxiliary rows; attacked ones are filled by their "
                "target damage. The three most damaged of each filter are labelled "
                "by their id: " + "; ".join(
                    f"{ids[k]}: {ranked.loc[k, 'group']}" for k in ranked.index
                    if k in damage.attrs["top"]) + "."),
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
    accuracy = ", ".join(f"{v:.3f} (seed {s})" for s, v in audit.clean_accuracy_.items())
    top_k = summarize(results).reset_index().drop(columns=["max_collateral", "worst"])
    return [
        Section("title", "skpoison audit" + (f": {audit.title}" if audit.title else "")),
        Section("text", _run_text(audit)),
        Section("note", f"Written {time.strftime('%Y-%m-%d %H:%M:%S')}. Damage is "
                "accuracy lost on test rows, as a fraction (0.25 = 25 points), positive "
                "= damage: target damage on the attacked group, collateral damage on "
                "the rest of the test rows. alpha is the number of poison rows per "
                "training row of the group.", where="html"),
        Section("heading", "The clean model"),
        Section("text", f"Trained on the clean data, the victim has test accuracy "
                f"{accuracy}; {_rows_text(audit.n_rows_)}."),
        *[Section("note", note) for note in audit.notes or ()],
        *[Section("text", _finder_text(audit, f)) for f in audit.fitted_finders_],
        *_groups_sections(results),
        *_defense_sections(results, audit.n_rows_["train"]),
        *_figure_sections(audit),
        Section("heading", "Top-k target damage"),
        Section("note", "The paper's summary: the mean target damage of the k most "
                "damaged groups, per filter, defense and alpha (summary.csv also names "
                "the most damaged group of each row)."),
        Section("table", top_k, wrap={"filter": 12}),
        Section("heading", "Parameters", where="html"),
        Section("table", parameters_table(audit), where="html"),
        Section("text", f"{audit.n_computed_} poisoned fits in "
                f"{audit.timings_['total']:.1f} s ({audit.workers_}); "
                f"{audit.n_reused_} loaded from the store.")]

"""Every table and figure of the audit, and its report: one self-contained HTML page.

The tables (:func:`summarize`, :func:`vulnerable_groups`,
:func:`defense_effect`, :func:`certified_groups`, :func:`parameters_table`) read
an audit's results; the
console output and the HTML page are built from the same tables. Nothing here
imports the audit itself: the audit calls this module, never the other way.

Everything in the page is inline: figures are PNGs drawn with matplotlib (no
pyplot, so no global backend is touched) and embedded as base64 ``data:`` URLs,
tables come from :meth:`pandas.DataFrame.to_html`, the style sheet is in the
page, and the only script is a small render check that marks the ``<html>``
element with the number of images, broken images, tables and script errors
once the page has loaded (``data-images``, ``data-broken-images``,
``data-tables``, ``data-errors``), so a headless browser can verify the page.
Text from the data (group names, column values) is shown as text: escaped in
HTML, and never read as matplotlib mathtext (a ``$`` is a dollar sign).
"""

import base64
import html
import io
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ._describe import describe_subpopulation, readable

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

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right;
         vertical-align: top; }
th { background: #f3f3f3; }
td.text, th.text, table.parameters td { text-align: left; white-space: normal;
         overflow-wrap: break-word; max-width: 36em; min-width: 5em; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
img { max-width: 100%; height: auto; }
p.note { color: #555; font-size: 0.9em; }
p.lead { font-size: 1.15em; }
li.helped { color: #1a6d1a; } li.worse { color: #a31515; }
"""

_CHECK = """
window.__skpoisonErrors = 0;
window.addEventListener("error", function () { window.__skpoisonErrors += 1; }, true);
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (im) {
    return !(im.complete && im.naturalWidth > 0);
  }).length;
  var root = document.documentElement;
  root.setAttribute("data-images", String(images.length));
  root.setAttribute("data-broken-images", String(broken));
  root.setAttribute("data-tables", String(document.getElementsByTagName("table").length));
  root.setAttribute("data-errors", String(window.__skpoisonErrors));
});
"""

_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
            "#e377c2", "#7f7f7f"]


def _plain(text, width=None):
    """Text from the data for a matplotlib label: ``$`` is a dollar sign,
    long text wrapped at ``width`` characters (never cut)."""
    text = str(text)
    if width is not None:
        text = "\n".join(textwrap.wrap(text, width, break_long_words=True,
                                       break_on_hyphens=False)) or text
    return text.replace("$", r"\$")


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
    out = pd.DataFrame({"filter": table["filter"], "group": table["group"],
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
    return table.sort_values([top_alpha, "_mean"], ascending=False, kind="stable"), alphas


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


# ---------------------------------------------------------------------------
# console


def text_table(frame, wrap=None, floats="{:.3f}"):
    """A DataFrame as plain text; the columns in ``wrap`` (name -> width) are
    wrapped over several lines, never cut."""
    wrap = wrap or {}
    cols = list(frame.columns)
    cells = []
    for _, row in frame.iterrows():
        line = []
        for c in cols:
            v = row[c]
            if isinstance(v, (float, np.floating)):
                text = "" if pd.isna(v) else floats.format(v)
            else:
                text = str(v)
            width = wrap.get(c)
            line.append(textwrap.wrap(text, width, break_on_hyphens=False) or [""]
                        if width else [text])
        cells.append(line)
    widths = [max([len(str(c))] + [len(part) for line in cells for part in line[i]])
              for i, c in enumerate(cols)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in cols]

    def fmt(parts):
        return "  ".join(p.rjust(w) if n else p.ljust(w)
                         for p, w, n in zip(parts, widths, numeric)).rstrip()

    out = [fmt([str(c) for c in cols])]
    for line in cells:
        for k in range(max(len(part) for part in line)):
            out.append(fmt([part[k] if k < len(part) else "" for part in line]))
    return "\n".join(out)


# ---------------------------------------------------------------------------
# figures


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig, alt, caption):
    return (f'<figure><img alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{_png(fig)}"/>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


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

    fig = plt.figure(figsize=(5.5 * _n_filters(results), 4))
    _draw_by_alpha(fig, results)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _n_filters(results):
    return max(1, len(dict.fromkeys(results["filter"])))


def _draw_by_alpha(fig, results):
    """The Top-k figure, drawn once for the console's PNG and the report: per
    filter, top-1, top-5 mean and mean target damage and the mean collateral
    damage by alpha, one colour per defense."""
    table = summarize(results, top=(1, 5)).reset_index()
    filters = list(dict.fromkeys(table["filter"]))
    axes = fig.subplots(1, len(filters), squeeze=False, sharey=True)[0]
    for ax, fname in zip(axes, filters):
        sub = table[table["filter"] == fname]
        for k, (defense, grp) in enumerate(sub.groupby("defense", sort=False)):
            color = _PALETTE[k % len(_PALETTE)]
            name = _plain(defense)
            ax.plot(grp.alpha, grp.top1, "o-", color=color, label=f"top-1, {name}")
            ax.plot(grp.alpha, grp.top5, "s--", color=color, label=f"top-5 mean, {name}")
            ax.plot(grp.alpha, grp.mean_target, "^:", color=color,
                    label=f"mean, {name}")
            ax.plot(grp.alpha, grp.mean_collateral, "x-.", color=color, alpha=0.6,
                    label=f"mean collateral, {name}")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(_plain(fname))
        ax.set_xlabel("alpha (poisons / subpopulation size)")
        ax.set_ylabel("damage (accuracy points lost)")
        ax.legend(fontsize=7)
    return fig


def _fig_by_alpha(results):
    return _draw_by_alpha(_figure(5.2 * _n_filters(results), 3.8), results)


def _fig_per_subpopulation(per_sub, max_bars=25, label_width=40):
    alpha = per_sub.alpha.max()
    at = per_sub[per_sub.alpha == alpha]
    filters = list(dict.fromkeys(at["filter"]))
    defenses = list(dict.fromkeys(at["defense"]))
    firsts, heights = [], []
    for fname in filters:
        sub = at[at["filter"] == fname]
        first = sub[sub.defense == defenses[0]].sort_values(
            "target_damage", ascending=False, kind="stable").head(max_bars)
        labels = [_plain(d, label_width) for d in first.description]
        firsts.append((first, labels))
        # a bar per group, taller when its name takes several lines
        heights.append(sum(max(1.0, 0.45 * (lab.count("\n") + 1)) for lab in labels))
    fig = _figure(9, 1.2 + 0.3 * sum(heights) + 0.7 * len(filters))
    axes = fig.subplots(len(filters), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [max(h, 1) for h in heights]})[:, 0]
    width = 0.8 / len(defenses)
    for ax, fname, (first, labels) in zip(axes, filters, firsts):
        sub = at[at["filter"] == fname]
        order = list(first.subpopulation)
        pos = np.arange(len(order))
        for k, defense in enumerate(defenses):
            vals = (sub[sub.defense == defense].set_index("subpopulation")
                    .target_damage.reindex(order))
            ax.barh(pos + k * width, vals, height=width, label=_plain(defense),
                    color=_PALETTE[k % len(_PALETTE)])
        ax.set_yticks(pos + width * (len(defenses) - 1) / 2, labels, fontsize=7)
        ax.invert_yaxis()
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(_plain(f"{fname}: target damage per subpopulation at "
                            f"alpha={alpha:g}"
                            + (f" (the {max_bars} most damaged)"
                               if len(first) == max_bars else "")), fontsize=9)
        ax.set_xlabel("target damage (mean over seeds)")
        ax.legend(fontsize=7, title="defense", title_fontsize=7)
    return fig


def _map_damage(results):
    """What the map shows: ``(alpha, defense, ranked)``, the largest alpha, the
    baseline defense and, per filter, its groups' ``target_damage`` there and
    ``description``, in the order of :func:`vulnerable_groups` (most damaged
    first: the groups numbered 1, 2, 3 are that table's first ones)."""
    ranked, alphas = _ranked_groups(results)
    alpha = alphas[-1]
    table = ranked.reset_index().rename(columns={alpha: "target_damage",
                                                 "group": "description"})
    return alpha, baseline_defense(results), {
        fname: grp for fname, grp in table.groupby("filter", sort=False)}


def _fig_map(audit, damage):
    smap = audit.subpopulation_map_
    filters = list(dict.fromkeys(smap["filter"]))
    fig = _figure(5.2 * len(filters), 4.3)
    axes = fig.subplots(1, len(filters), squeeze=False)[0]
    alpha, base, ranked = damage
    for ax, fname in zip(axes, filters):
        pts = smap[smap["filter"] == fname]
        mine = ranked.get(fname, pd.DataFrame(columns=["subpopulation", "target_damage"]))
        dmg = (mine.set_index("subpopulation").target_damage
               .reindex(pts.subpopulation).to_numpy(dtype=float))
        size = 12 + 60 * pts.n_aux.to_numpy() / max(pts.n_aux.max(), 1)
        attacked = ~np.isnan(dmg)
        ax.scatter(pts.x[~attacked], pts.y[~attacked], s=size[~attacked],
                   facecolors="none", edgecolors="#999999", label="not attacked")
        if attacked.any():
            sc = ax.scatter(pts.x[attacked], pts.y[attacked], s=size[attacked],
                            c=dmg[attacked], cmap="YlOrRd", vmin=min(0, dmg[attacked].min()),
                            vmax=max(1e-9, dmg[attacked].max()), edgecolors="black",
                            linewidths=0.5, label="attacked")
            fig.colorbar(sc, ax=ax, label=_plain(f"target damage (alpha={alpha:g}, "
                                                 f"{base})"))
            where = {sid: i for i, sid in enumerate(pts.subpopulation)}
            for rank, sid in enumerate(mine.subpopulation.head(3), start=1):
                if sid in where:
                    i = where[sid]
                    ax.annotate(str(rank), (pts.x.iloc[i], pts.y.iloc[i]), fontsize=8,
                                fontweight="bold", xytext=(3, 3),
                                textcoords="offset points")
        ax.set_title(_plain(f"{fname}: {len(pts)} subpopulations"))
        ax.set_xlabel("PC 1 of subpopulation centroids")
        ax.set_ylabel("PC 2")
        ax.legend(fontsize=7, loc="best")
    return fig


def _map_legend(audit, damage):
    """The names of the groups numbered 1, 2, 3 on the map, per filter."""
    _, _, ranked = damage
    lines = []
    for fname in dict.fromkeys(audit.subpopulation_map_["filter"]):
        if fname in ranked:
            names = "; ".join(f"{k}: {d}" for k, d
                              in enumerate(ranked[fname].description.head(3), start=1))
            lines.append(f"{fname}: {names}.")
    return " ".join(lines)


def _fig_removal(table):
    groups = table.reset_index()
    keys = list(dict.fromkeys(zip(groups["filter"], groups["defense"])))
    fig = _figure(max(5.0, 4.2 * len(keys)), 3.6)
    axes = fig.subplots(1, len(keys), squeeze=False, sharey=True)[0]
    for ax, (fname, defense) in zip(axes, keys):
        grp = groups[(groups["filter"] == fname) & (groups.defense == defense)]
        pos = np.arange(len(grp))
        ax.bar(pos - 0.2, grp.poison_removed, 0.4, label="poison rows removed",
               color=_PALETTE[1])
        ax.bar(pos + 0.2, grp.clean_removed, 0.4, label="clean rows removed",
               color=_PALETTE[0])
        ax.set_xticks(pos, [f"{a:g}" for a in grp.alpha])
        ax.set_xlabel("alpha")
        ax.set_ylim(0, 1)
        ax.set_title(_plain(f"{defense} on {fname}", 40), fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("fraction removed (mean)")
    return fig


# ---------------------------------------------------------------------------
# the page


def _table(df, text_columns=(), classes=None):
    """An HTML table of ``df`` (no index): every cell escaped, the
    ``text_columns`` left-aligned and wrapped, never cut."""
    text = set(text_columns)
    cls = f' class="{html.escape(classes)}"' if classes else ""

    def cell(tag, value, column):
        value = "" if value is None or (not isinstance(value, str) and pd.isna(value)) \
            else value
        if isinstance(value, (float, np.floating)):
            value = f"{value:.3f}"
        mark = ' class="text"' if column in text else ""
        return f"<{tag}{mark}>{html.escape(str(value))}</{tag}>"

    head = "".join(cell("th", c, c) for c in df.columns)
    body = "".join("<tr>" + "".join(cell("td", v, c) for c, v in zip(df.columns, row))
                   + "</tr>\n" for row in df.itertuples(index=False, name=None))
    return (f"<table{cls}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n"
            "</table>")


def _formatted(table):
    """Accuracies and damages as numbers with three decimals, counts as ints."""
    out = table.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            spec = ("{:.0f}" if "rows" in str(c) else "{:g}" if c == "alpha"
                    else "{:.3f}")
            out[c] = out[c].map(lambda v, spec=spec: "" if pd.isna(v) else spec.format(v))
    return out


def write_report(audit, path, *, title="skpoison audit"):
    """Write ``audit``'s HTML report; see :meth:`SubpopulationAudit.report`.

    The page reads top-down: the clean model's accuracy; the most vulnerable
    groups by name, with their size, clean accuracy and target damage at
    each alpha; for each defense whether it helped and what it cost; then
    the figures, the paper's Top-k table and the parameters.

    Parameters
    ----------
    audit : SubpopulationAudit
        A run audit.
    path : str or Path
        A ``.html`` file, or a folder for ``report.html``.
    title : str, default="skpoison audit"

    Returns
    -------
    path : Path
        The file written.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        path = path / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    results = audit.results_
    per_sub = per_subpopulation(results)
    summary = summarize(results)
    base = baseline_defense(results)
    damage = _map_damage(results)  # the map and its legend
    esc = html.escape
    accuracy = dict(getattr(audit, "clean_accuracy_", {}))
    n_rows = getattr(audit, "n_rows_", None)
    parts = [f"<h1>{esc(title)}</h1>",
             (f'<p class="note">Written {time.strftime("%Y-%m-%d %H:%M:%S")}. Damage is '
              "accuracy lost on test rows, as a fraction (0.25 = 25 points), positive = "
              "damage: <em>target damage</em> on the attacked group, <em>collateral "
              "damage</em> on the rest of the test rows. <em>alpha</em> is the number "
              "of poison rows per training row of the group.</p>"),
             "<h2>The clean model</h2>"]
    if accuracy:
        acc = ", ".join(f"{v:.3f} (seed {s})" for s, v in accuracy.items())
        parts.append(f'<p class="lead">Trained on the clean data, the victim has test '
                     f"accuracy <strong>{esc(acc)}</strong>.</p>")
    if n_rows:
        parts.append(f"<p>{n_rows['train']} training rows (D), {n_rows['aux']} "
                     f"attacker's rows (D_aux), {n_rows['test']} test rows.</p>")
    groups = vulnerable_groups(results, top=10)
    parts += ["<h2>The most vulnerable groups</h2>",
              (f"<p>The groups an attacker damages most "
               f"({'undefended' if base == 'none' else esc('defense ' + base)}), "
               "most damaged first: <em>rows</em> is the group's size in the training "
               "data, <em>clean accuracy</em> the clean model's accuracy on its test "
               "rows, then the target damage at each alpha.</p>"),
              _table(_formatted(groups), text_columns=("filter", "group"))]
    effect = defense_effect(results, n_clean=(n_rows or {}).get("train"))
    parts.append("<h2>Did the defenses help?</h2>")
    verdicts = defense_verdicts(effect)
    if not verdicts:
        parts.append('<p class="note">Only one defense was run, so there is '
                     "nothing to compare; run the audit with several defenses (e.g. "
                     "<code>none,trim</code>).</p>")
    else:
        parts.append("<ul>" + "".join(f'<li class="{kind}">{esc(text)}</li>'
                                       for _, kind, text in verdicts) + "</ul>")
        parts.append(_table(_formatted(effect), text_columns=("defense",)))
    certified = certified_groups(results, top=10)
    if not certified.empty:
        parts += ["<h2>What the certificate promises</h2>",
                  f"<p>{esc(CERTIFIED_NOTE)}</p>",
                  _table(_formatted(certified),
                         text_columns=("defense", "filter", "group"))]
    parts += ["<h2>Damage by alpha</h2>",
              _img(_fig_by_alpha(results), "target damage by alpha and filter",
                   "Top-1, Top-5 mean and mean target damage by poisoning rate, per "
                   "filter and defense."),
              "<h2>Damage per group</h2>",
              _img(_fig_per_subpopulation(per_sub), "damage per subpopulation",
                   "Target damage of each attacked group at the largest alpha, per "
                   "defense (sorted by the first defense)."),
              "<h2>Map of the groups</h2>",
              _img(_fig_map(audit, damage), "map of the subpopulations",
                   "Each circle is a group that passes the size filter, placed by PCA "
                   "of the (standardised) centroid of its auxiliary rows, sized by its "
                   "number of auxiliary rows; attacked ones are filled by their target "
                   "damage. The three most damaged are numbered: "
                   + _map_legend(audit, damage))]
    removal = _removal(results)
    parts.append("<h2>What each defense removed</h2>")
    if removal is None:
        parts.append('<p class="note">No defense with a <code>support_mask_</code> was '
                     "run, so there is nothing to show.</p>")
    else:
        parts += [_img(_fig_removal(removal), "what each defense removed",
                       "Mean fraction of the poison rows and of the clean training rows "
                       "each defense removed, by alpha.")]
    top_k = summary.reset_index()
    parts += ["<h2>Top-k target damage</h2>",
              ('<p class="note">The paper\'s summary: the mean target damage of the k '
               "most damaged groups, per filter, defense and alpha; <em>worst</em> "
               "names the most damaged group.</p>"),
              _table(_formatted(top_k), text_columns=("filter", "defense", "worst")),
              "<h2>Parameters</h2>",
              _table(parameters_table(audit), classes="parameters")]
    body = "\n".join(parts)
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
            f"<title>{esc(title)}</title>\n<style>{_STYLE}</style>\n"
            f"<script>{_CHECK}</script>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
    path.write_text(page, encoding="utf-8")
    return path

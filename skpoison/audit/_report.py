"""The audit's report: one self-contained HTML page.

Everything is inline: figures are PNGs drawn with matplotlib (no pyplot, so no
global backend is touched) and embedded as base64 ``data:`` URLs, tables come
from :meth:`pandas.DataFrame.to_html`, the style sheet is in the page, and the
only script is a small render check that marks the ``<html>`` element with the
number of images, broken images, tables and script errors once the page has
loaded (``data-images``, ``data-broken-images``, ``data-tables``,
``data-errors``), so a headless browser can verify the page.
"""

import base64
import html
import io
import time
from pathlib import Path

import numpy as np
import pandas as pd

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } table.settings td { text-align: left; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
img { max-width: 100%; height: auto; }
p.note { color: #555; font-size: 0.9em; }
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


def _table(df, **kw):
    with pd.option_context("display.precision", 3):
        return df.to_html(border=0, float_format=lambda v: f"{v:.3f}", na_rep="",
                          **kw)


def _per_subpopulation(results):
    """Damage averaged over seeds, per (filter, defense, alpha, subpopulation)."""
    return (results.groupby(["filter", "defense", "alpha", "subpopulation", "description"],
                            sort=False)
            .agg(target_damage=("target_damage", "mean"),
                 collateral_damage=("collateral_damage", "mean"),
                 n_aux=("n_aux", "first")).reset_index())


def _fig_by_alpha(results):
    from ._audit import summarize

    table = summarize(results, top=(1, 5)).reset_index()
    filters = list(dict.fromkeys(table["filter"]))
    fig = _figure(5.2 * len(filters), 3.8)
    axes = fig.subplots(1, len(filters), squeeze=False, sharey=True)[0]
    for ax, fname in zip(axes, filters):
        sub = table[table["filter"] == fname]
        for k, (defense, grp) in enumerate(sub.groupby("defense", sort=False)):
            color = _PALETTE[k % len(_PALETTE)]
            ax.plot(grp.alpha, grp.top1, "o-", color=color, label=f"top-1, {defense}")
            ax.plot(grp.alpha, grp.top5, "s--", color=color, label=f"top-5 mean, {defense}")
            ax.plot(grp.alpha, grp.mean_target, "^:", color=color,
                    label=f"mean, {defense}")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(fname)
        ax.set_xlabel("alpha (poisons / subpopulation size)")
        ax.set_ylabel("target damage")
        ax.legend(fontsize=7)
    return fig


def _fig_per_subpopulation(per_sub, max_bars=25):
    alpha = per_sub.alpha.max()
    at = per_sub[per_sub.alpha == alpha]
    filters = list(dict.fromkeys(at["filter"]))
    defenses = list(dict.fromkeys(at["defense"]))
    heights = []
    for fname in filters:
        n = at[at["filter"] == fname].subpopulation.nunique()
        heights.append(min(n, max_bars))
    fig = _figure(9, 1.2 + 0.28 * sum(heights) + 0.6 * len(filters))
    axes = fig.subplots(len(filters), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [max(h, 1) for h in heights]})[:, 0]
    width = 0.8 / len(defenses)
    for ax, fname in zip(axes, filters):
        sub = at[at["filter"] == fname]
        first = sub[sub.defense == defenses[0]].sort_values(
            "target_damage", ascending=False, kind="stable").head(max_bars)
        order = list(first.subpopulation)
        labels = [str(d)[:45] for d in first.description]
        pos = np.arange(len(order))
        for k, defense in enumerate(defenses):
            vals = (sub[sub.defense == defense].set_index("subpopulation")
                    .target_damage.reindex(order))
            ax.barh(pos + k * width, vals, height=width, label=defense,
                    color=_PALETTE[k % len(_PALETTE)])
        ax.set_yticks(pos + width * (len(defenses) - 1) / 2, labels, fontsize=7)
        ax.invert_yaxis()
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(f"{fname}: target damage per subpopulation at alpha={alpha:g}"
                     + (f" (the {max_bars} most damaged)" if len(first) == max_bars
                        else ""), fontsize=9)
        ax.set_xlabel("target damage (mean over seeds)")
        ax.legend(fontsize=7, title="defense", title_fontsize=7)
    return fig


def _fig_map(audit, per_sub):
    smap = audit.subpopulation_map_
    filters = list(dict.fromkeys(smap["filter"]))
    fig = _figure(5.2 * len(filters), 4.3)
    axes = fig.subplots(1, len(filters), squeeze=False)[0]
    alpha = per_sub.alpha.max()
    first = next(iter(dict.fromkeys(per_sub.defense)))
    damage = per_sub[(per_sub.alpha == alpha) & (per_sub.defense == first)]
    for ax, fname in zip(axes, filters):
        pts = smap[smap["filter"] == fname]
        dmg = (damage[damage["filter"] == fname].set_index("subpopulation")
               .target_damage.reindex(pts.subpopulation).to_numpy())
        size = 12 + 60 * pts.n_aux.to_numpy() / max(pts.n_aux.max(), 1)
        attacked = ~np.isnan(dmg)
        ax.scatter(pts.x[~attacked], pts.y[~attacked], s=size[~attacked],
                   facecolors="none", edgecolors="#999999", label="not attacked")
        if attacked.any():
            sc = ax.scatter(pts.x[attacked], pts.y[attacked], s=size[attacked],
                            c=dmg[attacked], cmap="YlOrRd", vmin=min(0, dmg[attacked].min()),
                            vmax=max(1e-9, dmg[attacked].max()), edgecolors="black",
                            linewidths=0.5, label="attacked")
            fig.colorbar(sc, ax=ax, label=f"target damage (alpha={alpha:g}, {first})")
            top = np.argsort(-np.where(attacked, dmg, -np.inf), kind="stable")[:3]
            for i in top[attacked[top]]:
                ax.annotate(str(pts.description.iloc[i])[:30],
                            (pts.x.iloc[i], pts.y.iloc[i]), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
        ax.set_title(f"{fname}: {len(pts)} subpopulations")
        ax.set_xlabel("PC 1 of subpopulation centroids")
        ax.set_ylabel("PC 2")
        ax.legend(fontsize=7, loc="best")
    return fig


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
        ax.set_title(f"{defense} on {fname}", fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("fraction removed (mean)")
    return fig


def _settings(audit):
    rows = {
        "victim": repr(audit.estimator),
        "attack": repr(audit.attack) if audit.attack is not None else "LabelFlip (default)",
        "finders": "; ".join(f"{k}: {v!r}" for k, v in audit.finders.items()),
        "defenses": "; ".join(f"{k}: {v!r}" for k, v in
                              (audit.defenses or {"none": None}).items()),
        "alphas": ", ".join(f"{a:g}" for a in audit.alphas),
        "seeds": ", ".join(str(s) for s in audit.seeds),
        "oracle n_remove": str(audit.oracle_n_remove),
        "max subpopulations": str(audit.max_subpopulations),
        "backend / n_jobs": f"{audit.backend or 'default'} / {audit.n_jobs}",
        "result store": str(audit.store) if audit.store is not None else "none",
        "setting hash": getattr(audit, "setting_", ""),
        "units": (f"{len(audit.results_)} result rows: {audit.n_computed_} computed "
                  f"in this run, {audit.n_reused_} loaded from the store"),
        "time": ", ".join(f"{k} {v:.1f} s" for k, v in audit.timings_.items()),
    }
    results = audit.results_
    for fname, finder in audit.fitted_finders_.items():
        attacked = results.loc[results["filter"] == fname, "subpopulation"].nunique()
        rows[f"{fname} subpopulations"] = (
            f"{len(finder.subpopulations_)} pass the size filter, "
            f"{len(audit.skipped_[fname])} skipped (no test rows), {attacked} attacked")
    values = [" ".join(str(v).split()) for v in rows.values()]  # reprs span lines
    return pd.DataFrame({"setting": list(rows), "value": values})


def write_report(audit, path, *, title="skpoison audit"):
    """Write ``audit``'s HTML report; see :meth:`SubpopulationAudit.report`.

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
    per_sub = _per_subpopulation(results)
    summary = audit.summary()
    parts = [f"<h1>{html.escape(title)}</h1>",
             (f'<p class="note">Written {time.strftime("%Y-%m-%d %H:%M:%S")}. Damage is '
             "accuracy lost on the test rows, positive = damage: target damage on the "
             "attacked subpopulation, collateral damage on the rest. Top-k is the mean "
             "target damage of the k most damaged subpopulations.</p>"),
             "<h2>Settings</h2>",
             _table(_settings(audit), index=False, classes="settings"),
             "<h2>Top-k target damage</h2>", _table(summary),
             _img(_fig_by_alpha(results), "target damage by alpha and filter",
                  "Top-1, Top-5 mean and mean target damage by poisoning rate, per "
                  "filter and defense."),
             "<h2>Damage per subpopulation</h2>",
             _img(_fig_per_subpopulation(per_sub), "damage per subpopulation",
                  "Target damage of each attacked subpopulation at the largest alpha, "
                  "per defense (sorted by the first defense).")]
    alpha = per_sub.alpha.max()
    worst = (per_sub[per_sub.alpha == alpha]
             .sort_values("target_damage", ascending=False, kind="stable")
             .groupby(["filter", "defense"], sort=False).head(10)
             .sort_values(["filter", "defense", "target_damage"],
                          ascending=[True, True, False], kind="stable"))
    parts += [(f"<p>The most damaged subpopulations at alpha={alpha:g} "
              "(ten per filter and defense):</p>"),
              _table(worst.rename(columns={"n_aux": "aux rows"}), index=False),
              "<h2>Map of the subpopulations</h2>",
              _img(_fig_map(audit, per_sub), "map of the subpopulations",
                   "Each circle is a subpopulation that passes the size filter, placed "
                   "by PCA of the (standardised) centroid of its auxiliary rows, sized "
                   "by its number of auxiliary rows; attacked ones are filled by their "
                   "target damage.")]
    removal = _removal(results)
    parts.append("<h2>What each defense removed</h2>")
    if removal is None:
        parts.append('<p class="note">No defense with a <code>support_mask_</code> was '
                     "run, so there is nothing to show.</p>")
    else:
        parts += [_img(_fig_removal(removal), "what each defense removed",
                       "Mean fraction of the poison rows and of the clean training rows "
                       "each defense removed, by alpha."),
                  _table(removal)]
    body = "\n".join(parts)
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n"
            f"<script>{_CHECK}</script>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
    path.write_text(page, encoding="utf-8")
    return path

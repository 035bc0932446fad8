"""The audit report's two renderers (console text and one HTML page) and its figures.

:func:`~skpoison.audit._report.report_sections` builds the report once, as a
list of :class:`Section`; :func:`render_text` prints it and :func:`render_html`
writes it. Text from the data (group names, column values) is shown as text:
control characters replaced on the console, escaped in HTML, and never read
as matplotlib mathtext (a ``$`` is a dollar sign).

Everything in the page is inline: figures are PNGs drawn with matplotlib (no
pyplot, so no global backend is touched) and embedded as base64 ``data:`` URLs,
the style sheet is in the page, and the only script is a small render check
that marks the ``<html>`` element with the number of images, broken images,
tables and script errors once the page has loaded (``data-images``,
``data-broken-images``, ``data-tables``, ``data-errors``), so a headless
browser can verify the page.
"""

import base64
import html
import io
import re
import textwrap
from typing import NamedTuple

import numpy as np
import pandas as pd

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right;
         vertical-align: top; }
th { background: #f3f3f3; }
td.text, th.text { text-align: left; white-space: normal;
         overflow-wrap: break-word; max-width: 36em; min-width: 5em; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
img { max-width: 100%; height: auto; }
p.note { color: #555; font-size: 0.9em; }
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


class Section(NamedTuple):
    """One part of the report.

    ``kind`` is ``"title"``, ``"heading"``, ``"text"``, ``"note"`` (text in
    a smaller voice), ``"list"`` (``content``: ``(class, text)`` pairs),
    ``"table"`` (``content``: a DataFrame; ``wrap``: column -> console width)
    or ``"figure"`` (``content``: a function returning a matplotlib Figure;
    ``caption``). ``where`` is ``"both"``, ``"text"`` or ``"html"``.
    """

    kind: str
    content: object
    wrap: dict = None
    caption: str = ""
    where: str = "both"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text):
    """``text`` for a terminal: control characters (escape sequences, bells,
    carriage returns) shown as ``?``; line feeds and tabs kept."""
    return _CONTROL.sub("?", str(text))


def _plain(text, width=None):
    """Text from the data for a matplotlib label: ``$`` is a dollar sign,
    long text wrapped at ``width`` characters (never cut)."""
    text = printable(text)
    if width is not None:
        text = "\n".join(textwrap.wrap(text, width, break_long_words=True,
                                       break_on_hyphens=False)) or text
    return text.replace("$", r"\$")


def _cell(value, column):
    """One table cell as text: accuracies and damages with three decimals,
    counts as integers, alphas as written."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        spec = ("{:.0f}" if "rows" in str(column) or "poisons" in str(column)
                else "{:g}" if column == "alpha" else "{:.3f}")
        return spec.format(value)
    return str(value)


def text_table(frame, wrap=None):
    """A DataFrame as plain text; the columns in ``wrap`` (name -> width) are
    wrapped over several lines, never cut."""
    wrap = wrap or {}
    cols = list(frame.columns)
    cells = [[textwrap.wrap(printable(_cell(v, c)), wrap[c], break_on_hyphens=False)
              or [""] if c in wrap else [printable(_cell(v, c))]
              for c, v in zip(cols, row)] for row in frame.itertuples(index=False)]
    widths = [max([len(str(c))] + [len(part) for line in cells for part in line[i]])
              for i, c in enumerate(cols)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in cols]

    def fmt(parts):
        return "  ".join(p.rjust(w) if n else p.ljust(w)
                         for p, w, n in zip(parts, widths, numeric)).rstrip()

    out = [fmt([printable(c) for c in cols])]
    for line in cells:
        for k in range(max(len(part) for part in line)):
            out.append(fmt([part[k] if k < len(part) else "" for part in line]))
    return "\n".join(out)


def _wrapped(text, indent="  ", bullet=""):
    return textwrap.fill(printable(text), width=100, initial_indent=indent + bullet,
                         subsequent_indent=indent + " " * len(bullet) + "  ",
                         break_on_hyphens=False)


def render_text(sections):
    """The report as console text (figures are in the HTML page only)."""
    out = []
    for s in sections:
        if s.where == "html" or s.kind == "figure":
            continue
        if s.kind in ("title", "heading"):
            out.append("\n" + printable(s.content))
        elif s.kind == "list":
            out.extend(_wrapped(text, bullet="- ") for _, text in s.content)
        elif s.kind == "table":
            out.append("\n" + text_table(s.content, s.wrap) + "\n")
        else:
            out.append(_wrapped(s.content))
    return "\n".join(out)


def _html_table(df):
    """An HTML table of ``df`` (no index): every cell escaped, the text
    columns left-aligned and wrapped, never cut."""
    cols = list(df.columns)
    text = ["" if pd.api.types.is_numeric_dtype(df[c]) else " class=text" for c in cols]
    head = "".join(f"<th{t}>{html.escape(str(c))}</th>" for c, t in zip(cols, text))
    body = "".join("<tr>" + "".join(
        f"<td{t}>{html.escape(_cell(v, c))}</td>" for c, v, t in zip(cols, row, text))
        + "</tr>\n" for row in df.itertuples(index=False, name=None))
    return (f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n"
            "</table>")


_TAGS = {"title": "<h1>{}</h1>", "heading": "<h2>{}</h2>", "text": "<p>{}</p>",
         "note": '<p class="note">{}</p>'}


def _html(s):
    """One section in HTML."""
    if s.kind in _TAGS:
        return _TAGS[s.kind].format(html.escape(s.content))
    if s.kind == "list":
        return "<ul>" + "".join(f'<li class="{html.escape(k)}">{html.escape(t)}</li>'
                                for k, t in s.content) + "</ul>"
    if s.kind == "table":
        return _html_table(s.content)
    buf = io.BytesIO()  # a figure
    s.content().savefig(buf, format="png", dpi=100)
    caption = html.escape(s.caption)
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure><img alt="{caption}" src="data:image/png;base64,{png}"/>'
            f"<figcaption>{caption}</figcaption></figure>")


def render_html(sections):
    """The report as one self-contained HTML page (a str)."""
    shown = [s for s in sections if s.where != "text"]
    title = next((s.content for s in shown if s.kind == "title"), "skpoison audit")
    body = "\n".join(_html(s) for s in shown)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n"
            f"<script>{_CHECK}</script>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


# ---------------------------------------------------------------------------
# figures: each takes the tables it shows


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def draw_by_alpha(fig, table):
    """The Top-k figure (``table``: ``summarize(results, top=(1, 5))``, reset):
    per filter, top-1, top-5 mean and mean target damage and the mean
    collateral damage by alpha, one colour per defense."""
    filters = list(dict.fromkeys(table["filter"]))
    axes = fig.subplots(1, len(filters), squeeze=False, sharey=True)[0]
    for ax, fname in zip(axes, filters):
        sub = table[table["filter"] == fname]
        for k, (defense, grp) in enumerate(sub.groupby("defense", sort=False)):
            color, name = _PALETTE[k % len(_PALETTE)], _plain(defense)
            for col, style, label in (("top1", "o-", "top-1"), ("top5", "s--", "top-5 mean"),
                                      ("mean_target", "^:", "mean"),
                                      ("mean_collateral", "x-.", "mean collateral")):
                ax.plot(grp.alpha, grp[col], style, color=color, label=f"{label}, {name}")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(_plain(fname))
        ax.set_xlabel("alpha (poisons / subpopulation size)")
        ax.set_ylabel("damage (accuracy points lost)")
        ax.legend(fontsize=7)
    return fig


def fig_by_alpha(table):
    n = max(1, table["filter"].nunique())
    return draw_by_alpha(_figure(5.2 * n, 3.8), table)


def fig_per_group(table, alpha, max_bars=25):
    """Target damage per group at ``alpha``, one bar per defense, each group
    labelled by its short id (``table``: ``id``, ``filter``, ``defense``,
    ``damage``, ``low``, ``high``, ranked order)."""
    defenses = list(dict.fromkeys(table["defense"]))
    ids = {f: list(dict.fromkeys(g["id"]))[:max_bars]
           for f, g in table.groupby("filter", sort=False)}
    filters = list(ids)
    fig = _figure(8, 1.4 + 0.22 * sum(len(v) for v in ids.values()) * len(defenses)
                  + 0.8 * len(filters))
    axes = fig.subplots(len(filters), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [max(len(ids[f]), 1)
                                                       for f in filters]})[:, 0]
    width = 0.8 / len(defenses)
    for ax, fname in zip(axes, filters):
        pos = np.arange(len(ids[fname]))
        for k, defense in enumerate(defenses):
            sub = table[(table["filter"] == fname) & (table["defense"] == defense)]
            sub = sub.set_index("id").reindex(ids[fname])
            err = np.vstack([sub["damage"] - sub["low"], sub["high"] - sub["damage"]])
            ax.barh(pos + k * width, sub["damage"], height=width, label=_plain(defense),
                    color=_PALETTE[k % len(_PALETTE)],
                    xerr=np.clip(np.where(np.isfinite(err), err, 0), 0, None),
                    error_kw={"lw": 0.7})
        ax.set_yticks(pos + width * (len(defenses) - 1) / 2,
                      [_plain(i) for i in ids[fname]], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(_plain(f"{fname}: target damage per group at alpha={alpha:g}"),
                     fontsize=9)
        ax.set_xlabel("target damage (mean over seeds; bars: 95% interval)")
        if len(defenses) > 1:
            ax.legend(fontsize=7, title="defense", title_fontsize=7,
                      loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def fig_map(smap, damage, labels, alpha, base):
    """Each group that passes the size filter, placed by PCA of its centroid;
    attacked ones coloured by ``damage`` (a Series indexed by filter and
    subpopulation), those in ``labels`` (the same index) labelled by it."""
    filters = list(dict.fromkeys(smap["filter"]))
    fig = _figure(5.2 * len(filters), 4.3)
    axes = fig.subplots(1, len(filters), squeeze=False)[0]
    for ax, fname in zip(axes, filters):
        pts = smap[smap["filter"] == fname]
        keys = list(zip(pts["filter"], pts["subpopulation"]))
        dmg = damage.reindex(keys).to_numpy(dtype=float)
        size = 12 + 60 * pts.n_aux.to_numpy() / max(pts.n_aux.max(), 1)
        attacked = ~np.isnan(dmg)
        ax.scatter(pts.x[~attacked], pts.y[~attacked], s=size[~attacked],
                   facecolors="none", edgecolors="#999999", label="not attacked")
        if attacked.any():
            sc = ax.scatter(pts.x[attacked], pts.y[attacked], s=size[attacked],
                            c=dmg[attacked], cmap="YlOrRd",
                            vmin=min(0, dmg[attacked].min()),
                            vmax=max(1e-9, dmg[attacked].max()), edgecolors="black",
                            linewidths=0.5, label="attacked")
            fig.colorbar(sc, ax=ax, label=_plain(f"target damage (alpha={alpha:g}, "
                                                 f"{base})"))
            for key, x, y in zip(keys, pts.x, pts.y):
                if key in labels:
                    ax.annotate(_plain(labels[key]), (x, y), fontsize=8,
                                fontweight="bold", xytext=(3, 3),
                                textcoords="offset points")
        ax.set_title(_plain(f"{fname}: {len(pts)} subpopulations"))
        ax.set_xlabel("PC 1 of subpopulation centroids")
        ax.set_ylabel("PC 2")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.15), ncol=2)
    return fig


def fig_removal(table):
    """Per filter and defense, the poison and clean rows removed by alpha."""
    keys = list(dict.fromkeys(zip(table["filter"], table["defense"])))
    fig = _figure(max(5.0, 4.2 * len(keys)), 3.6)
    axes = fig.subplots(1, len(keys), squeeze=False, sharey=True)[0]
    for ax, (fname, defense) in zip(axes, keys):
        grp = table[(table["filter"] == fname) & (table.defense == defense)]
        pos = np.arange(len(grp))
        ax.bar(pos - 0.2, grp.poison_removed, 0.4, label="poison rows removed",
               color=_PALETTE[1])
        ax.bar(pos + 0.2, grp.clean_removed, 0.4, label="clean rows removed",
               color=_PALETTE[0])
        ax.set_xticks(pos, [f"{a:g}" for a in grp.alpha])
        ax.set_xlabel("alpha")
        ax.set_ylim(0, 1.25)
        ax.set_title(_plain(f"{defense} on {fname}", 40), fontsize=9)
        ax.legend(fontsize=7, loc="upper right", ncol=2)
    axes[0].set_ylabel("fraction removed (mean)")
    return fig

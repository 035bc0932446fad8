"""
==============================================================
Poisoning clusters of movie reviews, last-layer (LL) setting
==============================================================

The paper attacks IMDB reviews with BERT, frozen with a trained last layer
("LL") or fine-tuned ("FT"). Neither installs offline, so skpoison stands in
the Rotten Tomatoes review snippets (short quotations labelled fresh or
rotten) and the all-MiniLM-L6-v2 sentence encoder
(:class:`~skpoison.features.TextEmbedder`), with a logistic regression on the
frozen sentence embeddings as the victim.

The attacker clusters its own snippets the paper's way for text
(:class:`~skpoison.subpopulations.ClusterMatch`: PCA to 10 components, then
k-means), ranks the clusters by its model's confidence
(:func:`~skpoison.subpopulations.rank_subpopulations`), and adds ``alpha``
times a cluster's size of its own snippets of that cluster, all with the
label its model finds least likely there (:class:`~skpoison.attacks.LabelFlip`
with ``label="least_confident"``, the paper's IMDB rule). The audit
(:class:`~skpoison.audit.SubpopulationAudit`) reports the target damage
(accuracy lost on the cluster's test snippets) and collateral damage
(accuracy lost on the others).

Scaled down to run in well under a minute on one CPU core: 400 snippets in
each of the victim's training set, the attacker's auxiliary set and the test
set (the paper: 12,500 / 12,500 / 25,000 IMDB reviews).
"""

# %%
# Data and sentence embeddings
# ----------------------------
# A stratified sample of 1,200 snippets, split into the victim's ``D``, the
# attacker's disjoint ``D_aux`` and test snippets. Each snippet becomes its
# 384-d MiniLM sentence embedding, computed once and cached on disk under
# skpoison's data home (``$SKPOISON_DATA`` or ``~/skpoison_data``).
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from joblib import Memory
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skpoison.attacks import LabelFlip
from skpoison.audit import SubpopulationAudit
from skpoison.datasets import get_data_home, load_rotten_tomatoes
from skpoison.features import TextEmbedder
from skpoison.subpopulations import ClusterMatch, rank_subpopulations

N = 400  # snippets per split
rt = load_rotten_tomatoes(n_samples=3 * N, random_state=0)
texts, labels = rt.data, rt.target
embedder = TextEmbedder(memory=Memory(get_data_home() / "embeddings", verbose=0))
embeddings = embedder.fit_transform(texts)
print("embeddings:", embeddings.shape)

rest, idx_test = train_test_split(np.arange(3 * N), test_size=N, stratify=labels,
                                  random_state=0)
idx_train, idx_aux = train_test_split(rest, test_size=N, stratify=labels[rest],
                                      random_state=0)
X, y = embeddings[idx_train], labels[idx_train]
X_aux, y_aux = embeddings[idx_aux], labels[idx_aux]
X_test, y_test = embeddings[idx_test], labels[idx_test]

# %%
# The attacker's clusters
# -----------------------
# The attacker trains its own model on ``D_aux`` and clusters its snippets:
# PCA to 10 components, then k-means with k = 10 (the paper: k = 100 on
# 12,500 reviews). Each cluster gets the attacker model's mean probability of
# the true label on its snippets; the paper attacks the least confident
# first, and for IMDB also looked at the median and the most confident ones.
# With ten clusters we attack them all, ordered by confidence.
attacker = LogisticRegression(max_iter=1000).fit(X_aux, y_aux)
finder = ClusterMatch(n_clusters=10, n_components=10, random_state=0).fit(X_aux)
confidence = rank_subpopulations(finder, attacker, X_aux, y_aux)
print("attacker's confidence per cluster, least confident first:")
print(confidence.round(3).to_string())

# %%
# The audit
# ---------
# Label flipping at ``alpha = 0.5, 1, 2`` against a logistic regression on
# the frozen embeddings. The attacker's fitted model picks the poison label,
# wrapped in :class:`~sklearn.frozen.FrozenEstimator` so it is not refitted.
audit = SubpopulationAudit(
    LogisticRegression(max_iter=1000),
    finders={"ClusterMatch": finder},
    attack=LabelFlip(None, label="least_confident",
                     estimator=FrozenEstimator(attacker)),
    alphas=(0.5, 1, 2),
    subpopulation_order={"ClusterMatch": confidence.index.tolist()},
    progress=False)
results = audit.run(X, y, X_aux, y_aux, X_test, y_test)
print(f"clean victim test accuracy: {audit.clean_accuracy_[0]:.3f}")

summary = audit.summary(top=(1, 3)).droplevel(["filter", "defense"])
print(summary[["top1", "top3", "mean_target", "mean_collateral",
               "max_collateral", "worst"]].round(3).to_string())

per_cluster = (results.set_index(["subpopulation", "alpha"])
               [["target_damage", "collateral_damage"]].unstack("alpha"))
per_cluster.columns = [f"{name.split('_')[0]} (alpha={a:g})"
                       for name, a in per_cluster.columns]
per_cluster = per_cluster.loc[confidence.index]
per_cluster.insert(0, "confidence", confidence.to_numpy())
first = results.groupby("subpopulation").first()
per_cluster.insert(1, "n_train", first.n_train)
per_cluster.insert(2, "clean accuracy", first.clean_target_accuracy)
print(per_cluster.round(3).to_string())

# %%
# Damage against the attacker's confidence
# ----------------------------------------
# Target damage per cluster at each rate, clusters ordered from least to most
# confident; the black marks are the collateral damage at ``alpha = 2``.
fig, ax = plt.subplots(figsize=(8, 4))
pos = np.arange(len(per_cluster))
for i, alpha in enumerate((0.5, 1, 2)):
    ax.bar(pos + (i - 1) * 0.27, per_cluster[f"target (alpha={alpha:g})"],
           width=0.27, label=f"target, alpha = {alpha:g}")
ax.plot(pos + 0.27, per_cluster["collateral (alpha=2)"], "k_", ms=10, mew=2,
        label="collateral, alpha = 2")
ax.set_xticks(pos)
ax.set_xticklabels([f"c{c}\n{p:.2f}" for c, p in confidence.items()], fontsize=8)
ax.set_xlabel("cluster and attacker's confidence (least confident left)")
ax.set_ylabel("damage (accuracy points lost)")
ax.axhline(0, color="grey", lw=0.5)
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Inside the most damaged cluster
# -------------------------------
# Poison the victim again for the most damaged cluster at ``alpha = 2`` (the
# same seed as the audit), and read some of the cluster's test snippets with
# their true label and the clean and poisoned predictions.
worst = int(per_cluster["target (alpha=2)"].idxmax())
attack = LabelFlip(FrozenEstimator(finder.retarget(worst)), alpha=2,
                   label="least_confident", estimator=FrozenEstimator(attacker),
                   aux=(X_aux, y_aux), random_state=0)
X_poisoned, y_poisoned = attack.fit_resample(X, y)
clean = LogisticRegression(max_iter=1000).fit(X, y)
poisoned = LogisticRegression(max_iter=1000).fit(X_poisoned, y_poisoned)
in_cluster = np.flatnonzero(finder.predict(X_test) == worst)
names = np.asarray(rt.target_names)
poison_label = str(names[y_poisoned[attack.poison_mask_][0]])
print(f"cluster {worst}: {attack.n_poison_} poisons labelled {poison_label!r}, "
      f"{len(in_cluster)} test snippets")
examples = pd.DataFrame({
    "snippet": [textwrap.shorten(t, 70) for t in texts[idx_test][in_cluster]],
    "true": names[y_test[in_cluster]],
    "clean": names[clean.predict(X_test[in_cluster])],
    "poisoned": names[poisoned.predict(X_test[in_cluster])]})
changed = examples[examples.clean != examples.poisoned]
print(changed.head(6).to_string(index=False))
plt.show()

# %%
# Reading the results
# -------------------
# Target damage grows with ``alpha`` (the Top-1 cluster loses 5, 18 and 35
# points at ``alpha = 0.5, 1, 2``), and collateral damage stays within a few
# points. The least-confident clusters are not the most damaged here: the
# four least confident mix fresh and rotten snippets that the clean victim
# gets right only 63 to 74 % of the time, so there is little accuracy left
# to take, and one poison label for a mixed cluster can even agree with part
# of it (negative damage). The most confident cluster, right 88 % of the
# time, loses every prediction the poison flips. (The paper's IMDB runs, too,
# evaluated clusters from the low, the median and the high band of
# confidence.) And with 400 training snippets, 66 poisons for a 33-snippet
# cluster are a far larger push than the paper's 150 poisons among 12,500
# reviews.

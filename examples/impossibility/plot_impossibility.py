"""
=====================================================================
Why no algorithmic defense stops subpopulation attacks (Theorem 7.1)
=====================================================================

The paper's impossibility result (Sec. 7) says: when data is a mixture of
subpopulations with disjoint supports and the learner decides *locally*
(its prediction on a subpopulation depends only on the training rows of that
subpopulation), an attacker who adds about as many wrong-labelled rows as the
subpopulation has clean ones takes it over, and nothing else changes.

This example builds such a mixture with
:func:`~skpoison.datasets.make_subpopulation_mixture`, attacks one
subpopulation with :class:`~skpoison.attacks.LabelFlip` at poisoning rates
0.5 to 3, and measures target and collateral damage for

* a **local majority** rule (all training rows within the support's diameter
  vote: :class:`~sklearn.neighbors.RadiusNeighborsClassifier`), the theorem's
  locally dependent learner;
* **5-nearest neighbours** (:class:`~sklearn.neighbors.KNeighborsClassifier`),
  local but voting over a random-looking handful of neighbours;
* a global **logistic regression**,

each without a defense and behind :class:`~skpoison.defenses.TRIM` told the
exact number of poisons (and :class:`~skpoison.defenses.SEVER`, which needs
per-row gradients, for the linear model).
"""

# %%
# The data: 50 subpopulations, uniform in disjoint balls on a grid, Zipf
# (long-tail) weights, one label each. The mixture is split into the victim's
# training rows, the attacker's auxiliary rows and test rows, each holding a
# share of every subpopulation.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, RadiusNeighborsClassifier
from sklearn.pipeline import make_pipeline

from skpoison.attacks import LabelFlip
from skpoison.datasets import make_subpopulation_mixture
from skpoison.defenses import SEVER, TRIM
from skpoison.subpopulations import FeatureMatch

K, RADIUS = 50, 0.2
X, y, sub = make_subpopulation_mixture(6000, n_subpopulations=K, radius=RADIUS,
                                       random_state=0)
# The subpopulation id is the attacker's annotation (as race or age are in
# the paper's FeatureMatch); it is the last column, and learners never see it.
Xs = np.column_stack([X, sub])
rows = np.arange(len(y))
train, rest = train_test_split(rows, test_size=2 / 3, stratify=sub, random_state=0)
aux, test = train_test_split(rest, test_size=0.5, stratify=sub[rest], random_state=0)
print("rows per subpopulation in the training set:",
      np.bincount(sub[train]).min(), "to", np.bincount(sub[train]).max())

# %%
# The target: subpopulation 18, a tail group of 23 training rows that
# all three clean learners below classify correctly. The
# attacker's finder is FeatureMatch on the annotation column, fitted on its
# own rows and frozen, so every attack uses the same target.
TARGET = 18
finder = FeatureMatch(columns=[2], target=TARGET).fit(Xs[aux])
finder = FrozenEstimator(finder)
in_target = finder.membership(Xs[test])
print("target rows: train", int((sub[train] == TARGET).sum()),
      "test", int(in_target.sum()))


def features_only(estimator):
    """The learner sees the two coordinates, never the annotation."""
    return make_pipeline(
        ColumnTransformer([("xy", "passthrough", [0, 1])]), estimator)


LEARNERS = {
    # every training row within the support's diameter votes: exactly the
    # theorem's locally dependent majority (outlier_label for empty balls)
    "local majority": features_only(
        RadiusNeighborsClassifier(radius=2 * RADIUS, outlier_label=0)),
    "5-NN": features_only(KNeighborsClassifier(n_neighbors=5)),
    "logistic regression": features_only(LogisticRegression()),
}
ALPHAS = (0.5, 1.0, 2.0, 3.0)


def _defenses(learner, n_poison):
    yield "none", learner
    yield "TRIM", TRIM(learner, n_remove=n_poison, max_iter=5)
    if isinstance(learner[-1], LogisticRegression):
        # SEVER needs per-row gradients: the linear model only
        yield "SEVER", SEVER(learner, n_remove=n_poison)


def _accuracy(pred, mask):
    return float(np.mean(pred[mask] == y[test][mask]))


def damage_sweep(learners, alphas):
    """Target/collateral damage of every learner x alpha x defense."""
    records = []
    for name, learner in learners.items():
        clean = clone(learner).fit(Xs[train], y[train]).predict(Xs[test])
        for alpha in alphas:
            attack = LabelFlip(finder, alpha=alpha, aux=(Xs[aux], y[aux]),
                               random_state=0)
            X_p, y_p = attack.fit_resample(Xs[train], y[train])
            for defense, model in _defenses(learner, attack.n_poison_):
                model = clone(model).fit(X_p, y_p)
                pred = model.predict(Xs[test])
                kept = getattr(model, "support_mask_", np.ones(len(y_p), bool))
                records.append({
                    "learner": name, "alpha": alpha, "defense": defense,
                    "clean target acc": _accuracy(clean, in_target),
                    "target damage": _accuracy(clean, in_target)
                    - _accuracy(pred, in_target),
                    "collateral damage": _accuracy(clean, ~in_target)
                    - _accuracy(pred, ~in_target),
                    "poisons removed": float(np.mean(~kept[attack.poison_mask_])),
                    "target clean rows removed": float(np.mean(
                        ~kept[:len(train)][sub[train] == TARGET])),
                })
    return pd.DataFrame.from_records(records)


results = damage_sweep(LEARNERS, ALPHAS)
print(results.set_index(["learner", "defense", "alpha"]).round(3).to_string())

# %%
# What the table shows:
#
# * The local majority loses the target **completely** once the poisons
#   outnumber its clean rows (alpha > 1; at alpha = 1 the vote ties and the
#   tie goes to the first class), and its collateral damage is **exactly
#   zero**: no prediction outside the target's ball changes. 5-NN behaves
#   the same way with some noise (a test row's five neighbours are a small
#   sample of its ball); its collateral damage is exactly zero as well.
# * Logistic regression keeps this target, but the flipped rows bend its one
#   global boundary and the damage lands on the rest of the data (collateral
#   damage up to about 0.2). Whether a global model keeps a target depends
#   on where the target lies relative to that boundary; what it never has is
#   the locality: its collateral damage is not zero.
# * TRIM, told the exact number of poisons, removes the rows its model fits
#   worst. Once the poisons are as many as the target's clean rows, those
#   are the target's **clean** rows, so the defense finishes the attack (the
#   paper's Figure 2 failure mode): 5-NN's target damage rises to 1 from
#   alpha = 1 on, and it removes no poison at all. Behind logistic
#   regression TRIM and SEVER remove no poison either, and the collateral
#   damage grows.
#
# The poisoned sample is also a perfectly ordinary sample of another
# long-tailed mixture, one where this subpopulation is larger and labelled
# the other way; a defense that refused to learn it would be wrong there.
fig, axes = plt.subplots(1, len(LEARNERS), figsize=(12, 3.6), sharey=True)
for ax, (name, table) in zip(axes, results.groupby("learner", sort=False)):
    for defense, rows_d in table.groupby("defense", sort=False):
        line, = ax.plot(rows_d["alpha"], rows_d["target damage"], "o-",
                        label=f"{defense}: target")
        ax.plot(rows_d["alpha"], rows_d["collateral damage"], "x--",
                color=line.get_color(), label=f"{defense}: collateral")
    ax.axvline(1.0, color="grey", lw=0.5)
    ax.set_title(name)
    ax.set_xlabel("poisoning rate alpha")
axes[0].set_ylabel("damage (accuracy lost)")
axes[-1].legend(fontsize=8)
fig.tight_layout()

# %%
# The mixture, the target subpopulation and the poisons (alpha = 2). The
# poisons sit inside the target's own support: no outlier detector on the
# features can tell them from clean rows.
attack = LabelFlip(finder, alpha=2, aux=(Xs[aux], y[aux]), random_state=0)
X_p, y_p = attack.fit_resample(Xs[train], y[train])
fig, ax = plt.subplots(figsize=(5.5, 5.5))
clean_rows = ~attack.poison_mask_
ax.scatter(*X_p[clean_rows, :2].T, c=y_p[clean_rows], cmap="coolwarm", s=4,
           alpha=0.5)
target_rows = clean_rows & (X_p[:, 2] == TARGET)
ax.scatter(*X_p[target_rows, :2].T, facecolors="none", edgecolors="k", s=30,
           label="target (clean)")
ax.scatter(*X_p[attack.poison_mask_, :2].T, marker="x", c="k", s=20,
           label=f"poisons ({attack.n_poison_})")
ax.set_aspect("equal")
ax.legend(loc="upper right", fontsize=8)
ax.set_title("k = 50 subpopulations, Zipf weights; colour = label")
plt.show()

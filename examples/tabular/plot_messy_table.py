"""
===================================================================
A table as it comes: strings, missing values, groups named in words
===================================================================

An audit of your own data starts from the table you have, not from a numeric
matrix: UCI Adult as a DataFrame has strings (``workclass``, ``race``, ...),
integers and missing values (a ``workclass`` is missing for about 6% of the
people). This example attacks such a table as is:

* :class:`~skpoison.subpopulations.FeatureMatch` on ``workclass`` and ``sex``,
  where a missing ``workclass`` is a group of its own, as scikit-learn's
  :class:`~sklearn.preprocessing.OneHotEncoder` treats it;
* :class:`~skpoison.subpopulations.ClusterMatch` on the raw frame: with no
  ``representation`` it builds a default one (impute, one-hot, scale), and
  names each cluster by the few conditions that pick it out, in the data's
  own units;
* :class:`~skpoison.attacks.LabelFlip`, which only copies rows: the poisons
  keep their strings and missing values, and the victim, a scikit-learn
  pipeline, encodes them as it encodes its clean rows.
"""

# %%
# The data and the victim
# -----------------------
# 9,000 people, split into the victim's training rows ``D``, the attacker's own
# rows ``D_aux`` and test rows, a third each (stratified by income). The
# victim is a scikit-learn pipeline: it one-hot encodes the categorical
# columns (a missing value is a category of its own), standardises the
# numbers and fits a logistic regression.
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skpoison.attacks import LabelFlip
from skpoison.datasets import load_adult
from skpoison.subpopulations import ClusterMatch, FeatureMatch

X, y = load_adult(as_frame=True, return_X_y=True)
X, _, y, _ = train_test_split(X, y, train_size=9000, stratify=y, random_state=0)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=1 / 3, stratify=y, random_state=0)
X_aux, X_test, y_aux, y_test = train_test_split(
    X_rest, y_rest, train_size=0.5, stratify=y_rest, random_state=0)
print(X_train.dtypes.to_string())
print("missing values per column:",
      X_train.isna().sum()[lambda s: s > 0].to_dict())


def victim():
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"),
         make_column_selector(dtype_exclude="number")),
        (StandardScaler(), make_column_selector(dtype_include="number")))
    return make_pipeline(encode, LogisticRegression(max_iter=1000))


clean = victim().fit(X_train, y_train)
print(f"clean test accuracy: {clean.score(X_test, y_test):.3f}")

# %%
# Groups by annotated columns, missing values included
# ----------------------------------------------------
# The attacker groups its own rows by ``workclass`` and ``sex``. Rows whose
# ``workclass`` is missing form groups of their own; ``describe_text`` names
# each group, ``describe`` gives the values (``None`` where missing).
features = FeatureMatch(["workclass", "sex"], min_size=20, max_size=250).fit(X_aux)
sizes = pd.Series(features.sizes_, index=[features.describe_text(s)
                                          for s in features.subpopulations_])
print(sizes.sort_values(ascending=False).to_string())
missing = [s for s in features.subpopulations_
           if features.describe(s)["workclass"] is None]
print("groups with a missing workclass:",
      [features.describe_text(s) for s in missing])

# %%
# Clusters named in words
# -----------------------
# ClusterMatch clusters numbers. Given this DataFrame and no
# ``representation`` it builds one (missing categories as ``"missing"``,
# one-hot; numbers median-imputed and standardised), fitted on the attacker's
# rows and kept as ``representation_``. ``describe`` names a cluster by a
# shallow decision tree on the raw columns: the rule, the share of the cluster
# it covers and its precision.
clusters = ClusterMatch(n_clusters=40, min_size=20, max_size=250,
                        random_state=0).fit(X_aux)
print(type(clusters.representation_).__name__, "with",
      len(clusters.representation_.get_feature_names_out()), "features")
rules = pd.DataFrame([clusters.describe(s).to_dict()
                      for s in clusters.subpopulations_])
rules["f1"] = [clusters.describe(s).f1 for s in rules["subpopulation"]]
percent = "{:.0%}".format
print(rules.sort_values("size", ascending=False).head(8)[
    ["subpopulation", "size", "coverage", "precision", "rule"]].to_string(
    index=False, formatters={"coverage": percent, "precision": percent}))

# %%
# Attacking named groups
# ----------------------
# For the two groups with a missing ``workclass``, the largest other group
# and the two clusters best described by their rule (highest F1 of coverage
# and precision), the attacker copies twice as many of its rows of the group
# as the victim has, with flipped labels (``alpha=2``), and the victim
# retrains on the poisoned table. The poisons are rows of the attacker's
# DataFrame, strings and missing values as they were; the victim encodes them
# like any other row. The finders are already fitted on the attacker's rows:
# ``retarget`` aims one at a group, :class:`~sklearn.frozen.FrozenEstimator`
# hands it to the attack as is.


def attack(finder, subpopulation):
    flip = LabelFlip(FrozenEstimator(finder.retarget(int(subpopulation))),
                     alpha=2, aux=(X_aux, y_aux), random_state=0)
    X_poisoned, y_poisoned = flip.fit_resample(X_train, y_train)
    model = victim().fit(X_poisoned, y_poisoned)
    in_group = finder.membership(X_test, target=int(subpopulation))
    return {
        "group": finder.describe_text(subpopulation),
        "poisons": flip.n_poison_,
        "test rows": int(in_group.sum()),
        "clean accuracy": clean.score(X_test[in_group], y_test[in_group]),
        "poisoned accuracy": model.score(X_test[in_group], y_test[in_group]),
        "rest, poisoned": model.score(X_test[~in_group], y_test[~in_group]),
    }


others = [s for s in features.subpopulations_ if s not in missing]
largest_other = max(others, key=lambda s: sizes[features.describe_text(s)])
best_described = rules.nlargest(2, "f1")
results = pd.DataFrame(
    [attack(features, s) for s in [*missing, largest_other]]
    + [attack(clusters, s) for s in best_described.subpopulation])
print(results.round(3).to_string(index=False, max_colwidth=60))

# %%
# One bar per group: the victim's accuracy on the group's test rows before
# and after the attack. The group names are the finders' own descriptions.
fig, ax = plt.subplots(figsize=(9, 5))
rows = np.arange(len(results))[::-1]
ax.barh(rows + 0.2, results["clean accuracy"], height=0.4, label="clean")
ax.barh(rows - 0.2, results["poisoned accuracy"], height=0.4,
        label="poisoned, alpha = 2")
ax.set_yticks(rows)
ax.set_yticklabels([textwrap.fill(g, 45) for g in results["group"]], fontsize=7)
ax.set_xlabel("accuracy on the group's test rows")
ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8)
fig.tight_layout()
plt.show()

# %%
# Reading the results
# -------------------
# Nothing had to be cleaned or encoded by hand for the attack: the finders
# and the attack took the table with its strings and missing values, and the
# groups are reported by what their members have in common, including the
# people whose ``workclass`` is missing. Not every group is damaged alike: a
# logistic regression can move its decision for a combination of one-hot
# values, but a cluster that mixes several such combinations may resist it.
# Where a cluster's rule has a low precision, the cluster is not well
# described by three conditions; ``clusters.describe(k, max_depth=5)`` gives a
# longer, more precise rule.

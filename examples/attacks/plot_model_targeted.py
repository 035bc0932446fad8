"""
=====================================================================
Model-targeted poisoning: error against poisons, and the lower bound
=====================================================================

:class:`~skpoison.attacks.ModelTargetedPoison` (Suya et al., ICML 2021) adds
one poison at a time, each the feasible row that pulls the victim fastest
towards a *target model* that misclassifies the group, and it reports a lower
bound on the poisons that any attack needs to induce the model it reached, and
one for the target model itself.
:func:`~skpoison.attacks.susceptibility` computes the target model and a bound
for every group first, a few fits per group (Rose, Suya and Evans, 2023).

The data here are a small table with a categorical, a binary and a numeric
column; the victim one-hot encodes and scales them before a logistic
regression. Poisons are rows of the same table: a job and a city among those
seen, an age in the observed range.
"""

# %%
# A table, its groups (one per job) and the victim's pipeline.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skpoison.attacks import ModelTargetedPoison, susceptibility
from skpoison.subpopulations import FeatureMatch

rng = np.random.RandomState(0)
n = 600
job = rng.choice(["clerk", "craft", "exec", "sales", "service"], size=n)
age = rng.uniform(18, 70, size=n).round()
X = pd.DataFrame({"job": job, "age": age, "city": rng.choice(["north", "south"], size=n)})
y = pd.Series(((job == "exec") | (age + rng.normal(0, 8, size=n) > 50)).astype(int),
              name="high_income")

victim = make_pipeline(
    ColumnTransformer([("cat", OneHotEncoder(), ["job", "city"]),
                       ("num", StandardScaler(), ["age"])]),
    LogisticRegression(max_iter=1000))
finder = FeatureMatch(["job"]).fit(X)

# %%
# Before attacking: the susceptibility of every group. The clean-loss
# difference between the target and the clean model ranks the groups; the
# bound (from the clean model) is a first lower bound on the poisons.
scores = susceptibility(FrozenEstimator(finder), victim, X, y)
scores["job"] = [finder.describe_text(g) for g in scores["subpopulation"]]
print(scores[["job", "n_aux", "clean_error", "loss_difference", "lower_bound"]]
      .sort_values("loss_difference").to_string(index=False))

# %%
# Attack the group that looks cheapest, then the one that looks dearest, and
# plot their error against the number of poisons, with each attack's lower
# bound marked: no attack induces the model the attack reached with fewer
# poisons.
order = scores.sort_values("loss_difference")["subpopulation"].tolist()
fig, ax = plt.subplots(figsize=(6, 3.5))
for g, colour in ((order[0], "C0"), (order[-1], "C3")):
    attack = ModelTargetedPoison(FrozenEstimator(finder.retarget(g)),
                                 estimator=victim, max_poisons=400, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    label = finder.describe_text(g)
    ax.plot(attack.error_trace_, color=colour, label=f"{label}: {attack.n_poison_} poisons")
    ax.axvline(attack.lower_bound_, color=colour, linestyle="--",
               label=f"{label}: lower bound {attack.lower_bound_:.0f}")
    print(f"{label}: {attack.n_poison_} poisons, lower bound "
          f"{attack.lower_bound_:.1f}, efficiency {attack.efficiency_:.2f}, bound "
          f"for the target model {attack.target_bound_:.1f}; "
          f"example poison: {X_res[attack.poison_mask_].iloc[0].to_dict()}")
ax.axhline(0.5, color="grey", linewidth=0.8)
ax.set_xlabel("poisons added")
ax.set_ylabel("error on the group")
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %%
# The efficiency (poisons used over the bound) is at least 1: the attack
# itself induced its model with ``n_poison_`` poisons. The attack stops when
# the group's error reaches ``target_error`` (0.5), usually before its models
# reach the target model, so it may use fewer poisons than ``target_bound_``.

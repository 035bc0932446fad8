"""
=====================================================================
Optimised poisons: label flipping, gradient and influence (Table 8)
=====================================================================

The paper's Table 8 compares three ways to make subpopulation poisons on a
model with frozen features ("LL"): label flipping (LF), gradient optimisation
of the flipped rows' features (GO, :class:`~skpoison.attacks.GradientPoison`)
and the influence attack (INF, :class:`~skpoison.attacks.InfluencePoison`).
On UTKFace with a VGG-LL model its mean target damage over 10 subpopulations
at alpha = 1 was LF 0.084 < GO 0.155 < INF 0.386, with influence taking 5.4 h
per attack against 40 s for GO.

Here the same comparison runs on UCI Adult's continuous representation (57
features, of which only the 4 non-binary ones may move; one-hot columns stay
fixed) with a logistic-regression victim, over 5 ClusterMatch subpopulations
so that it runs in seconds. ``eps=1`` lets each continuous feature move by
one standard deviation.
"""

# %%
# Data, finder and targets: the attacker clusters its auxiliary rows
# (k-means, k = 100) and we draw 5 clusters with at least 5 test rows.
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.attacks import GradientPoison, InfluencePoison, LabelFlip
from skpoison.datasets import load_adult
from skpoison.metrics import subpopulation_damage
from skpoison.subpopulations import ClusterMatch

adult = load_adult(form="paper", as_frame=False)
X, y = adult.X_train, adult.y_train
X_aux, y_aux = adult.X_aux, adult.y_aux
X_test, y_test = adult.X_test, adult.y_test
finder = ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                      random_state=0).fit(X_aux)
test_ids = finder.predict(X_test)
ok = [int(s) for s in finder.subpopulations_ if np.sum(test_ids == s) >= 5]
targets = sorted(int(t) for t in np.random.RandomState(0).choice(
    ok, size=10, replace=False))[:5]
print("targets:", targets)


def victim():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


clean = victim().fit(X, y)

# %%
# The three attacks share LabelFlip's seeds (the same drawn rows and flipped
# labels); GO and INF then move the continuous features inside a box of
# ``eps = 1`` standard deviation. The surrogate is the attacker's own logistic
# regression, fitted on ``D_aux``. INF uses 100 steps here (250 in the paper).


def attacks(target, alpha):
    common = {"subpopulation": FrozenEstimator(finder.retarget(target)),
              "alpha": alpha, "aux": (X_aux, y_aux), "random_state": 0}
    return {
        "LF": LabelFlip(**common),
        "GO": GradientPoison(n_iter=50, eps=1.0, step_size=20.0, **common),
        "INF": InfluencePoison(n_iter=100, eps=1.0, step_size=1.0, **common),
    }


rows = []
seconds = {"LF": 0.0, "GO": 0.0, "INF": 0.0}
for target in targets:
    mask = test_ids == target
    for alpha in (0.5, 1.0, 2.0):
        for name, attack in attacks(target, alpha).items():
            start = time.perf_counter()
            X_res, y_res = attack.fit_resample(X, y)
            seconds[name] += time.perf_counter() - start
            poisoned = victim().fit(X_res, y_res)
            damage = subpopulation_damage(clean, poisoned, X_test, y_test, mask)
            rows.append({"target": target, "alpha": alpha, "attack": name,
                         "target damage": damage.target_damage})

results = pd.DataFrame(rows)
table = results.pivot_table(index="alpha", columns="attack",
                            values="target damage", aggfunc="mean")[["LF", "GO", "INF"]]
print(table.round(3))
print({name: round(s, 1) for name, s in seconds.items()}, "seconds in total")

# %%
# Mean target damage per attack and alpha. The direction matches the paper on
# its LL model (LF <= GO <= INF); the size does not: only 4 of Adult's 57
# features can move and a linear victim is hard to bend with them. The
# full-size run (``python benchmarks/table8_optimised.py``: 10 subpopulations,
# GO 50 and INF 250 steps) measured, at alpha 0.5 / 1 / 2,
# with eps = 1: LF 0.014 / 0.021 / 0.039, GO 0.024 / 0.051 / 0.095,
# INF 0.024 / 0.055 / 0.107 (steps GO 20, INF 1); with eps = 0.1: LF 0.014 / 0.021 / 0.039,
# GO 0.017 / 0.022 / 0.044, INF 0.017 / 0.026 / 0.045.
ax = table.plot.bar(rot=0, figsize=(6, 3.5))
ax.set_ylabel("mean target damage")
ax.set_title(f"Adult, LR victim, {len(targets)} ClusterMatch subpopulations")
plt.tight_layout()
plt.show()

# %%
# What the influence attack costs
# -------------------------------
# The paper's influence attack took 490 times as long as GO. Here both are
# closed form for a linear surrogate. The influence attack's Hessian is exact,
# and its refits are a few Newton steps from the last solution. It skips a
# refit when the poisons have not moved since the last one. In the seconds
# printed above, INF costs about twice what GO costs.
# ``python benchmarks/bench_optimised_attacks.py --no-table`` times GO (50
# steps) and INF (250 steps) on the 10 subpopulations of the full table. It
# measured 2.0 times GO's time in total, and at most 2.7 times on the
# subpopulations where every refit was needed.
#
# Fine-tuned models
# -----------------
# The paper found that GO does not help a fully fine-tuned VGG-16 (FT). It
# took this as influence approximations breaking down on deep models.
# ``python benchmarks/table8_optimised.py --mlp`` runs the contrast on a much
# smaller net: a 10-unit MLP victim, with GO's surrogate the same MLP, either
# with its body frozen (``mode="ll"``) or whole (``mode="ft"``), eps = 1. At
# alpha 0.5 / 1 / 2 the mean target damage was LF 0.023 / 0.040 / 0.081,
# GO-LL 0.025 / 0.043 / 0.084 and GO-FT 0.032 / 0.064 / 0.107. At this size,
# GO on the whole network still helps. The paper's breakdown belongs to large
# networks, which we cannot optimise through on 2 CPU cores.
#
# Frozen image and text embeddings
# --------------------------------
# ``python benchmarks/table8_embeddings.py`` runs the same table on the
# paper's own kind of model: a linear head on frozen pretrained features.
# The influence attack refits every 10 steps. If a refit shows that the
# surrogate's target loss fell, the steps have overshot, so it goes back to
# the last kept poisons and halves its step (``backtrack=True``).
#
# * **Fashion-MNIST**: EfficientNet-Lite0 features, reduced by a PCA to 64
#   components; 10 subpopulations. INF more than doubles LF's target damage,
#   as on the paper's VGG-LL. At alpha 0.5 / 1 / 2 with eps = 1:
#   LF 0.120 / 0.212 / 0.299, GO 0.084 / 0.139 / 0.211, INF 0.298 / 0.420 /
#   0.513. Without backtracking, INF was below LF (0.040 / 0.042 / 0.113).
#   GO's fixed step of 20 overshoots here. At eps = 0.1 GO edges out LF at
#   alpha 1 and 2 (0.229 and 0.330 against 0.212 and 0.299), and INF leads
#   again (0.315 and 0.412).
# * **Rotten Tomatoes**: MiniLM sentence embeddings, 20 clusters. Neither
#   optimisation beats label flipping: at eps = 0.1, LF 0.039 / 0.048 /
#   0.072, GO 0.034 / 0.044 / 0.074, INF 0.018 / 0.045 / 0.067. Moving a
#   sentence's embedding raises the surrogate's loss on the target without
#   flipping more of the victim's predictions.

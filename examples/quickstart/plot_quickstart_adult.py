"""
==========================================================
Poisoning one subpopulation of UCI Adult, in GridSearchCV
==========================================================

An attacker who holds auxiliary census rows picks a small cluster of people
(:class:`~skpoison.subpopulations.ClusterMatch`), adds copies of them with
flipped labels to the victim's training data
(:class:`~skpoison.attacks.LabelFlip`), and the victim trains a logistic
regression, with or without the TRIM defense
(:class:`~skpoison.defenses.TRIM`). The subpopulation scorers report accuracy
on the attacked group and on everyone else, inside an ordinary
:class:`~sklearn.model_selection.GridSearchCV`. It starts with the whole
composition in one line, ``Pipeline([ClusterMatch(), GradientPoison(alpha=1),
TRIM(victim)])``.
"""

# %%
# Data: the bundled UCI Adult files with the paper's preprocessing: the
# victim's split ``D`` and the attacker's auxiliary split ``D_aux`` are
# disjoint halves of the class-balanced training file.
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline as make_sklearn_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.attacks import GradientPoison, LabelFlip
from skpoison.datasets import load_adult
from skpoison.defenses import TRIM
from skpoison.metrics import collateral_accuracy_scorer, target_accuracy_scorer
from skpoison.pipeline import Pipeline, make_pipeline
from skpoison.subpopulations import ClusterMatch

adult = load_adult(form="paper", as_frame=False)
X, y = adult.X_train, adult.y_train
X_aux, y_aux = adult.X_aux, adult.y_aux
print(X.shape, X_aux.shape, adult.X_test.shape)

# %%
# The whole composition in one line: a finder, an attack and a defended
# victim. The finder step right before the attack becomes the attack's finder
# (the attack fits it on the attacker's rows, ``aux``) and passes the rows
# through unchanged; a grid search reaches both by their step names.
victim = make_sklearn_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
pipe = Pipeline([ClusterMatch(), GradientPoison(alpha=1), TRIM(victim)])
pipe.set_params(clustermatch__min_size=10, clustermatch__max_size=100,
                clustermatch__random_state=0, gradientpoison__aux=(X_aux, y_aux),
                gradientpoison__n_iter=20, gradientpoison__random_state=0,
                trim__max_iter=3)
search = GridSearchCV(pipe, {"clustermatch__n_clusters": [50, 100],
                             "gradientpoison__alpha": [0, 2]},
                      cv=2, refit=False,
                      scoring={"target": target_accuracy_scorer,
                               "rest": collateral_accuracy_scorer})
search.fit(X, y)
print(pd.DataFrame(search.cv_results_)[
    ["param_clustermatch__n_clusters", "param_gradientpoison__alpha",
     "mean_test_target", "mean_test_rest"]].round(3).to_string(index=False))

# %%
# The attacker clusters its own rows once (k-means, k = 100, as the paper) and
# keeps clusters of 10 < n < 100 rows. It targets the three whose auxiliary
# rows are most uniformly labelled: flipping a pure group teaches the model
# one wrong label for all of it.
finder = ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                      random_state=0).fit(X_aux)
ids = finder.predict(X_aux)
purity = pd.Series({c: max(y_aux[ids == c].mean(), 1 - y_aux[ids == c].mean())
                    for c in finder.subpopulations_}).sort_values(ascending=False)
targets = purity.index[:3].tolist()
print("targets:", targets, "purity:", purity.iloc[:3].round(2).tolist())

# %%
# The attack sits in an imbalanced-learn pipeline before the victim: it runs at
# ``fit`` only. Here the finder is frozen (already fitted on the attacker's
# data) and nested in the attack, its first parameter, so the grid can change
# its target without refitting it.
pipe = make_pipeline(
    LabelFlip(FrozenEstimator(finder), aux=(X_aux, y_aux), random_state=0),
    TRIM(victim, max_iter=3),
)
grid = {
    "labelflip__subpopulation": [FrozenEstimator(finder.retarget(t)) for t in targets],
    "labelflip__alpha": [0.0, 2.0],
    "trim__n_remove": [0, 0.01],
}
search = GridSearchCV(pipe, grid, cv=2, n_jobs=2, refit=False,
                      scoring={"target": target_accuracy_scorer,
                               "rest": collateral_accuracy_scorer})
search.fit(X, y)

# %%
# Accuracy on the targeted clusters falls at alpha = 2; on everyone else it
# barely moves. Compare TRIM (``n_remove=0.01``, 1 % of the rows removed per
# round) with no defense.
params = search.cv_results_["params"]
res = pd.DataFrame({
    "cluster": [p["labelflip__subpopulation"].target_ for p in params],
    "labelflip__alpha": [p["labelflip__alpha"] for p in params],
    "trim__n_remove": [p["trim__n_remove"] for p in params],
})
res["target accuracy"] = search.cv_results_["mean_test_target"]
res["rest accuracy"] = search.cv_results_["mean_test_rest"]
res["defense"] = res.pop("trim__n_remove").map({0: "none", 0.01: "TRIM 1%"})
table = res.groupby(["defense", "labelflip__alpha"])[
    ["target accuracy", "rest accuracy"]].mean()
print(table.round(3))

fig, ax = plt.subplots(figsize=(5, 3.5))
for defense, grp in table.reset_index().groupby("defense"):
    ax.plot(grp.labelflip__alpha, grp["target accuracy"], "o-",
            label=f"target ({defense})")
    ax.plot(grp.labelflip__alpha, grp["rest accuracy"], "s--",
            label=f"rest ({defense})")
ax.set_xlabel("alpha (poisons per subpopulation row)")
ax.set_ylabel("accuracy")
ax.set_title("Label flipping on 3 Adult clusters")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

"""Unwrapping pipelines: fitting the steps before the final model."""

import numpy as np
from imblearn.under_sampling import RandomUnderSampler
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.pipeline import make_pipeline as make_imb_pipeline
from skpoison.utils._pipeline import final_step, fit_transform_to_final


def _data():
    rng = np.random.RandomState(0)
    X = rng.normal(2, 3, size=(40, 3)) * np.array([1.0, 10.0, 0.1])
    y = (np.arange(40) % 4 == 0).astype(int)  # imbalanced: samplers resample
    return X, y


def test_fit_transform_to_final_skips_samplers_and_keeps_every_row():
    X, y = _data()
    pipe = make_imb_pipeline(StandardScaler(), RandomUnderSampler(random_state=0),
                             "passthrough", LogisticRegression())
    Z = fit_transform_to_final(pipe, X, y)
    np.testing.assert_allclose(Z, StandardScaler().fit_transform(X))
    assert not hasattr(pipe[0], "mean_")  # the pipeline's own steps stay unfitted


def test_fit_transform_to_final_descends_nested_pipelines():
    X, y = _data()
    inner = make_imb_pipeline(RandomUnderSampler(random_state=0),
                              PCA(2, random_state=0), LogisticRegression())
    nested = make_pipeline(StandardScaler(), inner)
    flat = make_pipeline(StandardScaler(), PCA(2, random_state=0), LogisticRegression())
    Z = fit_transform_to_final(nested, X, y)
    np.testing.assert_allclose(Z, make_pipeline(StandardScaler(), PCA(2, random_state=0))
                               .fit_transform(X))
    np.testing.assert_allclose(Z, fit_transform_to_final(flat, X, y))
    # a nested pipeline that is not the last step: its sampler is skipped too
    middle = make_pipeline(make_imb_pipeline(RandomUnderSampler(random_state=0),
                                             StandardScaler()), LogisticRegression())
    np.testing.assert_allclose(fit_transform_to_final(middle, X, y),
                               StandardScaler().fit_transform(X))


def test_fit_transform_to_final_matches_final_step_of_the_fitted_pipeline():
    X, y = _data()
    pipe = make_pipeline(StandardScaler(), make_pipeline(PCA(2, random_state=0),
                                                         LogisticRegression()))
    Z = fit_transform_to_final(pipe, X, y)
    _, Z_fitted = final_step(pipe.fit(X, y), X)
    np.testing.assert_allclose(Z, Z_fitted)


def test_fit_transform_to_final_of_a_model_is_the_input():
    X, y = _data()
    assert fit_transform_to_final(LogisticRegression(), X, y) is X


# ------------------------------------------------------ the one step walker
def _blobs():
    rng = np.random.RandomState(1)
    centers = np.array([[-4.0, 0.0, 0.0], [4.0, 4.0, 0.0], [4.0, -4.0, 0.0]])
    X = centers[np.arange(90) % 3] + rng.normal(0, 0.5, (90, 3))
    return X * np.array([1.0, 10.0, 0.1]), (np.arange(90) % 3 == 0).astype(int)


def test_find_step_through_searches_pipelines_and_meta_estimators():
    from sklearn.model_selection import GridSearchCV

    from skpoison.attacks import LabelFlip
    from skpoison.defenses import TRIM
    from skpoison.pipeline import PoisonedEstimator
    from skpoison.subpopulations import ClusterMatch
    from skpoison.utils._pipeline import find_step

    X, y = _blobs()
    attack = LabelFlip(ClusterMatch(n_clusters=3), random_state=0)
    inner = make_imb_pipeline(PCA(2, random_state=0), attack,
                              TRIM(LogisticRegression(), n_remove=3))
    outer = make_pipeline(StandardScaler(), inner)
    search = GridSearchCV(outer, {"pipeline__trim__n_remove": [3]}, cv=2).fit(X, y)
    best = search.best_estimator_
    found, to_input = find_step(search, lambda s: hasattr(s, "poison_mask_"))
    assert found is best[-1].named_steps["labelflip"]
    # the rows as the attack received them: scaled, then projected
    np.testing.assert_allclose(to_input(X), best[-1][0].transform(best[0].transform(X)))
    defense, to_defense = find_step(search, lambda s: hasattr(s, "support_mask_"))
    assert defense is best[-1].named_steps["trim"]
    np.testing.assert_allclose(to_defense(X), to_input(X))  # the sampler is skipped
    # meta-estimators pass their rows on: attack_ and estimator_
    model = PoisonedEstimator(attack, TRIM(LogisticRegression(), n_remove=3)).fit(X, y)
    assert find_step(model, lambda s: hasattr(s, "poison_mask_"))[0] is model.attack_
    defended = find_step(model, lambda s: hasattr(s, "support_mask_"))[0]
    assert defended is model.estimator_
    assert find_step(model, lambda s: hasattr(s, "certify")) == (None, None)


def test_bound_finder_steps_pass_rows_through():
    from skpoison.attacks import LabelFlip
    from skpoison.subpopulations import ClusterMatch
    from skpoison.utils._pipeline import find_step

    X, y = _blobs()
    pipe = make_imb_pipeline(StandardScaler(), ClusterMatch(n_clusters=3),
                             LabelFlip(random_state=0), PCA(2, random_state=0),
                             LogisticRegression())
    scaled = StandardScaler().fit_transform(X)
    # unfitted: the finder step is neither fitted nor applied
    np.testing.assert_allclose(fit_transform_to_final(pipe, X, y),
                               PCA(2, random_state=0).fit_transform(scaled))
    pipe.fit(X, y)
    assert not hasattr(pipe.named_steps["clustermatch"], "subpopulations_")
    _, Z = final_step(pipe, X)
    np.testing.assert_allclose(Z, pipe.named_steps["pca"].transform(scaled))
    attack, to_input = find_step(pipe, lambda s: hasattr(s, "poison_mask_"))
    assert attack is pipe.named_steps["labelflip"]
    np.testing.assert_allclose(to_input(X), scaled)

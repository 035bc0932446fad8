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

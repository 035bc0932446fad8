"""Labels that cannot match the model's are errors, never a silent zero."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skpoison.attacks import LabelFlip
from skpoison.metrics import subpopulation_damage, target_accuracy_scorer
from skpoison.pipeline import make_pipeline
from skpoison.subpopulations import ClusterMatch, rank_subpopulations
from skpoison.utils._labels import check_label_space


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    clean = LogisticRegression().fit(X, y)
    pipe = make_pipeline(LabelFlip(ClusterMatch(n_clusters=3, random_state=0),
                                   random_state=0), LogisticRegression()).fit(X, y)
    return X, y, clean, pipe


def test_string_labels_against_integer_predictions(fitted):
    X, y, clean, pipe = fitted
    mask = X[:, 1] > 0
    with pytest.raises(ValueError, match="y shares no label with the classes"):
        subpopulation_damage(clean, pipe, X, y.astype(str), mask)
    with pytest.raises(ValueError, match="y shares no label"):
        target_accuracy_scorer(pipe, X, y.astype(str))
    finder = ClusterMatch(n_clusters=3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="y shares no label"):
        rank_subpopulations(finder, clean, X, np.where(y == 1, "a", "b"))


def test_nan_labels(fitted):
    X, y, clean, pipe = fitted
    y_nan = y.astype(float)
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match="y contains missing values"):
        subpopulation_damage(clean, pipe, X, y_nan, X[:, 1] > 0)
    with pytest.raises(ValueError, match="y contains missing values"):
        target_accuracy_scorer(pipe, X, y_nan)


def test_scorer_refuses_labels_of_another_length(fitted):
    X, y, _, pipe = fitted
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        target_accuracy_scorer(pipe, X, y[:-5])


def test_a_few_unknown_labels_warn_and_count_as_wrong(fitted):
    X, y, clean, _ = fitted
    y_test = y.copy()
    y_test[:2] = 7  # a class absent from the training rows
    with pytest.warns(UserWarning, match="does not know"):
        result = subpopulation_damage(clean, clean, X, y_test, np.ones(len(y), bool))
    assert result.target_damage == 0.0
    assert result.clean_target_accuracy < 1.0


def test_check_label_space_accepts_matching_labels():
    y = check_label_space([0, 1, 1], np.array([1, 0]))
    assert y.tolist() == [0, 1, 1]

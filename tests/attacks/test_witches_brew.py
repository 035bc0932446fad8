"""Tests of WitchesBrew (gradient-matching clean-label targeted poisoning)."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from skpoison.attacks import WitchesBrew
from skpoison.nets import make_mlp_classifier
from skpoison.subpopulations import ClusterMatch


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=400, n_features=10, n_informative=6,
                               n_classes=3, n_clusters_per_class=1,
                               class_sep=1.0, random_state=0)
    X = (X - X.min()) / (X.max() - X.min())  # in [0, 1]
    X_train, y_train = X[:300], y[:300]
    targets = X[300:][y[300:] == 0][:3]  # held-out rows of class 0
    return X_train, y_train, targets


def _attack(**kwargs):
    params = {"intended_class": 1, "budget": 0.1, "eps": 32, "n_iter": 40,
              "restarts": 1, "random_state": 0,
              "estimator": make_mlp_classifier((32,), max_epochs=30)}
    params.update(kwargs)
    return WitchesBrew(**params)


def test_perturbations_in_ball_and_range_rest_untouched(data):
    X, y, targets = data
    X_copy, y_copy = X.copy(), y.copy()
    attack = _attack(targets=targets, restarts=2)
    X_res, y_res = attack.fit_resample(X, y)
    assert_array_equal(X, X_copy)  # caller's data untouched
    assert_array_equal(y, y_copy)
    assert X_res.shape == X.shape and X_res.dtype == X.dtype
    assert_array_equal(y_res, y)  # clean label: no label changes
    mask = attack.poison_mask_
    assert attack.n_poison_ == mask.sum() == int(0.1 * 300)
    assert_array_equal(np.flatnonzero(mask), attack.poison_indices_)
    assert np.all(y[mask] == 1)  # poisons are rows of the intended class
    assert_array_equal(X_res[~mask], X[~mask])  # exactly untouched
    assert attack.eps_ == pytest.approx(32 / 255)
    change = np.abs(X_res[mask] - X[mask])
    assert change.max() <= attack.eps_ + 1e-12
    assert change.max() > 0.5 * attack.eps_  # it does move
    assert X_res.min() >= X.min() and X_res.max() <= X.max()  # valid range
    assert_array_equal(attack.perturbation_, X_res[mask] - X[mask])
    assert_array_equal(attack.sample_indices_, np.arange(300))
    assert attack.target_indices_ is None
    assert_array_equal(attack.targets_, targets)
    assert attack.restart_losses_.shape == (2,)
    assert attack.losses_[-1] == attack.restart_losses_.min()


def test_gradient_matching_loss_falls(data):
    X, y, targets = data
    attack = _attack(targets=targets).fit(X, y)
    losses = attack.losses_
    assert losses.shape == (40,)
    assert np.all((losses >= 0) & (losses <= 2))  # 1 - cosine
    assert losses[-5:].mean() < 0.5 * losses[:5].mean()


def test_attack_moves_targets_toward_intended_class(data):
    # victim retrained from scratch, same victim seed with and without poison
    X, y, targets = data

    def intended_proba(X_train, seed):
        net = make_mlp_classifier((32,), max_epochs=30, random_state=seed)
        return net.fit(X_train, y).predict_proba(targets)[:, 1].mean()

    gains = []
    for seed in range(4):
        X_res, _ = _attack(targets=targets, random_state=seed).fit_resample(X, y)
        gains.append(intended_proba(X_res, 100 + seed) - intended_proba(X, 100 + seed))
    assert np.mean(gains) > 0.02
    assert np.sum(np.array(gains) > 0) >= 3


def test_validate_reports_fraction_of_targets_as_intended(data):
    X, y, targets = data
    attack = _attack(targets=targets, n_iter=5)
    X_res, y_res = attack.fit_resample(X, y)
    success = attack.validate(X_res, y_res, n_models=2)
    assert 0.0 <= success <= 1.0
    # a victim that predicts the intended class everywhere succeeds fully
    always_1 = make_mlp_classifier((4,), max_epochs=1, random_state=0)
    assert attack.validate(X_res, np.ones_like(y_res), estimator=always_1,
                           X_target=targets) == 1.0
    with pytest.raises(ValueError, match="n_models"):
        attack.validate(X_res, y_res, n_models=0)


def test_same_random_state_same_result(data):
    X, y, targets = data
    a = _attack(targets=targets, n_iter=5, restarts=2).fit_resample(X, y)[0]
    b = _attack(targets=targets, n_iter=5, restarts=2).fit_resample(X, y)[0]
    c = _attack(targets=targets, n_iter=5, restarts=2,
                random_state=1).fit_resample(X, y)[0]
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pixel_data_scale_augmentation_and_max_gradient():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(120, 36)).astype(np.uint8)  # 6x6 images
    y = (X[:, :18].mean(axis=1) > X[:, 18:].mean(axis=1)).astype(int)
    attack = WitchesBrew(targets=np.arange(3), intended_class=1, budget=0.1,
                         n_iter=4, restarts=1, image_shape=(6, 6),
                         poison_selection="max_gradient",
                         estimator=make_mlp_classifier((8,), max_epochs=3),
                         random_state=0)
    X_res, _ = attack.fit_resample(X, y)
    assert X_res.dtype == np.float64
    assert attack.eps_ == 16.0  # eps=16 pixel units for 0..255 data
    mask = attack.poison_mask_
    assert np.abs(X_res[mask] - X[mask]).max() <= 16.0
    assert X_res.min() >= 0 and X_res.max() <= 255
    assert_array_equal(attack.target_indices_, np.arange(3))
    assert not mask[:3].any()  # the targets are never poisons
    # max_gradient picks the intended-class rows with the largest gradients
    assert mask.sum() == 12 and np.all(y[mask] == 1)


def test_targets_selected_from_one_subpopulation(data):
    X, y, _ = data
    attack = _attack(subpopulation=ClusterMatch(n_clusters=3, target="largest",
                                                min_size=4),
                     n_targets=5, n_iter=3)
    attack.fit(X, y)
    idx = attack.target_indices_
    assert idx.shape == (5,)
    assert np.unique(y[idx]).size == 1 and y[idx][0] != 1
    assert_array_equal(attack.targets_, X[idx])
    assert not attack.poison_mask_[idx].any()


def test_finder_step_before_it_chooses_the_targets(data):
    # make_pipeline(ClusterMatch(), WitchesBrew()): the finder step is the
    # attack's subpopulation, as if given as its first parameter
    from skpoison.pipeline import make_pipeline

    X, y, targets = data
    finder = ClusterMatch(n_clusters=3, target="largest", min_size=4)
    small = {"n_targets": 5, "n_iter": 2,
             "estimator": make_mlp_classifier((8,), max_epochs=3)}
    pipe = make_pipeline(finder, _attack(**small), LogisticRegression())
    pipe.fit(X, y)
    fitted = pipe.named_steps["witchesbrew"]
    ref = _attack(subpopulation=finder, **small).fit(X, y)
    assert_array_equal(fitted.target_indices_, ref.target_indices_)
    assert_array_equal(fitted.poison_mask_, ref.poison_mask_)
    # with targets given, a finder step would choose nothing: an error
    with pytest.raises(ValueError, match="given targets.*finder step"):
        make_pipeline(finder, _attack(targets=targets), LogisticRegression()).fit(X, y)


def test_intended_class_chosen_when_none(data):
    X, y, targets = data
    attack = _attack(targets=targets, intended_class=None, n_iter=2).fit(X, y)
    assert attack.intended_class_ in (1, 2)  # not the targets' own class 0
    assert np.all(y[attack.poison_mask_] == attack.intended_class_)


def test_frozen_surrogate_is_used_as_is(data):
    from sklearn.frozen import FrozenEstimator

    X, y, targets = data
    net = make_mlp_classifier((8,), max_epochs=3, random_state=0).fit(X, y)
    weights = net.module_.output.weight.detach().clone()
    attack = _attack(targets=targets, estimator=FrozenEstimator(net), n_iter=3)
    X_res, y_res = attack.fit_resample(X, y)
    assert attack.estimator_ is net
    assert np.array_equal(net.module_.output.weight.detach(), weights)
    # validate retrains the frozen net's architecture from scratch
    assert 0.0 <= attack.validate(X_res, y_res) <= 1.0
    assert np.array_equal(net.module_.output.weight.detach(), weights)
    # fitted but not frozen: used as is for one more release, with a warning
    with pytest.warns(FutureWarning, match="FrozenEstimator"):
        legacy = _attack(targets=targets, estimator=net, n_iter=3).fit(X, y)
    assert legacy.estimator_ is net


def test_dataframe_in_dataframe_out(data):
    X, y, targets = data
    X_df = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)])
    X_res, y_res = _attack(targets=targets, n_iter=2).fit_resample(X_df, pd.Series(y))
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(X_df.columns)
    assert isinstance(y_res, pd.Series)


def test_integer_dataframe_comes_back_as_float_with_the_exact_perturbation():
    # pixel columns of an integer DataFrame: the perturbed rows were cast back
    # to uint8 on the way out, silently rounding the perturbation
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(120, 36)).astype(np.uint8)
    y = (X[:, :18].mean(axis=1) > X[:, 18:].mean(axis=1)).astype(int)
    X_df = pd.DataFrame(X, columns=[f"p{i}" for i in range(36)])
    attack = WitchesBrew(targets=np.arange(3), intended_class=1, budget=0.1,
                         n_iter=4, restarts=1, image_shape=(6, 6),
                         estimator=make_mlp_classifier((8,), max_epochs=3),
                         random_state=0)
    X_res, _ = attack.fit_resample(X_df, y)
    assert isinstance(X_res, pd.DataFrame)
    assert (X_res.dtypes == np.float64).all()
    assert X_df.dtypes.eq(np.uint8).all()  # the caller's frame is untouched
    mask = attack.poison_mask_
    assert_array_equal(X_res.to_numpy()[mask] - X[mask], attack.perturbation_)
    assert np.any(attack.perturbation_ != np.round(attack.perturbation_))
    X_np, _ = attack.fit_resample(X, y)  # the same as for the array
    assert_array_equal(X_res.to_numpy(), X_np)


def test_zero_budget_warns_and_returns_copy(data):
    X, y, targets = data
    with pytest.warns(UserWarning, match="perturbs nothing"):
        X_res, _ = _attack(targets=targets, budget=0.001).fit_resample(X, y)
    assert_array_equal(X_res, X)
    assert X_res is not X


@pytest.mark.parametrize("kwargs, error, match", [
    ({"targets": np.zeros((2, 3))}, ValueError, "targets has 3 features"),
    ({"targets": np.array([0, 400])}, ValueError, "row indices"),
    ({"intended_class": 7}, ValueError, "intended_class=7"),
    ({"image_shape": (3, 3)}, ValueError, "image_shape"),
    ({"budget": 1.5}, ValueError, "budget"),
    ({"eps": -1}, ValueError, "eps"),
    ({"estimator": LogisticRegression()}, TypeError, "skorch classifier"),
    # a frozen model that is not a net: the type, not "not fitted"
    ({"estimator": FrozenEstimator(LogisticRegression().fit([[0], [1]], [0, 1]))},
     TypeError, "skorch classifier.*got LogisticRegression"),
    ({"bounds": (1.0,)}, ValueError, "bounds"),
])
def test_bad_input(data, kwargs, error, match):
    X, y, targets = data
    params = {"targets": targets, "n_iter": 1}
    params.update(kwargs)
    with pytest.raises(error, match=match):
        _attack(**params).fit_resample(X, y)


def test_one_class_is_rejected(data):
    X, _, targets = data
    with pytest.raises(ValueError, match="class"):
        _attack(targets=targets).fit_resample(X, np.zeros(300, dtype=int))

"""GradientPoison: closed-form gradients, projection, effect, bad input, checks."""

import numpy as np
import pytest
from imblearn.utils.estimator_checks import (
    parametrize_with_checks as imb_parametrize_with_checks,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import log_loss
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from skpoison.attacks import GradientPoison, InfluencePoison, LabelFlip, _linear
from skpoison.subpopulations import ClusterMatch

from ._problems import central_difference, problem


@pytest.fixture(scope="module")
def fitted_finder():
    X, y = problem()
    return X, y, ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X)


def target_loss(finder, X, y, X_res, y_res):
    """The victim's (LogisticRegression) loss on the target rows, true labels."""
    mask = finder.membership(X)
    victim = LogisticRegression(max_iter=1000).fit(X_res, y_res)
    return log_loss(y[mask], victim.predict_proba(X[mask]), labels=[0, 1])


# ------------------------------------------------------- closed-form math
@pytest.mark.parametrize("K", [1, 3])
def test_inner_product_gradient_matches_finite_differences(K):
    rng = np.random.RandomState(K)
    n, d = 5, 3
    Z = rng.normal(size=(n, d))
    Y = rng.randint(0, 2 if K == 1 else K, size=n)
    W, b = rng.normal(size=(K, d)), rng.normal(size=K)
    G = rng.normal(size=(K, d + 1))
    _, grad = _linear.inner_product_and_grad(Z, Y, W, b, G)
    fd = central_difference(
        lambda Zc: _linear.inner_product_and_grad(Zc, Y, W, b, G)[0].sum(), Z)
    assert_allclose(grad, fd, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("K", [1, 3])
def test_parameter_gradient_and_hessian_match_finite_differences(K):
    rng = np.random.RandomState(10 + K)
    n, d = 7, 2
    Z = rng.normal(size=(n, d))
    Y = rng.randint(0, 2 if K == 1 else K, size=n)
    theta = rng.normal(size=(K, d + 1))
    lam = 0.3

    def loss(th):
        th = th.reshape(K, d + 1)
        return (_linear.cross_entropy(Z, Y, th[:, :d], th[:, d])
                + lam * np.sum(th[:, :d] ** 2) / 2)

    def grad(th):
        th = th.reshape(K, d + 1)
        g = _linear.param_gradient(Z, Y, th[:, :d], th[:, d])
        g[:, :d] += lam * th[:, :d]
        return g.ravel()

    flat = theta.ravel()
    fd_grad = central_difference(loss, flat)
    assert_allclose(grad(flat), fd_grad, rtol=1e-4, atol=1e-8)
    H = _linear.hessian(Z, theta[:, :d], theta[:, d], lam, jitter=0.0)
    fd_H = np.array([central_difference(lambda t, j=j: grad(t)[j], flat)
                     for j in range(flat.size)])
    assert_allclose(H, fd_H, rtol=1e-4, atol=1e-7)


def test_cholesky_is_scipys_and_refuses_what_it_cannot_factor():
    from scipy.linalg import cho_factor, cho_solve

    rng = np.random.RandomState(0)
    A = rng.normal(size=(7, 7))
    H = A @ A.T + 0.1 * np.eye(7)
    b = rng.normal(size=7)
    c = _linear.cholesky(H)
    assert_allclose(np.triu(c), np.triu(cho_factor(H)[0]), rtol=1e-12)
    assert_allclose(_linear.cholesky_solve(c, b), cho_solve(cho_factor(H), b),
                    rtol=1e-10)
    assert_allclose(H @ _linear.cholesky_solve(c, b), b, atol=1e-10)
    for bad in (H - 10 * np.eye(7) * np.abs(H).max(), np.where(H > 0, np.nan, H)):
        with pytest.raises(np.linalg.LinAlgError):
            _linear.cholesky(bad)


def test_continuous_mask_counts_distinct_values_as_numpy_unique():
    # one sort for all columns must agree with np.unique per column, NaNs
    # (one value, as np.unique counts them) and constant columns included
    rng = np.random.RandomState(0)
    attack = GradientPoison(None)
    for _ in range(200):
        X = rng.randint(0, rng.randint(1, 5), size=(rng.randint(1, 9), 6)).astype(float)
        X[rng.rand(*X.shape) < 0.2] = np.nan
        expected = [np.unique(X[:, j]).size > 2 for j in range(6)]
        assert_array_equal(attack._feature_mask(X), expected)


def test_objective_is_the_inner_product_of_parameter_gradients(fitted_finder):
    X, y, finder = fitted_finder
    attack = GradientPoison(FrozenEstimator(finder), n_iter=3, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    # recompute J at the returned poisons from scratch
    Z = (X - X.mean(0)) / X.std(0)
    model = attack.estimator_
    W, b = _linear.model_params(model)
    mask = finder.membership(X)
    g_t = _linear.param_gradient(Z[mask], y[mask], W, b)
    Zp = (X_res[attack.poison_mask_] - X.mean(0)) / X.std(0)
    g_p = _linear.param_gradient(Zp, y_res[attack.poison_mask_], W, b)
    assert attack.objective_.shape == (4,)
    assert_allclose(attack.objective_[-1], np.sum(g_p * g_t), rtol=1e-8)
    assert attack.objective_[-1] < attack.objective_[0]
    assert attack.n_iter_ == 3


# ----------------------------------------------------------- projection
def test_poisons_stay_in_box_bounds_and_mask():
    rng = np.random.RandomState(0)
    X, y = problem()
    onehot = (rng.rand(X.shape[0]) < 0.5).astype(float)
    X = np.c_[X, onehot]
    low = np.array([-np.inf, -0.5, -np.inf, -np.inf])
    high = np.array([np.inf, 2.0, np.inf, np.inf])
    attack = GradientPoison(ClusterMatch(n_clusters=4, target="smallest"),
                            eps=0.5, step_size=50.0, bounds=(low, high),
                            random_state=0)
    X_res, _ = attack.fit_resample(X, y)
    poisons = X_res[attack.poison_mask_]
    seeds = X[attack.sample_indices_]
    std = X.std(axis=0)
    assert_array_equal(attack.feature_mask_, [True, True, True, False])
    in_box = np.abs(poisons - seeds) <= 0.5 * std + 1e-12
    # the bounds win over the box for seeds outside them
    seed_in_bounds = (seeds >= low) & (seeds <= high)
    assert np.all(in_box | ~seed_in_bounds)
    assert np.all(in_box[:, [0, 2, 3]])
    assert np.all((poisons[:, 1] >= -0.5) & (poisons[:, 1] <= 2.0))
    assert_array_equal(poisons[:, 3], seeds[:, 3])  # masked: never moves
    assert not np.allclose(poisons[:, :3], seeds[:, :3])  # the others moved

    explicit = GradientPoison(ClusterMatch(n_clusters=4, target="smallest"),
                              eps=0.5, feature_mask=np.array([1, 0, 0, 0], bool),
                              random_state=0)
    X_res, _ = explicit.fit_resample(X, y)
    poisons, seeds = X_res[explicit.poison_mask_], X[explicit.sample_indices_]
    assert_array_equal(poisons[:, 1:], seeds[:, 1:])


@pytest.mark.parametrize("Attack", [GradientPoison, InfluencePoison])
def test_eps_zero_reproduces_label_flip(Attack, fitted_finder):
    X, y, _finder = fitted_finder
    Xo, yo = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=1.5,
                       random_state=3).fit_resample(X, y)
    attack = Attack(ClusterMatch(n_clusters=4, target="smallest"), alpha=1.5,
                    eps=0, n_iter=5, random_state=3)
    Xa, ya = attack.fit_resample(X, y)
    assert_array_equal(Xa, Xo)
    assert_array_equal(ya, yo)


@pytest.mark.parametrize("Attack", [GradientPoison, InfluencePoison])
def test_deterministic_caller_data_kept_alpha_zero(Attack, fitted_finder):
    X, y, finder = fitted_finder
    X0, y0 = X.copy(), y.copy()
    runs = [Attack(ClusterMatch(n_clusters=4, target="smallest"), n_iter=5,
                   random_state=1).fit_resample(X, y) for _ in range(2)]
    assert_array_equal(runs[0][0], runs[1][0])
    assert_array_equal(runs[0][1], runs[1][1])
    assert_array_equal(X, X0)
    assert_array_equal(y, y0)
    attack = Attack(FrozenEstimator(finder), alpha=0, n_iter=5, random_state=0)
    Xr, _yr = attack.fit_resample(X, y)
    assert_array_equal(Xr, X)
    assert attack.n_poison_ == 0 and attack.n_iter_ == 0


# --------------------------------------------------------------- effect
def test_gradient_poisons_raise_target_loss_over_label_flip(fitted_finder):
    X, y, finder = fitted_finder
    frozen = FrozenEstimator(finder)
    lf = LabelFlip(frozen, alpha=0.5, random_state=0).fit_resample(X, y)
    go = GradientPoison(frozen, alpha=0.5, eps=1.0, step_size=20.0,
                        random_state=0).fit_resample(X, y)
    loss_lf = target_loss(finder, X, y, *lf)
    loss_go = target_loss(finder, X, y, *go)
    assert loss_go > loss_lf + 0.05  # measured 0.44 vs 0.34


def test_sgd_surrogate_and_multiclass():
    X, y = problem()
    attack = GradientPoison(
        ClusterMatch(n_clusters=4, target="smallest"),
        estimator=SGDClassifier(loss="log_loss", alpha=1e-3), n_iter=5,
        random_state=0)
    attack.fit_resample(X, y)
    assert attack.objective_[-1] <= attack.objective_[0]
    y3 = np.digitize(X[:, 0] + X[:, 1], [2, 4])
    attack = GradientPoison(ClusterMatch(n_clusters=4, target="smallest"),
                            label="least_frequent", eps=1.0, step_size=20,
                            n_iter=10, random_state=0)
    attack.fit_resample(X, y3)
    assert attack.objective_[-1] < attack.objective_[0]


@pytest.mark.parametrize("Attack", [GradientPoison, InfluencePoison])
def test_integer_features_are_cast_to_float(Attack, fitted_finder):
    import pandas as pd

    X, y, _finder = fitted_finder
    X_int = np.round(X * 10).astype(np.int64)
    kwargs = {"alpha": 0.5, "eps": 1.0, "n_iter": 5, "random_state": 0}
    attack = Attack(ClusterMatch(n_clusters=4, target="smallest"), **kwargs)
    X_res, _ = attack.fit_resample(X_int, y)
    assert X_res.dtype == np.float64
    assert_array_equal(X_res[:len(X)], X_int)
    poisons = X_res[attack.poison_mask_]
    assert not np.allclose(poisons, np.round(poisons))  # not truncated
    # the same attack on float input gives the same poisons
    ref = Attack(ClusterMatch(n_clusters=4, target="smallest"), **kwargs)
    assert_allclose(ref.fit_resample(X_int.astype(float), y)[0], X_res)

    df = pd.DataFrame(X_int, columns=["a", "b", "c"]).assign(
        d=np.linspace(0, 1, len(X)))
    df0 = df.copy()
    df_res, _ = Attack(ClusterMatch(n_clusters=4, target="smallest"),
                       **kwargs).fit_resample(df, y)
    assert (df_res.dtypes == np.float64).all()
    assert not np.allclose(df_res["a"], np.round(df_res["a"]))
    pd.testing.assert_frame_equal(df, df0)  # the caller's frame is unchanged


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize("Attack", [GradientPoison, InfluencePoison])
def test_bad_input(Attack, fitted_finder):
    X, y, finder = fitted_finder
    frozen = FrozenEstimator(finder)
    for estimator in [KNeighborsClassifier(),
                      SGDClassifier(loss="modified_huber")]:
        with pytest.raises(TypeError, match="estimator"):
            Attack(frozen, estimator=estimator).fit_resample(X, y)
    with pytest.raises(ValueError, match="'estimator' parameter"):
        Attack(frozen, estimator=LinearSVC()).fit_resample(X, y)
    with pytest.raises(ValueError, match="'eps' parameter"):
        Attack(frozen, eps=-0.1).fit_resample(X, y)
    with pytest.raises(ValueError, match="'step_size' parameter"):
        Attack(frozen, step_size=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="'n_iter' parameter"):
        Attack(frozen, n_iter=-1).fit_resample(X, y)
    with pytest.raises(ValueError, match="feature_mask"):
        Attack(frozen, feature_mask=np.ones(2, bool)).fit_resample(X, y)
    with pytest.raises(ValueError, match="bounds"):
        Attack(frozen, bounds=(0, 1, 2)).fit_resample(X, y)


# ------------------------------------------------------- common checks
EXPECTED_FAILED = {
    "check_samplers_pandas_sparse": (
        "Design (as LabelFlip): attacks append dense feature rows and reject "
        "sparse data with a clear TypeError."
    ),
}
ESTIMATORS = [
    GradientPoison(ClusterMatch(n_clusters=3), label="least_frequent", n_iter=3,
                   random_state=0),
    InfluencePoison(ClusterMatch(n_clusters=3), label="least_frequent", n_iter=3,
                    refit_every=2, random_state=0),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda e: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@imb_parametrize_with_checks(ESTIMATORS,
                             expected_failed_checks=lambda e: EXPECTED_FAILED)
def test_imblearn_compatible(estimator, check):
    check(estimator)


def test_progress_bar_does_not_change_the_result(capsys):
    import numpy as np

    from skpoison.attacks import GradientPoison, InfluencePoison
    from skpoison.subpopulations import ClusterMatch

    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(4, 1, (20, 2))])
    y = np.r_[np.zeros(40, int), np.ones(20, int)]
    for cls in (GradientPoison, InfluencePoison):
        kw = dict(eps=0.5, n_iter=5, random_state=0)
        quiet = cls(ClusterMatch(n_clusters=2, target="smallest"), **kw)
        loud = cls(ClusterMatch(n_clusters=2, target="smallest"), progress=True, **kw)
        np.testing.assert_array_equal(quiet.fit_resample(X, y)[0],
                                      loud.fit_resample(X, y)[0])
        assert cls.__name__ in capsys.readouterr().err

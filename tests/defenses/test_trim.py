"""Tests for skpoison.defenses.TRIM."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from skpoison.attacks import LabelFlip
from skpoison.defenses import TRIM
from skpoison.subpopulations import ClusterMatch


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # Tiny problems: BLAS threads only spin against each other on a loaded
    # 2-core machine (an lbfgs fit of 100 rows goes from ~3 ms to ~60 ms).
    with threadpool_limits(1):
        yield

N_PER_CLASS = 100
N_PLANTED = 5


def _planted(seed=0, n=N_PER_CLASS, k=N_PLANTED):
    """Two far-apart classes; the last k rows lie deep in class 1, labelled 0."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal(-3, 1, (n, 2)), rng.normal(3, 1, (n, 2)),
                   rng.normal(3, 0.3, (k, 2))])
    y = np.concatenate([np.zeros(n, int), np.ones(n, int), np.zeros(k, int)])
    return X, y


def _clean_test(seed=1, n=300):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal(-3, 1, (n, 2)), rng.normal(3, 1, (n, 2))])
    y = np.concatenate([np.zeros(n, int), np.ones(n, int)])
    return X, y


@pytest.fixture(scope="module")
def planted():
    return _planted()


# ----------------------------------------------------------------- known answer
def test_trim_removes_exactly_the_planted_outliers(planted):
    X, y = planted
    planted_idx = np.arange(2 * N_PER_CLASS, 2 * N_PER_CLASS + N_PLANTED)
    trim = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(X, y)
    assert trim.support_mask_.dtype == bool
    assert trim.support_mask_.shape == (X.shape[0],)
    np.testing.assert_array_equal(np.flatnonzero(~trim.support_mask_), planted_idx)
    assert trim.converged_
    assert 1 <= trim.n_iter_ <= trim.max_iter

    X_test, y_test = _clean_test()
    undefended = LogisticRegression().fit(X, y)
    assert trim.score(X_test, y_test) >= undefended.score(X_test, y_test)
    assert trim.score(X_test, y_test) > 0.99


def test_trim_beats_undefended_on_damaging_outliers():
    # Planted rows with high leverage far out in class 1 drag the undefended
    # boundary; TRIM drops them and is strictly better on clean data.
    rng = np.random.RandomState(0)
    n, k = 100, 15
    X = np.vstack([rng.normal(-1.5, 1, (n, 2)), rng.normal(1.5, 1, (n, 2)),
                   rng.normal(8, 0.3, (k, 2))])
    y = np.concatenate([np.zeros(n, int), np.ones(n, int), np.zeros(k, int)])
    trim = TRIM(LogisticRegression(), n_remove=k).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(~trim.support_mask_),
                                  np.arange(2 * n, 2 * n + k))
    rng = np.random.RandomState(1)
    X_test = np.vstack([rng.normal(-1.5, 1, (500, 2)), rng.normal(1.5, 1, (500, 2))])
    y_test = np.repeat([0, 1], 500)
    undefended = LogisticRegression().fit(X, y).score(X_test, y_test)
    assert trim.score(X_test, y_test) > undefended + 0.05


# ------------------------------------------------------------------ n_remove
def test_n_remove_fraction(planted):
    X, y = planted
    trim = TRIM(LogisticRegression(), n_remove=0.05).fit(X, y)
    n_expected = int(0.05 * X.shape[0])  # 10 of 205
    assert n_expected == 10
    assert (~trim.support_mask_).sum() == n_expected
    # the planted outliers are among the removed rows
    assert not trim.support_mask_[-N_PLANTED:].any()


def test_n_remove_zero_converges_after_one_round(planted):
    X, y = planted
    trim = TRIM(LogisticRegression(), n_remove=0).fit(X, y)
    assert trim.n_iter_ == 1
    assert trim.converged_
    assert trim.support_mask_.all()
    direct = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(trim.estimator_.coef_, direct.coef_)
    np.testing.assert_allclose(trim.estimator_.intercept_, direct.intercept_)


@pytest.mark.parametrize("warm_start", [False, True])
def test_max_iter_one_final_fit_on_support(planted, warm_start):
    X, y = planted
    trim = TRIM(LogisticRegression(), n_remove=8, max_iter=1,
                warm_start=warm_start).fit(X, y)
    assert trim.n_iter_ == 1
    assert not trim.converged_
    assert (~trim.support_mask_).sum() == 8
    direct = LogisticRegression().fit(X[trim.support_mask_], y[trim.support_mask_])
    on_all = LogisticRegression().fit(X, y)
    got = np.r_[trim.estimator_.coef_.ravel(), trim.estimator_.intercept_]
    want = np.r_[direct.coef_.ravel(), direct.intercept_]
    first_round = np.r_[on_all.coef_.ravel(), on_all.intercept_]
    if not warm_start:
        np.testing.assert_allclose(got, want)
    else:
        # warm-started from the round-1 model: the same optimum up to lbfgs's tol
        np.testing.assert_allclose(got, want, rtol=1e-2)
    # trained on support_mask_, not left at the first round's fit on all rows
    assert np.linalg.norm(got - want) < 0.1 * np.linalg.norm(first_round - want)


def test_n_iter_and_converged():
    # On this noise data the kept set settles in round 2.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 2))
    y = rng.randint(0, 2, 60)
    got = {}
    for m in (1, 2, 3, 10):
        trim = TRIM(LogisticRegression(), n_remove=20, max_iter=m,
                    warm_start=False).fit(X, y)
        got[m] = trim
        assert (~trim.support_mask_).sum() == 20
        # converged or not, estimator_ is the model of the kept rows
        direct = LogisticRegression().fit(X[trim.support_mask_], y[trim.support_mask_])
        np.testing.assert_allclose(trim.estimator_.coef_, direct.coef_)
    assert (got[1].n_iter_, got[1].converged_) == (1, False)
    for m in (2, 3, 10):
        assert (got[m].n_iter_, got[m].converged_) == (2, True)
        np.testing.assert_array_equal(got[m].support_mask_, got[2].support_mask_)
    # round 2 kept what round 1 chose: max_iter=1 just could not know it yet
    np.testing.assert_array_equal(got[1].support_mask_, got[2].support_mask_)


@pytest.mark.parametrize("n_remove", [204, 205, 300, 0.999])
def test_n_remove_too_large(planted, n_remove):
    X, y = planted
    with pytest.raises(ValueError, match="n_remove"):
        TRIM(LogisticRegression(), n_remove=n_remove).fit(X, y)


@pytest.mark.parametrize("n_remove", [-1, 1.0, 0.0, 1.5, "a"])
def test_n_remove_invalid_type_or_range(planted, n_remove):
    X, y = planted
    with pytest.raises(ValueError, match="n_remove"):
        TRIM(LogisticRegression(), n_remove=n_remove).fit(X, y)


def test_one_class_y_raises(planted):
    X, _ = planted
    with pytest.raises(ValueError, match=r"two classes in y; got 1 class: \[1\]"):
        TRIM(LogisticRegression(), n_remove=2).fit(X, np.ones(X.shape[0], int))


def test_mismatched_lengths_raise(planted):
    X, y = planted
    with pytest.raises(ValueError):
        TRIM(LogisticRegression(), n_remove=2).fit(X, y[:-1])


def test_max_iter_zero_raises(planted):
    X, y = planted
    with pytest.raises(ValueError, match="max_iter"):
        TRIM(LogisticRegression(), max_iter=0).fit(X, y)


# ----------------------------------------------- the paper's failure mode (§9.1)
def test_trim_fails_against_label_flip_alpha_2():
    """Poisons outnumber the clean subpopulation 2:1, so the model fits the
    poison label there and TRIM removes the clean target rows instead."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal([-4, 0], 0.7, (100, 2)),
                   rng.normal([4, 0], 0.7, (100, 2)),
                   rng.normal([1, 6], 0.2, (10, 2))])  # the subpopulation, class 1
    y = np.concatenate([np.zeros(100, int), np.ones(110, int)])
    attack = LabelFlip(ClusterMatch(n_clusters=3, target="smallest", n_init=5),
                       alpha=2, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    target = attack.subpopulation_.membership(X)
    np.testing.assert_array_equal(target, np.arange(210) >= 200)
    assert attack.n_poison_ == 20
    assert (y_res[attack.poison_mask_] == 0).all()

    trim = TRIM(LogisticRegression(), n_remove=attack.n_poison_,
                random_state=0).fit(X_res, y_res)
    removed = ~trim.support_mask_
    poison_removed = removed[attack.poison_mask_].mean()
    clean_target_removed = removed[:210][target].sum()
    assert poison_removed < 1
    assert clean_target_removed > 0
    # here, provably: every clean target row goes and no poison does
    assert clean_target_removed == 10
    assert poison_removed == 0
    # and the defended model predicts the poison label on the subpopulation
    assert (trim.predict(X[target]) == 0).all()


# ------------------------------------------------------------------ warm_start
def test_warm_start_set_on_clone_not_on_user_estimator(planted):
    X, y = planted
    user = LogisticRegression(warm_start=False)
    params_before = user.get_params()
    trim = TRIM(user, n_remove=N_PLANTED).fit(X, y)
    assert trim.estimator_ is not user
    assert trim.estimator_.get_params()["warm_start"] is True
    assert user.get_params() == params_before
    assert not hasattr(user, "coef_")
    assert trim.estimator.get_params()["warm_start"] is False

    cold = TRIM(LogisticRegression(warm_start=False), n_remove=N_PLANTED,
                warm_start=False).fit(X, y)
    assert cold.estimator_.get_params()["warm_start"] is False
    np.testing.assert_array_equal(cold.support_mask_, trim.support_mask_)
    X_test, _ = _clean_test()
    np.testing.assert_array_equal(cold.predict(X_test), trim.predict(X_test))
    np.testing.assert_allclose(cold.predict_proba(X_test), trim.predict_proba(X_test),
                               atol=1e-3)


def test_warm_start_noop_without_parameter(planted):
    X, y = planted
    trim = TRIM(sk_make_pipeline(StandardScaler(), LogisticRegression()),
                n_remove=N_PLANTED).fit(X, y)
    # a Pipeline has no warm_start parameter: nothing is set on it
    assert "warm_start" not in trim.estimator_.get_params(deep=False)
    assert trim.estimator_[-1].get_params()["warm_start"] is False


# --------------------------------------------------------------- input kinds
def test_dataframe_rows_selected_by_position(planted):
    X, y = planted
    rng = np.random.RandomState(0)
    # a shuffled, non-default index: label-based selection would pick wrong rows
    index = rng.permutation(X.shape[0]) + 1000
    X_df = pd.DataFrame(X, columns=["a", "b"], index=index)
    y_s = pd.Series(y, index=index)
    X_df_copy, y_copy = X_df.copy(), y_s.copy()
    trim = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(X_df, y_s)
    ref = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(X, y)
    np.testing.assert_array_equal(trim.support_mask_, ref.support_mask_)
    np.testing.assert_allclose(trim.estimator_.coef_, ref.estimator_.coef_)
    assert list(trim.feature_names_in_) == ["a", "b"]
    assert list(trim.estimator_.feature_names_in_) == ["a", "b"]
    assert trim.n_features_in_ == 2
    pd.testing.assert_frame_equal(X_df, X_df_copy)
    pd.testing.assert_series_equal(y_s, y_copy)
    np.testing.assert_array_equal(trim.predict(X_df), ref.predict(X))


def test_sklearn_pipeline_estimator(planted):
    X, y = planted
    pipe = sk_make_pipeline(StandardScaler(), LogisticRegression())
    trim = TRIM(pipe, n_remove=N_PLANTED).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(~trim.support_mask_),
                                  np.arange(200, 205))
    direct = clone(pipe).fit(X[trim.support_mask_], y[trim.support_mask_])
    X_test, _ = _clean_test()
    np.testing.assert_allclose(trim.predict_proba(X_test), direct.predict_proba(X_test),
                               rtol=1e-6)
    assert not hasattr(pipe[-1], "coef_")


def test_caller_arrays_unchanged(planted):
    X, y = planted
    X_copy, y_copy = X.copy(), y.copy()
    trim = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(X, y)
    trim.predict(X)
    trim.predict_proba(X)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_skorch_net(planted):
    from skpoison.nets import make_mlp_classifier

    X, y = planted
    X = X.astype(np.float32)

    def fit():
        net = make_mlp_classifier((10,), max_epochs=10, random_state=0)
        return TRIM(net, n_remove=N_PLANTED, max_iter=3).fit(X, y)

    a, b = fit(), fit()
    np.testing.assert_array_equal(np.flatnonzero(~a.support_mask_),
                                  np.arange(200, 205))
    assert a.converged_
    np.testing.assert_array_equal(a.support_mask_, b.support_mask_)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=0, atol=0)
    np.testing.assert_array_equal(a.classes_, [0, 1])
    assert a.predict(X).shape == (X.shape[0],)
    assert a.estimator_.get_params()["warm_start"] is True
    assert 1 <= a.n_iter_ <= 3


def test_ensemble_refit_each_round_not_warm_started(planted):
    # warm_start on a forest only adds trees: a warm refit with the same
    # n_estimators would keep round 1's forest, trained on all rows.
    X, y = planted
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
    trim = TRIM(forest, n_remove=20, max_iter=1).fit(X, y)
    assert trim.estimator_.get_params()["warm_start"] is False
    assert not trim.converged_
    direct = clone(forest).fit(X[trim.support_mask_], y[trim.support_mask_])
    X_test, _ = _clean_test()
    np.testing.assert_array_equal(trim.predict_proba(X_test),
                                  direct.predict_proba(X_test))


def test_random_state_seeds_unseeded_estimator(planted):
    X, y = planted
    X_test, _ = _clean_test()
    forest = RandomForestClassifier(n_estimators=5, max_depth=3)

    def fit(random_state):
        return TRIM(forest, n_remove=N_PLANTED, max_iter=2,
                    random_state=random_state).fit(X, y)

    a, b, c = fit(0), fit(0), fit(1)
    seed = a.estimator_.get_params()["random_state"]
    assert seed is not None
    assert b.estimator_.get_params()["random_state"] == seed
    assert c.estimator_.get_params()["random_state"] != seed
    assert forest.get_params()["random_state"] is None
    np.testing.assert_array_equal(a.support_mask_, b.support_mask_)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    # a seeded estimator is left with its own seed
    seeded = TRIM(RandomForestClassifier(n_estimators=5, random_state=7),
                  n_remove=N_PLANTED, random_state=0).fit(X, y)
    assert seeded.estimator_.get_params()["random_state"] == 7
    # no random_state: the clone stays unseeded
    unseeded = fit(None)
    assert unseeded.estimator_.get_params()["random_state"] is None


# ----------------------------------------------------------------- delegation
def test_delegation_to_estimator_(planted):
    X, y = planted
    X_test, y_test = _clean_test()
    trim = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(X, y)
    est = trim.estimator_
    np.testing.assert_array_equal(trim.classes_, est.classes_)
    np.testing.assert_array_equal(trim.predict(X_test), est.predict(X_test))
    np.testing.assert_array_equal(trim.predict_proba(X_test), est.predict_proba(X_test))
    np.testing.assert_array_equal(trim.predict_log_proba(X_test),
                                  est.predict_log_proba(X_test))
    np.testing.assert_array_equal(trim.decision_function(X_test),
                                  est.decision_function(X_test))
    assert trim.score(X_test, y_test) == est.score(X_test, y_test)


def test_string_labels(planted):
    X, y = planted
    labels = np.array(["neg", "pos"])[y]
    trim = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(X, labels)
    np.testing.assert_array_equal(np.flatnonzero(~trim.support_mask_),
                                  np.arange(200, 205))
    np.testing.assert_array_equal(trim.classes_, ["neg", "pos"])


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")
@pytest.mark.parametrize("fmt", ["coo", "dia", "bsr", "csr", "csc", "lil"])
def test_sparse_input_any_format(planted, fmt):
    import scipy.sparse as sp

    X, y = planted
    X_sparse = sp.coo_matrix(X).asformat(fmt)
    trim = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(X_sparse, y)
    assert X_sparse.format == fmt  # the caller's matrix is not converted in place
    np.testing.assert_array_equal(np.flatnonzero(~trim.support_mask_),
                                  np.arange(200, 205))
    dense = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(X, y)
    np.testing.assert_allclose(trim.estimator_.coef_, dense.estimator_.coef_,
                               rtol=1e-5)


class _ArrayLike:
    """An array-like with ``__array__`` only (no indexing), as in sklearn's checks."""

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)


def test_array_like_without_indexing(planted):
    X, y = planted
    trim = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(_ArrayLike(X), y)
    np.testing.assert_array_equal(np.flatnonzero(~trim.support_mask_),
                                  np.arange(200, 205))
    lst = TRIM(LogisticRegression(), n_remove=N_PLANTED).fit(X.tolist(), y.tolist())
    np.testing.assert_array_equal(lst.support_mask_, trim.support_mask_)


def test_not_fitted_raises():
    from sklearn.exceptions import NotFittedError

    trim = TRIM(LogisticRegression())
    with pytest.raises(NotFittedError):
        trim.predict(np.zeros((1, 2)))
    with pytest.raises(NotFittedError):
        trim.classes_


def test_estimator_without_predict_proba(planted):
    X, y = planted
    trim = TRIM(LinearSVC(), n_remove=N_PLANTED)
    assert not hasattr(trim, "predict_proba")
    assert hasattr(trim, "decision_function")
    with pytest.raises(AttributeError):
        trim.predict_proba(X)
    with pytest.raises(ValueError, match="estimator.*predict_proba"):
        trim.fit(X, y)
    assert not hasattr(trim, "estimator_")


def test_trim_stops_before_removing_a_whole_class():
    # 6 rows of class 0 and 30 of class 1; the class-0 rows sit inside class 1,
    # so a linear model scores all of them worst. Removing n_remove=6 rows would
    # drop class 0 entirely: TRIM must stop, warn, and keep both classes.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 0.1, (6, 2)), rng.normal(0, 1.0, (30, 2))])
    y = np.array([0] * 6 + [1] * 30)
    with pytest.warns(UserWarning, match="drop every row of a class"):
        trim = TRIM(LogisticRegression(), n_remove=6).fit(X, y)
    assert set(np.unique(y[trim.support_mask_])) == {0, 1}
    assert trim.support_mask_.all()  # the first round's kept set: everything
    assert not trim.converged_


def test_trim_seeds_nested_estimators():
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    est = make_pipeline(StandardScaler(), MLPClassifier((5,), max_iter=50))
    a = TRIM(est, n_remove=3, random_state=1).fit(X, y)
    b = TRIM(est, n_remove=3, random_state=1).fit(X, y)
    assert a.estimator_[-1].random_state is not None
    assert est[-1].random_state is None  # the caller's estimator untouched
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))

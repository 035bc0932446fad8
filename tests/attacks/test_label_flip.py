"""LabelFlip: the attack protocol, label rules, known answers, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skpoison.attacks import GradientPoison, InfluencePoison, LabelFlip
from skpoison.subpopulations import ClusterMatch, FeatureMatch

CENTERS = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 40.0], [40.0, 40.0]])


@pytest.fixture(autouse=True)
def _one_thread():
    # k-means' OpenMP threads oversubscribe a small CI machine
    with threadpool_limits(1):
        yield


def blobs(sizes, seed=0, std=0.5, centers=CENTERS):
    """Rows of well-separated Gaussian blobs and the blob index of each row."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal(centers[i], std, (n, 2)) for i, n in enumerate(sizes)])
    blob = np.repeat(np.arange(len(sizes)), sizes)
    return X, blob


def attacker_blob(attack, X_src):
    """Mask of the attacker's rows in the attack's target subpopulation."""
    return np.asarray(attack.subpopulation_.membership(X_src), dtype=bool)


# ------------------------------------------------------------------ protocol
def test_protocol_rows_mask_indices_and_counts():
    X, blob = blobs([20, 30, 25, 35])
    y = blob % 2
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=1.5,
                       random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    n = X.shape[0]
    assert attack.n_subpopulation_ == 20
    assert attack.n_poison_ == int(1.5 * 20) == 30
    assert X_res.shape == (n + 30, 2) and y_res.shape == (n + 30,)
    # original rows unchanged and in order, then the poisons
    assert_array_equal(X_res[:n], X)
    assert_array_equal(y_res[:n], y)
    assert_array_equal(attack.poison_mask_, np.r_[np.zeros(n, bool), np.ones(30, bool)])
    # poisons are drawn from the target subpopulation, features kept as is
    idx = attack.sample_indices_
    assert idx.shape == (30,) and np.issubdtype(idx.dtype, np.integer)
    assert np.all((idx >= 0) & (idx < n))
    assert np.all(blob[idx] == 0)
    assert attacker_blob(attack, X)[idx].all()
    assert_array_equal(X_res[n:], X[idx])
    assert_array_equal(y_res[n:], 1 - y[idx])
    assert attack.sampling_strategy_ == {0: 0, 1: 30}
    assert_array_equal(attack.classes_, [0, 1])
    # the given finder is cloned, not fitted in place
    assert not hasattr(attack.subpopulation, "kmeans_")
    assert hasattr(attack.subpopulation_, "kmeans_")


@pytest.mark.parametrize("alpha, expected", [(0.5, 10), (0.33, 6), (1, 20), (2, 40)])
def test_n_poison_is_int_of_alpha_times_n_sub(alpha, expected):
    X, blob = blobs([20, 30, 25, 35])
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=alpha,
                       random_state=0)
    X_res, _ = attack.fit_resample(X, blob % 2)
    assert attack.n_poison_ == expected
    assert X_res.shape[0] == X.shape[0] + expected
    assert attack.poison_mask_.sum() == expected


def test_fit_keeps_the_same_attributes():
    X, blob = blobs([20, 30, 25, 35])
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), random_state=0)
    assert attack.fit(X, blob % 2) is attack
    resampled = clone(attack)
    resampled.fit_resample(X, blob % 2)
    assert_array_equal(attack.sample_indices_, resampled.sample_indices_)
    assert attack.n_poison_ == resampled.n_poison_ == 20


def test_alpha_zero_adds_nothing_without_warning():
    X, blob = blobs([20, 30, 25, 35])
    attack = LabelFlip(ClusterMatch(n_clusters=4), alpha=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X_res, y_res = attack.fit_resample(X, blob % 2)
    assert attack.n_poison_ == 0
    assert_array_equal(X_res, X)
    assert_array_equal(y_res, blob % 2)
    assert not attack.poison_mask_.any()
    assert attack.sample_indices_.shape == (0,)


def test_positive_alpha_rounding_to_zero_warns():
    X, blob = blobs([20, 30, 25, 35])
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=0.01,
                       random_state=0)
    with pytest.warns(UserWarning, match="0 poison rows"):
        X_res, _ = attack.fit_resample(X, blob % 2)
    assert attack.n_poison_ == 0 and X_res.shape == X.shape


def test_count_on_train_or_aux():
    X, blob = blobs([20, 40, 40, 40], seed=0)
    X_aux, blob_aux = blobs([8, 30, 30, 30], seed=1)
    aux = (X_aux, blob_aux % 2)
    finder = ClusterMatch(n_clusters=4, target="smallest")
    on_train = LabelFlip(finder, alpha=1, aux=aux, count_on="train", random_state=0)
    on_train.fit_resample(X, blob % 2)
    assert on_train.n_subpopulation_ == 20 and on_train.n_poison_ == 20
    on_aux = LabelFlip(finder, alpha=1, aux=aux, count_on="aux", random_state=0)
    on_aux.fit_resample(X, blob % 2)
    assert on_aux.n_subpopulation_ == 8 and on_aux.n_poison_ == 8


def test_aux_fits_the_finder_and_supplies_the_poisons():
    X, blob = blobs([20, 40, 40, 40], seed=0)
    X_aux, blob_aux = blobs([8, 30, 30, 30], seed=1)
    y_aux = blob_aux % 2
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=2,
                       aux=(X_aux, y_aux), random_state=0)
    X_res, y_res = attack.fit_resample(X, blob % 2)
    n = X.shape[0]
    # the finder saw the aux rows, not the training rows
    assert attack.subpopulation_.n_features_in_ == 2
    assert sorted(attack.subpopulation_.sizes_.tolist()) == [8, 30, 30, 30]
    idx = attack.sample_indices_
    assert np.all((idx >= 0) & (idx < X_aux.shape[0]))
    assert np.all(blob_aux[idx] == 0)
    assert_array_equal(X_res[n:], X_aux[idx])
    assert_array_equal(y_res[n:], 1 - y_aux[idx])
    assert_array_equal(X_res[:n], X)


def test_frozen_finder_is_used_as_is():
    X, blob = blobs([20, 40, 40, 40], seed=0)
    X_aux, blob_aux = blobs([8, 30, 30, 30], seed=1)
    fitted = ClusterMatch(n_clusters=4, random_state=0).fit(X_aux)
    # target blob 2, which is neither the largest nor the smallest rule's choice
    target = int(fitted.predict(X_aux[blob_aux == 2][:1])[0])
    finder = fitted.retarget(target)
    attack = LabelFlip(FrozenEstimator(finder), alpha=1, aux=(X_aux, blob_aux % 2),
                       random_state=0)
    attack.fit_resample(X, blob % 2)
    assert attack.subpopulation_.kmeans_ is fitted.kmeans_  # not refitted
    assert attack.subpopulation_.target_ == target
    assert np.all(blob_aux[attack.sample_indices_] == 2)
    assert attack.n_subpopulation_ == 40  # blob 2 in the training rows
    # without aux, the frozen finder still applies to the received rows
    attack = LabelFlip(FrozenEstimator(finder), alpha=1, random_state=0)
    attack.fit_resample(X, blob % 2)
    assert attack.subpopulation_.kmeans_ is fitted.kmeans_
    assert np.all(blob[attack.sample_indices_] == 2)


def test_frozen_unfitted_finder_is_an_error():
    X, blob = blobs([20, 40, 40, 40])
    attack = LabelFlip(FrozenEstimator(ClusterMatch(n_clusters=4)))
    with pytest.raises(ValueError, match="not fitted"):
        attack.fit_resample(X, blob % 2)


def test_unseeded_finder_is_seeded_from_random_state():
    X = np.random.RandomState(0).normal(size=(300, 3))  # no obvious clusters
    y = (X[:, 0] > 0).astype(int)
    finder = ClusterMatch(n_clusters=8, target="random")

    def run(seed):
        attack = LabelFlip(finder, alpha=1, random_state=seed)
        X_res, y_res = attack.fit_resample(X, y)
        return attack, X_res, y_res

    a, Xa, ya = run(3)
    b, Xb, yb = run(3)
    assert_array_equal(Xa, Xb)
    assert_array_equal(ya, yb)
    assert_array_equal(a.sample_indices_, b.sample_indices_)
    assert a.subpopulation_.target_ == b.subpopulation_.target_
    assert_array_equal(a.subpopulation_.kmeans_.cluster_centers_,
                       b.subpopulation_.kmeans_.cluster_centers_)
    assert isinstance(a.subpopulation_.random_state, int)
    assert finder.random_state is None  # the parameter is left alone
    # and the seed matters
    outcomes = {tuple(run(seed)[0].sample_indices_[:5]) for seed in range(4)}
    assert len(outcomes) > 1


# --------------------------------------------------------------- label rules
def test_flip_binary_gives_the_other_class_per_row():
    X, blob = blobs([30, 40, 40, 40])
    y = blob % 2
    y[blob == 0] = np.arange(30) % 2  # a mixed target subpopulation
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=2,
                       random_state=0)
    _, y_res = attack.fit_resample(X, y)
    poison_y = y_res[attack.poison_mask_]
    assert_array_equal(poison_y, 1 - y[attack.sample_indices_])
    assert set(poison_y.tolist()) == {0, 1}


def test_flip_string_labels():
    X, blob = blobs([30, 40, 40, 40])
    y = np.where(blob % 2 == 0, "a", "b")
    y[blob == 0] = np.where(np.arange(30) % 3 == 0, "b", "a")
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=1,
                       random_state=0)
    _, y_res = attack.fit_resample(X, y)
    other = {"a": "b", "b": "a"}
    expected = [other[v] for v in y[attack.sample_indices_]]
    assert_array_equal(y_res[attack.poison_mask_], expected)
    assert_array_equal(y_res[: len(y)], y)
    assert y_res.dtype.kind == "U"


def test_least_frequent_known_answer():
    X, blob = blobs([20, 40, 40, 40])
    y = np.array([0, 1, 2, 1])[blob]
    y[blob == 0] = np.repeat([0, 1, 2], [12, 3, 5])  # 2 is not least frequent: 1 is
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"),
                       label="least_frequent", random_state=0)
    _, y_res = attack.fit_resample(X, y)
    assert_array_equal(y_res[attack.poison_mask_], np.full(20, 1))
    assert attack.sampling_strategy_ == {0: 0, 1: 20, 2: 0}


def test_least_frequent_may_be_a_class_absent_from_the_subpopulation():
    # the authors' argmin over the one-hot mean: a zero count is the least
    X, blob = blobs([20, 40, 40, 40])
    y = np.array([0, 1, 0, 2])[blob]
    y[blob == 0] = np.repeat([0, 1], [15, 5])  # no 2 in the target
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"),
                       label="least_frequent", random_state=0)
    _, y_res = attack.fit_resample(X, y)
    assert_array_equal(y_res[attack.poison_mask_], np.full(20, 2))


def _least_confident_data():
    # On a line: the target blob of class 0 at x=0, class 1 at x=10, class 2
    # at x=40. A linear model is least confident about class 2 near x=0.
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [40.0, 0.0]])
    X, blob = blobs([10, 30, 30], centers=centers)
    return X, blob.copy()


def test_least_confident_refits_an_unfitted_estimator():
    X, y = _least_confident_data()
    attack = LabelFlip(ClusterMatch(n_clusters=3, target="smallest"),
                       label="least_confident", estimator=LogisticRegression(),
                       random_state=0)
    _, y_res = attack.fit_resample(X, y)
    assert_array_equal(y_res[attack.poison_mask_], np.full(10, 2))
    # least_frequent would pick 1 here (0 rows of 1 and of 2: ties -> first)
    attack.set_params(label="least_frequent").fit_resample(X, y)
    assert attack.sampling_strategy_ == {0: 0, 1: 10, 2: 0}


def test_least_confident_uses_a_frozen_estimator_as_is():
    X, y = _least_confident_data()
    # the attacker's model swaps the roles of classes 1 and 2
    swapped = np.array([0, 2, 1])[y]
    model = LogisticRegression().fit(X, swapped)
    coef = model.coef_.copy()
    attack = LabelFlip(ClusterMatch(n_clusters=3, target="smallest"),
                       label="least_confident", estimator=FrozenEstimator(model),
                       random_state=0)
    _, y_res = attack.fit_resample(X, y)
    assert_array_equal(y_res[attack.poison_mask_], np.full(10, 1))
    assert_array_equal(model.coef_, coef)  # not refitted
    # fitted but not frozen: used as is for one more release, with a warning
    legacy = LabelFlip(ClusterMatch(n_clusters=3, target="smallest"),
                       label="least_confident", estimator=model, random_state=0)
    with pytest.warns(FutureWarning, match="FrozenEstimator"):
        _, y_legacy = legacy.fit_resample(X, y)
    assert_array_equal(y_legacy, y_res)


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_default_label_works_on_any_task(n_classes):
    # label="auto": "flip" on binary tasks, "least_frequent" on multiclass ones
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = np.arange(300) % n_classes
    attack = LabelFlip(ClusterMatch(n_clusters=3, random_state=0), random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    poisons = y_res[attack.poison_mask_]
    assert poisons.size > 0
    if n_classes == 2:
        flipped = LabelFlip(ClusterMatch(n_clusters=3, random_state=0),
                            label="flip", random_state=0).fit_resample(X, y)[1]
        assert_array_equal(y_res, flipped)
    else:
        frequent = LabelFlip(ClusterMatch(n_clusters=3, random_state=0),
                             label="least_frequent", random_state=0)
        assert_array_equal(y_res, frequent.fit_resample(X, y)[1])
        assert np.unique(poisons).size == 1


def test_least_confident_needs_an_estimator():
    X, y = _least_confident_data()
    attack = LabelFlip(ClusterMatch(n_clusters=3), label="least_confident")
    with pytest.raises(ValueError, match="estimator"):
        attack.fit_resample(X, y)


@pytest.mark.parametrize("Attack", [GradientPoison, InfluencePoison])
def test_optimised_attacks_least_confident_uses_the_default_surrogate(Attack):
    # estimator=None is their default LogisticRegression(max_iter=1000) (it
    # raised "needs an estimator", as LabelFlip rightly does)
    X, y = _least_confident_data()
    finder = ClusterMatch(n_clusters=3, target="smallest")
    default = Attack(finder, label="least_confident", n_iter=2, random_state=0)
    explicit = Attack(finder, label="least_confident", n_iter=2, random_state=0,
                      estimator=LogisticRegression(max_iter=1000))
    X_d, y_d = default.fit_resample(X, y)
    X_e, y_e = explicit.fit_resample(X, y)
    assert_array_equal(y_d[default.poison_mask_], np.full(10, 2))
    assert_array_equal(y_d, y_e)
    assert_array_equal(X_d, X_e)


@pytest.mark.parametrize("labels, fixed",
                         [((0, 1, 2), 2), (("cat", "dog", "eel"), "dog")])
def test_fixed_label(labels, fixed):
    X, blob = blobs([20, 40, 40, 40])
    y = np.array(labels)[np.array([0, 1, 0, 2])[blob]]
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), label=fixed,
                       random_state=0)
    _, y_res = attack.fit_resample(X, y)
    assert_array_equal(y_res[attack.poison_mask_], np.full(20, fixed))


@pytest.mark.parametrize("label", ["worst", 7, "least-frequent"])
def test_unknown_label(label):
    X, blob = blobs([20, 40, 40, 40])
    attack = LabelFlip(ClusterMatch(n_clusters=4), label=label, random_state=0)
    with pytest.raises(ValueError, match="label"):
        attack.fit_resample(X, blob % 2)


# ------------------------------------------------------------ known answers
def test_flipping_one_cluster_fools_knn_on_it_only():
    n_sub = 10
    X, blob = blobs([n_sub, 30, 30, 30], seed=0)
    y = blob % 2  # each blob single-labelled: 0, 1, 0, 1
    X_test, blob_test = blobs([25, 25, 25, 25], seed=1)
    y_test = blob_test % 2
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=2,
                       random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    assert attack.n_poison_ == 2 * n_sub
    # Why k = 2 * n_sub + 1 makes the answer certain: the blobs are far apart
    # relative to their spread, so the k nearest neighbours of a point come
    # from its own blob whenever that blob holds at least k training rows.
    # * Target blob: n_sub clean rows + 2 * n_sub poisons (copies of them,
    #   flipped) = 3 * n_sub >= k rows; among any k of them at most n_sub are
    #   clean, so at least n_sub + 1 (a strict majority) carry the flipped label.
    # * Other blobs: 30 > k = 21 clean rows of their own single label, no
    #   poisons, so all k neighbours vote for the true label.
    victim = KNeighborsClassifier(n_neighbors=2 * n_sub + 1).fit(X_res, y_res)
    pred = victim.predict(X_test)
    target = blob_test == 0
    assert np.all(pred[target] != y_test[target])  # target accuracy 0
    assert np.all(pred[~target] == y_test[~target])  # collateral damage 0
    # the clean model (with a k that fits in the small blob) is right everywhere
    clean = KNeighborsClassifier(n_neighbors=n_sub - 1).fit(X, y)
    assert np.all(clean.predict(X_test) == y_test)


def test_poisons_at_the_test_points_fool_1nn():
    rng = np.random.RandomState(0)
    # Target blob 0: test points inside radius 0.5 of its centre, training
    # rows on a ring of radius 5, so test points are closer to each other
    # (< 1) than to any training row (> 4.5).
    angle = rng.uniform(0, 2 * np.pi, 20)
    ring = np.column_stack([np.cos(angle), np.sin(angle)]) * 5
    radius = rng.uniform(0, 0.5, 15)
    angle = rng.uniform(0, 2 * np.pi, 15)
    inner = np.column_stack([np.cos(angle), np.sin(angle)]) * radius[:, None]
    X_other, blob_other = blobs([0, 30, 30, 30], seed=1)
    X_other_test, blob_other_test = blobs([0, 10, 10, 10], seed=2)
    X = np.vstack([ring, X_other])
    y = np.r_[np.zeros(20, int), blob_other % 2]
    X_test = np.vstack([inner, X_other_test])
    y_test = np.r_[np.zeros(15, int), blob_other_test % 2]
    target_test = np.r_[np.ones(15, bool), np.zeros(30, bool)]
    # the attacker's data: the target blob's test points and other blobs' rows
    X_aux = np.vstack([inner, X_other])
    y_aux = np.r_[np.zeros(15, int), blob_other % 2]
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=1,
                       aux=(X_aux, y_aux), random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    assert attack.n_subpopulation_ == 20  # the ring, in the training rows
    assert np.all(attack.sample_indices_ < 15)  # poisons are test points
    # each target test point's nearest neighbour is a poison (distance < 1
    # against > 4.5 to the ring), labelled 1; other blobs keep their own rows
    victim = KNeighborsClassifier(n_neighbors=1).fit(X_res, y_res)
    pred = victim.predict(X_test)
    assert np.all(pred[target_test] != y_test[target_test])
    assert np.all(pred[~target_test] == y_test[~target_test])
    clean = KNeighborsClassifier(n_neighbors=1).fit(X, y)
    assert np.all(clean.predict(X_test) == y_test)


# ---------------------------------------------------------------- bad input
@pytest.fixture
def data():
    X, blob = blobs([20, 40, 40, 40])
    return X, blob % 2, blob


def test_target_without_rows_in_aux(data):
    X, y, blob = data
    finder = ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X)
    keep = blob != 0  # the attacker has no row of the target blob
    attack = LabelFlip(FrozenEstimator(finder), aux=(X[keep], y[keep]))
    with pytest.raises(ValueError, match="target"):
        attack.fit_resample(X, y)


@pytest.mark.parametrize("alpha", [-0.5, -1])
def test_negative_alpha(data, alpha):
    X, y, _ = data
    with pytest.raises(InvalidParameterError, match="alpha"):
        LabelFlip(ClusterMatch(n_clusters=4), alpha=alpha).fit_resample(X, y)


def test_flip_needs_binary(data):
    X, _, blob = data
    with pytest.raises(ValueError, match="flip.*binary"):
        LabelFlip(ClusterMatch(n_clusters=4), label="flip",
                  random_state=0).fit_resample(X, blob)


def test_one_class(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="class"):
        LabelFlip(ClusterMatch(n_clusters=4)).fit_resample(X, np.zeros_like(y))


def test_nan_in_X(data):
    X, y, blob = data
    X = X.copy()
    X[3, 1] = np.nan
    # the finder clusters numbers: it needs every value ...
    with pytest.raises(ValueError, match="NaN"):
        LabelFlip(ClusterMatch(n_clusters=4)).fit_resample(X, y)
    # ... but LabelFlip itself only copies rows: NaN travels with them
    X = np.column_stack([X, blob])
    attack = LabelFlip(FeatureMatch([2], target=0), random_state=0)
    X_res, _ = attack.fit_resample(X, y)
    assert_array_equal(X_res[: len(X)], X)  # NaN == NaN for assert_array_equal
    assert_array_equal(X_res[len(X):], X[attack.sample_indices_])


@pytest.mark.parametrize("where", ["X", "aux"])
def test_infinity_is_still_rejected(data, where):
    X, y, blob = data
    X_bad = np.column_stack([X, blob]).astype(float)
    X_bad[5, 0] = np.inf
    good = np.column_stack([X, blob]).astype(float)
    X_in, aux = (X_bad, None) if where == "X" else (good, (X_bad, y))
    with pytest.raises(ValueError, match="infinity"):
        LabelFlip(FeatureMatch([2], target=0), aux=aux).fit_resample(X_in, y)
    frame = pd.DataFrame(X_bad, columns=["u", "v", "group"]).assign(kind="k")
    clean = pd.DataFrame(good, columns=["u", "v", "group"]).assign(kind="k")
    X_in, aux = (frame, None) if where == "X" else (clean, (frame, y))
    with pytest.raises(ValueError, match=r"infinity in columns \['u'\]"):
        LabelFlip(FeatureMatch(["group"], target=0), aux=aux).fit_resample(X_in, y)


def test_mismatched_lengths(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LabelFlip(ClusterMatch(n_clusters=4)).fit_resample(X, y[:-1])


@pytest.mark.parametrize("make_aux", [
    lambda X, y: (X[:, :1], y),  # wrong number of features
    lambda X, y: (X, y[:-1]),  # mismatched lengths
    lambda X, y: (X, y, y),  # not a pair
])
def test_bad_aux(data, make_aux):
    X, y, _ = data
    attack = LabelFlip(ClusterMatch(n_clusters=4), aux=make_aux(X, y))
    with pytest.raises(ValueError, match="aux"):
        attack.fit_resample(X, y)


def test_aux_with_nan(data):
    X, y, _ = data
    X_aux = X.copy()
    X_aux[0, 0] = np.nan
    # the finder is fitted on aux and clusters numbers
    with pytest.raises(ValueError, match="NaN"):
        LabelFlip(ClusterMatch(n_clusters=4), aux=(X_aux, y)).fit_resample(X, y)


def test_aux_must_be_a_tuple(data):
    X, y, _ = data
    with pytest.raises(InvalidParameterError, match="aux"):
        LabelFlip(ClusterMatch(n_clusters=4), aux=[X, y]).fit_resample(X, y)


@pytest.mark.parametrize("finder, name", [
    (ClusterMatch(n_clusters=0), "n_clusters"),
    (ClusterMatch(n_clusters=4, algorithm="dbscan"), "algorithm"),
    (FeatureMatch([0], min_size=-1), "min_size"),
])
def test_nested_finder_parameters_are_validated(data, finder, name):
    X, y, _ = data
    with pytest.raises(InvalidParameterError, match=name):
        LabelFlip(finder).fit_resample(X, y)


def test_finder_must_be_a_finder(data):
    X, y, _ = data
    with pytest.raises(InvalidParameterError, match="subpopulation"):
        LabelFlip(LogisticRegression()).fit_resample(X, y)


# ---------------------------------------------------------------- DataFrames
def _frame():
    X, blob = blobs([20, 40, 40, 40])
    frame = pd.DataFrame({"x0": X[:, 0], "x1": X[:, 1],
                          "group": blob.astype(float)})
    return frame, pd.Series(blob % 2, name="label"), blob


def test_dataframe_in_dataframe_out_with_feature_match():
    frame, y, _ = _frame()
    attack = LabelFlip(FeatureMatch(["group"], target=0), alpha=1, random_state=0)
    X_res, y_res = attack.fit_resample(frame, y)
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    assert list(X_res.columns) == ["x0", "x1", "group"]
    assert (X_res.dtypes == frame.dtypes).all()
    assert y_res.name == "label"
    n = len(frame)
    assert_array_equal(X_res.iloc[:n].to_numpy(), frame.to_numpy())
    assert_array_equal(y_res.iloc[:n].to_numpy(), y.to_numpy())
    assert attack.n_poison_ == 20
    assert np.all(X_res.iloc[n:]["group"] == 0)
    assert_array_equal(X_res.iloc[n:].to_numpy(),
                       frame.to_numpy()[attack.sample_indices_])
    assert np.all(y_res.iloc[n:].to_numpy() == 1)
    assert_array_equal(attack.feature_names_in_, ["x0", "x1", "group"])
    # the finder saw the DataFrame: it knows the column names
    assert_array_equal(attack.subpopulation_.feature_names_in_, ["x0", "x1", "group"])


def test_dataframe_aux_with_feature_match():
    frame, y, _ = _frame()
    aux_frame, aux_y = frame.iloc[::2], y.iloc[::2]
    attack = LabelFlip(FeatureMatch(["group"], target=2), alpha=0.5,
                       aux=(aux_frame, aux_y), count_on="aux", random_state=0)
    X_res, _ = attack.fit_resample(frame, y)
    assert attack.n_subpopulation_ == 20 and attack.n_poison_ == 10
    assert_array_equal(X_res.iloc[len(frame):].to_numpy(),
                       aux_frame.to_numpy()[attack.sample_indices_])
    assert np.all(X_res.iloc[len(frame):]["group"] == 2)


# ------------------------------------------------------------- immutability
def test_callers_arrays_are_not_modified():
    X, blob = blobs([20, 40, 40, 40])
    y = blob % 2
    X_aux, blob_aux = blobs([8, 30, 30, 30], seed=1)
    y_aux = blob_aux % 2
    copies = [a.copy() for a in (X, y, X_aux, y_aux)]
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), alpha=2,
                       aux=(X_aux, y_aux), random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    X_res[:] = 0  # the output does not alias the input either
    y_res[:] = 0
    for original, copy in zip((X, y, X_aux, y_aux), copies):
        assert_array_equal(original, copy)

    frame, ys, _ = _frame()
    frame_copy, ys_copy = frame.copy(), ys.copy()
    LabelFlip(FeatureMatch(["group"]), alpha=2, random_state=0).fit_resample(frame, ys)
    pd.testing.assert_frame_equal(frame, frame_copy)
    pd.testing.assert_series_equal(ys, ys_copy)


def test_column_vector_y_warns_and_is_raveled(data):
    from sklearn.exceptions import DataConversionWarning

    X, y, _ = data
    attack = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"), random_state=0)
    with pytest.warns(DataConversionWarning, match="column-vector"):
        X_res, y_res = attack.fit_resample(X, y[:, None])
    assert y_res.shape == (X_res.shape[0],)
    assert_array_equal(y_res[: len(y)], y)


class _RecordingProba(ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities depend only on its random_state."""

    seeds = []

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        type(self).seeds.append(self.random_state)
        self.classes_ = np.unique(y)
        rng = np.random.RandomState(self.random_state)
        self.p_ = rng.dirichlet(np.ones(self.classes_.shape[0]))
        return self

    def predict_proba(self, X):
        return np.tile(self.p_, (len(X), 1))


def test_least_confident_seeds_an_unseeded_estimator():
    X, blob = blobs([20, 40, 40, 40])
    y = np.arange(len(blob)) % 8  # 8 classes everywhere
    _RecordingProba.seeds.clear()
    labels = []
    for _ in range(2):
        attack = LabelFlip(ClusterMatch(n_clusters=4), label="least_confident",
                           estimator=_RecordingProba(), random_state=5)
        _, y_res = attack.fit_resample(X, y)
        labels.append(y_res[attack.poison_mask_])
    assert all(isinstance(s, (int, np.integer)) for s in _RecordingProba.seeds)
    assert _RecordingProba.seeds[0] == _RecordingProba.seeds[1]
    assert_array_equal(labels[0], labels[1])


def test_least_confident_with_a_model_fitted_on_a_dataframe():
    X, y = _least_confident_data()
    frame = pd.DataFrame(X, columns=["u", "v"])
    model = LogisticRegression().fit(frame, np.array([0, 2, 1])[y])
    attack = LabelFlip(ClusterMatch(n_clusters=3, target="smallest"),
                       label="least_confident", estimator=FrozenEstimator(model),
                       random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        _, y_res = attack.fit_resample(frame, y)
    assert_array_equal(y_res[attack.poison_mask_], np.full(10, 1))


def test_text_columns_travel_with_the_poisons():
    # a fine-tuned text victim is attacked on raw texts: LabelFlip copies rows
    # of any column type, here a string column next to a numeric annotation
    import pandas as pd

    from skpoison.subpopulations import FeatureMatch

    texts = [f"review {i}" for i in range(40)]
    X = pd.DataFrame({"text": texts, "group": np.repeat([0.0, 1.0], 20)})
    y = np.tile([0, 1], 20)
    attack = LabelFlip(FeatureMatch(["group"], target=1), alpha=1.0, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    assert list(X_res.columns) == ["text", "group"]
    pd.testing.assert_frame_equal(X_res.iloc[:40], X)
    poisons = X_res.iloc[40:]
    assert len(poisons) == 20 and (poisons["group"] == 1).all()
    assert set(poisons["text"]) <= set(texts[20:])
    original = dict(zip(texts, y))
    flipped = [1 - original[t] for t in poisons["text"]]
    np.testing.assert_array_equal(y_res[40:], flipped)


# ------------------------------------------------------------- messy tables
def _messy(n=60, seed=0):
    """The columns users bring: strings with missing values, a category,
    nullable integers, floats with NaN, booleans and free text."""
    rng = np.random.RandomState(seed)
    work = rng.choice(["Private", "State-gov", "Self-emp"], n).astype(object)
    work[::7] = None
    frame = pd.DataFrame({
        "workclass": work,
        "race": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        "age": pd.array(rng.randint(18, 80, n), dtype="Int64"),
        "gain": np.where(rng.rand(n) < 0.2, np.nan, rng.normal(1000, 300, n)),
        "member": rng.rand(n) < 0.5,
        "note": [f"free text {i}" for i in range(n)],
    }, index=np.arange(100, 100 + n))
    frame.loc[frame.index[::11], "age"] = pd.NA
    y = pd.Series(rng.randint(0, 2, n), name="income", index=frame.index)
    return frame, y


def test_messy_frame_rows_are_copied_unchanged():
    frame, y = _messy()
    copies = frame.copy(), y.copy()
    # the target: rows whose workclass is missing (a FeatureMatch group)
    attack = LabelFlip(FeatureMatch(["workclass"], target=3), alpha=2,
                       random_state=0)
    X_res, y_res = attack.fit_resample(frame, y)
    pd.testing.assert_frame_equal(frame, copies[0])  # never modified
    pd.testing.assert_series_equal(y, copies[1])
    assert attack.subpopulation_.describe(3) == {"workclass": None}
    n, idx = len(frame), attack.sample_indices_
    assert attack.n_poison_ == 2 * frame["workclass"].isna().sum() == len(idx)
    # a DataFrame with the same columns and dtypes; the index renumbered as
    # imbalanced-learn does
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    assert (X_res.dtypes == frame.dtypes).all()
    assert_array_equal(X_res.index, np.arange(n + len(idx)))
    pd.testing.assert_frame_equal(X_res.iloc[:n], frame.reset_index(drop=True))
    pd.testing.assert_frame_equal(X_res.iloc[n:].reset_index(drop=True),
                                  frame.iloc[idx].reset_index(drop=True))
    assert X_res.iloc[n:]["workclass"].isna().all()
    assert y_res.name == "income" and y_res.index.equals(X_res.index)
    assert_array_equal(y_res.iloc[:n], y)
    assert_array_equal(y_res.iloc[n:], 1 - y.to_numpy()[idx])


def test_messy_aux_columns_are_matched_by_name():
    frame, y = _messy(seed=0)
    aux, y_aux = _messy(n=80, seed=1)
    shuffled = aux[["note", "gain", "member", "age", "race", "workclass"]]
    attack = LabelFlip(FeatureMatch(["race"], target=0), alpha=1,
                       aux=(shuffled, y_aux), random_state=0)
    X_res, _ = attack.fit_resample(frame, y)
    n, idx = len(frame), attack.sample_indices_
    assert list(X_res.columns) == list(frame.columns)
    assert (X_res.dtypes == frame.dtypes).all()
    # every poison is a row of race "a", copied by column name
    assert (X_res.iloc[n:]["race"] == "a").all()
    pd.testing.assert_frame_equal(X_res.iloc[n:].reset_index(drop=True),
                                  aux.iloc[idx].reset_index(drop=True))


def test_aux_columns_in_another_order_never_copied_by_position():
    # issue: LabelFlip(FeatureMatch(["race"]), aux=(A, y_aux)) with A's columns
    # in another order put 0 of 20 poisons in the target
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"race": rng.randint(0, 3, 90).astype(float),
                      "x": rng.normal(10, 1, 90)})
    y = rng.randint(0, 2, 90)
    A = X.sample(frac=1, random_state=1)[["x", "race"]]
    attack = LabelFlip(FeatureMatch(["race"], target=2), aux=(A, y), random_state=0)
    X_res, _ = attack.fit_resample(X, y)
    poisons = X_res.iloc[len(X):]
    assert len(poisons) == attack.n_poison_ == (X["race"] == 2).sum()
    assert (poisons["race"] == 2).all()


@pytest.mark.parametrize("columns, named", [
    (["workclass", "race", "age", "gain", "member"], "missing from X_aux \\['note'\\]"),
    (["workclass", "race", "age", "gain", "member", "note", "extra"],
     "not in X \\['extra'\\]"),
])
def test_aux_with_other_columns_is_an_error_naming_them(columns, named):
    frame, y = _messy()
    aux = frame.assign(extra=1.0)[columns]
    if len(columns) == frame.shape[1]:  # same width, one name swapped
        aux = aux.rename(columns={"member": "note"}).assign(member=frame["member"])
        aux = aux.drop(columns="note")
    attack = LabelFlip(FeatureMatch(["race"]), aux=(aux, y))
    with pytest.raises(ValueError, match="aux"):
        attack.fit_resample(frame, y)
    same_width = frame.rename(columns={"note": "comment"})
    with pytest.raises(ValueError, match=r"missing from X_aux \['note'\].*\['comment'\]"):
        LabelFlip(FeatureMatch(["race"]), aux=(same_width, y)).fit_resample(frame, y)


def test_aux_without_names_warns_that_it_is_taken_by_position():
    frame, y = _messy()
    numbers = frame[["gain"]].assign(group=np.arange(len(frame)) % 3)
    attack = LabelFlip(FeatureMatch([1], target=1),
                       aux=(numbers.to_numpy(), y), random_state=0)
    with pytest.warns(UserWarning, match="by position"):
        X_res, _ = attack.fit_resample(numbers, y)
    assert (X_res.iloc[len(numbers):]["group"] == 1).all()


def test_aux_column_types_must_match():
    frame, y = _messy()
    aux = frame.astype({"gain": str})
    with pytest.raises(ValueError, match=r"gain \(float64 in X, (str|object) in X_aux\)"):
        LabelFlip(FeatureMatch(["race"]), aux=(aux, y)).fit_resample(frame, y)


def test_aux_categories_and_integers_keep_the_victims_dtypes():
    frame, y = _messy()
    frame = frame.assign(count=np.arange(len(frame)))
    aux = frame.copy()
    aux["race"] = pd.Categorical(np.where(np.arange(len(aux)) % 2, "a", "d"))
    aux["count"] = aux["count"].astype(float)  # integral floats: back to int
    attack = LabelFlip(FeatureMatch(["member"], target=1), aux=(aux, y),
                       random_state=0)
    X_res, _ = attack.fit_resample(frame, y)
    assert X_res["count"].dtype == frame["count"].dtype
    # a new category widens the victim's (unordered) categories
    assert isinstance(X_res["race"].dtype, pd.CategoricalDtype)
    assert set(X_res["race"].cat.categories) == {"a", "b", "c", "d"}
    assert_array_equal(X_res["race"].iloc[: len(frame)].astype(str),
                       frame["race"].astype(str))
    ordered = frame.astype({"race": pd.CategoricalDtype(["a", "b", "c"], ordered=True)})
    with pytest.raises(ValueError, match="ordered categories"):
        LabelFlip(FeatureMatch(["member"], target=1), aux=(aux, y),
                  random_state=0).fit_resample(ordered, y)


def test_least_confident_with_a_pipeline_on_a_messy_frame():
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    frame, y = _messy(n=120)
    y = pd.Series(np.arange(120) % 3, name="label")  # three classes
    model = make_pipeline(
        make_column_transformer(
            (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                            encoded_missing_value=-2), ["workclass", "race"]),
            ("passthrough", ["gain"])),
        HistGradientBoostingClassifier(max_iter=5, random_state=0))
    attack = LabelFlip(FeatureMatch(["race"], target=0), label="least_confident",
                       estimator=model, random_state=0)
    X_res, y_res = attack.fit_resample(frame, y)
    assert len(set(y_res.iloc[len(frame):])) == 1
    assert (X_res.dtypes == frame.dtypes).all()


def test_lists_and_object_arrays_keep_their_type():
    rows = [["a", 1.0, None], ["b", 2.0, "x"], ["a", np.nan, "y"], ["b", 4.0, None]]
    y = [0, 1, 1, 0]
    attack = LabelFlip(FeatureMatch([0], target=0), random_state=0)
    X_res, y_res = attack.fit_resample(rows, y)
    assert isinstance(X_res, list) and isinstance(y_res, list)
    assert X_res[:4] == [[v for v in row] for row in np.asarray(rows, dtype=object)]
    assert all(row[0] == "a" for row in X_res[4:])


# --------------------------------------- attacks that compute on features
@pytest.mark.parametrize("make_attack", [
    lambda: __import__("skpoison.attacks", fromlist=["GradientPoison"]).GradientPoison(
        FeatureMatch(["race"]), label="least_frequent", n_iter=1),
    lambda: __import__("skpoison.attacks", fromlist=["InfluencePoison"]).InfluencePoison(
        FeatureMatch(["race"]), label="least_frequent", n_iter=1),
])
def test_optimised_attacks_name_the_columns_they_cannot_use(make_attack):
    frame, y = _messy()
    with pytest.raises(ValueError, match=r"numeric columns.*\['workclass', 'race', 'note'\]"):
        make_attack().fit_resample(frame, y)
    numeric = frame[["age", "gain", "member"]].assign(race=frame["race"].cat.codes)
    with pytest.raises(ValueError, match=r"NaN.*\['age', 'gain'\]"):
        make_attack().fit_resample(numeric, y)
    clean = numeric.fillna(0)
    aux = clean.astype({"race": "category"})
    with pytest.raises(ValueError, match=r"X_aux has non-numeric columns \['race'\]"):
        make_attack().set_params(aux=(aux, y)).fit_resample(clean, y)


def test_attack_family_and_is_attack():
    # the optimised attacks are LabelFlip's siblings, WitchesBrew shares the
    # prologue: is_attack says what is an attack, whatever the base class
    from sklearn.linear_model import LogisticRegression

    from skpoison.attacks import GradientPoison, InfluencePoison, WitchesBrew, is_attack

    finder = ClusterMatch(n_clusters=3)
    for attack in (LabelFlip(finder), GradientPoison(finder), InfluencePoison(finder),
                   WitchesBrew()):
        assert is_attack(attack)
    assert not issubclass(GradientPoison, LabelFlip)
    assert not is_attack(LogisticRegression()) and not is_attack(finder)


@pytest.mark.parametrize("alpha", [1e300, 1e9, 1000.5, float("nan"), float("inf")])
def test_alpha_is_bounded_before_any_allocation(alpha):
    X, blob = blobs([20, 40, 40, 40])
    with pytest.raises(ValueError, match="'alpha' parameter"):
        LabelFlip(ClusterMatch(n_clusters=4), alpha=alpha).fit_resample(X, blob % 2)

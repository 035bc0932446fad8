"""ClusterMatch: known answers on separated blobs, PCA, filter, determinism."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from skpoison.subpopulations import ClusterMatch

CENTERS = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0], [30.0, 30.0]])


@pytest.fixture(autouse=True)
def _one_thread():
    # k-means' OpenMP threads oversubscribe a small CI machine
    with threadpool_limits(1):
        yield


def _blobs(n_samples=(40, 40, 40, 40), n_features=2, random_state=0):
    centers = CENTERS if n_features == 2 else None
    if centers is None:
        rng = np.random.RandomState(1)
        centers = rng.uniform(-50, 50, (len(n_samples), n_features))
    return make_blobs(n_samples=list(n_samples), centers=centers[: len(n_samples)],
                      cluster_std=0.5, random_state=random_state)


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch"])
def test_recovers_separated_blobs(algorithm):
    X, y = _blobs()
    finder = ClusterMatch(n_clusters=4, algorithm=algorithm, random_state=0).fit(X)
    expected = KMeans if algorithm == "kmeans" else MiniBatchKMeans
    assert type(finder.kmeans_) is expected
    ids = finder.predict(X)
    assert adjusted_rand_score(y, ids) == 1.0
    assert_array_equal(finder.subpopulations_, [0, 1, 2, 3])
    assert_array_equal(finder.sizes_, [40, 40, 40, 40])
    # fresh rows from the same blobs land in the same clusters
    X_new, y_new = _blobs(n_samples=(10, 10, 10, 10), random_state=1)
    assert adjusted_rand_score(np.concatenate([y, y_new]),
                               np.concatenate([ids, finder.predict(X_new)])) == 1.0


def test_sizes_target_and_membership_on_blobs():
    X, y = _blobs(n_samples=(15, 40, 25, 60))
    finder = ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X)
    ids = finder.predict(X)
    assert sorted(finder.sizes_.tolist()) == [15, 25, 40, 60]
    assert_array_equal(finder.membership(X), y == 0)
    assert_array_equal(finder.membership(X), ids == finder.target_)
    largest = ClusterMatch(n_clusters=4, random_state=0).fit(X)
    assert_array_equal(largest.membership(X), y == 3)
    # membership of another cluster, given by id
    other = ids[np.flatnonzero(y == 1)[0]]
    assert_array_equal(finder.membership(X, target=other), y == 1)


def test_predict_new_rows_equals_kmeans_and_size_filter():
    X, y = _blobs(n_samples=(5, 30, 30, 200))
    finder = ClusterMatch(n_clusters=4, min_size=10, max_size=100,
                          random_state=0).fit(X)
    assert_array_equal(finder.sizes_, [30, 30])
    X_new = np.random.RandomState(3).uniform(-5, 35, (200, 2))
    raw = finder.kmeans_.predict(X_new)
    expected = np.where(np.isin(raw, finder.subpopulations_), raw, -1)
    assert_array_equal(finder.predict(X_new), expected)
    # the small and the large blob are filtered out
    ids = finder.predict(X)
    assert np.all(ids[(y == 0) | (y == 3)] == -1)
    assert np.all(ids[(y == 1) | (y == 2)] >= 0)
    Xt = finder.transform(X)
    assert Xt.shape == (X.shape[0], 2)
    assert_array_equal(Xt.sum(axis=1), ((y == 1) | (y == 2)).astype(float))


def test_no_predict_without_filter_matches_kmeans():
    X, _ = _blobs()
    finder = ClusterMatch(n_clusters=3, random_state=0).fit(X)
    assert_array_equal(finder.predict(X), finder.kmeans_.labels_)
    assert_array_equal(finder.predict(X), finder.kmeans_.predict(X))


def test_n_clusters_one():
    X, _ = _blobs()
    finder = ClusterMatch(n_clusters=1, random_state=0).fit(X)
    assert_array_equal(finder.subpopulations_, [0])
    assert_array_equal(finder.sizes_, [X.shape[0]])
    assert finder.target_ == 0
    assert finder.membership(X).all()
    assert_array_equal(finder.transform(X), np.ones((X.shape[0], 1)))
    for target in ("largest", "smallest", "random", 0):
        finder = ClusterMatch(n_clusters=1, target=target, random_state=0)
        assert finder.fit(X).target_ == 0


def test_pca_path():
    X, y = _blobs(n_features=10)
    plain = ClusterMatch(n_clusters=4, random_state=0).fit(X)
    assert plain.pca_ is None
    assert plain.kmeans_.cluster_centers_.shape == (4, 10)

    pca = ClusterMatch(n_clusters=4, n_components=5, random_state=0).fit(X)
    assert pca.pca_.n_components_ == 5
    assert pca.kmeans_.cluster_centers_.shape == (4, 5)
    assert adjusted_rand_score(y, pca.predict(X)) == 1.0
    assert_array_equal(pca.kmeans_.predict(pca.pca_.transform(X)), pca.predict(X))

    sliced = ClusterMatch(n_clusters=4, n_components=5, n_components_kmeans=2,
                          random_state=0).fit(X)
    assert sliced.pca_.n_components_ == 5  # PCA keeps all 5 components
    assert sliced.kmeans_.cluster_centers_.shape == (4, 2)  # k-means sees 2
    assert_allclose(sliced.pca_.components_, pca.pca_.components_)
    Z = sliced.pca_.transform(X)[:, :2]
    assert_array_equal(sliced.kmeans_.predict(Z), sliced.predict(X))
    assert adjusted_rand_score(y, sliced.predict(X)) == 1.0

    raw_sliced = ClusterMatch(n_clusters=4, n_components_kmeans=3,
                              random_state=0).fit(X)
    assert raw_sliced.pca_ is None
    assert raw_sliced.kmeans_.cluster_centers_.shape == (4, 3)
    assert_array_equal(raw_sliced.kmeans_.predict(X[:, :3]), raw_sliced.predict(X))


@pytest.mark.parametrize("params, name", [
    ({"n_components": 0}, "n_components"),
    ({"n_components": 11}, "n_components"),
    ({"n_components": 2.5}, "n_components"),
    ({"n_components": 5, "n_components_kmeans": 6}, "n_components_kmeans"),
    ({"n_components_kmeans": 11}, "n_components_kmeans"),
    ({"n_components_kmeans": 0}, "n_components_kmeans"),
    ({"n_clusters": 0}, "n_clusters"),
    ({"n_clusters": 161}, "n_clusters"),
    ({"algorithm": "dbscan"}, "algorithm"),
    ({"min_size": -1}, "min_size"),
    ({"target": "median"}, "target"),
])
def test_bad_parameters_are_named(params, name):
    X, _ = _blobs(n_features=10)  # 160 rows, 10 features
    with pytest.raises(ValueError, match=name):
        ClusterMatch(**{"n_clusters": 4, **params}).fit(X)


def test_n_clusters_equal_to_n_samples_is_allowed():
    X, _ = _blobs(n_samples=(3, 3))
    finder = ClusterMatch(n_clusters=6, random_state=0).fit(X)
    assert_array_equal(finder.sizes_, np.ones(6))


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch"])
def test_deterministic_with_random_state(algorithm):
    X = np.random.RandomState(0).normal(size=(200, 5))  # no obvious clusters
    fits = [ClusterMatch(n_clusters=7, n_components=4, target="random",
                         algorithm=algorithm, random_state=42).fit(X)
            for _ in range(2)]
    assert_array_equal(fits[0].kmeans_.cluster_centers_,
                       fits[1].kmeans_.cluster_centers_)
    assert_array_equal(fits[0].predict(X), fits[1].predict(X))
    assert fits[0].target_ == fits[1].target_
    assert fits[0].target_ in fits[0].subpopulations_


def test_float32_input():
    X, y = _blobs()
    X32 = X.astype(np.float32)
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(X32)
    assert finder.kmeans_.cluster_centers_.dtype == np.float32
    assert adjusted_rand_score(y, finder.predict(X32)) == 1.0
    assert_array_equal(finder.predict(X), finder.predict(X32))
    pca = ClusterMatch(n_clusters=4, n_components=2, random_state=0).fit(X32)
    assert adjusted_rand_score(y, pca.predict(X)) == 1.0


def test_retarget_keeps_the_clustering():
    X, y = _blobs(n_samples=(15, 40, 25, 60))
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(X)
    small = finder.retarget("smallest")
    assert small.kmeans_ is finder.kmeans_  # not refitted
    assert_array_equal(small.membership(X), y == 0)
    assert_array_equal(finder.membership(X), y == 3)


def test_predict_checks_features():
    X, _ = _blobs()
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        finder.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        finder.predict(np.array([[np.nan, 0.0]]))


# ------------------------------------------------------------ representation
def test_representation_is_clustered_instead_of_X():
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    # the representation keeps only the sign of column 0: two clusters
    rep = FunctionTransformer(lambda Z: np.sign(Z[:, :1]))
    finder = ClusterMatch(n_clusters=2, representation=rep, random_state=0).fit(X)
    ids = finder.predict(X)
    assert len(np.unique(ids)) == 2
    for sign in (-1, 1):
        assert len(np.unique(ids[np.sign(X[:, 0]) == sign])) == 1
    # the caller's transformer is cloned, never fitted in place
    assert not hasattr(rep, "n_features_in_")
    assert finder.representation_ is not rep


def test_representation_frozen_is_used_as_is():
    from sklearn.decomposition import PCA
    from sklearn.frozen import FrozenEstimator

    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4))
    pca = PCA(n_components=2, random_state=0).fit(X[:40])
    finder = ClusterMatch(n_clusters=3, representation=FrozenEstimator(pca),
                          random_state=0).fit(X[40:])
    np.testing.assert_allclose(finder.representation_.transform(X), pca.transform(X))
    reference = ClusterMatch(n_clusters=3, random_state=0).fit(pca.transform(X[40:]))
    # same clustering as clustering the transformed rows directly
    assert (finder.predict(X) >= 0).all()
    np.testing.assert_array_equal(
        np.unique(finder.predict(X), return_counts=True)[1],
        np.unique(reference.predict(pca.transform(X)), return_counts=True)[1])


def test_representation_accepts_non_numeric_input():
    from sklearn.preprocessing import FunctionTransformer

    texts = np.array(["a", "bb", "ccc", "dddd"] * 10, dtype=object)
    rep = FunctionTransformer(lambda T: np.array([[len(t)] for t in np.ravel(T)], float))
    finder = ClusterMatch(n_clusters=4, representation=rep, random_state=0)
    ids = finder.fit(texts.reshape(-1, 1)).predict(texts.reshape(-1, 1))
    assert len(np.unique(ids)) == 4
    assert len(np.unique(ids[texts == "bb"])) == 1


def test_representation_must_be_2d():
    from sklearn.preprocessing import FunctionTransformer

    rep = FunctionTransformer(lambda Z: Z[:, 0])
    with pytest.raises(ValueError, match="representation must map X to a 2-D"):
        ClusterMatch(n_clusters=2, representation=rep).fit(np.ones((10, 2)))


def test_representation_without_transform_is_rejected():
    with pytest.raises(ValueError, match="representation"):
        ClusterMatch(n_clusters=2, representation=object()).fit(np.ones((10, 2)))


# ------------------------------------------- DataFrames of mixed columns
def _mixed_frame(n=240, seed=0):
    """Strings with missing values, a pandas category, nullable integers with
    pd.NA, booleans and floats with NaN: the columns users bring."""
    import pandas as pd

    rng = np.random.RandomState(seed)
    group = rng.randint(0, 3, n)
    frame = pd.DataFrame({
        "workclass": np.array(["Private", "State-gov", "Self-emp"], dtype=object)[group],
        "color": pd.Categorical(rng.choice(["red", "blue"], n)),
        "age": pd.array(20 + 20 * group + rng.randint(0, 5, n), dtype="Int64"),
        "member": rng.rand(n) < 0.5,
        "income": 1000.0 * group + rng.normal(0, 10, n),
    })
    frame.loc[::17, "workclass"] = None
    frame.loc[::23, "income"] = np.nan
    frame.loc[::29, "age"] = pd.NA
    return frame, group


def test_default_representation_for_a_mixed_frame():
    import pandas as pd
    from sklearn.compose import ColumnTransformer

    from skpoison.subpopulations import default_representation

    frame, group = _mixed_frame()
    copy = frame.copy()
    finder = ClusterMatch(n_clusters=3, random_state=0).fit(frame)
    pd.testing.assert_frame_equal(frame, copy)  # never modified
    assert isinstance(finder.representation_, ColumnTransformer)
    names = finder.representation_.get_feature_names_out().tolist()
    # categoricals one-hot, a missing value its own category; numbers scaled
    assert "categorical__workclass_missing" in names
    assert "categorical__color_red" in names
    assert {"numeric__age", "numeric__member", "numeric__income"} <= set(names)
    ids = finder.predict(frame)
    assert adjusted_rand_score(group, ids) > 0.9
    # the same features as the documented default passed explicitly
    explicit = ClusterMatch(n_clusters=3, random_state=0,
                            representation=default_representation(frame)).fit(frame)
    assert_allclose(explicit.representation_.transform(frame),
                    finder.representation_.transform(frame))
    # unknown categories are ignored and missing values imputed at predict time
    new = frame.iloc[:5].copy()
    new["workclass"] = ["Never-worked", None, "Private", "Private", "Private"]
    new["income"] = [np.nan, 0.0, 1000.0, 2000.0, np.nan]
    assert finder.predict(new).shape == (5,)
    # same random_state, same result
    again = ClusterMatch(n_clusters=3, random_state=0).fit(frame)
    assert_array_equal(again.predict(frame), ids)


def test_numeric_frame_with_missing_values_gets_the_default():
    import pandas as pd

    X, y = _blobs()
    frame = pd.DataFrame(X, columns=["u", "v"])
    frame.loc[3, "u"] = np.nan
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(frame)
    assert finder.representation_ is not None
    assert adjusted_rand_score(y, finder.predict(frame)) > 0.95


@pytest.mark.parametrize("as_frame", [False, True])
def test_numbers_are_clustered_as_given(as_frame):
    import pandas as pd

    X, _ = _blobs()
    data = pd.DataFrame(X, columns=["u", "v"]) if as_frame else X
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(data)
    assert finder.representation_ is None
    reference = KMeans(n_clusters=4, n_init=1,
                       random_state=np.random.RandomState(0).randint(2**31 - 1)).fit(X)
    assert_array_equal(finder.kmeans_.labels_, reference.labels_)


def test_default_representation_rejects_dates_by_name():
    import pandas as pd

    frame = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=10),
                          "kind": list("ab" * 5)})
    with pytest.raises(TypeError, match=r"\['when'\].*representation"):
        ClusterMatch(n_clusters=2).fit(frame)


# ------------------------------------------------------- groups in words
def _planted(seed=0):
    """Background rows, a cluster planted by the rule ``41 <= age <= 58 and
    capital_gain >= 15000``, and high-gain decoys of other ages."""
    import pandas as pd

    rng = np.random.RandomState(seed)
    n, m, d = 1500, 150, 150
    age = np.r_[rng.randint(18, 81, n), rng.randint(41, 59, m),
                rng.randint(18, 29, d // 2), rng.randint(71, 81, d // 2)]
    gain = np.r_[np.where(rng.rand(n) < 0.2, rng.randint(1000, 5001, n), 0),
                 rng.randint(15000, 20001, m + d)]
    planted = np.r_[np.zeros(n, bool), np.ones(m, bool), np.zeros(d, bool)]
    return pd.DataFrame({"age": age, "capital_gain": gain}), planted


@pytest.mark.parametrize("as_frame", [True, False])
def test_describe_recovers_a_planted_rule(as_frame):
    from sklearn.preprocessing import StandardScaler

    from skpoison.subpopulations import Condition, SubpopulationRule

    frame, planted = _planted()
    X = frame if as_frame else frame.to_numpy()
    age, gain = ("age", "capital_gain") if as_frame else ("x0", "x1")
    finder = ClusterMatch(n_clusters=8, n_init=3, representation=StandardScaler(),
                          random_state=0).fit(X)
    ids = finder.predict(X)
    target = np.bincount(ids[planted]).argmax()
    assert_array_equal(ids == target, planted)  # k-means found the planted group
    rule = finder.describe(target)
    assert isinstance(rule, SubpopulationRule)
    by_feature = {c.feature: c for c in rule.conditions}
    assert set(by_feature) == {age, gain}, str(rule)
    assert by_feature[gain].op == ">="
    assert 5000 < by_feature[gain].value <= 15100
    assert by_feature[age].op == "between"
    low, high = by_feature[age].value
    assert abs(low - 41) <= 1 and abs(high - 58) <= 1
    assert rule.coverage >= 0.95 and rule.precision >= 0.95
    assert rule.size == 150
    # the text, as the audit shows it
    text = finder.describe_text(target)
    assert text == str(rule)
    assert f"41 <= {age} <= 58" in text and f"{gain} >= 150" in text
    assert not rule.approximate and rule.text == text
    assert isinstance(by_feature[age], Condition)
    # the rule applies to rows: on the fitted rows, exactly its scores
    selected = rule.mask(X)
    assert selected.sum() == rule.n_selected
    assert (selected & planted).sum() == round(rule.coverage * rule.size)
    assert rule.to_dict()["rule"] == rule.to_dict()["name"] == text
    assert rule.to_dict()["approximate"] is False


def test_describe_names_categories_and_missing_values():
    import pandas as pd
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.RandomState(0)
    n = 600
    work = rng.choice(["Private", "Self-emp", "State-gov", "Local-gov",
                       "Never-worked"], n).astype(object)
    work[rng.rand(n) < 0.05] = None
    hours = rng.randint(10, 80, n).astype(float)
    frame = pd.DataFrame({"workclass": work, "hours": hours})
    inside = np.isin(work, ["Private", "Self-emp"]) & (hours >= 50)

    def indicator(F):
        picked = F["workclass"].isin(["Private", "Self-emp"]).to_numpy()
        return np.column_stack([picked * 10.0, (F["hours"].to_numpy() >= 50) * 10.0])

    finder = ClusterMatch(n_clusters=4, representation=FunctionTransformer(indicator),
                          random_state=0).fit(frame)
    ids = finder.predict(frame)
    target = ids[np.flatnonzero(inside)[0]]
    assert_array_equal(ids == target, inside)
    rule = finder.describe(target)
    assert str(rule) in ("workclass in {Private, Self-emp} and hours >= 50",
                         "hours >= 50 and workclass in {Private, Self-emp}")
    assert rule.coverage == rule.precision == 1.0
    # the group whose workclass is missing or not one of those two, hours >= 50
    other = ids[np.flatnonzero(~np.isin(work, ["Private", "Self-emp"])
                               & (hours >= 50))[0]]
    text = finder.describe_text(other)
    assert "workclass not in {Private, Self-emp}" in text or "missing" in text, text


def test_rule_scores_are_exact_on_messy_columns():
    frame, _ = _mixed_frame(n=300, seed=1)
    finder = ClusterMatch(n_clusters=6, random_state=0).fit(frame)
    ids = finder.kmeans_.labels_
    for c in range(6):
        rule = finder.describe(c)
        members = ids == c
        selected = rule.mask(frame)
        assert rule.size == members.sum()
        assert rule.n_selected == selected.sum()
        assert rule.coverage == pytest.approx((selected & members).sum() / members.sum())
        assert rule.precision == pytest.approx(
            (selected & members).sum() / max(selected.sum(), 1))
        assert 1 <= len(rule.conditions) <= 3
        # the same fitted finder gives the same rule
        assert str(finder.describe(c)) == str(rule)


def test_describe_validates_ids_and_depth():
    X, _ = _blobs(n_samples=(40, 40, 40, 80))
    finder = ClusterMatch(n_clusters=4, min_size=50, random_state=0).fit(X)
    assert len(finder.subpopulations_) == 1
    for bad in (-1, 4, 99):
        with pytest.raises(ValueError, match=rf"subpopulation={bad}.*0 to 3"):
            finder.describe(bad)
        with pytest.raises(ValueError, match=rf"subpopulation={bad}"):
            finder.describe_text(bad)
    with pytest.raises(TypeError, match="integer id"):
        finder.describe("1")
    with pytest.raises(ValueError, match="max_depth"):
        finder.describe(0, max_depth=0)
    # clusters that did not pass the size filter are described too
    assert all(finder.describe_text(c) for c in range(4))


def test_describe_without_a_table_falls_back_in_text():
    from sklearn.preprocessing import FunctionTransformer

    images = np.random.RandomState(0).rand(30, 4, 4)
    rep = FunctionTransformer(lambda Z: Z.reshape(len(Z), -1))
    finder = ClusterMatch(n_clusters=2, representation=rep, random_state=0).fit(images)
    with pytest.raises(ValueError, match="not a 2-D table"):
        finder.describe(0)
    assert finder.describe_text(1) == "cluster 1"


def test_formatting_of_values_and_conditions():
    from skpoison.subpopulations import Condition
    from skpoison.subpopulations._describe import format_value

    assert format_value(15024.0) == "15024"
    assert format_value(2008) == "2008"
    assert format_value(0.125) == "0.125"
    assert format_value(1234.56789) == "1234.6"
    assert format_value(None) == "missing"
    assert format_value(np.nan) == "missing"
    assert format_value(True) == "True"
    assert str(Condition("age", "between", (41.0, 58.0))) == "41 <= age <= 58"
    # no thousands separators, and intervals that cannot read as four numbers
    assert str(Condition("year", "<=", 2008.0)) == "year <= 2008"
    assert str(Condition("Weight", "between", (1937.0, 2945.0))) == \
        "1937 <= Weight <= 2945"
    assert str(Condition("t", "between", (-2.5, -0.125))) == "-2.5 <= t <= -0.125"
    assert str(Condition("g", ">=", 1234567.875)) == "g >= 1234567.875"
    # a category holding a comma or a brace, or the word missing, is quoted
    assert str(Condition("w", "in", ("Self-emp, inc", "Private"))) == \
        'w in {"Self-emp, inc", Private}'
    assert str(Condition("w", "in", ("missing", None))) == 'w in {"missing", missing}'
    assert str(Condition("w", "not in", ("{a}",))) == 'w != "{a}"'
    assert str(Condition("age", "between", (41.0, 41.0))) == "age = 41"
    assert str(Condition("w", "in", ("a", None))) == "w in {a, missing}"
    assert str(Condition("w", "in", (None,))) == "w is missing"
    assert str(Condition("w", "not in", ("a",))) == "w != a"
    assert str(Condition("w", "not in", (None,))) == "w is not missing"
    assert str(Condition("g", "<=", 0.5)) == "g <= 0.5"


def test_description_rows_are_copied_at_fit_and_coded_once():
    # the rows are coded for describe() on first use, not at every fit, from
    # a private copy: the caller changing its array later changes nothing;
    # pickles hold the codes, and retargeted copies share one coding
    import pickle

    import pandas as pd

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"age": rng.randint(18, 90, 300).astype(float),
                          "job": rng.choice(["clerk", "owner", "nurse"], 300)})
    finder = ClusterMatch(n_clusters=3, random_state=0).fit(frame)
    lazy = finder._table
    assert lazy._table is None  # nothing coded by fit
    frame["age"] = -1.0  # the caller's frame changes after the fit
    text = finder.describe_text(0)
    assert "-1" not in text
    other = finder.retarget(1)
    assert other._table is lazy and lazy._rows is None  # coded once, shared
    restored = pickle.loads(pickle.dumps(other))
    assert restored._table._rows is None
    assert restored.describe_text(0) == text


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_representation_inside_or_outside_gives_the_same_clusters(dtype):
    # precomputed features and the same features computed by the finder
    # (FrozenEstimator) must be clustered alike: the representation's float32
    # was cast to float64, and k-means on the two copies of the same rows can
    # converge to other clusters (on 3,000 image embeddings it agreed on 23%
    # of the rows with 16 threads)
    from sklearn.decomposition import PCA
    from sklearn.frozen import FrozenEstimator

    X, _ = make_blobs(600, n_features=12, centers=8, random_state=0)
    X = X.astype(dtype)
    pca = PCA(n_components=5, random_state=0).fit(X)
    inside = ClusterMatch(8, representation=FrozenEstimator(pca),
                          random_state=0).fit(X)
    outside = ClusterMatch(8, random_state=0).fit(pca.transform(X))
    assert inside.kmeans_.cluster_centers_.dtype == dtype
    assert_array_equal(inside.kmeans_.cluster_centers_, outside.kmeans_.cluster_centers_)
    assert_array_equal(inside.predict(X), outside.predict(pca.transform(X)))


def test_a_representation_of_integers_is_clustered_in_float64():
    from sklearn.preprocessing import FunctionTransformer

    X, _ = make_blobs(200, n_features=3, centers=3, random_state=0)
    to_int = FunctionTransformer(lambda Z: np.rint(Z * 10).astype(np.int64))
    finder = ClusterMatch(3, representation=to_int, random_state=0).fit(X)
    assert finder.kmeans_.cluster_centers_.dtype == np.float64


def _hidden_group():
    """1,000 rows: ``x`` takes the values 0..99, ten rows each; ``id`` is a
    text column of 1,000 distinct values (too wide to be described). The
    group is ``x >= 50`` and an even position within its ``x`` value: every
    interval of ``x`` inside it holds exactly half members, so the best rule
    is ``x >= 50``, with coverage 1 and precision 1/2."""
    import pandas as pd

    x = np.repeat(np.arange(100), 10)
    position = np.tile(np.arange(10), 100)
    members = (x >= 50) & (position % 2 == 0)
    frame = pd.DataFrame({"x": x, "id": [f"row{i}" for i in range(1000)]})
    return frame, members


def test_a_loose_rule_is_named_approximate():
    from sklearn.preprocessing import FunctionTransformer

    frame, members = _hidden_group()
    rep = FunctionTransformer(lambda F, m=members: np.c_[m * 10.0, np.zeros(len(m))])
    finder = ClusterMatch(n_clusters=2, representation=rep, random_state=0).fit(frame)
    target = int(finder.predict(frame)[members][0])
    assert_array_equal(finder.predict(frame) == target, members)
    rule = finder.describe(target)
    assert rule.text == "x >= 50"
    assert rule.coverage == 1.0 and rule.precision == 0.5
    assert rule.approximate
    assert str(rule) == f"cluster {target}, approximately: x >= 50"
    assert finder.describe_text(target) == str(rule)
    assert rule.to_dict()["name"] == str(rule) and rule.to_dict()["rule"] == "x >= 50"
    assert rule.to_dict()["approximate"] is True
    # the threshold is a parameter: at 0.5 the same rule names the group
    loose = finder.describe(target, min_fit=0.5)
    assert not loose.approximate and str(loose) == "x >= 50"
    assert loose.conditions == rule.conditions
    for bad in (-0.1, 1.5, True, "0.8"):
        with pytest.raises(ValueError, match="min_fit"):
            finder.describe(target, min_fit=bad)


@pytest.mark.parametrize("min_fit, approximate", [(0.8, False), (0.9, True)])
def test_fit_threshold_is_inclusive_on_precision_and_coverage(min_fit, approximate):
    from skpoison.subpopulations import SubpopulationRule

    rule = SubpopulationRule(3, (), coverage=0.8, precision=0.9, size=10,
                             n_selected=9, min_fit=min_fit)
    assert rule.approximate is approximate
    rule = SubpopulationRule(3, (), coverage=1.0, precision=0.8, size=8,
                             n_selected=10, min_fit=min_fit)
    assert rule.approximate is approximate


def test_rule_bounds_are_per_column_and_exact():
    # years and weights are whole numbers: written as the data's values,
    # with no separator; a ratio is written with the fewest decimals that
    # select the same rows (0.124 lies between 0.12349, in, and 0.13, out)
    import pandas as pd
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.RandomState(0)
    n = 400
    year = rng.randint(1990, 2021, n)
    weight = rng.randint(1500, 4000, n)
    ratio = rng.choice([0.05, 0.1, 0.12349, 0.13, 0.2, 0.31], n)
    frame = pd.DataFrame({"year": year, "Weight": weight, "ratio": ratio})
    groups = {
        "year": year <= 2008,
        "Weight": (weight >= 1937) & (weight <= 2945),
        "ratio": ratio <= 0.12349,
    }
    for column, members in groups.items():
        rep = FunctionTransformer(lambda F, m=members: np.c_[m * 10.0, np.zeros(len(m))])
        finder = ClusterMatch(n_clusters=2, representation=rep,
                              random_state=0).fit(frame)
        target = int(finder.predict(frame)[members][0])
        rule = finder.describe(target)
        assert rule.coverage == rule.precision == 1.0, str(rule)
        assert_array_equal(rule.mask(frame), members)
        low = weight[groups["Weight"]].min()
        high = weight[groups["Weight"]].max()
        expected = {"year": f"year <= {year[year <= 2008].max()}",
                    "Weight": f"{low} <= Weight <= {high}",
                    "ratio": "ratio <= 0.124"}[column]
        assert str(rule) == expected
        assert "," not in str(rule)


def test_describe_leaves_out_annotation_columns():
    # a data set's coded copy of a group column ("annotation:race", codes
    # 0, 1, 2) named clusters by code ("annotation:race <= 0") where the
    # readable column ("race") says the same in words
    import pandas as pd
    from sklearn.preprocessing import FunctionTransformer

    from skpoison.datasets import annotation_column

    rng = np.random.RandomState(0)
    race = rng.choice(["Asian", "Black", "White"], 300)
    frame = pd.DataFrame({annotation_column("race"): np.unique(race, return_inverse=True)[1]
                          .astype(float), "race": race, "hours": rng.randint(10, 80, 300)})
    finder = ClusterMatch(n_clusters=3, random_state=0, representation=FunctionTransformer(
        lambda F: np.column_stack([(F["race"] == "Asian") * 10.0, F["hours"] / 1e3]))
    ).fit(frame)
    target = finder.predict(frame)[np.flatnonzero(race == "Asian")[0]]
    rule = finder.describe(target)
    assert "annotation" not in str(rule) and "race" in str(rule), str(rule)
    assert rule.coverage == rule.precision == 1.0
    # a table of annotation columns only is still described by them
    only = ClusterMatch(n_clusters=2, random_state=0).fit(frame[[annotation_column("race")]])
    assert "annotation:race" in only.describe_text(0)

"""FeatureMatch: known answers on hand-made data and on the paper's Adult."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from skpoison.subpopulations import FeatureMatch


@pytest.fixture
def frame():
    # combinations, sorted: ('a','f')=0, ('a','m')=1, ('b','f')=2, ('b','m')=3
    return pd.DataFrame({
        "race": ["a", "a", "b", "b", "b"],
        "sex": ["m", "f", "m", "m", "f"],
        "age": [30, 40, 50, 60, 70],
    })


@pytest.fixture
def array():
    # columns 0 and 2; combinations, sorted: (0, 5)=0, (0, 7)=1, (1, 5)=2
    return np.array([
        [0, 9, 5],
        [1, 8, 5],
        [0, 7, 7],
        [1, 6, 5],
        [1, 5, 5],
    ])


def _sized_array(sizes):
    """One column whose value ``i`` occurs ``sizes[i]`` times (rows shuffled)."""
    values = np.repeat(np.arange(len(sizes)), sizes)
    values = np.random.RandomState(0).permutation(values)
    return np.column_stack([values, np.zeros_like(values)]).astype(float)


# ------------------------------------------------------------ known answers
def test_frame_combinations_ids_and_sizes(frame):
    finder = FeatureMatch(["race", "sex"]).fit(frame)
    assert finder.combinations_ == [("a", "f"), ("a", "m"), ("b", "f"), ("b", "m")]
    assert_array_equal(finder.subpopulations_, [0, 1, 2, 3])
    assert_array_equal(finder.sizes_, [1, 1, 1, 2])
    assert_array_equal(finder.predict(frame), [1, 0, 3, 3, 2])
    assert finder.target_ == 3  # largest by default
    assert_array_equal(finder.membership(frame), [False, False, True, True, False])
    assert finder.n_features_in_ == 3
    assert_array_equal(finder.feature_names_in_, ["race", "sex", "age"])


def test_array_combinations_ids_and_sizes(array):
    finder = FeatureMatch([0, 2]).fit(array)
    assert finder.combinations_ == [(0, 5), (0, 7), (1, 5)]
    assert_array_equal(finder.predict(array), [0, 2, 1, 2, 2])
    assert_array_equal(finder.sizes_, [1, 1, 3])
    assert finder.target_ == 2
    assert not hasattr(finder, "feature_names_in_")


def test_single_column_given_as_scalar(frame, array):
    assert FeatureMatch("race").fit(frame).combinations_ == [("a",), ("b",)]
    assert FeatureMatch(0).fit(array).combinations_ == [(0,), (1,)]


def test_ids_are_positions_in_sorted_combinations(frame):
    # rows in another order: ids do not depend on first-seen order
    shuffled = frame.iloc[::-1]
    finder = FeatureMatch(["race", "sex"]).fit(shuffled)
    for i, combo in enumerate(finder.combinations_):
        rows = frame[(frame.race == combo[0]) & (frame.sex == combo[1])]
        assert_array_equal(finder.predict(rows), np.full(len(rows), i))


def test_predict_unseen_combination_is_minus_one(frame):
    finder = FeatureMatch(["race", "sex"]).fit(frame)
    new = pd.DataFrame({"race": ["c", "a", "b"], "sex": ["m", "x", "f"],
                        "age": [1, 2, 3]})
    assert_array_equal(finder.predict(new), [-1, -1, 2])
    assert_array_equal(finder.membership(new), [False, False, False])


def test_predict_size_filtered_is_minus_one(array):
    # sizes are 1, 1, 3: min_size=1 keeps only id 2
    finder = FeatureMatch([0, 2], min_size=1).fit(array)
    assert_array_equal(finder.subpopulations_, [2])
    assert_array_equal(finder.predict(array), [-1, 2, -1, 2, 2])


def test_size_filter_is_strict_at_both_ends():
    X = _sized_array([10, 11, 99, 100])
    finder = FeatureMatch([0], min_size=10, max_size=100).fit(X)
    assert_array_equal(finder.subpopulations_, [1, 2])
    assert_array_equal(finder.sizes_, [11, 99])
    ids = finder.predict(X)
    assert_array_equal(np.unique(ids), [-1, 1, 2])
    assert (ids == -1).sum() == 10 + 100
    assert_array_equal(finder.predict(np.array([[0.0, 0], [3.0, 0]])), [-1, -1])


def test_size_filter_only_one_side():
    X = _sized_array([10, 11, 99, 100])
    assert_array_equal(FeatureMatch([0], min_size=11).fit(X).sizes_, [99, 100])
    assert_array_equal(FeatureMatch([0], max_size=11).fit(X).sizes_, [10])


def test_no_subpopulation_passes_the_filter():
    X = _sized_array([10, 11])
    with pytest.raises(ValueError, match="size"):
        FeatureMatch([0], min_size=11).fit(X)
    with pytest.raises(ValueError, match="size"):
        FeatureMatch([0], min_size=10, max_size=11).fit(X)


# ------------------------------------------------------------- target rules
def test_target_rules():
    X = _sized_array([3, 7, 5, 7, 2])
    assert FeatureMatch([0], target="largest").fit(X).target_ == 1  # tie: smaller id
    assert FeatureMatch([0], target="smallest").fit(X).target_ == 4
    # the rules pick among kept subpopulations only
    finder = FeatureMatch([0], target="smallest", min_size=2).fit(X)
    assert finder.target_ == 0
    finder = FeatureMatch([0], target="largest", max_size=7).fit(X)
    assert finder.target_ == 2


def test_random_target_is_seeded_and_kept():
    X = _sized_array([3, 7, 5, 7, 2, 4, 6])
    targets = set()
    for seed in range(20):
        a = FeatureMatch([0], target="random", min_size=2, random_state=seed).fit(X)
        b = FeatureMatch([0], target="random", min_size=2, random_state=seed).fit(X)
        assert a.target_ == b.target_
        assert a.target_ in a.subpopulations_
        targets.add(a.target_)
    assert 4 not in targets  # size 2 is filtered out
    assert len(targets) > 1  # really drawn, not fixed


def test_explicit_target(frame):
    finder = FeatureMatch(["race", "sex"], target=2).fit(frame)
    assert finder.target_ == 2
    assert_array_equal(finder.membership(frame), [False, False, False, False, True])


@pytest.mark.parametrize("target", [4, -1, 99])
def test_unknown_target(frame, target):
    with pytest.raises(ValueError, match="target"):
        FeatureMatch(["race", "sex"], target=target).fit(frame)


def test_filtered_target_is_unknown(array):
    with pytest.raises(ValueError, match="target"):
        FeatureMatch([0, 2], target=0, min_size=1).fit(array)


def test_membership_of_another_target(frame):
    finder = FeatureMatch(["race", "sex"]).fit(frame)
    assert_array_equal(finder.membership(frame, target=0),
                       [False, True, False, False, False])
    assert finder.target_ == 3
    with pytest.raises(ValueError, match="target"):
        finder.membership(frame, target=7)


def test_retarget_returns_fitted_copy(frame):
    finder = FeatureMatch(["race", "sex"]).fit(frame)
    other = finder.retarget(1)
    assert other is not finder
    assert other.target_ == 1 and other.target == 1
    assert_array_equal(other.membership(frame), [True, False, False, False, False])
    # the original is unchanged
    assert finder.target_ == 3 and finder.target is None
    assert_array_equal(finder.membership(frame), [False, False, True, True, False])
    assert finder.retarget("smallest").target_ == 0
    with pytest.raises(ValueError, match="target"):
        finder.retarget(9)


# ---------------------------------------------------------------- transform
def test_transform_one_hot(frame):
    finder = FeatureMatch(["race", "sex"], min_size=0).fit(frame)
    Xt = finder.transform(frame)
    expected = np.array([
        [0, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 1],
        [0, 0, 0, 1],
        [0, 0, 1, 0],
    ], dtype=float)
    assert Xt.dtype == np.float64
    assert_array_equal(Xt, expected)
    assert_array_equal(finder.get_feature_names_out(),
                       [f"featurematch_{i}" for i in range(4)])


def test_transform_columns_are_kept_subpopulations_only(array):
    finder = FeatureMatch([0, 2], min_size=1).fit(array)
    Xt = finder.fit_transform(array)
    assert Xt.shape == (5, 1)
    assert_array_equal(Xt[:, 0], [0, 1, 0, 1, 1])


def test_describe(frame, array):
    finder = FeatureMatch(["race", "sex"]).fit(frame)
    assert finder.describe(3) == {"race": "b", "sex": "m"}
    assert finder.describe(0) == {"race": "a", "sex": "f"}
    assert FeatureMatch([0, 2]).fit(array).describe(1) == {0: 0, 2: 7}


# ---------------------------------------------------------------- bad input
def test_column_names_need_a_dataframe(frame):
    with pytest.raises(ValueError, match="DataFrame"):
        FeatureMatch(["race"]).fit(frame.to_numpy())


def test_missing_column_is_named(frame):
    with pytest.raises(ValueError, match="education"):
        FeatureMatch(["race", "education"]).fit(frame)


def test_column_position_out_of_range(array):
    with pytest.raises(ValueError, match="out of range"):
        FeatureMatch([0, 3]).fit(array)


@pytest.mark.parametrize("missing", [np.nan, None, pd.NA])
def test_missing_annotation_is_its_own_category_in_frames(frame, missing):
    frame = frame.astype({"race": object})
    frame.loc[1, "race"] = missing
    frame.loc[4, "race"] = missing
    finder = FeatureMatch(["race", "sex"]).fit(frame)
    # missing sorts after the values; both missing rows are ("missing", "f"),
    # ("missing", "f"): rows 1 (f) and 4 (f)
    assert finder.combinations_ == [("a", "m"), ("b", "m"), (None, "f")]
    assert_array_equal(finder.predict(frame), [0, 2, 1, 1, 2])
    assert finder.describe(2) == {"race": None, "sex": "f"}
    assert finder.describe_text(2) == "race is missing, sex=f"
    # every kind of missing value at predict time meets the same group
    new = pd.DataFrame({"race": [np.nan, None, pd.NA, "a", "zzz"],
                        "sex": ["f", "f", "f", "m", "m"], "age": [1] * 5},
                       ).astype({"race": object})
    assert_array_equal(finder.predict(new), [2, 2, 2, 0, -1])
    assert_array_equal(finder.membership(new, target=2),
                       [True, True, True, False, False])


def test_missing_annotation_in_arrays():
    X = np.array([[0.0, 1.0], [np.nan, 1.0], [np.nan, 2.0], [1.0, 3.0]])
    finder = FeatureMatch([0]).fit(X)
    assert finder.combinations_ == [(0.0,), (1.0,), (None,)]
    assert_array_equal(finder.predict(X), [0, 2, 2, 1])
    assert finder.target_ == 2
    assert finder.describe_text(2) == "0 is missing"
    objects = np.array([["x"], [None], [np.nan], ["y"]], dtype=object)
    finder = FeatureMatch([0]).fit(objects)
    assert finder.combinations_ == [("x",), ("y",), (None,)]
    assert_array_equal(finder.predict(objects), [0, 2, 2, 1])


def test_infinity_in_an_annotation_is_rejected():
    with pytest.raises(ValueError, match="infinity"):
        FeatureMatch([0]).fit(np.array([[0.0], [np.inf]]))
    frame = pd.DataFrame({"a": [0.0, np.inf], "b": [1, 2]})
    with pytest.raises(ValueError, match="infinity.*'a'"):
        FeatureMatch(["a"]).fit(frame)


def test_strings_categoricals_ints_and_extension_dtypes_in_frames():
    frame = pd.DataFrame({
        "s": pd.array(["x", None, "y", "x", "y", None], dtype="string"),
        "c": pd.Categorical(["u", "v", None, "u", "u", "v"]),
        "i": pd.array([1, 2, None, 1, 1, 2], dtype="Int64"),
        "o": ["p", np.nan, "p", "p", None, np.nan],
        "b": [True, False, True, True, False, False],
        "noise": ["free text", 3, None, 4.5, "z", object()],
    })
    copy = frame.copy()
    finder = FeatureMatch(["s", "c", "i", "o", "b"]).fit(frame)
    pd.testing.assert_frame_equal(frame, copy)  # not modified
    assert finder.combinations_ == [
        ("x", "u", 1, "p", True), ("y", "u", 1, None, False),
        ("y", None, None, "p", True), (None, "v", 2, None, False)]
    assert_array_equal(finder.predict(frame), [0, 3, 2, 0, 1, 3])
    assert finder.target_ == 0  # the largest, ("x", "u", 1, "p", True)
    assert finder.describe_text(3) == (
        "s is missing, c=v, i=2, o is missing, b=False")
    # the same values in other dtypes (object instead of string / category /
    # Int64) meet the same groups
    plain = frame.astype({"s": object, "c": object, "i": object})
    assert_array_equal(finder.predict(plain), [0, 3, 2, 0, 1, 3])


def test_nan_outside_the_annotation_is_allowed_in_frames(frame):
    frame = frame.astype({"age": float})
    frame.loc[0, "age"] = np.nan
    assert FeatureMatch(["race", "sex"]).fit(frame).target_ == 3


def test_predict_checks_number_of_features(array):
    finder = FeatureMatch([0]).fit(array)
    with pytest.raises(ValueError, match="features"):
        finder.predict(array[:, :2])


# ------------------------------------------------------------ paper's Adult
def test_adult_paper_feature_match():
    from skpoison.datasets import load_adult

    bunch = load_adult(form="paper")
    finder = FeatureMatch(bunch.annotation_columns, min_size=10, max_size=100)
    finder.fit(bunch.X_aux)
    n_combinations = len(finder.combinations_)
    n_kept = len(finder.subpopulations_)
    counts = f"{n_combinations} combinations, {n_kept} kept"
    # the authors' notebook: 122 combinations, 35 kept (another random split)
    assert 100 <= n_combinations <= 140, counts
    assert 25 <= n_kept <= 45, counts
    assert np.all(finder.sizes_ > 10) and np.all(finder.sizes_ < 100), counts
    ids = finder.predict(bunch.X_aux)
    assert_array_equal(np.bincount(ids[ids >= 0])[finder.subpopulations_],
                       finder.sizes_)
    # one-hot with a dropped first level: at most one education level and
    # one race indicator per combination
    for i in finder.subpopulations_:
        described = finder.describe(i)
        assert set(described.values()) <= {0.0, 1.0}, described
        for group in ("education_num_", "race_"):
            n_set = sum(v for k, v in described.items() if k.startswith(group))
            assert n_set <= 1, described


def test_describe_validates_ids(frame):
    finder = FeatureMatch(["race", "sex"], min_size=1).fit(frame)
    for bad in (-1, 4, 99):
        with pytest.raises(ValueError, match=rf"subpopulation={bad}.*0 to 3.*\[3\]"):
            finder.describe(bad)
        with pytest.raises(ValueError, match=rf"subpopulation={bad}"):
            finder.describe_text(bad)
    for bad in ("3", 1.0, True, None):
        with pytest.raises(TypeError, match="integer id"):
            finder.describe(bad)
    assert finder.describe(np.int64(3)) == {"race": "b", "sex": "m"}
    # an id that did not pass the size filter is still described
    assert finder.describe(0) == {"race": "a", "sex": "f"}


def test_describe_text_numbers_without_separators_and_quoted_commas():
    import pandas as pd

    frame = pd.DataFrame({"year": [2008, 2008, 1999], "gain": [15024.0, 15024.0, 0.5],
                          "work": ["Self-emp, inc", "Self-emp, inc", "Private"]})
    finder = FeatureMatch(["year", "gain", "work"]).fit(frame)
    names = sorted(finder.describe_text(s) for s in finder.subpopulations_)
    assert names == ['year=1999, gain=0.5, work=Private',
                     'year=2008, gain=15024, work="Self-emp, inc"']

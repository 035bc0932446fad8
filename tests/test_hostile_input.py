"""The hostile-input table: every public estimator, found by discovery.

Every public estimator class of :mod:`skpoison.attacks`,
:mod:`skpoison.defenses`, :mod:`skpoison.subpopulations` and
:mod:`skpoison.pipeline` (walked through their ``__all__``) must have a cheap
instance in ``FACTORIES``; a new class without one fails
``test_every_public_estimator_has_a_factory``, so it cannot be skipped
silently. Each instance is fed every input of ``HOSTILE_INPUTS``; attacks also
get hostile ``aux``, ``alpha`` and ``bounds``; the finders get ids out of range;
the metrics and scorers get labels that cannot match the model.

The outcome of each case must be either a correct result, or a clear error: a
``ValueError`` or ``TypeError`` (sklearn's ``InvalidParameterError`` and
``NotFittedError`` are both) whose message matches the case's regex -- it names
the parameter or the problem. The caller's data must be unchanged after every
case, whatever its outcome. Each case records its outcome (``result``,
``error`` or ``xfail``) as a junit property, for the counts in the changelog.
"""

import inspect
import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, is_classifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import skpoison.attacks
import skpoison.defenses
import skpoison.pipeline
import skpoison.subpopulations
from skpoison.attacks import (
    GradientPoison,
    InfluencePoison,
    LabelFlip,
    ModelTargetedPoison,
    WitchesBrew,
)
from skpoison.defenses import (
    SEVER,
    TRIM,
    ActivationClustering,
    FinePruning,
    LabelFlipCertifier,
    PartitionAggregation,
    SpectralSignatures,
)
from skpoison.metrics import (
    certified_fraction,
    collateral_accuracy_scorer,
    subpopulation_damage,
    target_accuracy_scorer,
)
from skpoison.nets import make_mlp_classifier
from skpoison.pipeline import PoisonedEstimator
from skpoison.subpopulations import ClusterMatch, FeatureMatch, rank_subpopulations
from tests.test_bad_input import (  # the input builders the two sweeps share
    CLEAR_ERRORS,
    _base,
    _empty,
    _string_labels,
    _x_1d,
    _x_3d,
)
from tests.test_common import _data

# CLEAR_ERRORS: ValueError and TypeError (InvalidParameterError, NotFittedError too)


@pytest.fixture(autouse=True)
def _one_thread():
    # k-means' OpenMP threads oversubscribe a small CI machine
    with threadpool_limits(1):
        yield


# ------------------------------------------------------------------ factories
def _net(**kwargs):
    return make_mlp_classifier((4,), max_epochs=2, random_state=0, **kwargs)


# class name -> cheap default instances (tiny data, few iterations, 2 epochs)
FACTORIES = {
    "FeatureMatch": [lambda: FeatureMatch(columns=[0])],
    "ClusterMatch": [lambda: ClusterMatch(n_clusters=3, random_state=0)],
    "LabelFlip": [lambda: LabelFlip(ClusterMatch(n_clusters=3), random_state=0)],
    "GradientPoison": [lambda: GradientPoison(ClusterMatch(n_clusters=3), n_iter=2,
                                              random_state=0)],
    "InfluencePoison": [lambda: InfluencePoison(ClusterMatch(n_clusters=3), n_iter=2,
                                                refit_every=2, random_state=0)],
    "ModelTargetedPoison": [lambda: ModelTargetedPoison(ClusterMatch(n_clusters=3),
                                                        max_poisons=5, random_state=0)],
    "WitchesBrew": [lambda: WitchesBrew(n_targets=2, budget=0.1, n_iter=2, restarts=1,
                                        estimator=_net(), augment=False,
                                        random_state=0)],
    "TRIM": [lambda: TRIM(LogisticRegression(), n_remove=2, max_iter=2)],
    "SEVER": [lambda: SEVER(LogisticRegression(), n_remove=2, max_iter=2)],
    "ActivationClustering": [lambda: ActivationClustering(LogisticRegression(),
                                                          random_state=0)],
    "SpectralSignatures": [lambda: SpectralSignatures(LogisticRegression())],
    "FinePruning": [lambda: FinePruning(_net(), layer="hidden.0", fine_tune_epochs=1,
                                        random_state=0)],
    "LabelFlipCertifier": [lambda: LabelFlipCertifier(alpha=1.0, q=0.1)],
    "PartitionAggregation": [
        lambda: PartitionAggregation(LogisticRegression(), n_partitions=3,
                                     random_state=0),
        lambda: PartitionAggregation(LogisticRegression(), n_partitions=3, n_shares=2,
                                     random_state=0),
    ],
    "PoisonedEstimator": [lambda: PoisonedEstimator(
        LabelFlip(ClusterMatch(n_clusters=3), random_state=0), LogisticRegression())],
}


def _public_estimator_classes():
    for module in (skpoison.attacks, skpoison.defenses, skpoison.subpopulations,
                   skpoison.pipeline):
        for name in module.__all__:
            obj = getattr(module, name)
            if (inspect.isclass(obj) and issubclass(obj, BaseEstimator)
                    and not name.startswith("Base") and name != "Pipeline"):
                yield name, obj


PUBLIC = dict(_public_estimator_classes())


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_estimator_has_a_factory(name):
    assert name in FACTORIES, (
        f"{name} is public but has no entry in tests/test_hostile_input.py::FACTORIES;"
        " add a cheap instance so that the hostile-input table covers it")
    for make in FACTORIES[name]:
        assert type(make()) is PUBLIC[name]


def test_factories_name_public_classes():
    assert set(FACTORIES) <= set(PUBLIC)


INSTANCES = [(f"{name}{i or ''}", make) for name in sorted(FACTORIES)
             if name in PUBLIC for i, make in enumerate(FACTORIES[name])]
IDS = [i for i, _ in INSTANCES]


# ----------------------------------------------------------------- helpers
def _copy(obj):
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return obj.copy(deep=True)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, tuple):
        return tuple(_copy(o) for o in obj)
    return obj


def _assert_same(before, after):
    if isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(before, after)
    elif isinstance(before, pd.Series):
        pd.testing.assert_series_equal(before, after)
    elif isinstance(before, np.ndarray):
        assert_array_equal(before, after)
    elif isinstance(before, tuple):
        for b, a in zip(before, after):
            _assert_same(b, a)


def _run(estimator, X, y):
    """Fit (or fit_resample) and return what the estimator produces."""
    out = {}
    if hasattr(estimator, "fit_resample"):
        X_res, y_res = estimator.fit_resample(X, y)
        out["X_res"], out["y_res"] = np.asarray(X_res), np.asarray(y_res)
    else:
        estimator.fit(X, y)
    for method in ("predict", "predict_proba", "transform"):
        if hasattr(estimator, method):
            out[method] = np.asarray(getattr(estimator, method)(X))
    return out


def _outcome(record_property, what):
    record_property("outcome", what)


def _expect_clear(exc, pattern, context):
    message = str(exc)
    assert re.search(pattern, message, flags=re.IGNORECASE), (
        f"{context}: the error does not name the parameter or the problem "
        f"(expected /{pattern}/): {type(exc).__name__}: {message}")


# ------------------------------------------------------------- hostile inputs
def _frame(X):
    return pd.DataFrame(X, columns=["a", "b", "c"])


def _nan_x():
    X, y = _base()
    X[3, 1] = np.nan
    return X, y


def _inf_x():
    X, y = _base()
    X[3, 1] = np.inf
    return X, y


def _ninf_x():
    X, y = _base()
    X[5, 2] = -np.inf
    return X, y


def _nan_y():
    X, y = _base()
    y = y.astype(float)
    y[4] = np.nan
    return X, y


def _inf_y():
    X, y = _base()
    y = y.astype(float)
    y[4] = np.inf
    return X, y


def _one_class():
    X, y = _base()
    return X, np.zeros_like(y)


def _short_y():
    X, y = _base()
    return X, y[:-3]


def _long_y():
    X, y = _base()
    return X, np.r_[y, y[:3]]


def _x_3d_wide():
    X, y = _base()
    return np.stack([X, X], axis=2), y


def _string_column():
    X, y = _base()
    frame = _frame(X)
    frame["b"] = np.where(X[:, 1] > 5, "high", "low")
    return frame, y


def _categorical_column():
    X, y = _base()
    frame = _frame(X)
    frame["b"] = pd.Categorical(np.where(X[:, 1] > 5, "high", "low"))
    return frame, y


def _object_numbers_as_text():
    X, y = _base()
    frame = _frame(X)
    frame["c"] = frame["c"].map(lambda v: f"{v:.3f}")
    return frame, y


def _nan_frame():
    X, y = _base()
    frame = _frame(X)
    frame.loc[7, "c"] = np.nan
    return frame, pd.Series(y, name="target")


def _nan_y_series():
    X, y = _base()
    y = pd.Series(y.astype(float), name="target")
    y[2] = np.nan
    return _frame(X), y


NUMBERS = r"NaN|inf|infinity|finite"
# name -> (make data, must it raise?, regex the message must match)
# must raise: True an error, False a correct result, None either.
HOSTILE_INPUTS = {
    "nan_X": (_nan_x, None, NUMBERS),
    "inf_X": (_inf_x, None, NUMBERS),
    "neg_inf_X": (_ninf_x, None, NUMBERS),
    "nan_in_frame": (_nan_frame, None, NUMBERS),
    "nan_y": (_nan_y, True, NUMBERS + r"|label|y"),
    "nan_y_series": (_nan_y_series, True, NUMBERS + r"|label|y"),
    "inf_y": (_inf_y, True, NUMBERS + r"|label|y|continuous"),
    "one_class_y": (_one_class, None, r"class"),
    "short_y": (_short_y, True, r"length|samples|rows|labels|inconsistent"),
    "long_y": (_long_y, True, r"length|samples|rows|labels|inconsistent"),
    "string_labels": (_string_labels, False, r""),
    "empty_X": (_empty, True, r"0 sample|empty|no rows|minimum|0 rows"),
    "X_1d": (_x_1d, True, r"2D|2-D|1D|1-D|reshape|dimension"),
    "X_3d": (_x_3d, True, r"3D|3-D|2D|2-D|dimension|dim"),
    "X_3d_wide": (_x_3d_wide, True, r"3D|3-D|2D|2-D|dimension|dim"),
    "string_column": (_string_column, None, r"\bb\b"),
    "categorical_column": (_categorical_column, None, r"\bb\b"),
    "numbers_as_text": (_object_numbers_as_text, None, r"\bc\b"),
}

# A finder is unsupervised: it ignores y, so label problems are not its business,
# and FeatureMatch's annotation columns may be strings (that is what they are).
UNSUPERVISED = {"FeatureMatch", "ClusterMatch"}
LABEL_CASES = {"nan_y", "nan_y_series", "inf_y", "one_class_y", "short_y", "long_y",
               "string_labels"}

# Defenses and PoisonedEstimator hand X to the wrapped estimator as given (a
# pipeline with an encoder takes string columns): the wrapped model's own error
# names the value it cannot convert.
WRAPPERS = {"TRIM", "SEVER", "ActivationClustering", "SpectralSignatures",
            "FinePruning", "PartitionAggregation", "PoisonedEstimator"}
WRAPPED_TEXT = r"could not convert string|string to float"
# (estimator id, case) -> reason: cases known to fail, to fix
XFAIL = {}


def _check_result(estimator, out, X, y):
    """A result, when one comes back, must be correct, not merely returned."""
    n = X.shape[0]
    y = np.asarray(y)
    labels = set(np.unique(y).tolist())
    if "y_res" in out:
        assert out["X_res"].shape[0] == out["y_res"].shape[0] >= n
        assert set(np.unique(out["y_res"]).tolist()) <= labels
        assert_array_equal(out["y_res"][:n], y)  # originals unchanged, in order
    if "predict" in out and is_classifier(estimator):
        assert out["predict"].shape == (n,)
        assert set(np.unique(out["predict"]).tolist()) <= labels
    if "predict_proba" in out:
        assert np.all(np.isfinite(out["predict_proba"]))
        np.testing.assert_allclose(out["predict_proba"].sum(axis=1), 1, rtol=1e-5)


def _params(cases, instances=INSTANCES):
    for est_id, make in instances:
        for case in cases:
            marks = []
            if (est_id, case) in XFAIL:
                marks = [pytest.mark.xfail(strict=True, reason=XFAIL[est_id, case])]
            yield pytest.param(est_id, make, case, id=f"{est_id}-{case}", marks=marks)


@pytest.mark.parametrize("est_id, make, case", list(_params(HOSTILE_INPUTS)))
def test_hostile_input(est_id, make, case, record_property):
    make_data, must_raise, pattern = HOSTILE_INPUTS[case]
    estimator = make()
    name = type(estimator).__name__
    X, y = make_data()
    if name in UNSUPERVISED and case in LABEL_CASES:
        must_raise = None  # y is ignored
    if name in WRAPPERS and case in ("string_column", "categorical_column",
                                     "numbers_as_text"):
        pattern = f"{pattern}|{WRAPPED_TEXT}"
    X_before, y_before = _copy(X), _copy(y)
    try:
        out = _run(estimator, X, y)
    except CLEAR_ERRORS as exc:
        _outcome(record_property, "error")
        assert must_raise is not False, f"{name} rejected valid input {case!r}: {exc}"
        _expect_clear(exc, pattern, f"{name} on {case!r}")
        return
    finally:
        _assert_same(X_before, X)
        _assert_same(y_before, y)
    _outcome(record_property, "result")
    assert must_raise is not True, f"{name} accepted bad input {case!r} silently"
    _check_result(estimator, out, np.asarray(X) if not hasattr(X, "shape") else X, y)


# ------------------------------------------------------------- determinism
@pytest.mark.parametrize("est_id, make", INSTANCES, ids=IDS)
@pytest.mark.parametrize("kind", ["numpy", "pandas"])
def test_same_random_state_same_outputs(est_id, make, kind, record_property):
    X, y = _data()
    if kind == "pandas":
        X, y = _frame(X), pd.Series(y, name="target")
    first, second = _run(make(), X, y), _run(make(), X, y)
    assert first.keys() == second.keys() and first
    for key in first:
        assert_array_equal(first[key], second[key], err_msg=key)
    _outcome(record_property, "result")


# --------------------------------------------------------------------- aux
ATTACKS_WITH_AUX = {
    "LabelFlip": lambda **kw: LabelFlip(ClusterMatch(n_clusters=3, random_state=0),
                                        random_state=0, **kw),
    "GradientPoison": lambda **kw: GradientPoison(
        ClusterMatch(n_clusters=3, random_state=0), n_iter=2, random_state=0, **kw),
    "InfluencePoison": lambda **kw: InfluencePoison(
        ClusterMatch(n_clusters=3, random_state=0), n_iter=2, refit_every=2,
        random_state=0, **kw),
}


def _aux_data():
    X, y = _data()
    rng = np.random.RandomState(1)
    X_aux = X + rng.normal(0, 0.1, X.shape)
    X_aux[:, 0] = X[:, 0]
    return _frame(X), pd.Series(y, name="target"), _frame(X_aux), y.copy()


def _aux_short_y():
    X, y, X_aux, y_aux = _aux_data()
    return X, y, (X_aux, y_aux[:-2])


def _aux_columns():
    X, y, X_aux, y_aux = _aux_data()
    return X, y, (X_aux.iloc[:, :2], y_aux)


def _aux_columns_numpy():
    X, y, X_aux, y_aux = _aux_data()
    return X.to_numpy(), y, (X_aux.to_numpy()[:, :2], y_aux)


def _aux_renamed():
    X, y, X_aux, y_aux = _aux_data()
    return X, y, (X_aux.rename(columns={"b": "bee"}), y_aux)


def _aux_strings():
    X, y, X_aux, y_aux = _aux_data()
    X_aux["b"] = X_aux["b"].map(lambda v: f"{v:.2f}")
    return X, y, (X_aux, y_aux)


def _aux_nan():
    X, y, X_aux, y_aux = _aux_data()
    X_aux.loc[3, "c"] = np.nan
    return X, y, (X_aux, y_aux)


def _aux_nan_y():
    X, y, X_aux, y_aux = _aux_data()
    y_aux = y_aux.astype(float)
    y_aux[3] = np.nan
    return X, y, (X_aux, y_aux)


def _aux_new_labels():
    X, y, X_aux, y_aux = _aux_data()
    return X, y, (X_aux, np.where(y_aux == 1, "yes", "no"))


def _aux_1d():
    X, y, X_aux, y_aux = _aux_data()
    return X, y, (X_aux["a"].to_numpy(), y_aux)


def _aux_not_pair():
    X, y, X_aux, y_aux = _aux_data()
    return X, y, (X_aux, y_aux, y_aux)


def _aux_frame_vs_array():
    X, y, X_aux, y_aux = _aux_data()
    return X, y, (X_aux.to_numpy(), y_aux)


# name -> (make (X, y, aux), regex)
AUX_CASES = {
    "y_aux_length": (_aux_short_y, r"y_aux|aux"),
    "aux_columns": (_aux_columns, r"X_aux|aux"),
    "aux_columns_numpy": (_aux_columns_numpy, r"X_aux|aux"),
    "aux_renamed": (_aux_renamed, r"bee"),
    "aux_strings": (_aux_strings, r"\bb\b"),
    "aux_nan": (_aux_nan, r"X_aux|aux"),
    "aux_nan_y": (_aux_nan_y, r"y_aux|aux|NaN"),
    "aux_new_labels": (_aux_new_labels, r"y_aux|aux|label|class"),
    "aux_1d": (_aux_1d, r"X_aux|aux"),
    "aux_not_pair": (_aux_not_pair, r"aux"),
}
# LabelFlip copies rows and accepts NaN in X (the victim may impute): in X_aux too
AUX_MAY_PASS = {("LabelFlip", "aux_nan")}


@pytest.mark.parametrize("case", list(AUX_CASES))
@pytest.mark.parametrize("name", list(ATTACKS_WITH_AUX))
def test_hostile_aux(name, case, record_property):
    make_data, pattern = AUX_CASES[case]
    X, y, aux = make_data()
    before = _copy((X, y, aux))
    attack = ATTACKS_WITH_AUX[name](aux=aux)
    try:
        X_res, y_res = attack.fit_resample(X, y)
    except CLEAR_ERRORS as exc:
        _assert_same(before, (X, y, aux))
        _expect_clear(exc, pattern, f"{name} with {case!r}")
        _outcome(record_property, "error")
        return
    _assert_same(before, (X, y, aux))
    assert (name, case) in AUX_MAY_PASS, f"{name} accepted {case!r} silently"
    _check_result(attack, {"X_res": np.asarray(X_res), "y_res": np.asarray(y_res)},
                  X, y)
    _outcome(record_property, "result")


@pytest.mark.parametrize("name", list(ATTACKS_WITH_AUX))
def test_aux_array_against_frame_warns_and_matches_by_position(name,
                                                               record_property):
    X, y, X_aux, y_aux = _aux_data()
    aligned = ATTACKS_WITH_AUX[name](aux=(X_aux, y_aux)).fit_resample(X, y)
    with pytest.warns(UserWarning, match="X_aux"):
        by_position = ATTACKS_WITH_AUX[name](
            aux=(X_aux.to_numpy(), y_aux)).fit_resample(X, y)
    pd.testing.assert_frame_equal(aligned[0], by_position[0])
    assert_array_equal(aligned[1], by_position[1])
    _outcome(record_property, "result")


@pytest.mark.parametrize("name", list(ATTACKS_WITH_AUX))
def test_aux_columns_reordered_give_the_aligned_result(name, record_property):
    X, y, X_aux, y_aux = _aux_data()
    aligned = ATTACKS_WITH_AUX[name](aux=(X_aux, y_aux)).fit_resample(X, y)
    shuffled = X_aux[["c", "a", "b"]]
    before = _copy(shuffled)
    reordered = ATTACKS_WITH_AUX[name](aux=(shuffled, y_aux)).fit_resample(X, y)
    _assert_same(before, shuffled)
    pd.testing.assert_frame_equal(aligned[0], reordered[0])
    assert_array_equal(aligned[1], reordered[1])
    _outcome(record_property, "result")


@pytest.mark.parametrize("name", list(ATTACKS_WITH_AUX))
def test_aux_integer_columns_against_float(name, record_property):
    """Dtypes that differ but are both numbers: a correct result."""
    X, y, X_aux, y_aux = _aux_data()
    X_aux = X_aux.round().astype(int)
    X_res, y_res = ATTACKS_WITH_AUX[name](aux=(X_aux, y_aux)).fit_resample(X, y)
    assert list(X_res.columns) == list(X.columns)
    assert np.all(np.isfinite(X_res.to_numpy(dtype=float)))
    assert_array_equal(np.asarray(y_res)[: len(y)], y)
    _outcome(record_property, "result")


# ------------------------------------------------------------------- alpha
ATTACKS = {
    "LabelFlip": lambda **kw: LabelFlip(ClusterMatch(n_clusters=3), random_state=0,
                                        **kw),
    "GradientPoison": lambda **kw: GradientPoison(ClusterMatch(n_clusters=3), n_iter=2,
                                                  random_state=0, **kw),
    "InfluencePoison": lambda **kw: InfluencePoison(
        ClusterMatch(n_clusters=3), n_iter=2, refit_every=2, random_state=0, **kw),
}
ALPHAS = {"negative": -0.5, "nan": np.nan, "inf": np.inf, "1e9": 1e9, "1e300": 1e300,
          "string": "0.5", "none": None}


@pytest.mark.parametrize("alpha", list(ALPHAS))
@pytest.mark.parametrize("name", list(ATTACKS))
def test_extreme_alpha(name, alpha, record_property):
    X, y = _data()
    before = _copy((X, y))
    with pytest.raises(CLEAR_ERRORS) as info:
        ATTACKS[name](alpha=ALPHAS[alpha]).fit_resample(X, y)
    _assert_same(before, (X, y))
    _expect_clear(info.value, r"alpha", f"{name}(alpha={alpha})")
    _outcome(record_property, "error")


BUDGETS = {"negative": -0.5, "nan": np.nan, "inf": np.inf, "1e9": 1e9}


@pytest.mark.parametrize("budget", list(BUDGETS))
def test_extreme_budget_witches_brew(budget, record_property):
    X, y = _data()
    with pytest.raises(CLEAR_ERRORS) as info:
        FACTORIES["WitchesBrew"][0]().set_params(
            budget=BUDGETS[budget]).fit_resample(X, y)
    _expect_clear(info.value, r"budget", f"WitchesBrew(budget={budget})")
    _outcome(record_property, "error")


# ------------------------------------------------------------------ bounds
BOUNDS = {
    "nan": (np.nan, np.nan),
    "nan_lower": (np.nan, 1.0),
    "inf_upper_nan": (0.0, np.nan),
    "wrong_shape": (np.zeros(2), np.ones(2)),
    "wrong_shape_2d": (np.zeros((3, 3)), np.ones((3, 3))),
    "one_array": np.ones(3),
    "lower_above_upper": (1.0, 0.0),
    "three_items": (0.0, 1.0, 2.0),
    "strings": ("low", "high"),
}
BOUNDED = {
    "GradientPoison": lambda b: ATTACKS["GradientPoison"](bounds=b),
    "InfluencePoison": lambda b: ATTACKS["InfluencePoison"](bounds=b),
    "WitchesBrew": lambda b: FACTORIES["WitchesBrew"][0]().set_params(bounds=b),
}


@pytest.mark.parametrize("bounds", list(BOUNDS))
@pytest.mark.parametrize("name", list(BOUNDED))
def test_hostile_bounds(name, bounds, record_property):
    X, y = _data()
    before = _copy((X, y))
    with pytest.raises(CLEAR_ERRORS) as info:
        BOUNDED[name](BOUNDS[bounds]).fit_resample(X, y)
    _assert_same(before, (X, y))
    _expect_clear(info.value, r"bounds", f"{name}(bounds={bounds})")
    _outcome(record_property, "error")


@pytest.mark.parametrize("name", list(BOUNDED))
def test_valid_bounds_hold(name, record_property):
    X, y = _data()
    lower, upper = X.min(axis=0) - 1, X.max(axis=0) + 1
    X_res, _ = BOUNDED[name]((lower, upper)).fit_resample(X, y)
    assert np.all(np.isfinite(X_res))
    assert np.all(X_res >= lower - 1e-6) and np.all(X_res <= upper + 1e-6)
    _outcome(record_property, "result")


# ---------------------------------------------------------------- describe
FINDERS = {
    "FeatureMatch": lambda: FeatureMatch(columns=[0]),
    "ClusterMatch": lambda: ClusterMatch(n_clusters=3, random_state=0),
}
IDS_OUT = {"minus_one": -1, "99": 99, "n": 3, "float": 1.5, "string": "0",
           "none": None, "array": np.array([0, 1])}


@pytest.mark.parametrize("sub_id", list(IDS_OUT))
@pytest.mark.parametrize("name", list(FINDERS))
def test_describe_id_out_of_range(name, sub_id, record_property):
    X, y = _data()
    finder = FINDERS[name]().fit(X, y)
    with pytest.raises(CLEAR_ERRORS) as info:
        finder.describe(IDS_OUT[sub_id])
    _expect_clear(info.value, r"subpopulation|id", f"{name}.describe({sub_id})")
    _outcome(record_property, "error")


@pytest.mark.parametrize("name", list(FINDERS))
def test_describe_valid_ids(name, record_property):
    X, y = _data()
    finder = FINDERS[name]().fit(X, y)
    for sub in range(3):
        assert finder.describe(np.int64(sub))
    _outcome(record_property, "result")


# ----------------------------------------------------------------- metrics
@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    clean = LogisticRegression().fit(X, y)
    poisoned = PoisonedEstimator(
        LabelFlip(ClusterMatch(n_clusters=3, random_state=0), random_state=0),
        LogisticRegression()).fit(X, y)
    certifier = LabelFlipCertifier(alpha=1.0, q=0.1).fit(X, y)
    dpa = PartitionAggregation(LogisticRegression(), n_partitions=3,
                               random_state=0).fit(X, y)
    return X, y, clean, poisoned, certifier, dpa


def _bad_labels(y):
    return {
        "string_y": np.where(y == 1, "yes", "no"),
        "nan_y": np.where(y == 1, 1.0, np.nan),
        "one_nan": np.r_[y[:-1].astype(float), np.nan],
        "short_y": y[:-2],
    }


LABEL_PATTERNS = {
    "string_y": r"label|class",
    "nan_y": r"NaN|label|finite",
    "one_nan": r"NaN|label|finite",
    "short_y": r"length|samples|rows|inconsistent|labels",
}


def _metric_calls(X, y, clean, poisoned, certifier, dpa):
    mask = X[:, 0] == 1
    return {
        "subpopulation_damage": lambda yy: subpopulation_damage(clean, poisoned, X, yy,
                                                                mask),
        "target_accuracy_scorer": lambda yy: target_accuracy_scorer(poisoned, X, yy),
        "collateral_accuracy_scorer": lambda yy: collateral_accuracy_scorer(poisoned, X,
                                                                            yy),
        "rank_subpopulations": lambda yy: rank_subpopulations(
            ClusterMatch(n_clusters=3, random_state=0).fit(X), clean, X, yy),
        "certified_fraction_lfc": lambda yy: certified_fraction(certifier, X, yy, mask,
                                                                2),
        "certified_fraction_dpa": lambda yy: certified_fraction(dpa, X, yy, mask, 1),
    }


METRICS = ["subpopulation_damage", "target_accuracy_scorer",
           "collateral_accuracy_scorer", "rank_subpopulations",
           "certified_fraction_lfc", "certified_fraction_dpa"]


@pytest.mark.parametrize("labels", list(LABEL_PATTERNS))
@pytest.mark.parametrize("metric", METRICS)
def test_metric_bad_labels(fitted, metric, labels, record_property):
    X, y = fitted[:2]
    bad = _bad_labels(y)[labels]
    before = _copy((X, bad))
    with pytest.raises(CLEAR_ERRORS) as info:
        _metric_calls(*fitted)[metric](bad)
    _assert_same(before, (X, bad))
    _expect_clear(info.value, LABEL_PATTERNS[labels], f"{metric} with {labels!r}")
    _outcome(record_property, "error")


@pytest.mark.parametrize("metric", METRICS)
def test_metric_good_labels(fitted, metric, record_property):
    X, y = fitted[:2]
    result = _metric_calls(*fitted)[metric](y)
    assert result is not None
    _outcome(record_property, "result")


@pytest.mark.parametrize("metric", METRICS)
def test_metric_label_the_model_does_not_know_warns(fitted, metric, record_property):
    """A class absent from the training rows: a warning, the rows count as wrong."""
    X, y = fitted[:2]
    with pytest.warns(UserWarning, match="does not know"):
        result = _metric_calls(*fitted)[metric](np.where(y == 1, 1, 7))
    assert result is not None
    _outcome(record_property, "result")


MASKS = {
    "short_mask": lambda X: (X[:, 0] == 1)[:-1],
    "int_mask": lambda X: (X[:, 0] == 1).astype(int) * 3,
    "empty_mask": lambda X: np.zeros(X.shape[0], dtype=bool),
    "nan_mask": lambda X: np.where(X[:, 0] == 1, 1.0, np.nan),
}


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("metric", ["subpopulation_damage", "certified_fraction"])
def test_metric_bad_mask(fitted, metric, mask, record_property):
    X, y, clean, poisoned, certifier, _ = fitted
    bad = MASKS[mask](X)
    with pytest.raises(CLEAR_ERRORS) as info:
        if metric == "subpopulation_damage":
            subpopulation_damage(clean, poisoned, X, y, bad)
        else:
            certified_fraction(certifier, X, y, bad, 2)
    _expect_clear(info.value, r"mask", f"{metric} with {mask!r}")
    _outcome(record_property, "error")


# ---------------------------------------------------------------------------
# the command line with hostile files: one line `skpoison: error: <option>:
# <problem>`, exit status 2 and nothing written, or a correct result

CLI_QUICK = ["--alphas", "1", "--max-subpopulations", "1", "--n-jobs", "1", "--quiet",
             "--defenses", "none", "--n-clusters", "3"]


def _cli_table(n=120, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame({"age": rng.randint(18, 80, n),
                         "job": rng.choice(["a", "b", "c"], n), "y": np.arange(n) % 2})


def _write(path, content):
    if isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(content[0], encoding=content[1])
    return str(path)


def _module(folder, name, text):
    (folder / f"{name}.py").write_text(text)
    return name


def _cli(argv, tmp_path, capsys):
    """Run the command line in-process: ``(status, stderr line, written)``."""
    from skpoison.__main__ import main

    out = tmp_path / "out"
    try:
        status = main(["audit", *CLI_QUICK, *argv, "--out", str(out)])
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    _cli.out = captured.out
    return status, (err[-1] if err else ""), out.exists()


T = _cli_table()
HOSTILE_FILES = {  # name: (file content, extra argv, option of the error or None)
    "empty file": ("", [], "--data"),
    "header only": ("age,job,y\n", [], "--data"),
    "target missing": (T, ["--target", "salary"], "--target"),
    "target constant": (T.assign(y=1), [], "--target"),
    "one row of a second class": (T.assign(y=[1] + [0] * 119), [], "--target"),
    "50 classes": (_cli_table(400).assign(y=np.arange(400) % 50), [], None),
    "an all-missing column": (T.assign(empty=np.nan), ["--features", "job"], None),
    "duplicate column names": ("age,age,y\n" + "".join(f"{i},{i},{i % 2}\n"
                                                       for i in range(60)), [], "--data"),
    "a blank column name": ("age, ,y\n" + "".join(f"{i},{i % 3},{i % 2}\n"
                                                  for i in range(60)),
                            ["--feature", " "], None),
    "commas and spaces in a name": (T.rename(columns={"job": " job,x"}),
                                    ["--feature", " job,x"], None),
    "markup column names": (T.rename(columns={"job": "<b>job</b>"}),
                            ["--features", "<b>job</b>"], None),
    "formula and $ cells": (T.assign(job=np.array(["=HYPERLINK(\"x\")", "$x$", "@a"])[
        np.arange(120) % 3]), ["--features", "job"], None),
    "2,000 columns": (pd.concat([pd.DataFrame(np.random.RandomState(0).rand(120, 2000)),
                                 T[["y"]]], axis=1), [], None),
    "semicolon-separated": ((T.to_csv(index=False, sep=";"), "utf-8"), [], "--data"),
    "latin-1": ((T.assign(job=np.array(["café", "naïve"])[np.arange(120) % 2])
                 .to_csv(index=False), "latin-1"), ["--features", "job"], None),
    "binary named .csv": (bytes(np.random.RandomState(0).randint(0, 256, 3000)
                                .astype(np.uint8)), [], "--data"),
    "an annotation: column": (T.rename(columns={"job": "annotation:job"}), [], "--data"),
    "size filter on a small table": (T, ["--features", "job", "--filters",
                                         "FeatureMatch", "--max-size", "5"], "--max-size"),
    "dpa partitions over the rows": (T, ["--defenses", "none,dpa", "--n-partitions",
                                         "1000"], "--n-partitions"),
    "fine-pruning on a linear victim": (T, ["--defenses", "none,fine-pruning"],
                                        "--defenses"),
    "a negative seed": (T, ["--seeds=-1"], "--seeds"),
    "a random state over 2**32": (T, ["--random-state", "4294967296"], "--random-state"),
}


@pytest.mark.parametrize("case", list(HOSTILE_FILES))
def test_cli_hostile_file(case, tmp_path, capsys):
    content, argv, option = HOSTILE_FILES[case]
    path = _write(tmp_path / "table.csv", content)
    target = [] if "--target" in argv else ["--target", "y"]
    status, line, written = _cli(["--data", path, *target, *argv], tmp_path, capsys)
    if option is None:  # a correct result
        assert status == 0, line
        for name in ("results.csv", "groups.csv"):
            cells = pd.read_csv(tmp_path / "out" / name).select_dtypes(["object",
                                                                          "string"])
            assert not cells.map(lambda v: str(v)[:1] in "=+-@").any().any()
    else:
        assert status == 2, line
        assert line.startswith(f"skpoison: error: {option}: "), line
        assert "Error:" not in line and "\x1b" not in line
        assert not written  # nothing written, no empty store


ESTIMATORS = {  # name: (module text, factory, the error's words or None)
    "missing module": (None, "no_such_module_xyz:make", "No module named"),
    "failing import": ("raise RuntimeError('broken on import')\n", "make",
                       "broken on import"),
    "sys.exit on import": ("import sys\nsys.exit(3)\n", "make", "SystemExit"),
    "a non-estimator": ("def make():\n    return 'a string'\n", "make", "str"),
    "a regressor": ("def make():\n    from sklearn.linear_model import LinearRegression\n"
                    "    return LinearRegression()\n", "make", None),
    "no strings": ("def make():\n    from sklearn.linear_model import LogisticRegression\n"
                   "    return LogisticRegression()\n", "make", "could not convert"),
    "prefit": ("def make():\n    import numpy as np\n    from sklearn.frozen import "
               "FrozenEstimator\n    from sklearn.linear_model import LogisticRegression"
               "\n    return FrozenEstimator(LogisticRegression().fit(np.eye(2), [0, 1]))"
               "\n", "make", "FrozenEstimator"),
}


@pytest.mark.parametrize("case", list(ESTIMATORS))
def test_cli_hostile_estimator(case, tmp_path, capsys, monkeypatch):
    text, factory, words = ESTIMATORS[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    name = f"user_model_{abs(hash(case))}"
    spec = factory if text is None else f"{_module(tmp_path, name, text)}:{factory}"
    path = _write(tmp_path / "table.csv", T)
    status, line, written = _cli(["--data", path, "--target", "y", "--estimator", spec],
                                 tmp_path, capsys)
    assert status == 2, line
    assert line.startswith("skpoison: error: --estimator: "), line
    assert words is None or words in line, line
    assert not written


def test_cli_other_columns_in_test_or_aux(tmp_path, capsys):
    path = _write(tmp_path / "table.csv", T)
    for option, other in (("--test", T.rename(columns={"age": "AGE"})),
                          ("--aux", T.drop(columns="job"))):
        status, line, written = _cli(
            ["--data", path, "--target", "y", option,
             _write(tmp_path / "other.csv", other)], tmp_path, capsys)
        assert status == 2 and line.startswith(f"skpoison: error: {option}: "), line
        assert not written


def test_cli_control_characters_are_not_printed(tmp_path, capsys):
    path = _write(tmp_path / "table.csv", T)
    folder = tmp_path / "store\x1b[31m"  # a folder given as the store: named raw
    folder.mkdir()
    status, line, _ = _cli(["--data", path, "--target", "y", "--store", str(folder)],
                           tmp_path, capsys)
    assert status == 2 and line.startswith("skpoison: error: --store: "), line
    assert "\x1b" not in line and "store?[31m" in line, line


def test_cli_suggests_columns_of_the_users_table(tmp_path, capsys):
    path = _write(tmp_path / "table.csv", T)
    status, _, _ = _cli(["--data", path, "--target", "y", "--no-store"], tmp_path, capsys)
    out = _cli.out
    assert status == 0
    assert "--features job,age" in " ".join(out.split()) and "sex,race" not in out


def test_cli_parquet_list_column(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    path = tmp_path / "table.parquet"
    T.assign(tags=[[1, 2]] * len(T)).to_parquet(path, index=False)
    status, line, written = _cli(["--data", str(path), "--target", "y"], tmp_path,
                                 capsys)
    assert status == 2 and line.startswith("skpoison: error: --data: "), line
    assert "'tags'" in line and not written

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.nets import (
    MLPModule,
    SeededNeuralNetClassifier,
    make_linear_classifier,
    make_mlp_classifier,
)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=120, n_features=6, n_informative=4, random_state=0
    )
    return X, y


def _fast(**kwargs):
    kwargs.setdefault("max_epochs", 3)
    kwargs.setdefault("batch_size", 32)
    return make_mlp_classifier((10,), **kwargs)


# ----------------------------------------------------------------------------
# determinism and clone
# ----------------------------------------------------------------------------
def test_same_random_state_same_result(data):
    X, y = data
    p1 = _fast(random_state=0).fit(X, y).predict_proba(X)
    p2 = _fast(random_state=0).fit(X, y).predict_proba(X)
    assert_allclose(p1, p2, rtol=0, atol=0)


def test_different_random_state_different_weights(data):
    X, y = data
    a = _fast(random_state=0).fit(X, y)
    b = _fast(random_state=1).fit(X, y)
    wa = a.module_.hidden[0].weight.detach().numpy()
    wb = b.module_.hidden[0].weight.detach().numpy()
    assert not np.allclose(wa, wb)
    assert not np.allclose(a.predict_proba(X), b.predict_proba(X))


def test_seeded_fit_leaves_global_torch_rng_untouched(data):
    X, y = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fast(random_state=5).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_random_state_none_uses_global_torch_rng(data):
    X, y = data
    torch.manual_seed(7)
    p1 = _fast(random_state=None).fit(X, y).predict_proba(X)
    torch.manual_seed(7)
    p2 = _fast(random_state=None).fit(X, y).predict_proba(X)
    p3 = _fast(random_state=None).fit(X, y).predict_proba(X)
    assert_allclose(p1, p2, rtol=0, atol=0)
    assert not np.allclose(p1, p3)


def test_clone_of_fitted_net_refits_identically(data):
    X, y = data
    net = _fast(random_state=3)
    fitted = clone(net).fit(X, y)
    cloned = clone(fitted)
    assert not hasattr(cloned, "module_")
    assert cloned.get_params()["random_state"] == 3
    assert cloned.get_params()["module__hidden_layer_sizes"] == (10,)
    cloned.fit(X, y)
    assert_allclose(cloned.predict_proba(X), fitted.predict_proba(X), rtol=0, atol=0)


def test_random_state_is_a_param():
    net = _fast(random_state=1)
    assert "random_state" in net.get_params(deep=False)
    assert "_params_to_validate" not in net.get_params(deep=False)
    net.set_params(random_state=2)
    assert net.random_state == 2


# ----------------------------------------------------------------------------
# input handling
# ----------------------------------------------------------------------------
def test_float64_and_dataframe_input(data):
    X, y = data
    assert X.dtype == np.float64
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    p_arr = _fast(random_state=0).fit(X, y).predict_proba(X)
    net_df = _fast(random_state=0).fit(df, pd.Series(y))
    assert_allclose(net_df.predict_proba(df), p_arr, rtol=0, atol=0)
    assert net_df.n_features_in_ == X.shape[1]
    assert list(net_df.feature_names_in_) == list(df.columns)
    assert net_df.module_.hidden[0].in_features == X.shape[1]


def test_integer_features(data):
    X, y = data
    Xi = np.round(X * 10).astype(np.int64)
    net = _fast(random_state=0).fit(Xi, y)
    assert net.predict(Xi).shape == (len(y),)


def test_string_labels_round_trip(data):
    X, y = data
    labels = np.array(["no", "yes"])[y]
    net = _fast(random_state=0).fit(X, labels)
    assert_array_equal(net.classes_, ["no", "yes"])
    pred = net.predict(X)
    assert set(pred) <= {"no", "yes"}
    # same model as with the 0/1 encoding
    ref = _fast(random_state=0).fit(X, y)
    assert_array_equal(pred, np.array(["no", "yes"])[ref.predict(X)])
    assert net.score(X, labels) == ref.score(X, y)


def test_minus_one_plus_one_labels(data):
    X, y = data
    y_pm = 2 * y - 1
    net = _fast(random_state=0).fit(X, y_pm)
    assert_array_equal(net.classes_, [-1, 1])
    assert set(np.unique(net.predict(X))) <= {-1, 1}
    assert net.predict_proba(X).shape == (len(y), 2)
    assert net.module_.output.out_features == 2


def test_multiclass_sets_n_classes():
    X, y = make_classification(
        n_samples=90, n_features=5, n_informative=3, n_classes=3, random_state=0
    )
    net = _fast(random_state=0).fit(X, y)
    assert net.module_.output.out_features == 3
    proba = net.predict_proba(X)
    assert proba.shape == (90, 3)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_predict_proba_is_softmax_of_logits(data):
    X, y = data
    net = _fast(random_state=0).fit(X, y)
    with torch.no_grad():
        logits = net.module_(torch.as_tensor(X, dtype=torch.float32))
    assert_allclose(
        net.predict_proba(X), torch.softmax(logits, dim=1).numpy(), rtol=1e-5
    )


def test_caller_X_not_modified(data):
    X, y = data
    X_copy, y_copy = X.copy(), y.copy()
    X32 = X.astype(np.float32)
    X32_copy = X32.copy()
    net = _fast(random_state=0).fit(X, y)
    net.predict(X)
    net.predict_proba(X32)
    net.activations(X32)
    _fast(random_state=0).fit(X32, y).predict(X32)
    assert_array_equal(X, X_copy)
    assert_array_equal(y, y_copy)
    assert_array_equal(X32, X32_copy)


def test_unfitted_raises_not_fitted(data):
    X, _ = data
    net = _fast()
    for method in ("predict", "predict_proba", "activations"):
        with pytest.raises(NotFittedError):
            getattr(net, method)(X)
    assert not hasattr(net, "classes_")


def test_wrong_number_of_features_raises(data):
    X, y = data
    net = _fast(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        net.predict(X[:, :3])


def test_unseen_label_on_warm_start_raises(data):
    X, y = data
    net = _fast(random_state=0, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="not in classes_"):
        net.fit(X, np.where(y == 1, 2, 0))


# ----------------------------------------------------------------------------
# learning
# ----------------------------------------------------------------------------
def test_learns_separable_problem():
    X, y = make_classification(
        n_samples=300,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        class_sep=2.0,
        flip_y=0.0,
        random_state=1,
    )
    net = make_mlp_classifier((10,), max_epochs=20, batch_size=32, random_state=0)
    assert net.fit(X, y).score(X, y) > 0.9


def test_linear_classifier_learns():
    X, y = make_classification(
        n_samples=300,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        class_sep=2.0,
        flip_y=0.0,
        random_state=1,
    )
    net = make_linear_classifier(max_epochs=20, batch_size=32, random_state=0)
    net.fit(X, y)
    assert len(net.module_.hidden) == 0
    assert net.module_.output.in_features == 5
    assert net.score(X, y) > 0.9


def test_in_pipeline(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), _fast(random_state=0)).fit(X, y)
    assert pipe.predict(X).shape == (len(y),)


# ----------------------------------------------------------------------------
# model selection and persistence
# ----------------------------------------------------------------------------
def test_grid_search_parallel_matches_serial(data):
    X, y = data
    grid = {"lr": [1e-2, 5e-2], "module__hidden_layer_sizes": [(4,), (8,)]}
    results = []
    for n_jobs in (1, 2):
        search = GridSearchCV(_fast(random_state=0), grid, cv=2, n_jobs=n_jobs)
        search.fit(X, y)
        results.append(search.cv_results_["mean_test_score"])
    assert_allclose(results[0], results[1], rtol=0, atol=0)
    assert search.best_estimator_.module_.hidden[0].out_features in (4, 8)


def test_pickle_round_trip(data):
    X, y = data
    net = _fast(random_state=0).fit(X, np.array(["a", "b"])[y])
    loaded = pickle.loads(pickle.dumps(net))
    assert_allclose(loaded.predict_proba(X), net.predict_proba(X), rtol=0, atol=0)
    assert_array_equal(loaded.predict(X), net.predict(X))
    assert_array_equal(loaded.classes_, ["a", "b"])


# ----------------------------------------------------------------------------
# activations
# ----------------------------------------------------------------------------
def test_activations_hidden_matches_manual_forward(data):
    X, y = data
    net = _fast(random_state=0, batch_size=16).fit(X, y)  # several batches
    act = net.activations(X, "hidden")
    assert act.shape == (len(X), 10)
    assert isinstance(act, np.ndarray)
    with torch.no_grad():
        manual = net.module_.hidden(torch.as_tensor(X, dtype=torch.float32))
    assert_allclose(act, manual.numpy(), rtol=1e-6, atol=1e-6)
    assert (act >= 0).all()  # after the ReLU


def test_activations_output_layer_are_logits(data):
    X, y = data
    net = _fast(random_state=0).fit(X, y)
    logits = net.activations(X, layer="output")
    assert logits.shape == (len(X), 2)
    proba = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
    assert_allclose(proba, net.predict_proba(X), rtol=1e-5)
    assert net.activations(X, layer="hidden.0").shape == (len(X), 10)


def test_activations_eval_mode_with_dropout(data):
    X, y = data
    net = make_mlp_classifier(
        (10,), dropout=0.5, max_epochs=2, batch_size=32, random_state=0
    ).fit(X, y)
    a1 = net.activations(X, "hidden")
    a2 = net.activations(X, "hidden")
    assert_allclose(a1, a2, rtol=0, atol=0)  # no dropout at inference


def test_activations_bad_layer_name(data):
    X, y = data
    net = _fast(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="'hiden'") as exc:
        net.activations(X, "hiden")
    msg = str(exc.value)
    assert "'hidden'" in msg and "'output'" in msg


# ----------------------------------------------------------------------------
# warm start
# ----------------------------------------------------------------------------
def test_warm_start_continues_training(data):
    X, y = data
    net = _fast(random_state=0, warm_start=True, max_epochs=3)
    net.fit(X, y)
    module_first = net.module_
    first_initial_loss = net.history[0, "train_loss"]
    net.fit(X, y)
    assert net.module_ is module_first
    assert len(net.history) == 6  # history continues
    # the 2nd fit starts from trained weights
    assert net.history[3, "train_loss"] < first_initial_loss


def test_warm_start_weights_preserved_exactly(data):
    X, y = data
    net = _fast(random_state=0, warm_start=True, max_epochs=2).fit(X, y)
    before = {k: v.clone() for k, v in net.module_.state_dict().items()}
    net.set_params(max_epochs=0)
    net.fit(X, y)
    for k, v in net.module_.state_dict().items():
        assert torch.equal(v, before[k])


def test_partial_fit_with_classes(data):
    X, y = data
    net = _fast(random_state=0)
    net.partial_fit(X[y == 0], y[y == 0], classes=[0, 1])
    assert_array_equal(net.classes_, [0, 1])
    assert net.module_.output.out_features == 2
    net.partial_fit(X, y)
    assert len(net.history) == 6


def test_no_warm_start_reinitializes(data):
    X, y = data
    net = _fast(random_state=0).fit(X, y)
    p1 = net.predict_proba(X)
    net.fit(X, y)  # same seed: re-initialized and retrained identically
    assert_allclose(net.predict_proba(X), p1, rtol=0, atol=0)
    assert len(net.history) == 3


# ----------------------------------------------------------------------------
# module
# ----------------------------------------------------------------------------
def test_mlp_module_structure():
    module = MLPModule(n_features=4, n_classes=3, hidden_layer_sizes=(8, 5))
    assert [type(m).__name__ for m in module.hidden] == [
        "Linear",
        "ReLU",
        "Linear",
        "ReLU",
    ]
    assert module.output.in_features == 5
    assert module(torch.zeros(2, 4)).shape == (2, 3)


def test_mlp_module_lazy_and_validation():
    module = MLPModule(n_classes=2, hidden_layer_sizes=(3,))
    assert module(torch.zeros(2, 7)).shape == (2, 2)
    with pytest.raises(ValueError, match="activation"):
        MLPModule(n_features=2, activation="swishy")
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPModule(n_features=2, hidden_layer_sizes=(0,))


def test_explicit_module_params_are_respected(data):
    X, y = data
    net = SeededNeuralNetClassifier(
        MLPModule,
        module__hidden_layer_sizes=(3,),
        module__activation="tanh",
        max_epochs=1,
        random_state=0,
    ).fit(X, y)
    assert isinstance(net.module_.hidden[1], torch.nn.Tanh)
    assert net.module_.hidden[0].in_features == X.shape[1]

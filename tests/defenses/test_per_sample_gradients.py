"""Tests for skpoison.defenses._per_sample_gradients (per-sample loss gradients)."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from skpoison.defenses._per_sample_gradients import (
    _skorch_gradients,
    class_indices,
    head_inputs,
    per_sample_gradients,
)
from skpoison.nets import make_linear_classifier, make_mlp_classifier


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _data(n_classes, seed=0, n=40):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    y = np.arange(n) % n_classes
    X += y[:, None] * 0.7
    return X, y


def _row_losses(coef, intercept, X, y, kind):
    """Per-row loss for given parameters (reference, no closed form)."""
    scores = X @ coef.T + intercept
    if coef.shape[0] == 1:
        p1 = 1 / (1 + np.exp(-scores[:, 0]))
        return -np.log(np.where(y == 1, p1, 1 - p1))
    if kind == "ovr":
        sig = 1 / (1 + np.exp(-scores))
        onehot = np.eye(coef.shape[0])[y]
        return -np.sum(onehot * np.log(sig) + (1 - onehot) * np.log(1 - sig), axis=1)
    scores = scores - scores.max(axis=1, keepdims=True)
    logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("model", ["logreg", "sgd"])
def test_linear_closed_form_matches_finite_differences(n_classes, model):
    X, y = _data(n_classes)
    if model == "logreg":
        clf = LogisticRegression(C=0.5).fit(X, y)
        kind = "softmax"
    else:
        clf = SGDClassifier(loss="log_loss", random_state=0, max_iter=50,
                            tol=None).fit(X, y)
        kind = "ovr"
    G = per_sample_gradients(clf, X, y)
    K, d = np.atleast_2d(clf.coef_).shape
    assert G.shape == (X.shape[0], K * (d + 1))
    theta = np.hstack([clf.coef_, clf.intercept_[:, None]]).ravel()
    eps = 1e-6
    G_fd = np.empty_like(G)
    for j in range(theta.size):
        for sgn in (1, -1):
            t = theta.copy()
            t[j] += sgn * eps
            T = t.reshape(K, d + 1)
            loss = _row_losses(T[:, :d], T[:, d], X, y, kind)
            G_fd[:, j] = loss / (2 * eps) if sgn == 1 else G_fd[:, j] - loss / (2 * eps)
    np.testing.assert_allclose(G, G_fd, rtol=1e-4, atol=1e-6)


def test_no_intercept_column_without_fit_intercept():
    X, y = _data(2)
    clf = LogisticRegression(fit_intercept=False).fit(X, y)
    assert per_sample_gradients(clf, X, y).shape == (X.shape[0], 3)


def test_linear_skorch_net_matches_torch_autograd_and_closed_form():
    # the linear net's only layer is its head: "last" (closed form) must equal
    # "all" (torch.func autograd of the net's own loss), and the softmax
    # residual times [x, 1] computed from predict_proba
    X, y = _data(3)
    net = make_linear_classifier(max_epochs=5, random_state=0).fit(X, y)
    G_last = per_sample_gradients(net, X, y, layer="last")
    G_all = per_sample_gradients(net, X, y, layer="all")
    G_auto = _skorch_gradients(net, X, class_indices(net, y), "last", 7,
                               closed_form=False)
    np.testing.assert_allclose(G_last, G_all, atol=1e-6)
    np.testing.assert_allclose(G_last, G_auto, atol=1e-6)
    R = net.predict_proba(X).astype(float)
    R[np.arange(len(y)), y] -= 1
    expected = np.hstack([(R[:, :, None] * X[:, None, :]).reshape(len(y), -1), R])
    np.testing.assert_allclose(G_last, expected, atol=1e-5)


def test_mlp_last_layer_is_a_slice_of_all_layers():
    X, y = _data(2)
    net = make_mlp_classifier((5,), max_epochs=5, random_state=0).fit(X, y)
    G_all = per_sample_gradients(net, X, y, layer="all", batch_size=8)
    G_last = per_sample_gradients(net, X, y, layer="last")
    G_hidden = per_sample_gradients(net, X, y, layer="hidden")
    n_hidden = 5 * 3 + 5
    assert G_all.shape == (len(y), n_hidden + 2 * 5 + 2)
    np.testing.assert_allclose(G_all[:, n_hidden:], G_last, atol=1e-6)
    np.testing.assert_allclose(G_all[:, :n_hidden], G_hidden, atol=1e-6)
    # the head's input is the hidden representation
    np.testing.assert_allclose(head_inputs(net, X), net.activations(X, "hidden"),
                               atol=1e-6)


def test_mlp_gradients_match_finite_differences_of_the_loss():
    import torch

    X, y = _data(2, n=6)
    net = make_mlp_classifier((4,), activation="tanh", max_epochs=3,
                              random_state=0).fit(X, y)
    G = per_sample_gradients(net, X, y, layer="all")
    params = list(net.module_.parameters())
    eps = 1e-3
    col = 0
    with torch.no_grad():
        for p in params:
            flat = p.view(-1)
            for j in range(flat.numel()):
                old = flat[j].item()
                losses = []
                for sgn in (1, -1):
                    flat[j] = old + sgn * eps
                    proba = net.predict_proba(X).astype(float)
                    losses.append(-np.log(proba[np.arange(len(y)), y]))
                flat[j] = old
                np.testing.assert_allclose(G[:, col], (losses[0] - losses[1]) / (2 * eps),
                                           atol=2e-3)
                col += 1
    assert col == G.shape[1]


def test_pipeline_is_unwrapped():
    X, y = _data(2)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    Z = pipe[0].transform(X)
    np.testing.assert_allclose(per_sample_gradients(pipe, X, y),
                               per_sample_gradients(pipe[-1], Z, y))


def test_fallback_is_gradient_wrt_logits():
    X, y = _data(3)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    G = per_sample_gradients(forest, X, y)
    expected = forest.predict_proba(X) - np.eye(3)[y]
    np.testing.assert_allclose(G, expected)


def test_errors():
    X, y = _data(2)
    with pytest.raises(TypeError, match="predict_proba"):
        per_sample_gradients(LinearSVC().fit(X, y), X, y)
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="not fitted on"):
        per_sample_gradients(clf, X, y + 5)
    net = make_linear_classifier(max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="Unknown layer 'nope'"):
        per_sample_gradients(net, X, y, layer="nope")


def test_head_inputs_move_one_batch_to_the_device_at_a_time(monkeypatch):
    from skpoison.utils import _torch

    X, y = _data(2)
    net = make_mlp_classifier((5,), max_epochs=2, batch_size=8,
                              random_state=0).fit(X, y)
    expected = net.activations(X, "hidden")
    sizes = []
    as_tensor = _torch.as_tensor

    def recording(array, **kwargs):
        sizes.append(len(array))
        return as_tensor(array, **kwargs)

    monkeypatch.setattr(_torch, "as_tensor", recording)
    H = head_inputs(net, X)
    assert len(X) > 8 and sizes and max(sizes) <= 8
    np.testing.assert_allclose(H, expected, atol=1e-6)

"""Tests for skpoison.defenses._representation."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

from skpoison.defenses._representation import layer_output, representation
from skpoison.nets import make_mlp_classifier


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


class TinyCNN(nn.Module):
    """Conv2d(1 -> 3 channels) + ReLU, then a Linear head."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU())
        self.output = nn.Linear(3 * 5 * 5, 2)

    def forward(self, X):
        return self.output(self.features(X).flatten(1))


# --------------------------------------------------------------------- input
@pytest.mark.parametrize("layer", [None, "input"])
def test_input_representation_is_the_input(data, layer):
    X, _ = data
    X_copy = X.copy()
    R = representation(LogisticRegression(), X, layer)
    np.testing.assert_array_equal(R, X)
    np.testing.assert_array_equal(X, X_copy)
    R32 = representation(None, X.astype(np.float32), layer)
    assert R32.dtype == np.float32
    R_df = representation(None, pd.DataFrame(X), layer)
    np.testing.assert_array_equal(R_df, X)
    R_sp = representation(None, sp.csr_matrix(X), layer)
    assert sp.issparse(R_sp)
    np.testing.assert_array_equal(R_sp.toarray(), X)


def test_input_representation_rejects_nan_and_1d(data):
    X, _ = data
    X = X.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        representation(None, X)
    with pytest.raises(ValueError, match="2-D"):
        representation(None, np.zeros(5))


def test_layer_on_model_without_layers_raises(data):
    X, y = data
    lr = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="LogisticRegression has no named layers"):
        representation(lr, X, "hidden")


# --------------------------------------------------------- scikit-learn MLP
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_mlp_last_hidden_layer_reproduces_predict_proba(data, activation):
    # The last hidden layer times the output weights gives the logits of
    # sklearn's own forward pass: a reference from predict_proba.
    X, y = data
    mlp = MLPClassifier((6, 5), activation=activation, max_iter=300,
                        random_state=0).fit(X, y)
    H = representation(mlp, X, -1)
    assert H.shape == (60, 5)
    np.testing.assert_array_equal(H, representation(mlp, X, 1))
    logits = H @ mlp.coefs_[-1] + mlp.intercepts_[-1]
    np.testing.assert_allclose(expit(logits[:, 0]), mlp.predict_proba(X)[:, 1],
                               rtol=1e-10)
    if activation == "relu":
        assert H.min() >= 0


def test_mlp_first_layer_formula(data):
    X, y = data
    mlp = MLPClassifier((7,), activation="tanh", max_iter=50, random_state=0).fit(X, y)
    np.testing.assert_allclose(representation(mlp, X, 0),
                               np.tanh(X @ mlp.coefs_[0] + mlp.intercepts_[0]))


@pytest.mark.parametrize("layer", [2, -3, "hidden", 0.5, True])
def test_mlp_unknown_layer_lists_valid(data, layer):
    X, y = data
    mlp = MLPClassifier((6, 5), max_iter=20, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"2 hidden layer\(s\).*\[0, 1, -2, -1\]"):
        representation(mlp, X, layer)


def test_pipeline_transforms_then_represents(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), MLPClassifier((5,), max_iter=50,
                                                         random_state=0)).fit(X, y)
    np.testing.assert_allclose(
        representation(pipe, X, 0),
        representation(pipe[-1], pipe[0].transform(X), 0),
    )
    # layer=None: the raw input, not the scaled one
    np.testing.assert_array_equal(representation(pipe, X, None), X)


# -------------------------------------------------------------- skorch nets
def test_seeded_net_uses_activations(data):
    X, y = data
    net = make_mlp_classifier((8,), max_epochs=3, random_state=0).fit(X, y)
    R = representation(net, X, "hidden")
    np.testing.assert_array_equal(R, net.activations(X, layer="hidden"))
    with torch.no_grad():
        ref = net.module_.hidden(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(R, ref, rtol=1e-6)
    with pytest.raises(ValueError, match=r"Unknown layer 'nope'.*'hidden', "
                                         r"'hidden.0', 'hidden.1', 'output'"):
        representation(net, X, "nope")


def test_plain_skorch_net_forward_hook_batched(data):
    X, y = data
    X = X.astype(np.float32)
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)),
        max_epochs=2, batch_size=7, train_split=None,
    ).fit(X, y)
    R = representation(net, X, "1")  # batches of 7 rows
    with torch.no_grad():
        ref = net.module_[1](net.module_[0](torch.as_tensor(X))).numpy()
    # float32 products over batches of 7 rows and over all rows take different
    # BLAS paths: equal to float32 rounding, not bit for bit
    np.testing.assert_allclose(R, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"Unknown layer '5'.*'0', '1', '2'"):
        representation(net, X, "5")
    with pytest.raises(ValueError, match="Unknown layer 0"):
        representation(net, X, 0)


def test_conv_layer_flattened_and_raw():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(10, 1, 5, 5)).astype(np.float32)
    y = np.arange(10) % 2
    torch.manual_seed(0)
    net = NeuralNetClassifier(TinyCNN, max_epochs=1, train_split=None,
                              batch_size=4).fit(X, y)
    raw = layer_output(net, X, "features.1")
    assert raw.shape == (10, 3, 5, 5)
    R = representation(net, X, "features.1")
    assert R.shape == (10, 75)
    np.testing.assert_array_equal(R, raw.reshape(10, -1))
    assert (R >= 0).all()  # after the ReLU


def test_unfitted_net_raises(data):
    from sklearn.exceptions import NotFittedError

    X, _ = data
    with pytest.raises(NotFittedError):
        representation(make_mlp_classifier(), X, "hidden")


def test_pipeline_input_is_the_final_step_input():
    # A defense around make_pipeline(StandardScaler(), LogisticRegression())
    # with layer=None inspects what the linear model sees: standardised rows.
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skpoison.defenses import SpectralSignatures

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3)) * np.array([1.0, 1e4, 1.0])
    y = (X[:, 0] > 0).astype(int)
    defense = SpectralSignatures(make_pipeline(StandardScaler(), LogisticRegression()))
    _, R, fitted = defense._representation_for_fit(X, y)
    assert not fitted
    np.testing.assert_allclose(R, StandardScaler().fit_transform(X))


@pytest.mark.parametrize("defense", ["SpectralSignatures", "ActivationClustering"])
def test_pipeline_with_a_sampler_or_nested_inputs_the_final_step_input(defense):
    # layer=None on an imbalanced-learn pipeline with a sampler (which has no
    # fit_transform) and on nested pipelines: the input of the final model,
    # every step before it fitted on all rows, the sampler skipped
    from imblearn.under_sampling import RandomUnderSampler
    from sklearn.decomposition import PCA

    from skpoison import defenses
    from skpoison.pipeline import make_pipeline as make_imb_pipeline

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3)) * np.array([1.0, 1e4, 1.0])
    y = (np.arange(60) % 3 == 0).astype(int)
    Defense = getattr(defenses, defense)
    sampled = make_imb_pipeline(StandardScaler(), RandomUnderSampler(random_state=0),
                                LogisticRegression())
    _, R, fitted = Defense(sampled)._representation_for_fit(X, y)
    assert not fitted
    np.testing.assert_allclose(R, StandardScaler().fit_transform(X))
    fitted_defense = Defense(sampled, random_state=0).fit(X, y)
    assert fitted_defense.predict(X).shape == (60,)
    nested = make_pipeline(StandardScaler(),
                           make_pipeline(PCA(2, random_state=0), LogisticRegression()))
    _, R, _ = Defense(nested)._representation_for_fit(X, y)
    np.testing.assert_allclose(
        R, make_pipeline(StandardScaler(), PCA(2, random_state=0)).fit_transform(X))

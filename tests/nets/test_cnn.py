import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from torch import nn

from skpoison.nets import SeededImageClassifier, SmallCNN, make_cnn_classifier


@pytest.fixture(scope="module")
def data():
    """40 grey 12x12 images: class 1 has a bright square top-left, class 0 bottom-right."""
    rng = np.random.RandomState(0)
    X = rng.uniform(0, 0.3, (40, 12, 12)).astype(np.float32)
    y = np.arange(40) % 2
    X[y == 1, 1:5, 1:5] += 0.7
    X[y == 0, 7:11, 7:11] += 0.7
    return X, np.where(y == 1, "bright", "dark")


def _net(**kwargs):
    kwargs.setdefault("width", 8)
    kwargs.setdefault("max_epochs", 4)
    kwargs.setdefault("batch_size", 8)
    kwargs.setdefault("random_state", 0)
    return make_cnn_classifier(**kwargs)


# ----------------------------------------------------------------------------
# the module: the paper's architecture
# ----------------------------------------------------------------------------
def test_paper_architecture_on_cifar_shapes():
    cnn = SmallCNN(n_classes=10, image_shape=(3, 32, 32))
    convs = [m for m in cnn.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128), (128, 256),
        (256, 10),
    ]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    acts = [m for m in cnn.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == 7 and all(a.negative_slope == 0.1 for a in acts)
    # 32 -> 16 -> 8 -> 4 after three 2x2 average poolings: 10 * 4 * 4 inputs
    assert (cnn.output.in_features, cnn.output.out_features) == (160, 10)
    expected = sum(9 * i * o + o for i, o in
                   [(3, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128),
                    (128, 256), (256, 10)]) + 160 * 10 + 10
    assert sum(p.numel() for p in cnn.parameters()) == expected
    assert cnn.last_layer == "output" and cnn.representation_layer == "flatten"


def test_odd_sizes_are_floored_as_keras():
    cnn = SmallCNN(n_classes=10, image_shape=(28, 28))  # 28 -> 14 -> 7 -> 3
    assert cnn.image_shape == (1, 28, 28)
    assert cnn.output.in_features == 10 * 3 * 3


def test_forward_accepts_flat_grey_and_nchw():
    torch.manual_seed(0)
    cnn = SmallCNN(n_features=64, n_classes=3, width=4).eval()
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        out = cnn(x)
        assert out.shape == (5, 3)
        assert torch.equal(cnn(x.reshape(5, 64)), out)
        assert torch.equal(cnn(x[:, 0]), out)


@pytest.mark.parametrize("n_features, shape", [(64, (1, 8, 8)), (192, (3, 8, 8)),
                                               (7, None)])
def test_image_shape_inference(n_features, shape):
    if shape is None:
        with pytest.raises(ValueError, match="image_shape"):
            SmallCNN(n_features=n_features)
    else:
        assert SmallCNN(n_features=n_features, width=2).image_shape == shape


def test_one_row_images_are_not_pooled_vertically():
    cnn = SmallCNN(n_features=5, n_classes=2, image_shape=(1, 1, -1), width=2)
    assert cnn.image_shape == (1, 1, 5)
    assert cnn.output.in_features == 2 * 1 * 1  # width 5 -> 2 -> 1 -> 1
    assert cnn(torch.zeros(3, 5)).shape == (3, 2)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_features": 64, "image_shape": (1, 8, 9)}, "holds 72 values"),
    ({"n_features": 64, "image_shape": (-1, -1, 8)}, "at most one -1"),
    ({"image_shape": None}, "n_features"),
    ({"n_features": 64, "n_scales": 0}, "n_scales"),
])
def test_bad_module_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SmallCNN(**kwargs)


# ----------------------------------------------------------------------------
# the classifier
# ----------------------------------------------------------------------------
def test_training_reduces_the_loss_and_learns(data):
    X, y = data
    net = _net(max_epochs=8).fit(X, y)
    loss = net.history[:, "train_loss"]
    assert loss[-1] < 0.7 * loss[0]
    assert np.mean(net.predict(X) == y) >= 0.9
    assert set(net.classes_) == {"bright", "dark"}


def test_same_random_state_same_result(data):
    X, y = data
    p1 = _net().fit(X, y).predict_proba(X)
    p2 = _net().fit(X, y).predict_proba(X)
    assert_array_equal(p1, p2)
    p3 = _net(random_state=1).fit(X, y).predict_proba(X)
    assert not np.allclose(p1, p3)


@pytest.mark.parametrize("layout", ["nchw", "nhwc", "flat"])
def test_image_layouts_are_equivalent(data, layout):
    X, y = data
    n = len(X)
    Xl = {"nchw": X[:, None], "nhwc": X[..., None], "flat": X.reshape(n, -1)}[layout]
    reference = _net(max_epochs=2).fit(X, y)
    net = _net(max_epochs=2).fit(Xl, y)
    assert net.image_shape_ == (1, 12, 12)
    assert net.n_features_in_ == 144
    assert_allclose(net.predict_proba(Xl), reference.predict_proba(X), rtol=1e-5,
                    atol=1e-6)
    # any layout is accepted at predict time
    assert_allclose(net.predict_proba(X[:, None]), net.predict_proba(X.reshape(n, -1)),
                    rtol=1e-6, atol=1e-7)


def test_image_shape_for_non_square_rows(data):
    X, y = data
    Xr = X[:, :, :10].reshape(len(X), -1)  # 12 x 10 = 120 values
    with pytest.raises(ValueError, match="image_shape"):
        _net(max_epochs=1).fit(Xr, y)
    net = _net(max_epochs=1, image_shape=(12, 10)).fit(Xr, y)
    assert net.image_shape_ == (1, 12, 10)
    assert net.module_.output.in_features == 2 * 1 * 1  # 12x10 -> 6x5 -> 3x2 -> 1x1


def test_wrong_image_size_at_predict(data):
    X, y = data
    net = _net(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="144 features"):
        net.predict(X[:, :10, :10])


def test_activations_of_named_layers(data):
    X, y = data
    net = _net(max_epochs=1).fit(X, y)
    flat = net.activations(X, layer=net.module_.representation_layer)
    assert flat.shape == (40, 2 * 1 * 1)
    assert net.activations(X, layer="pool1").shape == (40, 16, 6, 6)
    logits = net.activations(X, layer=net.module_.last_layer)
    # the last layer applied to the representation gives the logits
    with torch.no_grad():
        expected = net.module_.output(torch.from_numpy(flat)).numpy()
    assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    proba = net.predict_proba(X)
    assert_allclose(torch.softmax(torch.from_numpy(logits), 1).numpy(), proba,
                    rtol=1e-5, atol=1e-6)


def test_clone_and_pickle(data):
    X, y = data
    net = _net(max_epochs=1)
    assert clone(net).get_params()["module__width"] == 8
    net.fit(X, y)
    restored = pickle.loads(pickle.dumps(net))
    assert_array_equal(restored.predict_proba(X), net.predict_proba(X))
    assert restored.image_shape_ == (1, 12, 12)


def test_callers_data_is_not_modified(data):
    X, y = data
    Xc = X[..., None].copy()
    _net(max_epochs=1).fit(Xc, y).predict(Xc)
    assert_array_equal(Xc, X[..., None])


def test_module_instance_and_explicit_shape(data):
    X, y = data
    net = SeededImageClassifier(SmallCNN, module__image_shape=(1, 12, 12),
                                module__width=4, module__n_classes=2, max_epochs=1,
                                random_state=0).fit(X.reshape(40, -1), y)
    assert net.image_shape_ == (1, 12, 12)
    assert net.predict(X).shape == (40,)

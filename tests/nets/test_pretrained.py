import socket

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from skpoison.features import ImageEmbedder, TextEmbedder
from skpoison.nets import (
    EfficientNetModule,
    MiniLMModule,
    SeededImageClassifier,
    SeededTextClassifier,
    make_image_finetune_classifier,
    make_lastlayer_classifier,
    make_text_finetune_classifier,
)


@pytest.fixture(autouse=True, scope="module")
def no_network():
    """Any internet connection or name lookup fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    connect = socket.socket.connect

    def guarded(self, address, *args, **kwargs):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address)
        return connect(self, address, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", guarded)
        mp.setattr(socket, "getaddrinfo", refuse)
        yield


@pytest.fixture(scope="module")
def images():
    """8 grey 28x28 uint8 images: class 1 bright top half, class 0 bright bottom."""
    rng = np.random.RandomState(0)
    X = rng.randint(0, 60, (8, 28, 28)).astype(np.uint8)
    y = np.arange(8) % 2
    X[y == 1, :14] += 180
    X[y == 0, 14:] += 180
    return X, y


POSITIVE = ["A superb, moving film.", "Wonderful acting and a great story.",
            "I loved every minute.", "Brilliant and beautiful."]
NEGATIVE = ["A dull, tedious mess.", "Terrible acting, awful plot.",
            "I hated every minute.", "Boring and badly made."]


@pytest.fixture(scope="module")
def texts():
    X = POSITIVE + NEGATIVE
    y = np.array(["fresh"] * 4 + ["rotten"] * 4)
    return X, y


def _image_net(**kwargs):
    kwargs.setdefault("image_size", 32)
    kwargs.setdefault("scale", 1 / 255)
    kwargs.setdefault("max_epochs", 2)
    kwargs.setdefault("batch_size", 8)
    kwargs.setdefault("lr", 1e-3)
    kwargs.setdefault("random_state", 0)
    return make_image_finetune_classifier(**kwargs)


def _text_net(**kwargs):
    kwargs.setdefault("max_length", 32)
    kwargs.setdefault("max_epochs", 2)
    kwargs.setdefault("batch_size", 8)
    kwargs.setdefault("lr", 1e-4)
    kwargs.setdefault("random_state", 0)
    return make_text_finetune_classifier(**kwargs)


# ----------------------------------------------------------------------------
# image fine-tuning
# ----------------------------------------------------------------------------
def test_image_finetuning_reduces_loss_and_is_seeded(images):
    X, y = images
    net = _image_net().fit(X, y)
    assert isinstance(net, SeededImageClassifier)
    assert isinstance(net.module_, EfficientNetModule)
    loss = net.history[:, "train_loss"]
    assert loss[-1] < loss[0]
    assert net.module_.output.out_features == 2
    assert net.image_shape_ == (1, 28, 28)
    # the whole backbone trained
    assert net.module_.backbone._conv_stem.weight.requires_grad
    again = _image_net().fit(X, y)
    assert_array_equal(again.predict_proba(X), net.predict_proba(X))


def test_frozen_image_backbone_equals_the_embedder(images):
    X, y = images
    net = _image_net(freeze_backbone=True, max_epochs=2).fit(X, y)
    before = net.module_.output.weight.detach().clone()
    assert net.lr == 1e-3
    # the backbone (batch-norm statistics included) is untouched, so its pooled
    # output is ImageEmbedder's frozen representation
    features = net.activations(X, layer=net.module_.representation_layer)
    expected = ImageEmbedder(image_size=32).fit_transform(X)
    assert features.shape == (8, 1280)
    assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    logits = net.activations(X, layer=net.module_.last_layer)
    with torch.no_grad():
        assert_allclose(net.module_.output(torch.from_numpy(features)).numpy(),
                        logits, rtol=1e-5, atol=1e-5)
    net.partial_fit(X, y)  # only the head moves
    assert not torch.equal(before, net.module_.output.weight)
    assert_allclose(net.activations(X, layer="backbone"), features, atol=1e-6)


def test_image_finetune_defaults():
    net = make_image_finetune_classifier()
    assert (net.lr, net.max_epochs, net.batch_size) == (1e-4, 12, 32)
    assert clone(net).get_params()["module__image_size"] == 64


# ----------------------------------------------------------------------------
# text fine-tuning
# ----------------------------------------------------------------------------
def test_text_finetuning_reduces_loss_and_is_seeded(texts):
    X, y = texts
    net = _text_net().fit(X, y)
    assert isinstance(net, SeededTextClassifier)
    assert isinstance(net.module_, MiniLMModule)
    loss = net.history[:, "train_loss"]
    assert loss[-1] < loss[0]
    assert list(net.classes_) == ["fresh", "rotten"]
    assert not hasattr(net, "n_features_in_")
    assert net.predict(np.asarray(X)).shape == (8,)
    again = _text_net().fit(X, y)
    assert_array_equal(again.predict_proba(X), net.predict_proba(X))


def test_frozen_text_backbone_equals_the_embedder(texts):
    X, y = texts
    net = _text_net(freeze_backbone=True, max_epochs=1).fit(X, y)
    pooled = net.activations(X, layer=net.module_.representation_layer)
    # mean of the last layer's tokens, as TextEmbedder(layer=-1)
    expected = TextEmbedder(max_length=32, layer=-1).fit_transform(X)
    assert_allclose(pooled, expected, rtol=1e-4, atol=1e-5)
    assert net.activations(X, layer="output").shape == (8, 2)


def test_text_input_is_validated(texts):
    X, y = texts
    net = _text_net(max_epochs=1)
    with pytest.raises(TypeError, match="single string"):
        net.fit("one text", ["fresh"])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        net.fit(X, y[:-1])
    with pytest.raises(TypeError, match="element 0"):
        net.fit([1.0] * 8, y)


def test_text_net_clone_keeps_max_length():
    net = make_text_finetune_classifier(max_length=40, random_state=3)
    params = clone(net).get_params()
    assert params["max_length"] == 40 and params["random_state"] == 3
    assert params["optimizer"] is torch.optim.AdamW


# ----------------------------------------------------------------------------
# last layer on frozen embeddings
# ----------------------------------------------------------------------------
def test_lastlayer_pipeline_on_cached_embeddings(images, tmp_path):
    X, y = images
    clf = make_lastlayer_classifier(ImageEmbedder(image_size=32, memory=tmp_path),
                                    max_epochs=20, lr=1e-2, random_state=0)
    assert isinstance(clf, Pipeline)
    clf.fit(X, y)
    assert np.mean(clf.predict(X) == y) == 1.0
    head = clf.named_steps["head"]
    assert head.module_.output.in_features == 1280
    mlp = make_lastlayer_classifier(TextEmbedder(), hidden_layer_sizes=(16,))
    assert mlp.named_steps["head"].get_params()["module__hidden_layer_sizes"] == (16,)


def test_image_finetune_trains_on_a_last_batch_of_one():
    # 5 rows with batch_size=4: the last training batch holds one image, which
    # batch norm cannot normalise with batch statistics
    import numpy as np

    from skpoison.nets import make_image_finetune_classifier

    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(5, 28 * 28)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 0])
    net = make_image_finetune_classifier(image_size=32, image_shape=(1, 28, 28),
                                         scale=1 / 255, max_epochs=1, batch_size=4,
                                         random_state=0)
    net.fit(X, y)
    assert net.predict(X).shape == (5,)

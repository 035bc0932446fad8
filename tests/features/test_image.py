import pickle
import socket

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib import cbook
from matplotlib import image as mpimg
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import skpoison.features._image as image_module
from skpoison.features import ImageEmbedder
from skpoison.utils._backbones import efficientnet_inference_model

from .conftest import NetworkAccessError


@pytest.fixture(scope="module")
def grey():
    """Six 28x28 grey uint8 images with structure (shapes of different sizes)."""
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[:28, :28]
    images = []
    for k in range(6):
        r = 4 + 2 * k
        disc = ((yy - 14) ** 2 + (xx - 14) ** 2 < r * r) * 200
        images.append(np.clip(disc + rng.randint(0, 40, (28, 28)), 0, 255))
    return np.asarray(images, dtype=np.uint8)


def _photos():
    """Real photos with their plausible ImageNet classes (top-1 must be one)."""
    photos = {
        # Grace Hopper in uniform: 652 military uniform, 457 bow tie, 834 suit
        "grace_hopper": (mpimg.imread(cbook.get_sample_data("grace_hopper.jpg")),
                         {652, 457, 834}),
    }
    try:
        import skimage.data
    except ImportError:  # pragma: no cover - scikit-image is in the test extra
        return photos
    # chelsea the cat: 281 tabby ... 285 Egyptian cat
    photos["chelsea"] = (skimage.data.chelsea(), {281, 282, 283, 284, 285})
    # coffee: 967 espresso, 968 cup, 504 coffee mug
    photos["coffee"] = (skimage.data.coffee(), {967, 968, 504})
    return photos


PHOTOS = _photos()


def test_network_guard_refuses_internet_sockets():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkAccessError):
            sock.connect(("127.0.0.1", 9))
    finally:
        sock.close()
    with pytest.raises(NetworkAccessError):
        socket.getaddrinfo("example.org", 443)


# ----------------------------------------------------------------------------
# the weights are the real ImageNet ones
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_pretrained_weights_recognise_photos(name):
    photo, classes = PHOTOS[name]
    features = ImageEmbedder(image_size=224).fit_transform(photo[None])
    head = efficientnet_inference_model()._fc  # the ImageNet classifier
    with torch.no_grad():
        proba = head(torch.from_numpy(features)).softmax(dim=1)[0]
    assert int(proba.argmax()) in classes
    assert float(proba.max()) > 0.25


# ----------------------------------------------------------------------------
# shapes, layouts, determinism
# ----------------------------------------------------------------------------
@pytest.fixture
def reference(grey):
    return ImageEmbedder(image_size=32).fit_transform(grey)


def test_output_shape_dtype_and_determinism(grey, reference):
    assert reference.shape == (6, 1280)
    assert reference.dtype == np.float32
    assert np.all(np.isfinite(reference))
    assert reference.std(axis=0).max() > 0  # images get different features
    assert_array_equal(ImageEmbedder(image_size=32).fit_transform(grey), reference)


@pytest.mark.parametrize("layout", ["flat", "nchw", "nhwc", "float01", "float255",
                                    "dataframe", "rgb_nchw", "rgb_nhwc"])
def test_input_layouts_agree(grey, reference, layout):
    n = len(grey)
    X = {
        "flat": grey.reshape(n, -1),
        "nchw": grey[:, None],
        "nhwc": grey[..., None],
        "float01": grey / 255.0,
        "float255": grey.astype(np.float64),
        "dataframe": pd.DataFrame(grey.reshape(n, -1)),
        "rgb_nchw": np.repeat(grey[:, None], 3, axis=1),
        "rgb_nhwc": np.repeat(grey[..., None], 3, axis=3),
    }[layout]
    assert_allclose(ImageEmbedder(image_size=32).fit_transform(X), reference,
                    rtol=1e-4, atol=1e-5)


def test_explicit_image_shape_for_non_square_rows(grey):
    X = grey[:, :, :20].reshape(len(grey), -1)  # 28 x 20: not inferable
    with pytest.raises(ValueError, match="image_shape"):
        ImageEmbedder(image_size=32).fit(X)
    out = ImageEmbedder(image_size=32, image_shape=(28, -1)).fit_transform(X)
    expected = ImageEmbedder(image_size=32).fit_transform(grey[:, :, :20])
    assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_batch_size_does_not_change_the_result(grey, reference):
    out = ImageEmbedder(image_size=32, batch_size=1).fit_transform(grey)
    assert_allclose(out, reference, rtol=1e-4, atol=1e-5)


def test_intermediate_layer_is_pooled_and_stops_early(grey):
    out = ImageEmbedder(image_size=32, layer="_blocks.15").fit_transform(grey)
    assert out.shape == (6, 320)
    # reference: the block's output map, averaged over space
    model = efficientnet_inference_model()
    captured = []
    handle = model._blocks[15].register_forward_hook(
        lambda m, i, o: captured.append(o.mean(dim=(2, 3))))
    try:
        from skpoison.utils._images import preprocess_images
        x = torch.from_numpy(grey[:, None].astype(np.float32) / 255)
        with torch.no_grad():
            model.extract_features(preprocess_images(x, 32))
    finally:
        handle.remove()
    assert_allclose(out, captured[0].numpy(), rtol=1e-4, atol=1e-5)
    names = ImageEmbedder(image_size=32, layer="_blocks.15").get_feature_names_out()
    assert len(names) == 320


def test_unknown_layer_lists_the_names(grey):
    with pytest.raises(ValueError, match="_blocks.15"):
        ImageEmbedder(image_size=32, layer="fc7").fit_transform(grey)


def test_progress_bar_goes_to_stderr(grey, capsys):
    ImageEmbedder(image_size=32, progress=True, batch_size=4).fit_transform(grey)
    captured = capsys.readouterr()
    assert "ImageEmbedder" in captured.err
    assert "6/6" in captured.err


# ----------------------------------------------------------------------------
# caching, pickling, scikit-learn plumbing
# ----------------------------------------------------------------------------
def test_memory_caches_outputs_keyed_on_the_data(grey, reference, tmp_path,
                                                 monkeypatch):
    emb = ImageEmbedder(image_size=32, memory=tmp_path)
    first = emb.fit_transform(grey)
    assert_array_equal(first, reference)

    def no_model(*args, **kwargs):
        raise AssertionError("the network ran although the output was cached")

    monkeypatch.setattr(image_module, "efficientnet_inference_model", no_model)
    assert_array_equal(clone(emb).fit_transform(grey.copy()), first)  # from disk
    with pytest.raises(AssertionError, match="cached"):
        emb.transform(grey[:3] // 2)  # new data: recomputed


def test_pickle_holds_no_model(grey):
    emb = ImageEmbedder(image_size=32).fit(grey)
    emb.transform(grey)
    blob = pickle.dumps(emb)
    assert len(blob) < 2000
    assert_array_equal(pickle.loads(blob).transform(grey), emb.transform(grey))


def test_callers_data_is_not_modified(grey):
    X = grey[..., None].copy()
    ImageEmbedder(image_size=32).fit_transform(X)
    assert_array_equal(X, grey[..., None])


def test_fit_records_n_features_only_for_2d_input(grey):
    emb = ImageEmbedder(image_size=32).fit(grey.reshape(6, -1))
    assert emb.n_features_in_ == 784
    with pytest.raises(ValueError, match="784"):
        emb.transform(grey[:, :27, :27].reshape(6, -1))
    emb.fit(grey)
    assert not hasattr(emb, "n_features_in_")


def test_pandas_output_and_pipeline(grey):
    pipe = make_pipeline(FunctionTransformer(np.sqrt, feature_names_out="one-to-one"),
                         ImageEmbedder(image_size=32)).set_output(transform="pandas")
    out = pipe.fit_transform(grey.reshape(6, -1))
    assert list(out.columns[:2]) == ["imageembedder0", "imageembedder1"]
    assert out.shape == (6, 1280)


@pytest.mark.parametrize("X, match", [
    (np.zeros((2, 2, 8, 8)), "1 or 3 channels"),
    (np.zeros((2, 1, 8, 8, 1)), "shape"),
    (np.full((2, 8, 8), np.nan), "NaN"),
])
def test_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        ImageEmbedder(image_size=32).fit_transform(X)


@pytest.mark.parametrize("params", [{"image_size": 16}, {"batch_size": 0},
                                    {"scale": -1.0}, {"layer": 3}])
def test_bad_params_named(grey, params):
    name = next(iter(params))
    with pytest.raises(ValueError, match=name):
        ImageEmbedder(**params).fit(grey)
    with pytest.raises(ValueError, match=name):
        ImageEmbedder(**params).transform(grey)

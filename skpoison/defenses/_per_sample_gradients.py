"""Per-sample loss gradients of a fitted classifier.

One private entry point, :func:`per_sample_gradients`, used by
:class:`~skpoison.defenses.SEVER` and reusable by other code: row ``i`` of
the result is the gradient of row ``i``'s training loss (cross-entropy)
with respect to the model parameters, at the fitted parameters.

* **Linear models** (``LogisticRegression``, ``SGDClassifier(loss="log_loss")``):
  closed form. With the residual ``r_i = p_i - onehot(y_i)`` (softmax) or
  ``r_i = sigma_i - y_i`` (binary sigmoid, one coefficient row) and
  ``z~_i = [x_i, 1]``, the gradient w.r.t. ``[W, b]`` is ``r_i (x) z~_i``,
  flattened row-major (class by class: coefficients then intercept).
  One-vs-rest models (multiclass ``SGDClassifier``) use the sigmoid of each
  class score, the gradient of their sum of binary log losses.
* **skorch nets** (:class:`~skpoison.nets.SeededNeuralNetClassifier` or any
  :class:`skorch.NeuralNetClassifier`): ``torch.func.vmap`` of
  ``torch.func.grad`` of the net's own loss (``net.get_loss``), in batches,
  in evaluation mode. ``layer="last"`` restricts it to the last module with
  parameters (the ``Linear`` head); when that head produces the module's
  output and the criterion is a plain ``CrossEntropyLoss``, its gradient
  is taken in closed form, ``(softmax(logits) - onehot) (x) [h, 1]`` with
  ``h`` the head's input, from one forward pass.
* **Any other classifier with** ``predict_proba`` (trees, ensembles,
  k-NN, scikit-learn's ``MLPClassifier``): the gradient of the
  cross-entropy w.r.t. the logits ``log p``, that is ``p_i - onehot(y_i)``.
  It has no parameters to differentiate, so this is a stand-in.
* **Pipelines** (scikit-learn or imbalanced-learn): rows go through the
  fitted steps before the last, which is then handled as above.

Regularisation terms are the same for every row, so they are left out
(centring removes them anyway).
"""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.utils.validation import check_is_fitted

from ..utils import _torch
from ..utils._labels import encode_labels
from ..utils._pipeline import final_step

__all__ = ["class_indices", "head_inputs", "per_sample_gradients"]

_LAYERS_DOC = '"all", "last" or the name of a submodule'


def _is_linear(estimator):
    if isinstance(estimator, LogisticRegression):
        return True
    return isinstance(estimator, SGDClassifier) and estimator.loss == "log_loss"


def class_indices(estimator, y):
    """Positions of the labels ``y`` in ``estimator.classes_``.

    Raises a ValueError naming the unknown labels.
    """
    return encode_labels(estimator.classes_, y)


def _dense(X, dtype=np.float64):
    if sp.issparse(X):
        return X.toarray().astype(dtype, copy=False)
    return np.asarray(X, dtype=dtype)


# ----------------------------------------------------------------- linear
def _linear_residuals_and_features(estimator, X, yi):
    Z = _dense(X)
    W = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    b = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
    scores = Z @ W.T + b
    n, K = scores.shape
    if K == 1:
        R = expit(scores)
        R[:, 0] -= (yi == 1)
    else:
        ovr = isinstance(estimator, SGDClassifier)
        R = expit(scores) if ovr else softmax(scores, axis=1)
        R[np.arange(n), yi] -= 1.0
    if getattr(estimator, "fit_intercept", True):
        Z = np.hstack([Z, np.ones((n, 1))])
    return R, Z


def _outer_rows(R, Z):
    """Row-wise ``R_i (x) Z_i`` flattened: shape (n, K * D)."""
    n = R.shape[0]
    return (R[:, :, None] * Z[:, None, :]).reshape(n, -1)


# ----------------------------------------------------------------- torch
def _torch_X(net, X):
    if hasattr(net, "_validate_X"):
        return net._validate_X(X, reset=False)
    return np.asarray(_dense(X, np.float32))


def _resolve_layer(module, layer):
    """``(prefix, submodule)`` whose parameters are differentiated."""
    if layer == "all":
        return "", module
    if layer == "last":
        name = _torch.last_parametrised_name(module)
        return name, module.get_submodule(name)
    sub = _torch.named_submodule(module, layer)
    if not any(True for _ in sub.parameters()):
        raise ValueError(f"Layer {layer!r} has no parameters to differentiate.")
    return layer, sub


def _can_use_closed_form_head(net, head):
    import torch

    crit = getattr(net, "criterion_", None)
    return (isinstance(head, torch.nn.Linear)
            and type(crit) is torch.nn.CrossEntropyLoss
            and crit.weight is None
            and getattr(crit, "label_smoothing", 0.0) == 0.0)


def _batch_size(net, batch_size):
    batch_size = int(batch_size or getattr(net, "batch_size", 128) or 128)
    return batch_size if batch_size >= 1 else 128


def _skorch_gradients(net, X, yi, layer, batch_size, closed_form=True):
    module = net.module_
    Xt = _torch_X(net, X)
    prefix, sub = _resolve_layer(module, layer)
    device = _torch.module_device(module)
    batch_size = _batch_size(net, batch_size)
    with _torch.eval_mode(module):
        if closed_form and layer == "last" and _can_use_closed_form_head(net, sub):
            G = _closed_form_head(module, sub, Xt, yi, batch_size, device)
            if G is not None:
                return G
        wrt = {(f"{prefix}.{k}" if prefix else k): v
               for k, v in sub.named_parameters()}
        return _torch.per_sample_gradients(
            module, lambda out, t: net.get_loss(out, t, training=False), wrt, Xt,
            yi, batch_size=batch_size, device=device)


def _closed_form_head(module, head, Xt, yi, batch_size, device):
    """``(softmax(z) - onehot) (x) [h, 1]`` for a Linear head producing the logits.

    The forward pass runs on the module's device, the float64 algebra there
    too unless that device has no float64 (MPS: on the CPU); one host copy
    per batch.
    """
    import torch

    work = _torch.float64_device(device)
    dtype = _torch.module_dtype(module)
    pieces = []
    with torch.no_grad(), _torch.capture_layer(head, what="input") as inputs, \
            _torch.capture_layer(head) as outputs:
        for rows in _batches(Xt.shape[0], batch_size):
            xb = _torch.as_tensor(Xt[rows], device=device, dtype=dtype)
            out = module(xb)
            if outputs[-1] is not out:
                return None  # the head's output is post-processed: use autograd
            # moved first, then cast: the cast runs on ``work``
            h = inputs[-1].reshape(xb.shape[0], -1).to(work).to(torch.float64)
            R = torch.softmax(out.to(work).to(torch.float64), dim=1)
            codes = torch.as_tensor(yi[rows], dtype=torch.long, device=work)
            R[torch.arange(R.shape[0], device=work), codes] -= 1.0
            parts = [(R[:, :, None] * h[:, None, :]).reshape(R.shape[0], -1)]
            if head.bias is not None:
                parts.append(R)
            pieces.append(_torch.to_numpy(torch.cat(parts, dim=1)))
            inputs.clear()
            outputs.clear()
    if not pieces:
        n_params = sum(p.numel() for p in head.parameters())
        return np.zeros((0, n_params))
    return np.concatenate(pieces)


def _batches(n, batch_size):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def _skorch_head_inputs(net, X):
    """Input of the net's last parametrised module, batched (``net.batch_size``):
    one batch on the device at a time."""
    import torch

    module = net.module_
    head = _torch.last_parametrised_name(module)
    Xt = _torch_X(net, X)
    device, dtype = _torch.module_device(module), _torch.module_dtype(module)
    batches = (_torch.as_tensor(Xt[rows], device=device, dtype=dtype)
               for rows in _batches(Xt.shape[0], _batch_size(net, None)))
    out = _torch.layer_outputs(module, head, batches, what="input")
    if not out:
        return np.zeros((0, 0))
    return _torch.to_numpy(torch.cat([o.reshape(o.shape[0], -1) for o in out]),
                           np.float64)


# ----------------------------------------------------------------- public
def per_sample_gradients(estimator, X, y, *, layer="all", batch_size=None):
    """Gradient of each row's cross-entropy w.r.t. the fitted parameters.

    Read more in the :ref:`User Guide <defenses>`.

    Parameters
    ----------
    estimator : fitted classifier
        ``LogisticRegression`` / ``SGDClassifier(loss="log_loss")`` (closed
        form), a skorch ``NeuralNetClassifier`` (torch autograd, closed form
        for a ``Linear`` head), a pipeline ending in one of these, or any
        classifier with ``predict_proba`` (gradient w.r.t. the logits,
        ``p - onehot(y)``).
    X : array-like of shape (n_samples, n_features)
        Rows, in the estimator's input space.
    y : array-like of shape (n_samples,)
        Their labels, from ``estimator.classes_``.
    layer : str, default="all"
        For skorch nets: ``"all"`` parameters, ``"last"`` (the last module
        with parameters, usually the ``Linear`` head), or the name of a
        submodule as in ``module_.named_modules()``. Ignored by linear
        models (the whole model is the head) and by the fallback.
    batch_size : int or None, default=None
        Rows per vmap batch for skorch nets; ``None`` uses the net's
        ``batch_size``.

    Returns
    -------
    G : ndarray of shape (n_samples, n_parameters)
        Float64. Linear models: ``K * (n_features + 1)`` columns (``K = 1``
        for binary), class by class, coefficients then intercept. skorch:
        the parameters in ``named_parameters()`` order, each flattened.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.defenses import per_sample_gradients
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> clf = LogisticRegression().fit(X, y)
    >>> per_sample_gradients(clf, X, y).shape  # d coefficients + intercept
    (4, 2)
    """
    check_is_fitted(estimator)
    y = np.asarray(y)
    final, Z = final_step(estimator, X)
    if not (isinstance(layer, str)):
        raise TypeError(f"layer must be a string ({_LAYERS_DOC}), got {layer!r}.")
    if batch_size is not None and (not isinstance(batch_size, Integral)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}.")
    yi = class_indices(final, y)
    if _is_linear(final):
        R, Zt = _linear_residuals_and_features(final, Z, yi)
        return _outer_rows(R, Zt)
    if _torch.is_skorch_net(final):
        return _skorch_gradients(final, Z, yi, layer, batch_size)
    if not hasattr(final, "predict_proba"):
        raise TypeError(
            "per-sample gradients need a linear model, a skorch net or a "
            f"classifier with predict_proba; got {type(final).__name__}."
        )
    R = np.asarray(final.predict_proba(Z), dtype=np.float64).copy()
    R[np.arange(R.shape[0]), yi] -= 1.0
    return R


def head_inputs(estimator, X):
    """The representation feeding the model's last linear layer.

    ``X`` itself (after a pipeline's transforms) for linear models and
    for classifiers without a linear head; the input of the last module with
    parameters for skorch nets. Returns a float64 ndarray of shape
    (n_samples, n_dims), or None when ``X`` is not numeric.
    """
    final, Z = final_step(estimator, X)
    if _torch.is_skorch_net(final):
        return _skorch_head_inputs(final, Z)
    try:
        Z = _dense(Z)
    except (TypeError, ValueError):
        return None
    return Z.reshape(Z.shape[0], -1)

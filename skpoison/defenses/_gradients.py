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

__all__ = ["class_indices", "head_inputs", "per_sample_gradients"]

_LAYERS_DOC = '"all", "last" or the name of a submodule'


def _unwrap(estimator, X):
    """Final step of a (nested) pipeline and ``X`` transformed up to it."""
    while hasattr(estimator, "steps"):
        steps = [s for _, s in estimator.steps]
        for step in steps[:-1]:
            if step is None or step == "passthrough" or hasattr(step, "fit_resample"):
                continue
            X = step.transform(X)
        estimator = steps[-1]
    return estimator, X


def _is_linear(estimator):
    if isinstance(estimator, LogisticRegression):
        return True
    return isinstance(estimator, SGDClassifier) and estimator.loss == "log_loss"


def _is_skorch(estimator):
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover - skorch is a dependency
        return False
    return isinstance(estimator, NeuralNet)


def class_indices(estimator, y):
    """Positions of the labels ``y`` in ``estimator.classes_``.

    Raises a ValueError naming the unknown labels.
    """
    classes = np.asarray(estimator.classes_)
    y = np.asarray(y)
    order = np.argsort(classes, kind="stable")
    pos = np.clip(np.searchsorted(classes[order], y), 0, classes.shape[0] - 1)
    idx = order[pos]
    unknown = classes[idx] != y
    if np.any(unknown):
        raise ValueError(
            f"y contains labels the estimator was not fitted on: "
            f"{np.unique(y[unknown]).tolist()!r}; classes_ = {classes.tolist()!r}."
        )
    return idx


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


def _parametrised_modules(module):
    """Names of submodules with parameters of their own, in order."""
    return [name for name, m in module.named_modules()
            if any(True for _ in m.parameters(recurse=False))]


def _resolve_layer(module, layer):
    """``(prefix, submodule)`` whose parameters are differentiated."""
    if layer == "all":
        return "", module
    names = _parametrised_modules(module)
    if layer == "last":
        if not names:
            raise ValueError(f"{type(module).__name__} has no parameters.")
        name = names[-1]
        return name, module.get_submodule(name)
    modules = dict(module.named_modules())
    modules.pop("", None)
    if not isinstance(layer, str) or layer not in modules:
        available = ", ".join(repr(n) for n in modules) or "none"
        raise ValueError(
            f"Unknown layer {layer!r}; expected {_LAYERS_DOC}. The submodules of "
            f"{type(module).__name__} are: {available}."
        )
    sub = modules[layer]
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


def _batches(n, batch_size):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def _skorch_gradients(net, X, yi, layer, batch_size, closed_form=True):
    import torch
    from torch.func import functional_call, grad, vmap

    module = net.module_
    Xt = _torch_X(net, X)
    prefix, sub = _resolve_layer(module, layer)
    device = next(module.parameters()).device
    batch_size = int(batch_size or getattr(net, "batch_size", 128) or 128)
    if batch_size < 1:
        batch_size = Xt.shape[0] or 1

    was_training = module.training
    module.eval()
    try:
        if closed_form and layer == "last" and _can_use_closed_form_head(net, sub):
            G = _closed_form_head(net, module, sub, Xt, yi, batch_size, device)
            if G is not None:
                return G
        full = dict(module.named_parameters())
        full.update(dict(module.named_buffers()))
        wrt = {(f"{prefix}.{k}" if prefix else k): v.detach()
               for k, v in sub.named_parameters()}
        fixed = {k: v.detach() for k, v in full.items() if k not in wrt}
        names = list(wrt)

        def loss(params, x, t):
            out = functional_call(module, {**fixed, **params}, (x.unsqueeze(0),))
            return net.get_loss(out, t.unsqueeze(0), X=x.unsqueeze(0), training=False)

        per_row = vmap(grad(loss), in_dims=(None, 0, 0))
        pieces = []
        for rows in _batches(Xt.shape[0], batch_size):
            xb = torch.as_tensor(Xt[rows], device=device)
            tb = torch.as_tensor(yi[rows], dtype=torch.long, device=device)
            g = per_row(wrt, xb, tb)
            pieces.append(torch.cat([g[k].reshape(xb.shape[0], -1) for k in names],
                                    dim=1).to("cpu", torch.float64))
        if not pieces:
            n_params = sum(v.numel() for v in wrt.values())
            return np.zeros((0, n_params))
        return torch.cat(pieces).numpy()
    finally:
        module.train(was_training)


def _closed_form_head(net, module, head, Xt, yi, batch_size, device):
    """``(softmax(z) - onehot) (x) [h, 1]`` for a Linear head producing the logits."""
    import torch

    captured = {}

    def hook(_m, inputs, output):
        captured["h"] = inputs[0]
        captured["out"] = output

    handle = head.register_forward_hook(hook)
    pieces = []
    try:
        with torch.no_grad():
            for rows in _batches(Xt.shape[0], batch_size):
                xb = torch.as_tensor(Xt[rows], device=device)
                out = module(xb)
                if captured.get("out") is not out:
                    return None  # the head's output is post-processed: use autograd
                h = captured["h"].reshape(xb.shape[0], -1).to("cpu", torch.float64)
                R = torch.softmax(out.to("cpu", torch.float64), dim=1)
                R[torch.arange(R.shape[0]), torch.as_tensor(yi[rows])] -= 1.0
                parts = [(R[:, :, None] * h[:, None, :]).reshape(R.shape[0], -1)]
                if head.bias is not None:
                    parts.append(R)
                pieces.append(torch.cat(parts, dim=1))
    finally:
        handle.remove()
    if not pieces:
        n_params = sum(p.numel() for p in head.parameters())
        return np.zeros((0, n_params))
    return torch.cat(pieces).numpy()


def _skorch_head_inputs(net, X, batch_size=None):
    import torch

    module = net.module_
    _, head = _resolve_layer(module, "last")
    Xt = _torch_X(net, X)
    device = next(module.parameters()).device
    batch_size = int(batch_size or getattr(net, "batch_size", 128) or 128)
    captured = []
    handle = head.register_forward_hook(
        lambda _m, inputs, _o: captured.append(inputs[0].detach()))
    was_training = module.training
    module.eval()
    out = []
    try:
        with torch.no_grad():
            for rows in _batches(Xt.shape[0], max(batch_size, 1)):
                module(torch.as_tensor(Xt[rows], device=device))
                out.append(captured[-1].reshape(captured[-1].shape[0], -1)
                           .to("cpu", torch.float64))
                captured.clear()
    finally:
        handle.remove()
        module.train(was_training)
    if not out:
        return np.zeros((0, 0))
    return torch.cat(out).numpy()


# ----------------------------------------------------------------- public
def per_sample_gradients(estimator, X, y, *, layer="all", batch_size=None):
    """Gradient of each row's cross-entropy w.r.t. the fitted parameters.

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
    >>> from skpoison.defenses._gradients import per_sample_gradients
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> clf = LogisticRegression().fit(X, y)
    >>> per_sample_gradients(clf, X, y).shape  # d coefficients + intercept
    (4, 2)
    """
    check_is_fitted(estimator)
    y = np.asarray(y)
    final, Z = _unwrap(estimator, X)
    if not (isinstance(layer, str)):
        raise TypeError(f"layer must be a string ({_LAYERS_DOC}), got {layer!r}.")
    if batch_size is not None and (not isinstance(batch_size, Integral)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}.")
    yi = class_indices(final, y)
    if _is_linear(final):
        R, Zt = _linear_residuals_and_features(final, Z, yi)
        return _outer_rows(R, Zt)
    if _is_skorch(final):
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
    final, Z = _unwrap(estimator, X)
    if _is_skorch(final):
        return _skorch_head_inputs(final, Z)
    try:
        Z = _dense(Z)
    except (TypeError, ValueError):
        return None
    return Z.reshape(Z.shape[0], -1)

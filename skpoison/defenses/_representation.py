"""The representation a defense inspects: the input, or a layer of a model.

Activation clustering, spectral signatures and fine-pruning look at what a
model computes from each training row at one layer. :func:`representation`
returns it for the models skpoison supports:

* ``layer=None`` (or ``"input"``): the rows themselves (a linear model's
  representation is its input);
* a skorch net: the output of the submodule named ``layer`` of ``module_``
  (:meth:`SeededNeuralNetClassifier.activations` for skpoison's nets, a
  forward hook on ``module_.get_submodule(layer)`` for any other skorch net);
* a fitted :class:`sklearn.neural_network.MLPClassifier`: hidden layer number
  ``layer`` after the MLP's activation;
* a :class:`sklearn.pipeline.Pipeline`: ``X`` pushed through every step but
  the last, then the last step's representation.
"""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.neural_network import MLPClassifier
from sklearn.utils.validation import check_array, check_is_fitted

from ..utils import _torch
from ..utils._pipeline import final_step, fit_transform_to_final, is_pipeline
from ._base import BaseDefense

__all__ = ["representation"]

# Rows per batch for the forward passes of scikit-learn MLPs: bounds the
# memory of intermediate layers to a batch.
_MLP_BATCH = 4096


def _final_net(estimator):
    """The skorch net of ``estimator`` (itself or a pipeline's last step)."""
    final, _ = final_step(estimator)
    return final if _torch.is_skorch_net(final) else None


def _input(X):
    """``X`` as a 2-D float array (CSR kept sparse), validated."""
    X = check_array(X, accept_sparse="csr", dtype=(np.float64, np.float32),
                    ensure_all_finite=True, ensure_2d=False, allow_nd=True,
                    input_name="X")
    if X.ndim == 1:
        raise ValueError("The representation of 1-D X is undefined: pass a 2-D "
                         "array with one row per sample.")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    return X


def _skorch_layer_output(net, X, layer):
    """Output of ``net.module_``'s submodule ``layer`` (raw shape), batched."""
    check_is_fitted(net, "module_")
    if hasattr(net, "activations"):
        # skpoison's nets validate X first (float32, feature count, their
        # own input types: texts, images), then run the same pass
        return np.asarray(net.activations(X, layer=layer))
    return _torch.net_layer_outputs(net, X, layer)


def _mlp_activation(name):
    return {
        "identity": lambda z: z,
        "logistic": expit,
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0),
    }[name]


def _mlp_hidden(mlp, X, layer):
    """Hidden layer ``layer`` (an index) of a fitted scikit-learn MLP."""
    check_is_fitted(mlp, "coefs_")
    n_hidden = len(mlp.coefs_) - 1
    valid = list(range(n_hidden)) + list(range(-n_hidden, 0))
    if (not isinstance(layer, Integral) or isinstance(layer, bool)
            or layer not in valid):
        raise ValueError(
            f"Unknown layer {layer!r}; {type(mlp).__name__} has {n_hidden} hidden "
            f"layer(s): valid layers are the indices {valid} (or None for the input)."
        )
    layer = int(layer) % n_hidden
    X = check_array(X, accept_sparse="csr", dtype=(np.float64, np.float32))
    if X.shape[1] != mlp.coefs_[0].shape[0]:
        raise ValueError(f"X has {X.shape[1]} features, but {type(mlp).__name__} "
                         f"is expecting {mlp.coefs_[0].shape[0]} features as input.")
    activation = _mlp_activation(mlp.activation)
    out = np.empty((X.shape[0], mlp.coefs_[layer].shape[1]), dtype=X.dtype)
    for start in range(0, X.shape[0], _MLP_BATCH):
        a = X[start:start + _MLP_BATCH]
        for i in range(layer + 1):
            a = a @ mlp.coefs_[i].astype(X.dtype, copy=False) + mlp.intercepts_[i]
            a = activation(np.asarray(a))
        out[start:start + _MLP_BATCH] = a
    return out


def layer_output(estimator, X, layer):
    """Representation of ``X`` at ``layer`` in its natural shape.

    As :func:`representation`, but a convolutional layer's output keeps its
    ``(n_samples, channels, ...)`` shape.
    """
    if layer is None or (isinstance(layer, str) and layer == "input"):
        return _input(X)
    if is_pipeline(estimator):
        check_is_fitted(estimator)
        final, X = final_step(estimator, X)
        return layer_output(final, X, layer)
    if _torch.is_skorch_net(estimator):
        return _skorch_layer_output(estimator, X, layer)
    if isinstance(estimator, MLPClassifier) or (
        hasattr(estimator, "coefs_") and hasattr(estimator, "intercepts_")
        and hasattr(estimator, "activation")
    ):
        return _mlp_hidden(estimator, X, layer)
    raise ValueError(
        f"Unknown layer {layer!r}: {type(estimator).__name__} has no named layers. "
        "Use layer=None (the input features) for linear and other models without "
        "hidden layers, a submodule name for a skorch net, or a hidden-layer index "
        "for a scikit-learn MLPClassifier."
    )


def representation(estimator, X, layer=None):
    """Representation of each row of ``X`` at ``layer`` of a fitted model.

    Read more in the :ref:`User Guide <defenses>`.

    Parameters
    ----------
    estimator : fitted estimator or None
        A skorch net (:class:`~skpoison.nets.SeededNeuralNetClassifier` or any
        :class:`skorch.NeuralNet`), a fitted
        :class:`~sklearn.neural_network.MLPClassifier`, a
        :class:`~sklearn.pipeline.Pipeline` ending in one of these, or any
        model when ``layer`` is ``None``. Not used when ``layer`` is ``None``.
    X : array-like of shape (n_samples, ...)
        Rows to represent.
    layer : str, int or None, default=None
        ``None`` or ``"input"``: the input features themselves (the
        representation of a linear model). For a skorch net, the name of a
        submodule as in ``module_.named_modules()`` (e.g. ``"hidden"`` or
        ``"hidden.0"`` for :class:`~skpoison.nets.MLPModule`). For a
        scikit-learn MLP, the index of a hidden layer (``-1`` is the last
        one); its output is taken after the MLP's ``activation``.

    Returns
    -------
    R : ndarray of shape (n_samples, n_dims) or sparse CSR matrix
        One row per sample, a layer's output flattened to 2-D. Nets give
        ``float32``; the input keeps ``float32``/``float64`` (and stays a CSR
        matrix when sparse). Forward passes run in batches, in evaluation mode
        and without gradients; only the layer's output is kept.

    Raises
    ------
    ValueError
        If ``layer`` does not exist in ``estimator`` (the message lists the
        valid layers).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neural_network import MLPClassifier
    >>> from skpoison.defenses import representation
    >>> X = np.random.RandomState(0).normal(size=(40, 3))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> mlp = MLPClassifier((5, 4), max_iter=50, random_state=0).fit(X, y)
    >>> representation(mlp, X, layer=-1).shape
    (40, 4)
    >>> representation(mlp, X).shape  # layer=None: the input itself
    (40, 3)
    >>> representation(mlp, X, layer=2)
    Traceback (most recent call last):
    ...
    ValueError: Unknown layer 2; MLPClassifier has 2 hidden layer(s): ...
    """
    R = layer_output(estimator, X, layer)
    if sp.issparse(R):
        return R
    R = np.asarray(R)
    if R.ndim != 2:
        R = R.reshape(R.shape[0], -1)
    return R


class RepresentationDefense(BaseDefense):
    """Base of the defenses that inspect one layer's representation. Not for
    direct use.

    Activation clustering and spectral signatures fit the model once,
    represent every training row at ``layer``, decide which rows to drop
    from that, and refit on the rest.
    """

    def _representation_for_fit(self, X, y):
        """A fresh (seeded) clone of ``estimator`` and every row's representation.

        Returns ``(estimator, R, fitted)``: ``fitted`` says whether the clone
        was fitted on all rows to get ``R``. With ``layer=None`` the
        representation is the input of the model and nothing but the
        preprocessing is fitted: for a :class:`~sklearn.pipeline.Pipeline`
        (nested or not), the input of its final step, after all the steps
        before it (clones fitted on all rows; samplers skipped).
        """
        estimator = self._make_estimator()
        layer = self.layer
        if layer is None or (isinstance(layer, str) and layer == "input"):
            # the linear model's input is what its preprocessing (a scaler, an
            # embedder; samplers skipped, nested pipelines descended) gives,
            # not the raw columns
            X = fit_transform_to_final(estimator, X, y)
            return estimator, representation(None, X, None), False
        estimator.fit(X, y)
        return estimator, representation(estimator, X, layer), True

    def _finish_on_kept(self, estimator, X, y, keep, fitted):
        """Refit on the kept rows (unless fitted on all and none was removed)."""
        self.n_iter_ = 1
        all_rows = np.ones(y.shape[0], dtype=bool)
        return self._finish(estimator, X, y, keep, all_rows if fitted else None)


def class_rows(R, rows):
    """Dense ``float`` rows ``rows`` of ``R`` (densified per class if sparse)."""
    Rc = R[rows]
    if sp.issparse(Rc):
        Rc = Rc.toarray()
    Rc = np.asarray(Rc)
    if not np.issubdtype(Rc.dtype, np.floating):
        Rc = Rc.astype(np.float64)
    return Rc

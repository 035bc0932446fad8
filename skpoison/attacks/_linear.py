"""Closed-form gradients of linear (logistic / softmax) models.

Shared by :class:`~skpoison.attacks.GradientPoison` and
:class:`~skpoison.attacks.InfluencePoison`. Notation: ``Z`` are (standardised)
feature rows, ``W`` the coefficient matrix of shape ``(K, d)`` and ``b`` the
intercepts of shape ``(K,)``. ``K == 1`` is the binary sigmoid model of
scikit-learn's binary classifiers (one coefficient row, probability of
``classes_[1]``); ``K >= 3`` is the softmax model. ``Y`` are class indices
into the model's ``classes_``. Parameter gradients are matrices of shape
``(K, d + 1)``: the coefficients, then the intercept column.
"""

import numpy as np
from scipy.special import expit, softmax
from sklearn.linear_model import LogisticRegression, SGDClassifier


def check_linear_estimator(estimator):
    """Raise a TypeError unless ``estimator`` is a supported linear model."""
    if isinstance(estimator, LogisticRegression):
        return
    if isinstance(estimator, SGDClassifier) and estimator.loss == "log_loss":
        return
    raise TypeError(
        "estimator must be a linear probabilistic classifier whose gradients "
        "have a closed form: LogisticRegression or "
        f"SGDClassifier(loss='log_loss'); got {estimator!r}."
    )


def l2_strength(estimator, n_samples):
    """The ridge strength ``lam`` of the estimator's mean training loss.

    ``LogisticRegression`` minimises ``mean loss + ||w||^2 / (2 C n)``, so
    ``lam = 1 / (C n)`` (times ``1 - l1_ratio``; 0 without a penalty);
    ``SGDClassifier`` minimises ``mean loss + alpha ||w||^2 / 2``.
    """
    if isinstance(estimator, SGDClassifier):
        if estimator.penalty not in ("l2", "elasticnet"):
            return 0.0
        ratio = estimator.l1_ratio if estimator.penalty == "elasticnet" else 0.0
        return float(estimator.alpha) * (1.0 - ratio)
    penalty = getattr(estimator, "penalty", "deprecated")
    C = float(estimator.C)
    if penalty in (None, "none") or not np.isfinite(C):
        return 0.0
    if penalty == "l1":
        l1_ratio = 1.0
    elif penalty == "l2":
        l1_ratio = 0.0
    else:  # "elasticnet" or the l1_ratio-only API of scikit-learn >= 1.8
        l1_ratio = getattr(estimator, "l1_ratio", None)
        l1_ratio = 0.0 if l1_ratio is None else float(l1_ratio)
    return (1.0 - l1_ratio) / (C * n_samples)


def model_params(estimator):
    """``(W, b)`` of a fitted linear classifier, as float64 arrays."""
    W = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    b = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
    return W, b


def probabilities(Z, W, b):
    """``P`` of shape (n, K): sigmoid column (K == 1) or softmax rows."""
    scores = Z @ W.T + b
    if W.shape[0] == 1:
        return expit(scores)
    return softmax(scores, axis=1)


def residuals(P, Y):
    """``p - onehot(y)`` (K >= 3) or ``sigma - y`` (K == 1), shape (n, K)."""
    R = P.copy()
    if P.shape[1] == 1:
        R[:, 0] -= Y
    else:
        R[np.arange(P.shape[0]), Y] -= 1.0
    return R


def jacobian_times(P, U):
    """Rows of ``dP/dscores @ u``: ``diag(p) - p p^T`` (softmax) or ``s(1-s)``."""
    if P.shape[1] == 1:
        return P * (1.0 - P) * U
    return P * U - P * np.sum(P * U, axis=1, keepdims=True)


def cross_entropy(Z, Y, W, b):
    """Mean cross-entropy of the labels ``Y`` under the model."""
    P = probabilities(Z, W, b)
    tiny = np.finfo(np.float64).tiny
    if P.shape[1] == 1:
        p = np.where(Y == 1, P[:, 0], 1.0 - P[:, 0])
    else:
        p = P[np.arange(P.shape[0]), Y]
    return float(-np.mean(np.log(np.maximum(p, tiny))))


def param_gradient(Z, Y, W, b):
    """Gradient of the mean cross-entropy w.r.t. ``[W, b]``, shape (K, d + 1)."""
    R = residuals(probabilities(Z, W, b), Y)
    Zt = np.hstack([Z, np.ones((Z.shape[0], 1))])
    return R.T @ Zt / Z.shape[0]


def inner_product_and_grad(Z, Y, W, b, G):
    """Per-row ``J_i = r_i^T G [z_i; 1]`` and its gradient w.r.t. ``z_i``.

    ``r_i`` is the cross-entropy residual, so ``r_i [z_i; 1]^T`` is row i's
    gradient w.r.t. ``[W, b]`` and ``J_i`` its inner product with ``G``. The
    gradient has two terms: through the probabilities,
    ``W^T (dp/dscores) G [z_i; 1]``, and through the explicit ``z_i``,
    ``G[:, :d]^T r_i``.

    Returns
    -------
    J : ndarray of shape (n,)
    grad : ndarray of shape (n, d)
    """
    d = Z.shape[1]
    P = probabilities(Z, W, b)
    R = residuals(P, Y)
    U = Z @ G[:, :d].T + G[:, d]  # G [z; 1], shape (n, K)
    J = np.sum(R * U, axis=1)
    grad = jacobian_times(P, U) @ W + R @ G[:, :d]
    return J, grad


def hessian(Z, W, b, lam, jitter=1e-10):
    """Hessian of ``mean CE + lam ||W||^2 / 2`` w.r.t. ``vec([W, b])`` (row-major).

    Binary: ``(1/n) sum s_i (1 - s_i) z~_i z~_i^T + lam I_w``; softmax: the
    Kronecker form ``(1/n) sum (diag(p_i) - p_i p_i^T) (x) z~_i z~_i^T``. The
    intercepts are not penalised; ``jitter`` is added on the whole diagonal
    (the softmax intercepts have a flat direction).
    """
    n, d = Z.shape
    K = W.shape[0]
    P = probabilities(Z, W, b)
    Zt = np.hstack([Z, np.ones((n, 1))])
    D = d + 1
    H = np.empty((K * D, K * D))
    for k in range(K):
        for m in range(k, K):
            if K == 1:
                s = P[:, 0] * (1.0 - P[:, 0])
            else:
                s = P[:, k] * ((k == m) - P[:, m])
            block = (Zt * s[:, None]).T @ Zt / n
            H[k * D:(k + 1) * D, m * D:(m + 1) * D] = block
            H[m * D:(m + 1) * D, k * D:(k + 1) * D] = block.T
    penalty = np.tile(np.r_[np.full(d, lam), 0.0], K) + jitter
    H[np.diag_indices_from(H)] += penalty
    return H

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
from scipy.linalg import lapack
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, SGDClassifier

from ..utils._threads import small_blas


def check_linear_estimator(estimator):
    """Raise a TypeError unless ``estimator`` is a supported linear model."""
    if isinstance(estimator, LogisticRegression):
        return
    if isinstance(estimator, SGDClassifier) and estimator.loss == "log_loss":
        return
    raise TypeError(
        "estimator must be a linear probabilistic classifier whose gradients "
        "have a closed form (LogisticRegression or "
        "SGDClassifier(loss='log_loss')) or a skorch NeuralNetClassifier "
        f"(torch autograd); got {estimator!r}."
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


def augmented_probabilities(Zt, theta):
    """``P`` from augmented rows ``Zt = [Z, 1]`` and ``theta = [W, b]``.

    The same as ``probabilities(Zt[:, :-1], W, b)`` in one contiguous
    product (slicing off the ones column would make BLAS copy ``Zt``).
    """
    scores = Zt @ theta.T
    if theta.shape[0] == 1:
        return expit(scores)
    return softmax(scores, axis=1)


def add_to_diagonal(H, values):
    """``H[i, i] += values[i]`` in place; returns ``H``."""
    H.flat[::H.shape[0] + 1] += values
    return H


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


def _mean_log_loss(P, Y):
    """Mean cross-entropy of the labels ``Y`` under the probabilities ``P``."""
    tiny = np.finfo(np.float64).tiny
    if P.shape[1] == 1:
        p = np.where(Y == 1, P[:, 0], 1.0 - P[:, 0])
    else:
        p = P[np.arange(P.shape[0]), Y]
    return float(-np.mean(np.log(np.maximum(p, tiny))))


def cross_entropy(Z, Y, W, b):
    """Mean cross-entropy of the labels ``Y`` under the model."""
    return _mean_log_loss(probabilities(Z, W, b), Y)


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
    if W.shape[0] == 1:
        # binary: both terms are outer products with the rows of M = [w; g]
        # (one product in, one out; the optimised attacks call this at every
        # step, where the general form's small temporaries cost three times
        # as much)
        M = np.concatenate((W, G[:, :d]))
        S = Z @ M.T
        s = expit(S[:, 0] + b[0])
        u = S[:, 1] + G[0, d]
        C = np.empty_like(S)
        np.multiply(s * (1.0 - s), u, out=C[:, 0])
        np.subtract(s, Y, out=C[:, 1])
        return C[:, 1] * u, C @ M
    P = probabilities(Z, W, b)
    R = residuals(P, Y)
    U = Z @ G[:, :d].T + G[:, d]  # G [z; 1], shape (n, K)
    J = np.sum(R * U, axis=1)
    grad = jacobian_times(P, U) @ W + R @ G[:, :d]
    return J, grad


def data_hessian(Zt, P):
    """Hessian of the mean cross-entropy w.r.t. ``vec([W, b])`` (row-major).

    ``Zt = [Z, 1]`` are the augmented rows and ``P`` the model's
    probabilities on them. Binary: ``(1/n) sum s_i (1 - s_i) z~_i z~_i^T``;
    softmax: the Kronecker form
    ``(1/n) sum (diag(p_i) - p_i p_i^T) (x) z~_i z~_i^T``, computed as a
    block diagonal of weighted Gram matrices minus one Gram matrix of the
    rows ``p_i (x) z~_i`` (three BLAS products, no loop over rows).
    """
    n, D = Zt.shape
    K = P.shape[1]
    if K == 1:
        A = Zt * np.sqrt(P[:, 0] * (1.0 - P[:, 0]))[:, None]
        return A.T @ A / n
    H = np.zeros((K * D, K * D))
    for k in range(K):
        A = Zt * np.sqrt(P[:, k])[:, None]
        H[k * D:(k + 1) * D, k * D:(k + 1) * D] = A.T @ A
    B = (P[:, :, None] * Zt[:, None, :]).reshape(n, K * D)
    H -= B.T @ B
    return H / n


def penalty_diagonal(d, K, lam, jitter=1e-10):
    """Diagonal of the ridge term: ``lam`` on coefficients, 0 on intercepts."""
    return lam * _coefficient_mask(d, K).ravel() + jitter


def _coefficient_mask(d, K):
    """1 on the coefficients of ``theta`` (shape (K, d + 1)), 0 on the intercepts."""
    mask = np.ones((K, d + 1))
    mask[:, -1] = 0.0
    return mask


def cholesky(H):
    """The Cholesky factor of a symmetric positive definite ``H``.

    What :func:`scipy.linalg.cho_factor` returns, computed by the same
    LAPACK routine called directly: an optimisation refits hundreds of
    times on small Hessians, where the wrapper's checks cost more than the
    factorisation. Raises :class:`numpy.linalg.LinAlgError` when ``H`` is
    not positive definite or not finite.
    """
    if not np.isfinite(H).all():
        raise np.linalg.LinAlgError("The Hessian has non-finite entries.")
    c, info = lapack.dpotrf(H, lower=False, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"The Hessian is not positive definite (LAPACK info {info}).")
    return c


def cholesky_solve(c, b):
    """``H^{-1} b`` from :func:`cholesky` ``(H)`` (as :func:`scipy.linalg.cho_solve`)."""
    x, info = lapack.dpotrs(c, b, lower=False)
    if info != 0:  # pragma: no cover - only for malformed arguments
        raise ValueError(f"LAPACK dpotrs failed (info {info}).")
    return x


def hessian(Z, W, b, lam, jitter=1e-10):
    """Hessian of ``mean CE + lam ||W||^2 / 2`` w.r.t. ``vec([W, b])`` (row-major).

    Binary: ``(1/n) sum s_i (1 - s_i) z~_i z~_i^T + lam I_w``; softmax: the
    Kronecker form ``(1/n) sum (diag(p_i) - p_i p_i^T) (x) z~_i z~_i^T``. The
    intercepts are not penalised; ``jitter`` is added on the whole diagonal
    (the softmax intercepts have a flat direction).
    """
    n, d = Z.shape
    Zt = np.hstack([Z, np.ones((n, 1))])
    H = data_hessian(Zt, probabilities(Z, W, b))
    add_to_diagonal(H, penalty_diagonal(d, W.shape[0], lam, jitter))
    return H


def influence_direction(Z, Y, W, b, lam, Z_target, Y_target):
    """``v = H^{-1} grad_theta L_t``, as a (K, d + 1) matrix.

    ``H`` is the Hessian of the mean regularised training loss on ``(Z, Y)``
    (:func:`hessian`) at ``(W, b)``, ``L_t`` the mean cross-entropy of the
    target rows. :meth:`LinearSurrogate.influence_direction` computes the
    same from its last refit (reusing that refit's factorisation).
    """
    g_t = param_gradient(Z_target, Y_target, W, b)
    v = cholesky_solve(cholesky(hessian(Z, W, b, lam)), g_t.ravel())
    return v.reshape(g_t.shape)


def _objective_from(P, Y, theta, lam):
    """Mean cross-entropy of the probabilities ``P`` + ``lam ||W||^2 / 2``."""
    return _mean_log_loss(P, Y) + float(lam * np.sum(theta[:, :-1] ** 2) / 2)


def _objective(Zt, Y, theta, lam):
    """Mean cross-entropy + ``lam ||W||^2 / 2`` and the probabilities."""
    P = augmented_probabilities(Zt, theta)
    return _objective_from(P, Y, theta, lam), P


def newton_fit(Zt, Y, theta, lam, *, factor=None, P=None, max_iter=50, tol=1e-6):
    """Minimise ``mean CE + lam ||W||^2 / 2`` by Newton steps from ``theta``.

    The objective is the one scikit-learn's ``LogisticRegression`` (L2 or no
    penalty) and binary ``SGDClassifier(loss="log_loss")`` minimise, so
    warm-started from a nearby solution a few Newton steps replace a full
    refit. ``factor`` is a Cholesky factorisation of the (penalised)
    Hessian at a nearby point, such as the previous refit's solution: it is
    reused for the steps (the simplified, or chord, Newton method: one
    gradient per step, no new Hessian) while they contract fast; otherwise
    the exact Hessian is recomputed. Backtracking (Armijo) line search keeps
    every step a descent step.

    Parameters
    ----------
    Zt : ndarray of shape (n, d + 1)
        Augmented rows ``[Z, 1]``.
    Y : ndarray of int, shape (n,)
        Class indices (0/1 for ``K == 1``).
    theta : ndarray of shape (K, d + 1)
        Starting coefficients and intercepts.
    lam : float
        Ridge strength on the coefficients.
    factor : tuple or None, default=None
        :func:`cholesky` of a Hessian to reuse.
    P : ndarray of shape (n, K) or None, default=None
        The model's probabilities on ``Zt`` at ``theta``, when the caller
        has them (a refit that moved a few rows); else computed.
    max_iter : int, default=50
    tol : float, default=1e-6
        Stop after a step below ``tol`` (relative to ``theta``): with an
        exact or nearly exact Hessian the remaining error is then far below
        ``tol``.

    Returns
    -------
    theta : ndarray of shape (K, d + 1)
    converged : bool
        Whether the last step was below ``tol``.
    """
    n, D = Zt.shape
    K = theta.shape[0]
    pen = penalty_diagonal(D - 1, K, lam)
    reg = _coefficient_mask(D - 1, K)
    if P is None:
        f, P = _objective(Zt, Y, theta, lam)
    else:
        f = _objective_from(P, Y, theta, lam)
    last = np.inf
    for _ in range(max_iter):
        grad = residuals(P, Y).T @ Zt / n + lam * reg * theta
        step = None
        if factor is not None:
            step = cholesky_solve(factor, grad.ravel()).reshape(K, D)
            size = np.max(np.abs(step))
            if size > 0.25 * last:  # not contracting fast: exact Hessian
                factor = step = None
        if step is None:
            H = add_to_diagonal(data_hessian(Zt, P), pen)
            try:
                factor = cholesky(H)
            except np.linalg.LinAlgError:
                return theta, False
            step = cholesky_solve(factor, grad.ravel()).reshape(K, D)
            size = np.max(np.abs(step))
        if size <= tol * (1.0 + np.max(np.abs(theta))):
            # converged: take the (tiny) step without a line search, whose
            # objective differences would be at rounding level
            return theta - step, True
        last = size
        decrease = float(np.sum(grad * step))
        t = 1.0
        while True:
            new = theta - t * step
            f_new, P_new = _objective(Zt, Y, new, lam)
            if f_new <= f - 1e-4 * t * decrease or t < 1e-8:
                break
            t /= 2
        if t < 1.0:
            factor = None
        theta, f, P = new, f_new, P_new
    return theta, False


def newton_supported(estimator, n_classes):
    """Whether ``newton_fit`` minimises exactly the estimator's own objective."""
    if getattr(estimator, "class_weight", None) is not None:
        return False
    if not getattr(estimator, "fit_intercept", True):
        return False
    if isinstance(estimator, SGDClassifier):
        # multiclass SGDClassifier is one-vs-rest, not softmax
        return n_classes == 2 and estimator.penalty in ("l2", None)
    penalty = getattr(estimator, "penalty", "deprecated")
    if penalty == "deprecated":  # the l1_ratio-only API of scikit-learn >= 1.8
        penalty = "l2" if not getattr(estimator, "l1_ratio", 0.0) else "l1"
    if penalty not in ("l2", None, "none"):
        return False
    # liblinear fits one-vs-rest for multiclass problems
    return not (estimator.solver == "liblinear" and n_classes > 2)


class LinearSurrogate:
    """Closed-form surrogate for the optimised attacks (one fitted linear model).

    The attacks talk to their surrogate through this small protocol (also
    implemented for torch nets in :mod:`skpoison.attacks._torch_surrogate`):
    ``fit``, ``target_gradient``, ``alignment``, ``loss``, ``refit``,
    ``influence_direction``, ``finalize`` and ``threads``. ``Z`` are standardised rows,
    ``Y`` class indices into ``classes_``.
    """

    def __init__(self, estimator):
        check_linear_estimator(estimator)
        self.estimator = estimator

    def fit(self, Z, y, *, refit_next=False):
        """Fit the estimator on ``(Z, y)``.

        ``refit_next=True`` says the caller refits on these rows plus the
        poisons before using the model. When that refit is an exact Newton
        solve (:func:`newton_supported`, with a ridge, so the minimiser is
        unique), fitting on ``(Z, y)`` alone first would not change its
        result; it is skipped and the refit starts from zero. ``finalize``
        fits then if no refit came.
        """
        self._model = None
        self._H = self._factor = self._deferred = None
        classes = np.unique(y)
        if (refit_next and len(classes) >= 2
                and newton_supported(self.estimator, len(classes))
                and l2_strength(self.estimator, len(y)) > 0):
            self.classes_ = classes
            self._newton = True
            K = 1 if len(classes) == 2 else len(classes)
            self.theta = np.zeros((K, Z.shape[1] + 1))
            self._deferred = (Z, y)
            return self
        self.estimator.fit(Z, y)
        self.classes_ = np.asarray(self.estimator.classes_)
        W, b = model_params(self.estimator)
        self.theta = np.hstack([W, b[:, None]])
        self._newton = newton_supported(self.estimator, len(self.classes_))
        return self

    @property
    def W(self):
        return self.theta[:, :-1]

    @property
    def b(self):
        return self.theta[:, -1]

    def target_gradient(self, Z, Y):
        """Gradient of the mean CE of ``(Z, Y)`` w.r.t. the parameters."""
        return param_gradient(Z, Y, self.W, self.b)

    def alignment(self, Z, Y, G):
        """``sum_i <grad_theta l(z_i, y_i), G>`` and its gradient w.r.t. each ``z_i``."""
        J, grad = inner_product_and_grad(Z, Y, self.W, self.b, G)
        return float(J.sum()), grad

    def loss(self, Z, Y):
        """Mean cross-entropy of ``(Z, Y)``."""
        return cross_entropy(Z, Y, self.W, self.b)

    def default_reg(self, n):
        return l2_strength(self.estimator, n)

    def threads(self, n_rows):
        """The BLAS threads of an optimisation on ``n_rows`` rows.

        Its largest product is a refit's Hessian, ``n_rows (K (d + 1))^2``
        flops; below :func:`~skpoison.utils._threads.small_blas`'s threshold
        the loop runs on one BLAS thread.
        """
        D = self.theta.shape[0] * self.theta.shape[1]
        return small_blas(n_rows * D * D)

    # a refit finds the minimiser on its rows (Newton, or the estimator's fit)
    refit_is_solve = True

    def start_refits(self, Z_src, Y_all):
        """Keep the fixed rows; ``refit`` then only receives the poisons."""
        n_src, d = Z_src.shape
        self._Zt = np.ones((Y_all.shape[0], d + 1))
        self._Zt[:n_src, :d] = Z_src
        self._n_src = n_src
        self._Y = Y_all
        self._P = None  # probabilities at ``theta`` after a Newton refit
        self._lam = l2_strength(self.estimator, Y_all.shape[0])

    def refit(self, Z_p):
        """Refit on the fixed rows and the poisons ``Z_p``, warm-started.

        Exact Newton steps on the estimator's own objective when
        :func:`newton_supported`, else the estimator's ``fit`` with
        ``warm_start=True`` when it has one.
        """
        Zt, Y, n_src = self._Zt, self._Y, self._n_src
        Zt[n_src:, :-1] = Z_p
        if self._newton:
            lam = self._lam
            P = self._P
            if P is not None:
                # theta is the last refit's solution and only the poisons
                # moved: the fixed rows keep their probabilities
                P[n_src:] = augmented_probabilities(Zt[n_src:], self.theta)
            theta, ok = newton_fit(Zt, Y, self.theta, lam, factor=self._factor, P=P)
            if ok:
                # the exact Hessian at the solution: for the influence solve
                # and, factorised, for the next refit's Newton steps
                self.theta = theta
                self._P = augmented_probabilities(Zt, theta)
                self._H = data_hessian(Zt, self._P)
                self._factor = cholesky(add_to_diagonal(
                    self._H.copy(), penalty_diagonal(Zt.shape[1] - 1, theta.shape[0], lam)))
                return
            self._newton = False  # e.g. separable data without a penalty
        if self._model is None:
            self._model = clone(self.estimator)
            if "warm_start" in self._model.get_params(deep=False):
                self._model.set_params(warm_start=True)
        self._model.fit(Zt[:, :-1], self.classes_[Y])
        W, b = model_params(self._model)
        self.theta = np.hstack([W, b[:, None]])
        self._H = self._P = None

    def influence_direction(self, Z_t, Y_t, lam):
        """``H^{-1} grad_theta L_t``, ``H`` on the last refit's rows (one Cholesky).

        ``H`` is the exact Hessian of the mean training loss plus ``lam`` on
        the coefficients; its factorisation serves all poisons at once (and,
        when ``lam`` is the estimator's own ridge, is the last Newton
        refit's).
        """
        g_t = self.target_gradient(Z_t, Y_t).ravel()
        if self._H is not None and lam == self._lam:
            factor = self._factor
        else:
            Zt = self._Zt
            H = (self._H.copy() if self._H is not None
                 else data_hessian(Zt, augmented_probabilities(Zt, self.theta)))
            factor = cholesky(add_to_diagonal(H, penalty_diagonal(
                Zt.shape[1] - 1, self.theta.shape[0], lam)))
        return cholesky_solve(factor, g_t).reshape(self.theta.shape)

    def finalize(self):
        """The fitted estimator of the last (re)fit."""
        if not hasattr(self, "_Zt"):
            if self._deferred is not None:  # no refit came after all
                self.fit(*self._deferred)
            return self.estimator
        if not self._newton:
            return self._model
        # Newton refits: one scikit-learn fit warm-started from the Newton
        # solution gives a genuine fitted estimator (it converges at once).
        Z, y = self._Zt[:, :-1], self.classes_[self._Y]
        model = clone(self.estimator)
        if "warm_start" in model.get_params(deep=False):
            warm = model.get_params(deep=False)["warm_start"]
            model.set_params(warm_start=True)
            model.coef_ = self.W.copy()
            model.intercept_ = self.b.copy()
            model.fit(Z, y)
            model.set_params(warm_start=warm)
        else:
            model.fit(Z, y)
        return model

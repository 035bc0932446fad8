"""Certified robustness to label flips (Rosenfeld et al., ICML 2020).

A ridge (least-squares) classifier on fixed features is linear in its
training labels: with labels ``s`` in ``{-1, +1}`` and a test row ``x``, the
score is ``alpha(x) . s`` for a weight vector ``alpha(x)`` over the training
rows that does not depend on the labels. Randomized smoothing over the
labels (each flips independently with probability ``q``) then has an
analytic, deterministic certificate:

1. a Chernoff bound gives a lower bound ``p`` on the probability, over the
   label noise, that the score keeps the sign of its mean (the predicted
   class);
2. the Neyman-Pearson lemma for independent label flips gives the largest
   number ``r`` of adversarial training-label flips under which that
   probability provably stays above 1/2, so the smoothed prediction cannot
   change.

With ``q = 0`` (no smoothing) the certificate is the exact one of the ridge
classifier itself: the fewest flips that can change the sign of its score.
"""

from numbers import Integral, Real

import numpy as np
from scipy import linalg
from scipy.special import expit, ndtr
from scipy.stats import binom
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import deprecated
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._compat import Interval, _fit_context
from ..utils._validation import check_numeric_frame

__all__ = [
    "LabelFlipCertifier",
    "certified_radius_vs_poison",
    "chernoff_lower_bound",
    "flip_radius",
]

# Safety margin on the Neyman-Pearson condition "probability > 1/2", against
# floating-point error in the binomial tails.
_NP_MARGIN = 1e-9


# ------------------------------------------------------------------ bounds
def chernoff_lower_bound(A, q, n_newton=50, return_log_err=False):
    """Lower bound on ``P(sum_i A_i eps_i > 0)`` by the Chernoff method.

    Read more in the :ref:`User Guide <defenses>`.

    ``eps_i`` are independent, ``+1`` with probability ``1 - q`` and ``-1``
    with probability ``q``. For every ``t >= 0``,
    ``P(S <= 0) <= prod_i ((1 - q) exp(-t A_i) + q exp(t A_i))``; the bound
    is minimised over ``t`` by a safeguarded Newton search on this convex
    function of ``t`` (any ``t`` gives a valid bound, so an inexact
    minimum only loosens it).

    Parameters
    ----------
    A : ndarray of shape (n_rows, n_terms)
        One sum per row.
    q : float in [0, 0.5)
        Flip probability.
    n_newton : int, default=50
        Maximum Newton steps.
    return_log_err : bool, default=False
        Also return ``log(min_t bound)``, exact where ``p_lower`` rounds to 1.

    Returns
    -------
    p_lower : ndarray of shape (n_rows,)
        ``1 - min_t bound``; 0 when the mean of the sum is not positive.
    log_err : ndarray of shape (n_rows,)
        Only with ``return_log_err``.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.defenses import chernoff_lower_bound
    >>> float(chernoff_lower_bound(np.ones((1, 100)), q=0.1)[0]) > 0.99
    True
    """
    A = np.asarray(A, dtype=np.float64)
    n_rows = A.shape[0]
    out = np.zeros(n_rows)
    log_err = np.zeros(n_rows)
    if q == 0:
        sure = np.all(A >= 0, axis=1) & np.any(A > 0, axis=1)
        out[sure] = 1.0
        log_err[sure] = -np.inf
        return (out, log_err) if return_log_err else out
    lq, l1q = np.log(q), np.log1p(-q)
    logit_q = lq - l1q

    def log_bound(t):  # t: (m,) for rows Ar: (m, n)
        return np.logaddexp(l1q - t[:, None] * Ar, lq + t[:, None] * Ar).sum(axis=1)

    def derivs(t):
        w = expit(2.0 * t[:, None] * Ar + logit_q)
        d1 = (Ar * (2.0 * w - 1.0)).sum(axis=1)
        d2 = (4.0 * Ar ** 2 * w * (1.0 - w)).sum(axis=1)
        return d1, d2

    mean = A.sum(axis=1) * (1.0 - 2.0 * q)
    rows = np.flatnonzero(mean > 0)
    if rows.size == 0:
        return (out, log_err) if return_log_err else out
    Ar = A[rows]
    scale = np.abs(Ar).max(axis=1)
    lo = np.zeros(rows.size)
    hi = 1.0 / scale
    # grow hi until the derivative is non-negative (the minimiser is below)
    for _ in range(200):
        d1, _ = derivs(hi)
        grow = d1 < 0
        if not grow.any():
            break
        lo = np.where(grow, hi, lo)
        hi = np.where(grow, hi * 2.0, hi)
    t = 0.5 * (lo + hi)
    for _ in range(n_newton):
        d1, d2 = derivs(t)
        lo = np.where(d1 < 0, t, lo)
        hi = np.where(d1 >= 0, t, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = t - d1 / d2
        inside = np.isfinite(step) & (step > lo) & (step < hi)
        t_new = np.where(inside, step, 0.5 * (lo + hi))
        if np.all(np.abs(t_new - t) <= 1e-12 * np.maximum(1.0, np.abs(t))):
            t = t_new
            break
        t = t_new
    log_b = np.minimum(log_bound(t), 0.0)
    out[rows] = -np.expm1(log_b)
    log_err[rows] = log_b
    out = np.clip(out, 0.0, 1.0)
    return (out, log_err) if return_log_err else out


def _level_tails(q, r):
    """Log tails of Binomial(r, q) from the top and the matching adversary tails.

    Level ``k`` = number of the ``r`` flipped coordinates on which the noisy
    label agrees with the adversary's labels: Binomial(r, q) under the clean
    labels, Binomial(r, 1 - q) under the adversary's. Returns
    ``log_b, log_b_adv`` (level masses) and ``log_tail, tail_adv``
    (``P(K >= k)`` for ``k = 0 .. r + 1``).
    """
    k = np.arange(r + 1)
    log_b = binom.logpmf(k, r, q)
    log_b_adv = binom.logpmf(k, r, 1.0 - q)
    log_tail = np.append(np.logaddexp.accumulate(log_b[::-1])[::-1], -np.inf)
    tail_adv = np.append(np.cumsum(np.exp(log_b_adv)[::-1])[::-1], 0.0)
    return log_b, log_b_adv, log_tail, tail_adv


def _np_adversary_mass(log_err, q, r, tails=None):
    """Largest probability of the *other* class after ``r`` flips.

    Neyman-Pearson: the likelihood ratio adversary/clean of a noisy-label
    outcome is ``((1-q)/q) ** (2K - r)``, increasing in the level ``K``. The
    other class has clean mass at most ``err = exp(log_err)``; its adversary
    mass is largest when that mass sits on the highest levels, the last
    level filled fractionally. Works in log space, so that error masses far
    below machine precision (far-from-boundary rows) stay exact.
    """
    log_err = np.asarray(log_err, dtype=np.float64)
    log_b, log_b_adv, log_tail, tail_adv = tails or _level_tails(q, r)
    # first level k whose whole upper tail fits in err (log_tail decreasing)
    kstar = np.searchsorted(-log_tail, -log_err, side="left")
    kstar = np.clip(kstar, 1, r + 1)
    full = tail_adv[kstar]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rest = log_err + np.log1p(-np.exp(np.minimum(log_tail[kstar] - log_err, 0.0)))
        partial = np.exp(rest - log_b[kstar - 1] + log_b_adv[kstar - 1])
    partial = np.where(np.isfinite(partial), partial, np.where(rest > -np.inf, 1.0, 0.0))
    return np.minimum(full + partial, 1.0)


def flip_radius(p_lower, q, n_max, *, log_err=None):
    """Certified number of label flips for a smoothed binary classifier.

    Read more in the :ref:`User Guide <defenses>`.

    Parameters
    ----------
    p_lower : array-like of shape (n_rows,)
        Lower bounds on the probability of the predicted class under
        independent label flips with probability ``q``.
    q : float in (0, 0.5)
        Flip probability.
    n_max : int
        Number of training labels (the largest possible radius).
    log_err : array-like of shape (n_rows,) or None, default=None
        ``log(1 - p_lower)`` when known more precisely than ``p_lower``
        (tiny error probabilities).

    Returns
    -------
    radius : ndarray of int, shape (n_rows,)
        The largest ``r <= n_max`` such that any ``r`` flips leave the
        class's probability above 1/2 (Neyman-Pearson, exact given
        ``p_lower``); -1 where ``p_lower <= 1/2`` (nothing is certified).

    Examples
    --------
    >>> from skpoison.defenses import flip_radius
    >>> flip_radius([0.4, 0.9, 0.999999], q=0.2, n_max=100).tolist()
    [-1, 1, 14]
    """
    p = np.asarray(p_lower, dtype=np.float64)
    if log_err is None:
        with np.errstate(divide="ignore"):
            log_err = np.log1p(-p)
    log_err = np.asarray(log_err, dtype=np.float64)
    radius = np.full(p.shape, -1, dtype=np.int64)
    active = np.flatnonzero(-np.expm1(log_err) > 0.5 + _NP_MARGIN)
    radius[active] = 0
    r = 0
    # worst case is non-increasing in r: scan r upwards while any row holds
    while active.size and r < int(n_max):
        r += 1
        adv = _np_adversary_mass(log_err[active], q, r)
        holds = adv < 0.5 - _NP_MARGIN
        radius[active[holds]] = r
        active = active[holds]
    return radius


def _exact_flip_radius(A, n_max):
    """Fewest flips that can change the sign of ``A_i . 1``, minus one.

    ``A`` holds the signed contributions ``c alpha_i s_i`` (positive sum).
    Flipping label i lowers the sum by ``2 A_i``; the adversary flips the
    largest first.
    """
    margin = A.sum(axis=1)
    d = np.sort(np.maximum(2.0 * A, 0.0), axis=1)[:, ::-1]
    cums = np.cumsum(d, axis=1)
    radius = np.array([np.searchsorted(c, m, side="left") for c, m in zip(cums, margin)])
    radius = np.where(cums[:, -1] < margin, n_max, radius)
    return np.where(margin > 0, radius, -1).astype(np.int64)


# --------------------------------------------------------------- estimator
class LabelFlipCertifier(ClassifierMixin, BaseEstimator):
    """Ridge classifier with certified robustness to training-label flips.

    Read more in the :ref:`User Guide <defenses>`.

    Rosenfeld, Winston, Ravikumar and Kolter (ICML 2020; the certified defense of the paper's Sec. 8):
    randomized smoothing over the training labels of a least-squares
    classifier on fixed features. The score of a test row is linear in the
    training labels ``s`` (in ``{-1, +1}``): ``f(x) = alpha(x) . s`` with
    ``alpha(x) = (x - mean) (Xc^T Xc + alpha I)^{-1} Xc^T + 1/n`` (``Xc`` the
    centred training rows; the intercept is not penalised). Each label flips
    independently with probability ``q``; the smoothed classifier predicts
    the class whose score sign is most likely. Because the score is linear,
    the probability is bounded analytically (Chernoff), with no sampling, and
    :meth:`certified_radius` gives per test row the number of training labels
    an adversary may flip, chosen for that row, without changing the
    prediction.

    The subpopulation paper counts this certificate among the defenses that
    fail: the radius is typically far below the ``alpha * n_sub`` flips of a
    subpopulation attack (see
    :func:`skpoison.metrics.certified_radius_vs_poison`).

    Binary classification only.

    Parameters
    ----------
    alpha : float, default=1.0
        Ridge penalty ``lambda`` (``>= 0``; 0 is ordinary least squares, with
        a pseudo-inverse).

    q : float in [0, 0.5), default=0.1
        Label-flip probability of the smoothing noise. ``q = 0`` certifies
        the ridge classifier itself, exactly.

    fit_intercept : bool, default=True
        Fit an unpenalised intercept (by centring the features).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        Class labels; ``classes_[1]`` is coded ``+1``.

    coef_ : ndarray of shape (n_features,)
        Ridge coefficients for the training labels.

    intercept_ : float
        Intercept.

    label_map_ : ndarray of shape (n_features, n_samples)
        The matrix mapping training labels to coefficients,
        ``coef_ = label_map_ @ s``.

    signed_labels_ : ndarray of shape (n_samples,)
        Training labels as ``-1``/``+1``.

    support_mask_ : ndarray of bool, shape (n_samples,)
        All True: the certifier removes no rows (present for uniformity with
        the other defenses).

    n_features_in_ : int
        Number of features seen in ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen in ``fit`` (DataFrame input with string
        column names only).

    See Also
    --------
    skpoison.metrics.certified_radius_vs_poison : Certified radius against a
        poison budget, per subpopulation.

    Notes
    -----
    :meth:`predict` is the sign of the mean score, ``(1 - 2q) f(x)``, which is
    the ridge classifier's own prediction; where the Chernoff bound does not
    exceed 1/2 the smoothed majority is not certified and the radius is -1.
    :meth:`predict_proba` is the normal approximation of the smoothed
    class probability, an estimate, not a bound. The radius uses the
    Neyman-Pearson worst case for independent flips (tight for a given
    probability), evaluated on the Chernoff lower bound.

    References
    ----------
    .. [1] E. Rosenfeld, E. Winston, P. Ravikumar and J. Z. Kolter,
       "Certified Robustness to Label-Flipping Attacks via Randomized
       Smoothing", ICML 2020 (the linear-in-labels ridge classifier, the
       Chernoff bound on its smoothed probability).
    .. [2] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, Sec. 8 (this
       certificate against subpopulation attacks).

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.defenses import LabelFlipCertifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(-1, 1, (100, 2)), rng.normal(1, 1, (100, 2))])
    >>> y = np.repeat([0, 1], 100)
    >>> cert = LabelFlipCertifier(alpha=1.0, q=0.2).fit(X, y)
    >>> y_pred, radius = cert.certify([[-2.0, -2.0], [0.05, 0.0]])
    >>> y_pred.tolist(), radius.tolist()
    ([0, 1], [22, -1])
    """

    _parameter_constraints = {  # noqa: RUF012 (scikit-learn's convention)
        "alpha": [Interval(Real, 0, None, closed="left")],
        "q": [Interval(Real, 0, 0.5, closed="left")],
        "fit_intercept": ["boolean"],
    }

    def __init__(self, *, alpha=1.0, q=0.1, fit_intercept=True):
        self.alpha = alpha
        self.q = q
        self.fit_intercept = fit_intercept

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the ridge classifier and keep what the certificate needs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Fixed features (e.g. a pretrained representation).
        y : array-like of shape (n_samples,)
            Binary labels.

        Returns
        -------
        self : LabelFlipCertifier
        """
        check_numeric_frame(X, "X", type(self).__name__)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError(
                "Only binary classification is supported. The type of the target "
                f"is {y_type}."
            )
        classes = np.unique(y)
        if classes.shape[0] != 2:
            raise ValueError(
                f"{type(self).__name__} needs two classes in y; got 1 class: "
                f"{classes.tolist()}."
            )
        self.classes_ = classes
        n, d = X.shape
        s = np.where(y == classes[1], 1.0, -1.0)
        self._x_mean = X.mean(axis=0) if self.fit_intercept else np.zeros(d)
        Xc = X - self._x_mean
        lam = float(self.alpha)
        if lam == 0:
            H = linalg.pinv(Xc)
        elif d <= n:
            H = linalg.solve(Xc.T @ Xc + lam * np.eye(d), Xc.T, assume_a="pos")
        else:
            H = Xc.T @ linalg.solve(Xc @ Xc.T + lam * np.eye(n), np.eye(n),
                                    assume_a="pos")
        self.label_map_ = H
        self.signed_labels_ = s
        self.coef_ = H @ s
        self.intercept_ = float(s.mean() - self._x_mean @ self.coef_) \
            if self.fit_intercept else 0.0
        self.support_mask_ = np.ones(n, dtype=bool)
        return self

    def _label_weights(self, X):
        """``alpha(x)`` for each row: shape (n_rows, n_train)."""
        A = (X - self._x_mean) @ self.label_map_
        if self.fit_intercept:
            A += 1.0 / self.label_map_.shape[1]
        return A

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float64, reset=False)

    def _smoothed_z(self, X):
        """Ridge score and ``(1 - 2q) f(x) / sd(x)`` (``f(x)`` itself if q = 0)."""
        score = X @ self.coef_ + self.intercept_
        q = float(self.q)
        if q == 0:
            return score, score
        A = self._label_weights(X)
        sd = np.sqrt(4.0 * q * (1.0 - q) * np.sum(A ** 2, axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sd > 0, (1.0 - 2.0 * q) * score / sd, np.sign(score) * np.inf)
        return score, np.where(score == 0, 0.0, z)

    def decision_function(self, X):
        """Smoothed margin: positive for ``classes_[1]``.

        ``(1 - 2q) f(x) / sd(x)``, the mean of the ridge score under the label
        noise over its standard deviation, ``sd(x)^2 = 4 q (1 - q)
        ||alpha(x)||^2``; the ridge score ``f(x)`` itself when ``q = 0``
        (``X @ coef_ + intercept_`` always gives the ridge score).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        score : ndarray of shape (n_samples,)
        """
        X = self._check_X(X)
        return self._smoothed_z(X)[1]

    def predict_proba(self, X):
        """Normal approximation of the smoothed class probabilities.

        ``P(classes_[1]) = Phi(decision_function(x))``, the probability that
        the ridge score is positive when the score is approximated by a
        normal variable under the label noise. With ``q = 0``: 1, 0 or 1/2
        (ties).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
        """
        X = self._check_X(X)
        score, z = self._smoothed_z(X)
        if float(self.q) == 0:
            p1 = np.where(score > 0, 1.0, np.where(score < 0, 0.0, 0.5))
        else:
            p1 = ndtr(z)
        return np.column_stack([1.0 - p1, p1])

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, 2)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The smoothed (and ridge) prediction: the sign of the score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        X = self._check_X(X)
        return self.classes_[(X @ self.coef_ + self.intercept_ > 0).astype(int)]

    def certify(self, X, *, batch_size=1024):
        """Predictions and their certified radii.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        batch_size : int, default=1024
            Test rows per block (each needs ``batch_size * n_train`` floats).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            As :meth:`predict`.
        radius : ndarray of int, shape (n_samples,)
            Number of training labels that can be flipped adversarially
            (anywhere, chosen for this row) without changing the prediction of
            the smoothed classifier (``q > 0``) or of the ridge classifier
            (``q = 0``). -1 where not even the unattacked prediction is
            certified (the Chernoff bound does not exceed 1/2, or a zero
            score).
        """
        X = self._check_X(X)
        if not isinstance(batch_size, Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        score = X @ self.coef_ + self.intercept_
        sign = np.where(score > 0, 1.0, -1.0)
        n_train = self.signed_labels_.shape[0]
        radius = np.empty(X.shape[0], dtype=np.int64)
        q = float(self.q)
        for start in range(0, X.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            A = self._label_weights(X[rows]) * self.signed_labels_ * sign[rows, None]
            if q == 0:
                radius[rows] = _exact_flip_radius(A, n_train)
            else:
                p, log_err = chernoff_lower_bound(A, q, return_log_err=True)
                radius[rows] = flip_radius(p, q, n_train, log_err=log_err)
        radius[score == 0] = -1
        return self.classes_[(score > 0).astype(int)], radius

    def certified_radius(self, X, *, batch_size=1024):
        """Certified number of training-label flips per row (see :meth:`certify`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        batch_size : int, default=1024

        Returns
        -------
        radius : ndarray of int, shape (n_samples,)
        """
        return self.certify(X, batch_size=batch_size)[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


# ------------------------------------------------------------------ report
@deprecated(
    "certified_radius_vs_poison moved to skpoison.metrics in 0.1 (beside "
    "certified_fraction); importing it from skpoison.defenses is deprecated and "
    "will stop working in 0.2."
)
def certified_radius_vs_poison(certifier, X, subpopulations, *, alpha=(0.5, 1.0, 2.0),
                               sizes=None, y=None):
    """Per subpopulation, how many test rows are certified against the attack.

    Read more in the :ref:`User Guide <metrics>`.

    Deprecated alias of :func:`skpoison.metrics.certified_radius_vs_poison`,
    which takes the same arguments and returns the same table.

    Parameters
    ----------
    certifier : fitted certified defense or array-like of int
    X : array-like of shape (n_samples, n_features)
    subpopulations : fitted finder or array-like of shape (n_samples,)
    alpha : float or sequence of float, default=(0.5, 1.0, 2.0)
    sizes : dict or None, default=None
    y : array-like of shape (n_samples,) or None

    Returns
    -------
    report : pandas.DataFrame
    """
    from ..metrics import certified_radius_vs_poison as moved

    return moved(certifier, X, subpopulations, alpha=alpha, sizes=sizes, y=y)

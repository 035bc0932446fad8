"""ModelTargetedPoison: the model-targeted attack of Suya et al. (ICML 2021).

The victim is a convex linear classifier, possibly after scikit-learn
preprocessing. Everything the attack computes on a candidate poison row
``x`` goes through two margins, ``m_cur(x) = w_cur . T(x) + b_cur`` (the
current poisoned model) and ``m_tgt(x)`` (the target model), where ``T`` is
the preprocessing. ``T`` is fitted once on the attacker's rows and checked to
be affine in each continuous feature and separable across features (scaling,
one-hot encoding in a ColumnTransformer), so each margin is a constant plus
one term per feature: a segment for a continuous feature, a finite set of
points for a categorical one. The max-loss-difference step is then a problem
in the plane of the two margins, solved with a certified optimality gap by
:func:`max_loss_difference`.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils import ClassifierTags, check_random_state

from ..utils._compat import HasMethods, Interval, _fit_context
from ..utils._frames import append_rows
from ..utils._pipeline import is_pipeline
from ..utils._seeding import seed_unseeded
from ..utils._threads import small_blas
from ..utils._validation import (
    check_bounds,
    check_numeric_frame,
    is_dataframe,
    is_number_dtype,
)
from ._base import _SHARED_ATTACK_ATTRS_DOC, BasePoisoningAttack
from ._hinge import _hinge_fit
from ._linear import add_to_diagonal, cholesky, cholesky_solve

__all__ = ["ModelTargetedPoison", "max_loss_difference", "susceptibility"]


# ----------------------------------------------------------------- losses
# Margin losses phi(m), m = y * (w . x + b) with y in {-1, +1}: convex and
# non-increasing. CURVATURE is sup phi'' (the hinge's kink is handled apart).
def _phi(loss, m):
    if loss == "log_loss":
        return np.logaddexp(0.0, -m)
    if loss == "hinge":
        return np.maximum(0.0, 1.0 - m)
    return np.maximum(0.0, 1.0 - m) ** 2


def _dphi(loss, m):
    if loss == "log_loss":
        return -expit(-m)
    if loss == "hinge":
        return -(m < 1.0).astype(np.float64)
    return -2.0 * np.maximum(0.0, 1.0 - m)


def _ddphi(loss, m):
    if loss == "log_loss":
        p = expit(m)
        return p * (1.0 - p)
    return 2.0 * (m < 1.0)  # squared hinge (generalised Hessian)


_CURVATURE = {"log_loss": 0.25, "hinge": 0.0, "squared_hinge": 2.0}


# -------------------------------------------------- the max-loss step (2-D)
def _pareto(U, V):
    """Indices of the points not dominated for (min U, max V), sorted by U."""
    order = np.lexsort((-V, U))
    Vs = V[order]
    best = np.maximum.accumulate(Vs)
    keep = np.ones(order.shape[0], dtype=bool)
    keep[1:] = Vs[1:] > best[:-1]
    return order[keep]


def _discrete_front(cats, cap):
    """Pareto front of the sums of one point per categorical feature.

    ``cats``: list of arrays (n_values, 2) of (u, v) contributions. Returns
    ``(points (n, 2), choices (n, n_cat) int, slack)``: every sum of the full
    set is dominated, up to ``slack`` in ``v``, by a returned point (the front
    is thinned to about ``cap`` points when it grows larger).
    """
    points = np.zeros((1, 2))
    choices = np.zeros((1, len(cats)), dtype=np.intp)
    slack = 0.0
    # a value dominated within its own feature is never needed: features
    # with one undominated value are constants, the others are merged
    merged = []
    for j, P in enumerate(cats):
        own = _pareto(P[:, 0], P[:, 1])
        if own.size == 1:
            points = points + P[own[0]]
            choices[:, j] = own[0]
        else:
            merged.append((j, own))
    for j, own in merged:
        P = cats[j][own]
        n, k = points.shape[0], P.shape[0]
        cand = (points[:, None, :] + P[None, :, :]).reshape(n * k, 2)
        keep = _pareto(cand[:, 0], cand[:, 1])
        points = cand[keep]
        choices = choices[keep // k]
        choices[:, j] = own[keep % k]
        if points.shape[0] > cap:
            # thin: in each v-bin of width delta keep the first point (least
            # u and v of the bin); each dropped point is dominated by it up to
            # delta in v
            V = points[:, 1]
            delta = (V[-1] - V[0]) / cap
            _, first = np.unique(np.floor((V - V[0]) / delta), return_index=True)
            points, choices = points[first], choices[first]
            slack += delta
    return points, choices, slack


def _chain(A, lo, hi):
    """Pareto chain (min u, max v) of the zonotope of the continuous features.

    ``A`` (n_cont, 2): the (u, v) contribution per unit of each feature, on
    ``[lo, hi]``. Returns ``(start (2,), start_x (n_cont,), edges (K, 2),
    order (K,))``: the chain starts at ``start`` (features at ``start_x``)
    and moves feature ``order[k]`` to its other end along ``edges[k]``.
    """
    ends = np.stack([A * lo[:, None], A * hi[:, None]], axis=1)  # (n, 2, 2)
    # the end with the smaller u (ties: larger v) first
    first = np.where((ends[:, 0, 0] < ends[:, 1, 0])
                     | ((ends[:, 0, 0] == ends[:, 1, 0])
                        & (ends[:, 0, 1] >= ends[:, 1, 1])), 0, 1)
    rows = np.arange(A.shape[0])
    x_start = np.where(first == 0, lo, hi)
    x_other = np.where(first == 0, hi, lo)
    d = ends[rows, 1 - first] - ends[rows, first]  # du >= 0
    free = (d[:, 0] == 0) & (d[:, 1] > 0)
    x_start = np.where(free, x_other, x_start)
    start = ends[rows, first].sum(axis=0) + d[free].sum(axis=0)
    trade = np.flatnonzero((d[:, 0] > 0) & (d[:, 1] > 0))
    order = trade[np.argsort(-d[trade, 1] / d[trade, 0], kind="stable")]
    return start, x_start, x_other, d[order], order


def _edge_max(loss, U0, V0, du, dv, tol, rounds=8, split=8):
    """Max over s in [0, 1] of phi(U0 + s du) - phi(V0 + s dv), per row.

    Returns ``(best value, its s, upper bound)`` per row. Between two grid
    points the function exceeds the higher end by at most
    ``dv^2 sup phi'' h^2 / 8`` (its concave part's curvature); intervals whose
    bound is above the best value by more than ``tol`` are refined. For the
    hinge the grid holds the kink of the concave part, where the function is
    convex between grid points: exact.
    """
    n = U0.shape[0]
    if loss == "hinge":
        kink = np.clip((1.0 - V0) / np.where(dv > 0, dv, 1.0), 0.0, 1.0)
        S = np.stack([np.zeros(n), kink, np.ones(n)], axis=1)
        F = _phi(loss, U0[:, None] + S * du[:, None]) - _phi(
            loss, V0[:, None] + S * dv[:, None])
        arg = np.argmax(F, axis=1)
        best = F[np.arange(n), arg]
        return best, S[np.arange(n), arg], best.copy()
    M = _CURVATURE[loss]
    # intervals: row, left s, width
    row = np.repeat(np.arange(n), split)
    left = np.tile(np.arange(split) / split, n)
    width = np.full(row.shape, 1.0 / split)
    best = np.full(n, -np.inf)
    best_s = np.zeros(n)
    upper = np.full(n, -np.inf)
    settled_upper = np.full(n, -np.inf)
    for r in range(rounds + 1):
        ends = np.stack([left, left + width], axis=1)
        F = _phi(loss, U0[row, None] + ends * du[row, None]) - _phi(
            loss, V0[row, None] + ends * dv[row, None])
        hi = F.max(axis=1)
        arg = F.argmax(axis=1)
        # best found per row
        cand_s = ends[np.arange(row.shape[0]), arg]
        order = np.lexsort((-hi, row))
        first = order[np.r_[True, row[order][1:] != row[order][:-1]]]
        improve = hi[first] > best[row[first]]
        best[row[first][improve]] = hi[first][improve]
        best_s[row[first][improve]] = cand_s[first][improve]
        bound = hi + M * dv[row] ** 2 * width ** 2 / 8.0
        open_ = bound > best[row] + tol
        if r == rounds or not open_.any():
            np.maximum.at(settled_upper, row, bound)
            break
        np.maximum.at(settled_upper, row[~open_], bound[~open_])
        row, left, width = row[open_], left[open_], width[open_]
        row = np.repeat(row, split)
        left = (left[:, None] + np.arange(split)[None, :] * (width / split)[:, None]).ravel()
        width = np.repeat(width / split, split)
    upper = np.maximum(settled_upper, best)
    return best, best_s, upper


@dataclass
class _Solution:
    value: float  # the loss difference at the returned point (a lower bound)
    upper: float  # certified upper bound on the maximum
    label: int  # +1 or -1
    x: np.ndarray  # continuous features
    categories: np.ndarray  # index of each categorical feature's value


def max_loss_difference(loss, const, A, lo, hi, cats, *, tol=1e-7, cap=5000):
    """Maximise ``phi(y m_cur(x)) - phi(y m_tgt(x))`` over a box x categories.

    Parameters
    ----------
    loss : {"log_loss", "hinge", "squared_hinge"}
    const : array of shape (2,)
        The two margins when every term below is zero.
    A : array of shape (n_cont, 2)
        Each continuous feature's contribution per unit to the two margins.
    lo, hi : arrays of shape (n_cont,)
        The feature's range.
    cats : list of arrays of shape (n_values, 2)
        Each categorical feature's contribution per value.
    tol : float
        Optimality tolerance of the 1-D searches.
    cap : int
        Size of the thinned Pareto front of the categorical sums.

    Returns
    -------
    _Solution
        The best point found over both labels, its loss difference, and a
        certified upper bound on the maximum.
    """
    const = np.asarray(const, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64).reshape(-1, 2)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    best = None
    upper = -np.inf
    for y in (1.0, -1.0):
        points, choices, slack = _discrete_front([y * P for P in cats], cap)
        start, x_start, x_other, edges, order = _chain(y * A, lo, hi)
        base = points + start + y * const
        # the Lipschitz constant in v of phi over the feasible v range
        v_lo = np.min(base[:, 1]) - slack
        lip = float(-_dphi(loss, np.array([v_lo]))[0]) if loss == "squared_hinge" else 1.0
        cum = np.vstack([np.zeros((1, 2)), np.cumsum(edges, axis=0)])
        # the loss difference at every vertex of every point's chain: the best
        # is a feasible value; a point whose chain cannot beat it (its least u
        # and largest v together) is dropped
        verts = base[:, None, :] + cum[None, :, :]
        F = _phi(loss, verts[..., 0]) - _phi(loss, verts[..., 1])
        i, k = np.unravel_index(int(np.argmax(F)), F.shape)
        val, up, s = float(F[i, k]), float(F[i, k]), 0.0
        if edges.shape[0]:
            K = edges.shape[0]
            if k == K:  # the chain's last vertex: the end of an edge
                k, s = k - 1, 1.0
            # on an edge, u is at least its start's and v at most its end's:
            # edges that cannot beat the best vertex are dropped
            # and (convex term below its chord, concave term below its
            # tangent at the edge's start) below the larger of two linear ends
            a, b = _phi(loss, verts[:, :-1, 0]), _phi(loss, verts[:, 1:, 0])
            c, v1 = _phi(loss, verts[:, :-1, 1]), verts[:, 1:, 1]
            e = -_dphi(loss, verts[:, :-1, 1]) * edges[None, :, 1]
            top = np.minimum(a - _phi(loss, v1), np.maximum(a - c, b - c + e))
            live = top > val + tol
            up = max(up, float(np.max(top[~live], initial=-np.inf)))
            if live.any():
                r_idx, e_idx = np.nonzero(live)
                vals, ss, ups = _edge_max(
                    loss, verts[r_idx, e_idx, 0], verts[r_idx, e_idx, 1],
                    edges[e_idx, 0], edges[e_idx, 1], tol)
                up = max(up, float(ups.max()))
                j = int(np.argmax(vals))
                if vals[j] > val:
                    i, k, val, s = r_idx[j], e_idx[j], float(vals[j]), float(ss[j])
        up += lip * slack
        upper = max(upper, up)
        if best is None or val > best.value:
            x = x_start.copy()
            if edges.shape[0]:
                x[order[:k]] = x_other[order[:k]]
                f = order[k]
                x[f] = x_start[f] + s * (x_other[f] - x_start[f])
            best = _Solution(val, up, int(y), x, choices[i].copy())
    best.upper = max(upper, best.value)
    return best


# ------------------------------------------------------------- the victim
@dataclass
class _Objective:
    """``sum_i s_i phi(y_i m_i) + (reg + reg_per_row * N) ||w||^2 / 2 +
    reg_intercept b^2 / 2``, N the total weight: the victim's training
    objective in sum form."""

    loss: str
    reg: float
    reg_per_row: float
    reg_intercept: float
    fit_intercept: bool


def _l2_penalty(estimator):
    penalty = getattr(estimator, "penalty", "l2")
    if penalty == "deprecated":  # the l1_ratio-only API of scikit-learn >= 1.8
        penalty = "l2" if not getattr(estimator, "l1_ratio", 0.0) else "l1"
    if penalty == "elasticnet" and not getattr(estimator, "l1_ratio", 0.0):
        penalty = "l2"
    return penalty


def _victim_objective(final):
    """The training objective of the victim's final step, or a clear error."""
    if getattr(final, "class_weight", None) is not None:
        raise ValueError(
            "estimator: ModelTargetedPoison needs the victim's training objective; "
            "class_weight is not supported. Use class_weight=None.")
    if isinstance(final, LogisticRegression):
        penalty = _l2_penalty(final)
        if penalty not in ("l2", None, "none"):
            raise ValueError(
                "estimator: ModelTargetedPoison supports LogisticRegression with an "
                f"L2 penalty or none; got penalty={penalty!r}.")
        reg = 0.0 if penalty in (None, "none") or not np.isfinite(final.C) else 1.0 / final.C
        reg_b = reg / final.intercept_scaling ** 2 if final.solver == "liblinear" else 0.0
        return _Objective("log_loss", reg, 0.0, reg_b, final.fit_intercept)
    if isinstance(final, LinearSVC):
        if final.penalty != "l2":
            raise ValueError("estimator: ModelTargetedPoison supports LinearSVC with "
                             f"penalty='l2'; got {final.penalty!r}.")
        reg = 1.0 / final.C
        return _Objective(final.loss, reg, 0.0, reg / final.intercept_scaling ** 2,
                          final.fit_intercept)
    if isinstance(final, SGDClassifier):
        if final.loss not in ("hinge", "log_loss"):
            raise ValueError("estimator: ModelTargetedPoison supports SGDClassifier "
                             f"with loss 'hinge' or 'log_loss'; got {final.loss!r}.")
        penalty = _l2_penalty(final)
        if penalty not in ("l2", None):
            raise ValueError("estimator: ModelTargetedPoison supports SGDClassifier "
                             f"with penalty 'l2' or None; got {penalty!r}.")
        alpha = float(final.alpha) if penalty == "l2" else 0.0
        return _Objective(final.loss, 0.0, alpha, 0.0, final.fit_intercept)
    raise TypeError(
        "estimator must be a convex linear classifier: LogisticRegression, "
        "LinearSVC or SGDClassifier(loss='hinge' or 'log_loss'), alone or as the "
        f"last step of a pipeline of scikit-learn transformers; got {final!r}.")


def _check_victim(estimator, classes):
    """The victim's preprocessing (None without), final step and objective;
    the attack's error for a victim or labels it cannot attack."""
    if len(classes) != 2:
        raise ValueError(
            "ModelTargetedPoison attacks binary classifiers only; got "
            f"{len(classes)} classes {np.asarray(classes).tolist()}. (The paper's bound "
            "and target-model search are for binary convex models.)")
    pre, final = ((estimator[:-1], estimator[-1]) if is_pipeline(estimator)
                  else (None, estimator))
    return pre, final, _victim_objective(final)


class _Trainer:
    """Fits the victim's objective on fixed clean rows plus weighted poisons.

    ``Z`` are the clean rows in the final step's input space (augmented with a
    ones column when there is an intercept), ``Y`` their labels in {-1, +1}.
    Poisons are appended as rows with weights (a repeated poison is one row).
    """

    def __init__(self, objective, Z, Y, capacity):
        self.obj = objective
        n, d = Z.shape
        self.d = d
        D = d + 1 if objective.fit_intercept else d
        # stored transposed: the Hessian (Z^T h) Z is then a product of
        # contiguous rows
        self.ZT = np.zeros((D, n + capacity))
        self.ZT[:d, :n] = Z.T
        if objective.fit_intercept:
            self.ZT[d] = 1.0
        self.Z = self.ZT.T
        self.Y = np.zeros(n + capacity)
        self.Y[:n] = Y
        self.s = np.zeros(n + capacity)
        self.s[:n] = 1.0
        self.n_clean = n
        self.n_rows = n
        self.factor = None
        self.model = None
        self.uncertified = 0  # hinge refits whose KKT conditions were not certified

    def add(self, z, y, weight=1.0):
        i = self.n_rows
        self.Z[i, :self.d] = z
        self.Y[i] = y
        self.s[i] = weight
        self.n_rows += 1
        return i

    def penalty(self, N):
        o = self.obj
        pen = np.full(self.Z.shape[1], o.reg + o.reg_per_row * N)
        if o.fit_intercept:
            pen[-1] = o.reg_intercept
        return pen

    def objective(self, theta, rows=None, s=None, N=None):
        """The objective at ``theta`` on ``rows`` (default: all) with weights ``s``."""
        rows = slice(0, self.n_rows) if rows is None else rows
        s = self.s[rows] if s is None else s
        N = float(np.sum(s)) if N is None else N
        m = self.Y[rows] * (self.Z[rows] @ theta)
        return float(np.sum(s * _phi(self.obj.loss, m))
                     + 0.5 * np.sum(self.penalty(N) * theta ** 2))

    def clean_objective(self, theta):
        return self.objective(theta, slice(0, self.n_clean))

    def fit(self, theta0, s=None):
        """Minimise the objective on the current rows (weights ``s`` or the
        stored ones), from ``theta0``."""
        n = self.n_rows
        s = self.s[:n] if s is None else s
        Z, Y = self.Z[:n], self.Y[:n]
        with small_blas(n * Z.shape[1] ** 2):
            if self.obj.loss != "hinge":
                return self._newton(Z, Y, s, theta0)
            theta, certified = _hinge_fit(Z, Y, s, self.penalty(float(np.sum(s))),
                                          np.asarray(theta0, dtype=np.float64))
            self.uncertified += not certified
            return theta

    def _newton(self, Z, Y, s, theta0):
        n = Z.shape[0]
        pen = self.penalty(float(np.sum(s))) + 1e-10
        loss = self.obj.loss
        theta = np.array(theta0, dtype=np.float64)
        m = Y * (Z @ theta)
        f = float(np.sum(s * _phi(loss, m)) + 0.5 * np.sum(pen * theta ** 2))
        factor, last = self.factor, np.inf
        for _ in range(100):
            g = Z.T @ (s * Y * _dphi(loss, m)) + pen * theta
            step = None
            if factor is not None:
                step = cholesky_solve(factor, g)
                size = np.max(np.abs(step))
                # a stale factor is kept while its steps contract (the chord
                # method); near the solution, steps at rounding level need not
                if size > 0.25 * last and size > 1e-7 * (1.0 + np.max(np.abs(theta))):
                    factor = step = None
            if step is None:
                h = s * _ddphi(loss, m)
                ZT = self.ZT[:, :n]
                H = add_to_diagonal((ZT * h) @ Z, pen)
                factor = cholesky(H)
                step = cholesky_solve(factor, g)
                size = np.max(np.abs(step))
            decrease = float(g @ step)
            # converged: a step below rounding level of theta, or a Newton
            # decrement below that of the objective
            if (size <= 1e-9 * (1.0 + np.max(np.abs(theta)))
                    or decrease <= 1e-12 * (1.0 + abs(f))):
                theta = theta - step
                break
            last = size
            t = 1.0
            while True:
                new = theta - t * step
                m_new = Y * (Z @ new)
                f_new = float(np.sum(s * _phi(loss, m_new)) + 0.5 * np.sum(pen * new ** 2))
                if f_new <= f - 1e-4 * t * decrease or t < 1e-10:
                    break
                t /= 2
            if t < 0.5:
                factor = None
            theta, f, m = new, f_new, m_new
        self.factor = factor
        return theta


# ---------------------------------------------------- the feasible rows
class _FeatureSpace:
    """The feasible poison rows, in the user's units, and the affine map of the
    preprocessing on them.

    Continuous features (numbers with more than two values) range over
    ``[lo, hi]``; the others take one of their values in the attacker's rows.
    ``T(x) = T0 + sum_j D_j (x_j - x0_j) + sum_k O_k[value_k]`` is checked on
    probe rows and on random feasible rows.
    """

    def __init__(self, X_src, pre, bounds, rng):
        self.frame = is_dataframe(X_src)
        self.X_src = X_src
        n_features = X_src.shape[1]
        bounds = None if bounds is None else check_bounds(bounds, n_features)
        self.columns = list(X_src.columns) if self.frame else list(range(n_features))
        self.dtypes = list(X_src.dtypes) if self.frame else None
        cont, disc, lo, hi, values = [], [], [], [], []
        for j in range(n_features):
            col = X_src.iloc[:, j] if self.frame else X_src[:, j]
            numeric = (is_number_dtype(self.dtypes[j]) if self.frame
                       else _numeric_values(col))
            if numeric:
                v = (col.to_numpy(dtype=np.float64, na_value=np.nan) if self.frame
                     else np.asarray(col, dtype=np.float64))
                v = v[~np.isnan(v)]
                uniq = np.unique(v)
                if uniq.size > 2:
                    low, high = uniq[0], uniq[-1]
                    if bounds is not None:
                        low, high = bounds[0][j], bounds[1][j]
                        if not (np.isfinite(low) and np.isfinite(high)):
                            raise ValueError(
                                f"bounds: feature {self.columns[j]!r} needs finite "
                                "bounds (the feasible set of poisons must be bounded).")
                    cont.append(j)
                    lo.append(low)
                    hi.append(high)
                    continue
                if uniq.size == 0:
                    raise ValueError(f"Feature {self.columns[j]!r} has no value in the "
                                     "attacker's rows; the poisons cannot set it.")
                disc.append(j)
                values.append(list(uniq))
            else:
                disc.append(j)
                values.append(list(pd.unique(pd.Series(np.asarray(col, dtype=object)))))
        self.cont, self.disc = cont, disc
        self.lo, self.hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        self.values = values
        self.pre = pre
        # the base row of the affine map: continuous features at their low
        # end, the others at their first value
        self.x0_cont = self.lo.copy()
        self.x0_disc = [0] * len(disc)
        self._probe(rng)

    def rows(self, x_cont, cats):
        """Rows in the user's units: ``x_cont`` (n, n_cont), ``cats`` (n, n_disc)."""
        n = x_cont.shape[0]
        data = {}
        for k, j in enumerate(self.cont):
            data[j] = x_cont[:, k]
        for k, j in enumerate(self.disc):
            vals = self.values[k]
            data[j] = [vals[i] for i in cats[:, k]]
        if self.frame:
            cols = {}
            for j, name in enumerate(self.columns):
                dtype = self.dtypes[j]
                if j in self.cont:
                    cols[j] = pd.Series(data[j], dtype=np.float64)
                else:
                    try:
                        cols[j] = pd.Series(data[j], dtype=dtype)
                    except (TypeError, ValueError):
                        cols[j] = pd.Series(data[j], dtype=object)
            frame = pd.concat([cols[j] for j in range(len(self.columns))], axis=1)
            frame.columns = self.columns
            return frame
        numeric = self.X_src.dtype.kind in "biuf"
        out = np.empty((n, len(self.columns)), dtype=np.float64 if numeric else object)
        for j in range(len(self.columns)):
            out[:, j] = data[j]
        return out

    def transform(self, rows):
        Z = rows if self.pre is None else self.pre.transform(rows)
        if hasattr(Z, "toarray"):
            Z = Z.toarray()
        return np.asarray(Z, dtype=np.float64)

    def _probe(self, rng):
        n_cont, n_disc = len(self.cont), len(self.disc)
        x0c = np.tile(self.x0_cont, (1, 1))
        c0 = np.asarray(self.x0_disc, dtype=np.intp)[None, :]
        # probe rows: x0; each continuous feature at lo, mid and hi; each
        # categorical feature at each value
        xs, cs = [x0c], [c0]
        for k in range(n_cont):
            for v in (self.lo[k], 0.5 * (self.lo[k] + self.hi[k]), self.hi[k]):
                x = x0c.copy()
                x[0, k] = v
                xs.append(x)
                cs.append(c0)
        for k in range(n_disc):
            for i in range(len(self.values[k])):
                c = c0.copy()
                c[0, k] = i
                xs.append(x0c)
                cs.append(c)
        X = np.vstack(xs) if n_cont else np.zeros((len(xs), 0))
        C = np.vstack(cs) if n_disc else np.zeros((len(cs), 0), dtype=np.intp)
        Z = self.transform(self.rows(X, C))
        self.T0 = Z[0]
        pos = 1
        D = np.zeros((n_cont, Z.shape[1]))
        scale = 1.0 + np.max(np.abs(Z))
        for k in range(n_cont):
            z_lo, z_mid, z_hi = Z[pos], Z[pos + 1], Z[pos + 2]
            pos += 3
            if self.hi[k] > self.lo[k]:
                D[k] = (z_hi - z_lo) / (self.hi[k] - self.lo[k])
            if np.max(np.abs(z_mid - 0.5 * (z_lo + z_hi))) > 1e-7 * scale:
                raise ValueError(self._not_affine(self.columns[self.cont[k]]))
        self.D = D
        self.O = []
        for k in range(n_disc):
            n_v = len(self.values[k])
            self.O.append(Z[pos:pos + n_v] - self.T0)
            pos += n_v
        # check additivity on random feasible rows
        n_check = 8
        x = self.lo + rng.uniform(size=(n_check, n_cont)) * (self.hi - self.lo)
        c = np.column_stack([rng.randint(len(v), size=n_check) for v in self.values]) \
            if n_disc else np.zeros((n_check, 0), dtype=np.intp)
        Z = self.transform(self.rows(x, c))
        if np.max(np.abs(Z - self.affine(x, c))) > 1e-6 * scale:
            raise ValueError(self._not_affine(None))

    def _not_affine(self, column):
        which = f" in feature {column!r}" if column is not None else ""
        return (
            "estimator: the preprocessing before the linear model is not affine"
            f"{which} and separable across features (scaling and one-hot encoding "
            "are; polynomial features, binning or imputation are not), so the "
            "feasible poisons cannot be searched exactly. ModelTargetedPoison "
            "supports linear models after such preprocessing only.")

    def affine(self, x, cats):
        """``T`` of the rows with continuous values ``x`` and categories ``cats``."""
        Z = self.T0 + (x - self.x0_cont) @ self.D
        for k, O in enumerate(self.O):
            Z = Z + O[cats[:, k]]
        return Z

    def margin_terms(self, theta_cur, theta_tgt, fit_intercept):
        """``const, A, cats`` of :func:`max_loss_difference` for two models."""
        d = self.T0.shape[0]
        W = np.stack([theta_cur[:d], theta_tgt[:d]], axis=1)  # (d, 2)
        b = np.array([theta_cur[d], theta_tgt[d]]) if fit_intercept else np.zeros(2)
        A = self.D @ W
        const = self.T0 @ W + b - self.x0_cont @ A
        return const, A, [O @ W for O in self.O]


def _numeric_values(col):
    if col.dtype.kind in "biuf":
        return True
    try:
        np.asarray(col, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _check_numbers(X, victim):
    """A victim without preprocessing needs numbers: name the columns that are not."""
    advice = (f"The victim ({victim}) takes the rows as they are: put the encoding "
              "in the estimator, e.g. make_pipeline(ColumnTransformer([(\"cat\", "
              "OneHotEncoder(), columns)], remainder=\"passthrough\"), "
              f"{victim}()); ModelTargetedPoison then sets those columns to values "
              "seen in the attacker's rows.")
    if is_dataframe(X):
        check_numeric_frame(X, "X", "ModelTargetedPoison", advice=advice)
    elif not _numeric_values(np.asarray(X).ravel()):
        raise ValueError(f"X holds values that are not numbers. {advice}")


# ---------------------------------------------------------- the attack
# the points of each segment searched by _Setup.searched_bound: fractions of
# the way from theta_p to the segment's other end
_SEGMENT_STEPS = (0.5, 0.25, 0.125, 0.0625)
# susceptibility's shorter search (one segment, one point: about 0.3 CPU s
# per group on Adult, where two points took about 0.7)
_SCORE_STEPS = (0.25,)
# how many of the attack's models (evenly spaced, the clean model first) start
# the search for the bound of the model it induced
_INDUCED_STARTS = 6
# the most steps of the ascent on the bound (_Setup.ascended_bound)
_ASCENT_STEPS = 25
# its trial steps, as fractions of the distance to the model to induce (over
# the direction's norm), tried in turn until the bound rises
_ASCENT_ETAS = (0.5, 0.125, 0.03125, 0.0078125)
# the looser (still certified) maximisation of its trial steps: each bound is
# valid, only a little lower
_ASCENT_TOLERANCES = {"tol": 1e-4, "cap": 1000}


class _Setup:
    """The victim's objective, preprocessing and the attacker's rows in the
    final step's space: shared by the attack and :func:`susceptibility`."""

    def __init__(self, estimator, X_src, y_src, classes, bounds, rng, capacity):
        estimator = seed_unseeded(estimator, rng)
        pre, final, self.objective = _check_victim(estimator, classes)
        if pre is None:
            _check_numbers(X_src, type(final).__name__)
        else:
            pre = clone(pre).fit(X_src, y_src)
        self.final, self.pre, self.estimator = final, pre, estimator
        self.classes = classes
        self.space = _FeatureSpace(X_src, pre, bounds, rng)
        Z = self.space.transform(X_src)
        if not np.all(np.isfinite(Z)):
            raise ValueError(
                "The attacker's rows have missing or infinite values after the "
                "victim's preprocessing; the victim's objective needs numbers. "
                "Impute them before the attack.")
        self.Y = np.where(y_src == classes[1], 1.0, -1.0)
        self.trainer = _Trainer(self.objective, Z, self.Y, capacity)
        self.Z_src = self.trainer.Z[:Z.shape[0]]
        self.fit_intercept = self.objective.fit_intercept

    def errors(self, theta, rows):
        """Error rate of the model ``theta`` on clean rows ``rows`` (indices)."""
        if rows.size == 0:
            return 0.0
        m = self.Y[rows] * (self.Z_src[rows] @ theta)
        return float(np.mean(m <= 0))

    def target_model(self, theta_clean, sub, target_error, ratios, model_error):
        """Suya et al.'s target model, from label-flipped copies of the
        subpopulation's rows added with weight r (each row with the other
        label; and, for a group of mixed labels, all of them with one label):
        among the candidates whose error on the subpopulation reaches
        ``model_error`` (or, when none does, the highest error any candidate
        reaches, if that reaches ``target_error``), the one with the lowest
        clean objective (``model_error >= target_error``). Returns
        ``(theta, ratio)``."""
        tr = self.trainer
        n = tr.n_rows
        Y_sub = self.Y[sub]
        families = [-Y_sub]
        if np.unique(Y_sub).size > 1:
            families += [np.full(sub.size, 1.0), np.full(sub.size, -1.0)]
        candidates = []  # (error, loss, theta, ratio)
        try:
            for labels in families:
                tr.n_rows = n
                added = [tr.add(self.Z_src[i, :tr.d], lab, 0.0)
                         for i, lab in zip(sub, labels)]
                theta = theta_clean
                for r in ratios:
                    s = tr.s[:tr.n_rows].copy()
                    s[added] = r
                    theta = tr.fit(theta, s)
                    error = self.errors(theta, sub)
                    if error >= target_error:
                        candidates.append(
                            (error, tr.clean_objective(theta), theta, r))
                    if error >= model_error:
                        break  # larger weights only move further from the clean model
        finally:
            tr.n_rows = n
            tr.factor = None
        if not candidates:
            raise ValueError(
                f"No target model reaches target_error={target_error} on the target "
                f"subpopulation (label-flipped copies up to {max(ratios)} times its "
                "size): lower target_error or give larger target_ratios.")
        need = min(model_error, max(c[0] for c in candidates))
        best = min((c for c in candidates if c[0] >= need), key=lambda c: c[1])
        return best[2], best[3]

    def bound(self, theta, theta_p, loss_p, solution):
        """Suya et al.'s lower bound on the number of poisons that induce
        ``theta_p``, from one model ``theta`` and the certified maximum loss
        difference between them."""
        o = self.objective
        d = self.trainer.d
        num = loss_p - self.trainer.clean_objective(theta)
        R = 0.5 * np.sum(theta[:d] ** 2)
        R_p = 0.5 * np.sum(theta_p[:d] ** 2)
        den = solution.upper + o.reg_per_row * (R - R_p)
        if num <= 1e-10 * (1.0 + abs(loss_p)):  # zero, up to rounding
            return 0.0
        return np.inf if den <= 0 else float(num / den)

    def searched_bound(self, theta_p, loss_p, starts, steps=_SEGMENT_STEPS):
        """The largest bound found on the segments from each model of
        ``starts`` to ``theta_p``, and the model that gives it (None when no
        positive bound was found).

        The bound of :meth:`bound` holds for every model ``theta``; its
        numerator is concave and its denominator convex in ``theta``, both
        zero at ``theta_p``, so on a segment ending at ``theta_p`` the exact
        ratio grows towards ``theta_p``, while the certified gap of the
        maximisation (absolute) makes the computed one fall there. Each
        segment is searched at the models ``theta_p + s (theta - theta_p)``,
        ``s`` in ``steps``, until the bound falls; every evaluated bound uses
        the certified upper end of the maximum, so each is valid.
        """
        best, best_model = 0.0, None
        for theta in starts:
            direction = theta - theta_p
            if not np.any(direction):
                continue
            last = 0.0
            for s in steps:
                model = theta_p + s * direction
                value = self.bound(model, theta_p, loss_p, self.solve(model, theta_p))
                if np.isfinite(value) and value > best:
                    best, best_model = value, model
                if value < last or not np.isfinite(value):
                    break
                last = value
        return best, best_model

    def ascended_bound(self, theta_p, loss_p, theta, max_iter=_ASCENT_STEPS):
        """The bound raised from the model ``theta`` by ascent on the ratio.

        The bound is a concave numerator over a convex, positive denominator,
        so it is quasi-concave in ``theta``; each step follows Dinkelbach's
        direction (the numerator's gradient minus the current ratio times a
        subgradient of the denominator, taken at the maximising poison),
        backtracking along it until the bound rises. Every evaluated bound
        uses the certified upper end of the maximum, so each is valid; the
        largest is returned.
        """
        tr, o = self.trainer, self.objective
        n, d = tr.n_clean, tr.d
        Z, Y, pen = tr.Z[:n], tr.Y[:n], tr.penalty(float(n))
        sol = self.solve(theta, theta_p, **_ASCENT_TOLERANCES)
        best = self.bound(theta, theta_p, loss_p, sol)
        for _ in range(max_iter if np.isfinite(best) and best > 0 else 0):
            grad_num = -(Z.T @ (Y * _dphi(o.loss, Y * (Z @ theta))) + pen * theta)
            z = self.space.affine(sol.x[None, :], sol.categories[None, :])[0]
            z = np.append(z, 1.0) if self.fit_intercept else z
            grad_den = _dphi(o.loss, sol.label * (z @ theta)) * sol.label * z
            grad_den[:d] += o.reg_per_row * theta[:d]
            direction = grad_num - best * grad_den
            norm = np.linalg.norm(direction)
            if norm == 0:
                break
            step = np.linalg.norm(theta - theta_p) / norm
            for eta in _ASCENT_ETAS:
                model = theta + eta * step * direction
                found = self.solve(model, theta_p, **_ASCENT_TOLERANCES)
                value = self.bound(model, theta_p, loss_p, found)
                if np.isfinite(value) and value > best * (1 + 1e-6):
                    theta, sol, best = model, found, value
                    break
            else:
                break
        # the best model's bound with the default (tighter) certified gap
        final = self.bound(theta, theta_p, loss_p, self.solve(theta, theta_p))
        return max(best, final) if np.isfinite(final) else best

    def solve(self, theta, theta_p, **tolerances):
        const, A, cats = self.space.margin_terms(theta, theta_p, self.fit_intercept)
        return max_loss_difference(self.objective.loss, const, A, self.space.lo,
                                   self.space.hi, cats, **tolerances)

    def fitted_model(self, theta):
        """A fitted copy of the victim with the linear model ``theta``."""
        final = clone(self.final)
        d = self.trainer.d
        final.coef_ = theta[None, :d].copy()
        final.intercept_ = np.array([theta[d] if self.fit_intercept else 0.0])
        final.classes_ = self.classes.copy()
        final.n_features_in_ = d
        if self.pre is None:
            return final
        return Pipeline(list(self.pre.steps) + [("model", final)])


_DEFAULT_RATIOS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 35.0, 60.0)


class ModelTargetedPoison(BasePoisoningAttack):
    __doc__ = """Model-targeted poisoning with provable convergence (Suya et al., ICML 2021).

    Read more in the :ref:`User Guide <attacks_model_targeted>`.

    The victim is a convex linear classifier (``estimator``), alone or after
    scikit-learn preprocessing. From the attacker's rows the attack builds

    1. a **target model** ``theta_p`` that misclassifies the target
       subpopulation: the subpopulation's rows are label-flipped and added
       with weights from ``target_ratios``; of the candidates whose error on
       the subpopulation reaches ``target_error`` (or
       ``target_model_error``), the one with the lowest
       training objective on the clean rows is kept (Suya et al., Sec. 5);
    2. then, online, one poison at a time: the feasible row and label
       ``(x, y)`` that maximise ``loss(theta_t; x, y) - loss(theta_p; x, y)``,
       with ``theta_t`` the model trained on the clean rows and the poisons
       so far; retrain; stop when the subpopulation's error reaches
       ``target_error`` or after ``max_poisons`` (Algorithm 1). The induced
       models converge to ``theta_p``.

    The maximisation is exact up to a certified gap: both losses depend on a
    row only through the margins of the two models, each a sum of one term per
    feature (a segment for a continuous feature, a point per category), so
    the search runs over the Pareto front of those terms in the plane of the
    two margins. At each step the bound of Suya et al. (Theorem 2),
    ``(L(theta_p) - L(theta_t)) / max (loss(theta_t) - loss(theta_p))`` with
    ``L`` the victim's objective on the clean rows (regularisation included),
    is evaluated with the certified upper bound of the maximum
    (``bound_trace_``): no attack, whatever poisons in the feasible set it
    uses, makes the victim's objective minimised by ``theta_p`` with fewer
    poisons. The bound holds for every model in place of ``theta_t`` and the
    paper's is the supremum over them; on a segment ending at ``theta_p`` the
    exact ratio grows towards ``theta_p`` (a concave numerator over a convex
    denominator, both zero there), so the segments from the clean model, the
    path's best model and the last one are searched at a few points, halving
    the distance while the bound grows (``target_bound_``, the largest found).
    ``lower_bound_`` is the same search for the model the attack induced.

    **Victims.** Binary tasks only (multiclass raises a ValueError).
    ``LogisticRegression`` (L2 or no penalty), ``LinearSVC`` (L2 penalty,
    hinge or squared hinge) and ``SGDClassifier(loss="hinge" or "log_loss")``
    with L2 or no penalty, without ``class_weight``; as the last step of a
    :class:`~sklearn.pipeline.Pipeline`, the steps before it must be affine
    in each continuous feature and separable across features
    (``StandardScaler``, ``MinMaxScaler``, ``OneHotEncoder`` in a
    ``ColumnTransformer``), which is checked. The preprocessing is fitted
    once on the attacker's rows and held fixed. Every refit minimises the
    victim's own objective, warm-started from the last model: Newton's method
    for logistic regression and the squared hinge; for the hinge, Newton's
    method on the hinge smoothed over shrinking widths, then the exact
    minimiser from the rows on the margin, certified by the hinge's KKT
    conditions within 1e-9 (a ``RuntimeWarning`` counts any refit that is
    not). ``SGDClassifier``'s own fit only approximates that minimiser.

    **Poisons** are rows in the user's units: a numeric feature with more
    than two values ranges over the attacker's observed range (or
    ``bounds``), any other feature takes one of the values of the attacker's
    rows (strings and categories included, with a DataFrame).

    Parameters
    ----------
    subpopulation : subpopulation finder or None, default=None
        The finder that defines the target subpopulation, as in
        :class:`~skpoison.attacks.LabelFlip` (cloned and fitted on the
        attacker's rows, or used as is when wrapped in
        :class:`sklearn.frozen.FrozenEstimator`).

    target_error : float in (0, 1), default=0.5
        The attack's goal: the error of the poisoned model on the attacker's
        rows of the subpopulation.

    estimator : classifier or Pipeline, default=None
        The victim (see above). ``None`` uses
        ``LogisticRegression(max_iter=1000)``. Cloned; unseeded random states
        are seeded from ``random_state``.

    max_poisons : int, default=1000
        Most poisons added.

    aux : tuple (X_aux, y_aux) or None, default=None
        The attacker's own data, as in :class:`~skpoison.attacks.LabelFlip`:
        the finder is fitted on it, the target model and the simulated victim
        are trained on it. ``None`` uses the received rows.

    bounds : tuple (low, high) or None, default=None
        The range of the continuous features in the original units (scalars
        or arrays of shape (n_features,), finite for those features). ``None``:
        the attacker's observed range.

    target_ratios : array-like of float or None, default=None
        Weights of the label-flipped copies tried for the target model.
        ``None``: ``{ratios}``.

    target_model_error : float in (0, 1] or None, default=1.0
        The error on the subpopulation the target model must reach; at least
        ``target_error``. The attack still stops at ``target_error``, so a
        target past the goal is passed on the way to it rather than
        approached all the way. Of the candidates that reach it, the one
        with the lowest clean objective is kept; when none does (a group of
        both labels), the candidates of the highest error reached. 1.0 is
        the choice of Rose et al.'s code; on UCI Adult with logistic
        regression it needs fewer poisons than ``None`` for most groups, not
        all (see the User Guide).
        ``None``: ``target_error``, the lowest-loss model that just reaches
        the goal.

    random_state : int, RandomState instance or None, default=None
        Seeds the finder and the victim, when unseeded.

    Attributes
    ----------""".format(ratios=_DEFAULT_RATIOS) + _SHARED_ATTACK_ATTRS_DOC + """
        Here ``n_subpopulation_`` is the size of the target subpopulation in
        the attacker's rows, and ``sample_indices_`` is -1 for each poison:
        the poisons are built, not drawn from the attacker's rows.

    classes_ : ndarray of shape (2,)
        The class labels.

    target_model_ : estimator
        The target model, as a fitted copy of the victim (with the
        preprocessing fitted on the attacker's rows).

    target_ratio_ : float
        The weight of the label-flipped copies that gave it.

    estimator_ : estimator
        The victim trained by the attacker on its rows and the poisons.

    error_trace_ : ndarray of shape (n_poisons + 1,)
        The subpopulation's error (on the attacker's rows) after 0, 1, ...
        ``n_poison_`` poisons.

    bound_trace_ : ndarray of shape (n_steps,)
        The lower bound for ``target_model_`` computed from the model of each
        step.

    gap_trace_ : ndarray of shape (n_steps,)
        The certified optimality gap of each step's maximisation.

    target_bound_ : float
        The largest bound for ``target_model_`` found (``bound_trace_`` and a
        search on segments ending at it): any attack needs at least
        ``ceil(target_bound_)`` poisons from the feasible set to induce
        ``target_model_``. The attack stops at ``target_error``, usually
        before it reaches ``target_model_``, so it may use fewer.

    lower_bound_ : float
        The same bound for the model this attack induced (``estimator_``),
        as Suya et al. report it: any attack needs at least
        ``ceil(lower_bound_)`` poisons from the feasible set to induce that
        model, and this one used ``n_poison_``, so ``lower_bound_ <=
        n_poison_``. Searched from the clean model and a few of the attack's
        models, each along its segment to ``estimator_``'s model, then by
        ascent on the bound from the best model found.

    efficiency_ : float
        ``n_poison_ / lower_bound_``, at least 1: how far the attack is from
        the fewest poisons that can induce its model (NaN when the bound is
        0).

    goal_reached_ : bool
        Whether the subpopulation's error reached ``target_error``.

    See Also
    --------
    LabelFlip : Label-flipped copies of the subpopulation's rows.
    susceptibility : The bound for every group of a finder, before attacking.

    References
    ----------
    .. [1] F. Suya, S. Mahloujifar, A. Suri, D. Evans and Y. Tian,
       "Model-Targeted Poisoning Attacks with Provable Convergence", ICML 2021.
    .. [2] E. Rose, F. Suya and D. Evans, "Understanding Variation in
       Subpopulation Susceptibility to Poisoning Attacks", 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from skpoison.attacks import ModelTargetedPoison
    >>> from skpoison.subpopulations import FeatureMatch
    >>> rng = np.random.RandomState(0)
    >>> group = rng.randint(3, size=300)
    >>> X = np.column_stack([group, rng.normal(size=300)])
    >>> y = (X[:, 1] + 0.5 * group > 0.5).astype(int)
    >>> finder = FrozenEstimator(FeatureMatch([0], target=2).fit(X))
    >>> attack = ModelTargetedPoison(finder, target_error=0.5, random_state=0)
    >>> X_res, y_res = attack.fit_resample(X, y)
    >>> attack.goal_reached_, attack.n_poison_, round(float(attack.error_trace_[-1]), 3)
    (True, 80, 0.565)
    >>> round(attack.lower_bound_, 1), round(attack.efficiency_, 2)
    (77.9, 1.03)
    >>> round(attack.target_bound_, 1)  # to reach the target model itself
    2721.7
    """

    _parameter_constraints = {
        "subpopulation": BasePoisoningAttack._parameter_constraints["subpopulation"],
        "target_error": [Interval(Real, 0, 1, closed="neither")],
        "estimator": [HasMethods(["fit", "decision_function"]), None],
        "max_poisons": [Interval(Integral, 0, None, closed="left")],
        "aux": [tuple, None],
        "bounds": [tuple, None],
        "target_ratios": ["array-like", None],
        "target_model_error": [Interval(Real, 0, 1, closed="right"), None],
        "random_state": ["random_state"],
    }

    # built rows of any column type (categories are set to their values)
    _X_dtype = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # binary targets only: scikit-learn's checks then give it two classes
        tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags

    def __init__(self, subpopulation=None, *, target_error=0.5, estimator=None,
                 max_poisons=1000, aux=None, bounds=None, target_ratios=None,
                 target_model_error=1.0, random_state=None):
        self.subpopulation = subpopulation
        self.target_error = target_error
        self.target_model_error = target_model_error
        self.estimator = estimator
        self.max_poisons = max_poisons
        self.aux = aux
        self.bounds = bounds
        self.target_ratios = target_ratios
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_resample(self, X, y, **params):
        """Append the model-targeted poisons to the training data.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The victim's training rows.
        y : array-like of shape (n_samples,)
            Their labels (two classes).
        **params : dict
            Unused; kept for imbalanced-learn's signature.

        Returns
        -------
        X_resampled : array-like or DataFrame of shape (n_samples + n_poison, n_features)
            The received rows, unchanged and in order, then the poisons.
        y_resampled : array-like of shape (n_samples + n_poison,)
            Their labels, then the poison labels.
        """
        return self._validated_resample(X, y, self._resample)

    def check_victim(self, y=None):
        """Raise the error ``fit_resample`` raises for a victim it cannot attack.

        Read more in the :ref:`User Guide <attacks_model_targeted>`.

        Checks ``estimator`` (its last step, for a pipeline: the model, the
        penalty, the loss, ``class_weight``) and, when given, that ``y`` has
        two classes, without fitting anything. Whether a pipeline's
        preprocessing is affine and separable needs rows: ``fit_resample``
        checks it.

        Parameters
        ----------
        y : array-like of shape (n_samples,) or None, default=None
            Labels; ``None`` skips the check of the number of classes.

        Returns
        -------
        self : ModelTargetedPoison
            The attack, unchanged.

        Raises
        ------
        TypeError
            The victim is not a linear classifier the attack supports.
        ValueError
            Its options are not supported (an L1 penalty, ``class_weight``,
            another loss), or ``y`` does not have two classes.

        Examples
        --------
        >>> from sklearn.svm import LinearSVC
        >>> from skpoison.attacks import ModelTargetedPoison
        >>> ModelTargetedPoison(estimator=LinearSVC(penalty="l1", dual=False)
        ...                     ).check_victim([0, 1])
        Traceback (most recent call last):
        ...
        ValueError: estimator: ModelTargetedPoison supports LinearSVC with penalty='l2'; got 'l1'.
        """
        classes = (np.zeros(2) if y is None
                   else pd.unique(pd.Series(np.ravel(np.asarray(y, dtype=object)))))
        _check_victim(self._victim(), classes)
        return self

    def _victim(self):
        return (LogisticRegression(max_iter=1000) if self.estimator is None
                else self.estimator)

    def _ratios(self):
        if self.target_ratios is None:
            return _DEFAULT_RATIOS
        ratios = np.asarray(self.target_ratios, dtype=np.float64).ravel()
        if ratios.size == 0 or not np.all(np.isfinite(ratios)) or np.any(ratios <= 0):
            raise ValueError("target_ratios must hold positive finite numbers; got "
                             f"{self.target_ratios!r}.")
        return tuple(ratios)

    def _model_error(self):
        """The error the target model must reach (``target_error`` for None)."""
        if self.target_model_error is None:
            return self.target_error
        if self.target_model_error < self.target_error:
            raise ValueError(
                "target_model_error must be at least target_error (the target model "
                f"must reach the goal); got target_model_error={self.target_model_error} "
                f"and target_error={self.target_error}.")
        return self.target_model_error

    def _prepare(self, X_given, X, y, capacity):
        """The attacker's rows, the fitted finder and the victim's setup."""
        rng = check_random_state(self.random_state)
        X_src_given, X_src, y_src = self._attacker_rows(X_given, X, y)
        classes = np.unique(np.concatenate([y, y_src]))
        self.classes_ = classes
        finder = self._fitted_finder(X_src_given, rng)
        self.subpopulation_ = finder
        # the rows as given when a DataFrame (column names and dtypes for the
        # victim's preprocessing), else validated
        rows = X_src_given if is_dataframe(X_src_given) else X_src
        setup = _Setup(self._victim(), rows, y_src, classes, self.bounds, rng,
                       capacity=capacity)
        return setup, finder, X_src_given

    def _group_rows(self, finder, X_src_given, target=None):
        mask = (finder.membership(X_src_given) if target is None
                else finder.membership(X_src_given, target=target))
        sub = np.flatnonzero(np.asarray(mask, dtype=bool))
        if sub.size == 0 and target is None:
            raise ValueError(
                f"The target subpopulation (target_={finder.target_}) has no rows in "
                "the attacker's data: there is no target to misclassify. Choose "
                "another subpopulation.target.")
        return sub

    def _resample(self, X_given, X, y):
        ratios, model_error = self._ratios(), self._model_error()
        n_aux = (self.aux[0].shape[0] if self.aux is not None
                 and hasattr(self.aux[0], "shape") else X.shape[0])
        setup, finder, X_src_given = self._prepare(
            X_given, X, y, capacity=self.max_poisons + n_aux)
        sub = self._group_rows(finder, X_src_given)
        classes = setup.classes
        tr = setup.trainer
        theta = tr.fit(np.zeros(tr.Z.shape[1]))
        theta_p, ratio = setup.target_model(theta, sub, self.target_error, ratios,
                                            model_error)
        loss_p = tr.clean_objective(theta_p)

        theta_clean = theta
        errors = [setup.errors(theta, sub)]
        bounds, gaps, models = [], [], []
        poisons = []  # (x_cont, cats, label) per poison, in order
        rows = {}  # unique poison -> its row in the trainer
        while errors[-1] < self.target_error and len(poisons) < self.max_poisons:
            sol = setup.solve(theta, theta_p)
            bounds.append(setup.bound(theta, theta_p, loss_p, sol))
            gaps.append(sol.upper - sol.value)
            models.append(theta)
            if sol.value <= 0:
                break  # theta_t minimises the loss difference: nothing to add
            key = (sol.label, sol.x.tobytes(), sol.categories.tobytes())
            if key in rows:
                tr.s[rows[key]] += 1.0
            else:
                z = setup.space.affine(sol.x[None, :], sol.categories[None, :])[0]
                rows[key] = tr.add(z, float(sol.label))
            poisons.append((sol.x, sol.categories, sol.label))
            theta = tr.fit(theta)
            errors.append(setup.errors(theta, sub))
        if errors[-1] < self.target_error:
            warnings.warn(
                f"ModelTargetedPoison: the target error {self.target_error} was not "
                f"reached with {len(poisons)} poisons (error "
                f"{errors[-1]:.3f}); raise max_poisons.", UserWarning)
        if tr.uncertified:
            warnings.warn(
                f"ModelTargetedPoison: {tr.uncertified} hinge refits were not certified "
                "exact (the hinge's KKT conditions within 1e-9); their models are the "
                "minimisers of the hinge smoothed over a width of 1e-7.", RuntimeWarning)
        if not bounds:  # the goal held before any poison
            sol = setup.solve(theta, theta_p)
            bounds.append(setup.bound(theta, theta_p, loss_p, sol))
            gaps.append(sol.upper - sol.value)
            models.append(theta)
        # the segments to theta_p from the clean model, the path's best model
        # and the last one
        starts = [theta_clean, models[int(np.argmax(bounds))], theta]
        searched, _ = setup.searched_bound(
            theta_p, loss_p, [t for i, t in enumerate(starts)
                              if not any(t is u for u in starts[:i])])
        # the same bound for the model this attack induced (as Suya et al.
        # report it): the attack reached that model with n_poison poisons, so
        # the bound is at most that many; from the clean model and a few of
        # the path's models, each also searched along its segment to it
        picks = np.unique(np.linspace(0, len(models) - 1, _INDUCED_STARTS).round())
        loss_atk = tr.clean_objective(theta)
        induced, best_model = setup.searched_bound(
            theta, loss_atk, [models[int(i)] for i in picks], steps=(1.0, *_SEGMENT_STEPS))
        if best_model is not None:  # then on from the best model found
            induced = max(induced, setup.ascended_bound(theta, loss_atk, best_model))

        n_poison = len(poisons)
        space = setup.space
        x_cont = (np.vstack([p[0] for p in poisons]) if n_poison
                  else np.zeros((0, len(space.cont))))
        cats = (np.vstack([p[1] for p in poisons]).astype(np.intp) if n_poison
                else np.zeros((0, len(space.disc)), dtype=np.intp))
        X_poison = space.rows(x_cont, cats)
        labels = np.array([p[2] for p in poisons], dtype=np.intp)
        y_poison = np.asarray(classes[(labels > 0).astype(np.intp)]).astype(
            y.dtype, copy=False)

        self.target_model_ = setup.fitted_model(theta_p)
        self.target_ratio_ = float(ratio)
        self.estimator_ = setup.fitted_model(theta)
        self.error_trace_ = np.asarray(errors)
        self.bound_trace_ = np.asarray(bounds)
        self.gap_trace_ = np.asarray(gaps)
        self.target_bound_ = float(max(np.max(self.bound_trace_), searched))
        self.lower_bound_ = float(induced)
        self.efficiency_ = (n_poison / self.lower_bound_ if self.lower_bound_ > 0
                            else float("nan"))
        self.goal_reached_ = bool(errors[-1] >= self.target_error)
        self.sample_indices_ = np.full(n_poison, -1, dtype=np.intp)
        self.n_subpopulation_ = int(sub.size)
        self.n_poison_ = n_poison
        self.poison_mask_ = np.concatenate(
            [np.zeros(X.shape[0], dtype=bool), np.ones(n_poison, dtype=bool)])
        self.sampling_strategy_ = {c: int(np.sum(y_poison == c)) for c in classes.tolist()}
        return append_rows(X, X_poison), np.concatenate([y, y_poison])

    def _susceptibility(self, X_given, X, y, groups):
        """The score of each group (see :func:`susceptibility`); rows unchanged."""
        ratios, model_error = self._ratios(), self._model_error()
        n_aux = (self.aux[0].shape[0] if self.aux is not None
                 and hasattr(self.aux[0], "shape") else X.shape[0])
        setup, finder, X_src_given = self._prepare(X_given, X, y, capacity=n_aux)
        tr = setup.trainer
        theta = tr.fit(np.zeros(tr.Z.shape[1]))
        loss_c = tr.clean_objective(theta)
        if groups is None:
            groups = np.asarray(finder.subpopulations_).tolist()
        records = []
        for g in groups:
            sub = self._group_rows(finder, X_src_given, target=g)
            record = {"subpopulation": g, "n_aux": int(sub.size),
                      "clean_error": setup.errors(theta, sub)}
            try:
                if sub.size == 0:
                    raise ValueError("no attacker rows")
                theta_p, ratio = setup.target_model(theta, sub, self.target_error,
                                                    ratios, model_error)
            except ValueError:
                record.update(target_ratio=np.nan, loss_difference=np.nan,
                              max_loss_difference=np.nan, clean_bound=np.nan,
                              lower_bound=np.nan)
            else:
                loss_p = tr.clean_objective(theta_p)
                sol = setup.solve(theta, theta_p)
                bound = setup.bound(theta, theta_p, loss_p, sol)
                record.update(target_ratio=float(ratio),
                              loss_difference=loss_p - loss_c,
                              max_loss_difference=sol.upper,
                              clean_bound=bound,
                              lower_bound=max(bound, setup.searched_bound(
                                  theta_p, loss_p, [theta], steps=_SCORE_STEPS)[0]))
            records.append(record)
        self._scores = pd.DataFrame.from_records(
            records, columns=["subpopulation", "n_aux", "clean_error", "target_ratio",
                              "loss_difference", "max_loss_difference", "clean_bound",
                              "lower_bound"])
        return X, y


def susceptibility(finder, estimator, X, y, X_aux=None, y_aux=None, *,
                   target_error=0.5, groups=None, bounds=None, target_ratios=None,
                   target_model_error=1.0, random_state=None):
    """How many poisons each group of a finder needs at least, before attacking.

    Read more in the :ref:`User Guide <attacks_model_targeted>`.

    For every candidate group, the target model of
    :class:`ModelTargetedPoison` (label-flipped copies of the group's rows,
    the one with the lowest clean loss that reaches ``target_model_error``) and the
    lower bound of Suya et al. (ICML 2021, Theorem 2) on the poisons that
    induce it: a few fits per group, no attack. The bound holds for every
    model theta (the clean-loss difference between the target model and
    theta over the largest loss difference a feasible poison achieves
    between them); the paper's bound is the supremum over theta. Here theta
    is the clean model (``clean_bound``, the number
    ``ModelTargetedPoison(finder.retarget(group), aux=(X_aux, y_aux), ...)``
    computes before its first poison) and the model on the segment from it
    to the target model a quarter of the way from the target model
    (``lower_bound``, the larger of the two). On that segment the exact ratio
    grows towards the target model; the certified maximum's gap, absolute,
    makes the computed one fall near it, and each evaluation costs more
    there. Rose, Suya and Evans
    (2023) found the clean-loss difference between the target and the clean
    model the best predictor of the poisons an attack needs; it is returned
    too.

    Parameters
    ----------
    finder : subpopulation finder
        Cloned and fitted on the attacker's rows, or used as is when wrapped
        in :class:`sklearn.frozen.FrozenEstimator`.
    estimator : classifier or Pipeline or None
        The victim, as in :class:`ModelTargetedPoison`.
    X : array-like or DataFrame of shape (n_samples, n_features)
        The victim's training rows.
    y : array-like of shape (n_samples,)
        Their labels (two classes).
    X_aux, y_aux : array-like, default=None
        The attacker's rows (``aux`` of the attack); ``None`` uses ``X, y``.
    target_error : float in (0, 1), default=0.5
        The attack goal: the error on the group's attacker rows.
    target_model_error : float in (0, 1] or None, default=1.0
        The error the target model must reach, as in
        :class:`ModelTargetedPoison`.
    groups : sequence of int or None, default=None
        Group ids to score; ``None``: the finder's ``subpopulations_``.
    bounds, target_ratios, random_state
        As in :class:`ModelTargetedPoison`.

    Returns
    -------
    scores : DataFrame
        One row per group: ``subpopulation`` (id), ``n_aux`` (its attacker
        rows), ``clean_error`` (the clean model's error on them),
        ``target_ratio``, ``loss_difference`` (clean objective of the target
        model minus that of the clean model), ``max_loss_difference`` (the
        certified maximum of ``loss(clean) - loss(target)`` over the feasible
        poisons), ``clean_bound`` (their ratio, adjusted for regularisation:
        the bound from the clean model) and ``lower_bound`` (the largest bound
        found, ``clean_bound`` or the segment's: any attack needs at least
        this many poisons to induce the target model). NaN where no target
        model reaches the goal. Sort by ``lower_bound`` or
        ``loss_difference`` to rank the groups.

    See Also
    --------
    ModelTargetedPoison : The attack that reaches the target models.

    References
    ----------
    .. [1] F. Suya, S. Mahloujifar, A. Suri, D. Evans and Y. Tian,
       "Model-Targeted Poisoning Attacks with Provable Convergence", ICML 2021.
    .. [2] E. Rose, F. Suya and D. Evans, "Understanding Variation in
       Subpopulation Susceptibility to Poisoning Attacks", 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.attacks import susceptibility
    >>> from skpoison.subpopulations import FeatureMatch
    >>> rng = np.random.RandomState(0)
    >>> group = rng.randint(3, size=300)
    >>> X = np.column_stack([group, rng.normal(size=300)])
    >>> y = (X[:, 1] + 0.5 * group > 0.5).astype(int)
    >>> scores = susceptibility(FeatureMatch([0]), None, X, y)
    >>> scores[["subpopulation", "n_aux"]].to_numpy().tolist()
    [[0, 102], [1, 106], [2, 92]]
    >>> bool((scores["lower_bound"] > 0).all())
    True
    """
    aux = None if X_aux is None else (X_aux, y_aux)
    attack = ModelTargetedPoison(
        finder, target_error=target_error, estimator=estimator, aux=aux,
        bounds=bounds, target_ratios=target_ratios,
        target_model_error=target_model_error, random_state=random_state)
    attack._validate_params()
    attack._validated_resample(
        X, y, lambda X_given, X_, y_: attack._susceptibility(X_given, X_, y_, groups))
    return attack._scores

"""Partition aggregation: certified robustness to added and removed rows.

Deep Partition Aggregation (DPA; Levine and Feizi, "Deep Partition
Aggregation: Provable Defenses against General Poisoning Attacks", ICLR 2021)
and its generalisation Finite Aggregation (FA; Wang, Levine and Feizi,
"Improved Certified Defenses against Data Poisoning with (Deterministic)
Finite Aggregation", ICML 2022), each with the certificate its paper proves.

Every training row goes to a *bucket* chosen by a hash of the row's own
content, ``h(x) mod (k d)``; each bucket is shared by ``d`` of the ``k d``
base classifiers (with ``d = 1``: one partition per classifier, DPA), each
base classifier is a clone of ``estimator`` trained on its buckets only, and
the prediction is the plurality vote, ties going to the smaller class index.
An inserted or removed row lands in one bucket, so it can change at most
``d`` votes; label flips keep the row's features, hence its bucket, and count
the same. The certificate is pure integer arithmetic on the vote counts.
"""

import hashlib
import itertools
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.utils import (
    assert_all_finite,
    check_random_state,
    get_tags,
)
from sklearn.utils.validation import (
    check_is_fitted,
    validate_data,
)

from ..utils._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    _safe_indexing,
)
from ..utils._labels import encode_labels
from ..utils._seeding import seed_unseeded
from ._base import check_training_labels, inherit_input_tags

__all__ = ["PartitionAggregation"]

_HASHES = ("sha256", "blake2b")
# Fixed seed of the spread of buckets over base classifiers (Finite
# Aggregation): the spread depends on (n_partitions, n_shares) only, never on
# the data or on random_state, so a row's base classifiers are a function of
# its content and the parameters alone.
_SPREAD_SEED = 20220801
# Most entries of spread_ (n_partitions * n_shares**2 integers, 80 MB): a
# larger table is a mistyped n_shares, not a defense anyone can fit.
_MAX_SPREAD = 10 ** 7


# ------------------------------------------------------------------ hashing
_NUMBER, _MISSING, _TEXT = b"\x01", b"\x00", b"\x02"


def _canonical_floats(A):
    """Little-endian float64 copy, -0.0 as 0.0 and every NaN one bit pattern."""
    A = np.array(A, dtype="<f8", copy=True, order="C")
    A += 0.0  # -0.0 + 0.0 == +0.0
    A[np.isnan(A)] = np.nan
    return A


def _number_tokens(A):
    """Tokens of a numeric 2-D array, shape (n, 9 m): tag byte + float64 each."""
    F = _canonical_floats(A)
    n, m = F.shape
    out = np.empty((n, m, 9), dtype=np.uint8)
    out[:, :, 0] = _NUMBER[0]
    out[:, :, 1:] = F.view(np.uint8).reshape(n, m, 8)
    return out.reshape(n, 9 * m)


def _cell_token(value):
    """Token of one cell of a non-numeric column."""
    if isinstance(value, (Real, np.bool_)):  # NaN included: a number
        return _NUMBER + _canonical_floats([float(value)]).tobytes()
    try:
        missing = value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like cells
        missing = False
    if missing:
        return _MISSING
    text = str(value).encode("utf-8")
    return _TEXT + len(text).to_bytes(8, "little") + text


def _is_numeric(dtype):
    return (pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_complex_dtype(dtype))


def _row_bytes(X):
    """The content of each row of ``X`` (see PartitionAggregation).

    A list of bytes, or a C-contiguous 2-D uint8 array whose rows are the
    bytes (numeric input): either way, one buffer per row.
    """
    if sp.issparse(X):
        if X.dtype.kind == "c":
            raise ValueError("Complex data not supported.")
        X = sp.csr_matrix(X, dtype=np.float64, copy=True)
        X.sum_duplicates()
        X.eliminate_zeros()
        X.sort_indices()
        data = _canonical_floats(X.data)
        indices = X.indices.astype("<i8")
        ptr = X.indptr
        return [indices[a:b].tobytes() + data[a:b].tobytes()
                for a, b in itertools.pairwise(ptr)]
    if isinstance(X, pd.DataFrame):
        if any(pd.api.types.is_complex_dtype(t) for t in X.dtypes):
            raise ValueError("Complex data not supported.")
        if all(_is_numeric(t) for t in X.dtypes):
            return _number_tokens(X.to_numpy(dtype=np.float64, na_value=np.nan))
        columns = []
        for j in range(X.shape[1]):
            col = X.iloc[:, j]
            if _is_numeric(col.dtype):
                values = col.to_numpy(dtype=np.float64, na_value=np.nan)
                columns.append([r.tobytes() for r in _number_tokens(values[:, None])])
            else:
                columns.append([_cell_token(v) for v in col.to_numpy(dtype=object)])
        return [b"".join(cells) for cells in zip(*columns)]
    A = np.asarray(X)
    if A.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {A.ndim}D array instead. Reshape your data "
            "either using array.reshape(-1, 1) if your data has a single feature "
            "or array.reshape(1, -1) if it contains a single sample."
        )
    if A.dtype.kind == "c":
        raise ValueError("Complex data not supported.")
    if A.dtype.kind in "biuf":
        return _number_tokens(A)
    return [b"".join(_cell_token(v) for v in row) for row in A]  # object, str


def _as_2d(X):
    """``X`` ready for row selection: CSR/CSC, DataFrame, or a 2-D ndarray."""
    if sp.issparse(X):
        return X if X.format in ("csr", "csc") else X.tocsr()
    if isinstance(X, pd.DataFrame):
        return X
    A = np.asarray(X)
    if A.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {A.ndim}D array instead. Reshape your data "
            "either using array.reshape(-1, 1) if your data has a single feature "
            "or array.reshape(1, -1) if it contains a single sample."
        )
    return X if isinstance(X, np.ndarray) else A


def _check_finite(X):
    """NaN or infinity in the numbers of ``X``: a ValueError naming X."""
    if sp.issparse(X):
        assert_all_finite(X.data, input_name="X")
    elif isinstance(X, pd.DataFrame):
        for j in range(X.shape[1]):
            col = X.iloc[:, j]
            if _is_numeric(col.dtype):
                assert_all_finite(col.to_numpy(dtype=np.float64, na_value=np.nan),
                                  input_name="X")
    else:
        A = np.asarray(X)
        if A.dtype.kind in "biuf":
            assert_all_finite(A, input_name="X")


def _hash_rows(X, hash_name):
    """Two uint64 words of the digest of each row's content, shape (n, 2)."""
    rows = _row_bytes(X)
    hasher = getattr(hashlib, hash_name)
    digests = b"".join([hasher(r).digest()[:16] for r in rows])
    return np.frombuffer(digests, dtype=">u8").reshape(len(rows), 2).astype(np.uint64)


def _spread(n_partitions, n_shares):
    """Base classifiers of each bucket, shape (k d, d).

    Bucket ``b`` goes to classifiers ``(b + o_l) mod (k d)`` for ``d`` distinct
    offsets ``o_0 = 0 < o_1 < ... < o_{d-1}`` (drawn once with a fixed seed):
    each bucket is used by ``d`` distinct classifiers and each classifier is
    trained on ``d`` distinct buckets, about ``1 / k`` of the rows, as in DPA.
    """
    n_buckets = n_partitions * n_shares
    offsets = np.zeros(n_shares, dtype=np.int64)
    if n_shares > 1:
        rng = np.random.RandomState(_SPREAD_SEED)
        offsets[1:] = np.sort(rng.choice(np.arange(1, n_buckets), size=n_shares - 1,
                                         replace=False))
    return (np.arange(n_buckets)[:, None] + offsets[None, :]) % n_buckets


# -------------------------------------------------------------- certificate
def _vote_counts(votes, n_classes):
    """Votes per class, shape (n, n_classes); ``-1`` (abstain) counts nowhere."""
    n = votes.shape[0]
    flat = (np.arange(n)[:, None] * (n_classes + 1) + votes + 1).ravel()
    counts = np.bincount(flat, minlength=n * (n_classes + 1))
    return counts.reshape(n, n_classes + 1)[:, 1:].astype(np.int64)


def _plurality(counts):
    """Winning class index: the most votes, ties to the smaller index."""
    return np.argmax(counts, axis=1)  # argmax returns the first maximum


def _gaps(counts, pred):
    """``N_c - N_c' - 1[c' < c]`` per row and class (the winner's own: unused).

    Non-negative for every ``c' != c`` when ``c`` wins the plurality vote
    with ties to the smaller index; an unseen rival (see
    :func:`_with_unseen_rival`) may make it -1 where every model abstains.
    """
    rows = np.arange(counts.shape[0])
    idx = np.arange(counts.shape[1])
    return (counts[rows, pred][:, None] - counts
            - (idx[None, :] < pred[:, None]).astype(np.int64))


def _with_unseen_rival(votes, counts, pred):
    """Votes, counts and winner with one more class, of index 0 and no votes.

    The conservative certificate against labels never seen in training: an
    added row may carry a new label, which may sort before every known one
    and so win its ties. Known class ``j`` becomes ``j + 1``.
    """
    n = counts.shape[0]
    counts = np.hstack([np.zeros((n, 1), dtype=counts.dtype), counts])
    if votes is not None:
        votes = np.where(votes >= 0, votes + 1, -1)
    return votes, counts, pred + 1


def _dpa_radius(counts, pred=None):
    """Deep Partition Aggregation's certificate (Levine and Feizi, ICLR 2021).

    ``floor((N_c - max_{c' != c} (N_c' + 1[c' < c])) / 2)``: each changed
    partition moves one vote, lowering a gap by at most 2. Exact: the next
    budget can always flip the vote (move ``radius + 1`` votes from ``c`` to
    the runner-up). ``pred`` (default: the plurality) is the class certified.
    """
    if pred is None:
        pred = _plurality(counts)
    gaps = _gaps(counts, pred)
    gaps[np.arange(counts.shape[0]), pred] = np.iinfo(np.int64).max
    return pred, np.maximum(gaps.min(axis=1) // 2, 0)


def _fa_radius(votes, counts, spread, batch_size=512, pred=None):
    """Finite Aggregation's certificate (Wang, Levine and Feizi, ICML 2022).

    For a rival class ``c'``, corrupting bucket ``b`` can change the votes of
    its ``d`` base classifiers ``spread[b]``; each lowers the gap
    ``N_c - N_c' - 1[c' < c]`` by at most ``1[f_i = c] + 1[f_i != c']`` (2 for
    a vote for ``c``, 1 for another class or an abstention, 0 for ``c'``).
    Summing over the buckets, classifiers shared by two corrupted buckets
    counted twice, bounds the damage of any ``r`` buckets by the sum of the
    ``r`` largest bucket scores; the radius is the largest ``r`` whose bound
    stays within every rival's gap. ``pred`` (default: the plurality) is the
    class certified.
    """
    if pred is None:
        pred = _plurality(counts)
    n, n_classes = counts.shape
    gaps = _gaps(counts, pred)
    radius = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        v, c = votes[sl], pred[sl]
        for rival in range(n_classes):
            rows = np.flatnonzero(c != rival)
            if rows.size == 0:
                continue
            vr = v[rows]
            delta = ((vr == c[rows, None]).astype(np.int64)
                     + (vr != rival).astype(np.int64))
            score = delta[:, spread].sum(axis=2)           # (rows, buckets)
            score = -np.sort(-score, axis=1)
            cum = np.cumsum(score, axis=1)
            r = (cum <= gaps[sl][rows, rival][:, None]).sum(axis=1)
            radius[start + rows] = np.minimum(radius[start + rows], r)
    return pred, radius


# ------------------------------------------------------------- run-off
_NEVER = np.iinfo(np.int64).max // 4  # a budget that cannot succeed


def _budget(weights, need, spread):
    """Fewest corrupted buckets whose models can move a count by ``need``.

    ``weights[i, j]``: the most model ``j`` can move the count for row ``i``
    (its own contribution, whatever it is made to predict). A corrupted
    bucket moves at most the sum over its models ``spread[b]``, so ``r``
    buckets move at most the sum of the ``r`` largest bucket sums. Returns
    that smallest ``r`` (0 where ``need <= 0``; ``_NEVER`` where even every
    bucket is not enough): a lower bound on any attack's cost.
    """
    score = weights[:, spread].sum(axis=2)
    score = -np.sort(-score, axis=1)
    cum = np.cumsum(score, axis=1)
    r = (cum < need[:, None]).sum(axis=1) + 1
    r = np.where(cum[:, -1] < need, _NEVER, r)
    return np.where(need <= 0, 0, r)


def _prefers(scores, a, b):
    """Whether each model prefers class ``a`` to ``b`` (rows' own a, b): the
    higher score, ties to the smaller index; False for abstaining models."""
    rows = np.arange(scores.shape[0])
    sa, sb = scores[rows, :, a], scores[rows, :, b]
    return (sa > sb) | ((sa == sb) & (a < b)[:, None])


def _runoff(scores):
    """Run-off election (Rezaei et al., ICML 2023) on the models' scores.

    ``scores``: (n, m, C), NaN for abstaining models, -inf for classes a
    model does not know. Round 1: each model votes its top class; the two
    classes with the most votes go on (ties to the smaller index). Round 2:
    each model votes for the finalist it scores higher; the majority wins
    (ties to the smaller index). Returns the round-1 votes and counts, the
    finalists, their round-2 counts and the winner.
    """
    n, _, n_classes = scores.shape
    abstain = np.isnan(scores[:, :, 0])
    votes = np.where(abstain, -1,
                     np.argmax(np.where(abstain[:, :, None], 0.0, scores), axis=2))
    counts = _vote_counts(votes, n_classes)
    rows = np.arange(n)
    first = _plurality(counts)
    rest = counts.copy()
    rest[rows, first] = -1
    second = _plurality(rest)
    m_first = _prefers(scores, first, second).sum(axis=1)
    m_second = _prefers(scores, second, first).sum(axis=1)
    first_wins = (m_first > m_second) | ((m_first == m_second) & (first < second))
    winner = np.where(first_wins, first, second)
    return votes, counts, first, second, m_first, m_second, winner


def _flip_cases(votes, counts, c, scores=None):
    """The ways the prediction ``c`` can change, as necessary conditions.

    Yields ``(live, conditions)`` per case: ``live`` (n,) marks the rows the
    case applies to; each condition is ``(need, weights)``: some count must
    move by at least ``need`` (n,), and model ``j`` can move it by at most
    ``weights[:, j]``. A row's prediction changes only if, for some live
    case, every condition is met by the corrupted models.

    Plurality vote (``scores`` None): one case per rival ``a``, ``N_a - N_c``
    must gain ``N_c - N_a + 1[a > c]`` (exact). Run-off election (scores
    given), after Rezaei, Banihashem, Chegini and Feizi (ICML 2023, Sec. 4):
    (1) two classes ``a < b`` pass ``c`` in round 1: ``a`` passes, ``b``
    passes, and both together (a model voting ``c`` moves the sum by 3);
    (2) a class ``w`` reaches the final with ``c`` (it passes every class
    but ``c``) and wins the final (a model preferring ``c`` moves the
    final's margin by 2). Both cases are necessary, so the conditions are
    sound for any change of the corrupted models' scores.
    """
    n, m = votes.shape
    n_classes = counts.shape[1]
    rows = np.arange(n)
    n_c = counts[rows, c]
    v_c = votes == c[:, None]

    def weights(big, zero):
        return np.where(big, 2, np.where(zero, 0, 1)).astype(np.int64)

    raw = [n_c - counts[:, a] + (a > c) for a in range(n_classes)]
    if scores is None:
        for a in range(n_classes):
            yield c != a, [(raw[a], weights(v_c, votes == a))]
        return
    for a in range(n_classes):
        v_a = votes == a
        for b in range(a + 1, n_classes):
            v_b = votes == b
            yield (c != a) & (c != b), [
                (raw[a], weights(v_c, v_a)),
                (raw[b], weights(v_c, v_b)),
                (raw[a] + raw[b],
                 np.where(v_c, 3, np.where(v_a | v_b, 0, 1)).astype(np.int64))]
    for w in range(n_classes):
        v_w = votes == w
        conditions = []
        for e in range(n_classes):
            if e != w:
                need = counts[:, e] - counts[:, w] + (w > e)
                need = np.where(c == e, 0, need)  # c may stay in the final
                conditions.append((need, weights(votes == e, v_w)))
        wv = np.full(n, w)
        pref_c, pref_w = _prefers(scores, c, wv), _prefers(scores, wv, c)
        conditions.append((pref_c.sum(axis=1) - pref_w.sum(axis=1) + (w > c),
                           weights(pref_c, pref_w)))
        yield c != w, conditions


def _case_budgets(votes, counts, c, spread, scores=None):
    """Per case, the fewest corrupted buckets meeting all its conditions
    (a lower bound), ``_NEVER`` where the case does not apply: (n, n_cases)."""
    out = []
    for live, conditions in _flip_cases(votes, counts, c, scores):
        cost = np.zeros(votes.shape[0], dtype=np.int64)
        for need, w in conditions:
            cost = np.maximum(cost, _budget(w, need, spread))
        out.append(np.where(live, cost, _NEVER))
    return np.column_stack(out)


def _runoff_radius(scores, spread, winner=None, batch_size=256):
    """Certified radius of the run-off election, for DPA and Finite Aggregation.

    The cheapest case of :func:`_flip_cases` (each case's cost: the largest
    of its conditions' :func:`_budget`, because one corrupted model serves
    every condition at once), minus one. Sound for any corruption of the
    models' scores; checked by brute force in the tests.
    """
    n = scores.shape[0]
    radius = np.empty(n, dtype=np.int64)
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        votes, counts, *_, win = _runoff(scores[sl])
        c = win if winner is None else winner[sl]
        best = _case_budgets(votes, counts, c, spread, scores[sl]).min(axis=1)
        radius[sl] = np.maximum(best - 1, 0)
    return radius


def _collective_milp(row_cases, spread, n_models, n_changed, time_limit):
    """Most rows whose prediction ``n_changed`` corrupted buckets change at once.

    The collective certificate of Chen, Li, Li, Wu and Yan (ICML 2022) for
    partition aggregation: the same corrupted buckets must serve every row.
    Binary ``z_b`` (bucket ``b`` corrupted, at most ``n_changed`` of them),
    ``x_j <= sum of z_b over the buckets of model j`` (model ``j`` reached),
    binary ``u`` per (row, case) with ``need * u <= sum_j weight_j x_j`` for
    each condition of the case, binary ``y_i <= sum of its u``; maximise
    ``sum y_i`` with scipy's HiGHS (:func:`scipy.optimize.milp`).

    ``row_cases``: per row, a list of cases, each a list of ``(need,
    weights)`` with ``need > 0``. Returns ``(bound, optimal, found)``: the
    optimum when solved (``optimal`` True), else the solver's dual bound
    (or the LP relaxation's), which is never below the optimum; ``found``
    is the best solution the solver found (a lower bound), or None.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_buckets = spread.shape[0]
    n_rows = len(row_cases)
    n_u = sum(len(cases) for cases in row_cases)
    n_var = n_buckets + n_models + n_rows + n_u
    xo, yo, uo = n_buckets, n_buckets + n_models, n_buckets + n_models + n_rows
    ri, ci, val, ub = [], [], [], []

    def add(cols, coefs, upper):
        row = len(ub)
        ri.extend([row] * len(cols))
        ci.extend(cols)
        val.extend(coefs)
        ub.append(upper)

    add(list(range(n_buckets)), [1.0] * n_buckets, float(n_changed))
    owners = [[] for _ in range(n_models)]
    for b, models in enumerate(spread):
        for j in models:
            owners[int(j)].append(b)
    for j, buckets in enumerate(owners):
        add([xo + j, *buckets], [1.0] + [-1.0] * len(buckets), 0.0)
    u = uo
    for i, cases in enumerate(row_cases):
        add([yo + i, *range(u, u + len(cases))], [1.0] + [-1.0] * len(cases), 0.0)
        for conditions in cases:
            for need, weights in conditions:
                nz = np.flatnonzero(weights)
                add([u, *(xo + nz).tolist()],
                    [float(need), *(-weights[nz].astype(float)).tolist()], 0.0)
            u += 1
    A = sp.csr_matrix((val, (ri, ci)), shape=(len(ub), n_var))
    constraint = LinearConstraint(A, -np.inf, np.array(ub))
    cost = np.zeros(n_var)
    cost[yo:uo] = -1.0
    integrality = np.ones(n_var)
    integrality[xo:yo] = 0
    bounds = Bounds(0, 1)
    res = milp(cost, constraints=constraint, integrality=integrality, bounds=bounds,
               options={"time_limit": float(time_limit)})
    found = None if res.x is None else int(round(-res.fun))
    if res.status == 0:
        return found, True, found
    dual = getattr(res, "mip_dual_bound", None)
    if dual is None or not np.isfinite(dual):
        lp = milp(cost, constraints=constraint, integrality=np.zeros(n_var),
                  bounds=bounds)
        dual = lp.fun
    return int(np.floor(-dual + 1e-6)), False, found


def _group_certificate(votes, counts, code, spread, scores, correct, n_changed,
                       time_limit):
    """``(n_flippable, optimal, n_found, n_pointwise)`` for the rows given.

    Only correct rows whose own radius is below ``n_changed`` can change,
    and only by cases each within the budget: the program is built on those.
    """
    budgets = _case_budgets(votes, counts, code, spread, scores)
    radius = np.maximum(budgets.min(axis=1) - 1, 0)
    rows = np.flatnonzero(correct & (radius < n_changed))
    if rows.size == 0:
        return 0, True, 0, 0
    row_cases = [[] for _ in rows]
    cases = _flip_cases(votes[rows], counts[rows], code[rows],
                        None if scores is None else scores[rows])
    for k, (live, conditions) in enumerate(cases):
        for i in np.flatnonzero(live & (budgets[rows, k] <= n_changed)):
            row_cases[i].append([(int(need[i]), w[i]) for need, w in conditions
                                 if need[i] > 0])
    bound, optimal, found = _collective_milp(row_cases, spread, votes.shape[1],
                                             n_changed, time_limit)
    return min(bound, rows.size), optimal, found, int(rows.size)


def _with_unseen_score(scores):
    """Scores with one more class, of index 0, that no model knows (-inf):
    a label never seen in training, which may sort before every known one."""
    n, m, _ = scores.shape
    extra = np.where(np.isnan(scores[:, :, :1]), np.nan, -np.inf)
    return np.concatenate([extra, scores], axis=2)


# ------------------------------------------------------------- base models
def _fit_member(estimator, seed, X, y):
    """One base classifier: None when empty, a constant when one class."""
    if y.shape[0] == 0:
        return None
    if np.unique(y).shape[0] == 1:
        return DummyClassifier(strategy="most_frequent").fit(X, y)
    model = seed_unseeded(estimator, seed)
    return model.fit(X, y)


def _member_votes(members, X, classes):
    """Class indices voted by ``members`` on ``X``, -1 for empty ones."""
    out = np.full((X.shape[0], len(members)), -1, dtype=np.int64)
    for j, model in enumerate(members):
        if model is not None:
            out[:, j] = encode_labels(classes, np.asarray(model.predict(X)),
                                      name="the base classifiers' predictions")
    return out


def _member_scores(members, X, classes):
    """Class scores of ``members`` on ``X``, shape (n, len(members), n_classes).

    ``predict_proba`` where a member has it, else ``decision_function`` (a
    binary one as ``[-d, d]``); -inf for the classes a member was not fitted
    on, NaN for the empty members (they abstain).
    """
    out = np.full((X.shape[0], len(members), len(classes)), np.nan)
    for j, model in enumerate(members):
        if model is None:
            continue
        if hasattr(model, "predict_proba"):
            s = np.asarray(model.predict_proba(X), dtype=np.float64)
        else:
            s = np.asarray(model.decision_function(X), dtype=np.float64)
            if s.ndim == 1:
                s = np.column_stack([-s, s])
        codes = encode_labels(classes, np.asarray(model.classes_),
                              name="the base classifiers' classes_")
        out[:, j, :] = -np.inf
        out[:, j, codes] = s.reshape(X.shape[0], -1)
    return out


def _frozen_step(estimator):
    """The first ``FrozenEstimator`` in ``estimator`` or its pipeline steps."""
    if isinstance(estimator, FrozenEstimator):
        return estimator
    for _, step in getattr(estimator, "steps", None) or []:
        found = _frozen_step(step)
        if found is not None:
            return found
    return None


class PartitionAggregation(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Certified defense against added and removed rows: partition aggregation.

    Deep Partition Aggregation (DPA; Levine and Feizi, ICLR 2021) with
    ``n_shares=1``, Finite Aggregation (FA; Wang, Levine and Feizi, ICML 2022)
    with ``n_shares > 1``. Each training row is sent by a hash of its
    own content to one of ``n_partitions * n_shares`` buckets; every bucket
    is shared by ``n_shares`` of the ``n_partitions * n_shares`` base
    classifiers, each a clone of ``estimator`` trained on its buckets alone
    (about ``1 / n_partitions`` of the rows); the prediction is the plurality
    vote of the base classifiers, ties going to the smaller class index.

    A row an attacker adds or removes lands in a single bucket, so it changes
    at most ``n_shares`` base classifiers however it was crafted:
    :meth:`certified_radius` gives, per test row, the number of training rows
    that may be inserted or removed (anywhere, chosen for that row) without
    changing its prediction, by each paper's own certificate, in exact
    integer arithmetic. The rows' features alone choose the bucket, so a
    flipped label moves no row between buckets and each flip counts as one
    change as well.

    Read more in the :ref:`User Guide <defenses>`.

    Parameters
    ----------
    estimator : classifier
        Any classifier: scikit-learn models, pipelines, skorch nets (e.g.
        :class:`~skpoison.nets.SeededNeuralNetClassifier`, which accepts any
        labels: a bucket may lack some classes). Preprocessing fitted on the
        training rows (scaling, encoding) belongs inside ``estimator``: a
        scaler fitted on all rows before this defense would let one row move
        every partition, and the certificate would not hold.

    n_partitions : int, default=50
        ``k``: the number of partitions (DPA) and the fraction ``1 / k`` of the
        rows each base classifier is trained on. More partitions certify
        larger radii, with weaker base classifiers. Must not exceed the number
        of training rows.

    n_shares : int, default=1
        ``d``: the number of base classifiers sharing each bucket. 1 is DPA
        (``k`` disjoint partitions); ``d > 1`` is Finite Aggregation with
        ``k d`` base classifiers (``d`` times DPA's cost) and ``k d`` buckets,
        bucket ``b`` going to the classifiers ``(b + o_l) mod k d`` for ``d``
        fixed distinct offsets ``o_0 = 0, o_1, ...`` (so that every classifier
        also gets ``d`` buckets). FA's certificate holds for any such spread
        of each bucket over ``d`` distinct classifiers; this balanced one is
        skpoison's choice. ``n_partitions * n_shares**2`` (the size of
        ``spread_``) may not exceed 10 million.

    classes : array-like of shape (n_classes,) or None, default=None
        The label set the certificate assumes. Given, :meth:`fit` refuses a
        label outside it, so an attacker cannot add rows of a new class, and
        the certificate is exact for the vote counts over these classes
        (classes absent from the training rows get no votes and still count
        as rivals). None: the classes of the training rows; a label never
        seen before is not refused (a poisoned training set may bring one),
        and the certificate is conservative against it: it counts one more
        rival class with no votes that wins every tie (a new label may sort
        before the predicted one), which lowers a radius by at most one.

    aggregation : {"vote", "runoff"}, default="vote"
        How the base classifiers' outputs become one prediction. ``"vote"``:
        the plurality of their predictions (DPA's and FA's rule). ``"runoff"``:
        the run-off election of Rezaei, Banihashem, Chegini and Feizi (ICML
        2023): the two classes with the most votes go to a second round,
        where each base classifier votes for the one it scores higher (its
        ``predict_proba``, or else its ``decision_function``); same models,
        no extra training, a larger certified radius for most rows. Needs
        base classifiers with class scores.

    hash : {"sha256", "blake2b"}, default="sha256"
        Hash of a row's content (:mod:`hashlib`); the first 8 bytes of the
        digest, as a big-endian integer, modulo ``n_partitions * n_shares``
        give the bucket. The content is the row's cells in column order, each
        encoded alone: a number (any integer, float or bool dtype, in an array,
        a DataFrame column or an object cell) as float64, so equal values
        share a bucket whatever their dtype (``-0.0`` is ``0.0``; all NaNs are
        equal); None, ``pd.NA`` and ``pd.NaT`` as one missing marker; anything
        else (strings, categories' values) as its ``str`` in UTF-8. For sparse
        input the content is the sorted column indices and float64 values of
        the row's non-zeros (a sparse row and its dense copy may land in
        different buckets). The label is not hashed. Duplicated rows always
        share a bucket; the bucket does not depend on the row's position, the
        other rows or ``random_state``.

    n_jobs : int, default=None
        Base classifiers fitted (and queried) in parallel by joblib. ``None``
        means 1 unless in a :func:`joblib.parallel_backend` context; -1 means
        all processors.

    random_state : int, RandomState instance or None, default=None
        Seeds each base classifier's unset ``random_state`` (a different seed
        per base classifier, drawn in order). None leaves them unseeded.

    Attributes
    ----------
    estimators_ : list of length n_partitions * n_shares
        The fitted base classifiers, in classifier order. A base classifier
        whose rows have a single class is a
        :class:`~sklearn.dummy.DummyClassifier` predicting that class; one with
        no rows is None and abstains (its vote counts for no class).

    estimator_ : estimator
        The unfitted template the base classifiers are cloned from (as in
        scikit-learn's ensembles).

    partition_ : ndarray of int, shape (n_samples,)
        The bucket of each training row. With ``n_shares=1`` it is the index
        of the row's partition in ``estimators_``.

    spread_ : ndarray of int, shape (n_partitions * n_shares, n_shares)
        The base classifiers sharing each bucket: row ``i`` trains
        ``estimators_[j]`` for ``j`` in ``spread_[partition_[i]]``.

    support_mask_ : ndarray of bool, shape (n_samples,)
        All True: every row is used (present for uniformity with the other
        defenses).

    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (``classes`` when given); a class's index in
        it breaks vote ties.

    n_features_in_ : int
        Number of features seen in ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen in ``fit`` (DataFrame input with string
        column names only).

    See Also
    --------
    LabelFlipCertifier : Certificate against label flips only (Rosenfeld et
        al.).
    skpoison.metrics.certified_fraction : Fraction of a subpopulation's test
        rows certified against an attack's number of added rows.

    Notes
    -----
    Within each base classifier the rows are put in a canonical order (by
    their hash, then label), so the fit does not depend on the order of the
    training rows either. The certificate assumes each base classifier is a
    deterministic function of its own rows, which holds for any fixed
    ``random_state``.

    DPA's certificate (Levine and Feizi) for the prediction ``c``
    with ``N_c`` votes is ``floor((N_c - max_{c' != c} (N_c' + 1[c' < c])) /
    2)``; it is tight for the vote counts: ``radius + 1`` well-chosen rows can
    change the prediction. FA's (Wang, Levine and Feizi) sums,
    over the ``r`` buckets worst for each rival class ``c'``, the votes of
    their base classifiers weighted 2 for ``c``, 1 for another class and 0
    for ``c'``, and certifies ``r`` while every sum stays within
    ``N_c - N_c' - 1[c' < c]``; with ``n_shares=1`` the two coincide.
    :meth:`predict_proba` gives the vote shares among the base classifiers
    that did not abstain.

    The run-off election (Rezaei et al.) loses its prediction ``c`` only if
    ``c`` is eliminated in the first round (two classes pass it) or if a
    class ``w`` reaches the final with ``c`` and wins it. Its certificate
    bounds the cost of each case from below, by the same bucket sums as
    FA's (a base classifier moves a first-round margin by at most 2 and the
    final's margin by at most 2), taking for the second case the larger of
    the first-round and final costs, since one corrupted base classifier
    serves both rounds. It is sound for any change of the corrupted
    classifiers' scores and equals the exact radius on nearly every small
    case checked by brute force; on two classes it is the vote's.

    References
    ----------
    .. [1] A. Levine and S. Feizi, "Deep Partition Aggregation: Provable
       Defenses against General Poisoning Attacks", ICLR 2021.
    .. [2] W. Wang, A. Levine and S. Feizi, "Improved Certified Defenses
       against Data Poisoning with (Deterministic) Finite Aggregation",
       ICML 2022 (the balanced spread of buckets and the FA certificate).
    .. [3] K. Rezaei, K. Banihashem, A. Chegini and S. Feizi, "Run-Off
       Election: Improved Provable Defense against Data Poisoning Attacks",
       ICML 2023 (``aggregation="runoff"``; the certificate is written from
       the paper's two cases, not from the authors' code).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.defenses import PartitionAggregation
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(-2, 1, (200, 2)), rng.normal(2, 1, (200, 2))])
    >>> y = np.repeat([0, 1], 200)
    >>> dpa = PartitionAggregation(LogisticRegression(), n_partitions=10).fit(X, y)
    >>> dpa.predict([[-3.0, -3.0], [0.2, 0.0]])
    array([0, 1])
    >>> dpa.certified_radius([[-3.0, -3.0], [0.2, 0.0]])
    array([4, 3])

    With the label set fixed, a new label is refused and the unanimous vote
    certifies one row more:

    >>> dpa.set_params(classes=[0, 1]).fit(X, y).certified_radius([[-3.0, -3.0]])
    array([5])
    """

    _parameter_constraints = {  # noqa: RUF012 (scikit-learn's convention)
        "estimator": [HasMethods(["fit", "predict"])],
        "n_partitions": [Interval(Integral, 1, None, closed="left")],
        "n_shares": [Interval(Integral, 1, None, closed="left")],
        "classes": ["array-like", None],
        "aggregation": [StrOptions({"vote", "runoff"})],
        "hash": [StrOptions(set(_HASHES))],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, *, n_partitions=50, n_shares=1, classes=None,
                 aggregation="vote", hash="sha256", n_jobs=None, random_state=None):
        self.estimator = estimator
        self.n_partitions = n_partitions
        self.n_shares = n_shares
        self.classes = classes
        self.aggregation = aggregation
        self.hash = hash
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ---------------------------------------------------------------- fit
    def _validate_training_data(self, X, y):
        X = _as_2d(X)
        validate_data(self, X, skip_check_array=True)
        y = check_training_labels(type(self).__name__, X, y)
        classes = self._check_classes(y)
        if self.n_features_in_ == 0:
            raise ValueError(
                f"0 feature(s) (shape=({y.shape[0]}, 0)) while a minimum of 1 is "
                "required."
            )
        if not get_tags(self.estimator).input_tags.allow_nan:
            # a partition of one class gets a constant model that would
            # never look at X: check here, as the estimator itself would
            _check_finite(X)
        return X, y, classes

    def _check_classes(self, y):
        """The label set: ``classes`` (refusing labels outside it) or y's."""
        if self.classes is None:
            return np.unique(y)
        classes = np.asarray(self.classes)
        if classes.ndim != 1:
            raise ValueError(
                f"classes must be a 1-D array of labels; got shape {classes.shape}.")
        try:
            classes = np.unique(classes)
        except TypeError as exc:
            raise TypeError(f"classes must hold labels of one sortable type: {exc}") \
                from exc
        if classes.shape[0] < 2:
            raise ValueError(
                f"classes must hold at least two labels; got {classes.tolist()!r}.")
        _, found = encode_labels(classes, y, unknown="mask")
        if not found.all():
            raise ValueError(
                f"y contains labels outside classes={classes.tolist()!r}: "
                f"{np.unique(y[~found])[:10].tolist()!r}. The certificate assumes "
                "the label set classes; a row of another class is refused (or "
                "leave classes=None for a certificate conservative against new "
                "labels).")
        return classes

    def _check_structure(self, n_samples):
        """Refuse what cannot be a partition defense, before any work."""
        k, d = int(self.n_partitions), int(self.n_shares)
        if k * d * d > _MAX_SPREAD:
            raise ValueError(
                f"n_shares={d} with n_partitions={k} asks for {k * d:,} base "
                f"classifiers and a table of {k * d * d:,} bucket assignments "
                f"(spread_); n_partitions * n_shares**2 may not exceed "
                f"{_MAX_SPREAD:,}: use n_shares <= "
                f"{max(1, int(np.sqrt(_MAX_SPREAD / k)))} with n_partitions={k} "
                "(Finite Aggregation uses n_shares of 1 to 32).")
        if k > n_samples:
            raise ValueError(
                f"n_partitions={k} exceeds n_samples={n_samples}: most partitions "
                "would be empty. Use at most as many partitions as training rows."
            )
        frozen = _frozen_step(self.estimator)
        if frozen is not None:
            raise TypeError(
                f"estimator is (or contains) a FrozenEstimator around a "
                f"{type(frozen.estimator).__name__}: every partition would share "
                "that one prefit model and the certificate would not hold. "
                "PartitionAggregation trains one clone of estimator per "
                "partition: pass the model unfitted and unfrozen.")
        if self.aggregation == "runoff" and not (
                hasattr(self.estimator, "predict_proba")
                or hasattr(self.estimator, "decision_function")):
            raise TypeError(
                f"aggregation='runoff' needs class scores from each base "
                f"classifier (predict_proba or decision_function); "
                f"{type(self.estimator).__name__} has neither. Use "
                "aggregation='vote', or a classifier with scores.")

    def hash_partition(self, X):
        """Bucket of each row of ``X`` (its partition when ``n_shares=1``).

        A pure function of the rows' content and of ``n_partitions``,
        ``n_shares`` and ``hash``: it needs no fit, and gives the bucket a row
        would land in if added to the training data.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        bucket : ndarray of int, shape (n_samples,)
            In ``[0, n_partitions * n_shares)``.
        """
        self._validate_params()
        n_buckets = int(self.n_partitions) * int(self.n_shares)
        digests = _hash_rows(X, self.hash)
        return (digests[:, 0] % np.uint64(n_buckets)).astype(np.int64)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Hash the rows into buckets and fit one base classifier per partition.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            Training rows, possibly poisoned. Passed to the base classifiers
            as given (rows selected, columns untouched).
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : PartitionAggregation
        """
        X, y, classes = self._validate_training_data(X, y)
        n_samples = y.shape[0]
        k, d = int(self.n_partitions), int(self.n_shares)
        self._check_structure(n_samples)
        n_buckets = k * d
        digests = _hash_rows(X, self.hash)
        bucket = (digests[:, 0] % np.uint64(n_buckets)).astype(np.int64)
        y_codes = np.searchsorted(classes, y)
        spread = _spread(k, d)
        # canonical order: by content hash, then label, then (for identical
        # rows only) position, so that each member sees its rows in an order
        # that does not depend on the order of the training rows
        order = np.lexsort((np.arange(n_samples), y_codes, digests[:, 1],
                            digests[:, 0]))
        owners = spread[bucket[order]].ravel()
        rows = np.repeat(order, d)
        by_owner = np.argsort(owners, kind="stable")
        rows, owners = rows[by_owner], owners[by_owner]
        bounds = np.searchsorted(owners, np.arange(n_buckets + 1))
        if self.random_state is None:
            seeds = [None] * n_buckets
        else:
            rng = check_random_state(self.random_state)
            seeds = rng.randint(np.iinfo(np.int32).max, size=n_buckets).tolist()
        jobs = (
            delayed(_fit_member)(
                self.estimator, seeds[j],
                _safe_indexing(X, rows[bounds[j]:bounds[j + 1]]),
                y[rows[bounds[j]:bounds[j + 1]]])
            for j in range(n_buckets)
        )
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(jobs)
        self.estimator_ = clone(self.estimator)
        self.classes_ = classes
        self.partition_ = bucket
        self.spread_ = spread
        self.support_mask_ = np.ones(n_samples, dtype=bool)
        return self

    @property
    def estimators_samples_(self):
        """Indices of the training rows of each base classifier (in row order).

        Returns
        -------
        samples : list of ndarray of int
        """
        check_is_fitted(self, "estimators_")
        owners = self.spread_[self.partition_]
        return [np.flatnonzero((owners == j).any(axis=1))
                for j in range(len(self.estimators_))]

    # ----------------------------------------------------------- predict
    def _check_X(self, X):
        check_is_fitted(self, "estimators_")
        X = _as_2d(X)
        validate_data(self, X, reset=False, skip_check_array=True)
        if not get_tags(self.estimator).input_tags.allow_nan:
            _check_finite(X)
        return X

    def votes(self, X):
        """The vote of every base classifier on each row.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        votes : ndarray of int, shape (n_samples, n_partitions * n_shares)
            Index in ``classes_`` of each base classifier's prediction, -1
            where it abstains (no training rows).
        """
        X = self._check_X(X)
        members = self.estimators_
        n_chunks = min(len(members), max(1, effective_n_jobs(self.n_jobs)))
        chunks = np.array_split(np.arange(len(members)), n_chunks)
        blocks = Parallel(n_jobs=self.n_jobs)(
            delayed(_member_votes)([members[j] for j in chunk], X, self.classes_)
            for chunk in chunks)
        return np.hstack(blocks)

    def _scores(self, X):
        """Every base classifier's class scores, (n, n_members, n_classes)."""
        X = self._check_X(X)
        members = self.estimators_
        n_chunks = min(len(members), max(1, effective_n_jobs(self.n_jobs)))
        chunks = np.array_split(np.arange(len(members)), n_chunks)
        blocks = Parallel(n_jobs=self.n_jobs)(
            delayed(_member_scores)([members[j] for j in chunk], X, self.classes_)
            for chunk in chunks)
        return np.concatenate(blocks, axis=1)

    def predict_proba(self, X):
        """Vote shares: the fraction of base classifiers voting for each class.

        Abstaining (empty) base classifiers are left out; a row on which all
        abstain gets equal shares. With ``aggregation="runoff"``, the shares
        of the two finalists in the second round (0 for the other classes),
        whose larger one is the prediction.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        if self.aggregation == "runoff":
            *_, first, second, m_first, m_second, _ = _runoff(self._scores(X))
            rows = np.arange(first.shape[0])
            counts = np.zeros((first.shape[0], len(self.classes_)))
            counts[rows, second] = m_second
            counts[rows, first] = m_first
        else:
            counts = _vote_counts(self.votes(X), len(self.classes_)).astype(np.float64)
        total = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            proba = np.where(total > 0, counts / total, 1.0 / counts.shape[1])
        return proba

    def predict(self, X):
        """Plurality vote of the base classifiers, ties to the smaller class.

        With ``aggregation="runoff"``, the winner of the run-off election
        between the two classes with the most votes.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        if self.aggregation == "runoff":
            return self.classes_[_runoff(self._scores(X))[-1]]
        counts = _vote_counts(self.votes(X), len(self.classes_))
        return self.classes_[_plurality(counts)]

    def certify(self, X):
        """Predictions and their certified radii.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            As :meth:`predict`.
        radius : ndarray of int, shape (n_samples,)
            The number of training rows that may be inserted, removed or
            relabelled, in any combination and chosen for that row, without
            changing its prediction: DPA's certificate with
            ``n_shares=1``, Finite Aggregation's otherwise, and the run-off
            election's (Rezaei et al.) over the same buckets with
            ``aggregation="runoff"``. Always >= 0 (0: one changed row may
            flip it).
        """
        if self.aggregation == "runoff":
            scores = self._scores(X)
            pred = _runoff(scores)[-1]
            if self.classes is None:  # conservative against labels never seen
                scores, code = _with_unseen_score(scores), pred + 1
            else:
                code = pred
            return self.classes_[pred], _runoff_radius(scores, self.spread_, code)
        votes = self.votes(X)
        counts = _vote_counts(votes, len(self.classes_))
        pred = _plurality(counts)
        if self.classes is None:  # conservative against labels never seen
            votes, counts, code = _with_unseen_rival(votes, counts, pred)
        else:
            code = pred
        if self.n_shares == 1:
            radius = _dpa_radius(counts, code)[1]
        else:
            radius = _fa_radius(votes, counts, self.spread_, pred=code)[1]
        return self.classes_[pred], radius

    def certify_group(self, X, y, n_changed, *, time_limit=10.0):
        """Collective certificate: the most of a group's correct predictions
        that ``n_changed`` training rows can change *at once*.

        A subpopulation attack needs many rows of one group wrong with one
        set of poisons, and those rows land in at most ``n_changed`` buckets
        (each reaching ``n_shares`` base classifiers): the same corrupted
        base classifiers serve every row. The most correct predictions they
        can change together is solved as a mixed-integer program (Chen, Li,
        Li, Wu and Yan, "Collective Robustness Certificates", ICML 2022,
        applied to partition aggregation) with scipy's HiGHS, each row's
        condition being that of :meth:`certify` for a given set of corrupted
        base classifiers. It never exceeds the pointwise count (the correct
        rows whose radius is below ``n_changed``). Exact for the plurality
        vote when solved to optimality; for the run-off election the
        conditions are the certificate's necessary ones, so it is an upper
        bound. Like :meth:`certify`, the rows changed may be added, removed
        or relabelled, in any mix.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            The group's test rows.
        y : array-like of shape (n_samples,)
            Their true labels.
        n_changed : int
            The attacker's budget: training rows added, removed or
            relabelled.
        time_limit : float, default=10.0
            Seconds for the solver. When it runs out, the bound of the
            relaxation the solver reached (its dual bound) is reported: never
            below the optimum, so still sound, and ``optimal`` is False.

        Returns
        -------
        result : Bunch
            ``n_flippable`` (the certified largest number of correct
            predictions changed), ``damage`` (``n_flippable / n_target``: the
            largest target damage, accuracy before minus after), ``optimal``,
            ``n_pointwise`` and ``pointwise_damage`` (the rows whose own
            radius is below ``n_changed``), ``n_found`` (the best attack the
            solver found, a lower bound on the program's optimum; None if
            none), ``accuracy``, ``n_correct``, ``n_target``, ``n_changed``
            and ``seconds``.
        """
        import time

        from sklearn.utils import Bunch
        from sklearn.utils.validation import check_consistent_length, column_or_1d

        start = time.perf_counter()
        if not isinstance(n_changed, Integral) or isinstance(n_changed, bool) \
                or n_changed < 0:
            raise ValueError(f"n_changed must be a non-negative int; got {n_changed!r}.")
        if not isinstance(time_limit, Real) or not time_limit > 0:
            raise ValueError(f"time_limit must be a positive number; got {time_limit!r}.")
        y = column_or_1d(np.asarray(y))
        check_consistent_length(X, y)
        if y.shape[0] == 0:
            raise ValueError("X is empty: the group has no test rows.")
        runoff = self.aggregation == "runoff"
        if runoff:
            scores = self._scores(X)
            votes, counts, *_, pred = _runoff(scores)
        else:
            scores = None
            votes = self.votes(X)
            counts = _vote_counts(votes, len(self.classes_))
            pred = _plurality(counts)
        code = pred
        if self.classes is None:  # conservative against labels never seen
            if runoff:
                scores = _with_unseen_score(scores)
                votes, counts, *_ = _runoff(scores)
            else:
                votes, counts, _ = _with_unseen_rival(votes, counts, pred)
            code = pred + 1
        correct = self.classes_[pred] == y
        n_flip, optimal, found, n_pointwise = _group_certificate(
            votes, counts, code, self.spread_, scores, correct, n_changed, time_limit)
        n = y.shape[0]
        return Bunch(
            n_flippable=int(n_flip), damage=n_flip / n, optimal=bool(optimal),
            n_pointwise=n_pointwise, pointwise_damage=n_pointwise / n,
            n_found=found, accuracy=float(correct.mean()),
            n_correct=int(correct.sum()), n_target=int(n), n_changed=int(n_changed),
            seconds=time.perf_counter() - start)

    def certified_radius(self, X):
        """Certified number of inserted or removed training rows per row.

        See :meth:`certify`.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        radius : ndarray of int, shape (n_samples,)
        """
        return self.certify(X)[1]

    def __sklearn_tags__(self):
        return inherit_input_tags(super().__sklearn_tags__(), self.estimator)

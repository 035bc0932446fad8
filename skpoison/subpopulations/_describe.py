"""Subpopulations named in words: rules in the data's own units.

A finder that is not defined by column values (ClusterMatch) describes a
subpopulation by the few conditions that best pick it out of the rows the
finder was fitted on, for example ``capital_gain >= 15024 and 41 <= age <= 58``,
with how well that rule matches the subpopulation; a rule that matches it
loosely is marked approximate.

At fit time the finder keeps a compact copy of its rows (:class:`_Table`, one
or two bytes a value: the rank of a number among its distinct values, or the
index of a category); a description fits a shallow
decision tree, subpopulation against the rest, on those codes, takes the tree
node that best matches the subpopulation (highest F1) and reads the conditions
on its path back in the data's units.
"""

import math
import numbers
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from ..utils._annotations import ANNOTATION_PREFIX
from ..utils._validation import is_dataframe

MISSING_TEXT = "missing"
_MAX_BINS = 65534  # numeric codes 0 .. 65533; the dtype's maximum marks missing
_MAX_CATEGORIES = 100  # wider text columns (free text, ids) are left out
# a rule names its group when at least this share of the rows it selects are
# in the group and it selects at least this share of the group's rows (see
# SubpopulationRule)
MIN_FIT = 0.8


def _is_missing(value):
    """None, NaN, pd.NA and NaT: the values scikit-learn's encoders treat as missing."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like values are not missing values
        return False


def format_value(value):
    """A value as a person reads it: ``15024``, ``0.125``, ``Private``, ``missing``.

    Values of the data, never counts: no thousands separator (``year=2008``,
    not ``year=2,008``), so a number never reads as two in a list. Numbers
    that are not whole are rounded to about five significant digits.
    """
    if _is_missing(value):
        return MISSING_TEXT
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        if 1e-4 <= abs(value) < 1e15:
            digits = max(1, 4 - math.floor(math.log10(abs(value))))
            return f"{value:.{digits}f}".rstrip("0").rstrip(".")
        return f"{value:.4g}"
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _format_bound(value):
    """A bound of a numeric condition, written exactly (its shortest decimal
    form, no thousands separator): the rule finder stores bounds that are
    already the shortest decimals selecting the same rows."""
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return np.format_float_positional(value, trim="-")


def format_category(value):
    """A category inside ``{...}``: quoted when its text holds a comma, a
    brace, a quote or outer spaces, so the set cannot be misread."""
    text = format_value(value)
    if (any(ch in text for ch in ',{}"') or text != text.strip()
            or (not _is_missing(value) and text == MISSING_TEXT)):
        text = '"' + text.replace('"', '\\"') + '"'
    return text


def _format_set(values):
    return "{" + ", ".join(format_category(v) for v in values) + "}"


def _shortest_in(value, lower, upper):
    """A number with the fewest decimals in ``[lower, upper]``, found by
    rounding ``value`` (nearest, down, then up) to 0, 1, 2, ... decimals;
    ``value`` itself when it is whole (a value of the data) or nothing
    shorter fits."""
    value, lower, upper = float(value), float(lower), float(upper)
    if value.is_integer():
        return value
    for decimals in range(16):
        scale = 10.0 ** decimals
        for candidate in (round(value, decimals), math.floor(value * scale) / scale,
                          math.ceil(value * scale) / scale):
            if lower <= candidate <= upper:
                return candidate
    return value


@dataclass(frozen=True)
class Condition:
    """One test of a :class:`SubpopulationRule`, in the data's own units.

    Read more in the :ref:`User Guide <finders>`.

    Parameters
    ----------
    feature : str
        The column's name (``x0``, ``x1``, ... for arrays without names).
    op : {">=", "<=", "between", "in", "not in", "is missing", "is not missing"}
        The test. Numeric tests (``>=``, ``<=``, ``between``, bounds included)
        are false on a missing value; ``"in"`` and ``"not in"`` compare with a
        tuple of categories, in which ``None`` stands for a missing value.
    value : float, tuple or None
        The bound, the ``(low, high)`` pair of ``"between"``, or the tuple of
        categories.
    column : str, int or None
        Where :meth:`mask` reads the feature: a DataFrame column label, or a
        position in an array.

    Notes
    -----
    ``str(condition)`` reads ``41 <= age <= 58``, ``capital_gain >= 15024``,
    ``workclass in {Private, Self-emp}``, ``workclass = Private``,
    ``race != White`` or ``workclass is missing``. A missing value is written
    ``missing``. Numbers are written exactly, without thousands separators
    (``year <= 2008``, ``1937 <= weight <= 2945``), and an interval with its
    bounds on either side of the name, so that no bound reads as two
    numbers or as a set; a category holding a comma or a brace is quoted.
    """

    feature: str
    op: str
    value: object = None
    column: object = field(default=None, compare=False)

    def __str__(self):
        name, op, value = self.feature, self.op, self.value
        if op == "between":
            low, high = value
            if low == high:
                return f"{name} = {_format_bound(low)}"
            return f"{_format_bound(low)} <= {name} <= {_format_bound(high)}"
        if op in (">=", "<="):
            return f"{name} {op} {_format_bound(value)}"
        if op == "in":
            if len(value) == 1:
                return (f"{name} is missing" if _is_missing(value[0])
                        else f"{name} = {format_category(value[0])}")
            return f"{name} in {_format_set(value)}"
        if op == "not in":
            if len(value) == 1:
                return (f"{name} is not missing" if _is_missing(value[0])
                        else f"{name} != {format_category(value[0])}")
            return f"{name} not in {_format_set(value)}"
        return f"{name} {op}"  # "is missing", "is not missing"

    def mask(self, X):
        """Rows of ``X`` that pass this test.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows with the columns of the rows the rule was found on.

        Returns
        -------
        mask : ndarray of bool, shape (n_samples,)
        """
        column = _column(X, self.column, self.feature)
        missing = np.asarray(pd.isna(column), dtype=bool)
        if self.op == "is missing":
            return missing
        if self.op == "is not missing":
            return ~missing
        if self.op in ("in", "not in"):
            keys = {_category_key(v) for v in self.value}
            inside = np.fromiter(
                ((None if m else _category_key(v)) in keys
                 for v, m in zip(column, missing)),
                dtype=bool, count=len(column))
            return inside if self.op == "in" else ~inside
        values = np.full(len(column), np.nan)
        values[~missing] = [float(v) for v in column[~missing]]
        with np.errstate(invalid="ignore"):
            if self.op == ">=":
                return values >= self.value
            if self.op == "<=":
                return values <= self.value
            low, high = self.value
            return (values >= low) & (values <= high)


def _category_key(value):
    """A hashable key under which equal categories meet (1 and 1.0 alike)."""
    if _is_missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    return value


def _column(X, key, feature):
    """The values of one column of ``X`` as an object array."""
    if is_dataframe(X):
        if key not in X.columns:
            raise ValueError(
                f"X has no column {key!r} (the rule's feature {feature!r}).")
        return X[key].to_numpy(dtype=object)
    X = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
    if X.ndim != 2 or not isinstance(key, numbers.Integral) or key >= X.shape[1]:
        raise ValueError(
            f"X of shape {np.shape(X)} has no column {key!r} (the rule's feature "
            f"{feature!r}).")
    return X[:, key].astype(object)


@dataclass(frozen=True)
class SubpopulationRule:
    """A subpopulation described as a conjunction of conditions.

    Read more in the :ref:`User Guide <finders>`.

    Returned by :meth:`ClusterMatch.describe
    <skpoison.subpopulations.ClusterMatch.describe>`. ``rule.text`` is the rule
    in words, e.g. ``capital_gain >= 15024 and 41 <= age <= 58``;
    ``str(rule)`` is the name of the group: the rule when it describes the
    group well, otherwise ``cluster <id>, approximately: <rule>``, to be shown
    with ``coverage`` and ``precision`` beside it.

    A rule describes its group well when both its precision and its coverage
    are at least ``min_fit``, 0.8 by default: at least four in five of the
    rows it selects are in the group and it selects at least four in five of
    the group's rows, so the rows it names and the group's rows differ by at
    most a quarter of the group's size either way. A group is damaged or
    defended as a whole; a reader who takes the rule for the group (and a
    chart labelled with it) should be wrong about few of the rows it names.
    Rules of a depth-3 tree on k-means clusters often fall short: on UCI
    Adult's 14 raw columns, 100 clusters of 8,000 rows, the median precision
    is about 0.35 (the rule selects almost three times the cluster's rows)
    and about 1 rule in 20 reaches 0.8, so most clusters are named
    approximately.

    Parameters
    ----------
    subpopulation : int
        The id described.
    conditions : tuple of Condition
        The tests, all of which a row must pass; empty when no rule does better
        than selecting every row.
    coverage : float
        Share of the subpopulation's rows (in the data the finder was fitted
        on) that the rule selects: its recall.
    precision : float
        Share of the rows the rule selects that are in the subpopulation.
    size : int
        Number of the subpopulation's rows in the fitted data.
    n_selected : int
        Number of fitted rows the rule selects.
    min_fit : float, default=0.8
        The precision and the coverage a rule needs to name its group on its
        own (see above).
    """

    subpopulation: int
    conditions: tuple
    coverage: float
    precision: float
    size: int
    n_selected: int
    min_fit: float = field(default=MIN_FIT, compare=False)

    @property
    def text(self):
        """The conditions in words, joined by ``and`` (``"all rows"`` when
        there is none)."""
        if not self.conditions:
            return "all rows" if self.size else "no rows"
        return " and ".join(str(c) for c in self.conditions)

    @property
    def approximate(self):
        """Whether the rule describes its group only loosely: its precision
        or its coverage is below ``min_fit``."""
        return bool(self.precision < self.min_fit or self.coverage < self.min_fit)

    def __str__(self):
        if not self.approximate:
            return self.text
        if not self.conditions:
            return f"cluster {self.subpopulation}"
        return f"cluster {self.subpopulation}, approximately: {self.text}"

    @property
    def f1(self):
        """Harmonic mean of ``coverage`` and ``precision`` (0 when both are 0)."""
        total = self.coverage + self.precision
        return 0.0 if total == 0 else 2 * self.coverage * self.precision / total

    def mask(self, X):
        """Rows of ``X`` that the rule selects.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows with the columns of the rows the finder was fitted on.

        Returns
        -------
        mask : ndarray of bool, shape (n_samples,)
        """
        mask = np.ones(len(X), dtype=bool)
        for condition in self.conditions:
            mask &= condition.mask(X)
        return mask

    def to_dict(self):
        """The rule as plain values, for tables and JSON: ``name``
        (``str(rule)``), ``rule`` (its conditions, ``rule.text``),
        ``approximate``, ``coverage``, ``precision``, ``size`` and
        ``n_selected``."""
        return {"subpopulation": self.subpopulation, "name": str(self),
                "rule": self.text, "approximate": self.approximate,
                "coverage": self.coverage, "precision": self.precision,
                "size": self.size, "n_selected": self.n_selected}


# ---------------------------------------------------------------- the codes
class _Table:
    """The fitted rows, coded in one or two bytes a value, for describing
    groups of them.

    ``codes[j]`` is, for a numeric column, the rank of the row's bin (bins are
    the distinct values, or quantile bins when there are more than 65,534 of
    them; ``low[j][b]`` and ``high[j][b]`` are the smallest and largest value in
    bin ``b``) or ``missing_code(codes[j])`` where the value is missing; for a
    categorical column (strings, categories, booleans, numbers with at most two
    values) the index of the row's value in ``categories[j]``, where ``None``
    is the missing value.
    """

    def __init__(self, X):
        frame = is_dataframe(X)
        if frame:
            items = [(str(label), label, X.iloc[:, j])
                     for j, label in enumerate(X.columns)]
        else:
            items = [(f"x{j}", j, X[:, j]) for j in range(X.shape[1])]
        self.names, self.keys, self.kinds = [], [], []
        self.low, self.high, self.categories = [], [], []
        self.left_out = []
        codes = []
        for name, key, column in items:
            coded = _code_column(column, frame)
            if coded is None:
                self.left_out.append(name)
                continue
            kind, column_codes, info = coded
            self.names.append(name)
            self.keys.append(key)
            self.kinds.append(kind)
            codes.append(column_codes)
            if kind == "numeric":
                self.low.append(info[0])
                self.high.append(info[1])
                self.categories.append(None)
            else:
                self.low.append(None)
                self.high.append(None)
                self.categories.append(info)
        self.codes = codes
        self.n_rows = len(X)
        self.cache = {}  # the tree's numeric features and the rules found

    def __getstate__(self):  # caches are rebuilt, not pickled
        return {**self.__dict__, "cache": {}}


def missing_code(codes):
    """The code of a missing number: the largest value of the codes' dtype."""
    return np.iinfo(codes.dtype).max


def _table_rows(X):
    """A private copy of ``X`` when it is a 2-D table that can be described,
    else None (sparse matrices, images, texts and anything exotic)."""
    if is_dataframe(X):
        # annotation columns are coded copies of a data set's group columns
        # (skpoison.datasets.annotation_column): a code is not a word
        words = [c for c in X.columns if not str(c).startswith(ANNOTATION_PREFIX)]
        return (X[words] if words and len(words) < X.shape[1] else X).copy()
    if hasattr(X, "toarray") or not hasattr(X, "__len__"):
        return None
    try:
        rows = np.asarray(X)
    except (TypeError, ValueError):
        return None
    if rows.ndim != 2 or rows.dtype.kind not in "biufUSO":
        return None  # checked before copying: images and texts are not kept
    # a private copy, unless asarray already made one (from a list, say)
    return rows.copy() if rows is X or not rows.flags.owndata else rows


class LazyTable:
    """A finder's fitted rows, coded into a :class:`_Table` on first use.

    Coding costs as much as the k-means fit itself, and most fits (an attack
    refitting its finder, a grid search) never describe a cluster: the rows
    are only copied at fit, and coded when :meth:`get` is first called or the
    finder is pickled (so pickles hold the compact codes, not the rows).
    Shallow copies of the finder (``retarget``) share one instance, so the
    rows are coded once for all of them.
    """

    def __init__(self, X):
        self._rows = _table_rows(X)
        self._table = None

    def get(self):
        """The :class:`_Table`, or None when the rows were not a table."""
        if self._rows is not None:
            self._table, self._rows = _Table(self._rows), None
        return self._table

    def __getstate__(self):
        return {"_rows": None, "_table": self.get()}


def _code_column(column, frame):
    """``(kind, codes, info)`` for one column, or None to leave it out."""
    if frame:
        dtype = column.dtype
        if isinstance(dtype, pd.SparseDtype):
            column = column.sparse.to_dense()
            dtype = column.dtype
        if pd.api.types.is_bool_dtype(dtype):
            return _code_categories(column.to_numpy(dtype=object))
        if pd.api.types.is_numeric_dtype(dtype) and not isinstance(
                dtype, pd.CategoricalDtype):
            return _code_numbers(column.to_numpy(dtype=np.float64, na_value=np.nan))
        if (pd.api.types.is_datetime64_any_dtype(dtype)
                or pd.api.types.is_timedelta64_dtype(dtype)
                or isinstance(dtype, pd.PeriodDtype)):
            return None
        return _code_categories(column.to_numpy(dtype=object))
    column = np.asarray(column)
    if column.dtype.kind == "b":
        return _code_categories(column.astype(object))
    if column.dtype.kind in "iuf":
        return _code_numbers(column.astype(np.float64))
    values = column.astype(object)
    missing = np.asarray(pd.isna(values))
    if (~missing).any() and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                for v in values[~missing]):
        numbers_ = np.full(values.shape[0], np.nan)
        numbers_[~missing] = values[~missing].astype(np.float64)
        return _code_numbers(numbers_)
    return _code_categories(values)


def _code_numbers(values):
    missing = np.isnan(values)
    present = values[~missing]
    distinct = np.unique(present)
    if distinct.size == 0:
        return None
    if distinct.size <= 2:  # a binary column reads better as "= 1"
        return _code_categories(values)
    ordered = np.sort(present)
    if distinct.size <= _MAX_BINS:
        bins = np.searchsorted(distinct, ordered)
    else:  # only for very many distinct values: quantile bins
        edges = np.unique(np.quantile(ordered, np.linspace(0, 1, _MAX_BINS + 1)[1:-1]))
        bins = np.searchsorted(edges, ordered, side="left")
    starts = np.r_[0, np.flatnonzero(np.diff(bins)) + 1]
    ends = np.r_[starts[1:], ordered.size] - 1
    low, high = ordered[starts], ordered[ends]
    # a row's code: the rank of its bin, i.e. of the first bin whose largest
    # value is not below it
    dtype = np.uint8 if high.size < 255 else np.uint16
    codes = np.full(values.shape[0], np.iinfo(dtype).max, dtype=dtype)
    codes[~missing] = np.searchsorted(high, present, side="left")
    return "numeric", codes, (low, high)


def _code_categories(values):
    # pd.factorize: None, NaN, pd.NA and NaT are missing (-1); equal values
    # meet whatever their type (1, 1.0 and True alike, as in a dict)
    found, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) > _MAX_CATEGORIES:
        return None
    distinct = [_category_key(v) for v in uniques]
    order = list(range(len(distinct)))
    try:
        order.sort(key=lambda i: distinct[i])
    except TypeError:  # mixed types: first-seen order
        pass
    rank = np.empty(len(distinct), dtype=np.intp)
    rank[order] = np.arange(len(distinct))
    present = found >= 0
    codes = np.empty(found.shape[0], dtype=np.uint8)
    codes[present] = rank[found[present]]
    categories = [distinct[i] for i in order]
    if not present.all():
        codes[~present] = len(categories)
        categories.append(None)
    return "categorical", codes, categories


# ------------------------------------------------------------ rule finding
@dataclass
class _Test:
    """A condition on codes: an interval of bins, a set of categories, or
    (not) missing."""

    j: int
    op: str  # "bins", "missing", "present", "categories"
    lo: int = 0
    hi: int = 0
    allowed: frozenset = frozenset()

    def mask(self, codes):
        c = codes[self.j]
        if self.op == "missing":
            return c == missing_code(c)
        if self.op == "present":
            return c != missing_code(c)
        if self.op == "bins":
            return (c >= self.lo) & (c <= self.hi) & (c != missing_code(c))
        return np.isin(c, np.fromiter(self.allowed, dtype=np.int64))

    def condition(self, table):
        name, key = table.names[self.j], table.keys[self.j]
        if self.op == "missing":
            return Condition(name, "is missing", None, key)
        if self.op == "present":
            return Condition(name, "is not missing", None, key)
        if self.op == "bins":
            low, high = table.low[self.j], table.high[self.j]
            top = len(low) - 1
            # bounds as the shortest decimals that select the same rows: above
            # the largest value left out below, up to the smallest one inside
            lower = upper = None
            if self.lo > 0:
                lower = _shortest_in(low[self.lo],
                                     np.nextafter(high[self.lo - 1], np.inf),
                                     low[self.lo])
            if self.hi < top:
                upper = _shortest_in(high[self.hi], high[self.hi],
                                     np.nextafter(low[self.hi + 1], -np.inf))
            if lower is not None and upper is not None:
                return Condition(name, "between", (lower, upper), key)
            if lower is not None:
                return Condition(name, ">=", lower, key)
            return Condition(name, "<=", upper, key)
        categories = table.categories[self.j]
        inside = [categories[i] for i in sorted(self.allowed)]
        outside = [categories[i] for i in range(len(categories))
                   if i not in self.allowed]
        if len(outside) < len(inside):
            return Condition(name, "not in", tuple(outside), key)
        return Condition(name, "in", tuple(inside), key)


def _base_design(table):
    """The tree's features that do not depend on the group (numbers and
    missing indicators), with room for the categorical ones; cached."""
    cached = table.cache.get("design")
    if cached is not None:
        return cached
    columns, meaning = [], []
    for j, kind in enumerate(table.kinds):
        codes = table.codes[j]
        if kind == "numeric":
            missing = codes == missing_code(codes)
            columns.append(np.where(missing, -1.0, codes.astype(np.float32)))
            meaning.append((j, "numeric", None))
            if missing.any():
                columns.append(missing.astype(np.float32))
                meaning.append((j, "missing", None))
        else:
            columns.append(None)  # filled per group
            meaning.append((j, "categorical", None))
    F = np.zeros((table.n_rows, len(columns)), dtype=np.float32, order="F")
    for f, column in enumerate(columns):
        if column is not None:
            F[:, f] = column
    table.cache["design"] = F, meaning
    return F, meaning


def _design(table, members):
    """Tree features from the codes, and what each feature is."""
    F, meaning = _base_design(table)
    F, meaning = F.copy(order="F"), list(meaning)
    for f, (j, kind, _) in enumerate(meaning):
        if kind != "categorical":
            continue
        # categories ranked by their share of members: a threshold on the
        # rank is the best subset split for a two-class tree (Breiman et al.,
        # Classification and Regression Trees, 1984, Sec. 4.2.2)
        codes = table.codes[j]
        k = len(table.categories[j])
        total = np.bincount(codes, minlength=k)
        inside = np.bincount(codes[members], minlength=k)
        order = np.argsort(inside / np.maximum(total, 1), kind="stable")
        rank = np.empty(k, dtype=np.float32)
        rank[order] = np.arange(k)
        F[:, f] = rank[codes]
        meaning[f] = (j, "categorical", order)
    return F, meaning


def _tests_on_path(tree, node, meaning, table):
    """The code-level tests on the path from the root to ``node``, merged per
    column."""
    t = tree.tree_
    parent = {}
    for p in range(t.node_count):
        for child, left in ((t.children_left[p], True), (t.children_right[p], False)):
            if child != -1:
                parent[child] = (p, left)
    steps = []
    while node in parent:
        p, left = parent[node]
        steps.append((int(t.feature[p]), float(t.threshold[p]), left))
        node = p
    per_column = {}
    for f, threshold, left in reversed(steps):
        j, kind, order = meaning[f]
        state = per_column.setdefault(j, {
            "lo": 0, "hi": len(table.low[j]) - 1 if table.low[j] is not None else 0,
            "missing": None, "allowed": set(range(len(table.categories[j] or ()))),
            "numeric": False})
        cut = math.floor(threshold)
        if kind == "numeric":
            state["numeric"] = True
            if left:
                state["hi"] = min(state["hi"], cut)
            else:
                state["lo"] = max(state["lo"], cut + 1)
                state["missing"] = False  # missing rows (-1) go left
        elif kind == "missing":
            state["missing"] = not left
        else:
            keep = order[: cut + 1] if left else order[cut + 1:]
            state["allowed"] &= set(keep.tolist())
    tests = []
    for j, state in per_column.items():
        if table.kinds[j] == "categorical":
            if len(state["allowed"]) < len(table.categories[j]):
                tests.append(_Test(j, "categories", allowed=frozenset(state["allowed"])))
            continue
        top = len(table.low[j]) - 1
        if state["missing"] is True or state["hi"] < 0:
            tests.append(_Test(j, "missing"))
        elif state["lo"] > 0 or state["hi"] < top:
            tests.append(_Test(j, "bins", lo=state["lo"], hi=state["hi"]))
        elif state["missing"] is False:
            tests.append(_Test(j, "present"))
    return tests


def _score(tests, codes, members, size):
    selected = np.ones(members.shape[0], dtype=bool)
    for test in tests:
        selected &= test.mask(codes)
    hits = int(np.count_nonzero(selected & members))
    n_selected = int(np.count_nonzero(selected))
    f1 = 0.0 if size + n_selected == 0 else 2 * hits / (size + n_selected)
    return f1, hits, n_selected


def _tighten(tests, table, members):
    """Bounds and category sets shrunk to the members the rule selects.

    A tree cuts anywhere in a gap between values (``age >= 36`` where the
    cluster's ages start at 41 and nobody selected is 31 to 40); the rows the
    rule selects stay the same or lose non-members, and the rule reads as the
    members' own range (``41 <= age <= 58``).
    """
    hits = members.copy()
    for test in tests:
        hits &= test.mask(table.codes)
    if not hits.any():
        return
    for test in tests:
        codes = table.codes[test.j][hits]
        if test.op == "bins":
            if test.lo > 0:
                test.lo = max(test.lo, int(codes.min()))
            if test.hi < len(table.low[test.j]) - 1:
                test.hi = min(test.hi, int(codes.max()))
        elif test.op == "categories":
            test.allowed = test.allowed & frozenset(np.unique(codes).tolist())


def find_rule(table, members, subpopulation, max_depth=3):
    """The :class:`SubpopulationRule` that best picks ``members`` out of the
    table's rows (cached per subpopulation and depth: ``members`` must be the
    same for the same ``subpopulation``)."""
    key = ("rule", int(subpopulation), int(max_depth))
    if key not in table.cache:
        table.cache[key] = _find_rule(table, members, subpopulation, max_depth)
    return table.cache[key]


def with_min_fit(rule, min_fit):
    """``rule`` judged against another ``min_fit`` (the same conditions)."""
    return rule if min_fit == rule.min_fit else replace(rule, min_fit=float(min_fit))


def _find_rule(table, members, subpopulation, max_depth):
    members = np.asarray(members, dtype=bool)
    size = int(members.sum())
    codes = table.codes
    tests = []
    if 0 < size < members.shape[0] and table.kinds:
        F, meaning = _design(table, members)
        tree = DecisionTreeClassifier(max_depth=max_depth, class_weight="balanced",
                                      random_state=0).fit(F, members)
        path = tree.decision_path(F)
        hits = np.asarray(path.T @ members.astype(np.int64)).ravel()
        n_node = tree.tree_.n_node_samples
        f1 = 2 * hits / (n_node + size)
        depth = np.zeros(tree.tree_.node_count, dtype=int)
        for p in range(tree.tree_.node_count):
            for child in (tree.tree_.children_left[p], tree.tree_.children_right[p]):
                if child != -1:
                    depth[child] = depth[p] + 1
        # best F1; on ties the shorter rule, then the first node
        best = min(range(len(f1)), key=lambda i: (-round(f1[i], 12), depth[i], i))
        tests = _tests_on_path(tree, best, meaning, table)
        # drop any test the rule does as well without (exactly scored)
        current = _score(tests, codes, members, size)[0]
        for test in list(tests):
            rest = [t for t in tests if t is not test]
            score = _score(rest, codes, members, size)[0]
            if score >= current:
                tests, current = rest, score
        _tighten(tests, table, members)
    _, hits, n_selected = _score(tests, codes, members, size)
    return SubpopulationRule(
        subpopulation=int(subpopulation),
        conditions=tuple(test.condition(table) for test in tests),
        coverage=hits / size if size else 0.0,
        precision=hits / n_selected if n_selected else 0.0,
        size=size,
        n_selected=n_selected,
    )

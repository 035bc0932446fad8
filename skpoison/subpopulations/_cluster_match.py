"""ClusterMatch: subpopulations as k-means clusters of a representation."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils import check_random_state
from imblearn.utils import Substitution
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils._seeding import seed_unseeded
from ..utils._validation import is_dataframe, is_number_dtype
from ._base import _SHARED_PARAMS_DOC, BaseSubpopulationFinder
from ._describe import MIN_FIT, LazyTable, find_rule, with_min_fit


def _needs_default_representation(X):
    """A DataFrame with a non-numeric column or a missing value."""
    if not is_dataframe(X):
        return False
    if not all(is_number_dtype(dtype) for dtype in X.dtypes):
        return True
    return bool(X.isna().to_numpy().any())


def _categories_as_strings(X):
    """Categorical columns as strings, a missing value as NaN.

    The first step of the default representation's categorical branch: it
    makes strings, pandas categories, booleans and ``pd.NA`` alike for
    :class:`~sklearn.impute.SimpleImputer` and
    :class:`~sklearn.preprocessing.OneHotEncoder`.
    """
    columns = []
    for j in range(X.shape[1]):
        column = X.iloc[:, j] if is_dataframe(X) else pd.Series(np.asarray(X)[:, j])
        values = column.to_numpy(dtype=object, copy=True)
        missing = np.asarray(pd.isna(column))
        values[~missing] = [str(v) for v in values[~missing]]
        values[missing] = np.nan
        columns.append(values)
    return np.column_stack(columns) if columns else np.empty((len(X), 0), object)


def default_representation(X):
    """The representation ClusterMatch builds for a DataFrame of mixed columns.

    Read more in the :ref:`User Guide <finders>`.

    Categorical columns (strings, pandas categories, booleans stored as
    objects): a missing value becomes the category ``"missing"``
    (:class:`~sklearn.impute.SimpleImputer`), then one-hot
    (:class:`~sklearn.preprocessing.OneHotEncoder`,
    ``handle_unknown="ignore"``: a category unseen in ``fit`` is all zeros).
    Numeric columns (numbers and booleans): median imputation, then
    standardisation (:class:`~sklearn.preprocessing.StandardScaler`).

    Parameters
    ----------
    X : DataFrame
        The rows the representation will be fitted on (only their column
        types are read).

    Returns
    -------
    representation : ColumnTransformer
        Unfitted.
    """
    dtypes = X.dtypes
    unsupported = [str(c) for c, dt in dtypes.items()
                   if pd.api.types.is_datetime64_any_dtype(dt)
                   or pd.api.types.is_timedelta64_dtype(dt)
                   or isinstance(dt, (pd.PeriodDtype, pd.IntervalDtype,
                                      pd.SparseDtype))]
    if unsupported:
        raise TypeError(
            f"ClusterMatch's default representation handles numeric and "
            f"categorical (string) columns; columns {unsupported} have other "
            f"types ({[str(dtypes[c]) for c in dtypes.index if str(c) in unsupported]}). "
            "Convert them, or pass a representation."
        )
    positions = np.arange(len(dtypes))
    numeric = positions[[is_number_dtype(dt) for dt in dtypes]].tolist()
    categorical = [j for j in positions.tolist() if j not in set(numeric)]
    branches = []
    if categorical:
        branches.append(("categorical", Pipeline([
            ("as_strings", FunctionTransformer(
                _categories_as_strings, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), categorical))
    if numeric:
        branches.append(("numeric", Pipeline([
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]), numeric))
    return ColumnTransformer(branches, sparse_threshold=0.0)


@Substitution(shared_params=_SHARED_PARAMS_DOC)
class ClusterMatch(BaseSubpopulationFinder):
    """Subpopulations as k-means clusters of the representation ``X``.

    Read more in the :ref:`User Guide <finders>`.

    The paper's ClusterMatch: optionally project ``X`` with PCA, then cluster
    it with k-means; each cluster is a subpopulation. ``X`` is whatever
    representation the attacker has: raw features (UCI Adult, no scaling, no
    PCA), or activations of a model trained on the attacker's data. When the
    victim's input is not that representation (images or texts for a
    fine-tuned victim), pass the mapping as ``representation``: a transformer
    such as :class:`~skpoison.features.ImageEmbedder`, applied before PCA.

    **A DataFrame of mixed columns.** Given a DataFrame with a non-numeric
    column (strings, categories) or a missing value and no
    ``representation``, ClusterMatch builds one (:func:`default_representation
    <skpoison.subpopulations.default_representation>`): categorical columns
    get missing values as the category ``"missing"`` then one-hot encoding
    (unknown categories ignored), numeric columns median imputation then
    standardisation, in a :class:`~sklearn.compose.ColumnTransformer` fitted
    on the finder's rows and kept as ``representation_``. A numeric array, or
    a numeric DataFrame without missing values, is clustered as given.

    **Groups in words.** :meth:`describe` names a cluster by the few
    conditions on the columns of ``X`` (the data's own units, not the
    representation) that best pick it out of the rows the finder was fitted
    on, e.g. ``capital_gain >= 15024 and 41 <= age <= 58``, with the share of
    the cluster they cover and their precision; a cluster that no short rule
    describes well is named ``cluster <id>, approximately: <rule>``.

    The paper's settings (its experimental setup and the authors' code):

    ============  ===============================  ============================
    dataset       representation                   settings
    ============  ===============================  ============================
    UCI Adult     raw 57 one-hot/numeric features  ``n_clusters=100``, no PCA,
                                                   ``min_size=10, max_size=100``
                                                   counted on auxiliary rows
    UTKFace,      a pooling layer of the           ``n_components=100``,
    CIFAR-10      aux-trained CNN                  ``n_components_kmeans=40``,
                                                   ``n_clusters=100``
    IMDB (BERT)   hidden layer 11 of the           ``n_components=10``,
                  aux-fine-tuned model             ``n_clusters=100``
    ============  ===============================  ============================

    Parameters
    ----------
    n_clusters : int, default=100
        Number of k-means clusters (the paper uses 100 everywhere).

    n_components : int, default=None
        PCA components fitted before clustering; ``None`` clusters ``X`` as
        given.

    n_components_kmeans : int, default=None
        Cluster only the first this many PCA components (the paper's images:
        PCA 100, k-means on the first 40). ``None`` uses all of them.

    {shared_params}

    algorithm : {{"kmeans", "minibatch"}}, default="kmeans"
        :class:`~sklearn.cluster.KMeans`, or
        :class:`~sklearn.cluster.MiniBatchKMeans` for large inputs.

    n_init : int, default=1
        k-means restarts.

    representation : transformer, default=None
        Maps ``X`` to the features clustered (fitted on the finder's rows,
        cloned first and seeded from ``random_state`` when unseeded, unless
        it is a :class:`~sklearn.frozen.FrozenEstimator`). ``None``: ``X``
        itself, or the default representation for a DataFrame of mixed
        columns (see above).

    random_state : int, RandomState instance or None, default=None
        Seeds PCA, k-means and the ``"random"`` target rule.

    Attributes
    ----------
    representation_ : transformer or None
        The fitted ``representation``, or the fitted default one; ``None``
        when ``X`` is clustered as given.
    pca_ : PCA or None
        The fitted projection.
    kmeans_ : KMeans or MiniBatchKMeans
        The fitted clustering.
    subpopulations_ : ndarray of int
        Ids (cluster labels) of the clusters that pass the size filter.
    sizes_ : ndarray of int
        Number of fitted rows in each of ``subpopulations_``.
    target_ : int
        Id of the target cluster.
    n_features_in_ : int
        Number of features of ``X`` seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names of ``X``, when it is a DataFrame with string names.

    See Also
    --------
    FeatureMatch : Subpopulations as combinations of annotated values.

    References
    ----------
    .. [1] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021 (ClusterMatch).
       Reference code (the settings in the table above): the authors' UCI
       Adult notebook, linked from their repository's README,
       ``basic_training.py`` (images) and ``attack_nlp.py`` (IMDB),
       https://github.com/jagielski/subpopulation-data-poisoning-attacks
    .. [2] S. Lloyd, "Least squares quantization in PCM", IEEE Transactions
       on Information Theory 28(2), 1982 (k-means, through
       :class:`~sklearn.cluster.KMeans`).

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.subpopulations import ClusterMatch
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1],
    ...               [5.0, 5.0], [5.1, 5.0]])
    >>> finder = ClusterMatch(n_clusters=2, target="smallest", random_state=0)
    >>> finder.fit(X).sizes_
    array([3, 2])
    >>> finder.membership(X)
    array([False, False, False,  True,  True])

    A DataFrame of strings, numbers and missing values gets the default
    representation, and each cluster a rule in the data's own units:

    >>> import pandas as pd
    >>> frame = pd.DataFrame({{"age": [25, 31, 28, 52, 58, 55],
    ...                       "job": ["clerk", "clerk", None,
    ...                               "owner", "owner", "owner"]}})
    >>> finder = ClusterMatch(n_clusters=2, random_state=0).fit(frame)
    >>> type(finder.representation_).__name__
    'ColumnTransformer'
    >>> finder.predict(frame)
    array([0, 0, 0, 1, 1, 1])
    >>> rule = finder.describe(1)
    >>> str(rule), rule.coverage, rule.precision
    ('job = owner', 1.0, 1.0)
    """

    _parameter_constraints = {
        **BaseSubpopulationFinder._parameter_constraints,
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "n_components_kmeans": [Interval(Integral, 1, None, closed="left"), None],
        "algorithm": [StrOptions({"kmeans", "minibatch"})],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "representation": [HasMethods(["fit", "transform"]), None],
        "random_state": ["random_state"],
    }

    def __init__(self, n_clusters=100, *, n_components=None, n_components_kmeans=None,
                 target=None, min_size=None, max_size=None, algorithm="kmeans",
                 n_init=1, representation=None, random_state=None):
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.n_components_kmeans = n_components_kmeans
        self.target = target
        self.min_size = min_size
        self.max_size = max_size
        self.algorithm = algorithm
        self.n_init = n_init
        self.representation = representation
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the projection and the clustering, and resolve the target.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The attacker's rows: the representation clustered, or the input
            of ``representation``, or a DataFrame of mixed columns (see the
            class description).
        y : None
            Ignored.

        Returns
        -------
        self : ClusterMatch
        """
        rng = check_random_state(self.random_state)
        X_given = X
        if self.representation is None and _needs_default_representation(X):
            validate_data(self, X, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a "
                    "minimum of 1 is required by ClusterMatch."
                )
            self.representation_ = default_representation(X)
            # its fit_transform is fit().transform() (imputation, one-hot
            # coding, scaling), in one pass over the rows
            X = self._represent(self.representation_, X,
                                self.representation_.fit_transform(X))
        elif self.representation is None:
            self.representation_ = None
            X = validate_data(self, X, dtype=[np.float64, np.float32])
            if not is_dataframe(X_given):  # lists and the like: as validated
                X_given = X
        else:
            validate_data(self, X, skip_check_array=True)
            if (self.random_state is None
                    or isinstance(self.representation, FrozenEstimator)):
                self.representation_ = clone(self.representation)
            else:
                self.representation_ = seed_unseeded(
                    self.representation, rng.randint(np.iinfo(np.int32).max))
            X = self._represent(self.representation_.fit(X, y), X)
        n_samples = X.shape[0]
        if self.n_clusters > n_samples:
            raise ValueError(
                f"n_clusters={self.n_clusters} must be <= n_samples={n_samples}."
            )
        if self.n_components is not None and self.n_components > min(X.shape):
            raise ValueError(
                f"n_components={self.n_components} must be <= "
                f"min(n_samples, n_features)={min(X.shape)}."
            )
        if (self.n_components_kmeans is not None
                and self.n_components_kmeans > (self.n_components or X.shape[1])):
            limit = (f"n_components={self.n_components}" if self.n_components
                     else f"the number of features, {X.shape[1]} (no PCA)")
            raise ValueError(
                f"n_components_kmeans={self.n_components_kmeans} must be <= {limit}."
            )
        seed = rng.randint(np.iinfo(np.int32).max)
        if self.n_components is not None:
            self.pca_ = PCA(n_components=self.n_components, random_state=seed).fit(X)
        else:
            self.pca_ = None
        Z = self._project(X)
        Kmeans = KMeans if self.algorithm == "kmeans" else MiniBatchKMeans
        self.kmeans_ = Kmeans(n_clusters=self.n_clusters, n_init=self.n_init,
                              random_state=seed).fit(Z)
        # the fitted rows in their own units for describe(), coded on first use
        self._table = LazyTable(X_given)
        return self._finish_fit(self.kmeans_.labels_.astype(np.intp), rng)

    def _described_rows(self):
        lazy = getattr(self, "_table", None)
        return None if lazy is None else lazy.get()

    def _n_raw_ids(self):
        return int(self.kmeans_.cluster_centers_.shape[0])

    def describe(self, subpopulation, *, max_depth=3, min_fit=MIN_FIT):
        """A cluster in words: the conditions that best pick it out.

        Fits a decision tree of depth ``max_depth``, the cluster against the
        other rows the finder was fitted on, on the columns of ``X`` in their
        own units (numbers as numbers, strings and categories as categories,
        a missing value as ``missing``), takes the tree node that matches the
        cluster best (highest F1 of coverage and precision; on ties the
        shorter rule), and drops any condition the rule does as well without.
        Deterministic: the same fitted finder gives the same rule.

        Columns of dates, text columns with more than 100 distinct values
        (free text, identifiers), and annotation columns (``annotation:<name>``,
        the coded copies of a data set's group columns, see
        :func:`skpoison.datasets.annotation_column`) are not used. Thresholds are values of the
        data (``age >= 41`` where the tree cut at 40.5), or, for numbers that
        are not whole, the shortest decimal that selects the same fitted rows
        (``ratio <= 0.13`` rather than ``ratio <= 0.12349``); a number with
        more than 65,534 distinct values is first cut into that many quantile
        bins, so a threshold on it is a value near the best cut.

        Parameters
        ----------
        subpopulation : int
            A cluster id, from 0 to ``n_clusters - 1`` (also one that did not
            pass the size filter).
        max_depth : int, default=3
            Depth of the tree: the rule has at most this many tests (two on
            one number read as one interval, ``41 <= age <= 58``).
        min_fit : float in [0, 1], default=0.8
            The precision and coverage the rule needs to name the cluster on
            its own; below either, ``str(rule)`` says the rule is
            approximate. Why 0.8: see :class:`SubpopulationRule`.

        Returns
        -------
        rule : SubpopulationRule
            ``rule.text`` is the rule in words and ``str(rule)`` the
            cluster's name (the rule, or ``cluster <id>, approximately:
            <rule>`` when ``rule.approximate``); ``rule.coverage`` the share
            of the cluster's fitted rows it selects, ``rule.precision`` the
            share of the rows it selects that are in the cluster;
            ``rule.mask(X)`` applies it to other rows.

        Raises
        ------
        ValueError
            When ``subpopulation`` is not a cluster id, or when the finder was
            fitted on something other than a table (images, texts: see
            :meth:`describe_text`).
        """
        check_is_fitted(self, "kmeans_")
        subpopulation = self._check_id(subpopulation)
        if (isinstance(max_depth, (bool, np.bool_))
                or not isinstance(max_depth, Integral) or max_depth < 1):
            raise ValueError(f"max_depth must be an integer >= 1; got {max_depth!r}.")
        if (isinstance(min_fit, (bool, np.bool_)) or not isinstance(min_fit, Real)
                or not 0 <= min_fit <= 1):
            raise ValueError(f"min_fit must be a number in [0, 1]; got {min_fit!r}.")
        table = self._described_rows()
        if table is None:
            raise ValueError(
                "ClusterMatch.describe names clusters by conditions on the columns "
                "of X; this finder was fitted on an X that is not a 2-D table "
                "(images or texts, clustered through representation). Use "
                "describe_text, which falls back to 'cluster <id>'."
            )
        members = np.asarray(self.kmeans_.labels_) == subpopulation
        rule = find_rule(table, members, subpopulation, max_depth=int(max_depth))
        return with_min_fit(rule, min_fit)

    def describe_text(self, subpopulation):
        """A cluster in words, e.g. ``"capital_gain >= 15024 and 41 <= age <= 58"``.

        ``str(self.describe(subpopulation))``: the rule when it describes the
        cluster well, ``"cluster <id>, approximately: <rule>"`` otherwise;
        ``"cluster <id>"`` when the finder was fitted on something other than
        a table.

        Parameters
        ----------
        subpopulation : int
            A cluster id.

        Returns
        -------
        text : str
        """
        check_is_fitted(self, "kmeans_")
        subpopulation = self._check_id(subpopulation)
        if self._described_rows() is None:
            return f"cluster {subpopulation}"
        return str(self.describe(subpopulation))

    @staticmethod
    def _represent(representation, X, Z=None):
        """``representation.transform(X)`` (or its given output ``Z``), checked."""
        Z = np.asarray(representation.transform(X) if Z is None else Z)
        if Z.dtype not in (np.float32, np.float64):
            # float32 stays float32, as for rows given directly: k-means on
            # float32 and float64 copies of the same rows can converge to
            # other clusters, so a representation computed inside the finder
            # and outside it must give the same dtype
            Z = Z.astype(np.float64)
        if Z.ndim != 2:
            raise ValueError(
                "representation must map X to a 2-D array; got shape "
                f"{Z.shape} from {type(representation).__name__}."
            )
        if not np.all(np.isfinite(Z)):
            raise ValueError(
                f"representation {type(representation).__name__} produced NaN or "
                "infinite values."
            )
        return Z

    def _project(self, X):
        Z = X if self.pca_ is None else self.pca_.transform(X)
        if self.n_components_kmeans is not None:
            Z = Z[:, : self.n_components_kmeans]
        return Z

    def _raw_ids(self, X):
        check_is_fitted(self, "kmeans_")
        if getattr(self, "representation_", None) is None:
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        else:
            validate_data(self, X, skip_check_array=True, reset=False)
            X = self._represent(self.representation_, X)
        Z = self._project(X).astype(self.kmeans_.cluster_centers_.dtype, copy=False)
        return self.kmeans_.predict(Z).astype(np.intp)

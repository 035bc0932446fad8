"""ClusterMatch: subpopulations as k-means clusters of a representation."""

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils._seeding import seed_unseeded
from ._base import _SHARED_PARAMS_DOC, BaseSubpopulationFinder


class ClusterMatch(BaseSubpopulationFinder):
    __doc__ = """Subpopulations as k-means clusters of the representation ``X``.

    The paper's ClusterMatch: optionally project ``X`` with PCA, then cluster
    it with k-means; each cluster is a subpopulation. ``X`` is whatever
    representation the attacker has: raw features (UCI Adult, no scaling, no
    PCA), or activations of a model trained on the attacker's data. When the
    victim's input is not that representation (images or texts for a
    fine-tuned victim), pass the mapping as ``representation``: a transformer
    such as :class:`~skpoison.features.ImageEmbedder`, applied before PCA.

    The paper's settings (paper-spec §4.1):

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
    """ + _SHARED_PARAMS_DOC + """
    algorithm : {"kmeans", "minibatch"}, default="kmeans"
        :class:`~sklearn.cluster.KMeans`, or
        :class:`~sklearn.cluster.MiniBatchKMeans` for large inputs.

    n_init : int, default=1
        k-means restarts.

    random_state : int, RandomState instance or None, default=None
        Seeds PCA, k-means and the ``"random"`` target rule.

    Attributes
    ----------
    representation_ : transformer or None
        The fitted ``representation``.
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
        X : array-like of shape (n_samples, n_features)
            The attacker's representation of its auxiliary rows.
        y : None
            Ignored.

        Returns
        -------
        self : ClusterMatch
        """
        rng = check_random_state(self.random_state)
        if self.representation is None:
            self.representation_ = None
            X = validate_data(self, X, dtype=[np.float64, np.float32])
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
        return self._finish_fit(self.kmeans_.labels_.astype(np.intp), rng)

    @staticmethod
    def _represent(representation, X):
        Z = np.asarray(representation.transform(X), dtype=np.float64)
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

"""Activation clustering (Chen et al. 2018) for any classifier."""

from numbers import Integral, Real

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA, FastICA
from sklearn.metrics import silhouette_score
from sklearn.utils import check_random_state

from ..utils._compat import Interval, StrOptions, _fit_context
from ._representation import RepresentationDefense, class_rows

# Rows of a class beyond which the silhouette score is estimated on a seeded
# random sample of this many rows: the exact score costs O(n^2) distances.
_SILHOUETTE_MAX_ROWS = 5000

# The authors' FastICA settings (utk_small_activation_clustering.ipynb).
_ICA_MAX_ITER = 1000
_ICA_TOL = 0.005

_DEFAULT_COMPONENTS = {"ica": 15, "pca": 10}

# silhouette_threshold="auto": a class is split only when its 2-means
# silhouette beats the one 2-means gets on a Gaussian sample with the class's
# mean and covariance (one cluster, by construction) by this margin.
_AUTO_MARGIN = 0.05


class ActivationClustering(RepresentationDefense):
    """Activation clustering: per class, split the representations in two and
    drop the smaller cluster when it is small and well separated.

    Read more in the :ref:`User Guide <defenses>`.

    The backdoor defense of Chen et al. (2018) as the subpopulation paper
    runs it (Jagielski et al., CCS 2021, Sec. 8, Table 11): fit ``estimator``
    on all rows; for each class, take the rows' representation at ``layer``,
    reduce it (FastICA with 15 components as the paper's authors, or PCA with
    10 as Chen et al. and IBM ART), split it with 2-means and remove the
    smaller cluster when it holds less than ``size_threshold`` of the class's
    rows (Chen et al.'s relative-size analysis) and the clustering's
    silhouette score reaches ``silhouette_threshold``; refit ``estimator`` on
    the kept rows.

    Parameters
    ----------
    estimator : classifier
        Any classifier: scikit-learn models, pipelines, skorch nets.

    layer : str, int or None, default=None
        Where the representation is taken; see
        :func:`~skpoison.defenses.representation`. ``None`` (or
        ``"input"``): the model's input features, e.g. embeddings from a
        pretrained network with a linear model on top; for a
        :class:`~sklearn.pipeline.Pipeline`, the input of its final step (after
        the scaler or embedder before it). The first fit of the model is then
        skipped, as the representation does not depend on it. A submodule name of a
        skorch net (``"hidden"`` is the last hidden layer of
        :func:`~skpoison.nets.make_mlp_classifier`'s nets, the authors'
        penultimate layer), or a hidden-layer index of a scikit-learn
        ``MLPClassifier`` (``-1`` for the last).

    reduction : {"pca", "ica"}, default="pca"
        Dimensionality reduction before clustering:
        :class:`~sklearn.decomposition.PCA` (Chen et al. and IBM ART), or
        :class:`~sklearn.decomposition.FastICA` (``max_iter=1000, tol=0.005``,
        unit-variance whitening by SVD; the subpopulation paper's authors'
        settings).

    n_components : int or None, default=None
        Components kept by the reduction; ``None`` means 15 for ``"ica"`` (the
        authors) and 10 for ``"pca"`` (Chen et al.). Capped per class at the
        number of rows and of representation dimensions.

    silhouette_threshold : "auto", float or None, default="auto"
        Remove a class's smaller cluster only when the silhouette score of the
        2-means clustering is at least this value. ``"auto"`` (the separation
        guard): at least the silhouette that 2-means reaches on a Gaussian
        sample with the class's mean and covariance in the reduced space (a
        class with no second cluster), plus 0.05; so a clean **unimodal**
        class is not cut in two, whatever the number of components. A float is
        a fixed threshold (the paper's authors used 0.1 on UTKFace and none on
        IMDB); ``None`` applies no silhouette test.

    size_threshold : float in (0, 1) or None, default=0.35
        Chen et al.'s relative-size analysis: the smaller cluster is removed
        only when it holds less than this share of its class's rows (0.35 in
        their paper and in IBM ART's ``analyze_by_relative_size``). A clean
        class with two natural modes, each at least this share of the class,
        is kept whole although its silhouette is high; a natural mode smaller
        than this share with a high silhouette looks like planted rows and is
        removed. ``None`` applies no size test (the "smaller" analysis: the
        smaller cluster is always a candidate).

        The paper's authors' setting is ``reduction="ica",
        silhouette_threshold=None, size_threshold=None``. On clean data it
        removes the smaller 2-means cluster of **every** class: on 2,000 clean
        Gaussian rows it drops 40 to 50 % of them (the subpopulation paper's
        Table 11 reports 25.7 % of the clean UTKFace rows removed).

    random_state : int, RandomState instance or None, default=None
        Seeds the reduction, k-means, the silhouette sample and ``estimator``
        when it has an unset ``random_state``.

    Attributes
    ----------
    estimator_ : estimator
        The model trained on the kept rows.

    support_mask_ : ndarray of bool, shape (n_samples,)
        The rows ``estimator_`` was trained on.

    n_iter_ : int
        Always 1: one detection round.

    cluster_sizes_ : ndarray of int, shape (n_classes, 2)
        Per class (in the order of ``classes_``): sizes of the smaller and the
        larger cluster.

    silhouette_scores_ : ndarray of float, shape (n_classes,)
        Per class: silhouette score of the 2-means clustering on the reduced
        representation (NaN when a class could not be split).

    silhouette_thresholds_ : ndarray of float, shape (n_classes,)
        Per class: the silhouette its split had to reach (``-inf`` with
        ``silhouette_threshold=None``; NaN when it could not be split).

    relative_sizes_ : ndarray of float, shape (n_classes,)
        Per class: the smaller cluster's share of the class's rows, compared
        with ``size_threshold`` (NaN when the class could not be split).

    cluster_removed_ : ndarray of bool, shape (n_classes,)
        Per class: whether its smaller cluster was removed.

    n_components_ : ndarray of int, shape (n_classes,)
        Per class: components actually used after the cap.

    classes_ : ndarray
        Class labels of ``estimator_``.

    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    SpectralSignatures : The other representation-based backdoor defense.

    Notes
    -----
    With the defaults, a class is kept whole when its representation is
    unimodal (the silhouette guard) or when its two 2-means clusters are both
    at least ``size_threshold`` of its rows (the relative-size guard); what is
    removed is a cluster that is both small and separated. Planted rows that
    make up ``size_threshold`` or more of their labelled class (alpha of 1 or
    more on a target subpopulation that is a large share of its class) are
    therefore kept: lower ``size_threshold`` or set it to ``None`` to search
    for them, at the cost of cutting bimodal clean classes.

    A class with fewer than 3 rows, or whose representations are all equal, is
    not split. Ties in cluster size remove the cluster k-means labelled 0.
    The silhouette score of a class with more than 5,000 rows is estimated on
    a seeded random sample of 5,000 of its rows (the exact score needs all
    pairwise distances).

    FastICA scales every component to unit variance: with many components
    relative to a class's rows, a handful of outlying rows can form the
    smaller cluster, and on near-Gaussian representations FastICA runs all
    its 1,000 iterations, most of the cost on large classes (see
    ``benchmarks/bench_representation_defenses.py``). PCA keeps each
    component's variance and is several times faster.

    References
    ----------
    .. [1] B. Chen, W. Carvalho, N. Baracaldo, H. Ludwig, B. Edwards, T. Lee,
       I. Molloy and B. Srivastava, "Detecting Backdoor Attacks on Deep
       Neural Networks by Activation Clustering", AAAI Workshop on
       Artificial Intelligence Safety (SafeAI), 2019; arXiv:1811.03728.
       Reference code (PCA to 10 dimensions, 2-means, the "smaller" and
       "relative-size" analyses): IBM Adversarial Robustness Toolbox,
       ``art/defences/detector/poison/activation_defence.py``,
       https://github.com/Trusted-AI/adversarial-robustness-toolbox
    .. [2] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, Sec. 8, Table 11.
       Reference code (FastICA with 15 components, silhouette threshold,
       ``notebooks/evaluations/utk_small_activation_clustering.ipynb``):
       https://github.com/jagielski/subpopulation-data-poisoning-attacks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.defenses import ActivationClustering
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 1, (60, 4)), rng.normal(6, 1, (60, 4)),
    ...                rng.normal(0, 0.1, (6, 4)) + [0, 0, 0, 12]])
    >>> y = np.array([0] * 60 + [1] * 60 + [1] * 6)  # 6 triggered rows labelled 1
    >>> ac = ActivationClustering(LogisticRegression(), reduction="pca",
    ...                           silhouette_threshold=0.3, random_state=0)
    >>> ac = ac.fit(X, y)
    >>> np.flatnonzero(~ac.support_mask_)
    array([120, 121, 122, 123, 124, 125])
    >>> ac.cluster_removed_
    array([False,  True])
    """

    _parameter_constraints = {  # noqa: RUF012 (scikit-learn's convention)
        **RepresentationDefense._parameter_constraints,
        "layer": [None, str, Integral],
        "reduction": [StrOptions({"ica", "pca"})],
        "n_components": [None, Interval(Integral, 1, None, closed="left")],
        "silhouette_threshold": [StrOptions({"auto"}), None,
                                 Interval(Real, -1, 1, closed="both")],
        "size_threshold": [None, Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(self, estimator, *, layer=None, reduction="pca", n_components=None,
                 silhouette_threshold="auto", size_threshold=0.35,
                 random_state=None):
        self.estimator = estimator
        self.layer = layer
        self.reduction = reduction
        self.n_components = n_components
        self.silhouette_threshold = silhouette_threshold
        self.size_threshold = size_threshold
        self.random_state = random_state

    def _reduce(self, R, n_components, seed):
        if self.reduction == "pca":
            reducer = PCA(n_components=n_components, random_state=seed)
        else:
            # the SVD whitening: eigh's depends on the BLAS thread count
            reducer = FastICA(n_components=n_components, max_iter=_ICA_MAX_ITER,
                              tol=_ICA_TOL, whiten="unit-variance",
                              whiten_solver="svd", random_state=seed)
        return reducer.fit_transform(R)

    @staticmethod
    def _two_means(Z, seed):
        """2-means labels of ``Z`` and their silhouette (NaN exactly when one
        cluster is empty)."""
        labels = KMeans(n_clusters=2, n_init=10,
                        random_state=int(seed[0])).fit_predict(Z)
        if np.bincount(labels, minlength=2).min() == 0:
            return labels, np.nan
        n = Z.shape[0]
        sample_size = _SILHOUETTE_MAX_ROWS if n > _SILHOUETTE_MAX_ROWS else None
        return labels, float(silhouette_score(Z, labels, sample_size=sample_size,
                                              random_state=int(seed[1])))

    def _threshold(self, Z, seeds):
        """The silhouette a split must reach (``-inf`` when always removed)."""
        if self.silhouette_threshold is None:
            return -np.inf
        if not isinstance(self.silhouette_threshold, str):
            return float(self.silhouette_threshold)
        # the Gaussian reference: one cluster with the class's mean and spread
        rng = np.random.RandomState(int(seeds[0]))
        n = min(Z.shape[0], _SILHOUETTE_MAX_ROWS)
        # Z @ eigenvectors scaled: a Gaussian with Z's covariance, built from
        # the symmetric eigendecomposition (deterministic; no Cholesky of a
        # rank-deficient covariance)
        cov = np.atleast_2d(np.cov(Z, rowvar=False))
        values, vectors = np.linalg.eigh(cov)
        scale = vectors * np.sqrt(np.clip(values, 0, None))
        ref = Z.mean(axis=0) + rng.standard_normal((n, Z.shape[1])) @ scale.T
        _, silhouette = self._two_means(ref, seeds[1:])
        return (0.0 if np.isnan(silhouette) else silhouette) + _AUTO_MARGIN

    def _split_class(self, R, rng):
        """2-means on the reduced ``R``: (labels of the smaller cluster, sizes,
        silhouette, threshold, n_components); ``None`` labels when it cannot be
        split."""
        # Constant dimensions (dead ReLU units) carry no information and make
        # ICA's whitening singular: drop them before reducing.
        R = R[:, np.ptp(R, axis=0) > 0]
        n, d = R.shape
        n_components = self.n_components or _DEFAULT_COMPONENTS[self.reduction]
        n_components = int(max(1, min(n_components, n - 1, d)))
        seeds = rng.randint(np.iinfo(np.int32).max, size=6)
        if n < 3 or d == 0:
            return None, (0, n), np.nan, np.nan, n_components
        Z = self._reduce(R, n_components, int(seeds[0]))
        labels, silhouette = self._two_means(Z, seeds[1:3])
        if np.isnan(silhouette):  # one cluster: nothing to split
            return None, (0, n), np.nan, np.nan, n_components
        sizes = np.bincount(labels, minlength=2)
        smaller = int(np.argmin(sizes))
        return labels == smaller, (int(sizes.min()), int(sizes.max())), \
            silhouette, self._threshold(Z, seeds[3:]), n_components

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit ``estimator``, remove each class's smaller activation cluster, refit.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, possibly poisoned.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : ActivationClustering
        """
        X, y = self._validate_training_data(X, y)
        estimator, R, fitted = self._representation_for_fit(X, y)
        rng = check_random_state(self.random_state)
        classes, y_codes = np.unique(y, return_inverse=True)
        n_classes = classes.shape[0]
        keep = np.ones(y.shape[0], dtype=bool)
        self.cluster_sizes_ = np.zeros((n_classes, 2), dtype=np.intp)
        self.silhouette_scores_ = np.full(n_classes, np.nan)
        self.silhouette_thresholds_ = np.full(n_classes, np.nan)
        self.relative_sizes_ = np.full(n_classes, np.nan)
        self.cluster_removed_ = np.zeros(n_classes, dtype=bool)
        self.n_components_ = np.zeros(n_classes, dtype=np.intp)
        for k in range(n_classes):
            rows = np.flatnonzero(y_codes == k)
            in_smaller, sizes, silhouette, threshold, n_comp = self._split_class(
                class_rows(R, rows), rng)
            self.cluster_sizes_[k] = sizes
            self.silhouette_scores_[k] = silhouette
            self.silhouette_thresholds_[k] = threshold
            self.n_components_[k] = n_comp
            if in_smaller is None:
                continue
            share = sizes[0] / rows.shape[0]
            self.relative_sizes_[k] = share
            small = self.size_threshold is None or share < self.size_threshold
            if small and silhouette >= threshold:
                keep[rows[in_smaller]] = False
                self.cluster_removed_[k] = True
        return self._finish_on_kept(estimator, X, y, keep, fitted)

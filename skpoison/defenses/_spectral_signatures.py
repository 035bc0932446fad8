"""Spectral signatures (Tran, Li and Madry, NeurIPS 2018) for any classifier."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ..utils._compat import Interval, _fit_context
from ._representation import RepresentationDefense, class_rows
from ._spectral import projection_scores


class SpectralSignatures(RepresentationDefense):
    """Spectral signatures: per class, drop the rows that project most on the
    top singular vector of the centred representations.

    Read more in the :ref:`User Guide <defenses>`.

    The backdoor defense of Tran, Li and Madry (NeurIPS 2018) as the
    subpopulation paper runs it (Sec. 8, Table 11): fit ``estimator`` on all
    rows; for each class, centre the rows' representations at ``layer``, find
    their top right singular vector ``v`` and score each row by its squared
    projection ``((R_i - mean) . v) ** 2``; remove the highest-scoring rows of
    every class; refit ``estimator`` on the kept rows.

    How many rows each class loses: by default those above the ``quantile``
    (85th percentile, i.e. about 15 % of every class, as the subpopulation
    paper's authors and Tran et al.'s code, see References); when an
    expected poison amount ``n_remove`` is given,
    ``epsilon_multiplier * n_remove`` rows of every class (Tran et al. remove
    1.5 times the expected number of poisons).

    Parameters
    ----------
    estimator : classifier
        Any classifier: scikit-learn models, pipelines, skorch nets.

    layer : str, int or None, default=None
        Where the representation is taken; see
        :func:`~skpoison.defenses.representation`. ``None`` (or
        ``"input"``): the model's input features; for a
        :class:`~sklearn.pipeline.Pipeline`, the input of its final step (after
        the scaler or embedder before it). The first fit of the model is then
        skipped, as the representation does not depend on it. A submodule name of a
        skorch net (``"hidden"`` for :func:`~skpoison.nets.make_mlp_classifier`'s
        last hidden layer), or a hidden-layer index of a scikit-learn
        ``MLPClassifier`` (``-1`` for the last).

    n_remove : int, float or None, default=None
        Expected poison amount: a count (int; each class loses
        ``int(epsilon_multiplier * n_remove)`` rows), or a fraction of each
        class (float in (0, 1); a class of ``n_c`` rows loses
        ``int(epsilon_multiplier * n_remove * n_c)``). ``None`` uses
        ``quantile``.

    quantile : float in (0, 1], default=0.85
        With ``n_remove=None``, each class loses the rows whose score is above
        this quantile of its scores: ``n_c - 1 - floor(quantile * (n_c - 1))``
        rows (what ``scores > np.quantile(scores, quantile)`` keeps out for
        distinct scores; 15 of 100 at 0.85). ``1.0`` removes nothing.

    epsilon_multiplier : float, default=1.5
        Multiplier of ``n_remove`` (Tran et al.'s 1.5).

    random_state : int, RandomState instance or None, default=None
        Seeds ``estimator`` when it has an unset ``random_state`` and the
        randomized SVD used for classes with more than 4,096 rows and
        dimensions.

    Attributes
    ----------
    estimator_ : estimator
        The model trained on the kept rows.

    support_mask_ : ndarray of bool, shape (n_samples,)
        The rows ``estimator_`` was trained on.

    n_iter_ : int
        Always 1: one detection round.

    scores_ : ndarray of float, shape (n_samples,)
        Each row's outlier score within its class.

    n_removed_ : ndarray of int, shape (n_classes,)
        Rows removed per class (in the order of ``classes_``).

    classes_ : ndarray
        Class labels of ``estimator_``.

    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    ActivationClustering : The other representation-based backdoor defense.

    Notes
    -----
    Ties in score are removed in row order. At least one row of every class
    is kept: a larger removal is capped with a warning.

    References
    ----------
    .. [1] B. Tran, J. Li and A. Madry, "Spectral Signatures in Backdoor
       Attacks", NeurIPS 2018. Reference code (``compute_corr.py``, the
       85th-percentile cut of ``config.json``):
       https://github.com/MadryLab/backdoor_data_poisoning
    .. [2] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, Sec. 8, Table 11.
       Reference code
       (``notebooks/evaluations/utk_small_spectral_signature.ipynb``):
       https://github.com/jagielski/subpopulation-data-poisoning-attacks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.defenses import SpectralSignatures
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 1, (60, 4)), rng.normal(6, 1, (60, 4)),
    ...                rng.normal(0, 0.1, (4, 4)) + [0, 0, 0, 12]])
    >>> y = np.array([0] * 60 + [1] * 60 + [1] * 4)  # 4 triggered rows labelled 1
    >>> ss = SpectralSignatures(LogisticRegression(), n_remove=4,
    ...                         epsilon_multiplier=1.0).fit(X, y)
    >>> np.flatnonzero(~ss.support_mask_[60:]) + 60  # class 1's removed rows
    array([120, 121, 122, 123])
    >>> ss.n_removed_
    array([4, 4])
    """

    _parameter_constraints = {  # noqa: RUF012 (scikit-learn's convention)
        **RepresentationDefense._parameter_constraints,
        "layer": [None, str, Integral],
        "n_remove": [None, Interval(Integral, 0, None, closed="left"),
                     Interval(Real, 0, 1, closed="neither")],
        "quantile": [Interval(Real, 0, 1, closed="right")],
        "epsilon_multiplier": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, estimator, *, layer=None, n_remove=None, quantile=0.85,
                 epsilon_multiplier=1.5, random_state=None):
        self.estimator = estimator
        self.layer = layer
        self.n_remove = n_remove
        self.quantile = quantile
        self.epsilon_multiplier = epsilon_multiplier
        self.random_state = random_state

    def _n_remove(self, n_c):
        if self.n_remove is None:
            return int(n_c - 1 - np.floor(self.quantile * (n_c - 1) + 1e-9))
        if isinstance(self.n_remove, Integral) and not isinstance(self.n_remove, bool):
            amount = self.epsilon_multiplier * int(self.n_remove)
        else:
            amount = self.epsilon_multiplier * float(self.n_remove) * n_c
        return int(np.floor(amount + 1e-9))

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit ``estimator``, remove each class's top spectral scores, refit.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, possibly poisoned.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : SpectralSignatures
        """
        X, y = self._validate_training_data(X, y)
        estimator, R, fitted = self._representation_for_fit(X, y)
        rng = check_random_state(self.random_state)
        classes, y_codes = np.unique(y, return_inverse=True)
        keep = np.ones(y.shape[0], dtype=bool)
        self.scores_ = np.zeros(y.shape[0])
        self.n_removed_ = np.zeros(classes.shape[0], dtype=np.intp)
        capped = []
        for k in range(classes.shape[0]):
            rows = np.flatnonzero(y_codes == k)
            scores = projection_scores(class_rows(R, rows),
                                     int(rng.randint(np.iinfo(np.int32).max)))
            self.scores_[rows] = scores
            n_rm = self._n_remove(rows.shape[0])
            if n_rm > rows.shape[0] - 1:
                capped.append(k)
                n_rm = rows.shape[0] - 1
            if n_rm > 0:
                worst = np.argsort(-scores, kind="stable")[:n_rm]
                keep[rows[worst]] = False
            self.n_removed_[k] = n_rm
        if capped:
            warnings.warn(
                f"SpectralSignatures: n_remove={self.n_remove} with "
                f"epsilon_multiplier={self.epsilon_multiplier} would remove every "
                f"row of class(es) {classes[capped].tolist()}; one row of each was "
                "kept.", UserWarning,
            )
        return self._finish_on_kept(estimator, X, y, keep, fitted)

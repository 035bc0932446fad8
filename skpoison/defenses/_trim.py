"""TRIM / ILTM: iterative trimmed loss minimisation for any classifier."""

from numbers import Integral, Real

from ..utils._compat import HasMethods, Interval, _fit_context
from ..utils._proba import true_class_proba
from ._base import BaseDefense


class TRIM(BaseDefense):
    """TRIM / ILTM: train, drop the rows the model fits worst, retrain.

    Read more in the :ref:`User Guide <defenses>`.

    Iterative trimmed loss minimisation (Jagielski et al., S&P 2018; Shen and
    Sanghavi, ICML 2019), in the form the subpopulation paper runs against its
    attacks (Sec. 8 and its Algorithm 4): fit on all rows; score every row by the
    probability the model gives to its own label; keep all but the
    ``n_remove`` lowest; refit on the kept rows; repeat until the kept set no
    longer changes or ``max_iter`` rounds have run. The defender in the paper
    is told the exact number of poisons (``n_remove = n_poison``).

    Parameters
    ----------
    estimator : classifier with predict_proba
        Any classifier: scikit-learn models, pipelines, skorch nets.

    n_remove : int or float, default=0.1
        Rows removed each round: a count (int), or a fraction of the rows
        received (float in (0, 1)).

    max_iter : int, default=5
        Maximum number of trimming rounds (the paper's T = 5). When the kept
        set still changes after the last round, the model is refitted once more
        on it, so that ``estimator_`` is always trained on ``support_mask_``.

    warm_start : bool, default=True
        Warm-start later rounds from the previous round's model when
        ``estimator`` has a ``warm_start`` parameter (scikit-learn linear
        models, MLPs, skorch nets): each round then costs a fraction of a fit.
        Ensembles (random forests, bagging, gradient boosting) are never
        warm-started: their ``warm_start`` only adds members, so a warm refit
        with the same size would keep the previous round's model.

    random_state : int, RandomState instance or None, default=None
        Seeds ``estimator`` when it has an unset ``random_state``.

    Attributes
    ----------
    estimator_ : estimator
        The model trained on the kept rows.

    support_mask_ : ndarray of bool, shape (n_samples,)
        The rows ``estimator_`` was trained on.

    n_iter_ : int
        Trimming rounds run.

    converged_ : bool
        Whether the kept set stopped changing within ``max_iter`` rounds.

    classes_ : ndarray
        Class labels of ``estimator_``.

    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    skpoison.attacks.LabelFlip : An attack TRIM fails against (paper, Sec. 8).

    References
    ----------
    .. [1] M. Jagielski, A. Oprea, B. Biggio, C. Liu, C. Nita-Rotaru and B. Li,
       "Manipulating Machine Learning: Poisoning Attacks and Countermeasures
       for Regression Learning", IEEE S&P 2018. Reference code (TRIM,
       ``defense/defenses.py``): https://github.com/jagielski/manip-ml
    .. [2] Y. Shen and S. Sanghavi, "Learning with Bad Training Data via
       Iterative Trimmed Loss Minimization", ICML 2019.
    .. [3] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, Sec. 8.
       Reference code (the loop above, ``defense_training.py::trim``):
       https://github.com/jagielski/subpopulation-data-poisoning-attacks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.defenses import TRIM
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(-2, 1, (50, 2)), rng.normal(2, 1, (50, 2))])
    >>> y = np.array([0] * 50 + [1] * 50)
    >>> y[:3] = 1  # three planted wrong labels
    >>> trim = TRIM(LogisticRegression(), n_remove=3).fit(X, y)
    >>> np.flatnonzero(~trim.support_mask_)
    array([0, 1, 2])
    """

    _parameter_constraints = {
        **BaseDefense._parameter_constraints,
        # TRIM scores rows by predict_proba: an estimator without it (LinearSVC,
        # SVC(probability=False)) must fail at fit naming the parameter, not
        # with an AttributeError after the first round's fit.
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "n_remove": [Interval(Integral, 0, None, closed="left"),
                     Interval(Real, 0, 1, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
    }

    def __init__(self, estimator, *, n_remove=0.1, max_iter=5, warm_start=True,
                 random_state=None):
        self.estimator = estimator
        self.n_remove = n_remove
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit ``estimator`` with trimming.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, possibly poisoned.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : TRIM
        """
        X, y = self._validate_training_data(X, y)
        n_remove = self._resolve_n_remove(y.shape[0])
        estimator = self._make_estimator()
        self.n_iter_ = 0
        # the worst-fitted rows: the lowest probability of their own label
        keep, fitted_on, self.converged_ = self._score_and_trim(
            estimator, X, y, n_remove, lambda est: -true_class_proba(est, X, y))
        return self._finish(estimator, X, y, keep, fitted_on)

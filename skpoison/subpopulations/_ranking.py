"""Ranking subpopulations by an attacker model's confidence."""

import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..utils._labels import check_label_space, encode_labels
from ..utils._proba import true_class_proba


def rank_subpopulations(finder, estimator, X, y, *, cv=None):
    """Subpopulations ordered by a model's mean true-class probability.

    Read more in the :ref:`User Guide <finders>`.

    The paper's image experiments attack ClusterMatch clusters in increasing
    order of the attacker model's confidence on them (the authors' code): the
    confidence of a cluster is the mean probability the model assigns to the
    true class of the attacker's auxiliary rows in it. Low-confidence groups
    are the ones a small amount of poison can flip. For IMDB the authors took
    the 10 lowest, 10 median and 10 highest clusters of this order.

    Parameters
    ----------
    finder : fitted subpopulation finder
        :class:`ClusterMatch` or :class:`FeatureMatch`, fitted; its kept
        ``subpopulations_`` are ranked.
    estimator : fitted classifier with ``predict_proba``
        The attacker's model, trained on its auxiliary data (the paper averages
        5 such models; pass an ensemble to do the same).
    X : array-like of shape (n_samples, n_features)
        The attacker's rows, in the finder's and the model's input space.
    y : array-like of shape (n_samples,)
        Their labels.
    cv : int, cross-validation generator or None, default=None
        ``None``: ``estimator`` is already fitted and scores the rows as given
        (the paper's code scores the attacker's own training rows). Otherwise
        ``estimator`` is cloned and each row is scored by a model that did not
        see it (:func:`~sklearn.model_selection.cross_val_predict`), which
        avoids ties when the attacker's model fits its rows almost perfectly
        (a linear head on high-dimensional embeddings).

    Returns
    -------
    confidence : pandas.Series
        Mean true-class probability per subpopulation id, sorted ascending
        (least confident first), named ``"confidence"``. Subpopulations with
        no row in ``X`` are left out.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.subpopulations import ClusterMatch, rank_subpopulations
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, .1, 20), rng.normal(5, .1, 20),
    ...           rng.normal(10, .1, 20)].reshape(-1, 1)
    >>> y = np.r_[np.zeros(20, int), np.arange(20) % 2, np.ones(20, int)]
    >>> finder = ClusterMatch(n_clusters=3, random_state=0).fit(X)
    >>> model = LogisticRegression().fit(X, y)
    >>> confidence = rank_subpopulations(finder, model, X, y)
    >>> len(confidence)
    3
    >>> # the mixed-label middle group is the least confident
    >>> int(confidence.index[0]) == int(finder.predict([[5.0]])[0])
    True
    """
    check_is_fitted(finder, "subpopulations_")
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"estimator must have predict_proba to rank by confidence; "
            f"{type(estimator).__name__} does not."
        )
    y = column_or_1d(np.asarray(y))
    ids = np.asarray(finder.predict(X))
    if ids.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y have inconsistent numbers of rows: {ids.shape[0]} and "
            f"{y.shape[0]}."
        )
    if cv is None:
        # a label the model does not know would get confidence 0: refuse a
        # label space that cannot match, warn about a few unknown labels
        check_label_space(y, estimator.classes_, where="the estimator")
        proba = true_class_proba(estimator, X, y)
    else:
        from sklearn.model_selection import cross_val_predict

        scores = cross_val_predict(clone(estimator), X, y, cv=cv,
                                   method="predict_proba")
        classes = np.unique(y)  # cross_val_predict orders columns by class
        proba = scores[np.arange(len(y)), encode_labels(classes, y)]
    frame = pd.DataFrame({"id": ids, "p": proba})
    frame = frame[np.isin(frame["id"], finder.subpopulations_)]
    confidence = frame.groupby("id")["p"].mean().sort_values(kind="stable")
    confidence.name = "confidence"
    confidence.index.name = "subpopulation"
    return confidence


class ConfidenceOrder:
    """Subpopulation order for the audit: least attacker confidence first.

    Read more in the :ref:`User Guide <finders>`.

    The paper's image and text experiments attack clusters in increasing order
    of the confidence of a model the attacker trained on its auxiliary rows
    (the authors' code). Pass an instance as ``subpopulation_order`` of
    :class:`~skpoison.audit.SubpopulationAudit`; it is called with each fitted
    finder and the auxiliary rows, fits a clone of ``estimator`` on them once
    per content of the rows (not per object: equal rows share the fit, other
    rows in the same object do not) and ranks the finder's subpopulations with
    :func:`rank_subpopulations`.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The attacker's model (cloned; never fitted in place).

    Attributes
    ----------
    model_ : classifier
        The last fitted clone of ``estimator``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.subpopulations import ConfidenceOrder
    >>> order = ConfidenceOrder(LogisticRegression())
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def __call__(self, name, finder, X_aux, y_aux):
        from joblib import hash as content_hash

        key = content_hash((X_aux, y_aux))
        if getattr(self, "_fitted_for", None) != key:
            self.model_ = clone(self.estimator).fit(X_aux, y_aux)
            self._fitted_for = key
        return rank_subpopulations(finder, self.model_, X_aux, y_aux).index.tolist()


class by_confidence(ConfidenceOrder):  # noqa: N801 (the old public name)
    """Deprecated alias of :class:`ConfidenceOrder`; removed in skpoison 0.2.

    Read more in the :ref:`User Guide <finders>`.
    """

    def __init__(self, estimator):
        warnings.warn("by_confidence is deprecated and will be removed in "
                      "skpoison 0.2; use ConfidenceOrder.", FutureWarning,
                      stacklevel=2)
        super().__init__(estimator)


class SusceptibilityOrder:
    """Subpopulation order for the audit: the groups cheapest to attack first.

    Read more in the :ref:`User Guide <audit>`.

    Before any attack, every kept group of a fitted finder is scored with
    :func:`skpoison.attacks.susceptibility` on the attacker's rows: the
    target model of the model-targeted attack and the lower bound of Suya et
    al. (ICML 2021, Theorem 2) on the poisons any attack needs to induce it,
    about one or two fits per group. The groups are ordered by ``by``,
    smallest first (groups where no target model reaches the goal last);
    Rose, Suya and Evans (2023) found the clean-loss difference
    (``"loss_difference"``) the best predictor of the poisons an attack
    needs. Pass an instance as ``subpopulation_order`` of
    :class:`~skpoison.audit.SubpopulationAudit`; with ``max_subpopulations``
    the top ones are attacked.

    Parameters
    ----------
    estimator : classifier or Pipeline
        The victim, as in :class:`~skpoison.attacks.ModelTargetedPoison` (a
        linear classifier, binary task).
    target_error : float in (0, 1), default=0.5
        The attack goal of the target model.
    by : {"lower_bound", "loss_difference"}, default="lower_bound"
        The score to order by.
    random_state : int or None, default=None
        Seeds the victim, when unseeded.

    Attributes
    ----------
    scores_ : dict of str to DataFrame
        Per finder name, the scores of its groups (see
        :func:`~skpoison.attacks.susceptibility`), in the order returned.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.subpopulations import FeatureMatch, SusceptibilityOrder
    >>> rng = np.random.RandomState(0)
    >>> group = rng.randint(3, size=300)
    >>> X = np.column_stack([group, rng.normal(size=300)])
    >>> y = (X[:, 1] + 0.5 * group > 0.5).astype(int)
    >>> order = SusceptibilityOrder(LogisticRegression())
    >>> ids = order("groups", FeatureMatch([0]).fit(X), X, y)
    >>> sorted(ids)
    [0, 1, 2]
    """

    def __init__(self, estimator, *, target_error=0.5, by="lower_bound",
                 random_state=None):
        self.estimator = estimator
        self.target_error = target_error
        self.by = by
        self.random_state = random_state

    def __call__(self, name, finder, X_aux, y_aux):
        from sklearn.frozen import FrozenEstimator

        from ..attacks import susceptibility

        if self.by not in ("lower_bound", "loss_difference"):
            raise ValueError("by must be 'lower_bound' or 'loss_difference'; got "
                             f"{self.by!r}.")
        scores = susceptibility(FrozenEstimator(finder), self.estimator, X_aux, y_aux,
                                target_error=self.target_error,
                                random_state=self.random_state)
        scores = scores.sort_values(self.by, kind="stable", na_position="last")
        self.scores_ = {**getattr(self, "scores_", {}), name: scores}
        return scores["subpopulation"].tolist()

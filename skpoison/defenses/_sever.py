"""SEVER: filter rows whose loss gradients stand out along the top direction."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ..utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils._proba import true_class_proba
from ._base import BaseDefense
from ._per_sample_gradients import head_inputs, per_sample_gradients
from ._spectral import projection_scores


def svd_scores(G, groups=None, random_state=None):
    """SEVER outlier scores: squared projection on the top singular vector.

    For each group (class) separately when ``groups`` is given: centre the
    rows of ``G`` on the group's mean, take the top right singular vector
    ``v`` of the centred matrix and score each row by
    ``((g_i - mean) . v) ** 2``. Groups of fewer than two rows score 0.

    Parameters
    ----------
    G : ndarray of shape (n_samples, n_parameters)
    groups : array-like of shape (n_samples,) or None
    random_state : int, RandomState instance or None
        Seeds the randomized SVD of large groups.

    Returns
    -------
    scores : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.defenses._sever import svd_scores
    >>> G = np.array([[0.0, 0.1], [0.0, -0.1], [0.1, 0.0], [3.0, 0.0]])
    >>> int(np.argmax(svd_scores(G)))
    3
    """
    rng = check_random_state(random_state)
    G = np.asarray(G, dtype=np.float64)
    scores = np.zeros(G.shape[0])
    if groups is None:
        groups = np.zeros(G.shape[0], dtype=int)
    groups = np.asarray(groups)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        scores[rows] = projection_scores(G[rows], rng)
    return scores


def norm_scores(estimator, X, y):
    """The authors' proxy: ``(p_i (1 - p_i) ||h_i||) ** 2``.

    ``p_i`` is the probability the model gives to row i's own label and
    ``h_i`` the representation feeding the model's last linear layer (the
    input for linear models and models without one). A cheap stand-in for
    the norm of the last-layer gradient, from the SEVER authors' code.

    Parameters
    ----------
    estimator : fitted classifier with predict_proba
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)

    Returns
    -------
    scores : ndarray of shape (n_samples,)
    """
    p = true_class_proba(estimator, X, y)
    H = head_inputs(estimator, X)
    norm = 1.0 if H is None else np.linalg.norm(H, axis=1)
    return (p * (1.0 - p) * norm) ** 2


class SEVER(BaseDefense):
    """SEVER: drop the rows whose loss gradients are outliers, refit.

    Read more in the :ref:`User Guide <defenses>`.

    Diakonikolas et al. (ICML 2019), as a meta-estimator around any
    classifier (the paper's Sec. 8, Table 10). Two scoring methods:

    * ``method="svd"`` (the canonical filter): fit on the active rows; take
      every active row's gradient of its own loss w.r.t. the model
      parameters (see ``layer``); per class (``per_class=True``, as
      ``filterByClass`` in Diakonikolas et al.'s code) centre the gradients,
      find the top
      right singular vector ``v`` and score each row by
      ``((g_i - mean) . v) ** 2``; remove the highest-scoring active rows;
      refit; repeat. ``n_remove`` is spread over ``max_iter`` rounds (the
      first ``n_remove % max_iter`` rounds remove one more), so that after
      the last round exactly ``n_remove`` rows are gone, and the model is
      refitted on what is left. Removed rows are not scored again.
    * ``method="norm"`` (the proxy the subpopulation paper's authors ran,
      ``defense_training.py::sever``): fit; score every row by
      ``(p_i (1 - p_i) ||h_i||) ** 2`` with ``p_i`` the probability of its own
      label and ``h_i`` the input of the last linear layer; keep all but
      the ``n_remove`` highest; refit; repeat until the kept set no longer
      changes or ``max_iter`` rounds have run (TRIM's loop with another
      score). No SVD, no centring; ``per_class`` has no effect. Note that
      ``p (1 - p)`` is largest for uncertain rows near the boundary and
      near 0 for confidently mislabelled ones, so this proxy does not
      remove label-flipped outliers that the canonical filter finds.

    Gradients (:func:`~skpoison.defenses.per_sample_gradients`)
    are exact: closed form for ``LogisticRegression`` and
    ``SGDClassifier(loss="log_loss")`` (binary and multiclass), torch
    autograd (``torch.func.vmap`` of ``grad``, batched) for skorch nets, in
    closed form for their ``Linear`` head. Other classifiers with
    ``predict_proba`` (trees, ensembles, scikit-learn's MLP) have no
    parameters to differentiate: their stand-in is the gradient w.r.t. the
    logits, ``p_i - onehot(y_i)``. Pipelines are unwrapped (rows go through
    the fitted steps before the last).

    Parameters
    ----------
    estimator : classifier with predict_proba
        Any classifier: scikit-learn models, pipelines, skorch nets.

    n_remove : int or float, default=0.1
        Total rows removed: a count (int), or a fraction of the rows
        received (float in (0, 1)). The paper gives the defense the exact
        number of poisons.

    max_iter : int, default=5
        Rounds (the paper's T = 5). ``"svd"``: each round removes its share
        of ``n_remove``; ``"norm"``: at most this many refits of the
        trimming loop.

    method : {"svd", "norm"}, default="svd"
        Canonical SVD filter or the authors' gradient-norm proxy.

    per_class : bool, default=True
        ``"svd"`` only: centre and find the top direction within each class
        (``svm/filterByClass.m`` of Diakonikolas et al.'s code), then rank all
        active rows together by score. ``False`` centres all rows together.

    layer : str, default="last"
        Parameters differentiated for skorch nets: ``"last"`` (the ``Linear``
        head, cheap and in closed form), ``"all"``, or a submodule name.
        Linear scikit-learn models always use all their parameters.

    warm_start : bool, default=True
        Warm-start later rounds from the previous round's model when
        ``estimator`` has a ``warm_start`` parameter (never for ensembles,
        whose warm start only adds members), as in :class:`TRIM`.

    random_state : int, RandomState instance or None, default=None
        Seeds ``estimator`` when it has an unset ``random_state``, and the
        randomized SVD used for gradient matrices with more than 1000 rows
        and columns (smaller ones use an exact eigendecomposition of the
        smaller Gram matrix).

    Attributes
    ----------
    estimator_ : estimator
        The model trained on the kept rows.

    support_mask_ : ndarray of bool, shape (n_samples,)
        The rows ``estimator_`` was trained on.

    n_iter_ : int
        Rounds run (fit then score).

    scores_ : ndarray of shape (n_samples,)
        Scores of the last round; ``nan`` for rows removed before it
        (``"svd"``).

    classes_ : ndarray
        Class labels of ``estimator_``.

    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    TRIM : Removes the rows with the lowest probability of their label.

    Notes
    -----
    Diakonikolas et al.'s filter (``svm/filterByClass.m`` of their code,
    see References) removes a fraction ``p`` of *each class* per round;
    here the budget ``n_remove`` is global (so that the defender can be told
    the exact number of poisons, as in the paper) and rows of all classes
    compete on their raw scores, which share units. If a removal would
    leave a class without rows, SEVER stops with a warning and keeps the
    previous set, as :class:`TRIM` does. As in Diakonikolas et al.'s
    ``filters/filterSimple.m``, rows whose score is 0 are never removed.

    References
    ----------
    .. [1] I. Diakonikolas, G. Kamath, D. Kane, J. Li, J. Steinhardt and
       A. Stewart, "Sever: A Robust Meta-Algorithm for Stochastic
       Optimization", ICML 2019. Reference code (``method="svd"``:
       ``filters/filterSimple.m``, ``svm/filterByClass.m``):
       https://github.com/hoonose/sever
    .. [2] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, Sec. 8, Table 10.
       Reference code (``method="norm"``, ``defense_training.py::sever``):
       https://github.com/jagielski/subpopulation-data-poisoning-attacks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.defenses import SEVER
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(-2, 1, (50, 2)), rng.normal(2, 1, (50, 2)),
    ...                rng.normal(6, 0.2, (3, 2))])
    >>> y = np.array([0] * 50 + [1] * 50 + [0] * 3)  # three planted outliers
    >>> sever = SEVER(LogisticRegression(), n_remove=3, max_iter=3).fit(X, y)
    >>> np.flatnonzero(~sever.support_mask_)
    array([100, 101, 102])
    """

    _parameter_constraints = {  # noqa: RUF012 (scikit-learn's convention)
        **BaseDefense._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "n_remove": [Interval(Integral, 0, None, closed="left"),
                     Interval(Real, 0, 1, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions({"svd", "norm"})],
        "per_class": ["boolean"],
        "layer": [str],
        "warm_start": ["boolean"],
    }

    def __init__(self, estimator, *, n_remove=0.1, max_iter=5, method="svd",
                 per_class=True, layer="last", warm_start=True, random_state=None):
        self.estimator = estimator
        self.n_remove = n_remove
        self.max_iter = max_iter
        self.method = method
        self.per_class = per_class
        self.layer = layer
        self.warm_start = warm_start
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit ``estimator`` with SEVER filtering.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, possibly poisoned.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : SEVER
        """
        X, y = self._validate_training_data(X, y)
        n_samples = y.shape[0]
        n_remove = self._resolve_n_remove(n_samples)
        rng = check_random_state(self.random_state)
        svd_seed = rng.randint(np.iinfo(np.int32).max)
        estimator = self._make_estimator()
        self.n_iter_ = 0
        if self.method == "svd":
            keep, fitted_on = self._fit_svd(estimator, X, y, n_remove, svd_seed)
        else:
            def score(est):
                self.scores_ = norm_scores(est, X, y)
                return self.scores_

            keep, fitted_on, _ = self._score_and_trim(estimator, X, y, n_remove,
                                                      score)
        return self._finish(estimator, X, y, keep, fitted_on)

    def _fit_svd(self, estimator, X, y, n_remove, svd_seed):
        n_samples = y.shape[0]
        can_warm = self._can_warm_start(estimator)
        base, extra = divmod(n_remove, self.max_iter)
        n_classes = np.unique(y).shape[0]
        keep = np.ones(n_samples, dtype=bool)
        for t in range(self.max_iter):
            quota = base + (t < extra)
            fitted_on, X_active = self._fit_round(estimator, X, y, keep, can_warm)
            active = np.flatnonzero(keep)
            G = per_sample_gradients(estimator, X_active, y[active], layer=self.layer)
            groups = y[active] if self.per_class else None
            scores = svd_scores(G, groups, random_state=svd_seed + t)
            self.scores_ = np.full(n_samples, np.nan)
            self.scores_[active] = scores
            if quota == 0:
                break
            order = np.argsort(-scores, kind="stable")[:quota]
            order = order[scores[order] > 0]
            if order.shape[0] == 0:
                break
            new_keep = keep.copy()
            new_keep[active[order]] = False
            if self._wipes_a_class(y, new_keep, n_remove, n_classes):
                break
            keep = new_keep
        return keep, fitted_on

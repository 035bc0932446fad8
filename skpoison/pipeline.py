"""Composition: pipelines that run attacks at fit time only.

``Pipeline`` and ``make_pipeline`` are imbalanced-learn's (samplers run in
``fit`` and are skipped in ``predict``), with one guard added: a subpopulation
finder placed as its own step before an attack is an error. Such a pipeline
would replace the features by the finder's indicators and poison nothing
useful, a silent no-op that makes any defense look robust; the finder belongs
inside the attack, as its first parameter.

``PoisonedEstimator(attack, estimator)`` makes the same composition available
inside scikit-learn's own :class:`sklearn.pipeline.Pipeline`, which does not
accept samplers as steps.
"""

from imblearn import pipeline as _imb_pipeline
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.frozen import FrozenEstimator

from .attacks import is_attack
from .subpopulations import BaseSubpopulationFinder
from .utils._compat import HasMethods, _fit_context, _name_estimators
from .utils._delegation import DelegatingClassifierMixin

__all__ = ["Pipeline", "make_pipeline", "PoisonedEstimator"]


def _is_finder(estimator):
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    return isinstance(estimator, BaseSubpopulationFinder)


def _check_no_detached_finder(steps):
    finder_steps = []
    for name, est in steps:
        if _is_finder(est):
            finder_steps.append(name)
        elif is_attack(est) and finder_steps:
            raise ValueError(
                f"Pipeline step {finder_steps[0]!r} is a subpopulation finder placed "
                f"as its own step before the attack {name!r}. A pipeline cannot pass "
                "a step's subpopulation to a later step, so the attack would run on "
                "the finder's indicator features and poison nothing meaningful. "
                f"Pass the finder as the attack's first parameter instead, e.g. "
                f"{type(est).__name__}(ClusterMatch(...), alpha=...)."
            )


class Pipeline(_imb_pipeline.Pipeline):
    """imbalanced-learn's pipeline, guarded against detached finders.

    Read more in the :ref:`User Guide <composition>`.

    Attacks (samplers) run in ``fit`` only; ``predict`` and ``score`` skip
    them. Parameters and behaviour are those of
    :class:`imblearn.pipeline.Pipeline`. The one addition: a subpopulation
    finder given as its own step before an attack raises a ``ValueError``,
    since it would otherwise run without error and poison nothing.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        Transformers, attacks and a final estimator.
    memory : str or object with the joblib.Memory interface, default=None
        Caches fitted transformers.
    transform_input : list of str, default=None
        Metadata to transform through the steps (scikit-learn's option).
    verbose : bool, default=False
        Print the time of each step.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.attacks import LabelFlip
    >>> from skpoison.pipeline import Pipeline
    >>> from skpoison.subpopulations import ClusterMatch
    >>> pipe = Pipeline([("attack", LabelFlip(ClusterMatch(n_clusters=5))),
    ...                  ("victim", LogisticRegression())])
    >>> bad = Pipeline([("finder", ClusterMatch(n_clusters=5)),
    ...                 ("attack", LabelFlip(ClusterMatch(n_clusters=5))),
    ...                 ("victim", LogisticRegression())])
    >>> bad.fit([[0.0], [1.0]], [0, 1])
    Traceback (most recent call last):
    ...
    ValueError: Pipeline step 'finder' is a subpopulation finder placed as its own step...
    """

    def _validate_steps(self):
        super()._validate_steps()
        _check_no_detached_finder(self.steps)


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Construct a :class:`Pipeline` from the given estimators, naming them.

    Read more in the :ref:`User Guide <composition>`.

    Parameters
    ----------
    *steps : list of estimators
        Transformers, samplers (attacks) and a final estimator.
    memory, transform_input, verbose
        As in :func:`imblearn.pipeline.make_pipeline`.

    Returns
    -------
    p : Pipeline

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.attacks import LabelFlip
    >>> from skpoison.pipeline import make_pipeline
    >>> from skpoison.subpopulations import ClusterMatch
    >>> make_pipeline(LabelFlip(ClusterMatch(n_clusters=5)), LogisticRegression())
    Pipeline(steps=[('labelflip', LabelFlip(subpopulation=ClusterMatch(n_clusters=5))),
                    ('logisticregression', LogisticRegression())])
    """
    return Pipeline(_name_estimators(steps), memory=memory,
                    transform_input=transform_input, verbose=verbose)


class PoisonedEstimator(DelegatingClassifierMixin, MetaEstimatorMixin, ClassifierMixin,
                        BaseEstimator):
    """Fit ``estimator`` on data poisoned by ``attack``; predict as it does.

    Read more in the :ref:`User Guide <composition>`.

    For scikit-learn's :class:`~sklearn.pipeline.Pipeline`, which does not
    accept samplers as intermediate steps: ``fit`` runs
    ``attack.fit_resample`` on the training rows and fits ``estimator`` on the
    result; prediction methods delegate to the fitted ``estimator_`` and never
    touch the attack.

    Parameters
    ----------
    attack : attack (sampler)
        For example :class:`~skpoison.attacks.LabelFlip`.
    estimator : classifier
        The victim, or a defense wrapping it.

    Attributes
    ----------
    attack_ : attack
        The fitted attack (``poison_mask_``, ``subpopulation_``, ...).
    estimator_ : estimator
        The victim fitted on the poisoned data.
    classes_ : ndarray
        Class labels of ``estimator_``.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skpoison.attacks import LabelFlip
    >>> from skpoison.pipeline import PoisonedEstimator
    >>> from skpoison.subpopulations import ClusterMatch
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(3, 0.1, (10, 2))])
    >>> y = np.array([0] * 20 + [1] * 10)
    >>> attack = LabelFlip(ClusterMatch(n_clusters=2, target="smallest"), alpha=2,
    ...                    random_state=0)
    >>> model = make_pipeline(StandardScaler(),
    ...                       PoisonedEstimator(attack, KNeighborsClassifier(21)))
    >>> model.fit(X, y).predict(X[-3:])
    array([0, 0, 0])
    """

    _parameter_constraints = {
        "attack": [HasMethods(["fit_resample"])],
        "estimator": [HasMethods(["fit", "predict"])],
    }

    def __init__(self, attack, estimator):
        self.attack = attack
        self.estimator = estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # It poisons its own training data on purpose: a low score is the point.
        tags.classifier_tags.poor_score = True
        return tags

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Poison ``(X, y)`` with ``attack`` and fit ``estimator`` on the result.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : PoisonedEstimator
        """
        self.attack_ = clone(self.attack)
        X_res, y_res = self.attack_.fit_resample(X, y)
        self.n_features_in_ = self.attack_.n_features_in_
        if hasattr(self.attack_, "feature_names_in_"):
            self.feature_names_in_ = self.attack_.feature_names_in_
        self.estimator_ = clone(self.estimator).fit(X_res, y_res)
        return self

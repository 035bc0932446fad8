"""Composition: pipelines that run attacks at fit time only.

``Pipeline`` and ``make_pipeline`` are imbalanced-learn's (samplers run in
``fit`` and are skipped in ``predict``), with two additions for subpopulation
attacks:

* **a finder step binds to the attack after it.** No pipeline passes one
  step's membership to a later step, so ``Pipeline([ClusterMatch(),
  LabelFlip(alpha=1), victim])`` would otherwise hand the attack the finder's
  indicator features. Here a finder step right before an attack that has no
  finder of its own becomes that attack's finder, and the finder step passes
  rows through unchanged at fit and at predict time. A finder step before an
  attack with its own finder is ambiguous, and one that is not right before
  its attack would see other rows than the attack: both are errors.
* **the attacker's rows take the steps before the attack.** An attack's
  ``aux=(X_aux, y_aux)`` is in the pipeline's input space; the attack sees
  the rows after the steps before it. Its finder is fitted and its poisons
  drawn on ``X_aux`` transformed by those fitted steps, as the training rows
  were.

Both are fit-time arrangements on a clone of the attack: the attack given in
``steps`` keeps its parameters, so ``clone``, ``get_params``/``set_params``
and grid searches over ``clustermatch__n_clusters`` reach the finder step the
attack actually uses.

``PoisonedEstimator(attack, estimator)`` makes the same composition available
inside scikit-learn's own :class:`sklearn.pipeline.Pipeline`, which does not
accept samplers as steps.
"""

from imblearn import pipeline as _imb_pipeline
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_memory

from .attacks import is_attack
from .subpopulations import BaseSubpopulationFinder
from .utils._compat import (
    HasMethods,
    _fit_context,
    _fit_resample_one,
    _fit_transform_one,
    _name_estimators,
    _print_elapsed_time,
)
from .utils._delegation import DelegatingClassifierMixin
from .utils._pipeline import is_pipeline, skipped_step, transforming_steps

__all__ = ["Pipeline", "make_pipeline", "PoisonedEstimator"]


def _is_finder(estimator):
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    return isinstance(estimator, BaseSubpopulationFinder)


def _is_pair(step):
    return (isinstance(step, (tuple, list)) and len(step) == 2
            and isinstance(step[0], str))


def _named_steps(steps):
    """``steps`` with bare estimators named as ``make_pipeline`` names them.

    A list of ``(name, estimator)`` pairs comes back as the same object (so
    that ``clone`` finds the parameter it passed); anything else that is not
    a list or tuple is left for the pipeline's validation to refuse.
    """
    if not isinstance(steps, (list, tuple)) or all(_is_pair(s) for s in steps):
        return steps
    names = iter(_name_estimators([s for s in steps if not _is_pair(s)]))
    return [tuple(s) if _is_pair(s) else next(names) for s in steps]


def _own_finder(attack):
    return attack.get_params(deep=False).get("subpopulation")


def _active(step):
    return step is not None and not (isinstance(step, str) and step == "passthrough")


def _finder_bindings(steps, *, strict=True):
    """``{finder step index: attack step index}`` for the bound finder steps.

    A finder step binds to the next active step when it is an attack without
    a finder of its own. A finder step right before a ``"passthrough"`` or
    ``None`` step, then other steps but no attack, is the finder of a
    disabled attack: it passes rows through too (its value is ``None``). Any other
    finder step with no attack after it is an ordinary transformer (its
    membership indicators). With ``strict``, a finder step
    before an attack with its own finder, or not right before the attack, or
    before a :class:`PoisonedEstimator` (which binds nothing), raises a
    ValueError; otherwise such steps are left unbound.
    """
    bindings = {}
    for i, (name, step) in enumerate(steps):
        if not _is_finder(step):
            continue
        later = [(j, n, s) for j, (n, s) in enumerate(steps) if j > i and _active(s)]
        attacks = [(j, n, s) for j, n, s in later
                   if is_attack(s) or isinstance(s, PoisonedEstimator)]
        if not attacks:
            if later and not _active(steps[i + 1][1]):
                # the finder of an attack set to "passthrough" (the clean
                # baseline of a grid): rows pass through to the victim
                bindings[i] = None
            continue
        if isinstance(attacks[0][2], PoisonedEstimator):
            if strict:
                raise ValueError(
                    f"Pipeline step {name!r} is a subpopulation finder before "
                    f"{attacks[0][1]!r}, a PoisonedEstimator, which does not bind "
                    "a finder step: its attack would receive the finder's "
                    "membership indicators as features. Give the attack its "
                    "finder, PoisonedEstimator(LabelFlip(ClusterMatch(...)), "
                    "estimator), and remove the step, or use no PoisonedEstimator: "
                    "make_pipeline(ClusterMatch(...), LabelFlip(...), estimator)."
                )
            continue
        j, attack_name, attack = later[0]
        if not is_attack(attack):
            if strict:
                first = attacks[0]
                kind = type(first[2]).__name__
                if _is_finder(attack):
                    raise ValueError(
                        f"Pipeline steps {name!r} and {attack_name!r} are both "
                        "subpopulation finders before the attack "
                        f"{first[1]!r}: an attack takes one finder, the step "
                        "right before it. Remove one of the two finder steps."
                    )
                if _own_finder(first[2]) is not None:
                    advice = (f"the attack has a finder of its own, so remove step "
                              f"{name!r}")
                else:
                    advice = ("put it right before the attack, or pass it as the "
                              f"attack's first parameter, e.g. {kind}(ClusterMatch"
                              "(...), ...), and remove the step")
                raise ValueError(
                    f"Pipeline step {name!r} is a subpopulation finder, but the "
                    f"attack {first[1]!r} does not come right after it (step "
                    f"{attack_name!r} is between them). A finder step defines the "
                    "target of the attack that directly follows it, on the rows "
                    f"that attack receives: {advice}."
                )
            continue
        own = attack.get_params(deep=False)
        if "subpopulation" not in own:
            if strict:
                raise ValueError(
                    f"Pipeline step {name!r} is a subpopulation finder before the "
                    f"attack {attack_name!r}, but {type(attack).__name__} takes no "
                    "finder (no subpopulation parameter); remove the finder step."
                )
            continue
        if own["subpopulation"] is not None:
            if strict:
                raise ValueError(
                    f"Pipeline step {name!r} is a subpopulation finder placed before "
                    f"the attack {attack_name!r}, which has a finder of its own "
                    f"(subpopulation={type(own['subpopulation']).__name__}(...)): "
                    "ambiguous. Keep one of them: remove the finder step, or give "
                    f"the attack subpopulation=None, e.g. make_pipeline("
                    f"ClusterMatch(...), {type(attack).__name__}(...), victim)."
                )
            continue
        bindings[i] = j
    return bindings


class Pipeline(_imb_pipeline.Pipeline):
    """imbalanced-learn's pipeline, binding finder steps to attacks.

    Read more in the :ref:`User Guide <composition>`.

    Attacks (samplers) run in ``fit`` only; ``predict`` and ``score`` skip
    them. Parameters and behaviour are those of
    :class:`imblearn.pipeline.Pipeline`, with these additions:

    * ``steps`` may hold bare estimators beside ``(name, estimator)`` pairs;
      bare ones are named as :func:`make_pipeline` names them (the class name
      in lower case, numbered when repeated).
    * A subpopulation finder step right before an attack whose
      ``subpopulation`` is ``None`` becomes that attack's finder: at ``fit``
      the attack (a clone of the step; the step's parameters never change)
      clones, seeds and fits it as it would its own, and the finder step
      passes rows through unchanged, at ``fit`` and at ``predict`` time.
      Grid searches reach the finder by its step name
      (``clustermatch__n_clusters``). With the attack set to
      ``"passthrough"`` (the clean baseline, ``{"labelflip": ["passthrough",
      LabelFlip()]}``), the finder step right before it still passes rows
      through: the victim sees the rows as received. A finder step before an attack that has
      its own finder, or with another step between it and the attack, is a
      ``ValueError``.
    * An attack's ``aux=(X_aux, y_aux)`` is given in the pipeline's input
      space: ``X_aux`` is transformed by the fitted steps before the attack,
      as the training rows were, before the attack uses it.

    Parameters
    ----------
    steps : list of estimators or of (str, estimator) tuples
        Transformers, finders, attacks and a final estimator.
    transform_input : list of str, default=None
        Metadata to transform through the steps (scikit-learn's option).
    memory : str or object with the joblib.Memory interface, default=None
        Caches fitted transformers.
    verbose : bool, default=False
        Print the time of each step.

    Attributes
    ----------
    named_steps : Bunch
        The steps by name. After ``fit``, an attack bound to a finder step, or
        given ``aux`` after other steps, is the fitted clone (its
        ``subpopulation_`` is the fitted finder); a bound finder step stays as
        given, unfitted.

    See Also
    --------
    make_pipeline : The same, naming every step.
    PoisonedEstimator : An attack and a victim for scikit-learn's Pipeline.

    Examples
    --------
    The finder as a step of its own, right before the attack:

    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skpoison.attacks import LabelFlip
    >>> from skpoison.pipeline import Pipeline
    >>> from skpoison.subpopulations import ClusterMatch
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(3, 0.1, (10, 2))])
    >>> y = np.array([0] * 20 + [1] * 10)
    >>> pipe = Pipeline([ClusterMatch(n_clusters=2, target="smallest"),
    ...                  LabelFlip(alpha=2, random_state=0),
    ...                  KNeighborsClassifier(21)])
    >>> [name for name, _ in pipe.steps]
    ['clustermatch', 'labelflip', 'kneighborsclassifier']
    >>> pipe.fit(X, y).predict(X[-3:])
    array([0, 0, 0])
    >>> int(pipe.named_steps["labelflip"].n_poison_)
    20

    A finder in both places is ambiguous:

    >>> bad = Pipeline([ClusterMatch(n_clusters=2),
    ...                 LabelFlip(ClusterMatch(n_clusters=2)),
    ...                 KNeighborsClassifier()])
    >>> bad.fit(X, y)
    Traceback (most recent call last):
    ...
    ValueError: Pipeline step 'clustermatch' is a subpopulation finder placed before...
    """

    def __init__(self, steps, *, transform_input=None, memory=None, verbose=False):
        super().__init__(steps, transform_input=transform_input, memory=memory,
                         verbose=verbose)

    # ``steps`` is named on assignment (in __init__, set_params and fit), so
    # that bare estimators have names everywhere the pipeline reads them
    @property
    def steps(self):
        """The steps, as ``(name, estimator)`` pairs."""
        return self._steps

    @steps.setter
    def steps(self, steps):
        self._steps = _named_steps(steps)

    def __setstate__(self, state):
        if "steps" in state:  # pickled before steps were named on assignment
            state = {**state, "_steps": state["steps"]}
            del state["steps"]
        super().__setstate__(state)

    def set_params(self, **params):
        """Set the parameters of the pipeline and of its steps.

        As :meth:`imblearn.pipeline.Pipeline.set_params`; a parameter of a
        bound attack's own finder (``labelflip__subpopulation__target``) is a
        ValueError naming the finder step's parameter to set instead
        (``clustermatch__target``).

        Parameters
        ----------
        **params : dict
            Parameters, ``<step>__<parameter>`` for the steps'.

        Returns
        -------
        self : Pipeline
        """
        if "steps" not in params:
            for f, a in _finder_bindings(self.steps, strict=False).items():
                if a is None:
                    continue
                finder, attack = self.steps[f][0], self.steps[a][0]
                prefix = f"{attack}__subpopulation__"
                nested = sorted(k for k in params if k.startswith(prefix))
                if nested and not {attack, f"{attack}__subpopulation"} & set(params):
                    raise ValueError(
                        f"Invalid parameter {nested[0]!r}: the attack {attack!r} "
                        "has no finder of its own (subpopulation=None); its finder "
                        f"is the step {finder!r} right before it. Set "
                        f"{finder}__{nested[0][len(prefix):]} instead."
                    )
        return super().set_params(**params)

    def _validate_steps(self):
        super()._validate_steps()
        _finder_bindings(self.steps)

    def _passthrough_steps(self):
        """Indices of the finder steps bound to the attack after them: they
        pass rows through unchanged (read by ``skpoison.utils._pipeline``)."""
        try:
            return set(_finder_bindings(self.steps, strict=False))
        except (TypeError, ValueError, AttributeError):  # steps not validated yet
            return set()

    def _iter(self, with_final=True, filter_passthrough=True, filter_resample=True):
        bound = self._passthrough_steps()
        for idx, name, step in super()._iter(with_final, filter_passthrough,
                                             filter_resample):
            if idx not in bound:
                yield idx, name, step
            elif not filter_passthrough:
                yield idx, name, "passthrough"

    def _first_active_step(self):
        bound = self._passthrough_steps()
        for idx, (_, step) in enumerate(self.steps):
            if idx not in bound and _active(step):
                return step
        raise AttributeError("the pipeline has no step that has seen data")

    @property
    def n_features_in_(self):
        """Number of features seen in ``fit`` by the first step that sees rows."""
        return self._first_active_step().n_features_in_

    @property
    def feature_names_in_(self):
        """Names of the features seen by the first step that sees rows."""
        return self._first_active_step().feature_names_in_

    def _attack_for_fit(self, idx, attack):
        """The attack to fit at step ``idx``: a clone bound to the finder step
        before it and given ``aux`` transformed by the fitted steps before it,
        or ``attack`` itself when neither applies."""
        if not is_attack(attack):
            return attack
        finders = _finder_bindings(self.steps)
        bindings = {a: f for f, a in finders.items() if a is not None}
        before = [s for k, (_, s) in enumerate(self.steps[:idx])
                  if not skipped_step(s) and k not in finders]
        aux = getattr(attack, "aux", None)
        transform_aux = (before and isinstance(aux, tuple) and len(aux) == 2
                         and aux[0] is not None)
        if idx not in bindings and not transform_aux:
            return attack
        attack = clone(attack)
        if idx in bindings:
            # for this fit only: the attack drops them once fitted
            attack._bound_finder_step, attack._bound_finder = self.steps[bindings[idx]]
        if transform_aux:
            X_aux, y_aux = aux
            for step in before:
                X_aux = step.transform(X_aux)
            attack._pipeline_aux = (X_aux, y_aux)
        return attack

    def _fit(self, X, y=None, routed_params=None, raw_params=None):
        # imbalanced-learn's loop, with attacks prepared by _attack_for_fit
        # once the steps before them are fitted
        self.steps = list(self.steps)
        self._validate_steps()
        memory = check_memory(self.memory)
        fit_transform_one_cached = memory.cache(_fit_transform_one)
        fit_resample_one_cached = memory.cache(_fit_resample_one)
        finders = _finder_bindings(self.steps)
        for step_idx, name, transformer in self._iter(
            with_final=False, filter_passthrough=False, filter_resample=False
        ):
            if step_idx in finders:  # a bound finder step is fitted by its attack
                given = sorted({key for method in (routed_params or {}).get(
                    name, {}).values() for key in method})
                if given:
                    raise ValueError(
                        f"Fit parameters {given} were given to step {name!r}, a "
                        "finder bound to the attack after it: the attack fits it "
                        "on the attacker's rows, with no fit parameters. Remove "
                        f"them; the finder's own parameters are set as "
                        f"{name}__<parameter> with set_params."
                    )
            if transformer is None or transformer == "passthrough":
                with _print_elapsed_time("Pipeline", self._log_message(step_idx)):
                    continue
            if hasattr(memory, "location") and memory.location is None:
                cloned = transformer  # no cache: fitted in place, as imblearn
            else:
                cloned = clone(transformer)
            step_params = self._get_metadata_for_step(
                step_idx=step_idx, step_params=routed_params[name],
                all_params=raw_params)
            if hasattr(cloned, "transform") or hasattr(cloned, "fit_transform"):
                X, fitted = fit_transform_one_cached(
                    cloned, X, y, weight=None, message_clsname="Pipeline",
                    message=self._log_message(step_idx), params=step_params)
            else:
                X, y, fitted = fit_resample_one_cached(
                    self._attack_for_fit(step_idx, cloned), X, y,
                    message_clsname="Pipeline", message=self._log_message(step_idx),
                    params=routed_params[name])
            self.steps[step_idx] = (name, fitted)
        if self.steps:  # an attack as the final step (fit_resample) is bound too
            last = len(self.steps) - 1
            name, final = self.steps[last]
            self.steps[last] = (name, self._attack_for_fit(last, final))
        return X, y


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Construct a :class:`Pipeline` from the given estimators, naming them.

    Read more in the :ref:`User Guide <composition>`.

    Parameters
    ----------
    *steps : list of estimators
        Transformers, finders, attacks and a final estimator. A finder right
        before an attack without one becomes its finder (see
        :class:`Pipeline`).
    memory, transform_input, verbose
        As in :func:`imblearn.pipeline.make_pipeline`.

    Returns
    -------
    p : Pipeline

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.attacks import GradientPoison
    >>> from skpoison.defenses import TRIM
    >>> from skpoison.pipeline import make_pipeline
    >>> from skpoison.subpopulations import ClusterMatch
    >>> pipe = make_pipeline(ClusterMatch(), GradientPoison(alpha=1),
    ...                      TRIM(LogisticRegression()))
    >>> sorted(k for k in pipe.get_params() if k.endswith(("n_clusters", "__alpha")))
    ['clustermatch__n_clusters', 'gradientpoison__alpha']
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
        For example :class:`~skpoison.attacks.LabelFlip`, or a skpoison
        pipeline of a finder step and an attack. A pipeline with a
        transformer is refused: the victim would be fitted on transformed
        rows but predict on the rows as received; put transformers before
        ``PoisonedEstimator``.
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
        if is_pipeline(self.attack):
            # its fit_resample would return transformed rows to the victim,
            # while predict gives the victim the rows as received
            moved = transforming_steps(self.attack)
            if moved:
                name, step = moved[0]
                raise ValueError(
                    f"PoisonedEstimator: the attack pipeline's step {name!r} "
                    f"({type(step).__name__}) transforms the rows, so estimator "
                    "would be fitted on transformed rows but predict on the rows "
                    "as received. Move the step out of attack, before "
                    "PoisonedEstimator: make_pipeline("
                    f"{type(step).__name__}(...), PoisonedEstimator(attack, "
                    "estimator)), or build one skpoison Pipeline with the victim "
                    "as its last step."
                )
        self.attack_ = clone(self.attack)
        X_res, y_res = self.attack_.fit_resample(X, y)
        self.n_features_in_ = self.attack_.n_features_in_
        if hasattr(self.attack_, "feature_names_in_"):
            self.feature_names_in_ = self.attack_.feature_names_in_
        self.estimator_ = clone(self.estimator).fit(X_res, y_res)
        return self

"""Shared machinery of the subpopulation attacks (imbalanced-learn samplers).

Every attack follows the same protocol in ``fit_resample``:

1. take the finder (its first parameter, or the finder step a
   :class:`skpoison.pipeline.Pipeline` bound to it: ``_finder()``), clone,
   seed and fit it on the attacker's rows, or use it as is when it is a
   :class:`sklearn.frozen.FrozenEstimator`;
2. count the target subpopulation and draw ``int(alpha * n_sub)`` rows of it,
   with replacement, from the attacker's rows;
3. give them poison labels (``_poison_labels``: by the ``label`` rule of
   :mod:`skpoison.attacks._labels`) and, for optimised attacks, poison
   features (``_poison_features``);
4. return the received rows unchanged and in order, then the poison rows.

Subclasses take ``subpopulation=None`` as their first parameter, reach the
finder only through ``self._finder()``, and may override
``_poison_features`` (and ``_poison_labels`` for another labelling). The
containers (DataFrames of any column type, the caller's label container) are
handled by :mod:`skpoison.utils._frames`.
"""

import warnings
from collections import Counter
from numbers import Real

import numpy as np
from imblearn.base import BaseSampler
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from ..utils._compat import (
    ArraysTransformer,
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    check_target_type,
)
from ..utils._frames import append_rows as _append_rows
from ..utils._frames import (
    check_aux_kinds,
    check_rows,
    float_features,
    match_aux_columns,
    restore_y,
    take_rows,
)
from ..utils._frozen import prefit_estimator
from ..utils._labels import check_label_space
from ..utils._seeding import seed_unseeded
from ..utils._validation import check_numeric_frame as _check_numeric_frame
from ..utils._validation import is_dataframe
from ._labels import poison_labels

_SHARED_ATTACK_PARAMS_DOC = """
    subpopulation : subpopulation finder or None, default=None
        The finder that defines the target subpopulation, for example
        :class:`~skpoison.subpopulations.ClusterMatch`. It is cloned and fitted
        on the attacker's rows in ``fit_resample`` (seeded from
        ``random_state`` when it has no seed of its own); wrap a finder the
        attacker already fitted in :class:`sklearn.frozen.FrozenEstimator` to
        use it as is. ``None``: the finder is the step right before the
        attack in a :class:`skpoison.pipeline.Pipeline`
        (``make_pipeline(ClusterMatch(), LabelFlip(), victim)``); an attack
        with no finder either way raises a ValueError in ``fit_resample``.

    alpha : float, default=1.0
        Poisoning rate: the attack adds ``int(alpha * n_sub)`` rows, where
        ``n_sub`` is the size of the target subpopulation (see ``count_on``).
        The paper uses 0.5, 1 and 2; at most 1,000.

    aux : tuple (X_aux, y_aux) or None, default=None
        The attacker's own data (the paper's ``D_aux``): the finder is fitted
        on it and poison rows are drawn from it. ``None`` uses the rows
        received by ``fit_resample``. This is a parameter, not fit metadata,
        so cross-validation never slices it. When ``X`` and ``X_aux`` are both
        DataFrames, ``X_aux``'s columns are matched to ``X``'s by name (put in
        ``X``'s order); missing or extra columns are an error naming them.
        When only one of them has column names, columns are taken by position,
        with a warning.

    count_on : {"train", "aux"}, default="train"
        Where ``n_sub`` is counted: in the rows received by ``fit_resample``
        (the authors' Adult notebook) or in the attacker's rows (their image
        and text code).
"""

_SHARED_ATTACK_ATTRS_DOC = """
    subpopulation_ : estimator
        The fitted finder (the given one when it was frozen).

    sample_indices_ : ndarray of int, shape (n_poison,)
        For each poison row, the index of the attacker's row it was drawn
        from (into ``aux`` when given, else into the received rows).

    poison_mask_ : ndarray of bool, shape (n_samples + n_poison,)
        ``True`` on the poison rows of the resampled data.

    n_poison_ : int
        Number of poison rows added.

    n_subpopulation_ : int
        ``n_sub``, the target's size used to compute ``n_poison_``.

    sampling_strategy_ : dict
        Number of poison rows added per class label (imbalanced-learn's
        fitted attribute for samplers).

    n_features_in_ : int
        Number of features seen in ``fit_resample``.

    feature_names_in_ : ndarray of str
        Names of the features, when ``X`` is a DataFrame with string names.
"""


# the shared text, as imbalanced-learn's Substitution inserts it into the
# attacks' docstrings ("{attack_params}", "{attack_attributes}")
_ATTACK_DOCS = {
    "attack_params": _SHARED_ATTACK_PARAMS_DOC.strip(),
    "attack_attributes": _SHARED_ATTACK_ATTRS_DOC.strip(),
}


_ATTACK_ADVICE = ("Encode them before the attack (for example with the victim "
                  "pipeline's ColumnTransformer), or use LabelFlip, which copies "
                  "rows of any column type.")


def check_numeric_frame(X, input_name, estimator_name):
    """The shared check, with the attacks' advice (encode, or use LabelFlip)."""
    _check_numeric_frame(X, input_name, estimator_name, advice=_ATTACK_ADVICE)


# set by skpoison.pipeline.Pipeline on its fit-time clone of an attack, for
# that one fit (see _AttackSamplerMixin._validated_resample)
_PIPELINE_BINDING = ("_bound_finder", "_bound_finder_step", "_pipeline_aux")


class _AttackSamplerMixin:
    """Tags and ``fit`` shared by every attack: dense rows or DataFrames in,
    ``sample_indices_`` out; ``fit`` runs ``fit_resample`` for its attributes."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.dataframe = True
        tags.input_tags.sparse = False
        tags.sampler_tags.sample_indices = True
        # an attack that only copies rows takes missing values as they are,
        # when its finder does too (FeatureMatch; ClusterMatch needs numbers)
        finder = getattr(self, "subpopulation", None)
        try:
            finder_nan = get_tags(finder).input_tags.allow_nan
        except (AttributeError, TypeError, ValueError):
            finder_nan = False
        tags.input_tags.allow_nan = (
            getattr(self, "_X_dtype", "numeric") is None and finder_nan)
        return tags

    # dtype of the validated rows: attacks that compute on features need
    # numbers ("numeric": a DataFrame with other columns or missing values is
    # refused naming them; integer and boolean features are cast to float64
    # first); one that only copies rows (LabelFlip: None) takes any column
    # type and missing values, and returns a DataFrame as one.
    _X_dtype = "numeric"

    def _validated_resample(self, X, y, resample):
        """The prologue and epilogue of every attack's ``fit_resample``.

        Validates ``X`` (see ``_X_dtype``) and ``y``, runs
        ``resample(X_given, X, y)`` and gives the result back in the
        containers the caller used (DataFrame and Series, list, array), as
        imbalanced-learn does.

        What a :class:`skpoison.pipeline.Pipeline` gave this fit (the finder
        step bound to the attack, ``aux`` after the steps before it) serves
        this one fit only: it is dropped afterwards, so that a later fit of
        the same object (taken out of the pipeline, sliced, given a new
        ``aux``) depends on its parameters alone.
        """
        try:
            return self._validated_resample_once(X, y, resample)
        finally:
            for name in _PIPELINE_BINDING:
                self.__dict__.pop(name, None)

    def _validated_resample_once(self, X, y, resample):
        check_classification_targets(y)
        y_array = np.asarray(y)
        if y_array.ndim == 2 and y_array.shape[1] == 1:
            # scikit-learn's convention for single-output estimators: accept a
            # column vector but warn (imbalanced-learn ravels it silently).
            column_or_1d(y_array, warn=True)
        if self._X_dtype is not None:
            # attacks that change feature values return them unrounded, also
            # in the caller's container (a DataFrame keeps its column dtypes)
            X = float_features(X)
        y_given, X_given = y, X
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if self._X_dtype is None:  # rows are only copied: any column type
            validate_data(self, X=X, reset=True, skip_check_array=True)
            X = check_rows(X, "X")
            y = column_or_1d(check_array(y, ensure_2d=False, dtype=None,
                                         input_name="y"))
            check_consistent_length(X, y)
        else:
            check_numeric_frame(X, "X", type(self).__name__)
            X, y = validate_data(self, X=X, y=y, reset=True, dtype=self._X_dtype)
        X_res, y_res = resample(X_given, X, y)
        if binarize_y:
            from sklearn.preprocessing import label_binarize

            y_res = label_binarize(y_res, classes=np.unique(y))
        if is_dataframe(X_res):  # built with its columns' dtypes, not via numpy
            return X_res, restore_y(y_res, y_given, X_res.index)
        return ArraysTransformer(X_given, y_given).transform(X_res, y_res)

    def set_params(self, **params):
        """Set the parameters, as scikit-learn's ``set_params``.

        ``subpopulation__<name>`` while ``subpopulation`` is ``None`` is a
        ValueError saying where the finder's parameters are: with the finder
        as the pipeline step before the attack, they are that step's.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : object
        """
        if getattr(self, "subpopulation", False) is None \
                and "subpopulation" not in params:
            nested = sorted(k for k in params if k.startswith("subpopulation__"))
            if nested:
                name = type(self).__name__
                raise ValueError(
                    f"Invalid parameter {nested[0]!r} for {name}: its subpopulation "
                    "is None, so there is no finder to set it on. When the finder "
                    "is the pipeline step right before the attack, set that step's "
                    "parameter by the step's name (clustermatch__n_clusters, not "
                    f"{name.lower()}__subpopulation__n_clusters); or give the "
                    f"attack its finder, {name}(ClusterMatch(...), ...)."
                )
        return super().set_params(**params)

    def fit(self, X, y, **params):
        """Run the attack and keep its fitted attributes; see ``fit_resample``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The victim's training rows.
        y : array-like of shape (n_samples,)
            Their labels.
        **params : dict
            Unused.

        Returns
        -------
        self : object
        """
        self.fit_resample(X, y, **params)
        return self


def is_attack(estimator):
    """Whether ``estimator`` is a poisoning attack (a sampler that adds or
    perturbs training rows), as imbalanced-learn's ``is_sampler``.

    Read more in the :ref:`User Guide <attacks>`.

    Parameters
    ----------
    estimator : object

    Returns
    -------
    bool

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.attacks import LabelFlip, is_attack
    >>> from skpoison.subpopulations import ClusterMatch
    >>> is_attack(LabelFlip(ClusterMatch())), is_attack(LogisticRegression())
    (True, False)
    """
    return (getattr(estimator, "_sampling_type", None) == "poisoning"
            and hasattr(estimator, "fit_resample"))


def resolve_finder(attack, *, required=True):
    """The finder ``attack`` uses: its own ``subpopulation`` or the one bound.

    A :class:`skpoison.pipeline.Pipeline` binds a finder step to the attack
    right after it by setting ``_bound_finder`` on its fit-time clone of the
    attack, for that one fit (the attack's parameters are never changed). Both at once cannot
    happen (the pipeline refuses it); neither is a ValueError saying the two
    ways to give one, unless ``required=False`` (then ``None``).
    """
    own = getattr(attack, "subpopulation", None)
    bound = getattr(attack, "_bound_finder", None)
    if own is not None and bound is not None:
        raise ValueError(
            f"{type(attack).__name__} has a finder of its own (subpopulation="
            f"{type(own).__name__}(...)) and one bound from a pipeline step; give "
            "it one or the other."
        )
    finder = own if own is not None else bound
    if finder is None and required:
        name = type(attack).__name__
        raise ValueError(
            f"{name} has no subpopulation finder (subpopulation=None): there is no "
            "target to poison. Give it one either as its first parameter, "
            f"{name}(ClusterMatch(...), ...), or as the step right before it in a "
            f"skpoison Pipeline, make_pipeline(ClusterMatch(...), {name}(...), "
            "victim) (imbalanced-learn's and scikit-learn's pipelines and "
            "PoisonedEstimator do not bind a finder step: there the attack "
            "receives the finder's membership indicators)."
        )
    return finder


def finder_param(attack, attr=None):
    """How the user set the finder of ``attack``, for messages: its
    ``subpopulation`` parameter, or the pipeline step bound to it.

    ``attr`` names one of the finder's parameters (``"target"``):
    ``"subpopulation.target"``, or ``"the finder step 'clustermatch'
    (clustermatch__target)"``.
    """
    step = getattr(attack, "_bound_finder_step", None)
    bound = getattr(attack, "_bound_finder", None)
    if bound is None or step is None:
        return "subpopulation" if attr is None else f"subpopulation.{attr}"
    if attr is None:
        return f"the finder step {step!r}"
    if isinstance(bound, FrozenEstimator):  # its parameters cannot be set
        return f"{attr} of the frozen finder step {step!r}"
    return f"{attr} of the finder step {step!r} ({step}__{attr})"


class BasePoisoningAttack(_AttackSamplerMixin, BaseSampler):
    """Base class of subpopulation attacks. Not for direct use.

    Subclasses take the finder as their first parameter, ``subpopulation=None``,
    store it unchanged, and reach it only through ``self._finder()`` (the
    shared ``_resample`` does so): that is the finder given, or the one a
    :class:`skpoison.pipeline.Pipeline` bound from the step before the attack.
    """

    _sampling_type = "poisoning"

    _parameter_constraints = {
        "subpopulation": [HasMethods(["fit", "membership"]), None],
        # at most 1,000 poison rows per subpopulation row: far above the
        # paper's 2, and an int(alpha * n_sub) that always fits in memory
        "alpha": [Interval(Real, 0, 1000, closed="both")],
        "aux": [tuple, None],
        "count_on": [StrOptions({"train", "aux"})],
        "label": "no_validation",  # a rule name or any class label: checked in fit
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "random_state": ["random_state"],
    }

    # Nested parameters are validated (imbalanced-learn's fit_resample skips
    # nested validation, so a bad finder parameter would pass silently).
    @_fit_context(prefer_skip_nested_validation=False)
    def fit_resample(self, X, y, **params):
        """Append poison rows to the training data.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The victim's training rows.
        y : array-like of shape (n_samples,)
            Their labels.
        **params : dict
            Unused; kept for imbalanced-learn's signature.

        Returns
        -------
        X_resampled : array-like or DataFrame of shape (n_samples + n_poison, n_features)
            The received rows, unchanged and in order, then the poison rows.
        y_resampled : array-like of shape (n_samples + n_poison,)
            Their labels, then the poison labels.
        """
        return self._validated_resample(X, y, self._resample)

    # ------------------------------------------------------------ protocol
    def _aux(self):
        """``aux``, or its rows after the pipeline steps before the attack
        (``_pipeline_aux``, set by :class:`skpoison.pipeline.Pipeline` on its
        fit-time clone of the attack)."""
        transformed = getattr(self, "_pipeline_aux", None)
        return self.aux if transformed is None else transformed

    def _attacker_rows(self, X_given, X, y):
        """The attacker's rows: as given (for the finder) and validated."""
        aux = self._aux()
        if aux is None:
            return X_given, X, y
        if len(aux) != 2:
            raise ValueError(
                "aux must be a tuple (X_aux, y_aux); got a tuple of length "
                f"{len(aux)}."
            )
        X_aux_given, y_aux = aux
        if X_aux_given is None or (np.ndim(X_aux_given) != 2
                                   and not is_dataframe(X_aux_given)):
            raise ValueError(
                "aux: X_aux must be a 2-D array or DataFrame of the attacker's rows; "
                f"got {type(X_aux_given).__name__} of shape {np.shape(X_aux_given)}."
            )
        if np.shape(X_aux_given)[1] != X.shape[1]:
            raise ValueError(
                f"aux: X_aux has {np.shape(X_aux_given)[1]} features but X has "
                f"{X.shape[1]}."
            )
        X_aux_given = match_aux_columns(X_given, X_aux_given)
        if self._X_dtype is None:
            check_aux_kinds(X_given, X_aux_given)
            X_aux = check_rows(X_aux_given, "X_aux")
            if not is_dataframe(X):
                X_aux = check_rows(np.asarray(X_aux, dtype=object)
                                   if is_dataframe(X_aux) else X_aux, "X_aux")
                if X.dtype.kind in "biuf" and X_aux.dtype.kind not in "biuf":
                    try:
                        X_aux = X_aux.astype(X.dtype)
                    except (TypeError, ValueError):
                        raise ValueError(
                            f"aux: X holds numbers ({X.dtype}) but X_aux holds "
                            f"other values ({X_aux.dtype}); give the attacker's rows "
                            "the victim's column types."
                        ) from None
        else:
            check_numeric_frame(X_aux_given, "X_aux", type(self).__name__)
            X_aux = check_array(X_aux_given, dtype=self._X_dtype, input_name="X_aux")
        y_aux = check_target_type(np.asarray(y_aux))
        if y_aux.shape[0] != X_aux.shape[0]:
            raise ValueError(
                f"aux: X_aux has {X_aux.shape[0]} rows but y_aux has "
                f"{y_aux.shape[0]} labels."
            )
        check_classification_targets(y_aux)
        check_label_space(y_aux, np.unique(y), name="y_aux", where="y")
        return X_aux_given, X_aux, y_aux

    def _finder(self):
        """The finder this attack uses: its ``subpopulation``, else the one a
        :class:`skpoison.pipeline.Pipeline` bound to it from the step before
        it (``_bound_finder``, set on the pipeline's clone of the attack at
        fit time, never a parameter); neither is a clear ValueError."""
        return resolve_finder(self)

    def _fitted_finder(self, X_src_given, rng):
        finder = self._finder()
        if prefit_estimator(finder, param=finder_param(self),
                            owner=type(self).__name__) is not None:
            return finder  # frozen: used as is
        return seed_unseeded(finder, rng).fit(X_src_given)

    def _resample(self, X_given, X, y):
        rng = check_random_state(self.random_state)
        X_src_given, X_src, y_src = self._attacker_rows(X_given, X, y)
        classes = np.unique(np.concatenate([y, y_src]))
        if classes.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y; got one "
                f"class: {classes.tolist()}."
            )
        self.classes_ = classes
        finder = self._fitted_finder(X_src_given, rng)
        self.subpopulation_ = finder
        source_mask = np.asarray(finder.membership(X_src_given), dtype=bool)
        candidates = np.flatnonzero(source_mask)
        where = "aux" if self.aux is not None else "the received rows"
        if candidates.size == 0:
            raise ValueError(
                f"The target subpopulation (target_={finder.target_}) has no rows in "
                f"the attacker's data ({where}): there is nothing to draw poison "
                f"from. Choose another {finder_param(self, 'target')}."
            )
        if self.count_on == "train" and self.aux is not None:
            n_sub = int(np.asarray(finder.membership(X_given), dtype=bool).sum())
        else:  # counted on the attacker's rows (the received ones without aux)
            n_sub = int(candidates.size)
        n_poison = int(self.alpha * n_sub)
        if n_sub == 0 and self.alpha > 0:
            # the target exists in aux but in none of the rows received: often
            # aux in another representation than those rows (raw X_aux for an
            # attack after a scaler in a hand-built pipeline), never silent
            warnings.warn(
                f"None of the {X.shape[0]} rows received by {type(self).__name__} "
                f"is in the target subpopulation (target_={finder.target_}), which "
                f"has {candidates.size} rows in aux: with count_on='train' the "
                "attack adds 0 poison rows. If the attack follows a transformer "
                "(a scaler, an encoder), X_aux must be in the representation the "
                "attack receives: skpoison's Pipeline passes aux through the steps "
                "before the attack; PoisonedEstimator and scikit-learn's Pipeline "
                "do not, so transform X_aux yourself there.",
                UserWarning,
            )
        elif n_poison == 0 and self.alpha > 0:
            warnings.warn(
                f"alpha={self.alpha} times n_sub={n_sub} (counted on "
                f"{self.count_on}) gives 0 poison rows: the attack adds nothing.",
                UserWarning,
            )
        idx = rng.choice(candidates, size=n_poison, replace=True)
        if is_dataframe(X_src) or is_dataframe(X):
            X_seed = take_rows(X_src, idx)  # rows as they are, any column type
        else:
            X_seed = X_src[idx].astype(X.dtype, copy=True)
        y_seed = y_src[idx]
        y_poison = np.asarray(
            self._poison_labels(y_seed, candidates, X_src, y_src, classes, rng)
        ).astype(y.dtype, copy=False)
        X_poison = self._poison_features(
            X_seed, y_poison, (X_src, y_src, source_mask), rng)

        self.sample_indices_ = idx
        self.n_subpopulation_ = n_sub
        self.n_poison_ = n_poison
        self.poison_mask_ = np.concatenate(
            [np.zeros(X.shape[0], dtype=bool), np.ones(n_poison, dtype=bool)]
        )
        counts = Counter(y_poison.tolist())
        self.sampling_strategy_ = {c: counts.get(c, 0) for c in classes.tolist()}
        X_res = _append_rows(X, X_poison)
        y_res = np.concatenate([y, y_poison])
        return X_res, y_res

    def _fit_resample(self, X, y, **params):  # imbalanced-learn's abstract hook
        return self._resample(X, X, y)

    def _poison_labels(self, y_seed, candidates, X_src, y_src, classes, rng):
        """Labels of the poison rows, by the ``label`` rule.

        ``y_seed`` are the true labels of the drawn rows; ``X_src[candidates]``
        are all of the attacker's rows in the target subpopulation.
        """
        return poison_labels(
            self.label, y_seed, candidates, X_src, y_src, classes,
            estimator=self._attacker_model(), rng=rng, owner=type(self).__name__,
            feature_names=getattr(self, "feature_names_in_", None))

    def _attacker_model(self):
        """The model of ``label="least_confident"``: ``estimator``."""
        return self.estimator

    def _poison_features(self, X_seed, y_poison, attacker, rng):
        """Features of the poison rows; label flipping keeps them as drawn.

        ``attacker`` is ``(X_src, y_src, source_mask)``: the attacker's rows
        (validated), their labels, and which of them are in the target
        subpopulation.
        """
        return X_seed

"""Shared machinery of the subpopulation attacks (imbalanced-learn samplers).

Every attack follows the same protocol in ``fit_resample``:

1. take the finder (its first parameter): clone, seed and fit it on the
   attacker's rows, or use it as is when it is a
   :class:`sklearn.frozen.FrozenEstimator`;
2. count the target subpopulation and draw ``int(alpha * n_sub)`` rows of it,
   with replacement, from the attacker's rows;
3. give them poison labels (``_poison_labels``) and, for optimised attacks,
   poison features (``_poison_features``);
4. return the received rows unchanged and in order, then the poison rows.

Subclasses implement ``_poison_labels`` and may override ``_poison_features``.
"""

import warnings
from abc import abstractmethod
from collections import Counter
from numbers import Real

import numpy as np
from imblearn.base import BaseSampler
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
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
from ..utils._seeding import seed_unseeded

_SHARED_ATTACK_PARAMS_DOC = """
    subpopulation : subpopulation finder
        The finder that defines the target subpopulation, for example
        :class:`~skpoison.subpopulations.ClusterMatch`. It is cloned and fitted
        on the attacker's rows in ``fit_resample`` (seeded from
        ``random_state`` when it has no seed of its own); wrap a finder the
        attacker already fitted in :class:`sklearn.frozen.FrozenEstimator` to
        use it as is.

    alpha : float, default=1.0
        Poisoning rate: the attack adds ``int(alpha * n_sub)`` rows, where
        ``n_sub`` is the size of the target subpopulation (see ``count_on``).
        The paper uses 0.5, 1 and 2.

    aux : tuple (X_aux, y_aux) or None, default=None
        The attacker's own data (the paper's ``D_aux``): the finder is fitted
        on it and poison rows are drawn from it. ``None`` uses the rows
        received by ``fit_resample``. This is a parameter, not fit metadata,
        so cross-validation never slices it.

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


class _AttackSamplerMixin:
    """Tags and ``fit`` shared by every attack: dense rows or DataFrames in,
    ``sample_indices_`` out; ``fit`` runs ``fit_resample`` for its attributes."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.dataframe = True
        tags.input_tags.sparse = False
        tags.sampler_tags.sample_indices = True
        return tags

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


class BasePoisoningAttack(_AttackSamplerMixin, BaseSampler):
    """Base class of subpopulation attacks. Not for direct use."""

    _sampling_type = "poisoning"
    # dtype of the validated rows: attacks that compute on features need
    # numbers; one that only copies rows (LabelFlip) takes any column type.
    _X_dtype = "numeric"

    _parameter_constraints = {
        "subpopulation": [HasMethods(["fit", "membership"])],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "aux": [tuple, None],
        "count_on": [StrOptions({"train", "aux"})],
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
        check_classification_targets(y)
        y_array = np.asarray(y)
        if y_array.ndim == 2 and y_array.shape[1] == 1:
            # scikit-learn's convention for single-output estimators: accept a
            # column vector but warn (imbalanced-learn ravels it silently).
            column_or_1d(y_array, warn=True)
        arrays_transformer = ArraysTransformer(X, y)
        X_given = X
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X, y = validate_data(self, X=X, y=y, reset=True, dtype=self._X_dtype)
        X_res, y_res = self._resample(X_given, X, y)
        if binarize_y:
            from sklearn.preprocessing import label_binarize

            y_res = label_binarize(y_res, classes=np.unique(y))
        return arrays_transformer.transform(X_res, y_res)

    # ------------------------------------------------------------ protocol
    def _attacker_rows(self, X_given, X, y):
        """The attacker's rows: as given (for the finder) and validated."""
        if self.aux is None:
            return X_given, X, y
        if len(self.aux) != 2:
            raise ValueError(
                "aux must be a tuple (X_aux, y_aux); got a tuple of length "
                f"{len(self.aux)}."
            )
        X_aux_given, y_aux = self.aux
        X_aux = check_array(X_aux_given, dtype=self._X_dtype, input_name="X_aux")
        if X_aux.shape[1] != X.shape[1]:
            raise ValueError(
                f"aux: X_aux has {X_aux.shape[1]} features but X has {X.shape[1]}."
            )
        y_aux = check_target_type(np.asarray(y_aux))
        if y_aux.shape[0] != X_aux.shape[0]:
            raise ValueError(
                f"aux: X_aux has {X_aux.shape[0]} rows but y_aux has "
                f"{y_aux.shape[0]} labels."
            )
        check_classification_targets(y_aux)
        return X_aux_given, X_aux, y_aux

    def _fitted_finder(self, X_src_given, rng):
        finder = self.subpopulation
        if isinstance(finder, FrozenEstimator):
            check_is_fitted(finder.estimator)
            return finder
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
                "from. Choose another subpopulation.target."
            )
        if self.count_on == "train":
            n_sub = int(np.asarray(finder.membership(X_given), dtype=bool).sum())
        else:
            n_sub = int(candidates.size)
        n_poison = int(self.alpha * n_sub)
        if n_poison == 0 and self.alpha > 0:
            warnings.warn(
                f"alpha={self.alpha} times n_sub={n_sub} (counted on "
                f"{self.count_on}) gives 0 poison rows: the attack adds nothing.",
                UserWarning,
            )
        idx = rng.choice(candidates, size=n_poison, replace=True)
        X_seed = X_src[idx].astype(X.dtype, copy=True)
        y_seed = y_src[idx]
        y_poison = np.asarray(
            self._poison_labels(y_seed, candidates, X_src, y_src, classes, rng)
        ).astype(y.dtype, copy=False)
        X_poison = self._poison_features(X_seed, y_poison, X, y, finder, rng)

        self.sample_indices_ = idx
        self.n_subpopulation_ = n_sub
        self.n_poison_ = n_poison
        self.poison_mask_ = np.concatenate(
            [np.zeros(X.shape[0], dtype=bool), np.ones(n_poison, dtype=bool)]
        )
        counts = Counter(y_poison.tolist())
        self.sampling_strategy_ = {c: counts.get(c, 0) for c in classes.tolist()}
        X_res = np.concatenate([X, X_poison.astype(X.dtype, copy=False)], axis=0)
        y_res = np.concatenate([y, y_poison])
        return X_res, y_res

    def _fit_resample(self, X, y, **params):  # imbalanced-learn's abstract hook
        return self._resample(X, X, y)

    @abstractmethod
    def _poison_labels(self, y_seed, candidates, X_src, y_src, classes, rng):
        """Labels of the poison rows.

        ``y_seed`` are the true labels of the drawn rows; ``X_src[candidates]``
        are all of the attacker's rows in the target subpopulation.
        """

    def _poison_features(self, X_seed, y_poison, X, y, finder, rng):
        """Features of the poison rows; label flipping keeps them as drawn."""
        return X_seed

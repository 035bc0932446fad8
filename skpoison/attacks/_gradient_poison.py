"""GradientPoison: the paper's gradient optimisation ("GO") of poison features."""

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from imblearn.utils import Substitution
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_array

from ..utils._compat import Interval, StrOptions
from ..utils._labels import encode_labels
from ..utils._seeding import seed_unseeded
from ..utils._torch import is_skorch_net
from ..utils._validation import check_bounds
from . import _linear
from ._base import _ATTACK_DOCS, BasePoisoningAttack

_OPTIMISED_PARAMS_DOC = """
    label : {"auto", "flip", "least_frequent", "least_confident"} or a class \
label, default="auto"
        How poison rows are labelled, as in
        :class:`~skpoison.attacks.LabelFlip` (the label-flipped seeds are
        LabelFlip's poisons; only their features are then optimised).

    estimator : LogisticRegression, SGDClassifier(loss="log_loss") or skorch \
NeuralNetClassifier, default=None
        The attacker's surrogate model. ``None`` uses
        ``LogisticRegression(max_iter=1000)``. It is always cloned (seeded from
        ``random_state`` when unseeded) and fitted on the attacker's rows,
        standardised (see ``eps``). Linear models get closed-form gradients
        (sigmoid model for binary, softmax for multiclass problems). skorch
        nets (e.g. :func:`~skpoison.nets.make_mlp_classifier`) get
        :mod:`torch.autograd` gradients, on the parameters chosen by
        ``mode``; their module must return what their criterion expects
        (logits for ``CrossEntropyLoss``) with a mean loss, and a plain
        skorch net needs labels ``0 .. n_classes - 1``
        (:class:`~skpoison.nets.SeededNeuralNetClassifier` takes any).
        Torch is seeded from ``random_state`` around every training call.
        Any other model raises a TypeError. With
        ``label="least_confident"`` it also picks the label, as in LabelFlip.

    mode : {"ll", "ft"}, default="ll"
        Which parameters the loss gradients are taken with respect to, for
        a skorch net: ``"ll"`` (last layer; the body is frozen): the
        parameters of the module's last submodule that has any, in
        registration order (``output`` for
        :class:`~skpoison.nets.MLPModule`), as the paper's "LL" models;
        ``"ft"``: all parameters (fully fine-tuned, "FT"). The poisons'
        input features move in both modes, through the whole network.
        Linear models have one layer, so both modes are the same there.

    eps : float, default=0.1
        Radius of the l-infinity box around each poison's seed features that
        the optimised features stay in. **Units:** ``eps`` and ``step_size``
        are in standardised units: each feature is divided by its standard
        deviation over the attacker's rows (1 for constant features), so
        ``eps=0.1`` lets a feature move by a tenth of its spread. The
        surrogate is fitted, and gradients taken, on the standardised rows.
        ``eps=0`` returns LabelFlip's poisons exactly.

    targets : tuple (X_target, y_target) or None, default=None
        The rows whose loss the poisons raise. ``None``: the attacker's rows
        of the target subpopulation, with their true labels (the
        subpopulation attack). A tuple makes a **targeted** attack on those
        rows, e.g. the ones :func:`~skpoison.attacks.select_targets` picks,
        with the labels the victim should get right; the poisons are still
        seeded from the target subpopulation (the targets' cluster).

    bounds : tuple (low, high) or None, default=None
        Bounds on the poison features in the original units: scalars or
        arrays of shape (n_features,). ``None`` leaves features unbounded
        (only the ``eps`` box applies).

    feature_mask : {"continuous", "all"} or array-like of bool, \
default="continuous"
        Features the attack may change; the others keep their seed values.
        ``"continuous"``: features that take more than 2 distinct values
        over the attacker's rows (one-hot and binary columns stay fixed);
        ``"all"``; or a boolean mask of shape (n_features,).

    progress : bool, default=False
        Show a progress bar (tqdm) over the optimisation steps.

    random_state : int, RandomState instance or None, default=None
        Seeds the draw of poison rows, the finder and the surrogate, when
        unseeded.

    Notes on input: integer-typed features are cast to float64 (a NumPy
    ``X`` as a whole, the integer columns of a DataFrame) before the
    attack, so the optimised poisons are not truncated; the resampled ``X``
    then has that float dtype.
"""

_OPTIMISED_ATTRS_DOC = """
    classes_ : ndarray
        The class labels seen in the received and the attacker's rows.

    estimator_ : estimator
        The fitted surrogate (on the standardised attacker's rows; for
        InfluencePoison, the last refit on those rows and the poisons).

    feature_mask_ : ndarray of bool, shape (n_features,)
        The features the attack was allowed to change.

    n_iter_ : int
        Number of optimisation steps taken (0 when there are no poisons or no
        feature may move).

    objective_ : ndarray of float
        History of the objective (see the class description).
"""

# as _ATTACK_DOCS ("{optimised_params}", "{optimised_attributes}")
_OPTIMISED_DOCS = {
    "optimised_params": _OPTIMISED_PARAMS_DOC.strip(),
    "optimised_attributes": _OPTIMISED_ATTRS_DOC.strip(),
}


@dataclass
class _Problem:
    """What an optimisation loop works on, all in standardised units.

    ``Z_p``: the poisons' seed features, ``Y_poison`` their class indices;
    ``Z_src, Y_src``: the attacker's rows; ``Z_t, Y_t``: the target rows;
    ``project``: onto the feasible box (the ``eps`` box, ``bounds``, and the
    seed where a feature is fixed); ``move``: the per-feature step scale
    (``step_size`` on the features that may move, 0 elsewhere). The loops
    step in these units, so no step converts units; the attack maps the
    result back to the original units once, at the end.
    """

    Z_p: np.ndarray
    Y_poison: np.ndarray
    Z_src: np.ndarray
    Y_src: np.ndarray
    Z_t: np.ndarray
    Y_t: np.ndarray
    surrogate: object
    project: Callable
    move: np.ndarray


class _OptimisedAttack(BasePoisoningAttack):
    """Label-flipped seeds whose features are then optimised. Not for direct use.

    A sibling of :class:`~skpoison.attacks.LabelFlip`: the seeds are drawn and
    labelled by the same rules (:func:`~skpoison.attacks._labels.poison_labels`),
    with ``estimator`` (the surrogate) as the model of ``"least_confident"``.
    """

    _parameter_constraints = {
        **BasePoisoningAttack._parameter_constraints,
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither")],
        "eps": [Interval(Real, 0, None, closed="left")],
        "targets": [tuple, None],
        "bounds": [tuple, None],
        "feature_mask": [StrOptions({"continuous", "all"}), "array-like"],
        "mode": [StrOptions({"ll", "ft"})],
        "progress": ["boolean"],
    }

    # ---------------------------------------------------------- the protocol
    def _attacker_model(self):
        """The surrogate's model (also that of ``"least_confident"``)."""
        return (LogisticRegression(max_iter=1000) if self.estimator is None
                else self.estimator)

    def _surrogate(self, rng):
        estimator = self._attacker_model()
        if is_skorch_net(estimator):
            from . import _torch_surrogate  # imports torch only when needed

            estimator = seed_unseeded(estimator, rng)
            return _torch_surrogate.TorchSurrogate(
                estimator, self.mode, seed=rng.randint(np.iinfo(np.int32).max),
                **self._torch_options())
        _linear.check_linear_estimator(estimator)
        return _linear.LinearSurrogate(seed_unseeded(estimator, rng))

    def _torch_options(self):
        return {}

    # whether ``_optimise`` refits the surrogate on the attacker's rows and the
    # poisons before it first uses the model
    _refits_surrogate = False

    def _feature_mask(self, X_src):
        n_features = X_src.shape[1]
        mask = self.feature_mask
        if isinstance(mask, str) and mask == "all":
            return np.ones(n_features, dtype=bool)
        if isinstance(mask, str) and mask == "continuous":
            # more than 2 distinct values: count the changes down each
            # sorted column (one sort for all columns; NaNs sort last and
            # count as one value, as in np.unique)
            X_sorted = np.sort(np.asarray(X_src, dtype=np.float64), axis=0)
            changes = np.diff(X_sorted, axis=0)
            distinct = 1 + np.sum((changes != 0) & ~np.isnan(changes), axis=0)
            distinct += np.isnan(X_sorted[-1:]).any(axis=0) & ~np.isnan(X_sorted[:1]).all(axis=0)
            return distinct > 2
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (n_features,):
            raise ValueError(
                "feature_mask must be 'continuous', 'all' or a boolean array of "
                f"shape ({n_features},); got dtype {mask.dtype} and shape "
                f"{mask.shape}."
            )
        return mask

    def _check_targets(self, n_features, classes):
        if len(self.targets) != 2:
            raise ValueError(
                "targets must be a tuple (X_target, y_target); got "
                f"{len(self.targets)} items.")
        X_t = check_array(self.targets[0], dtype=np.float64, input_name="targets")
        y_t = np.asarray(self.targets[1])
        if X_t.shape[1] != n_features or y_t.shape != (X_t.shape[0],):
            raise ValueError(
                f"targets: X_target must have {n_features} features and y_target "
                f"one label per row; got {X_t.shape} and {y_t.shape}.")
        if not np.all(np.isin(y_t, classes)):
            raise ValueError(
                f"targets: y_target must hold classes of the attacker's rows "
                f"{classes.tolist()}; got {np.unique(y_t).tolist()}.")
        return X_t, y_t

    def _bounds(self, n_features):
        if self.bounds is None:
            return None
        return check_bounds(self.bounds, n_features)

    def _poison_features(self, X_seed, y_poison, attacker, rng):
        X_src, y_src, source_mask = attacker
        # validate all parameters before the (possibly long) optimisation
        surrogate = self._surrogate(rng)
        mask = self._feature_mask(X_src)
        bounds = self._bounds(X_src.shape[1])
        self.feature_mask_ = mask
        X_src = np.asarray(X_src, dtype=np.float64)
        mean = X_src.mean(axis=0)
        scale = X_src.std(axis=0)
        scale[scale == 0] = 1.0
        Z_src = (X_src - mean) / scale
        surrogate.fit(Z_src, y_src, refit_next=self._refits_surrogate)
        classes = surrogate.classes_
        if not np.all(np.isin(y_poison, classes)):
            raise ValueError(
                "Poison labels must be classes of the attacker's rows "
                f"{classes.tolist()}; got {np.unique(y_poison).tolist()}."
            )
        Y_src = encode_labels(classes, y_src)
        Y_poison = encode_labels(classes, y_poison)
        if self.targets is None:
            Z_t, Y_t = Z_src[source_mask], Y_src[source_mask]
        else:
            X_t, y_t = self._check_targets(X_src.shape[1], classes)
            Z_t, Y_t = (X_t - mean) / scale, encode_labels(classes, y_t, name="targets")
        self.objective_ = np.array([])
        self.n_iter_ = 0
        if X_seed.shape[0] == 0 or self.n_iter == 0 or not mask.any():
            self.estimator_ = surrogate.finalize()
            return X_seed
        x0 = np.asarray(X_seed, dtype=np.float64)
        # the feasible set per entry: the eps box around the seed, clipped to
        # the bounds (clipping to the box, then to the bounds, is clipping to
        # the clipped box), and the seed itself where features are fixed
        low = x0 - self.eps * scale
        high = x0 + self.eps * scale
        if bounds is not None:
            low, high = (np.clip(v, bounds[0], bounds[1]) for v in (low, high))
        low[:, ~mask] = high[:, ~mask] = x0[:, ~mask]
        # the same box in standardised units, where the loops step
        low_z, high_z = (low - mean) / scale, (high - mean) / scale

        def project(Z_p):
            # np.minimum(np.maximum(.)) is np.clip for low <= high, at half
            # its cost on these small arrays (it runs at every step)
            return np.minimum(np.maximum(Z_p, low_z), high_z)

        with surrogate.threads(Z_src.shape[0] + x0.shape[0]):
            Z_p = self._optimise(_Problem(
                Z_p=(x0 - mean) / scale, Y_poison=Y_poison, Z_src=Z_src,
                Y_src=Y_src, Z_t=Z_t, Y_t=Y_t, surrogate=surrogate,
                project=project, move=mask.astype(np.float64) * self.step_size))
        self.estimator_ = surrogate.finalize()
        # back to the original units, clipped to the exact box: rounding in
        # the round trip must not leave it (or move a fixed feature)
        return np.clip(Z_p * scale + mean, low, high)

    def _optimise(self, problem):
        """Optimised poison features for a :class:`_Problem`."""
        raise NotImplementedError


@Substitution(**_ATTACK_DOCS, **_OPTIMISED_DOCS)
class GradientPoison(_OptimisedAttack):
    """Gradient-optimised subpopulation poisons ("GO", Jagielski et al.).

    Read more in the :ref:`User Guide <attacks>`.

    Starts from :class:`~skpoison.attacks.LabelFlip`'s poisons (label-flipped
    rows of the target subpopulation) and moves their features so that
    training on them pushes a linear surrogate model against the target's
    true labels (the paper's Sec. 5, Table 8; the authors' ``gradient_match``):

    * ``g_t``: gradient, w.r.t. the surrogate's coefficients and intercepts,
      of the mean cross-entropy of the attacker's target rows with their
      **true** labels;
    * ``J(X_p) = <g_p(X_p), g_t>`` with ``g_p`` the same gradient for the
      poisons with their poison labels; one gradient step on the poisons
      changes the target loss by about ``-lr * J``, so minimising ``J`` makes
      the poisons raise the target loss;
    * ``n_iter`` steps ``X_p <- X_p - step_size * grad_X J`` (in standardised
      units), each followed by the projection onto the ``eps`` box around
      the seed features, ``bounds`` and ``feature_mask``.

    All gradients are in closed form (sigmoid model for binary
    classifiers, softmax otherwise); the surrogate is fitted once, on the
    attacker's rows.

    Parameters
    ----------
    {attack_params}

    {optimised_params}

    n_iter : int, default=50
        Number of gradient steps (the authors use 50).

    step_size : float, default=0.2
        Step length (the authors' learning rate), in standardised units.

    Attributes
    ----------
    {attack_attributes}

    {optimised_attributes}

        Here ``J`` before each step and after the last one (``n_iter + 1``
        values).

    See Also
    --------
    LabelFlip : The seeds, without optimisation.
    InfluencePoison : Influence-function optimisation (slower, stronger).

    References
    ----------
    .. [1] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, Sec. 5 and
       Table 8 (the "GO" attack). Reference code: ``gradient_match`` in
       ``basic_training.py`` and
       ``defense_training.py`` of the authors' repository,
       https://github.com/jagielski/subpopulation-data-poisoning-attacks.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.attacks import GradientPoison
    >>> from skpoison.subpopulations import ClusterMatch
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(4, 1, (20, 2))])
    >>> y = np.r_[np.zeros(40, int), np.ones(20, int)]
    >>> attack = GradientPoison(ClusterMatch(n_clusters=2, target="smallest"),
    ...                         eps=0.5, n_iter=20, random_state=0)
    >>> X_res, y_res = attack.fit_resample(X, y)
    >>> X_res.shape, attack.n_poison_
    ((80, 2), 20)
    >>> bool(attack.objective_[-1] < attack.objective_[0])
    True
    """

    _parameter_constraints = {**_OptimisedAttack._parameter_constraints}

    def __init__(self, subpopulation=None, *, alpha=1.0, label="auto", aux=None,
                 count_on="train", estimator=None, mode="ll", n_iter=50,
                 step_size=0.2, eps=0.1, targets=None, bounds=None,
                 feature_mask="continuous",
                 progress=False, random_state=None):
        self.subpopulation = subpopulation
        self.alpha = alpha
        self.label = label
        self.aux = aux
        self.count_on = count_on
        self.estimator = estimator
        self.mode = mode
        self.n_iter = n_iter
        self.step_size = step_size
        self.eps = eps
        self.targets = targets
        self.bounds = bounds
        self.feature_mask = feature_mask
        self.progress = progress
        self.random_state = random_state

    def _optimise(self, problem):
        Z_p, surrogate, Y_poison = problem.Z_p, problem.surrogate, problem.Y_poison
        project = problem.project
        G_t = surrogate.target_gradient(problem.Z_t, problem.Y_t)
        n_p = Z_p.shape[0]
        move = problem.move / n_p
        history = []
        for _ in _steps(self.n_iter, self.progress, type(self).__name__):
            J, grad = surrogate.alignment(Z_p, Y_poison, G_t)
            history.append(J / n_p)
            Z_p = project(Z_p - move * grad)
        J, _ = surrogate.alignment(Z_p, Y_poison, G_t)
        history.append(J / n_p)
        self.objective_ = np.asarray(history)
        self.n_iter_ = self.n_iter
        return Z_p


def _steps(n_iter, progress, name):
    """``range(n_iter)``, wrapped in a tqdm progress bar when asked."""
    if not progress:
        return range(n_iter)
    from tqdm.auto import tqdm

    return tqdm(range(n_iter), desc=name, unit="step", leave=False)


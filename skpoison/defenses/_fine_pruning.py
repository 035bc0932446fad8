"""Fine-pruning (Liu, Dolan-Gavitt and Garg, RAID 2018) for skorch nets."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from torch import nn
from torch.nn.utils import prune

from ..utils import _torch
from ..utils._compat import Interval, StrOptions, _fit_context
from ..utils._pipeline import final_step
from ._base import BaseDefense
from ._representation import _final_net, layer_output

# Layers whose output units (dim 1 of the output, dim 0 of the weight) can be
# pruned by zeroing their weights and bias.
_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)

# Element-wise activations: when one directly follows the pruned layer in an
# nn.Sequential, units are ranked on its output (what Liu et al. measure).
_ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU,
                nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid,
                nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus,
                nn.Softsign, nn.Tanhshrink, nn.LogSigmoid)

# Accuracies are multiples of 1/n: compare drops with this tolerance.
_TOL = 1e-12


def _prunable_layers(module):
    return [name for name, m in _torch.named_submodules(module).items()
            if isinstance(m, _PRUNABLE)]


def _check_layer(module, layer):
    """The module named ``layer``, which must be a Linear or Conv layer."""
    modules = _torch.named_submodules(module)
    prunable = ", ".join(repr(n) for n in _prunable_layers(module)) or "none"
    if not isinstance(layer, str) or layer not in modules:
        raise ValueError(
            f"Unknown layer {layer!r}; the prunable layers (Linear, Conv1d/2d/3d) "
            f"of {type(module).__name__} are: {prunable}. All its layers: "
            f"{', '.join(repr(n) for n in modules) or 'none'}."
        )
    target = modules[layer]
    if not isinstance(target, _PRUNABLE):
        raise ValueError(  # noqa: TRY004 (a bad value of the layer parameter)
            f"layer={layer!r} is a {type(target).__name__}; fine-pruning prunes the "
            f"output units of a Linear or Conv1d/2d/3d layer. The prunable layers of "
            f"{type(module).__name__} are: {prunable}."
        )
    return target


def _ranked_layer(module, layer):
    """``layer``, or the element-wise activation right after it in a Sequential."""
    parent_name, _, child = layer.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    if isinstance(parent, nn.Sequential):
        names = list(parent._modules)
        i = names.index(child)
        if i + 1 < len(names) and isinstance(parent[i + 1], _ELEMENTWISE):
            return f"{parent_name}.{names[i + 1]}" if parent_name else names[i + 1]
    return layer


class FinePruning(BaseDefense):
    """Fine-pruning: prune the dormant units of a layer, then fine-tune on clean data.

    Read more in the :ref:`User Guide <defenses>`.

    The post-processing defense of Liu, Dolan-Gavitt and Garg (RAID 2018) in
    the two phases the subpopulation paper describes (Sec. 8):

    1. Split off the defender's own clean validation split: a stratified,
       seeded ``validation_fraction`` of the training rows. Train
       ``estimator`` on the remaining rows.
    2. Rank the output units of ``layer`` (a ``Linear`` layer's units or a
       ``Conv`` layer's channels) on the validation split, by increasing mean
       activation (``criterion="mean"``, Liu et al.) or decreasing APoZ, the
       average percentage of zeros (``criterion="apoz"``, the subpopulation
       paper's authors' code).
       Prune them one at a time, in that order, until validation accuracy
       falls by more than ``accuracy_drop`` below the unpruned accuracy; the
       pruning that crossed the threshold is undone, so the model keeps the
       last pruning within it. At least one unit is kept.
    3. Fine-tune the pruned net for ``fine_tune_epochs`` on the validation
       split.

    Nothing is tuned on test data or on the attack's success: every decision
    reads only the validation split taken from the rows ``fit`` receives.

    **Which data fine-tunes.** The validation split, not all training rows.
    Liu et al. fine-tune on data the defender trusts; in skpoison's threat
    model the training rows may contain poison, and training on them again
    would re-learn what pruning removed. The validation split is the only data
    this defense treats as clean (the paper's authors likewise fine-tuned on a
    small clean split). The split is drawn from the training rows, so poison
    rows can fall into it; they are then used only for ranking, the stopping
    rule and fine-tuning.

    Pruned units are zeroed with a persistent mask
    (:func:`torch.nn.utils.prune.custom_from_mask` on the layer's ``weight``
    and ``bias``): their output stays exactly zero through fine-tuning and in
    ``estimator_``. Fine-pruning removes no rows: ``support_mask_`` is
    all-True.

    Parameters
    ----------
    estimator : skorch net
        A :class:`~skpoison.nets.SeededNeuralNetClassifier` (e.g. from
        :func:`~skpoison.nets.make_mlp_classifier`), any
        :class:`skorch.NeuralNetClassifier`, or a
        :class:`~sklearn.pipeline.Pipeline` whose last step is one.

    layer : str
        Name of the layer to prune in the net's ``module_`` (as in
        ``module_.named_modules()``), a ``Linear`` or ``Conv1d/2d/3d`` layer:
        e.g. ``"hidden.0"``, the hidden layer of
        :func:`~skpoison.nets.make_mlp_classifier`'s ``(10,)`` net. Liu et al.
        prune the last convolutional layer. When an element-wise activation
        (``ReLU``, ``Tanh``, ...) follows the layer in an ``nn.Sequential``,
        units are ranked on the activation's output (``ranked_layer_``).

    validation_fraction : float in (0, 1), default=0.1
        Share of the training rows in the defender's clean validation split
        (rounded up, and at least one row per class).

    accuracy_drop : float in [0, 1), default=0.04
        Largest tolerated fall of validation accuracy (4 points, as Liu et al.
        and the authors).

    criterion : {"mean", "apoz"}, default="mean"
        Pruning order: increasing mean activation, or decreasing fraction of
        activations that are at most zero (APoZ; ties by increasing mean).
        Means and fractions are taken over validation rows and, for
        convolutions, positions.

    fine_tune_epochs : int, default=5
        Epochs of fine-tuning on the validation split; ``0`` only prunes.

    fine_tune_lr : float or None, default=None
        Learning rate for fine-tuning; ``None`` keeps the net's ``lr``. The
        net's ``max_epochs`` and ``lr`` are restored afterwards.

    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, torch, and ``estimator`` when it has an
        unset ``random_state``.

    Attributes
    ----------
    estimator_ : skorch net or Pipeline
        The pruned, fine-tuned model.

    support_mask_ : ndarray of bool, shape (n_samples,)
        All True: fine-pruning removes no rows.

    validation_mask_ : ndarray of bool, shape (n_samples,)
        The rows of the validation split (the rest trained the net).

    n_iter_ : int
        Always 1.

    n_units_ : int
        Output units (or channels) of ``layer``.

    unit_scores_ : ndarray of shape (`n_units_`,)
        Each unit's mean activation (``"mean"``) or APoZ (``"apoz"``).

    pruned_units_ : ndarray of int
        Indices of the pruned units, in pruning order.

    n_pruned_ : int
        Number of pruned units.

    ranked_layer_ : str
        The module whose output ranked the units.

    validation_accuracy_before_ : float
        Validation accuracy of the unpruned net.

    validation_accuracy_pruned_ : float
        Validation accuracy after pruning.

    validation_accuracy_after_ : float
        Validation accuracy after fine-tuning (on the rows it was fine-tuned
        on, hence optimistic).

    classes_ : ndarray
        Class labels of ``estimator_``.

    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    ActivationClustering, SpectralSignatures : Defenses that remove rows.

    References
    ----------
    .. [1] K. Liu, B. Dolan-Gavitt and S. Garg, "Fine-Pruning: Defending
       Against Backdooring Attacks on Deep Neural Networks", RAID 2018.
       Reference code (mean activation, 4-point accuracy drop,
       ``face/conv_output_prune.py``):
       https://github.com/kangliucn/Fine-pruning-defense
    .. [2] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, Sec. 8.
       Reference code (APoZ
       ranking, ``notebooks/development/fine_pruning_cifar10_repeated_64.ipynb``):
       https://github.com/jagielski/subpopulation-data-poisoning-attacks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from skpoison.defenses import FinePruning
    >>> from skpoison.nets import make_mlp_classifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> net = make_mlp_classifier((8,), max_epochs=5, random_state=0)
    >>> fp = FinePruning(net, layer="hidden.0", fine_tune_epochs=2,
    ...                  random_state=0).fit(X, y)
    >>> fp.n_units_, fp.ranked_layer_
    (8, 'hidden.1')
    >>> bool(fp.support_mask_.all()), int(fp.validation_mask_.sum())
    (True, 20)
    >>> fp.validation_accuracy_before_ - fp.validation_accuracy_pruned_ <= 0.04
    True
    >>> acts = fp.estimator_.activations(X[:5], layer="hidden.0")
    >>> bool((acts[:, fp.pruned_units_] == 0).all())
    True
    """

    _parameter_constraints = {  # noqa: RUF012 (scikit-learn's convention)
        **BaseDefense._parameter_constraints,
        "layer": [str],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "accuracy_drop": [Interval(Real, 0, 1, closed="left")],
        "criterion": [StrOptions({"mean", "apoz"})],
        "fine_tune_epochs": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_lr": [None, Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, estimator, *, layer, validation_fraction=0.1,
                 accuracy_drop=0.04, criterion="mean", fine_tune_epochs=5,
                 fine_tune_lr=None, random_state=None):
        self.estimator = estimator
        self.layer = layer
        self.validation_fraction = validation_fraction
        self.accuracy_drop = accuracy_drop
        self.criterion = criterion
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_lr = fine_tune_lr
        self.random_state = random_state

    def _check_estimator_and_layer(self):
        net = _final_net(self.estimator)
        if net is None:
            raise TypeError(
                "FinePruning prunes units of a torch network: estimator must be a "
                "skorch net (e.g. skpoison.nets.make_mlp_classifier()) or a Pipeline "
                f"ending in one; got {type(self.estimator).__name__}."
            )
        # Check the layer before training when the module can be built without
        # data (a throw-away initialisation with torch's RNG forked).
        probe = clone(net)
        try:
            with _torch.forked_rng(0, "cpu"):
                probe.set_params(device="cpu").initialize()
        except Exception:  # noqa: BLE001 - some modules need data: checked after fit
            return
        _check_layer(probe.module_, self.layer)

    def _split(self, y, rng):
        idx = np.arange(y.shape[0])
        # at least one validation row per class, so that stratification works
        n_val = max(int(np.ceil(self.validation_fraction * y.shape[0])),
                    np.unique(y).shape[0])
        try:
            _, val = train_test_split(
                idx, test_size=n_val, stratify=y,
                random_state=rng.randint(np.iinfo(np.int32).max))
        except ValueError as exc:
            raise ValueError(
                f"validation_fraction={self.validation_fraction}: cannot take a "
                f"stratified validation split of {y.shape[0]} rows with "
                f"{np.unique(y).shape[0]} classes ({exc})"
            ) from exc
        val_mask = np.zeros(y.shape[0], dtype=bool)
        val_mask[val] = True
        return val_mask

    def _unit_scores(self, model, X_val, ranked, n_units):
        out = np.asarray(layer_output(model, X_val, ranked))
        if out.ndim < 2 or out.shape[1] != n_units:
            raise ValueError(
                f"The output of {ranked!r} has shape {out.shape}; expected "
                f"{n_units} units along axis 1."
            )
        axes = (0,) + tuple(range(2, out.ndim))
        mean = out.mean(axis=axes, dtype=np.float64)
        if self.criterion == "mean":
            return mean, np.argsort(mean, kind="stable")
        apoz = (out <= 0).mean(axis=axes)
        return apoz, np.lexsort((mean, -apoz))

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Train on the training split, prune ``layer``, fine-tune on validation.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training rows, possibly poisoned.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : FinePruning
        """
        self._check_estimator_and_layer()
        X, y = self._validate_training_data(X, y)
        rng = check_random_state(self.random_state)
        val_mask = self._split(y, rng)
        X_train, y_train = self._rows(X, ~val_mask), y[~val_mask]
        X_val, y_val = self._rows(X, val_mask), y[val_mask]
        model = self._make_estimator()
        net = _final_net(model)

        seed = None if self.random_state is None else \
            int(rng.randint(np.iinfo(np.int32).max))
        with _torch.forked_rng(seed, getattr(net, "device", None)):
            model.fit(X_train, y_train)
            module = net.module_
            target = _check_layer(module, self.layer)
            n_units = int(target.weight.shape[0])
            ranked = _ranked_layer(module, self.layer)
            # the validation rows as the net sees them, transformed once (the
            # preprocessing, an embedder say, is fixed from here on)
            _, Z_val = final_step(model, X_val)
            scores, order = self._unit_scores(net, Z_val, ranked, n_units)

            def accuracy():
                return float(accuracy_score(y_val, net.predict(Z_val)))

            mask = torch.ones(n_units, dtype=target.weight.dtype,
                              device=target.weight.device)

            def hook(_module, _inputs, output):
                shape = (1, n_units) + (1,) * (output.dim() - 2)
                return output * mask.view(shape)

            handle = target.register_forward_hook(hook)
            try:
                acc_before = acc_pruned = accuracy()
                n_pruned = 0
                for unit in order[:n_units - 1]:
                    mask[unit] = 0
                    acc = accuracy()
                    if acc_before - acc > self.accuracy_drop + _TOL:
                        mask[unit] = 1
                        break
                    n_pruned += 1
                    acc_pruned = acc
            finally:
                handle.remove()

            pruned = np.asarray(order[:n_pruned], dtype=np.intp)
            if n_pruned:
                weight_mask = torch.ones_like(target.weight)
                weight_mask[torch.as_tensor(pruned, device=weight_mask.device)] = 0
                prune.custom_from_mask(target, "weight", weight_mask)
                if getattr(target, "bias", None) is not None:
                    prune.custom_from_mask(target, "bias", mask.clone())

            if self.fine_tune_epochs > 0:
                self._fine_tune(net, Z_val, y_val)
            acc_after = accuracy() if self.fine_tune_epochs > 0 else acc_pruned

        self.estimator_ = model
        self.support_mask_ = np.ones(y.shape[0], dtype=bool)
        self.validation_mask_ = val_mask
        self.n_iter_ = 1
        self.n_units_ = n_units
        self.unit_scores_ = scores
        self.pruned_units_ = pruned
        self.n_pruned_ = int(n_pruned)
        self.ranked_layer_ = ranked
        self.validation_accuracy_before_ = acc_before
        self.validation_accuracy_pruned_ = acc_pruned
        self.validation_accuracy_after_ = acc_after
        return self

    def _fine_tune(self, net, Z_val, y_val):
        old = {"max_epochs": net.max_epochs, "lr": net.lr}
        new = {"max_epochs": self.fine_tune_epochs}
        if self.fine_tune_lr is not None:
            new["lr"] = self.fine_tune_lr
        net.set_params(**new)
        try:
            net.partial_fit(Z_val, y_val)
        finally:
            net.set_params(**old)

"""WitchesBrew: clean-label targeted poisoning by gradient matching."""

import warnings
from collections import Counter
from numbers import Integral, Real

import numpy as np
import torch
from imblearn.base import BaseSampler
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted
from torch.nn import functional as F

from ..nets import make_mlp_classifier
from ..utils import _torch
from ..utils._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
)
from ..utils._frozen import prefit_estimator
from ..utils._labels import encode_labels
from ..utils._seeding import seed_unseeded
from ..utils._validation import check_bounds
from ._base import _AttackSamplerMixin, finder_param, resolve_finder
from ._targets import select_targets

__all__ = ["WitchesBrew"]


def _augment(x, image_shape, max_shift, generator):
    """Differentiable random flips and shifts of flat image rows."""
    n = x.shape[0]
    img = x.reshape((n,) + tuple(image_shape))
    squeeze = img.dim() == 3
    if squeeze:
        img = img.unsqueeze(1)
    h, w = img.shape[-2:]
    draws = torch.rand(n, 3, generator=generator, device=x.device, dtype=x.dtype)
    flip = torch.where(draws[:, 0] < 0.5, -1.0, 1.0)
    shift = (draws[:, 1:] * 2 - 1) * max_shift
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = flip
    theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = shift[:, 0] * 2 / w
    theta[:, 1, 2] = shift[:, 1] * 2 / h
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    if squeeze:
        out = out.squeeze(1)
    return out.reshape(n, -1)


class WitchesBrew(_AttackSamplerMixin, BaseSampler):
    """Witches' Brew: clean-label targeted poisoning by gradient matching.

    Read more in the :ref:`User Guide <attacks>`.

    Geiping et al., "Witches' Brew: Industrial Scale Data Poisoning via
    Gradient Matching", ICLR 2021, as used in the subpopulation paper's
    Sec. 6.1 and Table 9. The attacker wants a few **targets** (inputs
    that are not in the training set, e.g. test images) classified as an
    **intended class**. It perturbs a budgeted fraction of the training rows
    *of the intended class*, within an l-infinity ball and without changing
    their labels, so that the training gradient of those rows points the
    same way as the gradient that would move the targets to the intended
    class:

    ``min_delta 1 - <g_t, g_p(delta)> / (||g_t|| ||g_p(delta)||)``, with
    ``g_t = grad_theta CE(f(x_t), y_intended)`` (mean over targets) and
    ``g_p = grad_theta CE(f(x_p + delta), y_p)`` (mean over poisons), over
    all parameters of a surrogate net trained on the clean data; signed Adam,
    a step decay at 3/8, 5/8 and 7/8 of the iterations, ``restarts``
    restarts keeping the lowest final loss, and differentiable flips and
    shifts of image rows.

    As a sampler it returns the training rows **in place**: same rows, same
    labels, same order, with the budgeted rows perturbed (``poison_mask_``
    marks them). A victim trained on them from scratch should then classify
    the targets as intended; :meth:`validate` measures that.

    Parameters
    ----------
    subpopulation : finder, default=None
        Used only when ``targets=None``: the targets are then chosen among
        the received rows by :func:`~skpoison.attacks.select_targets`, all
        from this finder's target subpopulation (fitted on the rows of the
        targets' class), or at random from one class when ``None`` and no
        finder step comes right before the attack in a
        :class:`skpoison.pipeline.Pipeline` (a finder step there is used as
        this parameter).

    targets : array-like, default=None
        The targets: a 2-D array of shape (n_targets, n_features) of target
        inputs (the paper's setting: held-out rows), or a 1-D integer array
        of row indices into the ``X`` received by ``fit_resample``. ``None``
        selects ``n_targets`` of the received rows (see ``subpopulation``);
        those rows stay in the training set with their true labels, which
        makes the attack harder than with held-out targets.

    n_targets : int, default=30
        Number of targets selected when ``targets=None`` (the paper's 30).

    intended_class : label, default=None
        The class the targets should be given. ``None`` uses the class,
        other than the one the surrogate predicts for most targets, with the
        highest mean surrogate probability on the targets.

    estimator : skorch classifier, default=None
        The surrogate (and victim) network: a
        :class:`~skpoison.nets.SeededNeuralNetClassifier` or any skorch
        ``NeuralNetClassifier`` whose ``module_`` maps float32 rows to
        logits. A net wrapped in :class:`sklearn.frozen.FrozenEstimator` is
        used as is (the attacker's pretrained model); any other is cloned,
        seeded from ``random_state`` and trained on the received rows. (A
        fitted net that is not frozen is still used as is, with a
        ``FutureWarning``; from skpoison 0.2 it will be cloned and trained.) ``None`` uses
        ``make_mlp_classifier((64,), max_epochs=20)``.

    budget : float in (0, 1], default=0.01
        Fraction of the received rows that are perturbed (the paper: 1 %).

    eps : float, default=16
        Radius of the l-infinity ball, in pixel units out of 255: a feature
        moves by at most ``eps / 255 * scale``.

    scale : float, default=None
        The width of the data's value range: 255 for raw pixels, 1 for
        pixels in [0, 1], the range of any other data. ``None`` uses 255
        when ``X`` has values above 1, else 1.

    bounds : "auto", tuple (low, high) or None, default="auto"
        Valid range of the perturbed features (scalars or arrays of shape
        (n_features,)). ``"auto"`` uses the smallest and largest value of
        the received ``X``; ``None`` leaves them unbounded.

    n_iter : int, default=250
        Signed-Adam iterations per restart (250 in Geiping et al.'s reference
        code, ``poisoning-gradient-matching``; "the reference" below).

    restarts : int, default=8
        Independent restarts; the one with the lowest final loss is kept.

    lr : float, default=0.4
        Adam step size as a fraction of the radius ``eps``. The reference's
        ``tau = 0.1`` is in units of standardised CIFAR-10 pixels (std about
        0.25 of the range), where ``eps = 16`` is about 0.25: 0.4 of it.

    augment : bool, default=True
        Differentiable data augmentation (random horizontal flips and shifts
        of up to 1/8 of the image size) of the poisons at every iteration.
        Applies only when ``image_shape`` is given.

    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of the flat
        image rows; needed for ``augment``.

    poison_selection : {"random", "max_gradient"}, default="random"
        Which rows of the intended class get perturbed: drawn at random (the
        reference's ``_choose_poisons_randomly``), or those with the largest
        surrogate gradient norm.

    batch_size : int, default=512
        Poisons per gradient-matching batch (the reference's ``pbatch``).

    device : str, torch.device or None, default=None
        Where the surrogate is trained and the poisons are crafted. ``None``
        uses the net's own ``device`` (skorch's parameter; the default net's
        is the CPU). A device is set on the unfitted surrogate (and on the
        victims :meth:`validate` trains); a fitted net used as is must
        already be on it. Crafting keeps every tensor and the random
        generator on that device; only the final perturbation comes back to
        the host. The same ``random_state`` gives the same poisons on a given
        device (different devices draw different random numbers).

    random_state : int, RandomState instance or None, default=None
        Seeds target selection, the surrogate (when unseeded), the poison
        draw, the initial perturbations and the augmentation.

    Attributes
    ----------
    estimator_ : skorch classifier
        The surrogate the poisons were crafted on.
    targets_ : ndarray of shape (n_targets, n_features)
        The target inputs.
    target_indices_ : ndarray of int or None
        Their row indices in the received ``X``, or ``None`` when explicit
        target inputs were given.
    intended_class_ : label
        The class the targets should be given.
    poison_indices_ : ndarray of int, shape (`n_poison_`,)
        Sorted indices of the perturbed rows.
    poison_mask_ : ndarray of bool, shape (n_samples,)
        ``True`` on the perturbed rows.
    sample_indices_ : ndarray of int, shape (n_samples,)
        ``arange(n_samples)``: every returned row is the received row.
    n_poison_ : int
        Number of perturbed rows.
    perturbation_ : ndarray of shape (`n_poison_`, n_features)
        The perturbation added to each perturbed row.
    losses_ : ndarray of shape (n_iter,)
        The gradient-matching loss at each iteration of the best restart.
    restart_losses_ : ndarray of shape (restarts,)
        The final loss of each restart.
    eps_ : float
        The radius in data units, ``eps / 255 * scale``.
    classes_ : ndarray
        Class labels seen in ``y``.
    sampling_strategy_ : dict
        Number of perturbed rows per class.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of str
        Names of the features, when ``X`` is a DataFrame with string names.

    See Also
    --------
    select_targets : Choose targets within one subpopulation or at random.
    skpoison.nets.make_mlp_classifier : The default surrogate.

    Notes
    -----
    The surrogate is put in evaluation mode while crafting (dropout off) and
    its parameters are never changed. Ensembles and retraining during the
    attack (the reference's ``--ensemble``, ``--step``) are not implemented;
    the paper uses an ensemble of 1.

    References
    ----------
    .. [1] J. Geiping, L. Fowl, W. R. Huang, W. Czaja, G. Taylor, M. Moeller
       and T. Goldstein, "Witches' Brew: Industrial Scale Data Poisoning via
       Gradient Matching", ICLR 2021. Reference code:
       https://github.com/JonasGeiping/poisoning-gradient-matching.
    .. [2] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, Sec. 6.1 and
       Table 9 (targets within one subpopulation).

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.attacks import WitchesBrew
    >>> from skpoison.nets import make_mlp_classifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(0, 1, (200, 4))
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> attack = WitchesBrew(targets=X[:2] * 0 + 0.3, intended_class=1,
    ...                      estimator=make_mlp_classifier((8,), max_epochs=5),
    ...                      budget=0.05, n_iter=5, restarts=1, random_state=0)
    >>> X_res, y_res = attack.fit_resample(X, y)
    >>> X_res.shape, attack.n_poison_, bool(np.all(y_res == y))
    ((200, 4), 10, True)
    >>> bool(np.abs(X_res - X).max() <= attack.eps_ + 1e-12)
    True
    """

    _sampling_type = "poisoning"

    _parameter_constraints = {  # noqa: RUF012 (scikit-learn's convention)
        "subpopulation": [HasMethods(["fit", "predict"]), None],
        "targets": ["array-like", None],
        "n_targets": [Interval(Integral, 1, None, closed="left")],
        "intended_class": "no_validation",
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "budget": [Interval(Real, 0, 1, closed="right")],
        "eps": [Interval(Real, 0, None, closed="left")],
        "scale": [Interval(Real, 0, None, closed="neither"), None],
        "bounds": [StrOptions({"auto"}), tuple, None],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "restarts": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "augment": ["boolean"],
        "image_shape": [tuple, None],
        "poison_selection": [StrOptions({"random", "max_gradient"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device, None],
        "random_state": ["random_state"],
    }

    def __init__(self, subpopulation=None, *, targets=None, n_targets=30,
                 intended_class=None, estimator=None, budget=0.01, eps=16,
                 scale=None, bounds="auto", n_iter=250, restarts=8, lr=0.4,
                 augment=True, image_shape=None, poison_selection="random",
                 batch_size=512, device=None, random_state=None):
        self.subpopulation = subpopulation
        self.targets = targets
        self.n_targets = n_targets
        self.intended_class = intended_class
        self.estimator = estimator
        self.budget = budget
        self.eps = eps
        self.scale = scale
        self.bounds = bounds
        self.n_iter = n_iter
        self.restarts = restarts
        self.lr = lr
        self.augment = augment
        self.image_shape = image_shape
        self.poison_selection = poison_selection
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_resample(self, X, y, **params):
        """Return the training rows with the budgeted rows perturbed in place.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The victim's training rows (a copy is returned; ``X`` is never
            modified).
        y : array-like of shape (n_samples,)
            Their labels (returned unchanged).
        **params : dict
            Unused; kept for imbalanced-learn's signature.

        Returns
        -------
        X_resampled : array-like or DataFrame of shape (n_samples, n_features)
            The received rows in order, ``poison_mask_`` rows perturbed.
            Integer input comes back as float64.
        y_resampled : array-like of shape (n_samples,)
            ``y``, unchanged.
        """
        # the attacks' shared prologue: numeric rows (a DataFrame's other
        # columns named in the error), labels, the caller's containers back
        return self._validated_resample(
            X, y, lambda _X_given, X, y: self._fit_resample(X, y))

    # ------------------------------------------------------------ pieces
    def _resolve_scale_bounds(self, X):
        scale = self.scale
        if scale is None:
            scale = 255.0 if X.size and float(np.max(X)) > 1 else 1.0
        if isinstance(self.bounds, str):
            low, high = float(np.min(X)), float(np.max(X))
        elif self.bounds is None:
            low, high = -np.inf, np.inf
        else:
            low, high = check_bounds(self.bounds, X.shape[1])
        return float(scale), low, high

    def _surrogate(self, X, y, rng):
        estimator = self.estimator
        if estimator is None:
            estimator = make_mlp_classifier((64,), max_epochs=20)
        inner = estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator
        if not _torch.is_skorch_net(inner):  # before asking whether it is fitted
            raise TypeError(
                "estimator must be a skorch classifier with a torch module_ "
                f"(e.g. skpoison.nets.make_mlp_classifier); got "
                f"{type(inner).__name__}."
            )
        prefit = prefit_estimator(estimator, param="estimator", owner="WitchesBrew",
                                  legacy_fitted=True, is_fitted=_torch.is_fitted_net)
        if prefit is not None:
            net = prefit
            if self.device is not None:
                want = _torch.resolve_device(self.device)
                have = _torch.module_device(net.module_)
                if (want.type, want.index or 0) != (have.type, have.index or 0):
                    raise ValueError(
                        f"device={self.device!r}, but the fitted estimator's "
                        f"module is on {str(have)!r}; a fitted net is used as is: "
                        "move it (net.set_params(device=...)) or leave device=None."
                    )
        else:
            net = seed_unseeded(self._on_device(estimator), rng).fit(X, y)
        return net

    def _on_device(self, net):
        """An unfitted clone of ``net`` on ``device`` (``net`` when None)."""
        if self.device is None:
            return net
        _torch.resolve_device(self.device)  # a clear error for a bad device
        return clone(net).set_params(device=self.device)

    def _resolve_targets(self, X, y, rng):
        """Target inputs and their indices (None for explicit inputs)."""
        targets = self.targets
        classes = np.unique(y)
        finder = resolve_finder(self, required=False)
        if targets is not None and getattr(self, "_bound_finder", None) is not None:
            raise ValueError(
                "WitchesBrew was given targets, so "
                f"{finder_param(self)} before it in the pipeline would choose "
                "nothing: remove that step, or set targets=None to choose the "
                "targets within its subpopulation."
            )
        if targets is not None:
            arr = np.asarray(targets)
            if arr.ndim == 1 and arr.dtype.kind in "iu":
                if arr.size == 0 or arr.min() < 0 or arr.max() >= X.shape[0]:
                    raise ValueError(
                        "targets: row indices must be non-empty and within "
                        f"[0, {X.shape[0]}); got {arr.tolist()[:10]}."
                    )
                return X[arr], arr.astype(np.intp)
            arr = check_array(targets, dtype="numeric", input_name="targets")
            if arr.shape[1] != X.shape[1]:
                raise ValueError(
                    f"targets has {arr.shape[1]} features but X has {X.shape[1]}."
                )
            return arr, None
        target_class = None
        if self.intended_class is not None:
            others = [c for c in classes if c != self.intended_class
                      and np.sum(y == c) >= self.n_targets]
            if not others:
                raise ValueError(
                    f"targets=None: no class other than intended_class="
                    f"{self.intended_class!r} has n_targets={self.n_targets} rows."
                )
            target_class = others[rng.randint(len(others))]
        mode = "random" if finder is None else "subpopulation"
        idx = select_targets(X, y, n=self.n_targets, mode=mode,
                             subpopulation=finder,
                             target_class=target_class, random_state=rng)
        return X[idx], idx

    def _resolve_intended(self, net, X_t):
        classes = np.asarray(net.classes_)
        if self.intended_class is not None:
            hits = np.flatnonzero(classes == self.intended_class)
            if hits.size == 0:
                raise ValueError(
                    f"intended_class={self.intended_class!r} is not a class of "
                    f"the data; classes are {classes.tolist()}."
                )
            return classes[hits[0]], int(hits[0])
        proba = np.asarray(net.predict_proba(X_t.astype(np.float32)))
        majority = np.bincount(proba.argmax(axis=1), minlength=len(classes)).argmax()
        mean = proba.mean(axis=0)
        mean[majority] = -np.inf
        code = int(np.argmax(mean))
        return classes[code], code

    @staticmethod
    def _grads(module, params, x, target, create_graph=False):
        loss = F.cross_entropy(module(x), target)
        return torch.autograd.grad(loss, params, create_graph=create_graph)

    def _choose_poisons(self, candidates, n_poison, module, X, y_code, rng):
        if self.poison_selection == "random" or n_poison == candidates.size:
            return np.sort(rng.choice(candidates, size=n_poison, replace=False))
        # largest per-row gradient norm (vmapped, norms reduced on the device)
        named = {n: p for n, p in module.named_parameters() if p.requires_grad}
        norms = _torch.per_sample_gradients(
            module, F.cross_entropy, named, X[candidates], y_code[candidates],
            batch_size=self.batch_size, device=_torch.module_device(module),
            reduce="norm")
        order = np.argsort(-norms, kind="stable")
        return np.sort(candidates[order[:n_poison]])

    def _brew(self, module, params, x_p, y_p, target_grad, target_norm, eps,
              low, high, generator):
        """One restart: signed Adam on delta; returns (delta, losses)."""
        delta = torch.randn(x_p.shape, generator=generator, dtype=x_p.dtype,
                            device=x_p.device) * eps
        delta = delta.clamp(-eps, eps)
        delta = (torch.clamp(x_p + delta, low, high) - x_p).requires_grad_(True)
        optimizer = torch.optim.Adam([delta], lr=self.lr * eps)
        n = self.n_iter
        scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=[int(n // 2.667), int(n // 1.6), int(n // 1.142)],
            gamma=0.1)
        use_aug = self.augment and self.image_shape is not None
        max_shift = max(1.0, self.image_shape[-1] / 8) if use_aug else 0.0
        # losses stay on the device: one host copy per restart, not per step
        losses = torch.empty(n, dtype=x_p.dtype, device=x_p.device)
        for it in range(n):
            optimizer.zero_grad()
            total, n_batches = 0.0, 0
            for start in range(0, x_p.shape[0], self.batch_size):
                sl = slice(start, start + self.batch_size)
                x = x_p[sl] + delta[sl]
                if use_aug:
                    x = _augment(x, self.image_shape, max_shift, generator)
                grads = self._grads(module, params, x, y_p[sl], create_graph=True)
                dot = sum((gt * gp).sum() for gt, gp in zip(target_grad, grads))
                norm = torch.sqrt(sum((gp ** 2).sum() for gp in grads))
                loss = 1 - dot / (target_norm * norm.clamp_min(1e-12))
                loss.backward()
                total = total + loss.detach()
                n_batches += 1
            delta.grad.sign_()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                delta.clamp_(-eps, eps)
                delta.copy_(torch.clamp(x_p + delta, low, high) - x_p)
            losses[it] = total / n_batches
        return delta.detach(), _torch.to_numpy(losses, np.float64)

    def _fit_resample(self, X, y, **params):
        rng = check_random_state(self.random_state)
        self.classes_ = np.unique(y)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                "WitchesBrew needs at least two classes in y; got one class: "
                f"{self.classes_.tolist()}."
            )
        n_samples, n_features = X.shape
        if self.image_shape is not None and (
                int(np.prod(self.image_shape)) != n_features
                or not all(isinstance(s, Integral) and s > 0
                           for s in self.image_shape)):
            raise ValueError(
                f"image_shape={self.image_shape} does not match the "
                f"{n_features} features of X."
            )
        scale, low, high = self._resolve_scale_bounds(X)
        self.eps_ = float(self.eps) / 255.0 * scale
        X_t, target_idx = self._resolve_targets(X, y, rng)
        net = self._surrogate(X, y, rng)
        self.estimator_ = net
        intended, code = self._resolve_intended(net, X_t)
        self.targets_ = np.asarray(X_t)
        self.target_indices_ = target_idx
        self.intended_class_ = intended

        out_dtype = X.dtype if X.dtype.kind == "f" else np.float64
        X_res = np.array(X, dtype=out_dtype, copy=True)
        candidates = np.flatnonzero(y == intended)
        if target_idx is not None:
            candidates = np.setdiff1d(candidates, target_idx)
        n_poison = min(int(self.budget * n_samples), candidates.size)
        self.restart_losses_ = np.full(self.restarts, np.nan)
        self.losses_ = np.empty(0)
        if n_poison == 0 or self.eps == 0:
            warnings.warn(
                f"WitchesBrew perturbs nothing: budget={self.budget} of "
                f"{n_samples} rows gives {n_poison} poison rows of class "
                f"{intended!r} (eps={self.eps}).", UserWarning)
            poison_idx = np.empty(0, dtype=np.intp)
            self.perturbation_ = np.zeros((0, n_features))
        else:
            poison_idx, delta = self._craft(net, X, y, X_t, code, candidates,
                                            n_poison, low, high, rng)
            d = np.clip(delta.astype(out_dtype), -self.eps_, self.eps_)
            base = X_res[poison_idx]
            new = np.clip(np.clip(base + d, low, high), base - self.eps_,
                          base + self.eps_)
            X_res[poison_idx] = new
            self.perturbation_ = new - base
        self.poison_indices_ = poison_idx
        self.n_poison_ = int(poison_idx.size)
        self.poison_mask_ = np.zeros(n_samples, dtype=bool)
        self.poison_mask_[poison_idx] = True
        self.sample_indices_ = np.arange(n_samples)
        counts = Counter(y[poison_idx].tolist())
        self.sampling_strategy_ = {c: counts.get(c, 0) for c in self.classes_.tolist()}
        return X_res, y.copy()

    def _craft(self, net, X, y, X_t, code, candidates, n_poison, low, high, rng):
        module = net.module_
        device = _torch.module_device(module)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        generator = _torch.generator(seed, device)
        with _torch.eval_mode(module):
            params = [p for p in module.parameters() if p.requires_grad]
            x_t = _torch.as_tensor(X_t, device=device, dtype=torch.float32)
            t_t = torch.full((x_t.shape[0],), code, dtype=torch.long, device=device)
            target_grad = [g.detach() for g in self._grads(module, params, x_t, t_t)]
            target_norm = torch.sqrt(sum((g ** 2).sum() for g in target_grad))
            y_code = encode_labels(net.classes_, y)
            poison_idx = self._choose_poisons(candidates, n_poison, module, X,
                                              y_code, rng)
            x_p = _torch.as_tensor(X[poison_idx], device=device, dtype=torch.float32)
            y_p = torch.as_tensor(y_code[poison_idx], dtype=torch.long,
                                  device=device)
            low_t = _torch.as_tensor(low, device=device, dtype=torch.float32)
            high_t = _torch.as_tensor(high, device=device, dtype=torch.float32)
            best = None
            for r in range(self.restarts):
                delta, losses = self._brew(module, params, x_p, y_p, target_grad,
                                           target_norm, float(self.eps_), low_t,
                                           high_t, generator)
                self.restart_losses_[r] = losses[-1]
                if best is None or losses[-1] < best[1][-1]:
                    best = (delta, losses)
        self.losses_ = best[1]
        return poison_idx, _torch.to_numpy(best[0], np.float64)

    # ------------------------------------------------------------ validation
    def validate(self, X, y, X_target=None, *, n_models=1, estimator=None):
        """Retrain fresh victims on poisoned data; fraction of targets as intended.

        The reference's validation (``--vruns``): train a victim from
        scratch on the poisoned training rows and check whether it
        classifies the targets as ``intended_class_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The (poisoned) training rows, e.g. ``fit_resample``'s output.
        y : array-like of shape (n_samples,)
            Their labels.
        X_target : array-like of shape (n_targets, n_features), default=None
            The targets; ``None`` uses ``targets_``.
        n_models : int, default=1
            Victims trained, each with its own seed drawn from
            ``random_state`` (the paper averages over 8).
        estimator : classifier, default=None
            The victim; ``None`` uses an unfitted clone of ``estimator`` (of
            the net inside a ``FrozenEstimator``; or of the default MLP).

        Returns
        -------
        success : float
            Fraction of targets predicted as ``intended_class_``, averaged
            over the victims.
        """
        check_is_fitted(self, "intended_class_")
        if not isinstance(n_models, Integral) or n_models < 1:
            raise ValueError(f"n_models must be a positive int; got {n_models!r}.")
        X_target = self.targets_ if X_target is None else X_target
        if estimator is None:
            estimator = self.estimator
            if isinstance(estimator, FrozenEstimator):  # retrain its architecture
                estimator = estimator.estimator
            estimator = self._on_device(
                estimator if estimator is not None
                else make_mlp_classifier((64,), max_epochs=20))
        template = estimator
        rng = check_random_state(self.random_state)
        rng.randint(np.iinfo(np.int32).max)  # not the surrogate's stream
        hits = []
        for _ in range(n_models):
            victim = clone(template)
            if "random_state" in victim.get_params():
                victim.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
            victim.fit(X, y)
            hits.append(np.mean(np.asarray(victim.predict(X_target))
                                == self.intended_class_))
        return float(np.mean(hits))

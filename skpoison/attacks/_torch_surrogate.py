"""Torch (skorch) surrogates for GradientPoison and InfluencePoison.

Implements the same small protocol as
:class:`skpoison.attacks._linear.LinearSurrogate` (``fit``,
``target_gradient``, ``alignment``, ``loss``, ``start_refits``, ``refit``,
``influence_direction``, ``finalize``, ``threads``), with :mod:`torch.autograd` in
place of the closed forms, so the attack loops in ``_gradient_poison.py`` and
``_influence_poison.py`` serve both.

Two modes choose the parameters ``theta`` the loss gradients are taken
with respect to (the poisons' *inputs* always move, through the whole
network):

* ``"ll"`` (last layer, the paper's frozen-feature "LL" models): the
  parameters of the module's last submodule that owns parameters (in
  registration order: ``output`` for :class:`~skpoison.nets.MLPModule`);
  the body is frozen. Influence refits are exact damped-Newton steps on the
  last layer and the Hessian is exact (``P x P`` with ``P`` the last
  layer's parameter count), factorised once per refit.
* ``"ft"`` (full network, "FT"): all parameters. Refits train the net
  further with its own ``partial_fit``; the inverse-Hessian-vector product
  uses Hessian-vector products (double backward) and conjugate gradients
  (:func:`scipy.sparse.linalg.cg`) with damping.

All derivatives are computed on a float64 copy of the fitted module, in
evaluation mode (dropout off). The loss is the net's own ``get_loss`` (its
criterion, with skorch's ``NLLLoss``/probability convention), assumed to be
a mean over rows.
"""

import contextlib
import copy

import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse.linalg import LinearOperator, cg

from ..utils import _torch

_DTYPE = torch.float64


def last_layer_parameters(module):
    """Parameters of the last submodule (registration order) that owns any."""
    if next(module.parameters(), None) is None:
        raise ValueError("The estimator's module has no parameters.")
    name = _torch.last_parametrised_name(module)
    return list(module.get_submodule(name).parameters(recurse=False))


def _flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def _unflat(vector, like):
    out, start = [], 0
    for t in like:
        out.append(vector[start:start + t.numel()].reshape(t.shape))
        start += t.numel()
    return out


class TorchSurrogate:
    """A fitted skorch net as the attacks' surrogate (see the module docstring).

    Parameters
    ----------
    estimator : skorch.NeuralNet
        Unfitted (cloned, seeded) net; it is fitted by :meth:`fit`.
    mode : {"ll", "ft"}
        Last-layer or full-network parameters.
    seed : int
        Seeds torch around every training call (fit and refits), for nets
        without a ``random_state`` of their own.
    solver : {"auto", "exact", "cg"}, default="auto"
        Inverse-Hessian-vector product: an exact Hessian with a Cholesky
        factorisation, or conjugate gradients on Hessian-vector products.
        ``"auto"``: exact in ``"ll"`` mode, CG in ``"ft"`` mode.
    cg_maxiter : int, default=100
    cg_rtol : float, default=1e-6
    """

    def __init__(self, estimator, mode, seed, solver="auto", cg_maxiter=100,
                 cg_rtol=1e-6):
        self.estimator = estimator
        self.mode = mode
        self.seed = int(seed)
        self.solver = solver
        self.cg_maxiter = cg_maxiter
        self.cg_rtol = cg_rtol
        self._calls = 0

    # ------------------------------------------------------------- helpers
    def _train(self, method, Z, y):
        self._calls += 1
        with _torch.forked_rng(self.seed + self._calls,
                               getattr(self.estimator, "device", None)):
            method(np.asarray(Z, dtype=np.float32), y)

    def _sync(self):
        module = copy.deepcopy(self.estimator.module_).to(_DTYPE).eval()
        for p in module.parameters():
            p.requires_grad_(False)
        params = (last_layer_parameters(module) if self.mode == "ll"
                  else list(module.parameters()))
        for p in params:
            p.requires_grad_(True)
        self.module, self.params = module, params
        self.device = _torch.module_device(module)
        self.n_params = sum(p.numel() for p in params)

    def _mean_loss(self, Z, Y):
        return self.estimator.get_loss(self.module(Z), Y, X=Z, training=False)

    def _tensor(self, a, dtype=_DTYPE):
        return _torch.as_tensor(a, device=self.device, dtype=dtype)

    def _targets(self, Y):
        return _torch.as_tensor(Y, device=self.device, dtype=torch.long)

    # ------------------------------------------------------------ protocol
    def fit(self, Z, y, *, refit_next=False):
        # ``refit_next`` is for linear surrogates: a net's refits are
        # partial trainings from where it is, so it always trains first
        self._train(self.estimator.fit, Z, y)
        self.classes_ = np.asarray(self.estimator.classes_)
        self._sync()
        return self

    def target_gradient(self, Z, Y):
        """Gradient of the mean loss of ``(Z, Y)`` w.r.t. ``theta`` (list of tensors)."""
        loss = self._mean_loss(self._tensor(Z), self._targets(Y))
        return [g.detach() for g in torch.autograd.grad(loss, self.params)]

    def alignment(self, Z, Y, G):
        """``sum_i <grad_theta l(z_i, y_i), G>`` and its gradient w.r.t. each ``z_i``.

        Double backward: the parameter gradient is built with
        ``create_graph=True`` and the inner product differentiated w.r.t.
        the inputs.
        """
        n = Z.shape[0]
        Zt = self._tensor(Z).requires_grad_(True)
        loss = self._mean_loss(Zt, self._targets(Y))
        grads = torch.autograd.grad(loss, self.params, create_graph=True)
        J = sum(torch.sum(g * v) for g, v in zip(grads, G))
        if J.requires_grad:
            (gz,) = torch.autograd.grad(J, Zt)
            gz = _torch.to_numpy(gz)
        else:  # e.g. a piecewise-linear path with zero second derivative
            gz = np.zeros(Z.shape)
        return n * float(J.detach()), n * gz

    def loss(self, Z, Y):
        """Mean loss of ``(Z, Y)``."""
        with torch.no_grad():
            return float(self._mean_loss(self._tensor(Z), self._targets(Y)))

    def default_reg(self, n):
        """The optimizer's ``weight_decay``, else a damping of 1e-3."""
        decay = self.estimator.get_params(deep=False).get(
            "optimizer__weight_decay", 0.0)
        return float(decay) if decay else 1e-3

    def threads(self, n_rows):
        """Torch sets its own threads: the caller's settings stay."""
        return contextlib.nullcontext()

    # --------------------------------------------------------- second order
    def _objective_grad(self, lam):
        """Flat gradient (with graph) of the mean training loss + lam/2 ||theta||^2."""
        loss = self._mean_loss(self._Z_all, self._Y_all)
        if lam:
            loss = loss + lam / 2 * sum(torch.sum(p ** 2) for p in self.params)
        grads = torch.autograd.grad(loss, self.params, create_graph=True)
        return loss, _flat(grads)

    def hessian(self, lam=0.0, chunk=256, grad=None):
        """Exact Hessian of the mean training loss + ``lam I``, as an ndarray.

        Rows are Hessian-vector products with the unit vectors, batched
        (``is_grads_batched``) in chunks of ``chunk``. ``grad``: the flat
        gradient (with graph) of the objective with ``lam``, as
        :meth:`_objective_grad` returns it; differentiating it gives the
        ``lam I`` term as well. ``None``: the loss's gradient is computed here
        and ``lam`` added to the diagonal.
        """
        add_lam = grad is None
        g = self._objective_grad(0.0)[1] if add_lam else grad
        P = g.numel()
        rows = []
        eye = torch.eye(P, dtype=_DTYPE, device=self.device)
        for start in range(0, P, chunk):
            block = eye[start:start + chunk]
            try:
                parts = torch.autograd.grad(g, self.params, grad_outputs=block,
                                            retain_graph=True,
                                            is_grads_batched=True)
                rows.append(torch.cat([p.reshape(block.shape[0], -1)
                                       for p in parts], dim=1))
            except RuntimeError:  # an op without a batching rule
                for v in block:
                    parts = torch.autograd.grad(g, self.params, grad_outputs=v,
                                                retain_graph=True)
                    rows.append(_flat(parts)[None])
        H = _torch.to_numpy(torch.cat(rows))
        H = (H + H.T) / 2
        if add_lam:
            H[np.diag_indices_from(H)] += lam
        return H

    def hvp_operator(self, lam):
        """``v -> (H + lam I) v`` as a scipy LinearOperator (double backward)."""
        _, g = self._objective_grad(0.0)
        P = g.numel()

        def matvec(v):
            vt = self._tensor(np.ravel(v))
            parts = torch.autograd.grad(g, self.params, grad_outputs=vt,
                                        retain_graph=True)
            return _torch.to_numpy(_flat(parts)) + lam * np.ravel(v)

        return LinearOperator((P, P), matvec=matvec, dtype=np.float64)

    def solve(self, b, lam, solver):
        """``(H + lam I)^{-1} b`` with the exact Hessian or CG."""
        if solver == "auto":
            solver = "exact" if self.mode == "ll" else "cg"
        if solver == "exact":
            return cho_solve(cho_factor(self.hessian(lam)), b)
        x, _info = cg(self.hvp_operator(lam), b, rtol=self.cg_rtol,
                      maxiter=self.cg_maxiter)
        return x

    # -------------------------------------------------------------- refits
    @property
    def refit_is_solve(self):
        """Whether ``refit`` solves for the model (``"ll"``: Newton to
        convergence) rather than training further (``"ft"``: ``partial_fit``)."""
        return self.mode != "ft"

    def start_refits(self, Z_src, Y_all):
        n_src, d = Z_src.shape
        Z = np.empty((Y_all.shape[0], d))
        Z[:n_src] = Z_src
        self._Z_np, self._n_src = Z, n_src
        self._y_all = self.classes_[Y_all]
        self._Y_all = self._targets(Y_all)
        self._Z_all = self._tensor(Z)

    def refit(self, Z_p):
        """Refit on the fixed rows and the poisons ``Z_p``, warm-started.

        ``"ll"``: damped Newton on the last layer (exact Hessian) for
        ``mean loss + lam/2 ||theta||^2`` with ``lam`` the net's weight
        decay (or 1e-3). ``"ft"``: the net's ``partial_fit``.
        """
        self._Z_np[self._n_src:] = Z_p
        # only the poison rows changed: update them on the device, in place
        self._Z_all[self._n_src:] = self._tensor(self._Z_np[self._n_src:])
        if self.mode == "ft":
            self._train(self.estimator.partial_fit, self._Z_np, self._y_all)
            self._sync()
            return
        lam = self.default_reg(self._Z_np.shape[0])
        for _ in range(20):
            loss, g = self._objective_grad(lam)
            H = self.hessian(lam, grad=g)
            g_host = _torch.to_numpy(g)
            step = cho_solve(cho_factor(H), g_host)
            decrease = float(g_host @ step)
            old = [p.detach().clone() for p in self.params]
            t = 1.0
            while True:
                with torch.no_grad():
                    for p, p0, s in zip(self.params, old,
                                        _unflat(self._tensor(step), old)):
                        p.copy_(p0 - t * s)
                    new = self._mean_loss(self._Z_all, self._Y_all)
                    new = new + lam / 2 * sum(torch.sum(p ** 2) for p in self.params)
                if float(new) <= float(loss.detach()) - 1e-4 * t * decrease or t < 1e-8:
                    break
                t /= 2
            if t * np.max(np.abs(step)) <= 1e-9 * (1.0 + max(
                    float(p.detach().abs().max()) for p in self.params)):
                break

    def influence_direction(self, Z_t, Y_t, lam):
        """``(H + lam I)^{-1} grad_theta L_t`` on the last refit's rows."""
        g_t = _torch.to_numpy(_flat(self.target_gradient(Z_t, Y_t)))
        v = self.solve(g_t, lam, self.solver)
        return _unflat(self._tensor(v), self.params)

    def finalize(self):
        """The fitted net; in ``"ll"`` mode with the refitted last layer copied in."""
        if self.mode == "ll" and hasattr(self, "_Z_all"):
            target = last_layer_parameters(self.estimator.module_)
            with torch.no_grad():
                for p, q in zip(target, self.params):
                    p.copy_(q.to(p.dtype))
        return self.estimator

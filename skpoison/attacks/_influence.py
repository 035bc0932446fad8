"""InfluencePoison: influence-function optimisation of poison features."""

from numbers import Integral, Real

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from sklearn.base import clone

from ..utils._compat import Interval
from . import _linear
from ._base import _SHARED_ATTACK_ATTRS_DOC, _SHARED_ATTACK_PARAMS_DOC
from ._gradient import _OPTIMISED_ATTRS_DOC, _OPTIMISED_PARAMS_DOC, _OptimisedAttack


def influence_direction(Z, Y, W, b, lam, Z_target, Y_target):
    """``v = H^{-1} grad_theta L_t``, as a (K, d + 1) matrix.

    ``H`` is the Hessian of the mean regularised training loss on ``(Z, Y)``
    (:func:`skpoison.attacks._linear.hessian`), factorised once with
    Cholesky.
    """
    H = _linear.hessian(Z, W, b, lam)
    g_t = _linear.param_gradient(Z_target, Y_target, W, b)
    v = cho_solve(cho_factor(H), g_t.ravel())
    return v.reshape(g_t.shape)


class InfluencePoison(_OptimisedAttack):
    __doc__ = """Influence-function subpopulation poisons (Koh, Steinhardt & Liang).

    Starts from :class:`~skpoison.attacks.LabelFlip`'s poisons and moves their
    features by projected gradient ascent on the target loss ``L_t`` (mean
    cross-entropy of the attacker's target rows with their true labels) of
    a linear model ``theta`` fitted on the attacker's rows and the current
    poisons (paper-spec §6.2). By the implicit function theorem,

    ``grad_{x_i} L_t ~ -grad_theta L_t^T H^{-1} grad_x grad_theta l(x_i, y_i)``

    with ``H`` the exact Hessian of the mean regularised training loss,
    ``(1/n) sum s_i (1 - s_i) x~_i x~_i^T + lam I`` for logistic regression
    (Kronecker form for softmax), ``lam = 1 / (C n)`` as in scikit-learn's
    objective (intercepts unpenalised). This is ``n`` times the exact
    derivative of ``L_t`` w.r.t. ``x_i`` (the derivative per unit weight of
    the poison in the mean loss), so ``step_size`` does not depend on the
    number of rows. Everything is closed form: ``H v = grad_theta L_t`` is
    solved with one Cholesky factorisation per refit, and each poison's
    gradient is then a cheap product. Binary and multiclass (softmax)
    models are supported.

    The model is refitted (warm-started when the estimator supports it)
    every ``refit_every`` steps rather than after every step, to keep the
    attack cheap; between refits the gradients use the last fitted model.

    Parameters
    ----------""" + _SHARED_ATTACK_PARAMS_DOC + _OPTIMISED_PARAMS_DOC + """
    n_iter : int, default=250
        Number of gradient steps (the subpopulation paper uses 250).

    step_size : float, default=0.1
        Step length in standardised units (the reference implementation's
        default is 0.1).

    reg : float or None, default=None
        Ridge strength ``lam`` of the Hessian. ``None`` uses the estimator's
        own: ``1 / (C n)`` for LogisticRegression (0 without penalty),
        ``alpha`` for SGDClassifier. A tiny jitter (1e-10) is always added.

    refit_every : int, default=10
        Refit the model on the attacker's rows and the current poisons every
        this many steps.

    Attributes
    ----------""" + _SHARED_ATTACK_ATTRS_DOC + _OPTIMISED_ATTRS_DOC + """
        Here the target loss ``L_t`` of each refitted model: before the first
        step, after every ``refit_every`` steps and after the last step.

    See Also
    --------
    LabelFlip : The seeds, without optimisation.
    GradientPoison : The paper's cheaper gradient optimisation.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.attacks import InfluencePoison
    >>> from skpoison.subpopulations import ClusterMatch
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(4, 1, (20, 2))])
    >>> y = np.r_[np.zeros(40, int), np.ones(20, int)]
    >>> attack = InfluencePoison(ClusterMatch(n_clusters=2, target="smallest"),
    ...                          eps=0.5, n_iter=20, random_state=0)
    >>> X_res, y_res = attack.fit_resample(X, y)
    >>> X_res.shape, attack.n_poison_
    ((80, 2), 20)
    >>> bool(attack.objective_[-1] > attack.objective_[0])
    True
    """

    _parameter_constraints = {
        **_OptimisedAttack._parameter_constraints,
        "reg": [Interval(Real, 0, None, closed="left"), None],
        "refit_every": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, subpopulation, *, alpha=1.0, label="flip", aux=None,
                 count_on="train", estimator=None, n_iter=250, step_size=0.1,
                 eps=0.1, bounds=None, feature_mask="continuous", reg=None,
                 refit_every=10, random_state=None):
        self.subpopulation = subpopulation
        self.alpha = alpha
        self.label = label
        self.aux = aux
        self.count_on = count_on
        self.estimator = estimator
        self.n_iter = n_iter
        self.step_size = step_size
        self.eps = eps
        self.bounds = bounds
        self.feature_mask = feature_mask
        self.reg = reg
        self.refit_every = refit_every
        self.random_state = random_state

    def _optimise(self, X_p, Y_poison, Z_src, Y_src, target, estimator,
                  standardise, project, move):
        model = clone(estimator)
        if "warm_start" in model.get_params(deep=False):
            model.set_params(warm_start=True)
        Y_all = np.concatenate([Y_src, Y_poison])
        y_all = estimator.classes_[Y_all]
        Z_t, Y_t = Z_src[target], Y_src[target]
        n = Y_all.shape[0]
        history = []

        def refit(X_p):
            model.fit(np.vstack([Z_src, standardise(X_p)]), y_all)
            W, b = _linear.model_params(model)
            history.append(_linear.cross_entropy(Z_t, Y_t, W, b))
            return W, b

        for it in range(self.n_iter):
            if it % self.refit_every == 0:
                W, b = refit(X_p)
                lam = (_linear.l2_strength(model, n) if self.reg is None
                       else float(self.reg))
                Z_all = np.vstack([Z_src, standardise(X_p)])
                V = influence_direction(Z_all, Y_all, W, b, lam, Z_t, Y_t)
            # grad_x L_t = -grad_x [r_i^T V [x_i; 1]]
            _, grad = _linear.inner_product_and_grad(standardise(X_p), Y_poison,
                                                     W, b, V)
            X_p = project(X_p - move * grad)
        refit(X_p)
        self.estimator_ = model
        self.objective_ = np.asarray(history)
        self.n_iter_ = self.n_iter
        return X_p

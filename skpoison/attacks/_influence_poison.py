"""InfluencePoison: influence-function optimisation of poison features."""

from numbers import Integral, Real

import numpy as np
from imblearn.utils import Substitution

from ..utils._compat import Interval, StrOptions
from ._base import _ATTACK_DOCS
from ._gradient_poison import _OPTIMISED_DOCS, _OptimisedAttack, _steps


@Substitution(**_ATTACK_DOCS, **_OPTIMISED_DOCS)
class InfluencePoison(_OptimisedAttack):
    """Influence-function subpopulation poisons (Koh, Steinhardt & Liang).

    Read more in the :ref:`User Guide <attacks>`.

    Starts from :class:`~skpoison.attacks.LabelFlip`'s poisons and moves their
    features by projected gradient ascent on the target loss ``L_t`` (mean
    cross-entropy of the attacker's target rows with their true labels) of
    a linear model ``theta`` fitted on the attacker's rows and the current
    poisons (the paper's Sec. 5, Table 8; Koh, Steinhardt and Liang, 2022). By the implicit function theorem,

    ``grad_{{x_i}} L_t ~ -grad_theta L_t^T H^{{-1}} grad_x grad_theta l(x_i, y_i)``

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

    The model is refitted, warm-started from its last solution, every
    ``refit_every`` steps rather than after every step; between refits the
    gradients use the last fitted model. For ``LogisticRegression`` (L2 or no
    penalty) and binary ``SGDClassifier(loss="log_loss")`` a refit is a few
    exact damped-Newton steps on the estimator's own objective (from a
    nearby solution, usually two, each one Hessian and one Cholesky solve),
    not a full scikit-learn fit: the same minimiser, found more precisely,
    at a small fraction of the cost. Other settings (``class_weight``, L1,
    one-vs-rest) refit with the estimator's ``fit`` (``warm_start=True``).
    ``estimator_`` is always a genuine fitted estimator (one warm-started
    fit from the last Newton solution).

    With a skorch net (``mode="ll"``) the Hessian of the last layer is
    exact and refits are damped-Newton steps on the last layer (the body is
    frozen); with ``mode="ft"`` refits train the whole net further with its
    ``partial_fit`` and ``H^{{-1}} grad_theta L_t`` is found by conjugate
    gradients on Hessian-vector products (double backward), damped by
    ``reg`` (see ``solver``).

    Parameters
    ----------
    {attack_params}

    {optimised_params}

    n_iter : int, default=250
        Number of gradient steps (the subpopulation paper uses 250).

    step_size : float, default=0.1
        Step length in standardised units (the default of Koh et al.'s
        reference code, ``run_gradient_em_attack.py``, is 0.1).

    reg : float or None, default=None
        Ridge strength (damping) ``lam`` of the Hessian. ``None`` uses the
        estimator's own: ``1 / (C n)`` for LogisticRegression (0 without
        penalty), ``alpha`` for SGDClassifier; for a skorch net the
        optimizer's ``weight_decay``, else 1e-3 (also the ridge of the
        last-layer Newton refits). A tiny jitter (1e-10) is always added
        for linear models.

    refit_every : int, default=10
        Refit the model on the attacker's rows and the current poisons every
        this many steps (Koh et al.'s reference code refits after every
        step). On UCI Adult with ``eps=1``, 10 keeps 99% of the mean target
        damage of refitting every step, 25 keeps 93%; with ``eps=0.1`` all
        give the same damage.

    backtrack : bool, default=True
        Keep the surrogate's target loss from falling between refits. The
        steps are raw gradient steps, ``refit_every`` of them on a model that
        stays fixed, so a ``step_size`` that is too large for the data can
        overshoot and lower the loss the attack is raising. With ``True``, a
        refit whose target loss is below the last kept one is undone: the
        poisons go back to the last kept refit and the step is halved.
        ``objective_`` is then non-decreasing (up to a relative 1e-9), and
        the poisons returned are the kept ones. ``False`` takes every step,
        as Koh et al.'s reference code does with its fixed step. With a
        skorch net in ``mode="ft"`` a refit trains the net further rather
        than solving for it, so there is nothing to go back to: every step
        is taken and every refit computed.

    solver : {{"auto", "exact", "cg"}}, default="auto"
        How ``H v = grad_theta L_t`` is solved for a skorch net: ``"exact"``
        builds the Hessian (batched Hessian-vector products) and factorises
        it once per refit; ``"cg"`` runs conjugate gradients on
        Hessian-vector products (for large parameter counts). ``"auto"``:
        exact with ``mode="ll"``, CG with ``mode="ft"``. Linear models always
        use the exact closed-form Hessian.

    Attributes
    ----------
    {attack_attributes}

    {optimised_attributes}

        Here the target loss ``L_t`` of the kept model at each refit: before
        the first step, after every ``refit_every`` steps and after the last
        step (non-decreasing with ``backtrack=True``).

    n_backtracks_ : int
        Refits undone because the target loss fell (see ``backtrack``).

    n_refits_ : int
        Refits actually computed. A refit is skipped when the poisons have
        not moved since the last one (pinned to corners of their ``eps`` box,
        say): the model, its Hessian and the influence direction would be the
        same (not with ``mode="ft"``, whose refits train further). Undoing a
        refit costs one more, on the kept poisons.

    See Also
    --------
    LabelFlip : The seeds, without optimisation.
    GradientPoison : The paper's cheaper gradient optimisation.

    References
    ----------
    .. [1] P. W. Koh, J. Steinhardt and P. Liang, "Stronger data poisoning
       attacks break data sanitization defenses", Machine Learning 111, 2022.
       Reference code: https://github.com/kohpangwei/data-poisoning-journal-release
       (``iterative_attack.py``, ``poison_with_influence_proj_gradient_step``).
    .. [2] P. W. Koh and P. Liang, "Understanding Black-box Predictions via
       Influence Functions", ICML 2017.
    .. [3] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, Sec. 5 and
       Table 8 (250 iterations).

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
        "backtrack": ["boolean"],
        "solver": [StrOptions({"auto", "exact", "cg"})],
    }

    def __init__(self, subpopulation=None, *, alpha=1.0, label="auto", aux=None,
                 count_on="train", estimator=None, mode="ll", n_iter=250,
                 step_size=0.1, eps=0.1, targets=None, bounds=None,
                 feature_mask="continuous",
                 reg=None, refit_every=10, backtrack=True, solver="auto",
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
        self.reg = reg
        self.refit_every = refit_every
        self.backtrack = backtrack
        self.solver = solver
        self.progress = progress
        self.random_state = random_state

    _refits_surrogate = True  # the first step refits on the rows and the poisons

    def _poison_features(self, *args, **kwargs):
        self.n_refits_ = self.n_backtracks_ = 0  # also when no step is taken
        return super()._poison_features(*args, **kwargs)

    def _torch_options(self):
        return {"solver": self.solver}

    def _optimise(self, problem):
        Z_p, surrogate = problem.Z_p, problem.surrogate
        Y_poison, project, move = problem.Y_poison, problem.project, problem.move
        Z_src, Y_src, Z_t, Y_t = problem.Z_src, problem.Y_src, problem.Z_t, problem.Y_t
        Y_all = np.concatenate([Y_src, Y_poison])
        n = Y_all.shape[0]
        lam = surrogate.default_reg(n) if self.reg is None else float(self.reg)
        surrogate.start_refits(Z_src, Y_all)
        history = []
        fitted_on = None  # the poisons of the surrogate's last refit
        accepted = None  # (poisons, target loss) at the last kept checkpoint
        shrink = 1.0
        # Skipping and undoing refits need a refit that solves for the model
        # on its rows; a fine-tuned net's refit trains it further instead.
        solves = surrogate.refit_is_solve
        backtrack = self.backtrack and solves

        def fit_model(Z_p):
            # Poisons pinned at corners of their box stop moving: refitting on
            # the same rows would only repeat the last solution, so it is
            # skipped (the model, its Hessian and V stay exactly the same).
            nonlocal fitted_on
            if solves and fitted_on is not None and np.array_equal(Z_p, fitted_on):
                return False
            surrogate.refit(Z_p)
            fitted_on = Z_p
            self.n_refits_ += 1
            return True

        def checkpoint(Z_p):
            # refit on the current poisons; if the target loss fell since the
            # last checkpoint, the steps overshot: go back, halve the step
            nonlocal accepted, shrink
            changed = fit_model(Z_p)
            loss = surrogate.loss(Z_t, Y_t) if changed else accepted[1]
            if (backtrack and accepted is not None
                    and loss < accepted[1] - 1e-9 * (1 + abs(accepted[1]))):
                Z_p, loss = accepted
                shrink /= 2
                self.n_backtracks_ += 1
                fit_model(Z_p)
            accepted = (Z_p, loss)
            history.append(loss)
            return Z_p, changed

        V = None
        for it in _steps(self.n_iter, self.progress, type(self).__name__):
            if it % self.refit_every == 0:
                Z_p, changed = checkpoint(Z_p)
                if changed:
                    V = surrogate.influence_direction(Z_t, Y_t, lam)
            # grad_x L_t = -(1/n) grad_x <V, grad_theta l(x_i, y_i)>
            _, grad = surrogate.alignment(Z_p, Y_poison, V)
            Z_p = project(Z_p - shrink * move * grad)
        Z_p, _ = checkpoint(Z_p)
        self.objective_ = np.asarray(history)
        self.n_iter_ = self.n_iter
        return Z_p

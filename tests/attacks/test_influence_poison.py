"""InfluencePoison: influence gradients vs finite differences and retraining."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from skpoison.attacks import InfluencePoison, LabelFlip, _linear
from skpoison.subpopulations import ClusterMatch

from ._problems import central_difference, problem

C = 1.0


def small_problem(seed=0, n=40):
    """A tiny, noisy (non-separable), well-conditioned binary problem."""
    rng = np.random.RandomState(seed)
    Z = rng.normal(size=(n, 2))
    y = (Z[:, 0] - 0.5 * Z[:, 1] + rng.normal(size=n) > 0).astype(int)
    return Z, y


def fit(Z, y, sample_weight=None):
    model = LogisticRegression(C=C, tol=1e-10, max_iter=10000)
    return model.fit(Z, y, sample_weight=sample_weight)


def target_loss_of(model, Z_t, y_t):
    W, b = _linear.model_params(model)
    return _linear.cross_entropy(Z_t, y_t, W, b)


@pytest.mark.parametrize("K", [1, 3])
def test_influence_gradient_matches_finite_differences(K):
    # the influence score -<H^-1 g_t, grad_theta l(x, y)> with theta, H fixed
    rng = np.random.RandomState(K)
    n, d = 30, 3
    Z = rng.normal(size=(n, d))
    Y = rng.randint(0, 2 if K == 1 else K, size=n)
    W, b = rng.normal(size=(K, d)) * 0.5, rng.normal(size=K) * 0.5
    V = _linear.influence_direction(Z, Y, W, b, 0.1, Z[:8], Y[:8])
    Zp, Yp = rng.normal(size=(4, d)), Y[-4:]

    def score(Zc):
        P = _linear.probabilities(Zc, W, b)
        R = _linear.residuals(P, Yp)
        Zt = np.hstack([Zc, np.ones((Zc.shape[0], 1))])
        return -np.sum((R.T @ Zt) * V)  # -sum_i <V, r_i [z_i; 1]^T>

    _, grad = _linear.inner_product_and_grad(Zp, Yp, W, b, V)
    assert_allclose(-grad, central_difference(score, Zp), rtol=1e-4, atol=1e-9)


def test_upweighting_prediction_matches_retraining():
    Z, y = small_problem()
    n = Z.shape[0]
    Z_t, y_t = Z[:10], y[:10]
    model = fit(Z, y)
    W, b = _linear.model_params(model)
    z_p, y_p = np.array([[1.5, -1.0]]), np.array([0])
    # mean-loss Hessian, lam = 1 / (C n); the sum-loss Hessian is n H
    V = _linear.influence_direction(Z, y, W, b, 1.0 / (C * n), Z_t, y_t)
    grad_p = _linear.param_gradient(z_p, y_p, W, b)
    eps = 1e-3
    predicted = -eps * np.sum(V * grad_p) / n
    refit = fit(np.vstack([Z, z_p]), np.r_[y, y_p],
                sample_weight=np.r_[np.ones(n), eps])
    actual = target_loss_of(refit, Z_t, y_t) - target_loss_of(model, Z_t, y_t)
    assert abs(predicted) > 1e-5
    assert_allclose(actual, predicted, rtol=0.05)


def test_feature_gradient_matches_retraining():
    # d L_t / d x_p through the retrained model = -(1/n) grad_x <V, grad l>
    Z, y = small_problem(1)
    Z_t, y_t = Z[:10], y[:10]
    z_p, y_p = np.array([[0.8, 0.3]]), np.array([1 - y[0]])
    Z_all, y_all = np.vstack([Z, z_p]), np.r_[y, y_p]
    n = Z_all.shape[0]
    model = fit(Z_all, y_all)
    W, b = _linear.model_params(model)
    V = _linear.influence_direction(Z_all, y_all, W, b, 1.0 / (C * n), Z_t, y_t)
    _, grad = _linear.inner_product_and_grad(z_p, y_p, W, b, V)
    predicted = -grad / n

    def retrained_loss(zc):
        return target_loss_of(fit(np.vstack([Z, zc]), y_all), Z_t, y_t)

    actual = central_difference(retrained_loss, z_p, h=1e-4)
    assert_allclose(predicted, actual, rtol=1e-2, atol=1e-6)


# --------------------------------------------------------------- attack

def test_influence_poisons_raise_target_loss_over_label_flip():
    X, y = problem()
    finder = ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X)
    mask = finder.membership(X)
    frozen = FrozenEstimator(finder)

    def victim_loss(X_res, y_res):
        victim = LogisticRegression(max_iter=1000).fit(X_res, y_res)
        return log_loss(y[mask], victim.predict_proba(X[mask]), labels=[0, 1])

    loss_lf = victim_loss(*LabelFlip(frozen, alpha=0.5,
                                     random_state=0).fit_resample(X, y))
    attack = InfluencePoison(frozen, alpha=0.5, eps=1.0, n_iter=50,
                             random_state=0)
    loss_inf = victim_loss(*attack.fit_resample(X, y))
    assert loss_inf > loss_lf + 0.1  # measured 0.57 vs 0.34
    # objective_: the surrogate's target loss at each refit (0, 10, ..., 50)
    assert attack.objective_.shape == (6,)
    assert attack.objective_[-1] > attack.objective_[0]
    assert attack.n_iter_ == 50


def test_multiclass_is_supported_with_softmax():
    X, _y = problem()
    y3 = np.digitize(X[:, 0] + X[:, 1], [2, 4])
    attack = InfluencePoison(ClusterMatch(n_clusters=4, target="smallest"),
                             label="least_frequent", eps=1.0, n_iter=20,
                             random_state=0)
    _X_res, _y_res = attack.fit_resample(X, y3)
    assert attack.estimator_.coef_.shape == (3, 3)
    assert attack.objective_[-1] > attack.objective_[0]


def test_reg_and_refit_every_validated():
    X, y = problem()
    finder = FrozenEstimator(
        ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X))
    with pytest.raises(ValueError, match="'reg' parameter"):
        InfluencePoison(finder, reg=-1.0).fit_resample(X, y)
    with pytest.raises(ValueError, match="'refit_every' parameter"):
        InfluencePoison(finder, refit_every=0).fit_resample(X, y)
    attack = InfluencePoison(finder, reg=1e-2, n_iter=4, refit_every=1,
                             random_state=0).fit(X, y)
    assert attack.objective_.shape == (5,)


# ------------------------------------------------------------ targeted variant
def _targeted_problem():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(3, 1, (40, 2))])
    y = np.r_[np.zeros(60, int), np.ones(40, int)]
    return X, y


@pytest.mark.parametrize("cls", ["GradientPoison", "InfluencePoison"])
def test_targets_default_equals_the_subpopulation_rows(cls):
    # targets=None means the attacker's rows of the target subpopulation with
    # their true labels: passing exactly those rows gives the same poisons
    import skpoison.attacks as attacks
    from skpoison.subpopulations import ClusterMatch

    X, y = _targeted_problem()
    Attack = getattr(attacks, cls)
    finder = ClusterMatch(n_clusters=2, target="smallest", random_state=0).fit(X)
    from sklearn.frozen import FrozenEstimator

    members = finder.membership(X)
    kw = dict(eps=0.5, n_iter=10, random_state=0)
    default = Attack(FrozenEstimator(finder), **kw).fit_resample(X, y)[0]
    explicit = Attack(FrozenEstimator(finder), targets=(X[members], y[members]),
                      **kw).fit_resample(X, y)[0]
    np.testing.assert_allclose(default, explicit)


def test_targeted_influence_raises_the_targets_loss():
    # select_targets picks 5 rows of one cluster; the influence attack aimed at
    # them raises the refitted surrogate's loss on them above label flipping's
    from sklearn.frozen import FrozenEstimator

    from skpoison.attacks import LabelFlip, select_targets
    from skpoison.subpopulations import ClusterMatch

    X, y = _targeted_problem()
    finder = ClusterMatch(n_clusters=3, random_state=0).fit(X[y == 1])
    idx = select_targets(X, y, n=5, mode="subpopulation",
                         subpopulation=FrozenEstimator(finder), target_class=1,
                         random_state=0)
    cluster = finder.predict(X[idx])[0]
    seeds = FrozenEstimator(finder.retarget(int(cluster)))
    attack = InfluencePoison(seeds, alpha=2, eps=1.0, n_iter=30,
                             targets=(X[idx], y[idx]), random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    flip = LabelFlip(seeds, alpha=2, random_state=0)
    X_lf, y_lf = flip.fit_resample(X, y)

    def target_loss(Xr, yr):
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(X)
        model = LogisticRegression(max_iter=1000).fit(scaler.transform(Xr), yr)
        p = model.predict_proba(scaler.transform(X[idx]))[np.arange(5), y[idx]]
        return -np.mean(np.log(p))

    assert attack.objective_[-1] > attack.objective_[0]
    assert target_loss(X_res, y_res) > target_loss(X_lf, y_lf)


def test_targets_are_checked():
    from skpoison.subpopulations import ClusterMatch

    X, y = _targeted_problem()
    finder = ClusterMatch(n_clusters=2, random_state=0)
    with pytest.raises(ValueError, match="targets"):
        InfluencePoison(finder, targets=(X[:3, :1], y[:3]), n_iter=2,
                        random_state=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="targets"):
        InfluencePoison(finder, targets=(X[:3], np.array([0, 1, 7])), n_iter=2,
                        random_state=0).fit_resample(X, y)


def test_refits_on_unchanged_poisons_are_skipped_without_changing_the_result(
        monkeypatch):
    # With a small box the poisons pin to its corners within a few steps;
    # later refits would see the same rows. Skipping them must give the
    # result of refitting anyway (up to the refit's own tolerance).
    X, y = problem()
    frozen = FrozenEstimator(
        ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X))

    def run():
        attack = InfluencePoison(frozen, alpha=1.0, eps=0.05, n_iter=100,
                                 refit_every=5, backtrack=False, random_state=0)
        return attack, attack.fit_resample(X, y)[0]

    skipping, X_skip = run()
    assert skipping.n_refits_ < 21  # 20 refits in the loop + 1 after it
    import skpoison.attacks._influence_poison as influence_module

    class _NeverEqual:
        @staticmethod
        def array_equal(*_):
            return False

        def __getattr__(self, name):
            return getattr(np, name)

    monkeypatch.setattr(influence_module, "np", _NeverEqual())
    always, X_always = run()
    assert always.n_refits_ == 21
    assert_allclose(X_skip, X_always, rtol=1e-6, atol=1e-9)
    assert_allclose(skipping.objective_, always.objective_, rtol=1e-6)
    assert_allclose(skipping.estimator_.coef_, always.estimator_.coef_, rtol=1e-5)


def test_no_movement_means_one_refit():
    X, y = problem()
    attack = InfluencePoison(ClusterMatch(n_clusters=4, target="smallest"),
                             eps=0.0, n_iter=30, random_state=0)
    X_res, _ = attack.fit_resample(X, y)
    seeds, _ = LabelFlip(ClusterMatch(n_clusters=4, target="smallest"),
                         random_state=0).fit_resample(X, y)
    assert_allclose(X_res, seeds)
    assert attack.n_refits_ == 1
    assert np.ptp(attack.objective_) == 0  # the same model throughout


def test_skipping_the_attacker_only_fit_does_not_change_the_result(monkeypatch):
    # The first refit solves the attacker's rows plus the poisons exactly
    # (a unique minimiser), so where it starts from does not matter.
    X, y = problem()
    frozen = FrozenEstimator(
        ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X))

    def run():
        attack = InfluencePoison(frozen, alpha=1.0, eps=1.0, n_iter=40,
                                 random_state=0)
        return attack, attack.fit_resample(X, y)[0]

    lazy, X_lazy = run()
    monkeypatch.setattr(InfluencePoison, "_refits_surrogate", False)
    eager, X_eager = run()
    assert_allclose(X_lazy, X_eager, rtol=1e-6, atol=1e-8)
    assert_allclose(lazy.objective_, eager.objective_, rtol=1e-6)
    assert_allclose(lazy.estimator_.coef_, eager.estimator_.coef_, rtol=1e-5)


def test_without_steps_the_surrogate_is_still_fitted_on_the_attacker_rows():
    X, y = problem()
    attack = InfluencePoison(ClusterMatch(n_clusters=4, target="smallest"),
                             n_iter=0, random_state=0)
    attack.fit_resample(X, y)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    reference = LogisticRegression(max_iter=1000).fit(Z, y)
    assert_allclose(attack.estimator_.coef_, reference.coef_)
    assert_allclose(attack.estimator_.intercept_, reference.intercept_)


def test_backtracking_keeps_the_target_loss_from_falling():
    # A step far too large for the data overshoots between refits: without
    # backtracking the surrogate's target loss ends below where it started;
    # with it, objective_ never falls and the step is halved each time.
    X, y = problem()
    frozen = FrozenEstimator(
        ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X))
    kw = {"alpha": 1.0, "eps": 3.0, "n_iter": 60, "step_size": 50.0,
          "random_state": 0}
    free = InfluencePoison(frozen, backtrack=False, **kw)
    free.fit_resample(X, y)
    assert np.any(np.diff(free.objective_) < -1e-3)  # it does overshoot here
    kept = InfluencePoison(frozen, **kw)
    kept.fit_resample(X, y)
    assert kept.n_backtracks_ > 0
    assert np.all(np.diff(kept.objective_) >= -1e-9)
    assert kept.objective_[-1] >= free.objective_[-1]
    # the poisons returned are the kept ones: the model fitted on them has
    # the last kept target loss
    mask = frozen.membership(X)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    loss = log_loss(y[mask], kept.estimator_.predict_proba(Z[mask]), labels=[0, 1])
    assert_allclose(loss, kept.objective_[-1], rtol=1e-4)


def test_counts_are_reset_when_no_step_is_taken():
    X, y = problem()
    attack = InfluencePoison(ClusterMatch(n_clusters=4, target="smallest"),
                             eps=1.0, n_iter=20, random_state=0)
    attack.fit_resample(X, y)
    assert attack.n_refits_ > 0
    attack.set_params(n_iter=0).fit_resample(X, y)
    assert (attack.n_refits_, attack.n_backtracks_) == (0, 0)
    assert attack.objective_.shape == (0,)

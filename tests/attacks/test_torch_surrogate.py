"""Torch (skorch) surrogates of GradientPoison and InfluencePoison."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from skorch import NeuralNetClassifier

from skpoison.attacks import GradientPoison, InfluencePoison, LabelFlip, _linear
from skpoison.attacks._torch_surrogate import TorchSurrogate, last_layer_parameters
from skpoison.nets import MLPModule, make_linear_classifier, make_mlp_classifier
from skpoison.subpopulations import ClusterMatch

from ._problems import central_difference, problem


def small(seed=0, n=40, d=3):
    rng = np.random.RandomState(seed)
    Z = rng.normal(size=(n, d))
    y = (Z[:, 0] - 0.5 * Z[:, 1] + rng.normal(size=n) > 0).astype(int)
    return Z, y


def theta_matrix(tensors):
    W, b = (t.detach().numpy() for t in tensors)
    return np.hstack([W, b[:, None]])


@pytest.fixture(scope="module")
def linear_net():
    Z, y = small()
    surrogate = TorchSurrogate(make_linear_classifier(max_epochs=5, random_state=0),
                               "ll", seed=0).fit(Z, y)
    return Z, y, surrogate


# ------------------------------------------- linear net vs the closed form
def test_linear_net_gradients_match_closed_form(linear_net):
    Z, y, sur = linear_net
    W, b = (p.detach().numpy() for p in sur.params)
    assert W.shape == (2, 3)  # two logits: the softmax form of _linear
    G = sur.target_gradient(Z[:10], y[:10])
    G_np = _linear.param_gradient(Z[:10], y[:10], W, b)
    assert_allclose(theta_matrix(G), G_np, rtol=1e-10, atol=1e-12)
    Zp, Yp = Z[10:15], 1 - y[10:15]
    J, grad = sur.alignment(Zp, Yp, G)
    J_np, grad_np = _linear.inner_product_and_grad(Zp, Yp, W, b, G_np)
    assert_allclose(J, J_np.sum(), rtol=1e-10)
    assert_allclose(grad, grad_np, rtol=1e-8, atol=1e-12)
    assert np.abs(grad).max() > 1e-3
    assert_allclose(sur.loss(Z, y), _linear.cross_entropy(Z, y, W, b), rtol=1e-10)


def test_linear_net_hessian_matches_closed_form(linear_net):
    Z, y, sur = linear_net
    sur.start_refits(Z[:30], y)
    sur._Z_all = sur._tensor(Z)  # rows without refitting
    W, b = (p.detach().numpy() for p in sur.params)
    H_np = _linear.hessian(Z, W, b, 0.0, jitter=0.0)
    # torch's flat order is (W row-major, then b); _linear's is rows of [W, b]
    order = np.r_[0, 1, 2, 4, 5, 6, 3, 7]
    assert_allclose(sur.hessian(0.0), H_np[np.ix_(order, order)], rtol=1e-8,
                    atol=1e-12)
    # the influence direction is (H + lam I)^-1 g_t, lam on all parameters
    lam = 0.05
    V = sur.influence_direction(Z[:8], y[:8], lam)
    g_t = _linear.param_gradient(Z[:8], y[:8], W, b).ravel()
    expected = np.linalg.solve(H_np + lam * np.eye(H_np.shape[0]), g_t)
    assert_allclose(theta_matrix(V).ravel(), expected, rtol=1e-8)


# --------------------------------------------------------- a tiny MLP
@pytest.fixture(scope="module", params=["ll", "ft"])
def tiny_mlp(request):
    Z, y = small(1, n=30)
    net = make_mlp_classifier((4,), activation="tanh", max_epochs=5, random_state=0)
    sur = TorchSurrogate(net, request.param, seed=0).fit(Z, y)
    return Z, y, sur


def test_mlp_alignment_gradient_matches_finite_differences(tiny_mlp):
    Z, y, sur = tiny_mlp
    expected = 2 * 4 + 2 if sur.mode == "ll" else 4 * 3 + 4 + 2 * 4 + 2
    assert sur.n_params == expected
    G = sur.target_gradient(Z[:10], y[:10])
    Zp, Yp = Z[20:23], 1 - y[20:23]
    _, grad = sur.alignment(Zp, Yp, G)
    fd = central_difference(lambda Zc: sur.alignment(Zc, Yp, G)[0], Zp)
    assert_allclose(grad, fd, rtol=1e-5, atol=1e-9)
    assert np.abs(grad).max() > 1e-4


def test_hvp_cg_matches_explicit_hessian_solve(tiny_mlp):
    Z, y, sur = tiny_mlp
    sur.start_refits(Z[:25], y)
    sur._Z_all = sur._tensor(Z)
    g = np.random.RandomState(0).normal(size=sur.n_params)
    H0 = sur.hessian(0.0)
    assert_allclose(H0, H0.T, atol=1e-12)
    # damping: the MLP's Hessian need not be positive definite (FT mode)
    lam = max(0.1, 0.1 - np.linalg.eigvalsh(H0).min())
    H = H0 + lam * np.eye(sur.n_params)
    op = sur.hvp_operator(lam)
    assert_allclose(op.matvec(g), H @ g, rtol=1e-8, atol=1e-12)
    exact = sur.solve(g, lam, "exact")
    via_cg = sur.solve(g, lam, "cg")
    assert_allclose(exact, np.linalg.solve(H, g), rtol=1e-8)
    assert_allclose(via_cg, exact, rtol=1e-4, atol=1e-6)


def test_last_layer_newton_refit_is_stationary():
    Z, y = small(2, n=50)
    net = make_mlp_classifier((4,), activation="tanh", max_epochs=5, random_state=0)
    sur = TorchSurrogate(net, "ll", seed=0).fit(Z[:45], y[:45])
    body = [p.detach().clone() for p in sur.module.hidden.parameters()]
    sur.start_refits(Z[:45], y)
    sur.refit(Z[45:])
    lam = sur.default_reg(50)
    assert lam == 1e-3
    _, g = sur._objective_grad(lam)
    assert float(g.detach().abs().max()) < 1e-7  # a minimiser of loss + lam/2 ||theta||^2
    for p, q in zip(sur.module.hidden.parameters(), body):  # body frozen
        assert torch.equal(p, q)
    net_ = sur.finalize()
    assert_allclose(net_.module_.output.weight.detach().numpy(),
                    sur.module.output.weight.detach().numpy(), rtol=1e-6)


def _reference_ll_refit(sur, Z_p):
    """The last-layer refit as first written: every row re-uploaded, the
    gradient computed once for the step and again inside ``hessian``."""
    from scipy.linalg import cho_factor, cho_solve

    from skpoison.attacks._torch_surrogate import _unflat

    sur._Z_np[sur._n_src:] = Z_p
    sur._Z_all = sur._tensor(sur._Z_np.copy())
    lam = sur.default_reg(sur._Z_np.shape[0])
    for _ in range(20):
        loss, g = sur._objective_grad(lam)
        H = sur.hessian(lam)
        g_host = g.detach().numpy()
        step = cho_solve(cho_factor(H), g_host)
        decrease = float(g_host @ step)
        old = [p.detach().clone() for p in sur.params]
        t = 1.0
        while True:
            with torch.no_grad():
                for p, p0, s in zip(sur.params, old, _unflat(sur._tensor(step), old)):
                    p.copy_(p0 - t * s)
                new = sur._mean_loss(sur._Z_all, sur._Y_all)
                new = new + lam / 2 * sum(torch.sum(p ** 2) for p in sur.params)
            if float(new) <= float(loss.detach()) - 1e-4 * t * decrease or t < 1e-8:
                break
            t /= 2
        if t * np.max(np.abs(step)) <= 1e-9 * (1.0 + max(
                float(p.detach().abs().max()) for p in sur.params)):
            break


def test_last_layer_refit_reuses_the_gradient_and_the_device_rows():
    import copy

    Z, y = small(3, n=50)
    net = make_mlp_classifier((4,), activation="tanh", max_epochs=5, random_state=0)
    sur = TorchSurrogate(net, "ll", seed=0).fit(Z[:44], y[:44])
    ref = copy.deepcopy(sur)
    for s in (sur, ref):
        s.start_refits(Z[:44], y)
    rows = sur._Z_all
    rng = np.random.RandomState(0)
    for _ in range(3):
        Z_p = Z[44:] + rng.normal(scale=0.5, size=(6, 3))
        sur.refit(Z_p)
        _reference_ll_refit(ref, Z_p)
        assert sur._Z_all is rows  # the poison rows updated in place
        assert_array_equal(sur._Z_all.numpy(), sur._Z_np)
        for p, q in zip(sur.params, ref.params):
            assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10,
                            atol=1e-12)
    # the Hessian of the damped objective from its gradient: H + lam I
    lam = 0.05
    _, g = sur._objective_grad(lam)
    assert_allclose(sur.hessian(lam, grad=g), sur.hessian(lam), rtol=1e-12,
                    atol=1e-14)


def test_last_layer_is_the_last_parametrised_submodule():
    module = MLPModule(n_features=3, hidden_layer_sizes=(4,))
    params = last_layer_parameters(module)
    assert [p.shape for p in params] == [torch.Size([2, 4]), torch.Size([2])]


# ------------------------------------------------------------ the attacks

@pytest.fixture(scope="module")
def attack_setup():
    X, y = problem()
    finder = ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X)
    mask = finder.membership(X)

    def victim_loss(X_res, y_res):
        victim = LogisticRegression(max_iter=1000).fit(X_res, y_res)
        return log_loss(y[mask], victim.predict_proba(X[mask]), labels=[0, 1])

    lf = victim_loss(*LabelFlip(FrozenEstimator(finder), alpha=0.5,
                                random_state=0).fit_resample(X, y))
    return X, y, FrozenEstimator(finder), victim_loss, lf


@pytest.mark.parametrize("Attack, mode, kwargs", [
    (GradientPoison, "ll", {"step_size": 20.0}),
    (GradientPoison, "ft", {"step_size": 20.0}),
    (InfluencePoison, "ll", {"n_iter": 30}),
])
def test_torch_attack_is_deterministic_and_raises_target_loss(
        Attack, mode, kwargs, attack_setup):
    X, y, finder, victim_loss, loss_lf = attack_setup
    net = make_mlp_classifier((8,), max_epochs=20)
    runs = [Attack(finder, alpha=0.5, eps=1.0, estimator=net, mode=mode,
                   random_state=0, **kwargs) for _ in range(2)]
    results = [a.fit_resample(X, y) for a in runs]
    assert_array_equal(results[0][0], results[1][0])
    attack = runs[0]
    # measured: GO-LL 0.42, GO-FT 0.49, INF-LL 0.40 vs LabelFlip 0.34
    assert victim_loss(*results[0]) > loss_lf + 0.03
    if Attack is GradientPoison:
        assert attack.objective_[-1] < attack.objective_[0]
    else:
        assert attack.objective_[-1] > attack.objective_[0]
    assert attack.estimator_.module_.output.weight.shape == (2, 8)


def test_influence_ft_with_cg_runs_and_plain_skorch_net(attack_setup):
    X, y, finder, _, _ = attack_setup
    net = NeuralNetClassifier(MLPModule, module__n_features=3,
                              module__hidden_layer_sizes=(4,),
                              criterion=torch.nn.CrossEntropyLoss,
                              max_epochs=3, lr=0.05, train_split=None, verbose=0)
    kwargs = {"alpha": 0.5, "eps": 1.0, "estimator": net, "mode": "ft",
              "n_iter": 4, "refit_every": 2, "random_state": 0}
    a, b = InfluencePoison(finder, **kwargs), InfluencePoison(finder, **kwargs)
    Xa, _ = a.fit_resample(X, y)
    Xb, _ = b.fit_resample(X, y)
    assert_array_equal(Xa, Xb)  # torch seeded from random_state
    assert a.objective_.shape == (3,)
    assert not np.allclose(Xa[a.poison_mask_], X[a.sample_indices_])


def test_bad_mode_and_solver(attack_setup):
    X, y, finder, _, _ = attack_setup
    with pytest.raises(ValueError, match="'mode' parameter"):
        GradientPoison(finder, mode="last").fit_resample(X, y)
    with pytest.raises(ValueError, match="'solver' parameter"):
        InfluencePoison(finder, solver="lu").fit_resample(X, y)


def test_fine_tuned_refits_are_neither_skipped_nor_undone():
    # In mode="ft" a refit trains the net further (partial_fit): there is no
    # earlier model to go back to, so InfluencePoison takes every step and
    # computes every refit, and objective_ is the target loss of the net it
    # returns (a step size far too large would otherwise trigger backtracking).
    X, y = problem()
    finder = FrozenEstimator(
        ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X))
    attack = InfluencePoison(finder, alpha=1.0, n_iter=12, refit_every=3, mode="ft",
                             estimator=make_mlp_classifier((4,), max_epochs=5),
                             eps=3.0, step_size=50.0, random_state=0)
    attack.fit_resample(X, y)
    assert attack.n_backtracks_ == 0
    assert attack.n_refits_ == 5  # at steps 0, 3, 6, 9 and after the last
    mask = finder.membership(X)
    Z = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    loss = log_loss(y[mask], attack.estimator_.predict_proba(Z[mask]), labels=[0, 1])
    assert_allclose(loss, attack.objective_[-1], rtol=1e-4)

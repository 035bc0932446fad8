"""The exact refit of a hinge-loss linear victim (``attacks/_hinge.py``): the
fast schedule and the previous one find the same certified minimiser over a
sequence of added poisons, which a quadratic program solved independently
confirms; the certificate rejects a model that is not the minimiser."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize

from skpoison.attacks._hinge import _hinge_fit, _kkt_violation, _margin_solve


def _objective(Z, Y, s, pen, theta):
    return float(np.sum(s * np.maximum(0.0, 1.0 - Y * (Z @ theta)))
                 + 0.5 * np.sum(pen * theta ** 2))


def _reference(Z, Y, s, pen):
    """The minimiser from the dual, an independent route: the box-constrained
    quadratic program max sum(a) - a' Q a / 2, 0 <= a <= s, Q = (Y Z) P^-1 (Y Z)',
    solved by L-BFGS-B; theta = P^-1 Z' (a Y)."""
    G = (Y[:, None] * Z) / np.sqrt(pen)
    Q = G @ G.T

    def f(a):
        Qa = Q @ a
        return 0.5 * float(a @ Qa) - float(np.sum(a)), Qa - 1.0

    res = minimize(f, np.zeros(Y.size), jac=True, method="L-BFGS-B",
                   bounds=np.column_stack([np.zeros(Y.size), s]),
                   options={"ftol": 0.0, "gtol": 1e-13, "maxiter": 100_000,
                            "maxcor": 50})
    return Z.T @ (res.x * Y) / pen


def _problem(seed=0, n=60):
    # two indicators, two continuous columns and the intercept, as the attack's
    # trainer holds them (Z augmented with ones, labels in {-1, +1})
    rng = np.random.RandomState(seed)
    X = np.column_stack([rng.randint(2, size=(n, 2)), rng.normal(size=(n, 2))])
    Y = np.where(X[:, 0] + X[:, 2] + rng.normal(scale=0.8, size=n) > 0.8, 1.0, -1.0)
    return np.column_stack([X, np.ones(n)]), Y, rng


def _poison(rng, Y_sign):
    # a corner of the feasible box, as the max-loss step picks (far rows that
    # move the minimiser: the active sets change a lot)
    return np.r_[rng.randint(2, size=2), rng.choice([-4.0, 4.0], size=2), 1.0], Y_sign


@pytest.mark.parametrize("pen", [np.array([1.0, 1.0, 1.0, 1.0, 0.25]),
                                 np.array([0.2, 0.2, 0.2, 0.2, 0.2])])
def test_fast_and_previous_schedule_find_the_certified_minimiser(pen):
    # a sequence of added poisons (and a repeated one with its weight raised),
    # each refit warm-started from the last: both schedules are certified,
    # agree within 1e-8 and match an independent QP solution within 1e-5
    Z0, Y0, rng = _problem()
    Z, Y, s = Z0.copy(), Y0.copy(), np.ones(Y0.size)
    theta_fast, ok = _hinge_fit(Z, Y, s, pen, np.zeros(Z.shape[1]))
    assert ok
    theta_prev = theta_fast
    for i in range(8):
        if i == 5:  # a repeated poison: its weight raised by one
            s[-1] += 1.0
        else:
            z, y = _poison(rng, rng.choice([-1.0, 1.0]))
            Z, Y, s = np.vstack([Z, z]), np.r_[Y, y], np.r_[s, 1.0 + i % 2]
        theta_fast, ok_fast = _hinge_fit(Z, Y, s, pen, theta_fast)
        theta_prev, ok_prev = _hinge_fit(Z, Y, s, pen, theta_prev, fast=False)
        assert ok_fast and ok_prev
        assert_allclose(theta_fast, theta_prev, atol=1e-8)
        ref = _reference(Z, Y, s, pen)
        assert_allclose(theta_fast, ref, atol=1e-6)
        assert (_objective(Z, Y, s, pen, theta_fast)
                <= _objective(Z, Y, s, pen, ref) + 1e-9)


def test_cold_start_and_weight_changes_of_many_rows():
    # a refit whose active sets change a lot: a cold start, then a third of
    # the rows' weights multiplied by 20 (as the target model's rising ratios)
    Z, Y, rng = _problem(seed=2, n=80)
    pen = np.full(Z.shape[1], 0.5)
    s = np.ones(Y.size)
    theta, ok = _hinge_fit(Z, Y, s, pen, np.zeros(Z.shape[1]))
    assert ok
    margin_before = np.abs(Y * (Z @ theta) - 1.0) <= 1e-8
    s[rng.permutation(Y.size)[:27]] = 20.0
    new, ok = _hinge_fit(Z, Y, s, pen, theta)
    assert ok
    margin_after = np.abs(Y * (Z @ new) - 1.0) <= 1e-8
    assert np.sum(margin_before != margin_after) >= 3  # the margin rows changed
    assert_allclose(new, _hinge_fit(Z, Y, s, pen, theta, fast=False)[0], atol=1e-8)
    assert_allclose(new, _reference(Z, Y, s, pen), atol=1e-6)


def test_kkt_certificate():
    # the certified model's multipliers meet the KKT conditions; a nearby
    # model's best multipliers do not
    Z, Y, _ = _problem(seed=4)
    pen = np.full(Z.shape[1], 1.0)
    s = np.ones(Y.size)
    theta, ok = _hinge_fit(Z, Y, s, pen, np.zeros(Z.shape[1]))
    assert ok
    m = Y * (Z @ theta)
    margin, inside = np.abs(m - 1.0) <= 1e-8, m < 1.0 - 1e-8
    found = _margin_solve(Z, Y, s, pen, np.zeros(Z.shape[1]), inside, margin)
    assert found is not None
    cand, alpha = found
    assert_allclose(cand, theta, atol=1e-10)
    assert _kkt_violation(Y * (Z @ cand), s, alpha) <= 1e-9
    assert np.max(np.abs(pen * cand - Z.T @ (alpha * Y))) <= 1e-9
    # off the minimiser: a row set on the margin that is not, or a
    # stationarity gap
    off = theta + 1e-3
    m_off = Y * (Z @ off)
    alpha_off = np.where(m_off < 1.0, s, 0.0)
    assert (_kkt_violation(m_off, s, alpha_off) > 1e-9
            or np.max(np.abs(pen * off - Z.T @ (alpha_off * Y))) > 1e-9)


def test_lp_only_for_a_singular_margin_system():
    # nonsingular margin system: the multipliers are unique, and the linear
    # program finds no others (same answer with and without it); duplicated
    # margin rows make it singular and the program splits their multiplier
    Z, Y, _ = _problem(seed=5)
    pen = np.full(Z.shape[1], 1.0)
    s = np.ones(Y.size)
    theta, _ = _hinge_fit(Z, Y, s, pen, np.zeros(Z.shape[1]))
    m = Y * (Z @ theta)
    margin, inside = np.abs(m - 1.0) <= 1e-8, m < 1.0 - 1e-8
    # a wrong inside set (one margin row's multiplier forced out of its box)
    wrong = inside.copy()
    wrong[np.flatnonzero(margin)[0]] = True
    margin_w = margin.copy()
    margin_w[np.flatnonzero(margin)[0]] = False
    a = _margin_solve(Z, Y, s, pen, np.zeros(Z.shape[1]), wrong, margin_w)
    b = _margin_solve(Z, Y, s, pen, np.zeros(Z.shape[1]), wrong, margin_w,
                      lp_always=True)
    assert_allclose(a[0], b[0])
    assert_allclose(a[1], b[1])
    # duplicated rows on the margin (one merged group): the multipliers are
    # split by weight and stay in their box
    i = np.flatnonzero(margin)[0]
    Zd, Yd, sd = np.vstack([Z, Z[i]]), np.r_[Y, Y[i]], np.r_[s, 2.0]
    theta_d, ok = _hinge_fit(Zd, Yd, sd, pen, theta)
    assert ok
    assert_allclose(theta_d, _reference(Zd, Yd, sd, pen), atol=1e-6)


def test_degenerate_vertex_with_many_margin_rows():
    # 80 distinct rows on the margin in 3 dimensions (x2 symmetric in both
    # classes, so w2 = 0 and every row has m = 1): more than the margin
    # system takes; the fast schedule certifies the minimiser (2, 0, -1) as a
    # face, the previous one could not
    c = np.linspace(0.1, 2.0, 20)
    x2 = np.r_[c, -c]
    Z = np.column_stack([np.r_[np.ones(40), np.zeros(40)], np.r_[x2, x2], np.ones(80)])
    Y = np.r_[np.ones(40), -np.ones(40)]
    pen, s = np.full(3, 0.1), np.ones(80)
    theta, ok = _hinge_fit(Z, Y, s, pen, np.zeros(3))
    assert ok
    assert_allclose(theta, [2.0, 0.0, -1.0], atol=1e-12)
    assert np.all(np.abs(Y * (Z @ theta) - 1.0) <= 1e-12)
    assert not _hinge_fit(Z, Y, s, pen, np.zeros(3), fast=False)[1]

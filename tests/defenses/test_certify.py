"""Tests for skpoison.defenses.LabelFlipCertifier and its certificate."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from sklearn.linear_model import Ridge

from skpoison.defenses import LabelFlipCertifier, certified_radius_vs_poison
from skpoison.defenses._certify import (
    _np_adversary_mass,
    chernoff_lower_bound,
    flip_radius,
)

N_TINY = 8


def _np_worst_case(p, q, r):
    """Smallest probability of the class after ``r`` flips, given ``p`` before."""
    with np.errstate(divide="ignore"):
        log_err = np.log1p(-np.asarray(p, dtype=np.float64))
    return 1.0 - _np_adversary_mass(log_err, q, int(r))
EPS = np.array(list(itertools.product([1, -1], repeat=N_TINY)))  # noise patterns
N_FLIPS = (EPS == -1).sum(axis=1)


def _tiny(seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal(-1, 1, (4, 2)), rng.normal(1, 1, (4, 2))])
    y = np.repeat([0, 1], 4)
    X_test = rng.normal(0, 1.5, (25, 2))
    return X, y, X_test


def _smoothed_p(contrib, q):
    """Exact P(sum_i contrib_i eps_i > 0) over all 2^n noise outcomes."""
    w = q ** N_FLIPS * (1 - q) ** (N_TINY - N_FLIPS)
    return w[(EPS * contrib).sum(axis=1) > 0].sum()


def _brute_force_radius(a, s, c, q):
    """Largest r such that every set of <= r flips keeps class c (brute force)."""
    for r in range(N_TINY + 1):
        for S in itertools.combinations(range(N_TINY), r):
            s2 = s.copy()
            s2[list(S)] *= -1
            contrib = c * a * s2
            keeps = contrib.sum() > 0 if q == 0 else _smoothed_p(contrib, q) > 0.5
            if not keeps:
                return r - 1
    return N_TINY


def test_ridge_part_matches_sklearn_ridge():
    X, y, X_test = _tiny()
    cert = LabelFlipCertifier(alpha=0.5, q=0.1).fit(X, y)
    ridge = Ridge(alpha=0.5).fit(X, np.where(y == 1, 1.0, -1.0))
    np.testing.assert_allclose(cert.coef_, ridge.coef_)
    np.testing.assert_allclose(X_test @ cert.coef_ + cert.intercept_,
                               ridge.predict(X_test))
    np.testing.assert_array_equal(np.sign(cert.decision_function(X_test)),
                                  np.sign(ridge.predict(X_test)))
    # the score is linear in the labels: alpha(x) . s
    A = cert._label_weights(X_test)
    np.testing.assert_allclose(A @ cert.signed_labels_, ridge.predict(X_test))


def test_deterministic_certificate_equals_brute_force():
    # q = 0: the certificate of the ridge classifier itself is exact
    X, y, X_test = _tiny()
    cert = LabelFlipCertifier(alpha=0.5, q=0.0).fit(X, y)
    y_pred, radius = cert.certify(X_test)
    A, s = cert._label_weights(X_test), cert.signed_labels_
    for j in range(X_test.shape[0]):
        c = 1 if y_pred[j] == cert.classes_[1] else -1
        assert radius[j] == _brute_force_radius(A[j], s, c, 0.0)


@pytest.mark.parametrize("q", [0.05, 0.2])
def test_smoothed_certificate_is_sound_and_tight_given_p(q):
    X, y, X_test = _tiny(seed=1)
    cert = LabelFlipCertifier(alpha=0.5, q=q).fit(X, y)
    y_pred, radius = cert.certify(X_test)
    A, s = cert._label_weights(X_test), cert.signed_labels_
    tight = 0
    for j in range(X_test.shape[0]):
        c = 1 if y_pred[j] == cert.classes_[1] else -1
        contrib = c * A[j] * s
        p_exact = _smoothed_p(contrib, q)
        p_chernoff = chernoff_lower_bound(contrib[None], q)[0]
        assert p_chernoff <= p_exact + 1e-12          # a valid lower bound
        r_exact_p = flip_radius([p_exact], q, N_TINY)[0]
        truth = _brute_force_radius(A[j], s, c, q)
        assert radius[j] <= r_exact_p <= truth         # sound, never violated
        tight += r_exact_p == truth
    # given the exact probability, Neyman-Pearson is tight on most points
    assert tight >= 0.7 * X_test.shape[0]


@pytest.mark.parametrize("q", [0.1, 0.3])
@pytest.mark.parametrize("r", [1, 2, 3])
def test_neyman_pearson_worst_case_matches_enumeration_of_all_classifiers(q, r):
    # n = 4 labels: enumerate every base classifier (every set of the 16
    # noisy-label outcomes it maps to the class) and compare the smallest
    # probability under r adversarial flips with the closed form.
    n = 4
    outcomes = np.array(list(itertools.product([0, 1], repeat=n)))
    y = np.zeros(n, int)
    y_adv = y.copy()
    y_adv[:r] = 1
    mu = np.prod(np.where(outcomes == y, 1 - q, q), axis=1)
    mu_adv = np.prod(np.where(outcomes == y_adv, 1 - q, q), axis=1)
    sets = np.array(list(itertools.product([0, 1], repeat=16)), dtype=float)
    p_clean, p_adv = sets @ mu, sets @ mu_adv
    for p in np.unique(np.round(p_clean, 12)):
        if p <= 0.5:
            continue
        brute = p_adv[p_clean >= p - 1e-12].min()
        assert _np_worst_case(p, q, r) <= brute + 1e-12   # sound for every classifier
    # tight where p is a union of whole likelihood-ratio levels
    for p in binom.cdf(np.arange(r + 1), r, q):
        if 0.5 < p < 1:
            brute = p_adv[p_clean >= p - 1e-12].min()
            assert _np_worst_case(p, q, r) == pytest.approx(brute, abs=1e-12)


def test_flip_radius_properties():
    q = 0.1
    p = np.array([0.5, 0.6, 0.9, 0.99, 0.9999, 1.0])
    r = flip_radius(p, q, n_max=1000)
    assert r[0] == -1
    assert np.all(np.diff(r) >= 0)
    assert r[-1] == 1000  # p = 1 exactly: no flip set can change anything
    # precision: an error probability far below 1e-16 is not rounded to 0
    r_tiny = flip_radius([1.0], q, n_max=1000, log_err=[-200.0])[0]
    assert 0 < r_tiny < 1000
    # definition: r certified, r + 1 not
    for pi, ri in zip(p[1:-1], r[1:-1]):
        assert _np_worst_case(pi, q, ri) > 0.5 >= _np_worst_case(pi, q, ri + 1)


def test_larger_noise_trades_accuracy_for_radius_far_from_boundary():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-1, 1, (200, 3)), rng.normal(1, 1, (200, 3))])
    y = np.repeat([0, 1], 200)
    far = np.array([[-3.0, -3.0, -3.0], [3.0, 3.0, 3.0]])
    r_small = LabelFlipCertifier(q=0.02).fit(X, y).certified_radius(far)
    r_q0 = LabelFlipCertifier(q=0.0).fit(X, y).certified_radius(far)
    # smoothing certifies the smoothed classifier, whose radius stays below
    # half the training set (flipping every label flips the prediction)
    assert np.all(r_small > 10) and np.all(r_small < 200) and np.all(r_q0 > 10)
    proba = LabelFlipCertifier(q=0.2).fit(X, y).predict_proba(far)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba[0, 0] > 0.5 and proba[1, 1] > 0.5


def test_radius_vs_poison_moved_to_metrics_with_a_deprecated_alias():
    from skpoison import metrics

    radii = np.array([0, 3, 10, 40, 5, 5])
    ids = np.array([0, 0, 0, 0, 1, 1])
    with pytest.warns(FutureWarning, match="moved to skpoison.metrics"):
        old = certified_radius_vs_poison(radii, np.zeros((6, 1)), ids, alpha=1.0,
                                         sizes={0: 8, 1: 20})
    new = metrics.certified_radius_vs_poison(radii, np.zeros((6, 1)), ids, alpha=1.0,
                                             sizes={0: 8, 1: 20})
    pd.testing.assert_frame_equal(old, new)


def test_errors_and_multiclass():
    X, y, _ = _tiny()
    with pytest.raises(ValueError, match="Only binary classification"):
        LabelFlipCertifier().fit(np.vstack([X, X[:2]]), np.r_[y, 2, 2])
    with pytest.raises(ValueError, match="q"):
        LabelFlipCertifier(q=0.5).fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        LabelFlipCertifier(alpha=-1).fit(X, y)
    cert = LabelFlipCertifier().fit(X, y)
    with pytest.raises(ValueError, match="batch_size"):
        cert.certify(X, batch_size=0)


def test_batches_do_not_change_the_result():
    X, y, X_test = _tiny()
    cert = LabelFlipCertifier(q=0.1).fit(X, y)
    np.testing.assert_array_equal(cert.certified_radius(X_test, batch_size=3),
                                  cert.certified_radius(X_test))

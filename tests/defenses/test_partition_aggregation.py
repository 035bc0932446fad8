"""Tests for skpoison.defenses.PartitionAggregation and its certificates."""

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skpoison.defenses import PartitionAggregation
from skpoison.metrics import certified_radius_vs_poison
from skpoison.defenses._partition_aggregation import (
    _dpa_radius,
    _fa_radius,
    _group_certificate,
    _plurality,
    _runoff,
    _runoff_radius,
    _spread,
    _vote_counts,
    _with_unseen_rival,
    _with_unseen_score,
)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _blobs(n_per_class=60, n_classes=2, seed=0, spread=1.0):
    rng = np.random.RandomState(seed)
    centres = 4.0 * np.array([[np.cos(a), np.sin(a)] for a in
                              np.linspace(0, 2 * np.pi, n_classes, endpoint=False)])
    X = np.vstack([rng.normal(c, spread, (n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(n_classes), n_per_class)
    return X, y


# ------------------------------------------------------- brute-force helpers
def _winner(votes, n_classes):
    """Plurality of each row of ``votes`` (-1 abstains), ties to smaller class."""
    return _plurality(_vote_counts(votes, n_classes))


def _assignments(n_affected, n_classes):
    """Every vote (a class or an abstention) for ``n_affected`` classifiers."""
    return np.array(list(itertools.product(range(-1, n_classes), repeat=n_affected)),
                    dtype=np.int64).reshape(-1, n_affected)


def _flips_with(votes, spread, n_classes, r):
    """Whether some ``r`` changed rows can change the vote of ``votes``.

    An added or removed row lands in one bucket (its content is the
    attacker's to choose, so any bucket); the classifiers sharing the
    buckets hit may then vote anything (any class, or abstain). Every
    multiset of ``r`` buckets, every vote of the classifiers it reaches.
    """
    c = _winner(votes[None, :], n_classes)[0]
    for buckets in itertools.combinations_with_replacement(range(len(spread)), r):
        affected = np.unique(spread[list(buckets)].ravel())
        options = _assignments(affected.size, n_classes)
        new = np.repeat(votes[None, :], options.shape[0], axis=0)
        new[:, affected] = options
        if np.any(_winner(new, n_classes) != c):
            return True
    return False


def _brute_force_radius(votes, spread, n_classes, limit):
    """Largest r <= limit such that no r changed rows change the vote."""
    for r in range(1, limit + 1):
        if _flips_with(votes, spread, n_classes, r):
            return r - 1
    return limit


def _random_votes(rng, n_members, n_classes, n_cases):
    """Vote vectors, from close races to near-unanimous, some abstentions."""
    out = []
    for i in range(n_cases):
        if i % 2:  # one class far ahead: larger radii
            p = np.full(n_classes + 1, 0.15 / n_classes)
            p[1 + rng.randint(n_classes)] = 0.85
        else:
            p = rng.dirichlet(np.ones(n_classes + 1) * 0.7)
            p[0] *= 0.3  # fewer abstentions
        out.append(rng.choice(np.arange(-1, n_classes), size=n_members, p=p / p.sum()))
    return np.array(out, dtype=np.int64)


# ------------------------------------------------------------- known answers
@pytest.mark.parametrize("counts, pred, radius", [
    ([7, 3, 0], 0, 2),   # gap to class 1: 4 -> 2
    ([3, 3], 0, 0),      # tie goes to class 0, any change flips it
    ([3, 4], 1, 0),      # gap 4 - 3 - 1[0 < 1] = 0
    ([2, 5], 1, 1),      # gap 5 - 2 - 1 = 2 -> 1
    ([0, 6, 6], 1, 0),   # class 1 wins the tie with class 2, gap 0
    ([1, 9, 0], 1, 3),   # gaps: to 0: 9 - 1 - 1 = 7 -> 3, to 2: 9 -> 4
    ([10, 0], 0, 5),
    ([0, 0, 0], 0, 0),   # everyone abstains: class 0 by the tie rule
])
def test_dpa_radius_known_answers(counts, pred, radius):
    p, r = _dpa_radius(np.array([counts], dtype=np.int64))
    assert (p[0], r[0]) == (pred, radius)


def test_fa_known_answer_by_hand():
    # k = 2, d = 2: 4 classifiers, 4 buckets; classifier votes 0, 0, 0, 1.
    spread = np.array([[0, 1], [1, 2], [2, 3], [3, 0]])
    votes = np.array([[0, 0, 0, 1]])
    counts = _vote_counts(votes, 2)
    # gap to class 1: 3 - 1 - 0 = 2; bucket scores (2 per vote for 0,
    # 0 per vote for 1): [4, 4, 2, 2]: one bucket already exceeds the gap
    pred, radius = _fa_radius(votes, counts, spread)
    assert (pred[0], radius[0]) == (0, 0)
    votes = np.array([[0, 0, 0, 0, 0, 0]])
    spread = _spread(3, 2)
    # gap 6, every bucket scores 4: one bucket (4 <= 6), not two (8 > 6)
    assert _fa_radius(votes, _vote_counts(votes, 2), spread)[1][0] == 1


def test_fitted_known_answer():
    X, y = _blobs(200)
    dpa = PartitionAggregation(LogisticRegression(), n_partitions=10).fit(X, y)
    far = np.array([[6.0, 0.0], [-6.0, 0.0]])
    np.testing.assert_array_equal(dpa.votes(far), [[0] * 10, [1] * 10])
    np.testing.assert_array_equal(dpa.predict(far), [0, 1])
    # unanimous 10 votes, default classes: a new label may sort first and win
    # its ties, so the gap is 9 for both
    np.testing.assert_array_equal(dpa.certified_radius(far), [4, 4])
    np.testing.assert_array_equal(dpa.predict_proba(far), [[1, 0], [0, 1]])
    # the label set given: gap 10 (class 0 wins ties) / 9 (class 1 loses them)
    fixed = clone(dpa).set_params(classes=[0, 1]).fit(X, y)
    np.testing.assert_array_equal(fixed.certified_radius(far), [5, 4])


# --------------------------------------------------------------- brute force
@pytest.mark.parametrize("n_partitions, n_classes", [(3, 2), (5, 3), (7, 2)])
def test_dpa_certificate_is_exact_by_brute_force(n_partitions, n_classes):
    rng = np.random.RandomState(n_partitions)
    votes = _random_votes(rng, n_partitions, n_classes, 40)
    spread = _spread(n_partitions, 1)
    _, radius = _dpa_radius(_vote_counts(votes, n_classes))
    for v, r in zip(votes, radius):
        # no set of r changes flips it, and some set of r + 1 does: tight
        assert _brute_force_radius(v, spread, n_classes, limit=r + 1) == r


@pytest.mark.parametrize("n_partitions, n_shares, n_classes",
                         [(2, 2, 3), (4, 2, 2), (3, 3, 2), (5, 2, 2)])
def test_fa_certificate_is_sound_by_brute_force(n_partitions, n_shares, n_classes):
    rng = np.random.RandomState(10 * n_partitions + n_shares)
    n_members = n_partitions * n_shares
    votes = _random_votes(rng, n_members, n_classes, 30)
    spread = _spread(n_partitions, n_shares)
    counts = _vote_counts(votes, n_classes)
    pred, radius = _fa_radius(votes, counts, spread)
    np.testing.assert_array_equal(pred, _plurality(counts))
    assert radius.max() >= 1
    tight = 0
    for v, r in zip(votes, radius):
        exact = _brute_force_radius(v, spread, n_classes, limit=r + 1)
        assert exact >= r  # no set of <= r changed rows flips the vote
        tight += exact == r
    # the bound counts a classifier shared by two corrupted buckets twice, so
    # it may be loose; on these small cases it is attained most of the time
    assert tight >= len(votes) // 2


@pytest.mark.parametrize("n_partitions, n_shares, n_classes",
                         [(5, 1, 2), (6, 1, 3), (3, 2, 2), (2, 2, 3)])
def test_certificate_against_an_unseen_label_by_brute_force(n_partitions, n_shares,
                                                            n_classes):
    """The conservative certificate (``classes=None``) against the known
    classes plus a new one, of index 0, that no model votes for yet: exact for
    DPA, sound for FA, by brute force over every vote of the reached models."""
    rng = np.random.RandomState(n_partitions + 7 * n_shares)
    votes = _random_votes(rng, n_partitions * n_shares, n_classes, 30)
    votes = votes[(votes >= 0).any(axis=1)]  # all abstaining: the new class wins
    spread = _spread(n_partitions, n_shares)
    counts = _vote_counts(votes, n_classes)
    pred = _plurality(counts)
    ext_votes, ext_counts, code = _with_unseen_rival(votes, counts, pred)
    if n_shares == 1:
        radius = _dpa_radius(ext_counts, code)[1]
    else:
        radius = _fa_radius(ext_votes, ext_counts, spread, pred=code)[1]
    assert (radius <= (_dpa_radius(counts)[1] if n_shares == 1 else
                       _fa_radius(votes, counts, spread)[1])).all()
    for v, r in zip(ext_votes, radius):
        exact = _brute_force_radius(v, spread, n_classes + 1, limit=r + 1)
        if n_shares == 1:
            assert exact == r
        else:
            assert exact >= r


# ------------------------------------------------------------- run-off
def _score_states(n_classes):
    """Every ranking of the classes a corrupted model can output, and abstaining."""
    perms = [np.array(p, float) for p in itertools.permutations(range(n_classes))]
    return np.array([*perms, np.full(n_classes, np.nan)])


def _runoff_exact_radius(scores, spread, limit, winner):
    """Largest r <= limit such that no r corrupted buckets change the run-off
    winner: every multiset of buckets, every ranking of every reached model."""
    states = _score_states(scores.shape[1])
    for r in range(1, limit + 1):
        for buckets in itertools.combinations_with_replacement(range(len(spread)), r):
            hit = np.unique(spread[list(buckets)].ravel())
            combos = np.array(list(itertools.product(range(len(states)),
                                                     repeat=hit.size)))
            new = np.repeat(scores[None], len(combos), axis=0)
            new[:, hit, :] = states[combos]
            if np.any(_runoff(new)[-1] != winner):
                return r - 1
    return limit


def _random_scores(rng, n_members, n_classes, n_cases):
    """Score matrices with a favourite of varying strength, some abstaining
    models and some classes a model does not know (-inf)."""
    s = rng.normal(0, 1, (n_cases, n_members, n_classes))
    fav = rng.randint(n_classes, size=n_cases)
    s[np.arange(n_cases), :, fav] += rng.uniform(0, 4, (n_cases, 1))
    s[rng.rand(n_cases, n_members) < 0.1] = np.nan
    s[(rng.rand(*s.shape) < 0.05) & ~np.isnan(s)] = -np.inf
    return s


@pytest.mark.parametrize("n_partitions, n_shares, n_classes, unseen", [
    (5, 1, 3, False), (7, 1, 3, False), (4, 1, 2, False), (5, 1, 4, False),
    (3, 2, 3, False), (4, 2, 2, False), (5, 1, 2, True), (5, 1, 3, True),
    (3, 2, 2, True)])
def test_runoff_certificate_is_sound_by_brute_force(n_partitions, n_shares, n_classes,
                                                    unseen):
    rng = np.random.RandomState(n_partitions * 10 + n_shares + n_classes)
    scores = _random_scores(rng, n_partitions * n_shares, n_classes, 20)
    scores = scores[~np.isnan(scores[:, :, 0]).all(axis=1)]
    spread = _spread(n_partitions, n_shares)
    winner = _runoff(scores)[-1]
    if unseen:  # a class of index 0 that no model knows yet
        scores, winner = _with_unseen_score(scores), winner + 1
    radius = _runoff_radius(scores, spread, winner)
    assert radius.max() >= 1
    tight = 0
    for s, r, w in zip(scores, radius, winner):
        exact = _runoff_exact_radius(s, spread, r + 1, w)
        assert exact >= r  # no r corrupted buckets change the winner
        tight += exact == r
    assert tight >= 0.8 * len(radius)  # and it is nearly always attained


def test_runoff_known_answer_beats_the_plurality_vote():
    # 10 models, votes 4 / 3 / 3 for classes 0 / 1 / 2; class 2's voters rank
    # 0 above 1, so 0 wins the final 7 to 3.
    order = {0: [3, 2, 1], 1: [2, 3, 1], 2: [2, 1, 3]}
    scores = np.array([[order[v] for v in [0] * 4 + [1] * 3 + [2] * 3]], float)
    votes, counts, first, second, m_first, m_second, winner = _runoff(scores)
    assert (first[0], second[0], m_first[0], m_second[0], winner[0]) == (0, 1, 7, 3, 0)
    spread = _spread(10, 1)
    # vote: gap 4 - 3 = 1, radius 0; run-off: two rows are needed to push
    # 1 and 2 above 0 (each row moves a vote of 0), three to win the final
    assert _dpa_radius(counts)[1][0] == 0
    assert _runoff_radius(scores, spread)[0] == 1
    assert _runoff_exact_radius(scores[0], spread, 3, 0) == 1
    assert _runoff_radius(_with_unseen_score(scores), spread, winner + 1)[0] == 1


def test_runoff_estimator():
    X, y = _blobs(60, n_classes=3, spread=2.0)
    vote = PartitionAggregation(LogisticRegression(), n_partitions=7).fit(X, y)
    runoff = clone(vote).set_params(aggregation="runoff").fit(X, y)
    for a, b in zip(vote.estimators_, runoff.estimators_):  # the same models
        np.testing.assert_array_equal(a.coef_, b.coef_)
    X_test = np.random.RandomState(0).normal(0, 3, (200, 2))
    y_pred, radius = runoff.certify(X_test)
    np.testing.assert_array_equal(y_pred, runoff.predict(X_test))
    proba = runoff.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(runoff.classes_[proba.argmax(axis=1)], y_pred)
    assert (radius >= 0).all() and radius.max() >= 2
    scores = runoff._scores(X_test)
    np.testing.assert_array_equal(
        radius, _runoff_radius(_with_unseen_score(scores), runoff.spread_,
                               _runoff(scores)[-1] + 1))
    # on two classes the final is the first round: the same radii as the vote
    X2, y2 = _blobs(60, n_classes=2, spread=2.0)
    for d in (1, 2):
        v2 = PartitionAggregation(LogisticRegression(), n_partitions=6, n_shares=d,
                                  classes=[0, 1]).fit(X2, y2)
        r2 = clone(v2).set_params(aggregation="runoff").fit(X2, y2)
        np.testing.assert_array_equal(v2.certify(X_test)[1], r2.certify(X_test)[1])
        np.testing.assert_array_equal(v2.predict(X_test), r2.predict(X_test))
    # decision_function only (LinearSVC), and single-class partitions
    svc = PartitionAggregation(LinearSVC(), n_partitions=4,
                               aggregation="runoff").fit(X, y)
    assert svc.score(X, y) > 0.8


def test_runoff_needs_class_scores():
    class OnlyPredict(DummyClassifier):
        predict_proba = property(lambda self: (_ for _ in ()).throw(AttributeError()))

    X, y = _blobs(20)
    with pytest.raises(TypeError, match="aggregation='runoff' needs class scores"):
        PartitionAggregation(OnlyPredict(), n_partitions=2,
                             aggregation="runoff").fit(X, y)
    with pytest.raises(InvalidParameterError, match="aggregation"):
        PartitionAggregation(LogisticRegression(), n_partitions=2,
                             aggregation="borda").fit(X, y)


# ------------------------------------------------------ collective certificate
def _exhaustive_group_attack(table, spread, r, correct, runoff, n_classes):
    """The most correct rows one set of <= r corrupted buckets can change:
    every bucket set, and for each row every output of the reached models."""
    states = _score_states(n_classes) if runoff else np.arange(-1, n_classes)
    base = (_runoff(table)[-1] if runoff
            else _plurality(_vote_counts(table, n_classes)))
    best = 0
    for size in range(1, r + 1):  # (more buckets never change fewer rows)
        for buckets in itertools.combinations(range(len(spread)), size):
            hit = np.unique(spread[list(buckets)].ravel()).astype(int)
            combos = np.array(list(itertools.product(range(len(states)),
                                                     repeat=hit.size)))
            changed = 0
            for i in np.flatnonzero(correct):
                new = np.repeat(table[i][None], len(combos), axis=0)
                new[:, hit] = states[combos]
                won = (_runoff(new)[-1] if runoff
                       else _plurality(_vote_counts(new, n_classes)))
                changed += bool(np.any(won != base[i]))
            best = max(best, changed)
    return best


def test_collective_certificate_by_brute_force():
    """Vote: the program's optimum is what an exhaustive attacker over
    partitions achieves; run-off: never below it. Both never above the
    pointwise count, and below it where rows need different partitions."""
    rng = np.random.RandomState(0)
    for trial in range(12):
        n_partitions, n_shares, n_classes = [(5, 1, 2), (5, 1, 3), (3, 2, 2)][trial % 3]
        m = n_partitions * n_shares
        spread = _spread(n_partitions, n_shares)
        votes = rng.randint(-1, n_classes, size=(6, m))
        fav = rng.randint(n_classes, size=6)
        strong = rng.rand(6, m) < rng.uniform(0.3, 0.8, (6, 1))
        votes[strong] = np.repeat(fav[:, None], m, axis=1)[strong]
        counts = _vote_counts(votes, n_classes)
        correct = rng.rand(6) < 0.8
        for r in (1, 2):
            n_flip, optimal, _, n_point = _group_certificate(
                votes, counts, _plurality(counts), spread, None, correct, r, 10.0)
            assert optimal
            assert n_flip == _exhaustive_group_attack(votes, spread, r, correct,
                                                      False, n_classes)
            assert n_flip <= n_point
    # crafted: row i has model i voting 1, the others 0: any 2 corrupted
    # partitions change the rows whose dissenter is not among them (3 of 5)
    votes = np.ones((5, 5), int) - np.eye(5, dtype=int)
    votes = 1 - votes
    counts = _vote_counts(votes, 2)
    got = _group_certificate(votes, counts, np.zeros(5, int), _spread(5, 1), None,
                             np.ones(5, bool), 2, 10.0)
    assert got[0] == 3 and got[3] == 5
    assert _exhaustive_group_attack(votes, _spread(5, 1), 2, np.ones(5, bool),
                                    False, 2) == 3
    # run-off: a sound upper bound
    for trial in range(4):
        n_partitions, n_shares, n_classes = [(5, 1, 3), (3, 2, 2)][trial % 2]
        scores = _random_scores(rng, n_partitions * n_shares, n_classes, 5)
        scores = scores[~np.isnan(scores[:, :, 0]).all(axis=1)]
        spread = _spread(n_partitions, n_shares)
        votes, counts, *_, winner = _runoff(scores)
        correct = np.ones(len(scores), bool)
        for r in (1, 2):
            n_flip, optimal, _, n_point = _group_certificate(
                votes, counts, winner, spread, scores, correct, r, 10.0)
            exact = _exhaustive_group_attack(scores, spread, r, correct, True,
                                             n_classes)
            assert exact <= n_flip <= n_point


def test_certify_group_on_a_fitted_defense():
    X, y = _blobs(60, n_classes=3, spread=2.5)
    pa = PartitionAggregation(LogisticRegression(), n_partitions=8).fit(X, y)
    X_test = np.random.RandomState(0).normal(0, 3, (40, 2))
    y_test = pa.predict(X_test)
    y_test[:5] = (y_test[:5] + 1) % 3  # five rows wrong
    radius = pa.certified_radius(X_test)
    for r in (0, 1, 2, 4):
        res = pa.certify_group(X_test, y_test, r)
        assert res.optimal
        assert res.n_pointwise == np.sum((radius < r) & (np.arange(40) >= 5))
        assert res.n_flippable <= res.n_pointwise
        assert res.damage == res.n_flippable / 40
        assert res.accuracy == 35 / 40
    assert pa.certify_group(X_test, y_test, 0).n_flippable == 0
    # a time limit too short to solve still gives a sound bound
    many = PartitionAggregation(LogisticRegression(), n_partitions=30).fit(
        *_blobs(300, n_classes=3, spread=3.0))
    X_big = np.random.RandomState(1).normal(0, 4, (300, 2))
    exact = many.certify_group(X_big, many.predict(X_big), 3)
    rushed = many.certify_group(X_big, many.predict(X_big), 3, time_limit=1e-4)
    assert exact.optimal
    assert exact.n_flippable <= rushed.n_flippable <= rushed.n_pointwise
    with pytest.raises(ValueError, match="n_changed"):
        pa.certify_group(X_test, y_test, -1)
    with pytest.raises(ValueError, match="time_limit"):
        pa.certify_group(X_test, y_test, 1, time_limit=0)


def test_fa_with_one_share_is_dpa():
    rng = np.random.RandomState(0)
    for n_classes in (2, 3, 5):
        votes = _random_votes(rng, 11, n_classes, 200)
        counts = _vote_counts(votes, n_classes)
        p1, r1 = _dpa_radius(counts)
        p2, r2 = _fa_radius(votes, counts, _spread(11, 1), batch_size=37)
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(r1, r2)


def test_spread_is_balanced():
    for k, d in [(1, 1), (5, 1), (3, 4), (50, 16), (2, 7)]:
        spread = _spread(k, d)
        assert spread.shape == (k * d, d)
        # each bucket to d distinct classifiers, each classifier d buckets
        assert all(len(set(row)) == d for row in spread)
        np.testing.assert_array_equal(np.bincount(spread.ravel(), minlength=k * d),
                                      np.full(k * d, d))
    np.testing.assert_array_equal(_spread(4, 1).ravel(), np.arange(4))


def _craft_near(pa, x0, bucket, start=0):
    """A row within 1e-6 of ``x0`` that hashes to ``bucket``."""
    for j in itertools.count(start):
        candidate = x0 + np.array([1e-9 * (j + 1), 0.0])
        if pa.hash_partition(candidate[None, :])[0] == bucket:
            return candidate, j + 1


@pytest.mark.parametrize("n_shares", [1, 2])
def test_certificate_against_real_insertions(n_shares):
    """1-NN base models: a row added right next to a test point decides the
    vote of every partition it reaches. ``radius`` such rows never change the
    prediction; with DPA, ``radius + 1`` well-placed ones do."""
    X, y = _blobs(40, seed=3, spread=2.5)
    pa = PartitionAggregation(KNeighborsClassifier(n_neighbors=1), n_partitions=7,
                              n_shares=n_shares).fit(X, y)
    X_test = np.random.RandomState(1).normal(0, 2.5, (12, 2))
    y_pred, radius = pa.certify(X_test)
    votes = pa.votes(X_test)
    for x0, c, r, v in zip(X_test, y_pred, radius, votes):
        rival = 1 - c
        # the attacker's best buckets: those whose classifiers vote c most
        score = (v[pa.spread_] == c).sum(axis=1)
        order = np.argsort(-score, kind="stable")
        rows, start = [], 0
        for b in order[:r + 1]:
            row, start = _craft_near(pa, x0, b, start)
            rows.append(row)
        rows = np.array(rows)
        attacked = clone(pa).fit(np.vstack([X, rows[:r]]),
                                 np.concatenate([y, np.full(r, rival)]))
        assert attacked.predict(x0[None, :])[0] == c
        if n_shares == 1:
            attacked = clone(pa).fit(np.vstack([X, rows]),
                                     np.concatenate([y, np.full(r + 1, rival)]))
            assert attacked.predict(x0[None, :])[0] != c


@pytest.mark.parametrize("n_shares", [1, 2])
def test_rows_of_a_label_never_seen_are_certified_against(n_shares):
    """k = 10, 1-NN base models, a unanimous vote for class 0: rows labelled
    with a new class -1 (smaller, so it wins ties) inserted next to the test
    point take one vote each. Without a fixed label set the radius must stay
    below the number of such rows that flips the prediction; with ``classes``
    given, such rows are refused."""
    X, y = _blobs(100, seed=0)
    pa = PartitionAggregation(KNeighborsClassifier(n_neighbors=1), n_partitions=5,
                              n_shares=n_shares).set_params(
        n_partitions=10 // n_shares).fit(X, y)
    x0 = np.array([6.0, 0.0])
    assert (pa.votes(x0[None, :]) == 0).all()
    radius = pa.certified_radius(x0[None, :])[0]
    # the attacker's rows, each in a bucket whose classifiers are all new
    rows, start, used = [], 0, set()
    for b in range(len(pa.spread_)):
        if used & set(pa.spread_[b].tolist()):
            continue
        row, start = _craft_near(pa, x0, b, start)
        rows.append(row)
        used |= set(pa.spread_[b].tolist())
    rows = np.array(rows)
    n_flip = None
    for n in range(1, len(rows) + 1):
        attacked = clone(pa).fit(np.vstack([X, rows[:n]]),
                                 np.concatenate([y, np.full(n, -1)]))
        if attacked.predict(x0[None, :])[0] != 0:
            n_flip = n
            break
    assert n_flip is not None
    assert radius < n_flip
    if n_shares == 1:
        assert (radius, n_flip) == (4, 5)  # exact: 5 new-label rows tie and win
    # the label set fixed: the certificate is exact for it, new labels refused
    fixed = clone(pa).set_params(classes=[0, 1]).fit(X, y)
    if n_shares == 1:
        assert fixed.certified_radius(x0[None, :])[0] == 5
    with pytest.raises(ValueError, match=r"labels outside classes=\[0, 1\]: \[-1\]"):
        clone(fixed).fit(np.vstack([X, rows[:1]]), np.append(y, -1))


def test_classes_parameter():
    X, y = _blobs(40)
    pa = PartitionAggregation(LogisticRegression(), n_partitions=4,
                              classes=[2, 1, 0]).fit(X, y)
    np.testing.assert_array_equal(pa.classes_, [0, 1, 2])
    assert pa.predict_proba(X).shape == (80, 3)
    with pytest.raises(ValueError, match="at least two labels"):
        clone(pa).set_params(classes=[0]).fit(X, y)
    with pytest.raises(ValueError, match="1-D"):
        clone(pa).set_params(classes=[[0, 1]]).fit(X, y)


def test_frozen_estimator_is_refused():
    from sklearn.frozen import FrozenEstimator

    X, y = _blobs(40)
    fitted = LogisticRegression().fit(X, y)
    for est in (FrozenEstimator(fitted),
                make_pipeline(StandardScaler(), FrozenEstimator(fitted))):
        with pytest.raises(TypeError, match="FrozenEstimator.*one prefit model"):
            PartitionAggregation(est, n_partitions=10).fit(X, y)


def test_huge_n_shares_is_refused_before_any_work():
    X, y = _blobs(20)
    with pytest.raises(ValueError, match=r"n_shares=1000000 with n_partitions=2.*"
                                         r"use n_shares <= 2236"):
        PartitionAggregation(LogisticRegression(), n_partitions=2,
                             n_shares=10 ** 6).fit(X, y)


def test_removals_and_flips_touch_one_partition():
    X, y = _blobs(50)
    pa = PartitionAggregation(LogisticRegression(), n_partitions=5).fit(X, y)
    flipped = y.copy()
    flipped[:7] = 1 - flipped[:7]
    other = clone(pa).fit(X, flipped)
    np.testing.assert_array_equal(other.partition_, pa.partition_)
    changed = {int(b) for b in pa.partition_[:7]}
    for j in set(range(5)) - changed:
        np.testing.assert_allclose(other.estimators_[j].coef_, pa.estimators_[j].coef_)
    removed = clone(pa).fit(X[3:], y[3:])
    np.testing.assert_array_equal(removed.partition_, pa.partition_[3:])


# ------------------------------------------------------------ partitioning
def test_partition_depends_on_content_only():
    X, y = _blobs(60)
    X = np.vstack([X, X[:5]])  # exact duplicates
    y = np.concatenate([y, 1 - y[:5]])  # with other labels
    pa = PartitionAggregation(LogisticRegression(), n_partitions=8).fit(X, y)
    np.testing.assert_array_equal(pa.partition_[-5:], pa.partition_[:5])
    np.testing.assert_array_equal(pa.hash_partition(X), pa.partition_)
    perm = np.random.RandomState(0).permutation(len(y))
    permuted = clone(pa).fit(X[perm], y[perm])
    np.testing.assert_array_equal(permuted.partition_, pa.partition_[perm])
    X_test = np.random.RandomState(2).normal(0, 3, (50, 2))
    np.testing.assert_array_equal(permuted.predict_proba(X_test),
                                  pa.predict_proba(X_test))
    # independent of the other rows: a subset keeps its buckets
    sub = clone(pa).fit(X[::2], y[::2])
    np.testing.assert_array_equal(sub.partition_, pa.partition_[::2])


def test_same_values_same_bucket_whatever_the_container():
    X = np.array([[0.0, 1.0, 2.0], [-0.0, 3.0, 255.0], [np.nan, 1.0, 2.0],
                  [4.0, 5.0, 6.0]])
    pa = PartitionAggregation(LogisticRegression(), n_partitions=1000)
    ref = pa.hash_partition(X)
    assert ref[0] != ref[2]
    ints = pa.hash_partition(np.nan_to_num(X).astype(np.int64))
    assert ints[1] == ref[1] and ints[3] == ref[3]
    np.testing.assert_array_equal(pa.hash_partition(X.astype(np.float32)), ref)
    np.testing.assert_array_equal(pa.hash_partition(X.astype(object)), ref)
    np.testing.assert_array_equal(pa.hash_partition(pd.DataFrame(X)), ref)
    np.testing.assert_array_equal(pa.hash_partition(X.tolist()), ref)
    assert pa.hash_partition(X[[1]] * [-1, 1, 1])[0] == ref[1]  # -0.0 is 0.0
    nan2 = np.array([[np.float64("-nan"), 1.0, 2.0]])
    assert pa.hash_partition(nan2)[0] == ref[2]
    other = pa.set_params(hash="blake2b").hash_partition(X)
    assert not np.array_equal(other, ref)


def test_mixed_dataframe_hash_and_fit():
    rng = np.random.RandomState(0)
    n = 120
    X = pd.DataFrame({
        "colour": rng.choice(["red", "green", None], n),
        "size": rng.normal(0, 1, n),
        "kind": pd.Categorical(rng.choice(["a", "b"], n)),
    })
    y = (X["size"] > 0).astype(int).to_numpy()
    X_copy = X.copy()
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["colour", "kind"]),
            remainder="passthrough"),
        LogisticRegression())
    pa = PartitionAggregation(model, n_partitions=4).fit(X, y)
    pd.testing.assert_frame_equal(X, X_copy)
    assert pa.score(X, y) > 0.8
    again = pa.hash_partition(X.iloc[::-1].reset_index(drop=True))
    np.testing.assert_array_equal(again[::-1], pa.partition_)
    # a string is hashed as text: "1.5" is not 1.5
    a = pd.DataFrame({"v": ["1.5"], "w": ["x"]})
    b = pd.DataFrame({"v": [1.5], "w": ["x"]})
    big = PartitionAggregation(LogisticRegression(), n_partitions=10 ** 6)
    assert big.hash_partition(a)[0] != big.hash_partition(b)[0]


def test_sparse_input():
    X, y = _blobs(60)
    X[np.abs(X) < 1] = 0
    ref = PartitionAggregation(LogisticRegression(), n_partitions=4).fit(
        sp.csr_matrix(X), y)
    assert ref.score(sp.csr_matrix(X), y) > 0.9
    for fmt in ("csr", "csc", "coo", "lil"):
        Xs = sp.csr_matrix(X).asformat(fmt)
        pa = clone(ref).fit(Xs, y)
        np.testing.assert_array_equal(pa.partition_, ref.partition_)
        np.testing.assert_array_equal(pa.partition_[::-1],
                                      pa.hash_partition(sp.csr_array(X[::-1])))
        np.testing.assert_array_equal(pa.predict(Xs), ref.predict(X))


# --------------------------------------------------------- base classifiers
def test_empty_partitions_abstain_and_single_class_partitions_are_constant():
    rng = np.random.RandomState(0)
    X = rng.normal(0, 1, (12, 2))
    y = np.array([0, 1] * 6)
    pa = PartitionAggregation(LogisticRegression(), n_partitions=12).fit(X, y)
    sizes = np.bincount(pa.partition_, minlength=12)
    assert (sizes == 0).any()  # 12 rows in 12 buckets: some stay empty
    for j, model in enumerate(pa.estimators_):
        if sizes[j] == 0:
            assert model is None
        elif np.unique(y[pa.partition_ == j]).size == 1:
            assert isinstance(model, DummyClassifier)
    votes = pa.votes(X)
    np.testing.assert_array_equal(votes[:, sizes == 0], -1)
    proba = pa.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    voters = (votes >= 0).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba * voters, _vote_counts(votes, 2))
    np.testing.assert_array_equal(pa.classes_[np.argmax(proba, axis=1)], pa.predict(X))


@pytest.mark.parametrize("n_classes", [2, 3, 4])
@pytest.mark.parametrize("n_shares", [1, 3])
def test_binary_and_multiclass_with_string_labels(n_classes, n_shares):
    X, y = _blobs(80, n_classes=n_classes)
    labels = np.array(["cat", "dog", "eel", "fox"])[:n_classes][y]
    pa = PartitionAggregation(LogisticRegression(), n_partitions=6,
                              n_shares=n_shares).fit(X, labels)
    np.testing.assert_array_equal(pa.classes_, np.unique(labels))
    assert len(pa.estimators_) == 6 * n_shares
    assert pa.score(X, labels) > 0.9
    y_pred, radius = pa.certify(X)
    np.testing.assert_array_equal(y_pred, pa.predict(X))
    assert radius.dtype.kind == "i" and (radius >= 0).all()
    assert radius.max() <= 6 * n_shares
    assert pa.support_mask_.all() and pa.support_mask_.shape == (len(y),)
    samples = pa.estimators_samples_
    assert sum(len(s) for s in samples) == n_shares * len(y)


def test_each_member_sees_its_rows_in_canonical_order():
    X, y = _blobs(40)
    pa = PartitionAggregation(LogisticRegression(), n_partitions=3, n_shares=2).fit(X, y)
    for j, rows in enumerate(pa.estimators_samples_):
        assert np.isin(pa.partition_[rows], np.flatnonzero((pa.spread_ == j).any(1))).all()
        np.testing.assert_allclose(
            pa.estimators_[j].coef_,
            LogisticRegression().fit(X[rows], y[rows]).coef_, rtol=1e-4, atol=1e-6)


def test_skorch_base_classifier():
    pytest.importorskip("skorch")
    from skpoison.nets import make_mlp_classifier

    X, y = _blobs(60, n_classes=3)
    labels = np.array([-1, 5, 7])[y]
    net = make_mlp_classifier((8,), max_epochs=15, lr=0.05)
    pa = PartitionAggregation(net, n_partitions=3, random_state=0).fit(X, labels)
    again = clone(pa).fit(X, labels)
    np.testing.assert_array_equal(pa.predict_proba(X), again.predict_proba(X))
    assert pa.score(X, labels) > 0.8


# ----------------------------------------------------------- reproducibility
def test_same_random_state_same_result_and_seeds_per_member():
    X, y = _blobs(80)
    sgd = SGDClassifier(max_iter=5, tol=None)
    pa = PartitionAggregation(sgd, n_partitions=4, random_state=7).fit(X, y)
    again = clone(pa).fit(X, y)
    for a, b in zip(pa.estimators_, again.estimators_):
        np.testing.assert_array_equal(a.coef_, b.coef_)
    seeds = [m.random_state for m in pa.estimators_]
    assert len(set(seeds)) == len(seeds)  # one seed per member
    assert sgd.random_state is None  # the caller's estimator is untouched
    other = clone(pa).set_params(random_state=8).fit(X, y)
    assert [m.random_state for m in other.estimators_] != seeds


def test_n_jobs_does_not_change_the_result():
    X, y = _blobs(60, n_classes=3)
    pa = PartitionAggregation(LogisticRegression(), n_partitions=5, n_shares=2,
                              n_jobs=1).fit(X, y)
    par = clone(pa).set_params(n_jobs=2).fit(X, y)
    for a, b in zip(pa.estimators_, par.estimators_):
        np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(pa.certify(X)[1], par.certify(X)[1])
    np.testing.assert_array_equal(pa.votes(X), par.votes(X))


def test_callers_data_is_not_modified():
    X, y = _blobs(40)
    X[0, 0] = -0.0
    X_copy, y_copy = X.copy(), y.copy()
    pa = PartitionAggregation(LogisticRegression(), n_partitions=4).fit(X, y)
    pa.certify(X)
    np.testing.assert_array_equal(X, X_copy)
    assert np.signbit(X[0, 0])
    np.testing.assert_array_equal(y, y_copy)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("params, match", [
    ({"n_partitions": 0}, "n_partitions"),
    ({"n_partitions": 2.5}, "n_partitions"),
    ({"n_shares": 0}, "n_shares"),
    ({"hash": "md5"}, "hash"),
    ({"n_jobs": "two"}, "n_jobs"),
])
def test_bad_parameters_name_themselves(params, match):
    X, y = _blobs(20)
    with pytest.raises(InvalidParameterError, match=match):
        PartitionAggregation(LogisticRegression(), **params).fit(X, y)


def test_bad_input_errors():
    X, y = _blobs(10)
    with pytest.raises(ValueError, match="n_partitions=50 exceeds n_samples=20"):
        PartitionAggregation(LogisticRegression()).fit(X, y)
    with pytest.raises(InvalidParameterError, match="estimator"):
        PartitionAggregation("logistic", n_partitions=2).fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        PartitionAggregation(LogisticRegression(), n_partitions=2).fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        PartitionAggregation(LogisticRegression(), n_partitions=2).fit(X, y[:-1])
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        PartitionAggregation(LogisticRegression(), n_partitions=2).fit(X_nan, y)
    pa = PartitionAggregation(LogisticRegression(), n_partitions=2).fit(X, y)
    with pytest.raises(ValueError, match="X contains NaN"):
        pa.predict(X_nan)
    with pytest.raises(ValueError, match="expecting 2 features"):
        pa.predict(X[:, :1])
    # n_shares > n_partitions is allowed: each member still sees 1 / k of the rows
    fa = PartitionAggregation(LogisticRegression(), n_partitions=2, n_shares=3).fit(X, y)
    assert len(fa.estimators_) == 6


def test_works_with_certified_radius_vs_poison():
    X, y = _blobs(100)
    pa = PartitionAggregation(LogisticRegression(), n_partitions=10).fit(X, y)
    X_test = np.random.RandomState(3).normal(0, 4, (40, 2))
    ids = (X_test[:, 0] > 0).astype(int)
    report = certified_radius_vs_poison(pa, X_test, ids, alpha=[0.0, 1.0],
                                        sizes={0: 3, 1: 5}, y=(X_test[:, 0] < 0))
    radius = pa.certified_radius(X_test)
    row = report[(report.subpopulation == 1) & (report.alpha == 1.0)].iloc[0]
    assert row.certified_fraction == pytest.approx(np.mean(radius[ids == 1] >= 5))
    assert (report[report.alpha == 0].certified_fraction == 1).all()


def test_estimator_without_predict_proba_is_fine():
    X, y = _blobs(60)
    pa = PartitionAggregation(make_pipeline(StandardScaler(), LinearSVC()),
                              n_partitions=4).fit(X, y)
    assert pa.predict_proba(X).shape == (len(y), 2)

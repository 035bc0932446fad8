"""ModelTargetedPoison and susceptibility: the max-loss step and the lower bound
against brute force, the victim's objective against scikit-learn, and the
attack on arrays and on DataFrames through a ColumnTransformer."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler
from sklearn.svm import SVC, LinearSVC

from skpoison.attacks import ModelTargetedPoison, susceptibility
from skpoison.attacks._model_targeted import _phi, _Setup, max_loss_difference
from skpoison.subpopulations import FeatureMatch


def _problem(seed=0, n=300):
    rng = np.random.RandomState(seed)
    group = rng.randint(3, size=n)
    X = np.column_stack([group, rng.normal(size=n)])
    y = (X[:, 1] + 0.5 * group > 0.5).astype(int)
    return X, y


def _brute_force(loss, const, A, lo, hi, cats, n_grid=201):
    grids = [np.linspace(a, b, n_grid) for a, b in zip(lo, hi)]
    best = -np.inf
    for combo in itertools.product(*[range(len(c)) for c in cats]):
        off = const + sum((cats[k][c] for k, c in enumerate(combo)), np.zeros(2))
        if len(lo):
            mesh = np.stack(np.meshgrid(*grids, indexing="ij"), -1).reshape(-1, len(lo))
            m = off + mesh @ A
        else:
            m = off[None]
        for y in (1, -1):
            best = max(best, np.max(_phi(loss, y * m[:, 0]) - _phi(loss, y * m[:, 1])))
    return best


@pytest.mark.parametrize("loss", ["log_loss", "hinge", "squared_hinge"])
@pytest.mark.parametrize("cap", [5000, 2])
def test_max_loss_difference_matches_brute_force(loss, cap):
    # the returned point is feasible and has the returned value; the brute
    # force maximum over a fine grid lies between that value and the
    # certified upper bound (cap=2 thins the categorical front: the bound
    # must account for it)
    rng = np.random.RandomState(1)
    for _ in range(40):
        n_cont, n_cat = rng.randint(0, 3), rng.randint(0, 4)
        const = rng.normal(size=2)
        A = rng.normal(size=(n_cont, 2)) * 2
        lo, hi = -rng.uniform(size=n_cont), rng.uniform(size=n_cont)
        cats = [rng.normal(size=(rng.randint(1, 4), 2)) * 2 for _ in range(n_cat)]
        sol = max_loss_difference(loss, const, A, lo, hi, cats, cap=cap)
        m = const + sol.x @ A + sum((cats[k][c] for k, c in enumerate(sol.categories)),
                                    np.zeros(2))
        value = _phi(loss, sol.label * m[0]) - _phi(loss, sol.label * m[1])
        assert value == pytest.approx(sol.value, abs=1e-9)
        assert np.all(sol.x >= lo) and np.all(sol.x <= hi)
        best = _brute_force(loss, const, A, lo, hi, cats)
        assert best <= sol.upper + 1e-9
        if cap > 100:
            assert sol.value >= best - 1e-9
            assert sol.upper - sol.value < 1e-6


@pytest.mark.parametrize("estimator", [
    LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000),
    LogisticRegression(C=2.0, solver="liblinear", tol=1e-12, max_iter=10_000),
    LinearSVC(C=0.3, dual=False, tol=1e-12, max_iter=100_000),
    # liblinear's dual solver reaches the hinge's minimiser to 1e-4 with a
    # tolerance below rounding (it then warns that it did not converge)
    LinearSVC(C=0.3, loss="hinge", tol=1e-15, max_iter=10_000_000),
    LinearSVC(C=3.0, loss="hinge", intercept_scaling=2.0, tol=1e-15,
              max_iter=10_000_000),
])
def test_exact_refits_solve_the_estimators_objective(estimator):
    # Newton on the transcribed objective finds scikit-learn's solution, also
    # with weighted rows: the bound is about that objective
    X, y = _problem(n=120)
    w = np.random.RandomState(0).uniform(0.5, 3, size=y.size)
    setup = _Setup(estimator, X, y, np.array([0, 1]), None,
                   np.random.RandomState(0), capacity=0)
    theta = setup.trainer.fit(np.zeros(3), w)
    # the estimator's best of three runs (liblinear's dual solver may stall)
    refs = [clone(estimator).set_params(random_state=seed).fit(X, y, sample_weight=w)
            for seed in range(3)]
    refs = [np.r_[ref.coef_.ravel(), ref.intercept_] for ref in refs]
    values = [setup.trainer.objective(ref, s=w) for ref in refs]
    assert_allclose(theta, refs[int(np.argmin(values))], atol=1e-4)
    assert setup.trainer.objective(theta, s=w) <= min(values) + 1e-9
    assert setup.trainer.uncertified == 0


def test_hinge_refits_are_certified_from_warm_starts():
    # the hinge (LinearSVC's and SGDClassifier's objective): refits from the
    # last model, with extreme weighted rows appended one at a time, are
    # certified exact (KKT within 1e-9), equal liblinear's solution (to 1e-8)
    # and are never worse than SGD's own fit of its objective
    rng = np.random.RandomState(1)
    X = np.column_stack([rng.randint(2, size=(400, 3)), rng.normal(size=(400, 2))])
    y = (X[:, 0] + X[:, 3] + rng.normal(scale=0.8, size=400) > 0.8).astype(int)
    svc = LinearSVC(loss="hinge", C=0.5, tol=1e-12, max_iter=1_000_000)
    sgd = SGDClassifier(loss="hinge", alpha=1e-3, max_iter=5000, tol=1e-9,
                        random_state=0)
    for estimator in (svc, sgd):
        setup = _Setup(estimator, X, y, np.array([0, 1]), None,
                       np.random.RandomState(0), capacity=12)
        tr = setup.trainer
        theta = tr.fit(np.zeros(tr.Z.shape[1]))
        for i in range(12):
            z = np.r_[rng.randint(2, size=3), rng.choice([-4.0, 4.0], size=2)]
            tr.add(z, rng.choice([-1.0, 1.0]), weight=1.0 + i % 3)
            theta = tr.fit(theta)
        assert tr.uncertified == 0
        cold = setup.trainer.fit(np.zeros(tr.Z.shape[1]))
        assert_allclose(theta, cold, atol=1e-8)
        n = tr.n_rows
        # liblinear reaches it with a tolerance below rounding and 10^7 passes
        ref = clone(estimator).set_params(tol=1e-15, max_iter=10_000_000, random_state=0)
        if estimator is sgd:  # SGD's objective is a mean: alpha per unit weight
            ref.set_params(alpha=sgd.alpha * tr.s[:n].sum() / n, max_iter=5000, tol=1e-9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # neither says it converged
            ref.fit(tr.Z[:n, :-1], tr.Y[:n], sample_weight=tr.s[:n])
        theta_ref = np.r_[ref.coef_.ravel(), ref.intercept_]
        if estimator is svc:
            assert_allclose(theta, theta_ref, atol=1e-8)
        assert tr.objective(theta) <= tr.objective(theta_ref) + 1e-9


def _tiny_setup(estimator):
    # two binary features and a continuous one
    rng = np.random.RandomState(3)
    X = np.column_stack([rng.randint(2, size=40), rng.randint(2, size=40),
                         rng.choice([0.0, 1.0, 2.5], size=40)])
    y = (X[:, 0] + X[:, 2] + rng.normal(scale=0.7, size=40) > 1.5).astype(int)
    return _Setup(estimator, X, y, np.array([0, 1]), None, rng, capacity=8), X


@pytest.mark.parametrize("estimator", [
    LogisticRegression(C=1.0),
    LinearSVC(C=0.5),
    LinearSVC(C=0.5, loss="hinge"),
    SGDClassifier(loss="hinge", alpha=0.01),
    SGDClassifier(loss="log_loss", alpha=0.01),
])
def test_lower_bound_never_exceeds_the_poisons_that_reach_a_model(estimator):
    # every multiset of 1 or 2 (and some of 3) feasible poisons induces a model theta_p (the
    # exact minimiser on the clean rows and the poisons); the bound computed
    # for that theta_p, from the clean model and from other models, never
    # exceeds the number of poisons that reached it
    setup, X = _tiny_setup(estimator)
    space, tr = setup.space, setup.trainer
    assert len(space.cont) == 1 and len(space.disc) == 2
    # poisons from a finite part of the feasible set: the continuous feature
    # at three values (any attack is one that the bound must hold for)
    feasible = [(np.array([v]), np.array(c))
                for v in np.linspace(space.lo[0], space.hi[0], 3)
                for c in itertools.product(*[range(len(v)) for v in space.values])]
    points = [(x, c, lab) for x, c in feasible for lab in (1.0, -1.0)]
    theta_c = tr.fit(np.zeros(tr.Z.shape[1]))
    others = [theta_c, theta_c * 0.5, theta_c + 0.3]
    n0 = tr.n_rows
    slack = []
    rng = np.random.RandomState(0)
    combos = [c for n in (1, 2)
              for c in itertools.combinations_with_replacement(range(len(points)), n)]
    combos += [tuple(rng.randint(len(points), size=3)) for _ in range(60)]
    searched_slack, gain, ascended_slack = [], [], []
    for combo in combos:
        n = len(combo)
        tr.n_rows = n0
        for i in combo:
            x, c, lab = points[i]
            tr.add(space.affine(x[None], c[None])[0], lab)
        theta_p = tr.fit(theta_c)
        tr.n_rows = n0
        loss_p = tr.clean_objective(theta_p)
        bounds = []
        for theta in others:
            bound = setup.bound(theta, theta_p, loss_p, setup.solve(theta, theta_p))
            assert bound <= n * (1 + 1e-6) + 1e-6, (n, combo, bound)
            slack.append(n - bound)
            bounds.append(bound)
        # the search on the segments from those models to theta_p: never
        # below the bound at the models themselves, never above n
        searched, best_model = setup.searched_bound(theta_p, loss_p, others)
        assert searched <= n * (1 + 1e-6) + 1e-6, (n, combo, searched)
        assert searched >= max(bounds)
        searched_slack.append(n - searched)
        gain.append(searched - max(bounds))
        # the ascent from the best model of that search (looser certified
        # maximisations on the way): never above n, never below its start
        if best_model is not None:
            ascended = setup.ascended_bound(theta_p, loss_p, best_model)
            assert searched * (1 - 1e-6) <= ascended <= n * (1 + 1e-6) + 1e-6, (
                n, combo, searched, ascended)
            ascended_slack.append((n - searched, n - ascended))
    # and the bound is not vacuous: it comes close for some models, the
    # searched one closer
    assert min(slack) < 0.75
    assert min(searched_slack) < min(slack) - 0.05
    before, after = np.array(ascended_slack).T
    assert np.all(after <= before + 1e-6)
    assert np.mean(gain) > 0.1
    assert tr.uncertified == 0


def _gauge(setup, theta_p, n_grid=201):
    """The exact supremum over models of the bound, for a smooth loss: the
    first-order condition at theta_p asks the clean gradient g = -grad L(theta_p)
    to be the sum of the poisons' loss gradients at theta_p, so any attack
    needs at least the gauge of g with respect to the hull of those gradients,
    min sum(lam) s.t. C lam = g, lam >= 0 (a linear program; here the feasible
    rows on a grid of the continuous feature, which can only raise it)."""
    from scipy.optimize import linprog

    from skpoison.attacks._model_targeted import _dphi

    space, tr = setup.space, setup.trainer
    n = tr.n_clean
    Z, Y = tr.Z[:n], tr.Y[:n]
    g = -(Z.T @ (Y * _dphi("log_loss", Y * (Z @ theta_p)))
          + tr.penalty(float(n)) * theta_p)
    x = np.linspace(space.lo[0], space.hi[0], n_grid)
    rows = []
    for c in itertools.product(*[range(len(v)) for v in space.values]):
        zc = space.affine(x[:, None], np.tile(c, (n_grid, 1)))
        rows.append(np.column_stack([zc, np.ones(n_grid)]))
    F = np.vstack(rows)
    cols = [F * (lab * _dphi("log_loss", lab * (F @ theta_p)))[:, None]
            for lab in (1.0, -1.0)]
    res = linprog(np.ones(2 * F.shape[0]), A_eq=np.vstack(cols).T, b_eq=g,
                  bounds=(0, None), method="highs")
    assert res.status == 0
    return res.fun


def test_searched_bound_approaches_its_supremum():
    # logistic regression: the bound's supremum over models is the gauge of
    # the clean gradient at theta_p (reference: a linear program over a fine
    # grid of the feasible rows). The searched bound stays below it and comes
    # within a few percent of it, where the clean model's bound is far below
    setup, _ = _tiny_setup(LogisticRegression(C=1.0))
    space, tr = setup.space, setup.trainer
    theta_c = tr.fit(np.zeros(tr.Z.shape[1]))
    n0 = tr.n_rows
    ratios, clean = [], []
    for x0, c, lab, k in [(space.hi[0], (1, 0), -1.0, 3), (space.lo[0], (0, 1), 1.0, 2),
                          (space.hi[0], (1, 1), -1.0, 1)]:
        tr.n_rows = n0
        row = tr.add(space.affine(np.array([[x0]]), np.array([c]))[0], lab)
        tr.s[row] = k
        theta_p = tr.fit(theta_c)
        tr.n_rows = n0
        loss_p = tr.clean_objective(theta_p)
        sup = _gauge(setup, theta_p)
        assert sup <= k * (1 + 1e-6)  # k copies of one feasible row reach theta_p
        searched, _ = setup.searched_bound(theta_p, loss_p, [theta_c])
        assert searched <= sup * (1 + 1e-6)
        ratios.append(searched / sup)
        clean.append(setup.bound(theta_c, theta_p, loss_p, setup.solve(theta_c, theta_p))
                     / sup)
    assert min(ratios) > 0.9
    assert max(clean) < min(ratios)


def test_attack_reaches_the_goal_with_feasible_poisons():
    X, y = _problem()
    finder = FrozenEstimator(FeatureMatch([0], target=2).fit(X))
    attack = ModelTargetedPoison(finder, target_error=0.5, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    n = attack.n_poison_
    assert attack.goal_reached_
    assert X_res.shape == (X.shape[0] + n, 2) and n > 0
    assert_allclose(X_res[:300], X)
    assert attack.error_trace_.shape == (n + 1,)
    assert attack.error_trace_[-1] >= 0.5 > attack.error_trace_[-2]
    poisons = X_res[attack.poison_mask_]
    assert np.all(poisons >= X.min(axis=0)) and np.all(poisons <= X.max(axis=0))
    assert attack.lower_bound_ > 0
    assert attack.efficiency_ == pytest.approx(n / attack.lower_bound_)
    assert np.all(attack.gap_trace_ < 1e-5)
    # the attacker's own victim, trained on the same rows, shows the error
    victim = LogisticRegression(max_iter=1000).fit(X_res, y_res)
    sub = X[:, 0] == 2
    assert np.mean(victim.predict(X[sub]) != y[sub]) >= 0.5 - 1e-9
    # the target model reaches the goal too
    assert np.mean(attack.target_model_.predict(X[sub]) != y[sub]) >= 0.5


def test_bounds_replace_the_observed_range():
    X, y = _problem()
    finder = FrozenEstimator(FeatureMatch([0], target=2).fit(X))
    attack = ModelTargetedPoison(finder, bounds=([-1, -0.5], [3, 0.5]), random_state=0)
    X_res, _ = attack.fit_resample(X, y)
    poisons = X_res[attack.poison_mask_]
    assert np.all(poisons[:, 1] >= -0.5) and np.all(poisons[:, 1] <= 0.5)


def _frame():
    rng = np.random.RandomState(0)
    n = 400
    job = rng.choice(["clerk", "craft", "exec", "sales"], size=n)
    age = rng.uniform(18, 70, size=n).round()
    X = pd.DataFrame({"job": pd.Categorical(job), "age": age.astype(int),
                      "city": rng.choice(["a", "b"], size=n)})
    y = pd.Series(((job == "exec") | (age > 50)).astype(int), name="income")
    victim = make_pipeline(
        ColumnTransformer([("cat", OneHotEncoder(), ["job", "city"]),
                           ("num", StandardScaler(), ["age"])]),
        LogisticRegression(max_iter=1000))
    return X, y, victim


def test_dataframe_through_a_column_transformer():
    X, y, victim = _frame()
    finder = FrozenEstimator(FeatureMatch(["job"]).fit(X).retarget(2))  # exec
    attack = ModelTargetedPoison(finder, estimator=victim, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    assert list(X_res.columns) == ["job", "age", "city"]
    pd.testing.assert_frame_equal(X_res.iloc[:400], X.astype({"age": X_res["age"].dtype}))
    poisons = X_res[attack.poison_mask_]
    assert set(poisons["job"]) <= {"clerk", "craft", "exec", "sales"}
    assert set(poisons["city"]) <= {"a", "b"}
    assert poisons["age"].between(X["age"].min(), X["age"].max()).all()
    assert attack.goal_reached_
    # the victim pipeline accepts the poisoned rows; with its scaler refitted
    # on them, the group's error is still high
    fitted = clone(victim).fit(X_res, y_res)
    sub = (X["job"] == "exec").to_numpy()
    assert np.mean(fitted.predict(X[sub]) != y[sub]) >= 0.4


def test_binary_sampler_properties():
    # imbalanced-learn's sampler checks use 3 classes; the same properties here
    X, y = _problem()
    finder = FeatureMatch([0], target=1)
    attack = ModelTargetedPoison(finder, max_poisons=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        X_res, y_res = attack.fit_resample(X.tolist(), y.tolist())
        assert isinstance(X_res, list) and isinstance(y_res, list)
        X_res, y_res = attack.fit_resample(X.astype(np.float32), y.astype(np.int32))
        assert y_res.dtype == np.int32
        assert attack.sample_indices_.shape == (attack.n_poison_,)
        with pytest.warns(Warning):
            attack.fit_resample(X, y[:, None])


def test_clear_errors():
    X, y = _problem()
    finder = FeatureMatch([0], target=1)
    with pytest.raises(ValueError, match="binary classifiers only"):
        ModelTargetedPoison(finder).fit_resample(X, np.arange(300) % 3)
    with pytest.raises(TypeError, match="convex linear classifier"):
        ModelTargetedPoison(finder, estimator=SVC()).fit_resample(X, y)
    with pytest.raises(ValueError, match="L2 penalty"):
        ModelTargetedPoison(finder, estimator=LogisticRegression(
            penalty="l1", solver="liblinear")).fit_resample(X, y)
    with pytest.raises(ValueError, match="not affine"):
        ModelTargetedPoison(finder, estimator=make_pipeline(
            PolynomialFeatures(2), LogisticRegression())).fit_resample(X, y)
    with pytest.raises(ValueError, match="target_ratios"):
        ModelTargetedPoison(finder, target_ratios=[-1]).fit_resample(X, y)
    with pytest.raises(ValueError, match="target_model_error must be at least"):
        ModelTargetedPoison(finder, target_error=0.6,
                            target_model_error=0.55).fit_resample(X, y)
    with pytest.raises(ValueError, match="target_model_error"):
        ModelTargetedPoison(finder, target_model_error=1.5).fit_resample(X, y)
    # susceptibility turns a group without a target model into NaN; a bad
    # target_model_error is still an error, not a table of NaN
    with pytest.raises(ValueError, match="target_model_error must be at least"):
        susceptibility(FeatureMatch([0]), None, X, y, target_error=0.6,
                       target_model_error=0.55)
    X_nan = pd.DataFrame({"g": X[:, 0], "v": np.where(X[:, 1] > 1.5, np.nan, X[:, 1])})
    with pytest.raises(ValueError, match="Impute them"):
        ModelTargetedPoison(FeatureMatch(["g"], target=1)).fit_resample(X_nan, y)


@pytest.mark.parametrize("estimator, y_kind, error, match", [
    (LinearSVC(penalty="l1", dual=False), "binary", ValueError, "penalty='l2'"),
    (make_pipeline(StandardScaler(), LinearSVC(penalty="l1", dual=False)), "binary",
     ValueError, "penalty='l2'"),
    (SGDClassifier(loss="modified_huber"), "binary", ValueError, "'hinge' or 'log_loss'"),
    (LogisticRegression(class_weight="balanced"), "binary", ValueError, "class_weight"),
    (make_pipeline(StandardScaler(), SVC(random_state=0)), "binary", TypeError,
     "convex linear"),
    (None, "three", ValueError, "binary classifiers only; got 3 classes"),
    (None, "binary", None, None),
    (make_pipeline(StandardScaler(), LinearSVC(loss="hinge")), "binary", None, None),
    (SGDClassifier(loss="hinge", penalty=None), "binary", None, None),
])
def test_check_victim_raises_what_fit_resample_raises(estimator, y_kind, error, match):
    # the public check, without data, and the attack agree on every victim
    X, y = _problem(n=150)
    y = y if y_kind == "binary" else np.arange(150) % 3
    attack = ModelTargetedPoison(FeatureMatch([0], target=1), estimator=estimator,
                                 max_poisons=3)
    if error is None:
        assert attack.check_victim(y) is attack and attack.check_victim() is attack
        return
    with pytest.raises(error, match=match) as checked:
        attack.check_victim(y)
    with pytest.raises(error, match=match) as fitted:
        attack.fit_resample(X, y)
    assert str(checked.value) == str(fitted.value)


@pytest.mark.parametrize("estimator", [
    LogisticRegression(C=1.0),
    LinearSVC(C=0.5),
    LinearSVC(C=0.5, loss="hinge", max_iter=100_000),
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lower_bound_is_for_the_induced_model(estimator, seed):
    # the attack itself induced its model with n_poison_ poisons, so the bound
    # for that model can never exceed them (a wrong bound or an inexact refit
    # breaks this); the target model's bound is the larger search's, at least
    # the path's
    X, y = _problem(seed=seed, n=200)
    finder = FrozenEstimator(FeatureMatch([0], target=seed % 3).fit(X))
    attack = ModelTargetedPoison(finder, estimator=estimator, max_poisons=150,
                                 random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        attack.fit_resample(X, y)
    assert attack.n_poison_ > 0
    assert 0 < attack.lower_bound_ <= attack.n_poison_ * (1 + 1e-6)
    assert attack.efficiency_ >= 1 - 1e-6
    assert attack.target_bound_ >= np.max(attack.bound_trace_)


def test_hinge_victim():
    X, y = _problem(n=150)
    finder = FrozenEstimator(FeatureMatch([0], target=2).fit(X))
    attack = ModelTargetedPoison(finder, estimator=LinearSVC(loss="hinge", C=0.5,
                                                              max_iter=100_000),
                                 max_poisons=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attack.fit_resample(X, y)
    assert attack.goal_reached_ and attack.lower_bound_ > 0


def test_susceptibility_is_the_attacks_first_bound():
    X, y = _problem()
    finder = FeatureMatch([0]).fit(X)
    scores = susceptibility(FrozenEstimator(finder), None, X, y)
    assert scores["subpopulation"].tolist() == [0, 1, 2]
    for g in (0, 2):
        attack = ModelTargetedPoison(FrozenEstimator(finder.retarget(g)),
                                     random_state=0).fit(X, y)
        row = scores.set_index("subpopulation").loc[g]
        assert attack.bound_trace_[0] == pytest.approx(row["clean_bound"], rel=1e-6)
        # the search on the segment from the clean model to the target model
        # raises the bound (here about threefold); the attack searches that
        # segment too, and more
        assert row["lower_bound"] > 1.5 * row["clean_bound"] > 0
        assert attack.target_bound_ >= row["lower_bound"] * 0.9
        assert row["loss_difference"] > 0
    # the attacker's rows, when given, are what is scored
    X_aux, y_aux = _problem(seed=1)
    aux = susceptibility(FrozenEstimator(finder), None, X, y, X_aux, y_aux)
    assert aux["n_aux"].tolist() == [int(np.sum(X_aux[:, 0] == g)) for g in range(3)]


def test_finder_step_of_a_pipeline_binds_to_the_attack():
    from skpoison.pipeline import make_pipeline as make_poisoned_pipeline

    X, y = _problem()
    pipe = make_poisoned_pipeline(FeatureMatch([0], target=2),
                                  ModelTargetedPoison(random_state=0),
                                  LogisticRegression())
    pipe.fit(X, y)
    attack = pipe.steps[1][1]
    alone = ModelTargetedPoison(FeatureMatch([0], target=2), random_state=0).fit(X, y)
    assert attack.n_poison_ == alone.n_poison_ > 0
    with pytest.raises(ValueError, match="no subpopulation finder"):
        ModelTargetedPoison().fit_resample(X, y)



def _reference_candidates(X, y, sub, labels, ratios, need):
    """Suya et al.'s target-model candidates by scikit-learn: logistic regression
    (C=1) on the rows plus the group's rows with ``labels``, weight r, for r in
    ``ratios`` up to the first that reaches the error ``need``; each
    candidate's error on the group, clean objective (summed log-loss plus
    ||w||^2 / 2) and r."""
    out = []
    for r in ratios:
        X_aug = np.vstack([X, X[sub]])
        y_aug = np.concatenate([y, labels])
        w = np.concatenate([np.ones(len(y)), np.full(sub.sum(), r)])
        model = LogisticRegression(C=1.0, tol=1e-12, max_iter=10000).fit(
            X_aug, y_aug, sample_weight=w)
        m = (2 * y - 1) * model.decision_function(X)
        loss = np.sum(np.logaddexp(0, -m)) + 0.5 * np.sum(model.coef_ ** 2)
        out.append((float(np.mean(m[sub] <= 0)), loss, r))
        if out[-1][0] >= need:
            break
    return out


RATIOS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


# the group (two labels) is never fully misclassified by these weights: with
# model_error=1.0 the target is the candidate of highest error
@pytest.mark.parametrize("model_error, ratios, target_error", [
    (None, RATIOS, 0.630),  # the first to pass 0.5 with the lowest loss
    (0.9, RATIOS, 0.935),
    (1.0, RATIOS, 0.978),
    (1.0, RATIOS[:6], 0.870),
])
def test_target_model_follows_the_selection_rule(model_error, ratios, target_error):
    X, y = _problem()
    sub = X[:, 0] == 2  # a group of both labels: three families of candidates
    finder = FrozenEstimator(FeatureMatch([0], target=2).fit(X))
    attack = ModelTargetedPoison(finder, target_error=0.5, target_model_error=model_error,
                                 target_ratios=ratios, max_poisons=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # max_poisons=0: goal not reached
        attack.fit_resample(X, y)
    need = 0.5 if model_error is None else model_error
    cands = [c for labels in (1 - y[sub], np.ones(sub.sum()), np.zeros(sub.sum()))
             for c in _reference_candidates(X, y, sub, labels, ratios, need)
             if c[0] >= 0.5]
    need = min(need, max(c[0] for c in cands))
    expected = min((c for c in cands if c[0] >= need), key=lambda c: c[1])
    error = np.mean(attack.target_model_.predict(X[sub]) != y[sub])
    assert (error, attack.target_ratio_) == (pytest.approx(expected[0]), expected[2])
    assert error == pytest.approx(target_error, abs=1e-3)

"""The audit's bounds: the model-targeted attack's cost to damage, and the
certified largest damage of partition aggregation beside the measured one."""

import json
import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skpoison.__main__ import main
from skpoison.attacks import ModelTargetedPoison
from skpoison.audit import SettingError, SubpopulationAudit
from skpoison.audit._bounds import check_certified
from skpoison.audit._render import render_html, render_text
from skpoison.audit._report import cost_to_damage, report_sections
from skpoison.defenses import PartitionAggregation
from skpoison.metrics import certified_damage
from skpoison.subpopulations import ClusterMatch, SusceptibilityOrder
from skpoison.utils._seeding import seed_unseeded

K = 10  # partitions of DPA


def _victim():
    return make_pipeline(StandardScaler(), LogisticRegression())


def _table(n=450, seed=0, classes=2):
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    score = frame.a + 0.5 * frame.b + rng.normal(scale=0.5, size=n)
    frame["y"] = (np.digitize(score, [-0.5, 0.5]) if classes == 3
                  else np.where(score > 0, "yes", "no"))
    return frame


@pytest.fixture(scope="module")
def data():
    frame = _table()
    X, y = frame[["a", "b", "c"]].to_numpy(), (frame["y"] == "yes").to_numpy(int)
    return X[:150], y[:150], X[150:300], y[150:300], X[300:], y[300:]


@pytest.fixture(scope="module")
def audit(data, tmp_path_factory):
    store = tmp_path_factory.mktemp("bounds") / "audit.sqlite"
    audit = SubpopulationAudit(
        _victim(), finders={"cm": ClusterMatch(n_clusters=4, random_state=0)},
        attack=ModelTargetedPoison(None), alphas=[0.5, 3], progress=False,
        store=store, defenses={"none": None,
                               "dpa": PartitionAggregation(None, n_partitions=K)})
    audit.run(*data)
    return audit


def test_poisons_needed_is_the_attacks_own_count(audit, data):
    X_train, y_train, X_aux, y_aux, _, _ = data
    res = audit.results_
    assert res["lower_bound"].gt(0).all()
    budget = (res["alpha"] * res["n_train"]).astype(int)
    reached = res["n_poison_needed"].notna()
    assert reached.any() and (~reached).any()
    # within the budget: the goal reached with what it used; else the budget spent
    assert (res.loc[reached, "n_poison_needed"] == res.loc[reached, "n_poison"]).all()
    assert (res.loc[reached, "n_poison"] <= budget[reached]).all()
    assert (res.loc[~reached, "n_poison"] == budget[~reached]).all()
    np.testing.assert_allclose(res.loc[reached, "efficiency"], res.loc[
        reached, "n_poison_needed"] / res.loc[reached, "lower_bound"])
    # the group's training rows, as LabelFlip counts them
    finder = audit.fitted_finders_["cm"]
    for sid, n in res.groupby("subpopulation")["n_train"].first().items():
        assert n == int(np.sum(finder.predict(X_train) == sid))
    # the attack alone, with an ample budget, needs the same number
    row = res[reached].iloc[0]
    attack = ModelTargetedPoison(
        FrozenEstimator(finder.retarget(int(row["subpopulation"]))),
        estimator=seed_unseeded(_victim(), 0), aux=(X_aux, y_aux), max_poisons=1000,
        random_state=0)
    attack.fit_resample(X_train, y_train)
    assert attack.goal_reached_ and attack.n_poison_ == row["n_poison_needed"]
    # a budget short of the goal is a NaN, not a warning to raise max_poisons
    assert not audit.warnings_["warning"].str.contains("was not reached").any()


def test_certified_damage_bounds_the_measured_one(audit, data):
    X_train, y_train, _, _, X_test, y_test = data
    dpa = audit.results_[audit.results_["defense"] == "dpa"]
    assert dpa["certified_damage"].notna().all()
    assert (dpa["defended_damage"] <= dpa["certified_damage"] + 1e-12).all()
    assert audit.results_.loc[audit.results_["defense"] == "none",
                              "certified_damage"].isna().all()
    # against a reference: the defense fitted on the clean rows, certified anew
    model = PartitionAggregation(seed_unseeded(_victim(), 0), n_partitions=K,
                                 random_state=0).fit(X_train, y_train)
    finder = audit.fitted_finders_["cm"]
    for _, row in dpa.iterrows():
        mask = finder.predict(X_test) == row["subpopulation"]
        r = int(row["alpha"] * row["n_train"])
        ref = certified_damage(model, X_test[mask], y_test[mask], r)
        assert row["certified_damage"] == pytest.approx(ref.damage)
        clean = np.mean(model.predict(X_test[mask]) == y_test[mask])
        after = clean - row["defended_damage"]
        assert 0 <= after <= 1


def test_report_has_cost_to_damage_and_certified_damage(audit):
    sections = report_sections(audit)
    text, page = render_text(sections), render_html(sections)
    for out in (text, page):
        assert "Cost to damage" in out and "at least (its model)" in out
        assert "certified damage" in out and "measured damage" in out
    table = cost_to_damage(audit.results_)
    assert len(table) == audit.results_["subpopulation"].nunique()
    needed = table["poisons needed"]
    # fewest poisons first, groups the budget did not bring to the goal last
    assert needed.dropna().is_monotonic_increasing
    assert needed.notna().to_numpy().tolist() == sorted(needed.notna(), reverse=True)
    # each group's bound is that of its run with the fewest poisons (a bound
    # for the model that run induced, so never above what it needed); none
    # for a group whose budget did not suffice
    base = audit.results_[audit.results_["defense"] == "none"]
    for _, row in table.iterrows():
        runs = base[base["description"] == row["group"]]
        if np.isnan(row["poisons needed"]):
            assert np.isnan(row["at least (its model)"])
            continue
        best = runs.loc[runs["n_poison_needed"].idxmin()]
        assert row["at least (its model)"] == math.ceil(best["lower_bound"])
        assert best["lower_bound"] <= best["n_poison_needed"] * (1 + 1e-6)
        assert row["efficiency"] >= 1 - 1e-6


def test_check_fires_on_a_tampered_measurement(audit, data):
    bad = audit.results_.copy()
    i = bad.index[bad["defense"] == "dpa"][0]
    bad.loc[i, "defended_damage"] = bad.loc[i, "certified_damage"] + 0.05
    with pytest.raises(RuntimeError, match="than its certificate allows"):
        check_certified(bad)
    check_certified(audit.results_)  # the real run passes
    # a stored row altered: the resumed audit stops
    with sqlite3.connect(audit.store) as db:
        key, text = db.execute("SELECT rowid, row FROM results WHERE defense='dpa' "
                               "AND row LIKE '%certified_damage%' LIMIT 1").fetchone()
        row = json.loads(text)
        row["defended_damage"] = min(1.0, row["certified_damage"] + 0.05)
        row["certified_damage"] = row["defended_damage"] - 0.05
        db.execute("UPDATE results SET row=? WHERE rowid=?", (json.dumps(row), key))
    again = SubpopulationAudit(**{k: v for k, v in audit.__dict__.items()
                                  if not k.endswith("_") and not k.startswith("_")})
    with pytest.raises(RuntimeError, match="store was altered"):
        again.run(*data)


def test_unsupported_victims_are_refused(data):
    audit = SubpopulationAudit(KNeighborsClassifier(), finders={"cm": ClusterMatch(
        n_clusters=4, random_state=0)}, attack=ModelTargetedPoison(None),
        progress=False)
    with pytest.raises(SettingError, match="attack: .*linear victim.*KNeighbors"):
        audit.run(*data)


def test_victims_the_attack_refuses_are_refused_early_with_its_message(
        data, tmp_path, capsys, monkeypatch):
    # a LinearSVC with an L1 penalty is linear, but the attack refuses it:
    # the audit stops before any work with the attack's own message
    victim = make_pipeline(StandardScaler(), LinearSVC(penalty="l1", dual=False))
    message = "estimator: ModelTargetedPoison supports LinearSVC with penalty='l2'"
    audit = SubpopulationAudit(victim, finders={"cm": ClusterMatch(
        n_clusters=4, random_state=0)}, attack=ModelTargetedPoison(None), progress=False)
    with pytest.raises(SettingError, match=f"^attack: {message}"):
        audit.run(*data)
    assert not hasattr(audit, "fitted_finders_")
    # the command line names the option, writes nothing
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    (tmp_path / "l1_victim_bounds.py").write_text(
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "from sklearn.svm import LinearSVC\n"
        "def make():\n"
        "    return make_pipeline(StandardScaler(), LinearSVC(penalty='l1', "
        "dual=False))\n")
    _table().to_csv(tmp_path / "t.csv", index=False)
    base = ["audit", "--data", str(tmp_path / "t.csv"), "--target", "y", "--estimator",
            "l1_victim_bounds:make", "--quiet", "--out", str(tmp_path / "o")]
    for option in ("--attack", "--susceptibility"):
        extra = ["--attack", "model-targeted"] if option == "--attack" else [option]
        with pytest.raises(SystemExit) as exc:
            main(base + extra)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"skpoison: error: {option}: {message}" in err, err
        assert not (tmp_path / "o").exists()


def test_susceptibility_order_ranks_by_the_bound(data):
    _, _, X_aux, y_aux, _, _ = data
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(X_aux)
    order = SusceptibilityOrder(_victim(), random_state=0)
    ids = order("cm", finder, X_aux, y_aux)
    assert sorted(ids) == sorted(finder.subpopulations_.tolist())
    bounds = order.scores_["cm"].set_index("subpopulation")["lower_bound"]
    assert bounds.loc[ids].dropna().is_monotonic_increasing


def test_cli_model_targeted_susceptibility_dpa(tmp_path, capsys):
    _table().to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out"
    args = ["audit", "--data", str(tmp_path / "t.csv"), "--target", "y", "--attack",
            "model-targeted", "--susceptibility", "--max-subpopulations", "2",
            "--alphas", "2", "--defenses", "none,dpa", "--n-partitions", str(K),
            "--n-jobs", "1", "--quiet", "--no-store", "--out", str(out),
            "--report", str(out / "report.html")]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Cost to damage" in text and "chosen by susceptibility" in text
    results = pd.read_csv(out / "results.csv")
    assert {"n_poison_needed", "lower_bound", "efficiency"} <= set(results.columns)
    assert results["subpopulation"].nunique() == 2
    dpa = results[results["defense"] == "dpa"]
    assert (dpa["defended_damage"] <= dpa["certified_damage"] + 1e-12).all()
    page = (out / "report.html").read_text()
    assert "Cost to damage" in page and "certified damage" in page


@pytest.mark.parametrize("extra, option, what", [
    (["--attack", "model-targeted", "--model", "hgb"], "--attack",
     "ends in HistGradientBoostingClassifier"),
    (["--susceptibility", "--model", "rf"], "--susceptibility", "RandomForest"),
    (["--attack", "model-targeted", "--classes3"], "--attack",
     "binary classifiers only; got 3 classes"),
    (["--susceptibility", "--order", "id"], "--susceptibility", "not both")])
def test_cli_usage_errors(tmp_path, capsys, extra, option, what):
    three = "--classes3" in extra
    _table(classes=3 if three else 2).to_csv(tmp_path / "t.csv", index=False)
    extra = [e for e in extra if e != "--classes3"]
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--data", str(tmp_path / "t.csv"), "--target", "y", *extra,
              "--quiet", "--out", str(tmp_path / "never")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"skpoison: error: {option}:" in err and what in err
    assert not (tmp_path / "never").exists()

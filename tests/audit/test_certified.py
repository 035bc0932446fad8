"""A certifying defense in the audit: partition aggregation and its certificate."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.__main__ import main
from skpoison.audit import SubpopulationAudit
from skpoison.defenses import PartitionAggregation
from skpoison.metrics import certified_fraction
from skpoison.subpopulations import ClusterMatch
from skpoison.utils._seeding import seed_unseeded

from .test_audit import _blobs

K = 12  # partitions: DPA certifies at most K // 2 = 6 added rows


def _victim():
    # the scaler is part of the victim, so the audit fits it per partition
    return make_pipeline(StandardScaler(), LogisticRegression())


@pytest.fixture(scope="module")
def data():
    return _blobs(n_per=90)  # 120 rows per split, about 30 per cluster


@pytest.fixture(scope="module")
def audit(data, tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "audit.sqlite"
    audit = SubpopulationAudit(
        _victim(), finders={"cm": ClusterMatch(n_clusters=4, random_state=0)},
        alphas=[0.1, 0.2, 1], seeds=[0, 1], progress=False, store=store,
        defenses={"none": None, "dpa": PartitionAggregation(None, n_partitions=K)})
    audit.run(*data)
    return audit


def test_certified_equals_certified_fraction_on_the_clean_defense(audit, data):
    X_train, y_train, _, _, X_test, y_test = data
    res = audit.results_
    dpa = res[res.defense == "dpa"]
    assert res.loc[res.defense == "none", ["certified", "certified_correct"]] \
        .isna().all().all()
    assert "poison_removed" not in res  # dpa removes nothing: no removal columns
    ids = audit.fitted_finders_["cm"].predict(X_test)
    for seed in (0, 1):
        model = PartitionAggregation(seed_unseeded(_victim(), seed), n_partitions=K,
                                     random_state=seed).fit(X_train, y_train)
        for row in dpa[dpa.seed == seed].itertuples():
            want = certified_fraction(model, X_test, y_test, ids == row.subpopulation,
                                      row.n_poison)
            assert row.certified == want.certified_fraction
            assert row.certified_correct == want.certified_accuracy
            assert row.median_radius == want.median_radius
    # not vacuous: small attacks are certified on some groups, alpha 1 on none
    # (about 30 rows added, more than K / 2)
    assert (dpa.loc[dpa.alpha == 0.1, "certified"] > 0.5).all()
    assert (dpa.loc[dpa.alpha == 1, "certified"] == 0).all()


def test_certificate_bounds_the_attacked_defense(audit, data):
    """Certified and correct never exceeds the accuracy the attack left: the
    poisoned defense predicts every certified row as the clean one does."""
    X_train, y_train, X_aux, y_aux, X_test, y_test = data
    dpa = audit.results_[audit.results_.defense == "dpa"]
    assert (dpa.certified_correct <= dpa.poisoned_target_accuracy + 1e-12).all()
    assert (dpa.certified_correct > 0).any()
    # the same row by row, for one unit with rows certified
    from sklearn.frozen import FrozenEstimator

    from skpoison.attacks import LabelFlip

    row = dpa[(dpa.alpha == 0.2) & (dpa.seed == 0)].iloc[0]
    finder = audit.fitted_finders_["cm"]
    mask = finder.predict(X_test) == row.subpopulation
    attack = LabelFlip(FrozenEstimator(finder.retarget(int(row.subpopulation))),
                       alpha=0.2, aux=(X_aux, y_aux), random_state=0)
    X_res, y_res = attack.fit_resample(X_train, y_train)
    assert attack.n_poison_ == row.n_poison > 0

    def fit(X, y):
        return PartitionAggregation(seed_unseeded(_victim(), 0), n_partitions=K,
                                    random_state=0).fit(X, y)

    clean_pred, radius = fit(X_train, y_train).certify(X_test)
    certified = mask & (radius >= attack.n_poison_)
    assert certified.sum() == round(row.certified * mask.sum()) > 0
    poisoned_pred = fit(X_res, y_res).predict(X_test)
    np.testing.assert_array_equal(poisoned_pred[certified], clean_pred[certified])
    assert np.mean(poisoned_pred[mask] == y_test[mask]) == row.poisoned_target_accuracy


def test_tables_show_the_certificate(audit):
    table = audit.certified_groups(top=2)
    assert len(table) == 2 * 3  # 2 groups x 3 alphas, one certifying defense
    assert list(table.defense.unique()) == ["dpa"]
    res = audit.results_
    first = table.iloc[0]
    rows = res[(res.defense == "dpa") & (res.description == first.group)
               & (res.alpha == first.alpha)]
    assert first.certified == pytest.approx(rows.certified.mean())
    assert first.poisons == rows.n_poison.iloc[0]
    assert (table["certified & correct"] <= table["accuracy with"] + 1e-12).all()
    effect = audit.defense_effect()
    assert effect.loc[effect.alpha == 1, "certified"].item() == 0
    assert effect["poison removed"].isna().all()


def test_resumed_audit_certifies_nothing_again(audit, data):
    again = SubpopulationAudit(
        _victim(), finders={"cm": ClusterMatch(n_clusters=4, random_state=0)},
        alphas=[0.1, 0.2, 1], seeds=[0, 1], progress=False, store=audit.store,
        defenses={"none": None, "dpa": PartitionAggregation(None, n_partitions=K)})
    res = again.run(*data)
    assert (again.n_computed_, again.timings_["certificates"]) == (0, 0.0)
    pd.testing.assert_frame_equal(res, audit.results_)


def test_preprocessing_around_the_defense_is_refused(data):
    dpa = make_pipeline(StandardScaler(), PartitionAggregation(None, n_partitions=K))
    audit = SubpopulationAudit(LogisticRegression(),
                               finders={"cm": ClusterMatch(n_clusters=4)},
                               defenses={"dpa": dpa}, progress=False)
    with pytest.raises(TypeError, match=r"defenses\['dpa'\].*victim"):
        audit.run(*data)


def test_cli_dpa(tmp_path, capsys):
    args = ["audit", "--dataset", "german", "--filters", "FeatureMatch",
            "--max-subpopulations", "2", "--alphas", "0.5,2", "--defenses", "none,dpa",
            "--n-partitions", "20", "--n-jobs", "1", "--quiet", "--no-store",
            "--out", str(tmp_path), "--report", str(tmp_path / "report.html")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "What the certificate promises" in out and "certified & correct" in out
    results = pd.read_csv(tmp_path / "results.csv")
    dpa = results[results.defense == "dpa"]
    assert len(dpa) == 4 and dpa.certified.notna().all()
    # 20 partitions certify at most 10 added rows
    assert (dpa.loc[dpa.n_poison > 10, "certified"] == 0).all()
    assert results.loc[results.defense == "none", "certified"].isna().all()
    page = (tmp_path / "report.html").read_text()
    assert "What the certificate promises" in page and "certified &amp; correct" in page

    with pytest.raises(SystemExit) as exc:
        main(["audit", "--defenses", "none,trim", "--n-partitions", "20",
              "--out", str(tmp_path / "never")])
    assert exc.value.code == 2
    assert "--n-partitions: is for the dpa defense" in capsys.readouterr().err


def test_certified_groups_without_an_undefended_run(audit):
    from skpoison.audit._report import certified_groups

    only = audit.results_[audit.results_.defense == "dpa"]
    table = certified_groups(only, top=None)
    assert len(table) == 4 * 3 and table["damage without"].isna().all()
    assert table["certified"].notna().all()

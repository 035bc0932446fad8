"""Tests of the audit: known answers, parallel equality, the command line."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from skpoison.__main__ import main
from skpoison.audit import SubpopulationAudit, setting_audit, summarize
from skpoison.defenses import TRIM
from skpoison.subpopulations import ClusterMatch, FeatureMatch


def _blobs(n_per=60, seed=0):
    rng = np.random.RandomState(seed)
    centers = np.array([[0, 0], [0, 20], [20, 0], [20, 20]])
    X = np.vstack([c + rng.normal(0, 0.5, (n_per, 2)) for c in centers])
    y = np.repeat([0, 1, 0, 1], n_per)
    idx = rng.permutation(len(y))
    X, y = X[idx], y[idx]
    third = len(y) // 3
    return (X[:third], y[:third], X[third:2 * third], y[third:2 * third],
            X[2 * third:], y[2 * third:])


def test_knn_victim_loses_each_cluster_without_collateral():
    data = _blobs()
    # Clusters 20 apart with spread 0.5: distance-weighted neighbours from other
    # clusters weigh ~1/20 of a cluster's own rows, so unattacked clusters keep
    # their label (collateral exactly 0); in the attacked cluster the flipped
    # poisons outnumber its clean rows 2:1.
    audit = SubpopulationAudit(
        KNeighborsClassifier(n_neighbors=15, weights="distance"),
        finders={"cm": ClusterMatch(n_clusters=4, random_state=0)},
        alphas=[2], progress=False)
    res = audit.run(*data)
    assert len(res) == 4
    assert (res.n_poison == (2 * res.n_train).astype(int)).all()
    assert res.target_damage.min() >= 0.75, res.target_damage.tolist()
    np.testing.assert_array_equal(res.collateral_damage, 0.0)


def test_alpha_zero_no_damage_and_trim_columns():
    data = _blobs()
    audit = SubpopulationAudit(
        LogisticRegression(), finders={"cm": ClusterMatch(n_clusters=4, random_state=0)},
        alphas=[0.0], defenses={"none": None, "trim": TRIM(None)}, progress=False)
    res = audit.run(*data)
    assert set(res.defense) == {"none", "trim"}
    none = res[res.defense == "none"]
    np.testing.assert_allclose(none.target_damage, 0.0)
    trim = res[res.defense == "trim"]
    assert trim.poison_removed.isna().all()  # no poison to remove
    assert (trim.clean_removed == 0).all()  # told n_poison = 0, removes nothing


def test_parallel_equals_serial():
    data = _blobs()
    kw = {"finders": {"cm": ClusterMatch(n_clusters=4, random_state=0)},
          "alphas": [0.5, 2], "seeds": [0, 1], "progress": False,
          "defenses": {"none": None, "trim": TRIM(None)}}
    serial = SubpopulationAudit(LogisticRegression(), n_jobs=1, **kw).run(*data)
    parallel = SubpopulationAudit(LogisticRegression(), n_jobs=2, **kw).run(*data)
    cols = ["filter", "subpopulation", "alpha", "seed", "defense", "n_poison",
            "target_damage", "collateral_damage"]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])


def test_summary_top_k_against_manual():
    results = pd.DataFrame({
        "filter": "f", "defense": "none", "alpha": 1.0,
        "subpopulation": [0, 1, 2, 0, 1, 2], "description": ["a", "b", "c"] * 2,
        "seed": [0, 0, 0, 1, 1, 1],
        "target_damage": [0.1, 0.5, 0.3, 0.3, 0.7, 0.3],
        "collateral_damage": [0.0, 0.01, 0.02, 0.0, 0.03, 0.0],
    })
    table = summarize(results, top=(1, 2))
    row = table.loc[("f", "none", 1.0)]
    # per-subpopulation means over seeds: a 0.2, b 0.6, c 0.3
    assert row.top1 == pytest.approx(0.6)
    assert row.top2 == pytest.approx(0.45)
    assert row.mean_target == pytest.approx((0.2 + 0.6 + 0.3) / 3)
    assert row.mean_collateral == pytest.approx((0.0 + 0.02 + 0.01) / 3)
    assert row.worst == "b"
    assert row.n_subpopulations == 3


@pytest.mark.parametrize("kwargs, match", [
    ({"finders": {}}, "finders"),
    ({"alphas": [-1]}, "alphas"),
    ({"seeds": ["a"]}, "seeds"),
    ({"defenses": {}}, "defenses"),
    ({"attack": "labelflip"}, "attack"),
])
def test_bad_parameters(kwargs, match):
    params = {"finders": {"cm": ClusterMatch(n_clusters=4)}, "progress": False}
    params.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        SubpopulationAudit(LogisticRegression(), **params).run(*_blobs())


def test_inputs_not_modified():
    data = _blobs()
    copies = [d.copy() for d in data]
    SubpopulationAudit(LogisticRegression(),
                       finders={"cm": ClusterMatch(n_clusters=4, random_state=0)},
                       alphas=[1], progress=False).run(*data)
    for d, c in zip(data, copies):
        np.testing.assert_array_equal(d, c)


def test_adult_featurematch_damage_direction():
    """On real Adult, more poison means more damage to the worst subpopulation."""
    audit = setting_audit("adult", finders=("FeatureMatch",), alphas=(0.5, 2),
                          defenses=("none",), max_subpopulations=6, progress=False)
    table = audit.summary()
    top1 = table.xs(("FeatureMatch", "none"), level=("filter", "defense")).top1
    assert top1.loc[2.0] > top1.loc[0.5]
    assert top1.loc[2.0] > 0.1
    assert abs(table.mean_collateral).max() < 0.02
    assert isinstance(audit.fitted_finders_["FeatureMatch"], FeatureMatch)


def test_cli_writes_outputs(tmp_path, capsys):
    code = main(["audit", "--filters", "ClusterMatch", "--alphas", "2",
                 "--max-subpopulations", "2", "--n-jobs", "1", "--quiet",
                 "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "top1" in out and "ClusterMatch" in out
    results = pd.read_csv(tmp_path / "results.csv")
    assert len(results) == 2 * 2  # 2 subpopulations x (none, trim)
    # no column a CSV reader misreads: per-row 0/1 strings such as "0110"
    # came back as the number 110
    assert "target_correct" not in results and "random_target_correct" not in results
    assert results.target_damage.between(-1, 1).all()
    assert (tmp_path / "summary.csv").exists()
    png = (tmp_path / "damage.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_error_keeps_the_results_and_says_how_to_rerun(tmp_path, capsys,
                                                             monkeypatch):
    # an error in the report after every fit lost the run's finished work
    from skpoison.audit import _report

    def broken(audit):
        raise TypeError("'make_column_selector' object is not iterable")

    monkeypatch.setattr(_report, "report_sections", broken)
    args = ["audit", "--filters", "ClusterMatch", "--alphas", "2", "--defenses", "none",
            "--max-subpopulations", "2", "--n-jobs", "1", "--quiet",
            "--out", str(tmp_path), "--store", str(tmp_path / "audit.sqlite")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "results are saved" in err and "results.csv" in err
    assert "Run the same command again to rebuild the report alone" in err
    assert len(pd.read_csv(tmp_path / "results.csv")) == 2
    monkeypatch.undo()
    assert main(args) == 0
    assert "0 poisoned fits" in capsys.readouterr().out  # the report alone


def test_cli_rejects_bad_option(capsys):
    with pytest.raises(SystemExit):
        main(["audit", "--defenses", "magic"])
    assert "choose from" in capsys.readouterr().err


@pytest.mark.parametrize("attack", ["gradient", "influence"])
def test_cli_optimised_attacks(tmp_path, attack):
    code = main(["audit", "--attack", attack, "--filters", "ClusterMatch",
                 "--alphas", "1", "--max-subpopulations", "2", "--defenses", "none",
                 "--n-jobs", "1", "--quiet", "--out", str(tmp_path)])
    assert code == 0
    results = pd.read_csv(tmp_path / "results.csv")
    assert len(results) == 2
    assert (results.n_poison == results.n_train).all()  # alpha = 1


def test_describe_subpopulation_one_hot_and_codes():
    import pandas as pd

    from skpoison.audit import describe_subpopulation
    from skpoison.subpopulations import ClusterMatch, FeatureMatch

    codes = FeatureMatch(["g"]).fit(pd.DataFrame({"g": [0, 0, 1, 1, 2, 2]}))
    assert [describe_subpopulation(codes, s) for s in codes.subpopulations_] == [
        "g=0", "g=1", "g=2"]
    onehot = FeatureMatch(["a", "b"]).fit(
        pd.DataFrame({"a": [0, 0, 1, 1, 0, 0], "b": [0, 0, 0, 0, 1, 1]}))
    assert [describe_subpopulation(onehot, s) for s in onehot.subpopulations_] == [
        "base categories", "b", "a"]
    clusters = ClusterMatch(n_clusters=2, random_state=0).fit([[0.0], [0.1], [5.0]])
    rule = describe_subpopulation(clusters, clusters.predict([[5.0]])[0])
    assert rule.startswith("x0 >= ") and "covers" not in rule  # an exact rule
    missing = FeatureMatch(["g", "h"]).fit(
        pd.DataFrame({"g": ["a", None, "a"], "h": [1.0, 2.0, 1.0]}))
    assert sorted(describe_subpopulation(missing, s) for s in missing.subpopulations_) \
        == ["g is missing, h=2", "g=a, h=1"]


def test_memory_mapped_data_goes_to_a_joblib_temp_folder_not_yet_made(
        tmp_path, monkeypatch):
    from contextlib import ExitStack

    import numpy as np

    from skpoison.utils._parallel import SharedArrays, shared_once

    folder = tmp_path / "not" / "yet"
    monkeypatch.setenv("JOBLIB_TEMP_FOLDER", str(folder))
    with ExitStack() as stack:
        shared = shared_once(SharedArrays(np.arange(6.0)), 2, stack)
        assert str(shared.arrays[0].filename).startswith(str(folder))
    assert folder.is_dir() and not any(folder.iterdir())  # cleaned up


def test_process_workers_get_the_data_memory_mapped_once():
    from contextlib import ExitStack

    import numpy as np
    from joblib import parallel_config

    from skpoison.utils._parallel import SharedArrays, shared_once

    X = pd.DataFrame(np.arange(12.0).reshape(6, 2), columns=["a", "b"])
    y = np.arange(6)
    data = SharedArrays(X, y)
    with ExitStack() as stack:
        shared = shared_once(data, 2, stack)  # loky, 2 jobs: one file
        X_m, y_m = shared.arrays
        pd.testing.assert_frame_equal(X_m, X)
        np.testing.assert_array_equal(y_m, y)
        assert isinstance(y_m, np.memmap) and not y_m.flags.writeable
        assert isinstance(X_m._mgr.blocks[0].values, np.memmap)
    with ExitStack() as stack, parallel_config(n_jobs=2):  # n_jobs=None: 2 here
        assert isinstance(shared_once(data, None, stack).arrays[1], np.memmap)
    for n_jobs, backend in [(1, "loky"), (None, "loky"), (2, "threading")]:
        with ExitStack() as stack, parallel_config(backend=backend):
            assert shared_once(data, n_jobs, stack) is data


def test_nothing_to_attack_says_why():
    from skpoison.audit import SubpopulationAudit

    X_train, y_train, X_aux, y_aux, X_test, y_test = _blobs()

    def groups(X):
        return np.c_[X, (X[:, 0] > 10).astype(float)]

    finder = FeatureMatch([2])
    audit = SubpopulationAudit(LogisticRegression(), finders={"fm": finder},
                               alphas=[1], progress=False)
    test = np.c_[X_test, np.full(len(X_test), 7.0)]  # a value no group has
    with pytest.raises(ValueError, match="nothing to attack.*no test rows.*skipped_"):
        audit.run(groups(X_train), y_train, groups(X_aux), y_aux, test, y_test)
    assert audit.skipped_ == {"fm": [0, 1]}
    with pytest.raises(ValueError, match="max_subpopulations"):
        SubpopulationAudit(LogisticRegression(), finders={"fm": finder},
                           max_subpopulations=0, progress=False).run(*_blobs())


@pytest.mark.parametrize("change, match", [
    (lambda d: (d[0][:-1],) + d[1:], "X_train has"),
    (lambda d: d[:4] + (d[4][:, :1], d[5]), "same number of columns"),
    (lambda d: d[:1] + (d[1][:, None],) + d[2:], "y_train must be 1-D"),
])
def test_arrays_checked_before_any_work(change, match):
    audit = SubpopulationAudit(LogisticRegression(),
                               finders={"cm": ClusterMatch(n_clusters=4)}, progress=False)
    with pytest.raises(ValueError, match=match):
        audit.run(*change(_blobs()))
    assert not hasattr(audit, "fitted_finders_")


def test_frames_with_other_columns_are_refused():
    X_train, y_train, X_aux, y_aux, X_test, y_test = (
        pd.DataFrame(v, columns=["a", "b"]) if v.ndim == 2 else v for v in _blobs())
    audit = SubpopulationAudit(LogisticRegression(),
                               finders={"cm": ClusterMatch(n_clusters=4)}, progress=False)
    with pytest.raises(ValueError, match="X_aux must have the columns of X_train"):
        audit.run(X_train, y_train, X_aux[["b", "a"]], y_aux, X_test, y_test)


def test_describe_subpopulation_is_the_finders_own_text():
    # the audit wrote column=value pairs itself (15024, not the finder's
    # 15,024); now it names groups as describe_text does, annotation columns
    # without their prefix, and keeps only the one-hot case to itself
    from skpoison.audit import describe_subpopulation
    from skpoison.datasets import annotation_column
    from skpoison.subpopulations import FeatureMatch

    frame = pd.DataFrame({"gain": [15024.0, 15024.0, 0.5, 0.5],
                          "job": ["a", None, "a", None]})
    finder = FeatureMatch(["gain", "job"]).fit(frame)
    names = [describe_subpopulation(finder, s) for s in finder.subpopulations_]
    assert names == [finder.describe_text(s) for s in finder.subpopulations_]
    assert sorted(names) == ["gain=0.5, job is missing", "gain=0.5, job=a",
                             "gain=15024, job is missing", "gain=15024, job=a"]
    annotated = FeatureMatch([annotation_column("gain"), annotation_column("job")]).fit(
        frame.rename(columns=annotation_column))
    assert sorted(describe_subpopulation(annotated, s)
                  for s in annotated.subpopulations_) == sorted(names)


@pytest.mark.parametrize("wrap", [lambda m: m, lambda m: make_pipeline(m)])
def test_frozen_victim_is_refused(wrap):
    # a FrozenEstimator ignores the poisoned rows: every group read as undamaged
    from sklearn.frozen import FrozenEstimator

    data = _blobs()
    victim = wrap(FrozenEstimator(LogisticRegression().fit(data[0], data[1])))
    audit = SubpopulationAudit(victim, finders={"cm": ClusterMatch(n_clusters=4)},
                               alphas=[2], progress=False)
    with pytest.raises(ValueError, match="^estimator must be an unfitted.*Frozen"):
        audit.run(*data)


def _fail_in_another_process(pid):
    import os

    if os.getpid() != pid:
        raise RuntimeError("cannot be loaded here")
    return _Unloadable()


class _Unloadable:
    """Pickles in the audit's process, fails to unpickle in a worker."""

    def __reduce__(self):
        import os

        return _fail_in_another_process, (os.getpid(),)


class _Tagged(LogisticRegression):
    def __init__(self, tag=None, C=1.0):
        super().__init__(C=C)
        self.tag = tag


def test_dead_worker_says_which_task_and_how_to_resume(tmp_path):
    # joblib's own message ("A task has failed to un-serialize. Please ensure
    # that the arguments of the function are all picklable.") read as a bug
    # in the user's model, and said nothing of the finished work
    victim = _Tagged(tag=_Unloadable())  # sent with every task
    store = tmp_path / "audit.sqlite"
    audit = SubpopulationAudit(victim, finders={"cm": ClusterMatch(n_clusters=4,
                                                                   random_state=0)},
                               alphas=[1], progress=False, n_jobs=2, backend="loky",
                               store=store)
    with pytest.raises(RuntimeError, match=r"(?s)worker process of the audit stopped.*"
                       r"cm group \d+ \(.*\), alpha=1, seed=0.*in the store .*"
                       "again to resume"):
        audit.run(*_blobs())


def test_cluster_rules_show_their_fit_only_when_approximate():
    # "precision 12%" beside a rule picking 8 times the cluster's rows read as
    # the group's name; a rule that fits is the name, one that does not says so
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    finder = ClusterMatch(8, random_state=0).fit(X)
    from skpoison.audit import describe_subpopulation

    for sid in finder.subpopulations_:
        rule, name = finder.describe(sid), describe_subpopulation(finder, sid)
        if rule.approximate:
            assert name.startswith(f"cluster {sid}, approximately: ")
            assert f"precision {rule.precision:.0%})" in name
        else:
            assert name == rule.text and "precision" not in name

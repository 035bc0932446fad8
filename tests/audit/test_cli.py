"""The command line's store, resume and report options."""

import pandas as pd

from skpoison.__main__ import main
from skpoison.audit._store import ResultStore

from .test_store import TIMING

ARGS = ["audit", "--filters", "ClusterMatch", "--alphas", "2", "--defenses", "none,trim",
        "--max-subpopulations", "2", "--n-jobs", "1", "--quiet"]


def test_cli_store_resume_fresh_and_report(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*ARGS, "--out", str(out), "--report", str(tmp_path / "report")]) == 0
    first = capsys.readouterr().out
    assert "4 poisoned fits" in first and "0 loaded from the store" in first
    with ResultStore(out / "audit.sqlite") as store:  # the default store
        assert store.count() == 4  # 2 subpopulations x (none, trim)
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "UCI Adult" in page
    results = pd.read_csv(out / "results.csv")

    assert main([*ARGS, "--out", str(out)]) == 0
    assert "0 poisoned fits" in capsys.readouterr().out  # all 4 loaded
    pd.testing.assert_frame_equal(results, pd.read_csv(out / "results.csv"))

    assert main([*ARGS, "--out", str(out), "--fresh"]) == 0
    assert "4 poisoned fits" in capsys.readouterr().out
    fresh = pd.read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(results.drop(columns=TIMING), fresh.drop(columns=TIMING))
    with ResultStore(out / "audit.sqlite") as store:
        assert store.count() == 4


def test_cli_no_store(tmp_path, capsys):
    store = tmp_path / "elsewhere.sqlite"
    assert main([*ARGS, "--defenses", "none", "--out", str(tmp_path),
                 "--store", str(store), "--no-store"]) == 0
    assert not store.exists() and not (tmp_path / "audit.sqlite").exists()
    assert "2 poisoned fits" in capsys.readouterr().out


def test_cli_unusable_store_is_a_usage_error_before_any_work(tmp_path, capsys):
    import pytest

    store = tmp_path / "audit.sqlite"
    store.write_text("this is not a database, and it is long enough to tell")
    for extra in ([], ["--fresh"]):
        with pytest.raises(SystemExit) as exc:
            main([*ARGS, "--out", str(tmp_path / "out"), "--store", str(store), *extra])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "skpoison: error: --store:" in err and "not a usable" in err
    assert not (tmp_path / "out").exists()


def test_usage_errors_found_with_the_data_name_the_option(tmp_path, capsys):
    # each used to escape the option checks: "skpoison: error: SettingError:
    # ..." or a bare ValueError, exit status 1, not naming the option
    import pytest

    quick = ["--max-subpopulations", "1", "--n-jobs", "1", "--quiet", "--no-store"]
    cases = [(["--dataset", "rotten-tomatoes", "--model", "ft", "--attack", "gradient"],
              "--attack", "'text'"),
             (["--dataset", "german", "--n-clusters", "400"], "--n-clusters", "333"),
             (["--dataset", "german", "--min-size", "50"], "--min-size",
              "max_size=33 (the default)"),
             (["--dataset", "german", "--max-size", "4"], "--max-size", "min_size=3"),
             (["--min-size", "150"], "--min-size", "max_size=100 (the default)")]
    for argv, option, text in cases:
        out = tmp_path / option.strip("-")
        with pytest.raises(SystemExit) as exc:
            main(["audit", *argv, *quick, "--out", str(out)])
        assert exc.value.code == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"skpoison: error: {option}: ") and text in err, err
        assert "Error:" not in err  # no exception class name
        assert not (out / "results.csv").exists()


def test_a_defense_added_by_one_registry_entry_runs_from_the_command_line(
        tmp_path, capsys, monkeypatch):
    import pytest

    from skpoison.audit import DEFENSES, Spec, make_defense
    from skpoison.defenses import TRIM

    monkeypatch.setitem(DEFENSES, "trim2", Spec(lambda: TRIM(None, max_iter=2),
                                                "TRIM with two rounds"))
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--help"])
    assert exc.value.code == 0
    assert "trim2: TRIM with two rounds" in " ".join(capsys.readouterr().out.split())
    assert make_defense("trim2").max_iter == 2
    assert main([*ARGS, "--defenses", "none,trim2", "--out", str(tmp_path),
                 "--no-store"]) == 0
    results = pd.read_csv(tmp_path / "results.csv")
    assert set(results["defense"]) == {"none", "trim2"} and len(results) == 4

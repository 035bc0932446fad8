"""The audit on a user's own table: the command line and SubpopulationAudit on a
messy frame (strings, categories, booleans, missing values, a string target)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from skpoison.__main__ import main
from skpoison.audit import (
    SettingError,
    SubpopulationAudit,
    load_setting,
    make_table_victim,
    table_setting,
)
from skpoison.subpopulations import ClusterMatch, FeatureMatch

# a quick audit: few groups, one alpha, small data
QUICK = ["--alphas", "2", "--max-subpopulations", "2", "--n-clusters", "6",
         "--min-size", "5", "--max-size", "100", "--n-jobs", "1", "--quiet"]


def messy_table(n=600, seed=0):
    """Census-like rows: numbers with missing values, strings with missing
    values (a FeatureMatch column among them), a boolean and a string target
    that depends on them."""
    rng = np.random.RandomState(seed)
    age = rng.randint(18, 80, n).astype(float)
    hours = np.round(rng.normal(40, 10, n), 1)
    workclass = rng.choice(["Private", "State-gov", "Self-emp"], n, p=[0.6, 0.2, 0.2])
    workclass = workclass.astype(object)
    workclass[rng.rand(n) < 0.1] = None  # missing in a FeatureMatch column
    sex = rng.choice(["Female", "Male"], n)
    married = rng.rand(n) < 0.5
    score = 0.04 * (age - 45) + 0.05 * (hours - 40) + 1.2 * married \
        + 0.8 * (workclass == "Self-emp") + rng.normal(0, 0.7, n)
    frame = pd.DataFrame({"age": age, "hours": hours, "workclass": workclass,
                          "sex": sex, "married": married,
                          "income": np.where(score > 0.6, ">50K", "<=50K")})
    frame.loc[rng.rand(n) < 0.08, "age"] = np.nan  # missing numbers elsewhere
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    frame = messy_table()
    csv = folder / "train.csv"
    frame.to_csv(csv, index=False)
    parquet = folder / "train.parquet"
    try:
        frame.astype({"sex": "category"}).to_parquet(parquet, index=False)
    except ImportError:  # pyarrow is in the test extras; without it, no Parquet
        parquet = None
    return {"csv": csv, "parquet": parquet, "folder": folder, "frame": frame}


def _ok(argv, capsys):
    assert main(argv) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_cli_audits_a_users_table(files, tmp_path, capsys, kind):
    if files[kind] is None:
        pytest.skip("pyarrow is not installed")
    out = tmp_path / "out"
    text = _ok(["audit", "--data", str(files[kind]), "--target", "income",
                "--features", "workclass,sex", "--model", "hgb", *QUICK,
                "--out", str(out), "--report", str(tmp_path / "report.html")], capsys)
    results = pd.read_csv(out / "results.csv")
    assert set(results["filter"]) == {"FeatureMatch", "ClusterMatch"}
    assert len(results) == 2 * 2 * 2  # filters x groups x (none, trim)
    # groups named in words: column values (a missing value too) and rules
    names = results.description.unique().tolist()
    feature = results[results["filter"] == "FeatureMatch"].description
    assert all(n.startswith("workclass") and "sex=" in n for n in feature)
    clusters = results[results["filter"] == "ClusterMatch"].description
    # a rule that fits its cluster is the name; an approximate one says so, with its fit
    assert all(("covers" in n and "precision" in n) == n.startswith("cluster ")
               for n in clusters)
    words = set(text.split())  # the console wraps long names, never cuts them
    top = pd.read_csv(out / "groups.csv").group.head(10)
    assert all(set(name.split()) <= words for name in top)
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary.worst) <= set(names)
    groups = pd.read_csv(out / "groups.csv")
    assert set(groups.group) == set(names)
    assert "the victim has test accuracy" in text
    assert "hgb victim" in text and "The most vulnerable groups" in text
    assert "Did the defenses help?" in text
    page = (tmp_path / "report.html").read_text()
    assert "train." + kind in page and "HistGradientBoostingClassifier" in page
    assert " at 0x" not in page


def test_cli_names_every_group_in_full(files, tmp_path, capsys):
    out = tmp_path / "out"
    text = _ok(["audit", "--data", str(files["csv"]), "--target", "income",
                "--features", "workclass", *QUICK, "--defenses", "none",
                "--out", str(out), "--no-store"], capsys)
    table = text[text.index("The most vulnerable groups"):text.index("Top-k")]
    shown, current, left, width = [], None, None, None
    for line in table.splitlines():  # the ranked table and the one listed apart
        if line.startswith("id "):
            left = line.index("group")
            width = line.index("rows") - left
        elif left is None or not line.strip() or line.startswith("  "):
            if not line[:left or 0].strip() and current is not None and line.strip():
                current.append(line[left:left + width].strip())
            else:
                current = None
        elif line.startswith("#"):  # a new row
            current = [line[left:left + width].strip()]
            shown.append(current)
    shown = {" ".join(parts) for parts in shown}
    assert shown == set(pd.read_csv(out / "results.csv").description)


def test_cli_without_features_skips_featurematch_and_says_how(files, tmp_path, capsys):
    text = _ok(["audit", "--data", str(files["csv"]), "--target", "income", *QUICK,
                "--defenses", "none", "--out", str(tmp_path), "--no-store"], capsys)
    assert "FeatureMatch skipped" in text and "--features" in text
    assert set(pd.read_csv(tmp_path / "results.csv")["filter"]) == {"ClusterMatch"}


def test_cli_estimator_factory_and_given_test_rows(files, tmp_path, capsys):
    frame = files["frame"]
    train, test = frame.iloc[:400], frame.iloc[400:]
    test = test[list(reversed(test.columns))]  # same columns, another order
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "out"
    text = _ok(["audit", "--data", str(tmp_path / "train.csv"), "--target", "income",
                "--test", str(tmp_path / "test.csv"), "--features", "sex,married",
                "--estimator", "tests.audit._factories:make_model", *QUICK,
                "--defenses", "none", "--out", str(out), "--no-store"], capsys)
    assert "tests.audit._factories:make_model victim" in text
    assert "200 training rows (D), 200 attacker's rows (D_aux), 200 test rows" in " ".join(
        text.split())
    assert len(pd.read_csv(out / "results.csv")) == 2 * 2


def test_python_audit_with_a_column_transformer_pipeline():
    frame = messy_table()
    X, y = frame.drop(columns="income"), frame["income"].to_numpy()
    victim = make_pipeline(
        ColumnTransformer([
            ("categories", make_pipeline(
                SimpleImputer(strategy="constant", fill_value="missing"),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
             ["workclass", "sex", "married"]),
            ("numbers", "passthrough", ["age", "hours"])]),
        HistGradientBoostingClassifier(max_iter=30, random_state=0))
    audit = SubpopulationAudit(
        victim, finders={"fm": FeatureMatch(["workclass", "sex"], min_size=5),
                         "cm": ClusterMatch(n_clusters=5, random_state=0)},
        alphas=[2], max_subpopulations=2, progress=False)
    parts = [(X.iloc[i::3].reset_index(drop=True), y[i::3]) for i in range(3)]
    results = audit.run(*[v for part in parts for v in part])
    assert len(results) == 4 and results.target_damage.notna().all()
    names = set(results.description)
    assert any("workclass is missing" in n for n in names) or \
        any(n.startswith("workclass=") for n in names)
    # ClusterMatch's default representation of the frame, kept and used
    assert audit.fitted_finders_["cm"].representation_ is not None
    assert (results.n_poison == 2 * results.n_train).all()


def test_table_setting_in_python(files):
    setting = table_setting(files["frame"], "income", features=["workclass"])
    built = load_setting(setting, "lr")
    X_train, y_train, X_aux, _, X_test, y_test = built.data
    assert len(X_train) == len(X_aux) == len(X_test) == 200
    assert list(X_train.columns) == ["age", "hours", "workclass", "sex", "married"]
    assert set(y_train) == {">50K", "<=50K"}
    assert sorted(built.finders) == ["ClusterMatch", "FeatureMatch"]
    victim = make_table_victim("lr", X_train).fit(X_train, y_train)
    assert victim.score(X_test, y_test) > 0.6


# --------------------------------------------------------------------------
# bad input: one line naming the option, status 2, nothing written


def _bad(argv, capsys, tmp_path, option):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exc:
        main(["audit", *argv, "--out", str(out), "--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    line = [x for x in err.splitlines() if x.startswith("skpoison: error:")]
    assert len(line) == 1 and option in line[0], err
    assert "Traceback" not in err
    assert not out.exists()
    return line[0]


def test_bad_target(files, tmp_path, capsys):
    line = _bad(["--data", str(files["csv"]), "--target", "salary"], capsys, tmp_path,
                "--target")
    assert "salary" in line and "income" in line  # names the columns there are


def test_target_with_one_class(files, tmp_path, capsys):
    frame = files["frame"].assign(income="<=50K")
    frame.to_csv(tmp_path / "one.csv", index=False)
    line = _bad(["--data", str(tmp_path / "one.csv"), "--target", "income"], capsys,
                tmp_path, "--target")
    assert "one class" in line


def test_features_column_missing(files, tmp_path, capsys):
    line = _bad(["--data", str(files["csv"]), "--target", "income",
                 "--features", "sex,race"], capsys, tmp_path, "--features")
    assert "race" in line


def test_test_rows_with_other_columns(files, tmp_path, capsys):
    files["frame"].drop(columns="hours").assign(extra=1).to_csv(
        tmp_path / "test.csv", index=False)
    line = _bad(["--data", str(files["csv"]), "--target", "income",
                 "--test", str(tmp_path / "test.csv")], capsys, tmp_path, "--test")
    assert "hours" in line and "extra" in line


def test_test_rows_with_text_where_numbers_were(files, tmp_path, capsys):
    files["frame"].assign(age="old").to_csv(tmp_path / "test.csv", index=False)
    line = _bad(["--data", str(files["csv"]), "--target", "income",
                 "--test", str(tmp_path / "test.csv")], capsys, tmp_path, "--test")
    assert "'age'" in line


@pytest.mark.parametrize("name, content", [("missing.csv", None),
                                           ("garbage.parquet", b"\x00\x01 not parquet"),
                                           ("empty.csv", b"")])
def test_unreadable_file(tmp_path, capsys, name, content):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    line = _bad(["--data", str(path), "--target", "y"], capsys, tmp_path, "--data")
    assert name in line


@pytest.mark.parametrize("argv, option", [
    (["--filters", "FeatureMatch"], "--features"),
    (["--attack", "gradient"], "--attack"),
    (["--model", "cnn"], "--model"),
    (["--estimator", "no_such_module_here:make"], "--estimator"),
    (["--estimator", "tests.audit._factories:not_an_estimator"], "--estimator"),
    (["--estimator", "tests.audit._factories:broken"], "--estimator"),
    (["--estimator", "tests.audit._factories:make_model", "--model", "lr"],
     "--estimator"),
    (["--device", "no-such-device"], "--device"),
    (["--max-subpopulations", "0"], "--max-subpopulations"),
    (["--n-jobs", "0"], "--n-jobs"),
    (["--alphas", "-1"], "--alphas"),
    (["--dataset", "german"], "--dataset"),
])
def test_bad_options_with_data(files, tmp_path, capsys, argv, option):
    # status 2, one "skpoison: error:" line naming the option, nothing written
    line = _bad(["--data", str(files["csv"]), "--target", "income", *argv], capsys,
                tmp_path, option)
    assert line.startswith("skpoison: error:") and option in line


def test_options_that_need_data(tmp_path, capsys):
    for option in ("--target", "--features", "--test"):
        line = _bad([option, "x"], capsys, tmp_path, option)
        assert option in line and "--data" in line, line


def test_bad_output_paths(files, tmp_path, capsys):
    taken = tmp_path / "a_file"
    taken.write_text("")
    base = ["--data", str(files["csv"]), "--target", "income"]
    with pytest.raises(SystemExit) as exc:
        main(["audit", *base, "--out", str(taken / "sub"), "--quiet"])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err
    _bad([*base, "--report", str(taken / "r.html")], capsys, tmp_path, "--report")
    _bad([*base, "--store", str(tmp_path)], capsys, tmp_path, "--store")


def test_setting_errors_name_the_parameter(files):
    frame = files["frame"]
    with pytest.raises(SettingError, match="^target:") as exc:
        table_setting(frame, "nope")
    assert exc.value.param == "target"
    with pytest.raises(SettingError, match="^features:"):
        table_setting(frame, "income", features=["nope"])
    with pytest.raises(SettingError, match="^test:"):
        table_setting(frame, "income", test=frame.drop(columns="sex"))
    with pytest.raises(SettingError, match="^model:"):
        load_setting(table_setting(frame, "income"), "cnn")


def test_cli_device_without_such_a_device(files, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    line = _bad(["--data", str(files["csv"]), "--target", "income", "--model",
                 "torch-mlp", "--device", "cuda"], capsys, tmp_path, "--device")
    assert "no CUDA device" in line


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow fails
    with pytest.raises(SettingError, match="pip install pyarrow"):
        table_setting(path, "y")


def test_infinite_numbers_and_continuous_targets_are_refused(files):
    frame = files["frame"]
    with pytest.raises(SettingError, match="^data: column 'age' holds infinite"):
        table_setting(frame.assign(age=np.where(frame.index == 3, np.inf, frame.age)),
                      "income")
    with pytest.raises(SettingError, match="^test: column 'hours' holds infinite"):
        table_setting(frame, "income", test=frame.assign(hours=-np.inf))
    with pytest.raises(SettingError, match="^target: 'hours' holds fractional"):
        table_setting(frame, "hours")
    # integer-valued numbers are classes
    setting = table_setting(frame.assign(label=(frame.hours > 40).astype(float)),
                            "label")
    assert setting.models[0] == "lr"


def test_empty_columns_are_dropped_and_said_so(files):
    frame = files["frame"].assign(nothing=np.nan)
    built = load_setting(table_setting(frame, "income", test=frame), "lr")
    assert "nothing" not in built.data[0].columns
    assert "nothing" not in built.data[4].columns
    assert any("nothing" in note for note in built.notes)
    with pytest.raises(SettingError, match="^features: .*no value"):
        table_setting(frame, "income", features=["nothing"])


def _pandas_string_table(n=900, seed=0):
    """A pandas ``string`` column with missing values (pd.NA) and a column
    mixing strings and ints: read as categories, as ClusterMatch reads them."""
    rng = np.random.RandomState(seed)
    city = pd.array(rng.choice(["a", "b", "c"], n), dtype="string")
    city[rng.rand(n) < 0.1] = pd.NA
    mixed = np.array([["x", 1, 2][i % 3] for i in range(n)], dtype=object)
    age = rng.randint(18, 80, n)
    paid = np.where(age + 20 * (mixed == "x") + rng.normal(0, 10, n) > 55, "yes", "no")
    return pd.DataFrame({"age": age, "city": city, "mixed": mixed, "paid": paid})


@pytest.mark.parametrize("model", ["lr", "hgb"])
def test_string_dtype_with_missing_values_and_mixed_columns(model):
    # the victim's preprocessor used to fail on both ("boolean value of NA is
    # ambiguous"; the encoder on a column of strings and ints)
    from skpoison.audit import setting_audit, table_preprocessor

    frame = _pandas_string_table()
    X = frame.drop(columns="paid")
    Z = table_preprocessor(X).fit_transform(X)
    assert Z.shape == (len(X), 1 + 4 + 3) and np.isfinite(Z).all()
    audit = setting_audit(table_setting(frame, "paid", features=["city", "mixed"]), model,
                          alphas=(1,), defenses=("none",), max_subpopulations=1,
                          progress=False, n_jobs=1)
    assert set(audit.results_["filter"]) == {"FeatureMatch", "ClusterMatch"}


def test_cli_string_dtype_with_missing_values(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    frame = _pandas_string_table()
    frame["mixed"] = frame["mixed"].astype(str)  # Parquet holds one type a column
    path = tmp_path / "train.parquet"
    frame.to_parquet(path, index=False)
    assert str(pd.read_parquet(path)["city"].dtype) == "string"  # pd.NA kept
    out = tmp_path / "out"
    text = _ok(["audit", "--data", str(path), "--target", "paid", "--features", "city,mixed",
                "--alphas", "1", "--max-subpopulations", "1", "--n-jobs", "1",
                "--quiet", "--no-store", "--out", str(out)], capsys)
    assert "Wrote" in text
    assert set(pd.read_csv(out / "results.csv")["filter"]) == {"FeatureMatch",
                                                               "ClusterMatch"}


def test_audit_table_matches_the_command_line(files, tmp_path, capsys):
    # one Python call, split as the command line splits: the same results
    from skpoison.audit import audit_table

    out = tmp_path / "out"
    _ok(["audit", "--data", str(files["csv"]), "--target", "income", "--features",
         "workclass", *QUICK, "--defenses", "none", "--out", str(out), "--no-store"],
        capsys)
    audit = audit_table(files["csv"], "income", features=["workclass"], alphas=[2],
                        max_subpopulations=2, defenses=["none"], n_jobs=1,
                        progress=False,
                        finders={"FeatureMatch": {"min_size": 5, "max_size": 100},
                                 "ClusterMatch": {"min_size": 5, "max_size": 100,
                                                  "n_clusters": 6}})
    expected = pd.read_csv(out / "results.csv")
    numbers = expected.select_dtypes("number").columns.drop(["fit_seconds",
                                                             "attack_seconds"])
    got = audit.results_.reset_index(drop=True)
    # results.csv leaves out the per-row 0/1 strings that results_ keeps
    bits = ["target_correct", "random_target_correct"]
    assert list(expected.columns) == [c for c in got.columns if c not in bits]
    pd.testing.assert_frame_equal(expected[numbers], got[numbers], check_dtype=False)
    assert expected["description"].tolist() == got["description"].tolist()
    # a model given as an object, and the frame itself
    numbers = files["frame"][["age", "hours", "income"]]
    hgb = audit_table(numbers, "income", model=HistGradientBoostingClassifier(),
                      alphas=[1], max_subpopulations=1, defenses=["none"], n_jobs=1,
                      progress=False)
    assert isinstance(hgb.estimator, HistGradientBoostingClassifier)
    assert set(hgb.results_["filter"]) == {"ClusterMatch"}


def test_given_test_and_aux_rows_are_capped_only_when_nothing_is_split(files):
    # n_samples caps every table when test and aux rows are given (stratified);
    # when data is split, it caps the split parts and leaves a given table whole
    frame = files["frame"]
    both = table_setting(frame.iloc[:300], "income", test=frame.iloc[300:450],
                         aux=frame.iloc[450:])
    data = load_setting(both, "lr", n_samples=50).data
    assert [len(y) for y in data[1::2]] == [50, 50, 50]
    for X, y, part in zip(data[::2], data[1::2], (frame.iloc[:300], frame.iloc[450:],
                                                  frame.iloc[300:450])):
        rate = (part["income"] == ">50K").mean()
        assert abs((y == ">50K").mean() - rate) <= 1 / 50 + 1e-9  # stratified
        assert X.index.tolist() == list(range(50))
    assert [len(y) for y in load_setting(both, "lr").data[1::2]] == [300, 150, 150]
    test_only = table_setting(frame.iloc[:450], "income", test=frame.iloc[450:])
    built = load_setting(test_only, "lr", n_samples=60)
    assert [len(y) for y in built.data[1::2]] == [60, 60, 150]
    assert any("split the --data rows into D (training) 60, D_aux (attacker's) 60"
               in note for note in built.notes)

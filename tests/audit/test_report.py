"""The audit's HTML report: self-contained, and it renders in headless Chromium."""

import base64
import html
import re
import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skpoison.audit import SubpopulationAudit
from skpoison.defenses import TRIM
from skpoison.subpopulations import ClusterMatch

from .test_audit import _blobs

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser",
                                            "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def audit():
    audit = SubpopulationAudit(
        LogisticRegression(), finders={"cm": ClusterMatch(n_clusters=4, random_state=0)},
        alphas=[0.5, 2], defenses={"none": None, "trim": TRIM(None, max_iter=3)},
        progress=False)
    with warnings.catch_warnings():  # TRIM stopping early on a tiny class
        warnings.simplefilter("ignore", UserWarning)
        audit.run(*_blobs())
    return audit


@pytest.fixture(scope="module")
def page(audit, tmp_path_factory):
    path = audit.report(tmp_path_factory.mktemp("report"))
    return path, path.read_text(encoding="utf-8")


def test_removal_columns_add_up(audit):
    # TRIM keeps all but n_remove = n_poison rows (oracle), so the poison and
    # clean rows it removed add up to n_poison.
    trim = audit.results_[audit.results_.defense == "trim"]
    n_clean = len(_blobs()[1])
    removed = trim.poison_removed * trim.n_poison + trim.clean_removed * n_clean
    np.testing.assert_allclose(removed, trim.n_poison)
    assert audit.results_.loc[audit.results_.defense == "none",
                              "poison_removed"].isna().all()


def test_page_is_self_contained(page):
    path, text = page
    assert path.name == "report.html"
    sources = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in text and "https://" not in text
    for src in sources:
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(sources) == 4  # by alpha, per subpopulation, map, removal
    # groups, defenses, top-k, parameters, and the warnings TRIM raised
    assert text.count("<table") == 5 and "Warnings raised during the work" in text
    assert "Top-k target damage" in text and "x0" in text  # clusters named by rules


def test_page_reads_top_down(audit, page):
    _, text = page
    order = ["The clean model", "test accuracy", "The most vulnerable groups",
             "Did the defenses help?", "Damage by alpha", "Top-k target damage",
             "<h2>Parameters</h2>"]
    positions = [text.index(h) for h in order]
    assert positions == sorted(positions)
    accuracy = audit.clean_accuracy_[0]
    assert f"{accuracy:.3f}" in text[:text.index("The most vulnerable groups")]
    # the parameters, readable, never reprs with memory addresses
    assert " at 0x" not in text and "LabelFlip(subpopulation=None)" not in text
    assert "TRIM(max_iter=3)" in text
    # every group named in full in the groups table
    groups = text[text.index("The most vulnerable groups"):text.index("Did the")]
    for name in audit.results_.description.unique():
        assert html.escape(name) in groups


def test_parameters_table_names_the_configuration_hash(audit, page):
    from skpoison.audit._report import parameters_table

    table = parameters_table(audit)
    assert list(table.columns) == ["parameter", "value"]
    values = dict(zip(table.parameter, table.value))
    assert values["configuration hash"] == audit.config_hash_
    assert len(audit.config_hash_) == 32
    _, text = page
    assert "<h2>Parameters</h2>" in text and "configuration hash" in text


def test_setting_attribute_is_deprecated(audit):
    with pytest.warns(FutureWarning, match="setting_ is deprecated.*config_hash_"):
        assert audit.setting_ == audit.config_hash_
    unfitted = SubpopulationAudit(LogisticRegression(),
                                  finders={"cm": ClusterMatch(n_clusters=4)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to rename, so no warning
        assert not hasattr(unfitted, "setting_")


def test_report_needs_run(tmp_path):
    audit = SubpopulationAudit(LogisticRegression(),
                               finders={"cm": ClusterMatch(n_clusters=4)})
    with pytest.raises(RuntimeError, match="run"):
        audit.report(tmp_path)


def _chromium(path, tmp_path):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--enable-logging=stderr", "--v=0", "--dump-dom", path.resolve().as_uri()]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    root = re.search(r"<html[^>]*>", proc.stdout).group(0)
    marks = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', root))
    return proc.stdout, marks, console


@needs_chromium
def test_chromium_check_catches_errors(tmp_path):
    """Control: the same check does see a broken image and a script error."""
    from skpoison.audit._render import _CHECK

    bad = tmp_path / "bad.html"
    bad.write_text(f"<!DOCTYPE html><html><head><script>{_CHECK}</script></head><body>"
                   '<img src="data:image/png;base64,AAAA"/><table></table>'
                   "<script>notDefined();</script></body></html>")
    _, marks, console = _chromium(bad, tmp_path)
    assert marks == {"images": "1", "broken-images": "1", "tables": "1", "errors": "2"}
    assert any("notDefined" in line for line in console)


@needs_chromium
def test_report_renders_in_chromium(page, tmp_path):
    path, _ = page
    dom, marks, console = _chromium(path, tmp_path)
    assert marks == {"images": "4", "broken-images": "0", "tables": "5", "errors": "0"}
    assert console == []
    assert "The most vulnerable groups" in dom and "What each defense removed" in dom


def test_dollar_signs_and_markup_in_names_are_text(tmp_path):
    """Names come from the data: a $ is not mathtext, a <b> is not markup."""
    from skpoison.audit import plot_summary

    audit = SubpopulationAudit(
        LogisticRegression(), finders={"$cm$": ClusterMatch(n_clusters=4, random_state=0)},
        alphas=[1], defenses={"none": None, "trim $1": TRIM(None, max_iter=2)},
        progress=False, describe=lambda finder, s: f"price=$5 and $x^{{2}}$ <b>{s}</b>")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        audit.run(*_blobs())
    text = audit.report(tmp_path / "r.html").read_text()
    assert "price=$5 and $x^{2}$ &lt;b&gt;" in text and "<b>" not in text
    png = tmp_path / "damage.png"
    plot_summary(audit.results_, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _synthetic(n=20):
    """Two groups, two seeds, alpha 1: TRIM restores group 0 (every test row
    right again) and breaks group 1 (every row wrong); the random filter
    removing as many rows changes nothing."""
    rows = []
    for sub, (base, trim) in enumerate([("0" * n, "1" * n), ("1" * n, "0" * n)]):
        for seed in (0, 1):
            for defense, bits in (("none", base), ("trim", trim)):
                damage = 1.0 - bits.count("1") / n
                rows.append({"filter": "f", "subpopulation": sub,
                             "description": f"g{sub}", "n_aux": 10, "alpha": 1.0,
                             "seed": seed, "defense": defense, "n_train": 5,
                             "n_test": n, "clean_target_accuracy": 1.0,
                             "target_damage": damage, "target_damage_low": damage - 0.1,
                             "target_damage_high": damage + 0.1,
                             "collateral_damage": 0.01, "target_correct": bits,
                             "random_target_correct": base if defense == "trim" else None,
                             "random_target_damage": (1.0 - base.count("1") / n
                                                      if defense == "trim" else np.nan),
                             "poison_removed": 0.5 if defense == "trim" else np.nan,
                             "clean_removed": 0.1 if defense == "trim" else np.nan})
    return pd.DataFrame(rows)


def test_defense_verdicts_count_groups_against_the_baselines():
    from skpoison.audit._render import text_table
    from skpoison.audit._report import defense_effect, defense_groups, defense_verdicts

    groups = defense_groups(_synthetic())
    assert groups["verdict"].tolist() == ["helped", "hurt"]
    assert groups["vs random"].tolist() == ["helped", "hurt"]
    effect = defense_effect(_synthetic(), n_clean=200)
    row = effect.iloc[0]
    assert (row["helped"], row["hurt"], row["no clear difference"]) == (1, 1, 0)
    assert row["made worse"] == "g1" and row["clean rows removed"] == 20.0
    assert (row["worst without"], row["worst with"], row["worst random filter"],
            row["worst perfect filter"]) == (1.0, 1.0, 1.0, 0.0)
    ((name, kind, text),) = defense_verdicts(effect)
    assert (name, kind) == ("trim", "mixed")
    assert "clearly helped 1 group, clearly hurt 1 (g1)" in text
    assert "removed 10.0% of the clean training rows (about 20)" in text
    # one row either way is no clear difference
    small = _synthetic(n=3)
    small["target_correct"] = np.where(small["defense"] == "none", "110", "111")
    assert defense_groups(small)["verdict"].tolist() == ["no clear difference"] * 2
    table = text_table(pd.DataFrame({"group": ["a long group name " * 4], "n": [3]}),
                       wrap={"group": 20})
    assert max(len(line) for line in table.splitlines()) < 30
    assert " ".join(" ".join(line.split()[:-1] if i == 1 else line.split())
                    for i, line in enumerate(table.splitlines()[1:], start=1)) \
        == " ".join(("a long group name " * 4).split())


def test_map_ranks_groups_by_the_baseline_defense(audit, tmp_path):
    # the map and its legend ranked by the first defense of the results,
    # the vulnerable-groups table by the baseline ("none" when it ran)
    import copy

    from skpoison.audit._report import vulnerable_groups

    results = audit.results_.copy()
    trim = results.defense == "trim"
    results.loc[trim, "target_damage"] = -results.loc[trim, "target_damage"]
    results = results.sort_values("defense", ascending=False, kind="stable")  # trim first
    shown = copy.copy(audit)
    shown.results_ = results.reset_index(drop=True)
    page = html.unescape(shown.report(tmp_path / "report.html").read_text())
    top = vulnerable_groups(shown.results_, top=3)["group"].tolist()
    legend = "; ".join(f"#{k}: {g}" for k, g in enumerate(top, start=1)) + "."
    assert legend in page


def test_any_column_specification_is_described(tmp_path):
    # make_column_selector crashed the parameter table after every fit
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.preprocessing import StandardScaler

    from skpoison.utils._readable import readable

    frame = [pd.DataFrame(v, columns=["a", "b"]) if v.ndim == 2 else v
             for v in _blobs()]
    victim = make_pipeline(make_column_transformer(
        (StandardScaler(), make_column_selector(dtype_include="number")),
        (StandardScaler(), slice(0, 1)), (StandardScaler(), np.array([False, True])),
        (StandardScaler(), lambda X: ["a"])), LogisticRegression())
    text = readable(victim)
    for part in ("make_column_selector(dtype_include='number')", "columns 0:1",
                 "on [1]", "<lambda>"):
        assert part in text
    audit = SubpopulationAudit(victim, finders={"cm": ClusterMatch(4, random_state=0)},
                               alphas=[1], progress=False)
    audit.run(*frame)
    assert "make_column_selector" in audit.report(tmp_path).read_text()


def test_names_are_neither_formulas_nor_terminal_controls(tmp_path):
    from skpoison.audit import _report
    from skpoison.audit._render import render_text
    from skpoison.audit._report import report_sections

    audit = SubpopulationAudit(
        LogisticRegression(), finders={"+cm": ClusterMatch(4, random_state=0)},
        alphas=[1], progress=False,
        describe=lambda finder, s: f'=HYPERLINK("http://x", "{s}")\x1b[31m\x07')
    audit.run(*_blobs())
    for path in audit.save(tmp_path):
        text = path.read_text()
        assert "'=HYPERLINK" in text and ",=" not in text and "\n=" not in text
        assert ",+cm" not in text and "'+cm" in text
    results = pd.read_csv(tmp_path / "results.csv")
    assert results["target_damage"].dtype == float  # numbers written as numbers
    frame = audit.results_.assign(target_damage=-0.5, description="-x")
    assert _report.csv_safe(frame)["target_damage"].eq(-0.5).all()
    assert _report.csv_safe(frame)["description"].eq("'-x").all()
    console = render_text(report_sections(audit))
    assert "\x1b" not in console and "\x07" not in console and "HYPERLINK" in console


def test_every_damage_has_an_interval_and_noise_does_not_lead(audit):
    res = audit.results_
    for part in ("target", "collateral"):
        low, high = res[f"{part}_damage_low"], res[f"{part}_damage_high"]
        assert ((low <= res[f"{part}_damage"] + 1e-12)
                & (res[f"{part}_damage"] <= high + 1e-12)).all()
    # recomputed by hand from the kept outcomes of one row
    from skpoison.metrics import paired_counts_interval

    row = res.iloc[0]
    n, lost, gained = row.n_test, row.target_lost, row.target_gained
    both = round(row.clean_target_accuracy * n) - lost
    _, low, high = paired_counts_interval(both, lost, gained, n - both - lost - gained)
    assert (low, high) == pytest.approx((row.target_damage_low, row.target_damage_high))
    # a 5-row group with damage 0.6 never ranks above a measured one
    from skpoison.audit._report import vulnerable_groups

    rows = []
    for sub, (n, damage, low) in enumerate([(5, 0.6, 0.1), (50, 0.3, 0.15)]):
        rows.append({"filter": "f", "subpopulation": sub, "description": f"g{sub}",
                     "n_aux": 9, "n_train": 9, "n_test": n, "alpha": 1.0, "seed": 0,
                     "defense": "none", "clean_target_accuracy": 1.0,
                     "target_damage": damage, "target_damage_low": low,
                     "target_damage_high": 0.9, "collateral_damage": 0.0})
    table = vulnerable_groups(pd.DataFrame(rows), top=None)
    assert table["group"].tolist() == ["g1", "g0"]
    assert table["measured"].tolist() == [True, False]
    assert table["clearly damaged"].tolist() == [True, True]


def test_warnings_and_groups_not_attacked_are_accounted_for(audit):
    # TRIM's class-wipe warnings were printed in the middle of the progress bar
    assert len(audit.warnings_) and audit.warnings_["count"].sum() >= 1
    assert audit.warnings_["where"].str.contains("trim").all()
    assert "TRIM" in " ".join(audit.warnings_["warning"])
    from skpoison.subpopulations import FeatureMatch

    X_train, y_train, X_aux, y_aux, X_test, y_test = (
        pd.DataFrame(v, columns=["a", "b"]) if v.ndim == 2 else v for v in _blobs())
    groups = [X.assign(g=(X["a"] > 10).astype(int) + 2 * (X["b"] > 10)
                       + 4 * (np.arange(len(X)) < 3)) for X in (X_train, X_aux, X_test)]
    small = SubpopulationAudit(LogisticRegression(),
                               finders={"fm": FeatureMatch(["g"], min_size=4)},
                               alphas=[1], progress=False)
    small.run(groups[0], y_train, groups[1], y_aux, groups[2], y_test)
    lost = small.not_attacked_
    assert len(lost) >= 1 and set(lost["reason"]) == {"too few attacker rows (min_size)"}
    assert (lost["aux rows"] <= 4).all()


def test_groups_left_out_by_the_size_filter_are_named_as_kept_ones():
    # the left-out groups of one-hot columns read as raw 0/1 pairs
    # ("education_num_2=0.0, education_num_3=0.0, ...") beside kept groups named
    # "education_num_3 & race_White"; coded columns showed codes, not categories
    from skpoison.audit._describe import CodedNames, describe_subpopulation, name_values
    from skpoison.subpopulations import FeatureMatch

    rng = np.random.RandomState(0)
    edu = rng.choice(3, size=200, p=[0.6, 0.38, 0.02])
    frame = pd.DataFrame({"edu_b": (edu == 1) * 1.0, "edu_c": (edu == 2) * 1.0,
                          "male": rng.randint(2, size=200) * 1.0})
    finder = FeatureMatch(["edu_b", "edu_c", "male"], min_size=5).fit(frame)
    kept = {describe_subpopulation(finder, s) for s in finder.subpopulations_}
    assert "edu_b & male" in kept and "base categories" in kept
    assert name_values(finder, {"edu_b": 0.0, "edu_c": 1.0, "male": 1.0}) == "edu_c & male"
    assert name_values(finder, {"edu_b": 0.0, "edu_c": 0.0, "male": 0.0}) == \
        "base categories"
    plain = FeatureMatch(["job"]).fit(pd.DataFrame({"job": ["a", "b", None]}))
    assert name_values(plain, {"job": 3.0}) == "job=3"
    assert name_values(plain, {"job": np.nan}) == "job is missing"
    coded = CodedNames({"annotation:sex": ["female", "male"]})
    assert coded.name_values(plain, {"annotation:sex": 1.0}) == "sex=male"
    assert coded.name_values(plain, {"annotation:sex": np.nan}) == "sex is missing"
    assert coded.name_values(plain, {"job": "a"}) == "job=a"  # not coded

    # in an audit: the left-out one-hot groups are named by their columns
    from sklearn.linear_model import LogisticRegression

    X = frame.assign(x=rng.normal(size=200))
    y = (X.x + X.male > 0.5).astype(int).to_numpy()
    audit = SubpopulationAudit(
        LogisticRegression(), finders={"fm": FeatureMatch(["edu_b", "edu_c", "male"],
                                                          min_size=5)},
        alphas=[1], progress=False)
    audit.run(X, y, X, y, X, y)
    lost = audit.not_attacked_
    assert len(lost) and not lost["group"].str.contains("=").any()
    assert set(lost["group"]) <= {"edu_c", "edu_c & male"}



def test_confidence_order_caches_on_content_not_identity():
    # the old by_confidence cached its model on id(X_aux): a new array at a
    # recycled address silently reused the model fitted on other rows
    import numpy as np
    import pytest
    from sklearn.linear_model import LogisticRegression

    from skpoison.audit import ConfidenceOrder, by_confidence
    from skpoison.subpopulations import ClusterMatch

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] > 0).astype(int)
    finder = ClusterMatch(n_clusters=3, random_state=0).fit(X)
    order = ConfidenceOrder(LogisticRegression())
    order("cm", finder, X, y)
    first = order.model_
    order("cm", finder, X.copy(), y.copy())  # equal rows: the same fit
    assert order.model_ is first
    X[:, 0] *= -1  # the same object, other rows: refitted
    order("cm", finder, X, y)
    assert order.model_ is not first
    with pytest.warns(FutureWarning, match="ConfidenceOrder"):
        by_confidence(LogisticRegression())


def _fake_fashion_mnist(n=60, seed=0):
    """A tiny stand-in for load_fashion_mnist: 10 classes, the derived
    ``subgroup`` ids 0-14 as numbers (as the loader gives them)."""
    import numpy as np
    import pandas as pd
    from sklearn.utils import Bunch

    from skpoison.datasets._fashion_mnist import SUBGROUP_NAMES

    def load(subset="train", data_home=None):
        rng = np.random.RandomState(seed + (subset == "test"))
        target = np.arange(n) % 10
        subgroup = (np.arange(n) * 7) % 15
        images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
        return Bunch(data=images.reshape(n, -1), images=images, target=target,
                     annotations=pd.DataFrame({"subgroup": subgroup.astype(np.int64)}),
                     annotation_columns=["subgroup"],
                     subgroup_names=list(SUBGROUP_NAMES))
    return load


def test_fashion_mnist_groups_are_named_by_their_subgroup(monkeypatch):
    # the subgroup ids are numbers, which encode keeps as they are: the old
    # describer read the id 2 as the third of the ids sorted as text, "10"
    from skpoison.audit import _settings, load_setting
    from skpoison.datasets._fashion_mnist import SUBGROUP_NAMES

    monkeypatch.setattr(_settings, "load_fashion_mnist", _fake_fashion_mnist())
    setting = load_setting("fashion-mnist", "lr", n_samples=20)
    X_aux = setting.data[2]
    finder = setting.finders["FeatureMatch"].fit(X_aux)
    column = "annotation:subgroup"
    for s in range(len(finder.combinations_)):
        code = finder.describe(s)[column]
        assert setting.describe(finder, s) == f"subgroup={SUBGROUP_NAMES[int(code)]}"
    assert set(X_aux[column]) <= set(range(15))  # the ids, as the loader gave them


def test_coded_names_decode_only_the_columns_encode_coded():
    import numpy as np
    import pandas as pd

    from skpoison.audit import annotation_column, with_annotations
    from skpoison.audit._data import encode
    from skpoison.audit._describe import CodedNames
    from skpoison.subpopulations import FeatureMatch

    annotations = pd.DataFrame({"subgroup": np.repeat(np.arange(15), 2),
                                "sex": ["male", "female"] * 15})
    codes, categories = encode(annotations, ["subgroup", "sex"])
    assert categories == {"sex": ["female", "male"]}  # numbers are not coded
    assert codes["subgroup"].tolist() == list(np.repeat(np.arange(15.0), 2))
    frame = with_annotations(np.zeros((30, 1)), annotations, ["subgroup", "sex"])
    names = CodedNames({annotation_column(c): v for c, v in categories.items()})
    by_id = FeatureMatch([annotation_column("subgroup")]).fit(frame)
    assert sorted(names(by_id, s) for s in by_id.subpopulations_) == sorted(
        f"subgroup={k}" for k in range(15))
    by_sex = FeatureMatch([annotation_column("sex")]).fit(frame)
    assert sorted(names(by_sex, s) for s in by_sex.subpopulations_) == [
        "sex=female", "sex=male"]


def test_text_columns_are_known_per_model_before_loading(monkeypatch):
    import pytest

    from skpoison.audit import SETTINGS, SettingError, _settings, setting_audit

    def no_loading(*args, **kwargs):
        raise AssertionError("the data was loaded before the attack was checked")

    monkeypatch.setattr(_settings, "load_rotten_tomatoes", no_loading)
    record = SETTINGS["rotten-tomatoes"]
    assert record.model_text_columns("ft") == ("text",)
    assert record.model_text_columns("ll") == ()
    for attack in ("gradient", "influence"):
        with pytest.raises(SettingError, match="^attack:.*'text'") as exc:
            setting_audit("rotten-tomatoes", "ft", attack=attack, progress=False)
        assert exc.value.param == "attack"


def test_finder_sizes_are_checked_against_the_attackers_rows():
    # after the setting's defaults are merged, before any finder is fitted
    import pytest

    from skpoison.audit import SettingError, setting_audit

    cases = [({"ClusterMatch": {"n_clusters": 400}}, "n_clusters", "333"),
             ({"ClusterMatch": {"min_size": 50}}, "min_size", "max_size=33 (the default)"),
             ({"FeatureMatch": {"max_size": 4}}, "max_size", "min_size=3 (the default)")]
    for params, param, text in cases:
        with pytest.raises(SettingError, match=f"^{param}:") as exc:
            setting_audit("german", "lr", finder_params=params, progress=False)
        assert exc.value.param == param and text in str(exc.value)

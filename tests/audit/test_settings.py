

def test_confidence_order_caches_on_content_not_identity():
    # the old by_confidence cached its model on id(X_aux): a new array at a
    # recycled address silently reused the model fitted on other rows
    import numpy as np
    import pytest
    from sklearn.linear_model import LogisticRegression

    from skpoison.subpopulations import ConfidenceOrder
    from skpoison.subpopulations._ranking import by_confidence
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

    from skpoison.datasets import annotation_column, with_annotations
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


def test_optimised_attacks_are_refused_on_text_columns_before_any_fit(monkeypatch):
    import numpy as np
    import pandas as pd
    import pytest

    from skpoison.audit import SettingError, _audit, setting_audit, table_setting

    def no_run(*args, **kwargs):
        raise AssertionError("the audit ran before the attack was checked")

    monkeypatch.setattr(_audit.SubpopulationAudit, "run", no_run)
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"age": rng.randint(18, 80, 300),
                          "job": rng.choice(["a", "b"], 300), "y": np.arange(300) % 2})
    for attack in ("gradient", "influence"):
        with pytest.raises(SettingError, match="^attack:.*'job'") as exc:
            setting_audit(table_setting(frame, "y"), "lr", attack=attack,
                          progress=False)
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
            setting_audit("german", "lr", finders=params, progress=False)
        assert exc.value.param == param and text in str(exc.value)
    # the parameters of skpoison 0.1 still work, with a FutureWarning
    with pytest.warns(FutureWarning, match="finder_params"):
        with pytest.raises(SettingError, match="^n_clusters:"):
            setting_audit("german", "lr", finder_params=cases[0][0], progress=False)


def test_setting_audit_forwards_to_the_audit_and_sets_nothing_from_outside(monkeypatch):
    import pytest

    from skpoison.audit import _audit, setting_audit

    seen = {}

    def fake_run(self, *data):
        seen.update(vars(self))
        seen["n_rows"] = [len(d) for d in data]
        return None

    monkeypatch.setattr(_audit.SubpopulationAudit, "run", fake_run)
    audit = setting_audit("german", "lr", alphas=[1], seeds=[3], defenses=["none", "dpa"],
                          max_subpopulations=2, store=None, n_jobs=1, progress=False,
                          title="my title", notes=["mine"])
    assert seen["alphas"] == [1] and seen["seeds"] == [3] and seen["n_jobs"] == 1
    assert seen["title"] == "my title" and seen["notes"] == ["mine"]
    assert set(seen["defenses"]) == {"none", "dpa"} and seen["defenses"]["none"] is None
    assert seen["defenses"]["dpa"].n_partitions == 50
    assert set(seen["finders"]) == {"FeatureMatch", "ClusterMatch"}
    assert seen["n_rows"] == [333, 333, 333, 333, 334, 334]
    assert not [k for k in vars(audit) if k.endswith("_")]  # nothing set from outside
    with pytest.raises(TypeError, match="no_such_parameter"):
        setting_audit("german", "lr", no_such_parameter=1, progress=False)


def test_adult_audit_is_deprecated(monkeypatch):
    import pytest

    from skpoison.audit import _audit, adult_audit

    seen = {}
    monkeypatch.setattr(_audit.SubpopulationAudit, "run",
                        lambda self, *data: seen.update(vars(self)))
    with pytest.warns(FutureWarning, match="setting_audit"):
        adult_audit(n_clusters=7, min_size=4, max_size=90, filters=["ClusterMatch"],
                    progress=False)
    finder = seen["finders"]["ClusterMatch"]
    assert (finder.n_clusters, finder.min_size, finder.max_size) == (7, 4, 90)
    assert list(seen["finders"]) == ["ClusterMatch"]


def test_moved_names_warn_from_their_old_home():
    import pytest

    import skpoison.audit
    from skpoison.datasets import annotation_column, with_annotations
    from skpoison.subpopulations import ConfidenceOrder

    for name, new in (("annotation_column", annotation_column),
                      ("with_annotations", with_annotations),
                      ("ConfidenceOrder", ConfidenceOrder)):
        with pytest.warns(FutureWarning, match=name):
            assert getattr(skpoison.audit, name) is new
    with pytest.warns(FutureWarning):
        skpoison.audit.by_confidence  # noqa: B018


def _fake_rotten_tomatoes(n=60):
    import numpy as np
    import pandas as pd
    from sklearn.utils import Bunch

    texts = [f"review {i} " + "good " * (i % 7) for i in range(n)]
    buckets = np.array(["short", "medium", "long"], dtype=object)[np.arange(n) % 3]
    return Bunch(data=pd.Series(texts, name="text"), target=np.arange(n) % 2,
                 annotations=pd.DataFrame({"length_bucket": buckets}),
                 annotation_columns=["movie_name"])


def _devices(part):
    """The (nested) device parameters of a part."""
    if part is None or not hasattr(part, "get_params"):
        return {}
    return {k: v for k, v in part.get_params(deep=True).items()
            if k == "device" or k.endswith("__device")}


TORCH = {("adult", "torch-mlp"), ("fashion-mnist", "ll"), ("fashion-mnist", "ft"),
         ("fashion-mnist", "cnn"), ("rotten-tomatoes", "ll"), ("rotten-tomatoes", "ft")}


def _pairs():
    from skpoison.audit import SETTINGS

    return [(name, model) for name, record in SETTINGS.items() for model in record.models]


import pytest  # noqa: E402


@pytest.mark.parametrize("dataset, model", _pairs())
def test_every_torch_part_of_a_setting_is_on_the_device(dataset, model, monkeypatch):
    # the fine-tuned victims, the CNN and both embedders used to stay on the
    # CPU; only the parameters are asserted (no tensor is moved: no GPU here)
    import numpy as np

    from skpoison.audit import _settings, load_setting, prepare_audit
    from skpoison.features import ImageEmbedder, TextEmbedder

    embedded = []

    def fake_embed(self, X, y=None):
        embedded.append(self.device)
        return np.zeros((len(X), 4), np.float32)

    monkeypatch.setattr(_settings, "resolve_device", lambda device: device)
    monkeypatch.setattr(_settings, "load_fashion_mnist", _fake_fashion_mnist())
    monkeypatch.setattr(_settings, "load_rotten_tomatoes", _fake_rotten_tomatoes)
    monkeypatch.setattr(ImageEmbedder, "fit_transform", fake_embed)
    monkeypatch.setattr(TextEmbedder, "fit_transform", fake_embed)
    n = 20 if dataset in ("fashion-mnist", "rotten-tomatoes") else None
    setting = load_setting(dataset, model, n_samples=n, device="cuda:1")
    parts = {"victim": setting.estimator, "attacker model": setting.attacker_model,
             **setting.finders}
    found = {f"{name}: {k}": v for name, part in parts.items()
             for k, v in _devices(part).items()}
    assert all(v == "cuda:1" for v in [*found.values(), *embedded]), (found, embedded)
    assert bool(found or embedded) == ((dataset, model) in TORCH), found
    if model in ("ft", "cnn", "torch-mlp"):
        assert _devices(setting.estimator), "the victim's net has no device"
    if dataset in ("fashion-mnist", "rotten-tomatoes") and model != "lr":
        # the embedder of ClusterMatch's representation, or the one run once
        assert embedded or _devices(setting.finders["ClusterMatch"])
    if (dataset, model) in TORCH:  # the defenses and the jobs follow the device
        audit, _ = prepare_audit(dataset, model, n_samples=n, device="cuda:1",
                                 finders={"ClusterMatch": {"n_clusters": 5}},
                                 progress=False,
                                 defenses=["none", "fine-pruning"] if model != "ll"
                                 else {"none": {}, "fine-pruning": None})
        assert audit.n_jobs == 1
        assert all(v == "cuda:1" for v in _devices(audit.defenses["fine-pruning"])
                   .values())
        default = load_setting(dataset, model, n_samples=n)  # no device: the CPU
        assert set(_devices(default.estimator).values()) <= {"cpu"}


def test_a_setting_build_may_leave_out_the_label_rule_and_notes():
    # load_setting fills them in once: LabelFlip's "flip" for two classes in
    # D and D_aux, "least_frequent" for more; no notes
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils import Bunch

    from skpoison.audit import Setting, load_setting
    from skpoison.subpopulations import ClusterMatch

    def build(n_classes, model, **_):
        X = pd.DataFrame({"x": np.arange(30.0)})
        y = np.arange(30) % n_classes
        return Bunch(data=(X, y, X, y, X, y), estimator=LogisticRegression(),
                     finders={"ClusterMatch": ClusterMatch(n_clusters=2)},
                     attacker_model=None)

    from functools import partial

    for n_classes, label in ((2, "flip"), (3, "least_frequent")):
        record = Setting("mine", "Mine", ("lr",), partial(build, n_classes))
        bunch = load_setting(record)
        assert (bunch.label, bunch.notes, bunch.model) == (label, [], "lr")
    given = Setting("mine", "Mine", ("lr",),
                    lambda model, **kw: Bunch(**build(2, model), label="least_frequent",
                                              notes=["mine"]))
    assert (load_setting(given).label, load_setting(given).notes) == (
        "least_frequent", ["mine"])

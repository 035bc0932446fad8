"""Settings: one record per data set the audit runs on, the user's table one more.

A *setting* is a data set split the paper's way (the victim's ``D``, the
attacker's disjoint ``D_aux`` of the same size, and test rows), the victim
models it offers, and the finders the attacker runs. Each is one
:class:`Setting` record: its name, title, models, CPU-sized row counts, the
subpopulation order it is attacked in, and the function that builds it.
:func:`load_setting` builds one; :func:`setting_audit` runs the audit on it.
Adding a data set means writing one record; :func:`table_setting` makes the
record of any table (a CSV or Parquet file, or a DataFrame).

====================  =====================================  =========================
setting               stands in for (paper)                  models
====================  =====================================  =========================
``adult``             UCI Adult (the real data)              lr, mlp, torch-mlp, hgb, rf
``fashion-mnist``     CIFAR-10 / UTKFace images              ll, ft, cnn, lr
``rotten-tomatoes``   IMDB reviews                           ll, ft
``german``            (extra tabular)                        lr, mlp, hgb, rf
``compas``            (extra tabular)                        lr, mlp, hgb, rf
a user's table        (your data)                            lr, hgb, rf, mlp, torch-mlp
====================  =====================================  =========================

"ll" is the paper's last-layer setting: a linear head on frozen pretrained
features (EfficientNet-Lite0 for images, all-MiniLM-L6-v2 for texts, standing
in for VGG-16 and BERT), computed once and cached under the data home. "ft"
fine-tunes the whole pretrained network for every (poisoned) training set.

Annotations that are not model inputs (the derived garment group x ink bucket
of Fashion-MNIST, German credit's sex / age bucket, COMPAS's race / sex / age
category, a review's length bucket) travel as extra DataFrame columns named
``annotation:<name>`` (:func:`annotation_column`; :func:`with_annotations`
codes categories as the ranks of their sorted values, since attacks take
numeric rows): FeatureMatch selects on them, and the victim and
ClusterMatch drop them (:func:`drop_annotations`), so poisons carry their
subpopulation's annotation like any other row. A user's table needs none of
this: its own columns (strings, categories, missing values) are the groups.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils import Bunch

from ..datasets import (
    get_data_home,
    load_adult,
    load_compas,
    load_fashion_mnist,
    load_german_credit,
    load_rotten_tomatoes,
)
from ..subpopulations import ClusterMatch, FeatureMatch
from ..utils._seeding import seed_unseeded
from ._audit import SubpopulationAudit
from ._data import (
    SettingError,
    annotation_column,
    check_classes,
    check_finite,
    check_same_columns,
    encode,
    read_table,
    split_rows,
    split_target,
    text_columns,
    with_annotations,
)
from ._describe import CodedNames
from ._parts import (
    ATTACKS,
    DEFENSES,
    TABLE_MODELS,
    drop_annotations,
    make_attack,
    make_defense,
    make_table_victim,
    make_victim,
    set_device,
    table_preprocessor,
)
from ._store import ResultStore

FINDERS = ("FeatureMatch", "ClusterMatch")


@dataclass(frozen=True)
class Setting:
    """One data set the audit runs on: how to build it, and what it offers.

    Read more in the :ref:`User Guide <audit>`.

    Parameters
    ----------
    name : str
        Short name (``--dataset NAME`` on the command line).
    title : str
        Name shown in the console and the report.
    models : tuple of str
        The victims it offers; the first is the default.
    build : callable
        ``build(model, *, n_samples, data_home, random_state, progress,
        device)`` returns a Bunch with ``data`` (the six arrays ``X_train,
        y_train, X_aux, y_aux, X_test, y_test``), ``estimator`` (the
        victim), ``finders`` (name -> unfitted finder), ``label`` (the label
        rule of LabelFlip), ``attacker_model`` (a model the attacker trains on
        ``D_aux`` to rank subpopulations by confidence, or None) and
        ``notes`` (lines for the user, e.g. rows dropped).
    rows : int, dict or None, default=None
        CPU-sized rows per split (``D``, ``D_aux`` and test each), per model
        when a dict; ``None`` takes every row.
    order : {"id", "confidence"}, default="confidence"
        The order subpopulations are attacked in unless told otherwise.
    stands_in_for : str, default=""
        What the paper ran instead.
    text_columns : tuple of str or dict, default=()
        Input columns that do not hold numbers (the optimised attacks need
        numbers), per model when a dict; known before the data is loaded, so
        that an attack that cannot run is refused first.
    """

    name: str
    title: str
    models: tuple
    build: Callable = field(repr=False)
    rows: object = None
    order: str = "confidence"
    stands_in_for: str = ""
    text_columns: object = ()

    def default_rows(self, model):
        """CPU-sized rows per split of ``model`` (``None``: all rows)."""
        return self.rows.get(model) if isinstance(self.rows, dict) else self.rows

    def model_text_columns(self, model):
        """The input columns of ``model`` that hold text (``()``: numbers only)."""
        if isinstance(self.text_columns, dict):
            return tuple(self.text_columns.get(model, ()))
        return tuple(self.text_columns)


def _cache(data_home):
    from joblib import Memory

    location = Path(get_data_home(data_home)) / "embeddings"
    return Memory(location=str(location), verbose=0)


def _victim(model, X, random_state, device):
    """The tabular victims, seeded, on features with annotation columns."""
    if model in ("hgb", "rf"):
        return seed_unseeded(make_table_victim(model, X, device=device), random_state)
    victim = seed_unseeded(make_victim("lr" if model == "ll" else model, device=device),
                           random_state)
    return make_pipeline(drop_annotations(), *[step for _, step in victim.steps])


def _coded(annotations, columns, names=None):
    """The annotation columns coded (see :func:`encode`), and the describer that
    reads the codes back as the categories :func:`encode` used.

    ``names`` (column -> list) names the number ids of columns :func:`encode`
    keeps as they are, e.g. a loader's subgroup names.
    """
    codes, categories = encode(annotations, columns)
    categories.update(names or {})
    return codes, CodedNames({annotation_column(c): v for c, v in categories.items()})


def _tabular_sizes(n_aux):
    """The paper's Adult filter (10 < n < 100 of 7,841 aux rows), scaled:
    ``(min_size, max_size, n_clusters)``."""
    min_size = max(3, n_aux // 800)
    max_size = max(min_size + 2, n_aux // 10)
    n_clusters = 100 if n_aux > 2000 else 25
    return min_size, max_size, max(2, min(n_clusters, n_aux // 10))


# --------------------------------------------------------------------------
# the bundled data sets, one build function each


def _build_adult(model, *, n_samples, data_home, random_state, progress, device):
    data = load_adult(form="paper", random_state=random_state)
    finders = {
        "FeatureMatch": FeatureMatch(data.annotation_columns, min_size=10, max_size=100),
        "ClusterMatch": ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                                     random_state=random_state),
    }
    return Bunch(data=(data.X_train, data.y_train, data.X_aux, data.y_aux,
                       data.X_test, data.y_test),
                 estimator=_victim(model, data.X_train, random_state, device),
                 finders=finders, label="flip",
                 attacker_model=_victim("lr", data.X_train, random_state, None),
                 notes=[])


def _build_german_compas(loader, model, *, n_samples, data_home, random_state, progress,
                       device):
    bunch = loader()
    y = np.asarray(bunch.target)
    parts = split_rows(y, ("train", "aux", "test"), n_samples, random_state)
    train, aux, test = parts["train"], parts["aux"], parts["test"]
    codes, describe = _coded(bunch.annotations, bunch.annotation_columns)
    frame = with_annotations(bunch.data, codes, bunch.annotation_columns,
                             bunch.feature_names)
    min_size, max_size, k = _tabular_sizes(len(aux))
    finders = {
        "FeatureMatch": FeatureMatch(
            [annotation_column(c) for c in bunch.annotation_columns],
            min_size=min_size, max_size=max_size),
        "ClusterMatch": ClusterMatch(
            n_clusters=k, min_size=min_size, max_size=max_size,
            representation=make_pipeline(drop_annotations(), StandardScaler()),
            random_state=random_state),
    }
    return Bunch(
        data=tuple(v for i in (train, aux, test)
                   for v in (frame.iloc[i].reset_index(drop=True), y[i])),
        estimator=_victim(model, frame, random_state, device),
        finders=finders, label="flip" if len(np.unique(y)) == 2 else "least_frequent",
        attacker_model=_victim("lr", frame, random_state, None), notes=[],
        describe=describe)


def _image_embeddings(images, image_size, data_home, progress, device):
    from ..features import ImageEmbedder

    embedder = set_device(ImageEmbedder(image_size=image_size, memory=_cache(data_home),
                                        progress=progress), device)
    return embedder.fit_transform(images)


def _build_fashion_mnist(model, *, n_samples, data_home, random_state, progress,
                         device):
    train = load_fashion_mnist(subset="train", data_home=data_home)
    test = load_fashion_mnist(subset="test", data_home=data_home)
    rng = np.random.RandomState(random_state)
    n = n_samples or 30000
    idx_train, idx_aux = train_test_split(
        np.arange(len(train.target)), train_size=n, test_size=n,
        stratify=train.target, random_state=rng.randint(2**31 - 1))
    idx_test = np.arange(len(test.target))
    if n < len(idx_test):
        idx_test, _ = train_test_split(idx_test, train_size=n, stratify=test.target,
                                       random_state=rng.randint(2**31 - 1))
    columns = list(train.annotation_columns)
    # codes of the whole data set (train and test rows), so that a code means
    # the same category in every split; the subgroup ids named as the loader
    # names them
    codes, describe = _coded(
        pd.concat([train.annotations, test.annotations], ignore_index=True), columns,
        {"subgroup": list(train.subgroup_names)} if "subgroup" in columns else None)
    n_train = len(train.target)
    train_codes, test_codes = codes.iloc[:n_train], codes.iloc[n_train:]
    parts = [(train, idx_train), (train, idx_aux), (test, idx_test)]
    part_codes = [train_codes, train_codes, test_codes]
    if model == "ll":
        # frozen ImageNet features, computed once per row and cached on disk
        feats = [_image_embeddings(b.images[i], 64, data_home, progress, device)
                 for b, i in parts]
        frames = [with_annotations(f, c.iloc[i], columns)
                  for f, c, (_, i) in zip(feats, part_codes, parts)]
        estimator = make_pipeline(drop_annotations(), LogisticRegression(max_iter=1000))
        # the LL attacker model's penultimate layer is the frozen embedding
        representation = drop_annotations()
    else:
        frames = [with_annotations(b.data[i], c.iloc[i], columns)
                  for c, (b, i) in zip(part_codes, parts)]
        if model == "lr":
            estimator = make_pipeline(
                drop_annotations(), FunctionTransformer(np.divide, kw_args={"x2": 255.0}),
                LogisticRegression(max_iter=300))
            representation = drop_annotations()
        else:
            from ..features import ImageEmbedder
            from ..nets import make_cnn_classifier, make_image_finetune_classifier

            if model == "cnn":
                net = make_cnn_classifier(image_shape=(1, 28, 28), max_epochs=6,
                                          random_state=random_state)
                scale = FunctionTransformer(np.subtract, kw_args={"x2": 127.5})
                estimator = make_pipeline(drop_annotations(), scale,
                                          FunctionTransformer(np.divide,
                                                              kw_args={"x2": 255.0}),
                                          net)
            else:
                net = make_image_finetune_classifier(
                    image_size=32, image_shape=(1, 28, 28), scale=1 / 255,
                    max_epochs=3, random_state=random_state)
                estimator = make_pipeline(drop_annotations(), net)
            # the paper clusters the representation of a model trained on
            # D_aux: here the frozen ImageNet features (the FT model's
            # representation before fine-tuning)
            representation = make_pipeline(
                drop_annotations(),
                ImageEmbedder(image_size=64, image_shape=(28, 28),
                              memory=_cache(data_home), progress=progress))
    y = [np.asarray(b.target)[i] for b, i in parts]
    finders = {
        "FeatureMatch": FeatureMatch([annotation_column(c) for c in columns]),
        "ClusterMatch": ClusterMatch(n_clusters=100, n_components=100,
                                     n_components_kmeans=40,
                                     representation=representation,
                                     random_state=random_state),
    }
    return Bunch(data=(frames[0], y[0], frames[1], y[1], frames[2], y[2]),
                 estimator=estimator, finders=finders, label="least_frequent",
                 attacker_model=make_pipeline(drop_annotations(),
                                              LogisticRegression(max_iter=300)),
                 notes=[], describe=describe)


def _text_column(X):
    """The ``text`` column of a DataFrame as a 1-D array of strings."""
    return np.asarray(X["text"], dtype=object)


def _build_rotten_tomatoes(model, *, n_samples, data_home, random_state, progress,
                           device):
    from ..features import TextEmbedder

    bunch = load_rotten_tomatoes()
    y = np.asarray(bunch.target)
    parts = split_rows(y, ("train", "aux", "test"), n_samples, random_state)
    train, aux, test = parts["train"], parts["aux"], parts["test"]
    columns = ["length_bucket"]
    codes, describe = _coded(bunch.annotations, columns)  # of the whole data set
    if model == "ll":
        embedder = set_device(TextEmbedder(memory=_cache(data_home), progress=progress),
                              device)
        frames = [with_annotations(embedder.fit_transform(list(bunch.data[i])),
                                   codes.iloc[i], columns)
                  for i in (train, aux, test)]
        estimator = make_pipeline(drop_annotations(), LogisticRegression(max_iter=1000))
        representation = drop_annotations()
        attacker_model = clone(estimator)
    else:
        from ..nets import make_text_finetune_classifier

        frames = []
        for i in (train, aux, test):
            frame = pd.DataFrame({"text": np.asarray(bunch.data[i], dtype=object)})
            frame[annotation_column("length_bucket")] = np.asarray(
                codes["length_bucket"].iloc[i])
            frames.append(frame)
        # the paper fine-tunes BERT with lr 1e-5 for 4 epochs on 12,500
        # reviews; on a few hundred snippets that barely moves the model, so
        # the CPU-sized setting takes a larger step
        net = make_text_finetune_classifier(max_length=48, max_epochs=3, lr=5e-5,
                                            random_state=random_state)
        estimator = make_pipeline(FunctionTransformer(_text_column), net)
        representation = make_pipeline(
            FunctionTransformer(_text_column),
            TextEmbedder(memory=_cache(data_home), progress=progress))
        attacker_model = make_pipeline(clone(representation),
                                       LogisticRegression(max_iter=1000))
    finders = {
        "FeatureMatch": FeatureMatch([annotation_column(c) for c in columns]),
        "ClusterMatch": ClusterMatch(n_clusters=100, n_components=10,
                                     representation=representation,
                                     random_state=random_state),
    }
    return Bunch(data=(frames[0], y[train], frames[1], y[aux], frames[2], y[test]),
                 estimator=estimator, finders=finders, label="flip",
                 attacker_model=attacker_model, notes=[], describe=describe)


SETTINGS = {s.name: s for s in (
    Setting("adult", "UCI Adult", ("lr", "mlp", "torch-mlp", "hgb", "rf"),
            _build_adult, rows=None, order="id",
            stands_in_for="UCI Adult (the real data)"),
    Setting("fashion-mnist", "Fashion-MNIST", ("ll", "ft", "cnn", "lr"),
            _build_fashion_mnist,
            rows={"ll": 2000, "ft": 400, "cnn": 1500, "lr": 1500},
            stands_in_for="CIFAR-10 / UTKFace images"),
    Setting("rotten-tomatoes", "Rotten Tomatoes", ("ll", "ft"), _build_rotten_tomatoes,
            rows={"ll": 1500, "ft": 300}, stands_in_for="IMDB reviews",
            text_columns={"ft": ("text",)}),
    Setting("german", "German credit", ("lr", "mlp", "hgb", "rf"),
            partial(_build_german_compas, load_german_credit)),
    Setting("compas", "COMPAS", ("lr", "mlp", "hgb", "rf"),
            partial(_build_german_compas, load_compas)),
)}
"""The bundled settings, by name."""


# --------------------------------------------------------------------------
# a user's table


def _build_table(frames, target_name, features, estimator, model, *, n_samples,
                 data_home, random_state, progress, device):
    notes = list(frames["notes"])
    given = {k: v for k, v in frames.items() if k in ("train", "aux", "test")
             and v is not None}
    X, y = given["train"]
    missing = [p for p in ("aux", "test") if p not in given]
    if missing:
        parts = split_rows(y, ("train", *missing), n_samples, random_state)
        for p in missing:
            given[p] = (X.iloc[parts[p]].reset_index(drop=True), y[parts[p]])
        given["train"] = (X.iloc[parts["train"]].reset_index(drop=True),
                          y[parts["train"]])
        names = {"train": "D (training)", "aux": "D_aux (attacker's)", "test": "test"}
        notes.append("split the --data rows into "
                     + ", ".join(f"{names[p]} {len(parts[p])}" for p in ("train", *missing))
                     + ", stratified by the target")
    elif n_samples is not None:
        for p in ("train", "aux", "test"):
            Xp, yp = given[p]
            if len(yp) > n_samples:
                keep, _ = train_test_split(np.arange(len(yp)), train_size=n_samples,
                                           stratify=yp, random_state=random_state)
                given[p] = (Xp.iloc[keep].reset_index(drop=True), yp[keep])
    X_train, y_train = given["train"]
    X_aux, y_aux = given["aux"]
    X_test, y_test = given["test"]
    if estimator is not None:
        victim = set_device(clone(estimator), device)
    else:
        victim = make_table_victim(model, X_train, device=device)
    victim = seed_unseeded(victim, random_state)
    min_size, max_size, k = _tabular_sizes(len(y_aux))
    finders = {}
    if features:
        finders["FeatureMatch"] = FeatureMatch(list(features), min_size=min_size,
                                               max_size=max_size)
    finders["ClusterMatch"] = ClusterMatch(
        n_clusters=k, min_size=min_size, max_size=max_size,
        representation=table_preprocessor(X_train), random_state=random_state)
    n_classes = len(np.unique(np.concatenate([y_train, y_aux]).astype(str)))
    return Bunch(data=(X_train, y_train, X_aux, y_aux, X_test, y_test),
                 estimator=victim, finders=finders,
                 label="flip" if n_classes == 2 else "least_frequent",
                 attacker_model=seed_unseeded(make_table_victim("lr", X_train),
                                              random_state),
                 notes=notes)


def _source_name(source, default):
    if isinstance(source, (str, Path)):
        return Path(source).name
    return default


def table_setting(data, target, *, test=None, aux=None, features=None, estimator=None,
                  estimator_name=None, name=None):
    """The setting of a user's table: any CSV / Parquet file or DataFrame.

    Read more in the :ref:`User Guide <audit>`.

    The tables are read and checked at once (before any fitting): the target
    exists, has two classes or more and no more than a few rows without a
    label (rows with a missing target are dropped, and said so in
    ``notes``), the ``features`` exist, and the test and attacker tables
    have the training table's columns (matched by name) holding the same
    kinds of values. Errors are :class:`SettingError` naming the parameter.

    Parameters
    ----------
    data : str, Path or DataFrame
        The training rows (a ``.csv``, ``.tsv``, ``.parquet`` file or a
        frame), with the target column. When ``test`` or ``aux`` is not
        given, ``data`` is split into equal stratified parts for them (the
        paper's split of Adult into ``D``, ``D_aux`` and test rows).
    target : str
        The column to predict; strings, numbers or categories.
    test : str, Path or DataFrame, default=None
        Held-out rows on which damage is measured.
    aux : str, Path or DataFrame, default=None
        The attacker's rows (``D_aux``): finders are fitted on them and
        poisons drawn from them.
    features : sequence of str, default=None
        The columns whose value combinations are FeatureMatch's groups (e.g.
        ``["race", "sex"]``); a missing value is a value of its own.
        ``None``: no FeatureMatch, only ClusterMatch.
    estimator : classifier, default=None
        The victim (unfitted; cloned). ``None``: one of the ``models`` built
        from the column types (:func:`~skpoison.audit.make_table_victim`).
    estimator_name : str, default=None
        The victim's name in reports (default: its class name).
    name : str, default=None
        The setting's title (default: the file's name).

    Returns
    -------
    setting : Setting
        Its ``build`` splits the rows and builds the victim, FeatureMatch on
        ``features`` and ClusterMatch on a default representation of the
        rows (numbers imputed and standardised, categories one-hot encoded,
        a missing value a category, see :func:`table_preprocessor`).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skpoison.audit import load_setting, table_setting
    >>> rng = np.random.RandomState(0)
    >>> frame = pd.DataFrame({"age": rng.randint(18, 80, 300),
    ...                       "job": rng.choice(["a", "b", None], 300),
    ...                       "paid": rng.choice(["yes", "no"], 300)})
    >>> setting = table_setting(frame, "paid", features=["job"])
    >>> setting.models
    ('lr', 'hgb', 'rf', 'mlp', 'torch-mlp')
    >>> X_train = load_setting(setting, "hgb").data[0]
    >>> X_train.shape
    (100, 2)
    """
    if not isinstance(target, str) or not target:
        raise SettingError("target", f"expected a column name; got {target!r}.")
    frame = read_table(data, "data")
    X, y, dropped = split_target(frame, target, "data")
    check_finite(X, "data")
    notes = [f"dropped {dropped} rows of --data with no target"] if dropped else []
    tables = {"train": (X, y), "aux": None, "test": None}
    for param, source in (("test", test), ("aux", aux)):
        if source is None:
            continue
        other = read_table(source, param)
        if target not in other.columns:
            raise SettingError(param, f"no target column {target!r}; its columns are "
                                      f"{list(other.columns)}.")
        X_other, y_other, n = split_target(other, target, param)
        check_finite(X_other, param)
        if n:
            notes.append(f"dropped {n} rows of --{param} with no target")
        if len(y_other) == 0:
            raise SettingError(param, "no row has a target value.")
        tables[param] = (check_same_columns(X_other, X, param), y_other)
    n_parts = 1 + sum(tables[p] is None for p in ("aux", "test"))
    check_classes(y, "data", n_parts)
    if X.shape[1] == 0:
        raise SettingError("data", f"the table has no column besides the target "
                                   f"{target!r}.")
    if features is not None:
        features = [features] if isinstance(features, str) else list(features)
        unknown = [c for c in features if c not in X.columns]
        if target in features:
            raise SettingError("features", f"{target!r} is the target; FeatureMatch "
                                           "groups rows by input columns.")
        if unknown or not features:
            raise SettingError("features", f"no column {unknown} in the data; its "
                                           f"columns are {list(X.columns)}."
                               if unknown else "expected one column or more.")
    if estimator is not None and not (hasattr(estimator, "fit")
                                      and hasattr(estimator, "predict")):
        raise SettingError("estimator", f"expected an unfitted classifier with fit and "
                                        f"predict; got {type(estimator).__name__}.")
    empty = [c for c in X.columns if X[c].isna().all()]
    if empty:  # no value to learn from, impute or group by
        if features is not None and set(features) & set(empty):
            raise SettingError("features", f"columns {sorted(set(features) & set(empty))}"
                                           " have no value in the data.")
        if len(empty) == X.shape[1]:
            raise SettingError("data", "every column besides the target is empty.")
        notes.append(f"dropped column(s) {empty}: no value in --data")
        tables["train"] = (X.drop(columns=empty), y)
        for p in ("test", "aux"):
            if tables[p] is not None:
                tables[p] = (tables[p][0].drop(columns=empty), tables[p][1])
        X = tables["train"][0]
    tables["notes"] = notes
    title = name or _source_name(data, "table")
    if estimator is not None:
        models = (estimator_name or type(estimator).__name__,)
    else:
        models = TABLE_MODELS
    build = partial(_build_table, tables, target, tuple(features or ()), estimator)
    return Setting(name="table", title=title, models=models, build=build, rows=None,
                   order="id", stands_in_for="(your data)",
                   text_columns=tuple(text_columns(X)))


# --------------------------------------------------------------------------
# building and running a setting


def _resolve(dataset):
    if isinstance(dataset, Setting):
        return dataset
    if dataset not in SETTINGS:
        raise ValueError(f"dataset must be one of {sorted(SETTINGS)} or a Setting; "
                         f"got {dataset!r}.")
    return SETTINGS[dataset]


def load_setting(dataset="adult", model=None, *, n_samples=None, data_home=None,
                 random_state=0, progress=False, device=None):
    """Data, victim and finders of a setting.

    Read more in the :ref:`User Guide <audit>`.

    Parameters
    ----------
    dataset : str or Setting
        A bundled setting by name (``"adult"``, ``"fashion-mnist"``,
        ``"rotten-tomatoes"``, ``"german"``, ``"compas"``; see the module
        docstring for what each stands in for), or a :class:`Setting` such
        as :func:`table_setting`'s.
    model : str, default=None
        The victim: ``"lr"``, ``"mlp"``, ``"torch-mlp"``, ``"hgb"``,
        ``"rf"`` (tabular), ``"ll"`` (linear head on frozen pretrained
        features), ``"ft"`` (fine-tuned pretrained network), ``"cnn"`` (the
        paper's small CNN, images). ``None`` takes the first of the
        setting's models.
    n_samples : int, "full" or None, default=None
        Rows in each of ``D``, ``D_aux`` and the test set. ``None`` takes the
        CPU-sized default of the setting (the paper's own split for Adult);
        ``"full"`` every row the loader has.
    data_home : str or Path, default=None
        Where embeddings are cached (``$SKPOISON_DATA`` or ``~/skpoison_data``).
    random_state : int, default=0
        Seeds the split, the finders and the victim.
    progress : bool, default=False
        Progress bars while embedding.
    device : str, default=None
        The torch device of the torch parts the setting builds (skorch
        victims, pretrained embedders): ``"cpu"``, ``"cuda"``,
        ``"cuda:1"``... ``None`` leaves their default (the CPU).

    Returns
    -------
    setting : Bunch
        ``data`` (the six arrays ``X_train, y_train, X_aux, y_aux, X_test,
        y_test``), ``estimator`` (the victim), ``finders`` (name -> unfitted
        finder), ``label`` (the label rule for LabelFlip), ``attacker_model``
        (a model the attacker trains on ``D_aux`` to rank subpopulations by
        confidence, or None), ``notes``, ``dataset``, ``model`` and
        ``record`` (the :class:`Setting`).

    Examples
    --------
    >>> from skpoison.audit import load_setting
    >>> setting = load_setting("german", "lr")
    >>> X_train = setting.data[0]
    >>> X_train.shape
    (333, 51)
    >>> sorted(setting.finders)
    ['ClusterMatch', 'FeatureMatch']
    """
    record = _resolve(dataset)
    model = record.models[0] if model is None else model
    if model not in record.models:
        raise SettingError("model", f"{model!r} is not available for "
                                    f"{record.title}; use one of {record.models}.")
    if n_samples is None:
        n_samples = record.default_rows(model)
    elif isinstance(n_samples, str) and n_samples == "full":
        n_samples = None
    elif (isinstance(n_samples, bool) or not isinstance(n_samples, Integral)
          or n_samples < 10):
        raise SettingError("n_samples", "expected an int >= 10, 'full' or None; "
                                        f"got {n_samples!r}.")
    # (the pretrained text model sets HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE
    # itself before transformers is imported, in whichever process loads it)
    bunch = record.build(model, n_samples=n_samples, data_home=data_home,
                         random_state=random_state, progress=progress, device=device)
    bunch.dataset, bunch.model, bunch.record = record.name, model, record
    return bunch


class ConfidenceOrder:
    """Subpopulation order for the audit: least attacker confidence first.

    Read more in the :ref:`User Guide <audit>`.

    The paper's image and text experiments attack clusters in increasing order
    of the confidence of a model the attacker trained on its auxiliary rows
    (the authors' code). Pass an instance as ``subpopulation_order`` of
    :class:`~skpoison.audit.SubpopulationAudit`; it is called with each fitted
    finder and the auxiliary rows, fits a clone of ``estimator`` on them once
    per content of the rows (not per object: equal rows share the fit, other
    rows in the same object do not) and ranks the finder's subpopulations with
    :func:`~skpoison.subpopulations.rank_subpopulations`.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The attacker's model (cloned; never fitted in place).

    Attributes
    ----------
    model_ : classifier
        The last fitted clone of ``estimator``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.audit import ConfidenceOrder
    >>> order = ConfidenceOrder(LogisticRegression())
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def __call__(self, name, finder, X_aux, y_aux):
        from joblib import hash as content_hash

        from ..subpopulations import rank_subpopulations

        key = content_hash((X_aux, y_aux))
        if getattr(self, "_fitted_for", None) != key:
            self.model_ = clone(self.estimator).fit(X_aux, y_aux)
            self._fitted_for = key
        return rank_subpopulations(finder, self.model_, X_aux, y_aux).index.tolist()


class by_confidence(ConfidenceOrder):  # noqa: N801 (the old public name)
    """Deprecated alias of :class:`ConfidenceOrder`; removed in skpoison 0.2.

    Read more in the :ref:`User Guide <audit>`.
    """

    def __init__(self, estimator):
        import warnings

        warnings.warn("by_confidence is deprecated and will be removed in "
                      "skpoison 0.2; use ConfidenceOrder.", FutureWarning,
                      stacklevel=2)
        super().__init__(estimator)


def on_accelerator(device):
    """Whether ``device`` names something other than the CPU."""
    return device is not None and str(device).split(":")[0] != "cpu"


def check_attack(attack, text_cols):
    """The optimised attacks move numbers: refuse them on text columns."""
    if attack not in ATTACKS:
        raise SettingError("attack", f"expected one of {ATTACKS}; got {attack!r}.")
    if attack != "labelflip" and text_cols:
        raise SettingError("attack", f"{attack} optimises poison rows by their "
                                     f"numbers, but columns {list(text_cols)} hold "
                                     "text or categories; use labelflip, which copies "
                                     "rows as they are.")


def check_finder_sizes(finders, n_aux, finder_params=None):
    """The finders' sizes, their defaults merged, against the attacker's rows.

    A ``SettingError`` naming ``n_clusters`` when ClusterMatch would make
    more clusters than there are attacker's rows (``n_aux``), or
    ``min_size`` / ``max_size`` (the one given in ``finder_params``, where
    only one is) when no group size satisfies ``min_size < n < max_size``:
    before any finder is fitted.
    """
    for name, finder in finders.items():
        params = finder.get_params(deep=False)
        given = set((finder_params or {}).get(name, {}))
        k = params.get("n_clusters")
        if isinstance(k, Integral) and k > n_aux:
            raise SettingError("n_clusters", f"{name} cannot make {k} clusters of the "
                                             f"attacker's {n_aux} rows (D_aux); use at "
                                             f"most {n_aux}.")
        low, high = params.get("min_size"), params.get("max_size")
        if low is None or high is None or low < high - 1:
            continue
        param = "max_size" if "max_size" in given and "min_size" not in given \
            else "min_size"
        other = "max_size" if param == "min_size" else "min_size"
        default = "" if other in given else " (the default)"
        raise SettingError(param, f"{name}: {param}={params[param]} and "
                                  f"{other}={params[other]}{default} leave no group "
                                  "size: sizes must satisfy min_size < n < max_size "
                                  f"(the attacker has {n_aux} rows).")


def setting_audit(dataset="adult", model=None, *, attack="labelflip",
                  filters=FINDERS, alphas=(0.5, 1, 2), seeds=(0,),
                  defenses=("none", "trim"), n_samples=None, max_subpopulations=None,
                  order=None, data_home=None, n_jobs=None, progress=True,
                  random_state=0, backend=None, store=None, resume=True,
                  finder_params=None, defense_params=None, device=None):
    """Run the subpopulation audit on a setting.

    Read more in the :ref:`User Guide <audit>`.

    Parameters
    ----------
    dataset, model, n_samples, data_home, device
        The setting, as in :func:`load_setting`: a bundled one by name, or a
        :class:`Setting` such as :func:`table_setting`'s.
    attack : {"labelflip", "gradient", "influence"}, default="labelflip"
        The poison generator (the optimised ones need numeric features).
    filters : sequence of {"FeatureMatch", "ClusterMatch"}
        Finders to run (a table gets FeatureMatch only with ``features``).
    alphas, seeds
        Poisoning rates and seeds.
    defenses : sequence of str, default=("none", "trim")
        Names understood by :func:`make_defense`; ``"dpa"`` (partition
        aggregation) also reports its certificate per group.
    max_subpopulations : int, default=None
        Attack only this many subpopulations per filter.
    order : {"confidence", "id"} or None, default=None
        ``"confidence"`` attacks the subpopulations the attacker's model is
        least confident on first (the paper's images and text); ``"id"`` in
        id order; ``None`` the setting's own order (``"id"`` for Adult and
        tables, ``"confidence"`` otherwise).
    n_jobs : int, default=None
        Parallel jobs; ``None``: joblib's default (one job, or what an
        enclosing :func:`joblib.parallel_config` sets) on the CPU, and one job
        when ``device`` is an accelerator (processes sharing one GPU compete
        for its memory; see the user guide).
    progress, backend, store, resume
        As in :class:`SubpopulationAudit`.
    random_state : int, default=0
        Seeds the split, finders and victim.
    finder_params : dict, default=None
        Parameters to set on the setting's finders, per finder name, e.g.
        ``{"ClusterMatch": {"n_clusters": 50}}``.
    defense_params : dict, default=None
        Parameters of the defenses, per defense name, e.g.
        ``{"dpa": {"n_partitions": 100}}``.

    Returns
    -------
    audit : SubpopulationAudit
        Run, with ``results_``, ``clean_accuracy_``, ``setting_name_``
        (``"<title> / <model>"``), ``notes_`` and ``device_``.
    """
    record = _resolve(dataset)
    unknown = [f for f in filters if f not in FINDERS]
    if unknown or not list(filters):
        raise SettingError("filters", f"unknown filters {unknown}; use FeatureMatch "
                                      "and/or ClusterMatch.")
    if order not in (None, "confidence", "id"):
        raise SettingError("order", f"expected 'confidence', 'id' or None; got "
                                    f"{order!r}.")
    check_attack(attack, record.model_text_columns(
        record.models[0] if model is None else model))
    bad = [d for d in defenses if d not in DEFENSES]
    if bad or not list(defenses):
        raise SettingError("defenses", f"unknown defenses {bad}; use some of "
                                       f"{DEFENSES}.")
    defense_params = dict(defense_params or {})
    unused = [d for d in defense_params if d not in defenses]
    if unused:
        raise SettingError("defense_params", f"parameters for {unused}, which are not "
                                             f"among the defenses {list(defenses)}.")
    templates = {name: set_device(make_defense(name, **defense_params.get(name, {})),
                                  device) for name in defenses}
    if store is not None:  # a usable store, before the data is loaded or embedded
        ResultStore(store).close()
    setting = load_setting(record, model, n_samples=n_samples, data_home=data_home,
                           random_state=random_state, progress=progress, device=device)
    missing = [f for f in filters if f not in setting.finders]
    if missing:
        raise SettingError("features", f"{missing[0]} needs the columns that define "
                                       "its groups (features=[...], --features on the "
                                       "command line).")
    finders = {name: setting.finders[name] for name in filters}
    for name, params in (finder_params or {}).items():
        if name in finders:
            finders[name].set_params(**params)
    check_finder_sizes(finders, len(setting.data[3]), finder_params)
    template = set_device(make_attack(attack), device)
    if "label" in template.get_params(deep=False):
        template.set_params(label=setting.label)
    order = order or record.order
    ranking = (ConfidenceOrder(setting.attacker_model)
               if order == "confidence" and setting.attacker_model is not None
               else None)
    audit = SubpopulationAudit(
        setting.estimator, finders=finders, attack=template, alphas=alphas,
        seeds=seeds,
        defenses=templates,
        n_jobs=1 if n_jobs is None and on_accelerator(device) else n_jobs,
        progress=progress, max_subpopulations=max_subpopulations,
        subpopulation_order=ranking, backend=backend, store=store, resume=resume,
        describe=setting.get("describe"))
    audit.run(*setting.data)
    audit.setting_name_ = f"{record.title} / {setting.model}"
    audit.notes_ = list(setting.notes)
    audit.device_ = device
    return audit


def adult_audit(*, model="lr", attack="labelflip", filters=FINDERS,
                alphas=(0.5, 1, 2), seeds=(0,), defenses=("none", "trim"),
                n_clusters=100, min_size=10, max_size=100, max_subpopulations=None,
                n_jobs=None, progress=True, random_state=0, backend=None, store=None,
                resume=True, device=None):
    """Run the paper's UCI Adult audit on the bundled data.

    Read more in the :ref:`User Guide <audit>`.

    FeatureMatch over (education x race x sex) and ClusterMatch (k-means with
    ``n_clusters`` on the raw features), both keeping subpopulations with
    ``min_size < n < max_size`` rows in the attacker's auxiliary split;
    label flipping at each alpha; the victim without and with TRIM (told the
    exact number of poisons, as in the paper).

    Parameters
    ----------
    model : {"lr", "mlp", "torch-mlp", "hgb", "rf"}, default="lr"
    attack : {"labelflip", "gradient", "influence"}, default="labelflip"
    filters : sequence of {"FeatureMatch", "ClusterMatch"}
    alphas : sequence of float, default=(0.5, 1, 2)
    seeds : sequence of int, default=(0,)
    defenses : sequence of str, default=("none", "trim")
        Names understood by :func:`~skpoison.audit.make_defense`.
    n_clusters : int, default=100
    min_size, max_size : int, default=10, 100
    max_subpopulations : int, default=None
        Attack only the first this many kept subpopulations of each filter (a
        quick look); ``None`` attacks all of them.
    n_jobs : int, default=None
        As in :func:`setting_audit` (one job on an accelerator ``device``).
    progress : bool, default=True
    random_state : int, default=0
        Seeds the data split and the clustering.
    backend, store, resume
        As in :class:`SubpopulationAudit`: the joblib backend (``"dask"`` for
        a Dask cluster), the SQLite result store that makes the audit
        resumable, and whether to reuse its rows.
    device : str, default=None
        The torch device of ``model="torch-mlp"`` (e.g. ``"cuda"``).

    Returns
    -------
    audit : SubpopulationAudit
        Run, with ``results_``.
    """
    sizes = {"min_size": min_size, "max_size": max_size}
    return setting_audit("adult", model, attack=attack, filters=filters,
                         alphas=alphas, seeds=seeds,
                         defenses=defenses, max_subpopulations=max_subpopulations,
                         order="id", n_jobs=n_jobs, progress=progress,
                         random_state=random_state, backend=backend, store=store,
                         resume=resume, device=device,
                         finder_params={"FeatureMatch": sizes,
                                        "ClusterMatch": {**sizes,
                                                         "n_clusters": n_clusters}})

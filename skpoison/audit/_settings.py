"""Settings: one record per data set the audit runs on, the user's table one more.

A *setting* is a data set split the paper's way (the victim's ``D``, the
attacker's disjoint ``D_aux`` of the same size, and test rows), the victim
models it offers, and the finders the attacker runs. Each is one
:class:`Setting` record: its name, title, models, CPU-sized row counts, the
subpopulation order it is attacked in, and the function that builds it.
:func:`load_setting` builds one; :func:`setting_audit` runs the audit on it.
Adding a data set means writing one record; :func:`table_setting` makes the
record of any table (a CSV or Parquet file, or a DataFrame).

TABLE

"ll" is the paper's last-layer setting: a linear head on frozen pretrained
features (EfficientNet-Lite0 for images, all-MiniLM-L6-v2 for texts, standing
in for VGG-16 and BERT), computed once and cached under the data home. "ft"
fine-tunes the whole pretrained network for every (poisoned) training set.

Annotations that are not model inputs (the derived garment group x ink bucket
of Fashion-MNIST, German credit's sex / age bucket, COMPAS's race / sex / age
category, a review's length bucket) travel as extra DataFrame columns named
by :func:`skpoison.datasets.annotation_column`: FeatureMatch selects on them,
and the victim and ClusterMatch drop them (:func:`drop_annotations`). A
user's table needs none of this: its own columns (strings, categories,
missing values) are the groups, and a column of its own whose name starts
with ``"annotation:"`` is refused.

Every torch part of a setting (skorch victims, the pretrained embedders, the
torch defenses) is put on one device by :func:`load_setting`
(:func:`skpoison.utils._torch.set_device`); the builders take none.
"""

import warnings
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
    annotation_column,
    get_data_home,
    load_adult,
    load_compas,
    load_fashion_mnist,
    load_german_credit,
    load_rotten_tomatoes,
    with_annotations,
)
from ..subpopulations import ClusterMatch, ConfidenceOrder, FeatureMatch
from ..utils._annotations import encode
from ..utils._seeding import seed_unseeded
from ..utils._torch import resolve_device, set_device
from ._audit import SubpopulationAudit
from ._bounds import susceptibility_order
from ._data import SettingError, check_classes, is_numeric, read_tables, split_rows
from ._describe import CodedNames
from ._parts import drop_annotations, make_table_victim, make_victim, table_preprocessor
from ._registry import FINDERS, TABLE_MODELS, Spec, by_name, doc_table, make_parts


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
        place)`` returns a Bunch with ``data`` (the six arrays ``X_train,
        y_train, X_aux, y_aux, X_test, y_test``), ``estimator`` (the
        victim), ``finders`` (name -> unfitted finder), ``attacker_model`` (a
        model the attacker trains on ``D_aux`` to rank subpopulations by
        confidence, or None), optionally ``label`` (the label rule of
        LabelFlip; default ``"flip"`` for two classes in ``y_train`` and
        ``y_aux``, else ``"least_frequent"``), ``notes`` (lines for the user,
        e.g. rows dropped) and ``describe``. ``place(part)``
        puts a torch part the builder runs itself (an embedder computing
        features once) on the setting's device.
    rows : int, dict or None, default=None
        CPU-sized rows per split (``D``, ``D_aux`` and test each), per model
        when a dict; ``None`` takes every row.
    order : {"id", "confidence"}, default="confidence"
        The order subpopulations are attacked in unless told otherwise.
    stands_in_for : str, default=""
        What the paper ran instead.
    columns : tuple of str, default=()
        A table's input columns, those holding text or categories first.
    """

    name: str
    title: str
    models: tuple
    build: Callable = field(repr=False)
    rows: object = None
    order: str = "confidence"
    stands_in_for: str = ""
    columns: tuple = ()

    def default_rows(self, model):
        """CPU-sized rows per split of ``model`` (``None``: all rows)."""
        return self.rows.get(model) if isinstance(self.rows, dict) else self.rows


def _embedder(kind, data_home, progress, **params):
    """A pretrained embedder of :mod:`skpoison.features` (``kind``), its
    features cached under the data home."""
    from joblib import Memory

    from .. import features

    location = Path(get_data_home(data_home)) / "embeddings"
    return getattr(features, kind)(memory=Memory(location=str(location), verbose=0),
                                   progress=progress, **params)


def _victim(model, X, random_state):
    """The tabular victims, seeded, on features with annotation columns."""
    if model in ("hgb", "rf"):
        return seed_unseeded(make_table_victim(model, X), random_state)
    victim = seed_unseeded(make_victim(model), random_state)
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


def _tabular_sizes(n_aux, n_clusters=None):
    """The paper's Adult filter (10 < n < 100 of 7,841 aux rows), scaled:
    ``(min_size, max_size, n_clusters)``.

    ``n_clusters`` given (a user's table): the cap also lets clusters up to
    three times the mean size pass, so that a small table keeps its clusters.
    """
    min_size = max(3, n_aux // 800)
    k = max(2, min(100 if n_aux > 2000 else 25, n_aux // 10))
    mean = 0 if n_clusters is None else 3 * n_aux // n_clusters
    return min_size, max(min_size + 2, n_aux // 10, mean), k


def _finders_of(columns, random_state, sizes=(), **cluster):
    """FeatureMatch on the columns ``columns`` and ClusterMatch (``cluster``),
    both with the size filter ``sizes``."""
    sizes = dict(sizes)
    return {"FeatureMatch": FeatureMatch(list(columns), **sizes),
            "ClusterMatch": ClusterMatch(**cluster, **sizes, random_state=random_state)}


def _train_aux_test(frames, y, parts):
    """``(X_train, y_train, X_aux, y_aux, X_test, y_test)`` from the frames of
    the three parts and their rows ``parts`` of ``y``."""
    (X_train, X_aux, X_test), (train, aux, test) = frames, parts
    return X_train, y[train], X_aux, y[aux], X_test, y[test]


# --------------------------------------------------------------------------
# the bundled data sets, one build function each


def _build_adult(model, *, random_state, **_):
    data = load_adult(form="paper", random_state=random_state)
    return Bunch(data=(data.X_train, data.y_train, data.X_aux, data.y_aux,
                       data.X_test, data.y_test),
                 estimator=_victim(model, data.X_train, random_state),
                 attacker_model=_victim("lr", data.X_train, random_state),
                 finders=_finders_of(data.annotation_columns, random_state,
                                     {"min_size": 10, "max_size": 100}, n_clusters=100))


def _build_german_compas(loader, model, *, n_samples, random_state, **_):
    bunch = loader()
    y = np.asarray(bunch.target)
    parts = split_rows(y, ("train", "aux", "test"), n_samples, random_state).values()
    codes, describe = _coded(bunch.annotations, bunch.annotation_columns)
    frame = with_annotations(bunch.data, codes, bunch.annotation_columns,
                             bunch.feature_names)
    frames = [frame.iloc[rows].reset_index(drop=True) for rows in parts]
    min_size, max_size, k = _tabular_sizes(len(frames[1]))
    return Bunch(data=_train_aux_test(frames, y, parts), describe=describe,
                 estimator=_victim(model, frame, random_state),
                 attacker_model=_victim("lr", frame, random_state),
                 finders=_finders_of(
                     [annotation_column(c) for c in bunch.annotation_columns],
                     random_state, {"min_size": min_size, "max_size": max_size},
                     n_clusters=k, representation=make_pipeline(drop_annotations(),
                                                                StandardScaler())))


def _pixel_victim(model, random_state, data_home, progress):
    """``(victim, ClusterMatch representation)`` of Fashion-MNIST: a linear
    head on the frozen features (``ll``) or a model of the pixels."""
    scale = FunctionTransformer(np.divide, kw_args={"x2": 255.0})
    if model in ("ll", "lr"):  # (ll: the frozen embedding is the penultimate layer)
        steps = ([LogisticRegression(max_iter=1000)] if model == "ll"
                 else [scale, LogisticRegression(max_iter=300)])
        return make_pipeline(drop_annotations(), *steps), drop_annotations()
    from ..nets import make_cnn_classifier, make_image_finetune_classifier

    if model == "cnn":
        steps = [FunctionTransformer(np.subtract, kw_args={"x2": 127.5}), scale,
                 make_cnn_classifier(image_shape=(1, 28, 28), max_epochs=6,
                                     random_state=random_state)]
    else:
        steps = [make_image_finetune_classifier(
            image_size=32, image_shape=(1, 28, 28), scale=1 / 255, max_epochs=3,
            random_state=random_state)]
    # the paper clusters the representation of a model trained on D_aux: here
    # the frozen ImageNet features (the FT model's representation before
    # fine-tuning)
    return make_pipeline(drop_annotations(), *steps), make_pipeline(
        drop_annotations(),
        _embedder("ImageEmbedder", data_home, progress, image_size=64,
                  image_shape=(28, 28)))


def _build_fashion_mnist(model, *, n_samples, data_home, random_state, progress,
                         place):
    train = load_fashion_mnist(subset="train", data_home=data_home)
    test = load_fashion_mnist(subset="test", data_home=data_home)
    rng = np.random.RandomState(random_state)
    n, n_train = n_samples or 30000, len(train.target)
    idx_train, idx_aux = train_test_split(
        np.arange(n_train), train_size=n, test_size=n,
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
    sources = [(train, idx_train), (train, idx_aux), (test, idx_test)]
    if model == "ll":
        # frozen ImageNet features, computed once per row and cached on disk
        embedder = place(_embedder("ImageEmbedder", data_home, progress,
                                   image_size=64))
        inputs = [embedder.fit_transform(b.images[i]) for b, i in sources]
    else:
        inputs = [b.data[i] for b, i in sources]
    parts = [idx_train, idx_aux, n_train + idx_test]  # rows of train and test
    estimator, representation = _pixel_victim(model, random_state, data_home,
                                              progress)
    frames = [with_annotations(x, codes.iloc[rows], columns)
              for x, rows in zip(inputs, parts)]
    y = np.concatenate([train.target, test.target])
    return Bunch(data=_train_aux_test(frames, y, parts), estimator=estimator,
                 describe=describe,
                 attacker_model=make_pipeline(drop_annotations(),
                                              LogisticRegression(max_iter=300)),
                 finders=_finders_of([annotation_column(c) for c in columns],
                                     random_state, n_clusters=100, n_components=100,
                                     n_components_kmeans=40,
                                     representation=representation))


def _text_column(X):
    """The ``text`` column of a DataFrame as a 1-D array of strings."""
    return np.asarray(X["text"], dtype=object)


def _build_rotten_tomatoes(model, *, n_samples, data_home, random_state, progress,
                           place):
    bunch = load_rotten_tomatoes()
    y = np.asarray(bunch.target)
    parts = split_rows(y, ("train", "aux", "test"), n_samples, random_state).values()
    column = "length_bucket"
    codes, describe = _coded(bunch.annotations, [column])  # of the whole data set
    embedder = _embedder("TextEmbedder", data_home, progress)
    if model == "ll":
        place(embedder)
        frames = [with_annotations(embedder.fit_transform(list(bunch.data[i])),
                                   codes.iloc[i], [column]) for i in parts]
        estimator = make_pipeline(drop_annotations(), LogisticRegression(max_iter=1000))
        representation, attacker_model = drop_annotations(), clone(estimator)
    else:
        from ..nets import make_text_finetune_classifier

        frames = [pd.DataFrame({"text": np.asarray(bunch.data[i], dtype=object),
                                annotation_column(column): codes[column].to_numpy()[i]})
                  for i in parts]
        # the paper fine-tunes BERT with lr 1e-5 for 4 epochs on 12,500
        # reviews; on a few hundred snippets that barely moves the model, so
        # the CPU-sized setting takes a larger step
        net = make_text_finetune_classifier(max_length=48, max_epochs=3, lr=5e-5,
                                            random_state=random_state)
        estimator = make_pipeline(FunctionTransformer(_text_column), net)
        representation = make_pipeline(FunctionTransformer(_text_column), embedder)
        attacker_model = make_pipeline(clone(representation),
                                       LogisticRegression(max_iter=1000))
    return Bunch(data=_train_aux_test(frames, y, parts), estimator=estimator,
                 describe=describe, attacker_model=attacker_model,
                 finders=_finders_of([annotation_column(column)], random_state,
                                     n_clusters=100, n_components=10,
                                     representation=representation))


SETTINGS = {s.name: s for s in (
    Setting("adult", "UCI Adult", ("lr", "mlp", "torch-mlp", "hgb", "rf"),
            _build_adult, rows=None, order="id",
            stands_in_for="UCI Adult (the real data)"),
    Setting("fashion-mnist", "Fashion-MNIST", ("ll", "ft", "cnn", "lr"),
            _build_fashion_mnist,
            rows={"ll": 2000, "ft": 400, "cnn": 1500, "lr": 1500},
            stands_in_for="CIFAR-10 / UTKFace images"),
    Setting("rotten-tomatoes", "Rotten Tomatoes", ("ll", "ft"), _build_rotten_tomatoes,
            rows={"ll": 1500, "ft": 300}, stands_in_for="IMDB reviews"),
    Setting("german", "German credit", ("lr", "mlp", "hgb", "rf"),
            partial(_build_german_compas, load_german_credit)),
    Setting("compas", "COMPAS", ("lr", "mlp", "hgb", "rf"),
            partial(_build_german_compas, load_compas)),
)}
"""The bundled settings, by name."""


# --------------------------------------------------------------------------
# a user's table


def _build_table(tables, notes, features, estimator, model, *, n_samples, random_state,
                 **_):
    notes = list(notes)
    X, y = tables["train"]
    missing = [p for p in ("aux", "test") if tables[p] is None]
    rows = split_rows(y, ("train", *missing), n_samples, random_state)
    if missing:
        names = {"train": "D (training)", "aux": "D_aux (attacker's)", "test": "test"}
        notes.append("split the --data rows into "
                     + ", ".join(f"{names[p]} {len(rows[p])}" for p in rows)
                     + ", stratified by the target")
    parts = {}
    for p in ("train", "aux", "test"):  # a table given apart: capped unless split
        Xp, yp = tables[p] or (X, y)
        i = rows[p] if p in rows else split_rows(
            yp, (p,), None if missing else n_samples, random_state)[p]
        parts[p] = (Xp.iloc[i].reset_index(drop=True), yp[i])
    (X_train, y_train), (_, y_aux), _ = parts.values()
    if estimator is not None:
        victim = _checked_victim(clone(estimator), X_train, y_train)
    else:
        victim = make_table_victim(model, X_train)
    min_size, _, k = _tabular_sizes(len(y_aux))
    finders = {}
    if features:  # the user's own groups: no cap but the whole table
        finders["FeatureMatch"] = FeatureMatch(list(features), min_size=min_size,
                                               max_size=len(y_aux))
    finders["ClusterMatch"] = ClusterMatch(
        n_clusters=k, min_size=min_size, max_size=_tabular_sizes(len(y_aux), k)[1],
        representation=table_preprocessor(X_train), random_state=random_state)
    return Bunch(data=tuple(v for part in parts.values() for v in part),
                 estimator=seed_unseeded(victim, random_state), finders=finders,
                 attacker_model=seed_unseeded(make_table_victim("lr", X_train),
                                              random_state), notes=notes)


def _checked_victim(victim, X, y):
    """A user's victim, fitted once on a few training rows (500, and one of
    each class) to refuse what cannot run before any audit work: a model
    that cannot take these columns, or one that is not a classifier."""
    first = np.unique(np.asarray(y).astype(str), return_index=True)[1]
    rows = np.union1d(np.random.RandomState(0).permutation(len(y))[:500], first)
    try:
        fitted = clone(victim).fit(X.iloc[rows], y[rows])
    except Exception as exc:  # noqa: BLE001 - whatever the user's model raises
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise SettingError("estimator", f"{type(victim).__name__} cannot be fitted "
                                        f"on the training rows: {type(exc).__name__}: "
                                        f"{first_line}") from None
    if not hasattr(fitted, "classes_") or not hasattr(fitted, "predict"):
        raise SettingError("estimator", f"{type(victim).__name__} is not a classifier "
                                        "(it has no classes_ once fitted); the audit "
                                        "measures a classifier's accuracy.")
    return victim


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
    tables, notes = read_tables(data, target, test, aux)
    X, y = tables["train"]
    check_classes(y, "data", 1 + sum(tables[p] is None for p in ("aux", "test")))
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
    # empty columns: no value to learn from, impute or group by
    empty = X.columns[X.isna().all()].tolist()
    if set(features or ()) & set(empty):
        raise SettingError("features", f"columns {sorted(set(features) & set(empty))}"
                                       " have no value in the data.")
    if len(empty) == X.shape[1]:
        raise SettingError("data", "every column besides the target is empty.")
    if empty:
        notes.append(f"dropped column(s) {empty}: no value in --data")
    tables = {p: t and (t[0].drop(columns=empty), t[1]) for p, t in tables.items()}
    X = tables["train"][0]
    return Setting(
        name="table", title=name or (Path(data).name if isinstance(data, (str, Path))
                                     else "table"),
        models=TABLE_MODELS if estimator is None else (
            estimator_name or type(estimator).__name__,),
        build=partial(_build_table, tables, notes, tuple(features or ()), estimator),
        rows=None, order="id", stands_in_for="(your data)",
        columns=tuple(sorted(X.columns, key=lambda c: is_numeric(X[c]))))  # text first


# --------------------------------------------------------------------------
# building and running a setting


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
        The torch device of every torch part of the setting (skorch victims,
        the pretrained embedders of its finders and features, the attacker's
        model): ``"cpu"``, ``"cuda"``, ``"cuda:1"``... ``None`` leaves their
        default (the CPU).

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
    record = dataset if isinstance(dataset, Setting) else SETTINGS.get(dataset)
    if record is None:
        raise ValueError(f"dataset must be one of {sorted(SETTINGS)} or a Setting; "
                         f"got {dataset!r}.")
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
    if (isinstance(random_state, bool) or not isinstance(random_state, Integral)
            or not 0 <= random_state < 2**32):
        raise SettingError("random_state", "expected an int in [0, 2**32 - 1]; got "
                                           f"{random_state!r}.")
    if device is not None:
        try:
            resolve_device(device)
        except ValueError as exc:
            raise SettingError("device", str(exc).removeprefix(f"device={device!r}")
                               .lstrip(": ")) from None
    place = partial(set_device, device=device)
    # (the pretrained text model sets HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE
    # itself before transformers is imported, in whichever process loads it)
    bunch = record.build(model, n_samples=n_samples, data_home=data_home,
                         random_state=random_state, progress=progress, place=place)
    for part in (bunch.estimator, bunch.attacker_model, *bunch.finders.values()):
        place(part)  # the one device rule: every torch part of the setting
    classes = np.unique(np.concatenate([bunch.data[1], bunch.data[3]]).astype(str))
    bunch.setdefault("label", "flip" if len(classes) == 2 else "least_frequent")
    bunch.setdefault("notes", [])
    bunch.dataset, bunch.model, bunch.record = record.name, model, record
    return bunch


def on_accelerator(device):
    """Whether ``device`` names something other than the CPU."""
    return device is not None and str(device).split(":")[0] != "cpu"


def _finders(setting, wanted):
    """name -> finder: the setting's own (``wanted`` gives their parameters),
    or finders given as they are."""
    out = {}
    for name, params in wanted.items():
        if not isinstance(params, dict):
            out[name] = params  # a finder object: the audit checks it
        elif name not in FINDERS:
            raise SettingError("finders", f"unknown finder {name!r}; use some of "
                                          f"{list(FINDERS)}.")
        elif name not in setting.finders:
            raise SettingError("features", f"{name} needs the columns that define "
                                           "its groups (table_setting(features=...)).")
        else:
            out[name] = setting.finders[name].set_params(**params)
    if not out:
        raise SettingError("finders", "expected one finder or more.")
    return out


def _check_sizes(finders, X_aux, notes, given=(), count_all=False):
    """The finders' sizes against the attacker's rows, before any work.

    ClusterMatch cannot make more clusters than there are rows; a
    FeatureMatch whose size filter keeps no group is dropped with a note
    when another finder runs, and refused (naming the bound) when alone.
    ``given``: the size parameters the caller set (the others are defaults);
    ``count_all``: ClusterMatch's clusters are counted too (a fit on the
    attacker's rows, cheap on a table), else only FeatureMatch's groups.
    """
    n_aux = len(X_aux)
    for name, finder in list(finders.items()):
        params = finder.get_params(deep=False)
        k = params.get("n_clusters")
        if isinstance(k, Integral) and k > n_aux:
            raise SettingError("n_clusters", f"{name} cannot make {k} clusters of the "
                                             f"attacker's {n_aux} rows (D_aux); use at "
                                             f"most {n_aux}.")
        low, high = params.get("min_size"), params.get("max_size")
        if low is not None and high is not None and low >= high - 1:
            param, other = (("max_size", "min_size") if "max_size" in given
                            and "min_size" not in given else ("min_size", "max_size"))
            raise SettingError(param, f"{name}: {param}={params[param]} and {other}="
                                      f"{params[other]}"
                                      f"{'' if other in given else ' (the default)'} "
                                      "leave no group size: sizes must satisfy "
                                      f"min_size < n < max_size (the attacker has "
                                      f"{n_aux} rows).")
        if "columns" not in params and not count_all:
            continue
        low, high = low or 0, high or n_aux + 1
        # the attacker's rows of each group before the size filter
        sizes = clone(finder).set_params(min_size=None, max_size=None).fit(X_aux).sizes_
        if ((sizes > low) & (sizes < high)).any():
            continue
        found = ", ".join(str(v) for v in sorted(sizes.tolist())[:12])
        problem = (f"no group of {name} has a size n with {low} < n < {high} among "
                   f"the attacker's {n_aux} rows; the sizes found are "
                   f"{found}{', ...' if len(sizes) > 12 else ''}.")
        if len(finders) == 1:
            raise SettingError("max_size" if (sizes >= high).all() else "min_size",
                               problem)
        notes.append(problem + f" {name} is not run.")
        del finders[name]


def _legacy(params):
    """``filters``, ``finder_params``, ``defense_params`` and ``order`` (the
    parameters of skpoison 0.1) as ``finders``, ``defenses`` and
    ``subpopulation_order``, with a FutureWarning."""
    old = [k for k in ("filters", "finder_params", "defense_params", "order")
           if k in params]
    if not old:
        return params
    warnings.warn(f"setting_audit({'=..., '.join(old)}=...) is deprecated and will be "
                  "removed in skpoison 0.2; use finders={name: params}, "
                  "defenses={name: params} and subpopulation_order.", FutureWarning,
                  stacklevel=3)
    params = dict(params)
    given = params.pop("finder_params", None) or {}
    names = params.pop("filters", None) or list(FINDERS)
    params["finders"] = {n: dict(given.get(n, {})) for n in names}
    given = params.pop("defense_params", None) or {}
    params["defenses"] = {n: dict(given.get(n, {}))
                          for n in params.get("defenses", ("none", "trim"))}
    if "order" in params:
        params["subpopulation_order"] = params.pop("order")
    return params


def prepare_audit(setting="adult", model=None, *, n_samples=None, data_home=None,
                  random_state=0, device=None, **audit_params):
    """The audit of :func:`setting_audit`, checked and not run, and its data.

    Read more in the :ref:`User Guide <audit>`.

    Every check that needs the data is done here, before anything is fitted
    or written: returns ``(audit, data)``, ``data`` the six arrays of
    ``audit.run``.
    """
    params = _legacy(audit_params)
    bunch = load_setting(setting, model, n_samples=n_samples, data_home=data_home,
                         random_state=random_state,
                         progress=params.get("progress", True), device=device)
    record = bunch.record
    notes = [*bunch.notes, *(params.pop("notes", None) or [])]
    wanted = params.pop("finders", None)
    wanted = by_name(list(bunch.finders) if wanted is None else wanted)
    given = {k for p in wanted.values() if isinstance(p, dict) for k in p}
    finders = _finders(bunch, wanted)
    clusters = finders.get("ClusterMatch")
    if record.name == "table" and {"n_clusters"} <= given - {"max_size"} and clusters:
        clusters.set_params(max_size=_tabular_sizes(len(bunch.data[2]),
                                                    clusters.n_clusters)[1])
    _check_sizes(finders, bunch.data[2], notes, given, count_all=record.name == "table")
    seeds = params.get("seeds", (0,))
    if any(isinstance(s, Integral) and not 0 <= s < 2**32 for s in seeds):
        raise SettingError("seeds", f"expected ints in [0, 2**32 - 1]; got {seeds}.")
    attack, defenses = make_parts(params.pop("attack", None),
                                  params.pop("defenses", ("none", "trim")),
                                  bunch.label, bunch.estimator, bunch.data[0])
    for part in (attack, *defenses.values()):
        set_device(part, device)
    order = params.pop("subpopulation_order", None) or record.order
    if order == "susceptibility":
        order = susceptibility_order(bunch.estimator, bunch.data[1], random_state)
    if order not in ("confidence", "id") and not (callable(order)
                                                  or isinstance(order, dict)):
        raise SettingError("subpopulation_order", "expected 'confidence', 'id', "
                                                  "'susceptibility', a dict or a "
                                                  f"callable; got {order!r}.")
    if order == "confidence" and bunch.attacker_model is not None:
        order = ConfidenceOrder(bunch.attacker_model)
    if params.get("n_jobs") is None and on_accelerator(device):
        params["n_jobs"] = 1  # processes sharing one accelerator compete for it
    params.setdefault("title", f"{record.title} / {bunch.model}")
    audit = SubpopulationAudit(
        bunch.estimator, finders=finders, attack=attack, defenses=defenses,
        subpopulation_order=None if order == "id" or order == "confidence" else order,
        describe=bunch.get("describe"), notes=notes, **params)
    return audit, bunch.data



def setting_audit(setting="adult", model=None, *, n_samples=None, data_home=None,
                  random_state=0, device=None, **audit_params):
    """Run the subpopulation audit on a setting.

    Read more in the :ref:`User Guide <audit>`.

    Loads the setting (:func:`load_setting`), builds its
    :class:`SubpopulationAudit`, checks everything against the data before
    anything is fitted (errors are :class:`SettingError` naming the
    parameter) and runs it.

    Parameters
    ----------
    setting : str or Setting, default="adult"
        A bundled setting by name, or a :class:`Setting` such as
        :func:`table_setting`'s.
    model, n_samples, data_home, random_state, device
        As in :func:`load_setting`. ``device`` also reaches the torch
        defenses, and an accelerator makes ``n_jobs`` default to 1
        (processes sharing one GPU compete for its memory).
    **audit_params
        Parameters of :class:`SubpopulationAudit` (``alphas``, ``seeds``,
        ``n_jobs``, ``store``, ``title``...), where names may stand for
        parts: ``finders`` a list of the setting's finders (default: all it
        has) or a dict of their parameters (``{"ClusterMatch":
        {"n_clusters": 50}}``); ``attack`` a name of ``ATTACKS`` (default
        ``"labelflip"`` with the setting's label rule); ``defenses`` names
        of ``DEFENSES`` or a dict of their parameters (default
        ``("none", "trim")``); ``subpopulation_order`` ``"confidence"``
        (:class:`~skpoison.subpopulations.ConfidenceOrder` on the setting's
        attacker model), ``"susceptibility"``
        (:class:`~skpoison.subpopulations.SusceptibilityOrder` on the victim)
        or ``"id"`` (default: the setting's own order).

    Returns
    -------
    audit : SubpopulationAudit
        Run, with ``results_``.

    Examples
    --------
    >>> from skpoison.audit import setting_audit
    >>> audit = setting_audit("german", "lr", finders=["FeatureMatch"], alphas=[1],
    ...                       defenses=["none"], max_subpopulations=2, n_jobs=1,
    ...                       progress=False)
    >>> audit.results_["subpopulation"].nunique()
    2
    """
    audit, data = prepare_audit(setting, model, n_samples=n_samples,
                                data_home=data_home, random_state=random_state,
                                device=device, **audit_params)
    audit.run(*data)
    return audit


def audit_table(data, target, *, features=None, model=None, test=None, aux=None,
                **audit_params):
    """Audit a table as ``skpoison audit --data FILE --target COLUMN`` does.

    Read more in the :ref:`User Guide <audit>`.

    Splits ``data`` into the victim's training rows, the attacker's rows and
    test rows (equal stratified parts, unless ``test`` / ``aux`` are given),
    attacks the value combinations of ``features`` (FeatureMatch) and
    k-means clusters of the attacker's rows (ClusterMatch), and returns the
    finished audit; its ``report(path)`` writes the command line's page.

    Parameters
    ----------
    data : str, Path or DataFrame
        The rows, with the target column (``.csv``, ``.tsv``, ``.parquet``).
    target : str
        The column to predict.
    features : list of str, default=None
        The columns whose value combinations are the groups (FeatureMatch);
        ``None``: ClusterMatch only.
    model : str or classifier, default=None
        A name of ``VICTIMS`` for tables (``"lr"``, the default, ``"hgb"``,
        ``"rf"``, ``"mlp"``, ``"torch-mlp"``), or an unfitted classifier
        (cloned; it receives the table's columns as they are).
    test, aux : str, Path or DataFrame, default=None
        Held-out test rows and the attacker's rows, with the same columns.
    **audit_params
        As in :func:`setting_audit`: ``alphas``, ``seeds``, ``defenses``,
        ``attack``, ``n_jobs``, ``store``, ``random_state``, ``device``...

    Returns
    -------
    audit : SubpopulationAudit
        Run, with ``results_``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skpoison.audit import audit_table
    >>> rng = np.random.RandomState(0)
    >>> frame = pd.DataFrame({"age": rng.randint(18, 80, 600),
    ...                       "job": rng.choice(["a", "b", "c"], 600)})
    >>> frame["paid"] = np.where(frame["age"] > 40, "yes", "no")
    >>> audit = audit_table(frame, "paid", features=["job"], alphas=[1],
    ...                     defenses=["none"], n_jobs=1, progress=False)
    >>> sorted(audit.results_["filter"].unique())
    ['ClusterMatch', 'FeatureMatch']
    """
    estimator = None if model is None or isinstance(model, str) else model
    table = table_setting(data, target, test=test, aux=aux, features=features,
                          estimator=estimator)
    return setting_audit(table, None if estimator is not None else model,
                         **audit_params)


def adult_audit(*, model="lr", n_clusters=100, min_size=10, max_size=100,
                **audit_params):
    """Deprecated: ``setting_audit("adult", model, ...)``; removed in skpoison 0.2.

    Read more in the :ref:`User Guide <audit>`.

    Parameters
    ----------
    model : str, default="lr"
    n_clusters, min_size, max_size : int, default=100, 10, 100
        ClusterMatch's clusters and both finders' size filter.
    **audit_params
        As in :func:`setting_audit` (the old ``filters`` too).

    Returns
    -------
    audit : SubpopulationAudit
    """
    warnings.warn("adult_audit is deprecated and will be removed in skpoison 0.2; use "
                  "setting_audit('adult', model, ...).", FutureWarning, stacklevel=2)
    sizes = {"min_size": min_size, "max_size": max_size}
    names = audit_params.pop("filters", None) or list(FINDERS)
    finders = {"FeatureMatch": sizes, "ClusterMatch": {**sizes, "n_clusters": n_clusters}}
    audit_params.setdefault("subpopulation_order", "id")
    return setting_audit("adult", model, finders={n: finders[n] for n in names},
                         **audit_params)


__doc__ = __doc__.replace("TABLE", doc_table(
    {name: Spec(None, record.stands_in_for or record.title, ", ".join(record.models))
     for name, record in SETTINGS.items()}, ("setting", "stands in for", "models")))

"""The paper's four settings on the real data that loads offline.

A *setting* is a data set split the paper's way (the victim's ``D``, the
attacker's disjoint ``D_aux`` of the same size, and test rows), a victim model,
and the finders the attacker runs. :func:`load_setting` builds one;
:func:`skpoison.audit.setting_audit` runs the audit on it.

====================  =====================================  =====================
setting               stands in for (paper)                  models
====================  =====================================  =====================
``adult``             UCI Adult (the real data)              lr, mlp, torch-mlp
``fashion-mnist``     CIFAR-10 / UTKFace images              ll, ft, cnn, lr
``rotten-tomatoes``   IMDB reviews                           ll, ft
``german``            (extra tabular)                        lr, mlp
``compas``            (extra tabular)                        lr, mlp
====================  =====================================  =====================

"ll" is the paper's last-layer setting: a linear head on frozen pretrained
features (EfficientNet-Lite0 for images, all-MiniLM-L6-v2 for texts, standing
in for VGG-16 and BERT), computed once and cached under the data home. "ft"
fine-tunes the whole pretrained network for every (poisoned) training set.

Annotations that are not model inputs (the derived garment group x ink bucket
of Fashion-MNIST, German credit's sex / age bucket, COMPAS's race / sex / age
category, a review's length bucket) travel as extra DataFrame columns named
``annotation:<name>`` (categories as the codes of their sorted values, since
attacks take numeric rows): FeatureMatch selects on them, and the victim and
ClusterMatch drop them (:func:`drop_annotations`), so poisons carry their
subpopulation's annotation like any other row.
"""

import os
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

ANNOTATION_PREFIX = "annotation:"

SETTINGS = {
    "adult": ("lr", "mlp", "torch-mlp"),
    "fashion-mnist": ("ll", "ft", "cnn", "lr"),
    "rotten-tomatoes": ("ll", "ft"),
    "german": ("lr", "mlp"),
    "compas": ("lr", "mlp"),
}

# CPU-sized defaults: rows per split (D, D_aux and test each), so that an
# audit of a setting finishes in minutes on 2 cores. ``n_samples="full"``
# takes every row the loader has.
DEFAULT_ROWS = {
    "adult": None,  # the paper's own split: 7,841 / 7,841 / 7,692
    "fashion-mnist": {"ll": 2000, "ft": 400, "cnn": 1500, "lr": 1500},
    "rotten-tomatoes": {"ll": 1500, "ft": 300},
    "german": None,
    "compas": None,
}


def _drop_annotation_columns(X):
    if isinstance(X, pd.DataFrame):
        keep = [c for c in X.columns if not str(c).startswith(ANNOTATION_PREFIX)]
        return X[keep]
    return X


def _text_column(X):
    """The ``text`` column of a DataFrame as a 1-D array of strings."""
    return np.asarray(X["text"], dtype=object)


def drop_annotations():
    """A transformer that drops the ``annotation:*`` columns of a DataFrame.

    Put it first in a victim or a ClusterMatch ``representation``, so that the
    subpopulation annotations FeatureMatch selects on are never model inputs.

    Returns
    -------
    transformer : FunctionTransformer
    """
    return FunctionTransformer(_drop_annotation_columns, feature_names_out=None)


def _encode(annotations, columns):
    """Annotation columns as floats: a category becomes its sorted code.

    Attacks take numeric rows. Encode the whole data set before splitting, so
    that a code means the same category in every split.
    """
    out = pd.DataFrame(index=annotations.index)
    for c in columns:
        values = np.asarray(annotations[c])
        if not np.issubdtype(values.dtype, np.number):
            values = np.unique(values.astype(str), return_inverse=True)[1]
        out[c] = values.astype(np.float32)
    return out


def _with_annotations(features, annotations, columns, feature_names=None):
    """DataFrame of features (``feature_names``, or ``f0..``) plus
    ``annotation:<c>`` columns."""
    if feature_names is None:
        feature_names = [f"f{i}" for i in range(features.shape[1])]
    frame = pd.DataFrame(np.asarray(features, dtype=np.float32),
                         columns=list(feature_names))
    codes = _encode(annotations, columns)
    for c in columns:
        frame[ANNOTATION_PREFIX + c] = codes[c].to_numpy()
    return frame


def _split(n_rows, y, n_per_split, random_state, test_size=None):
    """Indices of (D, D_aux, test): stratified, equal D and D_aux."""
    idx = np.arange(n_rows)
    if n_per_split is not None and 3 * n_per_split < n_rows:
        idx, _ = train_test_split(idx, train_size=3 * n_per_split, stratify=y,
                                  random_state=random_state)
    rest, test = train_test_split(idx, test_size=test_size or 1 / 3,
                                  stratify=y[idx], random_state=random_state)
    train, aux = train_test_split(rest, test_size=0.5, stratify=y[rest],
                                  random_state=random_state)
    return train, aux, test


def _cache(data_home):
    from joblib import Memory

    location = Path(get_data_home(data_home)) / "embeddings"
    return Memory(location=str(location), verbose=0)


def _victim_on_features(model, random_state):
    """The tabular victims of :func:`make_victim`, seeded, dropping annotations."""
    from ..utils._seeding import seed_unseeded
    from ._adult import make_victim

    victim = seed_unseeded(make_victim("lr" if model == "ll" else model), random_state)
    return make_pipeline(drop_annotations(), *[step for _, step in victim.steps])


def _cluster_finder(n_clusters, n_components, n_components_kmeans, min_size,
                    max_size, representation, random_state):
    return ClusterMatch(n_clusters=n_clusters, n_components=n_components,
                        n_components_kmeans=n_components_kmeans, min_size=min_size,
                        max_size=max_size, representation=representation,
                        random_state=random_state)


def _tabular(dataset, model, n_samples, random_state):
    loader = {"german": load_german_credit, "compas": load_compas}[dataset]
    bunch = loader()
    y = np.asarray(bunch.target)
    train, aux, test = _split(len(y), y, n_samples, random_state)
    frame = _with_annotations(bunch.data, bunch.annotations, bunch.annotation_columns,
                              bunch.feature_names)
    n_aux = len(aux)
    # the paper's Adult filter (10 < n < 100 of 7,841 aux rows) scaled to the size
    min_size = max(3, n_aux // 800)
    k = 100 if n_aux > 2000 else 25
    finders = {
        "FeatureMatch": FeatureMatch(
            [ANNOTATION_PREFIX + c for c in bunch.annotation_columns],
            min_size=min_size, max_size=max(min_size + 2, n_aux // 10)),
        "ClusterMatch": _cluster_finder(
            k, None, None, min_size, max(min_size + 2, n_aux // 10),
            make_pipeline(drop_annotations(), StandardScaler()), random_state),
    }
    return Bunch(
        data=tuple(v for i in (train, aux, test)
                   for v in (frame.iloc[i].reset_index(drop=True), y[i])),
        estimator=_victim_on_features(model, random_state),
        finders=finders, label="flip" if len(np.unique(y)) == 2 else "least_frequent",
        attacker_model=_victim_on_features("lr", random_state))


def _adult(model, random_state):
    data = load_adult(form="paper", random_state=random_state)
    finders = {
        "FeatureMatch": FeatureMatch(data.annotation_columns, min_size=10, max_size=100),
        "ClusterMatch": ClusterMatch(n_clusters=100, min_size=10, max_size=100,
                                     random_state=random_state),
    }
    return Bunch(data=(data.X_train, data.y_train, data.X_aux, data.y_aux,
                       data.X_test, data.y_test),
                 estimator=_victim_on_features(model, random_state),
                 finders=finders, label="flip",
                 attacker_model=_victim_on_features("lr", random_state))


def _image_embeddings(images, image_size, data_home, progress):
    from ..features import ImageEmbedder

    embedder = ImageEmbedder(image_size=image_size, memory=_cache(data_home),
                             progress=progress)
    return embedder.fit_transform(images)


def _fashion_mnist(model, n_samples, data_home, random_state, progress):
    train = load_fashion_mnist(subset="train", data_home=data_home)
    test = load_fashion_mnist(subset="test", data_home=data_home)
    rng = np.random.RandomState(random_state)
    n = n_samples
    idx_train, idx_aux = train_test_split(
        np.arange(len(train.target)), train_size=n, test_size=n,
        stratify=train.target, random_state=rng.randint(2**31 - 1))
    idx_test = np.arange(len(test.target))
    if n < len(idx_test):
        idx_test, _ = train_test_split(idx_test, train_size=n, stratify=test.target,
                                       random_state=rng.randint(2**31 - 1))
    parts = [(train, idx_train), (train, idx_aux), (test, idx_test)]
    columns = list(train.annotation_columns)
    if model == "ll":
        # frozen ImageNet features, computed once per row and cached on disk
        feats = [_image_embeddings(b.images[i], 64, data_home, progress)
                 for b, i in parts]
        frames = [_with_annotations(f, b.annotations.iloc[i], columns)
                  for f, (b, i) in zip(feats, parts)]
        estimator = make_pipeline(drop_annotations(), LogisticRegression(max_iter=1000))
        # the LL attacker model's penultimate layer is the frozen embedding
        representation = drop_annotations()
        n_components, n_kmeans = 100, 40
    else:
        frames = [_with_annotations(b.data[i], b.annotations.iloc[i], columns)
                  for b, i in parts]
        if model == "lr":
            estimator = make_pipeline(
                drop_annotations(), FunctionTransformer(np.divide, kw_args={"x2": 255.0}),
                LogisticRegression(max_iter=300))
            representation = drop_annotations()
        else:
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
            from ..features import ImageEmbedder

            representation = make_pipeline(
                drop_annotations(),
                ImageEmbedder(image_size=64, image_shape=(28, 28),
                              memory=_cache(data_home), progress=progress))
        n_components, n_kmeans = 100, 40
    y = [np.asarray(b.target)[i] for b, i in parts]
    finders = {
        "FeatureMatch": FeatureMatch([ANNOTATION_PREFIX + c for c in columns]),
        "ClusterMatch": _cluster_finder(100, n_components, n_kmeans, None, None,
                                        representation, random_state),
    }
    return Bunch(data=(frames[0], y[0], frames[1], y[1], frames[2], y[2]),
                 estimator=estimator, finders=finders, label="least_frequent",
                 attacker_model=make_pipeline(drop_annotations(),
                                              LogisticRegression(max_iter=300)))


def _rotten_tomatoes(model, n_samples, data_home, random_state, progress):
    bunch = load_rotten_tomatoes()
    y = np.asarray(bunch.target)
    train, aux, test = _split(len(y), y, n_samples, random_state)
    columns = ["length_bucket"]
    codes = _encode(bunch.annotations, columns)  # codes of the whole data set
    if model == "ll":
        from ..features import TextEmbedder

        embedder = TextEmbedder(memory=_cache(data_home), progress=progress)
        parts = [_with_annotations(embedder.fit_transform(list(bunch.data[i])),
                                   codes.iloc[i], columns)
                 for i in (train, aux, test)]
        estimator = make_pipeline(drop_annotations(), LogisticRegression(max_iter=1000))
        representation = drop_annotations()
        attacker_model = clone(estimator)
        n_components = 10
    else:
        from ..features import TextEmbedder
        from ..nets import make_text_finetune_classifier

        parts = []
        for i in (train, aux, test):
            frame = pd.DataFrame({"text": np.asarray(bunch.data[i], dtype=object)})
            frame[ANNOTATION_PREFIX + "length_bucket"] = np.asarray(
                codes["length_bucket"].iloc[i])
            parts.append(frame)
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
        n_components = 10
    finders = {
        "FeatureMatch": FeatureMatch([ANNOTATION_PREFIX + c for c in columns]),
        "ClusterMatch": _cluster_finder(100, n_components, None, None, None,
                                        representation, random_state),
    }
    return Bunch(data=(parts[0], y[train], parts[1], y[aux], parts[2], y[test]),
                 estimator=estimator, finders=finders, label="flip",
                 attacker_model=attacker_model)


def load_setting(dataset="adult", model=None, *, n_samples=None, data_home=None,
                 random_state=0, progress=False):
    """Data, victim and finders of one of the paper's settings.

    Parameters
    ----------
    dataset : {"adult", "fashion-mnist", "rotten-tomatoes", "german", "compas"}
        The data set (see the module docstring for what each stands in for).
    model : str, default=None
        The victim: ``"lr"``, ``"mlp"``, ``"torch-mlp"`` (tabular), ``"ll"``
        (linear head on frozen pretrained features), ``"ft"`` (fine-tuned
        pretrained network), ``"cnn"`` (the paper's small CNN, images).
        ``None`` takes the first of the data set's models.
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

    Returns
    -------
    setting : Bunch
        ``data`` (the six arrays ``X_train, y_train, X_aux, y_aux, X_test,
        y_test``), ``estimator`` (the victim), ``finders`` (name -> unfitted
        finder), ``label`` (the label rule for LabelFlip), ``attacker_model``
        (a model the attacker trains on ``D_aux`` to rank subpopulations by
        confidence, or None), ``dataset`` and ``model``.

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
    if dataset not in SETTINGS:
        raise ValueError(f"dataset must be one of {sorted(SETTINGS)}; got {dataset!r}.")
    models = SETTINGS[dataset]
    model = models[0] if model is None else model
    if model not in models:
        raise ValueError(
            f"model={model!r} is not available for dataset={dataset!r}; "
            f"use one of {models}.")
    if n_samples is None:
        defaults = DEFAULT_ROWS[dataset]
        n_samples = defaults.get(model) if isinstance(defaults, dict) else defaults
    elif n_samples == "full":
        n_samples = None
    elif not isinstance(n_samples, (int, np.integer)) or n_samples < 10:
        raise ValueError(f"n_samples must be an int >= 10, 'full' or None; "
                         f"got {n_samples!r}.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if dataset == "adult":
        setting = _adult(model, random_state)
    elif dataset in ("german", "compas"):
        setting = _tabular(dataset, model, n_samples, random_state)
    elif dataset == "fashion-mnist":
        setting = _fashion_mnist(model, n_samples or 30000, data_home, random_state,
                                 progress)
    else:
        setting = _rotten_tomatoes(model, n_samples, data_home, random_state, progress)
    setting.dataset, setting.model = dataset, model
    return setting


class by_confidence:
    """Subpopulation order for the audit: least attacker confidence first.

    The paper's image and text experiments attack clusters in increasing order
    of the confidence of a model the attacker trained on its auxiliary rows
    (paper-spec §4.2). Pass an instance as ``subpopulation_order`` of
    :class:`~skpoison.audit.SubpopulationAudit`; it is called with each fitted
    finder and the auxiliary rows, fits a clone of ``estimator`` on them once
    and ranks the finder's subpopulations with
    :func:`~skpoison.subpopulations.rank_subpopulations`.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The attacker's model (cloned; never fitted in place).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.audit import by_confidence
    >>> order = by_confidence(LogisticRegression())
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def __call__(self, name, finder, X_aux, y_aux):
        from sklearn.base import clone

        from ..subpopulations import rank_subpopulations

        key = id(X_aux)
        if getattr(self, "_fitted_for", None) != key:
            self.model_ = clone(self.estimator).fit(X_aux, y_aux)
            self._fitted_for = key
        return rank_subpopulations(finder, self.model_, X_aux, y_aux).index.tolist()


DEFENSES = ("none", "trim", "sever", "ac", "ss", "fine-pruning")


def make_defense(name):
    """The defense template the audit wraps around the victim.

    ``"none"`` (no defense), ``"trim"`` (:class:`~skpoison.defenses.TRIM`, 5
    rounds), ``"sever"`` (:class:`~skpoison.defenses.SEVER`), ``"ac"``
    (:class:`~skpoison.defenses.ActivationClustering`), ``"ss"``
    (:class:`~skpoison.defenses.SpectralSignatures`), ``"fine-pruning"``
    (:class:`~skpoison.defenses.FinePruning`, torch nets only). TRIM, SEVER
    and spectral signatures are told the exact number of poisons, as in the
    paper (``oracle_n_remove`` of the audit).
    """
    from .. import defenses

    if name == "none":
        return None
    if name == "trim":
        return defenses.TRIM(None, max_iter=5)
    if name == "sever":
        return defenses.SEVER(None)
    if name == "ac":
        return defenses.ActivationClustering(None)
    if name == "ss":
        return defenses.SpectralSignatures(None)
    if name == "fine-pruning":
        return defenses.FinePruning(None, layer="hidden")
    raise ValueError(f"defense must be one of {DEFENSES}; got {name!r}.")


def setting_audit(dataset="adult", model=None, *, attack="labelflip",
                  filters=("FeatureMatch", "ClusterMatch"), alphas=(0.5, 1, 2),
                  seeds=(0,), defenses=("none", "trim"), n_samples=None,
                  max_subpopulations=None, order="confidence", data_home=None,
                  n_jobs=None, progress=True, random_state=0, backend=None,
                  store=None, resume=True, finder_params=None):
    """Run the subpopulation audit on one of the paper's settings.

    Parameters
    ----------
    dataset, model, n_samples, data_home
        The setting, as in :func:`load_setting`.
    attack : {"labelflip", "gradient", "influence"}, default="labelflip"
        The poison generator (the optimised ones need numeric features).
    filters : sequence of {"FeatureMatch", "ClusterMatch"}
        Finders to run.
    alphas, seeds
        Poisoning rates and seeds.
    defenses : sequence of str, default=("none", "trim")
        Names understood by :func:`make_defense`.
    max_subpopulations : int, default=None
        Attack only this many subpopulations per filter.
    order : {"confidence", "id"}, default="confidence"
        ``"confidence"`` attacks the subpopulations the attacker's model is
        least confident on first (the paper's images and text);
        ``"id"`` in id order.
    n_jobs, progress, backend, store, resume
        As in :class:`SubpopulationAudit`.
    random_state : int, default=0
        Seeds the split, finders and victim.
    finder_params : dict, default=None
        Parameters to set on the setting's finders, per finder name, e.g.
        ``{"ClusterMatch": {"n_clusters": 50}}``.

    Returns
    -------
    audit : SubpopulationAudit
        Run, with ``results_``, ``clean_accuracy_`` and ``setting_name_``
        (``"<dataset> / <model>"``).
    """
    from ._adult import make_attack
    from ._audit import SubpopulationAudit

    setting = load_setting(dataset, model, n_samples=n_samples, data_home=data_home,
                           random_state=random_state, progress=progress)
    unknown = [f for f in filters if f not in setting.finders]
    if unknown:
        raise ValueError(f"Unknown filters {unknown}; use FeatureMatch or "
                         "ClusterMatch.")
    finders = {name: setting.finders[name] for name in filters}
    for name, params in (finder_params or {}).items():
        if name in finders:
            finders[name].set_params(**params)
    template = make_attack(attack)
    if "label" in template.get_params(deep=False):
        template.set_params(label=setting.label)
    if order not in ("confidence", "id"):
        raise ValueError(f"order must be 'confidence' or 'id'; got {order!r}.")
    ranking = (by_confidence(setting.attacker_model)
               if order == "confidence" and setting.attacker_model is not None
               else None)
    audit = SubpopulationAudit(
        setting.estimator, finders=finders, attack=template, alphas=alphas,
        seeds=seeds, defenses={name: make_defense(name) for name in defenses},
        n_jobs=n_jobs, progress=progress, max_subpopulations=max_subpopulations,
        subpopulation_order=ranking, backend=backend, store=store, resume=resume)
    audit.run(*setting.data)
    audit.setting_name_ = f"{dataset} / {setting.model}"
    return audit

"""The parts a setting is built from: victims, attacks, defenses, devices.

Torch is never imported here at module level, so that a joblib worker running
a scikit-learn victim does not pay for it.
"""

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ..subpopulations import default_representation
from ._data import ANNOTATION_PREFIX

ATTACKS = ("labelflip", "gradient", "influence")
DEFENSES = ("none", "trim", "sever", "ac", "ss", "fine-pruning", "dpa")
# the victims built from a table's column types (make_table_victim)
TABLE_MODELS = ("lr", "hgb", "rf", "mlp", "torch-mlp")
TABLE_MODEL_HELP = {
    "lr": "logistic regression on imputed, standardised numbers and one-hot categories",
    "hgb": "histogram gradient boosting (missing numbers handled natively)",
    "rf": "random forest, 100 trees (missing numbers handled natively)",
    "mlp": "scikit-learn MLP, one hidden layer of 10 units (the paper's Adult net)",
    "torch-mlp": "the same MLP as a seeded skorch net (runs on --device)",
}
MISSING = "(missing)"


def _drop_annotation_columns(X):
    if isinstance(X, pd.DataFrame):
        keep = [c for c in X.columns if not str(c).startswith(ANNOTATION_PREFIX)]
        return X[keep]
    return X


def drop_annotations():
    """A transformer that drops the ``annotation:*`` columns of a DataFrame.

    Read more in the :ref:`User Guide <audit>`.

    Put it first in a victim or a ClusterMatch ``representation``, so that the
    subpopulation annotations FeatureMatch selects on are never model inputs.

    Returns
    -------
    transformer : FunctionTransformer

    See Also
    --------
    annotation_column : The name of an annotation's column.
    with_annotations : Features and coded annotation columns as one DataFrame.
    """
    return FunctionTransformer(_drop_annotation_columns, feature_names_out=None)


def make_attack(attack="labelflip"):
    """The attack template of the audit: label flipping (the paper's Adult
    attack), gradient optimisation or the influence attack.

    Read more in the :ref:`User Guide <audit>`.
    """
    from ..attacks import GradientPoison, InfluencePoison, LabelFlip

    attacks = {"labelflip": LabelFlip, "gradient": GradientPoison,
               "influence": InfluencePoison}
    if attack not in attacks:
        raise ValueError(f"attack must be one of {ATTACKS}; got {attack!r}.")
    return attacks[attack](None)


def _net(device, **kwargs):
    from ..nets import make_mlp_classifier

    if device is not None:
        kwargs["device"] = device
    return make_mlp_classifier(hidden_layer_sizes=(10,), max_epochs=20, **kwargs)


def make_victim(model="lr", *, device=None):
    """The victim models of the Adult audit (numeric features).

    Read more in the :ref:`User Guide <audit>`.

    ``"lr"``: standardised logistic regression; ``"mlp"``: scikit-learn's
    ``MLPClassifier`` with one hidden layer of 10 units (the paper's Adult
    NN), standardised; ``"torch-mlp"``: the same network as a seeded skorch
    classifier (:func:`skpoison.nets.make_mlp_classifier`) on ``device``
    (``None``: skorch's default, the CPU).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if model == "lr":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if model == "mlp":
        return make_pipeline(StandardScaler(),
                             MLPClassifier(hidden_layer_sizes=(10,), max_iter=300,
                                           early_stopping=False))
    if model == "torch-mlp":
        return make_pipeline(StandardScaler(), _net(device))
    raise ValueError(f"model must be one of ('lr', 'mlp', 'torch-mlp'); got {model!r}.")


def table_preprocessor(X, *, scale=True, impute=True):
    """Impute, one-hot the categories and (``scale``) standardise the numbers.

    Read more in the :ref:`User Guide <audit>`.

    ClusterMatch's :func:`~skpoison.subpopulations.default_representation`
    of the columns of ``X`` that are not ``annotation:*`` columns (those are
    dropped), with the victim's options: numbers and booleans are imputed
    with their median (``impute``) and standardised (``scale``); any other
    column is a category, its values read as strings (so strings, pandas
    ``string`` columns with missing values, categories and columns mixing
    strings and numbers alike), a missing value being a category of its own
    (``"(missing)"``), one-hot encoded with at most 50 categories per column
    (rarer ones grouped; unseen ones ignored).

    Parameters
    ----------
    X : DataFrame
        Rows with the columns the transformer will see.
    scale : bool, default=True
    impute : bool, default=True
        ``False`` passes missing numbers through (for models that take them).

    Returns
    -------
    transformer : ColumnTransformer
    """
    columns = [c for c in X.columns if not str(c).startswith(ANNOTATION_PREFIX)]
    branches = {name: (step, [columns[j] for j in positions]) for name, step, positions
                in default_representation(X[columns]).transformers}
    parts = []
    if "numeric" in branches:
        numbers, numeric = branches["numeric"]
        numbers.set_params(**{step: "passthrough" for step, keep
                              in (("impute", impute), ("scale", scale)) if not keep})
        parts.append(("numbers", numbers if impute or scale else "passthrough",
                      numeric))
    if "categorical" in branches:
        categories, categorical = branches["categorical"]
        categories.set_params(impute__fill_value=MISSING,
                              one_hot__handle_unknown="infrequent_if_exist",
                              one_hot__max_categories=50)
        parts.append(("categories", categories, categorical))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def make_table_victim(model, X, *, device=None):
    """A victim for a table, built from its column types.

    Read more in the :ref:`User Guide <audit>`.

    Parameters
    ----------
    model : {"lr", "hgb", "rf", "mlp", "torch-mlp"}
        ``"lr"``: logistic regression; ``"hgb"``: histogram gradient
        boosting; ``"rf"``: a random forest of 100 trees; ``"mlp"``:
        scikit-learn's MLP with one hidden layer of 10 units (the paper's
        Adult network); ``"torch-mlp"``: the same net in skorch, on
        ``device``.
    X : DataFrame
        Training rows (for the column types; not fitted).
    device : str, default=None
        The torch device of ``"torch-mlp"``.

    Returns
    -------
    victim : Pipeline
        :func:`table_preprocessor` then the model: numbers imputed and
        standardised for ``lr``, ``mlp`` and ``torch-mlp``, passed as they
        are (missing values included) to the trees.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if model == "lr":
        return make_pipeline(table_preprocessor(X), LogisticRegression(max_iter=1000))
    if model == "mlp":
        return make_pipeline(table_preprocessor(X),
                             MLPClassifier(hidden_layer_sizes=(10,), max_iter=300))
    if model == "torch-mlp":
        return make_pipeline(table_preprocessor(X), _net(device))
    if model == "hgb":
        return make_pipeline(table_preprocessor(X, scale=False, impute=False),
                             HistGradientBoostingClassifier())
    if model == "rf":
        return make_pipeline(table_preprocessor(X, scale=False, impute=False),
                             RandomForestClassifier(n_estimators=100))
    raise ValueError(f"model must be one of {TABLE_MODELS}; got {model!r}.")


def make_defense(name, **params):
    """The defense template the audit wraps around the victim.

    Read more in the :ref:`User Guide <audit>`.

    ``"none"`` (no defense), ``"trim"`` (:class:`~skpoison.defenses.TRIM`, 5
    rounds), ``"sever"`` (:class:`~skpoison.defenses.SEVER`), ``"ac"``
    (:class:`~skpoison.defenses.ActivationClustering`), ``"ss"``
    (:class:`~skpoison.defenses.SpectralSignatures`), ``"fine-pruning"``
    (:class:`~skpoison.defenses.FinePruning`, torch nets only), ``"dpa"``
    (:class:`~skpoison.defenses.PartitionAggregation`, Deep Partition
    Aggregation with 50 partitions: a certified defense, whose certificate the
    audit reports per group). TRIM, SEVER and spectral signatures are told
    the exact number of poisons, as in the paper (``oracle_n_remove`` of the
    audit). The audit sets each defense's ``estimator`` to the whole victim,
    its preprocessing included, so partition aggregation fits the victim's
    scaler and encoders per partition, as its certificate requires.

    Parameters
    ----------
    name : str
        One of ``DEFENSES``.
    **params
        Parameters of the defense, e.g. ``n_partitions=100`` for ``"dpa"``.

    Returns
    -------
    defense : estimator or None
    """
    from .. import defenses

    if name == "none":
        if params:
            raise ValueError(f"defense 'none' takes no parameters; got {params}.")
        return None
    return _defense(defenses, name).set_params(**params)


def _defense(defenses, name):
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
    if name == "dpa":
        return defenses.PartitionAggregation(None, n_partitions=50)
    raise ValueError(f"defense must be one of {DEFENSES}; got {name!r}.")


def set_device(estimator, device):
    """Put every torch part of ``estimator`` on ``device``, in place.

    Sets each (nested) parameter named ``device`` (skorch nets, the
    pretrained embedders, torch attacks and defenses); scikit-learn parts have
    none and are left alone. ``None`` changes nothing.

    Returns
    -------
    estimator : the same object
    """
    if device is None or estimator is None or not hasattr(estimator, "get_params"):
        return estimator
    names = [k for k in estimator.get_params(deep=True)
             if k == "device" or k.endswith("__device")]
    if names:
        estimator.set_params(**{k: device for k in names})
    return estimator

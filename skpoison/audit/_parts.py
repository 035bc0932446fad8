"""The parts a setting is built from: the victims and their preprocessing.

Torch is never imported here at module level, so that a joblib worker running
a scikit-learn victim does not pay for it. Which parts exist, by name, is in
``_registry``.
"""

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ..subpopulations import default_representation
from ..utils._annotations import ANNOTATION_PREFIX

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


def make_victim(model="lr"):
    """The victim models of the Adult audit (numeric features).

    Read more in the :ref:`User Guide <audit>`.

    ``"lr"``: standardised logistic regression; ``"mlp"``: scikit-learn's
    ``MLPClassifier`` with one hidden layer of 10 units (the paper's Adult
    NN), standardised; ``"torch-mlp"``: the same network as a seeded skorch
    classifier (:func:`skpoison.nets.make_mlp_classifier`), on skorch's
    default device (the CPU; ``load_setting(device=...)`` moves it).
    """
    from ._registry import VICTIMS

    if model not in ("lr", "mlp", "torch-mlp"):
        raise ValueError(f"model must be one of ('lr', 'mlp', 'torch-mlp'); got "
                         f"{model!r}.")
    return make_pipeline(StandardScaler(), VICTIMS[model].factory.model())


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


def make_table_victim(model, X):
    """A victim for a table, built from its column types.

    Read more in the :ref:`User Guide <audit>`.

    Parameters
    ----------
    model : {"lr", "hgb", "rf", "mlp", "torch-mlp"}
        ``"lr"``: logistic regression; ``"hgb"``: histogram gradient
        boosting; ``"rf"``: a random forest of 100 trees; ``"mlp"``:
        scikit-learn's MLP with one hidden layer of 10 units (the paper's
        Adult network); ``"torch-mlp"``: the same net in skorch (on the
        CPU; ``load_setting(device=...)`` moves it).
    X : DataFrame
        Training rows (for the column types; not fitted).

    Returns
    -------
    victim : Pipeline
        :func:`table_preprocessor` then the model: numbers imputed and
        standardised for ``lr``, ``mlp`` and ``torch-mlp``, passed as they
        are (missing values included) to the trees.
    """
    from ._registry import TABLE_MODELS, VICTIMS

    if model not in TABLE_MODELS:
        raise ValueError(f"model must be one of {list(TABLE_MODELS)}; got {model!r}.")
    return VICTIMS[model].factory(X)

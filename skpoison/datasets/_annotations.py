"""The annotation convention: subpopulation attributes that are not model inputs.

A data set's loader returns annotations (a demographic attribute, a derived
subgroup) beside its features. When features and annotations travel as one
DataFrame, each annotation is a column named ``"annotation:<name>"``
(:func:`annotation_column`): :class:`~skpoison.subpopulations.FeatureMatch`
selects on it, and :func:`skpoison.audit.drop_annotations` removes every
such column before a victim or ClusterMatch sees the rows, so that poisons
carry their subpopulation's annotation like any other row.
"""

import numpy as np
import pandas as pd

from ..utils._annotations import ANNOTATION_PREFIX, encode


def annotation_column(name):
    """The name of the column that carries the annotation ``name``.

    Read more in the :ref:`User Guide <datasets_models>`.

    An annotation (a demographic attribute, a derived subgroup) that is not a
    model input travels as an extra DataFrame column whose name starts with
    ``"annotation:"``: :class:`~skpoison.subpopulations.FeatureMatch` selects
    on it, and :func:`~skpoison.audit.drop_annotations` removes every such column before the
    victim or ClusterMatch sees the rows. Name the columns with this function
    rather than writing the prefix yourself.

    Parameters
    ----------
    name : str
        The annotation's name, e.g. ``"sex"``.

    Returns
    -------
    column : str
        ``"annotation:<name>"``.

    See Also
    --------
    with_annotations : Features and coded annotation columns as one DataFrame.
    skpoison.audit.drop_annotations : The transformer that removes these columns.

    Examples
    --------
    >>> from skpoison.datasets import annotation_column
    >>> annotation_column("sex")
    'annotation:sex'
    """
    return ANNOTATION_PREFIX + str(name)


def with_annotations(features, annotations, columns, feature_names=None):
    """A DataFrame of features plus coded annotation columns.

    Read more in the :ref:`User Guide <datasets_models>`.

    The features become float32 columns; each annotation in ``columns``
    becomes the column :func:`annotation_column` names, numbers kept as they
    are and categories coded as the rank of their value among the sorted
    values (attacks take numeric rows). Codes are computed in this call:
    build the frame of the whole data set once and split its rows, so that a
    code means the same category in every split.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        The model inputs.
    annotations : DataFrame
        One row per sample; holds at least ``columns``.
    columns : list of str
        The annotations to add, in order.
    feature_names : list of str, default=None
        Names of the feature columns; ``None`` uses ``f0``, ``f1``, ...

    Returns
    -------
    frame : DataFrame of shape (n_samples, n_features + len(columns))
        The features, then one ``annotation:<name>`` column per annotation.

    See Also
    --------
    annotation_column : The name of an annotation's column.
    skpoison.audit.drop_annotations : The transformer that removes these columns.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skpoison.datasets import with_annotations
    >>> annotations = pd.DataFrame({"sex": ["male", "female", "male"]})
    >>> frame = with_annotations(np.eye(3, 2), annotations, ["sex"])
    >>> frame.columns.tolist()
    ['f0', 'f1', 'annotation:sex']
    >>> frame["annotation:sex"].tolist()  # female = 0, male = 1
    [1.0, 0.0, 1.0]
    """
    features = np.asarray(features, dtype=np.float32)
    if feature_names is None:
        feature_names = [f"f{i}" for i in range(features.shape[1])]
    frame = pd.DataFrame(features, columns=list(feature_names))
    codes, _ = encode(annotations, columns)
    for c in columns:
        frame[annotation_column(c)] = codes[c].to_numpy()
    return frame

"""LabelFlip: the paper's label-flipping subpopulation attack."""

from imblearn.utils import Substitution

from ._base import _ATTACK_DOCS, BasePoisoningAttack


@Substitution(**_ATTACK_DOCS)
class LabelFlip(BasePoisoningAttack):
    """Label-flipping subpopulation attack (Jagielski et al., CCS 2021).

    Read more in the :ref:`User Guide <attacks>`.

    Draws ``int(alpha * n_sub)`` rows of the target subpopulation, with
    replacement, from the attacker's data, keeps their features and gives them
    a wrong label, then appends them to the training rows. With ``alpha`` of
    1 or 2 the poisons match or outnumber the subpopulation's clean rows, so a
    model learns the wrong label for it while the rest of the data is barely
    affected.

    LabelFlip only copies rows, so it takes the data as it is: a DataFrame of
    strings, categories, nullable integers, booleans or free text, with
    missing values, comes back as a DataFrame with the same columns and dtypes
    (the received rows unchanged and in order, then the poisons; the index
    renumbered, as imbalanced-learn does); an array comes back as an array of
    its dtype. Only infinity in a numeric column is refused. Whatever needs
    numbers (the finder, ``estimator``) handles the columns itself, e.g. a
    pipeline with a :class:`~sklearn.compose.ColumnTransformer`.

    Parameters
    ----------
    {attack_params}

    label : {{"auto", "flip", "least_frequent", "least_confident"}} or a class \
label, default="auto"
        How poison rows are labelled (the paper's label-flipping attack):

        * ``"auto"``: ``"flip"`` on a binary task, ``"least_frequent"`` on a
          multiclass one, so the default works on every task;
        * ``"flip"``: each drawn row gets the other class (binary tasks only;
          the authors' Adult attack);
        * ``"least_frequent"``: all poisons get the class least frequent among
          the attacker's rows of the subpopulation (their image attacks);
        * ``"least_confident"``: all poisons get the class that ``estimator``
          finds least likely over the subpopulation (their text attack);
        * any other value: that class label for all poisons.

    estimator : classifier with predict_proba, default=None
        The attacker's model for ``label="least_confident"``: used as is when
        wrapped in :class:`sklearn.frozen.FrozenEstimator`, otherwise cloned
        and fitted on the attacker's rows. (A fitted model that is not frozen
        is still used as is, with a ``FutureWarning``, until skpoison 0.2.)

    random_state : int, RandomState instance or None, default=None
        Seeds the draw of poison rows and the finder, when unseeded.

    Attributes
    ----------
    {attack_attributes}

    classes_ : ndarray
        The class labels seen in the received and the attacker's rows.

    See Also
    --------
    skpoison.subpopulations.ClusterMatch : A finder for the target.
    skpoison.defenses.TRIM : A defense to try against it.

    References
    ----------
    .. [1] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021: the
       label-flipping attack. Reference code: the authors' repository,
       https://github.com/jagielski/subpopulation-data-poisoning-attacks,
       and their UCI Adult notebook linked from its README
       (``pois_ct = int(train_ct * pois_rate)``: ``count_on="train"``).

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.attacks import LabelFlip
    >>> from skpoison.subpopulations import ClusterMatch
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(3, 0.1, (10, 2))])
    >>> y = np.array([0] * 20 + [1] * 10)
    >>> attack = LabelFlip(ClusterMatch(n_clusters=2, target="smallest"),
    ...                    alpha=2, random_state=0)
    >>> X_res, y_res = attack.fit_resample(X, y)
    >>> X_res.shape, attack.n_poison_
    ((50, 2), 20)
    >>> np.unique(y_res[attack.poison_mask_])
    array([0])

    On a DataFrame with strings and missing values, here aimed at the rows
    whose ``job`` is missing:

    >>> import pandas as pd
    >>> from skpoison.subpopulations import FeatureMatch
    >>> frame = pd.DataFrame({{"job": ["clerk", None, "owner", None],
    ...                       "age": [25.0, None, 52.0, 41.0]}})
    >>> finder = FeatureMatch(["job"]).fit(frame)
    >>> finder.describe_text(2)
    'job is missing'
    >>> attack = LabelFlip(FeatureMatch(["job"], target=2), random_state=3)
    >>> X_res, y_res = attack.fit_resample(frame, [0, 1, 0, 0])
    >>> X_res
         job   age
    0  clerk  25.0
    1    NaN   NaN
    2  owner  52.0
    3    NaN  41.0
    4    NaN   NaN
    5    NaN  41.0
    >>> y_res
    [0, 1, 0, 0, 0, 1]
    """

    # poisons are copies of the attacker's rows: any column type (texts,
    # categories) travels, so a fine-tuned text victim can be attacked
    _X_dtype = None


    def __init__(self, subpopulation=None, *, alpha=1.0, label="auto", aux=None,
                 count_on="train", estimator=None, random_state=None):
        self.subpopulation = subpopulation
        self.alpha = alpha
        self.label = label
        self.aux = aux
        self.count_on = count_on
        self.estimator = estimator
        self.random_state = random_state

"""What the audit can run, by name: finders, attacks, defenses and victims.

Each registry maps a name (the command line's choice) to a :class:`Spec`: the
factory that builds the part, one line of help, what it applies to, and an
optional check of the built part against the victim and its training rows.
The ``--help`` texts and the docstring tables are written from these entries,
so adding a part is one entry. Bundled data sets are registered the same way
(``SETTINGS``, records of :class:`~skpoison.audit.Setting`).
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sklearn.pipeline import make_pipeline

from ..utils._torch import estimator_device
from ._data import SettingError, text_columns
from ._parts import table_preprocessor


@dataclass(frozen=True)
class Spec:
    """One registered part.

    Read more in the :ref:`User Guide <audit>`.

    Parameters
    ----------
    factory : callable
        Builds the part (attacks and defenses: with no argument, the audit
        sets their finder and estimator; victims: from the training rows).
    help : str
        One line for ``--help`` and the docstring tables.
    applies : str, default="any classifier"
        What it applies to, in words.
    check : callable, default=None
        ``check(part, victim, X_train)`` raises
        :class:`~skpoison.audit.SettingError` naming the parameter when the
        part cannot run on this victim or these rows; called before any fit.
    """

    factory: Callable
    help: str
    applies: str = "any classifier"
    check: Callable = None

    def checked(self, part, victim, X):
        """``part`` after ``check(part, victim, X)`` (none for None)."""
        if part is not None and self.check is not None:
            self.check(part, victim, X)
        return part


def doc_table(registry, header=("name", "what it is", "applies to")):
    """An RST table of a registry, for docstrings."""
    rows = [(f"``{name}``", spec.help, spec.applies) for name, spec in registry.items()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(header, widths)), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join([*lines, rule])


def _lazy(module, name, *args, **params):
    """A factory of ``module.name(*args, **params)`` that imports ``module``
    (relative to this package when it starts with a dot) when called."""
    def build(*more, **given):
        part = getattr(importlib.import_module(module, __package__), name)
        return part(*args, *more, **params, **given)
    return build


def _numbers_only(attack, victim, X):
    text = text_columns(X) if hasattr(X, "columns") else []
    if text:
        raise SettingError("attack", f"{type(attack).__name__} optimises poison rows "
                                     f"by their numbers, but columns {text} hold text "
                                     "or categories; use labelflip, which copies rows "
                                     "as they are.")


def _torch_victim(defense, victim, X):
    if estimator_device(victim) is None:
        raise SettingError("defenses", f"{type(defense).__name__} prunes a torch "
                                       "net's hidden units, and this victim has no "
                                       "torch net (use torch-mlp, cnn or ft).")


def _partitions(defense, victim, X):
    k, n = defense.get_params()["n_partitions"], len(X)
    if k > n:
        raise SettingError("n_partitions", f"{k} partitions of {n} training rows "
                                           "leave partitions empty; use at most "
                                           f"{n} (each trains on 1/K of the rows).")


FINDERS = {
    "FeatureMatch": Spec(
        _lazy("..subpopulations", "FeatureMatch"),
        "the value combinations of the annotated columns",
        "tables with --features, the bundled annotations"),
    "ClusterMatch": Spec(
        _lazy("..subpopulations", "ClusterMatch"),
        "k-means clusters of the attacker's rows", "every data set"),
}
"""The finders, by name."""


_attack = partial(_lazy, "..attacks")
_defense = partial(_lazy, "..defenses")

ATTACKS = {
    "labelflip": Spec(_attack("LabelFlip", None),
                      "copies of the attacker's rows of the group with flipped "
                      "labels (the paper's Adult attack)", "any data"),
    "gradient": Spec(_attack("GradientPoison", None), "optimised poison rows "
                     "(gradient)", "numeric columns only", _numbers_only),
    "influence": Spec(_attack("InfluencePoison", None), "optimised poison rows "
                      "(influence)", "numeric columns only", _numbers_only),
    "model-targeted": Spec(_attack("ModelTargetedPoison", None), "Suya et al.'s "
                           "model-targeted rows until the group's error reaches 0.5 "
                           "(budget alpha x its rows): poisons needed and the lower "
                           "bound per group", "binary tasks, linear victims (lr)"),
}
"""The attacks, by name."""

DEFENSES = {
    "none": Spec(lambda: None, "no defense"),
    "trim": Spec(_defense("TRIM", None, max_iter=5), "TRIM, 5 rounds, told the number "
                 "of poisons"),
    "sever": Spec(_defense("SEVER", None), "SEVER, told the number of poisons"),
    "ac": Spec(_defense("ActivationClustering", None), "activation clustering"),
    "ss": Spec(_defense("SpectralSignatures", None), "spectral signatures, told the "
               "number of poisons"),
    "fine-pruning": Spec(_defense("FinePruning", None, layer="hidden"), "fine-pruning",
                         "torch nets", _torch_victim),
    "dpa": Spec(_defense("PartitionAggregation", None, n_partitions=50),
                "Deep Partition Aggregation, 50 partitions: certified, its "
                "certificate is reported per group", "any classifier", _partitions),
}
"""The defenses, by name."""


def _table(module, name, raw=False, **params):
    """A table victim's factory: ``X -> Pipeline`` of :func:`table_preprocessor`
    (``raw``: numbers neither imputed nor scaled, for trees) and a fresh
    ``module.name(**params)``, which its ``model`` builds alone."""
    model = _lazy(module, name, **params)

    def build(X):
        return make_pipeline(table_preprocessor(X, scale=not raw, impute=not raw),
                             model())
    build.model = model
    return build


VICTIMS = {
    "lr": Spec(_table("sklearn.linear_model", "LogisticRegression", max_iter=1000),
               "logistic regression (numbers imputed and standardised, categories "
               "one-hot)", "tables; fashion-mnist pixels"),
    "hgb": Spec(_table("sklearn.ensemble", "HistGradientBoostingClassifier", raw=True),
                "histogram gradient boosting", "tables"),
    "rf": Spec(_table("sklearn.ensemble", "RandomForestClassifier", raw=True,
                      n_estimators=100), "random forest, 100 trees", "tables"),
    "mlp": Spec(_table("sklearn.neural_network", "MLPClassifier",
                       hidden_layer_sizes=(10,), max_iter=300),
                "scikit-learn MLP, 10 hidden units (the paper's Adult net)", "tables"),
    # the paper's Adult net (10 hidden units) as a seeded skorch classifier
    "torch-mlp": Spec(_table("..nets", "make_mlp_classifier", hidden_layer_sizes=(10,),
                             max_epochs=20),
                      "the same MLP in skorch (runs on --device)", "your table, adult"),
    "ll": Spec(None, "linear head on frozen pretrained features (default)",
               "fashion-mnist, rotten-tomatoes"),
    "ft": Spec(None, "the pretrained network fine-tuned",
               "fashion-mnist, rotten-tomatoes"),
    "cnn": Spec(None, "the paper's small CNN", "fashion-mnist"),
}
"""The victims, by name (``factory(X_train)`` for tables; the bundled images
and texts build theirs)."""

TABLE_MODELS = tuple(k for k, v in VICTIMS.items() if v.factory is not None)


def _with_table(function, registry):
    """Write ``registry``'s table into ``function``'s docstring (``TABLE``)."""
    table = doc_table(registry).replace("\n", "\n    ")
    function.__doc__ = function.__doc__.replace("TABLE", table)
    return function


def _lookup(registry, name, param):
    if name not in registry:
        raise SettingError(param, f"expected one of {list(registry)}; got {name!r}.")
    return registry[name]


def make_attack(attack="labelflip"):
    """The attack template of the audit, by name.

    Read more in the :ref:`User Guide <audit>`.

    The audit sets its finder, ``alpha``, ``aux`` and ``random_state`` per run:

    TABLE

    Parameters
    ----------
    attack : str, default="labelflip"
        A name of ``ATTACKS``.

    Returns
    -------
    attack : attack
    """
    return _lookup(ATTACKS, attack, "attack").factory()


def make_defense(name, **params):
    """The defense template the audit wraps around the victim, by name.

    Read more in the :ref:`User Guide <audit>`.

    TRIM, SEVER and spectral signatures are told the exact number of poisons,
    as in the paper (``oracle_n_remove`` of the audit). The audit sets each
    defense's ``estimator`` to the whole victim, its preprocessing included,
    so partition aggregation fits the victim's scaler and encoders per
    partition, as its certificate requires:

    TABLE

    Parameters
    ----------
    name : str
        A name of ``DEFENSES``.
    **params
        Parameters of the defense, e.g. ``n_partitions=100`` for ``"dpa"``.

    Returns
    -------
    defense : estimator or None
    """
    defense = _lookup(DEFENSES, name, "defenses").factory()
    if defense is None and params:
        raise ValueError(f"defense {name!r} takes no parameters; got {params}.")
    return None if defense is None else defense.set_params(**params)


_with_table(make_attack, ATTACKS)
_with_table(make_defense, DEFENSES)


def by_name(parts):
    """A name, names or a dict of name -> parameters, as that dict."""
    if isinstance(parts, str):
        parts = [parts]
    return dict(parts) if isinstance(parts, dict) else {name: {} for name in parts}


def make_parts(attack, defenses, label, victim, X_train):
    """The attack template and the defenses, by name (made, then checked
    against the victim and its training rows by their entry's ``check``) or
    as given; a named attack with a label rule takes ``label``."""
    if attack is None or isinstance(attack, str):
        name = attack or "labelflip"
        attack = make_attack(name)
        if "label" in attack.get_params(deep=False):
            attack.set_params(label=label)
        ATTACKS[name].checked(attack, victim, X_train)
    defenses = by_name(defenses)
    if not defenses:
        raise SettingError("defenses", "expected one defense or more ('none' for the "
                                       "victim alone).")
    for name, params in defenses.items():  # an object (or None): the audit checks it
        if isinstance(params, dict):
            defense = make_defense(name, **params)
            defenses[name] = DEFENSES[name].checked(defense, victim, X_train)
    return attack, defenses

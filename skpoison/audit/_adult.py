"""The main job: the paper's Adult audit, as one function."""

from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MODELS = ("lr", "mlp", "torch-mlp")
ATTACKS = ("labelflip", "gradient", "influence")


def make_attack(attack="labelflip"):
    """The attack template of the Adult audit: label flipping (the paper's
    Adult attack), gradient optimisation or the influence attack."""
    from ..attacks import GradientPoison, InfluencePoison, LabelFlip

    attacks = {"labelflip": LabelFlip, "gradient": GradientPoison,
               "influence": InfluencePoison}
    if attack not in attacks:
        raise ValueError(f"attack must be one of {ATTACKS}; got {attack!r}.")
    return attacks[attack](None)


def make_victim(model="lr"):
    """The victim models of the Adult audit.

    ``"lr"``: standardised logistic regression; ``"mlp"``: scikit-learn's
    ``MLPClassifier`` with one hidden layer of 10 units (the paper's Adult
    NN), standardised; ``"torch-mlp"``: the same network as a seeded skorch
    classifier (:func:`skpoison.nets.make_mlp_classifier`).
    """
    if model == "lr":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if model == "mlp":
        return make_pipeline(StandardScaler(),
                             MLPClassifier(hidden_layer_sizes=(10,), max_iter=300,
                                           early_stopping=False))
    if model == "torch-mlp":
        from ..nets import make_mlp_classifier

        return make_pipeline(StandardScaler(),
                             make_mlp_classifier(hidden_layer_sizes=(10,), max_epochs=20))
    raise ValueError(f"model must be one of {MODELS}; got {model!r}.")


def adult_audit(*, model="lr", attack="labelflip", filters=("FeatureMatch", "ClusterMatch"),
                alphas=(0.5, 1, 2), seeds=(0,), defenses=("none", "trim"),
                n_clusters=100, min_size=10, max_size=100, max_subpopulations=None,
                n_jobs=None, progress=True, random_state=0, backend=None, store=None,
                resume=True):
    """Run the paper's UCI Adult audit on the bundled data.

    FeatureMatch over (education x race x sex) and ClusterMatch (k-means with
    ``n_clusters`` on the raw features), both keeping subpopulations with
    ``min_size < n < max_size`` rows in the attacker's auxiliary split;
    label flipping at each alpha; the victim without and with TRIM (told the
    exact number of poisons, as in the paper).

    Parameters
    ----------
    model : {"lr", "mlp", "torch-mlp"}, default="lr"
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
    progress : bool, default=True
    random_state : int, default=0
        Seeds the data split and the clustering.
    backend, store, resume
        As in :class:`SubpopulationAudit`: the joblib backend (``"dask"`` for
        a Dask cluster), the SQLite result store that makes the audit
        resumable, and whether to reuse its rows.

    Returns
    -------
    audit : SubpopulationAudit
        Run, with ``results_``.
    """
    from ._settings import setting_audit

    sizes = {"min_size": min_size, "max_size": max_size}
    return setting_audit("adult", model, attack=attack, filters=filters,
                         alphas=alphas, seeds=seeds,
                         defenses=defenses, max_subpopulations=max_subpopulations,
                         order="id", n_jobs=n_jobs, progress=progress,
                         random_state=random_state, backend=backend, store=store,
                         resume=resume,
                         finder_params={"FeatureMatch": sizes,
                                        "ClusterMatch": {**sizes,
                                                         "n_clusters": n_clusters}})

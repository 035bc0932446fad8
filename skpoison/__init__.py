"""skpoison: subpopulation data poisoning as scikit-learn estimators.

Subpackages
-----------
subpopulations
    Finders (``FeatureMatch``, ``ClusterMatch``): scikit-learn transformers
    that split data into subpopulations and pick the attack's target.
attacks
    Poisoning attacks as imbalanced-learn samplers (``LabelFlip``).
defenses
    Meta-estimators that train any classifier robustly (``TRIM``).
metrics
    Target and collateral damage, subpopulation scorers.
pipeline
    imbalanced-learn's ``Pipeline`` with a guard against silent no-op attacks,
    and ``PoisonedEstimator`` for scikit-learn's own ``Pipeline``.
nets
    Seeded skorch classifiers.
datasets
    Bundled real data (UCI Adult).
audit
    ``SubpopulationAudit``: the whole sweep, in parallel, reported.
"""

__version__ = "0.1.0.dev0"

"""Defenses: meta-estimators that train any classifier on filtered rows.

Each defense exposes ``estimator_`` (the defended model), ``support_mask_``
(the training rows it kept) and delegates prediction to ``estimator_``.
"""

from ._activation_clustering import ActivationClustering
from ._base import BaseDefense
from ._certify import LabelFlipCertifier, certified_radius_vs_poison
from ._fine_pruning import FinePruning
from ._sever import SEVER
from ._spectral_signatures import SpectralSignatures
from ._trim import TRIM

__all__ = [
    "SEVER",
    "TRIM",
    "ActivationClustering",
    "BaseDefense",
    "FinePruning",
    "LabelFlipCertifier",
    "SpectralSignatures",
    "certified_radius_vs_poison",
]

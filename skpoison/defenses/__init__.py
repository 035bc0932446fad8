"""Defenses: meta-estimators that train any classifier on filtered rows.

Each defense exposes ``estimator_`` (the defended model), ``support_mask_``
(the training rows it kept) and delegates prediction to ``estimator_``.
"""

from ..utils._lazy import lazy_attributes
from ._activation_clustering import ActivationClustering
from ._base import BaseDefense
from ._certify import (
    LabelFlipCertifier,
    certified_radius_vs_poison,
    chernoff_lower_bound,
    flip_radius,
)
from ._partition_aggregation import PartitionAggregation
from ._per_sample_gradients import per_sample_gradients
from ._representation import representation
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
    "PartitionAggregation",
    "SpectralSignatures",
    "certified_radius_vs_poison",
    "chernoff_lower_bound",
    "flip_radius",
    "per_sample_gradients",
    "representation",
]

# FinePruning needs torch; import it on first access so that workers running a
# scikit-learn victim do not pay for importing torch.
__getattr__, __dir__ = lazy_attributes(
    __name__, eager=[n for n in __all__ if n != "FinePruning"],
    lazy={"FinePruning": "._fine_pruning"},
)

"""Subpopulation finders: scikit-learn transformers that pick the attack's target.

A finder partitions rows into subpopulations (``predict``), keeps those whose
size passes a filter (``subpopulations_``, ``sizes_``) and names one of them the
target (``target_``); ``membership`` is the paper's filter function ``F``.
"""

from ._base import BaseSubpopulationFinder
from ._cluster_match import ClusterMatch
from ._feature_match import FeatureMatch

__all__ = ["BaseSubpopulationFinder", "ClusterMatch", "FeatureMatch"]

"""Subpopulation finders: scikit-learn transformers that pick the attack's target.

A finder partitions rows into subpopulations (``predict``), keeps those whose
size passes a filter (``subpopulations_``, ``sizes_``) and names one of them the
target (``target_``); ``membership`` is the paper's filter function ``F``.
:func:`rank_subpopulations` orders them by an attacker model's confidence, as
the paper's image and text experiments do. Every finder names its groups in
words (``describe_text``); ClusterMatch's ``describe`` gives a
:class:`SubpopulationRule` in the data's own units.
"""

from ._base import BaseSubpopulationFinder
from ._cluster_match import ClusterMatch, default_representation
from ._describe import Condition, SubpopulationRule
from ._feature_match import FeatureMatch
from ._ranking import ConfidenceOrder, SusceptibilityOrder, rank_subpopulations

__all__ = ["BaseSubpopulationFinder", "ClusterMatch", "Condition", "ConfidenceOrder",
           "FeatureMatch",
           "SubpopulationRule", "SusceptibilityOrder", "default_representation",
           "rank_subpopulations"]

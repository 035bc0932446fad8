"""Subpopulation poisoning attacks, as imbalanced-learn samplers.

Each attack takes a subpopulation finder as its first parameter and, in
``fit_resample``, returns the training rows unchanged followed by poison rows
aimed at the finder's target subpopulation.
"""

from ._base import BasePoisoningAttack
from ._gradient import GradientPoison
from ._influence import InfluencePoison
from ._label_flip import LabelFlip
from ._targets import select_targets
from ._witches_brew import WitchesBrew

__all__ = ["BasePoisoningAttack", "GradientPoison", "InfluencePoison", "LabelFlip",
           "WitchesBrew", "select_targets"]

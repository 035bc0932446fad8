"""Subpopulation poisoning attacks, as imbalanced-learn samplers.

Each attack takes a subpopulation finder as its first parameter (or, in a
:class:`skpoison.pipeline.Pipeline`, the finder step right before it) and, in
``fit_resample``, returns the training rows unchanged followed by poison rows
aimed at the finder's target subpopulation.
"""

from ..utils._lazy import lazy_attributes
from ._base import BasePoisoningAttack, is_attack
from ._gradient_poison import GradientPoison
from ._influence_poison import InfluencePoison
from ._label_flip import LabelFlip
from ._model_targeted import ModelTargetedPoison, susceptibility
from ._targets import select_targets

__all__ = ["BasePoisoningAttack", "GradientPoison", "InfluencePoison", "LabelFlip",
           "ModelTargetedPoison", "WitchesBrew", "is_attack", "select_targets",
           "susceptibility"]

# WitchesBrew needs torch; import it on first access so that workers running a
# scikit-learn victim do not pay for importing torch.
__getattr__, __dir__ = lazy_attributes(
    __name__, eager=[n for n in __all__ if n != "WitchesBrew"],
    lazy={"WitchesBrew": "._witches_brew"},
)

"""Defenses: meta-estimators that train any classifier on filtered rows.

Each defense exposes ``estimator_`` (the defended model), ``support_mask_``
(the training rows it kept) and delegates prediction to ``estimator_``.
"""

from ._base import BaseDefense
from ._trim import TRIM

__all__ = ["BaseDefense", "TRIM"]

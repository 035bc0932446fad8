"""Measurements of subpopulation attacks and defenses.

``subpopulation_damage`` computes the paper's target and collateral damage;
the scorers plug the same quantities into ``GridSearchCV`` and
``cross_validate``; ``certified_fraction`` gives the share of a
subpopulation's test rows a certified defense protects against an attack's
number of added rows, ``certified_radius_vs_poison`` the same for every group
of a finder, ``certified_damage`` the largest damage any attack of that size
can do to a group (a collective certificate).
"""

from ._certified import (
    certified_damage,
    certified_fraction,
    certified_radius_vs_poison,
)
from ._damage import subpopulation_damage
from ._intervals import (
    paired_counts_interval,
    paired_difference_interval,
    seed_mean_interval,
)
from ._scorers import (
    clean_removal_scorer,
    collateral_accuracy_scorer,
    find_attack,
    find_defense,
    make_subpopulation_scorer,
    poison_removal_scorer,
    removal_fractions,
    target_accuracy_scorer,
)

__all__ = [
    "certified_damage",
    "certified_fraction",
    "certified_radius_vs_poison",
    "clean_removal_scorer",
    "collateral_accuracy_scorer",
    "find_attack",
    "find_defense",
    "make_subpopulation_scorer",
    "paired_counts_interval",
    "paired_difference_interval",
    "poison_removal_scorer",
    "removal_fractions",
    "seed_mean_interval",
    "subpopulation_damage",
    "target_accuracy_scorer",
]

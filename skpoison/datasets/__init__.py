"""Real datasets bundled with skpoison, loaded without network access."""

from ._adult import load_adult
from ._annotations import annotation_column, with_annotations
from ._base import get_data_home
from ._fashion_mnist import load_fashion_mnist
from ._german_compas import load_compas, load_german_credit
from ._mixture import make_subpopulation_mixture
from ._rotten_tomatoes import load_rotten_tomatoes
from ._utkface import load_utkface

__all__ = [
    "annotation_column",
    "get_data_home",
    "load_adult",
    "load_compas",
    "load_fashion_mnist",
    "load_german_credit",
    "load_rotten_tomatoes",
    "load_utkface",
    "make_subpopulation_mixture",
    "with_annotations",
]

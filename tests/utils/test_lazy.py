"""Torch-backed classes load on first access; the rest of skpoison never imports torch."""

import subprocess
import sys

import pytest

from skpoison.utils._lazy import lazy_attributes

_CHILD = """
import sys
import skpoison.attacks, skpoison.audit, skpoison.defenses, skpoison.metrics
import skpoison.pipeline, skpoison.subpopulations
print("torch" in sys.modules, "skorch" in sys.modules)
from skpoison.attacks import WitchesBrew
from skpoison.defenses import FinePruning
print("torch" in sys.modules, WitchesBrew.__module__, FinePruning.__module__)
print("WitchesBrew" in dir(skpoison.attacks), "FinePruning" in dir(skpoison.defenses))
"""


def test_scikit_learn_side_imports_no_torch():
    # a joblib worker running a scikit-learn victim imports these modules:
    # importing torch there would cost seconds of start-up per worker
    out = subprocess.run([sys.executable, "-c", _CHILD], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    assert out[0] == "False False"
    assert out[1] == ("True skpoison.attacks._witches_brew "
                      "skpoison.defenses._fine_pruning")
    assert out[2] == "True True"


def test_lazy_attribute_is_cached_and_unknown_names_raise():
    import skpoison.defenses

    cls = skpoison.defenses.FinePruning
    assert vars(skpoison.defenses)["FinePruning"] is cls  # bound after first use
    with pytest.raises(AttributeError, match="'skpoison.defenses' has no attribute 'Nope'"):
        skpoison.defenses.Nope  # noqa: B018


def test_lazy_attributes_helper():
    getattr_, dir_ = lazy_attributes("skpoison.attacks", eager=["LabelFlip"],
                                     lazy={"select_targets": "._targets"})
    from skpoison.attacks._targets import select_targets

    assert getattr_("select_targets") is select_targets
    assert dir_() == ["LabelFlip", "select_targets"]
    with pytest.raises(AttributeError, match="no attribute 'x'"):
        getattr_("x")

"""The audit's two bounds: the poisons any attack needs, the damage a
certificate allows.

* **Cost to damage.** With the model-targeted attack
  (:class:`~skpoison.attacks.ModelTargetedPoison`, Suya et al., ICML 2021),
  each task's budget is ``int(alpha * the group's training rows)`` poisons;
  the attack stops as soon as the group's error reaches its goal, and each
  row records the poisons it needed (``n_poison_needed``, NaN when the
  budget did not suffice), its lower bound (``lower_bound``: no attack with
  poisons in the feasible set induces the model this attack induced with
  fewer) and ``efficiency`` (used / bound); the report's "Cost to damage"
  table (:func:`~skpoison.audit._report.cost_to_damage`) reads them.
* **Certified damage.** For a certifying defense with a collective
  certificate (partition aggregation), each row records the largest damage
  any attack of the task's budget can do to the defense fitted on the clean
  rows (``certified_damage``, :func:`~skpoison.metrics.certified_damage`,
  Chen et al., ICML 2022) beside the damage this attack did to it
  (``defended_damage``: its accuracy on the group fitted on the clean rows
  minus after the attack). A measured damage above its certificate is a bug,
  and :func:`check_certified` stops the audit.
"""

import numpy as np
from sklearn.base import clone

from ..attacks import ModelTargetedPoison
from ..metrics import certified_damage
from ..utils._compat import _safe_indexing
from ..utils._pipeline import final_step
from ._data import SettingError


def _with_victim(attack, victim):
    """``attack`` with ``victim`` as its ``estimator`` when it has none."""
    if attack.get_params(deep=False).get("estimator") is None:
        attack.set_params(estimator=victim)
    return attack


def check_victim(attack, estimator, y, param):
    """Raise a :class:`SettingError` naming ``param`` unless ``attack`` (its
    own ``estimator``, else the victim) can attack ``y``: the attack's own
    check (``check_victim``) and its message."""
    attack = _with_victim(clone(attack), estimator)
    try:
        attack.check_victim(y)
    except TypeError:
        name = type(final_step(attack.estimator)[0]).__name__
        raise SettingError(param, "the model-targeted attack (and its susceptibility "
                           "score) needs a binary task and a linear victim (logistic "
                           "regression, LinearSVC, SGDClassifier; --model lr); the "
                           f"victim ends in {name}.") from None
    except ValueError as exc:
        raise SettingError(param, str(exc)) from None


def _stops_at_goal(attack):
    """An attack with a budget (``max_poisons``) instead of a rate (``alpha``)."""
    params = attack.get_params(deep=False)
    return "max_poisons" in params and "alpha" not in params


def check_attack(attack, estimator, y):
    """Before any work: an attack that checks its victim (the model-targeted
    one) on a victim and labels it can attack."""
    if hasattr(attack, "check_victim"):
        check_victim(attack, estimator, y, "attack")


def task_attack(task, X_train, aux):
    """The attack of one task (a :class:`~skpoison.audit._workers.Task`), and
    the group's training rows (None for an attack with ``alpha``, which
    counts them itself).

    The task's attack template gets its finder, the attacker's rows ``aux``
    and its seed. An attack with ``alpha`` gets the task's alpha; one without
    (the model-targeted attack) gets the budget ``int(alpha * n_sub)`` as
    ``max_poisons``, and the task's victim as its ``estimator`` when it has
    none.
    """
    alpha, finder = task.key["alpha"], task.finder
    attack = clone(task.attack).set_params(subpopulation=finder, aux=aux,
                                           random_state=task.key["seed"])
    if not _stops_at_goal(attack):
        return attack.set_params(alpha=alpha), None
    n_sub = int(np.asarray(finder.membership(X_train), dtype=bool).sum())
    attack.set_params(max_poisons=int(alpha * n_sub))
    return _with_victim(attack, task.estimator), n_sub


def expected_removed(caught, attack):
    """The attack's warnings, less the one that says its budget did not reach
    the goal (the audit reports it as ``n_poison_needed`` NaN)."""
    return [w for w in caught if not hasattr(attack, "goal_reached_")
            or "was not reached" not in str(w.message)]


def budget(attack):
    """The task's poison budget: ``max_poisons`` for an attack that stops at
    its goal, else the rows it added."""
    return int(attack.max_poisons if _stops_at_goal(attack) else attack.n_poison_)


def attack_columns(attack, n_sub):
    """The row's columns of an attack that bounds its own cost (none else)."""
    if not hasattr(attack, "lower_bound_"):
        return {}
    reached = bool(attack.goal_reached_)
    return {"n_train": n_sub,
            "n_poison_needed": attack.n_poison_ if reached else np.nan,
            "lower_bound": float(attack.lower_bound_),
            "efficiency": float(attack.efficiency_) if reached else np.nan}


class CleanCertificate(tuple):
    """A certifying defense's ``certify`` output on the test rows, and the
    defense (fitted on the clean rows) as ``model`` for its collective
    certificate."""

    model = None


def clean_certificate(model, X_test):
    """The :class:`CleanCertificate` of a defense fitted on the clean rows."""
    cert = CleanCertificate(np.asarray(a) for a in model.certify(X_test))
    cert.model = model
    return cert


def certified_columns(cert, X_test, y_test, mask, pred, n_added):
    """The certified largest damage of ``n_added`` rows on the group's test
    rows, and the damage measured on the defense (clean fit minus after)."""
    if not hasattr(cert.model, "certify_group"):
        return {}
    y_group = y_test[mask]
    res = certified_damage(cert.model, _safe_indexing(X_test, mask), y_group, n_added)
    measured = (np.mean(np.asarray(cert[0])[mask] == y_group)
                - np.mean(np.asarray(pred)[mask] == y_group))
    return {"certified_damage": float(res.damage),
            "certified_optimal": bool(res.optimal),
            "defended_damage": float(measured)}


def check_certified(results):
    """Stop with an error where a damage measured on a certified defense is
    above its certificate (a bug: a certificate cannot be beaten)."""
    over = (results[results["defended_damage"] > results["certified_damage"] + 1e-9]
            if "certified_damage" in results else results.iloc[:0])
    if over.empty:
        return
    r = over.iloc[0]
    raise RuntimeError(
        f"{len(over)} result row(s) measure more damage on the certified defense "
        f"than its certificate allows, e.g. {r['defense']} on {r['filter']} group "
        f"{r['subpopulation']} ({r['description']}), alpha={r['alpha']:g}, "
        f"seed={r['seed']}: measured {r['defended_damage']:.3f}, certified at most "
        f"{r['certified_damage']:.3f}. A certificate cannot be beaten: this is a bug "
        "(in the attack's count of rows, the defense or its certificate), or the "
        "store was altered; please report it with this audit's parameters.")


def susceptibility_order(estimator, y, random_state):
    """``subpopulation_order="susceptibility"``: the groups with the lowest
    bound first (:class:`~skpoison.subpopulations.SusceptibilityOrder`)."""
    from ..subpopulations import SusceptibilityOrder

    check_victim(ModelTargetedPoison(), estimator, y, "susceptibility")
    return SusceptibilityOrder(estimator, random_state=random_state)

"""The audit's worker side: one unit of work, and the joblib call that runs
them in worker processes that leave nothing behind however the audit ends
(:mod:`skpoison.utils._parallel`).
"""

import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from ..metrics import certified_fraction, removal_fractions, subpopulation_damage
from ..utils._compat import _safe_indexing
from ..utils._parallel import SharedArrays, process_workers, shared_once, watch_owner
from . import _bounds


def certifies(defense):
    """Whether ``defense`` certifies its predictions (has ``certify``, as
    :class:`~skpoison.defenses.PartitionAggregation`)."""
    return defense is not None and hasattr(defense, "certify")


def defended(estimator, defense, seed, n_poison=None, oracle_n_remove=False):
    """The victim behind ``defense`` (a clone), as every row of one seed fits it.

    The defense's ``estimator`` is the victim, so preprocessing fitted on the
    training rows (a victim's scaler, its encoders) sits inside the defense:
    partition aggregation fits it per partition, as its certificate needs.
    """
    model = clone(estimator)
    if defense is None:
        return model
    model = clone(defense).set_params(estimator=model)
    params = model.get_params(deep=False)
    if oracle_n_remove and n_poison is not None and "n_remove" in params:
        model.set_params(n_remove=int(n_poison))
    if "random_state" in params:
        model.set_params(random_state=seed)
    return model


@dataclass
class Task:
    """One unit of work: poison once, fit the victim behind each defense.

    ``key`` names the unit (filter, subpopulation, description, n_aux, alpha,
    seed); ``finder`` is the attacker's finder fitted on the auxiliary rows,
    retargeted and frozen; ``defenses`` the defenses still to compute;
    ``clean_pred`` the clean model's test predictions for the seed;
    ``certificates`` each certifying defense's ``certify`` output on the test
    rows, fitted on the clean training rows; ``owner`` the audit's process id
    when the task runs in a worker process it started
    (:func:`~skpoison.utils._parallel.watch_owner`).
    """

    key: dict
    finder: object
    test_mask: np.ndarray
    attack: object = None
    estimator: object = None
    defenses: dict = None
    oracle_n_remove: bool = True
    clean_pred: np.ndarray = None
    certificates: dict = field(default_factory=dict)
    owner: int = None


def _run_task(task, data):
    """Run ``task`` (a :class:`Task`) on the shared ``data``; one row per defense.

    Every row records ``attack_seconds`` (the attack's ``fit_resample``, the
    same for all rows of one poisoning) and ``fit_seconds`` (that row's
    ``fit``). A certifying defense's rows get the fraction of the group's test
    rows certified against the attack's ``n_poison_`` added rows
    (``certified``) and certified and correct (``certified_correct``), and no
    removal columns (it removes nothing). What the intervals and verdicts
    need is kept per row: the counts of the group's (and the other) test
    rows the model got wrong where the clean model was right (``*_lost``) and
    the reverse (``*_gained``), which of the group's test rows it got right
    (``target_correct``, a string of 0/1) and, for a defense that removed
    rows, the same for a random filter removing as many
    (``random_target_correct``, ``random_target_damage``). Warnings raised
    by the attack and the fits are kept in ``warnings``, not shown.
    """
    watch_owner(task.owner)
    X_train, y_train, X_aux, y_aux, X_test, y_test = data.arrays
    key, mask, y_test = task.key, task.test_mask, np.asarray(y_test)
    attack, n_sub = _bounds.task_attack(task, X_train, (X_aux, y_aux))
    (X_res, y_res), caught, attack_seconds = _recorded(attack.fit_resample, X_train,
                                                       y_train)
    caught = _bounds.expected_removed(caught, attack)
    n_poison = int(attack.n_poison_)
    clean_right = task.clean_pred == y_test
    labels = np.unique(y_test[mask], return_counts=True)[1]
    rows = []
    for name, defense in task.defenses.items():
        model = defended(task.estimator, defense, key["seed"], n_poison,
                         task.oracle_n_remove)
        _, more, fit_seconds = _recorded(model.fit, X_res, y_res)
        pred, also, _ = _recorded(model.predict, X_test)
        dmg = subpopulation_damage(task.clean_pred, pred, None, y_test, mask)
        row = dict(key, defense=name, n_poison=n_poison,
                   n_train=int(attack.n_subpopulation_),
                   **{f: getattr(dmg, f) for f in _DAMAGE_FIELDS}, n_test=dmg.n_target)
        row.update(_bounds.attack_columns(attack, n_sub))
        support = getattr(model, "support_mask_", None)
        if certifies(defense):
            row.update(_bounds.certified_columns(task.certificates[name], X_test,
                                                 y_test, mask, pred,
                                                 _bounds.budget(attack)))
            cert = certified_fraction(task.certificates[name], None, y_test, mask,
                                      n_poison)
            row.update(certified=cert.certified_fraction,
                       certified_correct=cert.certified_accuracy,
                       median_radius=cert.median_radius)
        elif support is not None:
            # the fraction of the poison rows, and of the clean rows, it removed
            row["poison_removed"], row["clean_removed"] = removal_fractions(
                attack.poison_mask_, support)
        right = np.asarray(pred) == y_test
        row.update(fit_seconds=fit_seconds, attack_seconds=attack_seconds,
                   majority_rate=float(labels.max() / labels.sum()),
                   **_outcomes("target", clean_right[mask], right[mask]),
                   **_outcomes("collateral", clean_right[~mask], right[~mask]),
                   target_correct=_bits(right[mask]))
        if support is not None and not np.all(support):
            row.update(_random_filter(task, X_res, y_res, ~np.asarray(support), X_test,
                                      clean_right, y_test))
        row["warnings"] = [f"{w.category.__name__}: {w.message}"
                           for w in caught + more + also]
        rows.append(row)
    return rows


def _recorded(call, *args):
    """``call(*args)``, the warnings it raised (kept, not shown) and the
    seconds it took."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        result = call(*args)
        return result, caught, time.perf_counter() - start


def _bits(right):
    return "".join("1" if r else "0" for r in right)


def _outcomes(part, clean_right, right):
    return {f"{part}_lost": int(np.sum(clean_right & ~right)),
            f"{part}_gained": int(np.sum(~clean_right & right))}


def _random_filter(task, X_res, y_res, removed, X_test, clean_right, y_test):
    """The victim fitted after removing as many rows as the defense did,
    chosen at random (seeded by the task's seed): does the defense's
    detection beat chance?"""
    keep = np.ones(len(removed), dtype=bool)
    rng = np.random.RandomState(task.key["seed"])
    keep[rng.choice(len(keep), int(removed.sum()), replace=False)] = False
    model = clone(task.estimator)
    _recorded(model.fit, _safe_indexing(X_res, keep), _safe_indexing(y_res, keep))
    right = np.asarray(_recorded(model.predict, X_test)[0]) == y_test
    mask = task.test_mask
    return {"random_target_damage": float(clean_right[mask].mean() - right[mask].mean()),
            "random_target_correct": _bits(right[mask])}


_DAMAGE_FIELDS = ("clean_target_accuracy", "poisoned_target_accuracy", "target_damage",
                  "clean_collateral_accuracy", "poisoned_collateral_accuracy",
                  "collateral_damage")


def _workers_text(backend, n_jobs):
    """Where the audit's work runs, in words."""
    if backend == "dask":
        try:
            from distributed import get_client

            return f"Dask cluster at {get_client().scheduler.address}"
        except (ImportError, ValueError):
            return "Dask cluster"
    return f"n_jobs={1 if n_jobs is None else n_jobs}, {os.cpu_count()} CPUs"


def run_tasks(jobs, data, n_jobs, stack):
    """Run the tasks ``jobs(owner)`` (a generator of :class:`Task`) on the
    audit's six arrays ``data`` with joblib's active backend; their rows, as
    they finish where the backend can. ``stack`` (an ``ExitStack``) closes
    the generator of results on the way out, so that joblib ends its workers
    when the audit is interrupted (Ctrl-C, SIGTERM on the command line) or
    fails, and removes the memory-mapped data."""
    data = shared_once(SharedArrays(*data), n_jobs, stack)
    # workers of this process stop when it is killed
    owner = os.getpid() if process_workers(n_jobs) else None
    try:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    except ValueError:  # e.g. "multiprocessing": results arrive all at once
        parallel = Parallel(n_jobs=n_jobs)
    outputs = parallel(delayed(_run_task)(task, data) for task in jobs(owner))
    stack.callback(getattr(outputs, "close", lambda: None))
    return outputs

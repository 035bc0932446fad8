"""SubpopulationAudit: every subpopulation x alpha x seed x defense, in parallel."""

import os
import time
import warnings
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, nullcontext
from dataclasses import replace
from functools import partial
from itertools import product
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import parallel_config
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from tqdm.auto import tqdm

from ..attacks import BasePoisoningAttack, LabelFlip
from ..utils._hashing import canonical, config_hash, normalize_row
from ..utils._pipeline import final_step
from ..utils._seeding import seed_unseeded
from . import _report
from ._bounds import check_attack, check_certified, clean_certificate
from ._describe import describe_subpopulation, name_values
from ._render import render_html
from ._store import REQUIRED, ResultStore, new_run_id, task_key
from ._workers import Task, _workers_text, certifies, defended, run_tasks


def _broken_pool(exc, flight, n_done, store):
    """The message for a worker process that died (killed, out of memory, or
    unable to load a task)."""
    names = [f"{k['filter']} group {k['subpopulation']} ({k['description']}), "
             f"alpha={k['alpha']:g}, seed={k['seed']}" for k in flight.values()]
    which = ("The task that failed is one of those running: " + "; ".join(names[:5])
             + (f" and {len(names) - 5} more" if len(names) > 5 else "") + ". "
             if names else "")
    kept = (f"The {n_done} rows finished in this run are in the store {store}: run "
            "the same command (or run() with the same store) again to resume." if store
            else "No store was given (--no-store, store=None): finished rows are lost; "
            "give a store to make a re-run resume.")
    return (f"A worker process of the audit stopped ({type(exc).__name__}: {exc}). "
            f"{which}{kept}")


def _not_attacked(finders, names, tasks, skipped, X_aux, describe=None):
    """Every group a finder found that no task attacks, with the reason; the
    groups the size filter left out are named as the kept ones are."""
    name_of = getattr(describe, "name_values", name_values)
    attacked = {(t.key["filter"], t.key["subpopulation"]) for t in tasks}
    rows = []
    for fname, finder in finders.items():
        sizes = dict(zip(finder.subpopulations_.tolist(), finder.sizes_.tolist()))
        rows += [(fname, name, sizes[sid], "no test rows" if sid in skipped[fname]
                  else "beyond max_subpopulations")
                 for sid, name in names[fname].items() if (fname, sid) not in attacked]
        params = finder.get_params()
        low, high = params.get("min_size"), params.get("max_size")
        columns = params.get("columns")
        if isinstance(X_aux, pd.DataFrame) and columns is not None and (low or high):
            for values, n in X_aux.groupby(list(columns), dropna=False).size().items():
                values = values if isinstance(values, tuple) else (values,)
                few = low is not None and n <= low
                if few or (high is not None and n >= high):
                    name = name_of(finder, dict(zip(columns, values)))
                    rows.append((fname, name, int(n), "too few attacker rows (min_size)"
                                 if few else "over the size cap (max_size)"))
        elif params.get("n_clusters", 0) > len(sizes):
            rows.append((fname, f"{params['n_clusters'] - len(sizes)} clusters", 0,
                         "outside the size filter (min_size, max_size)"))
    return pd.DataFrame(rows, columns=["filter", "group", "aux rows", "reason"])


def _n_rows(X):
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def _check_data(X_train, y_train, X_aux, y_aux, X_test, y_test):
    """The six arrays, checked before any fitting: lengths, 1-D labels, the
    same columns (by name, for DataFrames) in the training, auxiliary and
    test rows."""
    names, Xs, ys = ("train", "aux", "test"), (X_train, X_aux, X_test), []
    for name, X, y in zip(names, Xs, (y_train, y_aux, y_test)):
        if X is None or not hasattr(X, "__len__"):
            raise TypeError(f"X_{name} must be array-like; got {type(X).__name__}.")
        y = np.asarray(y)
        ys.append(y)
        if y.ndim != 1:
            raise ValueError(f"y_{name} must be 1-D; got shape {y.shape}.")
        if _n_rows(X) != len(y):
            raise ValueError(f"X_{name} has {_n_rows(X)} rows but y_{name} has "
                             f"{len(y)} labels.")
        if len(y) == 0:
            raise ValueError(f"X_{name} has no rows.")
    frames = {isinstance(X, pd.DataFrame) for X in Xs}
    if len(frames) > 1:
        raise TypeError("X_train, X_aux and X_test must all be DataFrames or all "
                        "arrays; got " + ", ".join(
                            f"X_{n}: {type(X).__name__}" for n, X in zip(names, Xs)))
    for name, X in zip(names[1:], Xs[1:]):
        if frames == {True} and list(X.columns) != list(X_train.columns):
            missing = [c for c in X_train.columns if c not in X.columns]
            extra = [c for c in X.columns if c not in X_train.columns]
            detail = (f"missing {missing}, extra {extra}" if missing or extra
                      else "the same names in another order")
            raise ValueError(f"X_{name} must have the columns of X_train, in "
                             f"the same order; got {detail}.")
    width = [X.shape[1] if len(getattr(X, "shape", np.shape(X))) > 1 else None
             for X in Xs]
    if frames == {False} and len(set(width)) > 1:
        raise ValueError("X_train, X_aux and X_test must have the same number "
                         f"of columns; got {width}.")
    return X_train, ys[0], X_aux, ys[1], X_test, ys[2]


class SubpopulationAudit:
    """Attack every subpopulation, at every rate, behind every defense.

    Read more in the :ref:`User Guide <audit>`.

    The audit answers "which groups of my training data could an attacker
    with a small budget silently damage, and does my defense help?". For each
    finder it fits the finder once on the attacker's auxiliary rows, and for
    every subpopulation that passes the finder's size filter and has test
    rows, every ``alpha`` and every seed, it poisons the training rows with
    ``attack``, trains ``estimator`` without and with each defense, and
    measures target and collateral damage against a clean model (fitted once
    per seed) on the test rows. Independent fits run in parallel with joblib.

    Parameters
    ----------
    estimator : classifier
        The victim model.

    finders : dict of str to finder
        Named, unfitted subpopulation finders, e.g.
        ``{"FeatureMatch": FeatureMatch(cols, min_size=10, max_size=100)}``.

    attack : attack, default=None
        The attack template; its finder, ``alpha``, ``aux`` and
        ``random_state`` are set per run. ``None`` means
        :class:`~skpoison.attacks.LabelFlip` with ``label="flip"``.

    alphas : sequence of float, default=(0.5, 1, 2)
        Poisoning rates.

    seeds : sequence of int, default=(0,)
        One run per seed: it seeds the attack, the clean model and the victim.

    defenses : dict of str to defense or None, default=None
        Named defenses; ``None`` as a value is the undefended victim. The
        defense's ``estimator`` is replaced by the victim, so the victim's own
        preprocessing (scaling, encoding) is fitted inside the defense. A
        certifying defense (one with a ``certify`` method, such as
        :class:`~skpoison.defenses.PartitionAggregation`) is also fitted once
        per seed on the clean training rows, and its rows report what its
        certificate promises for the group against the attack's added rows
        (``certified``, ``certified_correct``). ``None`` means
        ``{"none": None}``.

    oracle_n_remove : bool, default=True
        Tell each defense that has an ``n_remove`` parameter the exact number
        of poison rows, as the paper does (Sec. 8).

    n_jobs : int, default=None
        Parallel jobs (joblib's convention: -1 uses all cores).

    backend : str, default=None
        Any joblib backend: ``None`` (joblib's default, or the one set by an
        enclosing :func:`joblib.parallel_config`), ``"loky"``,
        ``"threading"``, or ``"dask"`` to run on a Dask distributed cluster
        (create a ``dask.distributed.Client`` first; ``n_jobs`` is then
        ignored and every worker thread of the cluster is used).

    progress : bool, default=True
        Show a progress bar.

    max_subpopulations : int, default=None
        Attack only the first this many kept subpopulations of each finder
        (for a quick look); ``None`` attacks all of them.

    subpopulation_order : dict, callable or None, default=None
        Which kept subpopulations to attack, in which order (with
        ``max_subpopulations``, the first ones are attacked). A dict maps a
        finder name to a sequence of ids (finders not in it keep their own
        order); a callable ``order(name, fitted_finder, X_aux, y_aux)``
        returns the ids, e.g. :class:`~skpoison.subpopulations.ConfidenceOrder`, the
        paper's least-confident-first order. ``None``: every kept
        subpopulation, in id order.

    store : str or Path, default=None
        A SQLite file (created when missing) that keeps one row per finished
        (configuration, filter, subpopulation, alpha, seed, defense), committed
        as each unit finishes. Running an audit again with the same store
        loads the stored rows of the same configuration and computes only the
        rest, so an interrupted audit resumes where it stopped and returns the
        same results as an uninterrupted one (timing columns excepted). The
        configuration hash covers everything that determines a row: the victim,
        attack, finder and defense parameters, ``oracle_n_remove``, the
        skpoison version and fingerprints of the six data arrays. A store
        has one writer at a time: while ``run`` works, another audit given the
        same store is refused at once with
        :class:`~skpoison.audit.StoreInUseError`. ``None`` keeps nothing.

    resume : bool, default=True
        Use the rows already in ``store``. ``False`` recomputes every unit
        and overwrites its stored row.

    describe : callable, default=None
        ``describe(fitted_finder, subpopulation) -> str``, the name of a group
        in the results and the report. ``None``:
        :func:`~skpoison.audit.describe_subpopulation` (column values, or the
        rule that picks a cluster out of the attacker's rows).

    title : str, default=None
        The report's heading, saying what is audited (e.g. ``"skpoison
        audit: UCI Adult, lr victim"``); ``None``: ``"skpoison audit"``.

    notes : list of str, default=None
        Notes printed with the clean model in the report (e.g. how the data
        was split).

    min_test_rows : int, default=10
        Groups with fewer test rows are listed apart, after every measured
        group, as too few to measure: with fewer than 10 rows one row is
        more than 10 accuracy points, and the 95% interval of even a total
        loss spans more than 30 points.

    Attributes
    ----------
    results_ : DataFrame
        One row per (filter, subpopulation, alpha, seed, defense), in task
        order whatever the backend and whatever was resumed. Besides the
        damage columns: ``poison_removed`` and ``clean_removed`` (fractions
        of the poison and of the clean training rows a defense with a
        ``support_mask_`` removed; empty for a certifying defense, which
        removes nothing), ``fit_seconds`` (the row's fit) and
        ``attack_seconds`` (its poisoning). For a certifying defense:
        ``certified``, the fraction of the group's test rows whose
        prediction by the defense fitted on the clean training rows is
        certified against ``n_poison`` added rows (no attack adding that many
        rows, whatever they are, can change it), ``certified_correct``, the
        fraction certified and correct (a lower bound on the defended
        model's accuracy on the group under any such attack, to set beside
        ``poisoned_target_accuracy``, what this attack left), and
        ``median_radius``, the median certified radius on the group's test
        rows (see :func:`~skpoison.metrics.certified_fraction`).
        Intervals and verdicts: ``target_damage_low`` / ``_high`` and
        ``collateral_damage_low`` / ``_high`` (the 95% interval of the
        damage on the finite test rows, Newcombe's paired interval: the clean
        and poisoned models are scored on the same rows), ``majority_rate``
        (the share of the group's test rows in their most common class), the
        counts behind the intervals (``target_lost``: rows the clean model
        got right and this one wrong, ``target_gained``: the reverse, and
        the same for ``collateral``), ``target_correct`` (0/1 per test row
        of the group), for a defense that removed rows
        ``random_target_damage`` and ``random_target_correct`` (a random
        filter removing as many rows), and ``warnings`` (raised by the
        attack and the fit, collected in ``warnings_``). With an attack that
        stops at its goal (:class:`~skpoison.attacks.ModelTargetedPoison`,
        whose budget is ``int(alpha * n_sub)`` poisons): ``n_poison_needed``
        (NaN when the budget did not reach the goal), ``lower_bound`` and
        ``efficiency``. For a defense with a collective certificate:
        ``certified_damage`` (the largest target damage of the task's budget
        on the defense fitted on the clean rows), ``certified_optimal`` and
        ``defended_damage`` (the damage measured on the defense against that
        clean fit); ``run`` raises a RuntimeError where a measured damage
        exceeds its certificate.

    fitted_finders_ : dict
        The finders fitted on the auxiliary rows.

    n_rows_ : dict
        Rows of the training (``"train"``), auxiliary (``"aux"``) and test
        (``"test"``) data.

    skipped_ : dict
        Per filter, the kept subpopulations skipped because they have no test
        rows (their damage is undefined).

    subpopulation_map_ : DataFrame
        Per filter and kept subpopulation: ``description``, ``n_aux`` and 2-D
        coordinates ``x``, ``y`` (PCA of the standardised centroids of its
        auxiliary rows), for the report's map.

    config_hash_ : str
        The configuration hash of the audit-wide part of the run (victim,
        attack, options, data): a store's rows are keyed by it together with
        each finder and defense.

    setting_ : str
        Deprecated alias of ``config_hash_`` (renamed: a setting is a data set
        and victim record, :class:`~skpoison.audit.Setting`); removed in
        skpoison 0.2.

    n_computed_, n_reused_ : int
        Result rows computed by this ``run`` and loaded from ``store``.

    clean_accuracy_ : dict
        Test accuracy of the clean victim per seed (for seeds whose every row
        came from ``store``, no clean model is fitted: their accuracy is
        recovered from the stored clean accuracies on a group and on the
        rest of the test rows).

    not_attacked_ : DataFrame
        Every group a finder found that is not attacked, with the reason (no
        test rows, beyond ``max_subpopulations``, outside the size filter):
        ``filter``, ``group``, ``aux rows``, ``reason``.

    warnings_ : DataFrame
        The warnings raised by the attacks and the fits, once each, with how
        often and where (filter, group, alpha, defense).

    workers_ : str
        Where the work ran (``n_jobs`` and the CPUs, or the Dask scheduler).

    timings_ : dict
        Seconds spent fitting the finders (``"finders"``), the clean models
        (``"clean"``), the certifying defenses on the clean rows
        (``"certificates"``) and in the whole ``run`` (``"total"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skpoison.audit import SubpopulationAudit
    >>> from skpoison.subpopulations import ClusterMatch
    >>> rng = np.random.RandomState(0)
    >>> centers = np.array([[0, 0], [0, 10], [10, 0], [10, 10]])
    >>> X = np.vstack([c + rng.normal(0, 0.5, (60, 2)) for c in centers])
    >>> y = np.repeat([0, 1, 0, 1], 60)
    >>> idx = rng.permutation(len(y)); X, y = X[idx], y[idx]
    >>> audit = SubpopulationAudit(
    ...     KNeighborsClassifier(n_neighbors=15),
    ...     finders={"clusters": ClusterMatch(n_clusters=4, random_state=0)},
    ...     alphas=[2], progress=False)
    >>> results = audit.run(X[:80], y[:80], X[80:160], y[80:160], X[160:], y[160:])
    >>> results[["n_train", "n_poison", "target_damage", "collateral_damage"]].round(2)
       n_train  n_poison  target_damage  collateral_damage
    0       16        32           1.00                0.0
    1       18        36           1.00                0.0
    2       18        36           0.76                0.0
    3       28        56           0.88                0.0
    """

    def __init__(self, estimator, *, finders, attack=None, alphas=(0.5, 1, 2),
                 seeds=(0,), defenses=None, oracle_n_remove=True, n_jobs=None,
                 backend=None, progress=True, max_subpopulations=None,
                 subpopulation_order=None, store=None, resume=True, describe=None,
                 title=None, notes=None, min_test_rows=10):
        self.estimator = estimator
        self.finders = finders
        self.attack = attack
        self.alphas = alphas
        self.seeds = seeds
        self.defenses = defenses
        self.oracle_n_remove = oracle_n_remove
        self.n_jobs = n_jobs
        self.backend = backend
        self.subpopulation_order = subpopulation_order
        self.progress = progress
        self.max_subpopulations = max_subpopulations
        self.store = store
        self.resume = resume
        self.describe = describe
        self.title = title
        self.notes = notes
        self.min_test_rows = min_test_rows

    def _check_params(self):
        if isinstance(final_step(self.estimator)[0], FrozenEstimator):
            raise ValueError(
                "estimator must be an unfitted classifier that the audit can retrain; "
                "got a FrozenEstimator (a prefit model), which ignores the poisoned rows "
                "it is fitted on, so every group would read as undamaged. Pass the "
                "model itself (FrozenEstimator(model).estimator): it is cloned and "
                "fitted per run.")
        if not isinstance(self.finders, dict) or not self.finders:
            raise ValueError("finders must be a non-empty dict of name -> finder.")
        for name, finder in self.finders.items():
            if not (hasattr(finder, "fit") and hasattr(finder, "membership")):
                raise TypeError(f"finders[{name!r}] is not a subpopulation finder.")
        alphas, seeds = list(self.alphas), list(self.seeds)
        if not alphas or any(not isinstance(a, Real) or a < 0 for a in alphas):
            raise ValueError(f"alphas must be non-negative numbers; got {alphas}.")
        if not seeds or any(not isinstance(s, Integral) for s in seeds):
            raise ValueError(f"seeds must be a non-empty list of ints; got {seeds}.")
        attack = LabelFlip(None) if self.attack is None else self.attack
        if not isinstance(attack, BasePoisoningAttack):
            raise TypeError("attack must be a skpoison attack such as LabelFlip.")
        defenses = {"none": None} if self.defenses is None else dict(self.defenses)
        if not defenses:
            raise ValueError("defenses must name at least one entry.")
        if any(not isinstance(name, str) for name in defenses):
            raise TypeError("defenses must be keyed by name (str).")
        for name, defense in defenses.items():
            if defense is not None and "estimator" not in getattr(
                    defense, "get_params", dict)():
                raise TypeError(
                    f"defenses[{name!r}] must be a defense whose estimator parameter "
                    f"the audit sets to the victim; got {type(defense).__name__}. Put "
                    "preprocessing in the victim, not around the defense (a scaler "
                    "fitted on all rows before partition aggregation would void its "
                    "certificate).")
        if self.store is not None and not isinstance(self.store, (str, os.PathLike)):
            raise TypeError(f"store must be a path or None; got {self.store!r}.")
        for name, what in (("min_test_rows", ""), ("max_subpopulations", " or None")):
            value = getattr(self, name)
            if value is None and what:
                continue
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int{what}; got {value!r}.")
        return alphas, seeds, attack, defenses

    def _ordered(self, fname, finder, data):
        """Kept (id, size) pairs in the order ``subpopulation_order`` gives."""
        sizes = dict(zip(finder.subpopulations_.tolist(), finder.sizes_.tolist()))
        order = self.subpopulation_order
        if callable(order):
            ids = order(fname, finder, data[2], data[3])
        elif order is None or order.get(fname) is None:
            return list(sizes.items())
        else:
            ids = order[fname]
        ids = [int(i) for i in ids]
        unknown = [i for i in ids if i not in sizes]
        if unknown:
            raise ValueError(
                f"subpopulation_order for {fname!r} names ids that are not kept "
                f"subpopulations of the fitted finder: {unknown[:10]}.")
        return [(i, sizes[i]) for i in ids]

    def _fit_finders(self, X_aux, seeds):
        """Step 1: fit each finder on the attacker's rows and name its groups
        (``fitted_finders_``, ``subpopulation_map_``).

        Returns the finders' canonical configurations and the names of their
        kept groups.
        """
        t0 = time.perf_counter()
        fitted, configs, names, maps = {}, {}, {}, []
        describe = self.describe or describe_subpopulation
        for fname, finder in self.finders.items():
            finder = clone(finder)
            params = finder.get_params(deep=False)
            if "random_state" in params and params["random_state"] is None:
                finder.set_params(random_state=seeds[0])  # unseeded: the first seed
            configs[fname] = canonical(finder)
            fitted[fname] = finder = finder.fit(X_aux)
            names[fname] = {int(s): describe(finder, s) for s in finder.subpopulations_}
            maps.append(_report.subpopulation_map(fname, finder, X_aux, names[fname]))
        self.fitted_finders_ = fitted
        self.subpopulation_map_ = pd.concat(maps, ignore_index=True)
        self.timings_["finders"] = time.perf_counter() - t0
        return configs, names

    def _plan(self, names, data, alphas, seeds):
        """Step 2, without side effects: the tasks in task order (one
        :class:`Task` per group, alpha and seed, its run parameters left to
        :meth:`_jobs`), and per filter the kept groups skipped because they
        have no test rows."""
        tasks, skipped = [], {}
        for fname, finder in self.fitted_finders_.items():
            test_ids = finder.predict(data[4])
            skipped[fname], kept = [], []
            for sid, size in self._ordered(fname, finder, data):
                if len(kept) == self.max_subpopulations:  # never when None
                    break
                mask = test_ids == sid
                if mask.any():
                    kept.append((sid, int(size), mask))
                else:
                    skipped[fname].append(sid)
            for sid, size, mask in kept:
                frozen = FrozenEstimator(finder.retarget(sid))
                for alpha, seed in product(alphas, seeds):
                    key = {"filter": fname, "subpopulation": sid,
                           "description": names[fname][sid], "n_aux": size,
                           "alpha": float(alpha), "seed": int(seed)}
                    tasks.append(Task(key, frozen, mask))
        return tasks, skipped

    def _load_stored(self, store, tasks, configs, defenses):
        """Step 3: the stored rows this run reuses, by (task id, defense), and
        per task the defenses left to compute."""
        done = {}
        if store is not None:
            for config, description in configs.values():
                store.describe(config, description)
            if self.resume:
                done = store.load((c for c, _ in configs.values()), REQUIRED)
        rows, pending = {}, []
        for task in tasks:
            need = {}
            for dname, defense in defenses.items():
                config = configs[task.key["filter"], dname][0]
                row = done.get(ResultStore.unit(config, dict(task.key, defense=dname)))
                if row is None:
                    need[dname] = defense
                else:  # as the task names it now: description and n_aux are not
                    # hashed (a better describer, a renamed category)
                    rows[task_key(task.key), dname] = dict(row, **{
                        k: task.key[k] for k in ("description", "n_aux")})
            if need:
                pending.append((task, need))
        return rows, pending

    def _fit_clean(self, data, pending, defenses):
        """Step 4: per seed with work left, the clean model (its test
        predictions) and each certifying defense fitted on the
        clean rows and certified once: every poisoning adds rows to them."""
        X_train, y_train, _, _, X_test, _ = data
        clean_pred, certificates = {}, {}
        for seed in sorted({task.key["seed"] for task, _ in pending}):
            t0 = time.perf_counter()
            victim = seed_unseeded(self.estimator, seed).fit(X_train, y_train)
            clean_pred[seed] = np.asarray(victim.predict(X_test))
            t1 = time.perf_counter()
            needed = {d for task, need in pending if task.key["seed"] == seed
                      for d in need}
            for dname, defense in defenses.items():
                if dname in needed and certifies(defense):
                    model = defended(victim, defense, seed).fit(X_train, y_train)
                    certificates[dname, seed] = clean_certificate(model, X_test)
            self.timings_["clean"] += t1 - t0
            self.timings_["certificates"] += time.perf_counter() - t1
        return clean_pred, certificates

    def _jobs(self, pending, attack, clean_pred, certificates, store, flight, owner):
        """The pending tasks with what they run, logged as dispatched and kept
        in ``flight`` until their rows come back."""
        for task, need in pending:
            seed = task.key["seed"]
            if store is not None:
                store.log_attempt(self.run_id_, self.config_hash_, task.key, need)
            flight[task_key(task.key)] = task.key
            yield replace(task, attack=attack, defenses=need, owner=owner,
                          estimator=seed_unseeded(self.estimator, seed),
                          oracle_n_remove=self.oracle_n_remove,
                          clean_pred=clean_pred[seed],
                          certificates={d: certificates[d, seed] for d in need
                                        if (d, seed) in certificates})

    def _dispatch(self, jobs, data, n_total, n_pending, collect):
        """Step 5: run the tasks (in parallel) and hand each one's rows to
        ``collect`` as it finishes."""
        self.workers_ = _workers_text(self.backend, self.n_jobs)
        bar = tqdm(total=n_total, initial=n_total - n_pending,
                   disable=not self.progress, desc="audit", unit="attack")
        with bar, ExitStack() as stack:
            if self.backend is not None:
                # parallel_config also registers "dask" on first use
                stack.enter_context(parallel_config(backend=self.backend))
            outputs = run_tasks(jobs, data, self.n_jobs, stack) if n_pending else ()
            for task_rows in outputs:
                collect(task_rows)
                bar.update()

    def _collect(self, configs, rows, store, flight, task_rows):
        """Step 6: keep (and store) the rows of one finished task."""
        for row in map(normalize_row, task_rows):
            if store is not None:
                store.put(configs[row["filter"], row["defense"]][0], row)
            rows[task_key(row), row["defense"]] = row
            self.n_computed_ += 1
        flight.pop(task_key(task_rows[0]), None)

    def _clean_accuracy(self, seeds):
        """The clean model's test accuracy per seed, from one of its rows: its
        clean accuracies on the group and on the rest of the test rows, as
        counts (exact, also for seeds whose rows all came from the store)."""
        first = self.results_.drop_duplicates("seed").set_index("seed")
        n_test, n_target = self.n_rows_["test"], first["n_test"]
        right = (first["clean_target_accuracy"] * n_target
                 + first["clean_collateral_accuracy"].fillna(0) * (n_test - n_target))
        return {seed: round(right[seed]) / n_test for seed in seeds}

    def _why_empty(self):
        """Per finder, why none of its subpopulations is attacked."""
        reasons = []
        for fname, finder in self.fitted_finders_.items():
            kept, params = len(finder.subpopulations_), finder.get_params()
            if kept:
                reasons.append(f"{fname}: {kept} pass the size filter, "
                               f"{len(self.skipped_[fname])} of them have no test "
                               "rows (see skipped_)")
            else:
                reasons.append(f"{fname}: no subpopulation passes the size filter "
                               f"(min_size={params.get('min_size')}, max_size="
                               f"{params.get('max_size')}) on {self.n_rows_['aux']} "
                               "auxiliary rows")
        return reasons

    def _configs(self, data, attack, defenses, finder_configs):
        """Per (filter, defense), the configuration hash (of everything that
        determines a row) and what it hashes."""
        from .. import __version__

        base = {"skpoison": __version__, "estimator": canonical(self.estimator),
                "attack": canonical(attack),
                "oracle_n_remove": bool(self.oracle_n_remove),
                "data": [canonical(d) for d in data]}
        self.config_hash_ = config_hash(base)
        described = {}
        for (fname, finder), (dname, defense) in product(finder_configs.items(),
                                                         defenses.items()):
            config = dict(base, filter=fname, finder=finder, defense=dname,
                          defense_params=canonical(defense))
            described[fname, dname] = (config_hash(config), config)
        return described

    @property
    def setting_(self):
        """Deprecated: renamed ``config_hash_``; removed in skpoison 0.2."""
        value = self.config_hash_  # unfitted: AttributeError, and no warning
        warnings.warn("SubpopulationAudit.setting_ is deprecated and will be removed "
                      "in skpoison 0.2; use config_hash_ (the configuration hash).",
                      FutureWarning, stacklevel=2)
        return value

    def _check_run(self, method):
        if not hasattr(self, "results_"):
            raise RuntimeError(f"Call run() before {method}().")

    def run(self, X_train, y_train, X_aux, y_aux, X_test, y_test):
        """Run the sweep (or finish it, when ``store`` holds part of it).

        Parameters
        ----------
        X_train, y_train : array-like
            The victim's training rows (the paper's ``D``).
        X_aux, y_aux : array-like
            The attacker's rows (``D_aux``): finders are fitted on them and
            poisons drawn from them.
        X_test, y_test : array-like
            Rows on which damage is measured.

        Returns
        -------
        results : DataFrame
            Also stored as ``results_``.
        """
        start = time.perf_counter()
        alphas, seeds, attack, defenses = self._check_params()
        data = _check_data(X_train, y_train, X_aux, y_aux, X_test, y_test)
        check_attack(attack, self.estimator, data[1])
        self.timings_ = dict.fromkeys(["finders", "clean", "certificates"], 0.0)
        self.n_rows_ = dict(zip(("train", "aux", "test"), map(len, data[1::2])))
        # the store is opened (and checked) before any fitting
        with nullcontext() if self.store is None else ResultStore(self.store) as store:
            finder_configs, names = self._fit_finders(data[2], seeds)
            tasks, self.skipped_ = self._plan(names, data, alphas, seeds)
            self.not_attacked_ = _not_attacked(self.fitted_finders_, names, tasks,
                                               self.skipped_, data[2], self.describe)
            if not tasks:
                raise ValueError("The audit has nothing to attack: "
                                 + "; ".join(self._why_empty()) + ".")
            configs = self._configs(data, attack, defenses, finder_configs)
            rows, pending = self._load_stored(store, tasks, configs, defenses)
            self.n_reused_, self.n_computed_, self.run_id_ = len(rows), 0, new_run_id()
            clean_pred, certificates = self._fit_clean(data, pending, defenses)
            flight = {}  # dispatched tasks whose rows have not come back
            jobs = partial(self._jobs, pending, attack, clean_pred, certificates, store,
                           flight)
            collect = partial(self._collect, configs, rows, store, flight)
            try:
                self._dispatch(jobs, data, len(tasks), len(pending), collect)
            except BrokenProcessPool as exc:
                raise RuntimeError(_broken_pool(exc, flight, self.n_computed_,
                                                self.store)) from exc
        self.results_ = _report.with_intervals(pd.DataFrame(
            [rows[task_key(task.key), dname] for task in tasks for dname in defenses]),
            self.n_rows_["test"])
        check_certified(self.results_)
        self.warnings_ = _report.collected_warnings(self.results_)
        self.clean_accuracy_ = self._clean_accuracy(seeds)
        self.timings_["total"] = time.perf_counter() - start
        return self.results_

    def report(self, path, *, title=None):
        """Write the audit's report: one self-contained HTML page.

        The page holds what the console shows after a run (the clean model,
        the most vulnerable groups, whether each defense helped, the Top-k
        table), the figures (embedded PNGs): target damage by alpha and
        filter, damage per group, a 2-D map of the groups with the attacked
        ones coloured by damage, what each defense removed; and the run's
        parameters. Works on an audit reloaded from its store (run it again
        with the same ``store``: every row is loaded, nothing refitted but
        the finders).

        Parameters
        ----------
        path : str or Path
            A ``.html`` file, or a folder (``report.html`` is written in it).
        title : str, default=None
            The page's heading; ``None`` uses the audit's ``title``.

        Returns
        -------
        path : Path
            The file written.
        """
        self._check_run("report")
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            path = path / "report.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        sections = _report.report_sections(self)
        if title is not None:
            sections[0] = sections[0]._replace(content=title)
        path.write_text(render_html(sections), encoding="utf-8")
        return path

    def save(self, folder):
        """Write ``results.csv``, ``summary.csv`` and ``groups.csv`` in ``folder``.

        ``results.csv`` is ``results_`` without the per-row 0/1 strings
        (``target_correct``, ``random_target_correct``: a CSV reader would
        read them as numbers), which stay in ``results_`` and the store.
        Text cells that a spreadsheet would run as a formula (starting with
        ``=``, ``+``, ``-`` or ``@``: group, filter and defense names from the
        data) are written with a leading ``'``; numbers as they are.

        Parameters
        ----------
        folder : str or Path
            Created when missing.

        Returns
        -------
        paths : list of Path
            The files written.
        """
        self._check_run("save")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # the per-row 0/1 strings stay in results_ and the store: a CSV reader
        # would take "0110" for the number 110
        bits = ["target_correct", "random_target_correct"]
        tables = {"results.csv": self.results_.drop(columns=bits, errors="ignore"),
                  "summary.csv": self.summary().reset_index(),
                  "groups.csv": self.vulnerable_groups(top=None)}
        for name, table in tables.items():
            _report.csv_safe(table).to_csv(folder / name, index=False)
        return [folder / name for name in tables]

    def vulnerable_groups(self, top=10):
        """The groups an attacker damages most, by name; see the report.

        Parameters
        ----------
        top : int or None, default=10
            How many groups (over all finders); ``None`` keeps all.

        Returns
        -------
        table : DataFrame
            One row per group, ranked by the lower end of the 95% interval of
            its target damage at the largest alpha, the groups with fewer
            than ``min_test_rows`` test rows last (``measured`` False); see
            :func:`~skpoison.audit._report.vulnerable_groups` for the columns.
        """
        self._check_run("vulnerable_groups")
        return _report.vulnerable_groups(self.results_, top=top,
                                         min_test_rows=self.min_test_rows)

    def defense_effect(self):
        """Per defense and alpha: the groups it clearly helped or hurt, and its cost.

        Returns
        -------
        table : DataFrame
            The counts of groups whose target damage the defense clearly
            lowered (``helped``), raised (``hurt``) or left unclear, by a 95%
            interval on the paired difference (same poisoned rows, same test
            rows, same seeds), the worst damage without and with it, with a
            random filter removing as many rows and with a perfect filter,
            and what it removed. Empty when only one defense ran.
        """
        self._check_run("defense_effect")
        return _report.defense_effect(self.results_, n_clean=self.n_rows_["train"])

    def certified_groups(self, top=10):
        """What each certifying defense promises the most vulnerable groups.

        Parameters
        ----------
        top : int or None, default=10
            The groups of :meth:`vulnerable_groups`, in its order; ``None``
            keeps all.

        Returns
        -------
        table : DataFrame
            One row per certifying defense (such as
            :class:`~skpoison.defenses.PartitionAggregation`), group and
            alpha: the rows the attack added (``poisons``), the target damage
            without and with the defense, the defended model's accuracy on
            the group after the attack (``accuracy with``), and its
            certificate, fitted on the clean rows: the shares of the group's
            test rows ``certified`` against ``poisons`` added rows, and
            ``certified & correct`` (a lower bound on ``accuracy with`` under
            any attack of that size). Means over seeds. Empty when no
            certifying defense ran.
        """
        self._check_run("certified_groups")
        return _report.certified_groups(self.results_, top=top)

    def summary(self, top=(1, 5, 10)):
        """The paper's reporting: Top-k mean target damage per filter and alpha.

        Damage is first averaged over seeds per subpopulation; subpopulations
        are then ranked by target damage.

        Parameters
        ----------
        top : sequence of int, default=(1, 5, 10)

        Returns
        -------
        summary : DataFrame
            Indexed by (filter, defense, alpha), with columns ``top<k>`` (mean
            target damage of the k most damaged subpopulations),
            ``mean_target``, ``mean_collateral``, ``max_collateral``,
            ``n_subpopulations`` and ``worst`` (the most damaged one).
        """
        self._check_run("summary")
        return _report.summarize(self.results_, top=top)

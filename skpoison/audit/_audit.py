"""SubpopulationAudit: every subpopulation x alpha x seed x defense, in parallel."""

import os
import tempfile
import time
from contextlib import ExitStack
from numbers import Integral, Real

import joblib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from joblib.parallel import BACKENDS, get_active_backend
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from tqdm.auto import tqdm

from ..attacks import BasePoisoningAttack, LabelFlip
from ..metrics import subpopulation_damage
from ..utils._seeding import seed_unseeded
from ._store import ResultStore, canonical, new_run_id, normalize_row, setting_hash


def _short(value):
    """``annotation:sex`` -> ``sex``; ``2.0`` -> ``2``: names that read well."""
    if isinstance(value, str):
        return value.removeprefix("annotation:")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def describe_subpopulation(finder, subpopulation):
    """A short human-readable name for a subpopulation.

    For :class:`~skpoison.subpopulations.FeatureMatch` on one-hot annotation
    columns, the names of the columns set to 1 (``"base"`` when none is, i.e.
    the dropped base categories); otherwise ``column=value`` pairs, or
    ``"cluster <id>"``.
    """
    if hasattr(finder, "describe"):
        values = finder.describe(subpopulation)
        combos = getattr(finder, "combinations_", [tuple(values.values())])
        # one-hot columns: several columns, each 0/1 in every combination
        # (a single 0/1 column, or integer codes, read better as column=value)
        one_hot = len(values) > 1 and all(
            v in (0, 1, 0.0, 1.0, True, False) for combo in combos for v in combo)
        if one_hot:
            on = [_short(k) for k, v in values.items() if v]
            return " & ".join(on) if on else "base categories"
        return ", ".join(f"{_short(k)}={_short(v)}" for k, v in values.items())
    return f"cluster {subpopulation}"


class _AuditData:
    """The audit's six arrays in one weakrefable object.

    joblib's Dask backend scatters weakrefable arguments larger than 1 kB to
    the workers once, instead of embedding them in every task, and Dask
    measures them with ``sys.getsizeof``, hence ``__sizeof__``.
    """

    def __init__(self, *arrays):
        self.arrays = arrays

    def __sizeof__(self):
        total = 0
        for a in self.arrays:
            if isinstance(a, (pd.DataFrame, pd.Series)):
                total += int(np.sum(a.memory_usage(index=False)))
            else:
                total += int(getattr(a, "nbytes", getattr(getattr(a, "data", None),
                                                          "nbytes", 0)))
        return object.__sizeof__(self) + total


def _run_task(attack, finder, estimator, defenses, oracle_n_remove, data, clean_pred,
              test_mask, key):
    """Poison once, then fit the victim behind each defense; one row each.

    Every row records ``attack_seconds`` (the attack's ``fit_resample``, the
    same for all rows of one poisoning) and ``fit_seconds`` (that row's
    ``fit``), so the harness's overhead can be measured against the fits.
    """
    X_train, y_train, X_aux, y_aux, X_test, y_test = data.arrays
    attack = clone(attack).set_params(subpopulation=finder, alpha=key["alpha"],
                                      aux=(X_aux, y_aux), random_state=key["seed"])
    start = time.perf_counter()
    X_res, y_res = attack.fit_resample(X_train, y_train)
    attack_seconds = time.perf_counter() - start
    poison = attack.poison_mask_
    rows = []
    for name, defense in defenses.items():
        model = clone(estimator)
        if defense is not None:
            model = clone(defense).set_params(estimator=model)
            if oracle_n_remove and "n_remove" in model.get_params(deep=False):
                model.set_params(n_remove=int(attack.n_poison_))
            if "random_state" in model.get_params(deep=False):
                model.set_params(random_state=key["seed"])
        t0 = time.perf_counter()
        model.fit(X_res, y_res)
        fit_seconds = time.perf_counter() - t0
        pred = model.predict(X_test)
        dmg = subpopulation_damage(clean_pred, pred, None, y_test, test_mask)
        row = dict(key, defense=name, n_poison=int(attack.n_poison_),
                   n_train=int(attack.n_subpopulation_),
                   clean_target_accuracy=dmg.clean_target_accuracy,
                   poisoned_target_accuracy=dmg.poisoned_target_accuracy,
                   target_damage=dmg.target_damage,
                   clean_collateral_accuracy=dmg.clean_collateral_accuracy,
                   poisoned_collateral_accuracy=dmg.poisoned_collateral_accuracy,
                   collateral_damage=dmg.collateral_damage,
                   n_test=dmg.n_target)
        support = getattr(model, "support_mask_", None)
        if support is not None:
            # the fraction of the poison rows, and of the clean rows, it removed
            row["poison_removed"] = (float(np.mean(~support[poison]))
                                     if poison.any() else float("nan"))
            row["clean_removed"] = float(np.mean(~support[~poison]))
        row["fit_seconds"] = fit_seconds
        row["attack_seconds"] = attack_seconds
        rows.append(row)
    return rows


def _task_id(row):
    return (row["filter"], row["subpopulation"], row["alpha"], row["seed"])


def _shared_once(data, n_jobs, stack):
    """``data`` for the tasks: memory-mapped from one file on process backends.

    loky and multiprocessing workers otherwise receive the arrays with every
    task, and joblib hashes each large array in the parent to find its
    memory map again: on the UCI Adult audit about 20 ms of the parent's CPU
    per task, taken from the workers on a 2-core machine. Dumped once and
    loaded with ``mmap_mode="r"``, the arrays (also those inside DataFrames)
    are read-only memory maps, which joblib sends as a file name and offset;
    the workers see exactly what joblib's automatic memory mapping gives
    them. Other backends (threads, Dask, which scatters ``data`` once) get
    ``data`` as it is.
    """
    backend, default_n_jobs = get_active_backend()
    if n_jobs is None:  # as joblib.Parallel: parallel_config's n_jobs, else 1
        n_jobs = default_n_jobs
    processes = tuple(BACKENDS[name] for name in ("loky", "multiprocessing")
                      if name in BACKENDS)
    if not isinstance(backend, processes) or backend.effective_n_jobs(n_jobs) == 1:
        return data
    base = os.environ.get("JOBLIB_TEMP_FOLDER")
    if base:
        os.makedirs(base, exist_ok=True)  # as joblib does for its own files
    folder = stack.enter_context(tempfile.TemporaryDirectory(
        prefix="skpoison-audit-", dir=base or None, ignore_cleanup_errors=True))
    path = os.path.join(folder, "data.pkl")
    joblib.dump(data.arrays, path)
    return _AuditData(*joblib.load(path, mmap_mode="r"))


def _parallel(n_jobs):
    """joblib.Parallel yielding results as they finish, where the backend can."""
    try:
        return Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    except ValueError:  # e.g. "multiprocessing": results arrive all at once
        return Parallel(n_jobs=n_jobs)


def _subpopulation_map(fname, finder, X_aux):
    """2-D coordinates of the kept subpopulations: PCA of their centroids."""
    ids = np.asarray(finder.predict(X_aux))
    if isinstance(X_aux, pd.DataFrame):
        num = X_aux.select_dtypes(include=["number", "bool"]).to_numpy(dtype=float)
    else:
        num = np.asarray(X_aux.toarray() if hasattr(X_aux, "toarray") else X_aux,
                         dtype=float)
    sub = np.asarray(finder.subpopulations_)
    out = pd.DataFrame({"filter": fname, "subpopulation": sub.astype(int),
                        "description": [describe_subpopulation(finder, s) for s in sub],
                        "n_aux": np.asarray(finder.sizes_, dtype=int),
                        "x": 0.0, "y": 0.0})
    if num.ndim != 2 or num.shape[1] == 0 or len(sub) < 2:
        return out
    scale = num.std(axis=0)
    num = (num - num.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    centroids = np.vstack([num[ids == s].mean(axis=0) for s in sub])
    n_comp = min(2, centroids.shape[1], len(sub))
    coords = PCA(n_components=n_comp, random_state=0).fit_transform(centroids)
    out["x"] = coords[:, 0]
    if n_comp > 1:
        out["y"] = coords[:, 1]
    return out


class SubpopulationAudit:
    """Attack every subpopulation, at every rate, behind every defense.

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
        defense's ``estimator`` is replaced by the victim. ``None`` means
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
        returns the ids, e.g. :func:`~skpoison.audit.by_confidence`, the
        paper's least-confident-first order. ``None``: every kept
        subpopulation, in id order.

    store : str or Path, default=None
        A SQLite file (created when missing) that keeps one row per finished
        (setting, filter, subpopulation, alpha, seed, defense), committed as
        each unit finishes. Running an audit again with the same store loads
        the stored rows of the same setting and computes only the rest, so an
        interrupted audit resumes where it stopped and returns the same
        results as an uninterrupted one (timing columns excepted). The
        setting is a hash of everything that determines a row: the victim,
        attack, finder and defense parameters, ``oracle_n_remove``, the
        skpoison version and fingerprints of the six data arrays. ``None``
        keeps nothing.

    resume : bool, default=True
        Use the rows already in ``store``. ``False`` recomputes every unit
        and overwrites its stored row.

    Attributes
    ----------
    results_ : DataFrame
        One row per (filter, subpopulation, alpha, seed, defense), in task
        order whatever the backend and whatever was resumed. Besides the
        damage columns: ``poison_removed`` and ``clean_removed`` (fractions
        of the poison and of the clean training rows a defense with a
        ``support_mask_`` removed), ``fit_seconds`` (the row's fit) and
        ``attack_seconds`` (its poisoning).

    fitted_finders_ : dict
        The finders fitted on the auxiliary rows.

    skipped_ : dict
        Per filter, the kept subpopulations skipped because they have no test
        rows (their damage is undefined).

    subpopulation_map_ : DataFrame
        Per filter and kept subpopulation: ``description``, ``n_aux`` and 2-D
        coordinates ``x``, ``y`` (PCA of the standardised centroids of its
        auxiliary rows), for the report's map.

    setting_ : str
        Hash of the audit-wide part of the setting (victim, attack, options,
        data).

    n_computed_, n_reused_ : int
        Result rows computed by this ``run`` and loaded from ``store``.

    clean_accuracy_ : dict
        Test accuracy of the clean victim per seed (seeds whose every row came
        from ``store`` fit no clean model and are absent).

    timings_ : dict
        Seconds spent fitting the finders (``"finders"``), the clean models
        (``"clean"``) and in the whole ``run`` (``"total"``).

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
                 subpopulation_order=None, store=None, resume=True):
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

    def _check_params(self):
        if not isinstance(self.finders, dict) or not self.finders:
            raise ValueError("finders must be a non-empty dict of name -> finder.")
        for name, finder in self.finders.items():
            if not (hasattr(finder, "fit") and hasattr(finder, "membership")):
                raise TypeError(f"finders[{name!r}] is not a subpopulation finder.")
        alphas = list(self.alphas)
        if not alphas or any(not isinstance(a, Real) or a < 0 for a in alphas):
            raise ValueError(f"alphas must be non-negative numbers; got {alphas}.")
        seeds = list(self.seeds)
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
        if self.store is not None and not isinstance(self.store, (str, os.PathLike)):
            raise TypeError(f"store must be a path or None; got {self.store!r}.")
        return alphas, seeds, attack, defenses

    def _ordered(self, fname, finder, data):
        """Kept (id, size) pairs in the order ``subpopulation_order`` gives."""
        sizes = dict(zip(finder.subpopulations_.tolist(), finder.sizes_.tolist()))
        order = self.subpopulation_order
        if order is None:
            return list(sizes.items())
        if callable(order):
            ids = order(fname, finder, data[2], data[3])
        else:
            ids = order.get(fname)
            if ids is None:
                return list(sizes.items())
        ids = [int(i) for i in ids]
        unknown = [i for i in ids if i not in sizes]
        if unknown:
            raise ValueError(
                f"subpopulation_order for {fname!r} names ids that are not kept "
                f"subpopulations of the fitted finder: {unknown[:10]}.")
        return [(i, sizes[i]) for i in ids]

    def _tasks(self, data, alphas, seeds):
        _, _, X_aux, _, X_test, _ = data
        self.fitted_finders_, self.skipped_ = {}, {}
        self._finder_settings, maps = {}, []
        for fname, finder in self.finders.items():
            finder = clone(finder)
            if "random_state" in finder.get_params(deep=False) \
                    and finder.get_params()["random_state"] is None:
                finder.set_params(random_state=seeds[0])
            self._finder_settings[fname] = canonical(finder)
            t0 = time.perf_counter()
            finder.fit(X_aux)
            self.timings_["finders"] += time.perf_counter() - t0
            self.fitted_finders_[fname] = finder
            maps.append(_subpopulation_map(fname, finder, X_aux))
            test_ids = finder.predict(X_test)
            self.skipped_[fname] = []
            n_done = 0
            for sid, size in self._ordered(fname, finder, data):
                if self.max_subpopulations is not None \
                        and n_done >= self.max_subpopulations:
                    break
                test_mask = test_ids == sid
                if not test_mask.any():
                    self.skipped_[fname].append(int(sid))
                    continue
                n_done += 1
                frozen = FrozenEstimator(finder.retarget(int(sid)))
                label = describe_subpopulation(finder, sid)
                for alpha in alphas:
                    for seed in seeds:
                        key = {"filter": fname, "subpopulation": int(sid),
                               "description": label, "n_aux": int(size),
                               "alpha": float(alpha), "seed": int(seed)}
                        yield frozen, seed, test_mask, key
        self.subpopulation_map_ = pd.concat(maps, ignore_index=True)

    def _settings(self, data, attack, defenses):
        """Per (filter, defense), the hash of everything that determines a row."""
        from .. import __version__

        base = {"skpoison": __version__, "estimator": canonical(self.estimator),
                "attack": canonical(attack),
                "oracle_n_remove": bool(self.oracle_n_remove),
                "data": [canonical(d) for d in data]}
        self.setting_ = setting_hash(base)
        described = {}
        for fname, finder in self._finder_settings.items():
            for dname, defense in defenses.items():
                setting = dict(base, filter=fname, finder=finder, defense=dname,
                               defense_params=canonical(defense))
                described[fname, dname] = (setting_hash(setting), setting)
        return described

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
        self.timings_ = {"finders": 0.0, "clean": 0.0, "total": 0.0}
        y_train, y_aux, y_test = (np.asarray(v) for v in (y_train, y_aux, y_test))
        data = (X_train, y_train, X_aux, y_aux, X_test, y_test)
        shared = _AuditData(*data)
        tasks = list(self._tasks(data, alphas, seeds))
        settings = self._settings(data, attack, defenses)
        store = None if self.store is None else ResultStore(self.store)
        try:
            done = {}
            if store is not None:
                for setting, description in settings.values():
                    store.describe(setting, description)
                if self.resume:
                    done = store.load(s for s, _ in settings.values())
            unit = {}  # (task index, defense) -> store key
            pending = []
            for i, (_, _, _, key) in enumerate(tasks):
                need = {}
                for dname, defense in defenses.items():
                    row = dict(key, defense=dname)
                    unit[i, dname] = ResultStore.unit(settings[key["filter"], dname][0],
                                                      row)
                    if unit[i, dname] not in done:
                        need[dname] = defense
                if need:
                    pending.append((i, need))
            rows = {task: done[key] for task, key in unit.items() if key in done}
            self.n_reused_ = len(rows)
            self.n_computed_ = 0
            self.run_id_ = new_run_id()

            clean_pred, self.clean_accuracy_ = {}, {}
            for seed in sorted({tasks[i][1] for i, _ in pending}):
                t0 = time.perf_counter()  # the clean model: once per seed
                clean = seed_unseeded(self.estimator, seed).fit(X_train, y_train)
                clean_pred[seed] = np.asarray(clean.predict(X_test))
                self.timings_["clean"] += time.perf_counter() - t0
                self.clean_accuracy_[seed] = float(np.mean(clean_pred[seed] == y_test))

            def jobs():
                for i, need in pending:
                    finder, seed, mask, key = tasks[i]
                    if store is not None:
                        store.log_attempt(self.run_id_, self.setting_, key, need)
                    yield delayed(_run_task)(attack, finder,
                                             seed_unseeded(self.estimator, seed),
                                             need, self.oracle_n_remove, shared,
                                             clean_pred[seed], mask, key)

            index = {_task_id(key): i for i, (_, _, _, key) in enumerate(tasks)}
            bar = tqdm(total=len(tasks), initial=len(tasks) - len(pending),
                       disable=not self.progress, desc="audit", unit="attack")
            with bar, ExitStack() as stack:
                if self.backend is not None:
                    # parallel_config also registers "dask" on first use
                    stack.enter_context(parallel_config(backend=self.backend))
                if pending:
                    shared = _shared_once(shared, self.n_jobs, stack)
                for task_rows in _parallel(self.n_jobs)(jobs()):
                    for row in task_rows:
                        row = normalize_row(row)
                        i = index[_task_id(row)]
                        if store is not None:
                            store.put(unit[i, row["defense"]][0], row)
                        rows[i, row["defense"]] = row
                        self.n_computed_ += 1
                    bar.update()
        finally:
            if store is not None:
                store.close()
        self.results_ = pd.DataFrame(
            [rows[i, dname] for i in range(len(tasks)) for dname in defenses])
        self.timings_["total"] = time.perf_counter() - start
        return self.results_

    def report(self, path, *, title="skpoison audit"):
        """Write the audit's report: one self-contained HTML page.

        The page holds the run's settings, the Top-k tables and figures
        (embedded PNGs): target damage by alpha and filter, damage per
        subpopulation, a 2-D map of the subpopulations with the attacked
        ones coloured by damage, and what each defense removed.

        Parameters
        ----------
        path : str or Path
            A ``.html`` file, or a folder (``report.html`` is written in it).
        title : str, default="skpoison audit"
            The page's heading.

        Returns
        -------
        path : Path
            The file written.
        """
        if not hasattr(self, "results_"):
            raise RuntimeError("Call run() before report().")
        from ._report import write_report

        return write_report(self, path, title=title)

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
        if not hasattr(self, "results_"):
            raise RuntimeError("Call run() before summary().")
        return summarize(self.results_, top=top)


def summarize(results, top=(1, 5, 10)):
    """Top-k table from an audit's results DataFrame; see ``SubpopulationAudit.summary``."""
    per_sub = (results.groupby(["filter", "defense", "alpha", "subpopulation",
                                "description"], sort=False)
               [["target_damage", "collateral_damage"]].mean().reset_index())
    out = []
    for (fname, defense, alpha), grp in per_sub.groupby(["filter", "defense", "alpha"],
                                                         sort=False):
        grp = grp.sort_values("target_damage", ascending=False, kind="stable")
        row = {"filter": fname, "defense": defense, "alpha": alpha}
        for k in top:
            row[f"top{k}"] = grp.target_damage.head(k).mean()
        row["mean_target"] = grp.target_damage.mean()
        row["mean_collateral"] = grp.collateral_damage.mean()
        row["max_collateral"] = grp.collateral_damage.max()
        row["n_subpopulations"] = len(grp)
        row["worst"] = grp.description.iloc[0]
        out.append(row)
    return pd.DataFrame(out).set_index(["filter", "defense", "alpha"]).sort_index()


def plot_summary(results, path=None):
    """Figure: Top-1/Top-5/mean target damage and collateral damage by alpha.

    Parameters
    ----------
    results : DataFrame
        ``SubpopulationAudit.results_``.
    path : str or Path, default=None
        Write a PNG there when given.

    Returns
    -------
    fig : matplotlib Figure
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summarize(results, top=(1, 5)).reset_index()
    filters = list(dict.fromkeys(table["filter"]))
    fig, axes = plt.subplots(1, len(filters), figsize=(5.5 * len(filters), 4),
                             squeeze=False, sharey=True)
    for ax, fname in zip(axes[0], filters):
        sub = table[table["filter"] == fname]
        for defense, grp in sub.groupby("defense", sort=False):
            style = "-" if defense == "none" else "--"
            ax.plot(grp.alpha, grp.top1, "o" + style, label=f"top-1 ({defense})")
            ax.plot(grp.alpha, grp.top5, "s" + style, label=f"top-5 mean ({defense})")
            ax.plot(grp.alpha, grp.mean_collateral, "x" + style,
                    label=f"mean collateral ({defense})")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(fname)
        ax.set_xlabel("alpha (poisons / subpopulation size)")
        ax.set_ylabel("damage (accuracy points lost)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

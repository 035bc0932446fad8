"""SubpopulationAudit: every subpopulation x alpha x seed x defense, in parallel."""

import time
from numbers import Integral, Real

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from tqdm.auto import tqdm

from ..attacks import BasePoisoningAttack, LabelFlip
from ..metrics import subpopulation_damage
from ..utils._seeding import seed_unseeded


def describe_subpopulation(finder, subpopulation):
    """A short human-readable name for a subpopulation.

    For :class:`~skpoison.subpopulations.FeatureMatch` on one-hot annotation
    columns, the names of the columns set to 1 (``"base"`` when none is, i.e.
    the dropped base categories); otherwise ``column=value`` pairs, or
    ``"cluster <id>"``.
    """
    if hasattr(finder, "describe"):
        values = finder.describe(subpopulation)
        if all(v in (0, 1, 0.0, 1.0, True, False) for v in values.values()):
            on = [str(k) for k, v in values.items() if v]
            return " & ".join(on) if on else "base categories"
        return ", ".join(f"{k}={v}" for k, v in values.items())
    return f"cluster {subpopulation}"


def _run_task(attack, estimator, defenses, oracle_n_remove, data, clean_pred,
              test_mask, key):
    """Poison once, then fit the victim behind each defense; one row each."""
    X_train, y_train, X_aux, y_aux, X_test, y_test = data
    start = time.perf_counter()
    X_res, y_res = attack.fit_resample(X_train, y_train)
    rows = []
    for name, defense in defenses.items():
        t0 = time.perf_counter()
        model = clone(estimator)
        if defense is not None:
            model = clone(defense).set_params(estimator=model)
            if oracle_n_remove and "n_remove" in model.get_params(deep=False):
                model.set_params(n_remove=int(attack.n_poison_))
            if "random_state" in model.get_params(deep=False):
                model.set_params(random_state=key["seed"])
        model.fit(X_res, y_res)
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
        poison = attack.poison_mask_
        if support is not None:
            row["poison_removed"] = (float(np.mean(~support[poison]))
                                     if poison.any() else float("nan"))
            row["clean_removed"] = float(np.mean(~support[~poison]))
        row["fit_seconds"] = time.perf_counter() - t0
        rows.append(row)
    rows[0]["attack_seconds"] = time.perf_counter() - start
    return rows


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
        joblib backend (e.g. ``"loky"``, ``"threading"``, or ``"dask"`` within
        a :func:`joblib.parallel_config` context).

    progress : bool, default=True
        Show a progress bar.

    max_subpopulations : int, default=None
        Attack only the first this many kept subpopulations of each finder
        (for a quick look); ``None`` attacks all of them.

    Attributes
    ----------
    results_ : DataFrame
        One row per (filter, subpopulation, alpha, seed, defense).

    fitted_finders_ : dict
        The finders fitted on the auxiliary rows.

    skipped_ : dict
        Per filter, the kept subpopulations skipped because they have no test
        rows (their damage is undefined).

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
                 backend=None, progress=True, max_subpopulations=None):
        self.estimator = estimator
        self.finders = finders
        self.attack = attack
        self.alphas = alphas
        self.seeds = seeds
        self.defenses = defenses
        self.oracle_n_remove = oracle_n_remove
        self.n_jobs = n_jobs
        self.backend = backend
        self.progress = progress
        self.max_subpopulations = max_subpopulations

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
        return alphas, seeds, attack, defenses

    def _tasks(self, data, attack, alphas, seeds):
        X_train, y_train, X_aux, y_aux, X_test, y_test = data
        self.fitted_finders_, self.skipped_ = {}, {}
        for fname, finder in self.finders.items():
            finder = clone(finder)
            if "random_state" in finder.get_params(deep=False) \
                    and finder.get_params()["random_state"] is None:
                finder.set_params(random_state=seeds[0])
            finder.fit(X_aux)
            self.fitted_finders_[fname] = finder
            test_ids = finder.predict(X_test)
            self.skipped_[fname] = []
            n_done = 0
            for sid, size in zip(finder.subpopulations_, finder.sizes_):
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
                        att = clone(attack).set_params(
                            subpopulation=frozen, alpha=alpha, aux=(X_aux, y_aux),
                            random_state=seed)
                        key = dict(filter=fname, subpopulation=int(sid),
                                   description=label, n_aux=int(size),
                                   alpha=float(alpha), seed=int(seed))
                        yield att, seed, test_mask, key

    def run(self, X_train, y_train, X_aux, y_aux, X_test, y_test):
        """Run the sweep.

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
        alphas, seeds, attack, defenses = self._check_params()
        y_train, y_aux, y_test = (np.asarray(v) for v in (y_train, y_aux, y_test))
        data = (X_train, y_train, X_aux, y_aux, X_test, y_test)
        clean_pred = {}
        for seed in seeds:  # the clean model: once per seed
            clean = seed_unseeded(self.estimator, seed).fit(X_train, y_train)
            clean_pred[seed] = np.asarray(clean.predict(X_test))
        tasks = list(self._tasks(data, attack, alphas, seeds))
        jobs = (delayed(_run_task)(att, seed_unseeded(self.estimator, seed), defenses,
                                   self.oracle_n_remove, data, clean_pred[seed],
                                   mask, key)
                for att, seed, mask, key in tasks)
        parallel = Parallel(n_jobs=self.n_jobs, backend=self.backend,
                            return_as="generator")
        rows = []
        for task_rows in tqdm(parallel(jobs), total=len(tasks), disable=not self.progress,
                              desc="audit", unit="attack"):
            rows.extend(task_rows)
        self.results_ = pd.DataFrame(rows)
        return self.results_

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

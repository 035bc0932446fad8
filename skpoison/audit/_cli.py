"""The command line: ``skpoison audit``.

``skpoison audit`` audits the bundled UCI Adult data (``--dataset`` picks
another bundled setting); ``skpoison audit --data FILE --target COLUMN``
audits a user's own table. Every option is checked, every file read and
every output path tested before any fitting starts (the finders' sizes, which
depend on the attacker's rows, as soon as the data is loaded): a usage error
prints one line, ``skpoison: error: <option>: <problem>``, exits with status 2
and writes no result.
"""

import argparse
import importlib
import os
import signal
import sys
import textwrap
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ._data import ANNOTATION_PREFIX, SettingError
from ._parts import ATTACKS, DEFENSES, TABLE_MODELS
from ._settings import FINDERS, SETTINGS, check_attack, on_accelerator, table_setting

# Python parameter -> command-line option, for SettingError
OPTIONS = {"data": "--data", "target": "--target", "test": "--test", "aux": "--aux",
           "features": "--features", "estimator": "--estimator", "model": "--model",
           "attack": "--attack", "n_samples": "--n-samples", "filters": "--filters",
           "defenses": "--defenses", "order": "--order",
           "defense_params": "--n-partitions", "n_clusters": "--n-clusters",
           "min_size": "--min-size", "max_size": "--max-size"}


class UsageError(Exception):
    """A bad option: printed as ``skpoison: error: OPTION: MESSAGE``, status 2."""

    def __init__(self, option, message):
        super().__init__(f"{option}: {message}" if option else message)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"skpoison: error: {message}\n")


def _floats(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers: {text!r}")
    if not values or any(not (0 <= v <= 1000) for v in values):
        # the attacks' own bound on alpha: checked here, before any work
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers in [0, 1000]: {text!r}")
    return values


def _ints(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}")
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}")
    return values


def _names(choices):
    def parse(text):
        names = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in names if v not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(choices)}; got {text!r}")
        return names
    return parse


def _columns(text):
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names: {text!r}")
    return names


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer: {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer: {text!r}")
    return value


def _count(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0: {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0: {text!r}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer (-1: every core): {text!r}")
    if value == 0:
        raise argparse.ArgumentTypeError("0 jobs cannot run anything; use -1 for every "
                                         "core, or a positive number")
    return value


def _n_samples(text):
    if text == "full":
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 10:
        raise argparse.ArgumentTypeError(f"expected an integer >= 10 or 'full': {text!r}")
    return value


def build_parser():
    """The ``skpoison`` argument parser."""
    parser = _Parser(
        prog="skpoison",
        description="Subpopulation data poisoning audits (Jagielski et al., "
                    "'Subpopulation Data Poisoning Attacks', CCS 2021).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    audit = sub.add_parser(
        "audit",
        help="which groups of a training set could an attacker silently damage?",
        description=textwrap.fill(
            "Attack every subpopulation (FeatureMatch: the value combinations of "
            "chosen columns; ClusterMatch: k-means clusters) by label flipping, train "
            "the victim without and with each defense, and report the groups whose "
            "accuracy an attacker damages most and whether the defenses helped. "
            "Without --data: the bundled UCI Adult data (or --dataset).", 79),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent("""\
            examples:
              skpoison audit --data train.csv --target income --features race,sex
              skpoison audit --data train.parquet --target y --test test.parquet --model hgb
              skpoison audit --data train.csv --target y --estimator mymodels:make_model
              skpoison audit --dataset compas --model mlp --report report/
            """),
    )
    data = audit.add_argument_group("your data")
    data.add_argument("--data", metavar="FILE", default=None,
                      help="a table to audit (.csv, .tsv or .parquet; with its target "
                           "column): the training rows, split into training / attacker "
                           "/ test rows unless --test / --aux are given")
    data.add_argument("--target", metavar="COLUMN", default=None,
                      help="the column to predict (needed with --data)")
    data.add_argument("--test", metavar="FILE", default=None,
                      help="held-out rows on which damage is measured (same columns)")
    data.add_argument("--aux", metavar="FILE", default=None,
                      help="the attacker's own rows, from which poisons are drawn "
                           "(same columns)")
    data.add_argument("--features", metavar="COL,COL", type=_columns, default=None,
                      help="columns whose value combinations are FeatureMatch's groups "
                           "(e.g. race,sex; a missing value is a group value); without "
                           "it only ClusterMatch runs")
    data.add_argument("--estimator", metavar="MODULE:FUNCTION", default=None,
                      help="your victim: a function returning an unfitted scikit-learn "
                           "classifier, imported from MODULE (the current folder "
                           "included); never a pickled model")
    bundled = audit.add_argument_group("bundled data")
    bundled.add_argument("--dataset", choices=list(SETTINGS), default=None,
                         help="a bundled setting: adult (default; the UCI data), "
                              "fashion-mnist (images), rotten-tomatoes (text), german, "
                              "compas")
    bundled.add_argument("--n-samples", type=_n_samples, default=None,
                         help="rows in each of D, D_aux and test (default: a CPU-sized "
                              "subset for images and text, all rows otherwise; 'full' "
                              "for every row)")
    models = sorted({m for s in SETTINGS.values() for m in s.models} | set(TABLE_MODELS))
    run = audit.add_argument_group("what to run")
    run.add_argument("--model", choices=models, default=None,
                     help="victim model; tables (yours, adult, german, compas): lr "
                          "(default), hgb, rf, mlp (10 hidden units), torch-mlp (the same "
                          "net in skorch; not german/compas); fashion-mnist: ll "
                          "(default; linear head on frozen EfficientNet-Lite0 features), "
                          "ft (fine-tuned), cnn (the paper's small CNN), lr (pixels); "
                          "rotten-tomatoes: ll (default; MiniLM features), ft")
    run.add_argument("--device", default=None,
                     help="torch device of the torch parts (torch-mlp, ll, ft, cnn): "
                          "cpu (default), cuda, cuda:1, mps...; with an accelerator "
                          "--n-jobs defaults to 1")
    run.add_argument("--attack", choices=ATTACKS, default="labelflip",
                     help="poison generator: labelflip (default, the paper's Adult "
                          "attack), gradient or influence (optimised poisons; numeric "
                          "columns only)")
    run.add_argument("--filters", type=_names(FINDERS), default=None,
                     help="comma-separated finders (default: both; FeatureMatch on "
                          "your data needs --features)")
    run.add_argument("--alphas", type=_floats, default=[0.5, 1.0, 2.0],
                     help="poisoning rates: poison rows per training row of the group "
                          "(default: 0.5,1,2)")
    run.add_argument("--seeds", type=_ints, default=[0],
                     help="seeds; each seeds one run of every attack (default: 0)")
    run.add_argument("--defenses", "--defense", type=_names(DEFENSES),
                     default=["none", "trim"],
                     help="comma-separated defenses: none, trim, sever, ac "
                          "(activation clustering), ss (spectral signatures), "
                          "fine-pruning (torch nets), dpa (Deep Partition "
                          "Aggregation, a certified defense: its certificate is "
                          "reported per group) (default: none,trim)")
    run.add_argument("--n-partitions", type=_positive, default=None, metavar="K",
                     help="partitions of dpa (default: 50); it certifies at most "
                          "K/2 added rows, and each partition trains on 1/K of the "
                          "rows")
    run.add_argument("--order", choices=["confidence", "id"], default=None,
                     help="which subpopulations first: confidence (least confident "
                          "attacker model first, the paper's images and text; default "
                          "for them) or id (default for tables)")
    run.add_argument("--n-clusters", type=_positive, default=None,
                     help="ClusterMatch clusters (default: 100 as the paper, 25 on "
                          "tables of at most 6,000 rows)")
    run.add_argument("--min-size", type=_count, default=None,
                     help="keep groups with more attacker rows than this (default: "
                          "10 on adult, scaled with the size elsewhere)")
    run.add_argument("--max-size", type=_positive, default=None,
                     help="keep groups with fewer attacker rows than this (default: "
                          "100 on adult, a tenth of the attacker's rows elsewhere)")
    run.add_argument("--max-subpopulations", type=_positive, default=None,
                     help="attack only this many subpopulations per filter")
    run.add_argument("--n-jobs", type=_n_jobs, default=None,
                     help="parallel jobs (default: -1, every core; 1 with an "
                          "accelerator --device)")
    run.add_argument("--random-state", type=int, default=0,
                     help="seed of the data split and clustering (default: 0)")
    out = audit.add_argument_group("output")
    out.add_argument("--out", type=Path, default=Path("skpoison_audit"),
                     help="output folder for results.csv, summary.csv, groups.csv, "
                          "damage.png (default: skpoison_audit)")
    out.add_argument("--store", type=Path, default=None,
                     help="SQLite result store that makes the audit resumable: each "
                          "finished unit is committed at once, and a re-run skips "
                          "what it holds; one audit writes to a store at a time, a "
                          "second is refused (default: OUT/audit.sqlite)")
    out.add_argument("--no-store", action="store_true", help="keep no result store")
    out.add_argument("--fresh", action="store_true",
                     help="recompute everything, overwriting stored rows")
    out.add_argument("--report", type=Path, default=None, metavar="PATH",
                     help="write a self-contained HTML report: PATH if it ends in "
                          ".html, else PATH/report.html")
    out.add_argument("--backend", default=None,
                     help="joblib backend (default: loky processes; e.g. threading)")
    out.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="run on the Dask distributed cluster whose scheduler is at "
                          "ADDRESS (e.g. tcp://10.0.0.5:8786); needs dask[distributed]")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    out.add_argument("--traceback", action="store_true",
                     help="on an error, show Python's traceback too")
    return parser


# ---------------------------------------------------------------------------
# checks, all before any work


def _check_device(device):
    if device is None or device == "cpu":
        return
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        raise UsageError("--device", "needs torch") from None
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise UsageError("--device", f"{device!r} is not a torch device ({exc}); use "
                                     "cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cpu":
        return
    module = getattr(torch, parsed.type, None)
    available = getattr(module, "is_available", None)
    if available is None or not available():
        raise UsageError("--device", f"{parsed.type} is not available on this machine "
                                     f"(torch {torch.__version__})")
    count = getattr(module, "device_count", None)
    if parsed.index is not None and count is not None and parsed.index >= count():
        raise UsageError("--device", f"{device}: this machine has {count()} "
                                     f"{parsed.type} device(s)")


def _import_factory(spec):
    """The estimator returned by the user's ``module:function``."""
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise UsageError("--estimator", f"expected MODULE:FUNCTION (e.g. "
                                        f"mymodels:make_model); got {spec!r}")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)  # as `python -m` does: the current folder's modules
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's
        raise UsageError("--estimator", f"cannot import {module_name!r}: "
                                        f"{type(exc).__name__}: {exc}") from None
    factory = module
    for part in name.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise UsageError("--estimator", f"{module_name!r} has no {name!r}")
    if not callable(factory):
        raise UsageError("--estimator", f"{spec} is not a function")
    if isinstance(factory, type) and not hasattr(factory, "get_params"):
        raise UsageError("--estimator", f"{spec} is a class, not a factory")
    try:
        estimator = factory()
    except Exception as exc:  # noqa: BLE001
        raise UsageError("--estimator", f"{spec}() failed: {type(exc).__name__}: "
                                        f"{exc}") from None
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")
            and hasattr(estimator, "get_params")):
        raise UsageError("--estimator", f"{spec}() returned a "
                                        f"{type(estimator).__name__}, not an unfitted "
                                        "scikit-learn classifier")
    return estimator


def _check_folder(path, option):
    """``path`` is a folder, or can be made one (the first existing parent is a
    writable folder)."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise UsageError(option, f"{path} exists and is not a folder")
        if not os.access(path, os.W_OK):
            raise UsageError(option, f"cannot write in {path}")
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(option, f"cannot make {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise UsageError(option, f"cannot make {path}: {parent} is not writable")


def _check_file(path, option):
    path = Path(path)
    if path.exists() and path.is_dir():
        raise UsageError(option, f"{path} is a folder, not a file")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(option, f"cannot write {path}")
    _check_folder(path.parent, option)


def _setting_error(exc):
    return UsageError(OPTIONS.get(exc.param, exc.param), exc.message)


class _Plan:
    """What a checked command line will run."""


def prepare(args):
    """Check every option, read the user's files, test the output paths.

    Returns
    -------
    plan : _Plan
        ``setting`` (a Setting record), ``model``, ``filters``,
        ``finder_params``, ``defense_params``, ``notes``, ``n_jobs``,
        ``store``, ``report``.

    Raises
    ------
    UsageError
        Naming the option, before anything is fitted or written.
    """
    plan = _Plan()
    plan.notes = []
    if args.data is None:
        for option in ("target", "test", "aux", "features", "estimator"):
            if getattr(args, option) is not None:
                raise UsageError(f"--{option}", "needs --data FILE (the table to "
                                                "audit); bundled data sets define "
                                                "their own")
    else:
        if args.dataset is not None:
            raise UsageError("--dataset", "give either --dataset (bundled data) or "
                                          "--data FILE (your table), not both")
        if args.target is None:
            raise UsageError("--target", "needed with --data: the column to predict")
    if args.estimator is not None and args.model is not None:
        raise UsageError("--estimator", "give either --model or --estimator, not both")
    _check_device(args.device)
    if args.min_size is not None and args.max_size is not None \
            and args.min_size >= args.max_size - 1:
        raise UsageError("--min-size", f"{args.min_size} and --max-size "
                                       f"{args.max_size} leave no group size (sizes "
                                       "must satisfy min-size < n < max-size)")
    # the setting, its model and its filters
    if args.data is not None:
        estimator = (None if args.estimator is None
                     else _import_factory(args.estimator))
        try:
            setting = table_setting(args.data, args.target, test=args.test,
                                    aux=args.aux, features=args.features,
                                    estimator=estimator,
                                    estimator_name=args.estimator)
        except SettingError as exc:
            raise _setting_error(exc) from None
    else:
        setting = SETTINGS[args.dataset or "adult"]
    model = args.estimator or args.model or setting.models[0]
    if model not in setting.models:
        raise UsageError("--model", f"{model} is not available for {setting.title}; "
                                    f"use one of {', '.join(setting.models)}")
    try:
        check_attack(args.attack, setting.model_text_columns(model))
    except SettingError as exc:
        raise _setting_error(exc) from None
    filters = list(args.filters or FINDERS)
    if args.data is not None and args.features is None:
        if args.filters is not None and "FeatureMatch" in args.filters:
            raise UsageError("--features", "FeatureMatch needs the columns whose "
                                           "values define its groups, e.g. --features "
                                           "sex,race")
        filters = [f for f in filters if f != "FeatureMatch"]
        plan.notes.append("FeatureMatch skipped: name the columns that define your "
                          "groups with --features COL,COL (e.g. --features sex,race) "
                          "to audit their value combinations too")
    if not filters:
        raise UsageError("--filters", "nothing to run")
    sizes = {k: v for k, v in (("min_size", args.min_size), ("max_size", args.max_size))
             if v is not None}
    plan.finder_params = {"FeatureMatch": dict(sizes),
                          "ClusterMatch": dict(sizes)}
    if args.n_clusters is not None:
        plan.finder_params["ClusterMatch"]["n_clusters"] = args.n_clusters
    plan.defense_params = {}
    if args.n_partitions is not None:
        if "dpa" not in args.defenses:
            raise UsageError("--n-partitions", "is for the dpa defense; add it with "
                                               "--defenses ...,dpa")
        plan.defense_params["dpa"] = {"n_partitions": args.n_partitions}
    if args.n_jobs is not None:
        plan.n_jobs = args.n_jobs
    else:
        plan.n_jobs = 1 if on_accelerator(args.device) else -1
    # outputs: checked, and the store opened, before any work
    _check_folder(args.out, "--out")
    if args.report is not None:
        if args.report.suffix.lower() in (".html", ".htm"):
            _check_file(args.report, "--report")
        else:
            _check_folder(args.report, "--report")
    plan.store = None if args.no_store else (args.store or args.out / "audit.sqlite")
    if plan.store is not None:
        _check_file(plan.store, "--store")
    if args.scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UsageError("--scheduler", "needs dask's distributed package "
                                            "(pip install 'dask[distributed]')") from None
    if plan.store is not None:  # last: a usable store (this creates it when missing)
        from ._store import ResultStore

        try:
            ResultStore(plan.store).close()
        except ValueError as exc:
            raise UsageError("--store", str(exc)) from None
    plan.setting, plan.model, plan.filters = setting, model, filters
    return plan


# ---------------------------------------------------------------------------
# the run and its console output


def _wrapped(text, indent="  "):
    return textwrap.fill(text, width=100, initial_indent=indent,
                         subsequent_indent=indent + "  ", break_on_hyphens=False)


def _print_results(audit, args, plan, elapsed):
    import pandas as pd

    from ._report import (
        CERTIFIED_NOTE,
        baseline_defense,
        certified_groups,
        defense_effect,
        defense_verdicts,
        summarize,
        text_table,
        vulnerable_groups,
    )

    results = audit.results_
    n_rows = audit.n_rows_
    print(f"\nskpoison audit: {plan.setting.title}, attack={args.attack}, "
          f"victim={plan.model}, alphas={', '.join(f'{a:g}' for a in args.alphas)}, "
          f"seeds={', '.join(str(s) for s in args.seeds)}"
          + (f", device={args.device}" if args.device else ""))
    print(f"  rows: {n_rows['train']} training (D), {n_rows['aux']} attacker's (D_aux), "
          f"{n_rows['test']} test")
    for note in getattr(audit, "notes_", []):
        print(_wrapped(note))
    for seed, accuracy in audit.clean_accuracy_.items():
        print(f"  clean victim (seed {seed}): test accuracy {accuracy:.3f}")
    for fname, finder in audit.fitted_finders_.items():
        attacked = results.loc[results["filter"] == fname, "subpopulation"].nunique()
        columns = getattr(finder, "columns", None)
        on = (" on " + ", ".join(str(c).removeprefix(ANNOTATION_PREFIX) for c in columns)
              if fname == "FeatureMatch" and columns is not None else "")
        params = finder.get_params()
        bounds = " < ".join(str(v) for v in (params.get("min_size"), "aux rows",
                                             params.get("max_size")) if v is not None)
        size = f" ({bounds})" if bounds != "aux rows" else ""
        print(_wrapped(f"{fname}{on}: {len(finder.subpopulations_)} groups pass the "
                       f"size filter{size}, {len(audit.skipped_[fname])} skipped (no "
                       f"test rows), {attacked} attacked"))
    for note in plan.notes:
        print(_wrapped(note))

    groups = vulnerable_groups(results, top=10)
    shown = groups.drop(columns=["aux rows", "test rows"]).rename(
        columns=lambda c: c.replace("damage at ", "").replace("clean accuracy",
                                                              "clean acc"))
    baseline = baseline_defense(results)
    baseline = "without defense" if baseline == "none" else f"with defense {baseline}"
    print(f"\nThe most vulnerable groups ({baseline}): rows = the group's training rows, "
          "clean acc = the clean\nmodel's accuracy on its test rows, alpha=a = target "
          "damage (accuracy lost on the group, 0.25 = 25 points)\nwith a poison rows "
          "per training row of the group:\n")
    print(text_table(shown, wrap={"group": 46, "filter": 12}))

    verdicts = defense_verdicts(defense_effect(results, n_clean=n_rows["train"]))
    if verdicts:
        print("\nDid the defenses help?")
        for _, _, text in verdicts:
            print(_wrapped(text))

    certified = certified_groups(results, top=5)
    if not certified.empty:
        print("\nWhat the certificate promises, on the 5 most vulnerable groups:")
        print(textwrap.fill(CERTIFIED_NOTE, 100) + "\n")
        repeated = certified.duplicated(["defense", "filter", "group"])
        certified.loc[repeated, ["defense", "filter", "group"]] = ""
        certified["alpha"] = certified["alpha"].map("{:g}".format)
        with pd.option_context("display.float_format", "{:.3f}".format):
            print(text_table(certified, wrap={"group": 36, "filter": 12}))

    summary = summarize(results).reset_index()
    summary["alpha"] = summary["alpha"].map("{:g}".format)
    print("\nTop-k target damage (the paper's summary: mean damage of the k most "
          "damaged groups;\nthe most damaged one of each row is in summary.csv):\n")
    with pd.option_context("display.float_format", "{:.3f}".format):
        print(text_table(summary.drop(columns=["max_collateral", "worst"])))
    where = (f"Dask cluster at {args.scheduler}" if args.scheduler
             else f"n_jobs={plan.n_jobs}, {os.cpu_count()} CPUs")
    print(f"\n{audit.n_computed_} poisoned fits in {elapsed:.1f} s ({where}); "
          f"{audit.n_reused_} loaded from the store.")


def run_audit(args, plan=None):
    """Run the checked command line; returns the exit status."""
    from ._report import plot_summary, vulnerable_groups
    from ._settings import setting_audit

    plan = plan or prepare(args)
    backend, client = args.backend, None
    if args.scheduler is not None:
        from distributed import Client

        client = Client(args.scheduler)
        backend = "dask"
    start = time.perf_counter()
    try:
        # options checked against the loaded data (the finders' sizes against
        # the attacker's rows) are usage errors too
        audit = setting_audit(
            plan.setting, plan.model, attack=args.attack, filters=plan.filters,
            alphas=args.alphas, seeds=args.seeds, defenses=args.defenses,
            n_samples=args.n_samples, max_subpopulations=args.max_subpopulations,
            order=args.order, n_jobs=plan.n_jobs, progress=not args.quiet,
            random_state=args.random_state, backend=backend, store=plan.store,
            resume=not args.fresh, finder_params=plan.finder_params,
            defense_params=plan.defense_params, device=args.device)
    except SettingError as exc:
        raise _setting_error(exc) from None
    finally:
        if client is not None:
            client.close()
    elapsed = time.perf_counter() - start
    results = audit.results_
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / "results.csv", index=False)
    audit.summary().to_csv(args.out / "summary.csv")
    vulnerable_groups(results, top=None).to_csv(args.out / "groups.csv", index=False)
    plot_summary(results, args.out / "damage.png")
    _print_results(audit, args, plan, elapsed)
    written = [args.out / name for name in ("results.csv", "summary.csv", "groups.csv",
                                            "damage.png")]
    if plan.store is not None:
        written.append(plan.store)
    if args.report is not None:
        written.append(audit.report(
            args.report, title=f"skpoison audit: {plan.setting.title}, {args.attack} "
                               f"attack, {plan.model} victim"))
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the audit stops as on Ctrl-C."""


def _terminate(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
    raise Terminated


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM ends the command as Ctrl-C does: joblib terminates its workers,
    the temporary data is removed and the store closed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv=None):
    """Entry point of the ``skpoison`` command.

    Returns 0 on success; usage errors exit with status 2 (``SystemExit``),
    errors met while running with status 1, each as one line
    ``skpoison: error: ...`` (``--traceback`` shows the traceback too).
    Interrupted by Ctrl-C it returns 130, by SIGTERM 143, once its workers
    have stopped and its temporary files are removed; finished units are in
    the store.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "audit":  # pragma: no cover - argparse enforces a command
        return 2
    try:
        plan = prepare(args)
    except UsageError as exc:
        parser.exit(2, f"skpoison: error: {exc}\n")
    try:
        with _sigterm_as_interrupt():
            return run_audit(args, plan)
    except UsageError as exc:  # found once the data is loaded, before any fitting
        parser.exit(2, f"skpoison: error: {exc}\n")
    except BrokenPipeError:  # e.g. `skpoison audit ... | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt as exc:
        how = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"skpoison: {how}; finished units are in the store, run the same "
              "command again to resume.", file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(exc, Terminated) else 130
    except (ValueError, TypeError, OSError, ImportError, RuntimeError,
            MemoryError) as exc:
        if args.traceback:
            raise
        print(f"skpoison: error: {type(exc).__name__}: {exc}\n"
              "(--traceback shows where)", file=sys.stderr)
        return 1

"""The command line: ``skpoison audit``.

``skpoison audit`` audits the bundled UCI Adult data (``--dataset`` picks
another bundled setting); ``skpoison audit --data FILE --target COLUMN``
audits a user's own table. The command line checks what is its own (files,
folders, options that exclude each other); the library checks everything
else, once, before any fitting, and each of its errors is mapped to its
option by ``OPTIONS``: a usage error prints one line, ``skpoison: error:
<option>: <problem>``, exits with status 2 and writes nothing.
"""

import argparse
import importlib
import os
import re
import shutil
import signal
import sys
import textwrap
import threading
from contextlib import contextmanager, nullcontext
from functools import partial
from importlib.util import find_spec
from pathlib import Path

from . import _report
from ._data import SettingError
from ._registry import ATTACKS, DEFENSES, FINDERS, VICTIMS
from ._render import printable, render_text
from ._settings import SETTINGS, on_accelerator, prepare_audit, table_setting
from ._store import ResultStore

# Python parameter -> command-line option: the one table that names a library
# error's option
OPTIONS = {**{name: "--" + name.replace("_", "-") for name in (
    "data target test aux features estimator model attack n_samples defenses "
    "n_partitions n_clusters min_size max_size alphas seeds random_state device "
    "max_subpopulations n_jobs store backend susceptibility").split()},
    "finders": "--filters", "subpopulation_order": "--order"}


class UsageError(Exception):
    """A bad option: printed as ``skpoison: error: OPTION: MESSAGE``, status 2."""

    def __init__(self, option, message):
        super().__init__(f"{option}: {message}" if option else message)


def usage_error(exc):
    """The :class:`UsageError` of a library error that names its parameter
    (a :class:`SettingError`, or a ValueError / TypeError reading ``"<param>
    must ..."``), else None."""
    if isinstance(exc, SettingError):
        return UsageError(OPTIONS.get(exc.param, exc.param), exc.message)
    match = re.match(r"(\w+)(?: must |: )", str(exc))
    if isinstance(exc, (ValueError, TypeError)) and match and match[1] in OPTIONS:
        return UsageError(OPTIONS[match[1]], str(exc))
    return None


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"skpoison: error: {printable(message)}\n")


def _typed(what, convert=int, ok=lambda value: True, many=False):
    """An option's value (``many``: its comma-separated values), converted and
    checked by ``ok``; else ``expected <what>: <text>``."""
    def parse(text):
        parts = [v.strip() for v in text.split(",") if v.strip()] if many else [text]
        try:
            values = [convert(v) for v in parts]
        except ValueError:
            values = []
        if not values or not all(map(ok, values)):
            raise argparse.ArgumentTypeError(f"expected {what}: {text!r}")
        return values if many else values[0]
    return parse


def _n_jobs(text):
    value = _typed("an integer (-1: every core)", ok=lambda v: v >= -(2**31))(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 jobs cannot run anything; use -1 for every "
                                         "core, or a positive number")
    return value


def _n_samples(text):
    return text if text == "full" else _typed("an integer >= 10 or 'full'",
                                              ok=lambda v: v >= 10)(text)


def _names(registry):
    return _typed("comma-separated names; choose from " + ", ".join(registry), str,
                  registry.__contains__, many=True)


def _listing(registry, applies=True):
    """The registry's entries for an option's ``--help``: ``name: help
    (what it applies to)``."""
    return "; ".join(f"{k}: {v.help}" + (f" ({v.applies})" if applies else "")
                     for k, v in registry.items())


def build_parser():
    """The ``skpoison`` argument parser (its choices and help from the registries)."""
    parser = _Parser(prog="skpoison", description="Subpopulation data poisoning audits "
                     "(Jagielski et al., 'Subpopulation Data Poisoning Attacks', "
                     "CCS 2021).")
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
        epilog="examples:\n" + "".join(f"  skpoison audit {example}\n" for example in (
            "--data train.csv --target income --features race,sex",
            "--data train.parquet --target y --test test.parquet --model hgb",
            "--data train.csv --target y --estimator mymodels:make_model",
            "--dataset compas --model mlp --report report/")))
    for options in (_data_options, _run_options, _output_options):
        options(audit)
    return parser


def _data_options(audit):
    add = audit.add_argument_group("your data").add_argument
    add("--data", metavar="FILE", help="a table to audit (.csv, .tsv, .parquet) with "
        "its target column, split into training / attacker / test rows unless --test / "
        "--aux are given")
    add("--target", metavar="COLUMN", help="the column to predict")
    add("--test", metavar="FILE", help="held-out rows (same columns)")
    add("--aux", metavar="FILE", help="the attacker's own rows")
    add("--features", metavar="COL,COL", type=_typed("comma-separated column names",
                                                     str, many=True),
        help="columns whose value combinations are FeatureMatch's groups (a missing "
             "value is a value); without it only ClusterMatch runs")
    add("--feature", metavar="COLUMN", action="append", help="one more such column, "
        "named exactly (commas, spaces); repeatable")
    add("--estimator", metavar="MODULE:FUNCTION", help="a function returning your "
        "unfitted classifier (MODULE installed or in the current folder, searched "
        "last); never a pickled model")
    add = audit.add_argument_group("bundled data").add_argument
    add("--dataset", choices=list(SETTINGS), help="a bundled setting (default: adult): "
        + "; ".join(f"{k}: {s.title}, models {', '.join(s.models)}"
                    for k, s in SETTINGS.items()))
    add("--n-samples", type=_n_samples, help="rows in each of D, D_aux and test "
        "(default: CPU-sized for images and text, all otherwise; 'full': every row)")


def _run_options(audit):
    add = audit.add_argument_group("what to run").add_argument
    positive = _typed("a positive integer", ok=lambda v: v >= 1)
    add("--model", choices=list(VICTIMS),
        help="victim (default: the setting's first): " + _listing(VICTIMS))
    add("--device", help="torch device of every torch part: cpu (default), cuda, "
        "cuda:1, mps...; with an accelerator --n-jobs defaults to 1")
    add("--attack", choices=list(ATTACKS), default="labelflip",
        help="(default: labelflip) " + _listing(ATTACKS, applies=False))
    add("--filters", type=_names(FINDERS),
        help="comma-separated finders (default: all): " + _listing(FINDERS))
    add("--defenses", "--defense", type=_names(DEFENSES), default=["none", "trim"],
        help="comma-separated defenses (default: none,trim): " + _listing(DEFENSES))
    add("--n-partitions", type=positive, metavar="K", help="partitions of dpa "
        "(default: 50); it certifies at most K/2 added rows")
    add("--order", choices=["confidence", "id"], help="which groups first: least "
        "confident attacker model first (default for images and text) or by id "
        "(default for tables)")
    add("--susceptibility", action="store_true", help="score every candidate group "
        "first (the model-targeted attack's lower bound on the poisons needed, linear "
        "victims) and attack the cheapest first; with --max-subpopulations the top N")
    add("--n-clusters", type=positive, help="ClusterMatch clusters (default: 100, 25 "
        "on tables of at most 6,000 rows)")
    add("--min-size", type=_typed("an integer >= 0", ok=lambda v: v >= 0),
        help="keep groups of more attacker rows (default: 10 on adult; on tables 3, "
             "or attacker rows / 800)")
    add("--max-size", type=positive, help="keep groups of fewer attacker rows "
        "(default: 100 on adult; on tables the larger of a tenth of the attacker rows "
        "and 3 x their mean cluster; FeatureMatch on your --features: all but the "
        "whole table)")
    add("--max-subpopulations", type=positive,
        help="attack only this many groups per filter")
    add("--n-jobs", type=_n_jobs,
        help="parallel jobs (default: -1, every core; 1 on an accelerator)")
    add("--alphas", type=_typed("comma-separated numbers", float, many=True),
        default=[0.5, 1.0, 2.0],
        help="poison rows per training row of the group (default: 0.5,1,2)")
    add("--seeds", type=_typed("comma-separated integers", many=True), default=[0],
        help="seeds (default: 0)")
    add("--random-state", type=int, default=0,
        help="seed of the data split and clustering (default: 0)")


def _output_options(audit):
    add = audit.add_argument_group("output").add_argument
    add("--out", type=Path, default=Path("skpoison_audit"),
        help="folder for results.csv, summary.csv, groups.csv, damage.png")
    add("--store", type=Path, help="SQLite store that makes the audit resumable, one "
        "writer at a time (default: OUT/audit.sqlite)")
    add("--no-store", action="store_true", help="keep no store")
    add("--fresh", action="store_true", help="recompute every unit")
    add("--report", type=Path, metavar="PATH", help="a self-contained HTML report: "
        "PATH if it ends in .html, else PATH/report.html")
    add("--backend", help="joblib backend (default: loky)")
    add("--scheduler", metavar="ADDRESS", help="a Dask scheduler (tcp://host:8786) to "
        "run on; needs dask[distributed]")
    add("--quiet", action="store_true", help="no progress bar")
    add("--traceback", action="store_true", help="show Python's traceback on an error")


# ---------------------------------------------------------------------------
# what the command line checks itself: files, folders, exclusive options


def _import_factory(spec):
    """The estimator returned by the user's ``module:function``.

    The current folder is searched after the installed packages (a file of
    the folder named like a package never shadows it); an import that fails
    or exits is a usage error.
    """
    bad = partial(UsageError, "--estimator")
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise bad(f"expected MODULE:FUNCTION (e.g. mymodels:make_model); got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        factory = importlib.import_module(module_name)
        for part in name.split("."):
            factory = getattr(factory, part)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure is the user's
        raise bad(f"cannot import {spec!r}: {type(exc).__name__}: {exc}") from None
    if not callable(factory) or (isinstance(factory, type)
                                 and not hasattr(factory, "get_params")):
        raise bad(f"{spec} is not a function returning a model")
    try:
        estimator = factory()
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        raise bad(f"{spec}() failed: {type(exc).__name__}: {exc}") from None
    if not all(hasattr(estimator, a) for a in ("fit", "predict", "get_params")):
        raise bad(f"{spec}() returned a {type(estimator).__name__}, not an unfitted "
                  "scikit-learn classifier")
    return estimator


def _missing(path):
    """``path`` and those of its parents that do not exist, innermost first."""
    return [p for p in (path, *path.parents) if not p.exists()]


def _check_folder(path, option):
    """``path`` is a writable folder, or can be made one (its first existing
    parent is a writable folder)."""
    if path.exists():
        if not path.is_dir():
            raise UsageError(option, f"{path} exists and is not a folder")
        if not os.access(path, os.W_OK):
            raise UsageError(option, f"cannot write in {path}")
        return
    parent = _missing(path)[-1].parent
    if not parent.is_dir():
        raise UsageError(option, f"cannot make {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise UsageError(option, f"cannot make {path}: {parent} is not writable")


def _check_file(path, option):
    if path.is_dir():
        raise UsageError(option, f"{path} is a folder, not a file")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(option, f"cannot write {path}")
    _check_folder(path.parent, option)


def _check_options(args):
    """Options that need or exclude each other: the first problem found."""
    needs_data = [o for o in "target test aux features feature estimator".split()
                  if getattr(args, o) is not None]
    if args.data is None and needs_data:
        raise UsageError(f"--{needs_data[0]}", "needs --data FILE (the table to "
                         "audit); bundled data sets define their own")
    for option, problem, message in [
        ("--dataset", args.data is not None and args.dataset is not None,
         "give either --dataset (bundled data) or --data FILE (your table), not both"),
        ("--target", args.data is not None and args.target is None,
         "needed with --data: the column to predict"),
        ("--estimator", args.estimator is not None and args.model is not None,
         "give either --model or --estimator, not both"),
        ("--susceptibility", args.susceptibility and args.order is not None,
         "orders the groups itself; give it or --order, not both"),
        ("--n-partitions", args.n_partitions and "dpa" not in args.defenses,
         "is for the dpa defense; add it with --defenses ...,dpa"),
        ("--scheduler", args.scheduler is not None and not find_spec("distributed"),
         "needs dask's distributed package (pip install 'dask[distributed]')")]:
        if problem:
            raise UsageError(option, message)


def _check_outputs(args):
    """The output folder, the report's path and the store's, none created;
    returns the store's path (None with --no-store)."""
    _check_folder(args.out, "--out")
    if args.report is not None:
        html = args.report.suffix.lower() in (".html", ".htm")
        (_check_file if html else _check_folder)(args.report, "--report")
    store = None if args.no_store else (args.store or args.out / "audit.sqlite")
    if store is not None:
        _check_file(store, "--store")
    if store is not None and store.exists():  # a file given: readable as a store
        try:
            ResultStore(store).close()
        except ValueError as exc:
            raise UsageError("--store", str(exc)) from None
    return store


def prepare(args):
    """Check the command line's own options, read the user's files.

    Returns
    -------
    plan : argparse.Namespace
        ``setting`` (a Setting record), ``model``, ``store`` and ``params``
        (for :func:`prepare_audit`).

    Raises
    ------
    UsageError
        Naming the option, before anything is fitted or written.
    """
    _check_options(args)
    store, notes = _check_outputs(args), []
    features = (args.features or []) + (args.feature or []) or None
    setting = SETTINGS[args.dataset or "adult"]
    if args.data is not None:
        estimator = None if args.estimator is None else _import_factory(args.estimator)
        try:
            setting = table_setting(args.data, args.target, test=args.test,
                                    aux=args.aux, features=features,
                                    estimator=estimator, estimator_name=args.estimator)
        except SettingError as exc:
            raise usage_error(exc) from None
    finders = list(args.filters or FINDERS)
    if args.data is not None and features is None and args.filters is None:
        finders.remove("FeatureMatch")
        example = ",".join(printable(c) for c in setting.columns[:2]) or "COL"
        notes.append("FeatureMatch skipped: name the columns that define your groups "
                     f"with --features COL,COL (e.g. --features {example}) to audit "
                     "their value combinations too")
    sizes = {k: v for k, v in (("min_size", args.min_size), ("max_size", args.max_size))
             if v is not None}
    clusters = {} if args.n_clusters is None else {"n_clusters": args.n_clusters}
    model = args.model or setting.models[0]  # a table's estimator: its models[0]
    params = dict(
        finders={n: {**sizes, **(clusters if n == "ClusterMatch" else {})}
                 for n in finders},
        defenses={d: {"n_partitions": args.n_partitions}
                  if d == "dpa" and args.n_partitions else {} for d in args.defenses},
        attack=args.attack, alphas=args.alphas, seeds=args.seeds,
        subpopulation_order="susceptibility" if args.susceptibility else args.order,
        max_subpopulations=args.max_subpopulations,
        n_jobs=args.n_jobs or (1 if on_accelerator(args.device) else -1),
        progress=not args.quiet, backend="dask" if args.scheduler else args.backend,
        store=store, resume=not args.fresh, notes=notes,
        title=f"skpoison audit: {setting.title}, {args.attack} attack, {model} victim",
        n_samples=args.n_samples, random_state=args.random_state, device=args.device)
    return argparse.Namespace(setting=setting, model=model, store=store, params=params)


# ---------------------------------------------------------------------------
# the run


def _remove_new(paths):
    """Remove what a refused run created (the store and its journal files, the
    folders made for them), so that a usage error leaves nothing behind."""
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            for extra in ("", "-journal", "-wal", "-shm"):
                Path(f"{path}{extra}").unlink(missing_ok=True)


@contextmanager
def _safe_path():
    """Worker processes started meanwhile do not put the current folder first
    on their import path (``python -m`` does): a ``joblib.py`` there would
    shadow joblib. They get this process's path, the folder last."""
    before = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONSAFEPATH"]
        else:
            os.environ["PYTHONSAFEPATH"] = before


def _client(address):
    """A Dask client of the scheduler at ``address`` (closed on exit), or nothing."""
    if address is None:
        return nullcontext()
    from distributed import Client

    return Client(address)


def run_audit(args, plan=None):
    """Run the checked command line; returns the exit status."""
    plan = plan or prepare(args)
    new = _missing(args.out) + (_missing(plan.store) if plan.store else [])
    try:
        audit, data = prepare_audit(plan.setting, plan.model, **plan.params)
        with _client(args.scheduler), _safe_path():
            audit.run(*data)
    except (ValueError, TypeError) as exc:
        if usage_error(exc) is None:
            raise
        _remove_new(new)  # found once the data is loaded: nothing written
        raise usage_error(exc) from None
    written = audit.save(args.out)  # first: a failing report loses nothing
    try:
        _report.plot_summary(audit.results_, args.out / "damage.png")
        written.append(args.out / "damage.png")
        print(render_text(_report.report_sections(audit)))
        if args.report is not None:
            written.append(audit.report(args.report))
    except BrokenPipeError:
        raise
    except Exception as exc:  # noqa: BLE001 - said with what is saved
        again = (f"Run the same command again to rebuild the report alone: every "
                 f"result is loaded from the store {plan.store}, nothing is refitted."
                 if plan.store is not None else "Without a store (--no-store) a re-run "
                 "computes everything again.")
        raise RuntimeError(
            f"the audit finished and its results are saved ("
            f"{', '.join(str(p) for p in written)}), but writing its report failed "
            f"({type(exc).__name__}: {exc}). {again}") from exc
    if plan.store is not None:
        written.append(plan.store)
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the audit stops as on Ctrl-C."""


def _terminate(signum, frame):
    # `timeout -s TERM` signals the whole process group, often twice: a
    # repeated SIGTERM must not cut the graceful stop short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM ends the command as Ctrl-C does: joblib terminates its workers,
    the temporary data is removed and the store closed on the way out."""
    # only the main thread may set signal handlers
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main else None
    try:
        yield
    finally:  # once terminated, SIGTERM stays ignored until the command ends
        if main and signal.getsignal(signal.SIGTERM) is _terminate:
            signal.signal(signal.SIGTERM, previous)


def main(argv=None):
    """Entry point of the ``skpoison`` command.

    Returns 0 on success; usage errors exit with status 2 (``SystemExit``),
    errors met while running with status 1, each as one line
    ``skpoison: error: ...`` (``--traceback`` shows the traceback too).
    Interrupted by Ctrl-C it returns 130, by SIGTERM 143, once its workers
    have stopped and its temporary files are removed; finished units are in
    the store (unless ``--no-store``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_as_interrupt():
            return run_audit(args, prepare(args))
    except UsageError as exc:
        parser.exit(2, f"skpoison: error: {printable(exc)}\n")
    except BrokenPipeError:  # e.g. `skpoison audit ... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        kept = "nothing was kept (--no-store)" if args.no_store else (
            "finished units are in the store, run the same command again to resume")
        print(f"skpoison: {'terminated' if terminated else 'interrupted'}; {kept}.",
              file=sys.stderr)
        if terminated:  # the stop is over: SIGTERM ends us again
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        return 128 + signal.SIGTERM if terminated else 130
    except (ValueError, TypeError, OSError, ImportError, RuntimeError,
            MemoryError) as exc:
        if args.traceback:
            raise
        print(printable(f"skpoison: error: {type(exc).__name__}: {exc}") +
              "\n(--traceback shows where)", file=sys.stderr)
        return 1

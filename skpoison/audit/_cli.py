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
from contextlib import contextmanager
from pathlib import Path

from ._data import SettingError
from ._render import printable
from ._registry import ATTACKS, DEFENSES, FINDERS, VICTIMS, help_text
from ._settings import SETTINGS, on_accelerator, prepare_audit, table_setting

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


def _list(convert, what, check=lambda values: True):
    """An option's comma-separated values, each converted."""
    def parse(text):
        try:
            values = [convert(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError:
            values = []
        if not values or not check(values):
            raise argparse.ArgumentTypeError(f"expected {what}: {text!r}")
        return values
    return parse


def _number(convert, what, low):
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}: {text!r}")
        return value
    return parse


def _n_jobs(text):
    value = _number(int, "an integer (-1: every core)", -(2**31))(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 jobs cannot run anything; use -1 for every "
                                         "core, or a positive number")
    return value


def _n_samples(text):
    return text if text == "full" else _number(int, "an integer >= 10 or 'full'", 10)(text)


def _choices(registry):
    names = list(registry)
    return _list(str, f"comma-separated names; choose from {', '.join(names)}",
                 lambda values: all(v in names for v in values))


def _data_options():
    """``(group, flags, argparse keywords)`` of the options on the data."""
    return [
        ("your data", ["--data"], dict(metavar="FILE", help=(
            "a table to audit (.csv, .tsv, .parquet) with its target column, split into "
            "training / attacker / test rows unless --test / --aux are given"))),
        ("your data", ["--target"], dict(metavar="COLUMN", help="the column to predict")),
        ("your data", ["--test"], dict(metavar="FILE", help="held-out rows (same columns)")),
        ("your data", ["--aux"], dict(metavar="FILE", help="the attacker's own rows")),
        ("your data", ["--features"], dict(
            metavar="COL,COL", type=_list(str, "comma-separated column names"),
            help="columns whose value combinations are FeatureMatch's groups (a "
                 "missing value is a value); without it only ClusterMatch runs")),
        ("your data", ["--feature"], dict(metavar="COLUMN", action="append", help=(
            "one more such column, named exactly (commas, spaces); repeatable"))),
        ("your data", ["--estimator"], dict(metavar="MODULE:FUNCTION", help=(
            "a function returning your unfitted classifier (MODULE installed or in "
            "the current folder, searched last); never a pickled model"))),
        ("bundled data", ["--dataset"], dict(choices=list(SETTINGS), help=(
            "a bundled setting (default: adult): " + "; ".join(
                f"{k}: {s.title}, models {', '.join(s.models)}"
                for k, s in SETTINGS.items())))),
        ("bundled data", ["--n-samples"], dict(type=_n_samples, help=(
            "rows in each of D, D_aux and test (default: CPU-sized for images and "
            "text, all otherwise; 'full': every row)"))),
    ]


def _run_options():
    """The options of what to run, those of the registered parts from the
    registries."""
    def listing(registry):
        return "; ".join(f"{k}: {v.help} ({v.applies})" for k, v in registry.items())
    positive = _number(int, "a positive integer", 1)
    return [
        ("what to run", ["--model"], dict(
            choices=list(VICTIMS), metavar="{" + ",".join(VICTIMS) + "}",
            help="victim (default: the setting's first): " + listing(VICTIMS))),
        ("what to run", ["--device"], dict(help=(
            "torch device of every torch part: cpu (default), cuda, cuda:1, mps...; "
            "with an accelerator --n-jobs defaults to 1"))),
        ("what to run", ["--attack"], dict(choices=list(ATTACKS), default="labelflip",
                                           help="(default: labelflip) " + help_text(
                                               ATTACKS))),
        ("what to run", ["--filters"], dict(type=_choices(FINDERS), help=(
            "comma-separated finders (default: all): " + listing(FINDERS)))),
        ("what to run", ["--defenses", "--defense"], dict(
            type=_choices(DEFENSES), default=["none", "trim"],
            help="comma-separated defenses (default: none,trim): " + listing(DEFENSES))),
        ("what to run", ["--n-partitions"], dict(type=positive, metavar="K", help=(
            "partitions of dpa (default: 50); it certifies at most K/2 added rows"))),
        ("what to run", ["--order"], dict(choices=["confidence", "id"], help=(
            "which groups first: least confident attacker model first (default for "
            "images and text) or by id (default for tables)"))),
        ("what to run", ["--susceptibility"], dict(action="store_true", help=(
            "score every candidate group first (the model-targeted attack's lower "
            "bound on the poisons needed, linear victims) and attack the cheapest "
            "first; with --max-subpopulations the top N"))),
        ("what to run", ["--n-clusters"], dict(type=positive, help=(
            "ClusterMatch clusters (default: 100, 25 on tables of at most 6,000 rows)"))),
        ("what to run", ["--min-size"], dict(type=_number(int, "an integer >= 0", 0),
                                             help=(
            "keep groups of more attacker rows (default: 10 on adult; on tables 3, or "
            "attacker rows / 800)"))),
        ("what to run", ["--max-size"], dict(type=positive, help=(
            "keep groups of fewer attacker rows (default: 100 on adult; on tables the "
            "larger of a tenth of the attacker rows and 3 x their mean cluster; "
            "FeatureMatch on your --features: all but the whole table)"))),
        ("what to run", ["--max-subpopulations"], dict(type=positive, help=(
            "attack only this many groups per filter"))),
        ("what to run", ["--n-jobs"], dict(type=_n_jobs, help=(
            "parallel jobs (default: -1, every core; 1 on an accelerator)"))),
        ("what to run", ["--alphas"], dict(
            type=_list(float, "comma-separated numbers"), default=[0.5, 1.0, 2.0],
            help="poison rows per training row of the group (default: 0.5,1,2)")),
        ("what to run", ["--seeds"], dict(type=_list(int, "comma-separated integers"),
                                          default=[0], help="seeds (default: 0)")),
        ("what to run", ["--random-state"], dict(type=int, default=0, help=(
            "seed of the data split and clustering (default: 0)"))),
    ]


def _output_options():
    return [
        ("output", ["--out"], dict(type=Path, default=Path("skpoison_audit"), help=(
            "folder for results.csv, summary.csv, groups.csv, damage.png"))),
        ("output", ["--store"], dict(type=Path, help=(
            "SQLite store that makes the audit resumable, one writer at a time "
            "(default: OUT/audit.sqlite)"))),
        ("output", ["--no-store"], dict(action="store_true", help="keep no store")),
        ("output", ["--fresh"], dict(action="store_true", help="recompute every unit")),
        ("output", ["--report"], dict(type=Path, metavar="PATH", help=(
            "a self-contained HTML report: PATH if it ends in .html, else "
            "PATH/report.html"))),
        ("output", ["--backend"], dict(help="joblib backend (default: loky)")),
        ("output", ["--scheduler"], dict(metavar="ADDRESS", help=(
            "a Dask scheduler (tcp://host:8786) to run on; needs dask[distributed]"))),
        ("output", ["--quiet"], dict(action="store_true", help="no progress bar")),
        ("output", ["--traceback"], dict(action="store_true",
                                         help="show Python's traceback on an error")),
    ]


def build_parser():
    """The ``skpoison`` argument parser (its choices and help from the registries)."""
    parser = _Parser(prog="skpoison",
                     description="Subpopulation data poisoning audits (Jagielski et al., "
                                 "'Subpopulation Data Poisoning Attacks', CCS 2021).")
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
            """))
    groups = {}
    for group, flags, keywords in _data_options() + _run_options() + _output_options():
        if group not in groups:
            groups[group] = audit.add_argument_group(group)
        groups[group].add_argument(*flags, **keywords)
    return parser


# ---------------------------------------------------------------------------
# what the command line checks itself: files, folders, exclusive options


def _import_factory(spec):
    """The estimator returned by the user's ``module:function``.

    The current folder is searched after the installed packages (a file of
    the folder named like a package never shadows it); an import that fails
    or exits is a usage error.
    """
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise UsageError("--estimator", f"expected MODULE:FUNCTION (e.g. "
                                        f"mymodels:make_model); got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        factory = importlib.import_module(module_name)
        for part in name.split("."):
            factory = getattr(factory, part)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure is the user's
        raise UsageError("--estimator", f"cannot import {spec!r}: {type(exc).__name__}: "
                                        f"{exc}") from None
    if not callable(factory) or (isinstance(factory, type)
                                 and not hasattr(factory, "get_params")):
        raise UsageError("--estimator", f"{spec} is not a function returning a model")
    try:
        estimator = factory()
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        raise UsageError("--estimator", f"{spec}() failed: {type(exc).__name__}: "
                                        f"{exc}") from None
    if not all(hasattr(estimator, a) for a in ("fit", "predict", "get_params")):
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


def _check_options(args):
    """Options that need or exclude each other."""
    if args.data is None:
        for option in ("target", "test", "aux", "features", "feature", "estimator"):
            if getattr(args, option) is not None:
                raise UsageError(f"--{option}", "needs --data FILE (the table to "
                                                "audit); bundled data sets define "
                                                "their own")
    elif args.dataset is not None:
        raise UsageError("--dataset", "give either --dataset (bundled data) or "
                                      "--data FILE (your table), not both")
    elif args.target is None:
        raise UsageError("--target", "needed with --data: the column to predict")
    if args.estimator is not None and args.model is not None:
        raise UsageError("--estimator", "give either --model or --estimator, not both")
    if args.susceptibility and args.order is not None:
        raise UsageError("--susceptibility", "orders the groups itself; give it or "
                                             "--order, not both")
    if args.n_partitions is not None and "dpa" not in args.defenses:
        raise UsageError("--n-partitions", "is for the dpa defense; add it with "
                                           "--defenses ...,dpa")
    if args.scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UsageError("--scheduler", "needs dask's distributed package "
                                            "(pip install 'dask[distributed]')") from None


def _check_outputs(args):
    """The output folder, the report's path and the store's, none created."""
    _check_folder(args.out, "--out")
    if args.report is not None:
        if args.report.suffix.lower() in (".html", ".htm"):
            _check_file(args.report, "--report")
        else:
            _check_folder(args.report, "--report")
    store = None if args.no_store else (args.store or args.out / "audit.sqlite")
    if store is not None:
        _check_file(store, "--store")
    if store is not None and store.exists():  # a file given: readable as a store
        from ._store import ResultStore

        try:
            ResultStore(store).close()
        except ValueError as exc:
            raise UsageError("--store", str(exc)) from None
    return store


class _Plan:
    """What a checked command line will run."""


def _hint(columns):
    """The note when a table is audited without --features."""
    example = ",".join(printable(c) for c in columns[:2]) or "COL"
    return ("FeatureMatch skipped: name the columns that define your groups with "
            f"--features COL,COL (e.g. --features {example}) to audit their value "
            "combinations too")


def prepare(args):
    """Check the command line's own options, read the user's files.

    Returns
    -------
    plan : _Plan
        ``setting`` (a Setting record), ``model``, ``notes``, ``store``,
        ``params`` (for :func:`prepare_audit`) and ``n_jobs``.

    Raises
    ------
    UsageError
        Naming the option, before anything is fitted or written.
    """
    _check_options(args)
    plan = _Plan()
    plan.store, plan.notes = _check_outputs(args), []
    features = (args.features or []) + (args.feature or []) or None
    setting = SETTINGS[args.dataset or "adult"]
    if args.data is not None:
        estimator = None if args.estimator is None else _import_factory(args.estimator)
        try:
            setting = table_setting(args.data, args.target, test=args.test, aux=args.aux,
                                    features=features, estimator=estimator,
                                    estimator_name=args.estimator)
        except SettingError as exc:
            raise usage_error(exc) from None
    finders = list(args.filters or FINDERS)
    if args.data is not None and features is None and args.filters is None:
        finders.remove("FeatureMatch")
        plan.notes.append(_hint(setting.columns))
    sizes = {k: v for k, v in (("min_size", args.min_size), ("max_size", args.max_size))
             if v is not None}
    clusters = {} if args.n_clusters is None else {"n_clusters": args.n_clusters}
    plan.setting, plan.model = setting, args.estimator or args.model or setting.models[0]
    plan.n_jobs = args.n_jobs or (1 if on_accelerator(args.device) else -1)
    plan.params = dict(
        finders={n: {**sizes, **(clusters if n == "ClusterMatch" else {})}
                 for n in finders},
        defenses={d: {"n_partitions": args.n_partitions}
                  if d == "dpa" and args.n_partitions else {} for d in args.defenses},
        attack=args.attack, alphas=args.alphas, seeds=args.seeds,
        subpopulation_order="susceptibility" if args.susceptibility else args.order,
        max_subpopulations=args.max_subpopulations,
        n_jobs=plan.n_jobs, progress=not args.quiet,
        backend="dask" if args.scheduler else args.backend,
        store=plan.store, resume=not args.fresh, notes=list(plan.notes),
        title=f"skpoison audit: {setting.title}, {args.attack} attack, "
              f"{plan.model} victim",
        n_samples=args.n_samples, random_state=args.random_state, device=args.device)
    return plan


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


def _new_paths(args, store):
    """The output paths that do not exist yet, outermost first."""
    paths = [p for p in (store, args.out) if p is not None]
    for p in list(paths):
        parent = p.parent
        while not parent.exists() and parent != parent.parent:
            paths.append(parent)
            parent = parent.parent
    return [p for p in paths if not p.exists()]


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


def run_audit(args, plan=None):
    """Run the checked command line; returns the exit status."""
    from ._render import render_text
    from ._report import plot_summary, report_sections

    plan = plan or prepare(args)
    new = _new_paths(args, plan.store)
    client = None
    try:
        audit, data = prepare_audit(plan.setting, plan.model, **plan.params)
        if args.scheduler is not None:
            from distributed import Client

            client = Client(args.scheduler)
        with _safe_path():
            audit.run(*data)
    except (ValueError, TypeError) as exc:
        usage = usage_error(exc)
        if usage is None:
            raise
        _remove_new(new)  # found once the data is loaded: nothing written
        raise usage from None
    finally:
        if client is not None:
            client.close()
    written = audit.save(args.out)  # first: a failing report loses nothing
    try:
        plot_summary(audit.results_, args.out / "damage.png")
        written.append(args.out / "damage.png")
        print(render_text(report_sections(audit)))
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
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:  # once terminated, SIGTERM stays ignored until the command ends
        if signal.getsignal(signal.SIGTERM) is _terminate:
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
    if args.command != "audit":  # pragma: no cover - argparse enforces a command
        return 2
    try:
        with _sigterm_as_interrupt():
            return run_audit(args, prepare(args))
    except UsageError as exc:
        parser.exit(2, f"skpoison: error: {printable(exc)}\n")
    except BrokenPipeError:  # e.g. `skpoison audit ... | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt as exc:
        how = "terminated" if isinstance(exc, Terminated) else "interrupted"
        kept = ("nothing was kept (--no-store)" if args.no_store else
                "finished units are in the store, run the same command again to "
                "resume")
        print(f"skpoison: {how}; {kept}.", file=sys.stderr)
        if isinstance(exc, Terminated):  # the stop is over: SIGTERM ends us again
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        return 128 + signal.SIGTERM if isinstance(exc, Terminated) else 130
    except (ValueError, TypeError, OSError, ImportError, RuntimeError,
            MemoryError) as exc:
        if args.traceback:
            raise
        print(printable(f"skpoison: error: {type(exc).__name__}: {exc}") +
              "\n(--traceback shows where)", file=sys.stderr)
        return 1

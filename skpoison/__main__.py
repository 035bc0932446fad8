"""Command line: ``skpoison audit`` runs the subpopulation audit (UCI Adult by
default; ``--dataset`` picks another of the paper's settings)."""

import argparse
import os
import sys
import time
from pathlib import Path


TITLES = {"adult": "UCI Adult", "fashion-mnist": "Fashion-MNIST",
          "rotten-tomatoes": "Rotten Tomatoes", "german": "German credit",
          "compas": "COMPAS"}


def _floats(text):
    try:
        return [float(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers: {text!r}")


def _ints(text):
    try:
        return [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}")


def _names(choices):
    def parse(text):
        names = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in names if v not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(choices)}; got {text!r}")
        return names
    return parse


def build_parser():
    from .audit._adult import ATTACKS, MODELS
    from .audit._settings import DEFENSES, SETTINGS

    parser = argparse.ArgumentParser(
        prog="skpoison",
        description="Subpopulation data poisoning audits (Jagielski et al., CCS 2021).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    audit = sub.add_parser(
        "audit",
        help="attack every subpopulation of the bundled UCI Adult data and report",
        description=(
            "Attack every FeatureMatch (education x race x sex) and ClusterMatch "
            "subpopulation of UCI Adult with 10 < n < 100 auxiliary rows by label "
            "flipping, train the victim without and with TRIM, and report Top-k "
            "target damage and collateral damage per filter and alpha."),
    )
    audit.add_argument("--dataset", choices=list(SETTINGS), default="adult",
                       help="the setting: adult (default; the bundled UCI data), "
                            "fashion-mnist (images), rotten-tomatoes (text), german, "
                            "compas")
    models = sorted({m for ms in SETTINGS.values() for m in ms} | set(MODELS))
    audit.add_argument("--model", choices=models, default=None,
                       help="victim model; adult/german/compas: lr (default), mlp (10 "
                            "hidden units, scikit-learn), torch-mlp (adult: the same "
                            "net in skorch); fashion-mnist: ll (default; linear head "
                            "on frozen EfficientNet-Lite0 features), ft (fine-tuned), "
                            "cnn (the paper's small CNN), lr (pixels); "
                            "rotten-tomatoes: ll (default; MiniLM features), ft")
    audit.add_argument("--n-samples", default=None,
                       help="rows in each of D, D_aux and test (default: a CPU-sized "
                            "subset for images and text, all rows otherwise; 'full' "
                            "for every row)")
    audit.add_argument("--order", choices=["confidence", "id"], default=None,
                       help="which subpopulations first: confidence (least confident "
                            "attacker model first, the paper's images and text; default "
                            "except adult) or id")
    audit.add_argument("--attack", choices=ATTACKS, default="labelflip",
                       help="poison generator: labelflip (default, the paper's Adult "
                            "attack), gradient or influence (optimised poisons)")
    audit.add_argument("--filters", type=_names(("FeatureMatch", "ClusterMatch")),
                       default=["FeatureMatch", "ClusterMatch"],
                       help="comma-separated finders (default: both)")
    audit.add_argument("--alphas", type=_floats, default=[0.5, 1.0, 2.0],
                       help="poisoning rates (default: 0.5,1,2)")
    audit.add_argument("--seeds", type=_ints, default=[0],
                       help="seeds; each seeds one run of every attack (default: 0)")
    audit.add_argument("--defenses", "--defense", type=_names(DEFENSES),
                       default=["none", "trim"],
                       help="comma-separated defenses: none, trim, sever, ac "
                            "(activation clustering), ss (spectral signatures), "
                            "fine-pruning (torch nets) (default: none,trim)")
    audit.add_argument("--n-clusters", type=int, default=100,
                       help="ClusterMatch clusters on adult (default: 100, as the paper)")
    audit.add_argument("--max-subpopulations", type=int, default=None,
                       help="attack only this many subpopulations per filter")
    audit.add_argument("--n-jobs", type=int, default=-1,
                       help="parallel jobs (default: -1, all cores)")
    audit.add_argument("--random-state", type=int, default=0,
                       help="seed of the data split and clustering (default: 0)")
    audit.add_argument("--out", type=Path, default=Path("skpoison_audit"),
                       help="output folder for results.csv, summary.csv, damage.png")
    audit.add_argument("--store", type=Path, default=None,
                       help="SQLite result store that makes the audit resumable: each "
                            "finished unit is committed at once, and a re-run skips "
                            "what it holds (default: OUT/audit.sqlite)")
    audit.add_argument("--no-store", action="store_true",
                       help="keep no result store")
    audit.add_argument("--fresh", action="store_true",
                       help="recompute everything, overwriting stored rows")
    audit.add_argument("--report", type=Path, default=None, metavar="DIR",
                       help="write a self-contained HTML report, DIR/report.html")
    audit.add_argument("--backend", default=None,
                       help="joblib backend (default: loky processes; e.g. threading)")
    audit.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on the Dask distributed cluster whose scheduler is at "
                            "ADDRESS (e.g. tcp://10.0.0.5:8786); needs dask[distributed]")
    audit.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_audit(args):
    import pandas as pd

    from .audit import adult_audit, plot_summary, setting_audit

    store = None if args.no_store else (args.store or args.out / "audit.sqlite")
    backend, client = args.backend, None
    if args.scheduler is not None:
        try:
            from distributed import Client
        except ImportError:
            sys.exit("skpoison: --scheduler needs dask's distributed package "
                     "(pip install 'dask[distributed]').")
        client = Client(args.scheduler)
        backend = "dask"
    start = time.perf_counter()
    try:
        common = {"attack": args.attack, "filters": args.filters,
                  "alphas": args.alphas, "seeds": args.seeds,
                  "defenses": args.defenses,
                  "max_subpopulations": args.max_subpopulations,
                  "n_jobs": args.n_jobs, "progress": not args.quiet,
                  "random_state": args.random_state, "backend": backend,
                  "store": store, "resume": not args.fresh}
        if args.dataset == "adult" and args.order in (None, "id") \
                and args.n_samples is None:
            audit = adult_audit(model=args.model or "lr", n_clusters=args.n_clusters,
                                **common)
        else:
            n_samples = args.n_samples
            if n_samples is not None and n_samples != "full":
                n_samples = int(n_samples)
            audit = setting_audit(args.dataset, args.model, n_samples=n_samples,
                                  order=args.order or "confidence", **common)
    finally:
        if client is not None:
            client.close()
    elapsed = time.perf_counter() - start
    results = audit.results_
    summary = audit.summary()
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / "results.csv", index=False)
    summary.to_csv(args.out / "summary.csv")
    plot_summary(results, args.out / "damage.png")

    model = audit.setting_name_.split(" / ")[1]
    print(f"\nskpoison audit: {TITLES[args.dataset]}, attack={args.attack}, victim={model}, "
          f"alphas={args.alphas}, seeds={args.seeds}")
    for seed, accuracy in audit.clean_accuracy_.items():
        print(f"  clean victim (seed {seed}): test accuracy {accuracy:.3f}")
    for fname, finder in audit.fitted_finders_.items():
        print(f"  {fname}: {len(finder.subpopulations_)} subpopulations pass the size "
              f"filter, {len(audit.skipped_[fname])} skipped (no test rows)")
    print("\nTarget damage (accuracy points lost on the subpopulation; Top-k = mean of "
          "the k most damaged)\nand collateral damage (on the rest of the test set), "
          "positive = damage:\n")
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.max_colwidth", 60, "display.float_format", "{:.3f}".format):
        print(summary.to_string())
    where = (f"Dask cluster at {args.scheduler}" if args.scheduler
             else f"n_jobs={args.n_jobs}, {os.cpu_count()} CPUs")
    print(f"\n{audit.n_computed_} poisoned fits in {elapsed:.1f} s ({where}); "
          f"{audit.n_reused_} loaded from the store.")
    written = [args.out / "results.csv", args.out / "summary.csv",
               args.out / "damage.png"]
    if store is not None:
        written.append(store)
    if args.report is not None:
        written.append(audit.report(
            args.report,
            title=f"skpoison audit: {TITLES[args.dataset]}, {args.attack} attack, {model} victim"))
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


def main(argv=None):
    """Entry point of the ``skpoison`` command."""
    args = build_parser().parse_args(argv)
    if args.command == "audit":
        return run_audit(args)
    return 2  # pragma: no cover - argparse enforces a command


if __name__ == "__main__":
    sys.exit(main())

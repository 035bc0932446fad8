"""The audit on each of the paper's settings: clean accuracy and Top-k damage.

Issue 5's measurement: for each setting (data set x victim), the clean test
accuracy of the victim and the audit's Top-1/5/10 mean target damage and mean
collateral damage per filter and alpha, label flipping, no defense.

    python benchmarks/table_settings.py                     # every setting
    python benchmarks/table_settings.py fashion-mnist/ll    # one

Prints a markdown table per setting and writes ``OUT/<dataset>_<model>.csv``.
"""

import argparse
import time
from pathlib import Path

from skpoison.audit import setting_audit

# (dataset, model, max_subpopulations per filter, n_samples per split or None)
SETTINGS = [
    ("german", "lr", None, None),
    ("compas", "lr", None, None),
    ("adult", "lr", None, None),
    ("adult", "mlp", None, None),
    ("rotten-tomatoes", "ll", 30, None),
    ("fashion-mnist", "ll", 30, None),
    ("rotten-tomatoes", "ft", 5, None),
    ("fashion-mnist", "ft", 5, None),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="*", help="dataset/model pairs to run")
    parser.add_argument("--out", type=Path, default=Path("settings_audit"))
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for dataset, model, max_sub, n_samples in SETTINGS:
        if args.only and f"{dataset}/{model}" not in args.only:
            continue
        start = time.perf_counter()
        audit = setting_audit(dataset, model, alphas=(0.5, 1, 2), defenses=("none",),
                              max_subpopulations=max_sub, n_samples=n_samples,
                              subpopulation_order="id" if dataset == "adult"
                              else "confidence",
                              n_jobs=args.n_jobs, progress=False)
        elapsed = time.perf_counter() - start
        audit.results_.to_csv(args.out / f"{dataset}_{model}.csv", index=False)
        summary = audit.summary()
        accuracy = ", ".join(f"{a:.3f}" for a in audit.clean_accuracy_.values())
        n_sub = {f: int(r["subpopulation"].nunique())
                 for f, r in audit.results_.groupby("filter")}
        print(f"\n### {dataset} / {model}: clean test accuracy {accuracy}; "
              f"subpopulations attacked {n_sub}; {elapsed:.0f} s\n")
        print(summary.round(3).to_markdown() if hasattr(summary, "to_markdown")
              else summary.round(3).to_string())


if __name__ == "__main__":
    main()

"""Cost of the SEVER and TRIM defenses relative to one plain fit, on UCI Adult.

Usage::

    python benchmarks/bench_sever.py [--n-remove 100] [--repeat 3] [--net]

Times (best of ``--repeat``, default 3; the machine may be shared), in one
run, on the paper form of Adult (``load_adult(form="paper")``, standardised
once up front so that the defenses can warm-start the model itself):

* one plain fit of ``LogisticRegression(max_iter=1000)``;
* ``SEVER(method="svd")`` with its default rounds (``max_iter=5``: five
  rounds of fit + per-class gradient SVD, then the final refit);
* ``SEVER(method="norm")`` (the authors' proxy, up to 5 rounds);
* ``TRIM(max_iter=5)``.

``n_remove`` defaults to 100 rows (a subpopulation attack's poison count on
Adult is tens to a few hundred). Targets: SEVER at most 3x a plain fit, TRIM
(5 rounds) at most 2x. ``--net`` adds the same ratios for the paper's MLP
(skorch, one hidden layer of 10 units, 20 epochs; SEVER on the last layer).
"""

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skpoison.datasets import load_adult
from skpoison.defenses import SEVER, TRIM
from skpoison.nets import make_mlp_classifier


def timed(f, repeat):
    """Result of ``f()`` and its best wall time over ``repeat`` calls."""
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return out, best


def report(name, model, X, y, n_remove, repeat):
    _, t_plain = timed(lambda: model().fit(X, y), repeat)
    print(f"\n{name}: plain fit {t_plain:.3f} s")
    runs = {
        "SEVER svd (5 rounds)": lambda: SEVER(model(), n_remove=n_remove,
                                              random_state=0),
        "SEVER norm (<=5 rounds)": lambda: SEVER(model(), n_remove=n_remove,
                                                 method="norm", random_state=0),
        "TRIM (5 rounds)": lambda: TRIM(model(), n_remove=n_remove, random_state=0),
    }
    for label, make in runs.items():
        fitted, t = timed(lambda make=make: make().fit(X, y), repeat)
        print(f"  {label:24s} {t:8.3f} s   ratio {t / t_plain:5.2f}   "
              f"rounds {fitted.n_iter_}   removed {(~fitted.support_mask_).sum()}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-remove", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--net", action="store_true")
    args = parser.parse_args()

    data = load_adult(form="paper", as_frame=False)
    X = StandardScaler().fit_transform(data.X_train)
    y = data.y_train
    print(f"Adult paper form: train {X.shape}, n_remove={args.n_remove}, "
          f"best of {args.repeat}")
    report("LogisticRegression(max_iter=1000)",
           lambda: LogisticRegression(max_iter=1000), X, y, args.n_remove,
           args.repeat)
    if args.net:
        report("MLP (10,), 20 epochs (skorch)",
               lambda: make_mlp_classifier((10,), max_epochs=20, random_state=0),
               X.astype(np.float32), y, args.n_remove, args.repeat)


if __name__ == "__main__":
    main()

"""Table 9 in shape, on CPU scale: Witches' Brew with ClusterMatch vs random targets.

Usage::

    python benchmarks/table9_witches_brew.py [--trials 12] [--n-train 3000]
        [--n-iter 250] [--restarts 4] [--n-models 2] [--n-targets 30]
        [--epochs 20] [--budget 0.01] [--eps 16] [--threads 1]

The paper (Sec. 6.1, Table 9): CIFAR-10, 30 targets per attack, 24 attacks per
selection, budget 1 %, eps 16, 8 restarts, differentiable augmentation,
8 victims per trial. Here: Fashion-MNIST (``--n-train`` training images, targets
from the test set), an MLP (784-64-10; the paper's small CNN is ~100x slower on
this CPU), budget 1 %, eps 16/255, augmentation on, 250 iterations, fewer
restarts, victims and trials (see the options). Each trial draws a target class and an
intended class; **ClusterMatch** targets are 30 test images of the class from
one per-class ClusterMatch cluster of the clean model's hidden activations
(``select_targets(mode="subpopulation")``), **random** targets 30 test images of
the class. Reported per selection: Worst-1/5/10 (mean success of the k most
successful attacks) and Overall (mean), where success is the fraction of targets
that retrained victims classify as the intended class (mean over victims).
"""

import argparse
import time

import numpy as np
import torch

from skpoison.attacks import WitchesBrew, select_targets
from skpoison.datasets import load_fashion_mnist
from skpoison.nets import make_mlp_classifier
from skpoison.subpopulations import ClusterMatch


def victim(seed=None, epochs=20):
    return make_mlp_classifier((64,), max_epochs=epochs, random_state=seed)


def worst_k(values, k):
    values = np.sort(np.asarray(values))[::-1]
    return float(values[:k].mean()) if len(values) >= k else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-iter", type=int, default=250)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--n-models", type=int, default=2)
    parser.add_argument("--n-targets", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--budget", type=float, default=0.01)
    parser.add_argument("--eps", type=float, default=16)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest for this small net)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    X, y = load_fashion_mnist(subset="train", n_samples=args.n_train,
                              random_state=0, return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    X, X_test = X.astype(np.float32) / 255, X_test.astype(np.float32) / 255
    clean = victim(0, args.epochs).fit(X, y)
    print(f"clean MLP: test accuracy {np.mean(clean.predict(X_test) == y_test):.3f}")
    H_test = clean.activations(X_test, layer="hidden")  # the clean representation
    # baseline: victims trained on clean data, seeded like validate's victims
    clean_victims = [victim(1000 + m, args.epochs).fit(X, y)
                     for m in range(args.n_models)]

    rng = np.random.RandomState(0)
    results = {"ClusterMatch": [], "random": []}
    times = []
    for trial in range(args.trials):
        target_class = int(rng.randint(10))
        intended = int(rng.choice([c for c in range(10) if c != target_class]))
        seed = int(rng.randint(2**31 - 1))
        for selection in ("ClusterMatch", "random"):
            t0 = time.perf_counter()
            if selection == "ClusterMatch":
                finder = ClusterMatch(n_clusters=10, target="random",
                                      min_size=args.n_targets - 1)
                idx = select_targets(H_test, y_test, n=args.n_targets,
                                     subpopulation=finder,
                                     target_class=target_class, random_state=seed)
            else:
                idx = select_targets(H_test, y_test, n=args.n_targets,
                                     mode="random", target_class=target_class,
                                     random_state=seed)
            attack = WitchesBrew(targets=X_test[idx], intended_class=intended,
                                 estimator=clean, budget=args.budget,
                                 eps=args.eps, scale=1.0,
                                 bounds=(0.0, 1.0), n_iter=args.n_iter,
                                 restarts=args.restarts, image_shape=(28, 28),
                                 random_state=seed)
            X_p, y_p = attack.fit_resample(X, y)
            success = attack.validate(X_p, y_p, n_models=args.n_models,
                                      estimator=victim(None, args.epochs))
            base = np.mean([np.mean(v.predict(X_test[idx]) == intended)
                            for v in clean_victims])
            elapsed = time.perf_counter() - t0
            times.append(elapsed)
            results[selection].append(success)
            print(f"trial {trial} {selection:12s} class {target_class}->{intended}: "
                  f"success {success:.3f} (clean victims {base:.3f}), "
                  f"loss {attack.restart_losses_.min():.3f}, {elapsed:.1f} s",
                  flush=True)

    print(f"\n{args.trials} trials per selection, {args.n_models} victims per "
          f"trial, {args.n_iter} iterations x {args.restarts} restarts; "
          f"{np.mean(times):.1f} s per attack (crafting + validation)")
    print(f"{'Selection':14s}{'Worst-1':>9s}{'Worst-5':>9s}{'Worst-10':>9s}"
          f"{'Overall':>9s}")
    for selection, values in results.items():
        print(f"{selection:14s}{worst_k(values, 1):9.3f}{worst_k(values, 5):9.3f}"
              f"{worst_k(values, 10):9.3f}{np.mean(values):9.3f}")


if __name__ == "__main__":
    main()

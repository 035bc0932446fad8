"""Witches' Brew crafting time: skpoison against the Adversarial Robustness Toolbox.

Usage::

    python benchmarks/bench_witches_brew.py [--n-train 2000] [--n-iter 100]
        [--restarts 2] [--budget 0.01] [--n-targets 30] [--repeat 1]
        [--threads 1]

Both attacks craft poisons on the **same** fitted surrogate (the ``module_`` of
``make_mlp_classifier((64,))`` trained on ``--n-train`` Fashion-MNIST images
scaled to [0, 1]), for the same 30 targets (test images of one class) and
intended class, the same budget (1 % of the training rows), eps = 16/255, the
same number of signed-Adam iterations and restarts, no augmentation (ART has
none), and one batch holding every poison (so both take one step per
iteration). It prints each crafting time (best of ``--repeat``) and the ratio
ART / skpoison, plus the final gradient-matching loss of each.

ART is ``adversarial-robustness-toolbox`` (``GradientMatchingAttack`` with a
``PyTorchClassifier``); without it the script says so and times skpoison only.
"""

import argparse
import time

import numpy as np
import torch

from skpoison.attacks import WitchesBrew
from skpoison.datasets import load_fashion_mnist
from skpoison.nets import make_mlp_classifier


def timed(f, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-iter", type=int, default=100)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--budget", type=float, default=0.01)
    parser.add_argument("--n-targets", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both (1 is fastest for this net)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    X, y = load_fashion_mnist(subset="train", n_samples=args.n_train,
                              random_state=0, return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    X = X.astype(np.float32) / 255
    X_test = X_test.astype(np.float32) / 255
    target_class, intended = 0, 6  # T-shirt -> shirt
    targets = X_test[y_test == target_class][: args.n_targets]
    net = make_mlp_classifier((64,), max_epochs=20, random_state=0).fit(X, y)
    n_poison = int(args.budget * len(X))
    print(f"{len(X)} training images, {n_poison} poisons, {len(targets)} targets, "
          f"{args.n_iter} iterations x {args.restarts} restarts, "
          f"torch threads {torch.get_num_threads()}")

    attack = WitchesBrew(targets=targets, intended_class=intended, estimator=net,
                         budget=args.budget, eps=16, scale=1.0, bounds=(0.0, 1.0),
                         n_iter=args.n_iter, restarts=args.restarts, augment=False,
                         batch_size=max(n_poison, 1), random_state=0)
    t_ours, _ = timed(lambda: attack.fit_resample(X, y), args.repeat)
    print(f"skpoison WitchesBrew: {t_ours:.2f} s "
          f"(final loss {attack.restart_losses_.min():.3f})")

    try:
        from art.attacks.poisoning import GradientMatchingAttack
        from art.estimators.classification import PyTorchClassifier
    except ImportError as exc:
        print(f"ART not available ({exc}); install adversarial-robustness-toolbox "
              "to compare. Ratio not measured.")
        return

    classifier = PyTorchClassifier(
        model=net.module_, loss=torch.nn.CrossEntropyLoss(),
        optimizer=torch.optim.Adam(net.module_.parameters()),
        input_shape=(X.shape[1],), nb_classes=10, clip_values=(0.0, 1.0))
    # ART's schedule: lr 0.1 decayed x0.1 at the same fractions as the reference
    n = args.n_iter
    milestones = [int(n // 2.667), int(n // 1.6), int(n // 1.142), n + 1]
    art_attack = GradientMatchingAttack(
        classifier, percent_poison=args.budget, epsilon=16 / 255,
        max_trials=args.restarts, max_epochs=n,
        learning_rate_schedule=([1e-1, 1e-2, 1e-3, 1e-4], milestones),
        batch_size=max(n_poison, 1), clip_values=(0.0, 1.0), verbose=0)
    y_trigger = np.full(len(targets), intended)
    np.random.seed(0)  # ART draws its poison rows from NumPy's global RNG
    t_art, (X_art, _) = timed(
        lambda: art_attack.poison(targets, y_trigger, X, y), args.repeat)
    changed = np.any(X_art != X, axis=1).sum()
    print(f"ART GradientMatchingAttack: {t_art:.2f} s ({changed} rows changed)")
    print(f"ratio ART / skpoison: {t_art / t_ours:.2f}")


if __name__ == "__main__":
    main()

"""Witches' Brew crafting time: skpoison on a device, against the CPU and ART.

Usage::

    python benchmarks/bench_witches_brew.py [--device cuda] [--compare-cpu]
        [--net mlp|cnn] [--n-train 2000] [--epochs E] [--n-iter 100]
        [--restarts 2] [--budget 0.01] [--n-targets 30] [--repeat 1]
        [--threads T] [--data-dir DIR]

Both attacks craft poisons on the **same** fitted surrogate, trained on
``--n-train`` Fashion-MNIST images scaled to [0, 1] (``--data-dir``, a folder
with Zalando's four IDX files, else the Debian package): ``--net mlp`` (the
default) is ``make_mlp_classifier((64,))``, 20 epochs; ``--net cnn`` the
paper's small CNN, ``make_cnn_classifier((1, 28, 28))``, 2 epochs. Same 30
targets (test images of one class) and intended class, same budget (1 % of
the training rows), eps = 16/255, the same number of signed-Adam iterations
and restarts, no augmentation (ART has none), and one batch holding every
poison (so both take one step per iteration), all on ``--device``. Each
timing is the best of ``--repeat``; skpoison's first is preceded by an
untimed one-iteration warm-up on that device (CUDA context, cuDNN plans),
which leaves the device warm for ART too. Printed: each crafting time and
final gradient-matching loss, and the ratio ART / skpoison.

``--compare-cpu`` also times skpoison's crafting, same setup and seed, on a
CPU copy of the surrogate, and prints CPU / device. The GPU check of
"Subpopulation Data Poisoning Attacks"' Witches' Brew setting (Sec. 6.1:
1 % of a 50,000-image training set) is::

    python benchmarks/bench_witches_brew.py --device cuda --compare-cpu \\
        --net cnn --n-train 60000 --n-iter 20 --restarts 1

(600 poisons; the CPU side runs on all cores unless ``--threads``). On a CPU
the 784-64-10 MLP is fastest with ``--threads 1``.

ART is ``adversarial-robustness-toolbox`` (``GradientMatchingAttack`` with a
``PyTorchClassifier`` on the same device); without it the script says so
and times skpoison only.
"""

import argparse
import copy
import time

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from skpoison.attacks import WitchesBrew
from skpoison.datasets import load_fashion_mnist
from skpoison.nets import make_cnn_classifier, make_mlp_classifier


def timed(f, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def on_cpu(net):
    """A copy of the fitted skorch ``net`` whose module is on the CPU."""
    net = copy.deepcopy(net)
    net.module_.to("cpu")
    net.set_params(device="cpu")
    return net


def craft_time(net, targets, intended, X, y, args):
    """Best crafting time of skpoison's WitchesBrew on ``net``'s device."""
    n_poison = int(args.budget * len(X))
    params = {"targets": targets, "intended_class": intended,
              "estimator": FrozenEstimator(net), "budget": args.budget, "eps": 16,
              "scale": 1.0, "bounds": (0.0, 1.0), "augment": False,
              "batch_size": max(n_poison, 1), "random_state": 0}
    WitchesBrew(n_iter=1, restarts=1, **params).fit_resample(X, y)  # warm-up
    attack = WitchesBrew(n_iter=args.n_iter, restarts=args.restarts, **params)
    seconds, _ = timed(lambda: attack.fit_resample(X, y), args.repeat)
    return seconds, attack


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compare-cpu", action="store_true",
                        help="also time skpoison on the CPU; print CPU / device")
    parser.add_argument("--net", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=None,
                        help="surrogate epochs (default 20 mlp, 2 cnn)")
    parser.add_argument("--n-iter", type=int, default=100)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--budget", type=float, default=0.01)
    parser.add_argument("--n-targets", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    X, y = load_fashion_mnist(subset="train", path=args.data_dir,
                              n_samples=min(args.n_train, 60_000), random_state=0,
                              return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", path=args.data_dir,
                                        return_X_y=True)
    X = X.astype(np.float32) / 255
    X_test = X_test.astype(np.float32) / 255
    target_class, intended = 0, 6  # T-shirt -> shirt
    targets = X_test[y_test == target_class][: args.n_targets]
    if args.net == "cnn":
        net = make_cnn_classifier((1, 28, 28), max_epochs=args.epochs or 2,
                                  batch_size=256, lr=2e-3, device=args.device,
                                  random_state=0)
    else:
        net = make_mlp_classifier((64,), max_epochs=args.epochs or 20,
                                  device=args.device, random_state=0)
    t0 = time.perf_counter()
    net.fit(X, y)
    n_poison = int(args.budget * len(X))
    print(f"{len(X)} training images, {n_poison} poisons, {len(targets)} targets, "
          f"{args.n_iter} iterations x {args.restarts} restarts, {args.net} "
          f"surrogate trained on {args.device} in {time.perf_counter() - t0:.1f} s, "
          f"torch CPU threads {torch.get_num_threads()}", flush=True)

    t_ours, attack = craft_time(net, targets, intended, X, y, args)
    print(f"skpoison WitchesBrew on {args.device}: {t_ours:.2f} s "
          f"(final loss {attack.restart_losses_.min():.3f})", flush=True)

    if args.compare_cpu:
        t_cpu, attack_cpu = craft_time(on_cpu(net), targets, intended, X, y, args)
        print(f"skpoison WitchesBrew on cpu: {t_cpu:.2f} s "
              f"(final loss {attack_cpu.restart_losses_.min():.3f})")
        print(f"ratio cpu / {args.device}: {t_cpu / t_ours:.2f}", flush=True)

    try:
        from art.attacks.poisoning import GradientMatchingAttack
        from art.estimators.classification import PyTorchClassifier
    except ImportError as exc:
        print(f"ART not available ({exc}); install adversarial-robustness-toolbox "
              "to compare. Ratio not measured.")
        return

    device_type = "cpu" if torch.device(args.device).type == "cpu" else "gpu"
    classifier = PyTorchClassifier(
        model=net.module_, loss=torch.nn.CrossEntropyLoss(),
        optimizer=torch.optim.Adam(net.module_.parameters()),
        input_shape=(X.shape[1],), nb_classes=10, clip_values=(0.0, 1.0),
        device_type=device_type)
    # ART's schedule: lr 0.1 decayed x0.1 at the same fractions of the steps as
    # the reference and skpoison. ART's (learning rates, epochs) pairs mean
    # "rate i from epoch i on" (its PredefinedLRSchedule), so the first epoch
    # is 0: with (3/8, 5/8, 7/8, n + 1) the first decay came at 5/8 of the
    # steps and the last never.
    n = args.n_iter
    milestones = [0, int(n // 2.667), int(n // 1.6), int(n // 1.142)]
    attack_art = GradientMatchingAttack(
        classifier, percent_poison=args.budget, epsilon=16 / 255,
        max_trials=args.restarts, max_epochs=n,
        learning_rate_schedule=([1e-1, 1e-2, 1e-3, 1e-4], milestones),
        batch_size=max(n_poison, 1), clip_values=(0.0, 1.0), verbose=0)
    y_trigger = np.full(len(targets), intended)
    np.random.seed(0)  # ART draws its poison rows from NumPy's global RNG
    # no warm-up of its own: skpoison's runs left the device warm for this
    # module and batch shape
    t_art, (X_art, _) = timed(
        lambda: attack_art.poison(targets, y_trigger, X, y), args.repeat)
    changed = np.any(X_art != X, axis=1).sum()
    print(f"ART GradientMatchingAttack on {args.device}: {t_art:.2f} s "
          f"({changed} rows changed)")
    print(f"ratio ART / skpoison: {t_art / t_ours:.2f}")


if __name__ == "__main__":
    main()

"""Table 9 of the paper: Witches' Brew with ClusterMatch against random targets.

Usage::

    python benchmarks/table9_witches_brew.py [--device cuda] [--data-dir DIR]
        [--small] [--net cnn|mlp] [--trials 12] [--victims 2] [--epochs 2]
        [--batch-size 256] [--lr 2e-3] [--n-iter 40] [--restarts 2]
        [--n-targets 30] [--budget 0.01] [--eps 16] [--n-train N] [--threads T]

"Subpopulation Data Poisoning Attacks" (Jagielski et al., CCS 2021), Sec. 6.1
and Table 9: CIFAR-10, 24 Witches' Brew attacks per target selection, 30
targets each, budget 1 % of the training set, eps 16, 8 restarts of 250
iterations, differentiable augmentation, success averaged over 8 victims
retrained from scratch per attack. ClusterMatch targets beat random ones by
2.35x over the 10 most successful attacks, by 1.86x on average.

Here: Fashion-MNIST (CIFAR-10 does not install offline), read from
``--data-dir`` (a folder holding Zalando's four IDX files,
``train-images-idx3-ubyte.gz`` ...) or else from the Debian package
``dataset-fashion-mnist``; pixels scaled to [0, 1]. By default all 60,000
training images and the paper's small CNN
(:func:`skpoison.nets.make_cnn_classifier` on ``(1, 28, 28)``; ``--net mlp``
uses a 784-64-10 MLP instead). One surrogate is trained on the clean data; per
trial a target class and an intended class are drawn, and both selections
attack the same pair with the same seed:

* **ClusterMatch**: 30 test images of the target class from one cluster of a
  per-class ClusterMatch (10 clusters) on the surrogate's representation
  (the input of its last layer), :func:`skpoison.attacks.select_targets`;
* **random**: 30 test images of the target class drawn uniformly.

:class:`skpoison.attacks.WitchesBrew` crafts the poisons on the surrogate
(budget 1 %, eps 16/255, random flips and shifts as differentiable
augmentation, restarts keeping the lowest loss) and
:meth:`~skpoison.attacks.WitchesBrew.validate` retrains ``--victims`` victims
from scratch on the poisoned set (trained as the surrogate, without data
augmentation; the paper's victims train with it). Success is the fraction of targets the
victims classify as the intended class. The table reports, per selection,
Worst-1/5/10 (mean success of the k most successful attacks) and Overall
(mean over all), and the ratio ClusterMatch / random on Worst-10 and Overall.
Each attack line also shows the rate of the clean surrogate on the same
targets, the success a trial would get for free.

**Sizes.** The default sizes are for one H200-class GPU and at most 8
minutes, with at least 8 trials per selection and 2 retrained victims per
trial. No GPU was at hand when they were chosen, so the GPU times are CPU
timings of the pieces (one thread, process time, so a busy machine does not
inflate them) scaled by one reference job whose GPU time is known: the small
CNN, 2 epochs on 8,000 images of 3x32x32 at batch 32, takes 1.6 s on an
H200; here it takes 7.8 ms per image-epoch, 125 s, so the GPU is 78x one CPU
thread. Scaling keeps batch 32's launch overhead, which larger batches
amortise on a GPU, so the GPU column is an upper bound:

=================================================  ============  ==========
piece (60,000 images, 600 poisons)                 1 CPU thread  H200, bound
=================================================  ============  ==========
one training epoch of the small CNN, batch 256     293-303 s     3.9 s
one crafting iteration (30 targets, augmentation)  9.5 s         0.12 s
=================================================  ============  ==========

Chosen first: 8 trials per selection, 2 victims per trial, 2 epochs at batch 256
(Adam, lr 2e-3: 470 steps, test accuracy 0.871 in a CPU run), 40
iterations x 2 restarts per attack (the paper: 250 x 8, 8 victims, 24
trials), all 600 poisons in one batch. Trainings: 1 surrogate + 16 attacks x
2 victims = 33, at most 33 x 2 x 3.9 s = 257 s; crafting: 16 x 80 iterations,
at most 154 s; loading, the representation and target selection a few
seconds: about 7 minutes by the bound, 3 to 4 expected. If a GPU run takes
longer, ``--n-iter 20`` or ``--epochs 1`` (0.846 test accuracy) trims it.
Every part's wall time is printed.

**Measured on an H200** (torch 2.11, CUDA 13): with these sizes and 12
trials per selection, the whole script took 223 s (surrogate 3.9 s, crafting
3.4 s and the two victims 5.6 s per attack, surrogate test accuracy 0.869),
well inside the 8 minutes, so the default is 12 trials: Worst-10 needs at
least 10 attacks per selection.

``--small`` is the CPU mode the tests run (one thread, about 20 s): 300
training and 500 test images, a CNN of width 4, 4 epochs, 10 trials, 5
targets, 4 iterations x 2 restarts. Its numbers only show that the pieces
fit together; the attack needs the full sizes to transfer.
"""

import argparse
import time
from collections import defaultdict

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from threadpoolctl import threadpool_limits

from skpoison.attacks import WitchesBrew, select_targets
from skpoison.datasets import load_fashion_mnist
from skpoison.nets import make_cnn_classifier, make_mlp_classifier
from skpoison.subpopulations import ClusterMatch

SELECTIONS = ("ClusterMatch", "random")
WORST_K = (1, 5, 10)

#: sizes of the GPU run (the default) and of the CPU ``--small`` mode
PRESETS = {
    "gpu": {"n_train": None, "n_test": None, "width": 32, "epochs": 2,
            "batch_size": 256, "lr": 2e-3, "n_iter": 40, "restarts": 2,
            "craft_batch": 600, "trials": 12, "victims": 2, "n_targets": 30,
            "n_clusters": 10, "threads": None},
    "small": {"n_train": 300, "n_test": 500, "width": 4, "epochs": 4,
              "batch_size": 30, "lr": 5e-3, "n_iter": 4, "restarts": 2,
              "craft_batch": 512, "trials": 10, "victims": 2, "n_targets": 5,
              "n_clusters": 5, "threads": 1},
}


class Timer:
    """Wall time per named part, summed over calls."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.start = time.perf_counter()

    def __call__(self, part):
        timer = self

        class _Part:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[part] += time.perf_counter() - self.t0

        return _Part()

    def report(self):
        total = time.perf_counter() - self.start
        print("\nWall time per part:")
        for part, seconds in self.seconds.items():
            print(f"  {part:28s}{seconds:9.1f} s")
        print(f"  {'total':28s}{total:9.1f} s")


def make_net(args, seed):
    """An unfitted surrogate or victim (every one trained the same way)."""
    common = {"max_epochs": args.epochs, "batch_size": args.batch_size,
              "lr": args.lr, "device": args.device, "random_state": seed}
    if args.net == "cnn":
        return make_cnn_classifier((1, 28, 28), width=args.width, **common)
    return make_mlp_classifier((64,), **common)


def worst_k(values, k):
    """Mean of the ``k`` largest values (nan with fewer than ``k``)."""
    values = np.sort(np.asarray(values, dtype=float))[::-1]
    return float(values[:k].mean()) if len(values) >= k else float("nan")


def ratio(a, b):
    return a / b if b > 0 else float("nan")


def print_table(results):
    """The Table 9 rows; returns ``{selection: {column: value}}``."""
    table = {}
    columns = [f"Worst-{k}" for k in WORST_K] + ["Overall"]
    print("\n| Selection    | " + " | ".join(f"{c:>8s}" for c in columns) + " |")
    print("|--------------|" + "----------|" * len(columns))
    for selection in SELECTIONS:
        values = results[selection]
        row = {f"Worst-{k}": worst_k(values, k) for k in WORST_K}
        row["Overall"] = float(np.mean(values))
        table[selection] = row
        print(f"| {selection:12s} | " + " | ".join(
            f"{v:8.3f}" for v in row.values()) + " |")
    cm, rnd = table["ClusterMatch"], table["random"]
    print(f"\nClusterMatch / random: Worst-10 {ratio(cm['Worst-10'], rnd['Worst-10']):.2f}x "
          f"(paper 2.35x), Overall {ratio(cm['Overall'], rnd['Overall']):.2f}x "
          "(paper 1.86x)")
    return table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu",
                        help="torch device of every net and of the crafting")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the four Fashion-MNIST IDX files "
                             "(default: the Debian package)")
    parser.add_argument("--small", action="store_true",
                        help="tiny CPU sizes (the tests' mode)")
    parser.add_argument("--net", choices=["cnn", "mlp"], default="cnn")
    for name, kind in [("n_train", int), ("n_test", int), ("width", int),
                       ("epochs", int), ("batch_size", int), ("lr", float),
                       ("n_iter", int), ("restarts", int), ("craft_batch", int),
                       ("trials", int), ("victims", int), ("n_targets", int),
                       ("n_clusters", int)]:
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=None,
                            help="default: the preset (see the docstring)")
    parser.add_argument("--budget", type=float, default=0.01)
    parser.add_argument("--eps", type=float, default=16)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of torch and BLAS (default: theirs; "
                             "1 with --small, against oversubscription on a "
                             "busy machine)")
    args = parser.parse_args(argv)
    for name, value in PRESETS["small" if args.small else "gpu"].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    timer = Timer()

    with timer("load data"):
        X, y = load_fashion_mnist(subset="train", path=args.data_dir,
                                  n_samples=args.n_train, random_state=0,
                                  return_X_y=True)
        X_test, y_test = load_fashion_mnist(subset="test", path=args.data_dir,
                                            n_samples=args.n_test, random_state=0,
                                            return_X_y=True)
        X, X_test = X.astype(np.float32) / 255, X_test.astype(np.float32) / 255
    print(f"Fashion-MNIST: {len(X)} training, {len(X_test)} test images; "
          f"{args.net} (width {args.width}), {args.epochs} epochs, batch "
          f"{args.batch_size}, device {args.device}; {args.trials} trials x "
          f"{len(SELECTIONS)} selections, {args.victims} victims per trial, "
          f"{args.n_iter} iterations x {args.restarts} restarts, "
          f"{args.n_targets} targets, budget {args.budget:.0%} "
          f"({int(args.budget * len(X))} poisons), eps {args.eps:g}/255",
          flush=True)

    with timer("surrogate (clean) training"):
        clean = make_net(args, 0).fit(X, y)
        acc = np.mean(clean.predict(X_test) == y_test)
    print(f"surrogate test accuracy {acc:.3f}", flush=True)
    with timer("representation"):
        layer = getattr(clean.module_, "representation_layer", "hidden")
        H_test = clean.activations(X_test, layer=layer)
        H_test = H_test.reshape(len(H_test), -1)

    image_shape = (1, 28, 28) if args.net == "cnn" else (28, 28)
    frozen = FrozenEstimator(clean)  # the attacker's pretrained surrogate, as is
    rng = np.random.RandomState(0)
    results = {s: [] for s in SELECTIONS}
    for trial in range(args.trials):
        target_class = int(rng.randint(10))
        intended = int(rng.choice([c for c in range(10) if c != target_class]))
        seed = int(rng.randint(2**31 - 1))
        for selection in SELECTIONS:
            with timer("target selection"):
                if selection == "ClusterMatch":
                    finder = ClusterMatch(n_clusters=args.n_clusters,
                                          target="random",
                                          min_size=args.n_targets - 1)
                    idx = select_targets(H_test, y_test, n=args.n_targets,
                                         subpopulation=finder,
                                         target_class=target_class,
                                         random_state=seed)
                else:
                    idx = select_targets(H_test, y_test, n=args.n_targets,
                                         mode="random", target_class=target_class,
                                         random_state=seed)
            attack = WitchesBrew(targets=X_test[idx], intended_class=intended,
                                 estimator=frozen, budget=args.budget,
                                 eps=args.eps, scale=1.0, bounds=(0.0, 1.0),
                                 n_iter=args.n_iter, restarts=args.restarts,
                                 image_shape=image_shape,
                                 batch_size=args.craft_batch, random_state=seed)
            t0 = time.perf_counter()
            with timer("crafting"):
                X_p, y_p = attack.fit_resample(X, y)
            t1 = time.perf_counter()
            with timer("victims (validate)"):
                success = attack.validate(X_p, y_p, n_models=args.victims,
                                          estimator=make_net(args, None))
            t2 = time.perf_counter()
            base = np.mean(clean.predict(X_test[idx]) == intended)
            results[selection].append(success)
            print(f"trial {trial} {selection:12s} class {target_class}->{intended}: "
                  f"success {success:.3f} (clean model {base:.3f}), loss "
                  f"{attack.restart_losses_.min():.3f}, crafting {t1 - t0:.1f} s, "
                  f"victims {t2 - t1:.1f} s", flush=True)

    print(f"\nTable 9 (fraction of targets classified as intended, mean over "
          f"{args.victims} victims; {args.trials} attacks per selection)")
    table = print_table(results)
    timer.report()
    return table


if __name__ == "__main__":
    main()

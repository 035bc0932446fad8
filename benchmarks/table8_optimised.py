"""Table 8 of the paper, in shape: UCI Adult, or Fashion-MNIST fine-tuned against frozen.

Usage::

    python benchmarks/table8_optimised.py [--n-subpops 10] [--eps 0.1 1.0]
        [--mlp]
    python benchmarks/table8_optimised.py --setting fashion-mnist-ft
        [--device cuda] [--data-dir DIR] [--small] [--n-subpops 3]
        [--ft-epochs 1] [--eps 1.0]

"Subpopulation Data Poisoning Attacks" (Jagielski et al., CCS 2021), end of
Sec. 5, Table 8: mean target damage (clean minus poisoned accuracy on the test
rows of the subpopulation) over 10 ClusterMatch subpopulations, for LabelFlip
(LF), GradientPoison (GO, 50 steps) and InfluencePoison (INF, 250 steps) at
alpha 0.5, 1 and 2, on a frozen VGG-16 with a trained last layer (VGG-LL) and
on a fully fine-tuned one (VGG-FT, no INF: it timed out). GO helps on LL and
not on FT.

``--setting adult`` (the default): UCI Adult's continuous representation.
Subpopulations are drawn with seed 0 among those with at least 5 test rows.
Victim: ``StandardScaler + LogisticRegression`` (the "LL" setting: a linear
model on fixed features); surrogate: the attacks' default logistic
regression. One table per ``--eps`` (the box radius, standardised units);
``step_size`` is 0.2 (GO) and 0.1 (INF) for eps <= 0.1, else ``eps * 20``
(GO) and ``eps`` (INF) so that the box can be reached. ``--mlp`` adds the "FT"
contrast: a skorch MLP (10 hidden units) as victim, LF against GO with an MLP
surrogate in ``mode="ft"`` and ``mode="ll"`` (slow: about 2 s per victim
fit).

``--setting fashion-mnist-ft``: the paper's LL/FT contrast on images, with
EfficientNet-Lite0 (ImageNet weights) standing in for VGG-16 and
Fashion-MNIST (from ``--data-dir``, a folder with Zalando's four IDX files,
else the Debian package ``dataset-fashion-mnist``) for UTKFace. The training
set ``D`` and the attacker's ``D_aux`` are disjoint stratified draws from the
60,000 training images, pixels in [0, 1]; test rows from the 10,000 test
images. Every poison gets the class least frequent among the attacker's rows
of the subpopulation (the authors' image attacks).

* Representation and subpopulations: :class:`~skpoison.features.ImageEmbedder`
  (frozen EfficientNet-Lite0, 1,280-d, on ``--device``) followed by a PCA to
  64 components fitted on ``D_aux``; ClusterMatch (100 clusters, 10 to 100
  auxiliary rows) on ``D_aux``'s features; 3 subpopulations with at least 5
  test rows, drawn with seed 0. The same subpopulations serve both models
  (the FT attacks' finder reaches them through the same frozen embedder).
* **LL** (frozen backbone, trained head): the victim is a logistic regression
  on those features, and LF / GO / INF perturb the poisons' features (as
  ``table8_embeddings.py``; the Hessian of INF's softmax surrogate has 650
  rows, not 12,810).
* **FT** (fine-tuned end to end): the victim is
  :func:`~skpoison.nets.make_image_finetune_classifier` (all of
  EfficientNet-Lite0 trains; Adam 1e-4 as the paper's VGG-FT) on the pixels;
  LF, and GO with the same network as surrogate in ``mode="ft"`` (gradients
  with respect to every parameter; the poisons' pixels move through the whole
  network, within ``eps`` standard deviations of each pixel and [0, 1]).
  GradientPoison fits its surrogate on the attacker's standardised pixels, as
  for any estimator. No INF, as in the paper.

Printed: one table per model and the paper's layout (LL: LF, GO, INF; FT:
LF, GO), then the wall time of each part.

**Sizes** (GPU, the default): ``D`` and ``D_aux`` of 3,000 images, 3,000 test
images, embeddings at 64 px, FT at 32 px for 1 epoch of batch 64, GO 50
steps, INF 250, 3 subpopulations. Measured on an H200 (16 cores), with
``--n-subpops 1``: embeddings and PCA 1.7 s; the LL table 27 s (it runs on
the CPU whatever ``--device``; ``--n-jobs``, default all cores, spreads the
subpopulations over processes, so 3 take the same 27 s); the FT table 93 s
(clean victim 2 s, the attacks 79 s, mostly GradientPoison's fine-tuned
surrogate and its 50 float64 double-backward steps, the 6 poisoned victims
12 s). The defaults therefore take about 5 minutes; each further
subpopulation adds about 90 s and each further epoch about 15 s per
subpopulation (``--n-subpops``, ``--ft-epochs``). There, ``--n-subpops 1
--ft-epochs 1`` at ``eps=1`` gave LL: LF 0.000 / 0.000 / 0.235, GO 0.118 /
0.118 / 0.294, INF 0.118 / 0.235 / 0.353 and FT: LF 0.000 / 0.000 / 0.059,
GO 0.059 / 0.000 / 0.118 at alpha 0.5 / 1 / 2 (one subpopulation of 17 test
rows: a step is one row). On 3 subpopulations the LL table was LF 0.032 /
0.135 / 0.289, GO 0.092 / 0.141 / 0.277, INF 0.170 / 0.341 / 0.449: INF
strongest, as in the paper.
``--small`` is the CPU mode the tests run (one thread, about 20 s): 100 +
120 images, 100 test images, 1 subpopulation, 32 px, 1 epoch, 1 GO and 10
INF steps.

With ``eps=1`` on Fashion-MNIST's LL features at these sizes (CPU run, 32 px
embeddings): LF 0.079 / 0.149 / 0.263, GO 0.036 / 0.075 / 0.166, INF
0.170 / 0.292 / 0.439 at alpha 0.5 / 1 / 2.
"""

import argparse
import tempfile
import time

import numpy as np
from _table8 import (
    ALPHAS,
    adult_problem,
    attack_params,
    draw_targets,
    lr_victim,
    optimised_attacks,
    print_damage_table,
    step_sizes,
)
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.attacks import GradientPoison, LabelFlip
from skpoison.subpopulations import ClusterMatch

FT_PRESETS = {
    # sized for about 5 minutes on an H200: one subpopulation with 1 epoch
    # took 122 s there (LL table 27 s, FT table 93 s, of which 79 s GO)
    "gpu": {"n_train": 3000, "n_aux": 3000, "n_test": 3000, "embed_size": 64,
            "ft_size": 32, "ft_epochs": 1, "ft_batch": 64, "n_clusters": 100,
            "min_size": 10, "max_size": 100, "go_iter": 50, "inf_iter": 250,
            "n_subpops": 3},
    "small": {"n_train": 100, "n_aux": 120, "n_test": 100, "embed_size": 32,
              "ft_size": 32, "ft_epochs": 1, "ft_batch": 64, "n_clusters": 8,
              "min_size": 5, "max_size": 30, "go_iter": 1, "inf_iter": 10,
              "n_subpops": 1},
}


def mlp_victim():
    from skpoison.nets import make_mlp_classifier

    return make_pipeline(StandardScaler(),
                         make_mlp_classifier((10,), max_epochs=20, random_state=0))


def run_adult(args):
    (X, y, X_aux, y_aux, X_test, y_test), finder = adult_problem()
    targets, test_ids, _ = draw_targets(finder, X_test, args.n_subpops or 10)
    print(f"Adult paper form, {len(targets)} ClusterMatch subpopulations {targets}")
    data = (X, y, X_test, y_test)

    for eps in args.eps or [0.1, 1.0]:
        go_step, inf_step = step_sizes(eps)
        print_damage_table(
            f"LR victim, eps={eps}, steps GO={go_step} INF={inf_step}: "
            "mean target damage", lr_victim,
            optimised_attacks(finder, (X_aux, y_aux), eps, go_step, inf_step),
            data, test_ids, targets)

    if args.mlp:
        from skpoison.nets import make_mlp_classifier

        def mlp_attacks(target, alpha):
            c = attack_params(finder, target, alpha, (X_aux, y_aux))
            net = make_mlp_classifier((10,), max_epochs=20)
            return {
                "LF": LabelFlip(**c),
                "GO-LL": GradientPoison(estimator=net, mode="ll", eps=1.0,
                                        step_size=20.0, **c),
                "GO-FT": GradientPoison(estimator=net, mode="ft", eps=1.0,
                                        step_size=20.0, **c),
            }

        print_damage_table("MLP victim, eps=1.0: mean target damage", mlp_victim,
                           mlp_attacks, data, test_ids, targets)


# ---------------------------------------------------------------- Fashion-MNIST
def load_fashion_mnist_splits(cfg, data_dir):
    """``(X, y, X_aux, y_aux, X_test, y_test)``, pixels in [0, 1] (float32)."""
    from skpoison.datasets import load_fashion_mnist

    X_all, y_all = load_fashion_mnist(subset="train", path=data_dir,
                                      return_X_y=True)
    idx, idx_aux = train_test_split(
        np.arange(len(y_all)), train_size=cfg["n_train"], test_size=cfg["n_aux"],
        stratify=y_all, random_state=0)
    X_test, y_test = load_fashion_mnist(subset="test", path=data_dir,
                                        n_samples=cfg["n_test"], random_state=0,
                                        return_X_y=True)
    scale = np.float32(1 / 255)
    return (X_all[idx] * scale, y_all[idx], X_all[idx_aux] * scale, y_all[idx_aux],
            X_test * scale, y_test)


def run_fashion_mnist_ft(args):
    from skpoison.features import ImageEmbedder
    from skpoison.nets import make_image_finetune_classifier

    cfg = dict(FT_PRESETS["small" if args.small else "gpu"])
    for key in ("n_subpops", "ft_epochs"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    eps = (args.eps or [1.0])[0]
    go_step, inf_step = step_sizes(eps)
    times = {}
    t0 = time.perf_counter()
    X, y, X_aux, y_aux, X_test, y_test = load_fashion_mnist_splits(cfg, args.data_dir)
    times["load data"] = time.perf_counter() - t0

    cache = tempfile.TemporaryDirectory(prefix="table8-embeddings-")
    t0 = time.perf_counter()
    embedder = ImageEmbedder(image_size=cfg["embed_size"], image_shape=(28, 28),
                             scale=1.0, batch_size=256, memory=cache.name,
                             device=args.device)
    E, E_aux, E_test = (embedder.fit_transform(Z) for Z in (X, X_aux, X_test))
    pca = PCA(n_components=64, random_state=0).fit(E_aux)
    F, F_aux, F_test = (pca.transform(Z) for Z in (E, E_aux, E_test))
    times["embeddings + PCA"] = time.perf_counter() - t0

    # one clustering; the FT attacks reach it from the pixels through the same
    # (cached) embedder and PCA, frozen, so the clusters are the same
    sizes = {k: cfg[k] for k in ("n_clusters", "min_size", "max_size")}
    t0 = time.perf_counter()
    finder = ClusterMatch(**sizes, random_state=0).fit(F_aux)
    rep = make_pipeline(embedder, pca)
    pixel_finder = ClusterMatch(**sizes, representation=FrozenEstimator(rep),
                                random_state=0).fit(X_aux)
    targets, test_ids, n_ok = draw_targets(finder, F_test, cfg["n_subpops"])
    # Both finders cluster the same float32 features (the embedder's output
    # is cached, and bitwise repeatable on an H200 as on the CPU); check it on
    # the rows of the drawn subpopulations and say how near. (They agreed on
    # 23% when ClusterMatch cast a representation's float32 to float64: k-means
    # on the two copies converged to other clusters.)
    pixel_ids = pixel_finder.predict(X_test)
    in_targets = np.isin(test_ids, targets) | np.isin(pixel_ids, targets)
    agreement = float(np.mean(pixel_ids[in_targets] == test_ids[in_targets])) \
        if in_targets.any() else 1.0
    if agreement < 0.95:
        raise RuntimeError(
            f"The pixel and feature ClusterMatch finders agree on only "
            f"{agreement:.1%} of the target subpopulations' test rows.")
    times["ClusterMatch"] = time.perf_counter() - t0
    print(f"Fashion-MNIST: D {len(X)}, D_aux {len(X_aux)}, test {len(X_test)} "
          f"images; EfficientNet-Lite0 embeddings at {cfg['embed_size']} px, PCA "
          f"64 ({pca.explained_variance_ratio_.sum():.0%} of the variance); "
          f"device {args.device}; pixel and feature finders agree on "
          f"{agreement:.1%} of the targets' test rows")
    print(f"{len(targets)} ClusterMatch subpopulations {targets} "
          f"(of {n_ok} with >= 5 test rows); eps={eps} (standardised units), "
          f"steps GO={go_step} INF={inf_step}; label 'least_frequent'")

    # LL: a linear head on the frozen features; the attacks move features
    t0 = time.perf_counter()
    ll = print_damage_table(
        "LL (frozen EfficientNet-Lite0 + logistic regression): mean target damage",
        lr_victim,
        optimised_attacks(finder, (F_aux, y_aux), eps, go_step, inf_step,
                          go_iter=cfg["go_iter"], inf_iter=cfg["inf_iter"],
                          label="least_frequent"),
        (F, y, F_test, y_test), test_ids, targets, n_jobs=args.n_jobs)
    times["LL table"] = time.perf_counter() - t0

    # FT: EfficientNet-Lite0 fine-tuned end to end on the pixels
    def ft_net(seed=0):
        return make_image_finetune_classifier(
            image_size=cfg["ft_size"], image_shape=(1, 28, 28), scale=1.0,
            max_epochs=cfg["ft_epochs"], batch_size=cfg["ft_batch"],
            device=args.device, random_state=seed)

    def ft_attacks(target, alpha):
        c = attack_params(pixel_finder, target, alpha, (X_aux, y_aux),
                          label="least_frequent")
        return {
            "LF": LabelFlip(**c),
            "GO": GradientPoison(estimator=ft_net(), mode="ft",
                                 n_iter=cfg["go_iter"], eps=eps, step_size=go_step,
                                 bounds=(0.0, 1.0), **c),
        }

    t0 = time.perf_counter()
    ft = print_damage_table(
        f"FT (EfficientNet-Lite0 fine-tuned at {cfg['ft_size']} px, "
        f"{cfg['ft_epochs']} epoch{'s' * (cfg['ft_epochs'] != 1)}): mean target "
        "damage", ft_net, ft_attacks,
        (X, y, X_test, y_test), test_ids, targets)
    times["FT table"] = time.perf_counter() - t0
    cache.cleanup()

    print(f"\nTable 8 layout: mean target damage over {len(targets)} "
          "subpopulations")
    print("| alpha | LL: LF | LL: GO | LL: INF | FT: LF | FT: GO |")
    print("|-------|--------|--------|---------|--------|--------|")
    for alpha in ALPHAS:
        cells = [ll[alpha, n] for n in ("LF", "GO", "INF")]
        cells += [ft[alpha, n] for n in ("LF", "GO")]
        print(f"| {alpha:5g} | " + " | ".join(f"{v:6.3f}" for v in cells) + " |")
    print("\nWall time per part:")
    for part, seconds in times.items():
        print(f"  {part:20s}{seconds:8.1f} s")
    print(f"  {'total':20s}{sum(times.values()):8.1f} s")
    return {"LL": ll, "FT": ft}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=["adult", "fashion-mnist-ft"],
                        default="adult")
    parser.add_argument("--n-subpops", type=int, default=None,
                        help="subpopulations (default 10; 1 with --small)")
    parser.add_argument("--eps", type=float, nargs="+", default=None,
                        help="box radius in standardised units (adult: one "
                             "table each, default 0.1 1.0; fashion-mnist-ft: "
                             "the first, default 1.0)")
    parser.add_argument("--mlp", action="store_true",
                        help="adult: add the MLP victim's FT contrast")
    parser.add_argument("--device", default="cpu",
                        help="fashion-mnist-ft: torch device of the embedder, "
                             "the fine-tuned nets and GO's surrogate")
    parser.add_argument("--data-dir", default=None,
                        help="fashion-mnist-ft: folder with the four "
                             "Fashion-MNIST IDX files (default: the Debian "
                             "package)")
    parser.add_argument("--small", action="store_true",
                        help="fashion-mnist-ft: tiny CPU sizes (the tests' mode)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of torch and of BLAS (default: "
                             "theirs; 1 with --small, against "
                             "oversubscription on a busy machine)")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="fashion-mnist-ft: processes for the LL table's "
                             "subpopulations (default: all cores; 1 with "
                             "--small)")
    parser.add_argument("--ft-epochs", type=int, default=None,
                        help="fashion-mnist-ft: fine-tuning epochs (default 1)")
    args = parser.parse_args(argv)
    if args.small and args.threads is None:
        args.threads = 1
    if args.n_jobs is None:
        args.n_jobs = 1 if args.small else -1
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    if args.setting == "adult":
        return run_adult(args)
    return run_fashion_mnist_ft(args)


if __name__ == "__main__":
    main()

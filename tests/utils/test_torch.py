"""The torch layer: devices, layers, gradients, labels, pipelines.

``test_path_keeps_the_nets_device`` runs every path of the GPU check
(``benchmarks/gpu_check.py``) on the CPU under :func:`device_guard`, which
fails on a tensor that skpoison creates without the net's device or copies to
the host outside ``utils._torch.to_numpy``: the device bugs a GPU would show,
caught where there is none.
"""

import importlib.util
import pathlib
import textwrap
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from imblearn.under_sampling import RandomUnderSampler
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpoison.attacks import WitchesBrew
from skpoison.nets import MLPModule, make_mlp_classifier
from skpoison.pipeline import make_pipeline as make_imb_pipeline
from skpoison.utils import _torch
from skpoison.utils._labels import encode_labels
from skpoison.utils._pipeline import final_step

from ._device_guard import device_guard

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)


@pytest.mark.parametrize("name, path, available", gpu_check.PATHS,
                         ids=[p[0] for p in gpu_check.PATHS])
def test_path_keeps_the_nets_device(name, path, available):
    if available is not None and not available():
        pytest.skip("pretrained-model wheel not installed")
    with device_guard():
        path("cpu")


def test_gpu_check_command_line(capsys):
    assert gpu_check.main(["--device", "cpu", "--only", "TRIM"]) == 0
    out = capsys.readouterr().out
    assert "TRIM" in out and "all paths ok" in out
    with pytest.raises(SystemExit) as exc:
        gpu_check.main(["--device", "not-a-device"])
    assert exc.value.code == 2
    assert "--device 'not-a-device'" in capsys.readouterr().err


def test_device_guard_catches_a_tensor_without_device(tmp_path):
    # the guard itself must fail on the two mistakes it is there for
    (tmp_path / "bad.py").write_text(textwrap.dedent("""
        import torch

        def craft(net_param):
            noise = torch.randn(net_param.shape)  # default device, not the net's
            return (net_param + noise).numpy()   # host copy without .to("cpu")
    """))
    spec = importlib.util.spec_from_file_location("bad", tmp_path / "bad.py")
    bad = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bad)
    with pytest.raises(AssertionError, match="torch.randn without device") as exc:
        with device_guard(tmp_path):
            bad.craft(torch.zeros(3))
    assert "Tensor.numpy()" in str(exc.value)
    with device_guard(tmp_path):  # the same with the device given passes
        torch.randn(3, device=torch.zeros(3).device)


def test_no_generator_outside_the_torch_layer():
    # generators must be made on the net's device, by _torch.generator
    for path in (ROOT / "skpoison").rglob("*.py"):
        if path.name == "_torch.py":
            continue
        assert "torch.Generator(" not in path.read_text(), path


# ------------------------------------------------------------------ devices
def test_resolve_device_errors_name_the_parameter():
    assert _torch.resolve_device(None) == torch.device("cpu")
    assert _torch.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device='gpu0' is not a torch device"):
        _torch.resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda'.*no CUDA"):
            _torch.resolve_device("cuda")


def test_forked_rng_is_seeded_and_restores_the_global_state():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    with _torch.forked_rng(7, "cpu"):
        a = torch.rand(3)
    assert torch.equal(torch.get_rng_state(), before)
    with _torch.forked_rng(7, "cpu"):
        b = torch.rand(3)
    assert torch.equal(a, b)
    with _torch.forked_rng(None, "cpu"):  # None: no seeding, state advances
        torch.rand(1)
    assert not torch.equal(torch.get_rng_state(), before)


def test_forked_rng_seeds_and_forks_only_the_cpu_and_the_chosen_device(monkeypatch):
    # torch.manual_seed reseeds every accelerator, but fork_rng restores only
    # the forked one: only the CPU and the chosen device may be seeded. A fake
    # two-device backend stands in for CUDA on a machine without one.
    class Generator:
        def __init__(self):
            self.seeds = []

        def manual_seed(self, seed):
            self.seeds.append(seed)

    class Backend:
        default_generators = (Generator(), Generator())

        @staticmethod
        def current_device():
            return 0

        @staticmethod
        def manual_seed(seed):
            raise AssertionError("seeds the current device, not the chosen one")

    forks, seeded_all = [], []

    @contextmanager
    def fork_rng(devices, device_type):
        forks.append((list(devices), device_type))
        yield

    state = torch.get_rng_state()
    try:
        monkeypatch.setattr(torch, "get_device_module", lambda kind: Backend)
        monkeypatch.setattr(torch.random, "fork_rng", fork_rng)
        monkeypatch.setattr(torch, "manual_seed", seeded_all.append)
        with _torch.forked_rng(7, torch.device("cuda", 1)):
            assert torch.initial_seed() == 7  # the CPU generator is seeded
        assert forks == [([1], "cuda")]
        assert [g.seeds for g in Backend.default_generators] == [[], [7]]
        assert seeded_all == []  # no device but the forked one was reseeded
        with _torch.forked_rng(5, torch.device("cuda")):  # the current device
            pass
        assert forks[-1] == ([0], "cuda")
        assert [g.seeds for g in Backend.default_generators] == [[5], [7]]
    finally:
        torch.set_rng_state(state)
    monkeypatch.undo()
    # the CPU path: the same draws as a generator seeded alike, state restored
    before = torch.get_rng_state()
    with _torch.forked_rng(7, "cpu"):
        a = torch.rand(3)
    assert torch.equal(a, torch.rand(3, generator=_torch.generator(7, "cpu")))
    assert torch.equal(torch.get_rng_state(), before)


def test_float64_device_moves_only_devices_without_float64():
    assert _torch.float64_device("cpu") == torch.device("cpu")
    assert _torch.float64_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert _torch.float64_device("mps") == torch.device("cpu")


def test_generator_draws_depend_on_the_seed_only():
    a = torch.rand(4, generator=_torch.generator(3, "cpu"))
    b = torch.rand(4, generator=_torch.generator(3, torch.device("cpu")))
    assert torch.equal(a, b)
    assert not torch.equal(a, torch.rand(4, generator=_torch.generator(4, "cpu")))


def test_as_tensor_and_to_numpy_round_trip():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = _torch.as_tensor(x, device="cpu")
    assert t.dtype == torch.float64
    t32 = _torch.as_tensor(x, device="cpu", dtype=torch.float32)
    assert t32.dtype == torch.float32
    np.testing.assert_array_equal(_torch.to_numpy(t32, np.float64), x)
    assert _torch.to_numpy(t32).dtype == np.float32


# ------------------------------------------------------------------ modules
def test_named_submodule_lists_the_layers():
    module = MLPModule(n_features=3, n_classes=2, hidden_layer_sizes=(4,))
    assert _torch.named_submodule(module, "output") is module.output
    with pytest.raises(ValueError, match=r"Unknown layer 'nope'.*'hidden', "
                                         r"'hidden\.0'.*'output'"):
        _torch.named_submodule(module, "nope")
    assert _torch.last_parametrised_name(module) == "output"
    assert _torch.parametrised_names(module) == ["hidden.0", "output"]


def test_eval_mode_restores_training():
    module = MLPModule(n_features=3, n_classes=2, hidden_layer_sizes=(4,),
                       dropout=0.5)
    module.train()
    with _torch.eval_mode(module):
        assert not module.training
    assert module.training


def test_layer_outputs_equal_a_manual_forward():
    module = MLPModule(n_features=3, n_classes=2, hidden_layer_sizes=(4,))
    x = torch.randn(10, 3)
    out = _torch.layer_outputs(module, "hidden", [x[:6], x[6:]])
    with torch.no_grad():
        np.testing.assert_allclose(torch.cat(out).numpy(),
                                   module.hidden(x).numpy(), rtol=1e-6)
    heads = _torch.layer_outputs(module, "output", [x], what="input")
    np.testing.assert_allclose(heads[0].numpy(), torch.cat(out).numpy(), rtol=1e-6)


def test_net_layer_outputs_equal_a_manual_forward_and_activations():
    from skorch import NeuralNetClassifier

    X = np.random.RandomState(0).normal(size=(25, 3)).astype(np.float32)
    y = np.arange(25) % 2
    net = NeuralNetClassifier(MLPModule, module__n_features=3, module__n_classes=2,
                              module__hidden_layer_sizes=(4,), max_epochs=1,
                              batch_size=8, train_split=None).fit(X, y)
    out = _torch.net_layer_outputs(net, X, "hidden")
    with torch.no_grad():
        np.testing.assert_allclose(out, net.module_.hidden(torch.as_tensor(X)).numpy(),
                                   rtol=1e-6)
    with pytest.raises(ValueError, match=r"Unknown layer 'nope'.*'hidden'"):
        _torch.net_layer_outputs(net, X, "nope")
    seeded = make_mlp_classifier((4,), max_epochs=1, batch_size=8,
                                 random_state=0).fit(X, y)
    np.testing.assert_array_equal(seeded.activations(X.astype(np.float64), "hidden"),
                                  _torch.net_layer_outputs(seeded, X, "hidden"))


def test_per_sample_gradients_match_a_loop_and_norms():
    module = MLPModule(n_features=3, n_classes=3, hidden_layer_sizes=(4,))
    X = np.random.RandomState(0).normal(size=(7, 3)).astype(np.float32)
    codes = np.array([0, 1, 2, 0, 1, 2, 0])
    params = dict(module.named_parameters())
    G = _torch.per_sample_gradients(module, torch.nn.functional.cross_entropy,
                                    params, X, codes, batch_size=3, device="cpu")
    for i in range(len(X)):  # reference: one backward pass per row
        module.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            module(torch.as_tensor(X[i:i + 1])), torch.as_tensor(codes[i:i + 1]))
        loss.backward()
        ref = torch.cat([p.grad.reshape(-1) for p in params.values()]).numpy()
        np.testing.assert_allclose(G[i], ref, rtol=1e-5, atol=1e-6)
    norms = _torch.per_sample_gradients(
        module, torch.nn.functional.cross_entropy, params, X, codes, batch_size=2,
        device="cpu", reduce="norm")
    np.testing.assert_allclose(norms, np.linalg.norm(G, axis=1), rtol=1e-5)


def test_is_skorch_net():
    assert _torch.is_skorch_net(make_mlp_classifier())
    assert not _torch.is_skorch_net(LogisticRegression())
    assert not _torch.is_fitted_net(make_mlp_classifier())


# ------------------------------------------------------------------ labels
def test_encode_labels_any_order_and_errors():
    classes = np.array(["b", "a", "c"])
    np.testing.assert_array_equal(encode_labels(classes, ["a", "c", "b"]),
                                  [1, 2, 0])
    with pytest.raises(ValueError, match=r"targets contains labels .*\['z'\]"):
        encode_labels(classes, ["a", "z"], name="targets")
    codes, found = encode_labels(np.array([0, 1]), np.array([1, 5]),
                                 unknown="mask")
    assert codes[0] == 1 and found.tolist() == [True, False]
    with pytest.raises(ValueError, match="not fitted on"):
        encode_labels(np.array([0, 1]), np.array(["0", "1"]))


# ------------------------------------------------------------------ pipelines
def test_final_step_skips_samplers_and_nests():
    X = np.random.RandomState(0).normal(2, 3, size=(20, 2))
    y = np.arange(20) % 2
    inner = make_pipeline(StandardScaler(), LogisticRegression())
    pipe = make_imb_pipeline(RandomUnderSampler(random_state=0), inner).fit(X, y)
    final, Z = final_step(pipe, X)
    assert final is inner[-1]
    np.testing.assert_allclose(Z, inner[0].transform(X))
    lr = LogisticRegression()
    assert final_step(lr) == (lr, None)
    assert final_step(lr, X)[0] is lr


# ------------------------------------------------------------------ WitchesBrew
def _brew(**kwargs):
    X, y = gpu_check.tabular(n_classes=3)
    attack = WitchesBrew(n_targets=4, budget=0.05, n_iter=3, restarts=1,
                         random_state=0, **kwargs)
    X_res, _ = attack.fit_resample(X, y)
    return attack, X_res


def test_witches_brew_device_cpu_is_the_default():
    net = make_mlp_classifier((8,), max_epochs=2, random_state=0)
    a, Xa = _brew(estimator=net)
    b, Xb = _brew(estimator=net, device="cpu")
    np.testing.assert_array_equal(Xa, Xb)
    assert b.estimator_.device == "cpu"


def test_witches_brew_fitted_net_on_another_device_is_an_error():
    X, y = gpu_check.tabular(n_classes=3)
    net = make_mlp_classifier((8,), max_epochs=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="device='meta', but the fitted estimator"):
        WitchesBrew(estimator=FrozenEstimator(net), device="meta", n_targets=4, budget=0.05,
                    n_iter=2, restarts=1, random_state=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="device='gpu0' is not a torch device"):
        WitchesBrew(estimator=make_mlp_classifier(), device="gpu0", n_targets=4,
                    budget=0.05, n_iter=2, restarts=1,
                    random_state=0).fit_resample(X, y)

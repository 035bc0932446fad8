"""Tests for skpoison.defenses.FinePruning."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

from skpoison.attacks import LabelFlip
from skpoison.defenses import FinePruning
from skpoison.nets import SeededNeuralNetClassifier, make_mlp_classifier
from skpoison.pipeline import make_pipeline
from skpoison.subpopulations import ClusterMatch

TRIGGER_UNIT = 3


class BackdooredMLP(nn.Module):
    """A net that has learned a backdoor, built by hand.

    Unit 0 and 1 compute relu(+-(x0 + x1)): the clean task is the sign of
    x0 + x1. Unit 3 is relu(10 * x_trigger - 25), zero on clean rows
    (x_trigger = 0) and 25 on triggered ones (x_trigger = 5), and pushes the
    logit of class 1. Units 2, 4, 5 are dead (negative bias).
    """

    def __init__(self, n_features=4, n_classes=2):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(n_features, 6), nn.ReLU())
        self.output = nn.Linear(6, n_classes)
        with torch.no_grad():
            W = torch.zeros(6, n_features)
            b = torch.full((6,), -1.0)
            W[0, :2], b[0] = 1.0, 0.0
            W[1, :2], b[1] = -1.0, 0.0
            W[TRIGGER_UNIT, -1], b[TRIGGER_UNIT] = 10.0, -25.0
            self.hidden[0].weight.copy_(W)
            self.hidden[0].bias.copy_(b)
            V = torch.zeros(n_classes, 6)
            V[1, 0], V[1, 1], V[1, TRIGGER_UNIT] = 1.0, -1.0, 1.0
            self.output.weight.copy_(V)
            self.output.bias.zero_()

    def forward(self, X):
        return self.output(self.hidden(X))


def _clean(n, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    X[:, -1] = 0
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _backdoored_net(**kwargs):
    # max_epochs=0: the module is used as built (a net already backdoored)
    params = {"max_epochs": 0, "lr": 1e-3, "random_state": 0}
    params.update(kwargs)
    return SeededNeuralNetClassifier(BackdooredMLP, **params)


def _data():
    X, y = _clean(400, seed=0)
    return X, y


def _triggered_test():
    X, y = _clean(400, seed=1)
    X0 = X[y == 0].copy()
    X0[:, -1] = 5.0
    return X0


# ------------------------------------------------- removes the backdoor
@pytest.mark.parametrize("criterion", ["mean", "apoz"])
def test_prunes_the_dormant_backdoor_unit(criterion):
    X, y = _data()
    X_trig = _triggered_test()
    undefended = _backdoored_net().fit(X, y)
    assert (undefended.predict(X_trig) == 1).all()  # attack success 100 %
    fp = FinePruning(_backdoored_net(), layer="hidden.0", criterion=criterion,
                     fine_tune_epochs=0, random_state=0).fit(X, y)
    # dormant units (mean 0, APoZ 1) go first in index order; units 0 and 1
    # carry the task, and pruning either costs ~50 points: never pruned
    np.testing.assert_array_equal(fp.pruned_units_, [2, 3, 4, 5])
    assert fp.n_pruned_ == 4 and fp.n_units_ == 6
    assert fp.ranked_layer_ == "hidden.1"
    assert (fp.predict(X_trig) == 0).all()  # attack success 0 %
    X_test, y_test = _clean(400, seed=1)
    assert fp.score(X_test, y_test) == 1.0
    assert fp.validation_accuracy_before_ == fp.validation_accuracy_pruned_ == 1.0
    if criterion == "mean":
        np.testing.assert_array_equal(fp.unit_scores_[[2, 3, 4, 5]], 0)
        assert (fp.unit_scores_[:2] > 0).all()
    else:
        np.testing.assert_array_equal(fp.unit_scores_[[2, 3, 4, 5]], 1)


def test_pruned_units_stay_exactly_zero_after_fine_tuning():
    X, y = _data()
    X_trig = _triggered_test()
    fp = FinePruning(_backdoored_net(lr=0.05), layer="hidden.0", fine_tune_epochs=5,
                     random_state=0).fit(X, y)
    np.testing.assert_array_equal(fp.pruned_units_, [2, 3, 4, 5])
    acts = fp.estimator_.activations(np.vstack([X, X_trig]), layer="hidden.0")
    assert (acts[:, fp.pruned_units_] == 0).all()
    assert (acts[:, :2] != 0).any()
    # the weights changed in fine-tuning, but not the pruned ones
    layer = fp.estimator_.module_.hidden[0]
    assert (layer.weight[fp.pruned_units_] == 0).all()
    assert (layer.bias[fp.pruned_units_] == 0).all()
    assert not torch.equal(layer.weight_orig[:2], BackdooredMLP().hidden[0].weight[:2])
    # the trigger no longer changes any prediction
    X_untrig = X_trig.copy()
    X_untrig[:, -1] = 0
    np.testing.assert_array_equal(fp.predict_proba(X_trig), fp.predict_proba(X_untrig))
    # the net's own max_epochs and lr are restored
    assert fp.estimator_.max_epochs == 0 and fp.estimator_.lr == 0.05


# ------------------------------------- stopping rule, reference computation
@pytest.mark.parametrize("criterion", ["mean", "apoz"])
def test_stopping_rule_against_reference(criterion):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] + 0.5 * X[:, 2] > 0).astype(int)
    net = make_mlp_classifier((12,), max_epochs=15, random_state=0)
    drop = 0.04
    fp = FinePruning(net, layer="hidden.0", criterion=criterion, accuracy_drop=drop,
                     fine_tune_epochs=0, random_state=0).fit(X, y)
    val = fp.validation_mask_
    assert val.sum() == 30
    # the split is stratified
    assert abs(y[val].mean() - y.mean()) < 0.05
    # same seed, same training rows: the unpruned net the defense trained
    ref = clone(net).fit(X[~val], y[~val])
    acts = ref.activations(X[val], layer="hidden.1")  # after the ReLU
    mean = acts.mean(axis=0, dtype=np.float64)
    if criterion == "mean":
        np.testing.assert_allclose(fp.unit_scores_, mean)
        order = np.argsort(mean, kind="stable")
    else:
        apoz = (acts <= 0).mean(axis=0)
        np.testing.assert_allclose(fp.unit_scores_, apoz)
        order = np.lexsort((mean, -apoz))

    def accuracy_with(pruned):
        m = torch.ones(12)
        m[list(pruned)] = 0
        h = ref.module_.hidden[0].register_forward_hook(lambda _m, _i, o: o * m)
        try:
            return accuracy_score(y[val], ref.predict(X[val]))
        finally:
            h.remove()

    base = accuracy_with([])
    k = fp.n_pruned_
    np.testing.assert_array_equal(fp.pruned_units_, order[:k])
    assert fp.validation_accuracy_before_ == base
    assert fp.validation_accuracy_pruned_ == accuracy_with(order[:k])
    assert base - fp.validation_accuracy_pruned_ <= drop
    for j in range(1, k):  # every intermediate pruning stayed within the drop
        assert base - accuracy_with(order[:j]) <= drop
    assert k < 11  # this net cannot lose 11 of 12 units within 4 points
    assert base - accuracy_with(order[:k + 1]) > drop
    # and the final model is the reference net with those units zeroed
    np.testing.assert_allclose(fp.predict_proba(X), _proba_with(ref, order[:k], X),
                               rtol=1e-6)


def _proba_with(net, pruned, X):
    m = torch.ones(net.module_.hidden[0].out_features)
    m[list(pruned)] = 0
    h = net.module_.hidden[0].register_forward_hook(lambda _m, _i, o: o * m)
    try:
        return net.predict_proba(X)
    finally:
        h.remove()


def test_accuracy_drop_extremes():
    X, y = _data()
    everything = FinePruning(_backdoored_net(), layer="hidden.0", accuracy_drop=0.99,
                             fine_tune_epochs=0, random_state=0).fit(X, y)
    assert everything.n_pruned_ == 5  # one unit is always kept
    none = FinePruning(_backdoored_net(), layer="hidden.0", accuracy_drop=0.0,
                       fine_tune_epochs=0, random_state=0).fit(X, y)
    np.testing.assert_array_equal(none.pruned_units_, [2, 3, 4, 5])


# ------------------------------------------------------ never reads test data
CALLS = []


class RecordingNet(SeededNeuralNetClassifier):
    """Records the rows every fit/partial_fit/predict/predict_proba receives."""

    def fit(self, X, y, **kw):
        CALLS.append(("fit", np.array(X, dtype=np.float32)))
        return super().fit(X, y, **kw)

    def partial_fit(self, X, y=None, classes=None, **kw):
        CALLS.append(("partial_fit", np.array(X, dtype=np.float32)))
        return super().partial_fit(X, y, classes=classes, **kw)

    def predict_proba(self, X):
        CALLS.append(("predict_proba", np.array(X, dtype=np.float32)))
        return super().predict_proba(X)


def _rows(A):
    return {row.tobytes() for row in np.asarray(A, dtype=np.float32)}


def test_reads_only_its_own_splits():
    X, y = _clean(200, seed=3)
    CALLS.clear()
    net = RecordingNet(BackdooredMLP, max_epochs=2, random_state=0)
    fp = FinePruning(net, layer="hidden.0", fine_tune_epochs=2, random_state=0)
    fp.fit(X, y)
    train, val = _rows(X[~fp.validation_mask_]), _rows(X[fp.validation_mask_])
    assert train.isdisjoint(val)
    kinds = [kind for kind, _ in CALLS]
    assert kinds[0] == "fit" and "partial_fit" in kinds
    for kind, rows in CALLS:
        seen = _rows(rows)
        if kind == "fit":
            assert seen == train  # trains on the training split only
        elif kind == "partial_fit":
            assert seen <= train or seen == val
        else:
            assert seen == val  # every accuracy and ranking: validation rows
    # fine-tuning used exactly the validation split
    assert _rows(CALLS[[k for k, _ in CALLS].index("partial_fit", 2)][1]) == val
    assert fp.support_mask_.all() and fp.support_mask_.shape == (200,)


def test_deterministic():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    net = make_mlp_classifier((8,), max_epochs=5)  # unseeded: seeded by the defense
    a = FinePruning(net, layer="hidden.0", random_state=0).fit(X, y)
    b = FinePruning(net, layer="hidden.0", random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.validation_mask_, b.validation_mask_)
    np.testing.assert_array_equal(a.pruned_units_, b.pruned_units_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = FinePruning(net, layer="hidden.0", random_state=1).fit(X, y)
    assert not np.array_equal(a.validation_mask_, c.validation_mask_)
    assert net.get_params()["random_state"] is None


# ---------------------------------------------------------- conv channels
class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU())
        self.output = nn.Linear(6 * 5 * 5, 2)

    def forward(self, X):
        return self.output(self.features(X).flatten(1))


def test_conv_channels_plain_skorch_net():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 1, 5, 5)).astype(np.float32)
    y = (X[:, 0, :2].mean(axis=(1, 2)) > 0).astype(np.int64)
    net = NeuralNetClassifier(TinyCNN, max_epochs=5, lr=0.05, train_split=None,
                              batch_size=32)

    def fit():
        return FinePruning(net, layer="features.0", accuracy_drop=0.2,
                           fine_tune_epochs=2, random_state=0).fit(X, y)

    fp = fit()
    assert fp.n_units_ == 6 and fp.ranked_layer_ == "features.1"
    assert fp.n_pruned_ >= 1
    out = fp.estimator_.forward(torch.as_tensor(X)).detach()
    assert out.shape == (120, 2)
    with torch.no_grad():
        channels = fp.estimator_.module_.features[0](torch.as_tensor(X))
    assert (channels[:, fp.pruned_units_] == 0).all()
    np.testing.assert_array_equal(fit().predict_proba(X), fp.predict_proba(X))


def test_pipeline_with_scaler():
    X, y = _clean(200, seed=4)
    pipe = sk_make_pipeline(StandardScaler(),
                            make_mlp_classifier((8,), max_epochs=5, random_state=0))
    fp = FinePruning(pipe, layer="hidden.0", random_state=0).fit(X * 100, y)
    assert fp.n_pruned_ >= 1
    hidden = fp.estimator_[-1].module_.hidden[0]
    assert hidden.weight_mask.shape == (8, 4)
    # the net sees scaled rows: activations through the fitted scaler
    acts = fp.estimator_[-1].activations(fp.estimator_[0].transform(X * 100),
                                         layer="hidden.0")
    assert (acts[:, fp.pruned_units_] == 0).all()
    assert fp.predict(X * 100).shape == (200,)


# ------------------------------------------------------------------ errors
def test_non_torch_estimator_raises():
    X, y = _data()
    with pytest.raises(TypeError, match="skorch net.*LogisticRegression"):
        FinePruning(LogisticRegression(), layer="hidden.0").fit(X, y)


@pytest.mark.parametrize("layer, match", [
    ("nope", r"Unknown layer 'nope'; the prunable layers .* 'hidden.0', 'output'"),
    ("hidden", r"layer='hidden' is a Sequential"),
    ("hidden.1", r"layer='hidden.1' is a ReLU"),
])
def test_bad_layer_raises_before_training(layer, match):
    X, y = _data()
    CALLS.clear()
    net = RecordingNet(BackdooredMLP, max_epochs=0, random_state=0)
    with pytest.raises(ValueError, match=match):
        FinePruning(net, layer=layer).fit(X, y)
    assert CALLS == []  # failed before any training


def test_validation_split_has_every_class():
    X, y = _data()
    fp = FinePruning(_backdoored_net(), layer="hidden.0", validation_fraction=0.001,
                     fine_tune_epochs=0, random_state=0).fit(X, y)
    # ceil(0.4) = 1 row would miss a class: one row per class instead
    np.testing.assert_array_equal(np.sort(y[fp.validation_mask_]), [0, 1])
    # a class of one row cannot be in both splits
    y_one = y.copy()
    y_one[0] = 2
    with pytest.raises(ValueError, match=r"validation_fraction=0.1: cannot take a "
                                         r"stratified validation split"):
        FinePruning(_backdoored_net(), layer="hidden.0").fit(X, y_one)


@pytest.mark.parametrize("params", [{"criterion": "l1"}, {"accuracy_drop": 1.0},
                                    {"validation_fraction": 0.0},
                                    {"fine_tune_epochs": -1}, {"fine_tune_lr": 0}])
def test_invalid_parameters(params):
    X, y = _data()
    with pytest.raises(ValueError, match=next(iter(params))):
        FinePruning(_backdoored_net(), layer="hidden.0", **params).fit(X, y)


# ------------------------------------------------------------- composition
def test_in_pipeline_and_grid_search():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal([-4, 0], 0.7, (60, 2)), rng.normal([4, 0], 0.7, (60, 2)),
                   rng.normal([1, 6], 0.2, (10, 2))]).astype(np.float32)
    y = np.r_[np.zeros(60, int), np.ones(70, int)]
    attack = LabelFlip(ClusterMatch(n_clusters=3, target="smallest", n_init=5),
                       alpha=1, random_state=0)
    net = make_mlp_classifier((6,), max_epochs=5, random_state=0)
    pipe = make_pipeline(attack, FinePruning(net, layer="hidden.0", random_state=0))
    pipe.fit(X, y)
    assert pipe[-1].support_mask_.shape == (140,)
    search = GridSearchCV(clone(pipe), {"finepruning__accuracy_drop": [0.0, 0.1]},
                          cv=2).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_validation_rows_go_through_the_preprocessing_once():
    # the pruning loop scores the net on the validation rows once per pruned
    # unit: a pipeline's preprocessing (an embedder, say) transforms them once
    from sklearn.preprocessing import FunctionTransformer

    calls = []

    def embed(Z):
        calls.append(len(Z))
        return Z / 100.0

    X, y = _clean(200, seed=4)
    pipe = sk_make_pipeline(FunctionTransformer(embed),
                            make_mlp_classifier((8,), max_epochs=5, random_state=0))
    fp = FinePruning(pipe, layer="hidden.0", random_state=0).fit(X * 100, y)
    assert fp.n_pruned_ >= 2  # several accuracy evaluations
    n_val = int(fp.validation_mask_.sum())
    assert calls.count(n_val) == 1
    # the same accuracies as the pipeline's own predictions
    X_val, y_val = (X * 100)[fp.validation_mask_], y[fp.validation_mask_]
    assert fp.validation_accuracy_after_ == accuracy_score(y_val, fp.predict(X_val))

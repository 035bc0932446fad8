"""A skorch classifier with a ``random_state`` and scikit-learn data handling."""

import contextvars
import inspect
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring
from skorch.utils import to_numpy

from ..utils import _torch
from ..utils._labels import encode_labels
from ._modules import MLPModule

__all__ = [
    "SeededNeuralNetClassifier",
    "make_linear_classifier",
    "make_mlp_classifier",
]

# ids of the nets whose fit/partial_fit/initialize is running in this context.
# Nested calls (skorch's ``fit`` calls ``initialize`` and ``partial_fit``) must
# neither re-seed torch nor re-validate the already encoded data.
_ACTIVE_NETS = contextvars.ContextVar("skpoison_active_nets", default=frozenset())


def _encoded_accuracy(net, X, y):
    """Validation accuracy on the encoded targets skorch sees internally.

    Replaces skorch's default ``valid_acc`` scoring (``net.predict`` against
    ``y``), which would compare decoded labels with encoded targets.
    """
    y_proba = NeuralNetClassifier.predict_proba(net, X)
    return float(np.mean(np.argmax(y_proba, axis=1) == to_numpy(y)))


def _init_param_names(factory):
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return set()
    return {
        name
        for name, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


class SeededNeuralNetClassifier(NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` that is seeded, clone-safe and tabular.

    Read more in the :ref:`User Guide <datasets_models>`.

    A :class:`skorch.NeuralNetClassifier` with the scikit-learn conventions
    the rest of skpoison relies on:

    * ``random_state`` seeds torch, so the same ``random_state`` on the same
      data gives the same weights and predictions, also after
      :func:`~sklearn.base.clone` and in a :class:`~sklearn.model_selection.GridSearchCV`;
    * ``X`` may be any 2-D array-like (NumPy of any float/int dtype, pandas
      DataFrame) and is cast to ``float32`` without modifying the caller's
      data; ``n_features_in_`` and ``feature_names_in_`` are set as in
      scikit-learn;
    * ``y`` may hold any labels (strings, ``{-1, 1}``, ...): they are encoded
      to ``0 .. n_classes - 1`` for torch, ``classes_`` holds the original
      labels and :meth:`predict` returns them;
    * ``module__n_features`` and ``module__n_classes`` are filled in from the
      data when the module's constructor takes them and they were not given;
    * :meth:`activations` returns the output of any named submodule.

    The module must return logits: the default criterion is
    :class:`torch.nn.CrossEntropyLoss`, and :meth:`predict_proba` applies a
    softmax (skorch's ``predict_nonlinearity="auto"``).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network, e.g. :class:`~skpoison.nets.MLPModule`. Its constructor
        arguments are given as ``module__<name>`` keyword arguments.
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        The loss.
    optimizer : torch optimizer class, default=torch.optim.Adam
        The optimizer; its arguments are ``optimizer__<name>`` (e.g.
        ``optimizer__weight_decay``).
    lr : float, default=1e-2
        Learning rate.
    max_epochs : int, default=20
        Number of epochs each call to :meth:`fit` trains for.
    batch_size : int, default=128
        Mini-batch size for training and prediction.
    train_split : callable or None, default=None
        skorch's internal validation split. ``None`` trains on every row,
        as in the paper.
    classes : array-like or None, default=None
        The class labels. ``None`` infers them from ``y`` at fit time.
    verbose : int, default=0
        skorch's verbosity; ``0`` prints nothing.
    random_state : int, RandomState instance or None, default=None
        Seeds torch for weight initialisation, data shuffling and dropout.
        A torch seed is drawn as
        ``check_random_state(random_state).randint(np.iinfo(np.int32).max)``
        at the start of every :meth:`fit`, :meth:`partial_fit` and
        :meth:`initialize`, and torch's global RNG is forked around the call
        and restored afterwards, so fitting a seeded net leaves the caller's
        torch random state untouched. ``None`` does not seed: torch's global
        RNG is used (and advanced) as in plain skorch.
    **kwargs
        Any other :class:`skorch.NeuralNet` argument (``warm_start``,
        ``callbacks``, ``device``, ``iterator_train__shuffle``, ...) and the
        ``module__`` / ``optimizer__`` / ``criterion__`` parameters.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The original class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of a DataFrame ``X``; only set when they are all strings.
    module_ : torch.nn.Module
        The trained network.
    history_ : skorch.History
        Per-epoch and per-batch training record.

    See Also
    --------
    make_mlp_classifier : The paper's MLP as a seeded skorch net.
    make_linear_classifier : Logistic regression in torch.

    Notes
    -----
    Seeding works through torch's *global* generator (forked for the
    duration of the call), because ``torch.nn`` initialisers, ``Dropout`` and
    skorch's ``DataLoader`` shuffling all draw from it. Process-based
    parallelism (joblib's default ``loky`` backend, as used by
    ``GridSearchCV(n_jobs=...)``) is therefore reproducible; fitting seeded
    nets concurrently in *threads* of one process is not.

    Results are bitwise reproducible for the same data, seed, device, torch
    version and number of torch threads.

    Callbacks and ``train_split`` see the encoded targets ``0 .. n_classes - 1``
    (decode them with ``net.classes_[y]``); the default ``valid_acc``
    scoring accounts for that.

    References
    ----------
    .. [1] M. Tietz, T. J. Fan, D. Nouri, B. Bossan and skorch Developers,
       "skorch: A scikit-learn compatible neural network library that wraps
       PyTorch", 2017, https://github.com/skorch-dev/skorch.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skpoison.nets import MLPModule, SeededNeuralNetClassifier
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> net = SeededNeuralNetClassifier(
    ...     MLPModule, module__hidden_layer_sizes=(10,), max_epochs=5, random_state=0
    ... )
    >>> net.fit(X, y).predict(X[:3]).shape
    (3,)
    >>> net.classes_
    array([0, 1])
    >>> net.activations(X[:3], layer="hidden").shape
    (3, 10)
    """

    def __init__(
        self,
        module,
        *,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-2,
        max_epochs=20,
        batch_size=128,
        train_split=None,
        classes=None,
        verbose=0,
        random_state=None,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            classes=classes,
            verbose=verbose,
            **kwargs,
        )
        self.random_state = random_state

    # ------------------------------------------------------------------
    # scikit-learn plumbing
    # ------------------------------------------------------------------
    def _get_param_names(self):
        # skorch lists every public-looking key of ``__dict__``; drop its
        # private bookkeeping (``_params_to_validate``), which ``__init__``
        # rebuilds from the keyword arguments anyway.
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    @property
    def _default_callbacks(self):
        callbacks = []
        for name, cb in super()._default_callbacks:
            if name == "valid_acc":
                cb = EpochScoring(
                    _encoded_accuracy, name="valid_acc", lower_is_better=False
                )
            callbacks.append((name, cb))
        return callbacks

    @property
    def classes_(self):
        """The original class labels, ``ndarray`` of shape (n_classes,)."""
        try:
            return self.classes_inferred_
        except AttributeError:
            pass
        if self.classes is not None and len(self.classes):
            return np.asarray(self.classes)
        raise AttributeError(
            f"{type(self).__name__} has no attribute 'classes_': it is not "
            "fitted yet and no 'classes' were given."
        )

    # ------------------------------------------------------------------
    # seeding
    # ------------------------------------------------------------------
    def _torch_seed(self):
        if self.random_state is None:
            return None
        rng = check_random_state(self.random_state)
        return int(rng.randint(np.iinfo(np.int32).max))

    @contextmanager
    def _seeded(self):
        """Seed torch for the outermost call on this net; yield whether outermost."""
        active = _ACTIVE_NETS.get()
        if id(self) in active:
            yield False
            return
        token = _ACTIVE_NETS.set(active | {id(self)})
        try:
            seed = self._torch_seed()
            if seed is None:
                yield True
                return
            with _torch.forked_rng(seed, self.device):
                yield True
        finally:
            _ACTIVE_NETS.reset(token)

    # ------------------------------------------------------------------
    # data validation
    # ------------------------------------------------------------------
    def _validate_X(self, X, reset):
        return validate_data(
            self, X, reset=reset, dtype=np.float32, accept_sparse=False
        )

    def _validate_fit_data(self, X, y, reset, classes=None):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target "
                "y is None."
            )
        X, y = validate_data(
            self, X, y, reset=reset, dtype=np.float32, accept_sparse=False
        )
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if reset:
            if classes is None:
                classes = self.classes
            if classes is not None and len(classes):
                classes = np.asarray(classes)
                if len(np.unique(classes)) != len(classes):
                    raise ValueError(f"classes contains duplicates: {classes!r}.")
            else:
                classes = np.unique(y)
            self.classes_inferred_ = classes
        return X, self._encode(y)

    def _encode(self, y):
        return encode_labels(self.classes_, y)

    def check_data(self, X, y):
        # fit/partial_fit validated X and y and set ``classes_`` from the
        # original labels; skorch's version would overwrite it with
        # ``np.unique`` of the *encoded* y.
        if y is None:
            raise ValueError("y must not be None.")

    # ------------------------------------------------------------------
    # initialisation and training
    # ------------------------------------------------------------------
    def initialize(self):
        """Initialize the module, criterion, optimizer and history (seeded)."""
        with self._seeded():
            return super().initialize()

    def initialize_module(self):
        """Build ``module_``, filling in ``n_features``/``n_classes`` from the data.

        If the module's constructor takes ``n_features`` (or ``n_classes``)
        and no ``module__n_features`` (``module__n_classes``) was given, it is
        set to ``n_features_in_`` (``len(classes_)``) once these are known.
        """
        with self._seeded():
            kwargs = self.get_params_for("module")
            if not isinstance(self.module, torch.nn.Module):
                accepted = _init_param_names(self.module)
                n_features = getattr(self, "n_features_in_", None)
                if (
                    "n_features" in accepted
                    and "n_features" not in kwargs
                    and n_features is not None
                ):
                    kwargs["n_features"] = int(n_features)
                if "n_classes" in accepted and "n_classes" not in kwargs:
                    try:
                        kwargs["n_classes"] = len(self.classes_)
                    except AttributeError:
                        pass
            self.module_ = self.initialized_instance(self.module, kwargs)
            return self

    def fit(self, X, y, **fit_params):
        """Initialize (unless ``warm_start``) and train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; cast to ``float32``.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        **fit_params : dict
            Passed on to the module's ``forward`` and to ``train_split``.

        Returns
        -------
        self : SeededNeuralNetClassifier
            The fitted net.
        """
        with self._seeded() as outermost:
            if outermost:
                continuing = (
                    self.warm_start
                    and self.initialized_
                    and hasattr(self, "classes_inferred_")
                )
                X, y = self._validate_fit_data(X, y, reset=not continuing)
            return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; cast to ``float32``.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All class labels, needed at the first call when ``y`` does not
            contain every class. Ignored once the net is fitted.
        **fit_params : dict
            Passed on to the module's ``forward`` and to ``train_split``.

        Returns
        -------
        self : SeededNeuralNetClassifier
            The fitted net.
        """
        with self._seeded() as outermost:
            if outermost:
                continuing = self.initialized_ and hasattr(self, "classes_inferred_")
                X, y = self._validate_fit_data(
                    X, y, reset=not continuing, classes=classes
                )
                if not continuing:
                    # module_ must match the (possibly new) data shape
                    super().initialize()
            return super().partial_fit(X, y, classes=classes, **fit_params)

    # ------------------------------------------------------------------
    # prediction
    # ------------------------------------------------------------------
    def predict_proba(self, X):
        """Class probabilities (softmax of the logits).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns ordered as ``classes_``.
        """
        self.check_is_fitted()
        X = self._validate_X(X, reset=False)
        return super().predict_proba(X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns ordered as ``classes_``.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted class labels, in the original label space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        y_proba = self.predict_proba(X)  # raises NotFittedError first
        return self.classes_[np.argmax(y_proba, axis=1)]

    def activations(self, X, layer="hidden"):
        """Output of the submodule ``layer`` of ``module_`` for each row of ``X``.

        The forward pass runs in batches of ``batch_size`` in evaluation mode
        (dropout off) without gradients; a forward hook records the layer's
        output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        layer : str, default="hidden"
            Name of the submodule as in ``module_.named_modules()``, e.g.
            ``"hidden"`` (all hidden blocks of :class:`MLPModule`),
            ``"hidden.0"`` or ``"output"`` (the logits).

        Returns
        -------
        activations : ndarray of shape (n_samples, ...)
            The layer's output, concatenated over batches. If the layer
            returns a tuple, its first element; if it runs several times per
            forward pass, its last call.

        Raises
        ------
        ValueError
            If ``module_`` has no submodule called ``layer``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return _torch.net_layer_outputs(self, X, layer)  # checks the layer first


def make_mlp_classifier(
    hidden_layer_sizes=(10,),
    *,
    activation="relu",
    dropout=0.0,
    max_epochs=20,
    lr=1e-2,
    batch_size=128,
    random_state=None,
    **kwargs,
):
    """Seeded skorch MLP classifier (the paper's neural network).

    Read more in the :ref:`User Guide <datasets_models>`.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(10,)
        Hidden layer widths; the paper's UCI Adult network is ``(10,)``.
    activation : str or callable, default="relu"
        Hidden activation, see :class:`MLPModule`.
    dropout : float, default=0.0
        Dropout after each hidden activation.
    max_epochs : int, default=20
        Training epochs per ``fit``.
    lr : float, default=1e-2
        Adam learning rate.
    batch_size : int, default=128
        Mini-batch size.
    random_state : int, RandomState instance or None, default=None
        Seeds torch, see :class:`SeededNeuralNetClassifier`.
    **kwargs
        Further :class:`SeededNeuralNetClassifier` arguments, e.g.
        ``warm_start=True`` or ``optimizer__weight_decay=1e-4``.

    Returns
    -------
    net : SeededNeuralNetClassifier
        Unfitted net over :class:`MLPModule`; the architecture is in the
        ``module__hidden_layer_sizes``, ``module__activation`` and
        ``module__dropout`` parameters (tunable by ``GridSearchCV``).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skpoison.nets import make_mlp_classifier
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> clf = make_mlp_classifier((10,), max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """
    return SeededNeuralNetClassifier(
        MLPModule,
        module__hidden_layer_sizes=tuple(hidden_layer_sizes),
        module__activation=activation,
        module__dropout=dropout,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        random_state=random_state,
        **kwargs,
    )


def make_linear_classifier(
    *, max_epochs=20, lr=1e-2, batch_size=128, random_state=None, **kwargs
):
    """Seeded (multinomial) logistic regression trained by skorch.

    Read more in the :ref:`User Guide <datasets_models>`.

    An :class:`MLPModule` without hidden layers: ``module_.output`` is the
    only ``Linear`` layer, and ``module_.hidden`` is the identity.

    Parameters
    ----------
    max_epochs : int, default=20
        Training epochs per ``fit``.
    lr : float, default=1e-2
        Adam learning rate.
    batch_size : int, default=128
        Mini-batch size.
    random_state : int, RandomState instance or None, default=None
        Seeds torch, see :class:`SeededNeuralNetClassifier`.
    **kwargs
        Further :class:`SeededNeuralNetClassifier` arguments, e.g.
        ``optimizer__weight_decay=1e-4`` for an L2 penalty.

    Returns
    -------
    net : SeededNeuralNetClassifier
        Unfitted net.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skpoison.nets import make_linear_classifier
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> clf = make_linear_classifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.module_.output.weight.shape
    torch.Size([2, 20])
    >>> clf.predict(X[:3]).shape
    (3,)
    """
    return SeededNeuralNetClassifier(
        MLPModule,
        module__hidden_layer_sizes=(),
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        random_state=random_state,
        **kwargs,
    )

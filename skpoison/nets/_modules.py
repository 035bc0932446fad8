"""Plain torch modules used by the skorch classifiers of :mod:`skpoison.nets`."""

from numbers import Integral, Real

from torch import nn

__all__ = ["MLPModule", "ACTIVATIONS"]

#: Activation names accepted by :class:`MLPModule`, mapped to torch classes.
#: ``"logistic"`` follows scikit-learn's ``MLPClassifier`` naming.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
}


def _make_activation(activation):
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation]()
        except KeyError:
            raise ValueError(
                f"Unknown activation {activation!r}; expected one of "
                f"{sorted(ACTIVATIONS)} or a callable returning a torch.nn.Module."
            ) from None
    if callable(activation):
        layer = activation()
        if not isinstance(layer, nn.Module):
            raise TypeError(
                "A callable activation must return a torch.nn.Module, got "
                f"{type(layer).__name__}."
            )
        return layer
    raise TypeError(
        "activation must be a string or a callable returning a torch.nn.Module, "
        f"got {type(activation).__name__}."
    )


class MLPModule(nn.Module):
    """Fully connected network that returns class logits.

    Read more in the :ref:`User Guide <datasets_models>`.

    The layers are ``Linear -> activation [-> Dropout]`` blocks collected in
    the :class:`torch.nn.Sequential` ``hidden``, followed by the ``Linear``
    layer ``output``. With ``hidden_layer_sizes=()`` the module is a
    multinomial logistic regression (``hidden`` is then the identity).

    The paper's UCI Adult network is ``hidden_layer_sizes=(10,)``.

    Parameters
    ----------
    n_features : int or None, default=None
        Number of input features. ``None`` builds the first layer as a
        :class:`torch.nn.LazyLinear` that infers its input size at the first
        forward call. :class:`~skpoison.nets.SeededNeuralNetClassifier` fills
        this in from the training data.
    n_classes : int, default=2
        Number of output logits (one per class, also for binary problems).
    hidden_layer_sizes : tuple of int, default=(10,)
        Width of each hidden layer; ``()`` means no hidden layer.
    activation : str or callable, default="relu"
        One of ``"relu"``, ``"tanh"``, ``"logistic"`` (alias ``"sigmoid"``),
        ``"identity"``, ``"leaky_relu"``, ``"elu"``, ``"gelu"``, or a callable
        (e.g. a ``torch.nn.Module`` class) that returns a fresh module.
    dropout : float, default=0.0
        Dropout probability after each hidden activation; ``0`` adds no
        dropout layer.

    Attributes
    ----------
    hidden : torch.nn.Sequential
        The hidden blocks. Its output is the representation that
        :meth:`SeededNeuralNetClassifier.activations` returns for
        ``layer="hidden"``; the blocks are also reachable as
        ``"hidden.0"``, ``"hidden.1"``, ... .
    output : torch.nn.Linear or torch.nn.LazyLinear
        The last layer, producing the logits.

    References
    ----------
    .. [1] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021, (the UCI Adult
       network, one hidden layer of 10 units). Reference code: the authors'
       Adult notebook, linked from the README of
       https://github.com/jagielski/subpopulation-data-poisoning-attacks.

    Examples
    --------
    >>> import torch
    >>> from skpoison.nets import MLPModule
    >>> module = MLPModule(n_features=4, n_classes=3, hidden_layer_sizes=(8,))
    >>> module(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    >>> module.hidden(torch.zeros(5, 4)).shape
    torch.Size([5, 8])
    """

    def __init__(
        self,
        n_features=None,
        n_classes=2,
        hidden_layer_sizes=(10,),
        activation="relu",
        dropout=0.0,
    ):
        super().__init__()
        if n_features is not None and (
            not isinstance(n_features, Integral) or n_features < 1
        ):
            raise ValueError(f"n_features must be a positive int, got {n_features!r}.")
        if not isinstance(n_classes, Integral) or n_classes < 1:
            raise ValueError(f"n_classes must be a positive int, got {n_classes!r}.")
        if isinstance(hidden_layer_sizes, Integral):
            hidden_layer_sizes = (hidden_layer_sizes,)
        hidden_layer_sizes = tuple(hidden_layer_sizes)
        for size in hidden_layer_sizes:
            if not isinstance(size, Integral) or size < 1:
                raise ValueError(
                    "hidden_layer_sizes must contain positive ints, got "
                    f"{hidden_layer_sizes!r}."
                )
        if not isinstance(dropout, Real) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")

        self.n_features = None if n_features is None else int(n_features)
        self.n_classes = int(n_classes)
        self.hidden_layer_sizes = tuple(int(s) for s in hidden_layer_sizes)
        self.activation = activation
        self.dropout = float(dropout)

        layers = []
        n_in = self.n_features
        for size in self.hidden_layer_sizes:
            layers.append(_linear(n_in, size))
            layers.append(_make_activation(activation))
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            n_in = size
        self.hidden = nn.Sequential(*layers)
        self.output = _linear(n_in, self.n_classes)

    def forward(self, X):
        """Return the logits, shape ``(n_samples, n_classes)``."""
        return self.output(self.hidden(X))


def _linear(n_in, n_out):
    if n_in is None:
        return nn.LazyLinear(n_out)
    return nn.Linear(n_in, n_out)


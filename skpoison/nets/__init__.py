"""Seeded skorch classifiers.

skorch has no ``random_state``; :class:`SeededNeuralNetClassifier` adds one
(same ``random_state``, same result, torch included), encodes arbitrary class
labels, accepts the float64/DataFrame input scikit-learn pipelines pass, and
exposes hidden-layer activations.

- :class:`MLPModule`: the torch module (hidden ``Linear`` blocks + logits).
- :class:`SeededNeuralNetClassifier`: the skorch classifier.
- :func:`make_mlp_classifier`: the paper's MLP (one hidden layer of 10 units).
- :func:`make_linear_classifier`: logistic regression in torch.
"""

from ._modules import MLPModule
from ._skorch import (
    SeededNeuralNetClassifier,
    make_linear_classifier,
    make_mlp_classifier,
)

__all__ = [
    "MLPModule",
    "SeededNeuralNetClassifier",
    "make_linear_classifier",
    "make_mlp_classifier",
]

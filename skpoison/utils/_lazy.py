"""Lazy attributes for subpackages whose members need torch.

A joblib or Dask worker that unpickles a scikit-learn victim imports the
subpackage of every object it receives. Importing torch costs seconds; with
PEP 562 module ``__getattr__`` a subpackage can list a torch-backed class in
``__all__`` and import it only on first access.
"""

from importlib import import_module

__all__ = ["lazy_attributes"]


def lazy_attributes(package, eager, lazy):
    """Return ``(__getattr__, __dir__)`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    eager : iterable of str
        Names already bound in the package namespace.
    lazy : dict
        Maps an attribute name to the submodule (relative, e.g.
        ``"._witches_brew"``) that defines it.

    Returns
    -------
    getattr_ : callable
        The module ``__getattr__``: imports the submodule on first access and
        caches the attribute in the package namespace.
    dir_ : callable
        The module ``__dir__``, listing eager and lazy names.
    """
    lazy = dict(lazy)
    names = sorted(set(eager) | set(lazy))

    def getattr_(name):
        try:
            submodule = lazy[name]
        except KeyError:
            raise AttributeError(
                f"module {package!r} has no attribute {name!r}"
            ) from None
        value = getattr(import_module(submodule, package), name)
        setattr(import_module(package), name, value)
        return value

    def dir_():
        return names

    return getattr_, dir_

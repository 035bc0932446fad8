"""Words for what the audit shows: group names (parameters read as
:func:`~skpoison.utils._readable.readable` writes them)."""

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np

from ..utils._annotations import ANNOTATION_PREFIX
from ..utils._readable import _short  # annotation:sex -> sex


def _pairs(values, read=lambda column, value: value):
    """``column=value`` pairs (``column is missing`` for None or NaN), each
    value written as ``read(column, value)`` gives it."""
    return ", ".join(
        f"{_short(c)} is missing" if v is None or (isinstance(v, float) and np.isnan(v))
        else f"{_short(c)}={read(c, v)}" for c, v in values.items())


def _ask(finder, method, subpopulation):
    """The finder's ``method(subpopulation)``, or None where it has no such
    method or cannot answer (e.g. clusters of images: no columns to name
    them by)."""
    try:
        return getattr(finder, method)(subpopulation)
    except (ValueError, NotImplementedError, AttributeError, LookupError):
        return None


def _is_one_hot(finder, values):
    """Several columns, each 0/1 in every combination of the finder: one-hot
    columns (a single 0/1 column, or integer codes, read better as
    ``column=value``)."""
    combos = getattr(finder, "combinations_", [tuple(values.values())])
    return len(values) > 1 and all(  # (NaN is not in (0, 1))
        isinstance(v, (int, float, bool, np.number, np.bool_)) and v in (0, 1)
        for combo in combos for v in combo)


def describe_subpopulation(finder, subpopulation):
    """A human-readable name for a subpopulation, in the data's own units.

    Read more in the :ref:`User Guide <audit>`.

    Uses the fitted finder's ``describe(id)`` and ``describe_text(id)``:

    * for several one-hot annotation columns
      (:class:`~skpoison.subpopulations.FeatureMatch` on 0/1 columns), the
      names of the columns set to 1 (``"base categories"`` when none is);
    * a rule (:class:`~skpoison.subpopulations.ClusterMatch` on a table) reads
      as its conditions when it describes the cluster well; a rule that
      describes it only approximately is named so, followed by how well it
      matches: the share of the cluster's rows it selects ("covers") and the
      share of the rows it selects that are in the cluster ("precision"), both
      on the attacker's rows the finder was fitted on;
    * otherwise the finder's own ``describe_text(id)`` (FeatureMatch's
      ``column=value`` pairs, ``column is missing`` for a missing value, an
      ``annotation:`` column named without its prefix), or ``"cluster <id>"``.

    Parameters
    ----------
    finder : fitted finder
    subpopulation : int

    Returns
    -------
    name : str

    Examples
    --------
    >>> import pandas as pd
    >>> from skpoison.audit import describe_subpopulation
    >>> from skpoison.subpopulations import FeatureMatch
    >>> finder = FeatureMatch(["sex", "race"]).fit(
    ...     pd.DataFrame({"sex": ["F", "M"], "race": ["A", "B"]}))
    >>> describe_subpopulation(finder, finder.subpopulations_[0])
    'sex=F, race=A'
    """
    values = _ask(finder, "describe", subpopulation)
    if isinstance(values, Mapping) and _is_one_hot(finder, values):
        return name_values(finder, values)
    coverage = getattr(values, "coverage", None)
    precision = getattr(values, "precision", None)
    if coverage is not None and precision is not None:
        if not getattr(values, "approximate", True):
            return str(values)  # the rule describes the group well
        return (f"{values} (covers {coverage:.0%} of the cluster, "
                f"precision {precision:.0%})")
    if isinstance(values, str):
        return values
    text = _ask(finder, "describe_text", subpopulation)
    if text is not None:
        # annotation columns named as _short names them (the finder does not
        # know the convention)
        for column in values if isinstance(values, Mapping) else ():
            if str(column).startswith(ANNOTATION_PREFIX):
                text = str(text).replace(f"{column}=", f"{_short(column)}=").replace(
                    f"{column} is missing", f"{_short(column)} is missing")
        return str(text)
    return f"cluster {int(subpopulation)}" if values is None else str(values)


def name_values(finder, values):
    """Name a group given by its column values as :func:`describe_subpopulation`
    names the finder's groups: one-hot columns by the columns set to 1,
    otherwise ``column=value`` pairs (``column is missing``). For groups the
    finder has no id for, such as those its size filter left out."""
    if _is_one_hot(finder, values):
        on = [_short(k) for k, v in values.items() if v]
        return " & ".join(on) if on else "base categories"
    return _pairs(values, lambda column, value: int(value) if isinstance(
        value, (float, np.floating)) and float(value).is_integer() else value)


class CodedNames:
    """Name groups whose annotation columns hold category codes by the categories.

    The bundled settings encode annotations as the codes of their sorted
    values (attacks take numeric rows); ``encode`` (``_data.py``) gives the
    categories behind the codes of the columns it coded, and this describer
    reads a code back as its category, e.g. ``sex=female, age_bucket=25-34``.
    Groups on other columns are named by :func:`describe_subpopulation`.

    Parameters
    ----------
    categories : dict of str to sequence
        Per coded column, the category of each code.
    """

    def __init__(self, categories):
        self.categories = {k: list(v) for k, v in categories.items()}

    def __call__(self, finder, subpopulation):
        describe = getattr(finder, "describe", None)
        values = describe(subpopulation) if describe is not None else None
        return (self._decoded(values) if isinstance(values, Mapping) else None
                ) or describe_subpopulation(finder, subpopulation)

    def name_values(self, finder, values):
        """As :func:`name_values`, with codes read back as categories."""
        return self._decoded(values) or name_values(finder, values)

    def _decoded(self, values):
        """``column=category`` pairs, or None when a column is not coded or a
        value is not one of its codes (then the finder's own words serve)."""
        def known(column, code):
            names = self.categories.get(column)
            return names is not None and (
                code is None or (isinstance(code, float) and np.isnan(code))
                or (isinstance(code, (Integral, Real)) and float(code).is_integer()
                    and 0 <= int(code) < len(names)))

        if not values or not all(known(c, v) for c, v in values.items()):
            return None
        return _pairs(values, lambda column, code: self.categories[column][int(code)])

"""The annotation columns' shared plumbing: their prefix and their codes.

The convention itself (public) is in :mod:`skpoison.datasets`; the audit's
settings code annotations the same way, so both read these.
"""

import numpy as np
import pandas as pd

ANNOTATION_PREFIX = "annotation:"


def encode(annotations, columns):
    """Annotation columns as floats, and the categories behind the codes.

    A column of numbers (the ids of a loader's subgroups, counts) is kept as
    it is; any other column (strings, booleans, categories) becomes the rank
    of its value among its sorted values (as text), since attacks take
    numeric rows. Encode the whole data set before splitting, so that a code
    means the same category in every split.

    Returns
    -------
    codes : DataFrame
        The columns, as float32.
    categories : dict of str to list of str
        For each column that was coded, and only those, the category of each
        code (``categories[c][k]`` is the value coded ``k``): the one place a
        code is read back as its name (``CodedNames`` in ``_describe.py``).
    """
    out = pd.DataFrame(index=annotations.index)
    categories = {}
    for c in columns:
        values = np.asarray(annotations[c])
        if not np.issubdtype(values.dtype, np.number):
            names, values = np.unique(values.astype(str), return_inverse=True)
            categories[c] = names.tolist()
        out[c] = values.astype(np.float32)
    return out, categories

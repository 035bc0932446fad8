"""The single place where private scikit-learn names are imported.

scikit-learn keeps parameter validation (``_fit_context``, the constraint
classes) in private modules. Importing them here, and only here, means a
rename upstream is fixed in one file.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_params,
)

__all__ = [
    "_fit_context",
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "validate_params",
]

# imbalanced-learn keeps its output-type restoration and target checks private.
from imblearn.utils import check_target_type  # noqa: E402
from imblearn.utils._validation import ArraysTransformer  # noqa: E402

__all__ += ["ArraysTransformer", "check_target_type"]

# scikit-learn's step naming for make_pipeline is private.
from sklearn.pipeline import _name_estimators  # noqa: E402

__all__ += ["_name_estimators"]

# scikit-learn's row selection for arrays, sparse matrices and DataFrames is private.
from sklearn.utils import _safe_indexing  # noqa: E402

__all__ += ["_safe_indexing"]

# imbalanced-learn's pipeline steps (fit one transformer or sampler, cached) and
# scikit-learn's step timer are private; skpoison's Pipeline runs the same loop.
from imblearn.pipeline import _fit_resample_one, _fit_transform_one  # noqa: E402
from sklearn.utils._user_interface import _print_elapsed_time  # noqa: E402

__all__ += ["_fit_resample_one", "_fit_transform_one", "_print_elapsed_time"]

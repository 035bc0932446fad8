"""The audit: attack every subpopulation, at every rate, behind every defense.

``SubpopulationAudit`` runs the sweep on any data and model, on any joblib
backend (a Dask cluster included), resumable from a SQLite ``ResultStore``, and
writes a self-contained HTML report. A :class:`Setting` record describes one
data set to audit: the bundled ones are in ``SETTINGS`` (``load_setting`` /
``setting_audit``, ``skpoison audit --dataset ...``), ``table_setting`` makes
the record of a user's own table, and ``audit_table`` audits one in a call
(``skpoison audit --data FILE --target COLUMN``). What the audit runs is
registered by name: ``FINDERS``, ``ATTACKS``, ``DEFENSES``, ``VICTIMS``.

Modules: ``_registry`` (the parts by name), ``_settings`` (the records),
``_parts`` (victims and their preprocessing), ``_data`` (reading and checking
tables), ``_audit`` (the sweep), ``_workers`` (its joblib plumbing), ``_store``
(the result store), ``_describe`` (words for groups and parameters),
``_report`` and ``_render`` (the report model, printed and written) and
``_cli`` (the command line).
"""

from ._audit import SubpopulationAudit
from ._data import SettingError
from ._describe import describe_subpopulation
from ._parts import drop_annotations, make_table_victim, make_victim, table_preprocessor
from ._registry import ATTACKS, DEFENSES, FINDERS, VICTIMS, Spec, make_attack, make_defense
from ._report import plot_summary, summarize
from ._settings import (
    SETTINGS,
    Setting,
    adult_audit,
    audit_table,
    load_setting,
    prepare_audit,
    setting_audit,
    table_setting,
)
from ._store import ResultStore, StoreInUseError

__all__ = ["ATTACKS", "DEFENSES", "FINDERS", "SETTINGS", "VICTIMS", "ResultStore",
           "Setting", "SettingError", "Spec", "StoreInUseError", "SubpopulationAudit",
           "adult_audit", "audit_table", "describe_subpopulation", "drop_annotations", "load_setting",
           "make_attack", "make_defense", "make_table_victim", "make_victim", "prepare_audit",
           "plot_summary", "setting_audit", "summarize", "table_preprocessor",
           "table_setting"]

# names that moved, importable from here until skpoison 0.2
_MOVED = {"annotation_column": "skpoison.datasets", "with_annotations": "skpoison.datasets",
          "ConfidenceOrder": "skpoison.subpopulations",
          "by_confidence": "skpoison.subpopulations._ranking"}


def __getattr__(name):
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    import warnings

    warnings.warn(f"skpoison.audit.{name} moved to {_MOVED[name].split('._')[0]} and "
                  "will be removed from skpoison.audit in skpoison 0.2.", FutureWarning,
                  stacklevel=2)
    return getattr(importlib.import_module(_MOVED[name]), name)

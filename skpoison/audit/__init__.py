"""The audit: attack every subpopulation, at every rate, behind every defense.

``SubpopulationAudit`` runs the sweep on any data and model, on any joblib
backend (a Dask cluster included), resumable from a SQLite ``ResultStore``, and
writes a self-contained HTML report. A :class:`Setting` record describes one
data set to audit: the bundled ones are in ``SETTINGS`` (``load_setting`` /
``setting_audit``, ``skpoison audit --dataset ...``; ``adult_audit`` is the
main job on UCI Adult), and ``table_setting`` makes the record of a user's own
table (``skpoison audit --data FILE --target COLUMN``).

Modules: ``_settings`` (the records), ``_parts`` (victims, attacks, defenses,
devices), ``_data`` (reading and checking tables), ``_audit`` (the sweep),
``_workers`` (its joblib plumbing), ``_store`` (the result store),
``_describe`` (words for groups and parameters), ``_report`` (every table and
figure, and the HTML page) and ``_cli`` (the command line).
"""

from ._audit import SubpopulationAudit
from ._data import SettingError, annotation_column, with_annotations
from ._describe import describe_subpopulation
from ._parts import (
    DEFENSES,
    drop_annotations,
    make_attack,
    make_defense,
    make_table_victim,
    make_victim,
    table_preprocessor,
)
from ._report import plot_summary, summarize
from ._settings import (
    SETTINGS,
    ConfidenceOrder,
    Setting,
    adult_audit,
    by_confidence,
    load_setting,
    setting_audit,
    table_setting,
)
from ._store import ResultStore, StoreInUseError

__all__ = ["DEFENSES", "SETTINGS", "ConfidenceOrder", "ResultStore", "Setting",
           "SettingError", "StoreInUseError", "SubpopulationAudit", "adult_audit",
           "annotation_column", "by_confidence",
           "describe_subpopulation", "drop_annotations", "load_setting",
           "make_attack", "make_defense", "make_table_victim", "make_victim",
           "plot_summary", "setting_audit", "summarize", "table_preprocessor",
           "table_setting", "with_annotations"]

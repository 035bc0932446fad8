"""The audit: attack every subpopulation, at every rate, behind every defense.

``SubpopulationAudit`` runs the sweep on any data and model, on any joblib
backend (a Dask cluster included), resumable from a SQLite ``ResultStore``, and
writes a self-contained HTML report; ``adult_audit`` is the main job on the
bundled UCI Adult data (``skpoison audit`` on the command line), and
``setting_audit`` / ``load_setting`` run the paper's other settings on the real
data that loads offline (``skpoison audit --dataset ...``).
"""

from ._adult import adult_audit, make_attack, make_victim
from ._audit import SubpopulationAudit, describe_subpopulation, plot_summary, summarize
from ._settings import (
    DEFENSES,
    SETTINGS,
    by_confidence,
    drop_annotations,
    load_setting,
    make_defense,
    setting_audit,
)
from ._store import ResultStore

__all__ = ["DEFENSES", "SETTINGS", "ResultStore", "SubpopulationAudit", "adult_audit",
           "by_confidence", "describe_subpopulation", "drop_annotations",
           "load_setting", "make_attack", "make_defense", "make_victim",
           "plot_summary", "setting_audit", "summarize"]

"""The audit: attack every subpopulation, at every rate, behind every defense.

``SubpopulationAudit`` runs the sweep on any data and model, on any joblib
backend (a Dask cluster included), resumable from a SQLite ``ResultStore``, and
writes a self-contained HTML report; ``adult_audit`` is the main job on the
bundled UCI Adult data (``skpoison audit`` on the command line).
"""

from ._adult import adult_audit, make_attack, make_victim
from ._audit import SubpopulationAudit, describe_subpopulation, plot_summary, summarize
from ._store import ResultStore

__all__ = ["ResultStore", "SubpopulationAudit", "adult_audit", "describe_subpopulation",
           "make_attack", "make_victim", "plot_summary", "summarize"]

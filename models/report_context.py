"""The context of one weekly status report, in one import for its builder and renderers.

- ``models/report_data.py``: the rows and ``ReportContext``, plain data saved as JSON snapshots
  (why the report is rendered from such a context is said there);
- ``models/report_rules.py``: the report period, risk zones, the overall colour, the decisions;
- ``models/report_words.py``: the report's words from the gettext catalog, counts and dates.
"""

from __future__ import annotations

from models.report_data import (
    CLOSED_RISK_STATUSES,
    DONE_STATUSES,
    LANGS,
    RAGS,
    ChangeItem,
    Changes,
    EscalationSent,
    GanttBar,
    Lang,
    MessagesSummary,
    MovedTask,
    Rag,
    ReportContext,
    RiskRow,
    StageRow,
    Summary,
    TaskRow,
)
from models.report_rules import (
    decision_sentences,
    first_clause,
    heatmap_counts,
    overall_rag,
    risk_zone,
    week_bounds,
)
from models.report_words import STRINGS, babel_locale, format_day, plural

__all__ = [
    "CLOSED_RISK_STATUSES", "DONE_STATUSES", "LANGS", "RAGS", "STRINGS", "ChangeItem", "Changes",
    "EscalationSent", "GanttBar", "Lang", "MessagesSummary", "MovedTask", "Rag", "ReportContext",
    "RiskRow", "StageRow", "Summary", "TaskRow", "babel_locale", "decision_sentences", "first_clause",
    "format_day", "heatmap_counts", "overall_rag", "plural", "risk_zone", "week_bounds",
]

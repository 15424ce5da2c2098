"""The serialisable context of one weekly status report: data, rules and words in one import.

Why a separate context: the report is rendered from plain data only (Ghostwriter's rule:
build the context, then render). Whoever reads the database fills these dataclasses; the
renderers in ``tasks/gantt.py`` and ``tasks/report_docx.py`` never touch the database, so the
same context can be saved as a JSON snapshot (``to_dict``/``from_dict``), rendered again
later with identical text, and compared with next week's to list the changes.

- ``models/report_data.py``: the rows and ``ReportContext``, and their JSON form;
- ``models/report_rules.py``: the report period, risk zones, overall colour, decisions;
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

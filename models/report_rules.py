"""The rules of the weekly report: its period, risk zones, the overall colour, the decisions.

Pure functions of the report's rows (``models/report_data.py``) and the language; the
builder (``models/report_builder.py``) calls them to fill a ``ReportContext``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from models.i18n import translations
from models.report_data import RiskRow, StageRow, TaskRow
from models.report_words import plural


def week_bounds(iso_year: int, iso_week: int) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of an ISO week: the report period."""
    return dt.date.fromisocalendar(iso_year, iso_week, 1), dt.date.fromisocalendar(iso_year, iso_week, 7)


def risk_zone(score: int) -> str:
    """RAG zone of a probability x impact score on the 5x5 matrix (1-4, 5-12, 15-25)."""
    return "red" if score >= 15 else "amber" if score >= 5 else "green"


def heatmap_counts(risks: Iterable[RiskRow]) -> list[list[int]]:
    """Open risks counted by cell: ``result[probability - 1][impact - 1]``."""
    grid = [[0] * 5 for _ in range(5)]
    for risk in risks:
        if risk.is_open:
            grid[risk.probability - 1][risk.impact - 1] += 1
    return grid


def overall_rag(
    stages: Sequence[StageRow], overdue: Sequence[TaskRow], risks: Sequence[RiskRow] = ()
) -> str:
    """One colour for the whole roadmap.

    Red when a stage is red or a critical-path task is overdue (the end date moves);
    amber when a stage is amber, any task is overdue, or an open risk sits in the red zone
    (the end date is threatened); green otherwise.
    """
    if any(s.rag == "red" for s in stages) or any(t.critical for t in overdue):
        return "red"
    if (
        any(s.rag == "amber" for s in stages)
        or overdue
        or any(r.is_open and risk_zone(r.score) == "red" for r in risks)
    ):
        return "amber"
    return "green"


def decision_sentences(
    overdue_rows: Sequence[TaskRow], risks: Sequence[RiskRow], lang: str, limit: int = 3
) -> list[str]:
    """The (at most three) things the managers must decide this week, as sentences.

    Overdue tasks on the critical path (or already escalated to level 2) come first, worst
    lateness first, because each day there moves the end date; at most two of them, so that
    the highest red-zone risk still gets a line. Free places then go to the other tasks, then
    to the other risks.
    """
    tasks = sorted(
        (t for t in overdue_rows if t.critical or t.escalation_level >= 2),
        key=lambda t: (not t.critical, -t.days_late, -t.escalation_level, t.key),
    )
    hot_risks = sorted(
        (r for r in risks if r.is_open and risk_zone(r.score) == "red"),
        key=lambda r: (-r.score, -r.impact, r.key),
    )
    picked: list[TaskRow | RiskRow] = [*tasks[:2], *hot_risks[:1], *tasks[2:], *hot_risks[1:]]
    return [
        _task_decision(x, lang) if isinstance(x, TaskRow) else _risk_decision(x, lang)
        for x in picked[:limit]
    ]


def _task_decision(t: TaskRow, lang: str) -> str:
    words = translations(lang)
    values = {"key": t.key, "title": t.title, "late": plural(t.days_late, "bday", lang),
              "owner": t.owner or words.gettext("unassigned")}
    if t.critical:
        return words.gettext(
            "Task %(key)s “%(title)s” (critical path) is %(late)s late, owner %(owner)s: "
            "decide whether to move the deadline or add resources.") % values
    return words.gettext(
        "Task %(key)s “%(title)s” is %(late)s late, owner %(owner)s: "
        "decide whether to move the deadline or add resources.") % values


def first_clause(text: str, limit: int = 140) -> str:
    """The first clause of a free text (up to the first ";" or full stop), at most ``limit``
    characters (cut at a word, "…" added), its first letter lowercased unless it starts an
    abbreviation: "Найти второго поставщика; …" -> "найти второго поставщика". A decision
    sentence quotes the mitigation; the full text is in the risk register."""
    text = " ".join(text.split())
    for stop in (";", ". "):
        text = text.split(stop, 1)[0]
    text = text.rstrip(" .")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(" ,:—-") + "…"
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def _risk_decision(r: RiskRow, lang: str) -> str:
    words = translations(lang)
    mitigation = first_clause(r.mitigation)
    action = (
        words.gettext("approve the mitigation — %(mitigation)s") % {"mitigation": mitigation} if mitigation
        else words.gettext("define a mitigation")
    )
    return words.gettext(
        "Risk %(key)s “%(title)s” scores %(score)s (probability %(p)s × impact %(i)s), owner %(owner)s: %(action)s."
    ) % {"key": r.key, "title": r.title, "score": r.score, "p": r.probability, "i": r.impact,
         "owner": r.owner or words.gettext("unassigned"), "action": action}

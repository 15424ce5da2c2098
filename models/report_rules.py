"""The rules of the weekly report: its period, risk zones, the overall colour, the decisions.

The period is ``report_week``: the one definition of "the week a report as of day D covers",
used for the file name, the snapshot, the mail's dedup key and subject, the period text and
the daily cycle's catch-up (tasks/report_jobs.py). ``check_report_day`` is the one rule for
the days a report may be made as of.

Pure functions of the report's rows (``models/report_data.py``) and the language; the
builder (``models/report_builder.py``) calls them to fill a ``ReportContext``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.errors import UserError
from models.i18n import translations
from models.report_data import RiskRow, StageRow, TaskRow
from models.report_words import plural


@dataclass(frozen=True, slots=True)
class ReportWeek:
    """The week a report as of ``as_of`` covers: the seven days ``start`` (as_of - 7) through
    ``end`` (as_of - 1), named after the ISO week of ``end``."""

    as_of: dt.date
    start: dt.date
    end: dt.date
    iso_year: int
    iso_week: int

    @property
    def label(self) -> str:
        """"2015-W20": the week in file names and dedup keys."""
        return f"{self.iso_year}-W{self.iso_week:02d}"


def report_week(as_of: dt.date) -> ReportWeek:
    """The week reported on ``as_of``: the seven days before it, named after the ISO week of
    the day before. Produced on Monday 18 May 2015, the report is that of week 20 (11-17 May),
    "as of 18 May": a report made on Monday morning describes the week just ended, not the
    one just begun. Made on another day (a Wednesday), it covers the seven days before that
    day and is still named after the ISO week of the day before, so a later report of the
    same week replaces it."""
    end = as_of - dt.timedelta(days=1)
    iso_year, iso_week, _ = end.isocalendar()
    return ReportWeek(as_of=as_of, start=as_of - dt.timedelta(days=7), end=end, iso_year=iso_year, iso_week=iso_week)


def check_report_day(day: dt.date, session_date: dt.date, option: str = "--as-of") -> dt.date:
    """``day`` when a report may be made as of it; a UserError naming ``option`` for a day
    before the session (the roadmap had not started: there is nothing to report)."""
    if day < session_date:
        raise UserError(f"{option}: {day.isoformat()} is before the session ({session_date.isoformat()}); "
                        "a report is made as of the session day or later")
    return day


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

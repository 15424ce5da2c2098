"""The words of the weekly report (DOCX and chart), from the gettext catalog (models/i18n.py).

The renderers (tasks/report_docx.py, tasks/gantt.py) look the report's words up by key:
``STRINGS[lang]["h_summary"]``; a value with ``{name}`` placeholders is filled with
``str.format``. The English text is the message id; the Russian is in the catalog.
Statuses and RAG colours are not here but in models/i18n.py, shared with mail and web.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from functools import lru_cache

from models.i18n import (
    LANGUAGES,
    babel_locale,
    format_date,
    rag_colour,
    risk_status,
    task_status,
    translations,
)

__all__ = ["STRINGS", "babel_locale", "format_day", "nobody", "plural"]


def N_(message: str) -> str:
    """Marks a message for ``pybabel extract``; translated in ``_table``."""
    return message


_MESSAGES: dict[str, str] = {
    "report_title": N_("Weekly roadmap status report"),
    "period": N_("Reporting period: week {week} of {year}, {start} – {end}"),
    "as_of": N_("As of {date}"),
    "generated": N_("Generated {date}, {time}"),
    "h_summary": N_("Executive summary"),
    "h_stages": N_("Stages"),
    "h_gantt": N_("Gantt chart"),
    "h_overdue": N_("Overdue and blocked tasks"),
    "h_overdue_partner": N_("Overdue by partner"),
    "h_upcoming": N_("Next two weeks"),
    "h_risks": N_("Risk register"),
    "h_heatmap": N_("Heat map: probability × impact"),
    "h_open_risks": N_("Open risks"),
    "h_changes": N_("Changes since the previous report"),
    "h_messages": N_("Reminders and escalations this week"),
    "h_appendix": N_("Appendix: full lists"),
    "h_decisions": N_("Decisions needed"),
    "overall": N_("Overall status"),
    "done_pct": N_("Tasks done"),
    "done_pct_value": N_("{count} by count ({done} of {total}), {weighted} weighted by duration"),
    "done_week": N_("Done this week"),
    "overdue_now": N_("Overdue now"),
    "stages_state": N_("Stages on track / late"),
    "no_decisions": N_("No decisions are needed this week."),
    "c_key": N_("Key"), "c_title": N_("Title"), "c_start": N_("Start"), "c_end": N_("End (plan)"),
    "c_forecast": N_("Forecast"), "c_shift": N_("Shift, days"), "c_progress": N_("Progress"),
    "c_rag": N_("Status"), "c_owner": N_("Owner"), "c_partners": N_("Partners"),
    "c_due": N_("Due"), "c_baseline": N_("Baseline due"), "c_late": N_("Late, business days"),
    "c_esc": N_("Escalation"), "c_state": N_("State"), "c_blocked_by": N_("Blocked by"),
    "c_stage": N_("Stage"), "c_partner": N_("Partner"), "c_count": N_("Tasks"), "c_worst": N_("Worst delay"),
    "c_prob": N_("Probability"), "c_impact": N_("Impact"), "c_score": N_("Score"),
    "c_score_pi": N_("Score = probability × impact"),
    "c_mitigation": N_("Mitigation"), "c_review": N_("Review"), "c_change": N_("Change"),
    "c_detail": N_("Detail"), "c_recipient": N_("Recipient"), "c_subject": N_("Subject"),
    "c_sent": N_("Sent"), "c_critical": N_("CP"),
    "prob_impact": N_("Probability ↓ / Impact →"),
    "esc_0": "—", "esc_1": N_("1 (manager)"), "esc_2": N_("2 (project office)"),
    "ch_completed": N_("Completed"), "ch_newly_overdue": N_("Newly overdue"),
    "ch_moved": N_("Deadline moved"), "ch_new_risks": N_("New risk"),
    "ch_closed_risks": N_("Risk closed"),
    "moved_detail": "{old} → {new}",
    "no_previous": N_("This is the first report for this roadmap: there is no previous report to compare with."),
    "no_changes": N_("Nothing changed since the previous report."),
    "changes_counts": N_("Completed: {completed}; newly overdue: {newly_overdue}; deadlines moved: {moved}; "
                         "new risks: {new_risks}; risks closed: {closed_risks}."),
    "messages_counts": N_("Reminders: {reminders}; escalations: {escalations}; notices: {notices}."),
    "no_escalations": N_("No escalations were sent this week."),
    "none_overdue": N_("No tasks are overdue or blocked."),
    "none_upcoming": N_("Nothing is due in the next two weeks."),
    "none_risks": N_("No open risks."),
    "none_stages": N_("No stages defined."),
    "more": N_("… and {n} more — the full list is in the appendix."),
    "gantt_more": N_("And {n} more are not shown"),
    "gantt_caption": N_("Stages and critical-path tasks; thin bars show the baseline."),
    "gantt_today": N_("Today"),
    "gantt_baseline": N_("Baseline"),
    "owner_group": "{owner} — {tasks}",
    "nobody": N_("unassigned"),
    "blocked_by": N_("blocked by: {keys}"),
}

_TASK_STATUSES = ("planned", "in_progress", "blocked", "done", "cancelled")
_RISK_STATUSES = ("open", "mitigated", "occurred", "closed")


@lru_cache(maxsize=8)
def _table(lang: str) -> dict[str, str]:
    words = translations(lang)
    table = {key: words.gettext(message) for key, message in _MESSAGES.items()}
    table.update({f"st_{s}": task_status(s, lang) for s in _TASK_STATUSES})
    table["st_todo"] = task_status("planned", lang)  # the report's name for it before 2025
    table.update({f"rs_{s}": risk_status(s, lang) for s in _RISK_STATUSES})
    # A colour stands alone in a table cell or a chart legend, so it starts with a capital.
    table.update({rag: rag_colour(rag, lang).capitalize() for rag in ("green", "amber", "red")})
    return table


class _ByLanguage(Mapping[str, dict[str, str]]):
    """``STRINGS[lang]``: the report's words in ``lang``, built from the catalog when first used."""

    def __getitem__(self, lang: str) -> dict[str, str]:
        if lang not in LANGUAGES:
            raise KeyError(lang)
        return _table(lang)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


STRINGS: Mapping[str, dict[str, str]] = _ByLanguage()


def nobody(lang: str) -> str:
    return _table(lang)["nobody"]


def plural(n: int, word: str, lang: str) -> str:
    """``n`` and the agreeing word, by the catalog's plural rule: 1 задача, 3 задачи, 5 задач, 21 задача."""
    words = translations(lang)
    if word == "task":
        text = words.ngettext("%(count)s task", "%(count)s tasks", n)
    elif word == "bday":
        text = words.ngettext("%(count)s business day", "%(count)s business days", n)
    else:
        raise KeyError(f"no plural forms for {word!r}; known: task, bday")
    return text % {"count": n}


@lru_cache(maxsize=8192)
def format_day(day: dt.date | None, lang: str, long: bool = True) -> str:
    """models.i18n.format_date for a Word document: "15 ноября 2014 г." (long) or "15.11.2014",
    "—" for no date. A no-break space keeps "2014 г." together, and a short date in a narrow
    table column must not wrap after "Apr"."""
    if day is None:
        return "—"
    text = format_date(day, lang, short=not long)
    return text.replace(" г.", "\u00a0г.") if long else text.replace(" ", "\u00a0")

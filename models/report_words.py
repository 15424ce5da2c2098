"""The words of the weekly report that are more than a gettext call: counts, dates, status
and colour words.

The report's sentences and labels are plain gettext calls where they are used
(tasks/report_docx.py, tasks/gantt.py, models/report_rules.py: ``_("Executive summary")``);
the English text is the message id, the Russian is in the catalog (models/i18n.py).
Statuses and RAG colours are models/i18n.py's, shared with mail and web.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from babel.dates import format_interval

from models.i18n import babel_locale, format_date, rag_colour, task_status, translations


def plural(n: int, word: str, lang: str) -> str:
    """``n`` and the agreeing word (``word`` is "task" or "bday", a business day), by the
    catalog's plural rule: 1 задача, 3 задачи, 5 задач, 21 задача."""
    words = translations(lang)
    if word == "task":
        return words.ngettext("%(count)s task", "%(count)s tasks", n) % {"count": n}
    return words.ngettext("%(count)s business day", "%(count)s business days", n) % {"count": n}


def status_word(status: str, lang: str) -> str:
    """A task status as the report shows it; "todo", its name before 2025 (older snapshots),
    is "planned"."""
    return task_status("planned" if status == "todo" else status, lang)


def rag_word(rag: str, lang: str) -> str:
    """A colour stands alone in a table cell or a chart legend, so it starts with a capital."""
    return rag_colour(rag, lang).capitalize()


@lru_cache(maxsize=8192)
def format_day(day: dt.date | None, lang: str, long: bool = True) -> str:
    """models.i18n.format_date for a Word document: "15 ноября 2014 г." (long) or "15.11.2014",
    "—" for no date. A no-break space keeps "2014 г." together, and a short date in a narrow
    table column must not wrap after "Apr"."""
    if day is None:
        return "—"
    text = format_date(day, lang, short=not long)
    return text.replace(" г.", "\u00a0г.") if long else text.replace(" ", "\u00a0")


def format_period(start: dt.date, end: dt.date, lang: str) -> str:
    """A report's period as CLDR writes a date range in ``lang``: "11—17 мая 2015 г.",
    "27 апр. — 3 мая 2015 г.", "11 – 17 May 2015" (babel's format_interval; the narrow
    no-break space CLDR puts before "г." becomes a plain one, as in models.i18n.format_date)."""
    text = format_interval(start, end, "yMMMMd", locale=babel_locale(lang))
    return text.replace("\u202f", " ")

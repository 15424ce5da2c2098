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

from babel.dates import format_date as _babel_format_date

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


def format_period(start: dt.date, end: dt.date, lang: str, *, word: bool = False) -> str:
    """A report's period with full month names: "11–17 мая 2015 г." / "11–17 May 2015",
    "27 апреля – 3 мая 2015 г.", "29 декабря 2014 г. – 4 января 2015 г." (CLDR's own intervals
    abbreviate the month). The dates are models.i18n.format_date's; ``word``: a no-break space
    keeps "2015 г." together in a Word document, as ``format_day``."""
    if start.year != end.year:
        first = format_date(start, lang)
    elif start.month != end.month:
        first = _babel_format_date(start, "d MMMM", locale=babel_locale(lang))
    else:
        first = str(start.day)
    text = f"{first}–{format_date(end, lang)}" if first.isdigit() else f"{first} – {format_date(end, lang)}"
    return text.replace(" г.", "\u00a0г.") if word else text


def chart_caption(lang: str) -> str:
    """What the Gantt chart shows (drawn under it by tasks/gantt.py; the report repeats it as
    the picture's alt text)."""
    return translations(lang).gettext(
        "Stages, each with its open tasks (late and critical first). Per row: the plan, the "
        "expected finish and the baseline."
    )

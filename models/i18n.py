"""Words, plurals and dates in the roadmap's language (Russian or English), for mail, report and web.

One mechanism: gettext. The English text is the message id; the Russian wording lives in
``locale/ru/LC_MESSAGES/messages.po``, and Russian plurals (1 задача, 3 задачи, 5 задач,
21 задача) come from that catalog's Plural-Forms through ``ngettext``. Python code calls
``translations(lang).gettext(...)``/``.ngettext(...)``; Jinja templates use ``_()``,
``ngettext()`` and ``{% trans %}`` (``install_gettext``), taking the language from the
``lang`` of the render context, so one environment serves both languages.

The catalog is compiled when first used (babel's read_po/write_mo, in memory): there is no
.mo file to forget to rebuild. After changing wording in code or templates:

    pybabel extract -F babel.cfg -o /tmp/messages.pot .
    pybabel update -i /tmp/messages.pot -d locale -D messages --no-fuzzy-matching

then translate the new entries (tests/test_i18n.py fails while one is missing or fuzzy).

Jinja is imported inside ``install_gettext`` only: the report and the CLI use the words here
without loading it.
"""

from __future__ import annotations

import gettext
import io
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel.dates import format_date as _babel_format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

if TYPE_CHECKING:
    import jinja2

LANGUAGES = ("ru", "en")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
CATALOG_DOMAIN = "messages"

# English CLDR "long" is American ("November 15, 2014"): the British locale gives "15 November 2014".
_LOCALES = {"ru": "ru", "en": "en_GB"}
_SHORT_DATE = {"ru": "dd.MM.yyyy", "en": "d MMM yyyy"}


def N_(message: str) -> str:
    """Marks a message for ``pybabel extract`` where it is defined; it is translated where it
    is shown, once the reader's language is known (e.g. ``web.security.say``)."""
    return message


def language(lang: str) -> str:
    """ "ru", "ru_RU" and "ru-RU" alike; anything but Russian or English is refused rather
    than shown as English words around foreign dates."""
    base = lang.replace("-", "_").split("_")[0].lower()
    if base not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {lang!r}")
    return base


def babel_locale(lang: str) -> str:
    """The babel locale of a language: "en_GB" for English, so that dates read "15 November 2014"."""
    return _LOCALES[language(lang)]


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{CATALOG_DOMAIN}.po"


@lru_cache(maxsize=8)
def translations(lang: str) -> gettext.NullTranslations:
    """The gettext translations of ``lang``: English needs none (the ids are English)."""
    lang = language(lang)
    if lang == "en":
        return gettext.NullTranslations()
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=CATALOG_DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)  # fuzzy entries are left out, as msgfmt does
    mo.seek(0)
    return Translations(mo, domain=CATALOG_DOMAIN)


# ---- one vocabulary for the values every part of the product shows ------------------------


@lru_cache(maxsize=8)
def _task_statuses(lang: str) -> dict[str, str]:
    # Feminine in Russian: the word stands for "задача".
    t = translations(lang)
    return {
        "planned": t.pgettext("task status", "planned"),
        "in_progress": t.pgettext("task status", "in progress"),
        "done": t.pgettext("task status", "done"),
        "blocked": t.pgettext("task status", "blocked"),
        "cancelled": t.pgettext("task status", "cancelled"),
    }


@lru_cache(maxsize=8)
def _risk_statuses(lang: str) -> dict[str, str]:
    t = translations(lang)
    return {
        "open": t.pgettext("risk status", "open"),
        "mitigated": t.pgettext("risk status", "mitigated"),
        "occurred": t.pgettext("risk status", "occurred"),
        "closed": t.pgettext("risk status", "closed"),
    }


@lru_cache(maxsize=8)
def _rag_colours(lang: str) -> dict[str, str]:
    t = translations(lang)
    return {
        "green": t.pgettext("RAG colour", "green"),
        "amber": t.pgettext("RAG colour", "amber"),
        "red": t.pgettext("RAG colour", "red"),
        "grey": t.pgettext("RAG colour", "grey"),
    }


def task_status(status: str, lang: str) -> str:
    """A task's status as a word ("в работе"); a status without a word is shown as stored."""
    return _task_statuses(language(lang)).get(status, status)


def risk_status(status: str, lang: str) -> str:
    return _risk_statuses(language(lang)).get(status, status)


def rag_colour(rag: str, lang: str) -> str:
    """A RAG colour in lower case ("жёлтый"); a report cell capitalises it."""
    return _rag_colours(language(lang)).get(rag, rag)


# ---- dates ---------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def format_date(d: date, lang: str, short: bool = False) -> str:
    """A date for prose, ru "15 ноября 2014 г.", en "15 November 2014"; ``short`` for a table
    column, "15.11.2014" / "15 Nov 2014". Cached: a day's mail says the same few dates
    thousands of times, and babel takes a tenth of a millisecond for each."""
    lang = language(lang)
    text = _babel_format_date(d, _SHORT_DATE[lang] if short else "long", locale=_LOCALES[lang])
    # CLDR puts a narrow no-break space (U+202F) before "г."; plain-text mail clients render
    # it unevenly, Word fonts may lack the glyph, and people cannot type it when searching.
    return text.replace("\u202f", " ")


@lru_cache(maxsize=1024)
def format_day(d: date, lang: str) -> str:
    """Day and month for a subject, ru "2 марта", en "2 March"."""
    return _babel_format_date(d, "d MMMM", locale=_LOCALES[language(lang)])


@lru_cache(maxsize=1024)
def format_weekday(d: date, lang: str) -> str:
    """The weekday's name as it stands alone: ru "суббота", en "Saturday"."""
    return _babel_format_date(d, "cccc", locale=_LOCALES[language(lang)])


def jinja_filters() -> dict[str, Any]:
    """The functions above under the names templates use: ``{{ due | format_date(lang) }}``."""
    return {
        "format_date": format_date,
        "format_weekday": format_weekday,
        "format_day": format_day,
        "task_status": task_status,
        "risk_status": risk_status,
        "rag_colour": rag_colour,
    }


# ---- templates -----------------------------------------------------------------------------


def install_gettext(env: jinja2.Environment) -> jinja2.Environment:
    """Give ``env`` the i18n extension (``{% trans %}``, ``_()``, ``ngettext()``, ``pgettext()``)
    in the language of each render's ``lang``, and the filters above. Newstyle gettext:
    values are passed by name (``_("Due: %(date)s", date=...)``) and escaped in HTML."""
    from jinja2 import pass_context
    from jinja2.runtime import Context

    # Jinja's newstyle wrappers call these through Context.call, which passes the render
    # context to a pass_context function: the language is that of the page or mail rendered.
    @pass_context
    def gettext(context: Context, message: str) -> str:
        return translations(context["lang"]).gettext(message)

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, n: int) -> str:
        return translations(context["lang"]).ngettext(singular, plural, n)

    @pass_context
    def pgettext(context: Context, ctx: str, message: str) -> str:
        return translations(context["lang"]).pgettext(ctx, message)

    @pass_context
    def npgettext(context: Context, ctx: str, singular: str, plural: str, n: int) -> str:
        return translations(context["lang"]).npgettext(ctx, singular, plural, n)

    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # a sentence may span lines in a template
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext
    )
    env.filters.update(jinja_filters())
    return env

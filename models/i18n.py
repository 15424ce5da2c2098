"""Numbers, plurals and dates in the owner's language (Russian or English).

Pure functions over babel's CLDR data, usable directly as Jinja filters:
``{{ n | count_phrase("task", lang) }}``, ``{{ due | format_date(lang) }}``.

Russian needs three forms for whole numbers (1 задача, 3 задачи, 5 задач, 11 задач,
21 задача), so plurals are chosen by babel's CLDR rules rather than by ``n == 1``.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Mapping

from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.numbers import format_decimal

PluralForms = Mapping[str, str] | tuple[str, ...]

# CLDR's fixed order of categories; a tuple of forms is read in this order,
# restricted to the categories the language uses (ru: one, few, many, other; en: one, other).
_CATEGORY_ORDER = ("zero", "one", "two", "few", "many", "other")

# Words our mails count. "other" in Russian covers fractions (1,5 задачи).
WORDS: dict[str, dict[str, PluralForms]] = {
    "task": {
        "ru": ("задача", "задачи", "задач", "задачи"),
        "en": ("task", "tasks"),
    },
    "day": {
        "ru": ("день", "дня", "дней", "дня"),
        "en": ("day", "days"),
    },
    "business_day": {
        "ru": ("рабочий день", "рабочих дня", "рабочих дней", "рабочего дня"),
        "en": ("business day", "business days"),
    },
    "week": {
        "ru": ("неделя", "недели", "недель", "недели"),
        "en": ("week", "weeks"),
    },
    "risk": {
        "ru": ("риск", "риска", "рисков", "риска"),
        "en": ("risk", "risks"),
    },
    "message": {
        "ru": ("письмо", "письма", "писем", "письма"),
        "en": ("message", "messages"),
    },
    "reminder": {
        "ru": ("напоминание", "напоминания", "напоминаний", "напоминания"),
        "en": ("reminder", "reminders"),
    },
    "milestone": {
        "ru": ("веха", "вехи", "вех", "вехи"),
        "en": ("milestone", "milestones"),
    },
}

# English CLDR "long" is American ("November 15, 2014"); our mails use the day-first form.
_DATE_PATTERNS = {"en": "d MMMM y"}


@lru_cache(maxsize=32)
def _locale(lang: str) -> Locale:
    """Accept "ru", "ru_RU" and "ru-RU" alike; unknown languages raise babel's error."""
    return Locale.parse(lang.replace("-", "_"))


@lru_cache(maxsize=4096)
def _category(n: int | float, lang: str) -> str:
    return _locale(lang).plural_form(abs(n))


@lru_cache(maxsize=32)
def _categories(lang: str) -> tuple[str, ...]:
    tags = _locale(lang).plural_form.tags | {"other"}
    return tuple(c for c in _CATEGORY_ORDER if c in tags)


def plural(n: int, forms: PluralForms, lang: str) -> str:
    """The form of a word that goes with the number ``n`` in ``lang``.

    ``forms`` is either a mapping from CLDR category ("one", "few", "many", "other")
    to the word, or a tuple in CLDR order (Russian: one, few, many[, other];
    English: one, other). A missing category falls back to "other", then to the
    last form given, so a three-form Russian tuple still works for every integer.
    """
    category = _category(n, lang)
    if not isinstance(forms, Mapping):
        forms = dict(zip(_categories(lang), forms))
    if category in forms:
        return forms[category]
    if "other" in forms:
        return forms["other"]
    return list(forms.values())[-1]


@lru_cache(maxsize=4096)
def count_phrase(n: int, word_key: str, lang: str) -> str:
    """ "3 задачи", "5 рабочих дней", "1 task": the number and the agreeing word.
    Cached, like the date formats below: a day's mail says the same few counts and
    dates thousands of times, and babel takes a tenth of a millisecond for each."""
    try:
        by_lang = WORDS[word_key]
    except KeyError:
        raise KeyError(f"no plural forms for word {word_key!r}; known: {sorted(WORDS)}") from None
    base = _locale(lang).language
    if base not in by_lang:
        raise KeyError(f"no {base!r} forms for word {word_key!r}")
    number = format_decimal(n, locale=_locale(lang))
    return f"{number} {plural(n, by_lang[base], lang)}"


@lru_cache(maxsize=4096)
def format_date(d: date, lang: str) -> str:
    """A full date for prose: ru "15 ноября 2014 г.", en "15 November 2014"."""
    pattern = _DATE_PATTERNS.get(_locale(lang).language, "long")
    # CLDR puts a narrow no-break space (U+202F) before "г."; plain-text mail clients
    # render it unevenly and people can't type it when searching, so use a plain space.
    return _babel_format_date(d, pattern, locale=_locale(lang)).replace("\u202f", " ")


@lru_cache(maxsize=1024)
def format_weekday(d: date, lang: str) -> str:
    """The weekday's name as it stands alone: ru "суббота", en "Saturday"."""
    return _babel_format_date(d, "cccc", locale=_locale(lang))


def jinja_filters() -> dict[str, object]:
    """The functions above under the names templates use."""
    return {
        "plural": plural,
        "count_phrase": count_phrase,
        "format_date": format_date,
        "format_weekday": format_weekday,
    }

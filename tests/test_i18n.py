"""One translation mechanism for mail, report and web: the gettext catalog in locale/, its
plural rule, one vocabulary for statuses and one date formatter (models/i18n.py)."""

from __future__ import annotations

from datetime import date

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from config import PROJECT_ROOT
from models.i18n import catalog_path, format_date, format_weekday, rag_colour, risk_status, task_status
from models.report_words import format_day, plural, rag_word, status_word
from web.security import say


def used_messages() -> dict[tuple[str | None, str], str | tuple[str, ...]]:
    """Every message the code and templates say, found as ``pybabel extract`` finds them."""
    with open(PROJECT_ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for _file, _line, message, _comments, context in extract_from_dir(PROJECT_ROOT, method_map, options_map):
        singular = message[0] if isinstance(message, tuple) else message
        found[(context, singular)] = message
    return found


def russian_catalog():
    with catalog_path("ru").open("rb") as po:
        return read_po(po, locale="ru")


def test_every_message_in_code_and_templates_has_a_russian_translation():
    catalog = russian_catalog()
    assert catalog.num_plurals == 3
    untranslated = []
    for (context, singular), message in used_messages().items():
        entry = catalog.get(singular, context=context)
        forms = entry.string if entry else None
        complete = forms and (all(forms) and len(forms) == 3 if isinstance(message, tuple) else isinstance(forms, str))
        if not complete or entry.fuzzy:
            untranslated.append(f"{context or ''}|{singular}")
    assert not untranslated, "translate in locale/ru/LC_MESSAGES/messages.po: " + "; ".join(untranslated)


def test_the_catalog_has_no_message_that_nothing_says_and_placeholders_match():
    catalog = russian_catalog()
    used = set(used_messages())
    unused = [m.id for m in catalog if m.id and (m.context, m.id[0] if m.pluralizable else m.id) not in used]
    assert not unused, f"remove from messages.po (or pybabel update): {unused}"
    problems = [(m.id, errors) for m, errors in catalog.check()]
    assert not problems


@pytest.mark.parametrize("n, expected", [
    (0, "0 задач"), (1, "1 задача"), (2, "2 задачи"), (4, "4 задачи"), (5, "5 задач"), (11, "11 задач"),
    (12, "12 задач"), (14, "14 задач"), (21, "21 задача"), (22, "22 задачи"), (25, "25 задач"),
    (101, "101 задача"), (111, "111 задач"),
])
def test_russian_counts_follow_the_catalogs_plural_rule(n: int, expected: str) -> None:
    assert plural(n, "task", "ru") == expected


def test_business_days_in_russian_and_english() -> None:
    assert [plural(n, "bday", "ru") for n in (1, 2, 5, 21)] == [
        "1 рабочий день", "2 рабочих дня", "5 рабочих дней", "21 рабочий день"]
    assert [plural(n, "task", "en") for n in (0, 1, 3)] == ["0 tasks", "1 task", "3 tasks"]


def test_a_status_has_one_word_in_mail_report_and_web() -> None:
    assert task_status("planned", "ru") == "запланирована"
    assert status_word("planned", "ru") == status_word("todo", "ru") == "запланирована"  # "todo": older snapshots
    assert [task_status(s, "en") for s in ("in_progress", "cancelled")] == ["in progress", "cancelled"]
    assert (risk_status("occurred", "ru"), rag_colour("amber", "ru")) == ("наступил", "жёлтый")
    assert rag_word("amber", "ru") == "Жёлтый" and rag_word("amber", "en") == "Amber"
    assert task_status("someday", "ru") == "someday"  # a value without a word is shown as stored


def test_web_messages_fill_in_labels_and_dates_in_the_language() -> None:
    assert say("ru", "%(field)s: give a whole number from 0 to 100", field="Progress") == \
        "Прогресс: укажите целое число от 0 до 100"
    expired = "This link expired on %(expires)s. The next reminder email brings a fresh one, or ask the project office."
    assert say("en", expired, expires=date(2014, 12, 10)).startswith("This link expired on 10 December 2014.")
    assert say("ru", expired, expires=date(2014, 12, 10)).startswith("Срок действия ссылки истёк 10 декабря 2014 г.")


def test_dates_read_naturally_in_russian_and_english() -> None:
    d = date(2014, 11, 15)
    assert format_date(d, "ru") == "15 ноября 2014 г."
    assert format_date(d, "en") == "15 November 2014"
    assert format_date(date(2015, 3, 1), "ru-RU") == "1 марта 2015 г."
    assert (format_date(d, "ru", short=True), format_date(d, "en", short=True)) == ("15.11.2014", "15 Nov 2014")
    assert (format_weekday(d, "ru"), format_weekday(d, "en")) == ("суббота", "Saturday")
    # The report keeps "2014 г." and a short date on one line in Word.
    assert (format_day(d, "ru"), format_day(d, "en", long=False)) == ("15 ноября 2014\u00a0г.", "15\u00a0Nov\u00a02014")


def test_a_language_other_than_russian_or_english_is_refused() -> None:
    with pytest.raises(ValueError, match="de"):
        format_date(date(2014, 11, 15), "de")

"""The deadlines calendar (models/ics.py), read back with the icalendar package as a
calendar client would."""

from __future__ import annotations

from datetime import UTC, date, datetime

from icalendar import Calendar

from models.ics import Deadline, build_ics, event_uid

NOW = datetime(2014, 11, 1, 9, 0, tzinfo=UTC)
AWKWARD = "Отчёт; смета, \\ и план\r\nвторая строка\x07"
LINK = "https://pmo.example.org/roadmaps/owm/tasks/a?token=" + "A" * 120


def deadline(**overrides) -> Deadline:
    values = dict(uid="owm-a@roadmap", sequence=4, summary=AWKWARD, due=date(2014, 11, 15),
                  description="Пояснение\nв две строки", url=LINK)
    return Deadline(**{**values, **overrides})  # type: ignore[arg-type]


def test_text_with_separators_newlines_and_controls_reads_back_as_written():
    (todo,) = Calendar.from_ical(build_ics([deadline()], now=NOW)).walk("VTODO")
    assert str(todo["summary"]) == "Отчёт; смета, \\ и план\nвторая строка"  # the BEL is dropped
    assert str(todo["description"]) == "Пояснение\nв две строки"
    assert str(todo["url"]) == LINK


def test_a_deadline_is_a_todo_and_a_free_all_day_event_with_the_same_sequence():
    cal = Calendar.from_ical(build_ics([deadline()], now=NOW))
    (todo,), (event,) = cal.walk("VTODO"), cal.walk("VEVENT")
    assert (str(cal["method"]), str(cal["version"])) == ("PUBLISH", "2.0")
    assert (str(todo["uid"]), str(event["uid"])) == ("owm-a@roadmap", event_uid("owm-a@roadmap"))
    assert (str(todo["status"]), str(event["transp"])) == ("NEEDS-ACTION", "TRANSPARENT")
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (date(2014, 11, 15), date(2014, 11, 16))
    assert int(todo["sequence"]) == int(event["sequence"]) == 4
    assert todo.decoded("dtstamp") == todo.decoded("last-modified") == NOW


def test_lines_are_folded_to_75_octets_with_crlf():
    raw = build_ics([deadline()], now=NOW)
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 75
    assert len(Calendar.from_ical(raw).walk("VEVENT")) == 1


def test_an_empty_list_is_a_valid_calendar_without_components():
    cal = Calendar.from_ical(build_ics([], now=NOW))
    assert str(cal["prodid"]) == "-//Roadmap Office//EN" and not cal.walk("VTODO")

"""The production calendar: working Saturdays, regions and a roadmap's own days count everywhere
(scheduling, days late, reminders, escalations), and nothing is sent on a day off.

Russia worked on Saturday 20 February 2016 and took Monday 22 February off instead (23 February
is Defender of the Fatherland Day); Monday 9 March 2015 was the day off for International Women's
Day, which fell on a Sunday.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from models.calendar import BusinessCalendar, UnknownRegion, calendar_for
from models.loader import load_roadmap_text
from models.problems import RoadmapInvalid
from tasks.notify_jobs import plan_escalation_messages, plan_reminders
from tasks.outbox_admin import list_messages
from tasks.report_jobs import report_due, snapshots
from tasks.roadmap_jobs import change_task, import_file, roadmap_status

WORKING_SATURDAY = date(2016, 2, 20)

LEAP = """\
roadmap:
  key: leap
  title: Leap year
  session: {date: 2016-02-15}
  timezone: Europe/Moscow
  calendar: CALENDAR
  office: {name: PMO, email: pmo@example.org}
people:
  - {key: boss, name: Boss, email: boss@example.org}
  - {key: alice, name: Alice, email: alice@example.org, manager: boss}
stages:
  - {key: s1, title: S1, start: 2016-02-15, end: 2016-03-31}
tasks:
  - {key: span, title: Five days from Thursday, stage: s1, owner: alice, start: 2016-02-18, duration: 5}
  - {key: short, title: Three days from Thursday, stage: s1, owner: alice, start: 2016-02-18, duration: 3}
  - {key: fri, title: Due Friday, stage: s1, owner: alice, due: 2016-02-19}
  - {key: wed, title: Due Wednesday, stage: s1, owner: alice, due: 2016-02-24}
policy: {remind_before: [1], overdue_every: 1, escalate_after: [2, 10]}
"""


def leap(calendar: str = "RU") -> str:
    return LEAP.replace("CALENDAR", calendar)


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "leap.yaml"
    path.write_text(text)
    return path


# -- the calendar ---------------------------------------------------------------------


def test_a_working_saturday_is_a_business_day_and_its_monday_off_is_not():
    ru = calendar_for("RU")
    assert ru.is_business_day(WORKING_SATURDAY)
    assert not ru.is_business_day(date(2016, 2, 22)) and not ru.is_business_day(date(2016, 2, 21))
    assert ru.add(date(2016, 2, 19), 1) == WORKING_SATURDAY
    assert ru.between(date(2016, 2, 19), date(2016, 2, 24)) == 2  # Saturday and Wednesday
    assert ru.count(date(2016, 2, 15), date(2016, 2, 21)) == 6


def test_a_region_has_its_own_holidays():
    """Epiphany (6 January) is a public holiday in Bavaria, not in Germany as a whole."""
    assert not calendar_for("DE", "BY").is_business_day(date(2015, 1, 6))
    assert calendar_for("DE").is_business_day(date(2015, 1, 6))
    assert calendar_for("DE", "BY").span_end(date(2015, 1, 5), 2) == date(2015, 1, 7)
    with pytest.raises(UnknownRegion):
        BusinessCalendar("RU", "MOW")


def test_extra_days_off_and_working_days_override_the_country():
    cal = calendar_for("RU", None, frozenset({date(2016, 2, 19)}), frozenset({date(2016, 2, 21)}))
    assert not cal.is_business_day(date(2016, 2, 19))
    assert cal.is_business_day(date(2016, 2, 21))  # a Sunday
    assert cal.next_business_day(date(2016, 2, 18)) == WORKING_SATURDAY


# -- the roadmap file ---------------------------------------------------------------


def test_a_working_saturday_shifts_a_tasks_due_date():
    """Thursday 18, Friday 19, Saturday 20, Wednesday 24, Thursday 25 February."""
    plans = load_roadmap_text(leap(), "leap.yaml").schedule.plans
    assert plans["span"].due == date(2016, 2, 25)
    assert plans["short"].due == WORKING_SATURDAY


def test_the_calendar_key_takes_a_region_and_extra_days():
    loaded = load_roadmap_text(leap("{country: RU, extra_days_off: [2016-02-19], extra_working_days: [2016-02-21]}"))
    assert loaded.schedule.plans["short"].due == date(2016, 2, 21)  # 18, 20, 21: Friday off, Sunday worked
    bavaria = load_roadmap_text(leap("{country: DE, region: BY}").replace("2016-02-18", "2016-01-05")
                                .replace("2016-02-15", "2016-01-04").replace("Europe/Moscow", "Europe/Berlin"))
    assert bavaria.schedule.plans["short"].due == date(2016, 1, 8)  # 5, 7, 8: Epiphany off


def problems(calendar: str) -> list[str]:
    with pytest.raises(RoadmapInvalid) as info:
        load_roadmap_text(leap(calendar), "leap.yaml")
    return [p.format() for p in info.value.problems]


@pytest.mark.parametrize("calendar, expected", [
    ("Russia", "leap.yaml:6: roadmap.calendar: unknown calendar 'Russia' (did you mean 'RU'?)"),
    ("XX", "leap.yaml:6: roadmap.calendar: unknown calendar 'XX': use an ISO country code such as RU"),
    ("\n    country: Germany",
     "leap.yaml:7: roadmap.calendar.country: unknown calendar 'Germany' (did you mean 'DE'?)"),
    ("\n    country: DE\n    region: Bayren",
     "leap.yaml:8: roadmap.calendar.region: unknown region 'Bayren' of DE (did you mean 'Bayern'?)"),
    ("{country: RU, region: MOW}",
     "leap.yaml:6: roadmap.calendar.region: unknown region 'MOW' of RU: the holidays package knows no regions of RU"),
    ("\n    country: RU\n    extra_days_off:\n      - 2016-02-19\n      - 2016-02-30",
     "leap.yaml:10: roadmap.calendar.extra_days_off[1]: cannot read '2016-02-30' as a date: "
     "day is out of range for month"),
    ("\n    extra_working_days: [next friday]",
     "leap.yaml:7: roadmap.calendar.extra_working_days[0]: Input should be a valid date or datetime, "
     "invalid character in year, got 'next friday'"),
    ("\n    extra_days_off: [1990-01-01]",
     "leap.yaml:7: roadmap.calendar.extra_days_off[0]: 1990-01-01 is more than 20 years from the session "
     "(2016-02-15): use a date from 1996-02-15 to 2036-02-15"),
    ("\n    extra_days_off: [2016-03-01]\n    extra_working_days:\n      - 2016-02-21\n      - 2016-03-01",
     "leap.yaml:10: roadmap.calendar.extra_working_days[1]: 2016-03-01 is also an extra day off (line 7): "
     "a day is either off or working"),
    ("\n    extra_day_off: [2016-03-01]",
     "leap.yaml:7: roadmap.calendar.extra_day_off: unknown key 'extra_day_off' (did you mean 'extra_days_off'?)"),
])
def test_a_bad_calendar_is_reported_at_its_line(calendar, expected):
    assert problems(calendar) == [expected]


def test_validate_exits_2_on_a_bad_calendar(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(written(tmp_path, leap("{country: DE, region: Bayren}")))])
    assert result.exit_code == 2
    assert "leap.yaml:6: roadmap.calendar.region: unknown region 'Bayren' of DE" in result.output
    assert "Traceback" not in result.output


# -- stored and used: days late, reminders, escalations ---------------------------------


@pytest.fixture
def leap_url(db_url, tmp_path):
    import_file(db_url, written(tmp_path, leap()))
    return db_url


def test_a_working_saturday_counts_in_days_late(leap_url):
    tasks = {t["key"]: t for t in roadmap_status(leap_url, None, date(2016, 2, 24))["tasks"]}
    assert tasks["fri"]["days_late"] == 2  # Saturday 20 and Wednesday 24


def test_reminders_go_out_on_a_working_saturday_and_not_on_the_sunday(leap_url):
    plan = plan_reminders(leap_url, None, WORKING_SATURDAY)
    (digest,) = plan.todo
    assert {(line.key, line.reason) for line in digest.lines if line.reason != "kickoff"} == {
        ("fri", "overdue"), ("short", "due_today"), ("wed", "before")}
    assert plan_reminders(leap_url, None, date(2016, 2, 21)).todo == []


def test_escalation_days_count_the_working_saturday(leap_url):
    """Friday's task is 2 business days late on Wednesday 24: escalated to the manager."""
    plan = plan_escalation_messages(leap_url, None, date(2016, 2, 24))
    assert [(e.key, e.level, d.recipient.email) for d in plan.todo for e in d.items] == [("fri", 1, "boss@example.org")]


def test_extra_days_are_stored_with_the_roadmap(db_url, tmp_path):
    import_file(db_url, written(tmp_path, leap("{country: RU, extra_days_off: [2016-02-24], "
                                               "extra_working_days: [2016-02-21]}")))
    assert plan_reminders(db_url, None, date(2016, 2, 24)).todo == []  # an extra day off
    (sunday,) = plan_reminders(db_url, None, date(2016, 2, 21)).todo  # an extra working day
    # "span" (18-25 February, the 24th off) is due in one business day: Thursday the 25th.
    assert {(line.key, line.reason, line.due) for line in sunday.lines if line.reason != "kickoff"} == {
        ("fri", "overdue", date(2016, 2, 19)), ("short", "overdue", WORKING_SATURDAY),
        ("span", "before", date(2016, 2, 25))}


def test_a_new_calendar_reschedules_on_reimport(leap_url, tmp_path):
    report = import_file(leap_url, written(tmp_path, leap("{country: RU, extra_days_off: [2016-02-24]}")))
    assert [(m.key, m.old_due, m.new_due) for m in report.moved] == [
        ("span", date(2016, 2, 25), date(2016, 2, 26))]


# -- nothing is sent on a day off ---------------------------------------------------


def message_text(server, message_id: str) -> str:
    (message,) = [m for m in server.messages if m["Message-ID"] == message_id]
    return message.get_body(("plain",)).get_content()


def cli(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_nothing_is_sent_on_a_public_holiday_and_the_report_comes_the_next_day(db_url, small_yaml, smtp_env):
    """Monday 9 March 2015, a Russian public holiday and the report day: `remind`, `escalate`
    and `run` send nothing and say so. On Tuesday the run sends the reminders, the escalations
    and the report of Monday, covering its own week (2-8 March)."""
    import_file(db_url, small_yaml)
    change_task(db_url, None, "d", forecast=date(2015, 3, 20))  # moves f to 3 April: its notice waits too
    for command in ("remind", "escalate", "run"):
        out = cli(command, "--as-of", "2015-03-09", "--db", db_url)
        assert "2015-03-09: not a working day" in out and "wait for 2015-03-10" in out
    assert list_messages(db_url) == [] and smtp_env.messages == []
    assert snapshots(db_url, "small") == []

    out = cli("run", "--as-of", "2015-03-10", "--db", db_url)
    assert "not a working day" not in out
    assert [s.as_of for s in snapshots(db_url, "small")] == [date(2015, 3, 9)]
    rows = list_messages(db_url)
    assert sorted(r.dedup_key for r in rows if r.kind == "report") == [
        "small:report:boss@example.org:2015-W10", "small:report:director@example.org:2015-W10"]
    assert {r.kind for r in rows} == {"reminder", "escalation", "report"}
    alice = next(r for r in rows if r.kind == "reminder" and r.recipient == "alice@example.org")
    assert "3 апреля" in message_text(smtp_env, alice.message_id)
    assert len(smtp_env.messages) == len(rows)


def test_a_report_day_that_is_a_holiday_is_caught_up_the_next_business_day(db_url, small_yaml):
    import_file(db_url, small_yaml)
    assert report_due(db_url, "small", date(2015, 3, 9)) is None
    assert report_due(db_url, "small", date(2015, 3, 10)) == date(2015, 3, 9)
    assert report_due(db_url, "small", date(2015, 3, 16)) == date(2015, 3, 16)

"""Issue 13 point 3: kick-offs, check-ins of long tasks (and their escalation when left
unanswered), start-day notices. Through the real path: outbox, a real SMTP server, SQLite
and PostgreSQL."""

from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from icalendar import Calendar

from models.calendar import BusinessCalendar
from tasks.notify_jobs import plan_escalation_messages, plan_reminders
from tasks.roadmap_jobs import change_task, import_file
from tests.test_mail_delivery import escalate, remind

CAL = BusinessCalendar("RU")
LONG_START = date(2014, 11, 5)  # after the 3-4 Nov 2014 holidays
LONG = f"  - {{key: long, title: Long build, stage: s2, owner: alice, start: {LONG_START}, duration: 30}}\n"


def roadmap_file(small_yaml: Path, tmp_path: Path, *, replace: tuple[str, str] = ("", ""), extra_policy: str = "",
                 name: str = "r.yaml") -> Path:
    text = small_yaml.read_text(encoding="utf-8")
    text = text.replace("risks:\n", LONG + "risks:\n", 1)
    if replace[0]:
        assert replace[0] in text
        text = text.replace(*replace)
    text = text.replace("  report_day: monday\n", "  report_day: monday\n" + extra_policy)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def url(db_url, small_yaml, tmp_path):
    import_file(db_url, roadmap_file(small_yaml, tmp_path))
    return db_url


def ics_uids(m: EmailMessage) -> set[str]:
    uids: set[str] = set()
    for part in m.iter_attachments():
        if part.get_content_type() == "text/calendar" and "CANCEL" not in part.get_content():
            uids |= {str(c["UID"]) for c in Calendar.from_ical(part.get_content()).walk("VTODO")}
    return uids


OPEN_TASKS = {"alice": {"a", "b", "f", "long"}, "bob": {"c", "d"}}  # e is done


def test_the_first_run_after_import_sends_each_owner_one_kickoff_with_all_their_open_tasks(url, smtp_env):
    day = date(2014, 10, 28)
    remind(url, day)
    got = {m["To"].addresses[0].addr_spec: m for m in smtp_env.messages}
    assert len(got) == len(smtp_env.messages) == 2  # one mail per owner
    for person, keys in OPEN_TASKS.items():
        m = got[f"{person}@example.org"]
        assert str(m["Subject"]).startswith(f"Ваши задачи: {len(keys)} · ")
        assert ics_uids(m) == {f"{k}.small@roadmap-office" for k in keys}  # one .ics holding all of them
        assert "\nВаши задачи\n" in m.get_body(("plain",)).get_content().replace("\r\n", "\n")
    # A re-run that day sends nothing; the next day has no kick-off left to send.
    plan, rec, sent = remind(url, day)
    assert (rec.recorded, sent.sent, len(smtp_env.messages)) == (0, 0, 2)
    later = plan_reminders(url, None, CAL.add(day, 1))
    assert not [ln for d in later.todo for ln in d.lines if ln.reason == "kickoff"]


def test_a_rerun_after_a_days_notice_sends_no_second_mail(db_url, small_yaml, tmp_path, smtp_env):
    """A notice (a moved date) records the task's entry again; a re-run that day must still
    see the task held, not kick it off in a second mail (review of issue 13)."""
    import_file(db_url, roadmap_file(small_yaml, tmp_path))
    remind(db_url, date(2014, 10, 28))  # the kick-offs
    moved = ("owner: bob, partners: [vdnh], due: 2014-11-07}", "owner: bob, partners: [vdnh], due: 2014-11-20}")
    import_file(db_url, roadmap_file(small_yaml, tmp_path, replace=moved, name="r2.yaml"))
    first, rec, _ = remind(db_url, date(2014, 10, 29))
    assert [(d.kind, d.recipient.email) for d in first.todo] == [("notice", "bob@example.org")] and rec.recorded == 1
    sent = len(smtp_env.messages)
    again, rec, _ = remind(db_url, date(2014, 10, 29))
    assert (again.todo, rec.recorded, len(smtp_env.messages)) == ([], 0, sent)


def test_a_reassigned_task_is_kicked_off_to_its_new_owner_at_the_next_run(db_url, small_yaml, tmp_path, smtp_env):
    import_file(db_url, roadmap_file(small_yaml, tmp_path))
    remind(db_url, date(2014, 10, 28))
    moved = ("{key: c, title: Agreement, stage: s1, owner: bob,", "{key: c, title: Agreement, stage: s1, owner: alice,")
    import_file(db_url, roadmap_file(small_yaml, tmp_path, replace=moved, name="r2.yaml"))
    plan = plan_reminders(db_url, None, date(2014, 10, 30))  # c is not due soon: a kick-off line
    kickoffs = {(d.recipient.email, ln.key) for d in plan.todo for ln in d.lines if ln.reason == "kickoff"}
    assert kickoffs == {("alice@example.org", "c")}
    bob = next(d for d in plan.todo if d.recipient.email == "bob@example.org")
    assert [w.task_key for w in bob.withdrawn] == ["c"]  # and it leaves bob's calendar


def checkin_days(url: str, start: date, end: date) -> list[date]:
    out, day = [], start
    while day <= end:
        plan = plan_reminders(url, None, day)
        if any(ln.reason == "checkin" and ln.key == "long" for d in plan.todo for ln in d.lines):
            out.append(day)
        day += timedelta(days=1)
    return out


def test_a_30_business_day_task_gets_check_ins_on_days_10_and_20_from_its_start(url):
    due = CAL.add(LONG_START, 29)
    assert checkin_days(url, LONG_START, due) == [CAL.add(LONG_START, 10), CAL.add(LONG_START, 20)]


def checkin_items(url: str, day: date) -> list[tuple[str, str]]:
    plan = plan_escalation_messages(url, None, day)
    return [(d.recipient.email, e.key) for d in plan.todo for e in d.items if e.trigger == "checkin"]


def test_an_unanswered_check_in_goes_to_the_manager_after_the_grace_once(url, smtp_env):
    checkin = CAL.add(LONG_START, 10)
    remind(url, checkin)
    assert checkin_items(url, CAL.add(checkin, 2)) == []  # within the grace (3 business days)
    after = CAL.add(checkin, 3)
    plan, _, _ = escalate(url, after)
    assert checkin_items(url, after) == []  # recorded: never twice
    boss = [m for m in smtp_env.messages if m["To"].addresses[0].addr_spec == "boss@example.org"][-1]
    text = boss.get_body(("plain",)).get_content()
    assert "Запросы о ходе работ без ответа" in text and "* Long build" in text
    assert "1 запрос о ходе работ без ответа" in str(boss["Subject"])
    assert [(e.recipient.email, e.key) for d in plan.todo for e in d.items if e.trigger == "checkin"] == \
        [("boss@example.org", "long")]


def test_an_answered_check_in_is_not_escalated(url, smtp_env):
    checkin = CAL.add(LONG_START, 10)
    remind(url, checkin)
    change_task(url, None, "long", progress=40)
    assert checkin_items(url, CAL.add(checkin, 3)) == []


def test_an_answer_just_after_midnight_in_moscow_answers_that_days_check_in(url, smtp_env):
    """The answer's time is stored in UTC: 00:30 in Moscow on the check-in day is 21:30 UTC the
    day before, and still answers it (days are the roadmap's, as check-in days are)."""
    from datetime import UTC, datetime, time

    from sqlalchemy import update

    from models.db import session_scope
    from models.schema import Change

    checkin = CAL.add(LONG_START, 10)
    remind(url, checkin)
    change_task(url, None, "long", progress=40)
    at = datetime.combine(checkin, time(0, 30)) - timedelta(hours=3)  # Europe/Moscow is UTC+3
    with session_scope(url) as session:
        session.execute(update(Change).where(Change.entity_key == "long").values(at=at.replace(tzinfo=UTC)))
    assert checkin_items(url, CAL.add(checkin, 3)) == []


def test_a_check_in_that_was_never_sent_is_not_escalated(url):
    assert checkin_items(url, CAL.add(LONG_START, 13)) == []  # no run on the check-in day


def test_a_check_in_left_unanswered_through_three_weeks_without_runs_is_escalated_at_the_next_run(url, smtp_env):
    checkin = CAL.add(LONG_START, 10)
    remind(url, checkin)  # then no run at all for 15 business days (past the next check-in day)
    later = CAL.add(checkin, 15)
    assert checkin_items(url, later) == [("boss@example.org", "long")]
    plan, _, _ = escalate(url, later)
    assert [e.detail["checkin"] for d in plan.todo for e in d.items if e.trigger == "checkin"] == [checkin]
    assert checkin_items(url, CAL.add(later, 1)) == []  # once


def test_a_digest_that_did_not_carry_the_tasks_check_in_does_not_make_it_unanswered(
        db_url, small_yaml, tmp_path, smtp_env):
    import_file(db_url, roadmap_file(small_yaml, tmp_path))
    day = CAL.add(LONG_START, 12)  # not a check-in day of `long`: alice's digest kicks it off
    remind(db_url, day)
    # The task starts two business days later now: that day has become one of its check-in
    # days, and alice got a digest then, but it never asked her about this task.
    later_start = ("start: " + LONG_START.isoformat(), "start: " + CAL.add(LONG_START, 2).isoformat())
    import_file(db_url, roadmap_file(small_yaml, tmp_path, replace=later_start, name="r2.yaml"))
    assert checkin_items(db_url, CAL.add(day, 3)) == []


def test_a_note_alone_does_not_answer_a_check_in_but_a_new_forecast_does(url, smtp_env):
    checkin = CAL.add(LONG_START, 10)
    remind(url, checkin)
    change_task(url, None, "long", note="busy")
    assert checkin_items(url, CAL.add(checkin, 3)) == [("boss@example.org", "long")]
    change_task(url, None, "long", forecast=CAL.add(LONG_START, 32))
    assert checkin_items(url, CAL.add(checkin, 3)) == []


def test_remind_on_start_adds_a_line_on_the_start_day_only_when_asked(db_url, small_yaml, tmp_path):
    import_file(db_url, roadmap_file(small_yaml, tmp_path))
    starts = [ln.key for d in plan_reminders(db_url, None, LONG_START).todo for ln in d.lines if ln.reason == "start"]
    assert starts == []
    import_file(db_url, roadmap_file(small_yaml, tmp_path, extra_policy="  remind_on_start: true\n", name="s.yaml"))
    starts = [ln.key for d in plan_reminders(db_url, None, LONG_START).todo for ln in d.lines if ln.reason == "start"]
    assert "long" in starts
    nothing = [ln for d in plan_reminders(db_url, None, CAL.add(LONG_START, 1)).todo for ln in d.lines
               if ln.key == "long" and ln.reason == "start"]
    assert nothing == []


def test_an_upgraded_database_sends_no_kickoffs_to_owners_who_already_got_reminders(url, smtp_env):
    from alembic import command
    from sqlalchemy import text

    from models.db import alembic_config, forget_schema_check, get_engine, migration_connection, upgrade

    engine = get_engine(url)
    cfg = alembic_config(url)
    with migration_connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    with engine.begin() as conn:  # what the code before kick-offs recorded: a reminder to alice, no entries
        roadmap_id = conn.execute(text("SELECT id FROM roadmaps")).scalar_one()
        day = date(2014, 10, 20)
        conn.execute(text(
            "INSERT INTO outbox (roadmap_id, kind, dedup_key, recipient, as_of, subject, message_id, status, "
            "permanent, attempts, created_at) VALUES (:r, 'reminder', 'small:x', 'Alice@example.org', :d, 's', "
            "'<1@example.org>', 'sent', false, 1, :d)"), dict(r=roadmap_id, d=day))
    forget_schema_check(url)
    upgrade(url)
    plan = plan_reminders(url, None, date(2014, 10, 30))
    kickoffs = {(d.recipient.email, ln.key) for d in plan.todo for ln in d.lines if ln.reason == "kickoff"}
    assert kickoffs == {("bob@example.org", "c"), ("bob@example.org", "d")}  # alice had reminders; bob had none

"""Reminders and escalations through the real code path: outbox, yagmail, a real SMTP server;
and the sender as an operator configures it."""

import os
import subprocess
import sys
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

import tasks.notify_jobs as jobs
from cli.main import app
from models.problems import RoadmapInvalid
from tasks.mail import SmtpTransport
from tasks.notify_jobs import deliver_pending, plan_escalation_messages, plan_reminders, record_plan
from tasks.outbox_admin import list_messages
from tasks.roadmap_jobs import change_task, import_file, validate_file

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def url(db_url, small_yaml):
    import_file(db_url, small_yaml)
    return db_url


def without_waiting(monkeypatch, server):
    """Deliver to ``server`` with the real SMTP transport, minus its backoff sleeps (returned
    as a list of the delays it asked for) and its timeouts' length."""
    sleeps: list[float] = []
    monkeypatch.setattr(jobs, "transport_from_settings", lambda settings: SmtpTransport(
        "127.0.0.1", server.port, "none", timeout=2, sleep=sleeps.append))
    return sleeps


def remind(url, day):
    plan = plan_reminders(url, None, day)
    rec = record_plan(url, plan)
    return plan, rec, deliver_pending(url)


def escalate(url, day):
    plan = plan_escalation_messages(url, None, day)
    rec = record_plan(url, plan)
    return plan, rec, deliver_pending(url)


def test_digest_arrives_once_per_owner_per_day(url, smtp_env):
    plan, rec, stats = remind(url, date(2014, 11, 10))
    assert (rec.recorded, stats.sent, stats.failures) == (2, 2, 0)
    got = {m["To"].addresses[0].addr_spec: m for m in smtp_env.messages}
    assert set(got) == {"alice@example.org", "bob@example.org"}
    alice = got["alice@example.org"]
    # The first run after the import is alice's kick-off: a and b are due soon, f is new to her.
    assert "Ваши задачи: 3" in alice["Subject"]
    text = alice.get_body(("plain",)).get_content()
    html = alice.get_body(("html",)).get_content()
    assert "Survey" in text and "Design" in text and "<" not in text.replace("<http", "")
    assert "10 ноября 2014 г." in text
    ics = next(p for p in alice.iter_attachments() if p.get_content_type() == "text/calendar")
    cal = Calendar.from_ical(ics.get_payload(decode=True))
    uids = {str(c["UID"]) for c in cal.walk("VTODO")}
    assert uids == {"a.small@roadmap-office", "b.small@roadmap-office", "f.small@roadmap-office"}
    assert "<html" in html.lower() or "<table" in html.lower()
    # The same day again: nothing new is recorded or sent.
    plan2, rec2, stats2 = remind(url, date(2014, 11, 10))
    assert (len(plan2.intents), rec2.recorded, stats2.sent) == (0, 0, 0)  # not even rendered again
    again = record_plan(url, plan)  # recording the same intents again is a no-op in the database
    assert (again.recorded, again.duplicates) == (0, 2)
    assert len(smtp_env.messages) == 2
    # Message-IDs on the wire are the ones recorded in the outbox.
    assert {m["Message-ID"] for m in smtp_env.messages} == {r.message_id for r in list_messages(url)}


def test_escalation_levels_fire_once(url, smtp_env):
    _, rec, stats = escalate(url, date(2014, 11, 10))
    who = sorted((m["To"].addresses[0].addr_spec, m["Subject"]) for m in smtp_env.messages)
    assert [w for w, _ in who] == ["bob@example.org", "boss@example.org", "carol@example.org", "pmo@example.org"]
    assert stats.sent == 4
    _, rec2, stats2 = escalate(url, date(2014, 11, 10))
    assert rec2.recorded == 0 and stats2.sent == 0
    plan3, rec3, _ = escalate(url, date(2014, 11, 11))  # a still at level 1: no repeat; r1 review date passed
    # One digest per recipient; the items it carries keep their own dedup keys.
    assert {d.recipient.email for d in plan3.todo for e in d.items if e.trigger == "review"} \
        == {"bob@example.org", "carol@example.org", "pmo@example.org"}
    assert all(e.trigger == "review" for d in plan3.todo for e in d.items)
    assert rec3.recorded == len(plan3.intents) == 3


def test_rescheduling_notice_in_next_digest(url, smtp_env):
    change_task(url, None, "a", status="done", on=date(2014, 11, 12))  # a finished late: b, d, f move
    plan, _, _ = remind(url, date(2014, 11, 13))
    alice = next(i for i in plan.intents if i.recipient == "alice@example.org")
    assert "moved" not in alice.message.text  # the text is in Russian
    assert "10 ноября 2014 г." in alice.message.text and "17 ноября 2014 г." in alice.message.text  # b: old -> new
    # Once told, a move is not repeated the next day.
    plan2 = plan_reminders(url, None, date(2014, 11, 14))
    assert all(not i.change_ids for i in plan2.intents)


def test_server_down_then_back(url, monkeypatch, smtp_env):
    port = smtp_env.port
    smtp_env.stop()
    without_waiting(monkeypatch, smtp_env)
    record_plan(url, plan_reminders(url, None, date(2014, 11, 10)))
    stats = deliver_pending(url)
    assert (stats.sent, stats.deferred) == (0, 1) and stats.worth_retrying
    # The relay being away is no fault of the messages: no attempt is used up.
    assert sorted((m.status, m.permanent, m.attempts) for m in list_messages(url)) == [
        ("failed", False, 0), ("pending", False, 0)]
    smtp_env.start()
    assert smtp_env.port == port
    stats = deliver_pending(url)
    assert stats.sent == 2
    assert {m.attempts for m in list_messages(url)} == {1}


def test_folder_transport_without_smtp_host(url, tmp_path):
    _, _, stats = remind(url, date(2014, 11, 10))
    assert stats.sent == 2
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert "задач" in msg["Subject"]


def test_dry_run_records_nothing(url, smtp_env):
    plan = plan_reminders(url, None, date(2014, 11, 10))
    assert len(plan.intents) == 2
    assert list_messages(url) == [] and smtp_env.messages == []


def test_server_down_stops_the_connection_after_its_reconnects(url, monkeypatch, smtp_env):
    smtp_env.stop()
    sleeps = without_waiting(monkeypatch, smtp_env)
    record_plan(url, plan_reminders(url, None, date(2014, 11, 10)))
    stats = deliver_pending(url)
    assert (stats.sent, stats.failed, stats.permanent, stats.deferred) == (0, 0, 0, 1)
    assert len(sleeps) == 3  # the first message's reconnects; the second is not tried at all
    assert sorted((m.status, m.attempts) for m in list_messages(url)) == [("failed", 0), ("pending", 0)]


def test_a_failed_remind_exits_1_and_a_rerun_sends_only_what_failed(url, monkeypatch, smtp_env):
    without_waiting(monkeypatch, smtp_env)
    smtp_env.tempfail.update({"alice@example.org", "bob@example.org"})  # 451: try again later
    for run in (1, 2):
        result = CliRunner().invoke(app, ["remind", "--as-of", "2014-11-10", "--db", url])
        # A same-day rerun still reports the messages that failed, not "nothing to do".
        assert result.exit_code == 1 and "delivered 0, failed 2" in result.output, result.output
        assert result.output.count("reminders: planned") == 1  # the summary once, not again with the errors
        assert result.output.count("failed: alice@example.org") == 1
        # One attempt per message per command: the command does not retry by itself.
        assert {(m.status, m.attempts) for m in list_messages(url)} == {("failed", run)}
    smtp_env.tempfail.clear()
    result = CliRunner().invoke(app, ["remind", "--as-of", "2014-11-10", "--db", url])
    assert result.exit_code == 0 and "recorded 0, skipped as duplicate 2; delivered 2, failed 0" in result.output
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_env.messages) == ["alice@example.org", "bob@example.org"]
    assert {m["Message-ID"] for m in smtp_env.messages} == {r.message_id for r in list_messages(url)}
    result = CliRunner().invoke(app, ["remind", "--as-of", "2014-11-10", "--db", url])
    assert result.exit_code == 0 and "delivered 0, failed 0" in result.output
    assert len(smtp_env.messages) == 2


def test_several_moves_of_one_task_make_one_notice_line(url, smtp_env):
    change_task(url, None, "a", status="done", on=date(2014, 11, 12))  # b: 10 -> 17 Nov
    change_task(url, None, "a", status="in_progress")  # b: back to 10 Nov
    change_task(url, None, "a", status="done", on=date(2014, 11, 14))  # b: 10 -> 19 Nov
    plan = plan_reminders(url, None, date(2014, 11, 13))
    alice = next(i for i in plan.intents if i.recipient == "alice@example.org")
    text = alice.message.text
    assert text.count("10 ноября 2014 г.") == 1 and "19 ноября 2014 г." in text and "17 ноября 2014 г." not in text
    assert len(alice.change_ids) == 6  # three recorded moves each of b and f, told with one line per task


# --- the sender, as an operator configures it --------------------------------------------

def roadmap_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`roadmap ...` in its own process, local mode, with these ROADMAP_ variables only."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "PREFECT_API"))}
    clean.update(PYTHONPATH=str(ROOT), ROADMAP_PREFECT="0", **env)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=clean,
                          capture_output=True, text=True, timeout=120)


def test_a_sender_with_a_display_name_is_shown_in_from(tmp_path, small_yaml):
    env = {"ROADMAP_DATABASE_URL": f"sqlite:///{tmp_path}/roadmap.db",
           "ROADMAP_OUTBOX_DIR": str(tmp_path / "outbox"),
           "ROADMAP_MAIL_FROM": "Проектный офис <pmo@example.org>"}
    assert roadmap_cli("import", str(small_yaml), cwd=tmp_path, **env).returncode == 0
    out = roadmap_cli("remind", "--as-of", "2014-11-10", cwd=tmp_path, **env)
    assert out.returncode == 0, out.stderr
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    for f in files:
        msg = message_from_bytes(f.read_bytes(), policy=policy.default)
        (sender,) = msg["From"].addresses
        assert (sender.display_name, sender.addr_spec) == ("Проектный офис", "pmo@example.org")
        assert msg["Message-ID"].endswith("@example.org>")


@pytest.mark.parametrize("sender", ["Проектный офис <pmo@>", "pmo at example.org", "a@b.org, c@d.org"])
def test_a_malformed_sender_is_a_one_line_error_with_exit_2(tmp_path, small_yaml, sender):
    env = {"ROADMAP_DATABASE_URL": f"sqlite:///{tmp_path}/roadmap.db", "ROADMAP_MAIL_FROM": sender}
    out = roadmap_cli("remind", "--as-of", "2014-11-10", cwd=tmp_path, **env)
    assert out.returncode == 2, (out.stdout, out.stderr)
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: ROADMAP_MAIL_FROM: ") and repr(sender) in line


def test_the_roadmap_file_and_the_mail_accept_the_same_addresses(tmp_path, small_yaml):
    """One rule (models/addresses.py): an address the file accepts can be sent to."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(small_yaml.read_text().replace("alice@example.org", "алиса@example.org"))
    with pytest.raises(RoadmapInvalid) as caught:
        validate_file(str(bad))
    assert "people[alice].email: invalid e-mail address 'алиса@example.org'" in str(caught.value.problems[0].format())

"""Failed messages are never left silent, and an outbox that cannot be written stops the batch.

- A message that failed (refused, or out of attempts) is reported by every later run, on
  stderr and in the log, and listed in the weekly report's mail section, until someone
  retries or dismisses it (`roadmap outbox dismiss`, which keeps the message and records who
  and when). The run itself still exits 0: it did its own work.
- When the outcome of a send cannot be written (a trigger on the real database refuses the
  UPDATE, as a full disk would), the batch stops at once: no connection claims another
  message, the message whose mark failed is not sent again in the same run, and the SMTP
  server on loopback receives every message at most once.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from models.db import get_engine
from tasks.mail import SmtpTransport
from tasks.notify_jobs import plan_reminders, record_plan
from tasks.outbox import OutboxUnwritable, deliver
from tasks.outbox_admin import dismiss, list_messages, waiting_count
from tasks.roadmap_jobs import import_file
from tests.bulk_roadmap import DAY, write_roadmap
from tests.smtp_fixtures import SmtpRecorder

WARNING = "failed and {} waiting: `roadmap outbox --status failed`"
SENDER = "roadmap@example.org"


def cli(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def url(db_url: str, small_yaml: Path) -> str:
    import_file(db_url, small_yaml)
    return db_url


def warned(result, count: int) -> bool:  # type: ignore[no-untyped-def]
    said = f"{count} message{'s' if count != 1 else ''} " + WARNING.format("are" if count != 1 else "is")
    return said in result.stderr


# -- failed messages waiting --


def test_a_message_failed_for_good_is_reported_by_every_later_run_until_dismissed(url, smtp_env):
    smtp_env.refuse.add("alice@example.org")
    first = cli("remind", "--as-of", "2014-11-10", "--db", url)
    assert first.exit_code == 1 and warned(first, 1), first.output
    smtp_env.refuse.clear()

    # The next days: the runs themselves succeed (exit 0) and still say what is waiting.
    for args in (["remind", "--as-of", "2014-11-11"], ["escalate", "--as-of", "2014-11-11"],
                 ["report", "--send", "--as-of", "2014-11-11"], ["run", "--as-of", "2014-11-12"]):
        result = cli(*args, "--db", url)
        assert result.exit_code == 0 and warned(result, 1), (args, result.output)
    assert waiting_count(url) == 1

    (failed,) = list_messages(url, status="failed")
    result = cli("outbox", "dismiss", str(failed.id), "--by", "pmo", "--db", url)
    assert result.exit_code == 0 and f"1 failed message(s) dismissed: {failed.id}" in result.stdout, result.output
    (gone,) = list_messages(url, status="dismissed")
    # Kept as it was, with who and when; never sent, no longer counted.
    assert (gone.id, gone.subject, gone.last_error, gone.message_id) == (
        failed.id, failed.subject, failed.last_error, failed.message_id)
    assert gone.dismissed_by == "pmo" and gone.dismissed_at is not None
    result = cli("run", "--as-of", "2014-11-13", "--db", url)
    assert result.exit_code == 0 and "waiting" not in result.stderr, result.output
    # A rerun of the day it failed counts it as dismissed, not as a failure.
    result = cli("remind", "--as-of", "2014-11-10", "--db", url)
    assert result.exit_code == 0 and "dismissed 1" in result.stdout, result.output
    assert "alice@example.org" not in {r.rcpt_tos[0] for r in smtp_env.received if "10 ноября" in str(
        r.message["Subject"])}


def test_a_failed_message_with_attempts_left_is_reported_and_a_dismissed_one_is_never_retried(url, smtp_env):
    smtp_env.tempfail.add("alice@example.org")  # 451: failed for now, with attempts left
    cli("remind", "--as-of", "2014-11-10", "--db", url)
    (failed,) = list_messages(url, status="failed")
    assert not failed.permanent
    assert dismiss(url, [failed.id], by="pmo") == [failed.id]
    smtp_env.tempfail.clear()
    smtp_env.clear()
    for args in (["remind", "--as-of", "2014-11-11"], ["outbox", "retry"]):
        result = cli(*args, "--db", url)
        assert result.exit_code == 0 and "waiting" not in result.stderr, (args, result.output)
    assert failed.message_id not in {str(r.message["Message-ID"]) for r in smtp_env.received}
    assert [m.status for m in list_messages(url) if m.id == failed.id] == ["dismissed"]


def test_dismiss_refuses_what_is_not_a_failed_message_and_changes_nothing(url, smtp_env):
    smtp_env.refuse.add("alice@example.org")
    cli("remind", "--as-of", "2014-11-10", "--db", url)
    statuses = {m.id: m.status for m in list_messages(url)}
    sent = next(i for i, s in statuses.items() if s == "sent")
    failed = next(i for i, s in statuses.items() if s == "failed")
    for args, said in (([str(failed), str(sent)], f"message {sent} is sent, not failed"),
                       ([str(failed), "999"], "there is no outbox message 999"),
                       # beyond the column (SQLite's 64 bits, PostgreSQL's 32): no such message, no overflow
                       ([str(failed), "99999999999999999999999"], "there is no outbox message 99999999999999999999999"),
                       (["2147483648"], "there is no outbox message 2147483648"),
                       (["0"], "there is no outbox message 0"),
                       ([], "give the ids of failed messages, or --all-failed"),
                       ([str(failed), "--all-failed"], "give the ids of failed messages, or --all-failed")):
        result = cli("outbox", "dismiss", *args, "--db", url)
        assert result.exit_code == 2 and said in result.stderr and "Traceback" not in result.output, result.output
    assert {m.id: m.status for m in list_messages(url)} == statuses
    result = cli("outbox", "dismiss", "--all-failed", "--db", url)
    assert result.exit_code == 0 and waiting_count(url) == 0, result.output
    result = cli("outbox", "--status", "dismissed", "--db", url)
    assert result.exit_code == 0 and "1 message(s)" in result.stdout


def test_the_weekly_report_lists_the_failed_messages_waiting(url, smtp_env, tmp_path):
    smtp_env.refuse.add("alice@example.org")
    cli("remind", "--as-of", "2014-11-10", "--db", url)
    smtp_env.refuse.clear()
    out = tmp_path / "week.docx"
    assert cli("report", "--as-of", "2014-11-12", "--out", str(out), "--db", url).exit_code == 0
    body = "\n".join(p.text for p in Document(str(out)).paragraphs)
    cells = {c.text for t in Document(str(out)).tables for r in t.rows for c in r.cells}
    assert "Недоставленные письма, ожидающие решения" in body and "Не доставлено писем: 1." in body
    assert any("alice@example.org" in c for c in cells) and any("550" in c for c in cells)
    (failed,) = list_messages(url, status="failed")
    dismiss(url, [failed.id], by="pmo")
    assert cli("report", "--as-of", "2014-11-12", "--out", str(out), "--db", url).exit_code == 0
    assert "Недоставленные письма" not in "\n".join(p.text for p in Document(str(out)).paragraphs)


@pytest.mark.slow
def test_a_prefect_run_logs_the_failed_messages_waiting(url, smtp_env, caplog):
    from prefect.testing.utilities import prefect_test_harness

    from flows.send_reminders import send_reminders

    smtp_env.refuse.add("alice@example.org")
    cli("remind", "--as-of", "2014-11-10", "--db", url)
    smtp_env.refuse.clear()
    flow_runs = logging.getLogger("prefect.flow_runs")  # Prefect's run loggers do not propagate
    flow_runs.addHandler(caplog.handler)
    try:
        with prefect_test_harness(server_startup_timeout=60):
            summary = send_reminders(as_of=date(2014, 11, 11), db_url=url)
    finally:
        flow_runs.removeHandler(caplog.handler)
    assert summary.failed == 0 and summary.waiting == 1
    assert any("1 message failed and is waiting" in r.getMessage() for r in caplog.records), caplog.text


# -- an outbox that cannot be written --


def refuse_marks(url: str, *, after_sent: int | None = None, message: int | None = None) -> None:
    """A trigger on the real database that refuses to record a message as sent, as a full
    disk would: once ``after_sent`` messages are sent, or for outbox row ``message``."""
    when = f"(SELECT count(*) FROM outbox WHERE status = 'sent') >= {after_sent}" if after_sent is not None \
        else f"OLD.id = {message}"
    with get_engine(url).begin() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql(
                "CREATE TRIGGER outbox_full BEFORE UPDATE OF status ON outbox "
                f"WHEN NEW.status = 'sent' AND {when} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        else:
            conn.execute(text(
                "CREATE OR REPLACE FUNCTION outbox_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.status = 'sent' AND OLD.status = 'sending' AND {when} THEN "
                "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; "
                "END IF; RETURN NEW; END $$"))
            conn.execute(text("CREATE TRIGGER outbox_full BEFORE UPDATE ON outbox FOR EACH ROW "
                              "EXECUTE FUNCTION outbox_full()"))


@pytest.fixture
def bulk(db_url: str, tmp_path: Path) -> str:
    """20 owners' digests for DAY, recorded and pending."""
    import_file(db_url, write_roadmap(tmp_path / "bulk.yaml", 20))
    assert record_plan(db_url, plan_reminders(db_url, None, DAY)).recorded == 20
    return db_url


def send(url: str, server: SmtpRecorder, *, connections: int = 1, lease: float = 120):  # type: ignore[no-untyped-def]
    return deliver(url, lambda: SmtpTransport("127.0.0.1", server.port, "none", retries=0), sender=SENDER,
                   max_attempts=5, lease=timedelta(seconds=lease), connections=connections)


def arrivals(server: SmtpRecorder) -> Counter[str]:
    return Counter(str(r.message["Message-ID"]) for r in server.received)


def test_a_mark_that_cannot_be_written_stops_the_batch_at_once(bulk, smtp_server):
    refuse_marks(bulk, after_sent=3)
    with pytest.raises(OutboxUnwritable) as info:
        send(bulk, smtp_server)
    assert "the outbox cannot be written" in str(info.value) and info.value.stats.sent == 3
    # The 4th went out and could not be recorded: it stays claimed, and nothing after it was tried.
    rows = list_messages(bulk)
    assert Counter(r.status for r in rows) == {"sent": 3, "sending": 1, "pending": 16}
    (unmarked,) = [r for r in rows if r.status == "sending"]
    assert info.value.message_id == unmarked.id
    assert arrivals(smtp_server) == Counter({r.message_id: 1 for r in rows if r.status in ("sent", "sending")})


def test_no_message_is_sent_twice_in_a_run_whose_outbox_cannot_record_one(bulk):
    # Two connections, a short lease and a slow server: before, the other connection went on
    # after the first could not record its message, took it again once the lease ran out,
    # and sent it a second time in the same run.
    first = min(r.id for r in list_messages(bulk))
    refuse_marks(bulk, message=first)
    with SmtpRecorder(data_delay=0.1) as server, pytest.raises(OutboxUnwritable) as info:
        send(bulk, server, connections=2, lease=0.6)
    got = arrivals(server)
    assert max(got.values()) == 1, got
    assert info.value.message_id == first and not info.value.recorded
    # The other connection stopped after the message it had in flight, which it recorded.
    rows = list_messages(bulk)
    statuses = Counter(r.status for r in rows)
    assert statuses["sending"] == 1 and statuses["sent"] <= 2 and len(got) <= 3, statuses
    assert {r.message_id for r in rows if r.status != "pending"} == set(got)


def test_the_command_stops_with_exit_1_and_says_why(bulk, smtp_env):
    refuse_marks(bulk, after_sent=2)
    result = cli("remind", "--as-of", DAY.isoformat(), "--db", bulk)
    assert result.exit_code == 1, result.output
    assert "the outbox cannot be written" in result.stderr and "Traceback" not in result.output, result.output
    assert len(smtp_env.received) == 3 and max(arrivals(smtp_env).values()) == 1

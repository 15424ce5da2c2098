"""Recording and sending at once (tasks/send_pipeline.py), with the delivery worker in a
forked process (and, where forking is unsafe, none: delivery after the recording), on both databases, against a real SMTP server.

Also the outbox's stored wire bytes (outbox_content.raw): what arrives is byte for byte what
was recorded, Reply-To included; messages recorded before bytes were kept are built from
their parts; a bad address is a permanent failure from the moment it is recorded.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, update

from config import reset_settings_cache
from models.db import session_scope
from models.schema import OutboxContent, OutboxMessage
from tasks import send_pipeline
from tasks.notify_jobs import deliver_pending, plan_reminders, record_plan
from tasks.outbox import list_messages
from tasks.render_mail import MailTemplateError
from tasks.roadmap_jobs import import_file
from tests.bulk_roadmap import DAY, DAY_BEFORE, write_roadmap

OWNERS = 2 * send_pipeline.CHUNK + 7  # three chunks, the last one short


@pytest.fixture
def url(db_url: str, tmp_path: Path) -> str:
    import_file(db_url, write_roadmap(tmp_path / "bulk.yaml", OWNERS))
    return db_url


def raw_by_message_id(url: str) -> dict[str, bytes]:
    with session_scope(url) as session:
        rows = session.execute(select(OutboxMessage.message_id, OutboxContent.raw)
                               .join(OutboxContent, OutboxContent.outbox_id == OutboxMessage.id))
        return {message_id: raw for message_id, raw in rows}


def test_every_message_is_recorded_then_sent_once_byte_for_byte(url, smtp_env):
    plan = plan_reminders(url, None, DAY)
    outcome = send_pipeline.record_and_send(url, plan, mode="process")
    assert (outcome.recorded, outcome.duplicates, outcome.delivery.sent) == (OWNERS, 0, OWNERS)
    assert len(outcome.messages) == OWNERS
    rows = list_messages(url)
    assert Counter(r.status for r in rows) == {"sent": OWNERS}
    assert {r.attempts for r in rows} == {1}
    received = smtp_env.received
    assert Counter(str(m.message["Message-ID"]) for m in received) == Counter({r.message_id: 1 for r in rows})
    # What arrived is exactly what was recorded (Reply-To included), not a rebuilt copy.
    recorded = raw_by_message_id(url)
    for message in received:
        data = message.data.replace(b"\r\n", b"\n")
        assert data == recorded[str(message.message["Message-ID"])].replace(b"\r\n", b"\n")
        assert message.message["Reply-To"] == "pmo@example.org"
    # The same day again: nothing new to record, nothing sent.
    again = send_pipeline.record_and_send(url, plan_reminders(url, None, DAY), mode="process")
    assert (again.recorded, again.delivery.sent) == (0, 0) and len(smtp_env.received) == OWNERS


def test_two_connections_share_the_day_each_message_once(url, smtp_env, monkeypatch):
    monkeypatch.setenv("ROADMAP_SMTP_CONNECTIONS", "2")
    outcome = send_pipeline.record_and_send(url, plan_reminders(url, None, DAY), mode="process")
    assert outcome.delivery.sent == OWNERS
    ids = Counter(str(m.message["Message-ID"]) for m in smtp_env.received)
    assert len(ids) == OWNERS and set(ids.values()) == {1}
    assert 1 <= smtp_env.connections <= 2
    assert {r.status for r in list_messages(url)} == {"sent"}


def test_the_worker_also_sends_what_earlier_runs_left_pending(url, smtp_env):
    # Yesterday's reminders were recorded but never sent (the process died before it).
    record_plan(url, plan_reminders(url, None, DAY_BEFORE))
    outcome = send_pipeline.record_and_send(url, plan_reminders(url, None, DAY), mode="process")
    assert outcome.delivery.sent == 2 * OWNERS
    assert {r.status for r in list_messages(url)} == {"sent"}


def test_a_refused_recipient_fails_alone(url, smtp_env):
    smtp_env.refuse.add("p003@example.org")
    outcome = send_pipeline.record_and_send(url, plan_reminders(url, None, DAY), mode="process")
    assert (outcome.delivery.sent, outcome.delivery.permanent) == (OWNERS - 1, 1)
    failed = list_messages(url, status="failed")
    assert [(m.recipient, m.permanent) for m in failed] == [("p003@example.org", True)]
    assert "550" in (failed[0].last_error or "")


def test_server_down_leaves_the_messages_for_the_next_pass(url, monkeypatch, smtp_down_port):
    monkeypatch.setenv("ROADMAP_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ROADMAP_SMTP_PORT", str(smtp_down_port))
    monkeypatch.setenv("ROADMAP_SMTP_SECURITY", "none")
    reset_settings_cache()
    outcome = send_pipeline.record_and_send(url, plan_reminders(url, None, DAY), mode="process")
    assert outcome.recorded == OWNERS and outcome.delivery.sent == 0
    rows = list_messages(url)
    assert {r.status for r in rows} == {"failed"} and not any(r.permanent for r in rows)
    assert all("unavailable" in (r.last_error or "") for r in rows)


def test_a_template_mistake_half_way_records_and_sends_nothing(url, smtp_env, monkeypatch, tmp_path):
    """With the user's own templates everything is rendered before anything is recorded."""
    folder = tmp_path / "templates" / "mail"
    folder.mkdir(parents=True)
    (folder / "reminder.subject.j2").write_text(
        "{% if recipient.email == 'p040@example.org' %}{{ no_such_name }}{% endif %}Reminder\n", encoding="utf-8")
    monkeypatch.setenv("ROADMAP_TEMPLATE_DIR", str(folder.parent))
    reset_settings_cache()
    plan = plan_reminders(url, None, DAY)
    assert not plan.stream
    with pytest.raises(MailTemplateError, match="no_such_name"):
        send_pipeline.record_and_send(url, plan)
    assert list_messages(url) == [] and smtp_env.received == []


def test_a_message_recorded_before_wire_bytes_were_kept_is_built_from_its_parts(url, smtp_env):
    record_plan(url, plan_reminders(url, None, DAY))
    with session_scope(url) as session:  # as the 0005 migration leaves older messages
        session.execute(update(OutboxContent).values(raw=None))
    stats = deliver_pending(url)
    assert stats.sent == OWNERS
    first = smtp_env.received[0].message
    assert first["Subject"].startswith("Roadmap “Bulk reminders”")
    assert first.get_body(("plain",)).get_content().strip()


def test_a_bad_address_is_a_permanent_failure_as_soon_as_it_is_recorded(url, smtp_env):
    plan = plan_reminders(url, None, DAY)
    bad = plan.intents[0]
    object.__setattr__(bad.message, "to", ("not an address",))
    stats = record_plan(url, plan)
    assert stats.recorded == OWNERS
    failed = list_messages(url, status="failed")
    assert [(m.recipient, m.permanent) for m in failed] == [(bad.recipient, True)]
    assert "not a valid e-mail address" in (failed[0].last_error or "")
    assert deliver_pending(url).sent == OWNERS - 1


def test_a_worker_that_fails_leaves_its_messages_to_the_next_pass(url, smtp_env, monkeypatch):
    def broken(*args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("disk on fire\nwith a second line nobody needs")

    monkeypatch.setattr(send_pipeline, "deliver_pending", broken)
    outcome = send_pipeline.record_and_send(url, plan_reminders(url, None, DAY), mode="process")
    assert outcome.recorded == OWNERS and not outcome.complete
    assert outcome.worker_errors == ["RuntimeError: disk on fire"]
    assert {r.status for r in list_messages(url)} == {"pending"} and smtp_env.received == []
    assert deliver_pending(url).sent == OWNERS


def test_the_flow_delivers_what_a_failed_worker_left(url, smtp_env, monkeypatch):
    """`roadmap remind` as the command line runs it (a forked worker), the worker dying before
    it sent anything: the command still delivers the day, each message once."""
    from flows.send_reminders import send_reminders

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("killed")

    monkeypatch.setattr(send_pipeline, "deliver_pending", broken)
    monkeypatch.setattr(send_pipeline, "_default_mode", lambda: "process")
    summary = send_reminders(as_of=DAY, db_url=url)
    assert (summary.recorded, summary.sent, summary.failed) == (OWNERS, OWNERS, 0)
    assert Counter(str(m.message["Message-ID"]) for m in smtp_env.received).most_common(1)[0][1] == 1
    assert {r.attempts for r in list_messages(url)} == {1}


def test_without_a_worker_it_records_and_the_caller_delivers(url, smtp_env):
    outcome = send_pipeline.record_and_send(url, plan_reminders(url, None, DAY), mode="after")
    assert (outcome.recorded, outcome.followed, outcome.delivery.sent) == (OWNERS, False, 0)
    assert smtp_env.received == [] and {r.status for r in list_messages(url)} == {"pending"}
    assert deliver_pending(url).sent == OWNERS


def test_the_default_is_a_forked_worker_only_without_other_threads():
    import threading

    assert threading.active_count() > 1 or send_pipeline._default_mode() == "process"
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    try:
        assert send_pipeline._default_mode() == "after"
    finally:
        done.set()
        thread.join()


def test_a_retried_pass_of_one_command_counts_one_attempt(url, monkeypatch, tmp_path):
    """The command's retries (a transient error, then record-and-send again) try the failed
    messages again without using up another of their attempts."""
    from models.schema import utcnow

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox folder should be")
    monkeypatch.delenv("ROADMAP_SMTP_HOST", raising=False)
    monkeypatch.setenv("ROADMAP_OUTBOX_DIR", str(blocker / "outbox"))
    reset_settings_cache()
    started = utcnow()
    plan = plan_reminders(url, None, DAY)
    first = send_pipeline.record_and_send(url, plan, mode="process", command_started=started)
    again = send_pipeline.record_and_send(url, plan, mode="process", command_started=started)
    assert (first.recorded, first.delivery.failed) == (OWNERS, OWNERS)
    assert (again.recorded, again.delivery.failed) == (0, OWNERS)
    rows = list_messages(url)
    assert {(r.status, r.attempts) for r in rows} == {("failed", 1)}
    assert "cannot write to outbox" in (rows[0].last_error or "")

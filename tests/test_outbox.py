"""The outbox's claim and lease rules, on SQLite and PostgreSQL, with a real SMTP server
wherever something is sent. Time is passed as data (a frozen clock in tasks.outbox), never
waited for."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import tasks.outbox as outbox
from models.db import session_scope
from models.roadmaps import select_roadmap
from models.schema import utcnow
from tasks.mail import SendError, SmtpTransport
from tasks.mail_message import OutgoingMessage, make_message_id
from tasks.notify_jobs import plan_reminders, record_plan
from tasks.outbox import DeliveryStats, Recording, claim_one, deliver, mark
from tasks.outbox_admin import list_messages, reset_failed
from tasks.outbox_record import Intent, record
from tasks.roadmap_jobs import import_file
from tests.bulk_roadmap import DAY, DAY_BEFORE, write_roadmap
from tests.smtp_fixtures import SmtpRecorder

OWNERS = 6
LEASE = timedelta(seconds=120)
SENDER = "roadmap@example.org"


class Clock:
    """tasks.outbox's idea of now, moved on by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def pass_(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(outbox, "utcnow", frozen)
    return frozen


@pytest.fixture
def roadmap(db_url: str, tmp_path: Path) -> str:
    """OWNERS people with one task each, due on DAY; nothing recorded yet."""
    import_file(db_url, write_roadmap(tmp_path / "bulk.yaml", OWNERS))
    return db_url


@pytest.fixture
def url(roadmap: str) -> str:
    """The roadmap with DAY's OWNERS digests recorded, pending."""
    assert record_plan(roadmap, plan_reminders(roadmap, None, DAY)).recorded == OWNERS
    return roadmap


def send_all(url: str, server: SmtpRecorder, *, max_attempts: int = 5, connections: int = 1,
             follow: threading.Event | None = None) -> DeliveryStats:
    """One delivery run to ``server``; the transport does not retry inside a run, so every
    failure is the outbox's to retry."""
    return deliver(url, lambda: SmtpTransport("127.0.0.1", server.port, "none", retries=0), sender=SENDER,
                   max_attempts=max_attempts, lease=LEASE, connections=connections, follow=follow)


def claim(url: str, worker: str, clock: Clock) -> outbox.Claim | None:
    return claim_one(url, worker, run_started=clock.now, lease=LEASE, max_attempts=5)


def row(url: str, message_id: int):  # type: ignore[no-untyped-def]
    return next(r for r in list_messages(url) if r.id == message_id)


# -- claims and leases --


def test_each_message_is_claimed_by_one_worker_only(url):
    claimed: dict[str, list[int]] = {f"w{n}": [] for n in range(4)}
    start = threading.Barrier(len(claimed))

    def work(worker: str) -> None:
        start.wait(10)
        for _ in range(OWNERS + 1):  # bounded: a broken claim could hand out the same message forever
            item = claim_one(url, worker, run_started=utcnow(), lease=LEASE, max_attempts=5)
            if item is None:
                return
            claimed[worker].append(item.id)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
        assert not thread.is_alive()
    ids = [i for got in claimed.values() for i in got]
    rows = list_messages(url)
    assert sorted(ids) == [r.id for r in rows]  # every message claimed, none twice
    assert {r.id: r.claimed_by for r in rows} == {i: w for w, got in claimed.items() for i in got}
    assert {(r.status, r.attempts) for r in rows} == {("sending", 1)}


def test_a_live_claim_is_not_taken_and_an_expired_one_goes_to_another_worker(url, clock):
    first = claim(url, "a", clock)
    assert first is not None
    for _ in range(OWNERS - 1):  # "a" holds every message
        assert claim(url, "a", clock) is not None
    assert claim(url, "a", clock) is None
    clock.pass_(LEASE.total_seconds() - 1)
    assert claim(url, "b", clock) is None
    clock.pass_(2)
    again = claim(url, "b", clock)
    assert again is not None and again.id == first.id  # the oldest expired claim first
    assert again.message_id == first.message_id and again.raw == first.raw  # resent byte for byte
    assert (row(url, first.id).claimed_by, row(url, first.id).attempts) == ("b", 2)


def test_a_worker_whose_claim_was_taken_cannot_mark_the_message(url, clock):
    first = claim(url, "a", clock)
    assert first is not None
    clock.pass_(LEASE.total_seconds() + 1)
    assert claim(url, "b", clock) is not None
    # "a" finishes late: neither its success nor its failure is recorded.
    assert mark(url, "a", first.id) is False
    assert mark(url, "a", first.id, error=SendError("451 later", permanent=False)) is False
    assert (row(url, first.id).status, row(url, first.id).claimed_by) == ("sending", "b")
    assert mark(url, "b", first.id) is True
    assert row(url, first.id).status == "sent"
    # Marked once: "a" cannot mark it after "b" did, nor "b" again.
    assert mark(url, "a", first.id) is False and mark(url, "b", first.id) is False


# -- failures --


def test_a_transient_failure_is_retried_by_later_runs_until_max_attempts(url, smtp_server):
    smtp_server.tempfail.update({"p000@example.org", "p001@example.org"})  # 451 at RCPT
    first = send_all(url, smtp_server, max_attempts=3)
    assert (first.sent, first.failed, first.permanent) == (OWNERS - 2, 2, 0)
    smtp_server.tempfail.discard("p001@example.org")  # p001's server recovers, p000's does not

    second = send_all(url, smtp_server, max_attempts=3)
    assert (second.sent, second.failed) == (1, 1)
    assert send_all(url, smtp_server, max_attempts=3).failed == 1
    by_rcpt = {r.recipient: r for r in list_messages(url)}
    assert (by_rcpt["p000@example.org"].status, by_rcpt["p000@example.org"].attempts) == ("failed", 3)
    assert (by_rcpt["p001@example.org"].status, by_rcpt["p001@example.org"].attempts) == ("sent", 2)

    # Out of attempts: not tried again, even once the server would take it.
    smtp_server.tempfail.clear()
    assert send_all(url, smtp_server, max_attempts=3) == DeliveryStats()
    assert len(smtp_server.received) == OWNERS - 1
    # Until an operator queues it again (`roadmap outbox retry`).
    assert reset_failed(url) == 1
    assert send_all(url, smtp_server, max_attempts=3).sent == 1


def test_a_failed_message_is_not_retried_within_the_same_run(url, smtp_server):
    smtp_server.tempfail.add("p000@example.org")
    stats = send_all(url, smtp_server, connections=2)
    assert stats.failed == 1
    assert {r.attempts for r in list_messages(url)} == {1}


def test_a_refused_recipient_is_failed_for_good(url, smtp_server):
    smtp_server.refuse.add("p002@example.org")  # 550 at RCPT
    stats = send_all(url, smtp_server)
    assert (stats.sent, stats.permanent, stats.failed) == (OWNERS - 1, 1, 0)
    smtp_server.refuse.clear()
    assert send_all(url, smtp_server) == DeliveryStats()
    (failed,) = list_messages(url, status="failed")
    assert (failed.recipient, failed.permanent, failed.attempts) == ("p002@example.org", True, 1)
    assert "550" in (failed.last_error or "")


def test_a_bad_address_is_failed_for_good_when_recorded(roadmap, smtp_server):
    def intent(key: str, to: str) -> Intent:
        msg = OutgoingMessage(make_message_id("example.org"), SENDER, (to,), "Subject", "Text")
        return Intent("reminder", key, to, None, msg)

    with session_scope(roadmap) as session:
        rid = select_roadmap(session, "bulk").id
        stats = record(session, rid, "bulk", DAY, [intent("bad", "no address"), intent("good", "ok@example.org")])
    assert stats.recorded == 2
    bad = next(r for r in list_messages(roadmap) if r.recipient == "no address")
    assert (bad.status, bad.permanent, bad.attempts) == ("failed", True, 1)
    assert "no address" in (bad.last_error or "")
    assert send_all(roadmap, smtp_server).sent == 1
    assert [r.rcpt_tos for r in smtp_server.received] == [("ok@example.org",)]


# -- delivery --


def test_delivery_that_follows_the_recording_sends_what_is_recorded_while_it_runs(roadmap, smtp_server):
    recording = Recording()
    result: list[DeliveryStats] = []
    worker = threading.Thread(target=lambda: result.append(send_all(roadmap, smtp_server, follow=recording)))
    worker.start()
    try:
        record_plan(roadmap, plan_reminders(roadmap, None, DAY_BEFORE), recording)
        smtp_server.wait_for(OWNERS, timeout=20)  # sent while the delivery still runs...
        assert worker.is_alive()
        record_plan(roadmap, plan_reminders(roadmap, None, DAY), recording)  # ...and it keeps going
        smtp_server.wait_for(2 * OWNERS, timeout=20)
    finally:
        recording.ended()
        worker.join(20)
    assert not worker.is_alive() and result[0].sent == 2 * OWNERS
    ids = Counter(str(m["Message-ID"]) for m in smtp_server.messages)
    assert set(ids) == {r.message_id for r in list_messages(roadmap)} and set(ids.values()) == {1}


def test_several_connections_share_the_work_and_each_message_arrives_once(url, smtp_server):
    smtp_server.data_delay = 0.2  # each connection is busy a while: the others take the next ones
    stats = send_all(url, smtp_server, connections=3)
    rows = list_messages(url)
    assert stats.sent == OWNERS and {r.status for r in rows} == {"sent"}
    ids = Counter(str(m["Message-ID"]) for m in smtp_server.messages)
    assert set(ids) == {r.message_id for r in rows} and set(ids.values()) == {1}
    assert smtp_server.connections == 3
    assert len({r.connection for r in smtp_server.received}) == 3
    assert len({r.claimed_by for r in rows}) == 3  # one worker per connection


# -- failures of the connection, not of the message --


def test_a_bad_login_uses_up_no_attempts_and_stops_the_connection(url):
    """Every message would fail the same way: one is tried, given back without counting an
    attempt, and the rest stay pending; repeated runs never wear out the outbox."""
    with SmtpRecorder(auth=("roadmap", "right")) as server:
        def wrong_password() -> SmtpTransport:
            return SmtpTransport("127.0.0.1", server.port, "none", user="roadmap", password="wrong", retries=0)

        for _ in range(6):  # more runs than mail_max_attempts
            stats = deliver(url, wrong_password, sender=SENDER, max_attempts=5, lease=LEASE, connections=2)
            assert stats.sent == 0 and stats.configuration_error and not stats.worth_retrying
            assert stats.deferred == 2 and stats.failed == 0  # one message per connection
        rows = list_messages(url)
        assert {r.attempts for r in rows} == {0}
        assert sorted(r.status for r in rows) == ["failed"] * 2 + ["pending"] * (OWNERS - 2)
        # One login per connection and run, not per message (smtplib tries PLAIN, then LOGIN).
        assert len(server.auth_attempts) == 6 * 2 * 2
        good = deliver(url, lambda: SmtpTransport("127.0.0.1", server.port, "none", user="roadmap",
                                                  password="right", retries=0),
                       sender=SENDER, max_attempts=5, lease=LEASE)
    assert good.sent == OWNERS and {r.status for r in list_messages(url)} == {"sent"}


def test_an_unreachable_relay_is_worth_retrying_and_uses_up_no_attempts(url, smtp_down_port):
    stats = deliver(url, lambda: SmtpTransport("127.0.0.1", smtp_down_port, "none", retries=0, sleep=lambda s: None),
                    sender=SENDER, max_attempts=5, lease=LEASE)
    assert stats.deferred == 1 and stats.worth_retrying and not stats.configuration_error
    assert {r.attempts for r in list_messages(url)} == {0}


def test_a_send_that_outlasts_its_lease_keeps_its_claim_and_arrives_once(url):
    """The sender renews its claim while the relay takes its time, so another worker that
    looks meanwhile does not take the message, and nothing arrives twice."""
    short = timedelta(seconds=0.3)
    with SmtpRecorder(data_delay=1.0) as server:  # each message takes over three leases
        stats = deliver(url, lambda: SmtpTransport("127.0.0.1", server.port, "none", retries=0), sender=SENDER,
                        max_attempts=5, lease=short, connections=2)
        ids = Counter(str(m["Message-ID"]) for m in server.messages)
    assert stats.sent == OWNERS
    assert set(ids.values()) == {1} and len(ids) == OWNERS
    assert {r.status for r in list_messages(url)} == {"sent"}

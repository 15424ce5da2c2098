"""At-least-once delivery through real processes, a real SMTP server and both databases.

- Kill tests: `roadmap remind` is killed at named points of its delivery loop (the
  ROADMAP_TEST_CRASH_AT hook of tasks/outbox.py), not after a guessed sleep: once the
  server has accepted a message that is not marked sent yet, and once a message is
  claimed but not sent. After the claims' lease has run out a new run finishes the day:
  every recorded message has arrived, a kill costs at most one duplicate per connection
  (a message that was in flight, resent with its recorded Message-ID), every outbox row
  is `sent` and one more run sends nothing.
- Concurrency test: two `roadmap remind` processes plan, record and send the same day at
  the same moment (the dedup key records each digest once, each arrives once); then two
  delivery workers share one recorded day (each Message-ID arrives once; on PostgreSQL
  SKIP LOCKED gives both of them a share).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.db import session_scope
from models.schema import OutboxMessage, utcnow
from tasks.notify_jobs import plan_reminders, record_plan
from tasks.outbox_admin import list_messages
from tasks.outbox_record import RecordStats
from tasks.roadmap_jobs import import_file
from tests.bulk_roadmap import DAY, DAY_BEFORE, write_roadmap
from tests.smtp_fixtures import Received, SmtpRecorder, point_settings_at

ROOT = Path(__file__).resolve().parent.parent
OWNERS = 45
DATA_DELAY = 0.02  # seconds the server spends on each message
LEASE = 2.0  # ROADMAP_MAIL_LEASE_SECONDS in the kill tests: far above one send, short to wait for
TIMEOUT = 30.0  # for any one process or wait


@pytest.fixture
def url(db_url: str, tmp_path: Path) -> str:
    import_file(db_url, write_roadmap(tmp_path / "bulk.yaml", OWNERS))
    return db_url


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A slow SMTP server, and the settings (here and in child processes) that point at it."""
    with SmtpRecorder(data_delay=DATA_DELAY) as server:
        yield point_settings_at(server, monkeypatch)


# -- child processes --


class Child:
    """A subprocess whose output goes to files (no pipe can fill up and stall it)."""

    def __init__(self, args: list[str], tmp_path: Path, name: str, env: dict[str, str] | None = None):
        self.name = name
        self.out_path, self.err_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        full_env = dict(os.environ)  # ROADMAP_* as set by the fixtures of this test only
        full_env.update(env or {})
        full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), full_env.get("PYTHONPATH")) if p)
        full_env["PYTHONUNBUFFERED"] = "1"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=full_env, stdout=out, stderr=err)

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} did not finish in {timeout}s\n{self.output()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def output(self) -> str:
        out = self.out_path.read_text(errors="replace")
        err = self.err_path.read_text(errors="replace")
        return f"--- {self.name} (pid {self.proc.pid}, rc {self.proc.returncode}) stdout:\n{out}\n--- stderr:\n{err}"

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")


def remind_args(url: str, day: date) -> list[str]:
    return ["-m", "cli.main", "remind", "--as-of", day.isoformat(), "--db", url]


def worker_args(tmp_path: Path, name: str, go: Path) -> list[str]:
    """tests/send_worker.py: import everything, say ready, start when `go` appears."""
    return ["-m", "tests.send_worker", "--ready", str(tmp_path / f"{name}.ready"), "--go", str(go)]


def release(children: list[Child], tmp_path: Path, go: Path) -> None:
    """Start the workers at one moment, once all of them have finished starting up."""
    deadline = time.monotonic() + TIMEOUT
    for child in children:
        while not (tmp_path / f"{child.name}.ready").exists():
            if child.proc.poll() is not None:
                pytest.fail(f"{child.name} exited while starting\n{child.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{child.name} not ready in {TIMEOUT}s\n{child.output()}")
            time.sleep(0.01)
    go.touch()


def summary(child: Child) -> dict[str, int]:
    """The counts on the last line of `roadmap remind`."""
    match = re.search(
        r"planned (\d+), recorded (\d+), skipped as duplicate (\d+); delivered (\d+), failed (\d+)", child.stdout()
    )
    assert match, child.output()
    counts = dict(zip(("planned", "recorded", "skipped", "delivered", "failed"), map(int, match.groups()), strict=True))
    assert counts["failed"] == 0, child.output()
    return counts


def message_ids(received: list[Received]) -> Counter[str]:
    return Counter(str(r.message["Message-ID"]) for r in received)


def by_recipient(received: list[Received]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for r in received:
        for rcpt in r.rcpt_tos:
            ids.setdefault(rcpt, set()).add(str(r.message["Message-ID"]))
    return ids


# -- kills at named points --


def killed_run(url: str, tmp_path: Path, name: str, crash_at: str, connections: int = 1) -> Child:
    """`roadmap remind` that kills itself (SIGKILL) at ``crash_at`` ("point:n")."""
    env = {"ROADMAP_TEST_CRASH_AT": crash_at, "ROADMAP_MAIL_LEASE_SECONDS": str(LEASE),
           "ROADMAP_SMTP_CONNECTIONS": str(connections)}
    child = Child(remind_args(url, DAY), tmp_path, name, env)
    assert child.wait() == -signal.SIGKILL, child.output()
    return child


def full_run(url: str, tmp_path: Path, name: str, connections: int = 1) -> dict[str, int]:
    env = {"ROADMAP_MAIL_LEASE_SECONDS": str(LEASE), "ROADMAP_SMTP_CONNECTIONS": str(connections)}
    child = Child(remind_args(url, DAY), tmp_path, name, env)
    assert child.wait() == 0, child.output()
    return summary(child)


def in_flight(url: str) -> dict[str, str]:
    """Message-ID by dedup key of the messages left claimed (`sending`) by a killed run."""
    return {r.dedup_key: r.message_id for r in list_messages(url, status="sending")}


def wait_for_leases(url: str) -> None:
    """Until every claim in the outbox has run out, judged by the outbox's own rule (claimed
    before now minus the lease), so the next run takes the messages a killed run left."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        with session_scope(url, migrate=False) as session:
            live = session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status == "sending", OutboxMessage.claimed_at >= utcnow() - timedelta(seconds=LEASE)))
        if not live:
            return
        assert time.monotonic() < deadline, f"{live} claim(s) still live after {TIMEOUT}s"
        time.sleep(0.05)


def assert_day_delivered(url: str, smtp: SmtpRecorder, tmp_path: Path, resendable: set[str]) -> Counter[str]:
    """Every recorded message arrived with its recorded Message-ID, each at most twice and only
    those in ``resendable`` (in flight at a kill) twice; every row is sent; a rerun sends nothing.
    Returns how often each Message-ID arrived."""
    rows = list_messages(url)
    left = [(r.id, r.status, r.claimed_by, r.claimed_at) for r in rows if r.status != "sent"]
    assert len(rows) == OWNERS and not left, left
    ids = message_ids(smtp.received)
    assert set(ids) == {r.message_id for r in rows}  # every recorded message arrived, nothing else did
    duplicated = {i for i, c in ids.items() if c > 1}
    assert duplicated <= resendable and max(ids.values()) <= 2, ids
    # A resend carries the Message-ID that was recorded, not a new one.
    assert by_recipient(smtp.received) == {r.recipient: {r.message_id} for r in rows}

    again = full_run(url, tmp_path, "again")
    assert (again["recorded"], again["delivered"]) == (0, 0), again
    assert message_ids(smtp.received) == ids
    return ids


def test_a_kill_after_the_server_took_a_message_resends_that_message_only(url, smtp, tmp_path):
    # 1. Killed when the server has accepted the 5th message, before it is marked sent.
    killed_run(url, tmp_path, "after-send", "after-send:5")
    received = smtp.received
    assert len(received) == 5
    first_ids = {r.dedup_key: r.message_id for r in list_messages(url)}
    stuck = in_flight(url)
    assert list(stuck.values()) == [str(received[-1].message["Message-ID"])]
    assert Counter(r.status for r in list_messages(url) if r.status != "pending") == {"sent": 4, "sending": 1}

    # 2. Its lease run out, the next run takes it first and resends it (the one duplicate),
    #    and is killed holding its 3rd claim, which it has not sent.
    wait_for_leases(url)
    killed_run(url, tmp_path, "after-claim", "after-claim:3")
    ids = message_ids(smtp.received)
    assert len(smtp.received) == 7 and ids[next(iter(stuck.values()))] == 2
    claimed = in_flight(url)
    assert len(claimed) == 1 and not set(claimed.values()) & set(ids), claimed

    # 3. A last run finishes the day: the claimed message arrives once, nothing else twice.
    wait_for_leases(url)
    final = full_run(url, tmp_path, "final")
    ids = assert_day_delivered(url, smtp, tmp_path, resendable=set(stuck.values()))
    assert sum(c - 1 for c in ids.values()) == 1 and ids[next(iter(claimed.values()))] == 1
    assert final["delivered"] == OWNERS - 6  # 4 + 2 sent and marked before it
    # The restarts recorded nothing again: the Message-IDs recorded before the kills stand.
    assert {r.dedup_key: r.message_id for r in list_messages(url) if r.dedup_key in first_ids} == first_ids


def test_a_kill_with_three_connections_costs_at_most_three_duplicates(url, smtp, tmp_path):
    killed_run(url, tmp_path, "after-send", "after-send:6", connections=3)
    stuck = in_flight(url)
    # Each connection holds one claim at a time; the one that hit the crash point holds one
    # the server accepted, the others may be anywhere between claim and mark.
    assert 1 <= len(stuck) <= 3, stuck
    assert set(stuck.values()) & set(message_ids(smtp.received))

    wait_for_leases(url)
    full_run(url, tmp_path, "final", connections=3)
    ids = assert_day_delivered(url, smtp, tmp_path, resendable=set(stuck.values()))
    assert 1 <= sum(c - 1 for c in ids.values()) <= 3, ids


# -- concurrency --


def test_two_senders_at_once_record_and_send_each_message_once(url, smtp, tmp_path):
    smtp.data_delay = 0.05  # a run takes ~OWNERS * 0.05 s: the two overlap throughout
    children: list[Child] = []
    try:
        # 1. Two `roadmap remind` for the same day at the same moment: each plans the day
        #    (with its own fresh Message-IDs; the later planner may already see some of it
        #    recorded and skip it), records it and sends what is pending.
        go = tmp_path / "go-remind"
        for name in ("remind-a", "remind-b"):
            args = [*worker_args(tmp_path, name, go), "cli", *remind_args(url, DAY)[2:]]
            children.append(Child(args, tmp_path, name))
        release(children, tmp_path, go)
        for child in children:
            assert child.wait() == 0, child.output()
        counts = [summary(c) for c in children]
        assert sum(c["recorded"] for c in counts) == OWNERS, counts
        assert all(c["planned"] == c["recorded"] + c["skipped"] for c in counts), counts
        assert sum(c["delivered"] for c in counts) == OWNERS, counts
        rows = list_messages(url)
        assert len(rows) == OWNERS and {r.status for r in rows} == {"sent"}
        ids = message_ids(smtp.received)
        assert set(ids) == {r.message_id for r in rows}
        assert set(ids.values()) == {1}, [i for i, c in ids.items() if c > 1]

        # 2. Two plans of one day made before either is recorded, recorded at the same
        #    moment: the dedup key's unique constraint keeps one row per digest.
        plans = [plan_reminders(url, None, DAY_BEFORE) for _ in range(2)]
        assert [len(p.todo) for p in plans] == [OWNERS, OWNERS]
        barrier = threading.Barrier(2)
        stats: list[object] = [None, None]

        def record_at_once(n: int) -> None:
            barrier.wait(TIMEOUT)
            stats[n] = record_plan(url, plans[n])

        threads = [threading.Thread(target=record_at_once, args=(n,), daemon=True) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
            assert not thread.is_alive(), "recording did not finish"
        assert all(isinstance(st, RecordStats) for st in stats), stats  # no thread died
        assert sum(st.recorded for st in stats) == OWNERS, stats  # type: ignore[attr-defined]
        assert sum(st.duplicates for st in stats) == OWNERS, stats  # type: ignore[attr-defined]
        day_rows = [r for r in list_messages(url) if r.as_of == DAY_BEFORE]
        assert len(day_rows) == OWNERS and len({r.dedup_key for r in day_rows}) == OWNERS

        # 3. That recorded day, sent by two delivery workers at once.
        smtp.clear()
        go = tmp_path / "go-deliver"
        workers = [Child([*worker_args(tmp_path, name, go), "deliver", "--db", url], tmp_path, name)
                   for name in ("deliver-a", "deliver-b")]
        children += workers
        release(workers, tmp_path, go)
        for child in workers:
            assert child.wait() == 0, child.output()
        results = [json.loads(c.stdout().strip().splitlines()[-1]) for c in workers]
        sent = [r["sent"] for r in results]
        day_rows = [r for r in list_messages(url) if r.as_of == DAY_BEFORE]
        assert {r.status for r in day_rows} == {"sent"}
        ids = message_ids(smtp.received)
        assert set(ids) == {r.message_id for r in day_rows}
        assert set(ids.values()) == {1}, [i for i, c in ids.items() if c > 1]
        assert sum(sent) == OWNERS, results
        # Who sent what, as recorded in the outbox (claimed_by is host:pid:random), agrees
        # with the workers' own counts.
        by_pid = Counter(int(r.claimed_by.rsplit(":", 2)[1]) for r in day_rows)
        assert by_pid == Counter({r["pid"]: r["sent"] for r in results if r["sent"]})
        if url.startswith("postgresql"):
            # SKIP LOCKED: neither worker waits for the other's claims, both get a share.
            assert all(s > 0 for s in sent), results
        # On SQLite claims are serialised by the single writer; the split may be uneven.
    finally:
        for child in children:
            child.kill()

"""Exactly-once delivery through real processes, a real SMTP server and both databases.

- Kill test: `roadmap remind` is SIGKILLed several times in the middle of sending a
  day's digests and restarted; in the end every recorded message has arrived, a kill
  costs at most one duplicate (the message in flight, resent with its recorded
  Message-ID), every outbox row is `sent` and one more run sends nothing.
- Concurrency test: two `roadmap remind` processes plan, record and send the same day at
  the same moment (the dedup key records each digest once, each arrives once); then two
  delivery workers with a small claim batch share one recorded day (each Message-ID
  arrives once; on PostgreSQL SKIP LOCKED gives both of them a share).
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
from datetime import date
from pathlib import Path

import pytest

from tasks.notify_jobs import plan_reminders, record_plan
from tasks.outbox import RecordStats, list_messages
from tasks.roadmap_jobs import import_file
from tests.bulk_roadmap import DAY, DAY_BEFORE, write_roadmap
from tests.smtp_fixtures import Received, SmtpRecorder, point_settings_at

ROOT = Path(__file__).resolve().parent.parent
OWNERS = 45
DATA_DELAY = 0.05  # seconds the server spends on each message: a run takes ~OWNERS * 0.05 s
TIMEOUT = 25.0  # for any one process or wait; the whole test stays well below it


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

    def __init__(self, args: list[str], tmp_path: Path, name: str):
        self.name = name
        self.out_path, self.err_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        env = dict(os.environ)  # ROADMAP_* as set by the fixtures of this test only
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=err
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} did not finish in {timeout}s\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL and reap it: an unreaped zombie still answers kill(pid, 0), and the
        outbox would take its claims for those of a live process."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)

    def output(self) -> str:
        out = self.out_path.read_text(errors="replace")
        err = self.err_path.read_text(errors="replace")
        head = f"--- {self.name} (pid {self.pid}, rc {self.proc.returncode})"
        return f"{head} stdout:\n{out}\n--- stderr:\n{err}"

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
        r"planned (\d+), recorded (\d+), skipped as duplicate (\d+); "
        r"delivered (\d+), failed (\d+)",
        child.stdout(),
    )
    assert match, child.output()
    names = ("planned", "recorded", "skipped", "delivered", "failed")
    counts = dict(zip(names, map(int, match.groups())))
    assert counts["failed"] == 0, child.output()
    return counts


def wait_received(server: SmtpRecorder, count: int, child: Child) -> None:
    """Until `count` messages arrived in all; fails if the sender exits or stalls first."""
    deadline = time.monotonic() + TIMEOUT
    while len(server.received) < count:
        if child.proc.poll() is not None:
            got = len(server.received)
            pytest.fail(f"sender exited before {count} messages arrived ({got})\n{child.output()}")
        if time.monotonic() > deadline:
            got = len(server.received)
            pytest.fail(f"only {got} of {count} messages in {TIMEOUT}s\n{child.output()}")
        time.sleep(0.005)


def message_ids(received: list[Received]) -> Counter[str]:
    return Counter(str(r.message["Message-ID"]) for r in received)


def by_recipient(received: list[Received]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for r in received:
        for rcpt in r.rcpt_tos:
            ids.setdefault(rcpt, set()).add(str(r.message["Message-ID"]))
    return ids


# -- the tests --


def test_killed_sender_resumes_without_loss_and_at_most_one_duplicate_per_kill(url, smtp, tmp_path):
    # (messages arrived in all, then how long to wait): right after the server took a
    # message, when the sender may not have marked it sent yet (a resend duplicates it),
    # and half-way through the next message's DATA (that one is cut off and resent).
    kill_points = [(1, 0.0), (OWNERS // 3, DATA_DELAY / 2), (2 * OWNERS // 3, 0.0)]
    children: list[Child] = []
    stuck_after_kill: list[int] = []
    try:
        for n, (point, pause) in enumerate(kill_points, 1):
            child = Child(remind_args(url, DAY), tmp_path, f"killed-{n}")
            children.append(child)
            wait_received(smtp, point, child)
            time.sleep(pause)
            child.kill()
            assert child.proc.returncode == -signal.SIGKILL, child.output()
            rows = list_messages(url)
            # Recording and sending overlap (tasks/send_pipeline.py), but nothing went out
            # before it was recorded with its Message-ID.
            assert set(message_ids(smtp.received)) <= {r.message_id for r in rows}
            stuck_after_kill.append(sum(r.status == "sending" for r in rows))

        final = Child(remind_args(url, DAY), tmp_path, "final")
        children.append(final)
        assert final.wait() == 0, final.output()
        # Nothing was recorded again by the restarts.
        assert summary(final)["recorded"] == 0, final.output()

        rows = list_messages(url)
        statuses = Counter(r.status for r in rows)
        left = [(r.id, r.status, r.claimed_by, r.claimed_at) for r in rows if r.status != "sent"]
        assert statuses == {"sent": OWNERS}, (statuses, left)

        received = smtp.received
        ids = message_ids(received)
        recorded = {r.message_id for r in rows}
        assert len(recorded) == OWNERS
        assert set(ids) == recorded  # every recorded message arrived, nothing else did
        duplicates = sum(c - 1 for c in ids.values())
        assert duplicates <= len(kill_points), (duplicates, [i for i, c in ids.items() if c > 1])
        # A resend carries the Message-ID that was recorded, not a new one.
        expected = {r.recipient: {r.message_id} for r in rows}
        assert by_recipient(received) == expected
        # The kills did hit the middle of a run: claimed messages were left behind.
        assert all(stuck > 0 for stuck in stuck_after_kill), stuck_after_kill

        extra = Child(remind_args(url, DAY), tmp_path, "extra")
        children.append(extra)
        assert extra.wait() == 0, extra.output()
        assert (summary(extra)["recorded"], summary(extra)["delivered"]) == (0, 0), extra.output()
        assert len(smtp.received) == len(received)
    finally:
        for child in children:
            child.kill()


def test_two_senders_at_once_record_and_send_each_message_once(url, smtp, tmp_path):
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
        assert [len(p.intents) for p in plans] == [OWNERS, OWNERS]
        barrier = threading.Barrier(2)
        stats: list[object] = [None, None]

        def record_at_once(n: int) -> None:
            barrier.wait(TIMEOUT)
            stats[n] = record_plan(url, plans[n])

        threads = [
            threading.Thread(target=record_at_once, args=(n,), daemon=True) for n in range(2)
        ]
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
        planned_ids = {i.message.message_id for p in plans for i in p.intents}
        assert {r.message_id for r in day_rows} <= planned_ids

        # 3. That recorded day, sent by two delivery workers with a small claim batch at once.
        smtp.clear()
        go = tmp_path / "go-deliver"
        workers = [
            Child(
                [*worker_args(tmp_path, name, go), "deliver", "--db", url, "--batch", "3"],
                tmp_path, name,
            )
            for name in ("deliver-a", "deliver-b")
        ]
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
        # Who sent what, as recorded in the outbox, agrees with the workers' own counts.
        by_worker = {r["worker"]: r["sent"] for r in results if r["sent"]}
        assert Counter(r.claimed_by for r in day_rows) == by_worker
        if url.startswith("postgresql"):
            # SKIP LOCKED: neither worker waits for the other's claims, both get a share.
            assert all(s > 0 for s in sent), results
        # On SQLite claims are serialised by the single writer; the split may be uneven.
    finally:
        for child in children:
            child.kill()

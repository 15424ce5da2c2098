"""Prefect tasks for reminders and escalations: plan, record, deliver a batch, count.

Coarse on purpose: one task plans every message of the day, one records them all, one
delivers everything pending over one SMTP connection. No task per email, so Prefect's
bookkeeping costs the same for 5 messages or 5,000.

Retries: planning and recording are reads and idempotent inserts; delivery is idempotent
because the outbox marks each message sent before the next is claimed, so a retried delivery
task finds nothing left to send for what already went out (tests/test_flows.py makes the
task fail after sending and lets Prefect retry it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select

from models.db import session_scope
from models.schema import OutboxMessage, utcnow
from tasks import notify_jobs, send_pipeline
from tasks.outbox import DeliveryStats, RecordStats, smtp_connections
from tasks.prefect_tasks import TransientSendFailures, task

DB_RETRIES = 3


@task(name="plan-reminders", retries=DB_RETRIES, side_effects=False)
def plan_reminders(db_url: str, roadmap_key: str | None, as_of: date | None) -> notify_jobs.Plan:
    return notify_jobs.plan_reminders(db_url, roadmap_key, as_of)


@task(name="plan-escalations", retries=DB_RETRIES, side_effects=False)
def plan_escalations(db_url: str, roadmap_key: str | None, as_of: date | None) -> notify_jobs.Plan:
    return notify_jobs.plan_escalation_messages(db_url, roadmap_key, as_of)


@task(name="record-messages", retries=DB_RETRIES)
def record_plan(db_url: str, plan: notify_jobs.Plan) -> RecordStats:
    return notify_jobs.record_plan(db_url, plan)


@task(name="record-and-send", retries=DB_RETRIES)
def record_and_send(db_url: str, plan: notify_jobs.Plan, command_started: datetime | None = None,
                    ) -> send_pipeline.Outcome:
    """Render and record the plan, sending each chunk while the next renders where a worker
    can follow (see tasks/send_pipeline.py). A retry records only what is not recorded yet;
    what this task did not send is left to the delivery task after it."""
    return send_pipeline.record_and_send(db_url, plan, command_started=command_started)


@task(name="deliver-batch", retries=DB_RETRIES)
def deliver_batch(db_url: str, command_started: datetime | None = None) -> DeliveryStats:
    """Send everything pending in the outbox (any roadmap, any day: leftovers too).

    A transient failure (4xx, dropped connection) raises so that Prefect retries the task with
    backoff; the retry claims only the messages still failed, never the sent ones.
    Permanent failures are not retried; the flow reports them from the outbox."""
    stats = notify_jobs.deliver_pending(db_url, command_started=command_started)
    if stats.failed > stats.retry_later:  # a bad login or a dead server is not retried here
        raise TransientSendFailures(stats.failed, stats.errors)
    return stats


def deliver_all(db_url: str, command_started: datetime | None = None) -> int:
    """Deliver the outbox over `smtp_connections()` connections; how many this run sent.
    Raises TransientSendFailures when messages still failed after every retry.
    Messages claimed since ``command_started`` (default: now) do not count another attempt."""
    started = command_started or utcnow()  # retries inside this command do not use up attempts
    return sum(stats.sent for stats in deliver_batch.concurrently(smtp_connections(), db_url, started))


@dataclass
class OutboxCounts:
    """The fate of the messages one run is about, read back from the outbox."""

    sent: int = 0
    pending: int = 0
    failed: int = 0
    permanent: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.failed + self.permanent


def outbox_counts(db_url: str, roadmap_key: str, dedup_keys: list[str]) -> OutboxCounts:
    """Count by status the outbox rows of these dedup keys (without the roadmap prefix).

    Counting from the database rather than from what this process sent keeps the totals right
    across Prefect retries and when another worker delivered some of the messages."""
    counts = OutboxCounts()
    wanted = [f"{roadmap_key}:{k}" for k in dedup_keys]
    with session_scope(db_url, migrate=False) as session:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = session.execute(
                select(OutboxMessage.status, OutboxMessage.permanent, func.count())
                .where(OutboxMessage.dedup_key.in_(chunk))
                .group_by(OutboxMessage.status, OutboxMessage.permanent)
            )
            for status, permanent, n in rows:
                if status == "sent":
                    counts.sent += n
                elif status == "failed" and permanent:
                    counts.permanent += n
                elif status == "failed":
                    counts.failed += n
                else:
                    counts.pending += n
            if counts.failed or counts.permanent:
                errors = session.execute(
                    select(OutboxMessage.recipient, OutboxMessage.last_error)
                    .where(OutboxMessage.dedup_key.in_(chunk), OutboxMessage.status == "failed")
                    .order_by(OutboxMessage.id)
                )
                counts.errors.extend(f"{r}: {e}" for r, e in errors)
    return counts


count_outbox = task(name="count-outbox", retries=DB_RETRIES, side_effects=False)(outbox_counts)

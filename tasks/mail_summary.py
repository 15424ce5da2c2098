"""What became of one run's messages, read back from the outbox, and the line that says it.

Counting from the database rather than from what this process sent keeps the totals right
across Prefect retries and when another worker delivered some of the messages. Each summary
also carries how many failed messages the whole outbox holds (``waiting``, older days' too):
the end of every run says so (tasks/outbox_failed.py), whatever its own messages did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from models.db import session_scope
from models.schema import OutboxMessage
from tasks.outbox_admin import waiting_count, waiting_line

log = logging.getLogger("roadmap")


@dataclass
class MailSummary:
    """What one mail step did: the counts logged at its end and printed by the CLI."""

    kind: str
    roadmap_key: str
    as_of: date
    planned: int = 0
    recorded: int = 0
    duplicates: int = 0
    sent: int = 0
    pending: int = 0
    failed: int = 0
    dismissed: int = 0  # of this run's messages, failed earlier and dismissed since: not failures
    waiting: int = 0  # failed messages in the whole outbox, any day, not dismissed (after this step)
    delivered_by_run: int = 0
    dry_run: bool = False
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (name, address, subject)
    texts: list[str] = field(default_factory=list)  # bodies, for --dry-run only
    errors: list[str] = field(default_factory=list)
    # Its delivery failed for now in a way a later delivery may mend (DeliveryStats.worth_retrying:
    # not after a bad login): the daily cycle under Prefect then retries delivery (flows/daily_cycle.py).
    worth_retrying: bool = False
    dedup_keys: list[str] = field(default_factory=list, repr=False)  # its messages', for ``recount``

    def line(self) -> str:
        """One line for the log and the CLI; `delivered` is what this run sent itself, `sent in
        all` how many of its messages are sent by now (some possibly by another worker)."""
        return (f"{self.roadmap_key} {self.as_of} {self.kind}: planned {self.planned}, recorded {self.recorded}, "
                f"skipped as duplicate {self.duplicates}; delivered {self.delivered_by_run}, failed {self.failed}; "
                f"sent in all {self.sent}" + (f", still pending {self.pending}" if self.pending else "")
                + (f", dismissed {self.dismissed}" if self.dismissed else ""))


class DeliveryFailed(Exception):
    """Raised at the end of a run when a message failed (permanently, or after every retry),
    so that the flow run ends Failed in Prefect and the CLI exits 1."""

    def __init__(self, summaries: list[MailSummary], waiting: int = 0):
        self.summaries, self.waiting = summaries, waiting  # waiting: see MailSummary.waiting
        failed = sum(s.failed for s in summaries)
        super().__init__(f"{failed} message(s) failed: " + "; ".join(e for s in summaries for e in s.errors[:3]))


def raise_if_failed(summaries: list[MailSummary]) -> list[MailSummary]:
    failed = [s for s in summaries if s.failed]
    if failed:
        raise DeliveryFailed(failed, waiting(summaries))
    return summaries


def waiting(summaries: list[MailSummary]) -> int:
    """Failed messages waiting after the run of these steps (the latest count)."""
    return summaries[-1].waiting if summaries else 0


def end_of_run(summaries: list[MailSummary], logger: logging.Logger | logging.LoggerAdapter | None = None,
               ) -> list[MailSummary]:
    """How every scheduled run ends: a warning in the log while failed messages are waiting
    (the run itself succeeded, so this alone does not fail it), then DeliveryFailed if any of
    the run's own messages failed."""
    if count := waiting(summaries):
        (logger or log).warning(waiting_line(count))
    return raise_if_failed(summaries)


def summarise(kind: str, db_url: str, roadmap_key: str, as_of: date, dedup_keys: list[str], *,
              recorded: int = 0, delivered: int = 0, office: bool = False,
              worth_retrying: bool = False) -> MailSummary:
    """The fate of the messages of these dedup keys (without the roadmap prefix), logged.
    ``recorded`` and ``delivered``: how many of them this run recorded, and how many it sent.
    ``office``: messages of the whole office, whose keys have no roadmap prefix; ``roadmap_key``
    is then only the summary's label."""
    summary = MailSummary(kind, roadmap_key, as_of, planned=len(dedup_keys), recorded=recorded,
                          duplicates=len(dedup_keys) - recorded, delivered_by_run=delivered,
                          worth_retrying=worth_retrying, dedup_keys=list(dedup_keys))
    wanted = list(dedup_keys) if office else [f"{roadmap_key}:{k}" for k in dedup_keys]
    with session_scope(db_url, migrate=False) as session:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = session.execute(
                select(OutboxMessage.status, OutboxMessage.recipient, OutboxMessage.recipient_name,
                       OutboxMessage.subject, OutboxMessage.last_error)
                .where(OutboxMessage.dedup_key.in_(chunk)).order_by(OutboxMessage.id)
            )
            for status, recipient, name, subject, error in rows:
                summary.messages.append((name or "", recipient, subject))
                if status == "sent":
                    summary.sent += 1
                elif status == "failed":
                    summary.failed += 1
                    summary.errors.append(f"{recipient}: {error}")
                elif status == "dismissed":
                    summary.dismissed += 1
                else:
                    summary.pending += 1
    summary.waiting = waiting_count(db_url)
    log.info(summary.line())
    for error in summary.errors:  # info: the command prints them, a flow run fails naming them
        log.info("failed: %s", error)
    return summary


def recount(db_url: str, summaries: list[MailSummary], delivered: int) -> list[MailSummary]:
    """The summaries of a roadmap's steps counted again from the outbox after a delivery retry
    that sent ``delivered`` more (counted once, in the first summary)."""
    out = []
    for summary in summaries:
        out.append(summarise(summary.kind, db_url, summary.roadmap_key, summary.as_of, summary.dedup_keys,
                             recorded=summary.recorded, delivered=summary.delivered_by_run + delivered))
        delivered = 0
    return out

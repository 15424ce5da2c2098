"""The outbox: record every intended message once, then claim, send and mark it.

1. `record` inserts messages with their dedup key; a second recording of the same
   intent is skipped by the database (ON CONFLICT DO NOTHING), so re-runs are no-ops.
2. `deliver` claims a batch (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's single
   writer transaction elsewhere), sends each message and marks it sent in its own
   transaction, so a crash loses at most the one message in flight; that one is sent
   again with the same Message-ID when its claim is found abandoned.
3. Transient failures stay `failed` and are retried by later runs up to `max_attempts`;
   permanent ones (recipient refused) are recorded and never retried.
"""

from __future__ import annotations

import base64
import os
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.orm import Session

from models.db import conflict_insert, get_engine, session_scope
from models.schema import Change, OutboxContent, OutboxMessage, utcnow
from tasks.mail import (
    Attachment,
    OutgoingMessage,
    Prepared,
    SendError,
    Transport,
    parse_address,
    prepare,
)

LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class Intent:
    """A message to record: what it is, whom it is for, and why it is unique."""

    kind: str
    dedup_key: str
    recipient: str
    recipient_name: str | None
    message: OutgoingMessage
    change_ids: tuple[int, ...] = ()  # recorded date changes this message notifies


@dataclass
class RecordStats:
    recorded: int = 0
    duplicates: int = 0


@dataclass
class DeliveryStats:
    sent: int = 0
    failed: int = 0
    permanent: int = 0
    retry_later: int = 0  # of `failed`: not worth retrying in this run (login, TLS, server down)
    errors: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.failed + self.permanent

    def __add__(self, other: DeliveryStats) -> DeliveryStats:
        return DeliveryStats(self.sent + other.sent, self.failed + other.failed, self.permanent + other.permanent,
                             self.retry_later + other.retry_later, self.errors + other.errors)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _attachments_json(atts: Iterable[Attachment]) -> list[dict[str, str]]:
    return [
        {"filename": a.filename, "content_type": a.content_type, "data_b64": base64.b64encode(a.data).decode()}
        for a in atts
    ]


def to_message(row: Claimed, content: OutboxContent, sender: str) -> OutgoingMessage:
    """A message recorded before the outbox kept wire bytes (``raw``), rebuilt from its parts."""
    atts = tuple(
        Attachment(a["filename"], a["content_type"], base64.b64decode(a["data_b64"]))
        for a in content.attachments or []
    )
    name = (row.recipient_name or "").replace("<", "").replace(">", "").strip()
    to = f"{name} <{row.recipient}>" if name else row.recipient
    return OutgoingMessage(
        message_id=row.message_id, sender=sender, to=(to,), subject=row.subject,
        text=content.body_text, html=content.body_html, attachments=atts,
    )


def already_recorded(session: Session, roadmap_key: str, dedup_keys: list[str]) -> set[str]:
    """The dedup keys (without the roadmap prefix) that the outbox already holds."""
    prefix = f"{roadmap_key}:"
    found: set[str] = set()
    wanted = [prefix + k for k in dedup_keys]
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update(session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(chunk))))
    return {k[len(prefix):] for k in found}


def record(session: Session, roadmap_id: int, roadmap_key: str, as_of: date, intents: list[Intent]) -> RecordStats:
    """Insert each intent once, in one batch; returns how many were new and how many were
    already there (the database skips a dedup key it holds: ON CONFLICT DO NOTHING).

    Each message is stored with the exact bytes to send (``OutboxContent.raw``), built here
    once. A message that can never be sent as it is (a bad address) is recorded as failed
    for good, with the reason, instead of pending."""
    if not intents:
        return RecordStats()
    insert = conflict_insert(session)
    now = utcnow()
    wire = [_prepare(intent.message) for intent in intents]
    rows = [
        dict(
            roadmap_id=roadmap_id, kind=intent.kind, dedup_key=f"{roadmap_key}:{intent.dedup_key}",
            recipient=intent.recipient, recipient_name=intent.recipient_name, as_of=as_of,
            subject=intent.message.subject, message_id=intent.message.message_id, created_at=now,
            **({"status": "failed", "permanent": True, "attempts": 1, "last_error": str(w)}
               if isinstance(w, SendError) else {"status": "pending", "permanent": False, "attempts": 0}),
        )
        for intent, w in zip(intents, wire)
    ]
    stmt = (
        insert(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(OutboxMessage.id, OutboxMessage.dedup_key)
    )
    new_ids = {key: new_id for new_id, key in session.execute(stmt, rows)}
    contents = []
    for intent, row, w in zip(intents, rows, wire):
        new_id = new_ids.get(row["dedup_key"])
        if new_id is None:
            continue
        msg = intent.message
        contents.append(dict(outbox_id=new_id, body_text=msg.text, body_html=msg.html,
                             attachments=_attachments_json(msg.attachments),
                             raw=None if isinstance(w, SendError) else w.data))
        if intent.change_ids:
            session.execute(update(Change).where(Change.id.in_(intent.change_ids)).values(notice_outbox_id=new_id))
    if contents:
        session.execute(sa_insert(OutboxContent), contents)
    return RecordStats(recorded=len(new_ids), duplicates=len(intents) - len(new_ids))


def _prepare(msg: OutgoingMessage) -> Prepared | SendError:
    try:
        return prepare(msg)
    except SendError as exc:
        return exc


def load_wire(db_url: str, rows: list[Claimed], sender: str) -> dict[int, Prepared | SendError]:
    """What to send for each claimed row: its recorded bytes, with the envelope sender of
    now; or, for a message recorded before bytes were kept, the message built from its parts."""
    with session_scope(db_url, migrate=False) as session:
        raws = dict(session.execute(select(OutboxContent.outbox_id, OutboxContent.raw)
                                    .where(OutboxContent.outbox_id.in_([r.id for r in rows]))).all())
        # The bodies are read only for messages that have no bytes yet (recorded before 0005).
        legacy = [i for i, raw in raws.items() if raw is None]
        contents = {c.outbox_id: c for c in session.scalars(
            select(OutboxContent).where(OutboxContent.outbox_id.in_(legacy)))} if legacy else {}
    try:
        envelope_sender = parse_address(sender).addr_spec
    except ValueError as exc:
        envelope_sender, bad_sender = "", SendError(str(exc), permanent=True)
    else:
        bad_sender = None
    wire: dict[int, Prepared | SendError] = {}
    for row in rows:
        if row.id not in raws:
            wire[row.id] = SendError(f"outbox message {row.id} has no content", permanent=True)
        elif row.id in contents:
            wire[row.id] = _prepare(to_message(row, contents[row.id], sender))
        else:
            wire[row.id] = bad_sender or Prepared(row.message_id, envelope_sender, (row.recipient,), raws[row.id])
    return wire


def _alive(claimed_by: str | None) -> bool:
    """Whether the process that claimed a message may still be sending it."""
    if not claimed_by:
        return False
    host, _, rest = claimed_by.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: trust its lease
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """A process that has exited but was not reaped yet still answers kill(pid, 0). A killed
    command's delivery process is reaped by init, which may take its time (or, in some
    containers, never come). Linux only; elsewhere such a claim waits for its lease."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] in (b"Z", b"X")


def _as_utc(value: datetime) -> datetime:
    """SQLite stores no UTC offset, so a time written as aware UTC reads back naive."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Claimed:
    """A message claimed for sending: what delivery needs of its outbox row."""

    id: int
    recipient: str
    recipient_name: str | None
    subject: str
    message_id: str


_OUTBOX = OutboxMessage.__table__
# Statements built once (building one cost more than running it): they run per message.
_CLAIM = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"))
    .values(status="sending", claimed_by=bindparam("b_worker"), claimed_at=bindparam("b_now"),
            attempts=bindparam("b_attempts"))
)
_MARK = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"), _OUTBOX.c.claimed_by == bindparam("b_worker"))
    .values(status=bindparam("b_status"), sent_at=bindparam("b_sent_at"), last_error=bindparam("b_last_error"),
            permanent=bindparam("b_permanent"))
)


def claim(
    db_url: str, worker: str, *, limit: int, max_attempts: int, run_started: datetime,
    command_started: datetime | None = None,
) -> list[Claimed]:
    """Take up to `limit` deliverable messages for this worker, in one short transaction.

    `attempts` counts commands (runs of remind, escalate, the daily cycle), not the retries
    inside one: a message claimed again since `command_started` is not counted twice."""
    counted_since = command_started or run_started
    now = utcnow()
    t = _OUTBOX
    retryable = and_(t.c.status == "failed", t.c.permanent.is_(False), t.c.attempts < max_attempts,
                     t.c.claimed_at < run_started)
    abandoned = and_(t.c.status == "sending", t.c.claimed_at < run_started)
    with get_engine(db_url).begin() as conn:
        rows = conn.execute(
            select(t.c.id, t.c.status, t.c.attempts, t.c.claimed_by, t.c.claimed_at,
                   t.c.recipient, t.c.recipient_name, t.c.subject, t.c.message_id)
            .where(or_(t.c.status == "pending", retryable, abandoned))
            .order_by(t.c.id)
            .limit(limit * 4)
            .with_for_update(skip_locked=True)
        ).all()
        taken, changes = [], []
        for row in rows:
            if (row.status == "sending" and row.claimed_at and now - _as_utc(row.claimed_at) < LEASE
                    and _alive(row.claimed_by)):
                continue
            counted = row.claimed_at is None or _as_utc(row.claimed_at) < counted_since
            changes.append({"b_id": row.id, "b_worker": worker, "b_now": now, "b_attempts": row.attempts + counted})
            taken.append(Claimed(row.id, row.recipient, row.recipient_name, row.subject, row.message_id))
            if len(taken) == limit:
                break
        if changes:
            conn.execute(_CLAIM, changes)
    return taken


class Outcomes:
    """Records each message's outcome for one worker, each in its own short transaction."""

    def __init__(self, db_url: str, worker: str):
        self.db_url, self.worker = db_url, worker

    def sent(self, message_id: int) -> None:
        self._mark(message_id, status="sent", sent_at=utcnow())

    def failed(self, message_id: int, error: SendError) -> None:
        self._mark(message_id, status="failed", permanent=error.permanent, last_error=str(error)[:2000])

    def _mark(self, message_id: int, *, status: str, sent_at: datetime | None = None,
              last_error: str | None = None, permanent: bool = False) -> None:
        # A pooled connection each time, checked (pool_pre_ping) on PostgreSQL: one kept for
        # the whole pass could have been dropped while idle, and fail right after a send.
        with get_engine(self.db_url).begin() as conn:
            conn.execute(_MARK, dict(b_id=message_id, b_worker=self.worker, b_status=status,
                                     b_sent_at=sent_at, b_last_error=last_error, b_permanent=permanent))


def smtp_connections() -> int:
    """How many deliveries run at once, each with its own SMTP connection; the outbox claims
    split the messages between them. ROADMAP_SMTP_CONNECTIONS, default 1. It pays off when the
    server is slow to answer: 581 messages with 20 ms per message took 14.2 s on one connection,
    8.1 s on two, 4.1 s on four; against a local server with no delay, 1.76 s vs 1.46 s."""
    return max(1, int(os.environ.get("ROADMAP_SMTP_CONNECTIONS", "1") or 1))


FOLLOW_POLL = 0.005  # seconds between looks at the outbox while following a recording


def deliver(
    db_url: str, transport: Transport, *, sender: str, max_attempts: int, batch: int = 50, worker: str | None = None,
    command_started: datetime | None = None, follow: Callable[[float], bool] | None = None,
) -> DeliveryStats:
    """Send everything deliverable; the transport keeps one connection for the whole run.

    With ``follow``, messages are still being recorded while this runs: when the outbox has
    nothing to send, ``follow(seconds)`` waits up to that long and returns False once the
    recording has ended, after which one last look picks up what it recorded last."""
    worker = worker or worker_id()
    run_started = utcnow()
    stats = DeliveryStats()
    following = follow is not None
    outcomes = Outcomes(db_url, worker)
    with transport:
        while True:
            rows = claim(db_url, worker, limit=batch, max_attempts=max_attempts, run_started=run_started,
                         command_started=command_started)
            if rows:
                wire = load_wire(db_url, rows, sender)
                for row in rows:
                    send_one(outcomes, transport, row, wire[row.id], stats)
            elif following:
                following = follow(FOLLOW_POLL)  # type: ignore[misc]
            else:
                return stats


def send_one(outcomes: Outcomes, transport: Transport, row: Claimed, message: Prepared | SendError,
             stats: DeliveryStats) -> None:
    """Send one claimed message and record the outcome before anything else is sent, so a
    crash can leave at most this one message sent but not marked."""
    try:
        if isinstance(message, SendError):
            raise message
        transport.send_prepared(message)
    except SendError as exc:
        outcomes.failed(row.id, exc)
        if exc.permanent:
            stats.permanent += 1
        else:
            stats.failed += 1
            stats.retry_later += not exc.retry_in_run
        stats.errors.append(f"{row.recipient}: {exc}")
        return
    outcomes.sent(row.id)
    stats.sent += 1


def reset_failed(db_url: str, *, include_permanent: bool = True) -> int:
    """`roadmap outbox retry`: make failed messages deliverable again."""
    with session_scope(db_url) as session:
        query = update(OutboxMessage).where(OutboxMessage.status == "failed")
        if not include_permanent:
            query = query.where(OutboxMessage.permanent.is_(False))
        result = session.execute(query.values(status="pending", permanent=False, attempts=0))
        return result.rowcount or 0


def list_messages(
    db_url: str, *, status: str | None = None, kind: str | None = None, roadmap_key: str | None = None
) -> list[OutboxMessage]:
    from models.roadmaps import select_roadmap

    with session_scope(db_url) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if roadmap_key:
            query = query.where(OutboxMessage.roadmap_id == select_roadmap(session, roadmap_key).id)
        if status:
            query = query.where(OutboxMessage.status == status)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(session.scalars(query))

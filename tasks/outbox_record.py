"""Recording in the outbox: every intended message once, with its dedup key and the exact
bytes to send (``record``); what a message carries with it is written in the same
transaction: the date changes it notifies, the escalation items of a digest, the calendar
entries its .ics files leave, the check-ins it asks. Sending is tasks/outbox.py's.

A message of the whole office (``record`` with no roadmap: a digest across roadmaps,
tasks/shared_digests.py) has no roadmap prefix; what it carries is kept per roadmap (``Part``):
each part's rows under its own roadmap, and its dedup key in ``outbox_parts``, so the roadmap's
own run finds its share already recorded. A roadmap's own message claims its share there too:
of two runs that planned the same share, the first to record it sends it (``_claim``).

A second recording of the same intent is skipped by the database (ON CONFLICT DO NOTHING), so
re-runs are no-ops and the Message-ID fixed here is the one every resend carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.orm import Session

from models.db import conflict_insert
from models.schema import (
    CalendarEntry,
    Change,
    CheckIn,
    EscalationItem,
    OutboxContent,
    OutboxMessage,
    OutboxPart,
    utcnow,
)
from tasks.mail import Prepared, SendError, prepare
from tasks.mail_message import OutgoingMessage


@dataclass(frozen=True)
class Part:
    """One roadmap's share of a message of the whole office: the dedup key its own digest would
    have had (no prefix), and what that share carries, kept under the roadmap."""

    roadmap_id: int
    roadmap_key: str
    dedup_key: str
    change_ids: tuple[int, ...] = ()
    item_keys: tuple[str, ...] = ()
    calendar: tuple[dict[str, Any], ...] = ()
    checkins: tuple[str, ...] = ()


@dataclass(frozen=True)
class Intent:
    """A message to record: what it is, whom it is for, and why it is unique."""

    kind: str
    dedup_key: str
    recipient: str
    recipient_name: str | None
    message: OutgoingMessage
    change_ids: tuple[int, ...] = ()  # recorded date changes this message notifies
    item_keys: tuple[str, ...] = ()  # escalation items it carries (their dedup keys, no roadmap prefix)
    # calendar_entries rows its .ics files leave in the recipient's calendar (models/calendar_entries.py)
    calendar: tuple[dict[str, Any], ...] = ()
    checkins: tuple[str, ...] = ()  # keys of the tasks whose check-in line it carries (models/checkins.py)
    parts: tuple[Part, ...] = ()  # a message of the whole office: each roadmap's share (then the above are empty)


@dataclass
class RecordStats:
    recorded: int = 0
    duplicates: int = 0


def already_recorded(session: Session, roadmap_key: str, dedup_keys: list[str], column: Any = None) -> set[str]:
    """The dedup keys (without the roadmap prefix) that the outbox already holds, itself or as a
    roadmap's share of a message of the whole office (``outbox_parts``), or with
    ``column=EscalationItem.dedup_key`` the escalation items already sent in a digest."""
    prefix = f"{roadmap_key}:"
    columns = [OutboxMessage.dedup_key, OutboxPart.dedup_key] if column is None else [column]
    found: set[str] = set()
    wanted = [prefix + k for k in dedup_keys]
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for col in columns:
            found.update(session.scalars(select(col).where(col.in_(chunk))))
    return {k[len(prefix):] for k in found}


def record(session: Session, roadmap_id: int | None, roadmap_key: str | None, as_of: date,
           intents: list[Intent]) -> RecordStats:
    """Insert each intent once, in one batch; returns how many were new and how many were
    already there (the database skips a dedup key it holds: ON CONFLICT DO NOTHING).

    A message of the whole office (the portfolio report, a digest across roadmaps) has no
    roadmap: ``roadmap_id`` and ``roadmap_key`` None, its dedup key without a roadmap prefix
    (migration 0014); a digest across roadmaps carries its roadmaps' shares (``parts``).

    A message that can never be sent as it is (a bad address) is recorded as failed for
    good, with the reason, instead of pending."""
    if not intents:
        return RecordStats()
    wire: list[Prepared | SendError] = []
    for intent in intents:
        try:
            wire.append(prepare(intent.message))
        except SendError as exc:
            wire.append(exc)
    now = utcnow()
    prefix = f"{roadmap_key}:" if roadmap_key is not None else ""
    rows = [
        dict(
            roadmap_id=roadmap_id, kind=intent.kind, dedup_key=prefix + intent.dedup_key,
            recipient=intent.recipient, recipient_name=intent.recipient_name, as_of=as_of,
            subject=intent.message.subject, message_id=intent.message.message_id, created_at=now,
            **({"status": "failed", "permanent": True, "attempts": 1, "last_error": str(w)}
               if isinstance(w, SendError) else {"status": "pending", "permanent": False, "attempts": 0}),
        )
        for intent, w in zip(intents, wire, strict=True)
    ]
    stmt = (
        conflict_insert(session)(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(OutboxMessage.id, OutboxMessage.dedup_key)
    )
    new_ids = {key: new_id for new_id, key in session.execute(stmt, rows)}
    shares = {row["dedup_key"]: _shares(intent, roadmap_id, roadmap_key)
              for intent, row in zip(intents, rows, strict=True)}
    keys = {new_id: key for key, new_id in new_ids.items()}
    for lost in _claim(session, {new_id: shares[key] for new_id, key in keys.items()}):
        del new_ids[keys[lost]]
    contents, items, entries, checkins = [], [], [], []
    for intent, row, w in zip(intents, rows, wire, strict=True):
        new_id = new_ids.get(row["dedup_key"])
        if new_id is None:
            continue
        msg = intent.message
        # The bodies stay readable for whoever audits the outbox; the attachments' bytes are
        # in ``raw`` already, so only their names are kept beside it.
        contents.append(dict(outbox_id=new_id, body_text=msg.text, body_html=msg.html,
                             attachments=[{"filename": a.filename, "content_type": a.content_type}
                                          for a in msg.attachments],
                             raw=None if isinstance(w, SendError) else w.data))
        for p in shares[row["dedup_key"]]:
            if p.change_ids:
                session.execute(update(Change).where(Change.id.in_(p.change_ids)).values(notice_outbox_id=new_id))
            items += [dict(roadmap_id=p.roadmap_id, dedup_key=f"{p.roadmap_key}:{k}", outbox_id=new_id)
                      for k in p.item_keys]
            entries += [dict(row, roadmap_id=p.roadmap_id, outbox_id=new_id) for row in p.calendar]
            checkins += [dict(roadmap_id=p.roadmap_id, task_key=k, day=as_of, email=intent.recipient.lower(),
                              outbox_id=new_id) for k in p.checkins]
    if contents:
        session.execute(sa_insert(OutboxContent), contents)
    if items:  # an item another run recorded meanwhile stays with that run's digest
        session.execute(conflict_insert(session)(EscalationItem).on_conflict_do_nothing(index_elements=["dedup_key"]),
                        items)
    if entries:
        _record_calendar_entries(session, entries)
    if checkins:
        session.execute(conflict_insert(session)(CheckIn).on_conflict_do_nothing(
            index_elements=["roadmap_id", "task_key", "day"]), checkins)
    return RecordStats(recorded=len(new_ids), duplicates=len(intents) - len(new_ids))


def _shares(intent: Intent, roadmap_id: int | None, roadmap_key: str | None) -> tuple[Part, ...]:
    """What a message carries, per roadmap: a roadmap's own message is its one share."""
    if roadmap_id is None or roadmap_key is None:
        return intent.parts
    return (Part(roadmap_id, roadmap_key, intent.dedup_key, intent.change_ids, intent.item_keys, intent.calendar,
                 intent.checkins),)


def _claim(session: Session, shares: dict[int, tuple[Part, ...]]) -> list[int]:
    """Claim each new message's shares in ``outbox_parts`` (one row per roadmap's digest, unique by
    its dedup key); the messages that lost a claim to another run are taken back out (their ids).

    This is the one guard between a roadmap's own digest and a digest across roadmaps carrying
    the same share: each is planned from what was recorded when it was planned, so two runs can
    plan the same share; whichever records it first sends it, the other drops its message (a
    digest across roadmaps then leaves its other shares to their roadmaps' own runs). Rows are
    claimed in key order, so two runs claiming overlapping shares wait for each other, not
    deadlock (PostgreSQL makes the second wait for the first's commit)."""
    claims = sorted((f"{p.roadmap_key}:{p.dedup_key}", outbox_id, p.roadmap_id)
                    for outbox_id, parts in shares.items() for p in parts if p.dedup_key)
    if not claims:
        return []
    stmt = (conflict_insert(session)(OutboxPart).on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(OutboxPart.dedup_key))
    claimed = set(session.scalars(stmt, [dict(dedup_key=key, outbox_id=outbox_id, roadmap_id=roadmap_id)
                                         for key, outbox_id, roadmap_id in claims]))
    lost = sorted({outbox_id for key, outbox_id, _ in claims if key not in claimed})
    if lost:
        session.execute(delete(OutboxPart).where(OutboxPart.outbox_id.in_(lost)))
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(lost)))
    return lost


def _record_calendar_entries(session: Session, rows: list[dict[str, Any]]) -> None:
    """What the recorded messages' .ics files leave in calendars: one row per address and
    task, replaced by the latest message's."""
    stmt = conflict_insert(session)(CalendarEntry)
    changing = ("person", "uid", "sequence", "due", "summary", "cancelled", "outbox_id")
    session.execute(stmt.on_conflict_do_update(index_elements=["roadmap_id", "email", "task_key"],
                                               set_={c: stmt.excluded[c] for c in changing}), rows)

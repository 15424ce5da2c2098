"""What an operator does with the outbox: list it (`roadmap outbox`), send failed messages again
(`roadmap outbox retry`), dismiss them (`roadmap outbox dismiss`), and the count and line that
say how many failed messages are waiting for someone.

A message that failed for good (refused, or out of attempts) is never sent again by a run,
so it would stay in the outbox unnoticed. Every run therefore counts the `failed` messages
and says so (the CLI on stderr, a flow run in its log, the weekly report in its mail section)
until someone sends them again (`roadmap outbox retry`) or dismisses them. Dismissing keeps
the message, its content and its error; it sets the status to `dismissed` and records who
and when, so a dismissed message is neither sent nor counted any more.
"""

from __future__ import annotations

import getpass
import socket
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update

from models.db import session_scope
from models.errors import UserError
from models.roadmaps import select_roadmap
from models.schema import OutboxMessage, roadmap_messages, utcnow

FAILED = "failed"
# Outbox ids are the column's INTEGER (32 bits in PostgreSQL, 64 in SQLite): a larger number
# names no message, and is never put in a query, where the driver would overflow on it.
MAX_ID = 2**31 - 1


def waiting_count(db_url: str) -> int:
    """Failed messages in the whole outbox (any roadmap, any day) that nobody dismissed."""
    with session_scope(db_url, migrate=False) as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == FAILED)) or 0


def waiting_line(count: int) -> str:
    """The one wording of the warning, for the CLI and the logs."""
    said, them = (("1 message failed and is waiting", "it") if count == 1
                  else (f"{count} messages failed and are waiting", "them"))
    return (f"{said}: `roadmap outbox --status failed` to see {them}, "
            "`roadmap outbox retry` or `roadmap outbox dismiss`")


def current_user() -> str:
    """Who is dismissing, as the outbox records it: login@host."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def dismiss(db_url: str, ids: list[int], *, all_failed: bool = False, roadmap_key: str | None = None,
            by: str | None = None) -> list[int]:
    """Dismiss the failed messages ``ids`` (or every failed one, of ``roadmap_key`` if given);
    returns the ids dismissed. An id that is not a failed message is refused and nothing changes."""
    if bool(ids) == all_failed:
        raise UserError("outbox dismiss: give the ids of failed messages, or --all-failed")
    if roadmap_key and not all_failed:
        raise UserError("outbox dismiss: --roadmap goes with --all-failed")
    who = (by or current_user())[:200]
    with session_scope(db_url) as session:
        query = select(OutboxMessage.id, OutboxMessage.status)
        if all_failed:
            query = query.where(OutboxMessage.status == FAILED)
            if roadmap_key:
                query = query.where(OutboxMessage.roadmap_id == select_roadmap(session, roadmap_key).id)
        else:
            query = query.where(OutboxMessage.id.in_([id_ for id_ in ids if 1 <= id_ <= MAX_ID]))
        found = {id_: status for id_, status in session.execute(query.order_by(OutboxMessage.id))}
        for wanted in ids:
            if wanted not in found:
                raise UserError(f"outbox dismiss: there is no outbox message {wanted}")
            if found[wanted] != FAILED:
                raise UserError(f"outbox dismiss: message {wanted} is {found[wanted]}, not failed: "
                                "only failed messages can be dismissed")
        chosen = sorted(found)
        if chosen:
            # Still failed: a `retry` running meanwhile may have queued one again.
            result = cast(CursorResult[Any], session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(chosen), OutboxMessage.status == FAILED)
                .values(status="dismissed", dismissed_at=utcnow(), dismissed_by=who)))
            if result.rowcount != len(chosen):
                session.rollback()
                raise UserError("outbox dismiss: some of these messages changed meanwhile (retried?); "
                                "nothing was dismissed, list them again")
        return chosen


def reset_failed(db_url: str, *, include_permanent: bool = True) -> int:
    """`roadmap outbox retry`: make failed messages deliverable again."""
    with session_scope(db_url) as session:
        query = update(OutboxMessage).where(OutboxMessage.status == "failed")
        if not include_permanent:
            query = query.where(OutboxMessage.permanent.is_(False))
        result = cast(CursorResult[Any], session.execute(query.values(status="pending", permanent=False, attempts=0)))
        return result.rowcount or 0


def list_messages(
    db_url: str, *, status: str | None = None, kind: str | None = None, roadmap_key: str | None = None
) -> list[OutboxMessage]:
    with session_scope(db_url) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if roadmap_key:  # its own messages, and the digests across roadmaps that carried its share
            query = query.where(roadmap_messages(select_roadmap(session, roadmap_key).id))
        if status:
            query = query.where(OutboxMessage.status == status)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(session.scalars(query))

"""The database schema (SQLAlchemy 2, typed). Changes go through Alembic: models/migrations.

Rows inside a roadmap refer to each other by key (a task's owner is a person key), the
way the roadmap file does; this keeps import an upsert by key and lets archived rows keep
their references. Rows are never deleted by an import: missing ones are archived.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    or_,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def in_zone(at: datetime, timezone: str) -> datetime:
    """A stored timestamp (UTC; SQLite gives it back without a zone) in ``timezone``."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(ZoneInfo(timezone))


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class Roadmap(Base):
    __tablename__ = "roadmaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(Text)
    # The roadmap's name in mail subjects (migration 0007); None: derived from the title
    # (models/subjects.py short_title).
    short_title: Mapped[str | None] = mapped_column(Text, nullable=True, sort_order=1)
    session_date: Mapped[date] = mapped_column()
    session_place: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64))
    calendar: Mapped[str] = mapped_column(String(8))  # the country (models/calendar.py)
    # Region and the roadmap's own days (migration 0009): {"region": "BY", "extra_days_off":
    # ["2015-03-10"], "extra_working_days": [...]}, keys left out when empty; None or {} for none.
    calendar_rules: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True, sort_order=1)
    language: Mapped[str] = mapped_column(String(2))
    office_name: Mapped[str] = mapped_column(Text)
    office_email: Mapped[str] = mapped_column(String(320))
    report_to: Mapped[list[Any]] = mapped_column(default=list)
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_path: Mapped[str | None] = mapped_column(Text)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A finished roadmap whose mail has stopped (migration 0012, `roadmap archive KEY`): left out
    # of every-roadmap runs and views, planning no mail; who and when are in its history.
    archived: Mapped[bool] = mapped_column(default=False, server_default=false(), sort_order=1)


class InRoadmap:
    """The columns of every row that belongs to a roadmap: its key there, order and archive flag."""

    id: Mapped[int] = mapped_column(primary_key=True)
    roadmap_id: Mapped[int] = mapped_column(ForeignKey("roadmaps.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    archived: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)


class Partner(InRoadmap, Base):
    __tablename__ = "partners"
    __table_args__ = (UniqueConstraint("roadmap_id", "key"),)

    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(100))
    formats: Mapped[list[Any]] = mapped_column(default=list)


class Person(InRoadmap, Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("roadmap_id", "key"),)

    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(String(320))
    partner: Mapped[str | None] = mapped_column(String(100))
    manager: Mapped[str | None] = mapped_column(String(100))
    # Away and delegate (migration 0004): set from the web ("I am away until ... and X reads my
    # reminders"), never from the roadmap file, so an import leaves them alone. While
    # `as_of <= away_until`, the person's digests go to `delegate` (models/notify.py); escalations
    # still go up the owner's own chain. sort_order keeps them the table's last columns, as the
    # migration added them.
    away_until: Mapped[date | None] = mapped_column(nullable=True, sort_order=1)
    delegate: Mapped[str | None] = mapped_column(String(100), nullable=True, sort_order=1)
    # The generation of the person's calendar feed link (migration 0008): `roadmap calendar-link
    # --revoke` raises it, and every feed link signed for an older generation is refused.
    calendar_generation: Mapped[int] = mapped_column(default=0, server_default="0", sort_order=1)
    # The language of the person's mail and pages (migration 0010); None: the roadmap's.
    language: Mapped[str | None] = mapped_column(String(2), nullable=True, sort_order=1)


class Workstream(InRoadmap, Base):
    __tablename__ = "workstreams"
    __table_args__ = (UniqueConstraint("roadmap_id", "key"),)

    title: Mapped[str] = mapped_column(Text)


class Stage(InRoadmap, Base):
    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("roadmap_id", "key"),)

    title: Mapped[str] = mapped_column(Text)
    start_expr: Mapped[str] = mapped_column(Text)
    end_expr: Mapped[str] = mapped_column(Text)
    start: Mapped[date] = mapped_column()
    end: Mapped[date] = mapped_column()
    goal: Mapped[str | None] = mapped_column(Text)


class Task(InRoadmap, Base):
    """A key task. File fields, live status (file or CLI/web), and the computed schedule."""

    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("roadmap_id", "key"), Index("ix_tasks_owner", "roadmap_id", "owner"))

    title: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(100))
    workstream: Mapped[str | None] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(100))
    partners: Mapped[list[Any]] = mapped_column(default=list)
    depends_on: Mapped[list[Any]] = mapped_column(default=list)
    start_expr: Mapped[str | None] = mapped_column(Text)
    due_expr: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[int | None] = mapped_column()
    notes: Mapped[str | None] = mapped_column(Text)
    # Live state. `file_state` remembers what the file said at the last import, so a
    # re-import only overrides a CLI/web update when the file itself changed.
    status: Mapped[str] = mapped_column(String(20), default="planned")
    done_on: Mapped[date | None] = mapped_column()
    progress: Mapped[int | None] = mapped_column()
    forecast: Mapped[date | None] = mapped_column()
    file_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Computed by the scheduler.
    start: Mapped[date] = mapped_column()
    due: Mapped[date] = mapped_column()
    finish: Mapped[date] = mapped_column()
    slack: Mapped[int] = mapped_column(default=0)
    critical: Mapped[bool] = mapped_column(default=False)
    baseline_start: Mapped[date] = mapped_column()
    baseline_due: Mapped[date] = mapped_column()
    # Raised whenever `due` moves, so calendar entries (.ics) update instead of duplicating.
    sequence: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Risk(InRoadmap, Base):
    __tablename__ = "risks"
    __table_args__ = (UniqueConstraint("roadmap_id", "key"),)

    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(100))
    partner: Mapped[str | None] = mapped_column(String(100))
    probability: Mapped[int] = mapped_column()
    impact: Mapped[int] = mapped_column()
    mitigation: Mapped[str | None] = mapped_column(Text)
    review: Mapped[date | None] = mapped_column()
    reviewed_on: Mapped[date | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="open")
    tasks: Mapped[list[Any]] = mapped_column(default=list)
    file_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def score(self) -> int:
        return self.probability * self.impact


class Change(Base):
    """One recorded change of one field: the history of tasks, risks and the rest."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_entity", "roadmap_id", "entity", "entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    roadmap_id: Mapped[int] = mapped_column(ForeignKey("roadmaps.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))  # task | risk | stage | person | ...
    entity_key: Mapped[str] = mapped_column(String(100))
    field: Mapped[str] = mapped_column(String(40))  # a field name, or "added" / "archived"
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # import | cli | web | schedule
    actor: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # For due-date changes: the outbox message that told the owner (rescheduling notice).
    notice_outbox_id: Mapped[int | None] = mapped_column()


# The kinds of outbox messages: an owner's digest (reminder; notice: only date changes; calendar:
# only calendar entries withdrawn, models/notify.py), an escalation digest, a roadmap's weekly
# report, and the office's portfolio report.
MESSAGE_KINDS = ("reminder", "notice", "calendar", "escalation", "report", "portfolio")


class OutboxMessage(Base):
    """Every intended message, recorded before it is sent and updated with the outcome.

    The dedup key makes a second recording of the same intent a no-op; the Message-ID
    is fixed here, so a resend after a crash carries the same one.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: a message of the whole office (the portfolio report; a digest across roadmaps)
    roadmap_id: Mapped[int | None] = mapped_column(ForeignKey("roadmaps.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # one of MESSAGE_KINDS
    dedup_key: Mapped[str] = mapped_column(String(400), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    recipient_name: Mapped[str | None] = mapped_column(Text)
    as_of: Mapped[date] = mapped_column()
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(400))
    # pending | sending | sent | failed | dismissed (a failed message someone chose not to send:
    # `roadmap outbox dismiss`; its content and error are kept, with who dismissed it and when)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    permanent: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    dismissed_at: Mapped[datetime | None] = mapped_column()
    dismissed_by: Mapped[str | None] = mapped_column(String(200))


class EscalationItem(Base):
    """One item of an escalation digest (migration 0007): a task at a level, or a risk trigger,
    for one recipient, under the item's own dedup key (models/notify.py Escalation.dedup_key,
    with the roadmap prefix), and the outbox message that carried it. The key is unique: the
    same item at the same level never goes to the same person twice, whatever the digest."""

    __tablename__ = "escalation_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    roadmap_id: Mapped[int] = mapped_column(ForeignKey("roadmaps.id", ondelete="CASCADE"), index=True)
    dedup_key: Mapped[str] = mapped_column(String(400), unique=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)


class OutboxPart(Base):
    """One roadmap's share of a message (migration 0015), its claim: a digest across roadmaps
    (tasks/shared_digests.py) carries the digest each of its roadmaps would have sent on its own,
    and this row holds that digest's dedup key, with the roadmap prefix, so the roadmap's own run
    finds it already recorded (tasks/outbox_record.py ``already_recorded``). A roadmap's own
    message claims its one share here too, so that of two runs planning the same share only the
    first to record it sends it (tasks/outbox_record.py ``_claim``)."""

    __tablename__ = "outbox_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    roadmap_id: Mapped[int] = mapped_column(ForeignKey("roadmaps.id", ondelete="CASCADE"), index=True)
    dedup_key: Mapped[str] = mapped_column(String(400), unique=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)


def roadmap_messages(roadmap_id: int) -> ColumnElement[bool]:
    """The outbox rows that are a roadmap's: its own messages, and the digests across roadmaps
    that carried its share."""
    return or_(OutboxMessage.roadmap_id == roadmap_id,
               OutboxMessage.id.in_(select(OutboxPart.outbox_id).where(OutboxPart.roadmap_id == roadmap_id)))


class CheckIn(Base):
    """A check-in line sent (migration 0012): the task, the day of the digest that carried it,
    the address it went to, and the outbox message. An unanswered check-in is escalated from
    these rows (models/checkins.py ``unanswered``): only a check-in that was sent, and the
    same whatever days the escalation runs missed."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("roadmap_id", "task_key", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    roadmap_id: Mapped[int] = mapped_column(ForeignKey("roadmaps.id", ondelete="CASCADE"))
    task_key: Mapped[str] = mapped_column(String(100))
    day: Mapped[date] = mapped_column()
    email: Mapped[str] = mapped_column(String(320))  # lower case: the reader's address that day
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)


class CalendarEntry(Base):
    """What a person's calendar holds of one task, as the mail .ics files sent to one address
    left it (migration 0008): its UID, the last SEQUENCE sent, the due date and title, and
    whether the entry was withdrawn (METHOD:CANCEL). The reminder run compares these rows with
    the open tasks to know which entries to withdraw (models/calendar_entries.py); a row is
    written with the outbox message that carried its .ics (tasks/outbox_record.py record)."""

    __tablename__ = "calendar_entries"
    __table_args__ = (UniqueConstraint("roadmap_id", "email", "task_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    roadmap_id: Mapped[int] = mapped_column(ForeignKey("roadmaps.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # lower case: the address the .ics went to
    person: Mapped[str | None] = mapped_column(String(100))  # the recipient's person key
    task_key: Mapped[str] = mapped_column(String(100))
    uid: Mapped[str] = mapped_column(String(400))
    sequence: Mapped[int] = mapped_column()
    due: Mapped[date] = mapped_column()
    summary: Mapped[str] = mapped_column(Text)
    cancelled: Mapped[bool] = mapped_column(default=False)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))


class OutboxContent(Base):
    """What an outbox message says, written once when it is recorded and never updated.

    Kept apart from the delivery state in ``outbox``, which is updated at each claim and
    delivery: SQLite rewrites a whole row on update, and the bodies made that the main cost
    of marking a message sent. ``raw`` holds the exact bytes to send, so a message resent
    after a crash is the same message byte for byte; it is NULL only for messages recorded
    before it existed (built from the other columns when sent)."""

    __tablename__ = "outbox_content"

    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(default=list)  # [{filename, content_type, data_b64}]
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)


class ReportSnapshot(Base):
    """The context of one weekly report (``ReportContext.to_dict()``), one per roadmap and ISO week.

    ``state`` is a compact record of every live task and risk at the report date (status,
    due date, overdue or not), which next week's report compares with to list the changes;
    the context itself only holds the rows the report shows. Regenerating a week's report
    replaces its snapshot in place (same row, ``created_at`` kept, ``updated_at`` moved).
    """

    __tablename__ = "report_snapshots"
    __table_args__ = (UniqueConstraint("roadmap_id", "iso_year", "iso_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    roadmap_id: Mapped[int] = mapped_column(ForeignKey("roadmaps.id", ondelete="CASCADE"), index=True)
    iso_year: Mapped[int] = mapped_column()
    iso_week: Mapped[int] = mapped_column()
    as_of: Mapped[date] = mapped_column()
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


"""Plan, record and deliver reminders and escalations for one roadmap on one day.

Plain functions, no Prefect: the CLI calls `remind` and `escalate`; the Prefect flows call
the same steps (`plan_reminders` or `plan_escalation_messages`, then `send_plan`, then
`tasks.mail_summary.summarise`) as tasks. What is due is decided in models/notify.py from the
data and the as-of day; here it is rendered, recorded in the outbox and delivered.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import func, select

from config import Settings, get_settings
from models.calendar import BusinessCalendar
from models.calendar_entries import add_withdrawals, entry_rows, holders, load_entries, unheld
from models.checkins import ANSWER_FIELDS, ANSWER_SOURCES, checkin_cutoff, unanswered
from models.db import session_scope
from models.notify import (
    Digest,
    EscalationDigest,
    digest_key,
    load_directory,
    plan_digests,
    plan_escalation_digests,
    plan_escalations,
)
from models.planning import open_task_rows, roadmap_calendar
from models.roadmaps import day_of, select_roadmap
from models.schema import (
    Change,
    CheckIn,
    EscalationItem,
    OutboxMessage,
    OutboxPart,
    Risk,
    Roadmap,
    Stage,
    in_zone,
    roadmap_messages,
)
from models.spec import Policy
from tasks.mail import transport_from_settings
from tasks.mail_message import make_message_id
from tasks.mail_summary import MailSummary, summarise
from tasks.outbox import DeliveryStats, Recording, deliver
from tasks.outbox_record import Intent, RecordStats, already_recorded, record
from tasks.render_mail import render_digest, render_escalation_digest

log = logging.getLogger("roadmap")


@dataclass
class Plan:
    """One day's messages for one roadmap: planned, not yet rendered.

    Rendering is the slow part of a run (a few milliseconds a digest), so it is left to
    `send_plan`, which renders chunk by chunk while the previous chunks are being sent;
    ``intents`` renders everything at once (dry runs, tests)."""

    roadmap_id: int
    roadmap_key: str
    as_of: date
    todo: list[Digest] | list[EscalationDigest] = field(default_factory=list)  # new today
    # Dedup keys of this day's messages already in the outbox: neither rendered nor recorded
    # again, but still counted in the run's result (a message that failed stays a failure).
    already: list[str] = field(default_factory=list)
    render_one: Callable[[Any], Intent] | None = field(default=None, repr=False, compare=False)
    # False with a user's template folder: everything is rendered before anything is sent,
    # so that a mistake in a template met half-way through sends nothing.
    stream: bool = True
    # The roadmap's rendering arguments (``_render_args``): a digest across roadmaps
    # (tasks/shared_digests.py) renders each roadmap's part with them.
    args: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def render(self, items: Iterable[Any]) -> list[Intent]:
        assert self.render_one is not None or not self.todo
        return [self.render_one(item) for item in items]  # type: ignore[misc]

    @cached_property
    def intents(self) -> list[Intent]:
        """Every message of the plan, rendered once (the same Message-IDs on every access)."""
        return self.render(self.todo)

    @property
    def dedup_keys(self) -> list[str]:
        return [item.dedup_key for item in self.todo] + self.already


def _mail_domain(settings: Settings) -> str:
    return settings.mail_from_domain


def _render_args(roadmap: Roadmap, settings: Settings) -> dict:
    return dict(
        roadmap_title=roadmap.title, short_title=roadmap.short_title,
        roadmap_key=roadmap.key, lang=roadmap.language,
        office_name=roadmap.office_name, office_email=roadmap.office_email, sender=settings.mail_from,
        template_dir=settings.template_dir, public_url=settings.public_url, secret_key=settings.secret_key,
    )


def _plan(roadmap: Roadmap, day: date, items: list[Any], recorded: set[str],
          render_one: Callable[[Any], Intent], settings: Settings, args: dict[str, Any]) -> Plan:
    """The plan of ``items``; those already recorded (a re-run the same day, where recording
    would be a no-op) are only counted."""
    return Plan(roadmap.id, roadmap.key, day, todo=[i for i in items if i.dedup_key not in recorded],
                already=[i.dedup_key for i in items if i.dedup_key in recorded], render_one=render_one,
                stream=settings.template_dir is None, args=args)


def reminder_share(d: Digest, roadmap_key: str) -> dict[str, Any]:
    """What a digest carries, kept under its roadmap when recorded (tasks/outbox_record.py):
    the date changes it notifies, the calendar entries its .ics files leave, its check-ins."""
    return dict(change_ids=tuple(i for line in d.lines for i in line.change_ids),
                calendar=tuple(entry_rows(d, roadmap_key=roadmap_key)),
                checkins=tuple(line.key for line in d.lines if line.reason == "checkin"))


def plan_reminders(db_url: str, roadmap_key: str | None, as_of: date | None, settings: Settings | None = None) -> Plan:
    """The day's digests (reminders and rescheduling notices), not yet rendered or recorded."""
    settings = settings or get_settings()
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        day = day_of(roadmap, as_of)
        if roadmap.archived:  # `roadmap archive`: its mail has stopped
            return Plan(roadmap.id, roadmap.key, day)
        tasks = open_task_rows(session, roadmap.id)
        stages = {s.key: s.title for s in session.scalars(select(Stage).where(Stage.roadmap_id == roadmap.id))}
        moves = [
            (c.id, c.entity_key, date.fromisoformat(c.old), date.fromisoformat(c.new))
            for c in session.scalars(
                select(Change).where(
                    Change.roadmap_id == roadmap.id, Change.entity == "task", Change.field == "due",
                    Change.notice_outbox_id.is_(None), Change.old.is_not(None),
                ).order_by(Change.id)
            )
            if c.old is not None and c.new is not None  # a due move has both dates (the query asks for old)
        ]
        directory = load_directory(session, roadmap)
        entries = load_entries(session, roadmap.id)
        # Only the day's reminder digests are planned again under the same key on a re-run; the
        # entries a notice left today are held like any other (else a re-run kicks them off).
        # A digest across roadmaps that carried this roadmap's part counts as the roadmap's own.
        sent_today = set(session.scalars(select(OutboxMessage.id).where(
            roadmap_messages(roadmap.id), OutboxMessage.as_of == day, OutboxMessage.kind == "reminder")))
        digests = plan_digests(tasks, directory, day, roadmap_calendar(roadmap), moves, stages,
                               new=unheld(tasks, entries, directory, sent_today))
        args = _render_args(roadmap, settings)
        recorded = already_recorded(session, roadmap.key, [d.dedup_key for d in digests])
        # Calendar entries no longer true go into their holder's digest, or a calendar update.
        updates = add_withdrawals(digests, entries, holders(tasks, directory, day), directory, day, recorded)
        recorded |= already_recorded(session, roadmap.key, [d.dedup_key for d in updates])
        digests += updates
        domain = _mail_domain(settings)

    def render_one(d: Digest) -> Intent:
        msg = render_digest(d, message_id=make_message_id(domain), **args)
        return Intent(d.kind, d.dedup_key, d.recipient.email, d.recipient.name, msg,
                      **reminder_share(d, args["roadmap_key"]))

    return _plan(roadmap, day, digests, recorded, render_one, settings, args)


def plan_escalation_messages(
    db_url: str, roadmap_key: str | None, as_of: date | None, settings: Settings | None = None
) -> Plan:
    """The day's escalation digests: one per recipient, of the items never sent to them."""
    settings = settings or get_settings()
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        day = day_of(roadmap, as_of)
        if roadmap.archived:  # `roadmap archive`: its mail has stopped
            return Plan(roadmap.id, roadmap.key, day)
        tasks = open_task_rows(session, roadmap.id)
        risks = list(session.scalars(select(Risk).where(Risk.roadmap_id == roadmap.id, Risk.archived.is_(False))))
        stages = {s.key: s.title for s in session.scalars(select(Stage).where(Stage.roadmap_id == roadmap.id))}
        directory, cal = load_directory(session, roadmap), roadmap_calendar(roadmap)
        checkins = _unanswered_checkins(session, roadmap, tasks, day, cal)
        escalations = plan_escalations(tasks, risks, directory, day, cal, checkins)
        args = _render_args(roadmap, settings)
        sent = already_recorded(session, roadmap.key, [e.dedup_key for e in escalations], EscalationItem.dedup_key)
        prefix = f"{roadmap.key}:"
        today = [k[len(prefix):] for k in session.scalars(select(OutboxMessage.dedup_key).where(
            OutboxMessage.roadmap_id == roadmap.id, OutboxMessage.kind == "escalation", OutboxMessage.as_of == day))]
        today += [k[len(prefix):] for k in session.scalars(  # its parts of digests across roadmaps
            select(OutboxPart.dedup_key).join(OutboxMessage, OutboxMessage.id == OutboxPart.outbox_id).where(
                OutboxPart.roadmap_id == roadmap.id, OutboxMessage.kind == "escalation", OutboxMessage.as_of == day))]
        today = list(dict.fromkeys(today))  # its own messages claim their share too (tasks/outbox_record.py)
        domain = _mail_domain(settings)
    for e in escalations:
        if "stage" in e.detail:
            e.detail["stage"] = stages.get(str(e.detail["stage"]), e.detail["stage"])
    # Today's digests to the people escalated to today: counted in the run's result, and
    # numbered so that a later digest of the day (new items only) has a key of its own.
    bases = {digest_key(e.recipient.email, day) for e in escalations}
    already = [k for k in today if k.rsplit(":", 1)[0] in bases or k in bases]
    counts = Counter(k if k in bases else k.rsplit(":", 1)[0] for k in already)
    digests = plan_escalation_digests(escalations, day, sent, counts)

    def render_one(d: EscalationDigest) -> Intent:
        msg = render_escalation_digest(d, message_id=make_message_id(domain), **args)
        return Intent(d.kind, d.dedup_key, d.recipient.email, d.recipient.name, msg,
                      item_keys=tuple(e.dedup_key for e in d.items))

    return Plan(roadmap.id, roadmap.key, day, todo=digests, already=already, render_one=render_one,
                stream=settings.template_dir is None, args=args)


def _unanswered_checkins(session: Any, roadmap: Roadmap, tasks: list[Any], day: date,
                         cal: BusinessCalendar) -> dict[str, date]:
    """The check-ins left unanswered by ``day`` (models/checkins.py), from the check-ins sent
    (``checkins`` rows whose message was delivered) and the answers in the history."""
    policy = Policy.of(roadmap)
    answered: dict[str, date] = {}
    for key, at in session.execute(
            select(Change.entity_key, func.max(Change.at)).where(
                Change.roadmap_id == roadmap.id, Change.entity == "task", Change.source.in_(ANSWER_SOURCES),
                Change.field.in_(ANSWER_FIELDS))
            .group_by(Change.entity_key)):
        answered[key] = in_zone(at, roadmap.timezone).date()  # the roadmap's day, as check-in days are
    # Per task, its latest check-in sent long enough ago to be escalated today: however long
    # ago that was, so that escalation runs missed for weeks miss no check-in.
    sent = {key: on for key, on in session.execute(
        select(CheckIn.task_key, func.max(CheckIn.day))
        .join(OutboxMessage, OutboxMessage.id == CheckIn.outbox_id)
        .where(CheckIn.roadmap_id == roadmap.id, OutboxMessage.status == "sent",
               CheckIn.day <= checkin_cutoff(day, cal, policy))
        .group_by(CheckIn.task_key))}
    return unanswered(tasks, day, cal, policy, answered, sent)


CHUNK = 25  # digests rendered and recorded at a time while earlier ones are being sent


def chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """``items`` in lists of ``size``, in order (the last one shorter)."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def record_plan(db_url: str, plan: Plan, recording: Recording | None = None) -> RecordStats:
    """Render and record the plan, a chunk per transaction, so that a delivery following the
    ``recording`` can send the first messages while the rest render. With a user's template
    folder everything is rendered first: a mistake in a template met half-way then records nothing."""
    total = RecordStats()
    batches = chunks(plan.todo) if plan.stream else [plan.intents]
    for batch in batches:
        intents = plan.render(batch) if plan.stream else batch
        with session_scope(db_url, migrate=False) as session:
            stats = record(session, plan.roadmap_id, plan.roadmap_key, plan.as_of, intents)
        total.recorded += stats.recorded
        total.duplicates += stats.duplicates
        if recording is not None:
            recording.advanced()
    return total


def deliver_pending(db_url: str, settings: Settings | None = None,
                    follow: Recording | None = None) -> DeliveryStats:
    """Send everything deliverable in the outbox (any roadmap, any day: leftovers too) over
    ROADMAP_SMTP_CONNECTIONS connections; with ``follow``, until that recording has ended.
    Warns (the "roadmap" log; stderr when no logging is set up) when the links of mail sent
    through SMTP cannot work for their readers."""
    settings = settings or get_settings()
    if problem := settings.unreachable_links:
        log.warning("warning: %s", problem)
    return deliver(
        db_url, lambda: transport_from_settings(settings), sender=settings.mail_from,
        max_attempts=settings.mail_max_attempts, lease=timedelta(seconds=settings.mail_lease_seconds),
        connections=settings.smtp_connections, follow=follow,
    )


@dataclass
class Sent:
    """What one `send_plan` did: recorded of the plan, delivered of the whole outbox."""

    recorded: RecordStats
    delivery: DeliveryStats


GIL_SWITCH_INTERVAL = 0.0002  # seconds; Python's default is 0.005


def send_plan(db_url: str, plan: Plan) -> Sent:
    """Record the plan's messages while the outbox is being delivered: sending waits on the
    relay, rendering on the CPU, so they overlap.

    Each message a delivery thread sends needs the interpreter a dozen times (database and
    SMTP round trips), and while this thread renders, each time waits up to the interpreter's
    switch interval: at the default 5 ms that made every send ~50 ms slower than the relay.
    A shorter interval for the length of the overlap took 492 digests over a 20 ms relay with
    4 connections from 5.3 s to 4.0 s (bench/bench_relay.py)."""
    recording = Recording()
    default_interval = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="delivery") as pool:
            # In this thread's context: a caller's `one_delivery_run` holds for it too.
            delivery = pool.submit(contextvars.copy_context().run, deliver_pending, db_url, follow=recording)
            try:
                recorded = record_plan(db_url, plan, recording)
            finally:
                recording.ended()
            return Sent(recorded, delivery.result())
    finally:
        sys.setswitchinterval(default_interval)


def remind(db_url: str, roadmap_key: str | None, as_of: date | None, dry_run: bool = False) -> MailSummary:
    """`roadmap remind`: the steps of the send-reminders flow, as plain calls."""
    plan = plan_reminders(db_url, roadmap_key, as_of)
    return preview("reminders", plan) if dry_run else _send("reminders", db_url, plan)


def escalate(db_url: str, roadmap_key: str | None, as_of: date | None, dry_run: bool = False) -> MailSummary:
    """`roadmap escalate`: the steps of the send-escalations flow, as plain calls."""
    plan = plan_escalation_messages(db_url, roadmap_key, as_of)
    return preview("escalations", plan) if dry_run else _send("escalations", db_url, plan)


def _send(kind: str, db_url: str, plan: Plan) -> MailSummary:
    sent = send_plan(db_url, plan)
    return summarise(kind, db_url, plan.roadmap_key, plan.as_of, plan.dedup_keys,
                     recorded=sent.recorded.recorded, delivered=sent.delivery.sent,
                     worth_retrying=sent.delivery.worth_retrying)


def preview(kind: str, plan: Plan) -> MailSummary:
    """A dry run: the messages a real run would record and send now, rendered; nothing recorded
    or sent. Those already in the outbox (an earlier run the same day) are only counted as
    ``duplicates``: ``planned`` is what the real run's ``recorded`` would be."""
    return MailSummary(kind, plan.roadmap_key, plan.as_of, planned=len(plan.todo), duplicates=len(plan.already),
                       dry_run=True,
                       messages=[(i.recipient_name or "", i.recipient, i.message.subject) for i in plan.intents],
                       texts=[i.message.text for i in plan.intents])

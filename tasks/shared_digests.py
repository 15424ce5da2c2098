"""One reminder digest and one escalation digest a day for a person in several roadmaps:
planned, rendered, recorded and delivered (the decisions are models/shared_people.py's).

The every-roadmap run (tasks/daily_cycle.py ``every_roadmap``, the daily-cycle flow without a
roadmap) calls ``send_shared`` first, for reminders then escalations: every active roadmap's
digests are planned as its own run plans them (tasks/notify_jobs.py, each roadmap on its own
day, calendar and policy, archived roadmaps and days off planning nothing); the addresses that
two or more roadmaps write to on the same day get one message holding each roadmap's digest.
The message is a message of the whole office (no roadmap), and each roadmap's share is recorded
with it in the same transaction as that roadmap's own digest would be: its dedup key in
``outbox_parts``, its escalation items, calendar entries, check-ins and notified date changes
under the roadmap (tasks/outbox_record.py ``Part``). Each roadmap's own cycle then runs as
before and finds those shares already recorded: it sends the rest, and nothing twice. So does a
later run of one roadmap alone (``--roadmap``), and a re-run of the whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import select

from config import Settings, get_settings
from models.db import session_scope
from models.schema import OutboxMessage
from models.shared_people import SharedDigest, share_out
from tasks.mail_message import make_message_id
from tasks.mail_summary import MailSummary, summarise
from tasks.notify_jobs import Plan, chunks, deliver_pending, plan_escalation_messages, plan_reminders, reminder_share
from tasks.outbox_record import Intent, Part, record
from tasks.render_shared import render_shared_digest, render_shared_escalation
from tasks.roadmap_jobs import roadmap_day

log = logging.getLogger("roadmap")

SHARED = "(shared)"  # the label of the shared digests' summaries: not a roadmap key (models/spec.py keys)
KINDS = ("reminders", "escalations")


@dataclass
class SharedPlan:
    """The day's shared digests of one kind (reminders or escalations), not yet rendered."""

    kind: str  # reminders | escalations
    as_of: date | None  # the earliest roadmap day planned (None: no roadmap planned anything)
    todo: list[SharedDigest[Any]] = field(default_factory=list)
    plans: dict[str, Plan] = field(default_factory=dict)  # per roadmap key, its own plan

    def intents(self, domain: str, todo: Sequence[SharedDigest[Any]] | None = None) -> list[Intent]:
        """Each shared digest (of ``todo``, default all) rendered, with each roadmap's share to
        record with it."""
        args = {key: plan.args for key, plan in self.plans.items()}
        render = render_shared_digest if self.kind == "reminders" else render_shared_escalation
        out = []
        for shared in self.todo if todo is None else todo:
            message = render(shared, args, make_message_id(domain))
            parts = tuple(self._part(s.roadmap_key, s.digest) for s in shared.shares)
            out.append(Intent(shared.kind, shared.dedup_key, shared.recipient.email, shared.recipient.name,
                              message, parts=parts))
        return out

    def _part(self, roadmap_key: str, digest: Any) -> Part:
        plan = self.plans[roadmap_key]
        if self.kind == "reminders":
            return Part(plan.roadmap_id, roadmap_key, digest.dedup_key, **reminder_share(digest, roadmap_key))
        return Part(plan.roadmap_id, roadmap_key, digest.dedup_key, item_keys=tuple(e.dedup_key for e in digest.items))


def plan_shared(db_url: str, keys: Sequence[str], as_of: date | None, kind: str,
                settings: Settings | None = None) -> SharedPlan:
    """Every roadmap of ``keys`` planned as its own run plans it, then the addresses two or more
    of them write to on the same day merged (models/shared_people.py ``share_out``)."""
    settings = settings or get_settings()
    planner: Callable[..., Plan] = plan_reminders if kind == "reminders" else plan_escalation_messages
    plans: dict[str, Plan] = {}
    for key in keys:
        try:
            day = roadmap_day(db_url, key, as_of)
            if day.day_off_note is None:
                plans[key] = planner(db_url, key, day.as_of, settings)
        except Exception:  # noqa: BLE001 - its own cycle fails the same way and says so
            log.info("%s: left out of the digests across roadmaps: it cannot be planned", key, exc_info=True)
    days = sorted({p.as_of for p in plans.values()})
    with session_scope(db_url, migrate=False) as session:
        taken = set(session.scalars(select(OutboxMessage.dedup_key).where(
            OutboxMessage.roadmap_id.is_(None), OutboxMessage.as_of.in_(days)))) if days else set()
    todo, _ = share_out([(key, cast(list[Any], plan.todo)) for key, plan in plans.items()], taken)
    return SharedPlan(kind, days[0] if days else None, todo=todo, plans=plans)


def send_shared(db_url: str, keys: Sequence[str], as_of: date | None, kind: str,
                settings: Settings | None = None) -> MailSummary:
    """Plan, record and deliver the day's shared digests of one kind; the summary of those messages
    (labelled SHARED)."""
    settings = settings or get_settings()
    plan = plan_shared(db_url, keys, as_of, kind, settings)
    recorded = record_shared(db_url, plan, settings.mail_from_domain, stream=settings.template_dir is None)
    delivered = deliver_pending(db_url, settings).sent if plan.todo else 0
    return summarise(kind, db_url, SHARED, plan.as_of or as_of or date.today(),
                     [s.dedup_key for s in plan.todo], recorded=recorded, delivered=delivered, office=True)


CHUNK = 10  # shared digests rendered and recorded at a time (each up to MAX_LINES lines)


def record_shared(db_url: str, plan: SharedPlan, domain: str, *, stream: bool = True) -> int:
    """Render and record the shared digests of ``plan``; how many were new. ``stream``: a chunk
    at a time, each in its own transaction, so that memory holds one chunk's messages however
    many people and roadmaps there are; without it (a user's template folder) everything is
    rendered first, so that a mistake in a template records nothing, and each roadmap's own run
    then sends its digests. A digest one of whose shares another run recorded since the plan
    is dropped (tasks/outbox_record.py ``_claim``): the roadmaps' own runs send its other shares."""
    parts = list(chunks(plan.todo, CHUNK))
    rendered = None if stream else [plan.intents(domain, chunk) for chunk in parts]
    recorded = 0
    for n, chunk in enumerate(parts):
        intents = plan.intents(domain, chunk) if rendered is None else rendered[n]
        with session_scope(db_url, migrate=False) as session:
            for day in sorted({s.as_of for s in chunk}):
                recorded += record(session, None, None, day,
                                   [i for s, i in zip(chunk, intents, strict=True) if s.as_of == day]).recorded
    return recorded

"""Which reminders, rescheduling notices and escalations are due on a day: plain decisions.

Decided from the data and the as-of day only, never from when a scheduler fired, so a
missed or doubled run neither skips nor repeats anything (the outbox's dedup keys make
a repeated intent a no-op). After a gap, reminders are computed for today only, while
escalations that became due during the gap are each sent once.

Rules (policy keys of the roadmap file):
- nothing goes out on a day that is not a business day of the roadmap's calendar (a weekend,
  a public holiday, an extra day off; a working Saturday is a business day): reminders and
  escalations wait for the next business day, which mentions what is due then;
- a task is mentioned when it is due in exactly
  one of `remind_before` business days, due today (`remind_on_due`), or overdue on the
  first business day after its due date and then every `overdue_every` business days;
- kick-off: the first reminder run after someone becomes the owner of a task (the roadmap's
  first import, a new task, a reassignment) lists it in their digest, in a "your tasks" section,
  with its entry in the digest's .ics, when it is not mentioned for another reason. A task is
  new to its owner while their calendar holds no live entry of it (models/calendar_entries.py
  ``unheld``): the digest's .ics records one, so it is listed once. So the first run after an
  import sends each owner one digest listing all their open tasks, and a reassignment adds
  the task to its new owner's next digest. An owner who is away gets it when back;
- check-ins and start-day notices of long tasks (models/checkins.py): a line in the owner's
  digest; a check-in left unanswered goes to the owner's manager as an escalation item;
- level 1 escalation at `escalate_after[0]` business days late (owner's manager and the
  contacts of the task's partners), level 2 at `escalate_after[1]` (the project office);
- a risk is escalated (owner, partner's contact, project office) when its score reaches
  `risk_escalate_score`, when it has occurred, or when its review date passed unreviewed;
- escalations go out as one digest per recipient and day (`plan_escalation_digests`): every
  item (a task at a level, a risk trigger) escalated to them and never sent to them before.
  Each item keeps its own dedup key, so the same item at the same level is never sent twice;
  the digest has a key per recipient and day. An item that becomes due later the same day
  (a second run after an update) goes out in a second digest of that day, holding only the
  new items, under the day's key with ":2" (then ":3", ...) appended;
- away and delegate: while an owner is away (`people.away_until` on or after the day, with a
  `people.delegate`), their digest lines go to the delegate (or on down the chain when the
  delegate is away too), marked with whose tasks they are, and so does the owner's part of a
  risk escalation (with the risk page's link); task escalations are unaffected and still go
  up the owner's own chain (manager, partner contacts, office).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import BusinessCalendar
from models.checkins import is_checkin_day, is_start_day
from models.delegation import acting_for
from models.schema import Partner, Person, Risk, Roadmap, Task
from models.spec import Policy
from models.status import OPEN


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    key: str | None = None  # person key, None for addresses such as the project office
    calendar_generation: int = 0  # of the person's calendar feed link (models/tokens.py)
    language: str | None = None  # the person's own (people[].language); None: the roadmap's

    @classmethod
    def of(cls, person: Person) -> Recipient:
        """A person of the roadmap as the recipient of their mail."""
        return cls(person.email, person.name, person.key, person.calendar_generation, person.language)


@dataclass(frozen=True)
class TaskLine:
    """One task as an email shows it."""

    key: str
    title: str
    stage: str
    due: date
    reason: str  # before | due_today | overdue | checkin | start | kickoff | moved | escalation
    days_left: int = 0
    days_late: int = 0
    status: str = "planned"
    blocked_by: tuple[str, ...] = ()  # titles of the open tasks it waits for
    old_due: date | None = None  # for moved
    sequence: int = 0
    owner_name: str = ""
    change_ids: tuple[int, ...] = ()  # the recorded date changes a notice reports
    # Set when the line reaches a delegate: whose task it is and until when they are away.
    delegated_from: str = ""
    away_until: date | None = None


@dataclass(frozen=True)
class Withdrawal:
    """A calendar entry to withdraw (METHOD:CANCEL) in its holder's next mail: the task as
    last sent, and the SEQUENCE of the cancel (above the last one sent)."""

    task_key: str
    summary: str
    due: date
    sequence: int


@dataclass
class Digest:
    """One email to one owner for one day: reminders plus rescheduling notices, and the
    calendar entries to withdraw (models/calendar_entries.py). A digest of withdrawals only is
    a "calendar update"."""

    recipient: Recipient
    as_of: date
    lines: list[TaskLine] = field(default_factory=list)
    withdrawn: list[Withdrawal] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if not self.lines:
            return "calendar"
        return "reminder" if any(line.reason != "moved" for line in self.lines) else "notice"

    @property
    def kickoff(self) -> int:
        """How many of the digest's tasks are new to the recipient (a kick-off digest when any)."""
        return sum(1 for line in self.lines if line.reason == "kickoff")

    @property
    def dedup_key(self) -> str:
        return f"{self.kind}:{self.recipient.email.lower()}:{self.as_of.isoformat()}"


@dataclass(frozen=True)
class Escalation:
    """One escalation message to one recipient about one task level or one risk trigger."""

    recipient: Recipient
    subject_kind: str  # task | risk
    key: str
    title: str
    level: int  # 1 or 2 for tasks, 0 for risks
    trigger: str  # overdue | checkin (tasks); score | occurred | review (risks)
    trigger_value: str  # what makes this trigger unique (due date, score, review date)
    detail: dict[str, object]

    @property
    def dedup_key(self) -> str:
        return (f"escalation:{self.subject_kind}:{self.key}:{self.trigger}:{self.level}:{self.trigger_value}:"
                f"{self.recipient.email.lower()}")


# The groups of an escalation digest, in the order the mail shows them: the most serious first.
ESCALATION_GROUPS = ("task:2", "task:1", "task:checkin", "risk:occurred", "risk:score", "risk:review")


def escalation_group(e: Escalation) -> str:
    if e.subject_kind == "task":
        return "task:checkin" if e.trigger == "checkin" else f"task:{e.level}"
    return f"risk:{e.trigger}"


@dataclass
class EscalationDigest:
    """One escalation email to one recipient for one day: the items not sent to them before."""

    recipient: Recipient
    as_of: date
    items: list[Escalation] = field(default_factory=list)
    part: int = 1  # 1: the day's first digest to this recipient; 2, 3...: later ones, new items only

    kind = "escalation"

    @property
    def dedup_key(self) -> str:
        return digest_key(self.recipient.email, self.as_of) + (f":{self.part}" if self.part > 1 else "")

    @property
    def groups(self) -> list[tuple[str, list[Escalation]]]:
        """The items by level and reason (ESCALATION_GROUPS), most late first in each."""
        by_group: dict[str, list[Escalation]] = {}
        for e in self.items:
            by_group.setdefault(escalation_group(e), []).append(e)
        return [(g, sorted(by_group[g], key=_most_late_first)) for g in ESCALATION_GROUPS if g in by_group]


def digest_key(email: str, as_of: date) -> str:
    """The dedup key of a recipient's first escalation digest of a day (later ones add ":N")."""
    return f"escalation:{email.lower()}:{as_of.isoformat()}"


def _most_late_first(e: Escalation) -> tuple[int, int, str]:
    late = e.detail.get("days_late")
    score = e.detail.get("score")
    return (-(late if isinstance(late, int) else 0), -(score if isinstance(score, int) else 0), e.key)


def plan_escalation_digests(escalations: list[Escalation], as_of: date, sent: set[str],
                            digests_today: dict[str, int]) -> list[EscalationDigest]:
    """One digest per recipient of the items of ``escalations`` whose dedup keys are not in
    ``sent``; ``digests_today`` counts the digests already recorded today per digest_key, so a
    later digest of the day gets the next part number."""
    digests: dict[str, EscalationDigest] = {}
    for e in escalations:
        if e.dedup_key in sent:
            continue
        base = digest_key(e.recipient.email, as_of)
        digest = digests.setdefault(base, EscalationDigest(e.recipient, as_of, part=digests_today.get(base, 0) + 1))
        digest.items.append(e)
    return sorted(digests.values(), key=lambda d: d.recipient.email.lower())


@dataclass
class Directory:
    """People, partners and the office of one roadmap, for finding recipients."""

    roadmap: Roadmap
    people: dict[str, Person]
    partners: dict[str, Partner]

    def person(self, key: str | None) -> Recipient | None:
        p = self.people.get(key or "")
        return Recipient.of(p) if p else None

    def partner_contact(self, key: str | None) -> Recipient | None:
        partner = self.partners.get(key or "")
        return self.person(partner.contact) if partner else None

    def office(self) -> Recipient:
        return Recipient(self.roadmap.office_email, self.roadmap.office_name)

    def reader(self, owner_key: str, as_of: date) -> tuple[Recipient | None, Person | None]:
        """Who reads ``owner_key``'s reminders on ``as_of``, and the owner when that is a
        delegate (None when the owner reads them personally)."""
        key = acting_for(self.people, owner_key, as_of)
        return self.person(key), (self.people.get(owner_key) if key != owner_key else None)


def load_directory(session: Session, roadmap: Roadmap) -> Directory:
    people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
    partners = {p.key: p for p in session.scalars(select(Partner).where(Partner.roadmap_id == roadmap.id))}
    return Directory(roadmap, people, partners)


def reminder_reason(task: Task, as_of: date, cal: BusinessCalendar, policy: Policy) -> TaskLine | None:
    """Why `task` is in its owner's digest today, or None."""
    if task.status not in OPEN or not cal.is_business_day(as_of):
        return None
    late = cal.between(task.due, as_of)
    if late > 0:
        if (late - 1) % policy.overdue_every == 0:
            return _line(task, "overdue", days_late=late)
        return None
    left = -late
    if left == 0 and as_of == task.due and policy.remind_on_due:
        return _line(task, "due_today")
    if left in policy.remind_before:
        return _line(task, "before", days_left=left)
    if is_checkin_day(task, as_of, cal, policy):
        return _line(task, "checkin", days_left=left)
    if is_start_day(task, as_of, cal, policy):
        return _line(task, "start", days_left=left)
    return None


def _line(task: Task, reason: str, **extra: object) -> TaskLine:
    return TaskLine(key=task.key, title=task.title, stage=task.stage, due=task.due, reason=reason,
                    status=task.status, sequence=task.sequence, **extra)  # type: ignore[arg-type]


def plan_digests(
    tasks: list[Task],
    directory: Directory,
    as_of: date,
    cal: BusinessCalendar,
    moves: list[tuple[int, str, date, date]] = (),  # type: ignore[assignment]
    stage_titles: dict[str, str] | None = None,
    new: set[str] | frozenset[str] = frozenset(),
) -> list[Digest]:
    """One digest per owner with something to hear about; `moves` are unnotified date changes
    as (change id, task key, old due, new due); `new` the keys of open tasks new to their owners
    (a kick-off line each, unless mentioned for another reason; never to a delegate)."""
    if not cal.is_business_day(as_of):
        return []  # moved dates stay unnotified until the next business day's digest
    policy = Policy.of(directory.roadmap)
    by_key = {t.key: t for t in tasks}
    titles = stage_titles or {}
    digests: dict[str, Digest] = {}

    def add(task: Task, line: TaskLine) -> None:
        """Into the digest of whoever reads the task owner's reminders today."""
        reader, away = directory.reader(task.owner, as_of)
        if reader is None:
            return
        blockers = tuple(by_key[d].title for d in task.depends_on
                         if d in by_key and by_key[d].status not in ("done", "cancelled"))
        delegated: dict[str, Any] = {"delegated_from": away.name, "away_until": away.away_until} if away else {}
        digests.setdefault(reader.email.lower(), Digest(reader, as_of)).lines.append(
            replace(line, stage=titles.get(task.stage, task.stage), blocked_by=blockers, **delegated))

    for task in tasks:
        if (line := reminder_reason(task, as_of, cal, policy)) is not None:
            add(task, line)
        elif task.key in new and task.status in OPEN and directory.reader(task.owner, as_of)[1] is None:
            add(task, _line(task, "kickoff", days_left=max(cal.between(as_of, task.due), 0)))
    # Several moves of one task since its owner was last told make one line: from the
    # date the owner knew to the date it has now.
    first_old: dict[str, date] = {}
    ids: dict[str, list[int]] = {}
    for change_id, key, old, _new in sorted(moves):
        first_old.setdefault(key, old)
        ids.setdefault(key, []).append(change_id)
    for key, old in first_old.items():
        moved = by_key.get(key)
        if moved is not None and moved.status in OPEN and old != moved.due:
            add(moved, _line(moved, "moved", old_due=old, change_ids=tuple(ids[key])))
    order = {"overdue": 0, "due_today": 1, "before": 2, "checkin": 3, "start": 4, "kickoff": 5, "moved": 6}
    for d in digests.values():
        d.lines.sort(key=lambda ln: (order[ln.reason], ln.due, ln.key))
    return sorted(digests.values(), key=lambda d: d.recipient.email)


def plan_escalations(
    tasks: list[Task], risks: list[Risk], directory: Directory, as_of: date, cal: BusinessCalendar,
    checkins: dict[str, date] | None = None,
) -> list[Escalation]:
    """The day's escalation items; ``checkins``: per task key, its check-in day left unanswered
    (models/checkins.py ``unanswered``), told to the owner's manager (the office without one)."""
    policy = Policy.of(directory.roadmap)
    level1, level2 = policy.escalate_after
    out: list[Escalation] = []
    if not cal.is_business_day(as_of):
        return out  # the next business day escalates what became due meanwhile
    for task in tasks:
        if task.status not in OPEN:
            continue
        late = cal.between(task.due, as_of)
        owner = directory.person(task.owner)
        for level, threshold in ((1, level1), (2, level2)):
            if late < threshold:
                continue
            if level == 1:
                person = directory.people.get(task.owner)
                roles = [(directory.person(person.manager if person else None), "manager")]
                roles += [(directory.partner_contact(p), "partner") for p in task.partners]
            else:
                roles = [(directory.office(), "office")]
            detail = {"due": task.due, "days_late": late, "stage": task.stage, "status": task.status,
                      "owner": owner.name if owner else task.owner, "owner_email": owner.email if owner else "",
                      "threshold": threshold}
            out += [Escalation(r, "task", task.key, task.title, level, "overdue", task.due.isoformat(),
                               {**detail, "role": role}) for r, role in _unique(roles)]
        if (day := (checkins or {}).get(task.key)) is not None:
            person = directory.people.get(task.owner)
            manager = directory.person(person.manager if person else None)
            recipient, role = (manager, "manager") if manager is not None else (directory.office(), "office")
            detail = {"due": task.due, "days_late": max(late, 0), "stage": task.stage, "status": task.status,
                      "owner": owner.name if owner else task.owner, "owner_email": owner.email if owner else "",
                      "checkin": day, "threshold": policy.checkin_grace, "role": role}
            out.append(Escalation(recipient, "task", task.key, task.title, 1, "checkin", day.isoformat(), detail))
    threshold = policy.risk_escalate_score
    for risk in risks:
        if risk.status == "closed":
            continue
        triggers: list[tuple[str, str]] = []
        if risk.status != "mitigated" and risk.score >= threshold:
            triggers.append(("score", str(risk.score)))
        if risk.status == "occurred":
            triggers.append(("occurred", "1"))
        if risk.review is not None and risk.review < as_of and not _reviewed_for(risk):
            triggers.append(("review", risk.review.isoformat()))
        if not triggers:
            continue
        owner = directory.person(risk.owner)
        # The owner's part goes to whoever reads the owner's mail today, as reminders do.
        reader, away = directory.reader(risk.owner, as_of)
        recipients = _unique([(reader, "delegate" if away else ""), (directory.partner_contact(risk.partner), ""),
                              (directory.office(), "")])
        detail = {"probability": risk.probability, "impact": risk.impact, "score": risk.score,
                  "mitigation": risk.mitigation or "", "review": risk.review, "status": risk.status,
                  "owner": owner.name if owner else risk.owner, "owner_key": risk.owner, "threshold": threshold}
        delegated = {"role": "delegate", "away_until": away.away_until} if away else {}
        out += [Escalation(r, "risk", risk.key, risk.title, 0, trigger, value,
                           {**detail, **delegated} if role == "delegate" else detail)
                for trigger, value in triggers for r, role in recipients]
    return out


# A review recorded shortly before the review date counts for it: people prepare for the
# meeting, and the risk should not then be escalated as "not reviewed".
REVIEW_EARLY = timedelta(days=14)


def _reviewed_for(risk: Risk) -> bool:
    return risk.reviewed_on is not None and risk.review is not None and risk.reviewed_on >= risk.review - REVIEW_EARLY


def _unique(roles: list[tuple[Recipient | None, str]]) -> list[tuple[Recipient, str]]:
    """Each address once, with the role of its first place."""
    by_address: dict[str, tuple[Recipient, str]] = {}
    for r, role in roles:
        if r is not None:
            by_address.setdefault(r.email.lower(), (r, role))
    return list(by_address.values())

"""Calendars that stay true: which entries people's calendars hold, which to withdraw, and
the calendar feed of one person's open tasks.

Every mail .ics is recorded per address and task in ``calendar_entries`` (tasks/outbox_record.py
``record``, with the message that carried it): UID, last SEQUENCE, due date, title, and
whether it was withdrawn. On each reminder run an entry is still true while its task is open
and its holder is the task's owner or, while the owner is away, whoever reads the owner's
reminders (``holders``). Any other entry (the task done, cancelled, archived, or given to
someone else) is withdrawn in the holder's mail of that run: added to their digest when they
get one, else in a "calendar update" of its own, at most one a day (dedup key
``calendar:<address>:<day>``). A withdrawal is a METHOD:CANCEL .ics with the same UID and a
SEQUENCE one above the last sent; a task later sent again to that calendar goes out above the
cancel's (``next_sequence``), so the client takes it back. An open task its owner's calendar
holds no live entry of is new to them (``unheld``): their next digest kicks it off.

The feed (``/calendar/<token>.ics``, web/routes_calendar.py) lists the person's own open
tasks with the same UIDs as the mail, so a calendar that has both shows each task once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.i18n import translations
from models.ics import Deadline, build_ics, task_uid
from models.notify import Digest, Directory, Recipient, Withdrawal
from models.planning import open_task_rows
from models.schema import CalendarEntry, Person, Roadmap, Stage


def load_entries(session: Session, roadmap_id: int) -> list[CalendarEntry]:
    return list(session.scalars(select(CalendarEntry).where(CalendarEntry.roadmap_id == roadmap_id)
                                .order_by(CalendarEntry.id)))


def holders(tasks: Iterable[Any], directory: Directory, as_of: date) -> dict[str, set[str]]:
    """Per open task key, the people whose calendars may hold it: the owner, and whoever
    reads the owner's reminders on ``as_of`` (a delegate while the owner is away)."""
    out: dict[str, set[str]] = {}
    for task in tasks:
        reader, _ = directory.reader(task.owner, as_of)
        out[task.key] = {task.owner} | ({reader.key} if reader is not None and reader.key else set())
    return out


def unheld(tasks: Iterable[Any], entries: list[CalendarEntry], directory: Directory,
           today: set[int] | frozenset[int] = frozenset()) -> set[str]:
    """The keys of the open tasks their owner's calendar holds no live entry of: new to the
    owner (a first import, a new task, a reassignment; models/notify.py kick-off lines). An
    entry withdrawn earlier does not count: the task left that calendar and comes back new.
    Nor does one a reminder digest of the same day left (``today``: their outbox ids): a re-run
    that day plans the same digests, already recorded, so it counts them instead of forgetting
    them."""
    live = {(e.email, e.task_key) for e in entries if not e.cancelled and e.outbox_id not in today}
    out = set()
    for task in tasks:
        person = directory.people.get(task.owner)
        if person is not None and (person.email.lower(), task.key) not in live:
            out.add(task.key)
    return out


def next_sequence(task_sequence: int, entry: CalendarEntry | None) -> int:
    """The SEQUENCE to send for a task to a calendar holding ``entry``: the task's own, but
    never below what that calendar last got, and above a cancel it got."""
    if entry is None:
        return task_sequence
    return max(task_sequence, entry.sequence + 1 if entry.cancelled else entry.sequence)


def add_withdrawals(digests: list[Digest], entries: list[CalendarEntry], live: dict[str, set[str]],
                    directory: Directory, as_of: date, recorded: set[str]) -> list[Digest]:
    """Put each entry that is no longer true into its holder's digest of the day, when that
    digest is still to be recorded (``recorded``: dedup keys already in the outbox); the others
    go into "calendar update" digests, returned (the caller checks their keys in turn). Also
    raises the lines' SEQUENCE above what each calendar last got (``next_sequence``)."""
    by_address = {(e.email, e.task_key): e for e in entries}
    for d in digests:
        email = d.recipient.email.lower()
        d.lines = [replace(ln, sequence=next_sequence(ln.sequence, by_address.get((email, ln.key))))
                   for ln in d.lines]
    open_digests = {d.recipient.email.lower(): d for d in digests if d.dedup_key not in recorded}
    updates: dict[str, Digest] = {}
    for e in entries:
        if e.cancelled or (e.person is not None and e.person in live.get(e.task_key, ())):
            continue
        withdrawal = Withdrawal(e.task_key, e.summary, e.due, e.sequence + 1)
        digest = open_digests.get(e.email) or updates.get(e.email)
        if digest is None:
            person = directory.people.get(e.person or "")  # None: gone from the file; the address stays
            # The address the entries went to, even if the person's has changed or they are gone.
            recipient = replace(Recipient.of(person), email=e.email) if person else Recipient(e.email, "", e.person)
            digest = updates[e.email] = Digest(recipient, as_of)
        digest.withdrawn.append(withdrawal)
    return sorted(updates.values(), key=lambda d: d.recipient.email)


def entry_rows(digest: Digest, roadmap_key: str) -> list[dict[str, Any]]:
    """The ``calendar_entries`` rows a digest's .ics files leave in its recipient's calendar."""
    email = digest.recipient.email.lower()
    seen: dict[str, dict[str, Any]] = {}
    for ln in digest.lines:
        seen.setdefault(ln.key, dict(email=email, person=digest.recipient.key, task_key=ln.key,
                                     uid=task_uid(roadmap_key, ln.key), sequence=ln.sequence, due=ln.due,
                                     summary=ln.title, cancelled=False))
    for w in digest.withdrawn:
        seen.setdefault(w.task_key, dict(email=email, person=digest.recipient.key, task_key=w.task_key,
                                         uid=task_uid(roadmap_key, w.task_key), sequence=w.sequence, due=w.due,
                                         summary=w.summary, cancelled=True))
    return list(seen.values())


def deadline(roadmap_key: str, roadmap_title: str, lang: str, url: str | None, *, key: str, title: str,
             stage: str, due: date, sequence: int) -> Deadline:
    """One task's calendar entry, as the mail .ics and the feed both write it."""
    # The entry's description is the one piece of wording not in a template: build_ics takes
    # plain strings, and a user override of it has not been asked for.
    words = translations(lang)
    about = ([f"{words.gettext('Stage')}: {stage}"] if stage else []) + [f"{words.gettext('Roadmap')}: {roadmap_title}"]
    return Deadline(uid=task_uid(roadmap_key, key), sequence=sequence, summary=title, due=due,
                    description="\n".join(about), url=url)


def feed(session: Session, roadmap: Roadmap, person: str, roadmap_url: str | None, now: datetime) -> bytes:
    """The calendar feed of ``person``: their own open tasks (never a delegated or anyone
    else's), each at the SEQUENCE its mail entry last had (or above it after a cancel)."""
    stages = {s.key: s.title for s in session.scalars(select(Stage).where(Stage.roadmap_id == roadmap.id))}
    entries: dict[str, CalendarEntry] = {}
    for e in load_entries(session, roadmap.id):
        if e.person == person and (e.task_key not in entries or e.sequence > entries[e.task_key].sequence):
            entries[e.task_key] = e
    tasks = [t for t in open_task_rows(session, roadmap.id) if t.owner == person]
    own = session.scalar(select(Person.language).where(Person.roadmap_id == roadmap.id, Person.key == person))
    lang = own or roadmap.language  # as in the person's mail
    deadlines = [deadline(roadmap.key, roadmap.title, lang, roadmap_url, key=t.key, title=t.title,
                          stage=stages.get(t.stage, t.stage), due=t.due,
                          sequence=next_sequence(t.sequence, entries.get(t.key)))
                 for t in tasks]
    return build_ics(deadlines, now=now.astimezone(UTC).replace(microsecond=0))


def stamp_of(as_of: date) -> datetime:
    """DTSTAMP of a mail's .ics: midnight UTC of its as-of day, so a render is reproducible."""
    return datetime.combine(as_of, time(0), tzinfo=UTC)

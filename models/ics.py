"""Deadlines as an iCalendar attachment that calendar clients update in place.

Each deadline becomes two components: a VTODO (for task-aware clients such as
Thunderbird or Apple Reminders) and an all-day VEVENT (for clients that only show
events, such as Outlook and Gmail). Both carry a UID that never changes for the task
and a SEQUENCE that the caller raises whenever the deadline moves: a client that
already holds that UID replaces its copy instead of adding a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable

from icalendar import Calendar, Event, Todo

EVENT_UID_SUFFIX = "-event"


@dataclass(frozen=True)
class Deadline:
    """One task's due date. ``uid`` must be stable for the task across runs and
    ``sequence`` must grow each time the due date or summary changes."""

    uid: str
    sequence: int
    summary: str
    due: date
    description: str = ""
    url: str | None = None

    def __post_init__(self) -> None:
        if not self.uid.strip():
            raise ValueError("Deadline.uid must not be empty: clients match updates by it")
        if self.sequence < 0:
            raise ValueError(f"Deadline.sequence must be >= 0, got {self.sequence}")
        if isinstance(self.due, datetime):
            # A datetime would make DUE a timed value in some zone; deadlines are whole days.
            raise TypeError("Deadline.due must be a date, not a datetime")


def event_uid(task_uid: str) -> str:
    """The VEVENT's UID. It must differ from the VTODO's: CalDAV servers keep one
    object per UID and would otherwise drop one of the two components."""
    return task_uid + EVENT_UID_SUFFIX


def build_ics(
    deadlines: Iterable[Deadline],
    *,
    prodid: str = "-//Roadmap Office//EN",
    method: str = "PUBLISH",
    now: datetime | None = None,
) -> bytes:
    """A VCALENDAR with one VTODO and one all-day VEVENT per deadline.

    ``now`` becomes DTSTAMP (defaults to the current UTC time); pass it for
    reproducible output in tests.
    """
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    cal = Calendar()
    cal.add("prodid", prodid)
    cal.add("version", "2.0")
    cal.add("method", method)
    for d in deadlines:
        cal.add_component(_todo(d, stamp))
        cal.add_component(_event(d, stamp))
    return cal.to_ical()


def _common(component: Todo | Event, d: Deadline, uid: str, stamp: datetime) -> None:
    component.add("uid", uid)
    component.add("sequence", d.sequence)
    component.add("dtstamp", stamp)
    component.add("last-modified", stamp)
    component.add("summary", d.summary)
    if d.description:
        component.add("description", d.description)
    if d.url:
        component.add("url", d.url)


def _todo(d: Deadline, stamp: datetime) -> Todo:
    todo = Todo()
    _common(todo, d, d.uid, stamp)
    todo.add("due", d.due)
    todo.add("status", "NEEDS-ACTION")
    return todo


def _event(d: Deadline, stamp: datetime) -> Event:
    event = Event()
    _common(event, d, event_uid(d.uid), stamp)
    event.add("dtstart", d.due)
    # All-day events end on the next day (DTEND is exclusive).
    event.add("dtend", d.due + timedelta(days=1))
    # A deadline should not mark the owner as busy for the whole day.
    event.add("transp", "TRANSPARENT")
    return event

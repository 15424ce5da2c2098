"""Check-ins and start-day notices of long tasks: plain date rules, no I/O.

A task longer than the policy's ``checkin_every`` business days (from its start to its due
date) gets a check-in on every ``checkin_every``-th business day after its start while it is
open and not yet in the "before due" reminder window (``remind_before``'s largest value): a
line in its owner's digest asking for progress or a new forecast through the task's page.

A check-in is answered by an update of the task made by a person (a ``changes`` row from the
CLI or the web page of its progress, forecast or status) on or after the check-in day. One left
unanswered for ``checkin_grace`` business days goes to the owner's manager (the project office
when the owner has none) in their next escalation digest (models/notify.py), once per check-in.
Only check-ins that were sent count (each line sent is a ``checkins`` row, with its message,
delivered): a check-in day without a run sent nothing and blames nobody, like any reminder of a
day without a run. Of those, the latest one sent at least ``checkin_grace`` business days before
the as-of day counts, however long ago: escalation runs missed for weeks miss no check-in.

With ``remind_on_start`` the owner's digest also mentions a task on its start day (or the
first business day after, when it starts on a day off).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from models.calendar import BusinessCalendar
from models.spec import Policy
from models.status import OPEN

# Updates that answer a check-in: made by a person, not by an import or the scheduler, of how
# far the task is or when it will be done (a done mark closes the task: nothing to escalate).
ANSWER_SOURCES = ("cli", "web")
ANSWER_FIELDS = ("progress", "forecast", "status")


def is_checkin_day(task: Any, day: date, cal: BusinessCalendar, policy: Policy) -> bool:
    """Whether ``day`` is a check-in day of ``task`` (whatever its status)."""
    every = policy.checkin_every
    if not cal.is_business_day(day) or cal.between(task.start, task.due) <= every:
        return False
    since = cal.between(task.start, day)
    return since > 0 and since % every == 0 and cal.between(day, task.due) > policy.remind_window


def last_checkin(task: Any, upto: date, cal: BusinessCalendar, policy: Policy) -> date | None:
    """The latest check-in day of ``task`` on or before ``upto``, or None."""
    every = policy.checkin_every
    if cal.between(task.start, task.due) <= every:
        return None
    # The last check-in is the last multiple of `every` before the remind window opens.
    last_allowed = cal.add(task.due, -(policy.remind_window + 1))
    end = min(upto, last_allowed)
    since = cal.between(task.start, end)
    if since < every:
        return None
    day = cal.add(task.start, since - since % every)
    return day if is_checkin_day(task, day, cal, policy) else None


def is_start_day(task: Any, day: date, cal: BusinessCalendar, policy: Policy) -> bool:
    return policy.remind_on_start and day == cal.roll_forward(task.start)


def checkin_cutoff(as_of: date, cal: BusinessCalendar, policy: Policy) -> date:
    """The latest day a check-in can have been sent to be left unanswered long enough by ``as_of``."""
    return cal.add(as_of, -policy.checkin_grace)


def unanswered(tasks: list[Any], as_of: date, cal: BusinessCalendar, policy: Policy,
               answered: dict[str, date], sent: dict[str, date]) -> dict[str, date]:
    """Per open task key, its check-in left unanswered for ``checkin_grace`` business days by
    ``as_of``. ``answered``: per task key, the day of its latest answer (``ANSWER_FIELDS``
    changed by a person); ``sent``: per task key, the day of its latest check-in sent on or
    before ``checkin_cutoff``."""
    if not cal.is_business_day(as_of):
        return {}
    cutoff = checkin_cutoff(as_of, cal, policy)
    out: dict[str, date] = {}
    for task in tasks:
        day = sent.get(task.key)
        if task.status not in OPEN or day is None or day > cutoff:
            continue
        if answered.get(task.key, date.min) < day:
            out[task.key] = day
    return out

"""What each form of the task page does: checks the input, then one call to
``models.updates.update_task`` (source "web", the link's person as actor), which records
the change in the history and reschedules the dependents at once; their owners hear
about moved dates in their next digest through the usual rescheduling notices.

Away/delegate is about the person, not the task: it sets ``people.away_until`` and
``people.delegate`` and records both in the history (entity "person").

A refused form raises ``FormError``: a message id and its values, so the page says it in the
roadmap's language (``web.security.say``); its own text (``str``) is the English one, for logs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from models.dates import DONE_BEFORE_SESSION_DAYS, window
from models.errors import UserError
from models.history import ChangeLog
from models.schema import Person, Roadmap, Task
from models.text import MAX_FORM_NOTE, text_error
from models.updates import update_task
from web.security import N_, say

ACTIONS = ("done", "progress", "forecast", "blocked", "away", "back")
# The forms' fields, as a refusal names them (the labels of templates/web/task.html.j2).
DONE_ON, NOTE, NEW_DATE, REASON, PROGRESS = N_("Done on"), N_("Note"), N_("New date"), N_("Reason"), N_("Progress")
AWAY, AWAY_UNTIL, DELEGATE = N_("Away"), N_("Away until"), N_("Delegate")
IN_THE_PAST = N_("%(field)s: that date is in the past")


class FormError(UserError):
    """Input a form may not have; nothing was changed. ``message`` is a message id with its
    ``params`` (``field``: the field's label, a message id too), said in the page's language by ``say``."""

    def __init__(self, message: str, **params: object):
        super().__init__(say("en", message, **params))
        self.message, self.params = message, params


def error_line(lang: str, error: Exception | None) -> str | None:
    """The error a task or risk page shows, in its language: a form's own (``FormError``), or
    the check of the update rule that refused it (models/updates.py), in that rule's words."""
    if isinstance(error, FormError):
        return say(lang, error.message, **error.params)
    if error is not None:
        return say(lang, N_("Not saved: %(detail)s"), detail=str(error))
    return None


def _date(value: str | None, label: str, roadmap: Roadmap) -> dt.date:
    """The form's date, within the roadmap's window of dates (models/dates.py)."""
    try:
        day = dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise FormError(N_("%(field)s: give a date (YYYY-MM-DD)"), field=label) from None
    first, last = window(roadmap.session_date)
    if not first <= day <= last:
        raise FormError(N_("%(field)s: give a date from %(first)s to %(last)s"), field=label, first=first, last=last)
    return day


def form_text(value: str | None, label: str, required: bool) -> str | None:
    """A note as the history keeps it: the same rule as a roadmap file's notes (models/text.py)."""
    given = (value or "").replace("\r\n", "\n").strip()  # browsers send a textarea's line breaks as CRLF
    if required and not given:
        raise FormError(N_("%(field)s: please say why"), field=label)
    if len(given) > MAX_FORM_NOTE:
        raise FormError(N_("%(field)s: at most %(n)s characters"), field=label, n=MAX_FORM_NOTE)
    if text_error(given, multiline=True, limit=MAX_FORM_NOTE):
        raise FormError(N_("%(field)s: control characters are not allowed"), field=label)
    return given or None


def apply_action(
    session: Session,
    roadmap: Roadmap,
    task: Task,
    form: dict[str, str],
    *,
    today: dt.date,
    actor: str,
    person: Person | None,
    people: dict[str, Person],
) -> int:
    """Apply one form and say how many other tasks' dates moved; UserError (nothing
    changed) when the input is not acceptable."""
    action = form.get("action", "")
    change: dict[str, Any]
    if action == "done":
        on = _date(form.get("on"), DONE_ON, roadmap)
        if on > today:
            raise FormError(N_("%(field)s: that date is in the future"), field=DONE_ON)
        # update_task's own rule (models/dates.py), said here in the page's words
        if on < roadmap.session_date - dt.timedelta(days=DONE_BEFORE_SESSION_DAYS):
            raise FormError(N_("%(field)s: that date is more than a year before the session (%(session)s): a typo?"),
                            field=DONE_ON, session=roadmap.session_date)
        change = dict(status="done", on=on, note=form_text(form.get("note"), NOTE, False))
    elif action == "progress":
        given = (form.get("progress") or "").strip()
        progress = int(given) if given.isascii() and given.isdigit() else -1
        if not 0 <= progress <= 100:
            raise FormError(N_("%(field)s: give a whole number from 0 to 100"), field=PROGRESS)
        status = "in_progress" if task.status in ("planned", "blocked") and progress > 0 else None
        change = dict(progress=progress, status=status, note=form_text(form.get("note"), NOTE, False))
    elif action == "forecast":
        forecast = _date(form.get("forecast"), NEW_DATE, roadmap)
        if forecast < today:
            raise FormError(IN_THE_PAST, field=NEW_DATE)
        change = dict(forecast=forecast, note=form_text(form.get("reason"), REASON, True))
    elif action == "blocked":
        change = dict(status="blocked", note=form_text(form.get("reason"), REASON, True))
    elif action in ("away", "back"):
        if person is None:
            raise FormError(N_("%(field)s: this link is for the project office, not for a person"), field=AWAY)
        return _away(session, roadmap, person, form, today=today, actor=actor, people=people)
    else:
        raise FormError(N_("Unknown action. Nothing was changed."))
    result = update_task(session, roadmap, task.key, today=today, source="web", actor=actor, **change)
    return len(result.moved)


def _away(session: Session, roadmap: Roadmap, person: Person, form: dict[str, str], *, today: dt.date,
          actor: str, people: dict[str, Person]) -> int:
    if form.get("action") == "back":
        until, delegate = None, None
    else:
        until = _date(form.get("until"), AWAY_UNTIL, roadmap)
        if until < today:
            raise FormError(IN_THE_PAST, field=AWAY_UNTIL)
        delegate = (form.get("delegate") or "").strip()
        other = people.get(delegate)
        if other is None or other.archived:
            raise FormError(N_("%(field)s: choose a person from the list"), field=DELEGATE)
        if delegate == person.key:
            raise FormError(N_("%(field)s: choose someone else"), field=DELEGATE)
    log = ChangeLog(roadmap.id, "web", actor)
    for name, value in (("away_until", until), ("delegate", delegate)):
        if getattr(person, name) != value:
            log.add("person", person.key, name, getattr(person, name), value)
            setattr(person, name, value)
    log.flush(session)
    return 0  # a person's absence moves no date

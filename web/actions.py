"""What each form of the task page does: checks the input, then one call to
``models.updates.update_task`` (source "web", the link's person as actor), which records
the change in the history and reschedules the dependents at once; their owners hear
about moved dates in their next digest through the usual rescheduling notices.

Away/delegate is about the person, not the task: it sets ``people.away_until`` and
``people.delegate`` and records both in the history (entity "person").

A refused form raises ``FormError``: a key of ``web/strings.py`` and its values, so the page
says it in the roadmap's language; its own text (``str``) is the English one, for logs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from models.errors import UserError
from models.history import ChangeLog
from models.schema import Person, Roadmap, Task
from models.updates import update_task
from web.strings import text

ACTIONS = ("done", "progress", "forecast", "blocked", "away", "back")
MAX_TEXT = 2000


class FormError(UserError):
    """Input a form may not have; nothing was changed. ``key`` is a message of
    ``web/strings.py`` (``err_*``), ``params`` its values (``field``: a label key, ``l_*``)."""

    def __init__(self, key: str, **params: object):
        super().__init__(text("en", key, **params))
        self.key = key
        self.params = params


@dataclass
class Outcome:
    action: str
    changed: bool
    moved: list[str] = field(default_factory=list)  # keys of tasks whose dates moved


def _date(value: str | None, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise FormError("err_date", field=field) from None


def _text(value: str | None, field: str, required: bool) -> str | None:
    given = (value or "").strip()
    if required and not given:
        raise FormError("err_why", field=field)
    if len(given) > MAX_TEXT:
        raise FormError("err_too_long", field=field, n=MAX_TEXT)
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
) -> Outcome:
    """Apply one form; UserError (nothing changed) when the input is not acceptable."""
    action = form.get("action", "")
    common = dict(today=today, source="web", actor=actor)
    if action == "done":
        on = _date(form.get("on"), "done_on")
        if on > today:
            raise FormError("err_future", field="done_on")
        if on < roadmap.session_date - dt.timedelta(days=366):  # update_task's own rule, said here in the page's words
            raise FormError("err_too_old", field="done_on", session=roadmap.session_date)
        result = update_task(session, roadmap, task.key, status="done", on=on,
                             note=_text(form.get("note"), "note", False), **common)  # type: ignore[arg-type]
    elif action == "progress":
        try:
            progress = int((form.get("progress") or "").strip())
        except ValueError:
            raise FormError("err_progress", field="progress") from None
        if not 0 <= progress <= 100:
            raise FormError("err_progress", field="progress")
        status = "in_progress" if task.status in ("planned", "blocked") and progress > 0 else None
        result = update_task(session, roadmap, task.key, progress=progress, status=status,
                             note=_text(form.get("note"), "note", False), **common)  # type: ignore[arg-type]
    elif action == "forecast":
        forecast = _date(form.get("forecast"), "forecast")
        if forecast < today:
            raise FormError("err_past", field="forecast")
        result = update_task(session, roadmap, task.key, forecast=forecast,
                             note=_text(form.get("reason"), "reason", True), **common)  # type: ignore[arg-type]
    elif action == "blocked":
        result = update_task(session, roadmap, task.key, status="blocked",
                             note=_text(form.get("reason"), "reason", True), **common)  # type: ignore[arg-type]
    elif action in ("away", "back"):
        if person is None:
            raise FormError("err_office_away", field="away")
        return _away(session, roadmap, person, form, today=today, actor=actor, people=people)
    else:
        raise FormError("err_action")
    return Outcome(action, bool(result.changes), [m.key for m in result.moved])


def _away(session: Session, roadmap: Roadmap, person: Person, form: dict[str, str], *, today: dt.date,
          actor: str, people: dict[str, Person]) -> Outcome:
    if form.get("action") == "back":
        until, delegate = None, None
    else:
        until = _date(form.get("until"), "away_until")
        if until < today:
            raise FormError("err_past", field="away_until")
        delegate = (form.get("delegate") or "").strip()
        other = people.get(delegate)
        if other is None or other.archived:
            raise FormError("err_delegate_list", field="delegate")
        if delegate == person.key:
            raise FormError("err_delegate_self", field="delegate")
    log = ChangeLog(roadmap.id, "web", actor)
    changed = False
    for name, value in (("away_until", until), ("delegate", delegate)):
        old = getattr(person, name)
        if old != value:
            setattr(person, name, value)
            log.add("person", person.key, name, old, value)
            changed = True
    log.flush(session)
    return Outcome(str(form.get("action")), changed)

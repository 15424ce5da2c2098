"""What each form of the task page does: checks the input, then one call to
``models.updates.update_task`` (source "web", the link's person as actor), which records
the change in the history and reschedules the dependents at once; their owners hear
about moved dates in their next digest through the usual rescheduling notices.

Away/delegate is about the person, not the task: it sets ``people.away_until`` and
``people.delegate`` and records both in the history (entity "person").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from models.errors import UserError
from models.history import ChangeLog
from models.schema import Person, Roadmap, Task
from models.updates import update_task

ACTIONS = ("done", "progress", "forecast", "blocked", "away", "back")
MAX_TEXT = 2000


@dataclass
class Outcome:
    action: str
    changed: bool
    moved: list[str] = field(default_factory=list)  # keys of tasks whose dates moved


def _date(value: str | None, label: str) -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise UserError(f"{label}: give a date (YYYY-MM-DD)") from None


def _text(value: str | None, label: str, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise UserError(f"{label}: please say why")
    if len(text) > MAX_TEXT:
        raise UserError(f"{label}: at most {MAX_TEXT} characters")
    return text or None


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
        on = _date(form.get("on"), "Done on")
        if on > today:
            raise UserError("Done on: that date is in the future")
        result = update_task(session, roadmap, task.key, status="done", on=on,
                             note=_text(form.get("note"), "Note", False), **common)  # type: ignore[arg-type]
    elif action == "progress":
        try:
            progress = int((form.get("progress") or "").strip())
        except ValueError:
            raise UserError("Progress: give a whole number from 0 to 100") from None
        if not 0 <= progress <= 100:
            raise UserError("Progress: give a whole number from 0 to 100")
        status = "in_progress" if task.status in ("planned", "blocked") and progress > 0 else None
        result = update_task(session, roadmap, task.key, progress=progress, status=status,
                             note=_text(form.get("note"), "Note", False), **common)  # type: ignore[arg-type]
    elif action == "forecast":
        forecast = _date(form.get("forecast"), "New date")
        if forecast < today:
            raise UserError("New date: that date is in the past")
        result = update_task(session, roadmap, task.key, forecast=forecast,
                             note=_text(form.get("reason"), "Reason", True), **common)  # type: ignore[arg-type]
    elif action == "blocked":
        result = update_task(session, roadmap, task.key, status="blocked",
                             note=_text(form.get("reason"), "Reason", True), **common)  # type: ignore[arg-type]
    elif action in ("away", "back"):
        if person is None:
            raise UserError("Away: this link is for the project office, not for a person")
        return _away(session, roadmap, person, form, today=today, actor=actor, people=people)
    else:
        raise UserError("unknown action")
    return Outcome(action, bool(result.changes), [m.key for m in result.moved])


def _away(session: Session, roadmap: Roadmap, person: Person, form: dict[str, str], *, today: dt.date,
          actor: str, people: dict[str, Person]) -> Outcome:
    if form.get("action") == "back":
        until, delegate = None, None
    else:
        until = _date(form.get("until"), "Away until")
        if until < today:
            raise UserError("Away until: that date is in the past")
        delegate = (form.get("delegate") or "").strip()
        other = people.get(delegate)
        if other is None or other.archived:
            raise UserError("Delegate: choose a person from the list")
        if delegate == person.key:
            raise UserError("Delegate: choose someone else")
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

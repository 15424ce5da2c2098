"""Live updates of tasks and risks (CLI today, the web later): validated, recorded, rescheduled."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.dates import DONE_BEFORE_SESSION_DAYS
from models.errors import UserError
from models.history import ChangeLog
from models.planning import Moved, reschedule_after
from models.problems import did_you_mean
from models.schema import InRoadmap, Risk, Roadmap, Task
from models.spec import RISK_STATUSES, TASK_STATUSES


@dataclass
class UpdateResult:
    key: str
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)


_Row = TypeVar("_Row", bound=InRoadmap)


def _find(session: Session, model: type[_Row], roadmap: Roadmap, key: str, kind: str) -> _Row:
    row = session.scalar(select(model).where(model.roadmap_id == roadmap.id, model.key == key))
    if row is None or row.archived:
        keys = session.scalars(select(model.key).where(model.roadmap_id == roadmap.id, model.archived.is_(False)))
        hint = did_you_mean(key, keys)
        state = "is archived" if row is not None else "does not exist"
        raise UserError(f"{kind} {key!r} {state} in roadmap {roadmap.key!r}{hint}")
    return row


def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> str | None:
    if value is not None and value not in allowed:
        raise UserError(f"{option}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _apply(
    row: Any, entity: str, values: dict[str, Any], note: str | None, log: ChangeLog, result: UpdateResult
) -> None:
    """Set the values that differ and record each; a note alone is recorded as a note."""
    result.changes += log.apply(row, entity, row.key, values, note)
    if note is not None and not result.changes:
        log.add(entity, row.key, "note", None, None, note)
        result.changes.append(("note", None, note))


def _finish_state(task: Task) -> object:
    """What decides when a task finishes for the tasks after it (models/schedule.py)."""
    if task.status == "cancelled":
        return "cancelled"
    if task.status == "done":
        return ("done", task.done_on)
    return ("open", task.forecast)


def update_task(
    session: Session,
    roadmap: Roadmap,
    key: str,
    *,
    today: date,
    status: str | None = None,
    progress: int | None = None,
    note: str | None = None,
    on: date | None = None,
    forecast: date | None = None,
    clear_forecast: bool = False,
    source: str = "cli",
    actor: str | None = None,
) -> UpdateResult:
    """Change a task's live state. `on` is the day it happened (done_on for done; default today)."""
    task: Task = _find(session, Task, roadmap, key, "task")
    _choice(status, TASK_STATUSES, "--status")
    if progress is not None and not 0 <= progress <= 100:
        raise UserError(f"--progress: {progress} is not between 0 and 100")
    if status is None and progress is None and note is None and forecast is None and not clear_forecast:
        raise UserError("nothing to update: give --status, --progress, --forecast or --note")
    if on is not None and status == "done":
        if on > today:
            raise UserError(f"--on: {on} is in the future; a task is done on the day it was finished")
        if on < roadmap.session_date - timedelta(days=DONE_BEFORE_SESSION_DAYS):
            raise UserError(f"--on: {on} is more than a year before the session ({roadmap.session_date}): a typo?")
    log = ChangeLog(roadmap.id, source, actor)
    result = UpdateResult(key)
    values: dict[str, Any] = {}
    if status is not None:
        values["status"] = status
        values["done_on"] = (on or today) if status == "done" else None
        if status == "done":
            values.update(progress=100, forecast=None)
        elif task.status == "done" and status != "cancelled":
            values["progress"] = None  # reopened: no longer 100 %, and how far it is is unknown
    if progress is not None:
        values["progress"] = progress
    if forecast is not None:
        values["forecast"] = forecast
    if clear_forecast:
        values["forecast"] = None
    finish_before = _finish_state(task)
    _apply(task, "task", values, note, log, result)
    session.flush()
    schedule_log = ChangeLog(roadmap.id, "schedule", actor)
    finish_after = _finish_state(task)
    if finish_after != finish_before:
        # Only a change to when the task finishes (or whether it counts at all) moves others.
        result.moved = reschedule_after(session, roadmap, schedule_log, {task.key},
                                        cancellation="cancelled" in (finish_before, finish_after))
    log.flush(session)
    schedule_log.flush(session)
    return result


def update_risk(
    session: Session,
    roadmap: Roadmap,
    key: str,
    *,
    today: date,
    status: str | None = None,
    probability: int | None = None,
    impact: int | None = None,
    review: date | None = None,
    reviewed: bool = False,
    on: date | None = None,
    mitigation: str | None = None,
    note: str | None = None,
    source: str = "cli",
    actor: str | None = None,
) -> UpdateResult:
    risk: Risk = _find(session, Risk, roadmap, key, "risk")
    _choice(status, RISK_STATUSES, "--status")
    for option, score in (("--probability", probability), ("--impact", impact)):
        if score is not None and not 1 <= score <= 5:
            raise UserError(f"{option}: {score} is not between 1 and 5")
    given = dict(status=status, probability=probability, impact=impact, review=review, mitigation=mitigation)
    values = {name: value for name, value in given.items() if value is not None}
    if reviewed:
        values["reviewed_on"] = on or today
    if not values and note is None:
        raise UserError("nothing to update: give --status, --probability, --impact, --review, --reviewed or --note")
    log = ChangeLog(roadmap.id, source, actor)
    result = UpdateResult(key)
    _apply(risk, "risk", values, note, log, result)
    log.flush(session)
    return result

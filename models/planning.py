"""Recompute the schedule of a stored roadmap and record the dates that moved.

Used after an import and after every status update (CLI or web): a task finished late
or given a new forecast shifts the tasks scheduled after it, and their owners are told
(the `due` changes recorded here with source "schedule" feed the rescheduling notices).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import BusinessCalendar, calendar_for
from models.dates import Anchor, DateExpr, parse_date_expr
from models.history import ChangeLog
from models.schedule import TaskInput, schedule_tasks
from models.schema import Roadmap, Stage, Task


@dataclass(frozen=True)
class Moved:
    key: str
    old_due: date
    new_due: date


def roadmap_calendar(roadmap: Roadmap) -> BusinessCalendar:
    return calendar_for(roadmap.calendar)


def live_tasks(session: Session, roadmap_id: int) -> list[Task]:
    return list(
        session.scalars(
            select(Task).where(Task.roadmap_id == roadmap_id, Task.archived.is_(False)).order_by(Task.position)
        )
    )


def reschedule(session: Session, roadmap: Roadmap, log: ChangeLog, tasks: list[Task] | None = None) -> list[Moved]:
    """Schedule the roadmap's live tasks from their stored expressions and live status."""
    cal = roadmap_calendar(roadmap)
    stages = {
        s.key: s for s in session.scalars(select(Stage).where(Stage.roadmap_id == roadmap.id))
    }
    tasks = tasks if tasks is not None else live_tasks(session, roadmap.id)
    cache: dict[str, DateExpr] = {}

    def expr(text: str | None) -> DateExpr | None:
        if text is None:
            return None
        if text not in cache:
            cache[text] = parse_date_expr(text)
        return cache[text]

    def resolve(anchor: Anchor) -> date:
        if anchor.kind == "session":
            return roadmap.session_date
        stage = stages[anchor.key]  # type: ignore[index]
        return stage.start if anchor.edge == "start" else stage.end

    live = {t.key for t in tasks}
    inputs = [
        TaskInput(
            key=t.key,
            stage_start=stages[t.stage].start,
            start=expr(t.start_expr),
            due=expr(t.due_expr),
            duration=t.duration,
            depends_on=tuple(d for d in t.depends_on if d in live),
            status=t.status,
            done_on=t.done_on,
            forecast=t.forecast,
        )
        for t in tasks
    ]
    plans = schedule_tasks(inputs, cal, resolve).plans
    moved: list[Moved] = []
    for t in tasks:
        p = plans[t.key]
        if t.due is not None and t.due != p.due:
            moved.append(Moved(t.key, t.due, p.due))
            log.add("task", t.key, "due", t.due, p.due)
            t.sequence = (t.sequence or 0) + 1
        for name, value in (("start", p.start), ("due", p.due), ("finish", p.finish), ("slack", p.slack), ("critical", p.critical)):
            if getattr(t, name) != value:
                setattr(t, name, value)
        if t.baseline_due is None:
            t.baseline_start, t.baseline_due = p.start, p.due
    return moved

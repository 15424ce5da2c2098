"""Recompute the schedule of a stored roadmap and record the dates that moved.

Used after an import and after every status update (CLI or web): a task finished late
or given a new forecast shifts the tasks scheduled after it, and their owners are told
(the `due` changes recorded here with source "schedule" feed the rescheduling notices).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.calendar import BusinessCalendar, calendar_for
from models.dates import Anchor, parse_date_expr
from models.history import ChangeLog
from models.graph import topological_order
from models.schedule import TaskInput, TaskPlan, critical_path, schedule_tasks
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


def live_task_rows(session: Session, roadmap_id: int) -> list[Any]:
    """The live tasks as read-only rows with the same attribute names as Task: for the
    planners that only read them (a fifth of the cost of loading ORM objects)."""
    t = Task.__table__
    columns = [c for c in t.c if c.name not in ("file_state", "notes", "updated_at")]
    return list(
        session.execute(
            select(*columns).where(t.c.roadmap_id == roadmap_id, t.c.archived.is_(False)).order_by(t.c.position)
        )
    )


def reschedule(session: Session, roadmap: Roadmap, log: ChangeLog, tasks: list[Task] | None = None) -> list[Moved]:
    """Schedule the roadmap's live tasks from their stored expressions and live status."""
    cal = roadmap_calendar(roadmap)
    stages = {
        s.key: s for s in session.scalars(select(Stage).where(Stage.roadmap_id == roadmap.id))
    }
    tasks = tasks if tasks is not None else live_tasks(session, roadmap.id)
    live = {t.key for t in tasks}
    inputs = [_task_input(t, stages, tuple(d for d in t.depends_on if d in live)) for t in tasks]
    plans = schedule_tasks(inputs, cal, _stage_resolver(roadmap, stages)).plans
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


def reschedule_after(session: Session, roadmap: Roadmap, log: ChangeLog, changed: set[str]) -> list[Moved]:
    """After a live change to the finish of some tasks (done, cancelled, a new forecast):
    schedule again only the tasks downstream of them, then slack and the critical path
    of the whole roadmap, reading and writing plain columns rather than ORM objects.

    1. Read every live task's key, links and current plan (one narrow select).
    2. Find the tasks downstream of `changed`: dependents, and tasks whose date
       expressions refer to them, transitively.
    3. Schedule those against the stored plans of everything else.
    4. Run the backward pass over all tasks; write only the rows whose plan changed.
    """
    t = Task.__table__
    rows = session.execute(
        select(t.c.id, t.c.key, t.c.depends_on, t.c.start_expr, t.c.due_expr, t.c.status, t.c.start, t.c.due,
               t.c.finish, t.c.slack, t.c.critical)
        .where(t.c.roadmap_id == roadmap.id, t.c.archived.is_(False))
    ).all()
    live = {r.key for r in rows}
    depends = {r.key: tuple(d for d in r.depends_on if d in live) for r in rows}
    followers: dict[str, set[str]] = {}
    for r in rows:
        refs = set(depends[r.key])
        for text in (r.start_expr, r.due_expr):
            if text and "task." in text:
                ref = parse_date_expr(text).refers_to_task
                if ref in live:
                    refs.add(ref)
        for ref in refs:
            followers.setdefault(ref, set()).add(r.key)
    downstream: set[str] = set()
    todo = [k for k in changed if k in live]
    while todo:
        key = todo.pop()
        if key not in downstream:
            downstream.add(key)
            todo.extend(followers.get(key, ()))

    by_key = {r.key: r for r in rows}
    known = {r.key: TaskPlan(r.key, r.start, r.due, r.finish, r.slack, r.critical) for r in rows if r.key not in downstream}
    cancelled = frozenset(r.key for r in rows if r.status == "cancelled")
    full = {
        r.key: r
        for r in session.execute(
            select(t.c.key, t.c.stage, t.c.start_expr, t.c.due_expr, t.c.duration, t.c.status, t.c.done_on,
                   t.c.forecast, t.c.sequence)
            .where(t.c.roadmap_id == roadmap.id, t.c.archived.is_(False), t.c.key.in_(downstream))
        )
    }
    cal = roadmap_calendar(roadmap)
    stages = {s.key: s for s in session.scalars(select(Stage).where(Stage.roadmap_id == roadmap.id))}
    inputs = [_task_input(full[k], stages, depends[k]) for k in downstream]
    new = schedule_tasks(inputs, cal, _stage_resolver(roadmap, stages), known=known, cancelled=cancelled,
                         with_critical_path=False).plans
    plans = {**known, **new}
    order = topological_order([r.key for r in rows], {k: depends[k] for k in live})
    assert order is not None  # a cycle cannot be stored: the loader refuses it
    plans = {k: TaskPlan(p.key, p.start, p.due, p.finish) for k, p in plans.items()}
    critical_path(order, depends, plans, cancelled, cal)

    moved: list[Moved] = []
    updates = []
    for key, p in plans.items():
        r = by_key[key]
        if (r.start, r.due, r.finish, r.slack, r.critical) == (p.start, p.due, p.finish, p.slack, p.critical):
            continue
        values = dict(id=r.id, start=p.start, due=p.due, finish=p.finish, slack=p.slack, critical=p.critical)
        if r.due != p.due:
            moved.append(Moved(key, r.due, p.due))
            log.add("task", key, "due", r.due, p.due)
            values["sequence"] = (full[key].sequence or 0) + 1
        updates.append(values)
    if updates:
        session.execute(update(Task), updates)  # ORM bulk UPDATE by primary key
    return moved


def _stage_resolver(roadmap: Roadmap, stages: dict[str, Stage]):  # type: ignore[no-untyped-def]
    def resolve(anchor: Anchor) -> date:
        if anchor.kind == "session":
            return roadmap.session_date
        stage = stages[anchor.key]  # type: ignore[index]
        return stage.start if anchor.edge == "start" else stage.end

    return resolve


def _task_input(task: Any, stages: dict[str, Stage], depends_on: tuple[str, ...]) -> TaskInput:
    """Scheduler input from a Task, or from a row with the same column names."""
    return TaskInput(
        key=task.key, stage_start=stages[task.stage].start,
        start=parse_date_expr(task.start_expr) if task.start_expr else None,
        due=parse_date_expr(task.due_expr) if task.due_expr else None,
        duration=task.duration, depends_on=depends_on, status=task.status, done_on=task.done_on,
        forecast=task.forecast,
    )

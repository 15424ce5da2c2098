"""Recompute the schedule of a stored roadmap and record the dates that moved.

Used after an import and after every status update (CLI or web): a task finished late
or given a new forecast shifts the tasks scheduled after it, and their owners are told
(the `due` changes recorded here with source "schedule" feed the rescheduling notices).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from models.calendar import BusinessCalendar, stored_calendar
from models.dates import parse_date_expr
from models.graph import topological_order
from models.history import ChangeLog
from models.schedule import TaskInput, TaskPlan, anchor_resolver, critical_path, plan_task, schedule_tasks
from models.schema import Roadmap, Stage, Task
from models.status import OPEN


@dataclass(frozen=True)
class Moved:
    key: str
    old_due: date
    new_due: date


def roadmap_calendar(roadmap: Roadmap) -> BusinessCalendar:
    """The stored roadmap's business days: its country, region and extra days."""
    return stored_calendar(roadmap.calendar, roadmap.calendar_rules)


def live_tasks(session: Session, roadmap_id: int) -> list[Task]:
    live = select(Task).where(Task.roadmap_id == roadmap_id, Task.archived.is_(False))
    return list(session.scalars(live.order_by(Task.position)))


def open_task_rows(session: Session, roadmap_id: int) -> list[Any]:
    """The open tasks (planned, in progress, blocked) as read-only rows holding the columns
    the reminder and escalation planners read, under Task's attribute names. A fraction of
    the cost of ORM objects; done and cancelled tasks are never mentioned, never block
    anything in a mail, and are left out."""
    t = Task.__table__
    columns = [t.c[name] for name in
               ("key", "title", "stage", "owner", "status", "start", "due", "sequence", "depends_on", "partners")]
    return list(session.execute(
        select(*columns)
        .where(t.c.roadmap_id == roadmap_id, t.c.archived.is_(False), t.c.status.in_(OPEN))
        .order_by(t.c.position)
    ))


def reschedule(session: Session, roadmap: Roadmap, log: ChangeLog, tasks: list[Task] | None = None) -> list[Moved]:
    """Schedule the roadmap's live tasks from their stored expressions and live status."""
    stages = _stage_dates(session, roadmap)
    tasks = tasks if tasks is not None else live_tasks(session, roadmap.id)
    live = {t.key for t in tasks}
    inputs = [_task_input(t, stages, tuple(d for d in t.depends_on if d in live)) for t in tasks]
    plans = schedule_tasks(inputs, roadmap_calendar(roadmap), anchor_resolver(roadmap.session_date, stages)).plans
    moved: list[Moved] = []
    for t in tasks:
        p = plans[t.key]
        if t.due is not None and t.due != p.due:
            moved.append(Moved(t.key, t.due, p.due))
            log.add("task", t.key, "due", t.due, p.due)
            t.sequence = (t.sequence or 0) + 1
        for name in ("start", "due", "finish", "slack", "critical"):
            if getattr(t, name) != getattr(p, name):  # an unchanged row is not sent back
                setattr(t, name, getattr(p, name))
        if t.baseline_due is None:
            t.baseline_start, t.baseline_due = p.start, p.due
    return moved


def reschedule_after(
    session: Session, roadmap: Roadmap, log: ChangeLog, changed: set[str], *, cancellation: bool = False
) -> list[Moved]:
    """After a live change to the finish of some tasks (done, cancelled, a new forecast),
    bring the stored schedule to what a full reschedule would give, touching as little as
    possible (tests/test_live_reschedule.py compares the two).

    The task graph (who depends on or refers to whom) only changes on import, so it is
    read once per process and roadmap import; the plans of the tasks this change reaches
    are read when needed.

    1. Forward: walk the tasks downstream of `changed` in dependency order, planning a task
       again only when something it depends on or refers to actually moved.
    2. Backward: while the roadmap's last finish stays, recompute latest finishes (slack,
       critical path) only for the moved tasks and their ancestors, from the stored slack
       of the others. A moved last finish (every slack moves) or a cancellation (who
       counts changes) reads every task and runs the whole backward pass.
    3. Write only the rows whose plan changed.
    Kept for the web round trips (new forecast, mark done) < 100 ms on 10,000 tasks, which a
    full reschedule misses 8x (docs/cli.md, "Fast paths and the targets that need them").
    """
    graph = _graph(session, roadmap)
    changed = {k for k in changed if k in graph.depends}
    cancelled = _cancelled(session, roadmap)
    if not changed:
        return []
    rows = _Rows(session, roadmap)
    plans = _StoredPlans(rows)
    cal = roadmap_calendar(roadmap)
    stages = _stage_dates(session, roadmap)
    resolve = anchor_resolver(roadmap.session_date, stages)

    downstream = _reach(changed, lambda k: graph.followers.get(k, ()))
    reads = {k: graph.reads[k] & downstream for k in downstream}
    order = topological_order(sorted(downstream), reads)
    assert order is not None  # a cycle cannot be stored: the loader refuses it
    dirty = set(changed)
    for key in order:
        if key not in dirty and not reads[key] & dirty:
            continue
        rows.prefetch({key, *graph.reads[key]})
        p = plan_task(_task_input(rows[key], stages, graph.depends[key]), plans, cancelled, cal, resolve)
        old = plans.stored(key)
        plans[key] = TaskPlan(key, p.start, p.due, p.finish, old.slack, old.critical)
        if (p.start, p.due, p.finish) != (old.start, old.due, old.finish):
            dirty.add(key)

    moved_keys = {k for k in dirty
                  if (plans[k].start, plans[k].finish) != (plans.stored(k).start, plans.stored(k).finish)}
    t = Task.__table__
    live = and_(t.c.roadmap_id == roadmap.id, t.c.archived.is_(False), t.c.status != "cancelled")
    last_before = session.scalar(select(func.max(t.c.finish)).where(live))
    others = session.scalar(select(func.max(t.c.finish)).where(live, t.c.key.not_in(list(plans.changed))))
    last_after = max([d for d in [others, *(p.finish for p in plans.changed.values())] if d is not None], default=None)
    if cancellation or changed & cancelled or last_before != last_after:
        rows.prefetch(set(graph.depends))
        order = topological_order(sorted(graph.depends), graph.depends)
        assert order is not None
        fresh = {k: TaskPlan(k, plans[k].start, plans[k].due, plans[k].finish) for k in graph.depends}
        critical_path(order, graph.depends, fresh, cancelled, cal)
        for key, p in fresh.items():
            plans[key] = p
    elif moved_keys:
        ancestors = _reach(moved_keys, graph.depends.__getitem__, cancelled)
        rows.prefetch(ancestors | {s for a in ancestors for s in graph.followers.get(a, ())})
        _update_slack(moved_keys, graph.depends.__getitem__, graph.followers, plans, cancelled, cal, last_after)
    return _write(session, log, plans, rows)


def upstream(session: Session, roadmap: Roadmap, key: str) -> set[str]:
    """The task and every live task it depends on, directly or not: all that its expected
    finish (models/forecast.py) reads. From the cached task graph."""
    graph = _graph(session, roadmap)
    return _reach({key}, graph.depends.__getitem__) if key in graph.depends else set()


@dataclass(frozen=True)
class _Graph:
    depends: dict[str, tuple[str, ...]]  # live dependencies of each live task
    followers: dict[str, tuple[str, ...]]  # who reads each task's plan: dependents, date references
    reads: dict[str, frozenset[str]]  # what each task's plan reads


_GRAPHS: dict[tuple[str, int, Any], _Graph] = {}


def _graph(session: Session, roadmap: Roadmap) -> _Graph:
    """The roadmap's task graph, cached per database, roadmap and import."""
    cache_key = (str(session.get_bind().engine.url), roadmap.id, roadmap.imported_at)
    if cache_key in _GRAPHS:
        return _GRAPHS[cache_key]
    t = Task.__table__
    rows = session.execute(
        select(t.c.key, t.c.depends_on, t.c.start_expr, t.c.due_expr)
        .where(t.c.roadmap_id == roadmap.id, t.c.archived.is_(False))
    ).all()
    live = {r.key for r in rows}
    depends = {r.key: tuple(d for d in r.depends_on if d in live) for r in rows}
    reads: dict[str, frozenset[str]] = {}
    followers: dict[str, list[str]] = {}
    for r in rows:
        refs = set(depends[r.key])
        for text in (r.start_expr, r.due_expr):
            if text and "task." in text:
                ref = parse_date_expr(text).refers_to_task
                if ref in live:
                    refs.add(ref)
        reads[r.key] = frozenset(refs)
        for ref in refs:
            followers.setdefault(ref, []).append(r.key)
    graph = _Graph(depends, {k: tuple(v) for k, v in followers.items()}, reads)
    if len(_GRAPHS) > 16:
        _GRAPHS.clear()
    _GRAPHS[cache_key] = graph
    return graph


def _cancelled(session: Session, roadmap: Roadmap) -> frozenset[str]:
    t = Task.__table__
    return frozenset(session.scalars(
        select(t.c.key).where(t.c.roadmap_id == roadmap.id, t.c.archived.is_(False), t.c.status == "cancelled")
    ))


def _reach(
    keys: set[str], neighbours: Callable[[str], Iterable[str]], leave_out: frozenset[str] = frozenset()
) -> set[str]:
    """``keys`` and every task reached from them through ``neighbours`` (the tasks they depend
    on, or those that read their plans), directly or not, leaving ``leave_out`` out."""
    found: set[str] = set()
    todo = [k for k in keys if k not in leave_out]
    while todo:
        key = todo.pop()
        if key not in found:
            found.add(key)
            todo.extend(n for n in neighbours(key) if n not in leave_out)
    return found


_ROW_COLUMNS = ("id", "key", "stage", "depends_on", "start_expr", "due_expr", "duration", "status", "done_on",
                "forecast", "sequence", "start", "due", "finish", "slack", "critical")


class _Rows:
    """Task rows by key, read from the database in batches when first needed."""

    def __init__(self, session: Session, roadmap: Roadmap) -> None:
        self._session, self._roadmap = session, roadmap
        self._rows: dict[str, Any] = {}

    def prefetch(self, keys: set[str]) -> None:
        missing = [k for k in keys if k not in self._rows]
        t = Task.__table__
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            for r in self._session.execute(
                select(*(t.c[c] for c in _ROW_COLUMNS))
                .where(t.c.roadmap_id == self._roadmap.id, t.c.archived.is_(False), t.c.key.in_(chunk))
            ):
                self._rows[r.key] = r

    def __getitem__(self, key: str) -> Any:
        if key not in self._rows:
            self.prefetch({key})
        return self._rows[key]

    def __contains__(self, key: object) -> bool:
        if key not in self._rows:
            self.prefetch({key})  # type: ignore[arg-type]
        return key in self._rows


def _write(session: Session, log: ChangeLog, plans: _StoredPlans, rows: Any) -> list[Moved]:
    """Store the plans that changed; record and return the due dates that moved."""
    moved: list[Moved] = []
    updates = []
    for key in plans.changed:
        r, p = rows[key], plans[key]
        if (r.start, r.due, r.finish, r.slack, r.critical) == (p.start, p.due, p.finish, p.slack, p.critical):
            continue
        values = dict(id=r.id, start=p.start, due=p.due, finish=p.finish, slack=p.slack, critical=p.critical)
        if r.due != p.due:
            moved.append(Moved(key, r.due, p.due))
            log.add("task", key, "due", r.due, p.due)
            values["sequence"] = (r.sequence or 0) + 1
        updates.append(values)
    if updates:
        session.execute(update(Task), updates)  # ORM bulk UPDATE by primary key
    return moved


class _StoredPlans:
    """Plans by task key: the stored ones, built only when read, and the ones set since."""

    def __init__(self, rows: _Rows) -> None:
        self._rows = rows
        self._built: dict[str, TaskPlan] = {}
        self.changed: dict[str, TaskPlan] = {}

    def stored(self, key: str) -> TaskPlan:
        if key not in self._built:
            r = self._rows[key]
            self._built[key] = TaskPlan(key, r.start, r.due, r.finish, r.slack, r.critical)
        return self._built[key]

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __getitem__(self, key: str) -> TaskPlan:
        return self.changed[key] if key in self.changed else self.stored(key)

    def __setitem__(self, key: str, plan: TaskPlan) -> None:
        self.changed[key] = plan


def _update_slack(
    moved: set[str],
    depends: Callable[[str], tuple[str, ...]],
    followers: dict[str, tuple[str, ...]],
    plans: _StoredPlans,
    cancelled: frozenset[str],
    cal: BusinessCalendar,
    last_finish: date,
) -> None:
    """The backward pass of models/schedule.critical_path, for the tasks whose latest
    finish can have changed: those whose start or finish moved, and their ancestors. The
    others keep their stored latest finish (finish position + slack). Only valid while the
    roadmap's last finish (the end every latest finish starts from) stays the same."""
    affected = _reach(moved, depends, cancelled)
    order = topological_order(sorted(affected), {k: set(depends(k)) & affected for k in affected})
    assert order is not None
    project_end_pos = cal.positions([last_finish])[0]

    def position(d: date) -> int:
        return cal.positions([d])[0]

    def length(p: TaskPlan) -> int:
        return max(cal.count(p.start, p.finish), 1)

    latest_finish: dict[str, int] = {}

    def latest_of(key: str) -> int:
        if key in latest_finish:
            return latest_finish[key]
        s = plans.stored(key)  # not affected: its latest finish has not changed
        return position(s.finish) + s.slack

    for key in reversed(order):
        lf = project_end_pos
        for succ in followers.get(key, ()):
            if succ in cancelled or key not in depends(succ):
                continue  # a date reference, not a dependency: no part of the critical path
            lf = min(lf, latest_of(succ) - length(plans[succ]))
        latest_finish[key] = lf
        p = plans[key]
        slack = lf - position(p.finish)
        plans[key] = TaskPlan(key, p.start, p.due, p.finish, slack, slack <= 0)


def _stage_dates(session: Session, roadmap: Roadmap) -> dict[str, tuple[date, date]]:
    """Start and end of every stage of the roadmap, by key."""
    query = select(Stage.key, Stage.start, Stage.end).where(Stage.roadmap_id == roadmap.id)
    return {key: (start, end) for key, start, end in session.execute(query)}


def _task_input(task: Any, stages: dict[str, tuple[date, date]], depends_on: tuple[str, ...]) -> TaskInput:
    """Scheduler input from a Task, or from a row with the same column names."""
    return TaskInput(
        key=task.key, stage_start=stages[task.stage][0],
        start=parse_date_expr(task.start_expr) if task.start_expr else None,
        due=parse_date_expr(task.due_expr) if task.due_expr else None,
        duration=task.duration, depends_on=depends_on, status=task.status, done_on=task.done_on,
        forecast=task.forecast,
    )

"""Forward scheduling, slack and the critical path, on plain data.

Rules (docs/roadmap-format.md, "Scheduling"):
- A task with `due` is pinned to it. A task with `duration` starts on the first business
  day after its latest dependency's finish (without dependencies: its own `start`, else its
  stage's start, rolled forward to a business day) and takes `duration` business days
  counting the start day.
- A dependency finishes on its done_on when done, on its forecast date when its owner gave
  one, else on its due date: an open task that is late does not move its dependents until
  someone gives it a new date. Cancelled tasks constrain nobody.
- Slack is the number of business days a task's finish can slip before the last finish of
  the roadmap moves; tasks with no slack are on the critical path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from models.calendar import BusinessCalendar
from models.dates import Anchor, DateExpr
from models.graph import topological_order


@dataclass(frozen=True)
class TaskInput:
    key: str
    stage_start: date
    start: DateExpr | None = None
    due: DateExpr | None = None
    duration: int | None = None
    depends_on: tuple[str, ...] = ()
    status: str = "planned"
    done_on: date | None = None
    forecast: date | None = None

    def references(self) -> set[str]:
        """The tasks whose plans this one reads: its dependencies and the tasks its dates name."""
        return set(self.depends_on) | {e.refers_to_task for e in (self.start, self.due) if e and e.refers_to_task}


@dataclass
class TaskPlan:
    key: str
    start: date
    due: date
    finish: date
    slack: int = 0
    critical: bool = False


@dataclass(frozen=True)
class Conflict:
    """A pinned due date earlier than the finish of one of its dependencies."""

    key: str
    due: date
    dependency: str
    dependency_finish: date


class OutsideWindow(Exception):
    """A task planned outside the window of dates the caller allows (models/dates.py, window)."""

    def __init__(self, key: str, field: str, day: date) -> None:
        super().__init__(f"task {key!r}: {field} {day} is outside the window")
        self.key, self.field, self.day = key, field, day


@dataclass
class Schedule:
    plans: dict[str, TaskPlan] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)


def schedule_tasks(
    tasks: Sequence[TaskInput],
    cal: BusinessCalendar,
    resolve: Callable[[Anchor], date],
    window: tuple[date, date] | None = None,
) -> Schedule:
    """Compute start, due, finish, slack and criticality of every task.

    `resolve` answers the anchors that are not tasks (session, stage edges). With a `window`,
    the first task planned outside it stops the schedule (OutsideWindow) before any task
    after it builds on its dates. Live updates use `plan_task` and `critical_path` directly
    (models/planning.reschedule_after).
    """
    by_key = {t.key: t for t in tasks}
    order = topological_order(by_key, {t.key: t.references() for t in tasks})
    assert order is not None  # the loader refuses cycles, so neither a file nor the database has one
    result = Schedule()
    cancelled = {t.key for t in tasks if t.status == "cancelled"}
    for key in order:
        plan = result.plans[key] = plan_task(by_key[key], result.plans, cancelled, cal, resolve, result.conflicts)
        if window is not None and not window[0] <= plan.start <= plan.due <= window[1]:
            field, day = ("start", plan.start) if window[0] <= plan.due <= window[1] else ("due", plan.due)
            raise OutsideWindow(key, field, day)
    critical_path(order, {t.key: t.depends_on for t in tasks}, result.plans, cancelled, cal)
    return result


def anchor_resolver(session_date: date, stage_dates: Mapping[str, tuple[date, date]]) -> Callable[[Anchor], date]:
    """The dates of the anchors that are not tasks: the session, and stage starts and ends."""

    def resolve(anchor: Anchor) -> date:
        if anchor.kind == "session":
            return session_date
        start, end = stage_dates[anchor.key]  # type: ignore[index]
        return start if anchor.edge == "start" else end

    return resolve


class PlansByKey(Protocol):
    """Plans of other tasks by key: a dict, or the stored plans a live update reads on demand."""

    def __getitem__(self, key: str, /) -> TaskPlan: ...

    def __contains__(self, key: object, /) -> bool: ...


def plan_task(
    task: TaskInput,
    plans: PlansByKey,
    cancelled: Collection[str],
    cal: BusinessCalendar,
    resolve: Callable[[Anchor], date],
    conflicts: list[Conflict] | None = None,
) -> TaskPlan:
    """One task's plan, given the plans of the tasks it depends on or refers to."""

    def resolve_any(anchor: Anchor) -> date:
        if anchor.kind == "task":
            plan = plans[anchor.key]  # type: ignore[index]
            return plan.start if anchor.edge == "start" else plan.due
        return resolve(anchor)

    live_deps = [d for d in task.depends_on if d in plans and d not in cancelled]
    earliest = cal.add(max(plans[d].finish for d in live_deps), 1) if live_deps else None
    if task.due is not None:
        due = task.due.evaluate(resolve_any, cal)
        if task.start is not None:
            start = task.start.evaluate(resolve_any, cal)
        else:
            start = min(earliest or cal.roll_forward(task.stage_start), due)
        if conflicts is not None:
            for dep in live_deps:
                if plans[dep].finish > due:
                    conflicts.append(Conflict(task.key, due, dep, plans[dep].finish))
    else:
        # After its dependencies and not before an explicit start; with neither, at its stage's start.
        explicit = cal.roll_forward(task.start.evaluate(resolve_any, cal)) if task.start is not None else None
        bounds = [d for d in (earliest, explicit) if d is not None]
        start = max(bounds) if bounds else cal.roll_forward(task.stage_start)
        due = cal.span_end(start, task.duration or 1)
    finish = due
    if task.status == "done" and task.done_on is not None:
        finish = task.done_on
    elif task.forecast is not None and task.status not in ("done", "cancelled"):
        finish = task.forecast
    return TaskPlan(key=task.key, start=min(start, due), due=due, finish=finish)


def critical_path(
    order: Sequence[str],
    depends_on: Mapping[str, Sequence[str]],
    plans: Mapping[str, TaskPlan],
    cancelled: Collection[str],
    cal: BusinessCalendar,
) -> None:
    """Backward pass in business-day positions over tasks in topological `order`;
    sets slack = latest finish - finish, and critical = no slack."""
    live = [k for k in order if k not in cancelled]
    if not live:
        return
    pos = dict(zip(live, cal.positions([plans[k].finish for k in live]), strict=True))
    length = {k: max(cal.count(plans[k].start, plans[k].finish), 1) for k in live}
    project_end = max(pos.values())
    latest_finish = dict.fromkeys(live, project_end)
    for key in reversed(live):
        latest_start = latest_finish[key] - length[key] + 1
        for dep in depends_on[key]:
            if dep in latest_finish:
                latest_finish[dep] = min(latest_finish[dep], latest_start - 1)
    for key in live:
        plan = plans[key]
        plan.slack = latest_finish[key] - pos[key]
        plan.critical = plan.slack <= 0

"""Status rules: how late a task is, its RAG colour, and the roll-up per stage.

RAG: green = on track (or done), amber = due within the reminder window, blocked, or
forecast later than its due date, red = overdue by at least one business day.
Cancelled tasks have no colour ("grey") and do not count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from models.calendar import BusinessCalendar
from models.schema import Person, Roadmap, Stage, Task

OPEN = ("planned", "in_progress", "blocked")


@dataclass(frozen=True)
class TaskState:
    key: str
    title: str
    stage: str
    workstream: str | None
    owner: str
    owner_name: str
    start: date
    due: date
    forecast: date | None
    status: str
    progress: int
    done_on: date | None
    days_late: int
    days_left: int
    rag: str
    critical: bool
    slack: int
    depends_on: list[str]
    blocked_by: list[str]


@dataclass(frozen=True)
class StageState:
    key: str
    title: str
    start: date
    end: date
    forecast_end: date | None
    progress: int
    tasks: int
    done: int
    overdue: int
    rag: str


def task_progress(task: Task) -> int:
    return 100 if task.status == "done" else max(0, min(100, task.progress or 0))


def task_rag(task: Task, as_of: date, cal: BusinessCalendar, window: int) -> tuple[int, int, str]:
    """(business days late, business days left, colour) of one task on `as_of`."""
    if task.status == "cancelled":
        return 0, 0, "grey"
    if task.status == "done":
        return 0, 0, "green"
    late = cal.between(task.due, as_of)
    if late > 0:
        return late, 0, "red"
    left = -late
    if task.status == "blocked" or left <= window or (task.forecast and task.forecast > task.due):
        return 0, left, "amber"
    return 0, left, "green"


def task_states(
    tasks: list[Task], people: dict[str, Person], as_of: date, cal: BusinessCalendar, window: int
) -> list[TaskState]:
    by_key = {t.key: t for t in tasks}
    out = []
    for t in tasks:
        late, left, rag = task_rag(t, as_of, cal, window)
        blockers = [d for d in t.depends_on if d in by_key and by_key[d].status not in ("done", "cancelled")]
        owner = people.get(t.owner)
        out.append(
            TaskState(
                key=t.key, title=t.title, stage=t.stage, workstream=t.workstream, owner=t.owner,
                owner_name=owner.name if owner else t.owner, start=t.start, due=t.due, forecast=t.forecast,
                status=t.status, progress=task_progress(t), done_on=t.done_on, days_late=late, days_left=left,
                rag=rag, critical=bool(t.critical and t.status not in ("done", "cancelled")), slack=t.slack,
                depends_on=list(t.depends_on), blocked_by=blockers,
            )
        )
    return out


def forecast_finish(task: Task, as_of: date) -> date:
    """When a task is expected to finish: its scheduled finish, but an open task
    (planned, in progress, blocked) cannot finish before `as_of`."""
    return max(task.finish, as_of) if task.status in OPEN else task.finish


def stage_states(
    stages: list[Stage], tasks: list[Task], states: list[TaskState], cal: BusinessCalendar, as_of: date
) -> list[StageState]:
    """Per stage: progress weighted by duration, forecast end (the latest forecast finish
    of its tasks) and RAG (red when a task is overdue or the forecast end is late)."""
    by_stage: dict[str, list[tuple[Task, TaskState]]] = defaultdict(list)
    for t, s in zip(tasks, states, strict=True):
        if t.status != "cancelled":
            by_stage[t.stage].append((t, s))
    out = []
    for st in stages:
        members = by_stage.get(st.key, [])
        weights = [max(cal.count(t.start, t.due), 1) for t, _ in members]
        total = sum(weights)
        weighted = sum(w * s.progress for w, (_, s) in zip(weights, members, strict=True))
        progress = round(weighted / total) if total else 0
        forecast_end = max((forecast_finish(t, as_of) for t, _ in members), default=None)
        overdue = sum(1 for _, s in members if s.rag == "red")
        late = overdue or (forecast_end and forecast_end > st.end)
        rag = "red" if late else "amber" if any(s.rag == "amber" for _, s in members) else "green"
        out.append(
            StageState(
                key=st.key, title=st.title, start=st.start, end=st.end, forecast_end=forecast_end,
                progress=progress, tasks=len(members), done=sum(1 for _, s in members if s.status == "done"),
                overdue=overdue, rag=rag,
            )
        )
    return out


def _row(obj: Any) -> dict[str, Any]:
    """A flat dataclass as a JSON-ready dict (dates as ISO strings). Faster than asdict,
    which deep-copies every value."""
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in vars(obj).items()}


def status_document(roadmap: Roadmap, as_of: date, stages: list[StageState], tasks: list[TaskState]) -> dict[str, Any]:
    """The stable JSON shape of `roadmap status --format json` (docs/cli.md)."""
    return {
        "schema": "roadmap-status/1",
        "roadmap": {"key": roadmap.key, "title": roadmap.title, "as_of": as_of.isoformat()},
        "summary": {
            "tasks": sum(1 for t in tasks if t.status != "cancelled"),
            "done": sum(1 for t in tasks if t.status == "done"),
            "overdue": sum(1 for t in tasks if t.rag == "red"),
            "amber": sum(1 for t in tasks if t.rag == "amber"),
            "critical": sum(1 for t in tasks if t.critical),
        },
        "stages": [_row(s) for s in stages],
        "tasks": [_row(t) for t in tasks],
    }

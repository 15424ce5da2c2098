"""Expected finishes: a forward pass over the live plan from the as-of day (docs/scheduling.md).

The plan (models/schedule.py) keeps every date people were told until someone gives a new
one; the forecast here says when each task is now expected to finish, so a late task moves
everything after it. Rules, on business days of the roadmap's calendar:

- A done task finishes on its done date. A cancelled task constrains nobody and has none.
- An open task (planned, in progress, blocked) starts no earlier than its planned start and
  the business day after its dependencies' expected finish, then takes its duration: a
  duration task its `duration`, a pinned task (a fixed due, no duration) the business days
  its plan gave it (planned start to due, at least one). So a pinned task whose dependencies
  are expected late is expected no earlier than the business day after them, and later by
  as much as its start was pushed back. An open task finishes no earlier than its due date,
  its owner's forecast and, once past due, the as-of day.
- A stage is expected to finish with its last task, the roadmap with its last stage.
- Slack, from a backward pass against the plan: how many business days a task's expected
  finish can still slip before the roadmap's planned end (its last due date) moves, along
  the expected durations of what follows it. Negative slack is the days the roadmap is now
  expected late because of that task. The critical path: open tasks with no slack. A done
  task has no negative slack: nothing it does can slip any more.

Plain data in, plain data out: a task is anything with the attributes of ``Plan`` (a
``Task``, or a row of those columns).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import BusinessCalendar
from models.graph import topological_order
from models.schema import Task

OPEN = ("planned", "in_progress", "blocked")  # the statuses of an open task


class Plan(Protocol):
    """What the pass reads of a task: its plan (models/schedule.py) and live status."""

    @property
    def key(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def start(self) -> date: ...
    @property
    def due(self) -> date: ...
    @property
    def duration(self) -> int | None: ...
    @property
    def depends_on(self) -> list[Any]: ...
    @property
    def done_on(self) -> date | None: ...
    @property
    def forecast(self) -> date | None: ...


class Due(Protocol):
    """What the planned end reads of a task (a Task, a row, a TaskState)."""

    @property
    def status(self) -> str: ...
    @property
    def due(self) -> date: ...


@dataclass(frozen=True, slots=True)
class Expected:
    """One task's forecast: expected start and finish, slack (business days) and whether it
    is on the critical path."""

    start: date
    finish: date
    slack: int
    critical: bool


# The columns the pass reads, for callers that read rows rather than Task objects.
COLUMNS = ("key", "stage", "status", "start", "due", "duration", "depends_on", "done_on", "forecast")


def forward_pass(tasks: Sequence[Plan], as_of: date, cal: BusinessCalendar) -> dict[str, Expected]:
    """The expected start, finish, slack and criticality of every live task that is not
    cancelled, by key (module docstring: the rules)."""
    return _backward(*_forward(tasks, as_of, cal), cal)


def _forward(tasks: Sequence[Plan], as_of: date, cal: BusinessCalendar
             ) -> tuple[list[str], dict[str, list[str]], dict[str, Plan], dict[str, date], dict[str, date]]:
    """The forward pass alone: (topological order, live dependencies, live tasks, expected
    starts, expected finishes), the tasks that are not cancelled by key."""
    live = {t.key: t for t in tasks if t.status != "cancelled"}
    deps = {k: [d for d in t.depends_on if d in live] for k, t in live.items()}
    order = topological_order(live, deps)
    assert order is not None  # the loader refuses cycles
    start: dict[str, date] = {}
    finish: dict[str, date] = {}
    for key in order:
        t = live[key]
        if t.status == "done":
            finish[key] = t.done_on or t.due
            start[key] = min(t.start, finish[key])
            continue
        after = cal.add(max(finish[d] for d in deps[key]), 1) if deps[key] else None
        begin = max(t.start, after) if after is not None else t.start
        # A pinned task keeps the working time its plan gave it: a start pushed back
        # pushes its finish back as much (and never to less than one business day).
        length = t.duration if t.duration is not None else cal.count(t.start, t.due)
        bounds = [t.due, cal.span_end(begin, length)]
        if t.forecast is not None:
            bounds.append(t.forecast)
        if as_of > t.due:
            bounds.append(as_of)
        finish[key] = max(bounds)
        start[key] = min(begin, finish[key])
    return order, deps, live, start, finish


def planned_end(tasks: Iterable[Due]) -> date | None:
    """The roadmap's planned end: the last due date of a task that is not cancelled (slack is
    counted against it; the status and the portfolio show it beside the expected finish)."""
    return max((t.due for t in tasks if t.status != "cancelled"), default=None)


def _backward(
    order: list[str],
    deps: Mapping[str, list[str]],
    live: Mapping[str, Plan],
    start: Mapping[str, date],
    finish: Mapping[str, date],
    cal: BusinessCalendar,
) -> dict[str, Expected]:
    """Latest finishes against the planned end, in business-day positions; slack = latest
    finish - expected finish."""
    if not order:
        return {}
    keys = list(order)
    fin = dict(zip(keys, cal.positions([finish[k] for k in keys]), strict=True))
    # Position of the business day before the start, so length = fin - before (>= 1).
    before = dict(zip(keys, cal.positions([cal.add(start[k], -1) for k in keys]), strict=True))
    planned = planned_end(live.values())
    assert planned is not None  # there are live tasks
    end = cal.positions([planned])[0]
    latest = dict.fromkeys(keys, end)
    for key in reversed(keys):
        # Its dependencies must finish by the business day before its latest start.
        by = latest[key] - max(fin[key] - before[key], 1)
        for dep in deps[key]:
            if by < latest[dep]:
                latest[dep] = by
    out = {}
    for key in keys:
        slack = latest[key] - fin[key]
        is_open = live[key].status in OPEN
        if not is_open:
            slack = max(slack, 0)
        out[key] = Expected(start[key], finish[key], slack, is_open and slack <= 0)
    return out


def expected_finish(tasks: Sequence[Plan], as_of: date, cal: BusinessCalendar) -> dict[str, date]:
    """Expected finish of every live task that is not cancelled, by key (for the report, the
    Gantt chart and the portfolio): the forward pass without the slack of the backward one."""
    return _forward(tasks, as_of, cal)[4]


def stage_expected(tasks: Iterable[Plan], finishes: Mapping[str, date]) -> dict[str, date]:
    """Expected finish of each stage that has a live task: the latest of its tasks'."""
    out: dict[str, date] = {}
    for t in tasks:
        day = finishes.get(t.key)
        if day is not None and (t.stage not in out or day > out[t.stage]):
            out[t.stage] = day
    return out


def roadmap_expected(finishes: Mapping[str, date]) -> date | None:
    """Expected finish of the roadmap: the latest of its stages' (or tasks', the same day)."""
    return max(finishes.values(), default=None)


def roadmap_forecast(
    session: Session, roadmap_id: int, as_of: date, cal: BusinessCalendar, keys: Collection[str] | None = None
) -> dict[str, Expected]:
    """The forward pass over a stored roadmap's live tasks, reading only the columns it
    needs; with `keys`, over those tasks only (a task and all it depends on give its
    expected finish; slack needs them all)."""
    t = Task.__table__
    query = select(*(t.c[name] for name in COLUMNS)).where(t.c.roadmap_id == roadmap_id, t.c.archived.is_(False))
    if keys is None:
        rows = list(session.execute(query))
    else:
        wanted = sorted(keys)
        chunks = (wanted[i:i + 500] for i in range(0, len(wanted), 500))
        rows = [r for chunk in chunks for r in session.execute(query.where(t.c.key.in_(chunk)))]
    return forward_pass(rows, as_of, cal)

"""Status rules: how late a task is, its RAG colour, and the roll-up per stage.

RAG of a task: red = overdue by at least one business day, or expected to finish after
its due date (the forward pass of models/forecast.py: a late task before it counts);
amber = due within the reminder window, or blocked; green = on track (or done).
Cancelled tasks have no colour ("grey") and do not count. A stage is red when one of its
tasks is red or it is expected to end after its planned end, amber when one of its tasks
is amber. Slack and the critical path come from the same forward pass.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, Protocol

from models.calendar import BusinessCalendar
from models.errors import UserError
from models.forecast import OPEN, Expected, forward_pass, planned_end, roadmap_expected
from models.problems import did_you_mean
from models.schema import Person, Roadmap, Task

__all__ = ["OPEN", "StageState", "StatusFilter", "TaskMark", "TaskState", "planned_end", "roadmap_rag",
           "stage_states", "status_document", "task_counts", "task_marks", "task_rag", "task_states"]


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
    forecast: date | None  # the owner's
    expected: date | None  # the forward pass's; None for a cancelled task
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
    expected: date | None  # the latest expected finish of its tasks
    forecast_end: date | None  # the same day, under its roadmap-status/1 name
    progress: int
    tasks: int
    done: int
    overdue: int
    rag: str


class Marked(Protocol):
    """What the counts and a stage's roll-up read of a task's state: a TaskState, or the
    lighter TaskMark of the portfolio."""

    @property
    def status(self) -> str: ...
    @property
    def progress(self) -> int: ...
    @property
    def expected(self) -> date | None: ...
    @property
    def days_late(self) -> int: ...
    @property
    def rag(self) -> str: ...


class TaskMark(NamedTuple):
    """A task's state reduced to what the counts and the stage roll-up read (``task_marks``):
    the portfolio's, a fraction of the cost of a TaskState for each of 50,000 tasks."""

    status: str
    progress: int
    expected: date | None
    days_late: int
    days_left: int
    rag: str


def task_progress(task: Task) -> int:
    return 100 if task.status == "done" else max(0, min(100, task.progress or 0))


def task_rag(
    task: Task, expected: date | None, as_of: date, cal: BusinessCalendar, window: int
) -> tuple[int, int, str]:
    """(business days late, business days left, colour) of one task on `as_of`, given its
    expected finish (models/forecast.py)."""
    if task.status == "cancelled":
        return 0, 0, "grey"
    if task.status == "done":
        return 0, 0, "green"
    late = cal.between(task.due, as_of)
    if late > 0:
        return late, 0, "red"
    left = -late
    if expected is not None and expected > task.due:
        return 0, left, "red"
    if task.status == "blocked" or left <= window:
        return 0, left, "amber"
    return 0, left, "green"


def task_states(
    tasks: list[Task], people: dict[str, Person], as_of: date, cal: BusinessCalendar, window: int,
    forecast: dict[str, Expected] | None = None,
) -> list[TaskState]:
    """Each task's state on `as_of`; `forecast` is the forward pass over these tasks, made
    here when not given."""
    by_key = {t.key: t for t in tasks}
    if forecast is None:
        forecast = forward_pass(tasks, as_of, cal)
    out = []
    for t in tasks:
        e = forecast.get(t.key)
        late, left, rag = task_rag(t, e.finish if e else None, as_of, cal, window)
        blockers = [d for d in t.depends_on if d in by_key and by_key[d].status not in ("done", "cancelled")]
        owner = people.get(t.owner)
        out.append(
            TaskState(
                key=t.key, title=t.title, stage=t.stage, workstream=t.workstream, owner=t.owner,
                owner_name=owner.name if owner else t.owner, start=t.start, due=t.due, forecast=t.forecast,
                expected=e.finish if e else None,
                status=t.status, progress=task_progress(t), done_on=t.done_on, days_late=late, days_left=left,
                rag=rag, critical=bool(e and e.critical), slack=e.slack if e else 0,
                depends_on=list(t.depends_on), blocked_by=blockers,
            )
        )
    return out


def task_marks(tasks: Sequence[Any], as_of: date, cal: BusinessCalendar, window: int,
               finishes: Mapping[str, date]) -> list[TaskMark]:
    """Each task's status, progress, expected finish (``finishes``: models/forecast.py
    ``expected_finish``), lateness and RAG on `as_of`, by the rules of ``task_states``."""
    out = []
    for t in tasks:
        expected = finishes.get(t.key)
        out.append(TaskMark(t.status, task_progress(t), expected, *task_rag(t, expected, as_of, cal, window)))
    return out


def task_counts(states: Iterable[Marked]) -> dict[str, int]:
    """The roadmap's counts (the status JSON's ``summary``, the portfolio's): tasks that are
    not cancelled, done, overdue (at least one business day late), red and amber."""
    counts = dict.fromkeys(("tasks", "done", "overdue", "red", "amber"), 0)
    for s in states:
        counts["tasks"] += s.status != "cancelled"
        counts["done"] += s.status == "done"
        counts["overdue"] += s.days_late > 0
        counts["red"] += s.rag == "red"
        counts["amber"] += s.rag == "amber"
    return counts


def stage_states(
    stages: Sequence[Any], tasks: Sequence[Any], states: Sequence[Marked], cal: BusinessCalendar, as_of: date
) -> list[StageState]:
    """Per stage: progress weighted by duration, expected end (the latest expected finish
    of its tasks, `states[i].expected`) and RAG (red when a task is red or the expected end
    is after the stage's end)."""
    by_stage: dict[str, list[tuple[Any, Marked]]] = defaultdict(list)
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
        expected = max((s.expected for _, s in members if s.expected is not None), default=None)
        overdue = sum(1 for _, s in members if s.days_late > 0)
        late = any(s.rag == "red" for _, s in members) or (expected and expected > st.end)
        rag = "red" if late else "amber" if any(s.rag == "amber" for _, s in members) else "green"
        out.append(
            StageState(
                key=st.key, title=st.title, start=st.start, end=st.end, expected=expected, forecast_end=expected,
                progress=progress, tasks=len(members), done=sum(1 for _, s in members if s.status == "done"),
                overdue=overdue, rag=rag,
            )
        )
    return out


def _row(obj: Any) -> dict[str, Any]:
    """A flat dataclass as a JSON-ready dict (dates as ISO strings). Faster than asdict,
    which deep-copies every value."""
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in vars(obj).items()}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def status_document(roadmap: Roadmap, as_of: date, stages: list[StageState], tasks: list[TaskState]) -> dict[str, Any]:
    """The stable JSON shape of `roadmap status --format json` (docs/cli.md)."""
    return {
        "schema": "roadmap-status/1",
        "roadmap": {"key": roadmap.key, "title": roadmap.title, "as_of": as_of.isoformat(),
                    "expected": _iso(roadmap_expected({s.key: s.expected for s in stages if s.expected})),
                    "planned": _iso(planned_end(tasks))},
        "summary": {**task_counts(tasks), "critical": sum(1 for t in tasks if t.critical)},
        "stages": [_row(s) for s in stages],
        "tasks": [_row(t) for t in tasks],
    }


RAG_ORDER = ("grey", "green", "amber", "red")


def roadmap_rag(stage_rags: Iterable[str]) -> str:
    """The roadmap's colour: the worst of its stages' (green when it has none)."""
    return max(stage_rags, key=RAG_ORDER.index, default="green")


@dataclass(frozen=True)
class StatusFilter:
    """Which tasks `roadmap status` lists (`--owner`, `--stage`, `--overdue`, `--critical`; all
    of them when several are given). The header and the JSON ``summary`` stay the roadmap's."""

    owner: str | None = None
    stage: str | None = None
    overdue: bool = False
    critical: bool = False

    def __bool__(self) -> bool:
        return bool(self.owner or self.stage or self.overdue or self.critical)

    def check(self, roadmap_key: str, people: list[str], stages: list[str]) -> None:
        """Refuse a person or stage the roadmap does not have (a typo would list nothing)."""
        for option, kind, value, known in (("--owner", "person", self.owner, people),
                                           ("--stage", "stage", self.stage, stages)):
            if value is not None and value not in known:
                raise UserError(f"{option}: {kind} {value!r} does not exist in roadmap {roadmap_key!r}"
                                f"{did_you_mean(value, known)}")

    def keeps(self, task: dict[str, Any]) -> bool:
        return ((self.owner is None or task["owner"] == self.owner)
                and (self.stage is None or task["stage"] == self.stage)
                and (not self.overdue or task["days_late"] > 0)
                and (not self.critical or task["critical"]))

    def apply(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The status document with only the tasks kept (and with ``stage``, only that stage);
        ``roadmap`` and ``summary`` unchanged."""
        if not self:
            return doc
        stages = [s for s in doc["stages"] if self.stage is None or s["key"] == self.stage]
        return {**doc, "stages": stages, "tasks": [t for t in doc["tasks"] if self.keeps(t)]}

    def describe(self) -> str:
        """The filter in words, for the line that says how many tasks are shown."""
        parts = [f"owner {self.owner}" if self.owner else "", f"stage {self.stage}" if self.stage else "",
                 "overdue" if self.overdue else "", "critical" if self.critical else ""]
        return ", ".join(p for p in parts if p)

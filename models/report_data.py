"""The data of one weekly status report: plain dataclasses, serialisable to JSON.

Why a separate context: the report is rendered from plain data only (Ghostwriter's rule:
build the context, then render). Whoever reads the database fills these dataclasses; the
renderers in ``tasks/gantt.py`` and ``tasks/report_docx.py`` never touch the database, so the
same context can be saved as a JSON snapshot (``to_dict``/``from_dict``), rendered again
later with identical text, and compared with next week's to list the changes.

Nothing here does I/O or imports python-docx or matplotlib. The rules that fill these rows
are in ``models/report_rules.py``, the report's words in ``models/report_words.py``.

Conventions every builder must follow:
- dates are ``datetime.date``; ``generated_at`` is a timezone-aware ``datetime``;
- ``rag`` is one of ``'green' | 'amber' | 'red'``;
- ``days_late`` counts business days (the builder owns the calendar);
- ``heatmap[p - 1][i - 1]`` is the number of open risks with probability ``p`` and impact ``i``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from models.i18n import LANGUAGES

# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class TaskRow:
    """One task as the report shows it; every derived figure is already computed."""

    key: str
    title: str
    stage: str = ""
    owner: str = ""
    partners: list[str] = field(default_factory=list)
    start: dt.date | None = None
    due: dt.date | None = None
    baseline_due: dt.date | None = None
    status: str = "planned"  # models/spec.py TaskStatus; "todo" in older snapshots means planned
    progress: int = 0  # 0-100
    days_late: int = 0  # business days past ``due`` as of the report date
    rag: str = "green"
    critical: bool = False
    slack: int = 0  # business days of total float
    escalation_level: int = 0  # 0 none, 1 owner's manager, 2 project office
    blocked_by: list[str] = field(default_factory=list)  # keys of blocking tasks


@dataclass(kw_only=True, slots=True)
class StageRow:
    key: str
    title: str
    start: dt.date | None = None
    end: dt.date | None = None  # planned end
    forecast_end: dt.date | None = None
    progress: int = 0  # 0-100
    rag: str = "green"


@dataclass(kw_only=True, slots=True)
class RiskRow:
    key: str
    title: str
    owner: str = ""
    probability: int = 1  # 1-5
    impact: int = 1  # 1-5
    score: int = 0  # probability * impact; filled in __post_init__ when left at 0
    mitigation: str = ""
    review_date: dt.date | None = None
    status: str = "open"  # open | mitigated | occurred | closed (models/spec.py)

    def __post_init__(self) -> None:
        for name in ("probability", "impact"):
            value = getattr(self, name)
            if not 1 <= value <= 5:
                raise ValueError(f"risk {self.key}: {name} must be 1-5, got {value}")
        if not self.score:
            self.score = self.probability * self.impact

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


@dataclass(kw_only=True, slots=True)
class GanttBar:
    """One row of the Gantt chart: a stage, or an open task of the stage before it.

    Three bars per row: the plan (``start``..``end``, the current planned dates), the
    baseline (the dates at the first import) and the expected finish of the forward pass
    (``start``..``expected``; past ``end`` means late). Rows are grouped by stage with
    ``models/gantt_rows.py``; ``more`` on a stage counts its open tasks the builder left out.
    """

    label: str
    kind: str = "task"  # 'stage' | 'task'
    start: dt.date
    end: dt.date  # the planned end (a task's due date), inclusive
    expected: dt.date | None = None  # the forward pass's expected finish (None in older snapshots)
    baseline_start: dt.date | None = None
    baseline_end: dt.date | None = None
    rag: str = "green"
    critical: bool = False
    stage: str = ""  # the stage key (of a task, or the stage's own); "" in older snapshots
    more: int = 0  # a stage: how many of its open tasks are not in the list

    @property
    def late(self) -> bool:
        """Expected to finish after its planned end."""
        return self.expected is not None and self.expected > self.end


@dataclass(kw_only=True, slots=True)
class Summary:
    rag: str = "green"
    tasks_total: int = 0
    tasks_done: int = 0
    percent_done_count: float = 0.0  # 0-100, share of tasks done
    percent_done_weighted: float = 0.0  # 0-100, weighted by planned duration
    done_this_week: int = 0
    overdue_now: int = 0
    stages_on_track: int = 0
    stages_late: int = 0
    decisions: list[str] = field(default_factory=list)  # at most 3 sentences


@dataclass(kw_only=True, slots=True)
class ChangeItem:
    key: str
    title: str


@dataclass(kw_only=True, slots=True)
class MovedTask:
    key: str
    title: str
    old_due: dt.date | None = None
    new_due: dt.date | None = None


@dataclass(kw_only=True, slots=True)
class Changes:
    """What changed since the previous report's snapshot."""

    completed: list[ChangeItem] = field(default_factory=list)
    newly_overdue: list[ChangeItem] = field(default_factory=list)
    moved: list[MovedTask] = field(default_factory=list)
    new_risks: list[ChangeItem] = field(default_factory=list)
    closed_risks: list[ChangeItem] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.completed or self.newly_overdue or self.moved or self.new_risks or self.closed_risks)


@dataclass(kw_only=True, slots=True)
class EscalationSent:
    recipient: str
    subject: str
    sent_at: dt.datetime
    level: int = 0  # 1 owner's manager, 2 project office; 0 a risk (or an older snapshot)
    key: str = ""  # the task or risk escalated ("" in older snapshots)


@dataclass(kw_only=True, slots=True)
class WorkstreamRow:
    """One workstream (a thematic group of tasks across stages) and how its tasks stand."""

    key: str
    title: str
    tasks: int = 0  # not cancelled
    done: int = 0
    late: int = 0  # open and past due
    expected_end: dt.date | None = None  # the latest expected finish of its tasks


@dataclass(kw_only=True, slots=True)
class PartnerRow:
    """One partner with what it is involved in: enough to prepare a meeting with it."""

    key: str
    name: str
    kind: str = ""
    formats: list[str] = field(default_factory=list)  # how the project works with it
    open: list[TaskRow] = field(default_factory=list)  # open tasks, late first
    late: int = 0  # of ``open``, how many are past due


@dataclass(kw_only=True, slots=True)
class FailedMessage:
    """A message of the roadmap that failed and waits for someone to retry or dismiss it."""

    id: int
    as_of: dt.date
    recipient: str
    subject: str
    error: str


@dataclass(kw_only=True, slots=True)
class MessagesSummary:
    reminders_sent: int = 0
    escalations_sent: int = 0  # items escalated (``escalations``), not mails: a digest carries several
    notices_sent: int = 0
    escalations: list[EscalationSent] = field(default_factory=list)
    failed_waiting: int = 0  # all of them, any day; ``failed`` lists the oldest FAILED_LISTED
    failed: list[FailedMessage] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class ReportContext:
    """Everything one weekly report shows. ``changes is None`` means: first report."""

    roadmap_key: str
    title: str
    language: str = "ru"
    iso_year: int  # the report week (models/report_rules.py report_week): the ISO week of week_end
    iso_week: int
    week_start: dt.date  # the period: as_of - 7 ...
    week_end: dt.date  # ... as_of - 1 (older snapshots: Monday and Sunday of the ISO week of as_of)
    as_of: dt.date
    generated_at: dt.datetime
    summary: Summary = field(default_factory=Summary)
    stages: list[StageRow] = field(default_factory=list)
    gantt: list[GanttBar] = field(default_factory=list)
    overdue: list[TaskRow] = field(default_factory=list)
    blocked: list[TaskRow] = field(default_factory=list)  # blocked but not (yet) overdue
    upcoming: list[TaskRow] = field(default_factory=list)  # due in the next two weeks
    risks: list[RiskRow] = field(default_factory=list)
    heatmap: list[list[int]] = field(default_factory=lambda: [[0] * 5 for _ in range(5)])
    changes: Changes | None = None
    messages: MessagesSummary = field(default_factory=MessagesSummary)
    workstreams: list[WorkstreamRow] = field(default_factory=list)
    partners: list[PartnerRow] = field(default_factory=list)  # those with open tasks
    max_rows: int = 50

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"report language must be one of {LANGUAGES}, got {self.language!r}")
        if self.max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {self.max_rows}")
        if len(self.heatmap) != 5 or any(len(row) != 5 for row in self.heatmap):
            raise ValueError("heatmap must be 5x5: heatmap[probability-1][impact-1]")
        if self.generated_at.tzinfo is None:
            raise ValueError("generated_at must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (dates as ISO strings) for snapshots."""
        return _encode(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReportContext:
        return _decode(cls, data)


# ---------------------------------------------------------------------------------------------
# Serialisation: one generic walk over the dataclass fields, driven by the type hints, so a
# field added later needs no extra code here.
# ---------------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.date):  # a datetime too
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return _decode(next(a for a in typing.get_args(tp) if a is not type(None)), value)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        return [_decode(item_tp, v) for v in value]
    if tp in (dt.date, dt.datetime):
        return tp.fromisoformat(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        unknown = set(value) - set(hints)
        if unknown:
            raise ValueError(f"{tp.__name__}: unknown keys in snapshot: {sorted(unknown)}")
        return tp(**{k: _decode(hints[k], v) for k, v in value.items()})
    return value


@functools.cache
def _hints(tp: type) -> dict[str, Any]:
    """A dataclass's fields and their types, resolved once (resolving them is most of the cost
    of reading a week's snapshot back)."""
    hints = typing.get_type_hints(tp)
    return {f.name: hints[f.name] for f in dataclasses.fields(tp)}

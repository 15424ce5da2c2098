"""The roadmap file's shape, as pydantic models (docs/roadmap-format.md describes it for people).

These models check types, required keys, unknown keys and value ranges. Checks that need
the whole document (references, cycles, dates) live in models/loader.py.
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from models.dates import MAX_DURATION, SESSION_FIRST, SESSION_LAST
from models.text import Email, Expr, Line, Note, ShortText, Text

Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", max_length=100)]
DateValue = date | Expr  # an ISO date or a date expression, see models/dates.py
Duration = int | Expr  # business days: 5 or "5bd"

TaskStatus = Literal["planned", "in_progress", "done", "blocked", "cancelled"]
RiskStatus = Literal["open", "mitigated", "occurred", "closed"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
TASK_STATUSES: tuple[str, ...] = TaskStatus.__args__  # type: ignore[attr-defined]
RISK_STATUSES: tuple[str, ...] = RiskStatus.__args__  # type: ignore[attr-defined]
WEEKDAYS: tuple[str, ...] = Weekday.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Session(_Strict):
    date: Annotated[date, Field(ge=SESSION_FIRST, le=SESSION_LAST)]  # the other dates: within its window
    place: Line | None = None


class Office(_Strict):
    name: Text
    email: Email


class Calendar(_Strict):
    """The production calendar (models/calendar.py): a country of the `holidays` package, one of
    its regions, and the roadmap's own days off and working days. ``calendar: RU`` is short
    for ``calendar: {country: RU}``."""

    country: Line = "RU"
    region: Line | None = None
    extra_days_off: list[date] = Field(default_factory=list, max_length=1000)
    extra_working_days: list[date] = Field(default_factory=list, max_length=1000)


def _country_only(value: Any) -> Any:
    return {"country": value} if isinstance(value, str) else value


class RoadmapMeta(_Strict):
    key: Key
    title: Text
    # The name in mail subjects; default derived from the title (models/subjects.py).
    short_title: ShortText | None = None
    session: Session
    timezone: Line = "Europe/Moscow"
    calendar: Annotated[Calendar, BeforeValidator(_country_only)] = Field(default_factory=Calendar)
    language: Literal["ru", "en"] = "ru"
    office: Office
    report_to: list[Text] = Field(default_factory=list)


class Partner(_Strict):
    key: Key
    name: Text
    kind: Line | None = None
    contact: Key | None = None
    formats: list[Text] = Field(default_factory=list)


class Person(_Strict):
    key: Key
    name: Text
    email: Email
    partner: Key | None = None
    manager: Key | None = None
    language: Literal["ru", "en"] | None = None  # of their mail and pages; None: the roadmap's


class Workstream(_Strict):
    key: Key
    title: Text


class Stage(_Strict):
    key: Key
    title: Text
    start: DateValue
    end: DateValue
    goal: Note | None = None


class Task(_Strict):
    key: Key
    title: Text
    stage: Key
    workstream: Key | None = None
    owner: Key
    partners: list[Key] = Field(default_factory=list)
    start: DateValue | None = None
    due: DateValue | None = None
    duration: Duration | None = None
    depends_on: list[Key] = Field(default_factory=list)
    status: TaskStatus = "planned"
    done_on: date | None = None
    progress: Annotated[int, Field(ge=0, le=100)] | None = None
    notes: Note | None = None


class Risk(_Strict):
    key: Key
    title: Text
    owner: Key
    partner: Key | None = None
    probability: Annotated[int, Field(ge=1, le=5)]
    impact: Annotated[int, Field(ge=1, le=5)]
    mitigation: Note | None = None
    review: date | None = None
    status: RiskStatus = "open"
    tasks: list[Key] = Field(default_factory=list)


class Policy(_Strict):
    """The reminder and escalation rules of a roadmap. Every default is written here only:
    code reads a stored roadmap's rules through ``Policy.of(roadmap)``, never the raw dict."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)  # shared from a cache

    remind_before: list[Annotated[int, Field(ge=1, le=60)]] = Field(default_factory=lambda: [5, 1], max_length=60)
    remind_on_due: bool = True
    overdue_every: Annotated[int, Field(ge=1, le=60)] = 2
    # Business days late, bounded as a duration is (models/dates.py): a task cannot be later than that.
    escalate_after: Annotated[list[Annotated[int, Field(ge=1, le=MAX_DURATION)]], Field(min_length=2, max_length=2)] = \
        Field(default_factory=lambda: [3, 10])
    risk_escalate_score: Annotated[int, Field(ge=1, le=25)] = 15
    # Check-ins (models/checkins.py): every `checkin_every` business days of a task longer than
    # that; unanswered for `checkin_grace` business days, the owner's manager is told.
    checkin_every: Annotated[int, Field(ge=1, le=MAX_DURATION)] = 10
    checkin_grace: Annotated[int, Field(ge=1, le=60)] = 3
    remind_on_start: bool = False
    report_day: Weekday = "monday"

    @classmethod
    def of(cls, roadmap: Any) -> Policy:
        """The rules stored with ``roadmap`` (its ``policy`` column), defaults filled in."""
        return _policy_of(json.dumps(getattr(roadmap, "policy", None) or {}, sort_keys=True))

    @property
    def remind_window(self) -> int:
        """How many business days ahead a task can first be mentioned (0: only on the day)."""
        return max(self.remind_before, default=0)

    def escalation_level(self, days_late: int) -> int:
        """The escalation level an open task this many business days late has reached."""
        level1, level2 = self.escalate_after  # both at least 1: a task on time is never escalated
        return 2 if days_late >= level2 else 1 if days_late >= level1 else 0


@lru_cache(maxsize=64)
def _policy_of(stored: str) -> Policy:
    # Cached by the stored JSON, so a 10,000-task report validates its roadmap's rules once.
    # Keys a newer or older version wrote are ignored rather than refused: the file was
    # checked when it was imported.
    data = json.loads(stored)
    return Policy.model_validate({k: v for k, v in data.items() if k in Policy.model_fields})


class RoadmapFile(_Strict):
    roadmap: RoadmapMeta
    partners: list[Partner] = Field(default_factory=list)
    people: list[Person] = Field(default_factory=list)
    workstreams: list[Workstream] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    risks: list[Risk] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)

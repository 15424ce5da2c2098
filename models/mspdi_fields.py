"""What a roadmap's stages, tasks and people look like in MS Project XML (MSPDI), for both ways.

The export writes these views as XML (models/mspdi_export.py); the import reads the same views
back from a file (models/mspdi_import.py) and compares them with the views of the roadmap in
the database: a group of fields the file left as exported keeps the roadmap's own values (its
date expressions, the status last imported), so an exported file imported unchanged changes
nothing (docs/msproject.md, "Round trip").

UIDs are stable across exports because they come from the database's row ids: a stage is
2·id − 1, a task 2·id (stages and tasks share one UID space in MSPDI), a resource its
person's id, an assignment its task's id. Each stage and task carries its roadmap key in the
custom field Text1 ("Roadmap key"), so a file MS Project saved back still names the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

NS = "http://schemas.microsoft.com/project"
# The working hours written to the calendar and into every date: MS Project's own default day.
DAY_START, DAY_FINISH = "08:00:00", "17:00:00"
WORKING_TIMES = (("08:00:00", "12:00:00"), ("13:00:00", "17:00:00"))
MINUTES_PER_DAY = 480
CALENDAR_UID = 1
FINISH_TO_START = 1  # PredecessorLink/Type: 0 FF, 1 FS, 2 SF, 3 SS
LINK_TYPES = {0: "finish-to-finish", 1: "finish-to-start", 2: "start-to-finish", 3: "start-to-start"}

# Custom task fields (MSPDI ExtendedAttribute FieldID of Text1..Text4) and their aliases, the
# column names a project manager sees.
CUSTOM_FIELDS = {
    "key": (188743731, "Text1", "Roadmap key"),
    "workstream": (188743734, "Text2", "Workstream"),
    "partners": (188743737, "Text3", "Partners"),
    "status": (188743740, "Text4", "Roadmap status"),
    "exported": (188743743, "Text5", "Roadmap export"),  # the task as written: exported_text
}
FIELD_OF_ID = {field_id: name for name, (field_id, _, _) in CUSTOM_FIELDS.items()}
PARTNER_SEPARATOR = ", "


def stage_uid(row_id: int) -> int:
    return 2 * row_id - 1


def task_uid(row_id: int) -> int:
    return 2 * row_id


@dataclass(frozen=True)
class DatesView:
    """A stage's or task's dates as MS Project shows them: first and last day, and the length
    in business days (MSPDI Duration, in hours of MINUTES_PER_DAY)."""

    start: date
    finish: date
    days: int


@dataclass(frozen=True)
class ProgressView:
    """How far a task is: percent complete, the actual finish of a done task, and the roadmap's
    own status word (Text4), which MS Project has no field for."""

    percent: int
    actual_finish: date | None
    status: str


def exported_text(dates: DatesView, progress: ProgressView) -> str:
    """What an export wrote of a task's dates and progress, kept in the file (Text5): an import
    takes from the file only what was changed since, not the live updates made meanwhile."""
    done = progress.actual_finish.isoformat() if progress.actual_finish else "-"
    return f"{dates.start} {dates.finish} {dates.days} {progress.percent} {done} {progress.status}"


def exported_views(text: str | None) -> tuple[DatesView, ProgressView] | None:
    """The views ``exported_text`` wrote; None for anything else (edited by hand: ignored)."""
    try:
        start, finish, days, percent, done, status = (text or "").split()
        return (DatesView(date.fromisoformat(start), date.fromisoformat(finish), int(days)),
                ProgressView(int(percent), None if done == "-" else date.fromisoformat(done), status))
    except ValueError:
        return None


def task_progress(status: str, progress: int | None, done_on: date | None) -> ProgressView:
    """The progress view of a task's live state."""
    percent = 100 if status == "done" else progress or 0
    return ProgressView(percent, done_on if status == "done" else None, status)


def progress_fields(view: ProgressView, finish: date) -> dict[str, Any]:
    """Status, done_on and progress from a progress view the file changed: 100 % is done; below
    that, blocked or cancelled when the status word says so, else in progress from 1 %, else the
    word (planned or in progress)."""
    if view.percent >= 100:
        return {"status": "done", "done_on": view.actual_finish or finish, "progress": None}
    if view.status in ("blocked", "cancelled") or view.percent > 0:
        status = view.status if view.status in ("blocked", "cancelled") else "in_progress"
    else:
        status = view.status if view.status == "in_progress" else "planned"
    return {"status": status, "done_on": None, "progress": view.percent if view.percent > 0 else None}


def duration_text(days: int, minutes_per_day: int = MINUTES_PER_DAY) -> str:
    return f"PT{days * minutes_per_day // 60}H0M0S"

"""A stored roadmap as the plain document of its roadmap file (the dict the YAML file holds,
docs/roadmap-format.md), beside its live rows: the one rule every format reads and writes by.

``roadmap export`` writes the document in any format (tasks/roadmap_export.py); the MS Project
export writes the rows (their ids are the project's UIDs; models/mspdi_export.py), and the MS
Project import starts from the document and replaces its stages and tasks with the file's
(models/mspdi_import.py): a project file holds no office, partners, risks or policy.

What the file said is written back as it was: date expressions as their text
(``session + 30bd``; an ISO date as a date), a task's duration only when the file gave one.
The state of tasks and risks (status, done on, progress; a risk's scores, review and status) is
``live`` by default, as it is now: what someone editing the exported file should see. ``file``
gives the state the last imported file gave them (``file_state``) instead: the MS Project import's
base, so a task the project file leaves alone does not count as the file changing its state, and
a status set through a command or the web since stands (models/importer.py, step 3). Empty
values and defaults the file may leave out are left out. Archived rows are not written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.importer import SECTIONS
from models.schema import InRoadmap, Partner, Person, Risk, Roadmap, Stage, Task, Workstream
from models.spec import Policy

# Section -> (stored model, the file's keys in order).
PARTS: dict[str, tuple[type[InRoadmap], tuple[str, ...]]] = {
    "partners": (Partner, ("key", "name", "kind", "contact", "formats")),
    "people": (Person, ("key", "name", "email", "partner", "manager", "language")),
    "workstreams": (Workstream, ("key", "title")),
    "stages": (Stage, ("key", "title", "start", "end", "goal")),
    "tasks": (Task, ("key", "title", "stage", "workstream", "owner", "partners", "start", "due", "duration",
                     "depends_on", "status", "done_on", "progress", "notes")),
    "risks": (Risk, ("key", "title", "owner", "partner", "probability", "impact", "mitigation", "review", "status",
                     "tasks")),
}
# The file's key -> the stored column, where they differ.
_STORED = {("stages", "start"): "start_expr", ("stages", "end"): "end_expr",
           ("tasks", "start"): "start_expr", ("tasks", "due"): "due_expr"}
# Section -> the live fields an import takes from the file only when the file's value changed.
_STATE = {s.section: s.state for s in SECTIONS if s.state}
_STATE_DATES = ("done_on", "review")  # kept as ISO text in file_state (JSON)

State = Literal["live", "file"]


def as_written(text: str | None) -> date | str | None:
    """A stored date expression as the file had it: an ISO date becomes a date again."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def _kept(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}


@dataclass(frozen=True)
class StoredRoadmap:
    """A roadmap and its live rows per section (the keys of ``PARTS``), in their file order."""

    roadmap: Roadmap
    rows: dict[str, list[Any]]

    @property
    def people(self) -> list[Person]:
        return self.rows["people"]

    @property
    def stages(self) -> list[Stage]:
        return self.rows["stages"]

    @property
    def tasks(self) -> list[Task]:
        return self.rows["tasks"]

    def document(self, state: State = "live") -> dict[str, Any]:
        """The plain document: roadmap, policy, partners, people, workstreams, stages, tasks, risks."""
        doc: dict[str, Any] = {"roadmap": _roadmap_meta(self.roadmap), "policy": Policy.of(self.roadmap).model_dump()}
        for part, rows in self.rows.items():
            doc[part] = [file_item(part, row, state) for row in rows]
        return doc


def stored_roadmap(session: Session, roadmap: Roadmap, tasks: list[Task] | None = None) -> StoredRoadmap:
    """``roadmap`` with its live rows. ``tasks``: its live tasks in file order when the caller
    has them (models/planning.live_tasks), else they are read."""
    rows: dict[str, list[Any]] = {}
    for part, (model, _) in PARTS.items():
        if part == "tasks" and tasks is not None:
            rows[part] = list(tasks)
            continue
        query = select(model).where(model.roadmap_id == roadmap.id, model.archived.is_(False))
        rows[part] = list(session.scalars(query.order_by(model.position, model.id)))
    return StoredRoadmap(roadmap, rows)


def roadmap_document(session: Session, roadmap: Roadmap, tasks: list[Task] | None = None) -> dict[str, Any]:
    """The plain document of ``roadmap`` with its live state."""
    return stored_roadmap(session, roadmap, tasks).document()


def file_item(part: str, row: Any, state: State = "live") -> dict[str, Any]:
    """One stored row as its section's item in the file (``part``: a key of ``PARTS``)."""
    # file_state is empty only for rows stored before it existed: their live value stands in.
    from_file = (row.file_state or {}) if state == "file" and part in _STATE else {}
    values: dict[str, Any] = {}
    for key in PARTS[part][1]:
        stored = _STORED.get((part, key))
        if stored:
            values[key] = as_written(getattr(row, stored))
        elif key in from_file:
            value = from_file[key]
            values[key] = date.fromisoformat(value) if key in _STATE_DATES and value else value
        else:
            values[key] = getattr(row, key)
    return _kept(values)


def _roadmap_meta(roadmap: Roadmap) -> dict[str, Any]:
    rules = roadmap.calendar_rules or {}
    calendar = _kept({"country": roadmap.calendar, "region": rules.get("region"),
                      "extra_days_off": [date.fromisoformat(d) for d in rules.get("extra_days_off", ())],
                      "extra_working_days": [date.fromisoformat(d) for d in rules.get("extra_working_days", ())]})
    return _kept({
        "key": roadmap.key, "title": roadmap.title, "short_title": roadmap.short_title,
        "session": _kept({"date": roadmap.session_date, "place": roadmap.session_place}),
        "timezone": roadmap.timezone,
        "calendar": calendar if len(calendar) > 1 else roadmap.calendar,
        "language": roadmap.language,
        "office": {"name": roadmap.office_name, "email": roadmap.office_email},
        "report_to": list(roadmap.report_to or []),
    })

"""A stored roadmap as the plain document of a roadmap file: the dict the YAML file holds
(docs/roadmap-format.md), for ``roadmap export`` to any format.

What the file said is written back as it was: date expressions as their text
(``session + 30bd``; an ISO date as a date), a task's duration only when the file gave one.
Live state (status, done on, progress; a risk's status, scores and review) is written as it
is now, so importing the export changes nothing (models/importer.py compares the file's
state with the stored one). Empty values and defaults the file may leave out are left out.
Archived rows are not written.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def roadmap_document(session: Session, roadmap: Roadmap, tasks: list[Task] | None = None) -> dict[str, Any]:
    """The plain document of ``roadmap``: roadmap, policy, partners, people, workstreams,
    stages, tasks, risks; the live rows in their file order. ``tasks``: its live tasks in
    that order when the caller has them (models/planning.live_tasks), else they are read."""
    rules = roadmap.calendar_rules or {}
    calendar = _kept({"country": roadmap.calendar, "region": rules.get("region"),
                      "extra_days_off": [date.fromisoformat(d) for d in rules.get("extra_days_off", ())],
                      "extra_working_days": [date.fromisoformat(d) for d in rules.get("extra_working_days", ())]})
    doc: dict[str, Any] = {
        "roadmap": _kept({
            "key": roadmap.key, "title": roadmap.title, "short_title": roadmap.short_title,
            "session": _kept({"date": roadmap.session_date, "place": roadmap.session_place}),
            "timezone": roadmap.timezone,
            "calendar": calendar if len(calendar) > 1 else roadmap.calendar,
            "language": roadmap.language,
            "office": {"name": roadmap.office_name, "email": roadmap.office_email},
            "report_to": list(roadmap.report_to or []),
        }),
        "policy": Policy.of(roadmap).model_dump(),
    }
    for part, (model, keys) in PARTS.items():
        if part == "tasks" and tasks is not None:
            doc[part] = [_item(part, row, keys) for row in tasks]
            continue
        rows = session.scalars(select(model).where(model.roadmap_id == roadmap.id, model.archived.is_(False))
                               .order_by(model.position, model.id))
        doc[part] = [_item(part, row, keys) for row in rows]
    return doc


def _item(part: str, row: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    values = {}
    for key in keys:
        stored = _STORED.get((part, key))
        values[key] = as_written(getattr(row, stored)) if stored else getattr(row, key)
    return _kept(values)

"""A stored roadmap as the plain document its roadmap file would be, and its live rows.

The MS Project import starts from this document and replaces its stages and tasks with the
file's (models/mspdi_import.py): a project file holds no office, partners, risks or policy.
Tasks and risks carry the state the last imported file gave them (``file_state``), not their
live state, so importing the document back changes nothing a command or the web set since
(models/importer.py, step 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.schema import InRoadmap, Partner, Person, Risk, Roadmap, Stage, Task, Workstream


@dataclass
class StoredRoadmap:
    roadmap: Roadmap
    document: dict[str, Any]
    people: list[Person]
    stages: list[Stage]
    tasks: list[Task]


def _live(session: Session, model: type[InRoadmap], roadmap_id: int) -> list[Any]:
    query = select(model).where(model.roadmap_id == roadmap_id, model.archived.is_(False))
    return list(session.scalars(query.order_by(model.position)))


def _state(row: Task | Risk, name: str) -> Any:
    # file_state is empty only for rows stored before it existed: their live value stands in.
    state = row.file_state or {}
    return state[name] if name in state else getattr(row, name)


def stored_roadmap(session: Session, roadmap: Roadmap) -> StoredRoadmap:
    """The roadmap's plain document (the sections of docs/roadmap-format.md) and its live rows."""
    rules = roadmap.calendar_rules or {}
    meta = {
        "key": roadmap.key, "title": roadmap.title, "short_title": roadmap.short_title,
        "session": {"date": roadmap.session_date, "place": roadmap.session_place},
        "timezone": roadmap.timezone,
        "calendar": {"country": roadmap.calendar, "region": rules.get("region"),
                     "extra_days_off": list(rules.get("extra_days_off", [])),
                     "extra_working_days": list(rules.get("extra_working_days", []))},
        "language": roadmap.language, "office": {"name": roadmap.office_name, "email": roadmap.office_email},
        "report_to": list(roadmap.report_to or []),
    }
    partners = _live(session, Partner, roadmap.id)
    people = _live(session, Person, roadmap.id)
    workstreams = _live(session, Workstream, roadmap.id)
    stages = _live(session, Stage, roadmap.id)
    tasks = _live(session, Task, roadmap.id)
    risks = _live(session, Risk, roadmap.id)
    document = {
        "roadmap": meta,
        "policy": dict(roadmap.policy or {}),
        "partners": [{"key": p.key, "name": p.name, "kind": p.kind, "contact": p.contact, "formats": list(p.formats)}
                     for p in partners],
        "people": [person_item(p) for p in people],
        "workstreams": [{"key": w.key, "title": w.title} for w in workstreams],
        "stages": [{"key": s.key, "title": s.title, "start": s.start_expr, "end": s.end_expr, "goal": s.goal}
                   for s in stages],
        "tasks": [task_item(t) for t in tasks],
        "risks": [{"key": k.key, "title": k.title, "owner": k.owner, "partner": k.partner,
                   "probability": _state(k, "probability"), "impact": _state(k, "impact"),
                   "mitigation": k.mitigation, "review": _state(k, "review"), "status": _state(k, "status"),
                   "tasks": list(k.tasks)} for k in risks],
    }
    return StoredRoadmap(roadmap, document, people, stages, tasks)


def person_item(p: Person) -> dict[str, Any]:
    return {"key": p.key, "name": p.name, "email": p.email, "partner": p.partner, "manager": p.manager,
            "language": p.language}


def task_item(t: Task) -> dict[str, Any]:
    """A stored task as its roadmap file says it: the expressions, and the state last imported."""
    return {"key": t.key, "title": t.title, "stage": t.stage, "workstream": t.workstream, "owner": t.owner,
            "partners": list(t.partners), "start": t.start_expr, "due": t.due_expr, "duration": t.duration,
            "depends_on": list(t.depends_on), "status": _state(t, "status"), "done_on": _state(t, "done_on"),
            "progress": _state(t, "progress"), "notes": t.notes}

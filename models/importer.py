"""Import a loaded roadmap file into the database: an upsert by key, safe to repeat.

1. The roadmap row, then partners, people, workstreams, stages, risks and tasks are
   compared field by field with what is stored; differences are applied and recorded.
2. Rows missing from the file are archived, never deleted, so their history stays.
3. Live state (status, done_on, progress; for risks also scores and review date) is taken
   from the file only when the file's own value changed since the last import, so a
   status set through the CLI or the web is not undone by re-importing the same file.
4. The schedule is recomputed; dates that moved are recorded for rescheduling notices.
The caller owns the transaction: on any error nothing is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models import spec
from models.dates import parse_duration
from models.history import ChangeLog
from models.loader import LoadedRoadmap
from models.planning import Moved, reschedule
from models.problems import Problem
from models.schema import InRoadmap, Partner, Person, Risk, Roadmap, Stage, Task, Workstream, utcnow


@dataclass
class ImportReport:
    roadmap_key: str
    created: bool = False
    added: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str, str, Any, Any]] = field(default_factory=list)
    archived: list[tuple[str, str]] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    identical: bool = False  # byte for byte the file imported last time: nothing was read

    @property
    def unchanged(self) -> bool:
        return not (self.created or self.added or self.changed or self.archived or self.moved)


def _expr_text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value).strip()


def _roadmap_fields(doc: spec.RoadmapFile) -> dict[str, Any]:
    m = doc.roadmap
    return dict(
        title=m.title, session_date=m.session.date, session_place=m.session.place, timezone=m.timezone,
        calendar=m.calendar.upper(), language=m.language, office_name=m.office.name,
        office_email=m.office.email, report_to=list(m.report_to), policy=doc.policy.model_dump(),
    )


def _partner_fields(p: spec.Partner, _: LoadedRoadmap) -> dict[str, Any]:
    return dict(name=p.name, kind=p.kind, contact=p.contact, formats=list(p.formats))


def _person_fields(p: spec.Person, _: LoadedRoadmap) -> dict[str, Any]:
    return dict(name=p.name, email=p.email, partner=p.partner, manager=p.manager)


def _workstream_fields(w: spec.Workstream, _: LoadedRoadmap) -> dict[str, Any]:
    return dict(title=w.title)


def _stage_fields(s: spec.Stage, loaded: LoadedRoadmap) -> dict[str, Any]:
    start, end = loaded.stage_dates[s.key]
    return dict(title=s.title, start_expr=_expr_text(s.start), end_expr=_expr_text(s.end), start=start, end=end,
                goal=s.goal)


def _risk_fields(r: spec.Risk, _: LoadedRoadmap) -> dict[str, Any]:
    return dict(title=r.title, owner=r.owner, partner=r.partner, mitigation=r.mitigation, tasks=list(r.tasks))


def _risk_state(r: spec.Risk) -> dict[str, Any]:
    return dict(status=r.status, probability=r.probability, impact=r.impact, review=r.review)


def _task_fields(t: spec.Task, _: LoadedRoadmap) -> dict[str, Any]:
    return dict(
        title=t.title, stage=t.stage, workstream=t.workstream, owner=t.owner, partners=list(t.partners),
        depends_on=list(t.depends_on), start_expr=_expr_text(t.start), due_expr=_expr_text(t.due),
        duration=_duration(t.duration), notes=t.notes,
    )


def _duration(value: Any) -> int | None:
    return None if value is None else parse_duration(value)


def _task_state(t: spec.Task) -> dict[str, Any]:
    return dict(status=t.status, done_on=t.done_on, progress=t.progress)


def _json_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in state.items()}


class _Section(NamedTuple):
    entity: str
    model: type[InRoadmap]
    section: str  # the RoadmapFile list
    to_fields: Callable[[Any, LoadedRoadmap], dict[str, Any]]
    to_state: Callable[[Any], dict[str, Any]] | None  # the live fields the file may set (risks, tasks)


SECTIONS = (
    _Section("partner", Partner, "partners", _partner_fields, None),
    _Section("person", Person, "people", _person_fields, None),
    _Section("workstream", Workstream, "workstreams", _workstream_fields, None),
    _Section("stage", Stage, "stages", _stage_fields, None),
    _Section("risk", Risk, "risks", _risk_fields, _risk_state),
    _Section("task", Task, "tasks", _task_fields, _task_state),
)


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def import_roadmap(session: Session, loaded: LoadedRoadmap, *, actor: str | None = None) -> ImportReport:
    doc = loaded.doc
    report = ImportReport(doc.roadmap.key, warnings=list(loaded.warnings))
    roadmap = session.scalar(select(Roadmap).where(Roadmap.key == doc.roadmap.key))
    fields = _roadmap_fields(doc)
    source = dict(source_path=str(loaded.path), source_sha256=_sha_or_none(loaded.path))
    if roadmap is None:
        roadmap = Roadmap(key=doc.roadmap.key, **fields, **source)
        session.add(roadmap)
        session.flush()
        report.created = True
        log = ChangeLog(roadmap.id, "import", actor)
        log.add("roadmap", roadmap.key, "added", None, roadmap.title)
    else:
        log = ChangeLog(roadmap.id, "import", actor)
        _apply(roadmap, fields, log, report, "roadmap", roadmap.key)
        for name, value in source.items():
            setattr(roadmap, name, value)
        roadmap.imported_at = utcnow()

    plans = loaded.schedule.plans
    kept_tasks: list[Task] = []
    new_tasks = 0
    for entity, model, section, to_fields, to_state in SECTIONS:
        existing = {row.key: row for row in session.scalars(select(model).where(model.roadmap_id == roadmap.id))}
        new_rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for position, item in enumerate(getattr(doc, section)):
            seen.add(item.key)
            values = to_fields(item, loaded)
            state = to_state(item) if to_state else None
            row = existing.get(item.key)
            if row is None:
                values.update(roadmap_id=roadmap.id, key=item.key, position=position, archived=False)
                if state is not None:
                    values.update(state, file_state=_json_state(state))
                if model is Task:
                    p = plans[item.key]
                    values.update(
                        start=p.start, due=p.due, finish=p.finish, slack=p.slack, critical=p.critical,
                        baseline_start=p.start, baseline_due=p.due, sequence=0,
                    )
                new_rows.append(values)
                report.added.append((entity, item.key))
                log.add(entity, item.key, "added", None, getattr(item, "title", None) or getattr(item, "name", None))
                if state is not None and state.get("status"):
                    log.add(entity, item.key, "status", None, state["status"])
                continue
            if row.archived:
                row.archived = False
                report.changed.append((entity, item.key, "archived", True, False))
                log.add(entity, item.key, "restored")
            if row.position != position:
                row.position = position
            _apply(row, values, log, report, entity, item.key)
            if state is not None and isinstance(row, Risk | Task) and _json_state(state) != row.file_state:
                # The file's own value changed: it wins over live updates for those fields.
                previous = row.file_state or {}
                changed_in_file = {k: v for k, v in state.items() if _json_state({k: v})[k] != previous.get(k)}
                _apply(row, changed_in_file, log, report, entity, item.key)
                row.file_state = _json_state(state)
        if new_rows:
            # render_nulls keeps every row's column set the same, so the rows go out in
            # a few executemany batches instead of one INSERT per distinct set of keys.
            session.execute(insert(model).execution_options(render_nulls=True), new_rows)
        for key, row in existing.items():
            if key not in seen and not row.archived:
                row.archived = True
                report.archived.append((entity, key))
                log.add(entity, key, "archived")
        if model is Task:
            new_tasks = len(new_rows)
            kept_tasks = sorted((row for row in existing.values() if isinstance(row, Task) and not row.archived),
                                key=lambda t: t.position)

    session.flush()
    schedule_log = ChangeLog(roadmap.id, "schedule", actor)
    if not report.created:
        # A new roadmap was stored with the loader's schedule, which had the same inputs.
        # Otherwise live state may differ from the file: schedule the stored rows again,
        # reusing the rows loaded above unless new tasks were added.
        report.moved = reschedule(session, roadmap, schedule_log, tasks=None if new_tasks else kept_tasks)
    log.flush(session)
    schedule_log.flush(session)
    return report


def _sha_or_none(path: str) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def _apply(row: Any, values: dict[str, Any], log: ChangeLog, report: ImportReport, entity: str, key: str) -> None:
    for name, value in values.items():
        old = getattr(row, name)
        if old != value:
            setattr(row, name, value)
            report.changed.append((entity, key, name, old, value))
            log.add(entity, key, name, old, value)

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
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models import spec
from models.calendar import stored_rules
from models.history import ChangeLog
from models.loader import SECTIONS as SPEC_MODELS
from models.loader import LoadedRoadmap, read_roadmap_bytes
from models.planning import Moved, reschedule
from models.problems import Problem, RoadmapInvalid
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
    m, cal = doc.roadmap, doc.roadmap.calendar
    return dict(
        title=m.title, short_title=m.short_title, session_date=m.session.date, session_place=m.session.place,
        timezone=m.timezone,
        calendar=cal.country.upper(),
        calendar_rules=stored_rules(cal.region, cal.extra_days_off, cal.extra_working_days),
        language=m.language, office_name=m.office.name,
        office_email=m.office.email, report_to=list(m.report_to), policy=doc.policy.model_dump(),
    )


def _values(item: Any, columns: tuple[str, ...], loaded: LoadedRoadmap) -> dict[str, Any]:
    """The stored columns of one file item: its fields as they are and, for stages and tasks,
    the date expressions as text, the evaluated stage dates and the duration in business days."""
    derived: dict[str, Any] = {}
    if isinstance(item, spec.Stage):
        derived = dict(start_expr=_expr_text(item.start), end_expr=_expr_text(item.end))
        derived["start"], derived["end"] = loaded.stage_dates[item.key]
    elif isinstance(item, spec.Task):
        derived = dict(start_expr=_expr_text(item.start), due_expr=_expr_text(item.due),
                       duration=loaded.task_exprs[item.key][2])
    return {name: derived[name] if name in derived else getattr(item, name) for name in columns}


def _json_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in state.items()}


class _Section(NamedTuple):
    entity: str
    model: type[InRoadmap]
    section: str  # the RoadmapFile list
    columns: tuple[str, ...]  # the columns the file sets on every import
    state: tuple[str, ...] = ()  # the live fields the file may set (risks, tasks)


SECTIONS = (
    _Section("partner", Partner, "partners", ("name", "kind", "contact", "formats")),
    _Section("person", Person, "people", ("name", "email", "partner", "manager", "language")),
    _Section("workstream", Workstream, "workstreams", ("title",)),
    _Section("stage", Stage, "stages", ("title", "start_expr", "end_expr", "start", "end", "goal")),
    _Section("risk", Risk, "risks", ("title", "owner", "partner", "mitigation", "tasks"),
             ("status", "probability", "impact", "review")),
    _Section("task", Task, "tasks", ("title", "stage", "workstream", "owner", "partners", "depends_on", "start_expr",
                                     "due_expr", "duration", "notes"), ("status", "done_on", "progress")),
)


def exported_state(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a written file holds of each risk's and task's live fields, keyed "section:key", as
    ``import_roadmap`` compares them (a field left out of the document: the format's default).
    A workbook keeps it on a hidden sheet, so that importing it again applies only the cells
    someone changed, not the live updates made since it was written."""
    out: dict[str, dict[str, Any]] = {}
    for entry in SECTIONS:
        model = SPEC_MODELS[entry.section]
        for item in doc.get(entry.section) or []:
            state = {name: item.get(name, model.model_fields[name].default) for name in entry.state}
            if state:
                out[f"{entry.section}:{item['key']}"] = _json_state(state)
    return out


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(read_roadmap_bytes(path)).hexdigest()  # bounded like the loader's reading


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
        for name, value in {**source, "imported_at": utcnow()}.items():
            setattr(roadmap, name, value)

    plans = loaded.schedule.plans
    kept_tasks: list[Task] = []
    new_tasks = 0
    for entity, model, section, columns, state_fields in SECTIONS:
        existing = {row.key: row for row in session.scalars(select(model).where(model.roadmap_id == roadmap.id))}
        new_rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for position, item in enumerate(getattr(doc, section)):
            seen.add(item.key)
            values = _values(item, columns, loaded)
            state = {name: getattr(item, name) for name in state_fields}
            row = existing.get(item.key)
            if row is None:
                values.update(roadmap_id=roadmap.id, key=item.key, position=position, archived=False)
                if state:
                    values.update(state, file_state=_json_state(state))
                if model is Task:
                    p = plans[item.key]  # its key, start, due, finish, slack and critical
                    values.update(vars(p), baseline_start=p.start, baseline_due=p.due, sequence=0)
                new_rows.append(values)
                report.added.append((entity, item.key))
                log.add(entity, item.key, "added", None, getattr(item, "title", None) or getattr(item, "name", None))
                if state.get("status"):
                    log.add(entity, item.key, "status", None, state["status"])
                continue
            if row.archived:
                row.archived = False
                report.changed.append((entity, item.key, "archived", True, False))
                log.add(entity, item.key, "restored")
            if row.position != position:
                row.position = position
            _apply(row, values, log, report, entity, item.key)
            if isinstance(row, Risk | Task):
                # The file's own value changed (since the last import, or since `roadmap export`
                # wrote it): it wins over live updates for those fields.
                in_file = _json_state(state)
                previous = loaded.exported_state.get(f"{section}:{item.key}", row.file_state or {})
                changed_in_file = {k: state[k] for k in state if in_file[k] != previous.get(k)}
                if changed_in_file:
                    _apply(row, changed_in_file, log, report, entity, item.key)
                if not loaded.exported_state and in_file != row.file_state:
                    row.file_state = in_file
                elif changed_in_file:  # an export: only what was changed in it is now the file's value
                    row.file_state = {**(row.file_state or {}), **{k: in_file[k] for k in changed_in_file}}
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
    except (OSError, RoadmapInvalid):
        return None


def _apply(row: Any, values: dict[str, Any], log: ChangeLog, report: ImportReport, entity: str, key: str) -> None:
    report.changed += [(entity, key, *change) for change in log.apply(row, entity, key, values)]

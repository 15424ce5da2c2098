"""Write a stored roadmap to a file, its format chosen by the file's extension, and write an
empty workbook for a new session's roadmap.

``WRITERS`` maps an extension to a writer: ExportData -> bytes. Its document is
models/roadmap_document.py's, the shape of the YAML file; beside it the computed columns
(expected finish, slack, critical, RAG, days late, from models/status.py on the as-of day)
and the live plan go where a format has room for them (the workbook's grey columns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from models.calendar import BusinessCalendar
from models.db import session_scope
from models.errors import UserError
from models.file_paths import write_replacing
from models.i18n import rag_colour
from models.planning import live_tasks, roadmap_calendar
from models.roadmap_document import roadmap_document
from models.roadmaps import day_of, select_roadmap
from models.schema import Person
from models.spec import Policy
from models.status import task_states


@dataclass(frozen=True)
class ExportData:
    """What a writer gets: the file's document, the roadmap's language and calendar, and per
    task key its live plan and forecast on ``as_of`` (for formats with room for them: the
    workbook's grey columns; a project plan's scheduled and baseline dates)."""

    doc: dict[str, Any]
    lang: str
    as_of: date | None = None
    calendar: BusinessCalendar | None = None
    computed: dict[str, dict[str, Any]] = field(default_factory=dict)  # expected, slack, critical, rag, days_late
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)  # start, due, baseline_start, baseline_due


Writer = Callable[[ExportData], bytes]


def yaml_bytes(data: ExportData) -> bytes:
    """The document as a roadmap YAML file (computed columns are not part of the format)."""
    text = yaml.safe_dump(data.doc, allow_unicode=True, sort_keys=False, default_flow_style=False, width=120)
    return text.encode("utf-8")


def workbook_bytes(data: ExportData) -> bytes:
    from tasks.workbook_write import workbook_bytes as write  # XlsxWriter only for workbooks

    return write(data.doc, data.lang, data.computed)


# Extension -> writer; another format plugs in here (and its reader in models/roadmap_files.py).
WRITERS: dict[str, Writer] = {".yaml": yaml_bytes, ".yml": yaml_bytes, ".xlsx": workbook_bytes}


# MS Project XML is written from the stored roadmap by tasks/msproject_jobs.py (its tasks,
# summary tasks, calendar and baseline), not from the file's document.
PROJECT_SUFFIX = ".xml"


def writer_for(path: str | Path) -> Writer | None:
    """The writer of ``path``'s extension (None: MS Project XML), or a UserError naming the
    ones there are."""
    suffix = Path(str(path)).suffix.lower()
    if suffix == PROJECT_SUFFIX:
        return None
    if suffix not in WRITERS:
        raise UserError(f"{path}: cannot write {suffix or 'a file without an extension'}: "
                        f"give a file name ending in {', '.join([*WRITERS, PROJECT_SUFFIX])}")
    return WRITERS[suffix]


@dataclass(frozen=True)
class Exported:
    roadmap_key: str
    path: Path
    tasks: int
    as_of: date


def export_file(db_url: str, roadmap_key: str | None, path: str | Path, as_of: date | None = None) -> Exported:
    """Write the stored roadmap to ``path`` (replacing it atomically), format by extension."""
    write = writer_for(path)
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        tasks = live_tasks(session, roadmap.id)
        if write is None:  # MS Project XML: from the stored roadmap, in a session of its own
            key, count, day = roadmap.key, len(tasks), day_of(roadmap, as_of)
    if write is None:
        from tasks.msproject_jobs import export_project_file  # lxml only for project files

        return Exported(key, export_project_file(db_url, key, path, as_of), count, day)
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        tasks = live_tasks(session, roadmap.id)
        doc = roadmap_document(session, roadmap, tasks)
        day = day_of(roadmap, as_of)
        people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
        cal = roadmap_calendar(roadmap)
        states = task_states(tasks, people, day, cal, Policy.of(roadmap).remind_window)
        lang = roadmap.language
        computed = {s.key: {"expected": s.expected, "slack": s.slack, "critical": s.critical,
                            "rag": rag_colour(s.rag, lang), "days_late": s.days_late} for s in states}
        plans = {t.key: {"start": t.start, "due": t.due, "baseline_start": t.baseline_start,
                         "baseline_due": t.baseline_due} for t in tasks}
        data = ExportData(doc, lang, day, cal, computed, plans)
        key = roadmap.key
    target = write_replacing(path, write(data), "export")
    return Exported(key, target, len(doc["tasks"]), day)


def new_workbook(path: str | Path, lang: str) -> Path:
    """An empty workbook for a new session's roadmap: every sheet and column, the policy's
    defaults filled in."""
    if Path(str(path)).suffix.lower() != ".xlsx":
        raise UserError(f"{path}: a new roadmap workbook is an .xlsx file; give a name ending in .xlsx")
    doc = {"roadmap": {"language": lang, "timezone": "Europe/Moscow", "calendar": "RU"},
           "policy": Policy().model_dump()}
    return write_replacing(path, workbook_bytes(ExportData(doc, lang)), "new")

"""Write a stored roadmap to a file, its format chosen by the file's extension, and write an
empty workbook for a new session's roadmap.

``WRITERS`` maps an extension to a writer: ExportData -> bytes. Its document is
models/roadmap_document.py's, the shape of the YAML file; beside it the computed columns
(expected finish, slack, critical, RAG, days late, from models/status.py on the as-of day)
and the live plan go where a format has room for them (the workbook's grey columns), and the
stored rows for a format that needs more than the file says (MS Project: UIDs, scheduled dates).
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
from models.roadmap_document import StoredRoadmap, stored_roadmap
from models.roadmaps import day_of, select_roadmap
from models.schema import Person
from models.spec import Policy
from models.status import task_states


@dataclass(frozen=True)
class ExportData:
    """What a writer gets: the file's document, the roadmap's language and calendar, and per
    task key its live plan and forecast (for formats with room for them: the workbook's grey
    columns; a project plan's scheduled and baseline dates). ``as_of``: the day asked for
    (None: none was; the forecast is then of the roadmap's today), a project plan's status date.
    ``stored``: the rows the document was made from, read while the export's session is open."""

    doc: dict[str, Any]
    lang: str
    as_of: date | None = None
    calendar: BusinessCalendar | None = None
    computed: dict[str, dict[str, Any]] = field(default_factory=dict)  # expected, slack, critical, rag, days_late
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)  # start, due, baseline_start, baseline_due
    stored: StoredRoadmap | None = None


Writer = Callable[[ExportData], bytes]


def yaml_bytes(data: ExportData) -> bytes:
    """The document as a roadmap YAML file (computed columns are not part of the format)."""
    text = yaml.safe_dump(data.doc, allow_unicode=True, sort_keys=False, default_flow_style=False, width=120)
    return text.encode("utf-8")


def workbook_bytes(data: ExportData) -> bytes:
    from tasks.workbook_write import workbook_bytes as write  # XlsxWriter only for workbooks

    return write(data.doc, data.lang, data.computed)


def project_bytes(data: ExportData) -> bytes:
    """MS Project XML: the stored rows (tasks, summary tasks, calendar and baseline), not the document."""
    from models.mspdi_export import mspdi_bytes  # lxml only for project files

    if data.stored is None or data.calendar is None:
        raise ValueError("an MS Project file is written from the stored roadmap and its calendar")
    return mspdi_bytes(data.stored, data.calendar, data.as_of)


# Extension -> writer; another format plugs in here (and its reader in models/roadmap_files.py).
WRITERS: dict[str, Writer] = {".yaml": yaml_bytes, ".yml": yaml_bytes, ".xlsx": workbook_bytes,
                              ".xml": project_bytes}


def writer_for(path: str | Path) -> Writer:
    """The writer of ``path``'s extension, or a UserError naming the ones there are."""
    suffix = Path(str(path)).suffix.lower()
    if suffix not in WRITERS:
        raise UserError(f"{path}: cannot write {suffix or 'a file without an extension'}: "
                        f"give a file name ending in {', '.join(WRITERS)}")
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
        stored = stored_roadmap(session, roadmap, live_tasks(session, roadmap.id))
        tasks = stored.tasks
        doc = stored.document()
        day = day_of(roadmap, as_of)
        people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
        cal = roadmap_calendar(roadmap)
        states = task_states(tasks, people, day, cal, Policy.of(roadmap).remind_window)
        lang = roadmap.language
        computed = {s.key: {"expected": s.expected, "slack": s.slack, "critical": s.critical,
                            "rag": rag_colour(s.rag, lang), "days_late": s.days_late} for s in states}
        plans = {t.key: {"start": t.start, "due": t.due, "baseline_start": t.baseline_start,
                         "baseline_due": t.baseline_due} for t in tasks}
        content = write(ExportData(doc, lang, as_of, cal, computed, plans, stored))  # the rows need the session
        key = roadmap.key
    target = write_replacing(path, content, "export")
    return Exported(key, target, len(doc["tasks"]), day)


def new_workbook(path: str | Path, lang: str, *, force: bool = False) -> Path:
    """An empty workbook for a new session's roadmap: every sheet and column, the policy's
    defaults filled in. An existing file is kept unless ``force``: it may be a filled-in one."""
    if Path(str(path)).suffix.lower() != ".xlsx":
        raise UserError(f"{path}: a new roadmap workbook is an .xlsx file; give a name ending in .xlsx")
    if Path(str(path)).exists() and not force:
        raise UserError(f"{path}: the file exists and is kept; give another name, or --force to replace it "
                        "with an empty workbook")
    doc = {"roadmap": {"language": lang, "timezone": "Europe/Moscow", "calendar": "RU"},
           "policy": Policy().model_dump()}
    return write_replacing(path, workbook_bytes(ExportData(doc, lang)), "new")

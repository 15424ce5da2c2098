"""MS Project files (docs/msproject.md): read .xml (MSPDI) or .mpp (through MPXJ) files into the
roadmap they update; each job is one transaction. They are written by tasks/roadmap_export.py
(``WRITERS``), as every format is."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from models.db import session_scope
from models.importer import ImportReport, import_roadmap
from models.loader import MAX_FILE_BYTES, LoadedRoadmap, read_roadmap_bytes
from models.mspdi_import import load_mspdi_bytes
from models.planning import roadmap_calendar
from models.roadmap_document import stored_roadmap
from models.roadmaps import select_roadmap

SUFFIXES = (".xml", ".mpp")  # what `validate` and `import` read as MS Project files
# Our export of 10,000 tasks is 19 MB of MSPDI; MS Project writes more per task (and timephased
# data): twice the YAML limit leaves room for that, while lxml's tree of it stays under ~1 GB.
MAX_PROJECT_FILE_BYTES = 2 * MAX_FILE_BYTES


def is_project_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def project_xml(path: str | Path) -> bytes:
    """The MSPDI bytes of an .xml file, or of an .mpp file converted by MPXJ; both bounded in size."""
    raw = read_roadmap_bytes(path, MAX_PROJECT_FILE_BYTES)  # a regular file within the limit, whatever its kind
    if Path(path).suffix.lower() != ".mpp":
        return raw
    from tasks.mpxj_bridge import to_mspdi  # MPXJ tells the format by the content, not the name

    return to_mspdi(path)


def load_mspdi(session: Session, path: str | Path, roadmap_key: str | None, *, create_people: bool) -> LoadedRoadmap:
    """The stored roadmap ``roadmap_key`` as the project file at ``path`` updates it, checked."""
    raw = project_xml(path)
    stored = stored_roadmap(session, select_roadmap(session, roadmap_key))
    return load_mspdi_bytes(raw, str(path), stored, roadmap_calendar(stored.roadmap), create_people=create_people)


def validate_project_file(db_url: str, path: str | Path, roadmap_key: str | None, *,
                          create_people: bool = False) -> LoadedRoadmap:
    with session_scope(db_url) as session:
        return load_mspdi(session, path, roadmap_key, create_people=create_people)


def import_project_file(db_url: str, path: str | Path, roadmap_key: str | None, *, create_people: bool = False,
                        actor: str | None = None) -> ImportReport:
    """Import in one transaction: a problem anywhere leaves the database as it was."""
    with session_scope(db_url) as session:
        loaded = load_mspdi(session, path, roadmap_key, create_people=create_people)
        return import_roadmap(session, loaded, actor=actor)


"""Prefect tasks on the roadmap itself: import a file, find the roadmap and its day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from models.db import session_scope
from models.importer import ImportReport
from models.roadmaps import select_roadmap, today_in
from tasks import roadmap_jobs
from tasks.prefect_tasks import task

DB_RETRIES = 3


@dataclass(frozen=True)
class RoadmapDay:
    roadmap_key: str
    as_of: dt.date
    timezone: str


@task(name="import-roadmap", retries=DB_RETRIES)
def import_roadmap(db_url: str, path: str | Path) -> ImportReport:
    return roadmap_jobs.import_file(db_url, path)


@task(name="roadmap-day", retries=DB_RETRIES, side_effects=False)
def roadmap_day(db_url: str, roadmap_key: str | None, as_of: dt.date | None) -> RoadmapDay:
    """Which roadmap, and which day: `as_of`, or today in the roadmap's timezone."""
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        return RoadmapDay(roadmap.key, as_of or today_in(roadmap), roadmap.timezone)

"""sync_roadmap: import (or re-import) a roadmap file: an upsert by key.

Runs by hand as `roadmap import FILE`, or as a deployment when the agreed roadmap file changes
(`prefect deployment run sync-roadmap/sync-roadmap --param path=...`); it has no schedule.
"""

from __future__ import annotations

from models.importer import ImportReport
from flows._common import database_url
from tasks import roadmap_tasks
from tasks.prefect_tasks import flow, logger


@flow(name="sync-roadmap", log_prints=False, persist_result=False)
def sync_roadmap(path: str, db_url: str | None = None) -> ImportReport:
    report = roadmap_tasks.import_roadmap(database_url(db_url), path)
    logger().info("%s: %s; %d added, %d changed, %d archived, %d due dates moved", report.roadmap_key,
                  "no changes" if report.unchanged else ("created" if report.created else "updated"),
                  len(report.added), len(report.changed), len(report.archived), len(report.moved))
    return report

"""sync_roadmap: import (or re-import) a roadmap file: an upsert by key.

Runs as a deployment when the agreed roadmap file changes
(`prefect deployment run sync-roadmap/sync-roadmap --param path=...`); it has no schedule.
By hand, `roadmap import FILE` calls tasks.roadmap_jobs.import_file directly.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.prefect_tasks import database_url, import_roadmap
from models.importer import ImportReport


@flow(name="sync-roadmap", log_prints=False, persist_result=False)
def sync_roadmap(path: str, db_url: str | None = None) -> ImportReport:
    report = import_roadmap(database_url(db_url), path)
    get_run_logger().info("%s: %s; %d added, %d changed, %d archived, %d due dates moved", report.roadmap_key,
                          "no changes" if report.unchanged else ("created" if report.created else "updated"),
                          len(report.added), len(report.changed), len(report.archived), len(report.moved))
    return report

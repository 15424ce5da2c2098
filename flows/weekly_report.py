"""weekly_report: the DOCX status report of the ISO week of `as_of`, emailed to `report_to`.

Runs on Mondays at 08:00 in the roadmap's timezone (deployments/prefect.yaml, `roadmap serve`),
from the daily cycle on the roadmap's report day (or the first run after a missed one), and by
hand as `roadmap report [--send]`. Rewriting a week's report replaces its snapshot; sending is
once per recipient and ISO week, however often it runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flows._common import DeliveryFailed, MailSummary, database_url, log_summary
from tasks import notify_tasks, report_tasks, roadmap_tasks
from tasks.prefect_tasks import TransientSendFailures, flow, logger


@flow(name="weekly-report", log_prints=False, persist_result=False)
def weekly_report(
    as_of: dt.date | None = None, send: bool = True, roadmap_key: str | None = None, db_url: str | None = None,
    out: str | None = None,
) -> tuple[Path, MailSummary | None]:
    url = database_url(db_url)
    day = roadmap_tasks.roadmap_day(url, roadmap_key, as_of)
    path = report_tasks.render_report(url, day.roadmap_key, day.as_of, out)
    logger().info("report %s %s written to %s", day.roadmap_key, day.as_of, path)
    if not send:
        return path, None
    result = report_tasks.send_report(url, day.roadmap_key, day.as_of, path)
    summary = MailSummary("report", day.roadmap_key, day.as_of, planned=len(result.recipients),
                          recorded=result.recorded.recorded, duplicates=result.recorded.duplicates,
                          delivered_by_run=result.delivery.sent,
                          messages=[("", r, path.name) for r in result.recipients])
    if result.delivery.failed:
        try:  # transient failures: deliver again, with the task's retries and backoff
            summary.delivered_by_run += notify_tasks.deliver_all(url)
        except TransientSendFailures:
            pass
    year, week, _ = day.as_of.isocalendar()
    keys = [f"report:{r.lower()}:{year}-W{week:02d}" for r in result.recipients]
    counts = notify_tasks.count_outbox(url, day.roadmap_key, keys)
    summary.sent, summary.pending, summary.failed, summary.errors = (
        counts.sent, counts.pending, counts.failures, counts.errors)
    log_summary(summary)
    if summary.failed:
        raise DeliveryFailed([summary])
    return path, summary

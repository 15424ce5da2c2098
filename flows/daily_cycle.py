"""daily_cycle: reminders, then escalations, then the weekly report on the roadmap's report day.

The one job a single machine needs: run it once a day (`roadmap run`, or the `daily-cycle`
deployment on weekdays at 09:00 in the roadmap's timezone). After days when nothing ran it
catches up without a flood: reminders are computed for today only, escalations that became due
in the gap go out once (each has its dedup key), and a missed weekly report is produced.
A failed step does not stop the next ones; the run fails at the end if any message failed.
The steps run as parts of this one flow run (their tasks are its task runs), not as subflows.
"""

from __future__ import annotations

import datetime as dt

from flows._common import DeliveryFailed, MailSummary, database_url
from flows.send_escalations import send_escalations
from flows.send_reminders import send_reminders
from flows.weekly_report import weekly_report
from tasks import report_tasks, roadmap_tasks
from tasks.prefect_tasks import flow, logger, step


@flow(name="daily-cycle", log_prints=False, persist_result=False)
def daily_cycle(
    as_of: dt.date | None = None, roadmap_key: str | None = None, db_url: str | None = None
) -> list[MailSummary]:
    url = database_url(db_url)
    day = roadmap_tasks.roadmap_day(url, roadmap_key, as_of)
    args = dict(roadmap_key=day.roadmap_key, db_url=db_url)
    done: list[MailSummary] = []
    failed: list[MailSummary] = []
    for flow_ in (send_reminders, send_escalations):
        try:
            done.append(step(flow_, as_of=day.as_of, **args))
        except DeliveryFailed as exc:
            failed.extend(exc.summaries)
    report_as_of = report_tasks.check_report_due(url, day.roadmap_key, day.as_of)
    if report_as_of is not None:
        try:
            _, summary = step(weekly_report, as_of=report_as_of, send=True, **args)
            if summary is not None:
                done.append(summary)
        except DeliveryFailed as exc:
            failed.extend(exc.summaries)
    every = done + failed
    logger().info("daily cycle %s %s: planned %d, sent %d, skipped as duplicate %d, failed %d%s",
                  day.roadmap_key, day.as_of, sum(s.planned for s in every), sum(s.sent for s in every),
                  sum(s.duplicates for s in every), sum(s.failed for s in every),
                  "" if report_as_of else "; no report due")
    if failed:
        raise DeliveryFailed(failed)
    return every

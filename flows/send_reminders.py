"""send_reminders: each owner's digest for the day (due soon, due today, overdue, moved dates).

Runs daily at 09:00 in the roadmap's timezone, sending on its business days only
(deployments/prefect.yaml, `roadmap serve`), and as the first step of the daily cycle;
by hand, `roadmap remind` runs the same steps as plain
calls (tasks.notify_jobs.remind). Whether a reminder is due is decided from the data and `as_of`,
never from the time the schedule fired: after a gap only today's reminders go out, and a doubled
run records nothing new.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger

from flows.prefect_tasks import database_url, plan_reminders, send_and_count
from tasks.mail_summary import MailSummary, end_of_run
from tasks.notify_jobs import preview


@flow(name="send-reminders", log_prints=False, persist_result=False)
def send_reminders(
    as_of: dt.date | None = None, roadmap_key: str | None = None, db_url: str | None = None, dry_run: bool = False
) -> MailSummary:
    url = database_url(db_url)
    plan = plan_reminders(url, roadmap_key, as_of)
    if dry_run:
        return preview("reminders", plan)
    return end_of_run([send_and_count("reminders", url, plan)], get_run_logger())[0]

"""send_escalations: overdue tasks to managers, partners and the project office; serious risks.

Runs daily at 09:30 in the roadmap's timezone, sending on its business days only
(deployments/prefect.yaml, `roadmap serve`), and as the second step of the daily cycle;
by hand, `roadmap escalate` runs the same steps as
plain calls (tasks.notify_jobs.escalate). Each escalation level has its own dedup key in the
outbox, so one that became due while nothing ran goes out once on the next run, and never again.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger

from flows.prefect_tasks import database_url, plan_escalations, send_and_count
from tasks.mail_summary import MailSummary, end_of_run
from tasks.notify_jobs import preview


@flow(name="send-escalations", log_prints=False, persist_result=False)
def send_escalations(
    as_of: dt.date | None = None, roadmap_key: str | None = None, db_url: str | None = None, dry_run: bool = False
) -> MailSummary:
    url = database_url(db_url)
    plan = plan_escalations(url, roadmap_key, as_of)
    if dry_run:
        return preview("escalations", plan)
    return end_of_run([send_and_count("escalations", url, plan)], get_run_logger())[0]

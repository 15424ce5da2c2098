"""send_escalations: overdue tasks to managers, partners and the project office; serious risks.

Runs on weekdays at 09:30 in the roadmap's timezone (deployments/prefect.yaml, `roadmap serve`),
as the second step of the daily cycle, and by hand as `roadmap escalate`. Each escalation level
has its own dedup key in the outbox, so one that became due while nothing ran goes out once on
the next run, and never again.
"""

from __future__ import annotations

import datetime as dt

from flows._common import MailSummary, database_url
from flows.send_reminders import send_plan
from tasks import notify_tasks
from tasks.prefect_tasks import flow


@flow(name="send-escalations", log_prints=False, persist_result=False)
def send_escalations(
    as_of: dt.date | None = None, roadmap_key: str | None = None, db_url: str | None = None, dry_run: bool = False
) -> MailSummary:
    url = database_url(db_url)
    plan = notify_tasks.plan_escalations(url, roadmap_key, as_of)
    return send_plan("escalations", url, plan, dry_run)

"""send_reminders: each owner's digest for the day (due soon, due today, overdue, moved dates).

Runs on weekdays at 09:00 in the roadmap's timezone (deployments/prefect.yaml, `roadmap serve`),
as the first step of the daily cycle, and by hand as `roadmap remind`. Whether a reminder is
due is decided from the data and `as_of`, never from the time the schedule fired: after a gap
only today's reminders go out, and a doubled run records nothing new.
"""

from __future__ import annotations

import datetime as dt

from flows._common import DeliveryFailed, MailSummary, database_url, log_summary
from models.schema import utcnow
from tasks import notify_tasks
from tasks.notify_jobs import Plan
from tasks.prefect_tasks import TransientSendFailures, flow, logger


@flow(name="send-reminders", log_prints=False, persist_result=False)
def send_reminders(
    as_of: dt.date | None = None, roadmap_key: str | None = None, db_url: str | None = None, dry_run: bool = False
) -> MailSummary:
    url = database_url(db_url)
    plan = notify_tasks.plan_reminders(url, roadmap_key, as_of)
    return send_plan("reminders", url, plan, dry_run)


def send_plan(kind: str, url: str, plan: Plan, dry_run: bool) -> MailSummary:
    """Record the planned messages and send them (each chunk while the next renders), deliver
    whatever else the outbox holds, and count what became of this plan's messages."""
    summary = MailSummary(kind, plan.roadmap_key, plan.as_of, planned=len(plan.todo) + len(plan.already),
                          dry_run=dry_run)
    if dry_run:
        summary.messages = [(i.recipient_name or "", i.recipient, i.message.subject) for i in plan.intents]
        summary.texts = [i.message.text for i in plan.intents]
        log_summary(summary)
        return summary
    started = utcnow()  # a message is tried at most once per command, however many passes
    outcome = notify_tasks.record_and_send(url, plan, started)
    summary.recorded, summary.duplicates = outcome.recorded, outcome.duplicates + len(plan.already)
    summary.messages = outcome.messages
    summary.delivered_by_run = outcome.delivery.sent
    for error in outcome.worker_errors:
        logger().warning("delivery worker stopped (%s); delivering the rest here", error)
    # Workers that followed the recording sent everything deliverable; another pass (with
    # retries) is for their transient failures or what a failed worker left. Without
    # workers (in a Prefect flow run, or nothing to record) this pass is the delivery.
    if not outcome.complete:
        try:
            summary.delivered_by_run += notify_tasks.deliver_all(url, started)
        except TransientSendFailures:
            pass  # every retry used up: the outbox counts below say which messages failed
    counts = notify_tasks.count_outbox(url, plan.roadmap_key, plan.dedup_keys)
    summary.sent, summary.pending, summary.failed, summary.errors = (
        counts.sent, counts.pending, counts.failures, counts.errors)
    log_summary(summary)
    if summary.failed:
        raise DeliveryFailed([summary])
    return summary

"""The Prefect tasks the flows are made of: each wraps one plain function of tasks/ with its
retry policy. The functions themselves never import Prefect, so the CLI calls them directly.

Retries are Prefect's own and only for transient errors (the database or the SMTP relay
briefly away, a 4xx reply); every task here is safe to run again: planning reads, recording
is an idempotent insert by dedup key, and delivery only claims what is not sent yet.
Caching is off: every task reads or writes the database or the outside world.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.utilities.annotations import quote
from sqlalchemy.engine import make_url

from config import get_settings
from flows.fan_out import one_run_per_roadmap
from models.errors import UserError
from models.importer import ImportReport
from tasks import daily_cycle, notify_jobs, report_jobs, roadmap_jobs
from tasks.daily_cycle import Cycle
from tasks.mail_summary import MailSummary, summarise
from tasks.outbox import DeliveryStats, one_delivery_run

RETRY_DELAYS: list[float] = [10, 60, 300]  # seconds: a relay or database restart is usually over within minutes


class TransientSendFailures(Exception):
    """Some messages could not be sent for now (a 4xx reply, a dropped connection); they stay
    in the outbox as `failed`, and Prefect's retry of the task sends them again."""

    def __init__(self, stats: DeliveryStats):
        super().__init__(f"{stats.failed + stats.deferred} message(s) failed transiently: "
                         + "; ".join(stats.errors[:3]))


def _transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's retry_condition_fn: retry database and network trouble, not bad input."""
    try:
        state.result()
    except TransientSendFailures:
        return True
    except Exception as exc:  # noqa: BLE001 - the task's own exception comes back here
        names = {cls.__name__ for cls in type(exc).__mro__}
        return bool(names & {"OperationalError", "InterfaceError", "DisconnectionError"}) or isinstance(
            exc, (ConnectionError, TimeoutError))
    return False


def _task(name: str, retries: int = 3) -> Any:
    return task(name=name, retries=retries, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=_transient,
                cache_policy=NONE, persist_result=False)


def database_url(db_url: str | None) -> str:
    """The database a flow works on: the parameter, else ROADMAP_DATABASE_URL.

    Flow parameters are stored in Prefect and shown in its UI, so a URL with a password is
    refused here: put it in the worker's ROADMAP_DATABASE_URL (or ~/.pgpass) instead."""
    if db_url is None:
        return get_settings().database_url
    if make_url(db_url).password:
        raise UserError("db_url parameter holds a password: set ROADMAP_DATABASE_URL in the "
                        "worker's environment (or use ~/.pgpass) and leave db_url empty")
    return db_url


@_task("import-roadmap")
def import_roadmap(db_url: str, path: str) -> ImportReport:
    return roadmap_jobs.import_file(db_url, path)


@_task("roadmap-day")
def roadmap_day(db_url: str, roadmap_key: str | None, as_of: dt.date | None) -> roadmap_jobs.RoadmapDay:
    return roadmap_jobs.roadmap_day(db_url, roadmap_key, as_of)


@_task("active-roadmaps")
def active_keys(db_url: str, as_of: dt.date | None) -> list[str]:
    return roadmap_jobs.active_keys(db_url, as_of)


@_task("plan-reminders")
def plan_reminders(db_url: str, roadmap_key: str | None, as_of: dt.date | None) -> notify_jobs.Plan:
    return notify_jobs.plan_reminders(db_url, roadmap_key, as_of)


@_task("plan-escalations")
def plan_escalations(db_url: str, roadmap_key: str | None, as_of: dt.date | None) -> notify_jobs.Plan:
    return notify_jobs.plan_escalation_messages(db_url, roadmap_key, as_of)


@_task("record-and-send")
def send_plan(db_url: str, plan: notify_jobs.Plan) -> notify_jobs.Sent:
    """Record the plan while delivering the outbox (a retry records nothing twice and sends
    only what is still unsent); transient send failures are for `deliver` to retry."""
    return notify_jobs.send_plan(db_url, plan)


@_task("deliver-outbox")
def deliver(db_url: str) -> DeliveryStats:
    stats = notify_jobs.deliver_pending(db_url)
    if stats.worth_retrying:  # else the flow fails, naming the messages, when it counts them
        raise TransientSendFailures(stats)
    return stats


@_task("count-outbox")
def count(kind: str, db_url: str, roadmap_key: str, as_of: dt.date, dedup_keys: list[str], recorded: int,
          delivered: int) -> MailSummary:
    return summarise(kind, db_url, roadmap_key, as_of, dedup_keys, recorded=recorded, delivered=delivered)


@_task("report-due")
def report_due(db_url: str, roadmap_key: str, as_of: dt.date) -> dt.date | None:
    return report_jobs.report_due(db_url, roadmap_key, as_of)


@_task("portfolio-report")
def portfolio_report(db_url: str, as_of: dt.date | None) -> MailSummary | None:
    """The portfolio report and its mail when due (tasks/portfolio_jobs.py); None when not."""
    from tasks.portfolio_jobs import send_due_portfolio

    return send_due_portfolio(db_url, as_of)


@_task("render-report")
def render_report(db_url: str, roadmap_key: str | None, as_of: dt.date | None, out: str | None = None,
                  pdf: bool = False) -> Path:
    """Write the DOCX (and PDF) and save the week's snapshot (replaced in place on a re-run)."""
    return report_jobs.write_weekly_report(db_url, roadmap_key, as_of, out, pdf=pdf)


@_task("record-report")
def record_report(db_url: str, roadmap_key: str, as_of: dt.date, path: Path,
                  pdf: Path | None = None) -> report_jobs.RecordedReport:
    return report_jobs.record_weekly_report(db_url, roadmap_key, as_of, path, pdf=pdf)


@_task("roadmap-cycle-steps")
def cycle(db_url: str, roadmap_key: str | None, as_of: dt.date | None) -> Cycle:
    """One roadmap's daily cycle as `roadmap run` runs it (tasks/daily_cycle.cycle_summaries),
    holding the roadmap's slot (flows/fan_out.py); nothing on its day off, which it logs.

    One task for the whole cycle, not one per step: each task run is a round trip to the
    Prefect API, and a cycle had up to twelve, about 0.3 s a roadmap, most of what the fan-out
    added to a roadmap's cycle (docs/deployment.md). Retried whole on a transient error (the
    database away), which every step allows: planning reads, recording skips what is recorded,
    delivery sends only what is not sent yet. Its deliveries count as one run
    (``one_delivery_run``): a message that failed for now is left to the delivery task's
    spaced retries, which the flow starts (flows/daily_cycle.py ``roadmap_steps``)."""
    day = roadmap_jobs.roadmap_day(db_url, roadmap_key, as_of)
    if day.day_off_note is not None:
        get_run_logger().info(day.day_off_note)
        return Cycle(day.roadmap_key, note=day.day_off_note)
    with one_run_per_roadmap(day.roadmap_key), one_delivery_run():
        return Cycle(day.roadmap_key, daily_cycle.cycle_summaries(db_url, day))


# The sequences the mail flows share. Each ends by counting from the outbox, so a message that
# still failed after every retry is reported from what the outbox says.


def send_and_count(kind: str, db_url: str, plan: notify_jobs.Plan) -> MailSummary:
    # quote(): Prefect would otherwise walk every digest of the plan looking for futures.
    sent = send_plan(db_url, quote(plan))
    delivered = sent.delivery.sent + (deliver_with_retries(db_url) if sent.delivery.worth_retrying else 0)
    return count(kind, db_url, plan.roadmap_key, plan.as_of, plan.dedup_keys,
                 recorded=sent.recorded.recorded, delivered=delivered)


def send_report(db_url: str, roadmap_key: str, as_of: dt.date, path: Path, pdf: Path | None = None) -> MailSummary:
    report = record_report(db_url, roadmap_key, as_of, path, pdf)
    return count("report", db_url, report.roadmap_key, report.as_of, report.dedup_keys,
                 recorded=report.recorded.recorded, delivered=deliver_with_retries(db_url))


def deliver_with_retries(db_url: str) -> int:
    """How many messages the delivery task sent, retrying transient failures with Prefect's
    retries and delays; what still failed after the last retry stays failed in the outbox."""
    try:
        return deliver(db_url).sent
    except TransientSendFailures:
        return 0

"""The daily cycle as plain calls (`roadmap run` without Prefect): the steps of flows/daily_cycle.py.

Reminders, then escalations, then the weekly report on the roadmap's report day (or the first
run after a missed one). On a day that is not a business day of the roadmap's calendar nothing
is planned or sent (``RoadmapDay.day_off_note`` says so); the next business day catches up.
A step whose messages failed does not stop the next ones; the run fails at the end (DeliveryFailed)
if any message failed.
"""

from __future__ import annotations

from datetime import date

from tasks.mail_summary import MailSummary, raise_if_failed
from tasks.notify_jobs import escalate, remind
from tasks.report_jobs import report_due, weekly_report
from tasks.roadmap_jobs import roadmap_day


def daily_cycle(db_url: str, roadmap_key: str | None, as_of: date | None) -> list[MailSummary]:
    day = roadmap_day(db_url, roadmap_key, as_of)
    if day.next_working_day is not None:
        return []
    summaries = [remind(db_url, day.roadmap_key, day.as_of), escalate(db_url, day.roadmap_key, day.as_of)]
    report_as_of = report_due(db_url, day.roadmap_key, day.as_of)
    if report_as_of is not None:
        _, summary = weekly_report(db_url, day.roadmap_key, report_as_of, send=True)
        if summary is not None:
            summaries.append(summary)
    return raise_if_failed(summaries)

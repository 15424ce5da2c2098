"""Prefect tasks for the weekly report: is it due, render it, send it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from models.db import session_scope
from models.roadmaps import select_roadmap
from models.schema import ReportSnapshot
from models.spec import WEEKDAYS, Policy
from tasks import report_jobs
from tasks.prefect_tasks import task

DB_RETRIES = 3


def report_due(db_url: str, roadmap_key: str | None, as_of: dt.date) -> dt.date | None:
    """The day the weekly report should be written as of, or None when nothing is due.

    The report is due on the roadmap's report day (policy.report_day, Monday by default). When
    that day was missed (nothing ran: machine down) and its ISO week has no report yet, the next
    daily run catches up: a report day in the last 7 days without a snapshot is due, written as
    of today when still in the same ISO week, else as of the missed report day itself. Only the
    latest missed report is produced, never a backlog of stale ones.
    """
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        weekday = WEEKDAYS.index(Policy.of(roadmap).report_day)
        last = as_of - dt.timedelta(days=(as_of.weekday() - weekday) % 7)
        year, week, _ = last.isocalendar()
        done = session.scalar(
            select(ReportSnapshot.id).where(
                ReportSnapshot.roadmap_id == roadmap.id, ReportSnapshot.iso_year == year,
                ReportSnapshot.iso_week == week,
            )
        )
    if last == as_of:
        return as_of  # the report day itself: (re)write it, sending stays once per week
    if done is not None:
        return None
    return as_of if as_of.isocalendar()[:2] == (year, week) else last


check_report_due = task(name="report-due", retries=DB_RETRIES, side_effects=False)(report_due)


@task(name="render-report", retries=DB_RETRIES)
def render_report(db_url: str, roadmap_key: str | None, as_of: dt.date | None, out: str | None = None) -> Path:
    """Write the DOCX and save the week's snapshot (replaced in place on a re-run)."""
    return report_jobs.write_weekly_report(db_url, roadmap_key, as_of, out)


@task(name="send-report", retries=DB_RETRIES)
def send_report(db_url: str, roadmap_key: str | None, as_of: dt.date | None, path: Path) -> report_jobs.SendResult:
    """Record the report once per recipient and ISO week, then deliver the outbox."""
    return report_jobs.send_weekly_report(db_url, roadmap_key, as_of, path)

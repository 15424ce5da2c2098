"""weekly_report: the DOCX status report as of `as_of` (the seven days before it), emailed to `report_to`.

Scheduled every day at 08:00 in the roadmap's timezone with `when_due` (deployments/prefect.yaml,
`roadmap serve`): then it makes the report only when one is due, on the report day when that is
a business day, else on the next business day, as of the report day (tasks.report_jobs.report_due);
other days it does nothing. The daily cycle runs the same steps on the same rule. By hand,
`roadmap report [--send]` (a report as of the day asked for, whatever day it is) runs them as
plain calls (tasks.report_jobs). Rewriting a week's report replaces its snapshot; sending is once
per recipient and ISO week, however often it runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import flow, get_run_logger

from config import get_settings
from flows.prefect_tasks import database_url, render_report, report_due, roadmap_day, send_report
from tasks.mail_summary import MailSummary, end_of_run
from tasks.report_jobs import written_pdf


@flow(name="weekly-report", log_prints=False, persist_result=False)
def weekly_report(
    as_of: dt.date | None = None, send: bool = True, roadmap_key: str | None = None, db_url: str | None = None,
    out: str | None = None, pdf: bool = False, when_due: bool = False,
) -> tuple[Path | None, MailSummary | None]:
    url = database_url(db_url)
    day = roadmap_day(url, roadmap_key, as_of)
    report_as_of = report_due(url, day.roadmap_key, day.as_of) if when_due else day.as_of
    if report_as_of is None:
        get_run_logger().info(day.day_off_note or f"{day.roadmap_key} {day.as_of}: no weekly report due")
        return None, None
    path = render_report(url, day.roadmap_key, report_as_of, out, pdf)
    if not send:
        return path, None
    pdf_file = written_pdf(path, out, pdf=pdf, settings=get_settings())
    return path, end_of_run([send_report(url, day.roadmap_key, report_as_of, path, pdf_file)], get_run_logger())[0]

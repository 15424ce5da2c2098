"""weekly_report: the DOCX status report as of `as_of` (the seven days before it), emailed to `report_to`.

Runs on Mondays at 08:00 in the roadmap's timezone (deployments/prefect.yaml, `roadmap serve`)
and from the daily cycle on the roadmap's report day (or the first run after a missed one); by
hand, `roadmap report [--send]` runs the same steps as plain calls (tasks.report_jobs). Rewriting
a week's report replaces its snapshot; sending is once per recipient and ISO week, however often
it runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import flow, get_run_logger

from config import get_settings
from flows.prefect_tasks import database_url, render_report, roadmap_day, send_report
from tasks.mail_summary import MailSummary, end_of_run
from tasks.report_jobs import written_pdf


@flow(name="weekly-report", log_prints=False, persist_result=False)
def weekly_report(
    as_of: dt.date | None = None, send: bool = True, roadmap_key: str | None = None, db_url: str | None = None,
    out: str | None = None, pdf: bool = False,
) -> tuple[Path, MailSummary | None]:
    url = database_url(db_url)
    day = roadmap_day(url, roadmap_key, as_of)
    path = render_report(url, day.roadmap_key, day.as_of, out, pdf)
    if not send:
        return path, None
    pdf_file = written_pdf(path, out, pdf=pdf, settings=get_settings())
    return path, end_of_run([send_report(url, day.roadmap_key, day.as_of, path, pdf_file)], get_run_logger())[0]

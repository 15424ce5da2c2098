"""Write the portfolio report (`roadmap report --portfolio`) and mail it through the outbox.

``write_portfolio_report`` reads the database in one transaction (models/portfolio_report.py)
and writes the DOCX outside it (tasks/portfolio_docx.py): ``portfolio-<year>-W<week>.docx`` in
ROADMAP_REPORTS_DIR, the week ``report_week(as_of)`` as the roadmap report's (as of today by
default; each roadmap's row on its own today, as `roadmap status`). The targets and the PDF
(``--pdf``, ROADMAP_REPORT_PDF, ``--out x.pdf``) follow ``report_targets``.

``record_portfolio_report`` records one message per ROADMAP_PORTFOLIO_REPORT_TO address and
report week (``portfolio_dedup_key``), of no roadmap (outbox.roadmap_id NULL, migration 0014),
the DOCX attached; delivery is the outbox's, so a repeated command sends nothing new.

``portfolio_due``: `roadmap run` without --roadmap sends it on ROADMAP_PORTFOLIO_REPORT_DAY
(Monday by default), and, when that day was missed, on the next run within the week, as of the
missed day (so it covers the week it should have), as long as one of the addresses has not had
that week's report yet.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from config import Settings, get_settings
from models.db import session_scope
from models.errors import UserError
from models.file_paths import check_file_target
from models.portfolio_report import PortfolioReport, build_portfolio_report
from models.report_rules import report_week
from models.schema import OutboxMessage
from models.spec import WEEKDAYS
from tasks.portfolio_docx import portfolio_filename, render_portfolio
from tasks.report_jobs import DOCX_CONTENT_TYPE, report_targets, written_pdf
from tasks.report_pdf import PDF_CONTENT_TYPE, convert_to_pdf, pdf_beside, require_soffice

if TYPE_CHECKING:
    from tasks.mail_summary import MailSummary
    from tasks.outbox_record import RecordStats

KIND = "portfolio"  # the outbox's kind
# In place of a roadmap's key (its summary line, its step in `roadmap run`); never a key: keys
# have no parentheses.
LABEL = "(portfolio)"


def portfolio_dedup_key(recipient: str, as_of: dt.date) -> str:
    """At most one portfolio report per address and report week; no roadmap prefix."""
    return f"portfolio-report:{recipient.lower()}:{report_week(as_of).label}"


def write_portfolio_report(db_url: str, as_of: dt.date | None, out: Path | str | None = None,
                           settings: Settings | None = None, *, pdf: bool = False) -> tuple[Path, PortfolioReport]:
    """Write the portfolio report of the week before ``as_of`` (default today); returns the
    DOCX's path and the report's data (its failed rows: ``report.failed``)."""
    settings = settings or get_settings()
    docx_out, pdf_out, why = report_targets(out, pdf=pdf, setting=settings.report_pdf)
    if why:
        require_soffice(why)  # before anything is read or written
    reference = settings.report_template
    if reference is not None and not Path(reference).is_file():
        raise UserError(f"report template {reference} is not a file (ROADMAP_REPORT_TEMPLATE)")
    generated_at = settings.office_now().replace(microsecond=0)
    with session_scope(db_url) as session:
        report = build_portfolio_report(session, as_of, week_of=as_of or settings.office_today(),
                                        language=settings.office_language, generated_at=generated_at,
                                        max_rows=settings.report_max_rows)
    if docx_out is not None:
        path = docx_out
    else:
        path = Path(settings.reports_dir) / portfolio_filename(report)
        check_file_target(path, "ROADMAP_REPORTS_DIR", new_folder_ok=True)
        if why:
            check_file_target(pdf_beside(path), "ROADMAP_REPORTS_DIR", new_folder_ok=True)
    render_portfolio(report, path, reference_docx=Path(reference) if reference else None)
    if why:
        convert_to_pdf(path, pdf_out or pdf_beside(path), why=why)
    return path, report


def record_portfolio_report(db_url: str, report: PortfolioReport, path: Path, settings: Settings,
                            pdf: Path | None = None) -> tuple[list[str], RecordStats]:
    """Record the report for each ROADMAP_PORTFOLIO_REPORT_TO address (once per address and
    week), the DOCX at ``path`` and the PDF ``pdf`` attached; returns the dedup keys and counts."""
    from tasks.mail_message import Attachment, make_message_id
    from tasks.outbox_record import Intent, record
    from tasks.portfolio_mail import render_portfolio_mail

    attachments = [Attachment(path.name, DOCX_CONTENT_TYPE, path.read_bytes())]
    if pdf is not None:
        attachments.append(Attachment(pdf.name, PDF_CONTENT_TYPE, pdf.read_bytes()))
    day = report.week.as_of
    intents = [
        Intent(KIND, portfolio_dedup_key(email, day), email, name or None,
               render_portfolio_mail(email, name, report, tuple(attachments), settings,
                                     make_message_id(settings.mail_from_domain)))
        for email, name in settings.portfolio_recipients
    ]
    with session_scope(db_url) as session:
        stats = record(session, None, None, day, intents)
    return [i.dedup_key for i in intents], stats


def portfolio_report(db_url: str, as_of: dt.date | None, *, send: bool, out: str | None = None,
                     pdf: bool = False) -> tuple[Path, PortfolioReport, MailSummary | None]:
    """`roadmap report --portfolio`: write it, and with ``send`` record and deliver its mail."""
    settings = get_settings()
    if send and not settings.portfolio_recipients:  # before anything is written
        raise UserError("--send: ROADMAP_PORTFOLIO_REPORT_TO is empty: set it to the addresses "
                        "(comma-separated) the portfolio report goes to")
    path, report = write_portfolio_report(db_url, as_of, out, settings, pdf=pdf)
    if not send:
        return path, report, None
    from tasks.mail_summary import summarise
    from tasks.notify_jobs import deliver_pending

    keys, stats = record_portfolio_report(db_url, report, path, settings,
                                          pdf=written_pdf(path, out, pdf=pdf, settings=settings))
    delivered = deliver_pending(db_url).sent
    return path, report, summarise(KIND, db_url, LABEL, report.week.as_of, keys, recorded=stats.recorded,
                                   delivered=delivered, office=True)


def portfolio_due(db_url: str, as_of: dt.date | None, settings: Settings | None = None) -> dt.date | None:
    """The day the portfolio report is due as of, or None: the latest ROADMAP_PORTFOLIO_REPORT_DAY
    on or before ``as_of`` (default today) while an address of ROADMAP_PORTFOLIO_REPORT_TO has not
    had that week's report; None when the list is empty."""
    settings = settings or get_settings()
    recipients = settings.portfolio_recipients
    if not recipients:
        return None
    today = as_of or settings.office_today()
    last = today - dt.timedelta(days=(today.weekday() - WEEKDAYS.index(settings.portfolio_report_day)) % 7)
    keys = [portfolio_dedup_key(email, last) for email, _ in recipients]
    with session_scope(db_url) as session:
        found = session.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.dedup_key.in_(keys))) or 0
    return last if found < len(keys) else None


def send_due_portfolio(db_url: str, as_of: dt.date | None) -> MailSummary | None:
    """The portfolio step of `roadmap run` without --roadmap: the report and its mail when due."""
    day = portfolio_due(db_url, as_of)
    if day is None:
        return None
    return portfolio_report(db_url, day, send=True)[2]

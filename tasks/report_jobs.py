"""Write the weekly report of a roadmap and send it through the outbox.

``write_weekly_report`` reads the database in one short transaction (``build_report``),
draws the Gantt chart and writes the DOCX outside any transaction, then saves the
snapshot in a second one; a failed rendering therefore saves no snapshot.

The week: ``report_week(as_of)`` (models/report_rules.py), the seven days before the report
date named after the ISO week of the day before: Monday 18 May 2015 writes week 20 (11-17 May),
``<key>-2015-W20.docx``. File name, snapshot, dedup key and catch-up all use it. A report as
of a day before the session is refused (``check_report_day``).

PDF: with ``pdf`` (``--pdf``), ROADMAP_REPORT_PDF, or an ``--out`` ending in ``.pdf``, LibreOffice
converts the DOCX (tasks/report_pdf.py) into a PDF beside it (``--out x.pdf``: the PDF at x.pdf,
the DOCX at x.docx); with ROADMAP_REPORT_PDF the mail carries both.

Snapshots: one per roadmap and report week. Regenerating a week's report replaces that
week's snapshot in place (the same row; ``created_at`` kept, ``updated_at`` moved), so
next week's changes are counted from the latest report of the week; with unchanged data
the regenerated report has the same text apart from the generated time.

``record_weekly_report`` records one outbox message per ``roadmap.report_to`` recipient
(``report_dedup_key``: at most one per recipient and week); delivery is the outbox's. The mail's
body says what matters (overall status, done and late counts, the decisions needed): read from
the week's snapshot, so it says what the attached report says.
"""

from __future__ import annotations

import datetime as dt
import gc
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings, get_settings
from models.addresses import is_email, parse_address
from models.db import conflict_insert, session_scope
from models.errors import UserError
from models.file_paths import check_file_target
from models.notify import Recipient
from models.planning import roadmap_calendar
from models.report_builder import build_report
from models.report_data import ReportContext
from models.report_rules import ReportWeek, check_report_day, report_week
from models.roadmaps import day_of, select_roadmap
from models.schema import Person, ReportSnapshot, Roadmap, utcnow
from models.spec import WEEKDAYS, Policy
from tasks.gantt import render_gantt
from tasks.report_docx import render_report
from tasks.report_pdf import PDF_CONTENT_TYPE, convert_to_pdf, pdf_beside, require_soffice

if TYPE_CHECKING:
    from tasks.mail_summary import MailSummary
    from tasks.outbox_record import RecordStats

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def write_weekly_report(
    db_url: str,
    roadmap_key: str | None,
    as_of: dt.date | None,
    out: Path | str | None = None,
    settings: Settings | None = None,
    *,
    pdf: bool = False,
) -> Path:
    """Write the report as of ``as_of`` (default today in the roadmap's timezone) for the week
    before it, and save its snapshot; returns the path of the .docx. With a PDF (``pdf``,
    ROADMAP_REPORT_PDF, or ``out`` ending in .pdf) it is written too, at ``report_targets``'
    place. The targets are checked first (a regular file, new or existing,
    models/file_paths.py), and LibreOffice's presence when a PDF is wanted; missing folders
    are made."""
    settings = settings or get_settings()
    docx_out, pdf_out, why = report_targets(out, pdf=pdf, setting=settings.report_pdf)
    if why:
        require_soffice(why)  # before anything is read or written
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        day = report_day(roadmap, as_of)
        generated_at = dt.datetime.now(ZoneInfo(roadmap.timezone)).replace(microsecond=0)
        ctx, state = build_report(session, roadmap, day, generated_at=generated_at,
                                  max_rows=settings.report_max_rows)
        roadmap_id = roadmap.id
    if docx_out is not None:
        path = docx_out
    else:
        path = Path(settings.reports_dir) / report_filename(ctx.roadmap_key, report_week(ctx.as_of))
        check_file_target(path, "ROADMAP_REPORTS_DIR", new_folder_ok=True)
        if why:
            check_file_target(pdf_beside(path), "ROADMAP_REPORTS_DIR", new_folder_ok=True)
    reference = settings.report_template
    if reference is not None and not Path(reference).is_file():
        raise UserError(f"report template {reference} is not a file (ROADMAP_REPORT_TEMPLATE)")
    with tempfile.TemporaryDirectory(prefix="roadmap-report-") as tmp:
        charts = render_gantt(ctx.gantt, ctx.as_of, Path(tmp) / "gantt.png", lang=ctx.language)
        render_report(ctx, path, reference_docx=Path(reference) if reference else None, chart_png=charts)
    # The DOCX and the chart are left as reference cycles, which only the cyclic collector
    # frees, and the CLI runs it rarely (cli/main.py): without this, memory grew with every
    # report of an every-roadmap run (`roadmap run` on 200 roadmaps' report day: 250 MiB after
    # the digests across roadmaps, 440 MiB at the end). The young generations only: a few
    # milliseconds, and that garbage is mostly young (with it, 242 MiB at the end; the next day,
    # without reports, 178 MiB).
    gc.collect(1)
    if why:
        convert_to_pdf(path, pdf_out or pdf_beside(path), why=why)
    with session_scope(db_url) as session:
        save_snapshot(session, roadmap_id, ctx, state)
    return path


def report_targets(out: Path | str | None, *, pdf: bool, setting: bool) -> tuple[Path | None, Path | None, str]:
    """(DOCX path or None for the default, PDF path or None for "beside the DOCX", why a PDF is
    written: the option or setting that asked for it, "" for none). An ``out`` ending in .pdf
    (any case) names the PDF; the DOCX goes beside it, never under that name."""
    why = "--pdf" if pdf else "ROADMAP_REPORT_PDF" if setting else ""
    if out is None:
        return None, None, why
    target = check_file_target(out, "--out", new_folder_ok=True)
    if target.suffix.lower() == ".pdf":
        docx = check_file_target(target.with_suffix(".docx"), "--out (its DOCX, beside the PDF)", new_folder_ok=True)
        return docx, target, why or "--out"
    if why:
        check_file_target(pdf_beside(target), "--out (its PDF, beside the DOCX)", new_folder_ok=True)
    return target, None, why


def written_pdf(docx: Path, out: Path | str | None, *, pdf: bool, settings: Settings) -> Path | None:
    """Where the run that wrote ``docx`` put its PDF (``report_targets``), or None when it wrote
    none: the mail of that run attaches what the run wrote."""
    _, pdf_out, why = report_targets(out, pdf=pdf, setting=settings.report_pdf)
    return (pdf_out or pdf_beside(docx)) if why else None


def check_report_as_of(db_url: str, roadmap_key: str | None, as_of: dt.date | None) -> None:
    """Refuse a report day before the session (exit 2) before a Prefect run starts."""
    with session_scope(db_url) as session:
        report_day(select_roadmap(session, roadmap_key), as_of)


def report_day(roadmap: Roadmap, as_of: dt.date | None) -> dt.date:
    """The day a report is made as of: ``as_of`` or today (``day_of``), never before the session."""
    return check_report_day(day_of(roadmap, as_of), roadmap.session_date)


def report_filename(roadmap_key: str, week: ReportWeek) -> str:
    return f"{roadmap_key}-{week.label}.docx"


def save_snapshot(session: Session, roadmap_id: int, ctx: ReportContext, state: dict) -> None:
    """Insert the week's snapshot, or replace the existing one in place (one statement, so
    two reports of the same week written at once still leave one row)."""
    insert = conflict_insert(session)
    now = utcnow()
    stmt = insert(ReportSnapshot).values(roadmap_id=roadmap_id, iso_year=ctx.iso_year, iso_week=ctx.iso_week,
                                         as_of=ctx.as_of, context=ctx.to_dict(), state=state, created_at=now,
                                         updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["roadmap_id", "iso_year", "iso_week"],
        set_={name: stmt.excluded[name] for name in ("as_of", "context", "state", "updated_at")},
    )
    session.execute(stmt)


def snapshots(db_url: str, roadmap_key: str | None) -> list[ReportSnapshot]:
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        return list(session.scalars(
            select(ReportSnapshot).where(ReportSnapshot.roadmap_id == roadmap.id)
            .order_by(ReportSnapshot.iso_year, ReportSnapshot.iso_week)
        ))


def report_dedup_key(recipient: str, as_of: dt.date) -> str:
    """The one dedup key of a weekly report: at most one per recipient and report week."""
    return f"report:{recipient.lower()}:{report_week(as_of).label}"


def report_due(db_url: str, roadmap_key: str | None, as_of: dt.date) -> dt.date | None:
    """The day the weekly report should be written as of, or None when nothing is due.

    The report is due on the roadmap's report day (policy.report_day, Monday by default). When
    that day was missed (nothing ran: machine down) and its report week has no report yet, the
    next daily run within 7 days catches up: it writes the report as of the missed report day,
    so that it covers exactly the week it should have (``report_week``). Only the latest missed
    report is produced, never a backlog of stale ones. Nothing is due before the session, nor
    on a day that is not a business day (a report day that is a holiday is caught up the next
    business day, as a missed one), nor for an archived roadmap.
    """
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        if roadmap.archived or not roadmap_calendar(roadmap).is_business_day(as_of):
            return None
        weekday = WEEKDAYS.index(Policy.of(roadmap).report_day)
        last = as_of - dt.timedelta(days=(as_of.weekday() - weekday) % 7)
        if last < roadmap.session_date:
            return None
        week = report_week(last)
        done = session.scalar(select(ReportSnapshot.id).filter_by(
            roadmap_id=roadmap.id, iso_year=week.iso_year, iso_week=week.iso_week))
    if last == as_of:
        return as_of  # the report day itself: (re)write it, sending stays once per week
    return None if done is not None else last


@dataclass
class RecordedReport:
    roadmap_key: str
    as_of: dt.date
    dedup_keys: list[str]
    recorded: RecordStats


def record_weekly_report(
    db_url: str,
    roadmap_key: str | None,
    as_of: dt.date | None,
    path: Path | str,
    settings: Settings | None = None,
    pdf: Path | str | None = None,
) -> RecordedReport:
    """Record the report for each ``report_to`` recipient (once per recipient and report week):
    the DOCX at ``path`` attached, and the PDF ``pdf`` the same run wrote (``written_pdf``);
    without ``pdf``, with ROADMAP_REPORT_PDF, the PDF beside the DOCX. The body's figures come
    from the week's snapshot, written with the DOCX."""
    # The mail side (Jinja, yagmail and its keyring) is imported only when a report is sent:
    # `roadmap report` without --send, most runs, starts ~0.1 s sooner.
    from tasks.mail_message import Attachment, make_message_id
    from tasks.outbox_record import Intent, record
    from tasks.render_mail import render_report_mail

    settings = settings or get_settings()
    path = Path(path)
    attachments = [Attachment(path.name, DOCX_CONTENT_TYPE, path.read_bytes())]
    if pdf is None and settings.report_pdf:
        pdf = pdf_beside(path)
    if pdf is not None:
        pdf = Path(pdf)
        if not pdf.is_file():
            raise UserError(f"the report's PDF {pdf} is missing; write it with `roadmap report --pdf`")
        attachments.append(Attachment(pdf.name, PDF_CONTENT_TYPE, pdf.read_bytes()))
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        day = report_day(roadmap, as_of)
        report = saved_report(session, roadmap.id, report_week(day))
        intents = []
        # An archived roadmap's report can still be written, but it is mailed to nobody.
        for r in [] if roadmap.archived else report_recipients(session, roadmap):
            msg = render_report_mail(
                r, roadmap_title=roadmap.title, short_title=roadmap.short_title,
                roadmap_key=roadmap.key, lang=roadmap.language,
                office_name=roadmap.office_name, office_email=roadmap.office_email,
                sender=settings.mail_from, message_id=make_message_id(settings.mail_from_domain),
                report=report, attachments=tuple(attachments), template_dir=settings.template_dir,
                public_url=settings.public_url, secret_key=settings.secret_key,
            )
            intents.append(Intent("report", report_dedup_key(r.email, day), r.email, r.name or None, msg))
        recorded = record(session, roadmap.id, roadmap.key, day, intents)
    return RecordedReport(roadmap.key, day, [i.dedup_key for i in intents], recorded)


def saved_report(session: Session, roadmap_id: int, week: ReportWeek) -> ReportContext:
    """The context saved with the report of ``week`` (its latest version)."""
    context = session.scalar(select(ReportSnapshot.context).filter_by(
        roadmap_id=roadmap_id, iso_year=week.iso_year, iso_week=week.iso_week))
    if context is None:
        raise UserError(f"no report of week {week.label} has been written yet: "
                        f"run `roadmap report --as-of {week.as_of.isoformat()}` first")
    return ReportContext.from_dict(context)


def weekly_report(db_url: str, roadmap_key: str | None, as_of: dt.date | None, *, send: bool,
                  out: str | None = None, pdf: bool = False) -> tuple[Path, MailSummary | None]:
    """`roadmap report`: the steps of the weekly-report flow, as plain calls. Returns the DOCX's
    path (a PDF asked for is beside it, or at ``out``: ``report_targets``)."""
    settings = get_settings()
    path = write_weekly_report(db_url, roadmap_key, as_of, out, settings, pdf=pdf)
    if not send:
        return path, None
    from tasks.mail_summary import summarise  # see record_weekly_report
    from tasks.notify_jobs import deliver_pending

    report = record_weekly_report(db_url, roadmap_key, as_of, path, settings,
                                  pdf=written_pdf(path, out, pdf=pdf, settings=settings))
    delivery = deliver_pending(db_url)
    return path, summarise("report", db_url, report.roadmap_key, report.as_of, report.dedup_keys,
                           recorded=report.recorded.recorded, delivered=delivery.sent,
                           worth_retrying=delivery.worth_retrying)


def report_recipients(session: Session, roadmap: Roadmap) -> list[Recipient]:
    """``report_to`` entries: person keys resolved to their addresses, plain addresses as they are."""
    people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
    out: dict[str, Recipient] = {}  # by address in lower case: each receives one copy
    for entry in roadmap.report_to or []:
        entry = str(entry).strip()
        if entry in people:
            p = people[entry]
            r = Recipient.of(p)
        elif is_email(entry):  # the one address rule (models/addresses.py)
            r = Recipient(parse_address(entry).addr_spec, "")
        else:
            raise UserError(f"report_to: {entry!r} is neither a person key of {roadmap.key} nor an email address")
        out.setdefault(r.email.lower(), r)
    if not out:
        raise UserError(f"roadmap {roadmap.key} has no report_to recipients: add `report_to:` to the roadmap file")
    return list(out.values())

"""`roadmap report`: write the weekly DOCX status report, and optionally email it.

tasks/report_jobs.py is imported inside the command: this module is loaded to build
`roadmap --help`, which should not pay for matplotlib and python-docx."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.common import (
    AsOfOption,
    DbOption,
    PrefectOption,
    RoadmapOption,
    console,
    db_url,
    err_console,
    handle_errors,
    shown,
)
from cli.run_commands import exit_on_failure, flow_db, print_failures, run_flow, via_prefect
from config import get_settings
from models.errors import UserError
from models.roadmaps import parse_day
from tasks.mail_summary import DeliveryFailed

OutOption = Annotated[
    str | None,
    typer.Option("--out", help="Where to write the .docx: a new or existing regular file "
                 "(default: ROADMAP_REPORTS_DIR/<key>-<year>-W<week>.docx). A name ending in .pdf "
                 "writes the PDF there and the .docx beside it.", show_default=False),
]
PdfOption = Annotated[
    bool, typer.Option("--pdf", help="Also write a PDF beside the .docx (needs LibreOffice's soffice).")
]
SendOption = Annotated[
    bool, typer.Option("--send", help="Email the report to the roadmap's report_to list (once per recipient and "
                       "week); with --portfolio, to ROADMAP_PORTFOLIO_REPORT_TO.")
]
PortfolioOption = Annotated[
    bool, typer.Option("--portfolio", help="One report of every active roadmap for the head of the office "
                       "(ROADMAP_REPORTS_DIR/portfolio-<year>-W<week>.docx); not with --roadmap.")
]


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def report(
        as_of: AsOfOption = None,
        out: OutOption = None,
        pdf: PdfOption = False,
        send: SendOption = False,
        prefect: PrefectOption = False,
        roadmap: RoadmapOption = None,
        portfolio: PortfolioOption = False,
        db: DbOption = None,
    ) -> None:
        """Write the weekly status report (DOCX, and PDF with --pdf) as of --as-of, for the seven
        days before it, and print the path of each file written; --portfolio: of every roadmap."""
        from tasks.report_jobs import report_targets
        from tasks.report_pdf import PdfConversionFailed, pdf_beside, require_soffice

        if portfolio:
            if roadmap is not None:
                raise UserError("--portfolio is the report of every active roadmap: leave out --roadmap")
            if prefect:
                raise UserError("--portfolio runs without --prefect (the daily-cycle flow sends it on its day)")

        # Before anything is read or written, and before a Prefect run starts.
        _, pdf_out, why = report_targets(out, pdf=pdf, setting=get_settings().report_pdf)
        if why:
            require_soffice(why)
        day = parse_day(as_of)
        if portfolio:
            portfolio_report(db_url(db), day, out=out, pdf=pdf, send=send, why=why, pdf_out=pdf_out)
            return
        try:
            if via_prefect(prefect):
                from tasks.report_jobs import check_report_as_of

                path, summary = run_flow("weekly_report", "weekly_report", as_of=day, send=send, roadmap_key=roadmap,
                                         db_url=flow_db(db), out=out, pdf=pdf,
                                         preflight=lambda url: check_report_as_of(url, roadmap, day))
            else:
                from tasks.report_jobs import weekly_report

                path, summary = weekly_report(db_url(db), roadmap, day, send=send, out=out, pdf=pdf)
        except DeliveryFailed as exc:
            print_failures(exc)
            raise typer.Exit(1) from None
        except PdfConversionFailed as exc:
            err_console.print(f"error: {exc}", style="red", markup=False)
            raise typer.Exit(1) from None
        console.print(shown(str(path)))  # the --out given, which may hold any character
        if why:
            console.print(shown(str(pdf_out or pdf_beside(path))))
        if summary is not None:
            console.print(
                f"report to {', '.join(m[1] for m in summary.messages)}: recorded {summary.recorded}, "
                f"skipped as already sent this week {summary.duplicates}; "
                f"delivered {summary.delivered_by_run}, failed {summary.failed}",
                markup=False,
            )
            exit_on_failure([summary])


def portfolio_report(url: str, day: Any, *, out: str | None, pdf: bool, send: bool, why: str,
                     pdf_out: Any) -> None:
    """`roadmap report --portfolio`: the files written, the mail's line, and exit 1 naming the
    roadmaps whose rows failed (as `roadmap status` ends), or whose mail failed."""
    from tasks.portfolio_jobs import portfolio_report as write_and_send
    from tasks.report_pdf import PdfConversionFailed, pdf_beside

    try:
        path, report, summary = write_and_send(url, day, send=send, out=out, pdf=pdf)
    except PdfConversionFailed as exc:
        err_console.print(f"error: {exc}", style="red", markup=False)
        raise typer.Exit(1) from None
    console.print(shown(str(path)))
    if why:
        console.print(shown(str(pdf_out or pdf_beside(path))))
    if summary is not None:
        console.print(f"portfolio report to {', '.join(m[1] for m in summary.messages)}: recorded {summary.recorded}, "
                      f"skipped as already sent this week {summary.duplicates}; "
                      f"delivered {summary.delivered_by_run}, failed {summary.failed}", markup=False)
    if failed := report.failed:
        names = "; ".join(f"{r['key']} ({r['error']})" for r in failed)
        err_console.print(shown(f"the status failed for {len(failed)} of {len(report.rows)} roadmap(s): {names}",
                                style="bold red"))
    if summary is not None:
        exit_on_failure([summary])  # exit 1 when its own messages failed
    if failed:
        raise typer.Exit(1)

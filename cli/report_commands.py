"""`roadmap report`: write the weekly DOCX status report, and optionally email it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import AsOfOption, DbOption, RoadmapOption, console, db_url, err_console, handle_errors
from models.roadmaps import parse_day

OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Where to write the .docx (default: ROADMAP_REPORTS_DIR/<key>-<year>-W<week>.docx).",
                 show_default=False),
]
SendOption = Annotated[
    bool, typer.Option("--send", help="Email the report to the roadmap's report_to list (once per recipient and week).")
]


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def report(
        as_of: AsOfOption = None,
        out: OutOption = None,
        send: SendOption = False,
        roadmap: RoadmapOption = None,
        db: DbOption = None,
    ) -> None:
        """Write the weekly status report (DOCX) of the ISO week of --as-of and print its path."""
        from tasks.report_jobs import send_weekly_report, write_weekly_report

        url = db_url(db)
        day = parse_day(as_of)
        path = write_weekly_report(url, roadmap, day, out)
        console.print(str(path), markup=False)
        if not send:
            return
        result = send_weekly_report(url, roadmap, day, path)
        console.print(
            f"report to {', '.join(result.recipients)}: recorded {result.recorded.recorded}, "
            f"skipped as already sent this week {result.recorded.duplicates}; "
            f"delivered {result.delivery.sent}, failed {result.delivery.failures}",
            markup=False,
        )
        if result.delivery.failures:
            for error in result.delivery.errors:
                err_console.print(f"  failed: {error}", style="red", markup=False)
            err_console.print("`roadmap outbox --status failed` lists the failed messages", style="red")
            raise typer.Exit(1)

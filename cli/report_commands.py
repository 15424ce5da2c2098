"""`roadmap report`: write the weekly DOCX status report, and optionally email it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import AsOfOption, DbOption, RoadmapOption, console, handle_errors
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
        from cli.run_commands import call_flow, flow_db, print_failures
        from flows._common import DeliveryFailed

        try:
            path, summary = call_flow("weekly_report", "weekly_report", as_of=parse_day(as_of), send=send,
                                      roadmap_key=roadmap, db_url=flow_db(db), out=str(out) if out else None)
        except DeliveryFailed as exc:
            print_failures(exc)
            raise typer.Exit(1) from None
        console.print(str(path), markup=False)
        if summary is not None:
            console.print(
                f"report to {', '.join(m[1] for m in summary.messages)}: recorded {summary.recorded}, "
                f"skipped as already sent this week {summary.duplicates}; "
                f"delivered {summary.delivered_by_run}, failed {summary.failed}",
                markup=False,
            )

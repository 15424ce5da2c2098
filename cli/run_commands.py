"""`roadmap run`, `roadmap serve` and `roadmap deploy`, and how a command runs through Prefect.

Two ways to run a command (docs/deployment.md):

- By default the command calls the plain functions of tasks/ (the same steps its flow runs as
  Prefect tasks) and never imports Prefect: a command typed by hand starts in a fraction of a
  second, and a rerun is safe because the outbox records each message once.
- With `--prefect`, or when PREFECT_API_URL is set, it calls the Prefect flow, so the run, its
  tasks, retries and logs are recorded by that Prefect server (about 2-3 s more).

Prefect, flows/, deployments/ and the daily cycle's jobs are imported inside the functions that
use them, so that `roadmap --help` and a plain command never load Prefect, python-docx or
matplotlib.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

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
from models.db import upgrade
from models.roadmaps import parse_day
from tasks.mail_summary import DeliveryFailed, MailSummary, raise_if_failed, waiting
from tasks.outbox_admin import waiting_line

if TYPE_CHECKING:
    from tasks.daily_cycle import Cycle


def via_prefect(flag: bool) -> bool:
    return flag or bool(os.environ.get("PREFECT_API_URL"))


def run_flow(module: str, name: str, *, preflight: Callable[[str], None] | None = None, all_roadmaps: bool = False,
             **params: Any) -> Any:
    """Run flow `name` of flows/`module`.py through Prefect with `params`. What a user can get
    wrong is checked here first, so that it is refused in one line (exit 2) instead of as a failed
    flow run whose traceback Prefect logs: a database this code cannot use (a newer schema), an
    unknown or ambiguous roadmap, a day outside the roadmap's window (each active roadmap's, for
    a run of ``all_roadmaps``), an invalid file, and what the command's own ``preflight(db_url)``
    refuses."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from models.roadmap_files import load_roadmap_file
    from tasks.roadmap_jobs import active_keys, roadmap_day

    url = params.get("db_url") or db_url(None)
    upgrade(url)
    if all_roadmaps:
        active_keys(url, params.get("as_of"))
    elif "roadmap_key" in params:
        roadmap_day(url, params["roadmap_key"], params.get("as_of"))
    if "path" in params:
        load_roadmap_file(params["path"])
    if preflight is not None:
        preflight(url)

    flow = getattr(importlib.import_module(f"flows.{module}"), name)
    # A run started by hand lasts seconds: no heartbeat thread, whose join costs ~1 s at the end.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return flow(**params)


def flow_db(option: str | None) -> str | None:
    """The db_url parameter for a flow: the URL unless it holds a password (then the flow
    reads it from ROADMAP_DATABASE_URL, which `--db` has set in this process)."""
    from sqlalchemy.engine import make_url

    url = db_url(option)
    return None if make_url(url).password else url


def print_waiting(count: int) -> None:
    """The stderr line while failed messages wait for someone (any day's, not only this run's).
    Alone it does not change the exit code: the run itself did its work (docs/mail.md)."""
    if count:
        err_console.print(waiting_line(count), style="yellow", markup=False)


def print_failures(exc: DeliveryFailed, *, lines: bool = True) -> None:
    """The failed messages (and, with ``lines``, each step's summary line) of a run that failed."""
    for summary in exc.summaries:
        if lines:
            console.print(summary.line(), markup=False)
        for error in summary.errors:
            # The error quotes the SMTP server's reply: any bytes a relay chose to send.
            err_console.print(shown(f"  failed: {error}", style="red"))
    if exc.waiting:
        print_waiting(exc.waiting)
    else:
        err_console.print("`roadmap outbox --status failed` lists the failed messages", style="red")


def exit_on_failure(summaries: list[MailSummary]) -> None:
    """The end of a mail command: exit 1, saying which messages failed, when any of its own
    did; otherwise say how many older failed messages are waiting, if any, and exit 0. The
    command has printed its summary already."""
    try:
        raise_if_failed(summaries)
    except DeliveryFailed as exc:
        print_failures(exc, lines=False)
        raise typer.Exit(1) from None
    print_waiting(waiting(summaries))


def print_day_off(url: str, roadmap_key: str | None, day: Any) -> None:
    """On a day that is not a business day of the roadmap's calendar, the line saying that
    nothing is sent and until when mail waits (docs/scheduling.md, "Days off")."""
    from tasks.roadmap_jobs import roadmap_day

    note = roadmap_day(url, roadmap_key, day).day_off_note
    if note is not None:
        console.print(note, markup=False)


def print_cycle(cycle: Cycle) -> None:
    """One roadmap's part of an every-roadmap run, printed as it ends: why it sent nothing, its
    summary lines, and, when it failed, its failed messages or the error that stopped it."""
    if cycle.note is not None:
        console.print(cycle.note, markup=False)
    for summary in cycle.summaries:
        console.print(summary.line(), markup=False)
        for error in summary.errors:
            err_console.print(shown(f"  failed: {error}", style="red"))
    if cycle.error is not None and not isinstance(cycle.error, DeliveryFailed):
        err_console.print(shown(f"{cycle.roadmap_key}: the daily cycle failed: {cycle.why}", style="red"))


def end_of_every_roadmap(cycles: list[Cycle]) -> None:
    """Exit 1 naming each roadmap that failed, and why; else say what is waiting, if anything."""
    if not cycles:
        console.print("no active roadmap: every roadmap in the database is archived", markup=False)
        return
    failed = [c for c in cycles if c.error is not None]
    summaries = [s for c in cycles for s in c.summaries]
    if failed:
        names = "; ".join(f"{c.roadmap_key} ({c.why})" for c in failed)
        total = sum(c.roadmaps for c in cycles)  # the digests across roadmaps are no roadmap
        err_console.print(shown(f"the daily cycle failed for {len(failed)} of {total} roadmap(s): {names}",
                                style="bold red"))
        if any(isinstance(c.error, DeliveryFailed) for c in failed):
            err_console.print("`roadmap outbox --status failed` lists the failed messages", style="red")
        raise typer.Exit(1)
    print_waiting(waiting(summaries))


def run_every_roadmap(url: str, day: Any, prefect: bool, db: str | None) -> None:
    """`roadmap run` without --roadmap: the cycle of every active roadmap (tasks/daily_cycle.py)."""
    from tasks.daily_cycle import PORTFOLIO, Cycle, CyclesFailed, every_roadmap
    from tasks.roadmap_jobs import active_keys
    from tasks.shared_digests import SHARED

    if not via_prefect(prefect):
        cycles = []
        for cycle in every_roadmap(url, day):
            print_cycle(cycle)
            cycles.append(cycle)
        end_of_every_roadmap(cycles)
        return
    keys = active_keys(url, day)  # why a roadmap sent nothing is in its flow run's log
    try:
        summaries = run_flow("daily_cycle", "daily_cycle", all_roadmaps=True, as_of=day, roadmap_key=None,
                             db_url=flow_db(db))
        cycles = [Cycle(key, [s for s in summaries if s.roadmap_key == key]) for key in [SHARED, *keys, PORTFOLIO]]
        # the digests across roadmaps and the portfolio report: only when they were sent
        cycles = [c for c in cycles if c.roadmap_key not in (SHARED, PORTFOLIO) or c.summaries]
    except CyclesFailed as exc:
        cycles = exc.cycles
    for cycle in cycles:
        print_cycle(cycle)
    end_of_every_roadmap(cycles)


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def run(as_of: AsOfOption = None, prefect: PrefectOption = False,
            roadmap: Annotated[str | None, typer.Option(
                "--roadmap", help="Only this roadmap (default: every roadmap that is not archived).",
                show_default=False)] = None,
            db: DbOption = None) -> None:
        """Run the daily cycle once: reminders, escalations, and the weekly report on its day; without
        --roadmap, for every roadmap that is not archived (each on its own day and calendar)."""
        day = parse_day(as_of)
        if roadmap is None:
            run_every_roadmap(db_url(db), day, prefect, db)
            return
        print_day_off(db_url(db), roadmap, day)
        try:
            if via_prefect(prefect):
                summaries = run_flow("daily_cycle", "daily_cycle", as_of=day, roadmap_key=roadmap, db_url=flow_db(db))
            else:
                from tasks.daily_cycle import daily_cycle

                summaries = daily_cycle(db_url(db), roadmap, day)
        except DeliveryFailed as exc:
            print_failures(exc)
            raise typer.Exit(1) from None
        for summary in summaries:
            console.print(summary.line(), markup=False)
        print_waiting(waiting(summaries))

    @app.command()
    @handle_errors
    def serve(
        roadmap: RoadmapOption = None,
        db: DbOption = None,
        timezone: Annotated[
            str | None, typer.Option("--timezone", help="Cron timezone (default: the roadmap's).")
        ] = None,
        every: Annotated[
            float | None,
            typer.Option("--test-every", hidden=True,
                         help="Test setting: only the daily cycle, every N seconds (60: cron every minute)."),
        ] = None,
    ) -> None:
        """Serve every flow with its schedules from this process (Prefect's serve), until stopped."""
        from deployments.serve import serve_all

        serve_all(db_url=flow_db(db), roadmap_key=roadmap, timezone=timezone, every=every)

    @app.command()
    @handle_errors
    def deploy(
        name: Annotated[
            str | None, typer.Option("--name", help="One deployment, as FLOW/DEPLOYMENT (default: all).")
        ] = None,
        timezone: Annotated[
            str | None, typer.Option("--timezone", help="Cron timezone (default: the roadmap's).")
        ] = None,
        roadmap: RoadmapOption = None,
        db: DbOption = None,
    ) -> None:
        """Create the process work pool and deploy deployments/prefect.yaml to the configured Prefect API."""
        from deployments.serve import deploy_all

        raise typer.Exit(deploy_all(name, timezone=timezone, db_url=flow_db(db), roadmap_key=roadmap))

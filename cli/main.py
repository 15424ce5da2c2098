"""The `roadmap` command. Each command parses its options, calls one job and prints.

The jobs (tasks/) are imported inside the commands: every command module is loaded to build
`roadmap --help`, which should not pay for the YAML reader, Jinja, Babel or Alembic."""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cli import (
    file_commands,
    mail_commands,
    portfolio_commands,
    report_commands,
    run_commands,
    web_commands,
)
from cli.common import (
    AsOfOption,
    CreatePeopleOption,
    DbOption,
    PrefectOption,
    RoadmapOption,
    console,
    db_url,
    err_console,
    handle_errors,
    shown,
)
from cli.run_commands import flow_db, run_flow, via_prefect
from models.db import current_revision, get_engine, upgrade
from models.errors import UserError
from models.roadmaps import parse_day
from tasks.outbox_admin import current_user

if TYPE_CHECKING:
    from tasks.roadmap_jobs import Updated

# A command loads up to hundreds of thousands of objects (YAML values, rows) that live until
# it ends; with the default thresholds the cyclic collector rescans them over and over.
# Kept for `status --format json` < 1.5 s on 10,000 tasks (docs/cli.md, "Fast paths").
gc.set_threshold(100_000, 50, 100)
# And at exit, the interpreter's last collection would walk all of them once more (a quarter
# of a second after a 10,000-task `remind`) only for the process to end: freeze them first.
# atexit runs handlers last-registered first, so this one runs after every other.
atexit.register(gc.freeze)
# numpy (under matplotlib: the report's chart) starts OpenBLAS's thread pool when imported, a
# thread per core, for linear algebra no command does: 0.06 s of a `roadmap report` on 2 cores,
# more on a bigger machine. One thread, unless the environment asks for more.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Roadmap Office: keeps a strategic-session roadmap alive.")
task_app = typer.Typer(no_args_is_help=True, help="Update tasks.")
risk_app = typer.Typer(no_args_is_help=True, help="Update risks.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(task_app, name="task")
app.add_typer(risk_app, name="risk")
app.add_typer(db_app, name="db")
mail_commands.register(app)
report_commands.register(app)
web_commands.register(app)
run_commands.register(app)
portfolio_commands.register(app)
file_commands.register(app)

@app.command()
@handle_errors
def validate(
    file: Annotated[str, typer.Argument(help="Roadmap file: .yaml, .xlsx, or MS Project .xml/.mpp.")],
    create_people: CreatePeopleOption = False,
    roadmap: RoadmapOption = None,
    db: DbOption = None,  # YAML and .xlsx need no database; an MS Project file is read into its stored roadmap
) -> None:
    """Check a roadmap file and print every problem with its line or cell (a YAML or Excel file: the
    database is not used)."""
    from tasks.msproject_jobs import is_project_file, validate_project_file
    from tasks.roadmap_jobs import validate_file

    if is_project_file(file):
        loaded = validate_project_file(db_url(db), file, roadmap, create_people=create_people)
    else:
        _roadmap_file_options(create_people, roadmap)
        loaded = validate_file(file)
    for w in loaded.warnings:
        err_console.print(shown(w.format(), "yellow"))
    doc = loaded.doc
    console.print(shown(
        f"{file}: ok: {len(doc.stages)} stages, {len(doc.tasks)} tasks, {len(doc.risks)} risks, "
        f"{len(doc.people)} people, {len(doc.partners)} partners; {len(loaded.warnings)} warning(s)"
    ))


def _roadmap_file_options(create_people: bool, roadmap: str | None) -> None:
    """A YAML file or workbook names its own roadmap and people: the MS Project options are
    refused rather than silently ignored."""
    if create_people or roadmap:
        option = "--create-people" if create_people else "--roadmap"
        raise UserError(f"{option} is for MS Project files (.xml, .mpp); a roadmap file names its own "
                        "roadmap (its key) and people")


@app.command("import")
@handle_errors
def import_(file: Annotated[str, typer.Argument(help="Roadmap file: .yaml, .xlsx, or MS Project .xml/.mpp.")],
            prefect: PrefectOption = False, create_people: CreatePeopleOption = False,
            roadmap: RoadmapOption = None, db: DbOption = None) -> None:
    """Import (or re-import) a roadmap file: an upsert by key, printing what changed. An MS Project
    file updates the stages and tasks of a stored roadmap (--roadmap)."""
    from tasks.msproject_jobs import import_project_file, is_project_file
    from tasks.roadmap_jobs import import_file

    if is_project_file(file):
        report = import_project_file(db_url(db), file, roadmap, create_people=create_people, actor=current_user())
    else:
        _roadmap_file_options(create_people, roadmap)
        if via_prefect(prefect):
            report = run_flow("sync_roadmap", "sync_roadmap", path=file, db_url=flow_db(db))
        else:
            report = import_file(db_url(db), file, actor=current_user())
    for w in report.warnings:
        err_console.print(shown(w.format(), "yellow"))
    if report.unchanged:
        same = " (the file is identical to the last one imported)" if report.identical else ""
        console.print(f"{report.roadmap_key}: no changes{same}")
        return
    verb = "created" if report.created else "updated"
    console.print(f"{report.roadmap_key}: {verb}: {len(report.added)} added, {len(report.changed)} changed, "
                  f"{len(report.archived)} archived, {len(report.moved)} due dates moved")
    if not report.created:
        for entity, key in report.added:
            console.print(f"  + {entity} {key}", style="green", markup=False)
    for entity, key, name, old, new in report.changed:
        console.print(f"  ~ {entity} {key}: {name}: {old!s} -> {new!s}", style="yellow", markup=False)
    for entity, key in report.archived:
        console.print(f"  - {entity} {key} (archived)", style="red", markup=False)
    for m in report.moved:
        console.print(f"  > task {m.key}: due {m.old_due} -> {m.new_due}", style="cyan", markup=False)


@app.command()
@handle_errors
def status(
    as_of: AsOfOption = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    owner: Annotated[str | None, typer.Option("--owner", help="Only the tasks of this person (key).",
                                              show_default=False)] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Only the tasks of this stage (key).",
                                              show_default=False)] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue tasks.")] = False,
    critical: Annotated[bool, typer.Option("--critical", help="Only tasks on the critical path.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Every column, in two tables (wider than 80 columns).")]
    = False,
    roadmap: RoadmapOption = None,
    db: DbOption = None,
) -> None:
    """Per stage and per task: due date, state, RAG and the critical path; --wide adds expected
    finish, slack and the stages' figures. Filters apply to --format json too. Without --roadmap,
    when the database holds several roadmaps: one line per active roadmap (the portfolio)."""
    from cli import views
    from models.portfolio import failed_rows
    from models.status import StatusFilter
    from tasks.roadmap_jobs import holds_several, portfolio_status, roadmap_status

    if format not in ("table", "json"):
        raise UserError(f"--format: {format!r} is not one of table, json")
    only = StatusFilter(owner=owner, stage=stage, overdue=overdue, critical=critical)
    url = db_url(db)
    if roadmap is None and holds_several(url):
        if only or wide:
            raise UserError("--owner, --stage, --overdue, --critical and --wide are about one roadmap: "
                            "choose it with --roadmap KEY (the database holds several)")
        portfolio = portfolio_status(url, parse_day(as_of))
        if format == "json":
            print(json.dumps(portfolio, ensure_ascii=False, indent=1 if sys.stdout.isatty() else None))
        else:
            views.portfolio(portfolio)
        if failed := failed_rows(portfolio):  # the others are shown; as `roadmap run` ends
            names = "; ".join(f"{r['key']} ({r['error']})" for r in failed)
            err_console.print(shown(f"the status failed for {len(failed)} of {len(portfolio['roadmaps'])} "
                                    f"roadmap(s): {names}", style="bold red"))
            raise typer.Exit(1)
        return
    doc = roadmap_status(url, roadmap, parse_day(as_of), only)
    if format == "json":
        # Indenting switches json to its pure-Python encoder: only do it for a person.
        print(json.dumps(only.apply(doc), ensure_ascii=False, indent=1 if sys.stdout.isatty() else None))
    elif wide:
        views.status_wide(doc, only)
    else:
        views.status_compact(doc, only)


@task_app.command("update")
@handle_errors
def task_update(
    key: Annotated[str, typer.Argument(help="Task key.")],
    status: Annotated[
        str | None, typer.Option("--status", help="planned, in_progress, done, blocked, cancelled")
    ] = None,
    progress: Annotated[int | None, typer.Option("--progress", help="0-100")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why; kept in the history.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="When it happened (done_on for done); default today.")] = None,
    forecast: Annotated[
        str | None, typer.Option("--forecast", help="A new forecast finish date (moves dependents).")
    ] = None,
    clear_forecast: Annotated[bool, typer.Option("--clear-forecast", help="Drop the forecast date.")] = False,
    roadmap: RoadmapOption = None,
    db: DbOption = None,
) -> None:
    """Change a task's status, progress or forecast; the change is recorded and the schedule updated."""
    from models.text import checked_note
    from tasks.roadmap_jobs import change_task

    out = change_task(db_url(db), roadmap, key, status=status, progress=progress, note=checked_note(note, "--note"),
                      on=parse_day(on, "--on"), forecast=parse_day(forecast, "--forecast"),
                      clear_forecast=clear_forecast, actor=current_user())
    _print_update("task", out)


@risk_app.command("update")
@handle_errors
def risk_update(
    key: Annotated[str, typer.Argument(help="Risk key.")],
    status: Annotated[str | None, typer.Option("--status", help="open, mitigated, occurred, closed")] = None,
    probability: Annotated[int | None, typer.Option("--probability", help="1-5")] = None,
    impact: Annotated[int | None, typer.Option("--impact", help="1-5")] = None,
    review: Annotated[str | None, typer.Option("--review", help="Next review date.")] = None,
    reviewed: Annotated[
        bool, typer.Option("--reviewed", help="Record that the risk was reviewed (on --on or today).")
    ] = False,
    mitigation: Annotated[str | None, typer.Option("--mitigation", help="New mitigation text.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why; kept in the history.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="When it happened; default today.")] = None,
    roadmap: RoadmapOption = None,
    db: DbOption = None,
) -> None:
    """Change a risk's status, scores, review date or mitigation; the change is recorded."""
    from models.text import checked_note
    from tasks.roadmap_jobs import change_risk

    out = change_risk(db_url(db), roadmap, key, status=status, probability=probability, impact=impact,
                      review=parse_day(review, "--review"), reviewed=reviewed,
                      mitigation=checked_note(mitigation, "--mitigation"), note=checked_note(note, "--note"),
                      on=parse_day(on, "--on"), actor=current_user())
    _print_update("risk", out)


def _print_update(kind: str, out: Updated) -> None:
    result = out.result
    if not result.changes:
        console.print(f"{kind} {result.key}: already so, nothing changed")
    for name, old, new in result.changes:
        console.print(shown(f"{kind} {result.key}: {name}: {old!s} -> {new!s}"))
    for m in result.moved:
        console.print(f"  > task {m.key}: due {m.old_due} -> {m.new_due}", style="cyan", markup=False)


@app.command("history")
@handle_errors
def history_(
    key: Annotated[str, typer.Argument(help="Task or risk key.")],
    roadmap: RoadmapOption = None,
    db: DbOption = None,
) -> None:
    """The recorded changes of a task or risk: when (in the roadmap's timezone), who, old and new values."""
    from cli import views
    from tasks.roadmap_jobs import entity_history

    timezone, rows = entity_history(db_url(db), roadmap, key)
    if not rows:
        raise UserError(f"no recorded changes for {key!r}")
    views.history(timezone, rows)


@db_app.command("upgrade")
@handle_errors
def db_upgrade(db: DbOption = None) -> None:
    """Bring the database schema to the latest version (also done automatically on first use)."""
    url = db_url(db)
    upgrade(url)
    console.print(f"database at revision {current_revision(get_engine(url))}")


if __name__ == "__main__":
    app()

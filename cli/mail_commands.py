"""`roadmap remind`, `roadmap escalate` and `roadmap outbox` (list, retry, dismiss).

The jobs (tasks/notify_jobs.py, tasks/outbox.py) are imported inside the commands: this module
is loaded to build `roadmap --help`, which should not pay for Jinja, Babel and the mail code."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.common import AsOfOption, DbOption, PrefectOption, RoadmapOption, console, db_url, handle_errors, shown
from cli.run_commands import (
    exit_on_failure,
    flow_db,
    print_day_off,
    print_failures,
    print_waiting,
    run_flow,
    via_prefect,
)
from models.errors import UserError
from models.roadmaps import parse_day
from models.schema import MESSAGE_KINDS
from tasks.mail_summary import DeliveryFailed

outbox_app = typer.Typer(help="Recorded messages: list them, retry or dismiss the failed ones.")
STATUSES = ("pending", "sending", "sent", "failed", "dismissed")

DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print the messages that would be sent; record nothing.")]


def _run(kind: str, as_of: str | None, dry_run: bool, prefect: bool, roadmap: str | None, db: str | None) -> None:
    day = parse_day(as_of)
    print_day_off(db_url(db), roadmap, day)
    if via_prefect(prefect):
        name = "send_reminders" if kind == "remind" else "send_escalations"
        try:
            summary = run_flow(name, name, as_of=day, roadmap_key=roadmap, db_url=flow_db(db), dry_run=dry_run)
        except DeliveryFailed as exc:
            print_failures(exc)
            raise typer.Exit(1) from None
    else:
        from tasks import notify_jobs

        job = notify_jobs.remind if kind == "remind" else notify_jobs.escalate
        summary = job(db_url(db), roadmap, day, dry_run)
    if dry_run:
        for (name_, recipient, subject), text in zip(summary.messages, summary.texts, strict=True):
            console.print(shown(f"--- {kind} to {name_} <{recipient}>", style="bold"))
            console.print(shown(f"Subject: {subject}"))
            console.print(shown(text))
        already = f" ({summary.duplicates} already recorded, not sent again)" if summary.duplicates else ""
        console.print(f"dry run: {summary.planned} message(s) to send for {summary.as_of}{already}; "
                      "nothing recorded or sent", markup=False)
        return
    for _, recipient, subject in sorted(summary.messages, key=lambda m: m[1]):
        console.print(shown(f"  {recipient}: {subject}"))
    console.print(summary.line(), markup=False)
    exit_on_failure([summary])


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def remind(as_of: AsOfOption = None, dry_run: DryRunOption = False, prefect: PrefectOption = False,
               roadmap: RoadmapOption = None, db: DbOption = None) -> None:
        """Send each owner one digest for the day: due soon, due today, overdue, moved dates."""
        _run("remind", as_of, dry_run, prefect, roadmap, db)

    @app.command()
    @handle_errors
    def escalate(as_of: AsOfOption = None, dry_run: DryRunOption = False, prefect: PrefectOption = False,
                 roadmap: RoadmapOption = None, db: DbOption = None) -> None:
        """Escalate overdue tasks (manager and partners, then the project office) and serious risks."""
        _run("escalate", as_of, dry_run, prefect, roadmap, db)

    app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
@handle_errors
def outbox(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help=", ".join(STATUSES))] = None,
    kind: Annotated[str | None, typer.Option("--kind", help=", ".join(MESSAGE_KINDS))] = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    wide: Annotated[bool, typer.Option("--wide", help="Every column: kind, attempts, last error.")] = False,
    roadmap: RoadmapOption = None,
    db: DbOption = None,
) -> None:
    """List recorded messages, one line each (--wide: kind, attempts and the last error too)."""
    if ctx.invoked_subcommand:
        return
    from tasks.outbox_admin import list_messages

    for option, value, allowed in (("--format", format, ("table", "json")),
                                   ("--status", status, STATUSES),
                                   ("--kind", kind, MESSAGE_KINDS)):
        if value is not None and value not in allowed:
            raise UserError(f"{option}: {value!r} is not one of {', '.join(allowed)}")
    rows = list_messages(db_url(db), status=status, kind=kind, roadmap_key=roadmap)
    if format == "json":
        print(json.dumps([
            {"id": r.id, "kind": r.kind, "recipient": r.recipient, "subject": r.subject, "status": r.status,
             "attempts": r.attempts, "last_error": r.last_error, "message_id": r.message_id,
             "as_of": r.as_of.isoformat(), "created_at": r.created_at.isoformat(),
             "sent_at": r.sent_at.isoformat() if r.sent_at else None, "dedup_key": r.dedup_key,
             "dismissed_at": r.dismissed_at.isoformat() if r.dismissed_at else None, "dismissed_by": r.dismissed_by}
            for r in rows
        ], ensure_ascii=False, indent=1))
        return
    from cli import views

    (views.outbox_wide if wide else views.outbox_compact)(rows)
    console.print(f"{len(rows)} message(s)")


@outbox_app.command("retry")
@handle_errors
def outbox_retry(db: DbOption = None) -> None:
    """Make failed messages deliverable again and send them now."""
    from tasks.notify_jobs import deliver_pending
    from tasks.outbox_admin import reset_failed, waiting_count

    url = db_url(db)
    count = reset_failed(url)
    stats = deliver_pending(url)
    console.print(f"{count} failed message(s) queued again; delivered {stats.sent}, failed {stats.failures}")
    print_waiting(waiting_count(url))
    if stats.failures:
        raise typer.Exit(1)


@outbox_app.command("dismiss")
@handle_errors
def outbox_dismiss(
    ids: Annotated[list[int] | None, typer.Argument(help="Ids of failed messages (`roadmap outbox --status failed`).",
                                                    show_default=False)] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every failed message (of --roadmap if given).")]
    = False,
    by: Annotated[str | None, typer.Option("--by", help="Who dismisses them, as recorded (default: login@host).",
                                           show_default=False)] = None,
    roadmap: RoadmapOption = None,
    db: DbOption = None,
) -> None:
    """Let failed messages go: never sent, no longer reported. Their content and error are kept,
    with who dismissed them and when (`roadmap outbox --status dismissed`)."""
    from tasks.outbox_admin import dismiss, waiting_count

    url = db_url(db)
    done = dismiss(url, list(ids or []), all_failed=all_failed, roadmap_key=roadmap, by=by)
    console.print(f"{len(done)} failed message(s) dismissed" + (f": {', '.join(map(str, done))}" if done else ""),
                  markup=False)
    print_waiting(waiting_count(url))

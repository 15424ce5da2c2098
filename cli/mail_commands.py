"""`roadmap remind`, `roadmap escalate` and `roadmap outbox`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from cli.common import AsOfOption, DbOption, RoadmapOption, console, db_url, err_console, handle_errors
from models.errors import UserError
from models.roadmaps import parse_day

outbox_app = typer.Typer(help="Recorded messages: list them, or retry the failed ones.")

DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print the messages that would be sent; record nothing.")]


def _run(kind: str, as_of: str | None, dry_run: bool, roadmap: str | None, db: str | None) -> None:
    from tasks.notify_jobs import deliver_pending, plan_escalation_messages, plan_reminders, record_plan

    url = db_url(db)
    planner = plan_reminders if kind == "remind" else plan_escalation_messages
    plan = planner(url, roadmap, parse_day(as_of))
    if dry_run:
        for intent in plan.intents:
            m = intent.message
            console.print(f"--- {intent.kind} to {intent.recipient_name} <{intent.recipient}>", style="bold", markup=False)
            console.print(f"Subject: {m.subject}", markup=False)
            console.print(m.text, markup=False)
        console.print(f"dry run: {len(plan.intents)} message(s) for {plan.as_of}; nothing recorded or sent")
        return
    recorded = record_plan(url, plan)
    stats = deliver_pending(url)
    by_recipient: dict[str, list[str]] = {}
    for intent in plan.intents:
        by_recipient.setdefault(intent.recipient, []).append(intent.message.subject)
    for recipient, subjects in sorted(by_recipient.items()):
        for subject in subjects:
            console.print(f"  {recipient}: {subject}", markup=False)
    console.print(
        f"{plan.roadmap_key} {plan.as_of}: planned {len(plan.intents)}, recorded {recorded.recorded}, "
        f"skipped as duplicate {recorded.duplicates}; delivered {stats.sent}, failed {stats.failures}"
    )
    if stats.failures:
        for error in stats.errors:
            err_console.print(f"  failed: {error}", style="red", markup=False)
        err_console.print(f"{stats.failures} message(s) failed; `roadmap outbox --status failed` lists them", style="red")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def remind(as_of: AsOfOption = None, dry_run: DryRunOption = False, roadmap: RoadmapOption = None, db: DbOption = None) -> None:
        """Send each owner one digest for the day: due soon, due today, overdue, moved dates."""
        _run("remind", as_of, dry_run, roadmap, db)

    @app.command()
    @handle_errors
    def escalate(as_of: AsOfOption = None, dry_run: DryRunOption = False, roadmap: RoadmapOption = None, db: DbOption = None) -> None:
        """Escalate overdue tasks (manager and partners, then the project office) and serious risks."""
        _run("escalate", as_of, dry_run, roadmap, db)

    app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
@handle_errors
def outbox(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="pending, sending, sent, failed")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="reminder, escalation, report, notice")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    db: DbOption = None,
) -> None:
    """List recorded messages."""
    if ctx.invoked_subcommand:
        return
    from tasks.outbox import list_messages

    if format not in ("table", "json"):
        raise UserError(f"--format: {format!r} is not one of table, json")
    rows = list_messages(db_url(db), status=status, kind=kind)
    if format == "json":
        print(json.dumps([
            {"id": r.id, "kind": r.kind, "recipient": r.recipient, "subject": r.subject, "status": r.status,
             "attempts": r.attempts, "last_error": r.last_error, "message_id": r.message_id,
             "as_of": r.as_of.isoformat(), "created_at": r.created_at.isoformat(),
             "sent_at": r.sent_at.isoformat() if r.sent_at else None, "dedup_key": r.dedup_key}
            for r in rows
        ], ensure_ascii=False, indent=1))
        return
    table = Table("id", "kind", "as of", "recipient", "subject", "status", "attempts", "error")
    for r in rows:
        table.add_row(str(r.id), r.kind, r.as_of.isoformat(), r.recipient, r.subject, r.status, str(r.attempts),
                      (r.last_error or "")[:80])
    console.print(table)
    console.print(f"{len(rows)} message(s)")


@outbox_app.command("retry")
@handle_errors
def outbox_retry(db: DbOption = None) -> None:
    """Make failed messages deliverable again and send them now."""
    from tasks.notify_jobs import deliver_pending
    from tasks.outbox import reset_failed

    url = db_url(db)
    count = reset_failed(url)
    stats = deliver_pending(url)
    console.print(f"{count} failed message(s) queued again; delivered {stats.sent}, failed {stats.failures}")
    if stats.failures:
        raise typer.Exit(1)

"""`roadmap archive`: a finished roadmap leaves the daily cycle and the portfolio, and back.

An archived roadmap plans no reminder, escalation or report mail (tasks/notify_jobs.py,
tasks/report_jobs.py), is left out of `roadmap run` and `roadmap status` without --roadmap,
and its unsent messages are dismissed (tasks/roadmap_jobs.py ``archive_roadmap``). Its data
stays: every command still reads it with --roadmap KEY, and `--undo` makes it active again.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import DbOption, console, db_url, handle_errors
from tasks.outbox_admin import current_user


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def archive(
        key: Annotated[str, typer.Argument(help="The roadmap's key.")],
        undo: Annotated[bool, typer.Option("--undo", help="Make an archived roadmap active again.")] = False,
        by: Annotated[str | None, typer.Option("--by", help="Who, for the history (default: login@host).",
                                               show_default=False)] = None,
        db: DbOption = None,
    ) -> None:
        """Archive a finished roadmap: its mail stops and `run` and `status` leave it out (--undo: back)."""
        from models.text import checked_note
        from tasks.roadmap_jobs import archive_roadmap

        who = checked_note(by, "--by") or current_user()
        done = archive_roadmap(db_url(db), key, actor=who, undo=undo)
        if not done.changed:
            console.print(f"{done.roadmap_key}: already {'active' if undo else 'archived'}, nothing changed",
                          markup=False)
        elif undo:
            console.print(f"{done.roadmap_key}: active again; its mail resumes with the next run", markup=False)
        else:
            dismissed = f"; {done.dismissed} unsent message(s) dismissed" if done.dismissed else ""
            console.print(f"{done.roadmap_key}: archived, its mail has stopped{dismissed} "
                          f"(`roadmap archive {done.roadmap_key} --undo` to resume)", markup=False)

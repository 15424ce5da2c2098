"""`roadmap web`: serve the task pages and the roadmap page; `roadmap web-link`: print a
signed link (an office link to the roadmap page, or one person's link to one task);
`roadmap calendar-link PERSON`: print a person's calendar feed link, or revoke it.

uvicorn, the web app and the mail renderer are imported inside the commands: the CLI imports
every command module to build its help, and `roadmap --help` should not pay for uvicorn,
FastAPI or Jinja."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from cli.common import DbOption, RoadmapOption, console, db_url, handle_errors
from config import get_settings
from models.db import session_scope
from models.delegation import may_update
from models.errors import UserError
from models.notify import load_directory
from models.problems import did_you_mean
from models.roadmaps import select_roadmap, today_in
from models.schema import Person, Task
from models.tokens import expiry_for, sign_office_token


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def web(
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
        db: DbOption = None,
    ) -> None:
        """Serve the web app: task pages behind signed email links, and the roadmap page."""
        url = db_url(db)
        import uvicorn

        from web.app import create_app

        settings = get_settings()
        application = create_app(url, settings)  # refuses a missing or short ROADMAP_SECRET_KEY (exit 2)
        auth = "basic auth (ROADMAP_WEB_PASSWORD) or an office link" if settings.web_password else \
            "office links only (`roadmap web-link`); set ROADMAP_WEB_PASSWORD for basic auth"
        console.print(f"serving on http://{host}:{port} (links in emails use {settings.public_url}); "
                      f"roadmap page: {auth}", markup=False)
        # No access log: task URLs carry their token in the query string.
        uvicorn.run(application, host=host, port=port, log_level="info", proxy_headers=True, access_log=False)

    @app.command("web-link")
    @handle_errors
    def web_link(
        task: Annotated[str | None, typer.Option("--task", help="A task key: print that task's link.")] = None,
        person: Annotated[
            str | None, typer.Option("--person", help="With --task: whose link (default the owner).")
        ] = None,
        days: Annotated[int, typer.Option("--days", help="Valid for this many days.", min=1, max=366)] = 30,
        roadmap: RoadmapOption = None,
        db: DbOption = None,
    ) -> None:
        """Print a signed link: the roadmap page for the office, or with --task one task's page."""
        from tasks.render_mail import task_links

        url = db_url(db)
        secret = get_settings().web_secret_key  # the web app's key, so the link opens there
        public = get_settings().public_url.rstrip("/")
        with session_scope(url) as session:
            rm = select_roadmap(session, roadmap)
            day = today_in(rm)
            if task is None:
                token = sign_office_token(secret, rm.key, expiry_for(day, days))
                console.print(f"{public}/roadmaps/{rm.key}?token={token}", markup=False)
                return
            row = session.scalar(select(Task).where(Task.roadmap_id == rm.id, Task.key == task))
            if row is None or row.archived:
                raise UserError(f"task {task!r} is not a live task of roadmap {rm.key!r}")
            who = person or row.owner
            directory = load_directory(session, rm)
            if who not in directory.people:
                raise UserError(f"--person: no person {who!r} in roadmap {rm.key!r}")
            if not may_update(row, who, directory.people, directory.partners, day):
                raise UserError(
                    f"--person: {who!r} may not update task {row.key!r} (owner {row.owner!r}): such a link would be "
                    "refused; links are for the owner, their delegate while away, their manager, the partners' "
                    "contacts and the project office"
                )
            console.print(task_links(secret, public, rm.key, row.key, who, day, days).page, markup=False)

    @app.command("calendar-link")
    @handle_errors
    def calendar_link(
        person: Annotated[str, typer.Argument(help="A person key of the roadmap.", show_default=False)],
        revoke: Annotated[bool, typer.Option(
            "--revoke", help="Make every earlier link of this person refused (403) and print the new one.")] = False,
        roadmap: RoadmapOption = None,
        db: DbOption = None,
    ) -> None:
        """Print a person's calendar feed link (their open tasks, for a calendar to subscribe to)."""
        from models.notify import Recipient
        from tasks.render_mail import calendar_link as feed_link

        url = db_url(db)
        secret = get_settings().web_secret_key  # the web app's key, so the link opens there
        with session_scope(url) as session:
            rm = select_roadmap(session, roadmap)
            people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == rm.id))}
            row = people.get(person)
            if row is None or row.archived:
                live = [k for k, p in people.items() if not p.archived]
                raise UserError(f"no person {person!r} in roadmap {rm.key!r}{did_you_mean(person, live)}")
            if revoke:
                row.calendar_generation += 1
            link = feed_link(secret, get_settings().public_url, rm.key, Recipient.of(row))
        if revoke:
            console.print(f"earlier calendar links of {person} are revoked; the new one:", markup=False)
        console.print(link, markup=False)

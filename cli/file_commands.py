"""`roadmap export FILE` and `roadmap new FILE.xlsx`: the roadmap as a file people edit.

The format follows the extension (tasks/roadmap_export.py ``WRITERS``); `roadmap validate`
and `roadmap import` read the same formats back (models/roadmap_files.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import AsOfOption, DbOption, RoadmapOption, console, db_url, handle_errors, shown
from models.errors import UserError
from models.roadmaps import parse_day


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("new")(new)


@handle_errors
def export(
    file: Annotated[str, typer.Argument(help="Where to write: .xlsx (Excel) or .yaml.")],
    as_of: AsOfOption = None,
    roadmap: RoadmapOption = None,
    db: DbOption = None,
) -> None:
    """Write the stored roadmap to FILE, its format by extension; the workbook's grey columns
    (expected finish, slack, critical, RAG, days late) are those of --as-of."""
    from tasks.roadmap_export import export_file, writer_for

    writer_for(file)  # before the database: a wrong extension is refused at once
    out = export_file(db_url(db), roadmap, file, parse_day(as_of))
    console.print(shown(f"{out.roadmap_key}: {out.tasks} tasks written to {out.path} (as of {out.as_of})"))


@handle_errors
def new(
    file: Annotated[str, typer.Argument(help="The workbook to write (.xlsx).")],
    language: Annotated[str, typer.Option("--language", help="ru or en: headers and sheet names.")] = "ru",
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Write an empty roadmap workbook for a new session: every sheet, column and dropdown."""
    from tasks.roadmap_export import new_workbook

    if language not in ("ru", "en"):
        raise UserError(f"--language: {language!r} is not one of ru, en")
    path = new_workbook(file, language, force=force)
    console.print(shown(f"{path}: an empty roadmap workbook; fill it in, then: roadmap validate {path}"))

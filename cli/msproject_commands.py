"""`roadmap export FILE.xml`: the roadmap as MS Project XML (docs/msproject.md). The options
`validate` and `import` take for MS Project files are declared here too."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import AsOfOption, DbOption, RoadmapOption, console, db_url, handle_errors, shown
from models.errors import UserError
from models.roadmaps import parse_day

CreatePeopleOption = Annotated[
    bool, typer.Option("--create-people", help="MS Project files: resources that are not people of the roadmap "
                       "become people (they need a name and an e-mail address).")]


def register(app: typer.Typer) -> None:
    app.command("export")(handle_errors(export))


def export(
    file: Annotated[str, typer.Argument(help="The file to write: FILE.xml (MS Project XML).")],
    as_of: AsOfOption = None,
    roadmap: RoadmapOption = None,
    db: DbOption = None,
) -> None:
    """Write the roadmap to a file, its format by the extension: .xml is MS Project XML (MSPDI)."""
    from tasks.msproject_jobs import export_project_file, is_project_file

    if not file.lower().endswith(".xml") or not is_project_file(file):
        raise UserError(f"export: {file!r}: write .xml (MS Project XML)")
    written = export_project_file(db_url(db), roadmap, file, parse_day(as_of))
    console.print(shown(f"{written}: written (MS Project XML)"))

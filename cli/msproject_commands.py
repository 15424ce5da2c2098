"""The options `validate` and `import` take for MS Project files (docs/msproject.md); `roadmap
export FILE.xml` is cli/file_commands.py's."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import AsOfOption, DbOption, RoadmapOption, console, db_url, handle_errors, shown
from models.errors import UserError
from models.roadmaps import parse_day

CreatePeopleOption = Annotated[
    bool, typer.Option("--create-people", help="MS Project files: resources that are not people of the roadmap "
                       "become people (they need a name and an e-mail address).")]

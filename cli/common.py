"""What every command shares: the --db option, the console and turning errors into exit codes.

Exit codes: 0 ok, 1 operational failure (database unreachable, mail not delivered),
2 bad input (a wrong file, key, date or option). A user mistake never shows a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from config import get_settings, reset_settings_cache
from models.db import URL_SETTING, check_url
from models.errors import UserError
from models.problems import RoadmapInvalid
from models.text import printable

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: ROADMAP_DATABASE_URL or sqlite:///var/roadmap.db).",
                 show_default=False),
]
RoadmapOption = Annotated[
    str | None,
    typer.Option("--roadmap", help="Roadmap key; needed when the database holds several.", show_default=False),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="The day to evaluate (YYYY-MM-DD); default today in the roadmap's timezone.",
                 show_default=False),
]
CreatePeopleOption = Annotated[
    bool, typer.Option("--create-people", help="MS Project files: resources that are not people of the roadmap "
                       "become people (they need a name and an e-mail address).")]
PrefectOption = Annotated[
    bool, typer.Option("--prefect", help="Run through Prefect (recorded in the configured Prefect API).")
]

F = TypeVar("F", bound=Callable[..., Any])


def shown(value: str, style: str = "") -> Text:
    """Data as the terminal shows it: never rich markup (a title with "[/]" in it), and a control
    character stored before models/text.py refused them is shown as U+FFFD, not sent as is."""
    return Text(printable(value), style=style)


def db_url(option: str | None) -> str:
    """The database URL of this command, checked before anything runs (also before a Prefect
    run starts, where a failure would be logged with a traceback): the settings are read (a
    bad ROADMAP_ value is refused here) and the URL is checked (models/db.py ``check_url``)."""
    if option is not None:
        os.environ["ROADMAP_DATABASE_URL"] = option
        reset_settings_cache()
    url = get_settings().database_url
    check_url(url)
    return url


def print_problems(exc: RoadmapInvalid) -> None:
    for p in exc.problems:
        style = "red" if p.severity == "error" else "yellow"
        err_console.print(shown(p.format(), style))  # the file's name may hold an ESC
    errors, warnings = len(exc.errors), len(exc.warnings)
    err_console.print(f"{errors} error(s), {warnings} warning(s); nothing was changed.", style="bold red")


def handle_errors(func: F) -> F:
    """Turn known failures into messages and exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RoadmapInvalid as exc:
            print_problems(exc)
            raise typer.Exit(2) from None
        except UserError as exc:
            err_console.print(f"error: {exc}", style="red", markup=False)
            raise typer.Exit(2) from None
        except ValidationError as exc:  # a ROADMAP_ setting (config/settings.py)
            first = exc.errors()[0]
            why = first.get("ctx", {}).get("error") or first["msg"]
            err_console.print(f"error: ROADMAP_{str(first['loc'][0]).upper()}: {why}", style="red", markup=False)
            raise typer.Exit(2) from None
        except (ArgumentError, NoSuchModuleError) as exc:
            err_console.print(f"error: --db / ROADMAP_DATABASE_URL is not a usable database URL: {exc}".splitlines()[0],
                              style="red", markup=False)
            raise typer.Exit(2) from None
        except OperationalError as exc:
            if "unable to open database file" in str(exc.orig):  # SQLite: the path or its permissions
                err_console.print(f"error: {URL_SETTING}: SQLite cannot open the database file there "
                                  "(check the path, and that its folder is writable)", style="red", markup=False)
                raise typer.Exit(2) from None
            err_console.print(f"database error: {exc.orig or exc}".splitlines()[0], style="red", markup=False)
            raise typer.Exit(1) from None
        except SQLAlchemyError as exc:
            err_console.print(f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}",
                              style="red", markup=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", style="red")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]

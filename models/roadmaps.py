"""Finding the roadmap a command is about, and the day it is about."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.dates import outside_window
from models.errors import UserError
from models.schema import Roadmap


def select_roadmap(session: Session, key: str | None) -> Roadmap:
    if key:
        roadmap = session.scalar(select(Roadmap).where(Roadmap.key == key))
        if roadmap is None:
            known = ", ".join(session.scalars(select(Roadmap.key).order_by(Roadmap.key))) or "none"
            raise UserError(f"no roadmap with key {key!r} (known: {known})")
        return roadmap
    roadmaps = list(session.scalars(select(Roadmap).order_by(Roadmap.key)))
    if not roadmaps:
        raise UserError("the database holds no roadmap yet: run `roadmap import FILE` first")
    active = [r for r in roadmaps if not r.archived]
    if len(roadmaps) > 1 and len(active) == 1:
        return active[0]  # the others are archived: the one still running needs no --roadmap
    if len(roadmaps) > 1:
        keys = ", ".join(r.key for r in active or roadmaps)
        raise UserError(f"the database holds several roadmaps ({keys}): choose one with --roadmap KEY")
    return roadmaps[0]


def active_roadmaps(session: Session) -> list[Roadmap]:
    """Every roadmap that is not archived, by key: what `roadmap run` and the portfolio status
    go over when no --roadmap is given. An empty database is a user mistake (nothing to run);
    a database whose roadmaps are all archived is not (an empty list)."""
    roadmaps = list(session.scalars(select(Roadmap).order_by(Roadmap.key)))
    if not roadmaps:
        raise UserError("the database holds no roadmap yet: run `roadmap import FILE` first")
    return [r for r in roadmaps if not r.archived]


def today_in(roadmap: Roadmap) -> date:
    return datetime.now(ZoneInfo(roadmap.timezone)).date()


def day_of(roadmap: Roadmap, as_of: date | None, option: str = "--as-of") -> date:
    """The day a command is about: ``as_of`` when given (within the roadmap's window of
    dates, see ``check_day``), else today in the roadmap's timezone."""
    return today_in(roadmap) if as_of is None else check_day(roadmap, as_of, option)


def check_day(roadmap: Roadmap, day: date, option: str) -> date:
    """``day`` when it is within WINDOW_YEARS of the roadmap's session (models/dates.py);
    else a UserError naming the option, before anything is computed from it."""
    why = outside_window(day, roadmap.session_date)
    if why is not None:
        raise UserError(f"{option}: {why}")
    return day


def parse_day(value: str | None, option: str = "--as-of") -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"{option}: {value!r} is not a date; use YYYY-MM-DD") from None

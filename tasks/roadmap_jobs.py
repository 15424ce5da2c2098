"""Units of work on the roadmap database: each opens one transaction and returns plain data.

The CLI and the Prefect flows call these; the decisions themselves live in models/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from models.db import session_scope
from models.history import ChangeLog, history
from models.importer import ImportReport, file_sha256, import_roadmap
from models.loader import LoadedRoadmap
from models.planning import live_tasks, roadmap_calendar
from models.portfolio import portfolio
from models.roadmap_files import load_roadmap_file
from models.roadmaps import active_roadmaps, check_day, day_of, select_roadmap, today_in
from models.schema import Change, OutboxMessage, Person, Roadmap, Stage
from models.spec import Policy
from models.status import StatusFilter, stage_states, status_document, task_states
from models.updates import UpdateResult, update_risk, update_task


@dataclass(frozen=True)
class RoadmapDay:
    roadmap_key: str
    as_of: date
    timezone: str
    # Set when as_of is not a business day of the roadmap's calendar: the day mail waits for.
    next_working_day: date | None = None
    archived: bool = False  # `roadmap archive KEY`: its mail has stopped

    @property
    def day_off_note(self) -> str | None:
        """Why nothing is sent today (an archived roadmap, a day off), for the CLI and the flows'
        log; None when the day's mail goes out."""
        if self.archived:
            return (f"{self.roadmap_key}: archived, nothing is sent "
                    f"(`roadmap archive {self.roadmap_key} --undo` makes it active again)")
        if self.next_working_day is None:
            return None
        return (f"{self.roadmap_key} {self.as_of}: not a working day in the roadmap's calendar, nothing is sent; "
                f"reminders, escalations and a due weekly report wait for {self.next_working_day}")


def roadmap_day(db_url: str, roadmap_key: str | None, as_of: date | None) -> RoadmapDay:
    """Which roadmap, and which day: `as_of`, or today in the roadmap's timezone; and, when
    that is not a business day, the next one."""
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        day, cal = day_of(roadmap, as_of), roadmap_calendar(roadmap)
        later = None if cal.is_business_day(day) else cal.next_business_day(day)
        return RoadmapDay(roadmap.key, day, roadmap.timezone, later, roadmap.archived)


def active_keys(db_url: str, as_of: date | None) -> list[str]:
    """The keys of the roadmaps an every-roadmap run goes over (``active_roadmaps``). A day
    given is checked against each one's window first: a mistake in it is refused (exit 2)
    before any roadmap sends anything, not found half-way through."""
    with session_scope(db_url) as session:
        roadmaps = active_roadmaps(session)
        if as_of is not None:
            for roadmap in roadmaps:  # with several, the message names the one the day does not fit
                check_day(roadmap, as_of, f"--as-of (roadmap {roadmap.key})" if len(roadmaps) > 1 else "--as-of")
        return [r.key for r in roadmaps]


@dataclass(frozen=True)
class Archived:
    roadmap_key: str
    changed: bool  # False: it already was (or was not) archived
    dismissed: int = 0  # its unsent messages set aside when it was archived


def archive_roadmap(db_url: str, roadmap_key: str, *, actor: str, undo: bool = False) -> Archived:
    """`roadmap archive KEY [--undo]`: stop (or resume) a roadmap's mail, recorded in its history.

    Archiving also dismisses its messages still waiting to go (pending, or failed and due for
    another try), with who and when, as `roadmap outbox dismiss` does: a run for another
    roadmap delivers the whole outbox, and would otherwise send them after the roadmap stopped.
    Making it active again resends none of them: the next run plans that day's mail afresh."""
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        if roadmap.archived != undo:
            return Archived(roadmap.key, changed=False)
        log = ChangeLog(roadmap.id, "cli", actor)
        log.apply(roadmap, "roadmap", roadmap.key, {"archived": not undo})
        log.flush(session)
        dismissed = 0
        if not undo:
            result = session.execute(
                update(OutboxMessage).where(OutboxMessage.roadmap_id == roadmap.id,
                                            OutboxMessage.status.in_(("pending", "failed")))
                .values(status="dismissed", dismissed_at=log.at, dismissed_by=actor[:200]))
            dismissed = cast(CursorResult[Any], result).rowcount or 0
        return Archived(roadmap.key, changed=True, dismissed=dismissed)


def validate_file(path: str | Path) -> LoadedRoadmap:
    return load_roadmap_file(path)


def import_file(db_url: str, path: str | Path, *, actor: str | None = None) -> ImportReport:
    """Import a file; a file identical to the last one imported is recognised by its hash."""
    digest = file_sha256(path) if Path(path).is_file() else None
    if digest is not None:
        with session_scope(db_url) as session:
            key = session.scalar(select(Roadmap.key).where(Roadmap.source_sha256 == digest))
        if key is not None:
            return ImportReport(key, identical=True)
    loaded = load_roadmap_file(path)
    with session_scope(db_url) as session:
        return import_roadmap(session, loaded, actor=actor)


def roadmap_status(db_url: str, roadmap_key: str | None, as_of: date | None,
                   only: StatusFilter | None = None) -> dict[str, Any]:
    """The status document of the whole roadmap; ``only`` is checked against its people and
    stages (the caller applies it: ``only.apply(doc)``)."""
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        day = day_of(roadmap, as_of)
        cal = roadmap_calendar(roadmap)
        tasks = live_tasks(session, roadmap.id)
        people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
        live_stages = select(Stage).where(Stage.roadmap_id == roadmap.id, Stage.archived.is_(False))
        stages = list(session.scalars(live_stages.order_by(Stage.position)))
        if only:
            only.check(roadmap.key, sorted(people), [s.key for s in stages])
        states = task_states(tasks, people, day, cal, Policy.of(roadmap).remind_window)
        return status_document(roadmap, day, stage_states(stages, tasks, states, cal, day), states)


@dataclass
class Updated:
    roadmap_key: str
    result: UpdateResult


def _check_days(roadmap: Roadmap, changes: dict[str, Any]) -> None:
    """The days a change names (``--on``, ``--forecast``, ``--review``) are within the roadmap's window."""
    for name in ("on", "forecast", "review"):
        if isinstance(changes.get(name), date):
            check_day(roadmap, changes[name], f"--{name}")


def change_task(db_url: str, roadmap_key: str | None, key: str, **changes: Any) -> Updated:
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        _check_days(roadmap, changes)
        return Updated(roadmap.key, update_task(session, roadmap, key, today=today_in(roadmap), **changes))


def change_risk(db_url: str, roadmap_key: str | None, key: str, **changes: Any) -> Updated:
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        _check_days(roadmap, changes)
        return Updated(roadmap.key, update_risk(session, roadmap, key, today=today_in(roadmap), **changes))


def entity_history(db_url: str, roadmap_key: str | None, key: str) -> tuple[str, list[Change]]:
    """The roadmap's timezone (the history is shown in it) and the recorded changes of ``key``."""
    with session_scope(db_url) as session:
        roadmap = select_roadmap(session, roadmap_key)
        return roadmap.timezone, history(session, roadmap.id, None, key)


def portfolio_status(db_url: str, as_of: date | None) -> dict[str, Any]:
    """`roadmap status` over every active roadmap: the portfolio document (models/portfolio.py)."""
    with session_scope(db_url) as session:
        return portfolio(session, as_of)


def holds_several(db_url: str) -> bool:
    """Whether the database holds more than one roadmap (then `status` without --roadmap is the portfolio)."""
    with session_scope(db_url) as session:
        return len(session.scalars(select(Roadmap.id).limit(2)).all()) > 1

"""Recording changes: every status change, from a file, the CLI or the web, lands here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models.schema import Change, utcnow


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


@dataclass
class ChangeLog:
    """Collects changes during one unit of work and writes them in one batch."""

    roadmap_id: int
    source: str
    actor: str | None = None

    def __post_init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.at = utcnow()

    def add(self, entity: str, key: str, field: str, old: Any = None, new: Any = None, note: str | None = None) -> None:
        self.rows.append(
            dict(
                roadmap_id=self.roadmap_id, entity=entity, entity_key=key, field=field,
                old=as_text(old), new=as_text(new), source=self.source, actor=self.actor,
                note=note, at=self.at,
            )
        )

    def apply(self, row: Any, entity: str, key: str, values: dict[str, Any],
              note: str | None = None) -> list[tuple[str, Any, Any]]:
        """Set on ``row`` the values that differ from its own, record each, and return them
        as (field, old, new)."""
        changes = [(name, old, value) for name, value in values.items() if (old := getattr(row, name)) != value]
        for name, old, new in changes:
            setattr(row, name, new)
            self.add(entity, key, name, old, new, note)
        return changes

    def flush(self, session: Session) -> None:
        if self.rows:
            session.execute(insert(Change), self.rows)
            self.rows = []


def history(session: Session, roadmap_id: int, entity: str | None, key: str) -> list[Change]:
    query = select(Change).where(Change.roadmap_id == roadmap_id, Change.entity_key == key)
    if entity:
        query = query.where(Change.entity == entity)
    return list(session.scalars(query.order_by(Change.at, Change.id)))

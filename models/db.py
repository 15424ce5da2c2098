"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL.

Alembic and the dialect-specific packages are imported inside the functions that use them:
every CLI command imports this module, and most never migrate or touch PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    import sqlite3

    from alembic.config import Config
    from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_UP_TO_DATE: set[str] = set()


def normalise_url(url: str) -> str:
    """postgresql:// means psycopg 3 here; a relative SQLite path gets its folder created."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # Every transaction is a writer transaction (BEGIN IMMEDIATE): SQLite then has a
        # single writer at a time, waiting up to busy_timeout, instead of failing when a
        # reader later tries to write. This is what makes outbox claims exclusive here.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def conflict_insert(session: Session) -> Callable[..., Any]:
    """The dialect's ``insert`` with ON CONFLICT clauses, for the session's database.
    Imported on first use: the PostgreSQL dialect package takes 40 ms to import, for
    nothing when the database is SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        if "alembic_version" in str(exc.orig):  # a new, empty database
            return None
        raise


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration, as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def upgrade(url: str) -> None:
    """Bring the database to the latest schema (idempotent; checked once per process)."""
    if url in _UP_TO_DATE:
        return
    engine = get_engine(url)
    if current_revision(engine) != head_revision() or head_revision() is None:
        from alembic import command

        cfg = alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    _UP_TO_DATE.add(url)


def forget_schema_check(url: str) -> None:
    """For tests that drop the schema under a running process."""
    _UP_TO_DATE.discard(url)


@lru_cache(maxsize=8)
def _session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str, *, migrate: bool = True) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    if migrate:
        upgrade(url)
    session = _session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

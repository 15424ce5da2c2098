"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL.

Alembic and the dialect-specific packages are imported inside the functions that use them:
every CLI command imports this module, and most never migrate or touch PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from models.errors import UserError
from models.file_paths import check_file_target, make_folder

if TYPE_CHECKING:
    import sqlite3

    from alembic.config import Config
    from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_DATABASE_URL = "sqlite:///var/roadmap.db"  # relative to the working folder; var/ is created
URL_SETTING = "--db / ROADMAP_DATABASE_URL"
_URL_FORMS = "use sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://user@host:5432/name"
_UP_TO_DATE: set[str] = set()


def normalise_url(url: str) -> str:
    """The URL checked (``check_url``), postgresql:// meaning psycopg 3; the default's folder made."""
    parsed = check_url(url)
    if parsed.get_backend_name() == "sqlite" and url == DEFAULT_DATABASE_URL:
        make_folder(Path(str(parsed.database)), URL_SETTING)
    return parsed.render_as_string(hide_password=False)


def _unusable(why: str) -> UserError:
    return UserError(f"{URL_SETTING} is not a usable database URL: {why}; {_URL_FORMS}")


def check_url(url: str) -> URL:
    """The parsed database URL, or a one-line UserError saying what is wrong with it: not a
    URL, a port that is not a number from 1 to 65535, a database other than SQLite and
    PostgreSQL, an asyncio driver, a driver that is not installed, or a SQLite file that cannot
    be one (models/file_paths.py: a regular file in a folder that exists; only the default's
    folder, var/, is created).
    The URL is never repeated in the message: it may hold a password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise _unusable("it cannot be read as one") from None
    except ValueError:  # make_url's int() of the port
        raise _unusable("its port is not a number") from None
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise _unusable(f"its port {parsed.port} is not between 1 and 65535")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise _unusable(f"{backend}:// is not supported")
    if backend != "sqlite" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        dialect = parsed.get_dialect()
        if dialect.is_async:  # the sessions here are synchronous: every query would fail (MissingGreenlet)
            raise _unusable(f"{parsed.drivername} is an asyncio driver, which Roadmap Office cannot use")
        dialect.import_dbapi()
    except NoSuchModuleError:
        raise _unusable(f"{parsed.drivername} is not a known driver") from None
    except ImportError as exc:
        raise _unusable(f"the driver of {parsed.drivername} is not installed ({exc})") from None
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:") and \
            not parsed.database.startswith("file:") and "uri" not in parsed.query:
        check_file_target(parsed.database, URL_SETTING, replaced=False, new_folder_ok=url == DEFAULT_DATABASE_URL)
    return parsed


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    # JSON columns (a task's depends_on, ...) read with orjson: 50,000 tasks' lists took a
    # fifth of the portfolio status with the standard library's json.loads.
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, json_deserializer=orjson.loads)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Every transaction is a writer transaction (BEGIN IMMEDIATE): SQLite then has a
        # single writer at a time, waiting up to busy_timeout, instead of failing when a
        # reader later tries to write. This is what makes outbox claims exclusive here.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(url, pool_pre_ping=True, json_deserializer=orjson.loads)


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
def _revisions() -> tuple[str | None, frozenset[str]]:
    """The newest migration and every migration this code knows, from the migration scripts."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    return script.get_current_head(), frozenset(rev.revision for rev in script.walk_revisions())


def head_revision() -> str | None:
    """The newest migration, as Alembic reads it from the migration scripts."""
    return _revisions()[0]


@lru_cache(maxsize=1)
def newest_migration() -> str | None:
    """The newest migration as its script's name says, read without importing Alembic.

    Importing Alembic takes ~0.15 s (it loads every dialect's DDL support and Mako), a tenth
    of a `roadmap report`, only to learn that a database is up to date, as it nearly always
    is. The scripts are named after their revision (``versions/0011_what.py`` holds revision
    ``0011``; tests/test_schema_check.py holds them to it), so the newest name is the head.
    This is only a shortcut: a database at any other revision goes through Alembic."""
    names = sorted(p.name for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    return names[-1][:4] if names else None


def check_schema_known(revision: str | None) -> None:
    """Refuse a database whose schema revision this code does not know: a newer Roadmap Office
    migrated it, and this one would fail on it (or Alembic would, looking for the revision)."""
    if revision is not None and revision not in _revisions()[1]:
        raise UserError(f"the database was written by a newer Roadmap Office (revision {revision}); "
                        "upgrade Roadmap Office")


def upgrade(url: str) -> None:
    """Bring the database to the latest schema (idempotent; checked once per process). A
    database at a revision this code does not know is refused (``check_schema_known``)."""
    if url in _UP_TO_DATE:
        return
    engine = get_engine(url)
    current = current_revision(engine)
    if current is not None and current == newest_migration():
        _UP_TO_DATE.add(url)  # up to date, known without Alembic
        return
    if current != head_revision() or head_revision() is None:
        check_schema_known(current)
        from alembic import command

        with migration_connection(engine) as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    _UP_TO_DATE.add(url)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for Alembic to migrate with.

    On SQLite, foreign keys are off while it migrates: changing a column there rebuilds the
    table (batch mode: copy, drop, rename), and dropping a table that others refer to with ON
    DELETE CASCADE would delete their rows (0014 rebuilds the outbox, which message contents,
    escalation items, calendar entries and check-ins refer to). The pragma only takes effect
    outside a transaction, so it is set on the driver's connection before the transaction
    begins; the keys are checked before the commit, and turned back on after."""
    with engine.connect() as conn:
        sqlite = is_sqlite(engine)
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                yield conn
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("the migration left rows whose foreign keys point nowhere")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


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

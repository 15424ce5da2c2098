"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ROADMAP_TEST_POSTGRES_URL (default: the local server at
127.0.0.1:5432). A fresh database is created for the test run and dropped afterwards;
each test starts from an empty schema. Outside CI the PostgreSQL variants skip with a
reason when no server answers; in CI (CI=true) they fail instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models.db import forget_schema_check, get_engine, normalise_url, upgrade
from models.schema import Base

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _admin_url() -> str:
    return normalise_url(os.environ.get("ROADMAP_TEST_POSTGRES_URL") or DEFAULT_PG)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    admin = _admin_url()
    name = f"roadmap_test_{uuid.uuid4().hex[:10]}"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        reason = f"PostgreSQL not reachable at {make_url(admin).render_as_string()}: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
        pytest.skip(reason)
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    yield url
    get_engine(url).dispose()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _reset(url: str) -> None:
    forget_schema_check(url)
    engine = get_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """An empty, migrated database; the test id says which kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/roadmap.db"
    else:
        url = request.getfixturevalue("postgres_server_url")
        _reset(url)
    upgrade(url)
    return url

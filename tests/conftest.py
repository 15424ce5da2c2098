"""Shared fixtures: databases (tests/db_fixtures.py), SMTP servers (tests/smtp_fixtures.py),
an isolated environment per test and the small hand-built roadmap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config import reset_settings_cache

pytest_plugins = ["tests.db_fixtures", "tests.smtp_fixtures"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "examples" / "open-workshop-moscow.yaml"
SMALL = HERE / "data" / "small.yaml"

# Prefect stays local and quiet in tests.
os.environ.setdefault("PREFECT_HOME", str(ROOT / "var" / "prefect-test"))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """No ROADMAP_ variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("ROADMAP_") and name != "ROADMAP_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ROADMAP_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("ROADMAP_REPORTS_DIR", str(tmp_path / "reports"))
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture
def small_yaml() -> Path:
    return SMALL


@pytest.fixture
def example_yaml() -> Path:
    return EXAMPLE

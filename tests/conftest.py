"""Shared fixtures. Mail fixtures live in tests/smtp_fixtures.py, database ones here."""

pytest_plugins = ["tests.smtp_fixtures"]

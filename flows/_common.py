"""What the flows share: the database URL parameter, run summaries and the closing log line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

from config import get_settings
from models.errors import UserError
from tasks.prefect_tasks import logger


def database_url(db_url: str | None) -> str:
    """The database a flow works on: the parameter, else ROADMAP_DATABASE_URL.

    Flow parameters are stored in Prefect and shown in its UI, so a URL with a password is
    refused here: put it in the worker's ROADMAP_DATABASE_URL (or ~/.pgpass) instead."""
    if db_url is None:
        return get_settings().database_url
    if make_url(db_url).password:
        raise UserError("db_url parameter holds a password: set ROADMAP_DATABASE_URL in the "
                        "worker's environment (or use ~/.pgpass) and leave db_url empty")
    return db_url


def public_db_url(url: str) -> str | None:
    """The URL to pass as a flow parameter: itself when it holds no secret, else None (the
    flow then reads ROADMAP_DATABASE_URL from the environment of the process running it)."""
    return None if make_url(url).password else url


@dataclass
class MailSummary:
    """What one mail flow did: the counts logged at its end and printed by the CLI."""

    kind: str
    roadmap_key: str
    as_of: dt.date
    planned: int = 0
    recorded: int = 0
    duplicates: int = 0
    sent: int = 0
    pending: int = 0
    failed: int = 0
    delivered_by_run: int = 0
    dry_run: bool = False
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (name, address, subject)
    texts: list[str] = field(default_factory=list)  # bodies, for --dry-run only
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the log and the CLI; `delivered` is what this run sent itself, `sent in
        all` how many of its messages are sent by now (some possibly by another worker)."""
        return (f"{self.roadmap_key} {self.as_of} {self.kind}: planned {self.planned}, recorded {self.recorded}, "
                f"skipped as duplicate {self.duplicates}; delivered {self.delivered_by_run}, failed {self.failed}; "
                f"sent in all {self.sent}" + (f", still pending {self.pending}" if self.pending else ""))


class DeliveryFailed(Exception):
    """Raised at the end of a flow when a message failed (permanently, or after every retry),
    so that the flow run ends Failed in Prefect and the CLI exits 1."""

    def __init__(self, summaries: list[MailSummary]):
        self.summaries = summaries
        failed = sum(s.failed for s in summaries)
        super().__init__(f"{failed} message(s) failed: " + "; ".join(e for s in summaries for e in s.errors[:3]))


def log_summary(summary: MailSummary) -> None:
    log = logger()
    log.info(summary.line())
    for error in summary.errors:
        log.error("failed: %s", error)

"""Faults in delivery (issue 11, point 10 and "Duplicates after a crash"): a real SMTP server on
loopback (the checkout's tests/smtp_fixtures.py) and the real SQLite outbox."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

from attacks import attack, cli

DAY = "2014-11-10"


def _smtp(refuse: set[str] | None = None, data_delay: float = 0.0):  # type: ignore[no-untyped-def]
    """An aiosmtpd server on loopback, and the settings of this process pointed at it."""
    sys.path.insert(0, os.environ["ROADMAP_CODE"])
    from tests.smtp_fixtures import SmtpRecorder

    server = SmtpRecorder(refuse=refuse, data_delay=data_delay).start()
    os.environ.update(ROADMAP_SMTP_HOST="127.0.0.1", ROADMAP_SMTP_PORT=str(server.port),
                      ROADMAP_SMTP_SECURITY="none", ROADMAP_MAIL_FROM="roadmap@example.org")
    return server


@attack("outbox: a message failed for good, then the next day's run", __name__)
def failed_then_next_day(tmp: Path) -> str:
    server = _smtp(refuse={"alice@example.org"})
    try:
        cli("import", str(Path(os.environ["ROADMAP_CODE"]) / "tests" / "data" / "small.yaml"))
        cli("remind", "--as-of", DAY)  # alice refused: exit 1, said that day
        server.refuse.clear()
        return cli("remind", "--as-of", "2014-11-11")  # the next day: is the failed message still mentioned?
    finally:
        server.stop()


@attack("outbox: mark refused (disk full), 2 connections, short lease", __name__)
def mark_refused(tmp: Path) -> str:
    """The outbox refuses to record the first message as sent (a trigger, as a full disk would);
    the other connection goes on. Outcome: the command's, and the most copies of one message."""
    sys.path.insert(0, os.environ["ROADMAP_CODE"])
    from sqlalchemy import create_engine

    from tests.bulk_roadmap import DAY as BULK_DAY
    from tests.bulk_roadmap import write_roadmap

    server = _smtp(data_delay=0.1)
    os.environ.update(ROADMAP_SMTP_CONNECTIONS="2", ROADMAP_MAIL_LEASE_SECONDS="0.6")
    try:
        cli("import", str(write_roadmap(tmp / "bulk.yaml", 20)))
        engine = create_engine(os.environ["ROADMAP_DATABASE_URL"])
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TRIGGER outbox_full BEFORE UPDATE OF status ON outbox WHEN NEW.status = 'sent' "
                "AND OLD.id = 1 BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        engine.dispose()
        outcome = cli("remind", "--as-of", BULK_DAY.isoformat())
        copies = Counter(str(r.message["Message-ID"]) for r in server.received)
        return f"{outcome[:90]} | {len(server.received)} received, at most {max(copies.values(), default=0)} copies"
    finally:
        server.stop()


@attack("outbox: a slow relay keeps the message but replies after our timeout", __name__)
def slow_reply(tmp: Path) -> str:
    """The relay records each message, then answers 250 two seconds later; the client times
    out after 0.5 s. Outcome: the command's, and the most copies of one message."""
    import asyncio
    import time

    server = _smtp()
    sys.path.insert(0, os.environ["ROADMAP_CODE"])
    from tests import smtp_fixtures

    kept = smtp_fixtures._Handler.handle_DATA

    async def kept_then_slow(self, server_, session, envelope):  # type: ignore[no-untyped-def]
        reply = await kept(self, server_, session, envelope)  # recorded: the relay has it
        await asyncio.sleep(2.0)
        return reply

    smtp_fixtures._Handler.handle_DATA = kept_then_slow  # type: ignore[method-assign]
    os.environ["ROADMAP_SMTP_TIMEOUT"] = "0.5"
    try:
        cli("import", str(Path(os.environ["ROADMAP_CODE"]) / "tests" / "data" / "small.yaml"))
        outcome = cli("remind", "--as-of", DAY)
        time.sleep(2.5)
        copies = Counter(str(r.message["Message-ID"]) for r in server.received)
        return f"{outcome[:70]} | {len(server.received)} received, at most {max(copies.values(), default=0)} copies"
    finally:
        server.stop()

"""A sending process for tests/test_crash_and_concurrency.py, started as a real subprocess.

It imports everything first, creates the file ``--ready`` and then waits until the file
``--go`` exists, so that two workers started one after the other begin their work at
the same instant rather than one interpreter start-up apart.

    python -m tests.send_worker --ready R --go G cli remind --as-of DAY --db URL
        runs the `roadmap` command line with the arguments after ``cli``;
    python -m tests.send_worker --ready R --go G deliver --db URL [--connections N]
        runs one delivery pass (tasks.outbox.deliver) and prints {"pid": ..., "sent": ...,
        "failures": ...} as JSON on the last line; the outbox's claimed_by of each message
        it took holds that pid (host:pid:random).

SMTP settings come from the ROADMAP_SMTP_* environment variables as usual.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import tasks.notify_jobs  # noqa: F401 - imported before the start, not after
from cli.main import app
from config import get_settings
from tasks.mail import transport_from_settings
from tasks.outbox import deliver


def _ready_set_go(ready: Path | None, go: Path | None, timeout: float = 60.0) -> None:
    if ready is not None:
        ready.touch()
    if go is None:
        return
    deadline = time.monotonic() + timeout
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"send_worker: {go} did not appear in {timeout}s")
        time.sleep(0.001)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ready", type=Path, default=None, help="file to create once imported")
    parser.add_argument("--go", type=Path, default=None, help="file to wait for before starting")
    sub = parser.add_subparsers(dest="mode", required=True)
    cli = sub.add_parser("cli")
    cli.add_argument("args", nargs=argparse.REMAINDER)
    dlv = sub.add_parser("deliver")
    dlv.add_argument("--db", required=True)
    dlv.add_argument("--connections", type=int, default=1)
    ns = parser.parse_args(argv)

    if ns.mode == "cli":
        _ready_set_go(ns.ready, ns.go)
        try:
            app(args=ns.args, prog_name="roadmap")
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    settings = get_settings()
    _ready_set_go(ns.ready, ns.go)
    stats = deliver(
        ns.db, lambda: transport_from_settings(settings), sender=settings.mail_from,
        max_attempts=settings.mail_max_attempts, lease=timedelta(seconds=settings.mail_lease_seconds),
        connections=ns.connections,
    )
    result = {"pid": os.getpid(), "sent": stats.sent, "failures": stats.failures, "errors": stats.errors}
    print(json.dumps(result), flush=True)
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())

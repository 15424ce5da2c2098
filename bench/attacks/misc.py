"""Review findings of issue 11 (names start with "misc:"): database URLs with a port out of range
or an asyncio driver, an outbox id beyond the column, a broken mail template of the user's
folder, an SMTP reply carrying an escape, settings without upper bounds, two sender addresses,
and a policy day number beyond any duration. Where the harm is not in the exit code (messages
recorded before the error, an ESC reaching the terminal) the outcome says so after a ";"."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from attacks import attack, cli

AS_OF = "2014-11-10"
SMTP = {"ROADMAP_SMTP_HOST": "127.0.0.1", "ROADMAP_SMTP_PORT": "1", "ROADMAP_SMTP_SECURITY": "none"}


def _small() -> Path:
    return Path(os.environ["ROADMAP_CODE"]) / "tests" / "data" / "small.yaml"


def _imported(**env: str) -> None:
    from config import reset_settings_cache

    assert cli("import", str(_small())).startswith("exit 0"), "import failed"
    os.environ.update(env)
    reset_settings_cache()


def _outbox() -> int:
    url = os.environ["ROADMAP_DATABASE_URL"]
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]


@attack("misc: database URL with port 99999, status", __name__,
        env={"ROADMAP_DATABASE_URL": "postgresql://u@localhost:99999/db"})
def db_port_too_big(tmp: Path) -> str:
    return cli("status")


@attack("misc: database URL postgresql+asyncpg://, status", __name__,
        env={"ROADMAP_DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1:5432/db"})
def db_async_driver(tmp: Path) -> str:
    return cli("status")


@attack("misc: outbox dismiss 99999999999999999999999", __name__)
def dismiss_huge_id(tmp: Path) -> str:
    _imported()
    return cli("outbox", "dismiss", "99999999999999999999999")


def _templates(tmp: Path, name: str) -> str:
    (tmp / "tpl" / "mail").mkdir(parents=True)
    (tmp / "tpl" / "mail" / name).write_text("{% if %}\n")
    return str(tmp / "tpl")


@attack("misc: broken mail template reminder.subject.j2, remind", __name__)
def broken_reminder_template(tmp: Path) -> str:
    _imported(**SMTP, ROADMAP_TEMPLATE_DIR=_templates(tmp, "reminder.subject.j2"))
    return f"{cli('remind', '--as-of', AS_OF)}; recorded {_outbox()}"


@attack("misc: broken mail template report.subject.j2, run", __name__)
def broken_report_template(tmp: Path) -> str:
    _imported(**SMTP, ROADMAP_TEMPLATE_DIR=_templates(tmp, "report.subject.j2"))
    return f"{cli('run', '--as-of', AS_OF)}; recorded {_outbox()}"


@attack("misc: SMTP refusal with an ESC in its text, remind", __name__)
def smtp_reply_escape(tmp: Path) -> str:
    """A relay of its own (not tests/smtp_fixtures.py, which the older code's copy lacks the option of)."""
    import socket

    from aiosmtpd.controller import Controller

    class Refuse:
        async def handle_RCPT(self, server: object, session: object, envelope: object, address: str,
                              options: list[str]) -> str:
            return "550 no such \x1b[31m user"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    relay = Controller(Refuse(), hostname="127.0.0.1", port=port)
    relay.start()
    try:
        _imported(**{**SMTP, "ROADMAP_SMTP_PORT": str(port)})
        outcome = cli("remind", "--as-of", AS_OF)
    finally:
        relay.stop()
    return f"{outcome.encode('unicode_escape').decode()}; ESC on the terminal: {'yes' if chr(27) in outcome else 'no'}"


@attack("misc: ROADMAP_MAIL_LEASE_SECONDS=inf, remind", __name__)
def lease_inf(tmp: Path) -> str:
    _imported(**SMTP, ROADMAP_MAIL_LEASE_SECONDS="inf")
    return cli("remind", "--as-of", AS_OF)


@attack("misc: ROADMAP_MAIL_FROM with two addresses, remind", __name__)
def mail_from_two(tmp: Path) -> str:
    _imported(**SMTP, ROADMAP_MAIL_FROM='"Bad" <x@y.org>, <z@evil.example>')
    return cli("remind", "--as-of", AS_OF)


@attack("misc: policy escalate_after [3, 99999999999], validate", __name__)
def policy_escalate_huge(tmp: Path) -> str:
    path = tmp / "road.yaml"
    path.write_text(_small().read_text(encoding="utf-8").replace("escalate_after: [3, 10]",
                                                                 "escalate_after: [3, 99999999999]"))
    return cli("validate", str(path))

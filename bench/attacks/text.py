"""Hostile text in roadmap files, forms and mail headers (issue 11, points 3 and 4)."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import uuid
from pathlib import Path

from attacks import attack, cli

SMALL = Path(os.environ.get("ROADMAP_CODE", ".")) / "tests" / "data" / "small.yaml"
PG = "postgresql://postgres@127.0.0.1:5432"  # a database of its own is made for the attack
DAY = "2014-11-10"  # Monday: Alice's Survey is late, the weekly report is due


def _file(tmp: Path, *pairs: tuple[str, str]) -> str:
    text = SMALL.read_text(encoding="utf-8")
    for old, new in pairs:
        text = text.replace(old, new, 1)
    (tmp / "road.yaml").write_text(text, encoding="utf-8")
    return "road.yaml"


def _stdout(*args: str) -> tuple[int, str]:
    """`roadmap ARGS` in a process of its own, as a terminal would get it: (exit code, stdout)."""
    proc = subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout


def _to_of_alice(tmp: Path) -> str:
    """How Python's parser reads the To of the first mail to alice@example.org in the outbox."""
    for path in sorted((tmp / "outbox").glob("*.eml")):
        data = path.read_bytes()
        if b"alice@example.org" in data.split(b"\r\n\r\n", 1)[0]:
            to = email.message_from_bytes(data, policy=email.policy.default)["To"]
            return f"{len(to.addresses)} address(es): " + ", ".join(
                f"{a.display_name[:30]!r} <{a.addr_spec[:20]}>" for a in to.addresses)
    return "no mail to alice"


@attack("text: ESC in a title: import, report", __name__)
def escape_in_title(tmp: Path) -> str:
    name = _file(tmp, ("title: Survey", 'title: "Survey \\e[31mnow"'))
    outcome = cli("import", name)
    return outcome if not outcome.startswith("exit 0") else f"import {outcome}; report {cli('report', '--as-of', DAY)}"


@attack("text: NUL in a name: import on PostgreSQL", __name__)
def nul_on_postgres(tmp: Path) -> str:
    from sqlalchemy import create_engine, text

    from models.db import get_engine, normalise_url

    admin = create_engine(normalise_url(f"{PG}/postgres"), isolation_level="AUTOCOMMIT")
    db = f"attack_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    try:
        return cli("import", _file(tmp, ("name: Alice", 'name: "Ali\\0ce"')), "--db", f"{PG}/{db}")
    finally:
        get_engine(normalise_url(f"{PG}/{db}")).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


@attack("text: 1 MB title: import, remind", __name__)
def megabyte_title(tmp: Path) -> str:
    outcome = cli("import", _file(tmp, ("title: Survey", "title: " + "x" * 1_000_000)))
    if not outcome.startswith("exit 0"):
        return outcome
    cli("remind", "--as-of", DAY)
    largest = max((p.stat().st_size for p in (tmp / "outbox").glob("*.eml")), default=0)
    return f"import {outcome}; largest mail {largest / 1e6:.1f} MB"


@attack("text: ESC in a title: status on the terminal", __name__)
def escape_in_status(tmp: Path) -> str:
    outcome = cli("import", _file(tmp, ("title: Survey", 'title: "Survey \\e[2J\\e]0;owned\\a"')))
    if not outcome.startswith("exit 0"):
        return outcome
    code, out = _stdout("status", "--as-of", DAY)
    return f"import {outcome}; status exit {code}; raw ESC on stdout: {out.count(chr(27))}"


@attack("people: two emails differing in case: validate", __name__)
def case_duplicate(tmp: Path) -> str:
    return cli("validate", _file(tmp, ("email: carol@example.org", "email: Alice@Example.ORG")))


@attack("people: encoded word in a name: To reads as", __name__)
def encoded_word_name(tmp: Path) -> str:
    name = _file(tmp, ("name: Alice", "name: =?utf-8?q?Boss_=3Cboss=40corp=2Eexample=3E?="))
    outcome = cli("import", name)
    if not outcome.startswith("exit 0"):
        return outcome
    cli("remind", "--as-of", DAY)
    return f"To: {_to_of_alice(tmp)}"


@attack("people: long name with a comma: To reads as", __name__)
def long_name_with_comma(tmp: Path) -> str:
    outcome = cli("import", _file(tmp, ("name: Alice", "name: \"" + "Alice" * 20 + ", " + "Smith" * 4 + "\"")))
    if not outcome.startswith("exit 0"):
        return outcome
    cli("remind", "--as-of", DAY)
    return f"To: {_to_of_alice(tmp)}"

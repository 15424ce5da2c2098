"""Hostile text (issue 11, points 3 and 4): characters that break an output and names that
could mislead a mail header are refused with FILE:LINE and key, or written safely.

Each test reproduces an attack that got through before: an escape in a title broke the weekly
DOCX after the reminders went out, a NUL made a PostgreSQL import a "database error", a 1 MB
title went into every mail, two people with one mailbox in different case shared a digest,
and a display name with an encoded word in it read back as another address.
"""

from __future__ import annotations

import email
import email.policy
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from config import Settings
from models.db import session_scope
from models.loader import load_roadmap_text
from models.notify import Digest, Recipient
from models.problems import RoadmapInvalid
from models.schema import Roadmap
from tasks.mail_message import message_bytes
from tasks.render_mail import render_digest
from tasks.roadmap_jobs import import_file
from tests.smtp_fixtures import SmtpRecorder, point_settings_at

SMALL = (Path(__file__).parent / "data" / "small.yaml").read_text(encoding="utf-8")


def small_with(old: str, new: str) -> str:
    assert SMALL.count(old) >= 1, old
    return SMALL.replace(old, new, 1)


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def problems(text: str) -> list[str]:
    with pytest.raises(RoadmapInvalid) as info:
        load_roadmap_text(text, "road.yaml")
    return [p.format() for p in info.value.errors]


# --- control characters, in every kind of text -------------------------------------------

FIELDS = [  # (the text in small.yaml, the key path a problem names)
    ("title: Small roadmap", "roadmap.title"),
    ("place: Moscow", "roadmap.session.place"),
    ("name: Project office", "roadmap.office.name"),
    ("name: VDNKh", "partners[vdnh].name"),
    ("kind: venue", "partners[vdnh].kind"),
    ("formats: [agreement", "partners[vdnh].formats[0]"),
    ("name: Alice", "people[alice].name"),
    ("title: Pavilion", "workstreams[pav].title"),
    ("title: Stage one", "stages[s1].title"),
    ("title: Survey", "tasks[a].title"),
    ("title: Renovation late", "risks[r1].title"),
    ("mitigation: Weekly site meetings", "risks[r1].mitigation"),
]
CHARACTERS = {"ESC": "\\e[31m", "NUL": "\\0", "BEL": "\\a", "C1 NEL": "\\x85", "C1 CSI": "\\x9b",
              "DEL": "\\x7f", "line separator": "\\L", "bidi override": "\\u202e", "carriage return": "\\r"}


@pytest.mark.parametrize("field, path", FIELDS, ids=[p for _, p in FIELDS])
@pytest.mark.parametrize("char", list(CHARACTERS.values()), ids=list(CHARACTERS))
def test_a_control_character_anywhere_is_refused_with_file_line_and_key(field: str, path: str, char: str) -> None:
    key, _, value = field.partition(": ")
    opening = "[" if value.startswith("[") else ""
    text = small_with(field, f'{key}: {opening}"{value.lstrip("[")[:3]}{char}{value.lstrip("[")[3:]}"')
    got = problems(text)  # a broken stage or person also breaks what refers to it
    assert any(p.startswith(f"road.yaml:{line_of(text, char)}: {path}: ") for p in got), got
    assert not any(c in p for p in got for c in "\x1b\x00\x07\x85\x9b\x7f\u2028\u202e\r")


@pytest.mark.parametrize("char", ["\u202e", "\u2028", "\u2066"])
def test_characters_yaml_takes_as_written_are_refused_too(char: str) -> None:
    got = problems(small_with("title: Survey", f"title: Sur{char}vey"))
    assert got[0].startswith("road.yaml:29: tasks[a].title: control and bidi characters are not allowed: U+"), got


def test_a_date_expression_or_duration_with_a_control_character_is_refused() -> None:
    got = problems(small_with("duration: 5}", 'duration: "5\\e[2J"}'))
    assert got and all(p.startswith("road.yaml:29: tasks[a].duration: ") for p in got), got
    assert any("U+001B" in p for p in got)
    got = problems(small_with("end: 2014-11-28}", 'end: "2014-11-28\\0"}'))
    assert any(p.startswith("road.yaml:26: stages[s1].end: ") and "U+0000" in p for p in got), got


def test_titles_and_names_are_one_line_but_notes_may_have_several() -> None:
    got = problems(small_with("title: Survey", 'title: "Survey\\nand plan"'))
    assert got == ["road.yaml:29: tasks[a].title: must be one line: a line break at character 7, "
                   "got 'Survey\\nand plan'"]
    notes = small_with("duration: 5}", 'duration: 5, notes: "Two\\n\\tlines"}')
    block = "  - key: g\n    title: G\n    stage: s2\n    owner: bob\n    duration: 1\n"
    block += "    notes: |\n      Several\n      lines.\n"
    notes = notes.replace("risks:\n", block + "risks:\n", 1)
    task = {t.key: t for t in load_roadmap_text(notes, "road.yaml").doc.tasks}
    assert task["a"].notes == "Two\n\tlines"
    assert task["g"].notes == "Several\nlines."


def test_a_key_written_with_escapes_is_shown_escaped_in_the_problem() -> None:
    got = problems(small_with("{key: b, title", '{key: "b\\e[2J", title'))
    assert got[0].startswith("road.yaml:30: tasks[1].key: "), got
    got = problems(small_with("{key: a, title", '{"x\\e[2J": 1, key: a, title'))
    assert got[0].startswith("road.yaml:29: tasks[a].'x\\x1b[2J': unknown key 'x\\x1b[2J'"), got
    assert not any("\x1b" in p for p in got)


def test_the_weekly_report_attack_an_escape_in_a_title_is_refused_at_import(db_url, tmp_path, monkeypatch) -> None:
    # Before: `roadmap import` took it, and `roadmap report` died in lxml (exit 1) after the
    # day's reminders had gone out.
    path = tmp_path / "road.yaml"
    path.write_text(small_with("title: Survey", 'title: "Survey \\e[31mnow"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["import", "road.yaml", "--db", db_url])
    assert result.exit_code == 2, result.output
    assert "road.yaml:29: tasks[a].title: control and bidi characters are not allowed: U+001B" in result.output
    assert "\x1b" not in result.output
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Roadmap)) == 0


def test_a_nul_in_a_name_is_a_validation_error_not_a_database_error(db_url, tmp_path) -> None:
    # Before: SQLite stored it; PostgreSQL refused the row and the import ended in "database error".
    path = tmp_path / "road.yaml"
    path.write_text(small_with("name: Alice", 'name: "Ali\\0ce"'), encoding="utf-8")
    with pytest.raises(RoadmapInvalid) as info:
        import_file(db_url, path)
    assert [p.format() for p in info.value.errors] == [
        f"{path}:20: people[alice].name: control and bidi characters are not allowed: U+0000 at character 4, "
        "got 'Ali\\x00ce'"]
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Roadmap)) == 0


# --- lengths --------------------------------------------------------------------------------


def test_a_one_megabyte_title_is_refused_quickly() -> None:
    # Before: it validated, and every mail carried it (11.6 MB each).
    start = time.perf_counter()
    got = problems(small_with("title: Survey", "title: " + "x" * 1_000_000))
    assert time.perf_counter() - start < 5
    assert got == ["road.yaml:29: tasks[a].title: String should have at most 300 characters, got "
                   f"'{'x' * 56}..."]


def test_length_limits_titles_300_notes_10000_keys_100() -> None:
    load_roadmap_text(small_with("title: Survey", "title: " + "x" * 300), "road.yaml")
    assert problems(small_with("title: Survey", "title: " + "x" * 301))
    ok = small_with("mitigation: Weekly site meetings", "mitigation: " + "y" * 10_000)
    load_roadmap_text(ok, "road.yaml")
    got = problems(small_with("mitigation: Weekly site meetings", "mitigation: " + "y" * 10_001))
    assert got[0].startswith("road.yaml:42: risks[r1].mitigation: String should have at most 10000 characters")
    assert problems(small_with("{key: a,", "{key: " + "a" * 101 + ","))
    long_email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".org"
    got = problems(small_with("email: carol@example.org", f"email: {long_email}"))
    assert got[0].startswith("road.yaml:22: people[carol].email: String should have at most 254 characters"), got


# --- web forms and CLI options: the same rule --------------------------------------------


def test_a_web_form_note_with_a_control_character_is_a_400_and_changes_nothing(db_url, small_yaml, monkeypatch):
    from tests.test_web import changes, link, make_client, open_page, post, web_env

    web_env(monkeypatch)
    import_file(db_url, small_yaml)
    client = make_client(db_url)
    page = open_page(client, link())
    before = len(changes(db_url, "a"))
    for reason in ("Waiting \x1b[2J", "NUL\x00", "bidi \u202e", "C1 \x9b"):
        assert post(client, "a", page, "blocked", reason=reason).status_code == 400
    assert len(changes(db_url, "a")) == before
    # A textarea's line breaks arrive as CRLF; they are kept as line breaks.
    assert post(client, "a", page, "blocked", reason="Waiting\r\nfor the landlord").status_code == 303
    assert changes(db_url, "a")[-1].note == "Waiting\nfor the landlord"


@pytest.mark.parametrize("args", [
    ["task", "update", "a", "--note", "late \x1b[31m"],
    ["task", "update", "a", "--progress", "10", "--note", "NUL\x00"],
    ["risk", "update", "r1", "--mitigation", "bidi \u202e"],
    ["risk", "update", "r1", "--note", "x" * 10_001],
])
def test_a_cli_note_with_a_control_character_exits_2(db_url, small_yaml, args) -> None:
    import_file(db_url, small_yaml)
    result = CliRunner().invoke(app, [*args, "--db", db_url])
    assert result.exit_code == 2, result.output
    assert "--note" in result.output or "--mitigation" in result.output
    with session_scope(db_url) as s:
        from models.schema import Change
        assert s.scalar(select(func.count()).select_from(Change).where(Change.source == "cli")) == 0


def test_status_and_history_never_send_stored_escapes_or_markup_to_the_terminal(db_url, small_yaml) -> None:
    from models.schema import Change, Task

    import_file(db_url, small_yaml)
    with session_scope(db_url) as s:  # as a database filled before the rule could be
        s.scalar(select(Task).where(Task.key == "a")).title = "Survey [/] \x1b[2J"
        s.add(Change(roadmap_id=s.scalar(select(Roadmap.id)), entity="task", entity_key="a", field="note",
                     source="cli", actor="x\x1b]0;owned\x07", note="[bold]n\x9bote"))
    status = CliRunner().invoke(app, ["status", "--db", db_url, "--as-of", "2014-11-05"])
    assert status.exit_code == 0, status.output
    assert "[/]" in status.output and "\x1b" not in status.output
    history = CliRunner().invoke(app, ["history", "a", "--db", db_url])
    assert history.exit_code == 0, history.output
    assert "[bold]n" in history.output
    assert not any(c in history.output for c in "\x1b\x07\x9b")
    assert CliRunner().invoke(app, ["remind", "--db", db_url, "--as-of", "2014-11-10"]).exit_code == 0
    with session_scope(db_url) as s:
        from models.schema import OutboxMessage
        s.scalars(select(OutboxMessage)).first().subject = "Survey [/] \x1b[2J"
    outbox = CliRunner().invoke(app, ["outbox", "--db", db_url])
    assert outbox.exit_code == 0, outbox.output
    assert "[/]" in outbox.output and "\x1b" not in outbox.output


# --- people: one mailbox, one person ---------------------------------------------------------


def test_two_people_whose_addresses_differ_only_in_case_are_refused() -> None:
    text = small_with("email: carol@example.org", "email: Alice@EXAMPLE.org")
    assert problems(text) == [
        "road.yaml:22: people[carol].email: e-mail address 'Alice@EXAMPLE.org' of 'carol' is already 'alice''s "
        "('alice@example.org', line 20); addresses are compared ignoring case"]


def test_an_internationalised_domain_is_compared_as_dns_sees_it() -> None:
    text = small_with("email: carol@example.org", "email: alice@пример.рф")
    text = text.replace("email: alice@example.org", "email: ALICE@xn--e1afmkfd.xn--p1ai")
    got = problems(text)
    assert len(got) == 1 and got[0].startswith("road.yaml:22: people[carol].email: e-mail address"), got


# --- display names in mail headers -----------------------------------------------------------

NAMES = [
    "O'Brien, Pat",
    "Evil <boss@corp.example>",
    '"Boss" <boss@corp.example>, x',
    "=?utf-8?q?Boss_=3Cboss=40corp=2Eexample=3E?=",
    "Ivan =?utf-8?b?PGJvc3NAY29ycC5leGFtcGxlPg==?=",
    "Team: a@b.example;",
    "Pat \\ (Ops",
    'Пат "Главный", <Офис>',
    "Анастасия Александровна Константинопольская",
    "x" * 120 + ", " + "y" * 100,
    'Иван "Босс" Петров, ' * 14,
]


def parsed(data: bytes, header: str) -> list[tuple[str, str]]:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    value = msg[header]
    assert not value.defects, value.defects
    return [(a.display_name, a.addr_spec) for a in value.addresses]


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_a_display_name_reads_back_as_exactly_that_name_and_one_address(name: str) -> None:
    from tests.test_render_mail import AS_OF, line, mail_kwargs

    name = name.strip()
    digest = Digest(Recipient("ivan@example.org", name, "ivan"), AS_OF, [line("t1", "overdue", days_late=1)])
    data = message_bytes(render_digest(digest, **mail_kwargs()))
    assert parsed(data, "To") == [(name, "ivan@example.org")]
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_the_sender_name_from_the_settings_reads_back_as_given(name: str) -> None:
    from tests.test_render_mail import AS_OF, line, mail_kwargs

    name = name.strip()
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    sender = Settings(mail_from=f'"{quoted}" <robot@example.org>').mail_from
    digest = Digest(Recipient("ivan@example.org", "Иван", "ivan"), AS_OF, [line("t1", "overdue", days_late=1)])
    data = message_bytes(render_digest(digest, **mail_kwargs(sender=sender)))
    assert parsed(data, "From") == [(name, "robot@example.org")]


# --- one clear line per bad value ----------------------------------------------------------


def test_a_raw_control_character_is_named_at_its_line_not_as_a_whole_file_error() -> None:
    text = small_with("due: task.b + 1w", "due: task.b \x1b+ 1w")
    assert problems(text) == [f"road.yaml:{line_of(text, chr(27))}: (yaml): a character U+001B that is not allowed "
                              "in a YAML file (a control character?); remove it"]


def test_a_value_that_fails_its_own_type_is_not_also_said_to_be_no_date() -> None:
    text = small_with("due: task.b + 1w", "due: task.b + " + "9" * 120 + "d")
    found = problems(text)
    assert len(found) == 1 and "at most 100 characters" in found[0], found


def test_a_date_is_quoted_as_the_file_writes_it() -> None:
    found = problems(small_with("session: {date: 2014-10-27", "session: {date: 9999-12-31"))
    assert found == ["road.yaml:6: roadmap.session: Input should be less than or equal to 2199-12-31, got 9999-12-31"]


# -- text that comes from elsewhere: an SMTP server's reply, a path given on the command line --


def test_an_smtp_refusal_with_an_escape_in_it_reaches_the_terminal_defused(db_url, small_yaml, monkeypatch) -> None:
    """A relay answers RCPT with `550 no such <ESC>[31m user`: the failure line quotes the
    reply, and the terminal gets U+FFFD, not a colour change."""
    import_file(db_url, small_yaml)
    with SmtpRecorder(refuse={"alice@example.org"}, refusal="550 no such \x1b[31m user") as server:
        point_settings_at(server, monkeypatch)
        result = CliRunner().invoke(app, ["remind", "--as-of", "2014-11-10", "--db", db_url])
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\x1b" not in result.stderr
    assert "no such \ufffd[31m user" in result.stderr, result.stderr


def test_report_out_path_with_an_escape_is_echoed_defused(db_url, small_yaml, tmp_path) -> None:
    import_file(db_url, small_yaml)
    out = tmp_path / "week\x1b[2J.docx"
    result = CliRunner().invoke(app, ["report", "--as-of", "2014-11-10", "--out", str(out), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "\x1b" not in result.output and "week\ufffd[2J.docx" in result.stdout


def test_the_cli_and_the_web_page_share_one_done_on_rule_and_one_note_limit() -> None:
    """One rule, one place: the "more than a year before the session" bound is models/dates.py's,
    the web form's note limit is models/text.py's, and each module that checks them uses those."""
    import models.dates
    import models.text
    import models.updates
    import web.actions

    assert models.updates.DONE_BEFORE_SESSION_DAYS is web.actions.DONE_BEFORE_SESSION_DAYS \
        is models.dates.DONE_BEFORE_SESSION_DAYS == 366
    assert web.actions.MAX_FORM_NOTE is models.text.MAX_FORM_NOTE == 2_000
    for module in (models.updates, web.actions):
        assert "days=366" not in Path(module.__file__).read_text(encoding="utf-8")

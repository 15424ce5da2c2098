"""`roadmap report --portfolio`: one DOCX of every active roadmap for the head of the office,
mailed once per address and week to ROADMAP_PORTFOLIO_REPORT_TO, and by `roadmap run` on the
office's report day. Real SQLite and PostgreSQL, a real SMTP server, the DOCX read back."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from datetime import date
from pathlib import Path

import docx
import pytest
from sqlalchemy import select

from config import reset_settings_cache
from models.db import session_scope
from models.schema import Risk, Roadmap
from tasks.outbox_admin import list_messages
from tasks.roadmap_jobs import portfolio_status
from tests.test_portfolio import add_roadmap, break_calendar, cli

DAY = "2014-11-20"  # a Thursday: the week reported is 13-19 November, 2014-W47
BOSS, DEPUTY = "boss@office.example.org", "Deputy Head <deputy@office.example.org>"


def report_path(tmp_path: Path, week: str = "2014-W47") -> Path:
    return tmp_path / "reports" / f"portfolio-{week}.docx"  # ROADMAP_REPORTS_DIR of tests/conftest.py


def table_rows(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[c.text for c in row.cells] for row in table.rows]


def heading1(document) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.text for p in document.paragraphs if p.style.name == "Heading 1"]


def set_recipients(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ROADMAP_PORTFOLIO_REPORT_TO", value)
    reset_settings_cache()


def test_the_docx_holds_the_portfolio_rows_the_risk_heat_map_and_a_page_per_roadmap(db_url, tmp_path):
    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    result = cli("report", "--portfolio", "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 0, result.output
    path = report_path(tmp_path)
    assert result.stdout.strip() == str(path)
    document = docx.Document(str(path))
    summary, heat = document.tables[0], document.tables[1]

    # The summary table: a row per portfolio row, in its order, with its figures.
    rows = portfolio_status(db_url, date(2014, 11, 20))["roadmaps"]
    body = table_rows(summary)[1:]
    assert [r[0] for r in body] == [row["key"] for row in rows] == ["alpha", "beta"]
    for cells, row in zip(body, rows, strict=True):
        assert cells[1] == row["title"]
        assert cells[2] == {"red": "Красный", "amber": "Жёлтый", "green": "Зелёный"}[row["rag"]]
        assert cells[3] == f"{row['done']}/{row['tasks']}" and cells[4] == str(row["overdue"])
        assert cells[7] == ("0" if row["slip"] == 0 else f"{row['slip']:+d}")
        assert cells[9].startswith(f"{row['worst_risk']['score']} {row['worst_risk']['key']}")

    # The heat map: every roadmap's risks that are not closed, counted by probability x impact.
    with session_scope(db_url) as session:
        live = Counter((p, i) for p, i in session.execute(
            select(Risk.probability, Risk.impact).where(Risk.status != "closed", Risk.archived.is_(False))))
    grid = table_rows(heat)
    assert grid[0][1:] == ["1", "2", "3", "4", "5"] and [r[0] for r in grid[1:]] == ["5", "4", "3", "2", "1"]
    shown = {(int(r[0]), i): int(n) for r in grid[1:] for i, n in enumerate(r[1:], 1) if n}
    assert shown == dict(live) and sum(shown.values()) >= 2

    # A page per roadmap: its heading, its figures, its late tasks.
    titles = {row["key"]: row["title"] for row in rows}
    assert heading1(document)[-2:] == [f"alpha — {titles['alpha']}", f"beta — {titles['beta']}"]
    facts = [table_rows(t) for t in document.tables[2:] if len(t.columns) == 2]
    assert [f[1][1] for f in facts] == [f"{row['done']} / {row['tasks']}" for row in rows]
    late = [table_rows(t)[1:] for t in document.tables[2:] if len(t.columns) == 6]
    assert [len(t) for t in late] == [min(row["overdue"], 8) for row in rows if row["overdue"]]
    assert all(int(r[4]) > 0 for t in late for r in t)  # days late, the latest first
    assert all([int(r[4]) for r in t] == sorted((int(r[4]) for r in t), reverse=True) for t in late)
    header = document.sections[0].header.paragraphs[0].text
    assert header.startswith("Портфель дорожных карт — ") and "ноября 2014" in header
    assert "стр." in document.sections[0].footer.paragraphs[0].text


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is needed to count pages")
def test_each_roadmap_takes_at_most_one_page(db_url, tmp_path):
    """The large example (124 keys, many late tasks a year on) and two small ones: laid out by
    LibreOffice, the PDF has the summary's pages and then exactly one page per roadmap."""
    example = Path(__file__).resolve().parent.parent / "examples" / "open-workshop-moscow.yaml"
    from tasks.roadmap_jobs import import_file

    assert import_file(db_url, example).created
    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    with session_scope(db_url) as session:
        keys = list(session.scalars(select(Roadmap.key).order_by(Roadmap.key)))
    result = cli("report", "--portfolio", "--as-of", "2015-03-02", "--db", db_url)
    assert result.exit_code == 0, result.output
    path = report_path(tmp_path, "2015-W09")
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                   check=True, capture_output=True, timeout=120)
    pdf = (tmp_path / path.with_suffix(".pdf").name).read_bytes()
    pages = pdf.count(b"/Type/Page\n") + pdf.count(b"/Type /Page\n") + pdf.count(b"/Type/Page/") \
        + pdf.count(b"/Type /Page/") + pdf.count(b"/Type/Page>") + pdf.count(b"/Type /Page>")
    assert pages == 1 + len(keys), pages  # one landscape page of summary and heat map, then one each


def test_a_failed_row_is_shown_as_such_and_the_command_exits_1_naming_it(db_url, tmp_path):
    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    break_calendar(db_url, "alpha")
    result = cli("report", "--portfolio", "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 1, result.output
    assert ("the status failed for 1 of 2 roadmap(s): alpha (UnknownCalendar: unknown calendar 'XX')"
            in result.stderr), result.output
    assert "Traceback" not in result.output
    document = docx.Document(str(report_path(tmp_path)))
    alpha, beta = table_rows(document.tables[0])[1:]
    assert alpha[0] == "alpha" and alpha[2] == "ошибка" and "unknown calendar 'XX'" in alpha[8]
    assert beta[0] == "beta" and beta[2] == "Красный"
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Не удалось рассчитать состояние этой дорожной карты: UnknownCalendar" in text


def test_a_portfolio_of_one(db_url, tmp_path):
    add_roadmap(db_url, tmp_path, "solo")
    result = cli("report", "--portfolio", "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 0, result.output
    document = docx.Document(str(report_path(tmp_path)))
    assert [r[0] for r in table_rows(document.tables[0])[1:]] == ["solo"]
    assert heading1(document)[-1].startswith("solo — ")


def test_send_mails_each_address_once_per_week_with_the_docx(db_url, tmp_path, smtp_env, monkeypatch):
    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    set_recipients(monkeypatch, f"{BOSS}, {DEPUTY}, BOSS@office.example.org")  # the same address twice: once
    result = cli("report", "--portfolio", "--send", "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "recorded 2, skipped as already sent this week 0; delivered 2, failed 0" in result.stdout
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_env.messages) == [
        "boss@office.example.org", "deputy@office.example.org"]
    mail = next(m for m in smtp_env.messages if "deputy" in m["To"])
    assert "47" in mail["Subject"] and "2014" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert "Дорожных карт: 2; красных: 2, жёлтых: 0, зелёных: 0." in text, text
    assert "\n- alpha «" in text and "\n- beta «" in text  # the worst roadmaps, a line each
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "portfolio-2014-W47.docx"
    assert attachment.get_content() == report_path(tmp_path).read_bytes()

    rows = list_messages(db_url)
    office = [m for m in rows if m.kind == "portfolio"]
    assert {(m.roadmap_id, m.dedup_key, m.status) for m in office} == {
        (None, "portfolio-report:boss@office.example.org:2014-W47", "sent"),
        (None, "portfolio-report:deputy@office.example.org:2014-W47", "sent")}

    # Again the same week (another day of it): nothing new is sent.
    again = cli("report", "--portfolio", "--send", "--as-of", DAY, "--db", db_url)
    assert again.exit_code == 0, again.output
    assert "recorded 0, skipped as already sent this week 2; delivered 0, failed 0" in again.stdout
    assert len(smtp_env.messages) == 2


def test_office_messages_in_the_outbox_commands(db_url, tmp_path, smtp_env, monkeypatch):
    """A portfolio message refused by the server: listed by `roadmap outbox` (not under a
    roadmap's --roadmap), failed at the end of the command (exit 1), sent by `outbox retry`;
    another refused one is dismissed by id; archiving a roadmap leaves them alone."""
    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    set_recipients(monkeypatch, f"{BOSS}, {DEPUTY}")
    smtp_env.refuse.update({BOSS, "deputy@office.example.org"})
    result = cli("report", "--portfolio", "--send", "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 1, result.output
    assert "failed 2" in result.stdout
    listing = cli("outbox", "--status", "failed", "--db", db_url)
    assert listing.exit_code == 0, listing.output
    assert BOSS in listing.stdout and "deputy@office.example" in listing.stdout  # cut to the width
    assert cli("outbox", "--roadmap", "alpha", "--status", "failed", "--db", db_url).stdout.count("office.example") == 0
    by_kind = cli("outbox", "--kind", "portfolio", "--format", "json", "--db", db_url)
    assert by_kind.exit_code == 0, by_kind.output
    assert sorted(m["dedup_key"] for m in json.loads(by_kind.stdout)) == [
        "portfolio-report:boss@office.example.org:2014-W47", "portfolio-report:deputy@office.example.org:2014-W47"]
    assert cli("archive", "alpha", "--db", db_url).exit_code == 0
    assert {m.status for m in list_messages(db_url, kind="portfolio")} == {"failed"}

    deputy = next(m.id for m in list_messages(db_url, kind="portfolio") if m.recipient.startswith("deputy"))
    assert cli("outbox", "dismiss", str(deputy), "--db", db_url).exit_code == 0
    smtp_env.refuse.clear()
    retry = cli("outbox", "retry", "--db", db_url)
    assert retry.exit_code == 0, retry.output
    status = {m.recipient: m.status for m in list_messages(db_url, kind="portfolio")}
    assert status == {BOSS: "sent", "deputy@office.example.org": "dismissed"}
    assert [m["To"].addresses[0].addr_spec for m in smtp_env.messages if "office.example" in str(m["To"])] == [BOSS]


def test_roadmap_run_sends_it_on_the_report_day_or_the_first_run_after(db_url, tmp_path, smtp_env, monkeypatch):
    """Monday is the default report day. A run on Tuesday 18 November catches up the report of
    Monday 17 (week 46); the runs after it send nothing more that week; Monday 24 sends week 47."""
    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")

    def office_mail() -> list[str]:
        return [m["Subject"] for m in smtp_env.messages if "office.example" in str(m["To"])]

    assert cli("run", "--as-of", "2014-11-18", "--db", db_url).exit_code == 0  # no list: no portfolio report
    assert office_mail() == [] and list_messages(db_url, kind="portfolio") == []

    set_recipients(monkeypatch, BOSS)
    result = cli("run", "--as-of", "2014-11-19", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "(portfolio) 2014-11-17 portfolio: planned 1, recorded 1" in result.stdout
    assert report_path(tmp_path, "2014-W46").is_file()
    assert len(office_mail()) == 1
    (row,) = list_messages(db_url, kind="portfolio")
    assert (row.roadmap_id, row.dedup_key) == (None, f"portfolio-report:{BOSS}:2014-W46")

    result = cli("run", "--as-of", "2014-11-21", "--db", db_url)
    assert result.exit_code == 0 and "(portfolio)" not in result.stdout and len(office_mail()) == 1
    result = cli("run", "--as-of", "2014-11-24", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "(portfolio) 2014-11-24 portfolio: planned 1, recorded 1" in result.stdout
    assert len(office_mail()) == 2 and report_path(tmp_path, "2014-W47").is_file()


def test_bad_input_is_refused_before_anything_is_written(db_url, tmp_path, monkeypatch):
    add_roadmap(db_url, tmp_path, "alpha")
    result = cli("report", "--portfolio", "--roadmap", "alpha", "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 2 and "--portfolio" in result.stderr and "--roadmap" in result.stderr
    result = cli("report", "--portfolio", "--send", "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 2 and "ROADMAP_PORTFOLIO_REPORT_TO is empty" in result.stderr, result.output
    set_recipients(monkeypatch, f"{BOSS}, boss at office")
    result = cli("report", "--portfolio", "--send", "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        "error: ROADMAP_PORTFOLIO_REPORT_TO: not a valid e-mail address: 'boss at office'"]
    assert not (tmp_path / "reports").exists()
    assert list_messages(db_url) == []


def test_the_office_day_is_today_in_roadmap_office_timezone(monkeypatch):
    """UTC+14 and UTC-11 are 25 hours apart: at any moment their dates differ, and each is the
    date there now; unset, the machine's date."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from config import Settings

    east, west = Settings(office_timezone="Pacific/Kiritimati"), Settings(office_timezone="Pacific/Pago_Pago")
    assert east.office_today() > west.office_today()
    assert east.office_today() == datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    assert Settings(office_timezone=" ").office_timezone is None
    assert Settings().office_today() == date.today()

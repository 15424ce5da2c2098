"""The week a report covers (issue 12, point 2), the day it may be made as of, and its PDF
(point 6): Monday 18 May 2015 writes week 20 (11-17 May); a report before the session is
refused; `--pdf` and `--out x.pdf` write a real PDF with LibreOffice."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from docx import Document

from models.report_data import ReportContext
from models.report_rules import report_week
from models.report_words import format_period
from tasks.notify_jobs import deliver_pending, plan_reminders, record_plan
from tasks.outbox_admin import list_messages
from tasks.report_jobs import report_dedup_key, report_due, snapshots, write_weekly_report
from tasks.roadmap_jobs import change_task, import_file
from tests.smtp_fixtures import smtp_env_vars

ROOT = Path(__file__).resolve().parent.parent
MONDAY = dt.date(2015, 5, 18)
needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None,
                                   reason="LibreOffice (soffice) is not installed on this machine")


@pytest.fixture
def url(db_url, small_yaml):
    import_file(db_url, small_yaml)
    return db_url


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    full.update(env or {}, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=300)


def test_the_report_of_monday_18_may_2015_is_week_20_from_11_to_17_may():
    week = report_week(MONDAY)
    assert (week.start, week.end, week.label) == (dt.date(2015, 5, 11), dt.date(2015, 5, 17), "2015-W20")
    assert report_week(dt.date(2015, 5, 19)).label == "2015-W21"  # Tuesday: 12-18 May, ends in week 21
    assert report_week(dt.date(2015, 5, 25)).label == "2015-W21"  # next Monday: 18-24 May
    assert report_week(dt.date(2015, 1, 5)).label == "2015-W01"  # 29 Dec 2014 - 4 Jan 2015
    assert report_week(dt.date(2021, 1, 4)).label == "2020-W53"
    # The mail's dedup key follows the same week: one mail per recipient for 18 May, however
    # often it is sent that day, and a new one on the next report day.
    assert report_dedup_key("Boss@Example.org", MONDAY) == "report:boss@example.org:2015-W20"
    assert report_dedup_key("boss@example.org", dt.date(2015, 5, 25)) == "report:boss@example.org:2015-W21"
    assert format_period(week.start, week.end, "ru") == "11–17 мая 2015 г."
    assert format_period(week.start, week.end, "en") == "11–17 May 2015"
    assert format_period(dt.date(2015, 4, 27), dt.date(2015, 5, 3), "ru") == "27 апреля – 3 мая 2015 г."


def test_monday_18_may_reports_what_was_done_and_sent_from_11_to_17_may(url):
    change_task(url, None, "a", status="done", on=dt.date(2015, 5, 12))  # Tuesday: this week
    change_task(url, None, "c", status="done", on=dt.date(2015, 5, 18))  # the report day: next week's
    for day in (dt.date(2015, 5, 8), dt.date(2015, 5, 14), MONDAY):  # Friday before, Thursday, Monday
        record_plan(url, plan_reminders(url, None, day))
    assert deliver_pending(url).failed == 0
    thursday = sum(1 for m in list_messages(url, kind="reminder") if m.as_of == dt.date(2015, 5, 14))
    assert thursday > 0

    path = write_weekly_report(url, None, MONDAY)
    assert path.name == "small-2015-W20.docx"
    text = [p.text for p in Document(str(path)).paragraphs]
    nbsp = "\u00a0"
    assert f"Отчётный период: 20-я неделя 2015 года, 11–17 мая 2015{nbsp}г." in text
    assert f"Состояние на 18 мая 2015{nbsp}г." in text
    (snapshot,) = snapshots(url, None)
    assert (snapshot.iso_year, snapshot.iso_week, snapshot.as_of) == (2015, 20, MONDAY)
    ctx = ReportContext.from_dict(snapshot.context)
    assert (ctx.week_start, ctx.week_end) == (dt.date(2015, 5, 11), dt.date(2015, 5, 17))
    assert ctx.summary.done_this_week == 1  # a (12 May); not c (18 May), not e (2014)
    assert ctx.summary.tasks_done == 3  # the status as of 18 May: a, c and e are done
    assert ctx.messages.reminders_sent == thursday  # Thursday's; not Friday 8 nor Monday 18 May's
    summary_rows = {row.cells[0].text: row.cells[1].text for row in Document(str(path)).tables[0].rows}
    assert summary_rows["Завершено за неделю"] == "1 задача"

    # A second run for the same week (Wednesday 13 May ends in week 20 too) replaces it.
    again = write_weekly_report(url, None, dt.date(2015, 5, 13))
    assert again == path and [s.id for s in snapshots(url, None)] == [snapshot.id]
    # The next week's report counts c, done on 18 May, among its changes; week 20's did not.
    assert ctx.changes is None  # the first report of the roadmap
    write_weekly_report(url, None, MONDAY)
    nxt = write_weekly_report(url, None, dt.date(2015, 5, 25))
    assert nxt.name == "small-2015-W21.docx"
    later = ReportContext.from_dict(snapshots(url, None)[-1].context)
    assert later.changes is not None and [c.key for c in later.changes.completed] == ["c"]
    assert later.summary.done_this_week == 1


def test_changes_of_week_20_leave_out_a_task_done_on_the_report_day(url):
    write_weekly_report(url, None, dt.date(2015, 5, 11))  # week 19
    change_task(url, None, "a", status="done", on=dt.date(2015, 5, 12))
    change_task(url, None, "c", status="done", on=MONDAY)
    write_weekly_report(url, None, MONDAY)
    ctx = ReportContext.from_dict(snapshots(url, None)[-1].context)
    assert ctx.changes is not None and [c.key for c in ctx.changes.completed] == ["a"]


def test_a_missed_report_day_is_caught_up_as_of_that_day_and_never_before_the_session(url):
    assert report_due(url, None, MONDAY) == MONDAY  # the report day (small: monday)
    assert report_due(url, None, dt.date(2015, 5, 20)) == MONDAY  # Wednesday, Monday missed
    write_weekly_report(url, None, MONDAY)
    assert report_due(url, None, dt.date(2015, 5, 20)) is None  # week 20 is written
    assert report_due(url, None, MONDAY) == MONDAY  # rewritten on the day; sent once (dedup)
    # The session is Monday 27 Oct 2014: nothing is due before it, even as a catch-up.
    assert report_due(url, None, dt.date(2014, 10, 24)) is None
    assert report_due(url, None, dt.date(2014, 10, 27)) == dt.date(2014, 10, 27)


def test_a_report_for_a_day_before_the_session_is_refused_in_one_line(url, tmp_path):
    out = cli("report", "--as-of", "2014-10-26", "--db", url, cwd=tmp_path,
              env={"ROADMAP_REPORTS_DIR": str(tmp_path / "reports")})
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == ("error: --as-of: 2014-10-26 is before the session (2014-10-27); "
                                  "a report is made as of the session day or later")
    assert not (tmp_path / "reports").exists() and snapshots(url, None) == []


def test_pdf_without_libreoffice_is_one_line_and_writes_nothing(url, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {"PATH": str(empty), "ROADMAP_REPORTS_DIR": str(tmp_path / "reports")}
    for args in (["--pdf"], ["--out", str(tmp_path / "x.pdf")]):
        out = cli("report", "--as-of", "2014-11-10", *args, "--db", url, cwd=tmp_path, env=env)
        assert out.returncode == 2, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
        assert "needs LibreOffice (soffice), which is not installed" in out.stderr
        assert out.stderr.startswith(f"error: {args[0]}: ")
    assert not (tmp_path / "reports").exists() and not list(tmp_path.glob("x.*")) and snapshots(url, None) == []


def test_a_conversion_that_hangs_is_stopped_and_said_in_one_line(tmp_path, monkeypatch):
    from tasks.report_pdf import PdfConversionFailed, convert_to_pdf

    fake = tmp_path / "bin" / "soffice"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n{shutil.which('sleep')} 60 &\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    docx = tmp_path / "r.docx"
    docx.write_bytes(b"PK")
    started = time.monotonic()
    with pytest.raises(PdfConversionFailed, match=r"did not convert .* within 1 s"):
        convert_to_pdf(docx, tmp_path / "r.pdf", why="--pdf", timeout=1)
    assert time.monotonic() - started < 20  # its child (sleep 60) was stopped with it
    fake.write_text("#!/bin/sh\necho 'Error: source file could not be loaded'\nexit 1\n")
    with pytest.raises(PdfConversionFailed, match="exit 1.*source file could not be loaded"):
        convert_to_pdf(docx, tmp_path / "r.pdf", why="--pdf")
    assert not (tmp_path / "r.pdf").exists()


@needs_soffice
def test_pdf_is_written_beside_the_docx(url, tmp_path):
    reports = tmp_path / "reports"
    out = cli("report", "--as-of", "2014-11-10", "--pdf", "--db", url, cwd=tmp_path,
              env={"ROADMAP_REPORTS_DIR": str(reports)})
    assert out.returncode == 0, out.stderr
    docx, pdf = reports / "small-2014-W45.docx", reports / "small-2014-W45.pdf"
    assert out.stdout.splitlines() == [str(docx), str(pdf)]
    assert docx.read_bytes()[:2] == b"PK" and pdf.read_bytes()[:5] == b"%PDF-"


@needs_soffice
def test_out_with_a_pdf_name_writes_the_pdf_there_and_the_docx_beside_it(url, tmp_path):
    target = tmp_path / "out" / "weekly.pdf"
    out = cli("report", "--as-of", "2014-11-10", "--out", str(target), "--db", url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(target.with_suffix(".docx")), str(target)]
    assert target.read_bytes()[:5] == b"%PDF-"  # never a DOCX under a .pdf name
    assert target.with_suffix(".docx").read_bytes()[:2] == b"PK"


@needs_soffice
def test_the_pdf_setting_attaches_both_files_to_the_weekly_mail(url, smtp_server, tmp_path):
    env = {
        **smtp_env_vars(smtp_server),
        "ROADMAP_REPORTS_DIR": str(tmp_path / "reports"), "ROADMAP_REPORT_PDF": "true",
    }
    out = cli("run", "--as-of", "2014-11-10", "--db", url, cwd=tmp_path, env=env)  # the daily cycle
    assert out.returncode == 0, out.stderr
    reports = [m for m in smtp_server.messages if m["Subject"].startswith("Еженедельный отчёт")]
    assert len(reports) == 2
    for message in reports:
        files = {a.get_filename(): a for a in message.iter_attachments()}
        assert set(files) == {"small-2014-W45.docx", "small-2014-W45.pdf"}
        assert files["small-2014-W45.pdf"].get_content_type() == "application/pdf"
        assert files["small-2014-W45.pdf"].get_payload(decode=True)[:5] == b"%PDF-"
        assert "Во вложении: small-2014-W45.docx, small-2014-W45.pdf." in message.get_body(("plain",)).get_content()



@needs_soffice
def test_the_report_mail_carries_the_pdf_its_run_wrote_without_the_setting(url, smtp_server, tmp_path):
    env = {
        **smtp_env_vars(smtp_server),
        "ROADMAP_REPORTS_DIR": str(tmp_path / "reports"),
    }
    out = cli("report", "--as-of", "2014-11-10", "--send", "--pdf", "--db", url, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert len(smtp_server.messages) == 2
    for message in smtp_server.messages:
        assert {a.get_filename() for a in message.iter_attachments()} == {"small-2014-W45.docx", "small-2014-W45.pdf"}

"""The weekly report from the database: import, write, read back with python-docx, week over
week changes from the snapshot, and `roadmap report --send` through a real SMTP server."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from config import reset_settings_cache
from models.report_data import ReportContext
from models.schema import Roadmap
from models.spec import Policy
from tasks.outbox_admin import list_messages
from tasks.report_jobs import DOCX_CONTENT_TYPE, snapshots, write_weekly_report
from tasks.roadmap_jobs import change_task, import_file
from tests.smtp_fixtures import smtp_env_vars

ROOT = Path(__file__).resolve().parent.parent
WEEK46 = dt.date(2014, 11, 10)  # Monday of ISO week 46: its report is week 45's (3-9 Nov)
WEEK47 = dt.date(2014, 11, 17)  # week 46's report (10-16 Nov)

H_OVERDUE = "Просроченные и заблокированные задачи"
H_UPCOMING = "Ближайшие две недели"
H_HEATMAP = "Тепловая карта: вероятность × влияние"
H_CHANGES = "Изменения с прошлого отчёта"
H_PARTNERS = "Партнёры"
H_WORKSTREAMS = "Направления работ"
H_MESSAGES = "Напоминания и эскалации за неделю"


def sections(path: Path) -> dict[str, dict[str, list]]:
    """Heading text -> {"paragraphs": [...], "tables": [[row cells' texts], ...]} in order."""
    doc = Document(str(path))
    out: dict[str, dict[str, list]] = {"": {"paragraphs": [], "tables": []}}
    current = ""
    for el in doc.element.body.iterchildren():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(el, doc)
            if p.style is not None and p.style.name.startswith("Heading"):
                current = p.text
                out.setdefault(current, {"paragraphs": [], "tables": []})
            elif p.text.strip():
                out[current]["paragraphs"].append(p.text)
        elif tag == "tbl":
            out[current]["tables"].append([[c.text for c in row.cells] for row in Table(el, doc).rows])
    return out


def keyed_rows(table: list[list[str]], key_column: int = 0) -> dict[str, list[str]]:
    """Data rows by the text of their key column (group rows, whose cells repeat one
    merged text, and the header are left out)."""
    return {row[key_column]: row for row in table[1:] if len(set(row)) > 1}


@pytest.fixture
def url(db_url, small_yaml):
    import_file(db_url, small_yaml)
    return db_url


def edited_small(small_yaml: Path, tmp_path: Path) -> Path:
    """The small roadmap re-issued: c's deadline moved a week, r2 closed, a new risk r3."""
    text = small_yaml.read_text()
    text = text.replace("due: 2014-11-07}", "due: 2014-11-14}")
    text = text.replace(
        "mitigation: Schools programme}",
        "mitigation: Schools programme, status: closed}\n"
        "  - {key: r3, title: Contractor bankrupt, owner: bob, probability: 3, impact: 5}",
    )
    assert text != small_yaml.read_text()
    path = tmp_path / "small-v2.yaml"
    path.write_text(text)
    return path


def test_escalation_level_thresholds():
    policy = Policy(escalate_after=[3, 10])
    assert [policy.escalation_level(n) for n in (0, 1, 2, 3, 9, 10, 30)] == [0, 0, 0, 1, 1, 2, 2]
    assert Policy.of(Roadmap(policy={})).escalation_level(3) == 1  # the defaults are Policy's


def test_first_report_then_changes_week_over_week(url, small_yaml, tmp_path):
    path = write_weekly_report(url, None, WEEK46)
    assert path == Path(os.environ["ROADMAP_REPORTS_DIR"]) / "small-2014-W45.docx"
    doc = sections(path)

    # a (due 5 Nov) and c (due 7 Nov) are overdue on 10 Nov; b is due that very day.
    overdue = keyed_rows(doc[H_OVERDUE]["tables"][0])
    assert set(overdue) == {"a", "c"}
    assert overdue["a"][3] == "3" and overdue["a"][4] == "1 (руководитель)"  # 3 business days: level 1
    assert overdue["c"][3] == "1" and overdue["c"][4] == "—"
    assert overdue["c"][2] == "07.11.2014"  # its due date: the partner is in the partners section
    # c's partner: its formats, one open task, late
    assert doc[H_PARTNERS]["tables"][0][1:] == [
        ["VDNKh", "agreement", "1", "1", "c Agreement — просрочка 1 раб. дн."]]
    # a is the Pavilion workstream's only task, late, expected today at the earliest
    assert doc[H_WORKSTREAMS]["tables"][0][1:] == [["Pavilion", "1", "0", "1", "10.11.2014"]]
    groups = [row[0] for row in doc[H_OVERDUE]["tables"][0][1:] if len(set(row)) == 1]
    assert groups == ["Alice — 1 задача", "Bob — 1 задача"]  # grouped by owner, worst first

    upcoming = keyed_rows(doc[H_UPCOMING]["tables"][0], key_column=1)
    assert set(upcoming) == {"b", "d"}  # b due today, d on 17 Nov; f (1 Dec) is beyond two weeks
    assert upcoming["b"][0] == "10.11.2014" and upcoming["b"][3] == "Alice"

    heat = doc[H_HEATMAP]["tables"][0]
    grid = {int(row[0]): row[1:] for row in heat[1:]}
    assert grid[4][4 - 1] == "1"  # r1: probability 4 x impact 4
    assert grid[2][2 - 1] == "1"  # r2: 2 x 2
    assert sum(int(c) for row in grid.values() for c in row if c) == 2

    assert doc[H_CHANGES]["paragraphs"] == [
        "Это первый отчёт по дорожной карте: предыдущего отчёта для сравнения нет."
    ]
    document = Document(str(path))
    assert len(document.inline_shapes) == 1  # the Gantt chart
    assert "Еженедельный отчёт о ходе дорожной карты" in doc[""]["paragraphs"]
    assert len(snapshots(url, None)) == 1

    # The week after: a was finished on 12 Nov, and the file was re-issued.
    change_task(url, None, "a", status="done", on=dt.date(2014, 11, 12))
    report = import_file(url, edited_small(small_yaml, tmp_path))
    assert {m.key for m in report.moved} >= {"c"}
    path47 = write_weekly_report(url, None, WEEK47)
    assert path47.name == "small-2014-W46.docx"
    doc = sections(path47)
    changes = doc[H_CHANGES]["tables"][0]
    rows = {(row[0], row[1]): row for row in changes[1:]}
    assert ("Завершена", "a") in rows
    assert rows[("Перенесён срок", "c")][3] == "07.11.2014 → 14.11.2014"
    assert rows[("Перенесён срок", "b")][3] == "10.11.2014 → 17.11.2014"  # after a, finished late
    assert ("Перенесён срок", "e") not in rows  # done tasks' dates are not news
    assert ("Новый риск", "r3") in rows and ("Риск закрыт", "r2") in rows
    assert set(keyed_rows(doc[H_OVERDUE]["tables"][0])) == {"c"}
    # a done: the workstream counts it done and nothing late; c, moved to 14 Nov, is late again
    assert doc[H_WORKSTREAMS]["tables"][0][1][:4] == ["Pavilion", "1", "1", "0"]
    assert doc[H_PARTNERS]["tables"][0][1][2:4] == ["1", "1"]

    # The snapshot holds the context as rendered; the same week again replaces it in place.
    before = snapshots(url, None)
    assert [(s.iso_year, s.iso_week) for s in before] == [(2014, 45), (2014, 46)]
    ctx = ReportContext.from_dict(before[-1].context)
    assert ctx.changes is not None and [c.key for c in ctx.changes.completed] == ["a"]
    # Friday 14 Nov: the report of the seven days before it is week 46's too (13 Nov is in it).
    again = write_weekly_report(url, None, dt.date(2014, 11, 14), out=tmp_path / "again.docx")
    after = snapshots(url, None)
    assert len(after) == 2
    assert after[-1].id == before[-1].id and after[-1].as_of == dt.date(2014, 11, 14)
    # Regenerated from unchanged data: the same text apart from the generated time.
    same = write_weekly_report(url, None, dt.date(2014, 11, 14), out=tmp_path / "same.docx")

    def text(p: Path) -> list[str]:
        return [x.text for x in Document(str(p)).paragraphs if not x.text.startswith("Сформирован")]

    assert text(again) == text(same)


def test_settings_max_rows_and_out_path(url, tmp_path, monkeypatch):
    monkeypatch.setenv("ROADMAP_REPORT_MAX_ROWS", "1")
    reset_settings_cache()
    path = write_weekly_report(url, "small", WEEK46, out=tmp_path / "sub" / "r.docx")
    assert path == tmp_path / "sub" / "r.docx" and path.exists()
    doc = sections(path)
    assert "… и ещё 1 — полный список в приложении." in doc[H_UPCOMING]["paragraphs"]
    assert "Приложение. Полные списки" in doc


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    full.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=180)


def test_cli_report_send_once_per_recipient_and_week(url, smtp_server, tmp_path):
    env = {
        **smtp_env_vars(smtp_server),
        "ROADMAP_REPORTS_DIR": str(tmp_path / "reports"),
    }
    out = _cli("report", "--as-of", "2014-11-10", "--send", "--db", url, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    path = tmp_path / "reports" / "small-2014-W45.docx"  # Monday 10 Nov: the week of 3-9 Nov
    assert out.stdout.splitlines()[0] == str(path)
    assert "delivered 2" in out.stdout
    got = {m["To"].addresses[0].addr_spec: m for m in smtp_server.messages}
    assert set(got) == {"boss@example.org", "director@example.org"}  # report_to: [boss, director@...]
    for message in got.values():
        assert message["Subject"] == "Еженедельный отчёт · Small roadmap · 45-я неделя 2014 г."
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == DOCX_CONTENT_TYPE
        assert attachment.get_filename() == "small-2014-W45.docx"
        assert attachment.get_payload(decode=True)[:2] == b"PK"
    assert "Здравствуйте, Boss!" in got["boss@example.org"].get_body(("plain",)).get_content()
    reports = list_messages(url, kind="report")
    assert sorted(r.dedup_key for r in reports) == [
        "small:report:boss@example.org:2014-W45", "small:report:director@example.org:2014-W45",
    ]

    # Again the same week (another day of it: Friday 7 Nov's seven days end on 6 Nov, in
    # week 45): the report is rewritten, nobody mailed twice.
    again = _cli("report", "--as-of", "2014-11-07", "--send", "--db", url, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "recorded 0" in again.stdout and "delivered 0" in again.stdout
    assert len(smtp_server.messages) == 2
    assert len(snapshots(url, None)) == 1


def test_the_report_mail_says_status_counts_and_decisions_before_the_attachment(url, smtp_server, tmp_path):
    env = {
        **smtp_env_vars(smtp_server),
        "ROADMAP_REPORTS_DIR": str(tmp_path / "reports"),
    }
    out = _cli("report", "--as-of", "2014-11-10", "--send", "--db", url, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    message = next(m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "director@example.org")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    # The decisions as the DOCX states them (its executive summary's numbered list).
    decisions = [p.text for p in Document(str(tmp_path / "reports" / "small-2014-W45.docx")).paragraphs
                 if p.style is not None and p.style.name == "List Number"]
    # a and c are late, and d after them is expected late (models/forecast.py): one decision each.
    assert len(decisions) == 3 and decisions[0].startswith("Задача a «Survey» (критический путь)")
    lines = [line for line in text.splitlines() if line.strip()]
    n = len(decisions)
    assert lines[1:6 + n] == [
        "Еженедельный отчёт о ходе дорожной карты «Small roadmap» по состоянию на 10 ноября 2014 г.: "
        "45-я неделя 2014 года (3–9 ноября 2014 г.).",
        "Общий статус: красный.",
        "Выполнено задач: 1 из 6, из них за неделю: 1.",  # e, done on Thursday 6 Nov
        "Просрочено задач сейчас: 2.",  # a and c
        "Требуются решения:",
        *(f"{i}. {d}" for i, d in enumerate(decisions, 1)),
    ]
    assert lines[6 + n] == "Во вложении: small-2014-W45.docx."
    assert text.index("Требуются решения") < text.index("Во вложении")
    assert html.count("<li>") == n and "<li>Задача a «Survey» (критический путь)" in html
    assert "Общий статус: красный." in html and "Во вложении: small-2014-W45.docx." in html


def test_cli_report_errors(url, tmp_path):
    out = _cli("report", "--as-of", "10.11.2014", "--db", url, env={}, cwd=tmp_path)
    assert out.returncode == 2 and "YYYY-MM-DD" in out.stderr and "Traceback" not in out.stderr
    out = _cli("report", "--roadmap", "nope", "--db", url, env={}, cwd=tmp_path)
    assert out.returncode == 2 and "no roadmap with key 'nope'" in out.stderr


@pytest.mark.parametrize("entry", ["director@", "director@localhost", "a b@example.org", "x@@example.org"])
def test_a_malformed_report_to_address_is_a_clear_error(url, entry):
    from models.db import session_scope
    from models.errors import UserError
    from models.roadmaps import select_roadmap
    from tasks.report_jobs import report_recipients

    with session_scope(url) as session:
        roadmap = select_roadmap(session, None)
        roadmap.report_to = ["boss", entry]
        with pytest.raises(UserError, match="neither a person key of small nor an email address"):
            report_recipients(session, roadmap)
        roadmap.report_to = ["boss", "director@example.org"]
        assert [r.email for r in report_recipients(session, roadmap)][1] == "director@example.org"
        session.rollback()


def _context(url: str, day: dt.date) -> ReportContext:
    from models.db import session_scope
    from models.report_builder import build_report
    from models.roadmaps import select_roadmap

    with session_scope(url) as session:
        roadmap = select_roadmap(session, None)
        return build_report(session, roadmap, day, max_rows=25,
                            generated_at=dt.datetime(2014, 12, 1, tzinfo=dt.UTC))[0]


def test_overdue_open_tasks_are_forecast_to_finish_today_at_the_earliest(url):
    # 10 Nov: a (due 5 Nov, critical) is overdue; its expected bar reaches the report date,
    # its plan bar still ends on 5 Nov.
    ctx = _context(url, WEEK46)
    bars = {b.label.split()[0]: b for b in ctx.gantt}
    assert bars["a"].critical and bars["a"].expected == WEEK46 and bars["a"].late
    assert bars["a"].end == bars["a"].baseline_end == dt.date(2014, 11, 5)
    # Not overdue, but a's slip reaches it (models/forecast.py): b starts after a, on 11 Nov,
    # and d, given 11-17 Nov after b, starts on the 14th and keeps its 5 business days.
    assert bars["d"].expected == dt.date(2014, 11, 20)
    assert "e" not in bars  # done: not drawn

    # 3 Dec, after s1's planned end (28 Nov) with its tasks still open: a is expected that
    # day at the earliest and the chain after it moves (b 4-8 Dec, d 9-15 Dec keeping its
    # 5 business days, f 10 business days to 29 Dec): s1 is expected on 15 Dec, red.
    day = dt.date(2014, 12, 3)
    ctx = _context(url, day)
    s1 = next(s for s in ctx.stages if s.key == "s1")
    assert (s1.end, s1.forecast_end, s1.rag) == (dt.date(2014, 11, 28), dt.date(2014, 12, 15), "red")
    bars = {b.label.split()[0]: b for b in ctx.gantt}
    assert (bars["s1"].end, bars["s1"].expected) == (dt.date(2014, 11, 28), dt.date(2014, 12, 15))
    assert {k: bars[k].expected.isoformat() for k in ("a", "b", "d", "f")} == {
        "a": "2014-12-03", "b": "2014-12-08", "d": "2014-12-15", "f": "2014-12-29"}

    path = write_weekly_report(url, None, day)
    stages = sections(path)["Этапы"]["tables"][0]
    row = keyed_rows(stages)["s1"]
    assert row[3:6] == ["28.11.2014", "15.12.2014", "+17"]  # planned end, forecast, shift (days)


def test_forecast_finish_never_precedes_the_report_date_for_open_tasks():
    from types import SimpleNamespace

    from models.calendar import calendar_for
    from models.forecast import expected_finish

    day = dt.date(2014, 11, 10)

    def task(key: str, status: str, due: dt.date, done_on: dt.date | None = None) -> SimpleNamespace:
        return SimpleNamespace(key=key, stage="s", status=status, start=due, due=due, duration=None,
                               depends_on=[], done_on=done_on, forecast=None)

    got = expected_finish([task("late", "in_progress", dt.date(2014, 11, 5)),
                           task("ahead", "planned", dt.date(2014, 11, 20)),
                           task("done", "done", dt.date(2014, 11, 7), dt.date(2014, 11, 5))], day, calendar_for("RU"))
    assert got == {"late": day, "ahead": dt.date(2014, 11, 20), "done": dt.date(2014, 11, 5)}


def test_reminders_and_escalations_of_the_week_are_counted_and_escalations_listed(url):
    from tasks.notify_jobs import (
        deliver_pending,
        plan_escalation_messages,
        plan_reminders,
        record_plan,
    )

    for plan in (plan_reminders(url, None, WEEK46), plan_escalation_messages(url, None, WEEK46)):
        record_plan(url, plan)
    assert deliver_pending(url).failed == 0
    path = write_weekly_report(url, None, dt.date(2014, 11, 12))
    section = sections(path)[H_MESSAGES]
    # a, 3 business days late on 10 Nov: level 1 to Alice's manager; r1 (score 16) to its
    # owner, its partner's contact and the project office
    assert section["paragraphs"][:2] == ["Напоминаний: 2; эскалаций: 4; уведомлений: 0.",
                                         "1 (руководитель): 1; риск: 3."]
    assert section["tables"][0] == [
        ["Получатель", "2 (проектный офис)", "1 (руководитель)", "риск", "Всего"],
        ["Bob <bob@example.org>", "", "", "1", "1"],  # no level 2 here: the most, then by name
        ["Boss <boss@example.org>", "", "1", "", "1"],
        ["Carol <carol@example.org>", "", "", "1", "1"],
        ["Project office <pmo@example.org>", "", "", "1", "1"],
    ]
    worst = sections(path)["Самые серьёзные эскалации"]["tables"][0]
    assert worst[1:] == [["a", "Survey", "Alice", "5", "1 (руководитель)"]]  # 5 bd late on 12 Nov
    subjects = {m.subject for m in list_messages(url, kind="escalation")}
    assert len(subjects) == 2  # the three risk mails share one subject
    text = "\n".join(p.text for p in Document(str(path)).paragraphs) + "\n".join(
        c.text for t in Document(str(path)).tables for r in t.rows for c in r.cells)
    assert not [s for s in subjects if s in text]  # summed up, never listed by subject
    # Week 46's report (as of 12 Nov: 5-11 Nov) counted them; week 47's (as of 24 Nov) counts none.
    later = sections(write_weekly_report(url, None, dt.date(2014, 11, 24)))[H_MESSAGES]
    assert later["paragraphs"] == ["Напоминаний: 0; эскалаций: 0; уведомлений: 0.",
                                   "Эскалаций за неделю не было."]


def test_regenerating_a_week_is_deterministic_apart_from_the_generated_time(url, tmp_path):
    import re
    import zipfile

    first = write_weekly_report(url, None, WEEK46, out=tmp_path / "first.docx")
    second = write_weekly_report(url, None, WEEK46, out=tmp_path / "second.docx")
    assert len(snapshots(url, None)) == 1

    def parts(path: Path) -> dict[str, bytes]:
        with zipfile.ZipFile(path) as package:
            return {name: package.read(name) for name in package.namelist()}

    a, b = parts(first), parts(second)
    assert a.keys() == b.keys()
    generated = re.compile("Сформирован [^<]*".encode())
    for name in a:
        if name == "docProps/core.xml":  # created/modified: the generated time
            continue
        left, right = a[name], b[name]
        if name == "word/document.xml":
            assert len(generated.findall(left)) == 1
            left, right = generated.sub(b"", left), generated.sub(b"", right)
        assert left == right, name


def test_a_damaged_report_template_is_a_clear_error(tmp_path, small_yaml):
    import subprocess
    import sys

    bad = tmp_path / "brand.docx"
    bad.write_bytes(b"not a zip file")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("ROADMAP_")}
    env.update(ROADMAP_REPORT_TEMPLATE=str(bad), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    db = f"sqlite:///{tmp_path}/r.db"
    run = [sys.executable, "-m", "cli.main"]
    assert subprocess.run(run + ["import", str(small_yaml), "--db", db], env=env, cwd=tmp_path).returncode == 0
    out = subprocess.run(run + ["report", "--as-of", "2014-11-10", "--db", db], env=env, cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert f"report template {bad} (ROADMAP_REPORT_TEMPLATE) is not a Word .docx document" in out.stderr
    assert "Traceback" not in out.stderr


def test_written_reports_are_readable_by_others(db_url, small_yaml, tmp_path):
    import os
    import stat

    from tasks.report_jobs import write_weekly_report

    import_file(db_url, small_yaml)
    old = os.umask(0o022)
    try:
        path = write_weekly_report(db_url, None, dt.date(2014, 11, 10), out=tmp_path / "r.docx")
    finally:
        os.umask(old)
    assert stat.S_IMODE(Path(path).stat().st_mode) == 0o644

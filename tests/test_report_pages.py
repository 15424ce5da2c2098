"""The report reads in two minutes (issue 12, points 3 and 4): the example's report on the demo
day and the week after (which carries the demo day's 70 escalations) fit 8 A4 pages through
LibreOffice; the header names the roadmap and the period, the footer numbers the pages; the
escalations are summed up, never listed by subject; workstreams and partners have sections."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "open-workshop-moscow.yaml"
needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None,
                                   reason="LibreOffice (soffice) is not installed on this machine")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    env.update(PYTHONPATH=str(ROOT), ROADMAP_DATABASE_URL=f"sqlite:///{cwd / 'db.sqlite'}",
               ROADMAP_OUTBOX_DIR=str(cwd / "outbox"), ROADMAP_REPORTS_DIR=str(cwd / "reports"))
    out = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The example after the demo day's reminders and escalations (as `make demo`)."""
    folder = tmp_path_factory.mktemp("demo")
    cli("import", str(EXAMPLE), cwd=folder)
    cli("remind", "--as-of", "2015-03-02", cwd=folder)
    cli("escalate", "--as-of", "2015-03-02", cwd=folder)
    return folder


def report(folder: Path, day: str, *extra: str) -> Path:
    return Path(cli("report", "--as-of", day, *extra, cwd=folder).stdout.splitlines()[0])


def pdf_pages(pdf: Path) -> int:
    """Pages of a PDF: its page objects (no poppler needed)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf.read_bytes()))


def texts(docx: Path) -> str:
    return "\n".join(t.text or "" for t in Document(str(docx)).element.body.iter(qn("w:t")))


def after(text: str, heading: str) -> str:
    return text[text.index(heading):] if heading in text else ""


@needs_soffice
@pytest.mark.parametrize("day", ["2015-03-02", "2015-03-09"])
def test_the_example_report_fits_eight_a4_pages(demo, day):
    docx = report(demo, day, "--pdf")
    assert 1 <= pdf_pages(docx.with_suffix(".pdf")) <= 8


def test_header_names_the_roadmap_and_period_and_footer_numbers_pages(demo):
    doc = Document(str(report(demo, "2015-03-09")))
    section = doc.sections[0]
    header = section.header.paragraphs[0].text
    assert header.startswith("Открытая Мастерская Москвы") and header.endswith("— 2–8 марта 2015\xa0г.")
    instrs = [f.get(qn("w:instr")).split()[0] for f in section.footer._element.iter(qn("w:fldSimple"))]
    assert instrs == ["PAGE", "NUMPAGES"]
    assert "стр. " in section.footer.paragraphs[0].text and " из " in section.footer.paragraphs[0].text
    assert all(s.footer.is_linked_to_previous for s in doc.sections[1:])


def test_escalations_are_summed_up_and_no_subject_is_listed(demo):
    text = texts(report(demo, "2015-03-09"))
    with sqlite3.connect(demo / "db.sqlite") as db:
        subject_lines = {s for (s,) in db.execute("SELECT subject FROM outbox WHERE kind = 'escalation'")}
    assert len(subject_lines) > 10
    assert "Самые серьёзные эскалации" in text
    assert "2 (проектный офис)" in text
    assert not [s for s in subject_lines if s and s in text]
    assert "Приложение" not in text or "Тема" not in after(text, "Приложение")


def test_workstream_table_has_a_row_per_workstream_with_tasks(demo):
    doc = Document(str(report(demo, "2015-03-02")))
    tables = [t for t in doc.tables if t.rows[0].cells[0].text == "Направление"]
    assert len(tables) == 1
    rows = [[c.text for c in r.cells] for r in tables[0].rows[1:]]
    assert [r[0] for r in rows][:2] == ["Павильон № 33", "Оборудование"]
    for _title, tasks, done, late, expected in rows:
        assert int(tasks) >= int(done) + int(late) and expected


def test_partner_section_lists_formats_and_late_tasks(demo):
    doc = Document(str(report(demo, "2015-03-02")))
    tables = [t for t in doc.tables if t.rows[0].cells[0].text == "Партнёр"]
    assert len(tables) == 1
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in tables[0].rows[1:]}
    vdnh = next(v for k, v in rows.items() if k.startswith("ВДНХ") or "ВДНХ" in k)
    assert vdnh[1]  # its interaction formats
    assert any(int(v[3]) > 0 and "просрочка" in v[4] for v in rows.values())

"""The weekly DOCX report, read back with python-docx as a manager's Word would show it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from docx.shared import Inches, Mm

from models.errors import UserError
from models.report_data import (
    ChangeItem,
    Changes,
    EscalationSent,
    GanttBar,
    MessagesSummary,
    MovedTask,
    PartnerRow,
    ReportContext,
    RiskRow,
    StageRow,
    Summary,
    TaskRow,
)
from models.report_rules import decision_sentences, heatmap_counts, overall_rag, report_week
from tasks.gantt import render_gantt
from tasks.report_docx import ReportRenderError, missing_styles, render_report

D = dt.date
AS_OF = D(2014, 11, 19)  # Wednesday of ISO week 47


def make_context(**overrides) -> ReportContext:
    """A small Russian roadmap: three stages, two critical overdue tasks, one blocked task."""
    stages = [
        StageRow(key="S1", title="Подготовка", start=D(2014, 10, 1), end=D(2014, 10, 31),
                 forecast_end=D(2014, 10, 31), progress=100, rag="green"),
        StageRow(key="S2", title="Согласование", start=D(2014, 11, 3), end=D(2014, 11, 28),
                 forecast_end=D(2014, 12, 5), progress=40, rag="amber"),
        StageRow(key="S3", title="Запуск", start=D(2014, 12, 1), end=D(2014, 12, 19),
                 forecast_end=D(2014, 12, 26), progress=0, rag="red"),
    ]
    overdue = [
        TaskRow(key="T-1", title="Согласовать бюджет", stage="S2", owner="Иванов И. И.",
                partners=["ООО Ромашка"], start=D(2014, 11, 3), due=D(2014, 11, 14),
                baseline_due=D(2014, 11, 12), status="in_progress", progress=60, days_late=3,
                rag="red", critical=True, escalation_level=1),
        TaskRow(key="T-2", title="Подписать договор", stage="S2", owner="Петрова А. С.",
                partners=["ООО Ромашка", "АО Вектор"], start=D(2014, 11, 1),
                due=D(2014, 11, 10), status="in_progress", progress=20, days_late=7, rag="red",
                critical=True, escalation_level=2),
        TaskRow(key="T-3", title="Обновить презентацию", stage="S2", owner="Иванов И. И.",
                due=D(2014, 11, 18), status="todo", days_late=1, rag="amber"),
    ]
    blocked = [
        TaskRow(key="T-4", title="Закупка оборудования", stage="S3", owner="Сидоров П. П.",
                due=D(2014, 11, 25), status="blocked", blocked_by=["T-2"], rag="amber"),
    ]
    upcoming = [
        TaskRow(key="T-5", title="Провести пилот", stage="S3", owner="Сидоров П. П.",
                due=D(2014, 11, 21), critical=True),
        TaskRow(key="T-6", title="Обучить пользователей", stage="S3", owner="Петрова А. С.",
                due=D(2014, 11, 28)),
    ]
    risks = [
        RiskRow(key="R-1", title="Поставщик сорвёт поставку", owner="Сидоров П. П.",
                probability=4, impact=5, mitigation="Найти второго поставщика",
                review_date=D(2014, 11, 24)),
        RiskRow(key="R-2", title="Уход ключевого сотрудника", owner="Иванов И. И.",
                probability=2, impact=3, mitigation="Документировать знания"),
        RiskRow(key="R-3", title="Закрытый риск", probability=5, impact=5, status="closed"),
    ]
    gantt = [GanttBar(label=f"{s.key} {s.title}", kind="stage", stage=s.key, start=s.start, end=s.end,
                      expected=s.forecast_end, baseline_start=s.start, baseline_end=s.end, rag=s.rag)
             for s in stages]
    gantt += [GanttBar(label=f"{t.key} {t.title}", stage=t.stage, start=t.start or t.due, end=t.due,
                       expected=AS_OF, baseline_start=t.start or t.due, baseline_end=t.baseline_due or t.due,
                       rag=t.rag, critical=True) for t in overdue if t.critical]
    week = report_week(AS_OF)
    values = dict(
        roadmap_key="strategy-2015",
        title="Стратегическая сессия 2015",
        language="ru",
        iso_year=week.iso_year,
        iso_week=week.iso_week,
        week_start=week.start,
        week_end=week.end,
        as_of=AS_OF,
        generated_at=dt.datetime(2014, 11, 19, 6, 30, tzinfo=dt.UTC),
        summary=Summary(
            rag=overall_rag(stages, overdue, risks), tasks_total=10, tasks_done=4,
            percent_done_count=40.0, percent_done_weighted=35.5, done_this_week=2,
            overdue_now=3, stages_on_track=1, stages_late=2,
            decisions=decision_sentences(overdue, risks, "ru"),
        ),
        stages=stages,
        gantt=gantt,
        overdue=overdue,
        blocked=blocked,
        upcoming=upcoming,
        risks=risks,
        heatmap=heatmap_counts(risks),
        changes=None,
        messages=MessagesSummary(
            reminders_sent=12, escalations_sent=1, notices_sent=3,
            escalations=[EscalationSent(
                recipient="director@example.org", subject="Эскалация: T-2 просрочена",
                sent_at=dt.datetime(2014, 11, 18, 9, 0, tzinfo=dt.UTC))],
        ),
        max_rows=50,
    )
    values.update(overrides)
    return ReportContext(**values)


# ---------------------------------------------------------------------------------------------
# helpers to read the document back
# ---------------------------------------------------------------------------------------------


def all_text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts += [c.text for c in row.cells]
    return "\n".join(parts)


def headings(doc, level: int = 1) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style.name == f"Heading {level}"]


def tables_after(doc, heading: str) -> list:
    """The tables between the paragraph ``heading`` and the next heading of any level."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    found, out = False, []
    for child in doc.element.body.iterchildren():
        if child.tag == qn("w:p"):
            p = Paragraph(child, doc)
            if p.style.name.startswith("Heading"):
                if found:
                    break
                found = p.text == heading
        elif child.tag == qn("w:tbl") and found:
            out.append(Table(child, doc))
    assert found or out, f"no heading {heading!r}"
    return out


def column(table, index: int) -> list[str]:
    return [row.cells[index].text for row in table.rows[1:]]


def fill(cell) -> str | None:
    shd = cell._tc.tcPr.find(qn("w:shd"))
    return None if shd is None else shd.get(qn("w:fill"))


@pytest.fixture
def chart(tmp_path) -> Path:
    [page] = render_gantt(make_context().gantt, AS_OF, tmp_path / "gantt.png", lang="ru")  # a small chart: one page
    return page


@pytest.fixture
def report(tmp_path, chart):
    path = render_report(make_context(), tmp_path / "report.docx", chart_png=chart)
    return Document(str(path))


# ---------------------------------------------------------------------------------------------
# structure
# ---------------------------------------------------------------------------------------------


def test_it_has_every_section_heading_in_russian(report):
    assert headings(report) == [
        "Краткое резюме", "Этапы", "Диаграмма Ганта", "Просроченные и заблокированные задачи",
        "Ближайшие две недели", "Реестр рисков", "Изменения с прошлого отчёта",
        "Напоминания и эскалации за неделю",
    ]
    assert report.paragraphs[0].style.name == "Title"
    assert report.paragraphs[0].text == "Стратегическая сессия 2015"


def test_title_block_names_week_dates_and_as_of(report):
    text = all_text(report)
    nbsp = "\u00a0"  # keeps "2014 г." on one line
    # As of Wednesday 19 Nov: the seven days before it, named after the ISO week of 18 Nov.
    assert f"Отчётный период: 47-я неделя 2014 года, 12–18 ноября 2014{nbsp}г." in text
    assert f"Состояние на 19 ноября 2014{nbsp}г." in text
    assert f"Сформирован 19 ноября 2014{nbsp}г., 06:30 UTC" in text


def test_every_section_is_a4_and_wide_tables_are_landscape(report):
    orientations = []
    for section in report.sections:
        short, long = sorted([section.page_width, section.page_height])
        # stored in twips, so read back within a fraction of a millimetre
        assert abs(short - Mm(210)) < Mm(0.1) and abs(long - Mm(297)) < Mm(0.1)
        landscape = section.orientation == WD_ORIENT.LANDSCAPE
        assert (section.page_width > section.page_height) == landscape
        orientations.append(landscape)
    assert orientations[0] is False
    assert True in orientations


# ---------------------------------------------------------------------------------------------
# content
# ---------------------------------------------------------------------------------------------


def test_summary_states_rag_percentages_plurals_and_decisions(report):
    summary = tables_after(report, "Краткое резюме")[0]
    cells = {row.cells[0].text: row.cells[1] for row in summary.rows}
    assert cells["Общий статус"].text == "Красный"
    assert fill(cells["Общий статус"]) == "FFC7CE"
    assert cells["Выполнено задач"].text == (
        "40\u00a0% по числу задач (4 из 10), 35,5\u00a0% с учётом длительности"
    )
    assert cells["Завершено за неделю"].text == "2 задачи"
    assert cells["Просрочено сейчас"].text == "3 задачи"
    decisions = [p.text for p in report.paragraphs if p.style.name == "List Number"]
    assert decisions == [
        "Задача T-2 «Подписать договор» (критический путь) просрочена на 7 рабочих дней, "
        "ответственный — Петрова А. С.: решить, переносить ли срок или усилить исполнение.",
        "Задача T-1 «Согласовать бюджет» (критический путь) просрочена на 3 рабочих дня, "
        "ответственный — Иванов И. И.: решить, переносить ли срок или усилить исполнение.",
        "Риск R-1 «Поставщик сорвёт поставку» оценён в 20 баллов (вероятность 4 × влияние 5), "
        "владелец — Сидоров П. П.: утвердить меры — найти второго поставщика.",
    ]


def test_stage_table_shades_rag_and_shows_forecast_shift(report):
    table = tables_after(report, "Этапы")[0]
    assert column(table, 0) == ["S1", "S2", "S3"]
    assert [fill(row.cells[7]) for row in table.rows[1:]] == ["C6EFCE", "FFEB9C", "FFC7CE"]
    assert column(table, 7) == ["Зелёный", "Жёлтый", "Красный"]
    assert column(table, 4) == ["31.10.2014", "05.12.2014", "26.12.2014"]
    assert column(table, 5) == ["0", "+7", "+7"]


def test_overdue_table_groups_by_owner_worst_first_with_blocked_task(report):
    table = tables_after(report, "Просроченные и заблокированные задачи")[0]
    header = [c.text for c in table.rows[0].cells]
    # no partners column: the partners section names them
    assert header == ["Код", "Название", "Срок", "Просрочка, раб. дн.", "Эскалация", "Состояние", "КП"]
    first = [row.cells[0].text for row in table.rows[1:]]
    assert first == [
        "Петрова А. С. — 1 задача", "T-2",
        "Иванов И. И. — 2 задачи", "T-1", "T-3",
        "Сидоров П. П. — 1 задача", "T-4",
    ]
    row_t2 = table.rows[2].cells
    assert [row_t2[3].text, row_t2[4].text] == ["7", "2 (проектный офис)"]
    assert fill(row_t2[3]) == "FFC7CE"
    row_t4 = table.rows[7].cells
    assert row_t4[5].text == "заблокирована; блокируют: T-2"
    assert fill(row_t4[3]) is None  # blocked, not late
    assert "T-5" not in first and "T-6" not in first


def partner_rows() -> list[PartnerRow]:
    """The partners of the overdue tasks as the builder gives them: open tasks late first."""
    t1, t2 = make_context().overdue[:2]
    later = TaskRow(key="T-8", title="Согласовать макет стенда " * 4, due=D(2014, 11, 27))
    more = [TaskRow(key=f"T-9{i}", title="Ещё задача", due=D(2014, 12, 1)) for i in range(2)]
    return [
        PartnerRow(key="romashka", name="ООО Ромашка", formats=["соглашение", "встреча"],
                   open=[t2, t1, later, *more], late=2),
        PartnerRow(key="vector", name="АО Вектор", formats=[], open=[later]),
    ]


def test_overdue_by_partner_counts_late_tasks(tmp_path):
    doc = Document(str(render_report(make_context(partners=partner_rows()), tmp_path / "r.docx")))
    assert "Партнёры" in headings(doc)
    table = tables_after(doc, "Партнёры")[0]
    assert [c.text for c in table.rows[0].cells] == [
        "Партнёр", "Форматы взаимодействия", "Открыто", "Просрочено", "Открытые задачи, сначала просроченные"]
    romashka, vector = ([c.text for c in row.cells] for row in table.rows[1:])
    assert romashka[:4] == ["ООО Ромашка", "соглашение; встреча", "5", "2"]
    tasks = romashka[4].split("\n")
    assert tasks[:2] == ["T-2 Подписать договор — просрочка 7 раб. дн.",
                         "T-1 Согласовать бюджет — просрочка 3 раб. дн."]
    assert tasks[2].startswith("T-8 Согласовать макет стенда") and tasks[2].endswith("… — срок 27.11.2014")
    assert tasks[3:] == ["… и ещё 2."]  # three tasks per partner, then how many more
    assert vector[:4] == ["АО Вектор", "", "1", "0"]
    assert [fill(row.cells[3]) for row in table.rows[1:]] == ["FFC7CE", None]  # late shaded red
    # the task tables no longer name partners: this section does
    overdue = tables_after(doc, "Просроченные и заблокированные задачи")[0]
    assert "ООО Ромашка" not in {c.text for row in overdue.rows for c in row.cells}


def test_without_partners_or_workstreams_their_sections_are_left_out(report):
    assert "Партнёры" not in headings(report) and "Направления работ" not in headings(report)


def test_upcoming_table_lists_tasks_due_in_two_weeks_with_owners(report):
    table = tables_after(report, "Ближайшие две недели")[0]
    assert column(table, 1) == ["T-5", "T-6"]
    assert column(table, 3) == ["Сидоров П. П.", "Петрова А. С."]
    assert column(table, 0) == ["21.11.2014", "28.11.2014"]


def test_heat_map_counts_open_risks_and_shades_by_zone(report):
    heat, risks = tables_after(report, "Тепловая карта: вероятность × влияние")[0], None
    grid = {int(row.cells[0].text): [c.text for c in row.cells[1:]] for row in heat.rows[1:]}
    assert grid[4] == ["", "", "", "", "1"]  # p4 x i5
    assert grid[2] == ["", "", "1", "", ""]  # p2 x i3
    assert grid[5] == ["", "", "", "", ""]  # R-3 is closed
    five_by_five = {int(r.cells[0].text): r.cells for r in heat.rows[1:]}
    assert fill(five_by_five[4][5]) == "FFC7CE"  # 20: red zone
    assert fill(five_by_five[2][3]) == "FFEB9C"  # 6: amber zone
    assert fill(five_by_five[1][1]) == "C6EFCE"  # 1: green zone
    risks = tables_after(report, "Открытые риски")[0]
    assert column(risks, 0) == ["R-1", "R-2"]
    assert column(risks, 3) == ["20 = 4 × 5", "6 = 2 × 3"]  # score = probability × impact
    assert [fill(row.cells[3]) for row in risks.rows[1:]] == ["FFC7CE", "FFEB9C"]
    assert column(risks, 4) == ["Найти второго поставщика", "Документировать знания"]
    assert column(risks, 5) == ["24.11.2014", "—"]


def test_chart_png_is_embedded(report, chart, tmp_path):
    assert len(report.inline_shapes) == 1
    path = render_report(make_context(), tmp_path / "again.docx", chart_png=chart)
    with zipfile.ZipFile(path) as package:
        media = [n for n in package.namelist() if n.startswith("word/media/")]
        assert [package.read(n) for n in media] == [chart.read_bytes()]


def test_first_report_says_there_is_no_previous_one(report):
    assert "Это первый отчёт по дорожной карте: предыдущего отчёта для сравнения нет." in (
        all_text(report)
    )


def test_changes_since_previous_report_are_listed(tmp_path):
    changes = Changes(
        completed=[ChangeItem(key="T-9", title="Утвердить устав")],
        newly_overdue=[ChangeItem(key="T-3", title="Обновить презентацию")],
        moved=[MovedTask(key="T-1", title="Согласовать бюджет", old_due=D(2014, 11, 12),
                         new_due=D(2014, 11, 14))],
        new_risks=[ChangeItem(key="R-2", title="Уход ключевого сотрудника")],
        closed_risks=[ChangeItem(key="R-3", title="Закрытый риск")],
    )
    doc = Document(str(render_report(make_context(changes=changes), tmp_path / "r.docx")))
    text = all_text(doc)
    assert "предыдущего отчёта для сравнения нет" not in text
    assert ("Завершено: 1; впервые просрочено: 1; перенесено сроков: 1; новых рисков: 1; "
            "закрыто рисков: 1.") in text
    table = tables_after(doc, "Изменения с прошлого отчёта")[0]
    assert [[c.text for c in row.cells] for row in table.rows[1:]] == [
        ["Завершена", "T-9", "Утвердить устав", ""],
        ["Впервые просрочена", "T-3", "Обновить презентацию", ""],
        ["Перенесён срок", "T-1", "Согласовать бюджет", "12.11.2014 → 14.11.2014"],
        ["Новый риск", "R-2", "Уход ключевого сотрудника", ""],
        ["Риск закрыт", "R-3", "Закрытый риск", ""],
    ]


def test_escalations_are_summed_up_by_level_and_recipient_with_the_worst_tasks(tmp_path):
    at = dt.datetime(2014, 11, 18, 9, 0, tzinfo=dt.UTC)

    def sent(recipient: str, level: int, key: str) -> EscalationSent:
        return EscalationSent(recipient=recipient, subject=f"Эскалация {key} уровня {level} для {recipient}",
                              sent_at=at, level=level, key=key)

    escalations = [sent("pmo@example.org", 2, "T-2"), sent("Директор <director@example.org>", 2, "T-2"),
                   sent("Директор <director@example.org>", 1, "T-1"), sent("Менеджер <boss@example.org>", 1, "T-1"),
                   sent("Менеджер <boss@example.org>", 1, "T-3"), sent("pmo@example.org", 0, "R-1")]
    ctx = make_context(messages=MessagesSummary(reminders_sent=12, escalations_sent=len(escalations),
                                                notices_sent=3, escalations=escalations))
    doc = Document(str(render_report(ctx, tmp_path / "r.docx")))
    text = all_text(doc)
    assert "Напоминаний: 12; эскалаций: 6; уведомлений: 3." in text
    assert "2 (проектный офис): 2; 1 (руководитель): 3; риск: 1." in text  # by level, worst first
    by_recipient = tables_after(doc, "Напоминания и эскалации за неделю")[0]
    assert [[c.text for c in row.cells] for row in by_recipient.rows] == [
        ["Получатель", "2 (проектный офис)", "1 (руководитель)", "риск", "Всего"],
        ["pmo@example.org", "1", "", "1", "2"],  # level 2 first, then the most, then by name
        ["Директор <director@example.org>", "1", "1", "", "2"],
        ["Менеджер <boss@example.org>", "", "2", "", "2"],
    ]
    worst = tables_after(doc, "Самые серьёзные эскалации")[0]
    assert [[c.text for c in row.cells] for row in worst.rows[1:]] == [  # the highest level, then most late
        ["T-2", "Подписать договор", "Петрова А. С.", "7", "2 (проектный офис)"],
        ["T-1", "Согласовать бюджет", "Иванов И. И.", "3", "1 (руководитель)"],
        ["T-3", "Обновить презентацию", "Иванов И. И.", "1", "1 (руководитель)"],
    ]
    assert not [e.subject for e in escalations if e.subject in text]  # never the subjects
    assert "Приложение. Полные списки" not in headings(doc)  # nor the whole log in an appendix


def test_a_week_without_escalations_says_so(tmp_path):
    ctx = make_context(messages=MessagesSummary(reminders_sent=2))
    doc = Document(str(render_report(ctx, tmp_path / "r.docx")))
    assert "Эскалаций за неделю не было." in all_text(doc)
    assert "Самые серьёзные эскалации" not in [p.text for p in doc.paragraphs]


def test_long_lists_are_cut_at_max_rows_and_given_in_full_in_the_appendix(tmp_path):
    upcoming = [TaskRow(key=f"U-{i:02d}", title=f"Задача {i}", owner="Иванов И. И.",
                        due=AS_OF + dt.timedelta(days=1 + i % 10)) for i in range(7)]
    doc = Document(str(render_report(make_context(upcoming=upcoming, max_rows=2),
                                     tmp_path / "r.docx")))
    text = all_text(doc)
    assert "… и ещё 5 — полный список в приложении." in text
    assert "… и ещё 2 — полный список в приложении." in text  # 4 overdue/blocked tasks
    assert len(tables_after(doc, "Ближайшие две недели")[0].rows) == 1 + 2
    assert headings(doc)[-1] == "Приложение. Полные списки"
    full = tables_after(doc, "Ближайшие две недели")
    appendix_upcoming = [p for p in doc.paragraphs if p.style.name == "Heading 2"
                         and p.text == "Ближайшие две недели"]
    assert appendix_upcoming, "appendix has a sub-heading per cut list"
    appendix_tables = _tables_under_heading2(doc, "Ближайшие две недели")
    assert sorted(column(appendix_tables[0], 1)) == [f"U-{i:02d}" for i in range(7)]
    assert full  # the body table is still there
    overdue_full = _tables_under_heading2(doc, "Просроченные и заблокированные задачи")[0]
    assert {"T-1", "T-2", "T-3", "T-4"} <= set(column(overdue_full, 0))
    assert doc.sections[-1].orientation == WD_ORIENT.LANDSCAPE


def _tables_under_heading2(doc, title: str) -> list:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    found, out = False, []
    for child in doc.element.body.iterchildren():
        if child.tag == qn("w:p"):
            p = Paragraph(child, doc)
            if p.style.name.startswith("Heading"):
                if found:
                    break
                found = p.style.name == "Heading 2" and p.text == title
        elif child.tag == qn("w:tbl") and found:
            out.append(Table(child, doc))
    return out


def test_english_report_uses_english_strings_and_dates(tmp_path):
    moscow = dt.timezone(dt.timedelta(hours=3))
    ctx = make_context(language="en", generated_at=dt.datetime(2014, 11, 19, 9, 30, tzinfo=moscow))
    ctx.summary.decisions = decision_sentences(ctx.overdue, ctx.risks, "en")
    doc = Document(str(render_report(ctx, tmp_path / "en.docx")))
    text = all_text(doc)
    assert headings(doc)[0] == "Executive summary"
    assert "Reporting period: week 47 of 2014, 12–18 November 2014" in text
    assert "Status as of 19 November 2014" in text
    assert "Generated 19 November 2014, 09:30 UTC+03:00" in text
    assert "Task T-2 “Подписать договор” (critical path) is 7 business days late" in text
    assert "This is the first report for this roadmap" in text
    # short dates in table cells do not wrap inside: no-break spaces
    assert column(tables_after(doc, "Stages")[0], 4)[1] == "5\u00a0Dec\u00a02014"


# ---------------------------------------------------------------------------------------------
# branding, robustness, determinism
# ---------------------------------------------------------------------------------------------


def test_reference_docx_keeps_header_logo_and_styles_and_drops_its_body(tmp_path, chart):
    from docx.enum.style import WD_STYLE_TYPE
    from PIL import Image

    Image.new("RGB", (60, 20), "navy").save(tmp_path / "logo.png")
    reference = Document()
    header = reference.sections[0].header.paragraphs[0]
    header.text = "ООО Бренд — для служебного пользования"
    header.add_run().add_picture(str(tmp_path / "logo.png"))
    reference.styles.add_style("Brand Note", WD_STYLE_TYPE.PARAGRAPH)
    reference.add_paragraph("Образец текста шаблона")
    ref_path = tmp_path / "reference.docx"
    reference.save(str(ref_path))

    doc = Document(str(render_report(make_context(), tmp_path / "r.docx",
                                     reference_docx=ref_path, chart_png=chart)))
    for section in doc.sections:  # later sections inherit the first one's header
        assert section.header.paragraphs[0].text == "ООО Бренд — для служебного пользования"
        assert len(section.header._element.xpath(".//pic:pic")) == 1  # the logo
    assert len(doc.inline_shapes) == 1  # the chart in the body
    assert "Brand Note" in doc.styles
    assert "Образец текста шаблона" not in all_text(doc)
    assert doc.paragraphs[0].text == "Стратегическая сессия 2015"


def test_reference_docx_without_required_styles_is_refused_by_name(tmp_path):
    reference = Document()
    for name in ("Table Grid", "List Number"):
        style = reference.styles[name]
        style.element.getparent().remove(style.element)
    assert missing_styles(reference) == ["Table Grid", "List Number"]
    ref_path = tmp_path / "reference.docx"
    reference.save(str(ref_path))
    with pytest.raises(UserError, match="Table Grid, List Number"):
        render_report(make_context(), tmp_path / "r.docx", reference_docx=ref_path)


def test_same_context_gives_the_same_bytes_even_through_a_json_snapshot(tmp_path, chart):
    ctx = make_context()
    snapshot = json.loads(json.dumps(ctx.to_dict(), ensure_ascii=False))
    assert ReportContext.from_dict(snapshot) == ctx
    first = render_report(ctx, tmp_path / "a.docx", chart_png=chart).read_bytes()
    second = render_report(ReportContext.from_dict(snapshot), tmp_path / "b.docx",
                           chart_png=chart).read_bytes()
    assert first == second
    props = Document(str(tmp_path / "a.docx")).core_properties
    assert props.created == props.modified == ctx.generated_at


def test_characters_illegal_in_xml_do_not_break_the_report(tmp_path):
    ctx = make_context()
    ctx.upcoming[0].title = "Пилот\x00\x0b с <тегами> & \"кавычками\""
    doc = Document(str(render_report(ctx, tmp_path / "r.docx")))
    assert "Пилот с <тегами> & \"кавычками\"" in all_text(doc)


def test_errors_name_the_section(tmp_path):
    with pytest.raises(ReportRenderError, match="'gantt'"):
        render_report(make_context(), tmp_path / "r.docx", chart_png=tmp_path / "none.png")


# ---------------------------------------------------------------------------------------------
# Gantt chart and pure helpers
# ---------------------------------------------------------------------------------------------


def test_gantt_draws_cyrillic_without_missing_glyphs_and_is_deterministic(tmp_path):
    bars = make_context().gantt + [
        GanttBar(label="T-7 Ёлка 🚀 за $5k и $10k", start=D(2014, 11, 1), end=D(2014, 11, 30),
                 critical=True, rag="red"),
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = render_gantt(bars, AS_OF, tmp_path / "a.png", lang="ru")[0].read_bytes()
        b = render_gantt(bars, AS_OF, tmp_path / "b.png", lang="ru")[0].read_bytes()
    assert not [w for w in caught if "missing from" in str(w.message).lower()]
    assert a == b and a.startswith(b"\x89PNG")


def test_risk_statuses_and_mitigation_in_decisions_read_naturally(tmp_path):
    from models.report_rules import first_clause

    first = first_clause("Найти второго поставщика; заключить договор.")
    assert first == "найти второго поставщика"
    assert first_clause("ОАО «ВДНХ» согласует. Потом всё остальное") == "ОАО «ВДНХ» согласует"
    long = first_clause("Объявить конкурс " + "очень " * 40 + "быстро")
    assert len(long) <= 141 and long.endswith("очень…")
    risks = [RiskRow(key=f"R-{s}", title=s, probability=3, impact=3, status=s)
             for s in ("open", "mitigated", "occurred")]
    doc = Document(str(render_report(make_context(risks=risks), tmp_path / "r.docx")))
    table = tables_after(doc, "Открытые риски")[0]
    assert dict(zip(column(table, 1), column(table, 6), strict=True)) == {
        "open": "открыт", "mitigated": "снижен", "occurred": "наступил"}


def test_table_rows_are_not_split_across_pages_and_headers_repeat(report):
    for table in report.tables:
        rows = table._tbl.tr_lst
        for tr in rows:
            assert tr.trPr is not None and tr.trPr.find(qn("w:cantSplit")) is not None
    overdue = tables_after(report, "Просроченные и заблокированные задачи")[0]
    assert overdue._tbl.tr_lst[0].trPr.find(qn("w:tblHeader")) is not None
    group = overdue._tbl.tr_lst[1]  # "Петрова А. С. — 1 задача" stays with its first task
    assert group.find(".//" + qn("w:keepNext")) is not None


def test_gantt_has_its_own_landscape_section_at_its_printed_size(report):
    """Portrait (title, summary, stages), landscape (the chart alone), landscape (tables,
    changes, messages): the chart is drawn at the landscape text width, so it is not scaled."""
    from tasks.gantt import PAGE_IN

    assert [s.orientation for s in report.sections] == [WD_ORIENT.PORTRAIT, WD_ORIENT.LANDSCAPE,
                                                        WD_ORIENT.LANDSCAPE]
    body = report.element.body
    heading = next(p for p in report.paragraphs if p.text == "Диаграмма Ганта")._p
    breaks = [i for i, el in enumerate(body) if el.find(".//" + qn("w:sectPr")) is not None]
    assert breaks[0] < list(body).index(heading) < breaks[1]  # in the second section
    [picture] = report.inline_shapes
    chart = report.sections[1]
    assert picture.width == chart.page_width - chart.left_margin - chart.right_margin
    assert abs(picture.width - Inches(PAGE_IN[0])) < Mm(1)  # 100 %: 7 pt in the PNG is 7 pt on paper


def test_decision_sentences_are_at_most_three_and_keep_a_place_for_the_worst_risk():
    tasks = [TaskRow(key=f"T{i}", title="x", owner="O", days_late=i, critical=True)
             for i in range(1, 6)]
    risks = [RiskRow(key="R1", title="r", probability=5, impact=5),
             RiskRow(key="R2", title="low", probability=1, impact=2)]
    out = decision_sentences(tasks, risks, "en")
    assert len(out) == 3
    assert out[0].startswith("Task T5") and out[1].startswith("Task T4")
    assert out[2].startswith("Risk R1") and "define a mitigation" in out[2]
    assert len(decision_sentences(tasks, [], "ru")) == 3
    assert decision_sentences([], risks[1:], "ru") == []


def test_heatmap_and_overall_rag_helpers():
    risks = [RiskRow(key="a", title="", probability=1, impact=5),
             RiskRow(key="b", title="", probability=1, impact=5),
             RiskRow(key="c", title="", probability=3, impact=3, status="closed")]
    grid = heatmap_counts(risks)
    assert grid[0][4] == 2 and sum(map(sum, grid)) == 2
    assert overall_rag([], []) == "green"
    assert overall_rag([], [TaskRow(key="t", title="", days_late=1)]) == "amber"
    assert overall_rag([], [], [RiskRow(key="r", title="", probability=4, impact=4)]) == "amber"


@pytest.mark.skipif(shutil.which("soffice") is None,
                    reason="LibreOffice (soffice) is not installed on this machine")
def test_libreoffice_converts_the_report_to_pdf(tmp_path, chart):
    path = render_report(make_context(max_rows=2), tmp_path / "report.docx", chart_png=chart)
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo-profile",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=180,
    )
    pdf = tmp_path / "report.pdf"
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):  # poppler-utils: check the Cyrillic text survived
        text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                              text=True).stdout
        assert "Краткое резюме" in text and "Приложение. Полные списки" in text

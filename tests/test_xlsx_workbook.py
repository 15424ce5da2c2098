"""The exported workbook as a project office sees it: one sheet per part in the roadmap's
language, frozen headers, widths, dropdowns, real dates, expressions as text, computed
columns greyed and locked, an instructions sheet; `roadmap new` and `roadmap export`."""

from __future__ import annotations

from datetime import datetime

import openpyxl
import pytest

from models.workbook_layout import SHEETS, word
from tasks.roadmap_export import export_file
from tasks.roadmap_jobs import import_file
from tests.test_cli import run
from tests.workbooks import column_of, row_of

RUSSIAN_SHEETS = ["Дорожная карта", "Партнёры", "Люди", "Направления", "Этапы", "Задачи", "Риски", "Правила",
                  "Инструкция"]


@pytest.fixture
def exported(small_yaml, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    import_file(url, small_yaml)
    return openpyxl.load_workbook(export_file(url, None, tmp_path / "plan.xlsx", as_of=None).path)


def test_one_sheet_per_part_in_the_roadmaps_language_and_instructions_last(exported):
    visible = [ws.title for ws in exported.worksheets if ws.sheet_state == "visible"]
    assert visible == RUSSIAN_SHEETS
    # and, out of sight, what the export held of the live fields (docs/excel.md)
    assert exported.sheetnames == [*RUSSIAN_SHEETS, "_exported"]
    assert exported["_exported"].sheet_state == "veryHidden"


def test_headers_are_frozen_and_columns_have_widths(exported):
    ws = exported["Задачи"]
    assert ws.freeze_panes == "B2"
    assert [c.value for c in ws[1]][:5] == ["Код", "Название", "Этап", "Направление", "Ответственный"]
    assert ws.column_dimensions["B"].width > 30


def test_dates_are_real_dates_and_expressions_stay_text(exported):
    ws = exported["Этапы"]
    assert ws["C2"].value == "session + 1bd" and ws["D2"].value == datetime(2014, 11, 28)
    assert ws["D2"].is_date and ws["D2"].number_format == "dd.mm.yyyy"
    tasks = exported["Задачи"]
    assert tasks.cell(row_of(tasks, "d"), column_of(tasks, "Срок")).value == "task.b + 1w"


def test_references_and_statuses_have_dropdowns(exported):
    rules = {str(dv.sqref): dv for dv in exported["Задачи"].data_validations.dataValidation}
    owner = next(dv for ref, dv in rules.items() if ref.startswith("E2:"))
    assert owner.type == "list" and owner.formula1.startswith("'Люди'!$A$2:$A$")
    status = next(dv for ref, dv in rules.items() if ref.startswith("K2:"))
    assert status.formula1 == '"запланирована,в работе,выполнена,заблокирована,отменена"'


def test_computed_columns_come_last_greyed_and_locked_the_rest_editable(exported):
    ws = exported["Задачи"]
    headers = [c.value for c in ws[1]]
    assert headers[-5:] == ["Ожидаемое окончание", "Резерв, рабочих дней", "Критическая", "Цвет", "Дней просрочки"]
    assert ws.protection.sheet and not ws.protection.password
    expected, title = ws.cell(2, len(headers) - 4), ws.cell(2, 2)
    assert expected.protection.locked and expected.fill.fgColor.rgb.endswith("D9D9D9")
    assert isinstance(expected.value, datetime)
    assert not title.protection.locked


def test_computed_columns_are_ignored_on_import(small_yaml, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    import_file(url, small_yaml)
    path = export_file(url, None, tmp_path / "plan.xlsx").path
    wb = openpyxl.load_workbook(path)
    ws = wb["Задачи"]
    ws.cell(2, column_of(ws, "Цвет")).value = "something else"
    ws.cell(2, column_of(ws, "Резерв, рабочих дней")).value = "=1/0"
    wb.save(path)
    assert import_file(url, path).unchanged


def test_the_instructions_explain_every_column(exported):
    rows = [(r[0].value, r[1].value, r[2].value) for r in exported["Инструкция"].iter_rows() if r[2].value]
    explained = {(sheet, column) for sheet, column, _ in rows}
    for sheet in SHEETS:
        for column in sheet.columns + sheet.computed:
            assert (word(sheet.title, "ru"), word(column.header, "ru")) in explained, column.key


def test_new_writes_an_empty_workbook_that_validate_reads_cell_by_cell(tmp_path):
    out = run("new", "plan.xlsx", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    wb = openpyxl.load_workbook(tmp_path / "plan.xlsx")
    assert wb.sheetnames == RUSSIAN_SHEETS and wb["Задачи"].max_row == 1
    check = run("validate", "plan.xlsx", cwd=tmp_path)
    assert check.returncode == 2
    assert "plan.xlsx:'Дорожная карта'!B2: roadmap.key: a value is required here" in check.stderr


def test_new_keeps_an_existing_file_unless_forced(tmp_path):
    filled = tmp_path / "plan.xlsx"
    filled.write_bytes(b"a filled-in workbook")
    again = run("new", "plan.xlsx", cwd=tmp_path)
    assert again.returncode == 2 and "exists and is kept" in again.stderr and "Traceback" not in again.stderr
    assert filled.read_bytes() == b"a filled-in workbook"
    assert run("new", "plan.xlsx", "--force", cwd=tmp_path).returncode == 0
    assert openpyxl.load_workbook(filled).sheetnames == RUSSIAN_SHEETS


def test_new_and_export_refuse_what_they_cannot_write_with_exit_2(tmp_path, small_yaml):
    assert "ending in .xlsx" in run("new", "plan.ods", cwd=tmp_path).stderr
    assert run("new", "plan.xlsx", "--language", "de", cwd=tmp_path).returncode == 2
    db = f"sqlite:///{tmp_path}/r.db"
    out = run("export", "plan.csv", cwd=tmp_path, db=db)
    assert out.returncode == 2 and "give a file name ending in .yaml, .yml, .xlsx" in out.stderr
    assert run("import", str(small_yaml), cwd=tmp_path, db=db).returncode == 0
    out = run("export", "missing-folder/plan.xlsx", cwd=tmp_path, db=db)
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_export_then_import_from_the_command_line(tmp_path, small_yaml):
    db = f"sqlite:///{tmp_path}/r.db"
    assert run("import", str(small_yaml), cwd=tmp_path, db=db).returncode == 0
    out = run("export", "plan.xlsx", "--as-of", "2014-11-20", cwd=tmp_path, db=db)
    assert out.returncode == 0 and "small: 6 tasks written to plan.xlsx (as of 2014-11-20)" in out.stdout
    again = run("import", "plan.xlsx", cwd=tmp_path, db=db)
    assert again.returncode == 0 and "small: no changes" in again.stdout

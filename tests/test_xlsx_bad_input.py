"""A workbook that cannot be imported as it is: each problem one clear line naming the file,
sheet, cell and key; exit 2 from the command; nothing imported."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import msoffcrypto.format.ooxml
import openpyxl
import pytest
from sqlalchemy import func, select

from models.db import session_scope
from models.problems import RoadmapInvalid
from models.roadmap_files import load_roadmap_file
from models.schema import Roadmap
from models.workbook_file import MAX_UNPACKED_BYTES
from tasks.roadmap_jobs import import_file
from tests.test_cli import run
from tests.workbooks import column_of, edit, row_of, small_workbook


def problems(path: Path) -> list[str]:
    with pytest.raises(RoadmapInvalid) as caught:
        load_roadmap_file(path)
    return [p.format() for p in caught.value.problems]


@pytest.fixture
def plan(small_yaml, tmp_path) -> Path:
    return small_workbook(small_yaml, tmp_path / "plan.xlsx")


def test_the_small_roadmap_as_a_workbook_is_valid(plan):
    loaded = load_roadmap_file(plan)
    assert len(loaded.doc.tasks) == 6 and loaded.doc.stages[0].start == "session + 1bd"


def test_an_unknown_owner_is_reported_at_its_cell_with_a_hint(plan):
    edit(plan, "Задачи", "d", "Ответственный", "bobb")
    assert problems(plan) == [f"{plan}:Задачи!E5: owner: unknown person 'bobb' (did you mean 'bob'?)"]


def test_every_problem_is_reported_at_once_sheet_by_sheet(plan):
    edit(plan, "Люди", "bob", "Эл. почта", "not-an-address")
    edit(plan, "Задачи", "a", "Этап", "s9")
    edit(plan, "Риски", "r1", "Вероятность", 7)
    found = problems(plan)
    assert [line.split(": ")[0].split(":", 1)[1] for line in found] == ["Люди!C4", "Задачи!C2", "Риски!E2"]
    assert "unknown stage 's9'" in found[1] and "less than or equal to 5" in found[2]


def test_a_required_value_left_empty_is_reported_at_its_empty_cell(plan):
    edit(plan, "Задачи", "b", "Название", None)
    assert problems(plan) == [f"{plan}:Задачи!B3: title: a value is required here"]


def test_text_in_a_date_cell_is_reported_at_its_cell(plan):
    edit(plan, "Задачи", "e", "Дата выполнения", "вчера")
    [line] = problems(plan)
    assert line.startswith(f"{plan}:Задачи!L6: done_on: ") and "'вчера'" in line


def test_a_date_with_a_time_of_day_is_refused(plan):
    from datetime import datetime

    edit(plan, "Риски", "r1", "Пересмотр", datetime(2014, 11, 10, 15, 30))
    assert problems(plan) == [f"{plan}:Риски!H2: review: 2014-11-10 15:30 has a time of day: give a date only"]


def test_a_formula_where_a_value_is_expected_is_refused(plan):
    edit(plan, "Риски", "r1", "Влияние", "=2+2")
    assert problems(plan) == [f"{plan}:Риски!F2: impact: a formula (=2+2) where a value is expected: "
                              "type the value itself"]


def test_an_error_value_pasted_as_a_value_is_refused_not_read_as_empty(plan):
    edit(plan, "Риски", "r1", "Влияние", "#N/A")  # openpyxl stores it as an error cell (t="e"), as Excel does
    assert problems(plan) == [f"{plan}:Риски!F2: impact: an error value (#N/A) where a value is expected: "
                              "type the value itself"]


def test_merged_cells_are_refused(plan):
    wb = openpyxl.load_workbook(plan)
    wb["Задачи"].merge_cells("B2:C2")
    wb.save(plan)
    assert problems(plan) == [f"{plan}:Задачи!B2: (workbook): merged cells B2:C2: unmerge them and give each "
                              "value its own cell"]


def test_a_missing_sheet_is_named(plan):
    wb = openpyxl.load_workbook(plan)
    del wb["Риски"]
    wb.save(plan)
    [line] = problems(plan)
    assert line.startswith(f"{plan}:(workbook): (sheets): missing sheet 'Риски' or 'Risks'")


def test_a_field_given_twice_on_the_roadmap_sheet_is_refused_at_its_second_row(plan):
    wb = openpyxl.load_workbook(plan)
    ws = wb["Дорожная карта"]
    row = ws.max_row + 1
    ws.cell(row, 1).value, ws.cell(row, 2).value = "Код", "other-key"  # would create another roadmap
    wb.save(plan)
    [line] = problems(plan)
    assert line.startswith(f"{plan}:'Дорожная карта'!A{row}: ") and "appears twice (rows 2 and" in line


def test_a_missing_column_is_named_in_the_sheets_language(plan):
    wb = openpyxl.load_workbook(plan)
    ws = wb["Задачи"]
    ws.delete_cols(column_of(ws, "Срок"))
    wb.save(plan)
    [line] = problems(plan)
    assert line.startswith(f"{plan}:Задачи!S1: due: missing column 'Срок' (due)")


def test_an_unknown_column_is_named_with_a_hint(plan):
    edit(plan, "Задачи", "a", "Примечания", "x")
    wb = openpyxl.load_workbook(plan)
    wb["Задачи"]["N1"] = "Примечаня"
    wb.save(plan)
    found = problems(plan)
    assert f"{plan}:Задачи!N1: (header): unknown column 'Примечаня' (did you mean 'Примечания'?)" in found


def test_an_english_workbook_is_read_as_well(small_yaml, tmp_path):
    plan = small_workbook(small_yaml, tmp_path / "plan.xlsx", lang="en")
    edit(plan, "Tasks", "d", "Owner", "bobb")
    assert problems(plan) == [f"{plan}:Tasks!E5: owner: unknown person 'bobb' (did you mean 'bob'?)"]


@pytest.mark.parametrize(("name", "advice"), [
    ("plan.xls", "save it as an Excel workbook (.xlsx)"),
    ("plan.csv", "a CSV file, which holds one sheet"),
    ("plan.ods", "save it as an Excel workbook (.xlsx)"),
    ("plan.xlsm", "without macros"),
])
def test_a_file_type_that_is_not_read_says_what_to_do_instead(tmp_path, name, advice):
    path = tmp_path / name
    path.write_bytes(b"key;title\n")
    [line] = problems(path)
    assert line.startswith(f"{path}:1: (file): ") and advice in line


def test_a_password_protected_workbook_is_refused_with_what_to_do(plan, tmp_path):
    locked = tmp_path / "locked.xlsx"
    with plan.open("rb") as plain, locked.open("wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(plain).encrypt("secret", out)
    [line] = problems(locked)
    assert "protected by a password" in line and "remove the password" in line


def test_an_old_xls_workbook_named_xlsx_is_recognised(tmp_path):
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    [line] = problems(path)
    assert "old Excel 97-2003 workbook (.xls)" in line


@pytest.mark.parametrize("damage", ["not a zip", "cut in half", "no workbook inside"])
def test_a_damaged_workbook_is_one_clear_error(plan, tmp_path, damage):
    data = plan.read_bytes()
    path = tmp_path / "damaged.xlsx"
    if damage == "not a zip":
        path.write_text("key,title\na,Survey\n")
    elif damage == "cut in half":
        path.write_bytes(data[: len(data) // 2])
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("hello.txt", "hello")
        path.write_bytes(buf.getvalue())
    [line] = problems(path)
    assert line.startswith(f"{path}:1: (file): ") and ("damaged" in line or "not an Excel workbook" in line)


def test_a_workbook_that_would_unpack_to_too_much_is_refused_unread(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("xl/worksheets/sheet1.xml", "w") as part:
        chunk = bytes(1 << 20)
        for _ in range((MAX_UNPACKED_BYTES >> 20) + 1):
            part.write(chunk)
    assert path.stat().st_size < 1 << 20
    [line] = problems(path)
    limit = MAX_UNPACKED_BYTES >> 20
    assert f"unpacks to {limit + 1} MB" in line and f"limited to {limit} MB" in line


def test_a_stray_cell_far_to_the_right_is_refused_before_the_rows_are_built(plan):
    wb = openpyxl.load_workbook(plan)
    wb["Задачи"]["XFD3"] = "x"
    wb.save(plan)
    [line] = problems(plan)
    assert "sheet 'Задачи' is used as far as column XFD, row 7: a roadmap sheet has at most 64 columns" in line


def test_nothing_is_imported_from_a_workbook_with_a_problem(db_url, plan):
    edit(plan, "Задачи", "d", "Ответственный", "bobb")
    with pytest.raises(RoadmapInvalid):
        import_file(db_url, plan)
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Roadmap)) == 0


def test_validate_and_import_exit_2_with_the_cell_and_nothing_changed(plan, tmp_path):
    edit(plan, "Задачи", "d", "Ответственный", "bobb")
    for command in ("validate", "import"):
        out = run(command, str(plan), cwd=tmp_path, db=f"sqlite:///{tmp_path}/r.db")
        assert out.returncode == 2, out.stderr
        assert f"{plan}:Задачи!E5: owner: unknown person 'bobb' (did you mean 'bob'?)" in out.stderr
        assert "nothing was changed" in out.stderr and "Traceback" not in out.stderr


def test_validate_of_a_csv_file_exits_2_saying_what_to_do(tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text("key,title\n")
    out = run("validate", str(path), cwd=tmp_path)
    assert out.returncode == 2 and "a CSV file, which holds one sheet" in out.stderr


def test_row_and_column_helpers_find_the_cells(plan):  # what the edits above rely on
    ws = openpyxl.load_workbook(plan)["Задачи"]
    assert (row_of(ws, "d"), column_of(ws, "Ответственный")) == (5, 5)
    assert ws.cell(5, 8).value == "task.b + 1w" and ws.cell(4, 8).value.date() == date(2014, 11, 7)


def test_a_duplicate_key_names_the_cell_of_the_first(plan):
    edit(plan, "Задачи", "b", "Код", "a")
    found = problems(plan)
    assert f"{plan}:Задачи!A3: key: duplicate tasks key 'a' (first at Задачи!A2)" in found

"""A roadmap goes out as a workbook (or YAML) and comes back: export then import changes
nothing, one edited cell is exactly one change, and a workbook saved by LibreOffice Calc
imports the same. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from models.db import session_scope
from models.schema import Task
from tasks.roadmap_export import export_file
from tasks.roadmap_jobs import change_task, import_file
from tests.workbooks import edit, needs_calc, saved_by_libreoffice


def test_exporting_the_example_to_a_workbook_and_importing_it_changes_nothing(db_url, example_yaml, tmp_path):
    import_file(db_url, example_yaml)
    out = export_file(db_url, None, tmp_path / "plan.xlsx")
    assert out.tasks == 58
    report = import_file(db_url, out.path)
    assert report.unchanged and not report.identical, (report.added, report.changed, report.archived)


def test_exporting_the_example_to_yaml_and_importing_it_changes_nothing(db_url, example_yaml, tmp_path):
    import_file(db_url, example_yaml)
    out = export_file(db_url, None, tmp_path / "plan.yaml")
    assert "session + " in out.path.read_text() or "stage." in out.path.read_text()  # expressions as written
    report = import_file(db_url, out.path)
    assert report.unchanged, (report.added, report.changed, report.archived)


def test_editing_one_cell_imports_exactly_that_change(db_url, small_yaml, tmp_path):
    import_file(db_url, small_yaml)
    path = export_file(db_url, None, tmp_path / "plan.xlsx").path
    edit(path, "Задачи", "c", "Название", "Agreement signed")
    report = import_file(db_url, path)
    assert report.changed == [("task", "c", "title", "Agreement", "Agreement signed")]
    assert not report.added and not report.archived and not report.moved


def test_updates_made_after_the_export_survive_importing_it_with_one_cell_edited(db_url, small_yaml, tmp_path):
    """The office exports on Monday, owners mark tasks done during the week, and the
    workbook edited meanwhile comes back on Friday: only the edited cells change."""
    import_file(db_url, small_yaml)
    change_task(db_url, None, "b", status="in_progress", progress=30, on=date(2014, 11, 3))
    path = export_file(db_url, None, tmp_path / "plan.xlsx").path
    change_task(db_url, None, "b", status="done", on=date(2014, 11, 5))
    change_task(db_url, None, "d", progress=50, on=date(2014, 11, 5))
    edit(path, "Задачи", "c", "Название", "Agreement signed")
    edit(path, "Задачи", "a", "Статус", "в работе")  # a status changed in the workbook still wins
    report = import_file(db_url, path)
    assert sorted(report.changed) == [("task", "a", "status", "planned", "in_progress"),
                                      ("task", "c", "title", "Agreement", "Agreement signed")]
    with session_scope(db_url) as session:
        live = {t.key: (t.status, t.progress) for t in session.scalars(select(Task))}
    assert live["b"][0] == "done" and live["d"][1] == 50
    # Going back to the YAML file takes back the workbook's edits, never the live updates.
    again = import_file(db_url, small_yaml)
    assert sorted(again.changed) == [("task", "a", "status", "in_progress", "planned"),
                                     ("task", "c", "title", "Agreement signed", "Agreement")]
    with session_scope(db_url) as session:
        live = {t.key: (t.status, t.progress) for t in session.scalars(select(Task))}
    assert live["b"][0] == "done" and live["d"][1] == 50


def test_a_status_chosen_from_the_dropdown_in_russian_is_the_status(db_url, small_yaml, tmp_path):
    import_file(db_url, small_yaml)
    path = export_file(db_url, None, tmp_path / "plan.xlsx").path
    edit(path, "Задачи", "a", "Статус", "в работе")
    report = import_file(db_url, path)
    assert report.changed == [("task", "a", "status", "planned", "in_progress")]


def test_a_row_deleted_from_the_workbook_archives_its_task(db_url, small_yaml, tmp_path):
    import openpyxl

    from tests.workbooks import row_of

    import_file(db_url, small_yaml)
    path = export_file(db_url, None, tmp_path / "plan.xlsx").path
    wb = openpyxl.load_workbook(path)
    ws = wb["Задачи"]
    ws.delete_rows(row_of(ws, "f"))
    for risk_row in wb["Риски"].iter_rows(min_row=2):  # r1 names task f
        for cell in risk_row:
            if cell.value == "f":
                cell.value = None
    wb.save(path)
    report = import_file(db_url, path)
    assert report.archived == [("task", "f")]
    assert report.changed == [("risk", "r1", "tasks", ["f"], [])]


@needs_calc
def test_a_workbook_saved_by_libreoffice_imports_the_same(db_url, example_yaml, tmp_path):
    import_file(db_url, example_yaml)
    path = export_file(db_url, None, tmp_path / "plan.xlsx").path
    report = import_file(db_url, saved_by_libreoffice(path, tmp_path))
    assert report.unchanged and not report.identical, (report.added, report.changed, report.archived)
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 58


@needs_calc
def test_one_cell_edited_then_saved_by_libreoffice_is_exactly_that_change(db_url, small_yaml, tmp_path):
    import_file(db_url, small_yaml)
    path = export_file(db_url, None, tmp_path / "plan.xlsx").path
    edit(path, "Задачи", "d", "Ответственный", "alice")
    report = import_file(db_url, saved_by_libreoffice(path, tmp_path))
    assert report.changed == [("task", "d", "owner", "bob", "alice")]


@needs_calc
def test_a_formula_libreoffice_computed_is_still_refused_at_its_cell(small_yaml, tmp_path):
    import pytest

    from models.problems import RoadmapInvalid
    from models.roadmap_files import load_roadmap_file
    from tests.workbooks import small_workbook

    plan = edit(small_workbook(small_yaml, tmp_path / "plan.xlsx"), "Риски", "r1", "Влияние", "=2+2")
    saved = saved_by_libreoffice(plan, tmp_path)  # now with its result, 4, stored beside the formula
    with pytest.raises(RoadmapInvalid) as caught:
        load_roadmap_file(saved)
    assert [p.format() for p in caught.value.problems] == [
        f"{saved}:Риски!F2: impact: a formula (=2+2) where a value is expected: type the value itself"]

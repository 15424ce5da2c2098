"""MS Project files: the export read back by MPXJ, the round trip, and bad input (docs/msproject.md)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from models.db import session_scope
from models.mspdi_fields import NS
from models.problems import RoadmapInvalid
from models.schema import Change, Person, Task
from tasks.msproject_jobs import import_project_file, validate_project_file
from tasks.roadmap_export import export_file
from tasks.roadmap_jobs import change_task, import_file
from tests.test_cli import run

q = f"{{{NS}}}"
needs_mpxj = pytest.mark.skipif(
    shutil.which("java") is None or not __import__("importlib").util.find_spec("mpxj"),
    reason="MPXJ or Java not installed: pip install '.[msproject]' and a Java runtime (make test does both)")


@pytest.fixture
def exported(db_url, small_yaml, tmp_path) -> Path:
    import_file(db_url, small_yaml)
    return export_file(db_url, "small", tmp_path / "small.xml", as_of=date(2014, 11, 10)).path


def _tree(path: Path):
    return etree.parse(str(path))


def _task(tree, key: str):
    for task in tree.getroot().iter(f"{q}Task"):
        for attribute in task.iterfind(f"{q}ExtendedAttribute"):
            if attribute.findtext(f"{q}FieldID") == "188743731" and attribute.findtext(f"{q}Value") == key:
                return task
    raise AssertionError(f"no task {key}")


def _save(tree, path: Path) -> Path:
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")
    return path


def _counts(db_url: str) -> tuple[int, int, int]:
    with session_scope(db_url) as s:
        return (s.scalar(select(func.count()).select_from(Task)), s.scalar(select(func.count()).select_from(Person)),
                s.scalar(select(func.count()).select_from(Change)))


# -- the export, read back by the reference reader ---------------------------------


@needs_mpxj
def test_mpxj_reads_back_the_export_with_the_same_tasks_finish_dates_links_resources_and_stages(
        db_url, small_yaml, tmp_path):
    from tasks.mpxj_bridge import read_project, start_jvm

    start_jvm()
    from java.time import LocalDate

    # A working Saturday and an extra day off of the roadmap's own, beside Russia's holidays.
    text = small_yaml.read_text().replace(
        "calendar: RU", "calendar: {country: RU, extra_working_days: [2014-11-15], extra_days_off: [2014-11-12]}")
    (tmp_path / "cal.yaml").write_text(text)
    import_file(db_url, tmp_path / "cal.yaml")
    path = export_file(db_url, "small", tmp_path / "small.xml").path
    project = read_project(path)
    with session_scope(db_url) as s:
        rows = {t.key: t for t in s.scalars(select(Task))}
        people = {p.key: p.name for p in s.scalars(select(Person))}
    read = {str(t.getText(1)): t for t in project.getTasks() if t.getText(1)}
    assert {k for k, t in read.items() if not t.getSummary()} == set(rows)
    assert {k for k, t in read.items() if t.getSummary()} == {"s1", "s2"}
    uid_key = {int(t.getUniqueID()): k for k, t in read.items()}
    for key, row in rows.items():
        task = read[key]
        assert str(task.getName()) == row.title
        assert task.getFinish().toLocalDate().toString() == row.finish.isoformat()
        assert task.getStart().toLocalDate().toString() == min(row.start, row.finish).isoformat()
        assert int(task.getOutlineLevel()) == 2 and str(task.getParentTask().getText(1)) == row.stage
        assert sorted(uid_key[int(r.getPredecessorTask().getUniqueID())] for r in task.getPredecessors()) \
            == sorted(row.depends_on)
        assert [str(a.getResource().getName()) for a in task.getResourceAssignments()] == [people[row.owner]]
        assert task.getBaselineFinish().toLocalDate().toString() == row.baseline_due.isoformat()
    assert {str(r.getName()) for r in project.getResources() if r.getName()} == set(people.values())
    calendar = project.getDefaultCalendar()
    assert not calendar.isWorkingDate(LocalDate.of(2014, 11, 4))  # Unity Day
    assert not calendar.isWorkingDate(LocalDate.of(2014, 11, 12))  # the roadmap's extra day off
    assert calendar.isWorkingDate(LocalDate.of(2014, 11, 15))  # its working Saturday
    assert not calendar.isWorkingDate(LocalDate.of(2014, 11, 16)) and calendar.isWorkingDate(LocalDate.of(2014, 11, 17))


def test_uids_are_stable_across_exports(exported, db_url, tmp_path):
    before = {_key(t): t.findtext(f"{q}UID") for t in _tree(exported).getroot().iter(f"{q}Task")}
    change_task(db_url, "small", "a", status="done", on=date(2014, 11, 7))
    after = export_file(db_url, "small", tmp_path / "again.xml").path
    assert {_key(t): t.findtext(f"{q}UID") for t in _tree(after).getroot().iter(f"{q}Task")} == before
    assert _task(_tree(after), "a").findtext(f"{q}PercentComplete") == "100"


def _key(task) -> str | None:
    return next((a.findtext(f"{q}Value") for a in task.iterfind(f"{q}ExtendedAttribute")
                 if a.findtext(f"{q}FieldID") == "188743731"), None)


# -- the round trip ---------------------------------------------------------------


def test_an_exported_file_imported_into_its_roadmap_changes_nothing(exported, db_url):
    report = import_project_file(db_url, exported, "small")
    assert report.unchanged, (report.added, report.changed, report.archived, report.moved)


def test_live_updates_exported_then_imported_change_nothing(exported, db_url, tmp_path, small_yaml):
    change_task(db_url, "small", "b", status="in_progress", progress=40)
    change_task(db_url, "small", "c", status="done", on=date(2014, 11, 6))
    path = export_file(db_url, "small", tmp_path / "live.xml").path
    report = import_project_file(db_url, path, "small")
    assert report.unchanged, (report.added, report.changed, report.archived, report.moved)
    # Nor does the YAML file imported again: the project file did not pass the live state off as
    # the file's, so the updates stay (models/importer.py, step 3).
    again = small_yaml.read_text().replace("# A hand-built", "# Again: a hand-built")
    (tmp_path / "again.yaml").write_text(again)
    report = import_file(db_url, tmp_path / "again.yaml")
    assert report.unchanged, (report.added, report.changed, report.archived, report.moved)


def test_updates_made_after_the_export_survive_importing_it_with_one_name_edited(exported, db_url, tmp_path):
    """Exported on Monday, tasks updated live during the week, the file edited in MS Project
    meanwhile: importing it changes what was edited in it, and none of the live updates."""
    change_task(db_url, "small", "b", status="in_progress", progress=40)
    change_task(db_url, "small", "c", status="done", on=date(2014, 11, 6))
    tree = _tree(exported)
    _task(tree, "a").find(f"{q}Name").text = "Site survey"
    report = import_project_file(db_url, _save(tree, tmp_path / "edited.xml"), "small")
    assert report.changed == [("task", "a", "title", "Survey", "Site survey")], report.changed
    with session_scope(db_url) as s:
        live = {t.key: (t.status, t.progress, t.duration) for t in s.scalars(select(Task))}
    assert live["b"][:2] == ("in_progress", 40) and live["c"][0] == "done"


def test_a_finish_moved_in_the_file_changes_that_task_only(exported, db_url, tmp_path):
    tree = _tree(exported)
    _task(tree, "c").find(f"{q}Finish").text = "2014-11-14T17:00:00"
    _task(tree, "a").find(f"{q}Name").text = "Site survey"
    report = import_project_file(db_url, _save(tree, tmp_path / "edited.xml"), "small")
    changed = {(entity, key, name): (old, new) for entity, key, name, old, new in report.changed}
    assert changed == {("task", "c", "due_expr"): ("2014-11-07", "2014-11-14"),
                       ("task", "c", "start_expr"): (None, "2014-10-28"),
                       ("task", "a", "title"): ("Survey", "Site survey")}
    assert not report.added and not report.archived


def test_percent_complete_set_in_the_file_marks_the_task_done(exported, db_url, tmp_path):
    tree = _tree(exported)
    task = _task(tree, "b")
    task.find(f"{q}PercentComplete").text = "100"
    etree.SubElement(task, f"{q}ActualFinish").text = "2014-11-12T17:00:00"
    import_project_file(db_url, _save(tree, tmp_path / "done.xml"), "small")
    with session_scope(db_url) as s:
        b = s.scalar(select(Task).where(Task.key == "b"))
        assert (b.status, b.done_on) == ("done", date(2014, 11, 12))


@needs_mpxj
def test_a_file_saved_again_by_mpxj_imports_with_no_changes(exported, db_url, tmp_path):
    from tasks.mpxj_bridge import to_mspdi

    again = tmp_path / "resaved.xml"
    again.write_bytes(to_mspdi(exported))
    report = import_project_file(db_url, again, "small")
    assert report.unchanged, (report.added, report.changed, report.archived, report.moved)


@needs_mpxj
def test_an_mpp_path_is_read_through_mpxj(exported, db_url, tmp_path):
    # MPXJ cannot write .mpp; it tells a file's format by its content, so an MPX file named .mpp
    # takes the .mpp path (MPXJ's reader, its MSPDI writer, the XML import) end to end.
    from tasks.mpxj_bridge import read_project, start_jvm

    start_jvm()
    from org.mpxj.writer import FileFormat, UniversalProjectWriter

    mpp = tmp_path / "plan.mpp"
    UniversalProjectWriter(FileFormat.MPX).write(read_project(exported), str(mpp))
    loaded = validate_project_file(db_url, mpp, "small")
    assert [t.key for t in loaded.doc.tasks] == ["a", "b", "c", "d", "e", "f"]
    assert [s.key for s in loaded.doc.stages] == ["s1", "s2"]


def test_an_mpp_file_without_mpxj_says_how_to_install_it(tmp_path, exported):
    mpp = tmp_path / "plan.mpp"
    mpp.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 600)
    code = ("import sys; sys.modules['mpxj'] = None; from cli.main import app; "
            f"sys.argv = ['roadmap', 'import', {str(mpp)!r}, '--db', 'sqlite:///x.db']; app()")
    out = run_python(code, tmp_path)
    assert out.returncode == 2
    assert "pip install 'roadmap-office[msproject]'" in out.stderr and "Traceback" not in out.stderr


def run_python(code: str, cwd: Path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=120)


# -- resources and people -----------------------------------------------------------


def _add_resource(tree, uid: int, name: str, email: str | None, task_key: str | None = None) -> None:
    resources = tree.getroot().find(f"{q}Resources")
    resource = etree.SubElement(resources, f"{q}Resource")
    etree.SubElement(resource, f"{q}UID").text = str(uid)
    etree.SubElement(resource, f"{q}Name").text = name
    if email:
        etree.SubElement(resource, f"{q}EmailAddress").text = email
    if task_key:
        for assignment in tree.getroot().iter(f"{q}Assignment"):
            if assignment.findtext(f"{q}TaskUID") == _task(tree, task_key).findtext(f"{q}UID"):
                assignment.find(f"{q}ResourceUID").text = str(uid)


def test_unknown_resources_are_one_error_listing_them_all_and_nothing_is_imported(exported, db_url, tmp_path):
    tree = _tree(exported)
    _add_resource(tree, 9001, "Dave", "dave@example.org", "a")
    _add_resource(tree, 9002, "Eve", None)
    before = _counts(db_url)
    with pytest.raises(RoadmapInvalid) as caught:
        import_project_file(db_url, _save(tree, tmp_path / "people.xml"), "small")
    errors = caught.value.errors
    assert len(errors) == 1
    assert "2 resource(s) are not people of roadmap 'small'" in errors[0].message
    assert "'Dave' <dave@example.org>" in errors[0].message and "'Eve' (line" in errors[0].message
    assert "--create-people" in errors[0].message
    assert _counts(db_url) == before


def test_resources_match_people_by_email_then_by_name(exported, db_url, tmp_path):
    tree = _tree(exported)
    for resource in tree.getroot().iter(f"{q}Resource"):
        if resource.findtext(f"{q}Name") == "Bob":
            resource.find(f"{q}Name").text = "Robert"  # same address: still bob
        if resource.findtext(f"{q}Name") == "Alice":
            resource.find(f"{q}EmailAddress").text = "alice@elsewhere.example"  # same name: still alice
    assert import_project_file(db_url, _save(tree, tmp_path / "m.xml"), "small").unchanged


def test_create_people_makes_unknown_resources_people(exported, db_url, tmp_path):
    tree = _tree(exported)
    _add_resource(tree, 9001, "Dave Brown", "dave.brown@example.org", "a")
    report = import_project_file(db_url, _save(tree, tmp_path / "people.xml"), "small", create_people=True)
    assert ("person", "dave-brown") in report.added
    assert ("task", "a", "owner", "alice", "dave-brown") in report.changed


def test_create_people_needs_an_email_address(exported, db_url, tmp_path):
    tree = _tree(exported)
    _add_resource(tree, 9002, "Eve", None, "a")
    with pytest.raises(RoadmapInvalid) as caught:
        import_project_file(db_url, _save(tree, tmp_path / "people.xml"), "small", create_people=True)
    [error] = caught.value.errors
    assert "resources that cannot become people: 'Eve' (line" in error.message and "e-mail address" in error.message


# -- bad input ------------------------------------------------------------------------


def test_a_resource_address_no_person_could_have_is_matched_by_name_or_listed_not_a_traceback(
        exported, db_url, tmp_path):
    tree = _tree(exported)
    for resource in tree.getroot().iter(f"{q}Resource"):
        if resource.findtext(f"{q}Name") == "Bob":
            resource.find(f"{q}EmailAddress").text = "bob@corp"  # an internal address: matched by name
    _add_resource(tree, 9003, "Mallory", "mallory@corp", "a")
    with pytest.raises(RoadmapInvalid) as caught:
        import_project_file(db_url, _save(tree, tmp_path / "corp.xml"), "small", create_people=True)
    [error] = caught.value.errors
    assert "'Mallory' <mallory@corp>" in error.message and "valid e-mail address" in error.message


@pytest.mark.parametrize("uid", ["inf", "1e400", "nan"])
def test_a_uid_that_is_no_integer_is_a_problem_not_a_traceback(exported, db_url, tmp_path, uid):
    tree = _tree(exported)
    _task(tree, "a").find(f"{q}UID").text = uid
    messages = _problems(db_url, _save(tree, tmp_path / "uid.xml"))
    assert messages and all(m.startswith(str(tmp_path / "uid.xml")) for m in messages)



def _problems(db_url, path: Path) -> list[str]:
    with pytest.raises(RoadmapInvalid) as caught:
        validate_project_file(db_url, path, "small")
    return [p.format() for p in caught.value.errors]


def test_a_file_that_is_not_xml_is_refused_with_its_line(exported, db_url, tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<Project>\n<Tasks>\n</Project>\n")
    [message] = _problems(db_url, bad)
    assert message.startswith(f"{bad}:3: (xml): not a valid XML file")


@pytest.mark.parametrize("doctype, entity", [
    ('<!DOCTYPE Project [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
     '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>', "&c;"),
    ('<!DOCTYPE Project [<!ENTITY secret SYSTEM "file:///etc/passwd">]>', "&secret;"),
])
def test_entities_and_dtds_are_refused_before_anything_expands(exported, db_url, tmp_path, doctype, entity):
    text = exported.read_text().replace("<Name>small.xml</Name>", f"<Name>{entity}</Name>", 1)
    bad = tmp_path / "bomb.xml"
    bad.write_text(text.replace("?>\n", f"?>\n{doctype}\n", 1))
    [message] = _problems(db_url, bad)
    assert "a DOCTYPE (DTD) is not allowed" in message


def test_missing_elements_are_named_with_their_line(exported, db_url, tmp_path):
    tree = _tree(exported)
    a, b = _task(tree, "a"), _task(tree, "b")
    a.remove(a.find(f"{q}UID"))
    b.remove(b.find(f"{q}Finish"))
    path = _save(tree, tmp_path / "missing.xml")
    a, b = _tree(path).getroot().iter(f"{q}Task"), _task(_tree(path), "b")  # their lines in the file saved
    a = next(t for t in a if t.findtext(f"{q}Name") == "Survey")
    messages = _problems(db_url, path)
    assert any(f":{a.sourceline}: Task: missing or unreadable <UID>" in m for m in messages)
    assert any(f":{b.sourceline}: task 'Design' (UID " in m and "missing <Finish>" in m for m in messages)


def test_a_link_to_a_missing_task_and_a_cycle_are_refused(exported, db_url, tmp_path):
    tree = _tree(exported)
    _task(tree, "b").find(f"{q}PredecessorLink/{q}PredecessorUID").text = "99999"
    path = _save(tree, tmp_path / "dangling.xml")
    link = _task(_tree(path), "b").find(f"{q}PredecessorLink")
    messages = _problems(db_url, path)
    assert any(f":{link.sourceline}: task 'Design'" in m and "a link from UID 99999, which is no task" in m
               for m in messages)
    tree = _tree(exported)
    a, f = _task(tree, "a"), _task(tree, "f")
    cycle = etree.Element(f"{q}PredecessorLink")
    etree.SubElement(cycle, f"{q}PredecessorUID").text = f.findtext(f"{q}UID")
    a.insert(list(a).index(a.find(f"{q}ExtendedAttribute")), cycle)
    messages = _problems(db_url, _save(tree, tmp_path / "cycle.xml"))
    assert any("cycle" in m for m in messages), messages


def test_a_task_without_a_resource_or_outside_a_stage_is_refused(exported, db_url, tmp_path):
    tree = _tree(exported)
    uid = _task(tree, "a").findtext(f"{q}UID")
    for assignment in list(tree.getroot().iter(f"{q}Assignment")):
        if assignment.findtext(f"{q}TaskUID") == uid:
            assignment.getparent().remove(assignment)
    _task(tree, "f").find(f"{q}OutlineLevel").text = "1"
    messages = _problems(db_url, _save(tree, tmp_path / "orphans.xml"))
    assert any("task 'Survey' (UID" in m and "no resource assigned" in m for m in messages)
    assert any("task 'Build' (UID" in m and "a task at the top level" in m for m in messages)


def test_the_cli_validates_imports_and_exports_ms_project_xml(tmp_path, small_yaml):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert run("import", str(small_yaml), cwd=tmp_path, db=db).returncode == 0
    out = run("export", "plan.xml", cwd=tmp_path, db=db)
    assert out.returncode == 0, out.stderr
    assert run("validate", "plan.xml", cwd=tmp_path, db=db).returncode == 0
    assert "small: no changes" in run("import", "plan.xml", cwd=tmp_path, db=db).stdout
    (tmp_path / "junk.xml").write_text("not xml at all")
    bad = run("import", "junk.xml", cwd=tmp_path, db=db)
    assert bad.returncode == 2 and "junk.xml:1: (xml): not a valid XML file" in bad.stderr
    assert "Traceback" not in bad.stderr
    wrong = run("export", "plan.csv", cwd=tmp_path, db=db)
    assert wrong.returncode == 2 and "cannot write .csv" in wrong.stderr and ".xml" in wrong.stderr
    for option in (["--create-people"], ["--roadmap", "other"]):  # refused for a roadmap file, not ignored
        ignored = run("import", str(small_yaml), *option, cwd=tmp_path, db=db)
        assert ignored.returncode == 2 and f"{option[0]} is for MS Project files" in ignored.stderr


def test_a_project_file_over_the_size_limit_is_refused_unread(db_url, small_yaml, tmp_path):
    from tasks.msproject_jobs import MAX_PROJECT_FILE_BYTES

    import_file(db_url, small_yaml)
    big = tmp_path / "big.xml"
    with big.open("wb") as f:
        f.truncate(MAX_PROJECT_FILE_BYTES + 1)  # sparse: nothing is written
    [message] = _problems(db_url, big)
    assert "roadmap files are limited to 64 MB" in message

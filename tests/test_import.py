"""Import is an upsert by key, safe to repeat, on SQLite and PostgreSQL."""

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.db import session_scope
from models.errors import UserError
from models.history import history
from models.importer import import_roadmap
from models.loader import load_roadmap, load_roadmap_text
from models.problems import RoadmapInvalid
from models.roadmaps import select_roadmap
from models.schema import Change, Risk, Roadmap, Task
from models.updates import update_risk, update_task
from tasks.roadmap_jobs import import_file, roadmap_status


def edited(small_yaml: Path, tmp_path: Path, *pairs: tuple[str, str]) -> Path:
    text = small_yaml.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    out = tmp_path / "edited.yaml"
    out.write_text(text)
    return out


def tasks_by_key(url: str) -> dict[str, Task]:
    with session_scope(url) as s:
        return {t.key: t for t in s.scalars(select(Task))}


def test_importing_twice_changes_nothing(db_url, small_yaml):
    first = import_file(db_url, small_yaml)
    assert first.created and ("task", "a") in first.added
    with session_scope(db_url) as s:
        changes = s.scalar(select(func.count()).select_from(Change))
    second = import_file(db_url, small_yaml)
    assert second.unchanged
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Change)) == changes


def test_edited_file_applies_and_reports_differences(db_url, small_yaml, tmp_path):
    import_file(db_url, small_yaml)
    path = edited(
        small_yaml, tmp_path,
        ("{key: b, title: Design, stage: s1, owner: alice, duration: 3bd",
         "{key: b, title: Design v2, stage: s1, owner: bob, duration: 5bd"),
        ("  - {key: e, title: Kick-off, stage: s1, owner: alice, duration: 1, depends_on: [a], status: done, "
         "done_on: 2014-11-06}\n", ""),
        ("risks:\n", "risks:\n  - {key: r3, title: New risk, owner: bob, probability: 1, impact: 1}\n"),
    )
    report = import_file(db_url, path)
    assert ("task", "b", "title", "Design", "Design v2") in report.changed
    assert ("task", "b", "owner", "alice", "bob") in report.changed
    assert ("task", "e") in report.archived
    assert ("risk", "r3") in report.added
    # b is two days longer, so d (task.b + 1w) and f move; the move is recorded.
    moved = {m.key: (m.old_due, m.new_due) for m in report.moved}
    assert moved["b"] == (date(2014, 11, 10), date(2014, 11, 12))
    assert moved["d"] == (date(2014, 11, 17), date(2014, 11, 19))
    tasks = tasks_by_key(db_url)
    assert tasks["e"].archived and tasks["b"].sequence == 1
    assert tasks["b"].baseline_due == date(2014, 11, 10)  # the baseline stays at the first import
    # Restoring the original file restores the archived task instead of duplicating it.
    again = import_file(db_url, small_yaml)
    assert ("task", "e", "archived", True, False) in again.changed
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Task).where(Task.key == "e")) == 1


def test_cli_status_survives_reimport_until_the_file_changes(db_url, small_yaml, tmp_path):
    import_file(db_url, small_yaml)
    with session_scope(db_url) as s:
        roadmap = select_roadmap(s, None)
        result = update_task(s, roadmap, "a", today=date(2014, 11, 3), status="done", on=date(2014, 11, 3))
        assert ("status", "planned", "done") in result.changes
        # a finished early: b, d and f move forward
        assert {m.key for m in result.moved} >= {"b", "d", "f"}
    assert import_file(db_url, small_yaml).unchanged
    assert tasks_by_key(db_url)["a"].status == "done"
    path = edited(small_yaml, tmp_path, ("owner: alice, duration: 5}", "owner: alice, duration: 5, status: blocked}"))
    report = import_file(db_url, path)
    assert ("task", "a", "status", "done", "blocked") in report.changed
    with session_scope(db_url) as s:
        roadmap = select_roadmap(s, None)
        rows = history(s, roadmap.id, "task", "a")
    statuses = [(c.field, c.old, c.new, c.source) for c in rows if c.field == "status"]
    assert statuses == [("status", None, "planned", "import"), ("status", "planned", "done", "cli"),
                        ("status", "done", "blocked", "import")]


def test_bad_file_leaves_the_database_untouched(db_url, small_yaml, tmp_path):
    import_file(db_url, small_yaml)
    bad = edited(small_yaml, tmp_path, ("title: Survey", "title: Survey v2"),
                 ("owner: bob, due: task.b", "owner: nobody, due: task.b"))
    with pytest.raises(RoadmapInvalid):
        import_file(db_url, bad)
    assert tasks_by_key(db_url)["a"].title == "Survey"


def test_failure_inside_import_rolls_back(db_url, small_yaml):
    loaded = load_roadmap(small_yaml)
    with pytest.raises(RuntimeError):
        with session_scope(db_url) as s:
            import_roadmap(s, loaded)
            raise RuntimeError("crash after the import, before the commit")
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Roadmap)) == 0


def test_several_roadmaps_need_a_key(db_url, small_yaml):
    import_file(db_url, small_yaml)
    other = load_roadmap_text(small_yaml.read_text().replace("key: small", "key: other"), "other.yaml")
    with session_scope(db_url) as s:
        import_roadmap(s, other)
    with pytest.raises(UserError, match="several roadmaps"):
        roadmap_status(db_url, None, date(2014, 11, 11))
    doc = roadmap_status(db_url, "other", date(2014, 11, 11))
    assert doc["roadmap"]["key"] == "other"
    with pytest.raises(UserError, match="no roadmap with key 'nope'"):
        roadmap_status(db_url, "nope", None)


def test_status_document(db_url, small_yaml):
    import_file(db_url, small_yaml)
    doc = roadmap_status(db_url, None, date(2014, 11, 11))
    tasks = {t["key"]: t for t in doc["tasks"]}
    assert tasks["a"]["days_late"] == 4 and tasks["a"]["rag"] == "red"  # 6, 7, 10, 11 Nov
    # d is due in 4 business days, but b (late) must finish first: expected 21 Nov, so red;
    # f after d likewise (models/forecast.py, docs/scheduling.md).
    assert tasks["d"]["rag"] == "red" and tasks["d"]["days_left"] == 4 and tasks["d"]["expected"] == "2014-11-21"
    assert tasks["f"]["rag"] == "red" and tasks["f"]["critical"] and tasks["f"]["expected"] == "2014-12-05"
    assert tasks["e"]["rag"] == "green" and not tasks["e"]["critical"]
    assert tasks["d"]["blocked_by"] == ["b", "c"]
    assert doc["summary"] == {"tasks": 6, "done": 1, "overdue": 3, "red": 5, "amber": 0, "critical": 5}
    stage = doc["stages"][0]
    assert stage["key"] == "s1" and stage["rag"] == "red" and stage["overdue"] == 3


def test_risk_update_is_recorded(db_url, small_yaml):
    import_file(db_url, small_yaml)
    with session_scope(db_url) as s:
        roadmap = select_roadmap(s, None)
        update_risk(s, roadmap, "r2", today=date(2014, 11, 11), status="occurred", impact=5, note="it happened")
        with pytest.raises(UserError, match="risk 'r9' does not exist"):
            update_risk(s, roadmap, "r9", today=date(2014, 11, 11), status="closed")
        with pytest.raises(UserError, match="--impact"):
            update_risk(s, roadmap, "r2", today=date(2014, 11, 11), impact=6)
    with session_scope(db_url) as s:
        risk = s.scalar(select(Risk).where(Risk.key == "r2"))
        assert (risk.status, risk.impact, risk.score) == ("occurred", 5, 10)
        notes = [c.note for c in history(s, risk.roadmap_id, "risk", "r2") if c.source == "cli"]
        assert notes == ["it happened", "it happened"]

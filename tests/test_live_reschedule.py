"""A live update reschedules only what is downstream, and ends where a full reschedule would."""

import random
import sys
from datetime import date, timedelta
from pathlib import Path

import time_machine
from sqlalchemy import select

from models.db import session_scope
from models.history import ChangeLog
from models.planning import live_tasks, reschedule
from models.roadmaps import select_roadmap
from models.schema import Task
from tasks.roadmap_jobs import change_task, import_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

TODAY = date(2026, 12, 2)


def plans(url):
    with session_scope(url) as s:
        return {t.key: (t.start, t.due, t.finish, t.slack, t.critical) for t in s.scalars(select(Task))}


def full_reschedule_changes_nothing(url):
    with session_scope(url) as s:
        roadmap = select_roadmap(s, None)
        tasks = live_tasks(s, roadmap.id)
        before = {t.key: (t.start, t.due, t.finish, t.slack, t.critical) for t in tasks}
        moved = reschedule(s, roadmap, ChangeLog(roadmap.id, "schedule"), tasks)
        after = {t.key: (t.start, t.due, t.finish, t.slack, t.critical) for t in tasks}
        s.rollback()
    assert moved == []
    assert {k for k in before if before[k] != after[k]} == set()


def test_small_roadmap_updates_match_a_full_reschedule(db_url, small_yaml):
    import_file(db_url, small_yaml)
    untouched = plans(db_url)
    change_task(db_url, None, "a", progress=50, note="half way")  # no date effect: nothing rescheduled
    assert plans(db_url) == untouched
    result = change_task(db_url, None, "a", status="done", on=date(2014, 11, 12))
    assert {m.key for m in result.result.moved} == {"b", "d", "e", "f"}  # e is done, so nobody is told
    full_reschedule_changes_nothing(db_url)
    change_task(db_url, None, "c", forecast=date(2014, 11, 21))
    full_reschedule_changes_nothing(db_url)
    change_task(db_url, None, "b", status="cancelled")
    full_reschedule_changes_nothing(db_url)


@time_machine.travel(TODAY.isoformat(), tick=False)  # a done date may not be later than today
def test_random_updates_on_a_synthetic_roadmap(db_url, tmp_path):
    import synth

    path = tmp_path / "synth.yaml"
    synth.write(path, 400, 40, seed=5)
    import_file(db_url, path)
    rng = random.Random(11)
    keys = sorted(plans(db_url))
    for _ in range(12):
        key = rng.choice(keys)
        kind = rng.choice(["done", "forecast", "cancelled", "planned"])
        due = plans(db_url)[key][1]
        if kind == "done":
            change_task(db_url, None, key, status="done", on=min(due + timedelta(days=rng.randint(-5, 20)), TODAY))
        elif kind == "forecast":
            change_task(db_url, None, key, status="in_progress", forecast=due + timedelta(days=rng.randint(1, 30)))
        else:
            change_task(db_url, None, key, status=kind)
        full_reschedule_changes_nothing(db_url)

"""The CLI read at 80 columns on the seed example: `status` one line per task with filters,
`outbox` one line per message, `history` with times and who; dry runs that tell the truth.

Commands run as a user runs them (a process with COLUMNS=80), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.db import session_scope
from models.schema import Base
from tasks import notify_jobs
from tasks.outbox_admin import current_user
from tasks.roadmap_jobs import import_file

ROOT = Path(__file__).resolve().parent.parent
DAY = "2015-03-02"  # a Monday of the seed example: 14 overdue tasks, reminders and escalations due
SEED_TASKS = 58


def roadmap(*args: str, db: str, cwd: Path) -> subprocess.CompletedProcess:
    """`roadmap ARGS --db DB` in a terminal 80 columns wide (the settings of the test, e.g. its
    SMTP server, are inherited)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args, "--db", db], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def seed(db_url, example_yaml) -> str:
    import_file(db_url, example_yaml)
    return db_url


def status_json(seed: str, tmp_path: Path, *filters: str) -> dict:
    out = roadmap("status", "--as-of", DAY, "--format", "json", *filters, db=seed, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_status_gives_one_line_per_task_within_80_columns(seed, tmp_path):
    out = roadmap("status", "--as-of", DAY, db=seed, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    task_lines = [line for line in lines if line[:1] == "t" and line[1:3].isdigit()]
    assert [line[:3] for line in task_lines] == [f"t{i:02}" for i in range(1, SEED_TASKS + 1)]
    assert len(lines) <= SEED_TASKS + 5 + 8  # tasks, 5 stage headers, a short header
    assert "open-workshop-moscow, as of 2015-03-02: RAG red" in lines
    assert "expected to finish 2015-12-08, planned 2015-09-30" in lines
    assert "58 tasks: 4 done, 14 overdue, 54 red, 0 amber, 50 critical" in lines
    assert any(line.startswith("concept: ") and line.endswith(" red") for line in lines)
    t04 = next(line for line in task_lines if line.startswith("t04"))
    assert t04.startswith("t04* ") and "pmo-head" in t04 and "2014-12-12  48d late red" in t04


def test_wide_status_keeps_the_old_tables(seed, tmp_path):
    out = roadmap("status", "--as-of", DAY, "--wide", db=seed, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Stages" in out.stdout and "Tasks" in out.stdout and "slack" in out.stdout


def test_status_filters_apply_to_the_table_and_to_json_and_keep_the_roadmaps_summary(seed, tmp_path):
    whole = status_json(seed, tmp_path)
    mine = status_json(seed, tmp_path, "--owner", "pmo-head", "--overdue")
    assert [t["key"] for t in mine["tasks"]] == ["t04"]
    assert mine["summary"] == whole["summary"] and mine["roadmap"] == whole["roadmap"]
    assert mine["stages"] == whole["stages"]
    design = status_json(seed, tmp_path, "--stage", "design", "--critical")
    assert [s["key"] for s in design["stages"]] == ["design"]
    assert design["tasks"] and all(t["stage"] == "design" and t["critical"] for t in design["tasks"])
    assert len(design["tasks"]) == sum(1 for t in whole["tasks"] if t["stage"] == "design" and t["critical"])
    out = roadmap("status", "--as-of", DAY, "--owner", "pmo-head", "--overdue", db=seed, cwd=tmp_path)
    assert "showing 1 of 58 tasks: owner pmo-head, overdue" in out.stdout
    assert [line[:3] for line in out.stdout.splitlines() if line[:1] == "t" and line[1:3].isdigit()] == ["t04"]


@pytest.mark.parametrize("option, value, message", [
    ("--owner", "pmo-hed", "--owner: person 'pmo-hed' does not exist in roadmap 'open-workshop-moscow' "
                           "(did you mean 'pmo-head'?)"),
    ("--stage", "desing", "--stage: stage 'desing' does not exist in roadmap 'open-workshop-moscow' "
                          "(did you mean 'design'?)"),
])
def test_an_unknown_owner_or_stage_is_bad_input(seed, tmp_path, option, value, message):
    for fmt in ("table", "json"):
        out = roadmap("status", "--as-of", DAY, option, value, "--format", fmt, db=seed, cwd=tmp_path)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
        assert out.stdout == ""


def test_history_shows_times_in_the_roadmaps_timezone_and_who_changed_what(seed, tmp_path):
    upd = roadmap("task", "update", "t04", "--status", "done", "--on", DAY, "--note", "signed", db=seed, cwd=tmp_path)
    assert upd.returncode == 0, upd.stderr
    out = roadmap("history", "t04", db=seed, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "task t04 (times in Europe/Moscow)"
    assert max(len(line) for line in lines) <= 80
    status = next(line for line in lines if "status: in_progress -> done" in line)
    assert status[:24].endswith(" MSK ") and date.fromisoformat(status[:10])  # 2026-12-02 16:17:33 MSK
    assert f"cli: {current_user()}"[:20] in status  # a long login@host folds onto the next line
    assert out.stdout.count("note: signed") == 1  # once per update, not once per field it changed
    assert any(line.rstrip().endswith(" import") for line in lines if "added:" in line)


def test_outbox_lists_one_line_per_message_within_80_columns(seed, tmp_path, smtp_env):
    assert roadmap("remind", "--as-of", DAY, db=seed, cwd=tmp_path).returncode == 0
    out = roadmap("outbox", db=seed, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(smtp_env.messages) + 2 and lines[-1] == f"{len(smtp_env.messages)} message(s)"
    assert max(len(line) for line in lines) <= 80
    wide = roadmap("outbox", "--wide", db=seed, cwd=tmp_path)
    assert "attempts" in wide.stdout and "reminder" in wide.stdout


def row_counts(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables}


@pytest.mark.parametrize("job", [notify_jobs.remind, notify_jobs.escalate])
def test_a_dry_run_lists_what_the_real_run_sends_and_changes_nothing(seed, smtp_env, job):
    day = date.fromisoformat(DAY)
    before = row_counts(seed)
    dry = job(seed, None, day, dry_run=True)
    assert row_counts(seed) == before and smtp_env.messages == []
    assert dry.planned == len(dry.messages) > 0
    real = job(seed, None, day)
    assert real.recorded == real.sent == len(smtp_env.messages) == dry.planned
    assert sorted(m[1:] for m in dry.messages) == sorted(m[1:] for m in real.messages)
    again = job(seed, None, day, dry_run=True)
    assert again.planned == 0 and again.messages == [] and again.duplicates == dry.planned


def test_the_dry_run_command_says_how_many_it_would_send(seed, tmp_path, smtp_env):
    first = roadmap("escalate", "--as-of", DAY, "--dry-run", db=seed, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    planned = int(first.stdout.splitlines()[-1].split()[2])
    assert first.stdout.count("--- escalate to ") == planned > 0
    assert roadmap("escalate", "--as-of", DAY, db=seed, cwd=tmp_path).returncode == 0
    assert len(smtp_env.messages) == planned
    after = roadmap("escalate", "--as-of", DAY, "--dry-run", db=seed, cwd=tmp_path)
    assert after.stdout.splitlines()[-1] == (f"dry run: 0 message(s) to send for {DAY} ({planned} already "
                                            "recorded, not sent again); nothing recorded or sent")


def test_validate_names_an_impossible_date_with_every_other_error(tmp_path, example_yaml):
    text = example_yaml.read_text().replace("due: 2014-11-25", "due: 2014-12-32", 1)
    owner = text.index("owner: pmo-coordinator", text.index("key: t05"))
    text = text[:owner] + "owner: pmo-coordinatr" + text[owner + len("owner: pmo-coordinator"):]
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    date_line = text[:text.index("due: 2014-12-32")].count("\n") + 1
    owner_line = text[:owner].count("\n") + 1
    out = roadmap("validate", str(bad), db="sqlite:///unused.db", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.splitlines() == [
        f"{bad}:{date_line}: tasks[t02].due: cannot read '2014-12-32' as a date: day is out of range for month",
        f"{bad}:{owner_line}: tasks[t05].owner: unknown person 'pmo-coordinatr' (did you mean 'pmo-coordinator'?)",
        "2 error(s), 0 warning(s); nothing was changed.",
    ]

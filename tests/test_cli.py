"""The `roadmap` command as a user runs it: real processes, real exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROADMAP = [sys.executable, "-m", "cli.main"]
ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path, db: str | None = None) -> subprocess.CompletedProcess:
    cmd = [*ROADMAP, *args] + (["--db", db] if db else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def test_validate_ok_and_bad(tmp_path, small_yaml):
    ok = run("validate", str(small_yaml), cwd=tmp_path, db="sqlite:///unused.db")
    assert ok.returncode == 0, ok.stderr
    assert "6 tasks" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(small_yaml.read_text().replace("owner: bob, due: task.b", "owner: bobb, due: task.b"))
    out = run("validate", str(bad), cwd=tmp_path)
    assert out.returncode == 2
    assert f"{bad}:32: tasks[d].owner: unknown person 'bobb' (did you mean 'bob'?)" in out.stderr
    assert "Traceback" not in out.stderr


def test_import_status_update_history_on_the_default_sqlite(tmp_path, small_yaml):
    out = run("import", str(small_yaml), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "var" / "roadmap.db").exists()  # the embedded default
    assert "no changes" in run("import", str(small_yaml), cwd=tmp_path).stdout
    status = run("status", "--as-of", "2014-11-11", "--format", "json", cwd=tmp_path)
    doc = json.loads(status.stdout)
    assert doc["schema"] == "roadmap-status/1" and len(doc["tasks"]) == 6
    upd = run("task", "update", "a", "--status", "done", "--on", "2014-11-05", "--note", "signed", cwd=tmp_path)
    assert upd.returncode == 0, upd.stderr
    assert "status: planned -> done" in upd.stdout
    hist = run("history", "a", cwd=tmp_path)
    assert "signed" in hist.stdout and "cli" in hist.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("task", "update", "zz", "--status", "done"), "task 'zz' does not exist"),
        (("task", "update", "a", "--status", "finished"), "--status: 'finished' is not one of"),
        (("task", "update", "a", "--on", "yesterday", "--status", "done"), "--on: 'yesterday' is not a date"),
        (("status", "--as-of", "2014-02-30"), "--as-of: '2014-02-30' is not a date"),
        (("status", "--format", "xml"), "--format: 'xml' is not one of"),
        (("risk", "update", "r1", "--probability", "9"), "--probability: 9 is not between 1 and 5"),
        (("task", "update", "a", "--status", "done", "--on", "2010-01-01"), "more than a year before the session"),
        (("outbox", "--status", "bogus"), "--status: 'bogus' is not one of"),
        (("status", "--db", "foo://bar"), "is not a usable database URL"),
    ],
)
def test_user_mistakes_exit_2_without_traceback(tmp_path, small_yaml, args, message):
    assert run("import", str(small_yaml), cwd=tmp_path).returncode == 0
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_unreachable_database_is_an_operational_failure(tmp_path, small_yaml):
    out = run("status", cwd=tmp_path, db="postgresql://nobody@127.0.0.1:1/none")
    assert out.returncode == 1
    assert "database error" in out.stderr and "Traceback" not in out.stderr


def test_db_upgrade(tmp_path):
    out = run("db", "upgrade", cwd=tmp_path, db=f"sqlite:///{tmp_path}/x.db")
    assert out.returncode == 0 and "revision" in out.stdout


@pytest.mark.parametrize("secret", ["SMTP_PASSWORD", "SECRET_KEY", "WEB_PASSWORD"])
def test_a_config_file_holding_a_secret_is_refused_without_showing_it(tmp_path, small_yaml, secret):
    config = tmp_path / "roadmap.env"
    config.write_text(f"ROADMAP_MAIL_FROM=pmo@example.org\nROADMAP_{secret}=hunter2-very-secret\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    env.update(PYTHONPATH=str(ROOT), ROADMAP_CONFIG_FILE=str(config))
    out = subprocess.run([*ROADMAP, "remind", "--dry-run"], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 2
    assert f"{config}: ROADMAP_{secret}: secrets are read from the environment" in out.stderr
    assert "hunter2" not in out.stdout + out.stderr and "Traceback" not in out.stderr
    config.write_text("ROADMAP_MAIL_FROM=pmo@example.org\n")  # the same file without the secret is fine
    assert subprocess.run([*ROADMAP, "import", str(small_yaml)], cwd=tmp_path, env=env, capture_output=True,
                          timeout=120).returncode == 0

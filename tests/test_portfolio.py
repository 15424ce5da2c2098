"""Several roadmaps in one database: `roadmap run` without --roadmap runs every active one,
each on its own day and calendar; `roadmap archive` stops a roadmap's mail; a failing roadmap
does not stop the others. Real SQLite and PostgreSQL, a real SMTP server (or the mail folder)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import time_machine
from sqlalchemy import update
from typer.testing import CliRunner

from cli.main import app
from models.db import session_scope
from models.schema import Roadmap
from tasks.outbox_admin import list_messages
from tasks.roadmap_jobs import entity_history, import_file

SMALL = Path(__file__).resolve().parent / "data" / "small.yaml"


def cli(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def add_roadmap(db_url: str, tmp_path: Path, key: str, *, timezone: str = "Europe/Moscow",
                calendar: str = "RU") -> None:
    """tests/data/small.yaml as roadmap ``key``, its people at @KEY.example.org."""
    text = (SMALL.read_text().replace("key: small", f"key: {key}")
            .replace("timezone: Europe/Moscow", f"timezone: {timezone}")
            .replace("calendar: RU", f"calendar: {calendar}")
            .replace("@example.org", f"@{key}.example.org"))
    path = tmp_path / f"{key}.yaml"
    path.write_text(text)
    assert import_file(db_url, path).created


def domains(server) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How many messages went to each roadmap's people (by their address's domain)."""
    out: dict[str, int] = {}
    for m in server.messages:
        domain = m["To"].addresses[0].domain
        out[domain] = out.get(domain, 0) + 1
    return out


def test_run_without_roadmap_runs_every_roadmap_on_its_own_calendar(db_url, tmp_path, smtp_env):
    """Tuesday 11 November 2014: a working day in Russia, Veterans Day in the US. The RU roadmap
    sends its day's mail; the US one sends nothing and says until when its mail waits."""
    add_roadmap(db_url, tmp_path, "moscow")
    add_roadmap(db_url, tmp_path, "nyc", timezone="America/New_York", calendar="US")
    result = cli("run", "--as-of", "2014-11-11", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "nyc 2014-11-11: not a working day" in result.stdout and "wait for 2014-11-12" in result.stdout
    assert "moscow 2014-11-11 reminders: planned" in result.stdout
    assert list_messages(db_url, roadmap_key="nyc") == []
    moscow = list_messages(db_url, roadmap_key="moscow")
    assert moscow and {m.status for m in moscow} == {"sent"}
    assert {m.as_of for m in moscow if m.kind == "reminder"} == {date(2014, 11, 11)}
    assert domains(smtp_env) == {"moscow.example.org": len(moscow)}

    # The next day both send; the Monday report missed by nyc on its holiday week is caught up.
    result = cli("run", "--as-of", "2014-11-12", "--db", db_url)
    assert result.exit_code == 0, result.output
    nyc = list_messages(db_url, roadmap_key="nyc")
    assert {m.kind for m in nyc} >= {"reminder", "report"}
    assert domains(smtp_env)["nyc.example.org"] == len(nyc)


def test_each_roadmap_runs_on_today_in_its_own_timezone(db_url, tmp_path):
    """At 12:00 UTC on Monday 10 November 2014 it is already Tuesday on Kiritimati (UTC+14) and
    still Monday in Pago Pago (UTC-11): each roadmap's mail is for its own today."""
    add_roadmap(db_url, tmp_path, "east", timezone="Pacific/Kiritimati")
    add_roadmap(db_url, tmp_path, "west", timezone="Pacific/Pago_Pago")
    with time_machine.travel("2014-11-10T12:00:00+00:00"):
        result = cli("run", "--db", db_url)
    assert result.exit_code == 0, result.output
    days = {key: {m.as_of for m in list_messages(db_url, roadmap_key=key) if m.kind == "reminder"}
            for key in ("east", "west")}
    assert days == {"east": {date(2014, 11, 11)}, "west": {date(2014, 11, 10)}}


def test_an_archived_roadmap_sends_nothing_until_made_active_again(db_url, tmp_path, smtp_env):
    add_roadmap(db_url, tmp_path, "live")
    add_roadmap(db_url, tmp_path, "done")
    result = cli("archive", "done", "--by", "pmo@example.org", "--db", db_url)
    assert result.exit_code == 0 and "done: archived, its mail has stopped" in result.stdout, result.output
    again = cli("archive", "done", "--db", db_url)
    assert again.exit_code == 0 and "already archived" in again.stdout

    result = cli("run", "--as-of", "2014-11-10", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "done" not in result.stdout
    # Named explicitly, it still sends nothing: no reminder, escalation or report mail.
    for args in (["run", "--roadmap", "done"], ["remind", "--roadmap", "done"],
                 ["escalate", "--roadmap", "done"], ["report", "--send", "--roadmap", "done"]):
        out = cli(*args, "--as-of", "2014-11-10", "--db", db_url)
        assert out.exit_code == 0, (args, out.output)
    assert list_messages(db_url, roadmap_key="done") == []
    assert set(domains(smtp_env)) == {"live.example.org"}

    # The history keeps who archived it, and when.
    _, changes = entity_history(db_url, "done", "done")
    last = changes[-1]
    assert (last.entity, last.field, last.old, last.new, last.source, last.actor) == (
        "roadmap", "archived", "False", "True", "cli", "pmo@example.org")

    result = cli("archive", "done", "--undo", "--db", db_url)
    assert result.exit_code == 0 and "done: active again" in result.stdout, result.output
    result = cli("run", "--as-of", "2014-11-11", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert list_messages(db_url, roadmap_key="done")
    assert "done.example.org" in domains(smtp_env)


def test_archiving_dismisses_the_roadmaps_unsent_mail(db_url, tmp_path, smtp_env):
    """A message of the roadmap that failed and waits for another try is not sent by a later
    run of another roadmap (which delivers the whole outbox) once its roadmap is archived."""
    add_roadmap(db_url, tmp_path, "live")
    add_roadmap(db_url, tmp_path, "done")
    smtp_env.tempfail.add("alice@done.example.org")
    assert cli("run", "--as-of", "2014-11-10", "--db", db_url).exit_code == 1
    assert cli("archive", "done", "--db", db_url).stdout.count("1 unsent message(s) dismissed") == 1
    smtp_env.tempfail.clear()
    smtp_env.clear()
    assert cli("run", "--as-of", "2014-11-11", "--db", db_url).exit_code == 0
    assert "alice@done.example.org" not in {m["To"].addresses[0].addr_spec for m in smtp_env.messages}
    assert [m.status for m in list_messages(db_url, roadmap_key="done", status="dismissed")] == ["dismissed"]


def test_a_roadmap_whose_mail_is_refused_fails_the_run_after_the_others_sent(db_url, tmp_path, smtp_env):
    """Roadmap "alpha" runs first; its relay refuses one of its people (550). "beta" still gets
    every message out; the run then exits 1, naming alpha and why."""
    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    smtp_env.refuse.add("bob@alpha.example.org")
    result = cli("run", "--as-of", "2014-11-10", "--db", db_url)
    assert result.exit_code == 1, result.output
    last = result.stderr.strip().splitlines()
    assert any(line.startswith("the daily cycle failed for 1 of 2 roadmap(s): alpha (") for line in last), last
    assert "bob@alpha.example.org" in result.stderr and "beta (" not in result.stderr
    beta = list_messages(db_url, roadmap_key="beta")
    assert beta and {m.status for m in beta} == {"sent"}
    assert domains(smtp_env)["beta.example.org"] == len(beta)


def break_calendar(db_url: str, key: str) -> None:
    """A stored calendar this version no longer knows (a country the holidays package dropped)."""
    with session_scope(db_url) as session:
        session.execute(update(Roadmap).where(Roadmap.key == key).values(calendar="XX"))


def test_a_roadmap_with_a_broken_stored_calendar_does_not_stop_the_others(db_url, tmp_path, smtp_env):
    """That roadmap's cycle fails; the other's mail goes out; the run exits 1 naming it and why
    (under --prefect too: tests/test_flows.py)."""
    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    break_calendar(db_url, "alpha")
    result = cli("run", "--as-of", "2014-11-10", "--db", db_url)
    assert result.exit_code == 1, result.output
    assert "the daily cycle failed for 1 of 2 roadmap(s): alpha (UnknownCalendar: unknown calendar 'XX')" \
        in result.stderr, result.output
    assert "Traceback" not in result.output
    beta = list_messages(db_url, roadmap_key="beta")
    assert beta and {m.status for m in beta} == {"sent"} and len(smtp_env.messages) == len(beta)


def test_a_day_outside_one_roadmaps_window_is_refused_before_anything_is_sent(db_url, tmp_path, smtp_env):
    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    result = cli("run", "--as-of", "2099-01-01", "--db", db_url)
    assert result.exit_code == 2 and "--as-of (roadmap alpha)" in result.output, result.output
    assert list_messages(db_url) == [] and smtp_env.messages == []


def test_once_all_but_one_roadmap_are_archived_single_roadmap_commands_need_no_key(db_url, tmp_path, smtp_env):
    add_roadmap(db_url, tmp_path, "live")
    add_roadmap(db_url, tmp_path, "done")
    refused = cli("remind", "--as-of", "2014-11-10", "--db", db_url)
    assert refused.exit_code == 2 and "several roadmaps (done, live)" in refused.output, refused.output
    assert cli("archive", "done", "--db", db_url).exit_code == 0
    result = cli("remind", "--as-of", "2014-11-10", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert list_messages(db_url, roadmap_key="live") and list_messages(db_url, roadmap_key="done") == []


def test_with_every_roadmap_archived_the_run_says_so(db_url, tmp_path):
    add_roadmap(db_url, tmp_path, "done")
    assert cli("archive", "done", "--db", db_url).exit_code == 0
    result = cli("run", "--as-of", "2014-11-10", "--db", db_url)
    assert result.exit_code == 0 and "no active roadmap" in result.stdout, result.output


# --- roadmap status over several roadmaps: the portfolio --------------------------------------------

def test_status_without_roadmap_shows_one_line_per_active_roadmap_within_80_columns(db_url, tmp_path):
    add_roadmap(db_url, tmp_path, "moscow")
    add_roadmap(db_url, tmp_path, "nyc-programme-with-a-long-key", timezone="America/New_York", calendar="US")
    add_roadmap(db_url, tmp_path, "done")
    assert cli("archive", "done", "--db", db_url).exit_code == 0
    assert cli("task", "update", "c", "--status", "done", "--on", "2014-11-05", "--roadmap", "moscow",
               "--db", db_url).exit_code == 0
    result = cli("status", "--as-of", "2014-11-20", "--db", db_url)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "2 roadmaps as of 2014-11-20: 2 red"
    assert lines[1].split() == ["roadmap", "RAG", "done", "late", "expected", "slip", "next", "milestone", "worst",
                                "risk"]
    assert [line.split()[:6] for line in lines[2:]] == [
        ["moscow", "red", "2/6", "3", "2014-12-16", "+11"],
        ["nyc-programme-w…", "red", "1/6", "4", "2014-12-15", "+11"]]  # its own calendar: other days
    assert all(len(line) <= 80 for line in lines) and not any(line.startswith("done") for line in lines)
    assert "s1 2014-11-28" in lines[2] and "16 r1 Renov" in lines[2]


def test_status_json_of_the_portfolio_agrees_with_each_roadmaps_own_status(db_url, tmp_path):
    import json

    from models.status import roadmap_rag

    add_roadmap(db_url, tmp_path, "moscow")
    add_roadmap(db_url, tmp_path, "nyc", timezone="America/New_York", calendar="US")
    assert cli("risk", "update", "r1", "--status", "mitigated", "--roadmap", "nyc", "--db", db_url).exit_code == 0
    result = cli("status", "--as-of", "2014-11-20", "--format", "json", "--db", db_url)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "roadmap-portfolio/1" and [r["key"] for r in doc["roadmaps"]] == ["moscow", "nyc"]
    for row in doc["roadmaps"]:
        own = json.loads(cli("status", "--as-of", "2014-11-20", "--format", "json", "--roadmap", row["key"],
                             "--db", db_url).stdout)
        assert (row["rag"], row["tasks"], row["done"], row["overdue"], row["expected"], row["planned"]) == (
            roadmap_rag(s["rag"] for s in own["stages"]), own["summary"]["tasks"], own["summary"]["done"],
            own["summary"]["overdue"], own["roadmap"]["expected"], own["roadmap"]["planned"])
        assert row["error"] is None
        assert row["next_milestone"]["stage"] == "s1" and row["as_of"] == "2014-11-20"
    worst = {r["key"]: r["worst_risk"] for r in doc["roadmaps"]}
    assert worst["moscow"] == {"key": "r1", "title": "Renovation late", "status": "open", "score": 16}
    assert worst["nyc"]["key"] == "r2"  # r1 mitigated: no longer the worst of anything


def test_status_with_one_roadmap_is_that_roadmaps_status_and_filters_need_a_roadmap_with_several(db_url, tmp_path):
    add_roadmap(db_url, tmp_path, "moscow")
    result = cli("status", "--as-of", "2014-11-20", "--overdue", "--db", db_url)
    assert result.exit_code == 0 and result.stdout.splitlines()[1] == "moscow, as of 2014-11-20: RAG red", result.output
    add_roadmap(db_url, tmp_path, "nyc")
    result = cli("status", "--as-of", "2014-11-20", "--overdue", "--db", db_url)
    assert result.exit_code == 2 and "choose it with --roadmap KEY" in result.output, result.output


def test_a_roadmap_whose_status_fails_is_an_error_row_and_the_status_exits_1_naming_it(db_url, tmp_path):
    """As `roadmap run`: the other roadmaps are shown (table and JSON), the broken one's row says
    why, and the command ends with exit 1 naming it, without a traceback."""
    import json

    add_roadmap(db_url, tmp_path, "alpha")
    add_roadmap(db_url, tmp_path, "beta")
    break_calendar(db_url, "alpha")
    result = cli("status", "--as-of", "2014-11-20", "--db", db_url)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "2 roadmaps as of 2014-11-20: 1 red, 1 error"
    assert lines[2].split()[:2] == ["alpha", "error"] and "UnknownCalendar: unknown calendar 'XX'" in lines[2]
    assert lines[3].split()[:3] == ["beta", "red", "1/6"]
    assert ("the status failed for 1 of 2 roadmap(s): alpha (UnknownCalendar: unknown calendar 'XX')"
            in result.stderr), result.output
    assert "Traceback" not in result.output

    result = cli("status", "--as-of", "2014-11-20", "--format", "json", "--db", db_url)
    assert result.exit_code == 1 and "alpha (UnknownCalendar" in result.stderr, result.output
    rows = {r["key"]: r for r in json.loads(result.stdout)["roadmaps"]}
    assert rows["alpha"]["error"] == "UnknownCalendar: unknown calendar 'XX'" and rows["alpha"]["rag"] is None
    assert rows["beta"]["error"] is None and rows["beta"]["rag"] == "red"

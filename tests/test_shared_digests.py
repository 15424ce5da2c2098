"""People across roadmaps: a person (an address) several roadmaps write to gets one reminder digest
and one escalation digest a day, a section per roadmap (models/shared_people.py,
tasks/shared_digests.py); nothing is sent twice, whatever runs next that day. Real SQLite and
PostgreSQL, a real SMTP server.

The roadmaps are tests/data/small.yaml under other keys: Alice (owner), Boss (her and Bob's
manager) and the project office keep their addresses in every roadmap; Bob and Carol have one
address per roadmap. On Wednesday 12 November 2014 Alice hears of her tasks, Boss gets the
level-1 escalations and the office the risks, in every roadmap.
"""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from config import reset_settings_cache
from models.db import session_scope
from models.notify import Digest, EscalationDigest, Recipient, TaskLine
from models.schema import CalendarEntry, OutboxMessage, OutboxPart
from models.shared_people import share_out
from tasks.outbox_admin import list_messages
from tasks.roadmap_jobs import import_file

SMALL = Path(__file__).resolve().parent / "data" / "small.yaml"
SHARED = ("alice", "boss")  # and pmo@example.org, the office of every roadmap
DAY = "2014-11-12"


def cli(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def add_roadmap(db_url: str, tmp_path: Path, key: str) -> None:
    """small.yaml as roadmap ``key`` ("Roadmap KEY"): Alice, Boss and the office shared."""
    text = SMALL.read_text().replace("key: small", f"key: {key}")
    text = text.replace("title: Small roadmap", f"title: Roadmap {key}")
    for who in ("bob", "carol"):
        text = text.replace(f"{who}@example.org", f"{who}@{key}.example.org")
    path = tmp_path / f"{key}.yaml"
    path.write_text(text)
    assert import_file(db_url, path).created


def run(db_url: str, *args: str) -> None:
    result = cli(*args, "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 0, result.output


def to(server, address: str, word: str = "") -> list[EmailMessage]:  # type: ignore[no-untyped-def]
    """The messages ``server`` got for ``address`` whose subject has ``word``."""
    return [m for m in server.messages if m["To"].addresses[0].addr_spec == address and word in m["Subject"]]


def text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def ics_names(message: EmailMessage) -> list[str]:
    return [str(p.get_filename()) for p in message.iter_attachments()]


@pytest.fixture
def signed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADMAP_SECRET_KEY", "test-secret-key-for-shared-digests")
    monkeypatch.setenv("ROADMAP_PUBLIC_URL", "https://roadmaps.example.org")
    reset_settings_cache()


def test_a_person_in_two_roadmaps_gets_one_digest_of_each_kind_a_day_grouped_by_roadmap(
        db_url, tmp_path, smtp_env, signed):
    add_roadmap(db_url, tmp_path, "one")
    add_roadmap(db_url, tmp_path, "two")
    run(db_url, "run")

    # Alice: one reminder digest, a section per roadmap, each with its lines, links and .ics.
    [alice] = to(smtp_env, "alice@example.org")
    assert alice["Subject"] == "Ваши задачи: 6 · 2 дорожные карты · 12 ноября"
    body = text(alice)
    assert "из 2 дорожных карт" in body
    one, two = body.split("Roadmap one\n===========\n")[1].split("Roadmap two\n===========\n")
    for part, key in ((one, "one"), (two, "two")):
        assert "* Survey" in part and "* Build" in part
        assert f"https://roadmaps.example.org/roadmaps/{key}/tasks/a?token=" in part
        assert f"/roadmaps/{'two' if key == 'one' else 'one'}/" not in part
    assert ics_names(alice) == ["one-2014-11-12.ics", "two-2014-11-12.ics"]

    # Boss (level-1 escalations) and the office (risks): one escalation digest each.
    [boss] = to(smtp_env, "boss@example.org", "Эскалация")
    assert boss["Subject"] == "Эскалация: 4 просроченные задачи · 2 дорожные карты · 12 ноября"
    one, two = text(boss).split("Roadmap one\n===========\n")[1].split("Roadmap two\n===========\n")
    assert "(bob@one.example.org)" in one and "(bob@two.example.org)" in two
    [office] = to(smtp_env, "pmo@example.org")
    assert office["Subject"] == "Эскалация: 2 риска · 2 дорожные карты · 12 ноября"

    # Everyone else: each roadmap's own mail, as before.
    for key in ("one", "two"):
        assert [m["Subject"] for m in to(smtp_env, f"bob@{key}.example.org")] == [
            f"Ваши задачи: 2 · Roadmap {key} · 12 ноября", f"Эскалация: 1 риск · Roadmap {key} · 12 ноября"]
        assert [m["Subject"] for m in to(smtp_env, f"carol@{key}.example.org")] == [
            f"Эскалация: 1 просроченная задача, 1 риск · Roadmap {key} · 12 ноября"]

    # The shared messages belong to no roadmap; each roadmap's share is kept under it.
    with session_scope(db_url) as session:
        office = session.scalars(select(OutboxMessage).where(OutboxMessage.roadmap_id.is_(None)))
        shared = {m.recipient: m for m in office}
        assert set(shared) == {"alice@example.org", "boss@example.org", "pmo@example.org"}
        assert shared["alice@example.org"].dedup_key == "reminder:alice@example.org:2014-11-12"
        parts = sorted(session.scalars(select(OutboxPart.dedup_key).join(
            OutboxMessage, OutboxMessage.id == OutboxPart.outbox_id).where(OutboxMessage.roadmap_id.is_(None))))
        assert parts == sorted(f"{k}:{kind}:{a}:2014-11-12" for k in ("one", "two")
                               for kind, a in (("reminder", "alice@example.org"), ("escalation", "boss@example.org"),
                                               ("escalation", "pmo@example.org")))

    # `roadmap outbox --roadmap KEY` lists them with the roadmap's own.
    listed = {(m.recipient, m.kind) for m in list_messages(db_url, roadmap_key="two")}
    assert {("alice@example.org", "reminder"), ("boss@example.org", "escalation"),
            ("bob@two.example.org", "reminder")} <= listed
    assert not any(r.endswith("@one.example.org") for r, _ in listed)

    # A re-run the same day, and then each roadmap's run alone, send nothing more.
    count = len(smtp_env.messages)
    run(db_url, "run")
    run(db_url, "run", "--roadmap", "one")
    run(db_url, "remind", "--roadmap", "two")
    run(db_url, "escalate", "--roadmap", "two")
    assert len(smtp_env.messages) == count


def test_the_next_day_a_shared_digest_is_no_kick_off_again(db_url, tmp_path, smtp_env):
    """The calendar entries of a shared digest's .ics are kept under each roadmap: the next day's
    digest does not list Alice's tasks as new again."""
    add_roadmap(db_url, tmp_path, "one")
    add_roadmap(db_url, tmp_path, "two")
    run(db_url, "run")
    result = cli("run", "--as-of", "2014-11-13", "--db", db_url)
    assert result.exit_code == 0, result.output
    [_, alice] = to(smtp_env, "alice@example.org")
    assert alice["Subject"] == "2 задачи требуют внимания · 2 дорожные карты · 13 ноября"  # Design, in each
    assert "Ваши задачи" not in text(alice)
    with session_scope(db_url) as session:
        entries = session.scalars(select(CalendarEntry).where(CalendarEntry.email == "alice@example.org")).all()
        assert {(e.roadmap_id, e.task_key) for e in entries} == {(r, k) for r in (1, 2) for k in "abf"}


def test_when_the_shared_digests_fail_each_roadmap_still_sends_its_own(db_url, tmp_path, smtp_env, monkeypatch):
    """A user's shared reminder template that uses a name the renderer does not pass: the shared
    reminders record nothing, each roadmap's cycle sends Alice its own digest, the shared
    escalations still go out, and the run exits 1 naming the shared step and why."""
    folder = tmp_path / "templates" / "mail"
    folder.mkdir(parents=True)
    (folder / "shared_reminder.txt.j2").write_text("{{ no_such_name }}\n")
    monkeypatch.setenv("ROADMAP_TEMPLATE_DIR", str(folder.parent))
    reset_settings_cache()
    add_roadmap(db_url, tmp_path, "one")
    add_roadmap(db_url, tmp_path, "two")
    result = cli("run", "--as-of", DAY, "--db", db_url)
    assert result.exit_code == 1, result.output
    assert "the daily cycle failed for 1 of 2 roadmap(s): (shared) (" in result.stderr
    assert "shared_reminder.txt.j2" in result.stderr
    assert sorted(m["Subject"] for m in to(smtp_env, "alice@example.org")) == [
        "Ваши задачи: 3 · Roadmap one · 12 ноября", "Ваши задачи: 3 · Roadmap two · 12 ноября"]
    assert len(to(smtp_env, "boss@example.org", "Эскалация")) == 1  # the shared escalations still went out


def test_each_roadmaps_weekly_report_counts_its_share_of_the_shared_digests(db_url, tmp_path, smtp_env):
    """Roadmap two's report of the week: Alice's shared digest is one of its reminders sent (with
    Bob's own), and its escalations are its own items only, not roadmap one's in the same mails."""
    from datetime import UTC, datetime

    from models.report_builder import build_report
    from models.schema import EscalationItem, Roadmap

    add_roadmap(db_url, tmp_path, "one")
    add_roadmap(db_url, tmp_path, "two")
    run(db_url, "run")
    with session_scope(db_url) as session:
        two = session.scalars(select(Roadmap).where(Roadmap.key == "two")).one()
        ctx, _ = build_report(session, two, date(2014, 11, 17), generated_at=datetime.now(UTC), max_rows=1000)
        items = session.scalars(select(EscalationItem.dedup_key).where(EscalationItem.roadmap_id == two.id)).all()
    assert ctx.messages.reminders_sent == 2
    assert ctx.messages.escalations_sent == len(items) > 0
    assert {e.recipient for e in ctx.messages.escalations} >= {"Boss <boss@example.org>",
                                                              "Project office <pmo@example.org>"}


def test_after_one_roadmap_ran_alone_the_shared_digest_holds_only_the_others(db_url, tmp_path, smtp_env):
    for key in ("one", "two", "three"):
        add_roadmap(db_url, tmp_path, key)
    run(db_url, "run", "--roadmap", "one")
    assert [m["Subject"] for m in to(smtp_env, "alice@example.org")] == ["Ваши задачи: 3 · Roadmap one · 12 ноября"]
    run(db_url, "run")
    first, shared = to(smtp_env, "alice@example.org")
    assert shared["Subject"] == "Ваши задачи: 6 · 2 дорожные карты · 12 ноября"
    assert "Roadmap one\n" not in text(shared) and "Roadmap two\n" in text(shared) and "Roadmap three\n" in text(shared)
    assert ics_names(shared) == ["three-2014-11-12.ics", "two-2014-11-12.ics"]  # by roadmap key
    [_, boss] = to(smtp_env, "boss@example.org", "Эскалация")
    assert boss["Subject"] == "Эскалация: 4 просроченные задачи · 2 дорожные карты · 12 ноября"
    assert "Roadmap one\n" not in text(boss)
    assert len(to(smtp_env, "pmo@example.org")) == 2
    count = len(smtp_env.messages)
    run(db_url, "run")
    assert len(smtp_env.messages) == count


REMINDED = ["Ваши задачи: 3 · Roadmap one · 12 ноября", "Ваши задачи: 3 · Roadmap two · 12 ноября"]
ESCALATED = ["Эскалация: 2 просроченные задачи · Roadmap one · 12 ноября",
             "Эскалация: 2 просроченные задачи · Roadmap two · 12 ноября"]


@pytest.mark.parametrize(("kind", "command", "address", "word", "own"), [
    ("reminders", "remind", "alice@example.org", "", REMINDED),
    ("escalations", "escalate", "boss@example.org", "Эскалация", ESCALATED)])
def test_a_roadmap_run_alone_while_the_shared_digests_are_planned_sends_no_share_twice(
        db_url, tmp_path, smtp_env, kind, command, address, word, own):
    """The race between the every-roadmap run and a run of one roadmap: the shared digests are
    planned, roadmap one runs alone and sends its own, then the shared digests are recorded. The
    digest carrying roadmap one's share is dropped; roadmap two's own run sends its share."""
    from tasks.shared_digests import plan_shared, record_shared

    add_roadmap(db_url, tmp_path, "one")
    add_roadmap(db_url, tmp_path, "two")
    plan = plan_shared(db_url, ["one", "two"], date.fromisoformat(DAY), kind)
    assert [s.recipient.email for s in plan.todo if s.recipient.email == address] == [address]
    run(db_url, command, "--roadmap", "one")
    assert record_shared(db_url, plan, "example.org") < len(plan.todo)
    run(db_url, command, "--roadmap", "two")
    assert sorted(m["Subject"] for m in to(smtp_env, address, word)) == own


@pytest.mark.parametrize(("kind", "planner"), [("reminders", "plan_reminders"),
                                               ("escalations", "plan_escalation_messages")])
def test_a_roadmap_run_planned_before_the_shared_digests_were_sent_drops_its_share(
        db_url, tmp_path, smtp_env, kind, planner):
    """The other way round: roadmap one's own run plans, the digests across roadmaps are sent,
    then roadmap one records its plan: the digests whose share went in the shared ones are dropped."""
    import tasks.notify_jobs as jobs
    from tasks.shared_digests import send_shared

    add_roadmap(db_url, tmp_path, "one")
    add_roadmap(db_url, tmp_path, "two")
    own = getattr(jobs, planner)(db_url, "one", date.fromisoformat(DAY))
    shared = send_shared(db_url, ["one", "two"], date.fromisoformat(DAY), kind)
    assert shared.recorded > 0
    count = len(smtp_env.messages)
    sent = jobs.send_plan(db_url, own)
    dropped = {m.recipient for m in list_messages(db_url) if m.roadmap_id is None}
    assert sent.recorded.duplicates == len(dropped & {i.recipient for i in own.intents}) > 0
    assert not {m["To"].addresses[0].addr_spec for m in smtp_env.messages[count:]} & dropped


def test_the_daily_cycle_flow_sends_the_shared_digests_before_the_roadmaps_runs(db_url, tmp_path, smtp_env):
    """Under Prefect each roadmap's cycle is a run of its own: the parent sends the shared digests
    first (task shared-digests), and each roadmap's run then skips what they carried."""
    from flows.daily_cycle import daily_cycle, roadmap_cycle

    add_roadmap(db_url, tmp_path, "one")
    add_roadmap(db_url, tmp_path, "two")
    summaries = daily_cycle(as_of=date(2014, 11, 12), db_url=db_url)
    assert [s.kind for s in summaries if s.roadmap_key == "(shared)"] == ["reminders", "escalations"]
    assert [m["Subject"] for m in to(smtp_env, "alice@example.org")] == [
        "Ваши задачи: 6 · 2 дорожные карты · 12 ноября"]
    assert len(to(smtp_env, "boss@example.org", "Эскалация")) == 1 and len(to(smtp_env, "pmo@example.org")) == 1
    count = len(smtp_env.messages)
    roadmap_cycle("two", date(2014, 11, 12), db_url)
    assert len(smtp_env.messages) == count


def _digest(email: str, day: date, key: str = "a") -> Digest:
    return Digest(Recipient(email, "X"), day, [TaskLine(key, "T", "S", day, "due_today")])


def test_share_out_merges_an_address_only_when_two_roadmaps_write_to_it_the_same_day():
    monday, tuesday = date(2014, 11, 10), date(2014, 11, 11)
    shared, left = share_out([
        ("one", [_digest("Ann@x.org", monday), _digest("bo@x.org", monday), _digest("cy@x.org", monday)]),
        ("two", [_digest("ann@x.org", monday, "b"), _digest("cy@x.org", tuesday)]),
    ])
    [ann] = shared
    assert [s.roadmap_key for s in ann.shares] == ["one", "two"] and ann.roadmaps == 2
    assert ann.dedup_key == "reminder:ann@x.org:2014-11-10"
    assert {k: [d.recipient.email for d in ds] for k, ds in left.items()} == {
        "one": ["bo@x.org", "cy@x.org"], "two": ["cy@x.org"]}
    # A later shared digest of the day (other roadmaps' shares) gets the next part.
    [again], _ = share_out([("one", [_digest("ann@x.org", monday)]), ("two", [_digest("ann@x.org", monday)])],
                           taken={"reminder:ann@x.org:2014-11-10"})
    assert again.dedup_key == "reminder:ann@x.org:2014-11-10:2"
    [esc], _ = share_out([("one", [EscalationDigest(Recipient("pmo@x.org", "PMO"), monday)]),
                          ("two", [EscalationDigest(Recipient("PMO@x.org", "PMO"), monday, part=2)])])
    assert esc.kind == "escalation" and esc.dedup_key == "escalation:pmo@x.org:2014-11-10"


def test_a_downgrade_below_0014_drops_the_office_messages_with_what_refers_to_them(db_url, tmp_path, smtp_env):
    """Downgrading to 0013 (before messages of no roadmap) after a run that sent digests across
    roadmaps: those messages go with their contents and items, the roadmaps' own stay, and the
    database is consistent (on SQLite the migration checks the foreign keys before committing)."""
    from alembic import command
    from sqlalchemy import text

    from models.db import alembic_config, forget_schema_check, get_engine, migration_connection, upgrade

    add_roadmap(db_url, tmp_path, "one")
    add_roadmap(db_url, tmp_path, "two")
    assert cli("run", "--as-of", DAY, "--db", db_url).exit_code == 0
    engine = get_engine(db_url)

    def count(where: str) -> int:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM outbox WHERE {where}")).scalar_one()

    own = count("roadmap_id IS NOT NULL")
    assert count("roadmap_id IS NULL") and own
    cfg = alembic_config(db_url)
    with migration_connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
    assert (count("roadmap_id IS NULL"), count("roadmap_id IS NOT NULL")) == (0, own)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox_content WHERE outbox_id NOT IN "
                                 "(SELECT id FROM outbox)")).scalar_one() == 0
    forget_schema_check(db_url)
    upgrade(db_url)


def test_share_out_caps_a_digest_across_many_roadmaps_at_max_lines(monkeypatch: pytest.MonkeyPatch):
    """Seven roadmaps of two lines each write to Ann, capped at five lines a message: messages of
    two, two and two roadmaps (parts 1, 2, 3, after a part already taken), and the seventh's
    digest, alone in its chunk, stays that roadmap's own."""
    import models.shared_people as shared_people

    monkeypatch.setattr(shared_people, "MAX_LINES", 5)
    monday = date(2014, 11, 10)

    def two_lines(key: str) -> Digest:
        return Digest(Recipient("ann@x.org", "Ann"), monday, [
            TaskLine("a", "T", "S", monday, "due_today"), TaskLine("b", "T", "S", monday, "due_today")])

    keys = [f"r{i}" for i in range(1, 8)]
    shared, left = share_out([(k, [two_lines(k)]) for k in keys], taken={"reminder:ann@x.org:2014-11-10:2"})
    assert [[s.roadmap_key for s in one.shares] for one in shared] == [["r1", "r2"], ["r3", "r4"], ["r5", "r6"]]
    assert [one.dedup_key.rsplit(":", 1)[-1] for one in shared] == ["2014-11-10", "3", "4"]
    assert {k: len(ds) for k, ds in left.items() if ds} == {"r7": 1}

    # A calendar entry withdrawn counts as a line: three roadmaps withdrawing three entries each
    # are three messages of their own, not one.
    from models.notify import Withdrawal

    def withdrawals(key: str) -> Digest:
        return Digest(Recipient("ann@x.org", "Ann"), monday, [],
                      withdrawn=[Withdrawal(k, "T", monday, 1) for k in "abc"])

    shared, left = share_out([(k, [withdrawals(k)]) for k in keys[:3]])
    assert shared == [] and all(len(ds) == 1 for ds in left.values())

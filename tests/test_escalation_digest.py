"""Issue 13: one escalation mail per recipient per day, per-item dedup across days, short
subjects. Through the real path: outbox, a real SMTP server, SQLite and PostgreSQL."""

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from models.notify import EscalationDigest
from models.subjects import SUBJECT_MAX, short_title
from tasks.notify_jobs import deliver_pending, plan_escalation_messages, record_plan
from tasks.render_mail import render_escalation_digest
from tasks.roadmap_jobs import change_risk, import_file
from tests.test_mail_delivery import escalate
from tests.test_render_mail import mail_kwargs, risk_escalation, task_escalation


@pytest.fixture
def url(db_url, small_yaml):
    import_file(db_url, small_yaml)
    return db_url


def by_recipient(messages):
    out: dict[str, list] = {}
    for m in messages:
        out.setdefault(m["To"].addresses[0].addr_spec, []).append(m)
    return out


def test_one_escalation_mail_per_recipient_per_day_holds_every_item(url, smtp_env):
    plan = plan_escalation_messages(url, None, date(2014, 12, 15))
    items = {(d.recipient.email, e.key, e.level, e.trigger) for d in plan.todo for e in d.items}
    assert len(items) > len(plan.todo)  # several items share a mail
    record_plan(url, plan)
    assert deliver_pending(url).sent == len(plan.todo)
    got = by_recipient(smtp_env.messages)
    assert all(len(mails) == 1 for mails in got.values())
    for email, key, _level, _trigger in items:
        text = got[email][0].get_body(("plain",)).get_content()
        title = next(e.title for d in plan.todo for e in d.items if e.key == key)
        assert f"* {title}" in text
    for m in smtp_env.messages:
        assert str(m["Subject"]).startswith("Эскалация: ") and len(str(m["Subject"])) <= SUBJECT_MAX


def test_a_rerun_the_same_day_sends_nothing(url, smtp_env):
    escalate(url, date(2014, 11, 10))
    sent = len(smtp_env.messages)
    plan, rec, stats = escalate(url, date(2014, 11, 10))
    assert (plan.todo, rec.recorded, stats.sent) == ([], 0, 0)
    assert len(plan.already) == sent  # counted in the run's result, not sent again
    assert len(smtp_env.messages) == sent


def test_the_same_item_at_the_same_level_is_never_sent_twice_a_higher_level_is(url, smtp_env):
    day1 = date(2014, 11, 10)
    escalate(url, day1)
    # The next day: a at level 1 is not repeated; only the new triggers (r1's review date) go out.
    plan2, _, _ = escalate(url, date(2014, 11, 11))
    again = [(d.recipient.email, e.key, e.level, e.trigger) for d in plan2.todo for e in d.items]
    assert again and all(trigger == "review" for _, _, _, trigger in again)
    # Much later: tasks reach level 2 (the office) and that is sent, level 1 is not repeated.
    plan3, _, _ = escalate(url, date(2014, 12, 15))
    levels = {(e.key, e.level) for d in plan3.todo for e in d.items if e.subject_kind == "task"}
    assert ("a", 2) in levels and ("a", 1) not in levels  # a's level 1 went out on day 1


def test_a_later_escalation_the_same_day_goes_in_a_second_digest_with_only_the_new_items(url, smtp_env):
    day = date(2014, 11, 10)
    plan1, _, _ = escalate(url, day)
    office1 = next(d for d in plan1.todo if d.recipient.email == "pmo@example.org")
    # A risk occurs later that day: a new item for the office (and the risk's other recipients).
    change_risk(url, None, "r1", status="occurred")
    plan2, _, _ = escalate(url, day)
    office2 = next(d for d in plan2.todo if d.recipient.email == "pmo@example.org")
    assert office2.dedup_key == office1.dedup_key + ":2"
    assert [e.trigger for e in office2.items] == ["occurred"]
    assert len(smtp_env.messages) == len(plan1.todo) + len(plan2.todo)
    plan3, rec3, _ = escalate(url, day)  # and a third run sends nothing
    assert (plan3.todo, rec3.recorded) == ([], 0)


def test_subjects_fit_and_use_the_short_title(db_url, small_yaml, tmp_path: Path, smtp_env):
    long_title = " ".join(["Очень-длинное-название"] * 14)[:300]
    text = small_yaml.read_text(encoding="utf-8").replace("title: Small roadmap", f"title: {long_title}", 1)
    path = tmp_path / "long.yaml"
    path.write_text(text, encoding="utf-8")
    import_file(db_url, path)
    plan, _, _ = escalate(db_url, date(2014, 11, 10))
    subjects = [i.message.subject for i in plan.intents]
    assert subjects and all(len(s) <= SUBJECT_MAX for s in subjects)
    assert all(short_title(long_title) in s for s in subjects)
    # With short_title in the file, subjects use it.
    text = text.replace(f"title: {long_title}", f"title: {long_title}\n  short_title: ОМ", 1)
    path.write_text(text, encoding="utf-8")
    import_file(db_url, path)
    plan2 = plan_escalation_messages(db_url, None, date(2014, 11, 11))
    assert plan2.intents and all(" · ОМ · 11 ноября" in i.message.subject for i in plan2.intents)


def test_seed_subjects_are_short(db_url, example_yaml, smtp_env):
    import_file(db_url, example_yaml)
    plan, _, _ = escalate(db_url, date(2015, 3, 2))
    office = [i for i in plan.intents if i.recipient == "pmo@example.org"]
    assert len(office) == 1  # was 21 mails on the first day
    assert max(len(i.message.subject) for i in plan.intents) <= 70
    assert office[0].message.subject.endswith(" · ОММ · 2 марта")


def test_short_title_default_rule():
    assert short_title("Открытая Мастерская Москвы: дорожная карта (ВДНХ)") == "Открытая Мастерская Москвы"
    assert short_title("Любое", "  ОММ ") == "ОММ"
    cut = short_title("слово " * 60)
    assert len(cut) <= 40 and cut.endswith("…") and not cut.endswith(" …")


@pytest.mark.parametrize("n, tasks, risks", [
    (1, "1 просроченная задача", "1 риск"), (3, "3 просроченные задачи", "3 риска"),
    (5, "5 просроченных задач", "5 рисков"), (21, "21 просроченная задача", "21 риск"),
])
def test_russian_plural_forms_in_the_escalation_subject(n, tasks, risks):
    items = [replace(task_escalation(), key=f"t{i}") for i in range(n)]
    items += [replace(risk_escalation(recipient=items[0].recipient), key=f"r{i}") for i in range(n)]
    msg = render_escalation_digest(EscalationDigest(items[0].recipient, date(2015, 3, 2), items),
                                   **mail_kwargs())  # type: ignore[arg-type]
    assert msg.subject == f"Эскалация: {tasks}, {risks} · Открытая мастерская · 2 марта"


def test_the_weekly_report_counts_escalated_items_not_digests(url, smtp_env):
    """A digest carries several items: the report's count of escalations is the items, as its
    breakdown by level and recipient is, not the mails."""
    import datetime as dt

    from models.db import session_scope
    from models.report_builder import build_report
    from models.roadmaps import select_roadmap

    plan, _, stats = escalate(url, date(2014, 12, 15))  # a Monday: week 51 (15-21 Dec)
    items = sum(len(d.items) for d in plan.todo)
    assert items > stats.sent == len(plan.todo)
    with session_scope(url) as session:
        ctx, _ = build_report(session, select_roadmap(session, None), date(2014, 12, 22),
                              generated_at=dt.datetime(2014, 12, 22, tzinfo=dt.UTC), max_rows=100)
    assert ctx.messages.escalations_sent == len(ctx.messages.escalations) == items
    assert sorted(e.key for e in ctx.messages.escalations) == sorted(e.key for d in plan.todo for e in d.items)


@pytest.mark.parametrize("value, why", [
    ("x" * 41, "String should have at most 40 characters"),
    ('"ОММ\\tдва"', "must be one line: a tab"),
])
def test_a_bad_short_title_is_a_file_line_error(small_yaml, value, why):
    from models.loader import load_roadmap_text
    from models.problems import RoadmapInvalid

    text = small_yaml.read_text(encoding="utf-8").replace("title: Small roadmap",
                                                          f"title: Small roadmap\n  short_title: {value}", 1)
    line = text.splitlines().index(f"  short_title: {value}") + 1
    with pytest.raises(RoadmapInvalid) as info:
        load_roadmap_text(text, "road.yaml")
    assert [p.format() for p in info.value.problems][0].startswith(f"road.yaml:{line}: roadmap.short_title: {why}")


def test_migration_0007_keeps_the_escalations_sent_one_by_one_before_it(url, smtp_env):
    """A database upgraded from 0006 holds per-item escalation messages: their items are
    copied into escalation_items, so the first digest after the upgrade does not repeat them."""
    from alembic import command
    from sqlalchemy import text

    from models.db import alembic_config, forget_schema_check, get_engine, migration_connection, upgrade

    day = date(2014, 11, 10)
    plan = plan_escalation_messages(url, None, day)
    items = [(d.recipient.email, e.dedup_key) for d in plan.todo for e in d.items]
    assert len(items) > 1
    engine = get_engine(url)
    cfg = alembic_config(url)
    with migration_connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with engine.begin() as conn:  # what 0006 code recorded: one message per item, keyed by the item
        roadmap_id = conn.execute(text("SELECT id FROM roadmaps")).scalar_one()
        for n, (email, key) in enumerate(items):
            conn.execute(text(
                "INSERT INTO outbox (roadmap_id, kind, dedup_key, recipient, as_of, subject, message_id, status, "
                "permanent, attempts, created_at) VALUES (:r, 'escalation', :k, :e, :d, 's', :m, 'sent', false, 1, :d)"
            ), dict(r=roadmap_id, k=f"small:{key}", e=email, d=day, m=f"<{n}@example.org>"))
    forget_schema_check(url)
    upgrade(url)
    assert plan_escalation_messages(url, None, day).todo == []  # every item was sent before the upgrade
    later = plan_escalation_messages(url, None, date(2014, 11, 11))
    assert later.todo and not {e.dedup_key for d in later.todo for e in d.items} & {k for _, k in items}


def test_migration_0014_rebuilds_the_outbox_without_losing_what_refers_to_it(url):
    """0014 rebuilds the outbox table on SQLite (batch mode): the rows that refer to it with ON
    DELETE CASCADE (contents, escalation items) survive both ways, and after it a message of
    the whole office (no roadmap) can be recorded."""
    from alembic import command
    from sqlalchemy import text

    from models.db import alembic_config, forget_schema_check, get_engine, migration_connection, upgrade

    record_plan(url, plan_escalation_messages(url, None, date(2014, 12, 15)))
    engine = get_engine(url)
    tables = ("outbox", "outbox_content", "escalation_items")

    def counts() -> dict[str, int]:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}

    before = counts()
    assert all(before.values())
    cfg = alembic_config(url)
    with migration_connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
    assert counts() == before
    forget_schema_check(url)
    upgrade(url)
    assert counts() == before
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO outbox (roadmap_id, kind, dedup_key, recipient, as_of, subject, message_id, status, "
            "permanent, attempts, created_at) VALUES (NULL, 'report', 'portfolio:x', 'a@example.org', :d, 's', "
            "'<m@example.org>', 'pending', false, 0, :d)"), dict(d=date(2014, 12, 15)))

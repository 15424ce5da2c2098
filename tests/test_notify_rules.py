"""Which reminders and escalations are due on a day, on the small roadmap.

Dates that matter: a is due Wed 5 Nov 2014 (after the weekend and the 3-4 Nov holidays),
b Mon 10 Nov, c Fri 7 Nov (partner vdnh, contact carol), d Mon 17 Nov, f Mon 1 Dec.
"""

from datetime import date

import pytest
from sqlalchemy import select

from models.db import session_scope
from models.notify import load_directory, plan_digests, plan_escalations
from models.planning import live_tasks, roadmap_calendar
from models.roadmaps import select_roadmap
from models.schema import Risk, Roadmap
from models.spec import Policy
from tasks.roadmap_jobs import change_risk, change_task, import_file


def digests_on(url: str, day: date) -> dict[str, list[tuple[str, str]]]:
    with session_scope(url) as s:
        roadmap = select_roadmap(s, None)
        got = plan_digests(live_tasks(s, roadmap.id), load_directory(s, roadmap), day, roadmap_calendar(roadmap))
        return {d.recipient.key: [(line.key, line.reason) for line in d.lines] for d in got}


def escalations_on(url: str, day: date) -> set[tuple[str, str, int, str, str]]:
    with session_scope(url) as s:
        roadmap = select_roadmap(s, None)
        risks = list(s.scalars(select(Risk).where(Risk.roadmap_id == roadmap.id)))
        got = plan_escalations(live_tasks(s, roadmap.id), risks, load_directory(s, roadmap), day,
                               roadmap_calendar(roadmap))
        return {(e.key, e.trigger, e.level, e.recipient.email.split("@")[0], e.trigger_value) for e in got}


@pytest.fixture
def url(db_url, small_yaml):
    import_file(db_url, small_yaml)
    return db_url


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2014, 10, 27), {"alice": [("a", "before")]}),  # 5 business days before 5 Nov
        (date(2014, 10, 29), {"bob": [("c", "before")]}),
        (date(2014, 10, 31), {"alice": [("a", "before")]}),  # 1 bd before, across weekend+holidays
        (date(2014, 11, 1), {}),  # Saturday: no reminders
        (date(2014, 11, 4), {}),  # Unity Day: no reminders
        (date(2014, 11, 5), {"alice": [("a", "due_today")]}),
        (date(2014, 11, 6), {"alice": [("a", "overdue")], "bob": [("c", "before")]}),
        (date(2014, 11, 7), {"alice": [("b", "before")], "bob": [("c", "due_today")]}),  # a 2 days late: skipped
        (date(2014, 11, 10), {"alice": [("a", "overdue"), ("b", "due_today")],
                              "bob": [("c", "overdue"), ("d", "before")]}),
    ],
)
def test_digest_contents_by_day(url, day, expected):
    assert digests_on(url, day) == expected


def test_done_and_cancelled_tasks_are_never_mentioned(url):
    change_task(url, None, "a", status="done", on=date(2014, 10, 31))
    change_task(url, None, "c", status="cancelled")
    assert digests_on(url, date(2014, 11, 6)) == {"alice": [("b", "before")]}  # b moved to 7 Nov


def test_escalation_levels(url):
    assert not {e for e in escalations_on(url, date(2014, 11, 7)) if e[1] == "overdue"}
    on_10 = {e for e in escalations_on(url, date(2014, 11, 10)) if e[1] == "overdue"}
    assert on_10 == {("a", "overdue", 1, "boss", "2014-11-05")}  # 3 bd late: the owner's manager
    on_12 = {e for e in escalations_on(url, date(2014, 11, 12)) if e[1] == "overdue"}
    assert ("c", "overdue", 1, "boss", "2014-11-07") in on_12 and ("c", "overdue", 1, "carol", "2014-11-07") in on_12
    on_19 = {e for e in escalations_on(url, date(2014, 11, 19)) if e[1] == "overdue"}
    assert ("a", "overdue", 2, "pmo", "2014-11-05") in on_19  # 10 bd late: the project office


def test_risk_triggers(url):
    on_7 = {e for e in escalations_on(url, date(2014, 11, 7)) if e[1] != "overdue"}
    assert on_7 == {("r1", "score", 0, who, "16") for who in ("bob", "carol", "pmo")}
    on_11 = {e for e in escalations_on(url, date(2014, 11, 11)) if e[0] == "r1"}
    assert ("r1", "review", 0, "pmo", "2014-11-10") in on_11  # review date passed unreviewed
    change_risk(url, None, "r1", reviewed=True, on=date(2014, 11, 11), probability=2)
    change_risk(url, None, "r2", status="occurred")
    after = {e for e in escalations_on(url, date(2014, 11, 12)) if e[1] != "overdue"}
    assert after == {("r2", "occurred", 0, who, "1") for who in ("alice", "pmo")}


def test_a_review_shortly_before_the_review_date_counts(url):
    change_risk(url, None, "r1", reviewed=True, on=date(2014, 11, 7))  # review date 10 Nov
    assert not {e for e in escalations_on(url, date(2014, 11, 12)) if e[1] == "review"}
    change_risk(url, None, "r1", reviewed=True, on=date(2014, 10, 1))  # long before: does not count
    assert {e for e in escalations_on(url, date(2014, 11, 12)) if e[1] == "review"}


def test_a_roadmap_stored_without_rules_gets_the_policy_defaults_everywhere():
    # A roadmap row with an empty policy (stored before the rules were saved, or by hand):
    # the status colours must use the same remind window as the reminders (5 business
    # days), not a window of 0 that made a task due in 3 days green while its owner was
    # already being reminded of it.
    stored = Policy.of(Roadmap(policy={}))
    assert stored == Policy()
    assert stored.remind_window == 5
    assert [stored.escalation_level(n) for n in (2, 3, 10)] == [0, 1, 2]


def test_stored_rules_are_read_with_their_own_values(url):
    with session_scope(url) as s:
        roadmap = select_roadmap(s, None)
        roadmap.policy = {**roadmap.policy, "remind_before": [2], "escalate_after": [1, 4]}
    with session_scope(url) as s:
        policy = Policy.of(select_roadmap(s, None))
    assert (policy.remind_window, policy.escalation_level(1), policy.escalation_level(4)) == (2, 1, 2)
    assert digests_on(url, date(2014, 10, 27)) == {}  # 5 bd before a's due day: no longer a reminder
    assert digests_on(url, date(2014, 10, 30)) == {"alice": [("a", "before")]}  # 2 bd before, across the holidays

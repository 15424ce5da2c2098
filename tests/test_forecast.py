"""Expected finishes (models/forecast.py): the forward pass from the as-of day, slack and the
critical path from it, and what status shows of them (docs/scheduling.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from models.calendar import calendar_for
from models.forecast import expected_finish, forward_pass, roadmap_expected, stage_expected
from models.status import task_rag
from tasks.roadmap_jobs import import_file, roadmap_status

RU = calendar_for("RU")


@dataclass
class T:
    """A planned task as the pass reads it (the plan's start and due, and live status)."""

    key: str
    start: date
    due: date
    duration: int | None = None
    depends_on: list[str] = field(default_factory=list)
    status: str = "planned"
    done_on: date | None = None
    forecast: date | None = None
    stage: str = "s"


def test_a_late_task_moves_the_duration_task_after_it():
    # Due Friday 8 May 2015 (9 and 11 May are holidays), still open on Wednesday 20 May: it
    # finishes on the 20th at the earliest, so 5 business days after it are 21, 22, 25, 26, 27 May.
    a = T("a", date(2015, 5, 6), date(2015, 5, 8))
    b = T("b", date(2015, 5, 12), date(2015, 5, 18), duration=5, depends_on=["a"])
    got = expected_finish([a, b], date(2015, 5, 20), RU)
    assert got == {"a": date(2015, 5, 20), "b": date(2015, 5, 27)}


def test_an_open_task_on_time_is_expected_on_its_plan():
    a = T("a", date(2015, 5, 6), date(2015, 5, 8))
    b = T("b", date(2015, 5, 12), date(2015, 5, 18), duration=5, depends_on=["a"])
    assert expected_finish([a, b], date(2015, 5, 7), RU) == {"a": date(2015, 5, 8), "b": date(2015, 5, 18)}


def test_a_done_task_finishes_on_its_done_date_and_moves_what_follows():
    a = T("a", date(2015, 5, 6), date(2015, 5, 8), status="done", done_on=date(2015, 5, 14))
    b = T("b", date(2015, 5, 12), date(2015, 5, 13), duration=2, depends_on=["a"])
    got = expected_finish([a, b], date(2015, 5, 14), RU)
    assert got == {"a": date(2015, 5, 14), "b": date(2015, 5, 18)}  # 15 and 18 May


def test_the_owners_forecast_and_the_due_date_are_floors():
    late = T("late", date(2015, 5, 4), date(2015, 5, 8), forecast=date(2015, 5, 15))
    early = T("early", date(2015, 5, 4), date(2015, 5, 8), forecast=date(2015, 5, 5))
    got = expected_finish([late, early], date(2015, 5, 4), RU)
    assert got == {"late": date(2015, 5, 15), "early": date(2015, 5, 8)}


def test_a_pinned_task_after_late_dependencies_keeps_its_working_time():
    # c was given 12-15 May (4 business days) after a; a is expected on the 20th, so c starts
    # on the 21st and is expected 4 business days later, 26 May.
    a = T("a", date(2015, 5, 6), date(2015, 5, 8))
    c = T("c", date(2015, 5, 12), date(2015, 5, 15), depends_on=["a"])
    assert expected_finish([a, c], date(2015, 5, 20), RU)["c"] == date(2015, 5, 26)
    # A pinned task squeezed to its due day is still expected the business day after them.
    d = T("d", date(2015, 5, 8), date(2015, 5, 8), depends_on=["a"])
    assert expected_finish([a, d], date(2015, 5, 20), RU)["d"] == date(2015, 5, 21)


def test_a_cancelled_dependency_constrains_nobody():
    a = T("a", date(2015, 5, 6), date(2015, 5, 8), status="cancelled")
    b = T("b", date(2015, 5, 12), date(2015, 5, 18), duration=5, depends_on=["a"])
    assert expected_finish([a, b], date(2015, 5, 20), RU) == {"b": date(2015, 5, 20)}


def test_stage_and_roadmap_finish_with_their_last_task():
    a = T("a", date(2015, 5, 6), date(2015, 5, 8), stage="one")
    b = T("b", date(2015, 5, 12), date(2015, 5, 18), duration=5, depends_on=["a"], stage="two")
    c = T("c", date(2015, 5, 4), date(2015, 5, 5), status="done", done_on=date(2015, 5, 5), stage="one")
    finishes = expected_finish([a, b, c], date(2015, 5, 20), RU)
    stages = stage_expected([a, b, c], finishes)
    assert stages == {"one": date(2015, 5, 20), "two": date(2015, 5, 27)}
    assert roadmap_expected(stages) == date(2015, 5, 27)


def test_slack_is_negative_along_a_late_chain_and_positive_beside_it():
    a = T("a", date(2015, 5, 6), date(2015, 5, 8))
    b = T("b", date(2015, 5, 12), date(2015, 5, 18), duration=5, depends_on=["a"])
    side = T("side", date(2015, 5, 12), date(2015, 5, 13), duration=2)
    got = forward_pass([a, b, side], date(2015, 5, 13), RU)
    # The plan ends on 18 May; a is expected on the 13th, b on 20 May: 2 business days late.
    assert got["b"].finish == date(2015, 5, 20)
    assert (got["a"].slack, got["a"].critical) == (-2, True)
    assert (got["b"].slack, got["b"].critical) == (-2, True)
    assert (got["side"].slack, got["side"].critical) == (3, False)  # 14, 15 and 18 May


def test_on_time_the_critical_path_is_the_longest_chain():
    a = T("a", date(2015, 5, 12), date(2015, 5, 13), duration=2)
    b = T("b", date(2015, 5, 14), date(2015, 5, 15), duration=2, depends_on=["a"])
    c = T("c", date(2015, 5, 12), date(2015, 5, 12), duration=1)
    got = forward_pass([a, b, c], date(2015, 5, 4), RU)
    assert {k for k, e in got.items() if e.critical} == {"a", "b"}
    assert got["c"].slack == 3


def test_a_done_task_never_has_negative_slack():
    # Done on its due date, but what follows it is late: the done task cannot slip any more.
    a = T("a", date(2015, 5, 6), date(2015, 5, 8), status="done", done_on=date(2015, 5, 8))
    b = T("b", date(2015, 5, 12), date(2015, 5, 18), duration=5, depends_on=["a"])
    got = forward_pass([a, b], date(2015, 5, 25), RU)
    assert got["b"].slack < 0
    assert (got["a"].slack, got["a"].critical) == (0, False)


def test_rag_is_red_when_expected_after_the_due_date():
    b = T("b", date(2015, 5, 12), date(2015, 5, 28), duration=13)
    as_of = date(2015, 5, 4)
    assert task_rag(b, date(2015, 5, 28), as_of, RU, 5)[2] == "green"
    assert task_rag(b, date(2015, 5, 29), as_of, RU, 5)[2] == "red"  # not late yet, expected late
    assert task_rag(b, date(2015, 5, 28), date(2015, 5, 25), RU, 5)[2] == "amber"  # due within the window


def test_status_json_gives_every_task_and_stage_its_expected_finish(db_url, example_yaml):
    """The seed example on 2 March 2015: the critical path is 39-48 business days late, so
    every later stage is expected late and red; the owner's forecast stays as it was."""
    import_file(db_url, example_yaml)
    doc = roadmap_status(db_url, None, date(2015, 3, 2))
    tasks = {t["key"]: t for t in doc["tasks"]}
    stages = {s["key"]: s for s in doc["stages"]}
    assert all("expected" in t and "forecast" in t for t in tasks.values())
    assert tasks["t04"]["expected"] == "2015-03-02"  # open, due 12 Dec 2014: today at the earliest
    assert tasks["t58"]["due"] == "2015-09-30" and tasks["t58"]["expected"] == "2015-12-08"
    assert tasks["t58"]["slack"] == -48 and tasks["t58"]["critical"]
    assert tasks["t01"]["slack"] >= 0 and tasks["t01"]["expected"] == tasks["t01"]["done_on"]
    for key in ("build", "setup", "launch"):
        assert stages[key]["rag"] == "red", key
        assert stages[key]["expected"] > stages[key]["end"]
        assert stages[key]["forecast_end"] == stages[key]["expected"]
    assert doc["roadmap"]["expected"] == "2015-12-08"
    assert all(t["slack"] >= 0 for t in tasks.values() if t["status"] == "done")

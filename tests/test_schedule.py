from datetime import date

from models.calendar import calendar_for
from models.dates import parse_date_expr as expr
from models.loader import load_roadmap
from models.schedule import TaskInput, schedule_tasks

RU = calendar_for("RU")
S = date(2014, 10, 28)


def plan(tasks):
    return schedule_tasks(tasks, RU, lambda anchor: date(2014, 10, 27)).plans


def test_small_roadmap_schedule(small_yaml):
    plans = load_roadmap(small_yaml).schedule.plans
    got = {k: (p.start, p.due) for k, p in plans.items()}
    assert got["a"] == (date(2014, 10, 28), date(2014, 11, 5))  # across the weekend and 3-4 Nov
    assert got["b"] == (date(2014, 11, 6), date(2014, 11, 10))
    assert got["d"][1] == date(2014, 11, 17)  # task.b + 1w
    assert got["f"] == (date(2014, 11, 18), date(2014, 12, 1))
    critical = {k for k, p in plans.items() if p.critical}
    assert critical == {"a", "b", "d", "f"}
    assert plans["c"].slack == 1


def test_done_dependency_finishes_on_done_on():
    plans = plan([
        TaskInput("a", S, duration=2, status="done", done_on=date(2014, 11, 12)),
        TaskInput("b", S, duration=1, depends_on=("a",)),
    ])
    assert plans["b"].start == date(2014, 11, 13)


def test_late_open_task_does_not_move_dependents_until_it_has_a_forecast():
    tasks = [TaskInput("a", S, duration=2), TaskInput("b", S, duration=1, depends_on=("a",))]
    assert plan(tasks)["b"].start == date(2014, 10, 30)
    tasks[0] = TaskInput("a", S, duration=2, forecast=date(2014, 11, 10))
    assert plan(tasks)["b"].start == date(2014, 11, 11)


def test_cancelled_dependency_constrains_nobody():
    plans = plan([
        TaskInput("a", S, duration=20, status="cancelled"),
        TaskInput("b", S, duration=1, depends_on=("a",)),
    ])
    assert plans["b"].start == S


def test_pinned_due_before_dependency_is_a_conflict():
    result = schedule_tasks(
        [TaskInput("a", S, duration=5), TaskInput("b", S, due=expr("2014-10-29"), depends_on=("a",))],
        RU, lambda a: date(2014, 10, 27),
    )
    assert [(c.key, c.dependency) for c in result.conflicts] == [("b", "a")]
    assert result.plans["a"].slack < 0 and result.plans["a"].critical  # a must finish before b starts


def test_parallel_branch_has_slack():
    plans = plan([
        TaskInput("a", S, duration=10),
        TaskInput("b", S, duration=2),
        TaskInput("c", S, duration=1, depends_on=("a", "b")),
    ])
    assert plans["a"].critical and plans["c"].critical
    assert not plans["b"].critical and plans["b"].slack == 8

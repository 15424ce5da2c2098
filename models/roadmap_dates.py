"""The dates of a roadmap file: stage dates from their expressions, then every task
scheduled (models/schedule.py), each mistake reported as a problem with its line.

Every date is checked against the window around the session (models/dates.py, `window`)
as soon as it is known, before anything is computed from it: a date read from the file,
a stage's dates once evaluated, a task's once planned. So a chain of far dates stops at its
first link instead of running towards the year 10000."""

from __future__ import annotations

from datetime import date
from typing import Any

from models.dates import DateExpr, DateExprError, outside_window, parse_date_expr, parse_duration, window
from models.graph import find_cycles, topological_order
from models.problems import did_you_mean
from models.roadmap_yaml import Path_, Reader
from models.schedule import OutsideWindow, TaskInput, anchor_resolver, schedule_tasks


def parse_expr(r: Reader, path: Path_, value: Any, session: date) -> DateExpr | None:
    """The expression, or None when it cannot be read or its date is outside the window."""
    try:
        expr = parse_date_expr(value)
    except DateExprError as exc:
        r.problem(path, str(exc))
        return None
    if expr.anchor.value is not None and not in_window(r, path, expr.anchor.value, session):
        return None
    return expr


def in_window(r: Reader, path: Path_, day: date | None, session: date) -> bool:
    """Whether ``day`` (if any) is within the window of the session; a problem when not."""
    why = None if day is None else outside_window(day, session)
    if why is not None:
        r.problem(path, why)
    return why is None


def risk_dates(r: Reader, meta: Any, risks: list[tuple[int, Any]]) -> None:
    """When risks are reviewed: within the window too (tasks' done_on: ``task_dates``)."""
    for i, k in risks:
        in_window(r, ("risks", i, "review"), k.review, meta.session.date)


def stage_dates(r, meta, stages, cal) -> dict[str, tuple[date, date]]:
    exprs: dict[str, tuple[int, DateExpr | None, DateExpr | None]] = {}
    for i, s in stages:
        start = parse_expr(r, ("stages", i, "start"), s.start, meta.session.date)
        end = parse_expr(r, ("stages", i, "end"), s.end, meta.session.date)
        to_tasks = [name for name, e in (("start", start), ("end", end)) if e is not None and e.anchor.kind == "task"]
        if to_tasks:
            r.problem(("stages", i, to_tasks[0]), "stage dates may refer to the session or other stages, not to tasks")
            start = end = None
        exprs[s.key] = (i, start, end)
    preds = {
        k: {e.refers_to_stage for e in (a, b) if e is not None and e.refers_to_stage}
        for k, (_, a, b) in exprs.items()
    }
    for k, refs in preds.items():
        for ref_key in refs - set(exprs):
            r.problem(("stages", exprs[k][0]), f"unknown stage {ref_key!r} in a date expression")
    order = topological_order(list(exprs), preds)
    if order is None:
        for cycle in find_cycles(list(exprs), preds):
            r.problem(("stages", exprs[cycle[0]][0]),
                      "stage dates refer to each other in a cycle: " + " -> ".join(cycle))
        return {}
    dates: dict[str, tuple[date, date]] = {}
    resolve = anchor_resolver(meta.session.date, dates)  # sees each stage's dates as they are added
    for key in order:
        i, start_e, end_e = exprs[key]
        if start_e is None or end_e is None or preds[key] - set(dates):
            continue
        first, last = start_e.evaluate(resolve, cal), end_e.evaluate(resolve, cal)
        if not (in_window(r, ("stages", i, "start"), first, meta.session.date)
                and in_window(r, ("stages", i, "end"), last, meta.session.date)):
            continue
        if last < first:
            r.problem(("stages", i, "end"), f"stage ends ({last}) before it starts ({first})")
        dates[key] = (first, last)
    return dates


def task_dates(r, meta, tasks, stage_dates, cal, all_keys):
    exprs: dict[str, tuple[DateExpr | None, DateExpr | None, int | None]] = {}
    preds: dict[str, set[str]] = {}  # what each task's plan reads: its dependencies, the tasks its dates name
    index = {}
    ok = True
    for i, t in tasks:
        index[t.key] = i
        start = parse_expr(r, ("tasks", i, "start"), t.start, meta.session.date) if t.start is not None else None
        due = parse_expr(r, ("tasks", i, "due"), t.due, meta.session.date) if t.due is not None else None
        duration = None
        if t.duration is not None:
            try:
                duration = parse_duration(t.duration)
            except DateExprError as exc:
                r.problem(("tasks", i, "duration"), str(exc))
                ok = False
        if (t.start is not None and start is None) or (t.due is not None and due is None):
            ok = False
        if not in_window(r, ("tasks", i, "done_on"), t.done_on, meta.session.date):
            ok = False
        for name, e in (("start", start), ("due", due)):
            if e is None:
                continue
            if e.anchor.kind == "task" and e.anchor.key not in all_keys["tasks"]:
                hint = did_you_mean(e.anchor.key, all_keys["tasks"], "task.")
                r.problem(("tasks", i, name), f"unknown task {e.anchor.key!r} in date expression{hint}")
                ok = False
            if e.anchor.kind == "stage" and e.anchor.key not in stage_dates:
                if e.anchor.key not in all_keys["stages"]:
                    r.problem(("tasks", i, name), f"unknown stage {e.anchor.key!r} in date expression")
                ok = False
        exprs[t.key] = (start, due, duration)
        preds[t.key] = set(t.depends_on) | {e.refers_to_task for e in (start, due) if e and e.refers_to_task}
        if t.stage not in stage_dates:
            ok = False
    if topological_order(list(preds), preds) is None:
        for cycle in find_cycles(list(preds), preds):
            r.problem(("tasks", index[cycle[0]], "depends_on"), "dependency cycle: " + " -> ".join(cycle))
        return exprs, None
    if not ok or len(exprs) != len(all_keys["tasks"]):  # a broken task is already reported
        return exprs, None

    inputs = [TaskInput(t.key, stage_dates[t.stage][0], *exprs[t.key], depends_on=tuple(t.depends_on),
                        status=t.status, done_on=t.done_on) for _, t in tasks]
    try:
        schedule = schedule_tasks(inputs, cal, anchor_resolver(meta.session.date, stage_dates),
                                  window(meta.session.date))
    except OutsideWindow as exc:
        why = outside_window(exc.day, meta.session.date, " (as scheduled)")
        r.problem(("tasks", index[exc.key], exc.field), str(why))
        return exprs, None
    for c in schedule.conflicts:
        r.problem(
            ("tasks", index[c.key], "due"),
            f"schedule conflict: due {c.due} is before its dependency {c.dependency!r} "
            f"finishes ({c.dependency_finish})",
            "warning",
        )
    for i, t in tasks:
        plan = schedule.plans[t.key]
        s_start, s_end = stage_dates[t.stage]
        if not (s_start <= plan.due <= s_end):
            r.problem(("tasks", i), f"due {plan.due} is outside its stage {t.stage!r} ({s_start} .. {s_end})",
                      "warning")
    return exprs, schedule

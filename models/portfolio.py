"""The portfolio: one row per active roadmap, for `roadmap status` without --roadmap when the
database holds several roadmaps (docs/cli.md, "Portfolio").

Each row is what the roadmap's own status says (models/status.py, the same rules): its RAG
(the worst of its stages'), tasks done of all, tasks overdue, the expected finish (the forward
pass of models/forecast.py) against the planned end and the slip between them in business days,
the next milestone (the end of the next stage still open; stages are the roadmap's milestones),
and the worst risk (the highest score of the risks still open or occurred).

Everything is read in a handful of queries for all roadmaps at once, columns only, so the
portfolio of 200 roadmaps costs a few queries, not a few per roadmap.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import BusinessCalendar
from models.forecast import roadmap_expected
from models.planning import roadmap_calendar
from models.roadmaps import active_roadmaps, day_of
from models.schema import Risk, Roadmap, Stage, Task
from models.spec import Policy
from models.status import RAG_ORDER, StageState, stage_states, task_states

SCHEMA = "roadmap-portfolio/1"
LIVE_RISK = ("open", "occurred")  # a mitigated or closed risk is no longer the worst of anything
# What task_states and stage_states read of a task.
TASK_COLUMNS = ("key", "title", "stage", "workstream", "owner", "start", "due", "duration", "forecast", "status",
                "progress", "done_on", "depends_on")


def _by_roadmap(session: Session, query: Any, ids: list[int]) -> dict[int, list[Any]]:
    """The rows of ``query`` (its first column the roadmap id) grouped by roadmap, in order."""
    out: dict[int, list[Any]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        for row in session.execute(query.where(query.selected_columns[0].in_(ids[start:start + 500]))):
            out[row[0]].append(row)
    return out


def portfolio(session: Session, as_of: date | None) -> dict[str, Any]:
    """The portfolio document (``SCHEMA``): a row per active roadmap, by key; each on ``as_of``
    or today in its own timezone."""
    roadmaps = active_roadmaps(session)
    ids = [r.id for r in roadmaps]
    t, s, k = Task.__table__.c, Stage.__table__.c, Risk.__table__.c
    tasks = _by_roadmap(session, select(t.roadmap_id, *(t[name] for name in TASK_COLUMNS))
                        .where(t.archived.is_(False)).order_by(t.roadmap_id, t.position), ids)
    stages = _by_roadmap(session, select(s.roadmap_id, s.key, s.title, s.start, s.end)
                         .where(s.archived.is_(False)).order_by(s.roadmap_id, s.position), ids)
    risks = _by_roadmap(session, select(k.roadmap_id, k.key, k.title, k.probability, k.impact, k.status)
                        .where(k.archived.is_(False), k.status.in_(LIVE_RISK)).order_by(k.roadmap_id, k.position),
                        ids)
    return {"schema": SCHEMA, "roadmaps": [
        roadmap_row(r, day_of(r, as_of), roadmap_calendar(r), tasks[r.id], stages[r.id], risks[r.id])
        for r in roadmaps]}


def roadmap_row(roadmap: Roadmap, day: date, cal: BusinessCalendar, tasks: list[Any], stages: list[Any],
                risks: list[Any]) -> dict[str, Any]:
    """One roadmap's portfolio row from its live tasks, stages and open risks."""
    states = task_states(tasks, {}, day, cal, Policy.of(roadmap).remind_window)
    rolled = stage_states(stages, tasks, states, cal, day)
    expected = roadmap_expected({st.key: st.expected for st in rolled if st.expected})
    planned = max((x.due for x in tasks if x.status != "cancelled"), default=None)
    worst = max(risks, key=lambda r: r.probability * r.impact, default=None)  # the first of equals
    return {
        "key": roadmap.key, "title": roadmap.title, "as_of": day.isoformat(),
        "rag": max((st.rag for st in rolled), key=RAG_ORDER.index, default="green"),
        "tasks": sum(1 for x in states if x.status != "cancelled"),
        "done": sum(1 for x in states if x.status == "done"),
        "overdue": sum(1 for x in states if x.days_late > 0),
        "expected": expected.isoformat() if expected else None,
        "planned": planned.isoformat() if planned else None,
        "slip": slip(expected, planned, cal),
        "next_milestone": next_milestone(rolled, day),
        "worst_risk": None if worst is None else {"key": worst.key, "title": worst.title, "status": worst.status,
                                                  "score": worst.probability * worst.impact},
    }


def slip(expected: date | None, planned: date | None, cal: BusinessCalendar) -> int | None:
    """Business days the expected finish is after the planned end (negative: before it)."""
    if expected is None or planned is None:
        return None
    return cal.between(planned, expected)


def next_milestone(stages: list[StageState], day: date) -> dict[str, Any] | None:
    """The end of the first stage (by its end) on or after ``day`` with work still open; or, when
    every remaining stage is done, None."""
    ahead = sorted((st for st in stages if st.end >= day and st.done < st.tasks), key=lambda st: st.end)
    if not ahead:
        return None
    st = ahead[0]
    return {"stage": st.key, "title": st.title, "end": st.end.isoformat(),
            "expected": st.expected.isoformat() if st.expected else None, "rag": st.rag}

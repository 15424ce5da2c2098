"""The portfolio: one row per active roadmap, for `roadmap status` without --roadmap when the
database holds several roadmaps (docs/cli.md, "Portfolio").

Each row is what the roadmap's own status says (models/status.py, the same rules): its RAG
(the worst of its stages'), tasks done of all, tasks overdue, the expected finish (the forward
pass of models/forecast.py) against the planned end and the slip between them in business days,
the next milestone (the end of the next stage still open; stages are the roadmap's milestones),
and the worst risk (the highest score of the risks still open or occurred).

A roadmap whose row cannot be computed (a stored state this version cannot use, such as a
calendar the holidays package dropped) does not stop the others: its row carries ``error``
(the others' is null) and the command exits 1 at the end naming it, as `roadmap run` does.

Everything is read in a handful of queries for all roadmaps at once, columns only, so the
portfolio of 200 roadmaps costs a few queries, not a few per roadmap; and a task's state is
reduced to what the row reads (``task_marks``, by the rules of ``task_states``) after the
forward pass without the backward one (slack and the critical path are not shown).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import BusinessCalendar
from models.errors import error_line
from models.forecast import COLUMNS, expected_finish, planned_end, roadmap_expected
from models.planning import roadmap_calendar
from models.roadmaps import active_roadmaps, day_of
from models.schema import Risk, Roadmap, Stage, Task
from models.spec import Policy
from models.status import StageState, roadmap_rag, stage_states, task_counts, task_marks

log = logging.getLogger("roadmap")

SCHEMA = "roadmap-portfolio/1"
LIVE_RISK = ("open", "occurred")  # a mitigated or closed risk is no longer the worst of anything
# What the forward pass, task_marks and stage_states read of a task.
TASK_COLUMNS = (*COLUMNS, "progress")
# The row of a roadmap that failed: the same keys, null, and its error.
EMPTY_ROW = dict.fromkeys(("rag", "tasks", "done", "overdue", "expected", "planned", "slip", "next_milestone",
                           "worst_risk"))


def _by_roadmap(session: Session, query: Any, ids: list[int]) -> dict[int, list[Any]]:
    """The rows of ``query`` (its first column the roadmap id) grouped by roadmap, in order."""
    out: dict[int, list[Any]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        for row in session.execute(query.where(query.selected_columns[0].in_(ids[start:start + 500]))).all():
            out[row[0]].append(row)
    return out


def portfolio(session: Session, as_of: date | None,
              today: Callable[[Roadmap], date] | None = None) -> dict[str, Any]:
    """The portfolio document (``SCHEMA``): a row per active roadmap, by key; each on ``as_of``
    or today in its own timezone (``today``: the day of a roadmap by another clock, the web
    app's). A day outside a roadmap's window is refused (UserError) before anything is computed."""
    roadmaps = active_roadmaps(session)
    days = {r.id: today(r) if today is not None and as_of is None else day_of(r, as_of) for r in roadmaps}
    ids = [r.id for r in roadmaps]
    t, s, k = Task.__table__.c, Stage.__table__.c, Risk.__table__.c
    tasks = _by_roadmap(session, select(t.roadmap_id, *(t[name] for name in TASK_COLUMNS))
                        .where(t.archived.is_(False)).order_by(t.roadmap_id, t.position), ids)
    stages = _by_roadmap(session, select(s.roadmap_id, s.key, s.title, s.start, s.end)
                         .where(s.archived.is_(False)).order_by(s.roadmap_id, s.position), ids)
    risks = _by_roadmap(session, select(k.roadmap_id, k.key, k.title, k.probability, k.impact, k.status)
                        .where(k.archived.is_(False), k.status.in_(LIVE_RISK)).order_by(k.roadmap_id, k.position),
                        ids)
    rows = []
    for r in roadmaps:
        try:
            row = roadmap_row(r, days[r.id], roadmap_calendar(r), tasks.pop(r.id, []), stages.pop(r.id, []),
                              risks.pop(r.id, []))
        except Exception as exc:  # noqa: BLE001 - one roadmap's stored state must not hide the others
            log.debug("%s: its portfolio row failed", r.key, exc_info=exc)
            row = {"key": r.key, "title": r.title, "as_of": days[r.id].isoformat(), **EMPTY_ROW,
                   "error": error_line(exc)}
        rows.append(row)
    return {"schema": SCHEMA, "roadmaps": rows}


def failed_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of roadmaps whose status could not be computed."""
    return [row for row in doc["roadmaps"] if row.get("error")]


def roadmap_row(roadmap: Roadmap, day: date, cal: BusinessCalendar, tasks: list[Any], stages: list[Any],
                risks: list[Any]) -> dict[str, Any]:
    """One roadmap's portfolio row from its live tasks, stages and open risks."""
    marks = task_marks(tasks, day, cal, Policy.of(roadmap).remind_window, expected_finish(tasks, day, cal))
    rolled = stage_states(stages, tasks, marks, cal, day)
    expected = roadmap_expected({st.key: st.expected for st in rolled if st.expected})
    planned = planned_end(tasks)
    counts = task_counts(marks)
    worst = max(risks, key=lambda r: r.probability * r.impact, default=None)  # the first of equals
    return {
        "key": roadmap.key, "title": roadmap.title, "as_of": day.isoformat(),
        "rag": roadmap_rag(st.rag for st in rolled),
        "tasks": counts["tasks"], "done": counts["done"], "overdue": counts["overdue"],
        "expected": expected.isoformat() if expected else None,
        "planned": planned.isoformat() if planned else None,
        "slip": slip(expected, planned, cal),
        "next_milestone": next_milestone(rolled, day),
        "worst_risk": None if worst is None else {"key": worst.key, "title": worst.title, "status": worst.status,
                                                  "score": worst.probability * worst.impact},
        "error": None,
    }


def slip(expected: date | None, planned: date | None, cal: BusinessCalendar) -> int | None:
    """Business days the expected finish is after the planned end (negative: before it)."""
    if expected is None or planned is None:
        return None
    return cal.between(planned, expected)


def slip_text(slip: int | None) -> str:
    """A slip as the CLI and the web page write it: ``+12``, ``0``, ``-3`` business days; "" for none."""
    return "" if slip is None else f"{slip:+d}" if slip else "0"


def next_milestone(stages: list[StageState], day: date) -> dict[str, Any] | None:
    """The end of the first stage (by its end) on or after ``day`` with work still open; or, when
    every remaining stage is done, None."""
    ahead = sorted((st for st in stages if st.end >= day and st.done < st.tasks), key=lambda st: st.end)
    if not ahead:
        return None
    st = ahead[0]
    return {"stage": st.key, "title": st.title, "end": st.end.isoformat(),
            "expected": st.expected.isoformat() if st.expected else None, "rag": st.rag}

"""The data of the web pages, read through a session and returned as plain values.

The roadmap page shows what the weekly report shows (``models/report_builder.py``) with
the same rules (``models.status``: RAG, business days late, stage roll-up), but it must
render a 10,000-task roadmap in well under half a second, on every request. So it reads
only the columns it needs as plain rows instead of ORM objects (loading 10,000 ``Task``
objects alone costs ~0.3 s), and lists at most ``LIMIT`` rows per table with a count of
the rest.
"""

from __future__ import annotations

import datetime as dt
import glob
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from models.delegation import is_away
from models.forecast import Expected, forward_pass, roadmap_forecast
from models.history import history
from models.i18n import risk_status, task_status, translations
from models.planning import roadmap_calendar, upstream
from models.report_builder import stage_baselines
from models.schema import Change, Person, Risk, Roadmap, Stage, Task
from models.spec import Policy
from models.status import OPEN, stage_states, task_progress, task_rag
from web.security import N_

LIMIT = 50
UPCOMING_DAYS = 14  # as the weekly report: the as-of day and the 13 after it
GANTT_TASKS = 30  # as the report's chart: stages plus the first 30 open critical tasks


class Row(NamedTuple):
    """A task as the page lists it, and what ``stage_states`` reads of its state (a tuple:
    the page makes one for each of up to 10,000 tasks)."""

    key: str
    title: str
    stage: str  # its title
    owner: str  # the name
    due: dt.date
    status: str
    progress: int
    days_late: int
    rag: str
    escalation: int
    expected: dt.date | None  # models/forecast.py


class Bar(NamedTuple):
    label: str
    kind: str  # stage | task
    start: dt.date
    end: dt.date
    rag: str
    critical: bool = False
    baseline_start: dt.date | None = None
    baseline_end: dt.date | None = None
    # Positions on the chart, in percent of its width.
    left: float = 0.0
    width: float = 0.0
    base_left: float | None = None
    base_width: float | None = None


_TASK_COLUMNS = (Task.key, Task.title, Task.stage, Task.owner, Task.status, Task.due, Task.forecast, Task.start,
                 Task.finish, Task.progress, Task.baseline_start, Task.baseline_due, Task.duration, Task.depends_on,
                 Task.done_on)


def roadmap_page(session: Session, roadmap: Roadmap, as_of: dt.date, reports_dir: Path | None = None) -> dict[str, Any]:
    """The ``page`` of templates/web/roadmap.html.j2:

    1. Read the live tasks as rows and give each its lateness and colour.
    2. Roll them up per stage (``stages``: ``models.status.stage_states``) and count them (``counts``).
    3. ``overdue`` (most late first), ``upcoming`` (soonest first), ``risks`` (open, highest
       score first): at most LIMIT ``Row``s or risks each, with their ``*_total``.
    4. Chart bars (``gantt``): every stage, then the first open critical tasks, placed in
       percent; ``gantt_hidden`` critical tasks left out, ``today_left`` and ``months`` ticks.
    5. The latest weekly ``report`` (a path, or None); ``roadmap`` and ``as_of`` themselves."""
    cal = roadmap_calendar(roadmap)
    policy = Policy.of(roadmap)
    tasks = session.execute(
        select(*_TASK_COLUMNS).where(Task.roadmap_id == roadmap.id, Task.archived.is_(False)).order_by(Task.position)
    ).all()
    stages = list(session.scalars(
        select(Stage).where(Stage.roadmap_id == roadmap.id, Stage.archived.is_(False)).order_by(Stage.position)
    ))
    names = dict(session.execute(select(Person.key, Person.name).where(Person.roadmap_id == roadmap.id)).all())
    stage_titles = {s.key: s.title for s in stages}
    forecast = forward_pass(tasks, as_of, cal)

    def row(t: Any) -> Row:
        e = forecast.get(t.key)
        late, _, rag = task_rag(t, e.finish if e else None, as_of, cal, policy.remind_window)
        return Row(t.key, t.title, stage_titles.get(t.stage, t.stage), names.get(t.owner, t.owner), t.due, t.status,
                   task_progress(t), late, rag, policy.escalation_level(late) if t.status in OPEN else 0,
                   e.finish if e else None)

    rows = [row(t) for t in tasks]
    stage_rows = stage_states(stages, tasks, rows, cal, as_of)
    horizon = as_of + dt.timedelta(days=UPCOMING_DAYS - 1)
    overdue = sorted((r for r in rows if r.status in OPEN and r.days_late > 0), key=lambda r: (-r.days_late, r.key))
    upcoming = sorted((r for r in rows if r.status in OPEN and as_of <= r.due <= horizon), key=lambda r: (r.due, r.key))

    risks = list(session.scalars(
        select(Risk).where(Risk.roadmap_id == roadmap.id, Risk.archived.is_(False), Risk.status != "closed")
    ))
    risks.sort(key=lambda r: (-r.score, -r.impact, r.key))
    for r in risks:
        r.owner_name = names.get(r.owner, r.owner)  # type: ignore[attr-defined]

    statuses = Counter(r.status for r in rows)
    counts = {"tasks": len(rows) - statuses["cancelled"], "done": statuses["done"], "overdue": len(overdue),
              "amber": sum(1 for r in rows if r.rag == "amber"), "blocked": statuses["blocked"]}
    bars, hidden = _bars(stages, stage_rows, tasks, rows, forecast, stage_baselines(session, roadmap.id))
    today_left, months = _place(bars, as_of)
    return dict(
        roadmap=roadmap, as_of=as_of, stages=stage_rows, counts=counts,
        overdue=overdue[:LIMIT], overdue_total=len(overdue), upcoming=upcoming[:LIMIT], upcoming_total=len(upcoming),
        risks=risks[:LIMIT], risks_total=len(risks), gantt=bars, gantt_hidden=hidden,
        today_left=today_left, months=months, report=latest_report(reports_dir, roadmap.key),
    )


def _bars(stages: list[Stage], stage_rows: list[Any], tasks: Sequence[Any], rows: list[Row],
          forecast: dict[str, Expected], baselines: dict[tuple[str, str], dt.date]) -> tuple[list[Bar], int]:
    """Each stage followed by its open critical tasks, at most GANTT_TASKS tasks in all
    (the weekly report's chart shows the same); also how many critical tasks were left out.
    Bars end at the expected finish (models/forecast.py) when it is after the plan."""
    by_stage: dict[str, list[tuple[Any, Row]]] = {}
    for t, r in zip(tasks, rows, strict=True):
        if t.key in forecast and forecast[t.key].critical:
            by_stage.setdefault(t.stage, []).append((t, r))
    bars: list[Bar] = []
    shown = hidden = 0
    for st, state in zip(stages, stage_rows, strict=True):
        end = max(st.end, state.expected) if state.expected else st.end
        bars.append(Bar(st.title, "stage", st.start, end, state.rag, baseline_start=baselines.get((st.key, "start"),
                        st.start), baseline_end=baselines.get((st.key, "end"), st.end)))
        members = by_stage.get(st.key, [])
        chosen = members[:GANTT_TASKS - shown]
        bars += [Bar(t.title, "task", t.start, max(r.expected or t.finish, t.start), r.rag, True, t.baseline_start,
                     t.baseline_due) for t, r in chosen]
        shown, hidden = shown + len(chosen), hidden + len(members) - len(chosen)
    return bars, hidden


def _place(bars: list[Bar], as_of: dt.date) -> tuple[float | None, list[tuple[str, float]]]:
    """Fill in each bar's position in percent; the as-of line and month ticks too."""
    if not bars:
        return None, []
    first = min(min(b.start, b.baseline_start or b.start) for b in bars)
    last = max(max(b.end, b.baseline_end or b.end) for b in bars)
    span = max((last - first).days + 1, 1)

    def pct(day: dt.date) -> float:
        return round(100.0 * (day - first).days / span, 3)

    for i, b in enumerate(bars):
        width = max(pct(b.end + dt.timedelta(days=1)) - pct(b.start), 0.4)
        base = (pct(b.baseline_start), max(pct(b.baseline_end + dt.timedelta(days=1)) - pct(b.baseline_start), 0.4)) \
            if b.baseline_start and b.baseline_end else (None, None)
        bars[i] = b._replace(left=pct(b.start), width=width, base_left=base[0], base_width=base[1])
    months = []
    day = first.replace(day=1)
    while day <= last:
        if day >= first:
            months.append((day.strftime("%m.%y"), pct(day)))
        day = (day + dt.timedelta(days=32)).replace(day=1)
    step = max(1, -(-len(months) // 6))  # at most 6 ticks: they must not overlap on a phone
    today = pct(as_of) if first <= as_of <= last else None
    return today, months[::step]


def latest_report(reports_dir: Path | None, roadmap_key: str) -> Path | None:
    """The newest weekly report of the roadmap in the reports folder (file names carry the
    ISO year and week, ``<key>-<year>-W<week>.docx``, so the greatest name is the latest)."""
    pattern = f"{glob.escape(roadmap_key)}-[0-9][0-9][0-9][0-9]-W[0-9][0-9].docx"
    return max(Path(reports_dir).glob(pattern), default=None) if reports_dir is not None else None


# --- the task page ---------------------------------------------------------------------


def task_page(session: Session, roadmap: Roadmap, task: Task, person_key: str, as_of: dt.date) -> dict[str, Any]:
    """The ``page`` of templates/web/task.html.j2: the ``roadmap``, the ``task`` and ``as_of``;
    its ``stage_title``, ``owner`` (a Person, or None), ``days_late``, ``expected`` finish
    (models/forecast.py, the whole roadmap's forward pass) and ``rag``; the open
    tasks it waits for (``blockers``) and the tasks that wait for it (``dependents``); its
    latest changes, and those of the link's person, newest first (``history``, as
    ``history_line`` says them); the ``person`` the link is for (None for the office),
    whether they are ``away``, and the ``people`` they may name as a delegate; the page's ``lang``:
    the person's own language, else the roadmap's."""
    cal = roadmap_calendar(roadmap)
    expected = roadmap_forecast(session, roadmap.id, as_of, cal, upstream(session, roadmap, task.key)).get(task.key)
    late, _, rag = task_rag(task, expected.finish if expected else None, as_of, cal, Policy.of(roadmap).remind_window)
    people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
    stage = session.scalar(select(Stage.title).where(Stage.roadmap_id == roadmap.id, Stage.key == task.stage))
    waits_for = list(task.depends_on or [])
    blockers = sorted(session.scalars(select(Task).where(
        Task.roadmap_id == roadmap.id, Task.archived.is_(False), Task.key.in_(waits_for), Task.status.in_(OPEN)
    )), key=lambda t: waits_for.index(t.key))  # in the order the roadmap names them
    # Dependents: a JSON list cannot be searched the same way on SQLite and PostgreSQL, so
    # the database narrows by the text of the list (the key in quotes; a "_" in a key
    # matches any character in LIKE, hence the exact check after).
    # Decoding all 10,000 lists instead costs ~0.1 s.
    dependents = [t for t in session.scalars(select(Task).where(
        Task.roadmap_id == roadmap.id, Task.archived.is_(False), cast(Task.depends_on, String).like(f'%"{task.key}"%')
    ).order_by(Task.due, Task.key)) if task.key in (t.depends_on or [])]
    person = people.get(person_key)
    changes = history(session, roadmap.id, "task", task.key)[-15:][::-1]
    if person is not None:
        changes += history(session, roadmap.id, "person", person.key)[-5:][::-1]
    names = {p.key: p.name for p in people.values()}
    lang = reader_language(roadmap, person)
    candidates = sorted((p for p in people.values() if not p.archived and p.key != person_key), key=lambda p: p.name)
    return dict(
        roadmap=roadmap, task=task, as_of=as_of, stage_title=stage or task.stage, owner=people.get(task.owner),
        person=person, days_late=late, rag=rag, expected=expected.finish if expected else None,
        blockers=blockers, dependents=dependents,
        history=[history_line(c, lang, names) for c in changes], lang=lang,
        people=candidates, away=bool(person is not None and is_away(person, as_of)),
    )


# --- the risk page ---------------------------------------------------------------------


def risk_page(session: Session, roadmap: Roadmap, risk: Risk, person_key: str, as_of: dt.date) -> dict[str, Any]:
    """The ``page`` of templates/web/risk.html.j2: the ``roadmap``, the ``risk`` and ``as_of``;
    its ``owner`` (a Person, or None), the ``person`` the link is for (None for the office),
    the titles of the tasks it threatens (``tasks``), its latest changes, newest first
    (``history``), and the page's ``lang`` (``reader_language``)."""
    people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
    keys = list(risk.tasks or [])
    titles = dict(session.execute(select(Task.key, Task.title).where(
        Task.roadmap_id == roadmap.id, Task.archived.is_(False), Task.key.in_(keys))).all()) if keys else {}
    names = {p.key: p.name for p in people.values()}
    changes = history(session, roadmap.id, "risk", risk.key)[-20:][::-1]
    person = people.get(person_key)
    lang = reader_language(roadmap, person)
    return dict(
        roadmap=roadmap, risk=risk, as_of=as_of, owner=people.get(risk.owner), person=person,
        tasks=[titles[k] for k in keys if k in titles],
        history=[history_line(c, lang, names) for c in changes], lang=lang,
    )


def reader_language(roadmap: Roadmap, person: Person | None) -> str:
    """The language of a page opened from a person's link: theirs (``people[].language``), else
    the roadmap's (also for the office)."""
    return (person.language if person is not None else None) or roadmap.language


# The history table's words: a change's field, where it came from, a yes/no value.
FIELDS: dict[str, str] = {
    "added": N_("added"), "archived": N_("archived"), "restored": N_("restored"), "note": N_("note"),
    "status": N_("status"), "progress": N_("progress"), "done_on": N_("done on"), "forecast": N_("forecast"),
    "due": N_("due"), "start": N_("start"), "finish": N_("finish"), "title": N_("title"), "stage": N_("stage"),
    "workstream": N_("workstream"), "owner": N_("owner"), "partners": N_("partners"),
    "depends_on": N_("depends on"), "start_expr": N_("start (as written)"), "due_expr": N_("due (as written)"),
    "duration": N_("duration, business days"), "notes": N_("notes"), "away_until": N_("away until"),
    "delegate": N_("delegate"), "name": N_("name"), "email": N_("email"), "manager": N_("manager"),
    "partner": N_("partner"), "probability": N_("probability"), "impact": N_("impact"),
    "mitigation": N_("mitigation"), "review": N_("review"), "reviewed_on": N_("reviewed on"),
}
SOURCES: dict[str, str] = {
    "web": N_("web"), "cli": N_("command line"), "import": N_("file import"), "schedule": N_("rescheduling"),
}
BOOLEANS = {"True": N_("yes"), "False": N_("no")}


def history_line(change: Change, lang: str, names: dict[str, str]) -> dict[str, str]:
    """One history row as the page shows it: the field's name, its old and new values and
    where the change came from, in ``lang``; ``names`` turns person keys into names.
    A field, source or value without a word here is shown as stored."""
    words = translations(lang)

    def value(raw: str | None) -> str:
        if raw is None:
            return ""
        if change.field == "status":
            return risk_status(raw, lang) if change.entity == "risk" else task_status(raw, lang)
        if change.field in ("owner", "delegate", "manager"):
            return names.get(raw, raw)
        return words.gettext(BOOLEANS[raw]) if raw in BOOLEANS else raw

    source = words.gettext(SOURCES[change.source]) if change.source in SOURCES else change.source
    return {
        "when": change.at.strftime("%Y-%m-%d %H:%M"),
        "field": words.gettext(FIELDS[change.field]) if change.field in FIELDS else change.field,
        "old": value(change.old), "new": value(change.new),
        "by": f"{source}: {change.actor}" if change.actor else source,
        "note": change.note or "",
    }

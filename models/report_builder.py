"""Fill a ``ReportContext`` from the database: the weekly report's data, nothing rendered.

``build_report`` reads one roadmap through a session and returns plain data; it writes
nothing (the caller saves the snapshot, see ``tasks/report_jobs.py``). Decisions made here:

- Days late are business days of the roadmap's calendar (``models.status``), RAG too.
- Overdue: open tasks (planned, in progress, blocked) at least one business day past
  their due date. Blocked: tasks with status ``blocked`` that are not overdue (yet).
  ``blocked_by`` lists the open predecessors of a task, for information.
- Escalation level reached: 2 at ``policy.escalate_after[1]`` business days late, 1 at
  ``escalate_after[0]``, else 0 (default thresholds 3 and 10, as ``models.notify``).
- Upcoming ("next two weeks"): open tasks due from the report date through the 13 days
  after it, i.e. 14 calendar days counting the report date; a task due today is listed
  there, not as overdue. Calendar days rather than business days, so that a fortnight
  of holidays does not stretch the window.
- Forecast finish of a task: its expected finish (``models/forecast.py``, as in status:
  a late task moves the tasks after it, an open task never finishes before the report
  date once past due), and slack and the critical path from the same pass. A stage's
  forecast end is the latest expected finish of its tasks; a stage expected after its
  planned end is red.
- Gantt: every stage (plan: its start..planned end; baseline: its dates at the first import,
  found in the change history; expected: its forecast end), each followed by its open tasks,
  late then critical first, at most ``models.gantt_rows.PER_STAGE`` (the rest counted); a
  task's plan is start..due, its baseline baseline_start..baseline_due, its expected finish
  the forward pass's.
- Tasks are read with a Core select of the columns the report needs (plain rows, no ORM
  identity map): for 10,000 tasks that is ~0.1 s instead of ~0.3 s for ORM objects.
- The period: ``report_week(as_of)`` (models/report_rules.py), the seven days before the
  report date, named after the ISO week of the day before. "Done this week" counts tasks
  done within it (a task done on the report date itself belongs to next week's report).
- Changes: against the snapshot of the latest earlier report week (its ``state``), or None
  when there is none: completed = done by the end of the period and not done then; newly overdue = overdue
  now and not overdue then; moved = due date differs (tasks now done or cancelled left
  out: the scheduler moves their dates along, nobody waits for them); new risks = not there then;
  closed risks = closed now, not closed then.
- Messages: outbox rows of the roadmap that were sent (counted in SQL; only the escalations
  are read, and only their recipient, subject and time), for a day (``as_of`` of the
  message) in the report's period (the report date's own messages are next week's): reminders, escalations and
  notices counted, escalations listed in full. Failed messages of the roadmap still waiting
  (status `failed`, any day: neither retried nor dismissed) are counted and the oldest
  FAILED_LISTED listed, until someone sends them again or dismisses them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, func, select, tuple_
from sqlalchemy.orm import Session

from models.gantt_rows import flatten, stage_groups
from models.planning import roadmap_calendar
from models.report_data import (
    ChangeItem,
    Changes,
    EscalationSent,
    FailedMessage,
    GanttBar,
    MessagesSummary,
    MovedTask,
    PartnerRow,
    ReportContext,
    RiskRow,
    StageRow,
    Summary,
    TaskRow,
    WorkstreamRow,
)
from models.report_rules import decision_sentences, heatmap_counts, overall_rag, report_week
from models.schema import (
    Change,
    EscalationItem,
    OutboxMessage,
    Partner,
    Person,
    ReportSnapshot,
    Risk,
    Roadmap,
    Stage,
    Task,
    Workstream,
    in_zone,
    roadmap_messages,
)
from models.spec import Policy
from models.status import OPEN, TaskState, stage_states, task_states

DONE = ("done", "cancelled")  # the scheduler may still move these; the report does not list that
UPCOMING_DAYS = 14  # calendar days, counting the report date
# The task columns the report reads (not the file expressions, notes or file_state).
_TASK_COLUMNS = (
    "key", "title", "stage", "workstream", "owner", "partners", "depends_on", "status", "done_on",
    "progress", "forecast", "start", "due", "finish", "duration", "baseline_start", "baseline_due",
)


def report_tasks(session: Session, roadmap_id: int) -> list[Row]:
    """The live tasks of a roadmap in file order, as plain rows with Task's attribute names
    (what ``models.status`` reads), without building ORM objects."""
    columns = [Task.__table__.c[name] for name in _TASK_COLUMNS]
    return list(session.execute(
        select(*columns).where(Task.roadmap_id == roadmap_id, Task.archived.is_(False)).order_by(Task.position)
    ))


def build_report(
    session: Session,
    roadmap: Roadmap,
    as_of: dt.date,
    *,
    generated_at: dt.datetime,
    max_rows: int,
) -> tuple[ReportContext, dict[str, Any]]:
    """The report of ``roadmap`` as of ``as_of``, for the week before it (``report_week``), and
    the snapshot state (every live task and risk) to save with it."""
    week = report_week(as_of)
    iso_year, iso_week, week_start, week_end = week.iso_year, week.iso_week, week.start, week.end
    lang = roadmap.language
    cal = roadmap_calendar(roadmap)
    policy = Policy.of(roadmap)

    tasks = report_tasks(session, roadmap.id)
    people = {p.key: p for p in session.scalars(select(Person).where(Person.roadmap_id == roadmap.id))}
    partners = {p.key: p for p in session.scalars(select(Partner).where(Partner.roadmap_id == roadmap.id))}
    live = dict(roadmap_id=roadmap.id, archived=False)
    stages = list(session.scalars(select(Stage).filter_by(**live).order_by(Stage.position)))
    risks = list(session.scalars(select(Risk).filter_by(**live).order_by(Risk.position)))
    # The rows stand in for Tasks (same attribute names, see report_tasks); a Row's columns
    # have no static types, hence the arg-type ignore.
    states = task_states(tasks, people, as_of, cal, policy.remind_window)  # type: ignore[arg-type]
    stage_rows_state = stage_states(stages, tasks, states, cal, as_of)

    def person_name(key: str | None) -> str:
        p = people.get(key or "")
        return p.name if p else (key or "")

    def row(t: Row, s: TaskState) -> TaskRow:
        return TaskRow(
            key=t.key, title=t.title, stage=t.stage, owner=person_name(t.owner),
            partners=[partners[k].name if k in partners else k for k in t.partners or []],
            start=t.start, due=t.due, baseline_due=t.baseline_due,
            status=t.status, progress=s.progress, days_late=s.days_late, rag=s.rag, critical=s.critical,
            slack=s.slack,
            escalation_level=policy.escalation_level(s.days_late),  # rows are of open tasks only
            blocked_by=list(s.blocked_by),
        )

    pairs = list(zip(tasks, states, strict=True))
    overdue = [row(t, s) for t, s in pairs if t.status in OPEN and s.days_late > 0]
    overdue.sort(key=lambda r: (-r.days_late, r.key))
    blocked = [row(t, s) for t, s in pairs if t.status == "blocked" and s.days_late <= 0]
    horizon = as_of + dt.timedelta(days=UPCOMING_DAYS - 1)
    upcoming = [row(t, s) for t, s in pairs if t.status in OPEN and as_of <= t.due <= horizon]
    upcoming.sort(key=lambda r: (r.due, r.key))

    stage_rows = [
        StageRow(key=st.key, title=st.title, start=st.start, end=st.end, forecast_end=st.forecast_end,
                 progress=st.progress, rag=st.rag)
        for st in stage_rows_state
    ]

    risk_rows = [
        RiskRow(key=r.key, title=r.title, owner=person_name(r.owner), probability=r.probability,
                impact=r.impact, mitigation=r.mitigation or "", review_date=r.review, status=r.status)
        for r in risks
    ]
    risk_rows.sort(key=lambda r: (-r.score, -r.impact, r.key))

    summary = _summary(pairs, stage_rows, overdue, risk_rows, cal, week_start, week_end, lang)
    state = snapshot_state(pairs, risks, week_end)
    previous = previous_state(session, roadmap.id, iso_year, iso_week)
    changes = None if previous is None else compare_states(previous, state)

    ctx = ReportContext(
        roadmap_key=roadmap.key, title=roadmap.title, language=lang,
        iso_year=iso_year, iso_week=iso_week, week_start=week_start, week_end=week_end,
        as_of=as_of, generated_at=generated_at, summary=summary, stages=stage_rows,
        gantt=_gantt(stages, stage_rows_state, pairs, stage_baselines(session, roadmap.id)),
        overdue=overdue, blocked=blocked, upcoming=upcoming, risks=risk_rows,
        heatmap=heatmap_counts(risk_rows), changes=changes,
        messages=_messages(session, roadmap, week_start, week_end), max_rows=max_rows,
        workstreams=_workstreams(session, roadmap.id, pairs),
        partners=_partners(partners, pairs, row),
    )
    return ctx, state


def _summary(pairs, stage_rows, overdue, risk_rows, cal, week_start, week_end, lang) -> Summary:
    counted = [(t, s) for t, s in pairs if t.status != "cancelled"]
    done = [(t, s) for t, s in counted if t.status == "done"]
    weight = {t.key: max(cal.count(t.start, t.due), 1) for t, _ in counted}
    total_weight = sum(weight.values())
    return Summary(
        rag=overall_rag(stage_rows, overdue, risk_rows),
        tasks_total=len(counted),
        tasks_done=len(done),
        percent_done_count=round(100 * len(done) / len(counted), 1) if counted else 0.0,
        percent_done_weighted=(
            round(100 * sum(weight[t.key] for t, _ in done) / total_weight, 1) if total_weight else 0.0
        ),
        done_this_week=sum(1 for t, _ in done if t.done_on and week_start <= t.done_on <= week_end),
        overdue_now=len(overdue),
        stages_on_track=sum(1 for s in stage_rows if s.rag != "red"),
        stages_late=sum(1 for s in stage_rows if s.rag == "red"),
        decisions=decision_sentences(overdue, risk_rows, lang),
    )


def _workstreams(session: Session, roadmap_id: int, pairs) -> list[WorkstreamRow]:
    """One row per workstream in file order; cancelled tasks are not counted."""
    rows = {w.key: WorkstreamRow(key=w.key, title=w.title) for w in session.scalars(
        select(Workstream).where(Workstream.roadmap_id == roadmap_id, Workstream.archived.is_(False))
        .order_by(Workstream.position))}
    for t, s in pairs:
        ws = rows.get(t.workstream or "")
        if ws is None or t.status == "cancelled":
            continue
        ws.tasks += 1
        ws.done += t.status == "done"
        ws.late += t.status in OPEN and s.days_late > 0
        if s.expected and (ws.expected_end is None or s.expected > ws.expected_end):
            ws.expected_end = s.expected
    return [w for w in rows.values() if w.tasks]


def _partners(partners: dict[str, Partner], pairs, row) -> list[PartnerRow]:
    """The partners with open tasks, in file order; each partner's open tasks late first."""
    out: dict[str, PartnerRow] = {}
    for t, s in pairs:
        if t.status not in OPEN:
            continue
        for key in t.partners or []:
            p = partners.get(key)
            if p is None:
                continue
            pr = out.setdefault(key, PartnerRow(key=key, name=p.name, kind=p.kind or "",
                                                formats=[str(f) for f in p.formats or []]))
            pr.open.append(row(t, s))
            pr.late += s.days_late > 0
    for pr in out.values():
        pr.open.sort(key=lambda r: (-r.days_late, r.due or dt.date.max, r.key))
    return [out[k] for k in partners if k in out]


def stage_baselines(session: Session, roadmap_id: int) -> dict[tuple[str, str], dt.date]:
    """(stage key, 'start' | 'end') -> the date before its first recorded change: the date
    of the first import. Stages whose dates never changed are missing (current = baseline)."""
    out: dict[tuple[str, str], dt.date] = {}
    for key, name, old in session.execute(
        select(Change.entity_key, Change.field, Change.old)
        .where(Change.roadmap_id == roadmap_id, Change.entity == "stage", Change.field.in_(("start", "end")))
        .order_by(Change.id)
    ):
        if (key, name) not in out and old:
            try:
                out[(key, name)] = dt.date.fromisoformat(old[:10])
            except ValueError:
                continue
    return out


def _gantt(stages: list[Stage], stage_rows, pairs, baselines) -> list[GanttBar]:
    """Every stage, then its open tasks (``models/gantt_rows.py``: late, then critical, first;
    at most PER_STAGE, the rest counted in the stage's ``more``)."""
    bars: list[GanttBar] = []
    for st, ss in zip(stages, stage_rows, strict=True):
        bars.append(GanttBar(
            label=f"{st.key} {st.title}", kind="stage", stage=st.key, start=st.start, end=max(st.end, st.start),
            expected=ss.expected, baseline_start=baselines.get((st.key, "start"), st.start),
            baseline_end=baselines.get((st.key, "end"), st.end), rag=ss.rag,
        ))
    bars += [
        GanttBar(label=f"{t.key} {t.title}", kind="task", stage=t.stage, start=t.start, end=max(t.due, t.start),
                 expected=s.expected, baseline_start=t.baseline_start, baseline_end=t.baseline_due, rag=s.rag,
                 critical=s.critical)
        for t, s in pairs if t.status in OPEN
    ]
    return flatten(stage_groups(bars))


def _messages(session: Session, roadmap: Roadmap, week_start: dt.date, week_end: dt.date) -> MessagesSummary:
    """Counts per kind in SQL, and the escalations' few columns: a large roadmap sends
    thousands of reminders a week, whose bodies need not be read."""
    # The roadmap's own messages, and the digests across roadmaps that carried its share.
    ours = roadmap_messages(roadmap.id)
    week = (
        ours, OutboxMessage.status == "sent",
        OutboxMessage.as_of >= week_start, OutboxMessage.as_of <= week_end,
    )
    counts = dict(session.execute(
        select(OutboxMessage.kind, func.count()).where(*week).group_by(OutboxMessage.kind)
    ).all())
    out = MessagesSummary(reminders_sent=counts.get("reminder", 0), notices_sent=counts.get("notice", 0))
    # One row per item escalated (a task at a level or a risk trigger, to one recipient), keyed
    # as the per-item messages were before the daily digest carried several (migration 0007):
    # "escalations" counts these items, as the breakdown by level and recipient does, not mails.
    rows = session.execute(
        select(OutboxMessage.recipient, OutboxMessage.recipient_name, OutboxMessage.subject,
               OutboxMessage.sent_at, OutboxMessage.created_at, EscalationItem.dedup_key)
        .join(EscalationItem, EscalationItem.outbox_id == OutboxMessage.id)
        .where(*week, OutboxMessage.kind == "escalation", EscalationItem.roadmap_id == roadmap.id)
        .order_by(OutboxMessage.sent_at, OutboxMessage.id, EscalationItem.id)
    )
    for r in rows:
        sent = in_zone(r.sent_at or r.created_at, roadmap.timezone)
        name = f"{r.recipient_name} <{r.recipient}>" if r.recipient_name else r.recipient
        level, key = escalation_of(r.dedup_key)
        out.escalations.append(EscalationSent(recipient=name, subject=r.subject, sent_at=sent,
                                              level=level, key=key))
    out.escalations_sent = len(out.escalations)
    _failed_waiting(session, roadmap, out)
    return out


def escalation_of(dedup_key: str) -> tuple[int, str]:
    """(level, task or risk key) of an escalation from its dedup key
    ``<roadmap>:escalation:<task|risk>:<key>:<trigger>:<level>:...`` (models/notify.py
    Escalation.dedup_key); (0, "") for a key of another shape."""
    parts = dedup_key.split(":")
    if len(parts) < 7 or parts[1] != "escalation":
        return 0, ""
    level = int(parts[5]) if parts[5].isdigit() and parts[2] == "task" else 0
    return level, parts[3]


FAILED_LISTED = 200  # failed messages listed in a report; beyond that only counted
ERROR_SHOWN = 300  # characters of a failed message's last error shown in the report


def _failed_waiting(session: Session, roadmap: Roadmap, out: MessagesSummary) -> None:
    waiting = (OutboxMessage.roadmap_id == roadmap.id, OutboxMessage.status == "failed")
    out.failed_waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(*waiting)) or 0
    if not out.failed_waiting:
        return
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.as_of, OutboxMessage.recipient, OutboxMessage.recipient_name,
               OutboxMessage.subject, OutboxMessage.last_error)
        .where(*waiting).order_by(OutboxMessage.id).limit(FAILED_LISTED)
    )
    out.failed = [
        FailedMessage(id=r.id, as_of=r.as_of, subject=r.subject, error=(r.last_error or "")[:ERROR_SHOWN],
                      recipient=f"{r.recipient_name} <{r.recipient}>" if r.recipient_name else r.recipient)
        for r in rows
    ]


# ---------------------------------------------------------------------------------------------
# Snapshot state and week-over-week changes
# ---------------------------------------------------------------------------------------------


def snapshot_state(pairs: list[tuple[Row, TaskState]], risks: list[Risk], week_end: dt.date) -> dict[str, Any]:
    """What next week's report compares with: every live task and risk, compactly. ``done``:
    done by the end of the report's period (a task done on the report date itself is next
    week's news, as in "done this week")."""
    return {
        "tasks": {
            t.key: {"title": t.title, "status": t.status, "due": t.due.isoformat(),
                    "done": t.status == "done" and (t.done_on is None or t.done_on <= week_end),
                    "overdue": t.status in OPEN and s.days_late > 0}
            for t, s in pairs
        },
        "risks": {r.key: {"title": r.title, "status": r.status} for r in risks},
    }


def previous_state(session: Session, roadmap_id: int, iso_year: int, iso_week: int) -> dict[str, Any] | None:
    """The ``state`` of the latest snapshot before the given report week, None when there is none
    (only that column: the saved context is as large again and not needed here)."""
    row = session.execute(
        select(ReportSnapshot.state)
        .where(ReportSnapshot.roadmap_id == roadmap_id,
               tuple_(ReportSnapshot.iso_year, ReportSnapshot.iso_week) < tuple_(iso_year, iso_week))
        .order_by(ReportSnapshot.iso_year.desc(), ReportSnapshot.iso_week.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.state or {})


def compare_states(old: dict[str, Any], new: dict[str, Any]) -> Changes:
    old_tasks, new_tasks = old.get("tasks", {}), new.get("tasks", {})
    old_risks, new_risks = old.get("risks", {}), new.get("risks", {})
    changes = Changes()
    for key, t in new_tasks.items():
        before = old_tasks.get(key)
        if _done(t) and (before is None or not _done(before)):
            changes.completed.append(ChangeItem(key=key, title=t["title"]))
        if t["overdue"] and (before is None or not before["overdue"]):
            changes.newly_overdue.append(ChangeItem(key=key, title=t["title"]))
        if before is not None and before["due"] != t["due"] and t["status"] not in DONE:
            changes.moved.append(MovedTask(key=key, title=t["title"], old_due=dt.date.fromisoformat(before["due"]),
                                           new_due=dt.date.fromisoformat(t["due"])))
    for key, r in new_risks.items():
        before = old_risks.get(key)
        if before is None:
            changes.new_risks.append(ChangeItem(key=key, title=r["title"]))
        elif r["status"] == "closed" and before["status"] != "closed":
            changes.closed_risks.append(ChangeItem(key=key, title=r["title"]))
    return changes


def _done(task: dict[str, Any]) -> bool:
    """Done by the end of its snapshot's period; snapshots made before "done" was saved said it
    with the status alone."""
    return bool(task.get("done", task["status"] == "done"))

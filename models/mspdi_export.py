"""A stored roadmap as MS Project XML (MSPDI), the file MS Project and ProjectLibre open.

1. The roadmap's calendar: its weekend, then every day its country, region and own extra days
   make different from that weekend (holidays, transferred days off, working Saturdays), as
   calendar exceptions, for the years the roadmap spans.
2. Stages as summary tasks (outline level 1), their tasks under them (level 2), with start,
   finish, duration in business days, finish-to-start links, progress, baseline and deadline.
3. People as work resources; each task's owner as its one assignment.
Elements are written in the order of Microsoft's schema (the order MPXJ's writer uses): MS
Project refuses a file whose elements are out of order. Mapping: docs/msproject.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import holidays as holidays_lib
from lxml import etree

from models.calendar import BusinessCalendar
from models.mspdi_fields import (
    CALENDAR_UID,
    CUSTOM_FIELDS,
    DAY_FINISH,
    DAY_START,
    FINISH_TO_START,
    MINUTES_PER_DAY,
    NS,
    PARTNER_SEPARATOR,
    WORKING_TIMES,
    DatesView,
    duration_text,
    exported_text,
    stage_uid,
    task_progress,
    task_uid,
)
from models.roadmap_document import StoredRoadmap
from models.schema import Stage, Task


def stage_dates(stage: Stage, cal: BusinessCalendar) -> DatesView:
    return DatesView(stage.start, stage.end, cal.count(stage.start, stage.end))


def task_dates(task: Task, cal: BusinessCalendar) -> DatesView:
    """Start, expected finish (done_on, forecast or due: what its dependents wait for) and length."""
    start = min(task.start, task.finish)
    return DatesView(start, task.finish, cal.count(start, task.finish))


def baseline_dates(task: Task, cal: BusinessCalendar) -> DatesView:
    start = min(task.baseline_start, task.baseline_due)
    return DatesView(start, task.baseline_due, cal.count(start, task.baseline_due))


def mspdi_bytes(stored: StoredRoadmap, cal: BusinessCalendar, as_of: date | None) -> bytes:
    """The roadmap as MSPDI XML bytes (UTF-8); ``as_of`` is the project's status date."""
    roadmap = stored.roadmap
    views = {t.key: task_dates(t, cal) for t in stored.tasks}
    starts = [roadmap.session_date, *(s.start for s in stored.stages), *(v.start for v in views.values())]
    finishes = [roadmap.session_date, *(s.end for s in stored.stages), *(v.finish for v in views.values())]
    first, last = min(starts), max(finishes)

    project = etree.Element(f"{{{NS}}}Project", nsmap={None: NS})
    add = _Adder()
    for name, value in (("SaveVersion", 14), ("Name", f"{roadmap.key}.xml"), ("Title", roadmap.title),
                        ("ScheduleFromStart", 1), ("StartDate", _at(first)), ("FinishDate", _at(last, DAY_FINISH)),
                        ("CalendarUID", CALENDAR_UID), ("DefaultStartTime", DAY_START),
                        ("DefaultFinishTime", DAY_FINISH), ("MinutesPerDay", MINUTES_PER_DAY),
                        ("MinutesPerWeek", MINUTES_PER_DAY * 5), ("DaysPerMonth", 20),
                        ("StatusDate", _at(as_of) if as_of else None), ("NewTasksAreManual", 0)):
        add(project, name, value)
    attributes = etree.SubElement(project, "ExtendedAttributes")
    for field_id, field_name, alias in CUSTOM_FIELDS.values():
        attribute = etree.SubElement(attributes, "ExtendedAttribute")
        add(attribute, "FieldID", field_id)
        add(attribute, "FieldName", field_name)
        add(attribute, "Alias", alias)
    _calendar(etree.SubElement(etree.SubElement(project, "Calendars"), "Calendar"), cal, first.year, last.year)

    tasks = etree.SubElement(project, "Tasks")
    root = etree.SubElement(tasks, "Task")  # the project summary task, UID 0
    for name, value in (("UID", 0), ("ID", 0), ("Name", roadmap.title), ("Type", 1), ("OutlineNumber", 0),
                        ("OutlineLevel", 0), ("Start", _at(first)), ("Finish", _at(last, DAY_FINISH)),
                        ("Summary", 1)):
        add(root, name, value)
    uid_of = {t.key: task_uid(t.id) for t in stored.tasks}
    row = 0
    by_stage: dict[str, list[Task]] = {}
    for t in stored.tasks:
        by_stage.setdefault(t.stage, []).append(t)
    for n, stage in enumerate(stored.stages, 1):
        row += 1
        _task(tasks, add, uid=stage_uid(stage.id), row=row, name=stage.title, outline=f"{n}",
              dates=stage_dates(stage, cal), summary=True, key=stage.key, notes=stage.goal)
        for m, t in enumerate(by_stage.get(stage.key, ()), 1):
            row += 1
            _task(tasks, add, uid=uid_of[t.key], row=row, name=t.title, outline=f"{n}.{m}", dates=views[t.key],
                  summary=False, key=t.key, notes=t.notes, task=t,
                  links=tuple(uid_of[d] for d in t.depends_on if d in uid_of), baseline=baseline_dates(t, cal))

    person_ids = {p.key: p.id for p in stored.people}
    resources = etree.SubElement(project, "Resources")
    for n, p in enumerate(stored.people, 1):
        resource = etree.SubElement(resources, "Resource")
        for name, value in (("UID", p.id), ("ID", n), ("Name", p.name), ("Type", 1), ("IsNull", 0),
                            ("EmailAddress", p.email), ("MaxUnits", 1), ("CalendarUID", CALENDAR_UID)):
            add(resource, name, value)
    assignments = etree.SubElement(project, "Assignments")
    for t in stored.tasks:
        if t.owner in person_ids:
            view = views[t.key]
            assignment = etree.SubElement(assignments, "Assignment")
            for name, value in (("UID", t.id), ("TaskUID", uid_of[t.key]), ("ResourceUID", person_ids[t.owner]),
                                ("Finish", _at(view.finish, DAY_FINISH)), ("Start", _at(view.start)), ("Units", 1),
                                ("Work", duration_text(view.days))):
                add(assignment, name, value)
    return etree.tostring(project, xml_declaration=True, encoding="UTF-8", standalone=True, pretty_print=True)


class _Adder:
    """Adds a child element with a text value; None adds nothing (an element MSPDI leaves out)."""

    def __call__(self, parent: Any, name: str, value: Any) -> None:
        if value is not None:
            etree.SubElement(parent, name).text = str(value)


def _at(day: date, time: str = DAY_START) -> str:
    return f"{day.isoformat()}T{time}"


def _task(tasks: Any, add: _Adder, *, uid: int, row: int, name: str, outline: str, dates: DatesView,
          summary: bool, key: str, notes: str | None, task: Task | None = None, links: tuple[int, ...] = (),
          baseline: DatesView | None = None) -> None:
    element = etree.SubElement(tasks, "Task")
    progress = task_progress(task.status, task.progress, task.done_on) if task is not None else None
    constrained = task is not None and not links  # a task without links starts where the roadmap says
    for field, value in (
        ("UID", uid), ("ID", row), ("Name", name), ("Active", 1), ("Manual", 0), ("Type", 0), ("IsNull", 0),
        ("WBS", outline), ("OutlineNumber", outline), ("OutlineLevel", outline.count(".") + 1),
        ("Start", _at(dates.start)), ("Finish", _at(dates.finish, DAY_FINISH)), ("Duration", duration_text(dates.days)),
        ("DurationFormat", 7), ("Milestone", 0), ("Summary", int(summary)),
        ("Critical", int(task.critical) if task is not None else None),
        ("PercentComplete", progress.percent if progress else None),
        ("ActualStart", _at(dates.start) if progress and progress.percent else None),
        ("ActualFinish", _at(progress.actual_finish, DAY_FINISH) if progress and progress.actual_finish else None),
        ("ConstraintType", (4 if constrained else 0) if task is not None else None),  # 4: start no earlier than
        ("CalendarUID", -1),
        ("ConstraintDate", _at(dates.start) if constrained else None),
        ("Deadline", _at(task.due, DAY_FINISH) if task is not None else None),
        ("Notes", notes or None),
    ):
        add(element, field, value)
    for predecessor in links:
        link = etree.SubElement(element, "PredecessorLink")
        for field, value in (("PredecessorUID", predecessor), ("Type", FINISH_TO_START), ("CrossProject", 0),
                             ("LinkLag", 0), ("LagFormat", 7)):
            add(link, field, value)
    custom = {"key": key}
    if task is not None:
        custom.update(workstream=task.workstream or "", partners=PARTNER_SEPARATOR.join(task.partners),
                      status=task.status, exported=exported_text(dates, progress) if progress else "")
    for field_name, value in custom.items():
        if value:
            attribute = etree.SubElement(element, "ExtendedAttribute")
            add(attribute, "FieldID", CUSTOM_FIELDS[field_name][0])
            add(attribute, "Value", value)
    if baseline is not None:  # the dates the roadmap was first imported with
        element_ = etree.SubElement(element, "Baseline")
        for field, value in (("Number", 0), ("Start", _at(baseline.start)),
                             ("Finish", _at(baseline.finish, DAY_FINISH)), ("Duration", duration_text(baseline.days)),
                             ("DurationFormat", 7)):
            add(element_, field, value)


def _calendar(element: Any, cal: BusinessCalendar, first_year: int, last_year: int) -> None:
    """The roadmap's business days as one base calendar: weekdays, then the exceptions, written
    twice as MPXJ writes them (WeekDay/DayType 0 for MS Project 2003, Exceptions for 2007 on)."""
    add = _Adder()
    for name, value in (("UID", CALENDAR_UID), ("Name", "Roadmap"), ("IsBaseCalendar", 1),
                        ("IsBaselineCalendar", 0), ("BaseCalendarUID", -1)):
        add(element, name, value)
    country = holidays_lib.country_holidays(cal.country, subdiv=cal.region, years=range(first_year, last_year + 1))
    weekend = set(country.weekend)
    week_days = etree.SubElement(element, "WeekDays")
    for day_type in range(1, 8):  # 1 Sunday .. 7 Saturday; Python's weekday(): 0 Monday .. 6 Sunday
        working = (day_type + 5) % 7 not in weekend
        week_day = etree.SubElement(week_days, "WeekDay")
        add(week_day, "DayType", day_type)
        add(week_day, "DayWorking", int(working))
        if working:
            _working_times(week_day)
    ranges = list(_exceptions(cal, weekend, date(first_year, 1, 1), date(last_year, 12, 31)))
    for first, last, working in ranges:
        week_day = etree.SubElement(week_days, "WeekDay")
        add(week_day, "DayType", 0)
        add(week_day, "DayWorking", int(working))
        _period(week_day, first, last)
        if working:
            _working_times(week_day)
    exceptions = etree.SubElement(element, "Exceptions")
    for first, last, working in ranges:
        exception = etree.SubElement(exceptions, "Exception")
        add(exception, "EnteredByOccurrences", 0)
        _period(exception, first, last)
        add(exception, "Occurrences", 1)
        add(exception, "Name", ("Working day" if working else country.get(first)) or "Day off")
        add(exception, "Type", 1)
        add(exception, "DayWorking", int(working))
        if working:
            _working_times(exception)


def _exceptions(cal: BusinessCalendar, weekend: set[int], first: date, last: date) -> Iterator[tuple[date, date, bool]]:
    """Runs of consecutive days whose business-day status differs from the plain weekend rule:
    (first day, last day, working)."""
    run: list[Any] = []
    day = first
    while day <= last:
        working = cal.is_business_day(day)
        if working == (day.weekday() in weekend):  # an exception to the weekly pattern
            if run and run[2] == working and run[1] == day - timedelta(days=1):
                run[1] = day
            else:
                if run:
                    yield run[0], run[1], run[2]
                run = [day, day, working]
        day += timedelta(days=1)
    if run:
        yield run[0], run[1], run[2]


def _period(parent: Any, first: date, last: date) -> None:
    period = etree.SubElement(parent, "TimePeriod")
    etree.SubElement(period, "FromDate").text = f"{first.isoformat()}T00:00:00"
    etree.SubElement(period, "ToDate").text = f"{last.isoformat()}T23:59:00"


def _working_times(parent: Any) -> None:
    times = etree.SubElement(parent, "WorkingTimes")
    for start, finish in WORKING_TIMES:
        working_time = etree.SubElement(times, "WorkingTime")
        etree.SubElement(working_time, "FromTime").text = start
        etree.SubElement(working_time, "ToTime").text = finish

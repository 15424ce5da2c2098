"""Read an MS Project XML file (MSPDI) into the roadmap it updates, through the loader's checks.

1. Parse the XML safely: no DTD at all (so no entity can expand, nothing is fetched), no
   network, lxml's default limits on depth and text size, and a size limit on the file.
2. Read stages (summary tasks at outline level 1), tasks (below them), links, resources and
   assignments, each remembering its line; what cannot be read is a problem at its line.
3. Resources become people: matched by e-mail, then by name, against the roadmap's people;
   unknown ones are one problem naming them all, or new people with ``create_people``.
4. Build the plain document the YAML reader would give: the stored roadmap's (its office,
   partners, people, risks, policy), with the file's stages and tasks. A group of fields the
   file left as exported keeps the roadmap's own values (models/mspdi_fields.py), so an
   exported file imported unchanged changes nothing.
5. Check that document with the loader (models/loader.py), which owns every rule: keys,
   references, cycles, dates; its problems name the file's lines.
The mapping, and what is lost: docs/msproject.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import etree

from models.addresses import InvalidAddress, address_key
from models.calendar import BusinessCalendar
from models.loader import LoadedRoadmap, _check
from models.mspdi_export import stage_dates, task_dates
from models.mspdi_fields import (
    FIELD_OF_ID,
    FINISH_TO_START,
    LINK_TYPES,
    MINUTES_PER_DAY,
    PARTNER_SEPARATOR,
    DatesView,
    ProgressView,
    exported_views,
    progress_fields,
    task_progress,
)
from models.problems import Problem, RoadmapInvalid
from models.roadmap_document import StoredRoadmap, file_item
from models.roadmap_yaml import Path_, Reader

_DURATION = re.compile(r"^PT(\d+(?:\.\d+)?)H(\d+(?:\.\d+)?)M(\d+(?:\.\d+)?)S$")
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-]+")
WORK_RESOURCE = "1"  # Resource/Type: 0 material, 1 work, 2 cost; only work resources are people


@dataclass
class _Row:
    """One Task element of the file, as read."""

    uid: int
    line: int
    name: str
    level: int
    summary: bool
    lines: dict[str, int] = field(default_factory=dict)  # element name -> its line
    values: dict[str, Any] = field(default_factory=dict)  # Start, Finish, Duration, ..., custom fields
    links: list[tuple[int, int]] = field(default_factory=list)  # (predecessor UID, line)


class _XmlReader(Reader):
    """The loader's Reader with the line of every path taken from the XML elements."""

    def __init__(self, file: str, lines: dict[Path_, int]) -> None:
        super().__init__(file)
        self.lines = lines


def load_mspdi_bytes(raw: bytes, file: str, stored: StoredRoadmap, cal: BusinessCalendar, *,
                     create_people: bool) -> LoadedRoadmap:
    """The roadmap ``stored`` updated by the MSPDI document ``raw``; RoadmapInvalid with every
    problem found, each naming ``file`` and its line."""
    root = parse_xml(raw, file)
    problems: list[Problem] = []

    def problem(line: int, path: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(line, path, message, severity, file))

    ns = etree.QName(root).namespace
    q: Callable[[str], str] = (lambda name: f"{{{ns}}}{name}") if ns else (lambda name: name)
    if etree.QName(root).localname != "Project":
        problem(root.sourceline or 1, "(xml)", f"not an MS Project XML file: the root element is "
                f"<{etree.QName(root).localname}>, expected <Project>")
        raise RoadmapInvalid(problems)
    minutes_per_day = _int(root.findtext(q("MinutesPerDay"))) or MINUTES_PER_DAY
    tasks_element = root.find(q("Tasks"))
    if tasks_element is None:
        problem(root.sourceline or 1, "Project", "missing <Tasks>: the file has no task list")
        raise RoadmapInvalid(problems)
    rows = [row for element in tasks_element.iterchildren(q("Task"))
            if (row := _read_task(element, q, problem)) is not None]
    base = stored.document(state="file")  # what the project file's rows are compared with
    people, owner_of = _resources(root, q, stored.roadmap.key, base["people"], rows, create_people, problem)
    document, lines = _document(rows, stored, base, cal, owner_of, minutes_per_day, problem)
    if any(p.severity == "error" for p in problems):
        raise RoadmapInvalid(problems)
    document["people"] = people
    reader = _XmlReader(file, lines)
    try:
        loaded = _check(reader, document)
    except RoadmapInvalid as invalid:
        raise RoadmapInvalid(invalid.problems + problems) from None
    loaded.warnings = sorted(loaded.warnings + problems)
    return loaded


def parse_xml(raw: bytes, file: str) -> Any:
    """The root element; RoadmapInvalid for what is not XML, or XML with a DTD (entities)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        message = (exc.msg or "").split(", line ")[0]
        raise RoadmapInvalid([Problem(exc.lineno or 1, "(xml)", f"not a valid XML file: {message}", "error",
                                      file)]) from None
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        # A project file never needs one; a DTD is how entities (billion laughs, external
        # files) get in, so none is accepted, whatever it declares.
        raise RoadmapInvalid([Problem(1, "(xml)", "a DOCTYPE (DTD) is not allowed in an MS Project file: "
                                      "save it again from MS Project, or remove the <!DOCTYPE ...> line",
                                      "error", file)])
    return root


def _int(text: str | None) -> int | None:
    try:
        return int(float(text)) if text not in (None, "") else None
    except (ValueError, OverflowError):  # not a number, or inf / 1e400
        return None


def _address(email: str) -> str | None:
    """The matching key of a resource's e-mail address; None when it has none or it is not
    one a person could have (``alice@corp``): then it is matched by name only."""
    try:
        return address_key(email) if email else None
    except InvalidAddress:
        return None


def _read_task(element: Any, q: Callable[[str], str], problem: Callable[..., None]) -> _Row | None:
    """A Task element, or None for the project's summary task (UID 0) and null rows."""
    line = element.sourceline or 1
    uid = _int(element.findtext(q("UID")))
    if uid is None:
        problem(line, "Task", "missing or unreadable <UID>: every task needs its unique id")
        return None
    level = _int(element.findtext(q("OutlineLevel")))
    if uid == 0 or level == 0 or element.findtext(q("IsNull")) == "1":
        return None
    name = (element.findtext(q("Name")) or "").strip()
    row = _Row(uid, line, name, level or 1, element.findtext(q("Summary")) == "1")
    where = f"task {name!r} (UID {uid})"
    if not name:
        problem(line, f"Task UID {uid}", "missing <Name>: every task needs a name")
    for child in element.iterchildren():
        local = etree.QName(child).localname
        row.lines.setdefault(local, child.sourceline or line)
        if local in ("Start", "Finish", "ActualFinish"):
            day = _day(child.text)
            if day is None:
                problem(child.sourceline or line, where, f"<{local}>: cannot read {child.text!r} as a date "
                        "(expected YYYY-MM-DDThh:mm:ss)")
            row.values[local] = day
        elif local == "Duration":
            row.values[local] = _hours(child.text)
        elif local in ("PercentComplete", "Milestone"):
            row.values[local] = _int(child.text)
        elif local == "Notes":
            row.values[local] = (child.text or "").strip() or None
        elif local == "PredecessorLink":
            predecessor = _int(child.findtext(q("PredecessorUID")))
            if predecessor is None:
                problem(child.sourceline or line, where, "a <PredecessorLink> without a readable <PredecessorUID>")
                continue
            kind, lag = _int(child.findtext(q("Type"))), _int(child.findtext(q("LinkLag"))) or 0
            if kind not in (None, FINISH_TO_START):
                problem(child.sourceline or line, where, f"a {LINK_TYPES.get(kind, 'unknown')} link is read as "
                        "finish-to-start: a roadmap has no other kind", "warning")
            if lag:
                problem(child.sourceline or line, where, "a link's lag is left out: the roadmap's tasks start the "
                        "business day after their dependencies finish", "warning")
            row.links.append((predecessor, child.sourceline or line))
        elif local == "ExtendedAttribute":
            name_ = FIELD_OF_ID.get(_int(child.findtext(q("FieldID"))) or 0)
            if name_:
                row.values[name_] = (child.findtext(q("Value")) or "").strip()
                row.lines[name_] = child.sourceline or line
    if not row.summary:
        for required in ("Start", "Finish"):
            if required not in row.values:
                problem(line, where, f"missing <{required}>: a task needs its start and finish dates")
    return row


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


def _hours(text: str | None) -> float | None:
    match = _DURATION.match((text or "").strip())
    return float(match[1]) + float(match[2]) / 60 + float(match[3]) / 3600 if match else None


def _resources(root: Any, q: Callable[[str], str], roadmap_key: str, known: list[dict[str, Any]], rows: list[_Row],
               create_people: bool, problem: Callable[..., None],
               ) -> tuple[list[dict[str, Any]], dict[int, tuple[str | None, int]]]:
    """The roadmap's people (with new ones when ``create_people``), and each task UID's owner
    (a person key) with the line of its assignment."""
    people = [dict(p) for p in known]
    by_email = {address_key(p["email"]): p["key"] for p in people}
    by_name = {p["name"].strip().casefold(): p["key"] for p in people}
    keys = {p["key"] for p in people}
    person_of: dict[int, str | None] = {}
    unknown: list[tuple[str, str, int]] = []
    for element in root.iterfind(f"{q('Resources')}/{q('Resource')}"):
        uid, line = _int(element.findtext(q("UID"))), element.sourceline or 1
        if uid is None or uid == 0 or element.findtext(q("IsNull")) == "1":
            continue  # UID 0 is MS Project's own unassigned resource
        if (element.findtext(q("Type")) or WORK_RESOURCE) != WORK_RESOURCE:
            continue
        name = (element.findtext(q("Name")) or "").strip()
        email = (element.findtext(q("EmailAddress")) or "").strip()
        address = _address(email)
        key = by_email.get(address) if address else None
        key = key or by_name.get(name.casefold())
        if key is None and create_people and name and address:
            key = _new_key(email.split("@")[0] or name, keys)
            people.append({"key": key, "name": name, "email": email})
            keys.add(key)
            by_email[address] = by_name[name.casefold()] = key
        if key is None:
            unknown.append((name, email, line))
        person_of[uid] = key  # None: unknown, reported once below for all its tasks
    if unknown:
        listed = ", ".join(f"{name!r}" + (f" <{email}>" if email else "") + f" (line {line})"
                           for name, email, line in unknown)
        if create_people:
            problem(unknown[0][2], "Resources", f"resources that cannot become people: {listed}: a person needs "
                    "a name and a valid e-mail address (the resource's Email Address field)")
        else:
            problem(unknown[0][2], "Resources", f"{len(unknown)} resource(s) are not people of roadmap "
                    f"{roadmap_key!r} (matched by e-mail address, then by name): {listed}; add them to the "
                    "roadmap's people, or import with --create-people")
    names = {row.uid: row.name for row in rows}
    owner_of: dict[int, tuple[str | None, int]] = {}
    for element in root.iterfind(f"{q('Assignments')}/{q('Assignment')}"):
        task, resource = _int(element.findtext(q("TaskUID"))), _int(element.findtext(q("ResourceUID")))
        if task is None or resource is None or resource not in person_of:
            continue  # no resource (MS Project writes -65535), or one already reported
        line = element.sourceline or 1
        if task in owner_of:
            problem(line, f"task {names.get(task, '')!r} (UID {task})", "more than one resource: the roadmap "
                    f"keeps one owner, {owner_of[task][0]!r}, and leaves the others out", "warning")
            continue
        owner_of[task] = (person_of[resource], line)
    return people, owner_of


def _new_key(text: str, taken: set[str]) -> str:
    base = _KEY_CHARS.sub("-", text).strip("-_")[:90] or "person"
    if not base[0].isalnum():
        base = "p" + base
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    return key


def _document(rows: list[_Row], stored: StoredRoadmap, base_document: dict[str, Any], cal: BusinessCalendar,
              owner_of: dict[int, tuple[str | None, int]],
              minutes_per_day: int, problem: Callable[..., None]) -> tuple[dict[str, Any], dict[Path_, int]]:
    """The stored document with the file's stages and tasks, and the line of every path."""
    document = dict(base_document)
    lines: dict[Path_, int] = {}
    stages: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    stage_rows = {s.key: s for s in stored.stages}
    task_rows = {t.key: t for t in stored.tasks}
    base_stages = {s["key"]: s for s in base_document["stages"]}
    stage_of_uid: dict[int, str] = {}
    key_of_uid: dict[int, str] = {}
    current: str | None = None
    for n, row in enumerate(rows):
        has_children = n + 1 < len(rows) and rows[n + 1].level > row.level
        where = f"task {row.name!r} (UID {row.uid})"
        if row.level == 1:
            if not (row.summary or has_children):
                problem(row.line, where, "a task at the top level: put it under a summary task (the roadmap's "
                        "stages are the summary tasks at outline level 1)")
                current = None
                continue
            key = row.values.get("key") or f"stage-{row.uid}"
            stage_of_uid[row.uid] = current = key
            i = len(stages)
            item = {"key": key, "title": row.name, "goal": row.values.get("Notes")}
            view = _dates(row, cal, minutes_per_day)
            base = base_stages.get(key)
            if base is not None and key in stage_rows and view == stage_dates(stage_rows[key], cal):
                item.update(start=base["start"], end=base["end"])
            elif view is not None:
                item.update(start=view.start, end=view.finish)
            stages.append(item)
            _lines(lines, ("stages", i), row, {"key": "key", "title": "Name", "start": "Start", "end": "Finish",
                                               "goal": "Notes"})
            continue
        if row.summary or has_children:
            problem(row.line, where, "a summary task below the top level is left out; its tasks go to the stage "
                    "above it", "warning")
            continue
        if current is None:
            problem(row.line, where, "a task outside any stage (summary task at outline level 1)")
            continue
        key_of_uid[row.uid] = row.values.get("key") or f"task-{row.uid}"
        tasks.append({"row": row, "stage": current})
    items = []
    for i, entry in enumerate(tasks):
        row, key = entry["row"], key_of_uid[entry["row"].uid]
        where = f"task {row.name!r} (UID {row.uid})"
        depends_on = []
        for j, (uid, line) in enumerate(row.links):
            if uid in stage_of_uid:
                problem(line, where, f"a link from the summary task {stage_of_uid[uid]!r}: link tasks, not stages")
            elif uid not in key_of_uid:
                problem(line, where, f"a link from UID {uid}, which is no task of the file")
            else:
                depends_on.append(key_of_uid[uid])
                lines[("tasks", i, "depends_on", j)] = line
        if row.uid not in owner_of:
            problem(row.line, where, "no resource assigned: every task needs its owner (one resource)")
        owner, owner_line = owner_of.get(row.uid, (None, row.line))
        item = {"key": key, "title": row.name, "stage": entry["stage"], "owner": owner,
                "workstream": row.values.get("workstream") or None,
                "partners": [p.strip() for p in (row.values.get("partners") or "").split(PARTNER_SEPARATOR.strip())
                             if p.strip()],
                "depends_on": depends_on, "notes": row.values.get("Notes")}
        item.update(_task_dates(row, cal, minutes_per_day, task_rows.get(key), bool(depends_on)))
        items.append(item)
        _lines(lines, ("tasks", i), row, {"key": "key", "title": "Name", "start": "Start", "due": "Finish",
                                          "duration": "Duration", "status": "PercentComplete",
                                          "progress": "PercentComplete", "done_on": "ActualFinish",
                                          "notes": "Notes", "workstream": "workstream", "partners": "partners"})
        lines[("tasks", i, "owner")] = owner_line
    document["stages"], document["tasks"] = stages, items
    return document, lines


def _lines(lines: dict[Path_, int], path: Path_, row: _Row, fields: dict[str, str]) -> None:
    lines[path] = row.line
    for name, element in fields.items():
        if element in row.lines:
            lines[path + (name,)] = row.lines[element]


def _dates(row: _Row, cal: BusinessCalendar, minutes_per_day: int) -> DatesView | None:
    start, finish = row.values.get("Start"), row.values.get("Finish")
    if start is None or finish is None:
        return None
    hours = row.values.get("Duration")
    days = round(hours * 60 / minutes_per_day) if hours is not None else cal.count(start, finish)
    return DatesView(start, finish, days)


def _task_dates(row: _Row, cal: BusinessCalendar, minutes_per_day: int, stored: Any,
                linked: bool) -> dict[str, Any]:
    """The dates and progress fields of a task: the roadmap's own where the file left the
    exported view unchanged, else the file's. Changed dates: a linked task keeps its length and
    follows its links (as in MS Project), an unlinked one is pinned to its start and finish."""
    out: dict[str, Any] = {}
    view = _dates(row, cal, minutes_per_day)
    base = file_item("tasks", stored, state="file") if stored is not None else None
    # Unchanged means as the export wrote it (Text5), else as the roadmap stands now.
    written = exported_views(row.values.get("exported")) if stored is not None else None
    if base is not None and view == (written[0] if written else task_dates(stored, cal)):
        out.update(start=base.get("start"), due=base.get("due"), duration=base.get("duration"))
    elif view is not None:
        milestone = row.values.get("Milestone") == 1 or view.days == 0
        if linked and not milestone:
            out.update(start=None, due=None, duration=max(view.days, 1))
        else:
            out.update(start=min(view.start, view.finish), due=view.finish, duration=None)
    percent = row.values.get("PercentComplete") or 0
    progress = ProgressView(percent, row.values.get("ActualFinish") if percent >= 100 else None,
                            row.values.get("status") or "")
    if base is not None and progress == (written[1] if written else
                                         task_progress(stored.status, stored.progress, stored.done_on)):
        out.update(status=base["status"], done_on=base.get("done_on"), progress=base.get("progress"))
    else:
        out.update(progress_fields(progress, view.finish if view else date.today()))
    return out

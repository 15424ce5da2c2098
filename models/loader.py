"""Read a roadmap file and report every problem at once, each with its file and line.

1. Parse the YAML into plain values while remembering the line of every key
   (models/roadmap_yaml.py); a big file without any problem is read by rapidyaml instead
   (models/yaml_fast.py, kept for the re-import target: docs/cli.md, "Fast paths").
2. Check each section item by item against models/spec.py, so one broken task does not
   hide the problems of the others.
3. Check what needs the whole document: unique keys, references, cycles, e-mail
   addresses, timezone and calendar; then the dates and the schedule (models/roadmap_dates.py).
The result is a LoadedRoadmap, or RoadmapInvalid carrying all problems.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from pydantic import BaseModel, ValidationError

from models import roadmap_dates, spec, yaml_fast
from models.addresses import address_key, is_email
from models.calendar import BusinessCalendar, calendar_for, countries, country_named, regions, time_zone
from models.dates import DateExpr, outside_window
from models.file_paths import FileRefused, read_regular_file
from models.graph import find_cycles
from models.problems import Problem, RoadmapInvalid, did_you_mean
from models.roadmap_yaml import Path_, Reader
from models.schedule import Schedule

SECTIONS: dict[str, type[BaseModel]] = {
    "partners": spec.Partner,
    "people": spec.Person,
    "workstreams": spec.Workstream,
    "stages": spec.Stage,
    "tasks": spec.Task,
    "risks": spec.Risk,
}
NESTED: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
    (spec.RoadmapMeta, "session"): spec.Session,
    (spec.RoadmapMeta, "office"): spec.Office,
    (spec.RoadmapMeta, "calendar"): spec.Calendar,
}


@dataclass
class LoadedRoadmap:
    """A valid roadmap file, with its dates evaluated and its tasks scheduled."""

    path: str
    doc: spec.RoadmapFile
    calendar: BusinessCalendar
    stage_dates: dict[str, tuple[date, date]]
    task_exprs: dict[str, tuple[DateExpr | None, DateExpr | None, int | None]]
    schedule: Schedule
    warnings: list[Problem] = field(default_factory=list)
    # A workbook `roadmap export` wrote: its live fields as written (models/importer.exported_state)
    exported_state: dict[str, dict[str, Any]] = field(default_factory=dict)


# -- shape, section by section ----------------------------------------------------


def _check_keys(r: Reader, model: type[BaseModel], value: Any, path: Path_, kind: str = "key") -> Any:
    """Unknown keys with a did-you-mean; returns the value without them."""
    if not isinstance(value, dict):
        return value
    allowed = list(model.model_fields)
    clean = {}
    for key, sub in value.items():
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f" (expected one of: {', '.join(allowed)})"
            r.problem(path + (key,), f"unknown {kind} {_short(key)}{hint}")
            continue
        nested = NESTED.get((model, key))
        clean[key] = _check_keys(r, nested, sub, path + (key,)) if nested else sub
    return clean


def _validate(r: Reader, model: type[BaseModel], value: Any, path: Path_) -> Any:
    """The model of ``value``, or None with each error reported."""
    obj, whole = _validate_item(r, model, value, path)
    return obj if whole else None


def _validate_item(r: Reader, model: type[BaseModel], value: Any, path: Path_) -> tuple[Any, bool]:
    """The model of ``value`` and True; or, with each error reported, the item with its
    rejected keys left empty (None or []) and False, so that the checks of the whole document
    still report the item's other mistakes (an unknown owner next to an impossible date).
    A rejected key joins ``r.unreadable``: problems that follow there are noise."""
    value = _check_keys(r, model, value, path)
    try:
        return model.model_validate(value), True
    except ValidationError as exc:
        rejected: set[str] = set()
        for err in _relevant(exc.errors(include_url=False)):
            loc = path + tuple(err["loc"])
            if err["loc"]:
                rejected.add(str(err["loc"][0]))
            if err["type"] == "missing":
                r.missing(loc)
            elif err["type"] in ("model_type", "dict_type"):
                r.problem(loc, f"expected a mapping of keys, got {_short(err.get('input'))}")
            else:
                r.problem(_value_path(loc), f"{err['msg']}, got {_short(err.get('input'))}")
        return _partial(model, value, rejected, path, r), False


def _partial(model: type[BaseModel], value: Any, rejected: set[str], path: Path_, r: Reader) -> Any:
    """The item without its rejected keys, each other key validated as in the whole model
    (pydantic's validate_assignment: one field, the model's own rules); None when not a mapping."""
    if not isinstance(value, dict) or not rejected:
        return None
    fields = model.model_fields.items()
    empty: dict[str, Any] = {name: [] if field.default_factory is list else None for name, field in fields
                             if name in rejected or field.is_required()}
    obj = model.model_construct(None, **empty)  # None: the fields set are the ones passed
    for name in model.model_fields:
        if name in value and name not in rejected:
            model.__pydantic_validator__.validate_assignment(obj, name, value[name])
    r.unreadable.update(path + (name,) for name in rejected)
    return obj


# "Not of this type" errors of a union's other members (`date | Expr`, `int | Expr`): noise
# when the value failed a member of its own type for a real reason.
_WRONG_TYPE = frozenset({"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact",
                         "int_type", "int_parsing", "int_from_float", "string_type"})


def _relevant(errors: list[Any]) -> list[Any]:
    """The errors worth reporting: at a value where one union member failed for a real reason
    (too long, a control character, ...), not also "is not a date" from the others."""
    real = {_value_path(tuple(e["loc"])) for e in errors if e["type"] not in _WRONG_TYPE}
    return [e for e in errors if e["type"] not in _WRONG_TYPE or _value_path(tuple(e["loc"])) not in real]


def _value_path(loc: Path_) -> Path_:
    # pydantic adds the union member name (e.g. 'date', 'str') to the location; drop it.
    while loc and isinstance(loc[-1], str) and loc[-1] in ("date", "str", "int", "list[...]", "literal"):
        loc = loc[:-1]
    return tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("function-") or "[" in p)))


def _short(value: Any) -> str:
    text = value.isoformat() if isinstance(value, date) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# A 10,000-task roadmap (bench/synth.py) is 2.2 MB: the limit leaves ten times that, and keeps
# a device, a FIFO or a huge file from being read whole (docs/roadmap-format.md, "Limits").
MAX_FILE_BYTES = 32 << 20


def read_roadmap_bytes(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a roadmap file: a regular file of at most ``limit`` bytes, or RoadmapInvalid."""
    file = str(path)
    try:
        return read_regular_file(path, limit, "roadmap files")
    except FileRefused as exc:
        raise RoadmapInvalid([Problem(1, "(file)", str(exc), "error", file)]) from None
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise RoadmapInvalid([Problem(1, "(file)", f"cannot read the file: {why}", "error", file)]) from None
    except ValueError:  # a NUL in the name
        raise RoadmapInvalid([Problem(1, "(file)", "cannot read the file: a NUL in its name", "error", file)]) from None


def load_roadmap(path: str | Path) -> LoadedRoadmap:
    """Load and check a roadmap file; raise RoadmapInvalid with every problem found."""
    file = str(path)
    raw = read_roadmap_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RoadmapInvalid([Problem(max(line, 1), "(file)", "the file is not valid UTF-8", "error", file)]) from None
    return load_roadmap_text(text, file)


def load_roadmap_text(text: str, file: str = "<roadmap>") -> LoadedRoadmap:
    """Check a roadmap document. Big clean files take the rapidyaml reader (models/yaml_fast.py);
    any problem at all sends the document through the line-tracking reader instead, so
    every problem is reported with its line."""
    with contextlib.suppress(yaml_fast.Unsupported, RoadmapInvalid):
        fast = Reader(file)
        loaded = _check(fast, yaml_fast.load(text.encode("utf-8")))
        if not fast.problems:
            return loaded
    r = Reader(file)
    return _check(r, r.read(text))


# -- the whole document ----------------------------------------------------------


def check_document(r: Reader, data: Any) -> LoadedRoadmap:
    """Check a plain document (the YAML file's, or a workbook's: models/workbook_read.py) with
    ``r`` placing each problem; the loaded roadmap, or RoadmapInvalid with every problem."""
    return _check(r, data)


def _check(r: Reader, data: Any) -> LoadedRoadmap:
    r.data = data
    if not isinstance(data, dict):
        r.problem((), "the file must be a mapping with the keys roadmap, people, stages, tasks, ...")
        raise RoadmapInvalid(r.problems)

    _check_keys(r, spec.RoadmapFile, data, (), "section")
    meta = None
    if "roadmap" not in data:
        r.problem((), "missing required section 'roadmap'")
    else:
        meta = _validate(r, spec.RoadmapMeta, data["roadmap"], ("roadmap",))
    policy = _validate(r, spec.Policy, data.get("policy") or {}, ("policy",))

    items: dict[str, list[tuple[int, Any]]] = {section: [] for section in SECTIONS}
    partial: dict[str, list[tuple[int, Any]]] = {section: [] for section in SECTIONS}  # with rejected keys
    all_keys: dict[str, set[str]] = {section: set() for section in SECTIONS}
    for section, model in SECTIONS.items():
        value = data.get(section)
        if value is None:
            continue
        if not isinstance(value, list):
            r.problem((section,), f"expected a list of {section}, got {_short(value)}")
            continue
        first_at: dict[str, str] = {}
        for i, item in enumerate(value):
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                k = item["key"]
                all_keys[section].add(k)  # so a broken item does not cascade into "unknown key"
                if k in first_at:
                    r.problem((section, i, "key"), f"duplicate {section} key {k!r} (first at {first_at[k]})")
                    continue
                first_at[k] = r.place((section, i))
            obj, whole = _validate_item(r, model, item, (section, i))
            if obj is not None:
                (items if whole else partial)[section].append((i, obj))

    loaded = _check_document(r, meta, policy, items, partial, all_keys)
    if any(p.severity == "error" for p in r.problems) or loaded is None:
        raise RoadmapInvalid(r.problems)
    loaded.warnings = sorted(r.problems)
    return loaded


def _check_document(r, meta, policy, items, partial, all_keys) -> LoadedRoadmap | None:
    """Checks that need the whole document, each reporting every mistake it finds, also in
    items with rejected keys (``partial``); then the dates of the whole items, and the loaded
    roadmap when nothing was an error."""
    cal = _check_meta(r, meta, all_keys)
    every = {section: sorted(items[section] + partial[section], key=lambda item: item[0]) for section in SECTIONS}
    _check_people(r, every, all_keys)
    _check_tasks(r, every["tasks"], all_keys)
    _check_risks(r, every["risks"], all_keys)
    if meta is None:
        return None
    # With an unknown calendar (already reported) the dates are still checked, on the
    # default calendar, so that every other mistake shows up in the same run.
    cal = cal or calendar_for("RU")
    stage_dates = roadmap_dates.stage_dates(r, meta, items["stages"], cal)
    exprs, schedule = roadmap_dates.task_dates(r, meta, items["tasks"], stage_dates, cal, all_keys)
    roadmap_dates.risk_dates(r, meta, items["risks"])
    if schedule is None or any(p.severity == "error" for p in r.problems):
        return None
    doc = spec.RoadmapFile.model_construct(
        _fields_set=None,  # the default (the fields passed), named so that mypy matches the lists to **values
        roadmap=meta,
        policy=policy or spec.Policy(),
        **{section: [obj for _, obj in items[section]] for section in SECTIONS},
    )
    return LoadedRoadmap(r.file, doc, cal, stage_dates, exprs, schedule)


def _ref(r: Reader, path: Path_, kind: str, value: str | None, known: set[str]) -> None:
    """A problem with a "did you mean" when ``value`` names no known key."""
    if value is not None and value not in known:
        r.problem(path, f"unknown {kind} {value!r}{did_you_mean(value, known)}")


def _check_meta(r: Reader, meta: Any, all_keys: dict[str, set[str]]) -> BusinessCalendar | None:
    """The roadmap section: time zone, calendar, office address, report recipients. The
    roadmap's calendar, or None when it is unknown (or the section is missing)."""
    if meta is None:
        return None
    try:
        time_zone(meta.timezone)
    except ValueError:
        hint = did_you_mean(meta.timezone, sorted(available_timezones()))
        r.problem(("roadmap", "timezone"), f"unknown timezone {meta.timezone!r}{hint}")
    cal = _check_calendar(r, meta)
    if not is_email(meta.office.email):
        r.problem(("roadmap", "office", "email"), f"invalid e-mail address {meta.office.email!r}")
    for j, who in enumerate(meta.report_to):
        if who not in all_keys["people"] and not is_email(who):
            _ref(r, ("roadmap", "report_to", j), "person (or e-mail address)", who, all_keys["people"])
    return cal


def _check_calendar(r: Reader, meta: Any) -> BusinessCalendar | None:
    """The production calendar: a known country and region, extra days within the roadmap's
    window and in one list only. The calendar, or None when it cannot be built."""
    rules, where = meta.calendar, ("roadmap", "calendar")
    # `calendar: RU` names the country at the calendar key itself; the mapping, at `country`.
    at = where + ("country",) if isinstance((r.data or {}).get("roadmap", {}).get("calendar"), dict) else where
    country = rules.country.upper()
    if country not in countries():
        named = country_named(rules.country)
        hint = (f" (did you mean {named!r}?)" if named else did_you_mean(country, countries())
                or ": use an ISO country code such as RU")
        r.problem(at, f"unknown calendar {rules.country!r}{hint}")
        return None
    ok = True
    known = regions(country)
    if rules.region is not None and rules.region not in known:
        hint = (did_you_mean(rules.region, known) or f" (expected a code such as {', '.join(known[:8])})" if known
                else f": the holidays package knows no regions of {country}")
        r.problem(where + ("region",), f"unknown region {rules.region!r} of {country}{hint}")
        ok = False
    off_at: dict[date, str] = {}  # extra day off -> where it is
    for name in ("extra_days_off", "extra_working_days"):
        for j, day in enumerate(getattr(rules, name)):
            why = outside_window(day, meta.session.date)
            if why is None and name == "extra_working_days" and day in off_at:
                why = f"{day} is also an extra day off ({off_at[day]}): a day is either off or working"
            if why is not None:
                r.problem(where + (name, j), why)
                ok = False
            elif name == "extra_days_off":
                off_at.setdefault(day, r.place(where + (name, j)))
    if not ok:
        return None
    return calendar_for(country, rules.region, frozenset(rules.extra_days_off), frozenset(rules.extra_working_days))


def _check_people(r: Reader, items: dict[str, list[tuple[int, Any]]], all_keys: dict[str, set[str]]) -> None:
    """People's addresses and references, cycles of managers, partners' contacts."""
    people = {p.key: (i, p) for i, p in items["people"]}
    first_with: dict[str, tuple[int, Any]] = {}
    for i, p in items["people"]:
        if p.email is None:  # rejected, already reported
            pass
        elif not is_email(p.email):
            r.problem(("people", i, "email"), f"invalid e-mail address {p.email!r}")
        elif (first := first_with.setdefault(address_key(p.email), (i, p)))[1] is not p:
            # One mailbox, two people: their mail would merge into one digest and the links in it
            # would be refused for the second one.
            j, q = first
            r.problem(("people", i, "email"), f"e-mail address {p.email!r} of {p.key!r} is already {q.key!r}'s "
                      f"({q.email!r}, {r.place(('people', j, 'email'))}); addresses are compared ignoring case")
        _ref(r, ("people", i, "partner"), "partner", p.partner, all_keys["partners"])
        _ref(r, ("people", i, "manager"), "person", p.manager, all_keys["people"])
    manager_of = {k: p.manager for k, (_, p) in people.items() if p.manager}
    for cycle in find_cycles(list(manager_of), {k: [m] for k, m in manager_of.items()}):
        r.problem(("people", people[cycle[0]][0], "manager"), "managers form a cycle: " + " -> ".join(reversed(cycle)))
    for i, p in items["partners"]:
        _ref(r, ("partners", i, "contact"), "person", p.contact, all_keys["people"])


def _check_tasks(r: Reader, tasks: list[tuple[int, Any]], all_keys: dict[str, set[str]]) -> None:
    """Tasks' references, due date or duration (one of the two), done status and date."""
    for i, t in tasks:
        _ref(r, ("tasks", i, "stage"), "stage", t.stage, all_keys["stages"])
        _ref(r, ("tasks", i, "workstream"), "workstream", t.workstream, all_keys["workstreams"])
        _ref(r, ("tasks", i, "owner"), "person", t.owner, all_keys["people"])
        for j, pk in enumerate(t.partners):
            _ref(r, ("tasks", i, "partners", j), "partner", pk, all_keys["partners"])
        for j, dk in enumerate(t.depends_on):
            if dk == t.key:
                r.problem(("tasks", i, "depends_on", j), "a task cannot depend on itself")
            else:
                _ref(r, ("tasks", i, "depends_on", j), "task", dk, all_keys["tasks"])
        if t.due is not None and t.duration is not None:
            r.problem(("tasks", i, "due"), "give either 'due' or 'duration', not both")
        elif t.due is None and t.duration is None and not _rejected(r, ("tasks", i), "due", "duration"):
            r.problem(("tasks", i), "missing 'due' or 'duration' (one of the two is required)")
        if t.status == "done" and t.done_on is None and not _rejected(r, ("tasks", i), "done_on"):
            r.problem(("tasks", i, "status"), "task is done but has no 'done_on' date", "warning")
        if t.done_on is not None and t.status not in ("done", None):  # None: rejected, already reported
            r.problem(("tasks", i, "done_on"), f"'done_on' is set but status is {t.status!r}", "warning")


def _rejected(r: Reader, path: Path_, *names: str) -> bool:
    """Whether one of these keys of the item at ``path`` was rejected (already reported)."""
    return any(path + (name,) in r.unreadable for name in names)


def _check_risks(r: Reader, risks: list[tuple[int, Any]], all_keys: dict[str, set[str]]) -> None:
    for i, k in risks:
        _ref(r, ("risks", i, "owner"), "person", k.owner, all_keys["people"])
        _ref(r, ("risks", i, "partner"), "partner", k.partner, all_keys["partners"])
        for j, tk in enumerate(k.tasks):
            _ref(r, ("risks", i, "tasks", j), "task", tk, all_keys["tasks"])

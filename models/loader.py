"""Read a roadmap file and report every problem at once, each with its file and line.

1. Parse the YAML into plain values while remembering the line of every key (PyYAML's
   C parser, so ten thousand tasks load in a fraction of a second); duplicate keys are
   problems, not silent overwrites.
2. Check each section item by item against models/spec.py, so one broken task does not
   hide the problems of the others.
3. Check what needs the whole document: unique keys, references, cycles, e-mail
   addresses, timezone and calendar, dates and the schedule.
The result is a LoadedRoadmap, or RoadmapInvalid carrying all problems.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ValidationError

from models import spec, yaml_fast
from models.addresses import is_email
from models.calendar import BusinessCalendar, UnknownCalendar, calendar_for
from models.dates import Anchor, DateExpr, DateExprError, parse_date_expr, parse_duration
from models.graph import find_cycles, topological_order
from models.problems import Problem, RoadmapInvalid
from models.schedule import Schedule, TaskInput, schedule_tasks

Path_ = tuple[str | int, ...]

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

    def task_inputs(self, overrides: dict[str, dict[str, Any]] | None = None) -> list[TaskInput]:
        return build_task_inputs(self.doc.tasks, self.task_exprs, self.stage_dates, overrides or {})


def build_task_inputs(
    tasks: Iterable[spec.Task],
    exprs: dict[str, tuple[DateExpr | None, DateExpr | None, int | None]],
    stage_dates: dict[str, tuple[date, date]],
    overrides: dict[str, dict[str, Any]],
) -> list[TaskInput]:
    """Scheduler input from file tasks; `overrides` carries live status, done_on and forecast."""
    inputs = []
    for t in tasks:
        start, due, duration = exprs[t.key]
        live = overrides.get(t.key, {})
        inputs.append(
            TaskInput(
                key=t.key,
                stage_start=stage_dates[t.stage][0],
                start=start,
                due=due,
                duration=duration,
                depends_on=tuple(t.depends_on),
                status=live.get("status", t.status),
                done_on=live.get("done_on", t.done_on),
                forecast=live.get("forecast"),
            )
        )
    return inputs


# -- 1. YAML with line numbers ----------------------------------------------------


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []

    def problem(self, path: Path_, message: str, severity: str = "error", line: int | None = None) -> None:
        self.problems.append(
            Problem(line or self.line_of(path), render_path(path, self.data), message, severity, self.file)
        )

    def line_of(self, path: Path_) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def parse(self, text: str) -> Any:
        loader = yaml.CSafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            self.data: Any = None
            return self._convert(loader, node, ())
        finally:
            loader.dispose()

    def _convert(self, loader: Any, node: yaml.Node, path: Path_) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if isinstance(key, (list, dict)):
                    key = str(key)
                sub = path + (key,)
                if key in out:
                    self.lines[sub + ("__dup__",)] = key_node.start_mark.line + 1
                    self.problems.append(
                        Problem(key_node.start_mark.line + 1, render_path(sub), "duplicate key "
                                f"(first at line {self.lines[sub]})", "error", self.file)
                    )
                    continue
                self.lines[sub] = key_node.start_mark.line + 1
                out[key] = self._convert(loader, value_node, sub)
                self.lines[sub] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(loader, item, path + (i,)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)


def render_path(path: Path_, data: Any = None) -> str:
    """`tasks[t12].due` when the list item has a key, else `tasks[3].due`."""
    out = ""
    node = data
    for part in path:
        if isinstance(part, int):
            label = str(part)
            if isinstance(node, list) and 0 <= part < len(node):
                item = node[part]
                if isinstance(item, dict) and isinstance(item.get("key"), (str, int)):
                    label = str(item["key"])
                node = item
            else:
                node = None
            out += f"[{label}]"
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(document)"


# -- 2. shape, section by section ---------------------------------------------------


def _check_keys(r: _Reader, model: type[BaseModel], value: Any, path: Path_) -> Any:
    """Unknown keys with a did-you-mean; returns the value without them."""
    if not isinstance(value, dict):
        return value
    allowed = list(model.model_fields)
    clean = {}
    for key, sub in value.items():
        if key not in allowed:
            guess = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {guess[0]!r}?)" if guess else f" (expected one of: {', '.join(allowed)})"
            r.problem(path + (key,), f"unknown key {key!r}{hint}")
            continue
        nested = NESTED.get((model, key))
        clean[key] = _check_keys(r, nested, sub, path + (key,)) if nested else sub
    return clean


def _validate(r: _Reader, model: type[BaseModel], value: Any, path: Path_) -> Any:
    value = _check_keys(r, model, value, path)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = path + tuple(err["loc"])
            if err["type"] == "missing":
                r.problem(loc[:-1], f"missing required key {loc[-1]!r}")
            elif err["type"] in ("model_type", "dict_type"):
                r.problem(loc, f"expected a mapping of keys, got {_short(err.get('input'))}")
            else:
                r.problem(_value_path(loc), f"{err['msg']}, got {_short(err.get('input'))}")
        return None


def _value_path(loc: Path_) -> Path_:
    # pydantic adds the union member name (e.g. 'date', 'str') to the location; drop it.
    while loc and isinstance(loc[-1], str) and loc[-1] in ("date", "str", "int", "list[...]", "literal"):
        loc = loc[:-1]
    return tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("function-") or "[" in p)))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- 3. the whole document ----------------------------------------------------------


def load_roadmap(path: str | Path) -> LoadedRoadmap:
    """Load and check a roadmap file; raise RoadmapInvalid with every problem found."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise RoadmapInvalid([Problem(1, "(file)", f"cannot read the file: {exc.strerror}", "error", file)])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RoadmapInvalid([Problem(1 if line < 1 else line, "(file)", "the file is not valid UTF-8", "error", file)])
    return load_roadmap_text(text, file)


def load_roadmap_text(text: str, file: str = "<roadmap>") -> LoadedRoadmap:
    """Check a roadmap document. Big clean files take the fast reader (models/yaml_fast.py);
    any problem at all sends the document through the line-tracking reader instead, so
    every problem is reported with its line."""
    try:
        data = yaml_fast.load(text.encode("utf-8"))
    except yaml_fast.Unsupported:
        pass
    else:
        fast = _Reader(file)
        try:
            loaded = _check(fast, data)
        except RoadmapInvalid:
            loaded = None
        if loaded is not None and not fast.problems:
            return loaded
    return _load_tracking_lines(text, file)


def _load_tracking_lines(text: str, file: str) -> LoadedRoadmap:
    r = _Reader(file)
    r.data = None
    try:
        data = r.parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise RoadmapInvalid([Problem(line, "(yaml)", f"YAML syntax error: {msg}", "error", file)])
    except yaml.YAMLError as exc:
        raise RoadmapInvalid([Problem(1, "(yaml)", f"YAML error: {exc}", "error", file)])
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp like 2014-13-45
        raise RoadmapInvalid([Problem(1, "(yaml)", f"cannot read a value: {exc}", "error", file)])
    return _check(r, data)


def _check(r: _Reader, data: Any) -> LoadedRoadmap:
    r.data = data
    if not isinstance(data, dict):
        r.problem((), "the file must be a mapping with the keys roadmap, people, stages, tasks, ...")
        raise RoadmapInvalid(r.problems)

    allowed = list(spec.RoadmapFile.model_fields)
    for key in data:
        if key not in allowed:
            guess = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {guess[0]!r}?)" if guess else f" (expected one of: {', '.join(allowed)})"
            r.problem((key,), f"unknown section {key!r}{hint}")

    meta = None
    if "roadmap" not in data:
        r.problem((), "missing required section 'roadmap'")
    else:
        meta = _validate(r, spec.RoadmapMeta, data["roadmap"], ("roadmap",))
    policy = _validate(r, spec.Policy, data.get("policy") or {}, ("policy",))

    items: dict[str, list[tuple[int, Any]]] = {}
    all_keys: dict[str, set[str]] = {}
    for section, model in SECTIONS.items():
        value = data.get(section)
        items[section] = []
        all_keys[section] = set()
        if value is None:
            continue
        if not isinstance(value, list):
            r.problem((section,), f"expected a list of {section}, got {_short(value)}")
            continue
        first_line: dict[str, int] = {}
        for i, item in enumerate(value):
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                k = item["key"]
                all_keys[section].add(k)  # so a broken item does not cascade into "unknown key"
                if k in first_line:
                    r.problem((section, i, "key"), f"duplicate {section} key {k!r} (first at line {first_line[k]})")
                    continue
                first_line[k] = r.line_of((section, i))
            obj = _validate(r, model, item, (section, i))
            if obj is not None:
                items[section].append((i, obj))

    loaded = _check_document(r, meta, policy, items, all_keys)
    if any(p.severity == "error" for p in r.problems) or loaded is None:
        raise RoadmapInvalid(r.problems)
    loaded.warnings = sorted(r.problems)
    return loaded


def _check_document(r, meta, policy, items, all_keys) -> LoadedRoadmap | None:
    """Checks that need the whole document, each reporting every mistake it finds; then
    the dates, and the loaded roadmap when nothing was an error."""
    cal = _check_meta(r, meta, all_keys)
    _check_people(r, items, all_keys)
    _check_tasks(r, items["tasks"], all_keys)
    _check_risks(r, items["risks"], all_keys)
    if meta is None:
        return None
    # With an unknown calendar (already reported) the dates are still checked, on the
    # default calendar, so that every other mistake shows up in the same run.
    cal = cal or calendar_for("RU")
    stage_dates = _stage_dates(r, meta, items["stages"], cal)
    exprs, schedule = _task_dates(r, meta, items["tasks"], stage_dates, cal, all_keys)
    if schedule is None or any(p.severity == "error" for p in r.problems):
        return None
    doc = spec.RoadmapFile.model_construct(
        roadmap=meta,
        policy=policy or spec.Policy(),
        **{section: [obj for _, obj in items[section]] for section in SECTIONS},
    )
    return LoadedRoadmap(r.file, doc, cal, stage_dates, exprs, schedule)


def _ref(r: _Reader, path: Path_, kind: str, value: str | None, known: set[str]) -> bool:
    """Whether ``value`` names a known key; if not, a problem with a "did you mean"."""
    if value is None or value in known:
        return True
    guess = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    r.problem(path, f"unknown {kind} {value!r}{hint}")
    return False


def _check_meta(r: _Reader, meta: Any, all_keys: dict[str, set[str]]) -> BusinessCalendar | None:
    """The roadmap section: time zone, calendar, office address, report recipients. The
    roadmap's calendar, or None when it is unknown (or the section is missing)."""
    if meta is None:
        return None
    try:
        ZoneInfo(meta.timezone)
        if "/" not in meta.timezone and meta.timezone not in ("UTC",):
            raise ZoneInfoNotFoundError
    except (ZoneInfoNotFoundError, ValueError):
        guess = difflib.get_close_matches(meta.timezone, sorted(available_timezones()), n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        r.problem(("roadmap", "timezone"), f"unknown timezone {meta.timezone!r}{hint}")
    cal: BusinessCalendar | None = None
    try:
        cal = calendar_for(meta.calendar)
    except UnknownCalendar:
        r.problem(("roadmap", "calendar"), f"unknown calendar {meta.calendar!r}: use an ISO country code such as RU")
    if not is_email(meta.office.email):
        r.problem(("roadmap", "office", "email"), f"invalid e-mail address {meta.office.email!r}")
    for j, who in enumerate(meta.report_to):
        if who not in all_keys["people"] and not is_email(who):
            _ref(r, ("roadmap", "report_to", j), "person (or e-mail address)", who, all_keys["people"])
    return cal


def _check_people(r: _Reader, items: dict[str, list[tuple[int, Any]]], all_keys: dict[str, set[str]]) -> None:
    """People's addresses and references, cycles of managers, partners' contacts."""
    people = {p.key: (i, p) for i, p in items["people"]}
    for i, p in items["people"]:
        if not is_email(p.email):
            r.problem(("people", i, "email"), f"invalid e-mail address {p.email!r}")
        _ref(r, ("people", i, "partner"), "partner", p.partner, all_keys["partners"])
        _ref(r, ("people", i, "manager"), "person", p.manager, all_keys["people"])
    manager_of = {k: p.manager for k, (_, p) in people.items() if p.manager}
    for cycle in find_cycles(list(manager_of), {k: [m] for k, m in manager_of.items()}):
        r.problem(("people", people[cycle[0]][0], "manager"), "managers form a cycle: " + " -> ".join(reversed(cycle)))
    for i, p in items["partners"]:
        _ref(r, ("partners", i, "contact"), "person", p.contact, all_keys["people"])


def _check_tasks(r: _Reader, tasks: list[tuple[int, Any]], all_keys: dict[str, set[str]]) -> None:
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
        elif t.due is None and t.duration is None:
            r.problem(("tasks", i), "missing 'due' or 'duration' (one of the two is required)")
        if t.status == "done" and t.done_on is None:
            r.problem(("tasks", i, "status"), "task is done but has no 'done_on' date", "warning")
        if t.done_on is not None and t.status != "done":
            r.problem(("tasks", i, "done_on"), f"'done_on' is set but status is {t.status!r}", "warning")


def _check_risks(r: _Reader, risks: list[tuple[int, Any]], all_keys: dict[str, set[str]]) -> None:
    for i, k in risks:
        _ref(r, ("risks", i, "owner"), "person", k.owner, all_keys["people"])
        _ref(r, ("risks", i, "partner"), "partner", k.partner, all_keys["partners"])
        for j, tk in enumerate(k.tasks):
            _ref(r, ("risks", i, "tasks", j), "task", tk, all_keys["tasks"])


def _parse_expr(r: _Reader, path: Path_, value: Any) -> DateExpr | None:
    try:
        return parse_date_expr(value)
    except DateExprError as exc:
        r.problem(path, str(exc))
        return None


def _stage_dates(r, meta, stages, cal) -> dict[str, tuple[date, date]]:
    exprs: dict[str, tuple[int, DateExpr | None, DateExpr | None]] = {}
    for i, s in stages:
        start = _parse_expr(r, ("stages", i, "start"), s.start)
        end = _parse_expr(r, ("stages", i, "end"), s.end)
        for name, e in (("start", start), ("end", end)):
            if e is not None and e.anchor.kind == "task":
                r.problem(("stages", i, name), "stage dates may refer to the session or other stages, not to tasks")
                exprs[s.key] = (i, None, None)
                break
        else:
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
            r.problem(("stages", exprs[cycle[0]][0]), "stage dates refer to each other in a cycle: " + " -> ".join(cycle))
        return {}
    dates: dict[str, tuple[date, date]] = {}

    def resolve(anchor: Anchor) -> date:
        if anchor.kind == "session":
            return meta.session.date
        start, end = dates[anchor.key]  # type: ignore[index]
        return start if anchor.edge == "start" else end

    for key in order:
        i, start_e, end_e = exprs[key]
        if start_e is None or end_e is None or preds[key] - set(dates):
            continue
        start, end = start_e.evaluate(resolve, cal), end_e.evaluate(resolve, cal)
        if end < start:
            r.problem(("stages", i, "end"), f"stage ends ({end}) before it starts ({start})")
        dates[key] = (start, end)
    return dates


def _task_dates(r, meta, tasks, stage_dates, cal, all_keys):
    exprs: dict[str, tuple[DateExpr | None, DateExpr | None, int | None]] = {}
    index = {}
    tasks_by_key = {t.key: t for _, t in tasks}
    ok = True
    for i, t in tasks:
        index[t.key] = i
        start = _parse_expr(r, ("tasks", i, "start"), t.start) if t.start is not None else None
        due = _parse_expr(r, ("tasks", i, "due"), t.due) if t.due is not None else None
        duration = None
        if t.duration is not None:
            try:
                duration = parse_duration(t.duration)
            except DateExprError as exc:
                r.problem(("tasks", i, "duration"), str(exc))
                ok = False
        if (t.start is not None and start is None) or (t.due is not None and due is None):
            ok = False
        for name, e in (("start", start), ("due", due)):
            if e is None:
                continue
            if e.anchor.kind == "task" and e.anchor.key not in all_keys["tasks"]:
                guess = difflib.get_close_matches(e.anchor.key, list(all_keys["tasks"]), n=1)
                hint = f" (did you mean 'task.{guess[0]}'?)" if guess else ""
                r.problem(("tasks", i, name), f"unknown task {e.anchor.key!r} in date expression{hint}")
                ok = False
            if e.anchor.kind == "stage" and e.anchor.key not in stage_dates:
                if e.anchor.key not in all_keys["stages"]:
                    r.problem(("tasks", i, name), f"unknown stage {e.anchor.key!r} in date expression")
                ok = False
        exprs[t.key] = (start, due, duration)
        if t.stage not in stage_dates:
            ok = False
    preds = {
        key: set(tasks_by_key[key].depends_on)
        | {e.refers_to_task for e in (start, due) if e is not None and e.refers_to_task}
        for key, (start, due, _) in exprs.items()
    }
    if topological_order(list(preds), preds) is None:
        for cycle in find_cycles(list(preds), preds):
            r.problem(("tasks", index[cycle[0]], "depends_on"), "dependency cycle: " + " -> ".join(cycle))
        return exprs, None
    if not ok or len(exprs) != len(all_keys["tasks"]):  # a broken task is already reported
        return exprs, None

    def resolve(anchor: Anchor) -> date:
        if anchor.kind == "session":
            return meta.session.date
        start, end = stage_dates[anchor.key]  # type: ignore[index]
        return start if anchor.edge == "start" else end

    inputs = build_task_inputs([t for _, t in tasks], exprs, stage_dates, {})
    schedule = schedule_tasks(inputs, cal, resolve)
    for c in schedule.conflicts:
        r.problem(
            ("tasks", index[c.key], "due"),
            f"schedule conflict: due {c.due} is before its dependency {c.dependency!r} finishes ({c.dependency_finish})",
            "warning",
        )
    for i, t in tasks:
        plan = schedule.plans[t.key]
        s_start, s_end = stage_dates[t.stage]
        if not (s_start <= plan.due <= s_end):
            r.problem(("tasks", i), f"due {plan.due} is outside its stage {t.stage!r} ({s_start} .. {s_end})", "warning")
    return exprs, schedule

"""Synthetic roadmaps for benchmarks: N tasks, M people, deterministic for a seed.

As a module::

    from bench.synth import generate, write, reminder_hits   # or put bench/ on sys.path
    doc = generate(10_000, 500, seed=1)                 # a dict in the shape of models/spec.py
    meta = write("/tmp/x.yaml", 10_000, 500, seed=1, reminder_day="auto")
    hits = reminder_hits("/tmp/x.yaml", meta["reminder_day"])   # ~2,000 task keys

As a script::

    python bench/synth.py --tasks 10000 --people 500 --out /tmp/x.yaml [--seed 1]
        [--stages 10] [--risks N] [--as-of DATE] [--overdue-share 0.05]
        [--reminder-day auto|DATE] [--reminder-share 0.2] [--check]

What is generated
-----------------
- `stages` (default 10) consecutive stages of `stage_days` (default 60) business days
  each, starting a week after the session (2025-01-15, calendar RU). Some stage starts
  are expressions (`stage.s3.end + 1bd`).
- Tasks spread evenly over the stages, in stage order. Each depends on 0-3 earlier
  tasks of the same or the previous stages (a DAG), chosen so the task still fits in its
  stage. About half have `duration` (1-10 business days, some with their own `start`),
  the others a pinned `due`: an ISO date, `task.tNNN + Kbd` (an earlier task's due) or
  `stage.sK.end - Kbd`. The generator runs the same forward pass as models/schedule.py
  (with models/calendar.py), so every task's scheduled due lies inside its stage and no
  pinned due precedes a dependency: the file validates with no errors and no warnings.
- People `p0001..` (example.org e-mails; managers form a tree: each person's manager is
  an earlier person, so every chain ends at p0001), ~20 partners with contacts, ~8
  workstreams, ~n/50 risks, an explicit policy (remind_before [5, 1], remind_on_due,
  overdue_every 2).
- Statuses are those of an "as of" day (default: 15 % into the roadmap): tasks due before
  it are done (with `done_on`) except `overdue_share` of them left open and overdue;
  tasks that started by then are mostly `in_progress` (with `progress`), the rest `planned`.

Reminder load (`reminder_day`, `reminder_share`)
------------------------------------------------
With `reminder_day=D` the as-of day is D, and due dates are placed so that about
`reminder_share` of all tasks need a reminder on D under the policy
remind_before [5, 1], remind on the due day, overdue every 2 days, with days counted
in business days as models/status.py counts them (`cal.between(due, D)`):

- an open task needs one when it is due in exactly 5 or 1 business days, is due on D,
  or is late by 1, 3, 5, ... business days (the day after its due date, then every 2);
- about 10 % of the quota are open tasks due on D, D+1bd or D+5bd; the rest are open
  tasks of earlier stages whose due is snapped to D-1bd, D-3bd, ...;
- every other task due before D is done, and no other open task is due on D, D+1bd or
  D+5bd, so the count is controlled rather than left to chance.

`reminder_day="auto"` picks the business day 60 % into the roadmap (then 10,000 tasks
and share 0.2 give ~2,000 reminders owned by up to 500 people). `reminder_hits()`
recounts, through the real loader and scheduler, which tasks need one on a day;
`--check` prints that count after writing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.calendar import calendar_for  # noqa: E402

SESSION = date(2025, 1, 15)
CALENDAR = "RU"
POLICY = {
    "remind_before": [5, 1],
    "remind_on_due": True,
    "overdue_every": 2,
    "escalate_after": [3, 10],
    "risk_escalate_score": 15,
    "report_day": "monday",
}

_VERBS = ("Prepare", "Approve", "Draft", "Review", "Procure", "Install", "Test", "Publish", "Agree",
          "Deliver", "Train", "Audit", "Sign", "Plan", "Launch", "Measure", "Design", "Hire")
_THINGS = ("budget", "contract", "floor plan", "equipment list", "training course", "press release",
           "safety audit", "vendor shortlist", "pilot programme", "service agreement", "signage",
           "visitor survey", "workshop schedule", "IT network", "ventilation", "partner agreement")
_WORKSTREAMS = ("Governance", "Pavilion", "Equipment", "Programme", "Partners", "People",
                "Communications", "Finance")
_PARTNER_KINDS = ("government", "venue", "company", "manufacturer", "supplier", "university", "fablab")


class _Days:
    """Business days of the roadmap's window as a list, with positions (same calendar as the app)."""

    def __init__(self, first: date, last: date) -> None:
        self.cal = calendar_for(CALENDAR)
        days, d = [], first
        while d <= last:
            if self.cal.is_business_day(d):
                days.append(d)
            d += timedelta(days=1)
        self.days = days
        self.pos = {d: i for i, d in enumerate(days)}

    def roll(self, d: date) -> int:
        """Position of d, or of the next business day."""
        while d not in self.pos:
            d += timedelta(days=1)
        return self.pos[d]


def _pick_title(rng: random.Random, i: int) -> str:
    return f"{rng.choice(_VERBS)} {rng.choice(_THINGS)} #{i}"


def generate(
    n_tasks: int,
    n_people: int,
    seed: int = 1,
    stages: int = 10,
    risks: int | None = None,
    *,
    n_partners: int = 20,
    n_workstreams: int = 8,
    stage_days: int = 60,
    as_of: date | None = None,
    overdue_share: float = 0.05,
    reminder_day: date | str | None = None,
    reminder_share: float = 0.2,
    key: str = "synthetic",
    with_meta: bool = False,
) -> Any:
    """A roadmap as plain data in the shape of models/spec.py (see the module doc).

    `reminder_day` (a date or "auto") overrides `as_of`. With `with_meta=True` returns
    (doc, meta): meta has seed, as_of, reminder_day, reminder_quota and reminders_placed.
    """
    if n_tasks < 1 or n_people < 1 or stages < 1:
        raise ValueError("need at least one task, one person and one stage")
    rng = random.Random(seed)
    n_partners = max(1, min(n_partners, n_people))
    n_workstreams = max(1, n_workstreams)
    risks = max(1, n_tasks // 50) if risks is None else risks
    stage_days = max(stage_days, 25)

    # -- calendar window and stages -------------------------------------------------
    span_days = int((stages * stage_days + 20) * 7 / 5) + 120
    days = _Days(SESSION - timedelta(days=30), SESSION + timedelta(days=span_days))
    bd = days.days
    first = days.roll(SESSION + timedelta(days=7))
    stage_list: list[dict[str, Any]] = []
    windows: list[tuple[int, int]] = []  # (start pos, end pos) of each stage
    for k in range(stages):
        s_pos = first if k == 0 else windows[-1][1] + 1
        e_pos = s_pos + stage_days - 1
        windows.append((s_pos, e_pos))
        skey = f"s{k + 1}"
        if k == 0:
            start: Any = "session + 5bd" if days.roll(days.cal.add(SESSION, 5)) == s_pos else bd[s_pos]
        elif rng.random() < 0.3:
            start = f"stage.s{k}.end + 1bd"
        else:
            start = bd[s_pos]
        stage_list.append({
            "key": skey, "title": f"Stage {k + 1}: {rng.choice(_THINGS)}", "start": start, "end": bd[e_pos],
            "goal": f"Everything of stage {k + 1} delivered" if rng.random() < 0.5 else None,
        })
    end_pos = windows[-1][1]

    # -- the as-of day and the reminder quota ----------------------------------------
    if reminder_day == "auto":
        reminder_day = bd[first + int((end_pos - first) * 0.6)]
    elif isinstance(reminder_day, str):
        reminder_day = date.fromisoformat(reminder_day)
    if reminder_day is not None:
        d_pos = days.roll(reminder_day)
        if bd[d_pos] != reminder_day:
            raise ValueError(f"reminder day {reminder_day} is not a business day of calendar {CALENDAR}")
        if not (first < d_pos <= end_pos):
            raise ValueError(f"reminder day {reminder_day} is outside the roadmap ({bd[first]} .. {bd[end_pos]})")
        as_of = reminder_day
    elif as_of is None:
        as_of = bd[first + int((end_pos - first) * 0.15)]
    if not (bd[0] <= as_of <= bd[-1]):
        raise ValueError(f"as-of day {as_of} is outside the roadmap's window ({bd[0]} .. {bd[-1]})")
    a_pos = days.roll(as_of)
    quota = round(n_tasks * reminder_share) if reminder_day is not None else 0
    future_hits = {a_pos, a_pos + 1, a_pos + 5} if reminder_day is not None else set()
    future_quota = quota // 10
    overdue_quota = quota - future_quota

    per_stage = [n_tasks // stages + (1 if k < n_tasks % stages else 0) for k in range(stages)]
    # Tasks expected to fall due before the as-of day, to spread the overdue quota evenly.
    eligible = 0.0
    for (s, e), cnt in zip(windows, per_stage, strict=True):
        if e < a_pos:
            eligible += cnt
        elif s < a_pos:
            eligible += cnt * (a_pos - s) / (e - s + 1)

    # -- people, partners, workstreams --------------------------------------------------
    width = max(4, len(str(n_people)))
    pkeys = [f"p{i + 1:0{width}d}" for i in range(n_people)]
    partners_keys = [f"org{i + 1:02d}" for i in range(n_partners)]
    people = []
    for i, pk in enumerate(pkeys):
        person: dict[str, Any] = {"key": pk, "name": f"Person {i + 1}", "email": f"{pk}@example.org"}
        if i >= 1 and i - 1 < n_partners:
            person["partner"] = partners_keys[i - 1]  # partner contacts
        elif i > n_partners and rng.random() < 0.2:
            person["partner"] = rng.choice(partners_keys)
        if i > 0:
            person["manager"] = pkeys[(i - 1) // 5]  # a tree: chains end at p0001
        people.append(person)
    partners = [
        {"key": ok, "name": f"Partner organisation {i + 1}", "kind": _PARTNER_KINDS[i % len(_PARTNER_KINDS)],
         "contact": pkeys[min(i + 1, n_people - 1)], "formats": ["working group", "monthly report"][: 1 + i % 2]}
        for i, ok in enumerate(partners_keys)
    ]
    wkeys = [f"w{i + 1}" for i in range(n_workstreams)]
    workstreams = [{"key": wk, "title": _WORKSTREAMS[i % len(_WORKSTREAMS)] + (f" {i + 1}" if i >= 8 else "")}
                   for i, wk in enumerate(wkeys)]

    # -- tasks: generated in order, scheduled as models/schedule.py would -------------------
    twidth = max(4, len(str(n_tasks)))
    tkeys = [f"t{i + 1:0{twidth}d}" for i in range(n_tasks)]
    due_pos = [0] * n_tasks
    finish_pos = [0] * n_tasks
    stage_first: list[int] = []
    tasks: list[dict[str, Any]] = []
    i = 0
    overdue_made = future_made = 0
    eligible_seen = 0
    for k, cnt in enumerate(per_stage):
        s_pos, e_pos = windows[k]
        stage_first.append(i)
        prev_first = stage_first[k - 1] if k else 0
        for _ in range(cnt):
            key_i = tkeys[i]
            duration = rng.randint(1, 10) if rng.random() < 0.55 else None
            need = (duration or 1) + 1
            # dependencies
            deps: list[int] = []
            n_deps = rng.choices((0, 1, 2, 3), (15, 40, 30, 15))[0]
            for _try in range(n_deps * 3):
                if len(deps) >= n_deps or i == 0:
                    break
                if i > stage_first[k] and (k == 0 or rng.random() < 0.65):
                    j = rng.randrange(stage_first[k], i)
                else:
                    j = rng.randrange(prev_first, i) if i > prev_first else rng.randrange(0, i)
                if j not in deps and finish_pos[j] + need <= e_pos:
                    deps.append(j)
            deps.sort()
            latest = max((finish_pos[j] for j in deps), default=None)
            earliest = latest + 1 if latest is not None else s_pos  # start position
            task: dict[str, Any] = {
                "key": key_i, "title": _pick_title(rng, i + 1), "stage": f"s{k + 1}",
                "workstream": wkeys[rng.randrange(n_workstreams)] if rng.random() < 0.9 else None,
                "owner": pkeys[rng.randrange(n_people)],
                "partners": [partners_keys[rng.randrange(n_partners)] for _ in range(rng.choice((0, 0, 1, 1, 2)))],
            }
            task["partners"] = sorted(set(task["partners"]))
            if duration is not None and latest is not None and latest + duration < s_pos:
                duration = None  # would start and end in an earlier stage: pin its due instead
            start_pos = earliest
            start_value: Any = None
            if duration is not None:
                if not deps and rng.random() < 0.5:
                    start_pos = rng.randint(s_pos, max(s_pos, e_pos - duration - 1))
                    start_value = bd[start_pos]
                dpos = start_pos + duration - 1
            else:
                lo = max(earliest, s_pos)
                dpos = rng.randint(lo, min(e_pos, lo + max(5, (e_pos - lo) // 2)))
                if latest is not None:
                    dpos = max(dpos, latest)  # never before a dependency's finish
                start_pos = min(earliest, dpos)

            # reminder placement
            lo_ok = max(latest if latest is not None else s_pos, s_pos)  # lowest due without conflict
            target = None
            if reminder_day is not None:
                if dpos < a_pos:
                    eligible_seen += 1
                    left = max(1.0, eligible - eligible_seen + 1)
                    if overdue_made < overdue_quota and rng.random() < (overdue_quota - overdue_made) / left:
                        hit = dpos if (a_pos - dpos) % 2 == 1 else dpos + 1  # late 1, 3, 5, ... bd
                        if hit >= a_pos or hit > e_pos:
                            hit = dpos - 1
                        if lo_ok <= hit < a_pos and hit <= e_pos and hit >= s_pos:
                            target, dpos = "overdue", hit
                            overdue_made += 1
                elif dpos <= a_pos + 20 and future_made < future_quota:
                    for hit in sorted(future_hits, key=lambda h: abs(h - dpos)):
                        if max(lo_ok, s_pos) <= hit <= e_pos:
                            target, dpos = "future", hit
                            future_made += 1
                            break
                if target is None and dpos in future_hits:
                    for cand in (dpos + 1, dpos + 2, dpos + 3, dpos - 1, dpos - 2, dpos - 3):
                        if cand not in future_hits and max(lo_ok, s_pos) <= cand <= e_pos:
                            dpos = cand
                            break
                    else:
                        if duration is not None or deps:
                            # cannot move it: keep it (a stray reminder) rather than break the stage
                            pass

            # how the due date is written
            if duration is not None:
                if start_value is None and not deps:
                    start_pos = s_pos
                new_dur = dpos - start_pos + 1
                if new_dur >= 1 and (start_value is not None or deps or start_pos == s_pos):
                    duration = new_dur
                    task["start"] = start_value
                    task["duration"] = duration if rng.random() < 0.7 else f"{duration}bd"
                else:  # fall back to a pinned due
                    duration = None
            if duration is None:
                start_pos = min(earliest, dpos)
                style = rng.random()
                written: Any = bd[dpos]
                if style < 0.2 and deps:
                    ref = max(deps, key=lambda j: due_pos[j])
                    off = dpos - due_pos[ref]
                    if off >= 1 and all(finish_pos[j] <= dpos for j in deps):
                        written = f"task.{tkeys[ref]} + {off}bd"
                elif style < 0.35 and e_pos - dpos <= 40:
                    off = e_pos - dpos
                    written = f"stage.s{k + 1}.end - {off}bd" if off else f"stage.s{k + 1}.end"
                task["due"] = written
            task["depends_on"] = [tkeys[j] for j in deps]
            due_pos[i] = dpos
            finish = dpos

            # status as of the as-of day
            if dpos < a_pos:
                keep_open = target == "overdue" or (reminder_day is None and rng.random() < overdue_share)
                if keep_open:
                    task["status"] = "in_progress" if rng.random() < 0.5 else "planned"
                    if task["status"] == "in_progress":
                        task["progress"] = rng.choice((10, 30, 50, 70, 90))
                else:
                    done = min(max(dpos + rng.randint(-3, 1), start_pos), a_pos - 1)
                    done = max(done, 0)
                    task["status"] = "done"
                    task["done_on"] = bd[done]
                    finish = done
            elif start_pos <= a_pos and rng.random() < 0.7:
                task["status"] = "in_progress"
                task["progress"] = rng.choice((0, 10, 20, 40, 60, 80))
            else:
                task["status"] = "planned"
            if rng.random() < 0.1:
                task["notes"] = f"Synthetic note for {key_i}: see the {rng.choice(_THINGS)}."
            finish_pos[i] = finish
            tasks.append(task)
            i += 1

    # -- risks ------------------------------------------------------------------------------
    risk_list = []
    for r in range(risks):
        rk = {
            "key": f"r{r + 1:04d}", "title": f"Risk {r + 1}: late {rng.choice(_THINGS)}",
            "owner": pkeys[rng.randrange(n_people)],
            "partner": partners_keys[rng.randrange(n_partners)] if rng.random() < 0.5 else None,
            "probability": rng.randint(1, 5), "impact": rng.randint(1, 5),
            "mitigation": "Agree a fallback with the partner" if rng.random() < 0.7 else None,
            "review": bd[rng.randint(first, end_pos)] if rng.random() < 0.6 else None,
            "status": rng.choices(("open", "mitigated", "occurred", "closed"), (80, 10, 5, 5))[0],
            "tasks": sorted({tkeys[rng.randrange(n_tasks)] for _ in range(rng.randint(0, 3))}),
        }
        risk_list.append(rk)

    doc = {
        "roadmap": {
            "key": key,
            "title": f"Synthetic roadmap: {n_tasks} tasks, {n_people} people (seed {seed})",
            "session": {"date": SESSION, "place": "Benchmark hall"},
            "timezone": "Europe/Moscow",
            "calendar": CALENDAR,
            "language": "en",
            "office": {"name": "Synthetic project office", "email": "pmo@example.org"},
            "report_to": pkeys[: min(3, n_people)],
        },
        "partners": partners,
        "people": people,
        "workstreams": workstreams,
        "stages": stage_list,
        "tasks": tasks,
        "risks": risk_list,
        "policy": dict(POLICY),
    }
    meta = {
        "seed": seed, "as_of": as_of, "reminder_day": reminder_day, "reminder_quota": quota,
        "reminders_placed": overdue_made + future_made, "overdue_placed": overdue_made,
        "due_soon_placed": future_made,
    }
    return (doc, meta) if with_meta else doc


# -- YAML writing: plain string building (every string JSON-quoted, which YAML reads) ---------


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, date):
        return v.isoformat()
    return json.dumps(v, ensure_ascii=False)


def _emit(out: list[str], value: Any, indent: str) -> None:
    """Block mapping `value` at `indent`; lists of scalars inline, lists of mappings as blocks."""
    for k, v in value.items():
        if v is None:
            continue
        if isinstance(v, dict):
            out.append(f"{indent}{k}:\n")
            _emit(out, v, indent + "  ")
        elif isinstance(v, list):
            if not v:
                continue
            if isinstance(v[0], dict):
                out.append(f"{indent}{k}:\n")
                for item in v:
                    sub: list[str] = []
                    _emit(sub, item, indent + "    ")
                    first_line = sub[0]
                    sub[0] = indent + "  - " + first_line[len(indent) + 4:]
                    out.extend(sub)
            else:
                out.append(f"{indent}{k}: [{', '.join(_scalar(x) for x in v)}]\n")
        else:
            out.append(f"{indent}{k}: {_scalar(v)}\n")


def to_yaml(doc: dict[str, Any], meta: dict[str, Any] | None = None) -> str:
    meta = meta or {}
    head = [f"# Synthetic roadmap for benchmarks (bench/synth.py), seed {meta.get('seed')}\n"]
    if meta.get("reminder_day"):
        head.append(f"# reminder day {meta['reminder_day']}: {meta['reminders_placed']} tasks placed to need a "
                    "reminder (policy remind_before [5, 1], on due, overdue every 2 business days)\n")
    if meta.get("as_of"):
        head.append(f"# statuses as of {meta['as_of']}\n")
    out: list[str] = head
    for section in ("roadmap", "partners", "people", "workstreams", "stages", "tasks", "risks", "policy"):
        if section in doc:
            out.append("\n")
            _emit(out, {section: doc[section]}, "")
    return "".join(out)


def write(path: str | Path, n_tasks: int, n_people: int, seed: int = 1, **kwargs: Any) -> dict[str, Any]:
    """Generate a roadmap and write it as YAML; returns the meta dict of generate()."""
    doc, meta = generate(n_tasks, n_people, seed=seed, with_meta=True, **kwargs)
    Path(path).write_text(to_yaml(doc, meta), encoding="utf-8")
    return {**meta, "tasks": len(doc["tasks"]), "people": len(doc["people"]), "stages": len(doc["stages"]),
            "risks": len(doc["risks"]), "owners": {t["key"]: t["owner"] for t in doc["tasks"]}}


# -- checking the reminder load through the real loader --------------------------------------


def reminder_hits(path: str | Path, day: date, remind_before: tuple[int, ...] = (5, 1),
                  remind_on_due: bool = True, overdue_every: int = 2) -> list[str]:
    """Keys of the open tasks that need a reminder on `day` (business days, as models/status.py)."""
    from models.loader import load_roadmap

    loaded = load_roadmap(path)
    cal = loaded.calendar
    hits = []
    for t in loaded.doc.tasks:
        if t.status not in ("planned", "in_progress", "blocked"):
            continue
        due = loaded.schedule.plans[t.key].due
        late = cal.between(due, day)
        if late > 0:
            if (late - 1) % overdue_every == 0:  # first business day after due, then every N
                hits.append(t.key)
        elif late == 0:
            if remind_on_due:
                hits.append(t.key)
        elif -late in remind_before:
            hits.append(t.key)
    return hits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write a synthetic roadmap YAML file.")
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--people", type=int, default=500)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stages", type=int, default=10)
    ap.add_argument("--risks", type=int, default=None, help="default: tasks / 50")
    ap.add_argument("--stage-days", type=int, default=60, help="business days per stage")
    ap.add_argument("--as-of", type=date.fromisoformat, default=None,
                    help="the day the statuses describe (default 15%% into the roadmap)")
    ap.add_argument("--overdue-share", type=float, default=0.05,
                    help="share of tasks due before --as-of left open (without --reminder-day)")
    ap.add_argument("--reminder-day", "--as-of-overdue", default=None, metavar="auto|YYYY-MM-DD",
                    help="place due dates so that --reminder-share of tasks need a reminder on this day")
    ap.add_argument("--reminder-share", type=float, default=0.2)
    ap.add_argument("--check", action="store_true", help="re-read the file with the real loader and count")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    meta = write(a.out, a.tasks, a.people, seed=a.seed, stages=a.stages, risks=a.risks, stage_days=a.stage_days,
                as_of=a.as_of, overdue_share=a.overdue_share, reminder_day=a.reminder_day,
                reminder_share=a.reminder_share)
    msg = (f"{a.out}: {meta['tasks']} tasks, {meta['people']} people, {meta['stages']} stages, "
           f"{meta['risks']} risks; statuses as of {meta['as_of']}")
    if meta["reminder_day"]:
        msg += f"; reminder day {meta['reminder_day']}: {meta['reminders_placed']} placed"
    print(f"{msg} ({time.perf_counter() - t0:.2f} s)")
    if a.check:
        from models.loader import load_roadmap

        t0 = time.perf_counter()
        loaded = load_roadmap(a.out)
        print(f"valid: {len(loaded.warnings)} warning(s) ({time.perf_counter() - t0:.2f} s)")
        for w in loaded.warnings[:5]:
            print("  " + w.format())
        if meta["reminder_day"]:
            hits = reminder_hits(a.out, meta["reminder_day"])
            owners = len({meta["owners"][k] for k in hits})
            print(f"tasks needing a reminder on {meta['reminder_day']}: {len(hits)} (owners: {owners})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

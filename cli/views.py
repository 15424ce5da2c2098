"""How `status`, `history` and `outbox` read in a terminal: one line per task or message,
cut to the console's width (80 columns when not a terminal), with `--wide` for every column.

Rows come from the jobs as plain data; this module only lays them out. Every cell that holds
a user's text goes through ``shown`` (no rich markup, no control characters)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from cli.common import console, shown
from models.portfolio import slip_text
from models.schema import in_zone
from models.status import StatusFilter, roadmap_rag

if TYPE_CHECKING:
    from models.schema import Change, OutboxMessage

RAG_STYLE = {"green": "green", "amber": "yellow", "red": "red", "grey": "dim"}
MIN_WIDTH = 60  # below this the flexible column would vanish; lines may then be longer than the console
OWNER_WIDTH = 16
RECIPIENT_WIDTH = 24
CRITICAL = "*"


def _cell(value: str, width: int, style: str = "", right: bool = False) -> Text:
    """``value`` in exactly ``width`` terminal cells: cut with an ellipsis, or padded."""
    text = shown(value, style)
    text.truncate(width, overflow="ellipsis")
    pad = " " * (width - text.cell_len)
    return Text.assemble(pad, text) if right else Text.assemble(text, pad)


def _row(cells: Iterable[Text]) -> Text:
    line = Text(" ").join(cells)
    line.rstrip()
    return line


def _print(lines: list[Text]) -> None:
    """Print the lines at once: one call for 10,000 tasks, not one per line (a third of the time)."""
    console.print(Text("\n").join(lines), no_wrap=True, overflow="ellipsis", soft_wrap=False)


def _width() -> int:
    return max(console.width, MIN_WIDTH)


def _rag(rag: str) -> str:
    return RAG_STYLE.get(rag, "")


# --- roadmap status -----------------------------------------------------------------------------

def task_state(task: dict[str, Any]) -> str:
    """The one word a compact row gives a task: done or cancelled, how late, blocked, how far
    along, or in how many business days it is due."""
    if task["status"] in ("done", "cancelled"):
        return task["status"]
    if task["days_late"]:
        return f"{task['days_late']}d late"
    if task["status"] == "blocked":
        return "blocked"
    if task["status"] == "in_progress":
        return f"{task['progress']}% done"
    return f"in {task['days_left']}d" if task["days_left"] else "due today"


def status_header(doc: dict[str, Any], shown_doc: dict[str, Any], only: StatusFilter) -> list[Text]:
    meta, summary = doc["roadmap"], doc["summary"]
    rag = roadmap_rag(s["rag"] for s in doc["stages"])
    expected, planned = meta["expected"] or "-", meta["planned"] or "-"
    lines = [
        _cell(meta["title"], _width(), "bold"),
        Text.assemble(shown(f"{meta['key']}, as of {meta['as_of']}: RAG "), (rag, _rag(rag))),
        Text(f"expected to finish {expected}, planned {planned}"),
        Text(f"{summary['tasks']} tasks: {summary['done']} done, {summary['overdue']} overdue, "
             f"{summary['red']} red, {summary['amber']} amber, {summary['critical']} critical"),
    ]
    if only:
        lines.append(Text(f"showing {len(shown_doc['tasks'])} of {len(doc['tasks'])} tasks: {only.describe()}"))
    return lines


def status_compact(doc: dict[str, Any], only: StatusFilter) -> None:
    """A short header, then per stage one line for the stage and one per task."""
    shown_doc = only.apply(doc)
    lines = status_header(doc, shown_doc, only)
    tasks = shown_doc["tasks"]
    width = _width()
    key_w = max([len("task"), *(len(t["key"]) + len(CRITICAL) for t in tasks)])
    owner_w = min(OWNER_WIDTH, max([len("owner"), *(len(t["owner"]) for t in tasks)]))
    state_w = max([len("state"), *(len(task_state(t)) for t in tasks)])
    title_w = width - key_w - owner_w - 10 - state_w - 5 - 5  # the other columns and the gaps between
    lines.append(Text())
    lines.append(_row([_cell("task", key_w, "bold"), _cell(f"title ({CRITICAL} critical path)", title_w, "bold"),
                       _cell("owner", owner_w, "bold"), _cell("due", 10, "bold"), _cell("state", state_w, "bold"),
                       _cell("RAG", 5, "bold")]))
    by_stage: dict[str, list[dict[str, Any]]] = {}
    for t in tasks:
        by_stage.setdefault(t["stage"], []).append(t)
    stages = {s["key"]: s for s in shown_doc["stages"]}
    for key in [*stages, *(k for k in by_stage if k not in stages)]:
        members = by_stage.get(key, [])
        if only and not members:
            continue
        s = stages.get(key)
        if s is not None:
            right = f"{s['progress']}%, end {s['end']} → {s['expected'] or '-'}"
            lines.append(_row([_cell(f"{key}: {s['title']}", width - len(right) - 7, "bold"), Text(right),
                               Text(s["rag"], _rag(s["rag"]))]))
        else:
            lines.append(_cell(key, width, "bold"))
        for t in members:
            mark = CRITICAL if t["critical"] else ""
            lines.append(_row([_cell(t["key"] + mark, key_w), _cell(t["title"], title_w),
                               _cell(t["owner"], owner_w), _cell(t["due"], 10),
                               _cell(task_state(t), state_w, right=True), _cell(t["rag"], 5, _rag(t["rag"]))]))
    _print(lines)


def status_wide(doc: dict[str, Any], only: StatusFilter) -> None:
    """Every column: a stages table and a tasks table (wider than 80 columns: for a wide
    terminal or a file)."""
    shown_doc = only.apply(doc)
    meta, summary = doc["roadmap"], doc["summary"]
    console.print(Text.assemble(shown(meta["title"], "bold"), f" ({meta['key']}) as of {meta['as_of']}: "
                  f"{summary['done']}/{summary['tasks']} done, {summary['overdue']} overdue, "
                  f"{summary['amber']} at risk, {summary['critical']} on the critical path, "
                  f"expected to finish {meta['expected'] or '-'}"))
    if only:
        console.print(f"showing {len(shown_doc['tasks'])} of {len(doc['tasks'])} tasks: {only.describe()}",
                      markup=False)
    stages = Table("stage", "title", "start", "end", "expected", "progress", "tasks", "overdue", "RAG",
                   title="Stages")
    for s in shown_doc["stages"]:
        stages.add_row(s["key"], shown(s["title"]), s["start"], s["end"], s["expected"] or "", f"{s['progress']}%",
                       str(s["tasks"]), str(s["overdue"]), Text(s["rag"], _rag(s["rag"])))
    console.print(stages)
    tasks = Table("task", "title", "owner", "due", "expected", "status", "late", "RAG", "critical", "slack",
                  title="Tasks")
    for t in shown_doc["tasks"]:
        tasks.add_row(t["key"], shown(t["title"]), shown(t["owner_name"]), t["due"], t["expected"] or "", t["status"],
                      str(t["days_late"] or ""), Text(t["rag"], _rag(t["rag"])),
                      "yes" if t["critical"] else "", str(t["slack"]))
    console.print(tasks)


# --- roadmap status, portfolio -------------------------------------------------------------------

def portfolio(doc: dict[str, Any]) -> None:
    """One line per active roadmap (models/portfolio.py): key, RAG, done/tasks, overdue, expected
    finish and its slip against the plan, next milestone, worst risk; cut to the console's width."""
    rows = doc["roadmaps"]
    if not rows:
        console.print("no active roadmap: every roadmap in the database is archived", markup=False)
        return
    rags = [r["rag"] or "error" for r in rows]
    days = {r["as_of"] for r in rows}
    when = f"as of {days.pop()}" if len(days) == 1 else "each as of today in its timezone"
    counts = ", ".join(f"{rags.count(c)} {c}" for c in ("red", "amber", "green", "error") if c in rags)
    lines = [Text(f"{len(rows)} roadmaps {when}: {counts}")]
    key_w = min(OWNER_WIDTH, max([len("roadmap"), *(len(r["key"]) for r in rows)]))
    done = [f"{r['done']}/{r['tasks']}" if r["error"] is None else "" for r in rows]
    done_w = max([len("done"), *(len(d) for d in done)])
    late_w = max([len("late"), *(len(str(r["overdue"])) for r in rows if r["error"] is None)])
    slip_w = max([len("slip"), *(len(slip_text(r["slip"])) for r in rows)])
    rest = _width() - key_w - 5 - done_w - late_w - 10 - slip_w - 7  # the fixed columns and the gaps
    milestone_w = rest // 2
    risk_w = rest - milestone_w
    lines.append(_row([_cell("roadmap", key_w, "bold"), _cell("RAG", 5, "bold"), _cell("done", done_w, "bold", True),
                       _cell("late", late_w, "bold", True), _cell("expected", 10, "bold"),
                       _cell("slip", slip_w, "bold", True), _cell("next milestone", milestone_w, "bold"),
                       _cell("worst risk", risk_w, "bold")]))
    for r, d in zip(rows, done, strict=True):
        if r["error"] is not None:  # its status could not be computed: why, across the figures
            lines.append(_row([_cell(r["key"], key_w), _cell("error", 5, "bold red"),
                               _cell(r["error"], _width() - key_w - 7, "red")]))
            continue
        m, risk = r["next_milestone"], r["worst_risk"]
        milestone = f"{m['stage']} {m['end']} {m['title']}" if m else "-"
        worst = f"{risk['score']} {risk['key']} {risk['title']}" if risk else "-"
        lines.append(_row([_cell(r["key"], key_w), _cell(r["rag"], 5, _rag(r["rag"])), _cell(d, done_w, right=True),
                           _cell(str(r["overdue"]), late_w, "red" if r["overdue"] else "", True),
                           _cell(r["expected"] or "-", 10), _cell(slip_text(r["slip"]), slip_w, right=True),
                           _cell(milestone, milestone_w), _cell(worst, risk_w)]))
    _print(lines)


# --- roadmap history ----------------------------------------------------------------------------

def local_time(at: datetime, timezone: str) -> str:
    """A stored timestamp (UTC; SQLite gives it back without a zone) in the roadmap's timezone,
    with the zone's abbreviation: ``2015-03-02 14:05:31 MSK``."""
    return in_zone(at, timezone).strftime("%Y-%m-%d %H:%M:%S %Z")


def who(change: Change) -> str:
    """Who made a change: its source (import, cli, web, schedule) and, when recorded, the
    person or login (``cli: anna@host``, ``web: Anna <anna@example.org>``)."""
    return f"{change.source}: {change.actor}" if change.actor else change.source


def history(timezone: str, rows: Sequence[Change]) -> None:
    """One line per change (a long value or note wraps), grouped by task or risk."""
    for entity in dict.fromkeys((c.entity, c.entity_key) for c in rows):
        table = Table("when", "change", "by", box=None, pad_edge=False, header_style="bold",
                      title=f"{entity[0]} {entity[1]} (times in {timezone})", title_justify="left",
                      title_style="bold")
        table.columns[0].no_wrap = True
        table.columns[1].ratio = 1
        table.columns[1].overflow = "fold"
        table.columns[2].max_width = 28
        table.columns[2].overflow = "fold"
        last_note: tuple[datetime, str] | None = None
        for c in rows:
            if (c.entity, c.entity_key) != entity:
                continue
            # A note is given once per update: shown under the first field it changed.
            note = f"\nnote: {c.note}" if c.note and (c.at, c.note) != last_note else ""
            last_note = (c.at, c.note) if c.note else None
            change = f"{c.field}: {c.old or '-'} -> {c.new or '-'}{note}"
            table.add_row(local_time(c.at, timezone), shown(change), shown(who(c)))
        console.print(table)


# --- roadmap outbox -----------------------------------------------------------------------------

def outbox_compact(rows: Sequence[OutboxMessage]) -> None:
    """One line per message: id, day, status, recipient, subject."""
    width = _width()
    id_w = max([len("id"), *(len(str(r.id)) for r in rows)])
    status_w = max([len("status"), *(len(r.status) for r in rows)])
    rcpt_w = min(RECIPIENT_WIDTH, max([len("recipient"), *(len(r.recipient) for r in rows)]))
    subject_w = width - id_w - 10 - status_w - rcpt_w - 4
    lines = [_row([_cell("id", id_w, "bold", right=True), _cell("as of", 10, "bold"),
                   _cell("status", status_w, "bold"), _cell("recipient", rcpt_w, "bold"),
                   _cell("subject", subject_w, "bold")])]
    for r in rows:
        lines.append(_row([_cell(str(r.id), id_w, right=True), _cell(r.as_of.isoformat(), 10),
                           _cell(r.status, status_w, "red" if r.status == "failed" else ""),
                           _cell(r.recipient, rcpt_w), _cell(r.subject, subject_w)]))
    _print(lines)


def outbox_wide(rows: Sequence[OutboxMessage]) -> None:
    table = Table("id", "kind", "as of", "recipient", "subject", "status", "attempts", "error")
    for r in rows:
        table.add_row(str(r.id), r.kind, r.as_of.isoformat(), shown(r.recipient), shown(r.subject), r.status,
                      str(r.attempts), shown((r.last_error or "")[:80]))
    console.print(table)

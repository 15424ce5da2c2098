"""Date expressions of the roadmap file: `session + 30bd`, `stage.launch.end - 5bd`, `task.t12 + 2w`.

An expression is an anchor (an ISO date, `session`, `stage.KEY.start`, `stage.KEY.end`,
`task.KEY` = that task's due date, `task.KEY.start`) followed by any number of signed
offsets in calendar days (d), weeks of 7 calendar days (w) or business days (bd).
Parsing is pure; evaluation asks a resolver for the anchor's date.

The bounds of every date a roadmap holds are here, in one place (docs/roadmap-format.md,
"Limits"): a duration is at most MAX_DURATION business days, the offsets of one expression
move its anchor by at most MAX_SHIFT_DAYS, and every date (of the file, of a command's
option, of a web form) lies within WINDOW_YEARS of the session. So no arithmetic runs for
minutes nor reaches the year 10000. A task is done at most DONE_BEFORE_SESSION_DAYS before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from models.calendar import BusinessCalendar

_ANCHOR = re.compile(
    r"""\s*(?:
        (?P<iso>\d{4}-\d{2}-\d{2})
      | (?P<session>session)
      | stage\.(?P<stage>[A-Za-z0-9_\-]+)\.(?P<edge>start|end)
      | task\.(?P<task>[A-Za-z0-9_\-]+)(?:\.(?P<task_edge>start|due))?
    )\s*(?=[+\-]|$)""",
    re.VERBOSE,
)
_OFFSET = re.compile(r"\s*(?P<sign>[+\-])\s*(?P<n>\d+)\s*(?P<unit>bd|d|w)\s*")
_CALENDAR_DAYS = {"d": 1, "w": 7}

MAX_DURATION = 2_500  # business days: about ten years
MAX_SHIFT_DAYS = 10_000  # the offsets of one expression together (a business day counts as a day)
WINDOW_YEARS = 20  # every date lies within this many years of the session
# A task marked done more than this many days before the session is taken for a typo
# (`roadmap update --on`, the task page's "done on"): models/updates.py says so.
DONE_BEFORE_SESSION_DAYS = 366
SESSION_FIRST, SESSION_LAST = date(1900, 1, 1), date(2199, 12, 31)  # where a session itself may be


class DateExprError(ValueError):
    pass


@dataclass(frozen=True)
class Anchor:
    kind: str  # "date" | "session" | "stage" | "task"
    key: str | None = None
    edge: str | None = None  # start | end | due
    value: date | None = None

    def __str__(self) -> str:
        if self.kind == "date":
            return self.value.isoformat() if self.value else ""
        if self.kind == "session":
            return "session"
        return f"{self.kind}.{self.key}.{self.edge}"


@dataclass(frozen=True)
class DateExpr:
    anchor: Anchor
    offsets: tuple[tuple[int, str], ...] = ()

    @property
    def refers_to_task(self) -> str | None:
        return self.anchor.key if self.anchor.kind == "task" else None

    @property
    def refers_to_stage(self) -> str | None:
        return self.anchor.key if self.anchor.kind == "stage" else None

    def evaluate(self, resolve: Callable[[Anchor], date], cal: BusinessCalendar) -> date:
        day = self.anchor.value if self.anchor.kind == "date" else resolve(self.anchor)
        assert day is not None
        for n, unit in self.offsets:
            day = cal.add(day, n) if unit == "bd" else day + timedelta(days=n * _CALENDAR_DAYS[unit])
        return day


@lru_cache(maxsize=65536)
def parse_date_expr(value: object) -> DateExpr:
    """An ISO date (as a `date` from YAML or a string) or an expression (cached: the
    result is immutable and big roadmaps repeat the same expressions)."""
    if isinstance(value, date):
        return DateExpr(Anchor("date", value=value))
    if not isinstance(value, str):
        raise DateExprError(f"expected a date or a date expression, got {value!r}")
    text = value.strip()
    m = _ANCHOR.match(text)
    if not m:
        raise DateExprError(
            f"cannot read {value!r} as a date: use YYYY-MM-DD or an expression like "
            "'session + 30bd', 'stage.KEY.end - 5bd', 'task.KEY + 2w'"
        )
    if m["iso"]:
        try:
            anchor = Anchor("date", value=date.fromisoformat(m["iso"]))
        except ValueError as exc:
            raise DateExprError(f"{m['iso']!r} is not a valid date: {exc}") from None
    elif m["session"]:
        anchor = Anchor("session")
    elif m["stage"]:
        anchor = Anchor("stage", key=m["stage"], edge=m["edge"])
    else:
        anchor = Anchor("task", key=m["task"], edge=m["task_edge"] or "due")
    offsets: list[tuple[int, str]] = []
    pos, shift = m.end(), 0
    while pos < len(text):
        om = _OFFSET.match(text, pos)
        if not om or om.end() == pos:
            raise DateExprError(
                f"cannot read {text[pos:]!r} in {value!r}: offsets look like '+ 5bd', '- 3d', '+ 2w'"
            )
        pos = om.end()
        digits = om["n"].lstrip("0")
        shift += (int(digits) if len(digits) <= 6 else MAX_SHIFT_DAYS + 1) * _CALENDAR_DAYS.get(om["unit"], 1)
        if shift > MAX_SHIFT_DAYS:  # also keeps int() away from numbers of thousands of digits
            raise DateExprError(f"the offsets move the date by more than {MAX_SHIFT_DAYS:,} days in all")
        offsets.append((int(om["sign"] + om["n"]), om["unit"]))
    return DateExpr(anchor, tuple(offsets))


def window(session: date) -> tuple[date, date]:
    """The first and last day a roadmap with this session date may name."""
    day = session.replace(day=28) if (session.month, session.day) == (2, 29) else session
    return day.replace(year=day.year - WINDOW_YEARS), day.replace(year=day.year + WINDOW_YEARS)


def outside_window(day: date, session: date, source: str = "") -> str | None:
    """Why ``day`` is not a date of the roadmap with this session, or None when it is;
    ``source`` says where the day came from when the user did not write it."""
    first, last = window(session)
    if first <= day <= last:
        return None
    return (f"{day}{source} is more than {WINDOW_YEARS} years from the session ({session}): "
            f"use a date from {first} to {last}")


def parse_duration(value: object) -> int:
    """Business days: `5` or `"5bd"`; at least 1."""
    if isinstance(value, bool):
        raise DateExprError(f"duration must be a number of business days, got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(bd)?\s*", value):
        digits = value.strip().removesuffix("bd").strip().lstrip("0") or "0"
        n = int(digits) if len(digits) <= 6 else MAX_DURATION + 1
    else:
        raise DateExprError(f"duration must be business days like 5 or '5bd', got {value!r}")
    if n < 1:
        raise DateExprError(f"duration must be at least 1 business day, got {value!r}")
    if n > MAX_DURATION:
        raise DateExprError(f"duration must be at most {MAX_DURATION:,} business days, got {value!r}")
    return n

"""Date expressions of the roadmap file: `session + 30bd`, `stage.launch.end - 5bd`, `task.t12 + 2w`.

An expression is an anchor (an ISO date, `session`, `stage.KEY.start`, `stage.KEY.end`,
`task.KEY` = that task's due date, `task.KEY.start`) followed by any number of signed
offsets in calendar days (d), weeks of 7 calendar days (w) or business days (bd).
Parsing is pure; evaluation asks a resolver for the anchor's date.
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
    pos = m.end()
    while pos < len(text):
        om = _OFFSET.match(text, pos)
        if not om or om.end() == pos:
            raise DateExprError(
                f"cannot read {text[pos:]!r} in {value!r}: offsets look like '+ 5bd', '- 3d', '+ 2w'"
            )
        offsets.append((int(om["sign"] + om["n"]), om["unit"]))
        pos = om.end()
    return DateExpr(anchor, tuple(offsets))


def parse_duration(value: object) -> int:
    """Business days: `5` or `"5bd"`; at least 1."""
    if isinstance(value, bool):
        raise DateExprError(f"duration must be a number of business days, got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(bd)?\s*", value):
        n = int(value.strip().removesuffix("bd"))
    else:
        raise DateExprError(f"duration must be business days like 5 or '5bd', got {value!r}")
    if n < 1:
        raise DateExprError(f"duration must be at least 1 business day, got {value!r}")
    return n

"""Which rows the Gantt chart shows: stages, each followed by its most telling tasks.

The one rule, used twice: by the report builder (so a snapshot of a 10,000-task roadmap
keeps a bounded list) and by the chart (which may show fewer per stage to fit a page):

- every stage is a group, in the order given; a task belongs to the stage named by its
  ``stage`` key, or (older snapshots, no key) to the stage bar before it;
- within a stage, tasks expected late come first, then critical-path ones, then the rest,
  each by planned start (then input order);
- at most ``per_stage`` tasks are kept; the stage's ``more`` plus the tasks dropped here
  is the "… and N more" of that stage.

Plain data in and out, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from models.report_data import GanttBar

PER_STAGE = 8  # tasks per stage the builder keeps (the chart may show fewer)


@dataclass(slots=True)
class StageGroup:
    stage: GanttBar | None  # None: tasks listed before any stage
    tasks: list[GanttBar] = field(default_factory=list)
    more: int = 0  # tasks of the stage not in ``tasks``


def task_rank(bar: GanttBar) -> int:
    """0 expected late, 1 critical, 2 the rest: the order within a stage."""
    return 0 if bar.late else 1 if bar.critical else 2


def stage_groups(bars: Sequence[GanttBar], per_stage: int = PER_STAGE) -> list[StageGroup]:
    """The bars grouped by stage, each group cut to ``per_stage`` tasks (see the module)."""
    groups: list[StageGroup] = []
    by_key: dict[str, StageGroup] = {}
    current: StageGroup | None = None
    for bar in bars:
        if bar.kind == "stage":
            current = StageGroup(bar, more=bar.more)
            groups.append(current)
            if bar.stage:
                by_key.setdefault(bar.stage, current)
            continue
        group = by_key.get(bar.stage) if bar.stage else None
        if group is None:
            if current is None:
                current = StageGroup(None)
                groups.append(current)
            group = current
        group.tasks.append(bar)
    for group in groups:
        ranked = sorted(enumerate(group.tasks), key=lambda it: (task_rank(it[1]), it[1].start, it[0]))
        group.more += max(len(ranked) - per_stage, 0)
        group.tasks = [bar for _, bar in ranked[:per_stage]]
    return groups


def flatten(groups: Sequence[StageGroup]) -> list[GanttBar]:
    """The groups back as one list of bars, each stage carrying its ``more``."""
    out: list[GanttBar] = []
    for group in groups:
        if group.stage is not None:
            group.stage.more = group.more
            out.append(group.stage)
        out += group.tasks
    return out

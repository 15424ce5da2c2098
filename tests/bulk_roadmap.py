"""A roadmap file with many owners, one task each, all due on one day: bulk mail for tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

DAY = date(2025, 3, 12)  # a Wednesday; every owner has one task due on it
DAY_BEFORE = date(2025, 3, 11)  # due in 1 business day: the same owners get a reminder


def write_roadmap(path: Path, owners: int) -> Path:
    """One stage, `owners` people each owning one task due on DAY."""
    lines = [
        "roadmap:",
        "  key: bulk",
        "  title: Bulk reminders",
        "  session: {date: 2025-03-03, place: Moscow}",
        "  timezone: Europe/Moscow",
        "  calendar: RU",
        "  language: en",
        "  office: {name: Project office, email: pmo@example.org}",
        "people:",
        "  - {key: boss, name: Boss, email: boss@example.org}",
    ]
    lines += [
        f"  - {{key: p{i:03d}, name: Person {i}, email: p{i:03d}@example.org, manager: boss}}"
        for i in range(owners)
    ]
    lines += [
        "stages:",
        "  - {key: s1, title: Stage one, start: session + 1bd, end: 2025-04-30}",
        "tasks:",
    ]
    lines += [
        f"  - {{key: t{i:03d}, title: Task {i}, stage: s1, owner: p{i:03d}, due: {DAY}}}"
        for i in range(owners)
    ]
    lines += [
        "policy:",
        "  remind_before: [5, 1]",
        "  remind_on_due: true",
        "  overdue_every: 2",
        "  escalate_after: [3, 10]",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

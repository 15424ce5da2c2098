"""Who acts for whom: delegation while a person is away, and who may update a task.

A person is away while ``people.away_until`` is on or after the day and they named a
``people.delegate``; their reminders then go to the delegate (``acting_for``), who may also
update their tasks (``may_update``) and act on their risks (``may_act_on_risk``) through a
link. The signed link itself is checked in ``models/tokens.py``; these rules are checked on
every request, so a link stops working the day its person loses the right to the task.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from models.tokens import OFFICE


def acting_for(people: dict[str, Any], key: str, as_of: date) -> str:
    """Who reads ``key``'s reminders on ``as_of``: the person, or while they are away their
    delegate (and the delegate's delegate, if they are away too; a loop stops at the last
    person not seen before)."""
    seen = {key}
    while (person := people.get(key)) is not None and is_away(person, as_of):
        nxt = person.delegate
        if nxt in seen or nxt not in people or people[nxt].archived:
            break
        seen.add(nxt)
        key = nxt
    return key


def is_away(person: Any, as_of: date) -> bool:
    return bool(person.away_until is not None and as_of <= person.away_until and person.delegate)


def may_act_on_risk(risk: Any, person_key: str, people: dict[str, Any], as_of: date) -> bool:
    """Whether the named person may act on ``risk`` through its link today: its owner (a live
    person), whoever reads the owner's mail while the owner is away (as for a task), and the
    project office."""
    if person_key == OFFICE:
        return True
    owner, person = people.get(risk.owner), people.get(person_key)
    if owner is None or owner.archived or person is None or person.archived:
        return False
    return person_key in (risk.owner, acting_for(people, risk.owner, as_of))


def may_update(task: Any, person_key: str, people: dict[str, Any], partners: dict[str, Any], as_of: date) -> bool:
    """Whether the named person may update ``task`` through a link today: its owner, whoever
    reads the owner's reminders while the owner is away, the owner's manager and the
    contacts of the task's partners (they get the escalations), and the project office."""
    if person_key == OFFICE:
        return True
    person = people.get(person_key)
    if person is None or person.archived:
        return False
    owner = people.get(task.owner)
    return (person_key in (task.owner, acting_for(people, task.owner, as_of))
            or (owner is not None and owner.manager == person_key)
            or any(partners[p].contact == person_key for p in task.partners or () if p in partners))

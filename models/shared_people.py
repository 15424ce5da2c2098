"""People across roadmaps: one reminder digest and one escalation digest a day for a person
(an address) that several roadmaps write to, grouped by roadmap. Plain decisions, no I/O.

Each roadmap plans its digests as on its own (models/notify.py), on its own day, calendar and
policy. Then, per address and day, the digests of two or more roadmaps become one
``SharedDigest``: a share per roadmap, in the order the roadmaps are given (by key), each share
exactly the digest its roadmap would have sent alone. An address that hears from one roadmap
only (or from several on different days: roadmaps in different timezones) keeps that roadmap's
own digest, unchanged.

Keys: a shared digest is a message of the whole office (no roadmap prefix):
``<kind>:<address>:<day>`` (kind: reminder, notice, calendar or escalation), with ":2", ":3"...
appended for the next ones the same day: a day's shares beyond ``MAX_LINES`` lines in one message,
or roadmaps whose shares were not yet sent. Each share keeps
its roadmap's own dedup key (tasks/outbox_record.py ``Part``), so that roadmap's run alone finds
it recorded and sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar

from models.notify import Digest, EscalationDigest, Recipient

D = TypeVar("D", Digest, EscalationDigest)


@dataclass(frozen=True)
class Share(Generic[D]):
    """One roadmap's digest for the address, as that roadmap planned it."""

    roadmap_key: str
    digest: D


@dataclass
class SharedDigest(Generic[D]):
    """One message to one address for one day, holding several roadmaps' digests."""

    shares: list[Share[D]]
    part: int = 1  # 2, 3...: a later shared digest of the day (other roadmaps' shares)
    roadmaps: int = field(init=False)

    def __post_init__(self) -> None:
        self.roadmaps = len(self.shares)

    @property
    def recipient(self) -> Recipient:
        """The first roadmap's: its name and language for the greeting; the address is the same."""
        return self.shares[0].digest.recipient

    @property
    def as_of(self) -> date:
        return self.shares[0].digest.as_of

    @property
    def kind(self) -> str:
        return shared_kind([s.digest.kind for s in self.shares])

    @property
    def base_key(self) -> str:
        return f"{self.kind}:{self.recipient.email.lower()}:{self.as_of.isoformat()}"

    @property
    def dedup_key(self) -> str:
        return self.base_key + (f":{self.part}" if self.part > 1 else "")


MAX_LINES = 200  # task lines and withdrawn entries (reminders) or items (escalations) in one message


def _size(share: Share[D]) -> int:
    digest = share.digest  # a calendar entry withdrawn is a line too (and an .ics entry)
    return len(digest.lines) + len(digest.withdrawn) if isinstance(digest, Digest) else len(digest.items)


def _capped(shares: list[Share[D]]) -> Iterator[list[Share[D]]]:
    """The shares of one address and day, in order, as messages of at most ``MAX_LINES`` lines
    (a share longer than that goes alone): a person in a hundred roadmaps gets a few messages
    a relay takes (a hundred kick-offs with their calendars were 10 MB in one), not one."""
    chunk: list[Share[D]] = []
    lines = 0
    for share in shares:
        size = _size(share)
        if chunk and lines + size > MAX_LINES:
            yield chunk
            chunk, lines = [], 0
        chunk.append(share)
        lines += size
    if chunk:
        yield chunk


def shared_kind(kinds: Iterable[str]) -> str:
    """The kind of a message holding digests of these kinds: the most telling one."""
    found = set(kinds)
    for kind in ("escalation", "reminder", "notice"):
        if kind in found:
            return kind
    return "calendar"


def task_total(shared: SharedDigest[Digest]) -> int:
    """The tasks of a shared reminder digest (each roadmap's counted once per task, as alone)."""
    return sum(len({line.key for line in s.digest.lines}) for s in shared.shares)


def escalation_totals(shared: SharedDigest[EscalationDigest]) -> tuple[int, int, int]:
    """(overdue tasks, unanswered check-ins, risks) of a shared escalation digest, each roadmap's
    counted as its own digest counts them."""
    tasks = checkins = risks = 0
    for s in shared.shares:
        items = s.digest.items
        tasks += len({e.key for e in items if e.subject_kind == "task" and e.trigger != "checkin"})
        checkins += len({e.key for e in items if e.trigger == "checkin"})
        risks += len({e.key for e in items if e.subject_kind == "risk"})
    return tasks, checkins, risks


def share_out(by_roadmap: Sequence[tuple[str, Sequence[D]]], taken: set[str] | frozenset[str] = frozenset(),
              ) -> tuple[list[SharedDigest[D]], dict[str, list[D]]]:
    """Split the roadmaps' digests (``by_roadmap``: (roadmap key, its digests to send), in order)
    into the shared digests, one per address and day that two or more roadmaps write to, and
    what is left to each roadmap (its digests to other addresses). ``taken``: the dedup keys of
    the shared digests already recorded (a later one of the day gets the next free part)."""
    groups: dict[tuple[str, date], list[Share[D]]] = {}
    for roadmap_key, digests in by_roadmap:
        for d in digests:
            groups.setdefault((d.recipient.email.lower(), d.as_of), []).append(Share(roadmap_key, d))
    shared: list[SharedDigest[D]] = []
    merged: set[tuple[str, int]] = set()  # (roadmap key, id of the digest)
    used = set(taken)
    for shares in groups.values():
        for chunk in _capped(shares):
            if len({s.roadmap_key for s in chunk}) < 2:
                continue
            one = SharedDigest(chunk)
            while one.dedup_key in used:
                one.part += 1
            used.add(one.dedup_key)
            shared.append(one)
            merged |= {(s.roadmap_key, id(s.digest)) for s in chunk}
    left = {key: [d for d in digests if (key, id(d)) not in merged] for key, digests in by_roadmap}
    return sorted(shared, key=lambda s: (s.recipient.email.lower(), s.as_of)), left

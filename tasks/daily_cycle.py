"""The daily cycle as plain calls (`roadmap run` without Prefect): the steps of flows/daily_cycle.py.

For one roadmap (``roadmap_cycle``): reminders, then escalations, then the weekly report on the
roadmap's report day (or the first run after a missed one). On a day that is not a business
day of the roadmap's calendar, or for an archived roadmap, nothing is planned or sent
(``RoadmapDay.day_off_note`` says so); the next business day catches up. A step whose messages
failed does not stop the next ones; the cycle fails at the end (DeliveryFailed) if any message
failed.

For every active roadmap (``every_roadmap``, when no roadmap is named): first, with two or more
active roadmaps, the digests across roadmaps (``shared_cycle``, tasks/shared_digests.py): a
person several roadmaps write to on the same day gets one reminder digest and one escalation
digest holding each roadmap's. The shared step is yielded as a cycle of its own, labelled
``(shared)``; when it fails, the roadmaps' cycles still run and send each roadmap's digests
apart. Then each roadmap's cycle in turn, which finds those shares already recorded and sends
the rest, each on its own day (today in its timezone, unless a day is given) and calendar, each
step in its own transactions. A roadmap whose cycle fails, whatever the reason, does not stop
the others: the failure is kept, and the run ends with ``CyclesFailed`` naming every roadmap
that failed and why. Last, on the office's report day (or the first run after a missed one),
the portfolio report is written and mailed (``portfolio_step``), its failure named like a
roadmap's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from models.errors import error_line
from tasks.mail_summary import DeliveryFailed, MailSummary, raise_if_failed, waiting
from tasks.notify_jobs import escalate, remind
from tasks.portfolio_jobs import LABEL as PORTFOLIO  # the portfolio step's name among the roadmaps'
from tasks.portfolio_jobs import send_due_portfolio
from tasks.report_jobs import report_due, weekly_report
from tasks.roadmap_jobs import RoadmapDay, active_keys, roadmap_day
from tasks.shared_digests import KINDS, SHARED, send_shared

log = logging.getLogger("roadmap")


def daily_cycle(db_url: str, roadmap_key: str | None, as_of: date | None) -> list[MailSummary]:
    """The cycle of one roadmap (the only one, when ``roadmap_key`` is None)."""
    return roadmap_cycle(db_url, roadmap_day(db_url, roadmap_key, as_of))


def roadmap_cycle(db_url: str, day: RoadmapDay) -> list[MailSummary]:
    """The cycle's summaries, or DeliveryFailed when a message failed."""
    return raise_if_failed(cycle_summaries(db_url, day))


def cycle_summaries(db_url: str, day: RoadmapDay) -> list[MailSummary]:
    """Reminders, escalations and the report when due: what each step did, failures included
    (under Prefect, flows/daily_cycle.py retries the delivery when some may yet succeed)."""
    if day.day_off_note is not None:
        return []
    summaries = [remind(db_url, day.roadmap_key, day.as_of), escalate(db_url, day.roadmap_key, day.as_of)]
    report_as_of = report_due(db_url, day.roadmap_key, day.as_of)
    if report_as_of is not None:
        _, summary = weekly_report(db_url, day.roadmap_key, report_as_of, send=True)
        if summary is not None:
            summaries.append(summary)
    return summaries


@dataclass
class Cycle:
    """What one roadmap's cycle did in an every-roadmap run."""

    roadmap_key: str
    summaries: list[MailSummary] = field(default_factory=list)
    note: str | None = None  # why it sent nothing (a day off)
    error: Exception | None = None  # why it failed: DeliveryFailed, or anything it raised

    @property
    def roadmaps(self) -> int:
        """1 for a roadmap's cycle (or a batch of them), 0 for the office's steps, the digests across
        roadmaps and the portfolio report (counted apart in "N of M")."""
        return 0 if self.roadmap_key in (SHARED, PORTFOLIO) else 1

    @property
    def why(self) -> str:
        """The failure in one line (the first line of the error)."""
        if self.error is None:
            return ""
        if isinstance(self.error, DeliveryFailed):
            return str(self.error).splitlines()[0] if str(self.error) else ""
        return error_line(self.error)


class CyclesFailed(Exception):
    """The end of an every-roadmap run in which some roadmaps failed: the CLI exits 1 and a
    Prefect flow run ends Failed, naming each of them and why."""

    def __init__(self, cycles: list[Cycle], unit: str = "roadmap(s)"):
        self.cycles = cycles  # every roadmap's (or batch's: unit), the failed ones with their error
        self.failed = [c for c in cycles if c.error is not None]
        super().__init__(f"{len(self.failed)} of {sum(c.roadmaps for c in cycles)} {unit} failed: "
                         + "; ".join(f"{c.roadmap_key}: {c.why}" for c in self.failed))

    @property
    def summaries(self) -> list[MailSummary]:
        return [s for c in self.cycles for s in c.summaries]


def failed_cycle(roadmap_key: str, exc: Exception) -> Cycle:
    """A roadmap's cycle that raised: its error kept, and what it sent (when it got as far as counting)."""
    if not isinstance(exc, DeliveryFailed):
        log.error("%s: the daily cycle failed", roadmap_key, exc_info=exc)
    return Cycle(roadmap_key, summaries=list(exc.summaries) if isinstance(exc, DeliveryFailed) else [], error=exc)


def shared_cycle(db_url: str, keys: list[str], as_of: date | None) -> Cycle | None:
    """The digests across roadmaps of the day, reminders then escalations (None with fewer than
    two roadmaps); a failure is kept in the Cycle, as a roadmap's is."""
    if len(keys) < 2:
        return None
    summaries: list[MailSummary] = []
    error: Exception | None = None
    for kind in KINDS:  # a failure of one kind does not stop the other
        try:
            summaries.append(send_shared(db_url, keys, as_of, kind))
        except Exception as exc:  # noqa: BLE001 - the roadmaps' own cycles still send their digests
            log.error("%s %s: the digests across roadmaps failed", SHARED, kind, exc_info=exc)
            error = error or exc
    if error is None and any(s.failed for s in summaries):
        error = DeliveryFailed([s for s in summaries if s.failed], waiting(summaries))
    return Cycle(SHARED, summaries, error=error)


def every_roadmap(db_url: str, as_of: date | None) -> Iterator[Cycle]:
    """Each active roadmap's cycle, one after the other, yielded as it ends (so the CLI prints
    as it goes), after the digests across roadmaps (``shared_cycle``); a failure is yielded like
    the rest. Then, when it is due, the portfolio report (``portfolio_step``). ``end_of_cycles``
    then ends the run."""
    keys = active_keys(db_url, as_of)
    if (shared := shared_cycle(db_url, keys, as_of)) is not None:
        yield shared
    for key in keys:
        try:
            day = roadmap_day(db_url, key, as_of)
            yield Cycle(key, roadmap_cycle(db_url, day), note=day.day_off_note)
        except Exception as exc:  # noqa: BLE001 - any failure of one roadmap must not stop the others
            yield failed_cycle(key, exc)
    if keys:
        if (cycle := portfolio_step(db_url, as_of)) is not None:
            yield cycle


def portfolio_step(db_url: str, as_of: date | None) -> Cycle | None:
    """The portfolio report and its mail (tasks/portfolio_jobs.py) when due, as a cycle of its
    own named PORTFOLIO; None when not due (no ROADMAP_PORTFOLIO_REPORT_TO, or already sent)."""
    try:
        summary = send_due_portfolio(db_url, as_of)
        return None if summary is None else Cycle(PORTFOLIO, raise_if_failed([summary]))
    except Exception as exc:  # noqa: BLE001 - as a roadmap's: named at the end of the run
        return failed_cycle(PORTFOLIO, exc)


def end_of_cycles(cycles: list[Cycle], unit: str = "roadmap(s)") -> list[MailSummary]:
    """Every roadmap's summaries, or CyclesFailed when any roadmap (or batch of them) failed."""
    if any(c.error is not None for c in cycles):
        raise CyclesFailed(cycles, unit)
    return [s for c in cycles for s in c.summaries]

"""daily_cycle: for every active roadmap, reminders, then escalations, then the weekly report
on the roadmap's report day.

The one job a single machine needs: run it once a day (the `daily-cycle` deployment every day
at 09:00, sending on each roadmap's business days only; by hand, `roadmap run` runs the same
steps as plain calls, tasks/daily_cycle.py). Without a roadmap key it runs the cycle of every
roadmap that is not archived, each on its own day (today in its timezone) and calendar; with
one, that roadmap's alone. Deployed (`cycle_deployment` set), the children are runs of the
roadmap-cycles deployment, one per batch of up to `batch_size` roadmaps, that the pool's
workers share (flows/fan_out.py); otherwise each roadmap is a child flow run of its own
(`roadmap-cycle`), in turn in this process. A roadmap
whose cycle fails does not stop the others: the run goes on and fails at the end, naming each
roadmap that failed and why (tasks.daily_cycle.CyclesFailed).

People across roadmaps: before it starts the roadmaps' runs, this flow sends the digests across
roadmaps itself (the `shared-digests` task, tasks/daily_cycle.shared_cycle): the children run
each in its own process and cannot merge. A person several roadmaps write to that day gets one
reminder digest and one escalation digest, and each child then finds its share of them already
recorded and sends only the rest.

One roadmap's cycle is one task (`roadmap-cycle-steps`, flows/prefect_tasks.cycle), which holds
the roadmap's one-slot concurrency limit while it plans and sends, so two runs of one roadmap
never overlap (flows/fan_out.py); when some of its mail failed for now, the delivery task
follows with Prefect's spaced retries (``roadmap_steps``). After days when
nothing ran it catches up without a flood: reminders are computed for today only, escalations
that became due in the gap go out once (each has its dedup key), and a missed weekly report is
produced. On a day that is not a business day
of the roadmap's calendar (a public holiday, a weekend that is not a working Saturday), or for
an archived roadmap, it sends nothing and says so in its log; the next business day catches up
the same way. A step whose messages failed does not stop the next ones; the cycle fails at the
end if any message failed, and warns in its log while failed messages of any day are waiting
(tasks/outbox_failed.py).
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from flows.fan_out import BATCH_SIZE, batch_label, batches, start_cycles, wait_for_cycles
from flows.prefect_tasks import active_keys, cycle, database_url, deliver_with_retries, portfolio_report
from tasks.daily_cycle import PORTFOLIO, Cycle, end_of_cycles, failed_cycle, shared_cycle
from tasks.mail_summary import MailSummary, end_of_run, recount


@flow(name="roadmap-cycle", flow_run_name="{roadmap_key}", log_prints=False, persist_result=False)
def roadmap_cycle(
    roadmap_key: str | None = None, as_of: dt.date | None = None, db_url: str | None = None
) -> list[MailSummary]:
    return end_of_run(roadmap_steps(database_url(db_url), roadmap_key, as_of).summaries, get_run_logger())


def batch_name() -> str:
    return batch_label(flow_run.parameters["roadmap_keys"])


@flow(name="roadmap-cycles", flow_run_name=batch_name, log_prints=False, persist_result=False)
def roadmap_cycles(
    roadmap_keys: list[str], as_of: dt.date | None = None, db_url: str | None = None
) -> list[MailSummary]:
    """A batch of roadmaps (flows/fan_out.py): each one's cycle in turn in this run, its task
    and its slot as in roadmap-cycle, without a flow run (and a process) of its own."""
    url = database_url(db_url)
    cycles = []
    for key in roadmap_keys:
        try:
            done = roadmap_steps(url, key, as_of)
            cycles.append(Cycle(key, end_of_run(done.summaries, get_run_logger()), note=done.note))
        except Exception as exc:  # noqa: BLE001 - whatever failed one roadmap's cycle
            cycles.append(failed_cycle(key, exc))
    return end_of_cycles(cycles)


def roadmap_steps(url: str, roadmap_key: str | None, as_of: dt.date | None) -> Cycle:
    """A roadmap's cycle (its one task), then, when some of its mail failed for now, the delivery
    task with Prefect's retries after 10, 60 and 300 s, and the cycle's messages counted again."""
    done = cycle(url, roadmap_key, as_of)
    if not any(s.worth_retrying for s in done.summaries):
        return done
    return Cycle(done.roadmap_key, recount(url, done.summaries, deliver_with_retries(url)), note=done.note)


@task(name="shared-digests", cache_policy=NONE, persist_result=False)
def shared_digests(url: str, keys: list[str], as_of: dt.date | None) -> list[Cycle]:
    """The digests across roadmaps (none with fewer than two roadmaps), its failure kept."""
    shared = shared_cycle(url, keys, as_of)
    return [shared] if shared is not None else []


@flow(name="daily-cycle", log_prints=False, persist_result=False)
def daily_cycle(
    as_of: dt.date | None = None, roadmap_key: str | None = None, db_url: str | None = None,
    cycle_deployment: str | None = None, batch_size: int = BATCH_SIZE,
) -> list[MailSummary]:
    if roadmap_key is not None:
        return roadmap_cycle(roadmap_key, as_of, db_url)
    if batch_size < 1:  # before anything is sent
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    url = database_url(db_url)
    keys = active_keys(url, as_of)
    cycles = shared_digests(url, keys, as_of)  # before the children, which then skip those shares
    if cycle_deployment:
        # Deployed: one run of the roadmap-cycles deployment per batch of roadmaps, for any
        # worker to take.
        unit = "batch run(s)"
        cycles += wait_for_cycles(start_cycles(cycle_deployment, batches(keys, batch_size), as_of, db_url))
    else:
        unit = "roadmap(s)"
        for key in keys:
            # In this process (`roadmap run --prefect`): one child flow run per roadmap, in turn;
            # its failure is kept, and the next one runs.
            state = roadmap_cycle(key, as_of, db_url, return_state=True)
            try:
                cycles.append(Cycle(key, state.result()))
            except Exception as exc:  # noqa: BLE001 - whatever failed one roadmap's run
                cycles.append(failed_cycle(key, exc))
    if keys:  # then the office's own report, on its day (tasks/portfolio_jobs.py portfolio_due)
        try:
            if (summary := portfolio_report(url, as_of)) is not None:
                cycles.append(Cycle(PORTFOLIO, end_of_run([summary], get_run_logger())))
        except Exception as exc:  # noqa: BLE001 - named at the end, as a roadmap's failure
            cycles.append(failed_cycle(PORTFOLIO, exc))
    return end_of_cycles(cycles, unit)

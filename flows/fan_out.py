"""Spreading the daily cycle over workers: one `roadmap-cycles` deployment run per batch of
roadmaps, and at most one run of a roadmap's cycle at a time.

- `batches` cuts the roadmaps into batches of at most ``batch_size`` (the daily cycle's
  parameter, default BATCH_SIZE), of nearly equal sizes. Every deployment run is a new Python
  process on a worker (Prefect and the app imported, 4-12 s on this machine), so a run per
  roadmap cost more than the roadmap's cycle itself; a batch pays it once for all its roadmaps.
- `start_cycles` creates one flow run of the `roadmap-cycles` deployment per batch
  (`run_deployment`, linked to the calling daily-cycle run as its children, named after its
  first and last roadmaps), all at once, without waiting: any worker polling the work pool
  takes the next one, so several workers on several machines share the batches.
  `wait_for_cycles` then polls their states (one API call per poll for all of them) until each
  has ended, or the deadline.
- `one_run_per_roadmap` holds the roadmap's global concurrency limit, `roadmap-<key>` with one
  slot (created on first use), for the whole of a roadmap's cycle (its task,
  flows/prefect_tasks.cycle), in a batch or alone; it waits up to SLOT_WAIT_SECONDS for it, then
  fails with SlotBusy, which the task does not retry. Two runs
  of the same roadmap (a schedule fired twice, PrefectHQ/prefect#17508, #18894; a manual run
  during the scheduled one) then run one after the other, and the second finds everything
  already recorded and sent (the outbox's dedup keys). The slot is a lease the running cycle
  renews: a worker that dies frees it when the lease runs out (5 minutes). The delivery retries
  that may follow a cycle run outside it: outbox claims keep them from sending anything twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from uuid import UUID

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.concurrency.sync import concurrency
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectAlreadyExists

from tasks.daily_cycle import Cycle

SLOT_WAIT_SECONDS = 3600.0  # a roadmap's cycle waits this long for its other run to end, then fails
CYCLES_DEADLINE_SECONDS = 6 * 3600.0  # the daily cycle waits this long for every roadmap's run
POLL_SECONDS = 2.0  # how often the daily cycle looks at its children's states
PAGE = 200  # flow runs read per API call
BATCH_SIZE = 20  # roadmaps per roadmap-cycles run (docs/deployment.md: what a run costs)


class SlotBusy(Exception):
    """A roadmap's cycle could not get the roadmap's slot in time: another run of it held it."""


class CycleRunFailed(Exception):
    """A roadmap's `roadmap-cycle` run ended Failed, Crashed or Cancelled, or had not ended by
    the deadline; the message is its final state's (the error it raised), the run's UI has the rest."""


def limit_name(roadmap_key: str) -> str:
    return f"roadmap-{roadmap_key}"


@contextmanager
def one_run_per_roadmap(roadmap_key: str) -> Iterator[None]:
    """Hold the roadmap's one-slot concurrency limit (creating it on first use) while the body runs."""
    name = limit_name(roadmap_key)
    with get_client(sync_client=True) as client:
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
        except ObjectAlreadyExists:
            pass  # created by an earlier run (an operator may have changed it: left as it is)
    with ExitStack() as held:
        try:  # strict: never run unguarded because the limit was deleted in between.
            held.enter_context(concurrency(name, occupy=1, timeout_seconds=SLOT_WAIT_SECONDS, strict=True))
        except TimeoutError as exc:  # not a TimeoutError to retry: the run's task would wait an hour again
            raise SlotBusy(f"{roadmap_key}: another run of its cycle held it for {SLOT_WAIT_SECONDS:.0f} s") from exc
        yield


def batches(keys: list[str], batch_size: int) -> list[list[str]]:
    """``keys`` in order, cut into the fewest batches of at most ``batch_size``, of nearly equal sizes."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    count = -(-len(keys) // batch_size)
    size, extra = divmod(len(keys), count) if count else (0, 0)
    out, start = [], 0
    for n in range(count):
        end = start + size + (n < extra)
        out.append(keys[start:end])
        start = end
    return out


def batch_label(keys: list[str]) -> str:
    """How a batch is named: its run, and its line when it failed."""
    return keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]} ({len(keys)})"


@dataclass(frozen=True)
class CycleRun:
    roadmap_key: str  # the batch's label (batch_label)
    flow_run_id: UUID


def start_cycles(deployment: str, batches: list[list[str]], as_of: dt.date | None,
                 db_url: str | None) -> list[CycleRun]:
    """One run of `deployment` per batch of roadmaps, scheduled now, not waited for (timeout=0)."""
    runs = []
    for keys in batches:
        parameters = {"roadmap_keys": keys, "as_of": as_of, "db_url": db_url}
        run = run_deployment(deployment, parameters={k: v for k, v in parameters.items() if v is not None},
                             flow_run_name=batch_label(keys), timeout=0)
        assert isinstance(run, FlowRun)  # called from a sync flow: not the async variant
        runs.append(CycleRun(batch_label(keys), run.id))
    get_run_logger().info("started %d run(s) of %s for %d roadmap(s)", len(runs), deployment,
                          sum(map(len, batches)))
    return runs


def wait_for_cycles(runs: list[CycleRun], deadline_seconds: float = CYCLES_DEADLINE_SECONDS) -> list[Cycle]:
    """Each roadmap's outcome once every run has ended (or the deadline passed), in the order started.

    What a child sent is in its own run's log and in the outbox: its result is not stored
    (persist_result=False, no shared result storage is needed between machines), so a
    successful roadmap's Cycle carries no summaries here."""
    deadline = time.monotonic() + deadline_seconds
    final: dict[UUID, FlowRun] = {}
    with get_client(sync_client=True) as client:
        while True:
            waiting = [r.flow_run_id for r in runs if r.flow_run_id not in final]
            for start in range(0, len(waiting), PAGE):
                page = FlowRunFilter(id=FlowRunFilterId(any_=waiting[start:start + PAGE]))
                for flow_run in client.read_flow_runs(flow_run_filter=page, limit=PAGE):
                    if flow_run.state is not None and flow_run.state.is_final():
                        final[flow_run.id] = flow_run
            if len(final) == len(runs) or time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
    return [outcome(r, final.get(r.flow_run_id)) for r in runs]


def outcome(run: CycleRun, flow_run: FlowRun | None) -> Cycle:
    if flow_run is None:
        return Cycle(run.roadmap_key, error=CycleRunFailed(f"run {run.flow_run_id} had not ended by the deadline"))
    state = flow_run.state
    assert state is not None  # a final state, read above
    if state.is_completed():
        return Cycle(run.roadmap_key)
    return Cycle(run.roadmap_key, error=CycleRunFailed(
        f"{state.name}: {(state.message or '').removeprefix('Flow run encountered an exception: ')}"))

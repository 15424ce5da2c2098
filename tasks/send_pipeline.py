"""Record and send at once: a day's messages go out while the rest are still being rendered.

Rendering 500 digests takes about as long as an SMTP server takes to accept them, so doing
one after the other nearly doubled a run. Here this process renders and records the plan
chunk by chunk while a delivery worker follows the outbox and sends what is recorded.

The worker is the ordinary outbox delivery (``outbox.deliver`` with ``follow``): it claims
what is pending, sends each message and marks it sent before the next. So the outbox's
guarantees are unchanged: a message is recorded, with its Message-ID and bytes, before it
can be sent; concurrent runs never send one message twice; a crash leaves at most the
message in flight unmarked.

Where the worker runs:
- in a forked child process when this process has no other thread (the command line): it
  then sends on another core. The child dies with its parent (Linux), so killing the
  command stops the sending too;
- nowhere otherwise (a Prefect flow run, whose own threads make forking unsafe): the caller
  delivers after the recording, as its own task. A worker thread was tried and gained
  nothing: the renderer and the sender took turns at the GIL, each SMTP reply waiting for it.

With a user's template folder (``Plan.stream`` False) everything is rendered before the
first message is recorded, so a mistake in a template met half-way sends nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import select
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Literal

from config import Settings, get_settings
from models.db import get_engine, session_scope
from models.schema import utcnow
from tasks.notify_jobs import Plan, deliver_pending
from tasks.outbox import DeliveryStats, record, smtp_connections

CHUNK = 25  # digests rendered and recorded at a time, after a ramp that starts the worker
# within milliseconds and keeps it busy: each chunk takes the worker about as long to send as
# the next one takes to render (sending one digest costs ~1.4 times rendering one).
RAMP = (4, 6, 9, 13, 19)
Mode = Literal["process", "after"]


@dataclass
class Outcome:
    """What one recording-and-sending pass did."""

    recorded: int = 0
    duplicates: int = 0
    followed: bool = False  # whether a worker delivered while the messages were recorded
    delivery: DeliveryStats = field(default_factory=DeliveryStats)
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (name, address, subject)
    # Workers that stopped on an error (the database went away under them, say): what they
    # had not sent is still in the outbox, for the caller's delivery pass.
    worker_errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether workers followed the recording and sent all they could: no other delivery
        pass is needed for this plan (one is, to retry transient failures)."""
        return self.followed and not self.worker_errors and not self.delivery.failed


def record_and_send(
    db_url: str, plan: Plan, settings: Settings | None = None, mode: Mode | None = None,
    command_started: datetime | None = None,
) -> Outcome:
    """Render and record the plan's messages while a delivery worker sends them (and anything
    else pending in the outbox). What the workers could not send stays in the outbox for the
    caller's next delivery pass (see ``Outcome.complete``). ``mode``: "process" (a forked
    worker) or "after" (none: the caller delivers afterwards); by default the first where it
    is safe, see above. Messages claimed since ``command_started`` count no new attempt."""
    settings = settings or get_settings()
    mode = mode or _default_mode()
    outcome = Outcome(followed=mode == "process" and bool(plan.todo))
    if not plan.todo:  # a re-run: the caller's delivery pass sends any leftovers
        return outcome
    count = smtp_connections() if outcome.followed else 0
    with _following(db_url, settings, count, command_started or utcnow()) as workers:
        for items in _chunks(plan.todo) if plan.stream else [plan.todo]:
            intents = plan.render(items)
            with session_scope(db_url, migrate=False) as session:
                stats = record(session, plan.roadmap_id, plan.roadmap_key, plan.as_of, intents)
            outcome.recorded += stats.recorded
            outcome.duplicates += stats.duplicates
            outcome.messages += [(i.recipient_name or "", i.recipient, i.message.subject) for i in intents]
    for worker in workers:
        outcome.delivery = outcome.delivery + worker.stats
        outcome.worker_errors += [worker.error] if worker.error else []
    return outcome


def _chunks(items: list) -> Iterator[list]:
    start = 0
    for size in itertools.chain(RAMP, itertools.repeat(CHUNK)):
        if start >= len(items):
            return
        yield items[start:start + size]
        start += size


def _default_mode() -> Mode:
    return "process" if hasattr(os, "fork") and threading.active_count() == 1 else "after"


@contextlib.contextmanager
def _following(db_url: str, settings: Settings, count: int, command_started: datetime) -> Iterator[list[_ForkedWorker]]:
    """``count`` forked delivery workers (one per SMTP connection) following the outbox for as
    long as the block runs; on leaving, they send what is left and end."""
    workers: list[_ForkedWorker] = []
    try:
        for _ in range(count):
            workers.append(_ForkedWorker(db_url, settings, command_started))
            workers[-1].start()
        yield workers
    finally:
        for worker in workers:
            if worker.started:
                worker.finish()


_PARENT_ENDS: set[int] = set()  # pipe ends this process holds for its forked workers


class _ForkedWorker:
    """The worker in a child process. Two pipes: the parent closes ``done`` when it has
    recorded everything (or dies: the kernel closes it then), the child writes its result as
    JSON to ``result`` and exits."""

    def __init__(self, db_url: str, settings: Settings, command_started: datetime):
        self.db_url, self.settings, self.command_started = db_url, settings, command_started
        self.stats = DeliveryStats()
        self.error: str | None = None
        self.started = False

    def start(self) -> None:
        done_r, self._done_w = os.pipe()
        self._result_r, result_w = os.pipe()
        parent = os.getpid()
        for stream in (sys.stdout, sys.stderr):  # the child must not inherit unwritten output
            stream.flush()
        try:
            self._pid = os.fork()
        except OSError:
            for fd in (done_r, self._done_w, self._result_r, result_w):
                os.close(fd)
            raise
        self.started = True
        if self._pid == 0:
            # Including the other workers' ends: a child holding another worker's ``done``
            # open would keep that worker waiting for an end that never comes.
            for fd in (self._done_w, self._result_r, *_PARENT_ENDS):
                os.close(fd)
            self._child(parent, done_r, result_w)  # never returns
        os.close(done_r)
        os.close(result_w)
        _PARENT_ENDS.update((self._done_w, self._result_r))

    def _child(self, parent: int, done_r: int, result_w: int) -> None:
        code, result = 1, {}
        try:
            _die_with(parent)
            # The parent's pooled connections are its own: open new ones here.
            get_engine(self.db_url).dispose(close=False)

            def follow(seconds: float) -> bool:
                readable, _, _ = select.select([done_r], [], [], seconds)
                return not readable  # the only thing ever readable is the end of the pipe

            stats = deliver_pending(self.db_url, self.settings, self.command_started, follow=follow)
            result = {"stats": asdict(stats)}
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        finally:
            try:
                data = json.dumps(result).encode()
                while data:
                    data = data[os.write(result_w, data):]
            finally:
                os._exit(code)  # no atexit handlers, no flushing of the parent's buffers

    def finish(self) -> None:
        os.close(self._done_w)
        chunks = []
        while chunk := os.read(self._result_r, 65536):
            chunks.append(chunk)
        os.close(self._result_r)
        _PARENT_ENDS.difference_update((self._done_w, self._result_r))
        os.waitpid(self._pid, 0)
        result = json.loads(b"".join(chunks) or b"{}")
        if "stats" in result:
            self.stats = DeliveryStats(**result["stats"])
        else:
            self.error = result.get("error", "the delivery process ended without a result")


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), so that killing the
    command stops its sending too; elsewhere the closed ``done`` pipe ends it after the
    messages already recorded."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(1)

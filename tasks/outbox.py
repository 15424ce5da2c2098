"""The outbox: record every intended message once, then claim, send and mark it.

1. `record` (tasks/outbox_record.py) inserts messages with their dedup key and the exact
   bytes to send, once per intent, with the Message-ID every resend carries.
2. `deliver` sends what is deliverable over `connections` SMTP connections, one thread
   each (sending waits on the network, not on the GIL). Each thread claims one message
   at a time with a conditional UPDATE whose rowcount it checks, sends it, and marks it
   with another conditional UPDATE that only succeeds while the claim is still its own.
3. A claim is a lease: a message left `sending` by a crashed process is taken again once
   its lease has run out, and resent with the same Message-ID. So delivery is at least
   once, with at most one duplicate per connection in flight (the message the server
   accepted but the outbox had not recorded as sent yet), with the same Message-ID.
4. The mark follows the server's acceptance at once, while the claim is still being
   renewed. When it cannot be written (disk full, read-only database, the database gone)
   after a few quick tries, the whole batch stops (`OutboxUnwritable`): no connection claims
   another message, so the unmarked one is not sent again in this run, nor anything else
   whose outcome could not be recorded.
5. Transient failures stay `failed` and are retried by later runs up to `max_attempts`;
   permanent ones (recipient refused, bad address) are recorded and never retried.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from models.addresses import parse_address
from models.db import get_engine
from models.schema import OutboxContent, OutboxMessage, utcnow
from tasks.mail import Prepared, SendError, Transport

log = logging.getLogger("roadmap")


@dataclass
class DeliveryStats:
    sent: int = 0
    failed: int = 0  # for a passing reason (4xx, dropped connection): a later run tries again
    permanent: int = 0
    # Given back unsent, without using up an attempt, when the connection failed rather than
    # the message (bad login, TLS, relay unreachable): the connection stopped there.
    deferred: int = 0
    configuration_error: bool = False  # a bad login or TLS setup: an operator must act first
    errors: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.failed + self.permanent + self.deferred

    @property
    def worth_retrying(self) -> bool:
        """Whether another delivery later could send what failed here. Not after a bad login
        or TLS setup: an operator must act first, and repeated bad logins lock accounts."""
        return bool(self.failed or self.deferred) and not self.configuration_error

    def add(self, other: DeliveryStats) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.permanent += other.permanent
        self.deferred += other.deferred
        self.configuration_error |= other.configuration_error
        self.errors += other.errors


class OutboxUnwritable(SQLAlchemyError):
    """The outcome of a send could not be written to the outbox: the batch stopped at once.

    Not an OperationalError, so Prefect's retry condition does not send the batch again in
    the same flow run; the CLI shows it as a database error and exits 1."""

    def __init__(self, message_id: int, cause: BaseException, stats: DeliveryStats, *, recorded: bool = False):
        self.message_id, self.stats, self.recorded = message_id, stats, recorded
        reason = str(getattr(cause, "orig", None) or cause).splitlines()[0]
        fate = ("its outcome was recorded when tried again" if recorded else
                "its outcome is not recorded: the next run sends it again, with the same Message-ID, once its "
                "lease has run out")
        super().__init__(f"the outbox cannot be written ({reason}): sending stopped at outbox message {message_id} "
                         f"({stats.sent} sent and recorded in this run); {fate}")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"




_OUTBOX = cast(Table, OutboxMessage.__table__)
_T = _OUTBOX.c
# Pending; or failed for a passing reason, not tried yet by this run and with attempts left;
# or claimed by someone whose lease has run out (a crashed or killed sender). The statements
# are built once: they run for every message, and building one costs more than running it.
_DELIVERABLE = or_(
    _T.status == "pending",
    and_(_T.status == "failed", _T.permanent.is_(False), _T.attempts < bindparam("b_max_attempts"),
         _T.claimed_at < bindparam("b_run_started")),
    and_(_T.status == "sending", _T.claimed_at < bindparam("b_lease_over")),
)
_NEXT = (select(_T.id, _T.recipient, _T.message_id).where(_DELIVERABLE).order_by(_T.id).limit(1)
         .with_for_update(skip_locked=True))  # PostgreSQL: skip what another worker is claiming
_TAKE = (update(_OUTBOX).where(_T.id == bindparam("b_id"), _DELIVERABLE)
         .values(status="sending", claimed_by=bindparam("b_worker"), claimed_at=bindparam("b_now"),
                 attempts=_T.attempts + 1))
_RAW = select(OutboxContent.raw).where(OutboxContent.outbox_id == bindparam("b_id"))
_MINE = and_(_T.id == bindparam("b_id"), _T.status == "sending", _T.claimed_by == bindparam("b_worker"))
_MARK = (update(_OUTBOX).where(_MINE)
         .values(status=bindparam("b_status"), sent_at=bindparam("b_sent_at"), last_error=bindparam("b_error"),
                 permanent=bindparam("b_permanent"), attempts=_T.attempts - bindparam("b_not_counted")))
_RENEW = update(_OUTBOX).where(_MINE).values(claimed_at=bindparam("b_now"))


@dataclass(frozen=True)
class Claim:
    id: int
    recipient: str
    message_id: str
    raw: bytes | None


def claim_one(db_url: str, worker: str, *, run_started: datetime, lease: timedelta, max_attempts: int) -> Claim | None:
    """Take the oldest deliverable message for ``worker``, or None when there is none.

    The UPDATE repeats the deliverable condition, so of two workers that picked the same
    candidate only the one whose UPDATE changed the row (rowcount 1) has it; the other
    looks again."""
    engine = get_engine(db_url)
    while True:
        now = utcnow()
        params = {"b_max_attempts": max_attempts, "b_run_started": run_started, "b_lease_over": now - lease}
        with engine.begin() as conn:
            candidate = conn.execute(_NEXT, params).first()
            if candidate is None:
                return None
            taken = conn.execute(_TAKE, {**params, "b_id": candidate.id, "b_worker": worker, "b_now": now}).rowcount
            if taken != 1:
                continue
            raw = conn.scalar(_RAW, {"b_id": candidate.id})
        return Claim(candidate.id, candidate.recipient, candidate.message_id, raw)


MARK_RETRY_DELAYS = (0.2, 1.0)  # seconds: a busy or briefly unreachable database gets a second chance


def _mark_params(worker: str, message_id: int, error: SendError | None) -> dict[str, Any]:
    return {"b_id": message_id, "b_worker": worker, "b_status": "sent" if error is None else "failed",
            "b_sent_at": utcnow() if error is None else None,
            "b_error": None if error is None else str(error)[:2000],
            "b_permanent": bool(error and error.permanent),
            "b_not_counted": int(error is not None and not error.permanent and not error.retry_in_run)}


def mark(db_url: str, worker: str, message_id: int, *, error: SendError | None = None,
         on_failure: Callable[[SQLAlchemyError], None] | None = None) -> bool:
    """Record the outcome of a send; False when the claim was no longer this worker's (its
    lease ran out and another worker took the message), in which case nothing is changed.
    A failure of the connection rather than of the message gives the attempt back.

    An UPDATE that fails (the database busy, gone or unwritable) is reported to ``on_failure``
    and tried again after each of MARK_RETRY_DELAYS; the last failure is raised."""
    params = _mark_params(worker, message_id, error)
    delays = iter(MARK_RETRY_DELAYS)
    while True:
        try:
            with get_engine(db_url).begin() as conn:
                changed = conn.execute(_MARK, params).rowcount
            break
        except SQLAlchemyError as exc:
            if on_failure is not None:
                on_failure(exc)
            delay = next(delays, None)
            if delay is None:
                raise
            log.info("outbox message %s: outcome not recorded (%s); trying again in %s s",
                        message_id, str(exc).splitlines()[0], delay)
            time.sleep(delay)
    if changed != 1:
        log.warning("outbox message %s: claim lost to another worker (lease ran out); not marked", message_id)
    return changed == 1


class _KeptClaimed:
    """Renews a claim while its message is being sent (every third of the lease), so that a
    slow relay or a send retried with backoff never lets another worker take a message that
    is still in flight; only a dead process stops renewing, and then its lease runs out."""

    def __init__(self, db_url: str, worker: str, message_id: int, lease: timedelta):
        self.params = {"b_id": message_id, "b_worker": worker}
        self.db_url, self.every = db_url, lease.total_seconds() / 3
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._renew, name="lease", daemon=True)

    def __enter__(self) -> None:
        self.thread.start()

    def __exit__(self, *exc_info: object) -> None:
        self.done.set()
        self.thread.join()

    def _renew(self) -> None:
        while not self.done.wait(self.every):
            try:
                with get_engine(self.db_url).begin() as conn:
                    conn.execute(_RENEW, {**self.params, "b_now": utcnow()})
            except Exception as exc:  # noqa: BLE001 - logged; the send goes on, its mark will tell
                log.warning("outbox message %s: lease not renewed: %s", self.params["b_id"], exc)


class Recording:
    """How far a recording of messages has got, for delivery threads that follow it: the
    recorder calls ``advanced()`` after each batch it commits and ``ended()`` at the end;
    a delivery thread with nothing to send waits for the next of these instead of polling."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._batches = 0
        self._ended = False

    def advanced(self) -> None:
        with self._changed:
            self._batches += 1
            self._changed.notify_all()

    def ended(self) -> None:
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def state(self) -> tuple[int, bool]:
        with self._changed:
            return self._batches, self._ended

    def wait_after(self, batches: int) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._batches > batches or self._ended, timeout=5)


_ONE_RUN: ContextVar[datetime | None] = ContextVar("one_delivery_run", default=None)


@contextmanager
def one_delivery_run() -> Iterator[None]:
    """The deliveries inside count as one run: a message that failed (for now) in one of them is
    not tried again by the next ones (a retry is for messages that failed before the run
    started), so a roadmap's cycle under Prefect spends one attempt on it and leaves the rest
    to the delivery task's retries, spaced 10, 60 and 300 s apart (flows/daily_cycle.py).
    A context variable: `tasks.notify_jobs.send_plan` runs delivery in the context it is called in."""
    token = _ONE_RUN.set(utcnow())
    try:
        yield
    finally:
        _ONE_RUN.reset(token)


def _crash_point(name: str) -> None:
    """Tests kill the process at a named point of delivery (ROADMAP_TEST_CRASH_AT=name:n
    kills it the n-th time the point is reached), instead of after a guessed sleep.
    "after-claim": a message is claimed, not sent; "after-send": the server accepted it,
    it is not marked sent."""
    spec = os.environ.get("ROADMAP_TEST_CRASH_AT")
    if not spec or not spec.startswith(name + ":"):
        return
    with _CRASH_LOCK:
        _CRASH_COUNTS[name] = _CRASH_COUNTS.get(name, 0) + 1
        if _CRASH_COUNTS[name] == int(spec.rpartition(":")[2]):
            os.kill(os.getpid(), 9)


_CRASH_COUNTS: dict[str, int] = {}
_CRASH_LOCK = threading.Lock()


def _deliver_one_connection(
    db_url: str, transport: Transport, *, sender: str, run_started: datetime, lease: timedelta, max_attempts: int,
    follow: Recording | None, stop: threading.Event,
) -> DeliveryStats:
    """Claim, send, mark until nothing is deliverable (and, with ``follow``, until that
    recording has ended: messages are still being recorded meanwhile), or until ``stop`` is
    set: another connection could not write the outbox."""
    worker = worker_id()
    stats = DeliveryStats()
    envelope_sender = parse_address(sender).addr_spec
    failures: list[SQLAlchemyError] = []  # of this connection's marks: the first one ends the batch

    def mark_failed(exc: SQLAlchemyError) -> None:
        failures.append(exc)
        stop.set()

    with transport:
        while not stop.is_set():
            batches, ended = follow.state() if follow else (0, True)  # before looking, not after
            item = claim_one(db_url, worker, run_started=run_started, lease=lease, max_attempts=max_attempts)
            if item is None:
                if ended:
                    return stats
                follow.wait_after(batches)  # type: ignore[union-attr]
                continue
            _crash_point("after-claim")
            error: SendError | None = None
            with _KeptClaimed(db_url, worker, item.id, lease):
                try:
                    if item.raw is None:
                        raise SendError(f"outbox message {item.id} has no content", permanent=True)
                    transport.send_prepared(Prepared(item.message_id, envelope_sender, (item.recipient,), item.raw))
                except SendError as exc:
                    error = exc
                else:
                    _crash_point("after-send")  # the server has the message; the outbox does not know yet
                # The mark comes next, nothing else. The renewal goes on until the mark is written
                # (a renewal only touches a row still `sending`): while a failed mark is tried
                # again, the claim stays this worker's and no other connection resends the message.
                # At its first failure every connection stops claiming: the batch ends here.
                try:
                    marked = mark(db_url, worker, item.id, error=error, on_failure=mark_failed)
                except SQLAlchemyError as exc:
                    raise OutboxUnwritable(item.id, exc, stats) from exc
            if failures and marked and error is None:
                stats.sent += 1
            if failures:
                raise OutboxUnwritable(item.id, failures[0], stats, recorded=marked) from failures[0]
            if not marked:
                continue
            if error is None:
                stats.sent += 1
                continue
            stats.errors.append(f"{item.recipient}: {error}")
            if error.permanent:
                stats.permanent += 1
            elif error.retry_in_run:
                stats.failed += 1
            else:
                # The connection failed, not the message: every further claim would fail
                # the same way and use up the attempts of the whole outbox. Stop here.
                stats.deferred += 1
                stats.configuration_error = error.configuration
                return stats
    return stats


def deliver(
    db_url: str, transport_factory: Callable[[], Transport], *, sender: str, max_attempts: int, lease: timedelta,
    connections: int = 1, follow: Recording | None = None,
) -> DeliveryStats:
    """Send everything deliverable over ``connections`` connections at once (threads), each
    made by ``transport_factory``. With ``follow``, keep going until that recording has ended
    and nothing is left: the caller records messages meanwhile.

    When one connection cannot write the outbox, the others stop after the message they
    have in flight, and OutboxUnwritable is raised with what the whole batch sent."""
    run_started = _ONE_RUN.get() or utcnow()
    total = DeliveryStats()
    stop = threading.Event()

    def one_connection(transport: Transport) -> DeliveryStats:
        try:
            return _deliver_one_connection(db_url, transport, sender=sender, run_started=run_started, lease=lease,
                                           max_attempts=max_attempts, follow=follow, stop=stop)
        except BaseException:
            stop.set()  # a claim failed too (the database gone): the other connections stop as well
            raise

    unwritable: OutboxUnwritable | None = None
    with ThreadPoolExecutor(max(1, connections), thread_name_prefix="deliver") as pool:
        futures = [pool.submit(one_connection, transport_factory()) for _ in range(max(1, connections))]
        for future in futures:
            try:
                total.add(future.result())
            except OutboxUnwritable as exc:
                total.add(exc.stats)
                unwritable = unwritable or exc
    if unwritable is not None:
        cause = unwritable.__cause__ or unwritable
        raise OutboxUnwritable(unwritable.message_id, cause, total, recorded=unwritable.recorded) from cause
    return total

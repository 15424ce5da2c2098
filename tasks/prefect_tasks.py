"""The bridge to Prefect: `task` and `flow` decorators that import Prefect only when it is used.

Why: importing Prefect costs 1.5-2 s on this machine and, with no Prefect API configured,
running a flow through the engine starts a temporary Prefect server (8-15 s). A project office
typing `roadmap remind` should not pay for that, yet what a user runs by hand and what the
schedule runs must be the same code. So:

1. `flow(...)` returns a real `prefect.Flow` when Prefect is already imported (a worker,
   `prefect deploy`, `roadmap serve`, the CLI in Prefect mode and the tests all import it
   first); otherwise a `LocalFlow` with the same `.fn`. Either way the CLI runs the same body.
2. `task(...)` always returns a `TaskSpec`. Called inside a Prefect flow run it runs as a real
   Prefect task (retries, logs and state recorded in Prefect); called anywhere else it calls
   the plain function with the same retry policy, without the engine.
3. `logger()` is Prefect's run logger inside a run, the `roadmap` logger elsewhere.

Retries happen on transient errors only (`is_transient`). Their number is part of each task's
definition; their delays can be set with ROADMAP_TASK_RETRY_DELAYS (comma-separated seconds),
and without the engine they are capped at LOCAL_MAX_DELAY (someone waits at the terminal).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

# Errors worth another try: the database or the SMTP server was briefly away.
TRANSIENT_NAMES = {"OperationalError", "InterfaceError", "DisconnectionError", "TransientSendFailures"}


LOCAL_MAX_DELAY = 2.0


class TransientSendFailures(Exception):
    """Some messages could not be sent for now (a 4xx reply, a dropped connection); they stay
    in the outbox as `failed` and a retry of the delivery task tries them again."""

    def __init__(self, failed: int, errors: list[str]):
        super().__init__(f"{failed} message(s) failed transiently: " + "; ".join(errors[:3]))
        self.failed = failed
        self.errors = errors


def is_transient(exc: BaseException) -> bool:
    """Database unreachable or busy, network hiccups, deferred mail: retry. Bad input: don't."""
    for cls in type(exc).__mro__:
        if cls.__name__ in TRANSIENT_NAMES:
            return True
    return isinstance(exc, (ConnectionError, TimeoutError))


def prefect_loaded() -> bool:
    return "prefect" in sys.modules


def in_flow_run() -> bool:
    """Whether a Prefect flow run (not just `flow.fn`) is executing in this thread."""
    if not prefect_loaded():
        return False
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


def logger() -> logging.Logger | logging.LoggerAdapter:
    if in_flow_run():
        from prefect.logging import get_run_logger

        return get_run_logger()
    return logging.getLogger("roadmap")


def _delays(default: list[float]) -> list[float]:
    override = os.environ.get("ROADMAP_TASK_RETRY_DELAYS", "").strip()
    if override:
        return [float(x) for x in override.split(",")]
    return default


def _retry_condition(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's retry_condition_fn: retry only transient errors."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - the task's own exception comes back here
        return is_transient(exc)
    return False


class TaskSpec:
    """A coarse unit of work: a plain function plus its Prefect task options."""

    def __init__(self, fn: Callable[..., Any], *, name: str, retries: int, retry_delay_seconds: list[float],
                 side_effects: bool):
        self.fn = fn
        self.name = name
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.side_effects = side_effects
        self._built: dict[tuple[float, ...], Any] = {}
        functools.update_wrapper(self, fn)

    def prefect_task(self) -> Any:
        """The Prefect task, built on first use (delays read now, so tests can shorten them)."""
        delays = tuple(_delays(self.retry_delay_seconds))
        if delays not in self._built:
            self._built[delays] = self._build()
        return self._built[delays]

    def _build(self) -> Any:
        from prefect import task as prefect_task
        from prefect.cache_policies import NONE

        return prefect_task(
            self.fn, name=self.name, retries=self.retries,
            retry_delay_seconds=_delays(self.retry_delay_seconds) if self.retries else 0,
            retry_condition_fn=_retry_condition,
            # Every task here reads or writes the database or the outside world: never cache.
            cache_policy=NONE, persist_result=False,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if in_flow_run():
            return self.prefect_task()(*map(_opaque, args), **{k: _opaque(v) for k, v in kwargs.items()})
        return self.run_local(*args, **kwargs)

    def concurrently(self, n: int, *args: Any) -> list[Any]:
        """Run the task `n` times at once on the same arguments (Prefect's thread-pool task
        runner inside a flow run, threads otherwise); the first error is raised once all ended."""
        if n <= 1:
            return [self(*args)]
        if in_flow_run():
            from prefect.futures import wait

            futures = [self.prefect_task().submit(*args) for _ in range(n)]
            wait(futures)
            return [f.result() for f in futures]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(n) as pool:
            futures = [pool.submit(self.run_local, *args) for _ in range(n)]
        return [f.result() for f in futures]

    def run_local(self, *args: Any, **kwargs: Any) -> Any:
        """The same function with the same retries, without the Prefect engine. Someone is
        usually waiting at the terminal, so the delays are capped at LOCAL_MAX_DELAY seconds."""
        delays = [min(d, LOCAL_MAX_DELAY) for d in _delays(self.retry_delay_seconds)]
        attempt = 0
        while True:
            try:
                return self.fn(*args, **kwargs)
            except Exception as exc:
                if attempt >= self.retries or not is_transient(exc):
                    raise
                delay = delays[min(attempt, len(delays) - 1)] if delays else 0
                logging.getLogger("roadmap").warning("%s failed (%s); retry %d in %ss", self.name, exc,
                                                     attempt + 1, delay)
                time.sleep(delay)
                attempt += 1


_PLAIN = (str, int, float, bool, type(None))


def _opaque(value: Any) -> Any:
    """A task argument as Prefect should see it. Prefect walks every argument, member by member,
    looking for futures and for results of other task runs (to draw the run graph); a day's
    plan holds thousands of digests, and walking them cost about a second per flow run. Our
    tasks are called with values, never futures, so all but plain values go in ``quote``,
    which Prefect passes on unwalked (the graph then shows no arrows between these tasks)."""
    if isinstance(value, _PLAIN):
        return value
    from prefect.utilities.annotations import quote

    return quote(value)


def task(*, name: str, retries: int = 0, retry_delay_seconds: list[float] | None = None,
         side_effects: bool = True) -> Callable[[Callable[..., Any]], TaskSpec]:
    def wrap(fn: Callable[..., Any]) -> TaskSpec:
        return TaskSpec(fn, name=name, retries=retries, retry_delay_seconds=retry_delay_seconds or [2, 10, 30],
                        side_effects=side_effects)

    return wrap


class LocalFlow:
    """A flow body run without the Prefect engine (Prefect not imported in this process).
    `.prefect()` builds the real flow when it is wanted after all."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]):
        self.fn = fn
        self.options = options
        self.name = options.get("name", fn.__name__)
        functools.update_wrapper(self, fn)

    def prefect(self) -> Any:
        from prefect import flow as prefect_flow

        return prefect_flow(self.fn, **self.options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def flow(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    def wrap(fn: Callable[..., Any]) -> Any:
        if prefect_loaded():
            from prefect import flow as prefect_flow

            return prefect_flow(fn, **options)
        return LocalFlow(fn, options)

    return wrap


def step(f: Any, **params: Any) -> Any:
    """Run another flow's body as a step of the current flow (run): its tasks become task runs
    of this flow run, with their retries and logs. Not a subflow on purpose: every flow run is
    a few blocking API calls (2-3 s for the daily cycle's three subflows here), a task run is
    an event sent in the background."""
    return f.fn(**params)


def as_prefect_flow(f: Any) -> Any:
    """The real Prefect flow of a flow object from `flow(...)`."""
    return f.prefect() if isinstance(f, LocalFlow) else f

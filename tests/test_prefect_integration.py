"""Integration: a real Prefect server (database on the local PostgreSQL), deployments from
deployments/prefect.yaml on a `process` work pool, real workers, `roadmap serve`.

Every process is started in its own process group and stopped by its id (SIGINT, SIGTERM,
then SIGKILL: a background `prefect worker` ignores the first SIGTERM). Bounded in time:
each wait has a deadline. Runs in CI (CI=true turns a missing PostgreSQL into a failure).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tasks.outbox_admin import list_messages
from tasks.roadmap_jobs import import_file
from tests.db_fixtures import _admin_url, _reset
from tests.smtp_fixtures import SmtpRecorder, free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SMALL = ROOT / "tests" / "data" / "small.yaml"
DEADLINE = 180.0


class Proc:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path):
        self.name = name
        self.log = logdir / f"{name}.log"
        self.popen = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
                                      start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(wait)
                # The leader is gone; anything left in its group (a flow run subprocess) goes too.
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
            break


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ROADMAP_"))}
    env.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
               PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A Prefect server on loopback with its own database on the local PostgreSQL."""
    admin = _admin_url()
    name = f"prefect_test_{uuid.uuid4().hex[:10]}"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {type(exc).__name__}")
    pg = make_url(admin).set(drivername="postgresql+asyncpg", database=name)
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = _env(PREFECT_HOME=str(home), PREFECT_SERVER_DATABASE_CONNECTION_URL=pg.render_as_string(hide_password=False),
               # the recent-deployments scheduler, so that served schedules get runs quickly
               PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS="2")
    server = Proc("prefect-server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port",
                                     str(port)], env, home)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Prefect server did not start:\n{server.output()}")
            time.sleep(0.5)
        yield api, home
    finally:
        server.stop()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def app_env(prefect_server, postgres_server_url, tmp_path):
    """The app database (PostgreSQL, the small roadmap), an SMTP server, and the environment
    workers run with: secrets and URLs in the environment, never in flow parameters."""
    _reset(postgres_server_url)
    import_file(postgres_server_url, SMALL)
    api, home = prefect_server
    with SmtpRecorder() as smtp:
        env = _env(PREFECT_HOME=str(home), PREFECT_API_URL=api, PREFECT_WORKER_QUERY_SECONDS="1",
                   PREFECT_RUNNER_POLL_FREQUENCY="1",
                   ROADMAP_DATABASE_URL=postgres_server_url, ROADMAP_SMTP_HOST="127.0.0.1",
                   ROADMAP_SMTP_PORT=str(smtp.port), ROADMAP_SMTP_SECURITY="none",
                   ROADMAP_MAIL_FROM="roadmap@example.org", ROADMAP_REPORTS_DIR=str(tmp_path / "reports"),
                   ROADMAP_OUTBOX_DIR=str(tmp_path / "outbox"))
        procs: list[Proc] = []
        yield env, smtp, procs, postgres_server_url, tmp_path, api
        for p in procs:
            p.stop()


def _run(args: list[str], env: dict[str, str], timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _flow_runs(api: str, flow: str, since: datetime) -> list[dict]:
    body = {"flows": {"name": {"any_": [flow]}},
            "flow_runs": {"start_time": {"after_": since.isoformat()}}}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()


def _no_duplicates(smtp: SmtpRecorder, url: str) -> None:
    ids = Counter(m["Message-ID"] for m in smtp.messages)
    assert all(n == 1 for n in ids.values()), [i for i, n in ids.items() if n > 1]
    rows = list_messages(url)
    assert {r.status for r in rows} == {"sent"}
    assert set(ids) == {r.message_id for r in rows}


def test_deploy_worker_and_two_workers_never_double_send(app_env):
    env, smtp, procs, url, tmp, api = app_env
    deploy = _run([str(BIN / "roadmap"), "deploy"], env)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    spec = _run([str(BIN / "prefect"), "deployment", "inspect", "send-reminders/send-reminders", "--output", "json"],
                env)
    assert spec.returncode == 0, spec.stderr
    schedules = json.loads(spec.stdout)["schedules"]
    assert [(s["slug"], s["schedule"]["cron"], s["schedule"]["timezone"]) for s in schedules] \
        == [("reminders-weekdays-0900", "0 9 * * *", "Europe/Moscow")]

    # One worker, the daily cycle of Monday 10 Nov 2014 (the report day) for a fixed as_of.
    procs.append(Proc("worker-1", [str(BIN / "prefect"), "worker", "start", "--pool", "roadmap-office",
                                   "--type", "process", "--name", "worker-1"], env, tmp))
    run = _run([str(BIN / "prefect"), "deployment", "run", "daily-cycle/daily-cycle", "--param", "as_of=2014-11-10",
                "--watch", "--watch-timeout", str(int(DEADLINE))], env, timeout=DEADLINE + 30)
    assert run.returncode == 0 and "Completed" in run.stdout, run.stdout + run.stderr + procs[0].output()
    kinds = Counter(r.kind for r in list_messages(url))
    assert kinds == {"escalation": 4, "reminder": 2, "report": 2}, kinds
    assert len(smtp.messages) == 8
    _no_duplicates(smtp, url)

    # Two workers on the same pool, two runs of the next day's cycle at once: the outbox
    # claims split the work; every message arrives once.
    procs.append(Proc("worker-2", [str(BIN / "prefect"), "worker", "start", "--pool", "roadmap-office",
                                   "--type", "process", "--name", "worker-2"], env, tmp))
    args = [str(BIN / "prefect"), "deployment", "run", "daily-cycle/daily-cycle", "--param", "as_of=2014-11-11",
            "--watch", "--watch-timeout", str(int(DEADLINE))]
    both = [subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outs = [p.communicate(timeout=DEADLINE + 30)[0] for p in both]
    assert all(p.returncode == 0 and "Completed" in o for p, o in zip(both, outs, strict=True)), outs
    assert len(list_messages(url)) > 8
    _no_duplicates(smtp, url)


def test_serve_runs_a_scheduled_daily_cycle(app_env):
    """`roadmap serve` with a fast test schedule: one scheduled run completes, then it stops.
    A 5 s Interval schedule stands in for cron "* * * * *" (which `--test-every 60` uses), so
    that the test waits seconds, not up to a minute."""
    env, smtp, procs, url, tmp, api = app_env
    env = {**env, "ROADMAP_DATABASE_URL": f"sqlite:///{tmp}/serve.db"}
    # The cycle runs as of today, which sends nothing on a day off: today is made a working day.
    today = datetime.now(ZoneInfo("Europe/Moscow")).date()
    roadmap = tmp / "small-today.yaml"
    roadmap.write_text(SMALL.read_text().replace(
        "calendar: RU", f"calendar: {{country: RU, extra_working_days: [{today.isoformat()}]}}"))
    import_file(env["ROADMAP_DATABASE_URL"], roadmap)
    since = datetime.now(UTC)
    serve = Proc("serve", [str(BIN / "roadmap"), "serve", "--test-every", "5"], env, tmp)
    procs.append(serve)
    deadline = time.monotonic() + DEADLINE
    while not any(r["state_type"] == "COMPLETED" for r in _flow_runs(api, "daily-cycle", since)):
        assert serve.popen.poll() is None, serve.output()
        if time.monotonic() > deadline:
            pytest.fail(f"no scheduled daily-cycle run completed:\n{serve.output()}")
        time.sleep(1)
    serve.stop()
    assert serve.popen.poll() is not None
    # pause_on_shutdown=False: the schedule is still active after serve stopped.
    spec = _run([str(BIN / "prefect"), "deployment", "inspect", "daily-cycle/daily-cycle-served", "--output", "json"],
                env)
    assert [s["active"] for s in json.loads(spec.stdout)["schedules"]] == [True]
    # One machine: the served daily cycle runs its roadmaps in its own process, not one run each.
    assert "cycle_deployment" not in json.loads(spec.stdout)["parameters"]
    assert list_messages(env["ROADMAP_DATABASE_URL"])  # today's cycle recorded (and sent) something
    _no_duplicates(smtp, env["ROADMAP_DATABASE_URL"])



KEYS = ["small", "north", "south", "east"]


def _child_runs(api: str, parent: str) -> list[dict]:
    body = {"flows": {"name": {"any_": ["roadmap-cycles"]}},
            "flow_runs": {"parent_flow_run_id": {"any_": [parent]}}}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()


def _state(api: str, flow_run_id: str) -> str:
    return httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()["state_type"]


def _wait_for(api: str, flow_run_id: str, states: set[str], why: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while _state(api, flow_run_id) not in states:
        if time.monotonic() > deadline:
            pytest.fail(f"flow run {flow_run_id}: {why}")
        time.sleep(0.5)


def test_the_daily_cycle_shares_the_roadmaps_between_two_workers_one_run_per_roadmap_at_a_time(app_env):
    """Four roadmaps, two workers on the pool: the daily-cycle deployment with batch_size=1 starts
    one roadmap-cycles run per roadmap, both workers take some, every roadmap's mail arrives once.
    A roadmap's run waits while another holds its slot (as the second of a doubled schedule
    would), then sends. A second daily cycle of the same day sends nothing new, and fails at the
    end naming the roadmap whose run failed."""
    from tests.test_portfolio import add_roadmap, break_calendar, domains

    env, smtp, procs, url, tmp, api = app_env
    # The server is the module's: a served cycle stopped mid-run by the serve test may still hold
    # roadmap-small's slot until its lease runs out (5 minutes). Start from no limits.
    for limit in httpx.post(f"{api}/v2/concurrency_limits/filter", json={}, timeout=10).json():
        httpx.delete(f"{api}/v2/concurrency_limits/{limit['id']}", timeout=10).raise_for_status()
    for key in KEYS[1:]:
        add_roadmap(url, tmp, key)
    deploy = _run([str(BIN / "roadmap"), "deploy"], env)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    # --limit 2: a worker runs at most two flow runs at once (a daily-cycle run waiting for its
    # children is one of them), so that one worker does not take every run it finds.
    workers = [Proc(f"worker-{i}", [str(BIN / "prefect"), "worker", "start", "--pool", "roadmap-office",
                                    "--type", "process", "--name", f"worker-{i}", "--limit", "2"], env, tmp)
               for i in (1, 2)]
    procs.extend(workers)

    def deployment_run(name: str, *params: str, watch: bool = True, ends: str = "Completed") -> str:
        args = [str(BIN / "prefect"), "deployment", "run", name, *(a for p in params for a in ("--param", p))]
        if watch:
            args += ["--watch", "--watch-timeout", str(int(DEADLINE))]
        run = _run(args, env, timeout=DEADLINE + 30)
        assert (not watch or f"'{ends}'" in run.stdout + run.stderr) and "Timeout" not in run.stderr, \
            [run.stdout, run.stderr] + [w.output() for w in workers]
        return next(line.split("UUID:")[1].strip() for line in run.stdout.splitlines() if "UUID:" in line)

    parent = deployment_run("daily-cycle/daily-cycle", "as_of=2014-11-10", "batch_size=1")
    children = _child_runs(api, parent)
    assert sorted((r["name"], r["state_type"]) for r in children) == sorted((k, "COMPLETED") for k in KEYS)
    took = {w.name: sum(r["id"] in w.log.read_text(errors="replace") for r in children) for w in workers}
    assert all(took.values()), took
    assert domains(smtp) == {"example.org": 8, **{f"{k}.example.org": 8 for k in KEYS[1:]}}
    _no_duplicates(smtp, url)
    limits = httpx.post(f"{api}/v2/concurrency_limits/filter", json={}, timeout=10).json()
    assert {(c["name"], c["limit"], c["active_slots"]) for c in limits} == {(f"roadmap-{k}", 1, 0) for k in KEYS}

    # Another run holds small's slot: small's next cycle starts, waits, sends nothing; then runs.
    held = httpx.post(f"{api}/v2/concurrency_limits/increment-with-lease", timeout=10, json={
        "names": ["roadmap-small"], "slots": 1, "mode": "concurrency", "lease_duration": 120}).json()["lease_id"]
    sent = len(smtp.messages)
    waiting = deployment_run("roadmap-cycle/roadmap-cycle", "roadmap_key=small", "as_of=2014-11-11", watch=False)
    _wait_for(api, waiting, {"RUNNING"}, "a worker did not start it")
    time.sleep(8)
    assert _state(api, waiting) == "RUNNING" and len(smtp.messages) == sent
    httpx.post(f"{api}/v2/concurrency_limits/decrement-with-lease", json={"lease_id": held}, timeout=10)
    _wait_for(api, waiting, {"COMPLETED"}, "it did not complete once the slot was free")
    assert len(smtp.messages) > sent
    _no_duplicates(smtp, url)

    # The same day again, in one batch (the default batch size), with north's stored calendar
    # broken: nothing new is sent, and the daily cycle fails at the end naming north and why.
    break_calendar(url, "north")
    sent = len(smtp.messages)
    again = deployment_run("daily-cycle/daily-cycle", "as_of=2014-11-10", ends="Failed")
    assert len(smtp.messages) == sent
    _no_duplicates(smtp, url)
    message = httpx.get(f"{api}/flow_runs/{again}", timeout=10).json()["state"]["message"]
    assert "CyclesFailed: 1 of 1 batch run(s) failed: east..south (4): CycleRunFailed: Failed: CyclesFailed: " \
           "1 of 4 roadmap(s) failed: north: UnknownCalendar: unknown calendar 'XX'" in message, message

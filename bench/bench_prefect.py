"""Benchmark: what Prefect adds to the daily cycle, flow vs the plain functions.

    .venv/bin/python bench/bench_prefect.py [--sizes 1000:50,10000:500]

For each roadmap size (tasks:people, bench/synth.py, reminder day "auto", a Monday-style
report day so the report is part of the cycle):
1. imports it once and copies the database, so both runs start from the same data;
2. plain: the daily cycle as direct calls of the plain functions (tasks/notify_jobs.py,
   tasks/report_jobs.py), no Prefect at all;
3. flow: `daily_cycle(...)` as a real Prefect flow run against a real Prefect server started
   here (SQLite in a temporary PREFECT_HOME), heartbeats off as in the CLI;
4. local: `daily_cycle.fn(...)` (what the CLI runs without a Prefect API) on a third copy.
Mail goes to a real SMTP server (aiosmtpd) in its own process. Prints seconds per run, the
added seconds (flow - plain), the number of Prefect task runs per flow run and the emails sent:
the task count does not grow with the emails, so neither does Prefect's cost.
Target: flow - plain < 3 s per flow run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def start_prefect_server(home: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    from tests.smtp_fixtures import free_port

    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return proc, api
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("Prefect server did not start")


def plain_cycle(db: str, day) -> int:  # type: ignore[no-untyped-def]
    """The daily cycle as the CLI runs it: the same steps as plain calls, no Prefect."""
    from tasks.daily_cycle import daily_cycle as plain

    return sum(s.delivered_by_run for s in plain(db, None, day))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000:50,10000:500", help="tasks:people,...")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each mode; the best counts")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_HOME=str(work / "prefect"))

    import synth

    from tests.smtp_fixtures import free_port

    port = free_port()
    smtp = subprocess.Popen([sys.executable, "-m", "tests.smtp_fixtures", "--port", str(port), "--spool",
                             str(work / "spool")], cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    smtp.stdout.readline()  # type: ignore[union-attr]
    os.environ.update(ROADMAP_SMTP_HOST="127.0.0.1", ROADMAP_SMTP_PORT=str(port), ROADMAP_SMTP_SECURITY="none",
                      ROADMAP_MAIL_FROM="bench@example.org", ROADMAP_REPORTS_DIR=str(work / "reports"))
    server, api = start_prefect_server(work / "prefect")
    rows = []
    try:
        t0 = time.perf_counter()
        os.environ["PREFECT_API_URL"] = api
        import logging

        import prefect  # noqa: F401

        logging.getLogger("prefect").setLevel(logging.WARNING)  # keep the table readable
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        import_prefect = time.perf_counter() - t0
        from datetime import date

        from config import reset_settings_cache
        from flows.daily_cycle import daily_cycle
        from models.db import get_engine
        from tasks.roadmap_jobs import import_file

        reset_settings_cache()
        # Warm-up: the first flow run of a process registers the flows (not per run).
        warm = work / "warm.yaml"
        synth.write(warm, 50, 10, seed=1, reminder_day="auto")
        import_file(f"sqlite:///{work}/warm.db", warm)
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            daily_cycle(db_url=f"sqlite:///{work}/warm.db", as_of=date(2015, 3, 2))

        for size in args.sizes.split(","):
            tasks_n, people_n = map(int, size.split(":"))
            yaml_path = work / f"roadmap-{tasks_n}.yaml"
            meta = synth.write(yaml_path, tasks_n, people_n, seed=7, reminder_day="auto", reminder_share=0.2)
            day = date.fromisoformat(str(meta["reminder_day"]))
            base = work / f"r{tasks_n}.db"
            import_file(f"sqlite:///{base}", yaml_path)
            get_engine(f"sqlite:///{base}").dispose()  # the last connection closing checkpoints the WAL
            best: dict[str, float] = {}
            for rep in range(args.repeat):
                dbs = {}
                for kind in ("plain", "flow"):
                    for suffix in ("", "-wal"):
                        if Path(f"{base}{suffix}").exists():
                            shutil.copy(f"{base}{suffix}", work / f"{kind}{tasks_n}-{rep}.db{suffix}")
                    dbs[kind] = f"sqlite:///{work}/{kind}{tasks_n}-{rep}.db"
                # Interleaved, best of --repeat: the machine is shared and noisy.
                t = time.perf_counter()
                sent_plain = plain_cycle(dbs["plain"], day)
                best["plain"] = min(best.get("plain", 1e9), time.perf_counter() - t)

                t = time.perf_counter()
                with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                    state = daily_cycle(db_url=dbs["flow"], as_of=day, return_state=True)
                best["flow"] = min(best.get("flow", 1e9), time.perf_counter() - t)
                summaries_flow = state.result()
                sent_flow = sum(s.delivered_by_run for s in summaries_flow)
            plain_s, flow_s = best["plain"], best["flow"]

            async def count_task_runs(flow_run_id) -> tuple[int, int]:  # type: ignore[no-untyped-def]
                async with get_client() as client:
                    subflows = await client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(parent_flow_run_id={"any_": [flow_run_id]}))
                    ids = [flow_run_id, *(f.id for f in subflows)]
                    from prefect.client.schemas.filters import TaskRunFilter

                    runs = await client.read_task_runs(
                        flow_run_filter=FlowRunFilter(id={"any_": ids}),
                        task_run_filter=TaskRunFilter())
                    return len(runs), len(ids)

            import asyncio

            n_tasks, n_flows = asyncio.run(count_task_runs(state.state_details.flow_run_id))
            rows.append((tasks_n, people_n, day, sent_plain, sent_flow, plain_s, flow_s, n_tasks, n_flows))
    finally:
        for proc in (server, smtp):
            os.killpg(proc.pid, 15)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        shutil.rmtree(work, ignore_errors=True)

    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"importing Prefect: {import_prefect:.2f} s (once per process; the local CLI never pays it)")
    print("| roadmap | day | emails (plain / flow) | plain (CLI) s | Prefect flow s | "
          "added by Prefect s | flow + task runs | added per email ms |")
    print("|---|---|---|---|---|---|---|---|")
    for tasks_n, people_n, day, sp, sf, ps, fs, nt, nf in rows:
        added = fs - ps
        print(f"| {tasks_n} tasks, {people_n} people | {day} | {sp} / {sf} | {ps:.2f} | {fs:.2f} | "
              f"{added:.2f} | {nf} + {nt} | {1000 * added / max(sf, 1):.1f} |")
    worst = max(fs - ps for *_, ps, fs, nt, nf in rows)
    print(f"added per flow run: worst {worst:.2f} s vs target 3 s: {'PASS' if worst < 3 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: what the Prefect fan-out adds per roadmap, and the speed-up of a second worker.

    .venv/bin/python bench/bench_fanout.py [--roadmaps 12] [--tasks 250] [--people 10]
        [--workers 1 2] [--limit 2] [--query-seconds 1] [--batch-size N]

N synthetic roadmaps (bench/synth.py, keys rm001..) are imported once into a PostgreSQL
database (ROADMAP_BENCH_POSTGRES_URL, default the local server); every measurement starts from
a copy of it (CREATE DATABASE ... TEMPLATE), with mail written as .eml files to a folder (no
SMTP), as bench/bench_portfolio.py does. Then the daily cycle of every roadmap, on their day:

- plain: `roadmap run --as-of DAY` (one process, the roadmaps in turn, no Prefect);
- fan-out with W workers: a Prefect server (its own PostgreSQL database), `roadmap deploy`,
  W `prefect worker start --type process --limit L` processes, then one run of the
  `daily-cycle` deployment, timed from its creation to its end: it starts one `roadmap-cycles`
  run per batch of roadmaps (--batch-size, default the deployment's), which the workers take
  (each in a process of its own), and waits for them.

Prints one JSON line per mode and a summary: the seconds the fan-out adds per roadmap over the
plain run ((fan-out - plain) / N; target <= 0.5 s) and the speed-up of W workers over one.
Workers poll for runs every --query-seconds (PREFECT_WORKER_QUERY_SECONDS; Prefect's default, 10 s,
would add up to that much to every roadmap a worker slot waits for). The machine may be shared:
the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth import write  # noqa: E402

BIN = Path(sys.executable).parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN = os.environ.get("ROADMAP_BENCH_POSTGRES_URL", DEFAULT_PG)


def admin_sql(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def database(name: str, driver: str = "postgresql") -> str:
    from sqlalchemy.engine import make_url

    return make_url(ADMIN).set(drivername=driver, database=name).render_as_string(hide_password=False)


def copy_of(base: str) -> str:
    name = f"{base}_{uuid.uuid4().hex[:6]}"
    admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
    return name


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGINT, then SIGKILL, to the process group of a process started here."""
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait)
            os.killpg(proc.pid, signal.SIGKILL)  # what is left of its group (a flow run process)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue
        return


def wait_until(check, what: str, seconds: float = 180) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {what}")
        time.sleep(0.2)


def plain(url: str, day: str, env: dict[str, str]) -> float:
    env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}  # else `roadmap run` goes through Prefect
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "roadmap"), "run", "--as-of", day, "--db", url], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def fan_out(api: str, url: str, day: str, env: dict[str, str], workers: int, limit: int, logs: Path,
            batch_size: int | None) -> dict:
    import httpx

    env = {**env, "ROADMAP_DATABASE_URL": url}
    procs = [start([str(BIN / "prefect"), "worker", "start", "--pool", "roadmap-office", "--type", "process",
                    "--name", f"bench-{workers}-{i}", "--limit", str(limit)], env, logs / f"worker-{workers}-{i}.log")
             for i in range(workers)]
    try:
        def online() -> bool:
            found = httpx.post(f"{api}/work_pools/roadmap-office/workers/filter", json={}, timeout=10).json()
            return sum(w["name"].startswith(f"bench-{workers}-") and w["status"] == "ONLINE" for w in found) == workers

        wait_until(online, "workers online")
        deployment = httpx.get(f"{api}/deployments/name/daily-cycle/daily-cycle", timeout=10).json()
        parameters = {"as_of": day, **({"batch_size": batch_size} if batch_size else {})}
        t0 = time.perf_counter()
        run = httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", timeout=10,
                         json={"parameters": parameters}).json()

        def ended() -> bool:
            return httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).json()["state"]["type"] in (
                "COMPLETED", "FAILED", "CRASHED", "CANCELLED")

        wait_until(ended, "the daily-cycle run", seconds=3600)
        elapsed = time.perf_counter() - t0
        state = httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).json()["state"]
        children = httpx.post(f"{api}/flow_runs/filter", timeout=10, json={
            "flow_runs": {"parent_flow_run_id": {"any_": [run["id"]]}}}).json()
        return {"seconds": elapsed, "state": state["type"], "children": len(children),
                "child_run_s_mean": sum(c["total_run_time"] for c in children) / max(len(children), 1)}
    finally:
        for proc in procs:
            stop(proc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--roadmaps", type=int, default=12)
    ap.add_argument("--tasks", type=int, default=250)
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--limit", type=int, default=2, help="flow runs at once per worker (the daily-cycle run is one)")
    ap.add_argument("--query-seconds", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=None, help="roadmaps per roadmap-cycles run "
                    "(default: the daily-cycle deployment's, 20; 1 is a run per roadmap)")
    a = ap.parse_args()
    import httpx

    from models.db import get_engine
    from tasks.roadmap_jobs import import_file

    work = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    tag = uuid.uuid4().hex[:6]
    base, prefect_db = f"roadmap_bench_fanout_{tag}", f"prefect_bench_fanout_{tag}"
    created = [base, prefect_db]
    procs: list[subprocess.Popen] = []
    try:
        admin_sql(f'CREATE DATABASE "{base}"')
        admin_sql(f'CREATE DATABASE "{prefect_db}"')
        day = ""
        for i in range(1, a.roadmaps + 1):
            meta = write(work / f"rm{i:03d}.yaml", a.tasks, a.people, seed=i, key=f"rm{i:03d}")
            day = str(meta["as_of"])
            import_file(database(base), work / f"rm{i:03d}.yaml")
        get_engine(database(base)).dispose()  # a template database takes no connections

        from tests.smtp_fixtures import free_port

        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ROADMAP_"))}
        env.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
                   PREFECT_HOME=str(work / "prefect"), PYTHONPATH=str(ROOT),
                   ROADMAP_OUTBOX_DIR=str(work / "mail"), ROADMAP_REPORTS_DIR=str(work / "reports"),
                   ROADMAP_SECRET_KEY="bench-fanout-not-a-secret-0123456789")
        server_env = {**env, "PREFECT_SERVER_DATABASE_CONNECTION_URL": database(prefect_db, "postgresql+asyncpg")}
        procs.append(start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                           server_env, work / "server.log"))

        def healthy() -> bool:
            try:
                return httpx.get(f"{api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, "the Prefect server")
        env.update(PREFECT_API_URL=api, PREFECT_WORKER_QUERY_SECONDS=str(a.query_seconds))
        subprocess.run([str(BIN / "roadmap"), "deploy"], env={**env, "ROADMAP_DATABASE_URL": database(base)}, cwd=ROOT,
                       check=True, capture_output=True)

        def fresh() -> str:
            created.append(copy_of(base))
            return database(created[-1])

        rows = {"plain": {"seconds": plain(fresh(), day, env)}}
        print(json.dumps({"mode": "plain", **rows["plain"], "load_average": os.getloadavg()}), flush=True)
        for w in a.workers:
            rows[w] = fan_out(api, fresh(), day, env, w, a.limit, work, a.batch_size)
            print(json.dumps({"mode": f"fan-out, {w} worker(s), --limit {a.limit}", **rows[w],
                              "load_average": os.getloadavg()}), flush=True)
        n, base_s = a.roadmaps, rows["plain"]["seconds"]
        print(f"{n} roadmaps x {a.tasks} tasks on {day}; plain run {base_s:.1f} s "
              f"({base_s / n:.2f} s per roadmap); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for w in a.workers:
            added = (rows[w]["seconds"] - base_s) / n
            print(f"fan-out, {w} worker(s): {rows[w]['seconds']:.1f} s, adds {added:.2f} s per roadmap "
                  f"(target <= 0.5 s: {'PASS' if added <= 0.5 else 'FAIL'})")
        if 1 in rows and len(a.workers) > 1:
            for w in a.workers[1:]:
                print(f"speed-up of {w} workers over 1: {rows[1]['seconds'] / rows[w]['seconds']:.2f}x")
        return 0
    finally:
        for proc in procs:
            stop(proc)
        for name in created:
            admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

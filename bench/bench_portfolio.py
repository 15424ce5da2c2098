"""Many roadmaps in one database: the portfolio status and the daily cycle of every roadmap.

    .venv/bin/python bench/bench_portfolio.py [--roadmaps 20 200] [--tasks 250] [--people 10]
        [--db postgres|sqlite] [--repeat 3] [--no-run]

For each N: N synthetic roadmaps (bench/synth.py, keys rm001.., N x TASKS tasks, N x PEOPLE
people) imported into a fresh database (PostgreSQL at ROADMAP_BENCH_POSTGRES_URL, default the
local server, a database of its own; or SQLite in var/bench/), then, each as a separate
`roadmap` process measured with wait4 (wall time, peak RSS):

- `roadmap status --format json` (the portfolio; target: <= 2 s for 200 x 250 on PostgreSQL),
  best of --repeat;
- `roadmap run --as-of DAY` over every roadmap: plan, render, record, with the mail written
  as .eml files to a folder (no SMTP), once on the fresh database (target: <= 60 s for
  200 x 250 on one worker).

Prints one JSON line per N. The machine may be shared: report `uptime` with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth import write  # noqa: E402

ROADMAP = str(Path(sys.executable).with_name("roadmap"))
OUT = ROOT / "var" / "bench" / "portfolio"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def fresh_db(kind: str, n: int) -> str:
    if kind == "sqlite":
        path = OUT / f"portfolio-{n}.db"
        for stale in OUT.glob(f"portfolio-{n}.db*"):
            stale.unlink()
        return f"sqlite:///{path}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = os.environ.get("ROADMAP_BENCH_POSTGRES_URL", DEFAULT_PG)
    name = f"roadmap_bench_portfolio_{n}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def drop_db(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from models.db import get_engine

    get_engine(url).dispose()
    admin = os.environ.get("ROADMAP_BENCH_POSTGRES_URL", DEFAULT_PG)
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def setup(url: str, n: int, tasks: int, people: int) -> tuple[str, float]:
    """N roadmaps imported; returns the as-of day of their statuses and the import time."""
    from tasks.roadmap_jobs import import_file

    work = OUT / "yaml"
    work.mkdir(parents=True, exist_ok=True)
    as_of = ""
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        path = work / f"rm{i:03d}.yaml"
        meta = write(path, tasks, people, seed=i, key=f"rm{i:03d}")
        as_of = str(meta["as_of"])
        import_file(url, path)
    return as_of, time.perf_counter() - t0


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of one `roadmap` process, via wait4."""
    stdout = OUT / "stdout.txt"
    with stdout.open("wb") as sink:
        t0 = time.perf_counter()
        proc = subprocess.Popen([ROADMAP, *args], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"roadmap {' '.join(args)} failed ({code}): {err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, stdout.read_text()


def bench(n: int, kind: str, tasks: int, people: int, repeat: int, run: bool = True) -> dict:
    url = fresh_db(kind, n)
    try:
        as_of, import_s = setup(url, n, tasks, people)
        mail = OUT / f"mail-{n}"
        shutil.rmtree(mail, ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
        env.update(PYTHONPATH=str(ROOT), ROADMAP_OUTBOX_DIR=str(mail), ROADMAP_REPORTS_DIR=str(OUT / f"reports-{n}"),
                   ROADMAP_SECRET_KEY="bench-portfolio-not-a-secret-0123456789")
        status = [run_measured(["status", "--as-of", as_of, "--format", "json", "--db", url], env)
                  for _ in range(repeat)]
        doc = json.loads(status[0][2])
        assert len(doc["roadmaps"]) == n
        run_s, run_rss, _ = run_measured(["run", "--as-of", as_of, "--db", url], env) if run else (0.0, 0.0, "")
        return {
            "roadmaps": n, "tasks_each": tasks, "people_each": people, "db": kind, "import_s": round(import_s, 1),
            "status_json_s": round(min(s[0] for s in status), 2),
            "status_json_peak_rss_mib": round(max(s[1] for s in status)),
            "run_s": round(run_s, 1), "run_peak_rss_mib": round(run_rss),
            "messages": len(list(mail.glob("*.eml"))),
            "load_average": os.getloadavg(),
        }
    finally:
        drop_db(url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--roadmaps", type=int, nargs="+", default=[20, 200])
    ap.add_argument("--tasks", type=int, default=250)
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-run", action="store_true", help="only the portfolio status (the run takes minutes)")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for n in a.roadmaps:
        print(json.dumps(bench(n, a.db, a.tasks, a.people, a.repeat, run=not a.no_run)), flush=True)


if __name__ == "__main__":
    main()

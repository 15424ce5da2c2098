"""Many roadmaps in one database: the portfolio status and the daily cycle of every roadmap.

    .venv/bin/python bench/bench_portfolio.py [--roadmaps 20 200] [--tasks 250] [--people 10]
        [--db postgres|sqlite] [--repeat 3] [--no-run] [--keep-template] [--portfolio-report]

For each N: N synthetic roadmaps (bench/synth.py, keys rm001.., N x TASKS tasks, N x PEOPLE
people) imported into a fresh database (PostgreSQL at ROADMAP_BENCH_POSTGRES_URL, default the
local server, a database of its own; or SQLite in var/bench/), then, each as a separate
`roadmap` process measured with wait4 (wall time, peak RSS):

- `roadmap status --format json` (the portfolio; target: <= 2 s for 200 x 250 on PostgreSQL),
  best of --repeat;
- with --portfolio-report, `roadmap report --portfolio` (one DOCX of every roadmap: the summary
  table, the risk heat map, a page per roadmap; no Gantt chart), best of --repeat;
- `roadmap run` over every roadmap: plan, render, record, with the mail written as .eml files
  to a folder (no SMTP), on two days in a row of the fresh database (target: <= 60 s for
  200 x 250 on one worker):
  * ``report_day``: the synthetic roadmaps' as-of day, Monday 2 June 2025, their report day.
    Each roadmap writes its weekly DOCX report (with its Gantt chart) and mails it, and, being
    the first run, sends every owner the calendar entries of all their open tasks;
  * ``next_day``: Tuesday 3 June 2025, an ordinary day: reminders and escalations only, as on
    four days of five.

With --keep-template (PostgreSQL) the imported roadmaps are kept as a template database
(roadmap_bench_portfolio_tpl_N_TASKS_PEOPLE) and each later measurement starts from a copy of it
(CREATE DATABASE ... TEMPLATE), so before/after figures need the import only once; drop it with
`DROP DATABASE` when done.

Prints one JSON line per N (figures: docs/cli.md, "Many roadmaps: figures"). The machine may
be shared: report `uptime` with the figures; the CPU seconds move less with the load than the wall.
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
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth import generate, write  # noqa: E402

ROADMAP = str(Path(sys.executable).with_name("roadmap"))
OUT = ROOT / "var" / "bench" / "portfolio"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def template_name(n: int, tasks: int, people: int) -> str:
    return f"roadmap_bench_portfolio_tpl_{n}_{tasks}_{people}"


def admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(os.environ.get("ROADMAP_BENCH_POSTGRES_URL", DEFAULT_PG), isolation_level="AUTOCOMMIT")


def from_template(n: int, tasks: int, people: int) -> str | None:
    """A copy of the kept template database for these sizes, or None when there is none."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    tpl, engine = template_name(n, tasks, people), admin_engine()
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": tpl}).first() is None:
            engine.dispose()
            return None
        name = f"roadmap_bench_portfolio_{n}_{uuid.uuid4().hex[:6]}"
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"'))
    engine.dispose()
    return make_url(os.environ.get("ROADMAP_BENCH_POSTGRES_URL", DEFAULT_PG)).set(database=name).render_as_string(
        hide_password=False)


def keep_as_template(url: str, n: int, tasks: int, people: int) -> None:
    """The freshly imported database copied as the template of these sizes (nothing sent yet)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from models.db import get_engine

    get_engine(url).dispose()
    engine = admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{template_name(n, tasks, people)}" TEMPLATE "{make_url(url).database}"'))
    engine.dispose()


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


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS MiB, stdout, CPU seconds) of one `roadmap` process, via wait4.
    On a shared machine the CPU seconds (user + system) move less than the wall time."""
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
    return elapsed, usage.ru_maxrss / 1024, stdout.read_text(), usage.ru_utime + usage.ru_stime


def bench(n: int, kind: str, tasks: int, people: int, repeat: int, run: bool = True, keep: bool = False,
          portfolio_report: bool = False) -> dict:
    copy = from_template(n, tasks, people) if kind == "postgres" and keep else None
    url = copy or fresh_db(kind, n)
    try:
        if copy:
            as_of, import_s = str(generate(tasks, people, seed=1, with_meta=True)[1]["as_of"]), 0.0
        else:
            as_of, import_s = setup(url, n, tasks, people)
            if keep and kind == "postgres":
                keep_as_template(url, n, tasks, people)
        mail = OUT / f"mail-{n}"
        shutil.rmtree(mail, ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
        env.update(PYTHONPATH=str(ROOT), ROADMAP_OUTBOX_DIR=str(mail), ROADMAP_REPORTS_DIR=str(OUT / f"reports-{n}"),
                   ROADMAP_SECRET_KEY="bench-portfolio-not-a-secret-0123456789")
        status = [run_measured(["status", "--as-of", as_of, "--format", "json", "--db", url], env)
                  for _ in range(repeat)]
        doc = json.loads(status[0][2])
        assert len(doc["roadmaps"]) == n
        report: dict = {}
        if portfolio_report:
            runs = [run_measured(["report", "--portfolio", "--as-of", as_of, "--db", url], env) for _ in range(repeat)]
            path = Path(runs[0][2].strip())
            report = {"s": round(min(r[0] for r in runs), 2), "cpu_s": round(min(r[3] for r in runs), 2),
                      "peak_rss_mib": round(max(r[1] for r in runs)), "docx_kib": round(path.stat().st_size / 1024)}
        days = {}
        if run:
            from models.calendar import calendar_for

            next_day = calendar_for("RU").next_business_day(date.fromisoformat(as_of)).isoformat()
            for name, day in (("report_day", as_of), ("next_day", next_day)):
                before = len(list(mail.glob("*.eml")))
                wall, rss, _, cpu = run_measured(["run", "--as-of", day, "--db", url], env)
                days[name] = {"day": day, "s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mib": round(rss),
                              "messages": len(list(mail.glob("*.eml"))) - before}
        return {
            "roadmaps": n, "tasks_each": tasks, "people_each": people, "db": kind, "import_s": round(import_s, 1),
            "status_json_s": round(min(s[0] for s in status), 2),
            "status_json_cpu_s": round(min(s[3] for s in status), 2),
            "status_json_peak_rss_mib": round(max(s[1] for s in status)),
            "portfolio_report": report,
            "run": days,
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
    ap.add_argument("--keep-template", action="store_true",
                    help="PostgreSQL: keep the imported roadmaps as a template database and start from a copy")
    ap.add_argument("--portfolio-report", action="store_true", help="also time `roadmap report --portfolio`")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for n in a.roadmaps:
        row = bench(n, a.db, a.tasks, a.people, a.repeat, run=not a.no_run, keep=a.keep_template,
                    portfolio_report=a.portfolio_report)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

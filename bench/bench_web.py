"""Benchmark: the web app on the 10,000-task synthetic roadmap.

Measured in-process through the ASGI app (FastAPI's TestClient: routing, authentication,
database, template; no network), each figure the median of --repeat requests after one
warm-up request (the first request is shown as "cold"):
  roadmap page     GET /roadmaps/<key> with basic auth           target < 500 ms
  task page        GET a task page from a signed link            (for reference)
  status update    POST a progress change from the task page and follow the 303 back to
                   the page: the round trip a person clicks      target < 100 ms
  new forecast     POST a new date that moves dependents, plus the redirect   target < 100 ms
  mark done        POST done on another day each time (moves dependents)      target < 100 ms
  update_task only the same progress change through tasks.roadmap_jobs.change_task (what
                   `roadmap task update` runs, without process start-up): the part of the
                   round trip spent in models/updates.update_task and the rescheduling
                   (models/planning.py), not in the web layer
The roadmap file comes from bench/synth.py (--tasks, --people 500, seed 1) and is imported
with the real CLI (`roadmap import FILE --db sqlite:///...`); the app's clock is the file's
as-of day, so about the share of tasks synth makes overdue are overdue.

Run:  .venv/bin/python bench/bench_web.py [--tasks 10000] [--repeat 15] [--keep DIR]
          [--db URL (an already imported database; skips synth and import)]

With --portfolio N it measures the portfolio page instead (GET /portfolio with basic auth: every
active roadmap's row, models/portfolio.py), on N synthetic roadmaps of --tasks-each tasks and
--people-each people (bench/bench_portfolio.py's): on a copy of its PostgreSQL template database
(roadmap_bench_portfolio_tpl_N_TASKS_PEOPLE; made first when missing, as its --keep-template
does) dropped afterwards, or on --db URL (such roadmaps already imported, e.g. a SQLite file).
The app's clock is their as-of day, Monday 2 June 2025.
The machine has 2 cores shared with whatever else runs: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-long-enough-for-settings"
PASSWORD = "bench-password"


def timed(func, repeat: int) -> tuple[float, list[float], list[float]]:
    """(cold ms, warm wall ms list, warm CPU ms list); CPU time moves less on a busy machine."""
    t = time.perf_counter()
    func()
    cold = (time.perf_counter() - t) * 1000
    warm, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        func()
        warm.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return cold, warm, cpu


def show(name: str, cold: float, warm: list[float], cpu: list[float], target: float | None) -> bool:
    med = statistics.median(warm)
    p95 = sorted(warm)[max(0, int(len(warm) * 0.95) - 1)]
    verdict = "" if target is None else ("  PASS" if med < target else "  FAIL") + f" (target < {target:.0f} ms)"
    print(f"  {name:<15} median {med:7.1f} ms   p95 {p95:7.1f} ms   min {min(warm):7.1f} ms   "
          f"CPU median {statistics.median(cpu):7.1f} ms   cold {cold:7.1f} ms{verdict}")
    return target is None or med < target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="folder for the YAML and the database (default a temp dir)")
    parser.add_argument("--db", help="an already imported database URL")
    parser.add_argument("--portfolio", type=int, metavar="N", help="the portfolio page of N roadmaps instead")
    parser.add_argument("--tasks-each", type=int, default=250, help="with --portfolio")
    parser.add_argument("--people-each", type=int, default=10, help="with --portfolio")
    args = parser.parse_args()

    os.environ["ROADMAP_SECRET_KEY"] = SECRET
    os.environ["ROADMAP_WEB_PASSWORD"] = PASSWORD
    os.environ.setdefault("PREFECT_HOME", str(ROOT / "var" / "prefect"))
    if args.portfolio:
        return portfolio_page(args)
    url = args.db
    work = args.keep or (Path(tempfile.mkdtemp(prefix="bench-web-")) if url is None else None)
    if url is None:
        assert work is not None
        work.mkdir(parents=True, exist_ok=True)
        yaml_path = work / f"synth-{args.tasks}.yaml"
        db_path = work / f"synth-{args.tasks}.db"
        if db_path.exists():
            db_path.unlink()
        subprocess.run([sys.executable, str(ROOT / "bench" / "synth.py"), "--tasks", str(args.tasks),
                        "--people", str(args.people), "--out", str(yaml_path)], check=True)
        url = f"sqlite:///{db_path}"
        t = time.perf_counter()
        subprocess.run([str(ROOT / ".venv" / "bin" / "roadmap"), "import", str(yaml_path), "--db", url],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"imported {yaml_path.name} in {time.perf_counter() - t:.1f} s")

    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from config import Settings, reset_settings_cache
    from models.db import session_scope
    from models.roadmaps import select_roadmap
    from models.schema import Task
    from tasks.render_mail import task_links
    from web.app import create_app

    reset_settings_cache()
    with session_scope(url) as s:
        roadmap = select_roadmap(s, None)
        key, session_date = roadmap.key, roadmap.session_date
        tasks = s.scalar(select(func.count()).select_from(Task).where(Task.roadmap_id == roadmap.id))
        # The file's as-of day is in its header comment; else 15% into the roadmap.
        as_of = _as_of_from_file(roadmap.source_path) or session_date + timedelta(days=60)
        # An open task that others wait for, so that a new date moves something.
        depends = s.execute(select(Task.depends_on).where(Task.roadmap_id == roadmap.id))
        deps = {d for (row,) in depends for d in row or []}
        task = s.scalars(select(Task).where(Task.roadmap_id == roadmap.id, Task.status.in_(("planned", "in_progress")),
                                            Task.key.in_(list(deps))).order_by(Task.position)).first()
        task_key, owner = task.key, task.owner
    now = datetime.combine(as_of, dtime(9), tzinfo=UTC)
    client = TestClient(create_app(url, Settings(), clock=lambda: now), base_url="http://127.0.0.1:8000")
    page_url = task_links(SECRET, "", key, task_key, owner, as_of).page

    load = os.getloadavg()
    print(f"{tasks} tasks, as of {as_of}; task {task_key} (owner {owner}); load average {load[0]:.2f}")

    def roadmap_page() -> None:
        r = client.get(f"/roadmaps/{key}", auth=("office", PASSWORD))
        assert r.status_code == 200, r.status_code

    def task_page() -> str:
        r = client.get(page_url)
        assert r.status_code == 200, r.status_code
        return r.text

    html = task_page()
    fields = {name: unescape(value) for name, value in
              re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html)}
    progress = iter(range(1, 10_000))

    def update() -> None:
        data = {"token": fields["token"], "csrf": fields["csrf"], "action": "progress",
                "progress": str(next(progress) % 100 + 1)}
        r = client.post(f"/roadmaps/{key}/tasks/{task_key}", data=data, follow_redirects=True)
        assert r.status_code == 200 and "role=\"status\"" in r.text, r.status_code

    days = iter(range(1, 10_000))

    def forecast() -> None:
        data = {"token": fields["token"], "csrf": fields["csrf"], "action": "forecast",
                "forecast": (as_of + timedelta(days=20 + next(days) % 40)).isoformat(), "reason": "bench"}
        r = client.post(f"/roadmaps/{key}/tasks/{task_key}", data=data, follow_redirects=True)
        assert r.status_code == 200, r.status_code

    done_days = iter(range(1, 10_000))

    def mark_done() -> None:
        data = {"token": fields["token"], "csrf": fields["csrf"], "action": "done",
                "on": (as_of - timedelta(days=next(done_days) % 20)).isoformat()}
        r = client.post(f"/roadmaps/{key}/tasks/{task_key}", data=data, follow_redirects=True)
        assert r.status_code == 200, r.status_code

    ok = show("roadmap page", *timed(roadmap_page, args.repeat), 500)
    show("task page", *timed(task_page, args.repeat), None)
    ok &= show("status update", *timed(update, args.repeat), 100)
    ok &= show("new forecast", *timed(forecast, args.repeat), 100)
    ok &= show("mark done", *timed(mark_done, args.repeat), 100)

    from tasks.roadmap_jobs import change_task

    def core() -> None:
        change_task(url, key, task_key, progress=next(progress) % 100 + 1, source="web", actor="bench")

    show("update_task", *timed(core, args.repeat), None)
    print(f"load average after {os.getloadavg()[0]:.2f}" + (f"; files in {work}" if work else ""))
    return 0 if ok else 1


def portfolio_page(args: argparse.Namespace) -> int:
    """GET /portfolio over --portfolio N roadmaps (see the module's docstring)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_portfolio as bp
    from fastapi.testclient import TestClient
    from synth import generate

    from config import Settings, reset_settings_cache
    from web.app import create_app

    n, tasks, people = args.portfolio, args.tasks_each, args.people_each
    url, copy = args.db, None
    if url is None:
        copy = bp.from_template(n, tasks, people)
        if copy is None:  # no template yet: import once and keep it, as bench_portfolio --keep-template
            fresh = bp.fresh_db("postgres", n)
            t = time.perf_counter()
            bp.setup(fresh, n, tasks, people)
            print(f"imported {n} roadmaps x {tasks} tasks in {time.perf_counter() - t:.1f} s")
            bp.keep_as_template(fresh, n, tasks, people)
            bp.drop_db(fresh)
            copy = bp.from_template(n, tasks, people)
        url = copy
    try:
        as_of = generate(tasks, people, seed=1, with_meta=True)[1]["as_of"]
        now = datetime.combine(as_of, dtime(9), tzinfo=UTC)
        reset_settings_cache()
        client = TestClient(create_app(url, Settings(), clock=lambda: now), base_url="http://127.0.0.1:8000")
        rows = 0

        def page() -> None:
            nonlocal rows
            r = client.get("/portfolio", auth=("office", PASSWORD))
            assert r.status_code == 200, r.status_code
            rows = r.text.count('<a href="/roadmaps/')

        print(f"{n} roadmaps x {tasks} tasks on {url.split(':')[0]}, as of {as_of}; "
              f"load average {os.getloadavg()[0]:.2f}")
        show("portfolio page", *timed(page, args.repeat), None)
        print(f"{rows} roadmap rows; load average after {os.getloadavg()[0]:.2f}")
        return 0
    finally:
        if copy:
            bp.drop_db(copy)


def _as_of_from_file(path: str | None) -> date | None:
    try:
        head = Path(path or "").read_text(encoding="utf-8")[:400]
    except OSError:
        return None
    m = re.search(r"statuses as of (\d{4}-\d\d-\d\d)", head)
    return date.fromisoformat(m.group(1)) if m else None


if __name__ == "__main__":
    raise SystemExit(main())

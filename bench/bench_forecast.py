"""Benchmark: the forward pass (models/forecast.py) for 10,000 tasks; target < 0.3 s (issue 12).

Setup (not timed): ``bench/synth.py`` writes a roadmap of N tasks (5 % of the tasks due
before its as-of day left open and late, so the pass has late chains to carry), imported
into a fresh SQLite file. Timed, best of ``--repeat``:

1. ``forward_pass``: the pass itself over the tasks as rows (expected start and finish,
   then the backward pass for slack and the critical path) - the figure of the target;
2. ``roadmap_forecast``: reading the nine columns it needs from the database, then the pass
   (what the task page pays).

Run:  .venv/bin/python bench/bench_forecast.py [--tasks 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from sqlalchemy import select  # noqa: E402
from synth import write  # noqa: E402

from models.db import session_scope, upgrade  # noqa: E402
from models.forecast import COLUMNS, forward_pass, roadmap_forecast  # noqa: E402
from models.planning import roadmap_calendar  # noqa: E402
from models.schema import Roadmap, Task  # noqa: E402
from tasks.roadmap_jobs import import_file  # noqa: E402

TARGET = 0.3  # seconds, for 10,000 tasks


def best(repeat: int, run) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roadmap.yaml"
        meta = write(path, a.tasks, 500, seed=1)
        url = f"sqlite:///{tmp}/roadmap.db"
        upgrade(url)
        import_file(url, path)
        as_of = meta["as_of"] if isinstance(meta["as_of"], date) else date.fromisoformat(str(meta["as_of"]))
        with session_scope(url) as session:
            roadmap = session.scalars(select(Roadmap)).one()
            cal = roadmap_calendar(roadmap)
            t = Task.__table__
            rows = session.execute(
                select(*(t.c[name] for name in COLUMNS)).where(t.c.roadmap_id == roadmap.id, t.c.archived.is_(False))
            ).all()
            result = forward_pass(rows, as_of, cal)  # type: ignore[arg-type]  # warm the calendar
            late = sum(1 for r in rows if r.key in result and result[r.key].finish > r.due)
            critical = sum(1 for e in result.values() if e.critical)
            pass_s = best(a.repeat, lambda: forward_pass(rows, as_of, cal))  # type: ignore[arg-type]
            read_s = best(a.repeat, lambda: roadmap_forecast(session, roadmap.id, as_of, cal))
    verdict = "ok" if pass_s < TARGET or a.tasks != 10_000 else "MISSED"
    print(f"forward pass, {len(rows)} tasks as of {as_of} ({late} expected late, {critical} critical): "
          f"{pass_s:.3f} s (target < {TARGET} s for 10,000: {verdict}); "
          f"with reading the columns: {read_s:.3f} s")


if __name__ == "__main__":
    main()

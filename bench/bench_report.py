"""Benchmark: the weekly report end to end, from the database, for 1,000 and 10,000 tasks.

What is timed (targets from issue 4: under 2 s for 1,000 tasks, under 10 s for 10,000,
chart included):

1. ``write_weekly_report`` in-process (a fresh child interpreter per size, imports done
   first and timed apart): read the roadmap (Core select of the tasks), compute the status
   of every task, compare with last week's snapshot, draw the Gantt PNG, write the DOCX,
   save this week's snapshot. Cold = the first call (empty caches, first matplotlib draw);
   warm = the best of the following calls (the same week again: the snapshot is replaced).
   One more call is split into its phases (build / chart / docx / snapshot).
2. ``roadmap report`` as a subprocess, as cron or a person runs it: interpreter start,
   imports, the same work; best and median of ``--repeat`` runs, their CPU time and the load
   average before them. Peak RSS from ``wait4``.
3. The floor, in the same run unless ``--no-floor``: one python-docx table of 9 columns built and saved,
   (a) with as many rows as the roadmap has tasks, and (b) with as many rows as the report
   actually wrote (``<w:tr>`` in its document.xml), each filled through the documented
   ``add_row().cells`` and through ``add_table`` (tasks/docx_tables.py, what the report uses).

Setup per size (not timed in the figures): ``python bench/synth.py --tasks N --people 500``,
``roadmap import`` into a fresh SQLite file, and a report for the week before, so the
measured week has a previous snapshot to compare with, like every week but the first.

Reading the ratio (figures of one run, 2 shared CPUs, in docs/report.md): the report never
tabulates every task: each section shows at most ROADMAP_REPORT_MAX_ROWS rows, the appendix only
the cut lists (~530 rows for 10,000 tasks), so it stays far below python-docx's documented
add_row for a bare table of 10,000 rows (~19 s). Against the floor of the rows it does write it
costs a few times more: the tables are a small part; the rest is reading and computing the
status of every task (grows with tasks), the chart (~0.4 s, fixed: at most two pages) and the
document shell. The CLI adds the interpreter and the imports (~0.9 s CPU: matplotlib with numpy,
SQLAlchemy and pydantic the largest), which are half of it at 1,000 tasks. Judge the CLI by its
CPU time and the load printed beside it: on a loaded machine its wall time doubles or worse.

Run:  .venv/bin/python bench/bench_report.py [--sizes 1000 10000] [--repeat 3] [--no-floor]
Files go to bench/out/report-<N>/ (ignored by git).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
PY = sys.executable
ROADMAP = str(Path(PY).with_name("roadmap"))
FLOOR_COLS = 9  # the widest task table of the report (next two weeks)
TARGET_S = {1000: 2.0, 10000: 10.0}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _env(reports: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    env.update(ROADMAP_REPORTS_DIR=str(reports), PYTHONPATH=str(ROOT))
    return env


# ---------------------------------------------------------------------------------------------
# setup
# ---------------------------------------------------------------------------------------------


def setup(n_tasks: int, people: int) -> tuple[str, dt.date, Path, dict]:
    """Synthetic roadmap imported into a fresh SQLite database; returns (url, as_of, dir, info)."""
    work = OUT / f"report-{n_tasks}"
    work.mkdir(parents=True, exist_ok=True)
    yaml_path, db = work / "synth.yaml", work / "roadmap.db"
    for stale in work.glob("roadmap.db*"):
        stale.unlink()
    done = subprocess.run(
        [PY, str(ROOT / "bench" / "synth.py"), "--tasks", str(n_tasks), "--people", str(people),
         "--out", str(yaml_path)], check=True, capture_output=True, text=True, cwd=ROOT,
    )
    as_of = dt.date.fromisoformat(re.search(r"as of (\d{4}-\d\d-\d\d)", done.stdout).group(1))
    url = f"sqlite:///{db}"
    t0 = time.perf_counter()
    subprocess.run([ROADMAP, "import", str(yaml_path), "--db", url], check=True,
                   capture_output=True, text=True, cwd=ROOT, env=_env(work))
    import_s = time.perf_counter() - t0
    # last week's report: the measured week then compares with a snapshot, as every week does
    subprocess.run([PY, __file__, "--child-previous", url, as_of.isoformat()], check=True,
                   capture_output=True, text=True, cwd=ROOT, env=_env(work))
    return url, as_of, work, {"db_import_s": import_s}


def child_previous(url: str, as_of: str) -> None:
    from tasks.report_jobs import write_weekly_report

    day = dt.date.fromisoformat(as_of) - dt.timedelta(days=7)
    write_weekly_report(url, None, day, out=OUT / "previous.docx")


# ---------------------------------------------------------------------------------------------
# 1. in-process
# ---------------------------------------------------------------------------------------------


def child_inprocess(url: str, as_of: str, out_dir: str, repeat: int) -> dict:
    t0 = time.perf_counter()
    from tasks.report_jobs import snapshots, write_weekly_report

    import_s = time.perf_counter() - t0
    rss_imports = _rss_mib()
    day = dt.date.fromisoformat(as_of)
    out = Path(out_dir) / "inprocess.docx"
    times = []
    for _ in range(1 + repeat):
        t1 = time.perf_counter()
        path = write_weekly_report(url, None, day, out=out)
        times.append(time.perf_counter() - t1)
    peak_rss = _rss_mib()
    phases = _phases(url, day, Path(out_dir))
    import tracemalloc

    tracemalloc.start()
    write_weekly_report(url, None, day, out=out)
    heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    with zipfile.ZipFile(path) as z:
        rows = z.read("word/document.xml").count(b"<w:tr>")
    return {
        "py_import_s": import_s, "cold_s": times[0], "warm_s": min(times[1:]),
        "rss_imports_mib": rss_imports, "peak_rss_mib": peak_rss, "heap_peak_mib": heap_peak,
        "rows": rows, "docx_kib": path.stat().st_size / 1024, "phases": phases,
        "snapshots": len(snapshots(url, None)),
    }


def _phases(url: str, day: dt.date, out_dir: Path) -> dict[str, float]:
    """One more report, timed phase by phase (the steps of ``write_weekly_report``)."""
    from config import get_settings
    from models.db import session_scope
    from models.report_builder import build_report
    from models.roadmaps import select_roadmap
    from tasks.gantt import render_gantt
    from tasks.report_docx import render_report
    from tasks.report_jobs import save_snapshot

    t0 = time.perf_counter()
    with session_scope(url) as session:
        roadmap = select_roadmap(session, None)
        ctx, state = build_report(session, roadmap, day,
                                  generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
                                  max_rows=get_settings().report_max_rows)
        roadmap_id = roadmap.id
    t1 = time.perf_counter()
    chart = render_gantt(ctx.gantt, ctx.as_of, out_dir / "phases.png", lang=ctx.language)
    t2 = time.perf_counter()
    render_report(ctx, out_dir / "phases.docx", chart_png=chart)
    t3 = time.perf_counter()
    with session_scope(url) as session:
        save_snapshot(session, roadmap_id, ctx, state)
    t4 = time.perf_counter()
    return {"build": t1 - t0, "chart": t2 - t1, "docx": t3 - t2, "snapshot": t4 - t3}


# ---------------------------------------------------------------------------------------------
# 2. the CLI
# ---------------------------------------------------------------------------------------------


def run_cli(url: str, as_of: dt.date, work: Path, repeat: int) -> dict:
    walls, cpus, peak = [], [], 0.0
    load = os.getloadavg()[0]
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [ROADMAP, "report", "--as-of", as_of.isoformat(), "--db", url,
             "--out", str(work / "cli.docx")],
            cwd=ROOT, env=_env(work), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode:
            raise SystemExit(f"roadmap report failed ({proc.returncode}): {stderr}")
        walls.append(elapsed)
        cpus.append(usage.ru_utime + usage.ru_stime)
        peak = max(peak, usage.ru_maxrss / 1024)
    return {"cli_s": min(walls), "cli_median_s": statistics.median(walls), "cli_cpu_s": min(cpus),
            "cli_peak_rss_mib": peak, "cli_load": load}


def font_cache() -> str:
    """Where matplotlib keeps its font list, and whether it is there to be reused: without a
    writable, lasting cache folder (MPLCONFIGDIR, docs/deployment.md) every run rebuilds it,
    which the figures here would not show."""
    done = subprocess.run([PY, "-c", "import matplotlib, pathlib; d = matplotlib.get_cachedir(); "
                           "print(d, any(pathlib.Path(d).glob('fontlist-*.json')))"],
                          check=True, capture_output=True, text=True, env=_env(OUT))
    folder, kept = done.stdout.split()
    return f"matplotlib font cache {folder}: " + ("kept between runs" if kept == "True" else "MISSING, rebuilt")


# ---------------------------------------------------------------------------------------------
# 3. the floor
# ---------------------------------------------------------------------------------------------


def child_floor(n_rows: int, method: str) -> dict:
    """One 9-column table of ``n_rows`` rows, built and saved; add_row runs once (slow)."""
    from docx import Document

    from tasks.docx_tables import add_table

    texts = [[f"Ячейка {r}:{c}" for c in range(FLOOR_COLS)] for r in range(n_rows)]
    best = float("inf")
    for _ in range(1 if method == "add_row" else 3):
        doc = Document()
        t0 = time.perf_counter()
        if method == "add_row":
            table = doc.add_table(rows=0, cols=FLOOR_COLS)
            table.style = doc.styles["Table Grid"]
            for row in texts:
                for cell, text in zip(table.add_row().cells, row, strict=True):
                    cell.text = text
        else:
            add_table(doc, [1] * FLOOR_COLS, texts, None, 9000)
        doc.save(io.BytesIO())
        best = min(best, time.perf_counter() - t0)
    return {"seconds": best}


def _child(*args: str) -> dict:
    done = subprocess.run([PY, __file__, *args], check=True, capture_output=True, text=True,
                          cwd=ROOT, env=_env(OUT))
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--floor", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the python-docx table floor (over a minute of CPU at 10,000 rows)")
    parser.add_argument("--child-inprocess", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child-previous", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-floor", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_inprocess:
        print(json.dumps(child_inprocess(*args.child_inprocess, args.repeat)))
        return
    if args.child_previous:
        child_previous(*args.child_previous)
        return
    if args.child_floor:
        print(json.dumps(child_floor(int(args.child_floor[0]), args.child_floor[1])))
        return

    load = os.getloadavg()[0]
    print(f"# {os.cpu_count()} CPUs, load average {load:.1f} at the start; "
          f"best of {args.repeat} warm runs; {font_cache()}\n")
    results = []
    for n in args.sizes:
        url, as_of, work, info = setup(n, args.people)
        r = _child("--child-inprocess", url, as_of.isoformat(), str(work), "--repeat",
                   str(args.repeat))
        r.update(info, tasks=n, as_of=as_of.isoformat())
        r.update(run_cli(url, as_of, work, args.repeat))
        for rows, tag in ((n, "tasks"), (r["rows"], "rows")) if args.floor else ():
            for method in ("add_row", "add_table"):
                r[f"floor_{method}_{tag}_s"] = _child("--child-floor", str(rows), method)["seconds"]
        results.append(r)

    print(f"{'tasks':>6} {'import':>6} | {'cold s':>6} {'warm s':>6} {'build':>5} {'chart':>5} "
          f"{'docx':>5} {'snap':>5} | {'CLI s':>5} {'med':>5} {'CPU s':>5} {'load':>4} {'target':>7} | "
          f"{'peak RSS MiB':>12} {'CLI RSS':>7} {'heap':>5} | {'rows':>5} {'KiB':>4}")
    for r in results:
        p = r["phases"]
        target = TARGET_S.get(r["tasks"])
        ok = "" if target is None else ("ok" if max(r["cold_s"], r["cli_s"]) < target else "OVER")
        print(f"{r['tasks']:>6} {r['db_import_s']:>6.1f} | {r['cold_s']:>6.2f} {r['warm_s']:>6.2f} "
              f"{p['build']:>5.2f} {p['chart']:>5.2f} {p['docx']:>5.2f} {p['snapshot']:>5.2f} | "
              f"{r['cli_s']:>5.2f} {r['cli_median_s']:>5.2f} {r['cli_cpu_s']:>5.2f} {r['cli_load']:>4.1f} "
              f"{('<' + str(target)) if target else '':>5} "
              f"{ok:>2} | "
              f"{r['peak_rss_mib']:>5.0f} ({r['rss_imports_mib']:>4.0f}) {r['cli_peak_rss_mib']:>7.0f} "
              f"{r['heap_peak_mib']:>5.0f} | {r['rows']:>5} {r['docx_kib']:>4.0f}")
    if args.floor:
        print_floor(results)
    print(
        "\nimport = `roadmap import` of the synthetic file (setup, not part of the report);\n"
        "cold = first write_weekly_report in a fresh interpreter (imports excluded: "
        f"{results[0]['py_import_s']:.1f} s); warm = best later call;\n"
        "build/chart/docx/snap = phases of one more call; CLI = `roadmap report` wall time "
        "(interpreter, imports, report), best and median of the runs; CPU = its user+system time "
        "(less sensitive to the load of a shared machine); load = 1-minute load average before "
        "the CLI runs;\n"
        "peak RSS = the in-process child after all calls (in brackets: after imports); "
        "heap = tracemalloc peak of one call;\n"
        "rows = <w:tr> the report wrote (sections cut at ROADMAP_REPORT_MAX_ROWS, full lists "
        "in the appendix).\n"
        f"snapshots after the runs: {[r['snapshots'] for r in results]} per roadmap "
        "(last week's + this week's, replaced in place on every regeneration)."
    )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    (OUT / "bench_report.json").write_text(json.dumps(results, indent=1))


def print_floor(results: list[dict]) -> None:
    print("\nfloor: one python-docx table of 9 columns, built and saved (seconds)")
    print(f"{'tasks':>6} | {'rows=tasks':>10} {'add_row':>8} {'add_table':>9} | "
          f"{'rows=report':>11} {'add_row':>8} {'add_table':>9} | {'warm/add_row(tasks)':>19} "
          f"{'warm/add_table(report)':>21}")
    for r in results:
        print(f"{r['tasks']:>6} | {r['tasks']:>10} {r['floor_add_row_tasks_s']:>8.2f} "
              f"{r['floor_add_table_tasks_s']:>8.2f} | {r['rows']:>11} "
              f"{r['floor_add_row_rows_s']:>8.2f} {r['floor_add_table_rows_s']:>8.2f} | "
              f"{r['warm_s'] / r['floor_add_row_tasks_s']:>19.2f} "
              f"{r['warm_s'] / r['floor_add_table_rows_s']:>21.1f}")


if __name__ == "__main__":
    main()

"""Benchmark: weekly report rendering (Gantt PNG + DOCX) for 1,000 and 10,000 tasks.

Why: the report must stay under 2 s for 1,000 tasks and 10 s for 10,000 on the 2-core
machine, and python-docx has quadratic traps (``table.cell(i, j)``). Each size runs in its own
subprocess so ``ru_maxrss`` is that size's peak memory, not the largest so far. In the same run
the floor is measured: one python-docx table with as many rows and columns as the report
writes, filled (a) through bare ``add_row().cells`` and (b) through ``tasks/docx_tables.add_table``
(what the report uses); the ratio report/floor says how much the report costs beyond its tables.

Run:  .venv/bin/python bench/bench_report_render.py [--sizes 1000 10000]
Output files go to bench/out/ (ignored by git).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
FLOOR_COLS = 9  # the widest task table (next two weeks)
REPEAT = 3


def make_context(n_tasks: int, seed: int = 7, *, list_all: bool = False):
    """A synthetic Russian roadmap: ~10 stages, ~100 risks, ~10 % of tasks overdue.

    ``list_all`` is the worst case for the tables: every task that is neither overdue nor
    blocked is put in "next two weeks", so the appendix lists all of them.
    """
    from models.report_data import (
        ChangeItem,
        Changes,
        EscalationSent,
        GanttBar,
        MessagesSummary,
        MovedTask,
        ReportContext,
        RiskRow,
        StageRow,
        Summary,
        TaskRow,
    )
    from models.report_rules import decision_sentences, heatmap_counts, overall_rag, report_week

    rng = random.Random(seed)
    as_of = dt.date(2025, 3, 12)
    first = dt.date(2024, 9, 2)
    owners = [f"Сотрудник {i:03d}" for i in range(max(20, n_tasks // 50))]
    partners = [f"ООО Партнёр {i:02d}" for i in range(30)]
    stages, gantt = [], []
    for s in range(10):
        start = first + dt.timedelta(days=36 * s)
        end = start + dt.timedelta(days=45)
        rag = rng.choice(["green", "green", "amber", "red"])
        stages.append(StageRow(key=f"S{s + 1}", title=f"Этап {s + 1}: направление {s + 1}",
                               start=start, end=end,
                               forecast_end=end + dt.timedelta(days=rng.choice([0, 0, 3, 10])),
                               progress=rng.randint(0, 100), rag=rag))
        gantt.append(GanttBar(label=f"S{s + 1} Этап {s + 1}", kind="stage", stage=f"S{s + 1}", start=start,
                              end=end, expected=stages[-1].forecast_end, baseline_start=start, baseline_end=end,
                              rag=rag))
    overdue, blocked, upcoming = [], [], []
    for i in range(n_tasks):
        stage = stages[i % 10]
        start = stage.start + dt.timedelta(days=rng.randint(0, 30))
        due = start + dt.timedelta(days=rng.randint(3, 20))
        late = i % 10 == 0  # 10 % overdue
        critical = i % 13 == 0
        task = TaskRow(
            key=f"T-{i:05d}", title=f"Задача {i}: подготовить материалы и согласовать",
            stage=stage.key, owner=rng.choice(owners),
            partners=rng.sample(partners, rng.choice([0, 1, 1, 2])),
            start=start, due=as_of - dt.timedelta(days=rng.randint(1, 30)) if late else due,
            baseline_due=due, status="in_progress", progress=rng.randint(0, 90),
            days_late=rng.randint(1, 20) if late else 0, rag="red" if late else "green",
            critical=critical, escalation_level=rng.choice([0, 1, 2]) if late else 0,
        )
        if late:
            overdue.append(task)
        elif i % 97 == 0:
            task.status, task.blocked_by = "blocked", [f"T-{i - 1:05d}"]
            blocked.append(task)
        elif list_all or as_of < task.due <= as_of + dt.timedelta(days=14):
            upcoming.append(task)
        gantt.append(GanttBar(label=f"{task.key} {task.title}", stage=stage.key, start=start,
                              end=max(start, task.due), expected=max(start, task.due, as_of) if late else due,
                              baseline_start=start, baseline_end=due,
                              rag=task.rag, critical=critical))
    risks = [RiskRow(key=f"R-{r:03d}", title=f"Риск {r}", owner=rng.choice(owners),
                     probability=rng.randint(1, 5), impact=rng.randint(1, 5),
                     mitigation="Меры по снижению риска", review_date=as_of,
                     status=rng.choice(["open", "open", "mitigated", "closed"]))
             for r in range(100)]
    changes = Changes(
        completed=[ChangeItem(key=f"T-{i:05d}", title=f"Задача {i}")
                   for i in range(1, n_tasks, 50)],
        newly_overdue=[ChangeItem(key=t.key, title=t.title) for t in overdue[::10]],
        moved=[MovedTask(key=t.key, title=t.title, old_due=t.baseline_due, new_due=t.due)
               for t in overdue[::7]],
        new_risks=[ChangeItem(key=r.key, title=r.title) for r in risks[:3]],
        closed_risks=[ChangeItem(key=r.key, title=r.title) for r in risks if not r.is_open][:3],
    )
    escalated = [t for t in overdue if t.escalation_level == 2]
    week = report_week(as_of)
    return ReportContext(
        roadmap_key="bench", title=f"Синтетическая дорожная карта ({n_tasks} задач)",
        language="ru", iso_year=week.iso_year, iso_week=week.iso_week,
        week_start=week.start, week_end=week.end, as_of=as_of,
        generated_at=dt.datetime(2025, 3, 12, 6, 0, tzinfo=dt.UTC),
        summary=Summary(rag=overall_rag(stages, overdue, risks), tasks_total=n_tasks,
                        tasks_done=n_tasks // 3, percent_done_count=33.3,
                        percent_done_weighted=30.1, done_this_week=n_tasks // 50,
                        overdue_now=len(overdue), stages_on_track=6, stages_late=4,
                        decisions=decision_sentences(overdue, risks, "ru")),
        stages=stages, gantt=gantt, overdue=overdue, blocked=blocked, upcoming=upcoming,
        risks=risks, heatmap=heatmap_counts(risks), changes=changes,
        messages=MessagesSummary(
            reminders_sent=n_tasks // 5, escalations_sent=len(escalated), notices_sent=10,
            escalations=[EscalationSent(recipient=f"{t.owner} <boss@example.org>",
                                        subject=f"Эскалация: {t.key}",
                                        sent_at=dt.datetime(2025, 3, 10, 9, tzinfo=dt.UTC))
                         for t in escalated]),
        max_rows=50,
    )


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_report(n_tasks: int, list_all: bool = False) -> dict:
    """One size, in this (child) process: build context, render chart and report."""
    from tasks.gantt import render_gantt
    from tasks.report_docx import render_report

    OUT.mkdir(parents=True, exist_ok=True)
    rss_imports = _rss_mib()
    t0 = time.perf_counter()
    ctx = make_context(n_tasks, list_all=list_all)
    context_s = time.perf_counter() - t0
    suffix = "_all" if list_all else ""
    gantt_s = report_s = float("inf")
    peak_rss = first_s = 0.0
    for _ in range(REPEAT):  # best of REPEAT: the machine is shared, the minimum is the cost
        t1 = time.perf_counter()
        chart = render_gantt(ctx.gantt, ctx.as_of, OUT / f"gantt_{n_tasks}{suffix}.png", lang="ru")
        t2 = time.perf_counter()
        path = render_report(ctx, OUT / f"report_{n_tasks}{suffix}.docx", chart_png=chart)
        t3 = time.perf_counter()
        gantt_s, report_s = min(gantt_s, t2 - t1), min(report_s, t3 - t2)
        peak_rss = peak_rss or _rss_mib()  # peak of the first run; repeats only add garbage
        first_s = first_s or (t3 - t1)
    with zipfile.ZipFile(path) as z:
        rows = z.read("word/document.xml").count(b"<w:tr>")
    return {
        "tasks": n_tasks, "context_s": context_s, "gantt_s": gantt_s, "report_s": report_s,
        "total_s": gantt_s + report_s, "first_run_s": first_s, "table_rows": rows,
        "docx_kib": path.stat().st_size / 1024,
        "rss_after_imports_mib": rss_imports, "peak_rss_mib": peak_rss,
    }


def run_floor(n_rows: int, n_cols: int, method: str) -> dict:
    """One table of n_rows x n_cols written one way, built and saved; best of REPEAT.

    add_row: ``table.add_row().cells`` and ``cell.text`` (the documented python-docx way, bare);
    add_table: ``tasks/docx_tables.add_table`` (the same API plus the report's widths, 9 pt
    runs, no-split rows). Each method runs in its own process so one's garbage does not slow
    the next.
    """
    from docx import Document

    from tasks.docx_tables import add_table

    texts = [[f"Ячейка {r}:{c}" for c in range(n_cols)] for r in range(n_rows)]
    best = float("inf")
    for _ in range(REPEAT):
        doc = Document()
        t0 = time.perf_counter()
        if method == "add_row":
            table = doc.add_table(rows=0, cols=n_cols)
            table.style = doc.styles["Table Grid"]
            for row in texts:
                for cell, text in zip(table.add_row().cells, row, strict=True):
                    cell.text = text
        else:
            add_table(doc, [1] * n_cols, texts, None, 9000)
        doc.save(io.BytesIO())
        best = min(best, time.perf_counter() - t0)
    return {"method": method, "seconds": best}


def _child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--child-report", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--list-all", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-floor", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_report:
        print(json.dumps(run_report(args.child_report, args.list_all)))
        return
    if args.child_floor:
        rows, cols, method = args.child_floor
        print(json.dumps(run_floor(int(rows), int(cols), method)))
        return

    scenarios = [(n, False) for n in args.sizes] + [(max(args.sizes), True)]
    print(f"{'tasks':>7} {'gantt s':>7} {'docx s':>6} {'total s':>7} {'cold s':>6} "
          f"{'rows':>6} {'KiB':>5} "
          f"{'peak RSS MiB':>12} | {'floor add_row s':>15} {'add_table s':>11} "
          f"{'docx/floor':>10} {'total/add_row':>13}")
    for n, list_all in scenarios:
        r = _child(["--child-report", str(n)] + (["--list-all"] if list_all else []))
        f = {m: _child(["--child-floor", str(r["table_rows"]), str(FLOOR_COLS), m])["seconds"]
             for m in ("add_row", "add_table")}
        fastest = min(f.values())
        label = f"{n}{'*' if list_all else ''}"
        print(f"{label:>7} {r['gantt_s']:>7.2f} {r['report_s']:>6.2f} {r['total_s']:>7.2f} "
              f"{r['first_run_s']:>6.2f} "
              f"{r['table_rows']:>6} {r['docx_kib']:>5.0f} "
              f"{r['peak_rss_mib']:>5.0f} ({r['rss_after_imports_mib']:.0f}) | "
              f"{f['add_row']:>15.2f} {f['add_table']:>11.2f} "
              f"{r['report_s'] / fastest:>10.1f} {r['total_s'] / f['add_row']:>13.2f}")
    print("* every task listed (appendix holds all of them): the worst case for the tables.\n"
          "rows = <w:tr> written by the report; floor = one table of that many rows x "
          f"{FLOOR_COLS} columns, built and saved;\npeak RSS = the child process for that "
          "scenario (in brackets: after imports); docx/floor = report time / fastest floor.\n"
          f"times are the best of {REPEAT} runs ; cold = the first run "
          "(first matplotlib draw, caches empty; imports excluded).")


if __name__ == "__main__":
    main()

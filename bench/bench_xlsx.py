"""Benchmark: a 10,000-task roadmap as a workbook (.xlsx): export, validate and import through
the real CLI, and the libraries that could read and write it.

Each measurement is one fresh subprocess (start-up and imports paid as a user pays them),
reaped with os.wait4 for its own peak RSS. Setup (not timed): bench/synth.py writes the
roadmap (500 people, seed 1), `roadmap import` stores it in a new SQLite database.

  export       roadmap export plan.xlsx --db URL --as-of DAY     (target < 5 s)
  validate     roadmap validate plan.xlsx
  import       roadmap import plan.xlsx --db URL                 (target < 5 s; no changes, but
               every row read and compared: the YAML is imported again before each run, so
               the workbook is never recognised as the file imported last)
  libraries    the same workbook read by openpyxl (read-only, cells: what models/workbook_read.py
               does) and by python-calamine (values only); the same document written by
               XlsxWriter (tasks/workbook_write.py) and by openpyxl's write-only mode (values
               and date formats only: less than our writer does)

Run:  .venv/bin/python bench/bench_xlsx.py [--tasks 10000] [--repeat 3] [--keep DIR]
The median wall time over --repeat runs is compared with the target; exits 1 when one fails.
The machine may be shared: the load average is printed before and after, and the CPU time
(user + system) of each command, which a loaded machine inflates much less than wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 5.0
CLI = [sys.executable, "-m", "cli.main"]

_LIBRARY = {
    "read: openpyxl read-only": """
import openpyxl
wb = openpyxl.load_workbook(PATH, read_only=True, data_only=False)
n = sum(1 for ws in wb.worksheets for row in ws.iter_rows(max_col=64) for c in row if c.value is not None)
""",
    "read: python-calamine": """
from python_calamine import CalamineWorkbook
wb = CalamineWorkbook.from_path(PATH)
n = sum(1 for name in wb.sheet_names for row in wb.get_sheet_by_name(name).to_python() for v in row if v != "")
""",
    "write: XlsxWriter (ours)": """
from tasks.workbook_write import workbook_bytes
data = workbook_bytes(DOC, "ru", {})
""",
    "write: openpyxl write-only": """
import datetime, io, openpyxl
from openpyxl.cell import WriteOnlyCell
wb = openpyxl.Workbook(write_only=True)
for part in ("partners", "people", "workstreams", "stages", "tasks", "risks"):
    ws = wb.create_sheet(part)
    items = DOC.get(part) or []
    keys = list(dict.fromkeys(k for item in items for k in item))
    ws.append(keys)
    for item in items:
        row = []
        for k in keys:
            v = item.get(k)
            if isinstance(v, list):
                v = ", ".join(map(str, v))
            if isinstance(v, datetime.date):
                v = WriteOnlyCell(ws, value=v)
                v.number_format = "dd.mm.yyyy"
            row.append(v)
        ws.append(row)
out = io.BytesIO()
wb.save(out)
""",
}


def run(argv: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS in MB and CPU seconds (user + system) of one child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def library_script(body: str, workbook: Path, yaml_file: Path) -> list[str]:
    setup = (f"import yaml, sys; sys.path.insert(0, {str(ROOT)!r}); PATH = {str(workbook)!r}\n"
             f"DOC = yaml.load(open({str(yaml_file)!r}, encoding='utf-8'), Loader=yaml.CSafeLoader)\n"
             "import time; t = time.perf_counter()\n")
    return [sys.executable, "-c", setup + body + "\nprint(time.perf_counter() - t)"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench.synth import write

    work = a.keep or Path(tempfile.mkdtemp(prefix="bench_xlsx_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; work dir {work}")
    source = work / "plan.yaml"
    meta = write(source, a.tasks, 500, seed=1)
    url = f"sqlite:///{work}/bench.db"
    run([*CLI, "import", str(source), "--db", url], work)
    day = str(meta.get("as_of") or meta.get("reminder_day") or "2025-03-03")
    steps = {
        "export": [*CLI, "export", "plan.xlsx", "--db", url, "--as-of", day],
        "validate": [*CLI, "validate", "plan.xlsx"],
        "import": [*CLI, "import", "plan.xlsx", "--db", url],
    }
    failed = False
    print(f"| {a.tasks:,} tasks | median wall s | best wall s | median CPU s | peak RSS MB | target |")
    print("|---|---|---|---|---|---|")
    for name, argv_ in steps.items():
        runs = []
        for _ in range(a.repeat):
            if name == "import":  # the YAML first, so the workbook is not recognised by its hash
                run([*CLI, "import", str(source), "--db", url], work)
            runs.append(run(argv_, work))
        median = statistics.median(r[0] for r in runs)
        target = f"< {TARGET_S:g} s" if name in ("export", "import") else ""
        failed |= bool(target) and median >= TARGET_S
        cpu = statistics.median(r[2] for r in runs)
        print(f"| {name} | {median:.2f} | {min(r[0] for r in runs):.2f} | {cpu:.2f} | {max(r[1] for r in runs):.0f} "
              f"| {target} |")
    size = (work / "plan.xlsx").stat().st_size
    print(f"\nworkbook: {size / (1 << 20):.1f} MB\n")
    print("| library, in process (after imports) | median s | peak RSS MB of the process |")
    print("|---|---|---|")
    for name, body in _LIBRARY.items():
        times, rss = [], []
        for _ in range(a.repeat):
            out = subprocess.run(library_script(body, work / "plan.xlsx", source), capture_output=True, text=True,
                                 check=True, cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)})
            times.append(float(out.stdout.split()[-1]))
            rss.append(run(library_script(body, work / "plan.xlsx", source), work)[1])
        print(f"| {name} | {statistics.median(times):.2f} | {max(rss):.0f} |")
    print(f"\n# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

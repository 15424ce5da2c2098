"""Benchmark: MS Project XML (MSPDI) export and import of a 10,000-task roadmap, through the real CLI.

Each measurement is one fresh subprocess of `roadmap` (start-up and imports paid as a user pays
them), reaped with os.wait4 for that child's own peak RSS. Steps, on SQLite:
  export      roadmap export FILE.xml            (the roadmap, from bench/synth.py, imported first)
  validate    roadmap validate FILE.xml          (read, resources matched, the loader's checks)
  import      roadmap import FILE.xml            (the same, then compared row by row: no changes)
  mpxj read   MPXJ's reader converting FILE.xml to MSPDI again, in-process, JVM already started
              (the extra cost of an .mpp file, which takes the same path); only with MPXJ installed
The machine is shared: the load average is printed before and after.

Run:  .venv/bin/python bench/bench_msproject.py [--tasks 10000] [--people 500] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synth  # noqa: E402

ROADMAP = [sys.executable, "-m", "cli.main"]


def timed(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (of this child alone: os.wait4) and stdout of one `roadmap` subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen([*ROADMAP, *args], cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--people", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path)
    ns = ap.parse_args()
    work = ns.keep or Path(tempfile.mkdtemp(prefix="bench_msproject_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}")
    yaml_file, db = work / "roadmap.yaml", f"sqlite:///{work / 'roadmap.db'}"
    synth.write(yaml_file, ns.tasks, ns.people, seed=1)
    timed(["import", str(yaml_file), "--db", db], work)
    xml = work / "roadmap.xml"
    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(ns.repeat):
        for step, args in (("export", ["export", str(xml)]), ("validate", ["validate", str(xml)]),
                           ("import", ["import", str(xml)])):
            wall, rss, out = timed([*args, "--db", db], work)
            if step == "import" and "no changes" not in out:
                raise SystemExit(f"the round trip changed something:\n{out[:2000]}")
            results.setdefault(step, []).append((wall, rss))
    size = xml.stat().st_size
    print(f"{ns.tasks} tasks, {ns.people} people; MSPDI file {size / (1 << 20):.1f} MB")
    for step, runs in results.items():
        walls = [w for w, _ in runs]
        print(f"  {step:9} median {statistics.median(walls):6.2f} s  (runs: {', '.join(f'{w:.2f}' for w in walls)})"
              f"  peak RSS {max(r for _, r in runs):6.0f} MB")
    try:
        from tasks.mpxj_bridge import start_jvm, to_mspdi

        start = time.perf_counter()
        start_jvm()
        jvm = time.perf_counter() - start
        walls = []
        for _ in range(ns.repeat):
            start = time.perf_counter()
            to_mspdi(xml)
            walls.append(time.perf_counter() - start)
        print(f"  mpxj read median {statistics.median(walls):6.2f} s  (JVM start {jvm:.2f} s, once per process)")
    except Exception as exc:  # noqa: BLE001  (MPXJ missing or failing: the rest still stands)
        print(f"  mpxj read skipped: {exc}")
    print(f"load average after: {os.getloadavg()}")
    if not ns.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

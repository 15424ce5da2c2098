"""Benchmark: validate, import, re-import and status of 1,000 and 10,000 tasks through the real CLI.

Each measurement is one fresh subprocess of `.venv/bin/roadmap` (so start-up, imports and
migrations are paid as a user pays them); the child is reaped with os.wait4, which gives
that child's own rusage, so the peak RSS is per command, not the largest so far.

Measured per size (files from bench/synth.py, 500 people, seed 1):
  startup      roadmap --help                                (fixed cost of any command)
  validate     roadmap validate FILE
  db upgrade   roadmap db upgrade --db URL on an empty database (schema only, for reference)
  import       roadmap import FILE --db URL into an empty database (no file / no tables:
               includes creating the schema, validating and scheduling)
  re-import    the same import again (no changes; recognised by the file's hash)
  re-import, full compare   a copy differing only by a comment, so every row is read and
               compared and the schedule recomputed (what an edited file costs)
  status       roadmap status --format json --as-of DAY --db URL, stdout to /dev/null
Targets (10,000 tasks, SQLite): import < 3 s, re-import < 2 s, status < 1.5 s; the
median wall time over --repeat runs is compared. CPU time (user + system of the child) is
shown too: on a busy machine it moves much less than wall time. Exits 1 when a target fails.

Run:  .venv/bin/python bench/bench_import.py [--sizes 10000 1000] [--people 500] [--repeat 3]
          [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--keep DIR] [--json OUT]
          [--profile DIR]
With --profile, after the timings, each 10,000-task SQLite command (or the largest size) is
run once more under cProfile (DIR/<step>.prof) and the project's top functions by cumulative
time are printed. The machine has 2 cores shared with whatever else runs: the load average is
printed before and after, and a loaded machine inflates the figures.
With --postgres a throwaway database bench_import_<pid> is created on that server for each
import into an empty database, and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synth  # noqa: E402

CLI = ROOT / ".venv" / "bin" / "roadmap"
TARGETS = {  # (size, backend, step) -> seconds
    (10_000, "sqlite", "import"): 3.0,
    (10_000, "sqlite", "re-import"): 2.0,
    (10_000, "sqlite", "re-import, full compare"): 2.0,
    (10_000, "sqlite", "status"): 1.5,
}
STEPS = ("startup", "validate", "db upgrade", "import", "re-import", "re-import, full compare", "status")


@dataclass
class Run:
    wall: float
    cpu: float  # user + system seconds of the child: less sensitive than wall time to a busy machine
    rss_mb: float
    rc: int


@dataclass
class Row:
    size: int
    backend: str
    step: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def best(self) -> float:
        return min(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mb for r in self.runs)


class Failed(RuntimeError):
    pass


def measure(argv: list[str], log: Path, env: dict[str, str]) -> Run:
    """Run argv once; its wall time and its own peak RSS (os.wait4 reaps just this child)."""
    with open(log, "ab") as err, open(os.devnull, "wb") as null:
        err.write(("\n$ " + " ".join(argv) + "\n").encode())
        err.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=null, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
    if proc.returncode != 0:
        raise Failed(f"{' '.join(argv)} exited {proc.returncode}; see {log}")
    # ru_maxrss is in KiB on Linux
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode)


class Sqlite:
    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "bench.db"
        self.url = f"sqlite:///{self.path}"

    def fresh(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        self.fresh()


class Postgres:
    name = "postgres"

    def __init__(self, admin_url: str) -> None:
        from sqlalchemy.engine import make_url

        self.admin = make_url(admin_url).set(drivername="postgresql")
        self.db = f"bench_import_{os.getpid()}"
        self.url = self.admin.set(database=self.db).render_as_string(hide_password=False)

    def _exec(self, sql: str) -> None:
        import psycopg

        conninfo = self.admin.render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql)

    def fresh(self) -> None:
        self._exec(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        self._exec(f'CREATE DATABASE "{self.db}"')

    def close(self) -> None:
        self._exec(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


def bench_size(size: int, people: int, repeat: int, seed: int, backends: list, workdir: Path,
               env: dict[str, str], log: Path) -> list[Row]:
    file = workdir / f"roadmap-{size}.yaml"
    t0 = time.perf_counter()
    meta = synth.write(file, size, people, seed=seed)
    print(f"# {size} tasks, {people} people: generated {file} ({file.stat().st_size / 1e6:.1f} MB) "
          f"in {time.perf_counter() - t0:.2f} s", flush=True)
    as_of = meta["as_of"].isoformat()
    rows = {("-", "startup"): Row(size, "-", "startup"), ("-", "validate"): Row(size, "-", "validate")}
    for _ in range(repeat):
        rows[("-", "startup")].runs.append(measure([str(CLI), "--help"], log, env))
        rows[("-", "validate")].runs.append(measure([str(CLI), "validate", str(file)], log, env))
    for be in backends:
        touched = workdir / f"roadmap-{size}-touched.yaml"
        touched.write_bytes(file.read_bytes() + b"# touched: same roadmap, different bytes\n")
        for step in ("db upgrade", "import", "re-import", "re-import, full compare", "status"):
            rows[(be.name, step)] = Row(size, be.name, step)
        for _ in range(repeat):
            be.fresh()
            rows[(be.name, "db upgrade")].runs.append(measure([str(CLI), "db", "upgrade", "--db", be.url], log, env))
            be.fresh()
            rows[(be.name, "import")].runs.append(measure([str(CLI), "import", str(file), "--db", be.url], log, env))
            rows[(be.name, "re-import")].runs.append(measure([str(CLI), "import", str(file), "--db", be.url], log, env))
            rows[(be.name, "re-import, full compare")].runs.append(
                measure([str(CLI), "import", str(touched), "--db", be.url], log, env)
            )
            # the next re-import of `file` must not hit the hash short cut of `touched`
            rows[(be.name, "status")].runs.append(
                measure([str(CLI), "status", "--format", "json", "--as-of", as_of, "--db", be.url], log, env)
            )
        be.close()
    return list(rows.values())


def profile(size: int, people: int, seed: int, workdir: Path, outdir: Path, env: dict[str, str], log: Path) -> None:
    """Each step once under cProfile; print the project's own top functions by cumulative time."""
    import pstats

    outdir.mkdir(parents=True, exist_ok=True)
    file = workdir / f"roadmap-{size}.yaml"
    if not file.exists():
        synth.write(file, size, people, seed=seed)
    db = Sqlite(workdir)
    db.fresh()
    as_of = synth.generate(size, people, seed=seed, with_meta=True)[1]["as_of"].isoformat()
    steps = [
        ("validate", ["validate", str(file)]),
        ("import", ["import", str(file), "--db", db.url]),
        ("re-import", ["import", str(file), "--db", db.url]),
        ("status", ["status", "--format", "json", "--as-of", as_of, "--db", db.url]),
    ]
    for step, args in steps:
        prof = outdir / f"{step.replace('-', '_')}.prof"
        measure([sys.executable, "-m", "cProfile", "-o", str(prof), str(CLI), *args], log, env)
        stats = pstats.Stats(str(prof))
        total = max(v[3] for v in stats.stats.values())  # type: ignore[attr-defined]
        mine = [(v[3], v[2], k) for k, v in stats.stats.items()  # type: ignore[attr-defined]
                if k[0].startswith(str(ROOT)) and "/.venv/" not in k[0] and k[2] not in ("<module>", "wrapper")]
        imports = sum(v[3] for k, v in stats.stats.items()  # type: ignore[attr-defined]
                      if k[0].endswith("cli/main.py") and k[2] == "<module>")
        print(f"\n## cProfile of `roadmap {args[0]}` ({step}, {size:,} tasks, SQLite): {total:.2f} s under the "
              f"profiler, of which {imports:.2f} s importing cli.main; project functions by cumulative time ({prof})")
        for cum, own, (path, line, func) in sorted(mine, reverse=True)[:15]:
            print(f"  {cum:6.2f} s cum {own:6.2f} s own  {Path(path).relative_to(ROOT)}:{line} {func}")
    db.close()


def table(rows: list[Row]) -> str:
    out = ["| tasks | backend | command | median wall s | best wall s | median CPU s | peak RSS MB | target | result |",
           "|---:|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        target = TARGETS.get((r.size, r.backend, r.step))
        verdict = "" if target is None else ("PASS" if r.median < target else "FAIL")
        limit = f"< {target:.1f} s" if target else ""
        out.append(f"| {r.size:,} | {r.backend} | {r.step} | {r.median:.2f} | {r.best:.2f} | {r.cpu:.2f} "
                   f"| {r.rss:.0f} | {limit} | {verdict} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000])
    ap.add_argument("--people", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--postgres", metavar="URL", help="also run against this PostgreSQL server (a throwaway database)")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep the files (default: a temporary folder)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    ap.add_argument("--profile", metavar="DIR", help="also profile each command once (largest size, SQLite)")
    a = ap.parse_args(argv)
    if not CLI.exists():
        print(f"{CLI} not found: install the project into .venv first", file=sys.stderr)
        return 2

    workdir = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench_import_"))
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "commands.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    env["ROADMAP_OUTBOX_DIR"] = str(workdir / "outbox")
    env["ROADMAP_REPORTS_DIR"] = str(workdir / "reports")
    backends: list = [] if a.no_sqlite else [Sqlite(workdir)]
    if a.postgres:
        backends.append(Postgres(a.postgres))
    print(f"# machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; work dir {workdir}; commands and their stderr "
          f"in {log}", flush=True)
    rows: list[Row] = []
    try:
        for size in a.sizes:
            rows += bench_size(size, a.people, a.repeat, a.seed, backends, workdir, env, log)
        print(f"# load average after the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        report(rows, a.json)
        if a.profile:
            profile(max(a.sizes), a.people, a.seed, workdir, Path(a.profile), env, log)
    except Failed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        for be in backends:
            try:
                be.close()
            except Exception as exc:  # noqa: BLE001 - best effort clean-up
                print(f"warning: could not clean up {be.name}: {exc}", file=sys.stderr)
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    return 1 if any(r.median >= TARGETS[(r.size, r.backend, r.step)] for r in rows
                    if (r.size, r.backend, r.step) in TARGETS) else 0


def report(rows: list[Row], json_out: str | None) -> None:
    print()
    print(table(rows))
    print()
    for (size, backend, step), target in TARGETS.items():
        r = next((x for x in rows if (x.size, x.backend, x.step) == (size, backend, step)), None)
        if r is None:
            continue
        ok = r.median < target
        print(f"{'PASS' if ok else 'FAIL'}: {step} of {size:,} tasks ({backend}): median {r.median:.2f} s "
              f"(best {r.best:.2f} s) vs target < {target} s")
    if json_out:
        Path(json_out).write_text(json.dumps([
            {"tasks": r.size, "backend": r.backend, "step": r.step, "median_s": round(r.median, 3),
             "best_s": round(r.best, 3), "median_cpu_s": round(r.cpu, 3), "peak_rss_mb": round(r.rss, 1),
             "runs_s": [round(x.wall, 3) for x in r.runs]}
            for r in rows
        ], indent=1))


if __name__ == "__main__":
    sys.exit(main())

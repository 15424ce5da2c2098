"""Benchmark: `roadmap escalate` on the 10,000-task, 500-owner synthetic roadmap (bench/synth.py,
the reminder benchmark's), to a real SMTP server (aiosmtpd) in its own process.

    /work/main/.venv/bin/python bench/bench_escalate.py [--root TREE] [--day YYYY-MM-DD] [--repeat 2]

--root: the code tree to measure (default this one; e.g. an exported main, to compare). Each
round starts from a fresh copy of the imported database and times, as subprocesses, the
escalation run (plan, render, record and send the day's escalation mails) and a second run the
same day (nothing to send). Prints wall and CPU seconds, peak RSS and the run's summary line
(how many mails), with the load average: on a shared machine compare CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=HERE)
    ap.add_argument("--day", default=None, help="default: the synthetic roadmap's reminder day")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    root = args.root.resolve()
    sys.path[:0] = [str(root), str(root / "bench")]
    import synth
    from bench_remind import run

    from tests.smtp_fixtures import free_port

    work = Path(tempfile.mkdtemp(prefix="bench-escalate-"))
    yaml_path = work / "roadmap.yaml"
    meta = synth.write(yaml_path, 10_000, 500, seed=7, reminder_day="auto", reminder_share=0.2)
    day = args.day or str(meta["reminder_day"])
    template, db_file = work / "template.db", work / "bench.db"
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.smtp_fixtures", "--port", str(port), "--spool",
                               str(work / "spool")], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "listening on ..."
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
        env.update(ROADMAP_SMTP_HOST="127.0.0.1", ROADMAP_SMTP_PORT=str(port), ROADMAP_SMTP_SECURITY="none",
                   ROADMAP_MAIL_FROM="bench@example.org", PYTHONPATH=str(root), BENCH_CWD=str(work))
        cli = [sys.executable, "-m", "cli.main"]
        run(cli + ["import", str(yaml_path), "--db", f"sqlite:///{template}"], env)
        for i in range(args.repeat):
            for stale in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
                stale.unlink(missing_ok=True)
            shutil.copyfile(template, db_file)
            if Path(f"{template}-wal").exists():  # the CLI exits without a checkpoint
                shutil.copyfile(f"{template}-wal", f"{db_file}-wal")
            wall, cpu, rss, out = run(cli + ["escalate", "--as-of", day, "--db", f"sqlite:///{db_file}"], env)
            again = run(cli + ["escalate", "--as-of", day, "--db", f"sqlite:///{db_file}"], env)
            summary = [line for line in out.splitlines() if "planned" in line][-1].strip()
            print(f"{root.name} round {i + 1}: escalate wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {rss:.0f} MiB; "
                  f"second run wall {again[0]:.2f} s, CPU {again[1]:.2f} s; {summary}; "
                  f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

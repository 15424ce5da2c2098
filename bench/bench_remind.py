"""Benchmark: `roadmap remind` on a 10,000-task, 500-owner roadmap vs the smtplib floor.

    .venv/bin/python bench/bench_remind.py [--tasks 10000] [--people 500]

1. Generates a synthetic roadmap where about 20 % of tasks need a reminder on one day,
   imports it into a fresh SQLite database.
2. Starts a real SMTP server (aiosmtpd, tests/smtp_fixtures.py) in its own process.
3. Times, each as a real subprocess: `roadmap --help` (start-up), `roadmap remind` (plan,
   render, record and send ~500 digests), and the same `roadmap remind` again (nothing to send).
4. The floor: the same messages (the same bytes, read back from the outbox) sent with plain
   smtplib over one connection, no planning, no rendering, no database.
Target: remind <= 2 x floor + start-up; the second run < 1 s + start-up.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


CPU: list[float] = []


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) of the child, and its stdout; its CPU seconds go to CPU."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=env["BENCH_CWD"])
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-2000:]}\n{err[-2000:]}")
    CPU.append(usage.ru_utime + usage.ru_stime)
    return elapsed, usage.ru_maxrss / 1024, out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--people", type=int, default=500)
    args = ap.parse_args()

    import synth
    from tests.smtp_fixtures import free_port

    work = Path(tempfile.mkdtemp(prefix="bench-remind-"))
    yaml_path = work / "roadmap.yaml"
    meta = synth.write(yaml_path, args.tasks, args.people, seed=7, reminder_day="auto", reminder_share=0.2)
    day = str(meta["reminder_day"])
    db = f"sqlite:///{work}/bench.db"
    port = free_port()
    spool = work / "spool"
    server = subprocess.Popen([sys.executable, "-m", "tests.smtp_fixtures", "--port", str(port), "--spool", str(spool)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()  # "listening on ..."
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
        env.update(ROADMAP_SMTP_HOST="127.0.0.1", ROADMAP_SMTP_PORT=str(port), ROADMAP_SMTP_SECURITY="none",
                   ROADMAP_MAIL_FROM="bench@example.org", PYTHONPATH=str(ROOT), BENCH_CWD=str(work))
        roadmap = [sys.executable, "-m", "cli.main"]
        timed(roadmap + ["import", str(yaml_path), "--db", db], env)
        startup, _, _ = timed(roadmap + ["--help"], env)
        remind_s, remind_mb, out = timed(roadmap + ["remind", "--as-of", day, "--db", db], env)
        again_s, _, again_out = timed(roadmap + ["remind", "--as-of", day, "--db", db], env)
        summary = [line for line in out.splitlines() if "planned" in line][-1]

        from sqlalchemy import select

        from models.db import session_scope
        from models.schema import OutboxContent, OutboxMessage

        with session_scope(db) as s:  # the very bytes the run sent, as the outbox keeps them
            prebuilt = list(s.execute(
                select(OutboxMessage.recipient, OutboxContent.raw)
                .join(OutboxContent, OutboxContent.outbox_id == OutboxMessage.id).order_by(OutboxMessage.id)))
        t0, c0 = time.perf_counter(), time.process_time()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for rcpt, data in prebuilt:
                smtp.sendmail("bench@example.org", [rcpt], data)
        floor, floor_cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        server.terminate()
        server.wait(10)

    size = sum(len(d) for _, d in prebuilt) / max(len(prebuilt), 1)
    print(f"roadmap: {args.tasks} tasks, {args.people} people, reminder day {day}")
    print(f"{summary.strip()}  (mean message {size / 1024:.1f} KiB)")
    cpu = CPU  # import, --help, remind, remind again
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| measurement | wall s | CPU s | peak RSS MiB |")
    print("|---|---|---|---|")
    print(f"| start-up (`roadmap --help`) | {startup:.2f} | {cpu[1]:.2f} | |")
    print(f"| `roadmap remind` (plan, render, record, send {len(prebuilt)} digests) | {remind_s:.2f} | {cpu[2]:.2f} | {remind_mb:.0f} |")
    print(f"| second `roadmap remind` the same day (nothing to send) | {again_s:.2f} | {cpu[3]:.2f} | |")
    print(f"| floor: {len(prebuilt)} prebuilt messages, plain smtplib, one connection | {floor:.2f} | {floor_cpu:.2f} | |")
    target = 2 * floor + startup
    print(f"remind {remind_s:.2f} s vs 2 x floor + start-up = {target:.2f} s: {'PASS' if remind_s <= target else 'FAIL'}")
    print(f"second run {again_s:.2f} s vs 1 s + start-up = {1 + startup:.2f} s: {'PASS' if again_s <= 1 + startup else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: `roadmap remind` (or `escalate`) against a relay with real latency, vs plain smtplib.

    /work/main/.venv/bin/python bench/bench_relay.py [--command remind|escalate] [--first-run]
        [--latency 0.02] [--connections 4] [--tasks 10000] [--people 500] [--repeat 3]
        [--db postgresql://postgres@127.0.0.1:5432/postgres]

Target (issue 10): (run - idle start-up) / floor <= 1.25 (the verdict takes the median of
the rounds' ratios), with ~500 digests, a relay that
answers each message 20 ms after its data (asyncio.sleep in handle_DATA: concurrent
connections wait concurrently, as with a real relay) and ROADMAP_SMTP_CONNECTIONS=4.
bench/bench_escalate.py is this benchmark with `--command escalate --first-run`.

1. bench/synth.py writes a roadmap where ~20 % of the tasks need a reminder on one day
   (10,000 tasks, 500 owners: ~500 digests); it is imported once into a template database
   (SQLite, or a database on the PostgreSQL server given by --db); every timed run starts
   from a fresh copy of it. The template is an ordinary day's: the previous business day's
   reminders and escalations were run on it (through the relay), as the daily cycle does.
   Without that, the timed day is the first run after the import: every owner's digest is a
   kick-off listing all their open tasks, each with its calendar entry (~20 a digest, 23 KiB
   a message, 5 times the CPU of an ordinary day), and every escalation ever due goes out.
   `--first-run` measures that one-off day instead.
2. The relay (aiosmtpd) runs in its own process (this file with --serve) and keeps each
   message's envelope and bytes in a spool folder.
3. Each of --repeat rounds times, as subprocesses (medians are reported):
   (a) idle start-up: `roadmap remind` (or `escalate`) on the example roadmap on a Sunday (nothing due:
       interpreter, imports, database and schema check), and `roadmap --help`;
   (b) `roadmap remind --as-of DAY` (or `escalate`) with ROADMAP_SMTP_CONNECTIONS=--connections;
   (c) the floor: the very messages (b) delivered, read back from the spool, sent by
       --connections plain smtplib connections in threads to the same relay.
4. CPU per digest of plan, render and record, in this process with time.process_time
   (one warm-up round, then the median of --repeat; measured before step 3): see
   cpu_split(), the only function that knows the job API.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import queue
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_remind import EXAMPLE, IDLE_DAY, median_run, run  # noqa: E402

SENDER = "bench@example.org"


# -- the relay ------------------------------------------------------------------------------

def serve(port: int, latency: float, spool: Path) -> None:
    """An SMTP relay that answers each message `latency` seconds after its data arrives."""
    from aiosmtpd.controller import Controller

    numbers = itertools.count(1)

    class Relay:
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd's hook
            await asyncio.sleep(latency)
            n = next(numbers)
            (spool / f"{n:06d}.rcpt").write_text("\n".join(envelope.rcpt_tos))
            (spool / f"{n:06d}.eml").write_bytes(envelope.original_content or envelope.content)
            return "250 2.0.0 Accepted"

    spool.mkdir(parents=True, exist_ok=True)
    controller = Controller(Relay(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    threading.Event().wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def take_spool(spool: Path) -> list[tuple[list[str], bytes]]:
    """The messages the relay accepted since the last call (and empties the spool)."""
    messages = []
    for eml in sorted(spool.glob("*.eml")):
        rcpt = eml.with_suffix(".rcpt")
        messages.append((rcpt.read_text().split("\n"), eml.read_bytes()))
        eml.unlink()
        rcpt.unlink()
    return messages


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def floor(port: int, messages: list[tuple[list[str], bytes]], connections: int) -> float:
    """Wall seconds to send the messages over `connections` plain smtplib connections."""
    todo: queue.SimpleQueue[tuple[list[str], bytes]] = queue.SimpleQueue()
    for m in messages:
        todo.put(m)

    def sender() -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            while True:
                try:
                    rcpts, data = todo.get_nowait()
                except queue.Empty:
                    return
                smtp.sendmail(SENDER, rcpts, data)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        for future in [pool.submit(sender) for _ in range(connections)]:
            future.result()
    return time.perf_counter() - t0


# -- databases ------------------------------------------------------------------------------

class Databases:
    """Named databases for the runs: SQLite files in `work`, or databases on a PostgreSQL
    server (created from a template, dropped at the end)."""

    def __init__(self, work: Path, server: str | None):
        self.work, self.server = work, server
        self.made: list[str] = []

    def _name(self, name: str) -> str:
        return f"bench_relay_{os.getpid()}_{name}"

    def url(self, name: str) -> str:
        if self.server is None:
            return f"sqlite:///{self.work / name}.db"
        from sqlalchemy.engine import make_url

        return make_url(self.server).set(database=self._name(name)).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        """An empty database, or a copy of `template`; its URL."""
        if self.server is None:
            for suffix in ("", "-wal", "-shm"):
                (self.work / f"{name}.db{suffix}").unlink(missing_ok=True)
                # The CLI exits without a checkpoint: the template's last writes are in its WAL.
                if template and suffix != "-shm" and (self.work / f"{template}.db{suffix}").exists():
                    shutil.copyfile(self.work / f"{template}.db{suffix}", self.work / f"{name}.db{suffix}")
            return self.url(name)
        copy = f' TEMPLATE "{self._name(template)}"' if template else ""
        with self._admin() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self._name(name)}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{self._name(name)}"{copy}')
        self.made.append(self._name(name))
        return self.url(name)

    def drop_all(self) -> None:
        if self.server is not None and self.made:
            with self._admin() as conn:
                for db in self.made:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    def _admin(self):  # noqa: ANN202
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        url = make_url(self.server).set(drivername="postgresql+psycopg")
        return create_engine(url, isolation_level="AUTOCOMMIT").connect()


# -- CPU of the work itself -----------------------------------------------------------------

def cpu_split(db_url: str, day: date, command: str = "remind") -> tuple[int, dict[str, float]]:
    """(digests, CPU seconds of plan, render and record) for one day, in this process.

    The one place that calls the job API (tasks/notify_jobs.py): adapt it here when that API
    moves. "record" includes building each message's bytes (tasks.mail.prepare)."""
    try:
        from models.db import session_scope
        from tasks.notify_jobs import plan_escalation_messages, plan_reminders
        from tasks.outbox_record import record

        planner = plan_escalation_messages if command == "escalate" else plan_reminders
        c0 = time.process_time()
        plan = planner(db_url, None, day)
        c1 = time.process_time()
        intents = plan.intents  # renders every digest
        c2 = time.process_time()
        with session_scope(db_url) as session:
            record(session, plan.roadmap_id, plan.roadmap_key, plan.as_of, intents)
        c3 = time.process_time()
    except (ImportError, AttributeError, TypeError) as exc:
        raise SystemExit(f"bench_relay: the plan/render/record API moved ({type(exc).__name__}: {exc}); "
                         f"adapt cpu_split() in {__file__}") from None
    return len(intents), {"plan": c1 - c0, "render": c2 - c1, "record": c3 - c2}


# -- the benchmark --------------------------------------------------------------------------

def previous_business_day(day: date) -> date:
    from synth import CALENDAR

    from models.calendar import calendar_for

    return calendar_for(CALENDAR).add(day, -1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--command", choices=("remind", "escalate"), default="remind", help="the run to time")
    ap.add_argument("--first-run", action="store_true",
                    help="time the first run after the import (kick-offs, every escalation ever due), "
                         "not an ordinary day's")
    ap.add_argument("--latency", type=float, default=0.02, help="seconds the relay takes per message")
    ap.add_argument("--connections", type=int, default=4, help="ROADMAP_SMTP_CONNECTIONS and floor connections")
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--people", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", help="a PostgreSQL server URL (default: SQLite files)")
    ap.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--spool", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.latency, args.spool)
        return 0

    import synth

    work = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    meta = synth.write(work / "roadmap.yaml", args.tasks, args.people, seed=7, reminder_day="auto",
                       reminder_share=0.2)
    day = meta["reminder_day"]
    day = day if isinstance(day, date) else date.fromisoformat(str(day))
    port, spool = free_port(), work / "spool"
    relay = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--latency", str(args.latency),
                              "--spool", str(spool)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    dbs = Databases(work, args.db)
    settings = dict(ROADMAP_SMTP_HOST="127.0.0.1", ROADMAP_SMTP_PORT=str(port), ROADMAP_SMTP_SECURITY="none",
                    ROADMAP_MAIL_FROM=SENDER, ROADMAP_SMTP_CONNECTIONS=str(args.connections))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "PREFECT_API"))}
    env.update(settings, PYTHONPATH=str(ROOT), BENCH_CWD=str(work))
    os.environ.update(settings)  # for cpu_split, in this process
    roadmap = [sys.executable, "-m", "cli.main"]
    rounds: dict[str, list] = {"help": [], "idle": [], "remind": [], "floor": [], "cpu": [],
                               "relay_remind": [], "relay_floor": []}
    try:
        assert relay.stdout is not None
        relay.stdout.readline()  # "listening on ..."
        template = dbs.create("template")
        run(roadmap + ["import", str(work / "roadmap.yaml"), "--db", template], env)
        if not args.first_run:  # the day before, as the daily cycle runs it: owners know their tasks
            before = previous_business_day(day).isoformat()
            for command in ("remind", "escalate"):
                run(roadmap + [command, "--as-of", before, "--db", template], env)
            take_spool(spool)
        idle_db = dbs.create("idle")
        run(roadmap + ["import", str(EXAMPLE), "--db", idle_db], env)
        for i in range(args.repeat + 1):  # the first round warms up (imports, templates); first, so that
            # a moved API stops the benchmark at once
            rounds["cpu"].append(cpu_split(dbs.create(f"cpu{i}", template="template"), day, args.command))
        for i in range(args.repeat):
            rounds["help"].append(run(roadmap + ["--help"], env))
            rounds["idle"].append(run(roadmap + [args.command, "--as-of", IDLE_DAY, "--db", idle_db], env))
            take_spool(spool)
            db = dbs.create(f"run{i}", template="template")
            relay_cpu = cpu_of(relay.pid)
            rounds["remind"].append(run(roadmap + [args.command, "--as-of", day.isoformat(), "--db", db], env))
            rounds["relay_remind"].append(cpu_of(relay.pid) - relay_cpu)
            messages = take_spool(spool)
            summary = [line for line in rounds["remind"][-1][3].splitlines() if "planned" in line][-1]
            if not messages or "failed 0" not in summary:
                raise SystemExit(f"{args.command} delivered {len(messages)} messages: {summary}")
            relay_cpu = cpu_of(relay.pid)
            rounds["floor"].append(floor(port, messages, args.connections))
            rounds["relay_floor"].append(cpu_of(relay.pid) - relay_cpu)
            if len(take_spool(spool)) != len(messages):
                raise SystemExit("the floor did not deliver every message")
    finally:
        relay.terminate()
        relay.wait(10)
        from models.db import get_engine

        for i in range(args.repeat + 1):
            get_engine(dbs.url(f"cpu{i}")).dispose()
        dbs.drop_all()

    print_results(args, day, summary, messages, rounds)
    return 0


def print_results(args: argparse.Namespace, day: date, summary: str, messages: list[tuple[list[str], bytes]],
                  rounds: dict[str, list]) -> None:
    sent, size = len(messages), sum(len(data) for _, data in messages) / len(messages)
    help_, idle, remind = (median_run(rounds[k]) for k in ("help", "idle", "remind"))
    floor_s = statistics.median(rounds["floor"])
    what = f"`roadmap {args.command}`, " + ("the first run after the import" if args.first_run
                                             else "an ordinary day (the day before was run)")
    print(f"{what}; roadmap: {args.tasks} tasks, {args.people} people, reminder day {day}; database "
          f"{'PostgreSQL' if args.db else 'SQLite'}; relay latency {args.latency * 1000:.0f} ms a message; "
          f"{args.connections} connections; median of {args.repeat} rounds")
    print(f"{summary.strip()}  (mean message {size / 1024:.1f} KiB)")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    relay_b, relay_c = statistics.median(rounds["relay_remind"]), statistics.median(rounds["relay_floor"])
    print("| measurement | wall s | CPU s | relay CPU s |")
    print("|---|---|---|---|")
    print(f"| (a) idle start-up: `roadmap {args.command}` (example roadmap, a Sunday) | {idle[0]:.2f} "
          f"| {idle[1]:.2f} | |")
    print(f"|     `roadmap --help` | {help_[0]:.2f} | {help_[1]:.2f} | |")
    print(f"| (b) `roadmap {args.command}`, {sent} digests, ROADMAP_SMTP_CONNECTIONS={args.connections} "
          f"| {remind[0]:.2f} | {remind[1]:.2f} | {relay_b:.2f} |")
    print(f"| (c) floor: the same {sent} messages, {args.connections} smtplib connections (threads) "
          f"| {floor_s:.2f} | | {relay_c:.2f} |")
    print(f"(the latency alone would make the floor {sent * args.latency / args.connections:.2f} s; the rest is the "
          "relay's and the clients' CPU)")
    print("all rounds, wall s: " + "; ".join(
        f"{args.command if k == 'remind' else k} "
        + ", ".join(f"{r[0] if isinstance(r, tuple) else r:.2f}" for r in rounds[k])
        for k in ("remind", "idle", "help", "floor")))
    # Per round, a, b and c ran within seconds of each other: the median of the rounds' ratios
    # is steadier than the ratio of the medians on a machine whose load changes.
    ratios = [(b[0] - a[0]) / c for a, b, c in zip(rounds["idle"], rounds["remind"], rounds["floor"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"(b - a) / c per round: {', '.join(f'{r:.2f}' for r in ratios)}; of the medians: "
          f"({remind[0]:.2f} - {idle[0]:.2f}) / {floor_s:.2f} = {(remind[0] - idle[0]) / floor_s:.2f}")
    print(f"verdict ({args.command}, {'first run' if args.first_run else 'ordinary day'}, "
          f"{'PostgreSQL' if args.db else 'SQLite'}): median of (b - a) / c = {ratio:.2f} <= 1.25: "
          f"{'PASS' if ratio <= 1.25 else 'MISS'}")
    digests = rounds["cpu"][-1][0]
    cpu = {part: statistics.median(split[part] for _, split in rounds["cpu"][1:])
           for part in ("plan", "render", "record")}
    print(f"CPU per digest, in-process ({digests} digests, median of {args.repeat} warm rounds): " + ", ".join(
        f"{part} {seconds / digests * 1000:.2f} ms" for part, seconds in cpu.items())
        + f"; total {sum(cpu.values()) / digests * 1000:.2f} ms "
        f"({sum(cpu.values()):.2f} s: plan {cpu['plan']:.2f}, render {cpu['render']:.2f}, record {cpu['record']:.2f})")


if __name__ == "__main__":
    sys.exit(main())

"""Hostile inputs against a checkout of Roadmap Office: time, peak memory and outcome of each.

    python bench/bench_attacks.py                      # this checkout
    python bench/bench_attacks.py --code /tmp/base     # another checkout (e.g. `git worktree add /tmp/base 4c68a0c`)
    python bench/bench_attacks.py --only yaml          # attacks whose name contains "yaml"

Each attack (bench/attacks/*.py, list ATTACKS) runs in a fresh Python process whose PYTHONPATH is
the checkout under test, in an empty temporary folder with a SQLite database and mail to a folder.
The process is capped (address space 4 GiB, 120 s) so that an attack that succeeds against old
code ends as a MemoryError or a timeout instead of taking the machine down. Reported: wall time,
peak RSS of that process (server and client together for web attacks), and the outcome the attack
returns (CLI: exit code and the first line of stderr; web: the HTTP status).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from attacks import Attack  # noqa: E402

MEMORY_CAP = 4 << 30
TIME_CAP = 120


def all_attacks() -> list[Attack]:
    import attacks

    out: list[Attack] = []
    for info in sorted(pkgutil.iter_modules(attacks.__path__), key=lambda m: m.name):
        out += getattr(importlib.import_module(f"attacks.{info.name}"), "ATTACKS", [])
    return out


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_one(attack: Attack, code: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="attack-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "PREFECT_API"))}
        env.update(PYTHONPATH=f"{code}{os.pathsep}{HERE}", ROADMAP_DATABASE_URL=f"sqlite:///{tmp}/roadmap.db",
                   ROADMAP_OUTBOX_DIR=f"{tmp}/outbox", ROADMAP_REPORTS_DIR=f"{tmp}/reports",
                   ROADMAP_CODE=str(code))
        env.update(attack.env)
        cmd = [sys.executable, "-c", f"from attacks.runner import main; main({attack.module!r}, {attack.name!r})"]
        # memory of the attack process alone: this runs in a forked intermediate (run_isolated)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=_limits, text=True)
        try:
            out, err = proc.communicate(timeout=TIME_CAP)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            timed_out = True
        wall = time.perf_counter() - start
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # high-water of all children so far
        lines = [ln for ln in out.splitlines() if ln.startswith("OUTCOME ")]
        if timed_out:
            outcome = f"killed after {TIME_CAP} s"
        elif lines:
            outcome = lines[-1][len("OUTCOME "):]
        else:
            last = [ln for ln in err.splitlines() if ln.strip()]
            outcome = f"process exit {proc.returncode}: {last[-1][:120] if last else ''}"
        return {"attack": attack.name, "seconds": round(wall, 2), "peak_rss_mb": round(rss_mb),
                "outcome": outcome}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, default=HERE.parent, help="checkout to attack (default: this one)")
    ap.add_argument("--only", default="", help="run only attacks whose name contains this")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for attack in all_attacks():
        if args.only in attack.name:
            row = run_isolated(attack, args.code.resolve())
            rows.append(row)
            if not args.json:
                print(f"{row['attack']:<44} {row['seconds']:>7} s {row['peak_rss_mb']:>6} MB  {row['outcome']}",
                      flush=True)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))


def run_isolated(attack: Attack, code: Path) -> dict[str, object]:
    """Run the attack from a fresh intermediate process, so that its RUSAGE_CHILDREN is the attack's alone."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, json.dumps(run_one(attack, code)).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


if __name__ == "__main__":
    main()

"""Benchmark: `roadmap escalate` on the 10,000-task, 500-owner synthetic roadmap (bench/synth.py)
through a relay with 20 ms latency and 4 connections, vs plain smtplib: bench/bench_relay.py
with ``--command escalate --first-run``, and its target, (escalate - idle start-up) / floor <= 1.25.

    /work/main/.venv/bin/python bench/bench_escalate.py [--repeat 3] [--db postgresql://...]
        (any option of bench_relay.py)

Why the first run after the import: it sends every escalation ever due (on the synthetic
roadmap's reminder day ~170 digests of ~5,400 items: the heaviest day the escalation path
sees, as after a gap in runs). An ordinary day's escalations there are ~14 digests, too few to
time against a floor (`bench_relay.py --command escalate` measures it all the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from bench_relay import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["--command", "escalate", "--first-run", *sys.argv[1:]]))

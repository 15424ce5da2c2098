"""Entry point of one attack's process (see bench/bench_attacks.py)."""

from __future__ import annotations

import importlib
from pathlib import Path


def main(module: str, name: str) -> None:
    from attacks import REGISTRY

    importlib.import_module(module)
    outcome = REGISTRY[name](Path.cwd())
    print(f"OUTCOME {outcome}", flush=True)

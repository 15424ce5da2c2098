"""Hostile inputs for bench/bench_attacks.py: one module per area, each with a list ATTACKS.

An attack is a function `run(tmp: Path) -> str` called in a fresh process whose working folder
is `tmp` and whose PYTHONPATH is the checkout under test; it returns the outcome as text.
`cli(...)` runs the `roadmap` command in-process and returns "exit N: first line of stderr".
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Attack:
    name: str
    module: str  # the module under bench/attacks/ that defines `run`
    env: dict[str, str] = field(default_factory=dict)


REGISTRY: dict[str, Callable[[Path], str]] = {}


def attack(name: str, module: str, env: dict[str, str] | None = None) -> Callable[
        [Callable[[Path], str]], Callable[[Path], str]]:
    """Register `run(tmp) -> outcome` under `name` (use: ATTACKS.append(...) via this decorator)."""

    def register(fn: Callable[[Path], str]) -> Callable[[Path], str]:
        REGISTRY[name] = fn
        sys.modules[module].__dict__.setdefault("ATTACKS", []).append(Attack(name, module, env or {}))
        return fn

    return register


def cli(*args: str) -> str:
    """Run `roadmap ARGS` in this process; "exit N: first stderr line"."""
    from cli.main import app

    err = io.StringIO()
    code: int | str | None = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            app(list(args), prog_name="roadmap")
        except SystemExit as exc:
            code = exc.code
        except MemoryError:
            return "MemoryError"
    lines = [ln.strip() for ln in err.getvalue().splitlines() if ln.strip()]
    if any("Traceback" in ln or "──────" in ln for ln in lines):  # plain or rich (typer) traceback
        return f"exit {code}, traceback: {lines[-1][:110] if lines else ''}"
    return f"exit {code}: {lines[0][:120] if lines else ''}"

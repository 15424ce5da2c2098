"""`roadmap serve` and `roadmap deploy`: the two ways to put the flows on their schedules.

Both read the deployments, schedules and slugs from deployments/prefect.yaml, the one place
they are defined:

- `serve_all` (single machine): one long-running process serves every flow with Prefect's
  `serve`, against whatever Prefect API is configured. `serve` takes no timezone argument, so
  each schedule is a `Cron(..., timezone=...)`; `pause_on_shutdown=False` keeps the schedules
  active across restarts (by default serve pauses them when it stops).
- `deploy_all` (one or many machines): creates the `process` work pool and runs
  `prefect deploy` on prefect.yaml; workers on any machine then run the flows.

Overrides: the timezone is the roadmap's (from the database) unless `--timezone` is given;
ROADMAP_CRON_<DEPLOYMENT> (e.g. ROADMAP_CRON_SEND_REMINDERS="0 8 * * 1-5") replaces a cron.

Prefect and the roadmap jobs are imported inside the functions that need them: `roadmap deploy`
hands the work to the `prefect` command and need not load either.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from config import get_settings
from models.errors import UserError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PREFECT_YAML = HERE / "prefect.yaml"


def load_spec(path: Path = PREFECT_YAML) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def cron_override(deployment: str) -> str | None:
    return os.environ.get("ROADMAP_CRON_" + deployment.upper().replace("-", "_")) or None


def roadmap_timezone(db_url: str | None, roadmap_key: str | None) -> str | None:
    """The roadmap's timezone, or None when the database holds no roadmap yet."""
    from tasks.roadmap_jobs import roadmap_day

    try:
        return roadmap_day(db_url or get_settings().database_url, roadmap_key, None).timezone
    except UserError:
        return None


def apply_overrides(spec: dict[str, Any], timezone: str | None) -> dict[str, Any]:
    """prefect.yaml with the timezone and the ROADMAP_CRON_* crons applied."""
    for dep in spec["deployments"]:
        for sched in dep.get("schedules") or []:
            if timezone:
                sched["timezone"] = timezone
            if cron := cron_override(dep["name"]):
                sched["cron"] = cron
                sched["active"] = True
    return spec


def load_flow(entrypoint: str) -> Any:
    path, name = entrypoint.split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, name)


def served_name(name: str) -> str:
    """Served deployments get their own names: a deployment is identified by flow name +
    deployment name, and `serve` over one created by `prefect deploy` (or the reverse) silently
    replaces it, leaving runs that neither the worker nor serve can load."""
    return f"{name}-served"


def serve_all(db_url: str | None = None, roadmap_key: str | None = None, timezone: str | None = None,
              every: float | None = None) -> None:
    """Serve every deployment of prefect.yaml from this process until stopped.

    `every` (a test setting) puts the daily cycle alone on a fast schedule: 60 means the cron
    "* * * * *"; fewer seconds an Interval schedule, which Prefect supports below a minute."""
    from prefect import serve
    from prefect.schedules import Cron, Interval

    spec = apply_overrides(load_spec(), timezone or roadmap_timezone(db_url, roadmap_key))
    params = {k: v for k, v in (("roadmap_key", roadmap_key), ("db_url", db_url)) if v}
    deployments = []
    for dep in spec["deployments"]:
        flow = load_flow(dep["entrypoint"])
        schedules = [
            Cron(s["cron"], timezone=s.get("timezone"), active=s.get("active", True), slug=s["slug"])
            for s in dep.get("schedules") or []
        ]
        if every is not None:
            schedules = []
            if dep["name"] == "daily-cycle":
                schedules = [Cron("* * * * *", slug="test-every-minute") if every >= 60 else
                             Interval(dt.timedelta(seconds=every), slug="test-interval")]
        accepted = set(flow.parameters.properties)  # sync-roadmap takes no roadmap_key
        parameters = {**(dep.get("parameters") or {}), **{k: v for k, v in params.items() if k in accepted}}
        # One machine: the daily cycle runs its roadmaps in turn in its own process; a run per
        # roadmap would start a Python process per roadmap for nothing (docs/deployment.md).
        parameters.pop("cycle_deployment", None)
        deployments.append(flow.to_deployment(
            name=served_name(dep["name"]), schedules=schedules, parameters=parameters, tags=dep.get("tags"),
            description=dep.get("description"),
        ))
    serve(*deployments, pause_on_shutdown=False)


def deploy_all(name: str | None = None, timezone: str | None = None, db_url: str | None = None,
               roadmap_key: str | None = None) -> int:
    """Create the work pool if needed, then `prefect deploy` every deployment (or one)."""
    spec = load_spec()
    pool = spec["definitions"]["work_pool"]["name"]
    prefect = [sys.executable, "-m", "prefect", "--no-prompt"]
    exists = subprocess.run([*prefect, "work-pool", "inspect", pool], capture_output=True, cwd=ROOT)
    if exists.returncode != 0:
        subprocess.run([*prefect, "work-pool", "create", pool, "--type", "process"], check=True, cwd=ROOT)
    tz = timezone or roadmap_timezone(db_url, roadmap_key)
    prefect_file = PREFECT_YAML
    if tz or any(cron_override(d["name"]) for d in spec["deployments"]):
        prefect_file = ROOT / "var" / "prefect.deploy.yaml"
        prefect_file.parent.mkdir(parents=True, exist_ok=True)
        prefect_file.write_text(yaml.safe_dump(apply_overrides(spec, tz), sort_keys=False, allow_unicode=True))
    target = ["--name", name] if name else ["--all"]
    return subprocess.run([*prefect, "deploy", *target, "--prefect-file", str(prefect_file)], cwd=ROOT).returncode


def main() -> None:
    """`python -m deployments.serve`: the same as `roadmap serve` (for a systemd unit)."""
    serve_all(db_url=None, roadmap_key=os.environ.get("ROADMAP_ROADMAP_KEY") or None)


if __name__ == "__main__":
    main()

"""`roadmap run`, `roadmap serve` and `roadmap deploy`, and how every command calls its flow.

How the CLI decides (docs/deployment.md, "Two ways to run"):

- Prefect mode, when PREFECT_API_URL is set (in the environment or in the active Prefect
  profile), or ROADMAP_PREFECT=1, or `--prefect` is given: the command calls the Prefect flow,
  so the run, its tasks and its logs are recorded by that Prefect server. Costs about 2-3 s
  (importing Prefect, creating the runs). Set ROADMAP_PREFECT=0 to stay local even then.
- Local mode otherwise: the command runs the very same flow body (`flow.fn`) with its tasks
  called as plain functions with the same retries, and never imports Prefect. Without this,
  each command would start a temporary Prefect server first (8-15 s here).
"""

from __future__ import annotations

import importlib
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import AsOfOption, DbOption, RoadmapOption, console, db_url, err_console, handle_errors
from models.roadmaps import parse_day

PrefectOption = Annotated[
    bool, typer.Option("--prefect", help="Run through Prefect (recorded in the configured Prefect API).")
]
_forced: bool | None = None  # set by --prefect


def _profile_api_url() -> str | None:
    """PREFECT_API_URL of the active Prefect profile, read without importing Prefect."""
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml")
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    name = os.environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
    return (data.get("profiles", {}).get(name, {}) or {}).get("PREFECT_API_URL")


def prefect_mode() -> bool:
    if _forced:
        return True
    flag = os.environ.get("ROADMAP_PREFECT", "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    if flag in ("1", "true", "yes", "on"):
        return True
    return bool(os.environ.get("PREFECT_API_URL") or _profile_api_url())


def call_flow(module: str, name: str, **params: Any) -> Any:
    """Run flow `name` of flows/`module`.py with `params`, through Prefect or locally."""
    if not prefect_mode():
        return getattr(importlib.import_module(f"flows.{module}"), name).fn(**params)
    import prefect  # noqa: F401 - before the flow module, so it defines real Prefect flows
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from tasks.prefect_tasks import as_prefect_flow

    flow = as_prefect_flow(getattr(importlib.import_module(f"flows.{module}"), name))
    # A run started by hand lasts seconds: no heartbeat thread, whose join costs ~1 s at the end.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return flow(**params)


def flow_db(option: str | None) -> str | None:
    """The db_url parameter for a flow: the URL unless it holds a password (then the flow
    reads it from ROADMAP_DATABASE_URL, which `--db` has set in this process)."""
    from flows._common import public_db_url

    return public_db_url(db_url(option))


def print_failures(exc: Any) -> None:
    for summary in exc.summaries:
        console.print(summary.line(), markup=False)
        for error in summary.errors:
            err_console.print(f"  failed: {error}", style="red", markup=False)
    err_console.print("`roadmap outbox --status failed` lists the failed messages", style="red")


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def run(as_of: AsOfOption = None, prefect: PrefectOption = False, roadmap: RoadmapOption = None,
            db: DbOption = None) -> None:
        """Run the daily cycle once: reminders, escalations, and the weekly report on its day."""
        from flows._common import DeliveryFailed

        _force(prefect)
        try:
            summaries = call_flow("daily_cycle", "daily_cycle", as_of=parse_day(as_of), roadmap_key=roadmap,
                                  db_url=flow_db(db))
        except DeliveryFailed as exc:
            print_failures(exc)
            raise typer.Exit(1) from None
        for summary in summaries:
            console.print(summary.line(), markup=False)

    @app.command()
    @handle_errors
    def serve(
        roadmap: RoadmapOption = None,
        db: DbOption = None,
        timezone: Annotated[str | None, typer.Option("--timezone", help="Cron timezone (default: the roadmap's).")] = None,
        every: Annotated[float | None, typer.Option("--test-every", help="Test setting: only the daily cycle, every N seconds (60: cron every minute).", hidden=True)] = None,
    ) -> None:
        """Serve every flow with its schedules from this process (Prefect's serve), until stopped."""
        from deployments.serve import serve_all

        serve_all(db_url=flow_db(db), roadmap_key=roadmap, timezone=timezone, every=every)

    @app.command()
    @handle_errors
    def deploy(
        name: Annotated[str | None, typer.Option("--name", help="One deployment, as FLOW/DEPLOYMENT (default: all).")] = None,
        timezone: Annotated[str | None, typer.Option("--timezone", help="Cron timezone (default: the roadmap's).")] = None,
        roadmap: RoadmapOption = None,
        db: DbOption = None,
    ) -> None:
        """Create the process work pool and deploy deployments/prefect.yaml to the configured Prefect API."""
        from deployments.serve import deploy_all

        raise typer.Exit(deploy_all(name, timezone=timezone, db_url=flow_db(db), roadmap_key=roadmap))


def _force(flag: bool) -> None:
    global _forced
    if flag:
        _forced = True

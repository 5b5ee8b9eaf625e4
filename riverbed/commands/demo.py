"""``riverbed demo``: the README's main job (``make demo``).

Brings the local stack up, migrates, creates the topics, then runs the workers, the HTTP
gateway and a simulator posting through it at a moderate rate, and prints what the
system has stored every few seconds (with the recommender's version: the viewing
worker retrains it every minute in the demo). ``--duration`` bounds it; Ctrl-C stops everything.
The simulator stamps events with the wall clock unless ``--epoch`` is given.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
import time
from datetime import datetime

import asyncpg
import click
import httpx

from core.errors import StackError
from core.settings import Settings, get_settings
from processors.kinds import KINDS
from producers.topic_admin import ensure_topics
from riverbed.commands.simulate import EPOCH_HELP, epoch_option
from riverbed.stack.base import StackPaths
from riverbed.stack.jaeger import Jaeger
from riverbed.stack.manager import Stack
from riverbed.stack.postgres import roles
from riverbed.supervisor import Supervisor
from stores.postgres.migrate import migrate
from stores.postgres.pool import quote_ident

STATUS_SQL = """
select
  (select count(*) from orders where status = 'confirmed') as confirmed,
  (select count(*) from orders where status = 'rejected') as rejected,
  (select count(*) from orders where status = 'cancelled') as cancelled,
  (select count(*) from inventory where low) as low_stock,
  (select coalesce(sum(starts), 0) from title_views_minute) as view_starts,
  (select max(version) from recs_models) as model_version
"""
# The demo retrains the recommender every minute (the default is 5), so its versions and
# recommendations follow the short run; RIVERBED_RECS_RETRAIN_S set by the user wins.
DEMO_RETRAIN_S = "60"


async def prepare(settings: Settings) -> None:
    await Stack(settings).up(lambda m: click.echo(m, err=True))
    app_role, reader_role = roles(settings)
    await migrate(
        settings.postgres_owner_dsn.get_secret_value(),
        app_role=app_role,
        reader_role=reader_role,
        schema=settings.postgres_schema or "public",
        say=lambda m: click.echo(f"migrate: {m}", err=True),
    )
    await ensure_topics(settings)


async def snapshot(settings: Settings) -> asyncpg.Record | None:
    try:
        schema = settings.postgres_schema
        conn = await asyncpg.connect(
            settings.postgres_dsn.get_secret_value(),
            timeout=5,
            server_settings={"search_path": quote_ident(schema)} if schema else None,
        )
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        row: asyncpg.Record | None = await conn.fetchrow(STATUS_SQL)
        return row
    finally:
        await conn.close()


def wait_ready(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def free_port_run(count: int, start: int = 9100) -> int | None:
    """The first of ``count`` consecutive loopback ports that are all free now (or None)."""
    for base in range(start, start + 1000, count):
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    return None


def tracing_env(settings: Settings) -> dict[str, str]:
    """Trace the demo to the stack's Jaeger when it answers and no endpoint is set, so
    the dashboard's "Follow an order" has traces (at the default sampling ratio)."""
    if settings.otel_endpoint:
        return {}
    jaeger = Jaeger(settings, StackPaths.from_settings(settings))
    if not asyncio.run(jaeger.healthy()):
        click.echo("demo: Jaeger is not running (yet): tracing off for this run", err=True)
        return {}
    return {"RIVERBED_OTEL_ENDPOINT": f"http://{jaeger.host}:{jaeger.otlp_port}"}


@click.command("demo")
@click.option(
    "--duration",
    type=float,
    default=0,
    show_default=True,
    help="Seconds to run; 0 runs until Ctrl-C.",
)
@click.option(
    "--rate", type=float, default=200, show_default=True, help="Simulated events per second."
)
@click.option("--seed", type=int, default=None, help="Simulator seed (default: random).")
@click.option("--epoch", metavar="TIME", callback=epoch_option, help=EPOCH_HELP)
def command(duration: float, rate: float, seed: int | None, epoch: datetime | None) -> None:
    """Run the whole system: stack, workers, gateway and a simulator.

    By default the simulator stamps its events with the wall clock, and the dashboard's
    time windows end now, so orders per minute, revenue, trending and active viewers
    show the live stream. --epoch stamps simulated time from a fixed start instead:
    reproducible, but on the dashboard only while that start is within its windows.
    `riverbed simulate --help` says how the simulated world runs against the wall clock.
    """
    t_start = time.monotonic()
    settings = get_settings()
    try:
        asyncio.run(prepare(settings))
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    # A key for this run only: the simulator posts through the gateway with it.
    api_key = (
        settings.gateway_api_key.get_secret_value()
        if settings.gateway_api_key
        else secrets.token_urlsafe(24)
    )
    env = {"RIVERBED_GATEWAY_API_KEY": api_key}
    if "RIVERBED_RECS_RETRAIN_S" not in os.environ:
        env["RIVERBED_RECS_RETRAIN_S"] = DEMO_RETRAIN_S
    if not settings.metrics_port:
        # The workers serve /metrics so the dashboard's lag table can show their retries;
        # without free ports the demo runs on, and the table shows a dash instead.
        base = free_port_run(len(KINDS))
        if base is None:
            click.echo("demo: no free ports from 9100 for worker metrics; retries not shown")
        else:
            env["RIVERBED_METRICS_PORT"] = str(base)
    env.update(tracing_env(settings))
    supervisor = Supervisor(settings.data_dir.resolve() / "logs" / "demo", env=env)
    supervisor.start("workers", "worker", "all")
    supervisor.start("gateway", "gateway")
    supervisor.start("dashboard", "dashboard")
    if not wait_ready(settings.gateway_url, 60):
        click.echo(
            supervisor.describe_exit("gateway")
            if supervisor.exited()
            else "gateway not ready in 60s",
            err=True,
        )
        supervisor.stop_all()
        sys.exit(1)
    # Twenty shoppers per store riding 60x faster than real time (a 10-minute ride takes
    # 10 s): the map moves at once, and at the demo's ~40 confirmed orders/s the fleet
    # keeps up (with 6 per store at 20x, 1,000 orders waited after 50 s).
    sim_args = ["simulate", "--duration", "0", "--rate", str(rate), "--via", "gateway"]
    sim_args += ["--shoppers", "20", "--time-scale", "60"]
    if seed is not None:
        sim_args += ["--seed", str(seed)]
    if epoch is not None:
        sim_args += ["--epoch", epoch.isoformat()]
    supervisor.start("simulator", *sim_args)
    dashboard_url = f"http://{settings.dashboard_host}:{settings.dashboard_port}/"
    click.echo(
        f"\nRiverbed demo is running (logs in {supervisor.log_dir}).\n"
        f"  dashboard {dashboard_url}\n"
        f"  gateway  {settings.gateway_url}/docs\n"
        f"  stop     Ctrl-C{f' (or after {duration:.0f}s)' if duration else ''}\n"
    )

    stop = False

    def request_stop(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code, first_event, last_print = 0, None, 0.0
    before = asyncio.run(snapshot(settings))
    decided_before = (before["confirmed"] + before["rejected"]) if before is not None else 0
    while not stop and not (duration and time.monotonic() - t_start >= duration):
        dead = supervisor.exited()
        if dead:
            click.echo(supervisor.describe_exit(dead), err=True)
            code = 1
            break
        if time.monotonic() - last_print >= (1 if first_event is None else 5):
            last_print = time.monotonic()
            row = asyncio.run(snapshot(settings))
            if row is not None:
                decided = row["confirmed"] + row["rejected"]
                if decided > decided_before and first_event is None:
                    first_event = time.monotonic() - t_start
                    click.echo(
                        f"first new order decided {first_event:.1f}s after `riverbed demo` started"
                    )
                click.echo(
                    f"[{time.monotonic() - t_start:6.0f}s] orders confirmed {row['confirmed']}  "
                    f"rejected {row['rejected']}  cancelled {row['cancelled']}  "
                    f"low-stock SKUs {row['low_stock']}  view starts {row['view_starts']}  "
                    f"recommender {'v' + str(row['model_version']) if row['model_version'] else '-'}"
                )
        time.sleep(0.2)
    click.echo("stopping ...", err=True)
    supervisor.stop_all(grace=45.0)
    click.echo("demo stopped; `riverbed stack down` stops the services", err=True)
    sys.exit(code)

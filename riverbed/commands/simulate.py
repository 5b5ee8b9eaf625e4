"""``riverbed simulate``: a seeded stream of realistic events into the running system.

Only wiring and the progress line: the world and its events come from
:mod:`producers.simulators`, the pacing from its runner, delivery from its sinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click

from core.errors import RiverbedError
from core.settings import Settings, get_settings, redact_url
from producers.simulators.mix import DEFAULT_MIX, parse_mix
from producers.simulators.runner import BATCH_SIZE, RunStats, Sink, run
from producers.simulators.simulation import Simulation, SimulationConfig

TTY_EVERY_S = 0.2
LOG_EVERY_S = 5.0


class ProgressLine:
    """The live progress line on stderr: rewritten in place on a terminal, else a line
    every few seconds (logs and CI keep a readable history)."""

    def __init__(self, label: str, stream: IO[str], *, tty: bool | None = None) -> None:
        self.label = label
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._every = TTY_EVERY_S if self._tty else LOG_EVERY_S
        self._last = time.monotonic()

    def __call__(self, stats: RunStats) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._write(stats, final=False)

    def finish(self, stats: RunStats, note: str = "") -> None:
        self._write(stats, final=True, note=note)

    def _write(self, stats: RunStats, *, final: bool, note: str = "") -> None:
        line = (
            f"{self.label}: {stats.elapsed:7.1f}s {stats.rate:9,.0f} ev/s  "
            f"sent {stats.sent:,}  failed {stats.failed:,}{note}"
        )
        if self._tty:
            self._stream.write(f"\r{line}\x1b[K" + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


@dataclass(frozen=True)
class Plan:
    count: int | None
    duration: float | None  # None: until Ctrl-C (or --count)
    rate: float | None
    via: str
    seed_db: bool
    initial_stock: bool
    dry_run: bool
    out: Path | None
    batch_size: int
    shoppers: int = 0
    time_scale: float = 1.0


def _mix_option(ctx: click.Context, param: click.Parameter, value: str) -> dict[str, float]:
    return parse_mix(value)


def parse_epoch(value: str | None) -> datetime | None:
    """An ISO 8601 instant (``2025-01-06T08:00:00Z``); UTC when it names no offset."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2025-01-06T08:00:00Z"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def epoch_option(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    return parse_epoch(value)


EPOCH_HELP = (
    "Stamp events with this start time plus simulated time (100 ms per event), e.g. "
    "2025-01-06T08:00:00Z: a byte-reproducible stream. [default: the wall clock]"
)


@click.command("simulate")
@click.option("--count", type=click.IntRange(min=1), help="Events of the mix to send.")
@click.option(
    "--duration", type=click.FloatRange(min=0), help="Seconds to run instead; 0 runs until Ctrl-C."
)
@click.option(
    "--rate", type=click.FloatRange(min=0, min_open=True), help="Events per second [default: max]."
)
@click.option("--seed", type=int, help="Same seed, same events (ids too) [default: random].")
@click.option("--epoch", metavar="TIME", callback=epoch_option, help=EPOCH_HELP)
@click.option(
    "--mix",
    default=DEFAULT_MIX,
    show_default=True,
    callback=_mix_option,
    help="Relative weights of the orders, inventory and viewing streams.",
)
@click.option(
    "--via",
    type=click.Choice(["publisher", "gateway"]),
    default="publisher",
    show_default=True,
    help="Publish to Kafka directly or POST to the HTTP gateway.",
)
@click.option(
    "--seed-db/--no-seed-db",
    default=True,
    show_default=True,
    help="Insert stores, products and known customers into PostgreSQL first.",
)
@click.option(
    "--initial-stock/--no-initial-stock",
    default=True,
    show_default=True,
    help="Publish stock.received for every store x SKU before the mix.",
)
@click.option(
    "--dry-run", is_flag=True, help="Write the events as JSON lines; no broker, no database."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="File for --dry-run [default: stdout].",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=BATCH_SIZE, show_default=True)
@click.option(
    "--unknown-customers",
    type=click.FloatRange(0, 1),
    default=0.02,
    show_default=True,
    help="Share of orders from customer ids the system does not know.",
)
@click.option(
    "--shoppers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Simulated shoppers per store (they go online, take trips and deliver; needs "
    "`riverbed worker dispatch`).",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="How much faster than real time the shoppers ride (20: a 10-minute ride in 30 s).",
)
def command(
    count: int | None,
    duration: float | None,
    rate: float | None,
    seed: int | None,
    epoch: datetime | None,
    mix: dict[str, float],
    via: str,
    seed_db: bool,
    initial_stock: bool,
    dry_run: bool,
    out: Path | None,
    batch_size: int,
    unknown_customers: float,
    shoppers: int,
    time_scale: float,
) -> None:
    """Publish a realistic, reproducible stream of orders, stock and viewing events.

    Seeds the reference data, publishes the opening stock once, then the mix: give
    exactly one of --count or --duration. Ctrl-C stops gracefully (in-flight events are
    flushed); a second Ctrl-C aborts.

    Event times: by default each event is stamped with the wall clock when it is
    generated (at most one batch before it is sent), however fast or slow the run
    publishes, so a live dashboard sees it in the current minute. The simulated world
    keeps its own clock, 100 ms per event, for session heartbeats, restock lead times and
    promotions: it runs ahead of the wall clock above 10 events/s and behind it below.
    The same seed gives the same events (ids, payloads, order); only the times differ.
    With --epoch the times are that start plus simulated time: byte for byte the same
    stream on every run (tests, --dry-run).
    """
    if (count is None) == (duration is None):
        raise click.UsageError("give exactly one of --count N or --duration SECONDS")
    if out is not None and not dry_run:
        raise click.UsageError("--out goes with --dry-run")
    seed = secrets.randbits(32) if seed is None else seed
    if shoppers and dry_run:
        raise click.UsageError("--shoppers needs the running system (not --dry-run)")
    plan = Plan(
        count,
        duration or None,
        rate,
        via,
        seed_db,
        initial_stock,
        dry_run,
        out,
        batch_size,
        shoppers,
        time_scale,
    )
    config = SimulationConfig(unknown_customer_rate=unknown_customers, epoch=epoch)
    sim = Simulation(seed, mix, config)
    weights = ",".join(f"{k}={v:g}" for k, v in mix.items())
    target = "dry run" if dry_run else f"via {via}"
    times = "wall clock" if epoch is None else f"epoch {epoch.isoformat()}"
    click.echo(f"simulate: seed {seed}, mix {weights}, {times}, {target}", err=True)
    try:
        stats = asyncio.run(_simulate(get_settings(), sim, plan))
    except RiverbedError as exc:
        raise click.ClickException(str(exc)) from None
    _summary(sim)
    if stats.failed:
        raise click.ClickException(
            f"{stats.failed:,} events failed; last error: {stats.last_error}"
        )


async def _simulate(settings: Settings, sim: Simulation, plan: Plan) -> RunStats:
    stop = asyncio.Event()
    _on_interrupt(stop)
    if plan.seed_db and not plan.dry_run:
        await _seed_db(settings, sim)
    total = RunStats()
    fleet_task = _start_fleet(settings, sim, plan, stop)
    try:
        await _phases(settings, sim, plan, stop, total)
    finally:
        if fleet_task is not None:
            stop.set()
            trips = await fleet_task
            click.echo(
                f"shoppers: {trips.trips:,} trips taken, {trips.sent:,} events sent", err=True
            )
    return total


def _start_fleet(
    settings: Settings, sim: Simulation, plan: Plan, stop: asyncio.Event
) -> asyncio.Task[Any] | None:
    if not plan.shoppers:
        return None
    import random

    from producers.simulators.fleet import run_fleet
    from producers.simulators.shoppers import Fleet

    stores = [(s.store_id, (s.lat, s.lon)) for s in sim.catalog.stores]
    fleet = Fleet(
        stores,
        plan.shoppers,
        random.Random(sim.seed),  # noqa: S311 - a simulation, not a secret
        speed_kmh=settings.dispatch_speed_kmh,
        time_scale=plan.time_scale,
        shift=secrets.token_hex(2),
    )
    return asyncio.create_task(run_fleet(settings, fleet, stop), name="simulate.shoppers")


async def _phases(
    settings: Settings, sim: Simulation, plan: Plan, stop: asyncio.Event, total: RunStats
) -> None:
    async with _open_sink(settings, plan) as (sink, batch_size):
        phases: list[tuple[str, Any, dict[str, Any]]] = []
        if plan.initial_stock:
            phases.append(("opening stock", sim.initial_stock(), {}))
        mix = {"count": plan.count, "duration": plan.duration, "rate": plan.rate}
        phases.append(("simulate", sim.events(), mix))
        for label, events, limits in phases:
            if stop.is_set():
                break
            line = ProgressLine(label, sys.stderr)
            stats = await run(
                sink, events, batch_size=batch_size, progress=line, stop=stop, **limits
            )
            line.finish(stats, "  (interrupted)" if stop.is_set() else "")
            total.sent += stats.sent
            total.failed += stats.failed
            total.last_error = stats.last_error or total.last_error


def _on_interrupt(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def first(signum: signal.Signals) -> None:
        stop.set()
        loop.remove_signal_handler(signum)  # a second Ctrl-C aborts at once
        click.echo("\nstopping: flushing events in flight (Ctrl-C again to abort)", err=True)

    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not possible outside the main thread or on Windows: Ctrl-C then aborts at once.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, first, signum)


async def _seed_db(settings: Settings, sim: Simulation) -> None:
    import asyncpg

    from producers.simulators.seed import seed_reference_data

    dsn = settings.postgres_dsn.get_secret_value()
    schema = settings.postgres_schema
    try:
        await seed_reference_data(dsn, sim.catalog, schema=schema)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        if isinstance(exc, asyncpg.PostgresError) and not isinstance(
            exc, asyncpg.InvalidPasswordError | asyncpg.InvalidCatalogNameError
        ):
            raise
        raise click.ClickException(
            f"cannot reach PostgreSQL at {redact_url(dsn)}: {type(exc).__name__}: {exc}; "
            "is the stack up (`riverbed stack status`)? Or pass --no-seed-db"
        ) from None
    c = sim.catalog
    click.echo(
        f"seeded {len(c.stores)} stores, {len(c.products)} products, "
        f"{len(c.customers)} customers into schema {schema or 'public'}",
        err=True,
    )


@asynccontextmanager
async def _open_sink(settings: Settings, plan: Plan) -> AsyncIterator[tuple[Sink, int]]:
    from producers.simulators import sinks

    if plan.dry_run:
        if plan.out is None or str(plan.out) == "-":
            yield sinks.JsonLinesSink(click.get_binary_stream("stdout")), plan.batch_size
        else:
            with plan.out.open("wb") as out:
                yield sinks.JsonLinesSink(out), plan.batch_size
    elif plan.via == "gateway":
        import httpx

        if settings.gateway_api_key is None:
            raise click.ClickException(
                "--via gateway needs an API key: set RIVERBED_GATEWAY_API_KEY"
            )
        key = settings.gateway_api_key.get_secret_value()
        async with httpx.AsyncClient(base_url=settings.gateway_url, timeout=30.0) as client:
            yield sinks.GatewaySink(client, key), min(plan.batch_size, settings.gateway_max_batch)
    else:
        from producers.publisher import Publisher
        from producers.topic_admin import CO_PARTITIONED, ensure_topics
        from schemas.topics import TOPIC_PARTITIONS

        # Rule topics under RIVERBED_TOPIC_PREFIX (empty by default), created if missing.
        topics = {name: settings.topic(name) for name in TOPIC_PARTITIONS}
        await ensure_topics(
            settings,
            layout={topics[name]: n for name, n in TOPIC_PARTITIONS.items()},
            co_partitioned=frozenset(topics[name] for name in CO_PARTITIONED),
        )
        async with Publisher(settings, topics=topics) as publisher:
            yield sinks.PublisherSink(publisher), plan.batch_size


def _summary(sim: Simulation) -> None:
    o, v = sim.orders.stats, sim.viewing.stats
    click.echo(
        f"expected decisions: {o.confirmed:,} confirmed, {o.out_of_stock:,} out of stock, "
        f"{o.unknown_customer:,} unknown customer, {o.cancelled:,} cancelled; sessions: "
        f"{v.started:,} started, {v.completed:,} completed, {v.stopped:,} stopped",
        err=True,
    )

"""The viewing group keeps up with the demo's load: its lag, as the dashboard computes it,
stays under 2 s (issue 13).

The demo's load is `riverbed demo`'s: the simulator's default mix (orders=1,
inventory=1, viewing=3) at 200 events/s, with a worker of every kind running, as
`riverbed worker all` starts them. Events go straight to the namespace's topics (the
demo posts through the gateway, which is before the topic, so it does not change the
consumer lag measured here). The dashboard's own Kafka source samples the lag in
seconds (age of the oldest unprocessed message) twice a second.
"""

from __future__ import annotations

import asyncio
import itertools

from core.settings import Settings
from dashboard.config import DashboardConfig
from dashboard.sources.kafka import KafkaSource
from processors.kinds import KINDS, WORKER_TOPICS
from producers.simulators.mix import DEFAULT_MIX, parse_mix
from producers.simulators.seed import seed_reference_data
from producers.simulators.simulation import Simulation
from riverbed.bench.feed import paced, records
from riverbed.sandbox import Namespace

DEMO_RATE = 200.0  # events/s of every kind: `riverbed demo --rate` default
SECONDS = 15.0
MAX_LAG_S = 2.0


async def test_viewing_lag_stays_under_two_seconds_under_the_demos_load(
    settings: Settings, ns: Namespace
) -> None:
    sim = Simulation(11, parse_mix(DEFAULT_MIX))
    await seed_reference_data(
        ns.settings.postgres_owner_dsn.get_secret_value(), sim.catalog, schema=ns.schema
    )
    for kind in KINDS:
        ns.start(kind)
    stream = sim.events()
    # The opening stock and a first stretch of the mix: every group joined and warm
    # before the clock starts.
    await ns.publish([*sim.initial_stock(), *itertools.islice(stream, 400)])
    await ns.wait_caught_up(WORKER_TOPICS)

    local = settings.model_copy(update={"topic_prefix": ns.prefix, "group_prefix": f"t{ns.uid}"})
    source = KafkaSource(local, DashboardConfig())
    lags: list[float] = []
    others: dict[str, list[float | None]] = {k: [] for k in KINDS if k != "viewing"}

    async def sample() -> None:
        while True:
            found = {g["kind"]: g for g in (await source.sample())["groups"]}
            assert found["viewing"]["lag_s"] is not None, found["viewing"]
            lags.append(found["viewing"]["lag_s"])
            for kind, seen in others.items():
                seen.append(found[kind]["lag_s"])
            await asyncio.sleep(0.5)

    batch = records(ns, itertools.islice(stream, int(DEMO_RATE * SECONDS)))
    viewing = sum(r.topic == ns.topic(WORKER_TOPICS["viewing"]) for r in batch)
    assert viewing > 0.5 * len(batch), "the mix is mostly viewing, as in the demo"
    sampler = asyncio.create_task(sample())
    try:
        await paced(ns, batch, DEMO_RATE)
        await asyncio.sleep(1.0)
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        await source.close()
    assert len(lags) >= SECONDS, "sampled about twice a second"
    assert max(lags) < MAX_LAG_S, (lags, others)
    await ns.wait_caught_up(WORKER_TOPICS, wait_s=60)  # every kind kept up, none crashed

"""``riverbed simulate`` through the real Publisher into the real broker and PostgreSQL.

The run publishes to the shared rule topics (that is its job), so the test records the
end offsets first and reads only what came after; the dry run of the same seed says
exactly which events, byte for byte, must have arrived. Reference data goes to a schema
migrated for this test alone (``RIVERBED_POSTGRES_SCHEMA``). The gateway sink is tried
against the real gateway app (in process) on topics of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from core.settings import Settings
from producers.gateway.app import create_app
from producers.publisher import Publisher
from producers.simulators import (
    DEFAULT_MIX,
    GatewaySink,
    ReferenceTablesMissing,
    Simulation,
    parse_mix,
    run,
    seed_reference_data,
)
from schemas import TOPIC_RULES, topic_for
from stores.postgres import migrate
from stores.postgres.pool import quote_ident

COUNT = 500
SEED = 7
EPOCH = "2025-01-06T08:00:00Z"  # both runs stamp from it: the dry run predicts the bytes


@pytest.fixture
async def schema(settings: Settings, uid: str) -> AsyncIterator[str]:
    """A schema of this test's own, migrated and granted to the app role; then dropped."""
    owner = settings.postgres_owner_dsn.get_secret_value()
    app_role = urlsplit(settings.postgres_dsn.get_secret_value()).username or ""
    name = f"test_sim_{uid}"
    await migrate(owner, schema=name, app_role=app_role, say=lambda _: None)
    yield name
    conn = await asyncpg.connect(owner)
    await conn.execute(f"drop schema if exists {quote_ident(name)} cascade")
    await conn.close()


async def riverbed(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the real CLI in a child process; returns (exit code, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "riverbed",
        *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(180):
        _, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, err.decode()


async def topic_partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    """The partitions of those ``topics`` that exist (naming a missing topic in a metadata
    request would make the broker auto-create it)."""
    existing = sorted(set(await admin.list_topics()) & set(topics))
    described = await admin.describe_topics(existing) if existing else []
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def end_offsets(settings: Settings, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def read_new(
    settings: Settings,
    tps: list[TopicPartition],
    before: dict[TopicPartition, int],
    wanted: set[str],
) -> dict[str, list[Any]]:
    """Messages carrying a wanted event id, from the offsets recorded before the run."""
    found: dict[str, list[Any]] = defaultdict(list)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, before.get(tp, 0))  # a partition new since then: from 0
        async with asyncio.timeout(60):
            while not wanted <= found.keys():
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for messages in batches.values():
                    for message in messages:
                        event_id = dict(message.headers).get("riverbed-event-id", b"").decode()
                        if event_id in wanted:
                            found[event_id].append(message)
    finally:
        await consumer.stop()
    return found


async def test_simulate_publishes_the_seeded_stream_and_seeds_reference_data(
    own_topics: Settings, kafka_admin: AIOKafkaAdminClient, schema: str, tmp_path: Path
) -> None:
    settings = own_topics
    dry = tmp_path / "dry.jsonl"
    seeded = ("--count", str(COUNT), "--seed", str(SEED), "--epoch", EPOCH)
    code, err = await riverbed("simulate", *seeded, "--dry-run", "--out", str(dry))
    assert code == 0, err
    lines = dry.read_bytes().splitlines()
    expected = {json.loads(line)["event_id"]: line for line in lines}
    sim = Simulation(SEED, parse_mix(DEFAULT_MIX))
    opening = len(sim.catalog.stores) * len(sim.catalog.products)
    assert len(lines) == len(expected) == opening + COUNT

    topics = [settings.topic(rule.name) for rule in TOPIC_RULES]
    before = await end_offsets(settings, await topic_partitions(kafka_admin, topics))
    code, err = await riverbed(
        "simulate",
        *seeded,
        "--via",
        "publisher",
        env={"RIVERBED_POSTGRES_SCHEMA": schema, "RIVERBED_TOPIC_PREFIX": settings.topic_prefix},
    )
    assert code == 0, err
    print(err)  # the progress lines, with the rate reached
    tps = await topic_partitions(kafka_admin, topics)  # the run may have created some
    found = await read_new(settings, tps, before, set(expected))

    # Every event of the dry run arrived once, byte for byte, on its rule topic and key.
    assert {event_id: len(messages) for event_id, messages in found.items()} == dict.fromkeys(
        expected, 1
    )
    per_key: dict[tuple[str, bytes], list[str]] = defaultdict(list)
    for event_id, line in expected.items():
        (message,) = found[event_id]
        body = json.loads(line)
        assert message.value == line
        assert message.topic == settings.topic(topic_for(body["type"]))
        assert message.key == body["key"].encode()
        per_key[(message.topic, message.key)].append(event_id)
    # Within a key (a store, a session), the broker holds them in the stream's order.
    for ids in per_key.values():
        offsets = [found[event_id][0].offset for event_id in ids]
        assert offsets == sorted(offsets)
    mix_ids = [json.loads(line)["event_id"] for line in lines[opening:]]
    assert len(mix_ids) == COUNT and set(mix_ids) <= found.keys()

    # The reference data rows exist, and seeding again changes nothing.
    dsn = settings.postgres_dsn.get_secret_value()
    conn = await asyncpg.connect(dsn, server_settings={"search_path": quote_ident(schema)})
    try:

        async def rows() -> tuple[set[Any], ...]:
            stores = await conn.fetch("select store_id, name, region from stores")
            products = await conn.fetch(
                "select sku, name, category, unit_price, currency, low_stock_threshold from products"
            )
            customers = await conn.fetch("select customer_id, name from customers")
            return tuple({tuple(r) for r in table} for table in (stores, products, customers))

        stores, products, customers = await rows()
        catalog = sim.catalog
        assert stores == {(s.store_id, s.name, s.region) for s in catalog.stores}
        assert products == {
            (p.sku, p.name, p.category, p.unit_price, p.currency, p.low_stock_threshold)
            for p in catalog.products
        }
        assert customers == {(c.customer_id, c.name) for c in catalog.customers}
        await seed_reference_data(conn, catalog)
        assert await rows() == (stores, products, customers)
    finally:
        await conn.close()


async def test_seeding_an_unmigrated_schema_says_to_run_migrate(
    settings: Settings, uid: str
) -> None:
    catalog = Simulation(1, parse_mix(DEFAULT_MIX)).catalog
    dsn = settings.postgres_dsn.get_secret_value()
    with pytest.raises(ReferenceTablesMissing, match="riverbed migrate"):
        await seed_reference_data(dsn, catalog, schema=f"missing_{uid}")

    code, err = await riverbed(
        "simulate",
        "--count",
        "1",
        "--seed",
        "1",
        env={"RIVERBED_POSTGRES_SCHEMA": f"missing_{uid}"},
    )
    assert code == 1
    assert "run `riverbed migrate` first" in err


async def test_the_gateway_sink_through_the_real_gateway_retries_429s(
    own_topics: Settings, kafka_admin: AIOKafkaAdminClient, uid: str
) -> None:
    # A key and a small bucket of our own, on topics of our own.
    gw = own_topics.model_copy(
        update={
            "gateway_api_key": SecretStr(f"sim-{uid}"),
            "gateway_rate_per_s": 2000.0,
            "gateway_rate_burst": 500,
        }
    )
    topics = {rule.name: gw.topic(rule.name) for rule in TOPIC_RULES}
    app = create_app(gw, publisher=Publisher(gw, topics=topics))
    sim = Simulation(SEED, parse_mix(DEFAULT_MIX))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        stats = await run(GatewaySink(client, f"sim-{uid}"), sim.events(), count=1500)
    assert (stats.sent, stats.failed) == (1500, 0)
    assert stats.elapsed >= 0.4  # the bucket held 500: later batches waited for tokens
    tps = await topic_partitions(kafka_admin, list(topics.values()))
    offsets = await end_offsets(gw, tps)
    assert sum(offsets.values()) == 1500

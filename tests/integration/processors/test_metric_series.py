"""A rebalance between two real orders workers leaves each one's /metrics with the lag
series of the partitions it owns, and no frozen series of those it gave away."""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from riverbed.sandbox import Namespace
from schemas import STORE_PARTITIONS
from tests.integration.ports import free_ports

LAG = "riverbed_consumer_lag_messages"
ALL = {str(p) for p in range(STORE_PARTITIONS)}


async def scrape(client: httpx.AsyncClient, port: int) -> tuple[set[str], float | None]:
    """(partitions with a lag series, outbox backlog) of the worker on ``port``."""
    try:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.HTTPError:
        return set(), None
    partitions, backlog = set(), None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == LAG:
                partitions.add(s.labels["partition"])
            elif s.name == "riverbed_outbox_backlog_events":
                backlog = s.value
    return partitions, backlog


async def test_lag_series_follow_the_assignment_through_a_rebalance(ns: Namespace) -> None:
    first, second = free_ports(2)
    ns.start("orders", {"RIVERBED_METRICS_PORT": str(first)})
    async with httpx.AsyncClient(timeout=3) as client:
        deadline = time.monotonic() + 60
        while True:  # alone in the group: every partition, and the outbox measured
            owned, backlog = await scrape(client, first)
            if owned == ALL and backlog is not None:
                break
            assert time.monotonic() < deadline, (owned, backlog, ns.logs())
            await asyncio.sleep(0.5)
        assert backlog == 0  # nothing waits in a fresh namespace's outbox

        ns.start("orders", {"RIVERBED_METRICS_PORT": str(second)})
        deadline = time.monotonic() + 60
        while True:  # the group split the partitions: each shows only its own
            mine, theirs = (await scrape(client, first))[0], (await scrape(client, second))[0]
            if mine and theirs and mine | theirs == ALL and not mine & theirs:
                break
            assert time.monotonic() < deadline, (mine, theirs, ns.logs())
            await asyncio.sleep(0.5)

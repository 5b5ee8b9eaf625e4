"""The gateway's /metrics, scraped from the real server after real requests.

``riverbed gateway`` runs as a subprocess (uvicorn on a free port, JSON logs, a bucket of
3 events that refills in minutes) publishing into the real broker under the test's own
topic prefix. Requests answered 200, 401, 422, 202 and 429 then show in the counters
with their route templates, and every line the process wrote, uvicorn's included, is
JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from producers.topic_admin import ensure_topics
from tests.integration.ports import free_ports
from tests.integration.producers.conftest import order

ROOT = Path(__file__).resolve().parents[3]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by (name, labels)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: dict[Any, float], name: str, **labels: str) -> float | None:
    return scraped.get((name, frozenset(labels.items())))


@pytest.fixture
async def gateway(own_topics: Settings, tmp_path: Path) -> AsyncIterator[tuple[str, str, Path]]:
    """(base URL, API key, stderr file) of a ``riverbed gateway`` subprocess."""
    await ensure_topics(own_topics)
    key, (port,) = f"rbk-{secrets.token_hex(16)}", free_ports(1)
    log = tmp_path / "gateway.err"
    env = {
        **os.environ,
        "RIVERBED_KAFKA_BOOTSTRAP": own_topics.kafka_bootstrap,
        "RIVERBED_TOPIC_PREFIX": own_topics.topic_prefix,
        "RIVERBED_GATEWAY_API_KEY": key,
        "RIVERBED_GATEWAY_KEYS_FILE": str(tmp_path / "api-keys.json"),
        "RIVERBED_GATEWAY_RATE_BURST": "3",
        "RIVERBED_GATEWAY_RATE_PER_S": "0.01",  # one token back every 100 s
        "RIVERBED_LOG_FORMAT": "json",
        "RIVERBED_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "riverbed",
            "gateway",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            cwd=ROOT,
            env=env,
            stdout=err,
            stderr=err,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=3) as client:
            while True:
                try:
                    if (await client.get(f"{base}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.returncode is None, log.read_text()
                assert time.monotonic() < deadline, "gateway not ready in 60 s\n" + log.read_text()
                await asyncio.sleep(0.2)
        yield base, key, log
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)


async def test_requests_and_events_are_counted_by_route_status_and_reason(
    gateway: tuple[str, str, Path],
) -> None:
    base, key, log = gateway
    auth = {"X-API-Key": key}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        before = samples((await client.get("/metrics")).text)
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.post("/v1/events", json=order())).status_code == 401
        unknown = {**order(), "type": "order.teleported"}
        r = await client.post("/v1/events", json=unknown, headers=auth)  # 1 token
        assert r.status_code == 422, r.text
        batch = [order("store-1", 1), order("store-2", 2)]
        r = await client.post("/v1/events/batch", json=batch, headers=auth)  # 2 tokens
        assert r.status_code == 202 and r.json()["accepted"] == 2, r.text
        r = await client.post("/v1/events", json=order("store-3", 3), headers=auth)
        assert r.status_code == 429 and r.headers["Retry-After"], r.text
        probe = f"/scan-{secrets.token_hex(4)}"
        assert (await client.get(probe)).status_code == 404
        text = (await client.get("/metrics")).text
    after = samples(text)

    def requests(route: str, method: str, status: str) -> float | None:
        labels = {"route": route, "method": method, "status": status}
        return value(after, "riverbed_gateway_requests_total", **labels)

    assert requests("/healthz", "GET", "200") == 1
    assert requests("/v1/events", "POST", "401") == 1
    assert requests("/v1/events", "POST", "422") == 1
    assert requests("/v1/events/batch", "POST", "202") == 1
    assert requests("/v1/events", "POST", "429") == 1
    assert requests("unmatched", "GET", "404") == 1
    # The scrape before: counted as a request, under its route.
    assert requests("/metrics", "GET", "200") == 1
    assert probe.lstrip("/") not in text  # raw paths never become a label

    refused = "riverbed_gateway_events_refused_total"
    assert value(after, refused, reason="unauthenticated") == 1
    assert value(after, refused, reason="invalid") == 1
    assert value(after, refused, reason="rate_limited") == 1
    assert value(after, "riverbed_gateway_events_accepted_total", type="order.placed") == 2
    # One publish call for the batch, acknowledged by the real broker.
    publish = "riverbed_gateway_publish_seconds"
    assert value(after, f"{publish}_count", outcome="acknowledged") == 1
    assert (value(after, f"{publish}_sum", outcome="acknowledged") or 0) > 0
    assert value(after, f"{publish}_bucket", outcome="acknowledged", le="10.0") == 1
    # Before any request, none of the labelled series existed.
    assert not [k for k in before if k[0].startswith("riverbed_gateway_events")]

    # uvicorn's own lines (start-up, access log) follow RIVERBED_LOG_FORMAT=json too.
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    loggers = {e["logger"] for e in entries}
    assert {"uvicorn.error", "uvicorn.access"} <= loggers, loggers
    assert any('"POST /v1/events/batch HTTP/1.1" 202' in e["msg"] for e in entries)

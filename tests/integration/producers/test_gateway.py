"""The HTTP gateway through real requests, a real publisher and the real broker.

Requests go through ``httpx.ASGITransport`` into the app, whose lifespan starts a real
:class:`Publisher`; events land on per-test topics (one test uses the real rule topics
and finds its events by id).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from core.settings import Settings
from producers.gateway import KeyStore, create_app
from producers.publisher import Publisher
from producers.topic_admin import ensure_topics
from schemas import ORDERS_TOPIC, decode
from tests.integration.producers.conftest import AUTH, BOOTSTRAP, PARTITIONS, order


def heartbeat(session: str, n: int) -> dict[str, Any]:
    return {
        "type": "playback.heartbeat",
        "version": 1,
        "payload": {"session_id": session, "user_id": "u", "title_id": "t", "position_s": n},
    }


async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


@pytest.fixture
async def client(
    gw_settings: Settings, key_store: KeyStore, pub_topics: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    publisher = Publisher(gw_settings, topics=pub_topics)
    async for c in serve(create_app(gw_settings, publisher=publisher, keys=key_store)):
        yield c


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


# -- the happy path, end to end -------------------------------------------------------


async def test_a_batch_reaches_kafka_in_order_per_key_with_the_gateways_source(
    client: httpx.AsyncClient, key_store: KeyStore, pub_topics: dict[str, str], read_all: Any
) -> None:
    key = key_store.create("storefront")
    sent: list[dict[str, Any]] = []
    accepted: list[dict[str, Any]] = []
    for batch in range(6):
        items = [
            order(f"store-{n % 3}", n) if n % 2 else heartbeat(f"sess-{n % 5}", n)
            for n in range(batch * 50, batch * 50 + 50)
        ]
        response = await client.post(
            "/v1/events/batch", json={"events": items}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert (body["accepted"], body["rejected"]) == (50, 0)
        assert [i["index"] for i in body["items"]] == list(range(50))
        sent.extend(items)
        accepted.extend(body["items"])

    records = await read_all(list(pub_topics.values()), len(sent))
    decoded = {(r.topic, r.partition, r.offset): decode(r.value, r.headers) for r in records}
    by_id = {e.event_id: e for e in decoded.values()}
    for item, status in zip(sent, accepted, strict=True):
        event = by_id[UUID(status["event_id"])]
        assert event.source == "gateway.storefront"
        assert event.type == item["type"]
        dumped = event.payload.model_dump(mode="json")
        assert {k: dumped[k] for k in item["payload"]} == item["payload"]
    # Kafka's order per key is the order the client sent them in.
    in_log: dict[str, list[UUID]] = {}
    for position in sorted(decoded):
        in_log.setdefault(decoded[position].key, []).append(decoded[position].event_id)
    sent_ids: dict[str, list[UUID]] = {}
    for item, status in zip(sent, accepted, strict=True):
        key_value = item["payload"].get("store_id") or item["payload"]["session_id"]
        sent_ids.setdefault(key_value, []).append(UUID(status["event_id"]))
    assert in_log == sent_ids


async def test_one_event_is_accepted_with_where_it_was_written(
    client: httpx.AsyncClient, read_at: Any
) -> None:
    event_id = str(uuid4())
    response = await client.post("/v1/events", json=order(event_id=event_id), headers=AUTH)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted" and body["event_id"] == event_id
    record = await read_at(body["topic"], body["partition"], body["offset"])
    event = decode(record.value, record.headers)
    assert str(event.event_id) == event_id and event.source == "gateway.bootstrap"


async def test_events_reach_the_real_rule_topic(
    gw_settings: Settings, key_store: KeyStore, read_at: Any, own_topics: Settings
) -> None:
    # The rule's topic under the test's own prefix, as RIVERBED_TOPIC_PREFIX gives it: the
    # user's default riverbed.orders is not the test's to write (it once got order o-0).
    mine = gw_settings.model_copy(update={"topic_prefix": own_topics.topic_prefix})
    await ensure_topics(mine)
    event_id = str(uuid4())
    async for client in serve(create_app(mine, keys=key_store)):
        response = await client.post("/v1/events", json=order(event_id=event_id), headers=AUTH)
        assert response.status_code == 202, response.text
        body = response.json()
    assert body["topic"] == mine.topic(ORDERS_TOPIC)
    record = await read_at(body["topic"], body["partition"], body["offset"])
    assert str(decode(record.value, record.headers).event_id) == event_id


async def test_a_mixed_batch_publishes_the_valid_events_and_reports_the_others(
    client: httpx.AsyncClient,
) -> None:
    items = [order(n=1), order(n=2, source="me"), {"type": "order.placed"}, order(n=3)]
    items[3]["payload"]["lines"][0]["quantity"] = -1
    response = await client.post("/v1/events/batch", json=items, headers=AUTH)
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 3)
    statuses = body["items"]
    assert statuses[0]["status"] == "accepted" and statuses[0]["offset"] >= 0
    assert statuses[1]["errors"][0]["loc"] == ["source"]
    assert statuses[2]["errors"][0]["loc"] == ["version"]
    assert ["payload", "lines", 0, "quantity"] in [e["loc"] for e in statuses[3]["errors"]]


# -- every error status, from a real request ------------------------------------------


async def test_401_for_a_missing_wrong_or_revoked_key_and_never_echoing_it(
    client: httpx.AsyncClient, key_store: KeyStore, caplog: pytest.LogCaptureFixture
) -> None:
    key = key_store.create("partner")
    assert (
        await client.post("/v1/events", json=order(), headers={"X-API-Key": key})
    ).status_code == 202
    wrong = key[:-4] + "AAAA"
    caplog.set_level(logging.DEBUG)
    for headers in (
        {},
        {"X-API-Key": wrong},
        {"Authorization": f"Bearer {wrong}"},
        {"Authorization": f"Basic {key}"},
    ):
        response = await client.post("/v1/events", json=order(), headers=headers)
        error = assert_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert wrong not in json.dumps(error) and key not in response.text
    key_store.revoke("partner")
    assert_error(await client.post("/v1/events", json=order(), headers={"X-API-Key": key}), 401)
    assert key not in caplog.text and wrong not in caplog.text and BOOTSTRAP not in caplog.text


async def test_a_scoped_key_publishes_its_types_and_a_batch_outside_publishes_nothing(
    client: httpx.AsyncClient, key_store: KeyStore, pub_topics: dict[str, str], settings: Settings
) -> None:
    key = key_store.create("shop", types=["order.*"])
    headers = {"X-API-Key": key}
    accepted = await client.post("/v1/events", json=order(), headers=headers)
    assert accepted.status_code == 202, accepted.text

    response = await client.post("/v1/events", json=heartbeat("s-1", 1), headers=headers)
    error = assert_error(response, 403)
    assert "playback.heartbeat" in error["message"] and "order.*" in error["message"]
    assert key not in response.text

    batch = [order(n=1), heartbeat("s-1", 2), order(n=3), heartbeat("s-2", 4)]
    error = assert_error(await client.post("/v1/events/batch", json=batch, headers=headers), 403)
    assert [d["index"] for d in error["details"]] == [1, 3]
    # Nothing of the refused batch reached Kafka: only the one accepted event is there.
    assert await written(settings, list(pub_topics.values())) == 1
    # An unknown type is a validation error, whatever the key's scopes.
    unknown = {**order(), "type": "order.teleported"}
    assert_error(await client.post("/v1/events", json=unknown, headers=headers), 422)


async def written(settings: Settings, topics: list[str]) -> int:
    """How many messages the topics hold (end offsets; nothing is ever deleted here)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def test_415_for_anything_but_json(client: httpx.AsyncClient) -> None:
    body = json.dumps(order()).encode()
    for content_type in ("text/plain", "application/xml", "application/json; charset=latin-1"):
        response = await client.post(
            "/v1/events", content=body, headers={**AUTH, "Content-Type": content_type}
        )
        assert_error(response, 415)
    response = await client.post("/v1/events/batch", data={"a": "b"}, headers=AUTH)
    assert_error(response, 415)


async def test_413_by_declared_length_by_streamed_length_and_by_event_count(
    client: httpx.AsyncClient,
) -> None:
    big = json.dumps([order(n=n) for n in range(400)]).encode()
    assert len(big) > 64 * 1024
    headers = {**AUTH, "Content-Type": "application/json"}
    assert_error(await client.post("/v1/events/batch", content=big, headers=headers), 413)

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    response = await client.post("/v1/events/batch", content=chunked(), headers=headers)
    assert "content-length" not in response.request.headers
    assert_error(response, 413)

    too_many = [order(n=n) for n in range(51)]
    error = assert_error(await client.post("/v1/events/batch", json=too_many, headers=AUTH), 413)
    assert "at most 50" in error["message"]


async def test_422_with_field_paths_for_invalid_events(client: httpx.AsyncClient) -> None:
    bad = order()
    bad["payload"]["lines"][0]["currency"] = "euro"
    error = assert_error(await client.post("/v1/events", json=bad, headers=AUTH), 422)
    assert ["payload", "lines", 0, "currency"] in [d["loc"] for d in error["details"]]
    assert all(set(d) == {"loc", "msg", "type"} for d in error["details"])

    error = assert_error(await client.post("/v1/events", json=order(extra=1), headers=AUTH), 422)
    assert ["extra"] in [d["loc"] for d in error["details"]]

    error = assert_error(await client.post("/v1/events", json=order(source="x"), headers=AUTH), 422)
    assert error["details"][0]["loc"] == ["source"]

    error = assert_error(
        await client.post("/v1/events/batch", json=[bad, {"no": 1}], headers=AUTH), 422
    )
    assert [d["status"] for d in error["details"]] == ["rejected", "rejected"]

    bodies: list[Any] = [[], {"events": []}, {"events": [order()], "more": 1}, "text"]
    for body in bodies:
        assert_error(await client.post("/v1/events/batch", json=body, headers=AUTH), 422)


async def test_400_for_malformed_json(client: httpx.AsyncClient) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    assert_error(await client.post("/v1/events", content=b'{"type": ', headers=headers), 400)


async def test_429_with_retry_after_over_the_keys_rate(
    gw_settings: Settings, key_store: KeyStore, pub_topics: dict[str, str]
) -> None:
    slow = gw_settings.model_copy(update={"gateway_rate_per_s": 0.5, "gateway_rate_burst": 5})
    app = create_app(slow, publisher=Publisher(slow, topics=pub_topics), keys=key_store)
    other = key_store.create("other")
    async for client in serve(app):
        response = await client.post(
            "/v1/events/batch", json=[order(n=n) for n in range(5)], headers=AUTH
        )
        assert response.status_code == 202
        response = await client.post("/v1/events", json=order(), headers=AUTH)
        assert_error(response, 429)
        assert int(response.headers["Retry-After"]) >= 1
        # Buckets are per key: another key is not throttled by the first one's traffic.
        assert (
            await client.post("/v1/events", json=order(), headers={"X-API-Key": other})
        ).status_code == 202


async def test_503_never_202_when_the_broker_is_unreachable(
    gw_settings: Settings, key_store: KeyStore
) -> None:
    absent = gw_settings.model_copy(
        update={"kafka_bootstrap": "127.0.0.1:1", "publisher_send_timeout_s": 1.0}
    )
    async for client in serve(create_app(absent, publisher=Publisher(absent), keys=key_store)):
        for path, body in (("/v1/events", order()), ("/v1/events/batch", [order(), order(n=2)])):
            response = await client.post(path, json=body, headers=AUTH)
            error = assert_error(response, 503)
            assert "Retry-After" in response.headers and "unavailable" in error["message"]
        assert_error(await client.get("/readyz"), 503)
        assert (await client.get("/healthz")).status_code == 200


# -- probes, docs, uniform errors -----------------------------------------------------


async def test_probes_docs_and_uniform_framework_errors(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/events", "/v1/events/batch", "/healthz", "/readyz"} <= set(spec["paths"])
    assert "requestBody" in spec["paths"]["/v1/events/batch"]["post"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(spec["components"]["securitySchemes"])
    assert_error(await client.get("/nowhere"), 404)
    assert_error(await client.get("/v1/events"), 405)

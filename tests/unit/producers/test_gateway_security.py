"""The gateway's refusals, status by status, through the real app and an in-memory broker.

Who may call (401), which types a key may publish (403), how fast (429), and what a
client may set (422: unknown fields, ``source``, unsafe ``context`` keys, depth, size).
Each refusal is a uniform error body with field details, never a 5xx.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from core.settings import Settings
from producers.gateway import KeyStore, ScryptParams
from schemas.context import MAX_CONTEXT_BYTES, MAX_CONTEXT_DEPTH, MAX_CONTEXT_KEYS
from tests.unit.producers.gateway_fakes import (
    MemoryPublisher,
    error_of,
    gateway_client,
    gateway_settings,
    heartbeat,
    order,
    stock,
)

pytestmark = pytest.mark.unit

BOOTSTRAP = "bootstrap-key-for-unit-tests"
AUTH = {"X-API-Key": BOOTSTRAP}


@pytest.fixture
def gw_settings(settings: Settings, tmp_path: Path) -> Settings:
    return gateway_settings(settings, tmp_path, BOOTSTRAP)


# -- 401, 403, 202: who may publish what ----------------------------------------------


async def test_401_for_a_missing_a_wrong_and_a_revoked_key(
    client: httpx.AsyncClient, key_store: KeyStore
) -> None:
    key = key_store.create("partner", types=["order.*"])
    assert (await client.post("/v1/events", json=order(), headers={"X-API-Key": key})).is_success
    for headers in ({}, {"X-API-Key": key[:-3] + "xyz"}, {"Authorization": "Bearer nope"}):
        error = error_of(await client.post("/v1/events", json=order(), headers=headers), 401)
        assert key not in json.dumps(error)
    key_store.revoke("partner")
    error_of(await client.post("/v1/events", json=order(), headers={"X-API-Key": key}), 401)


async def test_a_scoped_key_gets_202_in_scope_and_403_naming_type_and_scopes_outside(
    client: httpx.AsyncClient, key_store: KeyStore, publisher: MemoryPublisher
) -> None:
    key = key_store.create("shop", types=["order.*", "stock.received"])
    headers = {"Authorization": f"Bearer {key}"}
    for item in (order(), stock()):
        assert (await client.post("/v1/events", json=item, headers=headers)).status_code == 202

    response = await client.post("/v1/events", json=heartbeat(), headers=headers)
    error = error_of(response, 403)
    assert (
        "playback.heartbeat" in error["message"] and "order.*, stock.received" in error["message"]
    )
    assert "shop" in error["message"] and key not in response.text
    assert [e.type for e in publisher.sent] == ["order.placed", "stock.received"]


async def test_scope_is_checked_before_validation_but_an_unknown_type_is_still_422(
    client: httpx.AsyncClient, key_store: KeyStore
) -> None:
    headers = {"X-API-Key": key_store.create("shop", types=["order.placed"])}
    invalid_outside = heartbeat()
    del invalid_outside["payload"]["session_id"]
    error_of(await client.post("/v1/events", json=invalid_outside, headers=headers), 403)

    unknown = {**order(), "type": "order.teleported"}
    error = error_of(await client.post("/v1/events", json=unknown, headers=headers), 422)
    assert error["details"][0]["loc"] == ["type"]
    assert error["details"][0]["type"] == "unknown_event_type"


async def test_a_batch_with_any_event_out_of_scope_is_refused_whole_and_publishes_nothing(
    client: httpx.AsyncClient, key_store: KeyStore, publisher: MemoryPublisher
) -> None:
    headers = {"X-API-Key": key_store.create("shop", types=["order.*"])}
    batch = [order(1), heartbeat(), order(2), stock(), {"type": "nope.nope"}, "not an event"]
    error = error_of(await client.post("/v1/events/batch", json=batch, headers=headers), 403)
    assert error["details"] == [
        {"index": 1, "type": "playback.heartbeat"},
        {"index": 3, "type": "stock.received"},
    ]
    assert "nothing was published" in error["message"] and "order.*" in error["message"]
    assert publisher.sent == []

    response = await client.post("/v1/events/batch", json=[order(1), order(2)], headers=headers)
    assert response.status_code == 202 and len(publisher.sent) == 2


async def test_the_bootstrap_key_and_a_key_from_before_scopes_publish_every_type(
    gw_settings: Settings, publisher: MemoryPublisher
) -> None:
    path = gw_settings.gateway_keys_file
    params = ScryptParams(n=16, r=1, p=1)
    key = KeyStore(path, params=params).create("legacy")
    document = json.loads(path.read_text())
    for entry in document["keys"]:  # what a version 1 file holds: no scopes
        del entry["scopes"]
    path.write_text(json.dumps({**document, "version": 1}))

    async for client in gateway_client(gw_settings, publisher, KeyStore(path, params=params)):
        for headers in (AUTH, {"X-API-Key": key}):
            batch = [order(), stock(), heartbeat()]
            response = await client.post("/v1/events/batch", json=batch, headers=headers)
            assert response.status_code == 202, response.text
    assert [e.source for e in publisher.sent] == ["gateway.bootstrap"] * 3 + ["gateway.legacy"] * 3


# -- 429 ------------------------------------------------------------------------------


async def test_429_with_retry_after_once_the_keys_bucket_is_empty(
    gw_settings: Settings, publisher: MemoryPublisher, key_store: KeyStore
) -> None:
    slow = gw_settings.model_copy(update={"gateway_rate_per_s": 0.5, "gateway_rate_burst": 3})
    async for client in gateway_client(slow, publisher, key_store):
        response = await client.post(
            "/v1/events/batch", json=[order(n) for n in range(3)], headers=AUTH
        )
        assert response.status_code == 202
        response = await client.post("/v1/events", json=order(), headers=AUTH)
        error_of(response, 429)
        assert int(response.headers["Retry-After"]) >= 1


# -- 422: what a client may not set ---------------------------------------------------


async def test_unknown_fields_and_a_client_source_are_refused_with_their_paths(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    error = error_of(await client.post("/v1/events", json=order(admin=True), headers=AUTH), 422)
    assert ["admin"] in [d["loc"] for d in error["details"]]

    item = order()
    item["payload"]["discount"] = "100%"
    error = error_of(await client.post("/v1/events", json=item, headers=AUTH), 422)
    assert ["payload", "discount"] in [d["loc"] for d in error["details"]]

    item = order()
    item["payload"]["lines"][0]["free"] = True
    error = error_of(await client.post("/v1/events", json=item, headers=AUTH), 422)
    assert ["payload", "lines", 0, "free"] in [d["loc"] for d in error["details"]]

    spoofed = order(source="gateway.bootstrap")
    error = error_of(await client.post("/v1/events", json=spoofed, headers=AUTH), 422)
    assert error["details"][0] == {
        "loc": ["source"],
        "msg": "set by the gateway from your API key; leave it out",
        "type": "forbidden",
    }
    assert publisher.sent == []


async def test_the_server_sets_event_id_when_absent_and_keeps_the_clients(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    first = (await client.post("/v1/events", json=order(), headers=AUTH)).json()
    assert UUID(first["event_id"]).version == 4
    mine = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
    second = (await client.post("/v1/events", json=order(event_id=mine), headers=AUTH)).json()
    assert second["event_id"] == mine
    assert [str(e.event_id) for e in publisher.sent] == [first["event_id"], mine]
    assert {e.source for e in publisher.sent} == {"gateway.bootstrap"}


def nested(depth: int) -> dict[str, Any]:
    tree: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        tree = {"k": tree}
    return tree


@pytest.mark.parametrize(
    ("context", "loc_tail", "kind"),
    [
        ({"$where": "1"}, "$where", "context_key"),
        ({"device": {"caps": [{"$gt": 1}]}}, "$gt", "context_key"),
        ({"a.b": 1}, "a.b", "context_key"),
        ({"nul\x00": 1}, "nul\x00", "context_key"),
        ({"": 1}, "", "context_key"),
        (nested(MAX_CONTEXT_DEPTH + 1), None, "context_depth"),
        ({f"k{i}": i for i in range(MAX_CONTEXT_KEYS + 1)}, None, "context_keys"),
        ({"note": "x" * MAX_CONTEXT_BYTES}, None, "context_size"),
    ],
    ids=["dollar", "nested-dollar", "dot", "nul", "empty", "depth", "keys", "size"],
)
async def test_unsafe_context_is_a_422_with_the_offending_path(
    client: httpx.AsyncClient,
    publisher: MemoryPublisher,
    context: dict[str, Any],
    loc_tail: str | None,
    kind: str,
) -> None:
    for path, body in (
        ("/v1/events", heartbeat(context)),
        ("/v1/events/batch", [heartbeat(context)]),
    ):
        error = error_of(await client.post(path, json=body, headers=AUTH), 422)
        details = error["details"] if path == "/v1/events" else error["details"][0]["errors"]
        [detail] = details
        assert detail["loc"] == ["payload", "context"] and detail["type"] == kind
        assert detail["msg"].startswith("context")
        if loc_tail is not None:
            assert repr(loc_tail) in detail["msg"]  # the path names the offending key
    assert publisher.sent == []


async def test_a_context_within_bounds_is_accepted(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    context = {
        "device": {"os": "tv", "caps": ["hdr", 4]},
        "net": "wifi",
        **nested(MAX_CONTEXT_DEPTH),
    }
    response = await client.post("/v1/events", json=heartbeat(context), headers=AUTH)
    assert response.status_code == 202, response.text
    assert publisher.sent[0].payload.context == context

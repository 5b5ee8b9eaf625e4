"""Object-level scopes (403 naming the field) and trusted time (422 for the future, old
events accepted and flagged), through the real gateway app and an in-memory broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.settings import Settings
from producers.gateway import KeyStore, KeyStoreError
from producers.gateway.timing import OLD_EVENTS_HEADER
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
    return gateway_settings(
        settings,
        tmp_path,
        BOOTSTRAP,
        gateway_max_future_skew_s=300.0,
        gateway_old_event_age_s=3600.0,
    )


@pytest.fixture
def key_store(gw_settings: Settings) -> KeyStore:
    return KeyStore(gw_settings.gateway_keys_file)


def in_store(item: dict[str, Any], store: str) -> dict[str, Any]:
    item["payload"]["store_id"] = store
    return item


def for_user(item: dict[str, Any], user: str) -> dict[str, Any]:
    item["payload"]["user_id"] = user
    return item


# -- object-level scopes ---------------------------------------------------------------


async def test_a_key_bound_to_stores_gets_403_naming_store_id_for_another_store(
    client: httpx.AsyncClient, key_store: KeyStore, publisher: MemoryPublisher
) -> None:
    headers = {"X-API-Key": key_store.create("shop-1", types=["*"], stores=["store-1"])}
    assert (await client.post("/v1/events", json=order(1), headers=headers)).status_code == 202

    response = await client.post("/v1/events", json=in_store(stock(), "store-2"), headers=headers)
    error = error_of(response, 403)
    assert "payload.store_id" in error["message"] and "store-2" in error["message"]
    assert error["details"] == [{"index": 0, "field": "payload.store_id", "value": "store-2"}]
    # A playback event names no store: the store binding does not limit it.
    assert (await client.post("/v1/events", json=heartbeat(), headers=headers)).status_code == 202
    assert [e.type for e in publisher.sent] == ["order.placed", "playback.heartbeat"]


async def test_a_key_bound_to_users_gets_403_naming_user_id_and_a_batch_is_refused_whole(
    client: httpx.AsyncClient, key_store: KeyStore, publisher: MemoryPublisher
) -> None:
    headers = {"X-API-Key": key_store.create("player", types=["playback.*"], users=["u-1"])}
    batch = [for_user(heartbeat(), "u-1"), for_user(heartbeat(), "u-2")]
    error = error_of(await client.post("/v1/events/batch", json=batch, headers=headers), 403)
    assert error["details"] == [{"index": 1, "field": "payload.user_id", "value": "u-2"}]
    assert "payload.user_id" in error["message"] and "nothing was published" in error["message"]
    assert publisher.sent == []

    response = await client.post("/v1/events/batch", json=batch[:1], headers=headers)
    assert response.status_code == 202 and len(publisher.sent) == 1


async def test_unbound_keys_and_the_bootstrap_key_name_any_store_and_user(
    client: httpx.AsyncClient, key_store: KeyStore
) -> None:
    headers = {"X-API-Key": key_store.create("any", types=["*"])}
    for h in (headers, AUTH):
        for item in (in_store(order(), "store-9"), for_user(heartbeat(), "u-9")):
            assert (await client.post("/v1/events", json=item, headers=h)).status_code == 202


def test_bindings_are_checked_at_creation_and_kept_in_the_file(key_store: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="bad id"):
        key_store.create("x", types=["*"], stores=["store 1"])
    with pytest.raises(KeyStoreError, match="at least one"):
        key_store.create("x", types=["*"], users=[])
    key_store.create("x", types=["order.*"], stores=["s-1", "s-2", "s-1"])
    record = KeyStore(key_store.path).list()[0]
    assert record.stores == ("s-1", "s-2") and record.users is None
    key_store.revoke("x")
    assert KeyStore(key_store.path).list()[0].stores == ("s-1", "s-2")


# -- trusted time ----------------------------------------------------------------------


def at(item: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    item["occurred_at"] = (datetime.now(UTC) + delta).isoformat()
    return item


async def test_an_event_beyond_the_future_skew_is_422_on_occurred_at(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    response = await client.post("/v1/events", json=at(order(), timedelta(hours=1)), headers=AUTH)
    error = error_of(response, 422)
    assert error["details"][0]["loc"] == ["occurred_at"]
    assert error["details"][0]["type"] == "future_time"
    # Within the skew (a client clock a minute fast) is fine.
    response = await client.post("/v1/events", json=at(order(), timedelta(minutes=1)), headers=AUTH)
    assert response.status_code == 202 and OLD_EVENTS_HEADER not in response.headers
    assert len(publisher.sent) == 1


async def test_a_batch_rejects_only_its_future_events(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    batch = [order(1), at(order(2), timedelta(days=2)), order(3)]
    response = await client.post("/v1/events/batch", json=batch, headers=AUTH)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 2 and body["items"][1]["status"] == "rejected"
    assert body["items"][1]["errors"][0]["loc"] == ["occurred_at"]
    assert [e.payload.order_id for e in publisher.sent] == ["o-1", "o-3"]


async def test_old_events_are_accepted_counted_and_flagged_in_a_header(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    response = await client.post("/v1/events", json=at(order(), -timedelta(days=30)), headers=AUTH)
    assert response.status_code == 202 and response.headers[OLD_EVENTS_HEADER] == "1"
    batch = [at(order(1), -timedelta(days=400)), order(2), at(stock(), -timedelta(hours=2))]
    response = await client.post("/v1/events/batch", json=batch, headers=AUTH)
    assert response.status_code == 202 and response.headers[OLD_EVENTS_HEADER] == "2"
    recent = await client.post("/v1/events", json=order(3), headers=AUTH)
    assert OLD_EVENTS_HEADER not in recent.headers
    assert len(publisher.sent) == 5
    state = client._transport.app.state.gateway  # type: ignore[attr-defined]
    assert state.old_events == 3


# -- signed player tokens --------------------------------------------------------------

SECRET = "player-token-secret-for-unit-tests-0123456789"


async def test_a_player_token_key_may_name_only_the_tokens_user(
    gw_settings: Settings, publisher: MemoryPublisher, tmp_path: Path
) -> None:
    import time

    from producers.gateway.player import HEADER, mint

    local = gw_settings.model_copy(update={"gateway_player_token_secret": SecretStr(SECRET)})
    keys = KeyStore(local.gateway_keys_file)
    key = keys.create("tv-app", types=["playback.*"], player_tokens=True)
    assert KeyStore(local.gateway_keys_file).list()[0].player_tokens
    later = int(time.time()) + 600
    token = mint(SECRET, "u-1", later)
    async for client in gateway_client(local, publisher, keys):
        ok = {"X-API-Key": key, HEADER: token}
        mine = for_user(heartbeat(), "u-1")
        assert (await client.post("/v1/events", json=mine, headers=ok)).status_code == 202
        other = await client.post("/v1/events", json=for_user(heartbeat(), "u-2"), headers=ok)
        assert error_of(other, 403)["details"] == [
            {"index": 0, "field": "payload.user_id", "value": "u-2"}
        ]
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        for bad in (
            {"X-API-Key": key},  # no token
            {"X-API-Key": key, HEADER: forged},  # a signature that does not match
            {"X-API-Key": key, HEADER: mint("another-secret", "u-2", later)},
            {"X-API-Key": key, HEADER: mint(SECRET, "u-1", int(time.time()) - 1)},  # expired
        ):
            refused = await client.post("/v1/events", json=mine, headers=bad)
            assert HEADER in error_of(refused, 403)["message"]
        # The same token means nothing to a key that does not require one.
        plain = {"X-API-Key": keys.create("plain", types=["*"]), HEADER: token}
        response = await client.post("/v1/events", json=for_user(heartbeat(), "u-9"), headers=plain)
        assert response.status_code == 202
    assert [e.payload.user_id for e in publisher.sent] == ["u-1", "u-9"]

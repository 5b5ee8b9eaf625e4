"""An in-memory broker and request bodies shared by the gateway's unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from core.settings import Settings
from producers.gateway import KeyStore, create_app
from producers.publisher import Delivery, Publisher
from schemas import Envelope

# httpx's own default peer for an ASGI app.
DEFAULT_PEER = ("127.0.0.1", 123)


def gateway_settings(settings: Settings, tmp_path: Path, api_key: str, **more: Any) -> Settings:
    """``settings`` for a gateway under test: bootstrap key ``api_key``, its key file in
    ``tmp_path``, no rate limit in the way, and ``more`` on top."""
    return settings.model_copy(
        update={
            "gateway_api_key": SecretStr(api_key),
            "gateway_keys_file": tmp_path / "api-keys.json",
            "gateway_rate_per_s": 1e6,
            "gateway_rate_burst": 10**6,
            **more,
        }
    )


class MemoryPublisher(Publisher):
    """Acknowledges every event at once and keeps it, or raises ``fail`` when set (no
    broker)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sent: list[Envelope[Any]] = []
        self.fail: Exception | None = None

    @property
    def started(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self, within_s: float) -> bool:
        return True

    async def publish(self, event: Envelope[Any]) -> Delivery:
        if self.fail is not None:
            raise self.fail
        self.sent.append(event)
        return Delivery(event.event_id, "memory", 0, len(self.sent) - 1)

    async def publish_many(self, events: Sequence[Envelope[Any]]) -> list[Delivery]:
        return [await self.publish(event) for event in events]


async def gateway_client(
    settings: Settings,
    publisher: Publisher,
    keys: KeyStore,
    peer: tuple[str, int] = DEFAULT_PEER,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real gateway app, its lifespan running, requests coming from ``peer``."""
    app = create_app(settings, publisher=publisher, keys=keys)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app, client=peer)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


def order(n: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "type": "order.placed",
        "version": 1,
        "payload": {
            "order_id": f"o-{n}",
            "customer_id": "c-1",
            "store_id": "store-1",
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "3.10", "currency": "EUR"}],
        },
        **extra,
    }


def stock(n: int = 0) -> dict[str, Any]:
    return {
        "type": "stock.received",
        "version": 1,
        "payload": {"store_id": "store-1", "sku": f"S{n}", "quantity": 5},
    }


def heartbeat(context: Any = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"session_id": "s", "user_id": "u", "title_id": "t", "position_s": 1}
    if context is not None:
        payload["context"] = context
    return {"type": "playback.heartbeat", "version": 1, "payload": payload}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    error: dict[str, Any] = body["error"]
    return error

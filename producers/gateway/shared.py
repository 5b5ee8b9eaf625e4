"""What the handlers share: settings, publisher, authenticator, rate limiter, metrics.

The publisher is started by the app's lifespan; when Kafka is unreachable the gateway
still starts (``/healthz`` answers, publishing answers 503) and keeps retrying in the
background, so the broker coming back needs no restart.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from fastapi import Request

from core.settings import Settings
from producers.errors import PublishError, PublishRejected
from producers.gateway.auth import Authenticator
from producers.gateway.errors import ApiError
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.ratelimit import RateLimiter
from producers.publisher import Delivery, Publisher
from schemas.envelope import Envelope

log = logging.getLogger(__name__)

RETRY_AFTER_UNAVAILABLE_S = 5
_START_BACKOFF_MAX_S = 30.0


class Gateway:
    """The shared state of one gateway app."""

    def __init__(
        self, settings: Settings, publisher: Publisher, auth: Authenticator, limiter: RateLimiter
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.auth = auth
        self.limiter = limiter
        self.metrics = GatewayMetrics()
        # Events accepted with an occurred_at older than gateway_old_event_age_s.
        self.old_events = 0
        self._starter: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Start the publisher, or keep trying in the background if Kafka is down."""
        try:
            await self.publisher.start()
        except PublishError as exc:
            log.warning("gateway starting without Kafka (will retry): %s", exc)
            self._starter = asyncio.create_task(self._keep_starting(), name="publisher-start")

    async def close(self) -> None:
        if self._starter is not None:
            self._starter.cancel()
            await asyncio.gather(self._starter, return_exceptions=True)
        await self.publisher.stop()

    async def _keep_starting(self) -> None:
        delay = 1.0
        while not self.publisher.started:
            await asyncio.sleep(delay)
            try:
                await self.publisher.start()
            except PublishError as exc:
                log.warning("Kafka still unreachable: %s", exc)
                delay = min(delay * 2, _START_BACKOFF_MAX_S)
        log.info("publisher started")

    def charge(self, key_name: str, cost: int) -> None:
        """Spend ``cost`` tokens of the key's bucket, or raise 429 with ``Retry-After``."""
        wait = self.limiter.take(key_name, cost)
        if wait > 0:
            raise ApiError(
                429,
                f"rate limit of {self.settings.gateway_rate_per_s:g} events/s exceeded",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    async def publish(self, event: Envelope[Any]) -> Delivery:
        try:
            with self.metrics.publishing():
                delivery = await self.publisher.publish(event)
        except PublishError as exc:
            raise _unavailable(exc) from exc
        except PublishRejected as exc:
            raise ApiError(
                422, f"the broker refused the event: {exc}", reason="broker_refused"
            ) from exc
        self.metrics.accept((event,))
        return delivery

    async def publish_many(self, events: list[Envelope[Any]]) -> list[Delivery]:
        try:
            with self.metrics.publishing():
                deliveries = await self.publisher.publish_many(events)
        except PublishError as exc:
            raise _unavailable(exc) from exc
        except PublishRejected as exc:
            raise ApiError(
                422, f"the broker refused the batch: {exc}", reason="broker_refused"
            ) from exc
        self.metrics.accept(events)
        return deliveries


def _unavailable(exc: PublishError) -> ApiError:
    log.warning("publish failed: %s", exc)
    return ApiError(
        503,
        "the event broker is unavailable or did not acknowledge in time; retry with the same event_id(s)",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)},
    )


async def gateway(request: Request) -> Gateway:  # async: FastAPI runs sync ones in threads
    state: Gateway = request.app.state.gateway
    return state

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from producers.errors import PublishError, PublishRejected
from producers.simulators import GatewaySink, JsonLinesSink, PublisherSink
from producers.simulators.sinks import BATCH_PATH, backoff, retry_after
from schemas import decode, encode

pytestmark = pytest.mark.unit


@pytest.fixture
def batch(generated: Any) -> list[Any]:
    return generated.events[:5]


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def gateway(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return httpx.AsyncClient(base_url="http://gw.test", transport=httpx.MockTransport(handle))


async def test_gateway_posts_a_json_array_with_the_api_key(batch: list[Any]) -> None:
    seen: list[httpx.Request] = []
    ok = httpx.Response(202, json={"items": [{"index": i, "status": "accepted"} for i in range(5)]})
    async with gateway([ok], seen) as client:
        result = await GatewaySink(client, "k-123").send(batch)
    assert (result.failed, result.error) == (0, None)
    (request,) = seen
    assert request.url.path == BATCH_PATH and request.headers["X-API-Key"] == "k-123"
    body = json.loads(request.content)
    assert [e["event_id"] for e in body] == [str(e.event_id) for e in batch]
    # The gateway sets source from the key and refuses one sent by the client.
    for sent, event in zip(body, batch, strict=True):
        assert "source" not in sent
        assert {**sent, "source": event.source} == json.loads(encode(event)[0])


async def test_gateway_counts_refused_items_as_failed(batch: list[Any]) -> None:
    statuses = ["accepted", "rejected", "accepted", "rejected", "accepted"]
    items = [{"index": i, "status": s, "error": "bad"} for i, s in enumerate(statuses)]
    answer = httpx.Response(202, json={"results": items})
    async with gateway([answer], []) as client:
        result = await GatewaySink(client, "k").send(batch)
    assert result.failed == 2 and result.error and "refused" in result.error


async def test_gateway_retries_429_and_503_honouring_retry_after(batch: list[Any]) -> None:
    sleeps, seen = Sleeps(), []
    answers = [
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(503),
        httpx.Response(202, json=[{"status": 202}] * 5),
    ]
    async with gateway(answers, seen) as client:
        result = await GatewaySink(client, "k", sleep=sleeps).send(batch)
    assert result.failed == 0
    assert sleeps.waits == [2.0, backoff(2)]
    assert len(seen) == 3 and seen[0].content == seen[2].content  # same events, same ids


async def test_gateway_gives_up_after_its_attempts(batch: list[Any]) -> None:
    sleeps = Sleeps()
    async with gateway([httpx.Response(429)] * 3, []) as client:
        result = await GatewaySink(client, "k", attempts=3, sleep=sleeps).send(batch)
    assert result.failed == 5 and "429" in (result.error or "")
    assert sleeps.waits == [backoff(1), backoff(2)]


async def test_gateway_fails_the_batch_on_a_client_error(batch: list[Any]) -> None:
    answer = httpx.Response(401, json={"detail": "bad key"})
    async with gateway([answer], []) as client:
        result = await GatewaySink(client, "k").send(batch)
    assert result.failed == 5 and "401" in (result.error or "")


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after("3") == 3.0
    assert retry_after("Wed, 01 Jan 2025 12:00:05 GMT", now=now) == 5.0
    assert retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert retry_after("3600") == 30.0  # capped
    assert retry_after("soon") is None and retry_after(None) is None


class FakePublisher:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[list[Any]] = []

    async def publish_many(self, events: Sequence[Any]) -> list[object]:
        self.calls.append(list(events))
        if self.errors:
            raise self.errors.pop(0)
        return [object() for _ in events]


async def test_publisher_sink_retries_unacknowledged_batches_with_the_same_events(
    batch: list[Any],
) -> None:
    publisher, sleeps = FakePublisher(PublishError("no ack")), Sleeps()
    result = await PublisherSink(publisher, sleep=sleeps).send(batch)
    assert result.failed == 0
    assert publisher.calls == [batch, batch] and sleeps.waits == [backoff(1)]


async def test_publisher_sink_counts_rejected_and_exhausted_batches(batch: list[Any]) -> None:
    rejected = await PublisherSink(FakePublisher(PublishRejected("too big"))).send(batch)
    assert (rejected.failed, rejected.error) == (5, "too big")
    errors = [PublishError("down")] * 3
    exhausted = await PublisherSink(FakePublisher(*errors), sleep=Sleeps()).send(batch)
    assert exhausted.failed == 5


async def test_json_lines_sink_writes_the_wire_bytes(batch: list[Any]) -> None:
    out = io.BytesIO()
    await JsonLinesSink(out).send(batch)
    lines = out.getvalue().splitlines()
    assert [decode(line) for line in lines] == batch

"""``DeadLetters``: the original bytes and headers kept, the reason added."""

from __future__ import annotations

import pytest

from processors.runtime.dlq import H_CONSUMER, H_EXCEPTION, H_OFFSET, H_REASON, H_TOPIC, DeadLetters
from schemas import ValidationFailed
from tests.unit.processors.runtime.fakes import Sink, message

pytestmark = pytest.mark.unit


async def test_a_dead_letter_keeps_the_original_and_says_why() -> None:
    sink, seen = Sink(), []
    dlq = DeadLetters(sink, "inventory", "t.dlq", on_put=seen.append)
    m = message(7)
    await dlq.put(
        key=m.key,
        value=m.value,
        headers=m.headers,
        topic=m.topic,
        partition=2,
        offset=7,
        exc=ValueError("quantity must be positive"),
    )
    [sent] = sink.sent
    assert (sent.topic, sent.key, sent.value) == ("t.dlq", m.key, m.value)
    assert sent.headers[: len(m.headers)] == m.headers
    extra = dict(sent.headers[len(m.headers) :])
    assert extra[H_REASON] == b"quantity must be positive"
    assert extra[H_EXCEPTION] == b"ValueError"
    assert (extra[H_TOPIC], extra[H_OFFSET], extra[H_CONSUMER]) == (
        b"t.inventory",
        b"7",
        b"inventory",
    )
    assert dlq.count == 1
    assert seen == [m.headers]


async def test_a_replayed_dead_letter_gets_fresh_reason_headers_not_two_sets() -> None:
    sink = Sink()
    dlq = DeadLetters(sink, "orders", "t.dlq")
    m = message(1, extra=[(H_REASON, b"old reason"), (H_OFFSET, b"99")])
    await dlq.put(
        key=m.key,
        value=m.value,
        headers=m.headers,
        topic=m.topic,
        partition=0,
        offset=1,
        exc=ValidationFailed("stock.received", 1, []),
    )
    names = [k for k, _ in sink.sent[0].headers]
    assert names.count(H_REASON) == 1 and names.count(H_OFFSET) == 1
    assert dict(sink.sent[0].headers)[H_OFFSET] == b"1"

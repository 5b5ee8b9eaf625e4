"""``riverbed dlq replay`` goes by the event's own type, to input topics only, never by a
header; ``--dry-run`` sends nothing and ``--confirm N`` must match the count."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

from core.settings import Settings
from processors.runtime import dlq_replay
from processors.runtime.dlq_replay import INPUT_TOPICS, DeadLetter, Plan, plan
from riverbed.commands import dlq as dlq_command
from schemas import (
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    encode,
    new_event,
)

pytestmark = pytest.mark.unit


def placed() -> Any:
    line = OrderLine(sku="k1", quantity=1, unit_price=Decimal("1.00"), currency="EUR")
    return new_event(
        OrderPlaced(order_id="o1", customer_id="c1", store_id="s1", lines=(line,)), source="t"
    )


def letter(value: bytes, headers: list[tuple[str, bytes]], offset: int = 0) -> DeadLetter:
    return DeadLetter(offset, 0, b"s1", value, tuple(headers))


def test_the_destination_is_the_bodys_type_whatever_the_headers_say() -> None:
    value, headers = encode(placed())
    hostile = [
        *headers,
        ("riverbed-dlq-topic", b"riverbed.order-decisions"),
        ("riverbed-type", b"order.confirmed"),
    ]
    planned = plan([letter(value, hostile)])
    assert [topic for _l, topic in planned.sends] == [ORDERS_TOPIC]
    sent_headers = dict(planned.sends[0][0].replay_headers("order.placed", 1))
    assert sent_headers["riverbed-type"] == b"order.placed"
    assert "riverbed-dlq-topic" not in sent_headers


def test_output_types_unknown_contracts_and_junk_are_skipped_never_sent() -> None:
    value, headers = encode(placed())
    body = json.loads(value)
    confirmed = encode(
        new_event(
            OrderConfirmed(
                order_id="o1",
                customer_id="c1",
                store_id="s1",
                total=Decimal("1.00"),
                currency="EUR",
            ),
            source="t",
        )
    )
    letters = [
        letter(confirmed[0], [("riverbed-dlq-topic", ORDERS_TOPIC.encode())], 1),
        letter(json.dumps({**body, "version": 99}).encode(), headers, 2),
        letter(json.dumps({**body, "type": "order.teleported"}).encode(), headers, 3),
        letter(b"{not json", headers, 4),
        letter(b"[1, 2]", headers, 5),
    ]
    planned = plan(letters)
    assert planned.sends == []
    reasons = [why for _l, why in planned.skipped]
    assert ORDER_DECISIONS_TOPIC in reasons[0] and "not an input topic" in reasons[0]
    assert "v99" in reasons[1] and "order.teleported" in reasons[2]
    assert all("not an event" in r for r in reasons[3:])
    assert {ORDERS_TOPIC, INVENTORY_TOPIC, "riverbed.viewing", "riverbed.shoppers"} == INPUT_TOPICS


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, value: bytes | None, **_: Any) -> Any:
        self.sent.append((topic, value))

        async def done() -> None: ...

        return done()


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> _Producer:
    fake = _Producer()
    monkeypatch.setattr(dlq_replay, "new_producer", lambda *a, **k: fake)
    return fake


@pytest.fixture
def dead_letters(monkeypatch: pytest.MonkeyPatch) -> list[DeadLetter]:
    value, headers = encode(placed())
    letters = [letter(value, headers, n) for n in range(3)]

    async def read_all(_settings: Any) -> list[DeadLetter]:
        return letters

    monkeypatch.setattr(dlq_command, "read_all", read_all)
    return letters


async def test_replay_refuses_a_plan_that_names_a_non_input_topic(
    producer: _Producer, settings: Settings
) -> None:
    value, headers = encode(placed())
    for topic in (ORDER_DECISIONS_TOPIC, INVENTORY_TOPIC):  # an output; another type's input
        forged = Plan(sends=[(letter(value, headers), topic)])
        with pytest.raises(ValueError, match="not this event's input topic"):
            await dlq_replay.replay(settings, forged)
    assert producer.sent == []


def test_dry_run_sends_nothing_and_shows_the_count(
    producer: _Producer, dead_letters: list[DeadLetter]
) -> None:
    result = CliRunner().invoke(dlq_command.command, ["replay", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "3 event(s) -> riverbed.orders" in result.output
    assert "replayed 0 event(s) (dry run)" in result.output and producer.sent == []


def test_the_count_must_be_confirmed(producer: _Producer, dead_letters: list[DeadLetter]) -> None:
    runner = CliRunner()
    refused = runner.invoke(dlq_command.command, ["replay"], input="2\n")
    assert refused.exit_code == 1 and "not 2" in refused.output and producer.sent == []
    refused = runner.invoke(dlq_command.command, ["replay", "--confirm", "4"])
    assert refused.exit_code == 1 and producer.sent == []
    typed = runner.invoke(dlq_command.command, ["replay"], input="3\n")
    assert typed.exit_code == 0 and "replayed 3 event(s)" in typed.output
    assert [t for t, _v in producer.sent] == [ORDERS_TOPIC] * 3

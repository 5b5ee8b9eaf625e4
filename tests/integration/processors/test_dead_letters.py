"""Poison messages land in the dead-letter topic with their reason; the rest flow on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

from riverbed.sandbox import Namespace
from schemas import DLQ_TOPIC, ORDERS_TOPIC, OrderLine, OrderPlaced, encode, new_event


def order(i: int) -> Any:
    return new_event(
        OrderPlaced(
            order_id=f"ok{i}",
            customer_id="c1",
            store_id="s1",
            lines=(OrderLine(sku="k1", quantity=1, unit_price=Decimal("1.00"), currency="EUR"),),
        ),
        source="test",
    )


def poison() -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """(expected reason fragment, value, headers) for each kind of poison."""
    value, headers = encode(order(999))
    body = json.loads(value)
    negative = json.loads(value)
    negative["payload"]["lines"][0]["quantity"] = -2
    typed = [(k, v) for k, v in headers if k not in ("riverbed-type", "riverbed-version")]
    return [
        ("decode_error", b"{not json", typed),
        ("unknown_event_type", json.dumps({**body, "type": "order.teleported"}).encode(), typed),
        ("unknown_event_version", json.dumps({**body, "version": 99}).encode(), typed),
        ("payload.lines.0.quantity", json.dumps(negative).encode(), headers),
        ("exceeds", b'{"pad": "' + b"x" * 400_000 + b'"}', typed),
    ]


def riverbed(ns: Namespace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "riverbed", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **ns.env},
        timeout=120,
        check=False,
    )


async def test_poison_goes_to_the_dlq_with_reasons_and_the_stream_flows_on(ns: Namespace) -> None:
    ns.start("orders")
    await ns.publish([order(i) for i in range(5)])
    bad = poison()
    for _reason, value, headers in bad:
        await ns.publish_raw(ORDERS_TOPIC, b"s1", value, headers)
    await ns.publish([order(i) for i in range(5, 10)])
    await ns.wait_caught_up({"orders": ORDERS_TOPIC})

    conn = await ns.owner()
    try:
        assert await conn.fetchval("select count(*) from orders") == 10
    finally:
        await conn.close()

    letters = await ns.read(DLQ_TOPIC, expect=len(bad))
    assert len(letters) == len(bad)
    by_reason = [dict(m.headers)["riverbed-dlq-reason"].decode() for m in letters]
    for fragment, _value, _headers in bad:
        assert any(fragment in r for r in by_reason), (fragment, by_reason)
    for m in letters:
        h = dict(m.headers)
        assert h["riverbed-dlq-topic"].decode() == ns.topic(ORDERS_TOPIC)
        assert int(h["riverbed-dlq-offset"]) >= 0 and h["riverbed-dlq-exception"]
        assert m.key == b"s1"

    listed = riverbed(ns, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == len(bad) and all(r["reason"] for r in rows)

    # Replaying the order.placed letters re-publishes them; still poison, they come back.
    dry = riverbed(ns, "dlq", "replay", "--type", "order.placed", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.strip() == "replayed 0 event(s) (dry run)"
    assert "1 event(s) -> riverbed.orders" in dry.stderr, dry.stderr
    wrong = riverbed(ns, "dlq", "replay", "--type", "order.placed", "--confirm", "2")
    assert wrong.returncode == 1 and "not 2" in wrong.stderr
    replayed = riverbed(ns, "dlq", "replay", "--type", "order.placed", "--confirm", "1")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == "replayed 1 event(s)"
    again = await ns.read(DLQ_TOPIC, expect=len(bad) + 1)
    assert len(again) == len(bad) + 1

"""What the tables must hold (the pure logic over the same input) against what they hold.

*lost*: an expected row or effect is missing, or holds less than the logic decided (an
order without its cancellation, a session missing events, a title-minute short of
starts, an emitted event never published or never consumed).
*duplicated*: an effect applied twice or a row that should not exist (an extra ledger
entry, stock that differs from the logic or from its own ledger, a title-minute counted
twice, an emitted event published that the logic did not emit).
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from pymongo import AsyncMongoClient

from core.kafka import new_consumer
from processors.commerce.logic import apply
from processors.commerce.state import CommerceState, Effects
from processors.viewing import profiles, sessions
from riverbed.chaos.workload import Workload
from riverbed.sandbox import Namespace
from schemas import (
    DLQ_TOPIC,
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    STOCK_ALERTS_TOPIC,
    TOPIC_PARTITIONS,
    Envelope,
    SchemaError,
    decode,
    topic_for,
)
from stores.mongo.viewing import ENDED, OPEN


@dataclass
class Tally:
    lost: int = 0
    duplicated: int = 0
    checks: dict[str, dict[str, int]] = field(default_factory=dict)
    info: dict[str, int] = field(default_factory=dict)  # facts that are neither

    def add(self, name: str, *, lost: int = 0, duplicated: int = 0) -> None:
        row = self.checks.setdefault(name, {"lost": 0, "duplicated": 0})
        row["lost"] += lost
        row["duplicated"] += duplicated
        self.lost += lost
        self.duplicated += duplicated

    def multiset(self, name: str, want: Counter[Any], got: Counter[Any]) -> None:
        self.add(name, lost=sum((want - got).values()), duplicated=sum((got - want).values()))

    def keyed(
        self,
        name: str,
        want: Mapping[Any, Any],
        got: Mapping[Any, Any],
        *,
        mismatch: str = "lost",
    ) -> None:
        """Missing keys are lost, extra keys duplicated, differing values ``mismatch``."""
        differ = sum(1 for k, v in want.items() if k in got and got[k] != v)
        self.add(
            name,
            lost=sum(1 for k in want if k not in got) + (differ if mismatch == "lost" else 0),
            duplicated=sum(1 for k in got if k not in want)
            + (differ if mismatch == "duplicated" else 0),
        )


def expected_commerce(
    workload: Workload, default_threshold: int, orders: list[Envelope[Any]] | None = None
) -> tuple[CommerceState, Effects]:
    """The logic over the stock phase, then the orders (in ``orders``' order if given)."""
    catalog = workload.sim.catalog
    state = CommerceState(
        known_customers={c.customer_id for c in catalog.customers},
        thresholds={p.sku: p.low_stock_threshold for p in catalog.products},
        default_threshold=default_threshold,
    )
    if orders is None:
        orders = [e for e in workload.stream if e.type.startswith("order.")]
    return state, apply(state, [*workload.stock, *orders])


async def orders_as_stored(ns: Namespace, workload: Workload) -> tuple[list[Envelope[Any]], int]:
    """The workload's orders in the order the broker holds them (first copy of each).

    A chunk the publisher sent again after a broker outage may have landed partly
    before an earlier, expired batch: the workers decide in the broker's order, so the
    logic must too. Orders never published stay at the end (and count as lost).
    Returns the orders and how many moved from their place in the workload.
    """
    ours = {e.event_id: e for e in workload.stream if e.type.startswith("order.")}
    seen: dict[Any, Envelope[Any]] = {}
    for record in sorted(
        await read_records(ns, ORDERS_TOPIC), key=lambda m: (m.partition, m.offset)
    ):
        event_id = dict(record.headers or []).get("riverbed-event-id", b"").decode()
        parsed = _uuid(event_id)
        match = ours.get(parsed) if parsed is not None else None
        if match is not None and match.event_id not in seen:
            seen[match.event_id] = match
    stored = [*seen.values(), *(e for i, e in ours.items() if i not in seen)]
    by_key: dict[str, list[Any]] = {}  # a key's events share a partition
    for e in ours.values():
        by_key.setdefault(e.key, []).append(e.event_id)
    order_in_stored = {e.event_id: n for n, e in enumerate(stored)}
    moved = sum(
        1
        for ids in by_key.values()
        for a, b in itertools.pairwise(ids)
        if order_in_stored[a] > order_in_stored[b]
    )
    return stored, moved


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def check_commerce(ns: Namespace, workload: Workload, tally: Tally) -> None:
    orders, moved = await orders_as_stored(ns, workload)
    tally.info["orders reordered on the topic"] = moved
    state, effects = expected_commerce(workload, ns.settings.low_stock_threshold, orders)
    conn = await ns.owner()
    try:
        rows = await conn.fetch("select * from orders")
        tally.keyed(
            "orders",
            {
                o.order_id: (o.status, o.reject_reason, o.store_id, o.total)
                for o in state.orders.values()
            },
            {
                r["order_id"]: (r["status"], r["reject_reason"], r["store_id"], r["total"])
                for r in rows
            },
        )
        lines = await conn.fetch(
            "select order_id, line_no, sku, quantity, unit_price from order_lines"
        )
        tally.multiset(
            "order_lines",
            Counter(
                (o.order_id, ln.line_no, ln.sku, ln.quantity, ln.unit_price)
                for o in state.orders.values()
                for ln in o.lines
            ),
            Counter(tuple(r) for r in lines),
        )
        history = await conn.fetch("select order_id, status from order_status_history")
        tally.multiset(
            "order_status_history",
            Counter((s.order_id, s.status) for s in effects.status_changes),
            Counter(tuple(r) for r in history),
        )
        moves = await conn.fetch(
            "select movement_id, store_id, sku, on_hand_delta, reserved_delta from inventory_movements"
        )
        tally.keyed(
            "inventory_movements",
            {
                m.movement_id: (m.store_id, m.sku, m.on_hand_delta, m.reserved_delta)
                for m in effects.movements
            },
            {r["movement_id"]: tuple(r)[1:] for r in moves},
        )
        levels = {
            (r["store_id"], r["sku"]): (r["on_hand"], r["reserved"])
            for r in await conn.fetch("select store_id, sku, on_hand, reserved from inventory")
        }
        want_levels = {
            k: (v.on_hand, v.reserved)
            for k, v in state.levels.items()
            if k in levels or (v.on_hand, v.reserved) != (0, 0)
        }
        tally.keyed("inventory (stock off)", want_levels, levels, mismatch="duplicated")
        ledger: dict[tuple[str, str], list[int]] = {}
        for r in moves:
            acc = ledger.setdefault((r["store_id"], r["sku"]), [0, 0])
            acc[0] += r["on_hand_delta"]
            acc[1] += r["reserved_delta"]
        tally.add(
            "inventory vs its ledger",
            duplicated=sum(1 for k, v in levels.items() if tuple(ledger.get(k, [0, 0])) != v),
        )
        # The outbox keeps only unpublished rows (migration 0006): whatever is left is an
        # emitted event that never reached Kafka. What was published is checked on the
        # topics below, every emitted type included.
        tally.add(
            "outbox unpublished",
            lost=await conn.fetchval("select coalesce(sum(events), 0) from outbox"),
        )
        processed = await conn.fetch("select consumer, event_id from processed_events")
        # The stock events the orders worker emits are applied in its own transaction and
        # skipped by the inventory worker before decoding: no processed row of their own.
        want_processed = Counter(
            (("orders" if e.type.startswith("order.") else "inventory"), e.event_id)
            for e in workload.commerce
        )
        tally.multiset("processed_events", want_processed, Counter(tuple(r) for r in processed))
    finally:
        await conn.close()
    # The workload's own stock events share the inventory topic with the emitted
    # reservations and releases: they are neither expected nor extra there.
    workload_ids = {e.event_id for e in workload.commerce}
    for logical in (ORDER_DECISIONS_TOPIC, STOCK_ALERTS_TOPIC, INVENTORY_TOPIC):
        on_topic = await topic_event_ids(ns, logical, poisoned=logical == INVENTORY_TOPIC)
        published = set(on_topic) - workload_ids
        want = {e.event_id for e in effects.emitted if topic_for(e.type) == logical}
        tally.add(
            f"{logical} on Kafka", lost=len(want - published), duplicated=len(published - want)
        )


async def read_records(ns: Namespace, logical: str) -> list[Any]:
    """Every record on one of the namespace's topics, from the start to the current end."""
    topic = ns.topic(logical)
    parts = [TopicPartition(topic, p) for p in range(TOPIC_PARTITIONS[logical])]
    consumer = new_consumer(ns.settings, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        while True:
            positions = [await consumer.position(tp) for tp in parts]
            if all(pos >= ends[tp] for pos, tp in zip(positions, parts, strict=True)):
                return records
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()


async def topic_event_ids(ns: Namespace, logical: str, *, poisoned: bool = False) -> list[Any]:
    """Event ids of every record on a topic (redelivered copies included).

    ``poisoned``: the topic also holds the workload's poison records (an input topic);
    they are left out here, the dead-letter checks account for them.
    """
    ids = []
    for m in await read_records(ns, logical):
        try:
            ids.append(decode(m.value, m.headers).event_id)
        except SchemaError:
            if not poisoned:
                raise
    return ids


async def dead_letter_reasons(ns: Namespace) -> list[str]:
    """The reason header of every record on the namespace's dead-letter topic."""
    return [
        dict(m.headers).get("riverbed-dlq-reason", b"").decode(errors="replace")
        for m in await read_records(ns, DLQ_TOPIC)
    ]


def expected_sessions(viewing: list[Envelope[Any]]) -> dict[str, dict[str, Any]]:
    by_session: dict[str, list[Envelope[Any]]] = {}
    for e in viewing:
        by_session.setdefault(e.payload.session_id, []).append(e)
    return {
        sid: sessions.to_document(sessions.fold(sessions.mark_of(e) for e in evs))
        for sid, evs in by_session.items()
    }


async def stored_sessions(db: Any) -> tuple[dict[str, dict[str, Any]], int]:
    """Every session document (ended and in flight) by id, and how many ids are in both."""
    ended = {d["_id"]: d async for d in db[ENDED].find({})}
    in_flight = {d["_id"]: d async for d in db[OPEN].find({})}
    return {**in_flight, **ended}, len(ended.keys() & in_flight.keys())


async def check_viewing(ns: Namespace, workload: Workload, tally: Tally) -> None:
    viewing = workload.viewing
    want_sessions = expected_sessions(viewing)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        ns.settings.mongo_uri.get_secret_value(), tz_aware=True
    )
    try:
        got_sessions, in_both = await stored_sessions(client[ns.mongo_db])
    finally:
        await client.close()
    # A session's document counts its distinct events: fewer is a lost event, more a
    # duplicated one (and a document in both collections is a duplicate too).
    short = sum(
        1
        for k, v in want_sessions.items()
        if k in got_sessions and got_sessions[k] != v and got_sessions[k]["events"] <= v["events"]
    )
    over = sum(
        1
        for k, v in want_sessions.items()
        if k in got_sessions and got_sessions[k] != v and got_sessions[k]["events"] > v["events"]
    )
    tally.add(
        "viewing_sessions",
        lost=sum(1 for k in want_sessions if k not in got_sessions) + short,
        duplicated=sum(1 for k in got_sessions if k not in want_sessions) + over + in_both,
    )
    ended: dict[str, list[dict[str, Any]]] = {}
    for doc in want_sessions.values():
        if doc["ended_at"] is not None:
            ended.setdefault(doc["user_id"], []).append(doc)
    conn = await ns.owner()
    try:
        rows = await conn.fetch(
            "select user_id, session_id, title_id, genre, ended_at, watched_seconds, completed "
            "from viewing_session_index where ended_at is not null"
        )
        edges = await conn.fetch("select title_id, other_title_id, user_id from co_watch_edges")
        counts = await conn.fetch("select title_id, other_title_id, viewers from co_watch_counts")
    finally:
        await conn.close()
    got_ended: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        got_ended.setdefault(r["user_id"], []).append(dict(r))
    tally.keyed(
        "user_profiles",
        {uid: profiles.build_profile(uid, ss) for uid, ss in ended.items()},
        {uid: profiles.build_profile(uid, ss) for uid, ss in got_ended.items()},
    )
    got_edges = {f"{a}|{b}|{u}" for a, b, u in edges}
    want_edges = {e["_id"] for uid, ss in ended.items() for e in profiles.co_watch_edges(uid, ss)}
    tally.add("co_watch_edges", lost=len(want_edges - got_edges))
    tally.keyed(
        "co_watch_counts",
        dict(Counter((a, b) for a, b, _ in edges)),
        {(r["title_id"], r["other_title_id"]): r["viewers"] for r in counts},
    )

    starts = [e for e in viewing if e.type == "playback.started"]
    conn = await ns.owner()
    try:
        stored = await conn.fetch("select event_id from viewing_starts")
        tally.multiset(
            "viewing_starts",
            Counter(e.event_id for e in starts),
            Counter(r["event_id"] for r in stored),
        )
        minutes = await conn.fetch("select title_id, minute, starts from title_views_minute")
        want_minutes = Counter(
            (e.payload.title_id, profiles.minute_of(e.occurred_at)) for e in starts
        )
        got_minutes = Counter({(r["title_id"], r["minute"]): r["starts"] for r in minutes})
        tally.multiset("title_views_minute", want_minutes, got_minutes)
    finally:
        await conn.close()

"""Load a batch's commerce state from PostgreSQL and write its effects back.

Everything happens inside the caller's transaction: stock rows are locked with
``FOR UPDATE`` in key order (so the orders and inventory workers never deadlock each
other for long), the pure logic decides, and the effects, the emitted events (through
the injected ``stage``: the runtime's outbox owns that table) and the processed event
ids are written before the commit. Replays are skipped by
``processed_events``; stored times come from the events, never from ``now()``; the connection must
encode jsonb (``stores.postgres.pool.create_pool`` does), so a
replay or a restart leaves the tables byte-for-byte as they were.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from processors.commerce.logic import apply
from processors.commerce.state import (
    CommerceState,
    OrderLineRecord,
    OrderRecord,
    adjusted_id,
    received_id,
    release_id,
    reserve_id,
)
from processors.commerce.writes import PROCESSED_COLUMNS, copy_rows, save
from schemas import Envelope
from schemas.wire import Encoded

S = TypeVar("S")
# Writes the emitted events in the transaction (the outbox), created at the given time.
Stage = Callable[[asyncpg.Connection, Sequence[Encoded], datetime], Awaitable[list[S]]]


async def unprocessed(
    conn: asyncpg.Connection, consumer: str, events: list[Envelope[Any]]
) -> list[Envelope[Any]]:
    """Events of the batch not yet applied by ``consumer`` (first copy of duplicates only)."""
    ids = [e.event_id for e in events]
    rows = await conn.fetch(
        "select event_id from processed_events where consumer = $1 and event_id = any($2::uuid[])",
        consumer,
        ids,
    )
    seen = {r["event_id"] for r in rows}
    fresh = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            fresh.append(event)
    return fresh


def _stock_keys(
    events: list[Envelope[Any]], orders: dict[str, OrderRecord]
) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(keys to read, keys that stock events may create)."""
    read: set[tuple[str, str]] = set()
    create: set[tuple[str, str]] = set()
    for e in events:
        p = e.payload
        if e.type == "order.placed":
            read.update((p.store_id, line.sku) for line in p.lines)
        elif e.type == "order.cancelled":
            record = orders.get(p.order_id)
            if record is not None:
                read.update((record.store_id, line.sku) for line in record.lines)
        elif e.type in ("stock.received", "stock.adjusted"):
            create.add((p.store_id, p.sku))
        elif e.type in ("stock.reserved", "stock.released"):
            create.update((p.store_id, line.sku) for line in p.lines)
    return read | create, create


def _movement_candidates(events: list[Envelope[Any]]) -> list[str]:
    ids: list[str] = []
    for e in events:
        p = e.payload
        if e.type in ("stock.received", "stock.adjusted"):
            ids.append((received_id if e.type == "stock.received" else adjusted_id)(e.event_id))
        elif e.type in ("stock.reserved", "stock.released"):
            make = reserve_id if e.type == "stock.reserved" else release_id
            ids.extend(make(p.order_id, line.sku) for line in p.lines)
    return ids


async def _load_orders(conn: asyncpg.Connection, order_ids: list[str]) -> dict[str, OrderRecord]:
    if not order_ids:
        return {}
    rows = await conn.fetch(
        "select * from orders where order_id = any($1::text[]) order by order_id for update",
        order_ids,
    )
    lines = await conn.fetch(
        "select order_id, line_no, sku, quantity, unit_price from order_lines "
        "where order_id = any($1::text[]) order by order_id, line_no",
        [r["order_id"] for r in rows],
    )
    by_order: dict[str, list[OrderLineRecord]] = {}
    for line in lines:
        by_order.setdefault(line["order_id"], []).append(
            OrderLineRecord(line["line_no"], line["sku"], line["quantity"], line["unit_price"])
        )
    return {
        r["order_id"]: OrderRecord(
            order_id=r["order_id"],
            store_id=r["store_id"],
            customer_id=r["customer_id"],
            status=r["status"],
            reject_reason=r["reject_reason"],
            total=r["total"],
            currency=r["currency"].strip(),
            placed_at=r["placed_at"],
            updated_at=r["updated_at"],
            placed_event_id=r["placed_event_id"],
            lines=tuple(by_order.get(r["order_id"], ())),
        )
        for r in rows
    }


async def load_state(
    conn: asyncpg.Connection, events: list[Envelope[Any]], default_threshold: int
) -> CommerceState:
    order_ids = sorted({e.payload.order_id for e in events if e.type.startswith("order.")})
    orders = await _load_orders(conn, order_ids)
    keys, create = _stock_keys(events, orders)
    state = CommerceState(default_threshold=default_threshold, orders=orders)
    # Reference data first, so that the stock rows below stay locked for as few round
    # trips as possible: the orders and inventory transactions wait on each other's
    # locks (BENCHMARKS.md, "Row locks between the two kinds").
    if keys:
        for r in await conn.fetch(
            "select sku, low_stock_threshold from products "
            "where sku = any($1::text[]) and low_stock_threshold is not null",
            sorted({k for _, k in keys}),
        ):
            state.thresholds[r["sku"]] = r["low_stock_threshold"]
    customers = sorted({e.payload.customer_id for e in events if e.type == "order.placed"})
    if customers:
        rows = await conn.fetch(
            "select customer_id from customers where customer_id = any($1::text[])", customers
        )
        state.known_customers = {r["customer_id"] for r in rows}
    if create:
        first_at: dict[str, Any] = {}
        for e in events:
            first_at.setdefault(e.payload.store_id, e.occurred_at)
        stores, skus = zip(*sorted(create), strict=True)
        await conn.execute(
            "insert into inventory (store_id, sku, updated_at) "
            "select s, k, $3 from unnest($1::text[], $2::text[]) as t(s, k) "
            "order by s, k on conflict do nothing",
            list(stores),
            list(skus),
            min(first_at.values()),
        )
    if keys:
        stores, skus = zip(*sorted(keys), strict=True)
        rows = await conn.fetch(
            "select i.store_id, i.sku, i.on_hand, i.reserved, i.low from inventory i "
            "join unnest($1::text[], $2::text[]) as t(s, k) on i.store_id = t.s and i.sku = t.k "
            "order by i.store_id, i.sku for update of i",
            list(stores),
            list(skus),
        )
        for r in rows:
            level = state.level(r["store_id"], r["sku"])
            level.on_hand, level.reserved, level.low = r["on_hand"], r["reserved"], r["low"]
    candidates = _movement_candidates(events)
    for record in orders.values():
        candidates.extend(release_id(record.order_id, line.sku) for line in record.lines)
        candidates.extend(reserve_id(record.order_id, line.sku) for line in record.lines)
    if candidates:
        rows = await conn.fetch(
            "select movement_id from inventory_movements where movement_id = any($1::text[])",
            candidates,
        )
        state.applied_movements = {r["movement_id"] for r in rows}
    return state


async def process(
    conn: asyncpg.Connection,
    consumer: str,
    events: list[Envelope[Any]],
    *,
    default_threshold: int,
    stage: Stage[S],
) -> list[S]:
    """Apply a batch in the caller's transaction; returns what ``stage`` staged.

    The processed ids are the last statement (the bench reads their insert time as the
    commit time of the batch).
    """
    fresh = await unprocessed(conn, consumer, events)
    if not fresh:
        return []
    state = await load_state(conn, fresh, default_threshold)
    effects = apply(state, fresh)
    await save(conn, effects)
    staged = await stage(conn, effects.emitted, min(e.occurred_at for e in fresh))
    await copy_rows(
        conn,
        "processed_events",
        PROCESSED_COLUMNS,
        [(consumer, e.event_id, e.occurred_at) for e in fresh],
    )
    return staged

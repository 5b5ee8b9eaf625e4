"""Write a batch's effects back: one statement per table, in the caller's transaction.

New rows (orders, their lines and status history, ledger movements, processed event
ids) are copied in with binary ``COPY`` (``copy_records_to_table``); changed rows
(order status, stock levels) are one ``update ... from unnest($1::type[], ...)`` per
batch. Postgres plans and runs each once instead of once per row (``executemany``,
which the profile of the orders worker showed as the largest cost of a flush).

Why ``COPY`` and not ``insert ... select from unnest``: asyncpg checks every element of
an array parameter against ``collections.abc`` (one or two ``isinstance`` calls through
``ABCMeta.__instancecheck__`` each, ~70 elements per order), and Postgres's executor
unnests and projects each row. Measured on 20,000 ledger rows (BENCHMARKS.md, issue 12,
seventh session): the worker's Python 3.4-4.0 -> 1.5-1.6 µs per row, PostgreSQL's CPU
6.0-6.5 -> 4.0-4.5 µs, and the wall time 9.8-10.7 -> 5.8-6.1 µs.

``COPY`` has no ``on conflict do nothing``, and needs none: a row is only copied for an
event that :func:`processors.commerce.repository.unprocessed` found unapplied, whose
order and movement ids the logic checked against the loaded state, under the stock rows'
locks. A conflict therefore means that another transaction applied the same event in
between (a worker that kept its partition past a rebalance): the unique violation rolls
this one back, and the retry finds the event processed and skips it. (The inserts'
``do nothing`` let such a transaction commit a second decision on fresh stock levels.)
One conflict is not a race: an order placed after a ``stock.reserved`` made elsewhere
for the same order and SKU (the same ledger id). The batch's retry isolates that event
and dead-letters it with the key's reason; the inserts' ``do nothing`` skipped its
ledger row but counted its reservation in the stock level a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from processors.commerce.state import Effects

ORDER_COLUMNS = (
    "order_id",
    "store_id",
    "customer_id",
    "status",
    "reject_reason",
    "total",
    "currency",
    "placed_at",
    "updated_at",
    "placed_event_id",
)
LINE_COLUMNS = ("order_id", "line_no", "sku", "quantity", "unit_price")
HISTORY_COLUMNS = ("order_id", "status", "reason", "event_id", "at")  # StatusChange's fields
MOVEMENT_COLUMNS = (  # Movement's fields
    "movement_id",
    "store_id",
    "sku",
    "kind",
    "on_hand_delta",
    "reserved_delta",
    "order_id",
    "event_id",
    "reason",
    "at",
)
PROCESSED_COLUMNS = ("consumer", "event_id", "processed_at")

UPDATE_ORDERS = (
    "update orders o set status = t.status, updated_at = t.at "
    "from unnest($1::text[], $2::text[], $3::timestamptz[]) as t(order_id, status, at) "
    "where o.order_id = t.order_id"
)
UPDATE_LEVELS = (
    "update inventory i set on_hand = t.on_hand, reserved = t.reserved, low = t.low, "
    "updated_at = t.at "
    "from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bool[], "
    "$6::timestamptz[]) as t(store_id, sku, on_hand, reserved, low, at) "
    "where i.store_id = t.store_id and i.sku = t.sku"
)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list per column: the arrays an ``unnest`` update takes."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


async def copy_rows(
    conn: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Copy ``rows`` (tuples in ``columns``' order) into ``table`` of the connection's
    search path, in binary."""
    await conn.copy_records_to_table(table, records=rows, columns=list(columns))


async def save(conn: asyncpg.Connection, effects: Effects) -> None:
    """Write the batch's rows (orders, lines, history, ledger, levels), one statement each."""
    if effects.new_orders:
        await copy_rows(
            conn,
            "orders",
            ORDER_COLUMNS,
            [
                (
                    o.order_id,
                    o.store_id,
                    o.customer_id,
                    o.status,
                    o.reject_reason,
                    o.total,
                    o.currency,
                    o.placed_at,
                    o.updated_at,
                    o.placed_event_id,
                )
                for o in effects.new_orders
            ],
        )
        await copy_rows(
            conn,
            "order_lines",
            LINE_COLUMNS,
            [(o.order_id, *line) for o in effects.new_orders for line in o.lines],
        )
    new = {id(o) for o in effects.new_orders}
    changed = [o for o in effects.changed_orders.values() if id(o) not in new]
    if changed:
        await conn.execute(
            UPDATE_ORDERS, *_columns([(o.order_id, o.status, o.updated_at) for o in changed], 3)
        )
    if effects.status_changes:
        await copy_rows(conn, "order_status_history", HISTORY_COLUMNS, effects.status_changes)
    if effects.movements:
        await copy_rows(conn, "inventory_movements", MOVEMENT_COLUMNS, effects.movements)
    if effects.changed_levels:
        await conn.execute(
            UPDATE_LEVELS,
            *_columns(
                [
                    (store, sku, lv.on_hand, lv.reserved, lv.low, effects.level_times[(store, sku)])
                    for (store, sku), lv in sorted(effects.changed_levels.items())
                ],
                6,
            ),
        )

"""Rows PostgreSQL writes per commerce event, from its own counters: the capacity model's input.

``pg_stat_user_tables`` counts the rows inserted, updated and deleted in each table; the
sum over the namespace's schema, read before and after the commerce phase and divided by
its events, is what a PostgreSQL shard must absorb per event (orders, lines, history,
ledger, levels, processed ids, and the outbox rows written then deleted by the relay).
A PostgreSQL 15 backend publishes its counters at most once a second (PGSTAT_MIN_INTERVAL,
and ~1 s after it goes idle), so :func:`rows_written` waits until the sum has not moved
for ``quiet_s``.
"""

from __future__ import annotations

import asyncio
import time

from riverbed.sandbox import Namespace

ROWS_SQL = (
    "select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint "
    "from pg_stat_user_tables where schemaname = $1"
)


async def rows_written(
    ns: Namespace, *, above: int = -1, quiet_s: float = 3.0, wait_s: float = 20.0
) -> int:
    """The schema's rows inserted + updated + deleted so far, once above ``above`` (a
    phase that wrote rows: its counters published) and still for ``quiet_s``.

    ``above``: a fresh clone's run once read the same sum after the commerce phase as
    before it (0 rows per event), with mypy running beside it on the two cores; the
    workers' backends had not published their counters within the quiet period.
    """
    conn = await ns.owner()
    try:
        last, since, deadline = -1, time.monotonic(), time.monotonic() + wait_s
        while True:
            await conn.execute("select pg_stat_clear_snapshot()")  # a fresh read each time
            now = int(await conn.fetchval(ROWS_SQL, ns.schema))
            clock = time.monotonic()
            if now != last:
                last, since = now, clock
            elif (now > above and clock - since >= quiet_s) or clock > deadline:
                return now
            await asyncio.sleep(0.5)
    finally:
        await conn.close()

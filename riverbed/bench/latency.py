"""End-to-end latency at a paced rate: from an event's send to its row's commit.

The orders and inventory workers already run in the namespace. Events are sent at a
fixed rate (a fraction of the maximum measured earlier in the same run); each event's
send time is taken on the bench's wall clock just before ``send``, and its commit time
is ``processed_events.committed_at`` (``clock_timestamp()`` at the insert that ends the
batch's transaction, see ``riverbed.bench.processors``) of the row its worker wrote for it, on the
same host clock. Latency therefore covers producer linger, the broker, the worker's
fetch, the batch wait (``RIVERBED_SINK_FLUSH_MS``) and the transaction.
"""

from __future__ import annotations

import statistics
from collections import Counter
from uuid import UUID

from riverbed.bench.feed import Record, paced
from riverbed.bench.processors import settled
from riverbed.sandbox import Namespace

PERCENTILES = (50, 95, 99)


async def latencies_ms(
    ns: Namespace, batch: list[Record], fed: Counter[str], rate: float, wait_s: float
) -> list[float]:
    """Send ``batch`` at ``rate`` events/s; each event's send-to-commit time in ms."""
    sent = await paced(ns, batch, rate)
    await settled(ns, fed, batch, wait_s)
    conn = await ns.owner()
    try:
        rows = await conn.fetch(
            "select event_id, extract(epoch from committed_at)::float8 as at "
            "from processed_events where event_id = any($1::uuid[])",
            list(sent),
        )
    finally:
        await conn.close()
    committed: dict[UUID, float] = {r["event_id"]: r["at"] for r in rows}
    missing = len(sent) - len(committed)
    if missing:
        raise RuntimeError(f"{missing} of {len(sent)} paced events have no processed row")
    return [(committed[i] - t) * 1000 for i, t in sent.items()]


def percentiles(values: list[float]) -> dict[int, float]:
    """p50/p95/p99 (inclusive method: no extrapolation beyond the largest sample)."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {p: cuts[p - 1] for p in PERCENTILES}

"""Late/early rate: does the cost per event grow while the tables fill?

The commit times come from ``processed_events.committed_at`` (see
:mod:`riverbed.bench.processors`).
"""

from __future__ import annotations

import uuid

from riverbed.sandbox import Namespace

MIN_WINDOW_S = 0.2  # of a late/early window: a few batches of each worker


async def late_early(
    ns: Namespace, event_ids: list[uuid.UUID], consumer: str | None = None
) -> float:
    """The commit rate of the last 10 % of the run over that of the first 10 %.

    A cost per event that grows with the stored data (bigger indexes, longer scans)
    shows as a ratio below 1. See :func:`edge_rates` for the windows. With ``consumer``,
    only that kind's events and span count: both kinds together also fall below 1 when
    one kind finishes before the other (the last window then holds one kind's commits).
    """
    conn = await ns.owner()
    try:
        rows = await conn.fetch(
            "select extract(epoch from committed_at)::float8 as at, count(*) as n "
            "from processed_events where event_id = any($1::uuid[]) "
            "and ($2::text is null or consumer = $2) group by 1 order by 1",
            event_ids,
            consumer,
        )
    finally:
        await conn.close()
    early, late = edge_rates([(r["at"], r["n"]) for r in rows])
    return late / early


def edge_rates(commits: list[tuple[float, int]], fraction: float = 0.1) -> tuple[float, float]:
    """(early, late) events/s over the first and the last ``fraction`` of a run.

    ``commits`` are (commit time, events committed then), in time order: a transaction
    commits a whole batch at one instant. The run spans the first to the last commit
    (so the start-up wait, first fetch and first batch, is not in it); each window is
    ``fraction`` of that span, at least ``MIN_WINDOW_S`` so that it holds several
    batches. The early window counts the events committed after the first commit (that
    batch was applied before the window opened), the late one those up to and
    including the last commit: both count only work done inside them.
    """
    if len(commits) < 3:
        raise ValueError(f"{len(commits)} commits: too few to compare the edges of a run")
    first, last = commits[0][0], commits[-1][0]
    window = max((last - first) * fraction, MIN_WINDOW_S)
    early = sum(n for at, n in commits[1:] if at <= first + window)
    late = sum(n for at, n in commits if at > last - window)
    return early / window, late / window

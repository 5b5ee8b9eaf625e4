"""Every SQL query the dashboard makes, and the index each one uses.

The read API and the poller take their SQL from here only, so the EXPLAIN test
(tests/integration/dashboard/test_explain.py) checks all of them: after ``ANALYZE`` and
with ``enable_seqscan = off`` none may plan a sequential scan. Windows are in *event
time* (stored times come from the events) and bounded on both sides: they end at the
current minute of the dashboard's clock (:mod:`dashboard.clock`), never at the newest
stored time, which one outlier event could hold anywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

# --- read API ----------------------------------------------------------------------
ORDER = """
select order_id, store_id, customer_id, status, reject_reason, total, currency,
       placed_at, updated_at
from orders where order_id = $1
"""  # orders_pkey
ORDER_EVENT = "select placed_event_id from orders where order_id = $1"  # orders_pkey
ORDER_LINES = """
select line_no, sku, quantity, unit_price from order_lines where order_id = $1 order by line_no
"""  # order_lines_pkey (order_id, line_no)
ORDER_HISTORY = """
select status, reason, at from order_status_history where order_id = $1 order by at, status
"""  # order_status_history_pkey (order_id, status)
STORE = "select store_id, name, region from stores where store_id = $1"  # stores_pkey
STORE_HAS_STOCK = "select exists (select 1 from inventory where store_id = $1)"  # inventory_pkey
INVENTORY_PAGE = """
select sku, on_hand, reserved, on_hand - reserved as available, low, updated_at
from inventory where store_id = $1 order by sku limit $2 offset $3
"""  # inventory_pkey (store_id, sku)
INVENTORY_COUNT = "select count(*) from inventory where store_id = $1"  # inventory_pkey
TRENDING = """
select title_id, sum(starts)::bigint as starts from title_views_minute
where minute > $1 and minute < $2
group by title_id order by starts desc, title_id limit $3 offset $4
"""  # title_views_minute_minute_idx (minute, title_id and starts included)

# One round trip for everything a recommendation request reads. Under load every round
# trip waits for a CPU: six of them measured p99 103 ms against 20 (load average ~20,
# 20,000 views), two 22-65 ms; BENCHMARKS.md has the profile that led to one. The
# co-watch ranking is an aggregate over the seeds' partners, so PostgreSQL computes it
# (up to ~800 partner rows no longer travel to Python to be summed there).
# $1 user, $2 history length, $3 time-of-day bucket, $4..$5 trending window, $6 trending
# length, $7 the page's end (offset + limit), $8 seeds.
RECOMMENDATION_INPUTS = """
with history as (
    select array(select title_id from viewing_session_index
                 where user_id = $1 and ended_at is not null
                 order by ended_at desc, session_id desc limit $2) as titles
), watched as (
    select distinct t as title_id from history, unnest(history.titles) as t
), seeds as (  -- the most recent distinct titles, most recent first
    select h.title_id, min(h.n) as n
    from history, unnest(history.titles) with ordinality as h(title_id, n)
    group by h.title_id order by min(h.n) limit $8
), partners as (  -- per seed, enough that leaving out watched titles still fills the page
    select s.title_id as seed, p.other_title_id as title_id, p.viewers
    from seeds as s cross join lateral (
        select other_title_id, viewers from co_watch_counts as c
        where c.title_id = s.title_id order by viewers desc, other_title_id
        limit $7 + (select count(*) from watched)
    ) as p
), co_watch as (  -- summed co-viewers, without what the user watched
    select title_id, sum(viewers) as score, array_agg(seed) as because
    from partners where title_id not in (select title_id from watched)
    group by title_id
)
select
    (select titles from history) as history,
    array(select title_id from seeds order by n) as seeds,
    array(select (title_id, because) from co_watch
          order by score desc, title_id collate "C") as co_watch,
    array(select title_id from viewing_session_index
          where user_id = $1 and ended_at is not null and completed) as finished,
    array(select title_id from recs_user_items
          where user_id = $1 and bucket = $3 order by rank) as model,
    (select max(version) from recs_user_items where user_id = $1 and bucket = $3) as version,
    array(select title_id from title_views_minute where minute > $4 and minute < $5
          group by title_id order by sum(starts) desc, title_id limit $6) as trending,
    exists(select 1 from viewing_session_index where user_id = $1) as known
"""  # index-only: viewing_session_index_user_ended_idx (title_id, completed included),
# co_watch_counts_title_viewers_idx, recs_user_items_pkey, title_views_minute_minute_idx
# (title_id, starts included), viewing_session_index_user_started_idx.
# ("completed" implies "ended": processors/viewing/sessions.py sets both at the end mark.)

# --- poller ------------------------------------------------------------------------
ORDERS_PER_MINUTE = """
select date_trunc('minute', updated_at) as minute, status, count(*) as orders,
       coalesce(sum(total), 0) as revenue
from orders
where updated_at >= $1 and updated_at < $2 and status in ('confirmed', 'rejected')
group by 1, 2 order by 1
"""  # orders_updated_at_idx (or orders_status_updated_idx)
ORDERS_BY_STATUS = (
    "select status, count(*) from orders group by status"  # orders_status_updated_idx
)
LOW_STOCK_COUNT = "select count(*) from inventory where low"  # inventory_low_idx (partial)

_T = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
_T_END = _T + timedelta(minutes=15)

# name -> (sql, sample arguments): what the EXPLAIN test plans.
QUERIES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "order": (ORDER, ("o-1",)),
    "order_event": (ORDER_EVENT, ("o-1",)),
    "order_lines": (ORDER_LINES, ("o-1",)),
    "order_history": (ORDER_HISTORY, ("o-1",)),
    "store": (STORE, ("s-1",)),
    "store_has_stock": (STORE_HAS_STOCK, ("s-1",)),
    "inventory_page": (INVENTORY_PAGE, ("s-1", 20, 0)),
    "inventory_count": (INVENTORY_COUNT, ("s-1",)),
    "trending": (TRENDING, (_T, _T_END, 10, 0)),
    "recommendation_inputs": (
        RECOMMENDATION_INPUTS,
        ("user-1", 50, 1, _T - timedelta(hours=1), _T, 60, 10, 10),
    ),
    "orders_per_minute": (ORDERS_PER_MINUTE, (_T, _T_END)),
    "orders_by_status": (ORDERS_BY_STATUS, ()),
    "low_stock_count": (LOW_STOCK_COUNT, ()),
}

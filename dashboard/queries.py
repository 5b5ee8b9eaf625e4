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
"""  # title_views_minute_minute_starts_idx (minute, starts desc)

# One round trip for everything a recommendation request reads but the co-watch
# partners (which need the seeds): under load every round trip waits for a CPU, and six
# of them measured p99 103 ms against 20 (load average ~20, 20,000 views).
RECOMMENDATION_INPUTS = """
select
    array(select title_id from viewing_session_index
          where user_id = $1 and ended_at is not null
          order by ended_at desc, session_id desc limit $2) as history,
    array(select distinct title_id from viewing_session_index
          where user_id = $1 and completed order by 1) as finished,
    array(select title_id from recs_user_items
          where user_id = $1 and bucket = $3 order by rank) as model,
    (select max(version) from recs_user_items where user_id = $1 and bucket = $3) as version,
    array(select title_id from title_views_minute where minute > $4 and minute < $5
          group by title_id order by sum(starts) desc, title_id limit $6) as trending,
    exists(select 1 from viewing_session_index where user_id = $1) as known
"""  # index ranges: viewing_session_index_user_*, recs_user_items_pkey, title_views_minute_*

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
    "orders_per_minute": (ORDERS_PER_MINUTE, (_T, _T_END)),
    "orders_by_status": (ORDERS_BY_STATUS, ()),
    "low_stock_count": (LOW_STOCK_COUNT, ()),
}

"""10,000+ simulated events through Kafka and the real workers into the databases.

Stock movements are published first and orders second, so each order's decision is
determined by the input alone; then the stored state must equal what the pure decision
logic computes from the same events.
"""

from __future__ import annotations

import itertools
from typing import Any

from pymongo import AsyncMongoClient

from processors.commerce.logic import apply
from processors.commerce.state import CommerceState
from processors.viewing import sessions
from producers.simulators.seed import seed_reference_data
from producers.simulators.simulation import Simulation
from riverbed.chaos import check
from riverbed.sandbox import Namespace
from schemas import INVENTORY_TOPIC, ORDERS_TOPIC, VIEWING_TOPIC, Envelope

MIX = {"orders": 1, "inventory": 1, "viewing": 3}


async def test_ten_thousand_mixed_events_match_the_decision_logic(ns: Namespace) -> None:
    sim = Simulation(5, MIX)
    mixed = list(itertools.islice(sim.events(), 10_000))
    stock_first: list[Envelope[Any]] = [
        *sim.initial_stock(),
        *(e for e in mixed if e.type.startswith("stock.")),
    ]
    orders = [e for e in mixed if e.type.startswith("order.")]
    viewing = [e for e in mixed if e.type.startswith("playback.")]
    assert len(orders) > 1000 and len(stock_first) > 1000
    await seed_reference_data(
        ns.settings.postgres_owner_dsn.get_secret_value(), sim.catalog, schema=ns.schema
    )

    for kind in ("orders", "inventory", "viewing"):
        ns.start(kind)
    await ns.publish(stock_first)
    await ns.wait_caught_up({"inventory": INVENTORY_TOPIC})
    await ns.publish(orders + viewing)
    await ns.wait_caught_up(
        {"orders": ORDERS_TOPIC, "inventory": INVENTORY_TOPIC, "viewing": VIEWING_TOPIC}
    )

    state = CommerceState(
        known_customers={c.customer_id for c in sim.catalog.customers},
        thresholds={p.sku: p.low_stock_threshold for p in sim.catalog.products},
        default_threshold=ns.settings.low_stock_threshold,
    )
    apply(state, stock_first + orders)
    conn = await ns.owner()
    try:
        by_status = {
            r["status"]: r["n"]
            for r in await conn.fetch("select status, count(*) as n from orders group by status")
        }
        want_status: dict[str, int] = {}
        for o in state.orders.values():
            want_status[o.status] = want_status.get(o.status, 0) + 1
        assert by_status == want_status
        assert set(want_status) == {"confirmed", "rejected", "cancelled"}
        stored = {
            r["order_id"]: (r["status"], r["reject_reason"])
            for r in await conn.fetch("select * from orders")
        }
        assert stored == {o.order_id: (o.status, o.reject_reason) for o in state.orders.values()}
        levels = {
            (r["store_id"], r["sku"]): (r["on_hand"], r["reserved"])
            for r in await conn.fetch("select * from inventory")
        }
        assert levels == {k: (v.on_hand, v.reserved) for k, v in state.levels.items()}
        assert (
            await conn.fetchval(
                "select count(*) from inventory where reserved > on_hand or on_hand < 0"
            )
            == 0
        )
        assert (
            await conn.fetchval(
                "select count(*) from inventory i join (select store_id, sku, sum(on_hand_delta) oh, "
                "sum(reserved_delta) rs from inventory_movements group by 1, 2) m using (store_id, sku) "
                "where m.oh <> i.on_hand or m.rs <> i.reserved"
            )
            == 0
        )
    finally:
        await conn.close()

    by_session: dict[str, list[Envelope[Any]]] = {}
    for e in viewing:
        by_session.setdefault(e.payload.session_id, []).append(e)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        ns.settings.mongo_uri.get_secret_value(), tz_aware=True
    )
    try:
        stored_sessions, in_both = await check.stored_sessions(client[ns.mongo_db])
    finally:
        await client.close()
    assert in_both == 0
    assert stored_sessions == {
        sid: sessions.to_document(sessions.fold(sessions.mark_of(e) for e in evs))
        for sid, evs in by_session.items()
    }

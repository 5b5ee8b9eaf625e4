"""The dispatch worker's in-memory view and the pass that plans from it, on hand-made cases.

The view follows the rows the tables returned, keeps a transaction's copies only when
installed (after the commit), and says when a store next needs a pass; ``plan`` gives a
store's ready trips to its nearest idle shoppers that can carry them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from processors.dispatch.geo import SHOPPER_RES, Point, cell
from processors.dispatch.matching import Rules, nearest, plan, rank
from processors.dispatch.memory import Memory, StoreState, View, Waiting
from processors.dispatch.solver import IdleShopper, WaitingOrder, make_batches

pytestmark = pytest.mark.unit

STORE: Point = (52.3700, 4.8900)
DEG = 0.009  # ~1 km of latitude
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(milliseconds=150)
RULES = Rules(window_s=0.15, radius_km=8.0, speed_mps=5.0)


def at(dlat_km: float, dlon_km: float = 0.0) -> Point:
    return (STORE[0] + dlat_km * DEG, STORE[1] + dlon_km * DEG * 1.64)


def shopper_row(sid: str, p: Point, *, capacity: int = 3, **kw: Any) -> dict[str, Any]:
    row = {
        "shopper_id": sid,
        "store_id": "s1",
        "online": True,
        "lat": p[0],
        "lon": p[1],
        "cell": cell(p, SHOPPER_RES),
        "capacity": capacity,
        "delivery_id": None,
    }
    return row | kw


def order_row(oid: str, p: Point, received: datetime, status: str = "waiting") -> dict[str, Any]:
    return {
        "order_id": oid,
        "store_id": "s1",
        "lat": p[0],
        "lon": p[1],
        "received_at": received,
        "status": status,
    }


def loaded(memory: Memory) -> View:
    """A view in which store s1 was read from empty tables (what ``View.load`` does)."""
    view = memory.view()
    view.states["s1"] = StoreState()
    return view


def test_a_view_changes_the_memory_only_once_installed() -> None:
    memory = Memory()
    view = loaded(memory)
    view.shoppers([shopper_row("a", at(1))])
    view.orders([order_row("o1", at(2), T0)])
    assert memory.stores == {}  # a rolled-back transaction leaves this as it was
    assert memory.install(view)
    st = memory.stores["s1"]
    assert list(st.waiting) == ["o1"] and list(st.idle) == ["a"]
    # A second transaction starts from the installed state and copies before changing.
    second = memory.view()
    second.assigned("s1", ["o1"], "a")
    assert list(memory.stores["s1"].waiting) == ["o1"]
    assert second.state("s1").waiting == {}


def test_a_cleared_memory_refuses_a_view_begun_before() -> None:
    memory = Memory()
    view = loaded(memory)
    view.orders([order_row("o1", at(2), T0)])
    memory.clear()  # a rebalance while the transaction ran
    assert not memory.install(view)
    assert memory.stores == {}


def test_shopper_rows_decide_who_is_idle() -> None:
    memory = Memory()
    view = loaded(memory)
    view.shoppers(
        [
            shopper_row("a", at(1)),
            shopper_row("b", at(2), delivery_id="d-1"),
            shopper_row("c", at(3), online=False),
        ]
    )
    assert list(view.state("s1").idle) == ["a"]
    # Later rows of one shopper win: busy, then freed by its trip's last delivery.
    view.shoppers(
        [
            shopper_row("a", at(1), delivery_id="d-2"),
            shopper_row("b", at(2)),
        ]
    )
    assert list(view.state("s1").idle) == ["b"]
    memory.install(view)
    # A shopper who moved to another (loaded) store is idle only there.
    moved = memory.view()
    moved.states["s2"] = StoreState()
    moved.shoppers([shopper_row("b", at(2), store_id="s2")])
    assert "b" not in moved.state("s1").idle and "b" in moved.state("s2").idle


def test_unroutable_orders_and_stores_not_loaded_are_left_to_the_tables() -> None:
    memory = Memory()
    view = loaded(memory)
    view.orders(
        [
            order_row("o1", at(1), T0, status="unroutable"),
            order_row("o2", at(1), T0) | {"store_id": "elsewhere"},
        ]
    )
    assert view.state("s1").waiting == {} and "elsewhere" not in view.states


def test_a_store_is_due_when_changed_or_when_an_order_ripens() -> None:
    st = StoreState()
    st.waiting["o1"] = Waiting(at(1), T0)
    assert not st.due(T0, WINDOW)  # nobody idle
    st.idle["a"] = (IdleShopper("a", at(1), 3), cell(at(1), SHOPPER_RES))
    assert st.due(T0, WINDOW)  # changed since the last pass
    st.changed, st.passed_at = False, T0
    assert st.ready_at(WINDOW) == T0 + WINDOW
    assert not st.due(T0 + WINDOW / 2, WINDOW)
    assert st.due(T0 + WINDOW, WINDOW)
    st.passed_at = T0 + WINDOW  # a pass saw it ripe (and could not serve it): not again
    assert st.ready_at(WINDOW) is None and not st.due(T0 + 2 * WINDOW, WINDOW)
    memory = Memory()
    memory.stores["s1"] = st
    st.waiting["o2"] = Waiting(at(2), T0 + WINDOW)
    assert memory.next_due(WINDOW) == T0 + 2 * WINDOW


def test_plan_gives_a_full_trip_to_the_nearest_shopper_able_to_carry_it() -> None:
    st = StoreState()
    for n in range(3):  # three doors together, north: one trip of three
        st.waiting[f"o{n}"] = Waiting(at(3, 0.1 * n), T0)
    near, far = at(0.2), at(-2)
    st.idle["near-2"] = (IdleShopper("near-2", near, 2), cell(near, SHOPPER_RES))
    st.idle["far-3"] = (IdleShopper("far-3", far, 3), cell(far, SHOPPER_RES))
    (match,) = plan(STORE, st, T0, RULES)  # full at once: no window to wait
    assert match.shopper.shopper_id == "far-3"
    assert {o.order_id for o in match.trip.orders} == {"o0", "o1", "o2"}
    assert plan(STORE, StoreState(waiting=dict(st.waiting)), T0, RULES) == []  # nobody idle


def test_plan_waits_for_the_window_before_a_trip_that_is_not_full() -> None:
    st = StoreState()
    st.waiting["o1"] = Waiting(at(3), T0)
    st.idle["a"] = (IdleShopper("a", at(1), 3), cell(at(1), SHOPPER_RES))
    assert plan(STORE, st, T0 + WINDOW / 2, RULES) == []
    (match,) = plan(STORE, st, T0 + WINDOW, RULES)
    assert match.shopper.shopper_id == "a"


def test_shoppers_outside_the_radius_are_not_offered_and_ranks_are_cached() -> None:
    st = StoreState()
    inside, outside = at(2), at(30)
    st.idle["in"] = (IdleShopper("in", inside, 3), cell(inside, SHOPPER_RES))
    st.idle["out"] = (IdleShopper("out", outside, 3), cell(outside, SHOPPER_RES))
    disk = frozenset({cell(inside, SHOPPER_RES), cell(STORE, SHOPPER_RES)})
    ranked = rank(STORE, st, disk)
    assert [s.shopper_id for _, s in ranked] == ["in"]
    assert st.rank["out"] is None and st.ranked_for == STORE
    # Cached: a different disk is not looked at again until the store moves.
    assert [s.shopper_id for _, s in rank(STORE, st, frozenset())] == ["in"]
    assert rank(at(1), st, frozenset()) == []


def test_nearest_adds_the_nearest_able_to_carry_the_largest_trip() -> None:
    ranked = [(float(d), IdleShopper(f"s{d}", at(d), 1 if d < 5 else 4)) for d in range(8)]
    got = {s.shopper_id for s in nearest(ranked, 2, big=4)}
    assert got == {"s0", "s1", "s5", "s6"}


def test_only_ready_leaves_waiting_trips_out() -> None:
    young = [WaitingOrder("o1", at(3), 0.1), WaitingOrder("o2", at(-3), 2.0)]
    every = make_batches(STORE, young, max_size=3, window_s=1.0)
    ready = make_batches(STORE, young, max_size=3, window_s=1.0, only_ready=True)
    assert [t.ready for t in every] == [True, False]
    assert ready == every[:1]

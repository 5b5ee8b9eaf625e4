"""The dispatch worker's view of its stores in memory: waiting orders and idle shoppers.

The tables stay the truth; this is a cache of the two things every matching pass reads,
so that a pass plans without a query and the timer knows when the next order becomes
ready without asking the database. Reading them per pass was four queries (waiting
stores, waiting orders, capacities, the nearest idle shoppers) and most of PostgreSQL's
CPU at 1,000 orders/s (BENCHMARKS.md, dispatch).

* A store is loaded from the committed tables the first time a transaction needs it,
  before the transaction writes anything (:meth:`View.load`).
* A transaction works on a :class:`View`: copies of the stores it touches, changed by
  the rows its statements returned (:class:`~processors.dispatch.state.Changes`) and by
  its own assignments; :meth:`Memory.install` keeps the copies only after the commit. A
  rolled-back transaction leaves the memory as it was.
* It can be stale only if someone else wrote the tables (a second replica during a
  rebalance): the pass's writes are conditional, a stale plan raises
  :class:`~processors.dispatch.matching.Conflict`, the transaction rolls back and the
  worker forgets everything (:meth:`Memory.clear`), reloading on the next pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from processors.dispatch.geo import Point
from processors.dispatch.solver import IdleShopper

ORDERS_OF = (
    "select store_id, order_id, lat, lon, received_at from dispatch_orders "
    "where store_id = any($1::text[]) and status = 'waiting' order by received_at"
)
IDLE_OF = (
    "select shopper_id, store_id, online, lat, lon, cell, capacity, delivery_id from shoppers "
    "where store_id = any($1::text[]) and online and delivery_id is null"
)


@dataclass(slots=True)
class Waiting:
    dropoff: Point
    received_at: datetime  # the batching clock starts here


@dataclass(slots=True)
class StoreState:
    """One store: its waiting orders (oldest first) and idle shoppers (with H3 cell)."""

    waiting: dict[str, Waiting] = field(default_factory=dict)
    idle: dict[str, tuple[IdleShopper, str]] = field(default_factory=dict)
    changed: bool = True  # something changed since the last pass planned this store
    passed_at: datetime | None = None  # when a pass last planned it
    # Each idle shopper's planar distance to the store (None: outside its H3 disk), kept
    # until the shopper changes (:func:`~processors.dispatch.matching.plan` fills it):
    # computing it for 500 shoppers a store on every pass was 13 % of the worker (py-spy).
    rank: dict[str, float | None] = field(default_factory=dict)
    ranked_for: Point | None = None  # the store position the ranks were computed for

    def copy(self) -> StoreState:
        return StoreState(
            dict(self.waiting),
            dict(self.idle),
            self.changed,
            self.passed_at,
            dict(self.rank),
            self.ranked_for,
        )

    def ready_at(self, window: timedelta) -> datetime | None:
        """When the next order becomes ready that the last pass did not see ready."""
        for w in self.waiting.values():  # oldest first: the first one not yet due
            at = w.received_at + window
            if self.passed_at is None or at > self.passed_at:
                return at
        return None

    def due(self, now: datetime, window: timedelta) -> bool:
        """Worth a pass: orders wait, a shopper is idle, and something is new or ripe."""
        if not self.waiting or not self.idle:
            return False
        if self.changed:
            return True
        at = self.ready_at(window)
        return at is not None and at <= now


class Memory:
    """Waiting orders and idle shoppers of the stores this worker has seen."""

    def __init__(self) -> None:
        self.stores: dict[str, StoreState] = {}
        self._shopper_store: dict[str, str] = {}  # where each idle shopper is kept
        self._generation = 0

    def clear(self) -> None:
        """Forget everything (a rebalance, or a pass found the tables changed under it)."""
        self.stores.clear()
        self._shopper_store.clear()
        self._generation += 1

    def view(self) -> View:
        return View(self, self._generation)

    def install(self, view: View) -> bool:
        """Keep a committed transaction's copies (unless the memory was cleared meanwhile)."""
        if view.generation != self._generation:
            return False
        self.stores.update(view.states)
        for sid, store in view.moved.items():
            if store is None:
                self._shopper_store.pop(sid, None)
            else:
                self._shopper_store[sid] = store
        return True

    def due(self, now: datetime, window: timedelta) -> list[str]:
        return sorted(s for s, st in self.stores.items() if st.due(now, window))

    def next_due(self, window: timedelta) -> datetime | None:
        """The earliest time a store with an idle shopper gets a newly ready order."""
        times = [
            at for st in self.stores.values() if st.idle and (at := st.ready_at(window)) is not None
        ]
        return min(times, default=None)

    def store_of(self, shopper_id: str) -> str | None:
        return self._shopper_store.get(shopper_id)


@dataclass(slots=True)
class View:
    """A transaction's working copy: the stores it touched, installed after the commit."""

    memory: Memory
    generation: int
    states: dict[str, StoreState] = field(default_factory=dict)
    moved: dict[str, str | None] = field(default_factory=dict)  # shopper -> idle where

    async def load(self, conn: asyncpg.Connection, stores: Iterable[str]) -> None:
        """Read the stores not yet in memory from the tables (before this transaction writes)."""
        missing = sorted({s for s in stores if s not in self.memory.stores} - set(self.states))
        if not missing:
            return
        for s in missing:
            self.states[s] = StoreState()
        for r in await conn.fetch(ORDERS_OF, missing):
            self.states[r["store_id"]].waiting[r["order_id"]] = Waiting(
                (r["lat"], r["lon"]), r["received_at"]
            )
        self.shoppers(await conn.fetch(IDLE_OF, missing))

    def state(self, store: str) -> StoreState:
        st = self.states.get(store)
        if st is None:
            st = self.states[store] = self.memory.stores[store].copy()
        return st

    def known(self, store: str) -> bool:
        """Loaded: a store that is not is read from the tables when a pass first needs it."""
        return store in self.states or store in self.memory.stores

    def _idle_store(self, shopper_id: str) -> str | None:
        if shopper_id in self.moved:
            return self.moved[shopper_id]
        return self.memory.store_of(shopper_id)

    def orders(self, rows: Sequence[asyncpg.Record]) -> None:
        """Orders the batch inserted (only new ones come back; unroutable ones never wait)."""
        for r in rows:
            if r["status"] == "waiting" and self.known(r["store_id"]):
                st = self.state(r["store_id"])
                st.waiting[r["order_id"]] = Waiting((r["lat"], r["lon"]), r["received_at"])
                st.changed = True

    def shoppers(self, rows: Sequence[asyncpg.Record]) -> None:
        """Shopper rows as written, in statement order: idle iff online without a trip."""
        for r in rows:
            sid, store = r["shopper_id"], r["store_id"]
            was = self._idle_store(sid)
            if was is not None and self.known(was):
                self.state(was).idle.pop(sid, None)
                self.state(was).rank.pop(sid, None)
            if r["online"] and r["delivery_id"] is None and self.known(store):
                st = self.state(store)
                st.idle[sid] = (IdleShopper(sid, (r["lat"], r["lon"]), r["capacity"]), r["cell"])
                st.changed = True
                self.moved[sid] = store
            else:
                self.moved[sid] = None

    def due(self, now: datetime, window: timedelta) -> list[str]:
        """The stores worth a pass, as this transaction sees them."""
        stores = {**self.memory.stores, **self.states}
        return sorted(s for s, st in stores.items() if st.due(now, window))

    def assigned(self, store: str, order_ids: Iterable[str], shopper_id: str) -> None:
        st = self.state(store)
        for o in order_ids:
            st.waiting.pop(o, None)
        st.idle.pop(shopper_id, None)
        st.rank.pop(shopper_id, None)
        self.moved[shopper_id] = None

    def passed(self, stores: Iterable[str], now: datetime) -> None:
        for s in stores:
            st = self.state(s)
            st.changed, st.passed_at = False, now

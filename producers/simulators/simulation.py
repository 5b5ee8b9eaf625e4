"""One seeded simulation: its catalog, its opening stock and its endless event stream.

Every part draws from its own rng, all derived in a fixed order from
``random.Random(seed)``, so the mix stream is the same whether or not the opening stock
is published, and ``--count 500`` is a prefix of ``--count 1000``. ``config.epoch`` picks
the stamps only: a fixed start (the default: reproducible bytes) or ``None`` for the wall
clock (see :mod:`producers.simulators.clock`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from producers.simulators.catalog import Catalog, build_catalog
from producers.simulators.clock import EPOCH, SimClock, WallClock, child_rng, seeded_rng
from producers.simulators.inventory import (
    InventoryGenerator,
    StockModel,
    initial_levels,
    initial_stock,
)
from producers.simulators.mix import MixPicker
from producers.simulators.orders import OrderGenerator
from producers.simulators.viewing import ViewingGenerator
from schemas import Envelope


class _Source(Protocol):
    def next(self, at_ms: int) -> Envelope[Any]: ...


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    skus: int = 120
    stores: int = 8
    customers: int = 500
    titles: int = 200
    viewers: int = 2000
    unknown_customer_rate: float = 0.02
    cancel_rate: float = 0.03
    heartbeat_s: float = 10.0
    step_ms: int = 100  # simulated time between two events of the stream
    epoch: datetime | None = EPOCH  # stamps: epoch + simulated time; None: the wall clock


class Simulation:
    """A seeded world; :meth:`events` is its stream (one stream per instance)."""

    def __init__(
        self, seed: int, mix: Mapping[str, float], config: SimulationConfig | None = None
    ) -> None:
        config = config or SimulationConfig()
        master = seeded_rng(seed)
        # The order of these draws is part of the format: append, never reorder.
        catalog_rng, levels_rng = child_rng(master), child_rng(master)
        self._opening_seed = master.getrandbits(64)
        orders_rng, stock_rng, inventory_rng, viewing_rng, mix_rng = (
            child_rng(master) for _ in range(5)
        )
        self.seed = seed
        self.catalog: Catalog = build_catalog(
            catalog_rng,
            skus=config.skus,
            stores=config.stores,
            customers=config.customers,
            titles=config.titles,
            viewers=config.viewers,
        )
        self._opening = initial_levels(self.catalog, levels_rng)
        self.stock = StockModel(self.catalog, self._opening, stock_rng)
        self.config = config
        self.clock = self._clock(config.step_ms)
        self.orders = OrderGenerator(
            self.catalog,
            self.stock,
            orders_rng,
            self.clock,
            unknown_customer_rate=config.unknown_customer_rate,
            cancel_rate=config.cancel_rate,
        )
        self.inventory = InventoryGenerator(self.catalog, self.stock, inventory_rng, self.clock)
        self.viewing = ViewingGenerator(
            self.catalog, viewing_rng, self.clock, heartbeat_s=config.heartbeat_s
        )
        self._picker = MixPicker(mix)
        self._mix_rng = mix_rng

    def _clock(self, step_ms: int, *, before: timedelta = timedelta(0)) -> SimClock:
        epoch = self.config.epoch
        return (
            WallClock(step_ms=step_ms)
            if epoch is None
            else SimClock(epoch - before, step_ms=step_ms)
        )

    def initial_stock(self) -> Iterator[Envelope[Any]]:
        """``stock.received`` for every store x SKU: timed in the hour before the epoch,
        or stamped when generated (before the mix) on the wall clock."""
        clock = self._clock(1, before=timedelta(hours=1))
        return initial_stock(self._opening, seeded_rng(self._opening_seed), clock)

    def events(self) -> Iterator[Envelope[Any]]:
        """The endless mix stream: one event per simulated step."""
        generators: dict[str, _Source] = {
            "orders": self.orders,
            "inventory": self.inventory,
            "viewing": self.viewing,
        }
        while True:
            at_ms = self.clock.tick()
            yield generators[self._picker.pick(self._mix_rng)].next(at_ms)

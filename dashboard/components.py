"""Everything one dashboard process holds: stores, sources, the poller and the hub."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from core.settings import Settings
from dashboard.clock import Clock, wall_clock
from dashboard.config import DashboardConfig
from dashboard.hub import Hub
from dashboard.metrics import DashboardMetrics
from dashboard.poller import Poller
from dashboard.snapshot import SnapshotCollector
from dashboard.sources.delivery import DeliverySource
from dashboard.sources.kafka import KafkaSource
from dashboard.sources.mongo import MongoSource
from dashboard.sources.postgres import PostgresSource
from dashboard.sources.tail import TailSource
from dashboard.sources.workers import WorkerMetricsSource
from dashboard.stores import Stores


@dataclass
class Dashboard:
    settings: Settings
    config: DashboardConfig
    stores: Stores
    kafka: KafkaSource
    tail: TailSource
    postgres: PostgresSource
    mongo: MongoSource
    hub: Hub
    poller: Poller
    metrics: DashboardMetrics
    collector: SnapshotCollector
    clock: Clock  # ends every time window (dashboard.clock)
    workers: WorkerMetricsSource

    @classmethod
    def build(
        cls,
        settings: Settings,
        config: DashboardConfig | None = None,
        *,
        clock: Clock = wall_clock,
    ) -> Dashboard:
        """``clock`` ends every time window (the wall clock; tests fix it)."""
        config = config or DashboardConfig.from_settings(settings)
        stores = Stores(settings)
        kafka = KafkaSource(settings, config)
        tail = TailSource(settings, size=config.feed_size)
        postgres = PostgresSource(stores, clock=clock)
        mongo = MongoSource(stores, active_minutes=config.active_minutes, clock=clock)
        workers = WorkerMetricsSource(settings)
        delivery = DeliverySource(stores, promise_min=settings.dispatch_promise_min, clock=clock)
        collector = SnapshotCollector(
            {
                "kafka": ("kafka", kafka.sample),
                "feeds": ("kafka", tail.sample),
                "postgres": ("postgres", postgres.sample),
                "delivery": ("postgres", delivery.sample),
                "viewing": ("mongodb", mongo.sample),
                # Never raises (an unreachable worker is part of its value), so it never
                # marks the Kafka pill down; listed under Kafka as the workers consume it.
                "workers": ("kafka", workers.sample),
            },
            interval_s=config.poll_interval_s,
        )
        hub = Hub()
        metrics = DashboardMetrics()
        poller = Poller(
            collector.collect, hub, interval_s=config.poll_interval_s, on_cycle=metrics.on_cycle
        )
        return cls(
            settings,
            config,
            stores,
            kafka,
            tail,
            postgres,
            mongo,
            hub,
            poller,
            metrics,
            collector,
            clock,
            workers,
        )

    async def open(self) -> None:
        self.poller.start()

    async def close(self) -> None:
        await self.hub.close()
        await self.poller.stop()
        await self.collector.close()
        await self.kafka.close()
        await self.tail.close()
        await self.workers.close()
        await self.stores.close()


async def dashboard(request: Request) -> Dashboard:
    """FastAPI dependency: the process's :class:`Dashboard`. ``async`` so FastAPI calls it
    on the event loop: a plain ``def`` dependency runs in a worker thread, a thread
    hand-off per request (~9 % of the read API's samples in the recommendations profile,
    BENCHMARKS.md)."""
    state: Dashboard = request.app.state.dashboard
    return state

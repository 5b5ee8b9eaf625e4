"""The dashboard's own Prometheus metrics, on a registry per app (tests build many)."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class DashboardMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.clients = Gauge("riverbed_dashboard_sse_clients", "Open live pages", registry=r)
        self.cycles = Counter("riverbed_dashboard_polls_total", "Poll cycles", registry=r)
        self.poll_seconds = Histogram(
            "riverbed_dashboard_poll_seconds",
            "Time to read every source once",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.up = Gauge(
            "riverbed_dashboard_service_up", "Last poll reached it", ["service"], registry=r
        )
        self.lag = Gauge(
            "riverbed_consumer_group_lag_messages", "Unprocessed messages", ["group"], registry=r
        )
        self.lag_seconds = Gauge(
            "riverbed_consumer_group_lag_seconds",
            "Age of the oldest unprocessed message",
            ["group"],
            registry=r,
        )

    def on_cycle(self, seconds: float) -> None:
        self.cycles.inc()
        self.poll_seconds.observe(seconds)

    def observe(self, snapshot: bytes | None) -> None:
        """Refresh the gauges from the latest snapshot (when /metrics is scraped)."""
        if snapshot is None:
            return
        data: dict[str, Any] = json.loads(snapshot)
        for service, h in data.get("health", {}).items():
            self.up.labels(service).set(1 if h.get("status") == "up" else 0)
        for g in data.get("kafka", {}).get("groups", []):
            self.lag.labels(g["group"]).set(g["lag"])
            if g.get("lag_s") is not None:
                self.lag_seconds.labels(g["group"]).set(g["lag_s"])

    def render(self) -> bytes:
        return generate_latest(self.registry)

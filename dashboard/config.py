"""The dashboard's settings, read once from :class:`core.settings.Settings`.

The ``dashboard_*`` settings are new: until they are declared on ``Settings`` they are
read with their defaults here, so this is the one place that names them.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings
from schemas import (
    DLQ_TOPIC,
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    STOCK_ALERTS_TOPIC,
    VIEWING_TOPIC,
)

# Every topic whose events/s the page charts, in display order.
CHART_TOPICS = (
    ORDERS_TOPIC,
    ORDER_DECISIONS_TOPIC,
    INVENTORY_TOPIC,
    STOCK_ALERTS_TOPIC,
    VIEWING_TOPIC,
    DLQ_TOPIC,
)


@dataclass(frozen=True)
class DashboardConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    poll_interval_s: float = 1.0
    history_s: float = 300.0
    active_minutes: int = 15
    lag_alert_s: float = 30.0
    feed_size: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> DashboardConfig:
        return cls(
            host=settings.dashboard_host,
            port=settings.dashboard_port,
            poll_interval_s=settings.dashboard_poll_interval_s,
            active_minutes=settings.dashboard_active_minutes,
            lag_alert_s=settings.dashboard_lag_alert_s,
        )

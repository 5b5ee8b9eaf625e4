"""The workers' own counters, read from their ``/metrics``: retries and dead letters.

A worker retries a database or broker outage within bounds (``processors/runtime/retry.py``)
while its lag grows; the lag table alone cannot say why. Each worker kind serves its
metrics on ``metrics_port + its index`` (``processors/kinds.py``); with ``metrics_port``
0 (the default outside the demo) there is nothing to read and the page shows a dash.
"""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from processors.kinds import KINDS

COUNTERS = {"riverbed_retries": "retries", "riverbed_dead_letters": "dead_letters"}


def read_counters(text: str) -> dict[str, float]:
    """The sums of the counters the page shows, from one Prometheus text exposition."""
    found = dict.fromkeys(COUNTERS.values(), 0.0)
    for family in text_string_to_metric_families(text):
        name = COUNTERS.get(family.name)
        if name is not None:
            found[name] += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return found


class WorkerMetricsSource:
    def __init__(self, settings: Settings, *, timeout_s: float = 1.0) -> None:
        base = settings.metrics_port
        self.urls = (
            {k: f"http://{settings.metrics_host}:{base + i}/metrics" for i, k in enumerate(KINDS)}
            if base
            else {}
        )
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def sample(self) -> dict[str, Any]:
        """kind -> {retries, dead_letters} or {unreachable: true}; {} when metrics are off."""
        workers: dict[str, Any] = {}
        for kind, url in self.urls.items():
            try:
                response = await self._client.get(url)
                response.raise_for_status()
            except httpx.HTTPError:
                workers[kind] = {"unreachable": True}
                continue
            workers[kind] = read_counters(response.text)
        return {"workers": workers}

    async def close(self) -> None:
        await self._client.aclose()

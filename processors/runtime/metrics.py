"""Prometheus metrics of one worker process, served with ``/healthz`` and ``/readyz``.

A worker wires them in these places (see processors/commerce/worker.py):

* ``flush=metrics.observe(self.flush)``: events processed per type, flush latency,
  failed flush attempts (retries included);
* ``dead_letters=metrics.dead_letters(...)``: events dead-lettered per type, DLQ count;
* ``on_retry=metrics.retried``: every retried attempt, by cause (connection or
  contention), as ``riverbed_retries_total``, which the health panel can read;
* ``metrics.install(app)`` (a faust app) or ``metrics.run(consumer)`` (an aiokafka
  consumer, as a task, subscribed with ``listener=metrics.listening(inner)``): consumer
  lag per partition every few seconds, whose series are removed as soon as the
  partition is revoked (and at the next update if it is no longer assigned), so a
  rebalance leaves no frozen lag behind; and, when
  ``settings.metrics_port`` is non-zero, the HTTP endpoints on
  ``metrics_port + index of the kind`` (orders +0, inventory +1, viewing +2, dispatch +3), so
  ``riverbed worker all`` serves each kind on its own port. A port already taken is
  logged and skipped: metrics never stop a worker;
* ``metrics.outbox(await outbox.backlog())`` on the relay's timer (commerce workers):
  the rows no publisher took yet, as ``riverbed_outbox_backlog_events``.

The ``type`` label takes only registered event types, else ``other``
(``registry.type_label`` of :mod:`schemas.registry`): a header is whatever a producer
wrote, and each new string would be a new series.

Each instance has its own registry, so several workers in one process (tests) coexist.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiohttp import web
from aiokafka import ConsumerRebalanceListener
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from core.settings import Settings
from processors.kinds import KINDS
from processors.runtime.batching import Flush
from processors.runtime.dlq import DeadLetters, Send
from processors.runtime.retry import cause_of
from schemas import HEADER_TYPE, Envelope
from schemas import registry as contracts

log = logging.getLogger("riverbed.metrics")
LAG_EVERY_S = 5.0
FLUSH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def event_type_of(headers: Sequence[tuple[str, bytes]]) -> str:
    """The message's event type as a label: a registered type, else ``other``."""
    for name, value in headers:
        if name == HEADER_TYPE:
            return contracts.type_label(value)
    return contracts.type_label(None)


class WorkerMetrics:
    def __init__(self, settings: Settings, kind: str) -> None:
        self.kind = kind
        self.host: str = settings.metrics_host
        base = settings.metrics_port
        self.port = base + KINDS.index(kind) if base and kind in KINDS else base
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.processed = Counter(
            "riverbed_events_processed_total", "Events applied", ["worker", "type"], registry=r
        )
        self.failed = Counter(
            "riverbed_events_failed_total", "Events dead-lettered", ["worker", "type"], registry=r
        )
        self.dlq = Counter(
            "riverbed_dead_letters_total", "Messages sent to the DLQ", ["worker"], registry=r
        )
        self.flush_seconds = Histogram(
            "riverbed_flush_seconds",
            "Duration of one batch flush attempt",
            ["worker"],
            buckets=FLUSH_BUCKETS,
            registry=r,
        )
        self.flush_errors = Counter(
            "riverbed_flush_errors_total", "Failed flush attempts", ["worker"], registry=r
        )
        self.retries = Counter(
            "riverbed_retries_total",
            "Retried attempts (flushes, dead-letter sends), by transient cause",
            ["worker", "cause"],
            registry=r,
        )
        self.lag = Gauge(
            "riverbed_consumer_lag_messages",
            "High watermark minus the worker's position, per assigned partition",
            ["worker", "topic", "partition"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "riverbed_outbox_backlog_events",
            "Outbox rows not yet published, measured before each relay tick",
            ["worker"],
            registry=r,
        )
        self._lag_series: set[tuple[str, int]] = set()  # (topic, partition) with a lag series
        self._consumer: Callable[[], Any] = lambda: None
        self._rebalancing: Callable[[], bool] = lambda: False
        self._started = False

    # --- wiring ----------------------------------------------------------------------
    def observe(self, flush: Flush) -> Flush:
        """``flush``, timed, with its events counted per type when it succeeds."""

        @functools.wraps(flush)
        async def observed(envelopes: list[Envelope[Any]]) -> None:
            t0 = time.perf_counter()
            try:
                await flush(envelopes)
            except BaseException:
                self.flush_errors.labels(self.kind).inc()
                raise
            finally:
                self.flush_seconds.labels(self.kind).observe(time.perf_counter() - t0)
            counts: dict[str, int] = {}
            for e in envelopes:
                counts[e.type] = counts.get(e.type, 0) + 1
            for event_type, n in counts.items():
                self.processed.labels(self.kind, contracts.type_label(event_type)).inc(n)

        return observed

    def dead_letters(self, send: Send, consumer: str, topic: str) -> DeadLetters:
        return DeadLetters(send, consumer, topic, on_put=self._dead_lettered)

    def _dead_lettered(self, headers: Sequence[tuple[str, bytes]]) -> None:
        self.dlq.labels(self.kind).inc()
        self.failed.labels(self.kind, event_type_of(headers)).inc()

    def retried(self, exc: BaseException, _attempt: int) -> None:
        self.retries.labels(self.kind, cause_of(exc) or "other").inc()

    def outbox(self, backlog: int | None) -> None:
        """Record the outbox backlog (``None``: not measured this time, keep the last)."""
        if backlog is not None:
            self.outbox_backlog.labels(self.kind).set(backlog)

    def listening(self, inner: ConsumerRebalanceListener) -> ConsumerRebalanceListener:
        """``inner`` (e.g. the consumer's flush-on-revoke), then revoked lag series removed."""
        return _ForgetOnRevoke(inner, self.forget)

    def install(self, app: Any) -> None:
        """Register the lag timer and, if a port is set, the HTTP endpoints."""
        self._consumer = lambda: getattr(app, "consumer", None)
        self._rebalancing = lambda: bool(getattr(app, "rebalancing", False))
        app.timer(LAG_EVERY_S, name=f"riverbed.{self.kind}.metrics-lag")(self.update_lag)
        app.on_partitions_revoked.connect(self._on_revoked)
        if self.port:
            app.task(self._serve)

    async def run(self, consumer: Any) -> None:
        """Serve the endpoints (if a port is set) and update lag until cancelled."""
        self._consumer = lambda: consumer
        if self.port:
            await self._serve()
        while True:
            await asyncio.sleep(LAG_EVERY_S)
            await self.update_lag()

    # --- lag and HTTP ----------------------------------------------------------------
    async def update_lag(self) -> None:
        """Set the lag of every assigned partition; drop the series of all others.

        A partition revoked while this runs (between two awaits) may get its series set
        once more: the assignment is read again at the end, so it goes at the latest
        with this update, else with the next.
        """
        consumer = self._consumer()
        if consumer is None:
            return
        try:
            for tp in consumer.assignment():
                position = await consumer.position(tp)
                if position is not None:
                    lag = max(0, consumer.highwater(tp) - position)
                    self.lag.labels(self.kind, tp.topic, str(tp.partition)).set(lag)
                    self._lag_series.add((tp.topic, tp.partition))
            assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
            self._drop_lag(self._lag_series - assigned)
        except Exception as exc:  # lag is informative: never let it disturb the worker
            log.debug("%s: lag not available: %s", self.kind, exc)

    def forget(self, partitions: Iterable[Any]) -> None:
        """Remove the lag series of ``partitions`` (topic-partitions being revoked)."""
        self._drop_lag({(tp.topic, tp.partition) for tp in partitions})

    async def _on_revoked(self, _sender: Any, revoked: Iterable[Any], **_: Any) -> None:
        self.forget(revoked)  # faust's on_partitions_revoked signal

    def _drop_lag(self, series: set[tuple[str, int]]) -> None:
        for topic, partition in series & self._lag_series:
            self.lag.remove(self.kind, topic, str(partition))
        self._lag_series -= series

    def ready(self) -> bool:
        return self._started and not self._rebalancing()

    async def _serve(self) -> None:
        http = web.Application()
        http.router.add_get("/metrics", self._metrics)
        http.router.add_get("/healthz", self._healthz)
        http.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(http, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            log.warning(
                "%s: metrics port %s:%d unavailable (%s)", self.kind, self.host, self.port, exc
            )
            await runner.cleanup()
            return
        self._started = True
        log.info("%s: metrics on http://%s:%d/metrics", self.kind, self.host, self.port)

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "worker": self.kind})

    async def _readyz(self, _request: web.Request) -> web.Response:
        if self.ready():
            return web.json_response({"status": "ready", "worker": self.kind})
        body = {"error": {"status": 503, "message": f"{self.kind} worker is rebalancing"}}
        return web.json_response(body, status=503)


class _ForgetOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Chains a rebalance listener with the removal of revoked partitions' lag series."""

    def __init__(
        self, inner: ConsumerRebalanceListener, forget: Callable[[Iterable[Any]], None]
    ) -> None:
        self._inner = inner
        self._forget = forget

    async def on_partitions_revoked(self, revoked: Any) -> None:
        try:
            await self._inner.on_partitions_revoked(revoked)
        finally:
            self._forget(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._inner.on_partitions_assigned(assigned)

"""Tracing on vs off (issue 14): the orders+inventory workers, 1 per kind, on the same events.

The events carry a ``traceparent`` each, as the gateway gives them: one trace per
request, sampled by the default ratio's own sampler (``TraceIdRatioBased``), so ~10 % of
them say "sampled". Two namespaces get the same events: one whose workers trace (OTLP to
the local stack's Jaeger, each kept batch exported for real), one whose workers do not.

How the ratio is made stable on a shared machine:

* An untimed warm-up on each side (:data:`WARMUP` events): a new worker's first batches
  pay for lazy imports, prepared statements and cold caches.
* Then ``pairs`` pairs of rounds, each side taking the *same* ``per_round`` events in
  turn, the order flipping every pair (off, on / on, off / ...). A round runs from the
  first write to the last commit; ``per_round`` is large enough that the batches' own
  latency (two 250 ms batch windows, orders then inventory) is a small part of it: with
  990-event rounds a round was mostly that latency (~1,300 ev/s either side, rounds of
  one side 900 to 1,590 ev/s).
* Each pair gives a ratio (on over off, measured seconds apart, so a change of the
  machine's load weighs on both alike); the figure is the pair with the **median**
  ratio, so one round hit by someone else's build does not move it. Sums over all
  rounds (the former figure) let one slow round weigh on its side alone.

CPU per event (the orders and the inventory worker's own utime+stime) is summed over
all rounds: it does not depend on what else the machine runs, only on the code.

After the rounds, Jaeger must list the traced orders worker's service: otherwise the
"on" side exported nothing and the ratio would not be about tracing.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

from core.settings import Settings
from riverbed.bench import processors as proc
from riverbed.bench.cpu import CpuMeter
from riverbed.bench.feed import flood, records
from riverbed.bench.report import Figure, at_least, progress
from riverbed.sandbox import Namespace
from schemas import Envelope

# Issue 14: throughput with tracing on at the default ratio, over off.
TRACING_RATIO = 0.9
DEFAULT_RATIO: float = Settings.model_fields["otel_sample_ratio"].default
KINDS = ("orders", "inventory")
# Each side first applies the first events (the opening stock, 960, and orders) untimed:
# a new worker's first batches pay for lazy imports, prepared statements and cold caches,
# and without it two runs of 2 rounds gave on/off 0.99 and 1.68.
WARMUP = 2_000
JAEGER_WAIT_S = 30.0  # workers export every 5 s (BatchSpanProcessor's default)


def with_gateway_traceparents(
    events: list[Envelope[Any]], ratio: float = DEFAULT_RATIO, seed: int = 14
) -> list[Envelope[Any]]:
    """``events``, each with a traceparent of its own trace, sampled as the gateway's
    sampler would decide (a trace started there: ``TraceIdRatioBased(ratio)``)."""
    rng = random.Random(seed)  # noqa: S311 - repeatable ids for a benchmark, not secrets
    sampler = TraceIdRatioBased(ratio)
    out = []
    for e in events:
        trace_id = rng.getrandbits(128) or 1
        span_id = rng.getrandbits(64) or 1
        decision = sampler.should_sample(None, trace_id, "POST /v1/events").decision
        sampled = decision is Decision.RECORD_AND_SAMPLE
        parent = f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"
        out.append(e.model_copy(update={"traceparent": parent}))
    return out


def sampled_share(events: list[Envelope[Any]]) -> float:
    return sum(1 for e in events if (e.traceparent or "").endswith("-01")) / max(len(events), 1)


def median_pair(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """The (on, off) rates of the pair whose on/off ratio is the median (the upper
    middle one of an even count: the figure stays one measured pair)."""
    ranked = sorted(pairs, key=lambda p: p[0] / p[1])
    return ranked[len(ranked) // 2]


async def run(
    settings: Settings,
    tmp: Path,
    pairs: int,
    per_round: int,
    spaces: list[Namespace],
    wait_s: float,
) -> list[Figure]:
    """The on/off figures; the namespaces go into ``spaces`` (the caller drops them)."""
    sim, events, _stream = proc.commerce_workload(WARMUP + pairs * per_round)
    traced = with_gateway_traceparents(events)
    off = await proc.fresh(settings, tmp, sim)
    spaces.append(off)
    on = await proc.fresh(settings, tmp, sim)
    spaces.append(on)
    endpoint = f"http://127.0.0.1:{settings.jaeger_otlp_port}"
    service = f"bench-{on.uid}"
    proc.start(off, dict.fromkeys(KINDS, 1), {"RIVERBED_OTEL_ENDPOINT": ""})
    proc.start(
        on,
        dict.fromkeys(KINDS, 1),
        {
            "RIVERBED_OTEL_ENDPOINT": endpoint,
            "RIVERBED_OTEL_SAMPLE_RATIO": str(DEFAULT_RATIO),
            "RIVERBED_OTEL_SERVICE_NAME": service,
        },
    )
    timed = traced[WARMUP : WARMUP + pairs * per_round]
    progress(
        f"tracing on vs off: 4 workers; {sampled_share(timed):.1%} of {len(timed):,} timed "
        f"events sampled; {pairs} pairs of {per_round:,}-event rounds; spans to {endpoint}"
    )
    await proc.wait_ready([(off, dict.fromkeys(KINDS, 1)), (on, dict.fromkeys(KINDS, 1))])
    fed: dict[str, Counter[str]] = {"off": Counter(), "on": Counter()}
    sides = {"off": off, "on": on}
    for side, ns in sides.items():
        progress(f"tracing {side}: warm-up, {WARMUP:,} events (untimed)")
        await proc.through_workers(ns, records(ns, traced[:WARMUP]), fed[side], wait_s)
    # Encoded before any clock starts (each side's own topic names), not between rounds.
    rounds = {
        side: [records(ns, timed[n * per_round : (n + 1) * per_round]) for n in range(pairs)]
        for side, ns in sides.items()
    }
    cpu = {side: dict.fromkeys(KINDS, 0.0) for side in sides}
    meters = {side: await CpuMeter.of(settings, ns, KINDS) for side, ns in sides.items()}
    measured: list[tuple[float, float]] = []
    for n in range(pairs):
        rate: dict[str, float] = {}
        for side in ("off", "on") if n % 2 == 0 else ("on", "off"):
            ns, batch = sides[side], rounds[side][n]
            before = meters[side].read()
            started = await flood(ns, batch)
            await proc.settled(ns, fed[side], batch, wait_s)
            rate[side] = len(batch) / (await proc.last_commit(ns) - started)
            after = meters[side].read()
            for kind in KINDS:
                cpu[side][kind] += after[f"{kind} worker"] - before[f"{kind} worker"]
        measured.append((rate["on"], rate["off"]))
        progress(
            f"tracing pair {n + 1}/{pairs}: on {rate['on']:,.0f} ev/s, off {rate['off']:,.0f} "
            f"ev/s, on/off {rate['on'] / rate['off']:.3f}"
        )
    await exported(settings, f"{service}-orders")
    for ns in sides.values():
        for procs in ns.workers.values():
            for p in procs:
                p.terminate()
    on_rate, off_rate = median_pair(measured)
    us = {side: {k: c / len(timed) * 1e6 for k, c in by.items()} for side, by in cpu.items()}
    share = f"ratio {DEFAULT_RATIO:g}, traceparents as from the gateway"
    return [
        Figure(
            f"orders+inventory, tracing on ({share}) vs off, median of {pairs} pairs",
            on_rate,
            "ev/s",
            off_rate,
            at_least(TRACING_RATIO, on="ratio"),
        ),
        *(
            Figure(
                f"{k} worker CPU per event, tracing on vs off", us["on"][k], "us/ev", us["off"][k]
            )
            for k in KINDS
        ),
    ]


async def exported(settings: Settings, service: str) -> None:
    """Until Jaeger's query API lists ``service`` (the traced worker exported spans)."""
    url = f"{settings.jaeger_url.rstrip('/')}/api/services"
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(int(JAEGER_WAIT_S * 2)):
            try:
                answer = await client.get(url)
                if answer.status_code == 200 and service in (answer.json().get("data") or []):
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError(
        f"Jaeger at {settings.jaeger_url} never listed {service}: the traced workers "
        "exported nothing, so tracing on vs off would measure nothing (is Jaeger up?)"
    )

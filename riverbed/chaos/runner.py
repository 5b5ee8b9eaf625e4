"""Run each fault scenario in a fresh sandbox namespace and compare with the logic.

A scenario publishes its seeded stock phase, waits for it, then publishes the stream
phase paced by the workers' progress (so publishing and processing overlap throughout)
and fires its fault at set fractions of that progress. The publisher is held at
each fault's point until the fault has started (:mod:`riverbed.chaos.gate`), so every
fault hits a stream in flight; the slow-database window also closes before the stream
ends (:mod:`riverbed.chaos.slow`). When every consumer group has no
lag and the outbox is drained, the tables are checked (:mod:`riverbed.chaos.check`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import Settings
from processors.kinds import WORKER_TOPICS
from producers.simulators.seed import seed_reference_data
from riverbed.chaos import slow
from riverbed.chaos.check import Tally, check_commerce, check_viewing, dead_letter_reasons
from riverbed.chaos.cluster import longest_stall
from riverbed.chaos.dispatch import run_dispatch_kill
from riverbed.chaos.faults import Harness, SlowLink
from riverbed.chaos.gate import Gate
from riverbed.chaos.progress import Progress, Sample
from riverbed.chaos.report import Result, as_json, table
from riverbed.chaos.scenarios import CLUSTER_SCENARIOS, KEYS, SCENARIOS, Scenario
from riverbed.chaos.slow import SLOW_LATENCY_S, UNTIL, Window, run_window
from riverbed.chaos.workload import Message, Publisher, Say, as_message, build
from riverbed.sandbox import Namespace
from schemas import ORDERS_TOPIC, VIEWING_TOPIC

# The mix scenarios run the workers of the mix; dispatch has a scenario of its own.
GROUPS = {kind: topic for kind, topic in WORKER_TOPICS.items() if kind != "dispatch"}
STREAM_KINDS = ("orders", "viewing")
MAX_UNEXPECTED_EXITS = 6


@dataclass
class Run:
    """The moving parts of one scenario run."""

    scenario: Scenario
    quick: bool
    harness: Harness
    progress: Progress
    publisher: Publisher
    stream_size: int = 0
    fault_log: list[str] = field(default_factory=list)
    fault_done_at: float = 0.0
    unexpected_exits: int = 0
    broken: str | None = None  # set when workers keep dying: stop waiting for them
    marks: dict[str, float] = field(default_factory=dict)
    slow: Window = field(default_factory=Window)
    gate: Gate = field(default_factory=lambda: Gate([]))  # set for the stream phase
    fault_fractions: list[float] = field(default_factory=list)  # stream done at each fault
    fault_error: str | None = None  # the fault task failed: the gate will not open

    def stopped(self) -> str | None:
        """Why the publisher must stop waiting for a fault, if it must."""
        return self.broken or self.fault_error

    def stream_fraction(self) -> float:
        last = self.progress.samples[-1] if self.progress.samples else None
        return self.fraction_at(last) if last is not None else 0.0

    def fraction_at(self, sample: Sample) -> float:
        if not self.stream_size:
            return 0.0
        return sum(sample.committed[k] for k in STREAM_KINDS) / self.stream_size


async def run_all(
    settings: Settings,
    *,
    quick: bool,
    only: tuple[str, ...] = (),
    say: Say,
    seed: int = 7,
    cluster: bool = False,
) -> list[Result]:
    results = []
    if cluster:  # clients (workers too) bootstrap from every node: any one may be down
        settings = cluster_settings(settings)
    for scenario in CLUSTER_SCENARIOS if cluster else SCENARIOS:
        if only and scenario.key not in only:
            continue
        say(f"== {scenario.fault}")
        result = await run_scenario(settings, scenario, quick=quick, say=say, seed=seed)
        say(
            f"== {scenario.fault}: {'passed' if result.passed else 'FAILED'} "
            f"(lost {result.lost}, duplicated {result.duplicated}, {result.elapsed_s:.0f}s)"
        )
        results.append(result)
    return results


async def run_scenario(
    settings: Settings, scenario: Scenario, *, quick: bool, say: Say, seed: int
) -> Result:
    if scenario.own:  # a workload and checks of its own (riverbed/chaos/dispatch.py)
        return await run_dispatch_kill(
            settings, quick=quick, say=say, seed=seed, fault=scenario.fault
        )
    t0 = time.monotonic()
    say = _timed(say, t0)
    uid = f"c{uuid.uuid4().hex[:9]}"
    ns = Namespace(settings, uid, Path(tempfile.mkdtemp(prefix=f"riverbed-chaos-{scenario.key}-")))
    workload = build(
        seed, scenario.quick_events if quick else scenario.events, poison=scenario.poison
    )
    harness = Harness(settings, ns, random.Random(seed), say)  # noqa: S311 - seeded choice of victims
    # Chunks of 100: the gate holds the publisher at most one chunk past a fault's point.
    run = Run(scenario, quick, harness, Progress(ns, GROUPS), Publisher(ns, say, chunk=100))
    link = SlowLink(settings, SLOW_LATENCY_S) if scenario.slow else None
    result = Result(scenario.fault, workload.size, 0, 0, None, passed=False)
    background: list[asyncio.Task[None]] = []
    try:
        await ns.create()
        await seed_reference_data(
            settings.postgres_owner_dsn.get_secret_value(), workload.sim.catalog, schema=ns.schema
        )
        if link is not None:
            harness.worker_env.update(await link.open())
        for kind in GROUPS:
            harness.start_worker(kind)
        background = [
            asyncio.create_task(_sampler(run)),
            asyncio.create_task(_watchdog(run)),
        ]
        say(f"{scenario.key}: {workload.size:,} events (namespace {uid}, logs in {ns.log_dir})")
        await run.publisher.publish([as_message(e) for e in workload.stock])
        wait_s = 300 if quick else 1800
        if not await _caught_up(run, ("inventory",), wait_s):
            raise TimeoutError(f"the stock phase did not catch up within {wait_s}s")
        say(f"{scenario.key}: stock phase done; streaming {len(workload.stream):,} events")
        stream = workload.stream_messages(seed)
        run.stream_size = sum(1 for m in stream if m.topic in (ORDERS_TOPIC, VIEWING_TOPIC))
        at = scenario.quick_at if quick else scenario.at
        # The slow window also holds the publisher where it closes (slow.UNTIL).
        run.gate = Gate.at_fractions([*at, UNTIL] if link else at, run.stream_size)
        run.marks["stream_start"] = time.monotonic()
        fault_task = asyncio.create_task(_inject(run, link))
        await run.publisher.publish(stream, pace=_pacer(run, wait_s))
        published_at = time.monotonic()
        await asyncio.wait_for(fault_task, wait_s)
        ready = max(published_at, run.fault_done_at)
        if not await _caught_up(run, tuple(GROUPS), wait_s):
            result.notes.append(f"did not catch up within {wait_s}s")
        else:
            result.catch_up_s = round(time.monotonic() - ready, 1)
        peak = max((_peak_rss_mib(p.pid) for _, p in harness.live_workers()), default=0)
        for task in background:
            task.cancel()
        await ns.stop()  # the slow-db proxy runs on this loop: never block it
        tally = Tally()
        await check_commerce(ns, workload, tally)
        await check_viewing(ns, workload, tally)
        result.lost, result.duplicated = tally.lost, tally.duplicated
        result.details = {
            "checks": tally.checks,
            "info": tally.info,
            "peak_rss_mib": peak,
            "faults": run.fault_log,
        }
        ok = result.catch_up_s is not None and tally.lost == 0 and tally.duplicated == 0
        if scenario.poison:
            ok = await _check_poison(ns, workload.poison, result) and ok
        if scenario.slow:
            passed, notes, details = slow.check(
                run.progress.samples,
                tuple(GROUPS),
                stream_start=run.marks["stream_start"],
                window=run.slow,
                peak_mib=peak,
                busy=lambda sample: run.fraction_at(sample) < UNTIL,
            )
            result.notes += notes
            result.details.update(details)
            ok = passed and ok
        if any(f >= 1.0 for f in run.fault_fractions):
            result.notes.append("a fault fired after the whole stream was processed")
            ok = False
        if run.publisher.resent_chunks:
            result.notes.append(f"publisher resent {run.publisher.resent_chunks} chunk(s)")
        if run.unexpected_exits:
            result.notes.append(
                f"{run.unexpected_exits} worker exit(s) not caused by us (restarted)"
            )
        result.details["unexpected_worker_exits"] = run.unexpected_exits
        stall = longest_stall(
            run.progress.samples, STREAM_KINDS, run.marks["stream_start"], published_at
        )
        result.details["longest_stall_s"] = stall
        if scenario.max_stall_s is not None and stall > scenario.max_stall_s:
            result.notes.append(f"stalled {stall:.1f}s > {scenario.max_stall_s:.0f}s")
            ok = False
        if scenario.no_worker_restart and run.unexpected_exits:
            ok = False
        result.passed = ok
    except Exception as exc:
        result.notes.append(f"error: {type(exc).__name__}: {exc}")
        say(f"{scenario.key}: {type(exc).__name__}: {exc}\n{ns.logs()[-3000:]}")
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        keep = not result.passed or run.unexpected_exits > 0
        await _cleanup(run, link, keep_logs=keep)
        if keep:
            result.notes.append(f"worker logs in {ns.log_dir}")
        result.elapsed_s = round(time.monotonic() - t0, 1)
    return result


async def _inject(run: Run, link: SlowLink | None) -> None:
    try:
        await _fire_all(run, link)
    except Exception as exc:
        run.fault_error = f"the fault failed: {type(exc).__name__}: {exc}"
        raise


async def _fire_all(run: Run, link: SlowLink | None) -> None:
    """Fire the scenario's fault at each of its progress fractions."""
    at = run.scenario.quick_at if run.quick else run.scenario.at
    for fraction in at:
        while run.stream_fraction() < fraction:
            if run.broken:
                return
            await asyncio.sleep(0.2)
        say = run.harness.say
        run.fault_fractions.append(run.stream_fraction())
        say(f"{run.scenario.key}: fault at {run.fault_fractions[-1]:.0%} of the stream")
        if link is not None:
            what = await _slow_window(run, link)
        else:
            assert run.scenario.inject is not None
            run.gate.release()  # the rest of the stream is published while the fault hits
            what = await run.scenario.inject(run.harness)
        run.fault_log.append(what)
        run.fault_done_at = time.monotonic()
        say(f"{run.scenario.key}: {what}")


async def _slow_window(run: Run, link: SlowLink) -> str:
    return await run_window(
        link,
        run.slow,
        run.stream_fraction,
        max_s=8.0 if run.quick else 60.0,
        on_open=run.gate.release,
        on_close=run.gate.release,
    )


def _timed(say: Say, t0: float) -> Say:
    return lambda message: say(f"[{time.monotonic() - t0:5.1f}s] {message}")


def _pacer(run: Run, wait_s: float) -> Callable[[int], Awaitable[None]]:
    """Keep at most a window of unprocessed stream events ahead of the workers, and hold
    at each fault's point until that fault has started (:mod:`riverbed.chaos.gate`)."""
    window = max(2000, run.stream_size // 20)

    async def pace(sent: int) -> None:
        await run.gate.hold(sent, wait_s=wait_s, broken=run.stopped)
        while True:
            if run.broken:
                raise RuntimeError(run.broken)
            last = run.progress.samples[-1] if run.progress.samples else None
            if last is None or time.monotonic() - last.at > 3.0:
                return  # progress unknown (broker down?): keep sending, the publisher retries
            if sent - sum(last.committed[k] for k in STREAM_KINDS) <= window:
                return
            await asyncio.sleep(0.2)

    return pace


async def _sampler(run: Run) -> None:
    while True:
        await run.progress.sample()
        await asyncio.sleep(0.5)


async def _watchdog(run: Run) -> None:
    """A supervisor's job: restart a worker that exited without being killed by us."""
    h = run.harness
    seen: set[int] = set()
    while True:
        await asyncio.sleep(1.0)
        for kind, procs in list(h.ns.workers.items()):
            for p in list(procs):
                if p.poll() is None or p.pid in h.killed or p.pid in seen:
                    continue
                seen.add(p.pid)
                run.unexpected_exits += 1
                if run.unexpected_exits > MAX_UNEXPECTED_EXITS:
                    run.broken = f"workers exited {run.unexpected_exits} times; see {h.ns.log_dir}"
                    return
                h.say(
                    f"{run.scenario.key}: {kind} worker {p.pid} exited ({p.returncode}); restarting"
                )
                h.start_worker(kind)


async def _caught_up(run: Run, kinds: tuple[str, ...], wait_s: float) -> bool:
    """True once the outbox is drained and the groups of ``kinds`` have no lag."""
    deadline = time.monotonic() + wait_s
    confirmed = 0
    while time.monotonic() < deadline:
        if run.broken:
            raise RuntimeError(run.broken)
        unpublished = await run.progress.unpublished_outbox()
        sample = await run.progress.sample()
        if unpublished == 0 and sample is not None and not any(sample.lag[k] for k in kinds):
            confirmed += 1
            if confirmed == 2:
                return True
        else:
            confirmed = 0
        await asyncio.sleep(0.5)
    return False


async def _check_poison(ns: Namespace, poison: list[Message], result: Result) -> bool:
    reasons = await dead_letter_reasons(ns)
    left = list(reasons)
    missing = []
    for p in poison:
        match = next((r for r in left if p.reason and p.reason in r), None)
        if match is None:
            missing.append(p.reason)
        else:
            left.remove(match)
    result.details["dead_letters"] = reasons
    result.notes.append(f"{len(reasons)} dead letters for {len(poison)} poison records")
    if missing:
        result.notes.append(f"no dead letter with reason {missing}")
    if left:
        result.notes.append(f"unexpected dead letters: {left[:5]}")
    return not missing and not left


def _peak_rss_mib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


async def _cleanup(run: Run, link: SlowLink | None, *, keep_logs: bool) -> None:
    ns = run.harness.ns
    await run.publisher.close()
    await run.progress.close()
    await ns.stop()
    if link is not None:
        await link.close()
    with contextlib.suppress(Exception):  # drop() deletes the topics and groups too
        await asyncio.wait_for(ns.drop(), 120)
    if not keep_logs:
        shutil.rmtree(ns.log_dir, ignore_errors=True)


def cluster_settings(settings: Settings) -> Settings:
    """``settings`` with every node of the data dir's local cluster as bootstrap."""
    from riverbed.stack.kafka_cluster import bootstrap
    from riverbed.stack.manager import Stack

    nodes = [k.node for k in Stack(settings).kafka()]
    return settings.model_copy(update={"kafka_bootstrap": bootstrap(nodes)})


__all__ = [
    "CLUSTER_SCENARIOS",
    "KEYS",
    "SCENARIOS",
    "Result",
    "Scenario",
    "as_json",
    "run_all",
    "run_scenario",
    "table",
]

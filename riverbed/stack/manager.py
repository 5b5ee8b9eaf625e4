"""``riverbed stack up | down | status``: bring the services up together.

``up`` is idempotent: a service that already answers (ours or a user's own server) is
used as is. A failed ``up`` stops everything it started in that call, so nothing is
left half-started. A service that must first be built for a long time (Jaeger, from its
Go module) is started in the background and not waited for: it shows as ``building``.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass

from core.errors import StackError
from core.settings import Settings
from riverbed.stack.base import Say, Service, StackPaths
from riverbed.stack.ferretdb import FerretDB
from riverbed.stack.jaeger import Jaeger
from riverbed.stack.kafka import Kafka
from riverbed.stack.kafka_cluster import bootstrap, layout, record_nodes, recorded_nodes
from riverbed.stack.postgres import Postgres
from riverbed.stack.process import RunState, exit_code, pid_alive, port_open, tail


@dataclass
class ServiceStatus:
    name: str
    address: str
    state: str  # running | external | stopped | unhealthy | building
    managed: bool
    pid: int | None
    startup_seconds: float | None


class Stack:
    """The local stack: Kafka (one node, or a cluster of ``brokers``), PostgreSQL, FerretDB
    and Jaeger.

    ``brokers`` unset: the node count ``stack up --brokers N`` recorded in the data dir,
    else one.
    """

    def __init__(
        self,
        settings: Settings,
        services: list[Service] | None = None,
        *,
        brokers: int | None = None,
    ) -> None:
        self.settings = settings
        self.paths = StackPaths.from_settings(settings)
        self.brokers = brokers or recorded_nodes(self.paths.data) or 1
        self.services = services or [
            *kafka_nodes(settings, self.paths, self.brokers),
            Postgres(settings, self.paths),
            FerretDB(settings, self.paths),
            Jaeger(settings, self.paths),
        ]

    def kafka(self) -> list[Kafka]:
        """The Kafka node(s) of this stack."""
        return [s for s in self.services if isinstance(s, Kafka)]

    def check_layout(self) -> None:
        """Refuse to start a cluster over a running single broker (or the reverse): they
        share ports and the data dir would then hold two Kafkas."""
        other = recorded_nodes(self.paths.data) or 1
        if other == self.brokers:
            return
        names = [n.name for n in layout(self.settings, other)]
        running = [n for n in names if _running(self.paths, n)]
        if running:
            raise StackError(
                f"kafka: {', '.join(running)} of a {other}-node Kafka run{'s' if len(running) == 1 else ''} "
                f"on this data dir; asked for {self.brokers}",
                fix="`riverbed stack down` first, or use another RIVERBED_DATA_DIR",
            )

    async def up(self, say: Say) -> list[ServiceStatus]:
        self.paths.data.mkdir(parents=True, exist_ok=True)
        if self.kafka():
            self.check_layout()
            record_nodes(self.paths.data, self.brokers)
        started: list[tuple[Service, int]] = []
        results = await asyncio.gather(
            *(self._up_one(s, say, started) for s in self.services), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            for service, pid in started:
                say(f"{service.name}: stopping (up failed)")
                await asyncio.to_thread(service.stop, pid)
                RunState.forget(self.paths.run, service.name)
            if len(errors) == 1 or not all(isinstance(e, StackError) for e in errors):
                raise errors[0]
            raise StackError(
                "\n".join(str(e) for e in errors), fix="fix the problems above and run again"
            )
        if self.brokers > 1 and len(self.kafka()) == self.brokers:
            await self._wait_registered(say)
        return [r for r in results if isinstance(r, ServiceStatus)]

    async def _wait_registered(self, say: Say, timeout_s: float = 60.0) -> None:
        """Until every node's metadata lists every node of the cluster.

        A node answers once it lists itself, which can be before the others see it: a
        test found brokers [1, 2] on a node right after all three answered.
        """
        nodes = self.kafka()
        want = {n.node.node_id for n in nodes}
        deadline = time.monotonic() + timeout_s
        said = False
        while True:
            seen = [await n.brokers_seen() for n in nodes]
            if all(s is not None and want <= s for s in seen):
                return
            if time.monotonic() > deadline:
                views = ", ".join(
                    f"{n.name}: {sorted(s) if s else s}" for n, s in zip(nodes, seen, strict=True)
                )
                raise StackError(
                    f"kafka: {timeout_s:.0f}s after every node answered, not every node lists "
                    f"brokers {sorted(want)} ({views})",
                    fix="see the nodes' logs under the data dir's logs/",
                )
            if not said:
                say("kafka: waiting for every node to list the whole cluster")
                said = True
            await asyncio.sleep(0.5)

    async def _up_one(
        self, service: Service, say: Say, started: list[tuple[Service, int]]
    ) -> ServiceStatus:
        state = RunState.load(self.paths.run, service.name)
        if await service.healthy():
            if state is None or not (state.managed and pid_alive(state.pid, service.marker)):
                state = RunState(service.name, service.address, managed=False)
                state.save(self.paths.run)
                say(f"{service.name}: using the server that already answers at {service.address}")
            else:
                say(f"{service.name}: already running at {service.address}")
            return self._status(service, state, healthy=True)

        if state and state.managed and pid_alive(state.pid, service.marker):
            if service.starts_later:
                say(f"{service.name}: still building (process {state.pid}); it starts when built")
                return self._status(service, state, healthy=False)
            say(f"{service.name}: process {state.pid} runs but does not answer; restarting it")
            await asyncio.to_thread(service.stop, state.pid)
        for port in service.ports():
            if port_open(service.host, port):
                raise StackError(
                    f"{service.name}: port {port} on {service.host} is taken by another program "
                    f"that does not serve Riverbed's {service.name}",
                    fix=f"stop that program (`ss -ltnp 'sport = :{port}'` names it) or point "
                    f"Riverbed's settings for {service.name} at a free port",
                )

        await asyncio.to_thread(service.provision, say)
        if service.starts_later:
            _, state = await self._launch(service, say, started)
            return self._status(service, state, healthy=False)
        t0 = time.monotonic()
        for attempt in (1, 2):
            pid, started_state = await self._launch(service, say, started)
            try:
                await self._wait_healthy(service, pid, say)
                break
            except StackError:
                if attempt == 2 or pid_alive(pid, service.marker):
                    raise
                # Seen rarely with FerretDB right after a previous instance stopped.
                say(
                    f"{service.name}: exited during start-up (code {exit_code(pid)}); retrying once"
                )
                started.remove((service, pid))
                await asyncio.sleep(1.0)
        started_state.startup_seconds = round(time.monotonic() - t0, 2)
        started_state.save(self.paths.run)
        say(
            f"{service.name}: healthy at {service.address} after {started_state.startup_seconds:.1f}s"
        )
        return self._status(service, started_state, healthy=True)

    async def _launch(
        self, service: Service, say: Say, started: list[tuple[Service, int]]
    ) -> tuple[int, RunState]:
        """Start ``service``, note it in ``started`` (stopped again if a later one fails)
        and record its run state."""
        pid = await asyncio.to_thread(service.start, say)
        started.append((service, pid))
        state = RunState(
            service.name,
            service.address,
            managed=True,
            pid=pid,
            marker=service.marker,
            started_at=time.time(),
        )
        state.save(self.paths.run)
        return pid, state

    async def _wait_healthy(self, service: Service, pid: int, say: Say) -> None:
        deadline = time.monotonic() + self.settings.stack_start_timeout
        setup_done = False
        while time.monotonic() < deadline:
            if not pid_alive(pid, service.marker):
                raise StackError(
                    f"{service.name} exited during start-up (code {exit_code(pid)}); last log lines:\n"
                    f"{tail(service.log_file)}",
                    fix=f"read {service.log_file}; `riverbed stack down --wipe` clears its data",
                )
            if not setup_done and type(service).after_start is not Service.after_start:
                try:
                    await service.after_start(say)
                    setup_done = True
                except (OSError, ConnectionError):
                    await asyncio.sleep(0.3)
                    continue
            if await service.healthy():
                return
            await asyncio.sleep(0.3)
        raise StackError(
            f"{service.name} did not become healthy within {self.settings.stack_start_timeout:.0f}s; "
            f"last log lines:\n{tail(service.log_file)}",
            fix=f"read {service.log_file}; raise RIVERBED_STACK_START_TIMEOUT on a slow machine",
        )

    async def down(self, say: Say, *, wipe: bool = False) -> None:
        # A cluster's nodes stop together: one by one, the last ones would wait out their
        # controlled shutdown (30 s) for a controller quorum the first ones took away.
        kafka = [s for s in self.services if isinstance(s, Kafka)]
        others = [s for s in reversed(self.services) if not isinstance(s, Kafka)]
        await asyncio.gather(*(self._down_one(s, say, wipe) for s in kafka))
        for service in others:
            await self._down_one(service, say, wipe)
        if wipe:
            say(f"removing {self.paths.data}")
            shutil.rmtree(self.paths.data, ignore_errors=True)

    async def _down_one(self, service: Service, say: Say, wipe: bool) -> None:
        state = RunState.load(self.paths.run, service.name)
        if state and state.managed:
            say(f"{service.name}: stopping")
            await asyncio.to_thread(service.stop, state.pid)
        elif state:
            say(f"{service.name}: external server at {state.address}, left running")
        RunState.forget(self.paths.run, service.name)
        if wipe:
            service.wipe()

    async def status(self) -> list[ServiceStatus]:
        checks = await asyncio.gather(*(s.healthy() for s in self.services))
        out = []
        for service, healthy in zip(self.services, checks, strict=True):
            state = RunState.load(self.paths.run, service.name)
            out.append(self._status(service, state, healthy=healthy))
        return out

    def _status(self, service: Service, state: RunState | None, *, healthy: bool) -> ServiceStatus:
        managed = bool(state and state.managed)
        alive = bool(state and managed and pid_alive(state.pid, service.marker))
        if healthy:
            label = "running" if alive else "external"
        else:
            label = ("building" if service.starts_later else "unhealthy") if alive else "stopped"
        return ServiceStatus(
            name=service.name,
            address=service.address,
            state=label,
            managed=managed,
            pid=state.pid if state else None,
            startup_seconds=state.startup_seconds if state and managed else None,
        )


def kafka_nodes(settings: Settings, paths: StackPaths, brokers: int) -> list[Kafka]:
    """The single broker, or every node of a cluster (their settings list every node as
    bootstrap, which secure mode writes into each principal's file)."""
    nodes = layout(settings, brokers)
    if brokers > 1:
        settings = settings.model_copy(update={"kafka_bootstrap": bootstrap(nodes)})
    return [Kafka(settings, paths, node=n) for n in nodes]


def _running(paths: StackPaths, name: str) -> bool:
    state = RunState.load(paths.run, name)
    return bool(state and state.managed and pid_alive(state.pid, Kafka.marker))

"""A faust-streaming worker on the real broker keeps its table across a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from core.settings import Settings
from tests.integration.ports import free_ports

APP = Path(__file__).with_name("faust_counter_app.py")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(APP), "worker", "--loglevel", "info"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def test_table_is_recovered_from_changelog_after_restart(
    settings: Settings, new_topics: Any, uid: str, tmp_path: Path
) -> None:
    source, sink = await new_topics("counter-in", "counter-out")
    env = {
        "COUNTER_APP_ID": f"test-counter-{uid}",
        "COUNTER_BROKER": settings.kafka_bootstrap,
        "COUNTER_IN": source,
        "COUNTER_OUT": sink,
        "COUNTER_WEB_PORT": str(free_ports(1)[0]),
    }
    log = tmp_path / "worker.log"
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        sink, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await producer.start()
    await consumer.start()
    latest: dict[str, int] = {}

    async def wait_for(expected: dict[str, int]) -> None:
        try:
            async with asyncio.timeout(90):
                while any(latest.get(k) != v for k, v in expected.items()):
                    for messages in (await consumer.getmany(timeout_ms=500)).values():
                        for m in messages:
                            assert m.key is not None and m.value is not None
                            latest[m.key.decode()] = int(m.value)
        except TimeoutError:
            # Once in a whole-suite run (16:16 UTC, 2026-12-01, load ~4) the restarted
            # worker recovered and said "Worker ready", and 90 s later the sink had not
            # shown a=4, b=3; the log's tail held only the restart. What the sink did show
            # tells a lost count from one counted twice.
            raise AssertionError(f"the sink showed {latest}, not {expected}") from None

    async def changelog_written(records: int) -> None:
        # faust produces a table's changelog records asynchronously, after the agent has
        # sent its output: in one CI run the worker was stopped as soon as the sink showed
        # a=3, b=2 and its changelog held 4 of the 5 records, so the restarted worker
        # counted b on from 1. Stopping only once all 5 are in makes this test about
        # recovery from the changelog, which is what it claims.
        changelog = TopicPartition(f"{env['COUNTER_APP_ID']}-counts-changelog", 0)
        async with asyncio.timeout(60):
            while (await consumer.end_offsets([changelog]))[changelog] < records:  # noqa: ASYNC110 (polls the broker)
                await asyncio.sleep(0.2)

    async def send(key: str, times: int) -> None:
        for _ in range(times):
            await producer.send(source, b"{}", key=key.encode())
        await producer.flush()

    worker = start_worker(env, log)
    try:
        await send("a", 3)
        await send("b", 2)
        await wait_for({"a": 3, "b": 2})
        await changelog_written(5)
        stop_worker(worker)
        assert worker.returncode is not None

        await send("a", 1)  # arrives while no worker runs
        worker = start_worker(env, log)
        await send("b", 1)
        # Counting on from 3 and 2 proves the table came back from its changelog topic.
        await wait_for({"a": 4, "b": 3})
    except BaseException:
        text = log.read_text()
        # Both workers append to one log: the first one's stop, then the restart's tail.
        print(
            "\n".join(
                line
                for line in text.splitlines()
                if any(word in line for word in ("Stopping", "WARN", "ERROR", "ommit"))
            )[-5000:]
        )
        print(text[-5000:])
        raise
    finally:
        stop_worker(worker)
        await consumer.stop()
        await producer.stop()

"""The outbox's publisher: committed batches go out in commit order, beside the loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from processors.runtime.outbox import Outbox, Sender, Staged

pytestmark = pytest.mark.unit


class FakeConn:
    """Claims every row id asked for (``DELETE ... RETURNING``) unless told it is gone."""

    def __init__(self, gone: set[int]) -> None:
        self.gone = gone

    async def fetch(self, _sql: str, ids: list[int]) -> list[dict[str, int]]:
        return [{"id": i} for i in ids if i not in self.gone]

    def transaction(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()


class FakePool:
    def __init__(self) -> None:
        self.gone: set[int] = set()

    @contextlib.asynccontextmanager
    async def acquire(self) -> Any:
        yield FakeConn(self.gone)


def outbox_over(send: Sender, gone: set[int] | None = None) -> Outbox:
    """An outbox over ``send`` whose claims find every row but those in ``gone``."""
    pool = FakePool()
    pool.gone |= gone or set()

    async def get_pool() -> Any:
        return pool

    return Outbox(send, get_pool)


def batch_rows(batch: int, n: int) -> list[Staged]:
    return [Staged(batch, "riverbed.orders", b"k", f"{batch}-{i}".encode(), []) for i in range(n)]


async def started(outbox: Outbox) -> asyncio.Task[None]:
    task = asyncio.create_task(outbox.publisher())
    await asyncio.sleep(0)
    return task


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_batches_go_out_in_commit_order_and_queued_ones_together() -> None:
    sent: list[list[bytes]] = []
    gate = asyncio.Event()

    async def send(rows: Sequence[Staged]) -> None:
        sent.append([s.value for s in rows])
        await gate.wait()

    outbox = outbox_over(send)
    task = await started(outbox)
    outbox.hand_over(batch_rows(1, 2))
    await asyncio.sleep(0.01)  # batch 1 is being sent; 2 and 3 queue up meanwhile
    outbox.hand_over(batch_rows(2, 1))
    outbox.hand_over([])  # nothing staged: nothing queued
    outbox.hand_over(batch_rows(3, 2))
    gate.set()
    await outbox.drained(timeout_s=1)
    await stopped(task)
    assert sent == [[b"1-0", b"1-1"], [b"2-0", b"3-0", b"3-1"]]
    assert outbox.published == 5


async def test_rows_a_relay_took_meanwhile_are_not_sent_again() -> None:
    sent: list[bytes] = []

    async def send(rows: Sequence[Staged]) -> None:
        sent.extend(s.value for s in rows)

    outbox = outbox_over(send, gone={1})
    task = await started(outbox)
    outbox.hand_over(batch_rows(1, 2))
    outbox.hand_over(batch_rows(2, 1))
    await outbox.drained(timeout_s=1)
    await stopped(task)
    assert sent == [b"2-0"]


async def test_a_transient_failure_leaves_the_rows_to_the_relay_and_goes_on() -> None:
    sent: list[bytes] = []

    async def send(rows: Sequence[Staged]) -> None:
        if rows[0].id == 1:
            raise ConnectionResetError("broker gone")
        sent.extend(s.value for s in rows)

    outbox = outbox_over(send)
    task = await started(outbox)
    outbox.hand_over(batch_rows(1, 1))
    await outbox.drained(timeout_s=1)
    outbox.hand_over(batch_rows(2, 1))
    await outbox.drained(timeout_s=1)
    assert not task.done()
    await stopped(task)
    assert sent == [b"2-0"]


async def test_a_permanent_failure_stops_the_publisher_with_its_error() -> None:
    async def send(rows: Sequence[Staged]) -> None:
        raise ValueError("a bug")

    outbox = outbox_over(send)
    task = await started(outbox)
    outbox.hand_over(batch_rows(1, 1))
    with pytest.raises(ValueError, match="a bug"):
        await asyncio.wait_for(task, timeout=1)


async def test_each_batch_publishes_inside_its_own_span() -> None:
    opened: list[str] = []
    during: list[list[str]] = []

    def span(name: str) -> Any:
        @contextlib.contextmanager
        def open_span() -> Iterator[None]:
            opened.append(name)
            yield
            opened.remove(name)

        return open_span

    async def send(rows: Sequence[Staged]) -> None:
        during.append(sorted(opened))

    outbox = outbox_over(send)
    outbox.hand_over(batch_rows(1, 1), span("batch 1"))
    outbox.hand_over(batch_rows(2, 1), span("batch 2"))
    outbox.hand_over(batch_rows(3, 1))  # tracing off for this one
    task = await started(outbox)
    await outbox.drained(timeout_s=1)
    await stopped(task)
    assert during == [["batch 1", "batch 2"]]
    assert opened == []


async def test_drained_gives_up_after_its_timeout() -> None:
    async def send(rows: Sequence[Staged]) -> None:
        raise AssertionError("no publisher runs")

    outbox = outbox_over(send)
    outbox.hand_over(batch_rows(1, 1))  # no publisher runs: it stays queued
    await asyncio.wait_for(outbox.drained(timeout_s=0.05), timeout=1)


async def test_the_relayer_reports_the_backlog_then_relays_on_each_tick() -> None:
    calls: list[str] = []

    class Recorded(Outbox):
        async def backlog(self) -> int | None:
            calls.append("backlog")
            return 7

        async def relay(self) -> int:
            calls.append("relay")
            return 0

    async def send(rows: Sequence[Staged]) -> None:
        raise AssertionError("the relay is recorded, not run")

    async def get_pool() -> Any:
        return FakePool()

    reported: list[int | None] = []
    task = asyncio.create_task(Recorded(send, get_pool).relayer(0.01, reported.append))
    await asyncio.sleep(0.05)
    await stopped(task)
    assert calls[:4] == ["backlog", "relay", "backlog", "relay"]
    assert reported[0] == 7

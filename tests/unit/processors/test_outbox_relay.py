"""The outbox relay runs on a faust timer: a database outage must not crash the worker."""

from __future__ import annotations

from typing import Any

import pytest

from processors.runtime.outbox import Outbox

pytestmark = pytest.mark.unit


async def no_send(*_args: Any) -> None:
    raise AssertionError("nothing to send")


def failing_pool(exc: BaseException) -> Any:
    async def pool() -> Any:
        raise exc

    return pool


async def test_a_transient_failure_is_left_to_the_next_tick() -> None:
    outbox = Outbox(no_send, failing_pool(ConnectionRefusedError(111, "refused")))
    assert await outbox.relay() == 0


async def test_a_permanent_failure_still_raises() -> None:
    outbox = Outbox(no_send, failing_pool(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):
        await outbox.relay()

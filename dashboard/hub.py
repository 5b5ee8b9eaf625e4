"""Fan-out of one snapshot to every open page.

The poller publishes each snapshot once, already serialized; every subscriber (one per
SSE connection) waits for a newer version and sends those same bytes. A slow page skips
to the newest snapshot instead of queueing old ones, so memory stays one snapshot no
matter how many pages are open, and the databases see one poller, not one per page.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class Hub:
    def __init__(self) -> None:
        self._latest: bytes | None = None
        self._version = 0
        self._changed = asyncio.Condition()
        self._closed = False
        self.clients = 0

    @property
    def latest(self) -> bytes | None:
        return self._latest

    @property
    def version(self) -> int:
        return self._version

    async def publish(self, data: bytes) -> None:
        async with self._changed:
            self._latest = data
            self._version += 1
            self._changed.notify_all()

    async def close(self) -> None:
        """End every subscription (the server is stopping: let the streams finish)."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def subscribe(self) -> AsyncIterator[bytes]:
        """The latest snapshot at once (if any), then each newer one as it comes."""
        self.clients += 1
        seen = 0
        try:
            while True:
                async with self._changed:
                    while self._version == seen and not self._closed:
                        await self._changed.wait()
                    if self._closed:
                        return
                    data, seen = self._latest, self._version
                if data is not None:
                    yield data
        finally:
            self.clients -= 1

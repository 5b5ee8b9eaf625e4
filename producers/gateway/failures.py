"""Failed-authentication limits: at most ``limit`` failures per ``window_s`` per subject.

Used per key id (before a slow legacy scrypt check) and per client address (before any
check), so a flood of wrong secrets is refused before it costs a hash. Memory is bounded:
past ``max_subjects`` the oldest windows are forgotten, which can only let an attacker
retry sooner, never lock out a caller who has not failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class FailureLimit:
    """Counts failures per subject in fixed windows; thread-safe (keys verify in threads)."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_subjects: int = 10_000,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._max = max_subjects
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # subject -> (start, failures)

    def blocked_for(self, subject: str) -> float:
        """0.0 if ``subject`` may try now, else the seconds until its window ends."""
        now = self._clock()
        with self._lock:
            start, count = self._windows.get(subject, (now, 0))
            if now - start >= self.window_s:
                self._windows.pop(subject, None)
                return 0.0
            return self.window_s - (now - start) if count >= self.limit else 0.0

    def failed(self, subject: str) -> None:
        now = self._clock()
        with self._lock:
            start, count = self._windows.get(subject, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            elif subject not in self._windows and len(self._windows) >= self._max:
                # Insertion order is age order: drop the oldest half, keep the recent ones.
                for old in list(self._windows)[: self._max // 2]:
                    del self._windows[old]
            self._windows[subject] = (start, count + 1)

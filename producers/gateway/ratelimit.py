"""Per-key token buckets: ``gateway_rate_per_s`` events per second, bursts of
``gateway_rate_burst``. A request costs one token per event it carries (valid or not),
so a batch of 1,000 weighs as much as 1,000 single requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int, *, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self._stamp = now

    def take(self, cost: float, now: float) -> float:
        """Take ``cost`` tokens and return 0.0, or take none and return the seconds until
        they will be there. A cost over ``burst`` is charged as ``burst`` (a full bucket),
        so no request is refused forever."""
        self._refill(now)
        cost = min(cost, self.burst)
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate

    def _refill(self, now: float) -> None:
        elapsed = now - self._stamp
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self._stamp = now


class RateLimiter:
    """One :class:`TokenBucket` per key name, created on first use."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, name: str, cost: float) -> float:
        """0.0 if ``name`` may spend ``cost`` now (and it is spent), else seconds to wait."""
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._buckets.clear()  # names come from verified keys: a bound, not a policy
            bucket = self._buckets[name] = TokenBucket(self._rate, self._burst, now=now)
        return bucket.take(cost, now)

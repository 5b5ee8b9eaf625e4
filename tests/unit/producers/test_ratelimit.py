"""Per-key token buckets (a fake clock, no sleeping)."""

from __future__ import annotations

import pytest

from producers.gateway.ratelimit import RateLimiter, TokenBucket

pytestmark = pytest.mark.unit


def test_a_full_bucket_allows_a_burst_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    assert bucket.take(20, now=0.0) == 0.0
    assert bucket.take(5, now=0.0) == pytest.approx(0.5)  # 5 tokens at 10/s
    assert bucket.tokens == 0  # a refused request takes nothing


def test_tokens_refill_at_the_rate_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    bucket.take(20, now=0.0)
    assert bucket.take(5, now=0.5) == 0.0
    assert bucket.take(1, now=100.0) == 0.0
    assert bucket.tokens == 19  # capped at 20 before taking one


def test_a_cost_over_the_burst_is_charged_as_a_full_bucket() -> None:
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    assert bucket.take(1000, now=0.0) == 0.0
    assert bucket.take(1000, now=0.0) == pytest.approx(2.0)


def test_each_key_has_its_own_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1, burst=3, clock=lambda: now[0])
    assert limiter.take("a", 3) == 0.0
    assert limiter.take("a", 1) == pytest.approx(1.0)
    assert limiter.take("b", 3) == 0.0
    now[0] = 1.0
    assert limiter.take("a", 1) == 0.0


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1, now=0.0)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0, now=0.0)

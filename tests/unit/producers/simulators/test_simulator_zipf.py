from __future__ import annotations

from collections import Counter

import pytest

from producers.simulators import ZipfSampler
from producers.simulators.clock import seeded_rng

pytestmark = pytest.mark.unit


def test_the_most_popular_item_is_far_more_frequent_than_the_median() -> None:
    sampler = ZipfSampler(list(range(100)), s=1.0)
    rng = seeded_rng(3)
    counts = Counter(sampler.sample(rng) for _ in range(100_000))
    assert counts.most_common(1)[0][0] == 0
    assert counts[0] > 20 * counts[50]
    assert counts[0] / 100_000 == pytest.approx(sampler.probability(0), rel=0.05)
    assert sum(counts[i] for i in range(10)) > 0.5 * 100_000


def test_probabilities_follow_the_exponent() -> None:
    sampler = ZipfSampler("abcd", s=2.0)
    assert sum(sampler.probability(i) for i in range(4)) == pytest.approx(1.0)
    assert sampler.probability(0) / sampler.probability(1) == pytest.approx(4.0)
    assert ZipfSampler("ab", s=0.0).probability(1) == pytest.approx(0.5)


def test_sampling_is_reproducible_and_always_in_range() -> None:
    sampler = ZipfSampler(["x", "y", "z"])
    first = [sampler.index(seeded_rng(5)) for _ in range(3)]
    assert first == [sampler.index(seeded_rng(5)) for _ in range(3)]
    rng = seeded_rng(6)
    assert {sampler.index(rng) for _ in range(10_000)} == {0, 1, 2}


def test_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        ZipfSampler([])
    with pytest.raises(ValueError):
        ZipfSampler([1], s=-1)

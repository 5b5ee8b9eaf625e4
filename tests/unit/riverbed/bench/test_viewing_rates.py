"""The long run's rates from a sampled counter, with and without a zero sample."""

import pytest

from riverbed.bench.viewing import cpu_per_event, rates


def test_the_clock_starts_at_the_last_zero_sample() -> None:
    # joined at t=0..2 (not counted); then 100 events per second for 10 s
    series = [(0.0, 0), (1.0, 0), (2.0, 0)] + [(2.0 + i, 100 * i) for i in range(1, 11)]
    overall, early, late = rates(series, 1000)
    assert overall == pytest.approx(100.0)
    assert early == pytest.approx(100.0)
    assert late == pytest.approx(100.0)


def test_a_batch_applied_before_the_first_sample_is_left_out_not_a_crash() -> None:
    # CI: the worker applied 1,200 events before /metrics first answered
    series = [(5.0, 1200), (6.0, 1200), (7.0, 2200), (8.0, 3200)]
    cpu = [(5.0, 1.0), (6.0, 1.0), (7.0, 1.1), (8.0, 1.2)]
    overall, early, _late = rates(series, 3200)
    assert overall == pytest.approx(1000.0)  # 2,000 events in the 2 s after t=6
    assert early == pytest.approx(1000.0)
    first, last = cpu_per_event(series, cpu, 3200)
    assert first == pytest.approx(100.0)  # 0.1 CPU-s per 1,000 events
    assert last == pytest.approx(100.0)


def test_a_counter_already_done_at_the_first_sample_says_so() -> None:
    with pytest.raises(ValueError, match="before the first sample"):
        rates([(1.0, 500), (2.0, 500)], 500)

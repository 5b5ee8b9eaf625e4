from __future__ import annotations

from collections import Counter

import click
import pytest

from producers.simulators import DEFAULT_MIX, MixPicker, parse_mix
from producers.simulators.clock import seeded_rng

pytestmark = pytest.mark.unit


def test_parses_weights_and_leaves_missing_streams_at_zero() -> None:
    assert parse_mix(DEFAULT_MIX) == {"orders": 1.0, "inventory": 1.0, "viewing": 3.0}
    assert parse_mix(" viewing = 2.5 ") == {"orders": 0.0, "inventory": 0.0, "viewing": 2.5}
    assert parse_mix("orders=0,inventory=1")["inventory"] == 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("orders=1,payments=2", "unknown stream 'payments'"),
        ("orders=-1,viewing=1", "must be a finite number >= 0"),
        ("orders=0,viewing=0", "at least one weight must be above zero"),
        ("orders=1,orders=2", "given twice"),
        ("orders", "is not NAME=WEIGHT"),
        ("orders=,viewing=1", "is not NAME=WEIGHT"),
        ("", "is not NAME=WEIGHT"),
        ("orders=lots", "not a number"),
        ("orders=inf", "finite"),
        ("orders=nan", "finite"),
    ],
)
def test_bad_mixes_get_clear_errors(text: str, message: str) -> None:
    with pytest.raises(click.BadParameter, match=message):
        parse_mix(text)


def test_the_picker_follows_the_weights() -> None:
    picker = MixPicker(parse_mix("orders=1,viewing=3"))
    rng = seeded_rng(1)
    counts = Counter(picker.pick(rng) for _ in range(40_000))
    assert set(counts) == {"orders", "viewing"}
    assert counts["viewing"] / counts["orders"] == pytest.approx(3.0, rel=0.05)

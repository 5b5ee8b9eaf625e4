"""The serving blend and the retraining timer, with no database."""

from __future__ import annotations

import logging

import pytest

from core.settings import Settings
from core.timeofday import BUCKETS, bucket_of, bucket_of_hour, hours_of
from processors.recs.blend import RRF_K, WEIGHTS, blend
from processors.recs.timer import Retrainer

pytestmark = pytest.mark.unit


def test_ranks_are_fused_and_each_item_names_its_source() -> None:
    items = blend(
        {"model": ["m1", "both", "m3"], "co_watch": ["both", "c2"], "trending": ["t1", "m1"]},
        because={"both": ["seed-b", "seed-a"], "c2": ["seed-a"], "m1": ["never-shown"]},
    )
    by = {i.title_id: i for i in items}
    # "both": model rank 1 + co-watch rank 0 beats "m1": model rank 0 + trending rank 1.
    both = WEIGHTS["model"] / (RRF_K + 1) + WEIGHTS["co_watch"] / RRF_K
    m1 = WEIGHTS["model"] / RRF_K + WEIGHTS["trending"] / (RRF_K + 1)
    assert [i.title_id for i in items][:2] == ["both", "m1"]
    assert by["both"].score == pytest.approx(both, abs=1e-6)
    assert by["m1"].score == pytest.approx(m1, abs=1e-6)
    # model rank 1 gives 1.0 / 6 = 0.167, co-watch rank 0 gives 0.8 / 5 = 0.16.
    assert by["both"].source == "model" and by["both"].sources == ["model", "co_watch"]
    assert by["both"].because == ["seed-a", "seed-b"]
    assert by["m1"].source == "model" and by["m1"].because == []  # not listed by co-watch
    assert by["t1"].source == "trending" and by["c2"].source == "co_watch"
    scores = [i.score for i in items]
    assert scores == sorted(scores, reverse=True)


def test_finished_titles_are_left_out_and_the_next_ones_move_up() -> None:
    items = blend({"model": ["done", "next"], "trending": ["done"]}, finished=["done"])
    assert [(i.title_id, i.score) for i in items] == [("next", round(1.0 / RRF_K, 6))]


def test_nothing_to_blend_is_an_empty_list() -> None:
    assert blend({"model": [], "co_watch": [], "trending": []}) == []


def test_time_of_day_buckets() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    assert [BUCKETS[bucket_of_hour(h)] for h in (0, 5, 6, 11, 12, 18, 23)] == [
        "night", "night", "morning", "morning", "afternoon", "evening", "evening",
    ]  # fmt: skip
    # 08:30 at UTC+2 is 06:30 UTC: morning; naive times are UTC.
    assert bucket_of(datetime(2025, 1, 1, 8, 30, tzinfo=timezone(timedelta(hours=2)))) == 1
    assert bucket_of(datetime(2025, 1, 1, 3, 0)) == 0 == bucket_of(datetime(2025, 1, 1, tzinfo=UTC))
    assert hours_of(3) == (18, 24)
    with pytest.raises(ValueError, match="24"):
        bucket_of_hour(24)


async def test_a_failed_retraining_is_logged_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def broken() -> tuple[object, object]:
        nonlocal calls
        calls += 1
        raise ConnectionError("postgres is down")

    retrainer = Retrainer(Settings(recs_retrain_s=60), broken)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="riverbed.recs"):
        await retrainer.run()
        await retrainer.run()
    assert calls == 2 and retrainer.last is None
    assert "the last version stays served" in caplog.text


def test_a_version_younger_than_most_of_the_interval_is_not_retrained() -> None:
    from datetime import UTC, datetime, timedelta

    async def unused() -> tuple[object, object]:
        raise AssertionError

    retrainer = Retrainer(Settings(recs_retrain_s=100), unused)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    assert not retrainer.due(now - timedelta(seconds=50))
    assert retrainer.due(now - timedelta(seconds=81))

"""Time-of-day buckets, shared by the simulator's tastes and the recommender.

Four buckets of six hours on the UTC clock (night, morning, afternoon, evening): coarse
enough that each user has views in most of them, fine enough that a morning taste and a
late-evening one fall apart. Event times are stored in UTC, so the bucket of a stored
view needs no time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime

BUCKETS = ("night", "morning", "afternoon", "evening")
HOURS_PER_BUCKET = 24 // len(BUCKETS)


def bucket_of_hour(hour: int) -> int:
    if not 0 <= hour < 24:
        raise ValueError(f"hour {hour} is not in 0..23")
    return hour // HOURS_PER_BUCKET


def bucket_of(at: datetime) -> int:
    """The bucket of an aware time (naive times are taken as UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return bucket_of_hour(at.hour)


def hours_of(bucket: int) -> tuple[int, int]:
    """First hour and one past the last of ``bucket``."""
    return bucket * HOURS_PER_BUCKET, (bucket + 1) * HOURS_PER_BUCKET

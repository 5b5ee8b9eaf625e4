"""Sessionization, profiles and co-watch edges, with no database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from processors.viewing import profiles, sessions
from schemas import (
    PlaybackCompleted,
    PlaybackHeartbeat,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStarted,
    PlaybackStopped,
    new_event,
)

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


def ev(
    kind: Any,
    at_s: float,
    pos: float,
    sid: str = "s1",
    title: str = "t1",
    user: str = "u1",
    **ctx: Any,
) -> Any:
    return new_event(
        kind(session_id=sid, user_id=user, title_id=title, position_s=pos, context=ctx),
        source="test",
        occurred_at=T0 + timedelta(seconds=at_s),
    )


def story(
    sid: str = "s1",
    title: str = "t1",
    user: str = "u1",
    end: Any = PlaybackStopped,
    genre: str = "drama",
    t: float = 0,
) -> list[Any]:
    return [
        ev(PlaybackStarted, t + 0, 0, sid, title, user, device="tv", genre=genre),
        ev(PlaybackHeartbeat, t + 10, 10, sid, title, user),
        ev(PlaybackHeartbeat, t + 20, 20, sid, title, user),
        ev(PlaybackPaused, t + 25, 25, sid, title, user),
        ev(PlaybackResumed, t + 85, 25, sid, title, user),  # a minute paused: not watched
        ev(PlaybackHeartbeat, t + 95, 35, sid, title, user),
        ev(PlaybackHeartbeat, t + 105, 15, sid, title, user),  # seek back: not counted
        ev(PlaybackHeartbeat, t + 115, 25, sid, title, user),
        ev(end, t + 120, 30, sid, title, user),
    ]


def session(events: list[Any]) -> sessions.Session:
    return sessions.fold(sessions.mark_of(e) for e in events)


def test_fold_counts_forward_progress_only() -> None:
    s = session(story())
    assert s.state == "stopped" and s.ended and not s.completed
    assert s.watched_seconds == 25 + 10 + 10 + 5  # 0->25, 25->35, 15->25, 25->30
    assert s.pauses == 1
    assert s.started_at == T0 and s.ended_at == T0 + timedelta(seconds=120)
    assert s.last_position_s == 30 and s.genre == "drama" and s.context["device"] == "tv"


def test_out_of_order_heartbeats_and_duplicates_give_the_same_session() -> None:
    events = story()
    shuffled = events + events[:4]
    random.Random(3).shuffle(shuffled)
    assert sessions.to_document(session(shuffled)) == sessions.to_document(session(events))


def test_a_session_still_playing() -> None:
    s = session(story()[:3])
    assert (s.state, s.ended, s.watched_seconds) == ("playing", False, 20)


def test_completed_session() -> None:
    s = session(story(end=PlaybackCompleted))
    assert s.state == "completed" and s.completed


@pytest.mark.parametrize(
    "bad", [{"$where": 1}, {"a.b": 1}, {"ok": {"$gt": 1}}, {"ok": [{"x.y": 1}]}]
)
def test_unsafe_context_keys_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(sessions.UnsafeKey):
        sessions.check_keys(bad)


def ended_docs(n: int) -> list[dict[str, Any]]:
    return [
        sessions.to_document(
            session(story(f"s{i}", f"t{i % 7}", genre="drama" if i % 2 else "comedy", t=i * 200))
        )
        for i in range(n)
    ]


def test_profile_history_is_bounded_newest_first() -> None:
    docs = ended_docs(profiles.HISTORY_LIMIT + 5)
    profile = profiles.build_profile("u1", docs)
    assert len(profile["history"]) == profiles.HISTORY_LIMIT
    assert profile["history"][0]["session_id"] == f"s{profiles.HISTORY_LIMIT + 4}"
    assert profile["genres"] == [
        {"genre": "comedy", "sessions": 28},
        {"genre": "drama", "sessions": 27},
    ]
    assert (
        profiles.build_profile("u1", list(reversed(docs))) == profile
    )  # order of arrival is irrelevant


def test_co_watch_edges_are_symmetric_once_per_user_and_pair() -> None:
    docs = ended_docs(10)  # 7 distinct titles
    edges = profiles.co_watch_edges("u1", docs)
    pairs = {(e["title_id"], e["other_title_id"]) for e in edges}
    assert len(edges) == len(pairs) == 7 * 6
    assert all((b, a) in pairs for a, b in pairs)
    assert all(a != b for a, b in pairs)
    assert profiles.co_watch_edges("u1", docs + docs) == edges  # replays add nothing


def test_trending_minute_window() -> None:
    assert profiles.minute_of(T0 + timedelta(seconds=59, microseconds=5)) == T0

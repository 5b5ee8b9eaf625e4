"""The worker's in-memory session state: codec, copies, closing; no database."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from processors.viewing import sessions
from processors.viewing.state import (
    SessionCache,
    SessionState,
    decode_mark,
    encode_mark,
    restore,
)
from schemas import PlaybackHeartbeat, PlaybackStopped
from tests.unit.processors.viewing.test_viewing_logic import T0, ev, story

pytestmark = pytest.mark.unit


def marks(events: list[object]) -> list[dict[str, object]]:
    return [sessions.mark_of(e) for e in events]  # type: ignore[arg-type]


def test_rows_round_trip_marks_exactly() -> None:
    events = story()
    events.append(ev(PlaybackHeartbeat, 7.123456, 7.5, bitrate=3000, cdn={"edge": [1, 2]}))
    for m in marks(events):
        assert decode_mark("s1", encode_mark(m)) == m


def test_a_restored_session_folds_like_the_original_and_has_nothing_to_store() -> None:
    state = SessionState("s1")
    state.add(marks(story()))
    rows = [encode_mark(m) for m in state.fresh.values()]
    back = restore("s1", rows + rows[:2], 0.0)  # a row written twice collapses
    assert back.fresh == {} and back.marks == state.fresh
    assert back.document == state.fold(0.0)


@pytest.mark.parametrize("seed", range(5))
def test_batches_in_any_order_and_twice_fold_like_the_whole(seed: int) -> None:
    events = story() + story(t=200)[1:]  # a second act: more heartbeats, a pause, an end
    whole = sessions.to_document(sessions.fold(marks(events)))
    shuffled = events + events[:4]
    random.Random(seed).shuffle(shuffled)
    state = SessionState("s1")
    for i in range(0, len(shuffled), 3):
        state = state.copy()
        state.add(marks(shuffled[i : i + 3]))
        state.fold(0.0)
        state.committed()
    assert state.document == whole
    assert not state.copy().add(marks(events)), "nothing new in a replay"


def test_in_order_batches_continue_the_fold() -> None:
    events = story() + story(t=200)[1:]
    state = SessionState("s1")
    for e in events:
        state.add(marks([e]))
        state.fold(0.0)
    assert state.document == sessions.to_document(sessions.fold(marks(events)))


def test_a_failed_attempt_leaves_the_cached_state_alone() -> None:
    cached = SessionState("s1")
    cached.add(marks(story()[:3]))
    cached.fold(0.0)
    cached.committed()
    attempt = cached.copy()
    assert attempt.add(marks(story()[3:]))
    attempt.fold(1.0)
    assert len(attempt.fresh) == len(story()) - 3
    assert len(cached.marks) == 3 and cached.document is not None
    assert cached.document["events"] == 3 and not cached.ended
    assert attempt.ended
    retry = cached.copy()  # the attempt failed (not committed): the retry starts over
    assert retry.add(marks(story()[3:])), "the failed attempt's marks are new again"
    assert retry.fold(1.0) == attempt.document


def test_ended_sessions_close_after_the_grace_period_only() -> None:
    cache = SessionCache(close_after_s=30.0)
    done, playing = SessionState("a"), SessionState("b")
    done.add(marks(story("a")))
    playing.add(marks(story("b")[:4]))
    done.fold(100.0)
    playing.fold(100.0)
    cache.sessions.update(a=done, b=playing)
    assert cache.closable(129.0) == []
    assert cache.closable(130.0) == [done]
    assert cache.missing(["a", "b", "c", "c"]) == ["c"]
    cache.clear()
    assert cache.sessions == {} and cache.generation == 1


def test_a_late_event_after_the_end_still_folds_exactly() -> None:
    events = story(end=PlaybackStopped)
    state = SessionState("s1")
    state.add(marks(events[-1:]))  # the stop first
    state.fold(0.0)
    state.committed()
    assert state.ended
    state = state.copy()
    state.add(marks(events[:-1]))
    assert state.fold(5.0) == sessions.to_document(sessions.fold(marks(events)))
    assert state.ended_seen_at == 0.0  # the grace period runs from the first end seen
    assert T0 + timedelta(seconds=120) == state.document["ended_at"]  # type: ignore[index]

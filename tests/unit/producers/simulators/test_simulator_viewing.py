from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

import pytest

from schemas import Envelope

pytestmark = pytest.mark.unit

ENDS = {"playback.stopped", "playback.completed"}


def sessions(generated: Any) -> dict[str, list[Envelope[Any]]]:
    by_session: dict[str, list[Envelope[Any]]] = defaultdict(list)
    for event in generated.events:
        if event.type.startswith("playback."):
            by_session[event.payload.session_id].append(event)
    return by_session


def test_each_session_is_well_ordered(generated: Any) -> None:
    titles = {t.title_id: t for t in generated.sim.catalog.titles}
    ended = 0
    for session_id, events in sessions(generated).items():
        assert events[0].type == "playback.started"
        assert all(e.type != "playback.started" for e in events[1:])
        positions = [e.payload.position_s for e in events]
        assert positions == sorted(positions), session_id
        assert all(e.key == session_id for e in events)
        assert len({(e.payload.user_id, e.payload.title_id) for e in events}) == 1
        assert all(e.type not in ENDS for e in events[:-1])
        if events[-1].type in ENDS:
            ended += 1
        if events[-1].type == "playback.completed":
            assert positions[-1] == titles[events[0].payload.title_id].duration_s
        for before, after in pairwise(events):
            if after.type == "playback.resumed":
                assert before.type == "playback.paused"
                assert after.payload.position_s == before.payload.position_s
    assert ended > 200


def test_heartbeats_come_every_ten_simulated_seconds_while_playing(generated: Any) -> None:
    gaps = []
    for events in sessions(generated).values():
        for before, after in pairwise(events):
            if after.type == "playback.heartbeat":
                assert before.type in {"playback.started", "playback.heartbeat", "playback.resumed"}
                gap = (after.occurred_at - before.occurred_at).total_seconds()
                assert gap >= 10
                played = after.payload.position_s - before.payload.position_s
                assert played == pytest.approx(gap, abs=0.002)
                gaps.append(gap)
    assert min(gaps) == 10.0


def test_many_sessions_interleave_and_every_ending_happens(generated: Any) -> None:
    kinds = {e.type for e in generated.events if e.type.startswith("playback.")}
    assert kinds >= ENDS | {"playback.paused", "playback.resumed", "playback.heartbeat"}
    open_sessions, peak = set(), 0
    for event in generated.events:
        if event.type == "playback.started":
            open_sessions.add(event.payload.session_id)
        elif event.type in ENDS:
            open_sessions.discard(event.payload.session_id)
        peak = max(peak, len(open_sessions))
    assert peak > 30


def test_context_is_a_bounded_player_document(generated: Any) -> None:
    for event in generated.events[:5000]:
        if event.type.startswith("playback."):
            context = event.payload.context
            assert context["device"] in {"tv", "mobile", "web", "console"}
            assert context["network"] in {"wifi", "cellular", "ethernet"}
            assert isinstance(context["bitrate_kbps"], int)
            if context["network"] == "cellular":
                assert context["bitrate_kbps"] <= 4500
            assert set(context["player"]) == {"name", "cdn", "resolution", "buffer_ms"}

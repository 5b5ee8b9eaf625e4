"""Playback sessions: started, heartbeats, pauses and resumes, then stopped or completed.

Sessions live on the simulated clock. Each one has its next action due at a simulated
time (a heartbeat every ``heartbeat_s`` while playing, a resume after a pause, the
completion when the position reaches the title's end); the generator emits whichever
action is due, and starts a new session when none is. So the number of sessions
playing at once settles where their heartbeats match the viewing share of the stream,
and many sessions interleave. Positions are derived from simulated time, so within a
session they never go back.

Who starts a session, and which title, follow :mod:`producers.simulators.tastes`: at the
simulated time of day (the world's clock from ``EPOCH``, not the stamp, so a seed names
the same sessions whether stamped on the simulated or the wall clock), viewers whose
usual time it is are likelier to start one, and pick from their taste cluster's genres
for that time of day.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.timeofday import bucket_of
from producers.simulators.catalog import Catalog, Title
from producers.simulators.clock import EPOCH, EventFactory, SimClock, child_rng
from producers.simulators.tastes import Tastes
from schemas import (
    Envelope,
    PlaybackCompleted,
    PlaybackEvent,
    PlaybackHeartbeat,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStarted,
    PlaybackStopped,
)

SOURCE = "sim-player"
RESUME_SHARE = 0.25  # sessions that continue a title part-watched earlier
STOP_CHANCE = 0.01  # per heartbeat
EARLY_STOP_CHANCE = 0.05  # per heartbeat in the first minute: viewers browsing
PAUSE_CHANCE = 0.015
PAUSE_S = (5, 180)

# device -> (share, networks, highest bitrate rung, app version)
_DEVICES: dict[str, tuple[int, tuple[str, ...], int, str]] = {
    "tv": (40, ("wifi", "ethernet"), 12000, "7.4.1"),
    "mobile": (30, ("wifi", "cellular"), 4500, "5.12.3"),
    "web": (20, ("wifi", "ethernet"), 8000, "2025.1.2"),
    "console": (10, ("ethernet", "wifi"), 12000, "3.0.7"),
}
_BITRATES = (800, 1500, 3000, 4500, 6000, 8000, 12000)
_CDNS = ("cdn-eu-1", "cdn-eu-2", "cdn-eu-3")


@dataclass
class ViewingStats:
    started: int = 0
    completed: int = 0
    stopped: int = 0
    paused: int = 0


@dataclass
class _Session:
    session_id: str
    user_id: str
    title: Title
    device: str
    network: str
    cdn: str
    rung: int  # index into _BITRATES
    max_rung: int
    position_ms: int
    last_ms: int
    started_ms: int
    paused: bool = False


class ViewingGenerator:
    """Interleaved playback sessions; emits the six ``playback.*`` events."""

    def __init__(
        self, catalog: Catalog, rng: random.Random, clock: SimClock, *, heartbeat_s: float = 10.0
    ) -> None:
        if heartbeat_s <= 0:
            raise ValueError("heartbeat_s must be positive")
        self._rng = rng
        self._events = EventFactory(rng, clock, SOURCE)
        self.tastes = Tastes(catalog.titles, catalog.viewers, child_rng(rng))
        self._heartbeat_ms = round(heartbeat_s * 1000)
        self._due: list[tuple[int, int, str]] = []  # (due_ms, tie-breaker, session_id)
        self._sessions: dict[str, _Session] = {}
        self._seq = 0
        self.stats = ViewingStats()

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    def next(self, at_ms: int) -> Envelope[Any]:
        if self._due and self._due[0][0] <= at_ms:
            _, _, session_id = heapq.heappop(self._due)
            return self._advance(self._sessions[session_id], at_ms)
        return self._start(at_ms)

    def _start(self, at_ms: int) -> Envelope[Any]:
        rng = self._rng
        bucket = bucket_of(EPOCH + timedelta(milliseconds=at_ms))
        viewer = self.tastes.pick_viewer(rng, bucket)
        title = self.tastes.pick_title(rng, viewer, bucket)
        device = rng.choices(list(_DEVICES), weights=[d[0] for d in _DEVICES.values()])[0]
        _, networks, top, _ = _DEVICES[device]
        network = networks[0] if rng.random() < 0.7 else networks[1]
        max_rung = _BITRATES.index(4500 if network == "cellular" else top)
        position_ms = 0
        if rng.random() < RESUME_SHARE:
            position_ms = round(title.duration_s * 1000 * rng.uniform(0.05, 0.97))
        session = _Session(
            session_id=f"sess-{rng.getrandbits(64):016x}",
            user_id=viewer.user_id,
            title=title,
            device=device,
            network=network,
            cdn=rng.choice(_CDNS),
            rung=rng.randint(max(0, max_rung - 3), max_rung),
            max_rung=max_rung,
            position_ms=position_ms,
            last_ms=at_ms,
            started_ms=at_ms,
        )
        self._sessions[session.session_id] = session
        self.stats.started += 1
        self._schedule_play(session, at_ms)
        return self._emit(PlaybackStarted, session, at_ms)

    def _advance(self, session: _Session, at_ms: int) -> Envelope[Any]:
        rng = self._rng
        if session.paused:
            session.paused = False
            session.last_ms = at_ms
            self._schedule_play(session, at_ms)
            return self._emit(PlaybackResumed, session, at_ms)
        duration_ms = session.title.duration_s * 1000
        session.position_ms = min(duration_ms, session.position_ms + at_ms - session.last_ms)
        session.last_ms = at_ms
        if session.position_ms >= duration_ms:
            self.stats.completed += 1
            return self._end(PlaybackCompleted, session, at_ms)
        early = at_ms - session.started_ms < 60_000
        roll = rng.random()
        if roll < (EARLY_STOP_CHANCE if early else STOP_CHANCE):
            self.stats.stopped += 1
            return self._end(PlaybackStopped, session, at_ms)
        if roll > 1 - PAUSE_CHANCE:
            session.paused = True
            self.stats.paused += 1
            self._push(at_ms + rng.randint(*PAUSE_S) * 1000, session)
            return self._emit(PlaybackPaused, session, at_ms)
        step = rng.random()
        if step < 0.1:
            session.rung = max(0, session.rung - 1)
        elif step > 0.9:
            session.rung = min(session.max_rung, session.rung + 1)
        self._schedule_play(session, at_ms)
        return self._emit(PlaybackHeartbeat, session, at_ms)

    def _schedule_play(self, session: _Session, at_ms: int) -> None:
        remaining = session.title.duration_s * 1000 - session.position_ms
        self._push(at_ms + max(1, min(self._heartbeat_ms, remaining)), session)

    def _push(self, due_ms: int, session: _Session) -> None:
        self._seq += 1
        heapq.heappush(self._due, (due_ms, self._seq, session.session_id))

    def _end(self, kind: type[PlaybackEvent], session: _Session, at_ms: int) -> Envelope[Any]:
        del self._sessions[session.session_id]
        return self._emit(kind, session, at_ms)

    def _emit(self, kind: type[PlaybackEvent], session: _Session, at_ms: int) -> Envelope[Any]:
        bitrate = _BITRATES[session.rung]
        payload = kind(
            session_id=session.session_id,
            user_id=session.user_id,
            title_id=session.title.title_id,
            position_s=session.position_ms / 1000,
            context={
                "genre": session.title.genre,
                "device": session.device,
                "network": session.network,
                "bitrate_kbps": bitrate,
                "app_version": _DEVICES[session.device][3],
                "player": {
                    "name": "riverbed-player",
                    "cdn": session.cdn,
                    "resolution": _resolution(bitrate),
                    "buffer_ms": self._rng.randint(500, 30_000),
                },
            },
        )
        return self._events.event(payload, at_ms, correlation_id=session.session_id)


def _resolution(bitrate_kbps: int) -> str:
    for ceiling, name in ((800, "360p"), (1500, "480p"), (3000, "720p"), (6000, "1080p")):
        if bitrate_kbps <= ceiling:
            return name
    return "2160p"

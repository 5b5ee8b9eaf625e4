"""Viewing contracts: what a player reports about one playback session.

Every event carries the session, user and title ids, the position in seconds and the
player's bounded free-form ``context`` (see ``schemas.context``). All travel keyed by
``session_id`` so one session's events stay in order on one partition.
"""

from __future__ import annotations

from pydantic import Field

from schemas.base import Payload
from schemas.context import Context
from schemas.fields import Id, PositionSeconds


class PlaybackEvent(Payload):
    """Fields every playback event shares; not an event type itself."""

    session_id: Id
    user_id: Id
    title_id: Id
    position_s: PositionSeconds
    context: Context = Field(default_factory=dict)


class PlaybackStarted(PlaybackEvent):
    """A player started a session; ``position_s`` is non-zero when resuming a title."""

    EVENT_TYPE = "playback.started"
    EVENT_VERSION = 1

    position_s: PositionSeconds = 0.0


class PlaybackHeartbeat(PlaybackEvent):
    """A playing session is alive at ``position_s`` (sent every few seconds)."""

    EVENT_TYPE = "playback.heartbeat"
    EVENT_VERSION = 1


class PlaybackPaused(PlaybackEvent):
    """The viewer paused at ``position_s``."""

    EVENT_TYPE = "playback.paused"
    EVENT_VERSION = 1


class PlaybackResumed(PlaybackEvent):
    """The viewer resumed from ``position_s``."""

    EVENT_TYPE = "playback.resumed"
    EVENT_VERSION = 1


class PlaybackStopped(PlaybackEvent):
    """The viewer stopped before the end, at ``position_s``; the session is over."""

    EVENT_TYPE = "playback.stopped"
    EVENT_VERSION = 1


class PlaybackCompleted(PlaybackEvent):
    """The viewer reached the end of the title; the session is over."""

    EVENT_TYPE = "playback.completed"
    EVENT_VERSION = 1

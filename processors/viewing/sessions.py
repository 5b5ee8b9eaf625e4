"""Pure sessionization: a session's document is a function of its playback events.

Each event is kept as a *mark* (time, event id, type, position, context). A session's
state is recomputed from all its marks, sorted by (time, lifecycle rank, event id), so
events arriving out of order or twice (at-least-once delivery) give exactly the document
that in-order, once-only delivery would give.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from schemas import Envelope

# Ties at the same instant resolve in lifecycle order.
RANK = {
    "playback.started": 0,
    "playback.resumed": 1,
    "playback.heartbeat": 2,
    "playback.paused": 3,
    "playback.stopped": 4,
    "playback.completed": 5,
}
ENDED = {"playback.stopped": "stopped", "playback.completed": "completed"}


class UnsafeKey(ValueError):
    """A context key that MongoDB would read as an operator or a path."""


@dataclass
class Session:
    session_id: str
    user_id: str
    title_id: str
    context: dict[str, Any]
    started_at: datetime
    ended_at: datetime | None
    state: str
    last_position_s: float
    watched_seconds: float
    pauses: int
    completed: bool
    events: int

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def genre(self) -> str:
        return str(self.context.get("genre") or "unknown")


def mark_of(event: Envelope[Any]) -> dict[str, Any]:
    """The ``viewing_marks`` document of one playback event (``_id`` = event id)."""
    p = event.payload
    check_keys(p.context)
    # BSON dates keep milliseconds: truncate now so a stored mark equals a fresh one.
    at = event.occurred_at.replace(microsecond=event.occurred_at.microsecond // 1000 * 1000)
    return {
        "_id": str(event.event_id),
        "session_id": p.session_id,
        "user_id": p.user_id,
        "title_id": p.title_id,
        "at": at,
        "rank": RANK[event.type],
        "type": event.type,
        "position_s": float(p.position_s),
        "context": dict(p.context),
    }


def order_key(m: Mapping[str, Any]) -> tuple[Any, ...]:
    return (m["at"], m["rank"], m["_id"])


@dataclass
class Progress:
    """What folding needs besides the session: whether it was playing, and where."""

    playing: bool = False
    last_pos: float | None = None


def begin(first: Mapping[str, Any]) -> Session:
    """The session before its first mark is applied (``step`` applies every mark)."""
    return Session(
        first["session_id"],
        first["user_id"],
        first["title_id"],
        {},
        first["at"],
        None,
        "playing",
        0.0,
        0.0,
        0,
        False,
        0,
    )


def step(s: Session, progress: Progress, m: Mapping[str, Any]) -> None:
    """Apply the next mark in (time, rank, event id) order; ``watched_seconds`` unrounded."""
    s.events += 1
    if m.get("context"):
        s.context = dict(m["context"])  # the latest context a player sent wins
    pos = float(m["position_s"])
    if progress.playing and progress.last_pos is not None and pos > progress.last_pos:
        s.watched_seconds += pos - progress.last_pos  # forward only; seeks back do not count
    progress.last_pos = s.last_position_s = pos
    if m["type"] == "playback.paused":
        s.pauses += 1
        progress.playing, s.state = False, "paused"
    elif m["type"] in ENDED:
        progress.playing, s.state, s.ended_at = False, ENDED[m["type"]], m["at"]
        s.completed = s.completed or m["type"] == "playback.completed"
    else:
        progress.playing, s.state = True, "playing"


def rounded(s: Session) -> Session:
    return replace(s, context=dict(s.context), watched_seconds=round(s.watched_seconds, 3))


def fold(marks: Iterable[Mapping[str, Any]]) -> Session:
    """The session its marks describe (deduplicated by event id)."""
    unique = sorted({m["_id"]: m for m in marks}.values(), key=order_key)
    if not unique:
        raise ValueError("a session needs at least one mark")
    s, progress = begin(unique[0]), Progress()
    for m in unique:
        step(s, progress, m)
    return rounded(s)


def to_document(s: Session) -> dict[str, Any]:
    """The ``viewing_sessions`` document; refuses keys MongoDB would misread."""
    check_keys(s.context)
    return {
        "_id": s.session_id,
        "session_id": s.session_id,
        "user_id": s.user_id,
        "title_id": s.title_id,
        "genre": s.genre,
        "context": s.context,
        "started_at": s.started_at,
        "ended_at": s.ended_at,
        "state": s.state,
        "last_position_s": s.last_position_s,
        "watched_seconds": s.watched_seconds,
        "pauses": s.pauses,
        "completed": s.completed,
        "events": s.events,
    }


def check_keys(value: Any, path: str = "context") -> None:
    """Raise UnsafeKey for a ``$``-prefixed, dotted, empty or NUL key at any depth, or
    for an array nested in an array (which FerretDB 1.x cannot store)."""
    if not _plainly_safe(value):
        _check_keys(value, path)


def _plainly_safe(value: Any) -> bool:
    """True when ``value`` is exact dicts, lists and scalars that break no rule.

    Builds no path per key (the walk with paths was ~40 % of ``mark_of``, the first step
    of every playback event); anything else gets the precise walk, which names the key.
    """
    if type(value) is dict:
        for key in value:
            if type(key) is not str or not key or key[0] == "$" or "." in key or "\0" in key:
                return False
        children: Any = value.values()
    elif type(value) is list:
        children = value
        if any(type(inner) is list or type(inner) is tuple for inner in value):
            return False
    else:
        return not isinstance(value, Mapping | list | tuple)
    for inner in children:
        kind = type(inner)
        scalar = kind is str or kind is int or kind is float or kind is bool or inner is None
        if not scalar and not _plainly_safe(inner):
            return False
    return True


def _check_keys(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if (
                not isinstance(key, str)
                or not key
                or key.startswith("$")
                or "." in key
                or "\0" in key
            ):
                raise UnsafeKey(f"{path}: key {key!r} cannot be stored (no leading $, no dots)")
            _check_keys(inner, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            if isinstance(inner, list | tuple):  # FerretDB 1.x refuses arrays in arrays
                raise UnsafeKey(f"{path}[{i}]: nested arrays cannot be stored")
            _check_keys(inner, f"{path}[{i}]")

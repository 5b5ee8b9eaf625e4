"""The viewing worker's session state: each open session's marks, in memory.

Viewing is keyed by session id, so one worker owns a session while it owns its partition.
The worker keeps every session it has seen in a :class:`SessionCache` and folds a
session's marks again (``sessions.fold``) only when a batch brings it a new event id, so
nothing is re-read from a store on the hot path. The cache's durable copy is the
``viewing_session_state`` table (see :mod:`processors.viewing.index`), written in the
batch's transaction: a session missing from memory (after a start or a rebalance) is
loaded from there, once.

A session that ended more than ``close_after_s`` ago is *closed*: its marks are dropped
(the stored state keeps only its event count) so memory and the table's open part stay
bounded by the sessions in flight, not by history. Events for a closed session are
duplicates of a replay, or arrive later than the grace period; both are ignored and
counted (``late``), which is what keeps a replay from offset 0 a no-op.

Pure: no I/O. The JSON codec stores a mark as ``[at_ms, rank, event_id, position, ctx]``
with each distinct context once per session (players repeat theirs on every heartbeat).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.viewing import sessions

TYPE_OF_RANK = {rank: kind for kind, rank in sessions.RANK.items()}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)


@dataclass
class SessionState:
    session_id: str
    marks: dict[str, dict[str, Any]] = field(default_factory=dict)  # by event id
    ended_seen_at: float | None = None  # monotonic time the fold first showed an end
    document: dict[str, Any] | None = None  # the last folded document

    @property
    def ended(self) -> bool:
        return self.document is not None and self.document["ended_at"] is not None

    def copy(self) -> SessionState:
        """A copy to fold a batch into; the cached state changes only after the commit."""
        return SessionState(self.session_id, dict(self.marks), self.ended_seen_at, self.document)

    def add(self, marks: Iterable[Mapping[str, Any]]) -> bool:
        """Add marks; True when one was new (so the document must be folded again)."""
        new = False
        for m in marks:
            if m["_id"] not in self.marks:
                self.marks[m["_id"]] = dict(m)
                new = True
        return new

    def fold(self, now: float) -> dict[str, Any]:
        self.document = sessions.to_document(sessions.fold(self.marks.values()))
        if self.document["ended_at"] is not None and self.ended_seen_at is None:
            self.ended_seen_at = now
        return self.document


def encode(state: SessionState) -> str:
    """The compact JSON of a session's marks (the ``marks`` column)."""
    contexts: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    rows: list[list[Any]] = []
    first: Mapping[str, Any] | None = None
    for m in state.marks.values():
        first = first or m
        key = json.dumps(m["context"], sort_keys=True, default=str)
        if key not in index:
            index[key] = len(contexts)
            contexts.append(m["context"])
        at: datetime = m["at"]
        rows.append([(at - EPOCH) // MS, m["rank"], m["_id"], m["position_s"], index[key]])
    if first is None:
        raise ValueError("a session state needs at least one mark")
    return json.dumps(
        {"u": first["user_id"], "t": first["title_id"], "c": contexts, "m": rows},
        separators=(",", ":"),
    )


def decode(session_id: str, text: str) -> SessionState:
    """The inverse of :func:`encode`: marks equal to those ``sessions.mark_of`` made."""
    data = json.loads(text)
    state = SessionState(session_id)
    for at_ms, rank, event_id, position, ctx in data["m"]:
        state.marks[event_id] = {
            "_id": event_id,
            "session_id": session_id,
            "user_id": data["u"],
            "title_id": data["t"],
            "at": EPOCH + at_ms * MS,  # integer milliseconds: exact
            "rank": rank,
            "type": TYPE_OF_RANK[rank],
            "position_s": float(position),
            "context": dict(data["c"][ctx]),
        }
    return state


@dataclass
class SessionCache:
    """Open sessions of the partitions this worker owns; cleared when partitions move."""

    close_after_s: float
    sessions: dict[str, SessionState] = field(default_factory=dict)
    late: int = 0  # events ignored because their session was closed
    generation: int = 0  # bumped by clear(): a flush that began before installs nothing

    def missing(self, session_ids: Iterable[str]) -> list[str]:
        return sorted({s for s in session_ids if s not in self.sessions})

    def closable(self, now: float) -> list[SessionState]:
        """Ended sessions past the grace period: close them (stored, then evicted)."""
        return [
            s
            for s in self.sessions.values()
            if s.ended_seen_at is not None and now - s.ended_seen_at >= self.close_after_s
        ]

    def evict(self, session_ids: Iterable[str]) -> None:
        for sid in session_ids:
            self.sessions.pop(sid, None)

    def clear(self) -> None:
        self.sessions.clear()
        self.generation += 1

"""The viewing worker's session state: each open session's marks and fold, in memory.

Viewing is keyed by session id, so one worker owns a session while it owns its partition.
The worker keeps every session in flight in a :class:`SessionCache`; a batch adds the new
marks (by event id) and *continues* the fold from where it stopped, so the cost per event
does not grow with the session's length or the stored history. Only a mark that sorts
before one already applied (out of order) makes the session fold again from all its marks.

The durable copy is an append-only log of rows (``viewing_session_marks``, see
:mod:`processors.viewing.index`): each new mark is written once, as a compact JSON row
``[at_ms, rank, event_id, position, context, user_id, title_id]``, in the batch's
transaction. A session missing from memory (after a start or a rebalance) is rebuilt from
its rows, once.

A session that ended more than ``close_after_s`` ago is *closed*: evicted from memory, its
rows deleted, its id recorded as closed. Events for a closed session are duplicates of a
replay, or arrive later than the grace period; both are ignored and counted (``late``),
which keeps a replay from offset 0 a no-op and the state as small as the sessions in
flight. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_core import from_json, to_json

from processors.viewing import sessions

TYPE_OF_RANK = {rank: kind for kind, rank in sessions.RANK.items()}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def encode_mark(m: Mapping[str, Any]) -> str:
    """One ``viewing_session_marks`` row (integer milliseconds: exact, as BSON keeps).

    pydantic-core's ``to_json``, not ``json.dumps``: with the player context in every row
    the standard encoder was ~6 % of the worker's CPU (py-spy, issue 13), ~4x this one.
    """
    at: datetime = m["at"]
    row = [(at - EPOCH) // MS, m["rank"], m["_id"], m["position_s"], m["context"]]
    return to_json([*row, m["user_id"], m["title_id"]]).decode()


def decode_mark(session_id: str, text: str) -> dict[str, Any]:
    """The inverse of :func:`encode_mark`: the mark ``sessions.mark_of`` made (also
    reads rows written by ``json.dumps``, as earlier versions did)."""
    at_ms, rank, event_id, position, context, user_id, title_id = from_json(text)
    return {
        "_id": event_id,
        "session_id": session_id,
        "user_id": user_id,
        "title_id": title_id,
        "at": EPOCH + at_ms * MS,
        "rank": rank,
        "type": TYPE_OF_RANK[rank],
        "position_s": float(position),
        "context": context,
    }


@dataclass
class SessionState:
    session_id: str
    marks: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # stored, by event id
    fresh: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # added, not yet stored
    ended_seen_at: float | None = None  # monotonic time the fold first showed an end
    document: dict[str, Any] | None = None  # the last folded document
    _session: sessions.Session | None = None  # the fold so far (watched unrounded)
    _progress: sessions.Progress = field(default_factory=sessions.Progress)
    _last: tuple[Any, ...] | None = None  # order key of the last mark folded
    _unfolded: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.document is not None and self.document["ended_at"] is not None

    def copy(self) -> SessionState:
        """A copy to fold a batch into; the cached state changes only after the commit.

        The stored marks are shared, not copied (copying them cost in proportion to the
        session's length on every batch): a batch adds to ``fresh`` only, and
        :meth:`committed` moves those into ``marks`` once the batch is stored. Batches are
        serialised, so no two copies of a session are in flight.
        """
        s = self._session
        return SessionState(
            self.session_id,
            self.marks,
            {},
            self.ended_seen_at,
            self.document,
            None if s is None else replace(s, context=dict(s.context)),
            replace(self._progress),
            self._last,
            list(self._unfolded),
        )

    def add(self, marks: Iterable[Mapping[str, Any]]) -> bool:
        """Add marks; True when one was new (so the document must be folded again)."""
        new = False
        for m in marks:
            if m["_id"] not in self.marks and m["_id"] not in self.fresh:
                self.fresh[m["_id"]] = m
                self._unfolded.append(m)
                new = True
        return new

    def committed(self) -> SessionState:
        """The batch's marks are stored: they join ``marks`` (shared with older copies,
        which are discarded once this one is installed)."""
        self.marks.update(self.fresh)
        self.fresh = {}
        return self

    def fold(self, now: float) -> dict[str, Any]:
        pending = sorted(self._unfolded, key=sessions.order_key)
        self._unfolded = []
        if self._session is None or (
            pending and self._last is not None and sessions.order_key(pending[0]) <= self._last
        ):
            # Out of order (or the first fold): again from every mark, stored and fresh.
            pending = sorted([*self.marks.values(), *self.fresh.values()], key=sessions.order_key)
            self._session, self._progress = sessions.begin(pending[0]), sessions.Progress()
        for m in pending:
            sessions.step(self._session, self._progress, m)
        if pending:
            self._last = sessions.order_key(pending[-1])
        self.document = sessions.to_document(sessions.rounded(self._session))
        if self.document["ended_at"] is not None and self.ended_seen_at is None:
            self.ended_seen_at = now
        return self.document


def restore(session_id: str, rows: Iterable[str], now: float) -> SessionState:
    """A session rebuilt from its stored rows (duplicates collapse by event id)."""
    state = SessionState(session_id)
    state.add(decode_mark(session_id, r) for r in rows)
    state.fold(now)
    return state.committed()


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

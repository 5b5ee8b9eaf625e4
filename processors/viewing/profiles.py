"""Pure profile, recommendation and trending derivations.

Everything here is a function of a user's ended sessions, so it can be rewritten at any
time and replays are no-ops:

* the profile: recent watch history (newest first, bounded) and genre affinity (a list
  of ``{genre, sessions}``: genre names are user data and never become field names);
* "because you watched": every pair of distinct titles in a user's recent history is a
  co-watch *edge* keyed by (title, other title, user), so a pair counts once per user;
  a title's recommendations are its most frequent partners across users;
* trending: view starts per title in 1-minute tumbling windows of event time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

HISTORY_LIMIT = 50


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _newest_first(ended: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(ended, key=lambda s: (s["ended_at"], s["session_id"]), reverse=True)


def build_profile(user_id: str, ended: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``user_profiles`` document from all of a user's ended session documents."""
    recent = _newest_first(ended)
    genres = Counter(s["genre"] for s in ended)
    return {
        "_id": user_id,
        "user_id": user_id,
        "history": [
            {
                "title_id": s["title_id"],
                "session_id": s["session_id"],
                "ended_at": s["ended_at"],
                "watched_seconds": s["watched_seconds"],
                "completed": s["completed"],
                "genre": s["genre"],
            }
            for s in recent[:HISTORY_LIMIT]
        ],
        "genres": [
            {"genre": g, "sessions": n}
            for g, n in sorted(genres.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "sessions": len(ended),
    }


def co_watch_edges(user_id: str, ended: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Edges between every two distinct titles of the user's recent history."""
    titles = sorted({s["title_id"] for s in _newest_first(ended)[:HISTORY_LIMIT]})
    return [
        {"_id": f"{a}|{b}|{user_id}", "title_id": a, "other_title_id": b, "user_id": user_id}
        for a in titles
        for b in titles
        if a != b
    ]

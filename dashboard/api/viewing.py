"""Viewing reads: a user's sessions and recommendations (MongoDB), trending titles
(PostgreSQL ``title_views_minute``)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from dashboard import queries
from dashboard.api.models import (
    NOT_FOUND,
    Limit,
    Offset,
    Recommendation,
    Recommendations,
    Trending,
    UserSessions,
)
from dashboard.clock import Window
from dashboard.components import Dashboard, dashboard
from producers.gateway.errors import ApiError
from stores.mongo import viewing

router = APIRouter(prefix="/api", tags=["read API"])
State = Annotated[Dashboard, Depends(dashboard)]
RECENT_TITLES = 10  # the user's most recent distinct titles that seed recommendations


@router.get("/users/{user_id}/sessions", response_model=UserSessions, responses=NOT_FOUND)
async def get_sessions(
    user_id: str, state: State, limit: Limit = 20, offset: Offset = 0
) -> UserSessions:
    """A user's viewing sessions, newest first."""
    db = state.stores.mongo()
    items = await viewing.user_sessions(db, user_id, limit=limit, skip=offset)
    total = await db["viewing_sessions"].count_documents({"user_id": user_id})
    if total == 0:
        raise ApiError(404, f"user {user_id!r} has no viewing sessions")
    return UserSessions.model_validate(
        {"user_id": user_id, "items": items, "total": total, "limit": limit, "offset": offset}
    )


def rank(
    history: list[dict[str, Any]], partners: dict[str, list[dict[str, Any]]]
) -> list[Recommendation]:
    """Titles co-watched with the user's, best first, without those already watched."""
    watched = {h["title_id"] for h in history}
    score: dict[str, int] = defaultdict(int)
    because: dict[str, list[str]] = defaultdict(list)
    for seed, others in partners.items():
        for o in others:
            if o["title_id"] in watched:
                continue
            score[o["title_id"]] += o["viewers"]
            because[o["title_id"]].append(seed)
    best = sorted(score, key=lambda t: (-score[t], t))
    return [Recommendation(title_id=t, score=score[t], because=sorted(because[t])) for t in best]


@router.get("/users/{user_id}/recommendations", response_model=Recommendations, responses=NOT_FOUND)
async def get_recommendations(
    user_id: str, state: State, limit: Limit = 10, offset: Offset = 0
) -> Recommendations:
    """Titles most co-watched with the user's recent titles ("because you watched")."""
    db = state.stores.mongo()
    profile = await viewing.profile(db, user_id)
    if profile is None:
        if await db["viewing_sessions"].find_one({"user_id": user_id}, {"_id": 1}) is None:
            raise ApiError(404, f"user {user_id!r} has no viewing history")
        history: list[dict[str, Any]] = []  # sessions, none ended yet: nothing to go on
    else:
        history = list(profile.get("history", []))
    seeds = list(dict.fromkeys(h["title_id"] for h in history))[:RECENT_TITLES]
    # Enough partners per seed that excluding watched titles still fills the page.
    want = offset + limit + len({h["title_id"] for h in history})
    found = await asyncio.gather(*(viewing.recommendations(db, t, limit=want) for t in seeds))
    ranked = rank(history, dict(zip(seeds, found, strict=True)))
    return Recommendations(
        user_id=user_id,
        based_on=seeds,
        items=ranked[offset : offset + limit],
        limit=limit,
        offset=offset,
    )


@router.get("/trending", response_model=Trending, responses={422: NOT_FOUND[422]})
async def get_trending(
    state: State,
    window: Annotated[
        int, Query(ge=1, le=1440, description="Minutes of event time, up to now.")
    ] = 5,
    limit: Limit = 10,
    offset: Offset = 0,
) -> Trending:
    """The most started titles in the last ``window`` minutes (now, on the wall clock)."""
    span = Window.back(state.clock(), window)
    pool = await state.stores.pool()
    async with pool.acquire() as conn:
        rows = await conn.fetch(queries.TRENDING, span.since, span.until, limit, offset)
    return Trending.model_validate(
        {
            "window_minutes": window,
            "as_of": span.now,
            "items": [dict(r) for r in rows],
            "limit": limit,
            "offset": offset,
        }
    )

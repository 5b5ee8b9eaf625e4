"""Viewing reads: a user's sessions (PostgreSQL's per-user session summaries),
recommendations (the trained model's rows, the user's history and co-watch counts, and
trending, blended; all PostgreSQL) and trending titles
(PostgreSQL ``title_views_minute``). FerretDB 1.24 scans a collection for every filter,
``_id`` equality included (a lookup costs its document's position: 0.9 ms first, 22 ms
last of 2,432 documents, measured), so no read here touches a growing collection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from core.timeofday import BUCKETS, bucket_of
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
from processors.recs.blend import blend
from processors.viewing import index
from processors.viewing.profiles import HISTORY_LIMIT
from producers.gateway.errors import ApiError

router = APIRouter(prefix="/api", tags=["read API"])
State = Annotated[Dashboard, Depends(dashboard)]
RECENT_TITLES = 10  # the user's most recent distinct titles that seed recommendations
TRENDING_WINDOW = timedelta(hours=1)  # trending titles for recommendations: the hour before


@router.get("/users/{user_id}/sessions", response_model=UserSessions, responses=NOT_FOUND)
async def get_sessions(
    user_id: str, state: State, limit: Limit = 20, offset: Offset = 0
) -> UserSessions:
    """A user's viewing sessions, newest first: one index range of PostgreSQL's per-user
    session summaries (flat as the data grows)."""
    pool = await state.stores.pool()
    async with pool.acquire() as conn:
        total, items = await index.user_sessions(conn, user_id, limit=limit, offset=offset)
    if total == 0:
        raise ApiError(404, f"user {user_id!r} has no viewing sessions")
    return UserSessions.model_validate(
        {"user_id": user_id, "items": items, "total": total, "limit": limit, "offset": offset}
    )


At = Annotated[
    datetime | None,
    Query(description="ISO 8601 time whose time of day to recommend for (default: now)."),
]


@router.get("/users/{user_id}/recommendations", response_model=Recommendations, responses=NOT_FOUND)
async def get_recommendations(
    user_id: str, state: State, at: At = None, limit: Limit = 10, offset: Offset = 0
) -> Recommendations:
    """The trained model's titles for the user at that time of day, blended with "because
    you watched" (co-watch, fresh from the stream) and trending (the hour before ``at``);
    titles the user finished are left out; each item says its source. Index ranges only
    (PostgreSQL), in one round trip."""
    when = at if at is not None else state.clock()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    bucket = bucket_of(when)
    pool = await state.stores.pool()
    async with pool.acquire() as conn:
        got = await conn.fetchrow(
            queries.RECOMMENDATION_INPUTS,
            user_id,
            HISTORY_LIMIT,
            bucket,
            when - TRENDING_WINDOW,
            when,
            offset + limit + HISTORY_LIMIT,
            offset + limit,
            RECENT_TITLES,
        )
    if not got["known"]:
        raise ApiError(404, f"user {user_id!r} has no viewing history")
    page = blend(
        {
            "model": got["model"],
            "co_watch": [title for title, _ in got["co_watch"]],
            "trending": got["trending"],
        },
        finished=got["finished"],
        because=dict(got["co_watch"]),
        top=offset + limit,
    )[offset:]
    return Recommendations(
        user_id=user_id,
        at=when,
        time_of_day=BUCKETS[bucket],
        model_version=got["version"],
        based_on=got["seeds"],
        items=[Recommendation(**vars(b)) for b in page],
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
